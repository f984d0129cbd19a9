/**
 * `NodeMedic`: the whole bot as one construct a user drops into their own CDK app. It creates the
 * incident table, the Slack secret (unless given one), the SSM documents built from the scripts,
 * one bundled Lambda per handler with its own least-privilege role, the Step Functions workflow,
 * the EventBridge rule on alarm state changes (with a DLQ), the Slack Function URL, and optionally
 * an example Container Insights alarm.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ArnFormat,
  Duration,
  RemovalPolicy,
  SecretValue,
  Stack,
  Tags,
  Token,
  Validations,
} from 'aws-cdk-lib';
import {
  Alarm,
  ComparisonOperator,
  type IAlarm,
  type IAlarmAction,
  MathExpression,
  Metric,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import type { ICluster } from 'aws-cdk-lib/aws-eks';
import { Rule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction as LambdaTarget } from 'aws-cdk-lib/aws-events-targets';
import { Effect, Policy, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import {
  Architecture,
  Code,
  type FunctionUrl,
  FunctionUrlAuthType,
  Function as LambdaFunction,
  Runtime,
} from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { type BundlingOptions, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { CfnDocument } from 'aws-cdk-lib/aws-ssm';
import type { StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { HANDLERS, type HandlerName } from '../functions/app/contract.js';
import { ALARM_DETAIL_TYPES, type AlarmFilter } from '../functions/core/alarm.js';
import { EXECUTION_STATUS_CHANGE, STUCK_EXECUTION_STATUSES } from '../functions/core/execution.js';
import { CLUSTER_NAME, SLACK_ID, TAG_KEY, TAG_VALUE } from '../functions/core/patterns.js';
import type { SafetyPolicy } from '../functions/core/policy.js';
import { REMEDIATION_LIST } from '../functions/core/remediations/index.js';
import { resolveVersionPolicy } from '../functions/core/version.js';
import { MANIFESTS } from '../functions/handlers/manifest/index.js';
import {
  type AlarmAction,
  ANY_RESOURCE_ACTIONS,
  type EnvName,
  type Grants,
  handlerEnv,
} from '../functions/handlers/manifest/types.js';
import { BUNDLE_BANNER, BUNDLE_TARGET } from './bundle-options.js';
import { addOpenIndex } from './cluster.js';
import { NodemedicHealth } from './dashboard.js';
import { DIAGNOSE_SCRIPT, NodemedicDocuments, type ScriptSpec } from './documents.js';
import { addHistoryIndex, shadowPolicy } from './trust.js';
import { NodemedicWorkflow } from './workflow.js';

/**
 * The root this file ships in, found from the file itself so the construct works from any working
 * directory: the repository (TypeScript sources, bundled at synth by esbuild) or the installed
 * package's `dist/` (prebuilt bundles in `lambda/<handler>/`, built by scripts/build-package.ts).
 */
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** Where the package keeps one prebuilt bundle per handler; absent in the repository. */
const PREBUILT = join(REPO_ROOT, 'lambda');

/** The example alarm on Container Insights' node readiness (opt-in). */
export interface ContainerInsightsAlarmProps {
  /** The EKS cluster whose nodes are watched (the `ClusterName` dimension). */
  readonly clusterName: string;
  /**
   * Nodes to alarm on, one metric alarm each, on `node_status_condition_ready` (dimensions
   * ClusterName, NodeName, InstanceId). Node names and instance ids change with every scale-out,
   * so a static list suits fixed node sets only.
   * @default - no per-node alarms: one Metrics Insights alarm for the whole cluster, over
   *   `node_status_condition_ready` grouped by InstanceId and NodeName. Each node is a contributor
   *   with its own state, so nodes that autoscaling or Karpenter add are watched without a change,
   *   and each NotReady node opens its own incident.
   */
  readonly nodes?: readonly { readonly nodeName: string; readonly instanceId: string }[];
  /**
   * Evaluation period.
   * @default Duration.minutes(1)
   */
  readonly period?: Duration;
  /**
   * Consecutive breaching periods before ALARM (a kubelet restart flaps Ready for a few seconds).
   * @default 3
   */
  readonly evaluationPeriods?: number;
}

/** Version policy overrides for the analyzer (functions/core/version.ts). */
export interface VersionPolicyProps {
  /** Oldest containerd version that is not reported as outdated. @default '1.7.0' */
  readonly minimum?: string;
  /** Versions reported with a reason even above the minimum. @default the analyzer's built-in list */
  readonly knownBad?: readonly { readonly version: string; readonly reason: string }[];
}

/** Paging through the PagerDuty Events API v2. */
export interface PagerDutyProps {
  /** A Secrets Manager secret holding JSON `{"routingKey": "…"}` (an Events API v2 integration key). */
  readonly routingKeySecret: ISecret;
  /**
   * The Events API base URL.
   * @default 'https://events.pagerduty.com' (EU service region: 'https://events.eu.pagerduty.com')
   */
  readonly eventsUrl?: string;
}

