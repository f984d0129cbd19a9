/**
 * `ClusterSweeper` over SSM Run Command: one SendCommand of nodemedic's diagnose document at depth
 * `quick`, targeted at the instances carrying the cluster tag (`Targets: [{ Key: 'tag:<key>',
 * Values: [cluster] }]`), rate-limited by SSM itself (`MaxConcurrency`, `MaxErrors`). Results come
 * from ListCommandInvocations with `Details: true`, every page (SSM returns at most 50 a page),
 * and ListCommands says whether the command has finished and how many nodes it targeted.
 *
 * Shapes (AWS Systems Manager API reference):
 * - SendCommand, https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_SendCommand.html:
 *   `Targets` (`Key: 'tag:<tag-key>'`), `MaxConcurrency` / `MaxErrors` (a number or a percentage),
 *   the response's `Command.CommandId`.
 * - ListCommandInvocations,
 *   https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_ListCommandInvocations.html:
 *   `CommandInvocations[]` of `{ InstanceId, Status, StatusDetails, CommandPlugins[] }`, each plugin
 *   `{ Status, ResponseCode, Output }`, paged with `NextToken`, `MaxResults` 1 to 50.
 * - CommandPlugin (API_CommandPlugin.html): `Output` is at most 2,500 characters. A quick probe's
 *   facts document can be longer, so a cut output is read again with GetCommandInvocation
 *   (API_GetCommandInvocation.html, up to 24,000 characters of stdout).
 * - ListCommands (API_ListCommands.html): `Commands[0]` has `Status`, `TargetCount`,
 *   `CompletedCount`, `ErrorCount`, `DeliveryTimedOutCount`.
 */
