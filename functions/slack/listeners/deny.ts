/** Deny / "I'll handle it": ack, then close the incident with who took over. */
import type { App, BlockAction, ButtonAction } from '@slack/bolt';
import { denyFix } from '../../app/approval.js';
import type { AppDeps } from '../../app/deps.js';
import { ACTION_IDS } from '../../core/render/slack.js';
import type { SlackEdge } from '../app.js';
import { readClick } from './click.js';

/** Register the deny button listener. */
export function register(app: App, deps: AppDeps, edge: SlackEdge): void {
  app.action<BlockAction<ButtonAction>>(ACTION_IDS.deny, async ({ ack, body, action, context }) => {
    await ack();
    const click = readClick(body, action, context.retryNum, await edge.installedTeam());
    const outcome = await denyFix(deps, click);
    deps.logger.info('deny click handled', {
      incidentId: click.incidentId,
      user: click.user,
      outcome: outcome.kind,
    });
  });
}
