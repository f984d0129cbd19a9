/**
 * Fault injection through the real Lambda handlers: the synthesized state machine runs in the ASL
 * interpreter (test/infra/support/asl.ts) with every task invoking the real handler module
 * (functions/handlers/<name>.ts, composed from the real AWS adapters), AWS answered by
 * aws-sdk-client-mock (DynamoDB by the fake table that evaluates the store's conditions), Slack by
 * the stand-in over HTTP, and clicks through the real Bolt app resuming the interpreter through the
 * real StepFunctionsWorkflow adapter. Faults: Slack 429, platform errors and HTTP 503 at posts and
 * updates; DynamoDB throttling and a concurrent writer; SSM throttling; a Lambda response lost
 * after the function ran (the state machine retries it); a task token used twice; the escalate
 * function failing for good; the execution time limit hit while a fix runs (a shorter limit on
 * the interpreter's virtual clock stands in for the 2 hours). Every incident ends terminal, its thread says so, no fix is sent
 * twice, and no lock or fix slot is left behind.
 */
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeInstanceStatusCommand, DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import {
  DescribeInstanceInformationCommand,
  GetCommandInvocationCommand,
  SendCommandCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { executionName } from '../../functions/adapters/aws/sfn-workflow.js';
import type { Incident } from '../../functions/core/incident.js';
import { fixActionId } from '../../functions/core/render/slack.js';
import { notReadyAlarmEvent } from '../../functions/local/alarm-event.js';
import { AslInterpreter, type ExecutionResult } from '../../functions/local/asl.js';
import { slackEdge } from '../../functions/local/compose.js';
import { SlackStandIn } from '../../functions/local/slack-standin/server.js';
import { FakeTable } from '../adapters/aws/fake-dynamo.js';
import { recorded, until } from '../app/support.js';
import { executionStatusChange } from '../fixtures/executions.js';
import { definitionOf, handlersByArn, ssmIntegration, synthNodeMedic } from '../infra/support.js';
import { STATE_MACHINE, setHandlerEnv } from './support.js';

const INSTANCE = 'i-0abc123def4567890';
const NODE_NAME = 'ip-10-0-1-23.ec2.internal';
const CHANNEL = 'C0ALERTS';
const ONCALL = 'S0ONCALL';
const ALICE = 'U0ALICE';
const BOB = 'U0BOB';
const FIX_DOCUMENT = 'nodemedic-restart-containerd';
const DOCUMENTS = { diagnose: 'nodemedic-diagnose', 'restart-containerd': FIX_DOCUMENT };
const SIGNING_SECRET = 'fault-signing-secret';
const BOT_TOKEN = 'xoxb-faults';

const { template, stack, nodemedic } = synthNodeMedic();
const definition = definitionOf(template);
const FUNCTIONS = handlersByArn(stack, nodemedic);

const ddb = mockClient(DynamoDBDocumentClient);
const ec2 = mockClient(EC2Client);
const ssm = mockClient(SSMClient);
const sfn = mockClient(SFNClient);
const secrets = mockClient(SecretsManagerClient);
const cloudwatch = mockClient(CloudWatchClient);
mockClient(AutoScalingClient);
let table: FakeTable;
let slack: SlackStandIn;

const awsError = (name: string) => Object.assign(new Error(`${name} (injected)`), { name, $metadata: {} });

/** SSM Run Command as the node answers it: diagnosis outputs in order, the fix succeeding. */
class FakeNode {
  readonly accepted: { id: string; document: string }[] = [];
  private readonly outputs = new Map<string, string>();
  /** Throttle the next SendCommand of a document this many times. */
  readonly throttle = new Map<string, number>();
  /** Throttle the next GetCommandInvocation calls this many times. */
  throttleReads = 0;
  /** The fix never finishes on the node (InProgress for ever). */
  hangFix = false;
  constructor(private readonly diagnoses: string[]) {}

  install(): void {
    ssm.on(SendCommandCommand).callsFake((input: { DocumentName: string }) => {
      const left = this.throttle.get(input.DocumentName) ?? 0;
      if (left > 0) {
        this.throttle.set(input.DocumentName, left - 1);
        throw awsError('ThrottlingException');
      }
      const id = `cmd-${this.accepted.length + 1}`;
      this.accepted.push({ id, document: input.DocumentName });
      const output =
        input.DocumentName === FIX_DOCUMENT
          ? `${JSON.stringify({ fix: 'restart-containerd', ok: true, changed: true, detail: 'restarted', backup: null })}\n`
          : this.diagnoses.length > 1
            ? this.diagnoses.shift()!
            : this.diagnoses[0]!;
      this.outputs.set(id, output);
      return { Command: { CommandId: id } };
    });
    ssm.on(GetCommandInvocationCommand).callsFake((input: { CommandId: string }) => {
      if (this.throttleReads > 0) {
        this.throttleReads -= 1;
        throw awsError('ThrottlingException');
      }
      const hung =
        this.hangFix && this.accepted.find((c) => c.id === input.CommandId)?.document === FIX_DOCUMENT;
      if (hung) return { Status: 'InProgress', StatusDetails: 'InProgress' };
      return {
        Status: 'Success',
        StatusDetails: 'Success',
        ResponseCode: 0,
        StandardOutputContent: this.outputs.get(input.CommandId) ?? '',
        StandardErrorContent: '',
      };
    });
  }

  fixesSent(): number {
    return this.accepted.filter((c) => c.document === FIX_DOCUMENT).length;
  }
}

/** Decides, per invocation, to lose a handler's response after it ran (Lambda.ServiceException). */
type LoseResponse = (handler: string, payload: Record<string, unknown>) => boolean;
/** Runs before each invocation: where a test injects a fault at one step. */
type BeforeInvoke = (handler: string, payload: Record<string, unknown>) => void;

interface Run {
  readonly interpreter: AslInterpreter;
  readonly node: FakeNode;
  /** Every handler invocation, as the state machine made it. */
  readonly invocations: {
    handler: string;
    payload: Record<string, unknown>;
    error?: string;
  }[];
  /** Every error the state machine's own SSM calls met, as Step Functions names it. */
  readonly sdkErrors: string[];
  deliver: ReturnType<typeof slackEdge>;
}

async function startRun(
  diagnoses: string[],
  lose: LoseResponse = () => false,
  before: BeforeInvoke = () => {},
  timeoutSeconds?: number,
): Promise<Run> {
  const node = new FakeNode(diagnoses);
  node.install();
  const invocations: Run['invocations'] = [];
  const sdkErrors: string[] = [];
  const getInvocation = ssmIntegration(new SSMClient({ region: 'eu-west-1' }));
  const interpreter = new AslInterpreter({
    // A shorter execution limit stands in for the 2 hours, on the interpreter's virtual clock.
    definition: timeoutSeconds === undefined ? definition : { ...definition, TimeoutSeconds: timeoutSeconds },
    functions: FUNCTIONS,
    integrations: {
      'ssm:getCommandInvocation': (parameters) =>
        getInvocation(parameters).catch((error: Error) => {
          sdkErrors.push(error.name);
          throw error;
        }),
    },
    invoke: async (handler, payload) => {
      const record: Run['invocations'][number] = { handler, payload: payload as Record<string, unknown> };
      invocations.push(record);
      before(handler, record.payload);
      const module = (await import(`../../functions/handlers/${handler}.ts`)) as {
        handler: (event: unknown) => Promise<unknown>;
      };
      try {
        const out = await module.handler(payload);
        if (lose(handler, record.payload)) throw awsError('Lambda.ServiceException');
        return out;
      } catch (error) {
        record.error = (error as Error).name;
        throw error;
      }
    },
  });
  sfn.on(StartExecutionCommand).callsFake((input: { name: string; input: string }) => {
    void interpreter.start(input.name, JSON.parse(input.input));
    return { executionArn: `${STATE_MACHINE.replace(':stateMachine:', ':execution:')}:${input.name}` };
  });
  sfn.on(SendTaskSuccessCommand).callsFake((input: { taskToken: string; output: string }) => {
    interpreter.sendTaskSuccess(input.taskToken, input.output);
    return {};
  });
  sfn.on(SendTaskFailureCommand).callsFake((input: { taskToken: string; error: string; cause: string }) => {
    interpreter.sendTaskFailure(input.taskToken, input.error, input.cause);
    return {};
  });
  // The Bolt app composed from the same wiring as the Slack function: DynamoDB, Step Functions.
  // Imported here, after beforeAll set the environment the handlers' logger reads at import.
  const { assemble } = await import('../../functions/handlers/wiring/deps.js');
  const { makeInventory } = await import('../../functions/handlers/wiring/inventory.js');
  const { makeStore } = await import('../../functions/handlers/wiring/store.js');
  const { makeWorkflow } = await import('../../functions/handlers/wiring/workflow.js');
  const { makeChat } = await import('../../functions/handlers/wiring/chat.js');
  const { loadEnv } = await import('../../functions/handlers/wiring/env.js');
  const { handlerEnv } = await import('../../functions/handlers/manifest/types.js');
  const env = loadEnv(handlerEnv({ ports: ['store', 'chat', 'workflow', 'inventory'], env: [] }));
  const deps = assemble(env, {
    store: makeStore(env),
    chat: await makeChat(env),
    workflow: makeWorkflow(env),
    inventory: makeInventory(env),
  });
  const deliver = slackEdge(deps, {
    standIn: slack,
    signingSecret: SIGNING_SECRET,
    botToken: BOT_TOKEN,
  });
  return { interpreter, node, invocations, sdkErrors, deliver };
}

const alarm = () =>
  notReadyAlarmEvent({
    alarmName: 'nodemedic-prod-not-ready',
    instanceId: INSTANCE,
    nodeName: NODE_NAME,
    cluster: 'prod',
    state: 'ALARM',
  });

async function openIncident(): Promise<string> {
  const { handler } = await import('../../functions/handlers/alarm.js');
  const out = (await handler(alarm() as never)) as { kind: string; incidentId: string };
  expect(out.kind).toBe('opened');
  return out.incidentId;
}

function incident(id: string): Incident {
  const item = table.items.get(`INCIDENT#${id}`);
  if (!item) throw new Error(`no incident ${id}`);
  return item as unknown as Incident;
}

async function awaiting(id: string): Promise<Incident> {
  return until(async () => {
    const current = incident(id);
    return current.phase === 'awaiting-approval' && current.taskToken ? current : null;
  }, 'the approval wait');
}

function click(id: string, user: string, actionId: string, retry = false) {
  const message = incident(id).findingsMessage!;
  const request = slack.clickRequest({ channel: message.channel, messageTs: message.ts, actionId, user });
  return {
    request: retry ? { ...request, headers: { ...request.headers, 'x-slack-retry-num': '1' } } : request,
  };
}

async function result(interpreter: AslInterpreter, id: string): Promise<ExecutionResult> {
  return Promise.race([
    interpreter.result(executionName(id)),
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error('the execution never ended')), 20_000),
    ),
  ]);
}

