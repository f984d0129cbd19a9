/**
 * Bundle weight and import time of each Lambda handler, bundled the way CDK's NodejsFunction does
 * it in infra/nodemedic.ts (same esbuild options, from `bundlingOptions`), twice: with the AWS SDK
 * left to the Lambda runtime (`@aws-sdk/*` external) and with the SDK bundled in (what the
 * stack deploys by default). Import time is measured in a fresh `node` process per run (median of 5): the cost a
 * cold start pays before the handler runs.
 *
 *   npm run -s bench:bundles            # all handlers
 *   npm run -s bench:bundles -- slack   # some
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { HANDLERS, type HandlerName } from '../functions/app/contract.js';
import { bundlingOptions } from '../infra/nodemedic.js';

const ROOT = join(import.meta.dirname, '..');
// Under node_modules so that bare `@aws-sdk/*` imports of the SDK-external bundles resolve, as the
// Lambda runtime's own SDK would.
const OUT = join(ROOT, 'node_modules', '.cache', 'nodemedic-bench');
const RUNS = 5;

/** Environment the handlers' module scope may read (dummy values: nothing is called). */
const ENV = {
  TABLE_NAME: 'bench',
  SLACK_SECRET_ID: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:bench',
  SLACK_CHANNEL_ID: 'C0000000000',
  CLUSTER_TAG_KEY: 'eks:cluster-name',
  CLUSTER_NAMES: 'bench',
  STATE_MACHINE_ARN: 'arn:aws:states:eu-west-1:123456789012:stateMachine:bench',
  DOCUMENTS: '{"diagnose":"bench"}',
  AWS_REGION: 'eu-west-1',
  POWERTOOLS_SERVICE_NAME: 'nodemedic',
};

async function bundle(name: HandlerName, bundleAwsSdk: boolean): Promise<string> {
  const options = bundlingOptions(bundleAwsSdk);
  const outfile = join(OUT, bundleAwsSdk ? 'sdk-bundled' : 'sdk-external', name, 'index.mjs');
  await build({
    entryPoints: [join(ROOT, 'functions', 'handlers', `${name}.ts`)],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: options.target ?? 'node22',
    minify: options.minify ?? false,
    sourcemap: false,
    mainFields: [...(options.mainFields ?? [])],
    external: [...(options.externalModules ?? [])],
    banner: options.banner ? { js: options.banner } : {},
    logLevel: 'error',
  });
  return outfile;
}

/** Milliseconds to import the bundle in a fresh node process; throws with node's stderr on failure. */
function importTime(file: string): number {
  const script = `const t=performance.now();await import(${JSON.stringify(pathToFileURL(file).href)});process.stdout.write(String(performance.now()-t));`;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, ...ENV },
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(run.stderr.trim().split('\n').slice(-3).join(' | '));
  return Number(run.stdout);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};
const kib = (bytes: number) => (bytes / 1024).toFixed(1);

const wanted = process.argv.slice(2);
const names = (Object.keys(HANDLERS) as HandlerName[]).filter(
  (n) => wanted.length === 0 || wanted.includes(n),
);
rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });

const rows: string[][] = [];
for (const name of names) {
  const row: string[] = [name];
  for (const bundleAwsSdk of [false, true]) {
    let file: string;
    try {
      file = await bundle(name, bundleAwsSdk);
    } catch (error) {
      row.push('build error', (error as Error).message.split('\n')[1]?.slice(0, 40) ?? '');
      continue;
    }
    row.push(kib(statSync(file).size));
    try {
      row.push(median(Array.from({ length: RUNS }, () => importTime(file))).toFixed(0));
    } catch (error) {
      row.push(`error: ${(error as Error).message.slice(0, 60)}`);
    }
  }
  rows.push(row);
}

const header = ['handler', 'KiB (SDK external)', 'import ms', 'KiB (SDK bundled)', 'import ms'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]) =>
  cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
console.log(
  `node ${process.version}, esbuild minified ESM (target node22), import = median of ${RUNS} fresh processes`,
);
console.log(line(header));
for (const row of rows) console.log(line(row));
