/**
 * Bundle weight and import time of each Lambda handler, bundled exactly as the stack ships it
 * (infra/bundling.ts, which the construct's afterBundling hook runs), twice: with the AWS SDK left
 * to the Lambda runtime (`@aws-sdk/*` external) and with the SDK bundled in (the default). Import
 * time is measured in a fresh `node` process per run: the cost a cold start pays before the
 * handler runs, including its configuration parse.
 *
 *   npm run -s bench:bundles                       # all handlers, 10 runs each
 *   npm run -s bench:bundles -- --runs 20 slack    # some, more runs
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { HANDLERS, type HandlerName } from '../functions/app/contract.js';
import { bundleHandler } from '../infra/bundling.js';

const ROOT = join(import.meta.dirname, '..');
// Under node_modules so that bare `@aws-sdk/*` imports of the SDK-external bundles resolve, as the
// Lambda runtime's own SDK would.
const OUT = join(ROOT, 'node_modules', '.cache', 'nodemedic-bench');

/** Environment the handlers parse at module scope (dummy values: nothing is called). */
const ENV = {
  TABLE_NAME: 'bench',
  SLACK_SECRET_ID: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:bench',
  SLACK_CHANNEL_ID: 'C0000000000',
  CLUSTER_TAG_KEY: 'eks:cluster-name',
  CLUSTER_NAMES: 'bench',
  STATE_MACHINE_ARN: 'arn:aws:states:eu-west-1:123456789012:stateMachine:bench',
  DOCUMENTS: '{"diagnose":"bench"}',
  SAFETY_POLICY: '{}',
  ALARM_FILTER: '{"namePrefixes":["nodemedic-"]}',
  AWS_REGION: 'eu-west-1',
  POWERTOOLS_SERVICE_NAME: 'nodemedic',
};

const { values, positionals } = parseArgs({
  options: { runs: { type: 'string', default: '10' } },
  allowPositionals: true,
});
const RUNS = Number(values.runs);
if (!Number.isInteger(RUNS) || RUNS < 1)
  throw new Error(`--runs must be a positive integer, got ${values.runs}`);

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

/** min / median / max of the samples, in whole milliseconds. */
function spread(samples: number[]): string {
  const s = [...samples].sort((a, b) => a - b);
  return [s[0]!, s[Math.floor(s.length / 2)]!, s[s.length - 1]!].map((x) => x.toFixed(0)).join(' / ');
}
const kib = (bytes: number) => (bytes / 1024).toFixed(1);

const names = (Object.keys(HANDLERS) as HandlerName[]).filter(
  (n) => positionals.length === 0 || positionals.includes(n),
);
rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });

const rows: string[][] = [];
for (const name of names) {
  const row: string[] = [name];
  for (const bundleAwsSdk of [false, true]) {
    const file = join(OUT, bundleAwsSdk ? 'sdk-bundled' : 'sdk-external', name, 'index.mjs');
    try {
      await bundleHandler(name, file, { bundleAwsSdk });
    } catch (error) {
      row.push('build error', (error as Error).message.split('\n')[0]!.slice(0, 60));
      continue;
    }
    row.push(kib(statSync(file).size));
    try {
      row.push(spread(Array.from({ length: RUNS }, () => importTime(file))));
    } catch (error) {
      row.push(`error: ${(error as Error).message.slice(0, 60)}`);
    }
  }
  rows.push(row);
}

const header = [
  'handler',
  'KiB (SDK external)',
  'import ms min/med/max',
  'KiB (SDK bundled)',
  'import ms min/med/max',
];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.length ?? 0)));
const line = (cells: string[]) =>
  cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
console.log(
  `node ${process.version}, infra/bundling.ts (esbuild, minified ESM), import = ${RUNS} fresh processes per bundle`,
);
console.log(line(header));
for (const row of rows) console.log(line(row));
