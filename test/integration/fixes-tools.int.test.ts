import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installedContainerd } from '../../functions/local/sandbox/containerd.js';
import { describeWithContainerd } from '../support/containerd.js';
import { pathWithout, runFix } from '../support/fixes.js';

const NODE_NAME = 'ip-10-0-1-23.ec2.internal';

let work: string;
let argvLog: string;
let counter = 0;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'nodemedic-fix-tools-'));
  argvLog = join(work, 'argv.log');
});
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/**
 * A bin dir of stand-ins: each records "<tool> <argv>" in argvLog, and fails (exit 1) when its
 * argv contains the word in $STANDIN_FAIL.
 */
function standIns(...tools: string[]): string {
  const dir = join(work, `bin-${++counter}`);
  mkdirSync(dir);
  const script = [
    '#!/usr/bin/env bash',
    'tool=$(basename "$0")',
    `printf '%s %s\\n' "$tool" "$*" >>${JSON.stringify(argvLog)}`,
    'if [[ -n $STANDIN_FAIL && " $* " == *" $STANDIN_FAIL "* ]]; then echo "stand-in: $STANDIN_FAIL failed" >&2; exit 1; fi',
    'echo "stand-in $tool: $*"',
  ].join('\n');
  for (const tool of tools) {
    writeFileSync(join(dir, tool), `${script}\n`);
    chmodSync(join(dir, tool), 0o755);
  }
  return dir;
}

/** What the stand-ins were called with, one "<tool> <argv>" per call, then forget it. */
function calls(): string[] {
  if (!existsSync(argvLog)) return [];
  const lines = readFileSync(argvLog, 'utf8').split('\n').filter(Boolean);
  rmSync(argvLog);
  return lines;
}

describeWithContainerd('upgrade-containerd through the package manager only', () => {
  /** The installed binary's X.Y.Z, as the script reads it. */
  let installed: string;
  let dnf: string;
  let apt: string;

  beforeAll(() => {
    installed = installedContainerd()?.release ?? '';
    expect(installed).toMatch(/^\d+\.\d+\.\d+$/);
    dnf = `${standIns('dnf', 'yum', 'apt-get', 'apt-mark')}:${process.env.PATH}`;
    apt = `${standIns('apt-get', 'apt-mark')}:${pathWithout(join(work, `path-${++counter}`), 'dnf', 'yum')}`;
  });

  it.each([
    ['without a pinned version', '', /NODEMEDIC_PACKAGE_VERSION is required/],
    ['a downgrade', '1.0.0', /below the installed .*no downgrade/],
  ])('refuses %s (exit 2) and never calls the package manager', async (_, version, message) => {
    const run = await runFix('upgrade-containerd', { packageVersion: version }, { PATH: dnf });
    expect(run.exitCode).toBe(2);
    expect(run.result).toMatchObject({ ok: false, changed: false });
    expect(run.result.detail).toMatch(message);
    expect(calls()).toEqual([]);
  });

  it('does nothing when the pinned version is installed already', async () => {
    const run = await runFix('upgrade-containerd', { packageVersion: installed }, { PATH: dnf });
    expect(run.exitCode).toBe(0);
    expect(run.result).toMatchObject({ ok: true, changed: false });
    expect(calls()).toEqual([]);
  });

  it('dnf: unlocks, installs the pinned version, locks again, then checks the binary it got', async () => {
    const run = await runFix(
      'upgrade-containerd',
      { packageVersion: '99.1.0-1.amzn2023.0.1' },
      { PATH: dnf },
    );
    expect(calls()).toEqual([
      'dnf -y versionlock delete containerd',
      'dnf -y install containerd-99.1.0-1.amzn2023.0.1',
      'dnf -y versionlock add containerd',
    ]);
    // The stand-in installed nothing: the script sees the same binary and does not claim success.
    expect(run.exitCode).toBe(1);
    expect(run.result).toMatchObject({ ok: false, changed: false });
    expect(run.result.detail).toMatch(`containerd --version says ${installed}, not 99.1.0`);
  });

  it('dnf: a failed install puts the version lock back', async () => {
    const run = await runFix(
      'upgrade-containerd',
      { packageVersion: '99.1.0' },
      { PATH: dnf, STANDIN_FAIL: 'install' },
    );
    expect(run.exitCode).toBe(1);
    expect(run.result.detail).toMatch(/install containerd-99\.1\.0 failed; the lock is back/);
    expect(calls()).toEqual([
      'dnf -y versionlock delete containerd',
      'dnf -y install containerd-99.1.0',
      'dnf -y versionlock add containerd',
    ]);
  });

  it('apt: unholds, installs the pinned version keeping the config, holds again', async () => {
    const run = await runFix('upgrade-containerd', { packageVersion: '99.1.0-0ubuntu1' }, { PATH: apt });
    expect(calls()).toEqual([
      'apt-mark unhold containerd',
      'apt-get install -y -o Dpkg::Options::=--force-confold containerd=99.1.0-0ubuntu1',
      'apt-mark hold containerd',
    ]);
    expect(run.exitCode).toBe(1);
    expect(run.result.detail).toMatch(/apt reported success but containerd --version says/);
  });
});

