import type { Evidence } from '../model.js';
import type { Cause } from './cause.js';
import { why } from './helpers.js';
import { blindView } from './host-not-inspectable.js';

/** Restarts (systemd NRestarts) from which a dead daemon counts as a restart loop. */
const LOOP_RESTARTS = 3;

/** containerd is not running, or systemd keeps restarting it. */
export const containerdDown: Cause = {
  id: 'containerd-down',
  title: 'containerd process',
  why: 'Without a containerd process kubelet gets `connection refused` on the socket, reports the container runtime down, and the node turns NotReady.',
  remediations: ['restart-containerd'],
  detect(facts) {
    const c = facts.containerd;
    if (c.status === 'unknown') return { state: 'unknown', reason: why(c) };
    // From a container without the host's view (Bottlerocket's control container) no process and
    // no socket prove nothing: host-not-inspectable says so, and restarting is never offered.
    if (blindView(facts).length > 0) {
      return {
        state: 'unknown',
        reason: "this shell cannot see the host's containerd (see host-not-inspectable)",
      };
    }
    // A running process that does not answer is socket-unreachable / fd-exhaustion, not "down":
    // only the absence of the process counts here.
    if (c.status === 'n/a' || c.pid !== null) return { state: 'not-matched' };
    const svc = c.service;
    const evidence: Evidence[] = [
      {
        source: 'containerd',
        text:
          c.pidSource === 'systemd'
            ? 'no containerd process (systemd MainPID is 0)'
            : 'no containerd process (`pgrep -x containerd` found none)',
      },
    ];
    if (svc.status === 'ok' && svc.activeState) {
      evidence.push({
        source: 'containerd.service',
        text: `ActiveState=${svc.activeState}${svc.subState ? ` SubState=${svc.subState}` : ''}`,
      });
    }
    const restarts = svc.status === 'ok' && typeof svc.nRestarts === 'number' ? svc.nRestarts : 0;
    const looping = restarts >= LOOP_RESTARTS || (svc.status === 'ok' && svc.subState === 'auto-restart');
    if (restarts > 0) {
      evidence.push({
        source: 'containerd.service',
        text: looping ? `NRestarts=${restarts}: systemd keeps restarting it` : `NRestarts=${restarts}`,
      });
    }
    const configBroken = facts.config.status === 'ok' && facts.config.parses === false;
    return {
      state: 'matched',
      finding: {
        cause: 'containerd-down',
        severity: 'critical',
        // With systemd unreadable we only have pgrep's word for it.
        confidence: svc.status === 'unknown' ? 'medium' : 'high',
        summary: looping
          ? 'containerd is not running: systemd keeps restarting it'
          : 'containerd is not running',
        evidence,
        // A restart cannot succeed while the config does not parse: a person fixes it first
        // (config-invalid carries that remediation).
        remediations: configBroken ? [] : containerdDown.remediations,
      },
      notes: configBroken
        ? [
            'containerd cannot start until its config parses, so a restart is not offered (see config-invalid)',
          ]
        : [],
    };
  },
};
