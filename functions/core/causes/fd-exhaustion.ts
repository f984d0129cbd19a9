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
        const [open, soft, share] = [f.open!, f.limitSoft!, pct(f.open!, f.limitSoft!)];
        const hard = f.limitHard ?? 'unlimited';
        // The soft limit refuses new descriptors and closes none: more open than it allows is
        // what a limit lowered under a running daemon (prlimit) leaves, a true reading.
        evidence.push({
          source: 'fds',
          text:
            open > soft
              ? `${open} open files for containerd, ${open - soft} over its soft limit of ${soft} (${share}; hard ${hard}): descriptors opened before the limit was lowered stay open`
              : `${open} of ${soft} open files (${share}) for containerd (soft limit; hard ${hard})`,
        });
        summary =
          open > soft
            ? `containerd is over its open-file limit (${open} open, soft limit ${soft})`
            : `containerd is at ${share} of its open-file limit (${open} of ${soft})`;
        critical = true;
      }
    }
    // file-nr is system-wide: read even when the daemon is not running (fds `n/a`).
    const sys = ratio(f.systemAllocated, f.systemMax);
    if (sys !== null && sys >= FD_THRESHOLD) {
      const [allocated, max, share] = [
        f.systemAllocated!,
        f.systemMax!,
        pct(f.systemAllocated!, f.systemMax!),
      ];
      // fs.file-max stops unprivileged allocations only: CAP_SYS_ADMIN may go past it.
      evidence.push({
        source: 'fds.system',
        text:
          allocated > max
            ? `${allocated} file handles allocated system-wide, ${allocated - max} over fs.file-max of ${max} (${share}, /proc/sys/fs/file-nr): privileged processes may allocate past it`
            : `${allocated} of ${max} file handles allocated system-wide (${share}, /proc/sys/fs/file-nr)`,
      });
      summary ||=
        allocated > max
          ? `the system is over fs.file-max (${allocated} file handles allocated, max ${max})`
          : `the system is at ${share} of fs.file-max`;
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
