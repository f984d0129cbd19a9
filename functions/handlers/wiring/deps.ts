/**
 * Assemble `AppDeps` for one Lambda function from the adapters it composes. Ports the function
 * does not use stay `unavailable`, so a step that reaches for one fails with a wiring error
 * instead of silently calling AWS with permissions it was never granted.
 */
import type { AppDeps } from '../../app/deps.js';
import { countingSlackErrors } from '../../app/metrics.js';
import { jsonEnv, logger, metrics, requireEnv, safetyPolicy, unavailable } from '../runtime.js';

/** The ports a function composes itself; the rest come from configuration. */
export type Ports = Partial<Pick<AppDeps, 'store' | 'runner' | 'inventory' | 'chat' | 'workflow' | 'alarms'>>;

export function assemble(ports: Ports): AppDeps {
  const versionPolicy = jsonEnv<{ minimum?: string; knownBad?: { version: string; reason: string }[] }>(
    'VERSION_POLICY',
    {},
  );
  return {
    store: ports.store ?? unavailable('store'),
    runner: ports.runner ?? unavailable('runner'),
    inventory: ports.inventory ?? unavailable('inventory'),
    chat: ports.chat ? countingSlackErrors(ports.chat, metrics) : unavailable('chat'),
    workflow: ports.workflow ?? unavailable('workflow'),
    ...(ports.alarms ? { alarms: ports.alarms } : {}),
    policy: safetyPolicy(),
    // Overrides only: the analyzer fills the rest from its default version policy.
    analyzeOptions: { versionPolicy },
    channel: requireEnv('SLACK_CHANNEL_ID'),
    onCallUserGroupId: process.env.ONCALL_USERGROUP_ID || null,
    // In AWS the SSM documents' defaults are the node's standard paths: no overrides.
    scriptParameters: {},
    clock: () => new Date(),
    metrics,
    logger: {
      info: (message, extra) => logger.info(message, extra ?? {}),
      warn: (message, extra) => logger.warn(message, extra ?? {}),
      error: (message, extra) => logger.error(message, extra ?? {}),
    },
  };
}
