/**
 * The bundles the stack ships (infra/bundling.ts): the SDK schema rewrite leaves every shape as it
 * was; with the modeled error classes left unregistered, every SDK error nodemedic reads comes out
 * of a real client the same, and no source of ours depends on a modeled class; the Slack bundle,
 * with Bolt's unused receivers left out, serves a signed Slack request.
 */

import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { signSlackRequest } from '../../functions/local/slack-standin/server.js';
import {
  bundleHandler,
  dropModeledErrors,
  errorCodesAreShapeNames,
  inlineSchemaKeys,
  LEFT_OUT_PACKAGES,
  slimSdkSchemas,
} from '../../infra/bundling.js';
import { bundlingOptions } from '../../infra/nodemedic.js';
import { functionUrlEvent } from '../slack/support.js';

const ROOT = join(import.meta.dirname, '..', '..');
/** Every SDK client the functions depend on (package.json), the clients the rewrites must handle. */
const CLIENTS = Object.keys(
  (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> })
    .dependencies,
)
  .filter((name) => name.startsWith('@aws-sdk/client-'))
  .map((name) => name.slice('@aws-sdk/'.length));
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
    plugins: rewrite ? [slimSdkSchemas] : [],
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

  it.each(CLIENTS)('leaves every shape of %s as it was', async (client) => {
    const [original, rewritten] = [await schemas(client, false), await schemas(client, true)];
    const names = Object.keys(original);
    expect(names.length).toBeGreaterThan(10);
    expect(Object.keys(rewritten)).toEqual(names);
    const different = names.filter((name) => !sameShape(original[name], rewritten[name]));
    expect(different).toEqual([]);
  });
});

