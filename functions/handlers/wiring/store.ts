/** The DynamoDB incident store, one client per container. */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoIncidentStore } from '../../adapters/aws/dynamo-store.js';
import type { PortEnv } from './env.js';

// Built once per container, in the init phase.
const client = DynamoDBDocumentClient.from(new DynamoDBClient({}), {
  marshallOptions: { removeUndefinedValues: true },
});

/** The store over the table named by TABLE_NAME. */
export function makeStore(env: PortEnv<'store'>): DynamoIncidentStore {
  return new DynamoIncidentStore({ client, tableName: env.TABLE_NAME });
}
