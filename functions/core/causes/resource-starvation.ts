import type { Evidence, Severity } from '../model.js';
import type { Cause } from './cause.js';
import { logEvidence, logMatch, why } from './helpers.js';

/** Thresholds, as data: where a figure starts to explain a runtime that stops answering. */
export const STARVATION_THRESHOLDS = {
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
  remediations: ['cordon-drain', 'reboot-instance', 'replace-node'],
  detect(facts) {
    const r = facts.resources;
    const t = STARVATION_THRESHOLDS;
    const evidence: Evidence[] = [];
    let severity: Severity = 'warning';
    let summary = '';
    const oom = logMatch(facts.logs.kernel, 'oom-kill');
    if (oom) {
      evidence.push(...logEvidence('logs.kernel', oom));
      summary = 'the OOM killer killed containerd or its shims';
      severity = 'critical';
    }
    if (r.status === 'ok') {
      if (r.memTotalKb && r.memAvailableKb !== null) {
        const availPct = (r.memAvailableKb / r.memTotalKb) * 100;
        if (availPct < t.memAvailablePct) {
          evidence.push({
            source: 'resources',
            text: `MemAvailable ${r.memAvailableKb} kB of ${r.memTotalKb} kB (${availPct.toFixed(1)}%, threshold ${t.memAvailablePct}%)`,
          });
          summary ||= `memory is nearly exhausted (${availPct.toFixed(1)}% available)`;
          severity = 'critical';
        }
      }
      if (r.cores && r.load5 !== null) {
        const perCore = r.load5 / r.cores;
        if (perCore >= t.loadPerCore) {
          evidence.push({
            source: 'resources',
            text: `load average ${r.load5} (5 min) on ${r.cores} cores (${perCore.toFixed(1)} per core, threshold ${t.loadPerCore})`,
          });
          summary ||= `CPU is overloaded (load ${r.load5} on ${r.cores} cores)`;
        }
      }
      for (const kind of ['cpu', 'memory', 'io'] as const) {
        const p = r.psi[kind];
        if (!p) continue;
        if (p.some60 !== null && p.some60 >= t.psiSome60) {
          evidence.push({
            source: `psi.${kind}`,
            text: `${kind} pressure some avg60=${p.some60}% (threshold ${t.psiSome60}%)`,
          });
          summary ||= `${kind} pressure is high (PSI some avg60 ${p.some60}%)`;
        }
        if (kind !== 'cpu' && typeof p.full60 === 'number' && p.full60 >= t.psiFull60) {
          evidence.push({
            source: `psi.${kind}`,
            text: `${kind} pressure full avg60=${p.full60}% (threshold ${t.psiFull60}%)`,
          });
          summary ||= `${kind} pressure stalls every task (PSI full avg60 ${p.full60}%)`;
          severity = 'critical';
        }
      }
      if (r.stealPct !== null && r.stealPct >= t.stealPct) {
        evidence.push({ source: 'resources', text: `CPU steal ${r.stealPct}% (threshold ${t.stealPct}%)` });
        summary ||= `the hypervisor steals ${r.stealPct}% of the CPU`;
      }
    }
    if (evidence.length === 0) {
      if (r.status === 'unknown') return { state: 'unknown', reason: why(r) };
      return { state: 'not-matched' };
    }
    const signals = new Set(evidence.map((e) => e.source)).size;
    if (signals >= 3) severity = 'critical';
    return {
      state: 'matched',
      finding: {
        cause: 'resource-starvation',
        severity,
        confidence: r.status === 'ok' ? 'high' : 'medium',
        summary,
        evidence,
        // No in-place cure: stop new pods, then reboot, then replace.
        remediations: ['cordon-drain', 'reboot-instance', 'replace-node'],
      },
    };
  },
};
