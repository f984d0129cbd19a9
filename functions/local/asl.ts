/**
 * A small, strict interpreter for the Amazon States Language subset nodemedic's synthesized state
 * machine uses, so that the REAL definition runs outside AWS: the local mode (the rehearsal, the
 * workflow tests) executes the very definition the stack deploys (functions/local/workflow.ts),
 * and the infra specs execute the synthesized one. No Step Functions runtime works offline here:
 * aws-local-stepfunctions needs Node 22 and has no task tokens, AWS's own local runner needs Java.
 *
 * Strict means: the whole definition is checked when the interpreter is built, and every field,
 * state type, resource, path form or choice operator it does not implement throws an
 * {@link AslUnsupportedError} naming it. A definition change that outgrows the interpreter fails
 * the specs loudly instead of being run with a field silently ignored.
 *
 * Supported, with Step Functions' semantics as documented in the ASL specification:
 * - States: Task, Choice, Wait, Pass, Succeed, Fail.
 * - Task resources `arn:aws:states:::lambda:invoke` (output `{ ExecutedVersion, Payload, StatusCode }`,
 *   a function error surfaces as Error = the error's name, like Lambda's errorType) and
 *   `…:lambda:invoke.waitForTaskToken` (Payload must hold `$$.Task.Token`; the task ends through
 *   {@link AslInterpreter.sendTaskSuccess} / {@link AslInterpreter.sendTaskFailure}, or
 *   {@link AslInterpreter.expire} to simulate TimeoutSeconds / HeartbeatSeconds elapsing).
 * - AWS SDK integrations `arn:aws:states:::aws-sdk:<service>:<action>`, each answered by an
 *   {@link SdkIntegration} the caller supplies by `<service>:<action>` (the local mode answers
 *   `ssm:getCommandInvocation` from its command runner): its result is the task's output, and the
 *   name of what it throws is the task's Error, as Step Functions names SDK errors
 *   (`Ssm.InvocationDoesNotExistException`). A resource with no integration is refused by name.
 * - InputPath, Parameters (`.$` keys: reference paths `$.a.b`, `$`, context paths `$$.…`, and the
 *   intrinsic functions States.Array, States.ArrayGetItem and States.MathAdd over paths, integers
 *   and nested intrinsics), ResultSelector, ResultPath (incl. null), OutputPath, Result.
 * - Choice: Variable with BooleanEquals, StringEquals, NumericEquals, NumericGreaterThanEquals,
 *   IsNull, IsString, IsBoolean, IsNumeric, IsPresent; And, Or, Not (And and Or stop at the first
 *   rule that decides, so `IsPresent` guards a comparison as in Step Functions); Default; no match
 *   fails with States.NoChoiceMatched.
 * - Wait: Seconds / SecondsPath, counted on the execution's clock and passed through
 *   {@link AslClock.sleep}: not slept at all by the default virtual clock, slept at a chosen scale by
 *   {@link scaledClock} in the local mode.
 * - Retry: ErrorEquals (names, States.ALL, States.TaskFailed, States.Timeout), MaxAttempts,
 *   IntervalSeconds, BackoffRate, MaxDelaySeconds, JitterStrategy (delays are counted at their
 *   upper bound and passed through the clock like a Wait).
 * - A waiting task's TimeoutSeconds: armed through {@link AslClock.arm} (the scaled clock expires
 *   the token by itself; under the virtual clock a test calls {@link AslInterpreter.expire}).
 * - Catch: ErrorEquals as above, ResultPath (default `$`), Next. States.Runtime (a bad path) is
 *   neither retried nor caught, as in Step Functions.
 * - Execution-level: Fail states, States.Runtime, NoChoiceMatched, and the top-level
 *   TimeoutSeconds against the virtual clock (status TIMED_OUT).
 */
import { randomBytes } from 'node:crypto';

/** The definition (or an execution) uses something this interpreter does not implement. */
export class AslUnsupportedError extends Error {
  constructor(where: string, what: string) {
    super(`ASL interpreter: ${where}: ${what} is not supported`);
    this.name = 'AslUnsupportedError';
  }
}

/** An error as Step Functions carries it through Retry/Catch (`{ Error, Cause }`). */
export class StatesError extends Error {
  constructor(
    readonly error: string,
    readonly causeText: string,
  ) {
    super(`${error}: ${causeText}`);
    this.name = error;
  }
}

/** A state machine definition, as parsed from the synthesized DefinitionString. */
export interface AslDefinition {
  readonly StartAt: string;
  readonly States: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  readonly TimeoutSeconds?: number;
  readonly Comment?: string;
}

/** Invokes the Lambda function the task names, by handler name; throw to fail the task. */
export type LambdaInvoker = (handlerName: string, payload: unknown) => Promise<unknown>;

/**
 * Answers one AWS SDK integration (`arn:aws:states:::aws-sdk:<service>:<action>`) with the API's
 * response (PascalCase, as Step Functions returns it). To fail the task, throw an error whose
 * `name` is the Step Functions error name (`<Service>.<Name>Exception`) and whose message is the
 * Cause.
 */
export type SdkIntegration = (parameters: Record<string, unknown>) => Promise<unknown>;

