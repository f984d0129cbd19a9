/**
 * The incident workflow end to end over recorded outputs: alarm → findings in the thread →
 * approval through the real Bolt app → recheck → fix → verify → outcome, and every way it can end
 * otherwise (timeout, cause gone, not recovered, unreachable, malformed output, blast radius).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { handleAlarm } from '../../functions/app/incidents.js';
import { parseAlarmEvent } from '../../functions/core/alarm.js';
import type { Incident } from '../../functions/core/incident.js';
import { notReadyAlarmEvent } from '../../functions/local/alarm-event.js';
import {
  ALICE,
  BOB,
  CAROL,
  CHANNEL,
  fixOk,
  type Harness,
  MALLORY,
  NODE,
  recorded,
  startHarness,
  until,
} from './support.js';

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

async function phase(harness: Harness, id: string, wanted: Incident['phase']): Promise<Incident> {
  return until(async () => {
    const incident = await harness.store.get(id);
    return incident?.phase === wanted ? incident : null;
  }, `phase ${wanted}`);
}

function texts(harness: Harness): string {
  return harness.standIn
    .messages(CHANNEL)
    .map((m) => `${m.text}\n${JSON.stringify(m.blocks)}`)
    .join('\n');
}

describe('an fd-exhaustion incident', () => {
  it('posts findings, waits with the task token saved, and applies the approved fix once', async () => {
    h = await startHarness({});
    h.runner.fixLoop('fd-exhaustion', 'raise-nofile', 'LimitNOFILE raised from 19 to 1048576');
    const id = await open(h);

    const waiting = await phase(h, id, 'awaiting-approval');
    // An opaque token as Step Functions issues them (at most 1024 characters), held by the run.
    expect(waiting.taskToken).toMatch(/^[A-Za-z0-9_-]{32,1024}$/);
    expect(waiting.findings.map((f) => f.cause)).toContain('fd-exhaustion');
    expect(waiting.offered[0]).toBe('raise-nofile');
    expect(texts(h)).toContain('fd-exhaustion');

    // The same click delivered twice (a double click), then as Slack's retry: resumed once.
    const request = await h.clickRequest(id, ALICE, 'nm_fix:raise-nofile');
    expect((await h.deliver(request)).statusCode).toBe(200);
    expect((await h.deliver(request)).statusCode).toBe(200);
    const retry = {
      ...request,
      headers: { ...request.headers, 'x-slack-retry-num': '1', 'x-slack-retry-reason': 'http_timeout' },
    };
    expect((await h.deliver(retry)).statusCode).toBe(200);

    expect(await h.workflow.finished(id)).toBe('recovered');
    expect(h.runner.scripts()).toEqual(['diagnose', 'diagnose', 'raise-nofile', 'diagnose']);
    const done = (await h.store.get(id))!;
    expect(done.phase).toBe('recovered');
    expect(done.taskToken).toBeNull();
    expect(done.audit.map((a) => a.action)).toEqual(
      expect.arrayContaining([
        'opened',
        'analyzed',
        'approved',
        'recheck-ok',
        'fix-sent',
        'fix-ok',
        'verify-ok',
        'recovered',
      ]),
    );
    expect(texts(h)).toContain('LimitNOFILE raised from 19 to 1048576');
  });

  it('refuses a click from someone who is not on call, and nothing runs', async () => {
    h = await startHarness({ approvalTimeoutMs: 1_500 });
    h.runner.queue('diagnose', { stdout: recorded('fd-exhaustion') });
    const id = await open(h);
    await phase(h, id, 'awaiting-approval');

    const response = await h.click(id, MALLORY, 'nm_fix:raise-nofile');
    expect(response.statusCode).toBe(200);
    const ephemeral = h.standIn.requestsOf('chat.postEphemeral').map((r) => String(r.body.text));
    expect(ephemeral.join('\n')).toMatch(/not|on-call/i);
    const incident = (await h.store.get(id))!;
    expect(incident.audit.some((a) => a.action === 'refused' && a.actor === MALLORY)).toBe(true);
    expect(await h.workflow.finished(id)).toBe('escalated');
    expect(h.runner.scripts()).toEqual(['diagnose']);
  });
});

describe('the approval wait', () => {
  it('escalates on timeout: mentions the on-call group, marks the card, runs nothing', async () => {
    h = await startHarness({ approvalTimeoutMs: 300 });
    h.runner.queue('diagnose', { stdout: recorded('socket-removed') });
    const id = await open(h);
    expect(await h.workflow.finished(id)).toBe('escalated');
    const incident = (await h.store.get(id))!;
    expect(incident.phase).toBe('escalated');
    expect(incident.taskToken).toBeNull();
    expect(texts(h)).toContain('<!subteam^S0ONCALL>');
    expect(h.runner.scripts()).toEqual(['diagnose']);
    // The buttons became text: nothing is left to press.
    const findings = h.standIn.message(CHANNEL, incident.findingsMessage!.ts)!;
    expect(JSON.stringify(findings.blocks)).not.toContain('nm_fix:');
  });

  it('needs the requester plus two other on-call engineers for a destructive fix', async () => {
    h = await startHarness({});
    h.runner.fixLoop('metadata-corrupt', 'reset-state', 'moved root aside');
    const id = await open(h);
    const waiting = await phase(h, id, 'awaiting-approval');
    expect(waiting.offered).toContain('reset-state');

    await h.click(id, ALICE, 'nm_fix:reset-state'); // requester
    await h.click(id, ALICE, 'nm_fix:reset-state'); // the same person again counts for nothing
    await h.click(id, BOB, 'nm_fix:reset-state'); // 1 of 2
    expect((await h.store.get(id))!.phase).toBe('awaiting-approval');
    expect(h.runner.scripts()).toEqual(['diagnose']);
    await h.click(id, CAROL, 'nm_fix:reset-state'); // 2 of 2
    expect(await h.workflow.finished(id)).toBe('recovered');
    expect(h.runner.scripts().filter((s) => s === 'reset-state')).toHaveLength(1);
  });
});

describe('before and after the fix', () => {
  it('skips the fix when the recheck finds the cause gone', async () => {
    h = await startHarness({});
    h.runner.queue('diagnose', { stdout: recorded('daemon-stopped') }, { stdout: recorded('healthy') });
    const id = await open(h);
    await phase(h, id, 'awaiting-approval');
    await h.click(id, ALICE, 'nm_fix:restart-containerd');
    expect(await h.workflow.finished(id)).toBe('skipped');
    expect(h.runner.scripts()).toEqual(['diagnose', 'diagnose']);
    expect(texts(h)).toMatch(/no longer holds/);
  });

  it('rolls back and escalates when verification fails', async () => {
    h = await startHarness({});
    h.runner
      .queue('diagnose', { stdout: recorded('fd-exhaustion') })
      .queue('raise-nofile', fixOk('raise-nofile'));
    const id = await open(h);
    await phase(h, id, 'awaiting-approval');
    await h.click(id, ALICE, 'nm_fix:raise-nofile');
    expect(await h.workflow.finished(id)).toBe('escalated');
    const sent = h.runner.sent
      .filter((s) => s.script === 'raise-nofile')
      .map((s) => s.parameters.mode ?? 'apply');
    expect(sent).toEqual(['apply', 'rollback']);
    expect(
      (await h.store.get(id))!.audit.some((a) => a.action === 'escalated' && a.detail === 'not-recovered'),
    ).toBe(true);
  });
});

describe('findings without a fix', () => {
  it('states an unreachable node as inconclusive from EC2 evidence, never healthy', async () => {
    h = await startHarness({
      reachability: {
        agent: 'ConnectionLost',
        instanceState: 'running',
        systemStatus: 'ok',
        instanceStatus: 'impaired',
        reachable: false,
      },
    });
    const id = await open(h);
    const incident = await until(async () => {
      const i = await h!.store.get(id);
      return i?.findingsMessage ? i : null;
    }, 'the findings message');
    expect(h.runner.sent).toHaveLength(0);
    expect(incident.findings.map((f) => f.cause)).toEqual(['node-unreachable']);
    expect(texts(h)).toMatch(/inconclusive/i);
    expect(texts(h)).toContain('Out of memory: Killed process 4242');
  });

  it('says the output could not be read instead of crashing on malformed output', async () => {
    h = await startHarness({});
    h.runner.queue('diagnose', { stdout: recorded('healthy').slice(0, 900) });
    const id = await open(h);
    expect(await h.workflow.finished(id)).toBe('findings');
    expect(texts(h)).toMatch(/could not be read/);
  });

  it('holds per-node fixes when much of the cluster is NotReady, and says why', async () => {
    h = await startHarness({
      // Without a rolling fix a held node ends at its findings (test/app/rolling.test.ts: with one).
      policy: { rollingFix: { enabled: false, allowedTiers: ['safe'] } },
      notReady: ['i-0abc123def4567800', 'i-0abc123def4567801', 'i-0abc123def4567802', 'i-0abc123def4567803'],
    });
    h.runner.queue('diagnose', { stdout: recorded('daemon-stopped') });
    const id = await open(h);
    expect(await h.workflow.finished(id)).toBe('findings');
    const incident = (await h.store.get(id))!;
    expect(incident.audit.find((a) => a.action === 'analyzed')?.detail).toMatch(/held: cluster-hold/);
    expect(JSON.stringify(h.standIn.messages(CHANNEL).map((m) => m.blocks))).not.toContain('nm_fix:');
    // Held at arrival: no card of its own; one cluster thread whose root is the live summary,
    // mentioning on-call, with the node's findings in it.
    expect(incident.card).toBeNull();
    expect(incident.clusterIncident).toMatch(/^cluster#prod#/);
    expect(h.standIn.messages(CHANNEL)).toHaveLength(1);
    const root = h.standIn.messages(CHANNEL)[0]!;
    expect(root.text).toContain('<!subteam^S0ONCALL>');
    expect(root.text).toMatch(/Cluster prod: 1 of 1 nodes: containerd 1\.6\.x, containerd-down/);
    expect(JSON.stringify(root.blocks)).toMatch(/4 of 10 nodes NotReady \(40%\), above 30%/);
  });

  it('keeps one cluster thread, however many nodes of the cluster follow', async () => {
    h = await startHarness({
      policy: { rollingFix: { enabled: false, allowedTiers: ['safe'] } },
      notReady: ['i-0abc123def4567800', 'i-0abc123def4567801', 'i-0abc123def4567802', 'i-0abc123def4567803'],
    });
    h.runner.queue('diagnose', { stdout: recorded('daemon-stopped') });
    const first = await open(h);
    expect(await h.workflow.finished(first)).toBe('findings');
    const second = (await handleAlarm(
      h.deps,
      parseAlarmEvent(
        notReadyAlarmEvent({
          alarmName: 'nodemedic-prod',
          instanceId: 'i-0abc123def4567804',
          nodeName: 'ip-10-0-2-4.ec2.internal',
          cluster: 'prod',
          state: 'ALARM',
        }),
      ),
    )) as { kind: string; incidentId: string };
    expect(second.kind).toBe('opened');
    expect(await h.workflow.finished(second.incidentId)).toBe('findings');
    expect((await h.store.get(second.incidentId))!.card).toBeNull();
    // One message in all: the root, updated in place with the second node.
    expect(h.standIn.messages(CHANNEL)).toHaveLength(1);
    expect(h.standIn.messages(CHANNEL)[0]!.text).toMatch(/2 of 2 nodes: containerd 1\.6\.x, containerd-down/);
  });
});

describe('alarms', () => {
  it('opens one incident under redelivery and closes it as recovered on OK', async () => {
    h = await startHarness({});
    h.runner.queue('diagnose', { stdout: recorded('daemon-stopped') });
    const first = await handleAlarm(h.deps, parseAlarmEvent(h.alarmEvent('ALARM')));
    const second = await handleAlarm(h.deps, parseAlarmEvent(h.alarmEvent('ALARM')));
    expect(first.kind).toBe('opened');
    expect(second).toEqual({ kind: 'duplicate', incidentId: (first as { incidentId: string }).incidentId });
    const id = (first as { incidentId: string }).incidentId;
    await phase(h, id, 'awaiting-approval');

    const ok = await handleAlarm(h.deps, parseAlarmEvent(h.alarmEvent('OK')));
    expect(ok).toEqual({ kind: 'recovered', incidentId: id });
    expect(await h.workflow.finished(id)).toBe('closed');
    expect((await h.store.get(id))!.phase).toBe('recovered');
    expect(h.standIn.requestsOf('chat.postMessage').filter((r) => !r.body.thread_ts)).toHaveLength(1);
    expect(h.runner.scripts()).toEqual(['diagnose']);
    expect(await h.store.findOpenByNode(`${NODE.cluster}#${NODE.instanceId}`)).toBeNull();
  });
});

describe('instance-level fixes', () => {
  const lost = {
    agent: 'ConnectionLost',
    instanceState: 'running',
    systemStatus: 'impaired',
    instanceStatus: 'impaired',
    reachable: false,
  };

  it('replaces an unreachable node through its Auto Scaling group and verifies the old one is going', async () => {
    h = await startHarness({ reachability: lost });
    const id = await open(h);
    const waiting = await phase(h, id, 'awaiting-approval');
    expect(waiting.offered).toContain('replace-node');
    for (const user of [ALICE, BOB, CAROL]) await h.click(id, user, 'nm_fix:replace-node');
    expect(await h.workflow.finished(id)).toBe('recovered');
    expect(h.inventory.actions.map((a) => a.action)).toEqual(['replace']);
    expect(h.runner.sent).toHaveLength(0);
    expect((await h.store.get(id))!.audit.find((a) => a.action === 'verify-ok')?.detail).toMatch(
      /shutting-down/,
    );
  });

  it('reboots, then lets SSM hold the verification until the agent is back', async () => {
    h = await startHarness({ reachability: lost });
    h.runner.queue('diagnose', { stdout: recorded('healthy') });
    const id = await open(h);
    await phase(h, id, 'awaiting-approval');
    await h.click(id, ALICE, 'nm_fix:reboot-instance');
    await h.workflow.finished(id);
    expect(h.inventory.actions.map((a) => a.action)).toEqual(['reboot']);
    // recheck (unreachable: the cause holds without a command) then the verification diagnosis
    const verify = h.runner.sent.at(-1)!;
    expect(verify.script).toBe('diagnose');
    expect(verify.timeoutSeconds).toBe(600);
  });
});

describe('clicks under pressure', () => {
  it('lets a click count again after the on-call check failed, and shows refusals in the thread', async () => {
    h = await startHarness({});
    h.runner.fixLoop('daemon-stopped', 'restart-containerd');
    const id = await open(h);
    await phase(h, id, 'awaiting-approval');

    const late = await h.clickRequest(id, MALLORY, 'nm_fix:restart-containerd');
    h.standIn.failNext('usergroups.users.list', 'internal_error');
    await h.click(id, ALICE, 'nm_fix:restart-containerd');
    expect((await h.store.get(id))!.phase).toBe('awaiting-approval');
    await h.click(id, ALICE, 'nm_fix:restart-containerd');

    await h.deliver(late);
    const refusal = h.standIn
      .messages(CHANNEL)
      .find((m) => m.thread_ts && !m.ephemeral_for && m.text.startsWith('Refused'));
    expect(refusal?.text).toContain(MALLORY);
    expect(await h.workflow.finished(id)).toBe('recovered');
  });

  it('holds an approval while another fix is in flight in the cluster, and counts the press after', async () => {
    h = await startHarness({});
    h.runner.fixLoop('daemon-stopped', 'restart-containerd');
    const id = await open(h);
    await phase(h, id, 'awaiting-approval');
    // Another node of the same cluster is being fixed right now.
    const other = await h.deps.store.open({
      ...(await h.store.get(id))!,
      id: 'prod#i-0abc123def4567801#x',
      nodeKey: 'prod#i-0abc123def4567801',
      node: { ...NODE, instanceId: 'i-0abc123def4567801' },
      phase: 'fixing',
    });
    await h.click(id, ALICE, 'nm_fix:restart-containerd');
    expect((await h.store.get(id))!.phase).toBe('awaiting-approval');
    expect(h.standIn.requestsOf('chat.postEphemeral').at(-1)!.body.text).toMatch(/already in flight/);
    expect(h.runner.scripts()).toEqual(['diagnose']);

    await h.store.update(other.incident.id, (current) => ({ ...current, phase: 'recovered' }));
    await h.click(id, ALICE, 'nm_fix:restart-containerd');
    expect(await h.workflow.finished(id)).toBe('recovered');
  });
});
