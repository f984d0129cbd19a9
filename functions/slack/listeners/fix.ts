/** The fix buttons (`nm_fix:<remediationId>`): ack, then the approval use case. */
import type { App, BlockAction, ButtonAction } from '@slack/bolt';
import { approveFix } from '../../app/approval.js';
import type { AppDeps } from '../../app/deps.js';
import { ACTION_IDS, parseFixActionId } from '../../core/render/slack.js';
import type { SlackEdge } from '../app.js';
import { readClick } from './click.js';

/** Every action id the renderer gives a fix button. */
const FIX_ACTION = new RegExp(`^${ACTION_IDS.fix}:`);

/** Register the fix button listener. */
export function register(app: App, deps: AppDeps, edge: SlackEdge): void {
  app.action<BlockAction<ButtonAction>>(FIX_ACTION, async ({ ack, body, action, context }) => {
    await ack();
    const click = readClick(body, action, context.retryNum, await edge.installedTeam());
    const remediation = parseFixActionId(action.action_id) ?? '';
    const outcome = await approveFix(deps, { ...click, remediation });
    deps.logger.info('fix click handled', {
      incidentId: click.incidentId,
      user: click.user,
      remediation,
      outcome: outcome.kind,
    });
  });
}
