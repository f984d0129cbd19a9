import type { Evidence } from '../model.js';
import type { Cause } from './cause.js';
import { logEvidence, logMatch, why } from './helpers.js';

/**
 * Plugins whose failure means the metadata DB cannot be read. Others (devmapper on a host without
 * it) routinely show `error` on a healthy daemon and are ignored. `ctr plugins ls` prints
 * `type id`; the script joins them with `/`, older notes use `.`, so both are accepted.
 */
const CRITICAL_PLUGINS = [/^io\.containerd\.metadata\.v1[./]bolt$/, /^io\.containerd\.grpc\.v1[./]cri$/];

/** The errored plugins that matter (bolt metadata, CRI), ignoring ones like devmapper. */
export function criticalPluginErrors(errored: readonly string[]): string[] {
  return errored.filter((id) => CRITICAL_PLUGINS.some((re) => re.test(id)));
}

/** containerd's persistent state (bolt metadata DB) is corrupt. */
export const stateCorruption: Cause = {
  id: 'state-corruption',
  title: 'containerd state (bolt metadata, CRI)',
  why: 'With the bolt metadata plugin or CRI in error, `ctr version` still answers but every kubelet CRI call fails, so the runtime is never Ready; restarting reads the same broken DB.',
  remediations: ['replace-node', 'reset-state', 'cordon-drain'],
  detect(facts) {
    const p = facts.plugins;
    const critical = p.status === 'ok' ? criticalPluginErrors(p.errored) : [];
    const logged = logMatch(facts.logs.containerd, 'invalid-database');
    if (critical.length === 0 && !logged) {
      if (p.status === 'unknown') return { state: 'unknown', reason: why(p) };
      return { state: 'not-matched' };
    }
    const evidence: Evidence[] = critical.map((id) => ({
      source: 'plugins',
      text: `plugin ${id} STATUS error`,
    }));
    if (logged) evidence.push(...logEvidence('logs.containerd', logged));
    return {
      state: 'matched',
      finding: {
        cause: 'state-corruption',
        severity: 'critical',
        confidence: critical.length > 0 ? 'high' : 'medium',
        summary:
          critical.length > 0
            ? `containerd metadata is unreadable: ${critical.join(', ')} in error`
            : 'containerd logged an invalid metadata database',
        evidence,
        remediations: stateCorruption.remediations,
      },
    };
  },
};
