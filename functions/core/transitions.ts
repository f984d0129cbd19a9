/**
 * The incident's transitions: pure functions from an incident and an event to the next incident,
 * the effects to perform, and the outcome the caller answers with. No I/O and no clock: the time
 * comes in the event.
 *
 * The app layer applies a transition inside the store's atomic update (the store may run it more
 * than once on a conflict; the run that was written is the one whose effects are performed), then
 * performs the effects in order: resuming or stopping the workflow, Slack messages, the ending.
 * So a decision is taken once, on the incident as it is at the write, and nothing has to be
 * smuggled out of the update.
 */
import {
  type ApprovalRound,
  type AuditAction,
  BUTTONS_NOT_CLOSED,
  type Incident,
  type IncidentPhase,
  isTerminal,
  roundOf,
  type SentCommand,
} from './incident.js';
import type { RemediationId } from './model.js';
import { SLACK_ID } from './patterns.js';
import { applyApproval } from './plan.js';
import type { SafetyPolicy } from './policy.js';
import { getRemediation } from './remediations/index.js';
import { decisionText, escapeMrkdwn } from './render/slack.js';

/** What an approval tells the waiting workflow (the app contract's `ApprovalDecision`). */
export interface WorkflowDecision {
  readonly decision: 'approve' | 'rerun';
  readonly remediation: RemediationId | null;
  readonly by: readonly string[];
}

/** What the app layer performs once a transition is written, in order. */
export type Effect =
  /** Answer the clicker privately (an ephemeral message in the incident's thread). */
  | { readonly kind: 'reply-privately'; readonly text: string }
  /**
   * Resume the waiting workflow (SendTaskSuccess). When that fails nothing will run, so the app
   * escalates at once (`resume-failed`) and performs nothing after it.
   */
  | { readonly kind: 'resume-workflow'; readonly token: string; readonly decision: WorkflowDecision }
  /**
   * End the waiting workflow (SendTaskFailure): `denied` when a person took over, `recovered` when
   * the alarm went back to OK. A failure is logged (the wait may be over already); the decision stands.
   */
  | {
      readonly kind: 'stop-workflow';
      readonly token: string;
      readonly why: 'denied' | 'recovered';
      readonly cause: string;
    }
  /**
   * Turn the findings message's buttons into `text` (mrkdwn) and bring the card up to date. With
   * `tolerant`, the decision already reached the workflow: a Slack failure is recorded
   * (`buttons-not-closed`) for the step that ends the incident, never thrown.
   */
  | { readonly kind: 'close-buttons'; readonly text: string; readonly tolerant: boolean }
  /** Turn the findings message's buttons into `text` (mrkdwn); the card has its own effect. */
  | { readonly kind: 'expire-buttons'; readonly text: string }
  /** Re-render the status card, with a note (mrkdwn) when given. */
  | { readonly kind: 'update-card'; readonly note?: string }
  /** Post how the incident ended in its thread (`detail` is plain text, escaped by the renderer). */
  | {
      readonly kind: 'post-outcome';
      readonly outcome: 'recovered' | 'skipped' | 'escalated';
      readonly detail: string;
    }
  /** Count the incident's time to recovery (a metric). */
  | { readonly kind: 'count-recovery' }
  /** The incident ended: its timeline, and its page resolved (functions/app/ending.ts). */
  | { readonly kind: 'incident-ended' };

/** A transition's result: the incident to write, what to do after the write, and what happened. */
export interface Transition<O> {
  readonly incident: Incident;
  readonly effects: readonly Effect[];
  readonly outcome: O;
}

interface Click {
  /** ISO-8601 UTC. */
  readonly at: string;
  readonly user: string;
  /** The message carrying the button: only the incident's current findings message acts. */
  readonly messageTs: string;
}

/** A fix button: approve `remediation`, under the safety policy's approver rule. */
export interface ApproveClicked extends Click {
  readonly type: 'approve-clicked';
  readonly remediation: RemediationId;
  readonly policy: SafetyPolicy;
}
/** "I'll handle it": the fixes are denied and a person takes over. */
export interface DenyClicked extends Click {
  readonly type: 'deny-clicked';
}
/** Re-run the diagnosis. */
export interface RerunClicked extends Click {
  readonly type: 'rerun-clicked';
}
type Clicked = ApproveClicked | DenyClicked | RerunClicked;

