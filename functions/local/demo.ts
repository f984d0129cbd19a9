/**
 * `npm run demo`: the whole incident on one machine. A throwaway containerd with a real fault, the
 * real alarm parser, use cases, steps and Bolt app, the Slack stand-in with a Slack-like page where
 * Approve really fixes the daemon. Interactively the page then stays up as a game-day console
 * (inject the next fault, reset the node) until Ctrl-C; `--auto-approve` runs the loop with no
 * browser and exits; `--fault all` runs every fault and prints a table.
 */

import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { PagerDutyEvents } from '../adapters/http/pagerduty.js';
import type { Incident } from '../core/incident.js';
import type { RemediationId } from '../core/model.js';
import { DEFAULT_SAFETY_POLICY, validateSafetyPolicy } from '../core/policy.js';
import { getRemediation } from '../core/remediations/index.js';
import { fixActionId } from '../core/render/slack.js';
import { timelineMarkdown } from '../core/render/timeline.js';
import { MAX_CLUSTER_NODES, MIN_CLUSTER_NODES } from './cluster.js';
import { clusterRunOk, clusterTable, runClusterRehearsal } from './cluster-rehearsal.js';
import {
  LOCAL_CHANNEL,
  LOCAL_NODE,
  LOCAL_ONCALL_GROUP,
  LOCAL_USER_NAMES,
  LOCAL_USERS,
  type LocalStack,
  startLocalStack,
} from './compose.js';
import { findingLines, GameDay } from './game-day.js';
import { PagerStandIn } from './pager-standin.js';
import { alive, ContainerdSandbox, containerdInstalled, installedContainerd } from './sandbox/containerd.js';
import { FAULTS, type FaultId, snapshotHealthy } from './sandbox/faults.js';
import { mountPage } from './slack-standin/page.js';
import type { WorkflowEvent } from './workflow.js';

const USAGE = `Usage: npm run demo -- [--fault ID|none|list|all] [--auto-approve] [--port N] [--approval-timeout SECONDS] [--pager] [--shadow]
       npm run demo -- --cluster N [--auto-approve] [--port N] [--approval-timeout SECONDS]

Rehearse an incident on this machine: a throwaway containerd (Debian's package) with a real fault,
nodemedic's real pipeline, and a local Slack stand-in with a page where you press Approve. The page
stays up after the incident, as a game-day console: inject another fault, or reset the node, from
there. Ctrl-C stops the demo and removes every process and temp dir it started.

  --fault ID            the fault to inject first (default fd-exhaustion); "none" starts with a healthy
                        node; "list" prints them; "all" runs each in turn (with --auto-approve)
  --auto-approve        approve the first fix nodemedic offers, as the on-call engineer; no browser needed.
                        Exits when done: 0 only if the node recovered (with --fault all: every fault that
                        has a fix).
  --port N              port of the Slack stand-in page (default 8787; 0 picks a free one)
  --approval-timeout S  seconds to wait for an approval before escalating (default 900)
  --pager               page through a local stand-in of PagerDuty's Events API v2; each page and
                        resolve shows in the channel (try --approval-timeout 30 and let it run out)
  --shadow              the local cluster in shadow mode: findings and what nodemedic would offer,
                        no button that runs anything
  --cluster N           rehearse a cluster of N nodes (${MIN_CLUSTER_NODES} to ${MAX_CLUSTER_NODES}), each its own containerd sandbox:
                        one node in five breaks on its own and a cluster-level alarm (no node named)
                        makes nodemedic sweep them all; then most of the rest lose containerd at once and
                        their per-node alarm contributors storm in, held as ONE cluster incident with one
                        thread and a live summary. Combines with --auto-approve (approve each fix and the
                        rolling fix, exit 0 only if every faulty node recovered), --port and
                        --approval-timeout; not with --fault, --pager or --shadow (the cluster picks its
                        own faults)
  -h, --help            this text`;

