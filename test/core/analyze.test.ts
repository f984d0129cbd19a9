import { describe, expect, it } from 'vitest';
import { type AnalyzeOptions, analyze, analyzeUnreachable } from '../../functions/core/analyze.js';
import { offendingKeys } from '../../functions/core/causes/cri-config-error.js';
import { CAUSES } from '../../functions/core/causes/index.js';
import type { Facts } from '../../functions/core/facts.js';
import {
  CAUSE_IDS,
  type CauseId,
  type RemediationId,
  type Report,
  SEVERITIES,
} from '../../functions/core/model.js';
import { base, type Draft, fixture, nodeBase, patched } from './support/facts.js';

/** The sandbox runs Debian's 1.6.20: a policy at or below it makes the base healthy. */
const LENIENT: AnalyzeOptions = { versionPolicy: { minimum: '1.6.0' } };

interface Case {
  readonly name: string;
  readonly facts: () => Facts;
  readonly options?: AnalyzeOptions;
}

/** Every cause: one fixture that must match it and one that must not (cdk-nag style). */
const CASES: Record<Exclude<CauseId, 'node-unreachable'>, { matched: Case[]; notMatched: Case[] }> = {
  'containerd-down': {
    matched: [
      {
        name: 'no process, unit failed after restarts',
        facts: () =>
          patched(nodeBase(), (f) => {
            f.containerd.pid = null;
            f.containerd.service = { status: 'ok', activeState: 'failed', subState: 'failed', nRestarts: 5 };
            f.socket.exists = false;
            f.socket.isSocket = false;
            f.socket.call = null;
            f.plugins = { status: 'unknown', reason: 'daemon not answering', total: null, errored: [] };
          }),
      },
    ],
    notMatched: [{ name: 'healthy sandbox', facts: base }],
  },
  'config-invalid': {
    matched: [
      {
        name: 'TOML error with the line',
        facts: () =>
          patched(base(), (f) => {
            f.config.parses = false;
            f.config.parseError =
              'failed to load TOML from /tmp/nm-sandbox/config.toml: (13, 5): was expecting token =, but got "}" instead';
            f.config.errorLine = 13;
            f.config.errorLineText = '    }';
          }),
      },
    ],
    notMatched: [
      {
        name: 'config parses (an old toml-load-failed log line is history)',
        facts: () =>
          patched(base(), (f) => {
            f.logs.containerd = [
              { id: 'toml-load-failed', count: 1, samples: ['failed to load TOML: (3, 1)'] },
            ];
          }),
      },
    ],
  },
  'state-corruption': {
    matched: [
      {
        name: 'bolt and CRI plugins in error',
        facts: () =>
          patched(base(), (f) => {
            f.plugins.errored = [
              'io.containerd.snapshotter.v1/devmapper',
              'io.containerd.metadata.v1/bolt',
              'io.containerd.grpc.v1/cri',
            ];
          }),
      },
      {
        name: '`invalid database` in the log',
        facts: () =>
          patched(base(), (f) => {
            f.logs.containerd = [
              {
                id: 'invalid-database',
                count: 1,
                samples: [
                  'level=warning msg="failed to load plugin io.containerd.metadata.v1.bolt" error="invalid database"',
                ],
              },
            ];
          }),
      },
    ],
    notMatched: [{ name: 'only devmapper in error (normal without devmapper)', facts: base }],
  },
  'socket-unreachable': {
    matched: [
      {
        name: 'socket removed while the daemon runs',
        facts: () =>
          patched(base(), (f) => {
            f.socket.exists = false;
            f.socket.isSocket = false;
            f.socket.mode = null;
            f.socket.owner = null;
            f.socket.call = {
              ok: false,
              exitCode: 1,
              elapsedMs: 12,
              error: 'connect: no such file or directory',
            };
          }),
      },
      {
        name: "kubelet's endpoint names another socket",
        facts: () =>
          patched(nodeBase(), (f) => {
            f.kubelet.runtimeEndpoint = 'unix:///var/run/dockershim.sock';
          }),
      },
    ],
    notMatched: [
      { name: 'socket answers', facts: base },
      {
        name: 'socket missing because the daemon is down (containerd-down explains it)',
        facts: () =>
          patched(base(), (f) => {
            f.containerd.pid = null;
            f.socket.exists = false;
            f.socket.isSocket = false;
            f.socket.call = null;
          }),
      },
    ],
  },
  'fd-exhaustion': {
    matched: [
      {
        name: 'open fds at the soft limit',
        facts: () =>
          patched(base(), (f) => {
            f.fds.open = 1021;
            f.fds.limitSoft = 1024;
            f.fds.limitHard = 524288;
          }),
      },
      {
        name: 'system-wide file-nr near fs.file-max while the daemon is down',
        facts: () =>
          patched(base(), (f) => {
            f.containerd.pid = null;
            f.fds = {
              ...f.fds,
              status: 'n/a',
              reason: 'containerd is not running',
              open: null,
              limitSoft: null,
            };
            f.fds.systemAllocated = 95_000;
            f.fds.systemMax = 100_000;
          }),
      },
      {
        name: '`too many open files` in the log',
        facts: () =>
          patched(base(), (f) => {
            f.logs.containerd = [
              {
                id: 'too-many-open-files',
                count: 40,
                samples: ['accept unix /run/containerd/containerd.sock: accept4: too many open files'],
              },
            ];
          }),
      },
    ],
    notMatched: [
      {
        name: 'unlimited soft limit',
        facts: () =>
          patched(base(), (f) => {
            f.fds.open = 50_000;
            f.fds.limitSoft = null;
          }),
      },
    ],
  },
  'grpc-limits': {
    matched: [
      {
        name: 'max_recv_message_size of 2 KiB',
        facts: () =>
          patched(base(), (f) => {
            f.config.grpc = [...f.config.grpc, 'max_recv_message_size = 2048'];
          }),
      },
      {
        name: '`received message larger than max` in the kubelet log',
        facts: () =>
          patched(base(), (f) => {
            f.logs.kubelet = [
              {
                id: 'message-too-large',
                count: 2,
                samples: [
                  'rpc error: code = ResourceExhausted desc = grpc: received message larger than max (16777300 vs. 16777216)',
                ],
              },
            ];
          }),
      },
    ],
    notMatched: [
      {
        name: 'limits at or above the default, and a no-op max_concurrent_streams',
        facts: () =>
          patched(base(), (f) => {
            f.config.grpc = [
              'max_recv_message_size = 16_777_216',
              'max_send_message_size = 33554432',
              'max_concurrent_streams = 10',
            ];
          }),
      },
    ],
  },
  'resource-starvation': {
    matched: [
      {
        name: 'recorded starved node (PSI, load, OOM kills)',
        facts: () => fixture('resource-starvation.json'),
      },
      {
        name: 'busy CPU while kubelet sees DeadlineExceeded',
        facts: () =>
          patched(base(), (f) => {
            f.resources.psi.cpu = { some10: 90, some60: 85, full10: 0, full60: 0 };
            f.logs.kubelet = [
              { id: 'deadline-exceeded', count: 4, samples: ['rpc error: code = DeadlineExceeded'] },
            ];
          }),
      },
    ],
    notMatched: [
      { name: 'idle sandbox', facts: base },
      {
        name: 'busy CPU alone (a loaded CI machine) while containerd answers in time',
        facts: () =>
          patched(base(), (f) => {
            f.resources.load5 = 9;
            f.resources.psi.cpu = { some10: 90, some60: 85, full10: 0, full60: 0 };
          }),
      },
    ],
  },
  'disk-pressure': {
    matched: [
      { name: 'root dir full, `no space left on device`', facts: () => fixture('disk-pressure.json') },
    ],
    notMatched: [
      {
        name: 'root at 89%',
        facts: () =>
          patched(base(), (f) => {
            f.disk.root.usePct = 89;
          }),
      },
    ],
  },
  'outdated-version': {
    matched: [{ name: 'Debian 1.6.20 under the default policy', facts: base, options: {} }],
    notMatched: [{ name: '1.6.20 with minimum 1.6.0', facts: base, options: LENIENT }],
  },
  'kubelet-down': {
    matched: [{ name: 'kubelet failed while containerd answers', facts: () => fixture('kubelet-down.json') }],
    notMatched: [
      { name: 'kubelet not installed', facts: base },
      {
        name: 'kubelet unhealthy because containerd is down',
        facts: () =>
          patched(fixture('kubelet-down.json'), (f) => {
            f.socket.call = { ok: false, exitCode: 124, elapsedMs: 15000, error: 'timeout' };
          }),
      },
    ],
  },
  'cri-config-error': {
    matched: [
      {
        name: 'recorded 1.7.24: mirrors with config_path',
        facts: () => fixture('recorded/cri-mirrors-config-path-1.7.24.json'),
      },
      {
        name: 'recorded 2.1.9: unknown snapshotter',
        facts: () => fixture('recorded/cri-unknown-snapshotter-2.1.9.json'),
      },
    ],
    notMatched: [
      {
        name: 'recorded 2.1.9: bolt unreadable (corruption, not config)',
        facts: () => fixture('recorded/metadata-corrupt-2.1.9.json'),
      },
      { name: 'recorded 2.1.9: healthy', facts: () => fixture('recorded/healthy-2.1.9.json') },
    ],
  },
  'sandbox-image-missing': {
    matched: [
      {
        name: 'recorded 1.7.24: pause image absent',
        facts: () => fixture('recorded/sandbox-image-missing-1.7.24.json'),
      },
    ],
    notMatched: [
      { name: 'recorded 1.7.24: pause image present', facts: () => fixture('recorded/healthy-1.7.24.json') },
      { name: 'a 1.0 script that did not look', facts: base },
      {
        name: 'no kubelet: no pod needs it now',
        facts: () =>
          patched(fixture('recorded/sandbox-image-missing-1.7.24.json'), (f) => {
            f.kubelet = { status: 'n/a', reason: 'no systemd and no kubelet: not a Kubernetes node' };
          }),
      },
    ],
  },
  'stuck-shim': {
    matched: [
      {
        name: 'recorded 1.7.24: shim stopped (SIGSTOP)',
        facts: () => fixture('recorded/stuck-shim-1.7.24.json'),
      },
      {
        name: 'runc in D state',
        facts: () =>
          patched(fixture('recorded/healthy-1.7.24.json'), (f) => {
            f.processes!.stuck = [
              {
                pid: 4711,
                state: 'D',
                comm: 'runc',
                cmd: 'runc --root /run/containerd/runc/k8s.io delete abc',
              },
            ];
          }),
      },
    ],
    notMatched: [
      { name: 'recorded 1.7.24: no stuck process', facts: () => fixture('recorded/healthy-1.7.24.json') },
    ],
  },
  'host-not-inspectable': {
    matched: [
      {
        name: 'recorded: Bottlerocket control container view',
        facts: () => fixture('recorded/bottlerocket-view-1.7.24.json'),
      },
      {
        name: 'recorded: a container without the host view',
        facts: () => fixture('recorded/host-blind-1.7.24.json'),
      },
      {
        name: 'a container that sees a config file but no systemd, process or socket',
        facts: () =>
          patched(fixture('recorded/host-blind-1.7.24.json'), (f) => {
            f.config = { ...f.config, exists: true, parses: true, declaredVersion: 2 };
          }),
      },
    ],
    notMatched: [
      {
        name: 'recorded 1.7.24: a bare daemon without systemd, seen',
        facts: () => fixture('recorded/healthy-1.7.24.json'),
      },
      {
        name: 'containerd stopped on a node whose systemd answers',
        facts: () =>
          patched(fixture('recorded/healthy-1.7.24.json'), (f) => {
            f.systemd = true;
            f.host = { ...f.host!, pid1: 'systemd', systemctl: true };
            f.containerd.pid = null;
            f.socket.exists = false;
            f.socket.isSocket = false;
            f.socket.call = null;
          }),
      },
    ],
  },
};

