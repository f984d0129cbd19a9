/**
 * What the three button listeners share: reading a click out of a signed block_actions payload.
 * The payload is signed, so its fields are Slack's; they are still checked for shape because a
 * missing field must become a clear error, not a crash.
 */
import type { BlockAction, ButtonAction } from '@slack/bolt';
import type { Click } from '../../app/approval.js';
import { InvalidInputError } from '../../core/errors.js';

/** Read the click from a button payload; `retryNum` comes from Bolt's context (`x-slack-retry-num`). */
export function readClick(body: BlockAction<ButtonAction>, action: ButtonAction, retryNum: unknown): Click {
  const incidentId = action.value;
  const channel = body.channel?.id ?? body.container?.channel_id;
  const messageTs = body.message?.ts ?? body.container?.message_ts;
  if (!incidentId || !channel || !messageTs || !body.user?.id) {
    throw new InvalidInputError('button payload lacks an incident id, channel, message or user', {
      code: 'SLACK_PAYLOAD_INVALID',
    });
  }
  const threadTs =
    (body.message?.thread_ts as string | undefined) ?? (body.container?.thread_ts as string | undefined);
  return {
    incidentId,
    user: body.user.id,
    channel,
    messageTs,
    ...(threadTs ? { threadTs } : {}),
    retry: retryNum !== undefined && retryNum !== null && retryNum !== '' && retryNum !== 0,
  };
}
