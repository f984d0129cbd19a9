/**
 * The Lambda composition root's shared pieces: the structured logger, the stand-in for ports a
 * function does not use, and the wrapper that turns a step use case into a Step Functions task
 * handler. Configuration is parsed by `wire` (wiring/compose.ts) at each handler's module scope.
 *
 * Each handler composes only the ports its manifest (manifest/<handler>.ts) lists; the ports it
 * does not use are `unavailable(...)`, which fail loudly if a step ever reaches for them. That
 * keeps each esbuild bundle to the SDK clients its function really needs, and the construct grants
 * the function what the same manifest lists.
 */

import { Logger } from '@aws-lambda-powertools/logger';
import { PowertoolsMetrics } from '../adapters/aws/powertools-metrics.js';
import type { AppDeps } from '../app/deps.js';
import { toTaskError } from '../app/task-errors.js';
import { InvalidInputError, NodemedicError } from '../core/errors.js';

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
 * A Step Functions task handler around one step use case: validate the payload's incident id,
 * take the deps (`wire` builds them once per container), run the step, log, and map errors.
 */
export function stepHandler<I extends { incidentId: string }, O>(
  name: string,
  buildDeps: () => Promise<AppDeps>,
  step: (deps: AppDeps, input: I) => Promise<O>,
): (event: unknown) => Promise<O> {
  return async (event: unknown) => {
    if (
      typeof event !== 'object' ||
      event === null ||
      typeof (event as { incidentId?: unknown }).incidentId !== 'string'
    ) {
      throw toTaskError(new InvalidInputError(`${name}: payload must be an object with a string incidentId`));
    }
    const input = event as I;
    logger.appendKeys({ incidentId: input.incidentId, step: name });
    try {
      const output = await step(await buildDeps(), input);
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
