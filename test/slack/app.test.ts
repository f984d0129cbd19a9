/**
 * The real Bolt app (createSlackApp) receiving real signed Function URL events, built by the
 * Slack stand-in the way Slack builds them; its Web API calls go to the stand-in. Only Step
 * Functions is a recording double (it cannot run here).
 */
import { WebClient } from '@slack/web-api';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MemoryIncidentStore } from '../../functions/adapters/local/memory-store.js';
import { WebApiChat } from '../../functions/adapters/slack/web-chat.js';
import type { AppDeps } from '../../functions/app/deps.js';
import type { Incident } from '../../functions/core/incident.js';
import type { RemediationId } from '../../functions/core/model.js';
import { DEFAULT_SAFETY_POLICY } from '../../functions/core/policy.js';
import type { Chat } from '../../functions/core/ports.js';
import { renderCard, renderFindings } from '../../functions/core/render/slack.js';
import { SlackStandIn, type SlackStandIn as StandIn } from '../../functions/local/slack-standin/server.js';
import { createSlackApp, type DiagnosisRequest, type SlackAppConfig } from '../../functions/slack/app.js';
import {
  fixAction,
  functionUrlEvent,
  incident,
  notWired,
  RecordingLogger,
  RecordingWorkflow,
  resignedClick,
} from './support.js';

const BOT_TOKEN = 'xoxb-test-token';
const SIGNING_SECRET = 'test-signing-secret';
const ONCALL = 'S0ONCALL';
const [ALICE, BOB, CAROL] = ['U0ALICE', 'U0BOB', 'U0CAROL'];
const DAVE = 'U0DAVE'; // allow-listed, not in the group
const EVE = 'U0EVE'; // nobody
/** Web API calls after `index`, without the who-am-I each new app asks once. */
const callsSince = (index: number) =>
  standIn.requests
    .slice(index)
    .map((r) => r.method)
    .filter((m) => m !== 'auth.test');
/** A second channel where mentions act, besides each test's own. */
const OTHER_ALLOWED = 'C0OPS';

let standIn: StandIn;
beforeAll(async () => {
  standIn = await SlackStandIn.start({
    botToken: BOT_TOKEN,
    signingSecret: SIGNING_SECRET,
    userGroups: { [ONCALL]: [ALICE, BOB, CAROL] },
  });
});
afterAll(async () => {
  await standIn.close();
});

let channel: string;
let store: MemoryIncidentStore;
let workflow: RecordingWorkflow;
let logger: RecordingLogger;
let diagnoses: DiagnosisRequest[];
let app: ReturnType<typeof createSlackApp>;
let chat: WebApiChat;
let seq = 0;

beforeEach(() => {
  seq += 1;
  channel = `C0TEST${seq}`;
  store = new MemoryIncidentStore();
  workflow = new RecordingWorkflow();
  logger = new RecordingLogger();
  diagnoses = [];
  chat = new WebApiChat(
    new WebClient(BOT_TOKEN, { slackApiUrl: standIn.apiUrl, retryConfig: { retries: 0 } }),
  );
  app = build();
});

/**
 * The real Bolt app over this test's store, workflow and stand-in; `over` changes its deps or its
 * configuration. Mentions' diagnosis requests are recorded, not served.
 */
function build(
  over: { deps?: Partial<AppDeps>; config?: Partial<SlackAppConfig> } = {},
): ReturnType<typeof createSlackApp> {
  return createSlackApp(
    {
      store,
      runner: notWired('runner'),
      inventory: notWired('inventory'),
      chat,
      workflow,
      policy: DEFAULT_SAFETY_POLICY,
      analyzeOptions: {},
      channel,
      onCallUserGroupId: ONCALL,
      onCallAllowList: [DAVE],
      scriptParameters: {},
      clock: () => new Date(),
      logger,
      ...over.deps,
    },
    {
      signingSecret: SIGNING_SECRET,
      botToken: BOT_TOKEN,
      clientOptions: { slackApiUrl: standIn.apiUrl, retryConfig: { retries: 0 } },
      mentionChannels: [channel, OTHER_ALLOWED],
      startDiagnosis: async (req) => {
        diagnoses.push(req);
        return { incidentId: `inc-${diagnoses.length}`, created: true };
      },
      ...over.config,
    },
  );
}

