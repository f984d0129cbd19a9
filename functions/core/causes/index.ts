/**
 * The cause catalog: one module per cause id, gathered here in `CAUSE_IDS` order (the order
 * findings take when severities tie).
 */
import type { CauseId } from '../model.js';
import type { Cause } from './cause.js';
import { configInvalid } from './config-invalid.js';
import { containerdDown } from './containerd-down.js';
import { criConfigError } from './cri-config-error.js';
import { diskPressure } from './disk-pressure.js';
import { fdExhaustion } from './fd-exhaustion.js';
import { grpcLimits } from './grpc-limits.js';
import { hostNotInspectable } from './host-not-inspectable.js';
import { kubeletDown } from './kubelet-down.js';
import { nodeUnreachable } from './node-unreachable.js';
import { outdatedVersion } from './outdated-version.js';
import { resourceStarvation } from './resource-starvation.js';
import { sandboxImageMissing } from './sandbox-image-missing.js';
import { socketUnreachable } from './socket-unreachable.js';
import { stateCorruption } from './state-corruption.js';
import { stuckShim } from './stuck-shim.js';

export type { Cause } from './cause.js';

/** Every cause module, in `CAUSE_IDS` order. */
export const CAUSE_LIST: readonly Cause[] = [
  nodeUnreachable,
  containerdDown,
  configInvalid,
  stateCorruption,
  socketUnreachable,
  fdExhaustion,
  grpcLimits,
  resourceStarvation,
  diskPressure,
  outdatedVersion,
  kubeletDown,
  criConfigError,
  sandboxImageMissing,
  stuckShim,
  hostNotInspectable,
];

/** The catalog keyed by id. */
export const CAUSES: Readonly<Record<CauseId, Cause>> = Object.fromEntries(
  CAUSE_LIST.map((c) => [c.id, c]),
) as Record<CauseId, Cause>;
