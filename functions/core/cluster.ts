/**
 * The cluster hold, decided when an alarm arrives (issue 10.3), and the cluster incident it opens.
 *
 * When many nodes of one cluster go NotReady together, a shared cause is likely (a bad containerd
 * rollout passes both EC2 status checks). nodemedic then keeps ONE cluster incident with ONE Slack
 * thread, whose root is a live summary updated in place, instead of a card, a thread and an
 * approval request per node. Each node still gets its own incident record and its own diagnosis;
 * its findings feed the summary, and its per-node fixes are held.
 *
 * ## The cluster record (the store's `ClusterIncident`, one current per cluster)
 *
 * ```
 * {
 *   id:           'cluster#<cluster>#<openedAt>'   stable for the cluster incident's life
 *   cluster:      '<cluster>'
 *   openedAt:     ISO-8601
 *   phase:        'open' | 'ended'                 ended: a later storm opens a new one
 *   reason:       why the hold engaged (the decision's detail, plain text)
 *   thread:       { channel, ts } | null            the root = the live summary; null until posted
 *   members:      { [instanceId]: ClusterMember }  one per node held (its own incident id, its
 *                                                  causes once diagnosed, its containerd version)
 *   fleet:        { total, notReady }              the cluster as last seen at an arrival
 *   rev:          number                           +1 on every change to what the summary shows
 *   renderedRev:  number                           the rev the root showed at its last update
 *   lastJoinedAt: ISO-8601                         the hold lapses `clusterHoldMinutes` after it
 *   version:      number                           optimistic lock of `updateCluster` (all but
 *                                                  members and rev)
 *   paged?:       'ok' | why the pager refused the one page for the hold
 *   roll?:        owned by the rolling fix (core/rolling.ts): one approval on the thread starts
 *                 fixes in bounded batches. The store keeps any field it is given: an update
 *                 (`IncidentStore.updateCluster`) passes the whole record through.
 * }
 * ```
 *
 * Members are written one at a time with a map-path update (no version check: 250 nodes joining
 * in the same second never conflict), and each write bumps `rev`. The summary is coalesced:
 * `rev > renderedRev` means "dirty", and one updater per second writes it (app/cluster.ts).
 *
 * Everything here is pure.
 */
import { InvalidInputError } from './errors.js';
import type { CauseId } from './model.js';
import { CLUSTER_NAME } from './patterns.js';
import type { SafetyPolicy } from './policy.js';
import type { MessageRef } from './ports.js';
import type { Roll } from './rolling.js';

/**
 * The DynamoDB store's sparse index of open node incidents: only incidents that have not ended
 * carry `openCluster`, so counting a cluster's open incidents reads that cluster's open ones only.
 */
export const OPEN_INDEX = Object.freeze({
  name: 'byOpenCluster',
  partitionKey: 'openCluster',
  sortKey: 'openedAt',
});

/** One node held under a cluster incident. */
export interface ClusterMember {
  /** The node's own incident (its diagnosis, its audit trail). */
  readonly incidentId: string;
  readonly instanceId: string;
  readonly nodeName: string | null;
  /** null while its diagnosis runs; the causes found once analyzed (empty: none found). */
  readonly causes: readonly CauseId[] | null;
  /** True when its diagnosis found nothing wrong on the node. */
  readonly healthy?: boolean;
  /** containerd's version on the node as its diagnosis read it, when it did. */
  readonly containerd?: string | null;
  readonly joinedAt: string;
}

/** The lifecycle of a cluster incident. */
export type ClusterPhase = 'open' | 'ended';

/** The one cluster incident of a storm (see the module comment for the record's shape). */
export interface ClusterIncident {
  readonly id: string;
  readonly cluster: string;
  readonly openedAt: string;
  readonly phase: ClusterPhase;
  readonly reason: string;
  readonly thread: MessageRef | null;
  readonly members: Readonly<Record<string, ClusterMember>>;
  readonly fleet: { readonly total: number; readonly notReady: number };
  readonly rev: number;
  readonly renderedRev: number;
  readonly lastJoinedAt: string;
  /** How the one page for the hold went: `ok`, or why the pager refused it (the summary says so). */
  readonly paged?: string;
  /** Optimistic-lock version of the fields other than `members` and `rev` (the store's). */
  readonly version: number;
  /** The rolling fix one approval started on the cluster thread (functions/core/rolling.ts). */
  readonly roll?: Roll | null;
}

