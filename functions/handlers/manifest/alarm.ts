/** alarm: opens (or joins) an incident from an alarm state change, and closes it on OK. */
import type { Grants, HandlerManifest, Sizing } from './types.js';

export const wiring = {
  ports: ['store', 'inventory', 'chat', 'workflow', 'pager', 'contributors', 'readiness'],
  // VERSION_POLICY: a sweep analyzes each node's probe, as analyze does.
  env: ['ALARM_FILTER', 'VERSION_POLICY'],
} as const;

const grants = {
  // An alarm back to OK ends the approval wait.
  workflow: ['startExecution', 'taskResponse'],
  secrets: ['slack', 'pager'],
  table: 'readWrite',
  // GetMetricData: per-node readiness (Container Insights) for a cluster-only alarm.
  anyResource: ['ec2:DescribeInstances', 'cloudwatch:GetMetricData'],
  // A multi-time-series alarm's contributors in ALARM, for its alarm-level change.
  alarms: ['cloudwatch:DescribeAlarmContributors'],
  deadLetterQueue: 'send',
} as const satisfies Grants;

const sizing = { memory: 256, timeout: 30 } as const satisfies Sizing;

/** The whole manifest, as the construct reads it. */
export const manifest: HandlerManifest = { wiring, grants, sizing };
