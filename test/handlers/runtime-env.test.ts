/**
 * The handlers' configuration: every environment variable parsed by one schema (wiring/env.ts) at
 * cold start, with an error that names the variable and the problem; and every function deployed by
 * the construct starts with exactly the environment the construct gives it.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { HANDLERS, type HandlerName } from '../../functions/app/contract.js';
import { DEFAULT_SAFETY_POLICY } from '../../functions/core/policy.js';
import type { EnvName } from '../../functions/handlers/manifest/types.js';
import { loadEnv } from '../../functions/handlers/wiring/env.js';
import { resourcesOf, synthNodeMedic } from '../infra/support.js';

/** A valid value for every variable. */
const VALID: Record<EnvName, string> = {
  TABLE_NAME: 'Spec-NodeMedicIncidents-1A2B3C',
  SLACK_SECRET_ID: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:nodemedic/slack-AbCdEf',
  SLACK_CHANNEL_ID: 'C0123456789',
  CLUSTER_TAG_KEY: 'eks:cluster-name',
  CLUSTER_NAMES: 'prod, stage',
  STATE_MACHINE_ARN: 'arn:aws:states:eu-west-1:123456789012:stateMachine:NodeMedicWorkflow-1A2B',
  DOCUMENTS: '{"diagnose":"Spec-NodeMedicDiagnose-1A2B","restart-containerd":"Spec-Restart-1A2B"}',
  SAFETY_POLICY: '{"maxFixesInFlightPerCluster":2}',
  VERSION_POLICY: '{"minimum":"1.7.20","knownBad":[{"version":"1.7.21","reason":"a regression"}]}',
  ONCALL_USERGROUP_ID: 'S0123456789',
  ONCALL_ALLOWLIST: 'U0123456789,W0BOB',
  MENTION_CHANNEL_IDS: 'C0OPS123, G0PRIVATE1',
  PAGER_SECRET_ID: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:nodemedic/pagerduty-AbCdEf',
  PAGER_EVENTS_URL: 'https://events.eu.pagerduty.com',
  ALARM_FILTER: '{"namePrefixes":["nodemedic-"]}',
  SLACK_API_URL: 'http://127.0.0.1:8080/api/',
};
const ALL = Object.keys(VALID) as EnvName[];

/** The one message `loadEnv` throws for `name` set to `value` (the others valid). */
function problem(name: EnvName, value: string | undefined): string {
  try {
    loadEnv([name], { ...VALID, [name]: value });
  } catch (error) {
    expect(error).toMatchObject({ code: 'CONFIG_INVALID' });
    return (error as Error).message.replace(/^configuration: /, '');
  }
  throw new Error(`${name}=${JSON.stringify(value)} was accepted`);
}

