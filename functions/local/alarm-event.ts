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
