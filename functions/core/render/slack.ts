/**
 * The one Block Kit renderer (style item 8). The core hands it incidents and reports; it returns
 * `ChatMessage`s that any `Chat` adapter posts as they are. Action ids are exported constants so
 * listeners and renderer cannot drift apart. Every message stays within Slack's limits and says
 * when it left something out. Everything that came from a node, an alarm or a user is escaped.
 */
import type { ActionsBlock, Button, KnownBlock } from '@slack/types';
import type { Incident, IncidentPhase } from '../incident.js';
import type { Finding, RemediationId, Report, Severity, Tier } from '../model.js';
import { SLACK_ID } from '../patterns.js';
import type { ChatMessage } from '../ports.js';
import { getRemediation as remediationMeta } from '../remediations/index.js';
import type { SuccessRates } from '../success-rates.js';
import {
  clip,
  context,
  escapeMrkdwn,
  header,
  mention,
  quoteLines,
  SLACK_LIMITS,
  section,
  slackDate,
  truncate,
} from './mrkdwn.js';
import { buttonLabel, rateSuffix, shadowNotice } from './trust.js';

export { escapeMrkdwn } from './mrkdwn.js';

/**
 * Slack action ids. A fix button's action_id is `nm_fix:<remediationId>` (one listener matches
 * the prefix); every button's value is the incident id.
 */
export const ACTION_IDS = { fix: 'nm_fix', deny: 'nm_deny', rerun: 'nm_rerun' } as const;

/** The action_id of the fix button for one remediation. */
export function fixActionId(remediation: RemediationId): string {
  return `${ACTION_IDS.fix}:${remediation}`;
}

/** The remediation id inside a fix button's action_id, or null when it is not one. */
export function parseFixActionId(actionId: string): string | null {
  const prefix = `${ACTION_IDS.fix}:`;
  return actionId.startsWith(prefix) ? actionId.slice(prefix.length) : null;
}

const PHASE_LOOK: Record<IncidentPhase, { emoji: string; title: string }> = {
  diagnosing: { emoji: ':mag:', title: 'Diagnosing' },
  findings: { emoji: ':clipboard:', title: 'Findings posted' },
  'awaiting-approval': { emoji: ':hourglass_flowing_sand:', title: 'Awaiting approval' },
  fixing: { emoji: ':wrench:', title: 'Fixing' },
  verifying: { emoji: ':stethoscope:', title: 'Verifying' },
  recovered: { emoji: ':white_check_mark:', title: 'Recovered' },
  escalated: { emoji: ':rotating_light:', title: 'Escalated' },
  closed: { emoji: ':lock:', title: 'Closed' },
};

const SEVERITY_EMOJI: Record<Severity, string> = {
  critical: ':red_circle:',
  warning: ':large_orange_circle:',
  info: ':large_blue_circle:',
};

const TIER_LABEL: Record<Tier, string> = {
  safe: 'safe',
  disruptive: 'disruptive',
  destructive: 'destructive, 2 approvers',
  manual: 'manual',
};

/** Evidence lines quoted per finding before the renderer says "n more". */
const EVIDENCE_PER_FINDING = 6;

function nodeLabel(incident: Incident): string {
  const { instanceId, nodeName } = incident.node;
  return nodeName ? `${instanceId} (${nodeName})` : instanceId;
}

