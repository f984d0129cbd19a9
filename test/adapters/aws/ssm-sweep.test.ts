/**
 * The SSM sweep over aws-sdk-client-mock, with the documented request and response shapes:
 * - SendCommand: https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_SendCommand.html
 *   (`Targets: [{ Key: 'tag:<key>', Values }]`, `MaxConcurrency`, `MaxErrors`; the response's
 *   `Command { CommandId, TargetCount, … }`).
 * - ListCommandInvocations:
 *   https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_ListCommandInvocations.html
 *   (`Details: true`, `MaxResults` ≤ 50, `NextToken`; `CommandInvocations[] { InstanceId, Status,
 *   StatusDetails, CommandPlugins[] { Status, ResponseCode, Output } }`).
 * - CommandPlugin: https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_CommandPlugin.html
 *   (`Output`: at most 2,500 characters).
 * - ListCommands: https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_ListCommands.html
 *   (`Commands[] { CommandId, Status, TargetCount, CompletedCount, ErrorCount }`).
 * - GetCommandInvocation: https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetCommandInvocation.html
 */
import { readFileSync } from 'node:fs';
import type { CommandInvocation, Command as SsmCommand } from '@aws-sdk/client-ssm';
import {
  GetCommandInvocationCommand,
  ListCommandInvocationsCommand,
  ListCommandsCommand,
  SendCommandCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { SsmClusterSweeper } from '../../../functions/adapters/aws/ssm-sweep.js';

const ssm = mockClient(SSMClient);
const DOCUMENT = 'NodeMedic-Diagnose-1A2B3C';
const sweeper = new SsmClusterSweeper({
  client: new SSMClient({}),
  document: DOCUMENT,
  clusterTagKey: 'eks:cluster-name',
});
const COMMAND = 'ef7fdfd8-9b57-4151-a15c-db9a12345678';
const LIMITS = { maxConcurrency: '20%', maxErrors: '50%' };
const LONG = readFileSync(
  new URL('../../fixtures/facts/recorded/metadata-corrupt.json', import.meta.url),
  'utf8',
);

const id = (i: number) => `i-0abc123def45${String(i).padStart(5, '0')}`;
const invocation = (i: number, status: string, output = '', details = status): CommandInvocation => ({
  CommandId: COMMAND,
  InstanceId: id(i),
  DocumentName: DOCUMENT,
  // A string, not the SDK's enum: the adapter must also refuse a word SSM might add.
  Status: status as CommandInvocation['Status'],
  StatusDetails: details,
  CommandPlugins: [
    {
      Name: 'nodemedicDiagnose',
      Status: status as NonNullable<CommandInvocation['CommandPlugins']>[number]['Status'],
      ResponseCode: status === 'Success' ? 0 : -1,
      Output: output,
    },
  ],
});
const command = (status: string, targets: number): { Commands: SsmCommand[] } => ({
  Commands: [
    {
      CommandId: COMMAND,
      Status: status as SsmCommand['Status'],
      TargetCount: targets,
      CompletedCount: targets,
      ErrorCount: 0,
    },
  ],
});

beforeEach(() => ssm.reset());

describe('SsmClusterSweeper.start', () => {
  it('sends the quick probe to the nodes carrying the cluster tag, rate-limited by SSM', async () => {
    ssm
      .on(SendCommandCommand)
      .resolves({ Command: { CommandId: COMMAND, TargetCount: 0, Status: 'Pending' } });
    expect(await sweeper.start('prod', { limits: LIMITS, comment: 'nodemedic sweep prod' })).toEqual({
      commandId: COMMAND,
    });
    expect(ssm.commandCalls(SendCommandCommand)[0]!.args[0].input).toEqual({
      DocumentName: DOCUMENT,
      Targets: [{ Key: 'tag:eks:cluster-name', Values: ['prod'] }],
      Parameters: { depth: ['quick'] },
      MaxConcurrency: '20%',
      MaxErrors: '50%',
      TimeoutSeconds: 60,
      Comment: 'nodemedic sweep prod',
    });
  });

  it.each([
    ["prod'; DROP", { limits: LIMITS }, /not a cluster name/],
    ['prod', { limits: { maxConcurrency: '0', maxErrors: '1' } }, /maxConcurrency "0"/],
    ['prod', { limits: { maxConcurrency: '101%', maxErrors: '1' } }, /maxConcurrency "101%"/],
    ['prod', { limits: { maxConcurrency: '10', maxErrors: 'all' } }, /maxErrors "all"/],
  ])('refuses %j %j before calling SSM', async (cluster, { limits }, message) => {
    await expect(sweeper.start(cluster, { limits, comment: '' })).rejects.toThrow(message);
    expect(ssm.commandCalls(SendCommandCommand)).toHaveLength(0);
  });

  it('turns a throttle into a retryable dependency error', async () => {
    ssm
      .on(SendCommandCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    await expect(sweeper.start('prod', { limits: LIMITS, comment: '' })).rejects.toMatchObject({
      code: 'SSM_THROTTLED',
      retryable: true,
    });
  });
});

describe('SsmClusterSweeper.results', () => {
  it('reads every page past 50 invocations, with each node’s status and output', async () => {
    ssm.on(ListCommandsCommand, { CommandId: COMMAND }).resolves(command('Success', 120));
    const pages = [0, 50, 100].map((start) =>
      Array.from({ length: start === 100 ? 20 : 50 }, (_, k) => invocation(start + k, 'Success', '{"x":1}')),
    );
    ssm
      .on(ListCommandInvocationsCommand)
      .resolvesOnce({ CommandInvocations: pages[0], NextToken: 't1' })
      .resolvesOnce({ CommandInvocations: pages[1], NextToken: 't2' })
      .resolvesOnce({ CommandInvocations: pages[2] });

    const results = await sweeper.results(COMMAND);

    expect(results.done).toBe(true);
    expect(results.targeted).toBe(120);
    expect(results.nodes).toHaveLength(120);
    expect(results.nodes[119]).toEqual({
      instanceId: id(119),
      status: 'success',
      detail: 'Success',
      output: '{"x":1}',
    });
    expect(ssm.commandCalls(ListCommandInvocationsCommand).map((c) => c.args[0].input)).toEqual([
      { CommandId: COMMAND, Details: true, MaxResults: 50 },
      { CommandId: COMMAND, Details: true, MaxResults: 50, NextToken: 't1' },
      { CommandId: COMMAND, Details: true, MaxResults: 50, NextToken: 't2' },
    ]);
  });

  it('is not done while SSM runs the command or an invocation is pending, and lists only the ended ones', async () => {
    ssm.on(ListCommandsCommand).resolves(command('InProgress', 3));
    ssm.on(ListCommandInvocationsCommand).resolves({
      CommandInvocations: [
        invocation(1, 'Success', '{}'),
        invocation(2, 'InProgress'),
        invocation(3, 'Pending'),
      ],
    });
    const results = await sweeper.results(COMMAND);
    expect(results).toMatchObject({ done: false, targeted: 3 });
    expect(results.nodes.map((n) => n.instanceId)).toEqual([id(1)]);
  });

  it('maps SSM’s end states, StatusDetails first', async () => {
    ssm.on(ListCommandsCommand).resolves(command('Failed', 5));
    ssm.on(ListCommandInvocationsCommand).resolves({
      CommandInvocations: [
        invocation(1, 'TimedOut', '', 'DeliveryTimedOut'),
        invocation(2, 'TimedOut', '', 'ExecutionTimedOut'),
        invocation(3, 'Failed', 'boom'),
        invocation(4, 'Cancelled'),
        invocation(5, 'Failed', '', 'Undeliverable'),
      ],
    });
    const results = await sweeper.results(COMMAND);
    expect(results.nodes.map((n) => [n.status, n.detail])).toEqual([
      ['undeliverable', 'DeliveryTimedOut'],
      ['timed-out', 'ExecutionTimedOut'],
      ['failed', 'Failed'],
      ['cancelled', 'Cancelled'],
      ['undeliverable', 'Undeliverable'],
    ]);
    expect(results.done).toBe(true);
  });

  it('reads a probe output cut at CommandPlugin’s 2,500 characters again with GetCommandInvocation', async () => {
    expect(LONG.length).toBeGreaterThan(2_500);
    ssm.on(ListCommandsCommand).resolves(command('Success', 1));
    ssm.on(ListCommandInvocationsCommand).resolves({
      CommandInvocations: [invocation(7, 'Success', LONG.slice(0, 2_500))],
    });
    ssm
      .on(GetCommandInvocationCommand, { CommandId: COMMAND, InstanceId: id(7) })
      .resolves({ Status: 'Success', StandardOutputContent: LONG });
    const results = await sweeper.results(COMMAND);
    expect(results.nodes[0]!.output).toBe(LONG);
  });

  it('refuses a status it does not know, and names a command SSM does not have', async () => {
    ssm.on(ListCommandsCommand).resolves(command('Success', 1));
    ssm.on(ListCommandInvocationsCommand).resolves({ CommandInvocations: [invocation(1, 'Exploded')] });
    await expect(sweeper.results(COMMAND)).rejects.toMatchObject({ code: 'SSM_UNKNOWN_STATUS' });
    ssm.on(ListCommandsCommand).resolves({ Commands: [] });
    await expect(sweeper.results(COMMAND)).rejects.toMatchObject({ code: 'COMMAND_NOT_FOUND' });
  });
});
