/**
 * The global error handler: anything a listener did not turn into a reply is logged with its
 * modelled code, and the request still gets its 200 (the listener acked first), so Slack does not
 * retry into the same failure.
 */
import type { App } from '@slack/bolt';
import type { AppDeps } from '../../app/deps.js';
import { NodemedicError } from '../../core/errors.js';

/** Register the global error handler. */
export function register(app: App, deps: Pick<AppDeps, 'logger'>): void {
  app.error(async (error) => {
    const cause = (error as { original?: unknown }).original ?? error;
    deps.logger.error('Slack listener failed', {
      code:
        cause instanceof NodemedicError ? cause.code : ((cause as { code?: string }).code ?? 'UNEXPECTED'),
      error: cause instanceof Error ? cause.message : String(cause),
    });
  });
}
