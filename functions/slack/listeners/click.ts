/**
 * What the three button listeners share: reading a click out of a signed block_actions payload.
 * The payload is signed, so its fields are Slack's; they are still checked for shape because a
 * missing field must become a clear error, not a crash, and because the ids end up inside
 * Slack messages (`<@U…>`), where only Slack's own id alphabet is safe.
 */
import type { BlockAction, ButtonAction } from '@slack/bolt';
import type { Click } from '../../app/approval.js';
import { InvalidInputError } from '../../core/errors.js';
import { SLACK_ID } from '../../core/patterns.js';

/** Message timestamps: seconds, a dot, microseconds. */
const MESSAGE_TS = /^\d{1,12}\.\d{1,9}$/;

/**
 * Read the click from a button payload. `retryNum` comes from Bolt's context
 * (`x-slack-retry-num`); `installedTeam` is the team the app is installed in, which the use case
 * compares with the team the click came from (`body.team.id`).
 */
export function readClick(
  body: BlockAction<ButtonAction>,
  action: ButtonAction,
  retryNum: unknown,
  installedTeam: string,
): Click {
  const incidentId = action.value;
  const channel = body.channel?.id ?? body.container?.channel_id;
  const messageTs = body.message?.ts ?? body.container?.message_ts;
  const user = body.user?.id;
  // An org-wide app can see clicks without a team; user.team_id is the clicker's own team then.
  const team = body.team?.id ?? body.user?.team_id;
  if (!incidentId || !channel || !messageTs || !user || !team) {
    throw new InvalidInputError('button payload lacks an incident id, channel, message, user or team', {
      code: 'SLACK_PAYLOAD_INVALID',
    });
  }
  const threadTs =
    (body.message?.thread_ts as string | undefined) ?? (body.container?.thread_ts as string | undefined);
  const ids: readonly (readonly [string, RegExp])[] = [
    [user, SLACK_ID.user],
    [channel, SLACK_ID.channel],
    [team, SLACK_ID.team],
  ];
  const malformed = [
    ...ids.filter(([id, pattern]) => !pattern.test(id)).map(([id]) => id),
    ...[messageTs, threadTs].filter((ts): ts is string => ts !== undefined && !MESSAGE_TS.test(ts)),
  ];
  if (malformed.length > 0) {
    throw new InvalidInputError(
      `button payload has malformed ids: ${malformed.map((m) => JSON.stringify(m.slice(0, 40))).join(', ')}`,
      { code: 'SLACK_PAYLOAD_INVALID' },
    );
  }
  return {
    incidentId,
    user,
    channel,
    team,
    installedTeam,
    messageTs,
    ...(threadTs ? { threadTs } : {}),
    retry: retryNum !== undefined && retryNum !== null && retryNum !== '' && retryNum !== 0,
  };
}
