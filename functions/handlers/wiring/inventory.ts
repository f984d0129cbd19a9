/** EC2 (+ SSM PingStatus, + Auto Scaling for replace) as the node inventory. */
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { EC2Client } from '@aws-sdk/client-ec2';
import { SSMClient } from '@aws-sdk/client-ssm';
import { Ec2NodeInventory } from '../../adapters/aws/ec2-inventory.js';
import { requireEnv } from '../runtime.js';

export function makeInventory(): Ec2NodeInventory {
  return new Ec2NodeInventory({
    ec2: new EC2Client({}),
    ssm: new SSMClient({}),
    autoScaling: new AutoScalingClient({}),
    clusterTagKey: requireEnv('CLUSTER_TAG_KEY'),
  });
}
