/**
 * The Step Functions workflow: one execution per incident, following functions/app/contract.ts
 * (the flow comment and the step I/O types) state for state. Commands are awaited in Wait states
 * with the poll handler's backoff, never in a sleeping Lambda, and the approval is a task-token wait
 * whose timeout escalates.
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
import { LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import {
  type CommandPurpose,
  type EscalateInput,
  type OutcomeInput,
  WORKFLOW_ERRORS,
} from '../functions/app/contract.js';

/** The functions the state machine invokes (the alarm and slack functions start/resume it instead). */
export interface WorkflowFunctions {
  readonly reachability: IFunction;
  readonly send: IFunction;
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

/**
 * The reusable wait/poll loop for one command: Wait `$.poll.waitSeconds` → poll → done? The poll
 * handler returns the next attempt and the backoff, so the loop's shape carries no policy. A send
 * that ran no command (`commandId` null: an EC2 reboot or ASG replace) skips the loop.
 */
function pollUntilDone(
  scope: Construct,
  name: string,
  poll: IFunction,
  then: IChainable,
  onError: IChainable,
): State {
  const first = new Pass(scope, `${name}FirstWait`, {
    parameters: { attempt: 0, done: false, 'waitSeconds.$': '$.cmd.waitSeconds' },
    resultPath: '$.poll',
  });
  const wait = new Wait(scope, `${name}Wait`, { time: WaitTime.secondsPath('$.poll.waitSeconds') });
  const invoke = step(
    scope,
    `${name}Poll`,
    poll,
    { ...incident, 'commandId.$': '$.cmd.commandId', 'attempt.$': '$.poll.attempt' },
    { path: '$.poll', fields: ['done', 'status', 'attempt', 'waitSeconds'] },
  );
  invoke.addCatch(onError, { errors: ['States.ALL'], resultPath: '$.error' });
  const done = new Choice(scope, `${name}Done?`)
    .when(Condition.booleanEquals('$.poll.done', true), then)
    .otherwise(wait);
  return new Choice(scope, `${name}Sent?`)
    .when(Condition.isNull('$.cmd.commandId'), then)
    .otherwise(first.next(wait).next(invoke).next(done));
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
    fields: ['reachable'],
  });
  reachability.addCatch(escalateDiagnosisFailed, { errors: ['States.ALL'], resultPath: '$.error' });
  return reachability.next(
    new Choice(scope, 'Reachable?')
      .when(Condition.booleanEquals('$.reach.reachable', true), sendDiagnose)
      .otherwise(noCommand),
  );
}
