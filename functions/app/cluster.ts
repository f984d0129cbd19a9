/**
 * The cluster hold's use cases (issue 10.3): decide it when an alarm arrives, put the node into the
 * cluster's one incident, feed its findings into the live summary, and keep Slack traffic within
 * the channel's rate.
 *
 * Slack allows about one message per second per channel ("Rate limits", docs.slack.dev). Two
 * mechanisms keep a storm within it across concurrent Lambdas, with nothing but the store shared:
 *
 * - **Coalescing.** A change to the cluster record bumps its `rev`. The writer then claims the
 *   summary slot of the current second (`claimOnce`); the one claimer waits until that second is
 *   over (plus a settling margin), reads the record, and writes the summary once. Every change
 *   written in that second is in what it reads, so one update per second carries them all, and
 *   the last state always reaches Slack (a writer whose claim lost knows the claimer reads later).
 * - **Pacing.** Every call this module makes (and every call of an arrival or an analysis while the
 *   cluster is busy) first claims the channel's slot for the current second, in that second's
 *   first half so the call lands within it; a call that finds the slot taken waits for the next
 *   second. At most one call per second per channel, whatever the number of Lambdas.
 */
import { type ClusterIncident, type ClusterMember, decideHold, newClusterIncident } from '../core/cluster.js';
import { DependencyError } from '../core/errors.js';
import type { Incident } from '../core/incident.js';
import type { Report } from '../core/model.js';
import type { Chat, MessageRef } from '../core/ports.js';
import { renderClusterSummary } from '../core/render/cluster.js';
import type { AppDeps } from './deps.js';
import { page } from './ending.js';

/** Milliseconds after a second ends before its summary is read: clocks of two Lambdas differ a little. */
const SETTLE_MS = 250;
/** A paced call starts only in the first part of its second, so that it lands within it. */
const PACE_WINDOW_MS = 500;
/** A claimed slot is used only if the call can go out within this long after the window. */
const PACE_SEND_MARGIN_MS = 200;
/** How long a paced call may wait for a slot before it gives up (a retryable error). */
const PACE_MAX_WAIT_MS = 20_000;
/** One-shot keys of this module live this long: long past the second they stand for. */
const SLOT_TTL_SECONDS = 120;
/** A root post that failed may be tried again by a later flush after this long. */
const ROOT_RETRY_SECONDS = 10;
/** Tries of one summary write (a 429, a 5xx, a throttled read) before it is left to the next change. */
const FLUSH_ATTEMPTS = 5;
/** Reads of the record one flush makes at most (root posted, then brought up to date). */
const FLUSH_ROUNDS = 12;

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** What the hold needs of the deps. */
type HoldDeps = Pick<
  AppDeps,
  'store' | 'chat' | 'inventory' | 'policy' | 'clock' | 'logger' | 'channel' | 'onCallUserGroupId' | 'pager'
>;

/**
 * The chat, paced to one call per second per channel across every Lambda: each call first claims
 * `slack-pace:<channel>:<second>` in the store. Reads (user groups, thread replies) are not paced.
 * A call waits at most `maxWaitMs` for a slot (20 s unless said), then fails with a retryable
 * SLACK_PACED error without sending; a Slack click, which must be answered within 3 s, says less.
 */