/** What the card says the incident is doing now, one line per phase. */
function phaseDetail(incident: Incident): string {
  const req = incident.requested;
  const reqMeta = req ? remediationMeta(req.remediation) : null;
  const reqTitle = reqMeta?.title ?? null;
  // A destructive fix's requester does not count as one of its approvers (plan.ts applyApproval).
  const counted =
    req && reqMeta?.tier === 'destructive'
      ? incident.approvals.filter((a) => a.user !== req.by)
      : incident.approvals;
  const approvers = counted.map((a) => mention(a.user)).join(', ');
  switch (incident.phase) {
    case 'diagnosing':
      return 'Running the diagnosis on the node through SSM. Findings follow in this thread.';
    case 'findings':
      return incident.findings.length === 0
        ? 'No finding. Details in this thread.'
        : `${incident.findings.length} finding(s), nothing to approve. Details in this thread.`;
    case 'awaiting-approval':
      if (req && counted.length > 0) {
        return `*${escapeMrkdwn(reqTitle ?? '')}* requested by ${mention(req.by)}, approved by ${approvers}; waiting for another approver.`;
      }
      if (req) {
        return `*${escapeMrkdwn(reqTitle ?? '')}* requested by ${mention(req.by)}; waiting for other on-call engineers to approve.`;
      }
      return 'Waiting for an on-call engineer to approve a fix in this thread.';
    case 'fixing':
      return reqTitle
        ? `Running *${escapeMrkdwn(reqTitle)}*${approvers ? `, approved by ${approvers}` : ''}.`
        : 'Running the approved fix.';
    case 'verifying':
      return reqTitle
        ? `*${escapeMrkdwn(reqTitle)}* ran; checking that containerd answers and the node is Ready.`
        : 'Checking that containerd answers and the node is Ready.';
    case 'recovered':
      return 'The node recovered.';
    case 'escalated':
      return 'nodemedic could not resolve this: a person needs to take over.';
    case 'closed':
      return 'Closed.';
  }
}

/**
 * The status card: the thread root, updated in place as the incident moves on. One look per
 * phase; `extra.note` adds a line (who closed it, why it escalated). The note is mrkdwn as
 * nodemedic writes it (mentions act): any outside text in it must be escaped by the caller
 * (escapeMrkdwn), as the step and approval use cases do.
 */
export function renderCard(incident: Incident, extra?: { note?: string }): ChatMessage {
  const look = PHASE_LOOK[incident.phase];
  const node = nodeLabel(incident);
  const blocks: KnownBlock[] = [
    header(`${look.title}: ${node}`),
    section(`${look.emoji} *${look.title}* · ${phaseDetail(incident)}`),
    {
      type: 'section',
      fields: [
        { type: 'mrkdwn', text: truncate(`*Node*\n${escapeMrkdwn(node)}`, SLACK_LIMITS.fieldText) },
        {
          type: 'mrkdwn',
          text: truncate(`*Cluster*\n${escapeMrkdwn(incident.node.cluster)}`, SLACK_LIMITS.fieldText),
        },
        {
          type: 'mrkdwn',
          text: truncate(`*Alarm*\n${escapeMrkdwn(incident.alarmName)}`, SLACK_LIMITS.fieldText),
        },
        { type: 'mrkdwn', text: `*Opened*\n${slackDate(incident.openedAt)}` },
      ],
    },
  ];
  if (extra?.note) blocks.push(section(extra.note));
  const last = incident.audit[incident.audit.length - 1];
  if (last) {
    blocks.push(
      context(
        `Last: ${escapeMrkdwn(last.action)} by ${mention(last.actor)} at ${slackDate(last.at)} · incident \`${escapeMrkdwn(incident.id)}\``,
      ),
    );
  } else {
    blocks.push(context(`incident \`${escapeMrkdwn(incident.id)}\``));
  }
  // The fallback text is mrkdwn too (and drives notifications): escape it like the blocks.
  const text = `${look.title}: ${escapeMrkdwn(node)}${extra?.note ? ` — ${extra.note}` : ''}`;
  return { text: clip(text, SLACK_LIMITS.messageText), blocks };
}

/** One finding as a single section: heading, quoted evidence, fitting remediations. */
function findingBlock(finding: Finding): KnownBlock {
  const lines = [
    `${SEVERITY_EMOJI[finding.severity]} *${escapeMrkdwn(finding.summary)}*`,
    `\`${finding.cause}\` · ${finding.severity} · ${finding.confidence} confidence`,
  ];
  const shown = finding.evidence.slice(0, EVIDENCE_PER_FINDING);
  for (const e of shown) lines.push(`_${escapeMrkdwn(e.source)}_\n${quoteLines(e.text)}`);
  const hidden = finding.evidence.length - shown.length;
  if (hidden > 0) lines.push(`_… ${hidden} more evidence line(s) not shown_`);
  if (finding.remediations.length > 0) {
    lines.push(`Fits: ${finding.remediations.map((r) => escapeMrkdwn(remediationMeta(r).title)).join(', ')}`);
  }
  return section(lines.join('\n'));
}

