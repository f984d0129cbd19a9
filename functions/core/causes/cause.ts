/**
 * The shape of one cause in the catalog. Each id in `CAUSE_IDS` has exactly one file in this
 * directory exporting a `Cause`; `index.ts` gathers them.
 */
import type { Facts } from '../facts.js';
import type { CauseId, Finding, RemediationId } from '../model.js';
import type { VersionPolicy } from '../version.js';

/** What a cause may consult besides the facts. */
export interface DetectContext {
  readonly versionPolicy: VersionPolicy;
}

/**
 * Three states, never a boolean: `unknown` when the probes the cause needs could not tell, with
 * the reason (the report then says "could not check …" and is not healthy). Any state may carry
 * notes: things worth saying that are not findings (a no-op config key, a probe not applicable).
 */
export type Detection =
  | { readonly state: 'matched'; readonly finding: Finding; readonly notes?: readonly string[] }
  | { readonly state: 'not-matched'; readonly notes?: readonly string[] }
  | { readonly state: 'unknown'; readonly reason: string; readonly notes?: readonly string[] };

/** One diagnosable cause of a NotReady node. */
export interface Cause {
  readonly id: CauseId;
  /** Short human name, used in "could not check <title>" notes. */
  readonly title: string;
  /** Why it makes the node NotReady, one or two sentences. */
  readonly why: string;
  /** Every remediation a finding of this cause may propose, best first (validated against the catalog). */
  readonly remediations: readonly RemediationId[];
  detect(facts: Facts, ctx: DetectContext): Detection;
}
