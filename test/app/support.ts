/**
 * The local pipeline over recorded script outputs: memory store, static inventory, the in-process
 * workflow, the real Bolt app, the Slack stand-in over real HTTP, and a command runner that plays
 * back outputs the diagnostic script really printed against a real containerd
 * (test/fixtures/facts/recorded/). The runner is the one double: it stands in for SSM.
 */

import { readFileSync } from 'node:fs';
import { WebClient } from '@slack/web-api';
import { MemoryIncidentStore } from '../../functions/adapters/local/memory-store.js';
import { StaticNodeInventory } from '../../functions/adapters/local/static-inventory.js';
import { WebApiChat } from '../../functions/adapters/slack/web-chat.js';
import type { AppDeps } from '../../functions/app/deps.js';
import { handleAlarm } from '../../functions/app/incidents.js';
import { analyzeStep, awaitApprovalStep, sendStep } from '../../functions/app/steps.js';
import { parseAlarmEvent } from '../../functions/core/alarm.js';
import type { Catalog } from '../../functions/core/catalog.js';
import type { Pager } from '../../functions/core/pager.js';
import { DEFAULT_SAFETY_POLICY, type SafetyPolicy } from '../../functions/core/policy.js';
import type {
  AlarmStates,
  AlarmStateValue,
  CommandInvocation,
  CommandRequest,
  CommandRunner,
  NodeRef,
  Reachability,
} from '../../functions/core/ports.js';
import { notReadyAlarmEvent } from '../../functions/local/alarm-event.js';
import { slackEdge } from '../../functions/local/compose.js';
import { SlackStandIn } from '../../functions/local/slack-standin/server.js';
import { InProcessWorkflow, type WorkflowEvent } from '../../functions/local/workflow.js';

export const NODE: NodeRef = {
  instanceId: 'i-0abc123def4567890',
  nodeName: 'ip-10-0-1-23.ec2.internal',
  cluster: 'prod',
  autoScalingGroup: 'prod-ng-1',
};
/** The harness's ten nodes, all in cluster prod: NODE, then nine others (i-0abc123def4567800 … 08). */
export const NODES: readonly NodeRef[] = [
  NODE,
  ...Array.from({ length: 9 }, (_, i) => ({
    ...NODE,
    instanceId: `i-0abc123def456780${i}`,
    nodeName: `ip-10-0-2-${i}.ec2.internal`,
  })),
];
export const CHANNEL = 'C0ALERTS';
export const ONCALL_GROUP = 'S0ONCALL';
export const ALICE = 'U0ALICE';
export const BOB = 'U0BOB';
export const CAROL = 'U0CAROL';
export const MALLORY = 'U0MALLORY';

/** A diagnostic script output recorded against a real containerd sandbox. */
export function recorded(name: string): string {
  return readFileSync(new URL(`../fixtures/facts/recorded/${name}.json`, import.meta.url), 'utf8');
}

type Reply = { stdout: string; status?: CommandInvocation['status']; exitCode?: number; stderr?: string };

/**
 * Plays back scripted outputs per script id (or per any key of the request: `keyOf`); records
 * every send.
 */
export class PlaybackRunner implements CommandRunner {
  readonly sent: CommandRequest[] = [];
  private readonly results = new Map<string, CommandInvocation>();
  private readonly queues = new Map<string, Reply[]>();

  constructor(private readonly keyOf: (request: CommandRequest) => string = (r) => r.script) {}

  /** Queue replies for a key (the script id, `diagnose` or a remediation id); the last one repeats. */
  queue(key: string, ...replies: Reply[]): this {
    this.queues.set(key, [...(this.queues.get(key) ?? []), ...replies]);
    return this;
  }

