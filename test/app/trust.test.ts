/**
 * Trust that grows, through the real workflow definition, the real Bolt app and signed clicks:
 * shadow mode posts the findings with what nodemedic would offer and runs nothing, even for a
 * forged click; the fix buttons carry success rates read from the recorded incident history,
 * ordered by them within their tier, and carry no number where there is no history.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { MemoryIncidentStore } from '../../functions/adapters/local/memory-store.js';
import { handleAlarm } from '../../functions/app/incidents.js';
import { parseAlarmEvent } from '../../functions/core/alarm.js';
import type { CauseId, RemediationId } from '../../functions/core/model.js';
import { type ClickPayload, resignedClick } from '../slack/support.js';
import { ALICE, CHANNEL, fixOk, type Harness, NODE, recorded, startHarness } from './support.js';

/** The signing secret the harness's Bolt app checks (test/app/support.ts). */
const SIGNING_SECRET = 'test-signing-secret';

let h: Harness | null = null;
afterEach(async () => {
  await h?.close();
  h = null;
});

async function open(harness: Harness): Promise<string> {
  const outcome = await handleAlarm(harness.deps, parseAlarmEvent(harness.alarmEvent('ALARM')));
  expect(outcome.kind).toBe('opened');
  return (outcome as { incidentId: string }).incidentId;
}

function findingsOf(harness: Harness, ts: string) {
  const message = harness.standIn.message(CHANNEL, ts);
  if (!message) throw new Error('no findings message');
  return { text: message.text, blocks: JSON.stringify(message.blocks) };
}

/**
 * Record an ended incident in the store's history the way the workflow leaves one: a fix sent,
 * then its verification passed or failed, then the incident ended.
 */
async function pastIncident(
  store: MemoryIncidentStore,
  n: number,
  history: { cause: CauseId; remediation: RemediationId; passed: boolean; cluster?: string },
): Promise<void> {
  const at = new Date(Date.now() - (n + 1) * 86_400_000).toISOString();
  const instanceId = `i-0feed${String(n).padStart(12, '0')}`;
  const cluster = history.cluster ?? NODE.cluster;
  const { incident } = await store.open({
    id: `${cluster}#${instanceId}#${at}`,
    nodeKey: `${cluster}#${instanceId}`,
    node: { ...NODE, instanceId, cluster },
    alarmName: 'nodemedic-node-not-ready-prod',
    openedAt: at,
    phase: 'fixing',
    card: null,
    findings: [
      {
        cause: history.cause,
        severity: 'critical',
        confidence: 'high',
        summary: 'recorded',
        evidence: [],
        remediations: [history.remediation],
      },
    ],
    offered: [history.remediation],
    requested: null,
    approvals: [],
    taskToken: null,
    attempts: 1,
    audit: [
      { at, action: 'approved', actor: ALICE, detail: `${history.remediation} by ${ALICE}` },
      { at, action: 'fix-sent', actor: 'nodemedic', detail: `${history.remediation}: cmd-${n}` },
      { at, action: 'fix-ok', actor: 'nodemedic', detail: 'done' },
      { at, action: history.passed ? 'verify-ok' : 'verify-failed', actor: 'nodemedic', detail: '' },
    ],
  });
  await store.update(incident.id, (c) => ({ ...c, phase: history.passed ? 'recovered' : 'escalated' }));
}

/**
 * A click on a button the shadow-mode findings message does not have: the button is built on a
 * message of the attacker's own in the thread, and the signed payload is then moved onto the
 * findings message and signed again, so only nodemedic's own checks stand in the way.
 */
async function forgedClick(harness: Harness, incidentId: string, actionId: string) {
  const incident = (await harness.store.get(incidentId))!;
  const findings = incident.findingsMessage!;
  const decoy = await harness.deps.chat.post(
    findings.channel,
    {
      text: 'decoy',
      blocks: [
        {
          type: 'actions',
          elements: [
            {
              type: 'button',
              action_id: actionId,
              value: incidentId,
              text: { type: 'plain_text', text: 'Go' },
            },
          ],
        },
      ],
    },
    incident.card!.ts,
  );
  const request = harness.standIn.clickRequest({
    channel: decoy.channel,
    messageTs: decoy.ts,
    actionId,
    user: ALICE,
  });
  return resignedClick(request, SIGNING_SECRET, (payload) => {
    const moved = payload as ClickPayload & { container: { message_ts: string }; message: { ts: string } };
    moved.container.message_ts = findings.ts;
    moved.message.ts = findings.ts;
  });
}

/** The buttons of a message's actions blocks. */
function buttonsOf(blocks: readonly unknown[]): { action_id?: string; text?: { text: string } }[] {
  type Actions = { type: string; elements?: { action_id?: string; text?: { text: string } }[] };
  return (blocks as Actions[]).filter((b) => b.type === 'actions').flatMap((b) => b.elements ?? []);
}

