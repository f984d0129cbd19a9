import type { Evidence, RemediationId } from '../model.js';
import type { Cause } from './cause.js';
import { logMatch, why } from './helpers.js';

const STATE_WORDS: Record<string, string> = {
  T: 'stopped (T)',
  t: 'stopped by a tracer (t)',
  D: 'in uninterruptible sleep (D)',
};

/**
 * A shim or runc is stopped or stuck in the kernel, or the daemon lists tasks whose shim no longer
 * answers. The daemon itself answers, so this is easy to miss, but CRI status calls for those
 * containers hang and PLEG turns unhealthy.
 */
export const stuckShim: Cause = {
  id: 'stuck-shim',
  title: 'containerd shims and runc',
  why: "A shim that does not answer blocks the CRI calls for its containers (status, stop, exec), so kubelet's PLEG relist stalls and the node can turn NotReady while containerd itself answers.",
  // A D-state process cannot be killed: only a reboot frees it. A stopped one a person resumes.
  remediations: ['reboot-instance'],
  detect(facts) {
    const pr = facts.processes;
    if (!pr) return { state: 'not-matched' };
    if (pr.status !== 'ok') return { state: 'unknown', reason: why(pr) };
    const evidence: Evidence[] = pr.stuck.map((s) => ({
      source: 'processes',
      text: `pid ${s.pid} ${s.comm} ${STATE_WORDS[s.state] ?? `state ${s.state}`}${s.cmd ? `: ${s.cmd.trim()}` : ''}`,
    }));
    for (const t of pr.tasks) {
      for (const id of t.unknown) {
        evidence.push({
          source: 'processes',
          text: `task ${id} in namespace ${t.namespace}: the daemon lists it with STATUS UNKNOWN (its shim does not answer)`,
        });
      }
      if (!t.call.ok && t.call.exitCode === 124) {
        evidence.push({
          source: 'processes',
          text: `\`ctr -n ${t.namespace} tasks ls\` timed out after ${t.call.elapsedMs} ms while \`ctr version\` answered`,
        });
      }
    }
    if (evidence.length === 0) return { state: 'not-matched' };
    const dState = pr.stuck.filter((s) => s.state === 'D');
    const stopped = pr.stuck.filter((s) => s.state === 'T' || s.state === 't');
    const pleg = logMatch(facts.logs.kubelet, 'pleg-unhealthy');
    const remediations: RemediationId[] = dState.length > 0 ? ['reboot-instance'] : [];
    const notes: string[] = [];
    if (stopped.length > 0) {
      notes.push(
        `stopped shim/runc processes resume with \`kill -CONT ${stopped.map((s) => s.pid).join(' ')}\` (a person first checks who stopped them: a debugger or a hung \`ctr\` attach)`,
      );
    }
    if (dState.length > 0) {
      notes.push(
        `a process in D state waits on the kernel (often storage) and cannot be killed: a reboot frees it; check the kernel log for hung tasks first`,
      );
    }
    return {
      state: 'matched',
      finding: {
        cause: 'stuck-shim',
        severity:
          dState.length > 0 || pleg || pr.tasks.some((t) => t.unknown.length > 0) ? 'critical' : 'warning',
        confidence: pr.stuck.length > 0 ? 'high' : 'medium',
        summary:
          pr.stuck.length > 0
            ? `${pr.stuck.length} containerd shim/runc process(es) ${dState.length > 0 ? 'stuck in D state' : 'stopped'} while the daemon answers`
            : 'containerd lists tasks whose shim does not answer',
        evidence,
        remediations,
      },
      notes,
    };
  },
};
