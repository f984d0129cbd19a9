/**
 * The incident table's sparse `byOpenCluster` index (functions/core/cluster.ts `OPEN_INDEX`): only
 * incidents that have not ended carry its partition key, so the cluster hold decided at arrival
 * counts a cluster's open incidents with one Query that reads those and nothing else.
 */
import { AttributeType, ProjectionType, type Table } from 'aws-cdk-lib/aws-dynamodb';
import { OPEN_INDEX } from '../functions/core/cluster.js';

/** Add the open-incident index: keys only, since the hold only counts. */
export function addOpenIndex(table: Table): void {
  table.addGlobalSecondaryIndex({
    indexName: OPEN_INDEX.name,
    partitionKey: { name: OPEN_INDEX.partitionKey, type: AttributeType.STRING },
    sortKey: { name: OPEN_INDEX.sortKey, type: AttributeType.STRING },
    projectionType: ProjectionType.KEYS_ONLY,
  });
}
