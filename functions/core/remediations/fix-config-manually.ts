import type { Remediation } from './remediation.js';

/** A config containerd cannot parse is fixed by a person: guessing at TOML edits is unsafe. */
export const fixConfigManually: Remediation = {
  id: 'fix-config-manually',
  title: 'Fix the containerd config (manual)',
  tier: 'manual',
  description:
    'A person corrects the config at the line containerd names, validates it with `containerd config dump`, then restarts containerd.',
  runsOn: 'person',
  timeoutSeconds: 0,
  verify: ['config-invalid'],
  parameters: [],
  fixes: ['config-invalid'],
};
