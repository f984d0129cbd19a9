/**
 * CloudWatch as the source of an alarm's current state (DescribeAlarms). The verification after a
 * fix reads it: containerd answering is nodemedic's own check, the alarm going back to OK is the
 * cluster's.
 */
import { type CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { DependencyError } from '../../core/errors.js';
import type { AlarmStates, AlarmStateValue } from '../../core/ports.js';
import { errorName } from './sdk-errors.js';

const STATES = new Set<string>(['OK', 'ALARM', 'INSUFFICIENT_DATA']);
const THROTTLING = new Set(['Throttling', 'ThrottlingException', 'RequestLimitExceeded']);

export class CloudWatchAlarmStates implements AlarmStates {
  constructor(private readonly options: { client: CloudWatchClient }) {}

  async state(alarmName: string): Promise<AlarmStateValue | null> {
    try {
      const out = await this.options.client.send(
        new DescribeAlarmsCommand({ AlarmNames: [alarmName], AlarmTypes: ['MetricAlarm', 'CompositeAlarm'] }),
      );
      const value = out.MetricAlarms?.[0]?.StateValue ?? out.CompositeAlarms?.[0]?.StateValue;
      return value && STATES.has(value) ? (value as AlarmStateValue) : null;
    } catch (error) {
      const name = errorName(error);
      throw new DependencyError(
        'ALARM_STATE_UNAVAILABLE',
        `CloudWatch DescribeAlarms for ${alarmName} failed (${name})`,
        {
          cause: error,
          retryable: THROTTLING.has(name),
        },
      );
    }
  }
}
