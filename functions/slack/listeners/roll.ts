/** The cluster summary's rolling-fix button (`nm_roll:<remediationId>`): ack, then the roll use case. */
import type { App, BlockAction, ButtonAction } from '@slack/bolt';
import type { AppDeps } from '../../app/deps.js';
import { approveRoll } from '../../app/rolling.js';
import { parseRollActionId, ROLL_ACTION } from '../../core/render/rolling.js';
import type { SlackEdge } from '../app.js';
import { readClick } from './click.js';

/** Every action id the renderer gives the roll button. */
const ROLL_ACTION_ID = new RegExp(`^${ROLL_ACTION}:`);

/** Register the rolling-fix button listener. */
export function register(app: App, deps: AppDeps, edge: SlackEdge): void {
  app.action<BlockAction<ButtonAction>>(ROLL_ACTION_ID, async ({ ack, body, action, context }) => {
    await ack();
    const click = readClick(body, action, context.retryNum, await edge.installedTeam());
    const remediation = parseRollActionId(action.action_id) ?? '';
    // The button sits on the cluster thread's root: private answers go into that thread, not under
    // the channel's last message (Slack sets the root's thread_ts only once it has replies).
    const outcome = await approveRoll(deps, {
      ...click,
      threadTs: click.threadTs ?? click.messageTs,
      remediation,
    });
    deps.logger.info('roll click handled', {
      clusterIncident: click.incidentId,
      user: click.user,
      remediation,
      outcome: outcome.kind,
    });
  });
}
