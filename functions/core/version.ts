/**
 * containerd version parsing and the version policy. Versions arrive in many spellings:
 * `v1.7.27` (upstream), `1.6.20~ds1` (Debian), `1.7.27-1.amzn2023.0.1` (Amazon Linux RPM),
 * `2.0.0-rc.1` (pre-release). Only the upstream core (major.minor.patch and a semver
 * pre-release) takes part in comparisons; distro packaging suffixes are kept for display.
 */
import { CatalogError } from './errors.js';

/** A parsed version. */
export interface Version {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  /** Semver pre-release identifiers (`rc.1` → ['rc', '1']); empty for a release. */
  readonly prerelease: readonly string[];
  /** The string as given, for evidence. */
  readonly raw: string;
}

const VERSION_RE = /^v?(\d+)\.(\d+)(?:\.(\d+))?(?:-((?:alpha|beta|rc|pre)[0-9A-Za-z.]*))?(?:[~+-].*)?$/;

/** Parse a containerd version string; null when it is not one (never throws). */
export function parseVersion(input: string): Version | null {
  const raw = input.trim();
  const m = VERSION_RE.exec(raw);
  if (!m) return null;
  return {
    major: Number(m[1]),
    minor: Number(m[2]),
    patch: m[3] === undefined ? 0 : Number(m[3]),
    prerelease: m[4] ? m[4].split('.').filter((p) => p !== '') : [],
    raw,
  };
}

function comparePrerelease(a: readonly string[], b: readonly string[]): number {
  // A release sorts above any of its pre-releases (semver §11).
  if (a.length === 0 || b.length === 0) return b.length - a.length;
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const nx = /^\d+$/.test(x) ? Number(x) : null;
    const ny = /^\d+$/.test(y) ? Number(y) : null;
    if (nx !== null && ny !== null) {
      if (nx !== ny) return nx < ny ? -1 : 1;
    } else if (nx !== null) return -1;
    else if (ny !== null) return 1;
    else if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** Order two parsed versions: negative, zero or positive. Packaging suffixes are ignored. */
export function compareVersions(a: Version, b: Version): number {
  return (
    a.major - b.major ||
    a.minor - b.minor ||
    a.patch - b.patch ||
    comparePrerelease(a.prerelease, b.prerelease)
  );
}

/** One version known to be broken, with why (shown as evidence). */
export interface KnownBadVersion {
  readonly version: string;
  readonly reason: string;
}

/** Which containerd versions nodemedic calls outdated. Data, overridable per deployment. */
export interface VersionPolicy {
  /** Lowest acceptable version; anything below is flagged `outdated-version`. */
  readonly minimum: string;
  /** Exact versions (packaging suffix ignored) with known bugs. */
  readonly knownBad: readonly KnownBadVersion[];
  /**
   * Release lines (`major.minor`) whose upstream support ended, so the evidence can say
   * "past end of life" rather than only "below the minimum".
   */
  readonly endOfLife: readonly string[];
}

/**
 * The default policy. 1.6 reached end of life upstream (so Debian bookworm's 1.6.20 is outdated),
 * hence a minimum of 1.7.0.
 */
export const DEFAULT_VERSION_POLICY: VersionPolicy = {
  minimum: '1.7.0',
  knownBad: [
    {
      version: '1.6.0',
      reason: 'CVE-2022-23648: image volumes can expose host files to containers (fixed in 1.6.1)',
    },
    {
      version: '1.5.9',
      reason: 'CVE-2022-23648: image volumes can expose host files to containers (fixed in 1.5.10)',
    },
  ],
  endOfLife: ['1.0', '1.1', '1.2', '1.3', '1.4', '1.5', '1.6'],
};

/** What a deployment may override in the default policy (`endOfLife` follows upstream, not a deployment). */
export interface VersionPolicyOverrides {
  readonly minimum?: string;
  readonly knownBad?: readonly KnownBadVersion[];
}

/**
 * Merge overrides into the default policy and validate every version in it.
 * Throws CatalogError naming the bad field.
 */
export function resolveVersionPolicy(overrides?: VersionPolicyOverrides): VersionPolicy {
  const policy: VersionPolicy = {
    ...DEFAULT_VERSION_POLICY,
    ...(overrides?.minimum !== undefined ? { minimum: overrides.minimum } : {}),
    ...(overrides?.knownBad !== undefined ? { knownBad: overrides.knownBad } : {}),
  };
  if (typeof policy.minimum !== 'string' || !parseVersion(policy.minimum)) {
    throw new CatalogError(`versionPolicy.minimum: not a version: ${JSON.stringify(policy.minimum)}`);
  }
  policy.knownBad.forEach((entry, i) => {
    if (!entry || typeof entry.version !== 'string' || !parseVersion(entry.version)) {
      throw new CatalogError(
        `versionPolicy.knownBad[${i}].version: not a version: ${JSON.stringify(entry?.version)}`,
      );
    }
    if (typeof entry.reason !== 'string' || entry.reason.trim() === '') {
      throw new CatalogError(`versionPolicy.knownBad[${i}].reason: must be a non-empty string`);
    }
  });
  return policy;
}

/** The verdict of a policy on one version. */
export type VersionVerdict =
  | { readonly state: 'ok'; readonly version: Version }
  | {
      readonly state: 'outdated';
      readonly version: Version;
      /** Why, one phrase per reason, for evidence. */
      readonly reasons: readonly string[];
    }
  | { readonly state: 'unparseable'; readonly raw: string };

/** Judge a version string against a (resolved) policy. */
export function judgeVersion(raw: string, policy: VersionPolicy): VersionVerdict {
  const version = parseVersion(raw);
  if (!version) return { state: 'unparseable', raw };
  const reasons: string[] = [];
  const minimum = parseVersion(policy.minimum);
  if (minimum && compareVersions(version, minimum) < 0) {
    const line = `${version.major}.${version.minor}`;
    reasons.push(
      policy.endOfLife.includes(line)
        ? `containerd ${line} is past end of life (below the minimum ${policy.minimum})`
        : `below the minimum ${policy.minimum}`,
    );
  }
  for (const bad of policy.knownBad) {
    const b = parseVersion(bad.version);
    if (b && compareVersions(version, b) === 0) reasons.push(`known bad: ${bad.reason}`);
  }
  return reasons.length > 0 ? { state: 'outdated', version, reasons } : { state: 'ok', version };
}
