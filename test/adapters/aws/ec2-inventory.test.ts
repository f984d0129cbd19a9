import { AutoScalingClient, TerminateInstanceInAutoScalingGroupCommand } from '@aws-sdk/client-auto-scaling';
import {
  DescribeInstanceStatusCommand,
  DescribeInstancesCommand,
  EC2Client,
  GetConsoleOutputCommand,
  type Instance,
  RebootInstancesCommand,
} from '@aws-sdk/client-ec2';
import { DescribeInstanceInformationCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { beforeEach, describe, expect, it } from 'vitest';
import { CONSOLE_TAIL_CHARS, Ec2NodeInventory } from '../../../functions/adapters/aws/ec2-inventory.js';
import type { NodeRef } from '../../../functions/core/ports.js';

const ec2 = mockClient(EC2Client);
const ssm = mockClient(SSMClient);
const asg = mockClient(AutoScalingClient);
const TAG = 'nodemedic:cluster';
const ID = 'i-0abc123def4567890';
const DNS = 'ip-10-0-1-23.eu-west-1.compute.internal';

const inventory = () =>
  new Ec2NodeInventory({
    ec2: new EC2Client({ region: 'eu-west-1' }),
    ssm: new SSMClient({ region: 'eu-west-1' }),
    autoScaling: new AutoScalingClient({ region: 'eu-west-1' }),
    clusterTagKey: TAG,
  });
const instance = (tags: Record<string, string>, over: Partial<Instance> = {}): Instance => ({
  InstanceId: ID,
  PrivateDnsName: DNS,
  State: { Name: 'running' },
  Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
  ...over,
});
const reservations = (...instances: Instance[]) => ({ Reservations: [{ Instances: instances }] });
const awsError = (name: string) => Object.assign(new Error(`${name} from AWS`), { name });
const NODE: NodeRef = { instanceId: ID, nodeName: DNS, cluster: 'prod', autoScalingGroup: 'prod-nodes' };

beforeEach(() => {
  ec2.reset();
  ssm.reset();
  asg.reset();
});

describe('Ec2NodeInventory.resolve', () => {
  it('resolves an instance id to a node with its cluster and Auto Scaling group', async () => {
    ec2
      .on(DescribeInstancesCommand, { InstanceIds: [ID] })
      .resolves(reservations(instance({ [TAG]: 'prod', 'aws:autoscaling:groupName': 'prod-nodes' })));
    await expect(inventory().resolve({ instanceId: ID, cluster: 'prod' })).resolves.toEqual(NODE);
  });

  it('resolves a node name through the private-dns-name filter, skipping terminated instances', async () => {
    ec2.on(DescribeInstancesCommand).resolves(reservations(instance({ [TAG]: 'prod' })));
    await expect(inventory().resolve({ nodeName: DNS })).resolves.toEqual({
      ...NODE,
      autoScalingGroup: null,
    });
    expect(ec2).toHaveReceivedCommandWith(DescribeInstancesCommand, {
      Filters: [
        { Name: 'private-dns-name', Values: [DNS] },
        {
          Name: 'instance-state-name',
          Values: ['pending', 'running', 'stopping', 'stopped', 'shutting-down'],
        },
      ],
    });
  });

  it('picks the instance of the asked cluster when two VPCs share a private DNS name', async () => {
    const other = instance({ [TAG]: 'staging' }, { InstanceId: 'i-0fff123def4567890' });
    ec2.on(DescribeInstancesCommand).resolves(reservations(other, instance({ [TAG]: 'prod' })));
    expect((await inventory().resolve({ nodeName: DNS, cluster: 'prod' })).instanceId).toBe(ID);
    await expect(inventory().resolve({ nodeName: DNS })).rejects.toMatchObject({
      code: 'NODE_NOT_FOUND',
      message: expect.stringContaining('matches several instances'),
    });
  });

  const refusals: { name: string; arrange: () => void; query: Record<string, string>; message: RegExp }[] = [
    {
      name: 'an unknown instance (InvalidInstanceID.NotFound)',
      arrange: () => ec2.on(DescribeInstancesCommand).rejects(awsError('InvalidInstanceID.NotFound')),
      query: { instanceId: ID },
      message: /instance i-0abc123def4567890 was not found in EC2/,
    },
    {
      name: 'an unknown node name (no reservations)',
      arrange: () => ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] }),
      query: { nodeName: DNS },
      message: /node ip-10-0-1-23.eu-west-1.compute.internal was not found/,
    },
    {
      name: 'an instance without the cluster tag',
      arrange: () => ec2.on(DescribeInstancesCommand).resolves(reservations(instance({ Name: 'bastion' }))),
      query: { instanceId: ID },
      message: /does not carry the cluster tag "nodemedic:cluster"/,
    },
    {
      name: 'an instance of another cluster',
      arrange: () => ec2.on(DescribeInstancesCommand).resolves(reservations(instance({ [TAG]: 'staging' }))),
      query: { instanceId: ID, cluster: 'prod' },
      message: /carries nodemedic:cluster=staging, not cluster "prod"/,
    },
  ];
  it.each(refusals)('refuses $name with NODE_NOT_FOUND', async ({ arrange, query, message }) => {
    arrange();
    await expect(inventory().resolve(query)).rejects.toMatchObject({ code: 'NODE_NOT_FOUND', message });
  });

  it.each([
    [{ instanceId: 'i-0abc;reboot' }, /not an EC2 instance id/],
    [{ nodeName: 'Node $(id)' }, /not a Kubernetes node name/],
    [{ cluster: 'prod' }, /needs an instance id or a node name/],
  ])('refuses bad input %j before calling EC2', async (query, message) => {
    await expect(inventory().resolve(query)).rejects.toThrow(message);
    expect(ec2).not.toHaveReceivedCommand(DescribeInstancesCommand);
  });

  it('refuses a tagged node of a cluster it is not configured for, naming the cluster', async () => {
    ec2.on(DescribeInstancesCommand).resolves(reservations(instance({ [TAG]: 'stage' })));
    const limited = new Ec2NodeInventory({
      ec2: new EC2Client({ region: 'eu-west-1' }),
      ssm: new SSMClient({ region: 'eu-west-1' }),
      autoScaling: new AutoScalingClient({ region: 'eu-west-1' }),
      clusterTagKey: TAG,
      clusterNames: ['prod'],
    });
    await expect(limited.resolve({ instanceId: ID })).rejects.toMatchObject({
      code: 'NODE_NOT_FOUND',
      message: expect.stringContaining('cluster "stage", which nodemedic is not configured for (prod)'),
    });
    ec2.on(DescribeInstancesCommand).resolves(reservations(instance({ [TAG]: 'prod' })));
    expect((await limited.resolve({ instanceId: ID })).cluster).toBe('prod');
  });

  it('maps EC2 throttling to a retryable DependencyError', async () => {
    ec2.on(DescribeInstancesCommand).rejects(awsError('RequestLimitExceeded'));
    await expect(inventory().resolve({ instanceId: ID })).rejects.toMatchObject({
      code: 'INVENTORY_THROTTLED',
      retryable: true,
    });
  });
});

