import { defineRemediation } from './remediation.js';

/** EC2 RebootInstances: no script, so it also works when SSM cannot reach the node. */
export const rebootInstance = defineRemediation({
  id: 'reboot-instance',
  title: 'Reboot the instance',
  tier: 'disruptive',
  description: 'Reboots the EC2 instance (RebootInstances); every container on the node restarts.',
  action: { kind: 'instance', call: 'reboot' },
  // The agent is offline while the node boots: SSM holds the verification until it is back,
  // and the kubelet re-registers before the node's readiness can turn OK.
  verifyBy: { kind: 'diagnose', timeoutSeconds: 600, readyWithinSeconds: 900 },
  timeoutSeconds: 600,
  verify: ['containerd-down', 'socket-unreachable', 'resource-starvation', 'node-unreachable', 'stuck-shim'],
  parameters: [],
  // A shim stuck in D state cannot be killed: only a reboot frees it.
  fixes: ['resource-starvation', 'node-unreachable', 'stuck-shim'],
});
