/**
 * The fix scripts on a lab node, under real systemd (PID 1) and the distribution's containerd unit:
 * each one run as SSM Run Command runs it (root, `bash -c` with the document's program, parameters
 * only as NODEMEDIC_* variables) against a fault injected for real. One test file per suite, so
 * every fix is proven on containerd 1.6 (systemd 252), 1.7 and 2.x. Open-file targets stay at or
 * below 20000: the hard ceiling of these machines, to which systemd clamps anything higher.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { LAB_FAULTS, readNodeFile, unitProperty, writeNodeFile } from '../../functions/local/lab/faults.js';
import type { LabNode, LabSuite } from '../../functions/local/lab/node.js';
import { fixProgram } from '../../functions/scripts/program.js';
import { type FixResult, lastResult, REFUSED_DIRECTLY } from '../support/fixes.js';
import { describeWithLab, labNodes } from '../support/lab.js';

/** A step that boots a node: seconds warm, a minute or two when the image must be built first. */
const NODE_TIMEOUT_MS = 300_000;
const DROPIN_DIR = '/etc/systemd/system/containerd.service.d';
const DROPIN = `${DROPIN_DIR}/90-nodemedic-nofile.conf`;
/** A systemctl in front of the real one (PATH puts /usr/local/sbin first) that acts like an old systemd. */
const WRAPPER = '/usr/local/sbin/systemctl';

interface NodeFix {
  readonly code: number | null;
  readonly result: FixResult;
  readonly stderr: string;
}

/** Run a fix on the node as SSM would and read its JSON result. */
async function fix(node: LabNode, script: string, parameters: Record<string, string> = {}): Promise<NodeFix> {
  const r = await node.runScript(script, parameters, { timeoutMs: 150_000 });
  return { code: r.code, result: lastResult(r.stdout), stderr: r.stderr };
}

function fault(id: string) {
  const f = LAB_FAULTS.find((x) => x.id === id);
  if (!f) throw new Error(`no lab fault ${id}`);
  return f;
}

async function answers(node: LabNode): Promise<boolean> {
  return (await node.exec(['timeout', '5', 'ctr', 'version'])).code === 0;
}

/** containerd's `Max open files` soft and hard limits, from /proc of its main pid. */
async function nofile(node: LabNode): Promise<{ soft: number; hard: number }> {
  const pid = await unitProperty(node, 'containerd', 'MainPID');
  const row = (await node.must(['cat', `/proc/${pid}/limits`]))
    .split('\n')
    .find((l) => l.startsWith('Max open files'));
  const [soft, hard] = (row ?? '').split(/\s+/).slice(3, 5).map(Number);
  return { soft: soft ?? Number.NaN, hard: hard ?? Number.NaN };
}

/** `ctr plugins ls` status of one plugin. */
async function plugin(node: LabNode, type: string, id: string): Promise<string> {
  const row = (await node.must(['ctr', 'plugins', 'ls']))
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .find((c) => c[0] === type && c[1] === id);
  return row?.at(-1) ?? 'missing';
}

const CONFIG = '/etc/containerd/config.toml';
const NODE_NAME = 'ip-10-0-1-23.ec2.internal';

/** Roots reset-state moved aside. */
async function asides(node: LabNode): Promise<string[]> {
  return (await node.must(['ls', '/var/lib']))
    .split('\n')
    .filter((f) => f.startsWith('containerd.nodemedic-'));
}

/** A real request larger than `bytes`: a namespace whose labels weigh that much (then removed). */
async function bigRequest(node: LabNode, bytes: number) {
  const labels = [0, 1, 2].map((i) => `l${i}=${'x'.repeat(Math.ceil(bytes / 3))}`);
  const r = await node.exec(['ctr', 'namespaces', 'create', 'nodemedic-big', ...labels]);
  await node.exec(['ctr', 'namespaces', 'remove', 'nodemedic-big']);
  return r;
}

/** Install a systemctl wrapper on the node; `body` is bash run before handing over to the real one. */
async function wrapSystemctl(node: LabNode, body: string): Promise<void> {
  writeNodeFile(node, WRAPPER, `#!/bin/bash\n${body}\nexec /usr/bin/systemctl "$@"\n`);
  await node.must(['chmod', '755', WRAPPER]);
}

/** Old systemd (before 230): no `--value`, as `systemctl` of that age answers it. */
const NO_VALUE = `for a in "$@"; do
  if [[ $a == --value ]]; then echo "systemctl: unrecognized option '--value'" >&2; exit 1; fi
done`;

