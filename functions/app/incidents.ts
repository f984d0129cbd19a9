/**
 * Use cases that open and close incidents: a NotReady alarm (a per-node alarm, a contributor of a
 * multi-time-series alarm, or such an alarm's alarm-level change), an alarm back to OK, and a
 * `@nodemedic diagnose` mention in someone else's alert thread. They resolve the node, open (or
 * find) the one incident for it, post the status card, and start one workflow execution.
 */

import { contributorAlarm, dedupeKey, type ParsedAlarm } from '../core/alarm.js';
import type { ClusterIncident } from '../core/cluster.js';
import { DependencyError, InvalidInputError, isNotHandled } from '../core/errors.js';
import { type AuditAction, type AuditEntry, type Incident, isTerminal } from '../core/incident.js';
import type { MessageRef, NodeRef } from '../core/ports.js';
import { escapeMrkdwn, renderCard, renderDecision, renderOutcome } from '../core/render/slack.js';
import { transition } from '../core/transitions.js';
import { type ArrivalHold, decideAtArrival, joinAtArrival, pacedChat, scheduleSummary } from './cluster.js';
import type { AppDeps } from './deps.js';
import { applyTransition, perform } from './effects.js';
import { incidentEnded, resolveAfterRecovery } from './ending.js';
import { type ClusterCheckOptions, type ClusterCheckOutcome, handleClusterOnly, inBatches } from './sweep.js';

/** What happened to an alarm event. */
export type AlarmOutcome =
  | { readonly kind: 'opened'; readonly incidentId: string }
  | { readonly kind: 'duplicate'; readonly incidentId: string }
  | { readonly kind: 'recovered'; readonly incidentId: string }
  | { readonly kind: 'ignored'; readonly reason: string; readonly incidentId?: string }
  | {
      readonly kind: 'contributors';
      /** One entry per contributor in ALARM that the alarm-level change fanned out to. */
      readonly contributors: readonly ContributorOutcome[];
    }
  | ClusterCheckOutcome;

/** What the alarm-level change of a multi-time-series alarm did for one contributor. */
export type ContributorOutcome =
  | { readonly contributorId: string; readonly kind: 'opened' | 'duplicate'; readonly incidentId: string }
  | {
      readonly contributorId: string;
      readonly kind: 'skipped';
      readonly reason: string;
      readonly code: string;
    };

/** Contributors opened at once by an alarm-level change: bounded, so 100 nodes fit the function's time. */
const CONTRIBUTOR_CONCURRENCY = 4;

/**
 * CloudWatch's reason when a contributor's time series stopped coming back from the query
 * (Create_Metrics_Insights_Alarm.html, "Missing Data"): the node was terminated or went silent.
 * That is not a recovery.
 */
const CONTRIBUTOR_NO_DATA = /^No data was returned for this contributor/;

/**
 * An audit entry stamped with the deps' clock: the app layer's one audit helper, for the lines no
 * transition (functions/core/transitions.ts) writes.
 */
export function auditEntry(
  deps: { readonly clock: () => Date },
  action: AuditAction,
  actor: string,
  detail: string,
): AuditEntry {
  return { at: deps.clock().toISOString(), action, actor, detail };
}

/** The thread replies go to. */
export function threadOf(incident: Incident): MessageRef | null {
  return incident.thread ?? incident.card;
}

/**
 * Handle a parsed alarm: ALARM opens (or joins) the node's incident, OK closes the incident that
 * alarm (or contributor) opened, INSUFFICIENT_DATA is ignored with a reason. The alarm-level ALARM
 * of a multi-time-series alarm opens one incident per contributor in ALARM. A cluster-only alarm
 * finds its nodes (per-node readiness, else a sweep: app/sweep.ts; `options` bound the sweep's
 * wait) and opens one incident each. Throws NodeNotFoundError for unknown/untagged nodes.
 */
