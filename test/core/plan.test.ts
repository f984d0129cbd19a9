import { describe, expect, it } from 'vitest';
import { analyze, analyzeUnreachable } from '../../functions/core/analyze.js';
import type { Approval } from '../../functions/core/incident.js';
import type { RemediationId, Report } from '../../functions/core/model.js';
import {
  applyApproval,
  causeStillHolds,
  drainBlocker,
  planRemediations,
  verifyRecovery,
} from '../../functions/core/plan.js';
import { DEFAULT_SAFETY_POLICY as POLICY } from '../../functions/core/policy.js';
import { base, fixture, patched } from './support/facts.js';

const LENIENT = { versionPolicy: { minimum: '1.6.0' } };
const NOW = '2025-01-15T10:30:00.000Z';
const CALM = {
  policy: POLICY,
  cluster: { total: 10, notReady: 1 },
  inFlight: 0,
  attempts: 0,
  lastAttemptAt: null,
  now: NOW,
};

const healthy = analyze(base(), LENIENT);
const corrupt = analyze(
  patched(base(), (f) => {
    f.plugins.errored = ['io.containerd.metadata.v1/bolt', 'io.containerd.grpc.v1/cri'];
  }),
  LENIENT,
);
const fdsFull = analyze(
  patched(base(), (f) => {
    f.fds.open = 1024;
    f.fds.limitSoft = 1024;
    f.socket.call = { ok: false, exitCode: 124, elapsedMs: 15000, error: 'context deadline exceeded' };
  }),
  LENIENT,
);
const badConfig = analyze(
  patched(base(), (f) => {
    f.containerd.pid = null;
    f.socket.exists = false;
    f.socket.call = null;
    f.config.parses = false;
    f.config.parseError = 'failed to load TOML: (2, 1)';
  }),
  LENIENT,
);
const unreachable = analyzeUnreachable({
  agent: 'ConnectionLost',
  instanceState: 'running',
  systemStatus: 'ok',
  instanceStatus: 'impaired',
  consoleTail: '[  812.1] Out of memory: Killed process 2101 (containerd)\n',
});

describe('planRemediations', () => {
  it('offers runnable fixes from the findings, ranked and deduped, and lists manual ones apart', () => {
    expect(planRemediations(fdsFull, CALM)).toEqual({
      offered: ['raise-nofile', 'restart-containerd', 'collect-goroutine-dump'],
      manual: [],
      withheld: [],
      held: null,
    });
    expect(planRemediations(badConfig, CALM)).toEqual({
      offered: [],
      manual: ['fix-config-manually'],
      withheld: [],
      held: null,
    });
    expect(planRemediations(healthy, CALM)).toEqual({ offered: [], manual: [], withheld: [], held: null });
  });

  it.each([
    [
      'cluster-hold',
      { cluster: { total: 10, notReady: 4 } },
      /4 of 10 nodes are NotReady \(40%, above 30%\)/,
    ],
    ['in-flight', { inFlight: 1 }, /1 fix\(es\) already running in this cluster \(limit 1\)/],
    ['retry-budget', { attempts: 2 }, /2 fix attempt\(s\) on this node already \(budget 2\)/],
    [
      'cooldown',
      { attempts: 1, lastAttemptAt: '2025-01-15T10:20:00.000Z' },
      /next allowed in 5 min \(cooldown 15 min\)/,
    ],
  ] as const)('holds per-node fixes for %s, still naming what waits', (reason, change, detail) => {
    const plan = planRemediations(corrupt, { ...CALM, ...change });
    expect(plan.offered).toEqual(['replace-node', 'reset-state', 'cordon-drain']);
    expect(plan.held?.reason).toBe(reason);
    expect(plan.held?.detail).toMatch(detail);
  });

  it.each([
    ['one NotReady node in a small cluster is not a shared cause', { cluster: { total: 2, notReady: 1 } }],
    ['exactly the hold percentage is not above it', { cluster: { total: 10, notReady: 3 } }],
    [
      'fewer fixes in flight than the cap',
      { inFlight: 1, policy: { ...POLICY, maxFixesInFlightPerCluster: 2 } },
    ],
    ['the cooldown has passed', { attempts: 1, lastAttemptAt: '2025-01-15T10:15:00.000Z' }],
  ] as const)('does not hold when %s', (_name, change) => {
    expect(planRemediations(corrupt, { ...CALM, ...change }).held).toBeNull();
  });

  it('refuses an unreadable time', () => {
    expect(() => planRemediations(corrupt, { ...CALM, now: 'soon' })).toThrow(
      /now: expected an ISO-8601 time/,
    );
  });
});

