/**
 * The Lambda edge (functions/handlers/slack.ts) as Lambda calls it: secrets from Secrets Manager
 * and the one-shot keys in DynamoDB (aws-sdk-client-mock), then Bolt's receiver, with
 * SLACK_API_URL aiming every Web API call at the Slack stand-in. Only the paths that need no
 * incident or state machine are exercised here; the listeners' behaviour is specified in
 * app.test.ts.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { clearSecretsCache } from '../../functions/adapters/aws/secrets.js';
import { SlackStandIn, signSlackRequest } from '../../functions/local/slack-standin/server.js';
import { functionUrlEvent } from './support.js';

const SECRET = 'edge-signing-secret';
const BOT_TOKEN = 'xoxb-edge';
const secrets = mockClient(SecretsManagerClient);
const dynamo = mockClient(DynamoDBDocumentClient);
let standIn: SlackStandIn;
const env: Record<string, string> = {
  SLACK_SECRET_ID: 'nodemedic/slack',
  TABLE_NAME: 'incidents',
  STATE_MACHINE_ARN: 'arn:aws:states:eu-west-1:111122223333:stateMachine:nodemedic',
  SLACK_CHANNEL_ID: 'C0ALERTS',
  CLUSTER_TAG_KEY: 'kubernetes.io/cluster/prod',
  CLUSTER_NAMES: 'prod',
  ONCALL_USERGROUP_ID: 'S0ONCALL',
  ONCALL_ALLOWLIST: 'U0DAVE',
  MENTION_CHANNEL_IDS: 'C0OPS, C0ALERTS',
  AWS_REGION: 'eu-west-1',
};
const saved: Record<string, string | undefined> = {};

beforeAll(async () => {
  standIn = await SlackStandIn.start({ botToken: BOT_TOKEN, signingSecret: SECRET });
  env.SLACK_API_URL = standIn.apiUrl;
  for (const [k, v] of Object.entries(env)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
});
afterAll(async () => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  secrets.restore();
  dynamo.restore();
  await standIn.close();
});
beforeEach(() => {
  clearSecretsCache();
  // Every one-shot key is new (the event id of each mention is fresh).
  dynamo.on(PutCommand).resolves({});
});

function signed(body: string, timestamp = Math.floor(Date.now() / 1000)) {
  return {
    headers: {
      'content-type': 'application/json',
      'x-slack-request-timestamp': String(timestamp),
      'x-slack-signature': signSlackRequest(SECRET, timestamp, body),
    },
    body,
  };
}

describe('Slack Lambda edge', () => {
  it('answers 500 without detail when the secret cannot be read, and recovers once it can', async () => {
    secrets
      .on(GetSecretValueCommand)
      .rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    const { handler } = await import('../../functions/handlers/slack.js');
    const res = await handler(functionUrlEvent(signed('{"type":"url_verification","challenge":"c1"}')), {});
    expect(res).toEqual({ statusCode: 500, body: 'nodemedic is misconfigured' });

    secrets
      .on(GetSecretValueCommand)
      .resolves({ SecretString: JSON.stringify({ botToken: BOT_TOKEN, signingSecret: SECRET }) });
    const ok = await handler(functionUrlEvent(signed('{"type":"url_verification","challenge":"c2"}')), {});
    expect(ok).toMatchObject({ statusCode: 200, body: JSON.stringify({ challenge: 'c2' }) });
  });

  it('refuses a forged and a stale request with 401', async () => {
    secrets
      .on(GetSecretValueCommand)
      .resolves({ SecretString: JSON.stringify({ botToken: BOT_TOKEN, signingSecret: SECRET }) });
    const { handler } = await import('../../functions/handlers/slack.js');
    const body = '{"type":"url_verification","challenge":"c3"}';
    const forged = { ...signed(body), body: body.replace('c3', 'c4') };
    expect((await handler(functionUrlEvent(forged), {})).statusCode).toBe(401);
    const stale = signed(body, Math.floor(Date.now() / 1000) - 600);
    expect((await handler(functionUrlEvent(stale), {})).statusCode).toBe(401);
  });
});

describe('Slack Lambda edge, with SLACK_API_URL set', () => {
  beforeEach(() => {
    secrets
      .on(GetSecretValueCommand)
      .resolves({ SecretString: JSON.stringify({ botToken: BOT_TOKEN, signingSecret: SECRET }) });
  });

  it("sends Bolt's own calls there: auth.test and the reply to a mention", async () => {
    const { handler } = await import('../../functions/handlers/slack.js');
    const parent = standIn.seedMessage({ channel: 'C0ALERTS', text: 'NotReady' });
    const res = await handler(
      functionUrlEvent(
        standIn.mentionRequest({
          channel: 'C0ALERTS',
          threadTs: parent,
          text: '<@U0NODEMEDIC> help',
          user: 'U0ALICE',
        }),
      ),
      {},
    );
    expect(res.statusCode).toBe(200);
    expect(standIn.requestsOf('auth.test').length).toBeGreaterThanOrEqual(1);
    expect(standIn.messages('C0ALERTS').at(-1)).toMatchObject({
      thread_ts: parent,
      text: expect.stringContaining('diagnose'),
    });
  });

  it('answers a mention outside SLACK_CHANNEL_ID and MENTION_CHANNEL_IDS with where it works', async () => {
    const { handler } = await import('../../functions/handlers/slack.js');
    const parent = standIn.seedMessage({ channel: 'C0RANDOM', text: 'NotReady i-0abc12345678def01' });
    const before = standIn.requests.length;
    await handler(
      functionUrlEvent(
        standIn.mentionRequest({
          channel: 'C0RANDOM',
          threadTs: parent,
          text: '<@U0NODEMEDIC> diagnose',
          user: 'U0EVE',
        }),
      ),
      {},
    );
    // No thread read, no diagnosis (the handler has no EC2 or SSM mock: one would have failed).
    expect(standIn.requests.slice(before).map((r) => r.method)).toEqual(['chat.postMessage']);
    const answer = standIn.messages('C0RANDOM').at(-1);
    expect(answer?.thread_ts).toBe(parent);
    expect(answer?.text).toContain('<#C0ALERTS>');
    expect(answer?.text).toContain('<#C0OPS>');
  });

  it('logs the claimed timestamp of a refused signature through the real Logger', async () => {
    const { handler } = await import('../../functions/handlers/slack.js');
    const lines: string[] = [];
    const capture = (chunk: unknown) => {
      lines.push(String(chunk));
      return true;
    };
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(capture);
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(capture);
    const ts = Math.floor(Date.now() / 1000) - 10;
    const body = '{"type":"url_verification","challenge":"c5"}';
    const forged = {
      headers: { ...signed(body, ts).headers, 'x-slack-signature': `v0=${'0'.repeat(64)}` },
      body,
    };
    let status: number;
    try {
      status = (await handler(functionUrlEvent(forged), {})).statusCode;
    } finally {
      out.mockRestore();
      err.mockRestore();
    }
    expect(status).toBe(401);
    const refused = lines
      .flatMap((l) => l.split('\n'))
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.message === 'refused a Slack request with an invalid or stale signature');
    expect(refused).toMatchObject({ level: 'WARN', claimedTimestamp: ts });
  });
});
