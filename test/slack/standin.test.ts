/** The Slack stand-in speaks the Web API like Slack: tokens, JSON and form bodies, state, signatures. */
import { request as httpRequest } from 'node:http';
import { isValidSlackRequest } from '@slack/bolt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SlackStandIn, signSlackRequest } from '../../functions/local/slack-standin/server.js';

const TOKEN = 'xoxb-standin';
const SECRET = 'standin-secret';
let standIn: SlackStandIn;
beforeAll(async () => {
  standIn = await SlackStandIn.start({
    botToken: TOKEN,
    signingSecret: SECRET,
    userGroups: { S0ONCALL: ['U0A'] },
    users: { U0A: { name: 'alice' } },
  });
});
afterAll(async () => {
  await standIn.close();
});

async function call(
  method: string,
  body: Record<string, unknown>,
  as: 'json' | 'form',
  token: string | null = TOKEN,
) {
  const headers: Record<string, string> = {};
  if (token !== null) headers.authorization = `Bearer ${token}`;
  let payload: string;
  if (as === 'json') {
    headers['content-type'] = 'application/json; charset=utf-8';
    payload = JSON.stringify(body);
  } else {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    payload = new URLSearchParams(
      Object.entries(body).map(([k, v]): [string, string] => [
        k,
        typeof v === 'string' ? v : JSON.stringify(v),
      ]),
    ).toString();
  }
  const res = await fetch(`${standIn.apiUrl}${method}`, { method: 'POST', headers, body: payload });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe('Web API', () => {
  it.each(['json', 'form'] as const)(
    'accepts %s bodies, blocks included, and keeps the message',
    async (as) => {
      const blocks = [{ type: 'section', text: { type: 'mrkdwn', text: `hello ${as}` } }];
      const { json } = await call('chat.postMessage', { channel: `C0${as}`, text: 'hi', blocks }, as);
      expect(json).toMatchObject({ ok: true, channel: `C0${as}`, ts: expect.stringMatching(/^\d+\.\d{6}$/) });
      expect(standIn.message(`C0${as}`, json.ts as string)?.blocks).toEqual(blocks);
      expect(standIn.requests.at(-1)).toEqual({
        method: 'chat.postMessage',
        body: { channel: `C0${as}`, text: 'hi', blocks },
      });
    },
  );

  it.each([
    [null, 'not_authed'],
    ['xoxb-other', 'invalid_auth'],
  ])('checks the bearer token (%s → %s)', async (token, error) => {
    const { json } = await call('auth.test', {}, 'json', token);
    expect(json).toEqual({ ok: false, error });
  });

  it('accepts the token as a form field, and never records it', async () => {
    const { json } = await call('auth.test', { token: TOKEN }, 'form', null);
    expect(json.ok).toBe(true);
    expect(JSON.stringify(standIn.requests)).not.toContain(TOKEN);
  });

  it('keeps threads, updates in place and refuses unknown messages', async () => {
    const root = await call('chat.postMessage', { channel: 'C0T', text: 'root' }, 'json');
    const reply = await call(
      'chat.postMessage',
      { channel: 'C0T', text: 'reply', thread_ts: root.json.ts },
      'json',
    );
    await call('chat.update', { channel: 'C0T', ts: root.json.ts, text: 'root v2' }, 'form');
    const thread = await call('conversations.replies', { channel: 'C0T', ts: reply.json.ts }, 'form');
    expect((thread.json.messages as { text: string }[]).map((m) => m.text)).toEqual(['root v2', 'reply']);
    expect(
      (await call('chat.update', { channel: 'C0T', ts: '1.000000', text: 'x' }, 'json')).json.error,
    ).toBe('message_not_found');
    expect(
      (await call('chat.postMessage', { channel: 'C0T', text: 'x', thread_ts: '1.0' }, 'json')).json.error,
    ).toBe('thread_not_found');
  });

  it('refuses to update a message someone else posted', async () => {
    const ts = standIn.seedMessage({ channel: 'C0T', text: 'alert from another integration' });
    expect((await call('chat.update', { channel: 'C0T', ts, text: 'x' }, 'json')).json.error).toBe(
      'cant_update_message',
    );
  });

  it('keeps ephemeral messages per user, out of thread reads', async () => {
    const root = await call('chat.postMessage', { channel: 'C0E', text: 'root' }, 'json');
    await call(
      'chat.postEphemeral',
      { channel: 'C0E', user: 'U0EVE', text: 'only you', thread_ts: root.json.ts },
      'json',
    );
    expect(standIn.messages('C0E').at(-1)).toMatchObject({ ephemeral_for: 'U0EVE', text: 'only you' });
    const thread = await call('conversations.replies', { channel: 'C0E', ts: root.json.ts }, 'json');
    expect(thread.json.messages).toHaveLength(1);
  });

  it('answers usergroups.users.list and users.info, with Slack errors for unknown ids', async () => {
    expect((await call('usergroups.users.list', { usergroup: 'S0ONCALL' }, 'form')).json.users).toEqual([
      'U0A',
    ]);
    expect((await call('usergroups.users.list', { usergroup: 'S0NOPE' }, 'form')).json.error).toBe(
      'no_such_subteam',
    );
    expect((await call('users.info', { user: 'U0A' }, 'form')).json.user).toMatchObject({
      id: 'U0A',
      name: 'alice',
    });
    expect((await call('users.info', { user: 'U0Z' }, 'form')).json.error).toBe('user_not_found');
  });

  it('enforces the Block Kit limits nodemedic relies on', async () => {
    const long = { type: 'section', text: { type: 'mrkdwn', text: 'x'.repeat(3001) } };
    const { json } = await call('chat.postMessage', { channel: 'C0L', blocks: [long] }, 'json');
    expect(json).toMatchObject({ ok: false, error: 'invalid_blocks' });
    expect(json.response_metadata).toEqual({ messages: [expect.stringContaining('3001')] });
    expect((await call('chat.postMessage', { channel: 'C0L' }, 'json')).json.error).toBe('no_text');
  });

  it('answers 429 with Retry-After when told to rate-limit', async () => {
    standIn.failNext('chat.postMessage', 'ratelimited');
    const res = await fetch(`${standIn.apiUrl}chat.postMessage`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ channel: 'C0R', text: 'x' }),
    });
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('1');
  });

  it('answers unknown paths with 404 and serves added routes', async () => {
    expect((await fetch(`${standIn.baseUrl}api/chat.delete`, { method: 'POST' })).status).toBe(404);
    standIn.addRoute('GET', '/page', ({ res }) => {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('page');
    });
    expect(await (await fetch(`${standIn.baseUrl}page`)).text()).toBe('page');
  });
});

