/**
 * The construct's trust pieces in the synthesized template: shadow mode as data (a prop and a
 * context value, in the policy every function runs with) and the fix-history index the success
 * rates are queried from.
 */
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import type { HandlerName } from '../../functions/app/contract.js';
import { NodeMedicStack, readSettings } from '../../infra/stack.js';
import { resourcesOf, synthNodeMedic } from './support.js';

function policyOf(spec: ReturnType<typeof synthNodeMedic>, name: HandlerName): Record<string, unknown> {
  const id = spec.stack.getLogicalId(spec.nodemedic.functions[name].node.defaultChild as never);
  return JSON.parse(spec.template.toJSON().Resources[id].Properties.Environment.Variables.SAFETY_POLICY);
}

describe('shadow mode in the construct', () => {
  it('puts the shadow clusters into the policy of every function that decides (analyze, slack)', () => {
    const spec = synthNodeMedic({ shadowClusters: ['prod'] });
    expect(spec.nodemedic.safetyPolicy.shadowClusters).toEqual(['prod']);
    for (const name of ['analyze', 'slack'] as const)
      expect(policyOf(spec, name).shadowClusters).toEqual(['prod']);
  });

  it('merges the prop with safetyPolicy.shadowClusters', () => {
    const spec = synthNodeMedic({ shadowClusters: ['prod'], safetyPolicy: { shadowClusters: ['stage'] } });
    expect([...spec.nodemedic.safetyPolicy.shadowClusters].sort()).toEqual(['prod', 'stage']);
  });

  it('is off by default', () => {
    expect(policyOf(synthNodeMedic(), 'analyze').shadowClusters).toEqual([]);
  });

  it.each([
    [
      { shadowClusters: ['production'] },
      /shadowClusters: production is not one of clusterNames \(prod, stage\)/,
    ],
    [{ shadowClusters: ['a b'] }, /shadowClusters: "a b" is not a cluster name/],
  ])('refuses %j', (props, message) => {
    expect(() => synthNodeMedic(props)).toThrow(message);
  });

  it('is one context value: -c shadowClusters=prod, and a redeploy without it acts again', () => {
    const synth = (context: Record<string, string>) => {
      const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
      const settings = readSettings((key) => context[key]);
      const stack = new NodeMedicStack(app, 'NodeMedic', { settings });
      return JSON.stringify(Template.fromStack(stack).toJSON());
    };
    const base = { slackChannelId: 'C0123456789', clusterNames: 'prod,stage' };
    expect(synth({ ...base, shadowClusters: 'prod' })).toContain('\\"shadowClusters\\":[\\"prod\\"]');
    expect(synth(base)).toContain('\\"shadowClusters\\":[]');
  });
});

describe('the fix-history index', () => {
  it('indexes the incident table by cluster#cause with the end time as sort key', () => {
    const { template } = synthNodeMedic();
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      GlobalSecondaryIndexes: Match.arrayWith([
        {
          IndexName: 'byClusterCause',
          KeySchema: [
            { AttributeName: 'history', KeyType: 'HASH' },
            { AttributeName: 'endedAt', KeyType: 'RANGE' },
          ],
          Projection: {
            ProjectionType: 'INCLUDE',
            NonKeyAttributes: ['incidentId', 'cluster', 'cause', 'remediation', 'passed'],
          },
        },
      ]),
    });
  });

  it('lets the analyze function query it', () => {
    const spec = synthNodeMedic();
    const role = spec.stack.getLogicalId(spec.nodemedic.functions.analyze.role!.node.defaultChild as never);
    const policies = resourcesOf(spec.template, 'AWS::IAM::Policy').filter(([, r]) =>
      JSON.stringify(r.Properties.Roles).includes(role),
    );
    const text = JSON.stringify(policies);
    expect(text).toContain('dynamodb:Query');
    expect(text).toContain('/index/*');
  });
});

describe("the dashboard and nodemedic's own health alarms", () => {
  const spec = synthNodeMedic();
  const alarms = resourcesOf(spec.template, 'AWS::CloudWatch::Alarm');

  it('alarms on a non-empty dead-letter queue', () => {
    const dlq = spec.stack.getLogicalId(spec.nodemedic.dlq.node.defaultChild as never);
    const found = alarms.find(([, a]) => a.Properties.MetricName === 'ApproximateNumberOfMessagesVisible');
    expect(found?.[1].Properties).toMatchObject({
      Namespace: 'AWS/SQS',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlq, 'QueueName'] } }],
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    });
  });

  it("alarms on the state machine's failed executions", () => {
    const machine = spec.stack.getLogicalId(spec.nodemedic.stateMachine.node.defaultChild as never);
    const found = alarms.find(([, a]) => a.Properties.MetricName === 'ExecutionsFailed');
    expect(found?.[1].Properties).toMatchObject({
      Namespace: 'AWS/States',
      Dimensions: [{ Name: 'StateMachineArn', Value: { Ref: machine } }],
      Statistic: 'Sum',
      Threshold: 1,
    });
  });

  it('alarms on Slack errors through the SlackErrors metric the functions emit', () => {
    const found = alarms.find(([, a]) => a.Properties.MetricName === 'SlackErrors');
    expect(found?.[1].Properties).toMatchObject({
      Namespace: 'nodemedic',
      Dimensions: [{ Name: 'service', Value: 'nodemedic' }],
      Statistic: 'Sum',
      Threshold: 1,
    });
  });

  it('notifies the given actions', () => {
    const topicArn = 'arn:aws:sns:eu-west-1:123456789012:oncall';
    const withActions = synthNodeMedic({
      healthAlarmActions: [{ bind: () => ({ alarmActionArn: topicArn }) }],
    });
    const health = resourcesOf(withActions.template, 'AWS::CloudWatch::Alarm');
    expect(health.map(([, a]) => a.Properties.AlarmActions)).toEqual([[topicArn], [topicArn], [topicArn]]);
  });

  it('draws every metric of the namespace, by cluster and cause, on one dashboard', () => {
    const dashboards = resourcesOf(spec.template, 'AWS::CloudWatch::Dashboard');
    expect(dashboards).toHaveLength(1);
    const body = JSON.stringify(dashboards[0]![1].Properties.DashboardBody);
    for (const metric of [
      'Incidents',
      'TimeToFindings',
      'TimeToRecovery',
      'FixesApplied',
      'FixesFailed',
      'FixesRolledBack',
      'ApprovalsRefused',
      'Escalations',
      'Holds',
    ]) {
      expect(body).toContain(`MetricName=\\\\\\"${metric}\\\\\\"`);
    }
    expect(body).toContain("SEARCH('{nodemedic,cause,cluster,service}");
    expect(body).toContain('"type\\":\\"alarm\\"');
  });
});
