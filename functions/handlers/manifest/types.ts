/**
 * The vocabulary of the handler manifests (one file per handler in this directory): the
 * environment variables, the ports and the variables each port reads, the grants a function may
 * get and its sizing. Data only (no package, no I/O: scripts/check-layers.ts keeps it so), read by
 * the handlers' wiring and by the construct.
 */

/** Every environment variable a handler may read; wiring/env.ts has a schema for each. */
export const ENV_NAMES = [
  'TABLE_NAME',
  'SLACK_SECRET_ID',
  'SLACK_CHANNEL_ID',
  'CLUSTER_TAG_KEY',
  'CLUSTER_NAMES',
  'STATE_MACHINE_ARN',
  'DOCUMENTS',
  'SAFETY_POLICY',
  'VERSION_POLICY',
  'ONCALL_USERGROUP_ID',
  'ONCALL_ALLOWLIST',
  'ALARM_FILTER',
  'MENTION_CHANNEL_IDS',
  'PAGER_SECRET_ID',
  'PAGER_EVENTS_URL',
  'SLACK_API_URL',
] as const;

/** The name of an environment variable a handler reads. */
export type EnvName = (typeof ENV_NAMES)[number];

/** Variables every function's deps read (wiring/deps.ts `assemble`). */
export const DEPS_ENV = ['SLACK_CHANNEL_ID', 'SAFETY_POLICY', 'ONCALL_USERGROUP_ID'] as const;

/** A port a handler composes (wiring/compose.ts has the type each one's factory gives). */
export type Port =
  | 'store'
  | 'runner'
  | 'inventory'
  | 'chat'
  | 'workflow'
  | 'pager'
  | 'alarms'
  | 'contributors'
  | 'readiness'
  | 'sweeper'
  /** The workflow for a step the state machine invokes: task-token answers only, no ARN. */
  | 'taskTokens';

/**
 * The variables each port's factory reads (wiring/store.ts, runner.ts...); a port not here reads
 * none. SLACK_API_URL is for the local stand-in and GovSlack: the construct never sets it.
 */
export const PORT_ENV = {
  store: ['TABLE_NAME'],
  runner: ['DOCUMENTS'],
  inventory: ['CLUSTER_TAG_KEY', 'CLUSTER_NAMES'],
  chat: ['SLACK_SECRET_ID', 'SLACK_API_URL'],
  workflow: ['STATE_MACHINE_ARN'],
  pager: ['PAGER_SECRET_ID', 'PAGER_EVENTS_URL'],
  sweeper: ['DOCUMENTS', 'CLUSTER_TAG_KEY'],
} as const satisfies Partial<Record<Port, readonly EnvName[]>>;

/** The variables port `P` reads. */
export type PortEnvName<P extends Port> = P extends keyof typeof PORT_ENV
  ? (typeof PORT_ENV)[P][number]
  : never;

/**
 * Actions IAM authorizes on no resource narrower than `*`, each with the reason, quoted in the
 * cdk-nag acknowledgement of the function's `Resource::*` statement.
 */
export const ANY_RESOURCE_ACTIONS = {
  'ec2:DescribeInstances': 'EC2 Describe* calls do not support resource-level permissions',
  'ec2:DescribeInstanceStatus': 'EC2 Describe* calls do not support resource-level permissions',
  'ssm:DescribeInstanceInformation':
    'DescribeInstanceInformation does not support resource-level permissions',
  'ssm:GetCommandInvocation':
    'GetCommandInvocation does not support resource-level permissions (command ids are not ARNs)',
  'ssm:ListCommandInvocations':
    'ListCommandInvocations does not support resource-level permissions (command ids are not ARNs)',
  'ssm:CancelCommand': 'CancelCommand does not support resource-level permissions (command ids are not ARNs)',
  'cloudwatch:GetMetricData': 'GetMetricData does not support resource-level permissions',
  'ssm:ListCommands': 'ListCommands does not support resource-level permissions (command ids are not ARNs)',
} as const satisfies Record<string, string>;

