/**
 * The local `CommandRunner`: runs nodemedic's own scripts on this machine the way SSM Run Command
 * runs them on a node. Same program bytes as the SSM documents (`scriptProgram`: a fix script with
 * the shared preamble inlined), parameters only as validated `NODEMEDIC_*` environment
 * variables (never a shell string), an execution timeout that kills the whole process group, and
 * SSM's output caps, so the CLI, the demo and the tests exercise the AWS code path's contract.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { InvalidInputError } from '../../core/errors.js';
import { REMEDIATION_IDS } from '../../core/model.js';
import type {
  CommandInvocation,
  CommandRequest,
  CommandRunner,
  CommandStatus,
  NodeRef,
  ScriptId,
} from '../../core/ports.js';
import { scriptEnvironment } from '../../core/script-params.js';
import { SCRIPTS_DIR, scriptFile, scriptProgram } from '../../scripts/program.js';

/** SSM GetCommandInvocation's caps. */
const SSM_STDOUT_CAP = 24_000;
const SSM_STDERR_CAP = 8_000;
/** After the process exits, how long a grandchild may keep its pipes open before we stop reading. */
const DRAIN_MS = 1_000;
/** Between SIGTERM and SIGKILL of a timed-out script's process group. */
const KILL_GRACE_MS = 2_000;

/** Options for {@link ShellCommandRunner}. */
export interface ShellCommandRunnerOptions {
  /** Where diagnose.sh and fixes/<id>.sh live. @default functions/scripts */
  scriptsDir?: string;
  /** Extra environment for every script, e.g. `sandbox.env()` (request parameters override it). */
  env?: Record<string, string>;
  /** Characters of stdout kept, like SSM. @default 24000 */
  outputCap?: number;
}

interface Running {
  readonly node: NodeRef;
  invocation: CommandInvocation;
  readonly done: Promise<CommandInvocation>;
  /** Kill the script's process group and report the command `cancelled`; no-op once it ended. */
  readonly stop: () => void;
}

/**
 * Runs a script's program locally as `bash -c <program> nodemedic-<id>`: diagnose.sh, or
 * fixes/<id>.sh with fixes/_preamble.sh inlined. The program is file content, never request input;
 * stdin stays closed so no tool the script runs can read it.
 */
export class ShellCommandRunner implements CommandRunner {
  private readonly scriptsDir: string;
  private readonly env: Record<string, string>;
  private readonly outputCap: number;
  private readonly commands = new Map<string, Running>();

  constructor(options: ShellCommandRunnerOptions = {}) {
    this.scriptsDir = options.scriptsDir ?? SCRIPTS_DIR;
    this.env = options.env ?? {};
    this.outputCap = options.outputCap ?? SSM_STDOUT_CAP;
  }

  /** The script file a request runs. Throws InvalidInputError for an id that is no script. */
  scriptPath(script: ScriptId): string {
    return scriptFile(knownScript(script), this.scriptsDir);
  }

  /**
   * The exact program `send` hands to `bash -c` for a script: `scriptProgram`, the bytes the SSM
   * document carries after its export prelude. Throws InvalidInputError for an id that is no
   * script, and an Error naming the file when a script (or the preamble it includes) is missing.
   */
  program(script: ScriptId): string {
    return scriptProgram(knownScript(script), this.scriptsDir);
  }

  /**
   * Validate the parameters (allowedPattern) and start the script. Resolves at once with the
   * command id, like SendCommand; the script runs in the background until it ends or times out.
   */
  async send(request: CommandRequest): Promise<{ commandId: string }> {
    const paramsEnv = scriptEnvironment(request.parameters);
    if (!Number.isFinite(request.timeoutSeconds) || request.timeoutSeconds <= 0) {
      throw new InvalidInputError(`timeoutSeconds must be a positive number, got ${request.timeoutSeconds}`);
    }
    const script = knownScript(request.script);
    const commandId = randomUUID();
    let program: string;
    try {
      program = this.program(script);
    } catch (err) {
      // Like a node without the document's script: a failed command, with the missing file named.
      const invocation = this.finished(commandId, 'failed', 'Failed', 127, '', (err as Error).message);
      this.commands.set(commandId, {
        node: request.node,
        invocation,
        done: Promise.resolve(invocation),
        stop: () => {},
      });
      return { commandId };
    }
    const child = spawn('bash', ['-c', program, `nodemedic-${script}`], {
      // Its own process group, so a timeout kills everything the script started in the foreground.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...this.env, ...paramsEnv },
    });
    const control = { stop: () => {} };
    const running: Running = {
      node: request.node,
      invocation: this.pending(commandId),
      done: this.collect(commandId, child, request.timeoutSeconds, control),
      stop: () => control.stop(),
    };
    this.commands.set(commandId, running);
    running.done.then((inv) => {
      running.invocation = inv;
    });
    return { commandId };
  }