  async send(request: CommandRequest): Promise<{ commandId: string }> {
    this.sent.push(request);
    const key = this.keyOf(request);
    const queue = this.queues.get(key);
    if (!queue?.length) throw new Error(`no playback queued for ${key}`);
    const reply = queue.length > 1 ? queue.shift()! : queue[0]!;
    const commandId = `cmd-${this.sent.length}`;
    const status = reply.status ?? 'success';
    this.results.set(commandId, {
      commandId,
      status,
      detail: status === 'success' ? 'Success' : status,
      exitCode: reply.exitCode ?? (status === 'success' ? 0 : 1),
      stdout: reply.stdout,
      stderr: reply.stderr ?? '',
      stdoutTruncated: reply.stdout.length >= 24_000,
    });
    return { commandId };
  }

  /** Commands cancelled, in order. */
  readonly cancelled: string[] = [];

  async cancel(commandId: string): Promise<void> {
    if (!this.results.has(commandId)) throw new Error(`unknown command ${commandId}`);
    this.cancelled.push(commandId);
  }

  async get(commandId: string): Promise<CommandInvocation> {
    const result = this.results.get(commandId);
    if (!result) throw new Error(`unknown command ${commandId}`);
    return result;
  }

  /**
   * The outputs of an incident that a fix cures: `fault` at the diagnosis and at the recheck, a
   * successful `remediation`, then a healthy verification.
   */
  fixLoop(fault: string, remediation: string, detail?: string): this {
    return this.queue(
      'diagnose',
      { stdout: recorded(fault) },
      { stdout: recorded(fault) },
      { stdout: recorded('healthy') },
    ).queue(remediation, fixOk(remediation, detail));
  }

  scripts(): string[] {
    return this.sent.map((s) => s.script);
  }
}

/** The JSON summary line a fix script prints last. */
export function fixOk(fix: string, detail = 'done'): Reply {
  return { stdout: `applying\n${JSON.stringify({ fix, ok: true, changed: true, detail, backup: null })}\n` };
}

export interface Harness {
  readonly deps: AppDeps;
  readonly store: MemoryIncidentStore;
  readonly runner: PlaybackRunner;
  readonly inventory: StaticNodeInventory;
  readonly workflow: InProcessWorkflow;
  readonly standIn: SlackStandIn;
  readonly events: WorkflowEvent[];
  /** Deliver a signed Slack request into the real Bolt app. */
  deliver(request: {
    headers: Record<string, string>;
    body: string;
  }): Promise<{ statusCode: number; body: string }>;
  /** The signed request Slack would send for a click on the incident's findings message. */
  clickRequest(
    incidentId: string,
    user: string,
    actionId: string,
  ): Promise<{ headers: Record<string, string>; body: string }>;
  click(incidentId: string, user: string, actionId: string): Promise<{ statusCode: number; body: string }>;
  alarmEvent(state?: 'ALARM' | 'OK'): Record<string, unknown>;
  close(): Promise<void>;
}

