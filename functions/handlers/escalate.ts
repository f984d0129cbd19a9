/** Escalate: mention the on-call group, mark the card, expire the buttons. */
import type { EscalateInput } from '../app/contract.js';
import { escalateStep } from '../app/steps.js';
import { wiring } from './manifest/escalate.js';
import { stepHandler } from './runtime.js';
import { makeChat } from './wiring/chat.js';
import { wire } from './wiring/compose.js';
import { makePager } from './wiring/pager.js';
import { makeStore } from './wiring/store.js';
import { makeTaskTokens } from './wiring/workflow.js';

// Its manifest's configuration, parsed at cold start: a bad value fails the init with the variable named.
const { deps } = wire(wiring, {
  store: makeStore,
  chat: makeChat,
  pager: makePager,
  taskTokens: makeTaskTokens,
});

export const handler = stepHandler<EscalateInput, void>('escalate', deps, escalateStep);
