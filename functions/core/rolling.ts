/**
 * The rolling fix of a held cluster (issue 10.3): when a storm holds per-node fixes and every held
 * node shows the same cause, ONE approval on the cluster thread fixes the nodes in bounded batches,
 * each node through its own workflow execution (recheck → fix → verify → outcome), and the roll
 * stops at the first node whose fix or verification fails. Pure: the policy as data, which fix the
 * cluster is offered (and why none), and the roll's state machine as a reducer
 * `(roll, event) → (next roll, effects)`; functions/app/rolling.ts performs the effects.
 *
 * Safety (design.md): never destructive, never on ambiguous evidence (held nodes that disagree on
 * the cause, a low-confidence or missing diagnosis), at most `maxFixesInFlightPerCluster` nodes at
 * once, and nothing more starts once a node failed.
 */
import { CAUSES } from './causes/index.js';
import type { ClusterIncident } from './cluster.js';
import { CatalogError } from './errors.js';
import type { CauseId, Finding, RemediationId, Tier } from './model.js';
import type { SafetyPolicy } from './policy.js';
import { getRemediation } from './remediations/index.js';

/** Tiers a rolling fix may ever run: a destructive or manual fix is never rolled. */
export const ROLLABLE_TIERS = ['safe', 'disruptive'] as const;
export type RollableTier = (typeof ROLLABLE_TIERS)[number];

/** The safety policy's `rollingFix` field. */
export interface RollingFixPolicy {
  /** Whether a held cluster is offered a rolling fix at all (default true). */
  readonly enabled: boolean;
  /**
   * Nodes fixed at once; the next batch starts when the whole batch recovered. At most
   * `maxFixesInFlightPerCluster`. Absent: `maxFixesInFlightPerCluster` (default 1).
   */
  readonly batchSize?: number;
  /** Tiers a roll may run (default only `safe`); `destructive` is refused. */
  readonly allowedTiers: readonly RollableTier[];
}

/** The default: safe fixes only, one batch as wide as the cluster's fix slots. */
export const DEFAULT_ROLLING_FIX: RollingFixPolicy = Object.freeze({
  enabled: true,
  allowedTiers: Object.freeze(['safe'] as const),
});

const ROLLING_FIELDS = ['enabled', 'batchSize', 'allowedTiers'];

/**
 * Check the `rollingFix` policy field, merged over the default, against the (merged) cluster fix
 * limit. Throws CatalogError naming the bad field.
 */
export function validateRollingFix(value: unknown, maxFixesInFlightPerCluster: number): RollingFixPolicy {
  const where = 'safety policy.rollingFix';
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new CatalogError(`${where}: expected an object, got ${JSON.stringify(value)}`);
  }
  const given = value as Record<string, unknown>;
  for (const key of Object.keys(given)) {
    if (!ROLLING_FIELDS.includes(key)) {
      throw new CatalogError(`${where}.${key}: unknown field (known: ${ROLLING_FIELDS.join(', ')})`);
    }
  }
  const enabled = given.enabled ?? DEFAULT_ROLLING_FIX.enabled;
  if (typeof enabled !== 'boolean') {
    throw new CatalogError(`${where}.enabled: expected true or false, got ${JSON.stringify(enabled)}`);
  }
  const tiers = given.allowedTiers ?? DEFAULT_ROLLING_FIX.allowedTiers;
  if (!Array.isArray(tiers) || tiers.length === 0) {
    throw new CatalogError(
      `${where}.allowedTiers: expected a non-empty list of ${ROLLABLE_TIERS.join(', ')}, got ${JSON.stringify(tiers)}`,
    );
  }
  const seen = new Set<RollableTier>();
  for (const tier of tiers) {
    if (tier === 'destructive' || tier === 'manual') {
      throw new CatalogError(
        `${where}.allowedTiers: ${tier} fixes are never rolled (one node at a time, by people)`,
      );
    }
    if (!(ROLLABLE_TIERS as readonly unknown[]).includes(tier)) {
      throw new CatalogError(
        `${where}.allowedTiers: ${JSON.stringify(tier)} is not a tier (${ROLLABLE_TIERS.join(', ')})`,
      );
    }
    if (seen.has(tier)) throw new CatalogError(`${where}.allowedTiers: ${tier} is listed twice`);
    seen.add(tier);
  }
  const batchSize = given.batchSize;
  if (batchSize !== undefined) {
    if (typeof batchSize !== 'number' || !Number.isInteger(batchSize) || batchSize < 1) {
      throw new CatalogError(
        `${where}.batchSize: expected a whole number of at least 1, got ${JSON.stringify(batchSize)}`,
      );
    }
    if (batchSize > maxFixesInFlightPerCluster) {
      throw new CatalogError(
        `${where}.batchSize: ${batchSize} is above maxFixesInFlightPerCluster (${maxFixesInFlightPerCluster}): a batch may not take more fix slots than the cluster has`,
      );
    }
  }
  return Object.freeze({
    enabled,
    allowedTiers: Object.freeze([...seen]),
    ...(batchSize !== undefined ? { batchSize } : {}),
  });
}