/**
 * The rehearsal's safety policy: AWS's defaults, except that a node may be fixed again at once.
 * The game-day console opens one incident after another on the same node within minutes, and the
 * 15-minute cooldown between fixes would hold every fix after the first. Said on the page too.
 */
const REHEARSAL_POLICY = validateSafetyPolicy({ nodeCooldownMinutes: 0 });
const POLICY_NOTE = `Local policy: node cooldown ${REHEARSAL_POLICY.nodeCooldownMinutes} min (${DEFAULT_SAFETY_POLICY.nodeCooldownMinutes} in AWS), so each new incident on this node can be fixed at once`;

/** One fault's run, for the --fault all table. */
interface RunResult {
  readonly fault: FaultId;
  readonly causes: string;
  readonly fix: string;
  readonly result: 'recovered' | 'escalated' | 'no fix offered' | 'findings only' | string;
  readonly findingsMs: number | null;
  readonly recoveryMs: number | null;
}

const TERMINAL = new Set(['recovered', 'escalated', 'closed']);

function log(line: string): void {
  process.stdout.write(`${new Date().toISOString().slice(11, 19)}  ${line}\n`);
}

async function waitFor(
  stack: LocalStack,
  incidentId: () => string | null,
  predicate: (incident: Incident) => boolean,
  timeoutMs: number,
): Promise<Incident | null> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const id = incidentId();
    const incident = id ? await stack.store.get(id) : null;
    if (incident && predicate(incident)) return incident;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return null;
}

/**
 * A fix that can work here: it runs on the node (locally there is no EC2 to reboot and no Auto
 * Scaling group to replace from), and it is not upgrade-containerd, which needs a version the
 * operator pins and a package repository.
 */
function pickFix(offered: readonly RemediationId[]): RemediationId | null {
  return offered.find((id) => getRemediation(id).runsOn === 'node' && id !== 'upgrade-containerd') ?? null;
}

/** Press the fix button as on-call engineers would: one click, or requester + two approvers for destructive fixes. */
async function approve(stack: LocalStack, incident: Incident, remediation: RemediationId): Promise<void> {
  const message = incident.findingsMessage;
  if (!message) throw new Error('the findings message with the buttons was not posted');
  const clickers =
    getRemediation(remediation).tier === 'destructive'
      ? [LOCAL_USERS.onCall, LOCAL_USERS.onCallSecond, LOCAL_USERS.onCallThird]
      : [LOCAL_USERS.onCall];
  for (const user of clickers) {
    const request = stack.standIn.clickRequest({
      channel: message.channel,
      messageTs: message.ts,
      actionId: fixActionId(remediation),
      user,
    });
    const response = await stack.deliver(request);
    log(
      `  ${LOCAL_USER_NAMES[user]} pressed "${getRemediation(remediation).title}" → HTTP ${response.statusCode}`,
    );
  }
}

/** What both modes need to know. */
interface RunOptions {
  /** Page through the local PagerDuty stand-in. */
  readonly pager: boolean;
  /** The local cluster in shadow mode. */
  readonly shadow: boolean;
  readonly port: number;
  readonly approvalTimeoutMs: number;
  /** The installed containerd's version word, the version policy's minimum here. */
  readonly installed: string;
}

