/**
 * A lab node for tests and the fault matrix: a Debian root booted with systemd as PID 1 and
 * containerd as its distribution's systemd unit (scripts/lab.sh start), with the repository's
 * scripts bound in read-only. Commands run inside with `nsenter` from an argument array, never a
 * shell string built from data.
 *
 * scripts/lab.sh owns every process, mount and cgroup of a node; this module only asks it to start
 * and stop nodes, and makes sure each node it started is stopped: by {@link LabNode.stop}, at
 * process exit or on SIGINT/SIGTERM, and, for a run that died harder than that, by the next start,
 * which stops nodes whose creating process is gone.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { scriptEnvironment } from '../../core/script-params.js';
import { SCRIPTS_DIR, scriptProgram } from '../../scripts/program.js';
import { type RunResult, run } from '../sandbox/containerd.js';

/** The Debian suites the lab builds, oldest containerd first. */
export const LAB_SUITES = ['bookworm', 'trixie', 'sid'] as const;
/** One lab image: bookworm (containerd 1.6), trixie (1.7), sid (2.x). */
export type LabSuite = (typeof LAB_SUITES)[number];

/** scripts/lab.sh in this checkout. */
const LAB_SCRIPT = join(SCRIPTS_DIR, '..', '..', 'scripts', 'lab.sh');
/** Where the repository's functions/scripts appear inside a node (read-only). */
const NODE_SCRIPTS_DIR = '/opt/nodemedic/scripts';
/** PATH inside a node for scripts run as SSM runs them (AWS-RunShellScript's environment is bare). */
const NODE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** Starting a node builds its image when the cache lacks it (about a minute); a warm boot is ~2 s. */
const START_TIMEOUT_MS = 300_000;
const STOP_TIMEOUT_MS = 60_000;

/** Why the lab cannot run here, or null when it can (root, systemd-nspawn, mmdebstrap, nsenter). */
export function labUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'the node lab needs root';
  for (const tool of ['systemd-nspawn', 'mmdebstrap', 'nsenter']) {
    if (spawnSync('sh', ['-c', 'command -v "$1"', 'probe', tool], { stdio: 'ignore' }).status !== 0) {
      return `${tool} is missing (bash scripts/setup.sh --lab)`;
    }
  }
  return null;
}

/** Nodes this process started and has not stopped yet, by name. */
const live = new Map<string, LabNode>();
let hooksInstalled = false;
let counter = 0;

/** Stop every node still live, synchronously (for process exit, where nothing async runs). */
function stopAllSync(): void {
  for (const name of live.keys()) {
    spawnSync('bash', [LAB_SCRIPT, 'stop', name], { stdio: 'ignore', timeout: STOP_TIMEOUT_MS });
  }
  live.clear();
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.once('exit', stopAllSync);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      stopAllSync();
      process.kill(process.pid, signal);
    });
  }
}

/** Node names carry their creator's pid: `nm-<suite>-<pid>-<n>`. */
const NAME = /^nm-[a-z]+-(\d+)-\d+$/;

/** Stop lab nodes left by a process that no longer exists (a test run killed with SIGKILL). */
async function sweepOrphans(): Promise<void> {
  const listed = await run('bash', [LAB_SCRIPT, 'list'], { timeoutMs: 10_000 });
  for (const line of listed.stdout.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const creator = NAME.exec(name)?.[1];
    if (!creator || Number(creator) === process.pid) continue;
    try {
      process.kill(Number(creator), 0);
    } catch {
      await run('bash', [LAB_SCRIPT, 'stop', name], { timeoutMs: STOP_TIMEOUT_MS });
    }
  }
}

/** Options of {@link LabNode.exec}. */
export interface ExecOptions {
  /** The whole environment of the command (nothing of this process leaks in); PATH is added. */
  readonly env?: Record<string, string>;
  /** Kill the command after this long (SIGKILL to nsenter and, through the pid namespace, nothing else). */
  readonly timeoutMs?: number;
}

