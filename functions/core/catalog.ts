/**
 * The catalog of causes and remediations, validated at module load (and in CI by its test), in
 * the manner of node-problem-detector's `Validate()`: a broken catalog fails fast instead of
 * offering a fix that cannot run or cannot be verified.
 */
import { CAUSE_LIST, type Cause } from './causes/index.js';
import { CatalogError, InvalidInputError } from './errors.js';
import { CAUSE_IDS, REMEDIATION_IDS, TIERS } from './model.js';
import { REMEDIATION_LIST, type Remediation } from './remediations/index.js';
import { INSTANCE_CALLS, runsOnFor } from './remediations/remediation.js';
import { SCRIPT_PARAMETERS } from './script-params.js';

/** The two lists the analyzer and the plan work from. */
export interface Catalog {
  readonly causes: readonly Cause[];
  readonly remediations: readonly Remediation[];
}

/** The catalog the analyzer and the plan use (validated when this module loads, below). */
export const CATALOG: Catalog = { causes: CAUSE_LIST, remediations: REMEDIATION_LIST };

const RUNS_ON = ['node', 'instance', 'person'];
const ACTION_KINDS = ['script', 'instance', 'manual'];
const VERIFY_KINDS = ['diagnose', 'instance-gone', 'none'];
/**
 * Longest readiness wait a remediation may ask for: the wait, with the fix and its verification,
 * must fit in the execution's time limit (2 hours by default).
 */
const READY_WITHIN_MAX_SECONDS = 3_600;
/** Longest a verification diagnosis may be held by SSM (a node booting is back well within it). */
const VERIFY_TIMEOUT_MAX_SECONDS = 1_800;

/**
 * A remediation of `catalog` by id: what the workflow steps dispatch and judge from. Ids from a
 * workflow payload are untrusted strings, so a miss throws InvalidInputError naming the id.
 */
export function remediationIn(catalog: Catalog, id: string): Remediation {
  const found = catalog.remediations.find((r) => r.id === id);
  if (!found) throw new InvalidInputError(`unknown remediation id "${id}"`);
  return found;
}

/** The problems of one remediation's action and verify strategy (the data the workflow runs from). */
function actionProblems(r: Remediation): string[] {
  const id = String(r.id);
  const problems: string[] = [];
  const action = r.action as { kind?: unknown; call?: unknown } | undefined;
  const verifyBy = r.verifyBy as
    | { kind?: unknown; timeoutSeconds?: unknown; readyWithinSeconds?: unknown }
    | undefined;
  if (!action || !ACTION_KINDS.includes(action.kind as string)) {
    problems.push(
      `remediation "${id}": unknown action kind "${String(action?.kind)}" (one of ${ACTION_KINDS.join(', ')})`,
    );
    return problems;
  }
  if (action.kind === 'instance' && !(INSTANCE_CALLS as readonly unknown[]).includes(action.call)) {
    problems.push(
      `remediation "${id}": unknown instance call "${String(action.call)}" (one of ${INSTANCE_CALLS.join(', ')})`,
    );
  }
  if (r.runsOn !== runsOnFor(r.action)) {
    problems.push(`remediation "${id}": runsOn ${r.runsOn} does not match its ${action.kind} action`);
  }
  if (!verifyBy || !VERIFY_KINDS.includes(verifyBy.kind as string)) {
    problems.push(
      `remediation "${id}": unknown verify strategy "${String(verifyBy?.kind)}" (one of ${VERIFY_KINDS.join(', ')})`,
    );
    return problems;
  }
  if ((action.kind === 'manual') !== (verifyBy.kind === 'none')) {
    problems.push(
      `remediation "${id}": a manual action and the verify strategy none go together (action ${action.kind}, verify ${String(verifyBy.kind)})`,
    );
  }
  if (verifyBy.kind === 'instance-gone' && action.kind !== 'instance') {
    problems.push(`remediation "${id}": verify instance-gone needs an instance action`);
  }
  const bounds: [string, unknown, number][] = [
    ['timeoutSeconds', verifyBy.timeoutSeconds, VERIFY_TIMEOUT_MAX_SECONDS],
    ['readyWithinSeconds', verifyBy.readyWithinSeconds, READY_WITHIN_MAX_SECONDS],
  ];
  for (const [field, value, max] of bounds) {
    if (value === undefined) continue;
    if (verifyBy.kind !== 'diagnose') {
      problems.push(`remediation "${id}": verify ${String(verifyBy.kind)} takes no ${field}`);
    } else if (!(Number.isInteger(value) && (value as number) > 0 && (value as number) <= max)) {
      problems.push(
        `remediation "${id}": verify ${field} must be a whole number of seconds in 1..${max}, got ${String(value)}`,
      );
    }
  }
  return problems;
}