/** Run one fault with --auto-approve: inject, alarm, approve the first local fix, wait for the end. */
async function runFault(
  fault: FaultId,
  options: RunOptions,
  registerSandbox: (sandbox: ContainerdSandbox) => void,
  register: (cleanup: () => Promise<void>) => void,
): Promise<RunResult> {
  const spec = FAULTS[fault];
  log(`fault ${fault}: ${spec.description}`);
  const sandbox = await ContainerdSandbox.start();
  registerSandbox(sandbox);
  log(`containerd sandbox up in ${sandbox.dir} (socket ${sandbox.address})`);
  await spec.inject(sandbox);
  log(`fault injected: ${fault}`);

  const minVersion = spec.minVersion ?? options.installed;
  let incidentId: string | null = null;
  const started = Date.now();
  let findingsAt: number | null = null;
  const stack = await startLocalStack({
    sandbox,
    minVersion,
    approvalTimeoutMs: options.approvalTimeoutMs,
    port: options.port,
    onEvent: (event: WorkflowEvent) => {
      if (event.step === 'analyze' && findingsAt === null) findingsAt = Date.now();
      log(`  [${event.step}] ${event.detail}`);
    },
  });
  register(() => stack.close());
  log(
    `version policy minimum ${minVersion}${spec.minVersion ? ' (above the installed one, to rehearse outdated-version)' : ' (the installed version: the default policy would flag Debian 1.6 as past end of life)'}`,
  );

  const outcome = await stack.fireAlarm('ALARM');
  log(`alarm fired for ${LOCAL_NODE.nodeName} (${LOCAL_NODE.instanceId}): ${outcome.kind}`);
  if (outcome.kind === 'opened' || outcome.kind === 'duplicate') incidentId = outcome.incidentId;

  const analysed = await waitFor(
    stack,
    () => incidentId,
    (i) => i.phase !== 'diagnosing',
    120_000,
  );
  if (!analysed) throw new Error('no findings within 2 minutes');
  const causes = analysed.findings.map((f) => f.cause).join(', ') || 'none (healthy)';
  for (const line of findingLines(analysed)) log(line);
  const findingsMs = findingsAt === null ? Date.now() - started : findingsAt - started;

  const awaiting = await waitFor(
    stack,
    () => incidentId,
    (i) => i.phase === 'awaiting-approval' || TERMINAL.has(i.phase) || i.phase === 'findings',
    10_000,
  );
  if (!awaiting || awaiting.offered.length === 0) {
    return { fault, causes, fix: 'none', result: 'no fix offered', findingsMs, recoveryMs: null };
  }
  const fix = pickFix(awaiting.offered);
  if (!fix) {
    return {
      fault,
      causes,
      fix: `none runnable here (${awaiting.offered.join(', ')})`,
      result: 'no local fix',
      findingsMs,
      recoveryMs: null,
    };
  }
  await waitFor(
    stack,
    () => incidentId,
    (i) => i.phase === 'awaiting-approval',
    10_000,
  );
  const current = (await stack.store.get(incidentId!))!;
  await approve(stack, current, fix);
  const approvedAt = Date.now();
  const final = await stack.workflow.finished(incidentId!);
  const ended = (await stack.store.get(incidentId!))!;
  log(`incident ended: ${final} (phase ${ended.phase})`);
  for (const line of timelineMarkdown(ended).trimEnd().split('\n')) log(`  ${line}`);
  const answers = await sandbox.answers();
  log(`containerd answers now: ${answers ? 'yes' : 'no'}`);
  const fixed = ended.requested?.remediation ?? fix ?? 'none';
  return {
    fault,
    causes,
    fix: fixed,
    result: ended.phase,
    findingsMs,
    recoveryMs: ended.phase === 'recovered' ? Date.now() - approvedAt : null,
  };
}

/** The parent pid of `pid`, from /proc; null when it is gone. */
function parentOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return null;
  }
}

/**
 * Call `onGone` when the process that launched the demo ends. `npm run demo` runs it as npm → sh
 * → tsx → node, and a SIGTERM sent to npm alone (a process manager, `timeout`) ends npm and sh
 * without passing it on: the demo would serve on, orphaned, with its daemon. So the demo watches
 * its parent and grandparent, and stops (cleaning up) when either is gone.
 */
function watchLaunchers(onGone: () => void): void {
  const launchers = [process.ppid, parentOf(process.ppid)].filter(
    (pid): pid is number => pid !== null && pid > 1,
  );
  const timer = setInterval(() => {
    if (launchers.some((pid) => !alive(pid))) {
      clearInterval(timer);
      onGone();
    }
  }, 1000);
  timer.unref();
}

