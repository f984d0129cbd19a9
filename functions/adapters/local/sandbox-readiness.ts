/**
 * The local `NodeReadiness`: each local node's readiness as Container Insights'
 * `node_status_condition_ready` would report it, read from the node itself (for a containerd
 * sandbox: whether its containerd answers, as the local alarm states already read it). For the
 * rehearsal's cluster-only alarm and the verification after a fix. A cluster with no local node has
 * no series: `notReady` is then null, and the caller sweeps, as in AWS without Container Insights.
 */
import type { NodeReadiness, NodeRef, ReadinessNode } from '../../core/ports.js';

/** One local node and how to read its readiness. */
export interface LocalReadinessNode {
  readonly node: NodeRef;
  /** True when the node would report Ready (e.g. `() => sandbox.answers()`). */
  readonly ready: () => Promise<boolean>;
}

/** `NodeReadiness` over the local nodes. */
export class LocalNodeReadiness implements NodeReadiness {
  constructor(private readonly nodes: readonly LocalReadinessNode[]) {}

  async notReady(cluster: string): Promise<readonly ReadinessNode[] | null> {
    const members = this.nodes.filter((n) => n.node.cluster === cluster);
    if (members.length === 0) return null;
    const states = await Promise.all(members.map(async (n) => ({ n, ready: await n.ready() })));
    return states
      .filter((s) => !s.ready)
      .map((s) => ({ instanceId: s.n.node.instanceId, nodeName: s.n.node.nodeName }));
  }

  async nodeState(node: NodeRef): Promise<'ready' | 'not-ready' | 'unknown'> {
    const local = this.nodes.find((n) => n.node.instanceId === node.instanceId);
    if (!local) return 'unknown';
    return (await local.ready()) ? 'ready' : 'not-ready';
  }
}
