/**
 * The construct's trust pieces (issue 12): shadow mode merged into the validated safety policy,
 * and the incident history index the success rates are read from.
 */
import { AttributeType, ProjectionType, type Table } from 'aws-cdk-lib/aws-dynamodb';
import { type SafetyPolicy, validateSafetyPolicy } from '../functions/core/policy.js';
import { HISTORY_INDEX } from '../functions/core/success-rates.js';

/**
 * The safety policy with `shadowClusters` (the prop) added to the policy's own list, validated.
 * Throws naming a shadow cluster that is not one of `clusterNames` (a typo would leave the real
 * cluster acting while its owners believe it only watches).
 */
export function shadowPolicy(
  props: { readonly safetyPolicy?: Partial<SafetyPolicy>; readonly shadowClusters?: readonly string[] },
  clusterNames: readonly string[],
): SafetyPolicy {
  const shadow = [
    ...new Set([...(props.safetyPolicy?.shadowClusters ?? []), ...(props.shadowClusters ?? [])]),
  ];
  const policy = validateSafetyPolicy({
    ...props.safetyPolicy,
    ...(shadow.length ? { shadowClusters: shadow } : {}),
  });
  for (const name of policy.shadowClusters) {
    if (!clusterNames.includes(name)) {
      throw new Error(`shadowClusters: ${name} is not one of clusterNames (${clusterNames.join(', ')})`);
    }
  }
  return policy;
}

/**
 * The `byClusterCause` index: partition `cluster#cause`, sort the end time, so the success rates
 * of one cluster and cause over a window are one Query. Only the fix-history items carry its keys.
 */
export function addHistoryIndex(table: Table): void {
  table.addGlobalSecondaryIndex({
    indexName: HISTORY_INDEX.name,
    partitionKey: { name: HISTORY_INDEX.partitionKey, type: AttributeType.STRING },
    sortKey: { name: HISTORY_INDEX.sortKey, type: AttributeType.STRING },
    projectionType: ProjectionType.INCLUDE,
    nonKeyAttributes: ['incidentId', 'cluster', 'cause', 'remediation', 'passed'],
  });
}