/** What the hold decision reads when an alarm arrives. */
export interface HoldInput {
  readonly policy: Pick<
    SafetyPolicy,
    'clusterHoldPercent' | 'clusterHoldMinNodes' | 'clusterHoldNodes' | 'clusterHoldMinutes'
  >;
  /** The cluster's open node incidents, this node's included (the store's count). */
  readonly openIncidents: number;
  /** EC2's view of the cluster: its nodes, and those impaired or not running. */
  readonly fleet: { readonly total: number; readonly notReady: number };
  /** The cluster's current cluster incident, if any. */
  readonly current: ClusterIncident | null;
  /** ISO-8601. */
  readonly now: string;
}

/** The hold decision. */
export type HoldDecision =
  | { readonly hold: false; readonly notReady: number; readonly total: number }
  | {
      readonly hold: true;
      /** `join`: the cluster incident is open and current; `open`: start a new one. */
      readonly how: 'join' | 'open';
      readonly notReady: number;
      readonly total: number;
      /** Why, in plain words (the cluster thread says it; escaped by the renderer). */
      readonly detail: string;
    };

/** True while a cluster incident still holds its cluster: open, and joined recently enough. */
export function holdActive(
  current: ClusterIncident | null,
  now: string,
  policy: Pick<SafetyPolicy, 'clusterHoldMinutes'>,
): current is ClusterIncident {
  if (current?.phase !== 'open') return false;
  const minutes = (Date.parse(now) - Date.parse(current.lastJoinedAt)) / 60_000;
  return minutes <= policy.clusterHoldMinutes;
}

/**
 * Decide at arrival whether the node joins a cluster hold. The NotReady count is the larger of the
 * cluster's open incidents (alarms see containerd failures EC2 does not) and EC2's impaired
 * instances (EC2 sees nodes too broken to alarm): the two overlap, so they are not added. A hold
 * engages at `clusterHoldMinNodes` NotReady nodes or more, when they are more than
 * `clusterHoldPercent` of the cluster or at least `clusterHoldNodes` whatever its size. An open
 * cluster incident joined less than `clusterHoldMinutes` ago holds every later arrival: a storm
 * does not split into threads as its incidents end.
 */
export function decideHold(input: HoldInput): HoldDecision {
  const { policy } = input;
  const notReady = Math.max(input.openIncidents, input.fleet.notReady, 1);
  // A node that is NotReady belongs to the cluster even when EC2's count lags behind.
  const total = Math.max(input.fleet.total, notReady);
  const percent = (notReady / total) * 100;
  const counts = `${notReady} of ${total} nodes NotReady (${percent.toFixed(0)}%)`;
  if (holdActive(input.current, input.now, policy)) {
    return { hold: true, how: 'join', notReady, total, detail: `${counts}: the cluster hold is on` };
  }
  if (notReady < policy.clusterHoldMinNodes) return { hold: false, notReady, total };
  if (percent > policy.clusterHoldPercent) {
    return {
      hold: true,
      how: 'open',
      notReady,
      total,
      detail: `${counts}, above ${policy.clusterHoldPercent}%: a shared cause is likely, so per-node fixes are held`,
    };
  }
  if (notReady >= policy.clusterHoldNodes) {
    return {
      hold: true,
      how: 'open',
      notReady,
      total,
      detail: `${counts}, at least ${policy.clusterHoldNodes} at once: a shared cause is likely, so per-node fixes are held`,
    };
  }
  return { hold: false, notReady, total };
}

/** The id of a cluster incident opened at `openedAt`. */
function clusterIncidentId(cluster: string, openedAt: string): string {
  return `cluster#${cluster}#${openedAt}`;
}

/** The cluster a cluster incident's id names (the reverse of `clusterIncidentId`), or null. */
export function clusterOfIncidentId(id: string): string | null {
  const cluster = /^cluster#([^#]+)#(.+)$/.exec(id)?.[1];
  return cluster !== undefined && CLUSTER_NAME.test(cluster) ? cluster : null;
}

/** A new cluster incident, as the decision opens it. */
export function newClusterIncident(init: {
  cluster: string;
  openedAt: string;
  reason: string;
  fleet: { total: number; notReady: number };
}): Omit<ClusterIncident, 'version'> {
  return {
    id: clusterIncidentId(init.cluster, init.openedAt),
    cluster: init.cluster,
    openedAt: init.openedAt,
    phase: 'open',
    reason: init.reason,
    thread: null,
    members: {},
    fleet: init.fleet,
    rev: 0,
    renderedRev: 0,
    lastJoinedAt: init.openedAt,
  };
}

