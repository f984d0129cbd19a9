/**
 * The shape of one remediation in the catalog. Each id in `REMEDIATION_IDS` has exactly one file
 * in this directory exporting a `Remediation`; `index.ts` gathers them and `../catalog.ts`
 * validates the whole set at load.
 */
import type { CauseId, RemediationId, Tier } from '../model.js';
import type { ScriptParameterName } from '../script-params.js';

/**
 * Where a remediation runs:
 * - `node`: a script under functions/scripts/fixes/<id>.sh, sent through SSM (or the local shell);
 * - `instance`: an EC2 / Auto Scaling API call, no script on the node;
 * - `person`: shown to a human, never run by nodemedic.
 */
export type RunsOn = 'node' | 'instance' | 'person';

/** One fix (or safe action) nodemedic can offer. Data only: no behaviour lives here. */
export interface Remediation {
  /** Stable id, also the fix script's file name and part of the Slack action id. */
  readonly id: RemediationId;
  /** Short button label. */
  readonly title: string;
  /** Risk tier from the safety model; `destructive` needs two approvers, `manual` is never run. */
  readonly tier: Tier;
  /** What it does, one sentence, shown beside the button. */
  readonly description: string;
  readonly runsOn: RunsOn;
  /**
   * Execution bound for the script or API action, seconds. 0 only for `person` remediations,
   * which nodemedic never runs.
   */
  readonly timeoutSeconds: number;
  /**
   * Causes that must be gone on the verification diagnosis after it ran. Empty only for an
   * action that fixes nothing (the goroutine dump).
   */
  readonly verify: readonly CauseId[];
  /**
   * `script`: the same fix script run with `NODEMEDIC_MODE=rollback` undoes it; a remediation id:
   * that remediation undoes it; absent: no rollback (verification failure escalates directly).
   */
  readonly rollback?: RemediationId | 'script';
  /** Script parameters it reads (as `NODEMEDIC_*` env vars); empty for instance/person ones. */
  readonly parameters: readonly ScriptParameterName[];
  /** Causes it is offered for; must mirror the causes' own `remediations` lists. */
  readonly fixes: readonly CauseId[];
  /**
   * It cordons and drains the node first (kubectl with an admin kubeconfig on the node): not
   * offered when the diagnosis found the node cannot drain itself.
   */
  readonly needsDrain?: boolean;
}
