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
import { NodemedicError } from '../core/errors.js';
import {
  type Approval,
  type AuditEntry,
  BUTTONS_NOT_CLOSED,
  type Incident,
  InFlightLimitError,
} from '../core/incident.js';
import { isRemediationId, type RemediationId } from '../core/model.js';
import { SLACK_ID } from '../core/patterns.js';
import { applyApproval } from '../core/plan.js';
import type { MessageRef } from '../core/ports.js';
import { getRemediation } from '../core/remediations/index.js';
import {
  decisionText,
  escapeMrkdwn,
  renderCard,
  renderDecision,
  renderRefusal,
} from '../core/render/slack.js';
import { shadowRefusal } from '../core/shadow.js';
import { isAuthorized } from './authorize.js';
import { type ApprovalDecision, WORKFLOW_ERRORS } from './contract.js';
import type { AppDeps } from './deps.js';
import { incidentEnded } from './ending.js';
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

/** What became of a click; the listener needs nothing more (the use case already replied). */
export type ClickOutcome =
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
  /** Not authorized: refused privately, logged, audited. */
  | { readonly kind: 'refused' }
  /** The same click again (retry, double click): nothing done. */
  | { readonly kind: 'duplicate' }
  /** The button was used or expired already. */
  | { readonly kind: 'stale'; readonly detail: string }
  | { readonly kind: 'not-found' }
  /** The workflow could not be resumed; the incident was escalated. */
  | { readonly kind: 'failed'; readonly reason: string };

/** How long a click's one-shot key is kept: longer than any approval window. */
const CLICK_TTL_SECONDS = 86_400;

/** Audit actions that close an approval round, for the "already handled by X at T" answer. */
const DECISION_ACTIONS = new Set([
  'approved',
  'denied',
  'rerun',
  'escalated',
  'expired',
  'alarm-ok',
  'resume-failed',
]);

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
  let outcome: ClickOutcome = { kind: 'stale', detail: '' };
  let token: string | null = null;
  // The check above is advice; this write is the rule: the move into `fixing` takes one of the
  // cluster's fix slots in the same conditional write, so two approvals in the same instant (of
  // two nodes of one cluster) cannot both pass the limit.
  const slots = { inFlightLimit: deps.policy.maxFixesInFlightPerCluster };
  let updated: Incident;
  try {
    updated = await deps.store.update(
      click.incidentId,
      (current) => {
        token = null;
        const stale = staleReason(current, click.messageTs);
        if (stale) {
          outcome = { kind: 'stale', detail: stale };
          return current;
        }
        if (!current.offered.includes(remediation)) {
          outcome = { kind: 'rejected', reason: `${remediation} was not offered for this incident` };
          return withAudit(current, entry(at, 'rejected', click.user, `${remediation}: not offered`));
        }
        const decision = applyApproval(
          { requested: current.requested, approvals: current.approvals },
          { remediation, user: click.user, at },
          deps.policy,
        );
        if (decision.outcome === 'rejected') {
          outcome = { kind: 'rejected', reason: decision.reason };
          return withAudit(current, entry(at, 'rejected', click.user, `${remediation}: ${decision.reason}`));
        }
        const approval: Approval = { remediation, user: click.user, at };
        const base: Incident = {
          ...current,
          requested: current.requested ?? { remediation, by: click.user },
          approvals: [...current.approvals, approval],
        };
        if (decision.outcome === 'needs-another') {
          outcome = { kind: 'needs-another', remediation, have: decision.have, need: decision.need };
          return withAudit(
            base,
            entry(at, 'approval', click.user, `${remediation}: ${decision.have} of ${decision.need}`),
          );
        }
        outcome = { kind: 'approved', remediation, approvers: decision.approvers };
        token = current.taskToken;
        return withAudit(
          { ...base, phase: 'fixing', taskToken: null },
          entry(at, 'approved', click.user, `${remediation} by ${decision.approvers.join(', ')}`),
        );
      },
      slots,
    );
  } catch (err) {
    if (!(err instanceof InFlightLimitError)) throw err;
    return heldAtTheSlot(deps, click, remediation, err);
  }
  const result = outcome as ClickOutcome;
  switch (result.kind) {
    case 'stale':
      await privately(deps, click, result.detail);
      return result;
    case 'rejected':
      await privately(deps, click, `Not recorded: ${result.reason}.`);
      return result;
    case 'needs-another': {
      const title = getRemediation(remediation).title;
      await privately(
        deps,
        click,
        `Your approval of *${title}* is recorded (${result.have} of ${result.need}). It needs another on-call engineer, not the requester.`,
      );
      await refreshCard(deps, updated);
      return result;
    }
    case 'approved': {
      const decision: ApprovalDecision = { decision: 'approve', remediation, by: result.approvers };
      const resumed = await resume(deps, updated, token, decision, click);
      if (!resumed.ok) return { kind: 'failed', reason: resumed.reason };
      try {
        await closeButtons(deps, updated, click, decisionText('Approved', result.approvers, at, remediation));
      } catch (err) {
        // The fix is approved and the workflow resumed: a Slack failure here must not undo that,
        // nor leave buttons that look live for good. It is recorded, and the step that ends the
        // incident (outcome or escalation) turns the buttons into text.
        deps.logger.warn('approved, but the buttons could not be closed', {
          incidentId: updated.id,
          error: describe(err),
        });
        await deps.store.update(updated.id, (current) =>
          withAudit(
            current,
            entry(deps.clock().toISOString(), BUTTONS_NOT_CLOSED, 'nodemedic', describe(err)),
          ),
        );
      }
      deps.logger.info('fix approved', { incidentId: updated.id, remediation, approvers: result.approvers });
      return result;
    }
    default:
      return result;
  }
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
  await deps.store.update(click.incidentId, (current) =>
    withAudit(
      current,
      entry(deps.clock().toISOString(), 'held', click.user, `fix:${remediation}: ${reason}`),
    ),
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
  const taken = await takeToken(deps, click, (current) =>
    withAudit(
      { ...current, phase: 'closed', taskToken: null },
      entry(at, 'denied', click.user, 'denied the fixes: a person handles it'),
    ),
  );
  if (taken.kind === 'stale') return taken.outcome;
  const { incident: updated, token } = taken;
  try {
    await deps.workflow.fail(token, WORKFLOW_ERRORS.denied, `denied by ${click.user} at ${at}`);
  } catch (err) {
    // The card is closed either way: a person has taken over, and nothing will run.
    deps.logger.warn('could not stop the waiting workflow after a deny', {
      incidentId: updated.id,
      error: describe(err),
    });
  }
  await closeButtons(deps, updated, click, decisionText('Handled by a person', [click.user], at));
  await updateCard(deps, updated, `Closed: <@${click.user}> is handling it.`);
  await incidentEnded(deps, updated);
  deps.logger.info('fixes denied', { incidentId: updated.id, by: click.user });
  return { kind: 'denied' };
}

