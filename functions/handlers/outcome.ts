/** Post the final outcome (recovered, or skipped because the cause went away) and close. */
import type { OutcomeInput } from '../app/contract.js';
import { outcomeStep } from '../app/steps.js';
import { stepHandler } from './runtime.js';
import { makeChat } from './wiring/chat.js';
import { assemble } from './wiring/deps.js';
import { loadHandlerEnv } from './wiring/env.js';
import { makePager } from './wiring/pager.js';
import { makeStore } from './wiring/store.js';

// Parsed at cold start: a bad value fails the init with the variable named.
const env = loadHandlerEnv(['store', 'chat', 'pager']);

export const handler = stepHandler<OutcomeInput, void>(
  'outcome',
  async () => assemble(env, { pager: makePager(env), store: makeStore(env), chat: await makeChat(env) }),
  outcomeStep,
);
