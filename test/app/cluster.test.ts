/**
 * The cluster hold through the use cases (app/incidents.ts, app/cluster.ts, the analyze step), on
 * the memory store: decided at arrival from the open incidents, one cluster thread whose root is
 * updated in place, every Slack call paced to one per second in the channel, and no diagnosis held
 * back by a store or Slack failure. Nothing here is timed; bounds are counted per wall second.
 */
import { describe, expect, it } from 'vitest';
import { MemoryIncidentStore } from '../../functions/adapters/local/memory-store.js';
import { StaticNodeInventory } from '../../functions/adapters/local/static-inventory.js';
import { pacedChat } from '../../functions/app/cluster.js';
import type { AppDeps } from '../../functions/app/deps.js';
import { handleAlarm } from '../../functions/app/incidents.js';
import { analyzeStep } from '../../functions/app/steps.js';
import { parseAlarmEvent } from '../../functions/core/alarm.js';
import { DependencyError } from '../../functions/core/errors.js';
import { DEFAULT_SAFETY_POLICY } from '../../functions/core/policy.js';
import type { Chat, ChatMessage, MessageRef, NodeRef, ThreadMessage } from '../../functions/core/ports.js';
import { notReadyAlarmEvent } from '../../functions/local/alarm-event.js';
import { CHANNEL, PlaybackRunner, recorded } from './support.js';

const nodes: NodeRef[] = Array.from({ length: 20 }, (_, n) => ({
  instanceId: `i-0abc123def45678${String(n).padStart(2, '0')}`,
  nodeName: `ip-10-0-3-${n}.eu-west-1.compute.internal`,
  cluster: 'prod',
  autoScalingGroup: 'prod-ng',
}));

/** A Slack stand-in at the port: records each call's wall time; refuses the next ones asked. */
class RecordingChat implements Chat {
  readonly calls: {
    at: number;
    kind: 'post' | 'update';
    channel: string;
    threadTs?: string;
    text: string;
  }[] = [];
  readonly messages = new Map<string, string>();
  refuse = 0;
  private ts = 0;
  private check(): void {
    if (this.refuse > 0) {
      this.refuse -= 1;
      throw new DependencyError(
        'SLACK_RATELIMITED',
        'Slack chat.postMessage was rate limited (retry after 1 s)',
        {
          retryable: true,
        },
      );
    }
  }
  async post(channel: string, message: ChatMessage, threadTs?: string): Promise<MessageRef> {
    this.calls.push({
      at: Date.now(),
      kind: 'post',
      channel,
      ...(threadTs ? { threadTs } : {}),
      text: message.text,
    });
    this.check();
    const ts = `1700000000.${String(++this.ts).padStart(6, '0')}`;
    this.messages.set(ts, message.text);
    return { channel, ts };
  }
  async update(ref: MessageRef, message: ChatMessage): Promise<void> {
    this.calls.push({ at: Date.now(), kind: 'update', channel: ref.channel, text: message.text });
    this.check();
    this.messages.set(ref.ts, message.text);
  }
  async postEphemeral(): Promise<void> {}
  async userGroupMembers(): Promise<readonly string[]> {
    return [];
  }
  async replies(): Promise<readonly ThreadMessage[]> {
    return [];
  }
  /** The most calls that landed in one wall second. */
  perSecondMax(): number {
    const seconds = new Map<number, number>();
    for (const c of this.calls)
      seconds.set(Math.floor(c.at / 1000), (seconds.get(Math.floor(c.at / 1000)) ?? 0) + 1);
    return Math.max(0, ...seconds.values());
  }
}

/** The node's diagnosis, as SSM would have run it: the recorded output of `fixture`. */
async function diagnosed(runner: PlaybackRunner, node: NodeRef, fixture: string): Promise<string> {
  runner.queue('diagnose', { stdout: recorded(fixture) });
  const { commandId } = await runner.send({
    node,
    script: 'diagnose',
    parameters: {},
    timeoutSeconds: 60,
    comment: '',
  });
  return commandId;
}

