/**
 * The remediation catalog: one module per id, gathered here. Consumers (Slack rendering, SSM
 * documents, the workflow) read titles, tiers, timeouts and parameters from this one place.
 */
import { InvalidInputError } from '../errors.js';
import type { RemediationId } from '../model.js';
import { collectGoroutineDump } from './collect-goroutine-dump.js';
import { cordonDrain } from './cordon-drain.js';
import { fixConfigManually } from './fix-config-manually.js';
import { fixEndpointMismatch } from './fix-endpoint-mismatch.js';
import { raiseGrpcMessageSize } from './raise-grpc-message-size.js';
import { raiseNofile } from './raise-nofile.js';
import { rebootInstance } from './reboot-instance.js';
import type { Remediation } from './remediation.js';
import { replaceNode } from './replace-node.js';
import { resetState } from './reset-state.js';
import { restartContainerd } from './restart-containerd.js';
import { restartKubelet } from './restart-kubelet.js';
import { upgradeContainerd } from './upgrade-containerd.js';

export type { Remediation } from './remediation.js';

/** Every remediation module, in `REMEDIATION_IDS` order (the catalog validator checks coverage). */
export const REMEDIATION_LIST: readonly Remediation[] = [
  restartContainerd,
  restartKubelet,
  raiseNofile,
  raiseGrpcMessageSize,
  upgradeContainerd,
  cordonDrain,
  rebootInstance,
  resetState,
  replaceNode,
  collectGoroutineDump,
  fixConfigManually,
  fixEndpointMismatch,
];

/** The catalog keyed by id. */
export const REMEDIATIONS: Readonly<Record<RemediationId, Remediation>> = Object.fromEntries(
  REMEDIATION_LIST.map((r) => [r.id, r]),
) as Record<RemediationId, Remediation>;

/**
 * Look one up. Ids from a workflow payload or a Slack click are untrusted strings, so a miss
 * throws InvalidInputError naming the id rather than returning undefined.
 */
export function getRemediation(id: RemediationId): Remediation {
  const found = Object.hasOwn(REMEDIATIONS, id) ? REMEDIATIONS[id] : undefined;
  if (!found)
    throw new InvalidInputError(`unknown remediation id ${JSON.stringify(String(id).slice(0, 60))}`);
  return found;
}
