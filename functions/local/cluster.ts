/**
 * `npm run demo -- --cluster N`: a cluster rehearsal on one machine. N containerd sandboxes are the
 * nodes of cluster `local`; the same use cases, steps and Bolt app as in AWS run over them, with a
 * command runner that sends each node's commands to its own sandbox, the local sweeper (the real
 * quick probe, under SSM-style rate limits) and per-node readiness read from each sandbox.
 *
 * The rehearsal, in two acts:
 * 1. A node breaks on its own. A cluster-level alarm (`cluster_failed_node_count`: a cluster, no
 *    node) arrives; nodemedic sweeps every node and opens an incident for the faulty one(s), with
 *    their own card and thread.
 * 2. A bad rollout: the same fault on most of the other nodes. The per-node Metrics Insights
 *    alarm's contributors go to ALARM, delivered twice each as EventBridge may: the cluster hold
 *    engages, and the storm becomes ONE cluster incident with one thread whose root is a live
 *    summary, with (where the policy allows) one button for a rolling fix.
 * With `--auto-approve` the on-call engineer's clicks are made for them and the run exits 0 only
 * when every faulty node recovered.
 */
import { WebClient } from '@slack/web-api';
import { MemoryIncidentStore } from '../adapters/local/memory-store.js';
import { RoutingCommandRunner } from '../adapters/local/routing-runner.js';
import { LocalNodeReadiness } from '../adapters/local/sandbox-readiness.js';
import { LocalClusterSweeper } from '../adapters/local/sandbox-sweep.js';
import { ShellCommandRunner } from '../adapters/local/shell-runner.js';
import { StaticNodeInventory } from '../adapters/local/static-inventory.js';
import { WebApiChat } from '../adapters/slack/web-chat.js';
import type { AppDeps, AppLogger } from '../app/deps.js';
import { type AlarmOutcome, handleAlarm } from '../app/incidents.js';
import { parseAlarmEvent } from '../core/alarm.js';
import type { AnalyzeOptions } from '../core/analyze.js';
import type { SafetyPolicy } from '../core/policy.js';
import type { AlarmContributorState, NodeRef } from '../core/ports.js';
import { clusterAlarmEvent, contributorAlarmEvent, contributorId } from './alarm-event.js';
import {
  LOCAL_CHANNEL,
  LOCAL_ONCALL_GROUP,
  LOCAL_USER_NAMES,
  LOCAL_USERS,
  type SignedRequest,
  slackEdge,
} from './compose.js';
import { type ContainerdSandbox, nofileCeiling } from './sandbox/containerd.js';
import type { FaultId } from './sandbox/faults.js';
import { SlackStandIn } from './slack-standin/server.js';
import { InProcessWorkflow, type WorkflowEvent } from './workflow.js';

/** The rehearsal's cluster, as its alarms name it. */
export const CLUSTER_NAME = 'local';
/** The cluster-level alarm (Container Insights' `cluster_failed_node_count`). */
export const CLUSTER_ALARM = 'nodemedic-local-failed-nodes';
/** The per-node Metrics Insights alarm whose contributors are the nodes. */
export const NODES_ALARM = 'nodemedic-local-nodes-not-ready';
/** Bounds of `--cluster N`. */
export const MIN_CLUSTER_NODES = 3;
export const MAX_CLUSTER_NODES = 20;

/** The fault a node breaks with on its own (act 1), in turn. */
const SOLO_FAULTS: readonly FaultId[] = ['fd-exhaustion', 'socket-removed'];
/** The storm's shared cause (act 2): a rollout that leaves containerd down. */
const STORM_FAULT: FaultId = 'daemon-stopped';

/** One node of the rehearsal and what happens to it. */
export interface ClusterNodePlan {
  readonly node: NodeRef;
  /** `solo`: breaks on its own, found by the sweep; `storm`: part of the shared-cause storm. */
  readonly role: 'solo' | 'storm' | 'healthy';
  readonly fault: FaultId | null;
}