/**
 * Blocks for a list of findings within a block budget: when they do not fit, the last block says
 * how many were left out.
 */
function findingsBlocks(findings: readonly Finding[], budget: number): KnownBlock[] {
  if (findings.length <= budget) return findings.map(findingBlock);
  const keep = Math.max(0, budget - 1);
  const blocks = findings.slice(0, keep).map(findingBlock);
  blocks.push(context(`… ${findings.length - keep} more findings not shown (Slack's 50-block limit).`));
  return blocks;
}

function remediationLine(id: RemediationId, rates?: SuccessRates): string {
  const meta = remediationMeta(id);
  return `• *${escapeMrkdwn(meta.title)}* (${TIER_LABEL[meta.tier]}${rateSuffix(rates, id)}): ${escapeMrkdwn(meta.description)}`;
}

function fixButton(incidentId: string, id: RemediationId, rates?: SuccessRates): Button {
  const meta = remediationMeta(id);
  const button: Button = {
    type: 'button',
    action_id: fixActionId(id),
    value: incidentId,
    text: {
      type: 'plain_text',
      text: clip(buttonLabel(`${meta.title} (${TIER_LABEL[meta.tier]})`, rates, id), SLACK_LIMITS.buttonText),
    },
  };
  if (meta.tier === 'safe') button.style = 'primary';
  if (meta.tier === 'destructive') {
    button.style = 'danger';
    button.confirm = {
      title: { type: 'plain_text', text: clip(`${meta.title}?`, SLACK_LIMITS.confirmTitle) },
      text: {
        type: 'mrkdwn',
        text: clip(
          `*Destructive.* ${escapeMrkdwn(meta.description)} It runs only after two approvers, neither of them the requester.`,
          SLACK_LIMITS.confirmText,
        ),
      },
      confirm: { type: 'plain_text', text: 'Approve' },
      deny: { type: 'plain_text', text: 'Cancel' },
      style: 'danger',
    };
  }
  return button;
}

/** Actions blocks, 25 elements each at most. */
function actionsBlocks(elements: Button[]): ActionsBlock[] {
  const blocks: ActionsBlock[] = [];
  for (let i = 0; i < elements.length; i += SLACK_LIMITS.actionsElements) {
    blocks.push({ type: 'actions', elements: elements.slice(i, i + SLACK_LIMITS.actionsElements) });
  }
  return blocks;
}

/** Blocks after the findings in the findings message: notes, remediations, the hold, the buttons. */
function tailBlocks(
  incidentId: string,
  notes: readonly string[],
  offered: readonly RemediationId[],
  manual: readonly RemediationId[],
  held: null | { reason: string; detail: string },
  withButtons: boolean,
  trust: { rates?: SuccessRates; shadow?: string | null } = {},
): KnownBlock[] {
  const blocks: KnownBlock[] = [];
  const line = (id: RemediationId) => remediationLine(id, trust.rates);
  if (notes.length > 0) {
    blocks.push(section(`*Notes*\n${notes.map((n) => `• ${escapeMrkdwn(n)}`).join('\n')}`));
  }
  if (offered.length > 0) {
    blocks.push(
      section(
        `${trust.shadow ? '*Fixes nodemedic would offer* (shadow mode: nothing runs)' : '*Fixes nodemedic can run* (after approval)'}\n${offered.map(line).join('\n')}`,
      ),
    );
  }
  if (manual.length > 0) {
    blocks.push(section(`*For a person* (nodemedic never guesses these)\n${manual.map(line).join('\n')}`));
  }
  if (held) {
    blocks.push(
      section(`:no_entry: *Fixes are held* (${escapeMrkdwn(held.reason)}): ${escapeMrkdwn(held.detail)}`),
    );
  }
  if (trust.shadow) blocks.push(shadowNotice(trust.shadow));
  if (withButtons && !trust.shadow && !held && offered.length > 0) {
    const elements = offered.map((id) => fixButton(incidentId, id, trust.rates));
    elements.push(
      {
        type: 'button',
        action_id: ACTION_IDS.deny,
        value: incidentId,
        text: { type: 'plain_text', text: "Deny / I'll handle it" },
      },
      {
        type: 'button',
        action_id: ACTION_IDS.rerun,
        value: incidentId,
        text: { type: 'plain_text', text: 'Re-run diagnosis' },
      },
    );
    blocks.push(...actionsBlocks(elements));
  }
  return blocks;
}

