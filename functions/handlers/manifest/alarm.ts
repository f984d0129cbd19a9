/** alarm: opens (or joins) an incident from an alarm state change, and closes it on OK. */
import type { Grants, HandlerManifest, Sizing } from './types.js';

export const wiring = {
  ports: ['store', 'inventory', 'chat', 'workflow', 'pager', 'contributors', 'readiness', 'sweeper'],
  // VERSION_POLICY: a sweep analyzes each node's probe, as analyze does.
  env: ['ALARM_FILTER', 'VERSION_POLICY'],
} as const;

const grants = {
  // An alarm back to OK ends the approval wait.
  workflow: ['startExecution', 'taskResponse'],
  secrets: ['slack', 'pager'],
  table: 'readWrite',
  // GetMetricData: per-node readiness (Container Insights) for a cluster-only alarm.
  // A cluster-only alarm's sweep: the diagnose document's quick probe, sent by the cluster tag
  // (ListCommands: is it done, and how many targets; ListCommandInvocations/GetCommandInvocation:
  // each node's output). DescribeInstanceStatus: EC2's side of the cluster hold at arrival.
  diagnoseDocument: ['ssm:SendCommand'],
  clusterInstances: ['ssm:SendCommand'],
  anyResource: [
    'ec2:DescribeInstances',
    'ec2:DescribeInstanceStatus',
    'cloudwatch:GetMetricData',
    'ssm:ListCommands',
    'ssm:ListCommandInvocations',
    'ssm:GetCommandInvocation',
  ],
  // A multi-time-series alarm's contributors in ALARM, for its alarm-level change.
  alarms: ['cloudwatch:DescribeAlarmContributors'],
  deadLetterQueue: 'send',
} as const satisfies Grants;

// A cluster-only alarm's sweep is waited for within the function (app/sweep.ts SWEEP_WAIT_SECONDS,
// 150 s) with 30 s left to open incidents and post the summary.
const sizing = { memory: 256, timeout: 240 } as const satisfies Sizing;

/** The whole manifest, as the construct reads it. */
export const manifest: HandlerManifest = { wiring, grants, sizing };
