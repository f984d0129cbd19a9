/**
 * The workflow contract: the steps of one incident's execution, their inputs and outputs, and the
 * Lambda handler that runs each one in AWS. The Step Functions definition (infra/) and the
 * in-process runner (functions/local/) both follow this file, so the two cannot drift apart.
 *
 * Flow (design.md):
 *   reachability ─┬─ unreachable ────────────────────────────────┐
 *                 └─ send(diagnose) → wait/poll loop ──────────── analyze (post findings)
 *   analyze ─ offered && !held → awaitApproval (task token, timeout → escalate)
 *     approve → send(recheck) → poll → evaluate(recheck) ─ cause gone → outcome(skipped)
 *             → send(fix) → poll → evaluate(fix) → send(verify) → poll → evaluate(verify)
 *                 ─ recovered → ready loop: evaluate(ready) → wait → … (bounded, as data)
 *                       ─ Ready → outcome(recovered)   ─ still NotReady → escalate(not-recovered)
 *                 ─ not recovered → send(rollback)? → escalate
 *     deny → end (the listener already closed the card)      rerun → send(diagnose)
 */
import type { RemediationId } from '../core/model.js';

/**
 * Error names shared by the state machine's Retry/Catch rules, the step handlers and the workflow
 * ports: a handler's retryable failure, an approver's deny, and the alarm back to OK mid-wait.
 */
export const WORKFLOW_ERRORS = {
  retryable: 'RetryableError',
  denied: 'Denied',
  recovered: 'Recovered',
} as const;

/** Why a command is sent: the same send/poll handlers serve every purpose. */
export type CommandPurpose = 'diagnose' | 'recheck' | 'fix' | 'verify' | 'rollback';

/** Every step receives the incident id; the incident record holds the rest. */
export interface StepInput {
  readonly incidentId: string;
}

export interface ReachabilityOutput {
  readonly reachable: boolean;
  /**
   * The node's instance: the state machine's own GetCommandInvocation polls (a direct SDK
   * integration, no Lambda) name it, as SSM requires.
   */
  readonly instanceId: string;
}

export interface SendInput extends StepInput {
  readonly purpose: CommandPurpose;
  /** Required for `fix` and `rollback`; diagnose/recheck/verify run the diagnostic script. */
  readonly remediation?: RemediationId;
}

export interface SendOutput {
  /** null when the action needed no command (EC2 reboot / ASG replace ran directly). */
  readonly commandId: string | null;
  /** Seconds the workflow waits before the first poll. */
  readonly waitSeconds: number;
}

/**
 * Seconds the workflow waits before each poll of a command: the first after the send, then after
 * each poll that found it still running; 15 s from then on. The diagnosis takes about 1 to 6 s on a
 * node, so the early polls are close together: a 5 s diagnosis is read at the 7 s poll (3+2+2),
 * not at 14 s as with a doubling backoff. The state machine's poll loop carries this schedule
 * (infra/workflow.ts), and the give-up text counts with it.
 */
const POLL_WAITS = [3, 2, 2, 3, 5, 10] as const;
/** The wait after the first polls ({@link POLL_WAITS}). */
const POLL_WAIT_MAX = 15;
/** The wait before poll number `attempt + 1` (attempt 0: the first poll, right after the send). */
export function pollWait(attempt: number): number {
  return POLL_WAITS[attempt] ?? POLL_WAIT_MAX;
}
/** Polls before a command counts as timed out: 3+2+2+3+5+10 + 15×(n-6) seconds ≈ 10 minutes. */
export const MAX_POLL_ATTEMPTS = 44;

/**
 * The poll loop gave up: the state machine's own GetCommandInvocation found the command still
 * running at the last of MAX_POLL_ATTEMPTS polls.
 */
export interface GiveUpInput extends StepInput {
  readonly commandId: string;
  /** Polls made (MAX_POLL_ATTEMPTS). */
  readonly attempt: number;
}

export interface GiveUpOutput {
  /** SSM took the CancelCommand (false: it refused, and the thread says the command may finish). */
  readonly cancelled: boolean;
}

export interface AnalyzeInput extends StepInput {
  /** null when the node was unreachable: the analysis uses EC2 evidence instead. */
  readonly commandId: string | null;
}

export interface AnalyzeOutput {
  /** Remediations offered with buttons (runnable ones only). */
  readonly offered: readonly RemediationId[];
  /** True when per-node fixes are held (blast radius, fixes in flight, cooldown). */
  readonly held: boolean;
  /** True when the workflow should wait for an approval. */
  readonly awaitApproval: boolean;
}

export interface AwaitApprovalInput extends StepInput {
  readonly taskToken: string;
}

/** What the Slack listener sends back through SendTaskSuccess. */
export interface ApprovalDecision {
  readonly decision: 'approve' | 'rerun';
  readonly remediation: RemediationId | null;
  readonly by: readonly string[];
}

export interface EvaluateInput extends StepInput {
  readonly purpose: 'recheck' | 'fix' | 'verify' | 'rollback';
  readonly commandId: string | null;
  readonly remediation: RemediationId;
}

export interface EvaluateOutput {
  /** recheck: cause still holds; fix: command succeeded; verify: node recovered. */
  readonly ok: boolean;
  /** verify failed and the remediation has a rollback script. */
  readonly rollback: boolean;
}

/**
 * One check of the readiness wait after a verification passed (the evaluate function, purpose
 * `ready`): is the node's contributor, per-node alarm or Container Insights readiness back to OK?
 */
export interface ReadyInput extends StepInput {
  readonly purpose: 'ready';
  readonly remediation: RemediationId;
  /** 0 on the first check; the step returns the next value. */
  readonly attempt: number;
}

export interface ReadyOutput {
  /** The wait is over: the node is Ready, it was not by the bound, or nothing could tell. */
  readonly done: boolean;
  /**
   * With `done`: true when the node is Ready, or when its readiness could not be read (the thread
   * says the check was not made); false when it was still NotReady at the bound (escalate).
   */
  readonly ok: boolean;
  readonly attempt: number;
  /** Seconds the workflow waits before the next check. */
  readonly waitSeconds: number;
}

export interface OutcomeInput extends StepInput {
  /** recovered: verification passed; skipped: the recheck found the cause gone, nothing ran. */
  readonly kind: 'recovered' | 'skipped';
  readonly remediation: RemediationId;
}

export interface EscalateInput extends StepInput {
  readonly reason: 'approval-timeout' | 'fix-failed' | 'not-recovered' | 'diagnosis-failed';
}

/** The Lambda handlers, by file name under functions/handlers/ (one esbuild bundle each). */
export const HANDLERS = {
  alarm: 'EventBridge alarm state change → open incident, start the execution (or post recovery)',
  reachability: 'SSM PingStatus + EC2 status checks',
  send: 'SendCommand for any purpose; EC2/ASG actions for reboot/replace',
  poll: 'give up on a command still running after the last poll: CancelCommand, tell the thread',
  analyze: 'parse facts, analyze, post the findings and buttons',
  'await-approval': 'save the task token on the incident, mark the card as awaiting approval',
  evaluate:
    "judge a recheck, a fix or a verification from its command output; check the fixed node's readiness",
  outcome: 'post the final outcome (recovered, skipped) and close the incident',
  escalate: 'mention the on-call group, mark the card escalated',
  'execution-ended':
    'EventBridge execution FAILED/TIMED_OUT/ABORTED → escalate the incident, tell the thread, free the node',
  slack: 'Function URL: Bolt AwsLambdaReceiver for interactivity and events',
} as const;
export type HandlerName = keyof typeof HANDLERS;
