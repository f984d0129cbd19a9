/**
 * A cluster-only alarm (`cluster_failed_node_count`, or any alarm that names a cluster and no
 * node): nodemedic finds the NotReady nodes itself, then opens an incident for each through the
 * same opening path as a per-node alarm.
 * 1. Per-node readiness, when Container Insights has it (`NodeReadiness`).
 * 2. Otherwise (no series at all, or every series Ready while the alarm says a node failed: the
 *    readiness may lag), a sweep: the read-only quick probe on every node with the cluster tag,
 *    rate-limited by SSM, polled here within a bounded wait.
 * The channel then gets one message saying what was checked and what was found.
 *
 * Idempotent under EventBridge redelivery without losing a run that failed half-way: the probe is
 * read-only and opening is deduplicated per node, so a run may be repeated; only the summary must
 * not be posted twice. Each delivery of one alarm change (alarm name + state timestamp) claims
 * the next run number; a run that finished marks itself done; a later delivery that finds its
 * predecessor done marks itself done too and does nothing, and one that does not, runs again.
 * Two deliveries at the same moment may both run (and post twice); never none.
 */
import type { ParsedAlarm } from '../core/alarm.js';
import { InvalidInputError, isNotHandled } from '../core/errors.js';
import type { IncidentStore } from '../core/incident.js';
import type { NodeRef, ReadinessNode, SweepLimits, SweepResults } from '../core/ports.js';
import { renderSweepSummary, type SweepNodeNote } from '../core/render/sweep.js';
import {
  classifyProbe,
  DEFAULT_SWEEP_LIMITS,
  type SweepSummary,
  type SweptNode,
  summarizeSweep,
  sweepHeadline,
} from '../core/sweep.js';
import type { AppDeps } from './deps.js';

/** Opens (or joins) a node's incident: the per-node alarm's own path (app/incidents.ts). */
export type OpenNodeIncident = (
  node: NodeRef,
) => Promise<{ kind: 'opened' | 'duplicate'; incidentId: string }>;

/** What a cluster-only alarm did for one node found NotReady (or not healthy). */
export type ClusterNodeOutcome =
  | { readonly instanceId: string; readonly kind: 'opened' | 'duplicate'; readonly incidentId: string }
  | { readonly instanceId: string; readonly kind: 'skipped'; readonly reason: string; readonly code: string };

/** What a cluster-only alarm did. */
export type ClusterCheckOutcome =
  | {
      readonly kind: 'cluster-checked';
      readonly cluster: string;
      readonly source: 'readiness' | 'sweep';
      /** The summary's headline ("40 nodes probed, 38 healthy, 2 with findings"). */
      readonly headline: string;
      readonly nodes: readonly ClusterNodeOutcome[];
    }
  | { readonly kind: 'ignored'; readonly reason: string };

/** Knobs of the bounded wait, for tests and the local mode. */
export interface ClusterCheckOptions {
  /** How long the alarm function waits for a sweep's probes. @default SWEEP_WAIT_SECONDS */
  readonly waitSeconds?: number;
  /** @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** SSM's MaxConcurrency and MaxErrors for the sweep. @default DEFAULT_SWEEP_LIMITS */
  readonly limits?: SweepLimits;
}

/**
 * The longest the alarm function waits for a sweep. The quick probe's own deadline is 15 s, and
 * SSM runs a fifth of the cluster at a time (DEFAULT_SWEEP_LIMITS), so five waves fit with room
 * for delivery. The alarm function's timeout must exceed this plus the openings (see the README).
 */
export const SWEEP_WAIT_SECONDS = 150;
/** Between two reads of a sweep's results: soon at first, then every 5 s. */
const POLL_SCHEDULE_MS = [3_000, 2_000, 3_000, 5_000];
const POLL_EVERY_MS = 5_000;
/** Nodes opened at once, as for a multi-time-series alarm's contributors. */
const OPEN_CONCURRENCY = 4;
/** How long a run's claims are kept: far past EventBridge's 24-hour retry window. */
const RUN_TTL_SECONDS = 2 * 24 * 3600;
/** Deliveries of one alarm change that may each run; past this, the change counts as handled. */
const MAX_RUNS = 10;