/** Re-run the diagnosis: resume the waiting workflow with `{ decision: 'rerun' }`. */
export async function rerunDiagnosis(deps: ApprovalDeps, click: Click): Promise<ClickOutcome> {
  const gate = await admit(deps, click, 'rerun');
  if (gate.kind !== 'admitted') return gate.outcome;
  const at = deps.clock().toISOString();
  const taken = await takeToken(deps, click, (current) =>
    withAudit(
      { ...current, phase: 'diagnosing', taskToken: null, requested: null, approvals: [] },
      entry(at, 'rerun', click.user, 'asked for a new diagnosis'),
    ),
  );
  if (taken.kind === 'stale') return taken.outcome;
  const { incident: updated, token } = taken;
  const decision: ApprovalDecision = { decision: 'rerun', remediation: null, by: [click.user] };
  const resumed = await resume(deps, updated, token, decision, click);
  if (!resumed.ok) return { kind: 'failed', reason: resumed.reason };
  await closeButtons(deps, updated, click, decisionText('Re-run requested', [click.user], at));
  return { kind: 'rerun' };
}

type Gate = { kind: 'admitted'; incident: Incident } | { kind: 'closed'; outcome: ClickOutcome };

type Taken = { kind: 'taken'; incident: Incident; token: string } | { kind: 'stale'; outcome: ClickOutcome };

/**
 * Move the incident on with `next` and take its task token in the same conditional write, so two
 * clicks cannot both answer one wait. A click on buttons that no longer act changes nothing and
 * is told why, privately.
 */
