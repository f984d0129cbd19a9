import { describe, expect, it } from 'vitest';
import {
  LOCAL_REACHABILITY,
  StaticNodeInventory,
} from '../../../functions/adapters/local/static-inventory.js';
import type { NodeRef } from '../../../functions/core/ports.js';

const A: NodeRef = { instanceId: 'local-a', nodeName: 'node-a', cluster: 'dev', autoScalingGroup: 'dev-asg' };
const B: NodeRef = { instanceId: 'local-b', nodeName: 'node-b', cluster: 'dev', autoScalingGroup: null };
const C: NodeRef = { instanceId: 'local-c', nodeName: 'node-c', cluster: 'other', autoScalingGroup: null };
const at = () => new Date('2026-11-27T03:14:07Z');
const inventory = () =>
  new StaticNodeInventory({ nodes: [A, B, C], clock: at, consoleOutput: { 'local-b': 'panic' } });

describe('StaticNodeInventory', () => {
  it.each([
    [{ instanceId: 'local-a' }, A],
    [{ nodeName: 'node-b' }, B],
    [{ instanceId: 'local-c', cluster: 'other' }, C],
  ])('resolves %j', async (query, expected) => {
    expect(await inventory().resolve(query)).toEqual(expected);
  });

  it.each([
    [{ instanceId: 'local-z' }, /local-z is not in the inventory/],
    [{ nodeName: 'node-z' }, /node node-z is not in the inventory/],
    [{ instanceId: 'local-a', cluster: 'prod' }, /belongs to cluster "dev", not "prod"/],
  ])('refuses %j with NODE_NOT_FOUND', async (query, message) => {
    await expect(inventory().resolve(query)).rejects.toMatchObject({ code: 'NODE_NOT_FOUND', message });
  });

  it('refuses a query with neither instance id nor node name', async () => {
    await expect(inventory().resolve({ cluster: 'dev' })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });

  it('reports reachability per node, reachable by default, and counts unreachable nodes as NotReady', async () => {
    const inv = inventory();
    expect(await inv.reachability(A)).toEqual(LOCAL_REACHABILITY);
    expect(await inv.clusterHealth('dev')).toEqual({ total: 2, notReady: 0 });
    inv.setReachability('local-a', { ...LOCAL_REACHABILITY, agent: 'ConnectionLost', reachable: false });
    expect(await inv.reachability(A)).toMatchObject({ agent: 'ConnectionLost', reachable: false });
    expect(await inv.clusterHealth('dev')).toEqual({ total: 2, notReady: 1 });
    expect(await inv.clusterHealth('nowhere')).toEqual({ total: 0, notReady: 0 });
  });

  it('counts nodes listed as notReady', async () => {
    const inv = new StaticNodeInventory({ nodes: [A, B, C], notReady: ['local-b', 'local-c'] });
    expect(await inv.clusterHealth('dev')).toEqual({ total: 2, notReady: 1 });
  });

  it('returns the configured console output, empty otherwise', async () => {
    expect(await inventory().consoleOutput(B)).toBe('panic');
    expect(await inventory().consoleOutput(A)).toBe('');
  });

  it('records reboot and replace instead of performing them', async () => {
    const inv = inventory();
    await inv.reboot(B);
    await inv.replace(A);
    expect(inv.actions).toEqual([
      { action: 'reboot', instanceId: 'local-b', at: '2026-11-27T03:14:07.000Z' },
      { action: 'replace', instanceId: 'local-a', at: '2026-11-27T03:14:07.000Z' },
    ]);
  });

  it('refuses to replace a node outside an Auto Scaling group, and records nothing', async () => {
    const inv = inventory();
    await expect(inv.replace(B)).rejects.toMatchObject({
      code: 'REPLACE_UNSUPPORTED',
      message: expect.stringContaining('no Auto Scaling group'),
    });
    expect(inv.actions).toEqual([]);
  });

  it('refuses actions on nodes it does not hold, and duplicate nodes at construction', async () => {
    const stranger = { ...A, instanceId: 'local-x' };
    await expect(inventory().reboot(stranger)).rejects.toMatchObject({ code: 'NODE_NOT_FOUND' });
    expect(() => new StaticNodeInventory({ nodes: [A, A] })).toThrow(/local-a twice/);
  });
});
