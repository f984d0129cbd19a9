/**
 * Who may approve: a member of the configured on-call Slack user group, or a user on the
 * configured allow-list (design.md, safety model). Checked server-side on every click. Group
 * members are cached briefly per `Chat`, so a burst of clicks costs one `usergroups.users.list`
 * and a removal from the group takes effect within the cache's lifetime.
 */
import type { Chat } from '../core/ports.js';
import type { AppDeps } from './deps.js';
import { describe } from './effects.js';

/** What `isAuthorized` needs. */
export interface AuthorizeOptions {
  readonly chat: Chat;
  /** The on-call user group (`S…`); null when only the allow-list applies. */
  readonly userGroupId: string | null;
  /** Slack user ids always allowed, e.g. the team lead while the group is being set up. */
  readonly allowList: readonly string[];
  /** How long a group's member list is trusted, seconds. @default 60 */
  readonly cacheSeconds?: number;
  /** Time source, epoch ms; tests move it forward. @default Date.now */
  readonly now?: () => number;
}

/** Cached member lists, per Chat (one per Lambda container) and group. */
const cache = new WeakMap<Chat, Map<string, { members: ReadonlySet<string>; expires: number }>>();

/**
 * True when `user` may approve fixes. The allow-list is checked first and needs no Slack call.
 * A Slack failure propagates (DependencyError): the caller refuses the click rather than guess,
 * so a failure never grants access.
 */
export async function isAuthorized(user: string, options: AuthorizeOptions): Promise<boolean> {
  if (!user) return false;
  if (options.allowList.includes(user)) return true;
  if (!options.userGroupId) return false;
  const members = await groupMembers(options);
  return members.has(user);
}

async function groupMembers(options: AuthorizeOptions): Promise<ReadonlySet<string>> {
  const groupId = options.userGroupId as string;
  const now = (options.now ?? Date.now)();
  let perChat = cache.get(options.chat);
  if (!perChat) {
    perChat = new Map();
    cache.set(options.chat, perChat);
  }
  const hit = perChat.get(groupId);
  if (hit && hit.expires > now) return hit.members;
  const members = new Set(await options.chat.userGroupMembers(groupId));
  perChat.set(groupId, { members, expires: now + (options.cacheSeconds ?? 60) * 1000 });
  return members;
}

/** What a click carries that the check needs: who, and where to answer privately. */
interface Clicker {
  readonly user: string;
  readonly channel: string;
  readonly threadTs?: string;
}

/**
 * Whether a clicker is on call, as the deps configure it (the group, the allow-list), failing
 * closed: when the group's members cannot be read, the error is logged with `context`, the clicker
 * is told privately that nothing was done, and the answer is null (refuse the click).
 */
export async function onCall(
  deps: Pick<AppDeps, 'chat' | 'onCallUserGroupId' | 'onCallAllowList' | 'logger'>,
  click: Clicker,
  context: Readonly<Record<string, unknown>>,
): Promise<boolean | null> {
  try {
    return await isAuthorized(click.user, {
      chat: deps.chat,
      userGroupId: deps.onCallUserGroupId,
      allowList: deps.onCallAllowList ?? [],
    });
  } catch (err) {
    deps.logger.error('authorization check failed', { ...context, user: click.user, error: describe(err) });
    await deps.chat.postEphemeral(
      click.channel,
      click.user,
      'nodemedic could not check your on-call membership right now; nothing was done. Try again in a minute.',
      click.threadTs,
    );
    return null;
  }
}
