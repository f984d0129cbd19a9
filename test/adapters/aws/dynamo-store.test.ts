import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  ScanCommand,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { beforeEach, describe, expect, it } from 'vitest';
import { DynamoIncidentStore, MAX_WRITE_ATTEMPTS } from '../../../functions/adapters/aws/dynamo-store.js';
import { HISTORY_INDEX } from '../../../functions/core/success-rates.js';
import { incidentInit, incidentStoreContract, T0 } from '../incident-store-contract.js';
import { FakeTable } from './fake-dynamo.js';

const ddb = mockClient(DynamoDBDocumentClient);
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' }));
let table: FakeTable;

beforeEach(() => {
  ddb.reset();
  table = new FakeTable();
  table.indexes.set(HISTORY_INDEX.name, [HISTORY_INDEX.partitionKey, HISTORY_INDEX.sortKey]);
  table.install(ddb);
});

const make = (clock: () => Date = () => T0) =>
  new DynamoIncidentStore({ client: doc, tableName: 'incidents', clock });

incidentStoreContract('DynamoIncidentStore', (clock) => make(clock));

describe('DynamoIncidentStore fix history', () => {
  const verified = (n: number) =>
    incidentInit({
      node: {
        instanceId: `i-0abc123def45678${String(n).padStart(2, '0')}`,
        nodeName: null,
        cluster: 'prod',
        autoScalingGroup: null,
      },
      phase: 'verifying',
      findings: [
        {
          cause: 'fd-exhaustion',
          severity: 'critical',
          confidence: 'high',
          summary: 's',
          evidence: [],
          remediations: ['raise-nofile'],
        },
      ],
      audit: [
        { at: T0.toISOString(), action: 'fix-sent', actor: 'nodemedic', detail: 'raise-nofile: cmd-1' },
        { at: T0.toISOString(), action: 'verify-ok', actor: 'nodemedic', detail: '' },
      ],
    });

  it('writes the history item in the transaction that ends the incident, kept for historyDays', async () => {
    const store = new DynamoIncidentStore({
      client: doc,
      tableName: 'incidents',
      clock: () => T0,
      historyDays: 120,
    });
    const init = verified(1);
    await store.open(init);
    const before = table.transactions;
    await store.update(init.id, (c) => ({ ...c, phase: 'recovered' }));
    expect(table.transactions - before).toBe(1);
    expect(table.items.get(`FIX#${init.id}#0`)).toEqual({
      pk: `FIX#${init.id}#0`,
      kind: 'fix',
      history: 'prod#fd-exhaustion',
      endedAt: T0.toISOString(),
      incidentId: init.id,
      cluster: 'prod',
      cause: 'fd-exhaustion',
      remediation: 'raise-nofile',
      passed: true,
      ttl: T0.getTime() / 1000 + 120 * 86_400,
    });
  });

  it('reads the window with Query on the index, following LastEvaluatedKey across pages', async () => {
    table.pageSize = 2;
    const store = make();
    for (let n = 0; n < 5; n++) {
      const init = verified(n);
      await store.open(init);
      await store.update(init.id, (c) => ({ ...c, phase: 'recovered' }));
    }
    const history = await store.fixHistory('prod', 'fd-exhaustion', T0.toISOString());
    expect(history).toHaveLength(5);
    expect(table.queries).toBe(3);
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
      TableName: 'incidents',
      IndexName: 'byClusterCause',
      KeyConditionExpression: '#history = :history AND #endedAt >= :since',
      ExpressionAttributeValues: { ':history': 'prod#fd-exhaustion', ':since': T0.toISOString() },
    });
    expect(ddb).not.toHaveReceivedCommand(ScanCommand);
  });

  it('turns a throttled Query into a retryable store error', async () => {
    ddb
      .on(QueryCommand)
      .rejects(Object.assign(new Error('slow down'), { name: 'ThrottlingException', $metadata: {} }));
    await expect(make().fixHistory('prod', 'fd-exhaustion', T0.toISOString())).rejects.toMatchObject({
      retryable: true,
    });
  });
});

