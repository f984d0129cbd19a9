/**
 * What every AWS adapter does with a failed SDK call: read the exception's name, and turn it into
 * a DependencyError that names the call, retryable when the service only asked us to slow down.
 * Each adapter keeps its own list of retryable names and its own code prefix; only the mapping is
 * shared.
 */
import { DependencyError, NodemedicError } from '../../core/errors.js';

/** The SDK exception's name (`ThrottlingException`, …), or `Error` when it carries none. */
export function errorName(error: unknown): string {
  const name = (error as { name?: unknown } | null)?.name;
  return typeof name === 'string' ? name : 'Error';
}

/**
 * Map a failed call `what` to `<prefix>_THROTTLED` (retryable) when the exception's name is in
 * `retryable`, else `<prefix>_FAILED`. nodemedic's own modelled errors pass through unchanged.
 */
export function toDependencyError(
  error: unknown,
  what: string,
  prefix: string,
  retryable: ReadonlySet<string>,
): NodemedicError {
  if (error instanceof NodemedicError) return error;
  const name = errorName(error);
  if (retryable.has(name)) {
    return new DependencyError(`${prefix}_THROTTLED`, `${what}: throttled or busy (${name}); retry later`, {
      cause: error,
      retryable: true,
    });
  }
  return new DependencyError(`${prefix}_FAILED`, `${what} failed (${name})`, { cause: error });
}