/** The N nodes of cluster `local`: valid-looking EC2 ids and private DNS names. */
function clusterNodes(count: number): NodeRef[] {
  return Array.from({ length: count }, (_, k) => ({
    instanceId: `i-0de30c0ffee1${String(k + 1).padStart(4, '0')}`,
    nodeName: `ip-10-0-2-${k + 11}.ec2.internal`,
    cluster: CLUSTER_NAME,
    autoScalingGroup: null,
  }));
}

/**
 * The default mix for N nodes: one node in five (at least one) breaks on its own, every node but
 * the last of the rest joins the storm, and the last stays healthy. N = 4: 1 solo, 2 storm, 1
 * healthy. The solo nodes stay under the cluster hold's threshold (fewer than 30% and fewer than
 * five), so each gets its own card; the storm (one node or more) joined to the solo node's open
 * incident is above 30% of the cluster, so the hold engages at the storm's first arrival.
 */
export function planCluster(count: number): ClusterNodePlan[] {
  if (!Number.isInteger(count) || count < MIN_CLUSTER_NODES || count > MAX_CLUSTER_NODES) {
    throw new RangeError(
      `--cluster takes a whole number of nodes from ${MIN_CLUSTER_NODES} to ${MAX_CLUSTER_NODES}: ` +
        'one that breaks on its own, one or more for the storm, one that stays healthy',
    );
  }
  const solo = Math.max(1, Math.floor(count / 5));
  return clusterNodes(count).map((node, k) => {
    if (k < solo) return { node, role: 'solo', fault: SOLO_FAULTS[k % SOLO_FAULTS.length]! };
    if (k < count - 1) return { node, role: 'storm', fault: STORM_FAULT };
    return { node, role: 'healthy', fault: null };
  });
}

export interface LocalClusterOptions {
  /** One sandbox per node, in the order of `nodes`. */
  readonly sandboxes: readonly ContainerdSandbox[];
  readonly nodes: readonly NodeRef[];
  readonly policy: SafetyPolicy;
  readonly minVersion: string;
  readonly approvalTimeoutMs: number;
  /** Port for the stand-in (0: ephemeral). */
  readonly port: number;
  readonly onEvent?: (event: WorkflowEvent) => void;
  readonly logger?: AppLogger;
}

export interface LocalCluster {
  readonly standIn: SlackStandIn;
  readonly deps: AppDeps;
  readonly store: MemoryIncidentStore;
  readonly workflow: InProcessWorkflow;
  readonly deliver: (request: SignedRequest) => Promise<{ statusCode: number; body: string }>;
  /** Fire the cluster-level alarm through the alarm function's parser and use case. */
  fireClusterAlarm(): Promise<AlarmOutcome>;
  /** Fire one contributor's state change of the per-node alarm. */
  fireContributor(node: NodeRef, state: 'ALARM' | 'OK', time: Date): Promise<AlarmOutcome>;
  close(): Promise<void>;
}

const quietLogger: AppLogger = { info: () => {}, warn: () => {}, error: () => {} };

/** See compose.ts: the nofile target a machine without CAP_SYS_RESOURCE can reach. */
function localNofile(): Record<string, string> {
  const ceiling = nofileCeiling();
  return ceiling !== null && ceiling < 1_048_576 ? { nofile: String(ceiling) } : {};
}

