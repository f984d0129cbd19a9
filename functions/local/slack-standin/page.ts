/**
 * The Slack-like page of the local rehearsal, served by the Slack stand-in on 127.0.0.1: the
 * channel with nodemedic's status card as thread root, the thread under it, the ephemerals of the
 * user the page acts as, and the buttons rendered from the real Block Kit. A click becomes the
 * interactivity request Slack would send (signed by the stand-in) and goes to the real Bolt app
 * through `deliver`, so what the page shows is what the app did, never a simulation of it. With a
 * console (the demo's game day), a bar above the channel injects the next fault or resets the node.
 *
 * The page itself is plain HTML/CSS/JS (page.html, page.css, page-client.js beside this file, read
 * at mount time; not page.js, which tsx and vitest would load in place of this module): no build step
 * and no external asset, because the demo machine may be offline. Everything in a message came
 * from a node, an alarm or a user, so the browser side builds DOM nodes with `textContent` only.
 */
import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { InvalidInputError } from '../../core/errors.js';
import { SLACK_ID } from '../../core/patterns.js';
import type { SlackStandIn, StandInMessage, StandInRouteContext } from './server.js';

/** Options of {@link mountPage}. */
export interface PageOptions {
  /** The channel the page shows (nodemedic's incident channel). */
  channel: string;
  /** The user picker, in order; the first is the default. Only these users can act on the page. */
  users: { id: string; name: string }[];
  /**
   * Deliver a signed interactivity request to the Slack app (the local stack's `deliver`) and
   * return its HTTP answer.
   */
  deliver(request: {
    headers: Record<string, string>;
    body: string;
  }): Promise<{ statusCode: number; body: string }>;
  /** A line shown at the top of the page (the fault injected, or "Replaying recorded outputs"). */
  banner?: string;
  /** The page's title. @default 'nodemedic · local rehearsal' */
  title?: string;
  /** Slack user groups by id, so `<!subteam^S…>` mentions read as a name. @default none */
  groups?: { id: string; name: string }[];
  /** A game-day console above the channel: inject a fault into the running node, or reset it. @default none */
  console?: PageConsole;
}

/**
 * What the page's game-day console drives (the demo's node and alarm). The page checks what it can
 * (the fault is one of `faults`, the request is JSON from this origin) and the console the rest.
 */
export interface PageConsole {
  /** The faults the user can pick, in the order shown; the first is preselected. */
  readonly faults: readonly { id: string; description: string }[];
  /** What the console shows now. */
  status(): ConsoleStatus | Promise<ConsoleStatus>;
  /**
   * Inject `fault` into the node and fire a fresh alarm; resolves with a line saying what was done.
   * Rejects with {@link ConsoleRefusedError} when it cannot now (a fix is running, an incident is open).
   */
  inject(fault: string): Promise<string>;
  /** Restore a healthy node (and close an open incident by its alarm going back to OK). */
  reset(): Promise<string>;
}

/** The console's status, as `GET /_page/state` carries it. */
export interface ConsoleStatus {
  /** The last thing the console did, or what it waits for. */
  readonly note: string;
  /** The fault last injected, preselected in the picker; null before the first one. */
  readonly fault: string | null;
  /** Why an inject would be refused right now, or null when it is allowed. */
  readonly injectBlocked: string | null;
  /** Why a reset would be refused right now, or null when it is allowed. */
  readonly resetBlocked: string | null;
}

/** The console cannot do this now (answered HTTP 409 with the reason). */
export class ConsoleRefusedError extends InvalidInputError {
  constructor(message: string) {
    super(message, { code: 'console_busy' });
  }
}

/** What {@link mountPage} returns. */
export interface MountedPage {
  /** The page's address (`http://127.0.0.1:PORT/`). */
  readonly url: string;
  /** Replace the banner; the page shows it on its next refresh (within a second). */
  setBanner(text: string): void;
}

