/**
 * Pure decisions of the safety model, shared by the workflow steps and the Slack listener: which
 * fixes get buttons (and whether they are held), how an approval click counts, whether the cause
 * still holds before a fix, and whether the node recovered after it.
 */
import { criticalPluginErrors } from './causes/plugins.js';
import { InvalidInputError } from './errors.js';
import type { Facts } from './facts.js';
import type { Approval } from './incident.js';
import type { CauseId, Finding, RemediationId, Report } from './model.js';
import type { SafetyPolicy } from './policy.js';
import { getRemediation, type Remediation } from './remediations/index.js';

/** The exact commands a person runs to drain `node` from a machine with cluster-admin access. */
function drainCommands(node: string): string {
  return `\`kubectl cordon ${node}\` then \`kubectl drain ${node} --ignore-daemonsets --delete-emptydir-data --timeout=240s\``;
}

/**
 * Why this node cannot cordon and drain itself (what cordon-drain and reset-state need: kubectl
 * and an admin kubeconfig on the node; stock EKS nodes have neither), or null when it can, when it
 * runs no kubelet (nothing to drain), or when the diagnosis did not say (a script before 1.1, an
 * unreachable node).
 */
export function drainBlocker(facts: Pick<Facts, 'drain' | 'kubelet'> | null): string | null {
  const d = facts?.drain;
  if (d?.status !== 'ok') return null;
  // Without kubelet there are no pods to drain: the drain fixes go on without one (reset-state.sh).
  if (facts?.kubelet?.status === 'n/a') return null;
  const missing: string[] = [];
  if (!d.kubectl) missing.push('no kubectl');
  if (d.kubeconfig === null) {
    missing.push('no admin kubeconfig ($KUBECONFIG, /etc/kubernetes/admin.conf, /root/.kube/config)');
  }
  return missing.length > 0 ? `this node cannot drain itself: ${missing.join(', ')}` : null;
}

/** Fixes that need a drain among `ids`. */
function drainNeeding(ids: readonly RemediationId[]): RemediationId[] {
  return ids.filter((id) => getRemediation(id).needsDrain === true);
}

/**
 * The findings' note when a fix they fit needs a drain the node cannot do: said before approval,
 * with what is offered instead. Null when nothing needs a drain or the node can drain.
 */
export function drainNote(report: Pick<Report, 'findings' | 'facts'>, node?: string | null): string | null {
  const blocker = drainBlocker(factsOf(report));
  const needing = drainNeeding([...new Set(report.findings.flatMap((f) => f.remediations))]);
  if (blocker === null || needing.length === 0) return null;
  const name = node || factsOf(report)?.script.host || '<node>';
  return (
    `${blocker}, so ${needing.join(' and ')} ${needing.length > 1 ? 'are' : 'is'} not offered. ` +
    `Replace the node where it has an Auto Scaling group, or a person drains it from a machine with cluster-admin access: ${drainCommands(name)}, then asks for the fix again`
  );
}

/** Why per-node fixes are not offered right now. */
export type HoldReason = 'cluster-hold' | 'in-flight' | 'cooldown' | 'retry-budget';

function parseTime(value: string, name: string): number {
  const t = Date.parse(value);
  if (typeof value !== 'string' || Number.isNaN(t)) {
    throw new InvalidInputError(`${name}: expected an ISO-8601 time, got ${JSON.stringify(value)}`);
  }
  return t;
}

/**
 * Which remediations get buttons: runnable ones (node script or EC2 action) from the findings,
 * in finding order (findings are ranked by severity) then each finding's own ranking, deduped.
 * `person` ones go to `manual` (shown, never run). A fix that needs a drain is `withheld` when the
 * facts say the node cannot drain itself, and replace-node offered instead where `ctx.node` has an
 * Auto Scaling group; replace-node is withheld when `ctx.node` has none (it would fail).
 * `held` is set, and `offered` still listed so
 * the card can say what is waiting, when any limit applies, checked in this order:
 * - `cluster-hold`: at least two nodes NotReady and more than `clusterHoldPercent` of the
 *   cluster (one NotReady node in a small cluster is not a shared cause);
 * - `in-flight`: `inFlight` fixes already running in the cluster reach `maxFixesInFlightPerCluster`;
 * - `retry-budget`: `attempts` on this node in this incident reach `retryBudget`;
 * - `cooldown`: the last attempt on this node was less than `nodeCooldownMinutes` before `now`.
 * Throws InvalidInputError for an unreadable `now` / `lastAttemptAt`.
 */
