/**
 * The rolling fix end to end: a storm holds per-node fixes, every held node waits for a decision in
 * its own execution of the interpreted definition, one click on the cluster thread (through the
 * real Bolt app, signed as Slack signs it) starts the roll, and each node goes through its own
 * recheck → fix → verify → outcome, batch after batch, until the roll completes or stops at the
 * first failed verification.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { handleAlarm } from '../../functions/app/incidents.js';
import { heldNodes, rollNodeEnded } from '../../functions/app/rolling.js';
import { parseAlarmEvent } from '../../functions/core/alarm.js';
import type { ClusterIncident } from '../../functions/core/cluster.js';
import { DependencyError } from '../../functions/core/errors.js';
import type { Incident } from '../../functions/core/incident.js';
import type { CommandRequest, CommandRunner, MessageRef } from '../../functions/core/ports.js';
import { offerRoll, type Roll } from '../../functions/core/rolling.js';
import { notReadyAlarmEvent } from '../../functions/local/alarm-event.js';
import {
  ALICE,
  BOB,
  CHANNEL,
  fixOk,
  type Harness,
  MALLORY,
  NODES,
  PlaybackRunner,
  recorded,
  startHarness,
  until,
} from './support.js';

let h: Harness | null = null;
afterEach(async () => {
  await h?.close();
  h = null;
});

/** Plays back outputs per node and script (the harness's runner shares one queue per script). */
class FleetRunner extends PlaybackRunner {
  constructor() {
    super((request) => `${request.node.instanceId}:${request.script}`);
  }

  /** A node the fix cures (`verify` healthy) or not (`verify` still the fault). */
  node(instanceId: string, fault: string, remediation: string, cured = true): this {
    return this.queue(
      `${instanceId}:diagnose`,
      { stdout: recorded(fault) },
      { stdout: recorded(fault) },
      { stdout: recorded(cured ? 'healthy' : fault) },
    ).queue(`${instanceId}:${remediation}`, fixOk(remediation));
  }

  /** Nodes a script was sent to, in order. */
  sentTo(script: string): string[] {
    return this.sent.filter((s) => s.script === script).map((s) => s.node.instanceId);
  }
}

/** A harness whose cluster `prod` has `count` of its 10 nodes NotReady: the hold engages. */
async function storm(count: number, fault: (i: number) => string = () => 'daemon-stopped') {
  const ids = NODES.slice(0, count).map((n) => n.instanceId);
  h = await startHarness({ policy: { maxFixesInFlightPerCluster: 3 }, notReady: ids });
  const runner = new FleetRunner();
  // The harness's steps read the runner from its deps: this one plays back per node.
  (h.deps as { runner: CommandRunner }).runner = runner;
  return { harness: h, runner, ids, fault };
}

/** Fire the alarms and wait until every node is diagnosed and waiting (or ended) under the hold. */
async function arrive(harness: Harness, ids: readonly string[]): Promise<Incident[]> {
  const incidents: Incident[] = [];
  for (const instanceId of ids) {
    const node = NODES.find((n) => n.instanceId === instanceId)!;
    const event = notReadyAlarmEvent({
      alarmName: 'nodemedic-prod',
      instanceId: node.instanceId,
      nodeName: node.nodeName!,
      cluster: 'prod',
      state: 'ALARM',
    });
    const out = await handleAlarm(harness.deps, parseAlarmEvent(event));
    const incidentId = (out as { incidentId: string }).incidentId;
    incidents.push(
      await until(async () => {
        const i = await harness.store.get(incidentId);
        return i?.audit.some((a) => a.action === 'analyzed') && i.phase !== 'findings' ? i : null;
      }, `${instanceId} diagnosed`),
    );
  }
  return incidents;
}

/**
 * The cluster thread as the hold posted it: its root, the live summary, once every node's findings
 * are in it (the summary's writes are coalesced to one a second).
 */
