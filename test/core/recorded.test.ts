import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { analyze } from '../../functions/core/analyze.js';
import type { CauseId } from '../../functions/core/model.js';
import { FIXTURES, fixture } from './support/facts.js';

/**
 * Real outputs of the diagnostic script, recorded against a throwaway Debian containerd with each
 * fault injected (test/fixtures/facts/recorded/): Debian 12's 1.6.20 under the systemctl stand-in
 * (bench/record-fixtures.ts), and 1.7.24 (trixie) and 2.1.9 (sid) started bare, the version in the
 * file name (bench/record-real.sh). The file name says the fault; this table says which cause the
 * analyzer must name for it.
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
  'healthy-1.7.24': 'healthy',
  'healthy-2.1.9': 'healthy',
  'sandbox-image-missing-1.7.24': 'sandbox-image-missing',
  'sandbox-image-missing-2.1.9': 'sandbox-image-missing',
  'cri-mirrors-config-path-1.7.24': 'cri-config-error',
  'cri-unknown-snapshotter-1.7.24': 'cri-config-error',
  'cri-unknown-snapshotter-2.1.9': 'cri-config-error',
  'cri-mirrors-config-path-2.1.9': 'cri-config-error',
  'metadata-corrupt-1.7.24': 'state-corruption',
  'metadata-corrupt-2.1.9': 'state-corruption',
  'config-invalid-2.1.9': 'config-invalid',
  'disk-full-1.7.24': 'disk-pressure',
  'stuck-shim-1.7.24': 'stuck-shim',
  'host-blind-1.7.24': 'host-not-inspectable',
  'bottlerocket-view-1.7.24': 'host-not-inspectable',
  'disk-full-2.1.9': 'disk-pressure',
  'stuck-shim-2.1.9': 'stuck-shim',
  'bottlerocket-view-2.1.9': 'host-not-inspectable',
};

/** Recordings whose fault is a note, not a finding: the cause-less report must still say it. */
const NOTED: Record<string, RegExp> = {
  'ignored-keys-2.1.9':
    /containerd 2\.1\.9\S* ignores these keys of \S+: io\.containerd\.cri\.v1\.runtime disable_cgroup \(a version 2 config/,
};

const RECORDED = readdirSync(`${FIXTURES}recorded`)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => f.replace(/\.json$/, ''));

/** The sandbox is Debian's 1.6.20: only the outdated-version recording uses the default policy. */
function optionsFor(name: string) {
  return name === 'outdated-version' ? {} : { versionPolicy: { minimum: '1.6.0' } };
}

/** Every remediation a report offers, across findings. */
function fixesOf(name: string): string[] {
  return analyze(fixture(`recorded/${name}.json`), optionsFor(name)).findings.flatMap((f) => f.remediations);
}

