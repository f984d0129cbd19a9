import type { Evidence, RemediationId } from '../model.js';
import type { Cause } from './cause.js';
import { FD_THRESHOLD } from './fd-exhaustion.js';
import { ratio, why } from './helpers.js';

/** `unix:///run/containerd/containerd.sock` and `/run/containerd/containerd.sock` name the same socket. */
function socketPath(endpoint: string): string {
  return endpoint.replace(/^unix:\/\//, '').replace(/\/+$/, '');
}

/** kubelet cannot reach containerd over its socket although the daemon runs. */
export const socketUnreachable: Cause = {
  id: 'socket-unreachable',
  title: 'containerd socket',
  why: "kubelet talks to containerd only through the socket: when it is missing, not a socket, names another path than kubelet's endpoint, or does not answer, kubelet sees the runtime down.",
  remediations: ['restart-containerd', 'collect-goroutine-dump', 'fix-endpoint-mismatch'],
  detect(facts) {
    const s = facts.socket;
    const evidence: Evidence[] = [];
    let summary = '';
    const k = facts.kubelet;
    const endpoint = k.status === 'ok' && k.runtimeEndpoint ? k.runtimeEndpoint : null;
    const address = s.path || facts.paths.address;
    const mismatch = endpoint !== null && socketPath(endpoint) !== socketPath(address);
    if (mismatch) {
      evidence.push({ source: 'kubelet', text: `kubelet --container-runtime-endpoint=${endpoint}` });
      evidence.push({ source: 'config', text: `containerd [grpc] address = ${address}` });
      summary = `kubelet's runtime endpoint ${endpoint} is not containerd's socket ${address}`;
    }
    if (s.status === 'unknown' && !mismatch) return { state: 'unknown', reason: why(s) };
    // With no daemon, a missing socket is a symptom of containerd-down, not a cause of its own.
    const daemonRuns = facts.containerd.pid !== null;
    if (s.status === 'ok' && daemonRuns) {
      let broken = true;
      if (!s.exists) {
        evidence.push({
          source: 'socket',
          text: `${s.path} does not exist while containerd (pid ${facts.containerd.pid}) runs`,
        });
        summary ||= `containerd's socket ${s.path} is missing`;
      } else if (!s.isSocket) {
        evidence.push({
          source: 'socket',
          text: `${s.path} exists but is not a socket (mode ${s.mode ?? '?'})`,
        });
        summary ||= `${s.path} is not a socket`;
      } else if (s.call && !s.call.ok) {
        const timedOut = s.call.exitCode === 124;
        evidence.push({
          source: 'socket',
          text: timedOut
            ? `\`ctr version\` on ${s.path} timed out after ${s.call.elapsedMs} ms`
            : `\`ctr version\` on ${s.path} failed (exit ${s.call.exitCode})${s.call.error ? `: ${s.call.error}` : ''}`,
        });
        if (s.mode || s.owner) {
          evidence.push({ source: 'socket', text: `socket mode ${s.mode ?? '?'} owner ${s.owner ?? '?'}` });
        }
        summary ||= timedOut
          ? 'containerd does not answer on its socket (the call timed out: the daemon looks wedged)'
          : 'containerd does not answer on its socket';
      } else if (s.call === null && !mismatch) {
        return { state: 'unknown', reason: `no call was made on ${s.path}` };
      } else {
        broken = false;
      }
      if (!broken && !mismatch) return { state: 'not-matched' };
    } else if (!mismatch) {
      return { state: 'not-matched' };
    }
    // Here the socket is broken unless there is a mismatch. Best first: a person fixes a mismatch
    // (restarting would recreate the same wrong path); otherwise restart recreates the socket, and
    // a dump (which needs a socket to call) helps explain a wedged daemon.
    const remediations: readonly RemediationId[] = mismatch
      ? ['fix-endpoint-mismatch']
      : s.exists && s.isSocket
        ? ['restart-containerd', 'collect-goroutine-dump']
        : ['restart-containerd'];
    // At its fd limit the daemon cannot accept connections: that is the root cause, so this
    // symptom ranks below fd-exhaustion and its fixes (raise the limit before a restart).
    const fdBound =
      facts.fds.status === 'ok' && (ratio(facts.fds.open, facts.fds.limitSoft) ?? 0) >= FD_THRESHOLD;
    if (fdBound && !mismatch) summary += ' (containerd is at its open-file limit: see fd-exhaustion)';
    return {
      state: 'matched',
      finding: {
        cause: 'socket-unreachable',
        severity: fdBound && !mismatch ? 'warning' : 'critical',
        confidence: 'high',
        summary,
        evidence,
        remediations,
      },
    };
  },
};