/** `2.1.9~ds1` or `v2.1.9` → `2.1.x`; null when no major.minor can be read. */
export function versionLine(version: string | null | undefined): string | null {
  const m = /^v?(\d+)\.(\d+)/.exec(version ?? '');
  return m ? `${m[1]}.${m[2]}.x` : null;
}

/** One group of the summary: nodes that share what their diagnosis found. */
export interface SummaryGroup {
  /** e.g. `containerd 2.1.x, grpc-limits`; `diagnosing`; `no cause found`; `healthy`. */
  readonly label: string;
  readonly kind: 'cause' | 'diagnosing' | 'unknown' | 'healthy';
  readonly nodes: readonly string[];
}

/** What the live summary says, before rendering. */
export interface ClusterSummary {
  readonly cluster: string;
  readonly members: number;
  readonly diagnosed: number;
  readonly fleet: { readonly total: number; readonly notReady: number };
  /** The largest group with a cause, said once: "212 of 250 nodes: containerd 2.1.x, grpc-limits". */
  readonly common: { readonly label: string; readonly count: number } | null;
  /** Every group, largest first (diagnosing last). */
  readonly groups: readonly SummaryGroup[];
  readonly causeCounts: readonly { readonly cause: CauseId; readonly count: number }[];
}

/** The label a node is grouped under. */
function groupOf(member: ClusterMember): { label: string; kind: SummaryGroup['kind'] } {
  if (member.causes === null) return { label: 'diagnosing', kind: 'diagnosing' };
  if (member.healthy) return { label: 'healthy', kind: 'healthy' };
  if (member.causes.length === 0) return { label: 'no cause found', kind: 'unknown' };
  const line = versionLine(member.containerd);
  const causes = [...new Set(member.causes)].sort().join(', ');
  return { label: line ? `containerd ${line}, ${causes}` : causes, kind: 'cause' };
}

/** Group the members for the live summary: counts by cause, the common cause said once. */
export function summarize(record: ClusterIncident): ClusterSummary {
  const members = Object.values(record.members);
  const groups = new Map<string, { label: string; kind: SummaryGroup['kind']; nodes: string[] }>();
  const causeCounts = new Map<CauseId, number>();
  for (const member of members) {
    const { label, kind } = groupOf(member);
    const group = groups.get(label) ?? { label, kind, nodes: [] };
    group.nodes.push(member.nodeName ?? member.instanceId);
    groups.set(label, group);
    for (const cause of new Set(member.causes ?? []))
      causeCounts.set(cause, (causeCounts.get(cause) ?? 0) + 1);
  }
  const ordered = [...groups.values()]
    .map((g) => ({ ...g, nodes: g.nodes.sort() }))
    .sort(
      (a, b) =>
        Number(a.kind === 'diagnosing') - Number(b.kind === 'diagnosing') ||
        b.nodes.length - a.nodes.length ||
        a.label.localeCompare(b.label),
    );
  const top = ordered.find((g) => g.kind === 'cause');
  return {
    cluster: record.cluster,
    members: members.length,
    diagnosed: members.filter((m) => m.causes !== null).length,
    fleet: record.fleet,
    common: top ? { label: top.label, count: top.nodes.length } : null,
    groups: ordered,
    causeCounts: [...causeCounts.entries()]
      .map(([cause, count]) => ({ cause, count }))
      .sort((a, b) => b.count - a.count || a.cause.localeCompare(b.cause)),
  };
}

/** Both stores check it: a cluster incident must be whole when it opens. */
export function checkClusterInit(init: Omit<ClusterIncident, 'version'>): void {
  if (!init.id || !init.cluster) {
    throw new InvalidInputError('cluster incident id or cluster is empty', { code: 'INCIDENT_INVALID' });
  }
  if (init.phase !== 'open') {
    throw new InvalidInputError(`a cluster incident opens in phase open, not ${init.phase}`, {
      code: 'INCIDENT_INVALID',
    });
  }
}

/**
 * Both stores check it: `updateCluster` may not change the identity, and `members` and `rev`
 * belong to `putClusterMember` (a whole-record write would lose the members joined meanwhile).
 */
export function checkClusterChange(current: ClusterIncident, next: ClusterIncident): void {
  if (next.id !== current.id || next.cluster !== current.cluster) {
    throw new InvalidInputError(
      `an update may not change the cluster incident's id or cluster (${current.id} → ${next.id})`,
      { code: 'INCIDENT_INVALID' },
    );
  }
  if (next.rev !== current.rev || JSON.stringify(next.members) !== JSON.stringify(current.members)) {
    throw new InvalidInputError('members and rev change only through putClusterMember', {
      code: 'INCIDENT_INVALID',
    });
  }
}