/** The thread as a reader sees it: the card and every reply, text and blocks. */
function thread(id: string): string {
  const card = incident(id).card!;
  return slack
    .messages(CHANNEL)
    .filter((m) => m.ts === card.ts || m.thread_ts === card.ts)
    .map((m) => `${m.text}\n${JSON.stringify(m.blocks)}`)
    .join('\n');
}

/** Nothing left behind: no open-node lock, no fix slot taken in the cluster. */
function nothingLeftBehind(): void {
  expect([...table.items.keys()].filter((k) => k.startsWith('OPEN#'))).toEqual([]);
  expect(table.items.get('CLUSTER#prod')?.inflight).toBeUndefined();
}

beforeAll(async () => {
  slack = await SlackStandIn.start({
    botToken: BOT_TOKEN,
    signingSecret: SIGNING_SECRET,
    userGroups: { [ONCALL]: [ALICE, BOB] },
  });
  setHandlerEnv(slack.apiUrl, {
    SLACK_CHANNEL_ID: CHANNEL,
    DOCUMENTS: JSON.stringify(DOCUMENTS),
    ALARM_FILTER: JSON.stringify({ namePrefixes: ['nodemedic-'] }),
    VERSION_POLICY: JSON.stringify({ minimum: '1.6.0' }),
    ONCALL_USERGROUP_ID: ONCALL,
  });
});
afterAll(async () => {
  await slack.close();
});