/** What a click decided (the listener's answer beyond the gate: refusals, repeats). */
export type ClickDecision =
  | { readonly kind: 'approved'; readonly remediation: RemediationId; readonly approvers: readonly string[] }
  | {
      readonly kind: 'needs-another';
      readonly remediation: RemediationId;
      readonly have: number;
      readonly need: number;
    }
  | { readonly kind: 'rejected'; readonly reason: string }
  | { readonly kind: 'denied' }
  | { readonly kind: 'rerun' }
  /** The buttons no longer act (used, expired, another findings message): nothing changed. */
  | { readonly kind: 'stale'; readonly detail: string };

/** A press held at the cluster's fix slots: audited, and the user's next press counts afresh. */
export interface ClickHeld {
  readonly type: 'click-held';
  readonly at: string;
  readonly user: string;
  /** The button pressed: `fix:<id>`, `deny`, `rerun`. */
  readonly action: string;
  readonly reason: string;
}

/**
 * Actions that record and move nothing: a refusal, buttons Slack would not close, the messages of
 * an ending posted, a page sent, failed or resolved. Every action that moves the incident has its
 * own event, so no note can move a phase or the round behind the transitions' back.
 */
type NoteAction = Extract<
  AuditAction,
  | 'refused'
  | 'buttons-not-closed'
  | 'escalation-posted'
  | 'page-failed'
  | 'paged'
  | 'page-resolved'
  | 'timeline-posted'
>;

/** A line for the audit trail and nothing else. */
export interface Noted {
  readonly type: 'noted';
  readonly at: string;
  readonly action: NoteAction;
  readonly actor: string;
  readonly detail: string;
  /** Write it only if the trail has no line of this action yet (pages, timelines). */
  readonly once?: boolean;
}

/** The approval could not reach the workflow: nothing will run, a person must take over. */
export interface ResumeFailed {
  readonly type: 'resume-failed';
  readonly at: string;
  /** The workflow's (or the network's) error text: outside text, escaped where shown. */
  readonly reason: string;
}

/** Reserve the round's fix (or rollback) before it is sent, so that it is never sent twice. */
export interface FixReserved {
  readonly type: 'fix-reserved';
  readonly at: string;
  readonly purpose: 'fix' | 'rollback';
  readonly remediation: RemediationId;
}

/** What became of a reservation. */
export type Reservation =
  /** Reserved now: send it. */
  | { readonly kind: 'reserved'; readonly key: string }
  /** Reserved before and its send's outcome is unknown (it may have reached the node): never resent. */
  | { readonly kind: 'in-doubt'; readonly key: string }
  /** Sent before: a retry answers with the command recorded. */
  | { readonly kind: 'sent'; readonly key: string; readonly command: SentCommand };

/** The reserved command was not accepted: a retry may send it. */
export interface SendFailed {
  readonly type: 'send-failed';
  readonly key: string;
}

/** The workflow waits for an approval with this task token. */
export interface ApprovalAwaited {
  readonly type: 'approval-awaited';
  readonly at: string;
  readonly taskToken: string;
}

/** What became of an approval wait. */
export type Awaiting =
  | { readonly kind: 'waiting' }
  /**
   * The incident ended meanwhile: nothing waits. `unannounced`: it was escalated and its thread
   * never told (the wait's failure lets the workflow's escalation announce it).
   */
  | { readonly kind: 'ended'; readonly phase: IncidentPhase; readonly unannounced: boolean };

/** The workflow's outcome step: recovered after verification, or skipped (the cause went away). */
export interface OutcomeReached {
  readonly type: 'outcome';
  readonly at: string;
  readonly kind: 'recovered' | 'skipped';
  readonly remediation: RemediationId;
}

/** End the incident as escalated and tell the thread why. */
export interface Escalated {
  readonly type: 'escalated';
  readonly at: string;
  /** `escalated` by the workflow, or `execution-ended` for an execution that ended first. */
  readonly action: 'escalated' | 'execution-ended';
  readonly detail: string;
  /** Why, in plain text (escaped here where it goes into mrkdwn). */
  readonly why: string;
}

