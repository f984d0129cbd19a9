/**
 * Shadow mode, per cluster: nodemedic diagnoses and posts its findings with what it WOULD offer,
 * but no button runs anything. A team adopting nodemedic watches it for a few weeks before it may
 * act; switching a cluster out is one context value and a redeploy. Pure: the list comes from the
 * safety policy (functions/core/policy.ts).
 */

import { CatalogError } from './errors.js';
import type { Incident } from './incident.js';
import { CLUSTER_NAME } from './patterns.js';
import type { SafetyPolicy } from './policy.js';

/**
 * Check the `shadowClusters` policy field: an array of distinct cluster names (the alarm's
 * cluster pattern). Throws CatalogError naming the bad entry.
 */
export function validateShadowClusters(value: unknown): readonly string[] {
  if (!Array.isArray(value)) {
    throw new CatalogError(
      `safety policy.shadowClusters: expected a list of cluster names, got ${JSON.stringify(value)}`,
    );
  }
  const seen = new Set<string>();
  for (const name of value) {
    if (typeof name !== 'string' || !CLUSTER_NAME.test(name)) {
      throw new CatalogError(
        `safety policy.shadowClusters: ${JSON.stringify(name)} is not a cluster name (${CLUSTER_NAME.source})`,
      );
    }
    if (seen.has(name)) throw new CatalogError(`safety policy.shadowClusters: ${name} is listed twice`);
    seen.add(name);
  }
  return Object.freeze([...seen]);
}

/** True when nodemedic only watches `cluster`: findings, never a fix. */
export function isShadowCluster(policy: Pick<SafetyPolicy, 'shadowClusters'>, cluster: string): boolean {
  return policy.shadowClusters.includes(cluster);
}

/**
 * Why a click on this incident must run nothing, or null when shadow mode does not apply. Both the
 * record (the incident was diagnosed in shadow mode, so it offered nothing) and today's policy
 * count: a cluster switched into shadow mode stops acting at once, even on an older card.
 */
export function shadowRefusal(
  policy: Pick<SafetyPolicy, 'shadowClusters'>,
  incident: Pick<Incident, 'node' | 'shadow'>,
): string | null {
  if (incident.shadow === true || isShadowCluster(policy, incident.node.cluster)) {
    return `cluster ${incident.node.cluster} is in shadow mode: nodemedic runs nothing there`;
  }
  return null;
}
