/**
 * Block Kit for the workflow's progress replies and the cluster-level alert: the parts of the
 * conversation the steps post besides the card, findings and outcome (render/slack.ts). Kept with
 * the renderer so that everything posted to Slack is rendered, escaped and limited in one place.
 */

import { SLACK_ID } from '../patterns.js';
import type { ChatMessage } from '../ports.js';
import { clip, context, escapeMrkdwn, header, SLACK_LIMITS, section } from './mrkdwn.js';

/** `<!subteam^S…>` for a well-formed user group id, else nothing. */
function groupMention(groupId: string | null): string {
  return groupId && SLACK_ID.userGroup.test(groupId) ? `<!subteam^${groupId}> ` : '';
}

/** One step's verdict in the thread: a recheck that failed, a fix, a verification, a rollback. */
export function renderStepResult(step: {
  purpose: string;
  remediation: string;
  ok: boolean;
  detail: string;
}): ChatMessage {
  const verdict = step.ok ? 'ok' : 'failed';
  return {
    // The fallback text is mrkdwn too (notifications, screen readers): escaped like the blocks.
    text: clip(
      escapeMrkdwn(`${step.purpose} of ${step.remediation}: ${verdict} — ${step.detail}`),
      SLACK_LIMITS.messageText,
    ),
    blocks: [
      context(`*${escapeMrkdwn(step.purpose)}* of \`${escapeMrkdwn(step.remediation)}\`: ${verdict}`),
      section(escapeMrkdwn(step.detail)),
    ],
  };
}

/** A command nodemedic stopped waiting for and cancelled (or tried to), in the thread. */
export function renderCommandCancelled(command: {
  what: string;
  commandId: string;
  detail: string;
}): ChatMessage {
  const text = `${command.what} (command ${command.commandId}): ${command.detail}`;
  return {
    text: clip(`:stopwatch: ${escapeMrkdwn(text)}`, SLACK_LIMITS.messageText),
    blocks: [section(`:stopwatch: ${escapeMrkdwn(text)}`)],
  };
}

/** The one channel-level alert when many nodes of a cluster are NotReady and per-node fixes are held. */
export function renderClusterAlert(alert: {
  cluster: string;
  detail: string;
  onCallGroupId: string | null;
}): ChatMessage {
  const mention = groupMention(alert.onCallGroupId);
  const text = `Cluster ${alert.cluster}: ${alert.detail}. Look for a shared cause (AMI, network, control plane, a bad rollout) before fixing nodes one by one.`;
  return {
    text: clip(`${mention}${escapeMrkdwn(text)}`, SLACK_LIMITS.messageText),
    blocks: [
      header(`Cluster ${alert.cluster}: many nodes NotReady`),
      section(`:rotating_light: ${mention}${escapeMrkdwn(text)}`),
    ],
  };
}
