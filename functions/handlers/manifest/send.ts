/** send: sends a command (diagnose, recheck, fix, verify, rollback), or runs an EC2/ASG action. */
import type { Grants, HandlerManifest, Sizing } from './types.js';

export const wiring = { ports: ['store', 'runner', 'inventory', 'chat'], env: [] } as const;

const grants = {
  secrets: ['slack'],
  table: 'readWrite',
  // SendCommand is authorized on the document AND on each target instance: documents are ours by
  // ARN, instances only when they carry the cluster tag.
  documents: ['ssm:SendCommand'],
  clusterInstances: ['ssm:SendCommand', 'ec2:RebootInstances'],
  clusterGroups: ['autoscaling:TerminateInstanceInAutoScalingGroup'],
  anyResource: ['ec2:DescribeInstances', 'ssm:DescribeInstanceInformation', 'ec2:DescribeInstanceStatus'],
} as const satisfies Grants;

const sizing = { memory: 256, timeout: 30 } as const satisfies Sizing;

/** The whole manifest, as the construct reads it. */
export const manifest: HandlerManifest = { wiring, grants, sizing };
