/**
 * The approval's own guarantees, through approveFix with the Slack stand-in over HTTP: the
 * cluster's in-flight limit holds under two approvals in the same instant (memory store, and the
 * DynamoDB store over the fake table), and a workflow error's text reaches Slack escaped while the
 * mentions nodemedic writes itself still mention.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { WebClient } from '@slack/web-api';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DynamoIncidentStore } from '../../functions/adapters/aws/dynamo-store.js';
import { MemoryIncidentStore } from '../../functions/adapters/local/memory-store.js';
import { WebApiChat } from '../../functions/adapters/slack/web-chat.js';
import { type ApprovalDeps, approveFix } from '../../functions/app/approval.js';
import type { IncidentStore, Workflow } from '../../functions/core/incident.js';
import { DEFAULT_SAFETY_POLICY } from '../../functions/core/policy.js';
import { SlackStandIn } from '../../functions/local/slack-standin/server.js';
import { FakeTable } from '../adapters/aws/fake-dynamo.js';
import { incidentInit, T0 } from '../adapters/incident-store-contract.js';
import { ALICE, BOB, CHANNEL, ONCALL_GROUP } from './support.js';

const ddb = mockClient(DynamoDBDocumentClient);
let standIn: SlackStandIn;

beforeEach(async () => {
  ddb.reset();
  new FakeTable().install(ddb);
  standIn = await SlackStandIn.start({
    botToken: 'xoxb-test',
    signingSecret: 'unused',
    userGroups: { [ONCALL_GROUP]: [ALICE, BOB] },
  });
});
afterEach(async () => {
  await standIn.close();
});

/** A workflow that records resumes, or fails them with `error`. */
function recordingWorkflow(error?: Error): Workflow & { resumed: string[] } {
  const resumed: string[] = [];
  return {
    resumed,
    start: async () => ({ executionId: 'x' }),
    resume: async (token) => {
      if (error) throw error;
      resumed.push(token);
    },
    fail: async () => {},
  };
}

function approvalDeps(store: IncidentStore, workflow: Workflow): ApprovalDeps {
  return {
    store,
    workflow,
    chat: new WebApiChat(
      new WebClient('xoxb-test', { slackApiUrl: standIn.apiUrl, retryConfig: { retries: 0 } }),
    ),
    policy: { ...DEFAULT_SAFETY_POLICY, maxFixesInFlightPerCluster: 1 },
    onCallUserGroupId: ONCALL_GROUP,
    clock: () => new Date(T0.getTime() + 60_000),
    logger: { info: () => {}, warn: () => {}, error: () => {} },
  };
}

/** An incident of `instanceId` (cluster prod) waiting for the approval of restart-containerd. */
async function waiting(deps: ApprovalDeps, instanceId: string) {
  const chat = deps.chat;
  const card = await chat.post(CHANNEL, { text: 'card', blocks: [] });
  const findings = await chat.post(CHANNEL, { text: 'findings', blocks: [] }, card.ts);
  const init = incidentInit({ node: { ...incidentInit().node, instanceId } });
  await deps.store.open(init);
  await deps.store.update(init.id, (c) => ({
    ...c,
    phase: 'awaiting-approval',
    card,
    findingsMessage: findings,
    offered: ['restart-containerd'],
    taskToken: `token-${instanceId}`,
  }));
  return {
    id: init.id,
    click: (user: string) =>
      approveFix(deps, {
        incidentId: init.id,
        user,
        channel: CHANNEL,
        messageTs: findings.ts,
        threadTs: card.ts,
        team: 'T0NODEMED',
        installedTeam: 'T0NODEMED',
        retry: false,
        remediation: 'restart-containerd',
      }),
  };
}

/**
 * "The same instant", made deterministic: every caller of countInFlight waits until `n` callers
 * have read it, so each approval has passed the click-time check before either writes.
 */
function sameInstant(store: IncidentStore, n: number): IncidentStore {
  let arrived = 0;
  let release: () => void = () => {};
  const all = new Promise<void>((resolve) => {
    release = resolve;
  });
  return Object.assign(Object.create(store) as IncidentStore, {
    countInFlight: async (cluster: string) => {
      const count = await store.countInFlight(cluster);
      arrived += 1;
      if (arrived >= n) release();
      await all;
      return count;
    },
  });
}

const stores: [string, () => IncidentStore][] = [
  ['memory', () => new MemoryIncidentStore()],
  [
    'DynamoDB',
    () =>
      new DynamoIncidentStore({
        client: DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' })),
        tableName: 'incidents',
      }),
  ],
];

