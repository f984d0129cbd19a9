/** Step 1: is the node's SSM agent online and the instance running? */
import { reachabilityStep } from '../app/steps.js';
import { stepHandler } from './runtime.js';
import { assemble } from './wiring/deps.js';
import { makeInventory } from './wiring/inventory.js';
import { makeStore } from './wiring/store.js';

export const handler = stepHandler(
  'reachability',
  async () => assemble({ store: makeStore(), inventory: makeInventory() }),
  reachabilityStep,
);
