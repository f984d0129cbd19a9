/**
 * The IncidentStore contract, as one suite run against every implementation (memory, DynamoDB):
 * whatever the local mode proves about deduplication, versions and one-shot keys holds in AWS.
 */
import { describe, expect, it } from 'vitest';
import { type ClusterMember, newClusterIncident } from '../../functions/core/cluster.js';
import type { Incident, IncidentPhase, IncidentStore } from '../../functions/core/incident.js';
import type { Finding } from '../../functions/core/model.js';

/** A fresh store per test, with a clock the test moves. */
export type StoreFactory = (clock: () => Date) => IncidentStore;

export const T0 = new Date('2026-11-27T03:14:07.000Z');

/** An incident as the alarm handler opens it. */
export function incidentInit(over: Partial<Incident> = {}): Omit<Incident, 'version'> {
  const instanceId = over.node?.instanceId ?? 'i-0abc123def4567890';
  const cluster = over.node?.cluster ?? 'prod';
  const openedAt = over.openedAt ?? T0.toISOString();
  return {
    id: `${cluster}#${instanceId}#${openedAt}`,
    nodeKey: `${cluster}#${instanceId}`,
    node: {
      instanceId,
      nodeName: 'ip-10-0-1-23.eu-west-1.compute.internal',
      cluster,
      autoScalingGroup: 'prod-nodes',
    },
    alarmName: 'nodemedic-notready-ip-10-0-1-23',
    openedAt,
    phase: 'diagnosing',
    card: null,
    findings: [],
    offered: [],
    requested: null,
    approvals: [],
    taskToken: null,
    attempts: 0,
    audit: [{ at: openedAt, action: 'opened', actor: 'nodemedic', detail: 'alarm' }],
    ...over,
  };
}

/** The fd-exhaustion finding of the recorded fixture, offering raise-nofile first. */
const FD_FINDING: Finding = {
  cause: 'fd-exhaustion',
  severity: 'critical',
  confidence: 'high',
  summary: 'containerd is out of file descriptors',
  evidence: [{ source: 'fds', text: '1021 of 1024 open' }],
  remediations: ['raise-nofile', 'restart-containerd'],
};

/** An incident that sent raise-nofile, followed by the given verdict lines in its audit trail. */
function treated(instanceId: string, verdicts: string[], cluster = 'prod'): Omit<Incident, 'version'> {
  const at = T0.toISOString();
  return incidentInit({
    node: { instanceId, nodeName: null, cluster, autoScalingGroup: null },
    findings: [FD_FINDING],
    phase: 'fixing',
    audit: [
      { at, action: 'approved', actor: 'U0ALICE', detail: 'raise-nofile by U0ALICE' },
      { at, action: 'fix-sent', actor: 'nodemedic', detail: 'raise-nofile: cmd-1' },
      ...verdicts.map((action) => ({ at, action, actor: 'nodemedic', detail: '' })),
    ],
  });
}

const phase =
  (p: IncidentPhase) =>
  (current: Incident): Incident => ({ ...current, phase: p });