/** What became of an escalation. */
export type Escalation =
  /** Escalated now. */
  | { readonly kind: 'escalated' }
  /** Escalated before, but its thread was never told (a Slack failure): told now, nothing written. */
  | { readonly kind: 'announce-again' }
  /** Ended otherwise before (or escalated and announced): nothing to do. */
  | { readonly kind: 'already-ended'; readonly phase: IncidentPhase };

/** The alarm (or contributor) that opened the incident is back to OK. */
export interface AlarmOk {
  readonly type: 'alarm-ok';
  readonly at: string;
  /** The alarm, and its contributor if any, as the thread names it. */
  readonly from: string;
}

/** What an alarm's OK did. */
export type Recovery =
  /** Closed as recovered; `buttonsUp`: it was waiting for an approval, its buttons must expire. */
  | { readonly kind: 'closed'; readonly buttonsUp: boolean }
  /**
   * Recorded only: a fix or its verification is in flight (the workflow's own verification
   * decides), or the incident ended already (`phase` says how).
   */
  | { readonly kind: 'noted'; readonly phase: IncidentPhase };

/** Every event an incident moves on. */
export type IncidentEvent =
  | Clicked
  | ClickHeld
  | Noted
  | ResumeFailed
  | FixReserved
  | SendFailed
  | ApprovalAwaited
  | OutcomeReached
  | Escalated
  | AlarmOk;

/** Whether a transition changed the incident (for the events that only record). */
export type Recorded = { readonly kind: 'recorded' } | { readonly kind: 'unchanged' };

/** Move `incident` on with `event`. */
export function transition(incident: Incident, event: Clicked): Transition<ClickDecision>;
export function transition(
  incident: Incident,
  event: ClickHeld | Noted | ResumeFailed | SendFailed,
): Transition<Recorded>;
export function transition(incident: Incident, event: FixReserved): Transition<Reservation>;
export function transition(incident: Incident, event: ApprovalAwaited): Transition<Awaiting>;
export function transition(incident: Incident, event: OutcomeReached): Transition<{ readonly kind: 'ended' }>;
export function transition(incident: Incident, event: Escalated): Transition<Escalation>;
export function transition(incident: Incident, event: AlarmOk): Transition<Recovery>;
export function transition(incident: Incident, event: IncidentEvent): Transition<unknown>;
export function transition(incident: Incident, event: IncidentEvent): Transition<unknown> {
  switch (event.type) {
    case 'approve-clicked':
      return approve(incident, event);
    case 'deny-clicked':
    case 'rerun-clicked':
      return takeOver(incident, event);
    case 'click-held':
      return recorded(
        audited(
          { ...incident, round: withHold(roundOf(incident), event.user) },
          event.at,
          'held',
          event.user,
          `${event.action}: ${event.reason}`,
        ),
      );
    case 'noted':
      if (event.once && incident.audit.some((a) => a.action === event.action)) return unchanged(incident);
      return recorded(audited(incident, event.at, event.action, event.actor, event.detail));
    case 'resume-failed':
      return recorded(
        audited(
          { ...incident, phase: 'escalated', taskToken: null },
          event.at,
          'resume-failed',
          'nodemedic',
          event.reason,
        ),
        resumeFailedEffects(event.reason),
      );
    case 'fix-reserved':
      return reserve(incident, event);
    case 'send-failed':
      return recorded({
        ...incident,
        commands: (incident.commands ?? []).map((c) =>
          c.key === event.key ? { ...c, state: 'send-failed' as const } : c,
        ),
      });
    case 'approval-awaited':
      return awaitApproval(incident, event);
    case 'outcome':
      return conclude(incident, event);
    case 'escalated':
      return escalate(incident, event);
    case 'alarm-ok':
      return alarmOk(incident, event);
  }
}

