/**
 * The incident's transitions (functions/core/transitions.ts), one table per event family: given an
 * incident and an event, the next incident, the effects the app performs, and the outcome. The
 * transitions are pure: the input incident is frozen, and the time comes from the event.
 */
import { describe, expect, it } from 'vitest';
import {
  type AuditEntry,
  type Incident,
  type IncidentPhase,
  roundOf,
  type SentCommand,
} from '../../functions/core/incident.js';
import { DEFAULT_SAFETY_POLICY } from '../../functions/core/policy.js';
import { type Effect, type IncidentEvent, transition } from '../../functions/core/transitions.js';
import { incident as base } from '../slack/support.js';

const T = '2026-11-27T10:05:00.000Z';
const FINDINGS = { channel: 'C0NODEMEDIC', ts: '1700000000.000200' };
const CARD = { channel: 'C0NODEMEDIC', ts: '1700000000.000100' };
const policy = DEFAULT_SAFETY_POLICY;

/** A stored audit line: the action as a record holds it, known to this version or not. */
const line = (action: string, actor = 'nodemedic', detail = ''): AuditEntry => ({
  at: '2026-11-27T10:01:00.000Z',
  action: action as AuditEntry['action'],
  actor,
  detail,
});

/** Deep-frozen, so a transition that mutated its input would throw. */
function frozen<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) frozen(v);
    Object.freeze(value);
  }
  return value;
}

/** An incident waiting for an approval on its findings message. */
function waiting(overrides: Partial<Incident> = {}): Incident {
  return frozen(
    base({
      phase: 'awaiting-approval',
      taskToken: 'token-1',
      card: CARD,
      findingsMessage: FINDINGS,
      offered: ['restart-containerd', 'replace-node'],
      audit: [line('opened', 'alarm'), line('analyzed'), line('awaiting-approval')],
      ...overrides,
    }),
  );
}

/** Waiting on a replace-node U0ALICE requested, approved so far by `approvers` (her click counts as one). */
function replaceNodeRequested(...approvers: string[]): Incident {
  return waiting({
    requested: { remediation: 'replace-node', by: 'U0ALICE' },
    approvals: approvers.map((user) => ({ remediation: 'replace-node', user, at: T })),
  });
}

function ended(phase: IncidentPhase, audit: AuditEntry[]): Incident {
  return waiting({ phase, taskToken: null, audit: [line('opened', 'alarm'), ...audit] });
}

const approve = (user: string, remediation: 'restart-containerd' | 'replace-node' | 'raise-nofile') =>
  ({
    type: 'approve-clicked',
    at: T,
    user,
    messageTs: FINDINGS.ts,
    remediation,
    policy,
  }) as const;
const deny = (user: string, messageTs = FINDINGS.ts) =>
  ({ type: 'deny-clicked', at: T, user, messageTs }) as const;
const rerun = (user: string) => ({ type: 'rerun-clicked', at: T, user, messageTs: FINDINGS.ts }) as const;

const kinds = (effects: readonly Effect[]) => effects.map((e) => e.kind);
const lastAudit = (incident: Incident) => incident.audit.at(-1);

