/**
 * `Pager` over the PagerDuty Events API v2 (`POST /v2/enqueue`,
 * https://developer.pagerduty.com/docs/events-api-v2/overview/): 202 accepted; 400 a bad event
 * (not retried); 429 and 5xx retried with backoff, then a retryable DependencyError so the caller's
 * own retry (Step Functions) keeps the page. The routing key comes from Secrets Manager and is
 * never logged.
 */
import { DependencyError, InvalidInputError } from '../../core/errors.js';
import type { Pager, PagerEvent } from '../../core/pager.js';

/** Options of {@link PagerDutyEvents}. */
export interface PagerDutyEventsOptions {
  /** The Events API v2 integration key. */
  readonly routingKey: string;
  /** @default 'https://events.pagerduty.com' (a local stand-in in the rehearsal and tests) */
  readonly baseUrl?: string;
  /** Attempts per event on 429/5xx/network errors. @default 3 */
  readonly attempts?: number;
  /** Milliseconds per request. @default 5000 */
  readonly timeoutMs?: number;
  /** @default setTimeout-based */
  readonly sleep?: (ms: number) => Promise<void>;
}

export class PagerDutyEvents implements Pager {
  private readonly url: string;

  constructor(private readonly options: PagerDutyEventsOptions) {
    if (!/^[A-Za-z0-9]{20,64}$/.test(options.routingKey)) {
      throw new InvalidInputError('the PagerDuty routing key is not a 32-character integration key', {
        code: 'CONFIG_INVALID',
      });
    }
    this.url = `${(options.baseUrl ?? 'https://events.pagerduty.com').replace(/\/+$/, '')}/v2/enqueue`;
  }

  async send(event: Omit<PagerEvent, 'routing_key'>): Promise<void> {
    const body = JSON.stringify({ ...event, routing_key: this.options.routingKey });
    const attempts = this.options.attempts ?? 3;
    const sleep = this.options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    let last = '';
    for (let attempt = 1; attempt <= attempts; attempt++) {
      let status: number;
      try {
        const response = await fetch(this.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          signal: AbortSignal.timeout(this.options.timeoutMs ?? 5_000),
        });
        status = response.status;
        const text = await response.text();
        if (status === 202 || status === 200) return;
        last = `HTTP ${status}: ${text.slice(0, 200)}`;
        if (status === 400) {
          throw new DependencyError(
            'PAGER_REJECTED',
            `PagerDuty refused the ${event.event_action} event (${last})`,
            {
              retryable: false,
            },
          );
        }
      } catch (error) {
        if (error instanceof DependencyError) throw error;
        last = error instanceof Error ? error.message : String(error);
      }
      if (attempt < attempts) await sleep(500 * 2 ** (attempt - 1));
    }
    throw new DependencyError(
      'PAGER_FAILED',
      `PagerDuty did not take the ${event.event_action} event (${last})`,
      {
        retryable: true,
      },
    );
  }
}
