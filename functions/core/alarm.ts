/**
 * Reads an EventBridge "CloudWatch Alarm State Change" or "CloudWatch Alarm Contributor State
 * Change" event into what nodemedic needs: which alarm (and contributor), which state, and which
 * node (instance id, node name) of which cluster. Pure: the alarm handler and `nodemedic
 * parse-alarm` both call it. Anything it cannot use is refused with an InvalidInputError whose
 * code says the kind of refusal and whose message names the problem, so the caller can log it and
 * stop before doing anything half-way.
 *
 * Real shapes (CloudWatch user guide, "Alarm events and EventBridge",
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-and-eventbridge.html):
 * dimensions are an object map under `detail.configuration.metrics[].metricStat.metric.dimensions`;
 * metric-math alarms add metrics with `expression` and no `metricStat`; composite alarms carry
 * `configuration.alarmRule` and no metrics; `reasonData` is a JSON string.
 * A Metrics Insights alarm with GROUP BY ("Multi Time Series Alarm") sends one contributor event
 * per time series: `detail.alarmContributor` = `{ id, attributes }` (the GROUP BY keys and their
 * values), `detail.state` without `reasonData`, no `previousState`, and the SQL in
 * `configuration.metrics[].expression`. Its alarm-level event is a plain state change with the
 * same SQL and no dimensions, whose reason counts the contributors in ALARM. A contributor is only
 * ever ALARM or OK. Keys that appear only in the WHERE clause (ClusterName) are not attributes.
 */
import { InvalidInputError } from './errors.js';
import { CLUSTER_NAME, INSTANCE_ID, isNodeName } from './patterns.js';

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
  /**
   * From the `ClusterName` dimension or contributor attribute, else from the Metrics Insights
   * query's `WHERE ClusterName = '…'`. Cluster-only alarms (cluster_failed_node_count) name no node.
   */
  cluster: string | null;
  /**
   * The time series of a multi-time-series alarm whose state changed (a contributor event); null
   * for an alarm-level event. Its id is what ties a contributor's OK to the incident its ALARM opened.
   */
  contributor: AlarmContributorRef | null;
  /** The Metrics Insights SQL the alarm evaluates, when it is a Metrics Insights alarm. */
  query: string | null;
  /**
   * True for the alarm-level change of a multi-time-series alarm (SQL with GROUP BY): it names no
   * node itself; the nodes are its contributors in ALARM (DescribeAlarmContributors).
   */
  multiTimeSeries: boolean;
  /**
   * True for a cluster-only alarm: one that names a cluster and no node, such as Container
   * Insights' `cluster_failed_node_count` (a `ClusterName` dimension only, or a Metrics Insights
   * query pinned to one cluster without GROUP BY). nodemedic finds its nodes itself: per-node
   * readiness, else a sweep of the cluster's nodes (app/sweep.ts).
   */
  clusterOnly: boolean;
  /** The alarm's metric (`namespace/name`) when it watches one metric, e.g. `ContainerInsights/cluster_failed_node_count`. */
  metric: string | null;
}

/** One time series of a multi-time-series alarm, as its contributor event names it. */
export interface AlarmContributorRef {
  /** CloudWatch's contributor id (16 characters in AWS's examples). */
  readonly id: string;
  /** The contributor's attributes: the GROUP BY keys and their values. */
  readonly attributes: Readonly<Record<string, string>>;
}

/** Error codes of {@link parseAlarmEvent}: stable, used in logs and the CLI's output. */
const ALARM_ERROR_CODES = {
  /** A well-formed event nodemedic does not handle (other source, composite alarm, no node). */
  unsupported: 'ALARM_UNSUPPORTED',
  /** An alarm outside the configured names and prefixes. */
  filtered: 'ALARM_FILTERED',
  /** Not the documented shape (junk, missing fields, a bad instance id). */
  malformed: 'ALARM_MALFORMED',
} as const;

