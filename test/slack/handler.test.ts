/**
 * The Lambda edge (functions/handlers/slack.ts) as Lambda calls it: secrets from Secrets Manager
 * (aws-sdk-client-mock), then Bolt's receiver. Only the paths that need no table or state machine
 * are exercised here; the listeners' behaviour is specified in app.test.ts.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { clearSecretsCache } from '../../functions/adapters/aws/secrets.js';
import { signSlackRequest } from '../../functions/local/slack-standin/server.js';
import { functionUrlEvent } from './support.js';

const SECRET = 'edge-signing-secret';
const secrets = mockClient(SecretsManagerClient);
const env = {
  SLACK_SECRET_ID: 'nodemedic/slack',
  TABLE_NAME: 'incidents',
  STATE_MACHINE_ARN: 'arn:aws:states:eu-west-1:111122223333:stateMachine:nodemedic',
  SLACK_CHANNEL_ID: 'C0ALERTS',
  CLUSTER_TAG_KEY: 'kubernetes.io/cluster/prod',
  CLUSTER_NAMES: 'prod',
  ONCALL_USERGROUP_ID: 'S0ONCALL',
  ONCALL_ALLOWLIST: 'U0DAVE',
  AWS_REGION: 'eu-west-1',
};
const saved: Record<string, string | undefined> = {};

beforeAll(() => {
  for (const [k, v] of Object.entries(env)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
});
afterAll(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  secrets.restore();
});
beforeEach(() => {
  clearSecretsCache();
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
      .resolves({ SecretString: JSON.stringify({ botToken: 'xoxb-edge', signingSecret: SECRET }) });
    const ok = await handler(functionUrlEvent(signed('{"type":"url_verification","challenge":"c2"}')), {});
    expect(ok).toMatchObject({ statusCode: 200, body: JSON.stringify({ challenge: 'c2' }) });
  });

  it('refuses a forged and a stale request with 401', async () => {
    secrets
      .on(GetSecretValueCommand)
      .resolves({ SecretString: JSON.stringify({ botToken: 'xoxb-edge', signingSecret: SECRET }) });
    const { handler } = await import('../../functions/handlers/slack.js');
    const body = '{"type":"url_verification","challenge":"c3"}';
    const forged = { ...signed(body), body: body.replace('c3', 'c4') };
    expect((await handler(functionUrlEvent(forged), {})).statusCode).toBe(401);
    const stale = signed(body, Math.floor(Date.now() / 1000) - 600);
    expect((await handler(functionUrlEvent(stale), {})).statusCode).toBe(401);
  });
});
