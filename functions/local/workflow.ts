/**
 * The in-process workflow: the local composition's stand-in for Step Functions. It runs the same
 * steps (functions/app/steps.ts) in the same order as the state machine in infra/workflow.ts,
 * including the task-token wait for an approval and its timeout. Keep it thin: the real
 * definition is validated separately; this only sequences the steps.
 */
import { randomUUID } from 'node:crypto';
import {
  type ApprovalDecision,
  type CommandPurpose,
  type EscalateInput,
  WORKFLOW_ERRORS,
} from '../app/contract.js';
import type { AppDeps } from '../app/deps.js';
import {
  analyzeStep,
  awaitApprovalStep,
  escalateStep,
  evaluateStep,
  outcomeStep,
  pollStep,
  reachabilityStep,
  sendStep,
} from '../app/steps.js';
import { NodemedicError, TaskTokenError } from '../core/errors.js';
import type { Workflow } from '../core/incident.js';
import type { RemediationId } from '../core/model.js';

/** One line of the run's story, for the demo's terminal and for tests. */
export interface WorkflowEvent {
  readonly incidentId: string;
  readonly step: string;
  readonly detail: string;
  readonly at: Date;
}

export interface InProcessWorkflowOptions {
  /** How long to wait for an approval before escalating. */
  readonly approvalTimeoutMs: number;
  /** Scale for the poll backoff: Step Functions waits `waitSeconds`; locally wait this × that. */
  readonly pollScaleMs?: number;
  readonly onEvent?: (event: WorkflowEvent) => void;
}

/** A waiting approval: resolves with the decision, rejects on deny/recovered, or times out. */
interface Pending {
  resolve(decision: ApprovalDecision): void;
  reject(error: TaskFailedError): void;
}

/** A task token failed by the listener (deny, alarm back to OK), like SendTaskFailure. */
class TaskFailedError extends NodemedicError {
  constructor(
    readonly error: string,
    message: string,
  ) {
    super('TASK_FAILED', message);
  }
}

export class InProcessWorkflow implements Workflow {
  private readonly pending = new Map<string, Pending>();
  private readonly runs = new Map<string, Promise<string>>();
  private deps: AppDeps | null = null;

  constructor(private readonly options: InProcessWorkflowOptions) {}

  /** The deps hold this workflow too, so they are attached after construction. */
  attach(deps: AppDeps): void {
    this.deps = deps;
  }

  async start(incidentId: string, _input: Record<string, unknown>): Promise<{ executionId: string }> {
    const existing = this.runs.get(incidentId);
    if (!existing) {
      const run = this.execute(incidentId).catch((error: unknown) => {
        this.emit(incidentId, 'failed', error instanceof Error ? error.message : String(error));
        return 'failed';
      });
      this.runs.set(incidentId, run);
    }
    return { executionId: `local:${incidentId}` };
  }

  /** Resolves when the incident's run ends, with its final state name. */
  async finished(incidentId: string): Promise<string> {
    const run = this.runs.get(incidentId);
    if (!run) throw new TaskTokenError('TASK_DOES_NOT_EXIST', `no run for incident ${incidentId}`);
    return run;
  }

  async resume(taskToken: string, output: Record<string, unknown>): Promise<void> {
    const waiting = this.take(taskToken);
    waiting.resolve(output as unknown as ApprovalDecision);
  }

  async fail(taskToken: string, error: string, cause: string): Promise<void> {
    const waiting = this.take(taskToken);
    waiting.reject(new TaskFailedError(error, cause));
  }

  private take(taskToken: string): Pending {
    const waiting = this.pending.get(taskToken);
    if (!waiting)
      throw new TaskTokenError(
        'TASK_TOKEN_INVALID',
        'the approval this button belongs to is no longer waiting',
      );
    this.pending.delete(taskToken);
    return waiting;
  }

  private get d(): AppDeps {
    if (!this.deps) throw new NodemedicError('WORKFLOW_NOT_ATTACHED', 'attach(deps) before start()');
    return this.deps;
  }

  private emit(incidentId: string, step: string, detail: string): void {
    this.options.onEvent?.({ incidentId, step, detail, at: new Date() });
  }