/** Open an incident awaiting approval, with its card and findings message posted in the stand-in. */
async function awaitingApproval(offered: RemediationId[], over: Partial<Incident> = {}): Promise<Incident> {
  const base = incident({ offered, phase: 'awaiting-approval', taskToken: 'task-token-1', ...over });
  const { version: _v, ...init } = base;
  await store.open(init);
  const card = await chat.post(channel, renderCard(base));
  const report = { healthy: false, findings: base.findings, notes: [], facts: {} };
  const findingsMessage = await chat.post(
    channel,
    renderFindings(report, { incident: base, offered, manual: [], held: null }),
    card.ts,
  );
  return store.update(base.id, (current) => ({ ...current, card, thread: card, findingsMessage }));
}

async function send(
  request: { headers: Record<string, string>; body: string },
  options: { base64?: boolean; headers?: Record<string, string> } = {},
) {
  return app.handler(functionUrlEvent(request, options), {});
}

function click(inc: Incident, actionId: string, user: string, timestamp?: number) {
  return standIn.clickRequest({
    channel,
    messageTs: inc.findingsMessage!.ts,
    actionId,
    user,
    ...(timestamp ? { timestamp } : {}),
  });
}

const ephemeralsFor = (user: string) => standIn.messages(channel).filter((m) => m.ephemeral_for === user);
const buttonsLeft = (inc: Incident) =>
  (standIn.message(channel, inc.findingsMessage!.ts)?.blocks ?? []).filter((b) => b.type === 'actions');

describe('signature checks', () => {
  it('acts on a correctly signed click: 200, resumed once, buttons become who approved', async () => {
    const inc = await awaitingApproval(['restart-containerd']);
    const res = await send(click(inc, fixAction('restart-containerd'), ALICE));
    expect(res.statusCode).toBe(200);
    expect(workflow.resumed).toEqual([
      {
        taskToken: 'task-token-1',
        output: { decision: 'approve', remediation: 'restart-containerd', by: [ALICE] },
      },
    ]);
    const after = await store.get(inc.id);
    expect(after).toMatchObject({
      phase: 'fixing',
      taskToken: null,
      requested: { remediation: 'restart-containerd', by: ALICE },
    });
    expect(after?.audit.at(-1)).toMatchObject({ action: 'approved', actor: ALICE });
    expect(buttonsLeft(inc)).toEqual([]);
    expect(standIn.message(channel, inc.findingsMessage!.ts)?.text).toContain('Approved');
    expect(standIn.message(channel, inc.card!.ts)?.text).toContain('Fixing');
  });

  it('refuses a forged signature with 401 and does nothing', async () => {
    const inc = await awaitingApproval(['restart-containerd']);
    const request = click(inc, fixAction('restart-containerd'), ALICE);
    const before = standIn.requests.length;
    const res = await send({
      ...request,
      headers: { ...request.headers, 'x-slack-signature': `v0=${'0'.repeat(64)}` },
    });
    expect(res.statusCode).toBe(401);
    expect(workflow.resumed).toEqual([]);
    expect(standIn.requests.length).toBe(before);
    expect(logger.lines.some((l) => l.level === 'warn' && /invalid or stale signature/.test(l.message))).toBe(
      true,
    );
  });

  it('refuses a body signed with another secret with 401', async () => {
    const inc = await awaitingApproval(['restart-containerd']);
    const request = click(inc, fixAction('restart-containerd'), ALICE);
    const tampered = { ...request, body: request.body.replace(ALICE, EVE) };
    expect((await send(tampered)).statusCode).toBe(401);
    expect(workflow.resumed).toEqual([]);
  });

  it('refuses a correctly signed request older than 5 minutes with 401', async () => {
    const inc = await awaitingApproval(['restart-containerd']);
    const stale = Math.floor(Date.now() / 1000) - 301;
    const res = await send(click(inc, fixAction('restart-containerd'), ALICE, stale));
    expect(res.statusCode).toBe(401);
    expect(workflow.resumed).toEqual([]);
  });

  it.each([
    ['5 minutes and 1 second', 301],
    ['a year', 365 * 86_400],
  ])('refuses a correctly signed request dated %s ahead with 401, logged, nothing done', async (_, ahead) => {
    const inc = await awaitingApproval(['restart-containerd']);
    const future = Math.floor(Date.now() / 1000) + ahead;
    const before = standIn.requests.length;
    const res = await send(click(inc, fixAction('restart-containerd'), ALICE, future));
    expect(res.statusCode).toBe(401);
    expect(workflow.resumed).toEqual([]);
    expect(standIn.requests.length).toBe(before);
    expect((await store.get(inc.id))?.audit.map((a) => a.action)).toEqual(['opened']);
    expect(logger.lines).toContainEqual({
      level: 'warn',
      message: 'refused a Slack request whose timestamp is missing or more than 5 minutes away',
      extra: {
        claimedTimestamp: future,
        skewSeconds: expect.toSatisfy((s: number) => Math.abs(s - ahead) <= 2),
      },
    });
  });

  it('acts on a request dated a little ahead (a sender clock up to 5 minutes fast)', async () => {
    const inc = await awaitingApproval(['restart-containerd']);
    const ahead = Math.floor(Date.now() / 1000) + 240;
    expect((await send(click(inc, fixAction('restart-containerd'), ALICE, ahead))).statusCode).toBe(200);
    expect(workflow.resumed).toHaveLength(1);
  });

  it.each([
    ['missing', undefined],
    ['not a number', '17e8'],
  ])('refuses a request whose timestamp is %s with 401', async (_, value) => {
    const inc = await awaitingApproval(['restart-containerd']);
    const { 'x-slack-request-timestamp': _ts, ...headers } = click(
      inc,
      fixAction('restart-containerd'),
      ALICE,
    ).headers;
    const request = click(inc, fixAction('restart-containerd'), ALICE);
    const res = await send({
      body: request.body,
      headers: value === undefined ? headers : { ...headers, 'x-slack-request-timestamp': value },
    });
    expect(res.statusCode).toBe(401);
    expect(workflow.resumed).toEqual([]);
  });

  it('answers 400, not a crash, to a signed body that is not JSON', async () => {
    const ts = Math.floor(Date.now() / 1000);
    const { signSlackRequest } = await import('../../functions/local/slack-standin/server.js');
    const body = 'this is { not json';
    const res = await send({
      headers: {
        'content-type': 'application/json',
        'x-slack-request-timestamp': String(ts),
        'x-slack-signature': signSlackRequest(SIGNING_SECRET, ts, body),
      },
      body,
    });
    expect(res.statusCode).toBe(400);
  });
});

