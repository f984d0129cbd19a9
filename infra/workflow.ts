/**
 * The Step Functions workflow: one execution per incident, following functions/app/contract.ts
 * (the flow comment and the step I/O types) state for state. Commands are awaited in Wait states
 * with the contract's backoff, never in a sleeping Lambda, and polled by the state machine itself
 * (a direct GetCommandInvocation, no Lambda hop); the approval is a task-token wait whose timeout
 * escalates.
 *
 * State data: the execution input is `{ incidentId }`; each step writes its output under its own
 * key (`$.reach`, `$.cmd`, `$.poll`, `$.analysis`, `$.decision`, `$.eval`, `$.ready`, `$.error`) so later
 * steps can read what they need and the execution history reads like the incident's audit.
 */
import { Duration } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { ILogGroup } from 'aws-cdk-lib/aws-logs';
import {
  Choice,
  Condition,
  DefinitionBody,
  type IChainable,
  type INextable,
  IntegrationPattern,
  JitterType,
  JsonPath,
  LogLevel,
  Pass,
  Result,
  type State,
  StateMachine,
  Succeed,
  TaskInput,
  Timeout,
  Wait,
  WaitTime,
} from 'aws-cdk-lib/aws-stepfunctions';
import { CallAwsService, LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import {
  type CommandPurpose,
  type EscalateInput,
  MAX_POLL_ATTEMPTS,
  type OutcomeInput,
  pollWait,
  WORKFLOW_ERRORS,
} from '../functions/app/contract.js';
import { SSM_COMMAND_STATUS } from '../functions/core/ssm-status.js';

/** The functions the state machine invokes (the alarm and slack functions start/resume it instead). */
export interface WorkflowFunctions {
  readonly reachability: IFunction;
  readonly send: IFunction;
  /** Gives up on a command still running after the last poll (the polls themselves are direct SDK calls). */
  readonly poll: IFunction;
  readonly analyze: IFunction;
  readonly awaitApproval: IFunction;
  readonly evaluate: IFunction;
  readonly outcome: IFunction;
  readonly escalate: IFunction;
}

/** Props of {@link NodemedicWorkflow}. */
export interface NodemedicWorkflowProps {
  readonly functions: WorkflowFunctions;
  /** How long the approval wait lasts before it escalates (the safety policy's approvalTimeoutMinutes). */
  readonly approvalTimeout: Duration;
  /**
   * Bound on one execution, so a stuck loop cannot run for the Standard workflow's year.
   * @default Duration.hours(2)
   */
  readonly executionTimeout?: Duration;
  /** Where the execution history goes (logging level ALL, with execution data). */
  readonly logGroup: ILogGroup;
}

/** Error name the handlers give a retryable DependencyError (throttling, a flaky dependency). */
const RETRYABLE_ERROR = WORKFLOW_ERRORS.retryable;
/** Error the Slack listener sends through SendTaskFailure when an approver denies the fix. */
const DENIED_ERROR = WORKFLOW_ERRORS.denied;
/** Error the alarm function sends through SendTaskFailure when the alarm returns to OK mid-wait. */
const RECOVERED_ERROR = WORKFLOW_ERRORS.recovered;

/** The workflow: a Standard state machine with logging ALL and X-Ray tracing. */
export class NodemedicWorkflow extends Construct {
  public readonly stateMachine: StateMachine;

  constructor(scope: Construct, id: string, props: NodemedicWorkflowProps) {
    super(scope, id);
    this.stateMachine = new StateMachine(this, 'StateMachine', {
      definitionBody: DefinitionBody.fromChainable(buildDefinition(this, props)),
      timeout: props.executionTimeout ?? Duration.hours(2),
      tracingEnabled: true,
      // Every state transition is logged (cdk-nag SF1), but not the payloads: they carry the
      // approval's task token, which would let anyone who reads the logs resume the workflow.
      logs: { destination: props.logGroup, level: LogLevel.ALL, includeExecutionData: false },
    });
  }
}

/** A Lambda step with the contract's retry policy. */
function step(
  scope: Construct,
  id: string,
  fn: IFunction,
  payload: Record<string, unknown>,
  output: { path: string; fields: readonly string[] } | null,
): LambdaInvoke {
  const task = new LambdaInvoke(scope, id, {
    lambdaFunction: fn,
    payload: TaskInput.fromObject(payload),
    // Lambda's own transient faults (ServiceException, SdkClientException...) retry by default.
    retryOnServiceExceptions: true,
    ...(output
      ? {
          resultSelector: Object.fromEntries(output.fields.map((f) => [`${f}.$`, `$.Payload.${f}`])),
          resultPath: output.path,
        }
      : { resultPath: JsonPath.DISCARD }),
  });
  task.addRetry({
    errors: [RETRYABLE_ERROR, 'Lambda.TooManyRequestsException'],
    interval: Duration.seconds(2),
    backoffRate: 2,
    maxAttempts: 5,
    maxDelay: Duration.seconds(60),
    jitterStrategy: JitterType.FULL,
  });
  return task;
}

const incident = { 'incidentId.$': '$.incidentId' };

/** SSM's status words that mean "still running" (core/ssm-status.ts), and every word it knows. */
const SSM_PENDING = Object.keys(SSM_COMMAND_STATUS).filter((w) => SSM_COMMAND_STATUS[w] === 'pending');
const SSM_KNOWN = Object.keys(SSM_COMMAND_STATUS);

/** `$.poll.invocation.<field>` is present and one of `words` (a missing field is no match, not an error). */
function fieldIn(field: 'Status' | 'StatusDetails', words: readonly string[]): Condition {
  const path = `$.poll.invocation.${field}`;
  return Condition.and(
    Condition.isPresent(path),
    Condition.or(...words.map((word) => Condition.stringEquals(path, word))),
  );
}

/**
 * "Still running?" from GetCommandInvocation's response, exactly as ssmCommandStatus reads it
 * (core/ssm-status.ts): StatusDetails when it is a known word, else Status. Any other answer ends
 * the loop, and the step after it reads the invocation through the runner, which maps it (an
 * unknown status fails that step, as before).
 */
const STILL_RUNNING = Condition.or(
  fieldIn('StatusDetails', SSM_PENDING),
  Condition.and(Condition.not(fieldIn('StatusDetails', SSM_KNOWN)), fieldIn('Status', SSM_PENDING)),
);

/**
 * The wait before the next poll, by the number of polls made so far: pollWait(attempt + 1) for
 * every attempt the loop can reach (app/contract.ts), as one States.Array.
 */
const NEXT_WAIT = `States.ArrayGetItem(States.Array(${Array.from({ length: MAX_POLL_ATTEMPTS }, (_, a) =>
  pollWait(a + 1),
).join(', ')}), $.poll.attempt)`;

/**
 * The wait/poll loop for one command, with no Lambda in it: Wait `$.poll.waitSeconds` → the state
 * machine's own GetCommandInvocation (an AWS SDK integration) → still running? → count the poll and
 * take the next wait from the schedule → give up? A send that ran no command (`commandId` null: an
 * EC2 reboot or ASG replace) skips the loop.
 *
 * Errors keep the SSM runner's mapping: SSM's throttling and server faults are retried with
 * backoff (Step Functions names them `Ssm.ThrottlingException`, `Ssm.InternalServerErrorException`,
 * or `Ssm.SsmException` for an error the SDK does not model; that name also covers AccessDenied,
 * which is retried a few times before it is caught like any other failure).
 * `Ssm.InvocationDoesNotExistException` right after the send is SSM's eventual consistency: it
 * counts as "still running" and the attempt budget decides, as the runner does. Anything else
 * goes to `onError`. After MAX_POLL_ATTEMPTS polls the poll function gives up: it cancels the
 * command and says so, and the flow goes on to `then` (which judges the command as it stands).
 */
function pollUntilDone(
  scope: Construct,
  name: string,
  giveUp: IFunction,
  then: IChainable,
  onError: IChainable,
): State {
  const first = new Pass(scope, `${name}FirstWait`, {
    parameters: { attempt: 0, 'waitSeconds.$': '$.cmd.waitSeconds' },
    resultPath: '$.poll',
  });
  const wait = new Wait(scope, `${name}Wait`, { time: WaitTime.secondsPath('$.poll.waitSeconds') });
  const poll = new CallAwsService(scope, `${name}Poll`, {
    service: 'ssm',
    action: 'getCommandInvocation',
    iamAction: 'ssm:GetCommandInvocation',
    // GetCommandInvocation admits no resource narrower than * (command ids are not ARNs).
    iamResources: ['*'],
    parameters: {
      CommandId: JsonPath.stringAt('$.cmd.commandId'),
      InstanceId: JsonPath.stringAt('$.reach.instanceId'),
    },
    // Only the two words the loop reads: the output (up to 24,000 characters of stdout, 8,000 of
    // stderr) would otherwise ride through every later state and sit in the execution history.
    // SSM returns both on every answer (API_GetCommandInvocation.html, "Response Elements").
    resultSelector: { 'Status.$': '$.Status', 'StatusDetails.$': '$.StatusDetails' },
    resultPath: '$.poll.invocation',
  });
  poll.addRetry({
    errors: ['Ssm.ThrottlingException', 'Ssm.InternalServerErrorException', 'Ssm.SsmException'],
    interval: Duration.seconds(2),
    backoffRate: 2,
    maxAttempts: 5,
    maxDelay: Duration.seconds(60),
    jitterStrategy: JitterType.FULL,
  });
  const next = new Pass(scope, `${name}NextPoll`, {
    parameters: { 'attempt.$': 'States.MathAdd($.poll.attempt, 1)', 'waitSeconds.$': NEXT_WAIT },
    resultPath: '$.poll',
  });
  poll.addCatch(next, { errors: ['Ssm.InvocationDoesNotExistException'], resultPath: '$.poll.invocation' });
  poll.addCatch(onError, { errors: ['States.ALL'], resultPath: '$.error' });
  const stop = step(
    scope,
    `${name}GiveUp`,
    giveUp,
    { ...incident, 'commandId.$': '$.cmd.commandId', 'attempt.$': '$.poll.attempt' },
    null,
  );
  stop.addCatch(onError, { errors: ['States.ALL'], resultPath: '$.error' });
  stop.next(then);
  next.next(
    new Choice(scope, `${name}GiveUp?`)
      .when(Condition.numberGreaterThanEquals('$.poll.attempt', MAX_POLL_ATTEMPTS), stop)
      .otherwise(wait),
  );
  const done = new Choice(scope, `${name}Done?`).when(STILL_RUNNING, next).otherwise(then);
  return new Choice(scope, `${name}Sent?`)
    .when(Condition.isNull('$.cmd.commandId'), then)
    .otherwise(first.next(wait).next(poll).next(done));
}

/** The whole flow of functions/app/contract.ts, as a chain starting at the reachability step. */
function buildDefinition(scope: Construct, props: NodemedicWorkflowProps): IChainable {
  const f = props.functions;

  const escalate = (reason: EscalateInput['reason'], id: string) =>
    step(scope, id, f.escalate, { ...incident, reason }, null);
  const escalateDiagnosisFailed = escalate('diagnosis-failed', 'EscalateDiagnosisFailed');
  const escalateApprovalTimeout = escalate('approval-timeout', 'EscalateApprovalTimeout');
  const escalateFixFailed = escalate('fix-failed', 'EscalateFixFailed');
  const escalateNotRecovered = escalate('not-recovered', 'EscalateNotRecovered');

  const outcome = (kind: OutcomeInput['kind'], id: string) =>
    step(scope, id, f.outcome, { ...incident, kind, 'remediation.$': '$.decision.remediation' }, null);

  const send = (purpose: CommandPurpose, id: string, onError: IChainable) => {
    const withRemediation = purpose === 'diagnose' ? {} : { 'remediation.$': '$.decision.remediation' };
    const task = step(
      scope,
      id,
      f.send,
      { ...incident, purpose, ...withRemediation },
      {
        path: '$.cmd',
        fields: ['commandId', 'waitSeconds'],
      },
    );
    task.addCatch(onError, { errors: ['States.ALL'], resultPath: '$.error' });
    return task;
  };

  const evaluate = (purpose: 'recheck' | 'fix' | 'verify' | 'rollback', id: string, onError: IChainable) => {
    const task = step(
      scope,
      id,
      f.evaluate,
      { ...incident, purpose, 'commandId.$': '$.cmd.commandId', 'remediation.$': '$.decision.remediation' },
      { path: '$.eval', fields: ['ok', 'rollback'] },
    );
    task.addCatch(onError, { errors: ['States.ALL'], resultPath: '$.error' });
    return task;
  };

  /** send(purpose) → poll loop → evaluate(purpose); returns [entry, evaluate step]. */
  const command = (purpose: 'recheck' | 'fix' | 'verify' | 'rollback', name: string, onError: IChainable) => {
    const ev = evaluate(purpose, `Evaluate${name}`, onError);
    const sent = send(purpose, `Send${name}`, onError);
    sent.next(pollUntilDone(scope, name, f.poll, ev, onError));
    return { entry: sent, evaluate: ev as INextable };
  };

  // After the approval: recheck → fix → verify → (rollback) → outcome / escalate.
  const rollback = command('rollback', 'Rollback', escalateNotRecovered);
  rollback.evaluate.next(escalateNotRecovered);

  const verify = command('verify', 'Verify', escalateNotRecovered);
  // Verified: wait (bounded, the remediation's readyWithinSeconds, as data) for the node's own
  // readiness to return to OK before calling it recovered. The evaluate function checks it; its
  // output says when to look again, and when the wait is over, how it ended.
  const readyCheck = step(
    scope,
    'ReadyCheck',
    f.evaluate,
    {
      ...incident,
      purpose: 'ready',
      'remediation.$': '$.decision.remediation',
      'attempt.$': '$.ready.attempt',
    },
    { path: '$.ready', fields: ['done', 'ok', 'attempt', 'waitSeconds'] },
  );
  readyCheck.addCatch(escalateNotRecovered, { errors: ['States.ALL'], resultPath: '$.error' });
  const readyWait = new Wait(scope, 'ReadyWait', { time: WaitTime.secondsPath('$.ready.waitSeconds') });
  const readyFirst = new Pass(scope, 'ReadyFirstCheck', {
    parameters: { attempt: 0, done: false, ok: false, waitSeconds: 0 },
    resultPath: '$.ready',
  });
  readyFirst.next(readyCheck).next(
    new Choice(scope, 'Ready?')
      .when(
        Condition.and(
          Condition.booleanEquals('$.ready.done', true),
          Condition.booleanEquals('$.ready.ok', true),
        ),
        outcome('recovered', 'OutcomeRecovered'),
      )
      .when(Condition.booleanEquals('$.ready.done', true), escalateNotRecovered)
      .otherwise(readyWait.next(readyCheck)),
  );

  verify.evaluate.next(
    new Choice(scope, 'Recovered?')
      .when(Condition.booleanEquals('$.eval.ok', true), readyFirst)
      .when(Condition.booleanEquals('$.eval.rollback', true), rollback.entry)
      .otherwise(escalateNotRecovered),
  );

  const fix = command('fix', 'Fix', escalateFixFailed);
  fix.evaluate.next(
    new Choice(scope, 'FixSucceeded?')
      .when(Condition.booleanEquals('$.eval.ok', true), verify.entry)
      .otherwise(escalateFixFailed),
  );

  const recheck = command('recheck', 'Recheck', escalateFixFailed);
  recheck.evaluate.next(
    new Choice(scope, 'CauseStillHolds?')
      .when(Condition.booleanEquals('$.eval.ok', true), fix.entry)
      .otherwise(outcome('skipped', 'OutcomeSkipped')),
  );

  // Before the approval: reachability → diagnose (or EC2 evidence) → analyze → approval wait.
  const analyze = step(
    scope,
    'Analyze',
    f.analyze,
    { ...incident, 'commandId.$': '$.cmd.commandId' },
    { path: '$.analysis', fields: ['offered', 'held', 'awaitApproval'] },
  );
  analyze.addCatch(escalateDiagnosisFailed, { errors: ['States.ALL'], resultPath: '$.error' });

  const sendDiagnose = send('diagnose', 'SendDiagnose', escalateDiagnosisFailed);
  sendDiagnose.next(pollUntilDone(scope, 'Diagnose', f.poll, analyze, escalateDiagnosisFailed));

  const awaitApproval = new LambdaInvoke(scope, 'AwaitApproval', {
    lambdaFunction: f.awaitApproval,
    integrationPattern: IntegrationPattern.WAIT_FOR_TASK_TOKEN,
    payload: TaskInput.fromObject({ ...incident, taskToken: JsonPath.taskToken }),
    taskTimeout: Timeout.duration(props.approvalTimeout),
    // The task's output is the listener's SendTaskSuccess output: an ApprovalDecision.
    resultSelector: { 'decision.$': '$.decision', 'remediation.$': '$.remediation', 'by.$': '$.by' },
    resultPath: '$.decision',
  });
  awaitApproval.addRetry({
    errors: [RETRYABLE_ERROR, 'Lambda.TooManyRequestsException'],
    interval: Duration.seconds(2),
    backoffRate: 2,
    maxAttempts: 5,
    jitterStrategy: JitterType.FULL,
  });
  awaitApproval.addCatch(escalateApprovalTimeout, { errors: ['States.Timeout'], resultPath: '$.error' });
  // The listener already closed the card on a deny: the execution simply ends.
  awaitApproval.addCatch(new Succeed(scope, 'Denied'), { errors: [DENIED_ERROR], resultPath: '$.error' });
  // The alarm went back to OK while waiting: the alarm function closed the incident and failed
  // the token with this error.
  awaitApproval.addCatch(new Succeed(scope, 'RecoveredWhileWaiting'), {
    errors: [RECOVERED_ERROR],
    resultPath: '$.error',
  });
  // Anything else before a fix ran is a failure of the diagnosis phase.
  awaitApproval.addCatch(escalateDiagnosisFailed, { errors: ['States.ALL'], resultPath: '$.error' });
  awaitApproval.next(
    new Choice(scope, 'Decision?')
      .when(Condition.stringEquals('$.decision.decision', 'rerun'), sendDiagnose)
      .when(
        Condition.and(
          Condition.stringEquals('$.decision.decision', 'approve'),
          Condition.isString('$.decision.remediation'),
        ),
        recheck.entry,
      )
      // Resumed with neither a rerun nor an approval naming a fix: nothing runs, and a person is
      // told, rather than the execution failing silently (as the in-process runner does too).
      .otherwise(escalateDiagnosisFailed),
  );

  analyze.next(
    new Choice(scope, 'AwaitApproval?')
      .when(Condition.booleanEquals('$.analysis.awaitApproval', true), awaitApproval)
      .otherwise(new Succeed(scope, 'FindingsPosted')),
  );

  const noCommand = new Pass(scope, 'Unreachable', {
    result: Result.fromObject({ commandId: null, waitSeconds: 0 }),
    resultPath: '$.cmd',
  });
  noCommand.next(analyze);

  const reachability = step(scope, 'Reachability', f.reachability, incident, {
    path: '$.reach',
    fields: ['reachable', 'instanceId'],
  });
  reachability.addCatch(escalateDiagnosisFailed, { errors: ['States.ALL'], resultPath: '$.error' });
  return reachability.next(
    new Choice(scope, 'Reachable?')
      .when(Condition.booleanEquals('$.reach.reachable', true), sendDiagnose)
      .otherwise(noCommand),
  );
}
