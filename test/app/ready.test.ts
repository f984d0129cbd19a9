/**
 * Per-node verification (issue 10 point 5): after a fix's verification passes, the workflow waits,
 * bounded by the remediation's `readyWithinSeconds`, for the node's own readiness to return to OK
 * (the contributor leaves the alarm, the per-node alarm is OK, or Container Insights says Ready).
 * The node that comes back is recovered; the one that stays NotReady is escalated again with what
 * was waited for; when nothing can tell, the thread says the check was not made.
 *
 * The flows run the synthesized definition in process (the local mode's runner), over the real
 * steps, the real Bolt app and the Slack stand-in.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { AppDeps } from '../../functions/app/deps.js';
import { readyStep } from '../../functions/app/steps.js';
import { CATALOG } from '../../functions/core/catalog.js';
import { DependencyError } from '../../functions/core/errors.js';
import type { RemediationId } from '../../functions/core/model.js';
import type { AlarmContributorState, ChatMessage, NodeReadiness } from '../../functions/core/ports.js';
import { defineRemediation } from '../../functions/core/remediations/remediation.js';
import { ACTION_IDS } from '../../functions/core/render/slack.js';
import { ALICE, CHANNEL, type Harness, openQuietly, startHarness, until } from './support.js';

let h: Harness | null = null;
afterEach(async () => {
  await h?.close();
  h = null;
});

/** Every message of the channel, fallback text and blocks. */
function said(harness: Harness): string {
  return harness.standIn
    .messages(CHANNEL)
    .map((m) => `${m.text}\n${JSON.stringify(m.blocks ?? [])}`)
    .join('\n');
}

/** Open the incident through the real alarm handler, approve raise-nofile, and run to the end. */
async function fixFdExhaustion(harness: Harness): Promise<{ id: string; ending: string }> {
  harness.runner.fixLoop('fd-exhaustion', 'raise-nofile', 'LimitNOFILE raised from 19 to 1048576');
  const id = await openQuietly(harness);
  await harness.workflow.start(id, { incidentId: id });
  await until(async () => (await harness.store.get(id))?.taskToken, 'the approval wait');
  expect((await harness.click(id, ALICE, `${ACTION_IDS.fix}:raise-nofile`)).statusCode).toBe(200);
  return { id, ending: await harness.workflow.finished(id) };
}

describe('the readiness wait after a verified fix', () => {
  it('calls a node recovered once its alarm is back to OK, saying how long it took', async () => {
    // The verification reads ALARM (CloudWatch lags), then two checks of the wait, then OK.
    h = await startHarness({ alarmStates: ['ALARM', 'ALARM', 'ALARM', 'OK'] });
    const { id, ending } = await fixFdExhaustion(h);
    expect(ending).toBe('recovered');
    const incident = (await h.store.get(id))!;
    expect(incident.phase).toBe('recovered');
    const actions = incident.audit.map((a) => a.action);
    expect(actions.slice(actions.indexOf('verify-ok'))).toEqual(
      expect.arrayContaining(['verify-ok', 'ready-ok', 'recovered']),
    );
    expect(actions.indexOf('ready-ok')).toBeLessThan(actions.indexOf('recovered'));
    expect(incident.audit.find((a) => a.action === 'ready-ok')!.detail).toBe(
      'the node is Ready after 60 s: the alarm nodemedic-node-not-ready-prod is back to OK',
    );
    expect(said(h)).toContain('*readiness* of `raise-nofile`: ok');
  });

  it('escalates a node that stays NotReady past the bound, saying what it waited for', async () => {
    h = await startHarness({ alarmStates: ['ALARM'] });
    const { id, ending } = await fixFdExhaustion(h);
    expect(ending).toBe('escalated');
    const incident = (await h.store.get(id))!;
    expect(incident.phase).toBe('escalated');
    expect(incident.audit.map((a) => a.action)).toEqual(
      expect.arrayContaining(['verify-ok', 'ready-failed', 'escalated']),
    );
    expect(incident.audit.find((a) => a.action === 'escalated')!.detail).toBe('not-recovered');
    // raise-nofile leaves the bound to the default: 600 s.
    const waited =
      'waited 600 s for the node to be Ready again: the alarm nodemedic-node-not-ready-prod is ALARM';
    expect(incident.audit.find((a) => a.action === 'ready-failed')!.detail).toBe(waited);
    const thread = said(h);
    expect(thread).toContain('*readiness* of `raise-nofile`: failed');
    expect(thread).toContain(waited);
    expect(thread).toContain('The fix ran but the node did not recover.');
    expect(thread).not.toContain('was applied and verification passed');
  });

  it('says so in the thread when nothing can tell the node is Ready, and goes on as before', async () => {
    h = await startHarness({});
    const { id, ending } = await fixFdExhaustion(h);
    expect(ending).toBe('recovered');
    const unchecked = (await h.store.get(id))!.audit.find((a) => a.action === 'ready-unchecked');
    expect(unchecked?.detail).toContain(
      "the alarm nodemedic-node-not-ready-prod: nodemedic has no access to the alarms' states here",
    );
    expect(unchecked?.detail).toContain(
      'Container Insights (node_status_condition_ready): not available here',
    );
    expect(said(h)).toContain("The node's readiness was not checked");
  });
});