/** A message as the page receives it: the stand-in's message plus who wrote it and how to show it. */
export interface PageMessage {
  readonly ts: string;
  readonly thread_ts?: string;
  readonly text: string;
  readonly blocks: readonly Record<string, unknown>[];
  readonly user: string;
  /** The author's display name (the bot is `nodemedic`). */
  readonly userName: string;
  /** True for messages the app posted. */
  readonly bot: boolean;
  /** True for an ephemeral message: only the selected user sees it. */
  readonly ephemeral: boolean;
  readonly edited?: string;
}

/** A channel-level message with its thread. */
export interface PageThread extends PageMessage {
  readonly replies: readonly PageMessage[];
}

/** `GET /_page/state`: everything the page draws. */
export interface PageState {
  readonly channel: string;
  readonly title: string;
  readonly banner: string | null;
  /** The user whose ephemerals are included. */
  readonly user: string;
  readonly users: readonly { id: string; name: string }[];
  readonly groups: readonly { id: string; name: string }[];
  /** Channel-level messages, oldest first, each with its replies (oldest first). */
  readonly messages: readonly PageThread[];
  /** The game-day console, when the page has one. */
  readonly console: null | {
    readonly faults: readonly { id: string; description: string }[];
    readonly status: ConsoleStatus;
  };
}

/** The page's static files, read once per mount relative to this module. */
const ASSETS = {
  '/': { file: 'page.html', type: 'text/html; charset=utf-8' },
  '/_page/page.css': { file: 'page.css', type: 'text/css; charset=utf-8' },
  '/_page/page-client.js': { file: 'page-client.js', type: 'text/javascript; charset=utf-8' },
} as const;

/**
 * The page loads only its own files and talks only to its own origin: a node's text that slipped
 * through as markup could still neither run a script nor load anything.
 */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Largest body a page route accepts; a real click is about 150 bytes. */
const MAX_BODY = 4096;

/** An error answered to the page as `{ ok: false, error, message }` with an HTTP status. */
class PageRequestError extends InvalidInputError {
  constructor(
    readonly status: number,
    code: string,
    message: string,
  ) {
    super(message, { code });
  }
}

/**
 * Mount the page on a running stand-in: `GET /` (the page), `GET /_page/state?user=U…` (the
 * channel as the page draws it) and `POST /_page/click` (`{ messageTs, actionId, user }` → a signed
 * click delivered to the app → `{ ok, statusCode }`); with a console, also
 * `POST /_page/console/inject` (`{ fault }`) and `POST /_page/console/reset` (`{}`), each answering
 * `{ ok, message }`, or 409 with the reason when the console cannot act now. Throws {@link InvalidInputError} for options
 * it cannot serve (no channel, no user, duplicate user ids).
 */
