/**
 * EC2 (+ SSM PingStatus) as the node inventory. Auto Scaling is passed in only by the function that
 * replaces nodes (send): the others never carry its client, and a replace they reach for fails as a
 * wiring error.
 */
import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { EC2Client } from '@aws-sdk/client-ec2';
import { Ec2NodeInventory } from '../../adapters/aws/ec2-inventory.js';
import { unavailable } from '../runtime.js';
import type { PortEnv } from './env.js';
import { ssm } from './ssm-client.js';

// Built once per container, in the init phase.
const ec2 = new EC2Client({});

/** The inventory of the instances tagged CLUSTER_TAG_KEY with one of CLUSTER_NAMES. */
export function makeInventory(
  env: PortEnv<'inventory'>,
  autoScaling: AutoScalingClient = unavailable<AutoScalingClient>('autoScaling'),
): Ec2NodeInventory {
  return new Ec2NodeInventory({
    ec2,
    ssm,
    autoScaling,
    clusterTagKey: env.CLUSTER_TAG_KEY,
    clusterNames: env.CLUSTER_NAMES,
  });
}
