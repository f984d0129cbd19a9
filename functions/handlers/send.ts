/** Send a command (diagnose, recheck, fix, verify, rollback), or run an EC2/ASG action. */
import type { SendInput } from '../app/contract.js';
import { sendStep } from '../app/steps.js';
import { stepHandler } from './runtime.js';
import { makeChat } from './wiring/chat.js';
import { assemble } from './wiring/deps.js';
import { makeInventory } from './wiring/inventory.js';
import { makeRunner } from './wiring/runner.js';
import { makeStore } from './wiring/store.js';

export const handler = stepHandler<SendInput, Awaited<ReturnType<typeof sendStep>>>(
  'send',
  async () =>
    assemble({
      store: makeStore(),
      runner: makeRunner(),
      inventory: makeInventory(),
      chat: await makeChat(),
    }),
  sendStep,
);