export function mountPage(standIn: SlackStandIn, options: PageOptions): MountedPage {
  validateOptions(options);
  const users = options.users.map(({ id, name }) => ({ id, name }));
  const groups = (options.groups ?? []).map(({ id, name }) => ({ id, name }));
  const names = new Map(users.map((u) => [u.id, u.name]));
  const title = options.title ?? 'nodemedic · local rehearsal';
  let banner: string | null = options.banner ?? null;
  const gameDay = options.console;

  for (const [path, asset] of Object.entries(ASSETS)) {
    const content = readFileSync(new URL(asset.file, import.meta.url));
    standIn.addRoute('GET', path, (ctx) =>
      guarded(ctx, () => {
        ctx.res.writeHead(200, {
          'content-type': asset.type,
          'cache-control': 'no-store',
          'content-security-policy': CSP,
          'x-content-type-options': 'nosniff',
        });
        ctx.res.end(content);
      }),
    );
  }

  standIn.addRoute('GET', '/_page/state', (ctx) =>
    guarded(ctx, async () => {
      const user = ctx.url.searchParams.get('user') ?? users[0]!.id;
      if (!names.has(user)) {
        throw new PageRequestError(400, 'unknown_user', `user ${JSON.stringify(user)} is not in the picker`);
      }
      const state: PageState = {
        channel: options.channel,
        title,
        banner,
        user,
        users,
        groups,
        messages: threads(standIn.messages(options.channel), user, standIn.bot.userId, names),
        console: gameDay ? { faults: gameDay.faults, status: await gameDay.status() } : null,
      };
      sendJson(ctx.res, 200, state);
    }),
  );

  standIn.addRoute('POST', '/_page/click', (ctx) =>
    guarded(ctx, async () => {
      const click = parseClick(ctx, names);
      const message = standIn.message(options.channel, click.messageTs);
      if (!message || (message.ephemeral_for !== undefined && message.ephemeral_for !== click.user)) {
        throw new PageRequestError(
          404,
          'message_not_found',
          `no message ${click.messageTs} in ${options.channel} for ${click.user}`,
        );
      }
      let request: { headers: Record<string, string>; body: string };
      try {
        request = standIn.clickRequest({ channel: options.channel, ...click });
      } catch (err) {
        throw new PageRequestError(400, 'no_such_action', err instanceof Error ? err.message : String(err));
      }
      let answer: { statusCode: number; body: string };
      try {
        answer = await options.deliver(request);
      } catch (err) {
        // The app failed to answer at all: say so on the page rather than pretend it was delivered.
        sendJson(ctx.res, 502, {
          ok: false,
          error: 'deliver_failed',
          message: `the Slack app did not answer: ${err instanceof Error ? err.message : String(err)}`,
        });
        return;
      }
      sendJson(ctx.res, 200, { ok: true, statusCode: answer.statusCode });
    }),
  );

  if (gameDay) {
    const faultIds = new Set(gameDay.faults.map((f) => f.id));
    const consoleRoute = (path: string, act: (body: Record<string, unknown>) => Promise<string>) =>
      standIn.addRoute('POST', path, (ctx) =>
        guarded(ctx, async () => {
          const body = jsonObject(ctx);
          let message: string;
          try {
            message = await act(body);
          } catch (err) {
            if (err instanceof PageRequestError) throw err;
            if (err instanceof ConsoleRefusedError) throw new PageRequestError(409, err.code, err.message);
            throw new PageRequestError(
              500,
              'console_failed',
              err instanceof Error ? err.message : String(err),
            );
          }
          sendJson(ctx.res, 200, { ok: true, message });
        }),
      );
    consoleRoute('/_page/console/inject', (body) => {
      const fault = body.fault;
      if (typeof fault !== 'string' || !faultIds.has(fault)) {
        throw new PageRequestError(
          400,
          'unknown_fault',
          `fault ${JSON.stringify(fault)} is not one of ${[...faultIds].join(', ')}`,
        );
      }
      return gameDay.inject(fault);
    });
    consoleRoute('/_page/console/reset', () => gameDay.reset());
  }

  return {
    url: standIn.baseUrl,
    setBanner(text: string) {
      banner = text;
    },
  };
}

function validateOptions(options: PageOptions): void {
  if (typeof options.channel !== 'string' || options.channel === '') {
    throw new InvalidInputError('mountPage: channel must be a non-empty channel id');
  }
  if (!Array.isArray(options.users) || options.users.length === 0) {
    throw new InvalidInputError('mountPage: users must list at least one user to act as');
  }
  const seen = new Set<string>();
  for (const user of options.users) {
    if (typeof user?.id !== 'string' || !SLACK_ID.user.test(user.id)) {
      throw new InvalidInputError(`mountPage: user id ${JSON.stringify(user?.id)} is not a Slack user id`);
    }
    if (typeof user.name !== 'string' || user.name === '') {
      throw new InvalidInputError(`mountPage: user ${user.id} has no name`);
    }
    if (seen.has(user.id)) throw new InvalidInputError(`mountPage: user ${user.id} is listed twice`);
    seen.add(user.id);
  }
  if (typeof options.deliver !== 'function') {
    throw new InvalidInputError('mountPage: deliver must be a function');
  }
}