describe('loadEnv', () => {
  it('parses every variable into its typed value', () => {
    expect(loadEnv(ALL, VALID)).toEqual({
      ...VALID,
      CLUSTER_NAMES: ['prod', 'stage'],
      DOCUMENTS: { diagnose: 'Spec-NodeMedicDiagnose-1A2B', 'restart-containerd': 'Spec-Restart-1A2B' },
      SAFETY_POLICY: { ...DEFAULT_SAFETY_POLICY, maxFixesInFlightPerCluster: 2 },
      VERSION_POLICY: { minimum: '1.7.20', knownBad: [{ version: '1.7.21', reason: 'a regression' }] },
      ONCALL_ALLOWLIST: ['U0123456789', 'W0BOB'],
      MENTION_CHANNEL_IDS: ['C0OPS123', 'G0PRIVATE1'],
      ALARM_FILTER: { namePrefixes: ['nodemedic-'] },
    });
  });

  it('gives the optional variables their defaults when unset or empty', () => {
    const optional = [
      'SAFETY_POLICY',
      'VERSION_POLICY',
      'ONCALL_USERGROUP_ID',
      'ONCALL_ALLOWLIST',
      'MENTION_CHANNEL_IDS',
      'PAGER_SECRET_ID',
      'PAGER_EVENTS_URL',
      'ALARM_FILTER',
      'SLACK_API_URL',
    ] as const;
    const expected = {
      SAFETY_POLICY: DEFAULT_SAFETY_POLICY,
      VERSION_POLICY: {},
      ONCALL_USERGROUP_ID: undefined,
      ONCALL_ALLOWLIST: [],
      MENTION_CHANNEL_IDS: [],
      PAGER_SECRET_ID: undefined,
      PAGER_EVENTS_URL: undefined,
      ALARM_FILTER: {},
      SLACK_API_URL: undefined,
    };
    expect(loadEnv(optional, {})).toEqual(expected);
    expect(loadEnv(optional, Object.fromEntries(optional.map((n) => [n, ''])))).toEqual(expected);
  });

  it.each([
    ['TABLE_NAME', undefined, 'TABLE_NAME: is not set'],
    ['TABLE_NAME', '', 'TABLE_NAME: is not set'],
    ['TABLE_NAME', 'my table', 'TABLE_NAME: is not a DynamoDB table name'],
    ['SLACK_SECRET_ID', undefined, 'SLACK_SECRET_ID: is not set'],
    ['SLACK_SECRET_ID', 'nodemedic slack', 'SLACK_SECRET_ID: is not a secret name or ARN'],
    ['SLACK_CHANNEL_ID', '#alerts', 'SLACK_CHANNEL_ID: is not a Slack channel id (C…)'],
    ['CLUSTER_TAG_KEY', 'a"b', 'CLUSTER_TAG_KEY: is not an AWS tag key'],
    ['CLUSTER_TAG_KEY', 'k'.repeat(129), 'CLUSTER_TAG_KEY: is not an AWS tag key'],
    ['CLUSTER_NAMES', ' , ', 'CLUSTER_NAMES: names no cluster tag value'],
    ['CLUSTER_NAMES', 'prod,bad"name', 'CLUSTER_NAMES: "bad\\"name" is not a cluster tag value'],
    [
      'STATE_MACHINE_ARN',
      'arn:aws:lambda:eu-west-1:123456789012:function:x',
      'STATE_MACHINE_ARN: is not a Step Functions state machine ARN',
    ],
    ['DOCUMENTS', undefined, 'DOCUMENTS: is not set'],
    ['DOCUMENTS', '{diagnose:1}', 'DOCUMENTS: is not valid JSON'],
    ['DOCUMENTS', '"nodemedic-diagnose"', 'DOCUMENTS: must be an object of script id to document name'],
    ['DOCUMENTS', '{"restart-containerd":"Spec-Restart"}', 'DOCUMENTS: names no diagnose document'],
    ['DOCUMENTS', '{"diagnose":"x"}', 'DOCUMENTS.diagnose: is not an SSM document name'],
    ['DOCUMENTS', '{"diagnose":"Spec-D","rm-rf":"Spec-X"}', 'DOCUMENTS.rm-rf: "rm-rf" is not a script id'],
    [
      'SAFETY_POLICY',
      '{"approvalTimeoutMinutes":45}',
      'SAFETY_POLICY: safety policy.approvalTimeoutMinutes: 45 is outside 1..29',
    ],
    [
      'SAFETY_POLICY',
      '{"retryBudget":"2"}',
      'SAFETY_POLICY: safety policy.retryBudget: expected a number, got "2"',
    ],
    ['SAFETY_POLICY', '{"maxFixes":1}', 'SAFETY_POLICY: safety policy.maxFixes: unknown field'],
    ['SAFETY_POLICY', 'null', 'SAFETY_POLICY: safety policy: expected an object, got null'],
    ['VERSION_POLICY', '{"minimum":"1.x"}', 'VERSION_POLICY.minimum: "1.x" is not a version'],
    ['VERSION_POLICY', '{"minimum":1.7}', 'VERSION_POLICY.minimum: is not a string'],
    [
      'VERSION_POLICY',
      '{"minimun":"1.7.0"}',
      'VERSION_POLICY.minimun: is not a known field (known: minimum, knownBad)',
    ],
    ['VERSION_POLICY', '{"knownBad":[{"version":"1.7.21"}]}', 'VERSION_POLICY.knownBad.0.reason: is missing'],
    [
      'VERSION_POLICY',
      '{"knownBad":[{"version":"1.7.21","reason":" "}]}',
      'VERSION_POLICY.knownBad.0.reason: is empty',
    ],
    ['VERSION_POLICY', '{"knownBad":{"version":"1.7.21"}}', 'VERSION_POLICY.knownBad: must be an array'],
    ['VERSION_POLICY', '"1.7.0"', 'VERSION_POLICY: must be an object'],
    ['ONCALL_USERGROUP_ID', 'oncall', 'ONCALL_USERGROUP_ID: is not a Slack user group id (S…)'],
    ['ONCALL_ALLOWLIST', 'U0DAVE, @alice', 'ONCALL_ALLOWLIST: "@alice" is not a Slack user id (U…/W…)'],
    [
      'MENTION_CHANNEL_IDS',
      'C0OPS123,#alerts',
      'MENTION_CHANNEL_IDS: "#alerts" is not a Slack channel id (C…/G…)',
    ],
    [
      'ALARM_FILTER',
      '{"namePrefix":["nodemedic-"]}',
      'ALARM_FILTER.namePrefix: is not a known field (known: namePrefixes, names)',
    ],
    ['ALARM_FILTER', '{"names":[""]}', 'ALARM_FILTER.names.0: is empty'],
    ['ALARM_FILTER', '{"names":"nodemedic-x"}', 'ALARM_FILTER.names: Invalid type'],
    ['SLACK_API_URL', 'slack.com/api/', 'SLACK_API_URL: is not a URL'],
    ['SLACK_API_URL', 'ftp://slack.com/api/', 'SLACK_API_URL: must be an http(s) URL'],
  ] as const)('%s=%j: %s', (name, value, expected) => {
    expect(problem(name, value)).toContain(expected);
  });

  it('lists every problem at once, each with its variable', () => {
    expect(() =>
      loadEnv(['TABLE_NAME', 'VERSION_POLICY', 'CLUSTER_NAMES'], {
        VERSION_POLICY: '{"minimum":"1.x"}',
        CLUSTER_NAMES: 'prod',
      }),
    ).toThrow('configuration: TABLE_NAME: is not set; VERSION_POLICY.minimum: "1.x" is not a version');
  });

  it('reads only the variables it is asked for', () => {
    expect(loadEnv(['TABLE_NAME'], { TABLE_NAME: 'incidents', VERSION_POLICY: '{' })).toEqual({
      TABLE_NAME: 'incidents',
    });
  });
});

