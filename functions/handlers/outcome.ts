/** Post the final outcome (recovered, or skipped because the cause went away) and close. */
import type { OutcomeInput } from '../app/contract.js';
import { outcomeStep } from '../app/steps.js';
import { stepHandler } from './runtime.js';
import { makeChat } from './wiring/chat.js';
import { assemble } from './wiring/deps.js';
import { makeStore } from './wiring/store.js';

export const handler = stepHandler<OutcomeInput, void>(
  'outcome',
  async () => assemble({ store: makeStore(), chat: await makeChat() }),
  outcomeStep,
);
