/**
 * Gate for tests that need a real containerd (the Debian package). Locally, without it, such a
 * suite is skipped; under CI (`CI=true`) a missing containerd fails the run instead, so a CI
 * machine without it can never pass by skipping.
 */
import { describe } from 'vitest';
import { containerdInstalled } from '../../functions/local/sandbox/containerd.js';

/** True when containerd, ctr and prlimit are present; throws under CI when they are not. */
export function requireContainerd(): boolean {
  if (containerdInstalled()) return true;
  if (process.env.CI === 'true') {
    throw new Error(
      'containerd, ctr and prlimit are required under CI=true (apt-get install containerd util-linux)',
    );
  }
  return false;
}

/** `describe` that runs only with a real containerd (and fails under CI without one). */
export const describeWithContainerd = describe.skipIf(!requireContainerd());
