/**
 * A fixed fleet for the local mode, the demo and tests: nodes from a list, reachability and
 * console output set per node, and the instance-level actions (reboot, replace) recorded instead
 * of performed, so a test can assert what nodemedic would have done to EC2.
 */
import { InvalidInputError, NodeNotFoundError } from '../../core/errors.js';
import type { NodeInventory, NodeRef, Reachability } from '../../core/ports.js';

/** A reachable, running node, as the local mode sees its own machine. */
export const LOCAL_REACHABILITY: Reachability = {
  agent: 'local',
  instanceState: 'running',
  systemStatus: 'ok',
  instanceStatus: 'ok',
  reachable: true,
};

/** One reboot or replace that nodemedic asked for. */
export interface RecordedAction {
  readonly action: 'reboot' | 'replace';
  readonly instanceId: string;
  /** ISO-8601 UTC. */
  readonly at: string;
}

/** Options of {@link StaticNodeInventory}. */
export interface StaticNodeInventoryOptions {
  readonly nodes: readonly NodeRef[];
  /** Per instance id; a node not listed is {@link LOCAL_REACHABILITY}. */
  readonly reachability?: Readonly<Record<string, Reachability>>;
  /** Per instance id; a node not listed has an empty console. */
  readonly consoleOutput?: Readonly<Record<string, string>>;
  /**
   * Instance ids counted as NotReady by `clusterHealth` on top of the unreachable ones (to
   * exercise the blast-radius hold). @default none
   */
  readonly notReady?: readonly string[];
  /** @default () => new Date() */
  readonly clock?: () => Date;
}

/** `NodeInventory` over a static list. */
export class StaticNodeInventory implements NodeInventory {
  /** Every reboot/replace asked for, oldest first. */
  readonly actions: RecordedAction[] = [];
  private readonly nodes: readonly NodeRef[];
  private readonly reach = new Map<string, Reachability>();
  private readonly console = new Map<string, string>();
  private readonly notReady: Set<string>;
  private readonly clock: () => Date;

  constructor(options: StaticNodeInventoryOptions) {
    const ids = new Set<string>();
    for (const node of options.nodes) {
      if (ids.has(node.instanceId)) {
        throw new InvalidInputError(`static inventory lists instance ${node.instanceId} twice`);
      }
      ids.add(node.instanceId);
    }
    this.nodes = options.nodes.map((node) => ({ ...node }));
    for (const [id, value] of Object.entries(options.reachability ?? {})) this.setReachability(id, value);
    for (const [id, text] of Object.entries(options.consoleOutput ?? {})) this.console.set(id, text);
    this.notReady = new Set(options.notReady ?? []);
    this.clock = options.clock ?? (() => new Date());
  }

  /** Change a node's reachability (a test taking the agent offline, the demo's "node down"). */
  setReachability(instanceId: string, value: Reachability): void {
    this.find(instanceId);
    this.reach.set(instanceId, { ...value });
  }

  async resolve(query: { instanceId?: string; nodeName?: string; cluster?: string }): Promise<NodeRef> {
    if (!query.instanceId && !query.nodeName) {
      throw new InvalidInputError('resolve needs an instance id or a node name');
    }
    const node = this.nodes.find((n) =>
      query.instanceId ? n.instanceId === query.instanceId : n.nodeName === query.nodeName,
    );
    const asked = query.instanceId ? `instance ${query.instanceId}` : `node ${query.nodeName}`;
    if (!node) throw new NodeNotFoundError(`${asked} is not in the inventory`);
    if (query.cluster !== undefined && node.cluster !== query.cluster) {
      throw new NodeNotFoundError(`${asked} belongs to cluster "${node.cluster}", not "${query.cluster}"`);
    }
    return { ...node };
  }

  async reachability(node: NodeRef): Promise<Reachability> {
    this.find(node.instanceId);
    return { ...(this.reach.get(node.instanceId) ?? LOCAL_REACHABILITY) };
  }

  async consoleOutput(node: NodeRef): Promise<string> {
    this.find(node.instanceId);
    return this.console.get(node.instanceId) ?? '';
  }

  /** NotReady here means unreachable or listed in `notReady`: the same view the EC2 inventory has. */
  async clusterHealth(cluster: string): Promise<{ total: number; notReady: number }> {
    const members = this.nodes.filter((n) => n.cluster === cluster);
    const notReady = members.filter(
      (n) => this.notReady.has(n.instanceId) || this.reach.get(n.instanceId)?.reachable === false,
    ).length;
    return { total: members.length, notReady };
  }

  async reboot(node: NodeRef): Promise<void> {
    this.find(node.instanceId);
    this.record('reboot', node.instanceId);
  }

  async replace(node: NodeRef): Promise<void> {
    const known = this.find(node.instanceId);
    if (!known.autoScalingGroup) {
      throw new InvalidInputError(
        `instance ${node.instanceId} is in no Auto Scaling group: replacing it would not bring a new node`,
        { code: 'REPLACE_UNSUPPORTED' },
      );
    }
    this.record('replace', node.instanceId);
    // As EC2 reports it right after TerminateInstanceInAutoScalingGroup.
    this.reach.set(node.instanceId, {
      agent: 'ConnectionLost',
      instanceState: 'shutting-down',
      systemStatus: 'not-applicable',
      instanceStatus: 'not-applicable',
      reachable: false,
    });
  }

  private find(instanceId: string): NodeRef {
    const node = this.nodes.find((n) => n.instanceId === instanceId);
    if (!node) throw new NodeNotFoundError(`instance ${instanceId} is not in the inventory`);
    return node;
  }

  private record(action: RecordedAction['action'], instanceId: string): void {
    this.actions.push({ action, instanceId, at: this.clock().toISOString() });
  }
}
