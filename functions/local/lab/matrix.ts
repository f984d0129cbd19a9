/**
 * The fault matrix on lab nodes: for one suite and one fault, boot a fresh node, inject the fault
 * for real, run diagnose.sh inside the node as SSM would (root, bash, the document's bytes), and
 * read its stdout with the real core (`parseFacts` + `analyze`). {@link judge} says what is wrong
 * with the report against the fault's expectation; {@link matrixTable} prints version × fault →
 * cause named, confidence, time.
 *
 * Run by hand: `npx tsx functions/local/lab/matrix.ts [SUITE...]` (root, after scripts/setup.sh --lab).
 */
import { analyze, parseFacts } from '../../core/analyze.js';
import type { Report } from '../../core/model.js';
import { REMEDIATION_LIST } from '../../core/remediations/index.js';
import { LAB_FAULTS, type LabFault } from './faults.js';
import { LAB_SUITES, LabNode, type LabSuite } from './node.js';

/** What diagnose.sh may print at most (SSM returns 24,000 characters; the script aims below 19,000). */
const OUTPUT_LIMIT = 20_000;

/** One row of the matrix. */
export interface MatrixRow {
  readonly suite: LabSuite;
  readonly containerd: string;
  readonly fault: string;
  /** The raw signal that proves the fault took, or why it could not be injected. */
  readonly signal: string;
  readonly injected: boolean;
  readonly report: Report | null;
  /** The expected cause when named, else the top finding (or `healthy` / `none`). */
  readonly named: string;
  readonly confidence: string;
  /** What the report gets wrong against the expectation (empty: the row passes). */
  readonly problems: readonly string[];
  /**
   * The fix run on the node for a row diagnosed right, and whether a second diagnosis still names
   * the cause: `restart-containerd: fixed (2.1 s)`, `…: NOT fixed (…)`, or `-` when no node fix fits.
   */
  readonly fix: string;
  /** Wall time of the diagnosis alone (script run + analyze), in ms. */
  readonly diagnoseMs: number;
  /** Wall time of the whole row (boot, inject, diagnose, stop), in ms. */
  readonly rowMs: number;
}

/** Whatever in `report` contradicts `fault.expect`. */
function judge(report: Report, fault: LabFault): string[] {
  const e = fault.expect;
  const causes = report.findings.map((f) => f.cause as string);
  const problems: string[] = [];
  if (e.cause === 'healthy') {
    const critical = report.findings.filter((f) => f.severity === 'critical').map((f) => f.cause);
    if (critical.length) problems.push(`critical finding(s) ${critical.join(', ')} where none was expected`);
    const extra = e.only ? causes.filter((c) => !e.only?.includes(c)) : [];
    if (extra.length) problems.push(`finding(s) ${extra.join(', ')} on a healthy node`);
  } else if (!causes.includes(e.cause)) {
    problems.push(`expected ${e.cause}, got ${causes.join(', ') || 'no finding'}`);
  }
  for (const never of e.never ?? []) {
    if (causes.includes(never)) problems.push(`named ${never}, which this fault must never be called`);
  }
  const offered = new Set(report.findings.flatMap((f) => f.remediations as readonly string[]));
  for (const fix of e.neverOffer ?? []) {
    if (offered.has(fix)) problems.push(`offered ${fix}`);
  }
  if (e.note && !report.notes.some((n) => new RegExp(e.note as string, 'i').test(n))) {
    problems.push(`no note matching /${e.note}/i among: ${report.notes.join(' | ') || 'no notes'}`);
  }
  return problems;
}

/**
 * Node fixes the matrix does not run: upgrade-containerd needs a pinned package and a mirror,
 * cordon-drain and restart-kubelet a kubelet, collect-goroutine-dump only collects.
 */
const NOT_RUN = new Set(['upgrade-containerd', 'cordon-drain', 'restart-kubelet', 'collect-goroutine-dump']);
/** Parameters for a fix on this machine: open-file targets must stay under its 20000 hard ceiling. */
const FIX_PARAMETERS: Record<string, Record<string, string>> = { 'raise-nofile': { nofile: '16384' } };
const NODE_FIXES = new Set(REMEDIATION_LIST.filter((r) => r.runsOn === 'node').map((r) => r.id as string));

/** The first remediation of the expected finding that runs on the node and that the matrix runs. */
function nodeFix(report: Report, cause: string): string | null {
  const finding = report.findings.find((f) => f.cause === cause);
  return finding?.remediations.find((r) => NODE_FIXES.has(r) && !NOT_RUN.has(r)) ?? null;
}

/** The faults that apply to a suite. */
export function faultsFor(suite: LabSuite): LabFault[] {
  return LAB_FAULTS.filter((f) => !f.suites || f.suites.includes(suite));
}

/**
 * Boot a node of `suite`, inject `fault`, diagnose, judge, stop. A fault that cannot be injected
 * returns a row with `injected: false` and the reason as its signal (the caller fails on it).
 */
