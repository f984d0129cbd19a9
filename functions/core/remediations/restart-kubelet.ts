import { defineRemediation } from './remediation.js';

/** Restart kubelet when it is down while containerd answers. */
export const restartKubelet = defineRemediation({
  id: 'restart-kubelet',
  title: 'Restart kubelet',
  tier: 'safe',
  description: 'Restarts kubelet with systemctl and waits for its healthz endpoint to answer ok.',
  action: { kind: 'script' },
  verifyBy: { kind: 'diagnose' },
  timeoutSeconds: 120,
  verify: ['kubelet-down'],
  parameters: [],
  fixes: ['kubelet-down'],
});
