/**
 * The incident record: one per node per outage. It is the audit trail (approvals, refusals,
 * command ids, outcomes) and the workflow's memory (the task token waiting for an approval).
 */
import type { ClusterIncident, ClusterMember } from './cluster.js';
import { NodemedicError } from './errors.js';
import type { CauseId, Finding, RemediationId } from './model.js';
import type { MessageRef, NodeRef } from './ports.js';
import type { FixRecord } from './success-rates.js';

export const INCIDENT_PHASES = [
  'diagnosing',
  'findings', // findings posted, nothing to approve
  'awaiting-approval',
  'fixing',
  'verifying',
  'recovered',
  'escalated',
  'closed', // handled by a person ("I'll handle it"), or alarm back to OK
] as const;
export type IncidentPhase = (typeof INCIDENT_PHASES)[number];

/** Every action nodemedic writes in an audit trail (a writer cannot write another). */
const AUDIT_ACTIONS = [
  // The incident opens and its workflow starts.
  'opened',
  'duplicate',
  'flapped',
  'card-not-posted',
  'execution-started',
  'reachability',
  // Commands sent, and their judgement (`<purpose>-sent`, `<purpose>-ok|failed`).
  'diagnose-sent',
  'recheck-sent',
  'fix-sent',
  'verify-sent',
  'rollback-sent',
  'recheck-ok',
  'recheck-failed',
  'fix-ok',
  'fix-failed',
  'verify-ok',
  'verify-failed',
  'rollback-ok',
  'rollback-failed',
  'command-cancelled',
  // The node's own readiness after a passed verification.
  'ready-ok',
  'ready-failed',
  'ready-skipped',
  'ready-unchecked',
  'analyzed',
  // The approval round.
  'cluster-held', // written by the cluster hold at arrival (s3/cluster)
  'awaiting-approval',
  'refused',
  'held',
  'rejected',
  'approval',
  'approved',
  'denied',
  'rerun',
  'resume-failed',
  'buttons-not-closed',
  // The ending.
  'recovered',
  'skipped',
  'escalated',
  'execution-ended',
  'escalation-posted',
  'page-failed',
  'paged',
  'page-resolved',
  'timeline-posted',
  'alarm-ok',
  'alarm-ok-ignored',
  'alarm-ok-posted',
] as const;
/** An action nodemedic writes in an audit trail. */
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

declare const opaque: unique symbol;
/**
 * An action read from a stored record that this version does not write (written by an older or a
 * newer version). It loads, is shown as it is, and never matches an action this version acts on;
 * no writer can produce one, since no plain string is assignable to it.
 */
export type UnknownAuditAction = string & { readonly [opaque]: 'unknown audit action' };

/** One line of the audit trail. Never holds a secret. */
export interface AuditEntry {
  /** ISO-8601 UTC. */
  readonly at: string;
  /** What happened: typed for writers; a stored record may carry one this version does not know. */
  readonly action: AuditAction | UnknownAuditAction;
  /** Slack user id, or `nodemedic`. */
  readonly actor: string;
  readonly detail: string;
}

/**
 * Audit action: an approval went through but Slack failed to turn its buttons into text; the step
 * that ends the incident (outcome or escalation) does it then.
 */
export const BUTTONS_NOT_CLOSED = 'buttons-not-closed' satisfies AuditAction;

/**
 * The incident's approval round, kept on the record so that no step counts audit entries to find
 * where the approval stands.
 */
export interface ApprovalRound {
  /**
   * Approvals that went through on this incident: the fix and the rollback sent after the Nth are
   * reserved as `fix#N` and `rollback#N`, so a retried send finds its reservation. 0 before any.
   */
  readonly approved: number;
  /**
   * Per Slack user, their presses held at the cluster's fix slots: each hold gives that user's
   * next press a fresh one-shot click key, so pressing again once a slot frees counts.
   */
  readonly holds: Readonly<Record<string, number>>;
}

/**
 * The incident's approval round. Records written before the round was kept on the record (no
 * `round`) derive it from their audit trail, here and nowhere else: approvals that went through
 * are its `approved` entries, holds its `held` entries per actor.
 */
export function roundOf(incident: Pick<Incident, 'round' | 'audit'>): ApprovalRound {
  if (incident.round) return incident.round;
  let approved = 0;
  const holds: Record<string, number> = {};
  for (const entry of incident.audit) {
    if (entry.action === 'approved') approved += 1;
    else if (entry.action === 'held') holds[entry.actor] = (holds[entry.actor] ?? 0) + 1;
  }
  return { approved, holds };
}

export interface Approval {
  readonly remediation: RemediationId;
  readonly user: string;
  readonly at: string;
}

