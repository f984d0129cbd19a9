/**
 * SSM Run Command's status words, read as nodemedic's {@link CommandStatus}: one table for the SSM
 * adapter (functions/adapters/aws/ssm-runner.ts) and for the state machine's poll loop
 * (infra/workflow.ts), whose Choice decides "still running?" from GetCommandInvocation's own
 * response without a Lambda. `StatusDetails` is read first: it is finer (a `TimedOut` status is
 * `DeliveryTimedOut` when the node never got the command, `ExecutionTimedOut` when it ran too long);
 * `Status` only when `StatusDetails` is missing or a word this table does not know.
 * https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetCommandInvocation.html
 */
import type { CommandStatus } from './ports.js';

export const SSM_COMMAND_STATUS: Readonly<Record<string, CommandStatus>> = {
  Pending: 'pending',
  InProgress: 'pending',
  Delayed: 'pending',
  Success: 'success',
  Failed: 'failed',
  TimedOut: 'timed-out',
  ExecutionTimedOut: 'timed-out',
  Cancelled: 'cancelled',
  Cancelling: 'cancelled',
  Undeliverable: 'undeliverable',
  DeliveryTimedOut: 'undeliverable',
  Terminated: 'undeliverable',
};

/**
 * Our status for a GetCommandInvocation answer, or undefined when neither word is known: the rule
 * above, in one place.
 */
export function ssmCommandStatus(
  status: string | undefined,
  details: string | undefined,
): CommandStatus | undefined {
  const known = (word: string | undefined) =>
    word && Object.hasOwn(SSM_COMMAND_STATUS, word) ? SSM_COMMAND_STATUS[word] : undefined;
  return known(details) ?? known(status);
}