/**
 * Check a catalog; throws CatalogError listing every problem found:
 * unknown or duplicate ids, a cause id or remediation id without a module, a cause referencing a
 * remediation that does not exist (or one that does not list the cause in `fixes`), a runnable
 * fix without a positive timeout or without a verifying cause, a `manual` tier that is not for a
 * person (or the reverse), unknown script parameters, rollbacks that cannot run, and an action or
 * verify strategy the workflow cannot run (unknown kind or instance call, a runsOn that disagrees
 * with the action, a manual action verified otherwise than by none, instance-gone for a script,
 * verify bounds that are not whole seconds within their limits).
 */
export function validateCatalog(catalog: Catalog = CATALOG): void {
  const problems: string[] = [];
  const causeIds = new Set<string>();
  for (const cause of catalog.causes) {
    const id = String(cause.id);
    if (!(CAUSE_IDS as readonly string[]).includes(id)) problems.push(`cause "${id}": unknown cause id`);
    if (causeIds.has(id)) problems.push(`cause "${id}": duplicate`);
    causeIds.add(id);
    if (!cause.title || !cause.why) problems.push(`cause "${id}": title and why are required`);
    if (typeof cause.detect !== 'function') problems.push(`cause "${id}": detect is not a function`);
  }
  for (const id of CAUSE_IDS) if (!causeIds.has(id)) problems.push(`cause "${id}": no module in the catalog`);

  const byId = new Map<string, Remediation>();
  for (const r of catalog.remediations) {
    const id = String(r.id);
    if (!(REMEDIATION_IDS as readonly string[]).includes(id))
      problems.push(`remediation "${id}": unknown remediation id`);
    if (byId.has(id)) problems.push(`remediation "${id}": duplicate`);
    byId.set(id, r);
    if (!(TIERS as readonly string[]).includes(r.tier))
      problems.push(`remediation "${id}": unknown tier "${r.tier}"`);
    if (!RUNS_ON.includes(r.runsOn)) problems.push(`remediation "${id}": unknown runsOn "${r.runsOn}"`);
    if ((r.tier === 'manual') !== (r.runsOn === 'person')) {
      problems.push(
        `remediation "${id}": tier manual and runsOn person go together (tier ${r.tier}, runsOn ${r.runsOn})`,
      );
    }
    const runnable = r.runsOn !== 'person';
    if (runnable && !(Number.isInteger(r.timeoutSeconds) && r.timeoutSeconds > 0)) {
      problems.push(
        `remediation "${id}": a runnable fix needs a positive timeoutSeconds, got ${r.timeoutSeconds}`,
      );
    }
    if (runnable && r.fixes.length > 0 && r.verify.length === 0) {
      problems.push(`remediation "${id}": a runnable fix needs at least one verifying cause`);
    }
    for (const c of [...r.fixes, ...r.verify]) {
      if (!(CAUSE_IDS as readonly string[]).includes(c))
        problems.push(`remediation "${id}": unknown cause "${c}"`);
    }
    for (const p of r.parameters) {
      if (!Object.hasOwn(SCRIPT_PARAMETERS, p))
        problems.push(`remediation "${id}": unknown script parameter "${p}"`);
    }
    problems.push(...actionProblems(r));
    if (r.runsOn !== 'node' && r.parameters.length > 0) {
      problems.push(`remediation "${id}": only node scripts take script parameters`);
    }
    if (r.rollback === 'script') {
      if (r.runsOn !== 'node') problems.push(`remediation "${id}": a rollback script needs runsOn node`);
      if (!r.parameters.includes('mode'))
        problems.push(`remediation "${id}": a rollback script needs the "mode" parameter`);
    }
  }
  for (const id of REMEDIATION_IDS)
    if (!byId.has(id)) problems.push(`remediation "${id}": no module in the catalog`);
  for (const r of catalog.remediations) {
    if (r.rollback && r.rollback !== 'script' && !byId.has(r.rollback)) {
      problems.push(`remediation "${r.id}": rollback "${r.rollback}" does not exist`);
    }
  }

  // Causes and remediations describe the same relation from both sides; they must agree.
  for (const cause of catalog.causes) {
    for (const rid of cause.remediations) {
      const r = byId.get(rid);
      if (!r) {
        problems.push(`cause "${cause.id}": remediation "${rid}" does not exist`);
        continue;
      }
      // An action that fixes nothing (the goroutine dump) may be offered beside fixes.
      if (r.fixes.length > 0 && !r.fixes.includes(cause.id)) {
        problems.push(`cause "${cause.id}": remediation "${rid}" does not list it in fixes`);
      }
    }
  }
  for (const r of catalog.remediations) {
    for (const c of r.fixes) {
      const cause = catalog.causes.find((x) => x.id === c);
      if (cause && !cause.remediations.includes(r.id)) {
        problems.push(`remediation "${r.id}": fixes "${c}" but that cause does not offer it`);
      }
    }
  }
  if (problems.length > 0) throw new CatalogError(`invalid catalog:\n- ${problems.join('\n- ')}`);
}

validateCatalog();