/**
 * How an execution's time passes. Every Wait, retry delay and task timeout is still counted in
 * definition seconds on the execution's own clock (for its TimeoutSeconds); the clock decides
 * what that costs in real time.
 */
export interface AslClock {
  /** Pass `seconds` of a Wait state or a retry delay. */
  sleep(seconds: number): Promise<void>;
  /** Arm a waiting task's TimeoutSeconds: call `expire` when it runs out; returns the disarm. */
  arm(seconds: number, expire: () => void): () => void;
}

/** Nothing is slept and nothing expires by itself: tests drive time with {@link AslInterpreter.expire}. */
const VIRTUAL_CLOCK: AslClock = {
  sleep: async () => {},
  arm: () => () => {},
};

/**
 * Real time at a scale: a Wait second lasts `waitMs`, a task-timeout second `timeoutMs`. The local
 * mode polls its shell commands every few hundred milliseconds instead of seconds, and gives the
 * approval wait the timeout the user asked for, on the unchanged definition.
 */
export function scaledClock(scale: { waitMs: number; timeoutMs: number }): AslClock {
  return {
    sleep: (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * scale.waitMs)),
    arm: (seconds, expire) => {
      const timer = setTimeout(expire, seconds * scale.timeoutMs);
      return () => clearTimeout(timer);
    },
  };
}

/** A Task state that ended, successfully or with the error its Retry/Catch saw last. */
export interface TaskEvent {
  readonly execution: string;
  readonly state: string;
  /** The handler the task invoked (`<service>:<action>` for an SDK integration). */
  readonly handler: string;
  /** The payload the handler received (an SDK integration's parameters). */
  readonly payload: unknown;
  /** The task's result (a Lambda's `Payload`, or the token's output), when it succeeded. */
  readonly result?: unknown;
  /** The error name, when it failed for good (after its retries). */
  readonly error?: string;
}

/** Options of {@link AslInterpreter}. */
export interface AslInterpreterOptions {
  readonly definition: AslDefinition;
  /** Handler name by the FunctionName a task's Parameters carry (every task's must be here). */
  readonly functions: Readonly<Record<string, string>>;
  readonly invoke: LambdaInvoker;
  /** The AWS SDK integrations the definition may call, by `<service>:<action>`. @default none */
  readonly integrations?: Readonly<Record<string, SdkIntegration>>;
  /** Called when a task starts waiting for its token (after its Lambda returned). */
  readonly onWaiting?: (event: { token: string; state: string; execution: string }) => void;
  /** Called when a Task state ends, for a run's story (the rehearsal's terminal). */
  readonly onTask?: (event: TaskEvent) => void;
  /** @default VIRTUAL_CLOCK */
  readonly clock?: AslClock;
}

/** One state entered during an execution, in order. */
export interface HistoryEntry {
  readonly state: string;
  readonly type: string;
  /** Seconds on the virtual clock when the state was entered. */
  readonly at: number;
}

/** Final result of an execution. */
export interface ExecutionResult {
  readonly status: 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT';
  readonly output?: unknown;
  readonly error?: string;
  readonly cause?: string;
  /** The last state entered (the terminal state, or the one that failed). */
  readonly lastState: string;
  readonly history: readonly HistoryEntry[];
  /** Virtual seconds the execution took (Waits, retry delays, expired timeouts). */
  readonly elapsedSeconds: number;
}

/** Step Functions' history limit for a Standard execution; a runaway loop hits it. */
const MAX_TRANSITIONS = 25_000;
const LAMBDA_INVOKE = /^arn:aws[a-z-]*:states:::lambda:invoke(\.waitForTaskToken)?$/;
const AWS_SDK = /^arn:aws[a-z-]*:states:::aws-sdk:([a-z0-9]+:[A-Za-z0-9]+)$/;
const PATH = /^\$(\.[A-Za-z_][A-Za-z0-9_-]*)*$/;
const CONTEXT_PATH = /^\$\$(\.[A-Za-z_][A-Za-z0-9_-]*)*$/;

const COMMON = ['Type', 'Comment'];
const FIELDS: Record<string, readonly string[]> = {
  Task: [
    ...COMMON,
    'Resource',
    'Parameters',
    'ResultSelector',
    'ResultPath',
    'InputPath',
    'OutputPath',
    'Retry',
    'Catch',
    'TimeoutSeconds',
    'HeartbeatSeconds',
    'Next',
    'End',
  ],
  Choice: [...COMMON, 'Choices', 'Default', 'InputPath', 'OutputPath'],
  Wait: [...COMMON, 'Seconds', 'SecondsPath', 'InputPath', 'OutputPath', 'Next', 'End'],
  Pass: [...COMMON, 'Result', 'Parameters', 'ResultPath', 'InputPath', 'OutputPath', 'Next', 'End'],
  Succeed: [...COMMON, 'InputPath', 'OutputPath'],
  Fail: [...COMMON, 'Error', 'Cause'],
};
const RETRY_FIELDS = [
  'ErrorEquals',
  'IntervalSeconds',
  'MaxAttempts',
  'BackoffRate',
  'MaxDelaySeconds',
  'JitterStrategy',
  'Comment',
];
const CATCH_FIELDS = ['ErrorEquals', 'Next', 'ResultPath', 'Comment'];
const COMPARATORS = [
  'BooleanEquals',
  'StringEquals',
  'NumericEquals',
  'IsNull',
  'IsString',
  'IsBoolean',
  'IsNumeric',
  'IsPresent',
  'NumericGreaterThanEquals',
] as const;

