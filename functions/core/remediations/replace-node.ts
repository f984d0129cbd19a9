import type { Remediation } from './remediation.js';

/**
 * Terminate the instance inside its Auto Scaling group so the group brings a fresh node from the
 * current AMI: the safe default for an outdated or corrupted node. Verified on the alarm going
 * back to OK, since the old node is gone.
 */
export const replaceNode: Remediation = {
  id: 'replace-node',
  title: 'Replace the node',
  tier: 'destructive',
  description:
    'Terminates the instance within its Auto Scaling group (capacity kept) so the group launches a fresh node from the current AMI.',
  runsOn: 'instance',
  timeoutSeconds: 1200,
  verify: [
    'node-unreachable',
    'state-corruption',
    'resource-starvation',
    'disk-pressure',
    'outdated-version',
  ],
  parameters: [],
  fixes: ['node-unreachable', 'state-corruption', 'resource-starvation', 'disk-pressure', 'outdated-version'],
};