  /** The invocation: `pending` until the script ends. Unknown id (or another node) → InvalidInputError. */
  async get(commandId: string, node: NodeRef): Promise<CommandInvocation> {
    return this.lookup(commandId, node).invocation;
  }

  /**
   * Like CancelCommand: kill the script's whole process group (SIGTERM, then SIGKILL after a
   * grace) and report it `cancelled`. A command that ended keeps its status. Unknown id (or another
   * node) → InvalidInputError.
   */
  async cancel(commandId: string, node: NodeRef): Promise<void> {
    this.lookup(commandId, node).stop();
  }

  /** Resolves when the command has ended (no polling); for the CLI and tests. */
  async wait(commandId: string, node: NodeRef): Promise<CommandInvocation> {
    return this.lookup(commandId, node).done;
  }

  private lookup(commandId: string, node: NodeRef): Running {
    const running = this.commands.get(commandId);
    // Like SSM's InvocationDoesNotExist: the pair (command, instance) must exist.
    if (!running || running.node.instanceId !== node.instanceId) {
      throw new InvalidInputError(`no command "${commandId}" on ${node.instanceId}`, {
        code: 'COMMAND_NOT_FOUND',
      });
    }
    return running;
  }

  private collect(
    commandId: string,
    child: ChildProcess,
    timeoutSeconds: number,
    control: { stop: () => void },
  ): Promise<CommandInvocation> {
    return new Promise((resolveDone) => {
      const out = new CappedText(this.outputCap);
      const err = new CappedText(SSM_STDERR_CAP);
      child.stdout?.setEncoding('utf8').on('data', (d: string) => out.push(d));
      child.stderr?.setEncoding('utf8').on('data', (d: string) => err.push(d));
      let timedOut = false;
      let cancelled = false;
      let settled = false;
      const killGroup = (signal: NodeJS.Signals) => {
        try {
          if (child.pid) process.kill(-child.pid, signal);
        } catch {
          // The group is already gone.
        }
      };
      const timer = setTimeout(() => {
        timedOut = true;
        killGroup('SIGTERM');
        setTimeout(() => killGroup('SIGKILL'), KILL_GRACE_MS).unref();
      }, timeoutSeconds * 1000);
      control.stop = () => {
        if (settled || cancelled) return;
        cancelled = true;
        killGroup('SIGTERM');
        setTimeout(() => killGroup('SIGKILL'), KILL_GRACE_MS).unref();
      };
      const finish = (code: number | null, spawnError?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (spawnError) {
          resolveDone(
            this.finished(
              commandId,
              'failed',
              'Failed',
              null,
              '',
              `nodemedic: cannot run bash: ${spawnError.message}`,
            ),
          );
          return;
        }
        const [status, detail] = cancelled
          ? (['cancelled', 'Cancelled'] as const)
          : timedOut
            ? (['timed-out', 'TimedOut'] as const)
            : code === 0
              ? (['success', 'Success'] as const)
              : (['failed', 'Failed'] as const);
        resolveDone({
          commandId,
          status,
          detail,
          exitCode: timedOut || cancelled ? null : code,
          stdout: out.text,
          stderr: err.text,
          stdoutTruncated: out.truncated,
        });
      };
      child.on('error', (e) => finish(null, e));
      child.on('exit', (code) => {
        // A background grandchild may hold the pipes open: read what is there, then stop waiting.
        const drain = setTimeout(() => {
          child.stdout?.destroy();
          child.stderr?.destroy();
          finish(code);
        }, DRAIN_MS);
        child.on('close', () => {
          clearTimeout(drain);
          finish(code);
        });
      });
    });
  }

  private pending(commandId: string): CommandInvocation {
    return {
      commandId,
      status: 'pending',
      detail: 'InProgress',
      exitCode: null,
      stdout: '',
      stderr: '',
      stdoutTruncated: false,
    };
  }

  private finished(
    commandId: string,
    status: CommandStatus,
    detail: string,
    exitCode: number | null,
    stdout: string,
    stderr: string,
  ): CommandInvocation {
    return { commandId, status, detail, exitCode, stdout, stderr, stdoutTruncated: false };
  }
}

/** `diagnose` or a remediation id, else InvalidInputError (an id never reaches a path unchecked). */
function knownScript(script: ScriptId): ScriptId {
  if (script !== 'diagnose' && !(REMEDIATION_IDS as readonly string[]).includes(script)) {
    throw new InvalidInputError(`unknown script "${String(script)}"`);
  }
  return script;
}

/** Text kept up to a cap, remembering whether more arrived. */
class CappedText {
  text = '';
  truncated = false;
  constructor(private readonly cap: number) {}
  push(chunk: string): void {
    if (this.text.length + chunk.length <= this.cap) {
      this.text += chunk;
      return;
    }
    this.text += chunk.slice(0, Math.max(0, this.cap - this.text.length));
    this.truncated = true;
  }
}
