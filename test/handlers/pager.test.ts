/**
 * Paging through the Lambda handlers, composed as in AWS: the routing key read from Secrets Manager
 * (PAGER_SECRET_ID; GetSecretValue answered by aws-sdk-client-mock in the documented shape,
 * https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html), the
 * PagerDuty Events API v2 adapter posting over HTTP to the local stand-in of its endpoint
 * (PAGER_EVENTS_URL), DynamoDB through the fake table, Slack through the stand-in. The escalate
 * function pages; the alarm function's OK for that node resolves the page.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoIncidentStore } from '../../functions/adapters/aws/dynamo-store.js';
import { notReadyAlarmEvent } from '../../functions/local/alarm-event.js';
import { PagerStandIn } from '../../functions/local/pager-standin.js';
import { SlackStandIn } from '../../functions/local/slack-standin/server.js';
import { FakeTable } from '../adapters/aws/fake-dynamo.js';
import { incidentInit } from '../adapters/incident-store-contract.js';
import { postCard, setHandlerEnv } from './support.js';

const ROUTING_KEY = 'R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY12';
const ddb = mockClient(DynamoDBDocumentClient);
const secrets = mockClient(SecretsManagerClient);
const ec2 = mockClient(EC2Client);
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' }));
let slack: SlackStandIn;
let pager: PagerStandIn;

beforeAll(async () => {
  slack = await SlackStandIn.start({ botToken: 'xoxb-aws-test', signingSecret: 's3cr3t' });
  pager = await PagerStandIn.start();
  setHandlerEnv(slack.apiUrl, {
    PAGER_SECRET_ID: 'nodemedic/pagerduty',
    PAGER_EVENTS_URL: pager.baseUrl,
    AWS_REGION: 'eu-west-1',
  });
  new FakeTable().install(ddb);
  secrets.on(GetSecretValueCommand, { SecretId: 'nodemedic/slack' }).resolves({
    SecretString: JSON.stringify({ botToken: 'xoxb-aws-test', signingSecret: 's3cr3t' }),
  });
  secrets
    .on(GetSecretValueCommand, { SecretId: 'nodemedic/pagerduty' })
    .resolves({ SecretString: JSON.stringify({ routingKey: ROUTING_KEY }) });
  ec2.on(DescribeInstancesCommand).resolves({
    Reservations: [
      {
        Instances: [
          {
            InstanceId: 'i-0abc123def4567890',
            PrivateDnsName: 'ip-10-0-1-23.eu-west-1.compute.internal',
            State: { Name: 'running' },
            Tags: [{ Key: 'eks:cluster-name', Value: 'prod' }],
          },
        ],
      },
    ],
  });
});

afterAll(async () => {
  await slack.close();
  await pager.close();
});

describe('paging through the handlers', () => {
  it('the escalate function pages with the incident as dedup key; the alarm function’s OK resolves it', async () => {
    const store = new DynamoIncidentStore({ client: doc, tableName: 'nodemedic-incidents' });
    const card = await postCard(slack.apiUrl);
    const init = incidentInit({
      phase: 'awaiting-approval',
      alarmName: 'nodemedic-node-not-ready-prod',
      card,
    });
    await store.open(init);

    const escalate = (await import('../../functions/handlers/escalate.js')).handler;
    await escalate({ incidentId: init.id, reason: 'approval-timeout' });
    expect(pager.events).toHaveLength(1);
    expect(pager.events[0]).toMatchObject({
      routing_key: ROUTING_KEY,
      event_action: 'trigger',
      dedup_key: init.id,
      payload: { class: 'approval-timeout', source: 'i-0abc123def4567890' },
    });
    expect((await store.get(init.id))!.audit.map((a) => a.action)).toContain('paged');

    const alarm = (await import('../../functions/handlers/alarm.js')).handler;
    const ok = notReadyAlarmEvent({
      alarmName: 'nodemedic-node-not-ready-prod',
      instanceId: 'i-0abc123def4567890',
      nodeName: 'ip-10-0-1-23.eu-west-1.compute.internal',
      cluster: 'prod',
      state: 'OK',
    });
    expect(await alarm(ok as never)).toMatchObject({ kind: 'recovered', incidentId: init.id });
    expect(pager.events.map((e) => e.event_action)).toEqual(['trigger', 'resolve']);
    expect(pager.open()).toEqual([]);
  });
});
