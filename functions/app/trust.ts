/**
 * What the findings step asks of the history before it posts: the success rate of each offered
 * fix in this cluster (one store query per cause involved), and the order they are offered in.
 * A history that cannot be read leaves the card without numbers; it never stops the findings.
 */
import type { CauseId, Finding, RemediationId } from '../core/model.js';
import {
  causeFor,
  type FixRecord,
  orderByRate,
  type SuccessRates,
  successRates,
  windowStart,
} from '../core/success-rates.js';
import type { AppDeps } from './deps.js';

/** The offered fixes, ordered by their success rate within their tier, and the rates to show. */
export async function rankByHistory(
  deps: Pick<AppDeps, 'store' | 'policy' | 'clock' | 'logger'>,
  cluster: string,
  findings: readonly Finding[],
  offered: readonly RemediationId[],
): Promise<{ offered: RemediationId[]; rates: SuccessRates }> {
  const causes = [
    ...new Set(offered.map((id) => causeFor(findings, id)).filter((c): c is CauseId => c !== null)),
  ];
  if (causes.length === 0) return { offered: [...offered], rates: {} };
  const since = windowStart(deps.clock(), deps.policy.successRateWindowDays);
  try {
    const history = new Map<CauseId, readonly FixRecord[]>(
      await Promise.all(
        causes.map(async (cause) => [cause, await deps.store.fixHistory(cluster, cause, since)] as const),
      ),
    );
    const rates = successRates(findings, offered, history);
    return { offered: orderByRate(offered, rates), rates };
  } catch (error) {
    deps.logger.warn('fix history unavailable: the fixes are offered without success rates', {
      cluster,
      error: error instanceof Error ? error.message : String(error),
    });
    return { offered: [...offered], rates: {} };
  }
}
