/**
 * `nodemedic fix --instance … --remediation …` from a laptop: the real command, SSM answered by
 * aws-sdk-client-mock in the documented shapes (ListDocuments, SendCommand, GetCommandInvocation:
 * https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_ListDocuments.html,
 * …/API_SendCommand.html, …/API_GetCommandInvocation.html). The node's diagnoses are recordings of
 * the real script against a real containerd; the fix's last line is the JSON summary every fix
 * script prints.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  GetCommandInvocationCommand,
  type GetCommandInvocationCommandOutput,
  ListDocumentsCommand,
  type ListDocumentsCommandInput,
  SendCommandCommand,
  type SendCommandCommandInput,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { beforeEach, describe, expect, it } from 'vitest';
import { fixCommand } from '../../functions/cli/fix.js';
import { fixProgram } from '../../functions/scripts/program.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const recorded = (name: string) =>
  readFileSync(join(ROOT, 'test/fixtures/facts/recorded', `${name}.json`), 'utf8');
const INSTANCE = 'i-0abc123def4567890';
const ssm = mockClient(SSMClient);

/** What the node answers, in order, per script: the diagnosis twice, the fix once or twice. */
function node(answers: { deployed: boolean; diagnoses: string[]; fixes: { ok: boolean; detail: string }[] }) {
  ssm.on(ListDocumentsCommand).callsFake((input: ListDocumentsCommandInput) => {
    const script = input.Filters?.find((f) => f.Key === 'tag:nodemedic:script')?.Values?.[0];
    return { DocumentIdentifiers: answers.deployed ? [{ Name: `prod-nodemedic-${script}` }] : [] };
  });
  const outputs = new Map<string, GetCommandInvocationCommandOutput>();
  let n = 0;
  ssm.on(SendCommandCommand).callsFake((input: SendCommandCommandInput) => {
    n += 1;
    const commandId = `cmd-${n}`;
    const isDiagnose =
      input.DocumentName === 'prod-nodemedic-diagnose' ||
      (input.Parameters?.commands ?? []).join('\n').includes('nodemedic diagnose');
    const stdout = isDiagnose
      ? recorded(answers.diagnoses.shift() ?? 'healthy')
      : (() => {
          const fix = answers.fixes.shift() ?? { ok: false, detail: 'unexpected' };
          return `applying\n${JSON.stringify({ fix: 'raise-nofile', ok: fix.ok, changed: fix.ok, detail: fix.detail, backup: null })}\n`;
        })();
    outputs.set(commandId, {
      Status: 'Success',
      StatusDetails: 'Success',
      ResponseCode: 0,
      StandardOutputContent: stdout,
      StandardErrorContent: '',
      $metadata: {},
    });
    return { Command: { CommandId: commandId } };
  });
  ssm
    .on(GetCommandInvocationCommand)
    .callsFake((input: { CommandId: string }) => outputs.get(input.CommandId));
}

async function run(args: string[], confirm: boolean | 'unused' = 'unused') {
  let stdout = '';
  let stderr = '';
  const asked: string[] = [];
  const code = await fixCommand(
    [...args],
    { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) },
    {
      ssm: (config) => new SSMClient({ region: 'eu-west-1', ...config }),
      sleep: async () => {},
      confirm: async (question) => {
        asked.push(question);
        if (confirm === 'unused') throw new Error('the command asked although it should not have');
        return confirm;
      },
    },
  );
  return { code, stdout, stderr, asked };
}

const sent = () =>
  ssm.commandCalls(SendCommandCommand).map((c) => {
    const input = c.args[0].input;
    return input.DocumentName === 'AWS-RunShellScript' ? 'inline' : String(input.DocumentName);
  });

beforeEach(() => ssm.reset());

describe('nodemedic fix --instance', () => {
  it('rechecks, shows the plan, asks, fixes, verifies: exit 0 when the node recovered', async () => {
    node({
      deployed: true,
      diagnoses: ['fd-exhaustion', 'healthy'],
      fixes: [{ ok: true, detail: 'LimitNOFILE raised from 19 to 20000' }],
    });
    const r = await run(
      ['--instance', INSTANCE, '--remediation', 'raise-nofile', '--min-version', '1.6.0'],
      true,
    );
    expect(r.code).toBe(0);
    expect(r.asked).toEqual([`Apply raise-nofile to ${INSTANCE}? [y/N] `]);
    expect(r.stdout).toContain('Authorization: your AWS credentials (IAM). There is no Slack approval here');
    expect(r.stdout).toContain('Plan: Raise containerd open-file limit (raise-nofile, tier disruptive)');
    expect(r.stdout).toContain('fix: success: LimitNOFILE raised from 19 to 20000');
    expect(r.stdout).toContain('verify: recovered');
    expect(sent()).toEqual([
      'prod-nodemedic-diagnose',
      'prod-nodemedic-raise-nofile',
      'prod-nodemedic-diagnose',
    ]);
  });

  it('runs nothing when the cause the fix is for no longer holds', async () => {
    node({ deployed: true, diagnoses: ['healthy'], fixes: [] });
    const r = await run(['--instance', INSTANCE, '--remediation', 'raise-nofile', '--min-version', '1.6.0']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('raise-nofile is for fd-exhaustion; none of them holds');
    expect(sent()).toEqual(['prod-nodemedic-diagnose']);
  });

  it('applies nothing when the person answers no', async () => {
    node({ deployed: true, diagnoses: ['fd-exhaustion'], fixes: [] });
    const r = await run(['--instance', INSTANCE, '--remediation', 'raise-nofile'], false);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('Not applied.');
    expect(sent()).toEqual(['prod-nodemedic-diagnose']);
  });

  it('rolls back through the same script and exits 1 when verification fails (--yes asks nothing)', async () => {
    node({
      deployed: false,
      diagnoses: ['fd-exhaustion', 'fd-exhaustion'],
      fixes: [
        { ok: true, detail: 'LimitNOFILE raised' },
        { ok: true, detail: 'previous drop-in restored' },
      ],
    });
    const r = await run(['--instance', INSTANCE, '--remediation', 'raise-nofile', '--yes']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('verify: not recovered');
    expect(r.stdout).toContain('rollback: success: previous drop-in restored');
    expect(r.stdout).toContain('did not recover: a person needs to look at it');
    expect(r.stderr).toContain('through AWS-RunShellScript with the same script bytes');
    expect(sent()).toEqual(['inline', 'inline', 'inline', 'inline']);
    // The rollback is the fix's own bytes with its validated mode exported after the shebang.
    const rollback = ssm.commandCalls(SendCommandCommand)[3]!.args[0].input.Parameters!.commands!;
    const program = fixProgram('raise-nofile').split('\n');
    expect(rollback[0]).toBe(program[0]);
    expect(rollback[1]).toBe("export NODEMEDIC_MODE='rollback'");
    expect(rollback.slice(2)).toEqual(program.slice(1));
  });

  it.each([
    [['--instance', INSTANCE, '--remediation', 'fix-config-manually'], 'shown to a person and never run'],
    [['--instance', INSTANCE, '--remediation', 'reboot-instance'], 'aws ec2 reboot-instances --instance-ids'],
    [['--instance', INSTANCE, '--remediation', 'rm-rf'], 'unknown remediation "rm-rf"'],
    [['--instance', 'i-$(id)', '--remediation', 'raise-nofile'], 'i-$(id)'],
    [['--remediation', 'raise-nofile'], '--instance and --remediation are required'],
  ])('%j → exit 2, nothing sent', async (args, message) => {
    const r = await run(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(ssm.calls()).toHaveLength(0);
  });
});
