// biome-ignore-all lint/suspicious/noExplicitAny: synthesized CloudFormation templates are untyped JSON
/**
 * The NodeMedic construct, read from its synthesized template: the trigger, the DLQ, the table,
 * least-privilege IAM (SendCommand scoped to our documents and tagged instances), the Function URL,
 * what each function's environment holds, prop validation, and zero unacknowledged cdk-nag findings.
 */
import { readFileSync } from 'node:fs';
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Alarm as CwAlarm } from 'aws-cdk-lib/aws-cloudwatch';
import { Cluster } from 'aws-cdk-lib/aws-eks';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { HANDLERS, type HandlerName } from '../../functions/app/contract.js';
import { parseAlarmEvent } from '../../functions/core/alarm.js';
import { DEFAULT_SAFETY_POLICY } from '../../functions/core/policy.js';
import { MANIFESTS } from '../../functions/handlers/manifest/index.js';
import { handlerEnv } from '../../functions/handlers/manifest/types.js';
import { NodeMedic } from '../../infra/nodemedic.js';
import { resourcesOf, synthNodeMedic } from './support.js';

const { app, stack, nodemedic, template } = synthNodeMedic();

/** Every statement of the policy attached to one function's role. */
function statementsOf(name: HandlerName): any[] {
  const roleId = stack.getLogicalId(nodemedic.functions[name].role!.node.defaultChild as never);
  return resourcesOf(template, 'AWS::IAM::Policy')
    .filter(([, p]) => p.Properties.Roles.some((r: any) => r.Ref === roleId))
    .flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
}
const actionsOf = (s: any): string[] => [s.Action].flat();
const resourcesOfStatement = (s: any): unknown[] => [s.Resource].flat();

describe('trigger', () => {
  it.each([
    [['evaluate'], 'cloudwatch:DescribeAlarms'], // the state of the alarm, for the verification
    // a multi-time-series alarm's contributors; and, after a fix, whether the node's contributor left ALARM
    [['alarm', 'evaluate'], 'cloudwatch:DescribeAlarmContributors'],
  ] as const)('lets only %s call %s, scoped to the alarms the filter accepts', (only, action) => {
    for (const fn of only) {
      const [s] = statementsOf(fn).filter((st) => actionsOf(st).includes(action));
      expect(actionsOf(s), fn).toEqual([action]);
      expect(JSON.stringify(s.Resource), fn).toContain(':alarm:nodemedic-*');
    }
    for (const name of Object.keys(HANDLERS) as HandlerName[]) {
      if ((only as readonly string[]).includes(name)) continue;
      expect(
        statementsOf(name).some((st) => actionsOf(st).includes(action)),
        name,
      ).toBe(false);
    }
  });

  it('matches alarm and contributor state changes to ALARM or OK whose name has the prefix', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.cloudwatch'],
        'detail-type': ['CloudWatch Alarm State Change', 'CloudWatch Alarm Contributor State Change'],
        detail: { state: { value: ['ALARM', 'OK'] }, alarmName: [{ prefix: 'nodemedic-' }] },
      },
    });
  });

  it('retries delivery and dead-letters to an SSL-only queue, also the async failure destination', () => {
    const dlqId = stack.getLogicalId(nodemedic.dlq.node.defaultChild as never);
    template.hasResourceProperties('AWS::Events::Rule', {
      Targets: [
        Match.objectLike({
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [dlqId, 'Arn'] } },
          RetryPolicy: { MaximumRetryAttempts: Match.anyValue(), MaximumEventAgeInSeconds: Match.anyValue() },
        }),
      ],
    });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [dlqId, 'Arn'] } } },
    });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('uses the configured names and prefixes, or every alarm for an empty filter', () => {
    const named = synthNodeMedic({ alarmFilter: { namePrefixes: ['eks-'], names: ['node-down'] } }).template;
    named.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { detail: { alarmName: [{ prefix: 'eks-' }, 'node-down'] } },
    });
    const every = synthNodeMedic({ alarmFilter: {} }).template;
    every.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { detail: { state: { value: ['ALARM', 'OK'] }, alarmName: Match.absent() } },
    });
  });
});

