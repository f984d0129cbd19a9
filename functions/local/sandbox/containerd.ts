/**
 * A throwaway containerd (the Debian package) in its own temp dir: own config, root, state, socket
 * and log, plus a `systemctl` stand-in on PATH that starts, stops and inspects it the way systemd
 * would on a node. Integration tests, the fix tests, the demo and the e2e test run the real
 * diagnostic and fix scripts against it.
 *
 * Every daemon operation goes through the stand-in (`bin/systemctl`) so the TypeScript side and the
 * scripts see the same unit state (pid file, ActiveState, NRestarts, LimitNOFILE).
 */
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseVersion } from '../../core/version.js';

/** Where the stand-in lives in the repository; each sandbox gets its own executable copy. */
const STAND_IN = join(dirname(fileURLToPath(import.meta.url)), 'bin', 'systemctl');

/** What a spawned command left behind. */
export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run a command with an argument array (no shell), bounded by `timeoutMs` (SIGKILL on expiry). */
export function run(
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The sandbox's containerd config: v2 (containerd 1.x), everything under the sandbox dir. */
function configToml(dir: string): string {
  const q = (s: string) => JSON.stringify(s);
  return [
    'version = 2',
    `root = ${q(join(dir, 'root'))}`,
    `state = ${q(join(dir, 'state'))}`,
    '',
    '[grpc]',
    `  address = ${q(join(dir, 'containerd.sock'))}`,
    '',
    '[ttrpc]',
    `  address = ${q(join(dir, 'containerd.sock.ttrpc'))}`,
    '',
    '[plugins]',
    '  [plugins."io.containerd.internal.v1.opt"]',
    `    path = ${q(join(dir, 'opt'))}`,
    '  [plugins."io.containerd.grpc.v1.cri"]',
    // No cgroup v2 delegation in a test VM or CI container: CRI still loads and serves.
    '    disable_cgroup = true',
    '',
  ].join('\n');
}

/** True when a process is alive and not a zombie (PID 1 here may never reap orphaned daemons). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Live processes whose command line mentions `needle` (the sandbox dir): daemon, shims, holders. */
function processesMentioning(needle: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmdline.includes(needle) && alive(pid)) found.push(pid);
    } catch {
      // The process ended while we looked: nothing to kill.
    }
  }
  return found;
}

/**
 * The highest open-file limit a process on this machine can get: this process's hard limit, since
 * without CAP_SYS_RESOURCE (containers, CI VMs) nothing can raise it. Null when unreadable.
 */
export function nofileCeiling(): number | null {
  try {
    const row = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((line) => line.startsWith('Max open files'));
    const hard = row?.trim().split(/\s+/)[4];
    return hard && /^\d+$/.test(hard) ? Number(hard) : null;
  } catch {
    return null;
  }
}

/**
 * The installed containerd, from `containerd --version`: its version word as printed
 * (`1.6.20~ds1`) and its release (`1.6.20`); null when it is missing or says something else.
 */
export function installedContainerd(): { version: string; release: string } | null {
  const out = spawnSync('containerd', ['--version'], { encoding: 'utf8', timeout: 10_000 }).stdout ?? '';
  const version = out.trim().split(/\s+/)[2];
  const parsed = version ? parseVersion(version) : null;
  return version && parsed ? { version, release: `${parsed.major}.${parsed.minor}.${parsed.patch}` } : null;
}

/** True when containerd and ctr from the distribution package, and prlimit, are on PATH. */
export function containerdInstalled(): boolean {
  const probe = (cmd: string) =>
    spawnSync(cmd, ['--version'], { stdio: 'ignore', timeout: 10_000 }).status === 0;
  return (
    probe('containerd') &&
    probe('ctr') &&
    spawnSync('prlimit', ['--version'], { stdio: 'ignore' }).status === 0
  );
}

/** A real containerd in a temp dir, driven through the `systemctl` stand-in. */
export class ContainerdSandbox {
  /** The sandbox's temp dir; everything it creates lives under it. */
  readonly dir: string;
  /** containerd's gRPC socket. */
  readonly address: string;
  readonly configPath: string;
  readonly root: string;
  readonly state: string;
  /** The daemon's stderr (appended across restarts), read by the script via NODEMEDIC_LOG_FILE. */
  readonly logFile: string;
  /** Drop-ins: `<systemdDir>/containerd.service.d/*.conf`. */
  readonly systemdDir: string;
  /** Holds the systemctl stand-in; prepend it to PATH. */
  readonly binDir: string;

  /** Client connections held open on purpose (fd-exhaustion); closed by {@link releaseConnections}. */
  private readonly held: Socket[] = [];
  private disposed = false;

  private constructor(dir: string) {
    this.dir = dir;
    this.address = join(dir, 'containerd.sock');
    this.configPath = join(dir, 'config.toml');
    this.root = join(dir, 'root');
    this.state = join(dir, 'state');
    this.logFile = join(dir, 'containerd.log');
    this.systemdDir = join(dir, 'systemd');
    this.binDir = join(dir, 'bin');
  }