/** Props of {@link NodeMedic}. */
export interface NodeMedicProps {
  /** The Slack channel alarm incidents are posted in (`C…`); the bot must be a member. */
  readonly slackChannelId: string;
  /**
   * A Secrets Manager secret holding JSON `{"botToken":"xoxb-…","signingSecret":"…"}`.
   * @default - a new secret with placeholder values: after the first deploy, fill it with
   *   `aws secretsmanager put-secret-value --secret-id <SlackSecretArn output> --secret-string
   *   '{"botToken":"xoxb-…","signingSecret":"…"}'`. Functions cache it for 5 minutes.
   */
  readonly slackSecret?: ISecret;
  /**
   * Page the on-call engineer through the PagerDuty Events API v2 when nodemedic needs a person
   * now (an approval timeout, a fix that failed or did not cure the node, a cluster hold), and
   * resolve the page when the incident ends or its alarm returns to OK. The incident id is the
   * dedup key.
   * @default - no paging: escalations mention the on-call group in Slack only
   */
  readonly pagerDuty?: PagerDutyProps;
  /**
   * Slack user group (`S…`) whose members may approve fixes, and who are mentioned on escalation.
   * @default - none: only `onCallAllowList` may approve
   */
  readonly onCallUserGroupId?: string;
  /**
   * Slack user ids (`U…`/`W…`) who may approve fixes in addition to the user group.
   * @default []
   */
  readonly onCallAllowList?: readonly string[];
  /**
   * Channels (`C…`/`G…`) besides `slackChannelId` where `@nodemedic diagnose` acts, threads under
   * them included. A mention in any other channel is answered with where nodemedic works, and
   * nothing runs.
   * @default [] (only `slackChannelId`)
   */
  readonly mentionChannelIds?: readonly string[];
  /**
   * Which alarms start an incident: by name prefix, or by exact name. Pass `{}` to accept every
   * alarm in the account and region.
   * @default { namePrefixes: ['nodemedic-'] }
   */
  readonly alarmFilter?: AlarmFilter;
  /**
   * The EC2 tag naming an instance's cluster. nodemedic touches only instances (and Auto Scaling
   * groups, for replace-node) carrying this tag with one of `clusterNames`; IAM enforces it too.
   * @default 'eks:cluster-name'
   */
  readonly clusterTagKey?: string;
  /**
   * Clusters nodemedic may work on: values of `clusterTagKey`. With `clusters`, at least one
   * cluster between the two.
   * @default - the names of `clusters`
   */
  readonly clusterNames?: readonly string[];
  /**
   * EKS clusters nodemedic may work on, as your CDK app has them (`new eks.Cluster(…)` or
   * `Cluster.fromClusterAttributes(…)`): their names join `clusterNames`.
   * @default []
   */
  readonly clusters?: readonly ICluster[];
  /**
   * Existing CloudWatch alarms that start incidents, whatever their names: added to `alarmFilter`
   * (the EventBridge rule, the alarm function's filter and its DescribeAlarms grant).
   * @default []
   */
  readonly alarms?: readonly IAlarm[];
  /**
   * Tags for every resource nodemedic creates (cost allocation, ownership).
   * @default {}
   */
  readonly tags?: Readonly<Record<string, string>>;
  /**
   * Removal policy of what nodemedic keeps: the incident table, the log groups, the alarm
   * dead-letter queue. `tableRemovalPolicy` still decides the table when given.
   * @default - the table RETAIN (the audit trail outlives the stack), log groups and queue DESTROY
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Safety policy overrides (functions/core/policy.ts), validated at synth.
   * @default the policy's defaults (1 fix in flight per cluster, 30% hold, 15 min approval...)
   */
  readonly safetyPolicy?: Partial<SafetyPolicy>;
  /**
   * Clusters in shadow mode: nodemedic posts its findings and what it would offer, and runs
   * nothing (functions/core/shadow.ts). Each must be one of `clusterNames`. Taking a cluster out
   * of this list and redeploying lets nodemedic act there. Added to `safetyPolicy.shadowClusters`.
   * @default none
   */
  readonly shadowClusters?: readonly string[];
  /**
   * Containerd version policy overrides for the analyzer.
   * @default the analyzer's defaults
   */
  readonly versionPolicy?: VersionPolicyProps;
  /**
   * Create an example alarm on Container Insights' node readiness, named with the filter's first
   * prefix so it starts incidents.
   * @default - no alarm: bring your own, named to match `alarmFilter`
   */
  readonly containerInsightsAlarm?: ContainerInsightsAlarmProps;
  /**
   * Retention of the functions' and the workflow's logs.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
  /**
   * Log level of the functions (Powertools Logger).
   * @default 'INFO'
   */
  readonly logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  /**
   * Bundle the AWS SDK v3 clients into each function instead of importing the Lambda runtime's.
   * Bundled and minified, a function imports 2-5x faster (bench/bundles.ts: one file to parse
   * instead of hundreds of SDK modules) and runs exactly the SDK version the tests ran; the cost is
   * a larger zip (hundreds of KiB, far below Lambda's limits). Applies when the construct bundles
   * from this repository's sources; the npm package ships prebuilt bundles with the SDK bundled.
   * @default true
   */
  readonly bundleAwsSdk?: boolean;
  /**
   * Removal policy of the incident table (the audit trail).
   * @default RemovalPolicy.RETAIN
   */
  readonly tableRemovalPolicy?: RemovalPolicy;
  /**
   * Where nodemedic's own health alarms notify (DLQ depth, failed executions, Slack errors).
   * @default none: they show on the dashboard and in the CloudWatch console
   */
  readonly healthAlarmActions?: readonly IAlarmAction[];
}

