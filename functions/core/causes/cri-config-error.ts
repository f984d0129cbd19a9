import type { PluginFacts } from '../facts.js';
import type { Evidence } from '../model.js';
import type { Cause } from './cause.js';
import { isCriPlugin, metadataUnreadable, pluginErrorText } from './plugins.js';

/** 2.x plugins that fail only because the CRI image service they depend on failed first. */
const DEPENDENCY_FAILURE = /^unable to load CRI image service plugin dependency: /;

/**
 * The configuration keys an error text names: backquoted keys (`mirrors`, `config_path`) and an
 * unknown snapshotter (`failed to find snapshotter "x"` → `snapshotter = "x"`).
 */
export function offendingKeys(text: string): string[] {
  const keys = [...text.matchAll(/`([A-Za-z0-9_.-]+)`/g)].map((m) => m[1]!);
  const snapshotter = /failed to find snapshotter "([^"]*)"/.exec(text);
  if (snapshotter) keys.push(`snapshotter = "${snapshotter[1]}"`);
  return [...new Set(keys)];
}

/** The errored CRI plugins with their texts (read or not), root failures first. */
function criFailures(p: PluginFacts): { id: string; text: string | undefined }[] {
  const failures = p.errored.filter(isCriPlugin).map((id) => ({ id, text: pluginErrorText(p, id) }));
  const root = (t: string | undefined) => (t !== undefined && DEPENDENCY_FAILURE.test(t) ? 1 : 0);
  return failures.sort((a, b) => root(a.text) - root(b.text));
}

/**
 * A CRI plugin fails on its configuration (registry `mirrors` with `config_path`, an unknown
 * snapshotter...). The metadata is fine: resetting state or replacing the node would not help,
 * a person fixes the config.
 */
export const criConfigError: Cause = {
  id: 'cri-config-error',
  title: 'CRI plugin configuration',
  why: 'containerd runs and answers, but its CRI plugin refused its configuration and did not load, so every kubelet CRI call fails and the runtime is never Ready; only a corrected config helps.',
  remediations: ['fix-config-manually'],
  detect(facts) {
    const p = facts.plugins;
    if (p.status !== 'ok') return { state: 'not-matched' };
    const failures = criFailures(p);
    // Unreadable metadata fails CRI too: that is state-corruption's finding.
    if (failures.length === 0 || metadataUnreadable(p).length > 0) return { state: 'not-matched' };
    const read = failures.filter((f) => f.text !== undefined) as { id: string; text: string }[];
    if (read.length === 0) {
      return {
        state: 'unknown',
        reason: `${failures.map((f) => f.id).join(', ')} in error, but ${p.errorsUnread ?? 'their error text was not read'}: run \`ctr plugins ls -d\` to tell a config error from unreadable metadata`,
      };
    }
    const keys = [...new Set(read.flatMap((f) => offendingKeys(f.text)))];
    const evidence: Evidence[] = read.map((f) => ({ source: 'plugins', text: `plugin ${f.id}: ${f.text}` }));
    const cfg = facts.config;
    evidence.push({
      source: 'config',
      text: `${cfg.path} (version ${cfg.declaredVersion ?? '?'}) parses; the CRI plugin rejects its settings${keys.length > 0 ? `: ${keys.join(', ')}` : ''}`,
    });
    const root = read[0]!;
    return {
      state: 'matched',
      finding: {
        cause: 'cri-config-error',
        severity: 'critical',
        confidence: 'high',
        summary: `the CRI plugin ${root.id} rejects its configuration${keys.length > 0 ? ` (${keys.join(', ')})` : ''}: ${root.text}`,
        evidence,
        remediations: criConfigError.remediations,
      },
      notes: [
        `the containerd metadata is readable: this is a configuration error, so resetting state or replacing the node would not help. Fix ${keys.length > 0 ? `the setting(s) ${keys.join(', ')}` : 'the setting the error names'} in ${cfg.path} (or its imports), check it with \`containerd config dump\`, then restart containerd`,
      ],
    };
  },
};
