import type { Cause } from './cause.js';

/**
 * The node cannot be reached through SSM. It is never derived from facts (a node that printed
 * facts was reachable); `analyzeUnreachable` builds its finding from EC2 evidence instead.
 */
export const nodeUnreachable: Cause = {
  id: 'node-unreachable',
  title: 'node reachability',
  why: 'When the SSM agent is offline or the instance fails its status checks, nothing on the node can be diagnosed, and kubelet is likely not posting status either.',
  remediations: ['reboot-instance', 'replace-node'],
  detect: () => ({ state: 'not-matched' }),
};
