import { describe, expect, it } from 'vitest';
import { parseFacts } from '../../functions/core/analyze.js';
import { MalformedFactsError } from '../../functions/core/errors.js';
import { fixtureText } from './support/facts.js';

const HEALTHY = fixtureText('healthy.json');

/** Replace one JSON fragment of the healthy fixture, failing loudly if the fragment is absent. */
function edit(from: string, to: string): string {
  expect(HEALTHY).toContain(from);
  return HEALTHY.replace(from, to);
}

describe('parseFacts', () => {
  it('reads the healthy fixture', () => {
    const facts = parseFacts(`${HEALTHY}\n`);
    expect(facts.schema).toBe(1);
    expect(facts.containerd.binaryVersion).toBe('1.6.20~ds1');
  });

  it.each([
    ['empty output', '', undefined, /diagnostic output is empty/, false],
    ['whitespace only', ' \n\t', undefined, /diagnostic output is empty/, false],
    ['junk', 'bash: ctr: command not found', undefined, /not JSON: "bash: ctr: command not found"/, false],
    ['cut JSON', HEALTHY.slice(0, 700), undefined, /looks truncated: JSON ends after 700 characters/, true],
    [
      'cut JSON flagged by the transport',
      HEALTHY.slice(0, 700),
      { truncated: true },
      /looks truncated.*SSM returns at most 24,000 characters/,
      true,
    ],
    ['an array', '[]', undefined, /^facts: expected an object, got an array$/, false],
    [
      'wrong schema',
      edit('"schema":1', '"schema":2'),
      undefined,
      /^facts\.schema: expected 1 .*got 2$/,
      false,
    ],
    [
      'ill-typed number',
      edit('"open":42', '"open":"x"'),
      undefined,
      /^facts\.fds\.open: expected number or null, got "x"$/,
      false,
    ],
    [
      'missing section',
      edit('"kubelet":{"status":"n/a","reason":"kubelet not installed"}', '"kubelet2":{}'),
      undefined,
      /^facts\.kubelet: expected an object, got nothing \(missing\)$/,
      false,
    ],
    [
      'bad probe status',
      edit('"plugins":{"status":"ok"', '"plugins":{"status":"fine"'),
      undefined,
      /^facts\.plugins\.status: expected "ok" \| "unknown" \| "n\/a", got "fine"$/,
      false,
    ],
    [
      'bad array element',
      edit('"errored":["io.containerd.snapshotter.v1/devmapper"]', '"errored":[7]'),
      undefined,
      /^facts\.plugins\.errored\[0\]: expected string, got 7$/,
      false,
    ],
    [
      'bad nested log match',
      edit('"kernel":[]', '"kernel":[{"id":"oom-kill","count":"3","samples":[]}]'),
      undefined,
      /^facts\.logs\.kernel\[0\]\.count: expected number, got "3"$/,
      false,
    ],
    [
      'null where an object is required',
      edit('"psi":{', '"psi":null,"psi0":{'),
      undefined,
      /^facts\.resources\.psi: expected an object, got null$/,
      false,
    ],
  ] as const)('refuses %s with a clear MalformedFactsError', (_name, input, options, message, truncated) => {
    let caught: unknown;
    try {
      parseFacts(input, options);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(MalformedFactsError);
    expect((caught as MalformedFactsError).message).toMatch(message);
    expect((caught as MalformedFactsError).code).toBe('MALFORMED_FACTS');
    expect((caught as MalformedFactsError).truncated).toBe(truncated);
  });

  describe('the sections script 1.1 added (optional: a 1.0 document still parses)', () => {
    const STUCK = fixtureText('recorded/stuck-shim-1.7.24.json').trim();
    const swap = (from: RegExp, to: string) => {
      expect(STUCK).toMatch(from);
      return STUCK.replace(from, to);
    };

    it('reads them from a real 1.7.24 recording', () => {
      const facts = parseFacts(STUCK);
      expect(facts.processes?.stuck[0]).toMatchObject({ state: 'T', comm: 'containerd-shim' });
      expect(facts.images?.sandboxImage).toBe('registry.k8s.io/pause:3.8');
      expect(facts.host?.bottlerocket).toEqual([]);
      expect(facts.drain?.kubeconfig).toBeNull();
      expect(facts.script.unfinished).toEqual([]);
    });

    it.each([
      [
        'a bad host marker list',
        swap(/"bottlerocket":\[\]/, '"bottlerocket":"no"'),
        /^facts\.host\.bottlerocket: expected an array of strings, got "no"$/,
      ],
      [
        'a stuck pid as text',
        swap(/"pid":(\d+),"state"/, '"pid":"$1","state"'),
        /^facts\.processes\.stuck\[0\]\.pid: expected number, got "\d+"$/,
      ],
      [
        'a task listing without its call',
        swap(/,"call":\{"ok":true,"exitCode":0,"elapsedMs":\d+\}\}\]/, ',"call":null}]'),
        /^facts\.processes\.tasks\[\d\]\.call: expected an object, got null$/,
      ],
      [
        'a sandbox presence as text',
        swap(/"sandboxPresent":true/, '"sandboxPresent":"yes"'),
        /^facts\.images\.sandboxPresent: expected boolean or null, got "yes"$/,
      ],
      [
        'unfinished as a string',
        swap(/"unfinished":\[\]/, '"unfinished":"logs"'),
        /^facts\.script\.unfinished: expected an array of strings, got "logs"$/,
      ],
      [
        'a drain status unknown',
        swap(/"drain":\{"status":"ok"/, '"drain":{"status":"maybe"'),
        /^facts\.drain\.status: expected "ok" \| "unknown" \| "n\/a", got "maybe"$/,
      ],
    ])('refuses %s, naming the path', (_name, input, message) => {
      expect(() => parseFacts(input)).toThrow(message);
    });

    it('refuses a plugin error without its text', () => {
      const text = fixtureText('recorded/cri-mirrors-config-path-1.7.24.json').replace(
        /"error":"invalid plugin config[^"]*"/,
        '"error":3',
      );
      expect(() => parseFacts(text)).toThrow(/^facts\.plugins\.errors\[0\]\.error: expected string, got 3$/);
    });
  });

  it('never throws a TypeError, whatever prefix of the output arrives', () => {
    const whole = HEALTHY.trim();
    for (let cut = 0; cut < whole.length; cut += 37) {
      expect(() => parseFacts(whole.slice(0, cut))).toThrow(MalformedFactsError);
    }
  });
});