export async function handleAlarm(
  deps: AppDeps,
  alarm: ParsedAlarm,
  options: ClusterCheckOptions = {},
): Promise<AlarmOutcome> {
  if (alarm.state === 'INSUFFICIENT_DATA') {
    return { kind: 'ignored', reason: `alarm ${alarm.alarmName} is INSUFFICIENT_DATA: nothing to do` };
  }
  if (alarm.multiTimeSeries) {
    if (alarm.state === 'OK') {
      return {
        kind: 'ignored',
        reason: `alarm ${alarm.alarmName} is OK: each contributor's own OK closes its node's incident`,
      };
    }
    return openForContributors(deps, alarm);
  }
  if (!alarm.instanceId && !alarm.nodeName) {
    // A cluster-only alarm: nodemedic finds the nodes (readiness, else a sweep) and opens each one's
    // incident through the per-node alarm's own path.
    if (alarm.clusterOnly) {
      return handleClusterOnly(deps, alarm, (node) => openForAlarm(deps, alarm, node), options);
    }
    throw new InvalidInputError(
      `alarm ${alarm.alarmName} names no InstanceId or NodeName dimension, so no node can be picked`,
      { code: 'ALARM_NO_NODE' },
    );
  }
  const node = await resolveNode(deps, alarm);
  if (alarm.state === 'OK') return closeRecovered(deps, node, alarm);
  return openForAlarm(deps, alarm, node);
}

/** The node an alarm (or contributor) names. Throws NodeNotFoundError for unknown/untagged nodes. */
function resolveNode(deps: AppDeps, alarm: ParsedAlarm): Promise<NodeRef> {
  return deps.inventory.resolve({
    ...(alarm.instanceId ? { instanceId: alarm.instanceId } : {}),
    ...(alarm.nodeName ? { nodeName: alarm.nodeName } : {}),
    ...(alarm.cluster ? { cluster: alarm.cluster } : {}),
  });
}

/** Open (or join) the incident of the node an alarm (or contributor) in ALARM names. */
async function openForAlarm(
  deps: AppDeps,
  alarm: ParsedAlarm,
  node: NodeRef,
): Promise<{ kind: 'opened' | 'duplicate'; incidentId: string }> {
  const result = await openIncident(deps, {
    node,
    alarmName: alarm.alarmName,
    contributorId: alarm.contributor?.id ?? null,
    clusterAlarm: alarm.clusterOnly,
    requestedBy: 'alarm',
  });
  return { kind: result.created ? 'opened' : 'duplicate', incidentId: result.incident.id };
}

/**
 * The alarm-level ALARM of a multi-time-series alarm names no node: list its contributors in ALARM
 * and open (or join) each one's incident, as its own contributor event would. A contributor that
 * names no known node is skipped with its reason; a dependency failure is thrown, so the event is
 * redelivered and the contributors already handled answer "duplicate".
 */
async function openForContributors(deps: AppDeps, alarm: ParsedAlarm): Promise<AlarmOutcome> {
  if (!deps.contributors) {
    throw new InvalidInputError(
      `alarm ${alarm.alarmName} is a multi-time-series alarm and this function cannot list its contributors`,
      { code: 'ALARM_CONTRIBUTORS_UNWIRED' },
    );
  }
  const listed = await deps.contributors.inAlarm(alarm.alarmName);
  const outcomes = await inBatches(
    listed,
    CONTRIBUTOR_CONCURRENCY,
    async (item): Promise<ContributorOutcome> => {
      try {
        const one = contributorAlarm(alarm, item);
        const opened = await openForAlarm(deps, one, await resolveNode(deps, one));
        return { contributorId: item.id, ...opened };
      } catch (error) {
        if (isNotHandled(error)) {
          return { contributorId: item.id, kind: 'skipped', reason: error.message, code: error.code };
        }
        throw error;
      }
    },
  );
  deps.logger.info('multi-time-series alarm fanned out to its contributors', {
    alarmName: alarm.alarmName,
    contributors: outcomes.length,
  });
  return { kind: 'contributors', contributors: outcomes };
}

/**
 * Open the node's incident, or return the open one (redelivered events, flapping alarms, a
 * second mention). A new incident gets its card and one workflow execution. A card Slack refuses
 * (a 429, an outage) never stops the diagnosis: the execution starts anyway and its analysis posts
 * the card. An incident whose execution never started (the function failed in between) gets it
 * started by the next delivery of its event.
 */
