/**
 * The CLI's remote path (`diagnose --instance`, `fix --instance`) end to end against a real node of
 * the lab under real systemd (issue 13): the same commands a laptop runs, with a runner that carries
 * the script into the node in place of SSM's transport. The transcript is printed for the record.
 */
import { beforeAll, expect, it } from 'vitest';
import { diagnoseCommand } from '../../functions/cli/diagnose.js';
import { fixCommand } from '../../functions/cli/fix.js';
import type { LabNode } from '../../functions/local/lab/node.js';
import { LabCommandRunner } from '../../functions/local/lab/runner.js';
import { describeWithLab, labNodes } from '../support/lab.js';

const INSTANCE = 'i-0abc123def4567890';

function capture() {
  const out: string[] = [];
  return {
    io: { stdout: (s: string) => out.push(s), stderr: (s: string) => out.push(s) },
    text: () => out.join(''),
  };
}

describeWithLab('the CLI from a laptop, against a lab node (trixie, containerd 1.7)', () => {
  const nodes = labNodes();
  let node: LabNode;
  let remote: { runner: LabCommandRunner; label: string };
  const fast = { sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, Math.min(ms, 200))) };

  beforeAll(async () => {
    node = await nodes.start('trixie');
    remote = { runner: new LabCommandRunner(node), label: `on the lab node ${node.name} (in place of SSM)` };
  }, 120_000);

  it('diagnoses a stopped containerd as containerd-down (exit 1), then fixes it with the recheck and the verification (exit 0)', async () => {
    await node.must(['systemctl', 'stop', 'containerd']);

    const diagnosis = capture();
    const found = await diagnoseCommand(['--instance', INSTANCE], diagnosis.io, { ...fast, remote });
    process.stdout.write(`\n$ nodemedic diagnose --instance ${INSTANCE}\n${diagnosis.text()}`);
    expect(found).toBe(1);
    expect(diagnosis.text()).toContain('containerd-down');
    expect(diagnosis.text()).toContain(`on the lab node ${node.name}`);

    const fix = capture();
    const fixed = await fixCommand(
      ['--instance', INSTANCE, '--remediation', 'restart-containerd', '--yes'],
      fix.io,
      { ...fast, remote },
    );
    process.stdout.write(
      `\n$ nodemedic fix --instance ${INSTANCE} --remediation restart-containerd --yes\n${fix.text()}`,
    );
    expect(fixed).toBe(0);
    expect(fix.text()).toContain('Authorization: your AWS credentials (IAM)');
    expect(fix.text()).toContain('fix: success');
    expect(fix.text()).toContain('verify: recovered');
    expect((await node.must(['systemctl', 'is-active', 'containerd'])).trim()).toBe('active');

    const after = capture();
    expect(await diagnoseCommand(['--instance', INSTANCE], after.io, { ...fast, remote })).toBe(0);
  }, 180_000);
});