/** A function's IAM statement ids, by what it grants on (see the manifests' `Grants`). */
const SIDS = {
  documents: 'OwnDocuments',
  diagnoseDocument: 'DiagnoseDocument',
  clusterInstances: 'ClusterInstances',
  clusterGroups: 'ClusterGroups',
  'cloudwatch:DescribeAlarms': 'NodemedicAlarms',
  'cloudwatch:DescribeAlarmContributors': 'NodemedicAlarmContributors',
} as const satisfies Record<
  'documents' | 'diagnoseDocument' | 'clusterInstances' | 'clusterGroups' | AlarmAction,
  string
>;

/**
 * How each function is bundled. NodejsFunction's own esbuild run (same target, format and
 * externals) stages the asset; its `afterBundling` hook then writes the bundle that ships with
 * infra/bundling.ts, which needs esbuild plugins the command line cannot take: it drops the AWS SDK
 * shapes a function never uses and leaves out Bolt's unused receivers. bench/bundles.ts measures
 * that same bundle.
 */
export function bundlingOptions(bundleAwsSdk: boolean, handler: HandlerName): BundlingOptions {
  return {
    minify: true,
    sourceMap: false,
    metafile: false,
    format: OutputFormat.ESM,
    target: BUNDLE_TARGET,
    mainFields: ['module', 'main'],
    banner: BUNDLE_BANNER,
    externalModules: bundleAwsSdk ? [] : ['@aws-sdk/*'],
    commandHooks: {
      beforeBundling: () => [],
      beforeInstall: () => [],
      // Runs with the project root as working directory, where `tsx` resolves.
      afterBundling: (inputDir: string, outputDir: string) => [
        [
          'node --import tsx',
          JSON.stringify(join(inputDir, 'infra', 'bundling.ts')),
          handler,
          JSON.stringify(join(outputDir, 'index.mjs')),
          ...(bundleAwsSdk ? [] : ['--sdk-external']),
        ].join(' '),
      ],
    },
  };
}

/** IAM role descriptions accept Latin-1 only: the contract's arrows become `->`. */
function describe(name: HandlerName): string {
  return `nodemedic ${name}: ${HANDLERS[name]}`
    .replace(/→/g, '->')
    .replace(/[^\t\n\r\x20-\x7e\xa1-\xff]/g, '-')
    .slice(0, 256);
}

/** `await-approval` → `AwaitApproval`. */
function pascal(name: string): string {
  return name
    .split('-')
    .map((p) => p[0]!.toUpperCase() + p.slice(1))
    .join('');
}

/** The resources a manifest's grants are scoped to (the construct's own, resolved once). */
interface GrantScopes {
  /** nodemedic's SSM documents. */
  readonly documents: string[];
  /** The diagnose document's ARN. */
  readonly diagnoseDocument: string;
  /** Every instance of the account, narrowed by `tagged`. */
  readonly instances: string;
  /** Every Auto Scaling group of the account, narrowed by `tagged`. */
  readonly groups: string;
  /** The cluster tag condition. */
  readonly tagged: Record<string, Record<string, string[]>>;
  /** The alarms the alarm filter accepts. */
  readonly alarms: string[];
  /** The pager's routing key secret, when the stack pages. */
  readonly pagerSecret?: ISecret;
}

/** Synth-time validation of the props: a clear message naming the prop, never a broken deploy. */
function validateProps(props: NodeMedicProps): void {
  const fail = (message: string): never => {
    throw new Error(`NodeMedic: ${message}`);
  };
  const concrete = (v: string) => !Token.isUnresolved(v);
  if (concrete(props.slackChannelId) && !SLACK_ID.channel.test(props.slackChannelId)) {
    fail(
      `slackChannelId must be a Slack channel id like C0123456789, got ${JSON.stringify(props.slackChannelId)}`,
    );
  }
  if ((props.clusterNames?.length ?? 0) + (props.clusters?.length ?? 0) === 0)
    fail('clusterNames (or clusters) must name at least one cluster');
  for (const [key, value] of Object.entries(props.tags ?? {})) {
    if (concrete(key) && (!TAG_KEY.test(key) || key.startsWith('aws:')))
      fail(`tags: ${JSON.stringify(key)} is not a tag key you may set`);
    if (concrete(value) && value !== '' && !TAG_VALUE.test(value))
      fail(`tags: the value of ${JSON.stringify(key)} (${JSON.stringify(value)}) is not a valid tag value`);
  }
  for (const name of props.clusterNames ?? []) {
    if (concrete(name) && !TAG_VALUE.test(name))
      fail(`clusterNames: ${JSON.stringify(name)} is not a valid tag value`);
  }
  const tagKey = props.clusterTagKey;
  if (tagKey !== undefined && !TAG_KEY.test(tagKey)) {
    fail(`clusterTagKey ${JSON.stringify(tagKey)} is not a valid tag key`);
  }
  if (props.onCallUserGroupId !== undefined && !SLACK_ID.userGroup.test(props.onCallUserGroupId)) {
    fail(
      `onCallUserGroupId must be a Slack user group id like S0123456789, got ${JSON.stringify(props.onCallUserGroupId)}`,
    );
  }
  for (const user of props.onCallAllowList ?? []) {
    if (!SLACK_ID.user.test(user))
      fail(`onCallAllowList: ${JSON.stringify(user)} is not a Slack user id like U0123456789`);
  }
  const eventsUrl = props.pagerDuty?.eventsUrl;
  if (
    eventsUrl !== undefined &&
    concrete(eventsUrl) &&
    !/^https:\/\/[A-Za-z0-9.-]+(:\d+)?\/?$/.test(eventsUrl)
  ) {
    fail(
      `pagerDuty.eventsUrl must be an https base URL like https://events.pagerduty.com, got ${JSON.stringify(eventsUrl)}`,
    );
  }
  for (const channel of props.mentionChannelIds ?? []) {
    if (concrete(channel) && !SLACK_ID.channel.test(channel))
      fail(`mentionChannelIds: ${JSON.stringify(channel)} is not a Slack channel id like C0123456789`);
  }
  for (const name of [...(props.alarmFilter?.namePrefixes ?? []), ...(props.alarmFilter?.names ?? [])]) {
    if (name.length === 0 || name.length > 255)
      fail(`alarmFilter: ${JSON.stringify(name)} is not a usable alarm name`);
  }
  if (props.alarmFilter?.namePrefixes?.length === 0 && props.alarmFilter.names === undefined) {
    fail('alarmFilter.namePrefixes is empty: pass {} to accept every alarm, or name a prefix');
  }
  if (props.versionPolicy) {
    // The functions parse VERSION_POLICY the same way at cold start: refuse it here, before a deploy.
    try {
      resolveVersionPolicy(props.versionPolicy);
    } catch (error) {
      fail((error as Error).message);
    }
  }
}

