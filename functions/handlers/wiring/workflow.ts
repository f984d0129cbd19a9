/** Step Functions as the workflow. */
import { SFNClient } from '@aws-sdk/client-sfn';
import { StepFunctionsWorkflow } from '../../adapters/aws/sfn-workflow.js';
import { requireEnv } from '../runtime.js';

export function makeWorkflow(): StepFunctionsWorkflow {
  return new StepFunctionsWorkflow({
    client: new SFNClient({}),
    stateMachineArn: requireEnv('STATE_MACHINE_ARN'),
  });
}