describe('the modeled SDK errors left unregistered', () => {
  const SOURCE = [
    'const _TE = "ThrottlingException";',
    'import { TypeRegistry } from "@smithy/core/schema";',
    'import { InvalidInstanceId, ThrottlingException, } from "../models/errors";',
    'import { SSMServiceException } from "../models/SSMServiceException";',
    'const _s_registry = new TypeRegistry(_s);',
    '_s_registry.registerError(SSMServiceException$, SSMServiceException);',
    'export var InvalidInstanceId$ = [-3, n0, "InvalidInstanceId", 0, [], []];',
    'n0_registry.registerError(InvalidInstanceId$, InvalidInstanceId);',
    'export var ThrottlingException$ = [-3, n0, _TE, { "awsQueryError": [`ThrottlingException`, 400] }, [], []];',
    'n0_registry.registerError(ThrottlingException$, ThrottlingException);',
    '',
  ].join('\n');

  it('drops the import of the error classes and their registrations, and keeps the base exception and every shape', () => {
    const out = dropModeledErrors(SOURCE);
    expect(out).not.toContain('../models/errors');
    expect(out.match(/registerError/g)).toEqual(['registerError']);
    expect(out).toContain('_s_registry.registerError(SSMServiceException$, SSMServiceException);');
    expect(out).toContain('export var InvalidInstanceId$ = ');
    expect(out).toContain('export var ThrottlingException$ = ');
    expect(dropModeledErrors('export var A$ = [3, n0, "A"];')).toBe('export var A$ = [3, n0, "A"];');
  });

  it('refuses a module that still uses an error class once its registration is gone, naming both', () => {
    const changed = `${SOURCE}export const classes = [InvalidInstanceId];\n`;
    expect(() => dropModeledErrors(changed, 'client-ssm/schemas_0.js')).toThrow(
      'bundling: client-ssm/schemas_0.js still refers to InvalidInstanceId once its registration is dropped',
    );
  });

  it('drops them only where an error code is its shape name: the JSON protocols, not query or query-compatible', () => {
    const decided = Object.fromEntries(
      CLIENTS.map((client) => [
        client,
        errorCodesAreShapeNames(
          readFileSync(
            join(ROOT, 'node_modules', '@aws-sdk', client, 'dist-es', 'runtimeConfig.shared.js'),
            'utf8',
          ),
        ),
      ]),
    );
    expect(decided).toEqual({
      'client-auto-scaling': false,
      'client-cloudwatch': false,
      'client-dynamodb': true,
      'client-ec2': false,
      'client-secrets-manager': true,
      'client-sfn': true,
      'client-ssm': true,
    });
  });

  it.each(CLIENTS)(
    'leaves the error classes of %s out of a bundle that sends one command, where its protocol allows',
    async (client) => {
      // The client class, `<Service>Client`, is what every client's dist-es has a file for.
      const dist = join(ROOT, 'node_modules', '@aws-sdk', client, 'dist-es');
      const clientClass = readdirSync(dist)
        .find((f) => /^\w+Client\.js$/.test(f))!
        .slice(0, -'.js'.length);
      const { metafile } = await build({
        stdin: { contents: `export { ${clientClass} } from '@aws-sdk/${client}';`, resolveDir: ROOT },
        write: false,
        bundle: true,
        platform: 'node',
        format: 'esm',
        mainFields: ['module', 'main'],
        metafile: true,
        logLevel: 'error',
        plugins: [slimSdkSchemas],
      });
      const inputs = Object.entries(Object.values(metafile.outputs)[0]!.inputs)
        .filter(([, input]) => input.bytesInOutput > 0)
        .map(([file]) => file);
      expect(inputs.some((file) => file.endsWith(`${client}/dist-es/schemas/schemas_0.js`))).toBe(true);
      const shared = readFileSync(join(dist, 'runtimeConfig.shared.js'), 'utf8');
      const hasErrors = statSync(join(dist, 'models', 'errors.js'), { throwIfNoEntry: false }) !== undefined;
      expect(inputs.some((file) => file.includes(`${client}/dist-es/models/errors.js`))).toBe(
        hasErrors && !errorCodesAreShapeNames(shared),
      );
    },
  );

  it('is safe because no source of ours imports a modeled error class: errors are told apart by name', () => {
    const modeled = new Map(
      CLIENTS.map((client) => {
        const errors = join(ROOT, 'node_modules', '@aws-sdk', client, 'dist-es', 'models', 'errors.js');
        const text = statSync(errors, { throwIfNoEntry: false }) ? readFileSync(errors, 'utf8') : '';
        return [client, new Set([...text.matchAll(/^export class (\w+)/gm)].map((m) => m[1]!))];
      }),
    );
    expect(modeled.get('client-ssm')!.has('InvalidInstanceId')).toBe(true);
    const sources = (function walk(dir: string): string[] {
      return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
        entry.isDirectory()
          ? walk(join(dir, entry.name))
          : entry.name.endsWith('.ts')
            ? [join(dir, entry.name)]
            : [],
      );
    })(join(ROOT, 'functions'));
    const found: string[] = [];
    for (const file of sources) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/import\s+(type\s+)?\{([^}]*)\}\s+from\s+'@aws-sdk\/(client-[\w-]+)'/g)) {
        if (m[1]) continue;
        for (const spec of m[2]!.split(',')) {
          const name = spec
            .trim()
            .replace(/^type\s+/, '')
            .split(/\s+as\s+/)[0]!;
          if (!spec.trim().startsWith('type ') && modeled.get(m[3]!)?.has(name))
            found.push(`${file}: ${name}`);
        }
      }
    }
    expect(sources.length).toBeGreaterThan(50);
    expect(found).toEqual([]);
  });
});

/**
 * The same SDK calls, bundled as the stack ships them and bundled plainly, against a local
 * endpoint that answers with the errors nodemedic handles. The error shapes are the documented
 * ones: the awsJson1_0/1_1 error body (`__type` and the error's members,
 * https://smithy.io/2.0/aws/protocols/aws-json-1_1-protocol.html#operation-error-serialization),
 * the errors GetCommandInvocation and SendCommand list
 * (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetCommandInvocation.html,
 * https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_SendCommand.html), and
 * TransactWriteItems' TransactionCanceledException with its CancellationReasons
 * (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html).
 */