function causes(report: Report): CauseId[] {
  return report.findings.map((f) => f.cause);
}

describe('analyze: one matched and one not-matched case per cause', () => {
  for (const [cause, { matched, notMatched }] of Object.entries(CASES)) {
    describe(cause, () => {
      it.each(matched)('matches: $name', ({ facts, options }) => {
        const report = analyze(facts(), options ?? LENIENT);
        const finding = report.findings.find((f) => f.cause === cause);
        expect(finding, JSON.stringify(report.findings)).toBeDefined();
        expect(report.healthy).toBe(false);
        expect(finding!.evidence.length).toBeGreaterThan(0);
        expect(finding!.summary).not.toMatch(/\.$|\n/);
        // A finding only proposes fixes its cause declares, so the catalog check covers it.
        for (const r of finding!.remediations) expect(CAUSES[cause as CauseId].remediations).toContain(r);
      });
      it.each(notMatched)('does not match: $name', ({ facts, options }) => {
        expect(causes(analyze(facts(), options ?? LENIENT))).not.toContain(cause);
      });
    });
  }
});

describe('analyze: the report', () => {
  it('calls the sandbox healthy when the minimum is at or below its version', () => {
    const report = analyze(base(), LENIENT);
    expect(report).toMatchObject({ healthy: true, findings: [] });
    expect(report.notes).toEqual(['kubelet checks not applicable: kubelet not installed']);
    expect(report.facts).toEqual(base());
  });

  it('says Debian 1.6 is past end of life under the default policy', () => {
    const [finding] = analyze(base()).findings;
    expect(finding).toMatchObject({
      cause: 'outdated-version',
      severity: 'warning',
      remediations: ['replace-node', 'upgrade-containerd'],
    });
    expect(finding!.summary).toContain('1.6.20~ds1');
    expect(finding!.summary).toContain('past end of life');
  });

  it('flags a known-bad version from the policy data with its reason', () => {
    const report = analyze(base(), {
      versionPolicy: {
        minimum: '1.6.0',
        knownBad: [{ version: '1.6.20', reason: 'leaks shims on restart' }],
      },
    });
    expect(report.findings[0]!.evidence.map((e) => e.text)).toContain('known bad: leaks shims on restart');
  });

  it('quotes fd figures against the limit', () => {
    const facts = CASES['fd-exhaustion'].matched[0]!.facts();
    const finding = analyze(facts, LENIENT).findings.find((f) => f.cause === 'fd-exhaustion')!;
    expect(finding.evidence[0]!.text).toContain('1021 of 1024 open files (99.7%)');
    expect(finding.remediations).toEqual(['raise-nofile', 'restart-containerd']);
  });

  it('says how far past its soft limit containerd is, rather than "20 of 19"', () => {
    const facts = patched(CASES['fd-exhaustion'].matched[0]!.facts(), (f) => {
      f.fds.open = 20;
      f.fds.limitSoft = 19;
      f.fds.limitHard = 19;
    });
    const finding = analyze(facts, LENIENT).findings.find((f) => f.cause === 'fd-exhaustion')!;
    expect(finding).toMatchObject({ severity: 'critical', confidence: 'high' });
    expect(finding.summary).toBe('containerd is over its open-file limit (20 open, soft limit 19)');
    expect(finding.evidence[0]!.text).toBe(
      '20 open files for containerd, 1 over its soft limit of 19 (105.3%; hard 19): descriptors opened before the limit was lowered stay open',
    );
  });

  it('says how far past fs.file-max the system is, rather than "105000 of 100000"', () => {
    const facts = patched(CASES['fd-exhaustion'].matched[1]!.facts(), (f) => {
      f.fds.systemAllocated = 105_000;
    });
    const finding = analyze(facts, LENIENT).findings.find((f) => f.cause === 'fd-exhaustion')!;
    expect(finding.summary).toBe(
      'the system is over fs.file-max (105000 file handles allocated, max 100000)',
    );
    expect(finding.evidence[0]!.text).toBe(
      '105000 file handles allocated system-wide, 5000 over fs.file-max of 100000 (105.0%, /proc/sys/fs/file-nr): privileged processes may allocate past it',
    );
  });

  it('shows the failing config line and offers only the manual fix, never a restart', () => {
    const facts = patched(CASES['config-invalid'].matched[0]!.facts(), (f) => {
      f.containerd.pid = null;
      f.socket.call = null;
    });
    const report = analyze(facts, LENIENT);
    const config = report.findings.find((f) => f.cause === 'config-invalid')!;
    expect(config.remediations).toEqual(['fix-config-manually']);
    expect(config.evidence.map((e) => e.text)).toContain('/tmp/nm-sandbox/config.toml line 13:     }');
    const down = report.findings.find((f) => f.cause === 'containerd-down')!;
    expect(down.remediations).toEqual([]);
    expect(report.findings.flatMap((f) => f.remediations)).not.toContain('restart-containerd');
  });

  it('ranks replace-node, then reset-state, then cordon-drain for corrupt state', () => {
    const finding = analyze(CASES['state-corruption'].matched[0]!.facts(), LENIENT).findings[0]!;
    expect(finding.remediations).toEqual(['replace-node', 'reset-state', 'cordon-drain']);
    expect(finding.evidence.map((e) => e.text)).not.toContain(
      'plugin io.containerd.snapshotter.v1/devmapper STATUS error',
    );
  });

  it('reports an endpoint mismatch for a person instead of guessing', () => {
    const finding = analyze(CASES['socket-unreachable'].matched[1]!.facts(), LENIENT).findings[0]!;
    expect(finding.remediations).toEqual(['fix-endpoint-mismatch']);
  });

  it.each<[string, (f: Draft<Facts>) => void, readonly RemediationId[]]>([
    [
      'a missing socket: restart recreates it, and there is nothing to dump through',
      (f) => {
        f.socket.exists = false;
        f.socket.isSocket = false;
        f.socket.call = { ok: false, exitCode: 1, elapsedMs: 12, error: 'no such file or directory' };
      },
      ['restart-containerd'],
    ],
    [
      'a path that is not a socket',
      (f) => {
        f.socket.isSocket = false;
        f.socket.call = { ok: false, exitCode: 1, elapsedMs: 12, error: 'not a socket' };
      },
      ['restart-containerd'],
    ],
    [
      'a socket that refuses the call',
      (f) => {
        f.socket.call = { ok: false, exitCode: 1, elapsedMs: 12, error: 'connection refused' };
      },
      ['restart-containerd', 'collect-goroutine-dump'],
    ],
    [
      'a wedged daemon (the call timed out)',
      (f) => {
        f.socket.call = { ok: false, exitCode: 124, elapsedMs: 15000, error: 'timeout' };
      },
      ['restart-containerd', 'collect-goroutine-dump'],
    ],
  ])('ranks socket-unreachable fixes for %s', (_name, change, expected) => {
    const finding = analyze(patched(base(), change), LENIENT).findings.find(
      (f) => f.cause === 'socket-unreachable',
    );
    expect(finding?.remediations).toEqual(expected);
  });

  it('notes a max_concurrent_streams key by name as a no-op, without a finding', () => {
    const report = analyze(CASES['grpc-limits'].notMatched[0]!.facts(), LENIENT);
    expect(report.findings).toEqual([]);
    expect(report.notes.join('\n')).toMatch(
      /`max_concurrent_streams`.*does not exist in containerd.*does nothing/,
    );
  });

  it('raises the gRPC limit for a tiny max_recv_message_size', () => {
    const finding = analyze(CASES['grpc-limits'].matched[0]!.facts(), LENIENT).findings[0]!;
    expect(finding).toMatchObject({
      cause: 'grpc-limits',
      severity: 'critical',
      remediations: ['raise-grpc-message-size'],
    });
    expect(finding.evidence[0]!.text).toContain(
      'max_recv_message_size = 2048 bytes, below the default 16777216',
    );
  });

  it('makes the read-only port 10255 a note, never a fix', () => {
    const facts = patched(nodeBase(), (f) => {
      f.logs.kubelet = [
        {
          id: 'read-only-port',
          count: 3,
          samples: ['dial tcp 127.0.0.1:10255: connect: connection refused'],
        },
      ];
    });
    const report = analyze(facts, LENIENT);
    expect(report).toMatchObject({ healthy: true, findings: [] });
    expect(report.notes.join('\n')).toContain('10255');
  });

  it('notes busy CPU that does not explain anything instead of raising a finding', () => {
    const report = analyze(CASES['resource-starvation'].notMatched[1]!.facts(), LENIENT);
    expect(report).toMatchObject({ healthy: true, findings: [] });
    expect(report.notes.join('\n')).toContain('cpu pressure is high (PSI some avg60 85%)');
  });

  it('quotes log lines verbatim', () => {
    const finding = analyze(fixture('resource-starvation.json')).findings.find(
      (f) => f.cause === 'resource-starvation',
    )!;
    expect(finding.evidence.map((e) => e.text)).toContain(
      'Jan 15 10:04:41 ip-10-0-1-23 kernel: Out of memory: Killed process 2101 (containerd) total-vm:1933012kB, anon-rss:88120kB',
    );
    expect(finding.remediations).toEqual(['cordon-drain', 'reboot-instance', 'replace-node']);
  });

  it.each([
    [
      'fds',
      (f: Facts) =>
        patched(
          f,
          (d) => void Object.assign(d.fds, { status: 'unknown', reason: 'timed out after 3s', open: null }),
        ),
    ],
    [
      'plugins',
      (f: Facts) =>
        patched(
          f,
          (d) => void Object.assign(d.plugins, { status: 'unknown', reason: 'ctr plugins ls timed out' }),
        ),
    ],
    [
      'logs',
      (f: Facts) =>
        patched(f, (d) => void Object.assign(d.logs, { status: 'unknown', reason: 'journalctl timed out' })),
    ],
    [
      'resources',
      (f: Facts) =>
        patched(
          f,
          (d) => void Object.assign(d.resources, { status: 'unknown', reason: 'permission denied' }),
        ),
    ],
  ] as const)('is not healthy, with a "could not check" note, when %s is unknown', (_name, change) => {
    const report = analyze(change(base()), LENIENT);
    expect(report.healthy).toBe(false);
    expect(report.findings).toEqual([]);
    expect(
      report.notes.some((n) => /^could not (check|read)/.test(n) && /timed out|permission denied/.test(n)),
    ).toBe(true);
  });

  it('sorts findings by severity, then cause order, deterministically', () => {
    const facts = patched(fixture('disk-pressure.json'), (f) => {
      f.fds.open = 1021;
      f.fds.limitSoft = 1024;
      f.containerd.serverVersion = '1.6.20';
      f.config.grpc = ['max_recv_message_size = 8388608'];
    });
    const a = analyze(facts);
    expect(causes(a)).toEqual(['fd-exhaustion', 'disk-pressure', 'grpc-limits', 'outdated-version']);
    const rank = (c: CauseId) => [
      SEVERITIES.indexOf(a.findings.find((f) => f.cause === c)!.severity),
      CAUSE_IDS.indexOf(c),
    ];
    const ranks = causes(a).map(rank);
    expect([...ranks].sort((x, y) => x[0]! - y[0]! || x[1]! - y[1]!)).toEqual(ranks);
    expect(JSON.stringify(analyze(facts))).toBe(JSON.stringify(a));
  });
});

