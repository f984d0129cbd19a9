/**
 * The ports the core owns. Adapters implement them: AWS (SSM, EC2, DynamoDB, Step Functions,
 * Slack Web API) for Lambda, and local ones (shell, static inventory, memory, in-process workflow,
 * the Slack stand-in) for the CLI, the demo and tests. The core imports none of the adapters.
 */
import type { RemediationId } from './model.js';

/** A node nodemedic may work on, as resolved from the inventory. */
export interface NodeRef {
  /** Validated EC2 instance id (`^i-[0-9a-f]{8,17}$`), or `local-*` for the local mode. */
  readonly instanceId: string;
  /** Kubernetes node name (the private DNS name on EKS), when known. */
  readonly nodeName: string | null;
  readonly cluster: string;
  /** The Auto Scaling group, for replace-node; null when the node is not in one. */
  readonly autoScalingGroup: string | null;
}

/** Which script a command runs: the diagnosis, or one fix. */
export type ScriptId = 'diagnose' | RemediationId;

/** A command to send: a script plus its parameters (validated against allowedPattern before sending). */
export interface CommandRequest {
  readonly node: NodeRef;
  readonly script: ScriptId;
  /** Parameter values; never interpolated into a shell string by any adapter. */
  readonly parameters: Readonly<Record<string, string>>;
  /** Execution timeout for the script on the node, seconds. */
  readonly timeoutSeconds: number;
  /** Free text kept in the SSM comment / audit (incident id). */
  readonly comment: string;
}

export type CommandStatus =
  | 'pending' // not finished yet: poll again
  | 'success'
  | 'failed' // ran and exited non-zero
  | 'timed-out'
  | 'undeliverable' // the node never got it (agent offline, DeliveryTimedOut, Undeliverable)
  | 'cancelled';

export interface CommandInvocation {
  readonly commandId: string;
  readonly status: CommandStatus;
  /** SSM's own status word, for the audit (e.g. `DeliveryTimedOut`). */
  readonly detail: string;
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** True when stdout hit the transport's cap (SSM: 24,000 characters). */
  readonly stdoutTruncated: boolean;
}

/** Runs scripts on nodes: SSM Run Command in AWS, a local shell runner locally. */
export interface CommandRunner {
  send(request: CommandRequest): Promise<{ commandId: string }>;
  get(commandId: string, node: NodeRef): Promise<CommandInvocation>;
  /**
   * Stop a command nodemedic no longer waits for (SSM CancelCommand; locally, kill its process
   * group). Resolves once the stop was requested; a command that already ended stays as it ended.
   */
  cancel(commandId: string, node: NodeRef): Promise<void>;
}

/** Whether the node's agent and the instance itself are alive. */
export interface Reachability {
  /** SSM PingStatus (`Online`, `ConnectionLost`, `Inactive`) or `local`. */
  readonly agent: string;
  /** EC2 instance state (`running`, `stopped`...). */
  readonly instanceState: string;
  /** EC2 system/instance status checks (`ok`, `impaired`, `initializing`...). */
  readonly systemStatus: string;
  readonly instanceStatus: string;
  /** True when a command can be expected to reach the node. */
  readonly reachable: boolean;
}

/** The fleet: node lookup and the instance-level actions that do not go through a script. */
export interface NodeInventory {
  /** Resolve by instance id or node name; throws NodeNotFoundError for unknown / untagged nodes. */
  resolve(query: { instanceId?: string; nodeName?: string; cluster?: string }): Promise<NodeRef>;
  reachability(node: NodeRef): Promise<Reachability>;
  /** The tail of the console output (EC2 GetConsoleOutput), decoded, capped. */
  consoleOutput(node: NodeRef): Promise<string>;
  /** Count of nodes in the cluster and how many are NotReady right now (for the blast radius). */
  clusterHealth(cluster: string): Promise<{ total: number; notReady: number }>;
  reboot(node: NodeRef): Promise<void>;
  /** Terminate within its Auto Scaling group so the group brings a fresh node. */
  replace(node: NodeRef): Promise<void>;
}

/** A Slack message reference. */
export interface MessageRef {
  readonly channel: string;
  readonly ts: string;
}

/** Block Kit payload, as produced by the one renderer (functions/core/render). */
export interface ChatMessage {
  /** Fallback text for notifications and screen readers. */
  readonly text: string;
  readonly blocks: readonly unknown[];
}

/** Slack (Web API) in AWS, the local stand-in locally. */
export interface Chat {
  post(channel: string, message: ChatMessage, threadTs?: string): Promise<MessageRef>;
  update(ref: MessageRef, message: ChatMessage): Promise<void>;
  postEphemeral(channel: string, user: string, text: string, threadTs?: string): Promise<void>;
  /** Members of a user group (`usergroups.users.list`). */
  userGroupMembers(groupId: string): Promise<readonly string[]>;
}

