/**
 * Small, pure helpers for Slack's mrkdwn and Block Kit limits. Everything quoted from a node, an
 * alarm or a user is untrusted: escaping `&`, `<` and `>` keeps it from becoming a link, a mention
 * (`<!channel>`) or a broken message.
 */

import type { ContextBlock, HeaderBlock, SectionBlock } from '@slack/types';
import { SLACK_ID } from '../patterns.js';

/** Slack's documented limits the renderer stays within. */
export const SLACK_LIMITS = {
  blocks: 50,
  /** A mrkdwn text object in a section or context block. */
  sectionText: 3000,
  /** One of a section's `fields`. */
  fieldText: 2000,
  headerText: 150,
  buttonText: 75,
  actionsElements: 25,
  confirmTitle: 100,
  confirmText: 300,
  /** `text` fallback on chat.postMessage; Slack truncates beyond 40,000. */
  messageText: 4000,
} as const;

/** Escape the three characters Slack's mrkdwn treats as control characters. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * Cut `text` to at most `max` characters, ending with a visible marker that says how much was
 * cut, so a reader never mistakes a truncated quote for the whole one.
 */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  const marker = (cut: number) => ` … (${cut} more characters not shown)`;
  // The marker's own length depends on the number it prints; reserve for the widest case.
  let keep = max - marker(text.length).length;
  if (keep < 0) keep = 0;
  // Do not split an escape sequence (`&amp;`) or a surrogate pair in half.
  let head = text.slice(0, keep);
  const amp = head.lastIndexOf('&');
  if (amp >= 0 && amp > head.length - 5 && !head.slice(amp).includes(';')) head = head.slice(0, amp);
  const last = head.charCodeAt(head.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) head = head.slice(0, -1);
  return head + marker(text.length - head.length);
}

/** Plain-text truncation with an ellipsis, for fields too short to say how much was cut (buttons, headers). */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  return `${text.slice(0, Math.max(0, max - 1))}…`;
}

/** Quote untrusted lines as a mrkdwn block quote, escaped. */
export function quoteLines(text: string): string {
  return text
    .split(/\r?\n/)
    .map((line) => `> ${escapeMrkdwn(line)}`)
    .join('\n');
}

/**
 * A Slack date token: rendered in each reader's time zone, with the ISO string as the fallback
 * for clients that cannot format it.
 */
export function slackDate(iso: string): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return escapeMrkdwn(iso);
  return `<!date^${Math.floor(ms / 1000)}^{date_short_pretty} {time}|${escapeMrkdwn(iso)}>`;
}

/** A user mention for a Slack user id; anything that is not an id (`nodemedic`) is shown as text. */
export function mention(user: string): string {
  return SLACK_ID.user.test(user) ? `<@${user}>` : `\`${escapeMrkdwn(user)}\``;
}

/** mrkdwn section block. */
export function section(text: string): SectionBlock {
  return { type: 'section', text: { type: 'mrkdwn', text: truncate(text, SLACK_LIMITS.sectionText) } };
}

/** Context block with one mrkdwn element. */
export function context(text: string): ContextBlock {
  return { type: 'context', elements: [{ type: 'mrkdwn', text: truncate(text, SLACK_LIMITS.sectionText) }] };
}

/** Header block (plain text, 150 characters at most). */
export function header(text: string): HeaderBlock {
  return {
    type: 'header',
    text: { type: 'plain_text', text: clip(text, SLACK_LIMITS.headerText), emoji: true },
  };
}
