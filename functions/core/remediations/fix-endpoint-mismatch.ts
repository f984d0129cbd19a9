import { defineRemediation } from './remediation.js';

/** kubelet's runtime endpoint and containerd's address disagree: which side is right is a human call. */
export const fixEndpointMismatch = defineRemediation({
  id: 'fix-endpoint-mismatch',
  title: 'Align kubelet and containerd endpoints (manual)',
  tier: 'manual',
  description:
    "A person makes kubelet's --container-runtime-endpoint and containerd's [grpc] address name the same socket, then restarts the side they changed.",
  action: { kind: 'manual' },
  verifyBy: { kind: 'none' },
  timeoutSeconds: 0,
  verify: ['socket-unreachable'],
  parameters: [],
  fixes: ['socket-unreachable'],
});
