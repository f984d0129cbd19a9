import type { Remediation } from './remediation.js';

/** Restart kubelet when it is down while containerd answers. */
export const restartKubelet: Remediation = {
  id: 'restart-kubelet',
  title: 'Restart kubelet',
  tier: 'safe',
  description: 'Restarts kubelet with systemctl and waits for its healthz endpoint to answer ok.',
  runsOn: 'node',
  timeoutSeconds: 120,
  verify: ['kubelet-down'],
  parameters: [],
  fixes: ['kubelet-down'],
};
