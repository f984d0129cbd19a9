/**
 * EventBridge target for "Step Functions Execution Status Change" (FAILED, TIMED_OUT, ABORTED) of
 * nodemedic's own state machine: the execution ended before its incident did, so the incident is
 * escalated, its thread told, and its node freed. An event nodemedic cannot use is logged with its
 * reason and acknowledged, not retried; dependency failures are thrown, so EventBridge's retry
 * policy and the dead-letter queue keep the event.
 */
import { handleExecutionEnded } from '../app/steps.js';
import { InvalidInputError } from '../core/errors.js';
import { parseExecutionEnded } from '../core/execution.js';
import { wiring } from './manifest/execution-ended.js';
import { flushMetrics, logger } from './runtime.js';
import { makeChat } from './wiring/chat.js';
import { wire } from './wiring/compose.js';
import { makePager } from './wiring/pager.js';
import { makeStore } from './wiring/store.js';

// Its manifest's configuration, parsed at cold start: a bad value fails the init with the variable
// named. STATE_MACHINE_ARN only tells this function's own executions from others'.
const { env, deps: buildDeps } = wire(wiring, { store: makeStore, chat: makeChat, pager: makePager });

export async function handler(event: unknown) {
  try {
    const ended = parseExecutionEnded(event);
    // The rule matches this state machine only; an event of another one is refused all the same.
    if (ended.stateMachineArn !== env.STATE_MACHINE_ARN) {
      throw new InvalidInputError(
        `execution status change: ${ended.stateMachineArn} is not nodemedic's state machine`,
        { code: 'EXECUTION_EVENT_INVALID' },
      );
    }
    logger.appendKeys({ incidentId: ended.incidentId, executionArn: ended.executionArn });
    const deps = await buildDeps();
    const outcome = await handleExecutionEnded(deps, ended);
    logger.info('execution end handled', { outcome, status: ended.status });
    return outcome;
  } catch (error) {
    if (error instanceof InvalidInputError) {
      logger.warn('execution end not handled', { code: error.code, reason: error.message });
      return { kind: 'ignored', reason: error.message, code: error.code };
    }
    logger.error('execution end failed', { error: error as Error });
    throw error;
  } finally {
    flushMetrics();
  }
}
