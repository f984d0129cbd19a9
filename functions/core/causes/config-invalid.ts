import type { Evidence } from '../model.js';
import type { Cause } from './cause.js';
import { logEvidence, logMatch, why } from './helpers.js';

/** containerd's config does not parse, so containerd refuses to start. */
export const configInvalid: Cause = {
  id: 'config-invalid',
  title: 'containerd config',
  why: 'containerd exits at start when its config does not parse (`failed to load TOML`), so the socket never comes up; restarting cannot help until the file is fixed.',
  remediations: ['fix-config-manually'],
  detect(facts) {
    const cfg = facts.config;
    const logged = logMatch(facts.logs.containerd, 'toml-load-failed');
    if (cfg.status === 'ok' && cfg.parses === false) {
      const evidence: Evidence[] = [];
      if (cfg.parseError) evidence.push({ source: 'config', text: cfg.parseError });
      if (typeof cfg.errorLine === 'number') {
        evidence.push({
          source: 'config',
          text: `${cfg.path} line ${cfg.errorLine}: ${cfg.errorLineText ?? '(line text not read)'}`,
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
              ? `containerd config ${cfg.path} does not parse (line ${cfg.errorLine})`
              : `containerd config ${cfg.path} does not parse`,
          evidence,
          remediations: configInvalid.remediations,
        },
      };
    }
    if (cfg.status === 'ok' && cfg.parses === true) {
      // A `failed to load TOML` line from before the file was fixed is history, not a fault.
      return { state: 'not-matched' };
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
      };
    }
    if (cfg.status === 'unknown') return { state: 'unknown', reason: why(cfg) };
    if (cfg.status === 'ok' && !cfg.exists) return { state: 'not-matched' };
    if (cfg.status === 'ok' && cfg.parses === null) {
      return { state: 'unknown', reason: `containerd could not check ${cfg.path}` };
    }
    return { state: 'not-matched' };
  },
};
