/**
 * Slack text as the local rehearsal prints it to a terminal. A chat message is mrkdwn: mentions,
 * links and dates are `<…>` tokens, and `&`, `<`, `>` are escaped. A terminal shows them raw
 * (`<!subteam^S0ONCALL>`, `&lt;`), so they are turned into what Slack would show. Only what is
 * printed changes: what is sent to Slack, and its escaping, stay as they are.
 */

/** Readable names for ids, where the stand-in knows them; an id without one is shown as it is. */
export interface TerminalNames {
  /** Slack user id → name, e.g. `U0ALICE` → `alice`. */
  readonly users?: Readonly<Record<string, string>>;
  /** User group id → handle, e.g. `S0ONCALL` → `on-call`. */
  readonly groups?: Readonly<Record<string, string>>;
}

/** Slack's `<…>` tokens; `<` and `>` inside them are escaped, so they never nest. */
const TOKEN = /<([^<>]*)>/g;

/**
 * C0 and C1 control characters other than whitespace, which a terminal may act on (escape
 * sequences): shown as `?`, since node output and log lines ride in chat text.
 */
const CONTROL = /(?![\t\n\v\f\r])\p{Cc}/gu;

function named(table: Readonly<Record<string, string>> | undefined, id: string): string {
  return table && Object.hasOwn(table, id) ? (table[id] ?? id) : id;
}

/** `@name` from a label Slack may write with or without its `@`. */
const at = (name: string) => `@${name.replace(/^@/, '')}`;

/** One `<…>` token as Slack would show it. */
function token(inner: string, names: TerminalNames): string {
  const bar = inner.indexOf('|');
  const target = bar < 0 ? inner : inner.slice(0, bar);
  const label = bar < 0 ? null : inner.slice(bar + 1);
  if (target.startsWith('@')) return at(label ?? named(names.users, target.slice(1)));
  if (target.startsWith('#')) return `#${label ?? target.slice(1)}`;
  if (target.startsWith('!subteam^')) {
    return at(label ?? named(names.groups, target.slice('!subteam^'.length)));
  }
  // `<!date^…|fallback>`: the fallback is the date as text.
  if (target.startsWith('!date^')) return label ?? target.slice(1);
  // `<!here>`, `<!channel>`, `<!everyone>`.
  if (target.startsWith('!')) return at(label ?? target.slice(1));
  return label && label !== target ? `${label} (${target})` : target;
}

/**
 * mrkdwn as plain text: `<@U0ALICE>` → `@alice` (or `@U0ALICE`), `<!subteam^S0ONCALL>` →
 * `@on-call` (or `@S0ONCALL`), `<!here>` → `@here`, `<#C0X|ops>` → `#ops`, `<url|label>` →
 * `label (url)`, a date token → its fallback text, `&lt; &gt; &amp;` → `< > &`. Emphasis and
 * emoji codes are left as written: they read well enough.
 */
export function plainText(mrkdwn: string, names: TerminalNames = {}): string {
  return mrkdwn
    .replace(TOKEN, (_match, inner: string) => token(inner, names))
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
    .replace(CONTROL, '?');
}

/** A chat message as one terminal line: plain text, whitespace runs as one space, at most `max` characters. */
export function chatLine(mrkdwn: string, names: TerminalNames, max = 200): string {
  return plainText(mrkdwn, names).replace(/\s+/g, ' ').trim().slice(0, max);
}
