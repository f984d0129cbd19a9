/** analyze: analyzes the diagnosis (or EC2 evidence), plans the fixes, posts the findings. */
import type { Grants, HandlerManifest, Sizing } from './types.js';

export const wiring = {
  ports: ['store', 'runner', 'inventory', 'chat', 'pager'],
  env: ['VERSION_POLICY'],
} as const;

const grants = {
  secrets: ['slack', 'pager'],
  table: 'readWrite',
  // An unreachable node is judged from EC2 evidence, its console output among them.
  clusterInstances: ['ec2:GetConsoleOutput'],
  anyResource: [
    'ssm:GetCommandInvocation',
    'ssm:DescribeInstanceInformation',
    'ec2:DescribeInstanceStatus',
    'ec2:DescribeInstances',
  ],
} as const satisfies Grants;

const sizing = { memory: 512, timeout: 60 } as const satisfies Sizing;

/** The whole manifest, as the construct reads it. */
export const manifest: HandlerManifest = { wiring, grants, sizing };
