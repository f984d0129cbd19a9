import { describe, expect, it } from 'vitest';
import { isAuthorized } from '../../functions/app/authorize.js';
import { DependencyError } from '../../functions/core/errors.js';
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
    replies: async () => [],
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
