import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  clearSecretsCache,
  loadSlackSecrets,
  SECRETS_CACHE_TTL_MS,
  SecretFormatError,
} from '../../../functions/adapters/aws/secrets.js';

const sm = mockClient(SecretsManagerClient);
const client = () => new SecretsManagerClient({ region: 'eu-west-1' });
const SECRET = { botToken: 'xoxb-test-token', signingSecret: 'sshh-signing' };

beforeEach(() => {
  sm.reset();
  clearSecretsCache();
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(new Date('2026-11-27T03:00:00Z'));
});
afterEach(() => vi.useRealTimers());

describe('loadSlackSecrets', () => {
  it('reads both values and caches them across calls for the TTL', async () => {
    sm.on(GetSecretValueCommand, { SecretId: 'nodemedic/slack' }).resolves({
      SecretString: JSON.stringify(SECRET),
    });
    expect(await loadSlackSecrets(client(), 'nodemedic/slack')).toEqual(SECRET);
    vi.setSystemTime(Date.now() + SECRETS_CACHE_TTL_MS - 1);
    expect(await loadSlackSecrets(client(), 'nodemedic/slack')).toEqual(SECRET);
    expect(sm).toHaveReceivedCommandTimes(GetSecretValueCommand, 1);
  });

  it('reads again once the TTL has passed, picking up a rotation', async () => {
    sm.on(GetSecretValueCommand)
      .resolvesOnce({ SecretString: JSON.stringify(SECRET) })
      .resolvesOnce({ SecretString: JSON.stringify({ ...SECRET, botToken: 'xoxb-rotated' }) });
    await loadSlackSecrets(client(), 'nodemedic/slack');
    vi.setSystemTime(Date.now() + SECRETS_CACHE_TTL_MS);
    expect((await loadSlackSecrets(client(), 'nodemedic/slack')).botToken).toBe('xoxb-rotated');
    expect(sm).toHaveReceivedCommandTimes(GetSecretValueCommand, 2);
  });

  it('shares one read between concurrent callers', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify(SECRET) });
    const both = await Promise.all([loadSlackSecrets(client(), 's'), loadSlackSecrets(client(), 's')]);
    expect(both).toEqual([SECRET, SECRET]);
    expect(sm).toHaveReceivedCommandTimes(GetSecretValueCommand, 1);
  });

  const bad: { name: string; value: string; message: RegExp }[] = [
    {
      name: 'a missing signingSecret',
      value: '{"botToken":"xoxb-1"}',
      message: /missing the key "signingSecret"/,
    },
    {
      name: 'an empty botToken',
      value: '{"botToken":"","signingSecret":"s"}',
      message: /missing the key "botToken"/,
    },
    { name: 'text that is not JSON', value: 'xoxb-plain-token', message: /is not JSON/ },
    { name: 'a JSON list', value: '["xoxb-1"]', message: /is not a JSON object/ },
  ];
  it.each(bad)('names the problem for $name, never the values', async ({ value, message }) => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: value });
    const thrown = await loadSlackSecrets(client(), 'nodemedic/slack').catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(SecretFormatError);
    expect((thrown as Error).message).toMatch(message);
    expect((thrown as Error).message).toContain('nodemedic/slack');
    expect((thrown as Error).message).not.toContain('xoxb-');
  });

  it('does not cache a failed read', async () => {
    sm.on(GetSecretValueCommand)
      .resolvesOnce({ SecretString: '{"botToken":"xoxb-1"}' })
      .resolvesOnce({ SecretString: JSON.stringify(SECRET) });
    await expect(loadSlackSecrets(client(), 's')).rejects.toThrow(SecretFormatError);
    await expect(loadSlackSecrets(client(), 's')).resolves.toEqual(SECRET);
  });

  it('reads a binary secret as UTF-8 JSON', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretBinary: new TextEncoder().encode(JSON.stringify(SECRET)) });
    await expect(loadSlackSecrets(client(), 's')).resolves.toEqual(SECRET);
  });

  it('turns Secrets Manager failures into SECRET_UNAVAILABLE, retryable when throttled', async () => {
    const missing = new ResourceNotFoundException({ message: 'not found', $metadata: {} });
    sm.on(GetSecretValueCommand)
      .rejectsOnce(missing)
      .rejectsOnce(Object.assign(new Error('slow'), { name: 'ThrottlingException' }));
    await expect(loadSlackSecrets(client(), 'nodemedic/slack')).rejects.toMatchObject({
      code: 'SECRET_UNAVAILABLE',
      retryable: false,
      cause: missing,
      message: expect.stringContaining('"nodemedic/slack" (ResourceNotFoundException)'),
    });
    await expect(loadSlackSecrets(client(), 'nodemedic/slack')).rejects.toMatchObject({ retryable: true });
  });
});