export function planRemediations(
  report: Report,
  ctx: {
    policy: SafetyPolicy;
    cluster: { total: number; notReady: number };
    inFlight: number;
    attempts: number;
    lastAttemptAt: string | null;
    now: string;
    /** The node, when known: its Auto Scaling group decides whether replace-node can run. */
    node?: { readonly nodeName: string | null; readonly autoScalingGroup: string | null };
  },
): {
  offered: RemediationId[];
  manual: RemediationId[];
  held: null | { reason: HoldReason; detail: string };
  withheld: { remediation: RemediationId; reason: string }[];
} {
  let offered: RemediationId[] = [];
  const manual: RemediationId[] = [];
  for (const finding of report.findings) {
    for (const id of finding.remediations) {
      const list = getRemediation(id).runsOn === 'person' ? manual : offered;
      if (!list.includes(id)) list.push(id);
    }
  }
  const withheld: { remediation: RemediationId; reason: string }[] = [];
  const blocker = drainBlocker(factsOf(report));
  const undrainable = blocker === null ? [] : drainNeeding(offered);
  const noGroup = ctx.node !== undefined && ctx.node.autoScalingGroup === null;
  if (undrainable.length > 0) {
    const name = ctx.node?.nodeName || factsOf(report)?.script.host || '<node>';
    for (const id of undrainable) {
      withheld.push({ remediation: id, reason: `${blocker}; a person drains it: ${drainCommands(name)}` });
    }
    offered = offered.filter((id) => !undrainable.includes(id));
    if (ctx.node?.autoScalingGroup && !offered.includes('replace-node')) offered.push('replace-node');
  }
  if (noGroup && offered.includes('replace-node')) {
    withheld.push({ remediation: 'replace-node', reason: 'the node is in no Auto Scaling group' });
    offered = offered.filter((id) => id !== 'replace-node');
  }
  const { policy, cluster } = ctx;
  const now = parseTime(ctx.now, 'now');
  let held: { reason: HoldReason; detail: string } | null = null;
  // A node that is itself NotReady belongs to the cluster even if the count lags behind.
  const total = Math.max(cluster.total, cluster.notReady, 1);
  const percent = (cluster.notReady / total) * 100;
  if (cluster.notReady >= 2 && percent > policy.clusterHoldPercent) {
    held = {
      reason: 'cluster-hold',
      detail: `${cluster.notReady} of ${total} nodes are NotReady (${percent.toFixed(0)}%, above ${policy.clusterHoldPercent}%): a shared cause is likely, so per-node fixes are held`,
    };
  } else if (ctx.inFlight >= policy.maxFixesInFlightPerCluster) {
    held = {
      reason: 'in-flight',
      detail: `${ctx.inFlight} fix(es) already running in this cluster (limit ${policy.maxFixesInFlightPerCluster})`,
    };
  } else if (ctx.attempts >= policy.retryBudget) {
    held = {
      reason: 'retry-budget',
      detail: `${ctx.attempts} fix attempt(s) on this node already (budget ${policy.retryBudget}): a person takes over`,
    };
  } else if (ctx.lastAttemptAt !== null) {
    const last = parseTime(ctx.lastAttemptAt, 'lastAttemptAt');
    const waitMs = last + policy.nodeCooldownMinutes * 60_000 - now;
    if (waitMs > 0) {
      held = {
        reason: 'cooldown',
        detail: `last fix attempt on this node at ${ctx.lastAttemptAt}; next allowed in ${Math.ceil(waitMs / 60_000)} min (cooldown ${policy.nodeCooldownMinutes} min)`,
      };
    }
  }
  return { offered, manual, held, withheld };
}

/**
 * Record an approval click. The first click on a fix makes its clicker the requester
 * (`state.requested` null). Rules:
 * - `manual` fixes are never approved (a person does them);
 * - a click on another fix than the one requested is rejected (deny or re-run first);
 * - the same user approving twice is rejected (no new approval);
 * - non-destructive: one approval suffices, the requester's own included;
 * - destructive: `policy.destructiveApprovers` distinct approvers, the requester never one of
 *   them (so the first click returns `needs-another` with `have: 0`).
 * `approvals` may hold the requester's own click (the listener records every click): it is not
 * counted for a destructive fix.
 */