async function clusterThread(
  harness: Harness,
  count: number,
  wanted = 'nm_roll:',
): Promise<{ record: ClusterIncident; ref: MessageRef }> {
  return until(
    async () => {
      const record = await harness.store.getCluster('prod');
      const diagnosed = Object.values(record?.members ?? {}).filter((m) => m.causes !== null).length;
      if (!record?.thread || diagnosed < count || record.renderedRev < record.rev) return null;
      const root = harness.standIn.message(CHANNEL, record.thread.ts);
      return root && JSON.stringify(root.blocks).includes(wanted) ? { record, ref: record.thread } : null;
    },
    'the cluster summary',
    45_000,
  );
}

function clickRequest(harness: Harness, ref: MessageRef, user: string) {
  return harness.standIn.clickRequest({
    channel: ref.channel,
    messageTs: ref.ts,
    actionId: 'nm_roll:restart-containerd',
    user,
  });
}

async function click(harness: Harness, ref: MessageRef, user: string, retry = false) {
  const request = clickRequest(harness, ref, user);
  const headers = retry
    ? { ...request.headers, 'x-slack-retry-num': '1', 'x-slack-retry-reason': 'http_timeout' }
    : request.headers;
  return harness.deliver({ ...request, headers });
}

async function rollOf(harness: Harness): Promise<Roll | null> {
  return (await harness.store.getCluster('prod'))?.roll ?? null;
}

function threadTexts(harness: Harness, ref: MessageRef): string[] {
  return harness.standIn
    .messages(CHANNEL)
    .filter((m) => m.thread_ts === ref.ts && !m.ephemeral_for)
    .map((m) => `${m.text}\n${JSON.stringify(m.blocks)}`);
}

/** The roll once it completed and its end was marked as said on the record. */
function completedRoll(harness: Harness): Promise<Roll> {
  return until(
    async () => {
      const roll = await rollOf(harness);
      return roll?.state === 'completed' && roll.announced === 'completed' ? roll : null;
    },
    'the roll to complete',
    45_000,
  );
}

/**
 * The thread's messages that match `pattern`, once there is one: the end is marked on the record
 * before its one message goes out (paced).
 */
function saidInThread(harness: Harness, ref: MessageRef, pattern: RegExp): Promise<string[]> {
  return until(async () => {
    const found = threadTexts(harness, ref).filter((t) => pattern.test(t));
    return found.length ? found : null;
  }, `${pattern} in the thread`);
}

function ephemerals(harness: Harness, user: string): string[] {
  return harness.standIn
    .requestsOf('chat.postEphemeral')
    .filter((r) => r.body.user === user)
    .map((r) => String(r.body.text));
}

/** The roll once it stopped, its running nodes finished and its stop said. */
function stoppedRoll(harness: Harness): Promise<Roll> {
  return until(
    async () => {
      const roll = await rollOf(harness);
      return roll?.state === 'stopped' && roll.running.length === 0 && roll.announced === 'stopped'
        ? roll
        : null;
    },
    'the roll to stop',
    45_000,
  );
}

/** The cluster root shows the roll's end in place of its button (its refresh is paced: wait). */
async function expectRootShowsCompletedRoll(harness: Harness, ref: MessageRef): Promise<void> {
  const root = await until(
    async () => {
      const m = harness.standIn.message(CHANNEL, ref.ts);
      return m && JSON.stringify(m.blocks).includes('completed') ? m : null;
    },
    'the summary to show the completed roll',
    20_000,
  );
  expect(JSON.stringify(root.blocks)).not.toContain('nm_roll:');
}

/** The batch each node's approval came in, from its audit. */
async function batches(harness: Harness, incidents: readonly Incident[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const incident of incidents) {
    const approved = (await harness.store.get(incident.id))!.audit.find((a) => a.action === 'approved');
    const batch = approved && /batch (\d+)/.exec(approved.detail)?.[1];
    if (batch) out.set(incident.node.instanceId, Number(batch));
  }
  return out;
}

