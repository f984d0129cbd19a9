/**
 * A `CommandRunner` whose "instance" is a node of the lab: the script's exact program runs inside
 * it as SSM's agent would run it (root, `bash -c`, parameters only as validated `NODEMEDIC_*`
 * variables). It lets the CLI's remote path (`diagnose --instance`, `fix --instance`) run end to
 * end against a real node under real systemd, with only SSM's transport left out.
 */
import { randomUUID } from 'node:crypto';
import type { CommandInvocation, CommandRequest, CommandRunner, NodeRef } from '../../core/ports.js';
import type { RunResult } from '../sandbox/containerd.js';
import type { LabNode } from './node.js';

export class LabCommandRunner implements CommandRunner {
  private readonly runs = new Map<string, { done: RunResult | null; cancelled: boolean }>();

  constructor(private readonly node: LabNode) {}

  async send(request: CommandRequest): Promise<{ commandId: string }> {
    const commandId = randomUUID();
    const entry: { done: RunResult | null; cancelled: boolean } = { done: null, cancelled: false };
    this.runs.set(commandId, entry);
    void this.node
      .runScript(request.script, { ...request.parameters }, { timeoutMs: request.timeoutSeconds * 1000 })
      .then(
        (result) => {
          entry.done = result;
        },
        (error: unknown) => {
          entry.done = {
            code: null,
            stdout: '',
            stderr: error instanceof Error ? error.message : String(error),
          };
        },
      );
    return { commandId };
  }

  async get(commandId: string, _node: NodeRef): Promise<CommandInvocation> {
    const entry = this.runs.get(commandId);
    const base = { commandId, stdoutTruncated: false };
    if (!entry)
      return { ...base, status: 'failed', detail: 'unknown command', exitCode: null, stdout: '', stderr: '' };
    if (entry.cancelled)
      return { ...base, status: 'cancelled', detail: 'Cancelled', exitCode: null, stdout: '', stderr: '' };
    if (!entry.done)
      return { ...base, status: 'pending', detail: 'InProgress', exitCode: null, stdout: '', stderr: '' };
    const ok = entry.done.code === 0;
    return {
      ...base,
      status: ok ? 'success' : 'failed',
      detail: ok ? 'Success' : 'Failed',
      exitCode: entry.done.code,
      stdout: entry.done.stdout,
      stderr: entry.done.stderr,
    };
  }

  async cancel(commandId: string, _node: NodeRef): Promise<void> {
    const entry = this.runs.get(commandId);
    if (entry) entry.cancelled = true;
  }
}