describe('requests Slack sends to the app', () => {
  it('signs a click the way Bolt verifies it, with the button payload Slack sends', async () => {
    const posted = await call(
      'chat.postMessage',
      {
        channel: 'C0K',
        text: 'findings',
        blocks: [
          {
            type: 'actions',
            block_id: 'fixes',
            elements: [
              {
                type: 'button',
                action_id: 'nm_fix:restart-containerd',
                value: 'inc-1',
                text: { type: 'plain_text', text: 'Restart' },
              },
            ],
          },
        ],
      },
      'json',
    );
    const request = standIn.clickRequest({
      channel: 'C0K',
      messageTs: posted.json.ts as string,
      actionId: 'nm_fix:restart-containerd',
      user: 'U0A',
    });
    const ts = Number(request.headers['x-slack-request-timestamp']);
    expect(
      isValidSlackRequest({
        signingSecret: SECRET,
        body: request.body,
        headers: {
          'x-slack-signature': request.headers['x-slack-signature']!,
          'x-slack-request-timestamp': ts,
        },
      }),
    ).toBe(true);
    const payload = JSON.parse(new URLSearchParams(request.body).get('payload')!);
    expect(payload).toMatchObject({
      type: 'block_actions',
      user: { id: 'U0A', name: 'alice' },
      channel: { id: 'C0K' },
      message: { ts: posted.json.ts },
      actions: [
        { action_id: 'nm_fix:restart-containerd', value: 'inc-1', block_id: 'fixes', type: 'button' },
      ],
    });
    expect(() =>
      standIn.clickRequest({
        channel: 'C0K',
        messageTs: posted.json.ts as string,
        actionId: 'nm_nope',
        user: 'U0A',
      }),
    ).toThrow(/no button/);
  });

  it('signs an app_mention event and stores the mention in the thread', () => {
    const parent = standIn.seedMessage({ channel: 'C0M', text: 'alert' });
    const request = standIn.mentionRequest({
      channel: 'C0M',
      threadTs: parent,
      text: '<@U0NODEMEDIC> help',
      user: 'U0A',
      timestamp: 1_700_000_000,
    });
    expect(request.headers['x-slack-signature']).toBe(signSlackRequest(SECRET, 1_700_000_000, request.body));
    expect(JSON.parse(request.body)).toMatchObject({
      type: 'event_callback',
      event: { type: 'app_mention', thread_ts: parent, user: 'U0A' },
    });
    expect(standIn.messages('C0M').at(-1)).toMatchObject({ thread_ts: parent, text: '<@U0NODEMEDIC> help' });
  });

  it("computes the v0 signature of Slack's documented example", () => {
    // From Slack's "Verifying requests from Slack" guide.
    const body =
      'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c';
    expect(signSlackRequest('8f742231b10e8888abcd99yyyzzz85a5', 1531420618, body)).toBe(
      'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503',
    );
  });
});