/** A booted lab node. */
export class LabNode {
  /** containerd's release line on this node, e.g. `1.7.24~ds1`, from `containerd --version`. */
  containerdVersion = '';

  private stopped = false;

  private constructor(
    readonly suite: LabSuite,
    readonly name: string,
    /** The node's PID 1 (systemd) as this machine sees it. */
    readonly pid1: number,
  ) {}

  /**
   * Boot a node of `suite` and wait until systemd runs and containerd answers (its sandbox image
   * imported, as an EKS AMI does at boot). Builds the image first when the cache lacks it.
   */
  static async start(suite: LabSuite): Promise<LabNode> {
    const why = labUnavailable();
    if (why) throw new Error(`cannot start a lab node: ${why}`);
    installExitHooks();
    await sweepOrphans();
    const name = `nm-${suite}-${process.pid}-${++counter}`;
    const started = await run(
      'bash',
      [LAB_SCRIPT, 'start', suite, name, '--bind-ro', `${SCRIPTS_DIR}:${NODE_SCRIPTS_DIR}`],
      { timeoutMs: START_TIMEOUT_MS },
    );
    const pid1 = Number(started.stdout.trim().split('\n').at(-1));
    if (started.code !== 0 || !Number.isInteger(pid1) || pid1 <= 1) {
      await run('bash', [LAB_SCRIPT, 'stop', name], { timeoutMs: STOP_TIMEOUT_MS });
      throw new Error(`lab.sh start ${suite} failed (exit ${started.code}): ${started.stderr.trim()}`);
    }
    const node = new LabNode(suite, name, pid1);
    live.set(name, node);
    const version = await node.exec(['containerd', '--version']);
    node.containerdVersion = version.stdout.trim().split(/\s+/)[2] ?? '';
    return node;
  }

  /** Run `argv` inside the node, in all its namespaces, as root, with a bare environment. */
  exec(argv: readonly string[], options: ExecOptions = {}): Promise<RunResult> {
    if (this.stopped) throw new Error(`lab node ${this.name} is stopped`);
    if (argv.length === 0) throw new Error('exec needs a command');
    const env = Object.entries({ PATH: NODE_PATH, HOME: '/root', ...options.env }).map(
      ([k, v]) => `${k}=${v}`,
    );
    return run('nsenter', ['-t', String(this.pid1), '-a', '--', 'env', '-i', ...env, ...argv], {
      timeoutMs: options.timeoutMs ?? 60_000,
    });
  }

  /** {@link exec}, failing with the command's stderr when it exits non-zero. */
  async must(argv: readonly string[], options: ExecOptions = {}): Promise<string> {
    const r = await this.exec(argv, options);
    if (r.code !== 0) {
      throw new Error(
        `${this.name}: ${argv.join(' ')} exited ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`,
      );
    }
    return r.stdout;
  }

  /**
   * Run one of nodemedic's scripts as SSM Run Command would on this node: root, `bash -c` with the
   * document's program (a fix with its preamble inlined), the parameters only as validated
   * `NODEMEDIC_*` variables. `prefix` wraps the bash (e.g. `unshare …` for a narrower view).
   */
  runScript(
    script: string,
    parameters: Record<string, string> = {},
    options: { timeoutMs?: number; prefix?: readonly string[] } = {},
  ): Promise<RunResult> {
    const program = scriptProgram(script);
    return this.exec([...(options.prefix ?? []), 'bash', '-c', program, `nodemedic-${script}`], {
      env: scriptEnvironment(parameters),
      timeoutMs: options.timeoutMs ?? 90_000,
    });
  }

  /** Power the node off and remove everything it made. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const r = await run('bash', [LAB_SCRIPT, 'stop', this.name], { timeoutMs: STOP_TIMEOUT_MS });
    live.delete(this.name);
    if (r.code !== 0) throw new Error(`lab.sh stop ${this.name} failed: ${r.stderr.trim()}`);
  }
}
