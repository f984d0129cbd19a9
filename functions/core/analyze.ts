/**
 * The pure analyzer: the diagnostic script's stdout → validated `Facts` → a `Report` of findings,
 * each with quoted evidence and ranked remediations. No I/O: the same function serves the Lambda
 * analyze step, the CLI and the tests.
 */

import { CATALOG } from './catalog.js';
import { why } from './causes/helpers.js';
import { nodeUnreachable } from './causes/node-unreachable.js';
import { InvalidInputError, MalformedFactsError } from './errors.js';
import { FACTS_SCHEMA, type Facts } from './facts.js';
import { CAUSE_IDS, type Evidence, type Finding, type Report, SEVERITIES } from './model.js';
import { drainNote } from './plan.js';
import { getRemediation } from './remediations/index.js';
import { resolveVersionPolicy, type VersionPolicyOverrides } from './version.js';

/** SSM GetCommandInvocation's stdout cap, quoted in the truncation error. */
const SSM_STDOUT_CAP = 24_000;

// ---------------------------------------------------------------------------------------------
// parseFacts: hand-written validation (no schema dependency), failing on the first wrong path.

function describe(value: unknown): string {
  if (value === undefined) return 'nothing (missing)';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  return String(value);
}

function fail(path: string, expected: string, value: unknown): never {
  throw new MalformedFactsError(`${path}: expected ${expected}, got ${describe(value)}`);
}

type Obj = Record<string, unknown>;

function obj(v: unknown, path: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(path, 'an object', v);
  return v as Obj;
}
function num(o: Obj, key: string, path: string, nullable = false, optional = false): void {
  const v = o[key];
  if (optional && v === undefined) return;
  if (nullable && v === null) return;
  if (typeof v !== 'number' || !Number.isFinite(v))
    fail(`${path}.${key}`, nullable ? 'number or null' : 'number', v);
}
function str(o: Obj, key: string, path: string, nullable = false, optional = false): void {
  const v = o[key];
  if (optional && v === undefined) return;
  if (nullable && v === null) return;
  if (typeof v !== 'string') fail(`${path}.${key}`, nullable ? 'string or null' : 'string', v);
}
function bool(o: Obj, key: string, path: string, nullable = false): void {
  const v = o[key];
  if (nullable && v === null) return;
  if (typeof v !== 'boolean') fail(`${path}.${key}`, nullable ? 'boolean or null' : 'boolean', v);
}
function oneOf(o: Obj, key: string, path: string, allowed: readonly string[]): void {
  const v = o[key];
  if (typeof v !== 'string' || !allowed.includes(v))
    fail(`${path}.${key}`, allowed.map((a) => `"${a}"`).join(' | '), v);
}
function strArray(o: Obj, key: string, path: string): void {
  const v = o[key];
  if (!Array.isArray(v)) fail(`${path}.${key}`, 'an array of strings', v);
  v.forEach((item, i) => {
    if (typeof item !== 'string') fail(`${path}.${key}[${i}]`, 'string', item);
  });
}
const STATUSES = ['ok', 'unknown', 'n/a'] as const;
function probe(parent: Obj, key: string, path: string): Obj {
  const o = obj(parent[key], `${path}.${key}`);
  oneOf(o, 'status', `${path}.${key}`, STATUSES);
  str(o, 'reason', `${path}.${key}`, false, true);
  return o;
}
function callResult(o: Obj, key: string, path: string): void {
  const v = o[key];
  if (v === null) return;
  const c = obj(v, `${path}.${key}`);
  const p = `${path}.${key}`;
  bool(c, 'ok', p);
  num(c, 'exitCode', p);
  num(c, 'elapsedMs', p);
  str(c, 'error', p, false, true);
}
function logMatches(o: Obj, key: string, path: string): void {
  const v = o[key];
  if (!Array.isArray(v)) fail(`${path}.${key}`, 'an array of log matches', v);
  v.forEach((item, i) => {
    const p = `${path}.${key}[${i}]`;
    const m = obj(item, p);
    str(m, 'id', p);
    num(m, 'count', p);
    strArray(m, 'samples', p);
  });
}
function psi(o: Obj, key: string, path: string): void {
  const v = o[key];
  if (v === null) return;
  const p = `${path}.${key}`;
  const s = obj(v, p);
  num(s, 'some10', p, true);
  num(s, 'some60', p, true);
  num(s, 'full10', p, true, true);
  num(s, 'full60', p, true, true);
}
function mount(o: Obj, key: string, path: string): void {
  const p = `${path}.${key}`;
  const m = obj(o[key], p);
  str(m, 'path', p);
  bool(m, 'exists', p);
  num(m, 'usePct', p, true);
  num(m, 'inodesUsePct', p, true);
  num(m, 'availKb', p, true);
  bool(m, 'readOnly', p, true);
}

