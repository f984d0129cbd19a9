/**
 * The game-day console behind the rehearsal page: it injects a fault into the running node and fires
 * a fresh alarm (a new incident, with its own card and findings), or resets the node to a healthy
 * daemon, and tells the terminal and the page how each incident went. One operation at a time, and
 * none while a fix runs: the page would otherwise change the node under nodemedic's feet.
 */

import { type Incident, isTerminal } from '../core/incident.js';
import { timelineMarkdown } from '../core/render/timeline.js';
import { LOCAL_NODE, type LocalStack } from './compose.js';
import type { ContainerdSandbox } from './sandbox/containerd.js';
import { FAULTS, type FaultId, type HealthyNode, restoreHealthy } from './sandbox/faults.js';
import { ConsoleRefusedError, type ConsoleStatus, type PageConsole } from './slack-standin/page.js';

/** Options of {@link GameDay}. */
export interface GameDayOptions {
  readonly sandbox: ContainerdSandbox;
  readonly stack: LocalStack;
  /** The sandbox as it was healthy, taken right after it started. */
  readonly healthy: HealthyNode;
  /** The version policy minimum for every fault but outdated-version (the installed release). */
  readonly minVersion: string;
  /** Where the console writes what happens (the demo's terminal). */
  readonly log: (line: string) => void;
  /** What the terminal says when an incident ends: how to go on, how to stop. */
  readonly nextSteps: string;
}

/** The findings of an incident as terminal lines: each cause, and its first evidence quoted. */
export function findingLines(incident: Incident): string[] {
  const lines = [
    `findings: ${incident.findings.map((f) => f.cause).join(', ') || 'none (healthy)'}; offered: ${incident.offered.join(', ') || 'nothing'}`,
  ];
  for (const finding of incident.findings) {
    lines.push(`  ${finding.severity} ${finding.cause}: ${finding.summary}`);
    for (const evidence of finding.evidence.slice(0, 2)) lines.push(`    > ${evidence.text.slice(0, 160)}`);
  }
  return lines;
}

/** Seconds between two ISO times, one decimal. */
function seconds(from: string, to: string): string {
  return `${((Date.parse(to) - Date.parse(from)) / 1000).toFixed(1)} s`;
}

/** The console: implements what the page's game-day panel asks for. */
export class GameDay implements PageConsole {
  readonly faults = (Object.keys(FAULTS) as FaultId[]).map((id) => ({
    id,
    description: FAULTS[id].description,
  }));
  readonly #o: GameDayOptions;
  /** The operation running now (inject, reset), if any. */
  #busy: string | null = null;
  /** True once anything changed the node since it was last healthy: the next inject resets first. */
  #dirty = false;
  #fault: FaultId | null = null;
  #incidentId: string | null = null;
  #note = 'No fault injected yet: pick one and press "Inject fault".';
  /** Incident watchers still running, so a caller can wait for their last line. */
  readonly #watchers = new Set<Promise<void>>();

  constructor(options: GameDayOptions) {
    this.#o = options;
  }

  async status(): Promise<ConsoleStatus> {
    const incident = await this.#current();
    const fixRunning =
      incident && (incident.phase === 'fixing' || incident.phase === 'verifying')
        ? `a fix is running on the node (${incident.phase}); wait for its outcome`
        : null;
    const open =
      incident && !isTerminal(incident)
        ? `an incident is open (${incident.phase}): approve or deny its fix, or reset the node, first`
        : null;
    return {
      note: this.#note,
      fault: this.#fault,
      injectBlocked: this.#busy ?? fixRunning ?? open,
      resetBlocked: this.#busy ?? fixRunning,
    };
  }

