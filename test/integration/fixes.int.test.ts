/**
 * The daemon-side fix scripts against a real containerd (the Debian package) in a sandbox, driven
 * through the local shell runner (the demo's code path, byte for byte the SSM documents' content),
 * with the sandbox's systemctl stand-in on PATH: restart-containerd, raise-nofile (never lowers,
 * keeps a backup, rolls back), collect-goroutine-dump, restart-kubelet, and the scripts' own input
 * checks. One daemon serves the whole file: every fault here is undone by the fix under test.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ShellCommandRunner } from '../../functions/adapters/local/shell-runner.js';
import { InvalidInputError } from '../../functions/core/errors.js';
import { REMEDIATION_LIST } from '../../functions/core/remediations/index.js';
import type { ContainerdSandbox } from '../../functions/local/sandbox/containerd.js';
import { FAULTS } from '../../functions/local/sandbox/faults.js';
import { fixProgram, PREAMBLE_INCLUDE, SCRIPTS_DIR } from '../../functions/scripts/program.js';
import { commandDocumentContent, exportPrelude, readScript } from '../../infra/documents.js';
import { describeWithContainerd } from '../support/containerd.js';
import { FIX_NODE, lastResult, nofile, runProgram, runSandboxFix, startSandbox } from '../support/fixes.js';

const FIXES_DIR = join(SCRIPTS_DIR, 'fixes');
/** The remediations that are scripts on the node (the others are EC2/ASG calls or a person's job). */
const NODE_FIXES = REMEDIATION_LIST.filter((r) => r.runsOn === 'node');

/** True when this machine lets the stand-in give containerd `limit` open files. */
function machineAllows(limit: number): boolean {
  return spawnSync('prlimit', [`--nofile=${limit}:${limit}`, 'true']).status === 0;
}

describe('every fix script', () => {
  const text = (name: string) => readFileSync(join(FIXES_DIR, name), 'utf8');
  const preamble = text('_preamble.sh');
  /** The preamble's code lines long enough to be its own (short ones like `}` are everywhere). */
  const preambleCode = preamble
    .split('\n')
    .filter((line) => line.trim().length >= 20 && !line.trimStart().startsWith('#'));

  it('exists for each remediation that runs on the node, and only for those, next to the one preamble', () => {
    expect(readdirSync(FIXES_DIR).sort()).toEqual(
      ['_preamble.sh', ...NODE_FIXES.map((r) => `${r.id}.sh`)].sort(),
    );
    expect(preambleCode.length).toBeGreaterThan(15);
  });

  it.each(NODE_FIXES.map((r) => r.id))(
    '%s is strict, names itself, includes the preamble once and carries no copy of it',
    (id) => {
      const script = text(`${id}.sh`);
      const lines = script.split('\n');
      expect(spawnSync('bash', ['-n', join(FIXES_DIR, `${id}.sh`)]).status).toBe(0);
      expect(lines.filter((line) => line === PREAMBLE_INCLUDE)).toHaveLength(1);
      const include = lines.indexOf(PREAMBLE_INCLUDE);
      expect(lines.indexOf('set -Eeuo pipefail')).toBeGreaterThan(-1);
      expect(lines.indexOf('set -Eeuo pipefail')).toBeLessThan(include);
      expect(lines.indexOf(`FIX=${id}`)).toBeGreaterThan(-1);
      expect(lines.indexOf(`FIX=${id}`)).toBeLessThan(include);
      expect(preambleCode.filter((line) => lines.includes(line))).toEqual([]);
    },
  );

  it.each(NODE_FIXES.map((r) => [r.id, r] as const))(
    '%s: the runner executes the script with the preamble in place of its include, exactly what the SSM document carries',
    (id, r) => {
      const program = new ShellCommandRunner().program(id);
      expect(program).toBe(text(`${id}.sh`).replace(`${PREAMBLE_INCLUDE}\n`, () => preamble));
      expect(program).toBe(fixProgram(id));
      expect(spawnSync('bash', ['-n', '-c', program]).status).toBe(0);
      const document = commandDocumentContent(r, readScript(SCRIPTS_DIR, id)) as {
        mainSteps: { inputs: { runCommand: string[] } }[];
      };
      const runCommand = document.mainSteps[0]?.inputs.runCommand ?? [];
      const prelude = exportPrelude(r.parameters);
      expect(runCommand.slice(0, prelude.length)).toEqual(prelude);
      expect(runCommand.slice(prelude.length).join('\n')).toBe(program);
    },
  );
});

