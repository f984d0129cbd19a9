/**
 * The local composition root: the same use cases, steps and Bolt app as in AWS, with local
 * adapters — a shell runner instead of SSM (against a real containerd sandbox), a static
 * inventory instead of EC2, memory instead of DynamoDB, the in-process workflow instead of Step
 * Functions, and the Slack stand-in instead of Slack. The demo, the browser test and the
 * end-to-end tests all start nodemedic through here.
 */
import { randomBytes } from 'node:crypto';
import { WebClient } from '@slack/web-api';
import { MemoryIncidentStore } from '../adapters/local/memory-store.js';
import { ShellCommandRunner } from '../adapters/local/shell-runner.js';
import { StaticNodeInventory } from '../adapters/local/static-inventory.js';
import { WebApiChat } from '../adapters/slack/web-chat.js';
import type { AppDeps, AppLogger } from '../app/deps.js';
import { type AlarmOutcome, handleAlarm } from '../app/incidents.js';
import { parseAlarmEvent } from '../core/alarm.js';
import type { AnalyzeOptions } from '../core/analyze.js';
import type { Pager } from '../core/pager.js';
import { DEFAULT_SAFETY_POLICY, type SafetyPolicy } from '../core/policy.js';
import type { NodeRef } from '../core/ports.js';
import { createSlackApp, type SlackHttpResponse } from '../slack/app.js';
import { notReadyAlarmEvent } from './alarm-event.js';
import { type ContainerdSandbox, nofileCeiling } from './sandbox/containerd.js';
import { SlackStandIn } from './slack-standin/server.js';
import { InProcessWorkflow, type WorkflowEvent } from './workflow.js';

/** The local cast: who is on call and who is not. */
export const LOCAL_USERS = {
  onCall: 'U0ALICE',
  onCallSecond: 'U0BOB',
  onCallThird: 'U0CAROL',
  visitor: 'U0MALLORY',
} as const;
export const LOCAL_USER_NAMES: Record<string, string> = {
  [LOCAL_USERS.onCall]: 'alice (on call)',
  [LOCAL_USERS.onCallSecond]: 'bob (on call)',
  [LOCAL_USERS.onCallThird]: 'carol (on call)',
  [LOCAL_USERS.visitor]: 'mallory (not on call)',
};
export const LOCAL_ONCALL_GROUP = 'S0ONCALL';
export const LOCAL_CHANNEL = 'C0INCIDENTS';

/** The sandbox node, as the static inventory knows it (a valid-looking EC2 id). */
export const LOCAL_NODE: NodeRef = {
  instanceId: 'i-0de30c0ffee000001',
  nodeName: 'ip-10-0-1-23.ec2.internal',
  cluster: 'local',
  autoScalingGroup: null,
};

export interface LocalStackOptions {
  /** The containerd sandbox the scripts run against. */
  readonly sandbox: ContainerdSandbox;
  /** Minimum containerd version for the analyzer (the demo sets it at or below the installed one). */
  readonly minVersion?: string;
  /** @default 15 minutes, as in AWS */
  readonly approvalTimeoutMs?: number;
  /** Milliseconds per workflow wait second. @default 100 */
  readonly pollScaleMs?: number;
  readonly policy?: SafetyPolicy;
  readonly onEvent?: (event: WorkflowEvent) => void;
  readonly logger?: AppLogger;
  /** Port for the stand-in (0: ephemeral). */
  readonly port?: number;
  /** The on-call pager (the rehearsal's: PagerDuty's adapter against a local stand-in). @default none */
  readonly pager?: Pager;
}

export interface LocalStack {
  readonly standIn: SlackStandIn;
  readonly deps: AppDeps;
  readonly store: MemoryIncidentStore;
  readonly workflow: InProcessWorkflow;
  readonly inventory: StaticNodeInventory;
  readonly signingSecret: string;
  /** The bot token the stand-in accepts: random per stack, so nothing else on the machine knows it. */
  readonly botToken: string;
  /**
   * Set the version policy's minimum for the next analyses (a rehearsal of outdated-version raises
   * it above the installed containerd; a reset puts it back).
   */
  setMinVersion(minimum: string): void;
  /** Deliver a signed request (as Slack would) to the real Bolt app through its Lambda handler. */
  deliver(request: SignedRequest): Promise<SlackHttpResponse>;
  /** Fire a NotReady (or OK) alarm event through the alarm Lambda's parser and use case. */
  fireAlarm(state?: 'ALARM' | 'OK'): Promise<AlarmOutcome>;
  close(): Promise<void>;
}

const quietLogger: AppLogger = { info: () => {}, warn: () => {}, error: () => {} };

/** A signed request as the Slack stand-in builds it. */
export interface SignedRequest {
  readonly headers: Record<string, string>;
  readonly body: string;
}

