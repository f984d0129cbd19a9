/**
 * The local mode's Step Functions: the definition the stack deploys (functions/local/definition.ts
 * builds it from infra/workflow.ts), run by the ASL interpreter (functions/local/asl.ts) in this
 * process. Each Lambda task runs the step use case its handler wraps, with the handlers' own error
 * mapping (RetryableError and the codes the Retry/Catch rules match); the state machine's direct
 * GetCommandInvocation polls are answered from the local command runner
 * (functions/local/ssm-integration.ts), with SSM's response shape and Step Functions' error names. StartExecution,
 * SendTaskSuccess and SendTaskFailure reach the interpreter through the real StepFunctionsWorkflow
 * adapter, so the local mode exercises the same token checks and error mapping as AWS.
 *
 * Time is scaled, never the definition: a Wait second lasts `pollScaleMs`, and the approval wait's
 * TimeoutSeconds lasts `approvalTimeoutMs` in all.
 */
import {
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  type SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { executionName, StepFunctionsWorkflow } from '../adapters/aws/sfn-workflow.js';
import type { AppDeps } from '../app/deps.js';
import { handleExecutionEnded, workflowStep } from '../app/steps.js';
import { toTaskError } from '../app/task-errors.js';
import { NodemedicError } from '../core/errors.js';
import type { Workflow } from '../core/incident.js';
import { DEFAULT_SAFETY_POLICY } from '../core/policy.js';
import { ssmCommandStatus } from '../core/ssm-status.js';
import { AslInterpreter, type ExecutionResult, scaledClock, type TaskEvent } from './asl.js';
import { localDefinition } from './definition.js';
import { localGetCommandInvocation } from './ssm-integration.js';

/** One line of the run's story, for the demo's terminal and for tests. */
export interface WorkflowEvent {
  readonly incidentId: string;
  readonly step: string;
  readonly detail: string;
  readonly at: Date;
}

export interface InProcessWorkflowOptions {
  /** How long the approval wait lasts before it escalates, in real milliseconds. */
  readonly approvalTimeoutMs: number;
  /**
   * The approval timeout the definition is built with (the safety policy's), so it is the one
   * the stack deploys. @default DEFAULT_SAFETY_POLICY.approvalTimeoutMinutes
   */
  readonly approvalTimeoutMinutes?: number;
  /** Real milliseconds per second of a Wait state or retry delay. @default 100 */
  readonly pollScaleMs?: number;
  readonly onEvent?: (event: WorkflowEvent) => void;
}

/** The local state machine's ARN, as the SFN adapter and the execution-ended use case see it. */
const STATE_MACHINE_ARN = 'arn:aws:states:local:000000000000:stateMachine:nodemedic';

/** What a run's last state says about the incident, in the words the demo and the tests use. */
const ENDINGS: Readonly<Record<string, string>> = {
  OutcomeRecovered: 'recovered',
  OutcomeSkipped: 'skipped',
  FindingsPosted: 'findings',
  Denied: 'closed',
  RecoveredWhileWaiting: 'closed',
};

export class InProcessWorkflow implements Workflow {
  private deps: AppDeps | null = null;
  private readonly interpreter: AslInterpreter;
  private readonly adapter: StepFunctionsWorkflow;
  /** Execution name → incident id, for the events. */
  private readonly incidents = new Map<string, string>();

  constructor(private readonly options: InProcessWorkflowOptions) {
    const minutes = options.approvalTimeoutMinutes ?? DEFAULT_SAFETY_POLICY.approvalTimeoutMinutes;
    const { definition, functions } = localDefinition(minutes);
    this.interpreter = new AslInterpreter({
      definition,
      functions,
      clock: scaledClock({
        waitMs: options.pollScaleMs ?? 100,
        timeoutMs: options.approvalTimeoutMs / (minutes * 60),
      }),
      invoke: (handler, payload) => this.invoke(handler, payload),
      integrations: { 'ssm:getCommandInvocation': localGetCommandInvocation(() => this.attached()) },
      onTask: (event) => this.story(event),
    });
    this.adapter = new StepFunctionsWorkflow({
      client: localStepFunctions(this.interpreter),
      stateMachineArn: STATE_MACHINE_ARN,
    });
  }

  /** The deps hold this workflow too, so they are attached after construction. */
  attach(deps: AppDeps): void {
    this.deps = deps;
  }

  async start(incidentId: string, input: Record<string, unknown>): Promise<{ executionId: string }> {
    const name = executionName(incidentId);
    const first = !this.incidents.has(name);
    this.incidents.set(name, incidentId);
    const started = await this.adapter.start(incidentId, input);
    if (first) {
      void this.interpreter.result(name).then(
        (result) => this.ended(incidentId, started.executionId, result),
        () => {},
      );
    }
    return started;
  }

  resume(taskToken: string, output: Record<string, unknown>): Promise<void> {
    return this.adapter.resume(taskToken, output);
  }

  fail(taskToken: string, error: string, cause: string): Promise<void> {
    return this.adapter.fail(taskToken, error, cause);
  }

  /**
   * Resolves when the incident's execution ends: `recovered`, `skipped`, `findings`, `closed`,
   * `escalated`, or `failed` / `timed-out` when the execution itself failed.
   */
  async finished(incidentId: string): Promise<string> {
    return ending(await this.interpreter.result(executionName(incidentId)));
  }

  /**
   * An execution that did not succeed ends its incident the way the stack's EventBridge rule on
   * Step Functions' execution status does (functions/handlers/execution-ended.ts).
   */
  private async ended(incidentId: string, executionArn: string, result: ExecutionResult): Promise<void> {
    if (result.status === 'SUCCEEDED') return;
    this.options.onEvent?.({
      incidentId,
      step: 'execution',
      detail: `${result.status} in ${result.lastState}: ${result.error ?? ''} ${result.cause ?? ''}`.trim(),
      at: new Date(),
    });
    if (!this.deps) return;
    try {
      const outcome = await handleExecutionEnded(this.deps, {
        incidentId,
        executionArn,
        stateMachineArn: STATE_MACHINE_ARN,
        status: result.status,
        error: result.error ?? null,
        cause: result.cause ?? null,
      });
      this.options.onEvent?.({ incidentId, step: 'execution-ended', detail: outcome.kind, at: new Date() });
    } catch (error) {
      this.deps.logger.error('could not end the incident of a failed execution', {
        incidentId,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }

  private attached(): AppDeps {
    if (!this.deps) throw new NodemedicError('WORKFLOW_NOT_ATTACHED', 'attach(deps) before start()');
    return this.deps;
  }

  private async invoke(handler: string, payload: unknown): Promise<unknown> {
    const step = workflowStep(handler);
    if (!step) throw new Error(`the state machine invoked ${handler}, which is no workflow step`);
    const deps = this.attached();
    try {
      return await step(deps, payload as never);
    } catch (error) {
      throw toTaskError(error);
    }
  }

  /** A Task state that ended, told the way the demo prints a run. */
  private story(event: TaskEvent): void {
    const incidentId = this.incidents.get(event.execution) ?? event.execution;
    const input = (event.payload ?? {}) as Record<string, unknown>;
    const result = (event.result ?? {}) as Record<string, unknown>;
    const purpose = typeof input.purpose === 'string' ? input.purpose : '';
    const step = [event.handler, purpose].filter(Boolean).join(' ');
    let detail: string;
    if (event.error) detail = `failed: ${event.error}`;
    else if (event.handler === 'ssm:getCommandInvocation') {
      // Only the poll that ends the wait.
      if (ssmCommandStatus(result.Status as string, result.StatusDetails as string) === 'pending') return;
      detail = String(result.StatusDetails);
    } else if (event.handler === 'reachability') detail = result.reachable ? 'reachable' : 'unreachable';
    else if (event.handler === 'send')
      detail = `${String(input.remediation ?? 'diagnose')} → ${String(result.commandId ?? 'no command (EC2/ASG API)')}`;
    else if (event.handler === 'poll')
      detail = `gave up after ${String(input.attempt)} polls; ${result.cancelled ? 'cancelled' : 'could not cancel'}`;
    else if (event.handler === 'analyze')
      detail = `offered ${(result.offered as string[] | undefined)?.join(', ') || 'nothing'}${result.held ? ' (held)' : ''}`;
    else if (event.handler === 'await-approval')
      detail = `${String(result.decision)} ${String(result.remediation ?? '')} by ${(result.by as string[] | undefined)?.join(', ') ?? '?'}`;
    else if (event.handler === 'evaluate') detail = result.ok ? 'ok' : 'not ok';
    else if (event.handler === 'escalate') detail = String(input.reason);
    else detail = String(input.kind ?? 'done');
    this.options.onEvent?.({ incidentId, step, detail, at: new Date() });
  }
}

function ending(result: ExecutionResult): string {
  if (result.status === 'TIMED_OUT') return 'timed-out';
  if (result.status === 'FAILED') return 'failed';
  if (result.lastState.startsWith('Escalate')) return 'escalated';
  return ENDINGS[result.lastState] ?? result.lastState;
}

/**
 * The three Step Functions calls nodemedic makes, answered by the interpreter: what the SFN
 * client would send to AWS. Errors carry Step Functions' own names (ExecutionAlreadyExists,
 * TaskTimedOut, TaskDoesNotExist, InvalidToken), which the adapter maps as it does in AWS.
 */
function localStepFunctions(interpreter: AslInterpreter): SFNClient {
  const send = async (command: unknown): Promise<unknown> => {
    if (command instanceof StartExecutionCommand) {
      const { name, input, stateMachineArn } = command.input;
      if (!name) throw new Error('StartExecution without a name');
      interpreter.start(name, JSON.parse(input ?? '{}')).catch(() => {
        // The result is read through finished(); an interpreter defect surfaces there.
      });
      return { executionArn: `${String(stateMachineArn).replace(':stateMachine:', ':execution:')}:${name}` };
    }
    if (command instanceof SendTaskSuccessCommand) {
      interpreter.sendTaskSuccess(String(command.input.taskToken), String(command.input.output));
      return {};
    }
    if (command instanceof SendTaskFailureCommand) {
      const { taskToken, error, cause } = command.input;
      interpreter.sendTaskFailure(String(taskToken), String(error ?? ''), String(cause ?? ''));
      return {};
    }
    throw new Error(`the local Step Functions does not answer ${(command as object).constructor.name}`);
  };
  return { send } as unknown as SFNClient;
}
