/** The Slack Web API as the chat, with the bot token from Secrets Manager (cached). */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { WebClient } from '@slack/web-api';
import { loadSlackSecrets } from '../../adapters/aws/secrets.js';
import { WebApiChat } from '../../adapters/slack/web-chat.js';
import { requireEnv } from '../runtime.js';

export async function makeChat(): Promise<WebApiChat> {
  const { botToken } = await loadSlackSecrets(new SecretsManagerClient({}), requireEnv('SLACK_SECRET_ID'));
  // SLACK_API_URL: Slack's own by default; GovSlack and the local stand-in have others.
  const slackApiUrl = process.env.SLACK_API_URL;
  return new WebApiChat(
    new WebClient(botToken, {
      retryConfig: { retries: 2 },
      rejectRateLimitedCalls: true,
      ...(slackApiUrl ? { slackApiUrl } : {}),
    }),
  );
}
