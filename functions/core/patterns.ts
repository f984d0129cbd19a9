/**
 * Every identifier pattern nodemedic checks, defined once. The TypeScript checks use the
 * `RegExp`s; the SSM documents' `allowedPattern`s (script-params.ts) and the scripts' `param`
 * validators (functions/scripts/fixes/*.sh, compared by test/structure/patterns.test.ts) use the
 * `*_SOURCE` strings. Those sources stay in the syntax JavaScript, SSM and bash's `[[ =~ ]]` (POSIX
 * ERE) all read the same way: bracket expressions, groups, `?`, `*`, `+`, `{m,n}`, `|`, anchors; no
 * `\d`, no lookaround, no lazy quantifier.
 */

/** An EC2 instance id: `i-` and 8 (old) or 17 (current) hex digits. */
const INSTANCE_ID_BODY = 'i-[0-9a-f]{8,17}';

/** Anchored source of {@link INSTANCE_ID}. */
export const INSTANCE_ID_SOURCE = `^${INSTANCE_ID_BODY}$`;

/** An EC2 instance id, the whole string. */
export const INSTANCE_ID = new RegExp(INSTANCE_ID_SOURCE);

/** An instance id inside free text (an alert posted by another integration), not inside a word. */
export const INSTANCE_ID_IN_TEXT = new RegExp(`(?<![0-9a-z-])${INSTANCE_ID_BODY}(?![0-9a-z])`);

/** One DNS label: lower-case letters and digits, `-` inside only. */
const DNS_LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';

/**
 * A Kubernetes node name's shape: an RFC 1123 DNS subdomain (dot-separated labels). ERE cannot
 * bound the total length as well, so {@link isNodeName} adds Kubernetes' 253-character limit; the
 * shape alone is what keeps a value safe in a shell word.
 */
export const NODE_NAME_SOURCE = `^${DNS_LABEL}(\\.${DNS_LABEL})*$`;

const NODE_NAME = new RegExp(NODE_NAME_SOURCE);

/** Kubernetes' limit on a node name (a DNS subdomain). */
const NODE_NAME_MAX_LENGTH = 253;

/** True for a valid Kubernetes node name: an RFC 1123 subdomain of at most 253 characters. */
export function isNodeName(value: string): boolean {
  return value.length <= NODE_NAME_MAX_LENGTH && NODE_NAME.test(value);
}

/**
 * A cluster name as nodemedic keys incidents by it (the alarm's `ClusterName` dimension): EKS's
 * letters, digits, `-` and `_` up to 100, plus `.` for self-managed clusters. No `#`: it is the
 * dedupe key's separator.
 */
export const CLUSTER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** An AWS tag value (what `clusterNames` are: values of the cluster tag), 1 to 256 characters. */
export const TAG_VALUE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,256}$/u;

/** An AWS tag key: the tag value's characters, 1 to 128 of them. */
export const TAG_KEY = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$/u;

/**
 * Slack ids by kind. Only the prefix and the charset are checked: they are what makes an id safe
 * inside `<@…>` or `<!subteam^…>`, and Slack does not promise a length.
 */
export const SLACK_ID = {
  /** A user (`U…`, or `W…` on Enterprise Grid). */
  user: /^[UW][A-Z0-9]{2,}$/,
  /** A user group (`S…`). */
  userGroup: /^S[A-Z0-9]{2,}$/,
  /** A public (`C…`) or private (`G…`, older workspaces) channel. */
  channel: /^[CG][A-Z0-9]{2,}$/,
  /** A workspace (`T…`), or an Enterprise Grid organization (`E…`). */
  team: /^[TE][A-Z0-9]{2,}$/,
} as const;

/**
 * An absolute path on the node: `/`-separated segments of letters, digits and `._@+-`, optionally
 * ending in `/`. No space, quote or shell metacharacter can appear; the scripts refuse `..` on top.
 */
export const PATH_SOURCE = '^(/[A-Za-z0-9._@+-]+)+/?$';