async function openIncident(
  deps: AppDeps,
  request: {
    node: NodeRef;
    alarmName: string;
    requestedBy: string;
    thread?: MessageRef;
    /** The contributor of a multi-time-series alarm that raised it, if one did. */
    contributorId?: string | null;
    /** The alarm names a cluster, not this node (found by readiness or a sweep). */
    clusterAlarm?: boolean;
  },
): Promise<{ incident: Incident; created: boolean }> {
  const openedAt = deps.clock().toISOString();
  const nodeKey = dedupeKey(request.node.cluster, request.node.instanceId);
  const contributorId = request.contributorId ?? null;
  // A mention names its own thread; an alarm within the flap cooldown continues the last one.
  const flap = request.thread ? null : await recentRecovery(deps, nodeKey);
  const { incident, created } = await deps.store.open({
    id: `${nodeKey}#${openedAt}`,
    nodeKey,
    node: request.node,
    alarmName: request.alarmName,
    contributorId,
    ...(request.clusterAlarm ? { clusterAlarm: true } : {}),
    openedAt,
    phase: 'diagnosing',
    card: null,
    thread: request.thread ?? (flap ? threadOf(flap.incident) : null),
    reopens: flap?.incident.id ?? null,
    findingsMessage: null,
    commands: [],
    findings: [],
    offered: [],
    requested: null,
    approvals: [],
    taskToken: null,
    attempts: 0,
    execution: null,
    audit: [
      auditEntry(
        deps,
        'opened',
        request.requestedBy,
        `alarm ${request.alarmName}${contributorId ? ` (contributor ${contributorId})` : ''} on ${request.node.instanceId}`,
      ),
    ],
  });
  if (!created) {
    deps.logger.info('incident already open for this node', {
      incidentId: incident.id,
      by: request.requestedBy,
    });
    const joined = await deps.store.update(incident.id, (current) => ({
      ...current,
      audit: [
        ...current.audit,
        auditEntry(
          deps,
          'duplicate',
          request.requestedBy,
          `again: ${request.alarmName}${contributorId ? ` (contributor ${contributorId})` : ''}`,
        ),
      ],
    }));
    // `null`, not absent: records from before the field existed had their execution started.
    if (joined.execution === null && !isTerminal(joined)) {
      deps.logger.warn('incident never got its execution: starting it now', { incidentId: joined.id });
      // The first delivery may have failed before its hold was decided: decide it now.
      const hold =
        joined.clusterIncident || joined.card || request.thread
          ? ({ kind: 'free' } as const)
          : await decideAtArrival(deps, joined);
      // Not held and no card: the analysis posts it, as after a refused card post.
      const started =
        hold.kind === 'free' ? await startExecution(deps, joined) : await startHeld(deps, joined, hold);
      return { incident: started, created };
    }
    return { incident: joined, created };
  }
  // Decided before anything is posted: a node held under its cluster's incident gets no card. A
  // mention asks for a diagnosis in its own thread, and gets it there.
  const hold = request.thread ? ({ kind: 'free' } as const) : await decideAtArrival(deps, incident);
  if (hold.kind !== 'free') return { incident: await startHeld(deps, incident, hold), created };
  // The channel is shared with every other incident: its calls are paced.
  const paced = { ...deps, chat: pacedChat(deps) };
  if (flap) await sayFlapped(paced, flap, incident);
  const withCard = await postCard(paced, incident);
  const started = await startExecution(deps, withCard);
  deps.logger.info('incident opened', { incidentId: incident.id, instanceId: request.node.instanceId });
  return { incident: started, created };
}

/**
 * The node's incident that an alarm's OK closed less than the policy's flap cooldown ago, with
 * the minutes since: a node going NotReady again that soon is the same outage flapping.
 */
async function recentRecovery(
  deps: AppDeps,
  nodeKey: string,
): Promise<{ incident: Incident; minutes: number } | null> {
  const cooldown = deps.policy.flapCooldownMinutes;
  if (!(cooldown > 0) || !deps.store.findLastEnded) return null;
  const last = await deps.store.findLastEnded(nodeKey);
  if (last?.phase !== 'recovered' || !threadOf(last)) return null;
  const ok = last.audit.findLast((entry) => entry.action === 'alarm-ok');
  if (!ok) return null; // recovered by a verified fix, not by an alarm going back to OK
  const minutes = (deps.clock().getTime() - Date.parse(ok.at)) / 60_000;
  return minutes >= 0 && minutes <= cooldown ? { incident: last, minutes } : null;
}

