/**
 * How the app layer applies the core's transitions (functions/core/transitions.ts): the
 * transition runs inside the store's atomic update, and the effects of the run that was written
 * are performed afterwards, in order.
 */
import { NodemedicError } from '../core/errors.js';
import type { Incident, IncidentStore, UpdateOptions, Workflow } from '../core/incident.js';
import type { MessageRef } from '../core/ports.js';
import { renderCard, renderDecision, renderOutcome } from '../core/render/slack.js';
import { type Effect, type Transition, transition } from '../core/transitions.js';
import { type ApprovalDecision, WORKFLOW_ERRORS } from './contract.js';
import type { AppLogger } from './deps.js';
import { type EndingDeps, incidentEnded } from './ending.js';
import { type AppMetrics, recordRecovery } from './metrics.js';

/**
 * Apply `step` to the stored incident in one conditional write. The store may run it more than
 * once (optimistic retries): the run that was written is the one returned, with the incident as
 * stored.
 */
export async function applyTransition<O>(
  store: IncidentStore,
  id: string,
  step: (current: Incident) => Transition<O>,
  options?: UpdateOptions,
): Promise<Transition<O>> {
  const written: { run?: Transition<O> } = {};
  const incident = await store.update(
    id,
    (current) => {
      written.run = step(current);
      return written.run.incident;
    },
    options,
  );
  if (!written.run)
    throw new NodemedicError('STORE_CONTRACT', `the store wrote incident ${id} without the change`);
  return { ...written.run, incident };
}

/** What performing the effects needs. */
export interface EffectDeps extends EndingDeps {
  readonly workflow: Workflow;
  readonly logger: AppLogger;
  /** @default none */
  readonly metrics?: AppMetrics;
}

/** Where the effects happen beyond the incident's own messages. */
export interface EffectContext {
  /** The click being answered: ephemeral replies go to its user, in its channel and thread. */
  readonly click?: {
    readonly channel: string;
    readonly user: string;
    readonly messageTs: string;
    readonly threadTs?: string;
  };
  /** The Slack user group an escalation mentions. */
  readonly mentionUserGroup?: string | null;
}

/** Whether every effect was performed; not when the workflow could not be resumed. */
export type Performed = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/**
 * Perform a written transition's effects, in order. A workflow that cannot be resumed escalates the
 * incident at once (nothing will run, so a person must take over) and ends the list there.
 */
export async function perform(
  deps: EffectDeps,
  written: Pick<Transition<unknown>, 'incident' | 'effects'>,
  context: EffectContext = {},
): Promise<Performed> {
  const { incident } = written;
  for (const effect of written.effects) {
    switch (effect.kind) {
      case 'reply-privately':
        await privately(deps, context, effect.text);
        break;
      case 'resume-workflow': {
        const resumed = await resume(deps, incident, effect, context);
        if (!resumed.ok) return resumed;
        break;
      }
      case 'stop-workflow':
        try {
          await deps.workflow.fail(effect.token, WORKFLOW_ERRORS[effect.why], effect.cause);
        } catch (err) {
          // The decision stands either way: a person has taken over, or the node is back, and
          // nothing will run. The wait may be over already (timed out, or resumed a moment ago).
          deps.logger.warn('could not end the approval wait', {
            incidentId: incident.id,
            error: describe(err),
          });
        }
        break;
      case 'close-buttons':
        await closeButtons(deps, incident, effect, context);
        break;
      case 'expire-buttons':
        if (incident.findingsMessage)
          await deps.chat.update(incident.findingsMessage, renderDecision(incident, effect.text));
        break;
      case 'update-card':
        await updateCard(deps, incident, effect.note);
        break;
      case 'post-outcome': {
        const thread = incident.thread ?? incident.card;
        if (thread) {
          const mention =
            effect.outcome === 'escalated' ? { mentionUserGroup: context.mentionUserGroup ?? null } : {};
          await deps.chat.post(
            thread.channel,
            renderOutcome(incident, { kind: effect.outcome, detail: effect.detail, ...mention }),
            thread.ts,
          );
        }
        break;
      }
      case 'count-recovery':
        recordRecovery(deps, incident);
        break;
      case 'incident-ended':
        await incidentEnded(deps, incident);
        break;
    }
  }
  return { ok: true };
}

async function resume(
  deps: EffectDeps,
  incident: Incident,
  effect: Extract<Effect, { kind: 'resume-workflow' }>,
  context: EffectContext,
): Promise<Performed> {
  try {
    if (!effect.token) throw new NodemedicError('NO_TASK_TOKEN', 'the incident holds no task token');
    const decision: ApprovalDecision = effect.decision;
    await deps.workflow.resume(effect.token, { ...decision });
    return { ok: true };
  } catch (err) {
    // The approval cannot reach the workflow (token expired, Step Functions down): nothing will
    // run, so a person must take over now rather than believe a fix is coming.
    const reason = describe(err);
    deps.logger.error('could not resume the workflow', { incidentId: incident.id, error: reason });
    const at = deps.clock().toISOString();
    const escalated = await applyTransition(deps.store, incident.id, (current) =>
      transition(current, { type: 'resume-failed', at, reason }),
    );
    await perform(deps, escalated, context);
    return { ok: false, reason };
  }
}

/** Turn the buttons into text and bring the card up to date. */
async function closeButtons(
  deps: EffectDeps,
  incident: Incident,
  effect: Extract<Effect, { kind: 'close-buttons' }>,
  context: EffectContext,
): Promise<void> {
  const ref: MessageRef | undefined =
    incident.findingsMessage ??
    (context.click ? { channel: context.click.channel, ts: context.click.messageTs } : undefined);
  try {
    if (ref) await deps.chat.update(ref, renderDecision(incident, effect.text));
    await updateCard(deps, incident);
  } catch (err) {
    if (!effect.tolerant) throw err;
    // The decision reached the workflow: a Slack failure here must not undo it, nor leave buttons
    // that look live for good. It is recorded, and the step that ends the incident (outcome or
    // escalation) turns the buttons into text.
    deps.logger.warn('approved, but the buttons could not be closed', {
      incidentId: incident.id,
      error: describe(err),
    });
    const at = deps.clock().toISOString();
    await applyTransition(deps.store, incident.id, (current) =>
      transition(current, {
        type: 'noted',
        at,
        action: 'buttons-not-closed',
        actor: 'nodemedic',
        detail: describe(err),
      }),
    );
  }
}

async function updateCard(deps: EffectDeps, incident: Incident, note?: string): Promise<void> {
  if (incident.card) await deps.chat.update(incident.card, renderCard(incident, note ? { note } : undefined));
}

async function privately(deps: EffectDeps, context: EffectContext, text: string): Promise<void> {
  const click = context.click;
  if (click) await deps.chat.postEphemeral(click.channel, click.user, text, click.threadTs);
}

/** An error as one line: its stable code when it is ours. */
export function describe(err: unknown): string {
  if (err instanceof NodemedicError) return `${err.code}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}
