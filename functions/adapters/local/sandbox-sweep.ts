/**
 * The local `ClusterSweeper`: the same quick probe (diagnose.sh at depth `quick`, the bytes the SSM
 * document carries) run on each local node through the local shell runner, with SSM's rate
 * limits applied here the way SSM applies them: at most MaxConcurrency probes at once, and no new
 * probe once more than MaxErrors have failed. A local node is a containerd sandbox (or any
 * environment the script can be aimed at), named by its `NodeRef` and its `NODEMEDIC_*`
 * environment.
 */
import { randomUUID } from 'node:crypto';
import { InvalidInputError } from '../../core/errors.js';
import type {
  ClusterSweeper,
  NodeRef,
  SweepLimits,
  SweepNodeResult,
  SweepNodeStatus,
  SweepResults,
} from '../../core/ports.js';
import { DIAGNOSE_TIMEOUT_SECONDS } from '../../core/script-params.js';
import { concurrencyOf, errorBudgetOf, validateSweepLimits } from '../../core/sweep.js';
import { ShellCommandRunner } from './shell-runner.js';

/** One local node a sweep can probe. */
export interface LocalSweepNode {
  readonly node: NodeRef;
  /** The script's environment on this node, e.g. `sandbox.env()` (paths, PATH with the systemctl stand-in). */
  readonly env: Readonly<Record<string, string>>;
}

/** Options of {@link LocalClusterSweeper}. */
export interface LocalClusterSweeperOptions {
  readonly nodes: readonly LocalSweepNode[];
  /** Where diagnose.sh lives. @default functions/scripts */
  readonly scriptsDir?: string;
}

interface Sweep {
  readonly results: SweepNodeResult[];
  readonly targeted: number;
  done: boolean;
  readonly finished: Promise<void>;
}

/** Sweeps the local nodes of a cluster with the real quick probe. */
export class LocalClusterSweeper implements ClusterSweeper {
  private readonly sweeps = new Map<string, Sweep>();

  constructor(private readonly options: LocalClusterSweeperOptions) {}

  async start(
    cluster: string,
    options: { readonly limits: SweepLimits; readonly comment: string },
  ): Promise<{ commandId: string }> {
    validateSweepLimits(options.limits);
    const targets = this.options.nodes.filter((n) => n.node.cluster === cluster);
    const commandId = randomUUID();
    const results: SweepNodeResult[] = [];
    const concurrency = concurrencyOf(options.limits.maxConcurrency, targets.length);
    const budget = errorBudgetOf(options.limits.maxErrors, targets.length);
    let errors = 0;
    let next = 0;
    const worker = async (): Promise<void> => {
      // Like SSM: once the errors exceed MaxErrors, no further node gets the probe.
      while (next < targets.length && errors <= budget) {
        const target = targets[next++]!;
        const result = await this.probe(target);
        if (result.status !== 'success') errors += 1;
        results.push(result);
      }
    };
    const sweep: Sweep = {
      results,
      targeted: targets.length,
      done: false,
      finished: Promise.all(Array.from({ length: Math.min(concurrency, targets.length) }, worker)).then(
        () => {
          sweep.done = true;
        },
      ),
    };
    this.sweeps.set(commandId, sweep);
    return { commandId };
  }

  async results(commandId: string): Promise<SweepResults> {
    const sweep = this.sweeps.get(commandId);
    if (!sweep) throw new InvalidInputError(`no sweep ${commandId}`, { code: 'COMMAND_NOT_FOUND' });
    return {
      done: sweep.done,
      nodes: [...sweep.results].sort((a, b) => a.instanceId.localeCompare(b.instanceId)),
      targeted: sweep.targeted,
    };
  }

  /** Resolves when the sweep has ended (no polling); for tests and the rehearsal. */
  async wait(commandId: string): Promise<SweepResults> {
    await this.sweeps.get(commandId)?.finished;
    return this.results(commandId);
  }

  private async probe(target: LocalSweepNode): Promise<SweepNodeResult> {
    const runner = new ShellCommandRunner({
      env: { ...target.env },
      ...(this.options.scriptsDir ? { scriptsDir: this.options.scriptsDir } : {}),
    });
    const { commandId } = await runner.send({
      node: target.node,
      script: 'diagnose',
      parameters: { depth: 'quick' },
      timeoutSeconds: DIAGNOSE_TIMEOUT_SECONDS,
      comment: `nodemedic sweep ${target.node.cluster}`,
    });
    const invocation = await runner.wait(commandId, target.node);
    const status: SweepNodeStatus = invocation.status === 'pending' ? 'timed-out' : invocation.status;
    return {
      instanceId: target.node.instanceId,
      status,
      detail: invocation.detail,
      output: invocation.stdout,
    };
  }
}