function setup(store = new MemoryIncidentStore()) {
  const chat = new RecordingChat();
  const started: string[] = [];
  const runner = new PlaybackRunner();
  const deps: AppDeps = {
    store,
    runner,
    inventory: new StaticNodeInventory({ nodes }),
    chat,
    workflow: {
      start: async (id) => {
        started.push(id);
        return { executionId: `exec-${id}` };
      },
      resume: async () => {},
      fail: async () => {},
    },
    policy: DEFAULT_SAFETY_POLICY,
    analyzeOptions: { versionPolicy: { minimum: '1.6.0' } },
    channel: CHANNEL,
    onCallUserGroupId: 'S0ONCALL',
    scriptParameters: {},
    clock: () => new Date(),
    logger: { info: () => {}, warn: () => {}, error: () => {} },
  };
  const alarm = (n: number, state: 'ALARM' | 'OK' = 'ALARM') =>
    handleAlarm(
      deps,
      parseAlarmEvent(
        notReadyAlarmEvent({
          alarmName: `nodemedic-prod-${n}`,
          instanceId: nodes[n]!.instanceId,
          nodeName: nodes[n]!.nodeName!,
          cluster: 'prod',
          state,
        }),
      ),
    ) as Promise<{ kind: string; incidentId: string }>;
  return { deps, chat, started, runner, store, alarm };
}

describe('the cluster hold at arrival', () => {
  it('gives the first nodes their cards, holds the rest under one thread, paced, and starts every diagnosis', async () => {
    const { chat, started, store, alarm } = setup();
    chat.refuse = 1; // the first call Slack sees is refused: the card is left to the analysis
    const out = await Promise.all(Array.from({ length: 12 }, (_, n) => alarm(n)));
    expect(out.every((o) => o.kind === 'opened')).toBe(true);
    expect(started).toHaveLength(12);
    const incidents = await Promise.all(out.map((o) => store.get(o.incidentId)));
    const held = incidents.filter((i) => i!.clusterIncident);
    // clusterHoldNodes (5): from the fifth open incident on, the cluster is held.
    expect(held.length).toBeGreaterThanOrEqual(8);
    expect(held.every((i) => i!.card === null && i!.audit.some((a) => a.action === 'cluster-held'))).toBe(
      true,
    );
    const cluster = (await store.getCluster('prod'))!;
    expect(Object.keys(cluster.members)).toHaveLength(held.length);
    expect(cluster.thread).not.toBeNull();
    expect(cluster.renderedRev).toBe(cluster.rev);
    const roots = chat.calls.filter((c) => c.kind === 'post' && !c.threadTs);
    expect(roots.length).toBeLessThanOrEqual(5); // up to 4 node cards, one cluster root
    expect(chat.messages.get(cluster.thread!.ts)).toMatch(new RegExp(`${held.length} nodes held`));
    expect(chat.perSecondMax()).toBe(1);
  }, 60_000);

  it('feeds a held node’s findings into the summary, with no card, findings or buttons of its own', async () => {
    const { chat, store, runner, deps, alarm } = setup();
    const out = [];
    for (let n = 0; n < 6; n++) out.push(await alarm(n));
    const held = (await store.get(out[5]!.incidentId))!;
    expect(held.clusterIncident).toBeTruthy();
    const commandId = await diagnosed(runner, held.node, 'grpc-limits');
    const before = chat.calls.length;
    const result = await analyzeStep(deps, { incidentId: held.id, commandId });
    expect(result).toMatchObject({ held: true, awaitApproval: false, offered: expect.any(Array) });
    const after = (await store.get(held.id))!;
    expect(after).toMatchObject({ card: null, phase: 'closed', offered: [] });
    expect(after.findingsMessage ?? null).toBeNull();
    // Only the root changed: one update.
    const calls = chat.calls.slice(before);
    expect(calls.map((c) => c.kind)).toEqual(['update']);
    expect(calls[0]!.text).toMatch(/1 of \d+ nodes: containerd 1\.6\.x, grpc-limits/);
  }, 60_000);
});

describe('an OK while the cluster is held', () => {
  it('is paced like every other call in the storm’s channel', async () => {
    const { chat, store, alarm } = setup();
    const out = [];
    for (let n = 0; n < 8; n++) out.push(await alarm(n));
    const carded = [];
    for (const o of out) {
      const incident = (await store.get(o.incidentId))!;
      if (incident.card) carded.push(out.indexOf(o));
    }
    expect(carded.length).toBeGreaterThanOrEqual(2);
    expect((await store.getCluster('prod'))?.phase).toBe('open');
    const before = chat.calls.length;
    // The nodes that got their own card recover at once: each OK updates the card and posts the
    // outcome and the timeline, all into the one channel.
    const oks = await Promise.all(carded.map((n) => alarm(n, 'OK')));
    expect(oks.every((o) => o.kind === 'recovered')).toBe(true);
    expect(chat.calls.length - before).toBeGreaterThanOrEqual(2 * carded.length);
    expect(chat.perSecondMax()).toBe(1);
  }, 60_000);
});

