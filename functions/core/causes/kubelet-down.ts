import type { LogMatch } from '../facts.js';
import type { Evidence } from '../model.js';
import type { Cause } from './cause.js';
import { containerdAnswers, logMatch, why } from './helpers.js';

/** systemd states in which kubelet is not running. */
const DOWN_STATES = new Set(['inactive', 'failed', 'deactivating']);

/** Said whenever kubelet logs mention its read-only port: a note, never a fix. */
const READ_ONLY_PORT_NOTE =
  'kubelet logs mention 10255, the read-only port that EKS AMIs turn off (readOnlyPort: 0): a client still calling it is misconfigured. This is not a containerd fault, and reopening the port is not a fix';

/** kubelet's read-only port in a log line: `:10255` not followed by a digit (never `pid=110255`). */
const READ_ONLY_PORT = /:10255(?!\d)/;

/**
 * Whether a `read-only-port` match is kubelet's port. Scripts before 1.1 matched the bare digits,
 * so their samples are checked again; a match without samples comes from the script's own regex.
 */
function mentionsReadOnlyPort(match: LogMatch | undefined): boolean {
  if (!match) return false;
  return match.samples.length === 0 || match.samples.some((line) => READ_ONLY_PORT.test(line));
}

/** kubelet itself is down while containerd is fine. */
export const kubeletDown: Cause = {
  id: 'kubelet-down',
  title: 'kubelet',
  why: 'When kubelet is dead the node stops posting status (Ready=Unknown, `Kubelet stopped posting node status`) even though containerd is healthy.',
  remediations: ['restart-kubelet'],
  detect(facts) {
    const k = facts.kubelet;
    const notes: string[] = [];
    if (
      mentionsReadOnlyPort(logMatch(facts.logs.kubelet, 'read-only-port')) ||
      mentionsReadOnlyPort(logMatch(facts.logs.containerd, 'read-only-port'))
    ) {
      notes.push(READ_ONLY_PORT_NOTE);
    }
    if (k.status === 'n/a') {
      notes.push(`kubelet checks not applicable: ${why(k)}`);
      return { state: 'not-matched', notes };
    }
    if (k.status === 'unknown') return { state: 'unknown', reason: why(k), notes };
    const evidence: Evidence[] = [];
    const active = k.activeState ?? null;
    if (active !== null && DOWN_STATES.has(active))
      evidence.push({ source: 'kubelet', text: `kubelet ActiveState=${active}` });
    const healthz = k.healthz ?? null;
    if (healthz !== null && healthz.trim() !== 'ok') {
      evidence.push({
        source: 'kubelet',
        text: `127.0.0.1:10248/healthz answered: ${healthz.slice(0, 200)}`,
      });
    } else if (healthz === null && active === 'active') {
      evidence.push({ source: 'kubelet', text: '127.0.0.1:10248/healthz did not answer' });
    }
    if (evidence.length === 0) return { state: 'not-matched', notes };
    if (!containerdAnswers(facts)) {
      // kubelet failing its health check is expected while the runtime is down; fix containerd first.
      notes.push(
        `kubelet is unhealthy too (${evidence.map((e) => e.text).join('; ')}): check it again once containerd answers`,
      );
      return { state: 'not-matched', notes };
    }
    return {
      state: 'matched',
      finding: {
        cause: 'kubelet-down',
        severity: 'critical',
        confidence: active !== null && DOWN_STATES.has(active) ? 'high' : 'medium',
        summary:
          active !== null && DOWN_STATES.has(active)
            ? `kubelet is ${active} while containerd answers`
            : 'kubelet fails its health check while containerd answers',
        evidence,
        remediations: kubeletDown.remediations,
      },
      notes,
    };
  },
};
