/**
 * The CLI's text rendering of a report: what a person paged at 3 a.m. reads in a terminal. One
 * block per finding (cause, severity, confidence, summary, quoted evidence, fixes best first),
 * then the notes. Slack has its own renderer (functions/core/render); this one is plain text.
 */
import type { Facts } from '../core/facts.js';
import type { Report } from '../core/model.js';
import { REMEDIATIONS } from '../core/remediations/index.js';

/** Render a report as plain text, ending with a newline. */
export function formatReport(report: Report): string {
  const facts = report.facts as Partial<Facts> | null;
  const lines: string[] = [];
  const host = facts?.script?.host ?? 'this machine';
  const ctd = facts?.containerd;
  const version = ctd?.serverVersion ?? ctd?.binaryVersion ?? 'unknown version';
  const pid = ctd?.pid ?? null;
  lines.push(
    `nodemedic diagnose: ${host}: containerd ${version}, ${pid === null ? 'not running' : `pid ${pid}`}`,
  );
  if (facts?.paths) lines.push(`  socket ${facts.paths.address}, config ${facts.paths.config}`);
  lines.push('');
  if (report.healthy) {
    lines.push('HEALTHY: every probe that matters answered and nothing is wrong.');
  } else if (report.findings.length === 0) {
    lines.push('NOT CONFIRMED HEALTHY: no finding, but some probes could not tell (see notes).');
  } else {
    const n = report.findings.length;
    lines.push(`${n} FINDING${n === 1 ? '' : 'S'}, most urgent first:`);
  }
  report.findings.forEach((f, i) => {
    lines.push('');
    lines.push(`${i + 1}. [${f.severity.toUpperCase()}] ${f.cause}: ${f.summary}`);
    lines.push(`   confidence: ${f.confidence}`);
    if (f.evidence.length > 0) {
      lines.push('   evidence:');
      for (const e of f.evidence) lines.push(`     - ${e.source}: ${oneLine(e.text)}`);
    }
    if (f.remediations.length > 0) {
      lines.push('   fixes, best first:');
      f.remediations.forEach((id, j) => {
        const r = REMEDIATIONS[id];
        const label = r ? `${r.title} (${r.tier})${r.description ? ` - ${r.description}` : ''}` : '';
        lines.push(`     ${j + 1}) ${id}${label ? `: ${label}` : ''}`);
      });
    }
  });
  if (report.notes.length > 0) {
    lines.push('');
    lines.push('notes:');
    for (const note of report.notes) lines.push(`  - ${oneLine(note)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Evidence may quote a log line with control characters: keep the block one line per item. */
function oneLine(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
  return text.replace(/[\u0000-\u001f\u007f]+/g, ' ');
}
