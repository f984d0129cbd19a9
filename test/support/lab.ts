/**
 * Gate for tests that need the node lab (root, systemd-nspawn, mmdebstrap: scripts/setup.sh --lab).
 * Locally, without it, such a suite is skipped; under CI (`CI=true`) a missing lab fails the run
 * instead, so a CI machine without it can never pass by skipping.
 */
import { afterAll, describe } from 'vitest';
import { LabNode, type LabSuite, labUnavailable } from '../../functions/local/lab/node.js';

/** True when the lab can run here; throws under CI when it cannot. */
function requireLab(): boolean {
  const why = labUnavailable();
  if (why === null) return true;
  if (process.env.CI === 'true') throw new Error(`the node lab is required under CI=true: ${why}`);
  return false;
}

/** `describe` that runs only where the lab can (and fails under CI where it cannot). */
export const describeWithLab = describe.skipIf(!requireLab());

/**
 * Nodes a test file starts, all stopped in afterAll whatever the tests did (the harness also stops
 * them at process exit). Call inside a describe.
 */
export function labNodes(): { start(suite: LabSuite): Promise<LabNode> } {
  const started: LabNode[] = [];
  afterAll(async () => {
    await Promise.allSettled(started.splice(0).map((n) => n.stop()));
  });
  return {
    async start(suite) {
      const node = await LabNode.start(suite);
      started.push(node);
      return node;
    },
  };
}
