/** The cluster hold decided at arrival, and the live summary's grouping (functions/core/cluster.ts). */
import { describe, expect, it } from 'vitest';
import {
  type ClusterIncident,
  type ClusterMember,
  decideHold,
  holdActive,
  newClusterIncident,
  summarize,
  versionLine,
} from '../../functions/core/cluster.js';
import { DEFAULT_SAFETY_POLICY, validateSafetyPolicy } from '../../functions/core/policy.js';

const NOW = '2026-11-29T15:00:00.000Z';
const policy = DEFAULT_SAFETY_POLICY;

const record = (over: Partial<ClusterIncident> = {}): ClusterIncident => ({
  ...newClusterIncident({
    cluster: 'prod',
    openedAt: NOW,
    reason: 'r',
    fleet: { total: 300, notReady: 250 },
  }),
  version: 1,
  ...over,
});

describe('decideHold', () => {
  it.each([
    // [open incidents, EC2 total, EC2 notReady, hold?]
    [1, 3, 0, false], // one node alone is no shared cause, even at 33%
    [2, 3, 0, true], // 67% of a small cluster
    [2, 10, 0, false], // 20%: below 30% and below 5 nodes
    [4, 300, 0, false], // 4 of 300: below both
    [5, 300, 0, true], // 5 at once: the absolute threshold, whatever the size
    [1, 10, 4, true], // EC2 sees 4 impaired of 10 (40%)
    [3, 10, 2, false], // overlap: max(3, 2) = 3, not 5
  ] as const)('%i open incidents, EC2 %i nodes with %i impaired → hold %s', (open, total, impaired, hold) => {
    const decision = decideHold({
      policy,
      openIncidents: open,
      fleet: { total, notReady: impaired },
      current: null,
      now: NOW,
    });
    expect(decision.hold).toBe(hold);
    if (decision.hold) expect(decision.how).toBe('open');
  });

  it('counts containerd failures EC2 passes: 250 open incidents with EC2 all OK hold the cluster', () => {
    const d = decideHold({
      policy,
      openIncidents: 250,
      fleet: { total: 300, notReady: 0 },
      current: null,
      now: NOW,
    });
    expect(d).toMatchObject({ hold: true, how: 'open', notReady: 250, total: 300 });
    if (d.hold) expect(d.detail).toContain('250 of 300 nodes NotReady (83%), above 30%');
  });

  it('keeps a node that is NotReady in the count when EC2 lists fewer nodes', () => {
    expect(
      decideHold({ policy, openIncidents: 3, fleet: { total: 0, notReady: 0 }, current: null, now: NOW }),
    ).toMatchObject({
      hold: true,
      total: 3,
    });
  });

  it('joins an open cluster incident joined recently, whatever the counts, and not one that lapsed or ended', () => {
    const input = { policy, openIncidents: 1, fleet: { total: 300, notReady: 0 }, now: NOW };
    const recent = record({ lastJoinedAt: '2026-11-29T14:01:00.000Z' });
    expect(decideHold({ ...input, current: recent })).toMatchObject({ hold: true, how: 'join' });
    const lapsed = record({ lastJoinedAt: '2026-11-29T13:59:59.000Z' });
    expect(holdActive(lapsed, NOW, policy)).toBe(false);
    expect(decideHold({ ...input, current: lapsed }).hold).toBe(false);
    expect(decideHold({ ...input, current: record({ phase: 'ended' }) }).hold).toBe(false);
  });

  it('takes its thresholds from the policy', () => {
    const strict = validateSafetyPolicy({ clusterHoldNodes: 50, clusterHoldPercent: 90 });
    expect(
      decideHold({
        policy: strict,
        openIncidents: 20,
        fleet: { total: 300, notReady: 0 },
        current: null,
        now: NOW,
      }).hold,
    ).toBe(false);
  });

  it.each([
    [{ clusterHoldMinNodes: 1 }, /clusterHoldMinNodes: 1 is outside 2\.\.10000/],
    [{ clusterHoldNodes: 2.5 }, /clusterHoldNodes: expected a whole number/],
    [{ clusterHoldMinutes: 0 }, /clusterHoldMinutes: 0 is outside 1\.\.1440/],
    [{ clusterHoldMinutes: '60' }, /clusterHoldMinutes: expected a number/],
  ])('refuses the policy %j', (bad, message) => {
    expect(() => validateSafetyPolicy(bad as never)).toThrow(message);
  });
});

describe('summarize', () => {
  const member = (n: number, over: Partial<ClusterMember> = {}): [string, ClusterMember] => {
    const instanceId = `i-0abc123def45${String(n).padStart(5, '0')}`;
    return [
      instanceId,
      {
        incidentId: `prod#${instanceId}#${NOW}`,
        instanceId,
        nodeName: `ip-10-0-${n}`,
        causes: null,
        joinedAt: NOW,
        ...over,
      },
    ];
  };

  it('says the common cause once, counts by cause, and lists the nodes of each group', () => {
    const members = Object.fromEntries([
      ...Array.from({ length: 212 }, (_, n) =>
        member(n, { causes: ['grpc-limits'], containerd: '2.1.9~ds1' }),
      ),
      ...Array.from({ length: 20 }, (_, n) =>
        member(300 + n, { causes: ['containerd-down'], containerd: 'v1.7.24' }),
      ),
      ...Array.from({ length: 3 }, (_, n) => member(400 + n, { causes: [] })),
      member(500, { causes: [], healthy: true }),
      ...Array.from({ length: 14 }, (_, n) => member(600 + n)),
    ]);
    const summary = summarize(record({ members }));
    expect(summary).toMatchObject({
      members: 250,
      diagnosed: 236,
      common: { label: 'containerd 2.1.x, grpc-limits', count: 212 },
      causeCounts: [
        { cause: 'grpc-limits', count: 212 },
        { cause: 'containerd-down', count: 20 },
      ],
    });
    expect(summary.groups.map((g) => [g.label, g.nodes.length])).toEqual([
      ['containerd 2.1.x, grpc-limits', 212],
      ['containerd 1.7.x, containerd-down', 20],
      ['no cause found', 3],
      ['healthy', 1],
      ['diagnosing', 14],
    ]);
  });

  it('has no common cause while every node is still being diagnosed', () => {
    expect(summarize(record({ members: Object.fromEntries([member(1), member(2)]) })).common).toBeNull();
  });

  it.each([
    ['2.1.9~ds1', '2.1.x'],
    ['v1.7.24', '1.7.x'],
    ['1.6', '1.6.x'],
    ['unknown', null],
    [null, null],
  ])('reads the version line of %j as %j', (version, line) => {
    expect(versionLine(version)).toBe(line);
  });
});
