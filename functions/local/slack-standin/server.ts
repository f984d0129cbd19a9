/**
 * The local Slack stand-in: a real HTTP server on 127.0.0.1 that speaks the Slack Web API methods
 * nodemedic uses, in both JSON and form-encoded bodies, checks the bearer token, keeps channel
 * state (messages, threads, ephemerals per user) and records every request. It also builds the
 * requests Slack itself would send to nodemedic (button clicks, app mentions), signed with the
 * app's signing secret, so tests and the local demo exercise the real Bolt app end to end.
 *
 * Routing is a table of `METHOD path` → handler; later features (a browser page) add routes with
 * `addRoute` without touching the Web API part. Every route, added ones included, sits behind one
 * guard: a request must name this server as its Host and, from a browser, come from its origin.
 */
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A message as the stand-in keeps it. */
export interface StandInMessage {
  readonly ts: string;
  readonly thread_ts?: string;
  readonly text: string;
  readonly blocks: readonly Record<string, unknown>[];
  /** Legacy attachments, as other integrations' alerts still post them (seeded messages only). */
  readonly attachments?: readonly Record<string, unknown>[];
  /** Author: the bot's user id for messages posted through the API, or the seeding user. */
  readonly user: string;
  readonly bot_id?: string;
  /** Set for ephemeral messages: the one user who sees it. */
  readonly ephemeral_for?: string;
  /** ts of the last chat.update, if any. */
  readonly edited?: string;
}

/** One Web API request the stand-in received (the token is never recorded). */
export interface StandInRequest {
  readonly method: string;
  readonly body: Record<string, unknown>;
}

/** What a route handler receives. */
export interface StandInRouteContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly url: URL;
  readonly rawBody: string;
}

/** A route handler; it must answer `res`. */
export type StandInRoute = (ctx: StandInRouteContext) => void | Promise<void>;

/** Options of {@link SlackStandIn.start}. */
export interface SlackStandInOptions {
  /** The only token the Web API accepts (`Authorization: Bearer …` or a `token` body field). */
  readonly botToken: string;
  /** Secret used to sign the interactivity and event requests the stand-in builds. */
  readonly signingSecret: string;
  /** Slack user groups: id → member user ids (`usergroups.users.list`). */
  readonly userGroups?: Record<string, string[]>;
  /** Known users: id → profile (`users.info`). */
  readonly users?: Record<string, { name: string }>;
  /** Port to listen on; 0 (default) picks an ephemeral one. */
  readonly port?: number;
  /**
   * The most messages one `conversations.replies` page holds, whatever `limit` asks: 1000 as
   * documented, 15 for apps distributed outside the Marketplace since 2025-05-29. @default 1000
   */
  readonly repliesPageSize?: number;
}

