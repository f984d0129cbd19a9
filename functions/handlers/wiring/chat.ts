/** The Slack Web API as the chat, with the bot token from Secrets Manager (cached). */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { WebClient } from '@slack/web-api';
import { loadSlackSecrets } from '../../adapters/aws/secrets.js';
import { WebApiChat } from '../../adapters/slack/web-chat.js';
import { requireEnv } from '../runtime.js';

export async function makeChat(): Promise<WebApiChat> {
  const { botToken } = await loadSlackSecrets(new SecretsManagerClient({}), requireEnv('SLACK_SECRET_ID'));
  return new WebApiChat(new WebClient(botToken, { retryConfig: { retries: 2 } }));
}
