/** Step 1: is the node's SSM agent online and the instance running? */
import { reachabilityStep } from '../app/steps.js';
import { stepHandler } from './runtime.js';
import { assemble } from './wiring/deps.js';
import { loadHandlerEnv } from './wiring/env.js';
import { makeInventory } from './wiring/inventory.js';
import { makeStore } from './wiring/store.js';

// Parsed at cold start: a bad value fails the init with the variable named.
const env = loadHandlerEnv(['store', 'inventory']);

export const handler = stepHandler(
  'reachability',
  async () => assemble(env, { store: makeStore(env), inventory: makeInventory(env) }),
  reachabilityStep,
);
