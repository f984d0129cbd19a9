/**
 * The metrics as CloudWatch receives them: the Lambda handlers, composed as in AWS (AWS APIs
 * answered by aws-sdk-client-mock, Slack by the local stand-in), write embedded metric format
 * lines on stdout, one per dimension set, once per invocation. The assertions read those lines,
 * as CloudWatch Logs would (AWS: "Specification: Embedded metric format", CloudWatch user guide).
 */

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DescribeInstanceStatusCommand, DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetCommandInvocationCommand, SSMClient } from '@aws-sdk/client-ssm';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { DynamoIncidentStore } from '../../functions/adapters/aws/dynamo-store.js';
import { HISTORY_INDEX } from '../../functions/core/success-rates.js';
import { SlackStandIn } from '../../functions/local/slack-standin/server.js';
import { FakeTable } from '../adapters/aws/fake-dynamo.js';
import { incidentInit } from '../adapters/incident-store-contract.js';
import { recorded } from '../app/support.js';
import { functionUrlEvent } from '../slack/support.js';
import { postCard, setHandlerEnv } from './support.js';

const ddb = mockClient(DynamoDBDocumentClient);
const ssm = mockClient(SSMClient);
const secrets = mockClient(SecretsManagerClient);
const ec2 = mockClient(EC2Client);
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' }));
let table: FakeTable;
let slack: SlackStandIn;
let stdout: string[] = [];

/** The EMF documents written to stdout since the test began. */
function emf(): {
  _aws: {
    CloudWatchMetrics: {
      Namespace: string;
      Dimensions: string[][];
      Metrics: { Name: string; Unit: string }[];
    }[];
  };
  [k: string]: unknown;
}[] {
  return stdout
    .flatMap((chunk) => chunk.split('\n'))
    .filter((line) => line.startsWith('{') && line.includes('"_aws"'))
    .map((line) => JSON.parse(line));
}

/** The metric `name` with exactly these dimensions, across the EMF lines: its values. */
function values(name: string, dimensions: Record<string, string>): unknown[] {
  return emf()
    .filter((doc) => {
      const directive = doc._aws.CloudWatchMetrics[0]!;
      const keys = directive.Dimensions[0]!;
      const wanted = { service: 'nodemedic', ...dimensions };
      return (
        directive.Namespace === 'nodemedic' &&
        directive.Metrics.some((m) => m.Name === name) &&
        keys.length === Object.keys(wanted).length &&
        Object.entries(wanted).every(([k, v]) => keys.includes(k) && doc[k] === v)
      );
    })
    .map((doc) => doc[name]);
}

beforeAll(async () => {
  slack = await SlackStandIn.start({ botToken: 'xoxb-aws-test', signingSecret: 's3cr3t' });
  setHandlerEnv(slack.apiUrl, {
    DOCUMENTS: JSON.stringify({ diagnose: 'nodemedic-diagnose' }),
    VERSION_POLICY: JSON.stringify({ minimum: '1.6.0' }),
    AWS_REGION: 'eu-west-1',
  });
});
afterAll(async () => {
  await slack.close();
});

beforeEach(() => {
  for (const m of [ddb, ssm, secrets, ec2]) m.reset();
  // The cluster's fleet for the blast radius: one tagged, running, healthy node.
  ec2.on(DescribeInstancesCommand).resolves({
    Reservations: [
      {
        Instances: [
          {
            InstanceId: 'i-0abc123def4567890',
            State: { Name: 'running' },
            Tags: [{ Key: 'eks:cluster-name', Value: 'prod' }],
          },
        ],
      },
    ],
  });
  ec2.on(DescribeInstanceStatusCommand).resolves({
    InstanceStatuses: [
      {
        InstanceId: 'i-0abc123def4567890',
        InstanceState: { Name: 'running' },
        SystemStatus: { Status: 'ok' },
        InstanceStatus: { Status: 'ok' },
      },
    ],
  });
  table = new FakeTable();
  table.indexes.set(HISTORY_INDEX.name, [HISTORY_INDEX.partitionKey, HISTORY_INDEX.sortKey]);
  table.install(ddb);
  secrets
    .on(GetSecretValueCommand)
    .resolves({ SecretString: JSON.stringify({ botToken: 'xoxb-aws-test', signingSecret: 's3cr3t' }) });
  stdout = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout.push(String(chunk));
    return true;
  });
});
afterEach(() => {
  vi.restoreAllMocks();
});

/** An incident opened `ago` seconds before now, with its thread card already posted. */
async function opened(ago: number, over: Parameters<typeof incidentInit>[0] = {}): Promise<string> {
  const store = new DynamoIncidentStore({ client: doc, tableName: 'nodemedic-incidents' });
  const card = await postCard(slack.apiUrl);
  const init = incidentInit({
    openedAt: new Date(Date.now() - ago * 1000).toISOString(),
    card,
    ...over,
  });
  await store.open(init);
  return init.id;
}

