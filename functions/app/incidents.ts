/**
 * Use cases that open and close incidents: a NotReady alarm, an alarm back to OK, and a
 * `@nodemedic diagnose` mention in someone else's alert thread. They resolve the node, open (or
 * find) the one incident for it, post the status card, and start one workflow execution.
 */

import { dedupeKey, type ParsedAlarm } from '../core/alarm.js';
import { InvalidInputError } from '../core/errors.js';
import { type AuditEntry, type Incident, isTerminal } from '../core/incident.js';
import type { MessageRef, NodeRef } from '../core/ports.js';
import { renderCard, renderDecision, renderOutcome } from '../core/render/slack.js';
import { WORKFLOW_ERRORS } from './contract.js';
import type { AppDeps } from './deps.js';

/** What happened to an alarm event. */
export type AlarmOutcome =
  | { readonly kind: 'opened'; readonly incidentId: string }
  | { readonly kind: 'duplicate'; readonly incidentId: string }
  | { readonly kind: 'recovered'; readonly incidentId: string }
  | { readonly kind: 'ignored'; readonly reason: string };

/** An audit entry stamped with the deps' clock. */
export function auditEntry(deps: AppDeps, action: string, actor: string, detail: string): AuditEntry {
  return { at: deps.clock().toISOString(), action, actor, detail };
}

/** The thread replies go to. */
export function threadOf(incident: Incident): MessageRef | null {
  return incident.thread ?? incident.card;
}

/**
 * Handle a parsed alarm: ALARM opens (or joins) the node's incident, OK closes it as recovered,
 * INSUFFICIENT_DATA is ignored with a reason. Throws NodeNotFoundError for unknown/untagged nodes.
 */
export async function handleAlarm(deps: AppDeps, alarm: ParsedAlarm): Promise<AlarmOutcome> {
  if (alarm.state === 'INSUFFICIENT_DATA') {
    return { kind: 'ignored', reason: `alarm ${alarm.alarmName} is INSUFFICIENT_DATA: nothing to do` };
  }
  if (!alarm.instanceId && !alarm.nodeName) {
    throw new InvalidInputError(
      `alarm ${alarm.alarmName} names no InstanceId or NodeName dimension, so no node can be picked` +
        (alarm.cluster ? ` (cluster ${alarm.cluster}: alarm per node instead)` : ''),
      { code: 'ALARM_NO_NODE' },
    );
  }
  const node = await deps.inventory.resolve({
    ...(alarm.instanceId ? { instanceId: alarm.instanceId } : {}),
    ...(alarm.nodeName ? { nodeName: alarm.nodeName } : {}),
    ...(alarm.cluster ? { cluster: alarm.cluster } : {}),
  });
  if (alarm.state === 'OK') return closeRecovered(deps, node, alarm.alarmName);
  const result = await openIncident(deps, { node, alarmName: alarm.alarmName, requestedBy: 'alarm' });
  return { kind: result.created ? 'opened' : 'duplicate', incidentId: result.incident.id };
}

/**
 * Open the node's incident, or return the open one (redelivered events, flapping alarms, a
 * second mention). A new incident gets its card and one workflow execution.
 */
async function openIncident(
  deps: AppDeps,
  request: { node: NodeRef; alarmName: string; requestedBy: string; thread?: MessageRef },
): Promise<{ incident: Incident; created: boolean }> {
  const openedAt = deps.clock().toISOString();
  const nodeKey = dedupeKey(request.node.cluster, request.node.instanceId);
  const { incident, created } = await deps.store.open({
    id: `${nodeKey}#${openedAt}`,
    nodeKey,
    node: request.node,
    alarmName: request.alarmName,
    openedAt,
    phase: 'diagnosing',
    card: null,
    thread: request.thread ?? null,
    findingsMessage: null,
    commands: [],
    findings: [],
    offered: [],
    requested: null,
    approvals: [],
    taskToken: null,
    attempts: 0,
    audit: [
      auditEntry(
        deps,
        'opened',
        request.requestedBy,
        `alarm ${request.alarmName} on ${request.node.instanceId}`,
      ),
    ],
  });
  if (!created) {
    deps.logger.info('incident already open for this node', {
      incidentId: incident.id,
      by: request.requestedBy,
    });
    await deps.store.update(incident.id, (current) => ({
      ...current,
      audit: [
        ...current.audit,
        auditEntry(deps, 'duplicate', request.requestedBy, `again: ${request.alarmName}`),
      ],
    }));
    return { incident, created };
  }
  const withCard = await postCard(deps, incident);
  await deps.workflow.start(incident.id, { incidentId: incident.id });
  deps.logger.info('incident opened', { incidentId: incident.id, instanceId: request.node.instanceId });
  return { incident: withCard, created };
}

