/**
 * `Workflow` over Step Functions: one execution per incident, named after the incident so a
 * redelivered alarm cannot start a second one, and the approval wait resumed or failed through
 * its task token.
 */
import { createHash } from 'node:crypto';
import {
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  type SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { DependencyError, InvalidInputError, NodemedicError, TaskTokenError } from '../../core/errors.js';
import type { Workflow } from '../../core/incident.js';
import { errorName, toDependencyError } from './sdk-errors.js';

/** Options of {@link StepFunctionsWorkflow}. */
export interface StepFunctionsWorkflowOptions {
  readonly client: SFNClient;
  /**
   * The incident state machine (`arn:aws:states:REGION:ACCOUNT:stateMachine:NAME`). Absent for a
   * function that only answers task tokens (a step the state machine itself invokes, which cannot
   * be given its ARN without a cycle): `start` then refuses with a wiring error.
   */
  readonly stateMachineArn?: string;
}

/**
 * A task token that can no longer be answered: the wait timed out, the execution ended, or the
 * token is not one Step Functions issued. The Slack listener shows `message` to the clicker.
 */
export { TaskTokenError };

/** Step Functions' execution-name limit. */
export const EXECUTION_NAME_MAX = 80;

const STATE_MACHINE_ARN = /^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:[A-Za-z0-9_-]{1,80}$/;
const RETRYABLE = new Set([
  'ThrottlingException',
  'ServiceUnavailable',
  'InternalServerError',
  'InternalFailure',
]);
const TOKEN_ERRORS: Readonly<Record<string, { code: string; message: string }>> = {
  TaskTimedOut: {
    code: 'TASK_TIMED_OUT',
    message: 'this request is no longer waiting for an answer: its approval window has closed',
  },
  TaskDoesNotExist: {
    code: 'TASK_DOES_NOT_EXIST',
    message: 'this request is no longer waiting for an answer: its workflow has already moved on or ended',
  },
  InvalidToken: { code: 'TASK_TOKEN_INVALID', message: 'the workflow token of this request is not valid' },
};

/**
 * The execution name for an incident: its id with every character Step Functions refuses turned
 * into `-`, plus a short hash of the raw id so two ids that sanitize alike never share a name.
 */
export function executionName(incidentId: string): string {
  if (!incidentId) throw new InvalidInputError('incident id is empty');
  const hash = createHash('sha256').update(incidentId).digest('hex').slice(0, 10);
  const readable = incidentId.replace(/[^A-Za-z0-9_-]+/g, '-').slice(0, EXECUTION_NAME_MAX - hash.length - 1);
  return `${readable}-${hash}`;
}

/** One Step Functions execution per incident. */
export class StepFunctionsWorkflow implements Workflow {
  private readonly client: SFNClient;
  private readonly stateMachineArn: string | null;

  constructor(options: StepFunctionsWorkflowOptions) {
    if (options.stateMachineArn !== undefined && !STATE_MACHINE_ARN.test(options.stateMachineArn)) {
      throw new InvalidInputError(`not a state machine ARN: ${JSON.stringify(options.stateMachineArn)}`);
    }
    this.client = options.client;
    this.stateMachineArn = options.stateMachineArn ?? null;
  }

  /**
   * Start the incident's execution. Starting it again is not an error: Step Functions answers a
   * repeat with the same input by returning the running execution, and anything else under the
   * same name (ExecutionAlreadyExists) is that same incident's execution, so its ARN is returned.
   */
  async start(incidentId: string, input: Record<string, unknown>): Promise<{ executionId: string }> {
    const name = executionName(incidentId);
    if (this.stateMachineArn === null) {
      throw new NodemedicError(
        'WORKFLOW_UNWIRED',
        `this function answers task tokens only and cannot start an execution (${name})`,
      );
    }
    try {
      const out = await this.client.send(
        new StartExecutionCommand({
          stateMachineArn: this.stateMachineArn,
          name,
          input: JSON.stringify(input),
        }),
      );
      if (!out.executionArn)
        throw new DependencyError('WORKFLOW_FAILED', 'StartExecution returned no execution ARN');
      return { executionId: out.executionArn };
    } catch (error) {
      if (errorName(error) === 'ExecutionAlreadyExists') {
        return { executionId: `${this.stateMachineArn!.replace(':stateMachine:', ':execution:')}:${name}` };
      }
      throw toError(error, `StartExecution ${name}`);
    }
  }

  async resume(taskToken: string, output: Record<string, unknown>): Promise<void> {
    checkToken(taskToken);
    try {
      await this.client.send(new SendTaskSuccessCommand({ taskToken, output: JSON.stringify(output) }));
    } catch (error) {
      throw toError(error, 'SendTaskSuccess');
    }
  }

  async fail(taskToken: string, error: string, cause: string): Promise<void> {
    checkToken(taskToken);
    try {
      // Step Functions caps `error` at 256 and `cause` at 32,768 characters.
      await this.client.send(
        new SendTaskFailureCommand({ taskToken, error: error.slice(0, 256), cause: cause.slice(0, 32_768) }),
      );
    } catch (e) {
      throw toError(e, 'SendTaskFailure');
    }
  }
}

function checkToken(taskToken: string): void {
  // Step Functions task tokens are at most 1024 characters.
  if (!taskToken || taskToken.length > 1024) {
    throw new TaskTokenError(
      'TASK_TOKEN_INVALID',
      'the workflow token is empty or longer than 1024 characters',
    );
  }
}

function toError(error: unknown, what: string): Error {
  if (error instanceof NodemedicError) return error;
  const name = errorName(error);
  const token = TOKEN_ERRORS[name];
  if (token) return new TaskTokenError(token.code, token.message, { cause: error });
  return toDependencyError(error, `Step Functions ${what}`, 'WORKFLOW', RETRYABLE);
}