describe('stuck executions', () => {
  const ruleOf = () => {
    const id = stack.getLogicalId(nodemedic.executionEndedRule.node.defaultChild as never);
    return template.toJSON().Resources[id].Properties;
  };

  it('matches only this state machine’s executions that ended FAILED, TIMED_OUT or ABORTED', () => {
    const smId = stack.getLogicalId(nodemedic.stateMachine.node.defaultChild as never);
    expect(ruleOf().EventPattern).toEqual({
      source: ['aws.states'],
      'detail-type': ['Step Functions Execution Status Change'],
      detail: { status: ['FAILED', 'TIMED_OUT', 'ABORTED'], stateMachineArn: [{ Ref: smId }] },
    });
  });

  it('invokes the execution-ended function, with retries and the dead-letter queue', () => {
    const dlqId = stack.getLogicalId(nodemedic.dlq.node.defaultChild as never);
    const fnId = stack.getLogicalId(nodemedic.functions['execution-ended'].node.defaultChild as never);
    expect(ruleOf().Targets).toEqual([
      expect.objectContaining({
        Arn: { 'Fn::GetAtt': [fnId, 'Arn'] },
        DeadLetterConfig: { Arn: { 'Fn::GetAtt': [dlqId, 'Arn'] } },
        RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 3600 },
      }),
    ]);
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      FunctionName: { 'Fn::GetAtt': [fnId, 'Arn'] },
      Principal: 'events.amazonaws.com',
      SourceArn: {
        'Fn::GetAtt': [stack.getLogicalId(nodemedic.executionEndedRule.node.defaultChild as never), 'Arn'],
      },
    });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: fnId },
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [dlqId, 'Arn'] } } },
    });
  });

  it('grants execution-ended the table and the Slack secret, and nothing on EC2, SSM or the workflow', () => {
    const statements = statementsOf('execution-ended');
    const actions = statements.flatMap(actionsOf);
    expect(actions).toEqual(expect.arrayContaining(['dynamodb:PutItem', 'secretsmanager:GetSecretValue']));
    expect(actions.filter((a) => /^(ec2|ssm|states|autoscaling|cloudwatch):/.test(a))).toEqual([]);
    for (const s of statements) expect(resourcesOfStatement(s)).not.toContain('*');
  });
});

describe('storage', () => {
  it('keeps incidents in a table keyed by pk with TTL on ttl and point-in-time recovery', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      BillingMode: 'PAY_PER_REQUEST',
    });
  });
});

