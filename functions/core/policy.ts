/**
 * The safety policy as typed, validated data (medik8s-style): blast radius, cooldowns, retry
 * budget, approval window and the two-person rule's size. Deployments override it through the
 * construct's props / the `SAFETY_POLICY` JSON; `validateSafetyPolicy` runs on every override.
 */
import { CatalogError } from './errors.js';
import { DEFAULT_ROLLING_FIX, type RollingFixPolicy, validateRollingFix } from './rolling.js';
import { validateShadowClusters } from './shadow.js';

/** Limits that keep nodemedic from making an outage worse. */
export interface SafetyPolicy {
  /** Fixes allowed to run at once in one cluster (default 1): a bad fix hits one node, not many. */
  readonly maxFixesInFlightPerCluster: number;
  /**
   * Above this percentage of a cluster's nodes NotReady (and at least two of them), per-node
   * fixes are held and one cluster-level alert is posted: a shared cause is likely (default 30).
   */
  readonly clusterHoldPercent: number;
  /**
   * Never hold a cluster for fewer NotReady nodes than this (default 2): one NotReady node in a
   * small cluster is not a shared cause.
   */
  readonly clusterHoldMinNodes: number;
  /**
   * This many NotReady nodes at once hold the cluster whatever its size (default 5): in a cluster
   * of 300, a bad rollout must not post 90 cards before the percentage is reached.
   */
  readonly clusterHoldNodes: number;
  /**
   * Minutes a cluster hold lasts after the last node joined it (default 60): every NotReady node of
   * the cluster in that time joins the one cluster thread; after it, a new storm opens a new one.
   */
  readonly clusterHoldMinutes: number;
  /** Minutes between fix attempts on one node (default 15), so a fix can settle before the next. */
  readonly nodeCooldownMinutes: number;
  /** Fix attempts per node per incident (default 2); beyond it a person takes over. */
  readonly retryBudget: number;
  /**
   * Minutes to wait for an approval before escalating (default 15). Must stay below 30, EKS node
   * auto-repair's NotReady window, so a person hears about it before the node is replaced.
   */
  readonly approvalTimeoutMinutes: number;
  /** Distinct approvers a destructive fix needs, the requester excluded (default 2, never fewer). */
  readonly destructiveApprovers: number;
  /**
   * Minutes after an alarm's OK during which the node going NotReady again is the same outage
   * flapping (default 10): the new diagnosis continues in the recovered incident's thread, which
   * says so, instead of starting a thread of its own. 0: every ALARM after an OK starts afresh.
   */
  readonly flapCooldownMinutes: number;
  /**
   * Clusters in shadow mode (default none): findings and what nodemedic would offer are posted,
   * but no button runs anything (functions/core/shadow.ts).
   */
  readonly shadowClusters: readonly string[];
  /** Days of incident history behind the success rates shown on the fix buttons (default 90). */
  readonly successRateWindowDays: number;
  /**
   * One approval on a held cluster's thread fixes its nodes in batches (functions/core/rolling.ts):
   * default on, for `safe` fixes only, batches as wide as `maxFixesInFlightPerCluster`.
   */
  readonly rollingFix: RollingFixPolicy;
}

/** The policy fields that are numbers, checked against `RULES`. */
type NumericField = Exclude<keyof SafetyPolicy, 'shadowClusters' | 'rollingFix'>;

/** The policy fields that are not numbers, each checked by its own validator. */
const OTHER_FIELDS = ['shadowClusters', 'rollingFix'];

/** The defaults from design.md's safety model. */
export const DEFAULT_SAFETY_POLICY: SafetyPolicy = Object.freeze({
  maxFixesInFlightPerCluster: 1,
  clusterHoldPercent: 30,
  clusterHoldMinNodes: 2,
  clusterHoldNodes: 5,
  clusterHoldMinutes: 60,
  nodeCooldownMinutes: 15,
  retryBudget: 2,
  approvalTimeoutMinutes: 15,
  destructiveApprovers: 2,
  flapCooldownMinutes: 10,
  shadowClusters: Object.freeze([]),
  successRateWindowDays: 90,
  rollingFix: DEFAULT_ROLLING_FIX,
});

/** Per-field bounds: [min, max, integer?]. Bounds are inclusive unless noted in `rules`. */
const RULES: Readonly<Record<NumericField, { min: number; max: number; integer: boolean; why: string }>> = {
  maxFixesInFlightPerCluster: { min: 1, max: 100, integer: true, why: 'at least 1 fix may run' },
  clusterHoldPercent: { min: 1, max: 100, integer: false, why: 'a percentage' },
  clusterHoldMinNodes: { min: 2, max: 10_000, integer: true, why: 'one node alone is no shared cause' },
  clusterHoldNodes: { min: 2, max: 10_000, integer: true, why: 'a whole number of nodes, at least 2' },
  clusterHoldMinutes: { min: 1, max: 1440, integer: false, why: 'minutes, at most a day' },
  nodeCooldownMinutes: { min: 0, max: 1440, integer: false, why: 'minutes, at most a day' },
  retryBudget: { min: 1, max: 10, integer: true, why: 'at least one attempt' },
  approvalTimeoutMinutes: {
    min: 1,
    max: 29,
    integer: false,
    why: "it must expire before EKS auto-repair's 30 minutes",
  },
  destructiveApprovers: {
    min: 2,
    max: 5,
    integer: true,
    why: 'destructive fixes need two distinct approvers',
  },
  flapCooldownMinutes: { min: 0, max: 1440, integer: false, why: 'minutes, at most a day' },
  successRateWindowDays: { min: 1, max: 365, integer: true, why: 'whole days, at most a year of history' },
};

/**
 * Merge `p` over the defaults and validate every field. Throws CatalogError naming the field for
 * an unknown key, a non-number, or a value outside its bounds.
 */
export function validateSafetyPolicy(p: Partial<SafetyPolicy>): SafetyPolicy {
  if (typeof p !== 'object' || p === null || Array.isArray(p)) {
    throw new CatalogError(`safety policy: expected an object, got ${p === null ? 'null' : typeof p}`);
  }
  for (const key of Object.keys(p)) {
    if (!Object.hasOwn(RULES, key) && !OTHER_FIELDS.includes(key)) {
      throw new CatalogError(
        `safety policy.${key}: unknown field (known: ${[...Object.keys(RULES), ...OTHER_FIELDS].join(', ')})`,
      );
    }
  }
  const merged: Record<string, unknown> = { ...DEFAULT_SAFETY_POLICY };
  if (p.shadowClusters !== undefined) merged.shadowClusters = validateShadowClusters(p.shadowClusters);
  for (const [key, rule] of Object.entries(RULES)) {
    const value = (p as Record<string, unknown>)[key];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new CatalogError(`safety policy.${key}: expected a number, got ${JSON.stringify(value)}`);
    }
    if (rule.integer && !Number.isInteger(value)) {
      throw new CatalogError(`safety policy.${key}: expected a whole number, got ${value}`);
    }
    if (value < rule.min || value > rule.max) {
      throw new CatalogError(
        `safety policy.${key}: ${value} is outside ${rule.min}..${rule.max} (${rule.why})`,
      );
    }
    merged[key] = value;
  }
  // After the numbers: the batch size is bounded by the merged fix limit.
  merged.rollingFix = validateRollingFix(p.rollingFix ?? {}, merged.maxFixesInFlightPerCluster as number);
  return Object.freeze(merged) as unknown as SafetyPolicy;
}