export async function runRow(suite: LabSuite, fault: LabFault): Promise<MatrixRow> {
  const t0 = performance.now();
  const node = await LabNode.start(suite);
  let signal = '';
  let injected = false;
  let report: Report | null = null;
  let diagnoseMs = 0;
  let fix = '-';
  const problems: string[] = [];
  try {
    let release: (() => void) | undefined;
    try {
      const done = await fault.inject(node);
      release = done.release;
      signal = done.signal;
      injected = true;
      const d0 = performance.now();
      const r = await node.runScript('diagnose', {}, { prefix: done.prefix });
      if (r.code !== 0) problems.push(`diagnose.sh exited ${r.code}: ${r.stderr.trim().slice(0, 300)}`);
      // The script's contract whatever the fault: one JSON line, well under SSM's 24,000 characters.
      if (r.stdout.trim().split('\n').length !== 1) problems.push('diagnose.sh printed more than one line');
      if (r.stdout.length >= OUTPUT_LIMIT) problems.push(`diagnose.sh printed ${r.stdout.length} characters`);
      const versionPolicy = done.minVersion ? { minimum: done.minVersion } : undefined;
      report = analyze(parseFacts(r.stdout), versionPolicy ? { versionPolicy } : undefined);
      diagnoseMs = Math.round(performance.now() - d0);
      problems.push(...judge(report, fault));
      // A row diagnosed right gets its fix, on the node as SSM would run it, and a second look.
      const id = problems.length === 0 ? nodeFix(report, fault.expect.cause) : null;
      if (id) {
        // Clients held by the fault go away first, as kubelet's do on the daemon's GOAWAY (raw
        // sockets that never speak HTTP/2 would block containerd's graceful stop for 90 s).
        release?.();
        release = undefined;
        const f0 = performance.now();
        const run = await node.runScript(id, FIX_PARAMETERS[id] ?? {}, { timeoutMs: 150_000 });
        const after = await node.runScript('diagnose', {});
        const again = analyze(parseFacts(after.stdout), versionPolicy ? { versionPolicy } : undefined);
        const left = again.findings.find((f) => f.cause === fault.expect.cause);
        // Named again only from log lines (of the daemon before the fix: the journal keeps them)?
        const logsOnly = left?.evidence.every((e) => e.source.startsWith('logs.')) ?? false;
        const still = left !== undefined;
        const took = `${((performance.now() - f0) / 1000).toFixed(1)} s`;
        const why = logsOnly ? ', named again from log lines only' : '';
        fix =
          still || run.code !== 0
            ? `${id}: NOT fixed (exit ${run.code}, ${took}${why})`
            : `${id}: fixed (${took})`;
      }
    } finally {
      release?.();
    }
  } catch (err) {
    if (!injected) signal = `NOT INJECTED: ${(err as Error).message}`;
    else problems.push((err as Error).message);
  } finally {
    await node.stop();
  }
  const wanted = fault.expect.cause;
  const hit = report?.findings.find((f) => f.cause === wanted) ?? report?.findings[0];
  return {
    suite,
    containerd: node.containerdVersion,
    fault: fault.id,
    signal,
    injected,
    report,
    named: hit?.cause ?? (report ? (report.findings.length ? 'none' : 'healthy') : '-'),
    confidence: hit?.confidence ?? '-',
    problems: injected ? problems : [signal],
    fix,
    diagnoseMs,
    rowMs: Math.round(performance.now() - t0),
  };
}

/** A plain-text table: version × fault → expected, named, confidence, time, verdict. */
export function matrixTable(rows: readonly MatrixRow[]): string {
  const head = [
    'containerd',
    'fault',
    'expected',
    'named',
    'confidence',
    'diagnose',
    'row',
    'fix',
    'verdict',
  ];
  const body = rows.map((r) => [
    `${r.containerd} (${r.suite})`,
    r.fault,
    LAB_FAULTS.find((f) => f.id === r.fault)?.expect.cause ?? '?',
    r.named,
    r.confidence,
    `${(r.diagnoseMs / 1000).toFixed(1)} s`,
    `${(r.rowMs / 1000).toFixed(1)} s`,
    r.fix,
    r.problems.length ? `FAIL: ${r.problems.join('; ')}` : 'ok',
  ]);
  const widths = head.map((h, i) =>
    Math.max(h.length, ...body.map((b) => (i === 7 ? 0 : (b[i] ?? '').length))),
  );
  const line = (cells: string[]) => cells.map((c, i) => (i === 7 ? c : c.padEnd(widths[i] ?? 0))).join('  ');
  return [line(head), ...body.map(line)].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const suites = (argv.length ? argv : LAB_SUITES) as LabSuite[];
  for (const s of suites) {
    if (!(LAB_SUITES as readonly string[]).includes(s)) {
      console.error(`matrix: unknown suite "${s}" (expected ${LAB_SUITES.join(', ')})`);
      return 2;
    }
  }
  const only = process.env.NODEMEDIC_LAB_FAULTS?.split(',').filter(Boolean);
  const rows: MatrixRow[] = [];
  for (const suite of suites) {
    for (const fault of faultsFor(suite)) {
      if (only && !only.includes(fault.id)) continue;
      const row = await runRow(suite, fault);
      rows.push(row);
      console.error(`${suite} ${fault.id}: ${row.named} (${row.confidence}), fix ${row.fix} — ${row.signal}`);
    }
  }
  console.log(matrixTable(rows));
  return rows.every((r) => r.problems.length === 0) ? 0 : 1;
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
