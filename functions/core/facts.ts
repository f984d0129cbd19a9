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
 *
 * Script 1.1 added, without a schema bump (every addition is optional, so older documents still
 * parse): `script.deadlineMs`/`unfinished`, `plugins.errors`, `config.ignoredKeys`/`errorFile`,
 * and the `host`, `images`, `processes` and `drain` sections.
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

/** One errored plugin's own error text, from `ctr plugins ls -d`. */
export interface PluginError {
  /** `type/id`, as in `errored`. */
  readonly id: string;
  /** The plugin's error message, capped at 300 characters. */
  readonly error: string;
}

export interface PluginFacts extends ProbeBase {
  /** Number of plugins listed. */
  readonly total: number | null;
  /**
   * Plugins whose STATUS is `error`, as `type/id` (e.g. `io.containerd.metadata.v1/bolt`). A healthy
   * daemon often lists `io.containerd.snapshotter.v1/devmapper` here: only bolt and CRI matter.
   */
  readonly errored: readonly string[];
  /**
   * The error text of the errored bolt and CRI plugins (1.x `io.containerd.grpc.v1/cri`; 2.x also
   * `io.containerd.cri.v1/images`, `…/runtime`, the podsandbox controller), at most 20. Present only
   * when one of them is in error and `ctr plugins ls -d` answered.
   */
  readonly errors?: readonly PluginError[];
  /** Why `errors` could not be read (`ctr plugins ls -d` failed). */
  readonly errorsUnread?: string;
}

export interface ConfigFacts extends ProbeBase {
  readonly path: string;
  readonly exists: boolean;
  /** Whether containerd itself could load it (`containerd --config F config dump`). */
  readonly parses: boolean | null;
  /** containerd's own parse error, e.g. `failed to load TOML from ...: (13, 5): ...`. */
  readonly parseError?: string;
  /** The file the error is in when it is not `path` (an import). */
  readonly errorFile?: string;
  /** Line containerd's error points at, when it names one (1.x `(16, 6)`, 2.x `at row 16 column 6`). */
  readonly errorLine?: number | null;
  /** The quoted text of that line, capped at 200 characters. */
  readonly errorLineText?: string | null;
  /** Top-level `version = N`. */
  readonly declaredVersion: number | null;
  /** Raw `key = value` lines under `[grpc]`, as written, in the main file and its imports. */
  readonly grpc: readonly string[];
  /** Files named by `imports`. */
  readonly imports: readonly string[];
  /**
   * Keys containerd (2.x) says it ignores (`Ignoring unknown key in TOML`) while loading this
   * config, as `plugin key` (e.g. `io.containerd.cri.v1.runtime disable_cgroup`), at most 10.
   */
  readonly ignoredKeys?: readonly string[];
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

/** What this shell sees of the host (Bottlerocket's control container sees none of it). */
export interface HostFacts extends ProbeBase {
  /** `/proc/1/comm`: `systemd` on a normal node. */
  readonly pid1: string | null;
  /** Whether `systemctl show` answered. */
  readonly systemctl: boolean;
  /** /etc/os-release PRETTY_NAME. */
  readonly os: string | null;
  /** Bottlerocket markers found: `/.bottlerocket`, `apiclient`, `/etc/os-release`. */
  readonly bottlerocket: readonly string[];
}

/** The CRI's sandbox (pause) image in the `k8s.io` namespace. */
export interface ImageFacts extends ProbeBase {
  readonly namespace: string;
  /** Entries of `ctr -n k8s.io images ls -q`. */
  readonly total: number | null;
  /** The image the config names (`sandbox_image`, 2.x `pinned_images.sandbox`), from `config dump`. */
  readonly sandboxImage: string | null;
  /** Whether that image is in the namespace; null when either side is unknown. */
  readonly sandboxPresent: boolean | null;
  /** The pause image tarball on this node (`/etc/eks/pause.tar` on AL2023), null when absent. */
  readonly pauseTar: string | null;
}

/** A shim or runc process stopped (T/t) or in uninterruptible sleep (D). */
export interface StuckProcess {
  readonly pid: number;
  readonly state: string;
  readonly comm: string;
  /** Its command line, capped at 160 characters (empty when unreadable). */
  readonly cmd: string;
}

/** `ctr -n NS tasks ls` for a namespace the shims serve. */
export interface TaskListing {
  readonly namespace: string;
  readonly tasks: number | null;
  /** Tasks listed with STATUS UNKNOWN (their shim did not answer the daemon), at most 5. */
  readonly unknown: readonly string[];
  readonly call: CallResult;
}

export interface ProcessFacts extends ProbeBase {
  /** `containerd-shim*` processes. */
  readonly shims: number;
  /** At most 5. */
  readonly stuck: readonly StuckProcess[];
  /** At most 3 namespaces. */
  readonly tasks: readonly TaskListing[];
}

/** Whether this node can cordon and drain itself (what the drain fixes need). */
export interface DrainFacts extends ProbeBase {
  readonly kubectl: boolean;
  /** The first readable admin kubeconfig ($KUBECONFIG, /etc/kubernetes/admin.conf, /root/.kube/config). */
  readonly kubeconfig: string | null;
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
    /** The run's own deadline (below the SSM document's timeout). */
    readonly deadlineMs?: number;
    /** Sections not run because the deadline had passed (they say `unknown`). */
    readonly unfinished?: readonly string[];
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
  readonly host?: HostFacts;
  readonly images?: ImageFacts;
  readonly processes?: ProcessFacts;
  readonly drain?: DrainFacts;
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
  /** A regex in the script (`:10255` not followed by a digit): kubelet's read-only port, never `pid=110255`. */
  'read-only-port': ':10255',
  'oom-kill': 'Out of memory: Killed process',
  /** containerd 2.x's parse error (1.x says `failed to load TOML`). */
  'toml-unmarshal-failed': 'failed to unmarshal TOML',
} as const;
