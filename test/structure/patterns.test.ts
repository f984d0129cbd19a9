/**
 * One source per pattern: the TypeScript checks, the SSM `allowedPattern`s and the scripts'
 * `param` validators agree, bash's `[[ =~ ]]` reads each shared source as JavaScript does, and no
 * copy of a pattern is left in the code.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CLUSTER_NAME,
  INSTANCE_ID,
  INSTANCE_ID_IN_TEXT,
  INSTANCE_ID_SOURCE,
  isNodeName,
  NODE_NAME_SOURCE,
  PATH_SOURCE,
  SLACK_ID,
  TAG_KEY,
  TAG_VALUE,
} from '../../functions/core/patterns.js';
import { SCRIPT_PARAMETERS, type ScriptParameter } from '../../functions/core/script-params.js';

const ROOT = join(import.meta.dirname, '..', '..');
const FIXES = join(ROOT, 'functions', 'scripts', 'fixes');
const read = (path: string) => readFileSync(path, 'utf8');

const byEnv = new Map<string, ScriptParameter>(
  Object.values(SCRIPT_PARAMETERS as Record<string, ScriptParameter>).map((p) => [p.env, p]),
);

/** `param VAR ENV DEFAULT PATTERN` lines of every fix script, with `"$PATH_RE"` resolved. */
function paramLines(): { script: string; env: string; fallback: string; pattern: string }[] {
  const pathRe = /^PATH_RE='([^']*)'$/m.exec(read(join(FIXES, '_preamble.sh')))?.[1];
  const word = String.raw`('[^']*'|"\$PATH_RE"|[^\s'"]+)`;
  const line = new RegExp(String.raw`^param [A-Z_]+ (NODEMEDIC_[A-Z_]+) ${word} ${word}\s*$`, 'gm');
  const unquote = (w: string) => (w === '"$PATH_RE"' ? pathRe! : w.replace(/^'(.*)'$/, '$1'));
  return readdirSync(FIXES)
    .filter((f) => f.endsWith('.sh'))
    .flatMap((script) =>
      [...read(join(FIXES, script)).matchAll(line)].map((m) => ({
        script,
        env: m[1]!,
        fallback: unquote(m[2]!),
        pattern: unquote(m[3]!),
      })),
    );
}

describe('the scripts validate with the patterns module', () => {
  it("the preamble's PATH_RE is PATH_SOURCE", () => {
    expect(/^PATH_RE='([^']*)'$/m.exec(read(join(FIXES, '_preamble.sh')))?.[1]).toBe(PATH_SOURCE);
  });

  const params = paramLines();
  it('finds the param lines (the extraction works)', () => {
    expect(params.length).toBeGreaterThanOrEqual(15);
    expect(params.map((p) => p.env)).toContain('NODEMEDIC_NODE_NAME');
  });

  it.each(params.map((p) => [`${p.script} ${p.env}`, p] as const))(
    '%s has the SSM allowedPattern and default',
    (_name, p) => {
      const spec = byEnv.get(p.env);
      expect(spec, `${p.env} is not in SCRIPT_PARAMETERS`).toBeDefined();
      // `param` puts the default in for an empty value before it checks, so a script may leave out
      // the document's `^$|` alternative (which exists so that SSM accepts "use the default").
      expect([p.pattern, `^$|${p.pattern}`]).toContain(spec!.allowedPattern);
      expect(p.fallback).toBe(spec!.default);
    },
  );

  it("the node-name and path parameters are the patterns module's", () => {
    expect(SCRIPT_PARAMETERS.nodeName.allowedPattern).toBe(`^$|${NODE_NAME_SOURCE}`);
    expect(SCRIPT_PARAMETERS.address.allowedPattern).toBe(PATH_SOURCE);
    expect(SCRIPT_PARAMETERS.logFile.allowedPattern).toBe(`^$|${PATH_SOURCE}`);
  });

  it("diagnose.sh's literal defaults are the parameters' defaults", () => {
    const defaults = [
      ...read(join(ROOT, 'functions', 'scripts', 'diagnose.sh')).matchAll(
        /^[A-Z_]+=\$\{(NODEMEDIC_[A-Z_]+):-([^$}]*)\}$/gm,
      ),
    ];
    expect(defaults.length).toBeGreaterThanOrEqual(4);
    for (const [, env, fallback] of defaults) expect(fallback, env).toBe(byEnv.get(env!)?.default);
  });
});

const LONG_LABEL = 'a'.repeat(63);
const NAME_253 = [LONG_LABEL, LONG_LABEL, LONG_LABEL, 'a'.repeat(61)].join('.');

