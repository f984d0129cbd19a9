/**
 * The rehearsal page on its own (issue 5): its HTTP routes, the game-day console's routes, and how
 * Debian's chromium, driven by playwright-core, renders untrusted Block Kit and asks before a
 * destructive button. The page behind `npm run demo` itself, with a real containerd, is
 * test/e2e/rehearsal.test.ts.
 *
 * Without chromium the browser suite is skipped locally and fails under CI=true.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../functions/core/errors.js';
import { LOCAL_USER_NAMES, LOCAL_USERS } from '../../functions/local/compose.js';
import {
  ConsoleRefusedError,
  type MountedPage,
  mountPage,
  type PageConsole,
  type PageState,
} from '../../functions/local/slack-standin/page.js';
import { SlackStandIn, signSlackRequest } from '../../functions/local/slack-standin/server.js';
import { CHROMIUM, CHROMIUM_ARGS, requireTools } from './chromium.js';

const TOKEN = 'xoxb-page-test';
const SECRET = 'page-test-secret';
const CHANNEL = 'C0PAGE';
const USERS = [LOCAL_USERS.onCall, LOCAL_USERS.onCallSecond, LOCAL_USERS.visitor].map((id) => ({
  id,
  name: LOCAL_USER_NAMES[id]!,
}));

/** A click the way the page's script sends it. */
function postClick(url: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(new URL('_page/click', url), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** A GET with a Host header of our choosing (fetch does not let a caller set one). */
function getWithHost(url: URL, host: string): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers: { host } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(body) }));
    });
    req.on('error', reject).end();
  });
}

