/**
 * Records REAL outputs of functions/scripts/diagnose.sh, one per fault, against a throwaway
 * containerd (functions/local/sandbox), into test/fixtures/facts/recorded/<fault>.json. The
 * analyzer's unit tests read them, so they are the script's exact stdout, not hand-written.
 *
 *   npx tsx bench/record-fixtures.ts              # every fault plus healthy
 *   npx tsx bench/record-fixtures.ts grpc-limits  # some
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ShellCommandRunner } from '../functions/adapters/local/shell-runner.js';
import type { NodeRef } from '../functions/core/ports.js';
import { ContainerdSandbox, containerdInstalled } from '../functions/local/sandbox/containerd.js';
import { FAULTS, type FaultId } from '../functions/local/sandbox/faults.js';

const OUT = join(import.meta.dirname, '..', 'test', 'fixtures', 'facts', 'recorded');
const NODE: NodeRef = {
  instanceId: 'local-record',
  nodeName: null,
  cluster: 'local',
  autoScalingGroup: null,
};
type Case = FaultId | 'healthy';
const ALL: Case[] = ['healthy', ...(Object.keys(FAULTS) as FaultId[])];

if (!containerdInstalled()) {
  console.error('record-fixtures: containerd, ctr and prlimit are required (apt-get install containerd)');
  process.exit(2);
}
const wanted = process.argv.slice(2) as Case[];
for (const c of wanted) {
  if (!ALL.includes(c)) {
    console.error(`record-fixtures: unknown case ${JSON.stringify(c)} (cases: ${ALL.join(', ')})`);
    process.exit(2);
  }
}
mkdirSync(OUT, { recursive: true });
for (const c of wanted.length > 0 ? wanted : ALL) {
  const sb = await ContainerdSandbox.start();
  try {
    if (c !== 'healthy') await FAULTS[c].inject(sb);
    const runner = new ShellCommandRunner({ env: sb.env() });
    const { commandId } = await runner.send({
      node: NODE,
      script: 'diagnose',
      parameters: sb.params(),
      timeoutSeconds: 60,
      comment: `record ${c}`,
    });
    const inv = await runner.wait(commandId, NODE);
    if (inv.status !== 'success') throw new Error(`${c}: script ${inv.status}: ${inv.stderr}`);
    JSON.parse(inv.stdout); // refuse to record anything that is not one JSON document
    writeFileSync(join(OUT, `${c}.json`), inv.stdout);
    console.log(`${c}: ${inv.stdout.trim().length} chars -> recorded/${c}.json`);
  } finally {
    await sb.dispose();
  }
}