/** An action granted on `*`. */
export type AnyResourceAction = keyof typeof ANY_RESOURCE_ACTIONS;

/** An action on the alarms the alarm filter accepts (alarm ARNs, prefixes as wildcards). */
export type AlarmAction = 'cloudwatch:DescribeAlarms' | 'cloudwatch:DescribeAlarmContributors';

/** An action on the instances that carry the cluster tag with one of the cluster names. */
export type ClusterInstanceAction = 'ssm:SendCommand' | 'ec2:RebootInstances' | 'ec2:GetConsoleOutput';

/**
 * What a function's role may do beyond writing its own log group, as data. The construct turns
 * each key into the statement(s) it stands for, in this order, scoped to the resources named here.
 */
export interface Grants {
  /** The state machine: start executions; answer task tokens (SendTaskSuccess/Failure/Heartbeat). */
  readonly workflow?: readonly ('startExecution' | 'taskResponse')[];
  /** Read a secret: the Slack app's; the pager's routing key (when the stack pages). */
  readonly secrets?: readonly ('slack' | 'pager')[];
  /** The incident table and its indexes. */
  readonly table?: 'readWrite';
  /** nodemedic's own SSM documents (by ARN). */
  readonly documents?: readonly 'ssm:SendCommand'[];
  /** The diagnose document alone (by ARN): a sweep's read-only quick probe, never a fix. */
  readonly diagnoseDocument?: readonly 'ssm:SendCommand'[];
  /** Instances carrying the cluster tag (a wildcard ARN narrowed by the tag condition). */
  readonly clusterInstances?: readonly ClusterInstanceAction[];
  /** Auto Scaling groups carrying the cluster tag. */
  readonly clusterGroups?: readonly 'autoscaling:TerminateInstanceInAutoScalingGroup'[];
  /** Actions IAM authorizes on `*` only, one statement. */
  readonly anyResource?: readonly AnyResourceAction[];
  /** The alarms the alarm filter accepts, one statement per action. */
  readonly alarms?: readonly AlarmAction[];
  /**
   * Send to the dead-letter queue: the function is invoked asynchronously (an EventBridge target),
   * and an invocation that still fails after Lambda's retries goes there.
   */
  readonly deadLetterQueue?: 'send';
}

/** Memory (MB), timeout (s) and, when set, reserved concurrency of a function. */
export interface Sizing {
  readonly memory: number;
  readonly timeout: number;
  readonly reservedConcurrency?: number;
}

/** What a handler composes and reads: the part of its manifest bundled with it. */
export interface Wiring {
  /** The ports it composes; every other port is `unavailable` and fails as a wiring error. */
  readonly ports: readonly Port[];
  /** Variables it reads beyond the deps' and its ports'. */
  readonly env: readonly EnvName[];
}

/** One handler's manifest: its wiring, and what the construct gives its function. */
export interface HandlerManifest {
  readonly wiring: Wiring;
  readonly grants: Grants;
  readonly sizing: Sizing;
}

/** Every variable a handler with `wiring` reads: its deps', its ports', and its own. */
export type EnvNameOf<W extends Wiring> =
  | (typeof DEPS_ENV)[number]
  | PortEnvName<W['ports'][number]>
  | W['env'][number];

/** The variables a handler reads: the deps', then its ports', then its own. */
export function handlerEnv<W extends Wiring>(wiring: W): EnvNameOf<W>[] {
  // Once each: two ports may read the same variable (the inventory and the sweeper, the cluster tag).
  const names = new Set<EnvName>([
    ...DEPS_ENV,
    ...wiring.ports.flatMap(
      (port): readonly EnvName[] => (PORT_ENV as Partial<Record<Port, readonly EnvName[]>>)[port] ?? [],
    ),
    ...wiring.env,
  ]);
  return [...names] as EnvNameOf<W>[];
}
