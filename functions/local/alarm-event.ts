/**
 * A real-shaped EventBridge "CloudWatch Alarm State Change" event for a NotReady node, as the
 * Container Insights alarm on `node_status_condition_ready` sends it. The local mode fires it into
 * the same parser and use case the alarm Lambda runs.
 */
export interface LocalAlarm {
  readonly alarmName: string;
  readonly instanceId: string;
  readonly nodeName: string;
  readonly cluster: string;
  readonly state: 'ALARM' | 'OK';
  readonly time?: Date;
}

export function notReadyAlarmEvent(alarm: LocalAlarm): Record<string, unknown> {
  const time = (alarm.time ?? new Date()).toISOString();
  const region = 'eu-west-1';
  const account = '123456789012';
  const breaching = alarm.state === 'ALARM';
  return {
    version: '0',
    id: `local-${Date.now().toString(36)}`,
    'detail-type': 'CloudWatch Alarm State Change',
    source: 'aws.cloudwatch',
    account,
    time,
    region,
    resources: [`arn:aws:cloudwatch:${region}:${account}:alarm:${alarm.alarmName}`],
    detail: {
      alarmName: alarm.alarmName,
      state: {
        value: alarm.state,
        reason: breaching
          ? 'Threshold Crossed: 1 out of the last 1 datapoints [0.0] was less than the threshold (1.0).'
          : 'Threshold Crossed: 1 out of the last 1 datapoints [1.0] was not less than the threshold (1.0).',
        reasonData: JSON.stringify({
          version: '1.0',
          queryDate: time,
          statistic: 'Minimum',
          period: 60,
          recentDatapoints: [breaching ? 0 : 1],
          threshold: 1,
        }),
        timestamp: time,
      },
      previousState: { value: breaching ? 'OK' : 'ALARM', timestamp: time },
      configuration: {
        description: `Node ${alarm.nodeName} is NotReady`,
        metrics: [
          {
            id: 'm1',
            metricStat: {
              metric: {
                namespace: 'ContainerInsights',
                name: 'node_status_condition_ready',
                dimensions: {
                  ClusterName: alarm.cluster,
                  NodeName: alarm.nodeName,
                  InstanceId: alarm.instanceId,
                },
              },
              period: 60,
              stat: 'Minimum',
            },
            returnData: true,
          },
        ],
      },
    },
  };
}

const REGION = 'eu-west-1';
const ACCOUNT = '123456789012';

/** CloudWatch's state timestamp format (`2026-11-27T03:14:07.125+0000`), as the fixtures carry it. */
function cloudWatchTime(time: Date): string {
  return time.toISOString().replace('Z', '+0000');
}

/** A cluster-level alarm: names a cluster and no node (test/fixtures/alarms/cluster-only.json). */
export interface LocalClusterAlarm {
  readonly alarmName: string;
  readonly cluster: string;
  readonly state: 'ALARM' | 'OK';
  readonly time?: Date;
}

/**
 * A "CloudWatch Alarm State Change" event of an alarm on Container Insights'
 * `cluster_failed_node_count` (ClusterName only), shaped like test/fixtures/alarms/cluster-only.json
 * (which cites the AWS page it follows). nodemedic has to find the nodes itself.
 */
export function clusterAlarmEvent(alarm: LocalClusterAlarm): Record<string, unknown> {
  const at = alarm.time ?? new Date();
  const time = at.toISOString();
  const breaching = alarm.state === 'ALARM';
  return {
    version: '0',
    id: `local-cluster-${at.getTime().toString(36)}`,
    'detail-type': 'CloudWatch Alarm State Change',
    source: 'aws.cloudwatch',
    account: ACCOUNT,
    time,
    region: REGION,
    resources: [`arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:${alarm.alarmName}`],
    detail: {
      alarmName: alarm.alarmName,
      state: {
        value: alarm.state,
        reason: breaching
          ? 'Threshold Crossed: 1 out of the last 1 datapoints [1.0] was greater than or equal to the threshold (1.0).'
          : 'Threshold Crossed: 1 out of the last 1 datapoints [0.0] was not greater than or equal to the threshold (1.0).',
        reasonData: JSON.stringify({
          version: '1.0',
          queryDate: cloudWatchTime(at),
          statistic: 'Maximum',
          period: 60,
          recentDatapoints: [breaching ? 1 : 0],
          threshold: 1,
        }),
        timestamp: cloudWatchTime(at),
      },
      previousState: { value: breaching ? 'OK' : 'ALARM', timestamp: cloudWatchTime(at) },
      configuration: {
        description: `${alarm.cluster} has failed nodes`,
        metrics: [
          {
            id: 'm1',
            metricStat: {
              metric: {
                namespace: 'ContainerInsights',
                name: 'cluster_failed_node_count',
                dimensions: { ClusterName: alarm.cluster },
              },
              period: 60,
              stat: 'Maximum',
            },
            returnData: true,
          },
        ],
      },
    },
  };
}

/** One contributor (one node's series) of the per-cluster Metrics Insights alarm. */
export interface LocalContributorAlarm {
  readonly alarmName: string;
  readonly cluster: string;
  readonly instanceId: string;
  readonly nodeName: string;
  /** CloudWatch's contributor id: stable per series (see {@link contributorId}). */
  readonly contributorId: string;
  readonly state: 'ALARM' | 'OK';
  readonly time?: Date;
}

/** A stable 16-hex contributor id for a node's series, as CloudWatch gives each contributor one. */
export function contributorId(instanceId: string): string {
  let h = 0xcbf29ce484222325n;
  for (const c of instanceId) h = ((h ^ BigInt(c.charCodeAt(0))) * 0x100000001b3n) & 0xffffffffffffffffn;
  return h.toString(16).padStart(16, '0');
}

/**
 * A "CloudWatch Alarm Contributor State Change" event of the per-cluster alarm grouped by
 * ClusterName, InstanceId, NodeName, shaped like test/fixtures/alarms/contributor-cluster-attribute.json
 * (which cites the AWS page it follows).
 */
export function contributorAlarmEvent(alarm: LocalContributorAlarm): Record<string, unknown> {
  const at = alarm.time ?? new Date();
  const time = at.toISOString();
  const breaching = alarm.state === 'ALARM';
  return {
    version: '0',
    id: `local-contributor-${alarm.contributorId}-${at.getTime().toString(36)}`,
    'detail-type': 'CloudWatch Alarm Contributor State Change',
    source: 'aws.cloudwatch',
    account: ACCOUNT,
    time,
    region: REGION,
    resources: [`arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:${alarm.alarmName}`],
    detail: {
      alarmName: alarm.alarmName,
      alarmContributor: {
        id: alarm.contributorId,
        attributes: {
          ClusterName: alarm.cluster,
          InstanceId: alarm.instanceId,
          NodeName: alarm.nodeName,
        },
      },
      state: {
        value: alarm.state,
        reason: breaching
          ? 'Threshold Crossed: 1 datapoint was less than the threshold (1.0).'
          : 'Threshold Crossed: no datapoint was less than the threshold (1.0).',
        timestamp: cloudWatchTime(at),
      },
      configuration: {
        metrics: [
          {
            id: 'm1',
            expression:
              'SELECT MIN(node_status_condition_ready) FROM SCHEMA("ContainerInsights", ClusterName, InstanceId, NodeName) GROUP BY ClusterName, InstanceId, NodeName ORDER BY MIN() ASC',
            returnData: true,
            period: 60,
          },
        ],
        description: `nodemedic: a node of ${alarm.cluster} is not Ready (Container Insights node_status_condition_ready, per node)`,
      },
    },
  };
}
