import { describe, expect, it } from 'vitest';
import { CatalogError } from '../../functions/core/errors.js';
import {
  DEFAULT_SAFETY_POLICY,
  type SafetyPolicy,
  validateSafetyPolicy,
} from '../../functions/core/policy.js';

describe('safety policy', () => {
  it('has the defaults of the safety model', () => {
    expect(DEFAULT_SAFETY_POLICY).toEqual({
      maxFixesInFlightPerCluster: 1,
      clusterHoldPercent: 30,
      clusterHoldMinNodes: 2,
      clusterHoldNodes: 5,
      clusterHoldMinutes: 60,
      nodeCooldownMinutes: 15,
      retryBudget: 2,
      approvalTimeoutMinutes: 15,
      destructiveApprovers: 2,
      flapCooldownMinutes: 10,
      shadowClusters: [],
      successRateWindowDays: 90,
      rollingFix: { enabled: true, allowedTiers: ['safe'] },
    });
    expect(validateSafetyPolicy({})).toEqual(DEFAULT_SAFETY_POLICY);
  });

  it('merges overrides over the defaults', () => {
    expect(validateSafetyPolicy({ maxFixesInFlightPerCluster: 3, approvalTimeoutMinutes: 20 })).toEqual({
      ...DEFAULT_SAFETY_POLICY,
      maxFixesInFlightPerCluster: 3,
      approvalTimeoutMinutes: 20,
    });
  });

  it('takes the clusters in shadow mode as a list of cluster names', () => {
    const policy = validateSafetyPolicy({ shadowClusters: ['prod', 'eu.prod-2'], successRateWindowDays: 30 });
    expect(policy.shadowClusters).toEqual(['prod', 'eu.prod-2']);
    expect(policy.successRateWindowDays).toBe(30);
    expect(Object.isFrozen(policy.shadowClusters)).toBe(true);
  });

  it('takes a rolling fix policy merged over its default, the batch within the fix slots', () => {
    const policy = validateSafetyPolicy({
      maxFixesInFlightPerCluster: 3,
      rollingFix: { batchSize: 3 } as never,
    });
    expect(policy.rollingFix).toEqual({ enabled: true, allowedTiers: ['safe'], batchSize: 3 });
    const wider = validateSafetyPolicy({ rollingFix: { allowedTiers: ['safe', 'disruptive'] } as never });
    expect(wider.rollingFix.allowedTiers).toEqual(['safe', 'disruptive']);
    expect(validateSafetyPolicy({ rollingFix: { enabled: false } as never }).rollingFix.enabled).toBe(false);
  });

  it.each<[string, unknown, RegExp]>([
    [
      'a rolling batch wider than the fix slots',
      { maxFixesInFlightPerCluster: 2, rollingFix: { batchSize: 3 } },
      /rollingFix\.batchSize: 3 is above maxFixesInFlightPerCluster \(2\)/,
    ],
    [
      'a destructive rolling fix',
      { rollingFix: { allowedTiers: ['safe', 'destructive'] } },
      /rollingFix\.allowedTiers: destructive fixes are never rolled/,
    ],
    [
      'a rolling batch of 0',
      { rollingFix: { batchSize: 0 } },
      /rollingFix\.batchSize: expected a whole number/,
    ],
    [
      'a rolling switch as a string',
      { rollingFix: { enabled: 'yes' } },
      /rollingFix\.enabled: expected true or false/,
    ],
    ['an unknown rolling field', { rollingFix: { batches: 2 } }, /rollingFix\.batches: unknown field/],
    [
      'no rolling tier',
      { rollingFix: { allowedTiers: [] } },
      /rollingFix\.allowedTiers: expected a non-empty list/,
    ],
    [
      'approval window reaching EKS auto-repair',
      { approvalTimeoutMinutes: 30 },
      /approvalTimeoutMinutes: 30 is outside 1\.\.29 .*EKS auto-repair/,
    ],
    [
      'a single destructive approver',
      { destructiveApprovers: 1 },
      /destructiveApprovers: 1 is outside 2\.\.5/,
    ],
    ['no fixes in flight', { maxFixesInFlightPerCluster: 0 }, /maxFixesInFlightPerCluster: 0 is outside/],
    ['a fractional retry budget', { retryBudget: 1.5 }, /retryBudget: expected a whole number, got 1\.5/],
    ['a percentage over 100', { clusterHoldPercent: 150 }, /clusterHoldPercent: 150 is outside 1\.\.100/],
    ['a negative cooldown', { nodeCooldownMinutes: -1 }, /nodeCooldownMinutes: -1 is outside/],
    ['a string', { retryBudget: '2' }, /retryBudget: expected a number, got "2"/],
    ['an unknown field', { maxFixes: 2 }, /safety policy\.maxFixes: unknown field/],
    ['not an object', null, /safety policy: expected an object, got null/],
    [
      'shadow clusters as one string',
      { shadowClusters: 'prod' },
      /shadowClusters: expected a list of cluster names, got "prod"/,
    ],
    [
      'a shadow cluster that is no cluster name',
      { shadowClusters: ['prod', 'a b'] },
      /shadowClusters: "a b" is not a cluster name/,
    ],
    [
      'a shadow cluster listed twice',
      { shadowClusters: ['prod', 'prod'] },
      /shadowClusters: prod is listed twice/,
    ],
    [
      'a success-rate window over a year',
      { successRateWindowDays: 400 },
      /successRateWindowDays: 400 is outside 1\.\.365/,
    ],
  ])('refuses %s, naming the field', (_name, input, message) => {
    expect(() => validateSafetyPolicy(input as Partial<SafetyPolicy>)).toThrow(CatalogError);
    expect(() => validateSafetyPolicy(input as Partial<SafetyPolicy>)).toThrow(message);
  });
});