/**
 * Say in the recovered incident's thread that its recovery did not hold, and audit the link both
 * ways. A Slack failure here is logged: the new incident's card still goes into the thread.
 */
async function sayFlapped(
  deps: AppDeps,
  flap: { incident: Incident; minutes: number },
  incident: Incident,
): Promise<void> {
  const previous = flap.incident;
  await deps.store.update(previous.id, (current) => ({
    ...current,
    audit: [
      ...current.audit,
      auditEntry(deps, 'flapped', 'alarm', `NotReady again: incident ${incident.id}`),
    ],
  }));
  const thread = threadOf(previous);
  if (!thread) return;
  const detail =
    `The node is NotReady again ${Math.round(flap.minutes)} min after the alarm went back to OK ` +
    `(within the ${deps.policy.flapCooldownMinutes}-minute flap cooldown): diagnosing it again in this thread ` +
    `(${incident.alarmName}).`;
  await deps.chat
    .post(thread.channel, renderOutcome(previous, { kind: 'not-recovered', detail }), thread.ts)
    .catch((error: unknown) => {
      deps.logger.warn('could not say the node flapped', { incidentId: incident.id, error: String(error) });
    });
  // The old card is what the channel sees: it must not keep saying "Recovered" over a node that
  // is NotReady again.
  if (previous.card) {
    await deps.chat
      .update(
        previous.card,
        renderCard(previous, {
          note: `NotReady again ${Math.round(flap.minutes)} min after its alarm's OK: a new diagnosis runs in this thread.`,
        }),
      )
      .catch((error: unknown) => {
        deps.logger.warn('could not mark the card of a flapping node', {
          incidentId: incident.id,
          error: String(error),
        });
      });
  }
}

/**
 * Start the diagnosis of a node whose hold is not `free`: held, it joins the cluster incident and
 * gets no card; undecided (the store or EC2 did not answer), it gets no card now. Either way the
 * diagnosis starts, even when joining fails: its analysis joins it to the cluster incident, or
 * posts its card when the node is not held.
 */
async function startHeld(
  deps: AppDeps,
  incident: Incident,
  hold: Exclude<ArrivalHold, { kind: 'free' }>,
): Promise<Incident> {
  let held = incident;
  let record: ClusterIncident | null = null;
  if (hold.kind === 'held') {
    try {
      ({ incident: held, record } = await joinAtArrival(deps, incident, hold));
    } catch (error) {
      if (!(error instanceof DependencyError)) throw error;
      deps.logger.warn('could not join the cluster incident: the diagnosis starts, its analysis joins it', {
        incidentId: incident.id,
        error: error.message,
      });
    }
  }
  const started = await startExecution(deps, held);
  if (record) await scheduleSummary(deps, record);
  return started;
}

/** Start the incident's one execution (idempotent by name) and record that it started. */
async function startExecution(deps: AppDeps, incident: Incident): Promise<Incident> {
  const { executionId } = await deps.workflow.start(incident.id, { incidentId: incident.id });
  return deps.store.update(incident.id, (current) => ({
    ...current,
    execution: executionId,
    // The id itself is in `execution`; the audit line reads the same whichever runner started it.
    audit: [...current.audit, auditEntry(deps, 'execution-started', 'nodemedic', 'the workflow started')],
  }));
}

/**
 * Post the status card (as the thread root, or into the given thread) and remember where it is.
 * A refused post is audited and left to the workflow, whose analysis posts a missing card.
 */
async function postCard(deps: AppDeps, incident: Incident): Promise<Incident> {
  const thread = incident.thread ?? null;
  let card: MessageRef;
  try {
    card = await deps.chat.post(thread?.channel ?? deps.channel, renderCard(incident), thread?.ts);
  } catch (error) {
    deps.logger.warn('status card not posted: the diagnosis goes on, and the workflow posts the card', {
      incidentId: incident.id,
      error: String(error),
    });
    return deps.store.update(incident.id, (current) => ({
      ...current,
      audit: [
        ...current.audit,
        auditEntry(
          deps,
          'card-not-posted',
          'nodemedic',
          `${String(error).slice(0, 200)}: the diagnosis goes on; the analysis posts the card`,
        ),
      ],
    }));
  }
  return deps.store.update(incident.id, (current) => ({ ...current, card }));
}

