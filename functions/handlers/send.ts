/** Send a command (diagnose, recheck, fix, verify, rollback), or run an EC2/ASG action. */
import type { SendInput } from '../app/contract.js';
import { sendStep } from '../app/steps.js';
import { stepHandler } from './runtime.js';
import { autoScaling } from './wiring/auto-scaling.js';
import { makeChat } from './wiring/chat.js';
import { assemble } from './wiring/deps.js';
import { loadHandlerEnv } from './wiring/env.js';
import { makeInventory } from './wiring/inventory.js';
import { makeRunner } from './wiring/runner.js';
import { makeStore } from './wiring/store.js';

// Parsed at cold start: a bad value fails the init with the variable named.
const env = loadHandlerEnv(['store', 'runner', 'inventory', 'chat']);

export const handler = stepHandler<SendInput, Awaited<ReturnType<typeof sendStep>>>(
  'send',
  async () =>
    assemble(env, {
      store: makeStore(env),
      runner: makeRunner(env),
      inventory: makeInventory(env, autoScaling),
      chat: await makeChat(env),
    }),
  sendStep,
);
