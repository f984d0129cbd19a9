// biome-ignore-all lint/suspicious/noExplicitAny: events and outcomes are read as untyped JSON
/**
 * Multi-time-series alarms through the real alarm function: contributor events as AWS documents
 * them (test/fixtures/alarms/contributor-*.json, each citing its page), the alarm-level change
 * fanned out with DescribeAlarmContributors (documented response shape, API_AlarmContributor.html),
 * and which OK may close which incident.
 */
import { readFileSync } from 'node:fs';
import { DescribeAlarmContributorsCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { notReadyAlarmEvent } from '../../functions/local/alarm-event.js';
import { AwsEdge, ec2Instance, INSTANCE, NODE_NAME } from './support.js';

const aws = new AwsEdge();
const fixture = (name: string): Record<string, any> =>
  JSON.parse(readFileSync(new URL(`../fixtures/alarms/${name}`, import.meta.url), 'utf8'));
const handle = async (event: unknown) =>
  (await import('../../functions/handlers/alarm.js')).handler(event as never) as Promise<Record<string, any>>;

const ALARM = 'nodemedic-prod-nodes-not-ready';
const OTHER_INSTANCE = 'i-0fff000111222333a';

beforeAll(() => aws.start());
afterAll(() => aws.close());
beforeEach(() => aws.reset());

describe('contributor events', () => {
  it('open the node’s incident from the contributor’s attributes, the cluster from the WHERE clause', async () => {
    const out = await handle(fixture('contributor-alarm.json'));
    expect(out).toMatchObject({ kind: 'opened' });
    expect(aws.ec2.commandCalls(DescribeInstancesCommand)[0]!.args[0].input.InstanceIds).toEqual([INSTANCE]);
    const incident = aws.incident();
    expect(incident).toMatchObject({
      nodeKey: `prod#${INSTANCE}`,
      alarmName: ALARM,
      contributorId: '6d442278dba546f6',
      execution: expect.stringContaining(':stateMachine:nodemedic:'),
    });
    expect(aws.sfn.commandCalls(StartExecutionCommand)).toHaveLength(1);
    expect(aws.requests('chat.postMessage')).toHaveLength(1);
  });

  it('resolve a node named by its instance id only through its cluster tag', async () => {
    expect(await handle(fixture('contributor-instance-only.json'))).toMatchObject({ kind: 'opened' });
    expect(aws.incident().node).toMatchObject({ instanceId: INSTANCE, nodeName: NODE_NAME, cluster: 'prod' });
  });

  it('close the incident on that contributor’s OK', async () => {
    await handle(fixture('contributor-alarm.json'));
    expect(await handle(fixture('contributor-ok.json'))).toMatchObject({ kind: 'recovered' });
    expect(aws.incident().phase).toBe('recovered');
  });

  it('refuse AWS’s own example contributor, a DynamoDB table, with the reason and no call', async () => {
    const out = await handle({
      ...fixture('aws-example-contributor.json'),
      detail: {
        ...fixture('aws-example-contributor.json').detail,
        alarmName: 'nodemedic-dynamodb',
      },
    });
    expect(out).toMatchObject({
      kind: 'ignored',
      code: 'ALARM_UNSUPPORTED',
      reason: expect.stringMatching(/TableName/),
    });
    expect(aws.ec2.calls()).toHaveLength(0);
    expect(aws.sfn.calls()).toHaveLength(0);
  });
});

describe('only the OK of the alarm (or contributor) that opened an incident closes it', () => {
  const perNode = (alarmName: string, state: 'ALARM' | 'OK') =>
    notReadyAlarmEvent({ alarmName, instanceId: INSTANCE, nodeName: NODE_NAME, cluster: 'prod', state });

  it('an OK of another alarm on the node is audited and changes nothing', async () => {
    await handle(perNode('nodemedic-node-not-ready', 'ALARM'));
    const out = await handle(perNode('nodemedic-node-other-check', 'OK'));
    expect(out).toMatchObject({
      kind: 'ignored',
      reason: expect.stringMatching(
        /nodemedic-node-other-check does not concern .* opened by nodemedic-node-not-ready/,
      ),
    });
    const incident = aws.incident();
    expect(incident.phase).toBe('diagnosing');
    expect(incident.audit.at(-1)).toMatchObject({ action: 'alarm-ok-ignored', actor: 'alarm' });
    // Nothing else: no Slack update, no thread reply.
    expect(aws.requests('chat.update')).toHaveLength(0);
    expect(aws.requests('chat.postMessage')).toHaveLength(1);
    // The opener's OK still closes it.
    expect(await handle(perNode('nodemedic-node-not-ready', 'OK'))).toMatchObject({ kind: 'recovered' });
  });

  it('an OK of another contributor, or of the per-node alarm, does not close a contributor’s incident', async () => {
    await handle(fixture('contributor-alarm.json'));
    const other = fixture('contributor-ok.json');
    other.detail.alarmContributor.id = '0000000000000001';
    expect(await handle(other)).toMatchObject({
      kind: 'ignored',
      reason: expect.stringMatching(/contributor 0000000000000001/),
    });
    expect(await handle(perNode(ALARM, 'OK'))).toMatchObject({ kind: 'ignored' });
    expect(aws.incident().phase).toBe('diagnosing');
  });

  it('a contributor that stopped reporting ("No data was returned") is not a recovery', async () => {
    await handle(fixture('contributor-alarm.json'));
    expect(await handle(fixture('contributor-no-data.json'))).toMatchObject({
      kind: 'ignored',
      reason: expect.stringMatching(/stopped reporting/),
    });
    expect(aws.incident().phase).toBe('diagnosing');
  });

  it('the alarm-level OK of a multi-time-series alarm closes nothing: its contributors’ OKs do', async () => {
    await handle(fixture('contributor-alarm.json'));
    expect(await handle(fixture('multi-time-series-ok.json'))).toMatchObject({ kind: 'ignored' });
    expect(aws.cloudwatch.calls()).toHaveLength(0);
    expect(aws.incident().phase).toBe('diagnosing');
  });
});

describe('the alarm-level change of a multi-time-series alarm', () => {
  const listed = (id: string, instanceId: string, nodeName: string) => ({
    ContributorId: id,
    ContributorAttributes: { InstanceId: instanceId, NodeName: nodeName },
    StateReason:
      'Threshold Crossed: 1 datapoint was less than the threshold (1.0). The most recent datapoint which crossed the threshold: [0.0 (27/11/26 03:13:00)].',
    StateTransitionedTimestamp: new Date('2026-11-27T03:14:07.125Z'),
  });

  it('opens one incident per contributor in ALARM and skips one that names no known node', async () => {
    aws.cloudwatch.on(DescribeAlarmContributorsCommand, { AlarmName: ALARM }).resolves({
      AlarmContributors: [
        listed('6d442278dba546f6', INSTANCE, NODE_NAME),
        listed('6d442278dba546f7', OTHER_INSTANCE, 'ip-10-0-9-9.eu-west-1.compute.internal'),
      ],
    });
    aws.ec2.on(DescribeInstancesCommand, { InstanceIds: [OTHER_INSTANCE] }).resolves({ Reservations: [] });
    const out = await handle(fixture('multi-time-series.json'));
    expect(out).toMatchObject({
      kind: 'contributors',
      contributors: [
        { contributorId: '6d442278dba546f6', kind: 'opened' },
        { contributorId: '6d442278dba546f7', kind: 'skipped', code: 'NODE_NOT_FOUND' },
      ],
    });
    expect(aws.incident()).toMatchObject({ contributorId: '6d442278dba546f6', node: { cluster: 'prod' } });
    expect(aws.sfn.commandCalls(StartExecutionCommand)).toHaveLength(1);
    // The contributor's own event, arriving after, joins the same incident.
    expect(await handle(fixture('contributor-alarm.json'))).toMatchObject({ kind: 'duplicate' });
    expect(aws.sfn.commandCalls(StartExecutionCommand)).toHaveLength(1);
  });

  it('fans out to many contributors, each node once', async () => {
    const nodes = Array.from({ length: 12 }, (_, i) => ({
      id: `c0ffee00000000${String(i).padStart(2, '0')}`,
      instanceId: `i-0abc123def45678${String(i).padStart(2, '0')}`,
      nodeName: `ip-10-0-3-${i}.eu-west-1.compute.internal`,
    }));
    aws.cloudwatch
      .on(DescribeAlarmContributorsCommand)
      .resolves({ AlarmContributors: nodes.map((n) => listed(n.id, n.instanceId, n.nodeName)) });
    for (const n of nodes) {
      aws.ec2
        .on(DescribeInstancesCommand, { InstanceIds: [n.instanceId] })
        .resolves(ec2Instance(n.instanceId, n.nodeName));
    }
    const out = await handle(fixture('multi-time-series.json'));
    expect(out.contributors.map((c: { kind: string }) => c.kind)).toEqual(nodes.map(() => 'opened'));
    expect(new Set(aws.incidents().map((i) => i.nodeKey)).size).toBe(12);
    expect(aws.sfn.commandCalls(StartExecutionCommand)).toHaveLength(12);
  });

  it('throws on a throttled DescribeAlarmContributors, so EventBridge redelivers the event', async () => {
    aws.cloudwatch
      .on(DescribeAlarmContributorsCommand)
      .rejects(Object.assign(new Error('slow'), { name: 'Throttling', $metadata: {} }));
    await expect(handle(fixture('multi-time-series.json'))).rejects.toMatchObject({
      code: 'ALARM_CONTRIBUTORS_THROTTLED',
    });
    expect(aws.incidents()).toHaveLength(0);
  });
});