function approve(incident: Incident, event: ApproveClicked): Transition<ClickDecision> {
  const { at, user, remediation } = event;
  const stale = staleReason(incident, event.messageTs);
  if (stale) return staleClick(incident, stale);
  const reject = (reason: string, audit: string): Transition<ClickDecision> => ({
    incident: audited(incident, at, 'rejected', user, `${remediation}: ${audit}`),
    effects: [{ kind: 'reply-privately', text: `Not recorded: ${reason}.` }],
    outcome: { kind: 'rejected', reason },
  });
  if (!incident.offered.includes(remediation)) {
    return reject(`${remediation} was not offered for this incident`, 'not offered');
  }
  const decision = applyApproval(
    { requested: incident.requested, approvals: incident.approvals },
    { remediation, user, at },
    event.policy,
  );
  if (decision.outcome === 'rejected') return reject(decision.reason, decision.reason);
  const base: Incident = {
    ...incident,
    requested: incident.requested ?? { remediation, by: user },
    approvals: [...incident.approvals, { remediation, user, at }],
  };
  if (decision.outcome === 'needs-another') {
    const title = getRemediation(remediation).title;
    return {
      incident: audited(base, at, 'approval', user, `${remediation}: ${decision.have} of ${decision.need}`),
      effects: [
        {
          kind: 'reply-privately',
          text: `Your approval of *${title}* is recorded (${decision.have} of ${decision.need}). It needs another on-call engineer, not the requester.`,
        },
        { kind: 'update-card' },
      ],
      outcome: { kind: 'needs-another', remediation, have: decision.have, need: decision.need },
    };
  }
  // Not stale: the incident waits with a token (staleReason checks both).
  const token = incident.taskToken ?? '';
  const round = roundOf(incident);
  return {
    incident: audited(
      { ...base, phase: 'fixing', taskToken: null, round: { ...round, approved: round.approved + 1 } },
      at,
      'approved',
      user,
      `${remediation} by ${decision.approvers.join(', ')}`,
    ),
    effects: [
      {
        kind: 'resume-workflow',
        token,
        decision: { decision: 'approve', remediation, by: decision.approvers },
      },
      {
        kind: 'close-buttons',
        text: decisionText('Approved', decision.approvers, at, remediation),
        tolerant: true,
      },
    ],
    outcome: { kind: 'approved', remediation, approvers: decision.approvers },
  };
}

/** Deny or re-run: both answer the wait with the token they take from the incident. */
function takeOver(incident: Incident, event: DenyClicked | RerunClicked): Transition<ClickDecision> {
  const { at, user } = event;
  const stale = staleReason(incident, event.messageTs);
  if (stale) return staleClick(incident, stale);
  const token = incident.taskToken ?? '';
  if (event.type === 'deny-clicked') {
    return {
      incident: audited(
        { ...incident, phase: 'closed', taskToken: null },
        at,
        'denied',
        user,
        'denied the fixes: a person handles it',
      ),
      effects: [
        { kind: 'stop-workflow', token, why: 'denied', cause: `denied by ${user} at ${at}` },
        { kind: 'close-buttons', text: decisionText('Handled by a person', [user], at), tolerant: false },
        { kind: 'update-card', note: `Closed: <@${user}> is handling it.` },
        { kind: 'incident-ended' },
      ],
      outcome: { kind: 'denied' },
    };
  }
  return {
    incident: audited(
      { ...incident, phase: 'diagnosing', taskToken: null, requested: null, approvals: [] },
      at,
      'rerun',
      user,
      'asked for a new diagnosis',
    ),
    effects: [
      { kind: 'resume-workflow', token, decision: { decision: 'rerun', remediation: null, by: [user] } },
      { kind: 'close-buttons', text: decisionText('Re-run requested', [user], at), tolerant: false },
    ],
    outcome: { kind: 'rerun' },
  };
}

/** Audit actions that close an approval round, for the "already handled by X at T" answer. */
const DECISION_ACTIONS: ReadonlySet<string> = new Set([
  'approved',
  'denied',
  'rerun',
  'escalated',
  'expired', // written by earlier versions
  'alarm-ok',
  'resume-failed',
]);

/** Why a button no longer acts, or null when the incident is waiting for exactly this message. */
function staleReason(incident: Incident, messageTs: string): string | null {
  const current = incident.findingsMessage?.ts;
  const waiting = incident.phase === 'awaiting-approval' && incident.taskToken !== null;
  if (waiting && (current === undefined || current === messageTs)) return null;
  // Read for what it says, not acted on: which decision the clicker was too late for.
  const last = [...incident.audit].reverse().find((a) => DECISION_ACTIONS.has(a.action));
  // The detail may quote outside text (a workflow error): escaped, the mention of who is ours.
  if (last)
    return `Already handled: ${last.action} by ${who(last.actor)} at ${last.at} (${escapeMrkdwn(last.detail)}).`;
  return `These buttons no longer act: the incident is ${incident.phase}.`;
}