/** Start nodemedic over a local cluster of sandboxes. The caller owns the sandboxes. */
export async function startLocalCluster(options: LocalClusterOptions): Promise<LocalCluster> {
  const { sandboxes, nodes } = options;
  if (sandboxes.length !== nodes.length) throw new Error('one sandbox per node');
  const { randomBytes } = await import('node:crypto');
  const botToken = `xoxb-local-${randomBytes(16).toString('hex')}`;
  const signingSecret = randomBytes(32).toString('hex');
  const standIn = await SlackStandIn.start({
    botToken,
    signingSecret,
    userGroups: {
      [LOCAL_ONCALL_GROUP]: [LOCAL_USERS.onCall, LOCAL_USERS.onCallSecond, LOCAL_USERS.onCallThird],
    },
    users: Object.fromEntries(Object.entries(LOCAL_USER_NAMES).map(([id, name]) => [id, { name }])),
    port: options.port,
  });
  const chat = new WebApiChat(
    new WebClient(botToken, { slackApiUrl: standIn.apiUrl, retryConfig: { retries: 0 } }),
  );
  const store = new MemoryIncidentStore();
  const answers = (k: number) => sandboxes[k]!.answers();
  const members = nodes.map((node, k) => ({ node, k }));
  const workflow = new InProcessWorkflow({
    approvalTimeoutMs: options.approvalTimeoutMs,
    pollScaleMs: 100,
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
  });
  const readiness = new LocalNodeReadiness(members.map(({ node, k }) => ({ node, ready: () => answers(k) })));
  const deps: AppDeps = {
    store,
    // Each node's commands run against its own sandbox: its paths come from its environment.
    runner: new RoutingCommandRunner(
      new Map(
        members.map(({ node, k }) => [node.instanceId, new ShellCommandRunner({ env: sandboxes[k]!.env() })]),
      ),
    ),
    // The cluster-level alarm is in ALARM while any node's containerd does not answer.
    alarms: {
      state: async (name) => {
        if (name !== CLUSTER_ALARM && name !== NODES_ALARM) return null;
        const all = await Promise.all(members.map(({ k }) => answers(k)));
        return all.every(Boolean) ? 'OK' : 'ALARM';
      },
    },
    // The per-node alarm's contributors in ALARM: the nodes whose containerd does not answer.
    contributors: {
      inAlarm: async (name) => {
        if (name !== NODES_ALARM) return [];
        const states = await Promise.all(members.map(async (m) => ({ ...m, up: await answers(m.k) })));
        return states
          .filter((s) => !s.up)
          .map(
            (s): AlarmContributorState => ({
              id: contributorId(s.node.instanceId),
              attributes: {
                ClusterName: CLUSTER_NAME,
                InstanceId: s.node.instanceId,
                NodeName: s.node.nodeName ?? '',
              },
              reason: 'containerd does not answer on this node',
              since: null,
            }),
          );
      },
    },
    readiness,
    sweeper: new LocalClusterSweeper({
      nodes: members.map(({ node, k }) => ({ node, env: sandboxes[k]!.env() })),
    }),
    inventory: new StaticNodeInventory({ nodes }),
    chat,
    workflow,
    policy: options.policy,
    get analyzeOptions(): AnalyzeOptions {
      return { versionPolicy: { minimum: options.minVersion } };
    },
    channel: LOCAL_CHANNEL,
    onCallUserGroupId: LOCAL_ONCALL_GROUP,
    // No Kubernetes here: an empty node name tells reset-state there is nothing to drain. The
    // sandbox paths come from each node's environment (the routing runner), not from here.
    scriptParameters: { ...localNofile(), nodeName: '' },
    clock: () => new Date(),
    logger: options.logger ?? quietLogger,
  };
  workflow.attach(deps);
  const deliver = slackEdge(deps, { standIn, signingSecret, botToken });
  // The rehearsal's cluster-level alarm is answered as a cluster without Container Insights'
  // per-node readiness answers it (the construct's default alarm without enhanced observability):
  // by a sweep. Readiness is still read after each fix, node by node.
  const { readiness: _unused, ...sweepDeps } = deps;
  return {
    standIn,
    deps,
    store,
    workflow,
    deliver,
    fireClusterAlarm: () =>
      handleAlarm(
        sweepDeps,
        parseAlarmEvent(
          clusterAlarmEvent({ alarmName: CLUSTER_ALARM, cluster: CLUSTER_NAME, state: 'ALARM' }),
        ),
      ),
    fireContributor: (node, state, time) =>
      handleAlarm(
        deps,
        parseAlarmEvent(
          contributorAlarmEvent({
            alarmName: NODES_ALARM,
            cluster: CLUSTER_NAME,
            instanceId: node.instanceId,
            nodeName: node.nodeName ?? '',
            contributorId: contributorId(node.instanceId),
            state,
            time,
          }),
        ),
      ),
    close: () => standIn.close(),
  };
}
