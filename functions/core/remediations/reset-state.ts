import { defineRemediation } from './remediation.js';

/**
 * Move containerd's root dir aside (never delete it) and start from an empty state. Highest risk
 * tier: two approvers, and the node is drained first because KillMode=process leaves containers.
 */
export const resetState = defineRemediation({
  id: 'reset-state',
  title: 'Reset containerd state',
  tier: 'destructive',
  description:
    'Drains the node, stops kubelet and containerd, moves the root dir aside with a timestamp, starts containerd, re-imports the pause image and starts kubelet.',
  action: { kind: 'script' },
  verifyBy: { kind: 'diagnose' },
  timeoutSeconds: 900,
  verify: ['state-corruption', 'containerd-down', 'socket-unreachable'],
  parameters: ['address', 'config', 'root', 'state', 'pauseImage', 'nodeName'],
  fixes: ['state-corruption'],
  needsDrain: true,
});
