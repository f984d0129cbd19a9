/** evaluate: judges a recheck, a fix, a verification or a rollback from its command. */
import type { Grants, HandlerManifest, Sizing } from './types.js';

export const wiring = {
  ports: ['store', 'runner', 'inventory', 'chat', 'alarms', 'contributors', 'readiness'],
  env: ['VERSION_POLICY'],
} as const;

const grants = {
  secrets: ['slack'],
  table: 'readWrite',
  // A recheck/verify whose command never reached the node is judged from EC2 evidence.
  clusterInstances: ['ec2:GetConsoleOutput'],
  // GetMetricData: the node's own readiness (Container Insights) after a fix.
  anyResource: [
    'ssm:GetCommandInvocation',
    'ssm:DescribeInstanceInformation',
    'ec2:DescribeInstanceStatus',
    'cloudwatch:GetMetricData',
  ],
  // The state of the alarm (or of the node's contributor) that opened the incident, after a fix.
  alarms: ['cloudwatch:DescribeAlarms', 'cloudwatch:DescribeAlarmContributors'],
} as const satisfies Grants;

const sizing = { memory: 512, timeout: 60 } as const satisfies Sizing;

/** The whole manifest, as the construct reads it. */
export const manifest: HandlerManifest = { wiring, grants, sizing };