/**
 * The interactive rehearsal: one sandbox node and one local stack for the whole session, the page
 * with its game-day console, and the first fault (unless none) injected. Returns once the page is
 * up and the first alarm fired; the page keeps serving until the process is stopped.
 */
async function serveConsole(
  fault: FaultId | null,
  options: RunOptions,
  registerSandbox: (sandbox: ContainerdSandbox) => void,
  register: (cleanup: () => Promise<void>) => void,
): Promise<void> {
  const sandbox = await ContainerdSandbox.start();
  registerSandbox(sandbox);
  log(`containerd sandbox up in ${sandbox.dir} (socket ${sandbox.address})`);
  const healthy = snapshotHealthy(sandbox);
  const pagerStandIn = options.pager ? await PagerStandIn.start() : null;
  if (pagerStandIn) register(() => pagerStandIn.close());
  const policy = options.shadow
    ? validateSafetyPolicy({ ...REHEARSAL_POLICY, shadowClusters: [LOCAL_NODE.cluster] })
    : REHEARSAL_POLICY;
  const stack = await startLocalStack({
    sandbox,
    minVersion: options.installed,
    policy,
    approvalTimeoutMs: options.approvalTimeoutMs,
    port: options.port,
    onEvent: (event: WorkflowEvent) => log(`  [${event.step}] ${event.detail}`),
    ...(pagerStandIn
      ? {
          pager: new PagerDutyEvents({
            routingKey: randomBytes(16).toString('hex'),
            baseUrl: pagerStandIn.baseUrl,
          }),
        }
      : {}),
  });
  register(() => stack.close());
  if (pagerStandIn) {
    // What PagerDuty received, in the channel and the terminal, as the on-call engineer's phone would ring.
    pagerStandIn.onEvent((event) => {
      const line =
        event.event_action === 'trigger'
          ? `:pager: PagerDuty (local stand-in) TRIGGERED: ${event.payload?.summary ?? ''} [dedup ${event.dedup_key}]`
          : `:white_check_mark: PagerDuty (local stand-in) RESOLVED [dedup ${event.dedup_key}]`;
      stack.standIn.seedMessage({
        channel: LOCAL_CHANNEL,
        text: line,
        user: 'U0PAGERDUTY',
        botId: 'B0PAGERDUTY',
      });
      log(`  [pager] ${event.event_action} ${event.dedup_key}`);
    });
  }
  const url = stack.standIn.baseUrl;
  const gameDay = new GameDay({
    sandbox,
    stack,
    healthy,
    minVersion: options.installed,
    log,
    nextSteps: `the page stays up at ${url}: pick a fault there and press "Inject fault" for another incident, or "Reset node" for a healthy daemon; Ctrl-C stops the demo and removes everything it started`,
  });
  mountPage(stack.standIn, {
    channel: LOCAL_CHANNEL,
    users: Object.entries(LOCAL_USER_NAMES).map(([id, name]) => ({ id, name })),
    groups: [{ id: LOCAL_ONCALL_GROUP, name: 'oncall' }],
    deliver: stack.deliver,
    banner:
      `Rehearsal on a real containerd (${options.installed}) in ${sandbox.dir}, run bare for speed with a systemctl stand-in (the node lab proves the real-systemd path: see the README). ${POLICY_NOTE}.` +
      (options.shadow ? ' Shadow mode: findings only, no button runs anything.' : '') +
      (pagerStandIn ? ' Paging: a local PagerDuty stand-in; its events show in the channel.' : ''),
    title: 'nodemedic rehearsal',
    console: gameDay,
  });
  log(`open the Slack stand-in page: ${url}`);
  log(
    'the node is a bare containerd with a systemctl stand-in, for speed; the node lab (scripts/lab.sh) runs the same scripts under real systemd',
  );
  log(POLICY_NOTE);
  log(
    'version policy minimum: the installed version (the default policy would flag Debian 1.6 as past end of life), except for outdated-version',
  );
  if (fault) await gameDay.inject(fault);
  else log('no fault injected: pick one on the page and press "Inject fault"');
  log('Ctrl-C stops the demo and removes every process and temp dir it started');
}

