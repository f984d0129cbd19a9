/**
 * The rolling fix in Slack: the one cluster button (fix, node count, batch size and tier in its
 * label, a confirm dialog), why there is none, the roll's progress, and the one end message.
 */
import { describe, expect, it } from 'vitest';
import { type ClusterIncident, newClusterIncident } from '../../functions/core/cluster.js';
import { DEFAULT_SAFETY_POLICY } from '../../functions/core/policy.js';
import { renderClusterSummary } from '../../functions/core/render/cluster.js';
import { parseRollActionId, renderRollEnded, rollBlocks } from '../../functions/core/render/rolling.js';
import {
  type HeldNode,
  offerRoll,
  type Roll,
  type RollMember,
  rollReduce,
} from '../../functions/core/rolling.js';

const policy = { ...DEFAULT_SAFETY_POLICY, maxFixesInFlightPerCluster: 3 };
const held = (i: number): HeldNode => ({
  incidentId: `prod#i-0000000000000000${i}#t`,
  node: `i-0000000000000000${i}`,
  status: 'waiting',
  findings: [{ cause: 'containerd-down', confidence: 'high', remediations: ['restart-containerd'] }],
  offered: ['restart-containerd'],
});
const nodes = Array.from({ length: 7 }, (_, i) => held(i));

function started(): Roll {
  const offer = offerRoll(policy, 'prod', nodes);
  if (offer.kind !== 'offer') throw new Error(offer.reason);
  return rollReduce(null, { kind: 'start', offer, by: 'U0ALICE', at: '2026-11-29T15:00:00.000Z' }).roll!;
}

/** The cluster record holding `held`, 7 of its 9 nodes NotReady. */
function heldCluster(held: readonly RollMember[], at: string): ClusterIncident {
  const members = Object.fromEntries(
    held.map((m) => [
      m.node,
      { incidentId: m.incidentId, instanceId: m.node, nodeName: null, causes: null, joinedAt: at },
    ]),
  );
  const opened = newClusterIncident({
    cluster: 'prod',
    openedAt: at,
    reason: 'r',
    fleet: { total: 9, notReady: 7 },
  });
  return { ...opened, version: 1, members };
}

