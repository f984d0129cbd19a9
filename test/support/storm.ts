/**
 * A node-group storm replayed through the real alarm function (functions/handlers/alarm.ts), for
 * the storm test and `npm run -s bench:storm`: contributor events of a Metrics Insights alarm
 * (the documented shape of test/fixtures/alarms/contributor-alarm.json), duplicates and flaps
 * included, spread over a window, each delivered as Lambda's async invocation does (two retries
 * after a thrown error, then the dead-letter queue).
 *
 * AWS is answered by aws-sdk-client-mock: DynamoDB by the fake table that evaluates the store's
 * conditions (test/adapters/aws/fake-dynamo.ts), with throttling injected at a rate; EC2 with a
 * cluster whose status checks all pass (a containerd rollout); Step Functions accepting every
 * start. Slack is the local stand-in behind a small proxy that timestamps every Web API call per
 * channel and answers a share of them 429 with Retry-After, as Slack does.
 *
 * Optionally each started execution's analysis runs too (the real analyze function, SSM's
 * GetCommandInvocation answering recorded diagnosis outputs), so the summary shows causes.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import {
  DescribeInstanceStatusCommand,
  DescribeInstancesCommand,
  EC2Client,
  GetConsoleOutputCommand,
} from '@aws-sdk/client-ec2';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import {
  DescribeInstanceInformationCommand,
  GetCommandInvocationCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import type { ClusterIncident } from '../../functions/core/cluster.js';
import type { Incident } from '../../functions/core/incident.js';
import { SlackStandIn } from '../../functions/local/slack-standin/server.js';
import { FakeTable } from '../adapters/aws/fake-dynamo.js';

const STATE_MACHINE = 'arn:aws:states:eu-west-1:123456789012:stateMachine:nodemedic';
const CHANNEL = 'C0ALERTS';
const ALARM = 'nodemedic-prod-nodes-not-ready';
/** Lambda's async invocation: the first try and two retries, then the dead-letter queue. */
const DELIVERIES = 3;

/** What one storm replays. */
export interface StormOptions {
  /** Nodes in the cluster (EC2, all status checks OK). */
  readonly nodes: number;
  /** Nodes whose contributor goes to ALARM. */
  readonly notReady: number;
  /** Events in all: one ALARM per NotReady node, two per flap (OK, ALARM), the rest duplicates. */
  readonly events: number;
  /** Nodes that flap: their contributor goes OK, then ALARM again. */
  readonly flaps: number;
  /** Real milliseconds the events are spread over. */
  readonly windowMs: number;
  /** Share of Slack Web API calls answered 429. */
  readonly slack429Rate: number;
  /** Share of DynamoDB calls answered ProvisionedThroughputExceededException. */
  readonly dynamoThrottleRate: number;
  /** Milliseconds Lambda waits before each retry (1 and 2 minutes in AWS; compressed here). */
  readonly retryDelayMs: number;
  /** Run each started execution's analysis after the alarms. */
  readonly analyze: boolean;
  readonly seed: number;
}

/** What one storm did. */
export interface StormResult {
  readonly events: number;
  readonly deliveries: number;
  readonly thrown: number;
  readonly deadLettered: number;
  readonly incidentsOpened: number;
  readonly clusterIncidents: number;
  readonly held: number;
  /** Messages posted outside any thread: node cards and cluster roots. */
  readonly threadsPosted: number;
  readonly clusterThreads: number;
  readonly slackCalls: number;
  readonly slack429: number;
  /** Slack calls per second in the busiest channel: max, and median over seconds with any. */
  readonly perSecondMax: number;
  readonly perSecondMedian: number;
  /** The calls of the busiest second, for a reader who wants to know which they were. */
  readonly busiest: readonly {
    readonly at: number;
    readonly method: string;
    readonly status: number;
    readonly root: boolean;
  }[];
  /** NotReady nodes that ended with neither an incident nor an entry in the cluster incident. */
  readonly lost: number;
  /** Open incidents whose execution never started. */
  readonly neverStarted: number;
  readonly alarmWallMs: number;
  /** Events handled per second of the alarm phase. */
  readonly throughput: number;
  readonly cluster: ClusterIncident | null;
  readonly summaryText: string | null;
}

