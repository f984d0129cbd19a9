/**
 * Slack failing at every post and update of an incident, one at a time (issue 11): the real alarm
 * use case, the deployed workflow definition run locally (Retry and Catch as Step Functions would),
 * the real Bolt app for the approval, and the Slack stand-in answering the k-th chat.postMessage or
 * chat.update of the incident with a 429 or a 503. Whatever call fails, the incident ends in a
 * terminal state that its channel shows, the fix runs at most once, and neither the node's lock nor
 * a fix slot is left behind.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { handleAlarm } from '../../functions/app/incidents.js';
import { dedupeKey, parseAlarmEvent } from '../../functions/core/alarm.js';
import { isTerminal } from '../../functions/core/incident.js';
import { ACTION_IDS } from '../../functions/core/render/slack.js';
import { ALICE, CHANNEL, type Harness, NODE, startHarness, until } from './support.js';

const WRITES = ['chat.postMessage', 'chat.update'] as const;

let h: Harness | null = null;
afterEach(async () => {
  await h?.close();
  h = null;
});

/** One incident from alarm to its end, with the on-call engineer pressing Approve while it waits. */
async function incident(fail?: { n: number; error: string; status: number }) {
  h = await startHarness({});
  h.runner.fixLoop('fd-exhaustion', 'raise-nofile', 'LimitNOFILE raised from 19 to 20000');
  if (fail) h.standIn.failCall(fail.n, WRITES, fail.error, fail.status);
  const harness = h;
  const outcome = await handleAlarm(h.deps, parseAlarmEvent(h.alarmEvent('ALARM')));
  const id = (outcome as { incidentId: string }).incidentId;
  // Press Approve while the incident waits for one, again if a failed Slack call lost the press.
  const ended = await until(
    async () => {
      const current = await harness.store.get(id);
      if (current && isTerminal(current)) return current;
      if (current?.phase === 'awaiting-approval' && current.findingsMessage) {
        await harness.click(id, ALICE, `${ACTION_IDS.fix}:raise-nofile`).catch(() => {});
      }
      return null;
    },
    'the incident to end',
    30_000,
  );
  await harness.workflow.finished(id);
  return {
    h: harness,
    id,
    ended,
    writes:
      harness.standIn.requestsOf('chat.postMessage').length +
      harness.standIn.requestsOf('chat.update').length,
  };
}

describe('Slack failing at each post and update of an incident', async () => {
  const clean = await incident();
  const calls = clean.writes;
  await clean.h.close();
  h = null;

  it('needs a dozen or more Slack writes when nothing fails (the sweep below covers each)', () => {
    expect(clean.ended.phase).toBe('recovered');
    expect(calls).toBeGreaterThanOrEqual(10);
  });

  const cases = Array.from({ length: calls }, (_, i) => i + 1).flatMap((n) => [
    { n, error: 'ratelimited', status: 429 },
    { n, error: 'service_unavailable', status: 503 },
  ]);
  it.each(cases)('write #$n answered $status: ends terminal, shown, one fix, nothing left', async (fail) => {
    const run = await incident(fail);
    expect(isTerminal(run.ended)).toBe(true);
    const shown = run.h.standIn
      .messages(CHANNEL)
      .map((m) => `${m.text}`)
      .join('\n');
    expect(shown).toMatch(run.ended.phase === 'recovered' ? /Recovered/ : /Escalated|escalated/);
    // An escalation reaches a person: the on-call group is mentioned in the thread.
    if (run.ended.phase === 'escalated') expect(shown).toContain('<!subteam^S0ONCALL>');
    // Every ended incident's thread closes with its timeline.
    expect(shown).toContain(`Timeline of ${run.id}`);
    const fixes = run.h.runner.sent.filter((c) => c.script === 'raise-nofile' && !c.parameters.mode);
    expect(fixes.length).toBeLessThanOrEqual(1);
    expect(await run.h.store.findOpenByNode(dedupeKey(NODE.cluster, NODE.instanceId))).toBeNull();
    expect(await run.h.store.countInFlight(NODE.cluster)).toBe(0);
  });
});
