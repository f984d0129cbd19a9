/** poll: polls a command's invocation; cancels it, and says so, when the poll gives up. */
import type { Grants, HandlerManifest, Sizing } from './types.js';

export const wiring = { ports: ['store', 'runner', 'chat'], env: [] } as const;

const grants = {
  secrets: ['slack'],
  // The audit trail: poll records a command it gave up on.
  table: 'readWrite',
  // CancelCommand for the command the state machine gave up polling (it reads the invocations
  // itself); poll is the only function that may cancel.
  anyResource: ['ssm:CancelCommand'],
} as const satisfies Grants;

const sizing = { memory: 256, timeout: 15 } as const satisfies Sizing;

/** The whole manifest, as the construct reads it. */
export const manifest: HandlerManifest = { wiring, grants, sizing };
