/**
 * The Lambda edge behind the Slack Function URL: Bolt's AwsLambdaReceiver for interactivity and
 * events. The secret is read once (by slackSecrets), the app is built once per container,
 * and every request goes through the app's normalizing handler (Content-Type parameters, UTF-8
 * base64 bodies) before the receiver verifies its signature.
 */
import { createSlackApp, type SlackHandler, type SlackHttpEvent } from '../slack/app.js';
import { wiring } from './manifest/slack.js';
import { flushMetrics, logger } from './runtime.js';
import { makeChat, slackSecrets } from './wiring/chat.js';
import { wire } from './wiring/compose.js';
import { makeInventory } from './wiring/inventory.js';
import { makePager } from './wiring/pager.js';
import { makeStore } from './wiring/store.js';
import { makeWorkflow } from './wiring/workflow.js';

// Its manifest's configuration, parsed at cold start: a bad value fails the init with the variable
// named. The ports are built at the first request (the chat reads the Slack secret, cached).
const { env, deps: buildDeps } = wire(wiring, {
  store: makeStore,
  inventory: makeInventory,
  chat: makeChat,
  workflow: makeWorkflow,
  pager: makePager,
});
let built: Promise<SlackHandler> | null = null;

async function build(): Promise<SlackHandler> {
  const { botToken, signingSecret } = await slackSecrets(env);
  // The mention use case opens incidents: it needs the inventory, the chat and the workflow too.
  const deps = { ...(await buildDeps()), onCallAllowList: env.ONCALL_ALLOWLIST };
  // SLACK_API_URL (GovSlack, the local stand-in) is for every Web API call of this function:
  // the chat above, and the Bolt app's own client (auth.test).
  const slackApiUrl = env.SLACK_API_URL;
  const { handler } = createSlackApp(deps, {
    signingSecret,
    botToken,
    clientOptions: { retryConfig: { retries: 1 }, ...(slackApiUrl ? { slackApiUrl } : {}) },
    // The alert channel, plus any others where people may ask for a diagnosis.
    mentionChannels: [...new Set([deps.channel, ...env.MENTION_CHANNEL_IDS])],
  });
  return handler;
}

/** Lambda entry point (Function URL, payload format 2.0). */
export async function handler(event: SlackHttpEvent, context: unknown) {
  built ??= build().catch((error: unknown) => {
    built = null; // a failed cold start (secret unreadable) is retried on the next request
    throw error;
  });
  let slack: SlackHandler;
  try {
    slack = await built;
  } catch (error) {
    logger.error('Slack function could not start', { error: error as Error });
    return { statusCode: 500, body: 'nodemedic is misconfigured' };
  }
  try {
    return await slack(event, context);
  } finally {
    flushMetrics();
  }
}