beforeEach(() => {
  for (const m of [ddb, ec2, ssm, sfn, secrets, cloudwatch]) m.reset();
  table = new FakeTable();
  table.install(ddb);
  secrets
    .on(GetSecretValueCommand)
    .resolves({ SecretString: JSON.stringify({ botToken: BOT_TOKEN, signingSecret: SIGNING_SECRET }) });
  ec2.on(DescribeInstancesCommand).resolves({
    Reservations: [
      {
        Instances: [
          {
            InstanceId: INSTANCE,
            PrivateDnsName: NODE_NAME,
            State: { Name: 'running' },
            Tags: [
              { Key: 'eks:cluster-name', Value: 'prod' },
              { Key: 'aws:autoscaling:groupName', Value: 'prod-ng' },
            ],
          },
        ],
      },
    ],
  });
  ec2.on(DescribeInstanceStatusCommand).resolves({
    InstanceStatuses: [
      {
        InstanceId: INSTANCE,
        InstanceState: { Name: 'running' },
        SystemStatus: { Status: 'ok' },
        InstanceStatus: { Status: 'ok' },
      },
    ],
  });
  ssm
    .on(DescribeInstanceInformationCommand)
    .resolves({ InstanceInformationList: [{ InstanceId: INSTANCE, PingStatus: 'Online' }] });
  cloudwatch
    .on(DescribeAlarmsCommand)
    .resolves({ MetricAlarms: [{ AlarmName: 'nodemedic-prod-not-ready', StateValue: 'OK' }] });
});

