/**
 * `nodemedic fix --instance i-… --remediation ID`: apply one node fix from a laptop, through SSM,
 * with the workflow's own safety steps: a diagnosis first that must still show a cause the fix is
 * for (the recheck), the plan shown and confirmed (`--yes` skips the question), the fix, then a
 * verification diagnosis, and the fix's rollback when that fails. There is no Slack approval
 * here: the caller's IAM permissions are the authorization, and the output says so.
 * Exit codes: 0 recovered (or nothing to fix), 1 not applied or not recovered, 2 usage/internal error.
 */
import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { summarizeFixOutput } from '../app/steps.js';
import { validateInstanceId } from '../core/alarm.js';
import { analyze, parseFacts } from '../core/analyze.js';
import { NodemedicError } from '../core/errors.js';
import { isRemediationId, type Report } from '../core/model.js';
import { causeStillHolds, verifyRecovery } from '../core/plan.js';
import type { CommandInvocation, CommandRunner } from '../core/ports.js';
import { getRemediation } from '../core/remediations/index.js';
import type { InstanceCall, Remediation } from '../core/remediations/remediation.js';
import { DIAGNOSE_TIMEOUT_SECONDS } from '../core/script-params.js';
import { parseVersion } from '../core/version.js';
import { formatReport } from './format.js';
import { type CliIo, EXIT, parseCommandLine } from './io.js';
import { chooseDocument, describeChoice, runRemote, type SsmFactory, ssmFor } from './remote.js';

const FIX_USAGE = `Usage: nodemedic fix --instance i-… --remediation ID [--region R] [--profile P] [--yes]

Applies one of nodemedic's node fixes to a remote EC2 node through SSM Run Command, with the same
steps as the bot: a recheck diagnosis (the cause the fix is for must still hold), the plan and a
confirmation, the fix, a verification diagnosis, and the fix's rollback if verification fails.
There is no Slack approval: your IAM permissions are the authorization (ssm:SendCommand on the
documents and the instance, ssm:GetCommandInvocation, ssm:ListDocuments).

Options:
  --instance ID         the EC2 instance (i-…)
  --remediation ID      the fix, e.g. restart-containerd, raise-nofile, raise-grpc-message-size
  --region R            its region (default: the SDK's)
  --profile P           the AWS profile (default: the SDK's credential chain)
  --min-version X.Y.Z   lowest acceptable containerd version for the diagnoses (default policy 1.7.0)
  --yes                 apply without asking
  -h, --help            this text
Exit code: 0 recovered or nothing to fix, 1 not applied or not recovered, 2 usage/internal error.
`;

/** Dependencies a test may replace. */
export interface FixDeps {
  ssm?: SsmFactory;
  sleep?: (ms: number) => Promise<void>;
  /** The node's connection in place of SSM (a node of the lab), and how to say it. */
  remote?: { runner: CommandRunner; label: string };
  /** Ask the person; resolves true to apply. @default a readline question on the terminal */
  confirm?: (question: string) => Promise<boolean>;
}

