/**
 * The facts contract: the one compact JSON document that `functions/scripts/diagnose.sh` prints
 * on stdout. The script is bash (it runs on the node through SSM), the analyzer is TypeScript;
 * this file is the agreement between them. Bump `FACTS_SCHEMA` on any incompatible change.
 *
 * Every probe section carries a three-state `status` (style: never a boolean):
 * - `ok`: the probe ran and its data fields are filled (the data may still show a fault);
 * - `unknown`: the probe could not tell (timed out, permission denied...), `reason` says why;
 * - `n/a`: the probe does not apply on this machine (no systemd, no kubelet installed...).
 *
 * Numbers that could not be read are `null`, never 0 or -1.
 */

export const FACTS_SCHEMA = 1;

export type ProbeStatus = 'ok' | 'unknown' | 'n/a';

export interface ProbeBase {
  readonly status: ProbeStatus;
  /** Why the probe is `unknown` or `n/a`, in a few words. */
  readonly reason?: string;
}

/** A bounded external call the script made, for evidence. */
export interface CallResult {
  /** True when the command exited 0 in time. */
  readonly ok: boolean;
  /** Exit code; 124 means `timeout` killed it. */
  readonly exitCode: number;
  readonly elapsedMs: number;
  /** First line(s) of stderr/stdout on failure, capped at 300 characters. */
  readonly error?: string;
}

export interface ContainerdFacts extends ProbeBase {
  /** systemd's view; `n/a` without systemd. */
  readonly service: {
    readonly status: ProbeStatus;
    readonly reason?: string;
    /** `active`, `inactive`, `failed`, `activating`... */
    readonly activeState?: string;
    readonly subState?: string;
    readonly nRestarts?: number | null;
  };
  /** containerd's main PID (systemd MainPID, else `pgrep -x containerd`), null when not running. */
  readonly pid: number | null;
  readonly pidSource: 'systemd' | 'pgrep' | 'none';
  /** `containerd --version`'s version word, e.g. `1.6.20~ds1` or `v1.7.27`. */
  readonly binaryVersion: string | null;
  /** The server version from `ctr version`, null when the daemon did not answer. */
  readonly serverVersion: string | null;
}

export interface FdFacts extends ProbeBase {
  /** Entries in /proc/PID/fd. */
  readonly open: number | null;
  /** `Max open files` soft limit; null means unlimited. */
  readonly limitSoft: number | null;
  readonly limitHard: number | null;
  /** /proc/sys/fs/file-nr: allocated and max. */
  readonly systemAllocated: number | null;
  readonly systemMax: number | null;
}

export interface SocketFacts extends ProbeBase {
  readonly path: string;
  readonly exists: boolean;
  readonly isSocket: boolean;
  /** Octal mode, e.g. `660`. */
  readonly mode: string | null;
  /** `user:group`. */
  readonly owner: string | null;
  /** `timeout 15 ctr --address SOCK --connect-timeout 5s --timeout 10s version`. */
  readonly call: CallResult | null;
}

export interface PluginFacts extends ProbeBase {
  /** Number of plugins listed. */
  readonly total: number | null;
  /**
   * Plugins whose STATUS is `error`, as `type/id` (e.g. `io.containerd.metadata.v1/bolt`). A healthy
   * daemon often lists `io.containerd.snapshotter.v1/devmapper` here: only bolt and CRI matter.
   */
  readonly errored: readonly string[];
}

export interface ConfigFacts extends ProbeBase {
  readonly path: string;
  readonly exists: boolean;
  /** Whether containerd itself could load it (`containerd --config F config dump`). */
  readonly parses: boolean | null;
  /** containerd's own parse error, e.g. `failed to load TOML from ...: (13, 5): ...`. */
  readonly parseError?: string;
  /** Line containerd's error points at, when it names one. */
  readonly errorLine?: number | null;
  /** The quoted text of that line, capped at 200 characters. */
  readonly errorLineText?: string | null;
  /** Top-level `version = N`. */
  readonly declaredVersion: number | null;
  /** Raw `key = value` lines under `[grpc]`, as written, in the main file and its imports. */
  readonly grpc: readonly string[];
  /** Files named by `imports`. */
  readonly imports: readonly string[];
}