  private sleep(seconds: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, seconds * (this.options.pollScaleMs ?? 100)));
  }

  /** send → wait/poll loop, as the state machine's reusable poll chain. */
  private async command(
    incidentId: string,
    purpose: CommandPurpose,
    remediation?: RemediationId,
  ): Promise<string | null> {
    const sent = await sendStep(this.d, { incidentId, purpose, ...(remediation ? { remediation } : {}) });
    this.emit(
      incidentId,
      `send ${purpose}`,
      `${purpose === 'fix' || purpose === 'rollback' ? remediation : 'diagnose'} → ${sent.commandId ?? (purpose === 'fix' ? 'EC2 API' : 'no command')}`,
    );
    if (!sent.commandId) return null;
    let wait = sent.waitSeconds;
    for (let attempt = 0; ; ) {
      await this.sleep(wait);
      const polled = await pollStep(this.d, { incidentId, commandId: sent.commandId, attempt });
      if (polled.done) {
        this.emit(incidentId, `poll ${purpose}`, polled.status);
        return sent.commandId;
      }
      attempt = polled.attempt;
      wait = polled.waitSeconds;
    }
  }

  private async escalate(incidentId: string, reason: EscalateInput['reason']): Promise<string> {
    await escalateStep(this.d, { incidentId, reason });
    this.emit(incidentId, 'escalate', reason);
    return 'escalated';
  }

  /**
   * The run, with the state machine's catches: a failure before a fix started escalates as
   * `diagnosis-failed`, one after as `fix-failed`; `Denied` and `Recovered` are normal ends.
   */
  private async execute(incidentId: string): Promise<string> {
    const stage = { fixing: false };
    try {
      return await this.steps(incidentId, stage);
    } catch (error) {
      if (error instanceof NodemedicError && error.code === WORKFLOW_ERRORS.recovered) {
        this.emit(incidentId, 'ended', error.message);
        return 'closed';
      }
      this.emit(incidentId, 'failed', error instanceof Error ? error.message : String(error));
      return this.escalate(incidentId, stage.fixing ? 'fix-failed' : 'diagnosis-failed');
    }
  }

  private async steps(incidentId: string, stage: { fixing: boolean }): Promise<string> {
    const reach = await reachabilityStep(this.d, { incidentId });
    this.emit(incidentId, 'reachability', reach.reachable ? 'reachable' : 'unreachable');
    let commandId = reach.reachable ? await this.command(incidentId, 'diagnose') : null;
    for (;;) {
      const analysis = await analyzeStep(this.d, { incidentId, commandId });
      this.emit(
        incidentId,
        'analyze',
        `offered ${analysis.offered.join(', ') || 'nothing'}${analysis.held ? ' (held)' : ''}`,
      );
      if (!analysis.awaitApproval) return 'findings';

      const decision = await this.waitForApproval(incidentId);
      if (decision === 'timeout') return this.escalate(incidentId, 'approval-timeout');
      if (decision === 'failed') return 'closed';
      if (decision.decision === 'rerun') {
        commandId = await this.command(incidentId, 'diagnose');
        continue;
      }
      if (!decision.remediation) throw new NodemedicError('UnknownDecision', 'an approval that names no fix');
      stage.fixing = true;
      return this.fix(incidentId, decision.remediation);
    }
  }

  private async waitForApproval(incidentId: string): Promise<ApprovalDecision | 'timeout' | 'failed'> {
    const token = `local-token:${randomUUID()}`;
    const decision = new Promise<ApprovalDecision>((resolve, reject) => {
      this.pending.set(token, { resolve, reject });
    });
    // A deny or an alarm back to OK can arrive while the step below is still updating the card:
    // the race further down takes that rejection, so it must not count as unhandled meanwhile.
    decision.catch(() => {});
    try {
      await awaitApprovalStep(this.d, { incidentId, taskToken: token });
    } catch (error) {
      this.pending.delete(token);
      throw error;
    }
    this.emit(incidentId, 'await-approval', 'waiting for an authorized approval');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.options.approvalTimeoutMs);
    });
    try {
      const result = await Promise.race([decision, timeout]);
      if (result === 'timeout') this.pending.delete(token);
      else
        this.emit(
          incidentId,
          'approved',
          `${result.decision} ${result.remediation ?? ''} by ${result.by.join(', ')}`,
        );
      return result;
    } catch (error) {
      // Like the state machine's catches on the wait: Denied and Recovered end the run; any
      // other failure of the wait escalates.
      if (
        error instanceof TaskFailedError &&
        (error.error === WORKFLOW_ERRORS.denied || error.error === WORKFLOW_ERRORS.recovered)
      ) {
        this.emit(incidentId, 'approval-ended', `${error.error}: ${error.message}`);
        return 'failed';
      }
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** send → poll → evaluate, the state machine's reusable command chain. */
  private async judged(
    incidentId: string,
    purpose: 'recheck' | 'fix' | 'verify' | 'rollback',
    remediation: RemediationId,
  ): Promise<{ ok: boolean; rollback: boolean }> {
    const commandId = await this.command(incidentId, purpose, remediation);
    return evaluateStep(this.d, { incidentId, purpose, commandId, remediation });
  }

  private async fix(incidentId: string, remediation: RemediationId): Promise<string> {
    const recheck = await this.judged(incidentId, 'recheck', remediation);
    this.emit(incidentId, 'recheck', recheck.ok ? 'cause still holds' : 'cause gone');
    if (!recheck.ok) {
      await outcomeStep(this.d, { incidentId, kind: 'skipped', remediation });
      return 'skipped';
    }
    const fixed = await this.judged(incidentId, 'fix', remediation);
    this.emit(incidentId, 'fix', fixed.ok ? 'applied' : 'failed');
    if (!fixed.ok) return this.escalate(incidentId, 'fix-failed');
    const verified = await this.judged(incidentId, 'verify', remediation);
    this.emit(incidentId, 'verify', verified.ok ? 'recovered' : 'not recovered');
    if (verified.ok) {
      await outcomeStep(this.d, { incidentId, kind: 'recovered', remediation });
      return 'recovered';
    }
    if (verified.rollback) await this.judged(incidentId, 'rollback', remediation);
    return this.escalate(incidentId, 'not-recovered');
  }
}
