/** Small shared helpers for cause modules: log lookups and figure formatting. */
import type { Facts, LogMatch } from '../facts.js';
import type { Evidence } from '../model.js';

/** The log match with this signature id, if any. */
export function logMatch(matches: readonly LogMatch[], id: string): LogMatch | undefined {
  return matches.find((m) => m.id === id && m.count > 0);
}

/** Evidence quoting a log signature: the count and its sample lines verbatim. */
export function logEvidence(source: string, match: LogMatch): Evidence[] {
  const head: Evidence = { source, text: `${match.count} line(s) matching "${match.id}"` };
  return [head, ...match.samples.map((line) => ({ source, text: line }))];
}

/** `a of b (p%)`-style percentage with one decimal, e.g. `99.7%`. */
export function pct(part: number, whole: number): string {
  return `${((part / whole) * 100).toFixed(1)}%`;
}

/** Ratio or null when either side is missing or the whole is not positive. */
export function ratio(part: number | null | undefined, whole: number | null | undefined): number | null {
  if (part === null || part === undefined || whole === null || whole === undefined || whole <= 0) return null;
  return part / whole;
}

/** Whether containerd answered a real call on its socket in this run. */
export function containerdAnswers(facts: Pick<Facts, 'socket'>): boolean {
  return facts.socket.status === 'ok' && facts.socket.call?.ok === true;
}

/** `reason` of a probe, or a generic phrase. */
export function why(probe: { readonly reason?: string }): string {
  return probe.reason && probe.reason.trim() !== '' ? probe.reason : 'no reason given';
}
