/**
 * The alarm function as AWS runs it, for the handler suites: the real handler module composed from
 * the real AWS adapters, AWS answered by aws-sdk-client-mock (DynamoDB by a fake table that
 * evaluates the store's conditions), and Slack by the local stand-in over HTTP.
 */
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import {
  DescribeInstanceStatusCommand,
  DescribeInstancesCommand,
  EC2Client,
  GetConsoleOutputCommand,
} from '@aws-sdk/client-ec2';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { DescribeInstanceInformationCommand, SSMClient } from '@aws-sdk/client-ssm';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import type { Incident } from '../../functions/core/incident.js';
import { SlackStandIn } from '../../functions/local/slack-standin/server.js';
import { FakeTable } from '../adapters/aws/fake-dynamo.js';

const SLACK_METHODS = ['chat.postMessage', 'chat.update'] as const;

export const STATE_MACHINE = 'arn:aws:states:eu-west-1:123456789012:stateMachine:nodemedic';
export const INSTANCE = 'i-0abc123def4567890';
export const NODE_NAME = 'ip-10-0-1-23.eu-west-1.compute.internal';

/**
 * Set the environment every function of the stack reads (infra/nodemedic.ts), pointed at the
 * Slack stand-in, plus what a suite's functions add or change.
 */
export function setHandlerEnv(slackApiUrl: string, extra: Readonly<Record<string, string>> = {}): void {
  Object.assign(process.env, {
    TABLE_NAME: 'nodemedic-incidents',
    SLACK_SECRET_ID: 'nodemedic/slack',
    SLACK_CHANNEL_ID: 'C0ALERTS',
    SLACK_API_URL: slackApiUrl,
    CLUSTER_TAG_KEY: 'eks:cluster-name',
    CLUSTER_NAMES: 'prod',
    STATE_MACHINE_ARN: STATE_MACHINE,
    // The alarm function's sweeper (and every runner) reads the diagnose document's name.
    DOCUMENTS: JSON.stringify({ diagnose: 'nodemedic-diagnose' }),
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    ...extra,
  });
}

/** Post an incident's thread card to the stand-in, as the alarm function would; its channel and ts. */
export async function postCard(slackApiUrl: string): Promise<{ channel: string; ts: string }> {
  const card = await fetch(`${slackApiUrl}chat.postMessage`, {
    method: 'POST',
    headers: { authorization: 'Bearer xoxb-aws-test', 'content-type': 'application/json' },
    body: JSON.stringify({ channel: 'C0ALERTS', text: 'card' }),
  }).then((r) => r.json() as Promise<{ ts: string }>);
  return { channel: 'C0ALERTS', ts: card.ts };
}

/** An EC2 DescribeInstances answer for one tagged cluster node. */
export function ec2Instance(
  instanceId = INSTANCE,
  nodeName = NODE_NAME,
  tags: Record<string, string> = { 'eks:cluster-name': 'prod', 'aws:autoscaling:groupName': 'prod-ng' },
) {
  return {
    Reservations: [
      {
        Instances: [
          {
            InstanceId: instanceId,
            PrivateDnsName: nodeName,
            State: { Name: 'running' as const },
            Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
          },
        ],
      },
    ],
  };
}

/** The mocked AWS clients, the fake table and the Slack stand-in of one suite. */
export class AwsEdge {
  readonly ddb = mockClient(DynamoDBDocumentClient);
  readonly ec2 = mockClient(EC2Client);
  readonly ssm = mockClient(SSMClient);
  readonly sfn = mockClient(SFNClient);
  readonly cloudwatch = mockClient(CloudWatchClient);
  readonly secrets = mockClient(SecretsManagerClient);
  table = new FakeTable();
  slack!: SlackStandIn;
  private marks = new Map<string, number>();
  /** StartExecution calls still to refuse (set by a test, reset before each). */
  startFailures = 0;

  constructor() {
    mockClient(AutoScalingClient);
  }

  /** Start the stand-in and set the alarm function's environment (beforeAll). */
  async start(): Promise<void> {
    this.slack = await SlackStandIn.start({ botToken: 'xoxb-aws-test', signingSecret: 'unused' });
    setHandlerEnv(this.slack.apiUrl, {
      DOCUMENTS: JSON.stringify({ diagnose: 'nodemedic-diagnose' }),
      ALARM_FILTER: JSON.stringify({ namePrefixes: ['nodemedic-'] }),
      VERSION_POLICY: JSON.stringify({ minimum: '1.6.0' }),
    });
  }

  /** Fresh mocks, table and stand-in records (beforeEach). */
  reset(): void {
    for (const m of [this.ddb, this.ec2, this.ssm, this.sfn, this.cloudwatch, this.secrets]) m.reset();
    this.table = new FakeTable();
    this.table.install(this.ddb);
    // The stand-in lives for the whole suite (the handler reads its URL once): remember where
    // this test's requests start.
    this.marks = new Map(SLACK_METHODS.map((m) => [m, this.slack.requestsOf(m).length]));
    this.secrets
      .on(GetSecretValueCommand)
      .resolves({ SecretString: JSON.stringify({ botToken: 'xoxb-aws-test', signingSecret: 's3cr3t' }) });
    this.ec2.on(DescribeInstancesCommand).resolves(ec2Instance());
    this.ec2.on(DescribeInstanceStatusCommand).resolves({
      InstanceStatuses: [
        {
          InstanceId: INSTANCE,
          InstanceState: { Name: 'running' },
          SystemStatus: { Status: 'ok' },
          InstanceStatus: { Status: 'ok' },
        },
      ],
    });
    this.ec2.on(GetConsoleOutputCommand).resolves({ Output: Buffer.from('boot ok\n').toString('base64') });
    this.ssm
      .on(DescribeInstanceInformationCommand)
      .resolves({ InstanceInformationList: [{ InstanceId: INSTANCE, PingStatus: 'Online' }] });
    this.startFailures = 0;
    this.sfn.on(StartExecutionCommand).callsFake((input: { name: string }) => {
      if (this.startFailures > 0) {
        this.startFailures--;
        // A real StartExecution refusal the SDK does not retry by itself.
        throw Object.assign(new Error('too many executions'), {
          name: 'ExecutionLimitExceeded',
          $metadata: {},
        });
      }
      return { executionArn: `${STATE_MACHINE}:${input.name}`, startDate: new Date() };
    });
  }

  /** The Web API requests of `method` the stand-in received during this test. */
  requests(method: (typeof SLACK_METHODS)[number]) {
    return this.slack.requestsOf(method).slice(this.marks.get(method) ?? 0);
  }

  /** Every incident in the table. */
  incidents(): Incident[] {
    return [...this.table.items.values()]
      .filter((item) => String(item.pk).startsWith('INCIDENT#'))
      .map((item) => item as unknown as Incident);
  }

  /** The one incident in the table (fails the test when there is not exactly one). */
  incident(): Incident {
    const all = this.incidents();
    if (all.length !== 1) throw new Error(`expected one incident, found ${all.length}`);
    return all[0]!;
  }

  async close(): Promise<void> {
    await this.slack.close();
  }
}