/**
 * Run a page route, answering a {@link PageRequestError} as JSON. The stand-in's own guard has
 * already refused requests for another host name or from another origin, on every route.
 */
async function guarded(ctx: StandInRouteContext, route: () => void | Promise<void>) {
  try {
    await route();
  } catch (err) {
    if (!(err instanceof PageRequestError)) throw err;
    sendJson(ctx.res, err.status, { ok: false, error: err.code, message: err.message });
  }
}

/**
 * The JSON object a page route was sent. It must be JSON: a cross-site form cannot send that
 * without a CORS preflight, which this server never grants.
 */
function jsonObject({ req, rawBody }: StandInRouteContext): Record<string, unknown> {
  if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
    throw new PageRequestError(415, 'unsupported_media_type', 'the page sends application/json only');
  }
  if (rawBody.length > MAX_BODY) {
    throw new PageRequestError(413, 'too_large', `a page request body is at most ${MAX_BODY} bytes`);
  }
  let body: unknown;
  try {
    body = JSON.parse(rawBody);
  } catch {
    throw new PageRequestError(400, 'invalid_json', 'the body is not JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new PageRequestError(400, 'invalid_json', 'the body must be a JSON object');
  }
  return body as Record<string, unknown>;
}

/** Read and check a click: JSON (see {@link jsonObject}) by a user of the picker. */
function parseClick(
  ctx: StandInRouteContext,
  names: ReadonlyMap<string, string>,
): { messageTs: string; actionId: string; user: string } {
  const body = jsonObject(ctx);
  const field = (name: string, pattern: RegExp): string => {
    const value = body[name];
    if (typeof value !== 'string' || value === '') {
      throw new PageRequestError(400, 'missing_field', `the click has no ${name}`);
    }
    if (!pattern.test(value)) {
      throw new PageRequestError(400, 'invalid_field', `${name} ${JSON.stringify(value)} is malformed`);
    }
    return value;
  };
  const click = {
    messageTs: field('messageTs', /^\d{1,12}\.\d{1,9}$/),
    actionId: field('actionId', /^[\w:.-]{1,255}$/),
    user: field('user', SLACK_ID.user),
  };
  if (!names.has(click.user)) {
    throw new PageRequestError(400, 'unknown_user', `user ${click.user} is not in the picker`);
  }
  return click;
}

function sendJson(res: ServerResponse, status: number, payload: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(payload));
}

/**
 * Group a channel's messages as Slack shows them to `user`: channel-level messages, each with its
 * thread replies; ephemerals only when they are for `user`, in their thread when they have one.
 */
function threads(
  all: readonly StandInMessage[],
  user: string,
  botUserId: string,
  names: ReadonlyMap<string, string>,
): PageThread[] {
  const view = (m: StandInMessage): PageMessage => ({
    ts: m.ts,
    ...(m.thread_ts ? { thread_ts: m.thread_ts } : {}),
    text: m.text,
    blocks: m.blocks,
    user: m.user,
    userName: m.user === botUserId ? 'nodemedic' : (names.get(m.user) ?? m.user),
    bot: m.user === botUserId,
    ephemeral: m.ephemeral_for !== undefined,
    ...(m.edited ? { edited: m.edited } : {}),
  });
  const visible = all.filter((m) => m.ephemeral_for === undefined || m.ephemeral_for === user);
  const rootTs = new Set(visible.filter((m) => !m.thread_ts || m.thread_ts === m.ts).map((m) => m.ts));
  // A reply whose root is not in the channel (an ephemeral aimed at a missing thread) is shown at
  // channel level rather than dropped.
  const isRoot = (m: StandInMessage) => !m.thread_ts || m.thread_ts === m.ts || !rootTs.has(m.thread_ts);
  return visible.filter(isRoot).map((root) => ({
    ...view(root),
    replies: visible.filter((m) => !isRoot(m) && m.thread_ts === root.ts).map(view),
  }));
}