describe('the approval flow', () => {
  const cases: {
    name: string;
    incident: Incident;
    event: IncidentEvent & { type: 'approve-clicked' | 'deny-clicked' | 'rerun-clicked' };
    outcome: Record<string, unknown>;
    phase: IncidentPhase;
    audit: string | null;
    effects: Effect['kind'][];
  }[] = [
    {
      name: 'a safe fix is approved by one on-call engineer: the workflow resumes',
      incident: waiting(),
      event: approve('U0ALICE', 'restart-containerd'),
      outcome: { kind: 'approved', remediation: 'restart-containerd', approvers: ['U0ALICE'] },
      phase: 'fixing',
      audit: 'approved',
      effects: ['resume-workflow', 'close-buttons'],
    },
    {
      name: 'a destructive fix: the requester’s click is recorded and waits for others',
      incident: waiting(),
      event: approve('U0ALICE', 'replace-node'),
      outcome: { kind: 'needs-another', remediation: 'replace-node', have: 0, need: 2 },
      phase: 'awaiting-approval',
      audit: 'approval',
      effects: ['reply-privately', 'update-card'],
    },
    {
      name: 'a destructive fix: the first other approver is recorded, one more is needed',
      incident: replaceNodeRequested('U0ALICE'),
      event: approve('U0BOB', 'replace-node'),
      outcome: { kind: 'needs-another', remediation: 'replace-node', have: 1, need: 2 },
      phase: 'awaiting-approval',
      audit: 'approval',
      effects: ['reply-privately', 'update-card'],
    },
    {
      name: 'a destructive fix: the second other approver admits it',
      incident: replaceNodeRequested('U0ALICE', 'U0BOB'),
      event: approve('U0CAROL', 'replace-node'),
      outcome: { kind: 'approved', remediation: 'replace-node', approvers: ['U0BOB', 'U0CAROL'] },
      phase: 'fixing',
      audit: 'approved',
      effects: ['resume-workflow', 'close-buttons'],
    },
    {
      name: 'the requester of a destructive fix cannot approve it',
      incident: replaceNodeRequested('U0ALICE'),
      event: approve('U0ALICE', 'replace-node'),
      outcome: { kind: 'rejected', reason: expect.stringContaining('you requested this destructive fix') },
      phase: 'awaiting-approval',
      audit: 'rejected',
      effects: ['reply-privately'],
    },
    {
      name: 'the same approver twice is refused',
      incident: replaceNodeRequested('U0ALICE', 'U0BOB'),
      event: approve('U0BOB', 'replace-node'),
      outcome: { kind: 'rejected', reason: 'you already approved this fix; it needs another approver' },
      phase: 'awaiting-approval',
      audit: 'rejected',
      effects: ['reply-privately'],
    },
    {
      name: 'a fix that was not offered is refused',
      incident: waiting(),
      event: approve('U0ALICE', 'raise-nofile'),
      outcome: { kind: 'rejected', reason: 'raise-nofile was not offered for this incident' },
      phase: 'awaiting-approval',
      audit: 'rejected',
      effects: ['reply-privately'],
    },
    {
      name: 'a click after the approval is stale, and says who decided',
      incident: ended('fixing', [
        line('awaiting-approval'),
        line('approved', 'U0ALICE', 'restart-containerd'),
      ]),
      event: approve('U0BOB', 'restart-containerd'),
      outcome: {
        kind: 'stale',
        detail: 'Already handled: approved by <@U0ALICE> at 2026-11-27T10:01:00.000Z (restart-containerd).',
      },
      phase: 'fixing',
      audit: null,
      effects: ['reply-privately'],
    },
    {
      name: 'a click on an older findings message is stale',
      incident: waiting(),
      event: deny('U0ALICE', '1600000000.000001'),
      outcome: { kind: 'stale', detail: 'These buttons no longer act: the incident is awaiting-approval.' },
      phase: 'awaiting-approval',
      audit: null,
      effects: ['reply-privately'],
    },
    {
      name: 'deny: a person takes over, the workflow stops, the incident ends',
      incident: waiting(),
      event: deny('U0ALICE'),
      outcome: { kind: 'denied' },
      phase: 'closed',
      audit: 'denied',
      effects: ['stop-workflow', 'close-buttons', 'update-card', 'incident-ended'],
    },
    {
      name: 're-run: the round starts over and the workflow diagnoses again',
      incident: replaceNodeRequested('U0ALICE'),
      event: rerun('U0BOB'),
      outcome: { kind: 'rerun' },
      phase: 'diagnosing',
      audit: 'rerun',
      effects: ['resume-workflow', 'close-buttons'],
    },
  ];

  it.each(cases)('$name', ({ incident, event, outcome, phase, audit, effects }) => {
    const next = transition(incident, event);
    expect(next.outcome).toEqual(outcome);
    expect(next.incident.phase).toBe(phase);
    expect(kinds(next.effects)).toEqual(effects);
    if (audit === null) expect(next.incident).toBe(incident);
    else
      expect(lastAudit(next.incident)).toEqual({
        at: T,
        action: audit,
        actor: event.user,
        detail: expect.any(String),
      });
  });

  it('an approval takes the task token and opens the next fix round; the workflow gets it once', () => {
    const next = transition(waiting(), approve('U0ALICE', 'restart-containerd'));
    expect(next.incident.taskToken).toBeNull();
    expect(next.incident.round).toEqual({ approved: 1, holds: {} });
    expect(next.effects[0]).toEqual({
      kind: 'resume-workflow',
      token: 'token-1',
      decision: { decision: 'approve', remediation: 'restart-containerd', by: ['U0ALICE'] },
    });
    // A second click on the approved incident is stale: the token is gone.
    expect(transition(next.incident, approve('U0BOB', 'restart-containerd')).outcome.kind).toBe('stale');
  });

  it('a deny stops the workflow with the token, and a re-run resumes it with a rerun decision', () => {
    expect(transition(waiting(), deny('U0ALICE')).effects[0]).toEqual({
      kind: 'stop-workflow',
      token: 'token-1',
      why: 'denied',
      cause: `denied by U0ALICE at ${T}`,
    });
    const again = transition(waiting(), rerun('U0BOB'));
    expect(again.effects[0]).toEqual({
      kind: 'resume-workflow',
      token: 'token-1',
      decision: { decision: 'rerun', remediation: null, by: ['U0BOB'] },
    });
    expect(again.incident).toMatchObject({ requested: null, approvals: [], taskToken: null });
  });

  it('only a tolerant close follows an approval: a Slack failure there must not undo it', () => {
    const closes = (e: IncidentEvent & { type: 'approve-clicked' | 'deny-clicked' | 'rerun-clicked' }) =>
      transition(waiting(), e).effects.find((x) => x.kind === 'close-buttons');
    expect(closes(approve('U0ALICE', 'restart-containerd'))).toMatchObject({ tolerant: true });
    expect(closes(deny('U0ALICE'))).toMatchObject({ tolerant: false });
    expect(closes(rerun('U0ALICE'))).toMatchObject({ tolerant: false });
  });

  it('a hold is audited and gives the user a fresh round of clicks', () => {
    const held = {
      type: 'click-held',
      at: T,
      user: 'U0ALICE',
      action: 'fix:restart-containerd',
      reason: 'full',
    } as const;
    const once = transition(waiting(), held);
    const twice = transition(frozen(once.incident), held);
    expect(lastAudit(once.incident)).toEqual({
      at: T,
      action: 'held',
      actor: 'U0ALICE',
      detail: 'fix:restart-containerd: full',
    });
    expect(roundOf(twice.incident).holds).toEqual({ U0ALICE: 2 });
    expect(twice.incident.phase).toBe('awaiting-approval');
  });

  it('an approval that cannot reach the workflow escalates, says so privately, and expires the buttons', () => {
    const approved = transition(waiting(), approve('U0ALICE', 'restart-containerd')).incident;
    const failed = transition(frozen(approved), {
      type: 'resume-failed',
      at: T,
      reason: 'TaskTimedOut <!here>',
    });
    expect(failed.incident).toMatchObject({ phase: 'escalated', taskToken: null });
    expect(kinds(failed.effects)).toEqual(['reply-privately', 'update-card', 'expire-buttons']);
    // Outside text is escaped wherever it is shown.
    expect(JSON.stringify(failed.effects)).not.toContain('<!here>');
  });
});