/** The batch size a roll uses under `policy`. */
function rollBatchSize(policy: Pick<SafetyPolicy, 'rollingFix' | 'maxFixesInFlightPerCluster'>): number {
  return Math.min(
    policy.rollingFix.batchSize ?? policy.maxFixesInFlightPerCluster,
    policy.maxFixesInFlightPerCluster,
  );
}

/** The parts of the safety policy a roll reads. */
export type RollPolicy = Pick<SafetyPolicy, 'rollingFix' | 'maxFixesInFlightPerCluster' | 'shadowClusters'>;

/** One held node incident, as the offer reads it. */
export interface HeldNode {
  readonly incidentId: string;
  /** The node's instance id, for the summary and the thread. */
  readonly node: string;
  /**
   * `diagnosing`: no findings yet (not counted either way); `waiting`: diagnosed and waiting for a
   * decision (awaiting-approval with a task token), so a roll can resume it; `other`: diagnosed,
   * but nothing waits (its evidence still counts for the cause).
   */
  readonly status: 'diagnosing' | 'waiting' | 'other';
  /** Ranked findings, most severe first. */
  readonly findings: readonly Pick<Finding, 'cause' | 'confidence' | 'remediations'>[];
  /** What the node's plan offered (withheld drains already removed). */
  readonly offered: readonly RemediationId[];
}

/** What the cluster thread offers: one roll, or none and why. */
export type RollOffer =
  | {
      readonly kind: 'offer';
      readonly remediation: RemediationId;
      readonly tier: RollableTier;
      readonly cause: CauseId;
      /** The waiting nodes the roll would fix, in arrival order. */
      readonly nodes: readonly RollMember[];
      readonly batchSize: number;
    }
  | { readonly kind: 'none'; readonly reason: string };

/** A node in a roll: its incident and instance id. */
export interface RollMember {
  readonly incidentId: string;
  readonly node: string;
}

/**
 * Which fix, if any, one approval may roll over the held nodes. A roll needs every diagnosed held
 * node to name the same first (most severe) cause with more than low confidence, and one fix that
 * every waiting node offers for that cause, in a tier the policy allows (never destructive). Any
 * doubt is an answer of `none` with the reason, which the summary shows instead of a button.
 */