describe('metrics in embedded metric format, from the handlers', () => {
  it('analyze counts the incident by cluster and cause and its time to findings, once', async () => {
    const incidentId = await opened(42);
    ssm.on(GetCommandInvocationCommand).resolves({
      Status: 'Success',
      StatusDetails: 'Success',
      ResponseCode: 0,
      StandardOutputContent: recorded('fd-exhaustion'),
      StandardErrorContent: '',
    });
    const { handler } = await import('../../functions/handlers/analyze.js');
    await handler({ incidentId, commandId: 'cmd-1' });

    expect(values('Incidents', { cluster: 'prod', cause: 'fd-exhaustion' })).toEqual([1]);
    const [seconds] = values('TimeToFindings', { cluster: 'prod', cause: 'fd-exhaustion' }) as number[];
    expect(seconds).toBeGreaterThanOrEqual(42);
    expect(seconds).toBeLessThan(120);
    const directive = emf().find((d) => 'TimeToFindings' in d)!._aws.CloudWatchMetrics[0]!;
    expect(directive.Metrics).toEqual(
      expect.arrayContaining([
        { Name: 'Incidents', Unit: 'Count' },
        { Name: 'TimeToFindings', Unit: 'Seconds' },
      ]),
    );

    // A re-run of the diagnosis posts findings again but is the same incident.
    stdout = [];
    await handler({ incidentId, commandId: 'cmd-2' });
    expect(values('Incidents', { cluster: 'prod', cause: 'fd-exhaustion' })).toEqual([]);
  });

  it('escalate counts the escalation by reason; a failing Slack call counts a Slack error', async () => {
    const incidentId = await opened(600, { phase: 'awaiting-approval' });
    const { handler } = await import('../../functions/handlers/escalate.js');
    await handler({ incidentId, reason: 'approval-timeout' });
    expect(values('Escalations', { cluster: 'prod', reason: 'approval-timeout' })).toEqual([1]);
    expect(values('SlackErrors', {})).toEqual([]);

    const second = await opened(60, {
      phase: 'awaiting-approval',
      node: { instanceId: 'i-0abc123def4567891', nodeName: null, cluster: 'prod', autoScalingGroup: null },
    });
    stdout = [];
    slack.failNext('chat.update', 'fatal_error', 1);
    await expect(handler({ incidentId: second, reason: 'fix-failed' })).rejects.toThrow();
    expect(values('Escalations', { cluster: 'prod', reason: 'fix-failed' })).toEqual([1]);
    expect(values('SlackErrors', {})).toEqual([1]);
  });

  it('the Slack function counts a refused click by cluster', async () => {
    const incidentId = await opened(60, {
      phase: 'awaiting-approval',
      node: { instanceId: 'i-0abc123def4567892', nodeName: null, cluster: 'prod', autoScalingGroup: null },
    });
    const findings = await fetch(`${slack.apiUrl}chat.postMessage`, {
      method: 'POST',
      headers: { authorization: 'Bearer xoxb-aws-test', 'content-type': 'application/json' },
      body: JSON.stringify({
        channel: 'C0ALERTS',
        text: 'findings',
        blocks: [
          {
            type: 'actions',
            elements: [
              {
                type: 'button',
                action_id: 'nm_fix:restart-containerd',
                value: incidentId,
                text: { type: 'plain_text', text: 'Restart containerd' },
              },
            ],
          },
        ],
      }),
    }).then((r) => r.json() as Promise<{ ts: string }>);
    const store = new DynamoIncidentStore({ client: doc, tableName: 'nodemedic-incidents' });
    await store.update(incidentId, (c) => ({
      ...c,
      findingsMessage: { channel: 'C0ALERTS', ts: findings.ts },
    }));
    // Nobody is on call or allow-listed in this configuration: the click is refused.
    const click = slack.clickRequest({
      channel: 'C0ALERTS',
      messageTs: findings.ts,
      actionId: 'nm_fix:restart-containerd',
      user: 'U0MALLORY',
    });
    const { handler } = await import('../../functions/handlers/slack.js');
    expect((await handler(functionUrlEvent(click), {})).statusCode).toBe(200);
    expect(values('ApprovalsRefused', { cluster: 'prod' })).toEqual([1]);
    expect(JSON.stringify((await store.get(incidentId))!.audit)).toContain('refused');
  });

  it('outcome writes the time to recovery by cluster and cause', async () => {
    const incidentId = await opened(300, {
      phase: 'verifying',
      findings: [
        {
          cause: 'containerd-down',
          severity: 'critical',
          confidence: 'high',
          summary: 'containerd is down',
          evidence: [],
          remediations: ['restart-containerd'],
        },
      ],
    });
    const { handler } = await import('../../functions/handlers/outcome.js');
    await handler({ incidentId, kind: 'recovered', remediation: 'restart-containerd' });
    const [seconds] = values('TimeToRecovery', { cluster: 'prod', cause: 'containerd-down' }) as number[];
    expect(seconds).toBeGreaterThanOrEqual(300);
  });
});
