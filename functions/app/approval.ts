/**
 * The approval use cases behind the findings message's buttons: approve a fix, deny ("I'll handle
 * it"), re-run the diagnosis. The Slack listeners ack first and then call one of these; each does
 * a handful of fast calls (store, Step Functions, Slack) so the whole request stays inside Slack's
 * 3-second budget.
 *
 * Safety (design.md): every click is authorized server-side, refusals are answered privately,
 * logged and audited; Slack retries and double clicks never act twice (a one-shot key per click,
 * and the decision itself is taken inside the store's atomic update, so two concurrent clicks can
 * never both resume the workflow); a destructive fix waits for two distinct approvers, neither of
 * them the requester (`applyApproval`, functions/core/plan.ts).
 */
import { type Incident, InFlightLimitError, roundOf } from '../core/incident.js';
import { isRemediationId, type RemediationId } from '../core/model.js';
import { escapeMrkdwn, renderRefusal } from '../core/render/slack.js';
import { shadowRefusal } from '../core/shadow.js';
import { type ClickDecision, type Transition, transition } from '../core/transitions.js';
import { onCall } from './authorize.js';
import type { AppDeps } from './deps.js';
import { applyTransition, describe, perform } from './effects.js';
import { METRICS } from './metrics.js';

/**
 * What the approval use cases read of `AppDeps`: the on-call group and allow-list authorize a
 * click, `metrics` counts refused ones, `pager` is resolved when a person takes the incident over.
 */
export type ApprovalDeps = Pick<
  AppDeps,
  | 'store'
  | 'workflow'
  | 'chat'
  | 'policy'
  | 'onCallUserGroupId'
  | 'onCallAllowList'
  | 'clock'
  | 'logger'
  | 'metrics'
  | 'pager'
>;

/** One button press, as the listener read it from the signed payload. */
export interface Click {
  /** The button's value: the incident id. */
  readonly incidentId: string;
  readonly user: string;
  /** The channel the click came from; it must be the incident's own. */
  readonly channel: string;
  /** The Slack team (workspace) the click came from. */
  readonly team: string;
  /** The team the app is installed in (configured, or auth.test's); `team` must equal it. */
  readonly installedTeam: string;
  /** The message carrying the button (the findings message). */
  readonly messageTs: string;
  /** The thread the message is in, for ephemeral replies. */
  readonly threadTs?: string;
  /** True when Slack marked the request as a retry (`x-slack-retry-num`). */
  readonly retry: boolean;
}

/**
 * What became of a click; the listener needs nothing more (the use case already replied). What the
 * transition decided (functions/core/transitions.ts), or what the gate and the resume made of it.
 */
export type ClickOutcome =
  | ClickDecision
  /** Not authorized: refused privately, logged, audited. */
  | { readonly kind: 'refused' }
  /** The same click again (retry, double click): nothing done. */
  | { readonly kind: 'duplicate' }
  | { readonly kind: 'not-found' }
  /** The workflow could not be resumed; the incident was escalated. */
  | { readonly kind: 'failed'; readonly reason: string };

/** How long a click's one-shot key is kept (fix buttons and the roll button): longer than any approval window. */
export const CLICK_TTL_SECONDS = 86_400;

/** Approve `remediation` (a fix button, `nm_fix:<id>`). */
export async function approveFix(
  deps: ApprovalDeps,
  click: Click & { readonly remediation: string },
): Promise<ClickOutcome> {
  if (!isRemediationId(click.remediation)) {
    await privately(
      deps,
      click,
      `That button names an unknown fix (${click.remediation.slice(0, 60)}); nothing was done.`,
    );
    return { kind: 'rejected', reason: 'unknown remediation' };
  }
  const remediation = click.remediation;
  // The blast radius, checked again at the click: other fixes may have started since the findings.
  // Checked before the click is claimed, so that pressing again later counts.
  const gate = await admit(deps, click, `fix:${remediation}`, async (incident) => {
    // Only a fix still waiting for its approval can be held; a used button is answered as such
    // below. Read afresh: a concurrent click may have approved it a moment ago.
    const fresh = await deps.store.get(incident.id);
    if (fresh?.phase !== 'awaiting-approval') return null;
    const inFlight = await deps.store.countInFlight(incident.node.cluster);
    return inFlight >= deps.policy.maxFixesInFlightPerCluster
      ? `${inFlight} fix(es) already in flight in cluster ${incident.node.cluster} (limit ${deps.policy.maxFixesInFlightPerCluster}); press again when they finish`
      : null;
  });
  if (gate.kind !== 'admitted') return gate.outcome;
  const at = deps.clock().toISOString();
  // The check above is advice; this write is the rule: the move into `fixing` takes one of the
  // cluster's fix slots in the same conditional write, so two approvals in the same instant (of
  // two nodes of one cluster) cannot both pass the limit.
  const slots = { inFlightLimit: deps.policy.maxFixesInFlightPerCluster };
  let written: Transition<ClickDecision>;
  try {
    written = await applyTransition(
      deps.store,
      click.incidentId,
      (current) =>
        transition(current, {
          type: 'approve-clicked',
          at,
          user: click.user,
          messageTs: click.messageTs,
          remediation,
          policy: deps.policy,
        }),
      slots,
    );
  } catch (err) {
    if (!(err instanceof InFlightLimitError)) throw err;
    return heldAtTheSlot(deps, click, remediation, err);
  }
  const performed = await perform(deps, written, { click });
  if (!performed.ok) return { kind: 'failed', reason: performed.reason };
  const result = written.outcome;
  if (result.kind === 'approved') {
    deps.logger.info('fix approved', {
      incidentId: written.incident.id,
      remediation,
      approvers: result.approvers,
    });
  }
  return result;
}