/**
 * The real Bolt app over `deps`, behind the function the demo, the page and the tests use to hand
 * it a signed request wrapped as the Lambda Function URL event Slack's HTTP call arrives as.
 * Its Web API client talks to the stand-in; its workflow is `deps.workflow`.
 */
export function slackEdge(
  deps: AppDeps,
  options: { standIn: SlackStandIn; signingSecret: string; botToken: string },
): (request: SignedRequest) => Promise<SlackHttpResponse> {
  const slack = createSlackApp(deps, {
    signingSecret: options.signingSecret,
    botToken: options.botToken,
    clientOptions: { slackApiUrl: options.standIn.apiUrl, retryConfig: { retries: 0 } },
    mentionChannels: [deps.channel],
    bot: { botId: options.standIn.bot.botId, botUserId: options.standIn.bot.userId },
  });
  return (request) =>
    slack.handler(
      {
        version: '2.0',
        rawPath: '/',
        headers: { host: 'nodemedic.lambda-url.local', ...request.headers },
        requestContext: { http: { method: 'POST', path: '/' } },
        body: request.body,
        isBase64Encoded: false,
      },
      {},
    );
}

/**
 * raise-nofile's default target (max(current×2, 1048576)) is right for a node, where systemd can
 * grant it. A machine without CAP_SYS_RESOURCE cannot go above its own hard limit, so the local
 * mode asks for exactly that ceiling instead (20000 on the CI VMs measured).
 */
function localNofile(): Record<string, string> {
  const ceiling = nofileCeiling();
  return ceiling !== null && ceiling < 1_048_576 ? { nofile: String(ceiling) } : {};
}

/** Start the local stack. The caller owns the sandbox and disposes of it. */
export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  // Random per run: another process on this machine (or a page in the user's browser) cannot
  // call the stand-in's Web API as the bot, nor sign a click, with a value it could guess.
  const botToken = `xoxb-local-${randomBytes(16).toString('hex')}`;
  const signingSecret = randomBytes(32).toString('hex');
  const logger = options.logger ?? quietLogger;
  const standIn = await SlackStandIn.start({
    botToken,
    signingSecret,
    userGroups: {
      [LOCAL_ONCALL_GROUP]: [LOCAL_USERS.onCall, LOCAL_USERS.onCallSecond, LOCAL_USERS.onCallThird],
    },
    users: Object.fromEntries(Object.entries(LOCAL_USER_NAMES).map(([id, name]) => [id, { name }])),
    ...(options.port !== undefined ? { port: options.port } : {}),
  });
  const clientOptions = { slackApiUrl: standIn.apiUrl, retryConfig: { retries: 0 } };
  const chat = new WebApiChat(new WebClient(botToken, clientOptions));
  const store = new MemoryIncidentStore();
  const inventory = new StaticNodeInventory({ nodes: [LOCAL_NODE] });
  const policy = options.policy ?? DEFAULT_SAFETY_POLICY;
  let minVersion = options.minVersion;
  const workflow = new InProcessWorkflow({
    approvalTimeoutMs: options.approvalTimeoutMs ?? policy.approvalTimeoutMinutes * 60_000,
    pollScaleMs: options.pollScaleMs ?? 100,
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
  });
  const deps: AppDeps = {
    store,
    runner: new ShellCommandRunner({ env: options.sandbox.env() }),
    // Locally the "alarm" is the sandbox node's readiness, as Container Insights would report it.
    alarms: { state: async () => ((await options.sandbox.answers()) ? 'OK' : 'ALARM') },
    inventory,
    chat,
    workflow,
    policy,
    // Read at each analysis, so setMinVersion applies to the next incident.
    get analyzeOptions(): AnalyzeOptions {
      return minVersion ? { versionPolicy: { minimum: minVersion } } : {};
    },
    channel: LOCAL_CHANNEL,
    onCallUserGroupId: LOCAL_ONCALL_GROUP,
    // No Kubernetes here: an empty node name tells reset-state there is nothing to drain.
    scriptParameters: { ...options.sandbox.params(), ...localNofile(), nodeName: '' },
    clock: () => new Date(),
    logger,
    ...(options.pager ? { pager: options.pager } : {}),
  };
  workflow.attach(deps);
  const deliver = slackEdge(deps, { standIn, signingSecret, botToken });

  return {
    standIn,
    deps,
    store,
    workflow,
    inventory,
    signingSecret,
    botToken,
    setMinVersion: (minimum) => {
      minVersion = minimum;
    },
    deliver,
    fireAlarm: async (state = 'ALARM') => {
      const event = notReadyAlarmEvent({
        alarmName: 'nodemedic-node-not-ready-local',
        instanceId: LOCAL_NODE.instanceId,
        nodeName: LOCAL_NODE.nodeName!,
        cluster: LOCAL_NODE.cluster,
        state,
      });
      return handleAlarm(deps, parseAlarmEvent(event));
    },
    close: () => standIn.close(),
  };
}