describe('configuration', () => {
  it.each([[[]], [['#alerts']], [['C0OK', '<!channel>']]])(
    'refuses mention channels %j at build time, naming them',
    (mentionChannels) => {
      expect(() => build({ config: { mentionChannels } })).toThrow(
        /^mentionChannels must hold at least one Slack channel id/,
      );
    },
  );
});

describe('cost per request', () => {
  it('asks Slack who the bot is once per container, not on every request', async () => {
    const before = standIn.requestsOf('auth.test').length;
    const inc = await awaitingApproval(['reset-state']);
    for (const user of [ALICE, BOB, CAROL]) await send(click(inc, fixAction('reset-state'), user));
    expect(workflow.resumed).toHaveLength(1);
    expect(standIn.requestsOf('auth.test').length - before).toBe(1);
  });
});

describe('content types and encodings (AwsLambdaReceiver gotchas)', () => {
  it('acts on `application/x-www-form-urlencoded; charset=utf-8`', async () => {
    const inc = await awaitingApproval(['restart-containerd']);
    const request = click(inc, fixAction('restart-containerd'), ALICE);
    const res = await send(request, {
      headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
    });
    expect(res.statusCode).toBe(200);
    expect(workflow.resumed).toHaveLength(1);
  });

  it('shows why: the bare receiver cannot parse that Content-Type', async () => {
    const inc = await awaitingApproval(['restart-containerd']);
    const request = click(inc, fixAction('restart-containerd'), ALICE);
    const bare = await app.receiver.start();
    const event = functionUrlEvent(request, {
      headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
    });
    await expect(bare(event as never, {})).rejects.toThrow();
    expect(workflow.resumed).toEqual([]);
  });

  it('acts on a base64 body holding non-ASCII text (decoded as UTF-8)', async () => {
    const inc = await awaitingApproval(['restart-containerd']);
    const request = click(inc, fixAction('restart-containerd'), ALICE);
    expect(/[\u0080-\uffff]/.test(decodeURIComponent(request.body))).toBe(true); // "—" in the findings
    const res = await send(request, { base64: true });
    expect(res.statusCode).toBe(200);
    expect(workflow.resumed).toHaveLength(1);
  });

  it('acts on a base64 JSON event with non-ASCII text', async () => {
    const parent = standIn.seedMessage({ channel, text: 'NotReady — i-0abc12345678def01 in prod' });
    const res = await send(
      standIn.mentionRequest({ channel, threadTs: parent, text: '<@U0NODEMEDIC> diagnose ✓', user: ALICE }),
      { base64: true },
    );
    expect(res.statusCode).toBe(200);
    // "✓" is not a node name: the answer says so in the thread, nothing is started.
    expect(diagnoses).toEqual([]);
    expect(standIn.messages(channel).at(-1)?.text).toContain('neither an instance id');
  });
});

