/**
 * The Lambda edges as AWS runs them: each handler imported as its bundle's entry, composed from
 * the real AWS adapters, with the AWS APIs answered by aws-sdk-client-mock (DynamoDB by a fake
 * table that evaluates the store's conditions) and Slack by the local stand-in over HTTP.
 * Alarm → reachability → send → poll → analyze → await-approval, then the edge cases an alarm
 * can bring: redelivery, an unknown or untagged instance, an event of another shape, throttling;
 * and an execution that ended FAILED / TIMED_OUT / ABORTED before its incident did.
 */
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import {
  DescribeInstanceStatusCommand,
  DescribeInstancesCommand,
  EC2Client,
  GetConsoleOutputCommand,
} from '@aws-sdk/client-ec2';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import {
  CancelCommandCommand,
  DescribeInstanceInformationCommand,
  GetCommandInvocationCommand,
  SendCommandCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { notReadyAlarmEvent } from '../../functions/local/alarm-event.js';
import { SlackStandIn } from '../../functions/local/slack-standin/server.js';
import { FakeTable } from '../adapters/aws/fake-dynamo.js';
import { recorded } from '../app/support.js';
import { executionStatusChange } from '../fixtures/executions.js';
import { STATE_MACHINE, setHandlerEnv } from './support.js';

/** Every ended incident's thread closes with its timeline: the message before it is the one a step posted. */
const notTimeline = (request: { body: Record<string, unknown> }) =>
  !String(request.body.text).startsWith('Timeline of');

const INSTANCE = 'i-0abc123def4567890';
const NODE_NAME = 'ip-10-0-1-23.ec2.internal';
const DOCUMENTS = { diagnose: 'nodemedic-diagnose', 'restart-containerd': 'nodemedic-restart-containerd' };

const ddb = mockClient(DynamoDBDocumentClient);
const ec2 = mockClient(EC2Client);
const ssm = mockClient(SSMClient);
const sfn = mockClient(SFNClient);
const secrets = mockClient(SecretsManagerClient);
const cloudwatch = mockClient(CloudWatchClient);
mockClient(AutoScalingClient);
let table: FakeTable;
let slack: SlackStandIn;

function instance(
  tags: Record<string, string> = { 'eks:cluster-name': 'prod', 'aws:autoscaling:groupName': 'prod-ng' },
) {
  return {
    Reservations: [
      {
        Instances: [
          {
            InstanceId: INSTANCE,
            PrivateDnsName: NODE_NAME,
            State: { Name: 'running' as const },
            Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
          },
        ],
      },
    ],
  };
}

const alarm = (state: 'ALARM' | 'OK' = 'ALARM') =>
  notReadyAlarmEvent({
    alarmName: 'nodemedic-prod-not-ready',
    instanceId: INSTANCE,
    nodeName: NODE_NAME,
    cluster: 'prod',
    state,
  });

beforeAll(async () => {
  slack = await SlackStandIn.start({ botToken: 'xoxb-aws-test', signingSecret: 'unused' });
  setHandlerEnv(slack.apiUrl, {
    DOCUMENTS: JSON.stringify(DOCUMENTS),
    ALARM_FILTER: JSON.stringify({ namePrefixes: ['nodemedic-'] }),
    VERSION_POLICY: JSON.stringify({ minimum: '1.6.0' }),
    ONCALL_USERGROUP_ID: 'S0ONCALL',
  });
});
afterAll(async () => {
  await slack.close();
});

beforeEach(() => {
  for (const m of [ddb, ec2, ssm, sfn, secrets, cloudwatch]) m.reset();
  table = new FakeTable();
  table.install(ddb);
  secrets
    .on(GetSecretValueCommand)
    .resolves({ SecretString: JSON.stringify({ botToken: 'xoxb-aws-test', signingSecret: 's3cr3t' }) });
  ec2.on(DescribeInstancesCommand).resolves(instance());
  ec2.on(DescribeInstanceStatusCommand).resolves({
    InstanceStatuses: [
      {
        InstanceId: INSTANCE,
        InstanceState: { Name: 'running' },
        SystemStatus: { Status: 'ok' },
        InstanceStatus: { Status: 'ok' },
      },
    ],
  });
  ec2.on(GetConsoleOutputCommand).resolves({ Output: Buffer.from('boot ok\n').toString('base64') });
  ssm
    .on(DescribeInstanceInformationCommand)
    .resolves({ InstanceInformationList: [{ InstanceId: INSTANCE, PingStatus: 'Online' }] });
  sfn.on(StartExecutionCommand).resolves({ executionArn: `${STATE_MACHINE}:x`, startDate: new Date() });
});

describe('the alarm function', () => {
  it('opens one incident and starts one execution, however often the event is delivered', async () => {
    const { handler } = await import('../../functions/handlers/alarm.js');
    const first = await handler(alarm() as never);
    const again = await handler(alarm() as never);
    expect(first).toMatchObject({ kind: 'opened' });
    expect(again).toMatchObject({
      kind: 'duplicate',
      incidentId: (first as { incidentId: string }).incidentId,
    });
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(1);
    expect(sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input.stateMachineArn).toBe(STATE_MACHINE);
    expect(slack.requestsOf('chat.postMessage')).toHaveLength(1);
  });

  it('acknowledges an event it cannot use with the reason, and calls nothing', async () => {
    const { handler } = await import('../../functions/handlers/alarm.js');
    const composite = alarm() as { detail: { configuration: Record<string, unknown> } };
    composite.detail.configuration = { alarmRule: 'ALARM(a) OR ALARM(b)' };
    const out = await handler(composite as never);
    expect(out).toMatchObject({ kind: 'ignored', code: 'ALARM_UNSUPPORTED' });
    const other = await handler({
      'detail-type': 'EC2 Instance State-change Notification',
      source: 'aws.ec2',
      detail: {},
    } as never);
    expect(other).toMatchObject({ kind: 'ignored', code: 'ALARM_UNSUPPORTED' });
    expect(ec2.calls()).toHaveLength(0);
    expect(sfn.calls()).toHaveLength(0);
  });

  it('refuses an instance without the cluster tag, an unknown one, and one of another cluster', async () => {
    const { handler } = await import('../../functions/handlers/alarm.js');
    ec2.on(DescribeInstancesCommand).resolves(instance({ Name: 'not-a-node' }));
    expect(await handler(alarm() as never)).toMatchObject({ kind: 'ignored', code: 'NODE_NOT_FOUND' });
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    expect(await handler(alarm() as never)).toMatchObject({ kind: 'ignored', code: 'NODE_NOT_FOUND' });
    // Tagged, but for a cluster this deployment does not cover (CLUSTER_NAMES=prod).
    ec2.on(DescribeInstancesCommand).resolves(instance({ 'eks:cluster-name': 'stage' }));
    const other = notReadyAlarmEvent({
      alarmName: 'nodemedic-stage',
      instanceId: INSTANCE,
      nodeName: NODE_NAME,
      cluster: 'stage',
      state: 'ALARM',
    });
    expect(await handler(other as never)).toMatchObject({ kind: 'ignored', code: 'NODE_NOT_FOUND' });
    expect(sfn.calls()).toHaveLength(0);
  });

  it('throws on throttling so that EventBridge retries and the DLQ keeps the event', async () => {
    const { handler } = await import('../../functions/handlers/alarm.js');
    ec2
      .on(DescribeInstancesCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'RequestLimitExceeded', $metadata: {} }));
    await expect(handler(alarm() as never)).rejects.toThrow();
    expect(sfn.calls()).toHaveLength(0);
  });
});

