/**
 * What the fix-script integration suites share: the result every fix prints, running a fix through
 * the local shell runner as the demo does, and running a fix's program straight under bash, as a
 * tampered SSM document or a person on the node might.
 */
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { ShellCommandRunner } from '../../functions/adapters/local/shell-runner.js';
import type { RemediationId } from '../../functions/core/model.js';
import type { NodeRef } from '../../functions/core/ports.js';
import type { ContainerdSandbox } from '../../functions/local/sandbox/containerd.js';
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

/** Send a fix through ShellCommandRunner and poll get() until it ends, as the demo does. */
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
  let inv = await runner.get(commandId, FIX_NODE);
  while (inv.status === 'pending') {
    await new Promise((r) => setTimeout(r, 100));
    inv = await runner.get(commandId, FIX_NODE);
  }
  return { exitCode: inv.exitCode, result: lastResult(inv.stdout), stderr: inv.stderr };
}

/** {@link runFix} against a sandbox: its path parameters and environment, plus the given ones. */
export function runSandboxFix(
  sb: ContainerdSandbox,
  script: RemediationId,
  parameters: Record<string, string> = {},
  env: Record<string, string> = {},
): Promise<FixRun> {
  return runFix(script, { ...sb.params(), ...parameters }, { ...sb.env(), ...env });
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
