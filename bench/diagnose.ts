/**
 * Wall time of functions/scripts/diagnose.sh against a real containerd: healthy, and wedged (the
 * daemon at its fd limit with connections held, where every ctr call has to hit its bound).
 * Prints median and max over N runs per case; no assertion, figures only.
 *
 *   npm run -s bench:diagnose          # 5 runs each
 *   npm run -s bench:diagnose -- 10
 */
import { ShellCommandRunner } from '../functions/adapters/local/shell-runner.js';
import type { NodeRef } from '../functions/core/ports.js';
import { ContainerdSandbox, containerdInstalled } from '../functions/local/sandbox/containerd.js';
import { FAULTS } from '../functions/local/sandbox/faults.js';

const NODE: NodeRef = { instanceId: 'local-bench', nodeName: null, cluster: 'local', autoScalingGroup: null };
const runs = Number(process.argv[2] ?? 5);
if (!Number.isInteger(runs) || runs < 1) {
  console.error(`bench:diagnose: runs must be a positive integer, got ${process.argv[2]}`);
  process.exit(2);
}
if (!containerdInstalled()) {
  console.error('bench:diagnose: containerd, ctr and prlimit are required');
  process.exit(2);
}

async function measure(sb: ContainerdSandbox): Promise<{ ms: number; chars: number }> {
  const runner = new ShellCommandRunner({ env: sb.env() });
  const t0 = performance.now();
  const { commandId } = await runner.send({
    node: NODE,
    script: 'diagnose',
    parameters: sb.params(),
    timeoutSeconds: 120,
    comment: 'bench',
  });
  const inv = await runner.wait(commandId, NODE);
  const ms = performance.now() - t0;
  if (inv.status !== 'success') throw new Error(`script ${inv.status}: ${inv.stderr}`);
  return { ms, chars: inv.stdout.trim().length };
}

function summary(name: string, samples: { ms: number; chars: number }[]): string {
  const ms = samples.map((s) => s.ms).sort((a, b) => a - b);
  const median = ms[Math.floor(ms.length / 2)] ?? 0;
  const max = ms.at(-1) ?? 0;
  return `${name.padEnd(8)} runs=${ms.length} median=${(median / 1000).toFixed(2)}s max=${(max / 1000).toFixed(2)}s output=${samples[0]?.chars} chars`;
}

const cases: [string, ((sb: ContainerdSandbox) => Promise<void>) | null][] = [
  ['healthy', null],
  ['wedged', FAULTS['fd-exhaustion'].inject],
];
const lines: string[] = [];
for (const [name, inject] of cases) {
  const sb = await ContainerdSandbox.start();
  try {
    if (inject) await inject(sb);
    const samples = [];
    for (let i = 0; i < runs; i++) samples.push(await measure(sb));
    lines.push(summary(name, samples));
  } finally {
    await sb.dispose();
  }
}
console.log(`diagnose.sh wall time (containerd sandbox, ${runs} runs each):\n${lines.join('\n')}`);