/** Post the status card (as the thread root, or into the given thread) and remember where it is. */
async function postCard(deps: AppDeps, incident: Incident): Promise<Incident> {
  const thread = incident.thread ?? null;
  const card = await deps.chat.post(thread?.channel ?? deps.channel, renderCard(incident), thread?.ts);
  return deps.store.update(incident.id, (current) => ({ ...current, card }));
}

/**
 * The alarm is back to OK: say so in the thread, release a waiting approval, close the incident.
 * Decided inside the atomic update, on the incident as it is then: a fix or its verification in
 * flight keeps going (the workflow's own verification decides), and an ended incident stays ended.
 */
async function closeRecovered(deps: AppDeps, node: NodeRef, alarmName: string): Promise<AlarmOutcome> {
  const open = await deps.store.findOpenByNode(dedupeKey(node.cluster, node.instanceId));
  if (!open)
    return {
      kind: 'ignored',
      reason: `alarm ${alarmName} is OK and no incident is open for ${node.instanceId}`,
    };
  let before: Incident = open;
  const closed = await deps.store.update(open.id, (current) => {
    before = current;
    if (current.phase === 'fixing' || current.phase === 'verifying' || isTerminal(current)) {
      return {
        ...current,
        audit: [
          ...current.audit,
          auditEntry(deps, 'alarm-ok', 'alarm', `${alarmName} is OK during ${current.phase}`),
        ],
      };
    }
    return {
      ...current,
      phase: 'recovered',
      taskToken: null,
      audit: [...current.audit, auditEntry(deps, 'alarm-ok', 'alarm', `${alarmName} back to OK`)],
    };
  });
  if (closed.phase !== 'recovered' || before.phase === 'recovered')
    return { kind: 'recovered', incidentId: open.id };
  if (before.taskToken) {
    await deps.workflow
      .fail(before.taskToken, WORKFLOW_ERRORS.recovered, `alarm ${alarmName} went back to OK`)
      .catch((error: unknown) => {
        // The wait may already be over (timed out, or resumed a moment ago): the incident is closed either way.
        deps.logger.warn('could not end the approval wait', { incidentId: open.id, error: String(error) });
      });
  }
  if (before.findingsMessage && before.phase === 'awaiting-approval') {
    await deps.chat.update(
      before.findingsMessage,
      renderDecision(closed, `No longer needed: the alarm ${alarmName} went back to OK.`),
    );
  }
  const thread = threadOf(closed);
  if (closed.card) await deps.chat.update(closed.card, renderCard(closed));
  if (thread) {
    await deps.chat.post(
      thread.channel,
      renderOutcome(closed, { kind: 'recovered', detail: `The alarm ${alarmName} is back to OK.` }),
      thread.ts,
    );
  }
  return { kind: 'recovered', incidentId: open.id };
}

/**
 * `@nodemedic diagnose` in a thread: resolve the node named there and open an incident whose card
 * is a reply in that thread.
 */
export async function startDiagnosisFromMention(
  deps: AppDeps,
  request: {
    channel: string;
    threadTs: string;
    query: { instanceId?: string; nodeName?: string };
    requestedBy: string;
  },
): Promise<{ incidentId: string; created: boolean }> {
  const node = await deps.inventory.resolve(request.query);
  const { incident, created } = await openIncident(deps, {
    node,
    alarmName: `mention by ${request.requestedBy}`,
    requestedBy: request.requestedBy,
    thread: { channel: request.channel, ts: request.threadTs },
  });
  return { incidentId: incident.id, created };
}