function optStrArray(o: Obj, key: string, path: string): void {
  if (o[key] !== undefined) strArray(o, key, path);
}
/** An optional section (added in script 1.1): absent is fine, present must be well-formed. */
function optProbe(parent: Obj, key: string, path: string): Obj | null {
  return parent[key] === undefined ? null : probe(parent, key, path);
}
function array(o: Obj, key: string, path: string): unknown[] {
  const v = o[key];
  if (!Array.isArray(v)) fail(`${path}.${key}`, 'an array', v);
  return v;
}

/** The sections script 1.1 added (host, images, processes, drain), each optional. */
function validateAdditions(f: Obj): void {
  const host = optProbe(f, 'host', 'facts');
  if (host) {
    str(host, 'pid1', 'facts.host', true);
    bool(host, 'systemctl', 'facts.host');
    str(host, 'os', 'facts.host', true);
    strArray(host, 'bottlerocket', 'facts.host');
  }
  const images = optProbe(f, 'images', 'facts');
  if (images) {
    str(images, 'namespace', 'facts.images');
    num(images, 'total', 'facts.images', true);
    str(images, 'sandboxImage', 'facts.images', true);
    bool(images, 'sandboxPresent', 'facts.images', true);
    str(images, 'pauseTar', 'facts.images', true);
  }
  const procs = optProbe(f, 'processes', 'facts');
  if (procs) {
    num(procs, 'shims', 'facts.processes');
    array(procs, 'stuck', 'facts.processes').forEach((item, i) => {
      const p = `facts.processes.stuck[${i}]`;
      const s = obj(item, p);
      num(s, 'pid', p);
      str(s, 'state', p);
      str(s, 'comm', p);
      str(s, 'cmd', p);
    });
    array(procs, 'tasks', 'facts.processes').forEach((item, i) => {
      const p = `facts.processes.tasks[${i}]`;
      const t = obj(item, p);
      str(t, 'namespace', p);
      num(t, 'tasks', p, true);
      strArray(t, 'unknown', p);
      if (t.call === null) fail(`${p}.call`, 'an object', null);
      callResult(t, 'call', p);
    });
  }
  const drain = optProbe(f, 'drain', 'facts');
  if (drain) {
    bool(drain, 'kubectl', 'facts.drain');
    str(drain, 'kubeconfig', 'facts.drain', true);
  }
}

