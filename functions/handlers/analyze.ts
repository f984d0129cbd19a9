/** Analyze the diagnosis (or EC2 evidence), plan the fixes, post the findings into the thread. */
import type { AnalyzeInput } from '../app/contract.js';
import { analyzeStep } from '../app/steps.js';
import { stepHandler } from './runtime.js';
import { makeChat } from './wiring/chat.js';
import { assemble } from './wiring/deps.js';
import { makeInventory } from './wiring/inventory.js';
import { makeRunner } from './wiring/runner.js';
import { makeStore } from './wiring/store.js';

export const handler = stepHandler<AnalyzeInput, Awaited<ReturnType<typeof analyzeStep>>>(
  'analyze',
  async () =>
    assemble({
      store: makeStore(),
      runner: makeRunner(),
      inventory: makeInventory(),
      chat: await makeChat(),
    }),
  analyzeStep,
);
