import { describe, expect, it } from 'vitest';
import type { RemediationId, Report } from '../../functions/core/model.js';
import { SLACK_LIMITS } from '../../functions/core/render/mrkdwn.js';
import { renderFindings } from '../../functions/core/render/slack.js';
import { incident } from '../slack/support.js';

const report = (inc: ReturnType<typeof incident>): Report => ({
  healthy: false,
  findings: inc.findings,
  notes: [],
  facts: {},
});

type Block = {
  type: string;
  text?: { text: string };
  elements?: { action_id?: string; text?: { text: string } }[];
};

function buttons(blocks: readonly unknown[]): { action_id?: string; text?: { text: string } }[] {
  return (blocks as Block[]).filter((b) => b.type === 'actions').flatMap((b) => b.elements ?? []);
}

describe('success rates in the findings message', () => {
  const inc = incident();
  const offered: RemediationId[] = ['raise-nofile', 'restart-containerd'];

  it('puts the rate on the button and beside the fix, and no number on a fix without history', () => {
    const message = renderFindings(report(inc), {
      incident: inc,
      offered,
      manual: [],
      held: null,
      rates: { 'restart-containerd': { passed: 11, total: 12 } },
    });
    const label = (id: string) =>
      buttons(message.blocks).find((b) => b.action_id === `nm_fix:${id}`)?.text?.text;
    expect(label('restart-containerd')).toBe('Restart containerd (safe) · recovered 11 of 12 here');
    expect(label('raise-nofile')).not.toMatch(/recovered|here/);
    const text = JSON.stringify(message.blocks);
    expect(text).toContain('(safe · recovered 11 of 12 here)');
    expect(text.match(/recovered/g)).toHaveLength(2);
  });

  it('keeps the tier and a short rate when the long label would pass the button limit', () => {
    const message = renderFindings(report(inc), {
      incident: inc,
      offered: ['upgrade-containerd'],
      manual: [],
      held: null,
      rates: { 'upgrade-containerd': { passed: 100, total: 120 } },
    });
    const [button] = buttons(message.blocks);
    expect(button?.text?.text).toBe('Upgrade containerd (pinned package) (disruptive) · 100/120 here');
    expect(button!.text!.text.length).toBeLessThanOrEqual(SLACK_LIMITS.buttonText);
  });
});

describe('shadow mode in the findings message', () => {
  it('lists what nodemedic would offer, with no button, and says how to switch', () => {
    const inc = incident({ node: { ...incident().node, cluster: 'prod_eu' } });
    const message = renderFindings(report(inc), {
      incident: inc,
      offered: ['raise-nofile', 'restart-containerd'],
      manual: [],
      held: null,
      shadow: 'prod_eu',
    });
    expect(buttons(message.blocks)).toEqual([]);
    const text = JSON.stringify(message.blocks);
    expect(text).toContain('Fixes nodemedic would offer');
    expect(text).not.toContain('Fixes nodemedic can run');
    expect(text).toContain('*Shadow mode* in cluster `prod_eu`');
    expect(text).toContain('shadowClusters');
    expect(text).toContain('redeploy');
  });
});
