// biome-ignore-all lint/suspicious/noExplicitAny: synthesized CloudFormation templates are untyped JSON
/**
 * The real thing: `npx cdk synth --quiet` through cdk.json, with esbuild bundling every handler and
 * cdk-nag running as a policy-validation plugin, offline and without credentials. Each asset must
 * be one minified ESM file with no metafile and no inline source map.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HANDLERS } from '../../functions/app/contract.js';

const ROOT = join(import.meta.dirname, '..', '..');

describe('cdk synth (bundling, cdk-nag)', () => {
  it('synthesizes offline with one ESM bundle per handler and no validation errors', () => {
    const out = mkdtempSync(join(tmpdir(), 'nodemedic-cdk-out-'));
    const env = { ...process.env };
    for (const key of Object.keys(env)) if (key.startsWith('AWS_')) delete env[key];
    const run = spawnSync(
      'npx',
      [
        'cdk',
        'synth',
        '--quiet',
        '--output',
        out,
        '-c',
        'slackChannelId=C0123456789',
        '-c',
        'clusterNames=prod',
      ],
      {
        cwd: ROOT,
        env: { ...env, CDK_DISABLE_VERSION_CHECK: '1', AWS_EC2_METADATA_DISABLED: 'true' },
        encoding: 'utf8',
        timeout: 240_000,
      },
    );
    expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
    const report = join(out, 'policy-validation-report.json');
    if (existsSync(report)) expect(readFileSync(report, 'utf8')).not.toMatch(/"severity":\s*"error"/);

    const template = JSON.parse(readFileSync(join(out, 'NodeMedic.template.json'), 'utf8'));
    const functions = Object.values(template.Resources as Record<string, any>).filter(
      (r) => r.Type === 'AWS::Lambda::Function',
    );
    expect(functions).toHaveLength(Object.keys(HANDLERS).length);
    for (const fn of functions) {
      const asset = join(out, `asset.${fn.Metadata['aws:asset:path'].replace(/^asset\./, '')}`);
      const files = readdirSync(asset);
      expect(files, asset).toEqual(['index.mjs']);
      const code = readFileSync(join(asset, 'index.mjs'), 'utf8');
      expect(code.startsWith("import{createRequire as __nmCreateRequire}from'node:module'")).toBe(true);
      expect(code).not.toContain('sourceMappingURL=data:');
      expect(statSync(join(asset, 'index.mjs')).size).toBeGreaterThan(1000);
    }
  }, 300_000);
});