describe('functions', () => {
  const fns = resourcesOf(template, 'AWS::Lambda::Function');

  it('deploys one function per handler of the contract, on the newest Node runtime, as ESM', () => {
    expect(Object.keys(nodemedic.functions).sort()).toEqual(Object.keys(HANDLERS).sort());
    expect(fns).toHaveLength(Object.keys(HANDLERS).length);
    for (const [, fn] of fns) {
      expect(fn.Properties.Runtime).toBe('nodejs24.x');
      expect(fn.Properties.Handler).toBe('index.handler');
    }
  });

  it.each(Object.keys(HANDLERS) as HandlerName[])('%s gets only the environment it needs', (name) => {
    const id = stack.getLogicalId(nodemedic.functions[name].node.defaultChild as never);
    const env = template.toJSON().Resources[id].Properties.Environment.Variables as Record<string, unknown>;
    const expected = [
      'POWERTOOLS_SERVICE_NAME',
      'LOG_LEVEL',
      'TABLE_NAME',
      'SLACK_CHANNEL_ID',
      'SAFETY_POLICY',
      'ONCALL_USERGROUP_ID',
      // Optional props the base spec leaves out: set only when given.
      ...handlerEnv(MANIFESTS[name].wiring).filter(
        (k: string) =>
          ![
            'VERSION_POLICY',
            'MENTION_CHANNEL_IDS',
            'PAGER_SECRET_ID',
            'PAGER_EVENTS_URL',
            // Local mode and GovSlack only: the construct never sets it.
            'SLACK_API_URL',
          ].includes(k),
      ),
    ];
    expect(Object.keys(env).sort()).toEqual([...new Set(expected)].sort());
    expect(env.POWERTOOLS_SERVICE_NAME).toBe('nodemedic');
    expect(JSON.parse(env.SAFETY_POLICY as string)).toEqual(DEFAULT_SAFETY_POLICY);
  });

  it('passes the state machine ARN only to the functions that start or resume it', () => {
    const smId = stack.getLogicalId(nodemedic.stateMachine.node.defaultChild as never);
    for (const name of Object.keys(HANDLERS) as HandlerName[]) {
      const id = stack.getLogicalId(nodemedic.functions[name].node.defaultChild as never);
      const env = template.toJSON().Resources[id].Properties.Environment.Variables;
      // execution-ended compares an event's state machine with it, and is granted nothing on it.
      if (name === 'alarm' || name === 'slack' || name === 'execution-ended')
        expect(env.STATE_MACHINE_ARN, name).toEqual({ Ref: smId });
      else expect(env.STATE_MACHINE_ARN, name).toBeUndefined();
    }
  });

  it('puts no secret value in any environment: only the secret ARN', () => {
    const secretId = stack.getLogicalId(nodemedic.slackSecret.node.defaultChild as never);
    for (const [logicalId, fn] of fns) {
      const env = fn.Properties.Environment.Variables as Record<string, unknown>;
      const text = JSON.stringify(env);
      expect(text, logicalId).not.toMatch(/xox[abp]-|REPLACE_ME|signingSecret|botToken/i);
      if (env.SLACK_SECRET_ID) expect(env.SLACK_SECRET_ID).toEqual({ Ref: secretId });
    }
  });

  it('maps every script id to its SSM document name in DOCUMENTS', () => {
    const id = stack.getLogicalId(nodemedic.functions.send.node.defaultChild as never);
    const docs = stack.resolve(template.toJSON().Resources[id].Properties.Environment.Variables.DOCUMENTS);
    const text = JSON.stringify(docs);
    for (const [scriptId, doc] of Object.entries(nodemedic.documents)) {
      expect(text).toContain(`"${scriptId}\\":`);
      expect(text).toContain(stack.getLogicalId(doc));
    }
  });

  it('exposes the Slack function through a Function URL without IAM auth (Slack signs instead)', () => {
    const slackId = stack.getLogicalId(nodemedic.functions.slack.node.defaultChild as never);
    template.hasResourceProperties('AWS::Lambda::Url', {
      AuthType: 'NONE',
      TargetFunctionArn: { 'Fn::GetAtt': [slackId, 'Arn'] },
    });
  });

  it('uses a role of its own per function, writing logs to its own group only', () => {
    template.resourceCountIs('AWS::IAM::Role', Object.keys(HANDLERS).length + 1);
    for (const name of Object.keys(HANDLERS) as HandlerName[]) {
      const logs = statementsOf(name).filter((s) => actionsOf(s).some((a) => a.startsWith('logs:')));
      expect(logs, name).toHaveLength(1);
      expect(JSON.stringify(logs[0].Resource), name).toMatch(/Logs[0-9A-F]{8}/);
    }
  });
});

