/**
 * Real faults for lab nodes (systemd as PID 1, containerd as its distribution's unit): each one
 * breaks the node the way it breaks on an EKS node, through systemd, containerd's own files and
 * the kernel; none fakes an output. Each fault also proves it took with a raw signal read on the
 * node (unit state, journal line, `ctr plugins ls`, mount usage, process state), so a row that the
 * diagnosis gets wrong is told apart from a fault that did not happen.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import type { LabNode, LabSuite } from './node.js';

/** What the diagnosis must say about a fault. */
export interface Expectation {
  /** The cause that must be among the findings, or `healthy` for no critical finding at all. */
  readonly cause: string;
  /** Causes that must NOT be named (a wrong diagnosis is worse than none). */
  readonly never?: readonly string[];
  /** Remediations that must not be offered for any finding. */
  readonly neverOffer?: readonly string[];
  /** With `healthy`: the only causes allowed at all (e.g. the machine's own CPU pressure). */
  readonly only?: readonly string[];
  /** A note (case-insensitive regex source) the report must carry. */
  readonly note?: string;
}

/** A fault in progress on a node: what to release when the row is done. */
export interface Injected {
  /** What the node shows that proves the fault took (quoted in the matrix and in failures). */
  readonly signal: string;
  /** argv to run the diagnosis under instead of plain bash (a narrower view of the node). */
  readonly prefix?: readonly string[];
  /** Version policy minimum to diagnose with (outdated-version: above the installed one). */
  readonly minVersion?: string;
  release?(): void;
}

/** One lab fault. */
export interface LabFault {
  readonly id: string;
  readonly description: string;
  readonly expect: Expectation;
  /** The suites it applies to (default: all). */
  readonly suites?: readonly LabSuite[];
  inject(node: LabNode): Promise<Injected>;
}

const CONFIG = '/etc/containerd/config.toml';
const SOCKET = '/run/containerd/containerd.sock';
const ROOT = '/var/lib/containerd';
const DESTRUCTIVE = ['reset-state', 'replace-node', 'cordon-drain'];

/** The node's file at `path`, read through its PID 1's root. */
export function readNodeFile(node: LabNode, path: string): string {
  return readFileSync(`/proc/${node.pid1}/root${path}`, 'utf8');
}

/** Write a file on the node (through its PID 1's root, so the node's overlay gets it). */
export function writeNodeFile(node: LabNode, path: string, text: string): void {
  writeFileSync(`/proc/${node.pid1}/root${path}`, text);
}

/** The `version = N` of the node's containerd config (2 when the file does not say). */
function configVersion(node: LabNode): number {
  const m = /^version\s*=\s*(\d+)/m.exec(readNodeFile(node, CONFIG));
  return m ? Number(m[1]) : 2;
}

/** A `systemctl show -p NAME --value`-free read of one unit property (works on any systemd). */
export async function unitProperty(node: LabNode, unit: string, name: string): Promise<string> {
  const out = await node.must(['systemctl', 'show', '-p', name, unit]);
  return out.trim().replace(new RegExp(`^${name}=`), '');
}

/** Wait (bounded) until `check` holds; returns its last value. */
async function until<T>(what: string, check: () => Promise<T | null>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== null) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** containerd's main pid, once it runs. */
async function mainPid(node: LabNode): Promise<number> {
  return until('containerd to run', async () => {
    const pid = Number(await unitProperty(node, 'containerd', 'MainPID'));
    return pid > 0 ? pid : null;
  });
}

/** The journal of containerd since this boot, as text. */
async function journal(node: LabNode, lines = 200): Promise<string> {
  return node.must(['journalctl', '-u', 'containerd', '--no-pager', '-o', 'cat', '-n', String(lines)]);
}

/** Restart containerd and report whether it came back answering. */
async function restart(node: LabNode): Promise<boolean> {
  await node.exec(['systemctl', 'restart', 'containerd'], { timeoutMs: 60_000 });
  return (await node.exec(['timeout', '5', 'ctr', 'version'])).code === 0;
}

