/**
 * The workflow steps (functions/app/contract.ts). Step Functions calls each through its Lambda
 * handler; the local in-process runner calls them directly, in the same order. Every step loads
 * the incident, does one thing, records it in the audit trail, and returns the small output the
 * state machine branches on. A retried step never sends a command twice.
 */
import { analyze, analyzeUnreachable, parseFacts } from '../core/analyze.js';
import { CATALOG, type Catalog, remediationIn } from '../core/catalog.js';
import { DependencyError, MalformedFactsError, NodemedicError } from '../core/errors.js';
import type { ExecutionEnded } from '../core/execution.js';
import { type AuditAction, type Incident, isTerminal, type SentCommand } from '../core/incident.js';
import type { Report } from '../core/model.js';
import type { PageReason } from '../core/pager.js';
import { causeStillHolds, planRemediations, verifyRecovery } from '../core/plan.js';
import type { ChatMessage, CommandInvocation } from '../core/ports.js';
import { DEFAULT_READY_WITHIN_SECONDS } from '../core/remediations/remediation.js';
import { renderCommandCancelled, renderStepResult } from '../core/render/progress.js';
import { escapeMrkdwn, renderCard, renderFindings } from '../core/render/slack.js';
import { shadowCardNote } from '../core/render/trust.js';
import { mayRoll } from '../core/rolling.js';
import { DIAGNOSE_PARAMETERS, DIAGNOSE_TIMEOUT_SECONDS } from '../core/script-params.js';
import { isShadowCluster } from '../core/shadow.js';
import { ANNOUNCED, type FixReserved, transition, unannounced } from '../core/transitions.js';
import { holdAtAnalysis, pacedChat } from './cluster.js';
import type {
  AnalyzeInput,
  AnalyzeOutput,
  AwaitApprovalInput,
  EscalateInput,
  EvaluateInput,
  EvaluateOutput,
  GiveUpInput,
  GiveUpOutput,
  OutcomeInput,
  ReachabilityOutput,
  ReadyInput,
  ReadyOutput,
  SendInput,
  SendOutput,
  StepInput,
} from './contract.js';
import { type HandlerName, pollWait, WORKFLOW_ERRORS } from './contract.js';
import type { AppDeps } from './deps.js';
import { applyTransition, describe, perform } from './effects.js';
import { incidentEnded, page } from './ending.js';
import { auditEntry, threadOf } from './incidents.js';
import { recordEscalation, recordEvaluation, recordFindings } from './metrics.js';
import { rollNodeEnded } from './rolling.js';
import { rankByHistory } from './trust.js';

/** The incident is missing: the execution outlived its record, or the id is wrong. */
class IncidentNotFoundError extends NodemedicError {
  constructor(id: string) {
    super('INCIDENT_NOT_FOUND', `incident ${id} does not exist`);
  }
}

/** The incident ended while the workflow was still running (its code is the state machine's `Recovered`). */
class IncidentEndedError extends NodemedicError {
  constructor(id: string, phase: string) {
    super(
      WORKFLOW_ERRORS.recovered,
      `incident ${id} already ended (${phase}): nothing is waiting for an approval`,
    );
  }
}

/** A fix was already sent for this approval; sending it again is refused. */
class AlreadySentError extends NodemedicError {
  constructor(key: string) {
    super('ALREADY_SENT', `a command for ${key} was already sent for this incident and is not sent twice`);
  }
}

async function load(deps: AppDeps, id: string): Promise<Incident> {
  const incident = await deps.store.get(id);
  if (!incident) throw new IncidentNotFoundError(id);
  return incident;
}

/** Post into the incident's thread (no-op when it has none yet). */
async function reply(deps: AppDeps, incident: Incident, message: Parameters<AppDeps['chat']['post']>[1]) {
  const thread = threadOf(incident);
  if (thread) await deps.chat.post(thread.channel, message, thread.ts);
}

async function refreshCard(deps: AppDeps, incident: Incident, note?: string): Promise<void> {
  if (incident.card) await deps.chat.update(incident.card, renderCard(incident, note ? { note } : undefined));
}

/** 1. Is the node's agent online and the instance running? */
export async function reachabilityStep(deps: AppDeps, input: StepInput): Promise<ReachabilityOutput> {
  const incident = await load(deps, input.incidentId);
  const reach = await deps.inventory.reachability(incident.node);
  await deps.store.update(incident.id, (current) => ({
    ...current,
    audit: [
      ...current.audit,
      auditEntry(
        deps,
        'reachability',
        'nodemedic',
        `agent ${reach.agent}, instance ${reach.instanceState}, status ${reach.systemStatus}/${reach.instanceStatus}`,
      ),
    ],
  }));
  return { reachable: reach.reachable, instanceId: incident.node.instanceId };
}

/** 2. Send the diagnosis, a fix or a rollback (or run an instance-level fix directly). */
export async function sendStep(deps: AppDeps, input: SendInput): Promise<SendOutput> {
  let incident = await load(deps, input.incidentId);
  const isFix = input.purpose === 'fix' || input.purpose === 'rollback';
  if (isFix && !input.remediation) {
    throw new NodemedicError('MISSING_REMEDIATION', `send ${input.purpose} needs a remediation`);
  }
  if (input.purpose === 'fix' && isTerminal(incident))
    throw new IncidentEndedError(incident.id, incident.phase);
  let key: string = input.purpose;
  if (isFix) {
    // One fix (and one rollback) per approval round, whatever Step Functions retries. The
    // reservation is an atomic update: a retry finds it and returns the command it recorded, and
    // a reservation whose outcome is unknown (the send may have reached SSM) is never sent again.
    const at = deps.clock().toISOString();
    const reserve: FixReserved = {
      type: 'fix-reserved',
      at,
      purpose: input.purpose === 'rollback' ? 'rollback' : 'fix',
      remediation: input.remediation!,
    };
    const written = await applyTransition(deps.store, incident.id, (current) => transition(current, reserve));
    const reservation = written.outcome;
    if (reservation.kind === 'in-doubt') throw new AlreadySentError(reservation.key);
    if (reservation.kind === 'sent')
      return { commandId: reservation.command.commandId, waitSeconds: pollWait(0) };
    incident = written.incident;
    key = reservation.key;
  }

  const progress = { accepted: false };
  try {
    return await dispatch(deps, incident, input, key, progress);
  } catch (error) {
    if (isFix && !progress.accepted) {
      // The command was not accepted: free the reservation so that a retry may send it.
      await applyTransition(deps.store, incident.id, (current) =>
        transition(current, { type: 'send-failed', key }),
      );
    }
    throw error;
  }
}

