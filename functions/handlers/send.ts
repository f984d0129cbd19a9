/** Send a command (diagnose, recheck, fix, verify, rollback), or run an EC2/ASG action. */
import type { SendInput } from '../app/contract.js';
import { sendStep } from '../app/steps.js';
import { wiring } from './manifest/send.js';
import { stepHandler } from './runtime.js';
import { autoScaling } from './wiring/auto-scaling.js';
import { makeChat } from './wiring/chat.js';
import { wire } from './wiring/compose.js';
import { makeInventory } from './wiring/inventory.js';
import { makeRunner } from './wiring/runner.js';
import { makeStore } from './wiring/store.js';

// Its manifest's configuration, parsed at cold start: a bad value fails the init with the variable
// named. The only inventory with Auto Scaling: send replaces nodes.
const { deps } = wire(wiring, {
  store: makeStore,
  runner: makeRunner,
  inventory: (env) => makeInventory(env, autoScaling),
  chat: makeChat,
});

export const handler = stepHandler<SendInput, Awaited<ReturnType<typeof sendStep>>>('send', deps, sendStep);
