import { defineRemediation } from './remediation.js';

/** Restart containerd through systemd; recreates the socket and clears a wedged daemon. */
export const restartContainerd = defineRemediation({
  id: 'restart-containerd',
  title: 'Restart containerd',
  tier: 'safe',
  description:
    'Restarts containerd with systemctl and waits for it to answer on its socket; running containers are kept (KillMode=process).',
  action: { kind: 'script' },
  verifyBy: { kind: 'diagnose' },
  timeoutSeconds: 120,
  verify: ['containerd-down', 'socket-unreachable'],
  parameters: ['address'],
  fixes: ['containerd-down', 'socket-unreachable', 'fd-exhaustion'],
});
