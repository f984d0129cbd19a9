import type { Remediation } from './remediation.js';

/** kubelet's runtime endpoint and containerd's address disagree: which side is right is a human call. */
export const fixEndpointMismatch: Remediation = {
  id: 'fix-endpoint-mismatch',
  title: 'Align kubelet and containerd endpoints (manual)',
  tier: 'manual',
  description:
    "A person makes kubelet's --container-runtime-endpoint and containerd's [grpc] address name the same socket, then restarts the side they changed.",
  runsOn: 'person',
  timeoutSeconds: 0,
  verify: ['socket-unreachable'],
  parameters: [],
  fixes: ['socket-unreachable'],
};
