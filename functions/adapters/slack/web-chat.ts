/**
 * `Chat` over the Slack Web API (`@slack/web-api`'s WebClient, injected: Bolt's `client` in the
 * Slack function, a bare WebClient in the step functions, or one aimed at the local stand-in).
 * It posts what the one renderer produced and turns Slack failures into DependencyError.
 */
import type { AnyBlock, MessageAttachment } from '@slack/types';
import { ErrorCode, type WebAPICallResult, type WebClient } from '@slack/web-api';
import { DependencyError, InvalidInputError } from '../../core/errors.js';
import type { Chat, ChatMessage, MessageRef, ThreadMessage } from '../../core/ports.js';

/**
 * `conversations.replies` page sizes (docs.slack.dev/reference/methods/conversations.replies):
 * at most 1000 per page; 15 (default and maximum) for apps distributed outside the Marketplace
 * since 2025-05-29, which is the default here so the same call works for either kind of app.
 */
const REPLIES_DEFAULT_LIMIT = 15;
const REPLIES_MAX_LIMIT = 1000;

/** Slack errors worth retrying: throttling and Slack's own outages. */
const RETRYABLE_PLATFORM_ERRORS = new Set([
  'ratelimited',
  'rate_limited',
  'internal_error',
  'fatal_error',
  'service_unavailable',
  'request_timeout',
]);

/** Map any WebClient failure to a DependencyError naming the method and Slack's error code. */
function toDependencyError(method: string, err: unknown): DependencyError {
  const e = err as {
    code?: string;
    data?: { error?: string };
    statusCode?: number;
    retryAfter?: number;
    message?: string;
  };
  switch (e?.code) {
    case ErrorCode.RateLimitedError:
      return new DependencyError(
        'SLACK_RATELIMITED',
        `Slack ${method} was rate limited (retry after ${e.retryAfter ?? '?'} s)`,
        {
          cause: err,
          retryable: true,
        },
      );
    case ErrorCode.PlatformError: {
      const slackError = e.data?.error ?? 'unknown_error';
      const retryable = RETRYABLE_PLATFORM_ERRORS.has(slackError);
      return new DependencyError(
        retryable && slackError.startsWith('rate') ? 'SLACK_RATELIMITED' : 'SLACK_API_ERROR',
        `Slack ${method} failed: ${slackError}`,
        {
          cause: err,
          retryable,
        },
      );
    }
    case ErrorCode.HTTPError:
      return new DependencyError('SLACK_HTTP_ERROR', `Slack ${method} answered HTTP ${e.statusCode ?? '?'}`, {
        cause: err,
        retryable: e.statusCode === 429 || (e.statusCode ?? 0) >= 500,
      });
    case ErrorCode.RequestError: {
      // With retries off, a 429 surfaces as a request error whose message names the rate limit.
      const limited = /rate limit/i.test(e.message ?? '');
      return new DependencyError(
        limited ? 'SLACK_RATELIMITED' : 'SLACK_UNREACHABLE',
        `Slack ${method} request failed: ${e.message ?? 'unknown'}`,
        {
          cause: err,
          retryable: true,
        },
      );
    }
    default:
      return new DependencyError('SLACK_API_ERROR', `Slack ${method} failed: ${e?.message ?? String(err)}`, {
        cause: err,
      });
  }
}

/** The Slack Web API implementation of the `Chat` port. */
export class WebApiChat implements Chat {
  readonly #client: WebClient;

  constructor(client: WebClient) {
    this.#client = client;
  }

  async post(channel: string, message: ChatMessage, threadTs?: string): Promise<MessageRef> {
    const result = await this.#call('chat.postMessage', () =>
      this.#client.chat.postMessage({
        channel,
        text: message.text,
        blocks: [...message.blocks],
        ...(threadTs ? { thread_ts: threadTs } : {}),
        unfurl_links: false,
        unfurl_media: false,
      }),
    );
    if (typeof result.ts !== 'string' || typeof result.channel !== 'string') {
      throw new DependencyError('SLACK_API_ERROR', 'Slack chat.postMessage answered without channel or ts');
    }
    return { channel: result.channel, ts: result.ts };
  }

  async update(ref: MessageRef, message: ChatMessage): Promise<void> {
    await this.#call('chat.update', () =>
      this.#client.chat.update({
        channel: ref.channel,
        ts: ref.ts,
        text: message.text,
        blocks: [...message.blocks],
      }),
    );
  }

  async postEphemeral(channel: string, user: string, text: string, threadTs?: string): Promise<void> {
    await this.#call('chat.postEphemeral', () =>
      this.#client.chat.postEphemeral({ channel, user, text, ...(threadTs ? { thread_ts: threadTs } : {}) }),
    );
  }

  async userGroupMembers(groupId: string): Promise<readonly string[]> {
    const result = await this.#call('usergroups.users.list', () =>
      this.#client.usergroups.users.list({ usergroup: groupId }),
    );
    return result.users ?? [];
  }

  /**
   * `conversations.replies` (docs.slack.dev/reference/methods/conversations.replies): the answer
   * is `{ ok, messages: [parent, ...replies], has_more, response_metadata: { next_cursor } }`,
   * oldest first; the next page is asked with `cursor` until `limit` messages are read or
   * `next_cursor` is empty. A page may hold fewer messages than asked (Slack says so): only an
   * empty page with a cursor stops early, so a cursor that never ends cannot loop forever.
   */
  async replies(
    thread: MessageRef,
    options: { readonly limit?: number } = {},
  ): Promise<readonly ThreadMessage[]> {
    const limit = options.limit ?? REPLIES_DEFAULT_LIMIT;
    if (!Number.isInteger(limit) || limit < 1 || limit > REPLIES_MAX_LIMIT) {
      throw new InvalidInputError(
        `a thread read takes a limit from 1 to ${REPLIES_MAX_LIMIT} messages, got ${String(limit)}`,
      );
    }
    const messages: ThreadMessage[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.#call('conversations.replies', () =>
        this.#client.conversations.replies({
          channel: thread.channel,
          ts: thread.ts,
          limit: limit - messages.length,
          ...(cursor ? { cursor } : {}),
        }),
      );
      const read = page.messages ?? [];
      for (const m of read.slice(0, limit - messages.length)) messages.push(threadMessage(m));
      cursor = read.length > 0 ? page.response_metadata?.next_cursor || undefined : undefined;
    } while (cursor && messages.length < limit);
    return messages;
  }

  async #call<T extends WebAPICallResult>(method: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      throw toDependencyError(method, err);
    }
  }
}

/** A message of `conversations.replies`' answer as the port gives it: only well-formed parts. */
function threadMessage(m: {
  ts?: string;
  thread_ts?: string;
  text?: string;
  user?: string;
  bot_id?: string;
  blocks?: unknown;
  attachments?: unknown;
}): ThreadMessage {
  // Another integration's blocks: Slack's open Block shape (an object with a string type).
  const blocks = Array.isArray(m.blocks)
    ? m.blocks.filter((b): b is AnyBlock => isObject(b) && typeof b.type === 'string')
    : [];
  // Every attachment field is optional: any object is one.
  const attachments = Array.isArray(m.attachments)
    ? m.attachments.filter((a): a is MessageAttachment => isObject(a))
    : [];
  return {
    ts: m.ts ?? '',
    ...(m.thread_ts ? { threadTs: m.thread_ts } : {}),
    text: m.text ?? '',
    ...(m.user ? { user: m.user } : {}),
    ...(m.bot_id ? { botId: m.bot_id } : {}),
    ...(blocks.length > 0 ? { blocks } : {}),
    ...(attachments.length > 0 ? { attachments } : {}),
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
