/**
 * What a workflow step's failure looks like to the state machine: its Retry rules match
 * `RetryableError`, its Catch rules match the modelled error's code. The Lambda handlers
 * (functions/handlers/runtime.ts) and the local runner (functions/local/workflow.ts) map errors
 * through this one function, so the definition sees the same names in both.
 */
import { DependencyError, NodemedicError } from '../core/errors.js';
import { WORKFLOW_ERRORS } from './contract.js';

/**
 * Errors Step Functions should retry carry this name (the state machine's Retry matches it).
 * Everything else fails the task with the modelled error's code as its name.
 */
class RetryableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = WORKFLOW_ERRORS.retryable;
  }
}

/** Map a thrown error to what Step Functions sees: RetryableError or the error code as name. */
export function toTaskError(error: unknown): Error {
  if (error instanceof DependencyError && error.retryable)
    return new RetryableError(error.message, { cause: error });
  if (error instanceof NodemedicError) {
    const mapped = new Error(error.message, { cause: error });
    mapped.name = error.code;
    return mapped;
  }
  return error instanceof Error ? error : new Error(String(error));
}