/** Slack's v0 request signature: `v0=` + hex HMAC-SHA256 of `v0:<timestamp>:<body>`. */
export function signSlackRequest(signingSecret: string, timestamp: number, body: string): string {
  return `v0=${createHmac('sha256', signingSecret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
}

const TEAM = { id: 'T0NODEMED', domain: 'nodemedic-local' };
const BOT = { userId: 'U0NODEMEDIC', botId: 'B0NODEMEDIC', appId: 'A0NODEMEDIC' };

/** Fields Slack form bodies carry as JSON strings. */
const JSON_FIELDS = new Set(['blocks', 'attachments', 'metadata']);

class SlackApiError extends Error {
  constructor(
    readonly error: string,
    readonly status = 200,
    readonly messages: string[] = [],
  ) {
    super(error);
  }
}

type WebApiHandler = (body: Record<string, unknown>) => Record<string, unknown>;

/** The local Slack stand-in server. */
export class SlackStandIn {
  /** Base URL of the Web API: pass it as `clientOptions.slackApiUrl`. */
  readonly apiUrl: string;
  /** Base URL of the server (`http://127.0.0.1:PORT/`). */
  readonly baseUrl: string;
  readonly #server: Server;
  readonly #options: SlackStandInOptions;
  readonly #requests: StandInRequest[] = [];
  readonly #channels = new Map<string, StandInMessage[]>();
  readonly #routes = new Map<string, StandInRoute>();
  readonly #failures = new Map<string, { error: string; status: number }[]>();
  #sweep: { n: number; methods: Set<string>; seen: number; error: string; status: number } | null = null;
  /** The Host values this server answers to (see {@link SlackStandIn.#refusal}). */
  readonly #hosts: ReadonlySet<string>;
  /** The secret part of the response URLs this server hands out, random per server. */
  readonly #responseKey = randomBytes(16).toString('hex');
  #clock = 0;

  private constructor(server: Server, options: SlackStandInOptions) {
    this.#server = server;
    this.#options = options;
    const { port } = server.address() as AddressInfo;
    this.baseUrl = `http://127.0.0.1:${port}/`;
    this.apiUrl = `${this.baseUrl}api/`;
    this.#hosts = new Set([`127.0.0.1:${port}`, `localhost:${port}`]);
    const api: Record<string, WebApiHandler> = {
      'auth.test': () => ({
        url: `https://${TEAM.domain}.slack.com/`,
        team: TEAM.domain,
        user: 'nodemedic',
        team_id: TEAM.id,
        user_id: BOT.userId,
        bot_id: BOT.botId,
      }),
      'chat.postMessage': (b) => this.#postMessage(b),
      'chat.update': (b) => this.#update(b),
      'chat.postEphemeral': (b) => this.#postEphemeral(b),
      'conversations.replies': (b) => this.#replies(b),
      'usergroups.users.list': (b) => {
        const id = requireString(b, 'usergroup');
        const users = this.#options.userGroups?.[id];
        if (!users) throw new SlackApiError('no_such_subteam');
        return { users };
      },
      'users.info': (b) => {
        const id = requireString(b, 'user');
        const user = this.#options.users?.[id];
        if (!user) throw new SlackApiError('user_not_found');
        return { user: { id, name: user.name, real_name: user.name, team_id: TEAM.id } };
      },
    };
    for (const [method, handler] of Object.entries(api)) {
      this.addRoute('POST', `/api/${method}`, (ctx) => this.#webApi(method, handler, ctx));
    }
    this.addRoute('POST', '/response', (ctx) => this.#responseUrl(ctx));
  }

  /** Start the server on 127.0.0.1. */
  static async start(options: SlackStandInOptions): Promise<SlackStandIn> {
    let instance: SlackStandIn | undefined;
    const server = createServer((req, res) => {
      if (!instance) {
        res.writeHead(503).end();
        return;
      }
      instance.#dispatch(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: false, error: 'internal_error', detail: String(err) }));
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
    });
    instance = new SlackStandIn(server, options);
    return instance;
  }

  /** Every Web API request received, in order. */
  get requests(): readonly StandInRequest[] {
    return this.#requests;
  }

  /** Requests of one Web API method, e.g. `chat.postEphemeral`. */
  requestsOf(method: string): readonly StandInRequest[] {
    return this.#requests.filter((r) => r.method === method);
  }

  /** All messages of a channel (roots, replies and ephemerals), oldest first. */
  messages(channel: string): readonly StandInMessage[] {
    return this.#channels.get(channel) ?? [];
  }

  /** One message by ts, or undefined. */
  message(channel: string, ts: string): StandInMessage | undefined {
    return this.messages(channel).find((m) => m.ts === ts);
  }

  /** Add a route (e.g. a browser page). `path` is matched exactly, without the query string. */
  addRoute(method: 'GET' | 'POST', path: string, route: StandInRoute): void {
    this.#routes.set(`${method} ${path}`, route);
  }

  /**
   * Make the `n`-th call (1-based, from now) among `methods` fail like {@link failNext}: a fault
   * sweep fails each call of an incident in turn, whatever method it is.
   */
  failCall(n: number, methods: readonly string[], error: string, status?: number): void {
    this.#sweep = {
      n,
      methods: new Set(methods),
      seen: 0,
      error,
      status: status ?? (error === 'ratelimited' ? 429 : 200),
    };
  }

  /**
   * Make the next call(s) of a Web API method fail like Slack does: `ratelimited` answers HTTP 429
   * with Retry-After, anything else HTTP 200 `{ ok: false, error }`, unless `status` names another
   * (e.g. 503, as Slack's edge answers in an outage).
   */
  failNext(method: string, error: string, times = 1, status?: number): void {
    const queue = this.#failures.get(method) ?? [];
    for (let i = 0; i < times; i++)
      queue.push({ error, status: status ?? (error === 'ratelimited' ? 429 : 200) });
    this.#failures.set(method, queue);
  }

  /**
   * Put a message into a channel as if someone else posted it (another integration's alert, a
   * user's reply). Returns its ts.
   */
  seedMessage(opts: {
    channel: string;
    text: string;
    user?: string;
    threadTs?: string;
    botId?: string;
    /** Another integration's blocks and attachments, stored as given. */
    blocks?: readonly Record<string, unknown>[];
    attachments?: readonly Record<string, unknown>[];
  }): string {
    const ts = this.#nextTs();
    this.#store(opts.channel, {
      ts,
      ...(opts.threadTs ? { thread_ts: opts.threadTs } : {}),
      text: opts.text,
      blocks: opts.blocks ?? [],
      ...(opts.attachments ? { attachments: opts.attachments } : {}),
      user: opts.user ?? 'U0ALERTBOT',
      ...(opts.botId ? { bot_id: opts.botId } : {}),
    });
    return ts;
  }

  /**
   * Build the interactivity request Slack would send for a click on a button of a stored message,
   * signed with the signing secret (body form-encoded `payload=`), as { headers, body }.
   */
  clickRequest(opts: {
    channel: string;
    messageTs: string;
    actionId: string;
    user: string;
    timestamp?: number;
  }): { headers: Record<string, string>; body: string } {
    const message = this.message(opts.channel, opts.messageTs);
    if (!message) throw new Error(`no message ${opts.messageTs} in ${opts.channel}`);
    const found = findButton(message.blocks, opts.actionId);
    if (!found) throw new Error(`message ${opts.messageTs} has no button with action_id ${opts.actionId}`);
    const { block, button } = found;
    const payload = {
      type: 'block_actions',
      user: {
        id: opts.user,
        username: this.#userName(opts.user),
        name: this.#userName(opts.user),
        team_id: TEAM.id,
      },
      api_app_id: BOT.appId,
      token: 'legacy-verification-token',
      container: {
        type: 'message',
        message_ts: message.ts,
        channel_id: opts.channel,
        is_ephemeral: false,
        ...(message.thread_ts ? { thread_ts: message.thread_ts } : {}),
      },
      trigger_id: `${Date.now()}.${randomUUID()}`,
      team: TEAM,
      enterprise: null,
      is_enterprise_install: false,
      channel: { id: opts.channel, name: opts.channel },
      message: {
        type: 'message',
        ts: message.ts,
        text: message.text,
        blocks: message.blocks,
        user: message.user,
        ...(message.bot_id ? { bot_id: message.bot_id } : {}),
        ...(message.thread_ts ? { thread_ts: message.thread_ts } : {}),
      },
      state: { values: {} },
      response_url: `${this.baseUrl}response?channel=${encodeURIComponent(opts.channel)}&ts=${message.ts}&key=${this.#responseKey}`,
      actions: [
        {
          type: 'button',
          action_id: button.action_id,
          block_id: block.block_id ?? 'actions',
          text: button.text,
          value: button.value,
          ...(button.style ? { style: button.style } : {}),
          action_ts: `${Date.now() / 1000}`,
        },
      ],
    };
    const body = `payload=${encodeURIComponent(JSON.stringify(payload))}`;
    return this.#signed(body, 'application/x-www-form-urlencoded', opts.timestamp);
  }

  /**
   * Build the Events API request for an app_mention of the bot (JSON body, signed). The mention
   * itself is stored in the channel as the user's message, as it would be in Slack.
   */
  mentionRequest(opts: {
    channel: string;
    threadTs?: string;
    text: string;
    user: string;
    timestamp?: number;
  }): { headers: Record<string, string>; body: string } {
    const ts = this.seedMessage({
      channel: opts.channel,
      text: opts.text,
      user: opts.user,
      ...(opts.threadTs ? { threadTs: opts.threadTs } : {}),
    });
    const payload = {
      token: 'legacy-verification-token',
      team_id: TEAM.id,
      api_app_id: BOT.appId,
      event: {
        type: 'app_mention',
        user: opts.user,
        text: opts.text,
        ts,
        channel: opts.channel,
        event_ts: ts,
        ...(opts.threadTs ? { thread_ts: opts.threadTs } : {}),
        client_msg_id: randomUUID(),
      },
      type: 'event_callback',
      event_id: `Ev${randomUUID().replace(/-/g, '').slice(0, 10).toUpperCase()}`,
      event_time: Math.floor(Date.now() / 1000),
      authorizations: [{ team_id: TEAM.id, user_id: BOT.userId, is_bot: true, is_enterprise_install: false }],
      is_ext_shared_channel: false,
    };
    return this.#signed(JSON.stringify(payload), 'application/json', opts.timestamp);
  }

  /** The bot's identity as `auth.test` reports it (pass `botId`/`botUserId` to Bolt). */
  get bot(): { userId: string; botId: string } {
    return { userId: BOT.userId, botId: BOT.botId };
  }

  /** Stop the server. */
  close(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server.close((err) => (err ? reject(err) : resolve()));
      this.#server.closeAllConnections();
    });
  }

  #signed(body: string, contentType: string, timestamp?: number) {
    const ts = timestamp ?? Math.floor(Date.now() / 1000);
    return {
      headers: {
        'content-type': contentType,
        'x-slack-request-timestamp': String(ts),
        'x-slack-signature': signSlackRequest(this.#options.signingSecret, ts, body),
      },
      body,
    };
  }

  #userName(user: string): string {
    return this.#options.users?.[user]?.name ?? user.toLowerCase();
  }

  #nextTs(): string {
    // Slack ts values are unique per channel and sort by time; a counter keeps them unique.
    this.#clock += 1;
    return `${Math.floor(Date.now() / 1000)}.${String(this.#clock).padStart(6, '0')}`;
  }

  #store(channel: string, message: StandInMessage): void {
    const list = this.#channels.get(channel) ?? [];
    list.push(message);
    this.#channels.set(channel, list);
  }

  async #dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const refusal = this.#refusal(req);
    if (refusal) {
      // Answered before the body is read or any route runs: a refused request changes nothing.
      res.writeHead(403, { 'content-type': 'application/json; charset=utf-8', connection: 'close' });
      res.end(JSON.stringify({ ok: false, ...refusal }));
      return;
    }
    const url = new URL(req.url ?? '/', this.baseUrl);
    const route = this.#routes.get(`${req.method} ${url.pathname}`);
    const rawBody = await readBody(req);
    if (!route) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: false, error: 'unknown_method' }));
      return;
    }
    await route({ req, res, url, rawBody });
  }

  /**
   * The guard every route goes through, the Web API and `/response` included. The server listens on
   * 127.0.0.1, but any web page the user opens can make their browser send it requests: a page on
   * another origin (a cross-site `text/plain` POST needs no CORS preflight), or one that rebinds
   * its own host name to 127.0.0.1. So a request must name this server as its Host (127.0.0.1 or
   * localhost with its port), and a browser request must come from that same origin. Clients that
   * are not browsers (Bolt's WebClient, curl) send no Origin and pass on the Host alone.
   */
  #refusal(req: IncomingMessage): { error: string; message: string } | null {
    const host = req.headers.host ?? '';
    if (!this.#hosts.has(host)) {
      return {
        error: 'wrong_host',
        message: `this server answers on ${[...this.#hosts].join(' and ')} only, not ${JSON.stringify(host)}`,
      };
    }
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== `http://${host}`) {
      return { error: 'cross_origin', message: `a request from origin ${origin} is refused` };
    }
    return null;
  }

  #webApi(method: string, handler: WebApiHandler, { req, res, rawBody }: StandInRouteContext): undefined {
    const send = (status: number, payload: Record<string, unknown>, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
      res.end(JSON.stringify(payload));
      return undefined;
    };
    let body: Record<string, unknown>;
    try {
      body = parseBody(req.headers['content-type'] ?? '', rawBody);
    } catch (err) {
      send(200, { ok: false, error: 'invalid_form_data', detail: String(err) });
      return;
    }
    const { token, ...recorded } = body;
    this.#requests.push({ method, body: recorded });
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? token;
    if (bearer === undefined || bearer === '') return send(200, { ok: false, error: 'not_authed' });
    if (bearer !== this.#options.botToken) return send(200, { ok: false, error: 'invalid_auth' });
    let failure = this.#failures.get(method)?.shift();
    if (!failure && this.#sweep?.methods.has(method)) {
      this.#sweep.seen += 1;
      if (this.#sweep.seen === this.#sweep.n)
        failure = { error: this.#sweep.error, status: this.#sweep.status };
    }
    if (failure) {
      return send(
        failure.status,
        { ok: false, error: failure.error },
        failure.status === 429 ? { 'retry-after': '1' } : {},
      );
    }
    try {
      send(200, { ok: true, ...handler(recorded) });
    } catch (err) {
      if (err instanceof SlackApiError) {
        const meta = err.messages.length > 0 ? { response_metadata: { messages: err.messages } } : {};
        return send(err.status, { ok: false, error: err.error, ...meta });
      }
      throw err;
    }
  }

  #postMessage(b: Record<string, unknown>): Record<string, unknown> {
    const channel = requireString(b, 'channel');
    const { text, blocks } = messageContent(b);
    const threadTs = optionalString(b, 'thread_ts');
    if (threadTs && !this.message(channel, threadTs)) throw new SlackApiError('thread_not_found');
    const message = this.#storeBotMessage(channel, threadTs, text, blocks);
    return { channel, ts: message.ts, message: { type: 'message', ...message } };
  }

  #update(b: Record<string, unknown>): Record<string, unknown> {
    const channel = requireString(b, 'channel');
    const ts = requireString(b, 'ts');
    const { text, blocks } = messageContent(b);
    const list = this.#channels.get(channel) ?? [];
    const index = list.findIndex((m) => m.ts === ts && !m.ephemeral_for);
    if (index < 0) throw new SlackApiError('message_not_found');
    const current = list[index]!;
    if (current.user !== BOT.userId) throw new SlackApiError('cant_update_message');
    list[index] = { ...current, text, blocks, edited: this.#nextTs() };
    return { channel, ts, text, message: { type: 'message', ...list[index] } };
  }

  #postEphemeral(b: Record<string, unknown>): Record<string, unknown> {
    const channel = requireString(b, 'channel');
    const user = requireString(b, 'user');
    const { text, blocks } = messageContent(b);
    const threadTs = optionalString(b, 'thread_ts');
    const { ts } = this.#storeBotMessage(channel, threadTs, text, blocks, { ephemeral_for: user });
    return { message_ts: ts };
  }

  /** Store a message from the app's bot (a reply when `threadTs` is set) under a fresh ts. */
  #storeBotMessage(
    channel: string,
    threadTs: string | undefined,
    text: string,
    blocks: Record<string, unknown>[],
    extra: Pick<StandInMessage, 'ephemeral_for'> = {},
  ): StandInMessage {
    const message: StandInMessage = {
      ts: this.#nextTs(),
      ...(threadTs ? { thread_ts: threadTs } : {}),
      text,
      blocks,
      user: BOT.userId,
      bot_id: BOT.botId,
      ...extra,
    };
    this.#store(channel, message);
    return message;
  }

  /**
   * `conversations.replies` as documented (docs.slack.dev/reference/methods/conversations.replies):
   * the parent first, then its replies, oldest first; `limit` per page (at most
   * `repliesPageSize`, which is also the default), and `cursor` from the previous page's `response_metadata.next_cursor`, which is
   * empty on the last page. The parent of a thread carries `thread_ts` and `reply_count`.
   */
  #replies(b: Record<string, unknown>): Record<string, unknown> {
    const channel = requireString(b, 'channel');
    const ts = requireString(b, 'ts');
    const limit = b.limit === undefined || b.limit === '' ? 1000 : Number(b.limit);
    if (!Number.isInteger(limit) || limit < 1) {
      throw new SlackApiError('invalid_arguments', 200, ['[ERROR] limit must be a positive integer']);
    }
    const visible = this.messages(channel).filter((m) => !m.ephemeral_for);
    const root = visible.find((m) => m.ts === ts);
    if (!root) throw new SlackApiError('thread_not_found');
    const rootTs = root.thread_ts ?? root.ts;
    const thread = visible
      .filter((m) => m.ts === rootTs || m.thread_ts === rootTs)
      .map((m) =>
        m.ts === rootTs && visible.some((r) => r.thread_ts === rootTs)
          ? { ...m, thread_ts: rootTs, reply_count: visible.filter((r) => r.thread_ts === rootTs).length }
          : m,
      );
    let start = 0;
    const cursor = optionalString(b, 'cursor');
    if (cursor) {
      const next = /^next_ts:(.+)$/.exec(Buffer.from(cursor, 'base64').toString('utf8'))?.[1];
      start = thread.findIndex((m) => m.ts === next);
      if (start < 0) throw new SlackApiError('invalid_cursor');
    }
    const page = thread.slice(start, start + Math.min(limit, this.#options.repliesPageSize ?? 1000));
    const following = thread[start + page.length];
    return {
      messages: page.map((m) => ({ type: 'message', ...m })),
      has_more: following !== undefined,
      response_metadata: {
        next_cursor: following ? Buffer.from(`next_ts:${following.ts}`).toString('base64') : '',
      },
    };
  }

  /**
   * Bolt's `respond()` posts here: record it and apply it to the message, like Slack does. Like
   * Slack's own response URLs, it acts only with the secret part of the URL handed out in the click
   * payload, and only on a JSON body.
   */
  #responseUrl({ req, res, url, rawBody }: StandInRouteContext): undefined {
    const refuse = (status: number, error: string, message: string) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify({ ok: false, error, message }));
      return undefined;
    };
    const key = Buffer.from(url.searchParams.get('key') ?? '');
    const expected = Buffer.from(this.#responseKey);
    if (key.length !== expected.length || !timingSafeEqual(key, expected)) {
      return refuse(404, 'invalid_response_url', 'this response URL was not handed out by a click');
    }
    if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
      return refuse(415, 'invalid_payload', 'a response must be sent as application/json');
    }
    let body: Record<string, unknown>;
    try {
      const parsed = JSON.parse(rawBody || '{}') as unknown;
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
        throw new Error('not an object');
      body = parsed as Record<string, unknown>;
    } catch {
      return refuse(400, 'invalid_payload', 'the response body is not a JSON object');
    }
    const channel = url.searchParams.get('channel') ?? '';
    const ts = url.searchParams.get('ts') ?? '';
    this.#requests.push({ method: 'response_url', body: { channel, ts, ...body } });
    const list = this.#channels.get(channel) ?? [];
    const index = list.findIndex((m) => m.ts === ts);
    if (body.replace_original === true && index >= 0) {
      const { text, blocks } = messageContent(body);
      list[index] = { ...list[index]!, text, blocks, edited: this.#nextTs() };
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ok: true }));
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Parse a Web API body, JSON or form-encoded; form fields that Slack reads as JSON are decoded. */
function parseBody(contentType: string, raw: string): Record<string, unknown> {
  if (raw === '') return {};
  if (contentType.startsWith('application/json')) {
    const parsed = JSON.parse(raw) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new Error('body is not an object');
    return parsed as Record<string, unknown>;
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(raw)) {
    out[key] = JSON_FIELDS.has(key) ? JSON.parse(value) : value;
  }
  return out;
}

