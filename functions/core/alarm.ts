/**
 * Reads an EventBridge "CloudWatch Alarm State Change" event into what nodemedic needs: which
 * alarm, which state, and which node (instance id, node name) of which cluster. Pure: the alarm
 * handler and `nodemedic parse-alarm` both call it. Anything it cannot use is refused with an
 * InvalidInputError whose code says the kind of refusal and whose message names the problem, so
 * the caller can log it and stop before doing anything half-way.
 *
 * Real shapes (runbook.md, "Alarms that start it"): dimensions are an object map under
 * `detail.configuration.metrics[].metricStat.metric.dimensions`; metric-math alarms add metrics
 * with `expression` and no `metricStat`; composite alarms carry `configuration.alarmRule` and no
 * metrics; `reasonData` is a JSON string.
 */
import { InvalidInputError } from './errors.js';

/** Which alarms nodemedic acts on. Both lists empty (or absent) means every alarm. */
export interface AlarmFilter {
  /** An alarm whose name starts with one of these is accepted. */
  namePrefixes?: readonly string[];
  /** An alarm with exactly one of these names is accepted. */
  names?: readonly string[];
}

/** The states CloudWatch reports. */
export const ALARM_STATES = ['ALARM', 'OK', 'INSUFFICIENT_DATA'] as const;
export type AlarmState = (typeof ALARM_STATES)[number];

/** What nodemedic reads from one alarm event. */
export interface ParsedAlarm {
  alarmName: string;
  state: AlarmState;
  /** The state before this change, as CloudWatch words it; null when the event has none. */
  previousState: string | null;
  /** CloudWatch's human-readable reason for the change. */
  reason: string;
  /** When the state changed (the state's timestamp, else the event's time), ISO-8601. */
  time: string;
  region: string;
  account: string;
  /** Validated EC2 instance id from the `InstanceId` dimension. */
  instanceId: string | null;
  /** Kubernetes node name (private DNS name) from the `NodeName` dimension. */
  nodeName: string | null;
  /** From the `ClusterName` dimension. Cluster-only alarms (cluster_failed_node_count) name no node. */
  cluster: string | null;
}

/** Error codes of {@link parseAlarmEvent}: stable, used in logs and the CLI's output. */
export const ALARM_ERROR_CODES = {
  /** A well-formed event nodemedic does not handle (other source, composite alarm, no node). */
  unsupported: 'ALARM_UNSUPPORTED',
  /** An alarm outside the configured names and prefixes. */
  filtered: 'ALARM_FILTERED',
  /** Not the documented shape (junk, missing fields, a bad instance id). */
  malformed: 'ALARM_MALFORMED',
} as const;

const DETAIL_TYPE = 'CloudWatch Alarm State Change';
const SOURCE = 'aws.cloudwatch';
const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;
// Kubernetes node names are DNS subdomains (the same pattern the cordon/drain parameter enforces).
const NODE_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
/**
 * EKS cluster names: letters, digits, `-` and `_`, up to 100; `.` is allowed for self-managed
 * clusters. No `#`: the cluster is part of the dedupe key (and of the fix history's key).
 */
export const CLUSTER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/**
 * Check an EC2 instance id (`^i-[0-9a-f]{8,17}$`) before it reaches any API or document.
 * Returns it unchanged; throws InvalidInputError (`INSTANCE_ID_INVALID`) otherwise.
 */
export function validateInstanceId(id: string): string {
  if (typeof id !== 'string' || !INSTANCE_ID.test(id)) {
    throw new InvalidInputError(
      `not an EC2 instance id: ${JSON.stringify(String(id).slice(0, 40))} (expected i- and 8 to 17 hex digits)`,
      { code: 'INSTANCE_ID_INVALID' },
    );
  }
  return id;
}

/**
 * The key that maps every event about one node onto its one open incident (`cluster#instanceId`).
 * Throws InvalidInputError when a part is empty or contains the separator.
 */
export function dedupeKey(cluster: string, instanceId: string): string {
  for (const [what, value] of [
    ['cluster', cluster],
    ['instance id', instanceId],
  ] as const) {
    if (!value || value.includes('#')) {
      throw new InvalidInputError(`dedupe key: ${what} ${JSON.stringify(value)} is empty or contains "#"`);
    }
  }
  return `${cluster}#${instanceId}`;
}