/**
 * Handle a cluster-only alarm: ALARM finds the nodes and opens their incidents; OK closes nothing
 * (each node's incident ends on its own evidence: its alarm's or contributor's OK, or the
 * verification after a fix); INSUFFICIENT_DATA is handled before this is called.
 */
export async function handleClusterOnly(
  deps: AppDeps,
  alarm: ParsedAlarm,
  open: OpenNodeIncident,
  options: ClusterCheckOptions = {},
): Promise<ClusterCheckOutcome> {
  const cluster = alarm.cluster;
  if (!cluster) {
    throw new InvalidInputError(`alarm ${alarm.alarmName} names no node and no cluster`, {
      code: 'ALARM_NO_NODE',
    });
  }
  if (alarm.state !== 'ALARM') {
    return {
      kind: 'ignored',
      reason:
        `alarm ${alarm.alarmName} on cluster ${cluster} is ${alarm.state}: a cluster-only alarm's OK closes no ` +
        "incident; each node's incident ends on its own evidence (its alarm's OK, or the verification after a fix)",
    };
  }
  const key = `cluster-only:${alarm.alarmName}:${alarm.time}`;
  const run = await claimRun(deps.store, key);
  if (run === null) {
    return {
      kind: 'ignored',
      reason: `alarm ${alarm.alarmName} at ${alarm.time} was already handled: its nodes were checked and the summary posted`,
    };
  }

  const found = await findNodes(deps, alarm, cluster, options);
  const outcomes = await inBatches(found.summary.unhealthy, OPEN_CONCURRENCY, async (swept) =>
    openOne(deps, open, cluster, swept, found.readiness.get(swept.instanceId) ?? null),
  );
  const notes: SweepNodeNote[] = outcomes.map((o) =>
    o.kind === 'skipped'
      ? { instanceId: o.instanceId, incidentId: null, note: `not opened: ${o.reason}` }
      : { instanceId: o.instanceId, incidentId: o.incidentId },
  );
  // Slack failing here throws: the event is redelivered, the nodes answer "duplicate", and the
  // summary is posted then (this run is not marked done).
  await deps.chat.post(
    deps.channel,
    renderSweepSummary({ alarmName: alarm.alarmName, summary: found.summary, nodes: notes }),
  );
  await deps.store.claimOnce(`${key}#done${run}`, RUN_TTL_SECONDS);
  const headline = sweepHeadline(found.summary);
  deps.logger.info('cluster-only alarm handled', {
    alarmName: alarm.alarmName,
    cluster,
    source: found.summary.source,
    headline,
  });
  return { kind: 'cluster-checked', cluster, source: found.summary.source, headline, nodes: outcomes };
}

/**
 * Claim the next run of one alarm change: the run number, or null when a previous run finished.
 * Run n > 0 reads whether run n-1 finished by claiming `done<n-1>`: a run that finished holds it
 * already (false), one that failed does not (true: this run goes, and only run n ever reads that
 * key). A run that finds its predecessor done marks itself done, so the next one does too.
 */
async function claimRun(store: IncidentStore, key: string): Promise<number | null> {
  for (let n = 0; n < MAX_RUNS; n++) {
    if (!(await store.claimOnce(`${key}#run${n}`, RUN_TTL_SECONDS))) continue;
    if (n === 0) return 0;
    if (await store.claimOnce(`${key}#done${n - 1}`, RUN_TTL_SECONDS)) return n;
    await store.claimOnce(`${key}#done${n}`, RUN_TTL_SECONDS);
    return null;
  }
  return null;
}

