/**
 * CloudWatch DescribeAlarmContributors as the list of a multi-time-series alarm's contributors in
 * ALARM. The alarm-level state change of a Metrics Insights GROUP BY alarm names no node; its
 * contributors (one per node for nodemedic's readiness alarm) do.
 * Response shape: CloudWatch API reference, DescribeAlarmContributors and AlarmContributor
 * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarmContributors.html):
 * `AlarmContributors[]` of `{ ContributorId, ContributorAttributes, StateReason,
 * StateTransitionedTimestamp? }`, paged with `NextToken`.
 */
import {
  type CloudWatchClient,
  DescribeAlarmContributorsCommand,
  type DescribeAlarmContributorsCommandOutput,
} from '@aws-sdk/client-cloudwatch';
import { DependencyError } from '../../core/errors.js';
import type { AlarmContributorState, AlarmContributors } from '../../core/ports.js';
import { errorName, toDependencyError } from './sdk-errors.js';

const RETRYABLE = new Set([
  'Throttling',
  'ThrottlingException',
  'RequestLimitExceeded',
  'ServiceUnavailable',
]);
/**
 * CloudWatch keeps at most 100 contributors in ALARM per alarm; 50 pages is far past any real
 * listing, and stops a service that keeps answering with a NextToken from holding the function.
 */
const MAX_PAGES = 50;

/** Options of {@link CloudWatchAlarmContributors}. */
export interface CloudWatchAlarmContributorsOptions {
  readonly client: CloudWatchClient;
}

/** `AlarmContributors` over DescribeAlarmContributors, every page. */
export class CloudWatchAlarmContributors implements AlarmContributors {
  constructor(private readonly options: CloudWatchAlarmContributorsOptions) {}

  async inAlarm(alarmName: string): Promise<readonly AlarmContributorState[]> {
    const found: AlarmContributorState[] = [];
    let nextToken: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      let out: DescribeAlarmContributorsCommandOutput;
      try {
        out = await this.options.client.send(
          new DescribeAlarmContributorsCommand({
            AlarmName: alarmName,
            ...(nextToken ? { NextToken: nextToken } : {}),
          }),
        );
      } catch (error) {
        // The alarm was deleted since its event: it has no contributors left to act on.
        if (errorName(error) === 'ResourceNotFoundException') {
          return found;
        }
        throw toDependencyError(
          error,
          `CloudWatch DescribeAlarmContributors for ${alarmName}`,
          'ALARM_CONTRIBUTORS',
          RETRYABLE,
        );
      }
      for (const item of out.AlarmContributors ?? []) {
        if (!item.ContributorId) continue; // Required by the API; one without it cannot be tied to its events.
        found.push({
          id: item.ContributorId,
          attributes: { ...(item.ContributorAttributes ?? {}) },
          reason: item.StateReason ?? '',
          since: item.StateTransitionedTimestamp ? item.StateTransitionedTimestamp.toISOString() : null,
        });
      }
      nextToken = out.NextToken;
      if (!nextToken) return found;
    }
    throw new DependencyError(
      'ALARM_CONTRIBUTORS_FAILED',
      `CloudWatch DescribeAlarmContributors for ${alarmName} still had more pages after ${MAX_PAGES}`,
    );
  }
}
