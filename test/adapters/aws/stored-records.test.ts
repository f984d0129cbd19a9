/**
 * Records written by another version of nodemedic, read back through the DynamoDB store (the fake
 * table passes every item through the real marshaller): an audit action this version does not
 * write still loads and is shown as it is, and a record without the approval round (written
 * before it was kept) has it derived from its audit trail, so an in-flight fix is never sent twice
 * across an upgrade.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { DynamoIncidentStore } from '../../../functions/adapters/aws/dynamo-store.js';
import { applyTransition } from '../../../functions/app/effects.js';
import { type AuditEntry, type Incident, roundOf } from '../../../functions/core/incident.js';
import { DEFAULT_SAFETY_POLICY } from '../../../functions/core/policy.js';
import { renderTimeline } from '../../../functions/core/render/timeline.js';
import { transition } from '../../../functions/core/transitions.js';
import { incidentInit, T0 } from '../incident-store-contract.js';
import { FakeTable } from './fake-dynamo.js';

const ddb = mockClient(DynamoDBDocumentClient);
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' }));
let table: FakeTable;
let store: DynamoIncidentStore;

beforeEach(() => {
  ddb.reset();
  table = new FakeTable();
  table.install(ddb);
  store = new DynamoIncidentStore({ client: doc, tableName: 'incidents', clock: () => T0 });
});

const at = T0.toISOString();
/** An audit line as another version wrote it: its action is whatever that version wrote. */
const stored = (action: string, actor = 'nodemedic', detail = '') => ({ at, action, actor, detail });

/** Put `over` into the stored item of an incident opened through the store, as an older version would have. */
async function writtenBefore(over: Record<string, unknown>): Promise<string> {
  const init = incidentInit();
  await store.open(init);
  const pk = `INCIDENT#${init.id}`;
  const item = table.items.get(pk);
  if (!item) throw new Error('the store wrote no incident item');
  table.items.set(pk, { ...item, ...over });
  return init.id;
}

describe('records written by another version', () => {
  it('load with audit actions this version does not write, shown as they are', async () => {
    const id = await writtenBefore({
      phase: 'escalated',
      audit: [
        stored('opened', 'alarm'),
        stored('awaiting-approval'),
        stored('expired', 'nodemedic', 'nobody approved'),
        stored('handed-to-a-robot', 'nodemedic', 'from a newer version'),
      ],
    });
    const incident = (await store.get(id)) as Incident;
    expect(incident.audit.map((a) => a.action)).toEqual([
      'opened',
      'awaiting-approval',
      'expired',
      'handed-to-a-robot',
    ]);
    expect(JSON.stringify(renderTimeline(incident).blocks)).toContain('handed-to-a-robot');
    // A click on it is answered with the decision the old version recorded.
    const click = transition(incident, {
      type: 'deny-clicked',
      at,
      user: 'U0ALICE',
      messageTs: '1700000000.000200',
    });
    expect(click.outcome).toEqual({
      kind: 'stale',
      detail: `Already handled: expired by nodemedic at ${at} (nobody approved).`,
    });
  });

  it('without a round: a retried fix send finds the fix the old version sent, and does not send it again', async () => {
    const id = await writtenBefore({
      phase: 'fixing',
      offered: ['restart-containerd'],
      attempts: 1,
      commands: [{ key: 'fix#1', commandId: 'cmd-1', script: 'restart-containerd', at, state: 'sent' }],
      audit: [stored('opened', 'alarm'), stored('approved', 'U0ALICE', 'restart-containerd by U0ALICE')],
    });
    const written = await applyTransition(store, id, (current) =>
      transition(current, { type: 'fix-reserved', at, purpose: 'fix', remediation: 'restart-containerd' }),
    );
    expect(written.outcome).toMatchObject({ kind: 'sent', key: 'fix#1', command: { commandId: 'cmd-1' } });
    expect((await store.get(id))?.commands).toHaveLength(1);
  });

  it('without a round: the next transition that moves it writes the round it derived, keeping every line', async () => {
    const audit: ReturnType<typeof stored>[] = [
      stored('opened', 'alarm'),
      stored('analyzed'),
      stored('held', 'U0BOB', 'fix:restart-containerd: slots full'),
      stored('handed-to-a-robot'),
      stored('awaiting-approval'),
    ];
    const id = await writtenBefore({
      phase: 'awaiting-approval',
      taskToken: 'token-1',
      offered: ['restart-containerd'],
      findingsMessage: { channel: 'C0NODEMEDIC', ts: '1700000000.000200' },
      audit,
    });
    const before = (await store.get(id)) as Incident;
    expect(before.round).toBeUndefined();
    expect(roundOf(before)).toEqual({ approved: 0, holds: { U0BOB: 1 } });
    const written = await applyTransition(store, id, (current) =>
      transition(current, {
        type: 'approve-clicked',
        at,
        user: 'U0BOB',
        messageTs: '1700000000.000200',
        remediation: 'restart-containerd',
        policy: DEFAULT_SAFETY_POLICY,
      }),
    );
    expect(written.outcome).toMatchObject({ kind: 'approved' });
    const after = (await store.get(id)) as Incident;
    expect(after.round).toEqual({ approved: 1, holds: { U0BOB: 1 } });
    expect(after.audit.slice(0, audit.length)).toEqual(audit as AuditEntry[]);
    expect(after.audit.at(-1)).toMatchObject({ action: 'approved', actor: 'U0BOB' });
  });
});
