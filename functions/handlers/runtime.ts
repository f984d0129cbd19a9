/**
 * The Lambda composition root's shared pieces: configuration from the environment (read once,
 * validated, with errors that name the variable), the structured logger, lazily built clients,
 * and the wrapper that turns a step use case into a Step Functions task handler.
 *
 * Each handler file composes only the adapters its step uses; the ports it does not use are
 * `unavailable(...)`, which fail loudly if a step ever reaches for them. That keeps each esbuild
 * bundle to the SDK clients its function really needs, and mirrors the function's IAM policy.
 */

import { Logger } from '@aws-lambda-powertools/logger';
import { PowertoolsMetrics } from '../adapters/aws/powertools-metrics.js';
import { WORKFLOW_ERRORS } from '../app/contract.js';
import type { AppDeps } from '../app/deps.js';
import { DependencyError, InvalidInputError, NodemedicError } from '../core/errors.js';
import { DEFAULT_SAFETY_POLICY, type SafetyPolicy, validateSafetyPolicy } from '../core/policy.js';

/** One logger per function; Powertools adds the request id and cold-start flag. */
export const logger = new Logger({ serviceName: 'nodemedic' });

/** One metrics buffer per function (EMF, namespace `nodemedic`), written once per invocation. */
export const metrics = new PowertoolsMetrics((error) =>
  logger.warn('metrics not written', { error: String(error) }),
);

/** Write the invocation's metrics to stdout as EMF; every handler calls it in a `finally`. */
export function flushMetrics(): void {
  metrics.flush();
}

/** A required environment variable, or a configuration error that names it. */
export function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new NodemedicError('CONFIG_MISSING', `environment variable ${name} is not set`);
  return value;
}

/** Parse a JSON environment variable, naming it when it is not valid JSON. */
export function jsonEnv<T>(name: string, fallback: T): T {
  const raw = process.env[name];
  if (!raw) return fallback;
  try {
    return JSON.parse(raw) as T;
  } catch (error) {
    throw new NodemedicError('CONFIG_INVALID', `environment variable ${name} is not valid JSON`, {
      cause: error,
    });
  }
}

/** The safety policy from SAFETY_POLICY (partial JSON over the defaults). */
export function safetyPolicy(): SafetyPolicy {
  const partial = jsonEnv<Partial<SafetyPolicy>>('SAFETY_POLICY', {});
  return Object.keys(partial).length ? validateSafetyPolicy(partial) : DEFAULT_SAFETY_POLICY;
}

/** A port this function does not use: any call is a wiring bug, reported as such. */
export function unavailable<T extends object>(port: string): T {
  return new Proxy({} as T, {
    get(_target, property) {
      if (property === 'then') return undefined; // not a thenable
      return () => {
        throw new NodemedicError(
          'PORT_UNAVAILABLE',
          `${port}.${String(property)} is not wired into this function`,
        );
      };
    },
  });
}

/**
 * Errors Step Functions should retry carry this name (the state machine's Retry matches it).
 * Everything else fails the task with the modelled error's code as its name.
 */
export class RetryableError extends Error {
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

/**
 * A Step Functions task handler around one step use case: validate the payload's incident id,
 * build the deps once per container, run the step, log, and map errors.
 */
export function stepHandler<I extends { incidentId: string }, O>(
  name: string,
  buildDeps: () => Promise<AppDeps>,
  step: (deps: AppDeps, input: I) => Promise<O>,
): (event: unknown) => Promise<O> {
  let deps: Promise<AppDeps> | null = null;
  return async (event: unknown) => {
    if (
      typeof event !== 'object' ||
      event === null ||
      typeof (event as { incidentId?: unknown }).incidentId !== 'string'
    ) {
      throw toTaskError(new InvalidInputError(`${name}: payload must be an object with a string incidentId`));
    }
    deps ??= buildDeps().catch((error: unknown) => {
      deps = null; // a failed cold start (e.g. secret not readable) is retried on the next call
      throw error;
    });
    const input = event as I;
    logger.appendKeys({ incidentId: input.incidentId, step: name });
    try {
      const output = await step(await deps, input);
      logger.info(`${name} done`, { output: output as Record<string, unknown> });
      return output;
    } catch (error) {
      logger.error(`${name} failed`, { error: error as Error });
      throw toTaskError(error);
    } finally {
      flushMetrics();
    }
  };
}
