/** Analyze the diagnosis (or EC2 evidence), plan the fixes, post the findings into the thread. */
import type { AnalyzeInput } from '../app/contract.js';
import { analyzeStep } from '../app/steps.js';
import { stepHandler } from './runtime.js';
import { makeChat } from './wiring/chat.js';
import { assemble } from './wiring/deps.js';
import { loadHandlerEnv } from './wiring/env.js';
import { makeInventory } from './wiring/inventory.js';
import { makePager } from './wiring/pager.js';
import { makeRunner } from './wiring/runner.js';
import { makeStore } from './wiring/store.js';

// Parsed at cold start: a bad value fails the init with the variable named.
const env = loadHandlerEnv(['store', 'runner', 'inventory', 'chat', 'pager']);

export const handler = stepHandler<AnalyzeInput, Awaited<ReturnType<typeof analyzeStep>>>(
  'analyze',
  async () =>
    assemble(env, {
      pager: makePager(env),
      store: makeStore(env),
      runner: makeRunner(env),
      inventory: makeInventory(env),
      chat: await makeChat(env),
    }),
  analyzeStep,
);
