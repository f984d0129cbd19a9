/**
 * Every environment variable a handler reads, with its schema: parsed once per container, at
 * module scope (Lambda's init phase), so a bad value fails the cold start with a message that
 * names the variable and the problem (`VERSION_POLICY.minimum: "1.x" is not a version`) instead
 * of surfacing at the first analysis. Which variables a handler reads, and the construct sets, is its
 * manifest's (handlers/manifests.ts).
 *
 * valibot rather than zod: the same kind of schemas at a few KiB of each bundle, because only the
 * functions used here are bundled. Bounds that are safety policy live in the core
 * (`validateSafetyPolicy`, `parseVersion`) and are called from here, not copied.
 */
import * as v from 'valibot';
import type { AlarmFilter } from '../../core/alarm.js';
import { CatalogError, NodemedicError } from '../../core/errors.js';
import { REMEDIATION_IDS } from '../../core/model.js';
import { SLACK_ID, TAG_KEY, TAG_VALUE } from '../../core/patterns.js';
import { type SafetyPolicy, validateSafetyPolicy } from '../../core/policy.js';
import type { ScriptId } from '../../core/ports.js';
import { parseVersion, type VersionPolicyOverrides } from '../../core/version.js';
import type { EnvName, Port, PortEnvName } from '../manifest/types.js';

/** A required string; an unset (or empty) variable reads "is not set". */
const text = () => v.string('is not set');

/** Untrusted input quoted back in a message: short, and JSON-escaped. */
const shown = (input: unknown) => JSON.stringify(typeof input === 'string' ? input.slice(0, 60) : input);

/** Parse the variable as JSON, then check the result against `schema`. */
function json<T extends v.GenericSchema>(schema: T) {
  return v.pipe(
    text(),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      try {
        return JSON.parse(dataset.value) as unknown;
      } catch (error) {
        addIssue({ message: `is not valid JSON (${(error as Error).message})` });
        return NEVER;
      }
    }),
    schema,
  );
}

/** A comma-separated list (blanks ignored) whose every item matches `pattern`. */
function list(pattern: RegExp, what: string, min: number) {
  return v.pipe(
    text(),
    v.transform((value) =>
      value
        .split(',')
        .map((item) => item.trim())
        .filter((item) => item !== ''),
    ),
    v.array(v.string()),
    v.minLength(min, `names no ${what}`),
    v.rawCheck(({ dataset, addIssue }) => {
      if (!dataset.typed) return;
      const bad = dataset.value.filter((item) => !pattern.test(item));
      if (bad.length) addIssue({ message: `${bad.map(shown).join(', ')} is not a ${what}` });
    }),
  );
}

const version = v.pipe(
  v.string('is not a string'),
  v.check(
    (value) => parseVersion(value) !== null,
    (issue) => `${shown(issue.input)} is not a version`,
  ),
);

/** Messages of a strict object's issues: a wrong type, a missing field, or an unknown one. */
function objectMessage(known: readonly string[]) {
  return (issue: v.StrictObjectIssue) => {
    // valibot marks an unknown key as expecting `never` and a missing one as expecting `"key"`.
    if (issue.expected === 'never') return `is not a known field (known: ${known.join(', ')})`;
    if (issue.expected?.startsWith('"')) return 'is missing';
    return 'must be an object';
  };
}

const nonEmpty = (what: string) =>
  v.pipe(v.string(`${what} must be a string`), v.trim(), v.nonEmpty(`is empty`));

/** A Secrets Manager secret's name or ARN. */
const secretId = () => v.regex(/^[A-Za-z0-9/_+=.@:-]{1,2048}$/, 'is not a secret name or ARN');

