/**
 * The pure part of a sweep: each node's quick probe classified (table-driven over outputs the
 * script really printed against a real containerd), the sweep's rate limits as SSM takes them, and
 * the one summary message, escaped.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { SweepNodeResult } from '../../functions/core/ports.js';
import { renderSweepSummary } from '../../functions/core/render/sweep.js';
import {
  classifyProbe,
  concurrencyOf,
  errorBudgetOf,
  summarizeSweep,
  sweepHeadline,
  validateSweepLimits,
} from '../../functions/core/sweep.js';

const recorded = (name: string) =>
  readFileSync(new URL(`../fixtures/facts/recorded/${name}.json`, import.meta.url), 'utf8');
const OPTIONS = { versionPolicy: { minimum: '1.6.0' } };
const result = (output: string, status: SweepNodeResult['status'] = 'success', detail = 'Success') => ({
  instanceId: 'i-0abc123def4567890',
  status,
  detail,
  output,
});

/** A full-depth recording turned into what the quick probe prints: the slow sections skipped. */
function quick(name: string): string {
  const facts = JSON.parse(recorded(name));
  const skipped = {
    status: 'unknown',
    reason: "not run: quick probe (a cluster sweep's; the full diagnosis reads it)",
  };
  facts.logs = { ...facts.logs, ...skipped, matches: [] };
  facts.images = { ...facts.images, ...skipped };
  facts.processes = { ...facts.processes, ...skipped };
  facts.script.deadlineMs = 15_000;
  return JSON.stringify(facts);
}

describe('classifyProbe', () => {
  it.each([
    ['healthy', recorded('healthy'), { kind: 'healthy' }],
    ['healthy, quick', quick('healthy'), { kind: 'healthy' }],
    ['healthy 2.1.9, quick', quick('healthy-2.1.9'), { kind: 'healthy' }],
    ['daemon stopped', recorded('daemon-stopped'), { kind: 'findings', causes: ['containerd-down'] }],
    ['daemon stopped, quick', quick('daemon-stopped'), { kind: 'findings', causes: ['containerd-down'] }],
    ['socket removed, quick', quick('socket-removed'), { kind: 'findings', causes: ['socket-unreachable'] }],
    [
      'fd exhaustion, quick',
      quick('fd-exhaustion'),
      { kind: 'findings', causes: expect.arrayContaining(['fd-exhaustion']) },
    ],
  ])('%s', (_, output, verdict) => {
    expect(classifyProbe(result(output), OPTIONS)).toEqual(verdict);
  });

  it.each([
    ['undeliverable', 'DeliveryTimedOut', /^the probe was not delivered \(DeliveryTimedOut\)$/],
    ['timed-out', 'ExecutionTimedOut', /^the probe timed out \(ExecutionTimedOut\)$/],
    ['cancelled', 'Cancelled', /^the probe was cancelled/],
    ['failed', 'Failed', /^the probe failed/],
  ] as const)('a probe that %s with no output: unreachable', (status, detail, reason) => {
    expect(classifyProbe(result('', status, detail))).toEqual({
      kind: 'unreachable',
      reason: expect.stringMatching(reason),
    });
  });

  it('is never healthy when the output is not a facts document, or a section it reads is unknown', () => {
    expect(classifyProbe(result('{"schema":1'))).toMatchObject({
      kind: 'inconclusive',
      reason: expect.stringMatching(/not a facts document/),
    });
    const facts = JSON.parse(quick('healthy'));
    facts.disk = { ...facts.disk, status: 'unknown', reason: "not run: the run's 15 s deadline had passed" };
    expect(classifyProbe(result(JSON.stringify(facts)), OPTIONS)).toEqual({
      kind: 'inconclusive',
      reason: "the quick probe could not read disk (not run: the run's 15 s deadline had passed)",
    });
    expect(classifyProbe(result(quick('healthy'), 'failed', 'Failed'), OPTIONS)).toMatchObject({
      kind: 'inconclusive',
    });
  });
});