describe('the fix reservation (sendStep)', () => {
  const approved = (commands: SentCommand[], round = { approved: 1, holds: {} }) =>
    waiting({ phase: 'fixing', taskToken: null, commands, round, attempts: commands.length ? 1 : 0 });
  const command = (
    key: string,
    state: SentCommand['state'],
    commandId: string | null = null,
  ): SentCommand => ({
    key,
    commandId,
    script: 'restart-containerd',
    at: T,
    state,
  });
  const reserve = (purpose: 'fix' | 'rollback' = 'fix') =>
    ({ type: 'fix-reserved', at: T, purpose, remediation: 'restart-containerd' }) as const;

  const cases: {
    name: string;
    incident: Incident;
    purpose?: 'fix' | 'rollback';
    outcome: Record<string, unknown>;
    attempts: number;
    commands: SentCommand[] | 'unchanged';
  }[] = [
    {
      name: 'the first send of the round’s fix reserves it and counts an attempt',
      incident: approved([]),
      outcome: { kind: 'reserved', key: 'fix#1' },
      attempts: 1,
      commands: [command('fix#1', 'sending')],
    },
    {
      name: 'a retry whose send may have reached the node is never sent again',
      incident: approved([command('fix#1', 'sending')]),
      outcome: { kind: 'in-doubt', key: 'fix#1' },
      attempts: 1,
      commands: 'unchanged',
    },
    {
      name: 'a retry after the send answers with the command recorded',
      incident: approved([command('fix#1', 'sent', 'cmd-1')]),
      outcome: { kind: 'sent', key: 'fix#1', command: command('fix#1', 'sent', 'cmd-1') },
      attempts: 1,
      commands: 'unchanged',
    },
    {
      name: 'a send that failed is reserved again, without a second attempt',
      incident: approved([command('fix#1', 'send-failed')]),
      outcome: { kind: 'reserved', key: 'fix#1' },
      attempts: 1,
      commands: [command('fix#1', 'sending')],
    },
    {
      name: 'the rollback has its own key in the round and is no attempt',
      incident: approved([command('fix#1', 'sent', 'cmd-1')]),
      purpose: 'rollback',
      outcome: { kind: 'reserved', key: 'rollback#1' },
      attempts: 1,
      commands: [command('fix#1', 'sent', 'cmd-1'), command('rollback#1', 'sending')],
    },
    {
      name: 'the second approved round reserves its own fix',
      incident: approved([command('fix#1', 'sent', 'cmd-1')], { approved: 2, holds: {} }),
      outcome: { kind: 'reserved', key: 'fix#2' },
      attempts: 2,
      commands: [command('fix#1', 'sent', 'cmd-1'), command('fix#2', 'sending')],
    },
  ];

  it.each(cases)('$name', ({ incident, purpose, outcome, attempts, commands }) => {
    const next = transition(incident, reserve(purpose));
    expect(next.outcome).toEqual(outcome);
    expect(next.incident.attempts).toBe(attempts);
    expect(next.effects).toEqual([]);
    if (commands === 'unchanged') expect(next.incident).toBe(incident);
    else expect(next.incident.commands).toEqual(commands);
  });

  it('a record from before the round was kept finds its fix by its approvals', () => {
    const old = waiting({
      phase: 'fixing',
      taskToken: null,
      attempts: 1,
      commands: [command('fix#1', 'sent', 'cmd-1')],
      audit: [line('opened', 'alarm'), line('awaiting-approval'), line('approved', 'U0ALICE')],
    });
    expect(old.round).toBeUndefined();
    expect(transition(old, reserve()).outcome).toMatchObject({ kind: 'sent', key: 'fix#1' });
  });

  it('a send that was not accepted frees the reservation for a retry', () => {
    const next = transition(approved([command('fix#1', 'sending')]), { type: 'send-failed', key: 'fix#1' });
    expect(next.incident.commands).toEqual([command('fix#1', 'send-failed')]);
  });
});

