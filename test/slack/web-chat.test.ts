/** WebApiChat against the Slack stand-in: what Slack receives, and Slack errors as DependencyError. */
import { WebClient } from '@slack/web-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebApiChat } from '../../functions/adapters/slack/web-chat.js';
import { DependencyError } from '../../functions/core/errors.js';
import { renderCard } from '../../functions/core/render/slack.js';
import { SlackStandIn } from '../../functions/local/slack-standin/server.js';
import { incident } from './support.js';

const TOKEN = 'xoxb-web-chat';
let standIn: SlackStandIn;
let chat: WebApiChat;
beforeAll(async () => {
  standIn = await SlackStandIn.start({
    botToken: TOKEN,
    signingSecret: 's',
    userGroups: { S0ONCALL: ['U0A', 'U0B'] },
  });
  // rejectRateLimitedCalls: inside Slack's 3 s budget a 429 must fail now, not sleep and retry.
  chat = new WebApiChat(
    new WebClient(TOKEN, {
      slackApiUrl: standIn.apiUrl,
      retryConfig: { retries: 0 },
      rejectRateLimitedCalls: true,
    }),
  );
});
afterAll(async () => {
  await standIn.close();
});

describe('WebApiChat', () => {
  it('posts a rendered message as a thread root and a reply, and updates it in place', async () => {
    const card = await chat.post('C0WEB', renderCard(incident({ phase: 'diagnosing' })));
    const reply = await chat.post('C0WEB', { text: 'findings', blocks: [] }, card.ts);
    await chat.update(card, renderCard(incident({ phase: 'recovered' })));
    expect(standIn.message('C0WEB', card.ts)).toMatchObject({
      text: expect.stringContaining('Recovered'),
      edited: expect.any(String),
    });
    expect(standIn.message('C0WEB', reply.ts)?.thread_ts).toBe(card.ts);
    expect(standIn.requestsOf('chat.postMessage').at(0)?.body).toMatchObject({
      channel: 'C0WEB',
      blocks: expect.any(Array),
    });
  });

  it('posts an ephemeral message for one user in a thread', async () => {
    const root = await chat.post('C0WEB', { text: 'root', blocks: [] });
    await chat.postEphemeral('C0WEB', 'U0EVE', 'refused', root.ts);
    expect(standIn.messages('C0WEB').at(-1)).toMatchObject({
      ephemeral_for: 'U0EVE',
      thread_ts: root.ts,
      text: 'refused',
    });
  });

  it('lists the members of a user group', async () => {
    expect(await chat.userGroupMembers('S0ONCALL')).toEqual(['U0A', 'U0B']);
  });

  it('reads a thread root first', async () => {
    const root = standIn.seedMessage({ channel: 'C0THREAD', text: 'alert i-0abc12345678def01' });
    await chat.post('C0THREAD', { text: 'reply', blocks: [] }, root);
    const thread = await chat.threadMessages('C0THREAD', root);
    expect(thread.map((m) => m.text)).toEqual(['alert i-0abc12345678def01', 'reply']);
  });

  it.each([
    ['ratelimited', 'chat.postMessage', 'SLACK_RATELIMITED', true],
    ['channel_not_found', 'chat.postMessage', 'SLACK_API_ERROR', false],
    ['internal_error', 'chat.postMessage', 'SLACK_API_ERROR', true],
    ['no_such_subteam', 'usergroups.users.list', 'SLACK_API_ERROR', false],
  ])(
    'turns Slack error %s on %s into DependencyError %s (retryable: %s)',
    async (error, method, code, retryable) => {
      standIn.failNext(method, error);
      const call =
        method === 'usergroups.users.list'
          ? chat.userGroupMembers('S0ONCALL')
          : chat.post('C0WEB', { text: 'x', blocks: [] });
      const thrown = await call.then(
        () => null,
        (e: unknown) => e,
      );
      expect(thrown).toBeInstanceOf(DependencyError);
      expect(thrown).toMatchObject({ code, retryable });
      expect((thrown as Error).message).toContain(method);
    },
  );

  it('reports a wrong token as a non-retryable invalid_auth', async () => {
    const wrong = new WebApiChat(
      new WebClient('xoxb-wrong', { slackApiUrl: standIn.apiUrl, retryConfig: { retries: 0 } }),
    );
    await expect(wrong.post('C0WEB', { text: 'x', blocks: [] })).rejects.toMatchObject({
      code: 'SLACK_API_ERROR',
      retryable: false,
      message: expect.stringContaining('invalid_auth'),
    });
  });

  it('reports a message over Slack limits as invalid_blocks', async () => {
    const blocks = Array.from({ length: 51 }, () => ({ type: 'divider' }));
    await expect(chat.post('C0WEB', { text: 'x', blocks })).rejects.toMatchObject({
      message: expect.stringContaining('invalid_blocks'),
    });
  });
});
