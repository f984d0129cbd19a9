/**
 * The diagnosis script's mechanics against a bare containerd in a sandbox, through the CLI's
 * diagnose command (the same runner and script as the demo and, byte for byte, SSM): the config
 * line it quotes, [grpc] keys from imported files, the daemon it picks where no systemd answers,
 * exact JSON whatever the log holds, the output cap, the CLI process. One fresh sandbox per case.
 * Every fault under real systemd, named right on containerd 1.6, 1.7 and 2.x, is the lab's fault
 * matrix: test/lab/matrix.ts.
 */
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ShellCommandRunner } from '../../functions/adapters/local/shell-runner.js';
import { diagnoseCommand } from '../../functions/cli/diagnose.js';
import { main } from '../../functions/cli/main.js';
import { type Facts, LOG_SIGNATURES } from '../../functions/core/facts.js';
import type { Report } from '../../functions/core/model.js';
import type { CommandInvocation, NodeRef } from '../../functions/core/ports.js';
import { ContainerdSandbox, installedContainerd } from '../../functions/local/sandbox/containerd.js';
import { FAULTS, INVALID_CONFIG_LINE, invalidConfigLine } from '../../functions/local/sandbox/faults.js';
import { captureIo } from '../support/capture-io.js';
import { describeWithContainerd } from '../support/containerd.js';

const REPO = join(import.meta.dirname, '..', '..');
const NODE: NodeRef = { instanceId: 'local-test', nodeName: null, cluster: 'local', autoScalingGroup: null };
const OUTPUT_LIMIT = 20_000;

/** The installed containerd's X.Y.Z. */
function installedVersion(): string {
  const installed = installedContainerd();
  if (!installed) throw new Error('cannot read the installed containerd version from `containerd --version`');
  return installed.release;
}

interface Diagnosis {
  readonly code: number;
  readonly report: Report;
  readonly invocation: CommandInvocation;
  readonly wallMs: number;
}

/** `nodemedic diagnose --json` in-process against a sandbox, keeping the script's raw stdout. */
async function diagnose(sb: ContainerdSandbox, minVersion: string): Promise<Diagnosis> {
  const cap = captureIo();
  let invocation: CommandInvocation | undefined;
  const args = ['--address', sb.address, '--config', sb.configPath, '--root', sb.root, '--state', sb.state];
  args.push('--log-file', sb.logFile, '--min-version', minVersion, '--json');
  const t0 = performance.now();
  const code = await diagnoseCommand(args, cap.io, {
    runner: { env: sb.env() },
    onInvocation: (inv) => {
      invocation = inv;
    },
  });
  const wallMs = Math.round(performance.now() - t0);
  expect(cap.err(), 'diagnose wrote an error').toBe('');
  if (!invocation) throw new Error('the script never ran');
  return { code, report: JSON.parse(cap.out()) as Report, invocation, wallMs };
}

/** diagnose.sh alone through the local runner against a sandbox's paths, as SSM would run it. */
async function runScript(
  target: ContainerdSandbox,
  env: Record<string, string> = target.env(),
): Promise<CommandInvocation> {
  const runner = new ShellCommandRunner({ env });
  const { commandId } = await runner.send({
    node: NODE,
    script: 'diagnose',
    parameters: target.params(),
    timeoutSeconds: 60,
    comment: 'test',
  });
  return runner.wait(commandId, NODE);
}

/** The script's contract on every run: one valid JSON document, under the cap, schema 1. */
function expectWellFormed(invocation: CommandInvocation): Facts {
  expect(invocation.status).toBe('success');
  expect(invocation.exitCode).toBe(0);
  expect(invocation.stdoutTruncated).toBe(false);
  expect(invocation.stdout.length).toBeLessThan(OUTPUT_LIMIT);
  expect(invocation.stdout.trim().split('\n')).toHaveLength(1);
  const facts = JSON.parse(invocation.stdout) as Facts;
  expect(facts.schema).toBe(1);
  return facts;
}

const figures: string[] = [];

