import type { Evidence } from '../model.js';
import { judgeVersion } from '../version.js';
import type { Cause } from './cause.js';
import { why } from './helpers.js';

/** containerd is below the policy's minimum or on its known-bad list. */
export const outdatedVersion: Cause = {
  id: 'outdated-version',
  title: 'containerd version',
  why: 'Old or known-bad containerd releases carry fixed bugs (leaks, deadlocks, CVEs) that wedge the daemon over time; past end of life nothing will be fixed.',
  // Replacing the node brings the AMI's current, pinned containerd; an in-place upgrade goes
  // through the package manager only, never a tarball over /usr/local.
  remediations: ['replace-node', 'upgrade-containerd'],
  detect(facts, ctx) {
    const c = facts.containerd;
    const raw = c.serverVersion ?? c.binaryVersion;
    if (raw === null) {
      return {
        state: 'unknown',
        reason:
          c.status === 'unknown' ? why(c) : 'neither `containerd --version` nor `ctr version` gave a version',
      };
    }
    const verdict = judgeVersion(raw, ctx.versionPolicy);
    if (verdict.state === 'unparseable')
      return { state: 'unknown', reason: `cannot read version ${JSON.stringify(raw)}` };
    if (verdict.state === 'ok') return { state: 'not-matched' };
    const source = c.serverVersion !== null ? 'containerd.server' : 'containerd.binary';
    const evidence: Evidence[] = [{ source, text: `containerd ${raw}` }];
    for (const reason of verdict.reasons) evidence.push({ source: 'version-policy', text: reason });
    return {
      state: 'matched',
      finding: {
        cause: 'outdated-version',
        severity: 'warning',
        confidence: 'high',
        summary: `containerd ${raw} is outdated: ${verdict.reasons[0]}`,
        evidence,
        remediations: outdatedVersion.remediations,
      },
    };
  },
};