describe('least privilege', () => {
  it('scopes SendCommand to our documents, and to instances only under the cluster tag condition', () => {
    const sends = statementsOf('send').filter((s) => actionsOf(s).includes('ssm:SendCommand'));
    expect(sends).toHaveLength(2);
    const docs = sends.find((s) => s.Sid === 'OwnDocuments');
    const inst = sends.find((s) => s.Sid === 'ClusterInstances');
    const docIds = Object.values(nodemedic.documents).map((d) => stack.getLogicalId(d));
    expect(resourcesOfStatement(docs)).toHaveLength(docIds.length);
    for (const r of resourcesOfStatement(docs)) {
      expect(JSON.stringify(r)).toMatch(/:document\//);
      expect(docIds.some((id) => JSON.stringify(r).includes(id))).toBe(true);
    }
    expect(docs.Condition).toBeUndefined();
    expect(JSON.stringify(inst.Resource)).toContain(':instance/*');
    expect(inst.Condition).toEqual({
      StringEquals: { 'aws:ResourceTag/eks:cluster-name': ['prod', 'stage'] },
    });
  });

  it('never grants SendCommand, reboot, terminate or console output on a bare *', () => {
    const scoped = [
      'ssm:SendCommand',
      'ec2:RebootInstances',
      'autoscaling:TerminateInstanceInAutoScalingGroup',
      'ec2:GetConsoleOutput',
    ];
    for (const name of Object.keys(HANDLERS) as HandlerName[]) {
      for (const s of statementsOf(name)) {
        if (actionsOf(s).some((a) => scoped.includes(a))) {
          expect(resourcesOfStatement(s), `${name} ${actionsOf(s)}`).not.toContain('*');
          const onDocuments = s.Sid === 'OwnDocuments' || s.Sid === 'DiagnoseDocument';
          if (!actionsOf(s).includes('ssm:SendCommand') || !onDocuments) {
            expect(s.Condition, `${name} ${actionsOf(s)}`).toBeDefined();
          }
        }
      }
    }
  });

  it('gives the mutating EC2/ASG actions to the send function alone', () => {
    const mutating = [
      'ssm:SendCommand',
      'ec2:RebootInstances',
      'autoscaling:TerminateInstanceInAutoScalingGroup',
    ];
    for (const name of Object.keys(HANDLERS) as HandlerName[]) {
      const has = statementsOf(name).some((s) => actionsOf(s).some((a) => mutating.includes(a)));
      // alarm sends the diagnose document's read-only quick probe (a cluster-only alarm's sweep).
      expect(has, name).toBe(name === 'send' || name === 'alarm');
    }
    const alarmSends = statementsOf('alarm').filter((s) => actionsOf(s).some((a) => mutating.includes(a)));
    for (const s of alarmSends) expect(actionsOf(s), 'alarm').toEqual(['ssm:SendCommand']);
    // Its documents: the diagnose document alone, never a fix.
    const documents = alarmSends.filter((s) => JSON.stringify(s.Resource).includes(':document/'));
    expect(documents).toHaveLength(1);
    expect(JSON.stringify(documents[0].Resource)).toContain(
      stack.getLogicalId(nodemedic.documents.diagnose!),
    );
  });

  it('lets only alarm and slack start or resume executions, outcome and escalate resume a roll, on this state machine', () => {
    const smId = stack.getLogicalId(nodemedic.stateMachine.node.defaultChild as never);
    for (const name of Object.keys(HANDLERS) as HandlerName[]) {
      const states = statementsOf(name).filter((s) => actionsOf(s).some((a) => a.startsWith('states:')));
      if (name === 'outcome' || name === 'escalate') {
        expect(states.flatMap(actionsOf).sort(), name).toEqual([
          'states:SendTaskFailure',
          'states:SendTaskHeartbeat',
          'states:SendTaskSuccess',
        ]);
        for (const s of states) expect(s.Resource).toEqual({ Ref: smId });
      } else if (name === 'alarm' || name === 'slack') {
        const actions = states.flatMap(actionsOf);
        expect(actions).toEqual(
          expect.arrayContaining([
            'states:StartExecution',
            'states:SendTaskSuccess',
            'states:SendTaskFailure',
          ]),
        );
        for (const s of states) expect(s.Resource).toEqual({ Ref: smId });
      } else {
        expect(states, name).toEqual([]);
      }
    }
  });

  it('lets poll alone cancel commands, and poll only cancel them (the state machine reads them)', () => {
    for (const name of Object.keys(HANDLERS) as HandlerName[]) {
      const cancels = statementsOf(name).some((s) => actionsOf(s).includes('ssm:CancelCommand'));
      expect(cancels, name).toBe(name === 'poll');
    }
    const ssm = statementsOf('poll')
      .flatMap(actionsOf)
      .filter((a) => a.startsWith('ssm:'));
    expect(ssm.sort()).toEqual(['ssm:CancelCommand']);
  });
});

describe('cdk-nag AwsSolutions', () => {
  it('reports zero unacknowledged findings', () => {
    const report = new AwsSolutionsChecks(app).validateScope(app);
    const findings = report.violations.map(
      (v) => `${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}`,
    );
    expect(findings).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('does report a wildcard that nobody acknowledged (the check is live)', () => {
    const spec = synthNodeMedic();
    spec.nodemedic.functions.poll.addToRolePolicy(
      new PolicyStatement({ actions: ['s3:GetObject'], resources: ['arn:aws:s3:::bucket/*'] }),
    );
    const report = new AwsSolutionsChecks(spec.app).validateScope(spec.app);
    expect(report.violations.map((v) => v.ruleName)).toContain(
      'AwsSolutions-IAM5[Resource::arn:aws:s3:::bucket/*]',
    );
  });
});

describe('props', () => {
  it.each([
    [{ slackChannelId: '#alerts' }, /slackChannelId must be a Slack channel id/],
    [{ clusterNames: [] }, /clusterNames \(or clusters\) must name at least one cluster/],
    [{ clusterNames: ['bad"name'] }, /clusterNames: "bad\\"name" is not a valid tag value/],
    [{ onCallUserGroupId: 'oncall' }, /onCallUserGroupId must be a Slack user group id/],
    [{ onCallAllowList: ['alice'] }, /onCallAllowList: "alice" is not a Slack user id/],
    [{ mentionChannelIds: ['#ops'] }, /mentionChannelIds: "#ops" is not a Slack channel id/],
    [{ clusterTagKey: '' }, /clusterTagKey "" is not a valid tag key/],
    [{ alarmFilter: { namePrefixes: [] } }, /alarmFilter.namePrefixes is empty/],
    [{ safetyPolicy: { approvalTimeoutMinutes: 45 } }, /approvalTimeoutMinutes/],
  ] as const)('refuses %j', (props, message) => {
    expect(() => synthNodeMedic(props as never)).toThrow(message);
  });

  it('runs the validated safety policy: the approval timeout becomes the task timeout', () => {
    const spec = synthNodeMedic({ safetyPolicy: { approvalTimeoutMinutes: 10 } });
    expect(spec.nodemedic.safetyPolicy.approvalTimeoutMinutes).toBe(10);
    expect(JSON.stringify(spec.template.toJSON())).toContain('\\"TimeoutSeconds\\":600');
  });

  it('gives the extra mention channels to the Slack function only', () => {
    const spec = synthNodeMedic({ mentionChannelIds: ['C0OPS0001', 'G0PRIV0001'] });
    for (const name of Object.keys(HANDLERS) as HandlerName[]) {
      const id = spec.stack.getLogicalId(spec.nodemedic.functions[name].node.defaultChild as never);
      const env = spec.template.toJSON().Resources[id].Properties.Environment.Variables;
      expect(env.MENTION_CHANNEL_IDS, name).toBe(name === 'slack' ? 'C0OPS0001,G0PRIV0001' : undefined);
    }
  });

  it('scopes by a custom cluster tag key', () => {
    const spec = synthNodeMedic({ clusterTagKey: 'nodemedic:cluster', clusterNames: ['blue'] });
    expect(JSON.stringify(spec.template.toJSON())).toContain('"aws:ResourceTag/nodemedic:cluster":["blue"]');
  });
});

describe('example Container Insights alarm (opt-in)', () => {
  it('is absent unless asked for', () => {
    // nodemedic's own health alarms are always there (test/infra/trust.test.ts); no node alarm is.
    const nodeAlarms = template.findResources('AWS::CloudWatch::Alarm', {
      Properties: { Namespace: 'ContainerInsights' },
    });
    expect(Object.keys(nodeAlarms)).toHaveLength(0);
  });

  it('alarms per node on node_status_condition_ready < 1 with missing data breaching, named to match the filter', () => {
    const spec = synthNodeMedic({
      containerInsightsAlarm: {
        clusterName: 'prod',
        nodes: [{ nodeName: 'ip-10-0-1-5.ec2.internal', instanceId: 'i-0123456789abcdef0' }],
      },
    });
    spec.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'nodemedic-prod-ip-10-0-1-5.ec2.internal-not-ready',
      Namespace: 'ContainerInsights',
      MetricName: 'node_status_condition_ready',
      Dimensions: [
        { Name: 'ClusterName', Value: 'prod' },
        { Name: 'InstanceId', Value: 'i-0123456789abcdef0' },
        { Name: 'NodeName', Value: 'ip-10-0-1-5.ec2.internal' },
      ],
      Statistic: 'Minimum',
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
    });
  });

  it('without a node list, is one Metrics Insights alarm over every node of the cluster, grouped by node', () => {
    const spec = synthNodeMedic({ containerInsightsAlarm: { clusterName: 'prod' } });
    // One node alarm, beside nodemedic's own health alarms (test/infra/trust.test.ts).
    const insights = spec.template.findResources('AWS::CloudWatch::Alarm', {
      Properties: { Metrics: Match.anyValue() },
    });
    expect(Object.keys(insights)).toHaveLength(1);
    spec.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'nodemedic-prod-nodes-not-ready',
      Metrics: [
        {
          Id: Match.anyValue(),
          Expression:
            'SELECT MIN(node_status_condition_ready) FROM SCHEMA("ContainerInsights", ClusterName, InstanceId, NodeName) ' +
            "WHERE ClusterName = 'prod' GROUP BY InstanceId, NodeName ORDER BY MIN() ASC",
          Period: 60,
          ReturnData: true,
        },
      ],
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      EvaluationPeriods: 3,
      TreatMissingData: 'notBreaching',
      MetricName: Match.absent(),
      Dimensions: Match.absent(),
    });
    expect(JSON.stringify(spec.template.toJSON())).not.toContain('cluster_failed_node_count');
  });

  it('whose contributor events nodemedic reads back as a node of the cluster', () => {
    const spec = synthNodeMedic({ containerInsightsAlarm: { clusterName: 'prod' } });
    const [[, resource]] = resourcesOf(spec.template, 'AWS::CloudWatch::Alarm') as [[string, any]];
    const event = JSON.parse(
      readFileSync(new URL('../fixtures/alarms/contributor-alarm.json', import.meta.url), 'utf8'),
    );
    event.detail.alarmName = resource.Properties.AlarmName;
    event.detail.configuration.metrics[0].expression = resource.Properties.Metrics[0].Expression;
    const parsed = parseAlarmEvent(event, { namePrefixes: ['nodemedic-'] });
    expect(parsed).toMatchObject({ cluster: 'prod', instanceId: 'i-0abc123def4567890', state: 'ALARM' });
    const summary = JSON.parse(
      readFileSync(new URL('../fixtures/alarms/multi-time-series.json', import.meta.url), 'utf8'),
    );
    summary.detail.configuration.metrics[0].expression = resource.Properties.Metrics[0].Expression;
    expect(parseAlarmEvent(summary)).toMatchObject({ multiTimeSeries: true, cluster: 'prod' });
  });

  it('refuses a cluster name that cannot sit in the query', () => {
    expect(() => synthNodeMedic({ containerInsightsAlarm: { clusterName: "prod' OR ''='" } })).toThrow(
      /containerInsightsAlarm.clusterName .* is not a cluster name/,
    );
  });

  it('passes cdk-nag with the alarm', () => {
    const spec = synthNodeMedic({ containerInsightsAlarm: { clusterName: 'prod' } });
    const report = new AwsSolutionsChecks(spec.app).validateScope(spec.app);
    expect(report.violations.map((v) => v.ruleName)).toEqual([]);
  });

  it('adds its name to an explicit name filter so its state changes reach the bot', () => {
    const spec = synthNodeMedic({
      alarmFilter: { names: ['other'] },
      containerInsightsAlarm: { clusterName: 'prod' },
    });
    spec.template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { detail: { alarmName: ['other', 'nodemedic-prod-nodes-not-ready'] } },
    });
  });
});

