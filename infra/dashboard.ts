/**
 * nodemedic's numbers and its own health, in the construct: one CloudWatch dashboard over the
 * `nodemedic` namespace (the EMF metrics of functions/app/metrics.ts, by cluster and cause), and
 * alarms on what would make nodemedic itself fail silently: alarm events dead-lettered, workflow
 * executions failing, Slack calls failing.
 */
import { Duration } from 'aws-cdk-lib';
import {
  Alarm,
  AlarmStatusWidget,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type IAlarmAction,
  type IMetric,
  MathExpression,
  Metric,
  TextWidget,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { METRICS, METRICS_NAMESPACE, METRICS_SERVICE, type MetricName } from '../functions/app/metrics.js';

/** Props of {@link NodemedicHealth}. */
export interface NodemedicHealthProps {
  /** The alarm rule's dead-letter queue. */
  readonly dlq: IQueue;
  readonly stateMachine: IStateMachine;
  /**
   * Where the health alarms notify (an SNS topic action, say).
   * @default none: the alarms show on the dashboard and in the CloudWatch console only
   */
  readonly alarmActions?: readonly IAlarmAction[];
}

/** One graph per question, each a SEARCH over the metric's dimension set (every cluster, cause...). */
const GRAPHS: readonly {
  title: string;
  metric: MetricName;
  dims: string;
  stat: 'Sum' | 'Average' | 'p90';
}[] = [
  { title: 'Incidents by cluster and cause', metric: METRICS.incidents, dims: 'cause,cluster', stat: 'Sum' },
  { title: 'Time to findings (s, p90)', metric: METRICS.timeToFindings, dims: 'cause,cluster', stat: 'p90' },
  { title: 'Time to recovery (s, p90)', metric: METRICS.timeToRecovery, dims: 'cause,cluster', stat: 'p90' },
  { title: 'Fixes applied', metric: METRICS.fixesApplied, dims: 'cluster,remediation', stat: 'Sum' },
  { title: 'Fixes failed', metric: METRICS.fixesFailed, dims: 'cluster,remediation', stat: 'Sum' },
  { title: 'Fixes rolled back', metric: METRICS.fixesRolledBack, dims: 'cluster,remediation', stat: 'Sum' },
  { title: 'Approvals refused', metric: METRICS.approvalsRefused, dims: 'cluster', stat: 'Sum' },
  { title: 'Escalations by reason', metric: METRICS.escalations, dims: 'cluster,reason', stat: 'Sum' },
  { title: 'Holds by reason', metric: METRICS.holds, dims: 'cluster,reason', stat: 'Sum' },
];

/** The dashboard and the health alarms. */
export class NodemedicHealth extends Construct {
  public readonly dashboard: Dashboard;
  /** Alarm events that EventBridge could not deliver to the alarm function (the DLQ is not empty). */
  public readonly dlqAlarm: Alarm;
  /** Workflow executions that failed (each also ends its incident, but nodemedic is unwell). */
  public readonly failedExecutionsAlarm: Alarm;
  /** Slack Web API calls that failed (the `SlackErrors` metric). */
  public readonly slackErrorsAlarm: Alarm;

  constructor(scope: Construct, id: string, props: NodemedicHealthProps) {
    super(scope, id);
    const period = Duration.minutes(5);
    this.dlqAlarm = this.alarm('DlqDepth', props, {
      metric: props.dlq.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum' }),
      description:
        'nodemedic: alarm events are waiting in the dead-letter queue (the alarm function failed on them).',
    });
    this.failedExecutionsAlarm = this.alarm('FailedExecutions', props, {
      metric: props.stateMachine.metricFailed({ period, statistic: 'Sum' }),
      description: 'nodemedic: incident workflow executions failed.',
    });
    this.slackErrorsAlarm = this.alarm('SlackErrors', props, {
      metric: new Metric({
        namespace: METRICS_NAMESPACE,
        metricName: METRICS.slackErrors,
        dimensionsMap: { service: METRICS_SERVICE },
        period,
        statistic: 'Sum',
      }),
      description: 'nodemedic: Slack Web API calls failed (findings or buttons may be missing in Slack).',
    });

    this.dashboard = new Dashboard(this, 'Dashboard', { defaultInterval: Duration.days(7) });
    this.dashboard.addWidgets(
      new TextWidget({
        markdown: `# nodemedic\nIncidents, timings and fixes by cluster and cause (namespace \`${METRICS_NAMESPACE}\`), and nodemedic's own health.`,
        width: 24,
        height: 2,
      }),
    );
    this.dashboard.addWidgets(
      new AlarmStatusWidget({
        title: "nodemedic's own health",
        alarms: [this.dlqAlarm, this.failedExecutionsAlarm, this.slackErrorsAlarm],
        width: 24,
        height: 3,
      }),
    );
    const graphs = GRAPHS.map(
      (g) =>
        new GraphWidget({ title: g.title, left: [search(g.metric, g.dims, g.stat)], width: 8, height: 6 }),
    );
    for (let i = 0; i < graphs.length; i += 3) this.dashboard.addWidgets(...graphs.slice(i, i + 3));
  }

  private alarm(
    id: string,
    props: NodemedicHealthProps,
    spec: { metric: IMetric; description: string },
  ): Alarm {
    const alarm = new Alarm(this, id, {
      metric: spec.metric,
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      // No data means nothing went wrong (no failures were counted).
      treatMissingData: TreatMissingData.NOT_BREACHING,
      alarmDescription: spec.description,
    });
    for (const action of props.alarmActions ?? []) alarm.addAlarmAction(action);
    return alarm;
  }
}

/** Every series of `metric` in the namespace, whatever its cluster/cause/... values. */
function search(metric: MetricName, dims: string, stat: string): MathExpression {
  return new MathExpression({
    expression: `SEARCH('{${METRICS_NAMESPACE},${dims},service} MetricName="${metric}"', '${stat}', 3600)`,
    usingMetrics: {},
    label: metric,
    period: Duration.hours(1),
  });
}
