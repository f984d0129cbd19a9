import type { MountFacts } from '../facts.js';
import type { Evidence, Severity } from '../model.js';
import type { Cause } from './cause.js';
import { logEvidence, logMatch, why } from './helpers.js';

/** Use (blocks or inodes, %) at which a mount counts as full; at `critical` it is critical. */
const DISK_THRESHOLDS = { warning: 90, critical: 95 } as const;

function mountEvidence(label: string, m: MountFacts): { evidence: Evidence[]; critical: boolean } {
  const evidence: Evidence[] = [];
  let critical = false;
  if (!m.exists) return { evidence, critical };
  if (m.usePct !== null && m.usePct >= DISK_THRESHOLDS.warning) {
    evidence.push({
      source: `disk.${label}`,
      text: `${m.path} ${m.usePct}% used (threshold ${DISK_THRESHOLDS.warning}%)${m.availKb !== null ? `, ${m.availKb} kB free` : ''}`,
    });
    critical ||= m.usePct >= DISK_THRESHOLDS.critical;
  }
  if (m.inodesUsePct !== null && m.inodesUsePct >= DISK_THRESHOLDS.warning) {
    evidence.push({
      source: `disk.${label}`,
      text: `${m.path} ${m.inodesUsePct}% of inodes used (threshold ${DISK_THRESHOLDS.warning}%)`,
    });
    critical ||= m.inodesUsePct >= DISK_THRESHOLDS.critical;
  }
  if (m.readOnly === true) {
    evidence.push({ source: `disk.${label}`, text: `${m.path} is mounted read-only` });
    critical = true;
  }
  return { evidence, critical };
}

/** containerd's root or state dir is full, out of inodes, or read-only. */
export const diskPressure: Cause = {
  id: 'disk-pressure',
  title: 'disk space under containerd',
  why: 'With /var/lib/containerd or /run full or read-only, containerd cannot write snapshots, metadata or task state (`no space left on device`), so sandboxes fail and kubelet reports the runtime not ready.',
  remediations: ['cordon-drain', 'replace-node'],
  detect(facts) {
    const d = facts.disk;
    const evidence: Evidence[] = [];
    let critical = false;
    if (d.status === 'ok') {
      for (const [label, m] of [
        ['root', d.root],
        ['state', d.state],
      ] as const) {
        const r = mountEvidence(label, m);
        evidence.push(...r.evidence);
        critical ||= r.critical;
      }
    }
    for (const sig of ['no-space', 'read-only-fs'] as const) {
      const logged = logMatch(facts.logs.containerd, sig);
      if (logged) {
        evidence.push(...logEvidence('logs.containerd', logged));
        critical = true;
      }
    }
    if (evidence.length === 0) {
      if (d.status === 'unknown') return { state: 'unknown', reason: why(d) };
      return { state: 'not-matched' };
    }
    const severity: Severity = critical ? 'critical' : 'warning';
    const first = evidence[0]!.text;
    return {
      state: 'matched',
      finding: {
        cause: 'disk-pressure',
        severity,
        confidence: d.status === 'ok' ? 'high' : 'medium',
        summary: `disk under containerd is full or read-only: ${first}`,
        evidence,
        remediations: diskPressure.remediations,
      },
    };
  },
};