describe('nothing lost under the hold', () => {
  /** A store whose next calls of one method fail as a throttled DynamoDB does. */
  function throttling(method: 'countOpen' | 'putClusterMember', times: number): MemoryIncidentStore {
    const store = new MemoryIncidentStore();
    const original = store[method].bind(store) as (...args: unknown[]) => Promise<unknown>;
    let left = times;
    (store as unknown as Record<string, unknown>)[method] = async (...args: unknown[]) => {
      if (left-- > 0 && args[0] === 'prod') {
        throw new DependencyError('STORE_THROTTLED', 'DynamoDB read throttled (injected)', {
          retryable: true,
        });
      }
      return original(...args);
    };
    return store;
  }

  it('starts the diagnosis without a card when the hold cannot be decided, and the analysis decides it', async () => {
    const { started, store, alarm, chat } = setup(throttling('countOpen', 100));
    for (let n = 0; n < 6; n++) await alarm(n);
    expect(started).toHaveLength(6);
    const all = await Promise.all(started.map((id) => store.get(id)));
    expect(all.every((i) => i!.execution && i!.card === null)).toBe(true);
    expect(chat.calls).toHaveLength(0);
  });

  it('starts a held node’s diagnosis when joining the cluster incident fails, and joins it at the analysis', async () => {
    const { started, store, alarm, runner, deps } = setup(throttling('putClusterMember', 1));
    const out = [];
    for (let n = 0; n < 5; n++) out.push(await alarm(n));
    const fifth = (await store.get(out[4]!.incidentId))!;
    expect(started).toContain(fifth.id);
    expect(fifth).toMatchObject({ card: null });
    expect(fifth.clusterIncident ?? null).toBeNull();
    // The sixth joins (and opens) the cluster incident; the fifth's analysis then joins it.
    await alarm(5);
    await analyzeStep(deps, {
      incidentId: fifth.id,
      commandId: await diagnosed(runner, fifth.node, 'daemon-stopped'),
    });
    const cluster = (await store.getCluster('prod'))!;
    expect(cluster.members[fifth.node.instanceId]).toMatchObject({
      incidentId: fifth.id,
      causes: ['containerd-down'],
    });
    expect((await store.get(fifth.id))!.card).toBeNull();
  }, 60_000);

  it('rejoins a flapping held node to its entry in the cluster incident', async () => {
    const { store, alarm } = setup();
    for (let n = 0; n < 6; n++) await alarm(n);
    const before = (await store.getCluster('prod'))!;
    const first = before.members[nodes[5]!.instanceId]!;
    expect(await alarm(5, 'OK')).toMatchObject({ kind: 'recovered' });
    const again = await alarm(5);
    expect(again.kind).toBe('opened');
    const cluster = (await store.getCluster('prod'))!;
    // The same entry, now naming the new incident: the node is not counted twice.
    expect(Object.keys(cluster.members)).toEqual(Object.keys(before.members));
    expect(cluster.members[nodes[5]!.instanceId]).toMatchObject({ incidentId: again.incidentId });
    expect(again.incidentId).not.toBe(first.incidentId);
  }, 60_000);
});

describe('pacedChat', () => {
  it('lets one call per second into a channel across separate callers sharing only the store', async () => {
    const store = new MemoryIncidentStore();
    const chat = new RecordingChat();
    const lambdas = Array.from({ length: 4 }, () => pacedChat({ chat, store, clock: () => new Date() }));
    await Promise.all(lambdas.map((c, n) => c.post(CHANNEL, { text: `m${n}`, blocks: [] })));
    // Another channel has its own rate.
    await pacedChat({ chat, store, clock: () => new Date() }).post('C0OTHER', { text: 'x', blocks: [] });
    const seconds = chat.calls.filter((c) => c.channel === CHANNEL).map((c) => Math.floor(c.at / 1000));
    expect(new Set(seconds).size).toBe(4);
    expect(chat.perSecondMax()).toBeLessThanOrEqual(2);
  }, 30_000);
});
