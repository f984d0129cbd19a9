/**
 * A cluster-only alarm (cluster_failed_node_count) through the real alarm use case: per-node
 * readiness first, else a sweep; each unhealthy node opened through the per-node path; one summary
 * in the channel (the Slack stand-in over HTTP); idempotent under redelivery without losing a run
 * that failed half-way. The sweeper plays back outputs the diagnostic script really printed against
 * a real containerd (test/fixtures/facts/recorded/); the sweep of real local nodes is in
 * test/integration/sweep.int.test.ts.
 */
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AppDeps } from '../../functions/app/deps.js';
import { handleAlarm } from '../../functions/app/incidents.js';
import { type ParsedAlarm, parseAlarmEvent } from '../../functions/core/alarm.js';
import type {
  ClusterSweeper,
  NodeReadiness,
  ReadinessNode,
  SweepLimits,
  SweepNodeResult,
  SweepResults,
} from '../../functions/core/ports.js';
import { CHANNEL, type Harness, NODE, NODES, recorded, startHarness } from './support.js';

/** The harness's other nodes (same cluster, prod): i-0abc123def4567800 … 08. */
const other = (i: number) => NODES[i + 1]!.instanceId;

function clusterOnly(
  state: 'ALARM' | 'OK' = 'ALARM',
  timestamp = '2026-11-27T03:14:07.125+0000',
): ParsedAlarm {
  const event = JSON.parse(
    readFileSync(
      new URL(
        `../fixtures/alarms/${state === 'ALARM' ? 'cluster-only' : 'cluster-only-ok'}.json`,
        import.meta.url,
      ),
      'utf8',
    ),
  );
  event.detail.state.timestamp = timestamp;
  return parseAlarmEvent(event);
}

/** A sweeper that answers with given per-node results (done at once unless told otherwise). */
class PlaybackSweeper implements ClusterSweeper {
  readonly started: { cluster: string; limits: SweepLimits; comment: string }[] = [];
  constructor(
    private readonly nodes: SweepNodeResult[],
    private readonly options: { done?: boolean; targeted?: number } = {},
  ) {}
  async start(cluster: string, options: { limits: SweepLimits; comment: string }) {
    this.started.push({ cluster, ...options });
    return { commandId: `sweep-${this.started.length}` };
  }
  async results(): Promise<SweepResults> {
    return {
      done: this.options.done ?? true,
      nodes: this.nodes,
      targeted: this.options.targeted ?? this.nodes.length,
    };
  }
}

class FixedReadiness implements NodeReadiness {
  calls = 0;
  constructor(private readonly notReadyNodes: readonly ReadinessNode[] | null) {}
  async notReady() {
    this.calls += 1;
    return this.notReadyNodes;
  }
  async nodeState() {
    return 'unknown' as const;
  }
}

const ok = (instanceId: string, fixture: string): SweepNodeResult => ({
  instanceId,
  status: 'success',
  detail: 'Success',
  output: recorded(fixture),
});

