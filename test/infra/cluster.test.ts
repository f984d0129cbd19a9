/** The incident table's open-incident index, which the cluster hold counts at arrival. */
import { Match } from 'aws-cdk-lib/assertions';
import { describe, it } from 'vitest';
import { synthNodeMedic } from './support.js';

describe('the open-incident index', () => {
  it('indexes open incidents by cluster, keys only', () => {
    const { template } = synthNodeMedic();
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      GlobalSecondaryIndexes: Match.arrayWith([
        {
          IndexName: 'byOpenCluster',
          KeySchema: [
            { AttributeName: 'openCluster', KeyType: 'HASH' },
            { AttributeName: 'openedAt', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
      ]),
    });
  });
});
