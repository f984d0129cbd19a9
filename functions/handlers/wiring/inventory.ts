/** EC2 (+ SSM PingStatus, + Auto Scaling for replace) as the node inventory. */
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { EC2Client } from '@aws-sdk/client-ec2';
import { Ec2NodeInventory } from '../../adapters/aws/ec2-inventory.js';
import type { PortEnv } from './env.js';
import { ssm } from './ssm-client.js';

// Built once per container, in the init phase.
const ec2 = new EC2Client({});
const autoScaling = new AutoScalingClient({});

/** The inventory of the instances tagged CLUSTER_TAG_KEY with one of CLUSTER_NAMES. */
export function makeInventory(env: PortEnv<'inventory'>): Ec2NodeInventory {
  return new Ec2NodeInventory({
    ec2,
    ssm,
    autoScaling,
    clusterTagKey: env.CLUSTER_TAG_KEY,
    clusterNames: env.CLUSTER_NAMES,
  });
}