describe('a cluster-only alarm', () => {
  let h: Harness;
  let deps: AppDeps;
  let started: string[];

  beforeEach(async () => {
    h = await startHarness({});
    started = [];
    // The opening path runs for real; only the workflow's execution is recorded, not run.
    h.workflow.start = async (incidentId: string) => {
      started.push(incidentId);
      return { executionId: `exec-${started.length}` };
    };
  });
  afterEach(() => h.close());

  const summaries = () => h.standIn.messages(CHANNEL).filter((m) => /^Cluster prod: /.test(m.text));

  it('with no per-node readiness, sweeps the cluster and opens exactly the nodes that are not healthy', async () => {
    const sweeper = new PlaybackSweeper([
      ok(NODE.instanceId, 'daemon-stopped'),
      ok(other(0), 'healthy'),
      ok(other(1), 'healthy-2.1.9'),
      { instanceId: other(2), status: 'undeliverable', detail: 'DeliveryTimedOut', output: '' },
      ok(other(3), 'fd-exhaustion'),
      ...[4, 5, 6, 7, 8].map((i) => ok(other(i), 'healthy')),
    ]);
    deps = { ...h.deps, sweeper, readiness: new FixedReadiness(null) };

    const outcome = await handleAlarm(deps, clusterOnly());

    expect(outcome).toMatchObject({
      kind: 'cluster-checked',
      cluster: 'prod',
      source: 'sweep',
      headline: '10 nodes probed, 7 healthy, 2 with findings, 1 unreachable',
    });
    const opened = (outcome as Extract<typeof outcome, { kind: 'cluster-checked' }>).nodes;
    expect(opened.map((n) => [n.instanceId, n.kind])).toEqual([
      [other(2), 'opened'],
      [other(3), 'opened'],
      [NODE.instanceId, 'opened'],
    ]);
    expect(sweeper.started).toEqual([
      {
        cluster: 'prod',
        limits: { maxConcurrency: '20%', maxErrors: '50%' },
        comment: 'nodemedic sweep prod (nodemedic-prod-failed-nodes)',
      },
    ]);
    // Each through the per-node path: an open incident per node, a card, an execution.
    for (const id of [NODE.instanceId, other(2), other(3)]) {
      const incident = await h.store.findOpenByNode(`prod#${id}`);
      expect(incident?.alarmName).toBe('nodemedic-prod-failed-nodes');
      expect(incident?.card).not.toBeNull();
    }
    expect(await h.store.findOpenByNode(`prod#${other(0)}`)).toBeNull();
    expect(started).toHaveLength(3);
    // One summary that says what was checked.
    const [summary, ...more] = summaries();
    expect(more).toEqual([]);
    expect(summary!.text).toContain(
      'Cluster prod: 10 nodes probed, 7 healthy, 2 with findings, 1 unreachable: ',
    );
    expect(summary!.text).toContain(`${NODE.instanceId} (containerd-down)`);
    expect(summary!.text).toContain(
      `${other(2)} (unreachable: the probe was not delivered (DeliveryTimedOut))`,
    );
    expect(JSON.stringify(summary!.blocks)).toContain("The alarm's OK closes nothing");
  });

  it('answers a redelivery of a handled change with nothing new: no second summary, no second incident', async () => {
    deps = { ...h.deps, sweeper: new PlaybackSweeper([ok(NODE.instanceId, 'daemon-stopped')]) };
    await handleAlarm(deps, clusterOnly());
    const again = await handleAlarm(deps, clusterOnly());
    const third = await handleAlarm(deps, clusterOnly());

    expect(again).toMatchObject({ kind: 'ignored', reason: expect.stringMatching(/already handled/) });
    expect(third).toMatchObject({ kind: 'ignored' });
    expect(summaries()).toHaveLength(1);
    expect(started).toHaveLength(1);
    // A new change of the same alarm (another state timestamp) is checked again.
    const later = await handleAlarm(deps, clusterOnly('ALARM', '2026-11-27T04:00:00.000+0000'));
    expect(later).toMatchObject({ kind: 'cluster-checked' });
    expect(summaries()).toHaveLength(2);
  });

  it('does not lose a run that failed half-way: the redelivery posts the summary, the nodes answer "duplicate"', async () => {
    deps = {
      ...h.deps,
      sweeper: new PlaybackSweeper([ok(NODE.instanceId, 'daemon-stopped'), ok(other(0), 'healthy')]),
    };
    // The node's card is the first post, the summary the second: Slack refuses the summary twice.
    h.standIn.failCall(2, ['chat.postMessage'], 'ratelimited');
    await expect(handleAlarm(deps, clusterOnly())).rejects.toThrow();
    expect(summaries()).toHaveLength(0);
    // The redelivery opens nothing new (no card): its first post is the summary, refused again.
    h.standIn.failNext('chat.postMessage', 'ratelimited');
    await expect(handleAlarm(deps, clusterOnly())).rejects.toThrow();
    expect(summaries()).toHaveLength(0);

    const third = await handleAlarm(deps, clusterOnly());
    expect(third).toMatchObject({
      kind: 'cluster-checked',
      nodes: [{ instanceId: NODE.instanceId, kind: 'duplicate' }],
    });
    expect(summaries()).toHaveLength(1);
    expect(started).toHaveLength(1);
    // And the change is handled from then on.
    expect(await handleAlarm(deps, clusterOnly())).toMatchObject({ kind: 'ignored' });
    expect(summaries()).toHaveLength(1);
  });

  it('takes the NotReady nodes from per-node readiness when Container Insights has it, without a sweep', async () => {
    const sweeper = new PlaybackSweeper([]);
    const readiness = new FixedReadiness([
      { instanceId: other(4), nodeName: 'ip-10-0-2-4.ec2.internal' },
      { instanceId: null, nodeName: 'ip-10-0-2-5.ec2.internal' },
    ]);
    deps = { ...h.deps, sweeper, readiness };

    const outcome = await handleAlarm(deps, clusterOnly());

    expect(outcome).toMatchObject({
      kind: 'cluster-checked',
      source: 'readiness',
      headline: 'Container Insights reports 2 nodes NotReady',
      nodes: [
        { instanceId: other(4), kind: 'opened' },
        { instanceId: 'ip-10-0-2-5.ec2.internal', kind: 'opened' },
      ],
    });
    expect(sweeper.started).toEqual([]);
    expect(await h.store.findOpenByNode(`prod#${other(5)}`)).not.toBeNull();
    expect(summaries()[0]!.text).toBe(
      `Cluster prod: Container Insights reports 2 nodes NotReady: ${other(4)} (NotReady (Container Insights)); ip-10-0-2-5.ec2.internal (NotReady (Container Insights))`,
    );
  });

  it('sweeps anyway when readiness calls every node Ready while the alarm says a node failed', async () => {
    const sweeper = new PlaybackSweeper([ok(other(6), 'socket-removed')]);
    deps = { ...h.deps, sweeper, readiness: new FixedReadiness([]) };
    const outcome = await handleAlarm(deps, clusterOnly());
    expect(outcome).toMatchObject({ source: 'sweep', nodes: [{ instanceId: other(6), kind: 'opened' }] });
    expect(sweeper.started).toHaveLength(1);
  });

  it('says which node it could not open, and opens the others', async () => {
    deps = {
      ...h.deps,
      sweeper: new PlaybackSweeper([
        ok('i-0fff000000000000f', 'daemon-stopped'),
        ok(other(7), 'daemon-stopped'),
      ]),
    };
    const outcome = await handleAlarm(deps, clusterOnly());
    expect(outcome).toMatchObject({
      nodes: [
        { instanceId: other(7), kind: 'opened' },
        { instanceId: 'i-0fff000000000000f', kind: 'skipped', code: 'NODE_NOT_FOUND' },
      ],
    });
    expect(JSON.stringify(summaries()[0]!.blocks)).toContain(
      'not opened: instance i-0fff000000000000f is not in the inventory',
    );
  });

  it('waits for a sweep only as long as its bound, and counts the nodes that did not answer or SSM never reached', async () => {
    const sweeper = new PlaybackSweeper([ok(NODE.instanceId, 'healthy')], { done: false, targeted: 4 });
    deps = { ...h.deps, sweeper };
    const slept: number[] = [];
    const { handleClusterOnly } = await import('../../functions/app/sweep.js');
    const outcome = await handleClusterOnly(
      deps,
      clusterOnly(),
      async () => ({ kind: 'opened', incidentId: 'x' }),
      {
        waitSeconds: 20,
        sleep: async (ms) => {
          slept.push(ms);
        },
      },
    );
    expect(slept.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(20_000);
    expect(slept.length).toBeGreaterThan(2);
    // SSM targeted 4 and 1 answered in time; EC2 counts 10 running nodes with the cluster tag.
    expect(outcome).toMatchObject({
      headline: '1 of 10 nodes probed, 1 healthy; 9 not probed (no SSM agent answering, or not in time)',
      nodes: [],
    });
  });

  it('closes nothing on its OK: each node ends on its own evidence', async () => {
    const sweeper = new PlaybackSweeper([ok(NODE.instanceId, 'daemon-stopped')]);
    deps = { ...h.deps, sweeper };
    await handleAlarm(deps, clusterOnly());
    const outcome = await handleAlarm(deps, clusterOnly('OK'));
    expect(outcome).toMatchObject({
      kind: 'ignored',
      reason: expect.stringMatching(/OK closes no incident; each node's incident ends on its own evidence/),
    });
    expect((await h.store.findOpenByNode(`prod#${NODE.instanceId}`))?.phase).toBe('diagnosing');
  });

  it('is refused with a reason when it can neither read readiness nor sweep', async () => {
    await expect(handleAlarm(h.deps, clusterOnly())).rejects.toMatchObject({ code: 'ALARM_SWEEP_UNWIRED' });
  });
});
