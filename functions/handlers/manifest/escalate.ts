/** escalate: mentions (and pages) the on-call, marks the card, expires the buttons. */
import type { Grants, HandlerManifest, Sizing } from './types.js';

export const wiring = { ports: ['store', 'chat', 'pager', 'taskTokens'], env: [] } as const;

const grants = {
  secrets: ['slack', 'pager'],
  table: 'readWrite',
  // A rolling fix (app/rolling.ts): a held node's end approves the next batch's waiting nodes.
  workflow: ['taskResponse'],
} as const satisfies Grants;

const sizing = { memory: 256, timeout: 30 } as const satisfies Sizing;

/** The whole manifest, as the construct reads it. */
export const manifest: HandlerManifest = { wiring, grants, sizing };