/**
 * nodemedic, deployed: from a NotReady alarm to findings and approved fixes in the Slack thread.
 *
 * @example
 * new NodeMedic(stack, 'NodeMedic', { slackChannelId: 'C0123456789', clusterNames: ['prod'] });
 */
export class NodeMedic extends Construct {
  /** The incident table (pk `pk`, TTL attribute `ttl`). */
  public readonly table: Table;
  /** The Slack secret (`{botToken, signingSecret}`), given or created. */
  public readonly slackSecret: ISecret;
  /** One execution per incident. */
  public readonly stateMachine: StateMachine;
  /** The Lambda functions by handler name. */
  public readonly functions: Readonly<Record<HandlerName, LambdaFunction>>;
  /** The SSM Command documents by script id (`diagnose` and each node remediation). */
  public readonly documents: Readonly<Record<string, CfnDocument>>;
  /** Slack's interactivity and event request URL. */
  public readonly slackUrl: FunctionUrl;
  /** The EventBridge rule on alarm state changes. */
  public readonly alarmRule: Rule;
  /**
   * The EventBridge rule on this state machine's executions that end FAILED, TIMED_OUT or ABORTED:
   * their incidents are escalated and their nodes freed by the `execution-ended` function.
   */
  public readonly executionEndedRule: Rule;
  /**
   * Where events go when the alarm or execution-ended function keeps failing (both rules' DLQ, and
   * both functions' async failure destination).
   */
  public readonly dlq: Queue;
  /** The dashboard (incidents, timings, fixes by cluster and cause) and the health alarms. */
  public readonly health: NodemedicHealth;
  /** The validated safety policy the functions run with. */
  public readonly safetyPolicy: SafetyPolicy;
  /** The example Container Insights alarms, when `containerInsightsAlarm` is set. */
  public readonly exampleAlarms: readonly Alarm[];

