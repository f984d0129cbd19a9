/** WebApiChat against the Slack stand-in: what Slack receives, and Slack errors as DependencyError. */
import { WebClient } from '@slack/web-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebApiChat } from '../../functions/adapters/slack/web-chat.js';
import { DependencyError, InvalidInputError } from '../../functions/core/errors.js';
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
    const blocks = Array.from({ length: 51 }, () => ({ type: 'divider' as const }));
    await expect(chat.post('C0WEB', { text: 'x', blocks })).rejects.toMatchObject({
      message: expect.stringContaining('invalid_blocks'),
    });
  });
});

/**
 * The thread read, `Chat.replies`, against the stand-in's `conversations.replies`. The shape both
 * follow is Slack's documented one (docs.slack.dev/reference/methods/conversations.replies):
 * arguments `channel`, `ts` (a thread's parent or any message in it), `limit`, `cursor`; the answer
 * `{ ok, messages: [parent, ...replies], has_more, response_metadata: { next_cursor } }`, oldest
 * first, the parent carrying `thread_ts` and `reply_count`, `next_cursor` empty on the last page;
 * `thread_not_found` for an unknown ts. A message without replies is answered alone.
 */
describe('WebApiChat.replies (conversations.replies)', () => {
  /** A thread of `replies` replies under a fresh alert in `channel`; the parent's ts. */
  async function thread(channel: string, replies: number): Promise<string> {
    const parent = standIn.seedMessage({ channel, text: 'alert i-0abc12345678def01', botId: 'B0ALERTS' });
    for (let i = 1; i <= replies; i += 1) {
      standIn.seedMessage({ channel, text: `reply ${i}`, user: 'U0A', threadTs: parent });
    }
    return parent;
  }

  it('reads the parent first, then the replies oldest first, with their authors', async () => {
    const parent = await thread('C0THREAD1', 2);
    await chat.post('C0THREAD1', { text: 'bot reply', blocks: [] }, parent);
    const messages = await chat.replies({ channel: 'C0THREAD1', ts: parent });
    expect(messages).toEqual([
      {
        ts: parent,
        threadTs: parent,
        text: 'alert i-0abc12345678def01',
        user: 'U0ALERTBOT',
        botId: 'B0ALERTS',
      },
      { ts: expect.any(String), threadTs: parent, text: 'reply 1', user: 'U0A' },
      { ts: expect.any(String), threadTs: parent, text: 'reply 2', user: 'U0A' },
      {
        ts: expect.any(String),
        threadTs: parent,
        text: 'bot reply',
        user: 'U0NODEMEDIC',
        botId: 'B0NODEMEDIC',
      },
    ]);
    expect(standIn.requestsOf('conversations.replies').at(-1)?.body).toMatchObject({
      channel: 'C0THREAD1',
      ts: parent,
      limit: '15', // form-encoded, as WebClient sends it
    });
  });

  it('answers a message without replies as a thread of one, and the same thread from any of its messages', async () => {
    const lone = standIn.seedMessage({ channel: 'C0THREAD2', text: 'just an alert' });
    expect((await chat.replies({ channel: 'C0THREAD2', ts: lone })).map((m) => m.text)).toEqual([
      'just an alert',
    ]);
    const parent = await thread('C0THREAD2', 2);
    const reply = standIn.messages('C0THREAD2').at(-1)!.ts;
    const fromReply = await chat.replies({ channel: 'C0THREAD2', ts: reply });
    expect(fromReply.map((m) => m.ts)).toEqual(
      (await chat.replies({ channel: 'C0THREAD2', ts: parent })).map((m) => m.ts),
    );
  });

  it('stops at the limit in one request', async () => {
    const parent = await thread('C0THREAD3', 20);
    const before = standIn.requestsOf('conversations.replies').length;
    const messages = await chat.replies({ channel: 'C0THREAD3', ts: parent }, { limit: 1 });
    expect(messages.map((m) => m.ts)).toEqual([parent]);
    expect(
      standIn
        .requestsOf('conversations.replies')
        .slice(before)
        .map((r) => r.body.limit),
    ).toEqual(['1']);
  });

  it('follows next_cursor across pages of 15 (apps outside the Marketplace) up to the limit', async () => {
    const small = await SlackStandIn.start({ botToken: TOKEN, signingSecret: 's', repliesPageSize: 15 });
    try {
      const paged = new WebApiChat(
        new WebClient(TOKEN, { slackApiUrl: small.apiUrl, retryConfig: { retries: 0 } }),
      );
      const parent = small.seedMessage({ channel: 'C0LONG', text: 'alert' });
      for (let i = 1; i <= 39; i += 1)
        small.seedMessage({ channel: 'C0LONG', text: `r${i}`, threadTs: parent });
      const all = await paged.replies({ channel: 'C0LONG', ts: parent }, { limit: 1000 });
      expect(all.map((m) => m.text)).toEqual(['alert', ...Array.from({ length: 39 }, (_, i) => `r${i + 1}`)]);
      const calls = small.requestsOf('conversations.replies').map((r) => r.body);
      expect(calls).toHaveLength(3); // 15 + 15 + 10
      expect(calls[0]).not.toHaveProperty('cursor');
      expect(calls[1]?.cursor).toEqual(expect.any(String));
      // Fewer than a page left to read: the last request asks only for what is missing.
      const some = await paged.replies({ channel: 'C0LONG', ts: parent }, { limit: 20 });
      expect(some.map((m) => m.text)).toEqual([
        'alert',
        ...Array.from({ length: 19 }, (_, i) => `r${i + 1}`),
      ]);
      expect(
        small
          .requestsOf('conversations.replies')
          .slice(3)
          .map((r) => r.body.limit),
      ).toEqual(['20', '5']);
    } finally {
      await small.close();
    }
  });

  it("keeps another integration's blocks and attachments, and drops what is not a block", async () => {
    const parent = standIn.seedMessage({
      channel: 'C0THREAD4',
      text: '',
      blocks: [
        { type: 'section', text: { type: 'mrkdwn', text: 'NotReady: i-0abc12345678def01' } },
        { text: 'no type: not a block' },
      ],
      attachments: [{ color: 'danger', text: 'InstanceId=i-0abc12345678def01' }],
    });
    const [root] = await chat.replies({ channel: 'C0THREAD4', ts: parent });
    expect(root?.blocks).toEqual([
      { type: 'section', text: { type: 'mrkdwn', text: 'NotReady: i-0abc12345678def01' } },
    ]);
    expect(root?.attachments).toEqual([{ color: 'danger', text: 'InstanceId=i-0abc12345678def01' }]);
  });

  it.each([
    ['thread_not_found', false],
    ['ratelimited', true],
  ])('turns Slack error %s into a DependencyError (retryable: %s)', async (error, retryable) => {
    const ts =
      error === 'thread_not_found'
        ? '1700000000.999999'
        : standIn.seedMessage({ channel: 'C0THREAD5', text: 'x' });
    if (error !== 'thread_not_found') standIn.failNext('conversations.replies', error);
    await expect(chat.replies({ channel: 'C0THREAD5', ts })).rejects.toMatchObject({
      name: DependencyError.name,
      retryable,
      message: expect.stringMatching(/^Slack conversations\.replies /),
      code: error === 'ratelimited' ? 'SLACK_RATELIMITED' : 'SLACK_API_ERROR',
    });
  });

  it.each([0, 1001, 2.5])('refuses a limit of %s before any request', async (limit) => {
    const before = standIn.requestsOf('conversations.replies').length;
    await expect(
      chat.replies({ channel: 'C0THREAD6', ts: '1700000000.000001' }, { limit }),
    ).rejects.toBeInstanceOf(InvalidInputError);
    expect(standIn.requestsOf('conversations.replies').length).toBe(before);
  });
});
