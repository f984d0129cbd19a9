/** Judge a recheck, a fix, a verification or a rollback from its command. */
import { cloudWatchAlarmStates } from '../adapters/aws/cloudwatch-alarms.js';
import type { EvaluateInput } from '../app/contract.js';
import { evaluateStep } from '../app/steps.js';
import { wiring } from './manifest/evaluate.js';
import { stepHandler } from './runtime.js';
import { makeChat } from './wiring/chat.js';
import { wire } from './wiring/compose.js';
import { makeInventory } from './wiring/inventory.js';
import { makeRunner } from './wiring/runner.js';
import { makeStore } from './wiring/store.js';

// Its manifest's configuration, parsed at cold start: a bad value fails the init with the variable named.
const { deps } = wire(wiring, {
  store: makeStore,
  runner: makeRunner,
  inventory: makeInventory,
  chat: makeChat,
  alarms: cloudWatchAlarmStates,
});

export const handler = stepHandler<EvaluateInput, Awaited<ReturnType<typeof evaluateStep>>>(
  'evaluate',
  deps,
  evaluateStep,
);
