/**
 * Adding a remediation touches its catalog entry, its script and its tests, nothing in app/
 * (issue 8 point 3). This one exists only here: a power cycle of the instance, added as data to
 * the catalog the workflow runs from. It runs through the synthesized definition and the real
 * steps: the fix is the inventory call its action names, its verification diagnosis is held as
 * long as its entry says, and the readiness wait is bounded by its own readyWithinSeconds. With a
 * dispatch that switched on remediation ids, the fix would be refused as unknown.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CATALOG, type Catalog, validateCatalog } from '../../functions/core/catalog.js';
import type { RemediationId } from '../../functions/core/model.js';
import { defineRemediation } from '../../functions/core/remediations/remediation.js';
import { ALICE, type Harness, NODE, openQuietly, recorded, startHarness, until } from './support.js';

/** The fixture: only its data, as a catalog module would export it. */
const powerCycle = defineRemediation({
  id: 'power-cycle' as RemediationId,
  title: 'Power-cycle the instance',
  tier: 'disruptive',
  description: 'Reboots the EC2 instance through the inventory (a test fixture: no such module ships).',
  action: { kind: 'instance', call: 'reboot' },
  verifyBy: { kind: 'diagnose', timeoutSeconds: 321, readyWithinSeconds: 90 },
  timeoutSeconds: 300,
  verify: ['fd-exhaustion'],
  parameters: [],
  fixes: ['fd-exhaustion'],
});

const catalog: Catalog = { ...CATALOG, remediations: [...CATALOG.remediations, powerCycle] };

let h: Harness | null = null;
afterEach(async () => {
  await h?.close();
  h = null;
});

/**
 * Start a harness (closed after the test) over the catalog with the power cycle, an fd-exhaustion node that the fix cures and the
 * alarm states given, run the workflow to its approval wait and approve the power cycle there.
 */
async function approvePowerCycle(
  alarmStates: readonly ('ALARM' | 'OK')[],
): Promise<{ harness: Harness; id: string }> {
  const harness = await startHarness({ catalog, alarmStates });
  h = harness;
  harness.runner.queue(
    'diagnose',
    { stdout: recorded('fd-exhaustion') },
    { stdout: recorded('fd-exhaustion') },
    { stdout: recorded('healthy') },
  );
  const id = await openQuietly(harness);
  await harness.workflow.start(id, { incidentId: id });
  const token = await until(async () => (await harness.store.get(id))?.taskToken, 'the approval wait');
  // What the Slack listener hands the workflow once an approval is authorized.
  await harness.deps.workflow.resume(token, { decision: 'approve', remediation: 'power-cycle', by: [ALICE] });
  return { harness, id };
}

describe('a remediation added as data', () => {
  it('has an action and a verify strategy the catalog accepts (only its id is foreign to the built-in one)', () => {
    expect(() => validateCatalog(catalog)).toThrow(
      'invalid catalog:\n- remediation "power-cycle": unknown remediation id\n' +
        '- remediation "power-cycle": fixes "fd-exhaustion" but that cause does not offer it',
    );
  });

  it('runs end to end through the definition and the real steps, as its entry says', async () => {
    // The verification reads the alarm (ALARM), the first readiness check too, then it is OK.
    const { harness, id } = await approvePowerCycle(['ALARM', 'ALARM', 'OK']);
    expect(await harness.workflow.finished(id)).toBe('recovered');

    // The fix is the inventory call its action names; no command was sent for it.
    expect(harness.inventory.actions.map((a) => [a.action, a.instanceId])).toEqual([
      ['reboot', NODE.instanceId],
    ]);
    expect(harness.runner.sent.map((s) => [s.script, s.comment, s.timeoutSeconds])).toEqual([
      ['diagnose', 'nodemedic diagnose', 60],
      ['diagnose', 'nodemedic recheck', 60],
      // Its verify strategy lets SSM hold the verification 321 s.
      ['diagnose', 'nodemedic verify', 321],
    ]);
    const incident = (await harness.store.get(id))!;
    expect(incident.phase).toBe('recovered');
    const audit = incident.audit.map((a) => [a.action, a.detail]);
    expect(audit).toEqual(
      expect.arrayContaining([
        ['fix-sent', 'power-cycle: EC2/ASG API call'],
        ['fix-ok', 'power-cycle was requested through the EC2 API'],
        ['ready-ok', 'the node is Ready after 30 s: the alarm nodemedic-node-not-ready-prod is back to OK'],
        ['recovered', 'power-cycle'],
      ]),
    );
  });

  it('is bounded by its own readyWithinSeconds, not the default', async () => {
    const { harness, id } = await approvePowerCycle(['ALARM']);
    expect(await harness.workflow.finished(id)).toBe('escalated');
    const incident = (await harness.store.get(id))!;
    expect(incident.audit.find((a) => a.action === 'ready-failed')?.detail).toBe(
      'waited 90 s for the node to be Ready again: the alarm nodemedic-node-not-ready-prod is ALARM',
    );
    expect(incident.audit.find((a) => a.action === 'escalated')?.detail).toBe('not-recovered');
  });
});