/** Define the fix tests of `suite`. */
export function defineFixTests(suite: LabSuite): void {
  describeWithLab(`fix scripts on a ${suite} node, under real systemd`, { timeout: NODE_TIMEOUT_MS }, () => {
    const nodes = labNodes();

    describe('restart-containerd, collect-goroutine-dump, restart-kubelet', () => {
      let node: LabNode;
      beforeAll(async () => {
        node = await nodes.start(suite);
      }, NODE_TIMEOUT_MS);

      it.each(['daemon-stopped', 'socket-removed'])('brings containerd back after %s', async (id) => {
        await fault(id).inject(node);
        expect(await answers(node)).toBe(false);
        const run = await fix(node, 'restart-containerd');
        expect(run.code).toBe(0);
        expect(run.result).toMatchObject({
          fix: 'restart-containerd',
          ok: true,
          changed: true,
          backup: null,
        });
        expect(await answers(node)).toBe(true);
        // Real systemd counts only its own restarts, not a manual one (the stand-in added one).
        expect(await unitProperty(node, 'containerd', 'NRestarts')).toBe('0');
      });

      it('has the daemon write its goroutine stacks, also where systemctl has no --value (systemd < 230)', async () => {
        await wrapSystemctl(node, NO_VALUE);
        const run = await fix(node, 'collect-goroutine-dump');
        expect(run.code, run.stderr).toBe(0);
        expect(run.result).toMatchObject({ ok: true, changed: false });
        const file = /written to (\S+)/.exec(run.result.detail)?.[1] ?? '';
        expect(file).toMatch(/containerd\.\d+\.stacks\.log$/);
        expect(await node.must(['head', '-c', '200', file])).toMatch(/goroutine \d+/);
        await node.must(['rm', WRAPPER]);
      });

      it('restart-kubelet fails clearly where kubelet is not installed, without --value too', async () => {
        await wrapSystemctl(node, NO_VALUE);
        const run = await fix(node, 'restart-kubelet');
        expect(run.code).toBe(1);
        expect(run.result).toMatchObject({ ok: false, changed: false });
        expect(run.result.detail).toMatch(
          /kubelet is not installed as a systemd unit here \(LoadState not-found\)/,
        );
        await node.must(['rm', WRAPPER]);
      });

      it('restart-kubelet says it cannot read kubelet when systemd does not answer', async () => {
        await wrapSystemctl(node, 'echo "Failed to connect to bus: No such file or directory" >&2; exit 1');
        const run = await fix(node, 'restart-kubelet');
        expect(run.code).toBe(1);
        expect(run.result.detail).toMatch(/cannot read kubelet's unit from systemd/);
        await node.must(['rm', WRAPPER]);
      });
    });

    describe('raise-nofile (targets at or below the 20000 ceiling)', () => {
      let node: LabNode;
      beforeAll(async () => {
        node = await nodes.start(suite);
        // A unit limit below what the node needs, as a drop-in (the distribution's unit says
        // infinity on 1.6/1.7 and nothing on 2.x), then the daemon driven to it.
        await node.must(['mkdir', '-p', DROPIN_DIR]);
        writeNodeFile(node, DROPIN, '[Service]\nLimitNOFILE=4096\n');
        await node.must(['systemctl', 'daemon-reload']);
        await node.must(['systemctl', 'restart', 'containerd']);
      }, NODE_TIMEOUT_MS);

      it('raises the unit limit with a backup of the previous drop-in, and the daemon runs with it', async () => {
        expect(await nofile(node)).toEqual({ soft: 4096, hard: 4096 });
        const run = await fix(node, 'raise-nofile', { nofile: '16384' });
        expect(run.code, run.stderr).toBe(0);
        expect(run.result).toMatchObject({ ok: true, changed: true });
        expect(await answers(node)).toBe(true);
        expect(await nofile(node)).toEqual({ soft: 16384, hard: 16384 });
        expect(await unitProperty(node, 'containerd', 'LimitNOFILE')).toBe('16384');
        expect(readNodeFile(node, DROPIN)).toMatch(/^LimitNOFILE=16384$/m);
        expect(run.result.backup).toMatch(/90-nodemedic-nofile\.conf\.bak-/);
        expect(readNodeFile(node, run.result.backup ?? '')).toBe('[Service]\nLimitNOFILE=4096\n');
      });

      it('is idempotent and never lowers, also where systemctl has no --value', async () => {
        await wrapSystemctl(node, NO_VALUE);
        const pid = await unitProperty(node, 'containerd', 'MainPID');
        for (const nofileValue of ['16384', '8192']) {
          const run = await fix(node, 'raise-nofile', { nofile: nofileValue });
          expect(run.code, run.stderr).toBe(0);
          expect(run.result).toMatchObject({ ok: true, changed: false });
        }
        expect(await unitProperty(node, 'containerd', 'MainPID')).toBe(pid);
        await node.must(['rm', WRAPPER]);
      });

      it('with no value asks for max(current x 2, 1048576): above the ceiling it does not take, so the drop-in is put back', async () => {
        const before = readNodeFile(node, DROPIN);
        const run = await fix(node, 'raise-nofile');
        expect(run.code).toBe(1);
        expect(run.result).toMatchObject({ ok: false, changed: false, backup: null });
        expect(run.result.detail).toMatch(/not 1048576.*restored the previous drop-in/);
        expect(readNodeFile(node, DROPIN)).toBe(before);
        expect(await answers(node)).toBe(true);
        expect(await nofile(node)).toEqual({ soft: 16384, hard: 16384 });
      });

      it('rollback restores the previous drop-in and limit, then has nothing left to roll back', async () => {
        const run = await fix(node, 'raise-nofile', { mode: 'rollback' });
        expect(run.code, run.stderr).toBe(0);
        expect(run.result).toMatchObject({ ok: true, changed: true });
        expect(readNodeFile(node, DROPIN)).toBe('[Service]\nLimitNOFILE=4096\n');
        expect(await nofile(node)).toEqual({ soft: 4096, hard: 4096 });
        const second = await fix(node, 'raise-nofile', { mode: 'rollback' });
        expect(second.result).toMatchObject({ ok: true, changed: false });
      });

      it('rollback removes a drop-in that did not exist before the fix wrote it', async () => {
        await node.must(['rm', DROPIN]);
        writeNodeFile(node, `${DROPIN_DIR}/10-distro.conf`, '[Service]\nLimitNOFILE=4096\n');
        await node.must(['systemctl', 'daemon-reload']);
        await node.must(['systemctl', 'restart', 'containerd']);
        const applied = await fix(node, 'raise-nofile', { nofile: '8192' });
        expect(applied.result).toMatchObject({ ok: true, changed: true, backup: null });
        expect(await nofile(node)).toEqual({ soft: 8192, hard: 8192 });
        const rolledBack = await fix(node, 'raise-nofile', { mode: 'rollback' });
        expect(rolledBack.result).toMatchObject({ ok: true, changed: true });
        expect((await node.must(['ls', DROPIN_DIR])).trim()).toBe('10-distro.conf');
        expect(await nofile(node)).toEqual({ soft: 4096, hard: 4096 });
      });
    });

    it('raise-nofile restarts a daemon whose limit was lowered at runtime, writing no drop-in', async () => {
      const node = await nodes.start(suite);
      const injected = await fault('fd-exhaustion').inject(node);
      // The clients go away, as kubelet's do when the daemon stops.
      injected.release?.();
      const before = await nofile(node);
      const run = await fix(node, 'raise-nofile', { nofile: '16384' });
      expect(run.code, run.stderr).toBe(0);
      expect(run.result).toMatchObject({ ok: true, changed: true, backup: null });
      expect(run.result.detail).toMatch(/lowered at runtime.*no drop-in changed/);
      expect((await nofile(node)).hard).toBeGreaterThan(before.hard);
      expect((await node.exec(['test', '-e', DROPIN])).code).not.toBe(0);
      expect(await answers(node)).toBe(true);
    });

    describe('raise-grpc-message-size', () => {
      it('raises a limit set in the main config, checks the effective value, and is idempotent', async () => {
        const node = await nodes.start(suite);
        await fault('grpc-limits').inject(node);
        const original = readNodeFile(node, '/etc/containerd/config.toml');
        expect((await bigRequest(node, 6000)).stderr).toMatch(/larger than max/);
        const run = await fix(node, 'raise-grpc-message-size');
        expect(run.code, run.stderr).toBe(0);
        expect(run.result).toMatchObject({ ok: true, changed: true });
        expect(run.result.detail).toMatch(
          /set in \/etc\/containerd\/config\.toml; .*effective recv 16777216/,
        );
        expect(readNodeFile(node, '/etc/containerd/config.toml')).toMatch(/max_recv_message_size = 16777216/);
        expect(readNodeFile(node, run.result.backup ?? '')).toBe(original);
        expect(await answers(node)).toBe(true);
        expect((await bigRequest(node, 6000)).code).toBe(0);
        const again = await fix(node, 'raise-grpc-message-size');
        expect(again.result).toMatchObject({ ok: true, changed: false, backup: null });
      });

      it('edits the imported file that sets the limit, not the main config', async () => {
        const node = await nodes.start(suite);
        await fault('grpc-imported').inject(node);
        const main = readNodeFile(node, '/etc/containerd/config.toml');
        const run = await fix(node, 'raise-grpc-message-size');
        expect(run.code, run.stderr).toBe(0);
        expect(run.result).toMatchObject({ ok: true, changed: true });
        expect(run.result.detail).toContain(
          '/etc/containerd/config.d/50-grpc.toml (imported by /etc/containerd/config.toml)',
        );
        expect(readNodeFile(node, '/etc/containerd/config.toml')).toBe(main);
        expect(readNodeFile(node, '/etc/containerd/config.d/50-grpc.toml')).toMatch(
          /max_recv_message_size = 16777216/,
        );
        expect(run.result.backup).toMatch(
          /^\/etc\/containerd\/config\.d\/50-grpc\.toml\.nodemedic-\d{8}T\d{6}Z$/,
        );
        const dump = await node.must(['containerd', 'config', 'dump']);
        expect(dump).toMatch(/max_recv_message_size = 16777216/);
        expect(dump).not.toMatch(/max_recv_message_size = 4096/);
      });
    });

    describe('raise-grpc-message-size on a config it must not break', () => {
      let node: LabNode;
      let base: string;
      beforeAll(async () => {
        node = await nodes.start(suite);
        base = readNodeFile(node, CONFIG);
      }, NODE_TIMEOUT_MS);

      it('never lowers a larger value, and leaves max_concurrent_streams alone as the no-op it is', async () => {
        writeNodeFile(
          node,
          CONFIG,
          `${base.trimEnd()}\n\n[grpc]\n  max_send_message_size = 33_554_432\n  max_concurrent_streams = 100\n  max_recv_message_size = 8192\n`,
        );
        await node.must(['systemctl', 'restart', 'containerd']);
        const run = await fix(node, 'raise-grpc-message-size');
        expect(run.code, run.stderr).toBe(0);
        expect(run.result.detail).toMatch(/max_concurrent_streams is not a containerd setting/);
        const config = readNodeFile(node, CONFIG);
        expect(config).toContain('max_send_message_size = 33_554_432\n');
        expect(config).toContain('max_concurrent_streams = 100\n');
        expect(config).toContain('max_recv_message_size = 16777216\n');
        expect(await answers(node)).toBe(true);
      });

      it('refuses an edit containerd would not load: exit 1, config, siblings and daemon untouched', async () => {
        // [grpc] as an inline table: valid TOML, but the table the edit appends clashes with it.
        const inline = base.replace(
          /^(version\s*=\s*\d+\n)/m,
          '$1grpc = { address = "/run/containerd/containerd.sock" }\n',
        );
        writeNodeFile(node, CONFIG, inline);
        await node.must(['systemctl', 'restart', 'containerd']);
        const pid = await unitProperty(node, 'containerd', 'MainPID');
        const siblings = await node.must(['ls', '/etc/containerd']);
        const run = await fix(node, 'raise-grpc-message-size', { messageSize: '33554432' });
        expect(run.code).toBe(1);
        expect(run.result).toMatchObject({ ok: false, changed: false, backup: null });
        expect(run.result.detail).toMatch(/does not validate, nothing changed/);
        expect(readNodeFile(node, CONFIG)).toBe(inline);
        expect(await node.must(['ls', '/etc/containerd'])).toBe(siblings);
        expect(await unitProperty(node, 'containerd', 'MainPID')).toBe(pid);
        expect(await answers(node)).toBe(true);
      });
    });

    describe('input the scripts refuse, handed to them straight', () => {
      let node: LabNode;
      beforeAll(async () => {
        node = await nodes.start(suite);
      }, NODE_TIMEOUT_MS);

      it.each(REFUSED_DIRECTLY)('%s exits 2 on %s=%j and changes nothing', async (script, env, value) => {
        const pid = await unitProperty(node, 'containerd', 'MainPID');
        const config = readNodeFile(node, CONFIG);
        // No allowedPattern in front: the raw variable, as a tampered document would pass it.
        const r = await node.exec(['bash', '-c', fixProgram(script), `nodemedic-${script}`], {
          env: { [env]: value },
        });
        expect(r.code).toBe(2);
        const result = lastResult(r.stdout);
        expect(result).toMatchObject({ fix: script, ok: false, changed: false, backup: null });
        expect(result.detail).toMatch(/^refused: /);
        expect(await unitProperty(node, 'containerd', 'MainPID')).toBe(pid);
        expect(readNodeFile(node, CONFIG)).toBe(config);
        expect(await answers(node)).toBe(true);
      });
    });

    describe('reset-state', () => {
      it('moves the corrupt root aside and restores the sandbox image the config names from /etc/eks/pause.tar', async () => {
        const node = await nodes.start(suite);
        const image = readNodeFile(node, '/etc/nodemedic-lab-sandbox-image').trim();
        await fault('metadata-corrupt').inject(node);
        expect(await plugin(node, 'io.containerd.metadata.v1', 'bolt')).toBe('error');

        // With a node name and no kubectl (a stock EKS node): nothing changes.
        const refused = await fix(node, 'reset-state', { nodeName: NODE_NAME });
        expect(refused.code).toBe(1);
        expect(refused.result).toMatchObject({ ok: false, changed: false, backup: null });
        expect(refused.result.detail).toMatch(/kubectl is not installed: cannot drain/);
        expect(await asides(node)).toEqual([]);

        // A kubectl stand-in (no cluster here) that records its argv, and an admin kubeconfig.
        writeNodeFile(
          node,
          '/usr/local/bin/kubectl',
          `#!/bin/bash\nprintf '%s\\n' "$*" >>/run/kubectl.argv\necho "node/$4 done"\n`,
        );
        await node.must(['chmod', '755', '/usr/local/bin/kubectl']);
        await node.must(['mkdir', '-p', '/etc/kubernetes']);
        writeNodeFile(node, '/etc/kubernetes/admin.conf', 'apiVersion: v1\nkind: Config\n');
        const run = await fix(node, 'reset-state', { nodeName: NODE_NAME });
        expect(run.code, run.stderr).toBe(0);
        expect(run.result).toMatchObject({ ok: true, changed: true });
        expect(readNodeFile(node, '/run/kubectl.argv').split('\n').filter(Boolean)).toEqual([
          `--kubeconfig /etc/kubernetes/admin.conf cordon ${NODE_NAME}`,
          `--kubeconfig /etc/kubernetes/admin.conf drain ${NODE_NAME} --ignore-daemonsets --delete-emptydir-data --timeout=240s`,
        ]);
        expect(await asides(node)).toHaveLength(1);
        expect(run.result.backup).toMatch(/^\/var\/lib\/containerd\.nodemedic-\d{8}T\d{6}Z$/);
        expect(await plugin(node, 'io.containerd.grpc.v1', 'cri')).toBe('ok');
        expect(await plugin(node, 'io.containerd.metadata.v1', 'bolt')).toBe('ok');
        expect(run.result.detail, run.result.detail).toContain(
          `sandbox image ${image} in k8s.io (imported /etc/eks/pause.tar)`,
        );
        expect(await node.must(['ctr', '-n', 'k8s.io', 'images', 'ls', '-q'])).toContain(image);

        const again = await fix(node, 'reset-state');
        expect(again.result).toMatchObject({ ok: true, changed: false, backup: null });
        expect(again.result.detail).toMatch(/state is healthy, nothing reset/);
        expect(await asides(node)).toHaveLength(1);
      });

      it('says exactly which sandbox image is missing when there is no tarball', async () => {
        const node = await nodes.start(suite);
        const image = readNodeFile(node, '/etc/nodemedic-lab-sandbox-image').trim();
        await node.must(['rm', '/etc/eks/pause.tar']);
        await fault('metadata-corrupt').inject(node);
        const run = await fix(node, 'reset-state');
        expect(run.code, run.stderr).toBe(0);
        expect(run.result.detail).toContain(
          `WARNING: the config names sandbox image ${image}, which is not in k8s.io, and there is no tarball at /etc/eks/pause.tar`,
        );
      });

      it('never reads an unknown kubelet state as "no kubelet": nothing moved', async () => {
        const node = await nodes.start(suite);
        await fault('metadata-corrupt').inject(node);
        await wrapSystemctl(
          node,
          '[[ " $* " == *" kubelet "* ]] && { echo "Failed to get properties: Connection timed out" >&2; exit 1; }',
        );
        const run = await fix(node, 'reset-state');
        expect(run.code).toBe(1);
        expect(run.result).toMatchObject({ ok: false, changed: false, backup: null });
        expect(run.result.detail).toMatch(/cannot tell whether kubelet runs here/);
        expect(await plugin(node, 'io.containerd.metadata.v1', 'bolt')).toBe('error');
      });
    });
  });
}
