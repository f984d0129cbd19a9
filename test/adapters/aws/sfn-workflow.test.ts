import {
  ExecutionAlreadyExists,
  InvalidToken,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
  TaskDoesNotExist,
  TaskTimedOut,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  EXECUTION_NAME_MAX,
  executionName,
  StepFunctionsWorkflow,
  TaskTokenError,
} from '../../../functions/adapters/aws/sfn-workflow.js';

const sfn = mockClient(SFNClient);
const ARN = 'arn:aws:states:eu-west-1:123456789012:stateMachine:nodemedic-incident';
const ID = 'prod#i-0abc123def4567890#2026-11-27T03:14:07.125Z';
const workflow = () =>
  new StepFunctionsWorkflow({ client: new SFNClient({ region: 'eu-west-1' }), stateMachineArn: ARN });

beforeEach(() => sfn.reset());

describe('executionName', () => {
  it('keeps the id readable, within the allowed characters and 80 characters', () => {
    const name = executionName(ID);
    expect(name).toMatch(/^prod-i-0abc123def4567890-2026-11-27T03-14-07-125Z-[0-9a-f]{10}$/);
    const long = executionName(`${'cluster-with-a-very-long-name'.repeat(5)}#i-0abc123def4567890#x`);
    expect(long.length).toBeLessThanOrEqual(EXECUTION_NAME_MAX);
    expect(long).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  it('is stable for one id and differs for ids that sanitize alike', () => {
    expect(executionName(ID)).toBe(executionName(ID));
    expect(executionName('a#b')).not.toBe(executionName('a:b'));
  });
});

describe('StepFunctionsWorkflow.start', () => {
  it('starts the execution named after the incident with the input as JSON', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: `${ARN}:x`, startDate: new Date() });
    await expect(workflow().start(ID, { incidentId: ID })).resolves.toEqual({ executionId: `${ARN}:x` });
    expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, {
      stateMachineArn: ARN,
      name: executionName(ID),
      input: JSON.stringify({ incidentId: ID }),
    });
  });

  it('treats ExecutionAlreadyExists (a redelivered alarm) as already started', async () => {
    sfn.on(StartExecutionCommand).rejects(new ExecutionAlreadyExists({ message: 'exists', $metadata: {} }));
    await expect(workflow().start(ID, { incidentId: ID })).resolves.toEqual({
      executionId: `arn:aws:states:eu-west-1:123456789012:execution:nodemedic-incident:${executionName(ID)}`,
    });
  });

  it('maps throttling to a retryable error and others to WORKFLOW_FAILED', async () => {
    sfn
      .on(StartExecutionCommand)
      .rejectsOnce(Object.assign(new Error('slow'), { name: 'ThrottlingException' }))
      .rejectsOnce(Object.assign(new Error('no'), { name: 'StateMachineDoesNotExist' }));
    await expect(workflow().start(ID, {})).rejects.toMatchObject({
      code: 'WORKFLOW_THROTTLED',
      retryable: true,
    });
    await expect(workflow().start(ID, {})).rejects.toMatchObject({
      code: 'WORKFLOW_FAILED',
      retryable: false,
    });
  });

  it('refuses a state machine ARN that is not one', () => {
    expect(
      () => new StepFunctionsWorkflow({ client: new SFNClient({}), stateMachineArn: 'nodemedic' }),
    ).toThrow(/not a state machine ARN/);
  });
});

describe('StepFunctionsWorkflow.resume and fail', () => {
  it('sends task success with the output as JSON, and task failure with error and cause', async () => {
    sfn.on(SendTaskSuccessCommand).resolves({});
    sfn.on(SendTaskFailureCommand).resolves({});
    await workflow().resume('token-1', {
      decision: 'approve',
      remediation: 'restart-containerd',
      by: ['U1'],
    });
    await workflow().fail('token-2', 'Denied', 'denied by U2');
    expect(sfn).toHaveReceivedCommandWith(SendTaskSuccessCommand, {
      taskToken: 'token-1',
      output: '{"decision":"approve","remediation":"restart-containerd","by":["U1"]}',
    });
    expect(sfn).toHaveReceivedCommandWith(SendTaskFailureCommand, {
      taskToken: 'token-2',
      error: 'Denied',
      cause: 'denied by U2',
    });
  });

  const stale = [
    {
      error: new TaskTimedOut({ message: '', $metadata: {} }),
      code: 'TASK_TIMED_OUT',
      says: /approval window has closed/,
    },
    {
      error: new TaskDoesNotExist({ message: '', $metadata: {} }),
      code: 'TASK_DOES_NOT_EXIST',
      says: /moved on or ended/,
    },
    {
      error: new InvalidToken({ message: '', $metadata: {} }),
      code: 'TASK_TOKEN_INVALID',
      says: /not valid/,
    },
  ];
  it.each(stale)('turns $code into a TaskTokenError the listener can show', async ({ error, code, says }) => {
    sfn.on(SendTaskSuccessCommand).rejects(error);
    sfn.on(SendTaskFailureCommand).rejects(error);
    for (const act of [() => workflow().resume('t', {}), () => workflow().fail('t', 'E', 'C')]) {
      const thrown = await act().catch((e: unknown) => e);
      expect(thrown).toBeInstanceOf(TaskTokenError);
      expect(thrown).toMatchObject({ code, message: expect.stringMatching(says), cause: error });
    }
  });

  it('refuses an empty token before calling Step Functions', async () => {
    await expect(workflow().resume('', {})).rejects.toMatchObject({ code: 'TASK_TOKEN_INVALID' });
    expect(sfn).not.toHaveReceivedCommand(SendTaskSuccessCommand);
  });
});
