/**
 * The on-call pager (PagerDuty Events API v2), when PAGER_SECRET_ID names its routing key's secret.
 * The key is read at the first page, not at cold start: most invocations never page.
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { loadSecretKeys } from '../../adapters/aws/secrets.js';
import { PagerDutyEvents } from '../../adapters/http/pagerduty.js';
import type { Pager } from '../../core/pager.js';
import type { PortEnv } from './env.js';

// Built once per container, in the init phase.
const secretsManager = new SecretsManagerClient({});

/** The pager, or undefined when the stack has none configured. */
export function makePager(env: PortEnv<'pager'>): Pager | undefined {
  const secretId = env.PAGER_SECRET_ID;
  if (!secretId) return undefined;
  let events: Promise<PagerDutyEvents> | null = null;
  return {
    send: async (event) => {
      events ??= loadSecretKeys(secretsManager, secretId, ['routingKey'] as const).then(
        ({ routingKey }) =>
          new PagerDutyEvents({
            routingKey,
            ...(env.PAGER_EVENTS_URL ? { baseUrl: env.PAGER_EVENTS_URL } : {}),
          }),
        (error: unknown) => {
          events = null; // read again at the next page
          throw error;
        },
      );
      await (await events).send(event);
    },
  };
}
