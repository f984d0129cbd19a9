// biome-ignore-all lint/suspicious/noExplicitAny: synthesized CloudFormation templates are untyped JSON
/**
 * The synthesized state machine follows functions/app/contract.ts: it is valid ASL (asl-validator,
 * with CloudFormation references replaced by fake ARNs), every path of the flow goes where the
 * contract says, the approval is a task-token wait whose timeout escalates, and every Lambda step
 * retries Lambda's transient faults and our RetryableError with backoff.
 */
import aslValidator from 'asl-validator';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SAFETY_POLICY } from '../../functions/core/policy.js';
import { type AslState, definitionOf, synthNodeMedic } from './support.js';

const { template, stack, nodemedic } = synthNodeMedic();
const definition = definitionOf(template);
const states = definition.States;

function state(name: string): AslState {
  const s = states[name];
  if (!s) throw new Error(`no state ${name}; states: ${Object.keys(states).join(', ')}`);
  return s;
}
/** The Lambda function a task invokes (its logical id inside the fake ARN). */
function invoked(name: string): string {
  return String(state(name).Parameters?.FunctionName).split(':function:')[1] ?? '';
}
function logicalIdOf(handler: keyof typeof nodemedic.functions): string {
  return stack.getLogicalId(nodemedic.functions[handler].node.defaultChild as never);
}
/** Where a Choice goes for a given condition value, by `Variable` and comparison. */
function choiceTarget(name: string, variable: string, value: unknown): string | undefined {
  const choice = state(name).Choices?.find(
    (c) =>
      Object.entries(c).some(([k, v]) => k !== 'Next' && k !== 'Variable' && v === value) &&
      c.Variable === variable,
  );
  return choice?.Next;
}
/** The payload a task sends, without the `.$` suffixes. */
function payload(name: string): Record<string, unknown> {
  return state(name).Parameters?.Payload as Record<string, unknown>;
}

