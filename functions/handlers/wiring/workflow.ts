/** Step Functions as the workflow. */
import { SFNClient } from '@aws-sdk/client-sfn';
import { StepFunctionsWorkflow } from '../../adapters/aws/sfn-workflow.js';
import type { PortEnv } from './env.js';

// Built once per container, in the init phase.
const client = new SFNClient({});

/** The workflow: executions of the state machine STATE_MACHINE_ARN. */
export function makeWorkflow(env: PortEnv<'workflow'>): StepFunctionsWorkflow {
  return new StepFunctionsWorkflow({ client, stateMachineArn: env.STATE_MACHINE_ARN });
}

/**
 * The workflow as a step the state machine invokes may use it: answering task tokens only. Such a
 * function cannot be given the state machine's ARN (the definition names the function: a cycle).
 */
export function makeTaskTokens(): StepFunctionsWorkflow {
  return new StepFunctionsWorkflow({ client });
}
