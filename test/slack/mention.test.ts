import { describe, expect, it } from 'vitest';
import { findNodeInAlert, parseMention } from '../../functions/slack/listeners/mention.js';

describe('parseMention', () => {
  it.each([
    ['<@U0NM> diagnose', { kind: 'diagnose', target: null }],
    [
      '<@U0NM> Diagnose i-0ABC12345678DEF01',
      { kind: 'diagnose', target: { instanceId: 'i-0abc12345678def01' } },
    ],
    [
      '<@U0NM> diagnose ip-10-0-1-23.ec2.internal',
      { kind: 'diagnose', target: { nodeName: 'ip-10-0-1-23.ec2.internal' } },
    ],
    [
      '<@U0NM> diagnose <http://ip-10-0-1-23.ec2.internal|ip-10-0-1-23.ec2.internal>',
      { kind: 'diagnose', target: { nodeName: 'ip-10-0-1-23.ec2.internal' } },
    ],
    ['<@U0NM|nodemedic> diagnose worker-1', { kind: 'diagnose', target: { nodeName: 'worker-1' } }],
    ['<@U0NM> help', { kind: 'help' }],
    ['<@U0NM>', { kind: 'help' }],
    ['<@U0NM> restart everything', { kind: 'help' }],
  ])('reads %j', (text, expected) => {
    expect(parseMention(text)).toEqual(expected);
  });

  it.each([
    ['<@U0NM> diagnose $(reboot)', /neither an instance id/],
    ['<@U0NM> diagnose i-xyz', /neither an instance id/],
    ['<@U0NM> diagnose a b', /one instance id or node name/],
    ['<@U0NM> diagnose node;rm', /neither an instance id/],
  ])('refuses %j with a reason', (text, reason) => {
    const parsed = parseMention(text);
    expect(parsed.kind).toBe('invalid');
    expect(parsed.kind === 'invalid' && parsed.reason).toMatch(reason);
  });
});

describe('findNodeInAlert', () => {
  it.each([
    [{ text: 'ALARM "prod-notready" InstanceId=i-0abc12345678def01' }, { instanceId: 'i-0abc12345678def01' }],
    [
      { text: 'Node ip-10-0-1-23.eu-west-1.compute.internal is NotReady' },
      { nodeName: 'ip-10-0-1-23.eu-west-1.compute.internal' },
    ],
    [
      { text: '', attachments: [{ fields: [{ title: 'InstanceId', value: 'i-0123456789abcdef0' }] }] },
      { instanceId: 'i-0123456789abcdef0' },
    ],
    [
      { text: 'both ip-10-0-1-23.ec2.internal and i-0123456789abcdef0' },
      { instanceId: 'i-0123456789abcdef0' },
    ],
    [{ text: 'the cluster feels slow' }, null],
    [{ text: 'xi-0123456789abcdef0 is not an id' }, null],
  ])('finds the node in %j', (message, expected) => {
    expect(findNodeInAlert(message)).toEqual(expected);
  });
});