/** Parse and filter one EventBridge event. See the module comment for what is refused and why. */
export function parseAlarmEvent(event: unknown, filter?: AlarmFilter): ParsedAlarm {
  if (!isRecord(event)) malformed(`the event is not a JSON object (got ${describe(event)})`);
  const detailType = event['detail-type'];
  const source = event.source;
  if (typeof detailType !== 'string' || typeof source !== 'string') {
    malformed('not an EventBridge event: "detail-type" or "source" is missing');
  }
  if (detailType !== DETAIL_TYPE || source !== SOURCE) {
    unsupported(
      `event "${clip(detailType)}" from "${clip(source)}" is not a "${DETAIL_TYPE}" event from ${SOURCE}`,
    );
  }
  const detail = event.detail;
  if (!isRecord(detail)) malformed('"detail" is missing or not an object');
  const alarmName = detail.alarmName;
  if (typeof alarmName !== 'string' || alarmName === '') malformed('"detail.alarmName" is missing');
  if (!accepts(filter, alarmName)) {
    throw new InvalidInputError(
      `alarm "${clip(alarmName)}" is not in the configured alarm names or prefixes`,
      {
        code: ALARM_ERROR_CODES.filtered,
      },
    );
  }

  const stateObject = detail.state;
  if (!isRecord(stateObject)) malformed('"detail.state" is missing');
  const state = stateObject.value;
  if (!ALARM_STATES.includes(state as AlarmState)) {
    malformed(`"detail.state.value" is ${describe(state)}, not one of ${ALARM_STATES.join(', ')}`);
  }
  const previous = isRecord(detail.previousState) ? detail.previousState.value : undefined;
  const time = typeof stateObject.timestamp === 'string' ? stateObject.timestamp : event.time;
  if (typeof time !== 'string') malformed('neither "detail.state.timestamp" nor "time" is set');
  const region = event.region;
  const account = event.account;
  if (typeof region !== 'string' || typeof account !== 'string') {
    malformed('"region" or "account" is missing');
  }

  const configuration = detail.configuration;
  if (!isRecord(configuration)) malformed('"detail.configuration" is missing');
  if (configuration.alarmRule !== undefined) {
    unsupported(
      `alarm "${clip(alarmName)}" is a composite alarm: it names no node; alarm on the node metric itself`,
    );
  }
  const dimensions = readDimensions(configuration.metrics, alarmName);

  return {
    alarmName,
    state: state as AlarmState,
    previousState: typeof previous === 'string' ? previous : null,
    reason: typeof stateObject.reason === 'string' ? stateObject.reason : '',
    time,
    region,
    account,
    ...dimensions,
  };
}

type Dimensions = Pick<ParsedAlarm, 'instanceId' | 'nodeName' | 'cluster'>;

/**
 * Gather InstanceId / NodeName / ClusterName over every metricStat. Metric-math inputs each carry
 * their own dimensions; they must agree, since an incident is about one node.
 */
function readDimensions(metrics: unknown, alarmName: string): Dimensions {
  if (!Array.isArray(metrics)) malformed('"detail.configuration.metrics" is missing or not a list');
  const seen: Record<'InstanceId' | 'NodeName' | 'ClusterName', Set<string>> = {
    InstanceId: new Set(),
    NodeName: new Set(),
    ClusterName: new Set(),
  };
  metrics.forEach((metric, index) => {
    if (!isRecord(metric)) malformed(`metrics[${index}] is not an object`);
    if (metric.metricStat === undefined) return; // an `expression` (metric math): no dimensions of its own
    const dims =
      isRecord(metric.metricStat) && isRecord(metric.metricStat.metric) ? metric.metricStat.metric : null;
    if (!dims) malformed(`metrics[${index}].metricStat.metric is missing`);
    const map = dims.dimensions ?? {};
    if (!isRecord(map)) malformed(`metrics[${index}] dimensions are not an object map`);
    for (const name of Object.keys(seen) as (keyof typeof seen)[]) {
      const value = map[name];
      if (value === undefined) continue;
      if (typeof value !== 'string') malformed(`metrics[${index}] dimension ${name} is not a string`);
      seen[name].add(value);
    }
  });
  const one = (name: keyof typeof seen): string | null => {
    const values = [...seen[name]];
    if (values.length > 1) {
      unsupported(
        `alarm "${clip(alarmName)}" has metrics with different ${name} values (${values.map(clip).join(', ')}); ` +
          'nodemedic handles one node per alarm',
      );
    }
    return values[0] ?? null;
  };
  const instanceId = one('InstanceId');
  const nodeName = one('NodeName');
  const cluster = one('ClusterName');
  if (instanceId === null && nodeName === null && cluster === null) {
    unsupported(
      `alarm "${clip(alarmName)}" has no InstanceId, NodeName or ClusterName dimension: it names no node or cluster`,
    );
  }
  if (instanceId !== null && !INSTANCE_ID.test(instanceId)) {
    malformed(`dimension InstanceId ${JSON.stringify(clip(instanceId))} is not an EC2 instance id`);
  }
  if (nodeName !== null && !NODE_NAME.test(nodeName)) {
    malformed(`dimension NodeName ${JSON.stringify(clip(nodeName))} is not a Kubernetes node name`);
  }
  if (cluster !== null && !CLUSTER_NAME.test(cluster)) {
    malformed(`dimension ClusterName ${JSON.stringify(clip(cluster))} is not a valid cluster name`);
  }
  return { instanceId, nodeName, cluster };
}

function accepts(filter: AlarmFilter | undefined, name: string): boolean {
  const names = filter?.names ?? [];
  const prefixes = filter?.namePrefixes ?? [];
  if (names.length === 0 && prefixes.length === 0) return true;
  return names.includes(name) || prefixes.some((prefix) => name.startsWith(prefix));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return JSON.stringify(clip(value));
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}

/** Event text is echoed into logs and Slack: keep it short. */
function clip(value: string): string {
  return value.length > 80 ? `${value.slice(0, 77)}...` : value;
}

function malformed(message: string): never {
  throw new InvalidInputError(`malformed alarm event: ${message}`, { code: ALARM_ERROR_CODES.malformed });
}

function unsupported(message: string): never {
  throw new InvalidInputError(`unsupported alarm event: ${message}`, { code: ALARM_ERROR_CODES.unsupported });
}
