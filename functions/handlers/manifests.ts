/**
 * One manifest per Lambda handler: the ports it composes, the configuration it reads beyond them,
 * the IAM grants it needs and its sizing. Data only (no package, no I/O: scripts/check-layers.ts
 * keeps it so), read by both sides:
 *
 * - the handler builds its deps from its entry (`wire`, wiring/compose.ts): it parses exactly the
 *   variables its ports and its entry name, and composes exactly the ports its entry lists;
 * - the construct (infra/nodemedic.ts) creates the function from the same entry: its environment,
 *   its memory and timeout, and its least-privilege role, each grant resolved into the statement
 *   nodemedic has always deployed for it.
 *
 * Adding a grant is one line here: e.g. `anyResource: [..., 'cloudwatch:GetMetricData']`, or
 * `alarms: ['cloudwatch:DescribeAlarms', 'cloudwatch:DescribeAlarmContributors']`. An action IAM
 * authorizes on `*` only also needs its reason in {@link ANY_RESOURCE_ACTIONS} (cdk-nag's
 * acknowledgement quotes it).
 */
import type { HandlerName } from '../app/contract.js';

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

/**
 * The ports a handler may compose, each with the variables its factory reads (wiring/store.ts,
 * runner.ts...). SLACK_API_URL is for the local stand-in and GovSlack: the construct never sets it.
 */
export const PORT_ENV = {
  store: ['TABLE_NAME'],
  runner: ['DOCUMENTS'],
  inventory: ['CLUSTER_TAG_KEY', 'CLUSTER_NAMES'],
  chat: ['SLACK_SECRET_ID', 'SLACK_API_URL'],
  workflow: ['STATE_MACHINE_ARN'],
  pager: ['PAGER_SECRET_ID', 'PAGER_EVENTS_URL'],
  alarms: [],
  contributors: [],
} as const satisfies Record<string, readonly EnvName[]>;

/** A port a handler composes. */
export type Port = keyof typeof PORT_ENV;

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
  /** Instances carrying the cluster tag (a wildcard ARN narrowed by the tag condition). */
  readonly clusterInstances?: readonly ClusterInstanceAction[];
  /** Auto Scaling groups carrying the cluster tag. */
  readonly clusterGroups?: readonly 'autoscaling:TerminateInstanceInAutoScalingGroup'[];
  /** Actions IAM authorizes on `*` only, one statement. */
  readonly anyResource?: readonly AnyResourceAction[];
  /** The alarms the alarm filter accepts, one statement per action. */
  readonly alarms?: readonly AlarmAction[];
}

/** Memory (MB), timeout (s) and, when set, reserved concurrency of a function. */
export interface Sizing {
  readonly memory: number;
  readonly timeout: number;
  readonly reservedConcurrency?: number;
}

/** One handler's wiring. */
export interface HandlerManifest {
  /** The ports it composes; every other port is `unavailable` and fails as a wiring error. */
  readonly ports: readonly Port[];
  /** Variables it reads beyond the deps' and its ports'. */
  readonly env?: readonly EnvName[];
  readonly grants: Grants;
  readonly sizing: Sizing;
}

/**
 * The table. Every function writes the audit trail (poll too: it records a command it gave up on);
 * every function that posts reads the Slack secret; every function that pages reads the pager's.
 * Bolt's import dominates the Slack function's cold start, so it gets more CPU.
 */
