/** The Slack Web API as the chat, with the bot token from Secrets Manager (cached). */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { WebClient } from '@slack/web-api';
import { loadSlackSecrets, type SlackSecrets } from '../../adapters/aws/secrets.js';
import { WebApiChat } from '../../adapters/slack/web-chat.js';
import { requireEnv } from '../runtime.js';

// Built once per container, in the init phase.
const secretsManager = new SecretsManagerClient({});

/** The Slack secret named by SLACK_SECRET_ID (one read per TTL, shared by every caller). */
export function slackSecrets(): Promise<SlackSecrets> {
  return loadSlackSecrets(secretsManager, requireEnv('SLACK_SECRET_ID'));
}

/** The chat; pass the bot token when the caller already holds the secret. */
export async function makeChat(botToken?: string): Promise<WebApiChat> {
  const token = botToken ?? (await slackSecrets()).botToken;
  // SLACK_API_URL: Slack's own by default; GovSlack and the local stand-in have others.
  const slackApiUrl = process.env.SLACK_API_URL;
  return new WebApiChat(
    new WebClient(token, {
      retryConfig: { retries: 2 },
      rejectRateLimitedCalls: true,
      ...(slackApiUrl ? { slackApiUrl } : {}),
    }),
  );
}
