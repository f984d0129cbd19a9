/**
 * Build what `npm pack` ships (`dist/`), so a consumer's CDK app synthesizes the construct with
 * neither this repository, nor TypeScript sources, nor esbuild:
 * - the construct, the CLI and the core they import, compiled by tsc with declarations
 *   (tsconfig.build.json);
 * - the scripts the SSM documents are built from, byte for byte (functions/scripts/);
 * - one prebuilt Lambda bundle per handler (dist/lambda/<handler>/index.mjs), taken from a real
 *   synth of the construct in this repository: the very bundles `cdk deploy` from a clone uploads,
 *   built once by CDK's own NodejsFunction bundling, not by a second esbuild configuration.
 *
 *   npm run -s build:package
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { HANDLERS, type HandlerName } from '../functions/app/contract.js';
import { NodeMedic } from '../infra/nodemedic.js';

const ROOT = join(import.meta.dirname, '..');
const DIST = join(ROOT, 'dist');

function step(what: string, fn: () => void): void {
  const started = Date.now();
  fn();
  process.stdout.write(`build:package: ${what} (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
}

rmSync(DIST, { recursive: true, force: true });

step('tsc: the construct, the CLI and the core, with declarations', () => {
  const tsc = spawnSync(
    process.execPath,
    [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
    {
      cwd: ROOT,
      stdio: 'inherit',
    },
  );
  if (tsc.status !== 0) throw new Error('tsc failed: see above');
});

step('the scripts the SSM documents carry', () => {
  cpSync(join(ROOT, 'functions/scripts'), join(DIST, 'functions/scripts'), {
    recursive: true,
    filter: (src) => statSync(src).isDirectory() || src.endsWith('.sh'),
  });
});

step('one Lambda bundle per handler, from a real synth of the construct', () => {
  const outdir = mkdtempSync(join(tmpdir(), 'nodemedic-package-'));
  try {
    const app = new App({ outdir });
    const stack = new Stack(app, 'Package');
    const nodemedic = new NodeMedic(stack, 'NodeMedic', {
      slackChannelId: 'C0000000000',
      clusterNames: ['package'],
    });
    app.synth();
    for (const name of Object.keys(HANDLERS) as HandlerName[]) {
      const assets = nodemedic.functions[name].node.findAll().filter((c): c is Asset => c instanceof Asset);
      if (assets.length !== 1) throw new Error(`${name}: expected one code asset, found ${assets.length}`);
      const staged = join(outdir, assets[0]!.assetPath);
      if (!existsSync(join(staged, 'index.mjs'))) throw new Error(`${name}: no index.mjs in ${staged}`);
      const target = join(DIST, 'lambda', name);
      mkdirSync(target, { recursive: true });
      cpSync(staged, target, { recursive: true });
    }
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
});

const files = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)],
  );
const all = files(DIST);
const bytes = all.reduce((sum, f) => sum + statSync(f).size, 0);
process.stdout.write(
  `build:package: ${relative(ROOT, DIST)}/ holds ${all.length} files, ${(bytes / 1024).toFixed(0)} KiB\n`,
);
