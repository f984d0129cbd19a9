import { describe, expect, it } from 'vitest';
import { CATALOG, type Catalog, validateCatalog } from '../../functions/core/catalog.js';
import { CAUSE_LIST, CAUSES } from '../../functions/core/causes/index.js';
import { CatalogError } from '../../functions/core/errors.js';
import { CAUSE_IDS, REMEDIATION_IDS, type RemediationId, type Tier } from '../../functions/core/model.js';
import {
  getRemediation,
  REMEDIATION_LIST,
  type Remediation,
} from '../../functions/core/remediations/index.js';

function withRemediation(id: RemediationId, change: Partial<Remediation>): Catalog {
  return {
    causes: CAUSE_LIST,
    remediations: REMEDIATION_LIST.map((r) => (r.id === id ? { ...r, ...change } : r)),
  };
}

describe('the catalog', () => {
  it('is valid', () => {
    expect(() => validateCatalog(CATALOG)).not.toThrow();
  });

  it('has one cause module per cause id and one remediation module per remediation id, in id order', () => {
    expect(CAUSE_LIST.map((c) => c.id)).toEqual([...CAUSE_IDS]);
    expect([...REMEDIATION_LIST.map((r) => r.id)].sort()).toEqual([...REMEDIATION_IDS].sort());
  });

  it.each([
    ['restart-containerd', 'safe'],
    ['restart-kubelet', 'safe'],
    ['collect-goroutine-dump', 'safe'],
    ['raise-nofile', 'disruptive'],
    ['raise-grpc-message-size', 'disruptive'],
    ['upgrade-containerd', 'disruptive'],
    ['cordon-drain', 'disruptive'],
    ['reboot-instance', 'disruptive'],
    ['reset-state', 'destructive'],
    ['replace-node', 'destructive'],
    ['fix-config-manually', 'manual'],
    ['fix-endpoint-mismatch', 'manual'],
  ] as const satisfies readonly (readonly [RemediationId, Tier])[])(
    'puts %s in tier %s (design.md)',
    (id, tier) => {
      expect(getRemediation(id).tier).toBe(tier);
    },
  );

  it.each([
    ['restart-containerd', { kind: 'script' }, { kind: 'diagnose' }, 'node'],
    [
      'reboot-instance',
      { kind: 'instance', call: 'reboot' },
      { kind: 'diagnose', timeoutSeconds: 600, readyWithinSeconds: 900 },
      'instance',
    ],
    ['replace-node', { kind: 'instance', call: 'replace' }, { kind: 'instance-gone' }, 'instance'],
    ['fix-config-manually', { kind: 'manual' }, { kind: 'none' }, 'person'],
  ] as const)('says what %s does and how it is verified, as data', (id, action, verifyBy, runsOn) => {
    expect(getRemediation(id)).toMatchObject({ action, verifyBy, runsOn });
  });

  it('lists every problem of a catalog at once', () => {
    const broken = withRemediation('raise-nofile', {
      action: { kind: 'instance', call: 'hibernate' } as never,
      verifyBy: { kind: 'diagnose', readyWithinSeconds: 0 },
    });
    const message = (() => {
      try {
        validateCatalog(broken);
        return '';
      } catch (error) {
        return (error as Error).message;
      }
    })();
    expect(message).toContain('unknown instance call "hibernate"');
    expect(message).toContain('runsOn node does not match its instance action');
    expect(message).toContain(
      'verify readyWithinSeconds must be a whole number of seconds in 1..3600, got 0',
    );
  });

  it('offers only fixes a person does for config-invalid', () => {
    expect(CAUSES['config-invalid'].remediations).toEqual(['fix-config-manually']);
  });

  it('refuses an unknown remediation id at lookup', () => {
    expect(() => getRemediation('format-disk' as RemediationId)).toThrow(
      /unknown remediation id "format-disk"/,
    );
  });

  it.each<[string, Catalog, RegExp]>([
    [
      'an unknown cause id',
      {
        causes: [...CAUSE_LIST, { ...CAUSE_LIST[1]!, id: 'gremlins' as never }],
        remediations: REMEDIATION_LIST,
      },
      /cause "gremlins": unknown cause id/,
    ],
    [
      'a duplicate cause',
      { causes: [...CAUSE_LIST, CAUSE_LIST[2]!], remediations: REMEDIATION_LIST },
      /cause "config-invalid": duplicate/,
    ],
    [
      'a cause without a module',
      { causes: CAUSE_LIST.filter((c) => c.id !== 'disk-pressure'), remediations: REMEDIATION_LIST },
      /cause "disk-pressure": no module in the catalog/,
    ],
    [
      'a duplicate remediation',
      { causes: CAUSE_LIST, remediations: [...REMEDIATION_LIST, REMEDIATION_LIST[0]!] },
      /remediation "restart-containerd": duplicate/,
    ],
    [
      'an unknown remediation id',
      {
        causes: CAUSE_LIST,
        remediations: [...REMEDIATION_LIST, { ...REMEDIATION_LIST[0]!, id: 'rm-rf' as never }],
      },
      /remediation "rm-rf": unknown remediation id/,
    ],
    [
      'a runnable fix without a timeout',
      withRemediation('raise-nofile', { timeoutSeconds: 0 }),
      /"raise-nofile": a runnable fix needs a positive timeoutSeconds/,
    ],
    [
      'a runnable fix without a verifying cause',
      withRemediation('reset-state', { verify: [] }),
      /"reset-state": a runnable fix needs at least one verifying cause/,
    ],
    [
      'a cause referencing a remediation that does not exist',
      {
        causes: CAUSE_LIST.map((c) =>
          c.id === 'fd-exhaustion' ? { ...c, remediations: [...c.remediations, 'lower-nofile' as never] } : c,
        ),
        remediations: REMEDIATION_LIST,
      },
      /cause "fd-exhaustion": remediation "lower-nofile" does not exist/,
    ],
    [
      'a manual tier that nodemedic would run',
      withRemediation('fix-config-manually', { runsOn: 'node' }),
      /tier manual and runsOn person go together/,
    ],
    [
      'an unknown script parameter',
      withRemediation('raise-nofile', { parameters: ['nofile', 'shell' as never, 'mode'] }),
      /unknown script parameter "shell"/,
    ],
    [
      'a rollback script without the mode parameter',
      withRemediation('raise-nofile', { parameters: ['nofile'] }),
      /needs the "mode" parameter/,
    ],
    [
      'causes and fixes that disagree',
      withRemediation('restart-kubelet', { fixes: ['kubelet-down', 'disk-pressure'] }),
      /fixes "disk-pressure" but that cause does not offer it/,
    ],
    [
      'an unknown action kind',
      withRemediation('raise-nofile', { action: { kind: 'ansible' } as never }),
      /"raise-nofile": unknown action kind "ansible" \(one of script, instance, manual\)/,
    ],
    [
      'an instance call the inventory does not have',
      withRemediation('reboot-instance', { action: { kind: 'instance', call: 'hibernate' } as never }),
      /"reboot-instance": unknown instance call "hibernate" \(one of reboot, replace\)/,
    ],
    [
      'a runsOn that disagrees with the action',
      withRemediation('restart-containerd', { action: { kind: 'instance', call: 'reboot' } }),
      /"restart-containerd": runsOn node does not match its instance action/,
    ],
    [
      'an unknown verify strategy',
      withRemediation('raise-nofile', { verifyBy: { kind: 'vibes' } as never }),
      /"raise-nofile": unknown verify strategy "vibes"/,
    ],
    [
      'a manual action that is verified',
      withRemediation('fix-config-manually', { verifyBy: { kind: 'diagnose' } }),
      /"fix-config-manually": a manual action and the verify strategy none go together/,
    ],
    [
      'a fix nodemedic runs but never verifies',
      withRemediation('restart-kubelet', { verifyBy: { kind: 'none' } }),
      /"restart-kubelet": a manual action and the verify strategy none go together \(action script, verify none\)/,
    ],
    [
      'instance-gone for a script',
      withRemediation('reset-state', { verifyBy: { kind: 'instance-gone' } }),
      /"reset-state": verify instance-gone needs an instance action/,
    ],
    [
      'a readiness wait that is not whole seconds',
      withRemediation('raise-nofile', { verifyBy: { kind: 'diagnose', readyWithinSeconds: 2.5 } }),
      /"raise-nofile": verify readyWithinSeconds must be a whole number of seconds in 1\.\.3600, got 2\.5/,
    ],
    [
      'a readiness wait longer than an execution may last',
      withRemediation('reboot-instance', { verifyBy: { kind: 'diagnose', readyWithinSeconds: 7200 } }),
      /"reboot-instance": verify readyWithinSeconds must be a whole number of seconds in 1\.\.3600, got 7200/,
    ],
    [
      'a verification timeout of zero',
      withRemediation('reboot-instance', { verifyBy: { kind: 'diagnose', timeoutSeconds: 0 } }),
      /"reboot-instance": verify timeoutSeconds must be a whole number of seconds in 1\.\.1800, got 0/,
    ],
    [
      'a bound on a strategy that waits for nothing',
      withRemediation('replace-node', {
        verifyBy: { kind: 'instance-gone', readyWithinSeconds: 60 } as never,
      }),
      /"replace-node": verify instance-gone takes no readyWithinSeconds/,
    ],
  ])('fails with CatalogError for %s', (_name, catalog, message) => {
    expect(() => validateCatalog(catalog)).toThrow(CatalogError);
    expect(() => validateCatalog(catalog)).toThrow(message);
  });
});
