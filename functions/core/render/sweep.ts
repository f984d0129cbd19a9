/**
 * The one channel message a cluster-only alarm gets: what was checked and what was found
 * ("40 nodes probed, 38 healthy, 2 with findings: …"), with each unhealthy node and its incident.
 * Everything from outside (the alarm's name, the cluster, instance ids, reasons from a node) is
 * escaped.
 */
import type { ChatMessage } from '../ports.js';
import { type SweepSummary, sweepHeadline, verdictText } from '../sweep.js';
import { clip, context, escapeMrkdwn, SLACK_LIMITS, section, truncate } from './mrkdwn.js';

/** Unhealthy nodes listed one a line; the rest are counted. */
const NODES_LISTED = 30;

/** What the message says about each unhealthy node beyond its verdict: its incident, if opened. */
export interface SweepNodeNote {
  readonly instanceId: string;
  /** The incident opened (or joined) for the node; null when none could be opened, with why. */
  readonly incidentId: string | null;
  readonly note?: string;
}

/** The summary message of a cluster-only alarm's readiness check or sweep. */
export function renderSweepSummary(input: {
  readonly alarmName: string;
  readonly summary: SweepSummary;
  readonly nodes: readonly SweepNodeNote[];
}): ChatMessage {
  const { summary } = input;
  const headline = sweepHeadline(summary);
  const how =
    summary.source === 'sweep'
      ? 'a read-only quick probe over SSM Run Command on every node with the cluster tag'
      : "Container Insights' per-node readiness (node_status_condition_ready)";
  const title =
    `:mag: *Cluster ${escapeMrkdwn(summary.cluster)}*: the alarm ${escapeMrkdwn(input.alarmName)} ` +
    `names no node, so nodemedic checked them: ${escapeMrkdwn(headline)}.`;
  const notes = new Map(input.nodes.map((n) => [n.instanceId, n]));
  const lines = summary.unhealthy.slice(0, NODES_LISTED).map((node) => {
    const note = notes.get(node.instanceId);
    const incident = note?.incidentId
      ? ` · incident \`${escapeMrkdwn(note.incidentId)}\``
      : note?.note
        ? ` · ${escapeMrkdwn(note.note)}`
        : '';
    return `• \`${escapeMrkdwn(node.instanceId)}\`: ${escapeMrkdwn(verdictText(node.verdict))}${incident}`;
  });
  if (summary.unhealthy.length > NODES_LISTED) {
    lines.push(`… and ${summary.unhealthy.length - NODES_LISTED} more, each in its own incident.`);
  }
  const blocks: (ReturnType<typeof section> | ReturnType<typeof context>)[] = [
    section(truncate(title, SLACK_LIMITS.sectionText)),
  ];
  if (lines.length > 0) blocks.push(section(truncate(lines.join('\n'), SLACK_LIMITS.sectionText)));
  const after =
    summary.unhealthy.length > 0
      ? 'Each node found is diagnosed in its own incident. '
      : 'No node to diagnose. ';
  blocks.push(
    context(
      `${after}Checked with ${how}. The alarm's OK closes nothing: each node's incident ends on its own evidence.`,
    ),
  );
  const unhealthyText = summary.unhealthy
    .slice(0, NODES_LISTED)
    .map((n) => `${n.instanceId} (${verdictText(n.verdict)})`)
    .join('; ');
  return {
    text: clip(
      `Cluster ${escapeMrkdwn(summary.cluster)}: ${escapeMrkdwn(headline)}${unhealthyText ? `: ${escapeMrkdwn(unhealthyText)}` : ''}`,
      SLACK_LIMITS.messageText,
    ),
    blocks,
  };
}
