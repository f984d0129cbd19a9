/**
 * The task-token wait's Lambda: keep the token on the incident for the Slack listener. A function
 * of its own, because granting task responses to a function the state machine also invokes makes
 * a CloudFormation dependency loop (toolchain.md).
 */
import type { AwaitApprovalInput } from '../app/contract.js';
import { awaitApprovalStep } from '../app/steps.js';
import { wiring } from './manifest/await-approval.js';
import { stepHandler } from './runtime.js';
import { makeChat } from './wiring/chat.js';
import { wire } from './wiring/compose.js';
import { makeStore } from './wiring/store.js';

// Its manifest's configuration, parsed at cold start: a bad value fails the init with the variable named.
const { deps } = wire(wiring, { store: makeStore, chat: makeChat });

export const handler = stepHandler<AwaitApprovalInput, void>('await-approval', deps, awaitApprovalStep);
