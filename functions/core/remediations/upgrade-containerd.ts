import { defineRemediation } from './remediation.js';

/**
 * In-place upgrade through the package manager to a version the operator pins. Never untars an
 * upstream binary over an RPM-pinned install (the source runbook's mistake).
 */
export const upgradeContainerd = defineRemediation({
  id: 'upgrade-containerd',
  title: 'Upgrade containerd (pinned package)',
  tier: 'disruptive',
  description:
    'Upgrades containerd through dnf/yum or apt to the package version the operator pins (versionlock/hold updated), then restarts it.',
  action: { kind: 'script' },
  verifyBy: { kind: 'diagnose' },
  timeoutSeconds: 600,
  verify: ['outdated-version', 'containerd-down'],
  parameters: ['address', 'packageVersion'],
  fixes: ['outdated-version'],
});
