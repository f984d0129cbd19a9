/**
 * The poll loop with no Lambda in it, executed: the synthesized definition runs in the ASL
 * interpreter over the real steps (the harness's playback runner stands in for SSM), and the state
 * machine's own `ssm:getCommandInvocation` answers with GetCommandInvocation's documented response
 * shape and Step Functions' SDK error names, scripted per call before the runner's own answer
 * (functions/local/ssm-integration.ts, the local mode's). It proves the loop waits on the
 * contract's schedule, treats exactly SSM's running words as running (as the SSM runner does),
 * retries SSM's throttling, reads InvocationDoesNotExist as "not yet", gives up at the limit
 * through the poll function, and hands a failed or undeliverable command on to the analysis.
 * https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetCommandInvocation.html
 */
import { GetCommandInvocationCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { SsmCommandRunner } from '../../functions/adapters/aws/ssm-runner.js';
import { MAX_POLL_ATTEMPTS, pollWait } from '../../functions/app/contract.js';
import { workflowStep } from '../../functions/app/steps.js';
import { toTaskError } from '../../functions/app/task-errors.js';
import { DependencyError, InvalidInputError } from '../../functions/core/errors.js';
import { SSM_COMMAND_STATUS } from '../../functions/core/ssm-status.js';
import { type AslDefinition, AslInterpreter, type ExecutionResult } from '../../functions/local/asl.js';
import { localGetCommandInvocation } from '../../functions/local/ssm-integration.js';
import { CHANNEL, type Harness, NODE, openQuietly, recorded, startHarness } from '../app/support.js';
import { definitionOf, handlersByArn, synthNodeMedic } from './support.js';

const { template, stack, nodemedic } = synthNodeMedic();
const definition = definitionOf(template) as unknown as AslDefinition;
const FUNCTIONS = handlersByArn(stack, nodemedic);

/** GetCommandInvocation's answer while the command runs (the API reference's fields). */
const running = (word = 'InProgress') => ({
  CommandId: 'cmd-1',
  InstanceId: NODE.instanceId,
  Status: word,
  StatusDetails: word,
  ResponseCode: -1,
  StandardOutputContent: '',
  StandardErrorContent: '',
});
/** A failed SDK call, named as Step Functions names it. */
const sdkError = (name: string, message = 'injected') => Object.assign(new Error(message), { name });

/** One scripted answer: a response, or an error to throw. */
type Scripted = Record<string, unknown> | Error;

interface LoopRun {
  readonly h: Harness;
  readonly id: string;
  readonly result: ExecutionResult;
  /** Lambda handlers invoked, in order. */
  readonly lambdas: string[];
  /** Every SSM call the state machine made: its parameters. */
  readonly polls: Record<string, unknown>[];
}

let open: Harness | null = null;
afterEach(async () => {
  await open?.close();
  open = null;
});

/**
 * Open an incident, run the definition from its start with `script` answering the state machine's
 * first GetCommandInvocation calls (then the runner's own answer), until the execution ends (an
 * approval wait times out at once).
 */
async function runLoop(
  diagnosis: Parameters<Harness['runner']['queue']>[1],
  script: Scripted[],
): Promise<LoopRun> {
  const h = await startHarness({});
  open = h;
  h.runner.queue('diagnose', diagnosis);
  const id = await openQuietly(h);
  const lambdas: string[] = [];
  const polls: Record<string, unknown>[] = [];
  const local = localGetCommandInvocation(() => h.deps);
  const interpreter = new AslInterpreter({
    definition,
    functions: FUNCTIONS,
    integrations: {
      'ssm:getCommandInvocation': async (parameters) => {
        polls.push(parameters);
        const next = script.shift();
        if (next instanceof Error) throw next;
        return next ?? local(parameters);
      },
    },
    // Nobody approves here: a findings card that asks for a fix escalates at once.
    onWaiting: ({ token }) => setImmediate(() => interpreter.expire(token)),
    invoke: async (handler, payload) => {
      lambdas.push(handler);
      try {
        return await workflowStep(handler)!(h.deps, payload as never);
      } catch (error) {
        throw toTaskError(error);
      }
    },
  });
  const result = await interpreter.start(`exec-${id}`, { incidentId: id });
  return { h, id, result, lambdas, polls };
}

/** Seconds after the start at which each poll state was entered. */
function pollTimes(result: ExecutionResult): number[] {
  return result.history.filter((s) => s.state === 'DiagnosePoll').map((s) => s.at);
}

/** When the k-th poll happens, k = 1…: the send's wait, then each poll's (the contract's schedule). */
function scheduled(polls: number): number[] {
  const at: number[] = [];
  let t = 0;
  for (let attempt = 0; attempt < polls; attempt++) {
    t += pollWait(attempt);
    at.push(t);
  }
  return at;
}

describe('the poll loop, executed', () => {
  it('waits while SSM says Pending, InProgress or Delayed, then reads the result, on the contract schedule and with no poll Lambda', async () => {
    const run = await runLoop({ stdout: recorded('healthy') }, [
      running('Pending'),
      running(),
      running('Delayed'),
    ]);
    expect(run.result).toMatchObject({ status: 'SUCCEEDED', lastState: 'FindingsPosted' });
    expect(pollTimes(run.result)).toEqual(scheduled(4));
    expect(pollTimes(run.result)).toEqual([3, 5, 7, 10]);
    expect(run.lambdas).toEqual(['reachability', 'send', 'analyze']);
    // The call names the command and the node's instance (from the reachability step).
    expect(run.polls[0]).toEqual({ CommandId: 'cmd-1', InstanceId: NODE.instanceId });
    expect((await run.h.store.get(run.id))!.audit.map((a) => a.action)).toContain('analyzed');
  });

  it.each([
    ['Ssm.ThrottlingException', 'Rate exceeded'],
    ['Ssm.SsmException', 'Rate exceeded (Service: Ssm, Status Code: 400, Error Code: ThrottlingException)'],
    ['Ssm.InternalServerErrorException', 'internal error'],
  ])('retries a poll that SSM answers with %s, inside the state, with backoff', async (name, message) => {
    const run = await runLoop({ stdout: recorded('healthy') }, [
      sdkError(name, message),
      sdkError(name, message),
    ]);
    expect(run.result).toMatchObject({ status: 'SUCCEEDED', lastState: 'FindingsPosted' });
    expect(run.polls).toHaveLength(3);
    // One poll state: the retries stay in it, 2 s then 4 s on the execution's clock.
    expect(pollTimes(run.result)).toEqual([3]);
    expect(run.result.history.find((s) => s.state === 'DiagnoseDone?')!.at).toBe(3 + 2 + 4);
  });

  it('keeps only Status and StatusDetails of each answer in the state, never the command output', () => {
    const polls = Object.entries(definition.States).filter(([, state]) =>
      (state as { Resource?: string }).Resource?.endsWith(':ssm:getCommandInvocation'),
    );
    expect(polls.length).toBeGreaterThanOrEqual(5);
    for (const [name, state] of polls) {
      expect((state as { ResultSelector?: unknown }).ResultSelector, name).toEqual({
        'Status.$': '$.Status',
        'StatusDetails.$': '$.StatusDetails',
      });
    }
  });

  it('escalates when SSM keeps failing past the retries, as the poll function did', async () => {
    const run = await runLoop(
      { stdout: recorded('healthy') },
      Array.from({ length: 6 }, () => sdkError('Ssm.ThrottlingException')),
    );
    expect(run.result).toMatchObject({ status: 'SUCCEEDED', lastState: 'EscalateDiagnosisFailed' });
    expect(run.polls).toHaveLength(6);
    expect(run.lambdas).not.toContain('analyze');
  });

  it.each([['Ssm.InvalidInstanceIdException'], ['Ssm.InvalidCommandIdException']])(
    'escalates a poll SSM refuses (%s) without retrying it',
    async (name) => {
      const run = await runLoop({ stdout: recorded('healthy') }, [sdkError(name)]);
      expect(run.result).toMatchObject({ status: 'SUCCEEDED', lastState: 'EscalateDiagnosisFailed' });
      expect(run.polls).toHaveLength(1);
    },
  );

  it('reads InvocationDoesNotExist right after the send as "not yet", and polls again on schedule', async () => {
    const run = await runLoop({ stdout: recorded('healthy') }, [
      sdkError('Ssm.InvocationDoesNotExistException', 'InvocationDoesNotExist'),
    ]);
    expect(run.result).toMatchObject({ status: 'SUCCEEDED', lastState: 'FindingsPosted' });
    expect(pollTimes(run.result)).toEqual([3, 5]);
  });

  it('gives up at the limit: the poll function cancels the command and says so, and the analysis still runs', async () => {
    const run = await runLoop(
      { stdout: '', status: 'pending' },
      Array.from({ length: MAX_POLL_ATTEMPTS }, () => running()),
    );
    expect(pollTimes(run.result)).toEqual(scheduled(MAX_POLL_ATTEMPTS));
    expect(run.polls).toHaveLength(MAX_POLL_ATTEMPTS);
    // The give-up is the one Lambda of the loop, run once, after the last poll.
    expect(run.lambdas).toEqual(['reachability', 'send', 'poll', 'analyze']);
    expect(run.result.history.find((s) => s.state === 'DiagnoseGiveUp')!.at).toBe(
      scheduled(MAX_POLL_ATTEMPTS).at(-1),
    );
    expect(run.h.runner.cancelled).toEqual(['cmd-1']);
    const incident = (await run.h.store.get(run.id))!;
    expect(incident.audit.find((a) => a.action === 'command-cancelled')?.detail).toMatch(
      /^cmd-1: still running after 44 polls \(about 10 minutes\)/,
    );
    const thread = run.h.standIn
      .messages(CHANNEL)
      .filter((m) => m.thread_ts === incident.card!.ts)
      .map((m) => m.text);
    expect(thread.join('\n')).toContain('The diagnose command (command cmd-1): still running after 44 polls');
    expect(run.result.status).toBe('SUCCEEDED');
    expect(incident.audit.map((a) => a.action)).toContain('analyzed');
  });

  it.each([
    ['Failed', 'Failed', 'failed'],
    ['Failed', 'Undeliverable', 'undeliverable'],
    ['TimedOut', 'DeliveryTimedOut', 'undeliverable'],
  ] as const)('hands a %s/%s command on to the analysis after one poll', async (status, details, ours) => {
    const run = await runLoop({ stdout: '', status: ours, exitCode: 1 }, [
      { ...running(), Status: status, StatusDetails: details, ResponseCode: 1 },
    ]);
    expect(pollTimes(run.result)).toEqual([3]);
    expect(run.result.history.map((s) => s.state)).toEqual(
      expect.arrayContaining(['DiagnosePoll', 'DiagnoseDone?', 'Analyze']),
    );
    expect(
      run.result.history[run.result.history.findIndex((s) => s.state === 'DiagnoseDone?') + 1]!.state,
    ).toBe('Analyze');
    expect(run.lambdas.slice(0, 3)).toEqual(['reachability', 'send', 'analyze']);
    expect((await run.h.store.get(run.id))!.audit.map((a) => a.action)).toContain('analyzed');
  });
});

describe('"still running?" in the state machine', () => {
  const ssm = mockClient(SSMClient);
  afterEach(() => ssm.reset());
  const runner = new SsmCommandRunner({ client: new SSMClient({ region: 'eu-west-1' }), documents: {} });

  /** The synthesized Done? choice alone, its two ways out made terminal. */
  const choice = new AslInterpreter({
    definition: {
      StartAt: 'DiagnoseDone?',
      States: {
        'DiagnoseDone?': { ...definition.States['DiagnoseDone?']!, Default: 'Done' },
        DiagnoseNextPoll: { Type: 'Succeed' },
        Done: { Type: 'Succeed' },
      },
    },
    functions: {},
    invoke: async () => null,
  });
  let n = 0;

  const words = [...Object.keys(SSM_COMMAND_STATUS), 'Bogus', '', undefined];
  const cases = words.flatMap((status) => words.map((details) => [status, details] as const));

  it(`decides exactly as the SSM runner reads the answer, for all ${cases.length} pairs of Status and StatusDetails`, async () => {
    const disagree: string[] = [];
    for (const [status, details] of cases) {
      const response = {
        ...(status === undefined ? {} : { Status: status }),
        ...(details === undefined ? {} : { StatusDetails: details }),
      };
      ssm.on(GetCommandInvocationCommand).resolves(response as never);
      // The runner's reading: pending, another status, or (unknown words) an error.
      const read = await runner.get('cmd-1', NODE).then(
        (invocation) => invocation.status,
        () => 'error',
      );
      const out = await choice.start(`choice-${n++}`, { poll: { invocation: response } });
      const loops = out.lastState === 'DiagnoseNextPoll';
      if (loops !== (read === 'pending'))
        disagree.push(`${JSON.stringify(response)}: runner ${read}, loop ${loops}`);
    }
    expect(disagree).toEqual([]);
  });
});

describe('the local answer to ssm:getCommandInvocation', () => {
  it('has the API response shape for each status the runner reports', async () => {
    const h = await startHarness({});
    open = h;
    const call = localGetCommandInvocation(() => h.deps);
    h.runner.queue(
      'diagnose',
      { stdout: 'ok', status: 'success', exitCode: 0 },
      { stdout: '', status: 'pending' },
      { stdout: '', status: 'timed-out' },
      { stdout: '', status: 'undeliverable' },
    );
    const ids: string[] = [];
    for (let i = 0; i < 4; i++)
      ids.push(
        (
          await h.runner.send({
            node: NODE,
            script: 'diagnose',
            parameters: {},
            timeoutSeconds: 60,
            comment: '',
          })
        ).commandId,
      );
    const answers = await Promise.all(ids.map((id) => call({ CommandId: id, InstanceId: NODE.instanceId })));
    expect(
      answers.map((a) => [(a as { Status: string }).Status, (a as { StatusDetails: string }).StatusDetails]),
    ).toEqual([
      ['Success', 'Success'],
      ['InProgress', 'InProgress'],
      ['TimedOut', 'ExecutionTimedOut'],
      ['Failed', 'Undeliverable'],
    ]);
    expect(answers[0]).toEqual({
      CommandId: ids[0],
      InstanceId: NODE.instanceId,
      Status: 'Success',
      StatusDetails: 'Success',
      ResponseCode: 0,
      StandardOutputContent: 'ok',
      StandardErrorContent: '',
    });
  });

  it('raises the errors Step Functions names for SDK failures', async () => {
    const h = await startHarness({});
    open = h;
    const failing = (error: Error) =>
      localGetCommandInvocation(() => ({
        inventory: h.deps.inventory,
        runner: { ...h.deps.runner, get: async () => Promise.reject(error) },
      }));
    const ask = { CommandId: 'cmd-1', InstanceId: NODE.instanceId };
    await expect(
      failing(new InvalidInputError('no command', { code: 'COMMAND_NOT_FOUND' }))(ask),
    ).rejects.toMatchObject({ name: 'Ssm.InvocationDoesNotExistException' });
    await expect(
      failing(new DependencyError('SSM_THROTTLED', 'slow down', { retryable: true }))(ask),
    ).rejects.toMatchObject({ name: 'Ssm.ThrottlingException' });
    await expect(failing(new Error('boom'))(ask)).rejects.toMatchObject({ name: 'Ssm.SsmException' });
    await expect(
      failing(new Error('unused'))({ CommandId: 'cmd-1', InstanceId: 'i-0fffffffffffffff0' }),
    ).rejects.toMatchObject({ name: 'Ssm.InvalidInstanceIdException' });
  });
});
