/**
 * The cluster rehearsal's script (`npm run demo -- --cluster N`, see functions/local/cluster.ts):
 * start the nodes, break some, fire the cluster-level alarm and the contributor storm, and (with
 * --auto-approve) press what the on-call engineer would press. It prints what happens as it
 * happens, then a table of every node; it returns the figures the e2e test asserts.
 */
import type { Incident } from '../core/incident.js';
import type { RemediationId } from '../core/model.js';
import { INSTANCE_ID_IN_TEXT } from '../core/patterns.js';
import { getRemediation } from '../core/remediations/index.js';
import { fixActionId } from '../core/render/slack.js';
import {
  CLUSTER_ALARM,
  CLUSTER_NAME,
  type ClusterNodePlan,
  type LocalCluster,
  NODES_ALARM,
  planCluster,
  startLocalCluster,
} from './cluster.js';
import { LOCAL_CHANNEL, LOCAL_ONCALL_GROUP, LOCAL_USER_NAMES, LOCAL_USERS } from './compose.js';
import { ContainerdSandbox } from './sandbox/containerd.js';
import { FAULTS } from './sandbox/faults.js';
import { mountPage } from './slack-standin/page.js';
import { chatLine, type TerminalNames } from './terminal.js';

/** What the rehearsal needs from the demo. */
export interface ClusterRehearsalOptions {
  readonly nodes: number;
  readonly autoApprove: boolean;
  readonly port: number;
  readonly approvalTimeoutMs: number;
  /** The installed containerd's version word, the version policy's minimum here. */
  readonly installed: string;
  readonly policy: import('../core/policy.js').SafetyPolicy;
  /** A note on the policy, shown on the page. */
  readonly policyNote: string;
  readonly log: (line: string) => void;
  /** Called with each sandbox as soon as it runs, so that a signal removes it. */
  readonly registerSandbox: (sandbox: ContainerdSandbox) => void;
  /** Called with each other thing to stop at the end. */
  readonly register: (cleanup: () => Promise<void>) => void;
}

/** One node's line in the final table. */
export interface ClusterNodeRow {
  readonly instanceId: string;
  readonly nodeName: string;
  readonly role: ClusterNodePlan['role'];
  readonly fault: string | null;
  /** How nodemedic learned of it: the sweep, the contributor storm, or not at all. */
  readonly foundBy: 'sweep' | 'storm' | null;
  readonly incidentId: string | null;
  /** The cluster incident it was held under, if any. */
  readonly heldUnder: string | null;
  readonly causes: readonly string[];
  readonly fix: string | null;
  readonly phase: string | null;
}

/** What the rehearsal did, for the table and the e2e test. */
export interface ClusterRehearsalResult {
  /** The sweep summary's headline ("4 nodes probed, 3 healthy, 1 with findings"). */
  readonly sweepHeadline: string | null;
  /** Instance ids the sweep opened (or joined) an incident for. */
  readonly sweepFound: readonly string[];
  /** Contributor events fired, and what they answered. */
  readonly storm: { readonly events: number; readonly opened: number; readonly duplicates: number };
  /** The cluster incident the storm became, if one. */
  readonly clusterIncident: {
    readonly id: string;
    readonly members: number;
    readonly thread: boolean;
  } | null;
  /** Whether a rolling fix was started from the cluster thread (auto-approve). */
  readonly rolled: boolean;
  readonly rows: readonly ClusterNodeRow[];
  /** The local cluster, while it runs (interactive mode keeps serving it). */
  readonly cluster: LocalCluster;
}

const TERMINAL = new Set(['recovered', 'escalated', 'closed']);

