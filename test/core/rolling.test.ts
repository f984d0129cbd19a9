/**
 * The rolling fix as data: which fix a held cluster is offered (and why none), and the roll's
 * transitions: batches, completion, the stop at the first failure, and idempotent repeats.
 */
import { describe, expect, it } from 'vitest';
import type { RemediationId } from '../../functions/core/model.js';
import { DEFAULT_SAFETY_POLICY, type SafetyPolicy } from '../../functions/core/policy.js';
import {
  type HeldNode,
  offerRoll,
  type Roll,
  type RollEffect,
  type RollOffer,
  rollReduce,
  totalBatches,
} from '../../functions/core/rolling.js';

const policy = (over: Partial<SafetyPolicy> = {}): SafetyPolicy => ({
  ...DEFAULT_SAFETY_POLICY,
  maxFixesInFlightPerCluster: 3,
  ...over,
});

function held(i: number, over: Partial<HeldNode> = {}): HeldNode {
  return {
    incidentId: `prod#i-0000000000000000${i}#t`,
    node: `i-0000000000000000${i}`,
    status: 'waiting',
    findings: [
      {
        cause: 'containerd-down',
        confidence: 'high',
        remediations: ['restart-containerd', 'reboot-instance'],
      },
    ],
    offered: ['restart-containerd', 'reboot-instance'],
    ...over,
  };
}

const seven = Array.from({ length: 7 }, (_, i) => held(i));

function offer(nodes: readonly HeldNode[] = seven, p = policy()): Extract<RollOffer, { kind: 'offer' }> {
  const o = offerRoll(p, 'prod', nodes);
  if (o.kind !== 'offer') throw new Error(`no offer: ${o.reason}`);
  return o;
}

const resumed = (effects: readonly RollEffect[]) =>
  effects.flatMap((e) => (e.kind === 'resume' ? [e.member.node] : []));

describe('the roll offered to a held cluster', () => {
  it('is the common cause’s safe fix, over the waiting nodes, in batches of the fix slots', () => {
    const o = offer([...seven, held(8, { status: 'diagnosing', findings: [], offered: [] })]);
    expect(o).toMatchObject({
      remediation: 'restart-containerd',
      tier: 'safe',
      cause: 'containerd-down',
      batchSize: 3,
    });
    expect(o.nodes).toHaveLength(7);
  });

  it('takes the policy’s batch size, never above the fix slots', () => {
    expect(
      offer(seven, policy({ rollingFix: { enabled: true, allowedTiers: ['safe'], batchSize: 2 } })).batchSize,
    ).toBe(2);
    expect(offer(seven, policy({ maxFixesInFlightPerCluster: 1 })).batchSize).toBe(1);
  });

  it.each<[string, readonly HeldNode[], Partial<SafetyPolicy>, RegExp]>([
    [
      'held nodes that disagree on the cause',
      [
        ...seven.slice(0, 5),
        held(5, {
          findings: [{ cause: 'fd-exhaustion', confidence: 'high', remediations: ['raise-nofile'] }],
        }),
        held(6, {
          findings: [{ cause: 'fd-exhaustion', confidence: 'high', remediations: ['raise-nofile'] }],
        }),
      ],
      {},
      /disagree on the cause \(containerd-down on 5 nodes, fd-exhaustion on 2 nodes\)/,
    ],
    [
      'a node with no cause found',
      [...seven, held(8, { status: 'other', findings: [], offered: [] })],
      {},
      /1 node with no cause found \(i-00000000000000008\)/,
    ],
    [
      'a low-confidence diagnosis',
      [
        held(0),
        held(1, {
          findings: [{ cause: 'containerd-down', confidence: 'low', remediations: ['restart-containerd'] }],
        }),
      ],
      {},
      /low-confidence diagnosis on 1 node/,
    ],
    [
      'a cause whose only fix is destructive',
      [0, 1].map((i) =>
        held(i, {
          findings: [
            { cause: 'state-corruption', confidence: 'high', remediations: ['reset-state', 'replace-node'] },
          ],
          offered: ['reset-state', 'replace-node'],
        }),
      ),
      { rollingFix: { enabled: true, allowedTiers: ['safe', 'disruptive'] } },
      /no safe or disruptive fix for state-corruption is offered on every held node/,
    ],
    [
      'a safe fix one node does not offer',
      [held(0), held(1, { offered: ['reboot-instance'] })],
      {},
      /no safe fix for containerd-down is offered on every held node/,
    ],
    ['rolling turned off', seven, { rollingFix: { enabled: false, allowedTiers: ['safe'] } }, /turned off/],
    ['a shadow cluster', seven, { shadowClusters: ['prod'] }, /shadow mode/],
    [
      'nothing diagnosed yet',
      [held(0, { status: 'diagnosing', findings: [] })],
      {},
      /no held node is diagnosed yet/,
    ],
    ['nothing waiting', [held(0, { status: 'other' })], {}, /no held node is waiting/],
  ])('is none, with the reason, for %s', (_name, nodes, over, reason) => {
    const o = offerRoll(policy(over), 'prod', nodes);
    expect(o.kind).toBe('none');
    expect(o.kind === 'none' && o.reason).toMatch(reason);
  });

  it('offers a disruptive fix only when the policy allows that tier', () => {
    const fd = {
      cause: 'fd-exhaustion',
      confidence: 'high',
      remediations: ['raise-nofile', 'restart-containerd'],
    } as const;
    const nofile = [0, 1].map((i) =>
      held(i, { findings: [fd], offered: ['raise-nofile'] as RemediationId[] }),
    );
    expect(offerRoll(policy(), 'prod', nofile).kind).toBe('none');
    const o = offer(nofile, policy({ rollingFix: { enabled: true, allowedTiers: ['safe', 'disruptive'] } }));
    expect(o).toMatchObject({ remediation: 'raise-nofile', tier: 'disruptive' });
    // Both allowed: the finding's own ranking decides (raise-nofile first for fd-exhaustion).
    const both = [0, 1].map((i) =>
      held(i, { findings: [fd], offered: ['raise-nofile', 'restart-containerd'] }),
    );
    expect(offer(both).remediation).toBe('restart-containerd');
  });
});