describe('Ec2NodeInventory.reachability', () => {
  const cases = [
    { ping: 'Online', state: 'running', checks: 'ok', reachable: true },
    { ping: 'ConnectionLost', state: 'running', checks: 'impaired', reachable: false },
    { ping: 'Online', state: 'stopping', checks: 'ok', reachable: false },
    { ping: undefined, state: 'running', checks: 'ok', reachable: false },
  ];
  it.each(cases)(
    'agent $ping, instance $state → reachable: $reachable',
    async ({ ping, state, checks, reachable }) => {
      ssm
        .on(DescribeInstanceInformationCommand, { Filters: [{ Key: 'InstanceIds', Values: [ID] }] })
        .resolves({ InstanceInformationList: ping ? [{ InstanceId: ID, PingStatus: ping as never }] : [] });
      ec2.on(DescribeInstanceStatusCommand, { InstanceIds: [ID], IncludeAllInstances: true }).resolves({
        InstanceStatuses: [
          {
            InstanceId: ID,
            InstanceState: { Name: state as never },
            SystemStatus: { Status: 'ok' },
            InstanceStatus: { Status: checks as never },
          },
        ],
      });
      await expect(inventory().reachability(NODE)).resolves.toEqual({
        agent: ping ?? 'NotRegistered',
        instanceState: state,
        systemStatus: 'ok',
        instanceStatus: checks,
        reachable,
      });
    },
  );

  it('says unknown when EC2 reports no status for the instance', async () => {
    ssm.on(DescribeInstanceInformationCommand).resolves({ InstanceInformationList: [] });
    ec2.on(DescribeInstanceStatusCommand).resolves({ InstanceStatuses: [] });
    await expect(inventory().reachability(NODE)).resolves.toMatchObject({
      instanceState: 'unknown',
      systemStatus: 'unknown',
      reachable: false,
    });
  });
});