/** The EventBridge detail-types nodemedic handles (the rule matches exactly these). */
export const ALARM_DETAIL_TYPES = {
  alarm: 'CloudWatch Alarm State Change',
  contributor: 'CloudWatch Alarm Contributor State Change',
} as const;
const DETAIL_TYPES: readonly string[] = Object.values(ALARM_DETAIL_TYPES);
const SOURCE = 'aws.cloudwatch';
/** DescribeAlarmContributors' documented bound on a contributor id. */
const CONTRIBUTOR_ID_MAX = 1024;
/** The node-naming keys nodemedic reads from dimensions and contributor attributes. */
const NODE_KEYS = ['InstanceId', 'NodeName', 'ClusterName'] as const;

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
  if (!DETAIL_TYPES.includes(detailType) || source !== SOURCE) {
    unsupported(
      `event "${clip(detailType)}" from "${clip(source)}" is not a ${DETAIL_TYPES.map((t) => `"${t}"`).join(' or ')} event from ${SOURCE}`,
    );
  }
  const isContributor = detailType === ALARM_DETAIL_TYPES.contributor;
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
  if (isContributor && state === 'INSUFFICIENT_DATA') {
    // AWS: "each time series (contributor) can only be in ALARM or OK state".
    malformed('a contributor is only ever ALARM or OK, and this one is INSUFFICIENT_DATA');
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
  const query = readQuery(configuration.metrics);
  const common = {
    alarmName,
    state: state as AlarmState,
    previousState: typeof previous === 'string' ? previous : null,
    reason: typeof stateObject.reason === 'string' ? stateObject.reason : '',
    time,
    region,
    account,
    query: query?.sql ?? null,
    metric: readMetric(configuration.metrics),
  };

  if (isContributor) {
    return contributorAlarm(
      {
        ...common,
        instanceId: null,
        nodeName: null,
        cluster: query?.cluster ?? null,
        contributor: null,
        multiTimeSeries: false,
        clusterOnly: false,
      },
      readContributor(detail.alarmContributor),
    );
  }

  if (query?.groupBy.length) {
    if (!query.groupBy.some((key) => key === 'InstanceId' || key === 'NodeName')) {
      unsupported(
        `alarm "${clip(alarmName)}" groups its query by ${query.groupBy.map(clip).join(', ')}, ` +
          'not by InstanceId or NodeName: its contributors name no node',
      );
    }
    return {
      ...common,
      instanceId: null,
      nodeName: null,
      cluster: checkNode({ instanceId: null, nodeName: null, cluster: query.cluster }).cluster,
      contributor: null,
      multiTimeSeries: true,
      clusterOnly: false,
    };
  }
  const dimensions = readDimensions(configuration.metrics, alarmName, query?.cluster ?? null);
  // Names a cluster and no node (cluster_failed_node_count): nodemedic finds the nodes itself.
  const clusterOnly =
    dimensions.instanceId === null && dimensions.nodeName === null && dimensions.cluster !== null;
  return { ...common, ...dimensions, contributor: null, multiTimeSeries: false, clusterOnly };
}

/**
 * The contributor of a multi-time-series alarm as if its own contributor event had arrived: what
 * the alarm-level change fans out to, one per contributor DescribeAlarmContributors lists in ALARM.
 * Throws like {@link parseAlarmEvent} (ALARM_UNSUPPORTED when the attributes name no node,
 * ALARM_MALFORMED for an invalid id, instance id, node name or cluster).
 */
export function contributorAlarm(
  alarm: ParsedAlarm,
  contributor: {
    readonly id: string;
    readonly attributes: Readonly<Record<string, string>>;
    readonly reason?: string;
  },
): ParsedAlarm {
  const ref = readContributor({ id: contributor.id, attributes: contributor.attributes });
  const attributes = pickNodeKeys(ref.attributes, 'contributor attribute');
  if (attributes.instanceId === null && attributes.nodeName === null) {
    unsupported(
      `contributor ${clip(ref.id)} of alarm "${clip(alarm.alarmName)}" has attributes ` +
        `${describeKeys(ref.attributes)}, no InstanceId or NodeName: group the query BY InstanceId, NodeName`,
    );
  }
  return {
    ...alarm,
    ...checkNode({ ...attributes, cluster: attributes.cluster ?? alarm.cluster }),
    reason: contributor.reason ?? alarm.reason,
    previousState: null,
    contributor: ref,
    multiTimeSeries: false,
    clusterOnly: false,
  };
}

/** `detail.alarmContributor`: `{ id, attributes }`, both required, attributes a string map. */
function readContributor(value: unknown): AlarmContributorRef {
  if (!isRecord(value)) malformed('"detail.alarmContributor" is missing or not an object');
  const id = value.id;
  if (typeof id !== 'string' || id === '' || id.length > CONTRIBUTOR_ID_MAX) {
    malformed(`"detail.alarmContributor.id" is ${describe(id)}, not a contributor id`);
  }
  const attributes = value.attributes;
  if (!isRecord(attributes)) malformed('"detail.alarmContributor.attributes" is missing or not an object');
  const copy: Record<string, string> = {};
  for (const [key, attribute] of Object.entries(attributes)) {
    if (typeof attribute !== 'string') malformed(`contributor attribute ${clip(key)} is not a string`);
    copy[key] = attribute;
  }
  return { id, attributes: copy };
}

/**
 * The Metrics Insights query among the alarm's metrics (an `expression` starting with SELECT):
 * its SQL, its GROUP BY keys and the cluster its WHERE clause pins, if exactly one.
 */
