/**
 * The rolling fix's use cases (issue 10.3): the cluster button's click, which starts a roll, and
 * the hook where a node's incident ends, which advances or stops it. The roll itself is data on
 * the cluster record, changed only through the core's reducer (functions/core/rolling.ts); this
 * file performs its effects.
 *
 * A node is fixed by its own workflow execution, which waits for a decision with a task token
 * (analyzeStep keeps a held node whose fix may roll waiting, with no buttons of its own). Starting
 * a node is the approval of a fix button, made by the roll: the same record change (the approval
 * round, the cluster's fix slot taken in the same conditional write) and the same resume of the
 * workflow with `approve`, the remediation and the approver who pressed the cluster button. The
 * recheck → fix → verify → outcome path is the node's own; its outcome or escalation calls
 * {@link rollNodeEnded}.
 *
 * Safety (design.md): the click is authorized server-side (on-call group or allow-list, failing
 * closed), must come from the cluster thread's channel and the installed team, and is refused
 * privately, logged and said in the thread otherwise. Slack retries and double clicks start one
 * roll: the roll is created inside the cluster record's conditional update, and a second click
 * finds it there.
 */
import { type ClusterIncident, clusterOfIncidentId } from '../core/cluster.js';
import { NodemedicError } from '../core/errors.js';
import { type Incident, InFlightLimitError, isTerminal, roundOf } from '../core/incident.js';
import { SLACK_ID } from '../core/patterns.js';
import { applyApproval } from '../core/plan.js';
import type { Chat } from '../core/ports.js';
import { renderClusterSummary } from '../core/render/cluster.js';
import { renderRollEnded, rollStartedText } from '../core/render/rolling.js';
import { escapeMrkdwn, renderRefusal } from '../core/render/slack.js';
import {
  type HeldNode,
  offerRoll,
  type Roll,
  type RollEffect,
  type RollEvent,
  type RollMember,
  rollReduce,
} from '../core/rolling.js';
import { isShadowCluster } from '../core/shadow.js';
import { CLICK_TTL_SECONDS, type Click, privately } from './approval.js';
import { onCall } from './authorize.js';
import { pacedChat, whileThrottled } from './cluster.js';
import type { ApprovalDecision } from './contract.js';
import type { AppDeps } from './deps.js';
import { describe } from './effects.js';
import { auditEntry } from './incidents.js';
import { METRICS } from './metrics.js';

/** What the roll's use cases read of `AppDeps` (the Slack app's and the workflow steps'). */
export type RollingDeps = Pick<
  AppDeps,
  | 'store'
  | 'workflow'
  | 'chat'
  | 'policy'
  | 'clock'
  | 'logger'
  | 'onCallUserGroupId'
  | 'onCallAllowList'
  | 'metrics'
>;

/**
 * How long a click's Slack writes in the channel (the summary's refresh, a refusal in the thread)
 * may wait for the channel's pace slot. Bolt's Lambda receiver answers Slack only once the listener
 * is done, and Slack retries a click it has no answer to within 3 s. A write that finds no slot in
 * time is left to the roll's next event (a node's ending refreshes the summary from the record),
 * and the clicker is answered privately, which is not paced.
 */
const CLICK_PACE_WAIT_MS = 1_000;

/**
 * How long the roll's end, said once, may wait for the channel's slot: in a click (the Slack
 * function has 15 s), and in a node's outcome or escalation step (30 s, after the summary's refresh
 * of at most {@link STEP_PACE_WAIT_MS}). An end not said in time is said when another member ends.
 */
const CLICK_END_WAIT_MS = 8_000;
const STEP_END_WAIT_MS = 12_000;
const STEP_PACE_WAIT_MS = 8_000;

/** Attempts of one write of the roll when the store asks to slow down (a throttled write did not commit). */
const ROLL_WRITE_ATTEMPTS = 3;

/** The cluster button's click: the value is the cluster incident's id. */
export interface RollClick extends Click {
  /** The remediation the button named. */
  readonly remediation: string;
}

/** What became of a click on the cluster button. */
export type RollClickOutcome =
  | { readonly kind: 'started'; readonly roll: Roll }
  | { readonly kind: 'refused'; readonly reason: string }
  | { readonly kind: 'duplicate' }
  | { readonly kind: 'rejected'; readonly reason: string }
  | { readonly kind: 'not-found' };

