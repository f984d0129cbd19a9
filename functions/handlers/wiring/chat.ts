/** The Slack Web API as the chat, with the bot token from Secrets Manager (cached). */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { WebClient } from '@slack/web-api';
import { loadSlackSecrets, type SlackSecrets } from '../../adapters/aws/secrets.js';
import { WebApiChat } from '../../adapters/slack/web-chat.js';
import type { PortEnv } from './env.js';

// Built once per container, in the init phase.
const secretsManager = new SecretsManagerClient({});

/** The Slack secret named by SLACK_SECRET_ID (one read per TTL, shared by every caller). */
export function slackSecrets(env: Pick<PortEnv<'chat'>, 'SLACK_SECRET_ID'>): Promise<SlackSecrets> {
  return loadSlackSecrets(secretsManager, env.SLACK_SECRET_ID);
}

/** The chat; pass the bot token when the caller already holds the secret. */
export async function makeChat(env: PortEnv<'chat'>, botToken?: string): Promise<WebApiChat> {
  const token = botToken ?? (await slackSecrets(env)).botToken;
  return new WebApiChat(
    new WebClient(token, {
      retryConfig: { retries: 2 },
      rejectRateLimitedCalls: true,
      // Slack's own by default; GovSlack and the local stand-in have others.
      ...(env.SLACK_API_URL ? { slackApiUrl: env.SLACK_API_URL } : {}),
    }),
  );
}