/** A POST with headers fetch would not let a caller set (Host), as a browser or a rebound name sends it. */
function rawPost(
  url: string,
  body: string,
  headers: Record<string, string>,
): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', headers }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => {
        text += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) }));
    });
    req.on('error', reject).end(body);
  });
}

describe('every route behind the Host and Origin guard (issue 11, item 7)', () => {
  /** A findings message with a button, and the response_url a click on it hands to the app. */
  async function clickedMessage(channel: string) {
    const posted = await call(
      'chat.postMessage',
      {
        channel,
        text: 'findings',
        blocks: [
          {
            type: 'actions',
            elements: [{ type: 'button', action_id: 'nm_deny', text: { type: 'plain_text', text: 'Deny' } }],
          },
        ],
      },
      'json',
    );
    const ts = posted.json.ts as string;
    const click = standIn.clickRequest({ channel, messageTs: ts, actionId: 'nm_deny', user: 'U0A' });
    const responseUrl = JSON.parse(new URLSearchParams(click.body).get('payload')!).response_url as string;
    return { ts, responseUrl };
  }
  /** What a page on another site would post: a disguised fix button in place of the findings. */
  const forged = JSON.stringify({
    replace_original: true,
    text: 'fixed',
    blocks: [
      {
        type: 'actions',
        elements: [
          {
            type: 'button',
            action_id: 'nm_fix:reset-state',
            text: { type: 'plain_text', text: 'Acknowledge' },
          },
        ],
      },
    ],
  });

  it('refuses a cross-origin text/plain POST to /response, and the message stays as it was', async () => {
    const { ts, responseUrl } = await clickedMessage('C0G1');
    const before = standIn.requests.length;
    const res = await rawPost(responseUrl, forged, {
      'content-type': 'text/plain',
      origin: 'http://evil.example',
    });
    expect(res).toEqual({
      status: 403,
      json: { ok: false, error: 'cross_origin', message: expect.stringContaining('evil.example') },
    });
    expect(standIn.message('C0G1', ts)?.text).toBe('findings');
    expect(standIn.requests).toHaveLength(before);
  });

  it('applies a response only with the key its click handed out, and only as JSON', async () => {
    const { ts, responseUrl } = await clickedMessage('C0G2');
    const keyless = responseUrl.replace(/&key=[0-9a-f]+/, '');
    expect(keyless).not.toBe(responseUrl);
    const json = { 'content-type': 'application/json' };
    expect((await rawPost(keyless, forged, json)).json).toMatchObject({ error: 'invalid_response_url' });
    expect((await rawPost(`${keyless}&key=${'0'.repeat(32)}`, forged, json)).status).toBe(404);
    expect((await rawPost(responseUrl, forged, { 'content-type': 'text/plain' })).status).toBe(415);
    expect(standIn.message('C0G2', ts)?.text).toBe('findings');

    expect((await rawPost(responseUrl, forged, json)).json).toEqual({ ok: true });
    expect(standIn.message('C0G2', ts)?.text).toBe('fixed');
  });

  it('refuses a cross-origin text/plain POST to the Web API, even with the right token', async () => {
    const before = standIn.messages('C0G3').length;
    const res = await rawPost(
      `${standIn.apiUrl}chat.postMessage`,
      `token=${TOKEN}&channel=C0G3&text=${encodeURIComponent('<!channel> approve here')}`,
      { 'content-type': 'text/plain', origin: 'http://evil.example' },
    );
    expect(res.status).toBe(403);
    expect(res.json).toMatchObject({ ok: false, error: 'cross_origin' });
    expect(standIn.messages('C0G3')).toHaveLength(before);
  });

  it('refuses a request addressed to another host name (DNS rebinding), on every route', async () => {
    for (const path of ['api/auth.test', 'response', 'anything']) {
      const res = await rawPost(`${standIn.baseUrl}${path}`, '{}', {
        'content-type': 'application/json',
        host: 'rebound.example',
        authorization: `Bearer ${TOKEN}`,
      });
      expect(res.status, path).toBe(403);
      expect(res.json, path).toMatchObject({ ok: false, error: 'wrong_host' });
    }
  });

  it('answers its own origin, by 127.0.0.1 or localhost', async () => {
    const port = new URL(standIn.baseUrl).port;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`]) {
      const res = await rawPost(`${standIn.apiUrl}auth.test`, '{}', {
        'content-type': 'application/json',
        host,
        origin: `http://${host}`,
        authorization: `Bearer ${TOKEN}`,
      });
      expect(res.json, host).toMatchObject({ ok: true });
    }
  });
});