describe('the step functions, one payload after another as Step Functions passes them', () => {
  it('diagnoses through SSM, posts the findings and waits with the task token', async () => {
    const alarmFn = await import('../../functions/handlers/alarm.js');
    const opened = (await alarmFn.handler(alarm() as never)) as { incidentId: string };
    const incidentId = opened.incidentId;

    const reach = await (await import('../../functions/handlers/reachability.js')).handler({ incidentId });
    expect(reach).toEqual({ reachable: true, instanceId: INSTANCE });

    ssm.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } });
    const sent = await (await import('../../functions/handlers/send.js')).handler({
      incidentId,
      purpose: 'diagnose',
    });
    expect(sent.commandId).toBe('cmd-1');
    const call = ssm.commandCalls(SendCommandCommand)[0]!.args[0].input;
    expect(call.DocumentName).toBe('nodemedic-diagnose');
    expect(call.InstanceIds).toEqual([INSTANCE]);

    // The state machine polls the command itself (a direct GetCommandInvocation); analyze reads it.
    ssm.on(GetCommandInvocationCommand).resolves({
      Status: 'Success',
      StatusDetails: 'Success',
      ResponseCode: 0,
      StandardOutputContent: recorded('daemon-stopped'),
      StandardErrorContent: '',
    });

    const analysis = await (await import('../../functions/handlers/analyze.js')).handler({
      incidentId,
      commandId: 'cmd-1',
    });
    expect(analysis).toMatchObject({ awaitApproval: true, held: false });
    expect(analysis.offered[0]).toBe('restart-containerd');
    const findings = slack.requestsOf('chat.postMessage').filter(notTimeline).at(-1)!.body;
    expect(JSON.stringify(findings.blocks)).toContain('containerd-down');
    expect(JSON.stringify(findings.blocks)).toContain('nm_fix:restart-containerd');

    await (await import('../../functions/handlers/await-approval.js')).handler({
      incidentId,
      taskToken: 'token-123',
    });
    const stored = [...table.items.values()].find((i) => String(i.pk).startsWith('INCIDENT#'))!;
    expect(JSON.stringify(stored)).toContain('token-123');
    expect(JSON.stringify(stored)).toContain('awaiting-approval');
  });

  it('says the output was truncated at SSM’s cap instead of failing to parse it', async () => {
    const alarmFn = await import('../../functions/handlers/alarm.js');
    const { incidentId } = (await alarmFn.handler(alarm() as never)) as { incidentId: string };
    ssm.on(GetCommandInvocationCommand).resolves({
      Status: 'Success',
      ResponseCode: 0,
      StandardOutputContent: `${recorded('healthy').slice(0, 1500)}${'x'.repeat(22_500)}`,
    });
    const analysis = await (await import('../../functions/handlers/analyze.js')).handler({
      incidentId,
      commandId: 'cmd-9',
    });
    expect(analysis).toMatchObject({ awaitApproval: false, offered: [] });
    expect(
      JSON.stringify(slack.requestsOf('chat.postMessage').filter(notTimeline).at(-1)!.body.blocks),
    ).toMatch(/24,000/);
  });

  it('maps a throttled SSM call to RetryableError for the state machine to retry, and a bad payload to a named error', async () => {
    const alarmFn = await import('../../functions/handlers/alarm.js');
    const { incidentId } = (await alarmFn.handler(alarm() as never)) as { incidentId: string };
    ssm
      .on(CancelCommandCommand)
      .rejects(Object.assign(new Error('slow down'), { name: 'ThrottlingException', $metadata: {} }));
    const poll = (await import('../../functions/handlers/poll.js')).handler;
    await expect(poll({ incidentId, commandId: 'cmd-1', attempt: 44 })).rejects.toMatchObject({
      name: 'RetryableError',
    });
    await expect(poll({ commandId: 'cmd-1' } as never)).rejects.toMatchObject({ name: 'INVALID_INPUT' });
  });
});

