/**
 * A cluster sweep, the pure part: what each node's quick probe (diagnose.sh at depth `quick`)
 * says about it, and the one summary of what was checked. A cluster-only alarm
 * (`cluster_failed_node_count`) names no node; when Container Insights has no per-node readiness,
 * nodemedic probes every node of the cluster and opens an incident for each node that is not
 * healthy. A wrong "healthy" would hide a NotReady node, so a node is healthy only when the probe
 * answered, found nothing, and every section a quick probe reads answered too; anything else is
 * a finding, unreachable, or inconclusive, and each of those gets the full diagnosis.
 */
import { type AnalyzeOptions, analyze, parseFacts } from './analyze.js';
import { InvalidInputError, MalformedFactsError } from './errors.js';
import type { CauseId } from './model.js';
import type { SweepLimits, SweepNodeResult, SweepNodeStatus } from './ports.js';

/** What one node's quick probe says about it. */
export type SweepVerdict =
  | { readonly kind: 'healthy' }
  | {
      /** Container Insights reports the node NotReady (no probe ran: the full diagnosis says why). */
      readonly kind: 'not-ready';
    }
  | {
      readonly kind: 'findings';
      /** The causes found, most urgent first. */
      readonly causes: readonly CauseId[];
    }
  | {
      /** The probe never ran or never answered (SSM could not deliver it, or it timed out). */
      readonly kind: 'unreachable';
      readonly reason: string;
    }
  | {
      /** The probe answered but cannot call the node healthy (an unreadable document, a section unknown). */
      readonly kind: 'inconclusive';
      readonly reason: string;
    };

/** One node of a sweep, with its verdict. */
export interface SweptNode {
  readonly instanceId: string;
  readonly verdict: SweepVerdict;
}

/**
 * The sections a quick probe reads (diagnose.sh skips logs, images and processes). One of them
 * `unknown` means the node cannot be called healthy.
 */
const QUICK_SECTIONS = ['containerd', 'socket', 'fds', 'config', 'disk', 'plugins'] as const;

/** Statuses where the probe did not run to its end on the node. */
const NOT_RUN: ReadonlySet<SweepNodeStatus> = new Set(['undeliverable', 'timed-out', 'cancelled']);

/**
 * Classify one node's quick probe. Pure; never throws on the node's output (it came from the
 * node, and a broken document is itself something to say).
 */
export function classifyProbe(result: SweepNodeResult, options?: AnalyzeOptions): SweepVerdict {
  if (NOT_RUN.has(result.status) || (result.status === 'failed' && result.output.trim() === '')) {
    return { kind: 'unreachable', reason: `the probe ${describeStatus(result)}` };
  }
  let report: ReturnType<typeof analyze>;
  try {
    report = analyze(parseFacts(result.output), options);
  } catch (error) {
    if (error instanceof MalformedFactsError) {
      return {
        kind: 'inconclusive',
        reason: `the probe's output is not a facts document (${error.message})`,
      };
    }
    throw error;
  }
  if (report.findings.length > 0) {
    return { kind: 'findings', causes: [...new Set(report.findings.map((f) => f.cause))] };
  }
  const facts = report.facts as Record<string, { status?: string; reason?: string | null }>;
  const unknown = QUICK_SECTIONS.filter((section) => facts[section]?.status === 'unknown');
  if (unknown.length > 0) {
    const first = facts[unknown[0]!]?.reason;
    return {
      kind: 'inconclusive',
      reason: `the quick probe could not read ${unknown.join(', ')}${first ? ` (${first})` : ''}`,
    };
  }
  if (result.status === 'failed') {
    return { kind: 'inconclusive', reason: `the probe ${describeStatus(result)} after printing its facts` };
  }
  return { kind: 'healthy' };
}

/** How a probe ended, as a phrase: "was not delivered (DeliveryTimedOut)". */
const STATUS_PHRASES: Readonly<Record<SweepNodeStatus, string>> = {
  success: 'succeeded',
  failed: 'failed',
  'timed-out': 'timed out',
  undeliverable: 'was not delivered',
  cancelled: 'was cancelled',
};

function describeStatus(result: SweepNodeResult): string {
  const same = result.detail.toLowerCase().replace(/[^a-z]/g, '') === result.status.replace(/-/g, '');
  const word = result.detail && !same ? ` (${result.detail})` : '';
  return `${STATUS_PHRASES[result.status]}${word}`;
}

/** Counts of a sweep, by verdict. */
export interface SweepSummary {
  readonly cluster: string;
  /** How the nodes were found: per-node readiness, or a sweep over SSM. */
  readonly source: 'readiness' | 'sweep';
  /** Nodes probed; null when readiness named the NotReady ones (it counts no others). */
  readonly checked: number | null;
  /** Nodes probed and found healthy; null with readiness. */
  readonly healthy: number | null;
  /** The nodes that are not healthy, in instance-id order. */
  readonly unhealthy: readonly SweptNode[];
  /**
   * Nodes of the cluster without an answer: not targeted (EC2 counts more nodes with the cluster
   * tag than SSM reached: no agent answering) or not answered when the wait ran out. Never
   * counted healthy.
   */
  readonly unanswered: number;
}

