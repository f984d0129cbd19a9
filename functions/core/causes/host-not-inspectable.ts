import type { Facts } from '../facts.js';
import type { Evidence } from '../model.js';
import type { Cause } from './cause.js';
import { why } from './helpers.js';

/** How a person reaches containerd on a Bottlerocket node (SSM lands in the control container). */
const BOTTLEROCKET_ROUTE =
  'Bottlerocket: SSM runs in the control container, which cannot see the host. A person enables the admin container (`apiclient set host-containers.admin.enabled=true`, or `enable-admin-container` in the control container), enters it (`apiclient exec admin bash`), and gets a root shell in the host namespaces with `sudo sheltie` (in one step: `apiclient exec admin sheltie`); there `systemctl status containerd`, `journalctl -u containerd` and `ctr -n k8s.io` work';

/** The same for any other container without the host's view. */
const GENERIC_ROUTE =
  "this shell runs in a container (own PID and mount namespaces) without the host's systemd, containerd socket, config or journal: a person inspects containerd from a root shell on the host itself (for example `nsenter -t 1 -a` from a privileged container, or SSH to the node)";

/**
 * Why this shell cannot inspect the host, as evidence lines; empty when it can. Bottlerocket is
 * recognised by its markers, any other view by seeing no systemd (not PID 1, `systemctl` does not
 * answer); either way only when no containerd process or socket is in sight (a bare daemon seen
 * without systemd is inspectable). Needs a script new enough to report `host`.
 */
export function blindView(facts: Facts): Evidence[] {
  const host = facts.host;
  if (host?.status !== 'ok') return [];
  const bottlerocket = host.bottlerocket.length > 0;
  const noContainerd = facts.containerd.pid === null && !facts.socket.exists;
  // Every EKS node runs systemd as PID 1: a shell that sees none is not looking at the host.
  const noHostInit = !facts.systemd && !host.systemctl && host.pid1 !== 'systemd';
  // Bottlerocket seen from inside the host's namespaces (sheltie) does see containerd: inspectable.
  if (!noContainerd || !(bottlerocket || noHostInit)) return [];
  const evidence: Evidence[] = [];
  if (bottlerocket) {
    evidence.push({ source: 'host', text: `Bottlerocket markers: ${host.bottlerocket.join(', ')}` });
  }
  evidence.push(
    {
      source: 'host',
      text: `PID 1 is ${host.pid1 ?? 'unreadable'}${host.systemctl ? '' : ' and `systemctl` does not answer'}${host.os ? ` (${host.os})` : ''}`,
    },
    {
      source: 'host',
      text: `no socket at ${facts.socket.path}, ${facts.config.exists ? 'a' : 'no'} config at ${facts.config.path}, ${facts.containerd.pid === null ? 'no containerd process in sight' : `containerd pid ${facts.containerd.pid}`}`,
    },
  );
  if (facts.logs.status !== 'ok') evidence.push({ source: 'logs', text: `no journal: ${why(facts.logs)}` });
  return evidence;
}

/**
 * The script runs where it cannot see the host (Bottlerocket's control container, any container
 * without the host's namespaces). Reported as inconclusive, with no fix: a missing socket here says
 * nothing about containerd, so containerd-down must not be read from it.
 */
export const hostNotInspectable: Cause = {
  id: 'host-not-inspectable',
  title: 'host visibility',
  why: "When the diagnosis runs in a container without the host's systemd, socket, config and journal, every containerd check comes back empty: that is not evidence of a fault, and no fix can be chosen from it.",
  remediations: [],
  detect(facts) {
    const evidence = blindView(facts);
    if (evidence.length === 0) return { state: 'not-matched' };
    const bottlerocket = (facts.host?.bottlerocket.length ?? 0) > 0;
    return {
      state: 'matched',
      finding: {
        cause: 'host-not-inspectable',
        severity: 'warning',
        confidence: 'low',
        summary: bottlerocket
          ? 'Bottlerocket: this shell (the control container) cannot see containerd on the host, so the diagnosis is inconclusive'
          : "this shell cannot see the host's systemd, containerd socket or config, so the diagnosis is inconclusive",
        evidence,
        remediations: [],
      },
      notes: [bottlerocket ? BOTTLEROCKET_ROUTE : GENERIC_ROUTE],
    };
  },
};