/**
 * Another approval took the cluster's last fix slot a moment before this one: nothing was recorded
 * (the incident still waits), and the clicker is told so privately and in the audit.
 */
async function heldAtTheSlot(
  deps: ApprovalDeps,
  click: Click,
  remediation: RemediationId,
  err: InFlightLimitError,
): Promise<ClickOutcome> {
  const reason = `${err.message}: another fix took the last slot at the same moment`;
  deps.logger.warn('approval held at the in-flight limit', { incidentId: click.incidentId, remediation });
  const at = deps.clock().toISOString();
  await applyTransition(deps.store, click.incidentId, (current) =>
    transition(current, { type: 'click-held', at, user: click.user, action: `fix:${remediation}`, reason }),
  );
  await privately(
    deps,
    click,
    `Not recorded: ${escapeMrkdwn(reason)}. This incident still waits: press again once that fix ends.`,
  );
  return { kind: 'rejected', reason };
}

/** Deny / "I'll handle it": fail the waiting approval and close the card with who did it. */
export async function denyFix(deps: ApprovalDeps, click: Click): Promise<ClickOutcome> {
  const gate = await admit(deps, click, 'deny');
  if (gate.kind !== 'admitted') return gate.outcome;
  const at = deps.clock().toISOString();
  const written = await applyTransition(deps.store, click.incidentId, (current) =>
    transition(current, { type: 'deny-clicked', at, user: click.user, messageTs: click.messageTs }),
  );
  await perform(deps, written, { click });
  if (written.outcome.kind === 'denied')
    deps.logger.info('fixes denied', { incidentId: written.incident.id, by: click.user });
  return written.outcome;
}

/** Re-run the diagnosis: resume the waiting workflow with `{ decision: 'rerun' }`. */
export async function rerunDiagnosis(deps: ApprovalDeps, click: Click): Promise<ClickOutcome> {
  const gate = await admit(deps, click, 'rerun');
  if (gate.kind !== 'admitted') return gate.outcome;
  const at = deps.clock().toISOString();
  const written = await applyTransition(deps.store, click.incidentId, (current) =>
    transition(current, { type: 'rerun-clicked', at, user: click.user, messageTs: click.messageTs }),
  );
  const performed = await perform(deps, written, { click });
  if (!performed.ok) return { kind: 'failed', reason: performed.reason };
  return written.outcome;
}

type Gate = { kind: 'admitted'; incident: Incident } | { kind: 'closed'; outcome: ClickOutcome };

/**
 * What every button does first: find the incident, check that the click came from the incident's
 * channel and the installed team, drop repeats of the same click, and check that the clicker may
 * approve. The origin is checked first: a click from elsewhere (another workspace sharing the
 * channel, a copy of the message posted in another channel) learns nothing more about the
 * incident. Authorization comes after the repeat check so a retried refusal is not audited twice,
 * and before anything about the incident is told to the clicker.
 */
