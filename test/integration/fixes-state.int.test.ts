/**
 * The fixes that edit containerd's config or state, against a real containerd in a sandbox:
 * raise-grpc-message-size (backup, validate before restart, never lower, refuse an edit that would
 * not load) and reset-state (drain policy, root moved aside never deleted, pause image re-imported).
 * Scripts run through the local shell runner, with the sandbox's systemctl stand-in on PATH.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContainerdSandbox } from '../../functions/local/sandbox/containerd.js';
import { FAULTS } from '../../functions/local/sandbox/faults.js';
import { describeWithContainerd } from '../support/containerd.js';
import { lastResult, pathWithout, runProgram, runSandboxFix, startSandbox } from '../support/fixes.js';

/** `ctr` against the sandbox, bounded. */
function ctr(sb: ContainerdSandbox, ...args: string[]) {
  return spawnSync(
    'timeout',
    ['20', 'ctr', '--address', sb.address, '--connect-timeout', '5s', '--timeout', '15s', ...args],
    { encoding: 'utf8' },
  );
}

/** The STATUS column of one plugin in `ctr plugins ls`. */
function pluginStatus(sb: ContainerdSandbox, type: string, id: string): string | undefined {
  return ctr(sb, 'plugins', 'ls')
    .stdout.split('\n')
    .map((l) => l.trim().split(/\s+/))
    .find((cols) => cols[0] === type && cols[1] === id)
    ?.at(-1);
}

/** Files next to the config that the fix made: backups, and any edit left behind. */
function configSiblings(sb: ContainerdSandbox): string[] {
  return readdirSync(sb.dir).filter((f) => f.startsWith('config.toml.nodemedic-'));
}

/** A real request larger than `bytes`: a namespace whose labels weigh that much (then removed). */
function bigRequest(sb: ContainerdSandbox, bytes: number) {
  const labels = [0, 1, 2].map((i) => `l${i}=${'x'.repeat(Math.ceil(bytes / 3))}`);
  const r = ctr(sb, 'namespaces', 'create', 'nodemedic-big', ...labels);
  ctr(sb, 'namespaces', 'remove', 'nodemedic-big');
  return r;
}

/** A minimal OCI image archive (one tiny layer) that `ctr images import` accepts, like pause.tar. */
function ociArchive(dir: string, name: string): string {
  const layout = join(dir, 'oci');
  const blobs = join(layout, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const blob = (data: Buffer) => {
    const digest = createHash('sha256').update(data).digest('hex');
    writeFileSync(join(blobs, digest), data);
    return { digest: `sha256:${digest}`, size: data.length };
  };
  mkdirSync(join(dir, 'fs'));
  writeFileSync(join(dir, 'fs', 'pause'), 'pause\n');
  spawnSync('tar', ['-cf', join(dir, 'layer.tar'), '-C', join(dir, 'fs'), 'pause']);
  const layer = blob(readFileSync(join(dir, 'layer.tar')));
  const config = blob(
    Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        config: { Entrypoint: ['/pause'] },
        rootfs: { type: 'layers', diff_ids: [layer.digest] },
      }),
    ),
  );
  const manifest = blob(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }],
      }),
    ),
  );
  writeFileSync(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(
    join(layout, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          ...manifest,
          annotations: { 'io.containerd.image.name': name, 'org.opencontainers.image.ref.name': 'test' },
        },
      ],
    }),
  );
  const tar = join(dir, 'pause.tar');
  spawnSync('tar', ['-cf', tar, '-C', layout, 'oci-layout', 'index.json', 'blobs']);
  return tar;
}

