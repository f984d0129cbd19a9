/**
 * A `CommandRunner` for a local cluster: each node's commands go to that node's own runner (for
 * the rehearsal, a shell runner aimed at the node's containerd sandbox), as SSM sends each
 * command to the instance it names. A node without a runner is refused as SSM refuses an instance
 * it does not manage.
 */
import { DependencyError } from '../../core/errors.js';
import type { CommandInvocation, CommandRequest, CommandRunner, NodeRef } from '../../core/ports.js';

/** Routes commands by the node's instance id. */
export class RoutingCommandRunner implements CommandRunner {
  private readonly runners: ReadonlyMap<string, CommandRunner>;

  /** `runners`: each node's runner, by instance id. */
  constructor(runners: ReadonlyMap<string, CommandRunner>) {
    this.runners = runners;
  }

  send(request: CommandRequest): Promise<{ commandId: string }> {
    return this.route(request.node).send(request);
  }

  get(commandId: string, node: NodeRef): Promise<CommandInvocation> {
    return this.route(node).get(commandId, node);
  }

  cancel(commandId: string, node: NodeRef): Promise<void> {
    return this.route(node).cancel(commandId, node);
  }

  private route(node: NodeRef): CommandRunner {
    const runner = this.runners.get(node.instanceId);
    if (!runner) {
      // Like SSM's InvalidInstanceId: the instance is not one this runner reaches.
      throw new DependencyError(
        'SSM_INSTANCE_NOT_MANAGED',
        `instance ${node.instanceId} is not a node of this local cluster`,
      );
    }
    return runner;
  }
}
