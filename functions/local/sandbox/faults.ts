/**
 * Real faults to inject into a {@link ContainerdSandbox}, one per cause the integration tests
 * prove. Each one breaks the daemon the way it breaks on a node; none of them fakes an output.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CauseId } from '../../core/model.js';
import { type ContainerdSandbox, run } from './containerd.js';

/** Faults the sandbox can inject. */
export type FaultId =
  | 'daemon-stopped'
  | 'fd-exhaustion'
  | 'socket-removed'
  | 'metadata-corrupt'
  | 'config-invalid'
  | 'grpc-limits'
  | 'outdated-version';

/** One fault: what it does, the cause the diagnosis must name, and how to inject it. */
export interface Fault {
  readonly description: string;
  readonly expectedCause: CauseId;
  inject(sb: ContainerdSandbox): Promise<void>;
  /** Version policy minimum to diagnose with (outdated-version: above the installed one). */
  readonly minVersion?: string;
}

/** The TOML line config-invalid appends; containerd reports it as `(N, 6): was expecting token =`. */
export const INVALID_CONFIG_LINE = 'this line is not toml';

/** Free fds the daemon keeps above its current use before the held connections fill them. */
const FD_HEADROOM = 6;

/** Entries in /proc/PID/fd: the daemon's open fds, as the script counts them. */
function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Every fault, by id. */
export const FAULTS: Record<FaultId, Fault> = {
  'daemon-stopped': {
    description: 'containerd stopped (systemctl stop containerd)',
    expectedCause: 'containerd-down',
    async inject(sb) {
      await sb.stopDaemon();
    },
  },
  'fd-exhaustion': {
    description:
      "the daemon's nofile limit lowered with prlimit to just above its use, then filled with held connections",
    expectedCause: 'fd-exhaustion',
    async inject(sb) {
      const pid = sb.runningPid();
      const limit = openFds(pid) + FD_HEADROOM;
      const r = await run('prlimit', ['--pid', String(pid), `--nofile=${limit}:${limit}`], {
        timeoutMs: 10_000,
      });
      if (r.code !== 0) throw new Error(`prlimit --pid ${pid} failed: ${r.stderr.trim()}`);
      // More connections than free fds: the surplus waits in the listen backlog, which is what
      // wedges kubelet's calls on a node.
      await sb.holdConnections(FD_HEADROOM * 3);
      // Bounded wait until the daemon has accepted up to its limit.
      for (let i = 0; i < 100 && openFds(pid) < limit - 1; i++) await new Promise((r) => setTimeout(r, 50));
      if (openFds(pid) < limit - 1) {
        throw new Error(`containerd ${pid} holds ${openFds(pid)} fds, expected to reach its limit ${limit}`);
      }
    },
  },
  'socket-removed': {
    description: "the daemon's socket file removed while it runs",
    expectedCause: 'socket-unreachable',
    async inject(sb) {
      sb.runningPid();
      rmSync(sb.address);
    },
  },
  'metadata-corrupt': {
    description: 'io.containerd.metadata.v1.bolt/meta.db overwritten with garbage, then the daemon restarted',
    expectedCause: 'state-corruption',
    async inject(sb) {
      await sb.stopDaemon();
      const db = join(sb.root, 'io.containerd.metadata.v1.bolt', 'meta.db');
      writeFileSync(db, Buffer.alloc(64 * 1024, 'nodemedic: not a bolt database\n'));
      // containerd starts anyway: the bolt and CRI plugins fail and `ctr plugins ls` shows them in error.
      await sb.startDaemon();
    },
  },
  'config-invalid': {
    description: 'a TOML syntax error written into the config, then the daemon restarted (it fails to start)',
    expectedCause: 'config-invalid',
    async inject(sb) {
      const config = readFileSync(sb.configPath, 'utf8');
      writeFileSync(sb.configPath, `${config.trimEnd()}\n${INVALID_CONFIG_LINE}\n`);
      const r = await sb.systemctl('restart', 'containerd');
      if (r.code === 0 && (await sb.answers())) {
        throw new Error(`containerd in ${sb.dir} restarted with an invalid config; the fault did not take`);
      }
    },
  },
  'grpc-limits': {
    description: '[grpc] max_recv_message_size = 4096, then the daemon restarted',
    expectedCause: 'grpc-limits',
    async inject(sb) {
      const config = readFileSync(sb.configPath, 'utf8');
      const grpc = /^\[grpc\]\n/m;
      if (!grpc.test(config)) throw new Error(`no [grpc] table in ${sb.configPath}`);
      writeFileSync(sb.configPath, config.replace(grpc, '[grpc]\n  max_recv_message_size = 4096\n'));
      await sb.restartDaemon();
    },
  },
  'outdated-version': {
    description: 'a minimum version above the installed one (nothing injected into the daemon)',
    expectedCause: 'outdated-version',
    minVersion: '99.0.0',
    async inject() {
      // The version policy is the fault: the daemon itself stays healthy.
    },
  },
};

/** Where config-invalid's bad line sits: its 1-based line number in the sandbox config. */
export function invalidConfigLine(sb: ContainerdSandbox): number | null {
  const lines = readFileSync(sb.configPath, 'utf8').split('\n');
  const i = lines.indexOf(INVALID_CONFIG_LINE);
  return i < 0 ? null : i + 1;
}

/** What a healthy sandbox looks like, taken right after it started: its config and its drop-ins. */
export interface HealthyNode {
  readonly config: string;
  readonly dropIns: ReadonlySet<string>;
}

function dropInDir(sb: ContainerdSandbox): string {
  return join(sb.systemdDir, 'containerd.service.d');
}

/** Remember the sandbox as it is now (call it while it is healthy) for {@link restoreHealthy}. */
export function snapshotHealthy(sb: ContainerdSandbox): HealthyNode {
  return { config: readFileSync(sb.configPath, 'utf8'), dropIns: new Set(readdirSync(dropInDir(sb))) };
}

/**
 * Put the sandbox back to the node {@link snapshotHealthy} saw, whatever faults and fixes ran since:
 * the held connections closed, its config and drop-ins as they were, a fresh root and state (a
 * corrupt meta.db, or a root reset-state moved aside, do not survive), an empty log (old faults'
 * lines must not become the next diagnosis's evidence), and the daemon started. Rejects with the
 * log tail when the daemon does not answer afterwards.
 */
export async function restoreHealthy(sb: ContainerdSandbox, healthy: HealthyNode): Promise<void> {
  sb.releaseConnections();
  await sb.stopDaemon();
  writeFileSync(sb.configPath, healthy.config);
  for (const name of readdirSync(dropInDir(sb))) {
    if (!healthy.dropIns.has(name)) rmSync(join(dropInDir(sb), name), { recursive: true, force: true });
  }
  for (const dir of [sb.root, sb.state]) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
  }
  writeFileSync(sb.logFile, '');
  // The stand-in loads LimitNOFILE from the drop-ins at daemon-reload, as systemd does.
  const reload = await sb.systemctl('daemon-reload');
  if (reload.code !== 0) throw new Error(`systemctl daemon-reload failed: ${reload.stderr.trim()}`);
  await sb.systemctl('reset-failed', 'containerd');
  await sb.startDaemon();
  // The start waits up to 10 s for an answer; a loaded machine may need a little longer.
  for (let attempt = 1; !(await sb.answers()); attempt++) {
    if (attempt >= 4)
      throw new Error(`containerd in ${sb.dir} does not answer after the reset: ${sb.logTail()}`);
  }
}