describe('the roll', () => {
  const start = (o = offer()) =>
    rollReduce(null, { kind: 'start', offer: o, by: 'U0ALICE', at: '2026-11-29T15:00:00.000Z' });

  it('fixes 7 nodes in batches of 3, each batch after the last recovered, then completes', () => {
    let { roll, effects } = start();
    expect(resumed(effects)).toEqual(seven.slice(0, 3).map((n) => n.node));
    expect(roll).toMatchObject({ state: 'running', batches: 1, approvedBy: 'U0ALICE' });
    expect(totalBatches(roll!)).toBe(3);
    const order: string[][] = [resumed(effects)];
    for (let guard = 0; roll!.state === 'running' && guard < 20; guard++) {
      const [first] = roll!.running;
      ({ roll, effects } = rollReduce(roll, { kind: 'node-recovered', incidentId: first!.incidentId }));
      const next = resumed(effects);
      if (next.length) {
        expect(roll!.running.map((m) => m.node)).toEqual(next);
        order.push(next);
      }
    }
    expect(order.map((b) => b.length)).toEqual([3, 3, 1]);
    expect(roll).toMatchObject({ state: 'completed', batches: 3, queued: [], running: [], failed: null });
    expect(roll!.done).toHaveLength(7);
    expect(effects).toContainEqual({ kind: 'announce', state: 'completed' });
  });

  it('starts no batch until the whole current one is through', () => {
    const { roll } = start();
    const { roll: after, effects } = rollReduce(roll, {
      kind: 'node-recovered',
      incidentId: roll!.running[0]!.incidentId,
    });
    expect(resumed(effects)).toEqual([]);
    expect(after!.running).toHaveLength(2);
  });

  it('stops at the first failed verification: later batches never start, the queued stay held', () => {
    let { roll } = start();
    ({ roll } = rollReduce(roll, { kind: 'node-recovered', incidentId: roll!.running[0]!.incidentId }));
    const failing = roll!.running[0]!;
    const stopped = rollReduce(roll, {
      kind: 'node-failed',
      incidentId: failing.incidentId,
      detail: 'not-recovered',
    });
    expect(stopped.roll).toMatchObject({
      state: 'stopped',
      failed: { node: failing.node, detail: 'not-recovered' },
    });
    expect(stopped.effects).toContainEqual({ kind: 'announce', state: 'stopped' });
    expect(stopped.roll!.queued).toHaveLength(4);
    // The rest of the batch ends either way; nothing new starts, and the stop is said once.
    const last = stopped.roll!.running[0]!;
    const after = rollReduce(stopped.roll, { kind: 'node-recovered', incidentId: last.incidentId });
    expect(resumed(after.effects)).toEqual([]);
    expect(after.effects.some((e) => e.kind === 'announce')).toBe(false);
    expect(after.roll).toMatchObject({ state: 'stopped', queued: stopped.roll!.queued });
    const again = rollReduce(stopped.roll, {
      kind: 'node-failed',
      incidentId: last.incidentId,
      detail: 'fix-failed',
    });
    expect(again.roll!.failed!.node).toBe(failing.node);
    expect(again.roll!.alsoFailed.map((f) => f.node)).toEqual([last.node]);
    expect(again.effects.some((e) => e.kind === 'announce')).toBe(false);
  });

  it('changes nothing on a second start or a repeated event', () => {
    const first = start();
    expect(rollReduce(first.roll, { kind: 'start', offer: offer(), by: 'U0BOB', at: 'later' })).toEqual({
      roll: first.roll,
      effects: [],
    });
    const id = first.roll!.running[0]!.incidentId;
    const once = rollReduce(first.roll, { kind: 'node-recovered', incidentId: id });
    expect(rollReduce(once.roll, { kind: 'node-recovered', incidentId: id })).toEqual({
      roll: once.roll,
      effects: [],
    });
    expect(rollReduce(once.roll, { kind: 'node-failed', incidentId: id, detail: 'late' }).effects).toEqual(
      [],
    );
    expect(rollReduce(null, { kind: 'node-recovered', incidentId: id })).toEqual({ roll: null, effects: [] });
  });

  it('skips a queued node whose incident ended before its batch, without stopping', () => {
    const { roll } = start();
    const queued = roll!.queued[0]!;
    const { roll: after, effects } = rollReduce(roll, {
      kind: 'node-failed',
      incidentId: queued.incidentId,
      detail: 'approval-timeout',
    });
    expect(after).toMatchObject({
      state: 'running',
      skipped: [{ node: queued.node, detail: 'approval-timeout' }],
    });
    expect(effects.some((e) => e.kind === 'announce')).toBe(false);
  });

  it('counts a node whose cause was gone before its fix apart from the fixed, and goes on as after a recovery', () => {
    let { roll } = start(offer(seven.slice(0, 4)));
    const [gone, ...rest] = roll!.running;
    let effects: RollEffect[];
    ({ roll, effects } = rollReduce(roll, { kind: 'node-cause-gone', incidentId: gone!.incidentId }));
    expect(roll).toMatchObject({ state: 'running', done: [], causeGone: [gone] });
    expect(effects).toEqual([{ kind: 'refresh' }]);
    // Said again (a retried step), or as a recovery after it: nothing changes.
    expect(rollReduce(roll, { kind: 'node-cause-gone', incidentId: gone!.incidentId })).toEqual({
      roll,
      effects: [],
    });
    expect(rollReduce(roll, { kind: 'node-recovered', incidentId: gone!.incidentId }).effects).toEqual([]);
    for (const m of rest)
      ({ roll, effects } = rollReduce(roll, { kind: 'node-recovered', incidentId: m.incidentId }));
    // Not a failure: the next batch starts once the rest of this one recovered.
    expect(resumed(effects)).toEqual([seven[3]!.node]);
    ({ roll, effects } = rollReduce(roll, { kind: 'node-recovered', incidentId: seven[3]!.incidentId }));
    expect(roll).toMatchObject({ state: 'completed', failed: null, skipped: [] });
    expect(roll!.done.map((m) => m.node)).toEqual([...rest, seven[3]!].map((m) => m.node));
    expect(roll!.causeGone).toEqual([gone]);
    expect(effects).toContainEqual({ kind: 'announce', state: 'completed' });
  });

  it('counts a queued node whose cause was gone apart too, on a roll recorded before the count existed', () => {
    const { roll } = start();
    const { causeGone: _, ...older } = roll!;
    const queued = older.queued[0]!;
    const after = rollReduce(older, { kind: 'node-cause-gone', incidentId: queued.incidentId });
    expect(after.roll).toMatchObject({ state: 'running', causeGone: [queued], done: [] });
    expect(after.roll!.queued).not.toContainEqual(queued);
  });

  it('completes when the last batch’s nodes leave the roll one way or another', () => {
    let { roll } = start(offer(seven.slice(0, 2)));
    ({ roll } = rollReduce(roll, { kind: 'node-recovered', incidentId: roll!.running[0]!.incidentId }));
    const end = rollReduce(roll, { kind: 'node-recovered', incidentId: roll!.running[0]!.incidentId });
    expect((end.roll as Roll).state).toBe('completed');
  });
});
