// biome-ignore-all lint/suspicious/noExplicitAny: Slack request bodies are read as untyped JSON
/**
 * Nothing lost, nothing forged, through the real alarm function (and the analyze and
 * await-approval steps where the story needs them): a card Slack refuses with a 429 never stops a
 * diagnosis, a redelivered event starts an execution that never started, and an alarm's name
 * reaches Slack escaped in every message.
 */
import { SendTaskFailureCommand, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { GetCommandInvocationCommand } from '@aws-sdk/client-ssm';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { notReadyAlarmEvent } from '../../functions/local/alarm-event.js';
import { recorded } from '../app/support.js';
import { AwsEdge, INSTANCE, NODE_NAME } from './support.js';

const aws = new AwsEdge();
const alarm = (state: 'ALARM' | 'OK', alarmName = 'nodemedic-prod-not-ready') =>
  notReadyAlarmEvent({ alarmName, instanceId: INSTANCE, nodeName: NODE_NAME, cluster: 'prod', state });
const handle = async (event: unknown) =>
  (await import('../../functions/handlers/alarm.js')).handler(event as never) as Promise<Record<string, any>>;
const analyze = async (incidentId: string) =>
  (await import('../../functions/handlers/analyze.js')).handler({ incidentId, commandId: 'cmd-1' });
beforeAll(() => aws.start());
afterAll(() => aws.close());
beforeEach(() => {
  aws.reset();
  aws.ssm.on(GetCommandInvocationCommand).resolves({
    Status: 'Success',
    StatusDetails: 'Success',
    ResponseCode: 0,
    StandardOutputContent: recorded('daemon-stopped'),
    StandardErrorContent: '',
  });
});

describe('a card Slack refuses never stops a diagnosis', () => {
  it('starts the execution despite a 429 on the card, and the analysis posts the card', async () => {
    aws.slack.failNext('chat.postMessage', 'ratelimited');
    const out = await handle(alarm('ALARM'));
    expect(out).toMatchObject({ kind: 'opened' });
    expect(aws.sfn.commandCalls(StartExecutionCommand)).toHaveLength(1);
    const opened = aws.incident();
    expect(opened.card).toBeNull();
    expect(opened.execution).toEqual(expect.stringContaining(':stateMachine:nodemedic:'));
    expect(opened.audit.map((a) => a.action)).toEqual(['opened', 'card-not-posted', 'execution-started']);
    expect(opened.audit[1]!.detail).toMatch(/rate limited/);

    // The workflow's analysis posts the missing card first, then the findings in its thread.
    await analyze(opened.id);
    const posts = aws.requests('chat.postMessage').slice(1); // the first one was refused
    expect(posts).toHaveLength(2);
    expect(posts[0]!.body.thread_ts).toBeUndefined();
    const card = aws.incident().card!;
    expect(card).not.toBeNull();
    expect(posts[1]!.body.thread_ts).toBe(card.ts);
    expect(JSON.stringify(posts[1]!.body.blocks)).toContain('containerd-down');
  });

  it('starts the execution when the function failed before it: the redelivery does it, once', async () => {
    aws.startFailures = 1;
    await expect(handle(alarm('ALARM'))).rejects.toThrow();
    expect(aws.incident().execution).toBeNull();

    // EventBridge redelivers: the incident is open, its execution is not.
    expect(await handle(alarm('ALARM'))).toMatchObject({ kind: 'duplicate' });
    expect(aws.sfn.commandCalls(StartExecutionCommand)).toHaveLength(2);
    expect(aws.incident().execution).toEqual(expect.stringContaining(':stateMachine:nodemedic:'));
    // Same execution name both times: Step Functions runs it once.
    const names = aws.sfn.commandCalls(StartExecutionCommand).map((c) => c.args[0].input.name);
    expect(new Set(names).size).toBe(1);

    // A further redelivery starts nothing more; one card in all.
    expect(await handle(alarm('ALARM'))).toMatchObject({ kind: 'duplicate' });
    expect(aws.sfn.commandCalls(StartExecutionCommand)).toHaveLength(2);
    expect(aws.requests('chat.postMessage')).toHaveLength(1);
  });

  it('survives a 429 on the card and a refused start together: the redelivery starts it', async () => {
    aws.slack.failNext('chat.postMessage', 'ratelimited');
    aws.startFailures = 1;
    await expect(handle(alarm('ALARM'))).rejects.toThrow();
    expect(await handle(alarm('ALARM'))).toMatchObject({ kind: 'duplicate' });
    expect(aws.incident()).toMatchObject({ card: null, execution: expect.any(String) });
  });
});

describe('a node that flaps ALARM → OK → ALARM', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('within the cooldown, continues in the recovered incident’s thread, which says so', async () => {
    const first = await handle(alarm('ALARM'));
    const card = aws.incident().card!;
    expect(await handle(alarm('OK'))).toMatchObject({ kind: 'recovered', incidentId: first.incidentId });
    const again = await handle(alarm('ALARM'));
    expect(again).toMatchObject({ kind: 'opened' });
    expect(again.incidentId).not.toBe(first.incidentId);

    const byId = new Map(aws.incidents().map((i) => [i.id, i]));
    expect(byId.get(again.incidentId)).toMatchObject({
      reopens: first.incidentId,
      thread: card,
      phase: 'diagnosing',
    });
    expect(byId.get(first.incidentId)!.audit.at(-1)).toMatchObject({ action: 'flapped' });
    // The thread says it, then the new card follows in the same thread: no second thread.
    const posts = aws.requests('chat.postMessage');
    const roots = posts.filter((p) => p.body.thread_ts === undefined);
    expect(roots).toHaveLength(1);
    const [note, newCard] = posts.slice(-2);
    expect(note!.body.thread_ts).toBe(card.ts);
    expect(note!.body.text).toMatch(
      /NotReady again 0 min after the alarm went back to OK \(within the 10-minute flap cooldown\)/,
    );
    expect(newCard!.body.thread_ts).toBe(card.ts);
    // Its own diagnosis.
    expect(aws.sfn.commandCalls(StartExecutionCommand)).toHaveLength(2);
  });

  it('after the cooldown, opens a thread of its own', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    await handle(alarm('ALARM'));
    await handle(alarm('OK'));
    vi.setSystemTime(Date.now() + 11 * 60_000);
    const again = await handle(alarm('ALARM'));
    expect(aws.incidents().find((i) => i.id === again.incidentId)).toMatchObject({
      reopens: null,
      thread: null,
    });
    const roots = aws.requests('chat.postMessage').filter((p) => p.body.thread_ts === undefined);
    expect(roots).toHaveLength(2);
  });

  it('after an escalation, opens a thread of its own', async () => {
    const first = await handle(alarm('ALARM'));
    const stored = aws.table.items.get(`INCIDENT#${first.incidentId}`)!;
    const { DynamoIncidentStore } = await import('../../functions/adapters/aws/dynamo-store.js');
    const { DynamoDBDocumentClient } = await import('@aws-sdk/lib-dynamodb');
    const { DynamoDBClient } = await import('@aws-sdk/client-dynamodb');
    const store = new DynamoIncidentStore({
      client: DynamoDBDocumentClient.from(new DynamoDBClient({})),
      tableName: 'nodemedic-incidents',
    });
    await store.update(String(stored.id), (c) => ({ ...c, phase: 'escalated' }));
    const again = await handle(alarm('ALARM'));
    expect(aws.incidents().find((i) => i.id === again.incidentId)).toMatchObject({ reopens: null });
  });
});

