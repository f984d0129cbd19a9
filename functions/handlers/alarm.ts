/**
 * EventBridge target for "CloudWatch Alarm State Change": parse the event, resolve the node, open
 * (or join) its incident and start the workflow; an OK closes the incident as recovered.
 * An event nodemedic cannot use is logged with its reason and acknowledged, not retried: a
 * redelivery would fail the same way. Dependency failures are thrown, so EventBridge's retry
 * policy and the dead-letter queue keep the event.
 */
import type { EventBridgeEvent } from 'aws-lambda';
import { handleAlarm } from '../app/incidents.js';
import { type AlarmFilter, parseAlarmEvent } from '../core/alarm.js';
import { InvalidInputError, NodeNotFoundError } from '../core/errors.js';
import { flushMetrics, jsonEnv, logger } from './runtime.js';
import { makeChat } from './wiring/chat.js';
import { assemble } from './wiring/deps.js';
import { makeInventory } from './wiring/inventory.js';
import { makeStore } from './wiring/store.js';
import { makeWorkflow } from './wiring/workflow.js';

let deps: ReturnType<typeof assemble> | null = null;
let filter: AlarmFilter | null = null;

export async function handler(event: EventBridgeEvent<string, unknown>) {
  try {
    // Parsed once per container; a bad ALARM_FILTER is thrown (CONFIG_INVALID) on every event.
    filter ??= jsonEnv<AlarmFilter>('ALARM_FILTER', {});
    const alarm = parseAlarmEvent(event, filter);
    logger.appendKeys({ alarmName: alarm.alarmName, state: alarm.state });
    deps ??= assemble({
      store: makeStore(),
      inventory: makeInventory(),
      chat: await makeChat(),
      workflow: makeWorkflow(),
    });
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