/** The stand-in's users by their first names, and its on-call group, as chat text prints them here. */
const NAMES: TerminalNames = {
  users: Object.fromEntries(
    Object.entries(LOCAL_USER_NAMES).map(([id, name]) => [id, name.split(' ')[0] ?? id]),
  ),
  groups: { [LOCAL_ONCALL_GROUP]: 'on-call' },
};

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function waitFor(
  cluster: LocalCluster,
  id: string,
  predicate: (incident: Incident) => boolean,
  timeoutMs: number,
): Promise<Incident | null> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const incident = await cluster.store.get(id);
    if (incident && predicate(incident)) return incident;
    await sleep(200);
  }
  return null;
}

/** A fix that can work here (see demo.ts): it runs on the node, and is not a version upgrade. */
function pickFix(offered: readonly RemediationId[]): RemediationId | null {
  return offered.find((id) => getRemediation(id).runsOn === 'node' && id !== 'upgrade-containerd') ?? null;
}

/** The short name a table shows for a node. */
function short(node: { nodeName: string | null; instanceId: string }): string {
  return node.nodeName ? node.nodeName.replace(/\.ec2\.internal$/, '') : node.instanceId;
}

/** Find a button whose action id starts with `prefix` in a message's blocks. */
function buttonIn(blocks: readonly Record<string, unknown>[], prefix: string): string | null {
  for (const block of blocks) {
    const elements = (block as { elements?: { action_id?: string }[] }).elements ?? [];
    for (const element of elements) {
      if (typeof element.action_id === 'string' && element.action_id.startsWith(prefix))
        return element.action_id;
    }
    const accessory = (block as { accessory?: { action_id?: string } }).accessory;
    if (accessory?.action_id?.startsWith(prefix)) return accessory.action_id;
  }
  return null;
}