/** Restart containerd and fail unless it answers again. */
async function restartOk(node: LabNode): Promise<void> {
  if (!(await restart(node)))
    throw new Error(`containerd did not come back: ${(await journal(node, 10)).trim()}`);
}

/** `ctr plugins ls` rows whose status is not ok (e.g. `io.containerd.grpc.v1 cri linux/amd64 error`). */
async function failedPlugins(node: LabNode): Promise<string[]> {
  const out = await node.must(['ctr', 'plugins', 'ls']);
  return out
    .split('\n')
    .slice(1)
    .filter((l) => /\s(error|skip)\s*$/.test(l) && /\b(cri|bolt)\b/.test(l))
    .map((l) => l.replace(/\s+/g, ' ').trim());
}

/** The CRI plugin's error row after a restart, or an error saying the fault did not take. */
async function criError(node: LabNode): Promise<string> {
  await restartOk(node);
  const rows = (await failedPlugins(node)).filter((r) => /\bcri\b/.test(r));
  if (rows.length === 0) throw new Error('the CRI plugin loaded: the config fault did not take');
  const detail = await node.exec(['ctr', 'plugins', 'ls', '-d', 'id==cri']);
  const error = /Message:\s*(.+)/.exec(detail.stdout)?.[1]?.trim() ?? '';
  return `${rows.join('; ')}${error ? ` (${error.slice(0, 160)})` : ''}`;
}

/** Replace the node's config with `text` (the same version line it had). */
function setConfig(node: LabNode, text: string): void {
  writeNodeFile(node, CONFIG, text);
}

/** The mount point of the filesystem holding `path` on the node. */
async function mountOf(node: LabNode, path: string): Promise<string> {
  return (await node.must(['findmnt', '-n', '-o', 'TARGET', '-T', path])).trim();
}

/** containerd 2.x or later on this node (its CRI faults go into the version 3 config it defaults to). */
function isV2(node: LabNode): boolean {
  return /^[2-9]\./.test(node.containerdVersion);
}

/** `containerd config default` on the node: for 2.x, the version 3 config an AMI with 2.x ships. */
async function defaultConfig(node: LabNode): Promise<string> {
  return node.must(['containerd', 'config', 'default']);
}

/** Replace the first match of `from` in `text`, failing when there is none (the fault would not take). */
function replaceOnce(text: string, from: RegExp, to: string): string {
  if (!from.test(text)) throw new Error(`no ${from} in the config to edit`);
  return text.replace(from, to);
}

/** Hold `count` client connections to the node's socket from here (each costs the daemon an fd). */
async function holdConnections(node: LabNode, count: number): Promise<Socket[]> {
  const sockets: Socket[] = [];
  await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<void>((resolve) => {
          const s = connect(`/proc/${node.pid1}/root${SOCKET}`);
          sockets.push(s);
          s.once('connect', () => resolve());
          s.once('error', () => resolve());
          s.on('data', () => {});
        }),
    ),
  );
  return sockets;
}

async function openFds(node: LabNode, pid: number): Promise<number> {
  return (await node.must(['ls', `/proc/${pid}/fd`])).trim().split('\n').length;
}

/**
 * Run the diagnosis where it cannot see the host: a new mount and PID namespace of the node whose
 * /run, /etc/containerd, /etc/systemd, /var/log/journal and /var/lib/containerd are empty tmpfs,
 * like SSM's shell in Bottlerocket's control container. The script itself stays visible.
 */
const HIDDEN_HOST_VIEW = [
  'unshare',
  '--mount',
  '--pid',
  '--fork',
  '--mount-proc',
  'sh',
  '-c',
  'for d in /run /etc/containerd /etc/systemd /var/log/journal /var/lib/containerd; do mount -t tmpfs none "$d" || exit 1; done; exec "$@"',
  'hidden-host-view',
];

