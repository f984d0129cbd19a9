/**
 * The exact program that runs on a node for each of nodemedic's scripts, shared by the local shell
 * runner (functions/adapters/local/shell-runner.ts) and the SSM documents (infra/documents.ts) so
 * both carry the same bytes.
 *
 * The fix scripts share their setup and helpers through one file, `fixes/_preamble.sh`. An SSM
 * document cannot source a file on the node, so a fix script names the preamble with a single
 * {@link PREAMBLE_INCLUDE} line and {@link fixProgram} puts the preamble's bytes in its place. Run
 * by hand on a checkout, the same line sources the file, so a script behaves the same either way.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** functions/scripts: diagnose.sh, fixes/<id>.sh and fixes/_preamble.sh. */
export const SCRIPTS_DIR = dirname(fileURLToPath(import.meta.url));

/** The shared fix setup, relative to the scripts directory. */
const PREAMBLE_PATH = join('fixes', '_preamble.sh');

/** The line of a fix script that {@link fixProgram} replaces with the preamble (a whole line, exactly). */
// biome-ignore lint/suspicious/noTemplateCurlyInString: a bash line, not a JS template
export const PREAMBLE_INCLUDE = 'source "$(dirname "${BASH_SOURCE[0]}")/_preamble.sh"';

/** Script ids are file names we build paths from: no separators, no dots, nothing a path could abuse. */
const SCRIPT_ID = /^[a-z0-9]+(-[a-z0-9]+)*$/;

/** The file holding a script: `diagnose.sh`, or `fixes/<id>.sh` for a remediation. */
export function scriptFile(id: string, scriptsDir: string = SCRIPTS_DIR): string {
  if (!SCRIPT_ID.test(id)) throw new Error(`nodemedic: "${id}" is not a script id`);
  return id === 'diagnose' ? join(scriptsDir, 'diagnose.sh') : join(scriptsDir, 'fixes', `${id}.sh`);
}

/** A file's text, failing with a message naming `what` and the missing path (never inventing content). */
function read(path: string, what: string): string {
  if (!existsSync(path)) throw new Error(`nodemedic: ${what} is missing: ${path}`);
  return readFileSync(path, 'utf8');
}

/**
 * The program a fix runs: `fixes/<id>.sh` with its {@link PREAMBLE_INCLUDE} line replaced by the
 * bytes of `fixes/_preamble.sh`. A script without that line runs as it is (it uses no helpers);
 * one that names the preamble twice, or names a preamble that is missing, fails here.
 */
export function fixProgram(id: string, scriptsDir: string = SCRIPTS_DIR): string {
  if (id === 'diagnose') throw new Error('nodemedic: diagnose is not a fix script');
  const file = scriptFile(id, scriptsDir);
  const script = read(file, `the script for "${id}"`);
  const lines = script.split('\n');
  const at = lines.indexOf(PREAMBLE_INCLUDE);
  if (at === -1) return script;
  if (lines.lastIndexOf(PREAMBLE_INCLUDE) !== at) {
    throw new Error(`nodemedic: ${file} includes the preamble more than once`);
  }
  const preamble = read(join(scriptsDir, PREAMBLE_PATH), `the preamble for "${id}"`);
  const before = lines.slice(0, at).map((line) => `${line}\n`);
  const after = lines.slice(at + 1).join('\n');
  // The preamble's last newline stands in for the one the replaced line had.
  return [...before, preamble.endsWith('\n') ? preamble : `${preamble}\n`, after].join('');
}

/** The program a script id runs: diagnose.sh as it is, or {@link fixProgram} for a remediation. */
export function scriptProgram(id: string, scriptsDir: string = SCRIPTS_DIR): string {
  return id === 'diagnose'
    ? read(scriptFile(id, scriptsDir), `the script for "${id}"`)
    : fixProgram(id, scriptsDir);
}
