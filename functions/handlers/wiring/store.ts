/** The DynamoDB incident store, one client per container. */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoIncidentStore } from '../../adapters/aws/dynamo-store.js';
import { requireEnv } from '../runtime.js';

// Built once per container, in the init phase.
const client = DynamoDBDocumentClient.from(new DynamoDBClient({}), {
  marshallOptions: { removeUndefinedValues: true },
});

export function makeStore(): DynamoIncidentStore {
  return new DynamoIncidentStore({ client, tableName: requireEnv('TABLE_NAME') });
}
