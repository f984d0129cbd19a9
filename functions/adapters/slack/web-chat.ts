/**
 * `Chat` over the Slack Web API (`@slack/web-api`'s WebClient, injected: Bolt's `client` in the
 * Slack function, a bare WebClient in the step functions, or one aimed at the local stand-in).
 * It posts what the one renderer produced and turns Slack failures into DependencyError.
 */
import { ErrorCode, type WebAPICallResult, type WebClient } from '@slack/web-api';
import { DependencyError } from '../../core/errors.js';
import type { Chat, ChatMessage, MessageRef } from '../../core/ports.js';

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
        blocks: message.blocks as never,
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
        blocks: message.blocks as never,
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
   * The messages of a thread, root first (`conversations.replies`). Not part of the `Chat` port:
   * only the mention listener needs it, to read the alert it was mentioned under.
   */
  async threadMessages(
    channel: string,
    ts: string,
  ): Promise<
    readonly { ts: string; text: string; user?: string; blocks?: unknown; attachments?: unknown }[]
  > {
    const result = await this.#call('conversations.replies', () =>
      this.#client.conversations.replies({ channel, ts, limit: 20 }),
    );
    return (result.messages ?? []).map((m) => ({
      ts: m.ts ?? '',
      text: m.text ?? '',
      ...(m.user ? { user: m.user } : {}),
      ...(m.blocks ? { blocks: m.blocks } : {}),
      ...(m.attachments ? { attachments: m.attachments } : {}),
    }));
  }

  async #call<T extends WebAPICallResult>(method: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      throw toDependencyError(method, err);
    }
  }
}
