/**
 * Slack credentials from Secrets Manager. The secret is one JSON document
 * `{"botToken": "xoxb-…", "signingSecret": "…"}`. Values are cached at module scope, so a warm
 * Lambda reads the secret once per TTL instead of on every Slack request (which must ack in 3 s).
 * No error message ever contains a secret value: only key names and the secret id.
 */
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DependencyError, NodemedicError } from '../../core/errors.js';
import { errorName } from './sdk-errors.js';

/** The Slack credentials nodemedic needs. */
export interface SlackSecrets {
  /** Bot user OAuth token (`xoxb-…`). */
  readonly botToken: string;
  /** Signing secret, for the v0 request signature. */
  readonly signingSecret: string;
}

/** The JSON keys the secret must hold (the README and the CDK construct document the same). */
const SLACK_SECRET_KEYS = ['botToken', 'signingSecret'] as const;

/** How long a read secret is reused, ms: long enough to spare the API, short enough for a rotation. */
export const SECRETS_CACHE_TTL_MS = 5 * 60 * 1000;

/** The secret exists but its content is not what nodemedic expects (not JSON, a key missing). */
export class SecretFormatError extends NodemedicError {
  constructor(message: string) {
    super('SECRET_INVALID', message);
  }
}

interface CacheEntry {
  readonly expires: number;
  readonly value: Promise<Readonly<Record<string, string>>>;
}

/** secretId → the read (or the read in progress, so concurrent callers share one API call). */
const cache = new Map<string, CacheEntry>();

/** Forget cached secrets (tests; or after Slack rejected the token, to pick up a rotation). */
export function clearSecretsCache(): void {
  cache.clear();
}

const THROTTLING = new Set(['ThrottlingException', 'TooManyRequestsException', 'InternalServiceError']);

/**
 * Read the Slack secrets, cached for {@link SECRETS_CACHE_TTL_MS}. Throws SecretFormatError when
 * the secret is not a JSON object or lacks a key (naming the key), DependencyError
 * (`SECRET_UNAVAILABLE`) when Secrets Manager fails; a failed read is not cached.
 */
export async function loadSlackSecrets(
  client: SecretsManagerClient,
  secretId: string,
): Promise<SlackSecrets> {
  const record = await loadSecretKeys(client, secretId, SLACK_SECRET_KEYS);
  return { botToken: record.botToken, signingSecret: record.signingSecret };
}

/**
 * Read a JSON secret holding `keys` (each a non-empty string), cached like the Slack secret: the
 * PagerDuty routing key (`{"routingKey": "…"}`) comes this way too.
 */
export async function loadSecretKeys<K extends string>(
  client: SecretsManagerClient,
  secretId: string,
  keys: readonly K[],
): Promise<Record<K, string>> {
  const now = Date.now();
  const hit = cache.get(secretId);
  if (hit && hit.expires > now) return hit.value as Record<K, string>;
  const value = read(client, secretId, keys);
  cache.set(secretId, { expires: now + SECRETS_CACHE_TTL_MS, value });
  try {
    return await value;
  } catch (error) {
    // Only drop our own entry: a newer read may have replaced it meanwhile.
    if (cache.get(secretId)?.value === value) cache.delete(secretId);
    throw error;
  }
}

async function read<K extends string>(
  client: SecretsManagerClient,
  secretId: string,
  keys: readonly K[],
): Promise<Record<K, string>> {
  let text: string | undefined;
  try {
    const out = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
    text =
      out.SecretString ?? (out.SecretBinary ? Buffer.from(out.SecretBinary).toString('utf8') : undefined);
  } catch (error) {
    const name = errorName(error);
    throw new DependencyError('SECRET_UNAVAILABLE', `could not read secret "${secretId}" (${name})`, {
      cause: error,
      retryable: THROTTLING.has(name),
    });
  }
  if (text === undefined) throw new SecretFormatError(`secret "${secretId}" has no value`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Deliberately no `cause`: JSON.parse's message quotes the secret's text.
    throw new SecretFormatError(
      `secret "${secretId}" is not JSON; expected an object with keys ${keys.join(', ')}`,
    );
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new SecretFormatError(
      `secret "${secretId}" is not a JSON object; expected keys ${keys.join(', ')}`,
    );
  }
  const record = parsed as Record<string, unknown>;
  for (const key of keys) {
    const v = record[key];
    if (typeof v !== 'string' || v.trim() === '') {
      throw new SecretFormatError(
        `secret "${secretId}" is missing the key "${key}" (or it is not a non-empty string)`,
      );
    }
  }
  return Object.fromEntries(keys.map((key) => [key, record[key] as string])) as Record<K, string>;
}