async function dispatch(
  deps: AppDeps,
  incident: Incident,
  input: SendInput,
  key: string,
  progress: { accepted: boolean },
): Promise<SendOutput> {
  const isFix = input.purpose === 'fix' || input.purpose === 'rollback';
  let commandId: string | null;
  let script: string;
  const remediation = input.remediation ? remediationIn(catalogOf(deps), input.remediation) : null;
  const action = remediation?.action;
  if (isFix && remediation && action?.kind === 'instance') {
    script = remediation.id;
    await deps.inventory[action.call](incident.node);
    commandId = null;
  } else if (isFix && remediation) {
    if (action?.kind !== 'script') {
      throw new NodemedicError(
        'UNSUPPORTED_REMEDIATION',
        `${remediation.id} is for a person, not for nodemedic`,
      );
    }
    script = remediation.id;
    const parameters: Record<string, string> = {};
    for (const name of remediation.parameters) {
      const value = deps.scriptParameters[name] ?? (name === 'nodeName' ? incident.node.nodeName : undefined);
      if (value !== undefined && value !== null) parameters[name] = value;
    }
    if (input.purpose === 'rollback') parameters.mode = 'rollback';
    ({ commandId } = await deps.runner.send({
      node: incident.node,
      script: remediation.id,
      parameters,
      timeoutSeconds: remediation.timeoutSeconds,
      comment: `nodemedic ${input.purpose} ${remediation.id}`,
    }));
  } else if (
    input.purpose === 'recheck' &&
    action?.kind === 'instance' &&
    !(await deps.inventory.reachability(incident.node)).reachable
  ) {
    // Still unreachable: a command would only wait out SSM's delivery timeout. evaluate rechecks
    // from EC2 evidence instead.
    script = 'diagnose';
    commandId = null;
  } else if (input.purpose === 'verify' && remediation?.verifyBy.kind === 'instance-gone') {
    // The old node is being terminated: there is nothing left to diagnose. evaluate checks the
    // instance is going away; the fresh node's own alarm reports if it is not Ready.
    script = 'diagnose';
    commandId = null;
  } else {
    script = 'diagnose';
    const verifyBy = input.purpose === 'verify' ? remediation?.verifyBy : undefined;
    ({ commandId } = await deps.runner.send({
      node: incident.node,
      script: 'diagnose',
      parameters: diagnoseParameters(deps),
      // The remediation may let SSM hold its verification longer (after a reboot the agent is
      // offline for a while, and the command waits until it is back).
      timeoutSeconds:
        verifyBy?.kind === 'diagnose' && verifyBy.timeoutSeconds !== undefined
          ? verifyBy.timeoutSeconds
          : DIAGNOSE_TIMEOUT_SECONDS,
      comment: `nodemedic ${input.purpose}`,
    }));
  }
  progress.accepted = true;
  const sent: SentCommand = { key, commandId, script, at: deps.clock().toISOString(), state: 'sent' };
  const updated = await deps.store.update(incident.id, (current) => ({
    ...current,
    phase: input.purpose === 'verify' ? 'verifying' : current.phase,
    commands: [...(current.commands ?? []).filter((c) => !(isFix && c.key === key)), sent],
    audit: [
      ...current.audit,
      auditEntry(deps, `${input.purpose}-sent`, 'nodemedic', `${script}: ${commandId ?? 'EC2/ASG API call'}`),
    ],
  }));
  if (input.purpose === 'fix' || input.purpose === 'verify') await refreshCard(deps, updated);
  return { commandId, waitSeconds: pollWait(0) };
}

/** The diagnosis takes only the path overrides; fix-only parameters are not passed. */
function diagnoseParameters(deps: AppDeps): Record<string, string> {
  const names: readonly string[] = DIAGNOSE_PARAMETERS;
  return Object.fromEntries(Object.entries(deps.scriptParameters).filter(([name]) => names.includes(name)));
}

/**
 * 3. Give up on a command. The state machine polls it itself (GetCommandInvocation, a direct SDK
 * integration, with the backoff of {@link pollWait}); when it is still running at the last of
 * MAX_POLL_ATTEMPTS polls, this step cancels it, so a fix nobody waits for any more cannot finish
 * later behind the escalation, and the audit and the thread say so. A throttled cancel is thrown
 * for the state machine to retry; a refused one is said as such, since the steps that follow
 * (evaluation, escalation) must still run. A retried step cancels again, which SSM allows, but
 * does not write or post twice.
 */