/**
 * Interactively, once every incident the rehearsal opened has ended (the on-call engineer pressed
 * the fixes on the page), print the table again with how each ended, and say the demo is done.
 */
async function sayWhenEnded(result: Awaited<ReturnType<typeof runClusterRehearsal>>): Promise<void> {
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const rows = await Promise.all(
      result.rows.map(async (row) => {
        const incident = row.incidentId ? await result.cluster.store.get(row.incidentId) : null;
        return incident
          ? { ...row, phase: incident.phase, fix: incident.requested?.remediation ?? row.fix }
          : row;
      }),
    );
    if (!rows.every((row) => row.incidentId === null || TERMINAL.has(row.phase ?? ''))) continue;
    process.stdout.write(`\n${clusterTable(rows)}\n\n`);
    log(
      rows.every((row) => row.incidentId === null || row.phase === 'recovered')
        ? 'every incident ended, every faulty node recovered; the page stays up until Ctrl-C'
        : 'every incident ended, NOT every faulty node recovered (see the table); the page stays up until Ctrl-C',
    );
    return;
  }
}

/**
 * `--cluster N`: the cluster rehearsal (functions/local/cluster-rehearsal.ts). Interactive, the page
 * stays up until Ctrl-C; with --auto-approve it prints the table and exits.
 */
async function runCluster(
  nodes: number,
  autoApprove: boolean,
  options: RunOptions,
  registerSandbox: (sandbox: ContainerdSandbox) => void,
  cleanups: (() => Promise<void>)[],
  cleanup: () => Promise<void>,
  unhook: () => void,
  watch: () => void,
): Promise<number> {
  if (!autoApprove) watch();
  try {
    const result = await runClusterRehearsal({
      nodes,
      autoApprove,
      port: options.port,
      approvalTimeoutMs: options.approvalTimeoutMs,
      installed: options.installed,
      policy: REHEARSAL_POLICY,
      policyNote: POLICY_NOTE,
      log,
      registerSandbox,
      register: (c) => cleanups.push(c),
    });
    process.stdout.write(`\n${clusterTable(result.rows)}\n\n`);
    const ok = clusterRunOk(result, autoApprove);
    if (!autoApprove) {
      log(
        `the page stays up at ${result.cluster.standIn.baseUrl}: approve the solo node's fix on its card, and the storm's rolling fix on the cluster thread`,
      );
      log('Ctrl-C stops the demo and removes every process and temp dir it started');
      void sayWhenEnded(result);
      return new Promise<number>(() => {});
    }
    log(
      ok
        ? 'every faulty node was found and recovered; no healthy node was opened'
        : 'NOT every faulty node recovered: see the table',
    );
    await cleanup();
    unhook();
    log('stopped: nothing the demo started is left');
    return ok ? 0 : 1;
  } catch (error) {
    const inUse = (error as NodeJS.ErrnoException).code === 'EADDRINUSE';
    log(
      `the cluster rehearsal failed: ${(error as Error).message}${inUse ? ` (another demo on port ${options.port}? pass --port 0 for a free one)` : ''}`,
    );
    await cleanup();
    unhook();
    return 1;
  }
}