describe("the evaluate function's readiness check after a verified fix", () => {
  /**
   * DescribeAlarms' response, as the API reference shows it (MetricAlarms[].StateValue):
   * https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarms.html
   */
  const alarmIs = (StateValue: 'OK' | 'ALARM') => ({
    MetricAlarms: [{ AlarmName: 'nodemedic-prod-not-ready', StateValue }],
    CompositeAlarms: [],
  });

  it('reads the per-node alarm: look again while it is in ALARM, ready once it is OK', async () => {
    const alarmFn = await import('../../functions/handlers/alarm.js');
    const { incidentId } = (await alarmFn.handler(alarm() as never)) as { incidentId: string };
    const evaluate = (await import('../../functions/handlers/evaluate.js')).handler;
    const check = (attempt: number) =>
      evaluate({ incidentId, purpose: 'ready', remediation: 'restart-containerd', attempt } as never);

    cloudwatch.on(DescribeAlarmsCommand).resolves(alarmIs('ALARM'));
    expect(await check(0)).toEqual({ done: false, ok: false, attempt: 1, waitSeconds: 30 });
    cloudwatch.on(DescribeAlarmsCommand).resolves(alarmIs('OK'));
    expect(await check(1)).toEqual({ done: true, ok: true, attempt: 2, waitSeconds: 0 });
    expect(cloudwatch.commandCalls(DescribeAlarmsCommand)[0]!.args[0].input.AlarmNames).toEqual([
      'nodemedic-prod-not-ready',
    ]);
    const said = slack.requestsOf('chat.postMessage').at(-1)!.body;
    expect(String(said.text)).toContain(
      'the node is Ready after 30 s: the alarm nodemedic-prod-not-ready is back to OK',
    );
  });
});

describe('the poll function, which only gives up', () => {
  it('cancels the SSM command, records it and says so in the thread; a throttled cancel is retried', async () => {
    const alarmFn = await import('../../functions/handlers/alarm.js');
    const { incidentId } = (await alarmFn.handler(alarm() as never)) as { incidentId: string };
    ssm.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-hang' } });
    await (await import('../../functions/handlers/send.js')).handler({ incidentId, purpose: 'diagnose' });
    ssm
      .on(CancelCommandCommand)
      .rejectsOnce(Object.assign(new Error('slow down'), { name: 'ThrottlingException', $metadata: {} }))
      .resolves({});
    const { MAX_POLL_ATTEMPTS } = await import('../../functions/app/contract.js');
    const poll = (await import('../../functions/handlers/poll.js')).handler;
    const last = { incidentId, commandId: 'cmd-hang', attempt: MAX_POLL_ATTEMPTS };
    await expect(poll(last)).rejects.toMatchObject({ name: 'RetryableError' });
    expect(await poll(last)).toEqual({ cancelled: true });
    // The give-up reads nothing: the state machine's own poll found the command still running.
    expect(ssm.commandCalls(GetCommandInvocationCommand)).toHaveLength(0);
    expect(ssm.commandCalls(CancelCommandCommand).map((c) => c.args[0].input)).toEqual([
      { CommandId: 'cmd-hang', InstanceIds: [INSTANCE] },
      { CommandId: 'cmd-hang', InstanceIds: [INSTANCE] },
    ]);
    const stored = table.items.get(`INCIDENT#${incidentId}`) as { audit: { action: string }[] };
    expect(stored.audit.filter((a) => a.action === 'command-cancelled')).toHaveLength(1);
    expect(String(slack.requestsOf('chat.postMessage').filter(notTimeline).at(-1)!.body.text)).toContain(
      'The diagnose command (command cmd-hang): still running after 44 polls',
    );
  });
});

