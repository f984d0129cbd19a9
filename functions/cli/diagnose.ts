/**
 * `nodemedic diagnose`: run the diagnostic script on this machine through the same local
 * CommandRunner the demo uses — or, with `--instance`, on a remote EC2 node through SSM Run Command
 * (functions/cli/remote.ts) — then parse and analyze its facts and print the report.
 * Exit codes: 0 healthy, 1 findings (or not confirmed healthy), 2 usage or internal error.
 */
import { parseArgs } from 'node:util';
import { ShellCommandRunner, type ShellCommandRunnerOptions } from '../adapters/local/shell-runner.js';
import { validateInstanceId } from '../core/alarm.js';
import { analyze, parseFacts } from '../core/analyze.js';
import { NodemedicError } from '../core/errors.js';
import type { CommandInvocation, CommandRunner, NodeRef } from '../core/ports.js';
import { parseVersion } from '../core/version.js';
import { formatReport } from './format.js';
import { type CliIo, EXIT, parseCommandLine } from './io.js';
import { chooseDocument, describeChoice, runRemote, type SsmFactory, ssmFor } from './remote.js';

/** `--help` text for diagnose. */
const DIAGNOSE_USAGE = `Usage: nodemedic diagnose [options]
       nodemedic diagnose --instance i-… [--region R] [--profile P] [--document NAME] [--json]

Runs nodemedic's read-only diagnostic script against containerd on this machine (as root), or on a
remote EC2 node through SSM Run Command with your AWS credentials, then prints what is wrong and the
fixes that fit. Exit code: 0 healthy, 1 findings, 2 usage/internal error.

Remote (needs ssm:ListDocuments, ssm:SendCommand and ssm:GetCommandInvocation on the node):
  --instance ID        the EC2 instance to diagnose (i-…); the node's default paths apply
  --region R           its region (default: the SDK's, e.g. AWS_REGION or your profile's)
  --profile P          the AWS profile to use (default: the SDK's credential chain)
  --document NAME      the SSM document to send (default: nodemedic's deployed diagnose document,
                       found by its nodemedic:script tag; without one, the same script bytes go
                       through AWS-RunShellScript, and the output says so)

Local options (each defaults to the standard node path when omitted):
  --address SOCK       containerd's gRPC socket          (default /run/containerd/containerd.sock)
  --config FILE        containerd's config file          (default /etc/containerd/config.toml)
  --root DIR           containerd's root dir             (default /var/lib/containerd)
  --state DIR          containerd's state dir            (default /run/containerd)
  --log-file FILE      read containerd/kubelet log lines from FILE instead of the systemd journal
  --min-version X.Y.Z  lowest acceptable containerd version (default policy: 1.7.0; 1.6 is past end of life)
  --timeout SECONDS    kill the script after this long (default 60)
  --json               print the JSON report { healthy, findings, notes, facts } instead of text
  -h, --help           show this help
`;

/** The local machine as a node reference for the runner. */
const LOCAL_NODE: NodeRef = {
  instanceId: 'local-host',
  nodeName: null,
  cluster: 'local',
  autoScalingGroup: null,
};

/** Flag → script parameter name (script-params.ts). */
const PATH_FLAGS = {
  address: 'address',
  config: 'config',
  root: 'root',
  state: 'state',
  'log-file': 'logFile',
} as const;

/** Dependencies a test (or the demo) may replace. */
export interface DiagnoseDeps {
  /** Options for the ShellCommandRunner, e.g. `{ env: sandbox.env() }`. */
  runner?: ShellCommandRunnerOptions;
  /** Sees the script's raw invocation (stdout as printed), e.g. to record or measure it. */
  onInvocation?: (invocation: CommandInvocation) => void;
  /** The SSM client of a remote run (`--instance`). @default a new SSMClient for --region/--profile */
  ssm?: SsmFactory;
  /** How a remote run waits between polls; tests pass one that does not sleep. */
  sleep?: (ms: number) => Promise<void>;
  /** The node's connection for `--instance` in place of SSM (a node of the lab), and how to say it. */
  remote?: { runner: CommandRunner; label: string };
}

/** Remote-only and local-only flags, so a mix is refused by name. */
const REMOTE_FLAGS = ['region', 'profile', 'document'] as const;

