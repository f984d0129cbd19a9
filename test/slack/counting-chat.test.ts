/**
 * Every Chat call that fails counts one `SlackErrors` (countingSlackErrors, the wrapper each
 * Lambda's chat goes through), the thread read included, and the error is rethrown unchanged.
 * Against the Slack stand-in through the real Web API adapter.
 */
import { WebClient } from '@slack/web-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebApiChat } from '../../functions/adapters/slack/web-chat.js';
import { type AppMetrics, countingSlackErrors, METRICS } from '../../functions/app/metrics.js';
import { DependencyError } from '../../functions/core/errors.js';
import type { Chat } from '../../functions/core/ports.js';
import { SlackStandIn } from '../../functions/local/slack-standin/server.js';

const TOKEN = 'xoxb-counting';
let standIn: SlackStandIn;
let chat: Chat;
const counted: string[] = [];
beforeAll(async () => {
  standIn = await SlackStandIn.start({
    botToken: TOKEN,
    signingSecret: 's',
    userGroups: { S0ONCALL: ['U0A'] },
  });
  const metrics: AppMetrics = { count: (name) => counted.push(name), seconds: () => {} };
  chat = countingSlackErrors(
    new WebApiChat(new WebClient(TOKEN, { slackApiUrl: standIn.apiUrl, retryConfig: { retries: 0 } })),
    metrics,
  );
});
afterAll(async () => {
  await standIn.close();
});

describe('countingSlackErrors', () => {
  it('passes every call through, the thread read included', async () => {
    const root = await chat.post('C0COUNT', { text: 'root', blocks: [] });
    await chat.post('C0COUNT', { text: 'reply', blocks: [] }, root.ts);
    expect((await chat.replies(root)).map((m) => m.text)).toEqual(['root', 'reply']);
    expect(await chat.userGroupMembers('S0ONCALL')).toEqual(['U0A']);
    expect(counted).toEqual([]);
  });

  it.each([
    ['conversations.replies', (c: Chat, ts: string) => c.replies({ channel: 'C0COUNT', ts })],
    ['chat.postMessage', (c: Chat) => c.post('C0COUNT', { text: 'x', blocks: [] })],
    ['chat.update', (c: Chat, ts: string) => c.update({ channel: 'C0COUNT', ts }, { text: 'x', blocks: [] })],
    ['chat.postEphemeral', (c: Chat) => c.postEphemeral('C0COUNT', 'U0A', 'x')],
    ['usergroups.users.list', (c: Chat) => c.userGroupMembers('S0ONCALL')],
  ])('counts one Slack error when %s fails, and rethrows it', async (method, call) => {
    const ts = standIn.seedMessage({ channel: 'C0COUNT', text: 'x' });
    counted.length = 0;
    standIn.failNext(method, 'fatal_error');
    await expect(call(chat, ts)).rejects.toBeInstanceOf(DependencyError);
    expect(counted).toEqual([METRICS.slackErrors]);
  });
});
