/** Step 1: is the node's SSM agent online and the instance running? */
import { reachabilityStep } from '../app/steps.js';
import { wiring } from './manifest/reachability.js';
import { stepHandler } from './runtime.js';
import { wire } from './wiring/compose.js';
import { makeInventory } from './wiring/inventory.js';
import { makeStore } from './wiring/store.js';

// Its manifest's configuration, parsed at cold start: a bad value fails the init with the variable named.
const { deps } = wire(wiring, { store: makeStore, inventory: makeInventory });

export const handler = stepHandler('reachability', deps, reachabilityStep);
