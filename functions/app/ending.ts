/**
 * What every incident's ending does beyond its own outcome message: its thread gets the compact
 * postmortem timeline (functions/core/render/timeline.ts), and a page sent for it is resolved.
 * And paging itself: when nodemedic needs a person now (an escalation, a cluster hold), the
 * on-call pager gets a trigger whose dedup key is the incident, so retries and repeats land on one
 * alert. Both are recorded in the audit trail, once.
 */
import type { AuditAction, Incident } from '../core/incident.js';
import { type PageReason, resolveEvent, triggerEvent } from '../core/pager.js';
import { renderTimeline } from '../core/render/timeline.js';
import { type Noted, transition } from '../core/transitions.js';
import type { AppDeps } from './deps.js';

/** What the ending reads of `AppDeps` (without a pager, nobody is paged). */
export type EndingDeps = Pick<AppDeps, 'store' | 'chat' | 'clock' | 'logger' | 'pager'>;

const TIMELINE_POSTED = 'timeline-posted' satisfies AuditAction;
const PAGED = 'paged' satisfies AuditAction;
const PAGE_RESOLVED = 'page-resolved' satisfies AuditAction;

const has = (incident: Incident, action: AuditAction) => incident.audit.some((a) => a.action === action);

/** Record `action` once in the incident's audit trail. */
async function note(
  deps: EndingDeps,
  incident: Incident,
  action: Noted['action'],
  detail: string,
): Promise<Incident> {
  const at = deps.clock().toISOString();
  return deps.store.update(
    incident.id,
    (current) =>
      transition(current, { type: 'noted', at, action, actor: 'nodemedic', detail, once: true }).incident,
  );
}

/**
 * Page the on-call engineer for `incident` (or, with `dedup`, for what it is part of). Throws when the pager does not take it after its own
 * retries, so the caller's retry (Step Functions) pages again; PagerDuty folds repeats of one dedup
 * key into one alert.
 */
export async function page(
  deps: EndingDeps,
  incident: Incident,
  reason: PageReason,
  dedup: string = incident.id,
): Promise<void> {
  if (!deps.pager) return;
  await deps.pager.send(triggerEvent(incident, reason, dedup));
  // A page for the cluster (one dedup key per hold) is the cluster's alert: not resolved per node.
  if (dedup === incident.id) await note(deps, incident, PAGED, reason);
  deps.logger.info('paged the on-call engineer', { incidentId: incident.id, reason });
}

/**
 * The incident ended: post its timeline in its thread (once) and resolve its page, when one was
 * sent and the incident ended otherwise than by the escalation that paged. The post is tried a
 * few times; it never throws: the outcome is already in the thread and the record, and
 * `nodemedic report` prints the timeline from the record.
 */
export async function incidentEnded(deps: EndingDeps, ended: Incident): Promise<void> {
  let incident = ended;
  if (deps.pager && has(incident, PAGED) && !has(incident, PAGE_RESOLVED) && incident.phase !== 'escalated') {
    try {
      await deps.pager.send(resolveEvent(incident));
      incident = await note(deps, incident, PAGE_RESOLVED, `the incident ended ${incident.phase}`);
    } catch (error) {
      deps.logger.warn('could not resolve the page', { incidentId: incident.id, error: String(error) });
    }
  }
  const thread = incident.thread ?? incident.card;
  if (!thread || has(incident, TIMELINE_POSTED)) return;
  const fresh = (await deps.store.get(incident.id).catch(() => null)) ?? incident;
  // A Slack hiccup (429, 5xx) is tried again in place: the ending step is not retried for it.
  for (let attempt = 1; attempt <= TIMELINE_ATTEMPTS; attempt++) {
    try {
      await deps.chat.post(thread.channel, renderTimeline(fresh), thread.ts);
      await note(deps, fresh, TIMELINE_POSTED, 'the postmortem timeline is in the thread');
      return;
    } catch (error) {
      deps.logger.warn('could not post the timeline', {
        incidentId: incident.id,
        attempt,
        error: String(error),
      });
      if (attempt < TIMELINE_ATTEMPTS) await new Promise((r) => setTimeout(r, 500 * 2 ** (attempt - 1)));
    }
  }
}

/** Tries of the timeline post before it is left to `nodemedic report`. */
const TIMELINE_ATTEMPTS = 3;

/**
 * The node's alarm is back to OK after an incident that paged and ended by that escalation: the
 * person has it in hand, and now the node is Ready again, so the page is resolved and the thread
 * told.
 */
export async function resolveAfterRecovery(
  deps: EndingDeps,
  incident: Incident,
  why: string,
): Promise<boolean> {
  if (!deps.pager || !has(incident, PAGED) || has(incident, PAGE_RESOLVED)) return false;
  await deps.pager.send(resolveEvent(incident));
  await note(deps, incident, PAGE_RESOLVED, why);
  return true;
}
