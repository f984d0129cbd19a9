import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { analyze } from '../../functions/core/analyze.js';
import type { CauseId } from '../../functions/core/model.js';
import { FIXTURES, fixture } from './support/facts.js';

/**
 * Real outputs of the diagnostic script, recorded against a throwaway Debian containerd with each
 * fault injected (test/fixtures/facts/recorded/, written by bench/record-fixtures.ts). The file
 * name says the fault; this table says which cause the analyzer must name for it.
 */
const EXPECTED: Record<string, CauseId | 'healthy'> = {
  healthy: 'healthy',
  'daemon-stopped': 'containerd-down',
  'config-invalid': 'config-invalid',
  'metadata-corrupt': 'state-corruption',
  'socket-removed': 'socket-unreachable',
  'fd-exhaustion': 'fd-exhaustion',
  'grpc-limits': 'grpc-limits',
  'outdated-version': 'outdated-version',
};

const RECORDED = readdirSync(`${FIXTURES}recorded`)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => f.replace(/\.json$/, ''));

/** The sandbox is Debian's 1.6.20: only the outdated-version recording uses the default policy. */
function optionsFor(name: string) {
  return name === 'outdated-version' ? {} : { versionPolicy: { minimum: '1.6.0' } };
}

describe('recorded script outputs', () => {
  it('cover every fault the integration suite injects', () => {
    expect(RECORDED).toEqual(Object.keys(EXPECTED).sort());
  });

  it.each(RECORDED)('%s names the expected cause', (name) => {
    const expected = EXPECTED[name];
    expect(expected, `no expected cause for recorded/${name}.json: add it to EXPECTED`).toBeDefined();
    const report = analyze(fixture(`recorded/${name}.json`), optionsFor(name));
    if (expected === 'healthy') {
      expect(report.findings).toEqual([]);
      expect(report.healthy).toBe(true);
      return;
    }
    expect(report.healthy).toBe(false);
    // The injected fault is the most urgent finding, or shares top severity with its symptom.
    const top = report.findings
      .filter((f) => f.severity === report.findings[0]!.severity)
      .map((f) => f.cause);
    expect(top).toContain(expected);
  });

  it('never offers a restart while the recorded config does not parse', () => {
    const report = analyze(fixture('recorded/config-invalid.json'), optionsFor('config-invalid'));
    expect(report.findings.flatMap((f) => f.remediations)).toEqual(['fix-config-manually']);
    expect(report.findings.find((f) => f.cause === 'config-invalid')!.summary).toMatch(
      /does not parse \(line \d+\)/,
    );
  });
});
