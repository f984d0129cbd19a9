/**
 * The sweep of a cluster-only alarm against N real local containerd nodes (sandboxes), with real
 * faults injected into some: through the real alarm use case (handleAlarm), the real quick probe
 * (diagnose.sh at depth quick, the bytes the SSM document carries) run by the local sweeper under
 * SSM-style rate limits, and the Slack stand-in over HTTP. It must find exactly the faulty nodes.
 * Under CI=true a missing containerd fails the suite instead of skipping it.
 */
import { readFileSync } from 'node:fs';
import { WebClient } from '@slack/web-api';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MemoryIncidentStore } from '../../functions/adapters/local/memory-store.js';
import { LocalNodeReadiness } from '../../functions/adapters/local/sandbox-readiness.js';
import { LocalClusterSweeper } from '../../functions/adapters/local/sandbox-sweep.js';
import { StaticNodeInventory } from '../../functions/adapters/local/static-inventory.js';
import { WebApiChat } from '../../functions/adapters/slack/web-chat.js';
import type { AppDeps } from '../../functions/app/deps.js';
import { handleAlarm } from '../../functions/app/incidents.js';
import { parseAlarmEvent } from '../../functions/core/alarm.js';
import { DEFAULT_SAFETY_POLICY } from '../../functions/core/policy.js';
import type { ClusterSweeper, NodeRef } from '../../functions/core/ports.js';
import { classifyProbe } from '../../functions/core/sweep.js';
import { ContainerdSandbox, installedContainerd } from '../../functions/local/sandbox/containerd.js';
import { FAULTS, type FaultId } from '../../functions/local/sandbox/faults.js';
import { SlackStandIn } from '../../functions/local/slack-standin/server.js';
import { describeWithContainerd } from '../support/containerd.js';

const CHANNEL = 'C0ALERTS';
/** Six nodes of cluster prod; three get a fault. */
const PLAN: readonly (FaultId | null)[] = [
  null,
  'daemon-stopped',
  null,
  'socket-removed',
  'fd-exhaustion',
  null,
];