describe('replays and retries', () => {
  it('acts once when the same signed click arrives twice', async () => {
    const inc = await awaitingApproval(['restart-containerd']);
    const request = click(inc, fixAction('restart-containerd'), ALICE);
    expect((await send(request)).statusCode).toBe(200);
    expect((await send(request)).statusCode).toBe(200);
    expect(workflow.resumed).toHaveLength(1);
    expect((await store.get(inc.id))?.audit.filter((a) => a.action === 'approved')).toHaveLength(1);
  });

  it('acts once, and answers nothing more, on a Slack retry (x-slack-retry-num)', async () => {
    const inc = await awaitingApproval(['restart-containerd']);
    const request = click(inc, fixAction('restart-containerd'), ALICE);
    await send(request);
    const before = standIn.requests.length;
    const res = await send(request, {
      headers: { 'x-slack-retry-num': '1', 'x-slack-retry-reason': 'http_timeout' },
    });
    expect(res.statusCode).toBe(200);
    expect(workflow.resumed).toHaveLength(1);
    expect(standIn.requests.slice(before).map((r) => r.method)).toEqual([]);
  });

  it('resumes once when two on-call engineers click at the same time', async () => {
    const inc = await awaitingApproval(['raise-nofile']);
    const results = await Promise.all([
      send(click(inc, fixAction('raise-nofile'), ALICE)),
      send(click(inc, fixAction('raise-nofile'), BOB)),
    ]);
    expect(results.map((r) => r.statusCode)).toEqual([200, 200]);
    expect(workflow.resumed).toHaveLength(1);
    const winner = (workflow.resumed[0]!.output.by as string[])[0];
    const loser = winner === ALICE ? BOB : ALICE;
    expect(ephemeralsFor(loser).at(-1)?.text).toMatch(/^Already handled: approved by <@U0(ALICE|BOB)> at /);
  });
});

describe('authorization', () => {
  it('refuses an unauthorized user privately, logs and audits it, resumes nothing', async () => {
    const inc = await awaitingApproval(['restart-containerd']);
    const res = await send(click(inc, fixAction('restart-containerd'), EVE));
    expect(res.statusCode).toBe(200);
    expect(workflow.resumed).toEqual([]);
    expect(ephemeralsFor(EVE).at(-1)?.text).toMatch(/refused and logged/);
    expect(standIn.requestsOf('chat.postEphemeral').at(-1)?.body).toMatchObject({ channel, user: EVE });
    const after = await store.get(inc.id);
    expect(after?.phase).toBe('awaiting-approval');
    expect(after?.taskToken).toBe('task-token-1');
    expect(after?.audit.at(-1)).toMatchObject({ action: 'refused', actor: EVE });
    expect(logger.lines).toContainEqual(
      expect.objectContaining({ level: 'warn', message: 'unauthorized click refused' }),
    );
    expect(buttonsLeft(inc)).toHaveLength(1); // the buttons stay for someone who may use them
  });

  it('lets an allow-listed user outside the group approve', async () => {
    const inc = await awaitingApproval(['restart-containerd']);
    await send(click(inc, fixAction('restart-containerd'), DAVE));
    expect(workflow.resumed).toHaveLength(1);
  });

  it('refuses a deny or a re-run from an unauthorized user too', async () => {
    const inc = await awaitingApproval(['restart-containerd']);
    await send(click(inc, 'nm_deny', EVE));
    await send(click(inc, 'nm_rerun', EVE));
    expect(workflow.failed).toEqual([]);
    expect(workflow.resumed).toEqual([]);
    expect(ephemeralsFor(EVE)).toHaveLength(2);
  });
});