/** Run `fix` with its arguments (after the subcommand); resolves with the exit code. */
export async function fixCommand(args: string[], io: CliIo, deps: FixDeps = {}): Promise<number> {
  const parsed = parseCommandLine('fix', FIX_USAGE, parse, args, io);
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;
  const fail = (message: string) => {
    io.stderr(`nodemedic fix: ${message}\n`);
    return EXIT.error;
  };
  if (!values.instance || !values.remediation) return fail('--instance and --remediation are required');
  try {
    validateInstanceId(values.instance);
  } catch (err) {
    return fail((err as Error).message);
  }
  if (!isRemediationId(values.remediation))
    return fail(`unknown remediation ${JSON.stringify(values.remediation.slice(0, 60))}`);
  const remediation = getRemediation(values.remediation);
  const minVersion = values['min-version'];
  if (minVersion !== undefined && !parseVersion(minVersion))
    return fail(`--min-version: not a version: ${JSON.stringify(minVersion)} (expected X.Y.Z)`);
  if (remediation.runsOn === 'person')
    return fail(
      `${remediation.id} is shown to a person and never run by nodemedic: ${remediation.description}`,
    );
  if (remediation.runsOn === 'instance') {
    return fail(
      `${remediation.id} is an EC2 / Auto Scaling action, not a script on the node; run it with the AWS CLI (${instanceCommand(remediation, values.instance)})`,
    );
  }
  try {
    const instanceId = validateInstanceId(values.instance);
    const ssm = deps.remote ? null : await ssmFor(values, deps.ssm);
    io.stdout(
      'Authorization: your AWS credentials (IAM). There is no Slack approval here: the on-call group and the two-person rule do not apply.\n',
    );
    const run = async (script: 'diagnose' | Remediation['id'], parameters: Record<string, string> = {}) => {
      let via: Parameters<typeof runRemote>[0]['via'];
      if (ssm) {
        const document = await chooseDocument(ssm.client, script);
        io.stderr(`nodemedic fix: ${script} on ${instanceId} ${describeChoice(document, ssm.region)}\n`);
        via = { client: ssm.client, document };
      } else {
        io.stderr(`nodemedic fix: ${script} on ${instanceId} ${deps.remote!.label}\n`);
        via = { runner: deps.remote!.runner };
      }
      return runRemote({
        via,
        instanceId,
        script,
        parameters,
        timeoutSeconds: script === 'diagnose' ? DIAGNOSE_TIMEOUT_SECONDS : remediation.timeoutSeconds,
        ...(deps.sleep ? { sleep: deps.sleep } : {}),
      });
    };
    const diagnose = async (): Promise<Report> => {
      const inv = await run('diagnose');
      if (inv.status !== 'success' && inv.stdout.trim() === '')
        throw new NodemedicError(
          'DIAGNOSIS_FAILED',
          `the diagnosis ${inv.status}: ${inv.stderr.trim() || inv.detail}`,
        );
      const facts = parseFacts(inv.stdout, { truncated: inv.stdoutTruncated });
      return analyze(facts, minVersion ? { versionPolicy: { minimum: minVersion } } : undefined);
    };

    // 1. The recheck: the fix runs only against a cause it is for.
    const before = await diagnose();
    io.stdout(formatReport(before));
    if (!causeStillHolds(before, remediation.id)) {
      io.stdout(
        `\n${remediation.id} is for ${remediation.fixes.join(', ')}; none of them holds on ${instanceId} now. Nothing was run.\n`,
      );
      return before.healthy ? EXIT.ok : EXIT.findings;
    }
    // 2. The plan, confirmed.
    io.stdout(`\n${planText(remediation, instanceId)}\n`);
    if (!values.yes) {
      const confirm = deps.confirm ?? terminalConfirm;
      if (!(await confirm(`Apply ${remediation.id} to ${instanceId}? [y/N] `))) {
        io.stdout('Not applied.\n');
        return EXIT.findings;
      }
    }
    // 3. The fix.
    const fix = await run(remediation.id);
    io.stdout(`fix: ${fix.status}: ${summarizeFixOutput(fix)}\n`);
    if (fix.status !== 'success') return EXIT.findings;
    // 4. The verification, and the rollback when it fails.
    const after = await diagnose();
    const verdict = verifyRecovery(after, remediation.id);
    io.stdout(`verify: ${verdict.recovered ? 'recovered' : 'not recovered'}: ${verdict.detail}\n`);
    if (verdict.recovered) return EXIT.ok;
    if (remediation.rollback === 'script') {
      const rollback: CommandInvocation = await run(remediation.id, { mode: 'rollback' });
      io.stdout(`rollback: ${rollback.status}: ${summarizeFixOutput(rollback)}\n`);
    }
    io.stdout(`${instanceId} did not recover: a person needs to look at it.\n`);
    return EXIT.findings;
  } catch (err) {
    const message = err instanceof NodemedicError ? `${err.code}: ${err.message}` : String(err);
    return fail(message);
  }
}

function planText(remediation: Remediation, instanceId: string): string {
  const rollback =
    remediation.rollback === 'script'
      ? 'If verification fails, the same script runs in rollback mode.'
      : remediation.rollback
        ? `If verification fails, undo it with ${remediation.rollback}.`
        : 'It has no rollback.';
  const destructive =
    remediation.tier === 'destructive'
      ? ' In Slack this tier needs two approvers besides the requester; here only you decide.'
      : '';
  return [
    `Plan: ${remediation.title} (${remediation.id}, tier ${remediation.tier}) on ${instanceId}.`,
    remediation.description,
    `It may run for up to ${remediation.timeoutSeconds} s. ${rollback}${destructive}`,
  ].join('\n');
}

/** The AWS CLI command a person runs for each inventory call an instance action names. */
const INSTANCE_COMMANDS: Readonly<Record<InstanceCall, (instance: string) => string>> = {
  reboot: (instance) => `aws ec2 reboot-instances --instance-ids ${instance}`,
  replace: (instance) =>
    `aws autoscaling terminate-instance-in-auto-scaling-group --instance-id ${instance} --no-should-decrement-desired-capacity`,
};

function instanceCommand(remediation: Remediation, instance: string): string {
  return remediation.action.kind === 'instance'
    ? INSTANCE_COMMANDS[remediation.action.call](instance)
    : `no AWS CLI command: ${remediation.id} is not an instance action`;
}

/** Ask on the terminal; a non-interactive stdin is a usage error, not a silent yes or no. */
async function terminalConfirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) {
    throw new NodemedicError('NOT_A_TERMINAL', 'stdin is not a terminal: pass --yes to apply without asking');
  }
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

function parse(args: string[]) {
  return parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      instance: { type: 'string' },
      remediation: { type: 'string' },
      region: { type: 'string' },
      profile: { type: 'string' },
      'min-version': { type: 'string' },
      yes: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
