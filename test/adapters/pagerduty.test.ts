/**
 * The PagerDuty Events API v2 adapter against the local stand-in of its endpoint, over real HTTP:
 * the documented event shape (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/),
 * the incident id as dedup key so trigger and resolve meet, retries on 429/5xx, no retry on 400,
 * and a routing key that never appears in an error.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PagerDutyEvents } from '../../functions/adapters/http/pagerduty.js';
import { DependencyError } from '../../functions/core/errors.js';
import type { Incident } from '../../functions/core/incident.js';
import { resolveEvent, triggerEvent } from '../../functions/core/pager.js';
import { PagerStandIn } from '../../functions/local/pager-standin.js';

const KEY = 'R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY12';
const incident = {
  id: 'prod#i-0abc123def4567890#2026-11-29T03:00:00.000Z',
  node: {
    instanceId: 'i-0abc123def4567890',
    nodeName: 'ip-10-0-1-23.ec2.internal',
    cluster: 'prod',
    autoScalingGroup: null,
  },
  alarmName: 'nodemedic-node-not-ready-prod',
  phase: 'escalated',
  findings: [{ cause: 'fd-exhaustion' }],
  offered: ['raise-nofile'],
} as unknown as Incident;

let standIn: PagerStandIn;
beforeEach(async () => {
  standIn = await PagerStandIn.start();
});
afterEach(() => standIn.close());

const pager = (attempts = 3) =>
  new PagerDutyEvents({ routingKey: KEY, baseUrl: standIn.baseUrl, attempts, sleep: async () => {} });

describe('PagerDutyEvents', () => {
  it('triggers with the incident as dedup key, then resolves the same alert', async () => {
    await pager().send(triggerEvent(incident, 'approval-timeout'));
    expect(standIn.open()).toEqual([incident.id]);
    const [trigger] = standIn.events;
    expect(trigger).toMatchObject({
      routing_key: KEY,
      event_action: 'trigger',
      dedup_key: incident.id,
      payload: {
        summary: 'nodemedic: ip-10-0-1-23.ec2.internal (prod) NotReady: nobody approved a fix in time',
        source: 'i-0abc123def4567890',
        severity: 'error',
        class: 'approval-timeout',
        custom_details: { causes: ['fd-exhaustion'], offered: ['raise-nofile'] },
      },
    });
    await pager().send(resolveEvent(incident));
    expect(standIn.open()).toEqual([]);
    expect(standIn.events.map((e) => e.event_action)).toEqual(['trigger', 'resolve']);
  });

  it('retries a 429 and a 500, and keeps the page', async () => {
    standIn.failNext(429, 500);
    await pager().send(triggerEvent(incident, 'not-recovered'));
    expect(standIn.events).toHaveLength(1);
  });

  it('gives up after its attempts with a retryable error that does not carry the routing key', async () => {
    standIn.failNext(503, 503);
    const error = await pager(2)
      .send(triggerEvent(incident, 'fix-failed'))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DependencyError);
    expect((error as DependencyError).retryable).toBe(true);
    expect(String((error as Error).message)).not.toContain(KEY);
    expect(standIn.events).toHaveLength(0);
  });

  it('does not retry an event PagerDuty refuses (400)', async () => {
    const error = await pager()
      .send({ event_action: 'resolve', dedup_key: '' })
      .catch((e: unknown) => e);
    expect((error as DependencyError).code).toBe('PAGER_REJECTED');
    expect((error as DependencyError).retryable).toBe(false);
  });

  it('refuses a routing key that is not an integration key, without echoing it', () => {
    expect(() => new PagerDutyEvents({ routingKey: 'not a key!' })).toThrow(
      /not a 32-character integration key/,
    );
  });
});
