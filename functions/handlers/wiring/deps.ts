/**
 * Assemble `AppDeps` for one Lambda function from the adapters it composes. Ports the function
 * does not use stay `unavailable`, so a step that reaches for one fails with a wiring error
 * instead of silently calling AWS with permissions it was never granted.
 */
import type { AppDeps } from '../../app/deps.js';
import { countingSlackErrors } from '../../app/metrics.js';
import type { DEPS_ENV } from '../manifest/types.js';
import { logger, metrics, unavailable } from '../runtime.js';
import type { Env } from './env.js';

/** The ports a function composes itself; the rest come from configuration. */
type Ports = Partial<
  Pick<
    AppDeps,
    | 'store'
    | 'runner'
    | 'inventory'
    | 'chat'
    | 'workflow'
    | 'alarms'
    | 'contributors'
    | 'readiness'
    | 'sweeper'
    | 'pager'
  > & { readonly taskTokens: AppDeps['workflow'] }
>;

/**
 * The deps of one function: its ports, and the configuration every use case reads. VERSION_POLICY
 * is read by the functions that analyze (analyze, evaluate) only.
 */
export function assemble(
  env: Pick<Env, (typeof DEPS_ENV)[number]> & Partial<Pick<Env, 'VERSION_POLICY'>>,
  ports: Ports,
): AppDeps {
  const { store, runner, inventory, chat, workflow, taskTokens, ...optional } = ports;
  return {
    store: store ?? unavailable('store'),
    runner: runner ?? unavailable('runner'),
    inventory: inventory ?? unavailable('inventory'),
    chat: chat ? countingSlackErrors(chat, metrics) : unavailable('chat'),
    workflow: workflow ?? taskTokens ?? unavailable('workflow'),
    // alarms, contributors, readiness, sweeper, pager: absent, or undefined, when the function does not compose them.
    ...optional,
    policy: env.SAFETY_POLICY,
    // Overrides only: the analyzer fills the rest from its default version policy.
    analyzeOptions: { versionPolicy: env.VERSION_POLICY },
    channel: env.SLACK_CHANNEL_ID,
    onCallUserGroupId: env.ONCALL_USERGROUP_ID ?? null,
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
