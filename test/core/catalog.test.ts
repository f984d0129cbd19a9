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
  ])('fails with CatalogError for %s', (_name, catalog, message) => {
    expect(() => validateCatalog(catalog)).toThrow(CatalogError);
    expect(() => validateCatalog(catalog)).toThrow(message);
  });
});
