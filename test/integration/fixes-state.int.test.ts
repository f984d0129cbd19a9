/**
 * reset-state's own refusals, which need no daemon: a root dir it must never move. The fixes that
 * edit containerd's config or state (raise-grpc-message-size, reset-state) run against a real
 * containerd on lab nodes under real systemd: test/lab/fixes.ts.
 */
import { describe, expect, it } from 'vitest';
import { lastResult, runProgram } from '../support/fixes.js';

describe('reset-state without a daemon', () => {
  it.each([['/'], ['/var'], ['/var/lib/../../etc']])('refuses NODEMEDIC_ROOT=%s (exit 2)', (root) => {
    const r = runProgram('reset-state', { NODEMEDIC_ROOT: root });
    expect(r.status).toBe(2);
    expect(lastResult(r.stdout)).toMatchObject({ ok: false, changed: false });
  });
});
