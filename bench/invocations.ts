/**
 * Lambda invocations per typical incident: the definition the stack deploys (built as the local
 * mode builds it) runs a whole cure, alarm → diagnosis → approval → recheck → fix → verify →
 * recovered (and the readiness check after it), over the real steps, with every command taking `seconds` on the node (the state
 * machine's polls see it running until then, on the contract's schedule). Counted: the Lambda
 * tasks the state machine invoked, the state machine's own GetCommandInvocation calls, and the
 * two invocations outside it (the alarm function, the Slack function for the click).
 *
 * "Before" is the same run with each poll a Lambda invocation, as it was until the loop called SSM
 * itself: the old loop invoked the poll function exactly where the loop now calls
 * GetCommandInvocation (one invocation per poll, retries aside), so before = after + polls.
 * Counts are deterministic: one run per command duration, no min/median/max to take.
 *
 *   npm run -s bench:invocations            # commands of 1, 5, 10 and 30 s
 *   npm run -s bench:invocations -- 5 12    # commands of 5 and 12 s
 */
import { readFileSync } from 'node:fs';
import { WebClient } from '@slack/web-api';
import { MemoryIncidentStore } from '../functions/adapters/local/memory-store.js';
import { StaticNodeInventory } from '../functions/adapters/local/static-inventory.js';
import { WebApiChat } from '../functions/adapters/slack/web-chat.js';
import { pollWait } from '../functions/app/contract.js';
import type { AppDeps } from '../functions/app/deps.js';
import { handleAlarm } from '../functions/app/incidents.js';
import { workflowStep } from '../functions/app/steps.js';
import { toTaskError } from '../functions/app/task-errors.js';
import { parseAlarmEvent } from '../functions/core/alarm.js';
import { DEFAULT_SAFETY_POLICY } from '../functions/core/policy.js';
import type { CommandInvocation, CommandRequest, CommandRunner, NodeRef } from '../functions/core/ports.js';
import { notReadyAlarmEvent } from '../functions/local/alarm-event.js';
import { AslInterpreter } from '../functions/local/asl.js';
import { localDefinition } from '../functions/local/definition.js';
import { SlackStandIn } from '../functions/local/slack-standin/server.js';
import { localGetCommandInvocation } from '../functions/local/ssm-integration.js';

const durations = process.argv.slice(2).map(Number);
if (durations.some((d) => !Number.isFinite(d) || d < 0)) {
  console.error(
    `bench:invocations: command durations must be seconds >= 0, got ${process.argv.slice(2).join(' ')}`,
  );
  process.exit(2);
}

const NODE: NodeRef = {
  instanceId: 'i-0abc123def4567890',
  nodeName: 'ip-10-0-1-23.ec2.internal',
  cluster: 'prod',
  autoScalingGroup: 'prod-ng-1',
};
const FAULT = readFixture('daemon-stopped');
const HEALTHY = readFixture('healthy');

function readFixture(name: string): string {
  return readFileSync(new URL(`../test/fixtures/facts/recorded/${name}.json`, import.meta.url), 'utf8');
}

/** The node: the fault at the diagnosis and the recheck, the fix succeeding, healthy after it. */
class CuredNode implements CommandRunner {
  private readonly diagnoses = [FAULT, FAULT, HEALTHY];
  private readonly results = new Map<string, CommandInvocation>();
  async send(request: CommandRequest): Promise<{ commandId: string }> {
    const commandId = `cmd-${this.results.size + 1}`;
    const stdout =
      request.script === 'diagnose'
        ? (this.diagnoses.shift() ?? HEALTHY)
        : `${JSON.stringify({ fix: request.script, ok: true, changed: true, detail: 'done', backup: null })}\n`;
    this.results.set(commandId, {
      commandId,
      status: 'success',
      detail: 'Success',
      exitCode: 0,
      stdout,
      stderr: '',
      stdoutTruncated: false,
    });
    return { commandId };
  }
  async get(commandId: string): Promise<CommandInvocation> {
    const result = this.results.get(commandId);
    if (!result) throw new Error(`unknown command ${commandId}`);
    return result;
  }
  async cancel(): Promise<void> {}
}

interface Count {
  readonly ending: string;
  readonly lambdas: Record<string, number>;
  readonly polls: number;
}

