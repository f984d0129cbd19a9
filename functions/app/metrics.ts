/**
 * The numbers an SRE lead asks for, as a port: incidents by cause and cluster, time to findings and
 * to recovery, fixes applied / failed / rolled back, approvals refused, escalations, holds, and
 * Slack errors (nodemedic's own health). The use cases call `AppMetrics`; the Lambda composition
 * root writes them as CloudWatch embedded metric format through Powertools
 * (functions/adapters/aws/powertools-metrics.ts), once per invocation. No I/O here.
 */
import type { Incident } from '../core/incident.js';
import type { Chat } from '../core/ports.js';

/** The one namespace every nodemedic metric is in (the dashboard and alarms read it). */
export const METRICS_NAMESPACE = 'nodemedic';
/** The `service` dimension every metric carries (Powertools adds it). */
export const METRICS_SERVICE = 'nodemedic';

/** Metric names in the `nodemedic` namespace: a public contract (dashboard, alarms), only add. */
export const METRICS = {
  /** An incident diagnosed for the first time; dimensions cluster, cause. */
  incidents: 'Incidents',
  /** Seconds from the alarm to the findings in the thread; dimensions cluster, cause. */
  timeToFindings: 'TimeToFindings',
  /** Seconds from the alarm to a verified recovery; dimensions cluster, cause. */
  timeToRecovery: 'TimeToRecovery',
  /** A fix that ran and reported success; dimensions cluster, remediation. */
  fixesApplied: 'FixesApplied',
  /** A fix that failed to run or whose verification failed; dimensions cluster, remediation. */
  fixesFailed: 'FixesFailed',
  /** A fix that was rolled back; dimensions cluster, remediation. */
  fixesRolledBack: 'FixesRolledBack',
  /** A click refused (not on call, another channel or team, shadow mode); dimension cluster. */
  approvalsRefused: 'ApprovalsRefused',
  /** An incident handed to a person; dimensions cluster, reason. */
  escalations: 'Escalations',
  /** Fixes held by the safety policy; dimensions cluster, reason. */
  holds: 'Holds',
  /** A Slack Web API call that failed; no dimension but the service, so one alarm watches it. */
  slackErrors: 'SlackErrors',
} as const;

/** One of {@link METRICS}. */
export type MetricName = (typeof METRICS)[keyof typeof METRICS];

/** Dimension values: short identifiers (cluster names, cause and remediation ids, reasons). */
export type MetricDimensions = Readonly<Record<string, string>>;

/** Where the use cases record metrics. */
export interface AppMetrics {
  /** Count one occurrence (or `value`). */
  count(name: MetricName, dimensions: MetricDimensions, value?: number): void;
  /** A duration in seconds. */
  seconds(name: MetricName, value: number, dimensions: MetricDimensions): void;
}

/** The default when a composition root records no metrics (the CLI, most tests). */
const NO_METRICS: AppMetrics = Object.freeze({ count() {}, seconds() {} });

/** The cause an incident is counted under: its first (highest-ranked) finding, or `none`. */
function causeDimension(incident: Pick<Incident, 'findings'>): string {
  return incident.findings[0]?.cause ?? 'none';
}

/** Whole seconds from `fromIso` to `now`, never negative (clock skew between functions). */
function secondsSince(fromIso: string, now: Date): number {
  const from = Date.parse(fromIso);
  return Number.isNaN(from) ? 0 : Math.max(0, Math.round((now.getTime() - from) / 1000));
}

/**
 * The chat with every failed Slack call counted as `SlackErrors` (then rethrown unchanged), so
 * nodemedic's own health alarm sees Slack failing wherever it fails.
 */
export function countingSlackErrors(chat: Chat, metrics: AppMetrics): Chat {
  const counted =
    <A extends unknown[], R>(call: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      try {
        return await call(...args);
      } catch (error) {
        metrics.count(METRICS.slackErrors, {});
        throw error;
      }
    };
  return {
    post: counted(chat.post.bind(chat)),
    update: counted(chat.update.bind(chat)),
    postEphemeral: counted(chat.postEphemeral.bind(chat)),
    userGroupMembers: counted(chat.userGroupMembers.bind(chat)),
    replies: counted(chat.replies.bind(chat)),
  };
}

/** The metrics of a use case's deps, or none. */
function of(deps: { readonly metrics?: AppMetrics }): AppMetrics {
  return deps.metrics ?? NO_METRICS;
}

/**
 * Findings posted. The first diagnosis of an incident counts it (by cluster and cause) and its
 * time to findings; a re-run does not count it again. A hold counts whenever fixes are held.
 */
export function recordFindings(
  deps: { readonly metrics?: AppMetrics; readonly clock: () => Date },
  incident: Incident,
  outcome: { readonly cause: string; readonly held: string | null },
): void {
  const m = of(deps);
  const cluster = incident.node.cluster;
  if (!incident.audit.some((a) => a.action === 'analyzed')) {
    m.count(METRICS.incidents, { cluster, cause: outcome.cause });
    m.seconds(METRICS.timeToFindings, secondsSince(incident.openedAt, deps.clock()), {
      cluster,
      cause: outcome.cause,
    });
  }
  if (outcome.held) m.count(METRICS.holds, { cluster, reason: outcome.held });
}

/** A fix, its verification or its rollback was judged. */
export function recordEvaluation(
  deps: { readonly metrics?: AppMetrics },
  incident: Incident,
  step: { readonly purpose: string; readonly remediation: string; readonly ok: boolean },
): void {
  const dims = { cluster: incident.node.cluster, remediation: step.remediation };
  if (step.purpose === 'fix') of(deps).count(step.ok ? METRICS.fixesApplied : METRICS.fixesFailed, dims);
  else if (step.purpose === 'verify' && !step.ok) of(deps).count(METRICS.fixesFailed, dims);
  else if (step.purpose === 'rollback') of(deps).count(METRICS.fixesRolledBack, dims);
}

/** The incident recovered after a verified fix: its time to recovery, by cluster and cause. */
export function recordRecovery(
  deps: { readonly metrics?: AppMetrics; readonly clock: () => Date },
  incident: Incident,
): void {
  of(deps).seconds(METRICS.timeToRecovery, secondsSince(incident.openedAt, deps.clock()), {
    cluster: incident.node.cluster,
    cause: causeDimension(incident),
  });
}

/** The incident was handed to a person. */
export function recordEscalation(
  deps: { readonly metrics?: AppMetrics },
  incident: Incident,
  reason: string,
): void {
  of(deps).count(METRICS.escalations, { cluster: incident.node.cluster, reason });
}