export function pacedChat(
  deps: Pick<AppDeps, 'chat' | 'store' | 'clock'>,
  { maxWaitMs = PACE_MAX_WAIT_MS }: { readonly maxWaitMs?: number } = {},
): Chat {
  const slot = async (channel: string): Promise<void> => {
    const deadline = Date.now() + maxWaitMs;
    for (;;) {
      const now = deps.clock().getTime();
      const second = Math.floor(now / 1000);
      if (
        now % 1000 < PACE_WINDOW_MS &&
        (await deps.store.claimOnce(`slack-pace:${channel}:${second}`, SLOT_TTL_SECONDS)) &&
        // The claim took long (a slow store, a busy process): a call sent now could land in a
        // second another Lambda has claimed. Claim again rather than send late.
        deps.clock().getTime() < second * 1000 + PACE_WINDOW_MS + PACE_SEND_MARGIN_MS
      )
        return;
      // Wake at the next second's start, spread a little so waiters do not all claim at once; never
      // past the deadline.
      const wait = 1000 - (deps.clock().getTime() % 1000) + Math.floor(Math.random() * 40);
      if (Date.now() + wait > deadline) {
        throw new DependencyError(
          'SLACK_PACED',
          `no free Slack slot in channel ${channel} for ${maxWaitMs / 1000} s: the channel's rate is taken`,
          { retryable: true },
        );
      }
      await delay(wait);
    }
  };
  return {
    post: async (channel, message, threadTs) => {
      await slot(channel);
      return deps.chat.post(channel, message, threadTs);
    },
    update: async (ref, message) => {
      await slot(ref.channel);
      return deps.chat.update(ref, message);
    },
    postEphemeral: async (channel, user, text, threadTs) => {
      await slot(channel);
      return deps.chat.postEphemeral(channel, user, text, threadTs);
    },
    userGroupMembers: (groupId) => deps.chat.userGroupMembers(groupId),
    replies: (thread, options) => deps.chat.replies(thread, options),
  };
}

/** The hold decided at arrival, before anything is written or posted. */
export type ArrivalHold =
  /** Held: the node joins the cluster incident and gets no card of its own. */
  | {
      readonly kind: 'held';
      readonly current: ClusterIncident | null;
      readonly detail: string;
      readonly fleet: { readonly total: number; readonly notReady: number };
    }
  /** Not held: the node gets its card, as ever. */
  | { readonly kind: 'free' }
  /**
   * The store or EC2 could not answer (throttled): the node's diagnosis starts anyway, without a
   * card; its analysis decides the hold again and posts the card when the node is not held.
   */
  | { readonly kind: 'undecided'; readonly why: string };

/**
 * Decide the cluster hold for a node incident that just opened, from the cluster's open incidents
 * (this one included) and EC2's view. Only reads: a failure to read is `undecided`, never a
 * reason to hold back the diagnosis.
 */
export async function decideAtArrival(deps: HoldDeps, incident: Incident): Promise<ArrivalHold> {
  const cluster = incident.node.cluster;
  let open: number;
  let fleet: { total: number; notReady: number };
  let current: ClusterIncident | null;
  try {
    [open, fleet, current] = await Promise.all([
      deps.store.countOpen(cluster),
      deps.inventory.clusterHealth(cluster),
      deps.store.getCluster(cluster),
    ]);
  } catch (error) {
    if (!(error instanceof DependencyError)) throw error;
    deps.logger.warn('cluster hold undecided at arrival: the diagnosis starts, its analysis decides', {
      incidentId: incident.id,
      error: error.message,
    });
    return { kind: 'undecided', why: error.message };
  }
  const now = deps.clock().toISOString();
  const decision = decideHold({ policy: deps.policy, openIncidents: open, fleet, current, now });
  if (!decision.hold) return { kind: 'free' };
  return {
    kind: 'held',
    current,
    detail: decision.detail,
    fleet: { total: decision.total, notReady: decision.notReady },
  };
}

/**
 * Put a held node into the cluster incident, opened now if needed (its opener pages once), and say
 * so on its record. Returns the record to schedule the summary of once the diagnosis started
 * ({@link scheduleSummary}). Failures are thrown; the caller starts the diagnosis anyway, and a
 * node that never joined joins with its findings at its analysis.
 */
export async function joinAtArrival(
  deps: HoldDeps,
  incident: Incident,
  hold: Extract<ArrivalHold, { kind: 'held' }>,
): Promise<{ incident: Incident; record: ClusterIncident }> {
  const record = await joinCluster(deps, incident, {
    current: hold.current,
    reason: hold.detail,
    fleet: hold.fleet,
    member: { causes: null },
  });
  const held = await deps.store.update(incident.id, (c) => ({
    ...c,
    clusterIncident: record.id,
    audit: [
      ...c.audit,
      {
        at: deps.clock().toISOString(),
        action: 'cluster-held',
        actor: 'nodemedic',
        detail: `${hold.detail}: part of cluster incident ${record.id}; no card of its own, per-node fixes held`,
      },
    ],
  }));
  return { incident: held, record };
}

