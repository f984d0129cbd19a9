/**
 * Parameters of nodemedic's scripts (the diagnosis and every fix). They reach a script only as
 * environment variables named `NODEMEDIC_<SNAKE_NAME>`: the local shell runner passes them in the
 * child's environment, and the SSM documents export them from document parameters whose
 * `allowedPattern` is the one below. Nothing from an alarm or Slack is ever spliced into a shell
 * string: every value is checked against its pattern first.
 */
import { InvalidInputError } from './errors.js';
import { NODE_NAME_SOURCE, PATH_SOURCE } from './patterns.js';

export interface ScriptParameter {
  /** Environment variable the script reads. */
  readonly env: string;
  /** Anchored pattern every value must match (also the SSM document's `allowedPattern`). */
  readonly allowedPattern: string;
  /** Default on a standard node; the script applies the same default when the variable is empty. */
  readonly default: string;
  readonly description: string;
}

/** Every parameter any script accepts. */
export const SCRIPT_PARAMETERS = {
  address: {
    env: 'NODEMEDIC_ADDRESS',
    allowedPattern: PATH_SOURCE,
    default: '/run/containerd/containerd.sock',
    description: "containerd's gRPC socket",
  },
  config: {
    env: 'NODEMEDIC_CONFIG',
    allowedPattern: PATH_SOURCE,
    default: '/etc/containerd/config.toml',
    description: "containerd's config file",
  },
  root: {
    env: 'NODEMEDIC_ROOT',
    allowedPattern: PATH_SOURCE,
    default: '/var/lib/containerd',
    description: "containerd's root (persistent state) dir",
  },
  state: {
    env: 'NODEMEDIC_STATE',
    allowedPattern: PATH_SOURCE,
    default: '/run/containerd',
    description: "containerd's state (runtime) dir",
  },
  logFile: {
    env: 'NODEMEDIC_LOG_FILE',
    allowedPattern: `^$|${PATH_SOURCE}`,
    default: '',
    description: 'read containerd/kubelet log lines from this file instead of the journal',
  },
  systemdDir: {
    env: 'NODEMEDIC_SYSTEMD_DIR',
    allowedPattern: PATH_SOURCE,
    default: '/etc/systemd/system',
    description: 'where systemd unit drop-ins live',
  },
  mode: {
    env: 'NODEMEDIC_MODE',
    allowedPattern: '^(apply|rollback)$',
    default: 'apply',
    description: 'fix scripts: apply the fix, or roll back the last apply (where the fix has a rollback)',
  },
  nofile: {
    env: 'NODEMEDIC_NOFILE',
    allowedPattern: '^$|^[0-9]{1,10}$|^infinity$',
    default: '',
    description: 'raise-nofile: the new LimitNOFILE (empty: max(current*2, 1048576))',
  },
  messageSize: {
    env: 'NODEMEDIC_MESSAGE_SIZE',
    allowedPattern: '^[0-9]{1,10}$',
    default: '16777216',
    description: 'raise-grpc-message-size: the new max_recv/max_send_message_size in bytes',
  },
  nodeName: {
    env: 'NODEMEDIC_NODE_NAME',
    allowedPattern: `^$|${NODE_NAME_SOURCE}`,
    default: '',
    description: 'the Kubernetes node name, for cordon/drain',
  },
  pauseImage: {
    env: 'NODEMEDIC_PAUSE_IMAGE',
    allowedPattern: `^$|${PATH_SOURCE}`,
    default: '/etc/eks/pause.tar',
    description: 'reset-state: the pause image tarball to re-import',
  },
  packageVersion: {
    env: 'NODEMEDIC_PACKAGE_VERSION',
    allowedPattern: '^$|^[0-9]+\\.[0-9]+\\.[0-9]+[A-Za-z0-9.~+-]{0,40}$',
    default: '',
    description: 'upgrade-containerd: the package version the operator pins',
  },
  depth: {
    env: 'NODEMEDIC_DEPTH',
    allowedPattern: '^(full|quick)$',
    default: 'full',
    description:
      "diagnose: full, or quick (a cluster sweep's read-only probe: the slow sections skipped, a 15 s deadline)",
  },
} as const satisfies Record<string, ScriptParameter>;

export type ScriptParameterName = keyof typeof SCRIPT_PARAMETERS;

/** The diagnosis takes the path overrides only: no fix-specific input. */
export const DIAGNOSE_PARAMETERS = [
  'address',
  'config',
  'root',
  'state',
  'logFile',
  'depth',
] as const satisfies readonly ScriptParameterName[];

/**
 * Seconds the diagnosis may run on the node (the SSM document's timeout). diagnose.sh enforces its
 * own deadline below it (DEADLINE_S, 40 s), so it prints partial facts instead of being killed;
 * the margin covers a slow agent start.
 */
export const DIAGNOSE_TIMEOUT_SECONDS = 60;

/**
 * The tag on each of nodemedic's SSM documents, valued with the script id (`diagnose`, a
 * remediation id): the CLI on a laptop finds the deployed documents by it.
 */
export const SCRIPT_TAG = 'nodemedic:script';

/**
 * Validate parameter values and map them to the environment variables the scripts read.
 * Throws InvalidInputError naming the parameter for an unknown name or a value that does not match.
 */
export function scriptEnvironment(values: Readonly<Record<string, string>>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(values)) {
    const spec = (SCRIPT_PARAMETERS as Record<string, ScriptParameter>)[name];
    if (!spec) throw new InvalidInputError(`unknown script parameter "${name}"`);
    if (!new RegExp(spec.allowedPattern).test(value)) {
      throw new InvalidInputError(
        `script parameter "${name}" does not match ${spec.allowedPattern}: ${JSON.stringify(value.slice(0, 80))}`,
      );
    }
    env[spec.env] = value;
  }
  return env;
}