/** One log signature that matched. */
export interface LogMatch {
  /** Signature id, see `LOG_SIGNATURES`. */
  readonly id: string;
  readonly count: number;
  /** Up to 2 matching lines, each capped at 300 characters, newest last. */
  readonly samples: readonly string[];
}

export interface LogFacts extends ProbeBase {
  /** `journal` or `file:PATH`. */
  readonly source: string;
  readonly containerd: readonly LogMatch[];
  readonly kubelet: readonly LogMatch[];
  /** OOM-killer lines that mention containerd or a shim (kernel log). */
  readonly kernel: readonly LogMatch[];
}

export interface PsiFacts {
  readonly some10: number | null;
  readonly some60: number | null;
  readonly full10?: number | null;
  readonly full60?: number | null;
}

export interface ResourceFacts extends ProbeBase {
  readonly cores: number | null;
  readonly load1: number | null;
  readonly load5: number | null;
  readonly memTotalKb: number | null;
  readonly memAvailableKb: number | null;
  /** Missing PSI (older kernels) is null per resource. */
  readonly psi: {
    readonly cpu: PsiFacts | null;
    readonly memory: PsiFacts | null;
    readonly io: PsiFacts | null;
  };
  /** CPU steal %, over a short sample, null when not read. */
  readonly stealPct: number | null;
}

export interface MountFacts {
  readonly path: string;
  readonly exists: boolean;
  /** Percent of blocks used (df). */
  readonly usePct: number | null;
  readonly inodesUsePct: number | null;
  readonly availKb: number | null;
  readonly readOnly: boolean | null;
}

export interface DiskFacts extends ProbeBase {
  readonly root: MountFacts;
  readonly state: MountFacts;
}

export interface KubeletFacts extends ProbeBase {
  /** systemd ActiveState of kubelet. */
  readonly activeState?: string | null;
  /** `curl -s 127.0.0.1:10248/healthz`: `ok`, the body, or null. */
  readonly healthz?: string | null;
  /** `--container-runtime-endpoint` or the kubelet config's `containerRuntimeEndpoint`. */
  readonly runtimeEndpoint?: string | null;
}

/** The whole document. */
export interface Facts {
  readonly schema: typeof FACTS_SCHEMA;
  readonly script: {
    readonly version: string;
    readonly host: string;
    /** ISO-8601 UTC. */
    readonly time: string;
    readonly elapsedMs: number;
  };
  readonly paths: {
    readonly address: string;
    readonly config: string;
    readonly root: string;
    readonly state: string;
    readonly logFile: string | null;
  };
  /** Whether systemd runs this machine (PID 1). */
  readonly systemd: boolean;
  readonly containerd: ContainerdFacts;
  readonly fds: FdFacts;
  readonly socket: SocketFacts;
  readonly plugins: PluginFacts;
  readonly config: ConfigFacts;
  readonly logs: LogFacts;
  readonly resources: ResourceFacts;
  readonly disk: DiskFacts;
  readonly kubelet: KubeletFacts;
}

/**
 * Log signature ids the script matches (its `SIGNATURES` table must use exactly these ids).
 * The analyzer maps them to causes.
 */
export const LOG_SIGNATURES = {
  'too-many-open-files': 'too many open files',
  'message-too-large': 'received message larger than max',
  'invalid-database': 'invalid database',
  'toml-load-failed': 'failed to load TOML',
  'unknown-toml-key': 'Ignoring unknown key in TOML',
  'socket-refused': 'containerd.sock: connect: connection refused',
  'deadline-exceeded': 'code = DeadlineExceeded',
  'pleg-unhealthy': 'PLEG is not healthy',
  'runtime-down': 'container runtime is down',
  'runtime-not-ready': 'container runtime not ready',
  'no-space': 'no space left on device',
  'read-only-fs': 'read-only file system',
  'read-only-port': '10255',
  'oom-kill': 'Out of memory: Killed process',
} as const;
