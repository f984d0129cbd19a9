/**
 * The trust pieces of the findings message, rendered for functions/core/render/slack.ts: the
 * shadow-mode notice (what nodemedic would offer, and how to let it act) and the success rate
 * beside a fix ("recovered 11 of 12 here"). Cluster names are escaped like everything else.
 */
import type { SectionBlock } from '@slack/types';
import type { RemediationId } from '../model.js';
import { rateLabel, type SuccessRates } from '../success-rates.js';
import { escapeMrkdwn, SLACK_LIMITS, section } from './mrkdwn.js';

/** The findings message's notice for a cluster in shadow mode: nothing runs, and how to switch. */
export function shadowNotice(cluster: string): SectionBlock {
  const name = escapeMrkdwn(cluster);
  return section(
    `:ghost: *Shadow mode* in cluster \`${name}\`: nodemedic posts its diagnosis and what it would offer, and runs nothing (no button). ` +
      `To let it act here, remove \`${name}\` from the \`shadowClusters\` context value (\`cdk deploy -c shadowClusters=…\`) and redeploy.`,
  );
}

/** The card's note when a shadow-mode incident ends at its findings. */
export function shadowCardNote(cluster: string): string {
  return `Shadow mode in cluster \`${escapeMrkdwn(cluster)}\`: findings posted with what nodemedic would offer; nothing runs.`;
}

/**
 * A fix button's label with its rate: `Restart containerd (safe) · recovered 11 of 12 here`, or
 * the short `· 11/12 here` when the long one would pass Slack's button limit (the tier must stay).
 */
export function buttonLabel(base: string, rates: SuccessRates | undefined, id: RemediationId): string {
  const rate = rates?.[id];
  if (!rate) return base;
  const long = `${base}${rateSuffix(rates, id)}`;
  return long.length <= SLACK_LIMITS.buttonText ? long : `${base} · ${rate.passed}/${rate.total} here`;
}

/** ` · recovered 11 of 12 here` after a fix with history, nothing after one without. */
export function rateSuffix(rates: SuccessRates | undefined, id: RemediationId): string {
  const rate = rates?.[id];
  return rate ? ` · ${rateLabel(rate)}` : '';
}
