/** Test helpers: load facts fixtures and derive variants by patching a deep copy. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseFacts } from '../../../functions/core/analyze.js';
import type { Facts } from '../../../functions/core/facts.js';

/** Facts with every `readonly` removed, so a test can patch one field. */
export type Draft<T> = T extends readonly (infer U)[]
  ? Draft<U>[]
  : T extends object
    ? { -readonly [K in keyof T]: Draft<T[K]> }
    : T;

export const FIXTURES = fileURLToPath(new URL('../../fixtures/facts/', import.meta.url));

/** Raw text of a fixture under test/fixtures/facts/. */
export function fixtureText(name: string): string {
  return readFileSync(`${FIXTURES}${name}`, 'utf8');
}

/** A fixture through the real parser, so fixtures stay valid against the contract. */
export function fixture(name: string): Facts {
  return parseFacts(fixtureText(name));
}

/** A patched deep copy of `base`. */
export function patched(base: Facts, change: (draft: Draft<Facts>) => void): Facts {
  const draft = structuredClone(base) as Draft<Facts>;
  change(draft);
  return draft as Facts;
}

/** The sandbox base (Debian containerd 1.6.20, no systemd, no kubelet). */
export const base = (): Facts => fixture('healthy.json');

/** The same base as a systemd node with a healthy kubelet, for kubelet and endpoint cases. */
export const nodeBase = (): Facts =>
  patched(base(), (f) => {
    f.systemd = true;
    f.containerd.service = { status: 'ok', activeState: 'active', subState: 'running', nRestarts: 0 };
    f.containerd.pidSource = 'systemd';
    f.kubelet = {
      status: 'ok',
      activeState: 'active',
      healthz: 'ok',
      runtimeEndpoint: `unix://${f.socket.path}`,
    };
  });
