/**
 * A handler's deps from its manifest's wiring (handlers/manifest/<handler>.ts): `wire` parses, at
 * cold start, exactly the variables the wiring's ports and its own list name, and composes exactly
 * its ports from factories the handler imports itself. Taking the factories from the handler
 * (instead of one map of every factory here) keeps each bundle to the SDK clients its ports need;
 * the types hold the factories to the wiring's ports, no more and no fewer.
 */
import type { AppDeps } from '../../app/deps.js';
import { type EnvNameOf, handlerEnv, type Port, type Wiring } from '../manifest/types.js';
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
  readonly readiness: NonNullable<AppDeps['readiness']>;
  readonly sweeper: NonNullable<AppDeps['sweeper']>;
  readonly taskTokens: AppDeps['workflow'];
  /** Undefined when the stack does not page. */
  readonly pager: AppDeps['pager'];
}

/** Builds port `P` from the variables it reads. */
type PortFactory<P extends Port> = (env: PortEnv<P>) => PortValues[P] | Promise<PortValues[P]>;

/** A handler's parsed configuration, and its deps (built once, when first asked for; again after a failure). */
interface Wired<W extends Wiring> {
  readonly env: Pick<Env, EnvNameOf<W>>;
  readonly deps: () => Promise<AppDeps>;
}

/**
 * Parse the configuration `wiring` names (a bad value fails the cold start with the variable
 * named) and return how to build the deps from one factory per port it lists.
 */
export function wire<const W extends Wiring>(
  wiring: W,
  factories: { readonly [P in W['ports'][number]]: PortFactory<P> },
): Wired<W> {
  const env = loadEnv(handlerEnv(wiring));
  const build = async (): Promise<AppDeps> => {
    const ports: Partial<Record<Port, unknown>> = {};
    for (const port of wiring.ports) {
      ports[port] = await (factories as unknown as Record<Port, (env: unknown) => unknown>)[port](env);
    }
    return assemble(env as Parameters<typeof assemble>[0], ports as Parameters<typeof assemble>[1]);
  };
  let built: Promise<AppDeps> | null = null;
  return {
    env,
    deps: () => {
      built ??= build().catch((error: unknown) => {
        built = null; // a failed cold start (e.g. secret not readable) is retried on the next call
        throw error;
      });
      return built;
    },
  };
}
