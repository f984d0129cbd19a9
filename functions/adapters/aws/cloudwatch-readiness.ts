/**
 * `NodeReadiness` over CloudWatch GetMetricData with a Metrics Insights query on Container
 * Insights' per-node readiness (`node_status_condition_ready`, enhanced observability): 1 while
 * the node's Ready condition is true, 0 while it is not.
 *
 * The query (CloudWatch user guide, "Metrics Insights query components and syntax",
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-metrics-insights-querylanguage.html):
 *   SELECT MIN(node_status_condition_ready)
 *   FROM SCHEMA("ContainerInsights", ClusterName, InstanceId, NodeName)
 *   WHERE ClusterName = '<cluster>' GROUP BY InstanceId, NodeName ORDER BY MIN() ASC LIMIT 500
 * Label values go in single quotes; inside them a single quote and a backslash are escaped with a
 * backslash (the page's "What needs quotes or escape characters?"). The cluster name comes from
 * an alarm: it is checked against CLUSTER_NAME (which admits neither) before it is quoted, so the
 * escaping is a second wall, not the only one. ORDER BY MIN() ASC puts NotReady nodes first, so
 * Metrics Insights' 500-series limit cuts Ready nodes, never NotReady ones.
 *
 * The response (CloudWatch API reference, GetMetricData and MetricDataResult,
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html):
 * `MetricDataResults[]` of `{ Id, Label, Timestamps[], Values[], StatusCode }`, newest first with
 * `ScanBy: TimestampDescending`, paged with `NextToken`. A GROUP BY query returns one result per
 * group, labelled with the group's values (here the instance id and the node name, space-separated:
 * neither can contain a space).
 */
import {
  type CloudWatchClient,
  GetMetricDataCommand,
  type GetMetricDataCommandOutput,
  type MetricDataResult,
} from '@aws-sdk/client-cloudwatch';
import { DependencyError, InvalidInputError } from '../../core/errors.js';
import { CLUSTER_NAME, INSTANCE_ID, isNodeName } from '../../core/patterns.js';
import type { NodeReadiness, NodeRef, ReadinessNode } from '../../core/ports.js';
import { toDependencyError } from './sdk-errors.js';

/** Options of {@link CloudWatchNodeReadiness}. */
export interface CloudWatchNodeReadinessOptions {
  readonly client: CloudWatchClient;
  /** @default () => new Date() */
  readonly now?: () => Date;
  /**
   * How far back a datapoint still says the node's state now. Container Insights reports every
   * 60 s; five minutes allows for its delay without trusting a stale value. @default 300
   */
  readonly windowSeconds?: number;
}

// CloudWatch is query-compatible: a modeled error is named by its shape (`LimitExceededFault`), an
// unmodeled one by its code (`Throttling`).
const RETRYABLE = new Set([
  'Throttling',
  'ThrottlingException',
  'LimitExceeded',
  'LimitExceededFault',
  'ServiceUnavailable',
]);
/** Container Insights' reporting period. */
const PERIOD_SECONDS = 60;
/** Pages of one query's results: 500 series × 5 datapoints fit in one; more means a fault. */
const MAX_PAGES = 20;

/**
 * A string literal of the Metrics Insights grammar: single quotes, with `\` and `'` escaped by a
 * backslash. Exported for the tests.
 */
export function metricsInsightsString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** The readiness query for a cluster (and one node of it, for `nodeState`). */
export function readinessQuery(cluster: string, instanceId?: string): string {
  if (!CLUSTER_NAME.test(cluster)) {
    throw new InvalidInputError(`not a cluster name: ${JSON.stringify(cluster.slice(0, 100))}`, {
      code: 'CLUSTER_INVALID',
    });
  }
  if (instanceId !== undefined && !INSTANCE_ID.test(instanceId)) {
    throw new InvalidInputError(`not an EC2 instance id: ${JSON.stringify(instanceId.slice(0, 40))}`, {
      code: 'INSTANCE_ID_INVALID',
    });
  }
  const node = instanceId === undefined ? '' : ` AND InstanceId = ${metricsInsightsString(instanceId)}`;
  return (
    'SELECT MIN(node_status_condition_ready) ' +
    'FROM SCHEMA("ContainerInsights", ClusterName, InstanceId, NodeName) ' +
    `WHERE ClusterName = ${metricsInsightsString(cluster)}${node} ` +
    'GROUP BY InstanceId, NodeName ORDER BY MIN() ASC LIMIT 500'
  );
}

