/** await-approval: keeps the approval wait's task token on the incident for the Slack listener. */
import type { Grants, HandlerManifest, Sizing } from './types.js';

export const wiring = { ports: ['store', 'chat'], env: [] } as const;

const grants = { secrets: ['slack'], table: 'readWrite' } as const satisfies Grants;

const sizing = { memory: 256, timeout: 30 } as const satisfies Sizing;

/** The whole manifest, as the construct reads it. */
export const manifest: HandlerManifest = { wiring, grants, sizing };
