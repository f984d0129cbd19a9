/**
 * `CommandRunner` over SSM Run Command: nodemedic's own Command documents (built at synth from the
 * scripts, infra/documents.ts), SendCommand to one instance, GetCommandInvocation to read the
 * outcome, CancelCommand to stop one nodemedic stopped waiting for. Values reach the document
 * only as parameters, checked here against the same `allowedPattern` the document enforces;
 * nothing is spliced into a command line.
 */
import {
  CancelCommandCommand,
  GetCommandInvocationCommand,
  type GetCommandInvocationCommandOutput,
  SendCommandCommand,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import { validateInstanceId } from '../../core/alarm.js';
import { DependencyError, InvalidInputError } from '../../core/errors.js';
import type {
  CommandInvocation,
  CommandRequest,
  CommandRunner,
  NodeRef,
  ScriptId,
} from '../../core/ports.js';
import { scriptEnvironment } from '../../core/script-params.js';
import { ssmCommandStatus } from '../../core/ssm-status.js';
import { errorName, toDependencyError } from './sdk-errors.js';

/** Options of {@link SsmCommandRunner}. */
export interface SsmCommandRunnerOptions {
  readonly client: SSMClient;
  /** SSM document name per script (`diagnose` and each remediation that runs on the node). */
  readonly documents: Readonly<Partial<Record<ScriptId, string>>>;
  /**
   * Programs to send through AWS's own `AWS-RunShellScript` document for scripts that have no
   * document of nodemedic's (the CLI on a laptop, where the stack is not deployed). Parameters
   * become `export NODEMEDIC_…='value'` lines after the shebang, exactly as nodemedic's documents
   * export theirs, and only once each value matched its allowedPattern (which admits no quote).
   */
  readonly inline?: Readonly<Partial<Record<ScriptId, string>>>;
  /** Not supported: output goes through GetCommandInvocation only (see stdoutTruncated). */
  readonly outputBucket?: never;
}

/** SSM cuts StandardOutputContent at this many characters. */
export const SSM_STDOUT_CAP = 24_000;
/** SendCommand's Comment limit. */
const SSM_COMMENT_MAX = 100;
/** AWS's own shell document, for scripts sent inline (SsmCommandRunnerOptions.inline). */
export const RUN_SHELL_SCRIPT = 'AWS-RunShellScript';
/** SendCommand's smallest TimeoutSeconds. */
const MIN_DELIVERY_TIMEOUT_SECONDS = 30;

/** Exceptions worth retrying after a pause. */
const RETRYABLE = new Set([
  'ThrottlingException',
  'TooManyUpdates',
  'InternalServerError',
  'ServiceUnavailable',
]);

/** Runs scripts on EC2 nodes through SSM Run Command. */
export class SsmCommandRunner implements CommandRunner {
  private readonly client: SSMClient;
  private readonly documents: Readonly<Partial<Record<ScriptId, string>>>;
  private readonly inline: Readonly<Partial<Record<ScriptId, string>>>;

  constructor(options: SsmCommandRunnerOptions) {
    this.client = options.client;
    this.documents = options.documents;
    this.inline = options.inline ?? {};
  }

  async send(request: CommandRequest): Promise<{ commandId: string }> {
    const instanceId = validateInstanceId(request.node.instanceId);
    const program = this.documents[request.script] ? undefined : this.inline[request.script];
    const document = this.documents[request.script] ?? (program !== undefined ? RUN_SHELL_SCRIPT : undefined);
    if (!document) {
      throw new InvalidInputError(`no SSM document is configured for script "${request.script}"`, {
        code: 'SCRIPT_HAS_NO_DOCUMENT',
      });
    }
    // Throws, naming the parameter, on an unknown name or a value outside its allowedPattern.
    scriptEnvironment(request.parameters);
    if (!Number.isInteger(request.timeoutSeconds) || request.timeoutSeconds < 1) {
      throw new InvalidInputError(`timeoutSeconds must be a positive integer, got ${request.timeoutSeconds}`);
    }
    const parameters =
      program !== undefined
        ? {
            commands: inlineCommands(program, scriptEnvironment(request.parameters)),
            executionTimeout: [String(request.timeoutSeconds)],
          }
        : Object.fromEntries(Object.entries(request.parameters).map(([name, value]) => [name, [value]]));
    try {
      const out = await this.client.send(
        new SendCommandCommand({
          InstanceIds: [instanceId],
          DocumentName: document,
          Parameters: parameters,
          // SendCommand's TimeoutSeconds is the delivery window (the script's own execution timeout
          // is in the document): a node that has not picked the command up by then is reported
          // DeliveryTimedOut instead of leaving the workflow waiting. SSM's minimum is 30 s.
          TimeoutSeconds: Math.max(MIN_DELIVERY_TIMEOUT_SECONDS, request.timeoutSeconds),
          Comment: clip(request.comment || `nodemedic ${request.script}`, SSM_COMMENT_MAX),
        }),
      );
      const commandId = out.Command?.CommandId;
      if (!commandId) throw new DependencyError('SSM_FAILED', 'SendCommand returned no command id');
      return { commandId };
    } catch (error) {
      throw ssmError(error, `SendCommand ${document} to ${instanceId}`);
    }
  }

  async get(commandId: string, node: NodeRef): Promise<CommandInvocation> {
    const instanceId = validateInstanceId(node.instanceId);
    let out: GetCommandInvocationCommandOutput;
    try {
      out = await this.client.send(
        new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId }),
      );
    } catch (error) {
      // Right after SendCommand the invocation may not be visible yet (eventual consistency). Say
      // "pending" and let the caller's attempt budget decide when that has lasted too long.
      if (errorName(error) === 'InvocationDoesNotExist') {
        return {
          commandId,
          status: 'pending',
          detail: 'InvocationDoesNotExist',
          exitCode: null,
          stdout: '',
          stderr: '',
          stdoutTruncated: false,
        };
      }
      throw ssmError(error, `GetCommandInvocation ${commandId} on ${instanceId}`);
    }
    const word = out.StatusDetails || out.Status || '';
    const status = ssmCommandStatus(out.Status, out.StatusDetails);
    if (!status) {
      throw new DependencyError(
        'SSM_UNKNOWN_STATUS',
        `command ${commandId} has a status nodemedic does not know: "${word}"`,
      );
    }
    const stdout = out.StandardOutputContent ?? '';
    const code = out.ResponseCode;
    return {
      commandId,
      status,
      detail: word,
      // SSM reports -1 until the script has exited.
      exitCode: status === 'pending' || code === undefined || code < 0 ? null : code,
      stdout,
      stderr: out.StandardErrorContent ?? '',
      stdoutTruncated: stdout.length >= SSM_STDOUT_CAP,
    };
  }

  async cancel(commandId: string, node: NodeRef): Promise<void> {
    const instanceId = validateInstanceId(node.instanceId);
    try {
      // CancelCommand only asks: SSM stops the invocation when the agent picks the request up, and
      // one that has ended already keeps its status.
      await this.client.send(new CancelCommandCommand({ CommandId: commandId, InstanceIds: [instanceId] }));
    } catch (error) {
      throw ssmError(error, `CancelCommand ${commandId} on ${instanceId}`);
    }
  }
}

/** Map an SDK error to a DependencyError naming the call; our own modelled errors pass through. */
function ssmError(error: unknown, what: string): Error {
  if (errorName(error) === 'InvalidInstanceId') {
    // SSM says this when the instance is not a managed instance, or its agent is not online.
    return new DependencyError(
      'SSM_INSTANCE_NOT_MANAGED',
      `${what}: the instance is not managed by SSM or not online (InvalidInstanceId)`,
      {
        cause: error,
      },
    );
  }
  return toDependencyError(error, what, 'SSM', RETRYABLE);
}

/**
 * The command lines of an inline program: the agent joins them with "\n", as for nodemedic's own
 * documents, so the program runs byte for byte; its validated parameters are exported right after
 * the shebang line (single quotes are safe: no allowedPattern admits one).
 */
function inlineCommands(program: string, env: Readonly<Record<string, string>>): string[] {
  const lines = program.split('\n');
  const exports = Object.entries(env).map(([name, value]) => `export ${name}='${value}'`);
  if (exports.length === 0) return lines;
  return lines[0]?.startsWith('#!') ? [lines[0], ...exports, ...lines.slice(1)] : [...exports, ...lines];
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
