/**
 * The domain vocabulary every part of nodemedic shares: cause ids, findings, the JSON report,
 * remediation ids and risk tiers. These ids are a public contract (JSON, metrics, Slack action ids):
 * never rename one, only add.
 */

/** Stable cause ids, in the order the report lists them when severities tie. */
export const CAUSE_IDS = [
  'node-unreachable',
  'containerd-down',
  'config-invalid',
  'state-corruption',
  'socket-unreachable',
  'fd-exhaustion',
  'grpc-limits',
  'resource-starvation',
  'disk-pressure',
  'outdated-version',
  'kubelet-down',
  'cri-config-error',
  'sandbox-image-missing',
  'stuck-shim',
  'host-not-inspectable',
] as const;
export type CauseId = (typeof CAUSE_IDS)[number];

export const SEVERITIES = ['critical', 'warning', 'info'] as const;
/** How much the finding hurts the node: critical findings explain NotReady on their own. */
export type Severity = (typeof SEVERITIES)[number];

export const CONFIDENCES = ['high', 'medium', 'low'] as const;
/** How sure the analyzer is, given the evidence it had (a probe that timed out lowers it). */
export type Confidence = (typeof CONFIDENCES)[number];

/** Stable remediation ids. Each one that runs on the node has a script under functions/scripts/fixes/. */
export const REMEDIATION_IDS = [
  'restart-containerd',
  'restart-kubelet',
  'raise-nofile',
  'raise-grpc-message-size',
  'upgrade-containerd',
  'cordon-drain',
  'reboot-instance',
  'reset-state',
  'replace-node',
  'collect-goroutine-dump',
  'fix-config-manually',
  'fix-endpoint-mismatch',
] as const;
export type RemediationId = (typeof REMEDIATION_IDS)[number];

/** Narrows an untrusted string (a Slack action id, a workflow payload) to a remediation id. */
export function isRemediationId(value: unknown): value is RemediationId {
  return typeof value === 'string' && (REMEDIATION_IDS as readonly string[]).includes(value);
}

/**
 * Risk tiers from the safety model. `manual` is shown to a person and never run by nodemedic.
 * `destructive` needs two distinct approvers, neither of them the requester.
 */
export const TIERS = ['safe', 'disruptive', 'destructive', 'manual'] as const;
export type Tier = (typeof TIERS)[number];

/** One piece of evidence: what was observed, quoted, with where it came from. */
export interface Evidence {
  /** Which probe or source saw it, e.g. `fds`, `logs.containerd`, `config`. */
  readonly source: string;
  /** The quote itself: a figure against its limit ("1021 of 1024 fds open"), or a log line. */
  readonly text: string;
}

/** One diagnosed cause. */
export interface Finding {
  readonly cause: CauseId;
  readonly severity: Severity;
  readonly confidence: Confidence;
  /** One line, no trailing period, suitable as a Slack heading. */
  readonly summary: string;
  readonly evidence: readonly Evidence[];
  /** Remediations that fit, best first. */
  readonly remediations: readonly RemediationId[];
}

/** The report contract from design.md: `{ healthy, findings, notes, facts }`. */
export interface Report {
  /** True only when every probe that matters answered and no finding was raised. */
  readonly healthy: boolean;
  readonly findings: readonly Finding[];
  /** Things worth saying that are not causes: no-op keys, probes not applicable, unknown probes. */
  readonly notes: readonly string[];
  /** The facts the findings were derived from, as the script emitted them (validated). */
  readonly facts: unknown;
}