describe('sweep limits', () => {
  it.each([
    [{ maxConcurrency: '20%', maxErrors: '50%' }],
    [{ maxConcurrency: '1', maxErrors: '0' }],
    [{ maxConcurrency: '100%', maxErrors: '0%' }],
    [{ maxConcurrency: '9999999', maxErrors: '100%' }],
  ])('accepts %j, as SendCommand does', (limits) => {
    expect(validateSweepLimits(limits)).toBe(limits);
  });

  it.each([
    [{ maxConcurrency: '0', maxErrors: '1' }, /maxConcurrency/],
    [{ maxConcurrency: '0%', maxErrors: '1' }, /maxConcurrency/],
    [{ maxConcurrency: '101%', maxErrors: '1' }, /maxConcurrency/],
    [{ maxConcurrency: '10', maxErrors: '-1' }, /maxErrors/],
    [{ maxConcurrency: '10', maxErrors: '101%' }, /maxErrors/],
    [{ maxConcurrency: '10; rm', maxErrors: '1' }, /maxConcurrency/],
  ])('refuses %j', (limits, message) => {
    expect(() => validateSweepLimits(limits)).toThrow(message);
  });

  it('turns a limit into nodes at once and an error budget, as SSM reads them', () => {
    expect(concurrencyOf('20%', 6)).toBe(2);
    expect(concurrencyOf('20%', 1)).toBe(1);
    expect(concurrencyOf('3', 100)).toBe(3);
    expect(errorBudgetOf('50%', 6)).toBe(3);
    expect(errorBudgetOf('0', 6)).toBe(0);
  });
});

describe('the summary', () => {
  const summary = summarizeSweep({
    cluster: 'prod',
    source: 'sweep',
    targeted: 41,
    nodes: [
      ...Array.from({ length: 37 }, (_, i) => ({
        instanceId: `i-0${String(i).padStart(16, '0')}`,
        verdict: { kind: 'healthy' as const },
      })),
      { instanceId: 'i-0fff00000000000a1', verdict: { kind: 'findings', causes: ['containerd-down'] } },
      {
        instanceId: 'i-0fff00000000000a0',
        verdict: { kind: 'findings', causes: ['grpc-limits', 'outdated-version'] },
      },
      {
        instanceId: 'i-0fff00000000000b0',
        verdict: { kind: 'inconclusive', reason: 'the quick probe could not read disk (<!channel> & co)' },
      },
    ],
  });

  it('says what was checked, in counts', () => {
    expect(sweepHeadline(summary)).toBe(
      '40 of 41 nodes probed, 37 healthy, 2 with findings, 1 inconclusive; 1 not probed (no SSM agent answering, or not in time)',
    );
  });

  it('lists each unhealthy node with its causes and incident, everything from outside escaped', () => {
    const message = renderSweepSummary({
      alarmName: 'prod <!here> failed nodes',
      summary,
      nodes: [
        {
          instanceId: 'i-0fff00000000000a0',
          incidentId: 'prod#i-0fff00000000000a0#2026-11-27T03:14:07.125Z',
        },
        { instanceId: 'i-0fff00000000000a1', incidentId: null, note: 'not opened: not in the inventory' },
      ],
    });
    const blocks = JSON.stringify(message.blocks);
    expect(message.text).toContain(
      'Cluster prod: 40 of 41 nodes probed, 37 healthy, 2 with findings, 1 inconclusive; 1 not probed (no SSM agent answering, or not in time): i-0fff00000000000a0 (grpc-limits, outdated-version); i-0fff00000000000a1 (containerd-down); ',
    );
    expect(blocks).toContain('the alarm prod &lt;!here&gt; failed nodes names no node');
    expect(blocks).toContain('incident `prod#i-0fff00000000000a0#2026-11-27T03:14:07.125Z`');
    expect(blocks).toContain('not opened: not in the inventory');
    expect(blocks).toContain('&lt;!channel&gt; &amp; co');
    expect(`${message.text}${blocks}`).not.toMatch(/<!(here|channel)>/);
  });

  it('says there was nothing to diagnose when every node is healthy', () => {
    const all = summarizeSweep({
      cluster: 'prod',
      source: 'sweep',
      nodes: [{ instanceId: 'i-0abc123def4567890', verdict: { kind: 'healthy' } }],
    });
    expect(sweepHeadline(all)).toBe('1 node probed, 1 healthy');
    expect(JSON.stringify(renderSweepSummary({ alarmName: 'a', summary: all, nodes: [] }).blocks)).toContain(
      'No node to diagnose.',
    );
  });
});
