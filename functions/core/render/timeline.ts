/**
 * The postmortem timeline of an incident, from its record alone: when the alarm came, each step
 * with its time since then, the evidence quoted, who approved or refused what, the commands sent
 * and their outcomes, and the durations an SRE lead asks for (time to findings, time waiting for a
 * person, time to recovery). One neutral model ({@link timeline}), two renderings: Slack Block Kit
 * for the thread ({@link renderTimeline}) and Markdown for `nodemedic report` ({@link timelineMarkdown}).
 */
import { type AuditAction, type AuditEntry, type Incident, isTerminal } from '../incident.js';
import type { ChatMessage } from '../ports.js';
import { context, escapeMrkdwn, header, mention, SLACK_LIMITS, section, truncate } from './mrkdwn.js';

/** One line of the timeline. */
export interface TimelineLine {
  /** ISO-8601 time of the step. */
  readonly at: string;
  /** Seconds since the incident opened (never negative). */
  readonly offsetSeconds: number;
  /** What happened, in words (`Findings posted`, `Approved`). */
  readonly what: string;
  /** Who did it: a Slack user id, `alarm` or `nodemedic`. */
  readonly actor: string;
  /** The record's own detail, verbatim (untrusted: escaped by each renderer). */
  readonly detail: string;
}

/** An incident's timeline. */
export interface Timeline {
  readonly incidentId: string;
  readonly node: string;
  readonly alarm: string;
  readonly openedAt: string;
  readonly phase: Incident['phase'];
  readonly lines: readonly TimelineLine[];
  /** Evidence quoted from the findings, `cause: text`, a few per cause. */
  readonly evidence: readonly string[];
  /** Durations in seconds; null when the incident never reached that point. */
  readonly durations: {
    readonly toFindings: number | null;
    readonly waitingForApproval: number | null;
    readonly toRecovery: number | null;
    readonly total: number | null;
  };
}

/**
 * Every audit action worded for a reader (the compiler holds the list to `AuditAction`); an action
 * of a record written by another version is shown as it is recorded.
 */
const WORDS: Readonly<Record<Exclude<AuditAction, (typeof HIDDEN_ACTIONS)[number]>, string>> = {
  opened: 'Alarm: incident opened',
  duplicate: 'Alarm again (joined the open incident)',
  flapped: 'Alarm again soon after a recovery (continues here)',
  'cluster-held': 'Held in the cluster incident',
  'ready-ok': 'Node Ready again',
  'ready-failed': 'Node not Ready by the bound',
  'ready-skipped': 'Readiness not waited for',
  'ready-unchecked': 'Readiness could not be checked',
  'page-failed': 'Page failed (retried)',
  reachability: 'Reachability checked',
  'diagnose-sent': 'Diagnosis sent',
  analyzed: 'Findings posted',
  'awaiting-approval': 'Waiting for an approval',
  refused: 'Click refused',
  approval: 'Approval recorded',
  approved: 'Approved',
  rejected: 'Click rejected',
  held: 'Fix held',
  denied: 'Handled by a person',
  rerun: 'Re-run requested',
  'recheck-sent': 'Recheck sent',
  'recheck-ok': 'Recheck: cause still holds',
  'recheck-failed': 'Recheck: cause gone',
  'fix-sent': 'Fix sent',
  'fix-ok': 'Fix applied',
  'fix-failed': 'Fix failed',
  'verify-sent': 'Verification sent',
  'verify-ok': 'Verified: recovered',
  'verify-failed': 'Verification failed',
  'rollback-sent': 'Rollback sent',
  'rollback-ok': 'Rolled back',
  'rollback-failed': 'Rollback failed',
  recovered: 'Recovered',
  skipped: 'Closed: nothing to run',
  escalated: 'Escalated to a person',
  'alarm-ok': 'Alarm back to OK',
  'resume-failed': 'Approval could not reach the workflow',
  'execution-started': 'Workflow started',
  'execution-ended': 'Workflow ended before the incident',
  'card-not-posted': 'Card not posted (Slack failed)',
  'command-cancelled': 'Command cancelled',
  'alarm-ok-ignored': "Another alarm's OK ignored",
  paged: 'Paged the on-call engineer',
  'page-resolved': 'Page resolved',
  'buttons-not-closed': 'Buttons not closed (Slack failed)',
};

/** Bookkeeping entries that say nothing to a reader of the timeline. */
const HIDDEN_ACTIONS = [
  'escalation-posted',
  'timeline-posted',
  'alarm-ok-posted',
] as const satisfies readonly AuditAction[];
const HIDDEN: ReadonlySet<string> = new Set(HIDDEN_ACTIONS);

/** Evidence lines quoted per cause, and their length. */
const EVIDENCE_PER_CAUSE = 2;
const EVIDENCE_CHARS = 300;

const seconds = (from: string, to: string | undefined): number | null => {
  if (!to) return null;
  const d = (Date.parse(to) - Date.parse(from)) / 1000;
  return Number.isFinite(d) ? Math.max(0, Math.round(d)) : null;
};

const first = (audit: readonly AuditEntry[], action: string) => audit.find((a) => a.action === action);
const last = (audit: readonly AuditEntry[], actions: readonly string[]) =>
  [...audit].reverse().find((a) => actions.includes(a.action));