/** Approve the rolling fix the cluster summary offers. */
export async function approveRoll(deps: RollingDeps, click: RollClick): Promise<RollClickOutcome> {
  const cluster = clusterOfIncidentId(click.incidentId);
  const record = cluster ? await deps.store.getCluster(cluster) : null;
  if (!cluster || !record || record.id !== click.incidentId) {
    await privately(deps, click, 'This cluster incident is unknown or over; nothing was done.');
    return { kind: 'not-found' };
  }
  const home = record.thread?.channel;
  const foreign =
    click.team !== click.installedTeam
      ? `from team ${click.team}, not the installed team ${click.installedTeam}`
      : click.channel !== home
        ? `from channel ${click.channel}, not the cluster thread's channel ${home ?? '(none)'}`
        : null;
  if (foreign)
    return refuse(deps, click, record, foreign, 'but the click came from another channel or workspace');
  // Fail closed: without the group's member list nobody is let through.
  const allowed = await onCall(deps, click, { clusterIncident: record.id });
  if (allowed === null) return { kind: 'rejected', reason: 'authorization check failed' };
  if (!allowed) {
    return refuse(
      deps,
      click,
      record,
      'not in the on-call group or allow-list',
      'but is not in the on-call group or allow-list',
    );
  }
  if (isShadowCluster(deps.policy, cluster)) {
    const reason = `cluster ${cluster} is in shadow mode: nodemedic runs nothing there`;
    return refuse(deps, click, record, reason, 'but the cluster is in shadow mode');
  }
  if (record.roll) return alreadyRolling(deps, click, record.roll);
  // The offer is computed again from the node incidents as they are now: the button is advice,
  // this is the rule.
  const offer = offerRoll(deps.policy, cluster, await heldNodes(deps, record));
  if (offer.kind === 'none' || offer.remediation !== click.remediation) {
    // Another press may have started the roll a moment ago (its nodes no longer wait): say that.
    const started = (await deps.store.getCluster(cluster))?.roll;
    if (started) return alreadyRolling(deps, click, started);
  }
  if (offer.kind === 'none') {
    await privately(deps, click, `No rolling fix started: ${escapeMrkdwn(offer.reason)}.`);
    return { kind: 'rejected', reason: offer.reason };
  }
  if (offer.remediation !== click.remediation) {
    const reason = `the summary now offers ${offer.remediation}, not ${click.remediation.slice(0, 60)}`;
    await privately(
      deps,
      click,
      `No rolling fix started: ${escapeMrkdwn(reason)}. Look at the updated summary.`,
    );
    return { kind: 'rejected', reason };
  }
  // The approval rules of a fix button hold for the roll as for one node: a roll is never
  // destructive (core/rolling.ts), so one authorized approver suffices.
  const at = deps.clock().toISOString();
  const rule = applyApproval(
    { requested: null, approvals: [] },
    { remediation: offer.remediation, user: click.user, at },
    deps.policy,
  );
  if (rule.outcome !== 'approved') {
    const reason = rule.outcome === 'rejected' ? rule.reason : 'it needs more approvers than a roll can take';
    await privately(deps, click, `No rolling fix started: ${escapeMrkdwn(reason)}.`);
    return { kind: 'rejected', reason };
  }
  // No claim of the click before the roll is written: the roll is created in the cluster record's
  // conditional update, so two presses (or a press and Slack's retry) start one roll, and the other
  // is answered below. A press whose roll could not be written starts nothing and may be pressed
  // again.
  let result: { roll: Roll | null; fresh: boolean };
  try {
    result = await transition(
      deps,
      record,
      { kind: 'start', offer, by: click.user, at },
      { paceWaitMs: CLICK_PACE_WAIT_MS, endWaitMs: CLICK_END_WAIT_MS },
    );
  } catch (err) {
    deps.logger.error('could not start the rolling fix', {
      clusterIncident: record.id,
      error: describe(err),
    });
    // The failure may have come after the roll was written (a node's start, the end's mark): say
    // what the record says, not what the exception suggests.
    const written = await deps.store.getCluster(cluster).catch(() => null);
    const roll = written?.id === record.id ? written.roll : undefined;
    if (roll && !(roll.approvedBy === click.user && roll.approvedAt === at))
      return alreadyRolling(deps, click, roll);
    const text = roll
      ? rollStartedText(roll)
      : `The rolling fix could not be started (${escapeMrkdwn(describe(err))}). Nothing ran; press the button again.`;
    await privately(deps, click, text).catch((answer: unknown) =>
      deps.logger.warn('could not answer the roll click privately', { error: describe(answer) }),
    );
    return roll
      ? { kind: 'started', roll }
      : { kind: 'rejected', reason: `could not start: ${describe(err)}` };
  }
  if (!result.fresh) return alreadyRolling(deps, click, result.roll!);
  deps.logger.info('rolling fix approved', {
    clusterIncident: record.id,
    remediation: offer.remediation,
    nodes: offer.nodes.length,
    batchSize: offer.batchSize,
    by: click.user,
  });
  await privately(deps, click, rollStartedText(result.roll!)).catch((err: unknown) =>
    deps.logger.warn('could not confirm the roll privately', { error: describe(err) }),
  );
  return { kind: 'started', roll: result.roll! };
}