function readQuery(metrics: unknown): { sql: string; groupBy: string[]; cluster: string | null } | null {
  if (!Array.isArray(metrics)) return null;
  for (const metric of metrics) {
    if (!isRecord(metric) || typeof metric.expression !== 'string') continue;
    const sql = metric.expression.trim();
    if (!/^SELECT\s/i.test(sql)) continue;
    return { sql, groupBy: groupByKeys(sql), cluster: whereCluster(sql) };
  }
  return null;
}

/** `GROUP BY a, "b"` → `['a', 'b']` (identifiers may be double-quoted; keywords are not case sensitive). */
function groupByKeys(sql: string): string[] {
  const match = /\bGROUP\s+BY\s+(.+?)(?:\s+ORDER\s+BY\b|\s+LIMIT\b|;|$)/is.exec(sql);
  if (!match) return [];
  return match[1]!
    .split(',')
    .map((key) => key.trim().replace(/^"(.*)"$/, '$1'))
    .filter(Boolean);
}

/**
 * The cluster a query's WHERE clause pins with `ClusterName = '…'`. Anything looser (OR, LIKE,
 * two clusters) pins none: the node's cluster tag decides instead.
 */
function whereCluster(sql: string): string | null {
  const where = /\bWHERE\s+(.+?)(?:\s+GROUP\s+BY\b|\s+ORDER\s+BY\b|\s+LIMIT\b|;|$)/is.exec(sql)?.[1];
  if (!where || /\bOR\b/i.test(where)) return null;
  const equal = [...where.matchAll(/(?:^|\s|\()"?ClusterName"?\s*=\s*'([^']*)'/g)].map((m) => m[1]!);
  const mentions = (where.match(/\bClusterName\b/g) ?? []).length;
  return equal.length === 1 && mentions === 1 ? equal[0]! : null;
}

/**
 * `namespace/name` of the alarm's one metric (a single-metric alarm, or metric math over one
 * metricStat); null for none or several.
 */
function readMetric(metrics: unknown): string | null {
  if (!Array.isArray(metrics)) return null;
  const names = new Set<string>();
  for (const metric of metrics) {
    if (!isRecord(metric) || !isRecord(metric.metricStat) || !isRecord(metric.metricStat.metric)) continue;
    const { namespace, name } = metric.metricStat.metric;
    if (typeof namespace === 'string' && typeof name === 'string') names.add(`${namespace}/${name}`);
  }
  return names.size === 1 ? [...names][0]! : null;
}

type Dimensions = Pick<ParsedAlarm, 'instanceId' | 'nodeName' | 'cluster'>;

/**
 * Gather InstanceId / NodeName / ClusterName over every metricStat. Metric-math inputs each carry
 * their own dimensions; they must agree, since an incident is about one node.
 */
function readDimensions(metrics: unknown, alarmName: string, queryCluster: string | null): Dimensions {
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
  const cluster = one('ClusterName') ?? queryCluster;
  if (instanceId === null && nodeName === null && cluster === null) {
    unsupported(
      `alarm "${clip(alarmName)}" has no InstanceId, NodeName or ClusterName dimension: it names no node or cluster`,
    );
  }
  return checkNode({ instanceId, nodeName, cluster });
}

/** InstanceId / NodeName / ClusterName from a contributor's attributes (absent → null). */
function pickNodeKeys(attributes: Readonly<Record<string, string>>, what: string): Dimensions {
  const [instanceId, nodeName, cluster] = NODE_KEYS.map((key) => {
    const value = attributes[key];
    if (value === undefined) return null;
    if (value === '') malformed(`${what} ${key} is empty`);
    return value;
  });
  return { instanceId: instanceId ?? null, nodeName: nodeName ?? null, cluster: cluster ?? null };
}

/** Validate each present key: they reach EC2 filters, dedupe keys and Slack. */
function checkNode(keys: Dimensions): Dimensions {
  const { instanceId, nodeName, cluster } = keys;
  if (instanceId !== null && !INSTANCE_ID.test(instanceId)) {
    malformed(`InstanceId ${JSON.stringify(clip(instanceId))} is not an EC2 instance id`);
  }
  if (nodeName !== null && !isNodeName(nodeName)) {
    malformed(`NodeName ${JSON.stringify(clip(nodeName))} is not a Kubernetes node name`);
  }
  if (cluster !== null && !CLUSTER_NAME.test(cluster)) {
    malformed(`ClusterName ${JSON.stringify(clip(cluster))} is not a valid cluster name`);
  }
  return keys;
}

function describeKeys(attributes: Readonly<Record<string, string>>): string {
  const keys = Object.keys(attributes);
  return keys.length ? keys.map(clip).join(', ') : 'none';
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
