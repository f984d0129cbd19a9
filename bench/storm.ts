/**
 * The storm benchmark (issue 10.7): 500 contributor events of one Metrics Insights alarm — 250 of
 * 300 nodes NotReady with EC2 status checks OK (a bad containerd rollout), duplicates and flaps
 * included — replayed through the real alarm function (functions/handlers/alarm.ts), with Slack
 * answering a share of calls 429 and DynamoDB throttling a share of calls, then each started
 * execution's analysis (the real analyze function) so the summary fills with causes.
 *
 * Why the real handler and aws-sdk-client-mock (test/support/storm.ts): the handler's own wiring,
 * the DynamoDB store's real conditional writes and the WebClient's own 429 handling are what a
 * storm exercises; only AWS's answers and Slack are stood in for. "One minute" of events is
 * replayed over a shorter real window (default 10 s, 6x denser than the minute), which is
 * harsher on the per-second bound, not kinder.
 *
 * Prints, per run and over the runs (min / median / max): incidents opened, threads posted, Slack
 * calls per second per channel (max and median over the seconds with any), holds, lost events,
 * and throughput (events handled per second of the alarm phase). No assertion: figures only; the
 * storm test (test/handlers/storm.test.ts) asserts the bounds on a smaller storm.
 *
 *   npm run -s bench:storm                 # 3 runs
 *   npm run -s bench:storm -- 5            # 5 runs
 *   npm run -s bench:storm -- 3 --window 60000 --no-analyze
 */
import { parseArgs } from 'node:util';
import { median, type StormResult, StormRig } from '../test/support/storm.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    window: { type: 'string', default: '10000' },
    'no-analyze': { type: 'boolean', default: false },
    'slack-429': { type: 'string', default: '0.1' },
    'dynamo-throttle': { type: 'string', default: '0.01' },
    seed: { type: 'string', default: '1' },
  },
});
const runs = Number(positionals[0] ?? 3);
const windowMs = Number(values.window);
const slack429Rate = Number(values['slack-429']);
const dynamoThrottleRate = Number(values['dynamo-throttle']);
for (const [name, value, ok] of [
  ['runs', runs, Number.isInteger(runs) && runs >= 1],
  ['--window', windowMs, Number.isFinite(windowMs) && windowMs >= 1000],
  ['--slack-429', slack429Rate, slack429Rate >= 0 && slack429Rate < 1],
  ['--dynamo-throttle', dynamoThrottleRate, dynamoThrottleRate >= 0 && dynamoThrottleRate < 1],
] as const) {
  if (!ok) {
    console.error(`bench:storm: ${name} is out of range: ${value}`);
    process.exit(2);
  }
}

const rig = await StormRig.start();
const results: StormResult[] = [];
try {
  for (let run = 1; run <= runs; run++) {
    const r = await rig.run({
      nodes: 300,
      notReady: 250,
      events: 500,
      flaps: 25,
      windowMs,
      slack429Rate,
      dynamoThrottleRate,
      retryDelayMs: 1_000,
      analyze: !values['no-analyze'],
      seed: Number(values.seed) + run - 1,
    });
    results.push(r);
    const members = Object.keys(r.cluster?.members ?? {}).length;
    console.log(
      `run ${run}: ${r.events} events, ${r.deliveries} deliveries (${r.thrown} thrown, ${r.deadLettered} dead-lettered); ` +
        `${r.incidentsOpened} incidents, ${r.held} held, ${members} in the cluster incident; ` +
        `threads posted ${r.threadsPosted} (cluster threads ${r.clusterThreads}); ` +
        `Slack calls ${r.slackCalls} (${r.slack429} answered 429), per second per channel max ${r.perSecondMax} median ${r.perSecondMedian}; ` +
        `lost ${r.lost}, never started ${r.neverStarted}; summary ${r.cluster && r.cluster.renderedRev === r.cluster.rev ? 'current' : 'BEHIND'}; ` +
        `throughput ${r.throughput.toFixed(1)} events/s`,
    );
    if (run === 1) console.log(`  summary: ${r.summaryText ?? '(none)'}`);
    if (r.perSecondMax > 1) {
      const calls = r.busiest.map(
        (c) => `${c.method}${c.root ? ' (root)' : ''} ${c.status} at ${c.at % 1000} ms`,
      );
      console.log(`  busiest second: ${calls.join(', ')}`);
    }
  }
} finally {
  await rig.close();
}

const stat = (name: string, pick: (r: StormResult) => number, digits = 0) => {
  const v = results.map(pick);
  console.log(
    `${name.padEnd(38)} min ${Math.min(...v).toFixed(digits)}  median ${median(v).toFixed(digits)}  max ${Math.max(...v).toFixed(digits)}`,
  );
};
console.log(
  `\nover ${runs} runs (500 events, 250 of 300 nodes, window ${windowMs} ms, Slack 429 ${slack429Rate}, DynamoDB throttle ${dynamoThrottleRate}):`,
);
stat('incidents opened', (r) => r.incidentsOpened);
stat('threads posted (node cards + cluster)', (r) => r.threadsPosted);
stat('cluster threads', (r) => r.clusterThreads);
stat('holds (node incidents held)', (r) => r.held);
stat('Slack calls per second per channel, max', (r) => r.perSecondMax);
stat('Slack calls per second per channel, med', (r) => r.perSecondMedian, 1);
stat('Slack calls in all', (r) => r.slackCalls);
stat('lost events', (r) => r.lost);
stat('executions never started', (r) => r.neverStarted);
stat('throughput, events/s', (r) => r.throughput, 1);