describe('paging (opt-in)', () => {
  // The functions that page (escalations, cluster holds) or resolve pages (endings, alarm OKs).
  const PAGING_FUNCTIONS = (Object.keys(MANIFESTS) as HandlerName[]).filter((name) =>
    MANIFESTS[name].grants.secrets?.includes('pager'),
  );
  const withPager = () => {
    const spec = synthNodeMedic({
      pagerDuty: {
        routingKeySecret: Secret.fromSecretCompleteArn(
          new Stack(new App(), 'Keys'),
          'PagerKey',
          'arn:aws:secretsmanager:eu-west-1:123456789012:secret:nodemedic/pagerduty-AbCdEf',
        ),
        eventsUrl: 'https://events.eu.pagerduty.com',
      },
    });
    const envOf = (name: HandlerName) => {
      const id = spec.stack.getLogicalId(spec.nodemedic.functions[name].node.defaultChild as never);
      return spec.template.toJSON().Resources[id].Properties.Environment.Variables as Record<string, unknown>;
    };
    return { spec, envOf };
  };

  it('gives the routing key secret and the events URL to the functions that page or resolve, and only them', () => {
    const { envOf } = withPager();
    for (const name of PAGING_FUNCTIONS) {
      expect(envOf(name).PAGER_SECRET_ID, name).toBe(
        'arn:aws:secretsmanager:eu-west-1:123456789012:secret:nodemedic/pagerduty-AbCdEf',
      );
      expect(envOf(name).PAGER_EVENTS_URL, name).toBe('https://events.eu.pagerduty.com');
    }
    expect([...PAGING_FUNCTIONS].sort()).toEqual([
      'alarm',
      'analyze',
      'escalate',
      'execution-ended',
      'outcome',
      'slack',
    ]);
    for (const name of ['send', 'poll', 'reachability', 'evaluate', 'await-approval'] as const) {
      expect(envOf(name).PAGER_SECRET_ID, name).toBeUndefined();
    }
  });

  it('lets exactly those functions read the routing key secret', () => {
    const { spec } = withPager();
    const readers = (Object.keys(HANDLERS) as HandlerName[]).filter((name) => {
      const roleId = spec.stack.getLogicalId(spec.nodemedic.functions[name].role!.node.defaultChild as never);
      return resourcesOf(spec.template, 'AWS::IAM::Policy')
        .filter(([, p]) => p.Properties.Roles.some((r: any) => r.Ref === roleId))
        .flatMap(([, p]) => p.Properties.PolicyDocument.Statement)
        .some((s: any) => JSON.stringify(s.Resource).includes('nodemedic/pagerduty'));
    });
    expect(readers.sort()).toEqual([...PAGING_FUNCTIONS].sort());
  });

  it('is off by default: no function gets a pager', () => {
    for (const name of Object.keys(HANDLERS) as HandlerName[]) {
      const id = stack.getLogicalId(nodemedic.functions[name].node.defaultChild as never);
      expect(
        template.toJSON().Resources[id].Properties.Environment.Variables.PAGER_SECRET_ID,
      ).toBeUndefined();
    }
  });

  it('refuses an events URL that is not an https base URL, naming the prop', () => {
    const key = Secret.fromSecretCompleteArn(
      new Stack(new App(), 'Keys'),
      'PagerKey',
      'arn:aws:secretsmanager:eu-west-1:123456789012:secret:nodemedic/pagerduty-AbCdEf',
    );
    expect(() =>
      synthNodeMedic({ pagerDuty: { routingKeySecret: key, eventsUrl: 'http://events.pagerduty.com' } }),
    ).toThrow(/pagerDuty\.eventsUrl must be an https base URL/);
  });
});