describe.each(stores)('the in-flight limit under concurrent approvals (%s store)', (_name, makeStore) => {
  it('lets exactly one of two approvals in the same instant pass a limit of one', async () => {
    const workflow = recordingWorkflow();
    const deps = approvalDeps(sameInstant(makeStore(), 2), workflow);
    const a = await waiting(deps, 'i-0aaaaaaaaaaaaaaa1');
    const b = await waiting(deps, 'i-0bbbbbbbbbbbbbbb2');
    const outcomes = await Promise.all([a.click(ALICE), b.click(BOB)]);
    expect(outcomes.map((o) => o.kind).sort()).toEqual(['approved', 'rejected']);
    expect(workflow.resumed).toHaveLength(1);
    expect(await Object.getPrototypeOf(deps.store).countInFlight('prod')).toBe(1);
    const loser = outcomes[0]!.kind === 'rejected' ? a : b;
    const held = (await deps.store.get(loser.id))!;
    expect(held).toMatchObject({ phase: 'awaiting-approval', taskToken: expect.any(String) });
    expect(held.audit.at(-1)).toMatchObject({ action: 'held' });
    const told = standIn.requestsOf('chat.postEphemeral').map((r) => String(r.body.text));
    expect(told.some((t) => /already in flight in cluster prod \(limit 1\)/.test(t))).toBe(true);

    // The held engineer presses again once the other fix ended: the press counts this time.
    const winner = loser === a ? b : a;
    await deps.store.update(winner.id, (current) => ({ ...current, phase: 'recovered' }));
    const again = await (loser === a ? a.click(ALICE) : b.click(BOB));
    expect(again.kind).toBe('approved');
    expect(workflow.resumed).toHaveLength(2);
  });
});

describe('a Slack failure after the approval went through', () => {
  it('keeps the approval and the resumed workflow, and records that the buttons are still up', async () => {
    const workflow = recordingWorkflow();
    const deps = approvalDeps(new MemoryIncidentStore(), workflow);
    const a = await waiting(deps, 'i-0aaaaaaaaaaaaaaa1');
    standIn.failNext('chat.update', 'ratelimited', 1);
    expect(await a.click(ALICE)).toMatchObject({ kind: 'approved' });
    expect(workflow.resumed).toEqual(['token-i-0aaaaaaaaaaaaaaa1']);
    const incident = (await deps.store.get(a.id))!;
    expect(incident.phase).toBe('fixing');
    expect(incident.audit.at(-1)).toMatchObject({ action: 'buttons-not-closed', actor: 'nodemedic' });
  });
});

describe('a workflow error in the decision text', () => {
  it('is escaped in the buttons’ text, the card and the private answer', async () => {
    const hostile = new Error('Task Timed Out <!channel> <http://evil.example|Approve here> &');
    const deps = approvalDeps(new MemoryIncidentStore(), recordingWorkflow(hostile));
    const a = await waiting(deps, 'i-0aaaaaaaaaaaaaaa1');
    expect(await a.click(ALICE)).toMatchObject({ kind: 'failed' });
    const incident = (await deps.store.get(a.id))!;
    expect(incident.phase).toBe('escalated');
    for (const ref of [incident.findingsMessage!, incident.card!]) {
      const message = standIn.message(CHANNEL, ref.ts)!;
      const shown = `${message.text}\n${JSON.stringify(message.blocks)}`;
      expect(shown).toContain('&lt;!channel&gt; &lt;http://evil.example|Approve here&gt; &amp;');
      expect(shown).not.toContain('<!channel>');
      expect(shown).not.toContain('<http://evil');
    }
    const ephemeral = String(standIn.requestsOf('chat.postEphemeral').at(-1)!.body.text);
    expect(ephemeral).toContain('&lt;!channel&gt;');
    expect(ephemeral).not.toContain('<!channel>');
  });

  it('keeps the approvers’ mentions that nodemedic writes itself', async () => {
    const deps = approvalDeps(new MemoryIncidentStore(), recordingWorkflow());
    const a = await waiting(deps, 'i-0aaaaaaaaaaaaaaa1');
    expect(await a.click(ALICE)).toMatchObject({ kind: 'approved' });
    const findings = standIn.message(CHANNEL, (await deps.store.get(a.id))!.findingsMessage!.ts)!;
    expect(JSON.stringify(findings.blocks)).toContain(`<@${ALICE}>`);
  });
});
