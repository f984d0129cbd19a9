import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const KNIP = join(ROOT, 'node_modules', 'knip', 'bin', 'knip.js');

/** `npm run -s check:unused`'s two knip passes, in `cwd`. */
function unused(cwd: string) {
  const runs = [
    [KNIP, '--treat-config-hints-as-errors'],
    [KNIP, '--production', '--dependencies', '--treat-config-hints-as-errors'],
  ].map((args) => spawnSync(process.execPath, args, { cwd, encoding: 'utf8' }));
  return { status: Math.max(...runs.map((r) => r.status ?? 1)), out: runs.map((r) => r.stdout).join('') };
}

describe('the unused-code check (knip)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nodemedic-knip-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  for (const entry of ['functions', 'infra', 'bench', 'scripts', 'test']) {
    cpSync(join(ROOT, entry), join(dir, entry), { recursive: true });
  }
  for (const file of ['package.json', 'knip.json', 'tsconfig.json', 'vitest.config.ts']) {
    cpSync(join(ROOT, file), join(dir, file));
  }
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const edit = (path: string, change: (text: string) => string) =>
    writeFileSync(join(dir, path), change(readFileSync(join(dir, path), 'utf8')));

  it('finds nothing in a faithful copy of the repository', () => {
    expect(unused(dir)).toEqual({ status: 0, out: '' });
  });

  it('reports an export nobody imports', () => {
    edit(
      'functions/core/policy.ts',
      (t) => `${t}\n/** Nobody calls this. */\nexport const DEAD_WEIGHT = 1;\n`,
    );
    const run = unused(dir);
    expect(run.status).toBe(1);
    expect(run.out).toMatch(/Unused exports[\s\S]*DEAD_WEIGHT\s+functions\/core\/policy\.ts/);
  });

  it('reports a production dependency only a test uses', () => {
    edit('package.json', (t) => {
      const pkg = JSON.parse(t);
      pkg.dependencies['aws-sdk-client-mock'] = pkg.devDependencies['aws-sdk-client-mock'];
      delete pkg.devDependencies['aws-sdk-client-mock'];
      return JSON.stringify(pkg, null, 2);
    });
    const run = unused(dir);
    expect(run.status).toBe(1);
    expect(run.out).toMatch(/Unused dependencies[\s\S]*aws-sdk-client-mock/);
  });
});
