/**
 * Give up on a command the state machine polled to its limit (it polls SSM itself, with no Lambda):
 * cancel it, and say so in the audit and the thread.
 */
import type { GiveUpInput } from '../app/contract.js';
import { giveUpStep } from '../app/steps.js';
import { wiring } from './manifest/poll.js';
import { stepHandler } from './runtime.js';
import { makeChat } from './wiring/chat.js';
import { wire } from './wiring/compose.js';
import { makeRunner } from './wiring/runner.js';
import { makeStore } from './wiring/store.js';

// Its manifest's configuration, parsed at cold start: a bad value fails the init with the variable named.
const { deps } = wire(wiring, { store: makeStore, runner: makeRunner, chat: makeChat });

export const handler = stepHandler<GiveUpInput, Awaited<ReturnType<typeof giveUpStep>>>(
  'poll',
  deps,
  giveUpStep,
);
