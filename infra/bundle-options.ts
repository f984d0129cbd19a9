/**
 * The esbuild settings the construct passes to CDK's bundling and infra/bundling.ts uses too. Kept
 * apart from infra/bundling.ts, which imports esbuild: the construct imports only these constants,
 * so an app that installs the npm package (prebuilt bundles, no esbuild) can load it.
 */

/** The Lambda runtime the bundles target (nodejs24.x runs them; Node 22 syntax is enough). */
export const BUNDLE_TARGET = 'node22';

/** ESM output needs a real `require` for the CommonJS dependencies (Bolt, undici...) that call it. */
export const BUNDLE_BANNER =
  "import{createRequire as __nmCreateRequire}from'node:module';const require=__nmCreateRequire(import.meta.url);";
