/**
 * DescribeAlarmContributors over aws-sdk-client-mock, answered with the documented response shape:
 * CloudWatch API reference, DescribeAlarmContributors and AlarmContributor
 * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarmContributors.html,
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_AlarmContributor.html):
 * `{ AlarmContributors: [{ ContributorId, ContributorAttributes, StateReason,
 * StateTransitionedTimestamp? }], NextToken? }`.
 */
import { CloudWatchClient, DescribeAlarmContributorsCommand } from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { CloudWatchAlarmContributors } from '../../../functions/adapters/aws/cloudwatch-contributors.js';

const cw = mockClient(CloudWatchClient);
const contributors = new CloudWatchAlarmContributors({ client: new CloudWatchClient({}) });
const ALARM = 'nodemedic-prod-nodes-not-ready';
const REASON =
  'Threshold Crossed: 1 datapoint was less than the threshold (1.0). The most recent datapoint which crossed the threshold: [0.0 (27/11/26 03:13:00)].';

const contributor = (i: number) => ({
  ContributorId: `6d442278dba546f${i}`,
  ContributorAttributes: { InstanceId: `i-0abc123def456789${i}`, NodeName: `ip-10-0-1-${i}.ec2.internal` },
  StateReason: REASON,
  StateTransitionedTimestamp: new Date(`2026-11-27T03:1${i}:07.125Z`),
});

beforeEach(() => cw.reset());

describe('CloudWatchAlarmContributors', () => {
  it('lists the contributors in ALARM across every page, with their ids and attributes', async () => {
    cw.on(DescribeAlarmContributorsCommand, { AlarmName: ALARM })
      .resolvesOnce({ AlarmContributors: [contributor(1), contributor(2)], NextToken: 'page-2' })
      .resolvesOnce({ AlarmContributors: [{ ...contributor(3), StateTransitionedTimestamp: undefined }] });
    const listed = await contributors.inAlarm(ALARM);
    expect(listed).toEqual([
      {
        id: '6d442278dba546f1',
        attributes: { InstanceId: 'i-0abc123def4567891', NodeName: 'ip-10-0-1-1.ec2.internal' },
        reason: REASON,
        since: '2026-11-27T03:11:07.125Z',
      },
      expect.objectContaining({ id: '6d442278dba546f2' }),
      expect.objectContaining({ id: '6d442278dba546f3', since: null }),
    ]);
    const calls = cw.commandCalls(DescribeAlarmContributorsCommand).map((c) => c.args[0].input);
    expect(calls).toEqual([{ AlarmName: ALARM }, { AlarmName: ALARM, NextToken: 'page-2' }]);
  });

  it('answers an empty list for an alarm with no contributor in ALARM, or one deleted since', async () => {
    cw.on(DescribeAlarmContributorsCommand).resolvesOnce({ AlarmContributors: [] });
    expect(await contributors.inAlarm(ALARM)).toEqual([]);
    cw.reset();
    cw.on(DescribeAlarmContributorsCommand).rejectsOnce(
      Object.assign(new Error('gone'), { name: 'ResourceNotFoundException', $metadata: {} }),
    );
    expect(await contributors.inAlarm(ALARM)).toEqual([]);
  });

  it('turns throttling into a retryable DependencyError and other failures into a final one', async () => {
    cw.on(DescribeAlarmContributorsCommand).rejectsOnce(
      Object.assign(new Error('slow'), { name: 'Throttling', $metadata: {} }),
    );
    await expect(contributors.inAlarm(ALARM)).rejects.toMatchObject({
      code: 'ALARM_CONTRIBUTORS_THROTTLED',
      retryable: true,
    });
    cw.reset();
    cw.on(DescribeAlarmContributorsCommand).rejectsOnce(
      Object.assign(new Error('no'), { name: 'AccessDenied', $metadata: {} }),
    );
    await expect(contributors.inAlarm(ALARM)).rejects.toMatchObject({
      code: 'ALARM_CONTRIBUTORS_FAILED',
      retryable: false,
    });
  });

  it('stops with a named error when the pages never end', async () => {
    cw.on(DescribeAlarmContributorsCommand).resolves({
      AlarmContributors: [contributor(1)],
      NextToken: 'again',
    });
    await expect(contributors.inAlarm(ALARM)).rejects.toMatchObject({
      code: 'ALARM_CONTRIBUTORS_FAILED',
      message: expect.stringMatching(/more pages after 50/),
    });
  });
});
