import type { Evidence } from '../model.js';
import type { Cause } from './cause.js';
import { logEvidence, logMatch, why } from './helpers.js';
import { isCriPlugin, metadataUnreadable, pluginErrorText } from './plugins.js';

/**
 * containerd's persistent state (bolt metadata DB) is unreadable. Only bolt's own failure counts,
 * or a CRI failure whose text names it: a CRI plugin failing on its configuration is
 * cri-config-error, and resetting the state would change nothing.
 */
export const stateCorruption: Cause = {
  id: 'state-corruption',
  title: 'containerd state (bolt metadata)',
  why: 'With the bolt metadata plugin in error, `ctr version` still answers but every kubelet CRI call fails, so the runtime is never Ready; restarting reads the same broken DB.',
  remediations: ['replace-node', 'reset-state', 'cordon-drain'],
  detect(facts) {
    const p = facts.plugins;
    const unreadable = metadataUnreadable(p);
    // CRI plugins failing with their own text that does not blame the metadata: a config error,
    // so an `invalid database` line in the log window is history, not today's fault.
    const configFailure =
      unreadable.length === 0 &&
      p.status === 'ok' &&
      p.errored.some((id) => isCriPlugin(id) && pluginErrorText(p, id) !== undefined);
    const logged = configFailure ? undefined : logMatch(facts.logs.containerd, 'invalid-database');
    if (unreadable.length === 0 && !logged) {
      if (p.status === 'unknown') return { state: 'unknown', reason: why(p) };
      return { state: 'not-matched' };
    }
    const evidence: Evidence[] = unreadable.map((id) => {
      const text = pluginErrorText(p, id);
      return { source: 'plugins', text: `plugin ${id} STATUS error${text ? `: ${text}` : ''}` };
    });
    if (logged) evidence.push(...logEvidence('logs.containerd', logged));
    return {
      state: 'matched',
      finding: {
        cause: 'state-corruption',
        severity: 'critical',
        confidence: unreadable.length > 0 ? 'high' : 'medium',
        summary:
          unreadable.length > 0
            ? `containerd metadata is unreadable: ${unreadable.join(', ')} in error`
            : 'containerd logged an invalid metadata database',
        evidence,
        remediations: stateCorruption.remediations,
      },
    };
  },
};