/** Every lab fault, in the order the matrix prints them. */
export const LAB_FAULTS: readonly LabFault[] = [
  {
    id: 'none',
    description: 'a freshly booted node, diagnosed with the minimum version at the installed one',
    // This machine's own CPU pressure (2 shared cores) may show; nothing about containerd may.
    expect: { cause: 'healthy', only: ['resource-starvation'] },
    async inject(node) {
      const release = /^(\d+\.\d+\.\d+)/.exec(node.containerdVersion)?.[1];
      if (!release) throw new Error(`cannot read a release from containerd ${node.containerdVersion}`);
      return { signal: `containerd ${node.containerdVersion}, minimum ${release}`, minVersion: release };
    },
  },
  {
    id: 'daemon-stopped',
    description: 'systemctl stop containerd',
    expect: { cause: 'containerd-down' },
    async inject(node) {
      await node.must(['systemctl', 'stop', 'containerd']);
      return { signal: `ActiveState=${await unitProperty(node, 'containerd', 'ActiveState')}` };
    },
  },
  {
    id: 'crash-loop',
    description:
      'a drop-in ExecStart that exits at once, RestartSec=1: systemd restarts a daemon that keeps dying',
    expect: { cause: 'containerd-down' },
    async inject(node) {
      await node.must(['mkdir', '-p', '/etc/systemd/system/containerd.service.d']);
      writeNodeFile(
        node,
        '/etc/systemd/system/containerd.service.d/50-crash.conf',
        // containerd's own Type=notify stays: the unit is never "active" between two deaths.
        '[Service]\nExecStart=\nExecStart=/bin/false\nRestartSec=1\n[Unit]\nStartLimitIntervalSec=0\n',
      );
      await node.must(['systemctl', 'daemon-reload']);
      await node.exec(['systemctl', 'restart', 'containerd']);
      const n = await until('NRestarts >= 2', async () => {
        const v = Number(await unitProperty(node, 'containerd', 'NRestarts'));
        return v >= 2 ? v : null;
      });
      return {
        signal: `NRestarts=${n}, ActiveState=${await unitProperty(node, 'containerd', 'ActiveState')}`,
      };
    },
  },
  {
    id: 'fd-exhaustion',
    description:
      "containerd's nofile lowered with prlimit to just above its use, then filled with held connections",
    expect: { cause: 'fd-exhaustion' },
    async inject(node) {
      const pid = await mainPid(node);
      const limit = (await openFds(node, pid)) + 6;
      await node.must(['prlimit', '--pid', String(pid), `--nofile=${limit}:${limit}`]);
      const sockets = await holdConnections(node, 18);
      const open = await until('the daemon to reach its fd limit', async () => {
        const n = await openFds(node, pid);
        return n >= limit - 1 ? n : null;
      });
      // A call that needs an fd fails, and the daemon logs it.
      await node.exec(['timeout', '5', 'ctr', '--connect-timeout', '2s', 'version']);
      return {
        signal: `containerd ${pid} holds ${open} fds of ${limit}`,
        release: () => {
          for (const s of sockets) s.destroy();
        },
      };
    },
  },
  {
    id: 'socket-removed',
    description: "the daemon's socket file removed while it runs",
    expect: { cause: 'socket-unreachable' },
    async inject(node) {
      const pid = await mainPid(node);
      await node.must(['rm', SOCKET]);
      const gone = (await node.exec(['test', '-S', SOCKET])).code !== 0;
      if (!gone) throw new Error('the socket is still there');
      return { signal: `containerd ${pid} runs, ${SOCKET} is gone` };
    },
  },
  {
    id: 'metadata-corrupt',
    description: 'meta.db overwritten with garbage, then containerd restarted',
    expect: { cause: 'state-corruption' },
    async inject(node) {
      await node.must(['systemctl', 'stop', 'containerd']);
      await node.must([
        'sh',
        '-c',
        `yes 'nodemedic: not a bolt database' | head -c 65536 > ${ROOT}/io.containerd.metadata.v1.bolt/meta.db`,
      ]);
      await node.exec(['systemctl', 'start', 'containerd'], { timeoutMs: 60_000 });
      const lines = (await journal(node)).split('\n').filter((l) => /invalid database/i.test(l));
      if (lines.length === 0) throw new Error('no bolt error in the journal: the corruption did not take');
      return { signal: lines.at(-1)?.slice(0, 160) ?? '' };
    },
  },
  {
    id: 'config-invalid',
    description: 'a TOML syntax error appended to config.toml, then containerd restarted (it fails to start)',
    expect: { cause: 'config-invalid' },
    async inject(node) {
      setConfig(node, `${readNodeFile(node, CONFIG).trimEnd()}\nthis line is not toml\n`);
      if (await restart(node)) throw new Error('containerd restarted with an invalid config');
      const line = (await journal(node)).split('\n').findLast((l) => /toml|unmarshal/i.test(l));
      return { signal: line?.slice(0, 160) ?? 'containerd fails to start' };
    },
  },
  {
    id: 'grpc-limits',
    description: '[grpc] max_recv_message_size = 4096 in config.toml, then containerd restarted',
    expect: { cause: 'grpc-limits' },
    async inject(node) {
      setConfig(node, `${readNodeFile(node, CONFIG).trimEnd()}\n\n[grpc]\n  max_recv_message_size = 4096\n`);
      await restartOk(node);
      const r = await node.exec(['ctr', 'plugins', 'ls']);
      return { signal: `ctr plugins ls: ${r.code === 0 ? 'answered' : r.stderr.trim().slice(0, 120)}` };
    },
  },
  {
    id: 'grpc-imported',
    description: 'max_recv_message_size = 4096 set in an imported /etc/containerd/config.d/50-grpc.toml',
    expect: { cause: 'grpc-limits' },
    async inject(node) {
      const version = configVersion(node);
      await node.must(['mkdir', '-p', '/etc/containerd/config.d']);
      writeNodeFile(
        node,
        '/etc/containerd/config.d/50-grpc.toml',
        `version = ${version}\n\n[grpc]\n  max_recv_message_size = 4096\n`,
      );
      const config = readNodeFile(node, CONFIG).replace(
        /^version\s*=\s*\d+\n/m,
        (v) => `${v}imports = ["/etc/containerd/config.d/*.toml"]\n`,
      );
      setConfig(node, config);
      await restartOk(node);
      const r = await node.exec(['ctr', 'plugins', 'ls']);
      return {
        signal: `imported limit; ctr plugins ls: ${r.code === 0 ? 'answered' : r.stderr.trim().slice(0, 120)}`,
      };
    },
  },
  {
    id: 'outdated-version',
    description: 'a minimum version above the installed one (nothing injected into the daemon)',
    expect: { cause: 'outdated-version' },
    async inject(node) {
      return { signal: `containerd ${node.containerdVersion} < 99.0.0`, minVersion: '99.0.0' };
    },
  },
  {
    id: 'cri-mirrors-config-path',
    description: 'CRI registry `mirrors` together with `config_path`, then containerd restarted',
    expect: {
      cause: 'cri-config-error',
      never: ['state-corruption'],
      neverOffer: ['reset-state'],
    },
    async inject(node) {
      if (isV2(node)) {
        const config = replaceOnce(
          await defaultConfig(node),
          /config_path = ''/,
          "config_path = '/etc/containerd/certs.d'",
        );
        setConfig(
          node,
          `${config}\n[plugins.'io.containerd.cri.v1.images'.registry.mirrors.'docker.io']\n  endpoint = ['https://mirror.example.com']\n`,
        );
      } else {
        const registry = 'plugins."io.containerd.grpc.v1.cri".registry';
        setConfig(
          node,
          `${readNodeFile(node, CONFIG).trimEnd()}\n\n[${registry}]\n  config_path = "/etc/containerd/certs.d"\n[${registry}.mirrors."docker.io"]\n  endpoint = ["https://mirror.example.com"]\n`,
        );
      }
      return { signal: await criError(node) };
    },
  },
  {
    id: 'cri-unknown-snapshotter',
    description: 'the CRI plugin told to use a snapshotter that does not exist, then containerd restarted',
    expect: {
      cause: 'cri-config-error',
      never: ['state-corruption'],
      neverOffer: ['reset-state'],
    },
    async inject(node) {
      if (isV2(node)) {
        // 2.x migrates the version 2 key but checks the snapshotter only in a version 3 config.
        setConfig(
          node,
          replaceOnce(
            await defaultConfig(node),
            /snapshotter = 'overlayfs'/,
            "snapshotter = 'nodemedic-nosuch'",
          ),
        );
      } else {
        const table = 'plugins."io.containerd.grpc.v1.cri".containerd';
        setConfig(
          node,
          `${readNodeFile(node, CONFIG).trimEnd()}\n\n[${table}]\n  snapshotter = "nodemedic-nosuch"\n`,
        );
      }
      return { signal: await criError(node) };
    },
  },
  {
    id: 'sandbox-image-missing',
    description:
      'the sandbox (pause) image removed from the k8s.io namespace, on a node with a kubelet (only kubelet makes pod sandboxes)',
    expect: { cause: 'sandbox-image-missing' },
    async inject(node) {
      // A kubelet binary on PATH: the node is a Kubernetes node, whose pods need the sandbox image.
      writeNodeFile(node, '/usr/local/bin/kubelet', '#!/bin/sh\nexit 0\n');
      await node.must(['chmod', '0755', '/usr/local/bin/kubelet']);
      const image = readNodeFile(node, '/etc/nodemedic-lab-sandbox-image').trim();
      await node.must(['ctr', '-n', 'k8s.io', 'images', 'rm', '--sync', image]);
      const left = await node.must(['ctr', '-n', 'k8s.io', 'images', 'ls', '-q']);
      if (left.includes(image)) throw new Error(`${image} is still in k8s.io`);
      return {
        signal: `${image} absent from k8s.io (${left.trim().split('\n').filter(Boolean).length} images left)`,
      };
    },
  },
  {
    id: 'root-full',
    description:
      "the filesystem holding containerd's root (the node's /var/lib tmpfs) shrunk and filled: no space left",
    expect: { cause: 'disk-pressure' },
    async inject(node) {
      await node.must(['mount', '-o', 'remount,size=32m', await mountOf(node, ROOT)]);
      await node.exec(['sh', '-c', `cat /dev/zero > ${ROOT}/nodemedic-fill`]);
      await node.exec(['timeout', '10', 'ctr', 'images', 'import', '/opt/nodemedic-lab/busybox.tar']);
      const df = await node.must(['df', '-P', ROOT]);
      return { signal: `df ${ROOT}: ${df.trim().split('\n').at(-1)?.replace(/\s+/g, ' ')}` };
    },
  },
  {
    id: 'root-inodes-full',
    description: "the filesystem holding containerd's root limited in inodes and filled with empty files",
    expect: { cause: 'disk-pressure' },
    async inject(node) {
      const used = Number((await node.must(['df', '--output=iused', ROOT])).trim().split('\n').at(-1));
      await node.must(['mount', '-o', `remount,nr_inodes=${used + 64}`, await mountOf(node, ROOT)]);
      await node.exec([
        'sh',
        '-c',
        `mkdir ${ROOT}/nodemedic-fill; i=0; while : > ${ROOT}/nodemedic-fill/$i; do i=$((i+1)); done`,
      ]);
      await node.exec(['timeout', '10', 'ctr', 'images', 'import', '/opt/nodemedic-lab/busybox.tar']);
      const df = await node.must(['df', '-i', '-P', ROOT]);
      return { signal: `df -i ${ROOT}: ${df.trim().split('\n').at(-1)?.replace(/\s+/g, ' ')}` };
    },
  },
  {
    id: 'shim-stopped',
    description: 'a running task whose shim is stopped with SIGSTOP while the daemon still answers',
    expect: { cause: 'stuck-shim' },
    async inject(node) {
      await node.must(['ctr', 'images', 'import', '/opt/nodemedic-lab/busybox.tar']);
      await node.must([
        'ctr',
        'run',
        '-d',
        '--cpu-shares',
        '0',
        'nodemedic.local/busybox:1',
        'nodemedic-task',
      ]);
      // The task's own process must run (no longer `runc init`) before its shim stops.
      await until('the task to run sleep', async () => {
        const pid = /nodemedic-task\s+(\d+)\s+RUNNING/.exec(await node.must(['ctr', 'task', 'ls']))?.[1];
        const comm = pid ? (await node.exec(['cat', `/proc/${pid}/comm`])).stdout.trim() : '';
        return comm === 'sleep' ? comm : null;
      });
      const shim = Number(
        (await node.must(['pgrep', '-f', '-o', 'containerd-shim.*-id nodemedic-task'])).trim(),
      );
      await node.must(['kill', '-STOP', String(shim)]);
      // SIGSTOP lands asynchronously: wait for the stopped state.
      const state = await until(`shim ${shim} to stop`, async () => {
        const st = (await node.must(['ps', '-o', 'stat=', '-p', String(shim)])).trim();
        return st.startsWith('T') ? st : null;
      });
      const answers = (await node.exec(['timeout', '5', 'ctr', 'version'])).code === 0;
      if (!state.startsWith('T') || !answers)
        throw new Error(`shim ${shim} is ${state}, daemon answers: ${answers}`);
      return { signal: `shim ${shim} state ${state}; the daemon answers ctr version` };
    },
  },
  {
    id: 'hidden-host',
    description:
      "diagnosis run where it cannot see the host's systemd, socket, config or journal (a Bottlerocket-like control container)",
    expect: {
      cause: 'host-not-inspectable',
      never: ['containerd-down'],
      neverOffer: ['restart-containerd', ...DESTRUCTIVE],
    },
    async inject(node) {
      const seen = await node.exec([
        ...HIDDEN_HOST_VIEW,
        'sh',
        '-c',
        'ls /run | wc -l; systemctl is-system-running 2>&1; echo $$',
      ]);
      return { signal: `in the view: ${seen.stdout.trim().replace(/\n/g, ' | ')}`, prefix: HIDDEN_HOST_VIEW };
    },
  },
  {
    id: 'config-v3',
    description: "containerd 2.x's own `version = 3` default config, then containerd restarted",
    expect: { cause: 'healthy' },
    suites: ['sid'],
    async inject(node) {
      const config = await node.must(['containerd', 'config', 'default']);
      if (!/^version = 3/m.test(config)) throw new Error('containerd config default is not version 3');
      setConfig(node, config);
      await restartOk(node);
      return { signal: `version = 3 config; failed CRI/bolt plugins: ${(await failedPlugins(node)).length}` };
    },
  },
  {
    id: 'config-v2-ignored-keys',
    description: 'a 1.x (`version = 2`) config on 2.x with keys 2.x no longer reads',
    expect: { cause: 'healthy', note: 'ignor' },
    suites: ['sid'],
    async inject(node) {
      // Into the CRI table Debian's config already has (a second header would be a TOML error).
      const header = '[plugins."io.containerd.grpc.v1.cri"]\n';
      const config = readNodeFile(node, CONFIG);
      if (!config.includes(header)) throw new Error(`no ${header.trim()} table in ${CONFIG}`);
      setConfig(
        node,
        config.replace(header, `${header}    systemd_cgroup = false\n    nodemedic_gone_key = true\n`),
      );
      await restartOk(node);
      // journald may take a moment to have the line: a bounded wait, not one look.
      const line = await until('containerd to log an ignored key', async () => {
        return (await journal(node)).split('\n').findLast((l) => /unknown key/i.test(l)) ?? null;
      });
      return { signal: line.slice(0, 160) };
    },
  },
];