describe('cordon-drain with kubectl', () => {
  let kubectl: string;
  let kubeconfig: string;

  beforeAll(() => {
    kubectl = `${standIns('kubectl')}:${process.env.PATH}`;
    kubeconfig = join(work, 'admin.conf');
    writeFileSync(kubeconfig, 'apiVersion: v1\nkind: Config\n');
  });

  it('refuses without a node name (exit 2)', async () => {
    const run = await runFix('cordon-drain', { nodeName: '' }, { PATH: kubectl, KUBECONFIG: kubeconfig });
    expect(run.exitCode).toBe(2);
    expect(run.result.detail).toMatch(/NODEMEDIC_NODE_NAME is required/);
    expect(calls()).toEqual([]);
  });

  it('fails clearly where kubectl is not installed, so a person is asked instead', async () => {
    const run = await runFix(
      'cordon-drain',
      { nodeName: NODE_NAME },
      { PATH: pathWithout(join(work, `path-${++counter}`), 'kubectl'), KUBECONFIG: kubeconfig },
    );
    expect(run.exitCode).toBe(1);
    expect(run.result).toMatchObject({ ok: false, changed: false });
    expect(run.result.detail).toBe(
      `kubectl is not installed on this node: cordon and drain ${NODE_NAME} by hand`,
    );
  });

  it('fails clearly without an admin kubeconfig', async () => {
    // This machine has none of the standard ones; the test names the assumption.
    expect(existsSync('/etc/kubernetes/admin.conf') || existsSync('/root/.kube/config')).toBe(false);
    const run = await runFix('cordon-drain', { nodeName: NODE_NAME }, { PATH: kubectl, KUBECONFIG: '' });
    expect(run.exitCode).toBe(1);
    expect(run.result.detail).toMatch(/no admin kubeconfig/);
    expect(calls()).toEqual([]);
  });

  it('cordons, then drains with bounded kubectl calls', async () => {
    const run = await runFix(
      'cordon-drain',
      { nodeName: NODE_NAME },
      { PATH: kubectl, KUBECONFIG: kubeconfig },
    );
    expect(run.exitCode).toBe(0);
    expect(run.result).toMatchObject({ ok: true, changed: true });
    expect(calls()).toEqual([
      `kubectl --kubeconfig ${kubeconfig} cordon ${NODE_NAME}`,
      `kubectl --kubeconfig ${kubeconfig} drain ${NODE_NAME} --ignore-daemonsets --delete-emptydir-data --timeout=240s`,
    ]);
  });

  it('leaves the node cordoned when the drain fails', async () => {
    const run = await runFix(
      'cordon-drain',
      { nodeName: NODE_NAME },
      { PATH: kubectl, KUBECONFIG: kubeconfig, STANDIN_FAIL: 'drain' },
    );
    expect(run.exitCode).toBe(1);
    expect(run.result).toMatchObject({ ok: false, changed: true });
    expect(run.result.detail).toMatch(/drain .* failed; the node stays cordoned/);
    expect(calls().map((c) => c.split(' ')[3])).toEqual(['cordon', 'drain']);
  });

  it('rollback uncordons', async () => {
    const run = await runFix(
      'cordon-drain',
      { nodeName: NODE_NAME, mode: 'rollback' },
      { PATH: kubectl, KUBECONFIG: kubeconfig },
    );
    expect(run.exitCode).toBe(0);
    expect(run.result).toMatchObject({ ok: true, changed: true });
    expect(calls()).toEqual([`kubectl --kubeconfig ${kubeconfig} uncordon ${NODE_NAME}`]);
  });
});
