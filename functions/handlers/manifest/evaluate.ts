/** evaluate: judges a recheck, a fix, a verification or a rollback from its command. */
import type { Grants, HandlerManifest, Sizing } from './types.js';

export const wiring = {
  ports: ['store', 'runner', 'inventory', 'chat', 'alarms'],
  env: ['VERSION_POLICY'],
} as const;

const grants = {
  secrets: ['slack'],
  table: 'readWrite',
  // A recheck/verify whose command never reached the node is judged from EC2 evidence.
  clusterInstances: ['ec2:GetConsoleOutput'],
  anyResource: ['ssm:GetCommandInvocation', 'ssm:DescribeInstanceInformation', 'ec2:DescribeInstanceStatus'],
  // The state of the alarm that opened the incident, for the verification.
  alarms: ['cloudwatch:DescribeAlarms'],
} as const satisfies Grants;

const sizing = { memory: 512, timeout: 60 } as const satisfies Sizing;

/** The whole manifest, as the construct reads it. */
export const manifest: HandlerManifest = { wiring, grants, sizing };