export function offerRoll(policy: RollPolicy, cluster: string, held: readonly HeldNode[]): RollOffer {
  const none = (reason: string): RollOffer => ({ kind: 'none', reason });
  if (policy.shadowClusters.includes(cluster))
    return none(`cluster ${cluster} is in shadow mode: nothing runs`);
  if (!policy.rollingFix.enabled) return none('rolling fixes are turned off by the safety policy');
  const diagnosed = held.filter((n) => n.status !== 'diagnosing');
  if (diagnosed.length === 0) return none('no held node is diagnosed yet');
  const unknown = diagnosed.filter((n) => n.findings.length === 0);
  if (unknown.length > 0) {
    return none(
      `${countOf(unknown.length)} with no cause found (${list(unknown)}): the evidence is not one cause`,
    );
  }
  const byCause = new Map<CauseId, HeldNode[]>();
  for (const n of diagnosed) {
    const cause = n.findings[0]!.cause;
    byCause.set(cause, [...(byCause.get(cause) ?? []), n]);
  }
  if (byCause.size > 1) {
    const split = [...byCause.entries()]
      .sort((a, b) => b[1].length - a[1].length)
      .map(([cause, nodes]) => `${cause} on ${countOf(nodes.length)}`)
      .join(', ');
    return none(`the held nodes disagree on the cause (${split}): fix them one by one`);
  }
  const cause = diagnosed[0]!.findings[0]!.cause;
  const unsure = diagnosed.filter((n) => n.findings[0]!.confidence === 'low');
  if (unsure.length > 0) {
    return none(`${cause} is a low-confidence diagnosis on ${countOf(unsure.length)} (${list(unsure)})`);
  }
  const waiting = diagnosed.filter((n) => n.status === 'waiting');
  if (waiting.length === 0) return none('no held node is waiting for a decision');
  const allowed: readonly Tier[] = policy.rollingFix.allowedTiers;
  const ranked = diagnosed[0]!.findings[0]!.remediations;
  const fit = ranked.find((id) => {
    const meta = getRemediation(id);
    return (
      meta.runsOn !== 'person' &&
      meta.tier !== 'destructive' &&
      allowed.includes(meta.tier) &&
      meta.fixes.includes(cause) &&
      waiting.every((n) => n.offered.includes(id))
    );
  });
  if (!fit) {
    return none(
      `no ${allowed.join(' or ')} fix for ${cause} is offered on every held node (${ranked.join(', ') || 'none fits'})`,
    );
  }
  return {
    kind: 'offer',
    remediation: fit,
    tier: getRemediation(fit).tier as RollableTier,
    cause,
    nodes: waiting.map((n) => ({ incidentId: n.incidentId, node: n.node })),
    batchSize: rollBatchSize(policy),
  };
}

/**
 * The offer as the cluster summary shows it, read from the cluster record alone (each member's
 * causes, most severe first), so that every summary write can afford it: each diagnosed member is
 * taken as waiting with its first cause's fixes offered. Healthy members have nothing to fix and
 * are left out. The click reads each node's own incident (the findings' confidence, what its plan
 * offered, whether it still waits) before anything runs, and refuses with the reason.
 */
export function offerFromMembers(
  policy: RollPolicy,
  record: Pick<ClusterIncident, 'cluster' | 'members'>,
): RollOffer {
  const members = Object.values(record.members)
    .filter((m) => !m.healthy)
    .sort((a, b) => a.joinedAt.localeCompare(b.joinedAt));
  const held = members.map((m): HeldNode => {
    const causes = m.causes ?? [];
    return {
      incidentId: m.incidentId,
      node: m.instanceId,
      status: m.causes === null ? 'diagnosing' : 'waiting',
      findings: causes.map((cause) => ({
        cause,
        confidence: 'high',
        remediations: CAUSES[cause].remediations,
      })),
      offered: causes.length ? CAUSES[causes[0]!].remediations : [],
    };
  });
  return offerRoll(policy, record.cluster, held);
}

/**
 * Whether one held node's own diagnosis could join a roll: the same test as {@link offerRoll} over
 * that node alone. analyzeStep keeps such a node waiting for a decision (no buttons of its own) so
 * that a roll can resume it; any other held node ends at its findings.
 */
export function mayRoll(
  policy: RollPolicy,
  cluster: string,
  node: Pick<HeldNode, 'findings' | 'offered'>,
): boolean {
  const alone: HeldNode = { incidentId: '', node: '', status: 'waiting', ...node };
  return offerRoll(policy, cluster, [alone]).kind === 'offer';
}

/** A node of the roll that failed: the roll stopped at it. */
export interface RollFailure extends RollMember {
  readonly detail: string;
}

