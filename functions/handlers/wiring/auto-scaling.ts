/** The Auto Scaling client, for the one function that replaces nodes (send). */
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';

/** Built once per container, in the init phase. */
export const autoScaling = new AutoScalingClient({});