describe('analyzeUnreachable', () => {
  const evidence = {
    agent: 'ConnectionLost',
    instanceState: 'running',
    systemStatus: 'ok',
    instanceStatus: 'impaired',
    consoleTail: [
      '[  OK  ] Started kubelet.service.',
      '\u001b[31m[  811.9] INFO: task containerd:2101 blocked for more than 120 seconds.\u001b[0m',
      '[  812.1] Out of memory: Killed process 2101 (containerd)',
      'ip-10-0-1-23 login:',
    ].join('\r\n'),
  };

  it('states an inconclusive node-unreachable finding, never healthy', () => {
    const report = analyzeUnreachable(evidence);
    expect(report.healthy).toBe(false);
    expect(report.facts).toBeNull();
    expect(report.findings).toHaveLength(1);
    expect(report.findings[0]).toMatchObject({
      cause: 'node-unreachable',
      severity: 'critical',
      confidence: 'low',
      summary:
        'node unreachable (SSM agent ConnectionLost, EC2 status checks impaired): diagnosis inconclusive',
      remediations: ['reboot-instance', 'replace-node'],
    });
    expect(report.notes[0]).toMatch(/inconclusive, not healthy/);
  });

  it('quotes the telling console lines, without terminal escapes', () => {
    const texts = analyzeUnreachable(evidence).findings[0]!.evidence.map((e) => e.text);
    expect(texts).toContain('SSM agent PingStatus ConnectionLost');
    expect(texts).toContain('[  811.9] INFO: task containerd:2101 blocked for more than 120 seconds.');
    expect(texts).toContain('[  812.1] Out of memory: Killed process 2101 (containerd)');
    expect(texts).not.toContain('ip-10-0-1-23 login:');
  });

  it('offers only replace for an instance that is not running', () => {
    const report = analyzeUnreachable({
      ...evidence,
      instanceState: 'stopped',
      instanceStatus: 'ok',
      consoleTail: '',
    });
    expect(report.findings[0]!.remediations).toEqual(['replace-node']);
    expect(report.notes.join('\n')).toContain('the instance is stopped');
  });

  it('refuses evidence of the wrong shape', () => {
    expect(() => analyzeUnreachable({ ...evidence, agent: undefined as unknown as string })).toThrow(
      /unreachable evidence\.agent: expected string, got nothing \(missing\)/,
    );
  });
});

