/** Judge a recheck, a fix, a verification or a rollback from its command. */
import { cloudWatchAlarmStates } from '../adapters/aws/cloudwatch-alarms.js';
import type { EvaluateInput } from '../app/contract.js';
import { evaluateStep } from '../app/steps.js';
import { stepHandler } from './runtime.js';
import { makeChat } from './wiring/chat.js';
import { assemble } from './wiring/deps.js';
import { loadHandlerEnv } from './wiring/env.js';
import { makeInventory } from './wiring/inventory.js';
import { makeRunner } from './wiring/runner.js';
import { makeStore } from './wiring/store.js';

// Parsed at cold start: a bad value fails the init with the variable named.
const env = loadHandlerEnv(['store', 'runner', 'inventory', 'chat']);

export const handler = stepHandler<EvaluateInput, Awaited<ReturnType<typeof evaluateStep>>>(
  'evaluate',
  async () =>
    assemble(env, {
      store: makeStore(env),
      runner: makeRunner(env),
      inventory: makeInventory(env),
      chat: await makeChat(env),
      alarms: cloudWatchAlarmStates(),
    }),
  evaluateStep,
);
