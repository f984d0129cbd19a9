/** Escalate: mention the on-call group, mark the card, expire the buttons. */
import type { EscalateInput } from '../app/contract.js';
import { escalateStep } from '../app/steps.js';
import { stepHandler } from './runtime.js';
import { makeChat } from './wiring/chat.js';
import { assemble } from './wiring/deps.js';
import { makeStore } from './wiring/store.js';

export const handler = stepHandler<EscalateInput, void>(
  'escalate',
  async () => assemble({ store: makeStore(), chat: await makeChat() }),
  escalateStep,
);
