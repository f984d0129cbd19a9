/**
 * `NodeInventory` over EC2 (lookup, status checks, console, reboot), SSM (agent PingStatus) and
 * Auto Scaling (replace). Only instances carrying the configured cluster tag are nodes nodemedic
 * may touch: the IAM policy scopes SendCommand the same way, and this check gives the clear
 * refusal before IAM would give an opaque one.
 */
import {
  type AutoScalingClient,
  TerminateInstanceInAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  DescribeInstanceStatusCommand,
  DescribeInstancesCommand,
  type DescribeInstancesCommandInput,
  type EC2Client,
  GetConsoleOutputCommand,
  type Instance,
  type InstanceStatus,
  paginateDescribeInstances,
  RebootInstancesCommand,
} from '@aws-sdk/client-ec2';
import { DescribeInstanceInformationCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { validateInstanceId } from '../../core/alarm.js';
import { InvalidInputError, type NodemedicError, NodeNotFoundError } from '../../core/errors.js';
import { isNodeName } from '../../core/patterns.js';
import type { NodeInventory, NodeRef, Reachability } from '../../core/ports.js';
import { errorName, toDependencyError } from './sdk-errors.js';

/** Options of {@link Ec2NodeInventory}. */
export interface Ec2NodeInventoryOptions {
  readonly ec2: EC2Client;
  readonly ssm: SSMClient;
  readonly autoScaling: AutoScalingClient;
  /** The tag whose value names the node's cluster, e.g. `nodemedic:cluster` or `eks:cluster-name`. */
  readonly clusterTagKey: string;
  /**
   * The clusters nodemedic may work on (the tag's values). A node of any other cluster is refused
   * here, with its cluster named, rather than later by IAM. @default every cluster the tag names
   */
  readonly clusterNames?: readonly string[];
}

/** The tag EC2 Auto Scaling puts on the instances it launches. */
const ASG_TAG_KEY = 'aws:autoscaling:groupName';
/** How much of the console output is kept: the tail is where the kernel's last words are. */
export const CONSOLE_TAIL_CHARS = 4096;

/** Error names that mean "slow down and try again" across EC2, SSM and Auto Scaling. */
const RETRYABLE = new Set([
  'RequestLimitExceeded',
  'Throttling',
  'ThrottlingException',
  'InternalError',
  'InternalFailure',
  'ServiceUnavailable',
  'Unavailable',
  'ScalingActivityInProgressFault',
  'ResourceContentionFault',
]);
const NOT_FOUND = new Set(['InvalidInstanceID.NotFound', 'InvalidInstanceID.Malformed']);

/** The EC2 fleet as nodemedic sees it. */
export class Ec2NodeInventory implements NodeInventory {
  private readonly ec2: EC2Client;
  private readonly ssm: SSMClient;
  private readonly autoScaling: AutoScalingClient;
  private readonly tagKey: string;
  private readonly clusters: ReadonlySet<string> | null;

  constructor(options: Ec2NodeInventoryOptions) {
    if (!options.clusterTagKey) throw new InvalidInputError('clusterTagKey is empty');
    this.ec2 = options.ec2;
    this.ssm = options.ssm;
    this.autoScaling = options.autoScaling;
    this.tagKey = options.clusterTagKey;
    this.clusters = options.clusterNames?.length ? new Set(options.clusterNames) : null;
  }

  /**
   * By instance id, or by node name (the private DNS name, which two VPCs may share: the cluster
   * tag then picks the one). Terminated instances are ignored for a name lookup.
   */
  async resolve(query: { instanceId?: string; nodeName?: string; cluster?: string }): Promise<NodeRef> {
    let instances: Instance[];
    let asked: string;
    if (query.instanceId) {
      asked = `instance ${validateInstanceId(query.instanceId)}`;
      instances = await this.describe({ InstanceIds: [query.instanceId] }, asked);
    } else if (query.nodeName) {
      if (!isNodeName(query.nodeName)) {
        throw new InvalidInputError(
          `not a Kubernetes node name: ${JSON.stringify(query.nodeName.slice(0, 80))}`,
        );
      }
      asked = `node ${query.nodeName}`;
      instances = await this.describe(
        {
          Filters: [
            { Name: 'private-dns-name', Values: [query.nodeName] },
            {
              Name: 'instance-state-name',
              Values: ['pending', 'running', 'stopping', 'stopped', 'shutting-down'],
            },
          ],
        },
        asked,
      );
    } else {
      throw new InvalidInputError('resolve needs an instance id or a node name');
    }
    if (instances.length === 0) throw new NodeNotFoundError(`${asked} was not found in EC2`);

    const tagged = instances.filter((i) => tag(i, this.tagKey) !== undefined);
    if (tagged.length === 0) {
      throw new NodeNotFoundError(
        `${asked} does not carry the cluster tag "${this.tagKey}": nodemedic only works on tagged cluster nodes`,
      );
    }
    const matching =
      query.cluster === undefined ? tagged : tagged.filter((i) => tag(i, this.tagKey) === query.cluster);
    if (matching.length === 0) {
      const found = tagged.map((i) => `${this.tagKey}=${tag(i, this.tagKey)}`).join(', ');
      throw new NodeNotFoundError(`${asked} carries ${found}, not cluster "${query.cluster}"`);
    }
    if (matching.length > 1) {
      const ids = matching.map((i) => i.InstanceId).join(', ');
      throw new NodeNotFoundError(`${asked} matches several instances (${ids}); give the instance id`);
    }
    const instance = matching[0]!;
    const cluster = tag(instance, this.tagKey)!;
    if (this.clusters && !this.clusters.has(cluster)) {
      throw new NodeNotFoundError(
        `${asked} is in cluster "${cluster}", which nodemedic is not configured for (${[...this.clusters].join(', ')})`,
      );
    }
    return {
      instanceId: validateInstanceId(instance.InstanceId ?? ''),
      nodeName: instance.PrivateDnsName || query.nodeName || null,
      cluster,
      autoScalingGroup: tag(instance, ASG_TAG_KEY) ?? null,
    };
  }

  /** SSM's view of the agent and EC2's view of the instance, asked at the same time. */
  async reachability(node: NodeRef): Promise<Reachability> {
    const id = validateInstanceId(node.instanceId);
    const [agent, status] = await Promise.all([
      call(`SSM DescribeInstanceInformation ${id}`, () =>
        this.ssm.send(
          new DescribeInstanceInformationCommand({ Filters: [{ Key: 'InstanceIds', Values: [id] }] }),
        ),
      ),
      call(`EC2 DescribeInstanceStatus ${id}`, () =>
        this.ec2.send(new DescribeInstanceStatusCommand({ InstanceIds: [id], IncludeAllInstances: true })),
      ),
    ]);
    // Not in the list at all: the agent never registered (no instance profile, no agent installed).
    const ping = agent.InstanceInformationList?.[0]?.PingStatus ?? 'NotRegistered';
    const s = status.InstanceStatuses?.[0];
    const instanceState = s?.InstanceState?.Name ?? 'unknown';
    return {
      agent: ping,
      instanceState,
      systemStatus: s?.SystemStatus?.Status ?? 'unknown',
      instanceStatus: s?.InstanceStatus?.Status ?? 'unknown',
      reachable: ping === 'Online' && instanceState === 'running',
    };
  }

  /** The last {@link CONSOLE_TAIL_CHARS} characters of the console, decoded. */
  async consoleOutput(node: NodeRef): Promise<string> {
    const id = validateInstanceId(node.instanceId);
    const what = `EC2 GetConsoleOutput ${id}`;
    let output: string | undefined;
    try {
      output = (await this.ec2.send(new GetConsoleOutputCommand({ InstanceId: id, Latest: true }))).Output;
    } catch (error) {
      // `Latest` works on Nitro instances only; Xen ones refuse it but give the buffered output.
      if (errorName(error) !== 'UnsupportedOperation') throw inventoryError(error, what);
      output = (await call(what, () => this.ec2.send(new GetConsoleOutputCommand({ InstanceId: id }))))
        .Output;
    }
    if (!output) return '';
    const text = Buffer.from(output, 'base64').toString('utf8');
    return text.length > CONSOLE_TAIL_CHARS ? text.slice(-CONSOLE_TAIL_CHARS) : text;
  }

  /**
   * Running instances with the cluster tag, and how many of them fail an EC2 status check (system
   * or instance check not `ok`, or no status reported yet). Kubernetes' own NotReady is not visible
   * from EC2: a node whose containerd is down passes both checks. So `notReady` here counts the
   * nodes that are down at the instance level, a lower bound; the caller adds the incidents it has
   * open for the cluster when it judges the blast radius.
   */
  async clusterHealth(cluster: string): Promise<{ total: number; notReady: number }> {
    const ids: string[] = [];
    try {
      const pages = paginateDescribeInstances(
        { client: this.ec2 },
        {
          Filters: [
            { Name: `tag:${this.tagKey}`, Values: [cluster] },
            { Name: 'instance-state-name', Values: ['running'] },
          ],
        },
      );
      for await (const page of pages) {
        for (const r of page.Reservations ?? []) {
          for (const i of r.Instances ?? []) if (i.InstanceId) ids.push(i.InstanceId);
        }
      }
    } catch (error) {
      throw inventoryError(error, `EC2 DescribeInstances for cluster ${cluster}`);
    }
    const statuses = new Map<string, InstanceStatus>();
    // DescribeInstanceStatus takes at most 100 instance ids per call.
    for (let start = 0; start < ids.length; start += 100) {
      const chunk = ids.slice(start, start + 100);
      let token: string | undefined;
      do {
        const page = await call(`EC2 DescribeInstanceStatus for cluster ${cluster}`, () =>
          this.ec2.send(
            new DescribeInstanceStatusCommand({
              InstanceIds: chunk,
              IncludeAllInstances: true,
              NextToken: token,
            }),
          ),
        );
        for (const s of page.InstanceStatuses ?? []) if (s.InstanceId) statuses.set(s.InstanceId, s);
        token = page.NextToken;
      } while (token);
    }
    const notReady = ids.filter((id) => {
      const s = statuses.get(id);
      return s?.SystemStatus?.Status !== 'ok' || s?.InstanceStatus?.Status !== 'ok';
    }).length;
    return { total: ids.length, notReady };
  }

  async reboot(node: NodeRef): Promise<void> {
    const id = validateInstanceId(node.instanceId);
    await call(`EC2 RebootInstances ${id}`, () =>
      this.ec2.send(new RebootInstancesCommand({ InstanceIds: [id] })),
    );
  }

  /** Terminate in the group, keeping its desired capacity, so the group launches a fresh node. */
  async replace(node: NodeRef): Promise<void> {
    const id = validateInstanceId(node.instanceId);
    if (!node.autoScalingGroup) {
      throw new InvalidInputError(
        `instance ${id} is in no Auto Scaling group (no ${ASG_TAG_KEY} tag): terminating it would not bring a new node`,
        { code: 'REPLACE_UNSUPPORTED' },
      );
    }
    await call(`Auto Scaling TerminateInstanceInAutoScalingGroup ${id}`, () =>
      this.autoScaling.send(
        new TerminateInstanceInAutoScalingGroupCommand({
          InstanceId: id,
          ShouldDecrementDesiredCapacity: false,
        }),
      ),
    );
  }

  private async describe(input: DescribeInstancesCommandInput, asked: string): Promise<Instance[]> {
    try {
      const out = await this.ec2.send(new DescribeInstancesCommand(input));
      return (out.Reservations ?? []).flatMap((r) => r.Instances ?? []);
    } catch (error) {
      if (NOT_FOUND.has(errorName(error))) {
        throw new NodeNotFoundError(`${asked} was not found in EC2`, { cause: error });
      }
      throw inventoryError(error, `EC2 DescribeInstances (${asked})`);
    }
  }
}

function tag(instance: Instance, key: string): string | undefined {
  return instance.Tags?.find((t) => t.Key === key)?.Value;
}

async function call<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw inventoryError(error, what);
  }
}

function inventoryError(error: unknown, what: string): NodemedicError {
  return toDependencyError(error, what, 'INVENTORY', RETRYABLE);
}
