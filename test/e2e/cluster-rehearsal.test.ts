/**
 * `npm run demo -- --cluster 4 --auto-approve`: four real containerd sandboxes as the nodes of
 * cluster `local`. One breaks on its own and a cluster-level alarm (no node) makes nodemedic sweep
 * them all; then two lose containerd at once and their contributor events (each delivered twice)
 * become one cluster incident with one thread, whose rolling fix is approved once. First the
 * composed function the command runs (to look inside the store and the channel), then the real
 * command line, which must exit 0 and leave nothing behind. Under CI=true a missing containerd
 * fails the suite instead of skipping it.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { validateSafetyPolicy } from '../../functions/core/policy.js';
import { CLUSTER_NAME, planCluster } from '../../functions/local/cluster.js';
import { clusterRunOk, runClusterRehearsal } from '../../functions/local/cluster-rehearsal.js';
import { LOCAL_CHANNEL } from '../../functions/local/compose.js';
import { type ContainerdSandbox, installedContainerd } from '../../functions/local/sandbox/containerd.js';
import { describeWithContainerd } from '../support/containerd.js';

describeWithContainerd('the cluster rehearsal over four real containerd nodes', () => {
  it('sweeps exactly the faulty node, holds the storm as one cluster thread, and recovers every faulty node', {
    timeout: 420_000,
  }, async () => {
    const sandboxes: ContainerdSandbox[] = [];
    const cleanups: (() => Promise<void>)[] = [];
    const printed: string[] = [];
    onTestFinished(async () => {
      while (cleanups.length) await cleanups.pop()!();
      await Promise.all(sandboxes.map((sb) => sb.dispose()));
    });
    const result = await runClusterRehearsal({
      nodes: 4,
      autoApprove: true,
      port: 0,
      approvalTimeoutMs: 300_000,
      installed: installedContainerd()!.version,
      policy: validateSafetyPolicy({ nodeCooldownMinutes: 0 }),
      policyNote: 'test',
      log: (line) => printed.push(line),
      registerSandbox: (sb) => sandboxes.push(sb),
      register: (c) => cleanups.push(c),
    });
    const plan = planCluster(4);
    const solo = plan.filter((p) => p.role === 'solo').map((p) => p.node.instanceId);
    const storm = plan.filter((p) => p.role === 'storm').map((p) => p.node.instanceId);

    // The cluster-level alarm: every node probed, exactly the faulty one opened.
    expect(result.sweepHeadline).toBe('4 nodes probed, 3 healthy, 1 with findings');
    expect(result.sweepFound).toEqual(solo);
    // The storm: 4 deliveries, 2 incidents, both held under ONE cluster incident with a thread.
    expect(result.storm).toEqual({ events: 4, opened: 2, duplicates: 2 });
    expect(result.clusterIncident).toMatchObject({ members: 2, thread: true });
    expect(result.rolled).toBe(true);
    // The terminal shows the cluster thread's root as text, not as Slack markup.
    const summary = printed.find((line) => line.includes("its thread's root, the live summary:"));
    expect(summary).toContain('@on-call Cluster local:');
    expect(summary).not.toMatch(/<[@#!]|&(lt|gt|amp);/);

    const rows = Object.fromEntries(result.rows.map((r) => [r.instanceId, r]));
    expect(rows[solo[0]!]).toMatchObject({
      foundBy: 'sweep',
      heldUnder: null,
      causes: expect.arrayContaining(['fd-exhaustion']),
      fix: 'raise-nofile',
      phase: 'recovered',
    });
    for (const id of storm) {
      expect(rows[id]).toMatchObject({
        foundBy: 'storm',
        heldUnder: result.clusterIncident!.id,
        causes: ['containerd-down'],
        fix: 'restart-containerd',
        phase: 'recovered',
      });
    }
    const healthy = result.rows.filter((r) => r.role === 'healthy');
    expect(healthy).toHaveLength(1);
    expect(healthy[0]!.incidentId).toBeNull();
    expect(clusterRunOk(result, true)).toBe(true);

    // The channel: one sweep summary, one cluster thread root, a card for the solo node only.
    const roots = result.cluster.standIn
      .messages(LOCAL_CHANNEL)
      .filter((m) => !m.thread_ts || m.thread_ts === m.ts)
      .filter((m) => !m.ephemeral_for);
    const sweeps = roots.filter(
      (m) => m.text.startsWith(`Cluster ${CLUSTER_NAME}: `) && m.text.includes(' nodes probed, '),
    );
    expect(sweeps).toHaveLength(1);
    expect(sweeps[0]!.text).toContain('4 nodes probed, 3 healthy, 1 with findings');
    // The roll fixed both held nodes: the root says so, no longer the alarm it raised.
    const clusterRoots = roots.filter((m) =>
      m.text.startsWith(`Cluster ${CLUSTER_NAME}: all 2 held nodes fixed and verified by a rolling fix`),
    );
    expect(clusterRoots).toHaveLength(1);
    expect(clusterRoots[0]!.text).toContain('(it was: 2 of 2 nodes: ');
    for (const id of storm) {
      // A held node gets no card of its own: it is named in the cluster summary only.
      expect(roots.filter((m) => m.text.includes(id) && m !== clusterRoots[0] && m !== sweeps[0])).toEqual(
        [],
      );
    }
  });

  it('npm run demo -- --cluster 4 --auto-approve exits 0, prints the table, and leaves nothing behind', {
    timeout: 420_000,
  }, () => {
    // The demo's sandboxes go under a dir of its own, so the leftover check cannot mistake another
    // suite's sandbox for one the demo left behind.
    const tmp = mkdtempSync(join(tmpdir(), 'nm-cluster-'));
    onTestFinished(() => rmSync(tmp, { recursive: true, force: true }));
    const run = spawnSync('npm', ['run', '-s', 'demo', '--', '--cluster', '4', '--auto-approve'], {
      encoding: 'utf8',
      timeout: 400_000,
      env: { ...process.env, FORCE_COLOR: '0', TMPDIR: tmp },
    });
    const output = `${run.stdout}\n${run.stderr}`;
    expect(run.status, output.slice(-4000)).toBe(0);
    expect(output).toContain('swept cluster local: 4 nodes probed, 3 healthy, 1 with findings');
    expect(output).toContain('held as ONE cluster incident');
    const rows = output
      .split('\n')
      .filter((line) => /^\| ip-10-0-2-\d+ /.test(line))
      .map((line) => line.split('|').map((c) => c.trim()));
    expect(rows.map((r) => [r[1], r[4], r[5], r[8]])).toEqual([
      ['ip-10-0-2-11', 'sweep', 'own card', 'recovered'],
      ['ip-10-0-2-12', 'storm', 'cluster', 'recovered'],
      ['ip-10-0-2-13', 'storm', 'cluster', 'recovered'],
      ['ip-10-0-2-14', '-', '-', 'healthy'],
    ]);
    expect(output).toContain('stopped: nothing the demo started is left');
    const left = spawnSync('pgrep', ['-f', `${tmp}/nodemedic-sb-.*/config.toml`], { encoding: 'utf8' });
    expect(left.stdout.trim()).toBe('');
    expect(readdirSync(tmp).filter((name) => name.startsWith('nodemedic-sb-'))).toEqual([]);
  });
});

describe('npm run demo -- --cluster: bad input', () => {
  const demo = (...args: string[]) =>
    spawnSync('npm', ['run', '-s', 'demo', '--', ...args], {
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, FORCE_COLOR: '0' },
    });

  it('refuses a count out of range or not a whole number, and flags that make no sense with it', () => {
    for (const bad of ['0', '2', '21', '4.5', 'four']) {
      const run = demo('--cluster', bad);
      expect(run.status, bad).toBe(2);
      expect(run.stderr).toContain('--cluster takes a whole number of nodes from 3 to 20');
    }
    const mixed = demo('--cluster', '4', '--fault', 'daemon-stopped', '--shadow');
    expect(mixed.status).toBe(2);
    expect(mixed.stderr).toContain('--cluster does not combine with --fault, --shadow');
  });

  it('documents --cluster in --help', () => {
    const run = demo('--help');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('--cluster N');
  });
});