describe('the readiness check', () => {
  const input = (incidentId: string, attempt = 0) =>
    ({ incidentId, purpose: 'ready', remediation: 'restart-containerd', attempt }) as const;

  it("reads the contributor that opened the incident: ready once it leaves the alarm's contributors in ALARM", async () => {
    h = await startHarness({ alarmStates: ['ALARM'] });
    const id = await openQuietly(h);
    await h.store.update(id, (current) => ({ ...current, contributorId: 'c0ffee00c0ffee00' }));
    let listed: AlarmContributorState[] = [
      { id: 'c0ffee00c0ffee00', attributes: { InstanceId: 'i-0abc' }, reason: 'breaching', since: null },
    ];
    const deps = { ...h.deps, contributors: { inAlarm: async () => listed } };
    // Still in ALARM (the alarm's own state is not what says so: a contributor's incident reads
    // its contributor): look again in 30 s.
    expect(await readyStep(deps, input(id))).toEqual({ done: false, ok: false, attempt: 1, waitSeconds: 30 });
    listed = [];
    expect(await readyStep(deps, input(id, 1))).toMatchObject({ done: true, ok: true, attempt: 2 });
    expect((await h.store.get(id))!.audit.at(-1)).toMatchObject({
      action: 'ready-ok',
      detail:
        'the node is Ready after 30 s: contributor c0ffee00c0ffee00 of the alarm nodemedic-node-not-ready-prod is no longer in ALARM',
    });
  });

  it("falls back to Container Insights' per-node readiness when the alarm cannot be read", async () => {
    h = await startHarness({});
    const id = await openQuietly(h);
    const readiness: NodeReadiness = { notReady: async () => [], nodeState: async () => 'ready' };
    const deps = {
      ...h.deps,
      alarms: {
        state: async () => {
          throw new Error('AccessDenied: cloudwatch:DescribeAlarms');
        },
      },
      readiness,
    };
    expect(await readyStep(deps, input(id))).toMatchObject({ done: true, ok: true });
    expect((await h.store.get(id))!.audit.at(-1)!.detail).toBe(
      "the node is Ready: the node's readiness in Container Insights (node_status_condition_ready) says Ready",
    );
  });

  it("takes the node's own Ready datapoint over an alarm still in ALARM (lagging, or a cluster's alarm)", async () => {
    h = await startHarness({ alarmStates: ['ALARM'] });
    const id = await openQuietly(h);
    let state: 'ready' | 'not-ready' = 'not-ready';
    const deps = { ...h.deps, readiness: { notReady: async () => [], nodeState: async () => state } };
    // Both say NotReady: what the alarm says is what is reported.
    expect(await readyStep(deps, input(id, 20))).toMatchObject({ done: true, ok: false });
    expect((await h.store.get(id))!.audit.at(-1)!.detail).toBe(
      'waited 600 s for the node to be Ready again: the alarm nodemedic-node-not-ready-prod is ALARM',
    );
    state = 'ready';
    expect(await readyStep(deps, input(id, 3))).toMatchObject({ done: true, ok: true });
    expect((await h.store.get(id))!.audit.at(-1)!.detail).toBe(
      "the node is Ready after 90 s: the node's readiness in Container Insights (node_status_condition_ready) says Ready",
    );
  });

  it("never reads a cluster's alarm as the node's state: a node found by a sweep is judged by its own readiness", async () => {
    // Other nodes hold the cluster's alarm in ALARM: with no datapoint of its own, the fixed node
    // is not checked (said), never escalated on the cluster's state.
    h = await startHarness({ alarmStates: ['ALARM'] });
    const id = await openQuietly(h);
    await h.store.update(id, (current) => ({ ...current, clusterAlarm: true }));
    let state: 'ready' | 'not-ready' | 'unknown' = 'unknown';
    const deps = { ...h.deps, readiness: { notReady: async () => [], nodeState: async () => state } };
    expect(await readyStep(deps, input(id, 20))).toMatchObject({ done: true, ok: true });
    let last = (await h.store.get(id))!.audit.at(-1)!;
    expect(last.action).toBe('ready-unchecked');
    expect(last.detail).not.toContain('nodemedic-node-not-ready-prod');
    // The cluster's alarm went OK (below its threshold) while this node is still NotReady.
    const okDeps = { ...deps, alarms: { state: async () => 'OK' as const } };
    state = 'not-ready';
    expect(await readyStep(okDeps, input(id, 20))).toMatchObject({ done: true, ok: false });
    last = (await h.store.get(id))!.audit.at(-1)!;
    expect(last.action).toBe('ready-failed');
    expect(last.detail).toContain('says NotReady');
  });

  it('does not escalate on a readiness nobody could read by the bound: the thread says it was not checked', async () => {
    h = await startHarness({ alarmStates: ['INSUFFICIENT_DATA'] });
    const id = await openQuietly(h);
    // 600 s is the default bound: the check at 600 s is the last one.
    expect(await readyStep(h.deps, input(id, 19))).toMatchObject({ done: false, waitSeconds: 30 });
    expect(await readyStep(h.deps, input(id, 20))).toMatchObject({ done: true, ok: true });
    const last = (await h.store.get(id))!.audit.at(-1)!;
    expect(last.action).toBe('ready-unchecked');
    expect(last.detail).toContain('the alarm nodemedic-node-not-ready-prod is INSUFFICIENT_DATA');
    expect(said(h)).toContain("The node's readiness was not checked (tried for 600 s)");
  });

  it('waits for nothing after a replacement: the old node is gone', async () => {
    h = await startHarness({ alarmStates: ['ALARM'] });
    const id = await openQuietly(h);
    expect(await readyStep(h.deps, { ...input(id), remediation: 'replace-node' })).toMatchObject({
      done: true,
      ok: true,
    });
    expect((await h.store.get(id))!.audit.at(-1)).toMatchObject({ action: 'ready-skipped' });
  });

  it("bounds the wait by the remediation's readyWithinSeconds, from its catalog entry", async () => {
    const quick = defineRemediation({
      ...CATALOG.remediations.find((r) => r.id === 'restart-containerd')!,
      verifyBy: { kind: 'diagnose', readyWithinSeconds: 45 },
    });
    h = await startHarness({
      alarmStates: ['ALARM'],
      catalog: { ...CATALOG, remediations: CATALOG.remediations.map((r) => (r.id === quick.id ? quick : r)) },
    });
    const id = await openQuietly(h);
    expect(await readyStep(h.deps, input(id, 1))).toMatchObject({ done: false, waitSeconds: 15 });
    expect(await readyStep(h.deps, input(id, 2))).toMatchObject({ done: true, ok: false });
    expect((await h.store.get(id))!.audit.at(-1)!.detail).toMatch(/^waited 45 s /);
  });

  it('refuses a remediation its catalog does not have', async () => {
    h = await startHarness({});
    const id = await openQuietly(h);
    await expect(
      readyStep(h.deps, { ...input(id), remediation: 'format-disk' as RemediationId }),
    ).rejects.toThrow(/unknown remediation id "format-disk"/);
  });
});

