/**
 * `npm run demo -- --fault all --auto-approve`, exactly as a new user runs it: every fault is
 * injected into a real containerd, diagnosed through the real pipeline, and every fault that has
 * a fix that can run on this machine is approved, fixed and verified as recovered.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it, onTestFinished } from 'vitest';
import { describeWithContainerd } from '../support/containerd.js';

describeWithContainerd('npm run demo -- --fault all --auto-approve', () => {
  it('recovers every fault that has a fix, and names each cause', { timeout: 600_000 }, () => {
    // The demo's sandboxes go under a dir of its own, so the leftover check below cannot mistake
    // another suite's sandbox (vitest runs files side by side) for one the demo left behind.
    const tmp = mkdtempSync(join(tmpdir(), 'nm-demo-'));
    onTestFinished(() => rmSync(tmp, { recursive: true, force: true }));
    const run = spawnSync('npm', ['run', '-s', 'demo', '--', '--fault', 'all', '--auto-approve'], {
      encoding: 'utf8',
      timeout: 590_000,
      env: { ...process.env, FORCE_COLOR: '0', TMPDIR: tmp },
    });
    const output = `${run.stdout}\n${run.stderr}`;
    expect(run.status, output.slice(-4000)).toBe(0);
    const rows = Object.fromEntries(
      output
        .split('\n')
        .filter((line) => /^\| [a-z-]+ +\|/.test(line) && !line.startsWith('| fault '))
        .map((line) => {
          const cells = line.split('|').map((c) => c.trim());
          return [cells[1], { cause: cells[2], fix: cells[3], result: cells[4] }];
        }),
    );
    expect(rows).toMatchObject({
      'daemon-stopped': {
        cause: expect.stringContaining('containerd-down'),
        fix: 'restart-containerd',
        result: 'recovered',
      },
      'fd-exhaustion': {
        cause: expect.stringContaining('fd-exhaustion'),
        fix: 'raise-nofile',
        result: 'recovered',
      },
      'socket-removed': {
        cause: expect.stringContaining('socket-unreachable'),
        fix: 'restart-containerd',
        result: 'recovered',
      },
      'metadata-corrupt': {
        cause: expect.stringContaining('state-corruption'),
        fix: 'reset-state',
        result: 'recovered',
      },
      'config-invalid': { cause: expect.stringContaining('config-invalid'), result: 'no fix offered' },
      'grpc-limits': {
        cause: expect.stringContaining('grpc-limits'),
        fix: 'raise-grpc-message-size',
        result: 'recovered',
      },
      'outdated-version': { cause: expect.stringContaining('outdated-version'), result: 'no local fix' },
    });
    // Nothing left behind: no sandbox daemon outlives the demo.
    const left = spawnSync('pgrep', ['-f', `${tmp}/nodemedic-sb-.*/config.toml`], { encoding: 'utf8' });
    expect(left.stdout.trim()).toBe('');
    // ...and no sandbox directory either.
    expect(readdirSync(tmp).filter((name) => name.startsWith('nodemedic-sb-'))).toEqual([]);
  });
});