type Json = unknown;
type State = Readonly<Record<string, unknown>>;

interface Waiting {
  readonly execution: string;
  readonly state: string;
  readonly timeoutSeconds: number | undefined;
  readonly heartbeatSeconds: number | undefined;
  settle(outcome: { output: Json } | { error: StatesError; elapse?: number }): void;
}

/** Deep copy through JSON, as every value crossing Step Functions is serialized. */
function json<T>(value: T): T {
  return value === undefined ? (null as T) : (JSON.parse(JSON.stringify(value)) as T);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function runtime(message: string): StatesError {
  return new StatesError('States.Runtime', message);
}

/** Read a reference path (`$`, `$.a.b`) from `data`; a missing field is States.Runtime. */
function readPath(data: Json, path: string, where: string): Json {
  if (!PATH.test(path)) throw new AslUnsupportedError(where, `path ${JSON.stringify(path)}`);
  let node = data;
  for (const key of path.split('.').slice(1)) {
    if (!isObject(node) || !(key in node)) {
      throw runtime(`${where}: the path ${path} references an invalid value (no field ${key})`);
    }
    node = node[key];
  }
  return node;
}

function hasPath(data: Json, path: string, where: string): boolean {
  try {
    readPath(data, path, where);
    return true;
  } catch (error) {
    if (error instanceof StatesError) return false;
    throw error;
  }
}

/** Write `value` at a ResultPath into a copy of `data`. */
function writePath(data: Json, path: string | null | undefined, value: Json, where: string): Json {
  if (path === null) return data;
  if (path === undefined || path === '$') return value;
  if (!PATH.test(path)) throw new AslUnsupportedError(where, `ResultPath ${JSON.stringify(path)}`);
  if (!isObject(data)) throw runtime(`${where}: cannot apply ResultPath ${path} to a non-object input`);
  const root = json(data) as Record<string, unknown>;
  const keys = path.split('.').slice(1);
  let node = root;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (next === undefined) node[key] = {};
    else if (!isObject(next)) throw runtime(`${where}: ResultPath ${path} crosses a non-object at ${key}`);
    node = node[key] as Record<string, unknown>;
  }
  node[keys.at(-1)!] = json(value);
  return root;
}

/** Apply InputPath / OutputPath: null gives `{}`, absent keeps everything. */
function filterPath(data: Json, path: unknown, where: string): Json {
  if (path === undefined) return data;
  if (path === null) return {};
  if (typeof path !== 'string') throw new AslUnsupportedError(where, `a non-string path`);
  return readPath(data, path, where);
}

/**
 * Executes one definition. Build once per spec file; start an execution per incident.
 * Every check of the definition runs in the constructor.
 */
export class AslInterpreter {
  private readonly waiting = new Map<string, Waiting>();
  /** Tokens once issued and no longer waiting, with how they ended. */
  private readonly spent = new Map<string, 'timed-out' | 'done'>();
  private readonly executions = new Map<string, Promise<ExecutionResult>>();

  private readonly clock: AslClock;

  constructor(private readonly options: AslInterpreterOptions) {
    this.check(options.definition);
    this.clock = options.clock ?? VIRTUAL_CLOCK;
  }

  /**
   * Start an execution. A name already used gives `ExecutionAlreadyExists`, as Step Functions
   * answers a StartExecution under the same name with different input.
   */
  start(name: string, input: Json): Promise<ExecutionResult> {
    if (this.executions.has(name)) {
      const error = new Error(`execution ${name} already exists`);
      error.name = 'ExecutionAlreadyExists';
      throw error;
    }
    const run = this.run(name, json(input));
    this.executions.set(name, run);
    return run;
  }

  /** The result of a started execution (resolves when it ends). */
  result(name: string): Promise<ExecutionResult> {
    const run = this.executions.get(name);
    if (!run) throw new Error(`no execution named ${name}`);
    return run;
  }

  /** Tokens currently waiting, with their state and execution. */
  waitingTokens(): { token: string; state: string; execution: string }[] {
    return [...this.waiting].map(([token, w]) => ({ token, state: w.state, execution: w.execution }));
  }

  /** SendTaskSuccess: `output` is the JSON text Step Functions receives. */
  sendTaskSuccess(token: string, output: string): void {
    let parsed: Json;
    try {
      parsed = JSON.parse(output);
    } catch {
      throw named('InvalidOutput', 'the task output is not valid JSON');
    }
    this.take(token).settle({ output: parsed });
  }

  /** SendTaskFailure: the waiting task fails with `error` (Retry/Catch see that name). */
  sendTaskFailure(token: string, error: string, cause: string): void {
    this.take(token).settle({ error: new StatesError(error, cause) });
  }