describeWithContainerd('raise-grpc-message-size against a real containerd', () => {
  let sb: ContainerdSandbox;
  beforeAll(async () => {
    sb = await startSandbox();
  });
  afterAll(async () => {
    await sb?.dispose();
  });

  it('raises a 4096-byte limit to 16 MiB with a backup, and the daemon takes large requests again', async () => {
    await FAULTS['grpc-limits'].inject(sb);
    const original = readFileSync(sb.configPath, 'utf8');
    expect(bigRequest(sb, 6000).stderr).toMatch(/larger than max/);

    const run = await runSandboxFix(sb, 'raise-grpc-message-size');

    expect(run.exitCode).toBe(0);
    expect(run.result).toMatchObject({ ok: true, changed: true });
    const config = readFileSync(sb.configPath, 'utf8');
    expect(config).toMatch(/^\[grpc\]\n {2}max_recv_message_size = 16777216\n/m);
    expect(config).not.toContain('4096');
    // Other tables after [grpc] are untouched.
    expect(config.slice(config.indexOf('[ttrpc]'))).toBe(original.slice(original.indexOf('[ttrpc]')));
    expect(run.result.backup).toMatch(/config\.toml\.nodemedic-\d{8}T\d{6}Z$/);
    expect(readFileSync(run.result.backup ?? '', 'utf8')).toBe(original);
    expect(await sb.answers()).toBe(true);
    expect(bigRequest(sb, 6000).status).toBe(0);
  });

  it('is idempotent: a second run changes nothing and makes no second backup', async () => {
    const pid = sb.runningPid();
    const before = configSiblings(sb);
    const run = await runSandboxFix(sb, 'raise-grpc-message-size');
    expect(run.exitCode).toBe(0);
    expect(run.result).toMatchObject({ ok: true, changed: false, backup: null });
    expect(configSiblings(sb)).toEqual(before);
    expect(sb.pid()).toBe(pid);
  });

  it('never lowers a larger value, and leaves max_concurrent_streams alone as the no-op it is', async () => {
    const base = readFileSync(sb.configPath, 'utf8').replace(
      /^\[grpc\]\n/m,
      '[grpc]\n  max_send_message_size = 33_554_432\n  max_concurrent_streams = 100\n  max_recv_message_size = 8192\n',
    );
    writeFileSync(sb.configPath, base.replace('  max_recv_message_size = 16777216\n', ''));
    await sb.restartDaemon();

    const run = await runSandboxFix(sb, 'raise-grpc-message-size');

    expect(run.exitCode).toBe(0);
    expect(run.result.detail).toMatch(/max_concurrent_streams is not a containerd setting/);
    const config = readFileSync(sb.configPath, 'utf8');
    expect(config).toContain('max_send_message_size = 33_554_432\n');
    expect(config).toContain('max_concurrent_streams = 100\n');
    expect(config).toContain('max_recv_message_size = 16777216\n');
    expect(await sb.answers()).toBe(true);
  });

  it('refuses an edit containerd would not load: exit 1, config and daemon untouched', async () => {
    // [grpc] written as an inline table: valid TOML, but the table the edit appends clashes with it.
    const inline = readFileSync(sb.configPath, 'utf8')
      .replace(/^\[grpc\]\n(?: {2}.*\n)+/m, '')
      .replace('version = 2\n', `version = 2\ngrpc = { address = ${JSON.stringify(sb.address)} }\n`);
    writeFileSync(sb.configPath, inline);
    await sb.restartDaemon();
    const pid = sb.runningPid();
    const siblings = configSiblings(sb);

    const run = await runSandboxFix(sb, 'raise-grpc-message-size', { messageSize: '33554432' });

    expect(run.exitCode).toBe(1);
    expect(run.result).toMatchObject({ ok: false, changed: false, backup: null });
    expect(run.result.detail).toMatch(/does not validate, nothing changed: .*grpc/);
    expect(readFileSync(sb.configPath, 'utf8')).toBe(inline);
    expect(configSiblings(sb)).toEqual(siblings);
    expect(sb.pid()).toBe(pid);
    expect(await sb.answers()).toBe(true);
  });
});