describe('cold start', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.resetModules();
  });
  const stub = (env: Partial<Record<string, string>>) => {
    for (const name of ALL) vi.stubEnv(name, env[name] ?? '');
  };

  it('a bad version policy fails the analyze function when it loads, before any event', async () => {
    stub({ ...VALID, VERSION_POLICY: '{"minimum":"1.x"}' });
    await expect(import('../../functions/handlers/analyze.js')).rejects.toThrow(
      'VERSION_POLICY.minimum: "1.x" is not a version',
    );
  });

  it('a bad alarm filter fails the alarm function when it loads, instead of on every event', async () => {
    stub({ ...VALID, ALARM_FILTER: '["nodemedic-"]' });
    await expect(import('../../functions/handlers/alarm.js')).rejects.toThrow('ALARM_FILTER');
  });

  // The construct's environment, function by function: its literal values as synthesized, and a
  // valid stand-in where CloudFormation resolves a reference at deploy time.
  const { template } = synthNodeMedic({ versionPolicy: { minimum: '1.7.20' } });
  const deployed = new Map<string, Record<string, unknown>>();
  for (const [, fn] of resourcesOf(template, 'AWS::Lambda::Function')) {
    const entry = /nodemedic (\S+):/.exec(String(fn.Properties.Description))?.[1];
    if (entry) deployed.set(entry, fn.Properties.Environment?.Variables ?? {});
  }
  const names = Object.keys(HANDLERS) as HandlerName[];

  it('the construct refuses at synth a version policy the functions would refuse', () => {
    expect(() => synthNodeMedic({ versionPolicy: { minimum: '1.x' } })).toThrow(
      'NodeMedic: versionPolicy.minimum: not a version: "1.x"',
    );
  });

  it('finds every function in the synthesized stack', () => {
    expect([...deployed.keys()].sort()).toEqual([...names].sort());
  });

  it.each(names)('%s starts with the environment the construct gives it, and not without', async (name) => {
    const variables = deployed.get(name)!;
    const env = Object.fromEntries(
      Object.entries(variables).map(([key, value]) => [
        key,
        typeof value === 'string' ? value : VALID[key as EnvName],
      ]),
    );
    stub(env);
    const module = await import(`../../functions/handlers/${name}.ts`);
    expect(typeof module.handler).toBe('function');

    // Each required variable the construct sets is one the function really needs.
    for (const required of ['TABLE_NAME', 'DOCUMENTS', 'CLUSTER_NAMES'] as const) {
      if (!(required in variables)) continue;
      vi.resetModules();
      stub({ ...env, [required]: '' });
      await expect(import(`../../functions/handlers/${name}.ts`)).rejects.toThrow(`${required}: is not set`);
    }
  });
});