  /** SendTaskHeartbeat: valid only while the token waits. */
  sendTaskHeartbeat(token: string): void {
    if (!this.waiting.has(token)) this.take(token);
  }

  /**
   * Simulate the waiting task's TimeoutSeconds (or HeartbeatSeconds, with `heartbeat`) elapsing:
   * the task fails with States.Timeout (States.HeartbeatTimeout) and the virtual clock advances.
   */
  expire(token: string, kind: 'timeout' | 'heartbeat' = 'timeout'): void {
    const waiting = this.waiting.get(token);
    if (!waiting) throw new Error(`token ${token.slice(0, 12)}… is not waiting`);
    const seconds = kind === 'timeout' ? waiting.timeoutSeconds : waiting.heartbeatSeconds;
    if (seconds === undefined) {
      throw new AslUnsupportedError(
        waiting.state,
        `expiring a wait without ${kind === 'timeout' ? 'TimeoutSeconds' : 'HeartbeatSeconds'}`,
      );
    }
    this.waiting.delete(token);
    this.spent.set(token, 'timed-out');
    const error =
      kind === 'timeout'
        ? new StatesError('States.Timeout', `the task timed out after ${seconds} s`)
        : new StatesError('States.HeartbeatTimeout', `no heartbeat within ${seconds} s`);
    waiting.settle({ error, elapse: seconds });
  }

  private take(token: string): Waiting {
    const waiting = this.waiting.get(token);
    if (waiting) {
      this.waiting.delete(token);
      this.spent.set(token, 'done');
      return waiting;
    }
    const spent = this.spent.get(token);
    if (spent === 'timed-out') throw named('TaskTimedOut', 'the task timed out');
    if (spent) throw named('TaskDoesNotExist', 'the task already ended');
    throw named('InvalidToken', 'not a task token this interpreter issued');
  }

  // --- Checking the definition -------------------------------------------------------------

  private check(definition: AslDefinition): void {
    for (const key of Object.keys(definition)) {
      if (!['StartAt', 'States', 'TimeoutSeconds', 'Comment'].includes(key))
        throw new AslUnsupportedError('definition', `top-level field ${key}`);
    }
    const names = new Set(Object.keys(definition.States));
    const target = (where: string, next: unknown) => {
      if (typeof next !== 'string' || !names.has(next))
        throw new Error(`ASL interpreter: ${where} goes to unknown state ${JSON.stringify(next)}`);
    };
    target('StartAt', definition.StartAt);
    for (const [name, state] of Object.entries(definition.States)) {
      const type = String(state.Type);
      const allowed = FIELDS[type];
      if (!allowed) throw new AslUnsupportedError(name, `state type ${type}`);
      for (const key of Object.keys(state)) {
        if (!allowed.includes(key)) throw new AslUnsupportedError(name, `field ${key} on a ${type} state`);
      }
      if ('Next' in state) target(name, state.Next);
      if (['Task', 'Wait', 'Pass'].includes(type) && !('Next' in state) && state.End !== true)
        throw new Error(`ASL interpreter: ${name} has neither Next nor End`);
      for (const field of ['Parameters', 'ResultSelector'] as const) {
        if (field in state) this.checkTemplate(`${name}.${field}`, state[field]);
      }
      for (const field of ['InputPath', 'OutputPath', 'ResultPath', 'SecondsPath'] as const) {
        const path = state[field];
        if (path !== undefined && path !== null && (typeof path !== 'string' || !PATH.test(path)))
          throw new AslUnsupportedError(name, `${field} ${JSON.stringify(path)}`);
      }
      if (type === 'Task') this.checkTask(name, state);
      if (type === 'Choice') {
        const choices = state.Choices;
        if (!Array.isArray(choices) || !choices.length)
          throw new Error(`ASL interpreter: ${name} has no Choices`);
        for (const rule of choices) {
          this.checkRule(name, rule, true);
          target(name, (rule as Record<string, unknown>).Next);
        }
        if ('Default' in state) target(name, state.Default);
      }
      if (type === 'Wait') {
        const hasSeconds = 'Seconds' in state;
        if (hasSeconds === 'SecondsPath' in state)
          throw new AslUnsupportedError(name, 'a Wait without exactly one of Seconds / SecondsPath');
      }
      for (const retrier of (state.Retry as unknown[] | undefined) ?? []) {
        const r = retrier as Record<string, unknown>;
        for (const key of Object.keys(r))
          if (!RETRY_FIELDS.includes(key)) throw new AslUnsupportedError(name, `Retry field ${key}`);
        if (r.JitterStrategy !== undefined && !['FULL', 'NONE'].includes(String(r.JitterStrategy)))
          throw new AslUnsupportedError(name, `JitterStrategy ${String(r.JitterStrategy)}`);
        this.checkErrors(name, r.ErrorEquals);
      }
      for (const catcher of (state.Catch as unknown[] | undefined) ?? []) {
        const c = catcher as Record<string, unknown>;
        for (const key of Object.keys(c))
          if (!CATCH_FIELDS.includes(key)) throw new AslUnsupportedError(name, `Catch field ${key}`);
        this.checkErrors(name, c.ErrorEquals);
        target(name, c.Next);
        if (c.ResultPath !== undefined && c.ResultPath !== null && !PATH.test(String(c.ResultPath)))
          throw new AslUnsupportedError(name, `Catch ResultPath ${JSON.stringify(c.ResultPath)}`);
      }
    }
  }