describe('the approval wait, the outcome and the escalation', () => {
  const findings = () =>
    frozen(
      base({
        phase: 'findings',
        card: CARD,
        findingsMessage: FINDINGS,
        audit: [line('opened'), line('analyzed')],
      }),
    );
  const awaited = { type: 'approval-awaited', at: T, taskToken: 'token-2' } as const;

  it('the wait keeps the task token and marks the card', () => {
    const next = transition(findings(), awaited);
    expect(next.outcome).toEqual({ kind: 'waiting' });
    expect(next.incident).toMatchObject({ phase: 'awaiting-approval', taskToken: 'token-2' });
    expect(lastAudit(next.incident)).toMatchObject({
      action: 'awaiting-approval',
      detail: expect.stringMatching(/^offered: /),
    });
    expect(kinds(next.effects)).toEqual(['update-card']);
  });

  it.each([
    {
      name: 'closed by its alarm',
      phase: 'recovered' as const,
      audit: [line('alarm-ok', 'alarm')],
      unannounced: false,
    },
    {
      name: 'escalated and announced',
      phase: 'escalated' as const,
      audit: [line('resume-failed'), line('escalation-posted')],
      unannounced: false,
    },
    {
      name: 'escalated, thread never told',
      phase: 'escalated' as const,
      audit: [line('resume-failed')],
      unannounced: true,
    },
  ])('an incident that ended ($name) does not wait', ({ phase, audit, unannounced }) => {
    const incident = ended(phase, audit);
    const next = transition(incident, awaited);
    expect(next.outcome).toEqual({ kind: 'ended', phase, unannounced });
    expect(next.incident).toBe(incident);
    expect(next.effects).toEqual([]);
  });

  it.each([
    {
      name: 'recovered, buttons still up',
      audit: [line('analyzed'), line('awaiting-approval')],
      kind: 'recovered' as const,
      phase: 'recovered',
      effects: ['update-card', 'post-outcome', 'expire-buttons', 'count-recovery', 'incident-ended'],
    },
    {
      name: 'recovered, buttons closed at the approval',
      audit: [line('awaiting-approval'), line('approved', 'U0ALICE')],
      kind: 'recovered' as const,
      phase: 'recovered',
      effects: ['update-card', 'post-outcome', 'count-recovery', 'incident-ended'],
    },
    {
      name: 'skipped, the approval could not close its buttons',
      audit: [line('approved', 'U0ALICE'), line('buttons-not-closed')],
      kind: 'skipped' as const,
      phase: 'closed',
      effects: ['update-card', 'post-outcome', 'expire-buttons', 'incident-ended'],
    },
  ])('the outcome: $name', ({ audit, kind, phase, effects }) => {
    const incident = ended('verifying', audit);
    const next = transition(incident, { type: 'outcome', at: T, kind, remediation: 'restart-containerd' });
    expect(next.incident).toMatchObject({ phase, taskToken: null });
    expect(lastAudit(next.incident)).toEqual({
      at: T,
      action: kind,
      actor: 'nodemedic',
      detail: 'restart-containerd',
    });
    expect(kinds(next.effects)).toEqual(effects);
  });

  const escalation = {
    type: 'escalated',
    at: T,
    action: 'escalated',
    detail: 'approval-timeout',
    why: 'Nobody approved a fix in time. <!channel>',
  } as const;

  it.each([
    {
      name: 'a waiting incident is escalated, its buttons expire',
      incident: waiting(),
      outcome: { kind: 'escalated' },
      effects: ['update-card', 'expire-buttons', 'post-outcome'],
      written: true,
    },
    {
      name: 'an escalation whose thread was never told is told again, nothing written',
      incident: ended('escalated', [line('approved', 'U0ALICE'), line('resume-failed')]),
      outcome: { kind: 'announce-again' },
      effects: ['update-card', 'post-outcome'],
      written: false,
    },
    {
      name: 'an incident closed by its alarm stays closed',
      incident: ended('recovered', [line('alarm-ok', 'alarm')]),
      outcome: { kind: 'already-ended', phase: 'recovered' },
      effects: [],
      written: false,
    },
    {
      name: 'an announced escalation is not escalated twice',
      incident: ended('escalated', [line('escalated'), line('escalation-posted')]),
      outcome: { kind: 'already-ended', phase: 'escalated' },
      effects: [],
      written: false,
    },
  ])('$name', ({ incident, outcome, effects, written }) => {
    const next = transition(incident, escalation);
    expect(next.outcome).toEqual(outcome);
    expect(kinds(next.effects)).toEqual(effects);
    if (written) {
      expect(next.incident).toMatchObject({ phase: 'escalated', taskToken: null });
      expect(lastAudit(next.incident)).toEqual({
        at: T,
        action: 'escalated',
        actor: 'nodemedic',
        detail: 'approval-timeout',
      });
    } else expect(next.incident).toBe(incident);
    // The reason goes into mrkdwn escaped; the thread's outcome gets it plain (its renderer escapes).
    const card = next.effects.find((e) => e.kind === 'update-card');
    if (card) expect(card).toEqual({ kind: 'update-card', note: expect.not.stringContaining('<!channel>') });
  });

  it('a note written once is not written twice', () => {
    const note = {
      type: 'noted',
      at: T,
      action: 'paged',
      actor: 'nodemedic',
      detail: 'approval-timeout',
      once: true,
    } as const;
    const first = transition(waiting(), note);
    expect(first.outcome).toEqual({ kind: 'recorded' });
    const second = transition(frozen(first.incident), note);
    expect(second.outcome).toEqual({ kind: 'unchanged' });
    expect(second.incident).toBe(first.incident);
  });
});