async function cure(seconds: number, standIn: SlackStandIn): Promise<Count> {
  const runner = new CuredNode();
  const deps: AppDeps = {
    store: new MemoryIncidentStore(),
    runner,
    inventory: new StaticNodeInventory({ nodes: [NODE] }),
    chat: new WebApiChat(new WebClient('xoxb-bench', { slackApiUrl: standIn.apiUrl })),
    workflow: { start: async () => ({ executionId: 'bench' }), resume: async () => {}, fail: async () => {} },
    policy: DEFAULT_SAFETY_POLICY,
    analyzeOptions: { versionPolicy: { minimum: '1.6.0' } },
    channel: 'C0ALERTS',
    onCallUserGroupId: null,
    scriptParameters: {},
    clock: () => new Date(),
    logger: { info: () => {}, warn: () => {}, error: () => {} },
  };
  const lambdas: Record<string, number> = {};
  const pollsOf = new Map<string, number>();
  const local = localGetCommandInvocation(() => deps);
  const { definition, functions } = localDefinition(DEFAULT_SAFETY_POLICY.approvalTimeoutMinutes);
  const interpreter: AslInterpreter = new AslInterpreter({
    definition,
    functions,
    integrations: {
      // Still running until `seconds` after the send: the n-th poll happens at the schedule's sum.
      'ssm:getCommandInvocation': async (parameters) => {
        const id = String(parameters.CommandId);
        const n = (pollsOf.get(id) ?? 0) + 1;
        pollsOf.set(id, n);
        let at = 0;
        for (let attempt = 0; attempt < n; attempt++) at += pollWait(attempt);
        if (at < seconds)
          return {
            CommandId: id,
            InstanceId: NODE.instanceId,
            Status: 'InProgress',
            StatusDetails: 'InProgress',
          };
        return local(parameters);
      },
    },
    // The approver's click: what the Slack listener records and sends back through SendTaskSuccess.
    onWaiting: ({ token }) =>
      setImmediate(() =>
        interpreter.sendTaskSuccess(
          token,
          JSON.stringify({ decision: 'approve', remediation: 'restart-containerd', by: ['U0ALICE'] }),
        ),
      ),
    invoke: async (handler, payload) => {
      lambdas[handler] = (lambdas[handler] ?? 0) + 1;
      try {
        return await workflowStep(handler)!(deps, payload as never);
      } catch (error) {
        throw toTaskError(error);
      }
    },
  });
  lambdas.alarm = 1;
  const opened = await handleAlarm(
    deps,
    parseAlarmEvent(
      notReadyAlarmEvent({
        alarmName: 'nodemedic-node-not-ready-prod',
        instanceId: NODE.instanceId,
        nodeName: NODE.nodeName!,
        cluster: NODE.cluster,
        state: 'ALARM',
      }),
    ),
  );
  if (opened.kind !== 'opened') throw new Error(`the alarm did not open an incident: ${opened.kind}`);
  const result = await interpreter.start('bench', { incidentId: opened.incidentId });
  // The click reached the Slack function once.
  lambdas.slack = 1;
  return {
    ending: `${result.status} ${result.lastState}`,
    lambdas,
    polls: [...pollsOf.values()].reduce((a, b) => a + b, 0),
  };
}

const standIn = await SlackStandIn.start({ botToken: 'xoxb-bench', signingSecret: 'bench-secret' });
try {
  console.log(
    'Lambda invocations per typical incident (alarm → diagnose → approve → recheck → fix → verify → recovered)',
  );
  console.log('');
  console.log('| each command takes | polls (4 commands) | Lambda invocations before | after | ending |');
  console.log('|---|---|---|---|---|');
  let detail = '';
  for (const seconds of durations.length ? durations : [1, 5, 10, 30]) {
    const count = await cure(seconds, standIn);
    const after = Object.values(count.lambdas).reduce((a, b) => a + b, 0);
    console.log(`| ${seconds} s | ${count.polls} | ${after + count.polls} | ${after} | ${count.ending} |`);
    detail ||= Object.entries(count.lambdas)
      .map(([handler, n]) => `${handler} ${n}`)
      .join(', ');
  }
  console.log('');
  console.log(`after, by function: ${detail}`);
} finally {
  await standIn.close();
}
