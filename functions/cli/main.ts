#!/usr/bin/env node
/**
 * nodemedic's command line (`npm run -s nodemedic -- <command>`): dispatches to one command module
 * and turns its result into the process exit code. Commands never call process.exit themselves.
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { diagnoseCommand } from './diagnose.js';
import { fixCommand } from './fix.js';
import { type CliIo, EXIT, processIo } from './io.js';
import { parseAlarmCommand } from './parse-alarm.js';
import { reportCommand } from './report.js';

/** Top-level `--help`. */
const USAGE = `Usage: nodemedic <command> [options]

Commands:
  diagnose      diagnose containerd on this machine, or on a node through SSM (see diagnose --help)
  fix           apply one fix to a node through SSM, with recheck and verification (see fix --help)
  parse-alarm   print what nodemedic reads from an EventBridge alarm event FILE (see parse-alarm --help)
  report        print an incident's postmortem timeline as Markdown (see report --help)

Exit codes: 0 healthy/done, 1 findings, 2 usage or internal error.
`;

/** A command module's entry point. */
type Command = (args: string[], io: CliIo) => Promise<number>;

const COMMANDS: Record<string, Command> = {
  diagnose: diagnoseCommand,
  fix: fixCommand,
  'parse-alarm': parseAlarmCommand,
  report: reportCommand,
};

/** Run the CLI with `argv` (without node and the script path); resolves with the exit code. */
export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    (command === undefined ? io.stderr : io.stdout)(USAGE);
    return command === undefined ? EXIT.error : EXIT.ok;
  }
  const run = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (!run) {
    io.stderr(
      `nodemedic: unknown command ${JSON.stringify(command)} (commands: ${Object.keys(COMMANDS).join(', ')})\n`,
    );
    return EXIT.error;
  }
  return run(rest, io);
}

// Run when executed directly (`tsx functions/cli/main.ts ...`, or the package's `nodemedic` bin,
// which npm links: the link is resolved), not when imported by tests.
if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}
