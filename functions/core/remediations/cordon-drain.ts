import { defineRemediation } from './remediation.js';

/**
 * Cordon the node and drain its pods. A mitigation more than a cure: it stops new pods landing on
 * a starved node and is the required first step before destructive work on its state.
 */
export const cordonDrain = defineRemediation({
  id: 'cordon-drain',
  title: 'Cordon and drain the node',
  tier: 'disruptive',
  description:
    'Cordons the node so no new pods land on it and drains its pods (kubectl with the node kubeconfig), respecting PodDisruptionBudgets.',
  action: { kind: 'script' },
  verifyBy: { kind: 'diagnose' },
  timeoutSeconds: 600,
  verify: ['resource-starvation'],
  parameters: ['nodeName'],
  fixes: ['resource-starvation', 'disk-pressure', 'state-corruption'],
  needsDrain: true,
});