/** The roll on the cluster record: state as data, changed only through {@link rollReduce}. */
export interface Roll {
  readonly remediation: RemediationId;
  readonly tier: RollableTier;
  readonly cause: CauseId;
  /** Slack user id of the one approver who pressed the cluster button. */
  readonly approvedBy: string;
  readonly approvedAt: string;
  readonly batchSize: number;
  /** Batches started so far (1 after the start). */
  readonly batches: number;
  readonly queued: readonly RollMember[];
  readonly running: readonly RollMember[];
  /** Fixed by the roll's fix and verified. */
  readonly done: readonly RollMember[];
  /**
   * Nodes whose cause was gone before their fix ran (their recheck found it gone, or they had
   * recovered before their batch): nothing was run on them, so they are not counted as fixed.
   * Absent on a roll recorded before this field: none.
   */
  readonly causeGone?: readonly RollMember[];
  /** Nodes that left the roll before their batch (their incident ended otherwise), with why. */
  readonly skipped: readonly RollFailure[];
  /** The first failed node: the roll stopped there. */
  readonly failed: RollFailure | null;
  /** Nodes of the failed node's batch that failed after it (the roll had stopped already). */
  readonly alsoFailed: readonly RollFailure[];
  readonly state: 'running' | 'stopped' | 'completed';
  /**
   * The end (`stopped` or `completed`) the cluster thread was told of; it differs from `state`
   * until the one message is posted, so a retry after a Slack failure posts it then.
   */
  readonly announced?: 'stopped' | 'completed' | null;
}

/** What happens to a roll. */
export type RollEvent =
  | {
      readonly kind: 'start';
      readonly offer: Extract<RollOffer, { kind: 'offer' }>;
      readonly by: string;
      readonly at: string;
    }
  /** A node's incident ended recovered: its fix ran and its verification passed. */
  | { readonly kind: 'node-recovered'; readonly incidentId: string }
  /**
   * A node's cause was gone before its fix ran (the recheck found it gone, or it had recovered
   * before its batch): nothing was run on it. The roll goes on as after a recovery, but the node
   * is counted apart, never as fixed.
   */
  | { readonly kind: 'node-cause-gone'; readonly incidentId: string }
  /** A node's incident ended any other way after the roll started it (fix failed, not recovered). */
  | { readonly kind: 'node-failed'; readonly incidentId: string; readonly detail: string }
  /**
   * A node left before anything ran on it (its approval wait expired, a person took it, it was no
   * longer waiting when its batch came): not the fix's fault, so the roll goes on without it.
   */
  | { readonly kind: 'node-left'; readonly incidentId: string; readonly detail: string };

/** What the app layer must do after a transition. */
export type RollEffect =
  /** Resume this node's waiting execution with the roll's approval. */
  | { readonly kind: 'resume'; readonly member: RollMember; readonly batch: number }
  /** Say once in the cluster thread that the roll stopped (and why) or completed. */
  | { readonly kind: 'announce'; readonly state: 'stopped' | 'completed' }
  /** Refresh the cluster summary (the roll's counts changed). */
  | { readonly kind: 'refresh' };

/**
 * The roll's transitions. `null` is "no roll yet": only `start` leaves it. Events about nodes that
 * are not in the expected place (a retried step, a node that already ended) change nothing and
 * return no effects, so every hook may be called again safely.
 */
