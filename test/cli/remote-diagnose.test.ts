/**
 * `nodemedic diagnose --instance` from a laptop: the real command, with SSM answered by
 * aws-sdk-client-mock in the shapes the SSM API reference documents:
 * - ListDocuments: https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_ListDocuments.html
 *   (`DocumentIdentifiers[].Name`, `NextToken`; filter keys `Owner` and `tag:<key>`)
 * - SendCommand: https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_SendCommand.html
 *   (`Command.CommandId`; `AWS-RunShellScript` takes `commands` and `executionTimeout`)
 * - GetCommandInvocation: https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetCommandInvocation.html
 *   (`Status`, `StatusDetails`, `ResponseCode`, `StandardOutputContent`, `StandardErrorContent`)
 * The node's output is a recording of the real script against a real containerd.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  GetCommandInvocationCommand,
  InvalidInstanceId,
  ListDocumentsCommand,
  SendCommandCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { beforeEach, describe, expect, it } from 'vitest';
import { diagnoseCommand } from '../../functions/cli/diagnose.js';
import { scriptProgram } from '../../functions/scripts/program.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const recorded = (name: string) =>
  readFileSync(join(ROOT, 'test/fixtures/facts/recorded', `${name}.json`), 'utf8');

const ssm = mockClient(SSMClient);
const INSTANCE = 'i-0abc123def4567890';
const clients: { region?: string; profile?: string }[] = [];

async function run(...args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await diagnoseCommand(
    args,
    { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) },
    {
      ssm: (config) => {
        clients.push(config);
        return new SSMClient({ region: 'eu-west-1', ...config });
      },
      sleep: async () => {},
    },
  );
  return { code, stdout, stderr };
}

/** A command that is in progress once, then succeeds with the recorded facts of `fault`. */
function nodeAnswers(fault: string) {
  ssm.on(SendCommandCommand).resolves({ Command: { CommandId: '0ce90b3b-5e2d-4a0b-8a57-1f2b6c1d9e01' } });
  ssm
    .on(GetCommandInvocationCommand)
    .resolvesOnce({ Status: 'InProgress', StatusDetails: 'InProgress', ResponseCode: -1 })
    .resolves({
      Status: 'Success',
      StatusDetails: 'Success',
      ResponseCode: 0,
      StandardOutputContent: recorded(fault),
      StandardErrorContent: '',
    });
}

beforeEach(() => {
  ssm.reset();
  clients.length = 0;
});

describe('nodemedic diagnose --instance', () => {
  it("sends nodemedic's deployed document, waits, and prints the findings with exit 1", async () => {
    ssm.on(ListDocumentsCommand).resolves({ DocumentIdentifiers: [{ Name: 'prod-nodemedic-Diagnose-7Q2' }] });
    nodeAnswers('fd-exhaustion');
    const { code, stdout, stderr } = await run('--instance', INSTANCE, '--region', 'eu-west-1');
    expect(code).toBe(1);
    expect(stdout).toContain('fd-exhaustion');
    expect(stderr).toContain(
      "through nodemedic's deployed document prod-nodemedic-Diagnose-7Q2 in eu-west-1",
    );
    expect(ssm).toHaveReceivedCommandWith(ListDocumentsCommand, {
      Filters: [
        { Key: 'Owner', Values: ['Self'] },
        { Key: 'tag:nodemedic:script', Values: ['diagnose'] },
      ],
    });
    expect(ssm).toHaveReceivedCommandWith(SendCommandCommand, {
      InstanceIds: [INSTANCE],
      DocumentName: 'prod-nodemedic-Diagnose-7Q2',
      Parameters: {},
    });
    expect(ssm).toHaveReceivedCommandTimes(GetCommandInvocationCommand, 2);
  });

  it('exits 0 on a healthy node, and prints the JSON report with --json', async () => {
    ssm.on(ListDocumentsCommand).resolves({ DocumentIdentifiers: [{ Name: 'nm-Diagnose' }] });
    nodeAnswers('healthy');
    const { code, stdout } = await run('--instance', INSTANCE, '--json', '--min-version', '1.6.0');
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as { healthy: boolean; findings: unknown[] };
    expect(report.healthy).toBe(true);
    expect(report.findings).toEqual([]);
  });

  it('sends the same script bytes through AWS-RunShellScript where no document is deployed, and says so', async () => {
    ssm.on(ListDocumentsCommand).resolves({ DocumentIdentifiers: [] });
    nodeAnswers('daemon-stopped');
    const { code, stdout, stderr } = await run('--instance', INSTANCE, '--profile', 'oncall');
    expect(code).toBe(1);
    expect(stdout).toContain('containerd-down');
    expect(stderr).toContain('through AWS-RunShellScript with the same script bytes');
    expect(stderr).toContain('is the stack deployed here?');
    expect(clients).toEqual([{ profile: 'oncall' }]);
    const input = ssm.commandCalls(SendCommandCommand)[0]!.args[0].input;
    expect(input.DocumentName).toBe('AWS-RunShellScript');
    expect((input.Parameters?.commands ?? []).join('\n')).toBe(scriptProgram('diagnose'));
    expect(input.Parameters?.executionTimeout).toEqual(['60']);
  });

  it('uses the document named with --document without listing', async () => {
    nodeAnswers('healthy');
    await run('--instance', INSTANCE, '--document', 'my-diagnose', '--min-version', '1.6.0');
    expect(ssm).toHaveReceivedCommandTimes(ListDocumentsCommand, 0);
    expect(ssm).toHaveReceivedCommandWith(SendCommandCommand, { DocumentName: 'my-diagnose' });
  });

  it('refuses two deployed documents and asks for --document, sending nothing', async () => {
    ssm
      .on(ListDocumentsCommand)
      .resolves({ DocumentIdentifiers: [{ Name: 'a-Diagnose' }, { Name: 'b-Diagnose' }] });
    const { code, stderr } = await run('--instance', INSTANCE);
    expect(code).toBe(2);
    expect(stderr).toContain('2 nodemedic diagnose documents in this region (a-Diagnose, b-Diagnose)');
    expect(ssm).toHaveReceivedCommandTimes(SendCommandCommand, 0);
  });

  it('names a node SSM cannot reach, with exit 2', async () => {
    ssm.on(ListDocumentsCommand).resolves({ DocumentIdentifiers: [{ Name: 'nm-Diagnose' }] });
    ssm
      .on(SendCommandCommand)
      .rejects(new InvalidInstanceId({ message: 'Instances not in a valid state', $metadata: {} }));
    const { code, stderr } = await run('--instance', INSTANCE);
    expect(code).toBe(2);
    expect(stderr).toContain('not managed by SSM or not online');
  });

  it('refuses a malformed instance id and local path flags before any AWS call', async () => {
    const bad = await run('--instance', 'i-$(reboot)');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('i-$(reboot)');
    const mixed = await run('--instance', INSTANCE, '--config', '/etc/x.toml');
    expect(mixed.code).toBe(2);
    expect(mixed.stderr).toContain('--config apply to a local run only');
    const orphan = await run('--region', 'eu-west-1');
    expect(orphan.code).toBe(2);
    expect(orphan.stderr).toContain('--region need --instance');
    expect(ssm.calls()).toHaveLength(0);
  });
});