  constructor(scope: Construct, id: string, props: NodeMedicProps) {
    super(scope, id);
    validateProps(props);
    const stack = Stack.of(this);
    const clusterTagKey = props.clusterTagKey ?? 'eks:cluster-name';
    const clusterNames = [
      ...new Set([...(props.clusterNames ?? []), ...(props.clusters ?? []).map((c) => c.clusterName)]),
    ];
    for (const [key, value] of Object.entries(props.tags ?? {})) Tags.of(this).add(key, value);
    const keepData = props.removalPolicy ?? RemovalPolicy.DESTROY;
    const logRetention = props.logRetention ?? RetentionDays.ONE_MONTH;
    this.safetyPolicy = shadowPolicy(props, clusterNames);

    // --- The example alarm first: its names may extend the filter the rule and functions use.
    const given: AlarmFilter = props.alarmFilter ?? { namePrefixes: ['nodemedic-'] };
    const alarmNames = (props.alarms ?? []).map((a) => a.alarmName);
    const filter: AlarmFilter = alarmNames.length
      ? { ...given, names: [...(given.names ?? []), ...alarmNames] }
      : given;
    const examples = props.containerInsightsAlarm
      ? this.exampleAlarm(props.containerInsightsAlarm, filter.namePrefixes?.[0] ?? 'nodemedic-')
      : [];
    const exampleNames = examples.map((a) => a.name);
    const accepts = (name: string) =>
      (filter.namePrefixes ?? []).some((p) => name.startsWith(p)) || (filter.names ?? []).includes(name);
    const everyAlarm = !filter.namePrefixes?.length && !filter.names?.length;
    const extraNames = everyAlarm ? [] : exampleNames.filter((n) => !accepts(n));
    const alarmFilter: AlarmFilter = everyAlarm
      ? {}
      : {
          ...(filter.namePrefixes?.length ? { namePrefixes: [...filter.namePrefixes] } : {}),
          ...(filter.names?.length || extraNames.length
            ? { names: [...(filter.names ?? []), ...extraNames] }
            : {}),
        };
    this.exampleAlarms = examples.map((e) => e.alarm);

    // --- Storage and secrets.
    this.table = new Table(this, 'Incidents', {
      partitionKey: { name: 'pk', type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: 'ttl',
      encryption: TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: props.tableRemovalPolicy ?? props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    addHistoryIndex(this.table);
    addOpenIndex(this.table);
    // Table grants cover its indexes as `<table>/index/*`: the fix history and the open incidents.
    Validations.of(this).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${nagResource(this, `${this.table.tableArn}/index/*`)}]`,
      reason:
        "The table's own indexes (index/*): the fix history behind the success rates, and the open incidents the cluster hold counts.",
    });

    if (props.slackSecret) {
      this.slackSecret = props.slackSecret;
    } else {
      const secret = new Secret(this, 'SlackSecret', {
        description:
          'nodemedic Slack app credentials: JSON {"botToken":"xoxb-…","signingSecret":"…"}. Replace the placeholders.',
        // Placeholders, not secrets: the real values are put with put-secret-value after deploy,
        // and CloudFormation leaves them alone as long as this template value does not change.
        secretObjectValue: {
          botToken: SecretValue.unsafePlainText('REPLACE_ME'),
          signingSecret: SecretValue.unsafePlainText('REPLACE_ME'),
        },
      });
      Validations.of(secret).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason:
          'Slack bot tokens and signing secrets are issued and rotated in Slack, not by a rotation Lambda; the operator puts the new values.',
      });
      this.slackSecret = secret;
    }

    // --- SSM documents, built from the scripts.
    const nodeScripts: ScriptSpec[] = REMEDIATION_LIST.filter((r) => r.runsOn === 'node').map((r) => ({
      id: r.id,
      parameters: r.parameters,
      timeoutSeconds: r.timeoutSeconds,
    }));
    this.documents = new NodemedicDocuments(this, 'Documents', {
      scriptsDir: join(REPO_ROOT, 'functions', 'scripts'),
      scripts: [DIAGNOSE_SCRIPT, ...nodeScripts],
    }).documents;
    const documentArn = (doc: CfnDocument) =>
      stack.formatArn({ service: 'ssm', resource: 'document', resourceName: doc.ref });
    const documentArns = Object.values(this.documents).map(documentArn);

    // --- Functions.
    this.dlq = new Queue(this, 'AlarmDlq', {
      enforceSSL: true,
      encryption: QueueEncryption.SQS_MANAGED,
      retentionPeriod: Duration.days(14),
      removalPolicy: keepData,
    });
    Validations.of(this.dlq).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is itself the dead-letter queue of the alarm and execution-ended rule targets and functions.',
    });

    const env: Partial<Record<EnvName, string>> = {
      TABLE_NAME: this.table.tableName,
      SLACK_SECRET_ID: this.slackSecret.secretArn,
      SLACK_CHANNEL_ID: props.slackChannelId,
      CLUSTER_TAG_KEY: clusterTagKey,
      CLUSTER_NAMES: clusterNames.join(','),
      DOCUMENTS: stack.toJsonString(
        Object.fromEntries(Object.entries(this.documents).map(([k, d]) => [k, d.ref])),
      ),
      SAFETY_POLICY: JSON.stringify(this.safetyPolicy),
      ALARM_FILTER: stack.toJsonString(alarmFilter),
      ...(props.versionPolicy ? { VERSION_POLICY: JSON.stringify(props.versionPolicy) } : {}),
      ...(props.onCallUserGroupId ? { ONCALL_USERGROUP_ID: props.onCallUserGroupId } : {}),
      ...(props.onCallAllowList?.length ? { ONCALL_ALLOWLIST: props.onCallAllowList.join(',') } : {}),
      ...(props.mentionChannelIds?.length ? { MENTION_CHANNEL_IDS: props.mentionChannelIds.join(',') } : {}),
      ...(props.pagerDuty ? { PAGER_SECRET_ID: props.pagerDuty.routingKeySecret.secretArn } : {}),
      ...(props.pagerDuty?.eventsUrl ? { PAGER_EVENTS_URL: props.pagerDuty.eventsUrl } : {}),
    };

    const functions = {} as Record<HandlerName, LambdaFunction>;
    for (const name of Object.keys(HANDLERS) as HandlerName[]) {
      functions[name] = this.handlerFunction(name, {
        env,
        logRetention,
        logLevel: props.logLevel ?? 'INFO',
        bundling: bundlingOptions(props.bundleAwsSdk ?? true, name),
        removalPolicy: keepData,
      });
    }
    this.functions = functions;

    // --- The workflow. The state machine ARN is set on the alarm and slack functions only: the
    // functions it invokes must not reference it, or CloudFormation sees a dependency loop.
    const workflowLogs = new LogGroup(this, 'WorkflowLogs', {
      retention: logRetention,
      removalPolicy: keepData,
    });
    const workflowFunctions = {
      reachability: functions.reachability,
      send: functions.send,
      poll: functions.poll,
      analyze: functions.analyze,
      awaitApproval: functions['await-approval'],
      evaluate: functions.evaluate,
      outcome: functions.outcome,
      escalate: functions.escalate,
    };
    this.stateMachine = new NodemedicWorkflow(this, 'Workflow', {
      functions: workflowFunctions,
      approvalTimeout: Duration.minutes(this.safetyPolicy.approvalTimeoutMinutes),
      logGroup: workflowLogs,
    }).stateMachine;
    // Set on the functions whose manifest reads it, which the state machine does not invoke.
    for (const name of Object.keys(HANDLERS) as HandlerName[]) {
      if (handlerEnv(MANIFESTS[name].wiring).includes('STATE_MACHINE_ARN'))
        functions[name].addEnvironment('STATE_MACHINE_ARN', this.stateMachine.stateMachineArn);
    }
    this.acknowledgeWorkflowWildcards();
    this.health = new NodemedicHealth(this, 'Health', {
      dlq: this.dlq,
      stateMachine: this.stateMachine,
      ...(props.healthAlarmActions ? { alarmActions: props.healthAlarmActions } : {}),
    });

    // --- Permissions, least privilege per function: each manifest's grants, resolved.
    const tagged = { StringEquals: { [`aws:ResourceTag/${clusterTagKey}`]: clusterNames } };
    const scopes: GrantScopes = {
      documents: documentArns,
      diagnoseDocument: documentArn(this.documents[DIAGNOSE_SCRIPT.id]!),
      instances: stack.formatArn({ service: 'ec2', resource: 'instance', resourceName: '*' }),
      groups: stack.formatArn({
        service: 'autoscaling',
        resource: 'autoScalingGroup',
        resourceName: '*:autoScalingGroupName/*',
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      }),
      tagged,
      alarms: this.alarmArns(alarmFilter),
      ...(props.pagerDuty ? { pagerSecret: props.pagerDuty.routingKeySecret } : {}),
    };
    for (const name of Object.keys(HANDLERS) as HandlerName[]) {
      const invokedByWorkflow = Object.values(workflowFunctions).includes(functions[name]);
      this.grant(functions[name], MANIFESTS[name].grants, scopes, invokedByWorkflow);
    }

    // --- Trigger: alarm state changes → the alarm function (retries, then the DLQ).
    this.alarmRule = new Rule(this, 'AlarmRule', {
      description:
        'nodemedic: CloudWatch alarm and alarm contributor state changes (ALARM opens an incident, OK closes it)',
      eventPattern: {
        source: ['aws.cloudwatch'],
        // Per-node alarms and multi-time-series alarms' alarm-level changes, and the per-node
        // contributor changes of the latter (one event per node).
        detailType: [ALARM_DETAIL_TYPES.alarm, ALARM_DETAIL_TYPES.contributor],
        detail: {
          state: { value: ['ALARM', 'OK'] },
          ...(everyAlarm
            ? {}
            : {
                alarmName: [
                  ...(alarmFilter.namePrefixes ?? []).map((prefix) => ({ prefix })),
                  ...(alarmFilter.names ?? []),
                ],
              }),
        },
      },
    });
    this.alarmRule.addTarget(
      new LambdaTarget(functions.alarm, {
        deadLetterQueue: this.dlq,
        retryAttempts: 8,
        maxEventAge: Duration.hours(1),
      }),
    );

    // --- Trigger: an execution that ended before its incident did → execution-ended, which
    // escalates the incident and frees its node (retries, then the DLQ, like the alarm rule).
    this.executionEndedRule = new Rule(this, 'ExecutionEndedRule', {
      description: 'nodemedic: workflow executions that ended FAILED, TIMED_OUT or ABORTED',
      eventPattern: {
        source: [EXECUTION_STATUS_CHANGE.source],
        detailType: [EXECUTION_STATUS_CHANGE.detailType],
        detail: {
          status: [...STUCK_EXECUTION_STATUSES],
          stateMachineArn: [this.stateMachine.stateMachineArn],
        },
      },
    });
    this.executionEndedRule.addTarget(
      new LambdaTarget(functions['execution-ended'], {
        deadLetterQueue: this.dlq,
        retryAttempts: 8,
        maxEventAge: Duration.hours(1),
      }),
    );
    // Asynchronous invocations that still fail after Lambda's retries: to the DLQ, for the
    // functions whose manifest sends there (the two rule targets).
    for (const name of Object.keys(HANDLERS) as HandlerName[]) {
      if (MANIFESTS[name].grants.deadLetterQueue === 'send') {
        functions[name].configureAsyncInvoke({ onFailure: new SqsDestination(this.dlq), retryAttempts: 2 });
      }
    }

    // --- Slack: Bolt behind a Function URL.
    this.slackUrl = functions.slack.addFunctionUrl({ authType: FunctionUrlAuthType.NONE });
  }

  /** One function with its own role (logs to its own group only) and the env it needs. */
  private handlerFunction(
    name: HandlerName,
    opts: {
      env: Partial<Record<EnvName, string>>;
      logRetention: RetentionDays;
      logLevel: string;
      bundling: BundlingOptions;
      removalPolicy: RemovalPolicy;
    },
  ): LambdaFunction {
    const id = pascal(name);
    const logGroup = new LogGroup(this, `${id}Logs`, {
      retention: opts.logRetention,
      removalPolicy: opts.removalPolicy,
    });
    // A role of our own instead of AWSLambdaBasicExecutionRole: it may write to this group only.
    const role = new Role(this, `${id}Role`, {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: describe(name),
    });
    logGroup.grantWrite(role);
    const environment: Record<string, string> = {
      POWERTOOLS_SERVICE_NAME: 'nodemedic',
      LOG_LEVEL: opts.logLevel,
    };
    // What its manifest reads. STATE_MACHINE_ARN is added after the state machine exists; optional
    // ones may be absent; SLACK_API_URL is never set here.
    for (const key of handlerEnv(MANIFESTS[name].wiring)) {
      const value = opts.env[key];
      if (value !== undefined) environment[key] = value;
    }
    const { sizing } = MANIFESTS[name];
    const common = {
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: sizing.memory,
      timeout: Duration.seconds(sizing.timeout),
      ...(sizing.reservedConcurrency !== undefined
        ? { reservedConcurrentExecutions: sizing.reservedConcurrency }
        : {}),
      description: describe(name),
      role,
      logGroup,
      environment,
    };
    // Installed from the package: the bundle CDK built for this handler at release, as it is.
    const prebuilt = join(PREBUILT, name);
    if (existsSync(join(prebuilt, 'index.mjs'))) {
      return new LambdaFunction(this, id, {
        ...common,
        code: Code.fromAsset(prebuilt),
        handler: 'index.handler',
      });
    }
    return new NodejsFunction(this, id, {
      ...common,
      entry: join(REPO_ROOT, 'functions', 'handlers', `${name}.ts`),
      handler: 'handler',
      projectRoot: REPO_ROOT,
      depsLockFilePath: join(REPO_ROOT, 'package-lock.json'),
      bundling: opts.bundling,
    });
  }

  /**
   * A manifest's grants as statements, in the order of `Grants`: the state machine, secrets, the
   * table, then each resource scope. Nothing is granted that the manifest does not list.
   */
  private grant(fn: LambdaFunction, grants: Grants, scopes: GrantScopes, invokedByWorkflow: boolean): void {
    for (const kind of grants.workflow ?? []) {
      if (kind === 'startExecution') this.stateMachine.grantStartExecution(fn);
      else if (invokedByWorkflow) {
        // The state machine invokes this function, and a function depends on its role's default
        // policy: a grant there naming the state machine would be a cycle. A policy of its own,
        // attached to the role, is created after both.
        const policy = new Policy(this, `${fn.node.id}TaskResponse`);
        this.stateMachine.grantTaskResponse(policy);
        policy.attachToRole(fn.role!);
      } else this.stateMachine.grantTaskResponse(fn);
    }
    for (const secret of grants.secrets ?? []) {
      if (secret === 'slack') this.slackSecret.grantRead(fn);
      // The pager's secret exists only when the stack pages.
      else scopes.pagerSecret?.grantRead(fn);
    }
    if (grants.table === 'readWrite') this.table.grantReadWriteData(fn);
    if (grants.documents?.length) {
      fn.addToRolePolicy(
        new PolicyStatement({
          sid: SIDS.documents,
          actions: [...grants.documents],
          resources: scopes.documents,
        }),
      );
    }
    if (grants.diagnoseDocument?.length) {
      fn.addToRolePolicy(
        new PolicyStatement({
          sid: SIDS.diagnoseDocument,
          actions: [...grants.diagnoseDocument],
          resources: [scopes.diagnoseDocument],
        }),
      );
    }
    if (grants.clusterInstances?.length) {
      this.tagScoped(
        fn,
        SIDS.clusterInstances,
        [...grants.clusterInstances],
        scopes.instances,
        scopes.tagged,
      );
    }
    if (grants.clusterGroups?.length) {
      this.tagScoped(fn, SIDS.clusterGroups, [...grants.clusterGroups], scopes.groups, scopes.tagged);
    }
    if (grants.anyResource?.length) this.unscoped(fn, [...grants.anyResource]);
    for (const action of grants.alarms ?? []) this.onAlarms(fn, SIDS[action], action, scopes.alarms);
  }

  /** Actions that admit no resource narrower than `*`, acknowledged with each one's reason. */
  private unscoped(fn: LambdaFunction, actions: (keyof typeof ANY_RESOURCE_ACTIONS)[]): void {
    fn.addToRolePolicy(new PolicyStatement({ effect: Effect.ALLOW, actions, resources: ['*'] }));
    Validations.of(fn.role!).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: `${actions.map((action) => `${action}: ${ANY_RESOURCE_ACTIONS[action]}`).join('; ')}.`,
    });
  }

  /** One CloudWatch action on the alarms the filter accepts; a prefix's wildcard acknowledged. */
  private onAlarms(fn: LambdaFunction, sid: string, action: string, alarmArns: string[]): void {
    fn.addToRolePolicy(new PolicyStatement({ sid, actions: [action], resources: alarmArns }));
    for (const arn of alarmArns.filter((a) => a.endsWith('*'))) {
      Validations.of(fn.role!).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${nagResource(this, arn)}]`,
        reason: `${action} on the alarms the filter accepts: a name prefix is a wildcard by nature.`,
      });
    }
  }

  /** Actions on every instance/group of the account, narrowed by the cluster tag condition. */
  private tagScoped(
    fn: LambdaFunction,
    sid: string,
    actions: string[],
    resource: string,
    condition: Record<string, Record<string, string[]>>,
  ): void {
    fn.addToRolePolicy(new PolicyStatement({ sid, actions, resources: [resource], conditions: condition }));
    Validations.of(fn.role!).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${nagResource(this, resource)}]`,
      reason: `${actions.join(', ')}: instances and groups come and go, so the ARN is a wildcard narrowed by the cluster tag condition.`,
    });
  }

  /**
   * The state machine role's wildcards: `Arn:*` on invoked functions, and `*` for X-Ray, log
   * delivery and its own polls of SSM (ssm:GetCommandInvocation, granted by the loop's
   * CallAwsService in infra/workflow.ts: the only SSM action the role holds).
   */
  private acknowledgeWorkflowWildcards(): void {
    const role = this.stateMachine.role;
    for (const name of [
      'reachability',
      'send',
      'poll',
      'analyze',
      'await-approval',
      'evaluate',
      'outcome',
      'escalate',
    ] as const) {
      Validations.of(role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${nagResource(this, `${this.functions[name].functionArn}:*`)}]`,
        reason: `Step Functions' LambdaInvoke grants ${name} and its versions/aliases (Arn:*); only nodemedic's own function.`,
      });
    }
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        "ssm:GetCommandInvocation (the poll loop's direct SDK call; command ids are not ARNs), X-Ray PutTraceSegments/PutTelemetryRecords and CloudWatch Logs delivery (CreateLogDelivery...) do not support resource-level permissions.",
    });
  }

  /** The opt-in example alarms on Container Insights readiness. */
  private exampleAlarm(props: ContainerInsightsAlarmProps, prefix: string): { name: string; alarm: Alarm }[] {
    const period = props.period ?? Duration.minutes(1);
    const evaluationPeriods = props.evaluationPeriods ?? 3;
    if (!Token.isUnresolved(props.clusterName) && !CLUSTER_NAME.test(props.clusterName)) {
      throw new Error(
        `NodeMedic: containerInsightsAlarm.clusterName ${JSON.stringify(props.clusterName)} is not a cluster name`,
      );
    }
    if (!props.nodes?.length) {
      const name = `${prefix}${props.clusterName}-nodes-not-ready`;
      const alarm = new Alarm(this, 'NodesReadyAlarm', {
        alarmName: name,
        alarmDescription: `nodemedic: a node of ${props.clusterName} is not Ready (Container Insights node_status_condition_ready, one contributor per node)`,
        metric: new MathExpression({
          expression: nodeReadinessQuery(props.clusterName),
          usingMetrics: {},
          period,
          label: `node_status_condition_ready of ${props.clusterName}, per node`,
        }),
        threshold: 1,
        comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods,
        // Per node, a series the query stops returning goes to OK whatever this says (AWS); this
        // applies when the query returns nothing at all: Container Insights is off or not yet
        // reporting, which names no node, so it must not alarm.
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      return [{ name, alarm }];
    }
    return props.nodes.map((node, i) => {
      const name = `${prefix}${props.clusterName}-${node.nodeName}-not-ready`;
      const alarm = new Alarm(this, `NodeReadyAlarm${i}`, {
        alarmName: name,
        alarmDescription: `nodemedic: node ${node.nodeName} (${node.instanceId}) of ${props.clusterName} is not Ready`,
        metric: new Metric({
          namespace: 'ContainerInsights',
          metricName: 'node_status_condition_ready',
          dimensionsMap: {
            ClusterName: props.clusterName,
            NodeName: node.nodeName,
            InstanceId: node.instanceId,
          },
          statistic: 'Minimum',
          period,
        }),
        threshold: 1,
        comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods,
        // A wedged kubelet stops reporting: silence is the symptom, so it breaches.
        treatMissingData: TreatMissingData.BREACHING,
      });
      return { name, alarm };
    });
  }

  /** DescribeAlarms on the alarms the filter accepts (alarm ARNs support prefix wildcards). */
  private alarmArns(filter: AlarmFilter): string[] {
    const stack = Stack.of(this);
    const arn = (name: string) =>
      stack.formatArn({
        service: 'cloudwatch',
        resource: 'alarm',
        resourceName: name,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      });
    if (!filter.namePrefixes?.length && !filter.names?.length) return [arn('*')];
    return [...(filter.namePrefixes ?? []).map((p) => arn(`${p}*`)), ...(filter.names ?? []).map(arn)];
  }
}

/**
 * The Metrics Insights query of the default alarm: every node's readiness in `cluster`, one time
 * series (contributor) per node. GROUP BY makes it multi-time-series, ORDER BY (required for such
 * alarms) keeps the NotReady nodes (0) first within Metrics Insights' 500-series limit.
 * Create_Metrics_Insights_Alarm.html, "Per-Resource Fleet Monitoring".
 */
function nodeReadinessQuery(cluster: string): string {
  return (
    'SELECT MIN(node_status_condition_ready) FROM SCHEMA("ContainerInsights", ClusterName, InstanceId, NodeName) ' +
    `WHERE ClusterName = '${cluster}' GROUP BY InstanceId, NodeName ORDER BY MIN() ASC`
  );
}

/**
 * A resource as cdk-nag spells it in a finding id (`AwsSolutions-IAM5[Resource::…]`): the resolved
 * value with `Ref`s as `<Name>` and `GetAtt`s as `<Resource.Attr>`, joined (cdk-nag's
 * flattenCfnReference), so the acknowledgement names exactly the statement it excuses.
 */
function nagResource(scope: Construct, value: string): string {
  const visit = (node: unknown): string => {
    if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/\}/g, '>');
    if (node && typeof node === 'object') {
      const o = node as Record<string, unknown>;
      if (Array.isArray(o['Fn::Join'])) {
        const [sep, items] = o['Fn::Join'] as [string, unknown[]];
        return items.map(visit).join(sep);
      }
      if (Array.isArray(o['Fn::GetAtt'])) {
        const [res, attr] = o['Fn::GetAtt'] as [unknown, unknown];
        return `<${visit(res)}.${visit(attr)}>`;
      }
      if ('Ref' in o) return `<${visit(o.Ref)}>`;
    }
    return JSON.stringify(node);
  };
  return visit(Stack.of(scope).resolve(value));
}
