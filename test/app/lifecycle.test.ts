/**
 * Nothing stuck: an execution that ends FAILED, TIMED_OUT or ABORTED (the escalate step itself
 * failed, the execution's time limit, a StopExecution) ends its incident as escalated, says why in
 * the thread with the on-call group mentioned, expires the buttons and frees the node, once, however
 * often the event is delivered; and a Slack failure halfway through is made good by the retry.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_POLL_ATTEMPTS } from '../../functions/app/contract.js';
import {
  analyzeStep,
  awaitApprovalStep,
  escalateStep,
  giveUpStep,
  handleExecutionEnded,
  outcomeStep,
  sendStep,
} from '../../functions/app/steps.js';
import type { ExecutionEnded } from '../../functions/core/execution.js';
import type { Pager } from '../../functions/core/pager.js';
import {
  awaitingFindings,
  CHANNEL,
  type Harness,
  NODES,
  ONCALL_GROUP,
  openQuietly,
  recorded,
  startHarness,
} from './support.js';

/** Every ended incident's thread closes with its timeline: the message before it is the one a step posted. */
const notTimeline = (request: { body: Record<string, unknown> }) =>
  !String(request.body.text).startsWith('Timeline of');

let h: Harness | null = null;
afterEach(async () => {
  await h?.close();
  h = null;
});

const waiting = (harness: Harness) => awaitingFindings(harness);

const ARN = 'arn:aws:states:eu-west-1:123456789012';
function ended(incidentId: string, over: Partial<ExecutionEnded> = {}): ExecutionEnded {
  return {
    incidentId,
    executionArn: `${ARN}:execution:nodemedic:x`,
    stateMachineArn: `${ARN}:stateMachine:nodemedic`,
    status: 'FAILED',
    error: 'Lambda.Unknown',
    cause: 'The escalate function <!channel> failed <http://evil.example|Approve here>',
    ...over,
  };
}

function threadText(harness: Harness, incidentId: string): Promise<string> {
  return harness.store.get(incidentId).then((incident) =>
    harness.standIn
      .messages(CHANNEL)
      .filter((m) => m.thread_ts === incident!.card!.ts || m.ts === incident!.card!.ts)
      .map((m) => `${m.text}\n${JSON.stringify(m.blocks)}`)
      .join('\n'),
  );
}

