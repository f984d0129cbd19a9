/**
 * The Bolt app behind the Slack Function URL: interactivity (the findings message's buttons) and
 * events (`app_mention`). It verifies Slack's v0 signature through `AwsLambdaReceiver`, and adds
 * what that receiver lacks (toolchain.md): tolerant Content-Type and UTF-8 base64 bodies, and a
 * clean 400 instead of a crash on a body it cannot parse, and a refusal of timestamps more than
 * five minutes in the future (the receiver refuses only old ones, so a request dated ahead would
 * stay replayable). Deduplication of replays and retries inside the window is done by the
 * listeners.
 */
import { App, AwsLambdaReceiver, LogLevel } from '@slack/bolt';
import { WebClient, type WebClientOptions } from '@slack/web-api';
import { WebApiChat } from '../adapters/slack/web-chat.js';
import type { AppLogger } from '../app/deps.js';
import type { AppMetrics } from '../app/metrics.js';
import { InvalidInputError } from '../core/errors.js';
import type { IncidentStore, Workflow } from '../core/incident.js';
import type { Pager } from '../core/pager.js';
import { SLACK_ID } from '../core/patterns.js';
import type { SafetyPolicy } from '../core/policy.js';
import type { Chat } from '../core/ports.js';
import * as denyListener from './listeners/deny.js';
import * as errorListener from './listeners/errors.js';
import * as fixListener from './listeners/fix.js';
import * as mentionListener from './listeners/mention.js';
import * as rerunListener from './listeners/rerun.js';
import * as rollListener from './listeners/roll.js';

/** A diagnosis request from a mention: the lead's use case (functions/app/incidents.ts) serves it. */
export interface DiagnosisRequest {
  readonly channel: string;
  /** The thread the card and findings go to. */
  readonly threadTs: string;
  readonly query: { readonly instanceId?: string; readonly nodeName?: string };
  /** Slack user id of the person who asked. */
  readonly requestedBy: string;
}

/** Everything the Slack app needs; each composition root (Lambda, local demo, tests) builds one. */
export interface SlackAppDeps {
  readonly signingSecret: string;
  readonly botToken: string;
  /** Passed to Bolt's WebClient: `slackApiUrl` for the local stand-in, `retryConfig` in tests. */
  readonly clientOptions?: WebClientOptions;
  readonly store: IncidentStore;
  readonly workflow: Workflow;
  /** @default a WebApiChat over Bolt's own client */
  readonly chat?: Chat;
  readonly policy: SafetyPolicy;
  readonly onCall: { readonly userGroupId: string | null; readonly allowList: readonly string[] };
  readonly startDiagnosis: (req: DiagnosisRequest) => Promise<{ incidentId: string; created: boolean }>;
  readonly logger: AppLogger;
  /** Counts refused clicks (functions/app/metrics.ts). @default none */
  readonly metrics?: AppMetrics;
  /** Resolves a page when a person takes an incident over. @default none */
  readonly pager?: Pager;
  /** @default () => new Date() */
  readonly clock?: () => Date;
  /**
   * The bot's ids, when known from configuration. Without them one `auth.test` is made on the
   * first request of a container and cached (Bolt alone would call it on every request).
   */
  readonly bot?: { readonly botId: string; readonly botUserId: string };
  /**
   * The team (workspace) the app is installed in (`T…`): clicks from any other team are refused.
   * @default auth.test's `team_id`, asked once per container
   */
  readonly teamId?: string;
  /**
   * The channels where `@nodemedic` mentions act (the alert channel and any others configured),
   * threads under them included. A mention anywhere else is answered with this list, and nothing
   * runs.
   */
  readonly mentionChannels: readonly string[];
}

/** What each listener's `register` receives: the deps with the defaults filled in. */
export interface ListenerDeps extends Omit<SlackAppDeps, 'chat' | 'clock'> {
  readonly chat: Chat;
  readonly clock: () => Date;
  /** Reads a thread (conversations.replies), for mentions under someone else's alert. */
  readonly slack: WebApiChat;
  /** The team the app is installed in: configured, else auth.test's, once per container. */
  readonly installedTeam: () => Promise<string>;
}