function who(actor: string): string {
  return SLACK_ID.user.test(actor) ? `<@${actor}>` : actor;
}

function resumeFailedEffects(reason: string): Effect[] {
  // The reason is Step Functions' (or the network's) text: escaped like any outside text, in the
  // mrkdwn it is put into, so it can neither mention nor link.
  const shown = escapeMrkdwn(reason);
  return [
    {
      kind: 'reply-privately',
      text: `Recorded, but the workflow could not be resumed (${shown}). The incident is escalated.`,
    },
    {
      kind: 'update-card',
      note: `The approval could not reach the workflow (${shown}): a person must take over.`,
    },
    { kind: 'expire-buttons', text: `Expired: the approval could not reach the workflow (${shown}).` },
  ];
}

/**
 * One fix (and one rollback) per approval round, whatever the workflow retries: the round's key
 * is reserved before the send, a retry finds it, and a reservation whose outcome is unknown (the
 * send may have reached the node) is never sent again.
 */
function reserve(incident: Incident, event: FixReserved): Transition<Reservation> {
  const key = `${event.purpose}#${roundOf(incident).approved}`;
  const existing = incident.commands?.find((c) => c.key === key && c.state !== 'send-failed');
  if (existing) {
    return stay(
      incident,
      existing.state === 'sending' ? { kind: 'in-doubt', key } : { kind: 'sent', key, command: existing },
    );
  }
  const fix = event.purpose === 'fix';
  const firstTry = !incident.commands?.some((c) => c.key === key);
  const reservation: SentCommand = {
    key,
    commandId: null,
    script: event.remediation,
    at: event.at,
    state: 'sending',
  };
  return {
    incident: {
      ...incident,
      phase: fix ? 'fixing' : incident.phase,
      attempts: fix && firstTry ? incident.attempts + 1 : incident.attempts,
      commands: [...(incident.commands ?? []).filter((c) => c.key !== key), reservation],
    },
    effects: [],
    outcome: { kind: 'reserved', key },
  };
}

function awaitApproval(incident: Incident, event: ApprovalAwaited): Transition<Awaiting> {
  if (isTerminal(incident)) {
    return stay(incident, { kind: 'ended', phase: incident.phase, unannounced: unannounced(incident) });
  }
  return {
    incident: audited(
      { ...incident, phase: 'awaiting-approval', taskToken: event.taskToken },
      event.at,
      'awaiting-approval',
      'nodemedic',
      `offered: ${incident.offered.join(', ')}`,
    ),
    effects: [{ kind: 'update-card' }],
    outcome: { kind: 'waiting' },
  };
}

function conclude(incident: Incident, event: OutcomeReached): Transition<{ readonly kind: 'ended' }> {
  const detail =
    event.kind === 'recovered'
      ? `\`${event.remediation}\` was applied and verification passed: containerd answers and the cause is gone.`
      : `The cause that \`${event.remediation}\` fixes no longer holds, so nothing was run.`;
  return {
    incident: audited(
      { ...incident, phase: event.kind === 'recovered' ? 'recovered' : 'closed', taskToken: null },
      event.at,
      event.kind,
      'nodemedic',
      event.remediation,
    ),
    effects: [
      { kind: 'update-card' },
      { kind: 'post-outcome', outcome: event.kind, detail },
      ...(buttonsLive(incident) ? [{ kind: 'expire-buttons' as const, text: escapeMrkdwn(detail) }] : []),
      ...(event.kind === 'recovered' ? [{ kind: 'count-recovery' as const }] : []),
      { kind: 'incident-ended' },
    ],
    outcome: { kind: 'ended' },
  };
}

