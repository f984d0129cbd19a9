/**
 * `IncidentStore` over one DynamoDB table (partition key `pk`, TTL attribute `ttl`), through the
 * DocumentClient. Item kinds, by key prefix:
 *
 * - `INCIDENT#<id>`: the incident itself, with `version` for optimistic locking.
 * - `OPEN#<nodeKey>`: the open-node lock, `{ incidentId }`. Written in the same transaction as the
 *   incident with `attribute_not_exists(pk)`, so a redelivered event or a flapping alarm finds the
 *   one open incident instead of opening a second. Deleted, in the same transaction as the update,
 *   when the incident reaches recovered / escalated / closed.
 * - `LAST#<nodeKey>`: `{ incidentId }` of the node's most recently ended incident, put in the
 *   same transaction as the update that ends it (a flap within the cooldown continues there).
 * - `ONCE#<key>`: one-shot keys (Slack retries, clicks), conditional on absence, with a short TTL.
 * - `CLUSTER#<cluster>`: `{ inflight: StringSet }`, the ids of the cluster's incidents in `fixing`
 *   or `verifying`. Every update that moves an incident into or out of those phases ADDs or
 *   DELETEs its id in the same transaction, so the count is exact (set operations are idempotent,
 *   and the transaction is conditional on the incident's version) and costs one read. With an
 *   `inFlightLimit`, the ADD is conditional on `size(inflight) < limit`: the set is the cluster's
 *   fix slots, and two approvals in the same instant cannot both take the last one.
 *
 * - `HOLD#<cluster>`: the cluster's current cluster incident (functions/core/cluster.ts, its shape
 *   documented there). Opened with a conditional put (absent, or still the one it replaces), so
 *   concurrent arrivals agree on one. Members join with one UpdateItem each on a map path
 *   (`SET members.<instanceId> = :m ADD rev :1`), conditional only on the record's id and phase, so
 *   a storm's nodes never conflict; the other fields change under `version` (`updateCluster`).
 *
 * Incident items of incidents that have not ended carry `openCluster` = their cluster: the keys of
 * the sparse `byOpenCluster` index, so a cluster's open incidents are counted with one Query.
 *
 * - `FIX#<incidentId>#<n>`: one applied fix and whether its verification passed, written in the
 *   transaction that ends the incident (`fixRecords`), with `history` = `cluster#cause` and
 *   `endedAt`: the keys of the `byClusterCause` index, so the success rates of a cluster and cause
 *   are one Query over that window. Kept `historyDays` (longer than the incidents themselves).
 *
 * Every item carries `ttl` (epoch seconds): DynamoDB deletes records `ttlDays` after their last
 * write. TTL deletion is lazy, so conditions treat an expired lock or one-shot key as absent.
 * All writes go through TransactWriteItems, even single-item ones, to keep one error path.
 */
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  type QueryCommandOutput,
  TransactWriteCommand,
  type TransactWriteCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import {
  type ClusterIncident,
  type ClusterMember,
  checkClusterChange,
  checkClusterInit,
  OPEN_INDEX,
} from '../../core/cluster.js';
import { DependencyError, InvalidInputError, type NodemedicError } from '../../core/errors.js';
import {
  IN_FLIGHT_PHASES,
  type Incident,
  type IncidentPhase,
  type IncidentStore,
  InFlightLimitError,
  type UpdateOptions,
} from '../../core/incident.js';
import type { CauseId } from '../../core/model.js';
import {
  type FixRecord,
  fixRecords,
  HISTORY_INDEX,
  historyKey,
  validateSince,
} from '../../core/success-rates.js';
import { errorName, toDependencyError } from './sdk-errors.js';

/** Options of {@link DynamoIncidentStore}. */
export interface DynamoIncidentStoreOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  /** Days a record is kept after its last write. @default 30 */
  readonly ttlDays?: number;
  /**
   * Days the record of an applied fix is kept, for the success rates; longer than the largest
   * window the policy allows. @default 400
   */
  readonly historyDays?: number;
  /** @default () => new Date() */
  readonly clock?: () => Date;
}