describeWithContainerd('diagnose against a real containerd', () => {
  let sb: ContainerdSandbox | undefined;
  let installed: string;

  beforeAll(() => {
    installed = installedVersion();
    return () => {
      // Printed once per run: the figures the closing note asks for.
      console.log(`diagnose figures (containerd ${installed}):\n${figures.join('\n')}`);
    };
  });

  afterEach(async () => {
    await sb?.dispose();
    sb = undefined;
  });

  it('quotes the line containerd fails at when the config does not parse', async () => {
    sb = await ContainerdSandbox.start();
    await FAULTS['config-invalid'].inject(sb);
    const line = invalidConfigLine(sb);
    expect(line).not.toBeNull();
    const d = await diagnose(sb, installed);
    const finding = d.report.findings.find((f) => f.cause === 'config-invalid');
    const evidence = finding?.evidence.map((e) => e.text).join('\n') ?? '';
    expect(evidence).toContain(`line ${line}`);
    expect(evidence).toContain(INVALID_CONFIG_LINE);
    expect((d.report.facts as Facts).config.errorLine).toBe(line);
  });

  it('reads [grpc] keys from imported files and notes max_concurrent_streams as a no-op', async () => {
    sb = await ContainerdSandbox.start();
    const confD = join(sb.dir, 'conf.d');
    mkdirSync(confD);
    writeFileSync(join(confD, '50-grpc.toml'), '[grpc]\n  max_concurrent_streams = 1000\n');
    const config = readFileSync(sb.configPath, 'utf8');
    writeFileSync(sb.configPath, `imports = ["${confD}/*.toml"]\n${config}`);
    await sb.restartDaemon();
    const d = await diagnose(sb, installed);
    const facts = expectWellFormed(d.invocation);
    expect(facts.config.parses).toBe(true);
    expect(facts.config.imports).toEqual([join(confD, '50-grpc.toml')]);
    expect(facts.config.grpc).toContain('max_concurrent_streams = 1000');
    expect(d.report.notes.join('\n')).toContain('max_concurrent_streams');
  });

  it('picks the daemon serving its address when several run and no systemd answers', async () => {
    sb = await ContainerdSandbox.start();
    const other = await ContainerdSandbox.start();
    try {
      for (const target of [sb, other]) {
        const facts = expectWellFormed(await runScript(target, { NODEMEDIC_SANDBOX: '' }));
        expect(facts.containerd.pidSource).toBe('pgrep');
        expect(facts.containerd.pid).toBe(target.pid());
      }
    } finally {
      await other.dispose();
    }
  });

  it('keeps every log sample exact JSON, whatever bytes the log holds', async () => {
    sb = await ContainerdSandbox.start();
    const nasty =
      'level=error msg="dial: too many open files" path=C:\\tmp\\x "quoted" \t tab \u0001\u001f\u007f ünïcode ✓';
    appendFileSync(sb.logFile, `${nasty}\n`);
    const facts = expectWellFormed(await runScript(sb));
    const match = facts.logs.containerd.find((m) => m.id === 'too-many-open-files');
    // Tabs become spaces (samples are one field each); everything else round-trips.
    expect(match?.samples.at(-1)).toBe(nasty.replace(/\t/g, ' '));
  });

  it('stays under 20,000 characters when every signature matches thousands of long lines', async () => {
    sb = await ContainerdSandbox.start();
    const filler = '"\\'.repeat(400);
    const block = Object.values(LOG_SIGNATURES)
      .map((text) => `kubelet containerd.sock shim ${text} ${filler}`)
      .join('\n');
    appendFileSync(sb.logFile, `${Array.from({ length: 200 }, () => block).join('\n')}\n`);
    const inv = await runScript(sb);
    const facts = expectWellFormed(inv);
    figures.push(`log flood: ${inv.stdout.length} chars`);
    expect(facts.logs.containerd.map((m) => m.id).sort()).toEqual(Object.keys(LOG_SIGNATURES).sort());
    for (const m of facts.logs.containerd) {
      expect(m.count).toBe(200);
      for (const s of m.samples) expect(s.length).toBeLessThanOrEqual(300);
    }
  });
});

describeWithContainerd('npm run nodemedic -- diagnose (the real process)', () => {
  let sb: ContainerdSandbox | undefined;
  afterEach(async () => {
    await sb?.dispose();
    sb = undefined;
  });

  it('prints a readable report and exits 1 when the daemon is down', async () => {
    sb = await ContainerdSandbox.start();
    await FAULTS['daemon-stopped'].inject(sb);
    const args = ['--address', sb.address, '--config', sb.configPath, '--root', sb.root, '--state', sb.state];
    args.push('--log-file', sb.logFile, '--min-version', installedVersion());
    const child = spawn(
      join(REPO, 'node_modules', '.bin', 'tsx'),
      ['functions/cli/main.ts', 'diagnose', ...args],
      {
        cwd: REPO,
        env: { ...process.env, ...sb.env() },
      },
    );
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(1);
    expect(out).toMatch(/\[CRITICAL\] containerd-down: /);
    expect(out).toMatch(/evidence:/);
    expect(out).toMatch(/1\) restart-containerd/);
  });
});

describe('diagnose usage errors', () => {
  it.each([
    [['--bogus'], /Unknown option '--bogus'/],
    [['--address', 'relative/path'], /script parameter "address" does not match/],
    [['--address', '/run/x;reboot'], /script parameter "address" does not match/],
    [['--min-version', 'latest'], /--min-version: not a version/],
    [['--timeout', '0'], /--timeout/],
    [['extra'], /positional/i],
  ])('%j exits 2 naming the problem', async (args, message) => {
    const cap = captureIo();
    expect(await diagnoseCommand(args, cap.io)).toBe(2);
    expect(cap.err()).toMatch(message);
    expect(cap.err().trim().split('\n')).toHaveLength(1);
    expect(cap.out()).toBe('');
  });

  it('--help documents every flag', async () => {
    const cap = captureIo();
    expect(await diagnoseCommand(['--help'], cap.io)).toBe(0);
    for (const flag of [
      '--address',
      '--config',
      '--root',
      '--state',
      '--log-file',
      '--min-version',
      '--json',
    ]) {
      expect(cap.out()).toContain(flag);
    }
  });
});

describe('nodemedic <command> dispatch', () => {
  it.each([
    [['frob'], 2, /unknown command "frob"/],
    [[], 2, /Usage: nodemedic <command>/],
    [['parse-alarm', join(REPO, 'test', 'fixtures', 'alarms', 'composite.json')], 2, /composite alarm/],
  ])('%j exits %i', async (argv, code, message) => {
    const cap = captureIo();
    expect(await main(argv, cap.io)).toBe(code);
    expect(cap.err()).toMatch(message);
  });

  it('--help lists every command', async () => {
    const cap = captureIo();
    expect(await main(['--help'], cap.io)).toBe(0);
    expect(cap.out()).toMatch(/diagnose/);
    expect(cap.out()).toMatch(/parse-alarm/);
  });
});
