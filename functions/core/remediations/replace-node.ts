import { defineRemediation } from './remediation.js';

/**
 * Terminate the instance inside its Auto Scaling group so the group brings a fresh node from the
 * current AMI: the safe default for an outdated or corrupted node. Verified by the old instance
 * going away, since there is nothing left to diagnose; the fresh node's own alarm reports on it.
 */
export const replaceNode = defineRemediation({
  id: 'replace-node',
  title: 'Replace the node',
  tier: 'destructive',
  description:
    'Terminates the instance within its Auto Scaling group (capacity kept) so the group launches a fresh node from the current AMI.',
  action: { kind: 'instance', call: 'replace' },
  verifyBy: { kind: 'instance-gone' },
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
});