/** Phases after which the node is free for a new incident (the open-node lock is released). */
const TERMINAL_PHASES: ReadonlySet<IncidentPhase> = new Set(['recovered', 'escalated', 'closed']);
/** Attempts of a conditional write before giving up with INCIDENT_CONFLICT. */
export const MAX_WRITE_ATTEMPTS = 5;

const RETRYABLE = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'InternalServerError',
  'TransactionInProgressException',
  'TransactionConflictException',
]);
/** Attributes of ours on incident items, stripped when reading one back. */
const META = ['pk', 'kind', 'ttl', OPEN_INDEX.partitionKey] as const;
/** Fields of a cluster incident that `updateCluster` never writes. */
const CLUSTER_FIXED = new Set(['id', 'cluster', 'members', 'rev', 'version', 'pk', 'kind', 'ttl']);

type Item = Record<string, unknown>;
type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/** DynamoDB-backed incident store. */
export class DynamoIncidentStore implements IncidentStore {
  private readonly client: DynamoDBDocumentClient;
  private readonly table: string;
  private readonly ttlSeconds: number;
  private readonly historySeconds: number;
  private readonly clock: () => Date;

  constructor(options: DynamoIncidentStoreOptions) {
    if (!options.tableName) throw new InvalidInputError('tableName is empty');
    const days = options.ttlDays ?? 30;
    if (!(days > 0)) throw new InvalidInputError(`ttlDays must be positive, got ${days}`);
    this.client = options.client;
    this.table = options.tableName;
    this.ttlSeconds = Math.round(days * 86_400);
    const historyDays = options.historyDays ?? 400;
    if (!(historyDays > 0)) throw new InvalidInputError(`historyDays must be positive, got ${historyDays}`);
    this.historySeconds = Math.round(historyDays * 86_400);
    this.clock = options.clock ?? (() => new Date());
  }