/** How a node's incident ended, as its outcome or escalation step says. */
export type NodeEnding =
  | { readonly kind: 'recovered' | 'skipped' }
  | { readonly kind: 'escalated'; readonly reason: string };

/**
 * The hook where a node's incident ends (outcome, escalation): when the node is in its cluster's
 * roll, advance the roll (the next batch when this one is through) or stop it at this node. It
 * never throws: the node's own ending stands whatever happens here, and a failure is logged.
 */
export async function rollNodeEnded(
  deps: RollingDeps,
  incident: Incident,
  ending: NodeEnding,
): Promise<void> {
  try {
    // A throttled store would leave the roll waiting on a node that ended: its reads and writes
    // are tried again, briefly.
    const record = await whileThrottled(
      () => deps.store.getCluster(incident.node.cluster),
      ROLL_WRITE_ATTEMPTS,
      100,
    );
    const roll = record?.roll;
    if (!record || !roll) return;
    if (inRoll(roll, incident.id)) await transition(deps, record, endingEvent(incident.id, ending));
    // A member that left it already: an end that a failed post could not say yet is said now.
    else if (isMember(roll, incident.id)) await announce(deps, record);
  } catch (err) {
    deps.logger.error('could not move the rolling fix on after a node ended', {
      incidentId: incident.id,
      ending: ending.kind,
      error: describe(err),
    });
  }
}

/** A node's ending as the roll's event: only a verified fix counts as fixed. */
function endingEvent(incidentId: string, ending: NodeEnding): RollEvent {
  switch (ending.kind) {
    case 'recovered':
      return { kind: 'node-recovered', incidentId };
    case 'skipped':
      // The recheck found the cause gone: nothing ran, so the node is counted apart, not as fixed.
      return { kind: 'node-cause-gone', incidentId };
    case 'escalated':
      return ending.reason === 'approval-timeout'
        ? { kind: 'node-left', incidentId, detail: 'its approval wait expired before its batch' }
        : { kind: 'node-failed', incidentId, detail: ending.reason };
  }
}

function inRoll(roll: Roll, incidentId: string): boolean {
  return [...roll.queued, ...roll.running].some((m) => m.incidentId === incidentId);
}

/** Whether the node was ever one of the roll's, wherever it is now. */
function isMember(roll: Roll, incidentId: string): boolean {
  const lists = [
    roll.queued,
    roll.running,
    roll.done,
    roll.causeGone ?? [],
    roll.skipped,
    roll.alsoFailed,
    roll.failed ? [roll.failed] : [],
  ];
  return lists.some((list) => list.some((m) => m.incidentId === incidentId));
}

/**
 * Apply one event to the cluster's roll in the record's conditional update, then perform its
 * effects: resume nodes, and apply the event of each node that could not start the same way (it
 * may resume the next one), until nothing is left; then refresh the summary and say the end, once
 * each, from the record as it stands. `fresh` is false when the first event changed nothing (a
 * repeat). `paceWaitMs` bounds the summary's wait for the channel's slot (a click must answer
 * Slack), `endWaitMs` the end's, which is said only when these events ended the roll. Each write
 * of the roll is tried again while the store throttles: a repeat changes nothing, so the effects
 * of a write must not be lost to a throttle.
 */
