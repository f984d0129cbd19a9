/** slack: Bolt behind the Function URL (approvals, mentions, thread actions). */
import type { Grants, HandlerManifest, Sizing } from './types.js';

export const wiring = {
  ports: ['store', 'inventory', 'chat', 'workflow', 'pager'],
  env: ['ONCALL_ALLOWLIST', 'MENTION_CHANNEL_IDS'],
} as const;

const grants = {
  // A mention starts a diagnosis; approve/deny resume the approval wait.
  workflow: ['startExecution', 'taskResponse'],
  secrets: ['slack', 'pager'],
  table: 'readWrite',
  anyResource: ['ec2:DescribeInstances'],
} as const satisfies Grants;

// Bolt's import dominates its cold start: more memory, so more CPU.
const sizing = { memory: 1024, timeout: 15 } as const satisfies Sizing;

/** The whole manifest, as the construct reads it. */
export const manifest: HandlerManifest = { wiring, grants, sizing };