  async open(init: Omit<Incident, 'version'>): Promise<{ incident: Incident; created: boolean }> {
    if (!init.id) throw new InvalidInputError('incident id is empty', { code: 'INCIDENT_INVALID' });
    if (!init.nodeKey) throw new InvalidInputError('incident nodeKey is empty', { code: 'INCIDENT_INVALID' });
    const incident: Incident = { ...clean(init), version: 1 };
    const lock = !TERMINAL_PHASES.has(incident.phase);
    for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt++) {
      const items: TransactItem[] = [
        {
          Put: {
            TableName: this.table,
            Item: this.incidentItem(incident),
            ConditionExpression: 'attribute_not_exists(pk)',
          },
        },
      ];
      if (lock) items.push(this.takeLock(incident));
      const reasons = await this.transact(items, `open incident ${init.id}`);
      if (reasons === null) return { incident, created: true };
      if (reasons[0] === 'ConditionalCheckFailed') {
        // The same id again (a redelivered event after the incident ended): never overwrite it.
        const same = await this.get(init.id);
        if (same) return { incident: same, created: false };
      } else if (reasons[1] === 'ConditionalCheckFailed') {
        const open = await this.findOpenByNode(init.nodeKey);
        if (open) return { incident: open, created: false };
        // The lock was released between our write and our read: try again.
      }
    }
    throw conflict(`open incident ${init.id}`);
  }

  async get(id: string): Promise<Incident | null> {
    const item = await this.read(`INCIDENT#${id}`);
    return item ? toIncident(item) : null;
  }

  async findOpenByNode(nodeKey: string): Promise<Incident | null> {
    const lock = await this.read(`OPEN#${nodeKey}`);
    if (!lock || this.expired(lock) || typeof lock.incidentId !== 'string') return null;
    return this.get(lock.incidentId);
  }

  async findLastEnded(nodeKey: string): Promise<Incident | null> {
    const last = await this.read(`LAST#${nodeKey}`);
    return typeof last?.incidentId === 'string' ? this.get(last.incidentId) : null;
  }

  async update(
    id: string,
    change: (current: Incident) => Incident,
    options: UpdateOptions = {},
  ): Promise<Incident> {
    for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt++) {
      const current = await this.get(id);
      if (!current) {
        throw new InvalidInputError(`no incident with id "${id}"`, { code: 'INCIDENT_NOT_FOUND' });
      }
      const changed = change(clean(current));
      if (changed.id !== current.id || changed.nodeKey !== current.nodeKey) {
        throw new InvalidInputError(
          `an update may not change the incident id or nodeKey (${current.id} → ${changed.id})`,
          { code: 'INCIDENT_INVALID' },
        );
      }
      const next: Incident = { ...clean(changed), version: current.version + 1 };
      const items: TransactItem[] = [
        {
          Put: {
            TableName: this.table,
            Item: this.incidentItem(next),
            ConditionExpression: '#version = :version',
            ExpressionAttributeNames: { '#version': 'version' },
            ExpressionAttributeValues: { ':version': current.version },
          },
        },
      ];
      if (TERMINAL_PHASES.has(next.phase) && !TERMINAL_PHASES.has(current.phase)) {
        items.push({
          Put: {
            TableName: this.table,
            Item: { pk: `LAST#${next.nodeKey}`, kind: 'last', incidentId: id, ttl: this.expiry() },
          },
        });
        const lock = await this.read(`OPEN#${next.nodeKey}`);
        // Only our own lock: after a lock expired, another incident may hold the node.
        if (lock?.incidentId === id) {
          items.push({
            Delete: {
              TableName: this.table,
              Key: { pk: `OPEN#${next.nodeKey}` },
              ConditionExpression: 'incidentId = :id',
              ExpressionAttributeValues: { ':id': id },
            },
          });
        }
      }
      if (TERMINAL_PHASES.has(next.phase) && !TERMINAL_PHASES.has(current.phase)) {
        items.push(...this.historyItems(next));
      }
      const was = IN_FLIGHT_PHASES.includes(current.phase);
      const is = IN_FLIGHT_PHASES.includes(next.phase);
      const limit = is && !was ? options.inFlightLimit : undefined;
      let slot = -1;
      if (was !== is) {
        slot = items.length;
        items.push({
          Update: {
            TableName: this.table,
            Key: { pk: `CLUSTER#${next.node.cluster}` },
            UpdateExpression: `${is ? 'ADD' : 'DELETE'} #inflight :ids SET #ttl = :ttl, #kind = :kind`,
            ExpressionAttributeNames: { '#inflight': 'inflight', '#ttl': 'ttl', '#kind': 'kind' },
            ExpressionAttributeValues: {
              ':ids': new Set([id]),
              ':ttl': this.expiry(),
              ':kind': 'cluster',
              ...(limit === undefined ? {} : { ':limit': limit }),
            },
            // A missing set is an empty one: DynamoDB removes a set that becomes empty.
            ...(limit === undefined
              ? {}
              : { ConditionExpression: 'attribute_not_exists(#inflight) OR size(#inflight) < :limit' }),
          },
        });
      }
      const reasons = await this.transact(items, `update incident ${id}`);
      if (reasons === null) return next;
      if (
        limit !== undefined &&
        reasons[0] !== 'ConditionalCheckFailed' &&
        reasons[slot] === 'ConditionalCheckFailed'
      ) {
        // Our version held, the slot did not: every slot is taken. Nothing was written.
        throw new InFlightLimitError(next.node.cluster, await this.countInFlight(next.node.cluster), limit);
      }
      // Someone else wrote first (version moved, or the lock changed hands): read again, re-apply.
    }
    throw conflict(`update incident ${id}`);
  }

  async countInFlight(cluster: string): Promise<number> {
    const item = await this.read(`CLUSTER#${cluster}`);
    const ids = item?.inflight;
    return ids instanceof Set ? ids.size : 0;
  }

  async claimOnce(key: string, ttlSeconds: number): Promise<boolean> {
    if (!key) throw new InvalidInputError('one-shot key is empty', { code: 'INCIDENT_INVALID' });
    if (!Number.isFinite(ttlSeconds) || ttlSeconds <= 0) {
      throw new InvalidInputError(`one-shot ttlSeconds must be a positive number, got ${ttlSeconds}`, {
        code: 'INCIDENT_INVALID',
      });
    }
    const now = this.now();
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.table,
          Item: { pk: `ONCE#${key}`, kind: 'once', ttl: now + Math.ceil(ttlSeconds) },
          ConditionExpression: 'attribute_not_exists(pk) OR #ttl < :now',
          ExpressionAttributeNames: { '#ttl': 'ttl' },
          ExpressionAttributeValues: { ':now': now },
        }),
      );
      return true;
    } catch (error) {
      if (errorName(error) === 'ConditionalCheckFailedException') return false;
      throw storeError(error, `claim one-shot key ${key}`);
    }
  }

  async fixHistory(cluster: string, cause: CauseId, since: string): Promise<readonly FixRecord[]> {
    validateSince(since);
    const records: FixRecord[] = [];
    await this.queryPages(
      {
        IndexName: HISTORY_INDEX.name,
        KeyConditionExpression: '#history = :history AND #endedAt >= :since',
        ExpressionAttributeNames: {
          '#history': HISTORY_INDEX.partitionKey,
          '#endedAt': HISTORY_INDEX.sortKey,
        },
        ExpressionAttributeValues: { ':history': historyKey(cluster, cause), ':since': since },
      },
      `query the fix history of ${historyKey(cluster, cause)}`,
      (page) => {
        for (const item of page.Items ?? []) {
          records.push({
            incidentId: String(item.incidentId),
            cluster: String(item.cluster),
            cause: item.cause as CauseId,
            remediation: item.remediation as FixRecord['remediation'],
            passed: item.passed === true,
            endedAt: String(item.endedAt),
          });
        }
      },
    );
    return records;
  }

  async countOpen(cluster: string): Promise<number> {
    let count = 0;
    await this.queryPages(
      {
        IndexName: OPEN_INDEX.name,
        KeyConditionExpression: '#cluster = :cluster',
        ExpressionAttributeNames: { '#cluster': OPEN_INDEX.partitionKey },
        ExpressionAttributeValues: { ':cluster': cluster },
        Select: 'COUNT',
      },
      `count the open incidents of cluster ${cluster}`,
      (page) => {
        count += page.Count ?? 0;
      },
    );
    return count;
  }

  async getCluster(cluster: string): Promise<ClusterIncident | null> {
    const item = await this.read(`HOLD#${cluster}`);
    return item ? toCluster(item) : null;
  }

  async openCluster(
    init: Omit<ClusterIncident, 'version'>,
    replaces: string | null,
  ): Promise<{ cluster: ClusterIncident; created: boolean }> {
    checkClusterInit(init);
    const record: ClusterIncident = { ...clean(init), version: 1 };
    for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt++) {
      const reasons = await this.transact(
        [
          {
            Put: {
              TableName: this.table,
              Item: { ...record, pk: `HOLD#${init.cluster}`, kind: 'hold', ttl: this.expiry() },
              ConditionExpression:
                replaces === null
                  ? 'attribute_not_exists(pk)'
                  : 'attribute_not_exists(pk) OR #id = :replaces',
              ...(replaces === null
                ? {}
                : {
                    ExpressionAttributeNames: { '#id': 'id' },
                    ExpressionAttributeValues: { ':replaces': replaces },
                  }),
            },
          },
        ],
        `open cluster incident ${init.id}`,
      );
      if (reasons === null) return { cluster: record, created: true };
      // Another arrival opened (or replaced) it first: theirs stands.
      const current = await this.getCluster(init.cluster);
      if (current && current.id !== replaces) return { cluster: current, created: false };
    }
    throw conflict(`open cluster incident ${init.id}`);
  }

  async putClusterMember(
    cluster: string,
    id: string,
    member: ClusterMember,
    touch: { lastJoinedAt?: string; fleet?: ClusterIncident['fleet'] } = {},
  ): Promise<ClusterIncident | null> {
    const names: Record<string, string> = {
      '#members': 'members',
      '#member': member.instanceId,
      '#rev': 'rev',
      '#id': 'id',
      '#phase': 'phase',
      '#ttl': 'ttl',
    };
    const values: Record<string, unknown> = {
      ':member': clean(member),
      ':one': 1,
      ':id': id,
      ':open': 'open',
      ':ttl': this.expiry(),
    };
    const sets = ['#members.#member = :member', '#ttl = :ttl'];
    if (touch.lastJoinedAt) {
      names['#lastJoinedAt'] = 'lastJoinedAt';
      values[':lastJoinedAt'] = touch.lastJoinedAt;
      sets.push('#lastJoinedAt = :lastJoinedAt');
    }
    if (touch.fleet) {
      names['#fleet'] = 'fleet';
      values[':fleet'] = clean(touch.fleet);
      sets.push('#fleet = :fleet');
    }
    for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt++) {
      try {
        const out = await this.client.send(
          new UpdateCommand({
            TableName: this.table,
            Key: { pk: `HOLD#${cluster}` },
            UpdateExpression: `SET ${sets.join(', ')} ADD #rev :one`,
            ConditionExpression: '#id = :id AND #phase = :open',
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
            ReturnValues: 'ALL_NEW',
          }),
        );
        return out.Attributes ? toCluster(out.Attributes) : null;
      } catch (error) {
        const name = errorName(error);
        if (name === 'ConditionalCheckFailedException') return null;
        // An updateCluster transaction on the same item at this instant: try again.
        if (name === 'TransactionConflictException' && attempt < MAX_WRITE_ATTEMPTS) continue;
        throw storeError(error, `add ${member.instanceId} to cluster incident ${id}`);
      }
    }
    throw conflict(`add ${member.instanceId} to cluster incident ${id}`);
  }

  async updateCluster(
    cluster: string,
    id: string,
    change: (current: ClusterIncident) => ClusterIncident,
  ): Promise<ClusterIncident> {
    for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt++) {
      const current = await this.getCluster(cluster);
      if (current?.id !== id) {
        throw new InvalidInputError(`no current cluster incident ${id} in ${cluster}`, {
          code: 'INCIDENT_NOT_FOUND',
        });
      }
      const changed = change(clean(current));
      checkClusterChange(current, changed);
      const next: ClusterIncident = { ...clean(changed), version: current.version + 1 };
      // Only the fields this method owns are written: members joining meanwhile are kept.
      const names: Record<string, string> = { '#version': 'version', '#id': 'id', '#ttl': 'ttl' };
      const values: Record<string, unknown> = {
        ':version': current.version,
        ':next': next.version,
        ':id': id,
        ':ttl': this.expiry(),
      };
      const sets = ['#version = :next', '#ttl = :ttl'];
      const removes: string[] = [];
      const fields = new Set([...Object.keys(current), ...Object.keys(next)]);
      let n = 0;
      for (const field of fields) {
        if (CLUSTER_FIXED.has(field)) continue;
        const key = `#f${n}`;
        names[key] = field;
        const value = (next as unknown as Item)[field];
        if (value === undefined) removes.push(key);
        else {
          values[`:f${n}`] = value;
          sets.push(`${key} = :f${n}`);
        }
        n += 1;
      }
      const reasons = await this.transact(
        [
          {
            Update: {
              TableName: this.table,
              Key: { pk: `HOLD#${cluster}` },
              UpdateExpression: `SET ${sets.join(', ')}${removes.length ? ` REMOVE ${removes.join(', ')}` : ''}`,
              ConditionExpression: '#version = :version AND #id = :id',
              ExpressionAttributeNames: names,
              ExpressionAttributeValues: values,
            },
          },
        ],
        `update cluster incident ${id}`,
      );
      if (reasons === null) return (await this.getCluster(cluster)) ?? next;
    }
    throw conflict(`update cluster incident ${id}`);
  }

  /** The history items of an incident that ends now: one per applied fix. */
  private historyItems(incident: Incident): TransactItem[] {
    const endedAt = this.clock().toISOString();
    return fixRecords(incident, endedAt).map((record, n) => ({
      Put: {
        TableName: this.table,
        Item: {
          ...record,
          pk: `FIX#${incident.id}#${n}`,
          kind: 'fix',
          [HISTORY_INDEX.partitionKey]: historyKey(record.cluster, record.cause),
          ttl: this.now() + this.historySeconds,
        },
      },
    }));
  }

  /** The lock put: absent, or left over past its TTL (DynamoDB deletes expired items lazily). */
  private takeLock(incident: Incident): TransactItem {
    return {
      Put: {
        TableName: this.table,
        Item: { pk: `OPEN#${incident.nodeKey}`, kind: 'open', incidentId: incident.id, ttl: this.expiry() },
        ConditionExpression: 'attribute_not_exists(pk) OR #ttl < :now',
        ExpressionAttributeNames: { '#ttl': 'ttl' },
        ExpressionAttributeValues: { ':now': this.now() },
      },
    };
  }

  private incidentItem(incident: Incident): Item {
    return {
      ...incident,
      pk: `INCIDENT#${incident.id}`,
      kind: 'incident',
      ttl: this.expiry(),
      // The sparse open-incident index: an incident leaves it in the write that ends it.
      ...(TERMINAL_PHASES.has(incident.phase) ? {} : { [OPEN_INDEX.partitionKey]: incident.node.cluster }),
    };
  }

  /** Run a Query on this table to its last page, handing each page to `onPage`. */
  private async queryPages(
    input: Omit<QueryCommandInput, 'TableName' | 'ExclusiveStartKey'>,
    what: string,
    onPage: (page: QueryCommandOutput) => void,
  ): Promise<void> {
    let start: QueryCommandOutput['LastEvaluatedKey'];
    do {
      let page: QueryCommandOutput;
      try {
        page = await this.client.send(
          new QueryCommand({
            ...input,
            TableName: this.table,
            ...(start ? { ExclusiveStartKey: start } : {}),
          }),
        );
      } catch (error) {
        throw storeError(error, what);
      }
      onPage(page);
      start = page.LastEvaluatedKey;
    } while (start);
  }

  private async read(pk: string): Promise<Item | null> {
    try {
      const out = await this.client.send(
        new GetCommand({ TableName: this.table, Key: { pk }, ConsistentRead: true }),
      );
      return out.Item ?? null;
    } catch (error) {
      throw storeError(error, `read ${pk}`);
    }
  }

  /**
   * Run a transaction. Returns null on success, or the cancellation reason codes (one per item,
   * `None` for items that were fine) when a condition failed or another transaction interfered.
   */
  private async transact(items: TransactItem[], what: string): Promise<string[] | null> {
    try {
      await this.client.send(new TransactWriteCommand({ TransactItems: items }));
      return null;
    } catch (error) {
      if (errorName(error) !== 'TransactionCanceledException') throw storeError(error, what);
      const reasons = (
        (error as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? []
      ).map((r) => r.Code ?? 'None');
      const retryable = new Set(['None', 'ConditionalCheckFailed', 'TransactionConflict']);
      if (reasons.length > 0 && reasons.every((code) => retryable.has(code))) return reasons;
      throw storeError(error, `${what} (${reasons.join(', ') || 'no reason given'})`);
    }
  }

  private now(): number {
    return Math.floor(this.clock().getTime() / 1000);
  }

  private expiry(): number {
    return this.now() + this.ttlSeconds;
  }

  private expired(item: Item): boolean {
    return typeof item.ttl === 'number' && item.ttl < this.now();
  }
}

function toIncident(item: Item): Incident {
  const incident: Item = { ...item };
  for (const key of META) delete incident[key];
  return incident as unknown as Incident;
}

function toCluster(item: Item): ClusterIncident {
  const record: Item = { ...item };
  for (const key of ['pk', 'kind', 'ttl']) delete record[key];
  return record as unknown as ClusterIncident;
}

/** Drop `undefined` optional fields (DynamoDB refuses them) and detach from the caller's objects. */
function clean<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

function conflict(what: string): DependencyError {
  return new DependencyError(
    'INCIDENT_CONFLICT',
    `${what}: other writers kept changing the record; gave up after ${MAX_WRITE_ATTEMPTS} attempts`,
    { retryable: true },
  );
}

function storeError(error: unknown, what: string): NodemedicError {
  return toDependencyError(error, `DynamoDB ${what}`, 'STORE', RETRYABLE);
}