async function transition(
  deps: RollingDeps,
  record: ClusterIncident,
  event: RollEvent,
  {
    paceWaitMs = STEP_PACE_WAIT_MS,
    endWaitMs = STEP_END_WAIT_MS,
  }: { paceWaitMs?: number; endWaitMs?: number } = {},
): Promise<{ roll: Roll | null; fresh: boolean }> {
  let latest = record;
  let fresh: boolean | null = null;
  let refresh = false;
  const pending: RollEvent[] = [event];
  for (let next = pending.shift(); next; next = pending.shift()) {
    const applied = next;
    let effects: RollEffect[] = [];
    let changed = false;
    latest = await whileThrottled(
      () =>
        deps.store.updateCluster(record.cluster, record.id, (current) => {
          const reduced = rollReduce(current.roll ?? null, applied);
          effects = reduced.effects;
          changed = reduced.roll !== (current.roll ?? null);
          return changed ? { ...current, roll: reduced.roll } : current;
        }),
      ROLL_WRITE_ATTEMPTS,
      100,
    );
    fresh ??= changed;
    for (const effect of effects) {
      if (effect.kind === 'refresh') refresh = true;
      if (effect.kind !== 'resume') continue;
      const failed = await startNode(deps, latest, latest.roll!, effect.member, effect.batch);
      if (failed) pending.push(failed);
    }
  }
  if (refresh) await refreshSummary(deps, latest, paceWaitMs);
  // Said by the transition whose events ended the roll (one that ended it elsewhere says it there).
  if (latest.roll && latest.roll.state !== 'running') await announce(deps, latest, endWaitMs);
  return { roll: latest.roll ?? null, fresh: fresh ?? false };
}

/**
 * Start one node: the roll's approval on its incident (taking a fix slot in the same write), then
 * the resume of its waiting execution. Returns the event when it could not start, else null.
 */
async function startNode(
  deps: RollingDeps,
  record: ClusterIncident,
  roll: Roll,
  member: RollMember,
  batch: number,
): Promise<RollEvent | null> {
  const at = deps.clock().toISOString();
  const remediation = roll.remediation;
  let why: RollEvent | null = null;
  let token: string | null = null;
  try {
    await deps.store.update(
      member.incidentId,
      (current) => {
        token = null;
        why = notWaiting(current, remediation);
        if (why) return current;
        const decision = applyApproval(current, { remediation, user: roll.approvedBy, at }, deps.policy);
        if (decision.outcome !== 'approved') {
          why = {
            kind: 'node-left',
            incidentId: member.incidentId,
            detail: `not approved: ${decision.outcome === 'rejected' ? decision.reason : 'needs another approver'}`,
          };
          return current;
        }
        token = current.taskToken;
        const round = roundOf(current);
        return {
          ...current,
          phase: 'fixing',
          taskToken: null,
          // The approval closes the round, as a click's does: the fix's key is `fix#<approved>`.
          round: { ...round, approved: round.approved + 1 },
          requested: current.requested ?? { remediation, by: roll.approvedBy },
          approvals: [...current.approvals, { remediation, user: roll.approvedBy, at }],
          audit: [
            ...current.audit,
            {
              at,
              action: 'approved',
              actor: roll.approvedBy,
              detail: `${remediation} by ${roll.approvedBy} (rolling fix on cluster ${record.cluster}, batch ${batch})`,
            },
          ],
        };
      },
      { inFlightLimit: deps.policy.maxFixesInFlightPerCluster },
    );
  } catch (err) {
    // Fixes from outside the roll hold the cluster's slots: nothing started, and a person decides.
    if (err instanceof InFlightLimitError)
      return {
        kind: 'node-failed',
        incidentId: member.incidentId,
        detail: `no fix slot free: ${err.message}`,
      };
    // The store did not take the approval (or cannot say it did): nothing was resumed, so the node
    // still waits, held. The roll stops here and says so, rather than wait on a node never started.
    deps.logger.error('could not record the roll approval of a node', {
      incidentId: member.incidentId,
      error: describe(err),
    });
    return {
      kind: 'node-failed',
      incidentId: member.incidentId,
      detail: `its approval could not be recorded (${describe(err)})`,
    };
  }
  if (why) return why;
  const decision: ApprovalDecision = { decision: 'approve', remediation, by: [roll.approvedBy] };
  try {
    if (!token) throw new NodemedicError('NO_TASK_TOKEN', 'the incident holds no task token');
    await deps.workflow.resume(token, { ...decision });
    return null;
  } catch (err) {
    // The approval cannot reach the execution: nothing runs there, and a person must take over.
    const reason = describe(err);
    deps.logger.error('could not resume a node of the rolling fix', {
      incidentId: member.incidentId,
      error: reason,
    });
    try {
      await deps.store.update(member.incidentId, (current) =>
        isTerminal(current)
          ? current
          : {
              ...current,
              phase: 'escalated',
              taskToken: null,
              audit: [...current.audit, auditEntry(deps, 'resume-failed', 'nodemedic', reason)],
            },
      );
    } catch (err) {
      // The roll still learns the node failed (it stops there); the node's record says `fixing`
      // until its approval wait runs out and escalates it, as the state machine's catch does.
      deps.logger.error('could not record that a node of the rolling fix was not resumed', {
        incidentId: member.incidentId,
        error: describe(err),
      });
    }
    return {
      kind: 'node-failed',
      incidentId: member.incidentId,
      detail: `its workflow could not be resumed (${reason})`,
    };
  }
}