describe('an execution that ended before its incident', () => {
  it('escalates the incident, tells the thread why with the on-call group, expires the buttons, and frees the node', async () => {
    h = await startHarness({});
    const id = await waiting(h);
    expect(await handleExecutionEnded(h.deps, ended(id))).toEqual({ kind: 'escalated', incidentId: id });

    const incident = (await h.store.get(id))!;
    expect(incident).toMatchObject({ phase: 'escalated', taskToken: null });
    expect(incident.audit.map((a) => a.action)).toEqual(
      expect.arrayContaining(['execution-ended', 'escalation-posted']),
    );
    const reply = h.standIn.requestsOf('chat.postMessage').filter(notTimeline).at(-1)!.body;
    const said = `${reply.text}\n${JSON.stringify(reply.blocks)}`;
    expect(said).toContain(`<!subteam^${ONCALL_GROUP}>`);
    expect(said).toContain('workflow execution failed (Lambda.Unknown: The escalate function');
    // Its diagnosis was analyzed: no command is said to be running.
    expect(said).not.toContain('may still be running');
    // The cause is Step Functions' text: escaped, so it mentions nobody and links nowhere.
    expect(said).not.toContain('<!channel>');
    expect(said).not.toContain('<http://evil');
    expect(said).toContain('&lt;!channel&gt;');
    const findings = h.standIn.message(CHANNEL, incident.findingsMessage!.ts)!;
    expect(JSON.stringify(findings.blocks)).not.toContain('nm_fix:');
    expect(JSON.stringify(findings.blocks)).toContain('Expired: The workflow execution failed');
    const card = h.standIn.message(CHANNEL, incident.card!.ts)!;
    expect(`${card.text}${JSON.stringify(card.blocks)}`).toContain('Escalated');
    expect(`${card.text}${JSON.stringify(card.blocks)}`).not.toContain('<http://evil');
    // The node's lock is gone: its next alarm opens a new incident.
    expect(await h.store.findOpenByNode(incident.nodeKey)).toBeNull();
    expect(await openQuietly(h)).not.toBe(id);
  });

  it.each([
    ['TIMED_OUT', 'States.Timeout', null, "timed out (the execution's time limit) (States.Timeout)"],
    ['ABORTED', null, null, 'was stopped before'],
  ] as const)('says a %s execution ended as it did', async (status, error, cause, says) => {
    h = await startHarness({});
    const id = await waiting(h);
    await handleExecutionEnded(h.deps, ended(id, { status, error, cause }));
    expect(await threadText(h, id)).toContain(says);
  });

  it('frees the cluster’s fix slot of an incident stuck while fixing', async () => {
    h = await startHarness({});
    const id = await openQuietly(h);
    await h.store.update(id, (c) => ({ ...c, phase: 'fixing' }));
    expect(await h.store.countInFlight('prod')).toBe(1);
    await handleExecutionEnded(h.deps, ended(id, { status: 'TIMED_OUT' }));
    expect(await h.store.countInFlight('prod')).toBe(0);
  });

  it('changes nothing when the event is delivered again', async () => {
    h = await startHarness({});
    const id = await waiting(h);
    await handleExecutionEnded(h.deps, ended(id));
    const posts = h.standIn.requestsOf('chat.postMessage').length;
    const updates = h.standIn.requestsOf('chat.update').length;
    const version = (await h.store.get(id))!.version;
    expect(await handleExecutionEnded(h.deps, ended(id))).toEqual({
      kind: 'already-ended',
      incidentId: id,
      phase: 'escalated',
    });
    expect(h.standIn.requestsOf('chat.postMessage')).toHaveLength(posts);
    expect(h.standIn.requestsOf('chat.update')).toHaveLength(updates);
    expect((await h.store.get(id))!.version).toBe(version);
  });

  it('leaves an incident that ended on its own alone (its escalate step ran, then the execution failed)', async () => {
    h = await startHarness({});
    const id = await waiting(h);
    await escalateStep(h.deps, { incidentId: id, reason: 'approval-timeout' });
    const posts = h.standIn.requestsOf('chat.postMessage').length;
    expect(await handleExecutionEnded(h.deps, ended(id))).toMatchObject({ kind: 'already-ended' });
    expect(h.standIn.requestsOf('chat.postMessage')).toHaveLength(posts);
  });

  it('answers not-found for an incident that does not exist', async () => {
    h = await startHarness({});
    expect(await handleExecutionEnded(h.deps, ended('prod#i-0abc#gone'))).toEqual({
      kind: 'not-found',
      incidentId: 'prod#i-0abc#gone',
    });
    expect(h.standIn.requestsOf('chat.postMessage')).toHaveLength(0);
  });

  it('posts again on the retry when Slack failed halfway through, so the thread always says it ended', async () => {
    h = await startHarness({});
    const id = await waiting(h);
    h.standIn.failNext('chat.postMessage', 'internal_error');
    await expect(handleExecutionEnded(h.deps, ended(id))).rejects.toThrow(/internal_error/);
    // The record ended first: the node is free whatever Slack does.
    expect((await h.store.get(id))!.phase).toBe('escalated');
    expect(await h.store.findOpenByNode((await h.store.get(id))!.nodeKey)).toBeNull();
    expect(await threadText(h, id)).not.toContain(`<!subteam^${ONCALL_GROUP}>`);

    expect(await handleExecutionEnded(h.deps, ended(id))).toMatchObject({ kind: 'escalated' });
    expect(await threadText(h, id)).toContain(`<!subteam^${ONCALL_GROUP}>`);
    expect(await handleExecutionEnded(h.deps, ended(id))).toMatchObject({ kind: 'already-ended' });
  });

  it('posts the escalation again when the escalate step is retried after a Slack failure', async () => {
    h = await startHarness({});
    const id = await waiting(h);
    h.standIn.failNext('chat.postMessage', 'ratelimited');
    await expect(escalateStep(h.deps, { incidentId: id, reason: 'approval-timeout' })).rejects.toThrow();
    expect(await threadText(h, id)).not.toContain(`<!subteam^${ONCALL_GROUP}>`);
    await escalateStep(h.deps, { incidentId: id, reason: 'approval-timeout' });
    expect(await threadText(h, id)).toContain(`<!subteam^${ONCALL_GROUP}>`);
    const posted = h.standIn.requestsOf('chat.postMessage').length;
    await escalateStep(h.deps, { incidentId: id, reason: 'approval-timeout' });
    expect(h.standIn.requestsOf('chat.postMessage')).toHaveLength(posted);
  });
});

describe('a node held in a cluster incident', () => {
  it('is not paged when its wait for a rolling fix runs out; a node of its own is', async () => {
    const pages: string[] = [];
    const pager: Pager = {
      send: async (event) => {
        if (event.event_action === 'trigger') pages.push(event.dedup_key);
      },
    };
    h = await startHarness({ pager });
    const own = await waiting(h);
    await escalateStep(h.deps, { incidentId: own, reason: 'approval-timeout' });
    expect(pages).toHaveLength(1);

    // Arrival did not hold it; by its analysis the storm had grown (EC2 counts 6 of 10 NotReady):
    // the analysis holds it, says so on its record, and its wait for the roll runs out unpaged.
    h.runner.queue('diagnose', { stdout: recorded('daemon-stopped') });
    const held = await openQuietly(h);
    expect((await h.store.get(held))!.clusterIncident ?? null).toBeNull();
    const storm = (h.inventory as unknown as { notReady: Set<string> }).notReady;
    for (const node of NODES.slice(1, 6)) storm.add(node.instanceId);
    const sent = await sendStep(h.deps, { incidentId: held, purpose: 'diagnose' });
    const analysis = await analyzeStep(h.deps, { incidentId: held, commandId: sent.commandId });
    expect(analysis).toMatchObject({ held: true, awaitApproval: true });
    expect((await h.store.get(held))!.clusterIncident).toBeTruthy();
    // The cluster incident this analysis opened paged once, for every node it holds.
    expect(pages).toHaveLength(2);
    expect(pages[1]).toMatch(/cluster/);
    await awaitApprovalStep(h.deps, { incidentId: held, taskToken: 'token-held' });
    await escalateStep(h.deps, { incidentId: held, reason: 'approval-timeout' });
    expect((await h.store.get(held))!.phase).toBe('escalated');
    expect(pages).toHaveLength(2);
    // A held node whose fix failed is still paged: that is not the storm's common wait.
    const failed = await waiting(h);
    expect((await h.store.get(failed))!.clusterIncident).toBeTruthy();
    await escalateStep(h.deps, { incidentId: failed, reason: 'fix-failed' });
    expect(pages).toHaveLength(3);
    expect(pages[2]).toContain(failed);
  });
});