/** A seeded PRNG (mulberry32), so a storm replays the same way. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const instanceOf = (n: number) => `i-0${n.toString(16).padStart(16, '0')}`;
const nodeNameOf = (n: number) => `ip-10-0-${Math.floor(n / 250)}-${n % 250}.eu-west-1.compute.internal`;

/** A contributor event as CloudWatch sends it (contributor-alarm.json's shape). */
function contributorEvent(n: number, state: 'ALARM' | 'OK', serial: number): Record<string, unknown> {
  return {
    version: '0',
    id: `storm-${serial}`,
    'detail-type': 'CloudWatch Alarm Contributor State Change',
    source: 'aws.cloudwatch',
    account: '123456789012',
    time: new Date().toISOString(),
    region: 'eu-west-1',
    resources: [`arn:aws:cloudwatch:eu-west-1:123456789012:alarm:${ALARM}`],
    detail: {
      alarmName: ALARM,
      alarmContributor: {
        id: `c${n.toString(16).padStart(15, '0')}`,
        attributes: { InstanceId: instanceOf(n), NodeName: nodeNameOf(n) },
      },
      state: {
        value: state,
        reason:
          state === 'ALARM'
            ? 'Threshold Crossed: 1 datapoint was less than the threshold (1.0).'
            : 'Threshold Crossed: 1 datapoint was not less than the threshold (1.0).',
        timestamp: new Date().toISOString(),
      },
      configuration: {
        metrics: [
          {
            id: 'm1',
            expression:
              'SELECT MIN(node_status_condition_ready) FROM SCHEMA("ContainerInsights", ClusterName, InstanceId, NodeName) WHERE ClusterName = \'prod\' GROUP BY InstanceId, NodeName ORDER BY MIN() ASC',
            returnData: true,
            period: 60,
          },
        ],
        description: 'nodemedic: a node of prod is not Ready',
      },
    },
  };
}

/** One Web API call as the proxy saw it. */
interface SlackCall {
  readonly at: number;
  readonly method: string;
  readonly channel: string;
  readonly status: number;
  /** A post outside any thread: a node card or a cluster root. */
  readonly root: boolean;
}

/** Forwards Web API calls to the stand-in; timestamps them; answers a share 429. */
class SlackProxy {
  readonly calls: SlackCall[] = [];
  rate = 0;
  rng: () => number = Math.random;
  private constructor(
    private readonly server: Server,
    readonly apiUrl: string,
  ) {}