describe('shadow mode', () => {
  it('posts the findings and what it would offer, with no button, and ends at its findings', async () => {
    h = await startHarness({ policy: { shadowClusters: ['prod'] } });
    h.runner.queue('diagnose', { stdout: recorded('fd-exhaustion') });
    const id = await open(h);

    expect(await h.workflow.finished(id)).toBe('findings');
    const steps = h.events.map((e) => e.step);
    expect(steps).toContain('analyze');
    expect(steps).not.toContain('await-approval');
    const incident = (await h.store.get(id))!;
    expect(incident.phase).toBe('closed');
    expect(incident.shadow).toBe(true);
    expect(incident.taskToken).toBeNull();
    expect(incident.offered).toEqual([]);
    expect(incident.audit.find((a) => a.action === 'analyzed')?.detail).toMatch(
      /offered: raise-nofile, restart-containerd.*shadow mode: nothing runs/,
    );

    const findings = findingsOf(h, incident.findingsMessage!.ts);
    expect(findings.blocks).toContain('fd-exhaustion');
    expect(findings.blocks).toContain('Fixes nodemedic would offer');
    expect(findings.blocks).toContain('Raise');
    expect(findings.blocks).toContain('Shadow mode');
    expect(findings.blocks).toContain('shadowClusters');
    expect(findings.blocks).toContain('redeploy');
    expect(findings.blocks).not.toContain('"actions"');
    expect(findings.blocks).not.toContain('nm_fix:');
    const card = h.standIn.message(CHANNEL, incident.card!.ts)!;
    expect(JSON.stringify(card.blocks)).toContain('Shadow mode');
    expect(h.runner.scripts()).toEqual(['diagnose']);
  });

  it('refuses a forged, correctly signed click naming a fix: audited, nothing sent, nothing resumed', async () => {
    h = await startHarness({ policy: { shadowClusters: ['prod'] } });
    h.runner.queue('diagnose', { stdout: recorded('fd-exhaustion') });
    const id = await open(h);
    expect(await h.workflow.finished(id)).toBe('findings');
    const resume = vi.spyOn(h.workflow, 'resume');
    const fail = vi.spyOn(h.workflow, 'fail');
    const start = vi.spyOn(h.workflow, 'start');

    for (const action of ['nm_fix:restart-containerd', 'nm_fix:raise-nofile', 'nm_rerun', 'nm_deny']) {
      expect((await h.deliver(await forgedClick(h, id, action))).statusCode).toBe(200);
    }

    expect(h.runner.scripts()).toEqual(['diagnose']);
    expect(resume).not.toHaveBeenCalled();
    expect(fail).not.toHaveBeenCalled();
    expect(start).not.toHaveBeenCalled();
    const incident = (await h.store.get(id))!;
    expect(incident.phase).toBe('closed');
    const refused = incident.audit.filter((a) => a.action === 'refused');
    expect(refused.map((a) => a.detail)).toEqual([
      'fix:restart-containerd: cluster prod is in shadow mode: nodemedic runs nothing there',
      'fix:raise-nofile: cluster prod is in shadow mode: nodemedic runs nothing there',
      'rerun: cluster prod is in shadow mode: nodemedic runs nothing there',
      'deny: cluster prod is in shadow mode: nodemedic runs nothing there',
    ]);
    expect(refused.every((a) => a.actor === ALICE)).toBe(true);
    const ephemeral = h.standIn.requestsOf('chat.postEphemeral').map((r) => String(r.body.text));
    expect(ephemeral[0]).toMatch(/shadow mode.*refused and logged; nothing was done/);
    const thread = h.standIn.messages(CHANNEL).filter((m) => m.text.startsWith('Refused'));
    expect(thread).toHaveLength(4);
    expect(thread[0]!.text).toContain('shadow mode');
  });

  it('acts as before in a cluster that is not in shadow mode', async () => {
    h = await startHarness({ policy: { shadowClusters: ['staging'] } });
    h.runner.fixLoop('fd-exhaustion', 'raise-nofile');
    const id = await open(h);
    await vi.waitUntil(async () => (await h!.store.get(id))?.phase === 'awaiting-approval', {
      timeout: 10_000,
    });
    expect((await h.click(id, ALICE, 'nm_fix:raise-nofile')).statusCode).toBe(200);
    expect(await h.workflow.finished(id)).toBe('recovered');
    expect((await h.store.get(id))!.shadow).toBeUndefined();
  });
});