export const MANIFESTS = {
  alarm: {
    ports: ['store', 'inventory', 'chat', 'workflow', 'pager', 'contributors'],
    env: ['ALARM_FILTER'],
    grants: {
      // An alarm back to OK ends the approval wait.
      workflow: ['startExecution', 'taskResponse'],
      secrets: ['slack', 'pager'],
      table: 'readWrite',
      anyResource: ['ec2:DescribeInstances'],
      // A multi-time-series alarm's contributors in ALARM, for its alarm-level change.
      alarms: ['cloudwatch:DescribeAlarmContributors'],
    },
    sizing: { memory: 256, timeout: 30 },
  },
  reachability: {
    ports: ['store', 'inventory'],
    grants: {
      table: 'readWrite',
      anyResource: ['ssm:DescribeInstanceInformation', 'ec2:DescribeInstanceStatus'],
    },
    sizing: { memory: 256, timeout: 30 },
  },
  send: {
    ports: ['store', 'runner', 'inventory', 'chat'],
    grants: {
      secrets: ['slack'],
      table: 'readWrite',
      // SendCommand is authorized on the document AND on each target instance: documents are
      // ours by ARN, instances only when they carry the cluster tag.
      documents: ['ssm:SendCommand'],
      clusterInstances: ['ssm:SendCommand', 'ec2:RebootInstances'],
      clusterGroups: ['autoscaling:TerminateInstanceInAutoScalingGroup'],
      anyResource: ['ec2:DescribeInstances', 'ssm:DescribeInstanceInformation', 'ec2:DescribeInstanceStatus'],
    },
    sizing: { memory: 256, timeout: 30 },
  },
  poll: {
    ports: ['store', 'runner', 'chat'],
    grants: {
      secrets: ['slack'],
      table: 'readWrite',
      // CancelCommand for the command a poll gives up on; poll is the only function that may cancel.
      anyResource: ['ssm:GetCommandInvocation', 'ssm:CancelCommand'],
    },
    sizing: { memory: 256, timeout: 15 },
  },
  analyze: {
    ports: ['store', 'runner', 'inventory', 'chat', 'pager'],
    env: ['VERSION_POLICY'],
    grants: {
      secrets: ['slack', 'pager'],
      table: 'readWrite',
      // An unreachable node is judged from EC2 evidence: its console output among them.
      clusterInstances: ['ec2:GetConsoleOutput'],
      anyResource: [
        'ssm:GetCommandInvocation',
        'ssm:DescribeInstanceInformation',
        'ec2:DescribeInstanceStatus',
        'ec2:DescribeInstances',
      ],
    },
    sizing: { memory: 512, timeout: 60 },
  },
  'await-approval': {
    ports: ['store', 'chat'],
    grants: { secrets: ['slack'], table: 'readWrite' },
    sizing: { memory: 256, timeout: 30 },
  },
  evaluate: {
    ports: ['store', 'runner', 'inventory', 'chat', 'alarms'],
    env: ['VERSION_POLICY'],
    grants: {
      secrets: ['slack'],
      table: 'readWrite',
      // A recheck/verify whose command never reached the node is judged from EC2 evidence.
      clusterInstances: ['ec2:GetConsoleOutput'],
      anyResource: [
        'ssm:GetCommandInvocation',
        'ssm:DescribeInstanceInformation',
        'ec2:DescribeInstanceStatus',
      ],
      // The state of the alarm that opened the incident, for the verification.
      alarms: ['cloudwatch:DescribeAlarms'],
    },
    sizing: { memory: 512, timeout: 60 },
  },
  outcome: {
    ports: ['store', 'chat', 'pager'],
    grants: { secrets: ['slack', 'pager'], table: 'readWrite' },
    sizing: { memory: 256, timeout: 30 },
  },
  escalate: {
    ports: ['store', 'chat', 'pager'],
    grants: { secrets: ['slack', 'pager'], table: 'readWrite' },
    sizing: { memory: 256, timeout: 30 },
  },
  'execution-ended': {
    ports: ['store', 'chat', 'pager'],
    // Only to tell its own state machine's executions from others': it is granted nothing on it.
    env: ['STATE_MACHINE_ARN'],
    grants: { secrets: ['slack', 'pager'], table: 'readWrite' },
    sizing: { memory: 256, timeout: 30 },
  },
  slack: {
    ports: ['store', 'inventory', 'chat', 'workflow', 'pager'],
    env: ['ONCALL_ALLOWLIST', 'MENTION_CHANNEL_IDS'],
    grants: {
      // A mention starts a diagnosis; approve/deny resume the approval wait.
      workflow: ['startExecution', 'taskResponse'],
      secrets: ['slack', 'pager'],
      table: 'readWrite',
      anyResource: ['ec2:DescribeInstances'],
    },
    sizing: { memory: 1024, timeout: 15 },
  },
} as const satisfies Record<HandlerName, HandlerManifest>;

/** The ports handler `N` composes. */
export type PortsOf<N extends HandlerName> = (typeof MANIFESTS)[N]['ports'][number];

/** The variables handler `N` reads beyond its deps' and ports'. */
type ExtraEnvOf<N extends HandlerName> = (typeof MANIFESTS)[N] extends { env: readonly (infer E)[] }
  ? E & EnvName
  : never;

/** Every variable handler `N` reads: its deps', its ports', and its own. */
export type EnvNameOf<N extends HandlerName> =
  | (typeof DEPS_ENV)[number]
  | (typeof PORT_ENV)[PortsOf<N>][number]
  | ExtraEnvOf<N>;

/** The variables a handler reads, in a stable order (deps, ports, its own), each once. */
export function handlerEnv<N extends HandlerName>(name: N): EnvNameOf<N>[] {
  const manifest: HandlerManifest = MANIFESTS[name];
  const names: EnvName[] = [
    ...DEPS_ENV,
    ...manifest.ports.flatMap((port): readonly EnvName[] => PORT_ENV[port]),
    ...(manifest.env ?? []),
  ];
  return [...new Set(names)] as EnvNameOf<N>[];
}
