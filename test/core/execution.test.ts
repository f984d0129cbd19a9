/**
 * Reading an ended execution from its EventBridge event: the three statuses that leave an incident
 * stuck are read with the incident id from the JSON input string; every other shape is refused with
 * a reason that names the problem.
 */
import { describe, expect, it } from 'vitest';
import { parseExecutionEnded } from '../../functions/core/execution.js';
import { executionStatusChange, STATE_MACHINE_ARN } from '../fixtures/executions.js';

const INCIDENT = 'prod#i-0abc123def4567890#2026-11-27T03:14:07.000Z';

describe('parseExecutionEnded', () => {
  it.each([
    [
      'FAILED',
      'Lambda.Unknown',
      'The cause could not be determined because Lambda did not return an error type.',
    ],
    ['TIMED_OUT', 'States.Timeout', null],
  ] as const)('reads a %s execution with its error and cause', (status, error, cause) => {
    expect(parseExecutionEnded(executionStatusChange({ status }))).toEqual({
      incidentId: INCIDENT,
      executionArn: expect.stringContaining(':execution:NodeMedicWorkflow:'),
      stateMachineArn: STATE_MACHINE_ARN,
      status,
      error,
      cause,
    });
  });

  it('reads an abort without error or cause as nulls', () => {
    const parsed = parseExecutionEnded(
      executionStatusChange({ status: 'ABORTED', error: null, cause: null }),
    );
    expect(parsed).toMatchObject({ status: 'ABORTED', error: null, cause: null, incidentId: INCIDENT });
  });

  it.each([
    ['a succeeded execution', executionStatusChange({ status: 'SUCCEEDED' }), /status "SUCCEEDED"/],
    ['a running execution', executionStatusChange({ status: 'RUNNING' }), /status "RUNNING"/],
    [
      'another event',
      { source: 'aws.cloudwatch', 'detail-type': 'CloudWatch Alarm State Change', detail: {} },
      /not a Step Functions/,
    ],
    ['junk', 'junk', /not an object/],
    ['null', null, /not an object/],
    ['an input that is not JSON', executionStatusChange({ input: '{incidentId' }), /not JSON/],
    ['an input without an incident', executionStatusChange({ input: '{"other":1}' }), /no incidentId/],
    ['an input of another type', executionStatusChange({ input: '{"incidentId":42}' }), /no incidentId/],
    ['an input left out', executionStatusChange({ input: null, inputIncluded: false }), /too large/],
    ['no input', executionStatusChange({ input: null }), /input is missing/],
  ])('refuses %s with a named reason', (_what, event, reason) => {
    expect(() => parseExecutionEnded(event)).toThrow(reason);
    try {
      parseExecutionEnded(event);
    } catch (error) {
      expect(error).toMatchObject({ code: 'EXECUTION_EVENT_INVALID' });
    }
  });
});
