import {
  CancelCommandCommand,
  GetCommandInvocationCommand,
  InvalidInstanceId,
  InvocationDoesNotExist,
  SendCommandCommand,
  SSMClient,
  TooManyUpdates,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { beforeEach, describe, expect, it } from 'vitest';
import { SSM_STDOUT_CAP, SsmCommandRunner } from '../../../functions/adapters/aws/ssm-runner.js';
import { DependencyError } from '../../../functions/core/errors.js';
import type { CommandRequest, NodeRef } from '../../../functions/core/ports.js';

const ssm = mockClient(SSMClient);
const NODE: NodeRef = {
  instanceId: 'i-0abc123def4567890',
  nodeName: 'ip-10-0-1-23.eu-west-1.compute.internal',
  cluster: 'prod',
  autoScalingGroup: 'prod-nodes',
};
const runner = () =>
  new SsmCommandRunner({
    client: new SSMClient({ region: 'eu-west-1' }),
    documents: { diagnose: 'nodemedic-Diagnose-1A2B', 'raise-nofile': 'nodemedic-RaiseNofile-3C4D' },
  });
const request = (over: Partial<CommandRequest> = {}): CommandRequest => ({
  node: NODE,
  script: 'diagnose',
  parameters: { address: '/run/containerd/containerd.sock' },
  timeoutSeconds: 60,
  comment: 'incident prod#i-0abc123def4567890#2026-11-27T03:14:07Z',
  ...over,
});
const throttling = () => Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });

beforeEach(() => ssm.reset());

describe('SsmCommandRunner.send', () => {
  it('sends the script document to the one instance, parameters as string lists', async () => {
    ssm.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } });
    await expect(runner().send(request())).resolves.toEqual({ commandId: 'cmd-1' });
    expect(ssm).toHaveReceivedCommandWith(SendCommandCommand, {
      InstanceIds: ['i-0abc123def4567890'],
      DocumentName: 'nodemedic-Diagnose-1A2B',
      Parameters: { address: ['/run/containerd/containerd.sock'] },
      TimeoutSeconds: 60,
      Comment: 'incident prod#i-0abc123def4567890#2026-11-27T03:14:07Z',
    });
  });

  it('keeps the delivery timeout at SSM minimum of 30 s and the comment within 100 characters', async () => {
    ssm.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-2' } });
    await runner().send(request({ timeoutSeconds: 5, comment: 'x'.repeat(300) }));
    const input = ssm.commandCalls(SendCommandCommand)[0]!.args[0].input;
    expect(input.TimeoutSeconds).toBe(30);
    expect(input.Comment!.length).toBe(100);
  });

  const refused: { name: string; request: CommandRequest; message: RegExp }[] = [
    {
      name: 'a bad instance id',
      request: request({ node: { ...NODE, instanceId: 'i-0abc;reboot' } }),
      message: /not an EC2 instance id/,
    },
    {
      name: 'a value outside allowedPattern',
      request: request({ parameters: { address: '/run/x.sock; rm -rf /' } }),
      message: /script parameter "address" does not match/,
    },
    {
      name: 'an unknown parameter',
      request: request({ parameters: { command: 'id' } }),
      message: /unknown script parameter "command"/,
    },
    {
      name: 'a script without a document',
      request: request({ script: 'reset-state' }),
      message: /no SSM document is configured for script "reset-state"/,
    },
    { name: 'a zero timeout', request: request({ timeoutSeconds: 0 }), message: /timeoutSeconds/ },
  ];
  it.each(refused)('refuses $name before calling SSM', async ({ request: bad, message }) => {
    await expect(runner().send(bad)).rejects.toThrow(message);
    expect(ssm).not.toHaveReceivedCommand(SendCommandCommand);
  });

  it('maps throttling to a retryable DependencyError', async () => {
    for (const error of [throttling(), new TooManyUpdates({ message: 'slow down', $metadata: {} })]) {
      ssm.reset();
      ssm.on(SendCommandCommand).rejects(error);
      await expect(runner().send(request())).rejects.toMatchObject({
        code: 'SSM_THROTTLED',
        retryable: true,
        cause: error,
      });
    }
  });

  it('maps an unmanaged instance to a non-retryable error saying so', async () => {
    const error = new InvalidInstanceId({ message: 'Instances not in a valid state', $metadata: {} });
    ssm.on(SendCommandCommand).rejects(error);
    const thrown = await runner()
      .send(request())
      .catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(DependencyError);
    expect(thrown).toMatchObject({ code: 'SSM_INSTANCE_NOT_MANAGED', retryable: false, cause: error });
  });

  it('wraps any other SDK error with the SDK error as cause', async () => {
    const error = Object.assign(new Error('denied'), { name: 'AccessDeniedException' });
    ssm.on(SendCommandCommand).rejects(error);
    await expect(runner().send(request())).rejects.toMatchObject({
      code: 'SSM_FAILED',
      retryable: false,
      cause: error,
      message: expect.stringContaining('AccessDeniedException'),
    });
  });
});

