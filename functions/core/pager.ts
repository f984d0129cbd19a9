/**
 * Paging a person when nobody answers in Slack: the PagerDuty Events API v2 event for an incident
 * (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/ and …/resolve-events/). The
 * incident id is the dedup key, so every trigger for one incident lands on one PagerDuty alert and
 * the resolve closes it. Pure: the adapter (functions/adapters/http/pagerduty.ts) sends it.
 */
import type { Incident } from './incident.js';

/** Why nodemedic pages. */
export type PageReason =
  | 'approval-timeout'
  | 'not-recovered'
  | 'fix-failed'
  | 'cluster-hold'
  | 'diagnosis-failed'
  | 'execution-failed';

/** Events API v2 severities. */
export type PagerSeverity = 'critical' | 'error' | 'warning' | 'info';

/** The body POSTed to `/v2/enqueue`. */
export interface PagerEvent {
  readonly routing_key: string;
  readonly event_action: 'trigger' | 'resolve';
  /** At most 255 characters (PagerDuty's limit). */
  readonly dedup_key: string;
  /** Present on a trigger only. */
  readonly payload?: {
    /** At most 1024 characters. */
    readonly summary: string;
    readonly source: string;
    readonly severity: PagerSeverity;
    readonly component: string;
    readonly group: string;
    readonly class: PageReason;
    readonly custom_details: Readonly<Record<string, unknown>>;
  };
}

/** Sends page events (PagerDuty in AWS, a local stand-in in the rehearsal). */
export interface Pager {
  send(event: Omit<PagerEvent, 'routing_key'>): Promise<void>;
}

const WORDS: Readonly<Record<PageReason, string>> = {
  'approval-timeout': 'nobody approved a fix in time',
  'not-recovered': 'the fix ran but the node did not recover',
  'fix-failed': 'the fix failed',
  'cluster-hold': 'many nodes of the cluster are NotReady; per-node fixes are held',
  'diagnosis-failed': 'the diagnosis could not complete',
  'execution-failed': "nodemedic's own workflow failed",
};

/** PagerDuty keeps dedup keys to 255 characters; incident ids are shorter, but never trust that. */
function dedupKey(id: string): string {
  return id.length <= 255 ? id : `${id.slice(0, 200)}…${id.length}`;
}

/** The trigger for an incident that needs a person now. */
export function triggerEvent(
  incident: Incident,
  reason: PageReason,
  dedup: string = incident.id,
): Omit<PagerEvent, 'routing_key'> {
  const node = incident.node.nodeName ?? incident.node.instanceId;
  const summary = `nodemedic: ${node} (${incident.node.cluster}) NotReady: ${WORDS[reason]}`;
  return {
    event_action: 'trigger',
    dedup_key: dedupKey(dedup),
    payload: {
      summary: summary.slice(0, 1024),
      source: incident.node.instanceId,
      severity: reason === 'cluster-hold' || reason === 'execution-failed' ? 'critical' : 'error',
      component: 'containerd',
      group: incident.node.cluster,
      class: reason,
      custom_details: {
        incident: incident.id,
        alarm: incident.alarmName,
        causes: incident.findings.map((f) => f.cause),
        offered: incident.offered,
        phase: incident.phase,
      },
    },
  };
}

/** The resolve, when the incident ended after a page. */
export function resolveEvent(incident: Incident): Omit<PagerEvent, 'routing_key'> {
  return { event_action: 'resolve', dedup_key: dedupKey(incident.id) };
}
