/**
 * A small node-group storm through the real alarm function (and the analysis of each node it
 * started), with Slack answering 429s and DynamoDB throttling: one cluster thread, no card per
 * node, at most one Slack call per second in the channel, and no NotReady node lost. Figures for
 * the full storm are `npm run -s bench:storm`'s; nothing here is timed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StormRig } from '../support/storm.js';

let rig: StormRig;
beforeAll(async () => {
  rig = await StormRig.start();
});
afterAll(() => rig.close());

describe('a node-group storm', () => {
  it('is one cluster incident and one thread, within the channel’s rate, with nothing lost', async () => {
    const result = await rig.run({
      nodes: 40,
      notReady: 30,
      events: 60,
      flaps: 4,
      windowMs: 3_000,
      slack429Rate: 0.2,
      dynamoThrottleRate: 0.03,
      retryDelayMs: 300,
      analyze: true,
      seed: 7,
    });
    // The first nodes (below clusterHoldNodes) get their own card; every later one is held.
    expect(result.clusterIncidents).toBe(1);
    expect(result.clusterThreads).toBe(1);
    expect(result.threadsPosted).toBeLessThanOrEqual(5);
    expect(result.held).toBeGreaterThanOrEqual(25);
    expect(result.perSecondMax).toBeLessThanOrEqual(1);
    expect(result.lost).toBe(0);
    expect(result.neverStarted).toBe(0);
    expect(result.deadLettered).toBe(0);
    // The summary caught up with every member, and says the common cause once.
    const cluster = result.cluster!;
    expect(cluster.renderedRev).toBe(cluster.rev);
    expect(Object.keys(cluster.members).length).toBeGreaterThanOrEqual(25);
    expect(result.summaryText).toMatch(
      /^Cluster prod: \d+ of \d+ nodes: containerd 2\.1\.x, cri-config-error/,
    );
    // The faults really happened.
    expect(result.slack429).toBeGreaterThan(0);
    expect(result.thrown).toBeGreaterThan(0);
  }, 120_000);
});