describe('state machine definition', () => {
  it('is valid Amazon States Language', () => {
    const { isValid, errorsText } = aslValidator(definition as never);
    expect(errorsText('\n')).toBe('');
    expect(isValid).toBe(true);
  });

  it('every Next, Default and Catch target exists, and every state is reachable from StartAt', () => {
    const targets = (s: AslState) =>
      [
        s.Next,
        s.Default,
        ...(s.Choices ?? []).map((c) => c.Next as string),
        ...(s.Catch ?? []).map((c) => c.Next),
      ].filter((t): t is string => typeof t === 'string');
    const seen = new Set<string>();
    const queue = [definition.StartAt];
    while (queue.length) {
      const name = queue.shift()!;
      if (seen.has(name)) continue;
      seen.add(name);
      for (const t of targets(state(name))) queue.push(t);
    }
    expect([...seen].sort()).toEqual(Object.keys(states).sort());
  });

  it('bounds the whole execution', () => {
    expect(definition.TimeoutSeconds).toBe(2 * 3600);
  });

  it('starts with reachability; unreachable nodes go to analyze with no command', () => {
    expect(definition.StartAt).toBe('Reachability');
    expect(invoked('Reachability')).toBe(logicalIdOf('reachability'));
    expect(choiceTarget('Reachable?', '$.reach.reachable', true)).toBe('SendDiagnose');
    expect(state('Reachable?').Default).toBe('Unreachable');
    expect(state('Unreachable').Result).toEqual({ commandId: null, waitSeconds: 0 });
    expect(state('Unreachable').Next).toBe('Analyze');
  });

  it('sends the diagnosis, then waits and polls SSM itself, with no Lambda, until done', () => {
    expect(payload('SendDiagnose')).toEqual({ 'incidentId.$': '$.incidentId', purpose: 'diagnose' });
    expect(state('SendDiagnose').Next).toBe('DiagnoseSent?');
    expect(state('DiagnoseFirstWait').Parameters).toEqual({
      attempt: 0,
      'waitSeconds.$': '$.cmd.waitSeconds',
    });
    expect(state('DiagnoseFirstWait').Next).toBe('DiagnoseWait');
    expect(state('DiagnoseWait').SecondsPath).toBe('$.poll.waitSeconds');
    expect(state('DiagnoseWait').Next).toBe('DiagnosePoll');
    const poll = state('DiagnosePoll');
    expect(poll.Resource).toBe('arn:aws:states:::aws-sdk:ssm:getCommandInvocation');
    expect(poll.Parameters).toEqual({
      'CommandId.$': '$.cmd.commandId',
      'InstanceId.$': '$.reach.instanceId',
    });
    expect(poll.ResultPath).toBe('$.poll.invocation');
    expect(poll.Next).toBe('DiagnoseDone?');
    expect(poll.Retry?.flatMap((r) => r.ErrorEquals)).toEqual([
      'Ssm.ThrottlingException',
      'Ssm.InternalServerErrorException',
      'Ssm.SsmException',
    ]);
    // SSM's eventual consistency right after a send counts as "still running".
    expect(poll.Catch?.map((c) => [c.ErrorEquals, c.Next])).toEqual([
      [['Ssm.InvocationDoesNotExistException'], 'DiagnoseNextPoll'],
      [['States.ALL'], 'EscalateDiagnosisFailed'],
    ]);
    expect(state('DiagnoseDone?').Choices?.[0]?.Next).toBe('DiagnoseNextPoll');
    expect(state('DiagnoseDone?').Default).toBe('Analyze');
    expect(state('DiagnoseNextPoll').Next).toBe('DiagnoseGiveUp?');
    expect(state('DiagnoseGiveUp?').Choices).toEqual([
      { Variable: '$.poll.attempt', NumericGreaterThanEquals: 44, Next: 'DiagnoseGiveUp' },
    ]);
    expect(state('DiagnoseGiveUp?').Default).toBe('DiagnoseWait');
    expect(invoked('DiagnoseGiveUp')).toBe(logicalIdOf('poll'));
    expect(payload('DiagnoseGiveUp')).toEqual({
      'incidentId.$': '$.incidentId',
      'commandId.$': '$.cmd.commandId',
      'attempt.$': '$.poll.attempt',
    });
    expect(state('DiagnoseGiveUp').Next).toBe('Analyze');
  });

  it('invokes no Lambda while a command runs: every loop state is a Wait, a Pass, a Choice or the SSM call', () => {
    for (const name of ['Diagnose', 'Recheck', 'Fix', 'Verify', 'Rollback']) {
      const loop = ['FirstWait', 'Wait', 'Poll', 'Done?', 'NextPoll', 'GiveUp?'].map((s) =>
        state(`${name}${s}`),
      );
      expect(loop.map((s) => s.Resource ?? s.Type)).toEqual([
        'Pass',
        'Wait',
        'arn:aws:states:::aws-sdk:ssm:getCommandInvocation',
        'Choice',
        'Pass',
        'Choice',
      ]);
    }
  });

  it('skips the poll loop when a send ran no command (EC2 reboot / ASG replace)', () => {
    for (const name of ['Diagnose', 'Recheck', 'Fix', 'Verify', 'Rollback']) {
      const sent = state(`${name}Sent?`);
      expect(sent.Choices?.[0]).toMatchObject({ Variable: '$.cmd.commandId', IsNull: true });
      expect(sent.Default).toBe(`${name}FirstWait`);
    }
  });

  it('waits for an approval with a task token, timing out after the policy minutes into an escalation', () => {
    const wait = state('AwaitApproval');
    expect(wait.Resource).toBe('arn:aws:states:::lambda:invoke.waitForTaskToken');
    expect(invoked('AwaitApproval')).toBe(logicalIdOf('await-approval'));
    expect(payload('AwaitApproval')).toEqual({
      'incidentId.$': '$.incidentId',
      'taskToken.$': '$$.Task.Token',
    });
    expect(wait.TimeoutSeconds).toBe(DEFAULT_SAFETY_POLICY.approvalTimeoutMinutes * 60);
    const catches = Object.fromEntries((wait.Catch ?? []).map((c) => [c.ErrorEquals.join(','), c.Next]));
    expect(catches['States.Timeout']).toBe('EscalateApprovalTimeout');
    expect(catches.Denied).toBe('Denied');
    expect(catches.Recovered).toBe('RecoveredWhileWaiting');
    expect(wait.Catch?.at(-1)?.ErrorEquals).toEqual(['States.ALL']);
    expect(payload('EscalateApprovalTimeout')).toEqual({
      'incidentId.$': '$.incidentId',
      reason: 'approval-timeout',
    });
    expect(state('Denied').Type).toBe('Succeed');
  });

  it('asks for approval only when analyze says so', () => {
    expect(choiceTarget('AwaitApproval?', '$.analysis.awaitApproval', true)).toBe('AwaitApproval');
    expect(state('FindingsPosted').Type).toBe('Succeed');
  });

  it('reruns the diagnosis on rerun, and rechecks the cause on approve', () => {
    expect(choiceTarget('Decision?', '$.decision.decision', 'rerun')).toBe('SendDiagnose');
    const approve = state('Decision?').Choices?.find((c) => c.And);
    expect(approve?.Next).toBe('SendRecheck');
    expect(payload('SendRecheck')).toEqual({
      'incidentId.$': '$.incidentId',
      purpose: 'recheck',
      'remediation.$': '$.decision.remediation',
    });
    expect(state('Decision?').Default).toBe('EscalateDiagnosisFailed');
  });

  it('skips the fix when the recheck finds the cause gone', () => {
    expect(choiceTarget('CauseStillHolds?', '$.eval.ok', true)).toBe('SendFix');
    expect(state('CauseStillHolds?').Default).toBe('OutcomeSkipped');
    expect(payload('OutcomeSkipped')).toEqual({
      'incidentId.$': '$.incidentId',
      kind: 'skipped',
      'remediation.$': '$.decision.remediation',
    });
  });

  it('runs the fix, then verifies; a failed fix escalates', () => {
    expect(payload('SendFix')).toMatchObject({ purpose: 'fix' });
    expect(payload('EvaluateFix')).toEqual({
      'incidentId.$': '$.incidentId',
      purpose: 'fix',
      'commandId.$': '$.cmd.commandId',
      'remediation.$': '$.decision.remediation',
    });
    expect(choiceTarget('FixSucceeded?', '$.eval.ok', true)).toBe('SendVerify');
    expect(state('FixSucceeded?').Default).toBe('EscalateFixFailed');
    expect(payload('EscalateFixFailed')).toMatchObject({ reason: 'fix-failed' });
  });

  it('reports recovery, or rolls back when it can and escalates not-recovered', () => {
    expect(choiceTarget('Recovered?', '$.eval.ok', true)).toBe('ReadyFirstCheck');
    expect(payload('OutcomeRecovered')).toMatchObject({ kind: 'recovered' });
    expect(choiceTarget('Recovered?', '$.eval.rollback', true)).toBe('SendRollback');
    expect(state('Recovered?').Default).toBe('EscalateNotRecovered');
    expect(payload('SendRollback')).toMatchObject({ purpose: 'rollback' });
    expect(state('EvaluateRollback').Next).toBe('EscalateNotRecovered');
    expect(payload('EscalateNotRecovered')).toMatchObject({ reason: 'not-recovered' });
  });

  it("waits, bounded by the step, for the node's readiness after the verification passed", () => {
    expect(state('ReadyFirstCheck')).toMatchObject({
      Type: 'Pass',
      ResultPath: '$.ready',
      Parameters: { attempt: 0, done: false },
      Next: 'ReadyCheck',
    });
    // The evaluate function runs the check (purpose ready): no new Lambda.
    expect(invoked('ReadyCheck')).toBe(invoked('EvaluateVerify'));
    expect(payload('ReadyCheck')).toMatchObject({
      purpose: 'ready',
      'remediation.$': '$.decision.remediation',
      'attempt.$': '$.ready.attempt',
    });
    expect(state('ReadyCheck').Catch?.map((c) => [c.ErrorEquals, c.Next])).toEqual([
      [['States.ALL'], 'EscalateNotRecovered'],
    ]);
    expect(state('ReadyCheck').Next).toBe('Ready?');
    const ready = state('Ready?');
    expect(ready.Choices?.map((c) => c.Next)).toEqual(['OutcomeRecovered', 'EscalateNotRecovered']);
    expect(ready.Default).toBe('ReadyWait');
    expect(state('ReadyWait')).toMatchObject({
      Type: 'Wait',
      SecondsPath: '$.ready.waitSeconds',
      Next: 'ReadyCheck',
    });
  });

  it('escalates a failure of the diagnosis phase instead of dying silently', () => {
    for (const name of ['Reachability', 'SendDiagnose', 'DiagnoseGiveUp', 'Analyze']) {
      expect(
        state(name).Catch?.map((c) => [c.ErrorEquals, c.Next]),
        name,
      ).toEqual([[['States.ALL'], 'EscalateDiagnosisFailed']]);
    }
    expect(payload('EscalateDiagnosisFailed')).toMatchObject({ reason: 'diagnosis-failed' });
  });

  it('retries every Lambda step on Lambda faults and on RetryableError, with backoff', () => {
    const tasks = Object.entries(states).filter(
      ([, s]) => s.Type === 'Task' && String(s.Resource).includes(':lambda:invoke'),
    );
    expect(tasks.length).toBeGreaterThan(15);
    for (const [name, s] of tasks) {
      const errors = (s.Retry ?? []).flatMap((r) => r.ErrorEquals);
      expect(errors, name).toEqual(
        expect.arrayContaining([
          'RetryableError',
          'Lambda.ServiceException',
          'Lambda.TooManyRequestsException',
        ]),
      );
      for (const r of s.Retry ?? []) expect(r.BackoffRate, name).toBeGreaterThan(1);
    }
  });

  it("lets the state machine's role read command invocations (no narrower resource exists), and nothing else of SSM", () => {
    const role = stack.getLogicalId(nodemedic.stateMachine.role.node.defaultChild as never);
    const statements = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === role))
      .flatMap(
        (p) => p.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[],
      );
    const ssm = statements.filter((st) => [st.Action].flat().some((a) => a.startsWith('ssm:')));
    expect(ssm).toEqual([expect.objectContaining({ Action: 'ssm:GetCommandInvocation', Resource: '*' })]);
  });

  it('logs every transition to a log group, without the payloads (task tokens), and traces with X-Ray', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: { Level: 'ALL', IncludeExecutionData: false },
    });
  });
});