describe('SDK errors out of the shipped bundle', () => {
  let server: Server;
  let endpoint: string;
  const ENTRY = `
import { SSMClient } from '@aws-sdk/client-ssm';
import { DynamoDBClient, TransactWriteItemsCommand } from '@aws-sdk/client-dynamodb';
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { EC2Client } from '@aws-sdk/client-ec2';
import { SsmCommandRunner } from './functions/adapters/aws/ssm-runner.ts';
import { Ec2NodeInventory } from './functions/adapters/aws/ec2-inventory.ts';
import { CloudWatchNodeReadiness } from './functions/adapters/aws/cloudwatch-readiness.ts';
import { errorName } from './functions/adapters/aws/sdk-errors.ts';

const settle = (p) => p.then((value) => ({ value }), (e) => ({
  error: { name: errorName(e), message: e.message, code: e.code, retryable: e.retryable, fault: e.$fault,
    status: e.$metadata?.httpStatusCode,
    causeName: e.cause === undefined ? undefined : errorName(e.cause),
    reasons: e.CancellationReasons?.map((r) => r.Code) },
}));

export async function run(endpoint) {
  const common = { endpoint, region: 'eu-west-1', maxAttempts: 1,
    credentials: { accessKeyId: 'AKIDBUNDLETEST', secretAccessKey: 'bundle-test-secret' } };
  const runner = new SsmCommandRunner({ client: new SSMClient(common), documents: { diagnose: 'nodemedic-diagnose' } });
  const node = { instanceId: 'i-0123456789abcdef0', nodeName: null, cluster: 'prod', autoScalingGroup: null };
  const dynamo = new DynamoDBClient(common);
  const inventory = new Ec2NodeInventory({ ec2: new EC2Client(common), ssm: new SSMClient(common),
    autoScaling: new AutoScalingClient(common), clusterTagKey: 'eks:cluster-name' });
  const readiness = new CloudWatchNodeReadiness({ client: new CloudWatchClient(common) });
  return {
    pending: await settle(runner.get('11111111-2222-3333-4444-555555555555', node)),
    unmanaged: await settle(runner.send({ node, script: 'diagnose', parameters: {}, timeoutSeconds: 60, comment: 'x' })),
    throttled: await settle(runner.cancel('11111111-2222-3333-4444-555555555555', node)),
    cancelled: await settle(dynamo.send(new TransactWriteItemsCommand({ TransactItems: [] }))),
    scaling: await settle(inventory.replace({ ...node, autoScalingGroup: 'prod-nodes' })),
    limited: await settle(readiness.nodeState(node)),
  };
}`;

  /** What the entry's calls return, bundled with the stack's plugins or without. */
  async function observe(plugins: boolean): Promise<Record<string, unknown>> {
    const outfile = join(dir, `sdk-errors-${plugins ? 'shipped' : 'plain'}.mjs`);
    await build({
      stdin: { contents: ENTRY, resolveDir: ROOT, loader: 'ts', sourcefile: 'sdk-errors-entry.ts' },
      outfile,
      bundle: true,
      platform: 'node',
      format: 'esm',
      mainFields: ['module', 'main'],
      logLevel: 'error',
      plugins: plugins ? [slimSdkSchemas] : [],
    });
    const text = readFileSync(outfile, 'utf8');
    // The shipped bundle carries no modeled class; the plain one carries SSM's 140.
    expect(text.includes('class _InvocationDoesNotExist extends')).toBe(!plugins);
    const { run } = await import(pathToFileURL(outfile).href);
    return run(endpoint);
  }

  beforeAll(async () => {
    server = createServer((req, res) => {
      const target = String(req.headers['x-amz-target']);
      const [type, body] = (
        {
          'AmazonSSM.GetCommandInvocation': [
            'application/x-amz-json-1.1',
            { __type: 'InvocationDoesNotExist', Message: 'invocation does not exist' },
          ],
          'AmazonSSM.SendCommand': [
            'application/x-amz-json-1.1',
            {
              __type: 'InvalidInstanceId',
              Message: 'Instances [[i-0123456789abcdef0]] not in a valid state',
            },
          ],
          'AmazonSSM.CancelCommand': [
            'application/x-amz-json-1.1',
            { __type: 'ThrottlingException', Message: 'Rate exceeded' },
          ],
          'GraniteServiceVersion20100801.GetMetricData': [
            'application/x-amz-json-1.0',
            { __type: 'com.amazonaws.cloudwatch#LimitExceededFault', message: 'Limit exceeded' },
          ],
          'DynamoDB_20120810.TransactWriteItems': [
            'application/x-amz-json-1.0',
            {
              __type: 'com.amazonaws.dynamodb.v20120810#TransactionCanceledException',
              Message:
                'Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed]',
              CancellationReasons: [
                { Code: 'None' },
                { Code: 'ConditionalCheckFailed', Message: 'The conditional request failed' },
              ],
            },
          ],
        } as Record<string, [string, unknown]>
      )[target] ?? ['application/x-amz-json-1.1', { __type: 'UnknownOperationException', Message: target }];
      req.resume();
      if (req.headers['content-type']?.startsWith('application/x-www-form-urlencoded')) {
        // Auto Scaling speaks awsQuery: its errors are XML, named by their code, which is not the
        // shape's name (https://docs.aws.amazon.com/autoscaling/ec2/APIReference/CommonErrors.html,
        // https://smithy.io/2.0/aws/protocols/aws-query-protocol.html#operation-error-serialization).
        res.writeHead(400, { 'content-type': 'text/xml' });
        res.end(
          '<ErrorResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/"><Error><Type>Sender</Type>' +
            '<Code>ScalingActivityInProgress</Code><Message>Scaling activity 1234 is in progress</Message>' +
            '</Error><RequestId>req-2</RequestId></ErrorResponse>',
        );
        return;
      }
      // CloudWatch is JSON and query-compatible: the query code rides in x-amzn-query-error
      // (https://smithy.io/2.0/aws/protocols/aws-query-protocol.html#aws-protocols-awsquerycompatible-trait).
      const queryError =
        target === 'GraniteServiceVersion20100801.GetMetricData'
          ? { 'x-amzn-query-error': 'LimitExceeded;Sender' }
          : {};
      res.writeHead(400, { 'content-type': type, 'x-amzn-requestid': 'req-1', ...queryError });
      res.end(JSON.stringify(body));
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((done) => server.close(done)));

  it('come out named, with their fields, exactly as from the plain bundle', async () => {
    const [plain, shipped] = [await observe(false), await observe(true)];
    expect(shipped).toEqual(plain);
    expect(shipped).toEqual({
      pending: { value: expect.objectContaining({ status: 'pending', detail: 'InvocationDoesNotExist' }) },
      unmanaged: {
        error: expect.objectContaining({
          code: 'SSM_INSTANCE_NOT_MANAGED',
          causeName: 'InvalidInstanceId',
          message: expect.stringContaining('not managed by SSM or not online (InvalidInstanceId)'),
        }),
      },
      throttled: { error: expect.objectContaining({ code: 'SSM_THROTTLED', retryable: true }) },
      cancelled: {
        error: expect.objectContaining({
          name: 'TransactionCanceledException',
          fault: 'client',
          status: 400,
          reasons: ['None', 'ConditionalCheckFailed'],
          message: expect.stringContaining('Transaction cancelled'),
        }),
      },
      // Named by their shapes, not their codes: the retryable lists are written against these.
      scaling: {
        error: expect.objectContaining({
          code: 'INVENTORY_THROTTLED',
          retryable: true,
          causeName: 'ScalingActivityInProgressFault',
        }),
      },
      limited: {
        error: expect.objectContaining({
          code: 'READINESS_THROTTLED',
          retryable: true,
          causeName: 'LimitExceededFault',
        }),
      },
    });
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