/** Why a node's incident cannot take the roll's approval now, as the event that says so. */
function notWaiting(incident: Incident, remediation: string): RollEvent | null {
  const id = incident.id;
  if (incident.phase === 'recovered') {
    // It ended before its batch (its alarm back to OK): the roll ran nothing on it.
    return { kind: 'node-cause-gone', incidentId: id };
  }
  // `closed` is a person's decision (a deny from a card posted before the hold): it left the roll,
  // as every other phase that is not a wait does.
  if (incident.phase !== 'awaiting-approval' || incident.taskToken === null) {
    return {
      kind: 'node-left',
      incidentId: id,
      detail: `it was ${incident.phase}, not waiting, when its batch came`,
    };
  }
  if (!incident.offered.some((o) => o === remediation)) {
    return { kind: 'node-left', incidentId: id, detail: `${remediation} is not offered for it` };
  }
  return null;
}

/**
 * Bring the cluster thread's root up to date with the roll (its button gone, its progress), paced
 * like every call into the channel during a hold. The root is rendered once the channel's slot is
 * ours, from the record as it is then: refreshes that wait for slots in turn never write an older
 * state over a newer one. A failure is logged: the roll is on the record, and the summary's next
 * write shows it.
 */
async function refreshSummary(
  deps: RollingDeps,
  record: ClusterIncident,
  paceWaitMs?: number,
): Promise<void> {
  const thread = record.thread;
  if (!thread) return;
  const chat = deps.chat;
  const latest: Chat = {
    post: (channel, message, threadTs) => chat.post(channel, message, threadTs),
    postEphemeral: (channel, user, text, threadTs) => chat.postEphemeral(channel, user, text, threadTs),
    userGroupMembers: (groupId) => chat.userGroupMembers(groupId),
    replies: (thread, options) => chat.replies(thread, options),
    update: async (ref) => {
      const fresh = await deps.store.getCluster(record.cluster);
      if (fresh?.id !== record.id) return;
      await chat.update(
        ref,
        renderClusterSummary(fresh, { onCallGroupId: deps.onCallUserGroupId, policy: deps.policy }),
      );
    },
  };
  try {
    await pacedChat({ ...deps, chat: latest }, { maxWaitMs: paceWaitMs }).update(thread, {
      text: '',
      blocks: [],
    });
  } catch (err) {
    deps.logger.warn('could not refresh the cluster summary after the roll moved', {
      clusterIncident: record.id,
      error: describe(err),
    });
  }
}

/**
 * Say once in the cluster thread that the roll stopped or completed. The end is marked as said in
 * the record's conditional update before the post, so two nodes ending at once cannot both post
 * it; a failed post takes the mark back, and the roll's next event (or the summary, which shows
 * the state) says it then.
 */