describeWithContainerd('fix scripts against a real containerd', () => {
  let sb: ContainerdSandbox;
  const dropInDir = () => join(sb.systemdDir, 'containerd.service.d');
  const dropIn = () => join(dropInDir(), '90-nodemedic-nofile.conf');
  const backups = () =>
    readdirSync(dropInDir())
      .filter((f) => f.startsWith('90-nodemedic-nofile.conf.bak-'))
      .sort();

  beforeAll(async () => {
    sb = await startSandbox();
  });
  afterAll(async () => {
    await sb?.dispose();
  });

  describe('restart-containerd', () => {
    it.each(['daemon-stopped', 'socket-removed'] as const)('brings back a daemon after %s', async (fault) => {
      await FAULTS[fault].inject(sb);
      expect(await sb.answers()).toBe(false);

      const run = await runSandboxFix(sb, 'restart-containerd');

      expect(run.exitCode).toBe(0);
      expect(run.result).toMatchObject({ fix: 'restart-containerd', ok: true, changed: true, backup: null });
      expect(await sb.answers()).toBe(true);
    });
  });

  describe('raise-nofile', () => {
    it('raises the limit of a daemon at its fd limit, keeping the previous drop-in as .bak', async () => {
      // An earlier LimitNOFILE=4096 drop-in: the one the fix must keep for rollback.
      writeFileSync(dropIn(), '[Service]\nLimitNOFILE=4096\n');
      await sb.systemctl('daemon-reload');
      await sb.restartDaemon();
      expect(nofile(sb).hard).toBe(4096);
      await FAULTS['fd-exhaustion'].inject(sb);
      const before = nofile(sb);
      expect(before.hard).toBeLessThan(100);

      const run = await runSandboxFix(sb, 'raise-nofile', { nofile: '16384' });

      expect(run.exitCode).toBe(0);
      expect(run.result).toMatchObject({ ok: true, changed: true });
      expect(await sb.answers()).toBe(true);
      expect(nofile(sb)).toEqual({ soft: 16384, hard: 16384 });
      expect(readFileSync(dropIn(), 'utf8')).toMatch(/^\[Service\]\nLimitNOFILE=16384\n$/m);
      expect(backups()).toHaveLength(1);
      expect(run.result.backup).toBe(join(dropInDir(), backups()[0] ?? ''));
      expect(readFileSync(run.result.backup ?? '', 'utf8')).toBe('[Service]\nLimitNOFILE=4096\n');
    });

    it('is idempotent: the same request again changes nothing', async () => {
      const pid = sb.runningPid();
      const run = await runSandboxFix(sb, 'raise-nofile', { nofile: '16384' });
      expect(run.exitCode).toBe(0);
      expect(run.result).toMatchObject({ ok: true, changed: false, backup: null });
      expect(sb.pid()).toBe(pid);
      expect(backups()).toHaveLength(1);
    });

    it.each([
      ['a value below the current limit', '8192'],
      ['the runbook’s 65536 when the limit is already higher', '65536'],
    ])('never lowers: %s is a no-op', async (_, requested) => {
      if (requested === '65536') {
        // Make 65536 a lowering: configure a higher limit than it through systemd (no restart).
        writeFileSync(join(dropInDir(), '95-test-high.conf'), '[Service]\nLimitNOFILE=131072\n');
      }
      const pid = sb.runningPid();
      const dropInBefore = readFileSync(dropIn(), 'utf8');
      try {
        const run = await runSandboxFix(sb, 'raise-nofile', { nofile: requested });
        expect(run.exitCode).toBe(0);
        expect(run.result).toMatchObject({ ok: true, changed: false });
        expect(run.result.detail).toMatch(/never lowering/);
        expect(sb.pid()).toBe(pid);
        expect(readFileSync(dropIn(), 'utf8')).toBe(dropInBefore);
        expect(nofile(sb).hard).toBe(16384);
      } finally {
        rmSync(join(dropInDir(), '95-test-high.conf'), { force: true });
      }
    });

    it('with no value asks for max(current x 2, 1048576), and restores the drop-in if that does not take', async () => {
      const dropInBefore = readFileSync(dropIn(), 'utf8');
      const run = await runSandboxFix(sb, 'raise-nofile');
      expect(await sb.answers()).toBe(true);
      if (machineAllows(1_048_576)) {
        expect(run.exitCode).toBe(0);
        expect(nofile(sb).hard).toBe(1_048_576);
        // Put this file's expected state back: one step of rollback.
        expect((await runSandboxFix(sb, 'raise-nofile', { mode: 'rollback' })).exitCode).toBe(0);
      } else {
        // This machine caps the stand-in below 1048576 (no CAP_SYS_RESOURCE): the limit that came
        // up is not the one written, so the fix puts the previous drop-in back and says so.
        expect(run.exitCode).toBe(1);
        expect(run.result).toMatchObject({ ok: false, changed: false, backup: null });
        expect(run.result.detail).toMatch(/not 1048576.*restored the previous drop-in/);
        expect(readFileSync(dropIn(), 'utf8')).toBe(dropInBefore);
        expect(backups()).toHaveLength(1);
      }
      expect(nofile(sb).hard).toBe(16384);
    });

    it('rollback restores the previous drop-in and limit, then has nothing left to roll back', async () => {
      const first = await runSandboxFix(sb, 'raise-nofile', { mode: 'rollback' });
      expect(first.exitCode).toBe(0);
      expect(first.result).toMatchObject({ ok: true, changed: true });
      expect(readFileSync(dropIn(), 'utf8')).toBe('[Service]\nLimitNOFILE=4096\n');
      expect(backups()).toEqual([]);
      expect(await sb.answers()).toBe(true);
      expect(nofile(sb).hard).toBe(4096);

      const second = await runSandboxFix(sb, 'raise-nofile', { mode: 'rollback' });
      expect(second.result).toMatchObject({ ok: true, changed: false });
      expect(readFileSync(dropIn(), 'utf8')).toBe('[Service]\nLimitNOFILE=4096\n');
    });

    it('rollback removes a drop-in that did not exist before the fix wrote it', async () => {
      // Only a distribution's own drop-in sets the limit now; nodemedic's is gone.
      rmSync(dropIn());
      writeFileSync(join(dropInDir(), '10-distro.conf'), '[Service]\nLimitNOFILE=4096\n');
      await sb.systemctl('daemon-reload');
      await sb.restartDaemon();
      const applied = await runSandboxFix(sb, 'raise-nofile', { nofile: '8192' });
      expect(applied.result).toMatchObject({ ok: true, changed: true, backup: null });
      expect(nofile(sb).hard).toBe(8192);

      const rolledBack = await runSandboxFix(sb, 'raise-nofile', { mode: 'rollback' });
      expect(rolledBack.result).toMatchObject({ ok: true, changed: true });
      expect(existsSync(dropIn())).toBe(false);
      expect(readdirSync(dropInDir())).toEqual(['10-distro.conf']);
      expect(nofile(sb).hard).toBe(4096);
      expect(await sb.answers()).toBe(true);
    });
  });

  describe('collect-goroutine-dump', () => {
    it('has the daemon write its goroutine stacks and names the file', async () => {
      const pid = sb.runningPid();
      const file = `/tmp/containerd.${pid}.stacks.log`;
      try {
        const run = await runSandboxFix(sb, 'collect-goroutine-dump');
        expect(run.exitCode).toBe(0);
        expect(run.result).toMatchObject({ ok: true, changed: false });
        expect(run.result.detail).toContain(file);
        expect(readFileSync(file, 'utf8')).toMatch(/goroutine \d+/);
        expect(sb.pid()).toBe(pid);
        expect(await sb.answers()).toBe(true);
      } finally {
        rmSync(file, { force: true });
      }
    });
  });

  describe('restart-kubelet', () => {
    it('fails with a clear message where kubelet is not installed', async () => {
      const run = await runSandboxFix(sb, 'restart-kubelet');
      expect(run.exitCode).toBe(1);
      expect(run.result).toMatchObject({ ok: false, changed: false });
      expect(run.result.detail).toMatch(/kubelet is not installed/);
    });
  });

  describe('input the scripts refuse', () => {
    const hostile = [
      ['restart-containerd', 'address', ';rm -rf /'],
      ['raise-nofile', 'nofile', '$(id)'],
      ['raise-nofile', 'systemdDir', '/etc/systemd/system;id'],
      ['raise-grpc-message-size', 'messageSize', '`id`'],
      ['reset-state', 'root', '$(rm -rf /)'],
      ['reset-state', 'nodeName', 'node; id'],
      ['cordon-drain', 'nodeName', '$(id)'],
      ['upgrade-containerd', 'packageVersion', '1.7.0;id'],
    ] as const;

    it.each(hostile)('the runner refuses %s %s=%j before anything runs', async (script, name, value) => {
      const runner = new ShellCommandRunner({ env: sb.env() });
      await expect(
        runner.send({
          node: FIX_NODE,
          script,
          parameters: { ...sb.params(), [name]: value },
          timeoutSeconds: 30,
          comment: 'x',
        }),
      ).rejects.toThrow(InvalidInputError);
    });

    // Defence in depth: the same values handed straight to the script (as a tampered SSM document
    // or a person on the node might), plus values the patterns allow but the scripts still refuse.
    const envName: Record<string, string> = {
      address: 'NODEMEDIC_ADDRESS',
      nofile: 'NODEMEDIC_NOFILE',
      systemdDir: 'NODEMEDIC_SYSTEMD_DIR',
      messageSize: 'NODEMEDIC_MESSAGE_SIZE',
      root: 'NODEMEDIC_ROOT',
      nodeName: 'NODEMEDIC_NODE_NAME',
      packageVersion: 'NODEMEDIC_PACKAGE_VERSION',
      mode: 'NODEMEDIC_MODE',
    };
    const direct = [
      ...hostile,
      ['reset-state', 'root', '/var/lib/../../etc'],
      ['reset-state', 'root', '/var'],
      ['raise-nofile', 'nofile', '100'],
      ['raise-grpc-message-size', 'messageSize', '0'],
      ['raise-grpc-message-size', 'messageSize', '9999999999'],
      ['restart-containerd', 'mode', 'rollback'],
      ['reset-state', 'mode', 'rollback'],
      ['upgrade-containerd', 'packageVersion', ''],
    ] as const;

    it.each(direct)('%s exits 2 on %s=%j and changes nothing', (script, name, value) => {
      const pid = sb.runningPid();
      const config = readFileSync(sb.configPath, 'utf8');
      const r = runProgram(script, { ...sb.env(), [envName[name] ?? '']: value });
      expect(r.status).toBe(2);
      const result = lastResult(r.stdout);
      expect(result).toMatchObject({ fix: script, ok: false, changed: false, backup: null });
      expect(result.detail).toMatch(/^refused: /);
      expect(r.stderr).toContain('refused');
      expect(sb.pid()).toBe(pid);
      expect(readFileSync(sb.configPath, 'utf8')).toBe(config);
      expect(existsSync(sb.root)).toBe(true);
    });
  });
});