/** A Lambda Function URL (payload v2) or API Gateway event, as much as this edge reads. */
export interface SlackHttpEvent {
  body?: string | null;
  headers: Record<string, string | undefined>;
  isBase64Encoded: boolean;
  [key: string]: unknown;
}

/** The Lambda response. */
export interface SlackHttpResponse {
  statusCode: number;
  headers?: Record<string, string | number | boolean>;
  body: string;
}

/** How far a request's timestamp may be from now, either way (Slack's own advice: 5 minutes). */
const MAX_SKEW_SECONDS = 300;

/** The Lambda handler: a normalized event into Bolt's receiver. */
export type SlackHandler = (event: SlackHttpEvent, context: unknown) => Promise<SlackHttpResponse>;

/**
 * Build the Bolt app and its Lambda receiver. No Slack call happens here. Bolt's own
 * single-token mode with `tokenVerificationEnabled: false` calls `auth.test` on every request
 * (read from its source: the result is not kept), so the app authorizes with a function that
 * makes that call once per container (its `team_id` is the installed team), or never when
 * `deps.bot` and `deps.teamId` are given.
 */
export function createSlackApp(deps: SlackAppDeps): {
  app: App;
  receiver: AwsLambdaReceiver;
  handler: SlackHandler;
} {
  // The ids go into the bot's answers as `<#C…>`: anything else would be a broken or live link.
  const badChannels = deps.mentionChannels.filter((c) => !SLACK_ID.channel.test(c));
  if (deps.mentionChannels.length === 0 || badChannels.length > 0) {
    throw new InvalidInputError(
      `mentionChannels must hold at least one Slack channel id (C…/G…), got ${JSON.stringify(deps.mentionChannels.map((c) => c.slice(0, 40)))}`,
      { code: 'CONFIG_INVALID' },
    );
  }
  const boltLogger = toBoltLogger(deps.logger);
  const receiver = new AwsLambdaReceiver({
    signingSecret: deps.signingSecret,
    logger: boltLogger,
    invalidRequestSignatureHandler: ({ ts }) => {
      // Never log the signature or body: only that a request was refused, and its claimed age.
      // Not `timestamp`: Powertools Logger reserves that key for the line's own time and drops ours.
      deps.logger.warn('refused a Slack request with an invalid or stale signature', {
        claimedTimestamp: ts,
      });
    },
  });
  // A 429 inside Slack's 3 s budget must fail now rather than sleep through it.
  const client = new WebClient(deps.botToken, {
    rejectRateLimitedCalls: true,
    ...deps.clientOptions,
    logger: boltLogger,
  });
  let identity: Promise<{ botId: string; botUserId: string; teamId: string }> | null =
    deps.bot && deps.teamId ? Promise.resolve({ ...deps.bot, teamId: deps.teamId }) : null;
  const whoAmI = () =>
    (identity ??= client.auth.test().then(
      (r) => {
        // Without a team id no click could be matched to the installation: fail, do not guess.
        const teamId = deps.teamId ?? r.team_id;
        if (!teamId) throw new Error('auth.test returned no team_id');
        return {
          botId: deps.bot?.botId ?? String(r.bot_id ?? ''),
          botUserId: deps.bot?.botUserId ?? String(r.user_id ?? ''),
          teamId,
        };
      },
      (error: unknown) => {
        identity = null; // try again on the next request
        throw error;
      },
    ));
  const app = new App({
    receiver,
    logger: boltLogger,
    authorize: async () => {
      const { botId, botUserId } = await whoAmI();
      return { botToken: deps.botToken, botId, botUserId };
    },
    ...(deps.clientOptions ? { clientOptions: deps.clientOptions } : {}),
  });
  const slack = new WebApiChat(client);
  const listenerDeps: ListenerDeps = {
    ...deps,
    chat: deps.chat ?? slack,
    clock: deps.clock ?? (() => new Date()),
    slack,
    installedTeam: async () => (await whoAmI()).teamId,
  };
  fixListener.register(app, listenerDeps);
  denyListener.register(app, listenerDeps);
  rerunListener.register(app, listenerDeps);
  rollListener.register(app, listenerDeps);
  mentionListener.register(app, listenerDeps);
  errorListener.register(app, listenerDeps);

  let started: Promise<(event: never, context: unknown) => Promise<SlackHttpResponse>> | undefined;
  const handler: SlackHandler = async (event, context) => {
    started ??= receiver.start() as never;
    const boltHandler = await started;
    let normalized: SlackHttpEvent;
    try {
      normalized = normalizeEvent(event);
    } catch (err) {
      deps.logger.warn('refused a Slack request with an unreadable body', { error: String(err) });
      return { statusCode: 400, body: 'unreadable body' };
    }
    const claimed = normalized.headers['x-slack-request-timestamp'];
    // The wall clock, as the receiver's own check uses, not deps.clock (a test may move that).
    const skew = skewSeconds(claimed, Date.now());
    if (skew === null || Math.abs(skew) > MAX_SKEW_SECONDS) {
      // Checked before the receiver, which refuses only old timestamps: a request dated ahead
      // would stay replayable until that date. The signature is not checked yet, so nothing
      // else about the request is trusted or logged.
      deps.logger.warn('refused a Slack request whose timestamp is missing or more than 5 minutes away', {
        ...(skew === null
          ? { claimedTimestamp: claimed?.slice(0, 20) ?? null }
          : { claimedTimestamp: Number(claimed), skewSeconds: skew }),
      });
      return { statusCode: 401, body: '' };
    }
    try {
      return await boltHandler(normalized as never, context);
    } catch (err) {
      // The receiver parses the body before it checks the signature, and throws on junk.
      deps.logger.warn('refused a Slack request it could not parse', {
        error: err instanceof Error ? err.message : String(err),
      });
      return { statusCode: 400, body: 'unparseable body' };
    }
  };
  return { app, receiver, handler };
}

