/** Judge a recheck, a fix, a verification or a rollback from its command. */
import { cloudWatchAlarmStates } from '../adapters/aws/cloudwatch-alarms.js';
import type { EvaluateInput } from '../app/contract.js';
import { evaluateStep } from '../app/steps.js';
import { stepHandler } from './runtime.js';
import { makeChat } from './wiring/chat.js';
import { assemble } from './wiring/deps.js';
import { makeInventory } from './wiring/inventory.js';
import { makeRunner } from './wiring/runner.js';
import { makeStore } from './wiring/store.js';

export const handler = stepHandler<EvaluateInput, Awaited<ReturnType<typeof evaluateStep>>>(
  'evaluate',
  async () =>
    assemble({
      store: makeStore(),
      runner: makeRunner(),
      inventory: makeInventory(),
      chat: await makeChat(),
      alarms: cloudWatchAlarmStates(),
    }),
  evaluateStep,
);
