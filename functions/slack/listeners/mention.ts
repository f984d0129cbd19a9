/**
 * `@nodemedic …` mentions. `diagnose [i-…|node-name]` starts a diagnosis in the mention's thread:
 * with a target, that node; without one, the node the thread's first message names (an alert
 * posted by another integration). `help`, and anything else, answers with the commands.
 * Mentions act only in the configured channels (threads under them included): anywhere else the
 * answer says where nodemedic works, and nothing runs, so nobody can make it read a thread or post
 * node evidence in a channel it was merely invited to.
 * The text is untrusted: only a validated instance id or DNS-style node name leaves this file.
 */
import type { App } from '@slack/bolt';
import type { AppDeps } from '../../app/deps.js';
import { NodemedicError } from '../../core/errors.js';
import { INSTANCE_ID, INSTANCE_ID_IN_TEXT, isNodeName } from '../../core/patterns.js';
import { escapeMrkdwn, renderHelp, renderReply } from '../../core/render/slack.js';
import type { SlackEdge } from '../app.js';

/** EC2 private DNS names as they appear inside alert text. */
const NODE_IN_TEXT =
  /(?<![0-9a-z.-])ip-\d{1,3}-\d{1,3}-\d{1,3}-\d{1,3}(?:\.[a-z0-9-]+)*\.(?:ec2|compute)\.internal(?![0-9a-z.-])/;

/** A node named by the user or by an alert. */
export type NodeQuery = { instanceId: string } | { nodeName: string };

/** What a mention asks for. */
export type MentionCommand =
  | { readonly kind: 'diagnose'; readonly target: NodeQuery | null }
  | { readonly kind: 'help' }
  | { readonly kind: 'invalid'; readonly reason: string };

/**
 * Parse the text of an app_mention. Slack wraps mentions as `<@U…>` and links as `<url|label>`;
 * both are unwrapped before reading the words.
 */
export function parseMention(text: string): MentionCommand {
  const words = text
    .replace(/<@[A-Z0-9]+(\|[^>]*)?>/g, ' ')
    .replace(/<(?:https?:\/\/|mailto:)[^|>]*\|([^>]*)>/g, '$1')
    .replace(/<(?:https?:\/\/)([^|>]*)>/g, '$1')
    .trim()
    .split(/\s+/)
    .filter((w) => w !== '');
  const [verb, arg, ...rest] = words;
  if (verb?.toLowerCase() !== 'diagnose') return { kind: 'help' };
  if (arg === undefined) return { kind: 'diagnose', target: null };
  if (rest.length > 0) return { kind: 'invalid', reason: 'diagnose takes one instance id or node name' };
  const target = parseTarget(arg);
  if (!target) {
    return {
      kind: 'invalid',
      reason: `\`${escapeMrkdwn(arg.slice(0, 80))}\` is neither an instance id (i-…) nor a node name`,
    };
  }
  return { kind: 'diagnose', target };
}

function parseTarget(word: string): NodeQuery | null {
  const lower = word.toLowerCase();
  if (INSTANCE_ID.test(lower)) return { instanceId: lower };
  if (isNodeName(lower) && !lower.startsWith('i-')) return { nodeName: lower };
  return null;
}

/**
 * The node an alert message names: an instance id first (it is unambiguous), else an EC2 private
 * DNS name. Searches the text and any block or attachment text, since integrations differ.
 */
export function findNodeInAlert(message: {
  text?: string;
  blocks?: unknown;
  attachments?: unknown;
}): NodeQuery | null {
  const haystack = [
    message.text ?? '',
    JSON.stringify(message.blocks ?? []),
    JSON.stringify(message.attachments ?? []),
  ].join('\n');
  const instance = INSTANCE_ID_IN_TEXT.exec(haystack);
  if (instance) return { instanceId: instance[0] };
  const node = NODE_IN_TEXT.exec(haystack.toLowerCase());
  if (node) return { nodeName: node[0] };
  return null;
}

/** Register the app_mention listener. */
export function register(app: App, deps: AppDeps, edge: SlackEdge): void {
  app.event('app_mention', async ({ event, body }) => {
    // Events are retried by Slack when the answer is late: one event id, one action.
    const eventId = (body as { event_id?: string }).event_id ?? `${event.channel}:${event.ts}`;
    if (!(await deps.store.claimOnce(`event:${eventId}`, 3_600))) {
      deps.logger.info('repeated Slack event ignored', { eventId });
      return;
    }
    const user = event.user ?? 'unknown';
    const threadTs = event.thread_ts ?? event.ts;
    const reply = async (text: string) => {
      await deps.chat.post(event.channel, renderReply(text), threadTs);
    };
    if (!edge.mentionChannels.includes(event.channel)) {
      deps.logger.warn('mention outside the configured channels refused', { channel: event.channel, user });
      await reply(
        `I act only in ${edge.mentionChannels.map((c) => `<#${c}>`).join(', ')} (and threads there): mention me there. Nothing was done here.`,
      );
      return;
    }
    const command = parseMention(event.text ?? '');
    if (command.kind === 'help') {
      await deps.chat.post(event.channel, renderHelp(), threadTs);
      return;
    }
    if (command.kind === 'invalid') {
      await reply(`${command.reason}. Try \`@nodemedic help\`.`);
      return;
    }
    let query = command.target;
    if (!query) {
      if (!event.thread_ts) {
        await reply(
          'Mention me in an alert thread, or name the node: `@nodemedic diagnose i-0123456789abcdef0`.',
        );
        return;
      }
      // The parent comes first: one message is all this needs.
      const thread = await deps.chat.replies({ channel: event.channel, ts: event.thread_ts }, { limit: 1 });
      const root = thread.find((m) => m.ts === event.thread_ts) ?? thread[0];
      query = root ? findNodeInAlert(root) : null;
      if (!query) {
        await reply(
          "I found no instance id or node name in this thread's first message. Name the node: `@nodemedic diagnose i-…` or `@nodemedic diagnose <node-name>`.",
        );
        return;
      }
    }
    try {
      const result = await edge.startDiagnosis({
        channel: event.channel,
        threadTs,
        query,
        requestedBy: user,
      });
      deps.logger.info('diagnosis requested by mention', {
        incidentId: result.incidentId,
        created: result.created,
        user,
      });
      if (!result.created) {
        await reply(
          `A nodemedic incident is already open for this node (\`${escapeMrkdwn(result.incidentId)}\`); follow it there.`,
        );
      }
    } catch (err) {
      if (!(err instanceof NodemedicError)) throw err;
      deps.logger.warn('diagnosis by mention refused', { code: err.code, error: err.message });
      await reply(`I cannot diagnose that node: ${escapeMrkdwn(err.message)}`);
    }
  });
}
