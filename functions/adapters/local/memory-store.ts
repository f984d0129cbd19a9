/**
 * In-memory incident store for the local mode, the demo and tests. It keeps the semantics of the
 * DynamoDB store (functions/adapters/aws/dynamo-store.ts) so the same contract suite runs against
 * both: one open incident per node, optimistic versioning, one-shot keys with an expiry, and a
 * count of fixes in flight per cluster.
 */
import {
  type ClusterIncident,
  type ClusterMember,
  checkClusterChange,
  checkClusterInit,
} from '../../core/cluster.js';
import { InvalidInputError } from '../../core/errors.js';
import {
  IN_FLIGHT_PHASES,
  type Incident,
  type IncidentPhase,
  type IncidentStore,
  InFlightLimitError,
  type UpdateOptions,
} from '../../core/incident.js';
import type { CauseId } from '../../core/model.js';
import { type FixRecord, fixRecords, historyKey, validateSince } from '../../core/success-rates.js';

/** Phases after which the node is free for a new incident (the open-node lock is released). */
const TERMINAL_PHASES: ReadonlySet<IncidentPhase> = new Set(['recovered', 'escalated', 'closed']);

/** Options of {@link MemoryIncidentStore}. */
export interface MemoryIncidentStoreOptions {
  /** Time source for one-shot key expiry; tests move it forward. @default () => new Date() */
  readonly clock?: () => Date;
}

/**
 * `IncidentStore` over plain maps. Every value handed out is a deep copy, so a caller that mutates
 * what it got cannot change the stored record behind the store's back (as with a real database).
 */
export class MemoryIncidentStore implements IncidentStore {
  private readonly incidents = new Map<string, Incident>();
  /** nodeKey → id of the open incident. */
  private readonly openByNode = new Map<string, string>();
  /** nodeKey → id of the node's most recently ended incident. */
  private readonly lastEndedByNode = new Map<string, string>();
  /** one-shot key → expiry, epoch ms. */
  private readonly once = new Map<string, number>();
  /** `cluster#cause` → the fixes applied, in end-time order (the DynamoDB store's history index). */
  private readonly history = new Map<string, FixRecord[]>();
  /** cluster → its current cluster incident. */
  private readonly clusters = new Map<string, ClusterIncident>();
  private readonly clock: () => Date;

  constructor(options: MemoryIncidentStoreOptions = {}) {
    this.clock = options.clock ?? (() => new Date());
  }

  async open(init: Omit<Incident, 'version'>): Promise<{ incident: Incident; created: boolean }> {
    checkInit(init);
    const openId = this.openByNode.get(init.nodeKey);
    const open = openId === undefined ? undefined : this.incidents.get(openId);
    if (open) return { incident: copy(open), created: false };
    // Same id stored already (a redelivered event after the incident ended): never overwrite it.
    const same = this.incidents.get(init.id);
    if (same) return { incident: copy(same), created: false };
    const incident: Incident = { ...copy(init), version: 1 };
    this.incidents.set(incident.id, incident);
    if (!TERMINAL_PHASES.has(incident.phase)) this.openByNode.set(incident.nodeKey, incident.id);
    return { incident: copy(incident), created: true };
  }

  async get(id: string): Promise<Incident | null> {
    const incident = this.incidents.get(id);
    return incident ? copy(incident) : null;
  }

  async findOpenByNode(nodeKey: string): Promise<Incident | null> {
    const id = this.openByNode.get(nodeKey);
    return id === undefined ? null : this.get(id);
  }

  async findLastEnded(nodeKey: string): Promise<Incident | null> {
    const id = this.lastEndedByNode.get(nodeKey);
    return id === undefined ? null : this.get(id);
  }

  async update(
    id: string,
    change: (current: Incident) => Incident,
    options: UpdateOptions = {},
  ): Promise<Incident> {
    const current = this.incidents.get(id);
    if (!current) {
      throw new InvalidInputError(`no incident with id "${id}"`, { code: 'INCIDENT_NOT_FOUND' });
    }
    // `change` is synchronous and JavaScript runs one callback at a time, so nothing can write
    // between this read and the write below: the version check of the DynamoDB store has no
    // counterpart here, but the version still moves on every write, as callers rely on it.
    const changed = change(copy(current));
    checkIdentity(current, changed);
    const next: Incident = { ...copy(changed), version: current.version + 1 };
    const limit = options.inFlightLimit;
    if (
      limit !== undefined &&
      !IN_FLIGHT_PHASES.includes(current.phase) &&
      IN_FLIGHT_PHASES.includes(next.phase)
    ) {
      // The slot check and the write below run in one synchronous stretch: no other update can
      // take the slot in between, as the DynamoDB store's conditional write guarantees.
      const taken = this.inFlight(next.node.cluster);
      if (taken >= limit) throw new InFlightLimitError(next.node.cluster, taken, limit);
    }
    this.incidents.set(id, next);
    if (TERMINAL_PHASES.has(next.phase) && this.openByNode.get(next.nodeKey) === id) {
      this.openByNode.delete(next.nodeKey);
    }
    if (TERMINAL_PHASES.has(next.phase) && !TERMINAL_PHASES.has(current.phase)) {
      this.lastEndedByNode.set(next.nodeKey, id);
      for (const record of fixRecords(next, this.clock().toISOString())) {
        const key = historyKey(record.cluster, record.cause);
        this.history.set(key, [...(this.history.get(key) ?? []), record]);
      }
    }
    return copy(next);
  }