describeWithContainerd('reset-state against a real containerd', () => {
  let sb: ContainerdSandbox;
  let work: string;
  const asides = () =>
    readdirSync(sb.dir)
      .filter((f) => f.startsWith('root.nodemedic-'))
      .sort();

  beforeAll(async () => {
    sb = await startSandbox();
    work = mkdtempSync(join(tmpdir(), 'nodemedic-fixes-'));
    await FAULTS['metadata-corrupt'].inject(sb);
    expect(pluginStatus(sb, 'io.containerd.metadata.v1', 'bolt')).toBe('error');
  });
  afterAll(async () => {
    await sb?.dispose();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('with a node name but no kubectl, changes nothing: a node is drained first or not reset', async () => {
    const pid = sb.runningPid();
    const run = await runSandboxFix(
      sb,
      'reset-state',
      { nodeName: 'ip-10-0-1-23.ec2.internal' },
      { PATH: `${sb.binDir}:${pathWithout(join(work, 'path-without'), 'kubectl')}` },
    );
    expect(run.exitCode).toBe(1);
    expect(run.result).toMatchObject({ ok: false, changed: false, backup: null });
    expect(run.result.detail).toMatch(/kubectl is not installed: cannot drain/);
    expect(asides()).toEqual([]);
    expect(sb.pid()).toBe(pid);
  });

  it('drains, moves the corrupt root aside, and brings containerd back healthy with the pause image', async () => {
    const kubectlDir = join(work, 'kubectl-bin');
    const argvLog = join(work, 'kubectl.argv');
    mkdirSync(kubectlDir);
    // A stand-in kubectl (no cluster here) that records its argv.
    writeFileSync(
      join(kubectlDir, 'kubectl'),
      `#!/usr/bin/env bash\nprintf '%s\\n' "$*" >>${JSON.stringify(argvLog)}\necho "node/$4 done"\n`,
    );
    chmodSync(join(kubectlDir, 'kubectl'), 0o755);
    const kubeconfig = join(work, 'admin.conf');
    writeFileSync(kubeconfig, 'apiVersion: v1\nkind: Config\n');
    const pause = ociArchive(work, 'localhost/nodemedic/pause:test');
    const corruptDb = readFileSync(join(sb.root, 'io.containerd.metadata.v1.bolt', 'meta.db'));

    const run = await runSandboxFix(
      sb,
      'reset-state',
      { nodeName: 'ip-10-0-1-23.ec2.internal', pauseImage: pause },
      { PATH: `${kubectlDir}:${sb.binDir}:${process.env.PATH}`, KUBECONFIG: kubeconfig },
    );

    expect(run.exitCode).toBe(0);
    expect(run.result).toMatchObject({ ok: true, changed: true });
    expect(readFileSync(argvLog, 'utf8').split('\n').filter(Boolean)).toEqual([
      `--kubeconfig ${kubeconfig} cordon ip-10-0-1-23.ec2.internal`,
      `--kubeconfig ${kubeconfig} drain ip-10-0-1-23.ec2.internal --ignore-daemonsets --delete-emptydir-data --timeout=240s`,
    ]);
    expect(asides()).toHaveLength(1);
    const aside = join(sb.dir, asides()[0] ?? '');
    expect(aside).toMatch(/root\.nodemedic-\d{8}T\d{6}Z$/);
    expect(run.result.backup).toBe(aside);
    expect(readFileSync(join(aside, 'io.containerd.metadata.v1.bolt', 'meta.db'))).toEqual(corruptDb);
    expect(await sb.answers()).toBe(true);
    expect(pluginStatus(sb, 'io.containerd.metadata.v1', 'bolt')).toBe('ok');
    expect(pluginStatus(sb, 'io.containerd.grpc.v1', 'cri')).toBe('ok');
    expect(run.result.detail).toContain(`pause image imported from ${pause}`);
    expect(ctr(sb, '-n', 'k8s.io', 'images', 'ls', '-q').stdout).toContain('localhost/nodemedic/pause:test');
  });

  it('is idempotent: on healthy state a second run resets nothing', async () => {
    const pid = sb.runningPid();
    const run = await runSandboxFix(sb, 'reset-state');
    expect(run.exitCode).toBe(0);
    expect(run.result).toMatchObject({ ok: true, changed: false, backup: null });
    expect(run.result.detail).toMatch(/state is healthy, nothing reset/);
    expect(asides()).toHaveLength(1);
    expect(sb.pid()).toBe(pid);
  });
});

describe('reset-state without a sandbox', () => {
  it.each([['/'], ['/var'], ['/var/lib/../../etc']])('refuses NODEMEDIC_ROOT=%s (exit 2)', (root) => {
    const r = runProgram('reset-state', { NODEMEDIC_ROOT: root });
    expect(r.status).toBe(2);
    expect(lastResult(r.stdout)).toMatchObject({ ok: false, changed: false });
  });
});
