/**
 * What the fix-script suites share: the result every fix prints, a sandbox daemon's open-file
 * limits (the browser test), running a fix through the local shell runner as the demo does, running
 * a fix's program straight under bash, as a tampered SSM document or a person on the node might,
 * and the inputs the runner and the scripts must refuse.
 */
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ShellCommandRunner } from '../../functions/adapters/local/shell-runner.js';
import type { RemediationId } from '../../functions/core/model.js';
import type { NodeRef } from '../../functions/core/ports.js';
import { SCRIPT_PARAMETERS } from '../../functions/core/script-params.js';
import { fixProgram } from '../../functions/scripts/program.js';

/** The node the fix suites send commands to (the local runner only checks the pairing). */
export const FIX_NODE: NodeRef = {
  instanceId: 'local-fixes',
  nodeName: null,
  cluster: 'local',
  autoScalingGroup: null,
};

/** The JSON object every fix prints as the last line of stdout. */
export interface FixResult {
  readonly fix: string;
  readonly ok: boolean;
  readonly changed: boolean;
  readonly detail: string;
  readonly backup: string | null;
}

/** A finished fix: its exit code, its JSON result and what it said on stderr. */
export interface FixRun {
  readonly exitCode: number | null;
  readonly result: FixResult;
  readonly stderr: string;
}

/** The JSON result on the last line of a fix's stdout. */
export function lastResult(stdout: string): FixResult {
  return JSON.parse(stdout.trimEnd().split('\n').at(-1) ?? '') as FixResult;
}

/** Send a fix through ShellCommandRunner, as the demo does, and wait for it to end. */
export async function runFix(
  script: RemediationId,
  parameters: Record<string, string>,
  env: Record<string, string>,
  timeoutSeconds = 150,
): Promise<FixRun> {
  const runner = new ShellCommandRunner({ env });
  const { commandId } = await runner.send({
    node: FIX_NODE,
    script,
    parameters,
    timeoutSeconds,
    comment: 'fix integration test',
  });
  const inv = await runner.wait(commandId, FIX_NODE);
  return { exitCode: inv.exitCode, result: lastResult(inv.stdout), stderr: inv.stderr };
}

/**
 * A fix's whole program (preamble inlined, the SSM document's bytes) run straight under bash with
 * raw environment variables: no allowedPattern in front, so the script's own checks must hold.
 */
export function runProgram(script: RemediationId, env: Record<string, string>): SpawnSyncReturns<string> {
  return spawnSync('bash', ['-c', fixProgram(script), `nodemedic-${script}`], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
}

/**
 * A PATH on which every tool of this machine is found except the ones named: `farm` (created here,
 * so it must not exist yet) filled with symlinks to the rest.
 */
export function pathWithout(farm: string, ...missing: string[]): string {
  mkdirSync(farm);
  for (const d of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
    if (!existsSync(d)) continue;
    for (const tool of readdirSync(d)) {
      if (missing.includes(tool) || existsSync(join(farm, tool))) continue;
      symlinkSync(join(d, tool), join(farm, tool));
    }
  }
  return farm;
}

/** Parameter values the runner's patterns refuse: [script, parameter, value]. */
export const HOSTILE_PARAMETERS = [
  ['restart-containerd', 'address', ';rm -rf /'],
  ['raise-nofile', 'nofile', '$(id)'],
  ['raise-nofile', 'systemdDir', '/etc/systemd/system;id'],
  ['raise-grpc-message-size', 'messageSize', '`id`'],
  ['reset-state', 'root', '$(rm -rf /)'],
  ['reset-state', 'nodeName', 'node; id'],
  ['cordon-drain', 'nodeName', '$(id)'],
  ['upgrade-containerd', 'packageVersion', '1.7.0;id'],
] as const;

/**
 * Values handed straight to a script (a tampered SSM document, a person on the node): the hostile
 * ones, plus values the patterns allow but the scripts still refuse. [script, env variable, value].
 */
export const REFUSED_DIRECTLY: readonly (readonly [RemediationId, string, string])[] = [
  ...HOSTILE_PARAMETERS.map(([script, name, value]) => [script, envOf(name), value] as const),
  ['reset-state', 'NODEMEDIC_ROOT', '/var/lib/../../etc'],
  ['reset-state', 'NODEMEDIC_ROOT', '/var'],
  ['raise-nofile', 'NODEMEDIC_NOFILE', '100'],
  ['raise-grpc-message-size', 'NODEMEDIC_MESSAGE_SIZE', '0'],
  ['raise-grpc-message-size', 'NODEMEDIC_MESSAGE_SIZE', '9999999999'],
  ['restart-containerd', 'NODEMEDIC_MODE', 'rollback'],
  ['reset-state', 'NODEMEDIC_MODE', 'rollback'],
  ['upgrade-containerd', 'NODEMEDIC_PACKAGE_VERSION', ''],
];

function envOf(name: string): string {
  const spec = (SCRIPT_PARAMETERS as Record<string, { env: string }>)[name];
  if (!spec) throw new Error(`no script parameter ${name}`);
  return spec.env;
}