describe('shadow mode', () => {
  it('refuses an authorized click while the cluster is in shadow mode, even with a waiting workflow', async () => {
    // Buttons posted before the cluster was switched into shadow mode, the workflow still waiting.
    const inc = await awaitingApproval(['restart-containerd']);
    app = build({ deps: { policy: { ...DEFAULT_SAFETY_POLICY, shadowClusters: ['prod'] } } });
    expect((await send(click(inc, fixAction('restart-containerd'), ALICE))).statusCode).toBe(200);
    expect(workflow.resumed).toEqual([]);
    expect(workflow.failed).toEqual([]);
    const after = await store.get(inc.id);
    expect(after?.phase).toBe('awaiting-approval');
    expect(after?.approvals).toEqual([]);
    expect(after?.audit.at(-1)).toMatchObject({
      action: 'refused',
      actor: ALICE,
      detail: 'fix:restart-containerd: cluster prod is in shadow mode: nodemedic runs nothing there',
    });
    expect(ephemeralsFor(ALICE).at(-1)?.text).toMatch(/shadow mode.*nothing was done/);
    expect(logger.lines).toContainEqual(
      expect.objectContaining({ level: 'warn', message: 'click on a shadow-mode incident refused' }),
    );
  });
});

describe('where a click comes from', () => {
  /** Alice's click on the incident's button, sent as if pressed from another team or channel. */
  const moved = (inc: Incident, actionId: string, change: Parameters<typeof resignedClick>[2]) =>
    resignedClick(click(inc, actionId, ALICE), SIGNING_SECRET, change);
  const threadNotes = (inc: Incident) =>
    standIn.messages(channel).filter((m) => m.thread_ts === inc.card!.ts && !m.ephemeral_for);

  it('refuses a click from another workspace: private answer, logged, audited, nothing resumed', async () => {
    const inc = await awaitingApproval(['restart-containerd']);
    const res = await send(
      moved(inc, fixAction('restart-containerd'), (p) => {
        p.team = { id: 'T0OTHER', domain: 'elsewhere' };
        p.user.team_id = 'T0OTHER';
      }),
    );
    expect(res.statusCode).toBe(200);
    expect(workflow.resumed).toEqual([]);
    const after = await store.get(inc.id);
    expect(after).toMatchObject({ phase: 'awaiting-approval', taskToken: 'task-token-1', approvals: [] });
    expect(after?.audit.at(-1)).toMatchObject({
      action: 'refused',
      actor: ALICE,
      detail: 'fix:restart-containerd: from team T0OTHER, not the installed team T0NODEMED',
    });
    expect(logger.lines).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        message: 'click from outside the incident refused',
        extra: expect.objectContaining({ team: 'T0OTHER', incidentId: inc.id }),
      }),
    );
    expect(ephemeralsFor(ALICE).at(-1)?.text).toMatch(/incident's own channel.*refused and logged/);
    expect(threadNotes(inc).at(-1)?.text).toMatch(/^Refused: <@U0ALICE> pressed fix:restart-containerd but/);
    expect(buttonsLeft(inc)).toHaveLength(1);
  });

  it('refuses a click from another channel, answering there and noting it in the incident thread', async () => {
    const inc = await awaitingApproval(['restart-containerd']);
    const elsewhere = `C0ELSEWHERE${seq}`;
    for (const actionId of [fixAction('restart-containerd'), 'nm_deny', 'nm_rerun']) {
      await send(
        moved(inc, actionId, (p) => {
          p.channel = { id: elsewhere, name: 'elsewhere' };
          p.container.channel_id = elsewhere;
        }),
      );
    }
    expect(workflow.resumed).toEqual([]);
    expect(workflow.failed).toEqual([]);
    const after = await store.get(inc.id);
    expect(after).toMatchObject({ phase: 'awaiting-approval', taskToken: 'task-token-1' });
    expect(after?.audit.filter((a) => a.action === 'refused').map((a) => a.detail)).toEqual(
      ['fix:restart-containerd', 'deny', 'rerun'].map(
        (action) => `${action}: from channel ${elsewhere}, not the incident's channel ${channel}`,
      ),
    );
    expect(standIn.messages(elsewhere).filter((m) => m.ephemeral_for === ALICE)).toHaveLength(3);
    expect(threadNotes(inc)).toHaveLength(4); // the findings message and three refusals
  });

  it('logs and audits the same refused click once when Slack retries it', async () => {
    const inc = await awaitingApproval(['restart-containerd']);
    const request = moved(inc, fixAction('restart-containerd'), (p) => {
      p.team = { id: 'T0OTHER', domain: 'elsewhere' };
    });
    await send(request);
    await send(request, { headers: { 'x-slack-retry-num': '1' } });
    expect((await store.get(inc.id))?.audit.filter((a) => a.action === 'refused')).toHaveLength(1);
  });

  it('takes the installed team from configuration when given, and then never asks auth.test', async () => {
    app = build({
      config: { teamId: 'T0CONFIGURED', bot: { botId: standIn.bot.botId, botUserId: standIn.bot.userId } },
    });
    const inc = await awaitingApproval(['restart-containerd']);
    const before = standIn.requestsOf('auth.test').length;
    await send(click(inc, fixAction('restart-containerd'), ALICE)); // the stand-in's team, T0NODEMED
    expect(workflow.resumed).toEqual([]);
    expect((await store.get(inc.id))?.audit.at(-1)?.detail).toMatch(/not the installed team T0CONFIGURED/);
    expect(standIn.requestsOf('auth.test').length).toBe(before);
  });

  it('refuses, without any message, a signed click whose user id is not a Slack id', async () => {
    const inc = await awaitingApproval(['restart-containerd']);
    const before = standIn.requests.length;
    await send(
      moved(inc, fixAction('restart-containerd'), (p) => {
        p.user.id = '<!channel>';
      }),
    );
    expect(workflow.resumed).toEqual([]);
    expect(callsSince(before)).toEqual([]);
    expect(logger.lines).toContainEqual(
      expect.objectContaining({
        level: 'error',
        message: 'Slack listener failed',
        extra: expect.objectContaining({ code: 'SLACK_PAYLOAD_INVALID' }),
      }),
    );
  });
});

