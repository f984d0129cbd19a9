import { defineRemediation } from './remediation.js';

/**
 * A config containerd cannot parse, or one its CRI plugin rejects, is fixed by a person: guessing
 * at TOML edits is unsafe.
 */
export const fixConfigManually = defineRemediation({
  id: 'fix-config-manually',
  title: 'Fix the containerd config (manual)',
  tier: 'manual',
  description:
    'A person corrects the config at the line or keys containerd names, validates it with `containerd config dump`, then restarts containerd.',
  action: { kind: 'manual' },
  verifyBy: { kind: 'none' },
  timeoutSeconds: 0,
  verify: ['config-invalid', 'cri-config-error'],
  parameters: [],
  fixes: ['config-invalid', 'cri-config-error'],
});