  async countInFlight(cluster: string): Promise<number> {
    return this.inFlight(cluster);
  }

  private inFlight(cluster: string): number {
    let count = 0;
    for (const incident of this.incidents.values()) {
      if (incident.node.cluster === cluster && IN_FLIGHT_PHASES.includes(incident.phase)) count += 1;
    }
    return count;
  }

  async claimOnce(key: string, ttlSeconds: number): Promise<boolean> {
    checkClaim(key, ttlSeconds);
    const now = this.clock().getTime();
    const expires = this.once.get(key);
    if (expires !== undefined && expires >= now) return false;
    this.once.set(key, now + ttlSeconds * 1000);
    return true;
  }

  async fixHistory(cluster: string, cause: CauseId, since: string): Promise<readonly FixRecord[]> {
    validateSince(since);
    const records = this.history.get(historyKey(cluster, cause)) ?? [];
    return copy(records.filter((r) => r.endedAt >= since));
  }

  async countOpen(cluster: string): Promise<number> {
    let count = 0;
    for (const incident of this.incidents.values()) {
      if (incident.node.cluster === cluster && !TERMINAL_PHASES.has(incident.phase)) count += 1;
    }
    return count;
  }

  async getCluster(cluster: string): Promise<ClusterIncident | null> {
    const current = this.clusters.get(cluster);
    return current ? copy(current) : null;
  }

  async openCluster(
    init: Omit<ClusterIncident, 'version'>,
    replaces: string | null,
  ): Promise<{ cluster: ClusterIncident; created: boolean }> {
    checkClusterInit(init);
    const current = this.clusters.get(init.cluster);
    // Another writer replaced it first: theirs stands. (None at all: the record expired.)
    if (current && current.id !== replaces) return { cluster: copy(current), created: false };
    const created: ClusterIncident = { ...copy(init), version: 1 };
    this.clusters.set(init.cluster, created);
    return { cluster: copy(created), created: true };
  }

  async putClusterMember(
    cluster: string,
    id: string,
    member: ClusterMember,
    touch: { lastJoinedAt?: string; fleet?: ClusterIncident['fleet'] } = {},
  ): Promise<ClusterIncident | null> {
    const current = this.clusters.get(cluster);
    if (current?.id !== id || current.phase !== 'open') return null;
    const next: ClusterIncident = {
      ...current,
      members: { ...current.members, [member.instanceId]: copy(member) },
      rev: current.rev + 1,
      ...(touch.lastJoinedAt ? { lastJoinedAt: touch.lastJoinedAt } : {}),
      ...(touch.fleet ? { fleet: copy(touch.fleet) } : {}),
    };
    this.clusters.set(cluster, next);
    return copy(next);
  }

  async updateCluster(
    cluster: string,
    id: string,
    change: (current: ClusterIncident) => ClusterIncident,
  ): Promise<ClusterIncident> {
    const current = this.clusters.get(cluster);
    if (current?.id !== id) {
      throw new InvalidInputError(`no current cluster incident ${id} in ${cluster}`, {
        code: 'INCIDENT_NOT_FOUND',
      });
    }
    const changed = change(copy(current));
    checkClusterChange(current, changed);
    // Members that joined while `change` ran are kept, as the DynamoDB store writes only the rest.
    const latest = this.clusters.get(cluster) ?? current;
    const next: ClusterIncident = {
      ...copy(changed),
      members: latest.members,
      rev: latest.rev,
      version: current.version + 1,
    };
    this.clusters.set(cluster, next);
    return copy(next);
  }
}

function copy<T>(value: T): T {
  // JSON, not structuredClone: it drops `undefined` optional fields the same way DynamoDB does.
  return JSON.parse(JSON.stringify(value)) as T;
}

/** Shared by both stores: an incident without an id or node key would break deduplication. */
function checkInit(init: Omit<Incident, 'version'>): void {
  if (!init.id) throw new InvalidInputError('incident id is empty', { code: 'INCIDENT_INVALID' });
  if (!init.nodeKey) throw new InvalidInputError('incident nodeKey is empty', { code: 'INCIDENT_INVALID' });
}

function checkIdentity(current: Incident, next: Incident): void {
  if (next.id !== current.id || next.nodeKey !== current.nodeKey) {
    throw new InvalidInputError(
      `an update may not change the incident id or nodeKey (${current.id} → ${next.id})`,
      { code: 'INCIDENT_INVALID' },
    );
  }
}

function checkClaim(key: string, ttlSeconds: number): void {
  if (!key) throw new InvalidInputError('one-shot key is empty', { code: 'INCIDENT_INVALID' });
  if (!Number.isFinite(ttlSeconds) || ttlSeconds <= 0) {
    throw new InvalidInputError(`one-shot ttlSeconds must be a positive number, got ${ttlSeconds}`, {
      code: 'INCIDENT_INVALID',
    });
  }
}