describe('two-person rule for destructive fixes', () => {
  it('waits while the same user clicks twice, needs two approvers besides the requester, then resumes once', async () => {
    const inc = await awaitingApproval(['reset-state']);
    await send(click(inc, fixAction('reset-state'), ALICE)); // Alice requests it
    await send(click(inc, fixAction('reset-state'), ALICE)); // and presses again
    expect(workflow.resumed).toEqual([]);
    expect(ephemeralsFor(ALICE).at(-1)?.text).toMatch(/still waiting for another approver/);
    let now = await store.get(inc.id);
    expect(now).toMatchObject({
      phase: 'awaiting-approval',
      requested: { remediation: 'reset-state', by: ALICE },
    });

    await send(click(inc, fixAction('reset-state'), BOB)); // first approver besides the requester
    expect(workflow.resumed).toEqual([]);
    expect(ephemeralsFor(BOB).at(-1)?.text).toMatch(/recorded \(1 of 2\)/);
    now = await store.get(inc.id);
    expect(now?.phase).toBe('awaiting-approval');
    // The card tells the channel who approved so far and that one more approver is needed.
    expect(JSON.stringify(standIn.message(channel, inc.card!.ts)?.blocks)).toMatch(
      new RegExp(`requested by <@${ALICE}>, approved by <@${BOB}>; waiting for another approver`),
    );

    await send(click(inc, fixAction('reset-state'), CAROL)); // second: approved
    expect(workflow.resumed).toEqual([
      {
        taskToken: 'task-token-1',
        output: { decision: 'approve', remediation: 'reset-state', by: [BOB, CAROL] },
      },
    ]);
    expect(workflow.resumed[0]?.output.by).not.toContain(ALICE); // the requester is not an approver
    expect(buttonsLeft(inc)).toEqual([]);
  });

  it('rejects a different fix while one is requested', async () => {
    const inc = await awaitingApproval(['reset-state', 'restart-containerd']);
    await send(click(inc, fixAction('reset-state'), ALICE));
    await send(click(inc, fixAction('restart-containerd'), BOB));
    expect(workflow.resumed).toEqual([]);
    expect(ephemeralsFor(BOB).at(-1)?.text).toMatch(/reset-state is already requested/);
  });
});

