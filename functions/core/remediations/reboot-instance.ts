import type { Remediation } from './remediation.js';

/** EC2 RebootInstances: no script, so it also works when SSM cannot reach the node. */
export const rebootInstance: Remediation = {
  id: 'reboot-instance',
  title: 'Reboot the instance',
  tier: 'disruptive',
  description: 'Reboots the EC2 instance (RebootInstances); every container on the node restarts.',
  runsOn: 'instance',
  timeoutSeconds: 600,
  verify: ['containerd-down', 'socket-unreachable', 'resource-starvation', 'node-unreachable', 'stuck-shim'],
  parameters: [],
  // A shim stuck in D state cannot be killed: only a reboot frees it.
  fixes: ['resource-starvation', 'node-unreachable', 'stuck-shim'],
};