/** What the Slack adapter throws for a 503 once its own retries are spent. */
const slackDown = () =>
  new DependencyError('SLACK_API_ERROR', 'Slack chat.postMessage failed: service_unavailable', {
    retryable: true,
  });

/** The readiness wait's own message (not the other progress of the thread). */
const isReadiness = (message: ChatMessage) => message.text.startsWith('readiness of ');

describe('a Slack failure during the readiness wait', () => {
  const input = (incidentId: string, attempt = 0) =>
    ({ incidentId, purpose: 'ready', remediation: 'restart-containerd', attempt }) as const;

  /** The harness's deps with every post and update failing, and the warnings kept. */
  function slackFailing(harness: Harness): { deps: AppDeps; warned: string[] } {
    const warned: string[] = [];
    const chat = {
      ...harness.deps.chat,
      post: async () => Promise.reject(slackDown()),
      update: async () => Promise.reject(slackDown()),
    };
    const logger = { ...harness.deps.logger, warn: (message: string) => void warned.push(message) };
    return { deps: { ...harness.deps, chat, logger }, warned };
  }

  it('calls a node whose alarm is back to OK recovered, logging the post that failed', async () => {
    h = await startHarness({ alarmStates: ['OK'] });
    const id = await openQuietly(h);
    const { deps, warned } = slackFailing(h);
    expect(await readyStep(deps, input(id, 2))).toEqual({ done: true, ok: true, attempt: 3, waitSeconds: 0 });
    expect(warned).toEqual(['could not say the readiness in the thread: the verdict stands']);
    // The record keeps the verdict and says the thread was not told: its timeline tells it.
    expect((await h.store.get(id))!.audit.at(-1)).toMatchObject({
      action: 'ready-ok',
      detail:
        'the node is Ready after 60 s: the alarm nodemedic-node-not-ready-prod is back to OK (not said in the thread then: SLACK_API_ERROR: Slack chat.postMessage failed: service_unavailable)',
    });
  });

  it('calls a node still NotReady at the bound not recovered for its readiness, not for Slack', async () => {
    h = await startHarness({ alarmStates: ['ALARM'] });
    const id = await openQuietly(h);
    const { deps, warned } = slackFailing(h);
    // Before the bound, nothing is said, so nothing can fail: look again.
    expect(await readyStep(deps, input(id, 1))).toEqual({
      done: false,
      ok: false,
      attempt: 2,
      waitSeconds: 30,
    });
    expect(warned).toEqual([]);
    expect(await readyStep(deps, input(id, 20))).toEqual({
      done: true,
      ok: false,
      attempt: 21,
      waitSeconds: 0,
    });
    expect(warned).toEqual(['could not say the readiness in the thread: the verdict stands']);
    const last = (await h.store.get(id))!.audit.at(-1)!;
    expect(last.action).toBe('ready-failed');
    expect(last.detail).toMatch(
      /^waited 600 s for the node to be Ready again: the alarm nodemedic-node-not-ready-prod is ALARM \(not said in the thread then: SLACK_API_ERROR: /,
    );
  });

  it('keeps the unchecked verdict (ok, as before the check existed) when Slack cannot say it', async () => {
    h = await startHarness({ alarmStates: ['INSUFFICIENT_DATA'] });
    const id = await openQuietly(h);
    const { deps } = slackFailing(h);
    expect(await readyStep(deps, input(id, 20))).toMatchObject({ done: true, ok: true });
    expect((await h.store.get(id))!.audit.at(-1)!.action).toBe('ready-unchecked');
  });

  it('ends a recovered node recovered through the workflow, its thread told by the outcome and the timeline', async () => {
    // The real definition's Retry and Catch: before, the step's retries ran out on the failing
    // post and its catch escalated the node as not-recovered.
    h = await startHarness({ alarmStates: ['ALARM', 'ALARM', 'ALARM', 'OK'] });
    const post = h.deps.chat.post.bind(h.deps.chat);
    vi.spyOn(h.deps.chat, 'post').mockImplementation(async (channel, message, threadTs) => {
      if (isReadiness(message)) throw slackDown();
      return post(channel, message, threadTs);
    });
    const { id, ending } = await fixFdExhaustion(h);
    expect(ending).toBe('recovered');
    const incident = (await h.store.get(id))!;
    expect(incident.phase).toBe('recovered');
    expect(incident.audit.map((a) => a.action)).not.toContain('escalated');
    const thread = said(h);
    expect(thread).not.toContain('*readiness* of `raise-nofile`');
    expect(thread).toContain('was applied and verification passed');
    expect(thread).toContain(`Timeline of ${id}`);
    expect(thread).toContain('the node is Ready after 60 s');
  });
});