/** Run `diagnose` with its arguments (after the subcommand); resolves with the exit code. */
export async function diagnoseCommand(args: string[], io: CliIo, deps: DiagnoseDeps = {}): Promise<number> {
  const parsed = parseCommandLine('diagnose', DIAGNOSE_USAGE, parse, args, io);
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;
  const minVersion = values['min-version'];
  if (minVersion !== undefined && !parseVersion(minVersion)) {
    io.stderr(
      `nodemedic diagnose: --min-version: not a version: ${JSON.stringify(minVersion)} (expected X.Y.Z)\n`,
    );
    return EXIT.error;
  }
  const timeoutSeconds = values.timeout === undefined ? 60 : Number(values.timeout);
  if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 1 || timeoutSeconds > 3600) {
    io.stderr(
      `nodemedic diagnose: --timeout: expected whole seconds between 1 and 3600, got ${values.timeout}\n`,
    );
    return EXIT.error;
  }
  const parameters: Record<string, string> = {};
  for (const [flag, name] of Object.entries(PATH_FLAGS)) {
    const v = values[flag as keyof typeof PATH_FLAGS];
    if (v !== undefined) parameters[name] = v;
  }
  const remote = values.instance !== undefined;
  const misplaced = remote
    ? Object.keys(PATH_FLAGS).filter((f) => values[f as keyof typeof PATH_FLAGS] !== undefined)
    : REMOTE_FLAGS.filter((f) => values[f] !== undefined);
  if (misplaced.length > 0) {
    io.stderr(
      remote
        ? `nodemedic diagnose: --${misplaced.join(', --')} apply to a local run only: a remote node is diagnosed with its default paths\n`
        : `nodemedic diagnose: --${misplaced.join(', --')} need --instance (a remote node)\n`,
    );
    return EXIT.error;
  }

  try {
    let inv: CommandInvocation;
    if (remote) {
      validateInstanceId(values.instance!);
      let via: Parameters<typeof runRemote>[0]['via'];
      if (deps.remote) {
        via = { runner: deps.remote.runner };
        io.stderr(`nodemedic diagnose: ${values.instance} ${deps.remote.label}\n`);
      } else {
        const { client, region } = await ssmFor(values, deps.ssm);
        const document = await chooseDocument(client, 'diagnose', values.document);
        io.stderr(`nodemedic diagnose: ${values.instance} ${describeChoice(document, region)}\n`);
        via = { client, document };
      }
      inv = await runRemote({
        via,
        instanceId: values.instance!,
        timeoutSeconds,
        ...(deps.sleep ? { sleep: deps.sleep } : {}),
        onSent: (commandId) => io.stderr(`nodemedic diagnose: command ${commandId} sent; waiting\n`),
      });
    } else {
      const runner = new ShellCommandRunner(deps.runner);
      const { commandId } = await runner.send({
        node: LOCAL_NODE,
        script: 'diagnose',
        parameters,
        timeoutSeconds,
        comment: 'nodemedic diagnose (cli)',
      });
      inv = await runner.wait(commandId, LOCAL_NODE);
    }
    deps.onInvocation?.(inv);
    if (inv.status !== 'success' && inv.stdout.trim() === '') {
      const why = inv.stderr.trim().split('\n')[0] || `exit code ${inv.exitCode}`;
      io.stderr(`nodemedic diagnose: the diagnostic script ${inv.status}: ${why}\n`);
      return EXIT.error;
    }
    const facts = parseFacts(inv.stdout, { truncated: inv.stdoutTruncated });
    const report = analyze(facts, minVersion ? { versionPolicy: { minimum: minVersion } } : undefined);
    io.stdout(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
    return report.healthy ? EXIT.ok : EXIT.findings;
  } catch (err) {
    // Modelled errors name the problem; anything else is a bug, still reported on one line.
    const message = err instanceof NodemedicError ? `${err.code}: ${err.message}` : String(err);
    io.stderr(`nodemedic diagnose: ${message}\n`);
    return EXIT.error;
  }
}

function parse(args: string[]) {
  return parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      address: { type: 'string' },
      config: { type: 'string' },
      root: { type: 'string' },
      state: { type: 'string' },
      'log-file': { type: 'string' },
      'min-version': { type: 'string' },
      timeout: { type: 'string' },
      json: { type: 'boolean' },
      instance: { type: 'string' },
      region: { type: 'string' },
      profile: { type: 'string' },
      document: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