import {
  GetCommandInvocationCommand,
  type GetCommandInvocationCommandOutput,
  ListCommandInvocationsCommand,
  type ListCommandInvocationsCommandOutput,
  ListCommandsCommand,
  type ListCommandsCommandOutput,
  SendCommandCommand,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import { DependencyError, InvalidInputError } from '../../core/errors.js';
import { CLUSTER_NAME, INSTANCE_ID, TAG_KEY } from '../../core/patterns.js';
import type {
  ClusterSweeper,
  SweepLimits,
  SweepNodeResult,
  SweepNodeStatus,
  SweepResults,
} from '../../core/ports.js';
import { DIAGNOSE_TIMEOUT_SECONDS } from '../../core/script-params.js';
import { validateSweepLimits } from '../../core/sweep.js';
import { errorName, toDependencyError } from './sdk-errors.js';

/** Options of {@link SsmClusterSweeper}. */
export interface SsmClusterSweeperOptions {
  readonly client: SSMClient;
  /** nodemedic's diagnose document (its name or ARN). */
  readonly document: string;
  /** The tag whose value names a node's cluster: the inventory's and the IAM condition's. */
  readonly clusterTagKey: string;
}

/** ListCommandInvocations' page size limit. */
const PAGE_SIZE = 50;
/** More pages than any cluster nodemedic serves (50 × 200 = 10,000 nodes) means a service fault. */
const MAX_PAGES = 200;
/** CommandPlugin.Output's documented cap: an output this long may be cut. */
const PLUGIN_OUTPUT_CAP = 2_500;
/** SendCommand's smallest delivery timeout. */
const DELIVERY_TIMEOUT_SECONDS = 30;
const COMMENT_MAX = 100;

/** SSM's per-invocation status words to ours (StatusDetails first: it is finer). */
const STATUS: Readonly<Record<string, SweepNodeStatus | 'pending'>> = {
  Pending: 'pending',
  InProgress: 'pending',
  Delayed: 'pending',
  Cancelling: 'pending',
  Success: 'success',
  Failed: 'failed',
  TimedOut: 'timed-out',
  ExecutionTimedOut: 'timed-out',
  Cancelled: 'cancelled',
  Undeliverable: 'undeliverable',
  DeliveryTimedOut: 'undeliverable',
  Terminated: 'undeliverable',
  InvalidPlatform: 'undeliverable',
  AccessDenied: 'undeliverable',
};

/** A command's overall status words that mean it has finished. */
const COMMAND_DONE = new Set(['Success', 'Failed', 'TimedOut', 'Cancelled']);

const RETRYABLE = new Set([
  'ThrottlingException',
  'TooManyUpdates',
  'InternalServerError',
  'ServiceUnavailable',
]);

/** Sweeps a cluster's nodes over SSM Run Command, by tag. */
export class SsmClusterSweeper implements ClusterSweeper {
  constructor(private readonly options: SsmClusterSweeperOptions) {
    if (!options.document) throw new InvalidInputError('the diagnose document name is empty');
    if (!TAG_KEY.test(options.clusterTagKey)) {
      throw new InvalidInputError(
        `cluster tag key ${JSON.stringify(options.clusterTagKey)} is not an AWS tag key`,
      );
    }
  }

  async start(
    cluster: string,
    options: { readonly limits: SweepLimits; readonly comment: string },
  ): Promise<{ commandId: string }> {
    if (!CLUSTER_NAME.test(cluster)) {
      throw new InvalidInputError(`not a cluster name: ${JSON.stringify(cluster.slice(0, 100))}`, {
        code: 'CLUSTER_INVALID',
      });
    }
    validateSweepLimits(options.limits);
    const what = `SendCommand ${this.options.document} (quick probe) to the nodes tagged ${this.options.clusterTagKey}=${cluster}`;
    try {
      const out = await this.options.client.send(
        new SendCommandCommand({
          DocumentName: this.options.document,
          Targets: [{ Key: `tag:${this.options.clusterTagKey}`, Values: [cluster] }],
          Parameters: { depth: ['quick'] },
          MaxConcurrency: options.limits.maxConcurrency,
          MaxErrors: options.limits.maxErrors,
          TimeoutSeconds: Math.max(DELIVERY_TIMEOUT_SECONDS, DIAGNOSE_TIMEOUT_SECONDS),
          Comment: clip(options.comment || `nodemedic sweep ${cluster}`, COMMENT_MAX),
        }),
      );
      const commandId = out.Command?.CommandId;
      if (!commandId) throw new DependencyError('SSM_FAILED', `${what}: no command id in the response`);
      return { commandId };
    } catch (error) {
      throw toDependencyError(error, what, 'SSM', RETRYABLE);
    }
  }

  async results(commandId: string): Promise<SweepResults> {
    const command = await this.command(commandId);
    const nodes: SweepNodeResult[] = [];
    let pending = 0;
    let nextToken: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      let out: ListCommandInvocationsCommandOutput;
      try {
        out = await this.options.client.send(
          new ListCommandInvocationsCommand({
            CommandId: commandId,
            Details: true,
            MaxResults: PAGE_SIZE,
            ...(nextToken ? { NextToken: nextToken } : {}),
          }),
        );
      } catch (error) {
        throw toDependencyError(error, `ListCommandInvocations ${commandId}`, 'SSM', RETRYABLE);
      }
      for (const invocation of out.CommandInvocations ?? []) {
        const instanceId = invocation.InstanceId ?? '';
        if (!INSTANCE_ID.test(instanceId)) continue; // Not an EC2 node (SSM also lists mi-… hybrid nodes).
        const word = invocation.StatusDetails || invocation.Status || '';
        const status = STATUS[word] ?? (invocation.Status ? STATUS[invocation.Status] : undefined);
        if (!status) {
          throw new DependencyError(
            'SSM_UNKNOWN_STATUS',
            `invocation of ${commandId} on ${instanceId} has a status nodemedic does not know: "${word}"`,
          );
        }
        if (status === 'pending') {
          pending += 1;
          continue;
        }
        const plugin = invocation.CommandPlugins?.[0];
        let output = plugin?.Output ?? '';
        if (status === 'success' || status === 'failed') {
          if (output.length >= PLUGIN_OUTPUT_CAP || /---Output truncated---/.test(output)) {
            output = await this.fullOutput(commandId, instanceId);
          }
        }
        nodes.push({ instanceId, status, detail: word, output });
      }
      nextToken = out.NextToken;
      if (!nextToken) {
        const targeted = command.TargetCount ?? null;
        const finished = COMMAND_DONE.has(command.Status ?? '');
        return {
          // Done when SSM says the command finished and every invocation it listed has ended.
          done: finished && pending === 0,
          nodes: nodes.sort((a, b) => a.instanceId.localeCompare(b.instanceId)),
          targeted: targeted === null ? null : Math.max(targeted, nodes.length + pending),
        };
      }
    }
    throw new DependencyError(
      'SSM_FAILED',
      `ListCommandInvocations ${commandId} still had more pages after ${MAX_PAGES} of ${PAGE_SIZE}`,
    );
  }

  /** The command's overall state (ListCommands). */
  private async command(
    commandId: string,
  ): Promise<NonNullable<ListCommandsCommandOutput['Commands']>[number]> {
    let out: ListCommandsCommandOutput;
    try {
      out = await this.options.client.send(new ListCommandsCommand({ CommandId: commandId }));
    } catch (error) {
      if (errorName(error) === 'InvalidCommandId') {
        throw new InvalidInputError(`no SSM command ${commandId}`, { code: 'COMMAND_NOT_FOUND' });
      }
      throw toDependencyError(error, `ListCommands ${commandId}`, 'SSM', RETRYABLE);
    }
    const command = out.Commands?.[0];
    if (!command) throw new InvalidInputError(`no SSM command ${commandId}`, { code: 'COMMAND_NOT_FOUND' });
    return command;
  }

  /** The whole stdout of one invocation, when ListCommandInvocations' 2,500 characters cut it. */
  private async fullOutput(commandId: string, instanceId: string): Promise<string> {
    let out: GetCommandInvocationCommandOutput;
    try {
      out = await this.options.client.send(
        new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId }),
      );
    } catch (error) {
      throw toDependencyError(error, `GetCommandInvocation ${commandId} on ${instanceId}`, 'SSM', RETRYABLE);
    }
    return out.StandardOutputContent ?? '';
  }
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
