/** execution-ended: escalates an incident whose execution ended before it did, and frees its node. */
import type { Grants, HandlerManifest, Sizing } from './types.js';

export const wiring = {
  ports: ['store', 'chat', 'pager'],
  // Only to tell its own state machine's executions from others': it is granted nothing on it.
  env: ['STATE_MACHINE_ARN'],
} as const;

const grants = {
  secrets: ['slack', 'pager'],
  table: 'readWrite',
  deadLetterQueue: 'send',
} as const satisfies Grants;

const sizing = { memory: 256, timeout: 30 } as const satisfies Sizing;

/** The whole manifest, as the construct reads it. */
export const manifest: HandlerManifest = { wiring, grants, sizing };