/**
 * Make an event the receiver reads correctly: Content-Type without parameters
 * (`application/x-www-form-urlencoded; charset=utf-8` is otherwise parsed as JSON), and a base64
 * body decoded as UTF-8 (the receiver decodes ASCII, which corrupts non-ASCII text and breaks the
 * signature). The signature is over the raw bytes, which UTF-8 decoding preserves.
 */
function normalizeEvent(event: SlackHttpEvent): SlackHttpEvent {
  const headers: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(event.headers ?? {})) {
    headers[key.toLowerCase()] =
      key.toLowerCase() === 'content-type' && value ? value.split(';')[0]!.trim().toLowerCase() : value;
  }
  let body = event.body ?? '';
  if (event.isBase64Encoded) {
    const bytes = Buffer.from(body, 'base64');
    body = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  }
  return { ...event, headers, body, isBase64Encoded: false };
}

/** Seconds from now to the claimed timestamp (positive: in the future), or null when unreadable. */
function skewSeconds(claimed: string | undefined, nowMs: number): number | null {
  if (!claimed || !/^\d{1,12}$/.test(claimed)) return null;
  return Number(claimed) - Math.floor(nowMs / 1000);
}

function toBoltLogger(logger: AppLogger) {
  let level = LogLevel.INFO;
  let name = 'bolt';
  return {
    debug: () => {},
    info: (...msg: unknown[]) => logger.info(`${name}: ${msg.map(String).join(' ')}`),
    warn: (...msg: unknown[]) => logger.warn(`${name}: ${msg.map(String).join(' ')}`),
    error: (...msg: unknown[]) => logger.error(`${name}: ${msg.map(String).join(' ')}`),
    setLevel: (l: LogLevel) => {
      level = l;
    },
    getLevel: () => level,
    setName: (n: string) => {
      name = n;
    },
  };
}