function table(results: readonly RunResult[]): string {
  const rows = [
    ['fault', 'cause found', 'fix applied', 'result', 'to findings', 'to recovery'],
    ...results.map((r) => [
      r.fault,
      r.causes,
      r.fix,
      r.result,
      r.findingsMs === null ? '-' : `${(r.findingsMs / 1000).toFixed(1)} s`,
      r.recoveryMs === null ? '-' : `${(r.recoveryMs / 1000).toFixed(1)} s`,
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const line = (row: string[]) => `| ${row.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ')} |`;
  return [
    line(rows[0]!),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...rows.slice(1).map(line),
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  let values: {
    fault?: string;
    'auto-approve'?: boolean;
    port?: string;
    'approval-timeout'?: string;
    pager?: boolean;
    shadow?: boolean;
    cluster?: string;
    help?: boolean;
  };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        fault: { type: 'string' },
        'auto-approve': { type: 'boolean' },
        port: { type: 'string' },
        'approval-timeout': { type: 'string' },
        pager: { type: 'boolean' },
        shadow: { type: 'boolean' },
        cluster: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    process.stderr.write(`demo: ${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  let clusterNodes: number | null = null;
  if (values.cluster !== undefined) {
    const n = /^\d+$/.test(values.cluster) ? Number(values.cluster) : Number.NaN;
    if (!Number.isInteger(n) || n < MIN_CLUSTER_NODES || n > MAX_CLUSTER_NODES) {
      process.stderr.write(
        `demo: --cluster takes a whole number of nodes from ${MIN_CLUSTER_NODES} to ${MAX_CLUSTER_NODES} (one breaks on its own, one or more lose containerd in a storm, one stays healthy), got "${values.cluster}"\n`,
      );
      return 2;
    }
    const refused = (['fault', 'pager', 'shadow'] as const).filter((flag) => values[flag] !== undefined);
    if (refused.length > 0) {
      process.stderr.write(
        `demo: --cluster does not combine with ${refused.map((f) => `--${f}`).join(', ')}: the cluster rehearsal injects its own mix of faults, and pages or shadows nothing\n`,
      );
      return 2;
    }
    clusterNodes = n;
  }
  const faultIds = Object.keys(FAULTS) as FaultId[];
  const fault = values.fault ?? 'fd-exhaustion';
  if (fault === 'list') {
    for (const id of faultIds)
      process.stdout.write(
        `${id.padEnd(18)} → ${FAULTS[id].expectedCause.padEnd(20)} ${FAULTS[id].description}\n`,
      );
    return 0;
  }
  if (fault !== 'all' && fault !== 'none' && !faultIds.includes(fault as FaultId)) {
    process.stderr.write(`demo: unknown fault "${fault}"; known: ${faultIds.join(', ')}, none, all, list\n`);
    return 2;
  }
  const port = Number(values.port ?? (values['auto-approve'] ? '0' : '8787'));
  const timeoutSeconds = Number(values['approval-timeout'] ?? '900');
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`demo: --port must be 0..65535, got ${values.port}\n`);
    return 2;
  }
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) {
    process.stderr.write(`demo: --approval-timeout must be a positive number of seconds\n`);
    return 2;
  }
  if (!containerdInstalled()) {
    process.stderr.write(
      'demo: containerd is not installed. The rehearsal runs a real containerd in a temp dir.\n' +
        '  Debian/Ubuntu: sudo apt-get install -y containerd\n' +
        '  Then run this again (as root: the sandbox needs to set resource limits).\n',
    );
    return 2;
  }
  const installed = installedContainerd()?.version;
  if (!installed) {
    process.stderr.write(
      'demo: could not read the installed containerd version from `containerd --version`\n',
    );
    return 2;
  }

  const autoApprove = values['auto-approve'] === true;
  if (clusterNodes === null && fault === 'all' && !autoApprove) {
    process.stderr.write(
      'demo: --fault all runs every fault without a browser: add --auto-approve (or start one fault and pick the next on the page)\n',
    );
    return 2;
  }
  if (clusterNodes === null && fault === 'none' && autoApprove) {
    process.stderr.write('demo: --fault none with --auto-approve has nothing to approve\n');
    return 2;
  }

  const cleanups: (() => Promise<void>)[] = [];
  const cleanup = async () => {
    while (cleanups.length) await cleanups.pop()!().catch(() => {});
  };
  // The last resort when the process exits without the async cleanup (an uncaught error, a
  // process.exit elsewhere): kill each sandbox's daemon and remove its dir, synchronously.
  const sandboxes = new Set<ContainerdSandbox>();
  const onExit = () => {
    for (const sandbox of sandboxes) {
      try {
        const pid = sandbox.pid();
        if (pid !== null) process.kill(pid, 'SIGKILL');
      } catch {
        // The daemon ended meanwhile: nothing to kill.
      }
      rmSync(sandbox.dir, { recursive: true, force: true });
    }
  };
  const register = (sandbox: ContainerdSandbox) => {
    sandboxes.add(sandbox);
    cleanups.push(async () => {
      await sandbox.dispose();
      sandboxes.delete(sandbox);
    });
  };
  let stoppingAt: number | null = null;
  const stop = (code: number, why: string) => {
    if (stoppingAt !== null) {
      // One Ctrl-C reaches this process several times at once: from the terminal (the whole
      // process group) and relayed by npm and tsx. Only a later one means "stop now"; the exit
      // handler still kills the daemons and removes the dirs.
      if (Date.now() - stoppingAt > 2000) process.exit(code);
      return;
    }
    stoppingAt = Date.now();
    log(`${why}: cleaning up every process and temp dir the demo started`);
    void cleanup().then(() => {
      log('stopped: nothing the demo started is left');
      process.exit(code);
    });
  };
  const onSignal = (signal: NodeJS.Signals) => stop(130, `${signal}`);
  const onCrash = (error: unknown) => {
    process.stderr.write(
      `demo: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    stop(1, 'crashed');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);
  process.on('exit', onExit);
  const options: RunOptions = {
    port,
    approvalTimeoutMs: timeoutSeconds * 1000,
    installed,
    pager: values.pager === true,
    shadow: values.shadow === true,
  };

  if (clusterNodes !== null) {
    return runCluster(
      clusterNodes,
      autoApprove,
      options,
      register,
      cleanups,
      cleanup,
      () => {
        for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(signal, onSignal);
        process.off('uncaughtException', onCrash);
        process.off('unhandledRejection', onCrash);
        process.off('exit', onExit);
      },
      () => watchLaunchers(() => stop(143, 'the npm process that started the demo ended')),
    );
  }

  if (!autoApprove) {
    watchLaunchers(() => stop(143, 'the npm process that started the demo ended'));
    // Serves until Ctrl-C (or SIGTERM): the signal handler cleans up and exits.
    try {
      await serveConsole(fault === 'none' ? null : (fault as FaultId), options, register, (c) =>
        cleanups.push(c),
      );
    } catch (error) {
      const inUse = (error as NodeJS.ErrnoException).code === 'EADDRINUSE';
      log(
        `the rehearsal failed: ${(error as Error).message}${inUse ? ` (another demo on port ${port}? pass --port 0 for a free one)` : ''}`,
      );
      await cleanup();
      return 1;
    }
    return new Promise<number>(() => {});
  }

  const faults = fault === 'all' ? faultIds : [fault as FaultId];
  const results: RunResult[] = [];
  try {
    for (const id of faults) {
      try {
        results.push(await runFault(id, options, register, (c) => cleanups.push(c)));
      } catch (error) {
        log(`fault ${id} failed: ${(error as Error).message}`);
        results.push({
          fault: id,
          causes: '?',
          fix: '?',
          result: `error: ${(error as Error).message}`,
          findingsMs: null,
          recoveryMs: null,
        });
      }
      await cleanup();
    }
  } finally {
    await cleanup();
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(signal, onSignal);
    process.off('uncaughtException', onCrash);
    process.off('unhandledRejection', onCrash);
    process.off('exit', onExit);
  }
  process.stdout.write(`\n${table(results)}\n`);
  // A run succeeds when every fault that got a runnable fix recovered, and none errored.
  const failed = results.filter(
    (r) =>
      r.result.startsWith('error') ||
      (r.fix !== 'none' && !r.fix.startsWith('none') && r.result !== 'recovered'),
  );
  return failed.length === 0 ? 0 : 1;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`demo: ${(error as Error).stack ?? String(error)}\n`);
      process.exit(2);
    },
  );
}
