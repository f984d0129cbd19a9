/**
 * Block Kit for the workflow's progress replies: the parts of the
 * conversation the steps post besides the card, findings and outcome (render/slack.ts). Kept with
 * the renderer so that everything posted to Slack is rendered, escaped and limited in one place.
 */

import type { ChatMessage } from '../ports.js';
import { clip, context, escapeMrkdwn, SLACK_LIMITS, section } from './mrkdwn.js';

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
