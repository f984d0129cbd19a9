/**
 * The local CommandRunner keeps SSM's contract: validated parameters reach the script only as
 * environment variables, results are pending until the script ends, timeouts kill the whole
 * process group, stdout is capped at 24,000 characters, and bad input is a modelled error.
 * Scripts here are real bash files in a temp scripts dir, plus the real diagnose.sh against a
 * real containerd.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ShellCommandRunner } from '../../functions/adapters/local/shell-runner.js';
import { InvalidInputError } from '../../functions/core/errors.js';
import type { Facts } from '../../functions/core/facts.js';
import type { CommandRequest, NodeRef } from '../../functions/core/ports.js';
import { alive, ContainerdSandbox } from '../../functions/local/sandbox/containerd.js';
import { describeWithContainerd } from '../support/containerd.js';

const NODE: NodeRef = { instanceId: 'local-test', nodeName: null, cluster: 'local', autoScalingGroup: null };
const OTHER_NODE: NodeRef = { ...NODE, instanceId: 'local-other' };

function request(overrides: Partial<CommandRequest> = {}): CommandRequest {
  return {
    node: NODE,
    script: 'diagnose',
    parameters: {},
    timeoutSeconds: 30,
    comment: 'test',
    ...overrides,
  };
}

describe('ShellCommandRunner', () => {
  let scripts: string;
  const write = (rel: string, body: string) => {
    const path = join(scripts, rel);
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, `#!/usr/bin/env bash\n${body}\n`);
  };

  beforeAll(() => {
    scripts = mkdtempSync(join(tmpdir(), 'nodemedic-scripts-'));
  });
  afterAll(() => {
    rmSync(scripts, { recursive: true, force: true });
  });

  it('passes parameters only as NODEMEDIC_* environment variables, never as arguments', async () => {
    write('diagnose.sh', 'echo "args=$# address=$NODEMEDIC_ADDRESS mode=$NODEMEDIC_MODE extra=$EXTRA"');
    const runner = new ShellCommandRunner({ scriptsDir: scripts, env: { EXTRA: 'from-options' } });
    const { commandId } = await runner.send(
      request({ parameters: { address: '/run/x/containerd.sock', mode: 'rollback' } }),
    );
    const inv = await runner.wait(commandId, NODE);
    expect(inv).toMatchObject({ status: 'success', detail: 'Success', exitCode: 0, stdoutTruncated: false });
    expect(inv.stdout).toBe('args=0 address=/run/x/containerd.sock mode=rollback extra=from-options\n');
  });

  it('reports pending until the script ends, then its result', async () => {
    write('fixes/restart-containerd.sh', 'sleep 0.5; echo done; echo warn >&2; exit 3');
    const runner = new ShellCommandRunner({ scriptsDir: scripts });
    const { commandId } = await runner.send(request({ script: 'restart-containerd' }));
    expect((await runner.get(commandId, NODE)).status).toBe('pending');
    await runner.wait(commandId, NODE);
    expect(await runner.get(commandId, NODE)).toMatchObject({
      status: 'failed',
      detail: 'Failed',
      exitCode: 3,
      stdout: 'done\n',
      stderr: 'warn\n',
    });
  });

  it('kills the whole process group on timeout and says timed-out', async () => {
    const pidFile = join(scripts, 'grandchild.pid');
    write('fixes/reset-state.sh', `sleep 300 & echo $! > ${pidFile}; wait`);
    const runner = new ShellCommandRunner({ scriptsDir: scripts });
    const { commandId } = await runner.send(request({ script: 'reset-state', timeoutSeconds: 1 }));
    const inv = await runner.wait(commandId, NODE);
    expect(inv).toMatchObject({ status: 'timed-out', detail: 'TimedOut', exitCode: null });
    const grandchild = Number(readFileSync(pidFile, 'utf8'));
    // SIGTERM reaches the group at once; allow the kernel a moment to deliver it.
    for (let i = 0; i < 40 && alive(grandchild); i++) await new Promise((r) => setTimeout(r, 50));
    expect(alive(grandchild)).toBe(false);
  });

  it('cancels a running command like CancelCommand: the whole group is killed and it says cancelled', async () => {
    const pidFile = join(scripts, 'cancelled-grandchild.pid');
    write('fixes/restart-kubelet.sh', `sleep 300 & echo $! > ${pidFile}; wait`);
    const runner = new ShellCommandRunner({ scriptsDir: scripts });
    const { commandId } = await runner.send(request({ script: 'restart-kubelet', timeoutSeconds: 60 }));
    for (let i = 0; i < 40 && !existsSync(pidFile); i++) await new Promise((r) => setTimeout(r, 50));
    expect((await runner.get(commandId, NODE)).status).toBe('pending');
    await runner.cancel(commandId, NODE);
    const inv = await runner.wait(commandId, NODE);
    expect(inv).toMatchObject({ status: 'cancelled', detail: 'Cancelled', exitCode: null });
    const grandchild = Number(readFileSync(pidFile, 'utf8'));
    for (let i = 0; i < 40 && alive(grandchild); i++) await new Promise((r) => setTimeout(r, 50));
    expect(alive(grandchild)).toBe(false);
    // A command that ended keeps its status; an unknown one is refused like SSM's InvalidCommandId.
    await runner.cancel(commandId, NODE);
    expect((await runner.get(commandId, NODE)).status).toBe('cancelled');
    await expect(runner.cancel('nope', NODE)).rejects.toMatchObject({ code: 'COMMAND_NOT_FOUND' });
  });

  it('caps stdout like SSM and flags the truncation', async () => {
    write('fixes/raise-nofile.sh', "head -c 30000 /dev/zero | tr '\\0' x");
    const runner = new ShellCommandRunner({ scriptsDir: scripts });
    const { commandId } = await runner.send(request({ script: 'raise-nofile' }));
    const inv = await runner.wait(commandId, NODE);
    expect(inv.stdout).toHaveLength(24_000);
    expect(inv.stdoutTruncated).toBe(true);
  });

  it('reports a missing fix script as a failed command naming the path', async () => {
    const runner = new ShellCommandRunner({ scriptsDir: scripts });
    const { commandId } = await runner.send(request({ script: 'upgrade-containerd' }));
    const inv = await runner.get(commandId, NODE);
    expect(inv.status).toBe('failed');
    expect(inv.stderr).toContain(join(scripts, 'fixes', 'upgrade-containerd.sh'));
  });

  it.each([
    [
      'a value outside allowedPattern',
      { parameters: { address: '/run/x; reboot' } },
      /"address" does not match/,
    ],
    ['an unknown parameter', { parameters: { shell: '/bin/sh' } }, /unknown script parameter "shell"/],
    ['an unknown script', { script: '../../etc/passwd' as CommandRequest['script'] }, /unknown script/],
    ['a non-positive timeout', { timeoutSeconds: 0 }, /timeoutSeconds/],
  ])('refuses %s with InvalidInputError before running anything', async (_, overrides, message) => {
    const runner = new ShellCommandRunner({ scriptsDir: scripts });
    const sent = runner.send(request(overrides));
    await expect(sent).rejects.toBeInstanceOf(InvalidInputError);
    await expect(sent).rejects.toThrow(message);
  });

  it('answers an unknown command id, or another node, with a modelled error', async () => {
    write('diagnose.sh', 'echo ok');
    const runner = new ShellCommandRunner({ scriptsDir: scripts });
    await expect(runner.get('no-such-id', NODE)).rejects.toMatchObject({ code: 'COMMAND_NOT_FOUND' });
    const { commandId } = await runner.send(request());
    await expect(runner.get(commandId, OTHER_NODE)).rejects.toBeInstanceOf(InvalidInputError);
  });
});

describeWithContainerd('ShellCommandRunner with the real diagnose.sh', () => {
  let sb: ContainerdSandbox | undefined;
  afterEach(async () => {
    await sb?.dispose();
    sb = undefined;
  });

  it('runs the diagnosis against a sandbox and returns its facts', async () => {
    sb = await ContainerdSandbox.start();
    const runner = new ShellCommandRunner({ env: sb.env() });
    const { commandId } = await runner.send(request({ parameters: sb.params(), timeoutSeconds: 60 }));
    const inv = await runner.wait(commandId, NODE);
    expect(inv.status).toBe('success');
    const facts = JSON.parse(inv.stdout) as Facts;
    expect(facts.paths.address).toBe(sb.address);
    expect(facts.containerd.pid).toBe(sb.pid());
    expect(facts.containerd.pidSource).toBe('systemd');
  });

  it('disposes every process the sandbox started', async () => {
    sb = await ContainerdSandbox.start();
    const pid = sb.pid();
    expect(pid).not.toBeNull();
    await sb.holdConnections(3);
    await sb.dispose();
    expect(alive(pid as number)).toBe(false);
    expect(existsSync(sb.dir)).toBe(false);
    await sb.dispose(); // idempotent
  });
});
