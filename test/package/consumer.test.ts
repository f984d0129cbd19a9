/**
 * nodemedic as a package (issue 13): `npm pack` yields a tarball that a platform team's own CDK app
 * installs and synthesizes, beside its own resources, with cdk-nag on, and with neither this
 * repository, nor TypeScript sources, nor esbuild. Everything runs offline: the tarball plus the
 * packages `npm ci` already put in the npm cache. The consumer app is plain JavaScript, as the
 * smallest app a user could write.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HANDLERS } from '../../functions/app/contract.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
  bin: Record<string, string>;
  devDependencies: Record<string, string>;
};
const work = mkdtempSync(join(tmpdir(), 'nodemedic-consumer-'));
const app = join(work, 'app');
const outdir = join(app, 'cdk.out');

/** The consumer's whole CDK app: its own topic and queue, and nodemedic beside them. */
const APP = `import { App, Stack, Validations } from 'aws-cdk-lib';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { NodeMedic } from 'nodemedic';

const app = new App({ outdir: process.argv[2] });
const stack = new Stack(app, 'Platform');
new Topic(stack, 'PlatformAlerts', { enforceSSL: true });
new Queue(stack, 'PlatformJobs', { enforceSSL: true, encryption: QueueEncryption.SQS_MANAGED });
const medic = new NodeMedic(stack, 'NodeMedic', {
  slackChannelId: 'C0123456789',
  clusterNames: ['prod'],
  onCallUserGroupId: 'S0123456789',
});
Validations.of(stack.node.findChild('PlatformAlerts')).acknowledge({
  id: 'AwsSolutions-SNS2',
  reason: "The consumer's own topic carries no sensitive data.",
});
Validations.of(stack.node.findChild('PlatformJobs')).acknowledge({
  id: 'AwsSolutions-SQS3',
  reason: "The consumer's own queue is a scratch queue in this test.",
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
process.stdout.write(JSON.stringify({ functions: Object.keys(medic.functions) }));
`;

interface LockEntry {
  version?: string;
  resolved?: string;
  integrity?: string;
  inBundle?: boolean;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  optionalDependencies?: Record<string, string>;
  [key: string]: unknown;
}

/**
 * The consumer's lockfile, cut from this repository's: the packages its dependencies need, at the
 * versions and integrity this repository tested, with registry addresses (npm records none here).
 * `npm ci --offline` then takes every tarball from the cache by its integrity and needs no
 * registry metadata, which an offline cache does not hold.
 */
function consumerLock(roots: Record<string, string>, tarball: { name: string; integrity: string }): unknown {
  const repo = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, LockEntry>;
  };
  const packages: Record<string, LockEntry> = {};
  const resolve = (from: string, name: string): string => {
    for (let at = from; ; at = at.slice(0, Math.max(0, at.lastIndexOf('/node_modules/')))) {
      const candidate = `${at ? `${at}/` : ''}node_modules/${name}`;
      if (repo.packages[candidate]) return candidate;
      if (!at) throw new Error(`the lockfile holds no ${name} reachable from ${from || 'the root'}`);
    }
  };
  const visit = (path: string) => {
    if (packages[path]) return;
    const entry = repo.packages[path]!;
    const name = path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
    const { dev: _dev, devOptional: _devOptional, ...kept } = entry;
    packages[path] = entry.inBundle
      ? kept
      : {
          ...kept,
          resolved: `https://registry.npmjs.org/${name}/-/${name.split('/').pop()}-${entry.version}.tgz`,
        };
    const needed = {
      ...entry.dependencies,
      ...Object.fromEntries(
        Object.entries(entry.peerDependencies ?? {}).filter(
          ([n]) => !entry.peerDependenciesMeta?.[n]?.optional,
        ),
      ),
    };
    for (const dep of Object.keys(needed)) visit(resolve(path, dep));
    for (const dep of Object.keys(entry.optionalDependencies ?? {})) {
      try {
        visit(resolve(path, dep));
      } catch {
        // An optional dependency for another platform: not in the lockfile, not needed.
      }
    }
  };
  const self = repo.packages['']!;
  for (const dep of [
    ...Object.keys(self.dependencies ?? {}),
    ...Object.keys(roots).filter((r) => r !== 'nodemedic'),
  ])
    visit(resolve('', dep));
  packages['node_modules/nodemedic'] = {
    version: pkg.version,
    resolved: `file:../${tarball.name}`,
    integrity: tarball.integrity,
    license: 'Apache-2.0',
    bin: pkg.bin,
    dependencies: self.dependencies ?? {},
    peerDependencies: (self as { peerDependencies?: Record<string, string> }).peerDependencies ?? {},
  };
  return {
    name: 'platform-infra',
    lockfileVersion: 3,
    requires: true,
    packages: { '': { name: 'platform-infra', dependencies: roots }, ...packages },
  };
}