describe('an incident cured under faults at every step', () => {
  it('recovers once, with one fix sent, the thread saying so, and nothing left behind', async () => {
    // Lose the first fix send's response after SSM took the command: the state machine retries it.
    let lostOnce = false;
    const first = new Set<string>();
    const run = await startRun(
      [recorded('daemon-stopped'), recorded('daemon-stopped'), recorded('healthy')],
      (handler, payload) => {
        if (lostOnce || handler !== 'send' || payload.purpose !== 'fix') return false;
        lostOnce = true;
        return true;
      },
      (handler, payload) => {
        const key = `${handler}:${String(payload.purpose ?? '')}`;
        if (first.has(key)) return;
        first.add(key);
        // Slack rate-limits the findings post, and answers 503 (past the client's own 2 retries)
        // to the outcome's card update; DynamoDB throttles the analysis's and the fix
        // evaluation's writes. (Not the reachability's: that step starts while the alarm function
        // is still recording the execution it started, and the fault would hit that write.)
        if (key === 'analyze:') slack.failNext('chat.postMessage', 'ratelimited', 1);
        if (key === 'outcome:') slack.failNext('chat.update', 'service_unavailable', 3, 503);
        // SSM throttles the state machine's first poll of the verification.
        if (key === 'send:verify') run.node.throttleReads = 1;
        if (key === 'analyze:' || key === 'evaluate:fix')
          table.failNext('TransactWrite', 'ProvisionedThroughputExceededException', 1);
      },
    );
    const id = await openIncident();
    const waiting = await awaiting(id);

    // SSM throttles the fix's SendCommand once; another writer bumps the incident's version under
    // the first write while it is fixing.
    run.node.throttle.set(FIX_DOCUMENT, 1);
    let bumped = false;
    table.beforeTransact = () => {
      const item = table.items.get(`INCIDENT#${id}`);
      if (bumped || !item || incident(id).phase !== 'fixing') return;
      bumped = true;
      table.items.set(`INCIDENT#${id}`, { ...item, version: (item.version as number) + 1 });
    };

    const approve = click(id, ALICE, fixActionId('restart-containerd'));
    // Bob's client still shows the buttons when Alice's approval lands.
    const late = click(id, BOB, fixActionId('restart-containerd'));
    expect((await run.deliver(approve.request)).statusCode).toBe(200);
    // The same token used twice: Slack's retry of the click, another approver, the adapter itself.
    expect(
      (
        await run.deliver({
          ...approve.request,
          headers: { ...approve.request.headers, 'x-slack-retry-num': '1' },
        })
      ).statusCode,
    ).toBe(200);
    expect((await run.deliver(late.request)).statusCode).toBe(200);
    const done = await result(run.interpreter, id);

    expect(done).toMatchObject({ status: 'SUCCEEDED', lastState: 'OutcomeRecovered' });
    expect(incident(id).phase).toBe('recovered');
    expect(run.node.fixesSent()).toBe(1);
    expect(thread(id)).toMatch(/Recovered/);
    expect(bumped).toBe(true);
    const { StepFunctionsWorkflow } = await import('../../functions/adapters/aws/sfn-workflow.js');
    await expect(
      new StepFunctionsWorkflow({ client: new SFNClient({}), stateMachineArn: STATE_MACHINE }).resume(
        waiting.taskToken!,
        { decision: 'approve', remediation: 'restart-containerd', by: [BOB] },
      ),
    ).rejects.toMatchObject({ name: 'TaskTokenError' });
    // What the faults did: each was retried, none ran a fix twice.
    const errors = run.invocations.filter((i) => i.error).map((i) => `${i.handler}:${i.error}`);
    expect(errors.sort()).toEqual([
      'analyze:RetryableError', // DynamoDB throttled its write
      'analyze:RetryableError', // Slack rate-limited its findings post
      'evaluate:RetryableError',
      'outcome:RetryableError',
      'send:Lambda.ServiceException',
      'send:RetryableError',
    ]);
    // The throttled poll was the state machine's own SSM call, retried by its Retry rule.
    expect(run.sdkErrors).toEqual(['Ssm.ThrottlingException']);
    expect(run.invocations.filter((i) => i.handler === 'poll')).toEqual([]);
    nothingLeftBehind();
  });
});

