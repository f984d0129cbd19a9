/**
 * A ready-to-deploy stack around the `NodeMedic` construct, configured with CDK context values:
 *
 *   npx cdk deploy -c slackChannelId=C0123456789 -c clusterNames=prod,stage \
 *     [-c onCallUserGroupId=S0123456789] [-c onCallAllowList=U01,U02] [-c alarmPrefixes=nodemedic-]
 *     [-c clusterTagKey=eks:cluster-name] [-c safetyPolicy='{"approvalTimeoutMinutes":10}']
 *     [-c containerInsightsCluster=prod] [-c bundleAwsSdk=true] [-c shadowClusters=prod]
 *     [-c mentionChannelIds=C0OPS,C0SRE] [-c pagerDutySecretArn=arn:aws:secretsmanager:…]
 *
 * Without the two required values the stack still synthesizes (CI runs `cdk synth` with no context)
 * with documented example values, and says so on stderr; `deploy` with them would post to a channel
 * that does not exist, so set them.
 */
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import type { SafetyPolicy } from '../functions/core/policy.js';
import { NodeMedic } from './nodemedic.js';

/** Example values used when the context does not set them (synth only: deploy needs real ones). */
export const EXAMPLE_CONTEXT = { slackChannelId: 'C0000000000', clusterNames: 'example-cluster' } as const;

/** The settings read from context, after parsing. */
export interface NodeMedicStackSettings {
  readonly slackChannelId: string;
  readonly clusterNames: string[];
  readonly clusterTagKey?: string;
  readonly onCallUserGroupId?: string;
  readonly onCallAllowList?: string[];
  readonly alarmPrefixes?: string[];
  readonly safetyPolicy?: Partial<SafetyPolicy>;
  /** Clusters in shadow mode (`-c shadowClusters=prod,staging`): findings only, nothing runs. */
  readonly shadowClusters?: string[];
  readonly containerInsightsCluster?: string;
  readonly bundleAwsSdk?: boolean;
  /** Channels besides the alert channel where `@nodemedic` mentions act. */
  readonly mentionChannelIds?: string[];
  /** The complete ARN of the secret holding `{"routingKey": "…"}` for PagerDuty (paging is off without). */
  readonly pagerDutySecretArn?: string;
  /** Names of required values that fell back to the examples. */
  readonly defaulted: string[];
}

/**
 * Read and check the context. `get` is `node.tryGetContext`; values from `-c` arrive as strings,
 * values from cdk.json may be typed. Throws an Error naming the key for a value it cannot use.
 */
export function readSettings(get: (key: string) => unknown): NodeMedicStackSettings {
  const text = (key: string): string | undefined => {
    const value = get(key);
    if (value === undefined || value === null || value === '') return undefined;
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw new Error(`context "${key}" must be a string, got ${JSON.stringify(value)}`);
    }
    return String(value).trim();
  };
  const list = (key: string): string[] | undefined => {
    const value = get(key);
    if (Array.isArray(value)) return value.map(String);
    return text(key)
      ?.split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  };
  const defaulted: string[] = [];
  const given = { slackChannelId: text('slackChannelId'), clusterNames: list('clusterNames') };
  if (given.slackChannelId === undefined) defaulted.push('slackChannelId');
  if (given.clusterNames === undefined) defaulted.push('clusterNames');
  const slackChannelId = given.slackChannelId ?? EXAMPLE_CONTEXT.slackChannelId;
  const clusterNames = given.clusterNames ?? [EXAMPLE_CONTEXT.clusterNames];
  let safetyPolicy: Partial<SafetyPolicy> | undefined;
  const rawPolicy = get('safetyPolicy');
  if (typeof rawPolicy === 'string' && rawPolicy !== '') {
    try {
      safetyPolicy = JSON.parse(rawPolicy) as Partial<SafetyPolicy>;
    } catch (error) {
      throw new Error(`context "safetyPolicy" is not valid JSON: ${(error as Error).message}`);
    }
  } else if (rawPolicy && typeof rawPolicy === 'object') {
    safetyPolicy = rawPolicy as Partial<SafetyPolicy>;
  }
  const bundle = text('bundleAwsSdk');
  if (bundle !== undefined && bundle !== 'true' && bundle !== 'false') {
    throw new Error(`context "bundleAwsSdk" must be true or false, got ${JSON.stringify(bundle)}`);
  }
  const pagerDutySecretArn = text('pagerDutySecretArn');
  if (
    pagerDutySecretArn !== undefined &&
    !/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+-[A-Za-z0-9]{6}$/.test(pagerDutySecretArn)
  ) {
    throw new Error(
      `context "pagerDutySecretArn" must be a secret's complete ARN (…:secret:NAME-AbCdEf), got ${JSON.stringify(pagerDutySecretArn)}`,
    );
  }
  const optional = <T>(key: string, value: T | undefined) => (value === undefined ? {} : { [key]: value });
  return {
    slackChannelId,
    clusterNames,
    ...optional('clusterTagKey', text('clusterTagKey')),
    ...optional('onCallUserGroupId', text('onCallUserGroupId')),
    ...optional('onCallAllowList', list('onCallAllowList')),
    ...optional('alarmPrefixes', list('alarmPrefixes')),
    ...optional('safetyPolicy', safetyPolicy),
    ...optional('shadowClusters', list('shadowClusters')),
    ...optional('containerInsightsCluster', text('containerInsightsCluster')),
    ...optional('bundleAwsSdk', bundle === undefined ? undefined : bundle === 'true'),
    ...optional('mentionChannelIds', list('mentionChannelIds')),
    ...optional('pagerDutySecretArn', pagerDutySecretArn),
    defaulted,
  };
}