/** The cluster's nodes that are not healthy: from readiness when it says so, else by a sweep. */
async function findNodes(
  deps: AppDeps,
  alarm: ParsedAlarm,
  cluster: string,
  options: ClusterCheckOptions,
): Promise<{ summary: SweepSummary; readiness: Map<string, ReadinessNode> }> {
  const notReady = deps.readiness ? await deps.readiness.notReady(cluster) : null;
  if (notReady && notReady.length > 0) {
    const readiness = new Map<string, ReadinessNode>();
    const nodes: SweptNode[] = notReady.map((node) => {
      const id = node.instanceId ?? node.nodeName ?? '?';
      readiness.set(id, node);
      return { instanceId: id, verdict: { kind: 'not-ready' as const } };
    });
    return { summary: summarizeSweep({ cluster, source: 'readiness', nodes }), readiness };
  }
  deps.logger.info(
    notReady === null
      ? 'no per-node readiness for the cluster: sweeping its nodes'
      : 'per-node readiness says every node is Ready while the alarm is in ALARM: sweeping to be sure',
    { cluster },
  );
  if (!deps.sweeper) {
    throw new InvalidInputError(
      `alarm ${alarm.alarmName} names cluster ${cluster} and no node, there is no per-node readiness for it, ` +
        'and this function cannot sweep the cluster',
      { code: 'ALARM_SWEEP_UNWIRED' },
    );
  }
  const { commandId } = await deps.sweeper.start(cluster, {
    limits: options.limits ?? DEFAULT_SWEEP_LIMITS,
    comment: `nodemedic sweep ${cluster} (${alarm.alarmName})`,
  });
  const results = await waitForSweep(deps, commandId, options);
  const nodes = results.nodes.map((result) => ({
    instanceId: result.instanceId,
    verdict: classifyProbe(result, deps.analyzeOptions),
  }));
  // SSM targets only the nodes whose agent it manages: EC2's count of the cluster's running nodes
  // says how many it could not reach at all, so the summary never calls the rest healthy.
  const fleet = await deps.inventory.clusterHealth(cluster);
  const targeted = Math.max(results.targeted ?? 0, fleet.total, nodes.length);
  return {
    summary: summarizeSweep({ cluster, source: 'sweep', nodes, targeted }),
    readiness: new Map(),
  };
}

/** Read the sweep until it is done or the bounded wait runs out; what answered by then counts. */
async function waitForSweep(
  deps: AppDeps,
  commandId: string,
  options: ClusterCheckOptions,
): Promise<SweepResults> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const budgetMs = (options.waitSeconds ?? SWEEP_WAIT_SECONDS) * 1000;
  let waited = 0;
  for (let attempt = 0; ; attempt++) {
    const results = await deps.sweeper!.results(commandId);
    if (results.done) return results;
    const pause = POLL_SCHEDULE_MS[attempt] ?? POLL_EVERY_MS;
    if (waited + pause > budgetMs) {
      deps.logger.warn('sweep not finished within the wait: summarizing what answered', {
        commandId,
        answered: results.nodes.length,
        targeted: results.targeted,
      });
      return results;
    }
    await sleep(pause);
    waited += pause;
  }
}

/** Resolve one unhealthy node in the inventory and open (or join) its incident. */
async function openOne(
  deps: AppDeps,
  open: OpenNodeIncident,
  cluster: string,
  swept: SweptNode,
  readiness: ReadinessNode | null,
): Promise<ClusterNodeOutcome> {
  const query = readiness
    ? {
        ...(readiness.instanceId ? { instanceId: readiness.instanceId } : {}),
        ...(readiness.nodeName && !readiness.instanceId ? { nodeName: readiness.nodeName } : {}),
      }
    : { instanceId: swept.instanceId };
  try {
    const node = await deps.inventory.resolve({ ...query, cluster });
    const opened = await open(node);
    return { instanceId: swept.instanceId, ...opened };
  } catch (error) {
    if (isNotHandled(error)) {
      return { instanceId: swept.instanceId, kind: 'skipped', reason: error.message, code: error.code };
    }
    throw error;
  }
}

/** Run `work` over `items`, at most `size` at a time, keeping the order of the results. */
export async function inBatches<T, R>(
  items: readonly T[],
  size: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += size) {
    results.push(...(await Promise.all(items.slice(i, i + size).map(work))));
  }
  return results;
}
