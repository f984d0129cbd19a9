/**
 * The findings message keeps what it said when its buttons go: the report's notes and the fixes
 * for a person stay through every later update of it (an approval, a deny, the approval wait
 * running out, the alarm back to OK), through the interpreted definition and the real Bolt app.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { handleAlarm } from '../../functions/app/incidents.js';
import { parseAlarmEvent } from '../../functions/core/alarm.js';
import type { Incident } from '../../functions/core/incident.js';
import { ALICE, CHANNEL, fixOk, type Harness, recorded, startHarness, until } from './support.js';

let h: Harness | null = null;
afterEach(async () => {
  await h?.close();
  h = null;
});

type Block = Record<string, unknown>;

/** The text of each block, in order (what a reader sees; Slack's own fields left out). */
const texts = (blocks: readonly Block[]) => blocks.map((b) => JSON.stringify(b.text ?? b.elements));

function findingsBlocks(harness: Harness, incident: Incident): readonly Block[] {
  return harness.standIn.message(CHANNEL, incident.findingsMessage!.ts)?.blocks ?? [];
}

/** An incident of a stopped containerd (whose report has notes) waiting for approval, its findings up. */
async function diagnosed(harness: Harness): Promise<Incident> {
  harness.runner.queue(
    'diagnose',
    { stdout: recorded('daemon-stopped') },
    { stdout: recorded('daemon-stopped') },
    { stdout: recorded('healthy') },
  );
  harness.runner.queue('restart-containerd', fixOk('restart-containerd'));
  const out = await handleAlarm(harness.deps, parseAlarmEvent(harness.alarmEvent('ALARM')));
  const id = (out as { incidentId: string }).incidentId;
  return until(async () => {
    const incident = await harness.store.get(id);
    return incident?.phase === 'awaiting-approval' && incident.findingsMessage ? incident : null;
  }, 'the findings with their buttons');
}

describe('the findings message once its buttons are gone', () => {
  it.each([
    ['an approval', {}, (x: Harness, i: Incident) => x.click(i.id, ALICE, 'nm_fix:restart-containerd')],
    ['a deny', {}, (x: Harness, i: Incident) => x.click(i.id, ALICE, 'nm_deny')],
    ['the approval wait running out', { approvalTimeoutMs: 400 }, async () => {}],
    ['the alarm back to OK', {}, (x: Harness) => handleAlarm(x.deps, parseAlarmEvent(x.alarmEvent('OK')))],
  ] as const)('keeps its notes and every other section after %s', async (_what, options, act) => {
    h = await startHarness(options);
    const incident = await diagnosed(h);
    const before = findingsBlocks(h, incident).filter((b) => b.type !== 'actions');
    expect(JSON.stringify(before)).toContain('*Notes*');
    await act(h, incident);
    const after = await until(async () => {
      const blocks = findingsBlocks(h!, incident);
      return JSON.stringify(blocks).includes('nm_fix:') ? null : blocks;
    }, 'the buttons to go');
    // Everything it said, then the decision or expiry in place of the buttons.
    expect(texts(after.slice(0, -1))).toEqual(texts(before));
    expect(after.at(-1)!.type).toBe('section');
  });
});