describe('SsmCommandRunner.get', () => {
  const statuses: { status: string; details: string; expected: string; exitCode: number | null }[] = [
    { status: 'Pending', details: 'Pending', expected: 'pending', exitCode: null },
    { status: 'InProgress', details: 'InProgress', expected: 'pending', exitCode: null },
    { status: 'Delayed', details: 'Delayed', expected: 'pending', exitCode: null },
    { status: 'Success', details: 'Success', expected: 'success', exitCode: 0 },
    { status: 'Failed', details: 'Failed', expected: 'failed', exitCode: 1 },
    { status: 'TimedOut', details: 'ExecutionTimedOut', expected: 'timed-out', exitCode: 124 },
    { status: 'TimedOut', details: 'DeliveryTimedOut', expected: 'undeliverable', exitCode: null },
    { status: 'Failed', details: 'Undeliverable', expected: 'undeliverable', exitCode: null },
    { status: 'Failed', details: 'Terminated', expected: 'undeliverable', exitCode: null },
    { status: 'Cancelled', details: 'Cancelled', expected: 'cancelled', exitCode: null },
    { status: 'Cancelling', details: 'Cancelling', expected: 'cancelled', exitCode: null },
    // Older agents leave StatusDetails empty: the Status word alone decides.
    { status: 'TimedOut', details: '', expected: 'timed-out', exitCode: null },
  ];
  it.each(statuses)('$status / $details → $expected', async ({ status, details, expected, exitCode }) => {
    ssm.on(GetCommandInvocationCommand, { CommandId: 'cmd-1', InstanceId: NODE.instanceId }).resolves({
      Status: status as never,
      StatusDetails: details,
      ResponseCode: exitCode ?? -1,
      StandardOutputContent: expected === 'success' ? '{"schema":1}' : '',
      StandardErrorContent: expected === 'failed' ? 'boom' : '',
    });
    const invocation = await runner().get('cmd-1', NODE);
    expect(invocation).toEqual({
      commandId: 'cmd-1',
      status: expected,
      detail: details || status,
      exitCode: expected === 'pending' ? null : exitCode,
      stdout: expected === 'success' ? '{"schema":1}' : '',
      stderr: expected === 'failed' ? 'boom' : '',
      stdoutTruncated: false,
    });
  });

  it('refuses a status word it does not know, naming it', async () => {
    ssm.on(GetCommandInvocationCommand).resolves({ Status: 'Exploded' as never, StatusDetails: 'Exploded' });
    await expect(runner().get('cmd-1', NODE)).rejects.toMatchObject({
      code: 'SSM_UNKNOWN_STATUS',
      message: expect.stringContaining('"Exploded"'),
    });
  });

  it('reads InvocationDoesNotExist right after send as pending (eventual consistency)', async () => {
    ssm.on(GetCommandInvocationCommand).rejects(new InvocationDoesNotExist({ message: '', $metadata: {} }));
    await expect(runner().get('cmd-1', NODE)).resolves.toMatchObject({
      status: 'pending',
      detail: 'InvocationDoesNotExist',
      exitCode: null,
    });
  });

  it.each([
    [SSM_STDOUT_CAP - 1, false],
    [SSM_STDOUT_CAP, true],
  ])('flags stdout of %i characters as truncated: %s', async (length, truncated) => {
    ssm.on(GetCommandInvocationCommand).resolves({
      Status: 'Success',
      StatusDetails: 'Success',
      ResponseCode: 0,
      StandardOutputContent: 'x'.repeat(length),
    });
    expect((await runner().get('cmd-1', NODE)).stdoutTruncated).toBe(truncated);
  });

  it('maps throttling to a retryable error and other failures to SSM_FAILED', async () => {
    ssm.on(GetCommandInvocationCommand).rejectsOnce(throttling()).rejectsOnce(new Error('socket hang up'));
    await expect(runner().get('cmd-1', NODE)).rejects.toMatchObject({
      code: 'SSM_THROTTLED',
      retryable: true,
    });
    await expect(runner().get('cmd-1', NODE)).rejects.toMatchObject({ code: 'SSM_FAILED', retryable: false });
  });
});

describe('SsmCommandRunner.cancel', () => {
  it('cancels the command on the one instance', async () => {
    ssm.on(CancelCommandCommand).resolves({});
    await runner().cancel('cmd-1', NODE);
    expect(ssm).toHaveReceivedCommandWith(CancelCommandCommand, {
      CommandId: 'cmd-1',
      InstanceIds: [NODE.instanceId],
    });
  });

  it('maps throttling to a retryable error, and refuses a bad instance id before calling', async () => {
    ssm.on(CancelCommandCommand).rejects(throttling());
    await expect(runner().cancel('cmd-1', NODE)).rejects.toMatchObject({
      code: 'SSM_THROTTLED',
      retryable: true,
    });
    ssm.reset();
    await expect(runner().cancel('cmd-1', { ...NODE, instanceId: 'i-; rm -rf /' })).rejects.toThrow();
    expect(ssm).not.toHaveReceivedCommand(CancelCommandCommand);
  });
});
