/**
 * What the renderer needs to know about a remediation: its title and risk tier. The catalog under
 * functions/core/remediations/ is the source of truth; this lookup reads from it.
 */
import type { RemediationId, Tier } from '../model.js';

/** The renderer's view of one remediation. */
export interface RemediationMeta {
  readonly id: RemediationId;
  readonly title: string;
  readonly tier: Tier;
  readonly description: string;
}

const FALLBACK: Record<RemediationId, Omit<RemediationMeta, 'id'>> = {
  'restart-containerd': {
    title: 'Restart containerd',
    tier: 'safe',
    description: 'Restarts the containerd service.',
  },
  'restart-kubelet': { title: 'Restart kubelet', tier: 'safe', description: 'Restarts the kubelet service.' },
  'collect-goroutine-dump': {
    title: 'Collect a goroutine dump',
    tier: 'safe',
    description: 'Asks containerd for a goroutine dump and keeps it for the post-mortem.',
  },
  'raise-nofile': {
    title: "Raise containerd's open-file limit",
    tier: 'disruptive',
    description: 'Adds a systemd drop-in with a higher LimitNOFILE (never lower) and restarts containerd.',
  },
  'raise-grpc-message-size': {
    title: 'Raise the gRPC message size',
    tier: 'disruptive',
    description:
      'Backs up the config, raises max_recv/send_message_size, validates it and restarts containerd.',
  },
  'upgrade-containerd': {
    title: 'Upgrade containerd',
    tier: 'disruptive',
    description: 'Upgrades the containerd package and restarts it.',
  },
  'cordon-drain': {
    title: 'Cordon and drain',
    tier: 'disruptive',
    description: 'Cordons the node and evicts its pods.',
  },
  'reboot-instance': {
    title: 'Reboot the instance',
    tier: 'disruptive',
    description: 'Reboots the EC2 instance.',
  },
  'reset-state': {
    title: 'Reset containerd state',
    tier: 'destructive',
    description: 'Drains, moves the root dir aside with a timestamp and re-imports the pause image.',
  },
  'replace-node': {
    title: 'Replace the node',
    tier: 'destructive',
    description: 'Terminates the instance in its Auto Scaling group, which brings a fresh node.',
  },
  'fix-config-manually': {
    title: 'Fix the containerd config by hand',
    tier: 'manual',
    description: 'The config does not parse; a person must correct it (nodemedic never guesses).',
  },
  'fix-endpoint-mismatch': {
    title: "Align kubelet's runtime endpoint",
    tier: 'manual',
    description:
      "kubelet's container-runtime endpoint differs from containerd's gRPC address; a person must align them.",
  },
};

/** Title, tier and description of a remediation. */
export function remediationMeta(id: RemediationId): RemediationMeta {
  return { id, ...FALLBACK[id] };
}
