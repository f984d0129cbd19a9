/**
 * The postmortem timeline, rendered from the record of a real incident: the in-process workflow
 * (the deployed definition), the real Bolt app receiving an on-call approval, and recorded script
 * outputs, from the alarm to "recovered".
 */
import { afterEach, describe, expect, it } from 'vitest';
import { handleAlarm } from '../../functions/app/incidents.js';
import { parseAlarmEvent } from '../../functions/core/alarm.js';
import type { Incident } from '../../functions/core/incident.js';
import { SLACK_LIMITS } from '../../functions/core/render/mrkdwn.js';
import { ACTION_IDS } from '../../functions/core/render/slack.js';
import {
  duration,
  renderTimeline,
  timeline,
  timelineMarkdown,
} from '../../functions/core/render/timeline.js';
import { ALICE, type Harness, startHarness, until } from '../app/support.js';

let h: Harness | null = null;
afterEach(async () => {
  await h?.close();
  h = null;
});

async function recoveredIncident(): Promise<Incident> {
  h = await startHarness({});
  h.runner.fixLoop('fd-exhaustion', 'raise-nofile', 'LimitNOFILE raised from 19 to 1048576');
  const outcome = await handleAlarm(h.deps, parseAlarmEvent(h.alarmEvent('ALARM')));
  const id = (outcome as { incidentId: string }).incidentId;
  const harness = h;
  await until(async () => (await harness.store.get(id))?.phase === 'awaiting-approval', 'the approval wait');
  await h.click(id, ALICE, `${ACTION_IDS.fix}:raise-nofile`);
  return until(async () => {
    const incident = await harness.store.get(id);
    return incident?.phase === 'recovered' ? incident : null;
  }, 'recovered');
}

describe('the postmortem timeline', () => {
  it('tells a rehearsed incident from the alarm to recovery, with evidence, approver, commands and durations', async () => {
    const incident = await recoveredIncident();
    const t = timeline(incident);
    const steps = t.lines.map((l) => l.what);
    expect(steps[0]).toBe('Alarm: incident opened');
    for (const step of [
      'Findings posted',
      'Approved',
      'Fix sent',
      'Fix applied',
      'Verified: recovered',
      'Recovered',
    ])
      expect(steps).toContain(step);
    expect(steps.indexOf('Approved')).toBeLessThan(steps.indexOf('Fix sent'));
    expect(t.lines.find((l) => l.what === 'Approved')?.actor).toBe(ALICE);
    expect(t.lines.find((l) => l.what === 'Fix sent')?.detail).toMatch(/raise-nofile: \S+/);
    expect(t.evidence.some((e) => e.startsWith('fd-exhaustion: '))).toBe(true);
    expect(t.durations.toFindings).not.toBeNull();
    expect(t.durations.waitingForApproval).not.toBeNull();
    expect(t.durations.toRecovery).not.toBeNull();
    expect(t.lines.every((l, i) => i === 0 || l.offsetSeconds >= t.lines[i - 1]!.offsetSeconds)).toBe(true);

    const markdown = timelineMarkdown(incident);
    expect(markdown).toContain(`# Incident ${incident.id}`);
    expect(markdown).toContain('| since alarm | at (UTC) | step | by | detail |');
    expect(markdown).toMatch(/\| \+\d\d:\d\d \| \S+ \| Approved \| U0ALICE \|/);
    expect(markdown).toContain('- Ended as: recovered');

    const slack = renderTimeline(incident);
    expect(slack.blocks.length).toBeLessThanOrEqual(SLACK_LIMITS.blocks);
    expect(JSON.stringify(slack.blocks)).toContain(`<@${ALICE}>`);
  });

  it('escapes what came from outside, and keeps a long record within Slack limits', () => {
    const at = (s: number) => new Date(Date.UTC(2026, 10, 29, 3, 0, s)).toISOString();
    const incident = {
      id: 'prod#i-0abc#t',
      nodeKey: 'prod#i-0abc',
      node: { instanceId: 'i-0abc123def4567890', nodeName: null, cluster: 'prod', autoScalingGroup: null },
      alarmName: '<!channel> <http://evil|Approve here>',
      openedAt: at(0),
      phase: 'escalated',
      card: null,
      findings: [
        {
          cause: 'config-invalid',
          severity: 'critical',
          confidence: 'high',
          summary: 'x',
          evidence: [{ source: 'logs', text: '<@U0EVIL> line 16 | pipe' }],
          remediations: [],
        },
      ],
      offered: [],
      requested: null,
      approvals: [],
      taskToken: null,
      attempts: 0,
      audit: Array.from({ length: 1000 }, (_, i) => ({
        at: at(i),
        action: i === 0 ? 'opened' : 'reachability',
        actor: 'nodemedic',
        detail: `<!here> step ${i} ${'x'.repeat(200)}`,
      })),
      version: 1,
    } as Incident;
    const slack = renderTimeline(incident);
    const text = JSON.stringify(slack);
    expect(text).not.toContain('<!channel>');
    expect(text).not.toContain('<!here>');
    expect(text).not.toContain('<@U0EVIL>');
    expect(text).not.toContain('<http://evil');
    expect(slack.blocks.length).toBeLessThanOrEqual(SLACK_LIMITS.blocks);
    expect(text).toContain('nodemedic report');
    const markdown = timelineMarkdown(incident);
    expect(markdown).toContain('line 16 \\| pipe');
    expect(markdown.split('\n').filter((l) => l.startsWith('| +'))).toHaveLength(1000);
  });

  it.each([
    [null, '-'],
    [7, '7s'],
    [75, '1m 15s'],
    [3_725, '1h 2m'],
  ])('duration(%j) = %s', (value, text) => {
    expect(duration(value)).toBe(text);
  });
});