/** Per-node readiness from Container Insights. */
export class CloudWatchNodeReadiness implements NodeReadiness {
  private readonly now: () => Date;
  private readonly windowSeconds: number;

  constructor(private readonly options: CloudWatchNodeReadinessOptions) {
    this.now = options.now ?? (() => new Date());
    this.windowSeconds = options.windowSeconds ?? 300;
  }

  async notReady(cluster: string): Promise<readonly ReadinessNode[] | null> {
    const series = await this.query(readinessQuery(cluster), cluster);
    const reporting = series.filter((s) => s.latest !== null);
    if (reporting.length === 0) return null;
    return reporting.filter((s) => s.latest! < 1).map((s) => s.node);
  }

  async nodeState(node: NodeRef): Promise<'ready' | 'not-ready' | 'unknown'> {
    const series = await this.query(readinessQuery(node.cluster, node.instanceId), node.cluster);
    const values = series.filter((s) => s.latest !== null).map((s) => s.latest!);
    if (values.length === 0) return 'unknown';
    return Math.min(...values) < 1 ? 'not-ready' : 'ready';
  }

  /** Every series the query returns, with its latest value inside the window (null: none). */
  private async query(
    sql: string,
    cluster: string,
  ): Promise<{ node: ReadinessNode; latest: number | null }[]> {
    const end = this.now();
    const start = new Date(end.getTime() - this.windowSeconds * 1000);
    const found: { node: ReadinessNode; latest: number | null }[] = [];
    let nextToken: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      let out: GetMetricDataCommandOutput;
      try {
        out = await this.options.client.send(
          new GetMetricDataCommand({
            MetricDataQueries: [{ Id: 'ready', Expression: sql, Period: PERIOD_SECONDS, ReturnData: true }],
            StartTime: start,
            EndTime: end,
            ScanBy: 'TimestampDescending',
            ...(nextToken ? { NextToken: nextToken } : {}),
          }),
        );
      } catch (error) {
        throw toDependencyError(
          error,
          `CloudWatch GetMetricData (readiness of ${cluster})`,
          'READINESS',
          RETRYABLE,
        );
      }
      for (const result of out.MetricDataResults ?? []) {
        const node = nodeOf(result);
        if (!node) continue; // A label that names no node (cannot happen with this query's GROUP BY).
        found.push({ node, latest: latestValue(result) });
      }
      nextToken = out.NextToken;
      if (!nextToken) return merge(found);
    }
    throw new DependencyError(
      'READINESS_FAILED',
      `CloudWatch GetMetricData (readiness of ${cluster}) still had more pages after ${MAX_PAGES}`,
    );
  }
}

/** The node a result's label names: its instance id and node name, as validated tokens. */
function nodeOf(result: MetricDataResult): ReadinessNode | null {
  const tokens = (result.Label ?? '').trim().split(/\s+/).filter(Boolean);
  const instanceId = tokens.find((t) => INSTANCE_ID.test(t)) ?? null;
  const nodeName = tokens.find((t) => t !== instanceId && isNodeName(t)) ?? null;
  return instanceId === null && nodeName === null ? null : { instanceId, nodeName };
}

/** The newest value (timestamps may come in any order on a page). */
function latestValue(result: MetricDataResult): number | null {
  const times = result.Timestamps ?? [];
  const values = result.Values ?? [];
  let best: { at: number; value: number } | null = null;
  for (let i = 0; i < Math.min(times.length, values.length); i++) {
    const at = times[i]!.getTime();
    const value = values[i]!;
    if (!Number.isFinite(value)) continue;
    if (!best || at > best.at) best = { at, value };
  }
  return best?.value ?? null;
}

/** A series split across pages appears once per page: keep its newest value. */
function merge(
  found: { node: ReadinessNode; latest: number | null }[],
): { node: ReadinessNode; latest: number | null }[] {
  const byNode = new Map<string, { node: ReadinessNode; latest: number | null }>();
  for (const item of found) {
    const key = `${item.node.instanceId ?? ''}|${item.node.nodeName ?? ''}`;
    const seen = byNode.get(key);
    if (!seen || seen.latest === null) byNode.set(key, item);
  }
  return [...byNode.values()];
}
