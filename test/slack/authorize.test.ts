import { describe, expect, it } from 'vitest';
import { isAuthorized, parseAllowList, parseChannelIds } from '../../functions/app/authorize.js';
import { DependencyError, InvalidInputError } from '../../functions/core/errors.js';
import type { Chat } from '../../functions/core/ports.js';

/** A Chat whose only used method is the group lookup; it counts calls and can fail. */
function groupChat(members: Record<string, string[]>, fail = false) {
  const calls: string[] = [];
  const chat: Chat = {
    post: async () => ({ channel: 'C', ts: '1' }),
    update: async () => {},
    postEphemeral: async () => {},
    userGroupMembers: async (id) => {
      calls.push(id);
      if (fail)
        throw new DependencyError('SLACK_API_ERROR', 'Slack usergroups.users.list failed: fatal_error');
      return members[id] ?? [];
    },
  };
  return { chat, calls };
}

describe('isAuthorized', () => {
  it.each([
    ['a group member', 'U0ALICE', true],
    ['an allow-listed user', 'U0DAVE', true],
    ['anyone else', 'U0EVE', false],
    ['an empty user id', '', false],
  ])('answers %s with %s', async (_who, user, expected) => {
    const { chat } = groupChat({ S0ONCALL: ['U0ALICE'] });
    expect(await isAuthorized(user, { chat, userGroupId: 'S0ONCALL', allowList: ['U0DAVE'] })).toBe(expected);
  });

  it('allows nobody but the allow-list when no group is configured', async () => {
    const { chat, calls } = groupChat({});
    expect(await isAuthorized('U0ALICE', { chat, userGroupId: null, allowList: [] })).toBe(false);
    expect(calls).toEqual([]);
  });

  it('caches the member list briefly, then asks again', async () => {
    const { chat, calls } = groupChat({ S0ONCALL: ['U0ALICE'] });
    let now = 1_000_000;
    const options = { chat, userGroupId: 'S0ONCALL', allowList: [], cacheSeconds: 60, now: () => now };
    await isAuthorized('U0ALICE', options);
    await isAuthorized('U0BOB', options);
    expect(calls).toHaveLength(1);
    now += 61_000;
    await isAuthorized('U0ALICE', options);
    expect(calls).toHaveLength(2);
  });

  it('fails closed: a Slack failure propagates instead of granting access', async () => {
    const { chat } = groupChat({}, true);
    await expect(
      isAuthorized('U0ALICE', { chat, userGroupId: 'S0ONCALL', allowList: [] }),
    ).rejects.toBeInstanceOf(DependencyError);
  });
});

describe('parseAllowList', () => {
  it.each([
    [undefined, []],
    ['', []],
    ['U0ALICE, W0BOB ,,', ['U0ALICE', 'W0BOB']],
  ])('reads %j as %j', (raw, expected) => {
    expect(parseAllowList(raw)).toEqual(expected);
  });

  it('refuses names and handles, naming them', () => {
    expect(() => parseAllowList('U0ALICE,@bob')).toThrow(InvalidInputError);
    expect(() => parseAllowList('U0ALICE,@bob')).toThrow(/"@bob"/);
  });
});

describe('parseChannelIds', () => {
  it.each([
    [undefined, []],
    ['', []],
    ['C0OPS, G0PRIVATE ,,', ['C0OPS', 'G0PRIVATE']],
  ])('reads %j as %j', (raw, expected) => {
    expect(parseChannelIds('MENTION_CHANNEL_IDS', raw)).toEqual(expected);
  });

  it('refuses channel names, naming the variable and the value', () => {
    expect(() => parseChannelIds('MENTION_CHANNEL_IDS', 'C0OPS,#alerts')).toThrow(InvalidInputError);
    expect(() => parseChannelIds('MENTION_CHANNEL_IDS', 'C0OPS,#alerts')).toThrow(
      /^MENTION_CHANNEL_IDS must hold Slack channel ids .*"#alerts"/,
    );
  });
});
