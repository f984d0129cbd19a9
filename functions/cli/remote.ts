/**
 * The CLI on a laptop: run nodemedic's scripts on a remote EC2 node through SSM Run Command, with
 * the caller's own AWS credentials. A script goes through nodemedic's deployed document when the
 * account has one (found by its `nodemedic:script` tag), and otherwise as the same bytes through
 * AWS's `AWS-RunShellScript`, said plainly. Each run waits with the workflow's bounds and returns
 * the invocation, which the caller reads exactly as a local run.
 */
import { ListDocumentsCommand, type ListDocumentsCommandOutput, SSMClient } from '@aws-sdk/client-ssm';
import { RUN_SHELL_SCRIPT, SsmCommandRunner } from '../adapters/aws/ssm-runner.js';
import { validateInstanceId } from '../core/alarm.js';
import { DependencyError, InvalidInputError, NodemedicError } from '../core/errors.js';
import type { CommandInvocation, CommandRunner, NodeRef, ScriptId } from '../core/ports.js';
import { DIAGNOSE_TIMEOUT_SECONDS, SCRIPT_TAG } from '../core/script-params.js';
import { scriptProgram } from '../scripts/program.js';

/** Where a remote run's AWS credentials and region come from (`--profile`, `--region`). */
export interface AwsFlags {
  readonly region?: string | undefined;
  readonly profile?: string | undefined;
}

/** Builds the SSM client for the flags; tests pass one over a mocked client. */
export type SsmFactory = (config: { region?: string; profile?: string }) => SSMClient;

/**
 * The SSM client for `--region`/`--profile` (the SDK's own chain for what they leave out) and
 * the region it resolved; no region at all is a usage error that says where to set one.
 */
export async function ssmFor(
  flags: AwsFlags,
  make?: SsmFactory,
): Promise<{ client: SSMClient; region: string }> {
  const config = {
    ...(flags.region ? { region: flags.region } : {}),
    ...(flags.profile ? { profile: flags.profile } : {}),
  };
  const client = make ? make(config) : new SSMClient(config);
  const region = await client.config.region().catch(() => {
    throw new NodemedicError(
      'AWS_REGION_MISSING',
      'no AWS region: pass --region, or set AWS_REGION or a region in your profile',
    );
  });
  return { client, region };
}

/** Which document a remote diagnosis goes through, and why. */
export type DocumentChoice =
  | { readonly kind: 'named'; readonly name: string }
  | { readonly kind: 'deployed'; readonly name: string }
  | { readonly kind: 'inline'; readonly why: string };

/**
 * The document to run `script` with: the one named, else the account's only document tagged
 * `nodemedic:script=<script>`, else none (the script goes inline). Several tagged documents (more
 * than one stack in the region) are refused: the caller names one with `--document`.
 */
export async function chooseDocument(
  client: SSMClient,
  script: ScriptId,
  named?: string,
): Promise<DocumentChoice> {
  if (named !== undefined) return { kind: 'named', name: named };
  const names: string[] = [];
  let token: string | undefined;
  do {
    let page: ListDocumentsCommandOutput;
    try {
      page = await client.send(
        new ListDocumentsCommand({
          Filters: [
            { Key: 'Owner', Values: ['Self'] },
            { Key: `tag:${SCRIPT_TAG}`, Values: [script] },
          ],
          ...(token ? { NextToken: token } : {}),
        }),
      );
    } catch (error) {
      throw new DependencyError(
        'SSM_LIST_DOCUMENTS_FAILED',
        `could not list the account's SSM documents (${error instanceof Error ? error.message : String(error)})`,
        { cause: error },
      );
    }
    for (const doc of page.DocumentIdentifiers ?? []) if (doc.Name) names.push(doc.Name);
    token = page.NextToken;
  } while (token);
  if (names.length === 1) return { kind: 'deployed', name: names[0]! };
  if (names.length > 1) {
    throw new InvalidInputError(
      `${names.length} nodemedic ${script} documents in this region (${names.join(', ')}): name one with --document`,
      { code: 'DOCUMENT_AMBIGUOUS' },
    );
  }
  return {
    kind: 'inline',
    why: `no SSM document tagged ${SCRIPT_TAG}=${script} in this account and region (is the stack deployed here?)`,
  };
}

/** What a remote run needs. */
export interface RemoteRun {
  /** How the script reaches the node: SSM through `client` and `document`, or a runner of its own. */
  readonly via:
    | { readonly client: SSMClient; readonly document: DocumentChoice }
    | { readonly runner: CommandRunner };
  readonly instanceId: string;
  /** @default 'diagnose' */
  readonly script?: ScriptId;
  /** Script parameters (validated against their allowedPattern). @default {} */
  readonly parameters?: Readonly<Record<string, string>>;
  /** Seconds the script may run on the node. @default DIAGNOSE_TIMEOUT_SECONDS */
  readonly timeoutSeconds?: number;
  /** How a poll waits; tests pass one that does not sleep. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Told once the command is sent, with its id. */
  readonly onSent?: (commandId: string) => void;
}

/** Polls before the wait gives up: delivery (SSM's 30 s minimum) plus the script's own bound. */
const POLL_INTERVAL_MS = 2_000;

/** Send a script to the node and wait for it to end; throws when it never does. */
export async function runRemote(options: RemoteRun): Promise<CommandInvocation> {
  const instanceId = validateInstanceId(options.instanceId);
  const node: NodeRef = { instanceId, nodeName: null, cluster: 'remote', autoScalingGroup: null };
  const script = options.script ?? 'diagnose';
  const via = options.via;
  const runner =
    'runner' in via
      ? via.runner
      : new SsmCommandRunner(
          via.document.kind === 'inline'
            ? { client: via.client, documents: {}, inline: { [script]: scriptProgram(script) } }
            : { client: via.client, documents: { [script]: via.document.name } },
        );
  const timeoutSeconds = options.timeoutSeconds ?? DIAGNOSE_TIMEOUT_SECONDS;
  const { commandId } = await runner.send({
    node,
    script,
    parameters: options.parameters ?? {},
    timeoutSeconds,
    comment: `nodemedic ${script} (cli)`,
  });
  options.onSent?.(commandId);
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  // SSM holds an undelivered command for at least 30 s, then the script runs for its own bound.
  const deadline = Math.max(30, timeoutSeconds) + timeoutSeconds + 15;
  for (let waited = 0; waited <= deadline * 1000; waited += POLL_INTERVAL_MS) {
    await sleep(POLL_INTERVAL_MS);
    const invocation = await runner.get(commandId, node);
    if (invocation.status !== 'pending') return invocation;
  }
  throw new DependencyError(
    'SSM_NO_RESULT',
    `command ${commandId} on ${instanceId} had no result after ${deadline} s (see the SSM console's Run Command history)`,
  );
}

/** The line the CLI prints (on stderr) before it waits. */
export function describeChoice(choice: DocumentChoice, region: string): string {
  switch (choice.kind) {
    case 'named':
      return `through the document ${choice.name} (--document)`;
    case 'deployed':
      return `through nodemedic's deployed document ${choice.name} in ${region}`;
    case 'inline':
      return `through ${RUN_SHELL_SCRIPT} with the same script bytes: ${choice.why}`;
  }
}