  private checkTask(name: string, state: State): void {
    const resource = String(state.Resource);
    const sdk = AWS_SDK.exec(resource);
    if (sdk) {
      if (!Object.hasOwn(this.options.integrations ?? {}, sdk[1]!))
        throw new AslUnsupportedError(name, `resource ${resource} (no integration answers ${sdk[1]})`);
      if (!isObject(state.Parameters)) throw new AslUnsupportedError(name, 'an SDK task without Parameters');
      if ('TimeoutSeconds' in state || 'HeartbeatSeconds' in state)
        throw new AslUnsupportedError(name, 'TimeoutSeconds/HeartbeatSeconds on an SDK task');
      return;
    }
    const match = LAMBDA_INVOKE.exec(resource);
    if (!match) throw new AslUnsupportedError(name, `resource ${resource}`);
    const parameters = state.Parameters;
    if (!isObject(parameters)) throw new AslUnsupportedError(name, 'a Lambda task without Parameters');
    for (const key of Object.keys(parameters)) {
      if (!['FunctionName', 'Payload', 'Payload.$'].includes(key))
        throw new AslUnsupportedError(name, `lambda:invoke parameter ${key}`);
    }
    const fn = parameters.FunctionName;
    if (typeof fn !== 'string' || !(fn in this.options.functions))
      throw new Error(`ASL interpreter: ${name} invokes ${String(fn)}, which maps to no handler`);
    const waits = match[1] !== undefined;
    const payload = JSON.stringify(parameters.Payload ?? null);
    if (waits && !payload.includes('"$$.Task.Token"'))
      throw new Error(`ASL interpreter: ${name} waits for a task token but does not pass $$.Task.Token`);
    if (!waits && ('TimeoutSeconds' in state || 'HeartbeatSeconds' in state))
      throw new AslUnsupportedError(name, 'TimeoutSeconds/HeartbeatSeconds on a task that does not wait');
  }

  private checkTemplate(where: string, template: unknown): void {
    if (Array.isArray(template)) {
      template.forEach((item, i) => {
        this.checkTemplate(`${where}[${i}]`, item);
      });
      return;
    }
    if (!isObject(template)) return;
    for (const [key, value] of Object.entries(template)) {
      if (key.endsWith('.$')) {
        if (typeof value === 'string' && value.startsWith('States.'))
          parseIntrinsic(value, `${where}.${key}`);
        else if (typeof value !== 'string' || !(PATH.test(value) || CONTEXT_PATH.test(value)))
          throw new AslUnsupportedError(
            where,
            `the value ${JSON.stringify(value)} of ${key} (only paths and States.Array, ArrayGetItem, MathAdd)`,
          );
      } else this.checkTemplate(`${where}.${key}`, value);
    }
  }

  private checkRule(where: string, rule: unknown, top: boolean): void {
    if (!isObject(rule)) throw new AslUnsupportedError(where, 'a non-object choice rule');
    const keys = Object.keys(rule).filter((k) => !(top && k === 'Next') && k !== 'Comment');
    if (top && typeof rule.Next !== 'string')
      throw new Error(`ASL interpreter: ${where}: a choice without Next`);
    if (!top && 'Next' in rule) throw new AslUnsupportedError(where, 'Next inside a nested rule');
    if (keys.length === 1 && (keys[0] === 'And' || keys[0] === 'Or')) {
      const list = rule[keys[0]];
      if (!Array.isArray(list) || !list.length) throw new AslUnsupportedError(where, `an empty ${keys[0]}`);
      for (const inner of list) this.checkRule(where, inner, false);
      return;
    }
    if (keys.length === 1 && keys[0] === 'Not') {
      this.checkRule(where, rule.Not, false);
      return;
    }
    const comparator = keys.filter((k) => k !== 'Variable');
    if (typeof rule.Variable !== 'string' || !PATH.test(rule.Variable) || comparator.length !== 1)
      throw new AslUnsupportedError(where, `the choice rule ${JSON.stringify(rule)}`);
    if (!(COMPARATORS as readonly string[]).includes(comparator[0]!))
      throw new AslUnsupportedError(where, `the choice operator ${comparator[0]}`);
  }

  private checkErrors(where: string, errors: unknown): void {
    if (!Array.isArray(errors) || !errors.length || !errors.every((e) => typeof e === 'string'))
      throw new Error(`ASL interpreter: ${where}: ErrorEquals must be a non-empty list of names`);
    if (errors.includes('States.ALL') && errors.length !== 1)
      throw new Error(`ASL interpreter: ${where}: States.ALL must stand alone`);
  }

  // --- Running --------------------------------------------------------------------------------

