/** Poll a command's invocation with backoff. */
import type { PollInput } from '../app/contract.js';
import { pollStep } from '../app/steps.js';
import { stepHandler } from './runtime.js';
import { assemble } from './wiring/deps.js';
import { makeRunner } from './wiring/runner.js';
import { makeStore } from './wiring/store.js';

export const handler = stepHandler<PollInput, Awaited<ReturnType<typeof pollStep>>>(
  'poll',
  async () => assemble({ store: makeStore(), runner: makeRunner() }),
  pollStep,
);