async function announce(
  deps: RollingDeps,
  record: ClusterIncident,
  waitMs = STEP_END_WAIT_MS,
): Promise<void> {
  const thread = record.thread;
  if (!thread) return;
  let said: Roll | null = null;
  await deps.store.updateCluster(record.cluster, record.id, (current) => {
    said = null;
    const roll = current.roll;
    if (!roll || roll.state === 'running' || roll.announced === roll.state) return current;
    said = { ...roll, announced: roll.state };
    return { ...current, roll: said };
  });
  const roll = said as Roll | null;
  if (!roll) return;
  try {
    await pacedChat(deps, { maxWaitMs: waitMs }).post(
      thread.channel,
      renderRollEnded(roll, deps.onCallUserGroupId),
      thread.ts,
    );
    deps.logger.info(`rolling fix ${roll.state}`, {
      clusterIncident: record.id,
      failed: roll.failed?.node ?? null,
    });
  } catch (err) {
    deps.logger.warn('could not say the roll ended in the cluster thread', {
      clusterIncident: record.id,
      error: describe(err),
    });
    await deps.store.updateCluster(record.cluster, record.id, (current) =>
      current.roll ? { ...current, roll: { ...current.roll, announced: null } } : current,
    );
  }
}

/**
 * The cluster's held nodes, as the offer reads them: each member's own incident. Healthy members
 * (their diagnosis found nothing wrong) have nothing to fix and are left out.
 */
export async function heldNodes(
  deps: Pick<RollingDeps, 'store'>,
  record: ClusterIncident,
): Promise<HeldNode[]> {
  const members = Object.values(record.members)
    .filter((m) => !m.healthy)
    .sort((a, b) => a.joinedAt.localeCompare(b.joinedAt));
  const incidents = await Promise.all(members.map((m) => deps.store.get(m.incidentId)));
  return members.flatMap((m, i) => {
    const incident = incidents[i];
    if (!incident) return [];
    // Until its execution waits, a node is still on its way (its record is written after the
    // member): it is not counted either way, and not in the roll.
    const status: HeldNode['status'] =
      m.causes === null || incident.phase === 'diagnosing' || incident.phase === 'findings'
        ? 'diagnosing'
        : incident.phase === 'awaiting-approval' && incident.taskToken !== null
          ? 'waiting'
          : 'other';
    return [
      {
        incidentId: incident.id,
        node: m.instanceId,
        status,
        findings: incident.findings,
        offered: incident.offered,
      },
    ];
  });
}

async function alreadyRolling(deps: RollingDeps, click: RollClick, roll: Roll): Promise<RollClickOutcome> {
  if (!click.retry) {
    await privately(
      deps,
      click,
      `Already handled: the rolling fix was approved by ${who(roll.approvedBy)} at ${roll.approvedAt} (${roll.state}).`,
    );
  }
  return { kind: 'duplicate' };
}

/**
 * Refuse a click: once per clicker, message and reason (a retried refusal is neither logged nor
 * said twice), logged, counted, said in the cluster thread, and answered privately.
 */
async function refuse(
  deps: RollingDeps,
  click: RollClick,
  record: ClusterIncident,
  reason: string,
  note: string,
): Promise<RollClickOutcome> {
  const key = `roll-refused:${record.id}:${click.messageTs}:${click.user}:${click.channel}:${click.team}`;
  if (!(await deps.store.claimOnce(key, CLICK_TTL_SECONDS))) return { kind: 'duplicate' };
  deps.metrics?.count(METRICS.approvalsRefused, { cluster: record.cluster });
  deps.logger.warn('roll click refused', {
    clusterIncident: record.id,
    user: click.user,
    channel: click.channel,
    team: click.team,
    reason,
  });
  if (record.thread) {
    await pacedChat(deps, { maxWaitMs: CLICK_PACE_WAIT_MS })
      .post(
        record.thread.channel,
        renderRefusal({ user: click.user, action: 'the rolling fix', note }),
        record.thread.ts,
      )
      .catch((err: unknown) =>
        deps.logger.warn('could not say the refusal in the cluster thread', { error: describe(err) }),
      );
  }
  await privately(
    deps,
    click,
    `Only members of the on-call group (or the allow-list), in the cluster thread's channel, can start a rolling fix (${escapeMrkdwn(reason)}). Your click was refused and logged.`,
  ).catch((err: unknown) =>
    deps.logger.warn('could not answer a refused roll click privately', { error: describe(err) }),
  );
  return { kind: 'refused', reason };
}

function who(actor: string): string {
  return SLACK_ID.user.test(actor) ? `<@${actor}>` : escapeMrkdwn(actor);
}