function escalate(incident: Incident, event: Escalated): Transition<Escalation> {
  if (isTerminal(incident) && !unannounced(incident)) {
    return stay(incident, { kind: 'already-ended', phase: incident.phase });
  }
  const why = escapeMrkdwn(event.why);
  const effects: Effect[] = [
    { kind: 'update-card', note: why },
    ...(buttonsLive(incident) ? [{ kind: 'expire-buttons' as const, text: `Expired: ${why}` }] : []),
    {
      kind: 'post-outcome',
      outcome: 'escalated',
      detail: `${event.why} A person needs to look at ${incident.node.instanceId}.`,
    },
  ];
  if (isTerminal(incident)) return { incident, effects, outcome: { kind: 'announce-again' } };
  return {
    incident: audited(
      { ...incident, phase: 'escalated', taskToken: null },
      event.at,
      event.action,
      'nodemedic',
      event.detail,
    ),
    effects,
    outcome: { kind: 'escalated' },
  };
}

function alarmOk(incident: Incident, event: AlarmOk): Transition<Recovery> {
  const { phase } = incident;
  if (phase === 'fixing' || phase === 'verifying' || isTerminal(incident)) {
    return {
      incident: audited(incident, event.at, 'alarm-ok', 'alarm', `${event.from} is OK during ${phase}`),
      effects: [],
      outcome: { kind: 'noted', phase },
    };
  }
  const token = incident.taskToken;
  return {
    incident: audited(
      { ...incident, phase: 'recovered', taskToken: null },
      event.at,
      'alarm-ok',
      'alarm',
      `${event.from} back to OK`,
    ),
    effects: token
      ? [{ kind: 'stop-workflow', token, why: 'recovered', cause: `alarm ${event.from} went back to OK` }]
      : [],
    outcome: { kind: 'closed', buttonsUp: phase === 'awaiting-approval' },
  };
}

/** Audit action recording that an escalation's messages are all in Slack. */
export const ANNOUNCED = 'escalation-posted' satisfies AuditAction;
/** Audit actions of the escalations. */
const ESCALATIONS: ReadonlySet<string> = new Set(['escalated', 'execution-ended', 'resume-failed']);

/** Escalated, but a Slack failure stopped the thread from being told (the last try was cut short). */
export function unannounced(incident: Incident): boolean {
  if (incident.phase !== 'escalated') return false;
  const last = [...incident.audit].reverse().find((a) => ESCALATIONS.has(a.action) || a.action === ANNOUNCED);
  return last !== undefined && last.action !== ANNOUNCED;
}

/** Audit actions that put buttons up, and those that took them down. */
const BUTTONS_UP: ReadonlySet<string> = new Set(['analyzed', 'awaiting-approval', BUTTONS_NOT_CLOSED]);
const BUTTONS_DOWN: ReadonlySet<string> = new Set([
  'approved',
  'denied',
  'rerun',
  'resume-failed',
  'alarm-ok',
  'expired', // written by earlier versions
]);

/** True when the findings message may still show buttons that act: they must expire. */
function buttonsLive(incident: Incident): boolean {
  const last = [...incident.audit]
    .reverse()
    .find((a) => BUTTONS_UP.has(a.action) || BUTTONS_DOWN.has(a.action));
  return last !== undefined && BUTTONS_UP.has(last.action) && incident.offered.length > 0;
}

function withHold(round: ApprovalRound, user: string): ApprovalRound {
  const held = Object.hasOwn(round.holds, user) ? (round.holds[user] ?? 0) : 0;
  return { ...round, holds: { ...round.holds, [user]: held + 1 } };
}

/** The incident with one more line in its audit trail. */
function audited(
  incident: Incident,
  at: string,
  action: AuditAction,
  actor: string,
  detail: string,
): Incident {
  return { ...incident, audit: [...incident.audit, { at, action, actor, detail }] };
}

function stay<O>(incident: Incident, outcome: O): Transition<O> {
  return { incident, effects: [], outcome };
}

/** A click on buttons that no longer act changes nothing and is told why, privately. */
function staleClick(incident: Incident, detail: string): Transition<ClickDecision> {
  return {
    incident,
    effects: [{ kind: 'reply-privately', text: detail }],
    outcome: { kind: 'stale', detail },
  };
}

function recorded(incident: Incident, effects: readonly Effect[] = []): Transition<Recorded> {
  return { incident, effects, outcome: { kind: 'recorded' } };
}

function unchanged(incident: Incident): Transition<Recorded> {
  return { incident, effects: [], outcome: { kind: 'unchanged' } };
}
