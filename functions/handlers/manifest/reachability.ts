/** reachability: is the node's SSM agent online and the instance running? */
import type { Grants, HandlerManifest, Sizing } from './types.js';

export const wiring = { ports: ['store', 'inventory'], env: [] } as const;

const grants = {
  table: 'readWrite',
  anyResource: ['ssm:DescribeInstanceInformation', 'ec2:DescribeInstanceStatus'],
} as const satisfies Grants;

const sizing = { memory: 256, timeout: 30 } as const satisfies Sizing;

/** The whole manifest, as the construct reads it. */
export const manifest: HandlerManifest = { wiring, grants, sizing };