/** Post through the stand-in's Web API, as the app does. */
async function api(standIn: SlackStandIn, method: string, body: Record<string, unknown>): Promise<string> {
  const res = await fetch(`${standIn.apiUrl}${method}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as { ok: boolean; ts?: string; message_ts?: string; error?: string };
  if (!json.ok) throw new Error(`${method}: ${json.error}`);
  return (json.ts ?? json.message_ts)!;
}

/** Deliveries the page made, answered like an app that acked. */
function recordingDeliver() {
  const delivered: { headers: Record<string, string>; body: string }[] = [];
  return {
    delivered,
    deliver: async (request: { headers: Record<string, string>; body: string }) => {
      delivered.push(request);
      return { statusCode: 200, body: '' };
    },
  };
}

/** The Block Kit payload inside a delivered interactivity request. */
function payloadOf(request: { body: string }): {
  user: { id: string };
  actions: { action_id: string }[];
  container: { message_ts: string };
} {
  return JSON.parse(new URLSearchParams(request.body).get('payload') ?? '{}');
}

describe('the page over HTTP', () => {
  let standIn: SlackStandIn;
  let page: MountedPage;
  const recorder = recordingDeliver();
  let rootTs: string;
  let buttonsTs: string;

  beforeAll(async () => {
    standIn = await SlackStandIn.start({ botToken: TOKEN, signingSecret: SECRET });
    page = mountPage(standIn, {
      channel: CHANNEL,
      users: USERS,
      deliver: recorder.deliver,
      banner: 'fault X',
    });
    rootTs = await api(standIn, 'chat.postMessage', { channel: CHANNEL, text: 'card' });
    buttonsTs = await api(standIn, 'chat.postMessage', {
      channel: CHANNEL,
      thread_ts: rootTs,
      text: 'findings',
      blocks: [
        {
          type: 'actions',
          elements: [
            {
              type: 'button',
              action_id: 'nm_fix:raise-nofile',
              value: 'inc-1',
              text: { type: 'plain_text', text: 'Fix' },
            },
          ],
        },
      ],
    });
    await api(standIn, 'chat.postEphemeral', {
      channel: CHANNEL,
      user: LOCAL_USERS.visitor,
      thread_ts: rootTs,
      text: 'refused',
    });
  });
  afterAll(async () => {
    await standIn.close();
  });

  async function state(query = ''): Promise<{ status: number; json: PageState & { error?: string } }> {
    const res = await fetch(new URL(`_page/state${query}`, page.url));
    return { status: res.status, json: (await res.json()) as PageState & { error?: string } };
  }

  it('serves the page and its own assets only, under a script-limiting CSP', async () => {
    const res = await fetch(page.url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await res.text();
    expect(html).toContain('data-testid="user-picker"');
    expect(html).not.toMatch(/https?:\/\//);
    for (const asset of ['_page/page-client.js', '_page/page.css']) {
      const r = await fetch(new URL(asset, page.url));
      expect(r.status).toBe(200);
      expect(await r.text()).not.toMatch(
        /https?:\/\/|\.(inner|outer)HTML\s*=|insertAdjacentHTML\(|document\.write\(/,
      );
    }
  });

  it('shows the thread under its root, with ephemerals only for the user it acts as', async () => {
    const asAlice = await state();
    expect(asAlice.json).toMatchObject({ channel: CHANNEL, banner: 'fault X', user: LOCAL_USERS.onCall });
    expect(asAlice.json.messages).toHaveLength(1);
    expect(asAlice.json.messages[0]).toMatchObject({
      ts: rootTs,
      text: 'card',
      bot: true,
      userName: 'nodemedic',
    });
    expect(asAlice.json.messages[0]!.replies.map((r) => r.text)).toEqual(['findings']);

    const asMallory = await state(`?user=${LOCAL_USERS.visitor}`);
    expect(asMallory.json.messages[0]!.replies.map((r) => [r.text, r.ephemeral])).toEqual([
      ['findings', false],
      ['refused', true],
    ]);
  });

  it('shows a new banner once set', async () => {
    page.setBanner('Replaying recorded outputs');
    expect((await state()).json.banner).toBe('Replaying recorded outputs');
    page.setBanner('fault X');
  });

  it('delivers a click as the signed interactivity request Slack would send', async () => {
    const before = recorder.delivered.length;
    const res = await postClick(page.url, {
      messageTs: buttonsTs,
      actionId: 'nm_fix:raise-nofile',
      user: LOCAL_USERS.visitor,
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, statusCode: 200 });
    expect(recorder.delivered).toHaveLength(before + 1);
    const request = recorder.delivered.at(-1)!;
    const ts = Number(request.headers['x-slack-request-timestamp']);
    expect(request.headers['x-slack-signature']).toBe(signSlackRequest(SECRET, ts, request.body));
    expect(payloadOf(request)).toMatchObject({
      user: { id: LOCAL_USERS.visitor },
      actions: [{ action_id: 'nm_fix:raise-nofile' }],
      container: { message_ts: buttonsTs },
    });
  });

  it.each([
    ['an unknown user in the state query', () => state('?user=U0NOBODY'), 400, 'unknown_user'],
    [
      'a form-encoded click',
      () => postClick(page.url, 'payload=x', { 'content-type': 'application/x-www-form-urlencoded' }),
      415,
      'unsupported_media_type',
    ],
    [
      'a click from another origin',
      () => postClick(page.url, {}, { origin: 'http://evil.example' }),
      403,
      'cross_origin',
    ],
    ['a click that is not JSON', () => postClick(page.url, '{not json'), 400, 'invalid_json'],
    [
      'a click without a user',
      () => postClick(page.url, { messageTs: '1.000001', actionId: 'nm_deny' }),
      400,
      'missing_field',
    ],
    [
      'a click with a shell-looking action id',
      () => postClick(page.url, { messageTs: '1.000001', actionId: 'x;rm -rf /', user: LOCAL_USERS.onCall }),
      400,
      'invalid_field',
    ],
    [
      'a click as a user not in the picker',
      () => postClick(page.url, { messageTs: '1.000001', actionId: 'nm_deny', user: 'U0NOBODY' }),
      400,
      'unknown_user',
    ],
    [
      'a click on a message that does not exist',
      () => postClick(page.url, { messageTs: '1.000001', actionId: 'nm_deny', user: LOCAL_USERS.onCall }),
      404,
      'message_not_found',
    ],
    [
      'a click on a button the message does not have',
      () => postClick(page.url, { messageTs: rootTs, actionId: 'nm_deny', user: LOCAL_USERS.onCall }),
      400,
      'no_such_action',
    ],
    [
      'a request addressed to another host name',
      () => getWithHost(new URL('_page/state', page.url), 'rebound.example'),
      403,
      'wrong_host',
    ],
  ] as const)('refuses %s with a named error and delivers nothing', async (_, send, status, error) => {
    const before = recorder.delivered.length;
    const res = await send();
    expect(res.status).toBe(status);
    const json = (res instanceof Response ? await res.json() : res.json) as {
      ok: boolean;
      error: string;
      message: string;
    };
    expect(json).toMatchObject({ ok: false, error });
    expect(json.message.length).toBeGreaterThan(0);
    expect(recorder.delivered).toHaveLength(before);
  });

  it('answers 502 with the reason when the app does not answer at all', async () => {
    const standIn2 = await SlackStandIn.start({ botToken: TOKEN, signingSecret: SECRET });
    try {
      const page2 = mountPage(standIn2, {
        channel: CHANNEL,
        users: USERS,
        deliver: () => Promise.reject(new Error('Bolt app crashed')),
      });
      const ts = await api(standIn2, 'chat.postMessage', {
        channel: CHANNEL,
        text: 'x',
        blocks: [
          {
            type: 'actions',
            elements: [{ type: 'button', action_id: 'nm_deny', text: { type: 'plain_text', text: 'Deny' } }],
          },
        ],
      });
      const res = await postClick(page2.url, {
        messageTs: ts,
        actionId: 'nm_deny',
        user: LOCAL_USERS.onCall,
      });
      expect(res.status).toBe(502);
      expect(await res.json()).toMatchObject({
        ok: false,
        error: 'deliver_failed',
        message: expect.stringContaining('Bolt app crashed'),
      });
    } finally {
      await standIn2.close();
    }
  });

  it.each([
    ['no channel', { channel: '', users: USERS }, /channel/],
    ['no user to act as', { channel: CHANNEL, users: [] }, /at least one user/],
    [
      'a user id that is not a Slack id',
      { channel: CHANNEL, users: [{ id: 'alice', name: 'alice' }] },
      /not a Slack user id/,
    ],
    ['a user listed twice', { channel: CHANNEL, users: [USERS[0]!, USERS[0]!] }, /listed twice/],
  ])('refuses to mount with %s', (_, options, message) => {
    expect(() => mountPage(standIn, { ...options, deliver: recorder.deliver })).toThrow(InvalidInputError);
    expect(() => mountPage(standIn, { ...options, deliver: recorder.deliver })).toThrow(message);
  });
});

describe('the game-day console over HTTP', () => {
  let standIn: SlackStandIn;
  let url: string;
  const calls: string[] = [];
  let injectBlocked: string | null = null;
  /** A console that records what the page asked for; the real one is driven in rehearsal.test.ts. */
  const console: PageConsole = {
    faults: [
      { id: 'daemon-stopped', description: 'containerd stopped' },
      { id: 'grpc-limits', description: 'tiny gRPC limits' },
    ],
    status: () => ({ note: 'idle', fault: null, injectBlocked, resetBlocked: null }),
    inject: async (fault) => {
      if (injectBlocked) throw new ConsoleRefusedError(`cannot inject ${fault} now: ${injectBlocked}`);
      calls.push(`inject ${fault}`);
      return `injected ${fault}`;
    },
    reset: async () => {
      calls.push('reset');
      return 'node reset';
    },
  };
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(new URL(path, url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  beforeAll(async () => {
    standIn = await SlackStandIn.start({ botToken: TOKEN, signingSecret: SECRET });
    ({ url } = mountPage(standIn, {
      channel: CHANNEL,
      users: USERS,
      deliver: recordingDeliver().deliver,
      console,
    }));
  });
  afterAll(async () => {
    await standIn.close();
  });

  it('puts the faults and the console status into the page state', async () => {
    const state = (await (await fetch(new URL('_page/state', url))).json()) as PageState;
    expect(state.console).toEqual({
      faults: console.faults,
      status: { note: 'idle', fault: null, injectBlocked: null, resetBlocked: null },
    });
  });

  it('injects a listed fault and resets the node, answering what was done', async () => {
    const injected = await post('_page/console/inject', { fault: 'grpc-limits' });
    expect(injected.status).toBe(200);
    expect(await injected.json()).toEqual({ ok: true, message: 'injected grpc-limits' });
    const reset = await post('_page/console/reset', {});
    expect(await reset.json()).toEqual({ ok: true, message: 'node reset' });
    expect(calls.splice(0)).toEqual(['inject grpc-limits', 'reset']);
  });

  it.each([
    [
      'a fault that is not listed',
      () => post('_page/console/inject', { fault: 'rm -rf /' }),
      400,
      'unknown_fault',
    ],
    ['an inject without a fault', () => post('_page/console/inject', {}), 400, 'unknown_fault'],
    [
      'a cross-site text/plain inject',
      () =>
        post('_page/console/inject', '{"fault":"daemon-stopped"}', {
          'content-type': 'text/plain',
          origin: 'http://evil.example',
        }),
      403,
      'cross_origin',
    ],
    [
      'a same-origin text/plain reset',
      () => post('_page/console/reset', '{}', { 'content-type': 'text/plain' }),
      415,
      'unsupported_media_type',
    ],
  ] as const)('refuses %s with a named error and does nothing', async (_, send, status, error) => {
    const res = await send();
    expect(res.status).toBe(status);
    expect(await res.json()).toMatchObject({ ok: false, error, message: expect.any(String) });
    expect(calls).toEqual([]);
  });

  it('answers 409 with the reason when the console cannot act now', async () => {
    injectBlocked = 'an incident is open (awaiting-approval)';
    try {
      const res = await post('_page/console/inject', { fault: 'daemon-stopped' });
      expect(res.status).toBe(409);
      expect(await res.json()).toMatchObject({
        ok: false,
        error: 'console_busy',
        message: expect.stringContaining('an incident is open'),
      });
      expect(calls).toEqual([]);
    } finally {
      injectBlocked = null;
    }
  });
});

describe.skipIf(!requireTools(false))('the page in chromium', () => {
  let context: BrowserContext;
  let profile: string;

  beforeAll(async () => {
    profile = await mkdtemp(join(tmpdir(), 'nodemedic-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 900 },
    });
  });
  afterAll(async () => {
    await context?.close();
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  describe('rendering what a node wrote', () => {
    let standIn: SlackStandIn;
    let tab: Page;
    const recorder = recordingDeliver();

    beforeAll(async () => {
      standIn = await SlackStandIn.start({ botToken: TOKEN, signingSecret: SECRET });
      const mounted = mountPage(standIn, {
        channel: CHANNEL,
        users: USERS,
        deliver: recorder.deliver,
        groups: [{ id: 'S0ONCALL', name: 'oncall' }],
        banner: '<b>banner</b> stays text',
      });
      const root = await api(standIn, 'chat.postMessage', {
        channel: CHANNEL,
        text: 'card',
        blocks: [
          { type: 'header', text: { type: 'plain_text', text: '<script>window.__pwned = 1</script>' } },
        ],
      });
      await api(standIn, 'chat.postMessage', {
        channel: CHANNEL,
        thread_ts: root,
        text: 'findings',
        blocks: [
          {
            type: 'section',
            text: {
              type: 'mrkdwn',
              text: [
                ':red_circle: *bold words* _slanted_ `ctr version` ~gone~ by <@U0ALICE> for <!subteam^S0ONCALL>',
                'a <https://example.com/runbook|runbook link>, a <javascript:window.__pwned=1|js link> and snake_case_stays',
                '<img src=x onerror="window.__pwned=1"> &lt;img src=x onerror=window.__pwned=1&gt;',
                '> quoted &lt;b&gt;log&lt;/b&gt; line',
              ].join('\n'),
            },
            fields: [{ type: 'mrkdwn', text: '*Node*\ni-0abc' }],
          },
          { type: 'divider' },
          {
            type: 'actions',
            elements: [
              {
                type: 'button',
                action_id: 'nm_fix:restart-containerd',
                value: 'i',
                style: 'primary',
                text: { type: 'plain_text', text: 'Restart' },
              },
              {
                type: 'button',
                action_id: 'nm_fix:reset-state',
                value: 'i',
                style: 'danger',
                text: { type: 'plain_text', text: 'Reset state' },
                confirm: {
                  title: { type: 'plain_text', text: 'Reset containerd state?' },
                  text: { type: 'mrkdwn', text: '*Destructive.* Moves <b>the root dir</b> aside.' },
                  confirm: { type: 'plain_text', text: 'Approve' },
                  deny: { type: 'plain_text', text: 'Cancel' },
                  style: 'danger',
                },
              },
            ],
          },
        ],
      });
      tab = await context.newPage();
      await tab.goto(mounted.url);
      await tab.getByTestId('findings').waitFor();
    });
    afterAll(async () => {
      await tab?.close();
      await standIn?.close();
    });

    it('shows untrusted text as text: no markup from a message becomes an element or runs', async () => {
      const findings = tab.getByTestId('findings');
      expect(await tab.evaluate('window.__pwned')).toBeUndefined();
      expect(await tab.locator('[data-testid="messages"] img, [data-testid="messages"] script').count()).toBe(
        0,
      );
      expect(await tab.getByTestId('phase').textContent()).toBe('<script>window.__pwned = 1</script>');
      expect(await tab.getByTestId('banner').textContent()).toBe('<b>banner</b> stays text');
      const shown = await text(findings);
      expect(shown).toContain('<img src=x onerror="window.__pwned=1">');
      expect(shown).toContain('<img src=x onerror=window.__pwned=1>');
      expect(await text(findings.locator('blockquote'))).toBe('quoted <b>log</b> line');
    });

    it('renders mrkdwn: bold, italic, code, strike, mentions by name, safe links only', async () => {
      const findings = tab.getByTestId('findings');
      expect(await text(findings.locator('b').first())).toBe('bold words');
      expect(await text(findings.locator('i'))).toBe('slanted');
      expect(await text(findings.locator('code'))).toBe('ctr version');
      expect(await text(findings.locator('s'))).toBe('gone');
      expect(await findings.locator('.mention').allInnerTexts()).toEqual(['@alice (on call)', '@oncall']);
      expect(await findings.locator('a').count()).toBe(1);
      expect(await findings.locator('a').getAttribute('href')).toBe('https://example.com/runbook');
      expect(await text(findings)).toContain('snake_case_stays');
      expect(await text(findings)).toContain('<javascript:window.__pwned=1|js link>');
      expect(await text(findings.locator('.fields b'))).toBe('Node');
    });

    it('styles buttons and asks before a button with a confirm: Cancel sends nothing, Approve sends it', async () => {
      expect(await tab.getByTestId('action-nm_fix:restart-containerd').getAttribute('class')).toContain(
        'primary',
      );
      expect(await tab.getByTestId('action-nm_fix:reset-state').getAttribute('class')).toContain('danger');
      const before = recorder.delivered.length;

      await tab.getByTestId('action-nm_fix:reset-state').click();
      const dialog = tab.getByTestId('confirm-dialog');
      await dialog.waitFor();
      expect(await text(dialog.locator('h2'))).toBe('Reset containerd state?');
      expect(await text(dialog)).toContain('Destructive. Moves <b>the root dir</b> aside.');
      expect(await text(tab.getByTestId('confirm-ok'))).toBe('Approve');
      await tab.getByTestId('confirm-cancel').click();
      await dialog.waitFor({ state: 'hidden' });
      expect(recorder.delivered).toHaveLength(before);

      await tab.getByTestId('user-picker').selectOption(LOCAL_USERS.onCallSecond);
      await tab.getByTestId('action-nm_fix:reset-state').click();
      await tab.getByTestId('confirm-ok').click();
      await tab.getByTestId('toast').getByText('as bob (on call)').waitFor();
      expect(recorder.delivered).toHaveLength(before + 1);
      expect(payloadOf(recorder.delivered.at(-1)!)).toMatchObject({
        user: { id: LOCAL_USERS.onCallSecond },
        actions: [{ action_id: 'nm_fix:reset-state' }],
      });
    });
  });
});

/** What a person sees in an element: rendered text, line breaks included, hidden parts left out. */
function text(locator: Locator): Promise<string> {
  // biome-ignore lint/performance/useDomNodeTextContent: a Playwright locator, and the rendered text is the point
  return locator.innerText();
}