describe('a rolling fix over a held cluster', () => {
  it('fixes 7 held nodes in batches of 3, each batch after the last recovered, with one approval', async () => {
    const { harness, runner, ids } = await storm(7);
    for (const id of ids) runner.node(id, 'daemon-stopped', 'restart-containerd');
    const incidents = await arrive(harness, ids);
    for (const incident of incidents) {
      // Held, waiting for the cluster's decision, with no card and no button of its own.
      expect(incident.phase).toBe('awaiting-approval');
      expect(incident.taskToken).not.toBeNull();
      expect(incident.card).toBeNull();
      expect(incident.findingsMessage ?? null).toBeNull();
    }
    expect(JSON.stringify(harness.standIn.messages(CHANNEL).map((m) => m.blocks))).not.toContain('nm_fix:');
    const { ref } = await clusterThread(harness, 7);
    const summary = harness.standIn.message(CHANNEL, ref.ts)!;
    expect(JSON.stringify(summary.blocks)).toContain(
      'Approve rolling Restart containerd on 7 nodes, batches of 3 (safe)',
    );

    expect((await click(harness, ref, ALICE)).statusCode).toBe(200);
    const done = await completedRoll(harness);

    expect(done).toMatchObject({ approvedBy: ALICE, batchSize: 3, batches: 3, failed: null });
    expect(done.done).toHaveLength(7);
    for (const incident of incidents) {
      expect(await harness.workflow.finished(incident.id)).toBe('recovered');
    }
    expect(runner.sentTo('restart-containerd').sort()).toEqual([...ids].sort());
    // Batches of 3, 3 and 1, in arrival order; each batch approved after the last one recovered.
    const batchOf = await batches(harness, incidents);
    expect(ids.map((id) => batchOf.get(id))).toEqual([1, 1, 1, 2, 2, 2, 3]);
    const at = async (id: string, action: string) =>
      Date.parse(
        (await harness.store.get(incidents[ids.indexOf(id)]!.id))!.audit.find((a) => a.action === action)!.at,
      );
    for (const [earlier, later] of [
      [0, 3],
      [3, 6],
    ] as const) {
      const lastRecovered = Math.max(
        ...(await Promise.all(ids.slice(earlier, later).map((id) => at(id, 'recovered')))),
      );
      const nextApproved = Math.min(
        ...(await Promise.all(ids.slice(later, later + 3).map((id) => at(id, 'approved')))),
      );
      expect(nextApproved).toBeGreaterThanOrEqual(lastRecovered);
    }
    // The approver of every node is the one who pressed the cluster button.
    for (const incident of incidents) {
      expect((await harness.store.get(incident.id))!.approvals.map((a) => a.user)).toEqual([ALICE]);
    }
    const said = await saidInThread(harness, ref, /Rolling Restart containerd completed/);
    expect(said).toHaveLength(1);
    // The root shows the roll's end in place of the button.
    await expectRootShowsCompletedRoll(harness, ref);
  });

  it('stops at the first failed verification: later batches never start, the rest stay held', async () => {
    const { harness, runner, ids } = await storm(7);
    for (const [i, id] of ids.entries()) runner.node(id, 'daemon-stopped', 'restart-containerd', i !== 4);
    const incidents = await arrive(harness, ids);
    const { ref } = await clusterThread(harness, 7);
    await click(harness, ref, ALICE);

    const stopped = await stoppedRoll(harness);
    expect(stopped.failed).toMatchObject({ node: ids[4], detail: 'not-recovered' });
    expect(stopped.queued.map((m) => m.node)).toEqual([ids[6]]);
    expect(await harness.workflow.finished(incidents[4]!.id)).toBe('escalated');
    // The rest of the failed node's batch finished on its own; the last batch never started.
    expect(runner.sentTo('restart-containerd').sort()).toEqual(ids.slice(0, 6).sort());
    const held = (await harness.store.get(incidents[6]!.id))!;
    expect(held.phase).toBe('awaiting-approval');
    expect(held.approvals).toEqual([]);
    // Said once in the cluster thread, with the on-call group.
    const said = await saidInThread(harness, ref, /stopped at/);
    expect(said).toHaveLength(1);
    expect(said[0]).toContain(ids[4]);
    expect(said[0]).toContain('<!subteam^S0ONCALL>');
  });

  it('starts one roll however often the button is pressed or Slack retries', async () => {
    const { harness, runner, ids } = await storm(3);
    for (const id of ids) runner.node(id, 'daemon-stopped', 'restart-containerd');
    const incidents = await arrive(harness, ids);
    const { ref } = await clusterThread(harness, 3);
    // Bob's press comes from the same summary, before it turned into the roll's progress.
    const bobs = clickRequest(harness, ref, BOB);
    await Promise.all([
      click(harness, ref, ALICE),
      click(harness, ref, ALICE),
      click(harness, ref, ALICE, true),
    ]);
    await harness.deliver(bobs);
    await until(async () => (await rollOf(harness))?.state === 'completed', 'the roll to complete', 45_000);
    expect(runner.sentTo('restart-containerd').sort()).toEqual([...ids].sort());
    for (const incident of incidents) {
      const audit = (await harness.store.get(incident.id))!.audit;
      expect(audit.filter((a) => a.action === 'approved')).toHaveLength(1);
    }
    expect((await rollOf(harness))!.approvedBy).toBe(ALICE);
    expect(ephemerals(harness, BOB).join('\n')).toMatch(
      /Already handled: the rolling fix was approved by <@U0ALICE>/,
    );
    // Her other presses were answered once each: already pressed, or already handled (a Slack retry: silent).
    expect(ephemerals(harness, ALICE).join('\n')).toMatch(/already pressed this button|Already handled/);
  });

  it('refuses a click from someone who is not on call: logged, said in the thread, nothing runs', async () => {
    const { harness, runner, ids } = await storm(3);
    for (const id of ids) runner.node(id, 'daemon-stopped', 'restart-containerd');
    const incidents = await arrive(harness, ids);
    const { ref } = await clusterThread(harness, 3);
    expect((await click(harness, ref, MALLORY)).statusCode).toBe(200);
    expect((await click(harness, ref, MALLORY, true)).statusCode).toBe(200);
    expect(ephemerals(harness, MALLORY)).toHaveLength(1);
    expect(ephemerals(harness, MALLORY)[0]).toMatch(/Only members of the on-call group/);
    expect(threadTexts(harness, ref).filter((t) => t.includes('Refused: <@U0MALLORY>'))).toHaveLength(1);
    expect(await rollOf(harness)).toBeNull();
    expect(runner.sentTo('restart-containerd')).toEqual([]);
    for (const incident of incidents)
      expect((await harness.store.get(incident.id))!.phase).toBe('awaiting-approval');
  });

  it('offers no roll to a cluster whose held nodes disagree on the cause, and refuses an older button', async () => {
    const { harness, runner, ids } = await storm(4);
    runner
      .node(ids[0]!, 'daemon-stopped', 'restart-containerd')
      .node(ids[1]!, 'daemon-stopped', 'restart-containerd');
    runner
      .node(ids[2]!, 'fd-exhaustion', 'restart-containerd')
      .node(ids[3]!, 'fd-exhaustion', 'restart-containerd');
    // The first two agree: the summary offers a roll. Then two nodes with another cause join.
    await arrive(harness, ids.slice(0, 2));
    const { ref } = await clusterThread(harness, 2);
    const older = clickRequest(harness, ref, ALICE);
    await arrive(harness, ids.slice(2));
    const { record } = await clusterThread(harness, 4, 'No rolling fix offered');
    const root = JSON.stringify(harness.standIn.message(CHANNEL, ref.ts)!.blocks);
    expect(root).not.toContain('nm_roll:');
    expect(root).toMatch(
      /the held nodes disagree on the cause \(containerd-down on 2 nodes, fd-exhaustion on 2 nodes\)/,
    );
    expect(offerRoll(harness.deps.policy, 'prod', await heldNodes(harness.deps, record)).kind).toBe('none');

    // The button of the summary before they joined is refused with the reason, and nothing runs.
    expect((await harness.deliver(older)).statusCode).toBe(200);
    expect(ephemerals(harness, ALICE).join('\n')).toMatch(
      /No rolling fix started: the held nodes disagree on the cause/,
    );
    expect(await rollOf(harness)).toBeNull();
    expect(runner.sentTo('restart-containerd')).toEqual([]);
  });
  it("answers the click within Slack's 3 s while the channel's pace is taken, and shows the roll once it frees", async () => {
    const { harness, runner, ids } = await storm(3);
    for (const id of ids) runner.node(id, 'daemon-stopped', 'restart-containerd');
    await arrive(harness, ids);
    const { ref } = await clusterThread(harness, 3);
    // Other writers hold the channel's one call a second for the next 6 seconds.
    const now = Math.floor(Date.now() / 1000);
    for (let second = now; second < now + 6; second++)
      await harness.store.claimOnce(`slack-pace:${CHANNEL}:${second}`, 60);
    const started = Date.now();
    expect((await click(harness, ref, ALICE)).statusCode).toBe(200);
    // Bolt's Lambda receiver answers Slack only when the listener is done; Slack retries after 3 s.
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(await rollOf(harness)).toMatchObject({ approvedBy: ALICE });
    expect(ephemerals(harness, ALICE)).toEqual([
      'Rolling Restart containerd approved: batch 1 of 1 (3 node(s)) is starting.',
    ]);
    // Said to her in the cluster thread, not under the channel's last message.
    expect(
      harness.standIn
        .messages(CHANNEL)
        .filter((m) => m.ephemeral_for === ALICE)
        .map((m) => m.thread_ts),
    ).toEqual([ref.ts]);
    // Nothing is lost: the roll goes on, and the root shows it once the channel is free again.
    await until(async () => (await rollOf(harness))?.state === 'completed', 'the roll to complete', 45_000);
    expect(runner.sentTo('restart-containerd').sort()).toEqual([...ids].sort());
    await expectRootShowsCompletedRoll(harness, ref);
  });

  it('starts nothing when the roll cannot be written, says so, and lets the same engineer press again', async () => {
    const { harness, runner, ids } = await storm(3);
    for (const id of ids) runner.node(id, 'daemon-stopped', 'restart-containerd');
    await arrive(harness, ids);
    const { ref } = await clusterThread(harness, 3);
    const updateCluster = harness.store.updateCluster.bind(harness.store);
    let failures = 1;
    harness.store.updateCluster = async (...args: Parameters<typeof updateCluster>) => {
      if (failures-- > 0)
        throw new DependencyError('STORE_FAILED', 'update cluster prod: internal server error');
      return updateCluster(...args);
    };
    expect((await click(harness, ref, ALICE)).statusCode).toBe(200);
    expect(await rollOf(harness)).toBeNull();
    expect(runner.sentTo('restart-containerd')).toEqual([]);
    expect(ephemerals(harness, ALICE)).toEqual([
      'The rolling fix could not be started (STORE_FAILED: update cluster prod: internal server error). Nothing ran; press the button again.',
    ]);

    // Her second press is not taken for a repeat of the first: it starts the roll.
    expect((await click(harness, ref, ALICE)).statusCode).toBe(200);
    await until(async () => (await rollOf(harness))?.state === 'completed', 'the roll to complete', 45_000);
    expect(runner.sentTo('restart-containerd').sort()).toEqual([...ids].sort());
    expect(ephemerals(harness, ALICE).join('\n')).not.toMatch(/already pressed/);
  });

  it.each([
    ["one node's approval cannot be recorded", 1, 0, false],
    // Every start fails inside the click, and other writers hold the channel's pace: the stop is
    // said all the same (the click waits for it), never left for an event to come.
    ["no node's approval can be recorded, in a busy channel", 3, 3, false],
    // The store throttles the roll's write of that failure once: tried again, it still stops there.
    ["one node's approval cannot be recorded and the roll's next write is throttled", 1, 0, true],
  ] as const)(
    'stops the roll, and says so, when %s: no node is left started on paper only',
    async (_, failing, busySeconds, throttleOnce) => {
      const { harness, runner, ids } = await storm(3);
      for (const id of ids) runner.node(id, 'daemon-stopped', 'restart-containerd');
      const incidents = await arrive(harness, ids);
      const { ref } = await clusterThread(harness, 3);
      const update = harness.store.update.bind(harness.store);
      const failures = new Set(incidents.slice(0, failing).map((i) => i.id));
      let throttles = throttleOnce ? 1 : 0;
      harness.store.update = async (...args: Parameters<typeof update>) => {
        if (failures.delete(args[0])) {
          // The next write of the roll, the one that records this failure, is throttled.
          const updateCluster = harness.store.updateCluster.bind(harness.store);
          harness.store.updateCluster = async (...more: Parameters<typeof updateCluster>) => {
            if (throttles-- > 0)
              throw new DependencyError('STORE_THROTTLED', 'update cluster prod: throttled', {
                retryable: true,
              });
            return updateCluster(...more);
          };
          throw new DependencyError('STORE_FAILED', `update ${args[0]}: internal server error`);
        }
        return update(...args);
      };
      const now = Math.floor(Date.now() / 1000);
      for (let second = now; second < now + busySeconds; second++)
        await harness.store.claimOnce(`slack-pace:${CHANNEL}:${second}`, 60);
      expect((await click(harness, ref, ALICE)).statusCode).toBe(200);
      const stopped = await stoppedRoll(harness);
      expect(stopped.failed).toMatchObject({
        node: ids[0],
        detail: expect.stringContaining('its approval could not be recorded (STORE_FAILED'),
      });
      // The nodes never got the approval: they still wait, held, and nothing ran on them.
      for (const incident of incidents.slice(0, failing)) {
        const held = (await harness.store.get(incident.id))!;
        expect(held.phase).toBe('awaiting-approval');
        expect(held.taskToken).not.toBeNull();
        expect(runner.sentTo('restart-containerd')).not.toContain(incident.node.instanceId);
      }
      const said = await saidInThread(harness, ref, /stopped at/);
      expect(said).toHaveLength(1);
      expect(said[0]).toContain(ids[0]);
      expect(said[0]).toContain('<!subteam^S0ONCALL>');
    },
  );

  it('stops at a node whose execution cannot be resumed, though its escalation cannot be written either, and starts the rest of its batch', async () => {
    const { harness, runner, ids } = await storm(3);
    for (const id of ids) runner.node(id, 'daemon-stopped', 'restart-containerd');
    const incidents = await arrive(harness, ids);
    const { ref } = await clusterThread(harness, 3);
    const token = (await harness.store.get(incidents[1]!.id))!.taskToken!;
    const resume = harness.workflow.resume.bind(harness.workflow);
    harness.workflow.resume = async (taskToken, output) => {
      if (taskToken === token)
        throw new DependencyError('SFN_FAILED', 'SendTaskSuccess failed (InternalFailure)');
      return resume(taskToken, output);
    };
    const update = harness.store.update.bind(harness.store);
    let writes = 0;
    harness.store.update = async (...args: Parameters<typeof update>) => {
      // Its approval is written; the write that would escalate it is not.
      if (args[0] === incidents[1]!.id && ++writes === 2)
        throw new DependencyError('STORE_FAILED', `update ${args[0]}: internal server error`);
      return update(...args);
    };
    expect((await click(harness, ref, ALICE)).statusCode).toBe(200);
    const stopped = await stoppedRoll(harness);
    expect(writes).toBe(2);
    expect(stopped.failed).toMatchObject({
      node: ids[1],
      detail: expect.stringContaining('its workflow could not be resumed (SFN_FAILED'),
    });
    expect(runner.sentTo('restart-containerd').sort()).toEqual([ids[0], ids[2]].sort());
    expect(await saidInThread(harness, ref, /stopped at/)).toHaveLength(1);
  });

  it('tells the clicker what became of the roll when a write after it failed, and says its end later', async () => {
    const { harness, runner, ids } = await storm(3);
    for (const id of ids) runner.node(id, 'daemon-stopped', 'restart-containerd');
    const incidents = await arrive(harness, ids);
    const { ref } = await clusterThread(harness, 3);
    // No node's approval can be recorded, so the roll stops inside the click; then the mark of its
    // end, the click's last write, is throttled.
    const update = harness.store.update.bind(harness.store);
    const failing = new Set(incidents.map((i) => i.id));
    harness.store.update = async (...args: Parameters<typeof update>) => {
      if (failing.delete(args[0]))
        throw new DependencyError('STORE_FAILED', `update ${args[0]}: internal error`);
      return update(...args);
    };
    const updateCluster = harness.store.updateCluster.bind(harness.store);
    let throttled = 0;
    harness.store.updateCluster = async (...args: Parameters<typeof updateCluster>) => {
      const roll = (await harness.store.getCluster('prod'))?.roll;
      if (roll?.state === 'stopped' && roll.running.length === 0 && throttled++ === 0)
        throw new DependencyError('STORE_THROTTLED', 'update cluster prod: throttled', { retryable: true });
      return updateCluster(...args);
    };
    expect((await click(harness, ref, ALICE)).statusCode).toBe(200);
    expect(throttled).toBe(1);
    const answer = ephemerals(harness, ALICE);
    expect(answer).toHaveLength(1);
    expect(answer[0]).toMatch(/^Approved, and over already: Rolling Restart containerd stopped at /);
    expect(answer[0]).not.toMatch(/Nothing ran/);
    expect(threadTexts(harness, ref).filter((t) => /stopped at/.test(t))).toEqual([]);
    // A held node's wait running out moves the roll no more, but says the end no one said yet.
    await rollNodeEnded(harness.deps, (await harness.store.get(incidents[0]!.id))!, {
      kind: 'escalated',
      reason: 'approval-timeout',
    });
    expect(await saidInThread(harness, ref, /stopped at/)).toHaveLength(1);
    expect((await rollOf(harness))!.announced).toBe('stopped');
  });

  it('counts a node whose recheck found the cause gone apart: nothing ran there, so it is not called fixed', async () => {
    const { harness, runner, ids } = await storm(3);
    // The middle node's recheck finds containerd back: its workflow skips the fix.
    const gone = ids[1]!;
    for (const id of ids) {
      if (id !== gone) runner.node(id, 'daemon-stopped', 'restart-containerd');
    }
    runner
      .queue(`${gone}:diagnose`, { stdout: recorded('daemon-stopped') }, { stdout: recorded('healthy') })
      .queue(`${gone}:restart-containerd`, fixOk('restart-containerd'));
    const incidents = await arrive(harness, ids);
    const { ref } = await clusterThread(harness, 3);
    await click(harness, ref, ALICE);

    const done = await completedRoll(harness);
    expect(await harness.workflow.finished(incidents[1]!.id)).toBe('skipped');
    expect(runner.sentTo('restart-containerd').sort()).toEqual([ids[0], ids[2]].sort());
    expect(done).toMatchObject({ failed: null, skipped: [] });
    expect(done.done.map((m) => m.node).sort()).toEqual([ids[0], ids[2]].sort());
    expect(done.causeGone?.map((m) => m.node)).toEqual([gone]);

    // The end message and the root say 2 fixed and 1 with nothing run, never 3 fixed.
    const said = await saidInThread(harness, ref, /Rolling Restart containerd completed/);
    expect(said).toHaveLength(1);
    expect(said[0]).toContain(
      '3 node(s) done, 2 fixed and verified, 1 with its cause gone before its fix (nothing run)',
    );
    expect(said[0]).not.toMatch(/3 node\(s\) fixed/);
    const root = await until(
      async () => {
        const m = harness.standIn.message(CHANNEL, ref.ts);
        return m?.text.includes('held nodes done') ? m : null;
      },
      'the summary to show the completed roll',
      20_000,
    );
    expect(root.text).toMatch(
      /^Cluster prod: all 3 held nodes done: 2 fixed and verified by a rolling fix, 1 with its cause gone before its fix \(nothing run\)\./,
    );
    expect(`${root.text}${JSON.stringify(root.blocks)}`).not.toContain('3 held nodes fixed');
  });

  it.each([
    ['recovered before its batch: counted apart, the roll ran nothing there', 'recovered'],
    ['was taken over by a person before its batch: counted as left, not as recovered', 'closed'],
  ] as const)('counts a queued node that %s', async (_, phase) => {
    const { harness, ids } = await storm(4);
    // The first batch's fixes wait at the runner until the fourth node's alarm is back to OK.
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    class GatedRunner extends FleetRunner {
      override async send(request: CommandRequest): Promise<{ commandId: string }> {
        if (request.script === 'restart-containerd') await gate;
        return super.send(request);
      }
    }
    const runner = new GatedRunner();
    (harness.deps as { runner: CommandRunner }).runner = runner;
    for (const id of ids) runner.node(id, 'daemon-stopped', 'restart-containerd');
    const incidents = await arrive(harness, ids);
    const { ref } = await clusterThread(harness, 4);
    await click(harness, ref, ALICE);
    await until(async () => (await rollOf(harness))?.running.length === 3, 'the first batch to start');
    const last = NODES.find((n) => n.instanceId === ids[3])!;
    if (phase === 'recovered') {
      await handleAlarm(
        harness.deps,
        parseAlarmEvent(
          notReadyAlarmEvent({
            alarmName: 'nodemedic-prod',
            instanceId: last.instanceId,
            nodeName: last.nodeName!,
            cluster: 'prod',
            state: 'OK',
          }),
        ),
      );
    } else {
      // As the deny button of a card posted before the hold closes it: a person handles the node.
      await harness.store.update(incidents[3]!.id, (current) => ({
        ...current,
        phase: 'closed',
        taskToken: null,
        audit: [
          ...current.audit,
          {
            at: new Date().toISOString(),
            action: 'denied',
            actor: BOB,
            detail: 'denied the fixes: a person handles it',
          },
        ],
      }));
    }
    expect((await harness.store.get(incidents[3]!.id))!.phase).toBe(phase);
    release();

    const done = await completedRoll(harness);
    expect(runner.sentTo('restart-containerd').sort()).toEqual(ids.slice(0, 3).sort());
    expect(done.done.map((m) => m.node).sort()).toEqual(ids.slice(0, 3).sort());
    expect(done.causeGone?.map((m) => m.node) ?? []).toEqual(phase === 'recovered' ? [ids[3]] : []);
    const said = await saidInThread(harness, ref, /Rolling Restart containerd completed/);
    expect(said[0]).toContain(
      phase === 'recovered'
        ? '4 node(s) done, 3 fixed and verified, 1 with its cause gone before its fix (nothing run)'
        : 'it was closed, not waiting, when its batch came',
    );
  });
});