describe('an alarm’s name reaches Slack escaped in every message', () => {
  const HOSTILE = ['<!channel>', '<@U123>', '<http://evil|Approve here>'];
  const NAME = `nodemedic-${HOSTILE.join(' ')}`;

  it('the card, the findings and the "no longer needed" update of an OK while awaiting approval', async () => {
    const { incidentId } = await handle(alarm('ALARM', NAME));
    const analysis = await analyze(incidentId);
    expect(analysis).toMatchObject({ awaitApproval: true });
    await (await import('../../functions/handlers/await-approval.js')).handler({
      incidentId,
      taskToken: 'token-123',
    });
    expect(await handle(alarm('OK', NAME))).toMatchObject({ kind: 'recovered', incidentId });
    expect(aws.sfn.commandCalls(SendTaskFailureCommand)).toHaveLength(1);

    const updates = aws.requests('chat.update');
    const decision = updates.find((u) => JSON.stringify(u.body).includes('No longer needed'));
    expect(decision, 'the findings message was struck').toBeDefined();
    expect(JSON.stringify(decision!.body)).toContain('the alarm nodemedic-&lt;!channel&gt; &lt;@U123&gt;');
    const messages = [...aws.requests('chat.postMessage'), ...updates];
    expect(messages.length).toBeGreaterThanOrEqual(5); // card, findings, outcome; two updates
    for (const message of messages) {
      const sent = JSON.stringify({ text: message.body.text, blocks: message.body.blocks });
      for (const raw of HOSTILE) expect(sent, `${message.method}: ${raw}`).not.toContain(raw);
    }
  });
});