async function admit(
  deps: ApprovalDeps,
  click: Click,
  action: string,
  hold?: (incident: Incident) => Promise<string | null>,
): Promise<Gate> {
  const incident = await deps.store.get(click.incidentId);
  if (!incident) {
    await privately(deps, click, 'This incident is unknown (it may have expired); nothing was done.');
    return { kind: 'closed', outcome: { kind: 'not-found' } };
  }
  const foreign = originProblem(incident, click);
  if (foreign) {
    return refuse(deps, click, incident, action, {
      reason: foreign,
      log: 'click from outside the incident refused',
      reply:
        "Buttons act only in the incident's own channel, from the workspace nodemedic is installed in. Your click was refused and logged; nothing was done.",
      note: 'but the click came from another channel or workspace',
    });
  }
  // Fail closed: without the group's member list nobody is let through.
  const allowed = await onCall(deps, click, { incidentId: incident.id });
  if (allowed === null)
    return { kind: 'closed', outcome: { kind: 'rejected', reason: 'authorization check failed' } };
  // Claimed only once the clicker is known to be allowed or refused: a click that failed the
  // membership check above (Slack down) can be pressed again and count.
  if (!allowed) {
    return refuse(deps, click, incident, action, {
      reason: 'not in the on-call group or allow-list',
      log: 'unauthorized click refused',
      reply:
        'Only members of the on-call group (or the allow-list) can act on nodemedic incidents. Your click was refused and logged.',
      note: 'but is not in the on-call group or allow-list',
    });
  }
  // Shadow mode: no button runs anything, whatever a (forged or stale) click names.
  const shadow = shadowRefusal(deps.policy, incident);
  if (shadow) {
    return refuse(deps, click, incident, action, {
      reason: shadow,
      log: 'click on a shadow-mode incident refused',
      reply: `${escapeMrkdwn(shadow)}. Your click was refused and logged; nothing was done.`,
      note: 'but the cluster is in shadow mode',
    });
  }
  const held = hold ? await hold(incident) : null;
  if (held) {
    const at = deps.clock().toISOString();
    await applyTransition(deps.store, incident.id, (current) =>
      transition(current, { type: 'click-held', at, user: click.user, action, reason: held }),
    );
    await privately(deps, click, `Not recorded: ${held}.`);
    return { kind: 'closed', outcome: { kind: 'rejected', reason: held } };
  }
  // A press held at the fix slots (another fix took the last one) may be pressed again once they
  // free: each hold of this user starts a new round of their clicks on this incident.
  const round = roundOf(incident);
  const holds = Object.hasOwn(round.holds, click.user) ? (round.holds[click.user] ?? 0) : 0;
  const key = `click:${incident.id}:${click.messageTs}:${click.user}:${action}${holds ? `:after-hold-${holds}` : ''}`;
  if (!(await deps.store.claimOnce(key, CLICK_TTL_SECONDS))) {
    deps.logger.info('repeated click ignored', {
      incidentId: incident.id,
      user: click.user,
      action,
      retry: click.retry,
    });
    // A Slack retry gets no second answer; a person pressing again is told where things stand.
    if (!click.retry) await privately(deps, click, repeatText(incident, action));
    return { kind: 'closed', outcome: { kind: 'duplicate' } };
  }
  return { kind: 'admitted', incident };
}

/**
 * Why a click does not come from where the incident lives, or null when it does: the installed
 * team, and the channel of the incident's findings message (else its thread or card). An
 * incident with no message in Slack has no buttons, so no click can come from it.
 */
function originProblem(incident: Incident, click: Click): string | null {
  if (click.team !== click.installedTeam) {
    return `from team ${click.team}, not the installed team ${click.installedTeam}`;
  }
  const home = homeChannel(incident);
  if (!home) return 'the incident has no message in Slack';
  if (click.channel !== home) return `from channel ${click.channel}, not the incident's channel ${home}`;
  return null;
}

function homeChannel(incident: Incident): string | undefined {
  return incident.findingsMessage?.channel ?? incident.thread?.channel ?? incident.card?.channel;
}

/**
 * Refuse a click: once per clicker, message, action and reason (a retried refusal is neither
 * logged nor audited twice), logged, audited in the record and in the incident's thread, and
 * answered privately. Nothing else happens.
 */
async function refuse(
  deps: ApprovalDeps,
  click: Click,
  incident: Incident,
  action: string,
  why: { reason: string; log: string; reply: string; note: string },
): Promise<Gate> {
  const key = `refused:${incident.id}:${click.messageTs}:${click.user}:${action}:${click.channel}:${click.team}`;
  if (!(await deps.store.claimOnce(key, CLICK_TTL_SECONDS))) {
    return { kind: 'closed', outcome: { kind: 'duplicate' } };
  }
  deps.metrics?.count(METRICS.approvalsRefused, { cluster: incident.node.cluster });
  deps.logger.warn(why.log, {
    incidentId: incident.id,
    user: click.user,
    action,
    channel: click.channel,
    team: click.team,
    reason: why.reason,
  });
  const at = deps.clock().toISOString();
  await applyTransition(deps.store, incident.id, (current) =>
    transition(current, {
      type: 'noted',
      at,
      action: 'refused',
      actor: click.user,
      detail: `${action}: ${why.reason}`,
    }),
  );
  // The thread is part of the audit trail: refusals show there too, not only in the record. It
  // is the incident's own thread, whatever channel the click came from.
  const home = homeChannel(incident);
  const thread =
    incident.thread?.ts ?? incident.card?.ts ?? (click.channel === home ? click.threadTs : undefined);
  if (home && thread) {
    await deps.chat.post(home, renderRefusal({ user: click.user, action, note: why.note }), thread);
  }
  try {
    await privately(deps, click, why.reply);
  } catch (err) {
    // A channel of another workspace may not take our ephemeral: the refusal stands regardless.
    deps.logger.warn('could not answer a refused click privately', {
      incidentId: incident.id,
      user: click.user,
      error: describe(err),
    });
  }
  return { kind: 'closed', outcome: { kind: 'refused' } };
}

function repeatText(incident: Incident, action: string): string {
  const mine = action.startsWith('fix:') && incident.requested && incident.phase === 'awaiting-approval';
  if (mine) {
    const need = incident.approvals.length;
    return `You already approved this; it is still waiting for another approver (${need} recorded so far).`;
  }
  return 'You already pressed this button; it was handled once.';
}

/** Answer the clicker alone, in the click's thread (fix buttons and the roll button). */
export async function privately(deps: Pick<ApprovalDeps, 'chat'>, click: Click, text: string): Promise<void> {
  await deps.chat.postEphemeral(click.channel, click.user, text, click.threadTs);
}
