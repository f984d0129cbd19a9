import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkLayers } from '../../scripts/check-layers.js';

const ROOT = join(import.meta.dirname, '..', '..');

/** Messages of the violations a single file produces. */
const check = (file: string, text: string) => checkLayers({ [file]: text }).map((v) => v.message);

describe('layer rules', () => {
  it.each([
    [
      'core importing an adapter',
      'functions/core/x.ts',
      "import { a } from '../adapters/aws/ssm-runner.js';",
      /core imports adapters/,
    ],
    [
      'core importing app',
      'functions/core/render/x.ts',
      "import type { AppDeps } from '../../app/deps.js';",
      /core imports app/,
    ],
    [
      'core importing a node built-in',
      'functions/core/x.ts',
      "import { readFileSync } from 'node:fs';",
      /package node:fs/,
    ],
    [
      'core importing the AWS SDK',
      'functions/core/x.ts',
      "import { SSMClient } from '@aws-sdk/client-ssm';",
      /package @aws-sdk/,
    ],
    [
      'core importing Slack at run time',
      'functions/core/x.ts',
      "import { App } from '@slack/bolt';",
      /package @slack\/bolt/,
    ],
    [
      'core reading the environment',
      'functions/core/x.ts',
      'export const t = process.env.TABLE_NAME;',
      /reads the global process/,
    ],
    [
      'app importing a handler',
      'functions/app/x.ts',
      "export { logger } from '../handlers/runtime.js';",
      /app imports handlers/,
    ],
    [
      'app requiring a package',
      'functions/app/x.ts',
      "const m = require('@aws-sdk/client-sfn');",
      /package @aws-sdk\/client-sfn/,
    ],
    [
      'app importing infra dynamically',
      'functions/app/x.ts',
      "await import('../../infra/stack.js');",
      /app imports infra/,
    ],
    [
      'an adapter importing the Slack app',
      'functions/adapters/x.ts',
      "import '../slack/app.js';",
      /adapters imports slack/,
    ],
    [
      'a handler importing the local mode',
      'functions/handlers/x.ts',
      "import { x } from '../local/compose.js';",
      /handlers imports local/,
    ],
    [
      'the Slack app importing a handler',
      'functions/slack/x.ts',
      "import { logger } from '../handlers/runtime.js';",
      /slack imports handlers/,
    ],
    [
      'the Slack app importing the Web API adapter (it takes the Chat port)',
      'functions/slack/listeners/x.ts',
      "import { WebApiChat } from '../../adapters/slack/web-chat.js';",
      /slack imports adapters/,
    ],
    [
      'core importing Block Kit types as a value',
      'functions/core/render/x.ts',
      "import { KnownBlock } from '@slack/types';",
      /package @slack\/types/,
    ],
    [
      'the CLI importing the local mode',
      'functions/cli/x.ts',
      "import { x } from '../local/demo.js';",
      /cli imports local/,
    ],
    [
      'the local mode importing infra beyond the workflow definition',
      'functions/local/x.ts',
      "import { NodeMedic } from '../../infra/nodemedic.js';",
      /local imports infra/,
    ],
    [
      'infra importing an adapter',
      'infra/x.ts',
      "import { x } from '../functions/adapters/aws/ssm-runner.js';",
      /infra imports adapters/,
    ],
    [
      'infra importing the AWS SDK',
      'infra/x.ts',
      "import { SSMClient } from '@aws-sdk/client-ssm';",
      /runtime package/,
    ],
    [
      'a type import from a forbidden layer',
      'functions/core/x.ts',
      "import type { X } from '../handlers/runtime.js';",
      /core imports handlers/,
    ],
    [
      'infra importing a handler beside the manifests',
      'infra/x.ts',
      "import { deps } from '../functions/handlers/wiring/compose.js';",
      /infra imports handlers/,
    ],
    [
      'the manifests importing a handler (and the AWS SDK through it)',
      'functions/handlers/manifest/alarm.ts',
      "import { makeStore } from '../wiring/store.js';",
      /manifests imports handlers/,
    ],
    [
      'the manifests importing a package',
      'functions/handlers/manifest/alarm.ts',
      "import { SSMClient } from '@aws-sdk/client-ssm';",
      /manifests imports the package @aws-sdk\/client-ssm/,
    ],
    [
      'the manifests reading the environment',
      'functions/handlers/manifest/alarm.ts',
      'export const TABLE = process.env.TABLE_NAME;',
      /manifests reads the global process/,
    ],
  ])('refuses %s', (_what, file, text, expected) => {
    expect(check(file, text)).toEqual([expect.stringMatching(expected)]);
  });

  it.each([
    ['core importing core', 'functions/core/render/x.ts', "import { a } from '../model.js';"],
    [
      'core importing Block Kit types only',
      'functions/core/x.ts',
      "import type { KnownBlock } from '@slack/types';",
    ],
    ['core naming a property process', 'functions/core/x.ts', 'export const o = { process: 1 }; o.process;'],
    ['app importing core', 'functions/app/x.ts', "import { a } from '../core/model.js';"],
    [
      'a handler importing every lower layer',
      'functions/handlers/x.ts',
      "import '../slack/app.js'; import '../adapters/aws/x.js'; import '@aws-sdk/client-ssm';",
    ],
    [
      'infra importing the contract',
      'infra/x.ts',
      "import { HANDLERS } from '../functions/app/contract.js';",
    ],
    [
      'infra importing the handler manifests',
      'infra/x.ts',
      "import { MANIFESTS } from '../functions/handlers/manifest/index.js';",
    ],
    [
      'a handler importing the manifests',
      'functions/handlers/wiring/x.ts',
      "import { MANIFESTS } from '../manifest/index.js';",
    ],
    [
      'the manifests importing the contract',
      'functions/handlers/manifest/alarm.ts',
      "import type { HandlerName } from '../../app/contract.js';",
    ],
    [
      'the local mode building the deployed definition',
      'functions/local/definition.ts',
      "import { NodemedicWorkflow } from '../../infra/workflow.js';",
    ],
    ['a test importing anything', 'test/x.test.ts', "import '../functions/local/demo.js'; process.env.X;"],
  ])('allows %s', (_what, file, text) => {
    expect(check(file, text)).toEqual([]);
  });

  it('names the file and line of a violation', () => {
    expect(checkLayers({ 'functions/core/x.ts': "\n\nimport 'node:fs';" })).toEqual([
      { file: 'functions/core/x.ts', line: 3, message: expect.stringContaining('node:fs') },
    ]);
  });
});

describe('npx tsx scripts/check-layers.ts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nodemedic-layers-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const run = (root: string) =>
    spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'check-layers.ts'), root], {
      encoding: 'utf8',
    });

  it('passes on this repository and fails on a copy with one wrong import', () => {
    expect(run(ROOT)).toMatchObject({ status: 0, stderr: '' });
    cpSync(join(ROOT, 'functions'), join(dir, 'functions'), { recursive: true });
    cpSync(join(ROOT, 'infra'), join(dir, 'infra'), { recursive: true });
    const file = join(dir, 'functions', 'core', 'policy.ts');
    writeFileSync(file, `import { logger } from '../handlers/runtime.js';\n${readFileSync(file, 'utf8')}`);
    const broken = run(dir);
    expect(broken.status).toBe(1);
    expect(broken.stderr).toContain('functions/core/policy.ts:1: core imports handlers');
  });
});