function findingsMessage(
  incident: Incident,
  findings: readonly Finding[],
  healthy: boolean,
  tail: KnownBlock[],
): ChatMessage {
  const node = nodeLabel(incident);
  const head: KnownBlock[] = [
    section(
      findings.length === 0
        ? `${healthy ? ':white_check_mark:' : ':grey_question:'} *${healthy ? 'No finding' : 'Inconclusive'}* on ${escapeMrkdwn(node)}`
        : `:clipboard: *${findings.length} finding(s)* on ${escapeMrkdwn(node)}`,
    ),
  ];
  const budget = SLACK_LIMITS.blocks - head.length - tail.length;
  const blocks = [...head, ...findingsBlocks(findings, budget), ...tail];
  const summary = escapeMrkdwn(findings.map((f) => f.summary).join('; '));
  return {
    text: clip(
      `${findings.length} finding(s) on ${escapeMrkdwn(node)}${summary ? `: ${summary}` : ''}`,
      SLACK_LIMITS.messageText,
    ),
    blocks,
  };
}

/**
 * The findings thread reply: findings with quoted evidence, the remediations that fit, and one
 * button per offered remediation (tier in the label, confirm dialog on destructive ones) plus
 * Deny / "I'll handle it" and "Re-run diagnosis". When fixes are held, no fix button, and the reason.
 */
export function renderFindings(
  report: Report,
  ctx: {
    incident: Incident;
    offered: readonly RemediationId[];
    manual: readonly RemediationId[];
    held: null | { reason: string; detail: string };
    /** Success rates of the offered fixes in this cluster, shown beside them (none: no number). */
    rates?: SuccessRates;
    /** The cluster, when it is in shadow mode: no button, and the notice says how to switch. */
    shadow?: string | null;
  },
): ChatMessage {
  const tail = tailBlocks(ctx.incident.id, report.notes, ctx.offered, ctx.manual, ctx.held, true, {
    ...(ctx.rates ? { rates: ctx.rates } : {}),
    shadow: ctx.shadow ?? null,
  });
  return findingsMessage(ctx.incident, report.findings, report.healthy, tail);
}

/**
 * The findings message once its buttons were used or expired: the same findings, notes, offered
 * fixes (as text) and fixes for a person, and `text` (mrkdwn: who approved what, when) in place of
 * the buttons. Like the card's note, `text` keeps nodemedic's own mentions, so outside text in it
 * (a workflow error, a cause) must already be escaped.
 */
export function renderDecision(incident: Incident, text: string): ChatMessage {
  const tail = tailBlocks(
    incident.id,
    incident.notes ?? [],
    incident.offered,
    incident.manual ?? [],
    null,
    false,
  );
  tail.push(section(text));
  const message = findingsMessage(incident, incident.findings, false, tail);
  return { text: clip(`${message.text} — ${text}`, SLACK_LIMITS.messageText), blocks: message.blocks };
}

/** How a decision reads once made: `Approved *Restart containerd* by @a, @b at <date>`. */
export function decisionText(
  verb: 'Approved' | 'Denied' | 'Re-run requested' | 'Expired' | 'Handled by a person',
  by: readonly string[],
  at: string,
  remediation?: RemediationId | null,
): string {
  const what = remediation ? ` *${escapeMrkdwn(remediationMeta(remediation).title)}*` : '';
  const who = by.length > 0 ? ` by ${by.map(mention).join(', ')}` : '';
  return `:ballot_box_with_check: ${verb}${what}${who} at ${slackDate(at)}`;
}