describe('analyze: telling a config error from corruption', () => {
  const cri17 = () => fixture('recorded/cri-mirrors-config-path-1.7.24.json');

  it('says it cannot tell, and offers nothing, when CRI is in error and its text was not read', () => {
    const facts = patched(cri17(), (f) => {
      delete f.plugins.errors;
      f.plugins.errorsUnread = 'ctr plugins ls -d failed: timed out after 10s';
    });
    const report = analyze(facts, LENIENT);
    expect(report.findings.flatMap((f) => f.remediations)).not.toContain('reset-state');
    expect(report.findings.map((f) => f.cause)).not.toContain('state-corruption');
    expect(report.healthy).toBe(false);
    expect(report.notes.join('\n')).toContain(
      'could not check CRI plugin configuration (io.containerd.grpc.v1/cri in error, but ctr plugins ls -d failed: timed out after 10s',
    );
  });

  it('does not read an old `invalid database` log line as corruption while CRI names a config error', () => {
    const facts = patched(cri17(), (f) => {
      f.logs.containerd = [{ id: 'invalid-database', count: 1, samples: ['error="invalid database"'] }];
    });
    expect(causes(analyze(facts, LENIENT))).toEqual(['cri-config-error']);
  });

  it('reads a CRI error that blames bolt as corruption (1.7.24 text)', () => {
    const facts = patched(cri17(), (f) => {
      f.plugins.errors = [
        {
          id: 'io.containerd.grpc.v1/cri',
          error:
            'failed to create containerd client: failed to get "io.containerd.lease.v1" plugin: invalid database',
        },
      ];
    });
    expect(causes(analyze(facts, LENIENT))).toEqual(['state-corruption']);
  });

  it('names the offending keys of each text', () => {
    expect(
      offendingKeys('invalid plugin config: `mirrors` cannot be set when `config_path` is provided'),
    ).toEqual(['mirrors', 'config_path']);
    expect(offendingKeys('failed to create CRI service: failed to find snapshotter "zfs-typo"')).toEqual([
      'snapshotter = "zfs-typo"',
    ]);
  });
});