/** Summarize classified nodes. `targeted` may exceed the answers when the bounded wait ran out. */
export function summarizeSweep(input: {
  readonly cluster: string;
  readonly source: 'readiness' | 'sweep';
  readonly nodes: readonly SweptNode[];
  readonly targeted?: number | null;
}): SweepSummary {
  const unhealthy = input.nodes
    .filter((n) => n.verdict.kind !== 'healthy')
    .sort((a, b) => a.instanceId.localeCompare(b.instanceId));
  const checked = input.nodes.length;
  const probed = input.source === 'sweep';
  return {
    cluster: input.cluster,
    source: input.source,
    checked: probed ? checked : null,
    healthy: probed ? checked - unhealthy.length : null,
    unhealthy,
    unanswered: probed ? Math.max(0, (input.targeted ?? checked) - checked) : 0,
  };
}

/** Plain-text headline of a summary: "40 nodes probed, 38 healthy, 2 with findings, …". */
export function sweepHeadline(summary: SweepSummary): string {
  if (summary.source === 'readiness') {
    const n = summary.unhealthy.length;
    return `Container Insights reports ${n} ${plural(n, 'node')} NotReady`;
  }
  const count = (kind: SweepVerdict['kind']) =>
    summary.unhealthy.filter((n) => n.verdict.kind === kind).length;
  const checked = summary.checked ?? 0;
  const of = summary.unanswered > 0 ? `${checked} of ${checked + summary.unanswered}` : `${checked}`;
  const parts = [
    `${of} ${plural(checked + summary.unanswered, 'node')} probed`,
    `${summary.healthy ?? 0} healthy`,
  ];
  const findings = count('findings');
  const unreachable = count('unreachable');
  const inconclusive = count('inconclusive');
  if (findings > 0) parts.push(`${findings} with findings`);
  if (unreachable > 0) parts.push(`${unreachable} unreachable`);
  if (inconclusive > 0) parts.push(`${inconclusive} inconclusive`);
  const headline = parts.join(', ');
  return summary.unanswered > 0
    ? `${headline}; ${summary.unanswered} not probed (no SSM agent answering, or not in time)`
    : headline;
}

/** What one unhealthy node's line says after its id: its causes, or why it is not healthy. */
export function verdictText(verdict: SweepVerdict): string {
  switch (verdict.kind) {
    case 'healthy':
      return 'healthy';
    case 'not-ready':
      return 'NotReady (Container Insights)';
    case 'findings':
      return verdict.causes.join(', ');
    case 'unreachable':
      return `unreachable: ${verdict.reason}`;
    case 'inconclusive':
      return `inconclusive: ${verdict.reason}`;
  }
}

function plural(n: number, word: string): string {
  return n === 1 ? word : `${word}s`;
}

/**
 * A sweep's rate limits, as SSM's SendCommand takes them (API_SendCommand.html): a count, or a
 * percentage of the targets. The default probes a fifth of the cluster at a time, and stops
 * sending once half the probes failed: a read-only probe is cheap, but a document that fails
 * everywhere should not be sent to 500 nodes.
 */
export const DEFAULT_SWEEP_LIMITS: SweepLimits = { maxConcurrency: '20%', maxErrors: '50%' };

/** MaxConcurrency: 1 to 7 digits, or 1% to 100%. */
const CONCURRENCY = /^([1-9][0-9]{0,6}|[1-9][0-9]?%|100%)$/;
/** MaxErrors may also be 0 or 0% (stop at the first error). */
const ERRORS = /^([0-9]|[1-9][0-9]{1,6}|[0-9]%|[1-9][0-9]%|100%)$/;

/** Check sweep limits; throws InvalidInputError naming the field. Returns them unchanged. */
export function validateSweepLimits(limits: SweepLimits): SweepLimits {
  if (typeof limits?.maxConcurrency !== 'string' || !CONCURRENCY.test(limits.maxConcurrency)) {
    throw new InvalidInputError(
      `sweep maxConcurrency ${JSON.stringify(limits?.maxConcurrency)} is not a count (1-9999999) or a percentage (1%-100%)`,
    );
  }
  if (typeof limits.maxErrors !== 'string' || !ERRORS.test(limits.maxErrors)) {
    throw new InvalidInputError(
      `sweep maxErrors ${JSON.stringify(limits.maxErrors)} is not a count (0-9999999) or a percentage (0%-100%)`,
    );
  }
  return limits;
}

/**
 * How many nodes at once a limit allows out of `total` (a local sweeper applies it itself, as SSM
 * does): a count, or a percentage rounded up, at least 1.
 */
export function concurrencyOf(limit: string, total: number): number {
  const percent = /^(\d+)%$/.exec(limit);
  if (percent) return Math.max(1, Math.ceil((total * Number(percent[1])) / 100));
  return Math.max(1, Number(limit));
}

/** How many failed probes a limit allows out of `total` before the rest are not sent. */
export function errorBudgetOf(limit: string, total: number): number {
  const percent = /^(\d+)%$/.exec(limit);
  if (percent) return Math.floor((total * Number(percent[1])) / 100);
  return Number(limit);
}