/** Run the rehearsal. Interactive: returns after the storm, with the page up. */
export async function runClusterRehearsal(options: ClusterRehearsalOptions): Promise<ClusterRehearsalResult> {
  const { log } = options;
  const plan = planCluster(options.nodes);
  const solo = plan.filter((p) => p.role === 'solo');
  const storm = plan.filter((p) => p.role === 'storm');
  log(
    `cluster "${CLUSTER_NAME}": ${plan.length} nodes; ${solo.length} will break on ${solo.length === 1 ? 'its' : 'their'} own (${solo.map((p) => p.fault).join(', ')}), ` +
      `${storm.length} in a storm with one shared cause (${storm[0]!.fault}), ${plan.length - solo.length - storm.length} stays healthy`,
  );

  // The nodes, in parallel; each is registered for cleanup the moment it runs.
  const t0 = Date.now();
  const sandboxes = await Promise.all(
    plan.map(() =>
      ContainerdSandbox.start().then((sandbox) => {
        options.registerSandbox(sandbox);
        return sandbox;
      }),
    ),
  );
  log(`${sandboxes.length} containerd sandboxes up in ${((Date.now() - t0) / 1000).toFixed(1)} s:`);
  for (const [k, p] of plan.entries()) {
    log(`  ${p.node.instanceId}  ${short(p.node).padEnd(14)} ${sandboxes[k]!.dir}`);
  }

  const nodeOf = new Map(plan.map((p) => [p.node.instanceId, p]));
  const cluster = await startLocalCluster({
    sandboxes,
    nodes: plan.map((p) => p.node),
    policy: options.policy,
    minVersion: options.installed,
    approvalTimeoutMs: options.approvalTimeoutMs,
    port: options.port,
    // One line per step that matters; the per-node detail is on the page.
    onEvent: (event) => {
      if (!['analyze', 'outcome', 'escalate', 'dispatch', 'verify', 'ready'].includes(event.step)) return;
      const instanceId = INSTANCE_ID_IN_TEXT.exec(event.incidentId)?.[0];
      const p = instanceId ? nodeOf.get(instanceId) : undefined;
      log(`    [${event.step}] ${p ? short(p.node) : event.incidentId}: ${event.detail}`);
    },
  });
  options.register(() => cluster.close());
  const url = cluster.standIn.baseUrl;
  mountPage(cluster.standIn, {
    channel: LOCAL_CHANNEL,
    users: Object.entries(LOCAL_USER_NAMES).map(([id, name]) => ({ id, name })),
    groups: [{ id: LOCAL_ONCALL_GROUP, name: 'oncall' }],
    deliver: cluster.deliver,
    banner:
      `Cluster rehearsal: ${plan.length} real containerd (${options.installed}) sandboxes as the nodes of cluster "${CLUSTER_NAME}". ` +
      `First a cluster-level alarm (no node named): nodemedic sweeps every node. Then a storm (${storm.length} nodes, one shared cause): one cluster thread. ${options.policyNote}.`,
    title: 'nodemedic cluster rehearsal',
  });
  log(`open the Slack stand-in page: ${url}`);

  // Act 1: nodes break on their own, and the alarm names only the cluster.
  log('');
  log(
    `act 1: ${solo.length} node${solo.length === 1 ? '' : 's'} break${solo.length === 1 ? 's' : ''} on ${solo.length === 1 ? 'its' : 'their'} own`,
  );
  for (const p of solo) {
    await FAULTS[p.fault!].inject(sandboxes[plan.indexOf(p)]!);
    log(`  ${short(p.node)}: ${p.fault} injected (${FAULTS[p.fault!].description})`);
  }
  log(`alarm ${CLUSTER_ALARM} (cluster_failed_node_count, ClusterName=${CLUSTER_NAME}, no node) → ALARM`);
  const checked = await cluster.fireClusterAlarm();
  let sweepHeadline: string | null = null;
  const sweepFound: string[] = [];
  const incidentOf = new Map<string, string>();
  const foundBy = new Map<string, 'sweep' | 'storm'>();
  if (checked.kind === 'cluster-checked') {
    sweepHeadline = checked.headline;
    log(
      `  ${checked.source === 'sweep' ? 'swept' : 'read readiness of'} cluster ${CLUSTER_NAME}: ${checked.headline}`,
    );
    for (const n of checked.nodes) {
      const p = nodeOf.get(n.instanceId);
      if (n.kind === 'skipped') {
        log(`  ${n.instanceId}: not opened (${n.reason})`);
        continue;
      }
      sweepFound.push(n.instanceId);
      incidentOf.set(n.instanceId, n.incidentId);
      foundBy.set(n.instanceId, 'sweep');
      log(`  ${p ? short(p.node) : n.instanceId}: incident ${n.kind} (${n.incidentId})`);
    }
  } else {
    log(`  the cluster-level alarm was not handled as a cluster check: ${JSON.stringify(checked)}`);
  }
  for (const id of sweepFound) {
    const analysed = await waitFor(cluster, incidentOf.get(id)!, (i) => i.phase !== 'diagnosing', 120_000);
    const p = nodeOf.get(id)!;
    log(
      `  ${short(p.node)}: ${analysed ? `found ${analysed.findings.map((f) => f.cause).join(', ') || 'nothing'}; offered ${analysed.offered.join(', ') || 'nothing'}` : 'no findings within 2 minutes'}`,
    );
  }

  // Act 2: a rollout breaks most of the rest at once; the per-node alarm's contributors storm in.
  log('');
  log(`act 2: a bad rollout, ${stormWords(storm.length)}`);
  await Promise.all(storm.map((p) => FAULTS[p.fault!].inject(sandboxes[plan.indexOf(p)]!)));
  log(
    `  ${storm.map((p) => short(p.node)).join(', ')}: ${storm[0]!.fault} injected (${FAULTS[storm[0]!.fault!].description})`,
  );
  // Each contributor's change delivered twice (EventBridge delivers at least once), all at once.
  const at = new Date();
  const deliveries = [...storm, ...[...storm].reverse()];
  log(
    `  ${deliveries.length} contributor events of ${NODES_ALARM} (${storm.length} nodes → ALARM, each delivered twice), all at once`,
  );
  const outcomes = await Promise.all(deliveries.map((p) => cluster.fireContributor(p.node, 'ALARM', at)));
  let opened = 0;
  let duplicates = 0;
  for (const [k, outcome] of outcomes.entries()) {
    const p = deliveries[k]!;
    if (outcome.kind === 'opened' || outcome.kind === 'duplicate') {
      if (outcome.kind === 'opened') opened += 1;
      else duplicates += 1;
      incidentOf.set(p.node.instanceId, outcome.incidentId);
      if (!foundBy.has(p.node.instanceId)) foundBy.set(p.node.instanceId, 'storm');
    } else {
      log(`  ${short(p.node)}: ${outcome.kind}${'reason' in outcome ? ` (${outcome.reason})` : ''}`);
    }
  }
  log(`  answered: ${opened} opened, ${duplicates} duplicate`);
  for (const p of storm) {
    const id = incidentOf.get(p.node.instanceId);
    if (id) await waitFor(cluster, id, (i) => i.phase !== 'diagnosing', 120_000);
  }
  let record = await cluster.store.getCluster(CLUSTER_NAME);
  // The live summary is coalesced to one update a second: let it catch up before reading it.
  await sleep(2500);
  record = await cluster.store.getCluster(CLUSTER_NAME);
  if (record) {
    const root = record.thread ? cluster.standIn.message(record.thread.channel, record.thread.ts) : undefined;
    log(
      `  held as ONE cluster incident (${record.reason}); ${Object.keys(record.members).length} nodes in it`,
    );
    log(`  its thread's root, the live summary: ${root ? chatLine(root.text, NAMES) : 'not posted yet'}`);
  } else {
    log('  no cluster incident: the storm stayed under the hold threshold');
  }

  let rolled = false;
  if (options.autoApprove) {
    log('');
    log('the on-call engineer approves (--auto-approve):');
    // The solo node(s): one click on their own card's fix.
    for (const id of sweepFound) {
      const incidentId = incidentOf.get(id)!;
      const ready = await waitFor(
        cluster,
        incidentId,
        (i) => i.phase === 'awaiting-approval' || TERMINAL.has(i.phase) || i.phase === 'findings',
        30_000,
      );
      const fix = ready ? pickFix(ready.offered) : null;
      if (ready?.phase !== 'awaiting-approval' || !fix || !ready.findingsMessage) {
        log(`  ${short(nodeOf.get(id)!.node)}: nothing to approve (${ready?.phase ?? 'no answer'})`);
        continue;
      }
      const response = await cluster.deliver(
        cluster.standIn.clickRequest({
          channel: ready.findingsMessage.channel,
          messageTs: ready.findingsMessage.ts,
          actionId: fixActionId(fix),
          user: LOCAL_USERS.onCall,
        }),
      );
      log(
        `  ${LOCAL_USER_NAMES[LOCAL_USERS.onCall]} pressed "${getRemediation(fix).title}" on ${short(nodeOf.get(id)!.node)}'s card → HTTP ${response.statusCode}`,
      );
      // The cluster's fix slots (maxFixesInFlightPerCluster) are shared with the roll: this fix
      // ends before the roll starts, or the roll would find no slot and stop at its first node.
      const ended = await waitFor(cluster, incidentId, (i) => TERMINAL.has(i.phase), 180_000);
      log(`  ${short(nodeOf.get(id)!.node)}: ${ended ? ended.phase : 'did not end within 3 minutes'}`);
    }
    // The storm: one click on the cluster thread's rolling-fix button, if it is offered.
    if (record?.thread) {
      const deadline = Date.now() + 20_000;
      let action: string | null = null;
      while (Date.now() < deadline && !action) {
        const root = cluster.standIn.message(record.thread.channel, record.thread.ts);
        action = root ? buttonIn(root.blocks, 'nm_roll:') : null;
        if (!action) await sleep(500);
      }
      if (action) {
        const before = cluster.standIn.messages(record.thread.channel).length;
        const response = await cluster.deliver(
          cluster.standIn.clickRequest({
            channel: record.thread.channel,
            messageTs: record.thread.ts,
            actionId: action,
            user: LOCAL_USERS.onCall,
          }),
        );
        log(
          `  ${LOCAL_USER_NAMES[LOCAL_USERS.onCall]} pressed the cluster thread's rolling fix (${action.slice('nm_roll:'.length)}) → HTTP ${response.statusCode}`,
        );
        // What nodemedic told the clicker privately (started, or why not).
        await sleep(500);
        for (const m of cluster.standIn.messages(record.thread.channel).slice(before)) {
          if (m.ephemeral_for === LOCAL_USERS.onCall) {
            log(`    nodemedic, to alice only: ${chatLine(m.text, NAMES)}`);
          }
        }
        rolled = (await cluster.store.getCluster(CLUSTER_NAME))?.roll != null;
      } else {
        log('  the cluster thread offers no rolling fix: the held nodes wait for a person');
      }
    }
    // Every node nodemedic opened ends (recovered or escalated) before the table.
    const deadline = Date.now() + 240_000;
    for (const [instanceId, incidentId] of incidentOf) {
      if (foundBy.get(instanceId) === 'sweep') continue;
      const left = Math.max(0, deadline - Date.now());
      const ended = await waitFor(cluster, incidentId, (i) => TERMINAL.has(i.phase), left);
      log(
        `  ${short(nodeOf.get(instanceId)!.node)}: ${ended ? ended.phase : 'did not end within 4 minutes'}`,
      );
    }
    await sleep(1500);
    record = await cluster.store.getCluster(CLUSTER_NAME);
  }

  const rows: ClusterNodeRow[] = [];
  for (const p of plan) {
    const id = incidentOf.get(p.node.instanceId) ?? null;
    const incident = id ? await cluster.store.get(id) : null;
    rows.push({
      instanceId: p.node.instanceId,
      nodeName: short(p.node),
      role: p.role,
      fault: p.fault,
      foundBy: foundBy.get(p.node.instanceId) ?? null,
      incidentId: id,
      heldUnder: incident?.clusterIncident ?? null,
      causes: incident?.findings.map((f) => f.cause) ?? [],
      fix: incident?.requested?.remediation ?? null,
      phase: incident?.phase ?? null,
    });
  }
  return {
    sweepHeadline,
    sweepFound,
    storm: { events: deliveries.length, opened, duplicates },
    clusterIncident: record
      ? { id: record.id, members: Object.keys(record.members).length, thread: record.thread !== null }
      : null,
    rolled,
    rows,
    cluster,
  };
}

function stormWords(count: number): string {
  return `${count} nodes lose containerd at once`;
}

/** The final table: one row per node. */
export function clusterTable(rows: readonly ClusterNodeRow[]): string {
  const cells = [
    ['node', 'instance', 'fault injected', 'found by', 'held', 'cause found', 'fix', 'result'],
    ...rows.map((r) => [
      r.nodeName,
      r.instanceId,
      r.fault ?? '-',
      r.foundBy ?? '-',
      r.heldUnder ? 'cluster' : r.incidentId ? 'own card' : '-',
      r.causes.join(', ') || '-',
      r.fix ?? '-',
      r.phase ?? (r.fault ? 'not found' : 'healthy'),
    ]),
  ];
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)));
  const line = (row: string[]) => `| ${row.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ')} |`;
  return [
    line(cells[0]!),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...cells.slice(1).map(line),
  ].join('\n');
}

/** A run succeeds when every faulty node was found, and (auto-approve) recovered; no healthy one opened. */
export function clusterRunOk(result: ClusterRehearsalResult, autoApprove: boolean): boolean {
  return result.rows.every((r) =>
    r.fault === null
      ? r.incidentId === null
      : r.incidentId !== null && (!autoApprove || r.phase === 'recovered'),
  );
}