describe('analyze: 10255, ignored keys, blind hosts, the deadline', () => {
  it('never takes pid=110255 for the read-only port (samples from a 1.0 script)', () => {
    const facts = patched(nodeBase(), (f) => {
      f.logs.kubelet = [{ id: 'read-only-port', count: 1, samples: ['shim exited pid=110255 status=0'] }];
    });
    expect(analyze(facts, LENIENT).notes.join('\n')).not.toContain('10255');
  });

  it('names ignored keys from logged `Ignoring unknown key in TOML` lines when the dump gave none', () => {
    const facts = patched(fixture('recorded/healthy-2.1.9.json'), (f) => {
      f.logs.containerd = [
        {
          id: 'unknown-toml-key',
          count: 2,
          samples: [
            'level=warning msg="Ignoring unknown key in TOML for plugin" error="strict mode" key=max_concurrent_streams plugin=io.containerd.grpc.v1.cri',
          ],
        },
      ];
    });
    expect(analyze(facts, LENIENT).notes.join('\n')).toMatch(
      /containerd 2\.1\.9\S* ignores these keys of \S+: io\.containerd\.grpc\.v1\.cri max_concurrent_streams\. They have no effect/,
    );
  });

  it('never says containerd-down, nor offers a restart, from a Bottlerocket control container', () => {
    const report = analyze(fixture('recorded/bottlerocket-view-1.7.24.json'), LENIENT);
    expect(causes(report)).not.toContain('containerd-down');
    expect(report.findings.flatMap((f) => f.remediations)).toEqual([]);
  });

  it('still says containerd-down on a systemd node where the daemon is stopped', () => {
    const facts = patched(CASES['containerd-down'].matched[0]!.facts(), (f) => {
      f.host = { status: 'ok', pid1: 'systemd', systemctl: true, os: 'Amazon Linux 2023', bottlerocket: [] };
    });
    expect(causes(analyze(facts, LENIENT))).toEqual(['containerd-down']);
  });

  it("reads 2.x's `failed to unmarshal TOML` log line as config-invalid when the dump could not run", () => {
    const facts = patched(fixture('recorded/config-invalid-2.1.9.json'), (f) => {
      f.config = { ...f.config, status: 'unknown', reason: 'containerd config dump timed out', parses: null };
      f.logs = {
        ...f.logs,
        status: 'ok',
        containerd: [
          {
            id: 'toml-unmarshal-failed',
            count: 1,
            samples: [
              "containerd: failed to unmarshal TOML at row 17 column 6: toml: expected '=' after key",
            ],
          },
        ],
      };
    });
    const finding = analyze(facts, LENIENT).findings.find((f) => f.cause === 'config-invalid')!;
    expect(finding).toMatchObject({ confidence: 'medium', remediations: ['fix-config-manually'] });
  });

  it('is not healthy, and says so, when the run stopped at its deadline', () => {
    const facts = patched(base(), (f) => {
      f.script.deadlineMs = 40_000;
      f.script.unfinished = ['logs', 'disk'];
    });
    const report = analyze(facts, LENIENT);
    expect(report.healthy).toBe(false);
    expect(report.notes).toContain(
      'the diagnosis stopped at its 40 s deadline before: logs, disk (left unknown)',
    );
  });
});