function requireString(b: Record<string, unknown>, key: string): string {
  const value = b[key];
  if (typeof value !== 'string' || value === '') {
    throw new SlackApiError(key === 'channel' ? 'channel_not_found' : 'invalid_arguments', 200, [
      `[ERROR] missing required field: ${key}`,
    ]);
  }
  return value;
}

function optionalString(b: Record<string, unknown>, key: string): string | undefined {
  const value = b[key];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** text + blocks of a message, checked against the Block Kit limits Slack enforces. */
function messageContent(b: Record<string, unknown>): { text: string; blocks: Record<string, unknown>[] } {
  const text = typeof b.text === 'string' ? b.text : '';
  const blocks = b.blocks === undefined ? [] : b.blocks;
  if (!Array.isArray(blocks)) throw new SlackApiError('invalid_blocks_format');
  if (text === '' && blocks.length === 0) throw new SlackApiError('no_text');
  const problems = blockProblems(blocks);
  if (problems.length > 0) throw new SlackApiError('invalid_blocks', 200, problems);
  return { text, blocks: blocks as Record<string, unknown>[] };
}

/** The Block Kit limits nodemedic relies on, as Slack reports violations. */
export function blockProblems(blocks: readonly unknown[]): string[] {
  const problems: string[] = [];
  if (blocks.length > 50) problems.push(`[ERROR] no more than 50 items allowed [json-pointer:/blocks]`);
  blocks.forEach((raw, i) => {
    const block = raw as Record<string, unknown>;
    const at = `/blocks/${i}`;
    if (typeof block !== 'object' || block === null || typeof block.type !== 'string') {
      problems.push(`[ERROR] missing block type [json-pointer:${at}]`);
      return;
    }
    const text = (block.text as { text?: unknown } | undefined)?.text;
    if (block.type === 'section' && typeof text === 'string' && text.length > 3000) {
      problems.push(`[ERROR] must be less than 3001 characters [json-pointer:${at}/text/text]`);
    }
    if (block.type === 'header' && typeof text === 'string' && text.length > 150) {
      problems.push(`[ERROR] must be less than 151 characters [json-pointer:${at}/text/text]`);
    }
    if (block.type === 'actions') {
      const elements = Array.isArray(block.elements) ? (block.elements as Record<string, unknown>[]) : [];
      if (elements.length > 25)
        problems.push(`[ERROR] no more than 25 items allowed [json-pointer:${at}/elements]`);
      elements.forEach((el, j) => {
        const label = (el.text as { text?: unknown } | undefined)?.text;
        if (typeof label === 'string' && label.length > 75) {
          problems.push(
            `[ERROR] must be less than 76 characters [json-pointer:${at}/elements/${j}/text/text]`,
          );
        }
      });
    }
  });
  return problems;
}

interface ButtonElement {
  action_id: string;
  value?: string;
  text?: unknown;
  style?: string;
}

function findButton(
  blocks: readonly Record<string, unknown>[],
  actionId: string,
): { block: { block_id?: string }; button: ButtonElement } | null {
  for (const block of blocks) {
    if (block.type !== 'actions' || !Array.isArray(block.elements)) continue;
    for (const el of block.elements as ButtonElement[]) {
      if (el.action_id === actionId) return { block: block as { block_id?: string }, button: el };
    }
  }
  return null;
}
