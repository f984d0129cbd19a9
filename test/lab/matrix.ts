/**
 * The fault matrix as a test suite for one lab suite: a fresh node per fault, the fault injected
 * for real, diagnose.sh run inside the node and analyzed by the real core, the row judged against
 * the fault's expectation. The table (version × fault → cause named, confidence, time) is printed
 * when the suite ends, whatever the verdicts.
 */
import { afterAll, expect, it } from 'vitest';
import { faultsFor, type MatrixRow, matrixTable, runRow } from '../../functions/local/lab/matrix.js';
import type { LabSuite } from '../../functions/local/lab/node.js';
import { describeWithLab } from '../support/lab.js';

/** A row boots, injects, diagnoses and stops a node: seconds, or a minute for a cold image build. */
const ROW_TIMEOUT_MS = 300_000;

/** Define the matrix tests of `suite` (one test file per suite, so vitest runs them side by side). */
export function defineMatrix(suite: LabSuite): void {
  describeWithLab(`fault matrix on ${suite}, under real systemd`, () => {
    const rows: MatrixRow[] = [];
    afterAll(() => {
      if (rows.length) console.log(`\n${matrixTable(rows)}\n`);
    });
    for (const fault of faultsFor(suite)) {
      it(`${fault.id} → ${fault.expect.cause}`, { timeout: ROW_TIMEOUT_MS }, async () => {
        const row = await runRow(suite, fault);
        rows.push(row);
        // First: the fault really happened on the node (a raw signal, not the diagnosis).
        expect(row.injected, row.signal).toBe(true);
        expect(row.report, 'no report').not.toBeNull();
        expect(row.problems, `${fault.id} on ${row.containerd}: ${row.signal}`).toEqual([]);
      });
    }
  });
}