describe('buttons an approval could not close', () => {
  /** Approved, verified, and Slack failed (or not) to turn the buttons into text at the click. */
  async function approvedAndVerifying(harness: Harness, closed: boolean): Promise<string> {
    const id = await waiting(harness);
    const at = new Date().toISOString();
    await harness.store.update(id, (c) => ({
      ...c,
      phase: 'verifying',
      taskToken: null,
      audit: [
        ...c.audit,
        { at, action: 'approved', actor: 'U0ALICE', detail: 'restart-containerd' },
        ...(closed
          ? []
          : [{ at, action: 'buttons-not-closed' as const, actor: 'nodemedic', detail: 'ratelimited' }]),
      ],
    }));
    return id;
  }

  it('are turned into text by the outcome', async () => {
    h = await startHarness({});
    const id = await approvedAndVerifying(h, false);
    const findings = (await h.store.get(id))!.findingsMessage!;
    expect(JSON.stringify(h.standIn.message(CHANNEL, findings.ts)!.blocks)).toContain('nm_fix:');
    await outcomeStep(h.deps, { incidentId: id, kind: 'recovered', remediation: 'restart-containerd' });
    expect(JSON.stringify(h.standIn.message(CHANNEL, findings.ts)!.blocks)).not.toContain('nm_fix:');
  });

  it('are left alone by the outcome when the approval closed them', async () => {
    h = await startHarness({});
    const id = await approvedAndVerifying(h, true);
    const updates = h.standIn.requestsOf('chat.update').length;
    await outcomeStep(h.deps, { incidentId: id, kind: 'recovered', remediation: 'restart-containerd' });
    // The card only.
    expect(h.standIn.requestsOf('chat.update')).toHaveLength(updates + 1);
  });
});

describe('a poll that gives up', () => {
  /** A fix approved and sent whose command never finishes. */
  async function hangingFix(harness: Harness): Promise<{ id: string; commandId: string }> {
    const id = await openQuietly(harness);
    await harness.store.update(id, (c) => ({
      ...c,
      phase: 'fixing',
      offered: ['restart-containerd'],
      audit: [...c.audit, { at: new Date().toISOString(), action: 'approved', actor: 'U0ALICE', detail: '' }],
    }));
    harness.runner.queue('restart-containerd', { stdout: '', status: 'pending' });
    const sent = await sendStep(harness.deps, {
      incidentId: id,
      purpose: 'fix',
      remediation: 'restart-containerd',
    });
    return { id, commandId: sent.commandId! };
  }

  it('cancels the command and says so in the audit and the thread, once however often it is retried', async () => {
    h = await startHarness({});
    const { id, commandId } = await hangingFix(h);
    const last = { incidentId: id, commandId, attempt: MAX_POLL_ATTEMPTS };
    expect(await giveUpStep(h.deps, last)).toEqual({ cancelled: true });
    expect(h.runner.cancelled).toEqual([commandId]);
    const audit = (await h.store.get(id))!.audit.filter((a) => a.action === 'command-cancelled');
    expect(audit).toHaveLength(1);
    expect(audit[0]!.detail).toMatch(
      /still running after 44 polls \(about 10 minutes\): nodemedic stopped waiting and cancelled it/,
    );
    const said = await threadText(h, id);
    expect(said).toContain(
      `The fix command restart-containerd (command ${commandId}): still running after 44 polls`,
    );

    const posts = h.standIn.requestsOf('chat.postMessage').length;
    await giveUpStep(h.deps, last);
    expect(h.standIn.requestsOf('chat.postMessage')).toHaveLength(posts);
    expect((await h.store.get(id))!.audit.filter((a) => a.action === 'command-cancelled')).toHaveLength(1);
  });

  it('says the command may still finish when the cancel is refused', async () => {
    h = await startHarness({});
    const { id, commandId } = await hangingFix(h);
    h.runner.cancel = async () => {
      throw new Error('InvalidCommandId');
    };
    expect(await giveUpStep(h.deps, { incidentId: id, commandId, attempt: MAX_POLL_ATTEMPTS })).toEqual({
      cancelled: false,
    });
    expect(await threadText(h, id)).toContain(
      'could not cancel it (InvalidCommandId); it may still finish on the node',
    );
  });
});
