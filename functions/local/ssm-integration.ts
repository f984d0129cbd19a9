/**
 * The state machine's direct SSM call (`arn:aws:states:::aws-sdk:ssm:getCommandInvocation`)
 * answered locally: from the command runner the local mode composes (the shell runner against the
 * sandbox, or a test's playback), in the shape of SSM's GetCommandInvocation response, and with
 * the error names Step Functions gives SDK errors (`Ssm.<Name>Exception`, `Ssm.SsmException` for
 * an error the SDK does not model), so the definition's Retry and Catch run here as in AWS.
 * https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetCommandInvocation.html
 * https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html
 */
import { DependencyError, NodemedicError } from '../core/errors.js';
import type { CommandInvocation, CommandRunner, NodeInventory } from '../core/ports.js';
import { SSM_COMMAND_STATUS } from '../core/ssm-status.js';
import type { SdkIntegration } from './asl.js';

/**
 * GetCommandInvocation's `Status` (the coarse word) for each `StatusDetails` word: the API's
 * Status is one of Pending | InProgress | Delayed | Success | Cancelled | TimedOut | Failed |
 * Cancelling; the delivery and execution time-outs are `TimedOut`, the undeliverable and terminated
 * invocations `Failed`.
 */
const COARSE: Readonly<Record<string, string>> = {
  Pending: 'Pending',
  InProgress: 'InProgress',
  Delayed: 'Delayed',
  Success: 'Success',
  Failed: 'Failed',
  TimedOut: 'TimedOut',
  ExecutionTimedOut: 'TimedOut',
  DeliveryTimedOut: 'TimedOut',
  Cancelled: 'Cancelled',
  Cancelling: 'Cancelling',
  Undeliverable: 'Failed',
  Terminated: 'Failed',
};

/** The StatusDetails word for a status whose runner gave no SSM word of its own. */
const DETAIL: Readonly<Record<CommandInvocation['status'], string>> = {
  pending: 'InProgress',
  success: 'Success',
  failed: 'Failed',
  'timed-out': 'ExecutionTimedOut',
  undeliverable: 'Undeliverable',
  cancelled: 'Cancelled',
};

/** An error as Step Functions names a failed SDK call. */
function sdkError(name: string, message: string): Error {
  const error = new Error(message);
  error.name = `Ssm.${name}`;
  return error;
}

/** The runner's invocation in GetCommandInvocation's response shape. */
function getCommandInvocationResponse(
  invocation: CommandInvocation,
  instanceId: string,
): Record<string, unknown> {
  // The runner's own word when it is SSM's and says the same; else the word for its status.
  const details =
    SSM_COMMAND_STATUS[invocation.detail] === invocation.status && Object.hasOwn(COARSE, invocation.detail)
      ? invocation.detail
      : DETAIL[invocation.status];
  return {
    CommandId: invocation.commandId,
    InstanceId: instanceId,
    Status: COARSE[details],
    StatusDetails: details,
    // SSM reports -1 until the script has exited.
    ResponseCode: invocation.exitCode ?? -1,
    StandardOutputContent: invocation.stdout,
    StandardErrorContent: invocation.stderr,
  };
}

/**
 * `ssm:getCommandInvocation` over a runner: the node comes from the inventory (the call names
 * only the instance). The runner's "no such command" is SSM's InvocationDoesNotExist, a retryable
 * dependency failure its ThrottlingException, an unknown instance InvalidInstanceId, and anything
 * else an error the SDK does not model.
 */
export function localGetCommandInvocation(
  deps: () => {
    readonly runner: CommandRunner;
    readonly inventory: NodeInventory;
  },
): SdkIntegration {
  return async (parameters) => {
    const { CommandId, InstanceId } = parameters;
    if (typeof CommandId !== 'string' || typeof InstanceId !== 'string') {
      throw sdkError('SsmException', 'GetCommandInvocation needs a string CommandId and InstanceId');
    }
    const { runner, inventory } = deps();
    let invocation: CommandInvocation;
    try {
      const node = await inventory.resolve({ instanceId: InstanceId });
      invocation = await runner.get(CommandId, node);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (error instanceof NodemedicError && error.code === 'NODE_NOT_FOUND')
        throw sdkError('InvalidInstanceIdException', message);
      if (error instanceof NodemedicError && error.code === 'COMMAND_NOT_FOUND')
        throw sdkError('InvocationDoesNotExistException', message);
      if (error instanceof DependencyError && error.retryable) throw sdkError('ThrottlingException', message);
      throw sdkError('SsmException', message);
    }
    return getCommandInvocationResponse(invocation, InstanceId);
  };
}