beforeAll(() => {
  execFileSync('npm', ['pack', '--pack-destination', work], { cwd: ROOT, stdio: 'pipe', timeout: 600_000 });
  const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'));
  if (!tarball) throw new Error('npm pack wrote no tarball');
  const integrity = `sha512-${createHash('sha512')
    .update(readFileSync(join(work, tarball)))
    .digest('base64')}`;
  mkdirSync(app);
  const roots = {
    nodemedic: `file:../${tarball}`,
    'aws-cdk-lib': pkg.devDependencies['aws-cdk-lib']!,
    constructs: pkg.devDependencies.constructs!,
    'cdk-nag': pkg.devDependencies['cdk-nag']!,
  };
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify({ name: 'platform-infra', private: true, type: 'module', dependencies: roots }),
  );
  writeFileSync(
    join(app, 'package-lock.json'),
    JSON.stringify(consumerLock(roots, { name: tarball, integrity }), null, 2),
  );
  writeFileSync(join(app, 'app.mjs'), APP);
  execFileSync('npm', ['ci', '--offline', '--no-audit', '--no-fund', '--ignore-scripts'], {
    cwd: app,
    stdio: 'pipe',
    timeout: 600_000,
  });
}, 900_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the nodemedic package in a consumer CDK app', () => {
  it('installs without this repository, TypeScript sources or esbuild', () => {
    const installed = join(app, 'node_modules', 'nodemedic');
    const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8'));
    expect(manifest.version).toBe(pkg.version);
    expect(manifest.peerDependencies).toMatchObject({
      'aws-cdk-lib': expect.any(String),
      constructs: expect.any(String),
    });
    expect(existsSync(join(installed, 'dist', 'infra', 'nodemedic.d.ts'))).toBe(true);
    expect(existsSync(join(installed, 'functions'))).toBe(false);
    expect(existsSync(join(app, 'node_modules', 'esbuild'))).toBe(false);
    expect(existsSync(join(app, 'node_modules', 'typescript'))).toBe(false);
  });

  it('synthesizes beside the consumer resources, cdk-nag clean, with the prebuilt bundles', () => {
    const run = spawnSync(process.execPath, ['app.mjs', outdir], {
      cwd: app,
      encoding: 'utf8',
      timeout: 300_000,
    });
    expect(run.stderr).not.toMatch(/Error|AwsSolutions-/);
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout).functions).toHaveLength(Object.keys(HANDLERS).length);
    const template = JSON.parse(readFileSync(join(outdir, 'Platform.template.json'), 'utf8')) as {
      Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
    };
    const types = Object.values(template.Resources).map((r) => r.Type);
    expect(types).toContain('AWS::SNS::Topic');
    expect(types).toContain('AWS::SQS::Queue');
    expect(types).toContain('AWS::StepFunctions::StateMachine');
    const lambdas = Object.values(template.Resources).filter(
      (r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Handler === 'index.handler',
    );
    expect(lambdas).toHaveLength(Object.keys(HANDLERS).length);
    // Each function's asset is a copy of the package's prebuilt bundle, byte for byte.
    const assets = readdirSync(outdir).filter((d) => d.startsWith('asset.'));
    const prebuilt = join(app, 'node_modules', 'nodemedic', 'dist', 'lambda', 'slack', 'index.mjs');
    const slackBundle = readFileSync(prebuilt);
    expect(
      assets.some(
        (a) =>
          existsSync(join(outdir, a, 'index.mjs')) &&
          readFileSync(join(outdir, a, 'index.mjs')).equals(slackBundle),
      ),
    ).toBe(true);
  });

  it("runs the package's CLI through its bin", () => {
    const help = spawnSync(join(app, 'node_modules', '.bin', 'nodemedic'), ['--help'], {
      cwd: app,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(help.error).toBeUndefined();
    expect(help.stderr).toBe('');
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('diagnose');
    expect(help.stdout).toContain('fix');
  });
});
