/**
 * Block Kit for the cluster thread's root: the live summary of a cluster hold
 * (functions/core/cluster.ts), posted once and updated in place. It says the common cause once
 * ("212 of 250 nodes: containerd 2.1.x, grpc-limits"), counts by cause, and lists each group's
 * nodes compactly. Everything that came from outside (cluster and node names, the reason text) is
 * escaped, the fallback text included.
 */
import type { KnownBlock } from '@slack/types';
import { type ClusterIncident, summarize } from '../cluster.js';
import { SLACK_ID } from '../patterns.js';
import type { ChatMessage } from '../ports.js';
import { offerFromMembers, type RollPolicy } from '../rolling.js';
import { clip, context, escapeMrkdwn, header, SLACK_LIMITS, section } from './mrkdwn.js';
import { rollBlocks, rollTally } from './rolling.js';

/** Node names shown per group; the rest are counted. */
const NODES_SHOWN = 12;
/** Groups shown as their own section; the rest are folded into one line (Slack's 50 blocks). */
const GROUPS_SHOWN = 12;

/** `ip-10-0-1-23.eu-west-1.compute.internal` → `ip-10-0-1-23`: the part that tells nodes apart. */
function shortName(node: string): string {
  return node.replace(/\.[a-z0-9-]+\.compute\.internal$|\.ec2\.internal$/, '');
}

/** `a, b, c … and 40 more`, escaped. */
function nodeList(nodes: readonly string[]): string {
  const shown = nodes.slice(0, NODES_SHOWN).map((n) => escapeMrkdwn(shortName(n)));
  const more = nodes.length - shown.length;
  return `${shown.join(', ')}${more > 0 ? ` … and ${more} more` : ''}`;
}

/** How the pager took the cluster's page, when the record says (`paged` is written at opening). */
function pagedLine(record: ClusterIncident): string | null {
  const paged = record.paged;
  if (paged === undefined) return null;
  return paged === 'ok'
    ? 'The on-call engineer was paged once for this cluster.'
    : `The on-call pager did not take the page (${paged}): tell the on-call engineer.`;
}

/** The cluster thread's root, as it stands now. */
export function renderClusterSummary(
  record: ClusterIncident,
  options: {
    onCallGroupId: string | null;
    /** The safety policy: with it, the rolling fix's region (render/rolling.ts) is shown. */
    policy?: RollPolicy;
  },
): ChatMessage {
  const s = summarize(record);
  const cluster = escapeMrkdwn(record.cluster);
  const mention =
    options.onCallGroupId && SLACK_ID.userGroup.test(options.onCallGroupId)
      ? `<!subteam^${options.onCallGroupId}> `
      : '';
  const headline = s.common
    ? `${s.common.count} of ${s.members} nodes: ${escapeMrkdwn(s.common.label)}`
    : `${s.members} nodes held, ${s.members - s.diagnosed} still being diagnosed`;
  const counts = s.causeCounts.map((c) => `${escapeMrkdwn(c.cause)} ${c.count}`).join(' · ');
  const fleet = `${s.fleet.notReady} of ${s.fleet.total} nodes NotReady when the last one joined`;
  // A roll through with every held node (each fixed and verified, or its cause gone before its
  // fix) ends the alarm this root raised: said first, a fix claimed only where one ran.
  const roll = record.roll;
  const tally = roll ? rollTally(roll, ' by a rolling fix') : null;
  const allDone =
    roll?.state === 'completed' &&
    roll.skipped.length === 0 &&
    tally !== null &&
    tally.settled >= s.members &&
    s.members > 0;
  const allFixed = allDone && tally.causeGone === 0;
  const blocks: KnownBlock[] = allDone
    ? [
        header(
          allFixed
            ? `Cluster ${record.cluster}: ${s.members} nodes fixed by a rolling fix`
            : `Cluster ${record.cluster}: all ${s.members} held nodes done`,
        ),
        section(
          allFixed
            ? `:white_check_mark: *All ${s.members} held nodes fixed and verified* (it was: ${headline})`
            : `:white_check_mark: *All ${s.members} held nodes done*: ${tally.text}. It was: ${headline}`,
        ),
      ]
    : [
        header(`Cluster ${record.cluster}: ${s.members} nodes NotReady, one incident`),
        section(`:rotating_light: ${mention}*${headline}*`),
      ];
  blocks.push(
    context(
      `${escapeMrkdwn(record.reason)} · ${escapeMrkdwn(fleet)} · diagnosed ${s.diagnosed} of ${s.members}` +
        (counts ? ` · by cause: ${counts}` : ''),
    ),
  );
  for (const group of s.groups.slice(0, GROUPS_SHOWN)) {
    blocks.push(section(`*${escapeMrkdwn(group.label)}* (${group.nodes.length}): ${nodeList(group.nodes)}`));
  }
  const folded = s.groups.slice(GROUPS_SHOWN);
  if (folded.length) {
    const nodes = folded.reduce((n, g) => n + g.nodes.length, 0);
    blocks.push(context(`${folded.length} more groups, ${nodes} nodes: see each node's incident record.`));
  }
  // The rolling fix: its one button, why there is none, or its progress.
  if (options.policy)
    blocks.push(...rollBlocks(record.id, offerFromMembers(options.policy, record), record.roll));
  const paged = pagedLine(record);
  blocks.push(
    context(
      'Per-node fixes are held: each node is diagnosed and its findings land here, not in a card of its own. ' +
        'Look for the shared cause (a rollout, the AMI, the network) before fixing nodes one by one.' +
        (paged ? ` ${escapeMrkdwn(paged)}` : ''),
    ),
  );
  const text = allFixed
    ? `Cluster ${cluster}: all ${s.members} held nodes fixed and verified by a rolling fix (it was: ${headline}).`
    : allDone
      ? `Cluster ${cluster}: all ${s.members} held nodes done: ${tally.text}. It was: ${headline}.`
      : `${mention}Cluster ${cluster}: ${headline}${counts ? ` (${counts})` : ''}. Per-node fixes are held.`;
  return { text: clip(text, SLACK_LIMITS.messageText), blocks };
}
