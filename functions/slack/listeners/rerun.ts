/** "Re-run diagnosis": ack, then resume the waiting workflow with a rerun decision. */
import type { App, BlockAction, ButtonAction } from '@slack/bolt';
import { rerunDiagnosis } from '../../app/approval.js';
import type { AppDeps } from '../../app/deps.js';
import { ACTION_IDS } from '../../core/render/slack.js';
import type { SlackEdge } from '../app.js';
import { readClick } from './click.js';

/** Register the re-run button listener. */
export function register(app: App, deps: AppDeps, edge: SlackEdge): void {
  app.action<BlockAction<ButtonAction>>(ACTION_IDS.rerun, async ({ ack, body, action, context }) => {
    await ack();
    const click = readClick(body, action, context.retryNum, await edge.installedTeam());
    const outcome = await rerunDiagnosis(deps, click);
    deps.logger.info('rerun click handled', {
      incidentId: click.incidentId,
      user: click.user,
      outcome: outcome.kind,
    });
  });
}
