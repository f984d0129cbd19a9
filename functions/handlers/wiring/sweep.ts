/**
 * What a cluster-only alarm needs (app/sweep.ts): Container Insights' per-node readiness over
 * CloudWatch, and the sweep of a cluster's nodes over SSM Run Command with the diagnose document.
 */
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CloudWatchNodeReadiness } from '../../adapters/aws/cloudwatch-readiness.js';
import { SsmClusterSweeper } from '../../adapters/aws/ssm-sweep.js';
import type { PortEnv } from './env.js';
import { ssm } from './ssm-client.js';

/** Per-node readiness over the function's CloudWatch client. */
export function makeReadiness(client: CloudWatchClient): CloudWatchNodeReadiness {
  return new CloudWatchNodeReadiness({ client });
}

/** The sweeper over the diagnose document DOCUMENTS names, by the inventory's cluster tag. */
export function makeSweeper(env: PortEnv<'sweeper'>): SsmClusterSweeper {
  // The schema requires a diagnose document.
  return new SsmClusterSweeper({
    client: ssm,
    document: env.DOCUMENTS.diagnose!,
    clusterTagKey: env.CLUSTER_TAG_KEY,
  });
}
