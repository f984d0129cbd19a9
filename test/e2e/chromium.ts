/**
 * Debian's chromium for the browser suites, launched as toolchain.md measured it: headless, with no
 * first-run, background or update traffic (the machine may be offline). Without chromium a suite is
 * skipped locally and fails under CI=true, like the containerd gate in test/support/containerd.ts.
 */
import { existsSync } from 'node:fs';
import { requireContainerd } from '../support/containerd.js';

/** Debian's chromium (`apt-get install chromium`); playwright cannot download browsers here. */
export const CHROMIUM = '/usr/bin/chromium';

/** The launch flags: headless, offline, no first-run or background traffic. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** True when this machine can run a browser suite; under CI a missing piece fails the run. */
export function requireTools(needContainerd: boolean): boolean {
  if (!existsSync(CHROMIUM)) {
    if (process.env.CI === 'true') {
      throw new Error(`chromium (${CHROMIUM}) is required under CI=true (apt-get install chromium)`);
    }
    return false;
  }
  return !needContainerd || requireContainerd();
}
