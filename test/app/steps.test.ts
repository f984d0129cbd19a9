/**
 * The step guarantees Step Functions relies on when it retries a step or when the world changes
 * under a running execution: a fix is sent at most once per approval, an ended incident never
 * comes back to life, and an incident with nothing to approve frees the node for its next alarm.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_POLL_ATTEMPTS, pollWait } from '../../functions/app/contract.js';
import { handleAlarm } from '../../functions/app/incidents.js';
import {
  analyzeStep,
  awaitApprovalStep,
  escalateStep,
  evaluateStep,
  sendStep,
} from '../../functions/app/steps.js';
import { parseAlarmEvent } from '../../functions/core/alarm.js';
import { CHANNEL, fixOk, type Harness, openQuietly, recorded, startHarness } from './support.js';

let h: Harness | null = null;
afterEach(async () => {
  await h?.close();
  h = null;
});

/** Put the incident where an approval of `remediation` leaves it. */
async function approved(harness: Harness, id: string, remediation: 'raise-nofile' | 'restart-containerd') {
  await harness.store.update(id, (current) => ({
    ...current,
    phase: 'fixing',
    offered: [remediation],
    audit: [
      ...current.audit,
      { at: new Date().toISOString(), action: 'approved', actor: 'U0ALICE', detail: remediation },
    ],
  }));
}

describe('sending a fix', () => {
  it('sends it once per approval however often the step is retried', async () => {
    h = await startHarness({});
    h.runner.queue('raise-nofile', fixOk('raise-nofile'));
    const id = await openQuietly(h);
    await approved(h, id, 'raise-nofile');
    const first = await sendStep(h.deps, { incidentId: id, purpose: 'fix', remediation: 'raise-nofile' });
    const retried = await sendStep(h.deps, { incidentId: id, purpose: 'fix', remediation: 'raise-nofile' });
    expect(retried.commandId).toBe(first.commandId);
    expect(h.runner.scripts()).toEqual(['raise-nofile']);
    expect((await h.store.get(id))!.attempts).toBe(1);
  });

  it('sends again after a send that failed before SSM took it, without spending another attempt', async () => {
    h = await startHarness({});
    const id = await openQuietly(h);
    await approved(h, id, 'restart-containerd');
    // Nothing queued: the runner refuses the send, as a throttled SendCommand would.
    await expect(
      sendStep(h.deps, { incidentId: id, purpose: 'fix', remediation: 'restart-containerd' }),
    ).rejects.toThrow();
    h.runner.queue('restart-containerd', fixOk('restart-containerd'));
    const sent = await sendStep(h.deps, {
      incidentId: id,
      purpose: 'fix',
      remediation: 'restart-containerd',
    });
    expect(sent.commandId).not.toBeNull();
    expect(h.runner.scripts()).toEqual(['restart-containerd', 'restart-containerd']);
    expect((await h.store.get(id))!.attempts).toBe(1);
  });

  it('never sends when the outcome of an earlier send is unknown', async () => {
    h = await startHarness({});
    const id = await openQuietly(h);
    await approved(h, id, 'restart-containerd');
    await h.store.update(id, (current) => ({
      ...current,
      commands: [
        {
          key: 'fix#1',
          commandId: null,
          script: 'restart-containerd',
          at: new Date().toISOString(),
          state: 'sending',
        },
      ],
    }));
    h.runner.queue('restart-containerd', fixOk('restart-containerd'));
    await expect(
      sendStep(h.deps, { incidentId: id, purpose: 'fix', remediation: 'restart-containerd' }),
    ).rejects.toMatchObject({
      code: 'ALREADY_SENT',
    });
    expect(h.runner.sent).toHaveLength(0);
  });
});

