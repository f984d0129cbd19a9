/**
 * `npm run demo`: the whole incident on one machine. A throwaway containerd with a real fault, the
 * real alarm parser, use cases, steps and Bolt app, the Slack stand-in with a Slack-like page where
 * Approve really fixes the daemon. `--auto-approve` runs the loop with no browser; `--fault all`
 * runs every fault and prints a table.
 */
import { parseArgs } from 'node:util';
import type { Incident } from '../core/incident.js';
import type { RemediationId } from '../core/model.js';
import { getRemediation } from '../core/remediations/index.js';
import { fixActionId } from '../core/render/slack.js';
import {
  LOCAL_CHANNEL,
  LOCAL_NODE,
  LOCAL_ONCALL_GROUP,
  LOCAL_USER_NAMES,
  LOCAL_USERS,
  type LocalStack,
  startLocalStack,
} from './compose.js';
import { ContainerdSandbox, containerdInstalled, installedContainerd } from './sandbox/containerd.js';
import { FAULTS, type FaultId } from './sandbox/faults.js';
import type { WorkflowEvent } from './workflow.js';

const USAGE = `Usage: npm run demo -- [--fault ID|list|all] [--auto-approve] [--port N] [--approval-timeout SECONDS]

Rehearse an incident on this machine: a throwaway containerd (Debian's package) with a real fault,
nodemedic's real pipeline, and a local Slack stand-in with a page where you press Approve.

  --fault ID            the fault to inject (default fd-exhaustion); "list" prints them; "all" runs each in turn
  --auto-approve        approve the first fix nodemedic offers, as the on-call engineer; no browser needed.
                        Exits 0 only if the node recovered (with --fault all: every fault that has a fix).
  --port N              port of the Slack stand-in page (default 8787; 0 picks a free one)
  --approval-timeout S  seconds to wait for an approval before escalating (default 900)
  -h, --help            this text`;

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

async function runFault(
  fault: FaultId,
  options: { autoApprove: boolean; port: number; approvalTimeoutMs: number; installed: string },
  register: (cleanup: () => Promise<void>) => void,
): Promise<RunResult> {
  const spec = FAULTS[fault];
  log(`fault ${fault}: ${spec.description}`);
  const sandbox = await ContainerdSandbox.start();
  register(() => sandbox.dispose());
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
  if (!options.autoApprove) {
    const { mountPage } = await import('./slack-standin/page.js');
    const page = mountPage(stack.standIn, {
      channel: LOCAL_CHANNEL,
      users: Object.entries(LOCAL_USER_NAMES).map(([id, name]) => ({ id, name })),
      groups: [{ id: LOCAL_ONCALL_GROUP, name: 'oncall' }],
      deliver: stack.deliver,
      banner: `Rehearsal: fault "${fault}" injected into a real containerd (${options.installed}) in ${sandbox.dir}`,
      title: 'nodemedic rehearsal',
    });
    log(`open the Slack stand-in page: ${page.url}`);
  }
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
  log(`findings: ${causes}; offered: ${analysed.offered.join(', ') || 'nothing'}`);
  for (const finding of analysed.findings) {
    log(`  ${finding.severity} ${finding.cause}: ${finding.summary}`);
    for (const evidence of finding.evidence.slice(0, 2)) log(`    > ${evidence.text.slice(0, 160)}`);
  }
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
  if (options.autoApprove) {
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
  } else {
    log('waiting for you to press a button on the page (Ctrl-C to stop)');
  }
  const approvedAt = Date.now();
  const final = await stack.workflow.finished(incidentId!);
  const ended = (await stack.store.get(incidentId!))!;
  log(`incident ended: ${final} (phase ${ended.phase})`);
  for (const entry of ended.audit)
    log(`  audit ${entry.at.slice(11, 19)} ${entry.action} by ${entry.actor}: ${entry.detail.slice(0, 140)}`);
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
  const faultIds = Object.keys(FAULTS) as FaultId[];
  const fault = values.fault ?? 'fd-exhaustion';
  if (fault === 'list') {
    for (const id of faultIds)
      process.stdout.write(
        `${id.padEnd(18)} → ${FAULTS[id].expectedCause.padEnd(20)} ${FAULTS[id].description}\n`,
      );
    return 0;
  }
  if (fault !== 'all' && !faultIds.includes(fault as FaultId)) {
    process.stderr.write(`demo: unknown fault "${fault}"; known: ${faultIds.join(', ')}, all, list\n`);
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

  const cleanups: (() => Promise<void>)[] = [];
  const cleanup = async () => {
    while (cleanups.length) await cleanups.pop()!().catch(() => {});
  };
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    log('stopping: cleaning up every process the demo started');
    void cleanup().then(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const faults = fault === 'all' ? faultIds : [fault as FaultId];
  const results: RunResult[] = [];
  try {
    for (const id of faults) {
      try {
        results.push(
          await runFault(
            id,
            {
              autoApprove: values['auto-approve'] === true,
              port,
              approvalTimeoutMs: timeoutSeconds * 1000,
              installed,
            },
            (c) => cleanups.push(c),
          ),
        );
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
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  process.stdout.write(`\n${table(results)}\n`);
  // A run succeeds when every fault that got a runnable fix recovered, and none errored.
  const failed = results.filter(
    (r) =>
      r.result.startsWith('error') ||
      (r.fix !== 'none' && !r.fix.startsWith('none') && r.result !== 'recovered'),
  );
  if (!values['auto-approve']) return failed.some((r) => r.result.startsWith('error')) ? 1 : 0;
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
