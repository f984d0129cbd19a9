/**
 * Success rates learned from history: for each cause → remediation in a cluster, how often
 * verification passed after nodemedic applied the fix. The record of each attempt is derived from
 * the incident's audit trail when the incident ends (`fixRecords`), stored by the incident store
 * under `cluster#cause` with the end time (a query per cluster and cause, never a scan), and read
 * back over the policy's window (`successRateWindowDays`). No history means no number: a rate is
 * only ever the count of recorded attempts.
 */
import { InvalidInputError } from './errors.js';
import type { Incident } from './incident.js';
import { type CauseId, type Finding, isRemediationId, type RemediationId } from './model.js';
import { getRemediation } from './remediations/index.js';

/** One applied fix and whether its verification passed, as kept in the history. */
export interface FixRecord {
  readonly incidentId: string;
  readonly cluster: string;
  /** The cause the fix was applied for (the first finding that offered it). */
  readonly cause: CauseId;
  readonly remediation: RemediationId;
  /** True only when the verification after the fix passed. */
  readonly passed: boolean;
  /** When the incident ended (ISO-8601 UTC): the history's sort key. */
  readonly endedAt: string;
}

/** Attempts and passes of one remediation for one cause in one cluster. */
export interface SuccessRate {
  readonly passed: number;
  readonly total: number;
}

/** Rates per offered remediation; a remediation without history has no entry. */
export type SuccessRates = Readonly<Partial<Record<RemediationId, SuccessRate>>>;

/** The history's partition key: `cluster#cause` (cluster names hold no `#`). */
export function historyKey(cluster: string, cause: CauseId): string {
  return `${cluster}#${cause}`;
}

/** The cause a remediation answers in these findings: the first finding that lists it, else null. */
export function causeFor(findings: readonly Finding[], remediation: RemediationId): CauseId | null {
  const listed = findings.find((f) => f.remediations.includes(remediation));
  if (listed) return listed.cause;
  const fixes = getRemediation(remediation).fixes;
  return findings.find((f) => fixes.includes(f.cause))?.cause ?? null;
}

/**
 * The fixes an ended incident applied, read from its audit trail in order: each `fix-sent` opens
 * an attempt of the remediation it names; `verify-ok` passes it, `verify-failed` or `fix-failed`
 * fails it, and so does `ready-failed` after a passed verification (the node never came back
 * Ready). An attempt that never reached a verdict (the run failed, a person took over) did not
 * pass: a rate is never flattered by what was not verified.
 */
export function fixRecords(incident: Incident, endedAt: string): FixRecord[] {
  const attempts: { remediation: RemediationId; passed: boolean | null }[] = [];
  for (const entry of incident.audit) {
    const open = attempts[attempts.length - 1];
    if (entry.action === 'fix-sent') {
      const id = entry.detail.split(':', 1)[0]?.trim();
      if (isRemediationId(id)) attempts.push({ remediation: id, passed: null });
    } else if (open && open.passed === null) {
      if (entry.action === 'verify-ok') open.passed = true;
      else if (entry.action === 'verify-failed' || entry.action === 'fix-failed') open.passed = false;
    } else if (open && entry.action === 'ready-failed') {
      open.passed = false;
    }
  }
  const records: FixRecord[] = [];
  for (const attempt of attempts) {
    const cause = causeFor(incident.findings, attempt.remediation);
    if (!cause) continue;
    records.push({
      incidentId: incident.id,
      cluster: incident.node.cluster,
      cause,
      remediation: attempt.remediation,
      passed: attempt.passed === true,
      endedAt,
    });
  }
  return records;
}

/**
 * Check a history query's start: an ISO-8601 UTC time (`…Z`), since both stores compare end times
 * as text. Throws InvalidInputError naming the value.
 */
export function validateSince(since: string): string {
  if (typeof since !== 'string' || !since.endsWith('Z') || Number.isNaN(Date.parse(since))) {
    throw new InvalidInputError(`history since: expected an ISO-8601 UTC time, got ${JSON.stringify(since)}`);
  }
  return since;
}

/** The first instant of a `days`-long window ending at `now` (ISO-8601 UTC). */
export function windowStart(now: Date, days: number): string {
  return new Date(now.getTime() - days * 86_400_000).toISOString();
}

/**
 * The rate of each offered remediation, from the history of the cause it answers here.
 * `history(cause)` holds that cause's records in the window; remediations with no record get none.
 */
export function successRates(
  findings: readonly Finding[],
  offered: readonly RemediationId[],
  history: ReadonlyMap<CauseId, readonly FixRecord[]>,
): SuccessRates {
  const rates: Partial<Record<RemediationId, SuccessRate>> = {};
  for (const remediation of offered) {
    const cause = causeFor(findings, remediation);
    const records = (cause ? (history.get(cause) ?? []) : []).filter((r) => r.remediation === remediation);
    if (records.length === 0) continue;
    rates[remediation] = { passed: records.filter((r) => r.passed).length, total: records.length };
  }
  return rates;
}

/**
 * The offered fixes ordered by success rate within their tier: each tier keeps the positions it
 * had (a safe fix never moves below a destructive one because of a number), and inside a tier the
 * fixes with history come first, higher rate first (more attempts first on a tie), then the fixes
 * without history in the diagnosis's own order.
 */
export function orderByRate(offered: readonly RemediationId[], rates: SuccessRates): RemediationId[] {
  const score = (id: RemediationId): [number, number] => {
    const rate = rates[id];
    return rate ? [rate.passed / rate.total, rate.total] : [-1, 0];
  };
  const byTier = new Map<string, RemediationId[]>();
  for (const id of offered) {
    const tier = getRemediation(id).tier;
    byTier.set(tier, [...(byTier.get(tier) ?? []), id]);
  }
  for (const list of byTier.values()) {
    // Array.prototype.sort is stable: fixes that tie keep the diagnosis's order.
    list.sort((a, b) => {
      const [ra, na] = score(a);
      const [rb, nb] = score(b);
      return rb - ra || nb - na;
    });
  }
  return offered.map((id) => byTier.get(getRemediation(id).tier)!.shift()!);
}

/** How a rate reads on the card: `recovered 11 of 12 here`. */
export function rateLabel(rate: SuccessRate): string {
  return `recovered ${rate.passed} of ${rate.total} here`;
}

/**
 * Where the history lives in the incident table: a global secondary index whose partition key is
 * `historyKey(cluster, cause)` and whose sort key is the end time, so the window is one Query per
 * cluster and cause. The construct (infra/nodemedic.ts) and the DynamoDB store share these names.
 */
export const HISTORY_INDEX = Object.freeze({
  name: 'byClusterCause',
  partitionKey: 'history',
  sortKey: 'endedAt',
});