  private async run(execution: string, input: Json): Promise<ExecutionResult> {
    const { definition } = this.options;
    const history: HistoryEntry[] = [];
    const clock = { seconds: 0 };
    const limit = definition.TimeoutSeconds;
    let name = definition.StartAt;
    let data = input;
    const end = (result: Omit<ExecutionResult, 'history' | 'elapsedSeconds' | 'lastState'>) => ({
      ...result,
      lastState: name,
      history,
      elapsedSeconds: clock.seconds,
    });
    for (;;) {
      if (history.length >= MAX_TRANSITIONS)
        throw new Error(`ASL interpreter: ${execution} exceeded ${MAX_TRANSITIONS} state transitions`);
      const state = definition.States[name]!;
      const type = String(state.Type);
      history.push({ state: name, type, at: clock.seconds });
      try {
        const step = await this.step(execution, name, state, data, clock);
        if (limit !== undefined && clock.seconds > limit)
          return end({ status: 'TIMED_OUT', error: 'States.Timeout', cause: `over ${limit} s` });
        if (step.kind === 'next') {
          name = step.next;
          data = step.output;
        } else if (step.kind === 'succeed') return end({ status: 'SUCCEEDED', output: step.output });
        else return end({ status: 'FAILED', error: step.error.error, cause: step.error.causeText });
      } catch (error) {
        if (error instanceof StatesError)
          return end({ status: 'FAILED', error: error.error, cause: error.causeText });
        throw error;
      }
    }
  }