  /**
   * Inject `fault` into a healthy node (reset first when an earlier fault or fix changed it), set
   * the version policy it needs, and fire a NotReady alarm: a new incident.
   */
  async inject(fault: string): Promise<string> {
    if (!Object.hasOwn(FAULTS, fault))
      throw new ConsoleRefusedError(`unknown fault ${JSON.stringify(fault)}`);
    const id = fault as FaultId;
    const blocked = (await this.status()).injectBlocked;
    if (blocked) throw new ConsoleRefusedError(`cannot inject ${id} now: ${blocked}`);
    return this.#exclusive(`injecting ${id}`, async () => {
      const { sandbox, stack, log } = this.#o;
      if (this.#dirty) {
        this.#note = `Resetting the node before injecting ${id}…`;
        await restoreHealthy(sandbox, this.#o.healthy);
        log('node reset to a healthy containerd before the next fault');
      }
      this.#dirty = true;
      this.#fault = id;
      const spec = FAULTS[id];
      const minVersion = spec.minVersion ?? this.#o.minVersion;
      stack.setMinVersion(minVersion);
      this.#note = `Injecting ${id}…`;
      log(`fault ${id}: ${spec.description}`);
      await spec.inject(sandbox);
      log(
        `fault injected: ${id}; version policy minimum ${minVersion}${spec.minVersion ? ' (above the installed one, to rehearse outdated-version)' : ' (the installed version)'}`,
      );
      const outcome = await stack.fireAlarm('ALARM');
      log(`alarm fired for ${LOCAL_NODE.nodeName} (${LOCAL_NODE.instanceId}): ${outcome.kind}`);
      if (outcome.kind !== 'opened') {
        this.#note = `Fault ${id} injected, but the alarm opened no incident (${outcome.kind}).`;
        return this.#note;
      }
      this.#incidentId = outcome.incidentId;
      this.#watch(outcome.incidentId);
      this.#note = `Fault ${id} injected; the alarm opened a new incident. Diagnosing…`;
      return this.#note;
    });
  }

  /**
   * Restore a healthy node: the config, drop-ins, root and log as they were, the daemon started,
   * the version policy back to the installed release. An incident still open then sees its alarm go
   * back to OK and closes, as it would in AWS.
   */
  async reset(): Promise<string> {
    const blocked = (await this.status()).resetBlocked;
    if (blocked) throw new ConsoleRefusedError(`cannot reset the node now: ${blocked}`);
    return this.#exclusive('resetting the node', async () => {
      const { sandbox, stack, log } = this.#o;
      this.#note = 'Resetting the node…';
      await restoreHealthy(sandbox, this.#o.healthy);
      this.#dirty = false;
      stack.setMinVersion(this.#o.minVersion);
      log(`node reset: containerd answers again (pid ${sandbox.pid()})`);
      const open = await this.#current();
      if (open && !isTerminal(open)) {
        const outcome = await stack.fireAlarm('OK');
        log(`alarm back to OK for ${LOCAL_NODE.nodeName}: ${outcome.kind}`);
        // The incident's watcher writes its ending first, so the page's last word is the reset's.
        await this.settled();
        this.#note =
          'Node reset to a healthy containerd; the open incident closed as its alarm went back to OK.';
      } else {
        this.#note = 'Node reset to a healthy containerd. Pick a fault and press "Inject fault".';
      }
      return this.#note;
    });
  }

  /** Wait for every incident watcher to write its last line (tests, and a clean stop). */
  async settled(): Promise<void> {
    await Promise.all([...this.#watchers]);
  }

  async #current(): Promise<Incident | null> {
    return this.#incidentId ? this.#o.stack.store.get(this.#incidentId) : null;
  }

  async #exclusive(what: string, run: () => Promise<string>): Promise<string> {
    if (this.#busy) throw new ConsoleRefusedError(`cannot start ${what}: ${this.#busy}`);
    this.#busy = `${what}…`;
    try {
      return await run();
    } catch (error) {
      this.#note = `${what} failed: ${error instanceof Error ? error.message : String(error)}`;
      this.#o.log(this.#note);
      throw error;
    } finally {
      this.#busy = null;
    }
  }

  /** Log an incident's findings once analysed, and its outcome once it ends. */
  #watch(incidentId: string): void {
    const { stack, log } = this.#o;
    const watcher = (async () => {
      let analysed: Incident | null = null;
      // Bounded like the demo's own wait: the diagnosis is bounded to about 15 s.
      for (let i = 0; i < 600 && !analysed; i++) {
        const incident = await stack.store.get(incidentId);
        if (incident && incident.phase !== 'diagnosing') analysed = incident;
        else await new Promise((resolve) => setTimeout(resolve, 200));
      }
      if (analysed) {
        for (const line of findingLines(analysed)) log(line);
        if (!isTerminal(analysed)) {
          log('waiting for an approval on the page (pick an on-call user, press a fix)');
          if (this.#incidentId === incidentId) {
            this.#note = `Findings posted for ${this.#fault}: pick an on-call user and press a fix.`;
          }
        }
      }
      await stack.workflow.finished(incidentId);
      const ended = await stack.store.get(incidentId);
      if (!ended) return;
      const approved = ended.audit.find((entry) => entry.action === 'approved');
      const last = ended.audit.at(-1);
      log(
        `incident ended: ${ended.phase}${approved && last ? ` (${seconds(approved.at, last.at)} after the approval)` : ''}`,
      );
      // The postmortem timeline, as `nodemedic report` prints it from the incident table in AWS.
      for (const line of timelineMarkdown(ended).trimEnd().split('\n')) log(`  ${line}`);
      log(`containerd answers now: ${(await this.#o.sandbox.answers()) ? 'yes' : 'no'}`);
      log(this.#o.nextSteps);
      if (this.#incidentId === incidentId) {
        this.#note = `Incident ended: ${ended.phase}. Pick a fault and press "Inject fault" for another, or "Reset node".`;
      }
    })().catch((error: unknown) => {
      log(
        `watching incident ${incidentId} failed: ${error instanceof Error ? error.message : String(error)}`,
      );
    });
    this.#watchers.add(watcher);
    void watcher.finally(() => this.#watchers.delete(watcher));
  }
}
