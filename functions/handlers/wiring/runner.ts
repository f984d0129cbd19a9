/** SSM Run Command with nodemedic's own documents (names from the DOCUMENTS map set at synth). */
import { SsmCommandRunner } from '../../adapters/aws/ssm-runner.js';
import type { ScriptId } from '../../core/ports.js';
import { jsonEnv } from '../runtime.js';
import { ssm } from './ssm-client.js';

export function makeRunner(): SsmCommandRunner {
  const documents = jsonEnv<Record<ScriptId, string> | null>('DOCUMENTS', null);
  if (!documents) throw new Error('environment variable DOCUMENTS is not set');
  return new SsmCommandRunner({ client: ssm, documents });
}
