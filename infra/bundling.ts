/**
 * How every Lambda handler is bundled, defined once: the construct (through NodejsFunction's
 * `afterBundling` hook, see `bundlingOptions` in nodemedic.ts), bench/bundles.ts and the tests all
 * call {@link bundleHandler}. Two things NodejsFunction's esbuild command line cannot do are done
 * here, because they need an esbuild plugin:
 *
 * - **AWS SDK schemas made tree-shakeable.** Each SDK client's `schemas_0.js` declares every shape
 *   of the service as `export var X$ = [..., { [_xN]: _name }]`. A computed key is a possible side
 *   effect to esbuild, so every shape stayed in every bundle: `@aws-sdk/client-ec2` alone was
 *   550 KiB of each bundle that touched EC2. The plugin writes those keys as the string literals
 *   the constants hold (the same object, key for key), and esbuild drops the unused shapes.
 * - **Modeled SDK errors left unregistered, for the JSON protocols.** The same file imports every
 *   modeled error class of the service and registers each one, a side effect that keeps all of
 *   them in the bundle (SSM's 140 classes are 39 KiB of the alarm bundle). nodemedic tells SDK
 *   errors apart by name only (`errorName` in functions/adapters/aws/sdk-errors.ts). Over awsJson1_0
 *   and awsJson1_1 the error code on the wire (`__type`) is the error's shape name, and an
 *   unregistered code becomes the service's base exception with that name, its `$fault`,
 *   `$metadata` and the response's fields copied on
 *   (`ProtocolLib.getErrorSchemaOrThrowBaseException` in @aws-sdk/core): the same name. Not so over
 *   awsQuery (Auto Scaling) or a query-compatible JSON service (CloudWatch): their codes differ
 *   from their shape names (`ScalingActivityInProgress` for `ScalingActivityInProgressFault`),
 *   and only the registry turns one into the other. So the plugin drops the per-error
 *   registrations and their import only for a client whose runtime config uses a JSON protocol and
 *   is not query-compatible; the base exception stays registered. What is lost:
 *   `instanceof <ModeledError>`, which test/infra/bundling.test.ts forbids in our sources, and the
 *   SDK's own retry of DynamoDB's ReplicatedWriteConflictException (the one modeled error of these
 *   clients with a retryable trait, raised only by multi-Region strongly consistent global tables,
 *   which the stack does not create).
 * - **Bolt's unused receivers left out.** Bolt's index loads its Express and Socket Mode receivers
 *   (express, raw-body with iconv-lite, @slack/socket-mode with ws): about 1 MiB the Lambda never
 *   runs, since the Slack function uses only `AwsLambdaReceiver`. Those packages become a stub that
 *   throws if anything ever calls it.
 *
 *   node --import tsx infra/bundling.ts <handler> <outfile> [--sdk-external]
 */
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { BUNDLE_BANNER, BUNDLE_TARGET } from './bundle-options.js';

const REPO_ROOT = resolve(import.meta.dirname, '..');

/** Packages only Bolt's Express, HTTP and Socket Mode receivers load; nodemedic uses AwsLambdaReceiver. */
export const LEFT_OUT_PACKAGES = ['express', 'raw-body', '@slack/socket-mode'] as const;

const SCHEMA_FILE = /[\\/]@aws-sdk[\\/]client-[^\\/]+[\\/]dist-es[\\/]schemas[\\/]schemas_\d+\.js$/;

/**
 * Rewrite `[_name]:` keys whose `_name` is a top-level string constant of the same file into the
 * literal, so that esbuild can tell the shape declarations are pure and drop the unused ones.
 * Exported for the test that checks the rewritten module equals the original.
 */
export function inlineSchemaKeys(source: string): string {
  const constants = new Map<string, string>();
  for (const m of source.matchAll(/^const (_\w+) = ("(?:[^"\\\n]|\\.)*");$/gm)) constants.set(m[1]!, m[2]!);
  return source.replace(/\[(_\w+)\]:/g, (key, name: string) => {
    const literal = constants.get(name);
    return literal === undefined ? key : `${literal}:`;
  });
}

const ERRORS_IMPORT = /^import \{([^}]*)\} from "\.\.\/models\/errors";\n/m;

/**
 * Remove a client schema module's import of its modeled error classes and the registration of
 * each (`n0_registry.registerError(X$, X);`), leaving the error shapes and the registration of the
 * service's base exception. Throws, naming the file and the class, when a class is still referred
 * to afterwards: the SDK's layout changed and the rewrite must be looked at again. Exported for
 * its tests.
 */
