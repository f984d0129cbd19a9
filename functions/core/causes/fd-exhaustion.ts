import type { Evidence } from '../model.js';
import type { Cause } from './cause.js';
import { logEvidence, logMatch, pct, ratio, why } from './helpers.js';

/** Share of the limit at which fd use counts as exhausted (runbook: "90% or more"). */
export const FD_THRESHOLD = 0.9;

/** containerd (or the whole system) is out of file descriptors. */
export const fdExhaustion: Cause = {
  id: 'fd-exhaustion',
  title: 'containerd file descriptors',
  why: 'At its open-file limit containerd cannot accept connections or open files, so its socket calls fail or hang (`too many open files`) and kubelet sees the runtime down.',
  // Never "lower the limit" (the source runbook's 65536): raise it, then restart.
  remediations: ['raise-nofile', 'restart-containerd'],
  detect(facts) {
    const f = facts.fds;
    const evidence: Evidence[] = [];
    let summary = '';
    let critical = false;
    if (f.status === 'ok') {
      const proc = ratio(f.open, f.limitSoft);
      if (proc !== null && proc >= FD_THRESHOLD) {
        evidence.push({
          source: 'fds',
          text: `${f.open} of ${f.limitSoft} open files (${pct(f.open!, f.limitSoft!)}) for containerd (soft limit; hard ${f.limitHard ?? 'unlimited'})`,
        });
        summary = `containerd is at ${pct(f.open!, f.limitSoft!)} of its open-file limit (${f.open} of ${f.limitSoft})`;
        critical = true;
      }
    }
    // file-nr is system-wide: read even when the daemon is not running (fds `n/a`).
    const sys = ratio(f.systemAllocated, f.systemMax);
    if (sys !== null && sys >= FD_THRESHOLD) {
      evidence.push({
        source: 'fds.system',
        text: `${f.systemAllocated} of ${f.systemMax} file handles allocated system-wide (${pct(f.systemAllocated!, f.systemMax!)}, /proc/sys/fs/file-nr)`,
      });
      summary ||= `the system is at ${pct(f.systemAllocated!, f.systemMax!)} of fs.file-max`;
      critical = true;
    }
    const logged = logMatch(facts.logs.containerd, 'too-many-open-files');
    if (logged) {
      evidence.push(...logEvidence('logs.containerd', logged));
      summary ||= 'containerd logged `too many open files`';
    }
    if (evidence.length === 0) {
      if (f.status === 'unknown') return { state: 'unknown', reason: why(f) };
      return { state: 'not-matched' };
    }
    return {
      state: 'matched',
      finding: {
        cause: 'fd-exhaustion',
        severity: critical || logged ? 'critical' : 'warning',
        // A log line alone may predate a restart; figures against the limit are direct.
        confidence: critical ? 'high' : 'medium',
        summary,
        evidence,
        remediations: fdExhaustion.remediations,
      },
    };
  },
};