describe('the execution-ended function', () => {
  /** An incident waiting for its approval, opened and parked by the real handlers. */
  async function waitingIncident(): Promise<string> {
    const alarmFn = await import('../../functions/handlers/alarm.js');
    const { incidentId } = (await alarmFn.handler(alarm() as never)) as { incidentId: string };
    await (await import('../../functions/handlers/await-approval.js')).handler({
      incidentId,
      taskToken: 'token-stuck',
    });
    return incidentId;
  }
  const ended = (incidentId: string, over: Parameters<typeof executionStatusChange>[0] = {}) =>
    executionStatusChange({
      stateMachineArn: STATE_MACHINE,
      input: JSON.stringify({ incidentId }),
      ...over,
    });

  it('escalates a timed-out execution’s incident, mentions on-call in its thread and frees the node', async () => {
    const { handler } = await import('../../functions/handlers/execution-ended.js');
    const incidentId = await waitingIncident();
    expect(table.items.has(`OPEN#prod#${INSTANCE}`)).toBe(true);
    const out = await handler(ended(incidentId, { status: 'TIMED_OUT' }));
    expect(out).toEqual({ kind: 'escalated', incidentId });
    expect(table.items.get(`INCIDENT#${incidentId}`)).toMatchObject({ phase: 'escalated', taskToken: null });
    expect(table.items.has(`OPEN#prod#${INSTANCE}`)).toBe(false);
    const reply = slack.requestsOf('chat.postMessage').filter(notTimeline).at(-1)!.body;
    expect(reply.thread_ts).toBeDefined();
    expect(`${reply.text}`).toContain('<!subteam^S0ONCALL>');
    expect(`${reply.text}`).toContain("timed out (the execution's time limit) (States.Timeout)");
    // Its next alarm opens a new incident and a new execution.
    const again = await (await import('../../functions/handlers/alarm.js')).handler(alarm() as never);
    expect(again).toMatchObject({ kind: 'opened' });
    expect((again as { incidentId: string }).incidentId).not.toBe(incidentId);
  });

  it('changes nothing when EventBridge delivers the event again', async () => {
    const { handler } = await import('../../functions/handlers/execution-ended.js');
    const incidentId = await waitingIncident();
    await handler(ended(incidentId));
    const posts = slack.requestsOf('chat.postMessage').length;
    const writes = table.transactions;
    expect(await handler(ended(incidentId))).toEqual({
      kind: 'already-ended',
      incidentId,
      phase: 'escalated',
    });
    expect(slack.requestsOf('chat.postMessage')).toHaveLength(posts);
    expect(table.transactions).toBe(writes);
  });

  it('acknowledges, with the reason, an event of another state machine or without an incident', async () => {
    const { handler } = await import('../../functions/handlers/execution-ended.js');
    const incidentId = await waitingIncident();
    const other = await handler(
      ended(incidentId, { stateMachineArn: 'arn:aws:states:eu-west-1:123456789012:stateMachine:other' }),
    );
    expect(other).toMatchObject({ kind: 'ignored', code: 'EXECUTION_EVENT_INVALID' });
    expect(await handler(ended(incidentId, { input: '{}' }))).toMatchObject({ kind: 'ignored' });
    expect(table.items.get(`INCIDENT#${incidentId}`)).toMatchObject({ phase: 'awaiting-approval' });
  });

  it('throws on DynamoDB throttling so that EventBridge retries, and ends the incident on the retry', async () => {
    const { handler } = await import('../../functions/handlers/execution-ended.js');
    const incidentId = await waitingIncident();
    table.failNext('Get', 'ProvisionedThroughputExceededException');
    await expect(handler(ended(incidentId))).rejects.toMatchObject({ retryable: true });
    expect(await handler(ended(incidentId))).toEqual({ kind: 'escalated', incidentId });
  });
});