describe('Ec2NodeInventory.consoleOutput', () => {
  it('decodes the latest console output and keeps its last 4 KB', async () => {
    const text = `${'boot noise\n'.repeat(1000)}containerd[812]: fatal: too many open files\n`;
    ec2
      .on(GetConsoleOutputCommand, { InstanceId: ID, Latest: true })
      .resolves({ Output: Buffer.from(text).toString('base64') });
    const tail = await inventory().consoleOutput(NODE);
    expect(tail).toHaveLength(CONSOLE_TAIL_CHARS);
    expect(tail.endsWith('fatal: too many open files\n')).toBe(true);
  });

  it('falls back to the buffered output where Latest is unsupported (Xen), and empty stays empty', async () => {
    ec2
      .on(GetConsoleOutputCommand)
      .rejectsOnce(awsError('UnsupportedOperation'))
      .resolvesOnce({ Output: Buffer.from('kernel: Out of memory').toString('base64') })
      .resolvesOnce({});
    expect(await inventory().consoleOutput(NODE)).toBe('kernel: Out of memory');
    expect(ec2.commandCalls(GetConsoleOutputCommand)[1]!.args[0].input).toEqual({ InstanceId: ID });
    expect(await inventory().consoleOutput(NODE)).toBe('');
  });
});

describe('Ec2NodeInventory.clusterHealth', () => {
  it('counts running tagged instances and those failing a status check', async () => {
    const ids = ['i-00000000000000001', 'i-00000000000000002', 'i-00000000000000003'];
    ec2
      .on(DescribeInstancesCommand, {
        Filters: [
          { Name: 'tag:nodemedic:cluster', Values: ['prod'] },
          { Name: 'instance-state-name', Values: ['running'] },
        ],
      })
      .resolvesOnce({
        Reservations: [{ Instances: [{ InstanceId: ids[0] }, { InstanceId: ids[1] }] }],
        NextToken: 'p2',
      })
      .resolvesOnce({ Reservations: [{ Instances: [{ InstanceId: ids[2] }] }] });
    ec2.on(DescribeInstanceStatusCommand).resolves({
      InstanceStatuses: [
        { InstanceId: ids[0], SystemStatus: { Status: 'ok' }, InstanceStatus: { Status: 'ok' } },
        { InstanceId: ids[1], SystemStatus: { Status: 'ok' }, InstanceStatus: { Status: 'impaired' } },
        // ids[2] has no status yet: counted as not ok.
      ],
    });
    await expect(inventory().clusterHealth('prod')).resolves.toEqual({ total: 3, notReady: 2 });
    expect(ec2).toHaveReceivedCommandWith(DescribeInstanceStatusCommand, { InstanceIds: ids });
  });

  it('is zero of zero for a cluster with no running instance', async () => {
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    await expect(inventory().clusterHealth('empty')).resolves.toEqual({ total: 0, notReady: 0 });
    expect(ec2).not.toHaveReceivedCommand(DescribeInstanceStatusCommand);
  });
});

describe('Ec2NodeInventory.reboot and replace', () => {
  it('reboots through EC2', async () => {
    ec2.on(RebootInstancesCommand).resolves({});
    await inventory().reboot(NODE);
    expect(ec2).toHaveReceivedCommandWith(RebootInstancesCommand, { InstanceIds: [ID] });
  });

  it('replaces within the Auto Scaling group without lowering its desired capacity', async () => {
    asg.on(TerminateInstanceInAutoScalingGroupCommand).resolves({});
    await inventory().replace(NODE);
    expect(asg).toHaveReceivedCommandExactlyOnceWith(TerminateInstanceInAutoScalingGroupCommand, {
      InstanceId: ID,
      ShouldDecrementDesiredCapacity: false,
    });
  });

  it('refuses to replace a node outside any Auto Scaling group, without calling AWS', async () => {
    await expect(inventory().replace({ ...NODE, autoScalingGroup: null })).rejects.toMatchObject({
      code: 'REPLACE_UNSUPPORTED',
      message: expect.stringContaining('in no Auto Scaling group'),
    });
    expect(asg).not.toHaveReceivedCommand(TerminateInstanceInAutoScalingGroupCommand);
  });

  it('reports a scaling activity in progress as retryable and other failures with their cause', async () => {
    const busy = awsError('ScalingActivityInProgressFault');
    asg
      .on(TerminateInstanceInAutoScalingGroupCommand)
      .rejectsOnce(busy)
      .rejectsOnce(awsError('ValidationError'));
    await expect(inventory().replace(NODE)).rejects.toMatchObject({ retryable: true, cause: busy });
    await expect(inventory().replace(NODE)).rejects.toMatchObject({
      code: 'INVENTORY_FAILED',
      retryable: false,
      message: expect.stringContaining('ValidationError'),
    });
  });
});