/** How a fix or an incident ended, as `renderOutcome` reports it. */
type OutcomeKind = 'recovered' | 'not-recovered' | 'skipped' | 'failed' | 'escalated';

const OUTCOME_LOOK: Record<OutcomeKind, string> = {
  recovered: ':white_check_mark: *Recovered*',
  'not-recovered': ':x: *Not recovered*',
  skipped: ':fast_forward: *Fix skipped*',
  failed: ':x: *Fix failed*',
  escalated: ':rotating_light: *Escalated*',
};

/** A thread reply with the outcome of a fix or the incident, with quoted evidence. */
export function renderOutcome(
  incident: Incident,
  outcome: {
    kind: OutcomeKind;
    detail: string;
    evidence?: readonly string[];
    /** A Slack user group id (`S…`) to notify, e.g. the on-call group on escalation. */
    mentionUserGroup?: string | null;
  },
): ChatMessage {
  const node = nodeLabel(incident);
  // `detail` is escaped like everything else, so a group mention cannot ride in it: it is added
  // here, and only for a well-formed group id.
  const group =
    outcome.mentionUserGroup && SLACK_ID.userGroup.test(outcome.mentionUserGroup)
      ? `<!subteam^${outcome.mentionUserGroup}> `
      : '';
  const blocks: KnownBlock[] = [
    section(`${group}${OUTCOME_LOOK[outcome.kind]} · ${escapeMrkdwn(node)}\n${escapeMrkdwn(outcome.detail)}`),
  ];
  const evidence = outcome.evidence ?? [];
  const shown = evidence.slice(0, SLACK_LIMITS.blocks - 3);
  for (const line of shown) blocks.push(section(quoteLines(line)));
  if (evidence.length > shown.length) {
    blocks.push(context(`… ${evidence.length - shown.length} more evidence line(s) not shown.`));
  }
  blocks.push(context(`incident \`${escapeMrkdwn(incident.id)}\``));
  return {
    text: clip(
      `${group}${outcome.kind}: ${escapeMrkdwn(node)}: ${escapeMrkdwn(outcome.detail)}`,
      SLACK_LIMITS.messageText,
    ),
    blocks,
  };
}

/** What `@nodemedic help` (and anything it does not understand) answers. */
export function renderHelp(): ChatMessage {
  const lines = [
    '*nodemedic* diagnoses Kubernetes nodes whose containerd stopped answering, and offers fixes.',
    '• `@nodemedic diagnose` in an alert thread whose message names an instance id (`i-…`) or a node name: diagnose that node here.',
    '• `@nodemedic diagnose i-0123456789abcdef0` or `@nodemedic diagnose ip-10-0-1-2.ec2.internal`: diagnose that node, in this thread.',
    '• `@nodemedic help`: this message.',
    'Fixes run only after an on-call engineer approves them with a button; destructive ones need two approvers, neither of them the requester.',
  ];
  return {
    text: 'nodemedic commands: diagnose [instance-id|node-name], help',
    blocks: [section(lines.join('\n'))],
  };
}

/**
 * A short answer in a thread (what a mention gets back when it starts nothing). `text` is mrkdwn
 * as nodemedic writes it (channel links act): outside text in it must be escaped by the caller,
 * as the mention listener does.
 */
export function renderReply(text: string): ChatMessage {
  return { text: clip(text, SLACK_LIMITS.messageText), blocks: [section(text)] };
}

/**
 * A refused click, in the incident's thread (the thread is part of the audit trail): who pressed
 * what, why it was refused, and that nothing ran. `user` is a Slack user id (anything else is
 * shown as text); `action` is the pressed action (escaped); `note` is nodemedic's own reason.
 */
export function renderRefusal(refusal: { user: string; action: string; note: string }): ChatMessage {
  const who = mention(refusal.user);
  const pressed = escapeMrkdwn(refusal.action);
  const note = escapeMrkdwn(refusal.note);
  return {
    text: clip(`Refused: ${who} pressed ${pressed} ${note} (logged).`, SLACK_LIMITS.messageText),
    blocks: [context(`:no_entry: Refused: ${who} pressed \`${pressed}\` ${note}. Logged; nothing ran.`)],
  };
}