/** The state of the alarm that opened an incident. */
export type AlarmStateValue = 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';

/**
 * Reads an alarm's current state: CloudWatch DescribeAlarms in AWS; locally, the sandbox node's
 * readiness, as Container Insights' `node_status_condition_ready` would report it.
 */
export interface AlarmStates {
  /** null when no such alarm exists (an incident opened by a mention has none). */
  state(alarmName: string): Promise<AlarmStateValue | null>;
}

/** One time series of a multi-time-series alarm that is in ALARM. */
export interface AlarmContributorState {
  /** CloudWatch's contributor id: the same id its contributor events carry. */
  readonly id: string;
  /** The GROUP BY keys and their values (InstanceId, NodeName, ClusterName for nodemedic's alarm). */
  readonly attributes: Readonly<Record<string, string>>;
  /** CloudWatch's reason for the contributor's state. */
  readonly reason: string;
  /** When the contributor went to ALARM (ISO-8601), when CloudWatch says. */
  readonly since: string | null;
}

/**
 * Lists the contributors in ALARM of a multi-time-series (Metrics Insights GROUP BY) alarm:
 * CloudWatch DescribeAlarmContributors in AWS. The alarm-level event names no node; these do.
 */
export interface AlarmContributors {
  /** Every contributor of `alarmName` in ALARM (all pages); empty when the alarm has none or is gone. */
  inAlarm(alarmName: string): Promise<readonly AlarmContributorState[]>;
}

/** A node as CloudWatch's per-node readiness names it (its dimensions). */
export interface ReadinessNode {
  readonly instanceId: string | null;
  readonly nodeName: string | null;
}

/**
 * Per-node readiness as Container Insights reports it (`node_status_condition_ready`, enhanced
 * observability): CloudWatch GetMetricData with a Metrics Insights query in AWS; locally, the
 * sandbox nodes' readiness. Used to find a cluster-only alarm's NotReady nodes, and to verify
 * that a fixed node is Ready again.
 */
export interface NodeReadiness {
  /**
   * The cluster's nodes whose latest readiness is below 1. `null` when there is no per-node
   * readiness for this cluster at all (Container Insights with enhanced observability is off):
   * the caller then sweeps the nodes over SSM instead.
   */
  notReady(cluster: string): Promise<readonly ReadinessNode[] | null>;
  /** One node's latest readiness; `unknown` when no datapoint is recent enough to say. */
  nodeState(node: NodeRef): Promise<'ready' | 'not-ready' | 'unknown'>;
}

/** How a sweep's probe ended on one node. */
export type SweepNodeStatus =
  | 'success' // the probe ran and printed its document
  | 'failed' // it ran and failed (no document, a non-zero exit)
  | 'timed-out'
  | 'undeliverable' // the node never got it (agent offline, delivery timed out)
  | 'cancelled';

/** One node's quick probe, as the sweep read it. */
export interface SweepNodeResult {
  /** The node's instance id (validated), or `local-*` for the local mode. */
  readonly instanceId: string;
  readonly status: SweepNodeStatus;
  /** SSM's own status word (e.g. `DeliveryTimedOut`), for the summary and the audit. */
  readonly detail: string;
  /** The probe's stdout (the facts document); empty when it did not run. */
  readonly output: string;
}

/** A sweep's progress: `done` once every targeted node has ended (success or not). */
export interface SweepResults {
  readonly done: boolean;
  /** Nodes whose probe has ended; those still running are not listed. */
  readonly nodes: readonly SweepNodeResult[];
  /** Nodes the sweep targeted so far (SSM resolves tag targets as it goes); null when unknown. */
  readonly targeted: number | null;
}

/** Rate limits of one sweep, enforced by the runner itself (SSM's MaxConcurrency and MaxErrors). */
export interface SweepLimits {
  /** Nodes probed at once: a count (`"10"`) or a share of the targets (`"10%"`). */
  readonly maxConcurrency: string;
  /** Failed probes after which the rest are not sent: a count or a share. */
  readonly maxErrors: string;
}

/**
 * Runs the read-only quick probe (diagnose.sh, depth `quick`) on every node of a cluster: SSM
 * Run Command to the instances carrying the cluster tag in AWS; the local sandbox nodes locally.
 * For a cluster-only alarm that has no per-node readiness to say which nodes are NotReady.
 */
export interface ClusterSweeper {
  /** Send the probe to the cluster's nodes; resolves with the command id once it is sent. */
  start(
    cluster: string,
    options: { readonly limits: SweepLimits; readonly comment: string },
  ): Promise<{ commandId: string }>;
  /** What the sweep has found so far, every page of it. */
  results(commandId: string): Promise<SweepResults>;
}