describe('deny, re-run and used buttons', () => {
  it('deny fails the waiting approval and closes the card with who took over', async () => {
    const inc = await awaitingApproval(['restart-containerd']);
    await send(click(inc, 'nm_deny', BOB));
    expect(workflow.failed).toEqual([
      { taskToken: 'task-token-1', error: 'Denied', cause: expect.stringContaining(BOB) },
    ]);
    expect(await store.get(inc.id)).toMatchObject({ phase: 'closed', taskToken: null });
    expect(standIn.message(channel, inc.card!.ts)?.text).toContain(`<@${BOB}> is handling it`);
    expect(buttonsLeft(inc)).toEqual([]);
  });

  it('re-run resumes the workflow with a rerun decision', async () => {
    const inc = await awaitingApproval(['restart-containerd']);
    await send(click(inc, 'nm_rerun', CAROL));
    expect(workflow.resumed).toEqual([
      { taskToken: 'task-token-1', output: { decision: 'rerun', remediation: null, by: [CAROL] } },
    ]);
    expect((await store.get(inc.id))?.phase).toBe('diagnosing');
  });

  it('answers a click on a used button with who handled it and when', async () => {
    const inc = await awaitingApproval(['restart-containerd']);
    const deny = click(inc, 'nm_deny', BOB);
    const late = click(inc, fixAction('restart-containerd'), ALICE); // Alice's screen still shows the button
    await send(deny);
    await send(late);
    expect(workflow.resumed).toEqual([]);
    expect(ephemeralsFor(ALICE).at(-1)?.text).toMatch(/^Already handled: denied by <@U0BOB> at 20\d\d-/);
  });

  it('escalates when the workflow can no longer be resumed (expired task token)', async () => {
    const inc = await awaitingApproval(['restart-containerd']);
    workflow.failNextResume = new Error('TaskTimedOut: task token expired');
    await send(click(inc, fixAction('restart-containerd'), ALICE));
    const after = await store.get(inc.id);
    expect(after).toMatchObject({ phase: 'escalated', taskToken: null });
    expect(after?.audit.at(-1)).toMatchObject({ action: 'resume-failed' });
    expect(ephemeralsFor(ALICE).at(-1)?.text).toMatch(/could not be resumed/);
  });
});

