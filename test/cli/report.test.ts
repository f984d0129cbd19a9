/**
 * `nodemedic report <incident-id>`: the timeline read from the incident table. DynamoDB is answered
 * by aws-sdk-client-mock with an item in the shape DynamoIncidentStore writes (GetItem through the
 * DocumentClient: https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_GetItem.html,
 * `Item` holding the attributes).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { DynamoIncidentStore } from '../../functions/adapters/aws/dynamo-store.js';
import { reportCommand } from '../../functions/cli/report.js';

const doc = mockClient(DynamoDBDocumentClient);
const ID = 'prod#i-0abc123def4567890#2026-11-29T03:00:00.000Z';
const ITEM = {
  pk: `INCIDENT#${ID}`,
  kind: 'incident',
  ttl: 1_798_000_000,
  id: ID,
  nodeKey: 'prod#i-0abc123def4567890',
  node: {
    instanceId: 'i-0abc123def4567890',
    nodeName: 'ip-10-0-1-23.ec2.internal',
    cluster: 'prod',
    autoScalingGroup: null,
  },
  alarmName: 'nodemedic-node-not-ready-prod',
  openedAt: '2026-11-29T03:00:00.000Z',
  phase: 'recovered',
  card: { channel: 'C0INCIDENTS', ts: '1.1' },
  findings: [],
  offered: ['restart-containerd'],
  requested: null,
  approvals: [],
  taskToken: null,
  attempts: 1,
  audit: [
    {
      at: '2026-11-29T03:00:00.000Z',
      action: 'opened',
      actor: 'alarm',
      detail: 'alarm on i-0abc123def4567890',
    },
    {
      at: '2026-11-29T03:00:41.000Z',
      action: 'analyzed',
      actor: 'nodemedic',
      detail: 'causes: containerd-down',
    },
    { at: '2026-11-29T03:00:42.000Z', action: 'awaiting-approval', actor: 'nodemedic', detail: 'offered' },
    {
      at: '2026-11-29T03:03:10.000Z',
      action: 'approved',
      actor: 'U0ALICE',
      detail: 'restart-containerd by U0ALICE',
    },
    { at: '2026-11-29T03:03:30.000Z', action: 'recovered', actor: 'nodemedic', detail: 'restart-containerd' },
  ],
  version: 7,
};

async function run(args: string[], env: Record<string, string> = {}) {
  let stdout = '';
  let stderr = '';
  const saved = process.env.NODEMEDIC_TABLE;
  if (env.NODEMEDIC_TABLE) process.env.NODEMEDIC_TABLE = env.NODEMEDIC_TABLE;
  else delete process.env.NODEMEDIC_TABLE;
  try {
    const code = await reportCommand(
      args,
      { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) },
      {
        store: ({ table }) =>
          new DynamoIncidentStore({
            client: DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' })),
            tableName: table,
          }),
      },
    );
    return { code, stdout, stderr };
  } finally {
    if (saved === undefined) delete process.env.NODEMEDIC_TABLE;
    else process.env.NODEMEDIC_TABLE = saved;
  }
}

beforeEach(() => doc.reset());

describe('nodemedic report', () => {
  it('prints the timeline as Markdown from the table', async () => {
    doc
      .on(GetCommand, { TableName: 'nodemedic-incidents', Key: { pk: `INCIDENT#${ID}` } })
      .resolves({ Item: ITEM });
    const { code, stdout } = await run([ID, '--table', 'nodemedic-incidents']);
    expect(code).toBe(0);
    expect(stdout).toContain(`# Incident ${ID}`);
    expect(stdout).toContain(
      '- Durations: to findings 41s · waiting for a person 2m 28s · to recovery 3m 30s · in all 3m 30s',
    );
    expect(stdout).toContain(
      '| +03:10 | 2026-11-29T03:03:10.000Z | Approved | U0ALICE | restart-containerd by U0ALICE |',
    );
  });

  it('takes the table from NODEMEDIC_TABLE, and says when the incident is not there (exit 1)', async () => {
    doc.on(GetCommand).resolves({});
    const { code, stderr } = await run([ID], { NODEMEDIC_TABLE: 'from-env' });
    expect(code).toBe(1);
    expect(stderr).toContain(`no incident "${ID}" in from-env`);
  });

  it.each([
    [[], 'name exactly one incident id'],
    [[ID, 'extra', '--table', 't'], 'name exactly one incident id'],
    [[ID], '--table is required'],
    [[ID, '--table', 't', '--bogus'], "Unknown option '--bogus'"],
  ])('%j → exit 2, %s', async (args, message) => {
    const { code, stderr } = await run(args as string[]);
    expect(code).toBe(2);
    expect(stderr).toContain(message);
  });
});