/**
 * A node's diagnosis ended while its cluster is held: its findings join the summary. Returns the
 * cluster incident's id, or null when no hold is active for the cluster (`reason` given: open one,
 * as an analysis that finds the cluster impaired by EC2's count does).
 */
export async function holdAtAnalysis(
  deps: HoldDeps,
  incident: Incident,
  report: Report,
  open?: { reason: string; fleet: { total: number; notReady: number } },
): Promise<string | null> {
  const cluster = incident.node.cluster;
  const current = await deps.store.getCluster(cluster);
  const now = deps.clock().toISOString();
  const active = decideHold({
    policy: deps.policy,
    openIncidents: 0,
    fleet: { total: 0, notReady: 0 },
    current,
    now,
  });
  if (!active.hold && !open) return null;
  const joined = await joinCluster(deps, incident, {
    current,
    reason: open?.reason ?? (active.hold ? active.detail : ''),
    fleet: open?.fleet ?? current?.fleet ?? { total: 0, notReady: 0 },
    member: {
      causes: report.findings.map((f) => f.cause),
      healthy: report.healthy,
      containerd: containerdVersion(report),
    },
  });
  await scheduleSummary(deps, joined);
  return joined.id;
}

/** containerd's version as the diagnosis read it (the daemon's, else the binary's). */
function containerdVersion(report: Report): string | null {
  const facts = report.facts as { containerd?: { serverVersion?: unknown; binaryVersion?: unknown } } | null;
  const v = facts?.containerd?.serverVersion ?? facts?.containerd?.binaryVersion;
  return typeof v === 'string' ? v : null;
}

/**
 * Put the node into the cluster's current open incident, opening one when none holds the cluster.
 * Pages once, by whoever opened it.
 */
async function joinCluster(
  deps: HoldDeps,
  incident: Incident,
  how: {
    current: ClusterIncident | null;
    reason: string;
    fleet: { total: number; notReady: number };
    member: Pick<ClusterMember, 'causes' | 'healthy' | 'containerd'>;
  },
): Promise<ClusterIncident> {
  const cluster = incident.node.cluster;
  const now = deps.clock().toISOString();
  const member: ClusterMember = {
    incidentId: incident.id,
    instanceId: incident.node.instanceId,
    nodeName: incident.node.nodeName,
    joinedAt: now,
    ...how.member,
  };
  let current = how.current;
  // Twice at most: a cluster incident that ended (or was replaced) between the read and the write.
  for (let attempt = 1; attempt <= 2; attempt++) {
    let created = false;
    if (!current || !decideHold({ ...activeProbe(deps, now), current }).hold) {
      const opened = await deps.store.openCluster(
        newClusterIncident({ cluster, openedAt: now, reason: how.reason, fleet: how.fleet }),
        current?.id ?? null,
      );
      ({ created } = opened);
      current = opened.cluster;
      if (created)
        deps.logger.warn('cluster hold: one cluster incident', {
          cluster,
          id: current.id,
          reason: how.reason,
        });
    }
    const after = await deps.store.putClusterMember(cluster, current.id, member, {
      lastJoinedAt: now,
      fleet: how.fleet,
    });
    if (after) {
      if (created) await pageOnce(deps, incident, after);
      return after;
    }
    current = await deps.store.getCluster(cluster);
  }
  throw new DependencyError('CLUSTER_CONFLICT', `cluster ${cluster}: its cluster incident kept changing`, {
    retryable: true,
  });
}

/** Inputs that make decideHold answer only "is `current` still holding the cluster". */
function activeProbe(deps: HoldDeps, now: string) {
  return { policy: deps.policy, openIncidents: 0, fleet: { total: 0, notReady: 0 }, now };
}

/**
 * Page the on-call engineer once for the cluster incident (its id is the dedup key), and record
 * how it went on the record, where the summary says it: a pager outage never hides the hold.
 */