export function incidentStoreContract(name: string, factory: StoreFactory): void {
  describe(`IncidentStore contract: ${name}`, () => {
    const setup = () => {
      let now = T0.getTime();
      const store = factory(() => new Date(now));
      return { store, advance: (seconds: number) => (now += seconds * 1000) };
    };

    it('opens an incident at version 1, readable by id and by node', async () => {
      const { store } = setup();
      const init = incidentInit();
      const { incident, created } = await store.open(init);
      expect(created).toBe(true);
      expect(incident).toEqual({ ...init, version: 1 });
      expect(await store.get(init.id)).toEqual(incident);
      expect(await store.findOpenByNode(init.nodeKey)).toEqual(incident);
      expect(await store.get('nope')).toBeNull();
      expect(await store.findOpenByNode('prod#i-0fff000000000000f')).toBeNull();
    });

    it('maps concurrent opens for one node (flapping alarm, redelivery) onto one incident', async () => {
      const { store } = setup();
      const first = incidentInit();
      const flap = incidentInit({ openedAt: '2026-11-27T03:15:07.000Z' });
      const results = await Promise.all([store.open(first), store.open(flap), store.open(first)]);
      expect(results.filter((r) => r.created)).toHaveLength(1);
      const ids = new Set(results.map((r) => r.incident.id));
      expect(ids.size).toBe(1);
      const winner = [...ids][0]!;
      expect(await store.get(winner === first.id ? flap.id : first.id)).toBeNull();
    });

    it('keeps other nodes apart', async () => {
      const { store } = setup();
      const a = await store.open(incidentInit());
      const b = await store.open(
        incidentInit({ node: { ...incidentInit().node, instanceId: 'i-0fff000000000000f' } }),
      );
      expect([a.created, b.created]).toEqual([true, true]);
      expect(a.incident.nodeKey).not.toBe(b.incident.nodeKey);
    });

    it.each(['recovered', 'escalated', 'closed'] as const)(
      'frees the node once the incident is %s, and never reopens the same id',
      async (end) => {
        const { store } = setup();
        const first = incidentInit();
        await store.open(first);
        await store.update(first.id, phase(end));
        expect(await store.findOpenByNode(first.nodeKey)).toBeNull();
        const again = await store.open(first);
        expect(again).toMatchObject({ created: false, incident: { id: first.id, phase: end } });
        const next = incidentInit({ openedAt: '2026-11-27T04:00:00.000Z' });
        expect((await store.open(next)).created).toBe(true);
        expect((await store.findOpenByNode(first.nodeKey))?.id).toBe(next.id);
      },
    );

    it('remembers the node’s most recently ended incident, not an open one', async () => {
      const { store } = setup();
      const first = incidentInit();
      expect(await store.findLastEnded!(first.nodeKey)).toBeNull();
      await store.open(first);
      expect(await store.findLastEnded!(first.nodeKey)).toBeNull();
      await store.update(first.id, phase('recovered'));
      expect(await store.findLastEnded!(first.nodeKey)).toMatchObject({ id: first.id, phase: 'recovered' });
      const next = incidentInit({ openedAt: '2026-11-27T04:00:00.000Z' });
      await store.open(next);
      expect((await store.findLastEnded!(first.nodeKey))?.id).toBe(first.id);
      await store.update(next.id, phase('escalated'));
      expect((await store.findLastEnded!(first.nodeKey))?.id).toBe(next.id);
      // A later write to an ended incident does not move the pointer back.
      await store.update(first.id, (c) => ({ ...c, audit: [...c.audit] }));
      expect((await store.findLastEnded!(first.nodeKey))?.id).toBe(next.id);
      const other = incidentInit({ node: { ...first.node, instanceId: 'i-0fff000000000000f' } });
      expect(await store.findLastEnded!(other.nodeKey)).toBeNull();
    });

    it('applies updates with a version that moves on every write', async () => {
      const { store } = setup();
      const init = incidentInit();
      await store.open(init);
      const updated = await store.update(init.id, (c) => ({
        ...c,
        phase: 'findings',
        offered: ['restart-containerd'],
      }));
      expect(updated).toMatchObject({ version: 2, phase: 'findings', offered: ['restart-containerd'] });
      expect(await store.get(init.id)).toEqual(updated);
      // A change that sets `version` itself cannot move it backwards.
      expect((await store.update(init.id, (c) => ({ ...c, version: 0 }))).version).toBe(3);
    });

    it('lands both of two concurrent updates (optimistic lock, retried)', async () => {
      const { store } = setup();
      const init = incidentInit();
      await store.open(init);
      await Promise.all([
        store.update(init.id, (c) => ({ ...c, attempts: c.attempts + 1 })),
        store.update(init.id, (c) => ({
          ...c,
          audit: [...c.audit, { at: 'x', action: 'approved', actor: 'U1', detail: '' }],
        })),
      ]);
      const final = await store.get(init.id);
      expect(final).toMatchObject({ version: 3, attempts: 1 });
      expect(final!.audit.map((a) => a.action)).toEqual(['opened', 'approved']);
    });

    it('refuses updates to unknown incidents and changes of identity', async () => {
      const { store } = setup();
      const init = incidentInit();
      await store.open(init);
      await expect(store.update('nope', (c) => c)).rejects.toMatchObject({ code: 'INCIDENT_NOT_FOUND' });
      await expect(store.update(init.id, (c) => ({ ...c, nodeKey: 'other' }))).rejects.toMatchObject({
        code: 'INCIDENT_INVALID',
      });
      expect((await store.get(init.id))!.version).toBe(1);
    });

    it('refuses an incident without id or node key', async () => {
      const { store } = setup();
      await expect(store.open(incidentInit({ id: '' }))).rejects.toMatchObject({ code: 'INCIDENT_INVALID' });
      await expect(store.open(incidentInit({ nodeKey: '' }))).rejects.toMatchObject({
        code: 'INCIDENT_INVALID',
      });
    });

    it('drops undefined optional fields and hands out detached copies', async () => {
      const { store } = setup();
      const init = { ...incidentInit(), thread: undefined };
      const { incident } = await store.open(init);
      expect('thread' in incident).toBe(false);
      (incident.audit as unknown as unknown[]).push('tampered');
      expect((await store.get(init.id))!.audit).toHaveLength(1);
    });

    it('counts incidents in fixing or verifying per cluster', async () => {
      const { store } = setup();
      const a = incidentInit();
      const b = incidentInit({ node: { ...a.node, instanceId: 'i-0fff000000000000f' } });
      const c = incidentInit({ node: { ...a.node, cluster: 'staging' } });
      for (const init of [a, b, c]) await store.open(init);
      expect(await store.countInFlight('prod')).toBe(0);
      await store.update(a.id, phase('fixing'));
      await store.update(b.id, phase('fixing'));
      await store.update(c.id, phase('fixing'));
      expect(await store.countInFlight('prod')).toBe(2);
      await store.update(a.id, phase('verifying'));
      expect(await store.countInFlight('prod')).toBe(2);
      await store.update(a.id, phase('recovered'));
      await store.update(b.id, phase('escalated'));
      expect(await store.countInFlight('prod')).toBe(0);
      expect(await store.countInFlight('staging')).toBe(1);
    });

    it('takes a cluster fix slot with the move into fixing, refuses past the limit, and gives it back when the fix ends', async () => {
      const { store } = setup();
      const a = incidentInit();
      const b = incidentInit({ node: { ...a.node, instanceId: 'i-0fff000000000000f' } });
      const other = incidentInit({ node: { ...a.node, cluster: 'staging' } });
      for (const init of [a, b, other]) await store.open(init);
      await store.update(a.id, phase('fixing'), { inFlightLimit: 1 });
      await expect(store.update(b.id, phase('fixing'), { inFlightLimit: 1 })).rejects.toMatchObject({
        code: 'IN_FLIGHT_LIMIT',
        cluster: 'prod',
        inFlight: 1,
        limit: 1,
      });
      // Refused means not written: b is where it was, at its version.
      expect(await store.get(b.id)).toMatchObject({ phase: 'diagnosing', version: 1 });
      // Another cluster has its own slots; moving on within fixing/verifying takes none.
      await store.update(other.id, phase('fixing'), { inFlightLimit: 1 });
      await store.update(a.id, phase('verifying'), { inFlightLimit: 1 });
      expect(await store.countInFlight('prod')).toBe(1);
      await store.update(a.id, phase('escalated'));
      await store.update(b.id, phase('fixing'), { inFlightLimit: 1 });
      expect(await store.countInFlight('prod')).toBe(1);
    });

    it('lets exactly one of two concurrent moves into fixing take the last slot', async () => {
      const { store } = setup();
      const a = incidentInit();
      const b = incidentInit({ node: { ...a.node, instanceId: 'i-0fff000000000000f' } });
      for (const init of [a, b]) await store.open(init);
      const results = await Promise.allSettled([
        store.update(a.id, phase('fixing'), { inFlightLimit: 1 }),
        store.update(b.id, phase('fixing'), { inFlightLimit: 1 }),
      ]);
      expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
      expect(results.find((r) => r.status === 'rejected')).toMatchObject({
        reason: { code: 'IN_FLIGHT_LIMIT' },
      });
      expect(await store.countInFlight('prod')).toBe(1);
      const phases = [(await store.get(a.id))!.phase, (await store.get(b.id))!.phase].sort();
      expect(phases).toEqual(['diagnosing', 'fixing']);
    });

    it('claims a one-shot key once until it expires', async () => {
      const { store, advance } = setup();
      expect(await store.claimOnce('slack:retry:abc', 60)).toBe(true);
      expect(await store.claimOnce('slack:retry:abc', 60)).toBe(false);
      expect(await store.claimOnce('slack:retry:def', 60)).toBe(true);
      advance(59);
      expect(await store.claimOnce('slack:retry:abc', 60)).toBe(false);
      advance(2);
      expect(await store.claimOnce('slack:retry:abc', 60)).toBe(true);
    });

    it('lets only one of two concurrent claims win', async () => {
      const { store } = setup();
      const results = await Promise.all([store.claimOnce('click:1', 300), store.claimOnce('click:1', 300)]);
      expect(results.sort()).toEqual([false, true]);
    });

    it.each([0, -1, Number.NaN])('refuses a one-shot ttl of %s', async (ttl) => {
      const { store } = setup();
      await expect(store.claimOnce('k', ttl)).rejects.toMatchObject({ code: 'INCIDENT_INVALID' });
    });

    it('records each fix of an incident in its cluster#cause history when, and only when, it ends', async () => {
      const { store, advance } = setup();
      const init = treated('i-0abc123def4567890', ['verify-ok']);
      await store.open(init);
      await store.update(init.id, phase('verifying'));
      expect(await store.fixHistory('prod', 'fd-exhaustion', T0.toISOString())).toEqual([]);
      advance(60);
      await store.update(init.id, phase('recovered'));
      const ended = new Date(T0.getTime() + 60_000).toISOString();
      expect(await store.fixHistory('prod', 'fd-exhaustion', T0.toISOString())).toEqual([
        {
          incidentId: init.id,
          cluster: 'prod',
          cause: 'fd-exhaustion',
          remediation: 'raise-nofile',
          passed: true,
          endedAt: ended,
        },
      ]);
      // An ended incident written again (a late audit line) does not count twice.
      await store.update(init.id, (c) => ({
        ...c,
        audit: [...c.audit, { at: ended, action: 'note', actor: 'x', detail: '' }],
      }));
      expect(await store.fixHistory('prod', 'fd-exhaustion', T0.toISOString())).toHaveLength(1);
    });

    it('counts a failed verification, a failed fix and a fix never verified as not passed', async () => {
      const { store } = setup();
      const cases = [['verify-failed'], ['fix-failed'], []] as const;
      for (const [n, verdicts] of cases.entries()) {
        const init = treated(`i-0abc123def456789${n}`, [...verdicts]);
        await store.open(init);
        await store.update(init.id, phase('escalated'));
      }
      const history = await store.fixHistory('prod', 'fd-exhaustion', T0.toISOString());
      expect(history.map((r) => r.passed)).toEqual([false, false, false]);
    });

    it('answers for one cluster and cause, over the window asked, oldest first', async () => {
      const { store, advance } = setup();
      const ends: string[] = [];
      for (const [n, cluster] of (['prod', 'staging', 'prod', 'prod'] as const).entries()) {
        const init = treated(`i-0abc123def456789${n}`, ['verify-ok'], cluster);
        await store.open(init);
        advance(86_400);
        await store.update(init.id, phase('recovered'));
        ends.push(new Date(T0.getTime() + (n + 1) * 86_400_000).toISOString());
      }
      const prod = await store.fixHistory('prod', 'fd-exhaustion', T0.toISOString());
      expect(prod.map((r) => r.endedAt)).toEqual([ends[0], ends[2], ends[3]]);
      expect((await store.fixHistory('prod', 'fd-exhaustion', ends[2]!)).map((r) => r.endedAt)).toEqual([
        ends[2],
        ends[3],
      ]);
      expect(await store.fixHistory('prod', 'containerd-down', T0.toISOString())).toEqual([]);
      expect(await store.fixHistory('staging', 'fd-exhaustion', T0.toISOString())).toHaveLength(1);
    });

    it('keeps no history for an incident that applied no fix', async () => {
      const { store } = setup();
      const init = incidentInit({ findings: [FD_FINDING] });
      await store.open(init);
      await store.update(init.id, phase('closed'));
      expect(await store.fixHistory('prod', 'fd-exhaustion', T0.toISOString())).toEqual([]);
    });

    it('counts a cluster’s open incidents, and stops counting one when it ends', async () => {
      const { store } = setup();
      const a = incidentInit();
      const b = incidentInit({ node: { ...a.node, instanceId: 'i-0fff000000000000f' } });
      const c = incidentInit({ node: { ...a.node, cluster: 'staging' } });
      expect(await store.countOpen('prod')).toBe(0);
      for (const init of [a, b, c]) await store.open(init);
      expect(await store.countOpen('prod')).toBe(2);
      await store.update(a.id, phase('fixing'));
      expect(await store.countOpen('prod')).toBe(2);
      await store.update(a.id, phase('closed'));
      expect(await store.countOpen('prod')).toBe(1);
      expect(await store.countOpen('staging')).toBe(1);
      // An ended incident written again does not come back into the count.
      await store.update(a.id, (x) => ({ ...x, audit: [...x.audit] }));
      expect(await store.countOpen('prod')).toBe(1);
    });

    const member = (instanceId: string, over: Partial<ClusterMember> = {}): ClusterMember => ({
      incidentId: `prod#${instanceId}#${T0.toISOString()}`,
      instanceId,
      nodeName: null,
      causes: null,
      joinedAt: T0.toISOString(),
      ...over,
    });
    const hold = (openedAt = T0.toISOString()) =>
      newClusterIncident({
        cluster: 'prod',
        openedAt,
        reason: '250 of 300 nodes NotReady',
        fleet: { total: 300, notReady: 250 },
      });

    it('opens one cluster incident per cluster when arrivals race, and replaces it only by its id', async () => {
      const { store } = setup();
      expect(await store.getCluster('prod')).toBeNull();
      const first = hold();
      const second = hold('2026-11-27T03:14:08.000Z');
      const results = await Promise.all([store.openCluster(first, null), store.openCluster(second, null)]);
      expect(results.filter((r) => r.created)).toHaveLength(1);
      expect(new Set(results.map((r) => r.cluster.id)).size).toBe(1);
      const current = (await store.getCluster('prod'))!;
      expect(current).toMatchObject({ phase: 'open', rev: 0, renderedRev: 0, version: 1, members: {} });
      // A later storm replaces it only when it names the one it replaces.
      const later = hold('2026-11-27T05:00:00.000Z');
      expect(await store.openCluster(later, 'cluster#prod#stale')).toMatchObject({
        created: false,
        cluster: { id: current.id },
      });
      expect(await store.openCluster(later, current.id)).toMatchObject({
        created: true,
        cluster: { id: later.id },
      });
      expect(await store.getCluster('staging')).toBeNull();
      await expect(store.openCluster({ ...later, phase: 'ended' }, null)).rejects.toMatchObject({
        code: 'INCIDENT_INVALID',
      });
    });

    it('adds members without conflicts, bumps rev each time, and refuses an incident that is not current', async () => {
      const { store } = setup();
      const { cluster } = await store.openCluster(hold(), null);
      const ids = Array.from({ length: 20 }, (_, n) => `i-0abc123def45678${String(n).padStart(2, '0')}`);
      await Promise.all(ids.map((id) => store.putClusterMember('prod', cluster.id, member(id))));
      let current = (await store.getCluster('prod'))!;
      expect(Object.keys(current.members).sort()).toEqual(ids);
      expect(current.rev).toBe(20);
      // The same node again replaces its entry (its findings arrive).
      const after = await store.putClusterMember(
        'prod',
        cluster.id,
        member(ids[0]!, { causes: ['grpc-limits'], containerd: '2.1.9' }),
        { lastJoinedAt: '2026-11-27T03:20:00.000Z', fleet: { total: 300, notReady: 251 } },
      );
      expect(after).toMatchObject({
        rev: 21,
        lastJoinedAt: '2026-11-27T03:20:00.000Z',
        fleet: { notReady: 251 },
      });
      current = (await store.getCluster('prod'))!;
      expect(current.members[ids[0]!]).toMatchObject({ causes: ['grpc-limits'], containerd: '2.1.9' });
      expect(Object.keys(current.members)).toHaveLength(20);
      expect(await store.putClusterMember('prod', 'cluster#prod#other', member(ids[1]!))).toBeNull();
      expect(await store.putClusterMember('staging', cluster.id, member(ids[1]!))).toBeNull();
    });

    it('updates the other fields under a version, keeping members that join meanwhile and fields it does not know', async () => {
      const { store } = setup();
      const { cluster } = await store.openCluster(hold(), null);
      await store.putClusterMember('prod', cluster.id, member('i-0abc123def4567801'));
      const updated = await store.updateCluster('prod', cluster.id, (c) => {
        // A member joins while this change is being made: it must survive the write.
        void store.putClusterMember('prod', cluster.id, member('i-0abc123def4567802'));
        return {
          ...c,
          thread: { channel: 'C0ALERTS', ts: '1.000100' },
          renderedRev: 1,
          roll: { batch: 1 },
        } as never;
      });
      expect(updated).toMatchObject({ version: 2, renderedRev: 1, thread: { ts: '1.000100' } });
      const current = (await store.getCluster('prod'))!;
      expect(Object.keys(current.members).sort()).toEqual(['i-0abc123def4567801', 'i-0abc123def4567802']);
      expect(current).toMatchObject({ rev: 2, roll: { batch: 1 } });
      await Promise.all([
        store.updateCluster('prod', cluster.id, (c) => ({ ...c, renderedRev: Math.max(c.renderedRev, 2) })),
        store.updateCluster('prod', cluster.id, (c) => ({ ...c, reason: 'still' })),
      ]);
      expect(await store.getCluster('prod')).toMatchObject({ version: 4, renderedRev: 2, reason: 'still' });
      await store.updateCluster('prod', cluster.id, (c) => ({ ...c, phase: 'ended' }));
      expect(await store.putClusterMember('prod', cluster.id, member('i-0abc123def4567803'))).toBeNull();
      await expect(store.updateCluster('prod', cluster.id, (c) => ({ ...c, rev: 9 }))).rejects.toMatchObject({
        code: 'INCIDENT_INVALID',
      });
      await expect(store.updateCluster('prod', 'cluster#prod#nope', (c) => c)).rejects.toMatchObject({
        code: 'INCIDENT_NOT_FOUND',
      });
    });

    it.each(['yesterday', '2026-11-27T03:14:07+01:00', ''])('refuses a window start of %j', async (since) => {
      const { store } = setup();
      await expect(store.fixHistory('prod', 'fd-exhaustion', since)).rejects.toThrow(/ISO-8601 UTC/);
    });
  });
}
