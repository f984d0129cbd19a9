import type { Evidence, Severity } from '../model.js';
import type { Cause } from './cause.js';
import { logEvidence, logMatch, why } from './helpers.js';

/** Thresholds, as data: where a figure starts to explain a runtime that stops answering. */
const STARVATION_THRESHOLDS = {
  /** PSI `some` avg60 (%) on cpu, memory or io. */
  psiSome60: 50,
  /** PSI `full` avg60 (%) on memory or io: every task stalled. */
  psiFull60: 20,
  /** 5-minute load average per core. */
  loadPerCore: 4,
  /** MemAvailable under this share of MemTotal (%). */
  memAvailablePct: 5,
  /** CPU steal (%). */
  stealPct: 20,
} as const;

/** The node is short of CPU or memory (or the hypervisor steals it). */
export const resourceStarvation: Cause = {
  id: 'resource-starvation',
  title: 'CPU and memory pressure',
  why: 'A starved node cannot schedule containerd or its shims (or the OOM killer takes them), so CRI calls time out (`DeadlineExceeded`) and PLEG goes unhealthy.',
  // No in-place cure: stop new pods, then reboot, then replace.
  remediations: ['cordon-drain', 'reboot-instance', 'replace-node'],
  detect(facts) {
    const r = facts.resources;
    const t = STARVATION_THRESHOLDS;
    // Hard signals starve containerd on their own; soft ones (busy CPU, some memory/io stall)
    // are routine on a busy node, so they count only when the runtime is seen timing out.
    const hard: Evidence[] = [];
    const soft: Evidence[] = [];
    const summaries: string[] = [];
    const oom = logMatch(facts.logs.kernel, 'oom-kill');
    if (oom) {
      hard.push(...logEvidence('logs.kernel', oom));
      summaries.push('the OOM killer killed containerd or its shims');
    }
    if (r.status === 'ok') {
      if (r.memTotalKb && r.memAvailableKb !== null) {
        const availPct = (r.memAvailableKb / r.memTotalKb) * 100;
        if (availPct < t.memAvailablePct) {
          hard.push({
            source: 'resources',
            text: `MemAvailable ${r.memAvailableKb} kB of ${r.memTotalKb} kB (${availPct.toFixed(1)}%, threshold ${t.memAvailablePct}%)`,
          });
          summaries.push(`memory is nearly exhausted (${availPct.toFixed(1)}% available)`);
        }
      }
      for (const kind of ['memory', 'io'] as const) {
        const p = r.psi[kind];
        if (p && typeof p.full60 === 'number' && p.full60 >= t.psiFull60) {
          hard.push({
            source: `psi.${kind}`,
            text: `${kind} pressure full avg60=${p.full60}% (threshold ${t.psiFull60}%)`,
          });
          summaries.push(`${kind} pressure stalls every task (PSI full avg60 ${p.full60}%)`);
        }
      }
      if (r.cores && r.load5 !== null && r.load5 / r.cores >= t.loadPerCore) {
        soft.push({
          source: 'resources',
          text: `load average ${r.load5} (5 min) on ${r.cores} cores (${(r.load5 / r.cores).toFixed(1)} per core, threshold ${t.loadPerCore})`,
        });
        summaries.push(`CPU is overloaded (load ${r.load5} on ${r.cores} cores)`);
      }
      for (const kind of ['cpu', 'memory', 'io'] as const) {
        const p = r.psi[kind];
        if (p && p.some60 !== null && p.some60 >= t.psiSome60) {
          soft.push({
            source: `psi.${kind}`,
            text: `${kind} pressure some avg60=${p.some60}% (threshold ${t.psiSome60}%)`,
          });
          summaries.push(`${kind} pressure is high (PSI some avg60 ${p.some60}%)`);
        }
      }
      if (r.stealPct !== null && r.stealPct >= t.stealPct) {
        soft.push({ source: 'resources', text: `CPU steal ${r.stealPct}% (threshold ${t.stealPct}%)` });
        summaries.push(`the hypervisor steals ${r.stealPct}% of the CPU`);
      }
    }
    const slow: Evidence[] = [];
    for (const sig of ['deadline-exceeded', 'pleg-unhealthy'] as const) {
      const logged = logMatch(facts.logs.kubelet, sig);
      if (logged) slow.push(...logEvidence('logs.kubelet', logged));
    }
    if (facts.socket.call && facts.socket.call.exitCode === 124) {
      slow.push({
        source: 'socket',
        text: `\`ctr version\` timed out after ${facts.socket.call.elapsedMs} ms`,
      });
    }
    if (hard.length === 0 && (soft.length === 0 || slow.length === 0)) {
      if (r.status === 'unknown' && !oom) return { state: 'unknown', reason: why(r) };
      const notes =
        soft.length > 0
          ? [
              `${summaries.join('; ')}, but nothing shows containerd timing out, so it is not counted as a cause`,
            ]
          : [];
      return { state: 'not-matched', notes };
    }
    const evidence = [...hard, ...soft, ...slow];
    const severity: Severity = hard.length > 0 ? 'critical' : 'warning';
    return {
      state: 'matched',
      finding: {
        cause: 'resource-starvation',
        severity,
        confidence: r.status === 'ok' ? 'high' : 'medium',
        summary: summaries[0]!,
        evidence,
        remediations: resourceStarvation.remediations,
      },
    };
  },
};