/** A command nodemedic sent to the node, kept so a retried step never sends it twice. */
export interface SentCommand {
  /** `diagnose`, `recheck`, `fix`, `verify` or `rollback`, with the attempt number: `fix#1`. */
  readonly key: string;
  readonly commandId: string | null;
  readonly script: string;
  readonly at: string;
  /**
   * Fixes and rollbacks are reserved before they are sent: `sending` until SSM (or EC2) accepted
   * them, `sent` after, `send-failed` when the call failed and a retry may send again.
   * Diagnosis commands are recorded `sent`.
   */
  readonly state?: 'sending' | 'sent' | 'send-failed';
}

/** Phases that hold one of the cluster's fix slots (`SafetyPolicy.maxFixesInFlightPerCluster`). */
export const IN_FLIGHT_PHASES: readonly IncidentPhase[] = ['fixing', 'verifying'];

/** Options of {@link IncidentStore.update}. */
export interface UpdateOptions {
  /**
   * When the change moves the incident into fixing or verifying, take one of the cluster's fix
   * slots in the same conditional write, and refuse with {@link InFlightLimitError} when this many
   * are taken already. Leaving those phases always gives the slot back.
   */
  readonly inFlightLimit?: number;
}

/** Every fix slot of the cluster is taken: the change was not written. */
export class InFlightLimitError extends NodemedicError {
  constructor(
    readonly cluster: string,
    readonly inFlight: number,
    readonly limit: number,
  ) {
    super('IN_FLIGHT_LIMIT', `${inFlight} fix(es) already in flight in cluster ${cluster} (limit ${limit})`);
  }
}

/** Phases after which nothing more happens to an incident. */
const TERMINAL_PHASES: readonly IncidentPhase[] = ['recovered', 'escalated', 'closed'];

/** True once the incident has ended. */
export function isTerminal(incident: Pick<Incident, 'phase'>): boolean {
  return TERMINAL_PHASES.includes(incident.phase);
}

export interface Incident {
  /** `cluster#instanceId#openedAt`-style id; stable for the incident's life. */
  readonly id: string;
  /** Dedupe key: the open incident for this node (`cluster#instanceId`). */
  readonly nodeKey: string;
  readonly node: NodeRef;
  readonly alarmName: string;
  readonly openedAt: string;
  readonly phase: IncidentPhase;
  /** The status card (thread root). */
  readonly card: MessageRef | null;
  readonly findings: readonly Finding[];
  /** Remediations offered, frozen once posted. */
  readonly offered: readonly RemediationId[];
  /**
   * What the findings message says beyond the findings and the offered fixes: the report's notes
   * and the fixes for a person. Kept so that every later update of that message (a decision, an
   * expiry, the alarm back to OK) keeps them. Absent on records written before: none.
   */
  readonly notes?: readonly string[];
  readonly manual?: readonly RemediationId[];
  /** The remediation requested for approval and who asked for it (destructive: requester can't approve). */
  readonly requested: { readonly remediation: RemediationId; readonly by: string } | null;
  readonly approvals: readonly Approval[];
  /** Step Functions task token (or in-process token) of the pending approval wait. */
  readonly taskToken: string | null;
  /**
   * Where the approval stands: written by every transition that moves it (functions/core/
   * transitions.ts). Absent on records written before it existed: read it with {@link roundOf}.
   */
  readonly round?: ApprovalRound;
  /** Fix attempts on this node in this incident (retry budget). */
  readonly attempts: number;
  readonly audit: readonly AuditEntry[];
  /**
   * The thread replies go to. For an alarm, the card itself; for a mention in another
   * integration's alert thread, that thread's root (the card is then a reply in it).
   * Absent means `card`.
   */
  readonly thread?: MessageRef | null;
  /** The findings reply carrying the buttons, so an expiry can turn them into text. */
  readonly findingsMessage?: MessageRef | null;
  /** Commands sent for this incident, newest last (audit and idempotency of sends). */
  readonly commands?: readonly SentCommand[];
  /**
   * The contributor (time series) of a multi-time-series alarm whose ALARM opened the incident:
   * only that contributor's OK closes it. Absent or null: the alarm itself opened it.
   */
  readonly contributorId?: string | null;
  /**
   * The alarm that opened it names a cluster, not this node (`cluster_failed_node_count`: the node
   * was found by readiness or a sweep). Its state says nothing of this node, so the verification
   * after a fix reads the node's own readiness only. Absent: false.
   */
  readonly clusterAlarm?: boolean;
  /**
   * The incident of this node that recovered shortly before this one opened (a flap within the
   * policy's cooldown): this one continues in its thread.
   */
  readonly reopens?: string | null;
  /**
   * The workflow execution started for the incident; null until it started (a redelivered alarm
   * event starts it then). Absent on records written before this field existed.
   */
  readonly execution?: string | null;
  /**
   * True when the incident was diagnosed in shadow mode (functions/core/shadow.ts): it offered
   * nothing to run, and every click on it is refused.
   */
  readonly shadow?: boolean;
  /**
   * The cluster incident (functions/core/cluster.ts) this node was held under when it arrived: it
   * has no card of its own, its findings feed the cluster thread's summary, and its fixes are held.
   */
  readonly clusterIncident?: string | null;
  /** Optimistic-lock version; every write increments it. */
  readonly version: number;
}