export function applyApproval(
  state: { requested: { remediation: RemediationId; by: string } | null; approvals: readonly Approval[] },
  click: { remediation: RemediationId; user: string; at: string },
  policy: SafetyPolicy,
):
  | { outcome: 'approved'; approvers: string[] }
  | { outcome: 'needs-another'; have: number; need: number }
  | { outcome: 'rejected'; reason: string } {
  const remediation = getRemediation(click.remediation);
  if (typeof click.user !== 'string' || click.user.trim() === '') {
    return { outcome: 'rejected', reason: 'the click names no user' };
  }
  if (remediation.tier === 'manual') {
    return {
      outcome: 'rejected',
      reason: `${remediation.id} is for a person to do; nodemedic never runs it`,
    };
  }
  if (state.requested && state.requested.remediation !== click.remediation) {
    return {
      outcome: 'rejected',
      reason: `${state.requested.remediation} is already requested; deny it or re-run the diagnosis first`,
    };
  }
  const requester = state.requested?.by ?? click.user;
  const destructive = remediation.tier === 'destructive';
  const prior: string[] = [];
  for (const a of state.approvals) {
    if (a.remediation !== click.remediation) continue;
    if (destructive && a.user === requester) continue;
    if (!prior.includes(a.user)) prior.push(a.user);
  }
  if (prior.includes(click.user)) {
    return { outcome: 'rejected', reason: 'you already approved this fix; it needs another approver' };
  }
  if (!destructive) return { outcome: 'approved', approvers: [...prior, click.user] };
  const need = policy.destructiveApprovers;
  if (click.user === requester) {
    if (state.requested === null) return { outcome: 'needs-another', have: prior.length, need };
    return {
      outcome: 'rejected',
      reason: `you requested this destructive fix, so you cannot approve it; it needs ${need} other approvers`,
    };
  }
  const approvers = [...prior, click.user];
  if (approvers.length >= need) return { outcome: 'approved', approvers };
  return { outcome: 'needs-another', have: approvers.length, need };
}

/**
 * Recheck before a fix: true while a finding of a cause the remediation fixes is still present in
 * fresh facts. An action that fixes nothing (the goroutine dump) has nothing to recheck: true.
 */
export function causeStillHolds(report: Report, remediation: RemediationId | Remediation): boolean {
  const fixes = entryOf(remediation).fixes;
  if (fixes.length === 0) return true;
  return report.findings.some((f) => fixes.includes(f.cause));
}

/** The catalog entry: given (a catalog the caller chose), or looked up in the built-in one. */
function entryOf(remediation: RemediationId | Remediation): Remediation {
  return typeof remediation === 'string' ? getRemediation(remediation) : remediation;
}

/** Log lines come from a recent window that may predate the fix, so they alone do not block recovery. */
function hasCurrentEvidence(f: Finding): boolean {
  return f.evidence.some((e) => !e.source.startsWith('logs.'));
}

function factsOf(report: Pick<Report, 'facts'>): Facts | null {
  const f = report.facts as Partial<Facts> | null;
  if (!f || typeof f !== 'object' || !f.socket || !f.plugins) return null;
  return f as Facts;
}

/**
 * Verification after a fix: containerd answers on its socket, the bolt metadata and CRI plugins
 * are listed and not in error, and none of the remediation's `verify` causes remains with current
 * evidence (a finding backed only by log lines from before the fix does not count). A report
 * without facts (node unreachable) never verifies.
 */
export function verifyRecovery(
  report: Report,
  remediation: RemediationId | Remediation,
): { recovered: boolean; remaining: CauseId[]; detail: string } {
  const verify = entryOf(remediation).verify;
  const remaining = [
    ...new Set(
      report.findings.filter((f) => verify.includes(f.cause) && hasCurrentEvidence(f)).map((f) => f.cause),
    ),
  ];
  const facts = factsOf(report);
  if (!facts) {
    return {
      recovered: false,
      remaining: report.findings.some((f) => f.cause === 'node-unreachable')
        ? ['node-unreachable']
        : remaining,
      detail: 'no facts from the node (unreachable or no diagnosis): recovery cannot be confirmed',
    };
  }
  const problems: string[] = [];
  if (facts.socket.call?.ok !== true) problems.push('containerd does not answer on its socket');
  if (facts.plugins.status !== 'ok') {
    problems.push(`plugins could not be listed (${facts.plugins.reason ?? facts.plugins.status})`);
  } else {
    const bad = criticalPluginErrors(facts.plugins.errored);
    if (bad.length > 0) problems.push(`${bad.join(', ')} in error`);
  }
  if (remaining.length > 0) problems.push(`still found: ${remaining.join(', ')}`);
  const recovered = problems.length === 0;
  return {
    recovered,
    remaining,
    detail: recovered
      ? 'containerd answers, bolt metadata and CRI are healthy, and the cause is gone'
      : problems.join('; '),
  };
}