/**
 * The alarm (or contributor) is back to OK: say so in the thread, release a waiting approval,
 * close the incident. Only the alarm and contributor that opened the incident close it: an OK of
 * another alarm on the node (a second alarm, or anyone with cloudwatch:SetAlarmState on one) is
 * audited and changes nothing. A contributor that stopped reporting is not a recovery either.
 * Decided inside the atomic update, on the incident as it is then: a fix or its verification in
 * flight keeps going (the workflow's own verification decides), and an ended incident stays ended.
 */
async function closeRecovered(deps: AppDeps, node: NodeRef, alarm: ParsedAlarm): Promise<AlarmOutcome> {
  const alarmName = alarm.alarmName;
  const contributorId = alarm.contributor?.id ?? null;
  const nodeKey = dedupeKey(node.cluster, node.instanceId);
  const open = await deps.store.findOpenByNode(nodeKey);
  if (!open) {
    const untold = await announceUntold(deps, nodeKey, alarm);
    if (untold) return { kind: 'recovered', incidentId: untold };
    const resolved = await resolvePagedIncident(deps, nodeKey, alarm);
    if (resolved) return { kind: 'recovered', incidentId: resolved };
    return {
      kind: 'ignored',
      reason: `alarm ${alarmName} is OK and no incident is open for ${node.instanceId}`,
    };
  }
  const from = `${alarmName}${contributorId ? ` (contributor ${contributorId})` : ''}`;
  const opener = `${open.alarmName}${open.contributorId ? ` (contributor ${open.contributorId})` : ''}`;
  const notOurs =
    open.alarmName !== alarmName || (open.contributorId ?? null) !== contributorId
      ? `the OK of ${from} does not concern incident ${open.id}, opened by ${opener}`
      : alarm.contributor && CONTRIBUTOR_NO_DATA.test(alarm.reason)
        ? `contributor ${contributorId} of ${alarmName} stopped reporting ("${alarm.reason.slice(0, 80)}"): not a recovery, incident ${open.id} stays open`
        : null;
  if (notOurs) {
    await deps.store.update(open.id, (current) => ({
      ...current,
      audit: [...current.audit, auditEntry(deps, 'alarm-ok-ignored', 'alarm', notOurs)],
    }));
    deps.logger.warn('alarm OK ignored', { incidentId: open.id, reason: notOurs });
    return { kind: 'ignored', reason: notOurs, incidentId: open.id };
  }
  const at = deps.clock().toISOString();
  const written = await applyTransition(deps.store, open.id, (current) =>
    transition(current, { type: 'alarm-ok', at, from }),
  );
  const recovery = written.outcome;
  if (recovery.kind !== 'closed') return { kind: 'recovered', incidentId: open.id };
  // While the node's cluster is held, its OK is one more call into the storm's channel: paced
  // like every other call there (app/cluster.ts), so the channel stays within Slack's rate.
  const slack = (await clusterHeld(deps, node.cluster)) ? { ...deps, chat: pacedChat(deps) } : deps;
  await perform(slack, written);
  await announceRecovery(slack, written.incident, { buttonsUp: recovery.buttonsUp, from });
  return { kind: 'recovered', incidentId: open.id };
}

/** Whether the cluster has an open cluster incident; a failed read is not (the OK is told unpaced). */
async function clusterHeld(deps: AppDeps, cluster: string): Promise<boolean> {
  try {
    return (await deps.store.getCluster(cluster))?.phase === 'open';
  } catch (error) {
    deps.logger.warn('could not read the cluster incident: the OK is told unpaced', {
      cluster,
      error: String(error),
    });
    return false;
  }
}

/** Audit action: the thread was told the alarm is back to OK (a redelivery tells it otherwise). */
const RECOVERY_POSTED = 'alarm-ok-posted';

/**
 * Tell the thread an incident closed on its alarm's OK: the buttons expire, the card and an
 * outcome say so, the timeline follows. Recorded once it is all posted, so that a Slack failure
 * (the event is then thrown back to EventBridge) is told again by the redelivery, which finds
 * the node's incident already closed.
 */
