/**
 * How incidents end (issue 12 parts 4 and 5), through the real workflow (the deployed definition,
 * run locally), the real Bolt app and the Slack stand-in: every ended incident's thread gets its
 * postmortem timeline, once; nobody approving in time pages the on-call engineer through the
 * PagerDuty Events API v2 adapter, over real HTTP to the local stand-in of its endpoint, and the
 * node's alarm returning to OK resolves that page.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { PagerDutyEvents } from '../../functions/adapters/http/pagerduty.js';
import { handleAlarm } from '../../functions/app/incidents.js';
import { parseAlarmEvent } from '../../functions/core/alarm.js';
import { ACTION_IDS } from '../../functions/core/render/slack.js';
import { PagerStandIn } from '../../functions/local/pager-standin.js';
import { ALICE, CHANNEL, type Harness, recorded, startHarness, until } from './support.js';

let h: Harness | null = null;
let pagerStandIn: PagerStandIn | null = null;
afterEach(async () => {
  await h?.close();
  await pagerStandIn?.close();
  h = null;
  pagerStandIn = null;
});

const ROUTING_KEY = 'R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY12';

async function withPager(options: Parameters<typeof startHarness>[0] = {}) {
  pagerStandIn = await PagerStandIn.start();
  const pager = new PagerDutyEvents({ routingKey: ROUTING_KEY, baseUrl: pagerStandIn.baseUrl });
  h = await startHarness({ ...options, pager });
  return { h, pagerStandIn };
}

async function open(harness: Harness): Promise<string> {
  const outcome = await handleAlarm(harness.deps, parseAlarmEvent(harness.alarmEvent('ALARM')));
  expect(outcome.kind).toBe('opened');
  return (outcome as { incidentId: string }).incidentId;
}

/** The thread's messages after the card, as text. */
function thread(harness: Harness): string[] {
  return harness.standIn.messages(CHANNEL).map((m) => `${m.text}\n${JSON.stringify(m.blocks ?? [])}`);
}

const timelines = (harness: Harness) => thread(harness).filter((t) => t.startsWith('Timeline of'));

describe('the end of an incident', () => {
  it('pages on an approval timeout, once, and resolves the page when the node’s alarm is OK again', async () => {
    const { h, pagerStandIn } = await withPager({ approvalTimeoutMs: 300 });
    h.runner.queue('diagnose', { stdout: recorded('socket-removed') });
    const id = await open(h);
    expect(await h.workflow.finished(id)).toBe('escalated');

    expect(pagerStandIn.events).toHaveLength(1);
    expect(pagerStandIn.events[0]).toMatchObject({
      routing_key: ROUTING_KEY,
      event_action: 'trigger',
      dedup_key: id,
      payload: { class: 'approval-timeout', source: 'i-0abc123def4567890', severity: 'error' },
    });
    expect(pagerStandIn.open()).toEqual([id]);
    const escalated = (await h.store.get(id))!;
    expect(escalated.audit.map((a) => a.action)).toContain('paged');

    // The escalation ended the incident: its thread closes with the timeline.
    expect(timelines(h)).toHaveLength(1);
    expect(timelines(h)[0]).toContain('Timeline: escalated');
    expect(timelines(h)[0]).toContain('Paged the on-call engineer');

    // The node is Ready again: its alarm's OK resolves the page and says so in that thread.
    const ok = await handleAlarm(h.deps, parseAlarmEvent(h.alarmEvent('OK')));
    expect(ok).toEqual({ kind: 'recovered', incidentId: id });
    expect(pagerStandIn.events.map((e) => e.event_action)).toEqual(['trigger', 'resolve']);
    expect(pagerStandIn.open()).toEqual([]);
    expect(thread(h).at(-1)).toContain('the page is resolved');
    // A second OK (a redelivery) resolves nothing more.
    await handleAlarm(h.deps, parseAlarmEvent(h.alarmEvent('OK')));
    expect(pagerStandIn.events).toHaveLength(2);
  });

  it('posts the timeline once when an approved fix recovers the node, and pages nobody', async () => {
    const { h, pagerStandIn } = await withPager();
    h.runner.fixLoop('fd-exhaustion', 'raise-nofile', 'LimitNOFILE raised from 19 to 1048576');
    const id = await open(h);
    const harness = h;
    await until(
      async () => (await harness.store.get(id))?.phase === 'awaiting-approval',
      'the approval wait',
    );
    await h.click(id, ALICE, `${ACTION_IDS.fix}:raise-nofile`);
    expect(await h.workflow.finished(id)).toBe('recovered');
    const [timeline, ...more] = timelines(h);
    expect(more).toEqual([]);
    expect(timeline).toContain('Timeline: recovered');
    expect(timeline).toContain(`<@${ALICE}>`);
    expect(timeline).toMatch(/to findings \d+s · waiting for a person \d+s · to recovery \d+s/);
    expect(pagerStandIn.events).toEqual([]);
  });

  it('closes an incident with nothing to approve with its timeline too', async () => {
    const { h } = await withPager();
    h.runner.queue('diagnose', { stdout: recorded('healthy') });
    const id = await open(h);
    expect(await h.workflow.finished(id)).toBe('findings');
    expect((await h.store.get(id))!.phase).toBe('closed');
    expect(timelines(h)).toHaveLength(1);
  });

  it('escalates in Slack even while the pager is down, says so, and pages once it is back', async () => {
    const { h, pagerStandIn } = await withPager({ approvalTimeoutMs: 300 });
    // Down for the escalate step's first two tries (three HTTP attempts each), then back.
    pagerStandIn.failNext(...Array.from({ length: 6 }, () => 503));
    h.runner.queue('diagnose', { stdout: recorded('socket-removed') });
    const id = await open(h);
    expect(await h.workflow.finished(id)).toBe('escalated');
    const incident = (await h.store.get(id))!;
    const actions = incident.audit.map((a) => a.action);
    // The thread heard of the escalation before the pager was tried, and once only.
    expect(actions.filter((a) => a === 'escalation-posted')).toHaveLength(1);
    expect(actions.indexOf('escalation-posted')).toBeLessThan(actions.indexOf('page-failed'));
    expect(actions.filter((a) => a === 'paged')).toHaveLength(1);
    const said = thread(h).join('\n');
    expect(said).toContain('<!subteam^S0ONCALL>');
    expect(said).toContain('The on-call pager did not take the page');
    expect(pagerStandIn.events.map((e) => e.event_action)).toEqual(['trigger']);
    expect(timelines(h)).toHaveLength(1);
  });
});