describe('applyApproval', () => {
  const at = NOW;
  const approval = (remediation: RemediationId, user: string): Approval => ({ remediation, user, at });

  it('approves a non-destructive fix on one click, the requester included', () => {
    expect(
      applyApproval(
        { requested: null, approvals: [] },
        { remediation: 'restart-containerd', user: 'U1', at },
        POLICY,
      ),
    ).toEqual({
      outcome: 'approved',
      approvers: ['U1'],
    });
  });

  it('makes the first clicker of a destructive fix the requester, who does not count', () => {
    expect(
      applyApproval(
        { requested: null, approvals: [] },
        { remediation: 'reset-state', user: 'U1', at },
        POLICY,
      ),
    ).toEqual({
      outcome: 'needs-another',
      have: 0,
      need: 2,
    });
  });

  it('needs two distinct approvers besides the requester for a destructive fix', () => {
    const requested = { remediation: 'reset-state' as const, by: 'U1' };
    const second = applyApproval(
      { requested, approvals: [approval('reset-state', 'U1')] },
      { remediation: 'reset-state', user: 'U2', at },
      POLICY,
    );
    expect(second).toEqual({ outcome: 'needs-another', have: 1, need: 2 });
    const third = applyApproval(
      { requested, approvals: [approval('reset-state', 'U1'), approval('reset-state', 'U2')] },
      { remediation: 'reset-state', user: 'U3', at },
      POLICY,
    );
    expect(third).toEqual({ outcome: 'approved', approvers: ['U2', 'U3'] });
  });

  it.each([
    [
      'the requester approving their own destructive fix',
      { requested: { remediation: 'replace-node', by: 'U1' }, approvals: [approval('replace-node', 'U1')] },
      { remediation: 'replace-node', user: 'U1', at },
      /you requested this destructive fix/,
    ],
    [
      'the same user twice',
      {
        requested: { remediation: 'replace-node', by: 'U1' },
        approvals: [approval('replace-node', 'U1'), approval('replace-node', 'U2')],
      },
      { remediation: 'replace-node', user: 'U2', at },
      /already approved/,
    ],
    [
      'a manual fix',
      { requested: null, approvals: [] },
      { remediation: 'fix-config-manually', user: 'U1', at },
      /for a person to do/,
    ],
    [
      'another fix than the one requested',
      { requested: { remediation: 'restart-containerd', by: 'U1' }, approvals: [] },
      { remediation: 'reset-state', user: 'U2', at },
      /restart-containerd is already requested/,
    ],
  ] as const)('rejects %s', (_name, state, click, reason) => {
    const result = applyApproval(state, click, POLICY);
    expect(result.outcome).toBe('rejected');
    expect(result.outcome === 'rejected' && result.reason).toMatch(reason);
  });

  it('follows the policy size of the two-person rule', () => {
    const requested = { remediation: 'reset-state' as const, by: 'U1' };
    const approvals = [
      approval('reset-state', 'U1'),
      approval('reset-state', 'U2'),
      approval('reset-state', 'U3'),
    ];
    expect(
      applyApproval(
        { requested, approvals },
        { remediation: 'reset-state', user: 'U4', at },
        { ...POLICY, destructiveApprovers: 3 },
      ),
    ).toEqual({
      outcome: 'approved',
      approvers: ['U2', 'U3', 'U4'],
    });
  });
});

describe('causeStillHolds', () => {
  it.each<[string, Report, RemediationId, boolean]>([
    ['corrupt state, reset-state', corrupt, 'reset-state', true],
    ['healthy node, reset-state', healthy, 'reset-state', false],
    ['fds full, raise-nofile', fdsFull, 'raise-nofile', true],
    ['fds full, restart-kubelet', fdsFull, 'restart-kubelet', false],
    ['unreachable node, reboot-instance', unreachable, 'reboot-instance', true],
    ['goroutine dump (fixes nothing, nothing to recheck)', healthy, 'collect-goroutine-dump', true],
  ])('%s → %s', (_name, report, remediation, expected) => {
    expect(causeStillHolds(report, remediation)).toBe(expected);
  });
});

describe('verifyRecovery', () => {
  it('passes when containerd answers, bolt/CRI are healthy and the cause is gone', () => {
    expect(verifyRecovery(healthy, 'raise-nofile')).toEqual({
      recovered: true,
      remaining: [],
      detail: 'containerd answers, bolt metadata and CRI are healthy, and the cause is gone',
    });
  });

  it('fails while the cause remains or containerd does not answer', () => {
    const verdict = verifyRecovery(fdsFull, 'raise-nofile');
    expect(verdict.recovered).toBe(false);
    expect(verdict.remaining).toEqual(['fd-exhaustion']);
    expect(verdict.detail).toMatch(/containerd does not answer on its socket; still found: fd-exhaustion/);
  });

  it('fails while bolt or CRI is in error, even if the remediation verifies something else', () => {
    const verdict = verifyRecovery(corrupt, 'restart-containerd');
    expect(verdict).toMatchObject({ recovered: false, remaining: [] });
    expect(verdict.detail).toContain('io.containerd.metadata.v1/bolt, io.containerd.grpc.v1/cri in error');
  });

  it('does not let a log line from before the fix block recovery', () => {
    const report = analyze(
      patched(base(), (f) => {
        f.logs.containerd = [
          { id: 'too-many-open-files', count: 3, samples: ['accept4: too many open files'] },
        ];
      }),
      LENIENT,
    );
    expect(report.findings.map((f) => f.cause)).toEqual(['fd-exhaustion']);
    expect(verifyRecovery(report, 'raise-nofile').recovered).toBe(true);
  });

  it('never verifies an unreachable node', () => {
    expect(verifyRecovery(unreachable, 'reboot-instance')).toMatchObject({
      recovered: false,
      remaining: ['node-unreachable'],
    });
  });

  it('verifies kubelet recovery on a node', () => {
    const down = analyze(fixture('kubelet-down.json'));
    expect(verifyRecovery(down, 'restart-kubelet')).toMatchObject({
      recovered: false,
      remaining: ['kubelet-down'],
    });
    const up = analyze(
      patched(fixture('kubelet-down.json'), (f) => {
        f.kubelet.activeState = 'active';
        f.kubelet.healthz = 'ok';
      }),
    );
    expect(verifyRecovery(up, 'restart-kubelet').recovered).toBe(true);
  });
});

