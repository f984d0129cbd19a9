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

/** The NodeInventory calls an instance-level remediation may name (EC2 / Auto Scaling APIs). */
export const INSTANCE_CALLS = ['reboot', 'replace'] as const;
/** One of {@link INSTANCE_CALLS}: the `NodeInventory` method the action calls. */
export type InstanceCall = (typeof INSTANCE_CALLS)[number];

/**
 * What running a remediation does:
 * - `script`: its fix script (functions/scripts/fixes/<id>.sh, the SSM document built from it),
 *   sent through the command runner with the remediation's timeout and parameters;
 * - `instance`: one inventory call (EC2 RebootInstances, Auto Scaling terminate-and-replace); no
 *   script, so it also works when SSM cannot reach the node;
 * - `manual`: shown to a person, never run by nodemedic.
 */
export type RemediationAction =
  | { readonly kind: 'script' }
  | { readonly kind: 'instance'; readonly call: InstanceCall }
  | { readonly kind: 'manual' };

/**
 * How nodemedic judges that the remediation worked:
 * - `diagnose`: run the diagnosis again and check that the `verify` causes are gone. SSM holds the
 *   command up to `timeoutSeconds` (default: the diagnosis' own), so a node whose agent is offline
 *   for a while (after a reboot) is still diagnosed. Then the node's own readiness (its
 *   contributor, its per-node alarm or Container Insights) must return to OK within
 *   `readyWithinSeconds` (default {@link DEFAULT_READY_WITHIN_SECONDS}), or it escalates again;
 * - `instance-gone`: the old instance is shutting down or terminated (a replacement): there is
 *   nothing left to diagnose, and the fresh node's own alarm reports if it is not Ready;
 * - `none`: for a person's remediation, which nodemedic never runs.
 */
export type VerifyStrategy =
  | {
      readonly kind: 'diagnose';
      readonly timeoutSeconds?: number;
      readonly readyWithinSeconds?: number;
    }
  | { readonly kind: 'instance-gone' }
  | { readonly kind: 'none' };

/**
 * How long a fixed node's readiness may take to return to OK when its remediation does not say:
 * Container Insights reports each minute and the construct's alarm needs its evaluation periods
 * (3 of 1 minute by default) before it turns OK.
 */
export const DEFAULT_READY_WITHIN_SECONDS = 600;

/** Where each kind of action runs (the `runsOn` every remediation carries, derived). */
const RUNS_ON: Readonly<Record<RemediationAction['kind'], RunsOn>> = {
  script: 'node',
  instance: 'instance',
  manual: 'person',
};

/** The place a remediation with this action runs. */
export function runsOnFor(action: RemediationAction): RunsOn {
  return RUNS_ON[action.kind];
}

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
  /** What running it does: its script, an inventory call, or nothing (a person's fix). */
  readonly action: RemediationAction;
  /** Where it runs, derived from `action` by {@link defineRemediation}. */
  readonly runsOn: RunsOn;
  /** How its effect is judged, and how long the node's readiness may take to return to OK. */
  readonly verifyBy: VerifyStrategy;
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

/** A remediation as its module writes it: everything but what is derived from its action. */
export type RemediationSpec = Omit<Remediation, 'runsOn'>;

/** Build a catalog entry from its module's data, deriving `runsOn` from the action. */
export function defineRemediation(spec: RemediationSpec): Remediation {
  return { ...spec, runsOn: runsOnFor(spec.action) };
}
