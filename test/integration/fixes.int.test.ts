/**
 * What every fix script must be, read from the files and the SSM documents (strict mode, its own
 * id, the preamble included once and never copied), and the parameters the local runner refuses
 * before anything runs. The fixes themselves run on lab nodes under real systemd, on containerd
 * 1.6, 1.7 and 2.x: test/lab/fixes.ts.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ShellCommandRunner } from '../../functions/adapters/local/shell-runner.js';
import { InvalidInputError } from '../../functions/core/errors.js';
import { REMEDIATION_LIST } from '../../functions/core/remediations/index.js';
import { fixProgram, PREAMBLE_INCLUDE, SCRIPTS_DIR } from '../../functions/scripts/program.js';
import { commandDocumentContent, exportPrelude, readScript } from '../../infra/documents.js';
import { FIX_NODE, HOSTILE_PARAMETERS } from '../support/fixes.js';

const FIXES_DIR = join(SCRIPTS_DIR, 'fixes');
/** The remediations that are scripts on the node (the others are EC2/ASG calls or a person's job). */
const NODE_FIXES = REMEDIATION_LIST.filter((r) => r.runsOn === 'node');

describe('every fix script', () => {
  const text = (name: string) => readFileSync(join(FIXES_DIR, name), 'utf8');
  const preamble = text('_preamble.sh');
  /** The preamble's code lines long enough to be its own (short ones like `}` are everywhere). */
  const preambleCode = preamble
    .split('\n')
    .filter((line) => line.trim().length >= 20 && !line.trimStart().startsWith('#'));

  it('exists for each remediation that runs on the node, and only for those, next to the one preamble', () => {
    expect(readdirSync(FIXES_DIR).sort()).toEqual(
      ['_preamble.sh', ...NODE_FIXES.map((r) => `${r.id}.sh`)].sort(),
    );
    expect(preambleCode.length).toBeGreaterThan(15);
  });

  it.each(NODE_FIXES.map((r) => r.id))(
    '%s is strict, names itself, includes the preamble once and carries no copy of it',
    (id) => {
      const script = text(`${id}.sh`);
      const lines = script.split('\n');
      expect(spawnSync('bash', ['-n', join(FIXES_DIR, `${id}.sh`)]).status).toBe(0);
      expect(lines.filter((line) => line === PREAMBLE_INCLUDE)).toHaveLength(1);
      const include = lines.indexOf(PREAMBLE_INCLUDE);
      expect(lines.indexOf('set -Eeuo pipefail')).toBeGreaterThan(-1);
      expect(lines.indexOf('set -Eeuo pipefail')).toBeLessThan(include);
      expect(lines.indexOf(`FIX=${id}`)).toBeGreaterThan(-1);
      expect(lines.indexOf(`FIX=${id}`)).toBeLessThan(include);
      expect(preambleCode.filter((line) => lines.includes(line))).toEqual([]);
    },
  );

  it.each(NODE_FIXES.map((r) => [r.id, r] as const))(
    '%s: the runner executes the script with the preamble in place of its include, exactly what the SSM document carries',
    (id, r) => {
      const program = new ShellCommandRunner().program(id);
      expect(program).toBe(text(`${id}.sh`).replace(`${PREAMBLE_INCLUDE}\n`, () => preamble));
      expect(program).toBe(fixProgram(id));
      expect(spawnSync('bash', ['-n', '-c', program]).status).toBe(0);
      const document = commandDocumentContent(r, readScript(SCRIPTS_DIR, id)) as {
        mainSteps: { inputs: { runCommand: string[] } }[];
      };
      const runCommand = document.mainSteps[0]?.inputs.runCommand ?? [];
      const prelude = exportPrelude(r.parameters);
      expect(runCommand.slice(0, prelude.length)).toEqual(prelude);
      expect(runCommand.slice(prelude.length).join('\n')).toBe(program);
    },
  );
});

describe('input the runner refuses', () => {
  it.each(HOSTILE_PARAMETERS)(
    'the runner refuses %s %s=%j before anything runs',
    async (script, name, value) => {
      const runner = new ShellCommandRunner();
      await expect(
        runner.send({
          node: FIX_NODE,
          script,
          parameters: { [name]: value },
          timeoutSeconds: 30,
          comment: 'x',
        }),
      ).rejects.toThrow(InvalidInputError);
    },
  );
});