/** An http(s) URL (an API's base). */
const httpUrl = () =>
  v.pipe(
    v.string(),
    v.url('is not a URL'),
    v.check((url) => /^https?:\/\//.test(url), 'must be an http(s) URL'),
  );

const SCRIPT_IDS = ['diagnose', ...REMEDIATION_IDS] as const satisfies readonly ScriptId[];

/**
 * Each variable's schema, from the raw string (undefined when unset or empty) to its value. An
 * optional variable's default is given as the raw string it stands for, and parsed like one.
 */
const SCHEMAS = {
  /** The incident table (DynamoDB's table name rules). */
  TABLE_NAME: v.pipe(text(), v.regex(/^[A-Za-z0-9_.-]{3,255}$/, 'is not a DynamoDB table name')),
  /** The Slack secret's name or ARN. */
  SLACK_SECRET_ID: v.pipe(text(), secretId()),
  /** The alarm channel. */
  SLACK_CHANNEL_ID: v.pipe(text(), v.regex(SLACK_ID.channel, 'is not a Slack channel id (C…)')),
  /** The EC2 tag that names an instance's cluster. */
  CLUSTER_TAG_KEY: v.pipe(text(), v.regex(TAG_KEY, 'is not an AWS tag key')),
  /** The clusters nodemedic may touch: values of the cluster tag, comma-separated. */
  CLUSTER_NAMES: list(TAG_VALUE, 'cluster tag value', 1),
  /** The workflow, started by the alarm and Slack functions. */
  STATE_MACHINE_ARN: v.pipe(
    text(),
    v.regex(
      /^arn:aws[a-z-]*:states:[a-z0-9-]+:[0-9]{12}:stateMachine:[A-Za-z0-9_-]{1,80}$/,
      'is not a Step Functions state machine ARN',
    ),
  ),
  /** Script id → SSM document name (set at synth from the documents the stack creates). */
  DOCUMENTS: json(
    v.pipe(
      v.record(
        v.picklist(SCRIPT_IDS, (issue) => `${shown(issue.input)} is not a script id`),
        v.pipe(v.string(), v.regex(/^[A-Za-z0-9_.:/-]{3,128}$/, 'is not an SSM document name')),
        'must be an object of script id to document name',
      ),
      v.check((documents) => 'diagnose' in documents, 'names no diagnose document'),
    ),
  ) as v.GenericSchema<string, Partial<Record<ScriptId, string>>>,
  /** Overrides of the safety policy, validated by the core's own rules. */
  SAFETY_POLICY: v.optional(
    json(
      v.pipe(
        v.unknown(),
        v.rawTransform(({ dataset, addIssue, NEVER }) => {
          try {
            return validateSafetyPolicy(dataset.value as Partial<SafetyPolicy>);
          } catch (error) {
            if (!(error instanceof CatalogError)) throw error;
            addIssue({ message: error.message });
            return NEVER;
          }
        }),
      ),
    ),
    '{}',
  ) as v.GenericSchema<string | undefined, SafetyPolicy>,
  /** Overrides of the containerd version policy (the rest is the analyzer's default). */
  VERSION_POLICY: v.optional(
    json(
      v.strictObject(
        {
          minimum: v.optional(version),
          knownBad: v.optional(
            v.array(
              v.strictObject({ version, reason: nonEmpty('reason') }, objectMessage(['version', 'reason'])),
              'must be an array',
            ),
          ),
        },
        objectMessage(['minimum', 'knownBad']),
      ),
    ),
    '{}',
  ) as v.GenericSchema<string | undefined, VersionPolicyOverrides>,
  /** The on-call user group: may approve, and is mentioned on escalation. */
  ONCALL_USERGROUP_ID: v.optional(
    v.pipe(v.string(), v.regex(SLACK_ID.userGroup, 'is not a Slack user group id (S…)')),
  ),
  /** Users who may approve besides the group: Slack user ids, comma-separated. */
  ONCALL_ALLOWLIST: v.optional(list(SLACK_ID.user, 'Slack user id (U…/W…)', 0), ''),
  /** Which alarms open incidents: by name prefix or exact name. `{}` accepts every alarm. */
  ALARM_FILTER: v.optional(
    json(
      v.strictObject(
        {
          namePrefixes: v.optional(v.array(v.pipe(nonEmpty('a prefix'), v.maxLength(255, 'is too long')))),
          names: v.optional(v.array(v.pipe(nonEmpty('a name'), v.maxLength(255, 'is too long')))),
        },
        objectMessage(['namePrefixes', 'names']),
      ),
    ),
    '{}',
  ) as v.GenericSchema<string | undefined, AlarmFilter>,
  /** Channels besides SLACK_CHANNEL_ID where `@nodemedic` mentions act: Slack channel ids, comma-separated. */
  MENTION_CHANNEL_IDS: v.optional(list(SLACK_ID.channel, 'Slack channel id (C…/G…)', 0), ''),
  /** The secret holding the PagerDuty Events API v2 routing key (`{"routingKey": "…"}`); unset: no paging. */
  PAGER_SECRET_ID: v.optional(v.pipe(v.string(), secretId())),
  /** The Events API base: PagerDuty's own by default (EU accounts: https://events.eu.pagerduty.com). */
  PAGER_EVENTS_URL: v.optional(httpUrl()),
  /** Slack's Web API base: Slack's own by default; GovSlack and the local stand-in have others. */
  SLACK_API_URL: v.optional(httpUrl()),
} satisfies Record<EnvName, v.GenericSchema<string | undefined, unknown>>;

/** Parsed configuration: each variable's value after its schema. */
export type Env = { readonly [K in EnvName]: v.InferOutput<(typeof SCHEMAS)[K]> };

/** What the factory of port `P` reads. */
export type PortEnv<P extends Port> = Pick<Env, PortEnvName<P>>;

/**
 * Parse the named variables (an empty string counts as unset). Throws one NodemedicError
 * (`CONFIG_INVALID`) that lists every problem, each naming its variable.
 */
export function loadEnv<K extends EnvName>(
  names: readonly K[],
  source: Readonly<Record<string, string | undefined>> = process.env,
): Pick<Env, K> {
  const values: Partial<Record<EnvName, unknown>> = {};
  const problems: string[] = [];
  for (const name of new Set(names)) {
    const raw = source[name] === '' ? undefined : source[name];
    const result = v.safeParse(SCHEMAS[name] as v.GenericSchema<string | undefined, unknown>, raw);
    if (result.success) values[name] = result.output;
    else {
      problems.push(
        ...result.issues.map((issue) => {
          const path = v.getDotPath(issue);
          return `${name}${path ? `.${path}` : ''}: ${issue.message}`;
        }),
      );
    }
  }
  if (problems.length) {
    throw new NodemedicError('CONFIG_INVALID', `configuration: ${problems.join('; ')}`);
  }
  return values as Pick<Env, K>;
}