export function rollReduce(
  roll: Roll | null,
  event: RollEvent,
): { roll: Roll | null; effects: RollEffect[] } {
  if (event.kind === 'start') {
    if (roll !== null) return { roll, effects: [] };
    const { offer } = event;
    const started: Roll = {
      remediation: offer.remediation,
      tier: offer.tier,
      cause: offer.cause,
      approvedBy: event.by,
      approvedAt: event.at,
      batchSize: Math.max(1, offer.batchSize),
      batches: 0,
      queued: offer.nodes,
      running: [],
      done: [],
      causeGone: [],
      skipped: [],
      failed: null,
      alsoFailed: [],
      state: 'running',
    };
    return advance(started, []);
  }
  if (roll === null) return { roll, effects: [] };
  const id = event.incidentId;
  const running = roll.running.find((m) => m.incidentId === id);
  const queued = roll.queued.find((m) => m.incidentId === id);
  if (event.kind !== 'node-failed') {
    // Recovered, its cause gone, or left: the roll goes on without it, counted where it belongs.
    const member = running ?? queued;
    if (!member) return { roll, effects: [] };
    const next = {
      ...roll,
      running: without(roll.running, id),
      queued: without(roll.queued, id),
      ...through(roll, event, member),
    };
    return advance(next, [{ kind: 'refresh' }]);
  }
  if (running) {
    const failure: RollFailure = { ...running, detail: event.detail };
    const rest = { ...roll, running: without(roll.running, id) };
    if (roll.state !== 'running') {
      return { roll: { ...rest, alsoFailed: [...roll.alsoFailed, failure] }, effects: [{ kind: 'refresh' }] };
    }
    // The first failure stops the roll: nothing more starts, the queued nodes stay held.
    return {
      roll: { ...rest, failed: failure, state: 'stopped' },
      effects: [{ kind: 'refresh' }, { kind: 'announce', state: 'stopped' }],
    };
  }
  if (queued) {
    // It left before its batch (its approval wait expired, a person took it): not the fix's fault.
    const next = {
      ...roll,
      queued: without(roll.queued, id),
      skipped: [...roll.skipped, { ...queued, detail: event.detail }],
    };
    return advance(next, [{ kind: 'refresh' }]);
  }
  return { roll, effects: [] };
}

/** Where a node the roll is through with, without a failure, is counted: only a verified fix is `done`. */
function through(
  roll: Roll,
  event: Extract<RollEvent, { kind: 'node-recovered' | 'node-cause-gone' | 'node-left' }>,
  member: RollMember,
): Partial<Pick<Roll, 'done' | 'causeGone' | 'skipped'>> {
  switch (event.kind) {
    case 'node-recovered':
      return { done: [...roll.done, member] };
    case 'node-cause-gone':
      return { causeGone: [...(roll.causeGone ?? []), member] };
    case 'node-left':
      return { skipped: [...roll.skipped, { ...member, detail: event.detail }] };
  }
}

/** Start the next batch once the current one is through; complete when nothing is left. */
function advance(roll: Roll, effects: RollEffect[]): { roll: Roll; effects: RollEffect[] } {
  if (roll.state !== 'running' || roll.running.length > 0) return { roll, effects };
  const refreshed: RollEffect[] = effects.some((e) => e.kind === 'refresh')
    ? effects
    : [...effects, { kind: 'refresh' }];
  if (roll.queued.length === 0) {
    return {
      roll: { ...roll, state: 'completed' },
      effects: [...refreshed, { kind: 'announce', state: 'completed' }],
    };
  }
  const batch = roll.queued.slice(0, roll.batchSize);
  const batches = roll.batches + 1;
  return {
    roll: { ...roll, batches, queued: roll.queued.slice(batch.length), running: batch },
    effects: [...refreshed, ...batch.map((member) => ({ kind: 'resume' as const, member, batch: batches }))],
  };
}

/** Batches the roll has in all (started and to come). */
export function totalBatches(roll: Pick<Roll, 'batches' | 'queued' | 'batchSize' | 'state'>): number {
  return roll.state === 'running'
    ? roll.batches + Math.ceil(roll.queued.length / roll.batchSize)
    : roll.batches;
}

function without(members: readonly RollMember[], incidentId: string): RollMember[] {
  return members.filter((m) => m.incidentId !== incidentId);
}

function countOf(n: number): string {
  return `${n} node${n === 1 ? '' : 's'}`;
}

function list(nodes: readonly HeldNode[]): string {
  const shown = nodes.slice(0, 5).map((n) => n.node);
  return nodes.length > 5 ? `${shown.join(', ')} and ${nodes.length - 5} more` : shown.join(', ');
}
