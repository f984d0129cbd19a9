import type { Evidence } from '../model.js';
import type { Cause } from './cause.js';
import { containerdAnswers, why } from './helpers.js';

/** Where EKS AMIs (AL2023) keep the pause image; named when the node has no tarball at all. */
const EKS_PAUSE_TAR = '/etc/eks/pause.tar';

/**
 * What a person runs to bring the sandbox image back: the node's own tarball when it has one,
 * else a pull with credentials (on EKS the image lives in ECR, which containerd cannot log into).
 */
function sandboxImageCommands(image: string, pauseTar: string | null): string {
  if (pauseTar !== null)
    return `\`ctr -n k8s.io images import ${pauseTar}\` (this node's copy of the pause image)`;
  return `\`ctr -n k8s.io images pull --user <user:password> ${image}\` with the registry's credentials (for ECR: \`--user AWS:$(aws ecr get-login-password)\`), since this node has no ${EKS_PAUSE_TAR} to import`;
}

/** The sandbox (pause) image the config names is not in the CRI's `k8s.io` namespace. */
export const sandboxImageMissing: Cause = {
  id: 'sandbox-image-missing',
  title: 'sandbox (pause) image',
  why: 'Every pod starts in a sandbox made from the pause image; without it the CRI must pull it, which on EKS fails (ECR needs credentials containerd does not hold), so no new pod can start.',
  // Nothing nodemedic runs fits: a person imports or pulls the image (the finding names how).
  remediations: [],
  detect(facts) {
    const img = facts.images;
    // Scripts before 1.1 did not look; with the daemon down there is nothing to list.
    if (!img) return { state: 'not-matched' };
    if (img.status !== 'ok') {
      return containerdAnswers(facts) ? { state: 'unknown', reason: why(img) } : { state: 'not-matched' };
    }
    if (img.sandboxImage === null || img.sandboxPresent !== false) return { state: 'not-matched' };
    const how = sandboxImageCommands(img.sandboxImage, img.pauseTar);
    // Only kubelet makes pod sandboxes: on a machine without it the image is not needed now.
    if (facts.kubelet.status === 'n/a') {
      return {
        state: 'not-matched',
        notes: [
          `the sandbox image ${img.sandboxImage} is not in namespace ${img.namespace}; no kubelet runs here, so no pod needs it now (a node would need ${how})`,
        ],
      };
    }
    const evidence: Evidence[] = [
      {
        source: 'images',
        text: `${img.sandboxImage} (the sandbox image ${facts.config.path} names) is not among the ${img.total ?? '?'} entries of \`ctr -n ${img.namespace} images ls -q\``,
      },
      {
        source: 'images',
        text:
          img.pauseTar !== null ? `${img.pauseTar} exists on this node` : `no ${EKS_PAUSE_TAR} on this node`,
      },
    ];
    return {
      state: 'matched',
      finding: {
        cause: 'sandbox-image-missing',
        severity: 'warning',
        confidence: 'high',
        summary: `the sandbox image ${img.sandboxImage} is missing from namespace ${img.namespace}: no new pod can start`,
        evidence,
        remediations: [],
      },
      notes: [`to restore the sandbox image ${img.sandboxImage}, a person runs ${how}`],
    };
  },
};
