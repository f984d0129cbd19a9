/**
 * `nodemedic diagnose`: run the diagnostic script on this machine through the same local
 * CommandRunner the demo uses, then parse and analyze its facts and print the report.
 * Exit codes: 0 healthy, 1 findings (or not confirmed healthy), 2 usage or internal error.
 */
import { parseArgs } from 'node:util';
import { ShellCommandRunner, type ShellCommandRunnerOptions } from '../adapters/local/shell-runner.js';
import { analyze, parseFacts } from '../core/analyze.js';
import { NodemedicError } from '../core/errors.js';
import type { CommandInvocation, NodeRef } from '../core/ports.js';
import { parseVersion } from '../core/version.js';
import { formatReport } from './format.js';
import { type CliIo, EXIT } from './io.js';

/** `--help` text for diagnose. */
const DIAGNOSE_USAGE = `Usage: nodemedic diagnose [options]

Runs nodemedic's read-only diagnostic script against containerd on this machine (as root), then
prints what is wrong and the fixes that fit. Exit code: 0 healthy, 1 findings, 2 usage/internal error.

Options (each defaults to the standard node path when omitted):
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
}

/** Run `diagnose` with its arguments (after the subcommand); resolves with the exit code. */
export async function diagnoseCommand(args: string[], io: CliIo, deps: DiagnoseDeps = {}): Promise<number> {
  let values: ReturnType<typeof parse>['values'];
  try {
    values = parse(args).values;
  } catch (err) {
    io.stderr(`nodemedic diagnose: ${(err as Error).message} (see --help)\n`);
    return EXIT.error;
  }
  if (values.help) {
    io.stdout(DIAGNOSE_USAGE);
    return EXIT.ok;
  }
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

  try {
    const runner = new ShellCommandRunner(deps.runner);
    const { commandId } = await runner.send({
      node: LOCAL_NODE,
      script: 'diagnose',
      parameters,
      timeoutSeconds,
      comment: 'nodemedic diagnose (cli)',
    });
    const inv = await runner.wait(commandId, LOCAL_NODE);
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
      help: { type: 'boolean', short: 'h' },
    },
  });
}
