/**
 * The ready stack reads its settings from CDK context: strings from `-c`, typed values from
 * cdk.json, documented example values (with a warning) when the required ones are absent, and an
 * error naming the key for a value it cannot use.
 */
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { EXAMPLE_CONTEXT, NodeMedicStack, readSettings } from '../../infra/stack.js';

const from = (context: Record<string, unknown>) => readSettings((key) => context[key]);

describe('readSettings', () => {
  it('falls back to the example values and says which ones', () => {
    const s = from({});
    expect(s.slackChannelId).toBe(EXAMPLE_CONTEXT.slackChannelId);
    expect(s.clusterNames).toEqual([EXAMPLE_CONTEXT.clusterNames]);
    expect(s.defaulted).toEqual(['slackChannelId', 'clusterNames']);
  });

  it.each([
    [
      { slackChannelId: 'C0123456789', clusterNames: 'prod, stage' },
      { slackChannelId: 'C0123456789', clusterNames: ['prod', 'stage'], defaulted: [] },
    ],
    [{ slackChannelId: 'C0123456789', clusterNames: ['prod'] }, { clusterNames: ['prod'] }],
    [{ onCallAllowList: 'U01234567,U07654321' }, { onCallAllowList: ['U01234567', 'U07654321'] }],
    [{ alarmPrefixes: 'eks-notready-' }, { alarmPrefixes: ['eks-notready-'] }],
    [{ safetyPolicy: '{"approvalTimeoutMinutes":10}' }, { safetyPolicy: { approvalTimeoutMinutes: 10 } }],
    [{ safetyPolicy: { retryBudget: 1 } }, { safetyPolicy: { retryBudget: 1 } }],
    [{ bundleAwsSdk: 'true' }, { bundleAwsSdk: true }],
    [
      { clusterTagKey: 'nodemedic:cluster', containerInsightsCluster: 'prod' },
      { clusterTagKey: 'nodemedic:cluster', containerInsightsCluster: 'prod' },
    ],
  ])('reads %j', (context, expected) => {
    expect(from(context)).toMatchObject(expected);
  });

  it.each([
    [{ safetyPolicy: '{nope' }, /context "safetyPolicy" is not valid JSON/],
    [{ bundleAwsSdk: 'yes' }, /context "bundleAwsSdk" must be true or false, got "yes"/],
    [{ slackChannelId: { id: 'C1' } }, /context "slackChannelId" must be a string/],
    [{ pagerDutySecretArn: 'pagerduty' }, /context "pagerDutySecretArn" must be a secret's complete ARN/],
  ])('refuses %j', (context, message) => {
    expect(() => from(context)).toThrow(message);
  });
});

describe('NodeMedicStack', () => {
  it('synthesizes from context alone, with outputs for the Slack URL and the secret to fill', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new NodeMedicStack(app, 'NodeMedic', {
      settings: from({
        slackChannelId: 'C0123456789',
        clusterNames: 'prod',
        containerInsightsCluster: 'prod',
      }),
    });
    const template = Template.fromStack(stack);
    expect(Object.keys(template.toJSON().Outputs)).toEqual(
      expect.arrayContaining([
        'SlackRequestUrl',
        'SlackSecretArn',
        'StateMachineArn',
        'IncidentTableName',
        'AlarmDlqUrl',
      ]),
    );
    // The example node alarm, and nodemedic's three health alarms.
    template.resourceCountIs('AWS::CloudWatch::Alarm', 4);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: { SLACK_CHANNEL_ID: 'C0123456789', CLUSTER_NAMES: 'prod' } },
    });
  });

  it('passes mention channels and the PagerDuty secret from context to the construct', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:nodemedic/pagerduty-AbCdEf';
    const stack = new NodeMedicStack(app, 'NodeMedic', {
      settings: from({
        slackChannelId: 'C0123456789',
        clusterNames: 'prod',
        mentionChannelIds: 'C0OPS123,C0SRE456',
        pagerDutySecretArn: arn,
      }),
    });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: { MENTION_CHANNEL_IDS: 'C0OPS123,C0SRE456' } },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: { PAGER_SECRET_ID: arn } },
    });
  });
});