async function pageOnce(deps: HoldDeps, incident: Incident, record: ClusterIncident): Promise<void> {
  if (!deps.pager) return;
  let paged = 'ok';
  try {
    await page(deps, incident, 'cluster-hold', `cluster-hold#${record.id}`);
  } catch (error) {
    paged = error instanceof Error ? error.message : String(error);
    deps.logger.error('could not page for the cluster hold', { cluster: record.cluster, error: paged });
  }
  await deps.store.updateCluster(record.cluster, record.id, (c) => ({ ...c, paged }));
}

/**
 * Coalesce: claim this second's summary slot; the claimer waits for the second to end, then writes
 * the summary once. A writer that did not claim it is covered by the one that did. A failure here
 * never fails the arrival or the analysis: the change is on the record, and the next flush shows it.
 */
export async function scheduleSummary(deps: HoldDeps, record: ClusterIncident): Promise<void> {
  try {
    const now = deps.clock().getTime();
    const second = Math.floor(now / 1000);
    if (!(await claimRetried(deps, `cluster-summary:${record.id}:${second}`))) return;
    await delay((second + 1) * 1000 + SETTLE_MS - now);
    await flushSummary(deps, record.cluster, record.id);
  } catch (error) {
    deps.logger.warn('cluster summary not written now: the next change writes it', {
      cluster: record.cluster,
      error: String(error),
    });
  }
}

/**
 * claimOnce, tried again on a throttle: a writer that cannot tell whether it claimed the slot
 * would leave its change unwritten to Slack when it is the storm's last.
 */
async function claimRetried(deps: HoldDeps, key: string): Promise<boolean> {
  return whileThrottled(() => deps.store.claimOnce(key, SLOT_TTL_SECONDS), FLUSH_ATTEMPTS, 50);
}

/**
 * `work` (a store call), tried again with a doubling delay from `baseMs` while the store answers
 * with a retryable DependencyError (a throttled write did not commit), `attempts` times in all.
 */
export async function whileThrottled<T>(
  work: () => Promise<T>,
  attempts: number,
  baseMs: number,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (!(error instanceof DependencyError && error.retryable) || attempt >= attempts) throw error;
      await delay(baseMs * 2 ** attempt);
    }
  }
}

/**
 * Write the summary as the record stands: post the root when there is none yet (one poster at a
 * time), else update it in place when it is behind (`rev > renderedRev`). Slack failures are tried
 * again on the next paced slot, a few times.
 */
async function flushSummary(deps: HoldDeps, cluster: string, id: string): Promise<void> {
  const chat = pacedChat(deps);
  let failures = 0;
  // A few rounds: the root is posted, then updated when members joined while it was being posted;
  // a root another Lambda is posting is waited for, then brought up to date.
  for (let round = 1; round <= FLUSH_ROUNDS; round++) {
    try {
      const current = await deps.store.getCluster(cluster);
      if (current?.id !== id) return;
      const message = renderClusterSummary(current, {
        onCallGroupId: deps.onCallUserGroupId,
        policy: deps.policy,
      });
      if (!current.thread) {
        if (!(await deps.store.claimOnce(`cluster-root:${id}`, ROOT_RETRY_SECONDS))) {
          await delay(1000);
          continue;
        }
        const root = await chat.post(deps.channel, message);
        await recordRendered(deps, current, root);
        continue;
      }
      if (current.rev <= current.renderedRev) return;
      await chat.update(current.thread, message);
      await recordRendered(deps, current, null);
      return;
    } catch (error) {
      const retryable = error instanceof DependencyError && error.retryable;
      failures += 1;
      deps.logger.warn('cluster summary write failed', { cluster, failures, error: String(error) });
      if (!retryable || failures >= FLUSH_ATTEMPTS) throw error;
    }
  }
}

/** Record what the root now shows (and where it is, when just posted). */
async function recordRendered(
  deps: HoldDeps,
  shown: ClusterIncident,
  root: MessageRef | null,
): Promise<void> {
  await deps.store.updateCluster(shown.cluster, shown.id, (c) => ({
    ...c,
    ...(root && !c.thread ? { thread: root } : {}),
    renderedRev: Math.max(c.renderedRev, shown.rev),
  }));
}