describe('planRemediations: a node that cannot drain itself', () => {
  /** Unreadable bolt metadata on a recorded 1.7.24 daemon, with the drain probe as `drain` says. */
  const corruptOn = (drain: { kubectl: boolean; kubeconfig: string | null }) =>
    analyze(
      patched(fixture('recorded/metadata-corrupt-1.7.24.json'), (f) => {
        f.drain = { status: 'ok', ...drain };
        // A Kubernetes node: kubelet runs there, so its pods must be drained first.
        f.kubelet = {
          status: 'ok',
          activeState: 'active',
          healthz: 'ok',
          runtimeEndpoint: `unix://${f.socket.path}`,
        };
      }),
      LENIENT,
    );
  const stockEks = corruptOn({ kubectl: false, kubeconfig: null });
  const node = (autoScalingGroup: string | null) => ({
    nodeName: 'ip-10-0-1-23.ec2.internal',
    autoScalingGroup,
  });

  it('withholds the fixes that drain, says why with the commands, and keeps replace-node with a group', () => {
    const plan = planRemediations(stockEks, { ...CALM, node: node('ng-1') });
    expect(plan.offered).toEqual(['replace-node']);
    expect(plan.withheld.map((w) => w.remediation)).toEqual(['reset-state', 'cordon-drain']);
    expect(plan.withheld[0]!.reason).toBe(
      'this node cannot drain itself: no kubectl, no admin kubeconfig ($KUBECONFIG, /etc/kubernetes/admin.conf, /root/.kube/config); a person drains it: `kubectl cordon ip-10-0-1-23.ec2.internal` then `kubectl drain ip-10-0-1-23.ec2.internal --ignore-daemonsets --delete-emptydir-data --timeout=240s`',
    );
  });

  it('offers no button at all without an Auto Scaling group: the commands are for a person', () => {
    const plan = planRemediations(stockEks, { ...CALM, node: node(null) });
    expect(plan.offered).toEqual([]);
    expect(plan.withheld.map((w) => w.remediation)).toEqual(['reset-state', 'cordon-drain', 'replace-node']);
  });

  it('says so in the findings before any approval', () => {
    expect(stockEks.notes.join('\n')).toMatch(
      /^this node cannot drain itself: no kubectl, .*, so reset-state and cordon-drain are not offered\. Replace the node where it has an Auto Scaling group, or a person drains it .*`kubectl cordon \S+`/m,
    );
  });

  it('offers the drain fixes when kubectl and an admin kubeconfig are there', () => {
    const able = corruptOn({ kubectl: true, kubeconfig: '/etc/kubernetes/admin.conf' });
    expect(drainBlocker(able.facts as never)).toBeNull();
    expect(planRemediations(able, { ...CALM, node: node('ng-1') }).offered).toEqual([
      'replace-node',
      'reset-state',
      'cordon-drain',
    ]);
    expect(able.notes.join('\n')).not.toContain('cannot drain');
  });

  it('reads a kubeconfig without kubectl as unable too', () => {
    const plan = planRemediations(corruptOn({ kubectl: false, kubeconfig: '/root/.kube/config' }), CALM);
    expect(plan.withheld[0]!.reason).toMatch(/^this node cannot drain itself: no kubectl;/);
  });

  it('needs no drain on a machine without kubelet (nothing runs pods there)', () => {
    const noKubelet = analyze(fixture('recorded/metadata-corrupt-1.7.24.json'), LENIENT);
    expect(noKubelet.facts).toMatchObject({ kubelet: { status: 'n/a' }, drain: { kubeconfig: null } });
    expect(planRemediations(noKubelet, CALM).offered).toEqual([
      'replace-node',
      'reset-state',
      'cordon-drain',
    ]);
  });

  it('keeps the old behaviour for facts without the drain probe (a 1.0 script)', () => {
    expect(planRemediations(corrupt, CALM).offered).toEqual(['replace-node', 'reset-state', 'cordon-drain']);
  });
});
