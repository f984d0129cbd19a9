/** Analyze the diagnosis (or EC2 evidence), plan the fixes, post the findings into the thread. */
import type { AnalyzeInput } from '../app/contract.js';
import { analyzeStep } from '../app/steps.js';
import { wiring } from './manifest/analyze.js';
import { stepHandler } from './runtime.js';
import { makeChat } from './wiring/chat.js';
import { wire } from './wiring/compose.js';
import { makeInventory } from './wiring/inventory.js';
import { makePager } from './wiring/pager.js';
import { makeRunner } from './wiring/runner.js';
import { makeStore } from './wiring/store.js';

// Its manifest's configuration, parsed at cold start: a bad value fails the init with the variable named.
const { deps } = wire(wiring, {
  store: makeStore,
  runner: makeRunner,
  inventory: makeInventory,
  chat: makeChat,
  pager: makePager,
});

export const handler = stepHandler<AnalyzeInput, Awaited<ReturnType<typeof analyzeStep>>>(
  'analyze',
  deps,
  analyzeStep,
);
