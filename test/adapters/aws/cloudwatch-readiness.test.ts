/**
 * Per-node readiness over GetMetricData with a Metrics Insights query, on aws-sdk-client-mock,
 * answered in the documented shape:
 * - GetMetricData / MetricDataResult:
 *   https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html,
 *   https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricDataResult.html
 *   (`MetricDataResults[] { Id, Label, Timestamps[], Values[], StatusCode }`, `NextToken`).
 * - The query and its quoting: "Metrics Insights query components and syntax",
 *   https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-metrics-insights-querylanguage.html
 *   (label values in single quotes; a GROUP BY query returns one series per group, labelled with
 *   the group's values).
 */
import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  CloudWatchNodeReadiness,
  metricsInsightsString,
  readinessQuery,
} from '../../../functions/adapters/aws/cloudwatch-readiness.js';

const cw = mockClient(CloudWatchClient);
const NOW = new Date('2026-11-27T03:15:00Z');
const readiness = new CloudWatchNodeReadiness({ client: new CloudWatchClient({}), now: () => NOW });
const at = (minutesAgo: number) => new Date(NOW.getTime() - minutesAgo * 60_000);

const series = (i: number, values: number[]) => ({
  Id: 'ready',
  Label: `i-0abc123def456789${i} ip-10-0-1-${i}.ec2.internal`,
  Timestamps: values.map((_, k) => at(k + 1)),
  Values: values,
  StatusCode: 'Complete' as const,
});

beforeEach(() => cw.reset());

describe('readinessQuery', () => {
  it('is the documented Metrics Insights query, grouped by node, NotReady first', () => {
    expect(readinessQuery('prod')).toBe(
      'SELECT MIN(node_status_condition_ready) FROM SCHEMA("ContainerInsights", ClusterName, InstanceId, NodeName) ' +
        "WHERE ClusterName = 'prod' GROUP BY InstanceId, NodeName ORDER BY MIN() ASC LIMIT 500",
    );
    expect(readinessQuery('prod', 'i-0abc123def4567891')).toContain(
      "WHERE ClusterName = 'prod' AND InstanceId = 'i-0abc123def4567891' GROUP BY",
    );
  });

  it.each([["prod' OR ClusterName = 'other"], ['prod\\'], [''], ['a'.repeat(101)], ['prod name']])(
    'refuses the cluster name %j before it reaches the query',
    (name) => {
      expect(() => readinessQuery(name)).toThrow(/not a cluster name/);
    },
  );

  it('escapes a quote and a backslash inside a string literal, as the grammar says', () => {
    expect(metricsInsightsString("it's\\here")).toBe("'it\\'s\\\\here'");
  });
});

describe('CloudWatchNodeReadiness.notReady', () => {
  it('names the nodes whose latest readiness is below 1, from every page', async () => {
    cw.on(GetMetricDataCommand)
      .resolvesOnce({ MetricDataResults: [series(1, [0, 1]), series(2, [1, 0])], NextToken: 'p2' })
      .resolvesOnce({ MetricDataResults: [series(3, [0])] });
    expect(await readiness.notReady('prod')).toEqual([
      { instanceId: 'i-0abc123def4567891', nodeName: 'ip-10-0-1-1.ec2.internal' },
      { instanceId: 'i-0abc123def4567893', nodeName: 'ip-10-0-1-3.ec2.internal' },
    ]);
    const calls = cw.commandCalls(GetMetricDataCommand).map((c) => c.args[0].input);
    expect(calls[0]).toEqual({
      MetricDataQueries: [{ Id: 'ready', Expression: readinessQuery('prod'), Period: 60, ReturnData: true }],
      StartTime: at(5),
      EndTime: NOW,
      ScanBy: 'TimestampDescending',
    });
    expect(calls[1]).toMatchObject({ NextToken: 'p2' });
  });

  it('answers null when Container Insights has no per-node series for the cluster', async () => {
    cw.on(GetMetricDataCommand).resolves({ MetricDataResults: [] });
    expect(await readiness.notReady('prod')).toBeNull();
    cw.on(GetMetricDataCommand).resolves({
      MetricDataResults: [{ ...series(1, []), Timestamps: [], Values: [] }],
    });
    expect(await readiness.notReady('prod')).toBeNull();
  });

  it('answers an empty list when every node is Ready', async () => {
    cw.on(GetMetricDataCommand).resolves({ MetricDataResults: [series(1, [1]), series(2, [1, 0])] });
    expect(await readiness.notReady('prod')).toEqual([]);
  });

  it('turns a throttle into a retryable dependency error', async () => {
    cw.on(GetMetricDataCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'Throttling' }));
    await expect(readiness.notReady('prod')).rejects.toMatchObject({
      code: 'READINESS_THROTTLED',
      retryable: true,
    });
  });
});

describe('CloudWatchNodeReadiness.nodeState', () => {
  const node = { instanceId: 'i-0abc123def4567891', nodeName: null, cluster: 'prod', autoScalingGroup: null };

  it('is ready, not-ready, or unknown without a recent datapoint', async () => {
    cw.on(GetMetricDataCommand)
      .resolvesOnce({ MetricDataResults: [series(1, [1, 0])] })
      .resolvesOnce({ MetricDataResults: [series(1, [0])] })
      .resolvesOnce({ MetricDataResults: [] });
    expect(await readiness.nodeState(node)).toBe('ready');
    expect(await readiness.nodeState(node)).toBe('not-ready');
    expect(await readiness.nodeState(node)).toBe('unknown');
    expect(cw.commandCalls(GetMetricDataCommand)[0]!.args[0].input.MetricDataQueries![0]!.Expression).toBe(
      readinessQuery('prod', 'i-0abc123def4567891'),
    );
  });
});