describe('the roll region of the cluster summary', () => {
  it('offers one button stating the fix, the nodes, the batch and the tier, behind a confirm dialog', () => {
    const blocks = rollBlocks('cluster#prod#t', offerRoll(policy, 'prod', nodes), null);
    const actions = blocks.find((b) => b.type === 'actions') as unknown as {
      elements: Record<string, unknown>[];
    };
    const [button] = actions.elements;
    expect(button).toMatchObject({
      action_id: 'nm_roll:restart-containerd',
      value: 'cluster#prod#t',
      text: { text: 'Approve rolling Restart containerd on 7 nodes, batches of 3 (safe)' },
    });
    expect(button!.confirm).toBeDefined();
    expect(parseRollActionId(String(button!.action_id))).toBe('restart-containerd');
    expect(parseRollActionId('nm_fix:restart-containerd')).toBeNull();
  });

  it('says why there is no roll, escaped, with no button', () => {
    const blocks = rollBlocks('cluster#prod#t', { kind: 'none', reason: 'nodes <!channel> disagree' }, null);
    const text = JSON.stringify(blocks);
    expect(text).not.toContain('nm_roll');
    expect(text).toContain('nodes &lt;!channel&gt; disagree');
  });

  it('shows the roll’s progress instead of the button once approved', () => {
    const text = JSON.stringify(rollBlocks('cluster#prod#t', offerRoll(policy, 'prod', nodes), started()));
    expect(text).not.toContain('nm_roll');
    expect(text).toContain('batch 1 of 3, 0 of 7 done, 3 running, 4 queued');
    expect(text).toContain('<@U0ALICE>');
  });

  it('says a stop once, with the failed node, the reason and the nodes left held', () => {
    const roll = started();
    const failing = roll.running[0]!;
    const stopped = rollReduce(roll, {
      kind: 'node-failed',
      incidentId: failing.incidentId,
      detail: 'not-recovered <x>',
    }).roll!;
    const message = renderRollEnded(stopped, 'S0ONCALL');
    expect(message.text).toContain(`stopped at ${failing.node} (not-recovered &lt;x&gt;)`);
    expect(message.text).toContain('4 nodes not yet fixed stay held');
    expect(JSON.stringify(message.blocks)).toContain('<!subteam^S0ONCALL>');
  });
  it('says a completed roll with a check mark only when every node was fixed; nodes that left it are a warning for on-call', () => {
    const roll = started();
    const all = [...roll.running, ...roll.queued];
    const clean = { ...roll, running: [], queued: [], done: all, state: 'completed' as const };
    const done = renderRollEnded(clean, 'S0ONCALL');
    expect(JSON.stringify(done.blocks)).toContain(':white_check_mark:');
    expect(JSON.stringify(done.blocks)).not.toContain('<!subteam^');
    const [left, ...fixed] = all;
    const partial = {
      ...clean,
      done: fixed,
      skipped: [{ ...left!, detail: 'its approval wait ran out' }],
    };
    const message = renderRollEnded(partial, 'S0ONCALL');
    const blocks = JSON.stringify(message.blocks);
    expect(blocks).not.toContain(':white_check_mark:');
    expect(blocks).toContain(':warning:');
    expect(blocks).toContain('<!subteam^S0ONCALL>');
    expect(message.text).toContain(`were NOT fixed: ${left!.node}`);
  });
  it('turns the cluster root from an alarm into a done headline once the roll fixed every held node', () => {
    const roll = started();
    const all = [...roll.running, ...roll.queued];
    const record = heldCluster(all, roll.approvedAt);
    const running = renderClusterSummary({ ...record, roll }, { onCallGroupId: 'S0ONCALL', policy });
    expect(JSON.stringify(running.blocks)).toContain('7 nodes NotReady, one incident');
    expect(running.text).toContain('<!subteam^S0ONCALL>');
    const completed = { ...roll, running: [], queued: [], done: all, state: 'completed' as const };
    const done = renderClusterSummary({ ...record, roll: completed }, { onCallGroupId: 'S0ONCALL', policy });
    const blocks = JSON.stringify(done.blocks);
    expect(blocks).toContain('7 nodes fixed by a rolling fix');
    expect(blocks).not.toContain('NotReady, one incident');
    expect(done.text).toMatch(/^Cluster prod: all 7 held nodes fixed and verified/);
    expect(done.text).not.toContain('<!subteam^');
    // One node left out: still the alarm, for a person.
    const partial = { ...completed, done: all.slice(1), skipped: [{ ...all[0]!, detail: 'wait ran out' }] };
    const left = renderClusterSummary({ ...record, roll: partial }, { onCallGroupId: 'S0ONCALL', policy });
    expect(JSON.stringify(left.blocks)).toContain('NotReady, one incident');
  });
  it('never counts a node whose cause was gone before its fix as fixed: the end, the progress and the root tell them apart', () => {
    const roll = started();
    const [first, ...others] = [...roll.running, ...roll.queued];
    // A node name that needs escaping, to see it escaped wherever it is named.
    const gone = { ...first!, node: 'i-<gone>' };
    const completed = {
      ...roll,
      running: [],
      queued: [],
      done: others,
      causeGone: [gone],
      state: 'completed' as const,
    };
    const ended = renderRollEnded(completed, 'S0ONCALL');
    expect(ended.text).toContain(
      'completed in 1 batch(es): 7 node(s) done, 6 fixed and verified, 1 with its cause gone before its fix (nothing run). Nothing was run on i-&lt;gone&gt;',
    );
    expect(ended.text).not.toMatch(/7 node\(s\) fixed/);
    expect(JSON.stringify(ended.blocks)).toContain(':white_check_mark:');

    const progress = JSON.stringify(rollBlocks('cluster#prod#t', { kind: 'none', reason: '' }, completed));
    expect(progress).toContain(
      '7 of 7 nodes done in 1 batch: 6 fixed and verified, 1 with its cause gone before its fix (nothing run).',
    );
    expect(progress).toContain('Cause gone before their fix, nothing run: i-&lt;gone&gt;');
    expect(progress).not.toContain('7 of 7 nodes fixed');

    // While the roll runs, and once it stopped: the same parts, none of them claimed as fixed.
    const running = rollReduce(roll, { kind: 'node-cause-gone', incidentId: roll.running[0]!.incidentId })
      .roll!;
    expect(JSON.stringify(rollBlocks('cluster#prod#t', { kind: 'none', reason: '' }, running))).toContain(
      'batch 1 of 3, 1 of 7 done: 1 with its cause gone before its fix (nothing run); 2 running, 4 queued.',
    );
    const stopped = rollReduce(running, {
      kind: 'node-failed',
      incidentId: running.running[0]!.incidentId,
      detail: 'not-recovered',
    }).roll!;
    expect(JSON.stringify(rollBlocks('cluster#prod#t', { kind: 'none', reason: '' }, stopped))).toContain(
      '1 of 7 done: 1 with its cause gone before its fix (nothing run); the 4 nodes still queued stay held.',
    );

    // The root: every held node is done, but only 6 were fixed.
    const record = heldCluster([gone, ...others], roll.approvedAt);
    const root = renderClusterSummary({ ...record, roll: completed }, { onCallGroupId: 'S0ONCALL', policy });
    expect(root.text).toMatch(
      /^Cluster prod: all 7 held nodes done: 6 fixed and verified by a rolling fix, 1 with its cause gone before its fix \(nothing run\)\. It was: /,
    );
    expect(root.text).not.toContain('7 held nodes fixed');
    expect(root.text).not.toContain('<!subteam^');
    const blocks = JSON.stringify(root.blocks);
    expect(blocks).toContain('Cluster prod: all 7 held nodes done');
    expect(blocks).toContain(
      '*All 7 held nodes done*: 6 fixed and verified by a rolling fix, 1 with its cause gone before its fix (nothing run).',
    );
    expect(blocks).not.toContain('nodes fixed by a rolling fix');
    expect(blocks).not.toContain('NotReady, one incident');
  });
});