export async function startHarness(options: {
  approvalTimeoutMs?: number;
  policy?: Partial<SafetyPolicy>;
  reachability?: Reachability;
  notReady?: string[];
  minVersion?: string;
  pager?: Pager;
  /**
   * The states the alarms port answers, one per read, the last repeating (the verification and
   * each readiness check read it). @default no alarms port: the readiness check is not made
   */
  alarmStates?: readonly (AlarmStateValue | null)[];
  /** The remediation catalog the steps run from. @default the built-in CATALOG */
  catalog?: Catalog;
}): Promise<Harness> {
  const botToken = 'xoxb-test';
  const signingSecret = 'test-signing-secret';
  const standIn = await SlackStandIn.start({
    botToken,
    signingSecret,
    userGroups: { [ONCALL_GROUP]: [ALICE, BOB, CAROL] },
  });
  const clientOptions = { slackApiUrl: standIn.apiUrl, retryConfig: { retries: 0 } };
  const chat = new WebApiChat(new WebClient(botToken, clientOptions));
  const store = new MemoryIncidentStore();
  const runner = new PlaybackRunner();
  const inventory = new StaticNodeInventory({
    nodes: NODES,
    ...(options.reachability ? { reachability: { [NODE.instanceId]: options.reachability } } : {}),
    consoleOutput: { [NODE.instanceId]: '[  812.1] Out of memory: Killed process 4242 (containerd)\n' },
    notReady: options.notReady ?? [],
  });
  const events: WorkflowEvent[] = [];
  const policy: SafetyPolicy = { ...DEFAULT_SAFETY_POLICY, ...options.policy };
  const workflow = new InProcessWorkflow({
    approvalTimeoutMs: options.approvalTimeoutMs ?? 60_000,
    pollScaleMs: 1,
    onEvent: (e) => events.push(e),
  });
  const deps: AppDeps = {
    store,
    runner,
    inventory,
    chat,
    workflow,
    policy,
    analyzeOptions: { versionPolicy: { minimum: options.minVersion ?? '1.6.0' } },
    channel: CHANNEL,
    onCallUserGroupId: ONCALL_GROUP,
    scriptParameters: {},
    clock: () => new Date(),
    logger: { info: () => {}, warn: () => {}, error: () => {} },
    ...(options.pager ? { pager: options.pager } : {}),
    ...(options.alarmStates ? { alarms: playbackAlarms(options.alarmStates) } : {}),
    ...(options.catalog ? { catalog: options.catalog } : {}),
  };
  workflow.attach(deps);
  const deliver = slackEdge(deps, { standIn, signingSecret, botToken });
  const clickRequest = async (incidentId: string, user: string, actionId: string) => {
    const message = (await store.get(incidentId))?.findingsMessage;
    if (!message) throw new Error('no findings message to click on');
    return standIn.clickRequest({ channel: message.channel, messageTs: message.ts, actionId, user });
  };
  return {
    deps,
    store,
    runner,
    inventory,
    workflow,
    standIn,
    events,
    deliver,
    clickRequest,
    click: async (incidentId, user, actionId) => deliver(await clickRequest(incidentId, user, actionId)),
    alarmEvent: (state = 'ALARM') =>
      notReadyAlarmEvent({
        alarmName: 'nodemedic-node-not-ready-prod',
        instanceId: NODE.instanceId,
        nodeName: NODE.nodeName!,
        cluster: NODE.cluster,
        state,
      }),
    close: () => standIn.close(),
  };
}

/** An alarms port that answers `states` in turn, the last one repeating. */
function playbackAlarms(states: readonly (AlarmStateValue | null)[]): AlarmStates {
  let read = 0;
  return {
    state: async () => {
      const state = states[Math.min(read, states.length - 1)];
      read += 1;
      return state ?? null;
    },
  };
}

/** Wait (bounded) until the predicate holds. */
export async function until<T>(
  probe: () => Promise<T | null | undefined | false>,
  what: string,
  ms = 10_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Open an incident without running the workflow (the steps are then called by hand). */
export async function openQuietly(harness: Harness): Promise<string> {
  const original = harness.workflow.start.bind(harness.workflow);
  harness.workflow.start = async () => ({ executionId: 'manual' });
  try {
    const out = await handleAlarm(harness.deps, parseAlarmEvent(harness.alarmEvent('ALARM')));
    return (out as { incidentId: string }).incidentId;
  } finally {
    harness.workflow.start = original;
  }
}

/** An incident whose findings (of recorded `fixture`) are up with buttons and whose approval wait holds a token. */
export async function awaitingFindings(harness: Harness, fixture = 'daemon-stopped'): Promise<string> {
  harness.runner.queue('diagnose', { stdout: recorded(fixture) });
  const id = await openQuietly(harness);
  const sent = await sendStep(harness.deps, { incidentId: id, purpose: 'diagnose' });
  const analyzed = await analyzeStep(harness.deps, { incidentId: id, commandId: sent.commandId });
  if (!analyzed.awaitApproval) throw new Error(`${fixture}: its analysis offers nothing to approve`);
  await awaitApprovalStep(harness.deps, { incidentId: id, taskToken: 'token-1' });
  return id;
}
