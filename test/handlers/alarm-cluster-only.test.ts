// biome-ignore-all lint/suspicious/noExplicitAny: events and outcomes are read as untyped JSON
/**
 * A cluster-only alarm (cluster_failed_node_count, test/fixtures/alarms/cluster-only*.json, each
 * citing its page) through the real alarm function: per-node readiness from CloudWatch
 * GetMetricData (API_GetMetricData.html), else a sweep over SSM Run Command by tag
 * (API_SendCommand.html, API_ListCommands.html, API_ListCommandInvocations.html), the documented
 * shapes mocked with aws-sdk-client-mock; the node's incident opened as a per-node alarm opens it,
 * and one summary in the channel.
 */
import { readFileSync } from 'node:fs';
import { GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import { ListCommandInvocationsCommand, ListCommandsCommand, SendCommandCommand } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AwsEdge, INSTANCE, NODE_NAME } from './support.js';

const aws = new AwsEdge();
const fixture = (name: string): Record<string, any> =>
  JSON.parse(readFileSync(new URL(`../fixtures/alarms/${name}`, import.meta.url), 'utf8'));
const handle = async (event: unknown) =>
  (await import('../../functions/handlers/alarm.js')).handler(event as never, {
    getRemainingTimeInMillis: () => 60_000,
  }) as Promise<Record<string, any>>;
const COMMAND = 'ef7fdfd8-9b57-4151-a15c-db9a12345678';
const STOPPED = readFileSync(
  new URL('../fixtures/facts/recorded/daemon-stopped.json', import.meta.url),
  'utf8',
);

beforeAll(() => aws.start());
afterAll(() => aws.close());
beforeEach(() => aws.reset());

const summaries = () =>
  aws.requests('chat.postMessage').filter((r: any) => String(r.body.text).startsWith('Cluster prod: '));

describe('a cluster-only alarm through the alarm function', () => {
  it('opens the NotReady node Container Insights names, without a sweep', async () => {
    aws.cloudwatch.on(GetMetricDataCommand).resolves({
      MetricDataResults: [
        {
          Id: 'ready',
          Label: `${INSTANCE} ${NODE_NAME}`,
          Timestamps: [new Date()],
          Values: [0],
          StatusCode: 'Complete',
        },
      ],
    });
    const out = await handle(fixture('cluster-only.json'));
    expect(out).toMatchObject({
      kind: 'cluster-checked',
      source: 'readiness',
      nodes: [{ instanceId: INSTANCE, kind: 'opened' }],
    });
    const query = aws.cloudwatch.commandCalls(GetMetricDataCommand)[0]!.args[0].input.MetricDataQueries![0]!;
    expect(query.Expression).toContain("WHERE ClusterName = 'prod' GROUP BY InstanceId, NodeName");
    expect(aws.ssm.commandCalls(SendCommandCommand)).toHaveLength(0);
    expect(aws.incident()).toMatchObject({
      nodeKey: `prod#${INSTANCE}`,
      alarmName: 'nodemedic-prod-failed-nodes',
    });
    expect(aws.sfn.commandCalls(StartExecutionCommand)).toHaveLength(1);
    expect(summaries()).toHaveLength(1);
  });

  it('sweeps the nodes by tag when there is no per-node readiness, and opens the one with findings', async () => {
    aws.cloudwatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [] });
    aws.ssm.on(SendCommandCommand).resolves({ Command: { CommandId: COMMAND, Status: 'Pending' } });
    aws.ssm
      .on(ListCommandsCommand)
      .resolves({ Commands: [{ CommandId: COMMAND, Status: 'Success', TargetCount: 1 }] });
    aws.ssm.on(ListCommandInvocationsCommand).resolves({
      CommandInvocations: [
        {
          CommandId: COMMAND,
          InstanceId: INSTANCE,
          Status: 'Success',
          StatusDetails: 'Success',
          CommandPlugins: [
            { Name: 'nodemedicDiagnose', Status: 'Success', ResponseCode: 0, Output: STOPPED },
          ],
        },
      ],
    });
    const out = await handle(fixture('cluster-only.json'));
    expect(out).toMatchObject({
      kind: 'cluster-checked',
      source: 'sweep',
      headline: '1 node probed, 0 healthy, 1 with findings',
      nodes: [{ instanceId: INSTANCE, kind: 'opened' }],
    });
    expect(aws.ssm.commandCalls(SendCommandCommand)[0]!.args[0].input).toMatchObject({
      DocumentName: 'nodemedic-diagnose',
      Targets: [{ Key: 'tag:eks:cluster-name', Values: ['prod'] }],
      Parameters: { depth: ['quick'] },
      MaxConcurrency: '20%',
      MaxErrors: '50%',
    });
    expect(summaries()[0]!.body.text).toContain(`${INSTANCE} (containerd-down)`);
  });

  it('acknowledges its OK and closes nothing', async () => {
    const out = await handle(fixture('cluster-only-ok.json'));
    expect(out).toMatchObject({ kind: 'ignored', reason: expect.stringMatching(/closes no incident/) });
    expect(aws.cloudwatch.calls()).toHaveLength(0);
    expect(aws.ssm.calls()).toHaveLength(0);
  });
});