  private async step(
    execution: string,
    name: string,
    state: State,
    raw: Json,
    clock: { seconds: number },
  ): Promise<
    | { kind: 'next'; next: string; output: Json }
    | { kind: 'succeed'; output: Json }
    | { kind: 'fail'; error: StatesError }
  > {
    const type = String(state.Type);
    const proceed = (output: Json) =>
      state.End === true
        ? ({ kind: 'succeed', output } as const)
        : ({ kind: 'next', next: String(state.Next), output } as const);
    if (type === 'Fail') {
      return {
        kind: 'fail',
        error: new StatesError(String(state.Error ?? 'States.Fail'), String(state.Cause ?? '')),
      };
    }
    const input = filterPath(raw, state.InputPath, name);
    const context = { Execution: { Id: execution, Name: execution, Input: raw }, State: { Name: name } };
    switch (type) {
      case 'Succeed':
        return { kind: 'succeed', output: filterPath(input, state.OutputPath, name) };
      case 'Pass': {
        const result =
          'Result' in state
            ? json(state.Result)
            : 'Parameters' in state
              ? resolveTemplate(state.Parameters, input, context, `${name}.Parameters`)
              : input;
        return proceed(
          filterPath(writePath(raw, state.ResultPath as string, result, name), state.OutputPath, name),
        );
      }
      case 'Wait': {
        const seconds =
          'Seconds' in state
            ? state.Seconds
            : readPath(input, String(state.SecondsPath), `${name}.SecondsPath`);
        if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 0)
          throw runtime(`${name}: the wait ${JSON.stringify(seconds)} is not a non-negative integer`);
        clock.seconds += seconds;
        await this.clock.sleep(seconds);
        return proceed(filterPath(input, state.OutputPath, name));
      }
      case 'Choice': {
        for (const rule of state.Choices as Record<string, unknown>[]) {
          if (evaluate(rule, input, name))
            return {
              kind: 'next',
              next: String(rule.Next),
              output: filterPath(input, state.OutputPath, name),
            };
        }
        if (typeof state.Default === 'string')
          return { kind: 'next', next: state.Default, output: filterPath(input, state.OutputPath, name) };
        throw new StatesError(
          'States.NoChoiceMatched',
          `${name}: no choice rule matched and there is no Default`,
        );
      }
      case 'Task':
        return this.task(execution, name, state, raw, input, clock, context, proceed);
      default:
        throw new AslUnsupportedError(name, `state type ${type}`);
    }
  }

  private async task(
    execution: string,
    name: string,
    state: State,
    raw: Json,
    input: Json,
    clock: { seconds: number },
    context: Record<string, unknown>,
    proceed: (
      output: Json,
    ) => { kind: 'next'; next: string; output: Json } | { kind: 'succeed'; output: Json },
  ) {
    const retriers = ((state.Retry as Record<string, unknown>[] | undefined) ?? []).map((r) => ({
      rule: r,
      used: 0,
    }));
    const invocation: { handler: string; payload: unknown } = { handler: '', payload: null };
    const report = (outcome: { result: unknown } | { error: string }) =>
      this.options.onTask?.({ execution, state: name, ...invocation, ...outcome });
    for (;;) {
      try {
        const result = await this.attempt(execution, name, state, input, context, clock, invocation);
        report({ result: isObject(result) && 'StatusCode' in result ? result.Payload : result });
        const selected =
          'ResultSelector' in state
            ? resolveTemplate(state.ResultSelector, result, context, `${name}.ResultSelector`)
            : result;
        const written = writePath(raw, state.ResultPath as string | null | undefined, selected, name);
        return proceed(filterPath(written, state.OutputPath, name));
      } catch (error) {
        if (!(error instanceof StatesError) || error.error === 'States.Runtime') throw error;
        const retrier = retriers.find((r) => matches(r.rule.ErrorEquals as string[], error.error));
        const max = retrier ? ((retrier.rule.MaxAttempts as number | undefined) ?? 3) : 0;
        if (retrier && retrier.used < max) {
          const interval = (retrier.rule.IntervalSeconds as number | undefined) ?? 1;
          const rate = (retrier.rule.BackoffRate as number | undefined) ?? 2;
          const cap = (retrier.rule.MaxDelaySeconds as number | undefined) ?? Number.POSITIVE_INFINITY;
          const delay = Math.min(interval * rate ** retrier.used, cap);
          clock.seconds += delay;
          retrier.used += 1;
          await this.clock.sleep(delay);
          continue;
        }
        report({ error: error.error });
        const catcher = ((state.Catch as Record<string, unknown>[] | undefined) ?? []).find((c) =>
          matches(c.ErrorEquals as string[], error.error),
        );
        if (!catcher) return { kind: 'fail' as const, error };
        const errorOutput = { Error: error.error, Cause: error.causeText };
        const path = 'ResultPath' in catcher ? (catcher.ResultPath as string | null) : '$';
        return {
          kind: 'next' as const,
          next: String(catcher.Next),
          output: writePath(raw, path, errorOutput, name),
        };
      }
    }
  }

  /** One attempt of a Lambda task: its output, or a StatesError. */
  private async attempt(
    execution: string,
    name: string,
    state: State,
    input: Json,
    baseContext: Record<string, unknown>,
    clock: { seconds: number },
    invocation: { handler: string; payload: unknown },
  ): Promise<Json> {
    const parameters = state.Parameters as Record<string, unknown>;
    const sdk = AWS_SDK.exec(String(state.Resource));
    if (sdk) {
      const call = this.options.integrations![sdk[1]!]!;
      invocation.handler = sdk[1]!;
      invocation.payload = resolveTemplate(parameters, input, baseContext, `${name}.Parameters`);
      try {
        return json(await call(json(invocation.payload) as Record<string, unknown>));
      } catch (error) {
        if (error instanceof StatesError) throw error;
        throw new StatesError(
          error instanceof Error ? error.name : 'States.TaskFailed',
          error instanceof Error ? error.message : String(error),
        );
      }
    }
    const handler = this.options.functions[String(parameters.FunctionName)]!;
    const waits = String(state.Resource).endsWith('.waitForTaskToken');
    const token = waits ? randomBytes(48).toString('base64url') : undefined;
    const context = token ? { ...baseContext, Task: { Token: token } } : baseContext;
    const resolved = resolveTemplate(parameters, input, context, `${name}.Parameters`) as Record<
      string,
      unknown
    >;
    let settled: Promise<{ output: Json } | { error: StatesError; elapse?: number }> | undefined;
    if (token) {
      settled = new Promise((settle) => {
        this.waiting.set(token, {
          execution,
          state: name,
          timeoutSeconds: state.TimeoutSeconds as number | undefined,
          heartbeatSeconds: state.HeartbeatSeconds as number | undefined,
          settle,
        });
      });
    }
    invocation.handler = handler;
    invocation.payload = json(resolved.Payload ?? null);
    let payload: Json;
    try {
      payload = json(await this.options.invoke(handler, json(invocation.payload)));
    } catch (error) {
      if (token) {
        this.waiting.delete(token);
        this.spent.set(token, 'done');
      }
      const errorType = error instanceof Error ? error.name : 'Error';
      const errorMessage = error instanceof Error ? error.message : String(error);
      throw new StatesError(errorType, JSON.stringify({ errorType, errorMessage, trace: [] }));
    }
    if (!token || !settled) return { ExecutedVersion: '$LATEST', Payload: payload, StatusCode: 200 };
    const waiting = this.waiting.get(token);
    let disarm = () => {};
    if (waiting) {
      this.options.onWaiting?.({ token, state: name, execution });
      if (waiting.timeoutSeconds !== undefined)
        disarm = this.clock.arm(waiting.timeoutSeconds, () => {
          if (this.waiting.has(token)) this.expire(token);
        });
    }
    const outcome = await settled.finally(disarm);
    if ('error' in outcome) {
      clock.seconds += outcome.elapse ?? 0;
      throw outcome.error;
    }
    return outcome.output;
  }
}

function named(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

/** Does an error name match ErrorEquals (States.ALL; States.TaskFailed = any but a timeout)? */
function matches(errorEquals: readonly string[], error: string): boolean {
  return errorEquals.some(
    (e) =>
      e === error ||
      e === 'States.ALL' ||
      (e === 'States.TaskFailed' && !error.startsWith('States.')) ||
      (e === 'States.Timeout' && error === 'States.HeartbeatTimeout'),
  );
}

/** Resolve a Parameters / ResultSelector template against `input` and the context object. */
function resolveTemplate(template: unknown, input: Json, context: Json, where: string): Json {
  if (Array.isArray(template))
    return template.map((item, i) => resolveTemplate(item, input, context, `${where}[${i}]`));
  if (!isObject(template)) return json(template);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(template)) {
    if (key.endsWith('.$')) {
      const path = String(value);
      out[key.slice(0, -2)] = path.startsWith('States.')
        ? intrinsic(parseIntrinsic(path, `${where}.${key}`), input, `${where}.${key}`)
        : path.startsWith('$$')
          ? json(readPath(context, path.slice(1), `${where}.${key}`))
          : json(readPath(input, path, `${where}.${key}`));
    } else out[key] = resolveTemplate(value, input, context, `${where}.${key}`);
  }
  return out;
}