describe('the escalate function failing for good', () => {
  it('fails the execution; the execution-ended function ends the incident, tells the thread and frees the node', async () => {
    const run = await startRun([recorded('daemon-stopped')]);
    const id = await openIncident();
    const waiting = await awaiting(id);
    // Nobody approves; Slack is down for every try of the escalation's reply (1 + 5 retries).
    slack.failNext('chat.postMessage', 'internal_error', 6);
    run.interpreter.expire(waiting.taskToken!);
    const done = await result(run.interpreter, id);
    expect(done).toMatchObject({
      status: 'FAILED',
      error: 'RetryableError',
      lastState: 'EscalateApprovalTimeout',
    });
    // The record ended at the first try, so the node is already free; the thread does not know yet.
    expect(incident(id).phase).toBe('escalated');
    expect(thread(id)).not.toContain(`<!subteam^${ONCALL}>`);

    const { handler } = await import('../../functions/handlers/execution-ended.js');
    const event = executionStatusChange({
      status: 'FAILED',
      stateMachineArn: STATE_MACHINE,
      input: JSON.stringify({ incidentId: id }),
      error: done.error ?? null,
      cause: done.cause ?? null,
    });
    expect(await handler(event)).toEqual({ kind: 'escalated', incidentId: id });
    expect(thread(id)).toContain(`<!subteam^${ONCALL}>`);
    expect(thread(id)).toContain('The workflow execution failed (RetryableError');
    expect(await handler(event)).toMatchObject({ kind: 'already-ended' });
    expect(run.node.fixesSent()).toBe(0);
    nothingLeftBehind();
  });
});

describe('the execution time limit hit while a fix runs', () => {
  it('times the execution out; execution-ended escalates the incident and gives back its lock and fix slot', async () => {
    const run = await startRun(
      [recorded('daemon-stopped'), recorded('daemon-stopped')],
      () => false,
      () => {},
      300,
    );
    run.node.hangFix = true;
    const id = await openIncident();
    await awaiting(id);
    await run.deliver(click(id, ALICE, fixActionId('restart-containerd')).request);
    const done = await result(run.interpreter, id);
    expect(done.status).toBe('TIMED_OUT');
    // Stuck as it was: fixing, the node locked, the cluster's one fix slot taken.
    expect(incident(id).phase).toBe('fixing');
    expect(table.items.has(`OPEN#prod#${INSTANCE}`)).toBe(true);
    expect(table.items.get('CLUSTER#prod')?.inflight).toEqual(new Set([id]));

    const { handler } = await import('../../functions/handlers/execution-ended.js');
    const event = executionStatusChange({
      status: 'TIMED_OUT',
      stateMachineArn: STATE_MACHINE,
      input: JSON.stringify({ incidentId: id }),
      error: 'States.Timeout',
      cause: null,
    });
    expect(await handler(event)).toEqual({ kind: 'escalated', incidentId: id });
    expect(incident(id).phase).toBe('escalated');
    expect(thread(id)).toContain(`<!subteam^${ONCALL}>`);
    expect(thread(id)).toContain("timed out (the execution's time limit) (States.Timeout)");
    // The hung fix was never judged: the thread says it may still be running.
    expect(thread(id)).toMatch(
      /Its last command \(fix#1 restart-containerd, cmd-\d+\) was never judged and may still be running/,
    );
    expect(run.node.fixesSent()).toBe(1);
    nothingLeftBehind();
  });
});