describe('recorded script outputs', () => {
  it('cover every fault the integration suite injects', () => {
    expect([...RECORDED].sort()).toEqual([...Object.keys(EXPECTED), ...Object.keys(NOTED)].sort());
  });

  it.each(Object.entries(NOTED))('%s is no finding, but a note saying it', (name, note) => {
    const report = analyze(fixture(`recorded/${name}.json`), optionsFor(name));
    expect(report.findings).toEqual([]);
    expect(report.notes.join('\n')).toMatch(note);
  });

  it.each(Object.keys(EXPECTED))('%s names the expected cause', (name) => {
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

describe('recorded CRI configuration errors (1.7.24, 2.1.9) are never corruption', () => {
  const CRI_CASES = [
    [
      'cri-mirrors-config-path-1.7.24',
      'mirrors, config_path',
      /`mirrors` cannot be set when `config_path` is provided/,
    ],
    ['cri-unknown-snapshotter-1.7.24', 'snapshotter = "zfs-typo"', /failed to find snapshotter "zfs-typo"/],
    [
      'cri-unknown-snapshotter-2.1.9',
      'snapshotter = "zfs-typo"',
      /^the CRI plugin io\.containerd\.cri\.v1\/images rejects/,
    ],
    [
      'cri-mirrors-config-path-2.1.9',
      'mirrors, config_path',
      /^the CRI plugin io\.containerd\.cri\.v1\/images rejects .*: invalid cri image config: `mirrors` cannot be set/,
    ],
  ] as const;

  it.each(CRI_CASES)('%s: only fix-config-manually, naming %s', (name, keys, text) => {
    const report = analyze(fixture(`recorded/${name}.json`), optionsFor(name));
    expect(report.findings.map((f) => f.cause)).not.toContain('state-corruption');
    expect(fixesOf(name)).toEqual(['fix-config-manually']);
    const finding = report.findings.find((f) => f.cause === 'cri-config-error')!;
    expect(finding).toMatchObject({ severity: 'critical', confidence: 'high' });
    expect(finding.summary).toContain(keys);
    expect(finding.summary).toMatch(text);
  });

  it.each(['metadata-corrupt-1.7.24', 'metadata-corrupt-2.1.9'])(
    '%s: unreadable bolt metadata is corruption, with reset-state, and no config error',
    (name) => {
      const report = analyze(fixture(`recorded/${name}.json`), optionsFor(name));
      expect(report.findings.map((f) => f.cause)).not.toContain('cri-config-error');
      expect(fixesOf(name)).toContain('reset-state');
      expect(report.findings[0]!.evidence[0]!.text).toBe(
        'plugin io.containerd.metadata.v1/bolt STATUS error: invalid database',
      );
    },
  );
});

describe('recorded 2.x formats and views', () => {
  it('quotes the line of a 2.1.9 parse error (`at row R column C`)', () => {
    const report = analyze(fixture('recorded/config-invalid-2.1.9.json'), optionsFor('x'));
    const finding = report.findings.find((f) => f.cause === 'config-invalid')!;
    expect(finding.summary).toMatch(/does not parse \(line 17\)$/);
    expect(finding.evidence.map((e) => e.text)).toContain(
      "failed to unmarshal TOML at row 17 column 6: toml: expected '=' after key",
    );
    expect(finding.evidence.at(-1)!.text).toMatch(/line 17: this line is not toml$/);
    expect(fixesOf('config-invalid-2.1.9')).toEqual(['fix-config-manually']);
  });

  it('names the sandbox image a 2.1.9 node needs, and offers nothing to run', () => {
    const report = analyze(fixture('recorded/sandbox-image-missing-2.1.9.json'), optionsFor('x'));
    const finding = report.findings.find((f) => f.cause === 'sandbox-image-missing')!;
    expect(finding.summary).toBe(
      'the sandbox image registry.k8s.io/pause:3.10 is missing from namespace k8s.io: no new pod can start',
    );
    expect(finding.remediations).toEqual([]);
    expect(report.notes.join('\n')).toContain(
      'ctr -n k8s.io images pull --user <user:password> registry.k8s.io/pause:3.10',
    );
  });

  it.each(['disk-full-1.7.24', 'disk-full-2.1.9'])(
    '%s: the real tmpfs root full to the last block and inode, both quoted',
    (name) => {
      const finding = analyze(fixture(`recorded/${name}.json`), optionsFor('x')).findings.find(
        (f) => f.cause === 'disk-pressure',
      )!;
      expect(finding.severity).toBe('critical');
      const texts = finding.evidence.map((e) => e.text);
      expect(texts.some((t) => /\/root 100% used \(threshold 90%\), 0 kB free$/.test(t))).toBe(true);
      expect(texts.some((t) => /\/root 100% of inodes used/.test(t))).toBe(true);
    },
  );

  it.each(['stuck-shim-1.7.24', 'stuck-shim-2.1.9'])(
    '%s: quotes the stopped shim (pid, state, command) and its UNKNOWN task',
    (name) => {
      const finding = analyze(fixture(`recorded/${name}.json`), optionsFor('x')).findings.find(
        (f) => f.cause === 'stuck-shim',
      )!;
      expect(finding.evidence[0]!.text).toMatch(
        /^pid \d+ containerd-shim stopped \(T\): \S+containerd-shim-runc-v2 -namespace k8s\.io -id nodemedic-stuck-\d+/,
      );
      expect(finding.evidence.map((e) => e.text).join('\n')).toMatch(
        /STATUS UNKNOWN \(its shim does not answer\)/,
      );
      // A stopped process is resumed by a person; a reboot is only for D state.
      expect(finding.remediations).toEqual([]);
    },
  );

  it.each(['host-blind-1.7.24', 'bottlerocket-view-1.7.24', 'bottlerocket-view-2.1.9'])(
    '%s: low confidence, no fix, never containerd-down',
    (name) => {
      const report = analyze(fixture(`recorded/${name}.json`), optionsFor(name));
      expect(report.healthy).toBe(false);
      expect(report.findings.map((f) => f.cause)).toEqual(['host-not-inspectable']);
      expect(report.findings[0]).toMatchObject({ confidence: 'low', remediations: [] });
      expect(report.notes.join('\n')).toMatch(
        name.startsWith('bottlerocket')
          ? /apiclient exec admin sheltie/
          : /a person inspects containerd from a root shell on the host/,
      );
    },
  );
});