/** Validate a parsed document against `Facts`; throws MalformedFactsError naming the wrong path. */
function validateFacts(doc: unknown): Facts {
  const f = obj(doc, 'facts');
  if (f.schema !== FACTS_SCHEMA) {
    fail('facts.schema', `${FACTS_SCHEMA} (the facts schema this analyzer reads)`, f.schema);
  }
  const script = obj(f.script, 'facts.script');
  str(script, 'version', 'facts.script');
  str(script, 'host', 'facts.script');
  str(script, 'time', 'facts.script');
  num(script, 'elapsedMs', 'facts.script');
  num(script, 'deadlineMs', 'facts.script', false, true);
  optStrArray(script, 'unfinished', 'facts.script');
  const paths = obj(f.paths, 'facts.paths');
  for (const k of ['address', 'config', 'root', 'state']) str(paths, k, 'facts.paths');
  str(paths, 'logFile', 'facts.paths', true);
  bool(f, 'systemd', 'facts');

  const c = probe(f, 'containerd', 'facts');
  const svc = obj(c.service, 'facts.containerd.service');
  oneOf(svc, 'status', 'facts.containerd.service', STATUSES);
  str(svc, 'reason', 'facts.containerd.service', false, true);
  str(svc, 'activeState', 'facts.containerd.service', false, true);
  str(svc, 'subState', 'facts.containerd.service', false, true);
  num(svc, 'nRestarts', 'facts.containerd.service', true, true);
  num(c, 'pid', 'facts.containerd', true);
  oneOf(c, 'pidSource', 'facts.containerd', ['systemd', 'pgrep', 'none']);
  str(c, 'binaryVersion', 'facts.containerd', true);
  str(c, 'serverVersion', 'facts.containerd', true);

  const fds = probe(f, 'fds', 'facts');
  for (const k of ['open', 'limitSoft', 'limitHard', 'systemAllocated', 'systemMax'])
    num(fds, k, 'facts.fds', true);

  const sock = probe(f, 'socket', 'facts');
  str(sock, 'path', 'facts.socket');
  bool(sock, 'exists', 'facts.socket');
  bool(sock, 'isSocket', 'facts.socket');
  str(sock, 'mode', 'facts.socket', true);
  str(sock, 'owner', 'facts.socket', true);
  callResult(sock, 'call', 'facts.socket');

  const plugins = probe(f, 'plugins', 'facts');
  num(plugins, 'total', 'facts.plugins', true);
  strArray(plugins, 'errored', 'facts.plugins');
  if (plugins.errors !== undefined) {
    array(plugins, 'errors', 'facts.plugins').forEach((item, i) => {
      const p = `facts.plugins.errors[${i}]`;
      const e = obj(item, p);
      str(e, 'id', p);
      str(e, 'error', p);
    });
  }
  str(plugins, 'errorsUnread', 'facts.plugins', false, true);

  const cfg = probe(f, 'config', 'facts');
  str(cfg, 'path', 'facts.config');
  bool(cfg, 'exists', 'facts.config');
  bool(cfg, 'parses', 'facts.config', true);
  str(cfg, 'parseError', 'facts.config', false, true);
  num(cfg, 'errorLine', 'facts.config', true, true);
  str(cfg, 'errorLineText', 'facts.config', true, true);
  str(cfg, 'errorFile', 'facts.config', false, true);
  optStrArray(cfg, 'ignoredKeys', 'facts.config');
  num(cfg, 'declaredVersion', 'facts.config', true);
  strArray(cfg, 'grpc', 'facts.config');
  strArray(cfg, 'imports', 'facts.config');

  const logs = probe(f, 'logs', 'facts');
  str(logs, 'source', 'facts.logs');
  for (const k of ['containerd', 'kubelet', 'kernel']) logMatches(logs, k, 'facts.logs');

  const res = probe(f, 'resources', 'facts');
  for (const k of ['cores', 'load1', 'load5', 'memTotalKb', 'memAvailableKb', 'stealPct'])
    num(res, k, 'facts.resources', true);
  const psiObj = obj(res.psi, 'facts.resources.psi');
  for (const k of ['cpu', 'memory', 'io']) psi(psiObj, k, 'facts.resources.psi');

  const disk = probe(f, 'disk', 'facts');
  mount(disk, 'root', 'facts.disk');
  mount(disk, 'state', 'facts.disk');

  const kubelet = probe(f, 'kubelet', 'facts');
  str(kubelet, 'activeState', 'facts.kubelet', true, true);
  str(kubelet, 'healthz', 'facts.kubelet', true, true);
  str(kubelet, 'runtimeEndpoint', 'facts.kubelet', true, true);
  validateAdditions(f);
  return f as unknown as Facts;
}

/**
 * Read the diagnostic script's stdout as `Facts`. Throws MalformedFactsError (never a TypeError)
 * for empty output, non-JSON, truncated JSON (mentioning SSM's 24,000-character cap when
 * `options.truncated` says the transport cut it), a schema other than `FACTS_SCHEMA`, or any
 * missing / ill-typed field, naming its path (`facts.fds.open: expected number or null, got "x"`).
 */
