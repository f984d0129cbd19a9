import { describe, expect, it } from 'vitest';
import { CatalogError } from '../../functions/core/errors.js';
import {
  compareVersions,
  DEFAULT_VERSION_POLICY,
  judgeVersion,
  parseVersion,
  resolveVersionPolicy,
} from '../../functions/core/version.js';

function cmp(a: string, b: string): number {
  return Math.sign(compareVersions(parseVersion(a)!, parseVersion(b)!));
}

describe('version parsing', () => {
  it.each([
    ['1.6.20~ds1', [1, 6, 20, []]],
    ['v1.7.27', [1, 7, 27, []]],
    ['2.0.0-rc.1', [2, 0, 0, ['rc', '1']]],
    ['1.7.27-1.amzn2023.0.1', [1, 7, 27, []]],
    ['1.6.20~ds1-1+deb12u3', [1, 6, 20, []]],
    ['1.7', [1, 7, 0, []]],
  ] as const)('reads %s', (raw, [major, minor, patch, prerelease]) => {
    expect(parseVersion(raw)).toEqual({ major, minor, patch, prerelease, raw });
  });

  it.each(['', 'latest', '1', 'containerd', 'x1.2.3'])('rejects %j', (raw) => {
    expect(parseVersion(raw)).toBeNull();
  });

  it.each([
    ['1.6.20~ds1', '1.7.0', -1],
    ['v1.7.27', '1.7.27-1.amzn2023.0.1', 0],
    ['1.7.27', '1.7.3', 1],
    ['2.0.0-rc.1', '2.0.0', -1],
    ['2.0.0-rc.2', '2.0.0-rc.10', -1],
    ['2.0.0-beta.0', '2.0.0-rc.1', -1],
    ['2.0.0-rc.1', '1.7.99', 1],
    ['1.10.0', '1.9.9', 1],
  ] as const)('orders %s against %s as %i', (a, b, expected) => {
    expect(cmp(a, b)).toBe(expected);
    expect(cmp(b, a)).toBe(-expected || 0);
  });
});

describe('version policy', () => {
  it('calls Debian 1.6.20 past end of life by default', () => {
    const verdict = judgeVersion('1.6.20~ds1', DEFAULT_VERSION_POLICY);
    expect(verdict).toMatchObject({
      state: 'outdated',
      reasons: ['containerd 1.6 is past end of life (below the minimum 1.7.0)'],
    });
  });

  it('accepts a current AL2023 build', () => {
    expect(judgeVersion('1.7.27-1.amzn2023.0.1', DEFAULT_VERSION_POLICY).state).toBe('ok');
  });

  it('flags a known-bad version regardless of packaging suffix', () => {
    const policy = resolveVersionPolicy({
      minimum: '1.6.0',
      knownBad: [{ version: '1.7.27', reason: 'test' }],
    });
    expect(judgeVersion('v1.7.27', policy)).toMatchObject({
      state: 'outdated',
      reasons: ['known bad: test'],
    });
    expect(judgeVersion('1.7.28', policy).state).toBe('ok');
  });

  it('says "below the minimum" without end of life for a supported line', () => {
    const policy = resolveVersionPolicy({ minimum: '1.7.20' });
    expect(judgeVersion('1.7.3', policy)).toMatchObject({ reasons: ['below the minimum 1.7.20'] });
  });

  it('reports an unparseable version instead of guessing', () => {
    expect(judgeVersion('devel', DEFAULT_VERSION_POLICY)).toEqual({ state: 'unparseable', raw: 'devel' });
  });

  it.each([
    [{ minimum: 'seven' }, /versionPolicy\.minimum: not a version: "seven"/],
    [{ knownBad: [{ version: '1.7.0', reason: '' }] }, /versionPolicy\.knownBad\[0\]\.reason/],
    [{ knownBad: [{ version: 'x', reason: 'y' }] }, /versionPolicy\.knownBad\[0\]\.version/],
  ])('refuses a bad override %j', (override, message) => {
    expect(() => resolveVersionPolicy(override)).toThrow(CatalogError);
    expect(() => resolveVersionPolicy(override)).toThrow(message);
  });
});
