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
import type { AppDeps, AppLogger } from '../app/deps.js';
import { startDiagnosisFromMention } from '../app/incidents.js';
import { InvalidInputError } from '../core/errors.js';
import { SLACK_ID } from '../core/patterns.js';
import * as denyListener from './listeners/deny.js';
import * as errorListener from './listeners/errors.js';
import * as fixListener from './listeners/fix.js';
import * as mentionListener from './listeners/mention.js';
import * as rerunListener from './listeners/rerun.js';

/** A diagnosis request from a mention: the use case (functions/app/incidents.ts) serves it. */
export interface DiagnosisRequest {
  readonly channel: string;
  /** The thread the card and findings go to. */
  readonly threadTs: string;
  readonly query: { readonly instanceId?: string; readonly nodeName?: string };
  /** Slack user id of the person who asked. */
  readonly requestedBy: string;
}

/**
 * The Slack edge's own configuration, beside the use cases' `AppDeps`: its secrets, where its
 * Bolt client talks to, who it is, and where mentions act. Each composition root (the Lambda
 * handler, the local mode, the tests) gives one.
 */
export interface SlackAppConfig {
  readonly signingSecret: string;
  readonly botToken: string;
  /**
   * Passed to the Bolt app's own WebClient (the `auth.test` that learns who the bot is):
   * `slackApiUrl` for GovSlack or the local stand-in, `retryConfig` in tests. Every other Slack
   * call goes through `deps.chat`.
   */
  readonly clientOptions?: WebClientOptions;
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
  /**
   * Serves a mention's diagnosis request.
   * @default the use case `startDiagnosisFromMention` over `deps` (a test may record them instead)
   */
  readonly startDiagnosis?: (req: DiagnosisRequest) => Promise<{ incidentId: string; created: boolean }>;
}

/**
 * What each listener's `register` receives beside the `AppDeps` (passed as they are: a composition
 * root's deps may compute a field at each read, which a copy would freeze).
 */
export interface SlackEdge {
  readonly mentionChannels: readonly string[];
  readonly startDiagnosis: (req: DiagnosisRequest) => Promise<{ incidentId: string; created: boolean }>;
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
 * Build the Bolt app and its Lambda receiver over the use cases' `deps`: the one builder the
 * Lambda handler (functions/handlers/slack.ts) and the local mode (functions/local/compose.ts)
 * both call. No Slack call happens here. Bolt's own
 * single-token mode with `tokenVerificationEnabled: false` calls `auth.test` on every request
 * (read from its source: the result is not kept), so the app authorizes with a function that
 * makes that call once per container (its `team_id` is the installed team), or never when
 * `config.bot` and `config.teamId` are given.
 */
export function createSlackApp(
  deps: AppDeps,
  config: SlackAppConfig,
): {
  app: App;
  receiver: AwsLambdaReceiver;
  handler: SlackHandler;
} {
  // The ids go into the bot's answers as `<#C…>`: anything else would be a broken or live link.
  const badChannels = config.mentionChannels.filter((c) => !SLACK_ID.channel.test(c));
  if (config.mentionChannels.length === 0 || badChannels.length > 0) {
    throw new InvalidInputError(
      `mentionChannels must hold at least one Slack channel id (C…/G…), got ${JSON.stringify(config.mentionChannels.map((c) => c.slice(0, 40)))}`,
      { code: 'CONFIG_INVALID' },
    );
  }
  const boltLogger = toBoltLogger(deps.logger);
  const receiver = new AwsLambdaReceiver({
    signingSecret: config.signingSecret,
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
  const client = new WebClient(config.botToken, {
    rejectRateLimitedCalls: true,
    ...config.clientOptions,
    logger: boltLogger,
  });
  let identity: Promise<{ botId: string; botUserId: string; teamId: string }> | null =
    config.bot && config.teamId ? Promise.resolve({ ...config.bot, teamId: config.teamId }) : null;
  const whoAmI = () =>
    (identity ??= client.auth.test().then(
      (r) => {
        // Without a team id no click could be matched to the installation: fail, do not guess.
        const teamId = config.teamId ?? r.team_id;
        if (!teamId) throw new Error('auth.test returned no team_id');
        return {
          botId: config.bot?.botId ?? String(r.bot_id ?? ''),
          botUserId: config.bot?.botUserId ?? String(r.user_id ?? ''),
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
      return { botToken: config.botToken, botId, botUserId };
    },
    ...(config.clientOptions ? { clientOptions: config.clientOptions } : {}),
  });
  const edge: SlackEdge = {
    mentionChannels: config.mentionChannels,
    startDiagnosis: config.startDiagnosis ?? ((request) => startDiagnosisFromMention(deps, request)),
    installedTeam: async () => (await whoAmI()).teamId,
  };
  fixListener.register(app, deps, edge);
  denyListener.register(app, deps, edge);
  rerunListener.register(app, deps, edge);
  mentionListener.register(app, deps, edge);
  errorListener.register(app, deps);

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
