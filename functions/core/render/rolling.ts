/**
 * The rolling fix in Slack: the cluster summary's roll region (the one button, or why there is
 * none, or the roll's progress) and the one message that says a roll stopped or completed. Pure,
 * like every renderer: the cluster summary (render/cluster.ts) puts {@link rollBlocks} under its
 * counts. Everything that came from a node or an alarm is escaped; node names are ids we checked.
 */
import type { KnownBlock } from '@slack/types';
import type { ChatMessage } from '../ports.js';
import { getRemediation } from '../remediations/index.js';
import { type Roll, type RollFailure, type RollMember, type RollOffer, totalBatches } from '../rolling.js';
import { clip, context, escapeMrkdwn, mention, SLACK_LIMITS, section } from './mrkdwn.js';

/**
 * The cluster button's action id: `nm_roll:<remediationId>`; its value is the cluster incident's
 * id. The remediation is in the id so a click on an older summary (another fix offered since)
 * can be told apart and refused.
 */
export const ROLL_ACTION = 'nm_roll';

/** The remediation inside a roll button's action id, or null when it is not one. */
export function parseRollActionId(actionId: string): string | null {
  const prefix = `${ROLL_ACTION}:`;
  return actionId.startsWith(prefix) ? actionId.slice(prefix.length) : null;
}

/** Nodes shown by name in one line before "and N more". */
const NODES_SHOWN = 8;

/** The label of the one cluster button: fix, node count, batch size and tier. */
function rollButtonLabel(offer: Extract<RollOffer, { kind: 'offer' }>): string {
  const title = getRemediation(offer.remediation).title;
  return `Approve rolling ${title} on ${nodes(offer.nodes.length)}, batches of ${offer.batchSize} (${offer.tier})`;
}

/**
 * The summary's roll region: the roll's progress when one was approved, else the button when the
 * cluster is offered one, else why it is not (said once, in a context line).
 */
export function rollBlocks(clusterId: string, offer: RollOffer, roll: Roll | null | undefined): KnownBlock[] {
  if (roll) return rollProgress(roll);
  if (offer.kind === 'none') {
    return [context(`:raised_hand: No rolling fix offered: ${escapeMrkdwn(offer.reason)}.`)];
  }
  const meta = getRemediation(offer.remediation);
  const label = rollButtonLabel(offer);
  return [
    section(
      `*Rolling fix* (${offer.tier}): *${escapeMrkdwn(meta.title)}* on the ${nodes(offer.nodes.length)} held with ${escapeMrkdwn(offer.cause)}, ${offer.batchSize} at a time. Each node is rechecked, fixed and verified by its own workflow; the next batch starts when the whole batch recovered, and the roll stops at the first failed fix or verification. One on-call approval starts it.`,
    ),
    {
      type: 'actions',
      elements: [
        {
          type: 'button',
          action_id: `${ROLL_ACTION}:${offer.remediation}`,
          value: clusterId,
          style: 'primary',
          text: { type: 'plain_text', text: clip(label, SLACK_LIMITS.buttonText) },
          confirm: {
            title: { type: 'plain_text', text: clip(`Roll ${meta.title}?`, SLACK_LIMITS.confirmTitle) },
            text: {
              type: 'mrkdwn',
              text: clip(
                `${escapeMrkdwn(meta.description)} On ${nodes(offer.nodes.length)}, ${offer.batchSize} at a time; it stops at the first failure.`,
                SLACK_LIMITS.confirmText,
              ),
            },
            confirm: { type: 'plain_text', text: 'Approve' },
            deny: { type: 'plain_text', text: 'Cancel' },
          },
        },
      ],
    },
  ];
}

/** The nodes a roll is through with (not failed, not left), told apart by what is known of each. */
export interface RollTally {
  /** Fixed by the roll and verified. */
  readonly fixed: number;
  /** Their cause was gone before their fix: nothing was run on them. */
  readonly causeGone: number;
  /** Both together. */
  readonly settled: number;
  /** `4 fixed and verified, 1 with its cause gone before its fix (nothing run)`; zero parts left out. */
  readonly text: string;
}

/**
 * How the nodes the roll is through with ended: a fix is claimed only where one ran and was
 * verified. `fixedBy` follows the fixed count (` by a rolling fix`).
 */
export function rollTally(roll: Roll, fixedBy = ''): RollTally {
  const fixed = roll.done.length;
  const causeGone = (roll.causeGone ?? []).length;
  const parts = [
    ...(fixed > 0 || causeGone === 0 ? [`${fixed} fixed and verified${fixedBy}`] : []),
    ...(causeGone > 0 ? [`${causeGone} ${causeGoneBeforeFix(causeGone)} (nothing run)`] : []),
  ];
  return { fixed, causeGone, settled: fixed + causeGone, text: parts.join(', ') };
}

function causeGoneBeforeFix(n: number): string {
  return n === 1 ? 'with its cause gone before its fix' : 'with their cause gone before their fix';
}

