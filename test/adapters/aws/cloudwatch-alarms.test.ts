import { CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { CloudWatchAlarmStates } from '../../../functions/adapters/aws/cloudwatch-alarms.js';

const cw = mockClient(CloudWatchClient);
const alarms = new CloudWatchAlarmStates({ client: new CloudWatchClient({}) });

beforeEach(() => cw.reset());

describe('CloudWatchAlarmStates', () => {
  it.each([
    ['OK', { MetricAlarms: [{ AlarmName: 'a', StateValue: 'OK' as const }] }],
    ['ALARM', { MetricAlarms: [{ AlarmName: 'a', StateValue: 'ALARM' as const }] }],
    [
      'INSUFFICIENT_DATA',
      { CompositeAlarms: [{ AlarmName: 'a', StateValue: 'INSUFFICIENT_DATA' as const }] },
    ],
    [null, { MetricAlarms: [], CompositeAlarms: [] }],
  ])('reads %s', async (expected, output) => {
    cw.on(DescribeAlarmsCommand).resolves(output);
    expect(await alarms.state('nodemedic-a')).toBe(expected);
    expect(cw.commandCalls(DescribeAlarmsCommand)[0]!.args[0].input.AlarmNames).toEqual(['nodemedic-a']);
  });

  it('turns throttling into a retryable DependencyError and other failures into a final one', async () => {
    cw.on(DescribeAlarmsCommand).rejectsOnce(
      Object.assign(new Error('slow'), { name: 'Throttling', $metadata: {} }),
    );
    await expect(alarms.state('a')).rejects.toMatchObject({
      code: 'ALARM_STATE_UNAVAILABLE',
      retryable: true,
    });
    cw.on(DescribeAlarmsCommand).rejectsOnce(
      Object.assign(new Error('no'), { name: 'AccessDenied', $metadata: {} }),
    );
    await expect(alarms.state('a')).rejects.toMatchObject({
      code: 'ALARM_STATE_UNAVAILABLE',
      retryable: false,
    });
  });
});
