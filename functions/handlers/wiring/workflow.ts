/** Step Functions as the workflow. */
import { SFNClient } from '@aws-sdk/client-sfn';
import { StepFunctionsWorkflow } from '../../adapters/aws/sfn-workflow.js';
import { requireEnv } from '../runtime.js';

// Built once per container, in the init phase.
const client = new SFNClient({});

export function makeWorkflow(): StepFunctionsWorkflow {
  return new StepFunctionsWorkflow({ client, stateMachineArn: requireEnv('STATE_MACHINE_ARN') });
}