async function announceRecovery(
  deps: AppDeps,
  closed: Incident,
  how: { buttonsUp: boolean; from: string },
): Promise<void> {
  if (how.buttonsUp && closed.findingsMessage) {
    // renderDecision takes mrkdwn: the alarm's name came from outside and is escaped here.
    await deps.chat.update(
      closed.findingsMessage,
      renderDecision(closed, `No longer needed: the alarm ${escapeMrkdwn(how.from)} went back to OK.`),
    );
  }
  const thread = threadOf(closed);
  if (closed.card) await deps.chat.update(closed.card, renderCard(closed));
  if (thread) {
    // renderOutcome escapes its detail itself.
    await deps.chat.post(
      thread.channel,
      renderOutcome(closed, { kind: 'recovered', detail: `The alarm ${how.from} is back to OK.` }),
      thread.ts,
    );
  }
  const posted = await deps.store.update(closed.id, (current) => ({
    ...current,
    audit: [...current.audit, auditEntry(deps, RECOVERY_POSTED, 'nodemedic', how.from)],
  }));
  await incidentEnded(deps, posted);
}

/**
 * A redelivered OK whose incident closed but whose thread was not told (Slack failed the first
 * time): tell it now. Returns the incident's id when it did.
 */
async function announceUntold(deps: AppDeps, nodeKey: string, alarm: ParsedAlarm): Promise<string | null> {
  if (!deps.store.findLastEnded) return null;
  const last = await deps.store.findLastEnded(nodeKey);
  const contributorId = alarm.contributor?.id ?? null;
  if (last?.phase !== 'recovered' || last.alarmName !== alarm.alarmName) return null;
  if ((last.contributorId ?? null) !== contributorId) return null;
  const actions = last.audit.map((a) => a.action);
  const closedByOk = actions.lastIndexOf('alarm-ok');
  if (closedByOk < 0 || actions.lastIndexOf(RECOVERY_POSTED) > closedByOk) return null;
  const from = `${alarm.alarmName}${contributorId ? ` (contributor ${contributorId})` : ''}`;
  await announceRecovery(deps, last, {
    buttonsUp: Boolean(last.findingsMessage && last.offered.length),
    from,
  });
  return last.id;
}

/**
 * The node's last incident ended by an escalation that paged a person; its own alarm (or
 * contributor) is now back to OK: resolve the page and say so in that incident's thread.
 * Returns the incident's id when it did.
 */
async function resolvePagedIncident(
  deps: AppDeps,
  nodeKey: string,
  alarm: ParsedAlarm,
): Promise<string | null> {
  if (!deps.pager || !deps.store.findLastEnded) return null;
  const last = await deps.store.findLastEnded(nodeKey);
  const contributorId = alarm.contributor?.id ?? null;
  if (!last || last.alarmName !== alarm.alarmName || (last.contributorId ?? null) !== contributorId)
    return null;
  if (!(await resolveAfterRecovery(deps, last, `the alarm ${alarm.alarmName} is back to OK`))) return null;
  const thread = threadOf(last);
  if (thread) {
    await deps.chat.post(
      thread.channel,
      renderOutcome(last, {
        kind: 'recovered',
        detail: `The alarm ${alarm.alarmName} is back to OK: the node is Ready again, and the page is resolved.`,
      }),
      thread.ts,
    );
  }
  return last.id;
}

/**
 * `@nodemedic diagnose` in a thread: resolve the node named there and open an incident whose card
 * is a reply in that thread.
 */
export async function startDiagnosisFromMention(
  deps: AppDeps,
  request: {
    channel: string;
    threadTs: string;
    query: { instanceId?: string; nodeName?: string };
    requestedBy: string;
  },
): Promise<{ incidentId: string; created: boolean }> {
  const node = await deps.inventory.resolve(request.query);
  const { incident, created } = await openIncident(deps, {
    node,
    alarmName: `mention by ${request.requestedBy}`,
    requestedBy: request.requestedBy,
    thread: { channel: request.channel, ts: request.threadTs },
  });
  return { incidentId: incident.id, created };
}
