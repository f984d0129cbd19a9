/**
 * The bundles the stack ships (infra/bundling.ts): the SDK schema rewrite leaves every shape as it
 * was, and the Slack bundle, with Bolt's unused receivers left out, serves a signed Slack request.
 */

import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { signSlackRequest } from '../../functions/local/slack-standin/server.js';
import { bundleHandler, inlineSchemaKeys, LEFT_OUT_PACKAGES } from '../../infra/bundling.js';
import { bundlingOptions } from '../../infra/nodemedic.js';
import { functionUrlEvent } from '../slack/support.js';

const ROOT = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'nodemedic-bundling-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The schemas module of an SDK client, bundled whole, with or without the key rewrite. */
async function schemas(client: string, rewrite: boolean): Promise<Record<string, unknown>> {
  const outfile = join(dir, `${client}-${rewrite ? 'rewritten' : 'original'}.mjs`);
  await build({
    stdin: { contents: `export * from '@aws-sdk/${client}/dist-es/schemas/schemas_0.js';`, resolveDir: ROOT },
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    logLevel: 'error',
    plugins: rewrite
      ? [
          {
            name: 'rewrite',
            setup(b) {
              b.onLoad({ filter: /schemas_0\.js$/ }, (args) => ({
                contents: inlineSchemaKeys(readFileSync(args.path, 'utf8')),
                loader: 'js',
              }));
            },
          },
        ]
      : [],
  });
  return import(pathToFileURL(outfile).href);
}

/** Deep equality where a schema's lazy reference (`() => Shape$`) compares by what it returns. */
function sameShape(a: unknown, b: unknown, seen = new Set<unknown>()): boolean {
  if (typeof a === 'function' && typeof b === 'function') {
    // Error classes and registries are compared by name; lazy references by their target.
    return a.length === 0 && !/^class\b/.test(a.toString()) ? sameShape(a(), b(), seen) : a.name === b.name;
  }
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) return Object.is(a, b);
  if (seen.has(a)) return true;
  seen.add(a);
  const keys = Object.keys(a);
  return (
    Array.isArray(a) === Array.isArray(b) &&
    keys.length === Object.keys(b).length &&
    keys.every((k) => k in b && sameShape((a as never)[k], (b as never)[k], seen))
  );
}

describe('the SDK schema rewrite', () => {
  it('turns a computed constant key into its literal, and nothing else', () => {
    const source =
      'const _xN = "xmlName";\nconst n0 = "x";\nexport var A$ = [3, n0, { [_xN]: _xN, [other]: 1 }];';
    expect(inlineSchemaKeys(source)).toBe(
      'const _xN = "xmlName";\nconst n0 = "x";\nexport var A$ = [3, n0, { "xmlName": _xN, [other]: 1 }];',
    );
  });

  it.each([
    'client-ec2',
    'client-ssm',
    'client-dynamodb',
    'client-sfn',
    'client-secrets-manager',
    'client-auto-scaling',
    'client-cloudwatch',
  ])('leaves every shape of %s as it was', async (client) => {
    const [original, rewritten] = [await schemas(client, false), await schemas(client, true)];
    const names = Object.keys(original);
    expect(names.length).toBeGreaterThan(10);
    expect(Object.keys(rewritten)).toEqual(names);
    const different = names.filter((name) => !sameShape(original[name], rewritten[name]));
    expect(different).toEqual([]);
  });
});

describe('the construct', () => {
  it('ships the bundle infra/bundling.ts writes, for the function it names', () => {
    const hooks = bundlingOptions(true, 'reachability').commandHooks!;
    expect(hooks.afterBundling('/repo', '/asset-output')).toEqual([
      'node --import tsx "/repo/infra/bundling.ts" reachability "/asset-output/index.mjs"',
    ]);
    expect(bundlingOptions(false, 'slack').commandHooks!.afterBundling('/repo', '/out')[0]).toMatch(
      /slack "\/out\/index.mjs" --sdk-external$/,
    );
  });
});

describe('the Slack bundle', () => {
  const SECRET = 'bundle-signing-secret';
  let secretsManager: Server;
  let requests = 0;
  let file: string;

  beforeAll(async () => {
    // Secrets Manager's GetSecretValue over its JSON 1.1 protocol, as the API reference shows it:
    // https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html
    secretsManager = createServer((req, res) => {
      requests += 1;
      const target = req.headers['x-amz-target'];
      res.setHeader('content-type', 'application/x-amz-json-1.1');
      if (target !== 'secretsmanager.GetSecretValue') {
        res.statusCode = 400;
        res.end(JSON.stringify({ __type: 'InvalidRequestException', message: `unexpected ${target}` }));
        return;
      }
      res.end(
        JSON.stringify({
          ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:nodemedic/slack-AbCdEf',
          Name: 'nodemedic/slack',
          SecretString: JSON.stringify({ botToken: 'xoxb-bundle', signingSecret: SECRET }),
          VersionId: 'v1',
        }),
      );
    });
    await new Promise<void>((done) => secretsManager.listen(0, '127.0.0.1', done));
    file = join(dir, 'slack', 'index.mjs');
    await bundleHandler('slack', file, { bundleAwsSdk: true });
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    await new Promise((done) => secretsManager.close(done));
  });

  it('leaves out the receivers nodemedic does not run', () => {
    const text = readFileSync(file, 'utf8');
    for (const pkg of LEFT_OUT_PACKAGES)
      expect(text).toContain(`${pkg} is left out of nodemedic's Lambda bundle`);
    // Before: 2,679 KiB with express, raw-body/iconv-lite, socket-mode/ws and undici bundled.
    expect(statSync(file).size).toBeLessThan(1024 * 1024);
  });

  it('answers a signed request and refuses a forged one', async () => {
    const { port } = secretsManager.address() as AddressInfo;
    for (const [name, value] of Object.entries({
      AWS_ENDPOINT_URL_SECRETS_MANAGER: `http://127.0.0.1:${port}`,
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'AKIDBUNDLETEST',
      AWS_SECRET_ACCESS_KEY: 'bundle-test-secret',
      TABLE_NAME: 'incidents',
      SLACK_SECRET_ID: 'nodemedic/slack',
      SLACK_CHANNEL_ID: 'C0ALERTS',
      CLUSTER_TAG_KEY: 'eks:cluster-name',
      CLUSTER_NAMES: 'prod',
      STATE_MACHINE_ARN: 'arn:aws:states:eu-west-1:123456789012:stateMachine:nodemedic',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
    })) {
      vi.stubEnv(name, value);
    }
    const { handler } = await import(pathToFileURL(file).href);
    const body = '{"type":"url_verification","challenge":"from-the-bundle"}';
    const timestamp = Math.floor(Date.now() / 1000);
    const headers = {
      'content-type': 'application/json',
      'x-slack-request-timestamp': String(timestamp),
      'x-slack-signature': signSlackRequest(SECRET, timestamp, body),
    };
    const ok = await handler(functionUrlEvent({ headers, body }), {});
    expect(ok).toMatchObject({ statusCode: 200, body: JSON.stringify({ challenge: 'from-the-bundle' }) });
    expect(requests).toBe(1);

    const forged = await handler(functionUrlEvent({ headers, body: body.replace('from', 'FROM') }), {});
    expect(forged.statusCode).toBe(401);
  });
});