describe('DynamoIncidentStore items', () => {
  const DAY = 86_400;
  const t0 = T0.getTime() / 1000;

  it('writes the incident and the open-node lock in one transaction, each with a TTL', async () => {
    const init = incidentInit();
    await make().open(init);
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
    expect(table.items.get(`OPEN#${init.nodeKey}`)).toEqual({
      pk: 'OPEN#prod#i-0abc123def4567890',
      kind: 'open',
      incidentId: init.id,
      ttl: t0 + 30 * DAY,
    });
    expect(table.items.get(`INCIDENT#${init.id}`)).toMatchObject({
      kind: 'incident',
      version: 1,
      ttl: t0 + 30 * DAY,
    });
  });

  it('honours ttlDays and refreshes the TTL on every write', async () => {
    let now = T0.getTime();
    const store = new DynamoIncidentStore({
      client: doc,
      tableName: 'incidents',
      ttlDays: 7,
      clock: () => new Date(now),
    });
    const init = incidentInit();
    await store.open(init);
    now += 3600_000;
    await store.update(init.id, (c) => ({ ...c, phase: 'findings' }));
    expect(table.items.get(`INCIDENT#${init.id}`)!.ttl).toBe(t0 + 3600 + 7 * DAY);
  });

  it('keeps the in-flight ids in a cluster item, updated in the same transaction', async () => {
    const init = incidentInit();
    const store = make();
    await store.open(init);
    await store.update(init.id, (c) => ({ ...c, phase: 'fixing' }));
    expect(table.items.get('CLUSTER#prod')).toEqual({
      pk: 'CLUSTER#prod',
      kind: 'cluster',
      inflight: new Set([init.id]),
      ttl: t0 + 30 * DAY,
    });
    await store.update(init.id, (c) => ({ ...c, phase: 'recovered' }));
    expect(table.items.get('CLUSTER#prod')!.inflight).toBeUndefined();
    expect(table.items.has(`OPEN#${init.nodeKey}`)).toBe(false);
  });

  it('retries an update whose version moved under it, re-applying the change to the fresh record', async () => {
    const init = incidentInit();
    const store = make();
    await store.open(init);
    let interfered = false;
    table.beforeTransact = () => {
      if (interfered) return;
      interfered = true;
      // Another writer lands between our read and our write.
      const key = `INCIDENT#${init.id}`;
      const item = table.items.get(key)!;
      table.items.set(key, { ...item, version: 2, taskToken: 'token-from-the-other-writer' });
    };
    let calls = 0;
    const updated = await store.update(init.id, (c) => {
      calls += 1;
      return { ...c, phase: 'awaiting-approval' };
    });
    expect(calls).toBe(2);
    expect(updated).toMatchObject({
      version: 3,
      phase: 'awaiting-approval',
      taskToken: 'token-from-the-other-writer',
    });
  });

  it(`gives up with a retryable INCIDENT_CONFLICT after ${MAX_WRITE_ATTEMPTS} lost races`, async () => {
    const init = incidentInit();
    const store = make();
    await store.open(init);
    table.beforeTransact = () => {
      const key = `INCIDENT#${init.id}`;
      const item = table.items.get(key)!;
      table.items.set(key, { ...item, version: (item.version as number) + 1 });
    };
    await expect(store.update(init.id, (c) => c)).rejects.toMatchObject({
      code: 'INCIDENT_CONFLICT',
      retryable: true,
    });
    expect(table.transactions).toBe(1 + MAX_WRITE_ATTEMPTS);
  });

  it('treats a lock left over past its TTL (not yet swept by DynamoDB) as free', async () => {
    const init = incidentInit();
    table.items.set(`OPEN#${init.nodeKey}`, {
      pk: `OPEN#${init.nodeKey}`,
      kind: 'open',
      incidentId: 'gone',
      ttl: 1,
    });
    const store = make();
    expect(await store.findOpenByNode(init.nodeKey)).toBeNull();
    expect((await store.open(init)).created).toBe(true);
  });

  it('reads with strong consistency, so a redelivered event sees the incident just opened', async () => {
    await make().get('x');
    expect(ddb).toHaveReceivedCommandWith(GetCommand, {
      TableName: 'incidents',
      Key: { pk: 'INCIDENT#x' },
      ConsistentRead: true,
    });
  });

  it('maps throttling to a retryable STORE_THROTTLED and other failures to STORE_FAILED', async () => {
    ddb
      .on(GetCommand)
      .rejectsOnce(Object.assign(new Error('slow'), { name: 'ProvisionedThroughputExceededException' }));
    await expect(make().get('x')).rejects.toMatchObject({ code: 'STORE_THROTTLED', retryable: true });
    ddb
      .on(GetCommand)
      .rejectsOnce(Object.assign(new Error('no table'), { name: 'ResourceNotFoundException' }));
    await expect(make().get('x')).rejects.toMatchObject({ code: 'STORE_FAILED', retryable: false });
  });

  it('refuses a bad configuration', () => {
    expect(() => new DynamoIncidentStore({ client: doc, tableName: '' })).toThrow(/tableName/);
    expect(() => new DynamoIncidentStore({ client: doc, tableName: 't', ttlDays: 0 })).toThrow(/ttlDays/);
  });
});