  /** Create the sandbox and start its daemon; resolves once the daemon answers a `ctr version`. */
  static async start(): Promise<ContainerdSandbox> {
    const dir = await mkdtemp(join(tmpdir(), 'nodemedic-sb-'));
    const sb = new ContainerdSandbox(dir);
    // A unix socket path must fit in sockaddr_un (108 bytes with the NUL).
    if (Buffer.byteLength(`${sb.address}.ttrpc`) > 107) {
      await rm(dir, { recursive: true, force: true });
      throw new Error(`sandbox dir ${dir} is too long for a unix socket path; set a shorter TMPDIR`);
    }
    try {
      for (const d of [
        sb.root,
        sb.state,
        join(sb.systemdDir, 'containerd.service.d'),
        sb.binDir,
        join(dir, 'run'),
      ]) {
        mkdirSync(d, { recursive: true });
      }
      writeFileSync(sb.configPath, configToml(dir));
      writeFileSync(sb.logFile, '');
      // The unit default (containerd 2.x's 1024:524288) must be one this machine can apply, or
      // raise-nofile could never raise above it here; below that ceiling, use a quarter of it.
      const ceiling = nofileCeiling();
      if (ceiling !== null && ceiling < 524_288) {
        writeFileSync(join(dir, 'default-nofile'), `1024:${Math.max(2048, Math.floor(ceiling / 4))}\n`);
      }
      copyFileSync(STAND_IN, join(sb.binDir, 'systemctl'));
      chmodSync(join(sb.binDir, 'systemctl'), 0o755);
      await sb.startDaemon();
      if (!(await sb.answers()))
        throw new Error(`containerd in ${dir} started but does not answer: ${sb.logTail()}`);
      return sb;
    } catch (err) {
      await sb.dispose();
      throw err;
    }
  }

  /** Script params for this sandbox: `{ address, config, root, state, logFile, systemdDir }`. */
  params(): Record<string, string> {
    return {
      address: this.address,
      config: this.configPath,
      root: this.root,
      state: this.state,
      logFile: this.logFile,
      systemdDir: this.systemdDir,
    };
  }

  /** Env for spawning scripts/CLI against it: NODEMEDIC_* plus PATH=binDir:$PATH, NODEMEDIC_SANDBOX=dir. */
  env(): Record<string, string> {
    return {
      NODEMEDIC_ADDRESS: this.address,
      NODEMEDIC_CONFIG: this.configPath,
      NODEMEDIC_ROOT: this.root,
      NODEMEDIC_STATE: this.state,
      NODEMEDIC_LOG_FILE: this.logFile,
      NODEMEDIC_SYSTEMD_DIR: this.systemdDir,
      NODEMEDIC_SANDBOX: this.dir,
      PATH: `${this.binDir}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`,
    };
  }

  /** The daemon's pid from the stand-in's pid file, or null when it is not running. */
  pid(): number | null {
    try {
      const pid = Number(readFileSync(join(this.dir, 'run', 'containerd.pid'), 'utf8').trim());
      if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return null;
      return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'containerd' ? pid : null;
    } catch {
      return null;
    }
  }

  /** {@link pid}, for a step that needs the daemon up: throws with the log tail when it is not. */
  runningPid(): number {
    const pid = this.pid();
    if (pid === null) throw new Error(`containerd in ${this.dir} is not running: ${this.logTail()}`);
    return pid;
  }

  /** Run the stand-in with these arguments (bounded); the exit code is the caller's to judge. */
  systemctl(...args: string[]): Promise<RunResult> {
    return run(join(this.binDir, 'systemctl'), args, {
      env: { ...process.env, ...this.env() },
      timeoutMs: 30_000,
    });
  }

  /** `systemctl start containerd`; rejects with the log tail when the daemon fails to start. */
  async startDaemon(): Promise<void> {
    await this.expectOk(await this.systemctl('start', 'containerd'), 'start');
  }

  /** `systemctl stop containerd` (TERM, then KILL after 5 s). */
  async stopDaemon(): Promise<void> {
    await this.expectOk(await this.systemctl('stop', 'containerd'), 'stop');
  }

  /** `systemctl restart containerd`; counts in NRestarts; rejects when the daemon fails to start. */
  async restartDaemon(): Promise<void> {
    await this.expectOk(await this.systemctl('restart', 'containerd'), 'restart');
  }

  /** `ctr version` against it, bounded: true when it answers. */
  async answers(): Promise<boolean> {
    const r = await run(
      'timeout',
      ['5', 'ctr', '--address', this.address, '--connect-timeout', '2s', '--timeout', '3s', 'version'],
      {
        timeoutMs: 8_000,
      },
    );
    return r.code === 0;
  }

  /**
   * Open `count` client connections to the daemon's socket and keep them open (each costs the
   * daemon one fd once accepted). Resolves with how many connected.
   */
  async holdConnections(count: number): Promise<number> {
    const attempts = Array.from(
      { length: count },
      () =>
        new Promise<boolean>((resolve) => {
          const socket = connect(this.address);
          this.held.push(socket);
          socket.once('connect', () => resolve(true));
          socket.once('error', () => resolve(false));
          // Data from the daemon (HTTP/2 settings) is irrelevant; keep reading so it never blocks.
          socket.on('data', () => {});
        }),
    );
    return (await Promise.all(attempts)).filter(Boolean).length;
  }

  /** Close every held connection. */
  releaseConnections(): void {
    for (const socket of this.held.splice(0)) socket.destroy();
  }

  /** The last lines of the daemon's log, for error messages. */
  logTail(lines = 5): string {
    try {
      return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  /** Kill every process it started (daemon, held connections, shims) and remove dir. Idempotent. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.releaseConnections();
    if (existsSync(join(this.binDir, 'systemctl'))) {
      await this.systemctl('stop', 'containerd').catch(() => undefined);
    }
    // Anything still alive that names the sandbox (a shim, a daemon started by hand) goes too.
    for (const pid of processesMentioning(this.dir)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    await rm(this.dir, { recursive: true, force: true, maxRetries: 3 });
  }

  private async expectOk(result: RunResult, verb: string): Promise<void> {
    if (result.code !== 0) {
      throw new Error(
        `systemctl ${verb} containerd failed (exit ${result.code}): ${result.stderr.trim()}\n${this.logTail()}`,
      );
    }
  }
}