async function takeToken(
  deps: ApprovalDeps,
  click: Click,
  next: (current: Incident) => Incident,
): Promise<Taken> {
  // The store may run the transform more than once (optimistic retries): the last run counts.
  const seen: { stale: string | null; token: string | null } = { stale: null, token: null };
  const updated = await deps.store.update(click.incidentId, (current) => {
    seen.stale = staleReason(current, click.messageTs);
    seen.token = seen.stale ? null : current.taskToken;
    return seen.stale ? current : next(current);
  });
  // Not stale means the incident was waiting with a token (staleReason checks both).
  if (seen.stale || seen.token === null) {
    const detail = seen.stale ?? 'the incident holds no task token';
    await privately(deps, click, detail);
    return { kind: 'stale', outcome: { kind: 'stale', detail } };
  }
  return { kind: 'taken', incident: updated, token: seen.token };
}

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
  let allowed: boolean;
  try {
    allowed = await isAuthorized(click.user, {
      chat: deps.chat,
      userGroupId: deps.onCallUserGroupId,
      allowList: deps.onCallAllowList ?? [],
    });
  } catch (err) {
    // Fail closed: without the group's member list nobody is let through.
    deps.logger.error('authorization check failed', {
      incidentId: incident.id,
      user: click.user,
      error: describe(err),
    });
    await privately(
      deps,
      click,
      'nodemedic could not check your on-call membership right now; nothing was done. Try again in a minute.',
    );
    return { kind: 'closed', outcome: { kind: 'rejected', reason: 'authorization check failed' } };
  }
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
    await deps.store.update(incident.id, (current) =>
      withAudit(current, entry(deps.clock().toISOString(), 'held', click.user, `${action}: ${held}`)),
    );
    await privately(deps, click, `Not recorded: ${held}.`);
    return { kind: 'closed', outcome: { kind: 'rejected', reason: held } };
  }
  // A press held at the fix slots (another fix took the last one) may be pressed again once they
  // free: each hold of this user starts a new round of their clicks on this incident.
  const holds = incident.audit.filter((a) => a.action === 'held' && a.actor === click.user).length;
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
  await deps.store.update(incident.id, (current) =>
    withAudit(current, entry(at, 'refused', click.user, `${action}: ${why.reason}`)),
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

/** Why a button no longer acts, or null when the incident is waiting for exactly this message. */
function staleReason(incident: Incident, messageTs: string): string | null {
  const current = incident.findingsMessage?.ts;
  const waiting = incident.phase === 'awaiting-approval' && incident.taskToken !== null;
  if (waiting && (current === undefined || current === messageTs)) return null;
  const last = [...incident.audit].reverse().find((a) => DECISION_ACTIONS.has(a.action));
  // The detail may quote outside text (a workflow error): escaped, the mention of who is ours.
  if (last)
    return `Already handled: ${last.action} by ${who(last.actor)} at ${last.at} (${escapeMrkdwn(last.detail)}).`;
  return `These buttons no longer act: the incident is ${incident.phase}.`;
}

function repeatText(incident: Incident, action: string): string {
  const mine = action.startsWith('fix:') && incident.requested && incident.phase === 'awaiting-approval';
  if (mine) {
    const need = incident.approvals.length;
    return `You already approved this; it is still waiting for another approver (${need} recorded so far).`;
  }
  return 'You already pressed this button; it was handled once.';
}

async function resume(
  deps: ApprovalDeps,
  incident: Incident,
  token: string | null,
  decision: ApprovalDecision,
  click: Click,
): Promise<{ ok: true } | { ok: false; reason: string }> {
  try {
    if (!token) throw new NodemedicError('NO_TASK_TOKEN', 'the incident holds no task token');
    await deps.workflow.resume(token, { ...decision });
    return { ok: true };
  } catch (err) {
    // The approval cannot reach the workflow (token expired, Step Functions down): nothing will
    // run, so a person must take over now rather than believe a fix is coming.
    const reason = describe(err);
    deps.logger.error('could not resume the workflow', { incidentId: incident.id, error: reason });
    const at = deps.clock().toISOString();
    const escalated = await deps.store.update(incident.id, (current) =>
      withAudit(
        { ...current, phase: 'escalated', taskToken: null },
        entry(at, 'resume-failed', 'nodemedic', reason),
      ),
    );
    // The reason is Step Functions' (or the network's) text: escaped like any outside text, in
    // the mrkdwn it is put into, so it can neither mention nor link.
    const shown = escapeMrkdwn(reason);
    await privately(
      deps,
      click,
      `Recorded, but the workflow could not be resumed (${shown}). The incident is escalated.`,
    );
    await updateCard(
      deps,
      escalated,
      `The approval could not reach the workflow (${shown}): a person must take over.`,
    );
    if (escalated.findingsMessage) {
      await deps.chat.update(
        escalated.findingsMessage,
        renderDecision(escalated, `Expired: the approval could not reach the workflow (${shown}).`),
      );
    }
    return { ok: false, reason };
  }
}

/** Turn the buttons into text and bring the card up to date. */
async function closeButtons(
  deps: ApprovalDeps,
  incident: Incident,
  click: Click,
  text: string,
): Promise<void> {
  const ref: MessageRef = incident.findingsMessage ?? { channel: click.channel, ts: click.messageTs };
  await deps.chat.update(ref, renderDecision(incident, text));
  await refreshCard(deps, incident);
}

async function refreshCard(deps: ApprovalDeps, incident: Incident): Promise<void> {
  if (incident.card) await deps.chat.update(incident.card, renderCard(incident));
}

async function updateCard(deps: ApprovalDeps, incident: Incident, note: string): Promise<void> {
  if (incident.card) await deps.chat.update(incident.card, renderCard(incident, { note }));
}

async function privately(deps: ApprovalDeps, click: Click, text: string): Promise<void> {
  await deps.chat.postEphemeral(click.channel, click.user, text, click.threadTs);
}

function entry(at: string, action: string, actor: string, detail: string): AuditEntry {
  return { at, action, actor, detail };
}

function withAudit(incident: Incident, audit: AuditEntry): Incident {
  return { ...incident, audit: [...incident.audit, audit] };
}

function who(actor: string): string {
  return SLACK_ID.user.test(actor) ? `<@${actor}>` : actor;
}

function describe(err: unknown): string {
  if (err instanceof NodemedicError) return `${err.code}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}
