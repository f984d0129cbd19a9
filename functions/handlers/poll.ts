/**
 * Give up on a command the state machine polled to its limit (it polls SSM itself, with no Lambda):
 * cancel it, and say so in the audit and the thread.
 */
import type { GiveUpInput } from '../app/contract.js';
import { giveUpStep } from '../app/steps.js';
import { stepHandler } from './runtime.js';
import { makeChat } from './wiring/chat.js';
import { assemble } from './wiring/deps.js';
import { loadHandlerEnv } from './wiring/env.js';
import { makeRunner } from './wiring/runner.js';
import { makeStore } from './wiring/store.js';

// Parsed at cold start: a bad value fails the init with the variable named.
const env = loadHandlerEnv(['store', 'runner', 'chat']);

export const handler = stepHandler<GiveUpInput, Awaited<ReturnType<typeof giveUpStep>>>(
  'poll',
  async () => assemble(env, { store: makeStore(env), runner: makeRunner(env), chat: await makeChat(env) }),
  giveUpStep,
);