describeWithContainerd('a cluster-only alarm sweeps real local containerd nodes', () => {
  const sandboxes: ContainerdSandbox[] = [];
  let standIn: SlackStandIn;
  let nodes: NodeRef[];

  beforeAll(async () => {
    standIn = await SlackStandIn.start({ botToken: 'xoxb-test', signingSecret: 'secret', userGroups: {} });
    sandboxes.push(...(await Promise.all(PLAN.map(() => ContainerdSandbox.start()))));
    nodes = sandboxes.map((_, k) => ({
      instanceId: `i-0de30c0ffee00000${k}`,
      nodeName: `ip-10-0-9-${k}.ec2.internal`,
      cluster: 'prod',
      autoScalingGroup: null,
    }));
    for (const [k, fault] of PLAN.entries()) if (fault) await FAULTS[fault].inject(sandboxes[k]!);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(sandboxes.map((sb) => sb.dispose()));
    await standIn?.close();
  });

  it('opens an incident for exactly the faulty nodes, each with its cause, and posts one summary', async () => {
    const installed = installedContainerd()!.release;
    const local = new LocalClusterSweeper({
      nodes: sandboxes.map((sb, k) => ({ node: nodes[k]!, env: sb.env() })),
    });
    const sweeps: string[] = [];
    const sweeper: ClusterSweeper = {
      start: async (cluster, options) => {
        const started = await local.start(cluster, options);
        sweeps.push(started.commandId);
        return started;
      },
      results: (commandId) => local.results(commandId),
    };
    const { deps, started } = localDeps(nodes, standIn, { sweeper });

    const t0 = performance.now();
    const event = JSON.parse(
      readFileSync(new URL('../fixtures/alarms/cluster-only.json', import.meta.url), 'utf8'),
    );
    const outcome = await handleAlarm(deps, parseAlarmEvent(event));
    const wallMs = performance.now() - t0;

    const faulty = PLAN.flatMap((fault, k) => (fault ? [nodes[k]!.instanceId] : []));
    expect(outcome).toMatchObject({
      kind: 'cluster-checked',
      source: 'sweep',
      headline: '6 nodes probed, 3 healthy, 3 with findings',
    });
    const opened = (outcome as Extract<typeof outcome, { kind: 'cluster-checked' }>).nodes;
    expect(opened.map((n) => n.instanceId).sort()).toEqual(faulty.sort());
    expect(opened.every((n) => n.kind === 'opened')).toBe(true);
    expect(started).toHaveLength(3);

    // Each faulty node's probe names the cause its fault must produce; the healthy ones none.
    expect(sweeps).toHaveLength(1);
    const results = await local.results(sweeps[0]!);
    for (const [k, fault] of PLAN.entries()) {
      const result = results.nodes.find((r) => r.instanceId === nodes[k]!.instanceId)!;
      const verdict = classifyProbe(result, deps.analyzeOptions);
      if (fault)
        expect(verdict).toMatchObject({
          kind: 'findings',
          causes: expect.arrayContaining([FAULTS[fault].expectedCause]),
        });
      else expect(verdict).toEqual({ kind: 'healthy' });
      const facts = JSON.parse(result.output);
      expect(facts.script.deadlineMs).toBe(15_000);
      // Images are read only when the daemon answers: a faulty node's may say why not instead.
      for (const section of fault ? ['logs', 'processes'] : ['logs', 'images', 'processes']) {
        expect(facts[section], section).toMatchObject({
          status: 'unknown',
          reason: expect.stringMatching(/^not run: quick probe/),
        });
      }
      expect(facts.script.unfinished).toEqual([]);
    }

    // The sweep's own message (3 of 6 NotReady also holds the cluster: its thread's root is the
    // other "Cluster prod: " message).
    const summary = standIn
      .messages(CHANNEL)
      .filter((m) => m.text.startsWith('Cluster prod: ') && m.text.includes(' nodes probed, '));
    expect(summary).toHaveLength(1);
    expect(summary[0]!.text).toContain('6 nodes probed, 3 healthy, 3 with findings: ');
    expect(summary[0]!.text).toContain(`${nodes[1]!.instanceId} (containerd-down)`);
    const elapsed = results.nodes.map((r) => JSON.parse(r.output).script.elapsedMs as number);
    console.log(
      `sweep figures: ${PLAN.length} local containerd ${installed} nodes, ${faulty.length} faulty, ` +
        `alarm to summary ${Math.round(wallMs)} ms; quick probe per node min ${Math.min(...elapsed)} / ` +
        `median ${median(elapsed)} / max ${Math.max(...elapsed)} ms (MaxConcurrency 20% = 2 at a time)`,
    );
  }, 120_000);

  it('takes the NotReady nodes from the local per-node readiness when there is one, without a sweep', async () => {
    const readiness = new LocalNodeReadiness(
      sandboxes.map((sb, k) => ({ node: nodes[k]!, ready: () => sb.answers() })),
    );
    const { deps } = localDeps(nodes, standIn, { readiness });
    const event = JSON.parse(
      readFileSync(new URL('../fixtures/alarms/cluster-only.json', import.meta.url), 'utf8'),
    );
    event.detail.state.timestamp = '2026-11-27T04:00:00.000+0000';
    const outcome = await handleAlarm(deps, parseAlarmEvent(event));
    expect(outcome).toMatchObject({ kind: 'cluster-checked', source: 'readiness' });
    const opened = (outcome as Extract<typeof outcome, { kind: 'cluster-checked' }>).nodes.map(
      (n) => n.instanceId,
    );
    const faulty = PLAN.flatMap((fault, k) => (fault ? [nodes[k]!.instanceId] : []));
    // A stopped daemon and a removed socket never answer; a healthy node always does.
    expect(opened).toEqual(expect.arrayContaining([nodes[1]!.instanceId, nodes[3]!.instanceId]));
    expect(faulty).toEqual(expect.arrayContaining(opened));
  }, 60_000);
});

/** The alarm use case's deps over the local nodes: memory store, static inventory, the stand-in. */
function localDeps(
  nodes: NodeRef[],
  standIn: SlackStandIn,
  ports: Pick<AppDeps, 'sweeper' | 'readiness'>,
): { deps: AppDeps; started: string[] } {
  const installed = installedContainerd()!.release;
  const started: string[] = [];
  const deps: AppDeps = {
    store: new MemoryIncidentStore(),
    runner: { send: unused, get: unused, cancel: unused },
    inventory: new StaticNodeInventory({ nodes }),
    chat: new WebApiChat(
      new WebClient('xoxb-test', { slackApiUrl: standIn.apiUrl, retryConfig: { retries: 0 } }),
    ),
    workflow: {
      start: async (incidentId) => {
        started.push(incidentId);
        return { executionId: `exec-${started.length}` };
      },
      resume: unused,
      fail: unused,
    },
    ...ports,
    policy: DEFAULT_SAFETY_POLICY,
    analyzeOptions: { versionPolicy: { minimum: installed } },
    channel: CHANNEL,
    onCallUserGroupId: null,
    scriptParameters: {},
    clock: () => new Date(),
    logger: { info: () => {}, warn: () => {}, error: () => {} },
  };

  return { deps, started };
}

function unused(): never {
  throw new Error('not used by a cluster-only alarm');
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}