/** Incident persistence: DynamoDB in AWS, memory locally. */
export interface IncidentStore {
  /**
   * Open an incident for the node unless one is open already (conditional write).
   * Returns the open incident and whether this call created it.
   */
  open(init: Omit<Incident, 'version'>): Promise<{ incident: Incident; created: boolean }>;
  get(id: string): Promise<Incident | null>;
  findOpenByNode(nodeKey: string): Promise<Incident | null>;
  /**
   * Apply `change` to the stored incident atomically (conditional on version). Retries on
   * conflict. Returns the updated incident. With `options.inFlightLimit`, a move into
   * fixing/verifying also takes a cluster fix slot in the same write, or throws
   * InFlightLimitError without writing anything.
   */
  update(id: string, change: (current: Incident) => Incident, options?: UpdateOptions): Promise<Incident>;
  /**
   * The node's most recently ended incident (recovered, escalated or closed), so a node that goes
   * NotReady again within the flap cooldown continues in that incident's thread. Absent: every
   * flap opens a new thread.
   */
  findLastEnded?(nodeKey: string): Promise<Incident | null>;
  /** Incidents in `fixing`/`verifying` for a cluster (blast radius, fix slots taken). */
  countInFlight(cluster: string): Promise<number>;
  /**
   * Record a one-shot key (Slack retry ids, click ids). Returns false when it was seen before.
   * Used for idempotency of clicks and redeliveries.
   */
  claimOnce(key: string, ttlSeconds: number): Promise<boolean>;
  /**
   * The fixes applied in `cluster` for `cause` by incidents that ended at or after `since`
   * (ISO-8601), oldest first. Stores write them (`fixRecords`) when an incident ends; reading
   * costs in proportion to that cluster and cause's incidents, never a scan of the table.
   */
  fixHistory(cluster: string, cause: CauseId, since: string): Promise<readonly FixRecord[]>;
  /**
   * The cluster's node incidents that have not ended, for the cluster hold decided at arrival
   * (functions/core/cluster.ts). DynamoDB answers from a sparse index of open incidents, which
   * lags writes by a moment: a storm's first arrivals may count a few short.
   */
  countOpen(cluster: string): Promise<number>;
  /** The cluster's current cluster incident (open or ended), or null. */
  getCluster(cluster: string): Promise<ClusterIncident | null>;
  /**
   * Make `init` the cluster's current cluster incident, unless another writer made one first:
   * conditional on the current one still being `replaces` (null: none). Returns the current one
   * and whether this call created it (the creator posts its thread).
   */
  openCluster(
    init: Omit<ClusterIncident, 'version'>,
    replaces: string | null,
  ): Promise<{ cluster: ClusterIncident; created: boolean }>;
  /**
   * Put one node into the open cluster incident `id` (keyed by instance id, replacing its earlier
   * entry), bump `rev`, and set `lastJoinedAt` and `fleet` when given. One map-path write, with no
   * version check, so a storm's nodes never conflict with one another. Returns the record after
   * the write, or null when `id` is not the cluster's current open cluster incident.
   */
  putClusterMember(
    cluster: string,
    id: string,
    member: ClusterMember,
    touch?: { lastJoinedAt?: string; fleet?: ClusterIncident['fleet'] },
  ): Promise<ClusterIncident | null>;
  /**
   * Change the cluster incident `id`'s other fields (thread, renderedRev, phase, and fields others
   * add, such as the rolling fix's `roll`) atomically, conditional on its `version` and retried on
   * conflict. `members` and `rev` belong to {@link putClusterMember} and cannot change here.
   * Throws INCIDENT_NOT_FOUND when `id` is not the cluster's current cluster incident.
   */
  updateCluster(
    cluster: string,
    id: string,
    change: (current: ClusterIncident) => ClusterIncident,
  ): Promise<ClusterIncident>;
}

/** Runs one workflow execution per incident: Step Functions in AWS, in-process locally. */
export interface Workflow {
  start(incidentId: string, input: Record<string, unknown>): Promise<{ executionId: string }>;
  /** Resume a waiting approval (SendTaskSuccess). */
  resume(taskToken: string, output: Record<string, unknown>): Promise<void>;
  /** Fail a waiting approval (SendTaskFailure), e.g. on deny. */
  fail(taskToken: string, error: string, cause: string): Promise<void>;
}
