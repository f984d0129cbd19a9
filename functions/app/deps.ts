/**
 * What the use cases need, as ports. Each composition root (the Lambda handlers, the local demo,
 * the tests) builds one `AppDeps` from its own adapters; the use cases never know which.
 */
import type { AnalyzeOptions } from '../core/analyze.js';
import type { Catalog } from '../core/catalog.js';
import type { IncidentStore, Workflow } from '../core/incident.js';
import type { Pager } from '../core/pager.js';
import type { SafetyPolicy } from '../core/policy.js';
import type {
  AlarmContributors,
  AlarmStates,
  Chat,
  ClusterSweeper,
  CommandRunner,
  NodeInventory,
  NodeReadiness,
} from '../core/ports.js';
import type { AppMetrics } from './metrics.js';

/** The structured logger the use cases write to (Powertools Logger fits it). */
export interface AppLogger {
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
  error(message: string, extra?: Record<string, unknown>): void;
}

export interface AppDeps {
  readonly store: IncidentStore;
  readonly runner: CommandRunner;
  readonly inventory: NodeInventory;
  readonly chat: Chat;
  readonly workflow: Workflow;
  /** The alarms' states, for the verification after a fix. Absent: the check is reported as not made. */
  readonly alarms?: AlarmStates;
  /**
   * The contributors in ALARM of a multi-time-series alarm, for its alarm-level event. Absent:
   * such an event is refused with a reason (the contributor events still open incidents).
   */
  readonly contributors?: AlarmContributors;
  /**
   * Per-node readiness (Container Insights). Absent: cluster-only alarms are swept over SSM, and
   * the verification after a fix relies on the alarm's (or contributor's) state alone.
   */
  readonly readiness?: NodeReadiness;
  /**
   * Sweeps a cluster's nodes with the quick probe, for a cluster-only alarm without per-node
   * readiness (app/sweep.ts). Absent: such an alarm is refused with a reason (ALARM_SWEEP_UNWIRED).
   */
  readonly sweeper?: ClusterSweeper;
  /** The on-call pager (PagerDuty Events API v2): escalations page, endings resolve. @default none */
  readonly pager?: Pager;
  readonly policy: SafetyPolicy;
  /**
   * The remediations the workflow steps dispatch and judge from (their actions and verify
   * strategies). @default CATALOG, the built-in one; a test passes its own.
   */
  readonly catalog?: Catalog;
  readonly analyzeOptions: AnalyzeOptions;
  /** The Slack channel alarm incidents are posted in. */
  readonly channel: string;
  /** On-call user group to mention on escalation (`S…`), if any. */
  readonly onCallUserGroupId: string | null;
  /**
   * Script parameters every command gets (locally: the sandbox's paths; in AWS: none, so the
   * document defaults apply).
   */
  readonly scriptParameters: Readonly<Record<string, string>>;
  readonly clock: () => Date;
  readonly logger: AppLogger;
  /** Where the use cases count incidents, fixes, refusals... (functions/app/metrics.ts). @default none */
  readonly metrics?: AppMetrics;
}