/** The timeline of `incident`, from its record. */
export function timeline(incident: Incident): Timeline {
  const opened = incident.openedAt;
  const lines = incident.audit
    .filter((a) => !HIDDEN.has(a.action))
    .map((a) => ({
      at: a.at,
      offsetSeconds: seconds(opened, a.at) ?? 0,
      what: (WORDS as Readonly<Record<string, string>>)[a.action] ?? a.action,
      actor: a.actor,
      detail: a.detail,
    }));
  const analyzed = first(incident.audit, 'analyzed');
  const waiting = first(incident.audit, 'awaiting-approval');
  const decided = waiting
    ? incident.audit.find(
        (a) =>
          Date.parse(a.at) >= Date.parse(waiting.at) &&
          ['approved', 'denied', 'rerun', 'escalated'].includes(a.action),
      )
    : undefined;
  const recovered = last(incident.audit, ['recovered']);
  // An ended incident's last entry is its end, whatever ended it (an outcome, a deny, findings only).
  const ended = isTerminal(incident) ? incident.audit.filter((a) => !HIDDEN.has(a.action)).at(-1) : undefined;
  return {
    incidentId: incident.id,
    node: `${incident.node.instanceId}${incident.node.nodeName ? ` (${incident.node.nodeName})` : ''}, cluster ${incident.node.cluster}`,
    alarm: incident.alarmName,
    openedAt: opened,
    phase: incident.phase,
    lines,
    evidence: incident.findings.flatMap((f) =>
      f.evidence.slice(0, EVIDENCE_PER_CAUSE).map((e) => `${f.cause}: ${truncate(e.text, EVIDENCE_CHARS)}`),
    ),
    durations: {
      toFindings: seconds(opened, analyzed?.at),
      waitingForApproval: waiting ? seconds(waiting.at, decided?.at) : null,
      toRecovery: seconds(opened, recovered?.at),
      total: seconds(opened, ended?.at),
    },
  };
}

/** `75` → `1m 15s`; null → `-`. */
export function duration(value: number | null): string {
  if (value === null) return '-';
  if (value < 60) return `${value}s`;
  const m = Math.floor(value / 60);
  const s = value % 60;
  return m < 60 ? `${m}m ${s}s` : `${Math.floor(m / 60)}h ${m % 60}m`;
}

/** `+mm:ss` since the incident opened. */
function offset(value: number): string {
  const m = Math.floor(value / 60);
  const s = value % 60;
  return `+${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}`;
}

function durationsLine(t: Timeline): string {
  const d = t.durations;
  return `to findings ${duration(d.toFindings)} · waiting for a person ${duration(d.waitingForApproval)} · to recovery ${duration(d.toRecovery)} · in all ${duration(d.total)}`;
}

/** The timeline as a Slack message for the incident's thread, within Block Kit's limits. */
export function renderTimeline(incident: Incident): ChatMessage {
  const t = timeline(incident);
  const rows = t.lines.map(
    (l) =>
      `\`${offset(l.offsetSeconds)}\` *${escapeMrkdwn(l.what)}* ${mention(l.actor)}${l.detail ? ` — ${escapeMrkdwn(l.detail)}` : ''}`,
  );
  // One section per chunk of rows, so a long record stays within the section and block limits.
  const chunks: string[] = [];
  for (const row of rows) {
    const line = truncate(row, 500);
    const current = chunks[chunks.length - 1];
    if (current !== undefined && current.length + line.length + 1 <= SLACK_LIMITS.sectionText) {
      chunks[chunks.length - 1] = `${current}\n${line}`;
    } else chunks.push(line);
  }
  const maxRowBlocks = SLACK_LIMITS.blocks - 4;
  const blocks = [
    header(`Timeline: ${t.phase}`),
    context(`${escapeMrkdwn(t.node)} · alarm ${escapeMrkdwn(t.alarm)} · ${escapeMrkdwn(durationsLine(t))}`),
    ...(t.evidence.length
      ? [section(`*Evidence*\n${t.evidence.map((e) => `> ${escapeMrkdwn(e)}`).join('\n')}`)]
      : []),
    ...chunks.slice(0, maxRowBlocks).map((c) => section(c)),
    ...(chunks.length > maxRowBlocks
      ? [
          context(
            `${chunks.length - maxRowBlocks} more part(s) of the timeline not shown: \`nodemedic report\` prints it whole.`,
          ),
        ]
      : []),
  ];
  return {
    text: truncate(
      escapeMrkdwn(`Timeline of ${t.incidentId}: ${t.phase}; ${durationsLine(t)}`),
      SLACK_LIMITS.messageText,
    ),
    blocks,
  };
}

/** Markdown table cell text: no pipes or newlines from the record. */
const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');

/** The timeline as Markdown, for `nodemedic report <incident-id>`. */
export function timelineMarkdown(incident: Incident): string {
  const t = timeline(incident);
  const out = [
    `# Incident ${cell(t.incidentId)}`,
    '',
    `- Node: ${cell(t.node)}`,
    `- Alarm: ${cell(t.alarm)}`,
    `- Opened: ${t.openedAt}`,
    `- Ended as: ${t.phase}`,
    `- Durations: ${durationsLine(t)}`,
    '',
  ];
  if (t.evidence.length) {
    out.push('## Evidence', '', ...t.evidence.map((e) => `> ${cell(e)}`), '');
  }
  out.push('## Timeline', '', '| since alarm | at (UTC) | step | by | detail |', '|---|---|---|---|---|');
  for (const l of t.lines) {
    out.push(
      `| ${offset(l.offsetSeconds)} | ${l.at} | ${cell(l.what)} | ${cell(l.actor)} | ${cell(l.detail)} |`,
    );
  }
  return `${out.join('\n')}\n`;
}
