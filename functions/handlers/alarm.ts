/**
 * EventBridge target for "CloudWatch Alarm State Change" and "CloudWatch Alarm Contributor State
 * Change": parse the event, resolve the node, open (or join) its incident and start the workflow;
 * the OK of the alarm (or contributor) that opened it closes the incident as recovered. The
 * alarm-level change of a multi-time-series alarm opens one incident per contributor in ALARM.
 * An event nodemedic cannot use is logged with its reason and acknowledged, not retried: a
 * redelivery would fail the same way. Dependency failures are thrown, so EventBridge's retry
 * policy and the dead-letter queue keep the event.
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { EventBridgeEvent } from 'aws-lambda';
import { CloudWatchAlarmContributors } from '../adapters/aws/cloudwatch-contributors.js';
import type { AppDeps } from '../app/deps.js';
import { handleAlarm } from '../app/incidents.js';
import { parseAlarmEvent } from '../core/alarm.js';
import { InvalidInputError, NodeNotFoundError } from '../core/errors.js';
import { wiring } from './manifest/alarm.js';
import { flushMetrics, logger } from './runtime.js';
import { makeChat } from './wiring/chat.js';
import { wire } from './wiring/compose.js';
import { makeInventory } from './wiring/inventory.js';
import { makePager } from './wiring/pager.js';
import { makeStore } from './wiring/store.js';
import { makeWorkflow } from './wiring/workflow.js';

// Its manifest's configuration, parsed at cold start: a bad value (ALARM_FILTER too) fails the init
// with the variable named. The ports are built once per container, at the first event.
const { env, deps: build } = wire(wiring, {
  store: makeStore,
  inventory: makeInventory,
  chat: makeChat,
  workflow: makeWorkflow,
  pager: makePager,
  contributors: () => new CloudWatchAlarmContributors({ client: new CloudWatchClient({}) }),
});
let deps: AppDeps | null = null;

export async function handler(event: EventBridgeEvent<string, unknown>) {
  try {
    const alarm = parseAlarmEvent(event, env.ALARM_FILTER);
    logger.appendKeys({
      alarmName: alarm.alarmName,
      state: alarm.state,
      ...(alarm.contributor ? { contributorId: alarm.contributor.id } : {}),
    });
    deps ??= await build();
    const outcome = await handleAlarm(deps, alarm);
    logger.info('alarm handled', { outcome });
    return outcome;
  } catch (error) {
    if (error instanceof InvalidInputError || error instanceof NodeNotFoundError) {
      logger.warn('alarm not handled', { code: error.code, reason: error.message });
      return { kind: 'ignored', reason: error.message, code: error.code };
    }
    logger.error('alarm failed', { error: error as Error });
    throw error;
  } finally {
    flushMetrics();
  }
}