/** The roll's progress, for the summary. */
function rollProgress(roll: Roll): KnownBlock[] {
  const title = escapeMrkdwn(getRemediation(roll.remediation).title);
  const tally = rollTally(roll);
  const total =
    roll.queued.length + roll.running.length + tally.settled + roll.skipped.length + failedCount(roll);
  // Only a verified fix is counted as fixed: the parts are said once any node had nothing run.
  const done = `${tally.settled} of ${total} done${tally.causeGone ? `: ${tally.text}` : ''}`;
  const batches = `${roll.batches} batch${roll.batches === 1 ? '' : 'es'}`;
  const head =
    roll.state === 'running'
      ? `:arrows_counterclockwise: *Rolling ${title}* (${roll.tier}), approved by ${mention(roll.approvedBy)}: batch ${roll.batches} of ${totalBatches(roll)}, ${done}${tally.causeGone ? ';' : ','} ${roll.running.length} running, ${roll.queued.length} queued.`
      : roll.state === 'completed'
        ? `:white_check_mark: *Rolling ${title} completed* (approved by ${mention(roll.approvedBy)}): ${
            tally.causeGone
              ? `${tally.settled} of ${total} nodes done in ${batches}: ${tally.text}.`
              : `${tally.fixed} of ${total} nodes fixed in ${batches}.`
          }`
        : `:octagonal_sign: *Rolling ${title} stopped* at ${failureText(roll.failed)}. ${done}; the ${nodes(roll.queued.length)} still queued stay held.`;
  const lines = [head];
  if (roll.running.length) lines.push(`Running: ${names(roll.running)}`);
  if (tally.causeGone) {
    lines.push(`Cause gone before their fix, nothing run: ${names(roll.causeGone ?? [])}`);
  }
  if (roll.skipped.length) lines.push(`Left the roll before their batch: ${failures(roll.skipped)}`);
  if (roll.alsoFailed.length) lines.push(`Also failed in the stopped batch: ${failures(roll.alsoFailed)}`);
  return [section(lines.join('\n'))];
}

/** Said once in the cluster thread when the roll stops or completes. */
export function renderRollEnded(roll: Roll, onCallGroupId: string | null): ChatMessage {
  const title = escapeMrkdwn(getRemediation(roll.remediation).title);
  const group = onCallGroupId ? `<!subteam^${onCallGroupId}> ` : '';
  if (roll.state === 'completed') {
    const tally = rollTally(roll);
    // A node whose cause was gone before its fix had nothing run: it is not counted as fixed.
    const text = tally.causeGone
      ? `Rolling ${title} completed in ${roll.batches} batch(es): ${tally.settled} node(s) done, ${tally.text}. Nothing was run on ${names(roll.causeGone ?? [])}: the cause was gone before the fix.`
      : `Rolling ${title} completed: ${tally.fixed} node(s) fixed and verified in ${roll.batches} batch(es).`;
    if (!roll.skipped.length) return { text, blocks: [section(`:white_check_mark: ${text}`)] };
    // Nodes that left the roll (their wait ran out, a person took them) were not fixed: that is
    // for a person, said as a warning with the on-call group, never as a plain success.
    const extra = ` ${roll.skipped.length} node(s) left the roll before their batch and were NOT fixed: ${failures(roll.skipped)}. A person decides what comes next for them.`;
    return { text: `${text}${extra}`, blocks: [section(`:warning: ${group}${text}${extra}`)] };
  }
  const text = `Rolling ${title} stopped at ${failureText(roll.failed)}: no further batch starts. The ${nodes(roll.queued.length)} not yet fixed stay held (${roll.queued.length ? names(roll.queued) : 'none'}); a person decides what comes next.`;
  return { text, blocks: [section(`:octagonal_sign: ${group}${text}`)] };
}

/** The private answer to the clicker: the roll starting, or over already (no node could start). */
export function rollStartedText(roll: Roll): string {
  if (roll.state !== 'running') return `Approved, and over already: ${renderRollEnded(roll, null).text}`;
  const title = getRemediation(roll.remediation).title;
  return `Rolling ${escapeMrkdwn(title)} approved: batch 1 of ${totalBatches(roll)} (${roll.running.length} node(s)) is starting.`;
}

function failureText(failure: RollFailure | null): string {
  return failure ? `${escapeMrkdwn(failure.node)} (${escapeMrkdwn(failure.detail)})` : 'a failed node';
}

function failedCount(roll: Roll): number {
  return (roll.failed ? 1 : 0) + roll.alsoFailed.length;
}

function nodes(n: number): string {
  return `${n} node${n === 1 ? '' : 's'}`;
}

function names(members: readonly RollMember[]): string {
  const shown = members.slice(0, NODES_SHOWN).map((m) => escapeMrkdwn(m.node));
  return members.length > NODES_SHOWN
    ? `${shown.join(', ')} and ${members.length - NODES_SHOWN} more`
    : shown.join(', ');
}

function failures(list: readonly RollFailure[]): string {
  const shown = list.slice(0, NODES_SHOWN).map((f) => `${escapeMrkdwn(f.node)} (${escapeMrkdwn(f.detail)})`);
  return list.length > NODES_SHOWN
    ? `${shown.join(', ')} and ${list.length - NODES_SHOWN} more`
    : shown.join(', ');
}