describe('an incident that ended under a running execution', () => {
  it('posts late findings without buttons, ends the approval wait, and lets the next alarm open a new incident', async () => {
    h = await startHarness({});
    h.runner.queue('diagnose', { stdout: recorded('daemon-stopped') });
    const id = await openQuietly(h);
    const sent = await sendStep(h.deps, { incidentId: id, purpose: 'diagnose' });
    // The alarm goes back to OK while the diagnosis runs.
    expect(await handleAlarm(h.deps, parseAlarmEvent(h.alarmEvent('OK')))).toEqual({
      kind: 'recovered',
      incidentId: id,
    });

    const analysis = await analyzeStep(h.deps, { incidentId: id, commandId: sent.commandId });
    expect(analysis.awaitApproval).toBe(false);
    const incident = (await h.store.get(id))!;
    expect(incident.phase).toBe('recovered');
    expect(JSON.stringify(h.standIn.message(CHANNEL, incident.findingsMessage!.ts)!.blocks)).not.toContain(
      'nm_fix:',
    );
    await expect(awaitApprovalStep(h.deps, { incidentId: id, taskToken: 't' })).rejects.toMatchObject({
      code: 'Recovered',
    });
    await expect(
      sendStep(h.deps, { incidentId: id, purpose: 'fix', remediation: 'restart-containerd' }),
    ).rejects.toMatchObject({
      code: 'Recovered',
    });
    await escalateStep(h.deps, { incidentId: id, reason: 'approval-timeout' });
    expect((await h.store.get(id))!.phase).toBe('recovered');

    const next = await openQuietly(h);
    expect(next).not.toBe(id);
  });

  it('closes an incident with nothing to approve, so the node is free for its next alarm', async () => {
    h = await startHarness({});
    h.runner.queue('diagnose', { stdout: recorded('config-invalid') });
    const id = await openQuietly(h);
    const sent = await sendStep(h.deps, { incidentId: id, purpose: 'diagnose' });
    const analysis = await analyzeStep(h.deps, { incidentId: id, commandId: sent.commandId });
    expect(analysis).toMatchObject({ awaitApproval: false, offered: [] });
    const incident = (await h.store.get(id))!;
    expect(incident.phase).toBe('closed');
    expect(incident.findings.map((f) => f.cause)).toContain('config-invalid');
    expect(
      h.standIn.message(CHANNEL, incident.card!.ts)!.text +
        JSON.stringify(h.standIn.message(CHANNEL, incident.card!.ts)!.blocks),
    ).toMatch(/needs a person/);
    expect(await openQuietly(h)).not.toBe(id);
  });
});

describe('verification', () => {
  it.each([
    ['OK', /the alarm nodemedic-node-not-ready-prod is back to OK/],
    ['ALARM', /is still ALARM: CloudWatch re-evaluates it every period/],
  ] as const)(
    'checks the alarm that opened the incident (%s) once containerd answers again',
    async (state, says) => {
      h = await startHarness({});
      const deps = { ...h.deps, alarms: { state: async () => state } };
      h.runner.queue('diagnose', { stdout: recorded('healthy') });
      const id = await openQuietly(h);
      await approved(h, id, 'restart-containerd');
      const sent = await sendStep(deps, {
        incidentId: id,
        purpose: 'verify',
        remediation: 'restart-containerd',
      });
      const verdict = await evaluateStep(deps, {
        incidentId: id,
        purpose: 'verify',
        commandId: sent.commandId,
        remediation: 'restart-containerd',
      });
      expect(verdict.ok).toBe(true);
      expect((await h.store.get(id))!.audit.find((a) => a.action === 'verify-ok')?.detail).toMatch(says);
    },
  );
});

describe('the poll schedule', () => {
  it('reads a 5 s diagnosis within about 8 s of the send, and gives up after about 10 minutes', () => {
    // When each poll happens, in seconds after the send: the send's wait, then each poll's.
    const at: number[] = [];
    let t = 0;
    for (let attempt = 0; attempt < MAX_POLL_ATTEMPTS; attempt++) {
      t += pollWait(attempt);
      at.push(t);
    }
    const firstAfter = (seconds: number) => at.find((s) => s >= seconds)!;
    // A 5 s diagnosis plus SSM's delivery to the agent (about 1.5 s) has its output at 6.5 s: the
    // doubling backoff this replaced (2, 6, 14 s) read it only at 14 s.
    expect(firstAfter(6.5)).toBeLessThanOrEqual(8);
    expect(firstAfter(1)).toBeLessThanOrEqual(3);
    expect(at.at(-1)).toBeGreaterThanOrEqual(540);
    expect(at.at(-1)).toBeLessThanOrEqual(660);
    // Never polls faster than every 2 s (GetCommandInvocation is throttled per account).
    expect(Math.min(...at.map((s, i) => s - (at[i - 1] ?? 0)))).toBeGreaterThanOrEqual(2);
  });
});