export function parseFacts(stdout: string, options?: { truncated?: boolean }): Facts {
  const truncated = options?.truncated === true;
  const capNote = truncated
    ? ` (the transport cut stdout: SSM returns at most ${SSM_STDOUT_CAP.toLocaleString('en-US')} characters)`
    : '';
  if (typeof stdout !== 'string') {
    throw new MalformedFactsError(`diagnostic output: expected a string, got ${describe(stdout)}`);
  }
  const text = stdout.trim();
  if (text === '') {
    throw new MalformedFactsError(`diagnostic output is empty: the script printed no facts${capNote}`, {
      truncated,
    });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (cause) {
    const looksCut = text.startsWith('{') && !text.endsWith('}');
    if (looksCut || truncated) {
      throw new MalformedFactsError(
        `diagnostic output looks truncated: JSON ends after ${text.length} characters without closing${capNote}`,
        { cause, truncated: true },
      );
    }
    const head = JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
    throw new MalformedFactsError(`diagnostic output is not JSON: ${head}`, { cause });
  }
  return validateFacts(doc);
}

// ---------------------------------------------------------------------------------------------
// analyze

/** Options of `analyze`: overrides of the default version policy (see version.ts). */
export interface AnalyzeOptions {
  versionPolicy?: VersionPolicyOverrides;
}

/** Probe sections whose `unknown` status means the report cannot call the node healthy. */
const SECTIONS_THAT_MATTER = [
  'containerd',
  'fds',
  'socket',
  'plugins',
  'config',
  'logs',
  'resources',
  'disk',
] as const;

/** Severity first, then `CAUSE_IDS` order: deterministic, most urgent on top. */
function byRank(a: Finding, b: Finding): number {
  return (
    SEVERITIES.indexOf(a.severity) - SEVERITIES.indexOf(b.severity) ||
    CAUSE_IDS.indexOf(a.cause) - CAUSE_IDS.indexOf(b.cause)
  );
}

/**
 * Turn validated facts into a report. Every cause in the catalog is asked; one that cannot tell
 * (its probes `unknown`) adds a "could not check …" note and makes the report not healthy.
 * Throws CatalogError for an invalid version policy override.
 */
export function analyze(facts: Facts, options?: AnalyzeOptions): Report {
  const versionPolicy = resolveVersionPolicy(options?.versionPolicy);
  const findings: Finding[] = [];
  const notes: string[] = [];
  let undecided = false;
  for (const cause of CATALOG.causes) {
    const detection = cause.detect(facts, { versionPolicy });
    if (detection.state === 'matched') findings.push(detection.finding);
    if (detection.state === 'unknown') {
      undecided = true;
      notes.push(`could not check ${cause.title} (${detection.reason})`);
    }
    notes.push(...(detection.notes ?? []));
  }
  for (const section of SECTIONS_THAT_MATTER) {
    const s = facts[section];
    if (s.status !== 'unknown') continue;
    undecided = true;
    if (section === 'logs') {
      // No cause depends on logs alone, so say here that signatures were not checked.
      notes.push(`could not read logs (${why(s)}): log signatures were not matched`);
    }
  }
  const unfinished = facts.script.unfinished ?? [];
  if (unfinished.length > 0) {
    undecided = true;
    notes.push(
      `the diagnosis stopped at its ${Math.round((facts.script.deadlineMs ?? 0) / 1000)} s deadline before: ${unfinished.join(', ')} (left unknown)`,
    );
  }
  // A shell that cannot see the host (Bottlerocket's control container) may see a containerd
  // binary, processes and files that are not the node's: what else it found is kept, at low
  // confidence, and nothing is offered to fix it from there.
  if (findings.some((f) => f.cause === 'host-not-inspectable')) {
    for (const [i, f] of findings.entries()) {
      // What a person does (fix the config by hand) stays; what nodemedic would run goes.
      const forAPerson = f.remediations.filter((r) => getRemediation(r).runsOn === 'person');
      if (f.cause === 'host-not-inspectable' || forAPerson.length === f.remediations.length) continue;
      findings[i] = { ...f, confidence: 'low', remediations: forAPerson };
      notes.push(`${f.cause} was seen from a view that is not the host's: nothing is run for it from there`);
    }
  }
  findings.sort(byRank);
  // Said before approval: a fix that needs a drain this node cannot do is not offered (plan.ts).
  const drain = drainNote({ findings, facts });
  if (drain) notes.push(drain);
  return {
    healthy: findings.length === 0 && !undecided,
    findings,
    notes: [...new Set(notes)],
    facts,
  };
}

// ---------------------------------------------------------------------------------------------
// analyzeUnreachable

/** Console lines that explain a dead node (kernel panic, OOM, hung task, filesystem errors). */
const CONSOLE_SIGNS =
  /(kernel panic|out of memory|oom-kill|killed process|hung_task|blocked for more than|i\/o error|ext4-fs error|xfs.*(error|corrupt)|read-only file system|soft lockup|call trace|segfault|emergency mode|cloud-init.*(error|fail))/i;
const CONSOLE_LINES = 8;
const LINE_CAP = 300;

/** Drop ANSI escape sequences and control characters the serial console carries. */
function printable(line: string): string {
  let out = '';
  let i = 0;
  while (i < line.length) {
    const code = line.charCodeAt(i);
    if (code === 27 && line[i + 1] === '[') {
      // Skip `ESC [ params letter`.
      i += 2;
      while (i < line.length && !/[A-Za-z]/.test(line[i]!)) i++;
      i++;
      continue;
    }
    if (code >= 32 && code !== 127) out += line[i];
    else if (code === 9) out += ' ';
    i++;
  }
  return out.trimEnd();
}

function consoleEvidence(tail: string): Evidence[] {
  const lines = tail
    .split(/\r?\n/)
    .map(printable)
    .filter((l) => l.trim() !== '');
  const telling = lines.filter((l) => CONSOLE_SIGNS.test(l));
  const chosen = (telling.length > 0 ? telling : lines).slice(-CONSOLE_LINES);
  return chosen.map((l) => ({
    source: 'ec2.console',
    text: l.length > LINE_CAP ? `${l.slice(0, LINE_CAP)}…` : l,
  }));
}

/**
 * Findings for an unreachable node from EC2 evidence (no facts): cause node-unreachable, stated
 * as inconclusive (low confidence, never healthy). Offers reboot only for a running instance.
 * Throws InvalidInputError when a field is not a string.
 */
export function analyzeUnreachable(evidence: {
  agent: string;
  instanceState: string;
  systemStatus: string;
  instanceStatus: string;
  consoleTail: string;
}): Report {
  for (const key of ['agent', 'instanceState', 'systemStatus', 'instanceStatus', 'consoleTail'] as const) {
    if (typeof evidence?.[key] !== 'string') {
      throw new InvalidInputError(
        `unreachable evidence.${key}: expected string, got ${describe(evidence?.[key])}`,
      );
    }
  }
  const { agent, instanceState, systemStatus, instanceStatus, consoleTail } = evidence;
  const quoted: Evidence[] = [
    { source: 'ssm', text: `SSM agent PingStatus ${agent}` },
    { source: 'ec2', text: `instance state ${instanceState}` },
    { source: 'ec2', text: `system status check ${systemStatus}, instance status check ${instanceStatus}` },
    ...consoleEvidence(consoleTail),
  ];
  const running = instanceState === 'running';
  // A reboot needs a running instance; replacing works from any state.
  const remediations = nodeUnreachable.remediations.filter((r) => running || r !== 'reboot-instance');
  const notes = [
    'SSM could not reach the node, so containerd was not checked: the diagnosis is inconclusive, not healthy',
  ];
  if (!running)
    notes.push(
      `the instance is ${instanceState}: a reboot needs a running instance, so only replace is offered`,
    );
  const impaired = [systemStatus, instanceStatus].filter((s) => s === 'impaired');
  return {
    healthy: false,
    findings: [
      {
        cause: 'node-unreachable',
        severity: 'critical',
        confidence: 'low',
        summary:
          impaired.length > 0
            ? `node unreachable (SSM agent ${agent}, EC2 status checks impaired): diagnosis inconclusive`
            : `node unreachable (SSM agent ${agent}, instance ${instanceState}): diagnosis inconclusive`,
        evidence: quoted,
        remediations,
      },
    ],
    notes,
    facts: null,
  };
}
