import { defineRemediation } from './remediation.js';

/**
 * Raise containerd's LimitNOFILE with a systemd drop-in. Never lowers it (the source runbook's
 * 65536 is below both `infinity` and systemd's 524288 hard default).
 */
export const raiseNofile = defineRemediation({
  id: 'raise-nofile',
  title: 'Raise containerd open-file limit',
  tier: 'disruptive',
  description:
    'Writes a containerd systemd drop-in with a higher LimitNOFILE (never lower than now), keeps the previous one for rollback, and restarts containerd.',
  action: { kind: 'script' },
  verifyBy: { kind: 'diagnose' },
  timeoutSeconds: 180,
  verify: ['fd-exhaustion', 'containerd-down'],
  rollback: 'script',
  parameters: ['address', 'systemdDir', 'nofile', 'mode'],
  fixes: ['fd-exhaustion'],
});
