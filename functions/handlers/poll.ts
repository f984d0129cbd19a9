/** Poll a command's invocation with backoff; cancel it, and say so, when the poll gives up. */
import type { PollInput } from '../app/contract.js';
import { pollStep } from '../app/steps.js';
import { stepHandler } from './runtime.js';
import { makeChat } from './wiring/chat.js';
import { assemble } from './wiring/deps.js';
import { loadHandlerEnv } from './wiring/env.js';
import { makeRunner } from './wiring/runner.js';
import { makeStore } from './wiring/store.js';

// Parsed at cold start: a bad value fails the init with the variable named.
const env = loadHandlerEnv(['store', 'runner', 'chat']);

export const handler = stepHandler<PollInput, Awaited<ReturnType<typeof pollStep>>>(
  'poll',
  async () => assemble(env, { store: makeStore(env), runner: makeRunner(env), chat: await makeChat(env) }),
  pollStep,
);
