/** Poll a command's invocation with backoff; cancel it, and say so, when the poll gives up. */
import type { PollInput } from '../app/contract.js';
import { pollStep } from '../app/steps.js';
import { stepHandler } from './runtime.js';
import { makeChat } from './wiring/chat.js';
import { assemble } from './wiring/deps.js';
import { makeRunner } from './wiring/runner.js';
import { makeStore } from './wiring/store.js';

export const handler = stepHandler<PollInput, Awaited<ReturnType<typeof pollStep>>>(
  'poll',
  async () => assemble({ store: makeStore(), runner: makeRunner(), chat: await makeChat() }),
  pollStep,
);