export async function giveUpStep(deps: AppDeps, input: GiveUpInput): Promise<GiveUpOutput> {
  const incident = await load(deps, input.incidentId);
  const { commandId, attempt: attempts } = input;
  const sent = incident.commands?.find((c) => c.commandId === commandId);
  const purpose = sent?.key.replace(/#\d+$/, '');
  // diagnose, recheck and verify all run the diagnosis: the purpose says which; a fix is named.
  const what = !sent
    ? 'The command'
    : `The ${purpose} command${sent.script === 'diagnose' ? '' : ` ${sent.script}`}`;
  let detail = `still running after ${attempts} polls (about ${Math.round(pollSeconds(attempts) / 60)} minutes): nodemedic stopped waiting and cancelled it.`;
  let cancelled = true;
  try {
    await deps.runner.cancel(commandId, incident.node);
  } catch (error) {
    if (error instanceof DependencyError && error.retryable) throw error;
    cancelled = false;
    detail = `still running after ${attempts} polls: nodemedic stopped waiting, but could not cancel it (${error instanceof Error ? error.message : String(error)}); it may still finish on the node.`;
  }
  if (incident.audit.some((a) => a.action === 'command-cancelled' && a.detail.startsWith(commandId)))
    return { cancelled };
  // Posted before it is recorded: a retry after a Slack failure posts it again rather than never.
  await reply(deps, incident, renderCommandCancelled({ what, commandId, detail }));
  await deps.store.update(incident.id, (current) => ({
    ...current,
    audit: [...current.audit, auditEntry(deps, 'command-cancelled', 'nodemedic', `${commandId}: ${detail}`)],
  }));
  return { cancelled };
}

/** Seconds the state machine has waited after `attempts` polls (the backoff of {@link pollWait}). */
function pollSeconds(attempts: number): number {
  let total = 0;
  for (let attempt = 0; attempt < attempts; attempt++) total += pollWait(attempt);
  return total;
}

/** Read a diagnosis command's output into a report; transport failures become notes, not crashes. */
async function reportFromCommand(
  deps: AppDeps,
  incident: Incident,
  commandId: string,
): Promise<{ report: Report; invocation: CommandInvocation }> {
  const invocation = await deps.runner.get(commandId, incident.node);
  if (invocation.status === 'undeliverable' || (invocation.status === 'timed-out' && !invocation.stdout)) {
    return {
      report: await unreachableReport(deps, incident, `the diagnosis command was ${invocation.detail}`),
      invocation,
    };
  }
  try {
    const facts = parseFacts(invocation.stdout, { truncated: invocation.stdoutTruncated });
    return { report: analyze(facts, deps.analyzeOptions), invocation };
  } catch (error) {
    if (!(error instanceof MalformedFactsError)) throw error;
    const notes = [
      `The diagnosis output could not be read (${invocation.detail}, exit ${invocation.exitCode ?? 'unknown'}): ${error.message}`,
    ];
    if (invocation.stderr) notes.push(`stderr: ${invocation.stderr.slice(0, 300)}`);
    return { report: { healthy: false, findings: [], notes, facts: null }, invocation };
  }
}

async function unreachableReport(deps: AppDeps, incident: Incident, why: string): Promise<Report> {
  const reach = await deps.inventory.reachability(incident.node);
  const consoleTail = await deps.inventory.consoleOutput(incident.node).catch((error: unknown) => {
    deps.logger.warn('console output unavailable', { error: String(error) });
    return '';
  });
  const report = analyzeUnreachable({ ...reach, consoleTail });
  return { ...report, notes: [why, ...report.notes] };
}

/** 4. Analyze the diagnosis (or EC2 evidence), plan the fixes, post the findings. */
export async function analyzeStep(deps: AppDeps, input: AnalyzeInput): Promise<AnalyzeOutput> {
  const incident = await load(deps, input.incidentId);
  const report = input.commandId
    ? (await reportFromCommand(deps, incident, input.commandId)).report
    : await unreachableReport(
        deps,
        incident,
        'SSM could not reach the node, so this rests on EC2 evidence only',
      );
  const [fleet, inFlight] = await Promise.all([
    deps.inventory.clusterHealth(incident.node.cluster),
    deps.store.countInFlight(incident.node.cluster),
  ]);
  // The inventory sees what EC2 sees: impaired or unreachable instances. This node is NotReady by
  // its alarm even when EC2 calls it healthy (containerd down passes both status checks).
  const countedByInventory = report.findings.some((f) => f.cause === 'node-unreachable');
  const cluster = {
    total: fleet.total,
    notReady: Math.min(fleet.total, fleet.notReady + (countedByInventory ? 0 : 1)),
  };
  const lastFix = [...(incident.commands ?? [])].reverse().find((c) => c.key.startsWith('fix#'));
  const plan = planRemediations(report, {
    policy: deps.policy,
    cluster,
    inFlight,
    attempts: incident.attempts,
    lastAttemptAt: lastFix?.at ?? null,
    now: deps.clock().toISOString(),
    node: incident.node,
  });
  // Shadow mode: the same findings and the fixes nodemedic would offer, but nothing to approve.
  const shadow = isShadowCluster(deps.policy, incident.node.cluster);
  const ranked = await rankByHistory(deps, incident.node.cluster, report.findings, plan.offered);
  plan.offered = ranked.offered;
  // The cluster hold: a node analyzed while its cluster is held (or whose analysis finds it so by
  // EC2's count) joins the cluster incident, whose summary shows its findings; its fixes are held.
  // A node held at arrival has no card, and gets none: the cluster thread speaks for it.
  const clusterIncident = await holdAtAnalysis(
    deps,
    incident,
    report,
    plan.held?.reason === 'cluster-hold' ? { reason: plan.held.detail, fleet: cluster } : undefined,
  );
  if (clusterIncident && plan.held?.reason !== 'cluster-hold') {
    plan.held = {
      reason: 'cluster-hold',
      detail: `its cluster is held (${clusterIncident}): per-node fixes are held`,
    };
  }
  const quiet = clusterIncident !== null && (Boolean(incident.clusterIncident) || !incident.card);
  // While the cluster is held, this node's own messages share the channel: paced.
  const slack: AppDeps = clusterIncident ? { ...deps, chat: pacedChat(deps) } : deps;
  // Held by a storm, a node whose fix may roll waits for the cluster's one approval instead of
  // ending at its findings: no buttons of its own, the cluster thread's roll resumes it.
  const rollable =
    plan.held?.reason === 'cluster-hold' &&
    !shadow &&
    mayRoll(deps.policy, incident.node.cluster, { findings: report.findings, offered: plan.offered });
  let awaitApproval = plan.offered.length > 0 && (!plan.held || rollable) && !shadow;
  let updated = await deps.store.update(incident.id, (current) => {
    // The alarm may have gone back to OK while the diagnosis ran: the findings are still posted,
    // for the record, but an ended incident never comes back to life with buttons.
    if (isTerminal(current)) awaitApproval = false;
    return {
      ...current,
      // Nothing to approve ends the incident, so that the node's next alarm opens a new one.
      phase: isTerminal(current) ? current.phase : awaitApproval ? 'findings' : 'closed',
      findings: report.findings,
      offered: awaitApproval ? plan.offered : [],
      notes: report.notes,
      manual: plan.manual,
      requested: null,
      approvals: [],
      ...(shadow ? { shadow: true } : {}),
      // Held now or not, whatever arrival said: the page after a wait that ran out follows it.
      clusterIncident,
      audit: [
        ...current.audit,
        auditEntry(
          deps,
          'analyzed',
          'nodemedic',
          report.findings.length
            ? `causes: ${report.findings.map((f) => f.cause).join(', ')}; offered: ${plan.offered.join(', ') || 'none'}` +
                (plan.held ? `; held: ${plan.held.reason}` : '') +
                (shadow ? '; shadow mode: nothing runs' : '')
            : report.healthy
              ? 'healthy'
              : 'no cause found',
        ),
      ],
    };
  });
  if (!updated.card && !quiet) {
    const thread = updated.thread ?? null;
    const card = await slack.chat.post(thread?.channel ?? deps.channel, renderCard(updated), thread?.ts);
    updated = await deps.store.update(updated.id, (current) => ({ ...current, card }));
  }
  const thread = quiet ? null : threadOf(updated);
  if (thread) {
    const message = renderFindings(report, {
      incident: updated,
      offered: (awaitApproval && !rollable) || shadow ? plan.offered : [],
      manual: plan.manual,
      held: plan.held,
      rates: ranked.rates,
      shadow: shadow ? incident.node.cluster : null,
    });
    const findingsMessage = await slack.chat.post(thread.channel, message, thread.ts);
    updated = await deps.store.update(updated.id, (current) => ({ ...current, findingsMessage }));
  }
  await refreshCard(
    slack,
    updated,
    awaitApproval || isTerminal(incident)
      ? undefined
      : shadow
        ? shadowCardNote(incident.node.cluster)
        : closingNote(report, plan),
  );
  recordFindings(deps, incident, {
    cause: report.findings[0]?.cause ?? (report.healthy ? 'healthy' : 'inconclusive'),
    held: plan.held?.reason ?? null,
  });
  // Nothing to approve ended the incident at its findings: its timeline follows them.
  if (isTerminal(updated) && !isTerminal(incident)) await incidentEnded(slack, updated);
  return { offered: plan.offered, held: plan.held !== null, awaitApproval };
}

/** Why an incident ended at its findings, for the card. */
function closingNote(report: Report, plan: ReturnType<typeof planRemediations>): string {
  if (plan.held) return `Fixes held: ${escapeMrkdwn(plan.held.detail)}`;
  if (plan.manual.length)
    return 'Findings posted: the fix needs a person (see the thread); nodemedic runs nothing.';
  if (report.healthy) return 'No fault found: containerd answers and every check passed.';
  if (!report.findings.length) return 'No cause found: see the notes in the thread.';
  return 'Findings posted: nothing nodemedic may run fits them.';
}

/** 5. Keep the task token on the incident: the Slack listener resumes the workflow with it. */
export async function awaitApprovalStep(deps: AppDeps, input: AwaitApprovalInput): Promise<void> {
  const at = deps.clock().toISOString();
  const written = await applyTransition(deps.store, input.incidentId, (current) =>
    transition(current, { type: 'approval-awaited', at, taskToken: input.taskToken }),
  );
  const waiting = written.outcome;
  if (waiting.kind === 'ended') {
    // Escalated but not yet announced (an approval that could not reach the workflow): fail the
    // task so that the state machine's catch-all escalation announces it in the thread.
    if (waiting.unannounced) {
      throw new NodemedicError(
        'ESCALATION_UNANNOUNCED',
        `incident ${input.incidentId} was escalated without a word in its thread`,
      );
    }
    // Ended meanwhile (the alarm went back to OK): end the wait now rather than let it time out
    // into an escalation. The state machine treats `Recovered` as a normal end.
    throw new IncidentEndedError(input.incidentId, waiting.phase);
  }
  // The token is saved: the wait stands even if Slack fails to show it on the card now (a retry of
  // this step would issue a new token and strand a click made with this one).
  await perform(deps, written).catch((error: unknown) => {
    deps.logger.warn('could not mark the card as awaiting approval', {
      incidentId: input.incidentId,
      error: String(error),
    });
  });
}

/**
 * 6. Judge a recheck, a fix, a verification or a rollback from its command; with purpose `ready`,
 * one check of the readiness wait that follows a passed verification ({@link readyStep}), which the
 * evaluate function runs too.
 */
export async function evaluateStep(deps: AppDeps, input: ReadyInput): Promise<ReadyOutput>;
export async function evaluateStep(deps: AppDeps, input: EvaluateInput): Promise<EvaluateOutput>;
export async function evaluateStep(
  deps: AppDeps,
  input: EvaluateInput | ReadyInput,
): Promise<EvaluateOutput | ReadyOutput> {
  if (input.purpose === 'ready') return readyStep(deps, input);
  const incident = await load(deps, input.incidentId);
  const remediation = remediationIn(catalogOf(deps), input.remediation);
  let ok: boolean;
  let rollback = false;
  let detail: string;
  if (input.purpose === 'verify' && remediation.verifyBy.kind === 'instance-gone') {
    const reach = await deps.inventory.reachability(incident.node);
    ok = ['shutting-down', 'terminated', 'stopping', 'stopped'].includes(reach.instanceState);
    detail = ok
      ? `the old instance is ${reach.instanceState}; its Auto Scaling group launches a fresh node, whose own alarm reports if it is not Ready`
      : `the old instance is still ${reach.instanceState} after the replace request`;
  } else if (input.purpose === 'recheck' || input.purpose === 'verify') {
    const report = input.commandId
      ? (await reportFromCommand(deps, incident, input.commandId)).report
      : await unreachableReport(deps, incident, 'no command was sent');
    if (input.purpose === 'recheck') {
      ok = causeStillHolds(report, remediation);
      detail = ok
        ? `the cause still holds: ${report.findings.map((f) => f.cause).join(', ')}`
        : `the cause ${remediation.fixes.join('/')} no longer holds, so ${remediation.id} is not run`;
    } else {
      const verdict = verifyRecovery(report, remediation);
      ok = verdict.recovered;
      detail = verdict.detail;
      rollback = !ok && remediation.rollback !== undefined;
      if (ok) detail += await alarmCheck(deps, incident);
    }
  } else if (input.commandId === null) {
    ok = true;
    detail = `${remediation.id} was requested through the EC2 API`;
  } else {
    const invocation = await deps.runner.get(input.commandId, incident.node);
    ok = invocation.status === 'success';
    detail = summarizeFixOutput(invocation);
  }
  const updated = await deps.store.update(incident.id, (current) => ({
    ...current,
    audit: [
      ...current.audit,
      auditEntry(deps, `${input.purpose}-${ok ? 'ok' : 'failed'}`, 'nodemedic', detail),
    ],
  }));
  recordEvaluation(deps, updated, { purpose: input.purpose, remediation: remediation.id, ok });
  if (input.purpose !== 'recheck' || !ok) {
    await reply(
      deps,
      updated,
      renderStepResult({ purpose: input.purpose, remediation: remediation.id, ok, detail }),
    );
  }
  return { ok, rollback };
}

/**
 * The cluster's side of the verification: the alarm that opened the incident. It lags the node
 * (CloudWatch evaluates once a period), so a still-breaching alarm is reported, not held against
 * the fix; its OK, when it comes, is posted in the thread and closes the record.
 */
async function alarmCheck(deps: AppDeps, incident: Incident): Promise<string> {
  if (!deps.alarms || incident.alarmName.startsWith('mention by ') || incident.clusterAlarm) return '';
  try {
    const state = await deps.alarms.state(incident.alarmName);
    if (state === null) return `; no alarm named ${incident.alarmName} to check`;
    if (state === 'OK') return `; the alarm ${incident.alarmName} is back to OK`;
    return `; the alarm ${incident.alarmName} is still ${state}: CloudWatch re-evaluates it every period, and its OK will be posted here`;
  } catch (error) {
    deps.logger.warn('could not read the alarm state', { incidentId: incident.id, error: String(error) });
    return `; the alarm's state could not be read (${error instanceof Error ? error.message : String(error)})`;
  }
}

/** The catalog the steps dispatch and judge from: the deps' own (a test's), else the built-in one. */
function catalogOf(deps: AppDeps): Catalog {
  return deps.catalog ?? CATALOG;
}

/** Seconds between two checks of a fixed node's readiness. */
const READY_CHECK_SECONDS = 30;

/** One reading of a node's readiness, and where it came from (said in the thread). */
interface ReadinessReading {
  readonly state: 'ready' | 'not-ready' | 'unknown';
  readonly source: string;
}

/**
 * Where a fixed node's own readiness is read, best first: the contributor that opened the incident
 * (it leaves the alarm's contributors in ALARM), the per-node alarm that opened it (back to OK),
 * then Container Insights' per-node readiness, which is also read while the first does not say
 * Ready and wins when it does. Each source that cannot be read says why in `unread`.
 */
async function readReadiness(
  deps: AppDeps,
  incident: Incident,
): Promise<{ reading: ReadinessReading | null; unread: string[]; tried: number }> {
  const unread: string[] = [];
  let tried = 0;
  const attempt = async (what: string, read: () => Promise<ReadinessReading | null>) => {
    tried += 1;
    try {
      return await read();
    } catch (error) {
      deps.logger.warn('could not read the node readiness', {
        incidentId: incident.id,
        what,
        error: String(error),
      });
      unread.push(`${what} could not be read (${error instanceof Error ? error.message : String(error)})`);
      return null;
    }
  };
  const alarm = incident.alarmName;
  let reading: ReadinessReading | null = null;
  if (incident.contributorId) {
    const contributor = incident.contributorId;
    const what = `contributor ${contributor} of the alarm ${alarm}`;
    if (!deps.contributors) unread.push(`${what}: nodemedic has no access to the alarm's contributors here`);
    else
      reading = await attempt(what, async () => {
        const listed = await deps.contributors!.inAlarm(alarm);
        return {
          state: listed.some((c) => c.id === contributor) ? 'not-ready' : 'ready',
          source: listed.some((c) => c.id === contributor)
            ? `${what} is still in ALARM`
            : `${what} is no longer in ALARM`,
        };
      });
  } else if (!alarm.startsWith('mention by ') && !incident.clusterAlarm) {
    // A cluster's alarm (the node was found by readiness or a sweep) says nothing of this node:
    // other nodes can hold it in ALARM, and it goes OK below its threshold with this node NotReady.
    const what = `the alarm ${alarm}`;
    if (!deps.alarms) unread.push(`${what}: nodemedic has no access to the alarms' states here`);
    else
      reading = await attempt(what, async () => {
        const state = await deps.alarms!.state(alarm);
        if (state === null) {
          unread.push(`${what} does not exist`);
          return null;
        }
        return {
          state: state === 'OK' ? 'ready' : state === 'ALARM' ? 'not-ready' : 'unknown',
          source: `${what} is ${state === 'OK' ? 'back to OK' : state}`,
        };
      });
  }
  // The node's own datapoint, when there is one, is read too while the alarm does not say Ready:
  // an alarm lags its metric by its evaluation periods, and an alarm that names no node (a
  // cluster's) can stay in ALARM for other nodes. A node Ready by its own datapoint is Ready.
  if (reading?.state !== 'ready') {
    const what = `the node's readiness in Container Insights (node_status_condition_ready)`;
    if (!deps.readiness) {
      if (!reading) unread.push(`${what}: not available here`);
    } else {
      const own = await attempt(what, async () => {
        const state = await deps.readiness!.nodeState(incident.node);
        return {
          state,
          source:
            state === 'unknown'
              ? `${what} has no recent datapoint`
              : `${what} says ${state === 'ready' ? 'Ready' : 'NotReady'}`,
        };
      });
      if (own && (!reading || own.state === 'ready')) reading = own;
    }
  }
  return { reading, unread, tried };
}

/**
 * 6b. After a verification passed, wait (bounded by the remediation's `readyWithinSeconds`) for the
 * node's own readiness to return to OK: containerd answering is not the node being Ready. One call
 * is one check; the state machine waits `waitSeconds` between checks. Ready: done. Still NotReady
 * at the bound: done, not ok, said in the thread with what was waited for (the workflow escalates
 * as not-recovered). Nothing readable, or no datapoint by the bound: done and ok as before this
 * check existed, and the thread says the check could not be made. Only the readings decide: a
 * Slack failure while saying so is logged and recorded, never turned into an escalation.
 */
export async function readyStep(deps: AppDeps, input: ReadyInput): Promise<ReadyOutput> {
  const incident = await load(deps, input.incidentId);
  const remediation = remediationIn(catalogOf(deps), input.remediation);
  const attempt = input.attempt + 1;
  const verifyBy = remediation.verifyBy;
  const finish = async (ok: boolean, action: AuditAction, detail: string, message: ChatMessage | null) => {
    // The readings decide; Slack only says it. Posted before it is recorded, so the record says
    // whether the thread was told; the outcome or escalation and the timeline that follow it tell
    // the thread what a failed post did not.
    const untold = message ? await tellReadiness(deps, incident, message) : null;
    const recorded = untold ? `${detail} (not said in the thread then: ${untold})` : detail;
    await deps.store.update(incident.id, (current) => ({
      ...current,
      audit: [...current.audit, auditEntry(deps, action, 'nodemedic', recorded)],
    }));
    return { done: true, ok, attempt, waitSeconds: 0 };
  };
  if (verifyBy.kind !== 'diagnose') {
    // A replaced node is gone: its successor's own alarm says whether it is Ready.
    return finish(
      true,
      'ready-skipped',
      `${remediation.id}: verified by ${verifyBy.kind}, no readiness wait`,
      null,
    );
  }
  const bound = verifyBy.readyWithinSeconds ?? DEFAULT_READY_WITHIN_SECONDS;
  const waited = Math.min(input.attempt * READY_CHECK_SECONDS, bound);
  const { reading, unread, tried } = await readReadiness(deps, incident);
  const after = waited > 0 ? ` after ${waited} s` : '';
  if (reading?.state === 'ready') {
    const detail = `the node is Ready${after}: ${reading.source}`;
    return finish(
      true,
      'ready-ok',
      detail,
      renderStepResult({ purpose: 'readiness', remediation: remediation.id, ok: true, detail }),
    );
  }
  if (tried === 0) {
    // No port that could tell: said at once, not waited out.
    return finish(true, 'ready-unchecked', unread.join('; '), notChecked(unread));
  }
  if (waited < bound) {
    return { done: false, ok: false, attempt, waitSeconds: Math.min(READY_CHECK_SECONDS, bound - waited) };
  }
  if (reading?.state === 'not-ready') {
    const detail = `waited ${bound} s for the node to be Ready again: ${reading.source}`;
    return finish(
      false,
      'ready-failed',
      detail,
      renderStepResult({ purpose: 'readiness', remediation: remediation.id, ok: false, detail }),
    );
  }
  const why = reading ? [...unread, reading.source] : unread;
  return finish(true, 'ready-unchecked', `for ${bound} s: ${why.join('; ')}`, notChecked(why, bound));
}

/**
 * Say how the readiness wait ended in the thread. A Slack failure (after the client's own retries)
 * is logged and returned, never thrown: the step's catch escalates as not-recovered, and a chat
 * that failed says nothing about the node.
 */
async function tellReadiness(
  deps: AppDeps,
  incident: Incident,
  message: ChatMessage,
): Promise<string | null> {
  try {
    await reply(deps, incident, message);
    return null;
  } catch (error) {
    deps.logger.warn('could not say the readiness in the thread: the verdict stands', {
      incidentId: incident.id,
      error: describe(error),
    });
    return describe(error);
  }
}

/** The thread is told that the node's readiness could not be checked, and why. */
function notChecked(why: readonly string[], seconds?: number): ChatMessage {
  const text = escapeMrkdwn(
    `The node's readiness was not checked${seconds ? ` (tried for ${seconds} s)` : ''}: ${why.join('; ')}. The verification above stands; watch the node's alarm.`,
  );
  return { text: `:grey_question: ${text}`, blocks: [] };
}

/** The fix scripts end with one JSON line `{"fix","ok","changed","detail","backup"}`; quote its detail. */
export function summarizeFixOutput(invocation: CommandInvocation): string {
  const last = invocation.stdout.trim().split('\n').pop() ?? '';
  try {
    const parsed = JSON.parse(last) as { detail?: unknown; changed?: unknown };
    if (typeof parsed.detail === 'string') {
      return `${parsed.detail}${parsed.changed === false ? ' (nothing changed)' : ''} [command ${invocation.commandId}, ${invocation.detail}]`;
    }
  } catch {
    // Not the JSON summary line: fall through to the raw tail, which is still evidence.
  }
  const tail = (invocation.stderr || invocation.stdout).trim().split('\n').slice(-3).join(' | ');
  return `${invocation.detail}, exit ${invocation.exitCode ?? 'unknown'}${tail ? `: ${tail.slice(0, 500)}` : ''} [command ${invocation.commandId}]`;
}

/** 7. Close the incident: recovered after verification, or skipped because the cause went away. */
export async function outcomeStep(deps: AppDeps, input: OutcomeInput): Promise<void> {
  await load(deps, input.incidentId);
  const at = deps.clock().toISOString();
  const written = await applyTransition(deps.store, input.incidentId, (current) =>
    transition(current, { type: 'outcome', at, kind: input.kind, remediation: input.remediation }),
  );
  await perform(deps, written);
  await rollNodeEnded(deps, written.incident, { kind: input.kind });
}

const ESCALATION_TEXT: Record<EscalateInput['reason'], string> = {
  'approval-timeout': 'Nobody approved a fix in time. Nothing was run.',
  'fix-failed': 'The fix failed.',
  'not-recovered': 'The fix ran but the node did not recover.',
  'diagnosis-failed': 'The diagnosis could not complete.',
};

/** Escalate: mention the on-call group, mark the card, expire the buttons. Nothing runs unattended. */
export async function escalateStep(deps: AppDeps, input: EscalateInput): Promise<void> {
  await escalate(deps, input.incidentId, {
    action: 'escalated',
    detail: input.reason,
    why: () => ESCALATION_TEXT[input.reason],
  });
}

/** What became of an execution that ended FAILED, TIMED_OUT or ABORTED. */
export type ExecutionEndedOutcome =
  | { readonly kind: 'escalated'; readonly incidentId: string }
  /** The incident had ended already (or this event was delivered before): nothing changed. */
  | { readonly kind: 'already-ended'; readonly incidentId: string; readonly phase: string }
  /** No such incident (its record expired, or the execution was not nodemedic's). */
  | { readonly kind: 'not-found'; readonly incidentId: string };

/** How much of Step Functions' cause is quoted in the thread. */
const CAUSE_MAX = 300;

const ENDED_HOW: Record<ExecutionEnded['status'], string> = {
  FAILED: 'failed',
  TIMED_OUT: "timed out (the execution's time limit)",
  ABORTED: 'was stopped',
};

/**
 * An execution ended without its incident ending (the escalate step itself failed, the execution's
 * time limit, a StopExecution): end the incident as escalated, say why in the thread, mention the
 * on-call group, expire the buttons, and free the node (its lock) and the cluster's fix slot, so
 * the node's next alarm opens a new incident. An incident that has ended is left alone, so a
 * redelivered event changes nothing.
 */
export async function handleExecutionEnded(
  deps: AppDeps,
  ended: ExecutionEnded,
): Promise<ExecutionEndedOutcome> {
  const cause = [ended.error, ended.cause].filter(Boolean).join(': ');
  const quoted = cause.length > CAUSE_MAX ? `${cause.slice(0, CAUSE_MAX)}…` : cause;
  const base = `The workflow execution ${ENDED_HOW[ended.status]}${quoted ? ` (${quoted})` : ''} before the incident ended. nodemedic runs nothing more.`;
  const why = (before: Incident) => {
    const running = unjudgedCommand(before);
    return running
      ? `${base} Its last command (${running.key} ${running.script}, ${running.commandId ?? 'EC2/ASG call'}) was never judged and may still be running on the node: check it before acting.`
      : base;
  };
  const result = await escalate(
    deps,
    ended.incidentId,
    { action: 'execution-ended', detail: `${ended.status}${cause ? `: ${cause}` : ''}`, why },
    { missingOk: true },
  );
  if (result.kind === 'not-found') {
    deps.logger.warn('an execution ended for an incident that does not exist', {
      incidentId: ended.incidentId,
      executionArn: ended.executionArn,
    });
  }
  return result;
}

/** Audit actions that judge or end a command: its outcome is known after one of these. */
const JUDGED = /^(analyzed|command-cancelled|(diagnose|recheck|fix|verify|rollback)-(ok|failed))$/;

/**
 * The last command sent that no step judged afterwards: it may still be running on the node.
 * "Afterwards" is by the audit trail's order, from the entry that recorded the send: two steps can
 * write within the same millisecond, so timestamps cannot order them.
 */
function unjudgedCommand(incident: Incident): SentCommand | null {
  const last = incident.commands?.at(-1);
  if (!last || last.state === 'send-failed') return null;
  const sentAt = incident.audit.findLastIndex(
    (a) => a.action.endsWith('-sent') && a.action !== 'escalation-posted',
  );
  return incident.audit.slice(sentAt + 1).some((a) => JUDGED.test(a.action)) ? null : last;
}

/**
 * End the incident as escalated and tell the thread. The record is written first (the node is free
 * and nothing more runs whatever Slack does), then the messages, then an `escalation-posted`
 * entry: a retry after a Slack failure finds the incident ended but not announced, and posts again
 * instead of leaving a thread that never says the incident ended.
 */
async function escalate(
  deps: AppDeps,
  incidentId: string,
  what: { action: 'escalated' | 'execution-ended'; detail: string; why: (before: Incident) => string },
  options: { missingOk?: boolean } = {},
): Promise<ExecutionEndedOutcome> {
  const before = await deps.store.get(incidentId);
  if (!before) {
    if (options.missingOk) return { kind: 'not-found', incidentId };
    throw new IncidentNotFoundError(incidentId);
  }
  const reason: PageReason = what.action === 'escalated' ? (what.detail as PageReason) : 'execution-failed';
  if (isTerminal(before) && !unannounced(before)) {
    // Announced, but the page failed: this retry (Step Functions', or EventBridge's for an
    // execution that ended) pages again, and nothing else.
    if (pageOwed(deps, before)) {
      await pageOrNote(deps, before, reason);
      await incidentEnded(deps, (await deps.store.get(incidentId)) ?? before);
      return { kind: 'escalated', incidentId };
    }
    deps.logger.info('not escalating an incident that already ended', { incidentId, phase: before.phase });
    return { kind: 'already-ended', incidentId, phase: before.phase };
  }
  const at = deps.clock().toISOString();
  const why = what.why(before);
  const written = await applyTransition(deps.store, incidentId, (current) =>
    transition(current, { type: 'escalated', at, action: what.action, detail: what.detail, why }),
  );
  const escalation = written.outcome;
  if (escalation.kind === 'already-ended')
    return { kind: 'already-ended', incidentId, phase: escalation.phase };
  if (escalation.kind === 'escalated')
    recordEscalation(deps, written.incident, what.action === 'escalated' ? what.detail : what.action);
  await perform(deps, written, { mentionUserGroup: deps.onCallUserGroupId });
  const posted = deps.clock().toISOString();
  const { incident: announced } = await applyTransition(deps.store, incidentId, (current) =>
    transition(current, {
      type: 'noted',
      at: posted,
      action: ANNOUNCED,
      actor: 'nodemedic',
      detail: what.action,
    }),
  );
  await rollNodeEnded(deps, announced, {
    kind: 'escalated',
    reason: what.action === 'escalated' ? what.detail : what.action,
  });
  // Paged after Slack is told, so a pager outage never keeps the thread from hearing it. A node
  // held in a cluster incident whose wait for a rolling fix ran out is not paged: its cluster
  // incident paged once for all of them, and a page per node is the storm the hold exists to stop.
  const heldWait = Boolean(announced.clusterIncident) && reason === 'approval-timeout';
  if (!heldWait) await pageOrNote(deps, announced, reason);
  await incidentEnded(deps, (await deps.store.get(incidentId)) ?? announced);
  return { kind: 'escalated', incidentId };
}

/** Audit action: a page was due and the pager did not take it (the retry pages again). */
const PAGE_FAILED = 'page-failed' satisfies AuditAction;

/** An escalated incident whose page failed and was not sent since. */
function pageOwed(deps: AppDeps, incident: Incident): boolean {
  if (!deps.pager) return false;
  const actions = incident.audit.map((a) => a.action);
  return actions.includes(PAGE_FAILED) && !actions.includes('paged');
}

/**
 * Page; when the pager fails, record that in the audit and the thread, then throw so the caller's
 * retry pages again (PagerDuty folds repeats of the dedup key into one alert).
 */
async function pageOrNote(deps: AppDeps, incident: Incident, reason: PageReason): Promise<void> {
  try {
    await page(deps, incident, reason);
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    if (!incident.audit.some((a) => a.action === PAGE_FAILED)) {
      const at = deps.clock().toISOString();
      const { incident: noted } = await applyTransition(deps.store, incident.id, (current) =>
        transition(current, { type: 'noted', at, action: PAGE_FAILED, actor: 'nodemedic', detail: why }),
      );
      await reply(
        deps,
        noted,
        renderStepResult({
          purpose: 'page',
          remediation: 'the on-call engineer',
          ok: false,
          detail: `The on-call pager did not take the page (${why}); nodemedic retries it. The escalation above stands.`,
        }),
      ).catch(() => {});
    }
    throw error;
  }
}

/** A state machine task's use case: what its Lambda handler (functions/handlers/<name>.ts) wraps. */
export type WorkflowStep = (deps: AppDeps, input: never) => Promise<unknown>;

/**
 * The use case each state machine function runs, by handler name. The local runner and the
 * interpreted-definition tests invoke steps through this map, as the Lambda handlers do in AWS.
 */
const WORKFLOW_STEPS: Readonly<
  Record<Exclude<HandlerName, 'alarm' | 'slack' | 'execution-ended'>, WorkflowStep>
> = {
  reachability: reachabilityStep,
  send: sendStep,
  poll: giveUpStep,
  analyze: analyzeStep,
  'await-approval': awaitApprovalStep,
  evaluate: evaluateStep,
  outcome: outcomeStep,
  escalate: escalateStep,
};

/** The step a state machine task names, or undefined if the name is no workflow step. */
export function workflowStep(handler: string): WorkflowStep | undefined {
  return Object.hasOwn(WORKFLOW_STEPS, handler)
    ? WORKFLOW_STEPS[handler as keyof typeof WORKFLOW_STEPS]
    : undefined;
}
