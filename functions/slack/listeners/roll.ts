/** The cluster summary's rolling-fix button (`nm_roll:<remediationId>`): ack, then the roll use case. */
import type { App, BlockAction, ButtonAction } from '@slack/bolt';
import { approveRoll } from '../../app/rolling.js';
import { parseRollActionId, ROLL_ACTION } from '../../core/render/rolling.js';
import type { ListenerDeps } from '../app.js';
import { readClick } from './click.js';

/** Every action id the renderer gives the roll button. */
const ROLL_ACTION_ID = new RegExp(`^${ROLL_ACTION}:`);

/** Register the rolling-fix button listener. */
export function register(app: App, deps: ListenerDeps): void {
  app.action<BlockAction<ButtonAction>>(ROLL_ACTION_ID, async ({ ack, body, action, context }) => {
    await ack();
    const click = readClick(body, action, context.retryNum, await deps.installedTeam());
    const remediation = parseRollActionId(action.action_id) ?? '';
    const outcome = await approveRoll(
      { ...deps, onCallGroupId: deps.onCall.userGroupId },
      { ...click, remediation },
    );
    deps.logger.info('roll click handled', {
      clusterIncident: click.incidentId,
      user: click.user,
      remediation,
      outcome: outcome.kind,
    });
  });
}
