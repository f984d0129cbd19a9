/** SSM Run Command with nodemedic's own documents (names from the DOCUMENTS map set at synth). */
import { SsmCommandRunner } from '../../adapters/aws/ssm-runner.js';
import type { PortEnv } from './env.js';
import { ssm } from './ssm-client.js';

/** The runner over the documents DOCUMENTS names. */
export function makeRunner(env: PortEnv<'runner'>): SsmCommandRunner {
  return new SsmCommandRunner({ client: ssm, documents: env.DOCUMENTS });
}