  static async start(target: string): Promise<SlackProxy> {
    let proxy: SlackProxy | undefined;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const method = (req.url ?? '').replace(/^\/api\//, '');
        const { channel, threadTs } = fieldsOf(req.headers['content-type'] ?? '', body);
        const root = method === 'chat.postMessage' && !threadTs;
        const at = Date.now();
        if (proxy && proxy.rng() < proxy.rate) {
          proxy.calls.push({ at, method, channel, status: 429, root });
          res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '1' });
          res.end(JSON.stringify({ ok: false, error: 'ratelimited' }));
          return;
        }
        fetch(`${target}${method}`, {
          method: 'POST',
          headers: {
            'content-type': req.headers['content-type'] ?? 'application/x-www-form-urlencoded',
            authorization: req.headers.authorization ?? '',
          },
          body,
        })
          .then(async (r) => {
            const text = await r.text();
            const ok = r.status === 200 && (JSON.parse(text) as { ok?: boolean }).ok === true;
            proxy?.calls.push({
              at,
              method,
              channel,
              status: ok ? 200 : r.status === 200 ? 400 : r.status,
              root,
            });
            res.writeHead(r.status, { 'content-type': 'application/json' });
            res.end(text);
          })
          .catch((error: unknown) => {
            res.writeHead(502).end(String(error));
          });
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const { port } = server.address() as AddressInfo;
    proxy = new SlackProxy(server, `http://127.0.0.1:${port}/api/`);
    return proxy;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

function fieldsOf(contentType: string, body: string): { channel: string; threadTs: string } {
  try {
    if (contentType.includes('json')) {
      const json = JSON.parse(body) as { channel?: unknown; thread_ts?: unknown };
      return { channel: String(json.channel ?? ''), threadTs: String(json.thread_ts ?? '') };
    }
    const form = new URLSearchParams(body);
    return { channel: form.get('channel') ?? '', threadTs: form.get('thread_ts') ?? '' };
  } catch {
    return { channel: '', threadTs: '' };
  }
}

/** Median of a list of numbers (0 for none). */
export function median(values: readonly number[]): number {
  if (!values.length) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** The mocked AWS, the fake table and Slack behind its proxy; reused across storms. */
export class StormRig {
  readonly ddb = mockClient(DynamoDBDocumentClient);
  readonly ec2 = mockClient(EC2Client);
  readonly ssm = mockClient(SSMClient);
  readonly sfn = mockClient(SFNClient);
  readonly table = { current: new FakeTable() };
  private constructor(
    readonly slack: SlackStandIn,
    readonly proxy: SlackProxy,
  ) {
    mockClient(AutoScalingClient);
    mockClient(CloudWatchClient);
    mockClient(SecretsManagerClient)
      .on(GetSecretValueCommand)
      .resolves({ SecretString: JSON.stringify({ botToken: 'xoxb-storm', signingSecret: 'unused' }) });
  }

  /** Start the stand-in and its proxy, and set the functions' environment (before they load). */
  static async start(): Promise<StormRig> {
    const slack = await SlackStandIn.start({ botToken: 'xoxb-storm', signingSecret: 'unused' });
    const proxy = await SlackProxy.start(slack.apiUrl);
    Object.assign(process.env, {
      TABLE_NAME: 'nodemedic-incidents',
      SLACK_SECRET_ID: 'nodemedic/slack',
      SLACK_CHANNEL_ID: CHANNEL,
      SLACK_API_URL: proxy.apiUrl,
      CLUSTER_TAG_KEY: 'eks:cluster-name',
      CLUSTER_NAMES: 'prod',
      STATE_MACHINE_ARN: STATE_MACHINE,
      POWERTOOLS_LOG_LEVEL: 'SILENT',
      POWERTOOLS_METRICS_DISABLED: 'true',
      DOCUMENTS: JSON.stringify({ diagnose: 'nodemedic-diagnose' }),
      ALARM_FILTER: JSON.stringify({ namePrefixes: ['nodemedic-'] }),
    });
    return new StormRig(slack, proxy);
  }

  async close(): Promise<void> {
    await this.proxy.close();
    await this.slack.close();
  }

  /** Replay one storm and measure it. */
  async run(options: StormOptions): Promise<StormResult> {
    const rng = random(options.seed);
    this.reset(options, rng);
    const alarm = (await import('../../functions/handlers/alarm.js')).handler;
    const schedule = this.schedule(options, rng);
    let deliveries = 0;
    let thrown = 0;
    let deadLettered = 0;
    const t0 = Date.now();
    const deliver = async (event: Record<string, unknown>, attempt: number): Promise<void> => {
      deliveries += 1;
      try {
        await alarm(event as never);
      } catch {
        thrown += 1;
        if (attempt >= DELIVERIES) {
          deadLettered += 1;
          return;
        }
        await delay(options.retryDelayMs * attempt);
        await deliver(event, attempt + 1);
      }
    };
    await Promise.all(
      schedule.map(async ({ at, event }) => {
        await delay(at - (Date.now() - t0));
        await deliver(event, 1);
      }),
    );
    const alarmWallMs = Date.now() - t0;
    if (options.analyze) await this.analyzeAll();
    return this.measure(options, { deliveries, thrown, deadLettered, alarmWallMs });
  }

  private reset(options: StormOptions, rng: () => number): void {
    for (const m of [this.ddb, this.ec2, this.ssm, this.sfn]) m.reset();
    const table = new FakeTable();
    table.throttle =
      options.dynamoThrottleRate > 0 ? { rate: options.dynamoThrottleRate, random: rng } : null;
    table.install(this.ddb);
    this.table.current = table;
    this.proxy.calls.length = 0;
    this.proxy.rate = options.slack429Rate;
    this.proxy.rng = rng;
    const ids = Array.from({ length: options.nodes }, (_, n) => n);
    const instance = (n: number) => ({
      InstanceId: instanceOf(n),
      PrivateDnsName: nodeNameOf(n),
      State: { Name: 'running' as const },
      Tags: [
        { Key: 'eks:cluster-name', Value: 'prod' },
        { Key: 'aws:autoscaling:groupName', Value: 'prod-ng' },
      ],
    });
    this.ec2.on(DescribeInstancesCommand).callsFake((input: { InstanceIds?: string[] }) => {
      const wanted = input.InstanceIds ? ids.filter((n) => input.InstanceIds!.includes(instanceOf(n))) : ids;
      return { Reservations: [{ Instances: wanted.map(instance) }] };
    });
    // A containerd rollout: every instance passes both EC2 status checks.
    this.ec2.on(DescribeInstanceStatusCommand).callsFake((input: { InstanceIds?: string[] }) => ({
      InstanceStatuses: (input.InstanceIds ?? []).map((id) => ({
        InstanceId: id,
        InstanceState: { Name: 'running' },
        SystemStatus: { Status: 'ok' },
        InstanceStatus: { Status: 'ok' },
      })),
    }));
    this.ec2.on(GetConsoleOutputCommand).resolves({ Output: '' });
    this.ssm
      .on(DescribeInstanceInformationCommand)
      .callsFake((input: { Filters?: { Values?: string[] }[] }) => ({
        InstanceInformationList: (input.Filters?.[0]?.Values ?? []).map((id) => ({
          InstanceId: id,
          PingStatus: 'Online',
        })),
      }));
    this.sfn.on(StartExecutionCommand).callsFake((input: { name: string }) => ({
      executionArn: `${STATE_MACHINE}:${input.name}`,
      startDate: new Date(),
    }));
  }

  /** One ALARM per NotReady node, an OK and an ALARM per flap, duplicates for the rest. */
  private schedule(
    options: StormOptions,
    rng: () => number,
  ): { at: number; event: Record<string, unknown> }[] {
    const out: { at: number; event: Record<string, unknown> }[] = [];
    const first = new Map<number, { at: number; event: Record<string, unknown> }>();
    let serial = 0;
    for (let n = 0; n < options.notReady; n++) {
      const item = { at: rng() * options.windowMs * 0.8, event: contributorEvent(n, 'ALARM', serial++) };
      first.set(n, item);
      out.push(item);
    }
    for (let f = 0; f < options.flaps; f++) {
      const n = Math.floor(rng() * options.notReady);
      const at = first.get(n)!.at;
      const ok = at + rng() * (options.windowMs - at) * 0.5;
      out.push({ at: ok, event: contributorEvent(n, 'OK', serial++) });
      out.push({ at: ok + rng() * (options.windowMs - ok), event: contributorEvent(n, 'ALARM', serial++) });
    }
    while (out.length < options.events) {
      // A redelivery: the very same event again, a little later.
      const original = first.get(Math.floor(rng() * options.notReady))!;
      out.push({ at: original.at + rng() * (options.windowMs - original.at), event: original.event });
    }
    return out.sort((a, b) => a.at - b.at);
  }

  /** Run the analysis of every started execution, as the workflow would, a few at a time. */
  private async analyzeAll(): Promise<void> {
    const outputs = ['cri-mirrors-config-path-2.1.9', 'daemon-stopped', 'healthy-2.1.9'].map((name) =>
      readFileSync(new URL(`../fixtures/facts/recorded/${name}.json`, import.meta.url), 'utf8'),
    );
    this.ssm.on(GetCommandInvocationCommand).callsFake((input: { CommandId: string }) => {
      const n = Number.parseInt(input.CommandId.replace(/^cmd-/, ''), 10);
      // 85% one shared cause on containerd 2.1.x, 10% another, 5% healthy.
      const stdout = outputs[n % 20 < 17 ? 0 : n % 20 < 19 ? 1 : 2]!;
      return {
        Status: 'Success',
        StatusDetails: 'Success',
        ResponseCode: 0,
        StandardOutputContent: stdout,
        StandardErrorContent: '',
      };
    });
    const analyze = (await import('../../functions/handlers/analyze.js')).handler;
    const started = this.incidents().filter((i) => i.execution);
    for (let i = 0; i < started.length; i += 25) {
      await Promise.all(
        started.slice(i, i + 25).map(async (incident) => {
          const n = Number.parseInt(incident.node.instanceId.slice(2), 16);
          // A step Step Functions retries on a thrown error (its Retry), a few times.
          for (let attempt = 1; attempt <= 4; attempt++) {
            try {
              await analyze({ incidentId: incident.id, commandId: `cmd-${n}` });
              return;
            } catch {
              await delay(200 * attempt);
            }
          }
        }),
      );
    }
  }

  private incidents(): Incident[] {
    return [...this.table.current.items.values()]
      .filter((item) => String(item.pk).startsWith('INCIDENT#'))
      .map((item) => item as unknown as Incident);
  }

  private measure(
    options: StormOptions,
    run: { deliveries: number; thrown: number; deadLettered: number; alarmWallMs: number },
  ): StormResult {
    const incidents = this.incidents();
    const holdItem = this.table.current.items.get('HOLD#prod');
    const cluster = (holdItem as unknown as ClusterIncident | undefined) ?? null;
    const members = new Set(Object.keys(cluster?.members ?? {}));
    let lost = 0;
    for (let n = 0; n < options.notReady; n++) {
      const id = instanceOf(n);
      if (!incidents.some((i) => i.node.instanceId === id) && !members.has(id)) lost += 1;
    }
    const roots = this.proxy.calls.filter((c) => c.root && c.status === 200);
    const bySecond = new Map<string, number>();
    for (const call of this.proxy.calls) {
      const key = `${call.channel}#${Math.floor(call.at / 1000)}`;
      bySecond.set(key, (bySecond.get(key) ?? 0) + 1);
    }
    const counts = [...bySecond.values()];
    const worst = [...bySecond.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
    const busiest = this.proxy.calls.filter((c) => `${c.channel}#${Math.floor(c.at / 1000)}` === worst);
    const summary = cluster?.thread ? this.slack.message(CHANNEL, cluster.thread.ts) : undefined;
    return {
      events: options.events,
      ...run,
      incidentsOpened: incidents.length,
      clusterIncidents: cluster ? 1 : 0,
      held: incidents.filter((i) => i.clusterIncident).length,
      threadsPosted: roots.length,
      clusterThreads: cluster?.thread ? 1 : 0,
      slackCalls: this.proxy.calls.length,
      slack429: this.proxy.calls.filter((c) => c.status === 429).length,
      perSecondMax: counts.length ? Math.max(...counts) : 0,
      perSecondMedian: median(counts),
      busiest,
      lost,
      neverStarted: incidents.filter(
        (i) => !i.execution && !['recovered', 'escalated', 'closed'].includes(i.phase),
      ).length,
      throughput: options.events / (run.alarmWallMs / 1000),
      cluster,
      summaryText: summary?.text ?? null,
    };
  }
}