describe('mentions', () => {
  it('starts a diagnosis for the instance the thread parent names', async () => {
    const parent = standIn.seedMessage({
      channel,
      text: 'ALARM: prod-node-not-ready — InstanceId=i-0abc12345678def01 NotReady for 5m',
    });
    const res = await send(
      standIn.mentionRequest({ channel, threadTs: parent, text: '<@U0NODEMEDIC> diagnose', user: ALICE }),
    );
    expect(res.statusCode).toBe(200);
    expect(diagnoses).toEqual([
      { channel, threadTs: parent, query: { instanceId: 'i-0abc12345678def01' }, requestedBy: ALICE },
    ]);
  });

  it("reads the thread's parent through the Chat port, attachments included, one message only", async () => {
    // CloudWatch-to-Slack integrations often put the node in a legacy attachment, not the text.
    const parent = standIn.seedMessage({
      channel,
      text: '',
      attachments: [{ color: 'danger', title: 'ALARM', text: 'NotReady: InstanceId=i-0abc12345678def02' }],
    });
    standIn.seedMessage({ channel, text: 'someone: i-0ffffffffffffffff?', threadTs: parent });
    const before = standIn.requestsOf('conversations.replies').length;
    let reads = 0;
    const counted: Chat = {
      post: (...args) => chat.post(...args),
      update: (...args) => chat.update(...args),
      postEphemeral: (...args) => chat.postEphemeral(...args),
      userGroupMembers: (...args) => chat.userGroupMembers(...args),
      replies: (...args) => {
        reads += 1;
        return chat.replies(...args);
      },
    };
    app = build({ deps: { chat: counted } });
    await send(
      standIn.mentionRequest({ channel, threadTs: parent, text: '<@U0NODEMEDIC> diagnose', user: ALICE }),
    );
    expect(reads).toBe(1);
    expect(
      standIn
        .requestsOf('conversations.replies')
        .slice(before)
        .map((r) => r.body),
    ).toEqual([expect.objectContaining({ channel, ts: parent, limit: '1' })]);
    expect(diagnoses).toEqual([
      { channel, threadTs: parent, query: { instanceId: 'i-0abc12345678def02' }, requestedBy: ALICE },
    ]);
  });

  it('starts a diagnosis for a node name given in the mention', async () => {
    const parent = standIn.seedMessage({ channel, text: 'something is off' });
    await send(
      standIn.mentionRequest({
        channel,
        threadTs: parent,
        text: '<@U0NODEMEDIC> diagnose <http://ip-10-0-1-23.ec2.internal|ip-10-0-1-23.ec2.internal>',
        user: BOB,
      }),
    );
    expect(diagnoses).toEqual([
      { channel, threadTs: parent, query: { nodeName: 'ip-10-0-1-23.ec2.internal' }, requestedBy: BOB },
    ]);
  });

  it('acts once on a retried event', async () => {
    const parent = standIn.seedMessage({ channel, text: 'NotReady i-0abc12345678def01' });
    const request = standIn.mentionRequest({
      channel,
      threadTs: parent,
      text: '<@U0NODEMEDIC> diagnose',
      user: ALICE,
    });
    await send(request);
    await send(request, { headers: { 'x-slack-retry-num': '1' } });
    expect(diagnoses).toHaveLength(1);
  });

  it('says so when the thread names no node, and starts nothing', async () => {
    const parent = standIn.seedMessage({ channel, text: 'the cluster feels slow' });
    await send(
      standIn.mentionRequest({ channel, threadTs: parent, text: '<@U0NODEMEDIC> diagnose', user: ALICE }),
    );
    expect(diagnoses).toEqual([]);
    expect(standIn.messages(channel).at(-1)).toMatchObject({
      thread_ts: parent,
      text: expect.stringContaining('no instance id'),
    });
  });

  it.each(['<@U0NODEMEDIC> help', '<@U0NODEMEDIC> what can you do?'])(
    'answers %j with the commands',
    async (text) => {
      const parent = standIn.seedMessage({ channel, text: 'alert' });
      await send(standIn.mentionRequest({ channel, threadTs: parent, text, user: ALICE }));
      expect(diagnoses).toEqual([]);
      expect(standIn.messages(channel).at(-1)).toMatchObject({
        thread_ts: parent,
        text: expect.stringContaining('diagnose'),
      });
    },
  );

  it.each([
    ['diagnose (the thread would name the node)', '<@U0NODEMEDIC> diagnose'],
    ['diagnose i-…', '<@U0NODEMEDIC> diagnose i-0abc12345678def01'],
    ['help', '<@U0NODEMEDIC> help'],
  ])('answers %s outside the configured channels with where it works, and runs nothing', async (_, text) => {
    const elsewhere = `C0RANDOM${seq}`;
    const parent = standIn.seedMessage({
      channel: elsewhere,
      text: 'NotReady InstanceId=i-0abc12345678def01',
    });
    const before = standIn.requests.length;
    const res = await send(standIn.mentionRequest({ channel: elsewhere, threadTs: parent, text, user: EVE }));
    expect(res.statusCode).toBe(200);
    expect(diagnoses).toEqual([]);
    // One answer, and no thread read (conversations.replies).
    expect(callsSince(before)).toEqual(['chat.postMessage']);
    const answer = standIn.messages(elsewhere).at(-1);
    expect(answer?.thread_ts).toBe(parent);
    expect(answer?.text).toBe(
      `I act only in <#${channel}>, <#${OTHER_ALLOWED}> (and threads there): mention me there. Nothing was done here.`,
    );
    expect(logger.lines).toContainEqual(
      expect.objectContaining({ level: 'warn', message: 'mention outside the configured channels refused' }),
    );
  });

  it('acts in a thread of any configured channel, not only the alert channel', async () => {
    const parent = standIn.seedMessage({ channel: OTHER_ALLOWED, text: 'NotReady i-0abc12345678def01' });
    await send(
      standIn.mentionRequest({
        channel: OTHER_ALLOWED,
        threadTs: parent,
        text: '<@U0NODEMEDIC> diagnose',
        user: ALICE,
      }),
    );
    expect(diagnoses).toEqual([
      {
        channel: OTHER_ALLOWED,
        threadTs: parent,
        query: { instanceId: 'i-0abc12345678def01' },
        requestedBy: ALICE,
      },
    ]);
  });
});
