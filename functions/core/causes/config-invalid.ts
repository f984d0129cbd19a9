import type { Facts } from '../facts.js';
import type { Evidence } from '../model.js';
import type { Cause } from './cause.js';
import { logEvidence, logMatch, why } from './helpers.js';

/**
 * The keys containerd says it ignores: the script's `ignoredKeys` (from `config dump`), else the
 * `key=` / `plugin=` fields of logged `Ignoring unknown key in TOML` lines.
 */
function ignoredKeys(facts: Facts): string[] {
  if (facts.config.ignoredKeys && facts.config.ignoredKeys.length > 0) return [...facts.config.ignoredKeys];
  const logged = logMatch(facts.logs.containerd, 'unknown-toml-key');
  const keys = (logged?.samples ?? []).flatMap((line) => {
    const key = /\bkey=("?)([^\s"]+)\1/.exec(line)?.[2];
    const plugin = /\bplugin=("?)([^\s"]+)\1/.exec(line)?.[2];
    return key ? [plugin ? `${plugin} ${key}` : key] : [];
  });
  return [...new Set(keys)];
}

/** The note naming the keys containerd ignores, with the version that ignores them. */
function ignoredKeysNote(facts: Facts): string[] {
  const keys = ignoredKeys(facts);
  const logged = logMatch(facts.logs.containerd, 'unknown-toml-key');
  if (keys.length === 0 && !logged) return [];
  const version = facts.containerd.serverVersion ?? facts.containerd.binaryVersion ?? 'this containerd';
  const declared = facts.config.declaredVersion;
  return [
    `containerd ${version} ignores ${keys.length > 0 ? `these keys of ${facts.config.path}: ${keys.join('; ')}` : `unknown keys in its config (${logged!.count} \`Ignoring unknown key in TOML\` log line(s))`}` +
      `${declared !== null && declared < 3 ? ` (a version ${declared} config, migrated at load: \`containerd config migrate\` shows the 2.x form)` : ''}` +
      '. They have no effect: the settings they meant are not applied',
  ];
}

/** The parse failure containerd logged: 1.x `failed to load TOML`, 2.x `failed to unmarshal TOML`. */
function loggedParseFailure(facts: Facts) {
  return (
    logMatch(facts.logs.containerd, 'toml-load-failed') ??
    logMatch(facts.logs.containerd, 'toml-unmarshal-failed')
  );
}

/** containerd's config does not parse, so containerd refuses to start. */
export const configInvalid: Cause = {
  id: 'config-invalid',
  title: 'containerd config',
  why: 'containerd exits at start when its config does not parse (1.x `failed to load TOML`, 2.x `failed to unmarshal TOML`), so the socket never comes up; restarting cannot help until the file is fixed.',
  remediations: ['fix-config-manually'],
  detect(facts) {
    const cfg = facts.config;
    const logged = loggedParseFailure(facts);
    const notes = ignoredKeysNote(facts);
    if (cfg.status === 'ok' && cfg.parses === false) {
      const evidence: Evidence[] = [];
      if (cfg.parseError) evidence.push({ source: 'config', text: cfg.parseError });
      if (typeof cfg.errorLine === 'number') {
        evidence.push({
          source: 'config',
          text: `${cfg.errorFile ?? cfg.path} line ${cfg.errorLine}: ${cfg.errorLineText ?? '(line text not read)'}`,
        });
      }
      if (evidence.length === 0) evidence.push({ source: 'config', text: `${cfg.path} does not parse` });
      return {
        state: 'matched',
        finding: {
          cause: 'config-invalid',
          severity: 'critical',
          confidence: 'high',
          summary:
            typeof cfg.errorLine === 'number'
              ? `containerd config ${cfg.errorFile ?? cfg.path} does not parse (line ${cfg.errorLine})`
              : `containerd config ${cfg.path} does not parse`,
          evidence,
          remediations: configInvalid.remediations,
        },
        notes,
      };
    }
    if (cfg.status === 'ok' && cfg.parses === true) {
      // A `failed to load TOML` line from before the file was fixed is history, not a fault.
      return { state: 'not-matched', notes };
    }
    if (logged && (cfg.status !== 'ok' || cfg.parses === null)) {
      return {
        state: 'matched',
        finding: {
          cause: 'config-invalid',
          severity: 'critical',
          confidence: 'medium',
          summary: 'containerd logged that it could not load its config',
          evidence: logEvidence('logs.containerd', logged),
          remediations: configInvalid.remediations,
        },
        notes,
      };
    }
    if (cfg.status === 'unknown') return { state: 'unknown', reason: why(cfg), notes };
    if (cfg.status === 'ok' && !cfg.exists) return { state: 'not-matched', notes };
    if (cfg.status === 'ok' && cfg.parses === null) {
      return { state: 'unknown', reason: `containerd could not check ${cfg.path}`, notes };
    }
    return { state: 'not-matched', notes };
  },
};
