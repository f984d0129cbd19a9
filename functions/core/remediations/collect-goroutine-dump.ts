import { defineRemediation } from './remediation.js';

/**
 * SIGUSR1 makes containerd write its goroutine stacks: harmless, but it writes a file, so it is
 * an action a person asks for rather than part of the read-only diagnosis. It fixes nothing.
 */
export const collectGoroutineDump = defineRemediation({
  id: 'collect-goroutine-dump',
  title: 'Collect goroutine dump',
  tier: 'safe',
  description:
    'Sends SIGUSR1 to containerd so it writes its goroutine stacks to /tmp/containerd.<pid>.stacks.log, for a wedged daemon.',
  action: { kind: 'script' },
  verifyBy: { kind: 'diagnose' },
  timeoutSeconds: 60,
  verify: [],
  parameters: ['address'],
  fixes: [],
});