export function dropModeledErrors(source: string, file = 'schemas_0.js'): string {
  const imported = ERRORS_IMPORT.exec(source);
  if (!imported) return source;
  const names = imported[1]!
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  let out = source.replace(ERRORS_IMPORT, '');
  for (const name of names) {
    if (!/^\w+$/.test(name))
      throw new Error(`bundling: ${file} imports ${JSON.stringify(name)} from its errors module`);
    out = out.replace(new RegExp(`^\\w+_registry\\.registerError\\(${name}\\$, ${name}\\);\\n`, 'm'), '');
    if (new RegExp(`(?<![\\w"'\`$])${name}(?![\\w"'\`$])`).test(out))
      throw new Error(`bundling: ${file} still refers to ${name} once its registration is dropped`);
  }
  return out;
}

/**
 * Whether a client's errors keep their names without the registry: its runtime config (the
 * `runtimeConfig.shared.js` of its dist-es, beside `schemas/`) speaks awsJson1_0 or awsJson1_1 and
 * is not query-compatible, so each error's code on the wire is its shape name. Exported for its
 * tests.
 */
export function errorCodesAreShapeNames(runtimeConfigShared: string): boolean {
  return (
    /\bAwsJson1_[01]Protocol\b/.test(runtimeConfigShared) && !/awsQueryCompatible/.test(runtimeConfigShared)
  );
}

/** The two SDK schema rewrites above, as an esbuild plugin. */
export const slimSdkSchemas: Plugin = {
  name: 'nodemedic-slim-sdk-schemas',
  setup(b) {
    b.onLoad({ filter: SCHEMA_FILE }, async (args) => {
      const keys = inlineSchemaKeys(await readFile(args.path, 'utf8'));
      const shared = await readFile(join(dirname(args.path), '..', 'runtimeConfig.shared.js'), 'utf8');
      return {
        contents: errorCodesAreShapeNames(shared) ? dropModeledErrors(keys, args.path) : keys,
        loader: 'js',
      };
    });
  },
};

const leaveOutReceivers: Plugin = {
  name: 'nodemedic-leave-out-receivers',
  setup(b) {
    const filter = new RegExp(`^(${LEFT_OUT_PACKAGES.map((p) => p.replace(/[/.]/g, '\\$&')).join('|')})$`);
    b.onResolve({ filter }, (args) => ({ path: args.path, namespace: 'nodemedic-left-out' }));
    b.onLoad({ filter: /.*/, namespace: 'nodemedic-left-out' }, (args) => ({
      // Loading is harmless (Bolt's index requires it at start); any use is a loud error.
      contents: `const fail = () => { throw new Error(${JSON.stringify(
        `${args.path} is left out of nodemedic's Lambda bundle: only Bolt's AwsLambdaReceiver is supported`,
      )}); };
module.exports = new Proxy(fail, { get: (_t, key) => (key === '__esModule' ? false : fail) });`,
      loader: 'js',
    }));
  },
};

/** Options of {@link bundleHandler}. */
export interface BundleOptions {
  /** Bundle the AWS SDK (what the stack deploys by default) or leave `@aws-sdk/*` to the runtime. */
  readonly bundleAwsSdk: boolean;
}

/** Bundle `functions/handlers/<name>.ts` into one minified ESM file at `outfile`. */
export async function bundleHandler(name: string, outfile: string, options: BundleOptions): Promise<void> {
  if (!/^[a-z][a-z-]*$/.test(name))
    throw new Error(`bundleHandler: ${JSON.stringify(name)} is not a handler name`);
  await build({
    entryPoints: [join(REPO_ROOT, 'functions', 'handlers', `${name}.ts`)],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: BUNDLE_TARGET,
    minify: true,
    sourcemap: false,
    mainFields: ['module', 'main'],
    external: options.bundleAwsSdk ? [] : ['@aws-sdk/*'],
    banner: { js: BUNDLE_BANNER },
    plugins: [slimSdkSchemas, leaveOutReceivers],
    logLevel: 'error',
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [name, outfile, flag] = process.argv.slice(2);
  if (!name || !outfile || (flag !== undefined && flag !== '--sdk-external')) {
    console.error('usage: node --import tsx infra/bundling.ts <handler> <outfile> [--sdk-external]');
    process.exit(2);
  }
  await bundleHandler(name, resolve(outfile), { bundleAwsSdk: flag === undefined });
}
