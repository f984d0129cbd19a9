import { describe, expect, it } from 'vitest';
import type { AuditAction } from '../../functions/core/incident.js';
import type { Finding, RemediationId } from '../../functions/core/model.js';
import {
  type FixRecord,
  fixRecords,
  orderByRate,
  rateLabel,
  successRates,
  windowStart,
} from '../../functions/core/success-rates.js';
import { incident } from '../slack/support.js';

const fd: Finding = {
  cause: 'fd-exhaustion',
  severity: 'critical',
  confidence: 'high',
  summary: 'fds',
  evidence: [],
  remediations: ['raise-nofile', 'restart-containerd'],
};
const socket: Finding = {
  ...fd,
  cause: 'socket-unreachable',
  remediations: ['restart-containerd', 'collect-goroutine-dump'],
};

function record(
  remediation: RemediationId,
  passed: boolean,
  cause: FixRecord['cause'] = 'fd-exhaustion',
): FixRecord {
  return {
    incidentId: 'x',
    cluster: 'prod',
    cause,
    remediation,
    passed,
    endedAt: '2026-11-01T00:00:00.000Z',
  };
}

describe('fixRecords', () => {
  const at = '2026-11-27T10:00:00.000Z';
  const line = (action: AuditAction, detail = '') => ({ at, action, actor: 'nodemedic', detail });

  it('reads each attempt and its verdict from the audit trail, in order', () => {
    const ended = incident({
      findings: [fd],
      audit: [
        line('fix-sent', 'restart-containerd: cmd-1'),
        line('fix-ok'),
        line('verify-failed'),
        line('rollback-sent', 'restart-containerd: cmd-2'),
        line('fix-sent', 'raise-nofile: cmd-3'),
        line('verify-ok'),
      ],
    });
    expect(fixRecords(ended, at).map((r) => [r.remediation, r.cause, r.passed])).toEqual([
      ['restart-containerd', 'fd-exhaustion', false],
      ['raise-nofile', 'fd-exhaustion', true],
    ]);
  });

  it('counts a fix that failed to run, or was never verified, as not passed', () => {
    const failed = incident({
      findings: [fd],
      audit: [line('fix-sent', 'raise-nofile: cmd-1'), line('fix-failed')],
    });
    const unverified = incident({
      findings: [fd],
      audit: [line('fix-sent', 'raise-nofile: cmd-1'), line('fix-ok')],
    });
    expect(fixRecords(failed, at)[0]!.passed).toBe(false);
    expect(fixRecords(unverified, at)[0]!.passed).toBe(false);
  });

  it('counts a verified fix whose node never came back Ready as not passed', () => {
    const notReady = incident({
      findings: [fd],
      audit: [
        line('fix-sent', 'raise-nofile: cmd-1'),
        line('fix-ok'),
        line('verify-ok'),
        line('ready-failed'),
      ],
    });
    const ready = incident({
      findings: [fd],
      audit: [line('fix-sent', 'raise-nofile: cmd-1'), line('fix-ok'), line('verify-ok'), line('ready-ok')],
    });
    expect(fixRecords(notReady, at)[0]!.passed).toBe(false);
    expect(fixRecords(ready, at)[0]!.passed).toBe(true);
  });

  it('records nothing for an incident that sent no fix, or one no finding explains', () => {
    expect(fixRecords(incident({ findings: [fd], audit: [line('analyzed')] }), at)).toEqual([]);
    expect(
      fixRecords(
        incident({ findings: [], audit: [line('fix-sent', 'raise-nofile: c'), line('verify-ok')] }),
        at,
      ),
    ).toEqual([]);
  });
});

describe('successRates and orderByRate', () => {
  const offered: RemediationId[] = ['raise-nofile', 'restart-containerd', 'collect-goroutine-dump'];

  it('gives no number to a fix without history, never a made-up one', () => {
    expect(successRates([fd, socket], offered, new Map())).toEqual({});
    expect(orderByRate(offered, {})).toEqual(offered);
  });

  it("counts each fix's records under the cause it answers here", () => {
    const history = new Map([
      [
        'fd-exhaustion' as const,
        [
          record('restart-containerd', true),
          record('restart-containerd', false),
          record('raise-nofile', true),
        ],
      ],
      [
        'socket-unreachable' as const,
        [
          record('collect-goroutine-dump', true, 'socket-unreachable'),
          record('restart-containerd', true, 'socket-unreachable'),
        ],
      ],
    ]);
    expect(successRates([fd, socket], offered, history)).toEqual({
      'raise-nofile': { passed: 1, total: 1 },
      'restart-containerd': { passed: 1, total: 2 },
      'collect-goroutine-dump': { passed: 1, total: 1 },
    });
  });

  it('orders within a tier only: rated by rate then attempts, then unrated in diagnosis order', () => {
    // raise-nofile is disruptive; the other two are safe.
    expect(
      orderByRate(offered, {
        'collect-goroutine-dump': { passed: 2, total: 2 },
        'raise-nofile': { passed: 0, total: 5 },
      }),
    ).toEqual(['raise-nofile', 'collect-goroutine-dump', 'restart-containerd']);
    expect(
      orderByRate(offered, {
        'restart-containerd': { passed: 9, total: 10 },
        'collect-goroutine-dump': { passed: 1, total: 1 },
      }),
    ).toEqual(['raise-nofile', 'collect-goroutine-dump', 'restart-containerd']);
    expect(
      orderByRate(['replace-node', 'reset-state'], {
        'reset-state': { passed: 4, total: 4 },
        'replace-node': { passed: 4, total: 8 },
      }),
    ).toEqual(['reset-state', 'replace-node']);
  });

  it('reads as "recovered n of m here", over a window of whole days', () => {
    expect(rateLabel({ passed: 11, total: 12 })).toBe('recovered 11 of 12 here');
    expect(windowStart(new Date('2026-11-29T00:00:00.000Z'), 90)).toBe('2026-08-31T00:00:00.000Z');
  });
});
