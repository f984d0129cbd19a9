/**
 * diagnose.sh's own guarantees, proven by running it: the run's deadline below the SSM document's
 * timeout (a wedged real daemon leaves the rest of the run `unknown`, never a cut document), the
 * 10255 signature, and no `systemctl show --value` (systemd before 230 lacks it).
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { analyze, parseFacts } from '../../functions/core/analyze.js';
import { DIAGNOSE_TIMEOUT_SECONDS } from '../../functions/core/script-params.js';
import { ContainerdSandbox } from '../../functions/local/sandbox/containerd.js';
import { describeWithContainerd } from '../support/containerd.js';

const SCRIPT = join(import.meta.dirname, '..', '..', 'functions', 'scripts', 'diagnose.sh');
const TEXT = readFileSync(SCRIPT, 'utf8');

/** Run the real script against a sandbox, bounded well above any deadline under test. */
function diagnose(sb: ContainerdSandbox, extra: Record<string, string> = {}) {
  const t0 = Date.now();
  const r = spawnSync('bash', [SCRIPT], {
    env: { ...process.env, ...sb.env(), ...extra },
    encoding: 'utf8',
    timeout: 90_000,
  });
  return { ...r, ms: Date.now() - t0 };
}

describe('diagnose.sh, read as text', () => {
  it('never uses `systemctl show --value` (absent before systemd 230, e.g. AL2 has 219)', () => {
    const code = TEXT.split('\n').filter((line) => !/^\s*#/.test(line));
    expect(code.filter((line) => line.includes('--value'))).toEqual([]);
    expect(TEXT).toMatch(/systemctl show -p "\$2" "\$1"/);
  });

  it('states a deadline that, with its kill grace, stays below the SSM document timeout', () => {
    const deadline = Number(/^DEADLINE_S=(\d+)$/m.exec(TEXT)?.[1]);
    expect(deadline + 1).toBeLessThan(DIAGNOSE_TIMEOUT_SECONDS);
    expect(TEXT).toContain(`enforces its own DEADLINE_S (${deadline} s)`);
    // The header's sum of the probes' bounds is the reason for the deadline: it exceeds the timeout.
    const sum = Number(/add up to about (\d+) s/.exec(TEXT)?.[1]);
    expect(sum).toBeGreaterThan(DIAGNOSE_TIMEOUT_SECONDS);
  });
});

describeWithContainerd('diagnose.sh against a real containerd', () => {
  let sb: ContainerdSandbox | undefined;
  let stopped: number | null = null;
  afterEach(async () => {
    if (stopped !== null) process.kill(stopped, 'SIGCONT');
    stopped = null;
    await sb?.dispose();
    sb = undefined;
  });

  it('prints the whole document by its deadline when the daemon wedges, the rest `unknown`', async () => {
    sb = await ContainerdSandbox.start();
    stopped = sb.runningPid();
    // SIGSTOP: the socket accepts, nothing answers (ctr would wait its full 15 s bound).
    process.kill(stopped, 'SIGSTOP');
    const r = diagnose(sb, { NODEMEDIC_DEADLINE_SECONDS: '5' });
    expect(r.status).toBe(0);
    // 5 s deadline + 1 s kill grace + bash start and printing.
    expect(r.ms).toBeLessThan(7_500);
    const facts = parseFacts(r.stdout);
    expect(facts.script.deadlineMs).toBe(5_000);
    expect(facts.socket.call).toMatchObject({ ok: false, exitCode: 124 });
    expect(facts.script.unfinished).toEqual(expect.arrayContaining(['config', 'logs', 'disk']));
    expect(facts.config).toMatchObject({
      status: 'unknown',
      reason: "not run: the run's 5 s deadline had passed",
    });
    expect(facts.disk.status).toBe('unknown');
    const report = analyze(facts, { versionPolicy: { minimum: '1.6.0' } });
    expect(report.healthy).toBe(false);
    expect(report.notes.join('\n')).toContain('the diagnosis stopped at its 5 s deadline before: ');
  });

  it('matches the read-only port 10255, never the digits inside pid=110255', async () => {
    sb = await ContainerdSandbox.start();
    appendFileSync(sb.logFile, 'kubelet: shim reaped pid=110255 status=0\n');
    let facts = parseFacts(diagnose(sb).stdout);
    expect(facts.logs.containerd.map((m) => m.id)).not.toContain('read-only-port');
    appendFileSync(
      sb.logFile,
      'kubelet: Get "http://127.0.0.1:10255/pods": dial tcp 127.0.0.1:10255: connect: connection refused\n',
    );
    facts = parseFacts(diagnose(sb).stdout);
    expect(facts.logs.containerd.find((m) => m.id === 'read-only-port')?.count).toBe(1);
  });
});

/** Mounting a tmpfs needs root: locally a non-root run skips, under CI it fails instead. */
function requireRoot(): boolean {
  if (process.getuid?.() === 0) return true;
  if (process.env.CI === 'true')
    throw new Error('the disk-full test mounts a tmpfs and needs root under CI=true');
  return false;
}

describeWithContainerd('diagnose.sh on a real full filesystem', () => {
  let sb: ContainerdSandbox | undefined;
  let mounted: string | null = null;
  afterEach(async () => {
    if (mounted) spawnSync('umount', [mounted]);
    mounted = null;
    await sb?.dispose();
    sb = undefined;
  });

  it.skipIf(!requireRoot())('reports the root dir 100% full and out of inodes (df -P, df -Pi)', async () => {
    sb = await ContainerdSandbox.start();
    const root = join(sb.dir, 'full-root');
    mkdirSync(root);
    const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,nr_inodes=64', 'nodemedic-full', root]);
    expect(mount.status, mount.stderr?.toString()).toBe(0);
    mounted = root;
    // Every inode, then every block.
    let i = 0;
    for (;;) {
      try {
        writeFileSync(join(root, `f${i++}`), '');
      } catch {
        break;
      }
    }
    spawnSync('sh', ['-c', `rm -f ${root}/f0; dd if=/dev/zero of=${root}/f0 bs=64k 2>/dev/null; true`]);
    const facts = parseFacts(diagnose(sb, { NODEMEDIC_ROOT: root }).stdout);
    expect(facts.disk.root).toMatchObject({ path: root, usePct: 100, inodesUsePct: 100, availKb: 0 });
    const finding = analyze(facts, { versionPolicy: { minimum: '1.6.0' } }).findings.find(
      (f) => f.cause === 'disk-pressure',
    );
    expect(finding?.severity).toBe('critical');
    expect(finding?.evidence.map((e) => e.text)).toEqual(
      expect.arrayContaining([
        `${root} 100% used (threshold 90%), 0 kB free`,
        `${root} 100% of inodes used (threshold 90%)`,
      ]),
    );
  });
});
