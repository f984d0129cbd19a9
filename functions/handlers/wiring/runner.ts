/** SSM Run Command with nodemedic's own documents (names from the DOCUMENTS map set at synth). */
import { SsmCommandRunner } from '../../adapters/aws/ssm-runner.js';
import type { ScriptId } from '../../core/ports.js';
import { jsonEnv, requireEnv } from '../runtime.js';
import { ssm } from './ssm-client.js';

export function makeRunner(): SsmCommandRunner {
  // requireEnv first: a missing map is a configuration error that names the variable.
  requireEnv('DOCUMENTS');
  const documents = jsonEnv<Partial<Record<ScriptId, string>>>('DOCUMENTS', {});
  return new SsmCommandRunner({ client: ssm, documents });
}