/** Evaluate a choice rule (checked at construction). */
function evaluate(rule: Record<string, unknown>, input: Json, where: string): boolean {
  if (Array.isArray(rule.And))
    return (rule.And as Record<string, unknown>[]).every((r) => evaluate(r, input, where));
  if (Array.isArray(rule.Or))
    return (rule.Or as Record<string, unknown>[]).some((r) => evaluate(r, input, where));
  if (isObject(rule.Not)) return !evaluate(rule.Not, input, where);
  const variable = String(rule.Variable);
  if ('IsPresent' in rule) return hasPath(input, variable, where) === rule.IsPresent;
  const value = readPath(input, variable, `${where}.Variable`);
  if ('BooleanEquals' in rule) return value === rule.BooleanEquals;
  if ('StringEquals' in rule) return value === rule.StringEquals;
  if ('NumericEquals' in rule) return typeof value === 'number' && value === rule.NumericEquals;
  if ('NumericGreaterThanEquals' in rule)
    return typeof value === 'number' && value >= (rule.NumericGreaterThanEquals as number);
  if ('IsNull' in rule) return (value === null) === rule.IsNull;
  if ('IsString' in rule) return (typeof value === 'string') === rule.IsString;
  if ('IsBoolean' in rule) return (typeof value === 'boolean') === rule.IsBoolean;
  if ('IsNumeric' in rule) return (typeof value === 'number') === rule.IsNumeric;
  throw new AslUnsupportedError(where, `the choice rule ${JSON.stringify(rule)}`);
}

/** An intrinsic function call, as parsed from a `.$` value. */
interface Call {
  readonly fn: 'States.Array' | 'States.ArrayGetItem' | 'States.MathAdd';
  readonly args: readonly Arg[];
}
type Arg = { readonly path: string } | { readonly value: number } | { readonly call: Call };

const ARITY: Readonly<Record<Call['fn'], number | null>> = {
  'States.Array': null,
  'States.ArrayGetItem': 2,
  'States.MathAdd': 2,
};

/**
 * Parse `States.Fn(arg, …)` where each arg is a reference path, an integer or a nested call of
 * the three supported functions; anything else (string literals, other functions) is refused.
 */
function parseIntrinsic(text: string, where: string): Call {
  let at = 0;
  const fail = (what: string): never => {
    throw new AslUnsupportedError(where, `${what} in the intrinsic ${JSON.stringify(text)}`);
  };
  const space = () => {
    while (text[at] === ' ') at += 1;
  };
  const call = (): Call => {
    const name = /^States\.[A-Za-z]+/.exec(text.slice(at))?.[0];
    if (!name || !Object.hasOwn(ARITY, name)) return fail(`the function ${name ?? text.slice(at)}`);
    at += name.length;
    if (text[at] !== '(') return fail('a call without "("');
    at += 1;
    const args: Arg[] = [];
    space();
    while (text[at] !== ')') {
      if (args.length) {
        if (text[at] !== ',') return fail(`"${text[at] ?? 'the end'}" where "," belongs`);
        at += 1;
        space();
      }
      const rest = text.slice(at);
      if (rest.startsWith('States.')) args.push({ call: call() });
      else if (rest.startsWith('$')) {
        const path = /^[^,)\s]+/.exec(rest)![0];
        if (!PATH.test(path)) return fail(`the path ${path}`);
        args.push({ path });
        at += path.length;
      } else {
        const number = /^-?\d+/.exec(rest)?.[0];
        if (number === undefined) return fail(`the argument ${rest.split(/[,)]/)[0]}`);
        args.push({ value: Number(number) });
        at += number.length;
      }
      space();
    }
    at += 1;
    const arity = ARITY[name as Call['fn']];
    if (arity !== null && args.length !== arity) fail(`${name} with ${args.length} arguments`);
    return { fn: name as Call['fn'], args };
  };
  const parsed = call();
  if (at !== text.length) fail(`"${text.slice(at)}" after the call`);
  return parsed;
}

/** Evaluate a parsed intrinsic against the state input; a bad argument is States.Runtime. */
function intrinsic(call: Call, input: Json, where: string): Json {
  const args = call.args.map((arg) =>
    'call' in arg
      ? intrinsic(arg.call, input, where)
      : 'path' in arg
        ? readPath(input, arg.path, where)
        : arg.value,
  );
  const integer = (value: Json): number => {
    if (typeof value !== 'number' || !Number.isInteger(value))
      throw runtime(`${where}: ${call.fn} needs integers, got ${JSON.stringify(value)}`);
    return value;
  };
  if (call.fn === 'States.Array') return args;
  if (call.fn === 'States.MathAdd') return integer(args[0]) + integer(args[1]);
  const [array, index] = [args[0], integer(args[1])];
  if (!Array.isArray(array) || index < 0 || index >= array.length)
    throw runtime(`${where}: States.ArrayGetItem index ${index} is outside ${JSON.stringify(array)}`);
  return json(array[index]);
}
