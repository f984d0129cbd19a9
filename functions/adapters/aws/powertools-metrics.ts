/**
 * `AppMetrics` as CloudWatch embedded metric format, through Powertools Metrics: one JSON line on
 * stdout per dimension set, which Lambda's log pipeline turns into metrics in the `nodemedic`
 * namespace (no PutMetricData call, no extra permission). Metrics are buffered during an
 * invocation and written by `flush()`, which the handler calls once at the end of each one.
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import {
  type AppMetrics,
  METRICS_NAMESPACE,
  METRICS_SERVICE,
  type MetricDimensions,
  type MetricName,
} from '../../app/metrics.js';

type Unit = (typeof MetricUnit)[keyof typeof MetricUnit];

interface Entry {
  readonly name: MetricName;
  readonly unit: Unit;
  readonly value: number;
  readonly dimensions: MetricDimensions;
}

/** Buffers metrics and writes them as EMF, one Powertools `Metrics` per dimension set. */
export class PowertoolsMetrics implements AppMetrics {
  private entries: Entry[] = [];

  /** `onError` hears of a metric that could not be written (the logger's warn, in Lambda). */
  constructor(private readonly onError: (error: unknown) => void = () => {}) {}

  count(name: MetricName, dimensions: MetricDimensions, value = 1): void {
    this.entries.push({ name, unit: MetricUnit.Count, value, dimensions });
  }

  seconds(name: MetricName, value: number, dimensions: MetricDimensions): void {
    this.entries.push({ name, unit: MetricUnit.Seconds, value, dimensions });
  }

  /**
   * Write what was recorded since the last flush, and forget it. Never throws: a metric must not
   * fail the step that recorded it.
   */
  flush(): void {
    const entries = this.entries;
    this.entries = [];
    const groups = new Map<string, Entry[]>();
    for (const entry of entries) {
      const key = JSON.stringify(Object.entries(entry.dimensions).sort());
      groups.set(key, [...(groups.get(key) ?? []), entry]);
    }
    for (const group of groups.values()) {
      try {
        const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: METRICS_SERVICE });
        for (const [name, value] of Object.entries(group[0]!.dimensions)) metrics.addDimension(name, value);
        for (const entry of group) metrics.addMetric(entry.name, entry.unit, entry.value);
        metrics.publishStoredMetrics();
      } catch (error) {
        this.onError(error);
      }
    }
  }
}
