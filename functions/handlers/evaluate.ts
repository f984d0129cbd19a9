/** Judge a recheck, a fix, a verification or a rollback from its command. */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CloudWatchAlarmStates } from '../adapters/aws/cloudwatch-alarms.js';
import { CloudWatchAlarmContributors } from '../adapters/aws/cloudwatch-contributors.js';
import type { EvaluateInput } from '../app/contract.js';
import { evaluateStep } from '../app/steps.js';
import { wiring } from './manifest/evaluate.js';
import { stepHandler } from './runtime.js';
import { makeChat } from './wiring/chat.js';
import { wire } from './wiring/compose.js';
import { makeInventory } from './wiring/inventory.js';
import { makeRunner } from './wiring/runner.js';
import { makeStore } from './wiring/store.js';
import { makeReadiness } from './wiring/sweep.js';

// One CloudWatch client for the three ways a fixed node's readiness is read after a fix: the
// alarm's state, the node's contributor, and Container Insights' own per-node datapoint.
const cloudwatch = new CloudWatchClient({});

// Its manifest's configuration, parsed at cold start: a bad value fails the init with the variable named.
const { deps } = wire(wiring, {
  store: makeStore,
  runner: makeRunner,
  inventory: makeInventory,
  chat: makeChat,
  alarms: () => new CloudWatchAlarmStates({ client: cloudwatch }),
  contributors: () => new CloudWatchAlarmContributors({ client: cloudwatch }),
  readiness: () => makeReadiness(cloudwatch),
});

export const handler = stepHandler<EvaluateInput, Awaited<ReturnType<typeof evaluateStep>>>(
  'evaluate',
  deps,
  evaluateStep,
);
