/**
 * EventBridge target for "CloudWatch Alarm State Change" and "CloudWatch Alarm Contributor State
 * Change": parse the event, resolve the node, open (or join) its incident and start the workflow;
 * the OK of the alarm (or contributor) that opened it closes the incident as recovered. The
 * alarm-level change of a multi-time-series alarm opens one incident per contributor in ALARM. A
 * cluster-only alarm (cluster_failed_node_count) finds its nodes by per-node readiness or a sweep,
 * waiting for the sweep within the function's remaining time.
 * An event nodemedic cannot use is logged with its reason and acknowledged, not retried: a
 * redelivery would fail the same way. Dependency failures are thrown, so EventBridge's retry
 * policy and the dead-letter queue keep the event.
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { Context, EventBridgeEvent } from 'aws-lambda';
import { CloudWatchAlarmContributors } from '../adapters/aws/cloudwatch-contributors.js';
import { handleAlarm } from '../app/incidents.js';
import { SWEEP_WAIT_SECONDS } from '../app/sweep.js';
import { parseAlarmEvent } from '../core/alarm.js';
import { isNotHandled } from '../core/errors.js';
import { wiring } from './manifest/alarm.js';
import { flushMetrics, logger } from './runtime.js';
import { makeChat } from './wiring/chat.js';
import { wire } from './wiring/compose.js';
import { makeInventory } from './wiring/inventory.js';
import { makePager } from './wiring/pager.js';
import { makeStore } from './wiring/store.js';
import { makeReadiness, makeSweeper } from './wiring/sweep.js';
import { makeWorkflow } from './wiring/workflow.js';

// Built once per container, in the init phase.
const cloudwatch = new CloudWatchClient({});
// Its manifest's configuration, parsed at cold start: a bad value (ALARM_FILTER too) fails the init
// with the variable named. The ports are built once per container, at the first event.
const { env, deps: buildDeps } = wire(wiring, {
  store: makeStore,
  inventory: makeInventory,
  chat: makeChat,
  workflow: makeWorkflow,
  pager: makePager,
  contributors: () => new CloudWatchAlarmContributors({ client: cloudwatch }),
  readiness: () => makeReadiness(cloudwatch),
  sweeper: makeSweeper,
});

/** What a sweep's wait leaves of the function's time for opening incidents and the summary. */
const AFTER_SWEEP_MS = 30_000;

export async function handler(
  event: EventBridgeEvent<string, unknown>,
  context?: Pick<Context, 'getRemainingTimeInMillis'>,
) {
  try {
    const alarm = parseAlarmEvent(event, env.ALARM_FILTER);
    logger.appendKeys({
      alarmName: alarm.alarmName,
      state: alarm.state,
      ...(alarm.contributor ? { contributorId: alarm.contributor.id } : {}),
    });
    const deps = await buildDeps();
    // A sweep is waited for within the function's time, leaving room to open and post.
    const left = context
      ? Math.floor((context.getRemainingTimeInMillis() - AFTER_SWEEP_MS) / 1000)
      : SWEEP_WAIT_SECONDS;
    if (alarm.clusterOnly && left < SWEEP_WAIT_SECONDS) {
      logger.warn('the function has less time than a sweep may need: raise its timeout', {
        waitSeconds: Math.max(0, left),
        needSeconds: SWEEP_WAIT_SECONDS + AFTER_SWEEP_MS / 1000,
      });
    }
    const outcome = await handleAlarm(deps, alarm, {
      waitSeconds: Math.max(0, Math.min(SWEEP_WAIT_SECONDS, left)),
    });
    logger.info('alarm handled', { outcome });
    return outcome;
  } catch (error) {
    if (isNotHandled(error)) {
      logger.warn('alarm not handled', { code: error.code, reason: error.message });
      return { kind: 'ignored', reason: error.message, code: error.code };
    }
    logger.error('alarm failed', { error: error as Error });
    throw error;
  } finally {
    flushMetrics();
  }
}
