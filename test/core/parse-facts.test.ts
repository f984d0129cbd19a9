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

  it('never throws a TypeError, whatever prefix of the output arrives', () => {
    const whole = HEALTHY.trim();
    for (let cut = 0; cut < whole.length; cut += 37) {
      expect(() => parseFacts(whole.slice(0, cut))).toThrow(MalformedFactsError);
    }
  });
});