describe('endings Slack or the workflow interrupted', () => {
  it('tells the thread of an alarm OK whose first delivery met a Slack failure, when EventBridge redelivers it', async () => {
    h = await startHarness({});
    h.runner.queue('diagnose', { stdout: recorded('socket-removed') });
    const id = await open(h);
    const harness = h;
    await until(
      async () => (await harness.store.get(id))?.phase === 'awaiting-approval',
      'the approval wait',
    );
    // The approval step marks the card after it writes the phase: let that update pass first, or
    // the injected failure lands on it (which the step tolerates) instead of on the OK's update.
    await until(
      async () =>
        harness.standIn
          .requestsOf('chat.update')
          .some((r) => JSON.stringify(r).includes('Awaiting approval')),
      'the card marked as awaiting approval',
    );
    h.standIn.failNext('chat.update', 'service_unavailable', 1, 503);
    const ok = () => handleAlarm(harness.deps, parseAlarmEvent(harness.alarmEvent('OK')));
    await expect(ok()).rejects.toThrow();
    expect((await h.store.get(id))!.phase).toBe('recovered');
    // The redelivery finds the incident closed but its thread untold, and tells it.
    expect(await ok()).toEqual({ kind: 'recovered', incidentId: id });
    const said = thread(h).join('\n');
    expect(said).toContain('is back to OK');
    expect(timelines(h)).toHaveLength(1);
    // A third delivery has nothing left to say.
    const before = h.standIn.requestsOf('chat.postMessage').length;
    expect((await ok()).kind).toBe('ignored');
    expect(h.standIn.requestsOf('chat.postMessage')).toHaveLength(before);
  });

  it('escalates, mentions on-call and pages when an approval could not reach the workflow', async () => {
    const { h, pagerStandIn } = await withPager({ approvalTimeoutMs: 1_500 });
    h.runner.queue('diagnose', { stdout: recorded('daemon-stopped') });
    const id = await open(h);
    const harness = h;
    await until(
      async () => (await harness.store.get(id))?.phase === 'awaiting-approval',
      'the approval wait',
    );
    // Step Functions answers the resume with an error (its token expired, the service is down).
    const workflow = h.workflow as unknown as { resume: () => Promise<void> };
    workflow.resume = async () => {
      throw new Error('Step Functions SendTaskSuccess failed (ServiceUnavailable)');
    };
    await h.click(id, ALICE, `${ACTION_IDS.fix}:restart-containerd`);
    expect((await h.store.get(id))!.phase).toBe('escalated');
    // The execution's own escalation (the approval wait runs out) announces it in full.
    expect(await h.workflow.finished(id)).toBe('escalated');
    const said = thread(h).join('\n');
    expect(said).toContain('<!subteam^S0ONCALL>');
    expect(pagerStandIn.events.map((e) => e.event_action)).toEqual(['trigger']);
    expect(timelines(h)).toHaveLength(1);
    expect(h.runner.sent.filter((c) => c.script === 'restart-containerd')).toHaveLength(0);
  });
});
