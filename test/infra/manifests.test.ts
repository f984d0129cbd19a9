// biome-ignore-all lint/suspicious/noExplicitAny: synthesized CloudFormation templates are untyped JSON
/**
 * The handler manifests (functions/handlers/manifest/) against both their readers: every handler
 * entry has one and composes exactly its ports, and the synthesized stack gives each function
 * exactly its manifest's grants (nothing more, nothing less), its sizing and its environment.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { afterEach, describe, expect, expectTypeOf, it, vi } from 'vitest';
import { HANDLERS, type HandlerName } from '../../functions/app/contract.js';
import { MANIFESTS } from '../../functions/handlers/manifest/index.js';
import * as reachability from '../../functions/handlers/manifest/reachability.js';
import { type Grants, handlerEnv, type Port } from '../../functions/handlers/manifest/types.js';
import { wire } from '../../functions/handlers/wiring/compose.js';
import { resourcesOf, synthNodeMedic } from './support.js';

const HANDLERS_DIR = join(import.meta.dirname, '..', '..', 'functions', 'handlers');
const NAMES = Object.keys(HANDLERS) as HandlerName[];
const manifest = (name: HandlerName) => MANIFESTS[name];
const envOf = (name: HandlerName) => handlerEnv(manifest(name).wiring);

describe('one manifest per handler', () => {
  it('every handler entry (functions/handlers/*.ts exporting `handler`) has a manifest, and every manifest an entry', () => {
    const entries = readdirSync(HANDLERS_DIR)
      .filter((file) => file.endsWith('.ts'))
      .filter((file) =>
        /export (const|async function) handler\b/.test(readFileSync(join(HANDLERS_DIR, file), 'utf8')),
      )
      .map((file) => file.replace(/\.ts$/, ''))
      .sort();
    expect(entries).toEqual([...NAMES].sort());
    expect(Object.keys(MANIFESTS).sort()).toEqual([...NAMES].sort());
  });

  // wire() holds a handler to its wiring's ports (by type): every handler wires its own manifest.
  it.each(NAMES)('%s composes exactly the ports its manifest lists', (name) => {
    const source = readFileSync(join(HANDLERS_DIR, `${name}.ts`), 'utf8');
    expect(source).toMatch(/\bwire\(wiring, /);
    expect(source).toContain(`import { wiring } from './manifest/${name}.js';`);
  });

  it('grants each composed port what it calls, and the table and secrets to no function without their port', () => {
    for (const name of NAMES) {
      const { wiring, grants } = manifest(name);
      const ports: readonly Port[] = wiring.ports;
      expect(grants.table === 'readWrite', name).toBe(ports.includes('store'));
      expect(grants.secrets?.includes('slack') ?? false, name).toBe(ports.includes('chat'));
      expect(grants.secrets?.includes('pager') ?? false, name).toBe(ports.includes('pager'));
      expect((grants.workflow?.length ?? 0) > 0, name).toBe(
        ports.includes('workflow') || ports.includes('taskTokens'),
      );
      // Task tokens only: the state machine invokes the function, so it may not start executions.
      if (ports.includes('taskTokens')) expect(grants.workflow, name).toEqual(['taskResponse']);
      if (ports.includes('sweeper')) {
        expect(grants.diagnoseDocument, name).toContain('ssm:SendCommand');
        expect(grants.documents, name).toBeUndefined();
        expect(grants.clusterInstances, name).toContain('ssm:SendCommand');
        expect(grants.anyResource, name).toEqual(
          expect.arrayContaining([
            'ssm:ListCommands',
            'ssm:ListCommandInvocations',
            'ssm:GetCommandInvocation',
          ]),
        );
      }
      // The CloudWatch ports need their action; another port may call it too (e.g. a readiness check).
      if (ports.includes('alarms')) expect(grants.alarms, name).toContain('cloudwatch:DescribeAlarms');
      if (ports.includes('readiness')) expect(grants.anyResource, name).toContain('cloudwatch:GetMetricData');
      if (ports.includes('contributors'))
        expect(grants.alarms, name).toContain('cloudwatch:DescribeAlarmContributors');
    }
  });
});

describe('wire', () => {
  afterEach(() => vi.unstubAllEnvs());

  it('takes one factory per port of the wiring, no more and no fewer (checked by tsc)', () => {
    const store = () => ({}) as never;
    const load = () => {
      // @ts-expect-error a port the wiring does not list
      wire(reachability.wiring, { store, inventory: store, runner: store });
      // @ts-expect-error a port the wiring lists, missing
      wire(reachability.wiring, { store });
    };
    void load; // never called: the directives above are what tsc checks
    // The factories wire takes are keyed by exactly the wiring's ports.
    expectTypeOf<keyof Parameters<typeof wire<typeof reachability.wiring>>[1]>().toEqualTypeOf<
      'store' | 'inventory'
    >();
  });

  it("parses its manifest's variables, and only them, and builds each port from them", async () => {
    vi.stubEnv('TABLE_NAME', 'incidents');
    vi.stubEnv('SLACK_CHANNEL_ID', 'C0123456789');
    vi.stubEnv('CLUSTER_TAG_KEY', 'eks:cluster-name');
    vi.stubEnv('CLUSTER_NAMES', 'prod');
    // Read by other functions only: a bad value here is none of reachability's business.
    vi.stubEnv('VERSION_POLICY', '{');
    vi.stubEnv('DOCUMENTS', 'not json');
    const seen: Record<string, unknown> = {};
    const wired = wire(reachability.wiring, {
      store: (env) => {
        seen.store = env.TABLE_NAME;
        return {} as never;
      },
      inventory: (env) => {
        seen.inventory = [env.CLUSTER_TAG_KEY, env.CLUSTER_NAMES];
        return {} as never;
      },
    });
    expect(Object.keys(wired.env).sort()).toEqual([...envOf('reachability')].sort());
    const deps = await wired.deps();
    expect(seen).toEqual({ store: 'incidents', inventory: ['eks:cluster-name', ['prod']] });
    expect(deps.channel).toBe('C0123456789');
    // A port it does not compose is a wiring error, not a call with a grant it never got.
    expect(() => deps.runner.send({} as never)).toThrow('runner.send is not wired into this function');
  });
});

describe('the construct reads the table', () => {
  // Every optional prop that sets a variable or a grant, so each manifest entry shows.
  const { stack, nodemedic, template } = synthNodeMedic({
    versionPolicy: { minimum: '1.7.20' },
    mentionChannelIds: ['C0123456780'],
    pagerDuty: {
      routingKeySecret: Secret.fromSecretCompleteArn(
        new Stack(new App(), 'Keys'),
        'PagerKey',
        'arn:aws:secretsmanager:eu-west-1:123456789012:secret:nodemedic/pagerduty-AbCdEf',
      ),
      eventsUrl: 'https://events.eu.pagerduty.com',
    },
  });
  const resources = template.toJSON().Resources as Record<string, any>;
  const logicalId = (construct: { node: { defaultChild?: unknown } }) =>
    stack.getLogicalId(construct.node.defaultChild as never);
  const tableId = logicalId(nodemedic.table);
  const slackSecretId = logicalId(nodemedic.slackSecret as never);
  const smId = logicalId(nodemedic.stateMachine);
  const dlqId = logicalId(nodemedic.dlq);

  const statementsOf = (name: HandlerName): any[] => {
    const roleId = logicalId(nodemedic.functions[name].role! as never);
    return resourcesOf(template, 'AWS::IAM::Policy')
      .filter(([, p]) => p.Properties.Roles.some((r: any) => r.Ref === roleId))
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
  };
  const actionsOf = (s: any): string[] => [s.Action].flat();

  /** What a function's statements grant, read back into the manifest's terms. */
  function grantsIn(name: HandlerName): Record<string, unknown> {
    const found: Record<string, Set<string>> = {};
    const tableActions: string[] = [];
    const add = (key: string, ...values: string[]) => {
      found[key] ??= new Set();
      for (const value of values) found[key].add(value);
    };
    for (const s of statementsOf(name)) {
      const resource = JSON.stringify(s.Resource);
      const actions = actionsOf(s);
      expect(s.Effect, name).toBe('Allow');
      if (actions.every((a) => a.startsWith('logs:')) && /Logs[0-9A-F]{8}/.test(resource)) {
        add('logs', 'own');
      } else if (resource.includes(tableId)) {
        tableActions.push(...actions);
        add('table', 'readWrite');
      } else if (resource.includes(slackSecretId)) {
        add('secrets', 'slack');
      } else if (resource.includes('nodemedic/pagerduty')) {
        add('secrets', 'pager');
      } else if (s.Resource?.Ref === smId) {
        for (const a of actions) {
          if (a === 'states:StartExecution') add('workflow', 'startExecution');
          else if (/^states:SendTask(Success|Failure|Heartbeat)$/.test(a)) add('workflow', 'taskResponse');
          else throw new Error(`${name}: unexpected ${a} on the state machine`);
        }
      } else if (s.Resource === '*') {
        expect(s.Condition, name).toBeUndefined();
        add('anyResource', ...actions);
      } else if (s.Sid === 'OwnDocuments' && resource.includes(':document/')) {
        add('documents', ...actions);
      } else if (s.Sid === 'DiagnoseDocument' && resource.includes(':document/')) {
        // The diagnose document alone.
        expect([s.Resource].flat(), name).toHaveLength(1);
        add('diagnoseDocument', ...actions);
      } else if (s.Sid === 'ClusterInstances' && resource.includes(':instance/*') && s.Condition) {
        add('clusterInstances', ...actions);
      } else if (s.Sid === 'ClusterGroups' && resource.includes(':autoScalingGroup:') && s.Condition) {
        add('clusterGroups', ...actions);
      } else if (resource.includes(dlqId)) {
        expect(actions, name).toContain('sqs:SendMessage');
        add('deadLetterQueue', 'send');
      } else if (resource.includes(':alarm:')) {
        add('alarms', ...actions);
      } else {
        throw new Error(`${name}: a statement no manifest grant stands for: ${JSON.stringify(s)}`);
      }
    }
    // grantReadWriteData: items and queries (its stream reads in a statement of their own).
    if (found.table)
      expect(tableActions, name).toEqual(expect.arrayContaining(['dynamodb:PutItem', 'dynamodb:Query']));
    return Object.fromEntries(
      Object.entries(found).map(([key, values]) => [
        key,
        typeof manifest(name).grants[key as keyof Grants] === 'string' ? [...values][0] : [...values].sort(),
      ]),
    );
  }

  /** The manifest's grants, as grantsIn reads them back (plus the own log group every function writes). */
  function expected(name: HandlerName): Record<string, unknown> {
    const grants: Grants = manifest(name).grants;
    return {
      logs: ['own'],
      ...Object.fromEntries(
        Object.entries(grants)
          .filter(([, value]) => value !== undefined && value.length !== 0)
          .map(([key, value]) => [key, typeof value === 'string' ? value : [...value].sort()]),
      ),
    };
  }

  it.each(NAMES)('%s is granted exactly what its manifest lists, and nothing it does not', (name) => {
    expect(grantsIn(name)).toEqual(expected(name));
  });

  it.each(NAMES)('%s has its manifest sizing and environment', (name) => {
    const fn = resources[logicalId(nodemedic.functions[name])].Properties;
    const { sizing } = manifest(name);
    expect(fn.MemorySize).toBe(sizing.memory);
    expect(fn.Timeout).toBe(sizing.timeout);
    expect(fn.ReservedConcurrentExecutions).toBe(sizing.reservedConcurrency);
    // Every variable its manifest reads, with every optional prop given; SLACK_API_URL is the local
    // mode's and GovSlack's, never the construct's.
    expect(Object.keys(fn.Environment.Variables).sort()).toEqual(
      ['POWERTOOLS_SERVICE_NAME', 'LOG_LEVEL', ...envOf(name).filter((k) => k !== 'SLACK_API_URL')].sort(),
    );
  });

  it('keeps the functions the state machine invokes free of its ARN (a CloudFormation dependency loop)', () => {
    const definition = JSON.stringify(resources[smId].Properties);
    const invoked = NAMES.filter((name) => definition.includes(logicalId(nodemedic.functions[name])));
    expect(invoked.length).toBeGreaterThan(0);
    for (const name of invoked) {
      const ports: readonly Port[] = manifest(name).wiring.ports;
      expect(ports, name).not.toContain('workflow');
      expect(envOf(name), name).not.toContain('STATE_MACHINE_ARN');
      // Task tokens at most (a rolling fix's next batch), granted in a policy of its own, which the
      // function does not depend on; never StartExecution.
      for (const kind of manifest(name).grants.workflow ?? []) expect(kind, name).toBe('taskResponse');
      if (manifest(name).grants.workflow) {
        const roleId = logicalId(nodemedic.functions[name].role! as never);
        const fn = resources[logicalId(nodemedic.functions[name])];
        const own = Object.entries(resources).filter(
          ([, r]: [string, any]) =>
            r.Type === 'AWS::IAM::Policy' &&
            r.Properties.Roles.some((x: any) => x.Ref === roleId) &&
            JSON.stringify(r.Properties.PolicyDocument).includes(smId),
        );
        expect(own, name).toHaveLength(1);
        expect(fn.DependsOn ?? [], name).not.toContain(own[0]![0]);
      }
    }
  });
});