/** Shared sources with values on both sides of them. */
const SOURCES: [string, string, string[], string[]][] = [
  [
    'instance id',
    INSTANCE_ID_SOURCE,
    ['i-0123abcd', 'i-0123456789abcdef0'],
    ['i-0123abc', 'i-0123456789abcdef01', 'i-0123ABCD', 'x-0123abcd', 'i-0123abcd\n', 'i-0123abcd;id'],
  ],
  [
    'node name',
    NODE_NAME_SOURCE,
    ['ip-10-0-1-2.eu-west-1.compute.internal', 'a', 'node-1', NAME_253],
    ['', 'a..b', '.a', 'a.', '-a', 'a-', 'A', 'a_b', 'a b', 'a;id', '$(id)', 'a.-b'],
  ],
  [
    'path',
    PATH_SOURCE,
    ['/run/containerd/containerd.sock', '/etc/eks/pause.tar', '/var/lib/containerd/'],
    ['', '/', 'run/x', '/a b', "/a'b", '/a;b', '/a$b', '/a`b', '//'],
  ],
];

describe.each(SOURCES)('the %s pattern', (_name, source, good, bad) => {
  const js = new RegExp(source);
  it.each(good)('admits %j', (value) => expect(js.test(value)).toBe(true));
  it.each(bad)('refuses %j', (value) => expect(js.test(value)).toBe(false));

  it("means the same to bash's [[ =~ ]] (the scripts' validator)", () => {
    const values = [...good, ...bad];
    // Each value is passed as an argument, never spliced into the script.
    const run = spawnSync(
      'bash',
      [
        '-c',
        're=$1; shift; for v in "$@"; do [[ $v =~ $re ]] && echo 1 || echo 0; done',
        'bash',
        source,
        ...values,
      ],
      { encoding: 'utf8' },
    );
    expect(run.stderr).toBe('');
    expect(run.stdout.trim().split('\n')).toEqual(values.map((v) => (js.test(v) ? '1' : '0')));
  });
});

describe('the TypeScript-only checks', () => {
  it('bounds a node name at 253 characters, which ERE cannot', () => {
    expect(isNodeName(NAME_253)).toBe(true);
    expect(isNodeName(`${NAME_253}a`)).toBe(false);
    expect(new RegExp(NODE_NAME_SOURCE).test(`${NAME_253}a`)).toBe(true);
  });

  it('finds an instance id in text, not inside a word', () => {
    expect(INSTANCE_ID_IN_TEXT.exec('node i-0123456789abcdef0 is NotReady')?.[0]).toBe('i-0123456789abcdef0');
    expect(INSTANCE_ID_IN_TEXT.exec('xi-0123456789abcdef0 i-0123abcdz')).toBeNull();
    expect(INSTANCE_ID.source).toBe(INSTANCE_ID_SOURCE);
  });

  it.each([
    [CLUSTER_NAME, ['prod', 'eks_prod-2', 'a.b'], ['', '-prod', 'a#b', 'a b', 'x'.repeat(101)]],
    [TAG_VALUE, ['prod', 'owned', 'a b:c/d=e+f-g@h'], ['', 'bad"name', 'a;b', 'x'.repeat(257)]],
    [TAG_KEY, ['eks:cluster-name', 'kubernetes.io/cluster/prod'], ['', 'a"b', 'x'.repeat(129)]],
    [SLACK_ID.user, ['U0123456789', 'W0BOB'], ['alice', 'U', 'u0123', '<@U0123>', 'S0123']],
    [SLACK_ID.userGroup, ['S0123456789'], ['oncall', 'U0123', 'S']],
    [SLACK_ID.channel, ['C0123456789', 'G0PRIVATE'], ['#alerts', 'D0123', 'C']],
  ] as const)('%s', (pattern, good, bad) => {
    for (const value of good) expect(pattern.test(value), value).toBe(true);
    for (const value of bad) expect(pattern.test(value), value).toBe(false);
  });
});

describe('no copy of a pattern outside functions/core/patterns.ts', () => {
  /** Fragments that only a copy of one of the patterns would contain. */
  const FRAGMENTS = ['i-[0-9a-f]', '[-a-z0-9', '[UW][A-Z0-9]', 'S[A-Z0-9]', '[CG][A-Z0-9]', 'A-Za-z0-9._@+-'];
  const files = (dir: string): string[] =>
    readdirSync(join(ROOT, dir), { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && e.name.endsWith('.ts'))
      .map((e) => relative(ROOT, join(e.parentPath, e.name)));

  it.each(FRAGMENTS)('%s', (fragment) => {
    const copies = [...files('functions'), ...files('infra')]
      .filter((file) => file !== join('functions', 'core', 'patterns.ts'))
      .flatMap((file) =>
        read(join(ROOT, file))
          .split('\n')
          .map((text, i) => ({ where: `${file}:${i + 1}`, text: text.trim() }))
          // Comments may quote a pattern; code may not copy one.
          .filter(({ text }) => !text.startsWith('*') && !text.startsWith('//') && !text.startsWith('/**'))
          .filter(({ text }) => text.includes(fragment))
          .map(({ where }) => where),
      );
    expect(copies).toEqual([]);
  });
});
