/**
 * The "Step Functions Execution Status Change" event, for the executions that end without
 * nodemedic's own last step having run: FAILED (the escalate step itself failed), TIMED_OUT (the
 * execution's 2-hour bound) and ABORTED (StopExecution by a person). Event shape:
 * https://docs.aws.amazon.com/step-functions/latest/dg/eventbridge-integration.html and
 * https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-states.html. The execution input,
 * `{"incidentId":"…"}`, arrives as a JSON string in `detail.input`.
 */
import { InvalidInputError } from './errors.js';

/** The statuses of an execution that ended before its incident did. */
export const STUCK_EXECUTION_STATUSES = ['FAILED', 'TIMED_OUT', 'ABORTED'] as const;
export type StuckExecutionStatus = (typeof STUCK_EXECUTION_STATUSES)[number];

/** The event's detail-type and source, as the EventBridge rule matches them. */
export const EXECUTION_STATUS_CHANGE = {
  source: 'aws.states',
  detailType: 'Step Functions Execution Status Change',
} as const;

/** An execution that ended FAILED, TIMED_OUT or ABORTED, and the incident it ran for. */
export interface ExecutionEnded {
  readonly incidentId: string;
  readonly executionArn: string;
  readonly stateMachineArn: string;
  readonly status: StuckExecutionStatus;
  /** Step Functions' error name (`States.Timeout`, a task's error), when it gave one. */
  readonly error: string | null;
  /** Step Functions' cause, as it gave it: outside text, escaped wherever it is shown. */
  readonly cause: string | null;
}

/** Longest incident id accepted (ids are `cluster#instance#timestamp`, well below this). */
const MAX_ID = 512;

function fail(message: string): never {
  throw new InvalidInputError(`execution status change: ${message}`, { code: 'EXECUTION_EVENT_INVALID' });
}

function text(value: unknown): string | null {
  return typeof value === 'string' && value.length > 0 ? value : null;
}

/**
 * Read an ended execution from its EventBridge event. Throws InvalidInputError
 * (`EXECUTION_EVENT_INVALID`) naming the problem for any other shape: another source or status, a
 * missing ARN, or an input that is not `{incidentId}` (an execution not started by nodemedic, or
 * one whose input was too large to be included).
 */
export function parseExecutionEnded(event: unknown): ExecutionEnded {
  if (typeof event !== 'object' || event === null) fail('the event is not an object');
  const e = event as Record<string, unknown>;
  if (
    e.source !== EXECUTION_STATUS_CHANGE.source ||
    e['detail-type'] !== EXECUTION_STATUS_CHANGE.detailType
  ) {
    fail(`not a ${EXECUTION_STATUS_CHANGE.detailType} event (${String(e['detail-type']).slice(0, 80)})`);
  }
  const detail = e.detail;
  if (typeof detail !== 'object' || detail === null) fail('the event has no detail');
  const d = detail as Record<string, unknown>;
  const status = d.status;
  if (!STUCK_EXECUTION_STATUSES.includes(status as StuckExecutionStatus)) {
    fail(`status ${JSON.stringify(status)} is not one of ${STUCK_EXECUTION_STATUSES.join(', ')}`);
  }
  const executionArn = text(d.executionArn) ?? fail('detail.executionArn is missing');
  const stateMachineArn = text(d.stateMachineArn) ?? fail('detail.stateMachineArn is missing');
  const raw = text(d.input);
  if (raw === null) {
    const excluded = (d.inputDetails as { included?: unknown } | undefined)?.included === false;
    fail(excluded ? 'detail.input was left out of the event (too large)' : 'detail.input is missing');
  }
  let input: unknown;
  try {
    input = JSON.parse(raw);
  } catch {
    fail('detail.input is not JSON');
  }
  const incidentId = (input as { incidentId?: unknown } | null)?.incidentId;
  if (typeof incidentId !== 'string' || incidentId.length === 0 || incidentId.length > MAX_ID) {
    fail('detail.input holds no incidentId');
  }
  return {
    incidentId,
    executionArn,
    stateMachineArn,
    status: status as StuckExecutionStatus,
    error: text(d.error),
    cause: text(d.cause),
  };
}