/** Props of {@link NodeMedicStack}. */
export interface NodeMedicStackProps extends StackProps {
  readonly settings: NodeMedicStackSettings;
}

/** nodemedic in a stack of its own, with the values a user needs printed as outputs. */
export class NodeMedicStack extends Stack {
  public readonly nodemedic: NodeMedic;

  constructor(scope: Construct, id: string, props: NodeMedicStackProps) {
    super(scope, id, props);
    const s = props.settings;
    this.nodemedic = new NodeMedic(this, 'NodeMedic', {
      slackChannelId: s.slackChannelId,
      clusterNames: s.clusterNames,
      ...(s.clusterTagKey ? { clusterTagKey: s.clusterTagKey } : {}),
      ...(s.onCallUserGroupId ? { onCallUserGroupId: s.onCallUserGroupId } : {}),
      ...(s.onCallAllowList ? { onCallAllowList: s.onCallAllowList } : {}),
      ...(s.alarmPrefixes ? { alarmFilter: { namePrefixes: s.alarmPrefixes } } : {}),
      ...(s.safetyPolicy ? { safetyPolicy: s.safetyPolicy } : {}),
      ...(s.shadowClusters ? { shadowClusters: s.shadowClusters } : {}),
      ...(s.containerInsightsCluster
        ? { containerInsightsAlarm: { clusterName: s.containerInsightsCluster } }
        : {}),
      ...(s.bundleAwsSdk !== undefined ? { bundleAwsSdk: s.bundleAwsSdk } : {}),
      ...(s.mentionChannelIds ? { mentionChannelIds: s.mentionChannelIds } : {}),
      ...(s.pagerDutySecretArn
        ? {
            pagerDuty: {
              routingKeySecret: Secret.fromSecretCompleteArn(this, 'PagerDutySecret', s.pagerDutySecretArn),
            },
          }
        : {}),
    });
    new CfnOutput(this, 'SlackRequestUrl', {
      value: this.nodemedic.slackUrl.url,
      description: 'Slack app: Interactivity & Shortcuts and Event Subscriptions request URL',
    });
    new CfnOutput(this, 'SlackSecretArn', {
      value: this.nodemedic.slackSecret.secretArn,
      description: 'Put {"botToken":"xoxb-…","signingSecret":"…"} here after the first deploy',
    });
    new CfnOutput(this, 'StateMachineArn', { value: this.nodemedic.stateMachine.stateMachineArn });
    new CfnOutput(this, 'IncidentTableName', { value: this.nodemedic.table.tableName });
    new CfnOutput(this, 'AlarmDlqUrl', { value: this.nodemedic.dlq.queueUrl });
  }
}