describe('success rates on the buttons', () => {
  it('learns from the incidents it ran: a fix verified here shows on the next incident of that cause', async () => {
    h = await startHarness({});
    h.runner
      .queue(
        'diagnose',
        { stdout: recorded('fd-exhaustion') },
        { stdout: recorded('fd-exhaustion') },
        { stdout: recorded('healthy') },
        { stdout: recorded('fd-exhaustion') },
      )
      .queue('raise-nofile', fixOk('raise-nofile'));
    const first = await open(h);
    await vi.waitUntil(async () => (await h!.store.get(first))?.phase === 'awaiting-approval', {
      timeout: 10_000,
    });
    const before = (await h.store.get(first))!;
    expect(JSON.stringify(h.standIn.message(CHANNEL, before.findingsMessage!.ts)!.blocks)).not.toContain(
      'recovered',
    );
    expect((await h.click(first, ALICE, 'nm_fix:raise-nofile')).statusCode).toBe(200);
    expect(await h.workflow.finished(first)).toBe('recovered');

    const second = await open(h);
    await vi.waitUntil(async () => (await h!.store.get(second))?.phase === 'awaiting-approval', {
      timeout: 10_000,
    });
    const incident = (await h.store.get(second))!;
    const message = h.standIn.message(CHANNEL, incident.findingsMessage!.ts)!;
    const label = buttonsOf(message.blocks).find((b) => b.action_id === 'nm_fix:raise-nofile')?.text?.text;
    expect(label).toBe('Raise containerd open-file limit (disruptive) · recovered 1 of 1 here');
    expect(
      buttonsOf(message.blocks).find((b) => b.action_id === 'nm_fix:restart-containerd')?.text?.text,
    ).not.toMatch(/recovered/);
  });

  it('shows no number and keeps the diagnosis order when there is no history', async () => {
    h = await startHarness({ approvalTimeoutMs: 60_000 });
    h.runner.queue('diagnose', { stdout: recorded('fd-exhaustion') });
    const id = await open(h);
    await vi.waitUntil(async () => (await h!.store.get(id))?.phase === 'awaiting-approval', {
      timeout: 10_000,
    });
    const incident = (await h.store.get(id))!;
    expect(incident.offered).toEqual(['raise-nofile', 'restart-containerd', 'collect-goroutine-dump']);
    const findings = findingsOf(h, incident.findingsMessage!.ts);
    expect(findings.blocks).not.toMatch(/recovered \d+ of \d+/);
  });

  it('shows "recovered n of m here" from the recorded history and orders fixes by it within their tier', async () => {
    h = await startHarness({ approvalTimeoutMs: 60_000 });
    const store = h.store;
    let n = 0;
    // fd-exhaustion here: raise-nofile recovered 3 of 4, restart-containerd 1 of 3; the goroutine
    // dump, offered for the socket-unreachable finding and of the same tier (safe), 2 of 2.
    for (const passed of [true, true, false, true]) {
      await pastIncident(store, n++, { cause: 'fd-exhaustion', remediation: 'raise-nofile', passed });
    }
    for (const passed of [true, false, false]) {
      await pastIncident(store, n++, { cause: 'fd-exhaustion', remediation: 'restart-containerd', passed });
    }
    for (const passed of [true, true]) {
      await pastIncident(store, n++, {
        cause: 'socket-unreachable',
        remediation: 'collect-goroutine-dump',
        passed,
      });
    }
    // Another cluster, and the same fix for another cause, do not count here.
    await pastIncident(store, n++, {
      cause: 'fd-exhaustion',
      remediation: 'restart-containerd',
      passed: true,
      cluster: 'staging',
    });
    await pastIncident(store, n++, {
      cause: 'containerd-down',
      remediation: 'restart-containerd',
      passed: true,
    });

    h.runner.queue('diagnose', { stdout: recorded('fd-exhaustion') });
    const id = await open(h);
    await vi.waitUntil(async () => (await h!.store.get(id))?.phase === 'awaiting-approval', {
      timeout: 10_000,
    });
    const incident = (await h.store.get(id))!;
    // The disruptive fix keeps its slot; within the safe tier the better record comes first.
    expect(incident.offered).toEqual(['raise-nofile', 'collect-goroutine-dump', 'restart-containerd']);
    const message = h.standIn.message(CHANNEL, incident.findingsMessage!.ts)!;
    const buttons = buttonsOf(message.blocks);
    const label = (action: string) => buttons.find((b) => b.action_id === action)?.text?.text;
    expect(label('nm_fix:raise-nofile')).toMatch(/recovered 3 of 4 here/);
    expect(label('nm_fix:restart-containerd')).toMatch(/recovered 1 of 3 here/);
    expect(label('nm_fix:collect-goroutine-dump')).toMatch(/recovered 2 of 2 here/);
    expect(buttons.map((b) => b.action_id).slice(0, 3)).toEqual([
      'nm_fix:raise-nofile',
      'nm_fix:collect-goroutine-dump',
      'nm_fix:restart-containerd',
    ]);
    expect(JSON.stringify(message.blocks)).toContain('recovered 1 of 3 here');
  });
});