describe("the alarm's OK", () => {
  const ok = { type: 'alarm-ok', at: T, from: 'prod-node-not-ready' } as const;

  it.each([
    {
      name: 'waiting for an approval: closed, the wait ended, the buttons expire',
      incident: waiting(),
      outcome: { kind: 'closed', buttonsUp: true },
      phase: 'recovered',
      detail: 'prod-node-not-ready back to OK',
      effects: [
        {
          kind: 'stop-workflow',
          token: 'token-1',
          why: 'recovered',
          cause: 'alarm prod-node-not-ready went back to OK',
        },
      ],
    },
    {
      name: 'still diagnosing: closed, nothing waits',
      incident: ended('diagnosing', []),
      outcome: { kind: 'closed', buttonsUp: false },
      phase: 'recovered',
      detail: 'prod-node-not-ready back to OK',
      effects: [],
    },
    {
      name: 'a fix in flight: noted, its own verification decides',
      incident: ended('fixing', [line('approved', 'U0ALICE')]),
      outcome: { kind: 'noted', phase: 'fixing' },
      phase: 'fixing',
      detail: 'prod-node-not-ready is OK during fixing',
      effects: [],
    },
    {
      name: 'ended already: noted, stays ended',
      incident: ended('escalated', [line('escalated'), line('escalation-posted')]),
      outcome: { kind: 'noted', phase: 'escalated' },
      phase: 'escalated',
      detail: 'prod-node-not-ready is OK during escalated',
      effects: [],
    },
  ])('$name', ({ incident, outcome, phase, detail, effects }) => {
    const next = transition(incident, ok);
    expect(next.outcome).toEqual(outcome);
    expect(next.incident.phase).toBe(phase);
    expect(lastAudit(next.incident)).toEqual({ at: T, action: 'alarm-ok', actor: 'alarm', detail });
    expect(next.effects).toEqual(effects);
    if (phase === 'recovered') expect(next.incident.taskToken).toBeNull();
  });
});

describe('the approval round on older records', () => {
  it.each([
    { name: 'no approval yet', audit: [line('opened')], round: { approved: 0, holds: {} } },
    {
      name: 'approved once, held twice by one user and once by another',
      audit: [
        line('held', 'U0ALICE'),
        line('held', 'U0BOB'),
        line('held', 'U0ALICE'),
        line('approved', 'U0BOB'),
      ],
      round: { approved: 1, holds: { U0ALICE: 2, U0BOB: 1 } },
    },
    {
      name: 'actions this version does not know are left alone',
      audit: [line('expired'), line('from-a-newer-version', 'U0ALICE')],
      round: { approved: 0, holds: {} },
    },
  ])('derives the round from the audit trail: $name', ({ audit, round }) => {
    expect(roundOf({ audit })).toEqual(round);
  });

  it('a record that keeps its round is read as it is, whatever its trail says', () => {
    const round = { approved: 3, holds: { U0ALICE: 1 } };
    expect(roundOf({ round, audit: [line('approved')] })).toBe(round);
  });
});