describe('props that fit platform code', () => {
  it('takes EKS clusters as the app has them: their names join clusterNames in the env and the IAM tag condition', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'Platform');
    const eks = Cluster.fromClusterAttributes(stack, 'Eks', { clusterName: 'platform-eks' });
    const medic = new NodeMedic(stack, 'NodeMedic', { slackChannelId: 'C0123456789', clusters: [eks] });
    const t = Template.fromStack(stack);
    const id = stack.getLogicalId(medic.functions.alarm.node.defaultChild as never);
    expect(t.toJSON().Resources[id].Properties.Environment.Variables.CLUSTER_NAMES).toBe('platform-eks');
    expect(JSON.stringify(t.findResources('AWS::IAM::Policy'))).toContain(
      '"aws:ResourceTag/eks:cluster-name":["platform-eks"]',
    );
  });

  it('refuses a stack with no cluster at all, naming both props', () => {
    expect(() => synthNodeMedic({ clusterNames: [] })).toThrow(
      /clusterNames \(or clusters\) must name at least one cluster/,
    );
  });

  it('listens to existing alarms by name, in the rule, the filter and the DescribeAlarms grant', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'Platform', { env: { account: '123456789012', region: 'eu-west-1' } });
    const existing = CwAlarm.fromAlarmArn(
      stack,
      'Existing',
      'arn:aws:cloudwatch:eu-west-1:123456789012:alarm:team-a-node-notready',
    );
    const medic = new NodeMedic(stack, 'NodeMedic', {
      slackChannelId: 'C0123456789',
      clusterNames: ['prod'],
      alarms: [existing],
    });
    const t = Template.fromStack(stack);
    const rule = Object.values(t.findResources('AWS::Events::Rule')).find((r: any) =>
      JSON.stringify(r.Properties.EventPattern).includes('aws.cloudwatch'),
    ) as any;
    expect(rule.Properties.EventPattern.detail.alarmName).toEqual(
      expect.arrayContaining([{ prefix: 'nodemedic-' }, 'team-a-node-notready']),
    );
    const id = stack.getLogicalId(medic.functions.alarm.node.defaultChild as never);
    const filter = stack.resolve(t.toJSON().Resources[id].Properties.Environment.Variables.ALARM_FILTER);
    expect(JSON.stringify(filter)).toContain('team-a-node-notready');
  });

  it('tags every resource it creates, and refuses a tag AWS reserves, naming the prop', () => {
    const spec = synthNodeMedic({ tags: { team: 'sre', 'cost-center': '42' } });
    for (const type of [
      'AWS::DynamoDB::Table',
      'AWS::Lambda::Function',
      'AWS::SQS::Queue',
      'AWS::StepFunctions::StateMachine',
    ]) {
      for (const [, r] of resourcesOf(spec.template, type)) {
        const tags = (r.Properties.Tags ?? r.Properties.TagsList ?? []) as { Key: string; Value: string }[];
        expect(tags, type).toEqual(expect.arrayContaining([{ Key: 'team', Value: 'sre' }]));
      }
    }
    expect(() => synthNodeMedic({ tags: { 'aws:owner': 'me' } })).toThrow(
      /tags: "aws:owner" is not a tag key you may set/,
    );
  });

  it('keeps the audit trail by default, and applies removalPolicy to the table, the log groups and the DLQ', () => {
    const kept = Object.values(template.findResources('AWS::DynamoDB::Table'));
    expect(kept.every((r: any) => r.DeletionPolicy === 'Retain')).toBe(true);
    const spec = synthNodeMedic({ removalPolicy: RemovalPolicy.RETAIN });
    for (const type of ['AWS::Logs::LogGroup', 'AWS::SQS::Queue', 'AWS::DynamoDB::Table']) {
      const all = Object.values(spec.template.findResources(type));
      expect(all.length, type).toBeGreaterThan(0);
      expect(
        all.every((r: any) => r.DeletionPolicy === 'Retain'),
        type,
      ).toBe(true);
    }
    const gone = synthNodeMedic({ removalPolicy: RemovalPolicy.DESTROY });
    expect(
      Object.values(gone.template.findResources('AWS::DynamoDB::Table')).every(
        (r: any) => r.DeletionPolicy === 'Delete',
      ),
    ).toBe(true);
  });
});
