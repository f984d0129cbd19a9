/**
 * The node lab's costs on this machine, per suite: warm boot (lab.sh start until systemd runs and
 * containerd answers, sandbox image imported), diagnose.sh inside the node as SSM runs it, and stop
 * (poweroff and cleanup). Prints min / median / max over N runs; the images must be built already
 * (bash scripts/setup.sh --lab); no assertion, figures only.
 *
 *   npx tsx bench/lab.ts          # 3 runs per suite
 *   npx tsx bench/lab.ts 5
 */
import { LAB_SUITES, LabNode, labUnavailable } from '../functions/local/lab/node.js';

const runs = Number(process.argv[2] ?? 3);
if (!Number.isInteger(runs) || runs < 1) {
  console.error(`bench:lab: runs must be a positive integer, got ${process.argv[2]}`);
  process.exit(2);
}
const why = labUnavailable();
if (why) {
  console.error(`bench:lab: ${why}`);
  process.exit(2);
}

function figures(ms: number[]): string {
  const sorted = [...ms].sort((a, b) => a - b);
  const f = (v: number | undefined) => `${((v ?? 0) / 1000).toFixed(2)} s`;
  return `min ${f(sorted[0])}  median ${f(sorted[Math.floor(sorted.length / 2)])}  max ${f(sorted.at(-1))}`;
}

for (const suite of LAB_SUITES) {
  const boot: number[] = [];
  const diagnose: number[] = [];
  const stop: number[] = [];
  let version = '';
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const node = await LabNode.start(suite);
    boot.push(performance.now() - t0);
    version = node.containerdVersion;
    try {
      const t1 = performance.now();
      const r = await node.runScript('diagnose');
      if (r.code !== 0) throw new Error(`diagnose.sh exited ${r.code}: ${r.stderr}`);
      diagnose.push(performance.now() - t1);
    } finally {
      const t2 = performance.now();
      await node.stop();
      stop.push(performance.now() - t2);
    }
  }
  console.log(`${suite} (containerd ${version}), ${runs} runs`);
  console.log(`  warm boot  ${figures(boot)}`);
  console.log(`  diagnose   ${figures(diagnose)}`);
  console.log(`  stop       ${figures(stop)}`);
}
