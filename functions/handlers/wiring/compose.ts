/**
 * A handler's deps from its manifest (handlers/manifests.ts): `wire` parses, at cold start, exactly
 * the variables the manifest's ports and entry name, and composes exactly the ports it lists, from
 * factories the handler imports itself. Taking the factories from the handler (instead of one map
 * of every factory here) keeps each bundle to the SDK clients its ports need; the types, and a check
 * at load, hold the factories to the manifest's ports, no more and no fewer.
 */
import type { HandlerName } from '../../app/contract.js';
import type { AppDeps } from '../../app/deps.js';
import { NodemedicError } from '../../core/errors.js';
import { type EnvNameOf, handlerEnv, MANIFESTS, type Port, type PortsOf } from '../manifests.js';
import { assemble } from './deps.js';
import { type Env, loadEnv, type PortEnv } from './env.js';

/** What each port's factory gives. */
interface PortValues {
  readonly store: AppDeps['store'];
  readonly runner: AppDeps['runner'];
  readonly inventory: AppDeps['inventory'];
  readonly chat: AppDeps['chat'];
  readonly workflow: AppDeps['workflow'];
  readonly alarms: NonNullable<AppDeps['alarms']>;
  readonly contributors: NonNullable<AppDeps['contributors']>;
  /** Undefined when the stack does not page. */
  readonly pager: AppDeps['pager'];
}

/** Builds port `P` from the variables it reads. */
type PortFactory<P extends Port> = (env: PortEnv<P>) => PortValues[P] | Promise<PortValues[P]>;

/** One factory per port handler `N`'s manifest lists. */
type Factories<N extends HandlerName> = { readonly [P in PortsOf<N>]: PortFactory<P> };

/** A handler's parsed configuration, and its deps (built on demand: the first event's). */
export interface Wired<N extends HandlerName> {
  readonly env: Pick<Env, EnvNameOf<N>>;
  readonly deps: () => Promise<AppDeps>;
}

/**
 * Parse handler `name`'s configuration (a bad value fails the cold start with the variable named)
 * and return how to build its deps. Factories that are not exactly the manifest's ports are a
 * wiring error, thrown at load.
 */
export function wire<N extends HandlerName>(name: N, factories: Factories<N>): Wired<N> {
  const ports: readonly Port[] = MANIFESTS[name].ports;
  const given = Object.keys(factories);
  if ([...ports].sort().join() !== [...given].sort().join()) {
    throw new NodemedicError(
      'WIRING_INVALID',
      `${name}: composes ${given.join(', ')}, but its manifest lists ${ports.join(', ')}`,
    );
  }
  const env = loadEnv(handlerEnv(name));
  const byPort = factories as unknown as Record<Port, (env: unknown) => unknown>;
  return {
    env: env as Pick<Env, EnvNameOf<N>>,
    deps: async () => {
      const built: Partial<Record<Port, unknown>> = {};
      for (const port of ports) built[port] = await byPort[port](env);
      return assemble(env as Parameters<typeof assemble>[0], built as Parameters<typeof assemble>[1]);
    },
  };
}
