/**
 * Where a CLI command writes. Commands take it as a parameter so tests capture the output
 * without spawning a process, and `main.ts` binds it to the real streams.
 */
export interface CliIo {
  /** Normal output (the report, the parsed alarm). */
  stdout(s: string): void;
  /** Errors and usage messages. */
  stderr(s: string): void;
}

/** The process's own streams. */
export const processIo: CliIo = {
  stdout: (s) => {
    process.stdout.write(s);
  },
  stderr: (s) => {
    process.stderr.write(s);
  },
};

/** Exit codes every command shares (design.md). */
export const EXIT = {
  /** Healthy / done. */
  ok: 0,
  /** Findings were raised. */
  findings: 1,
  /** Usage or internal error. */
  error: 2,
} as const;

/**
 * A command's arguments, parsed by its own `parse` (node:util parseArgs). On a usage error it
 * writes the error and on --help the usage text, and returns the exit code to end with instead.
 */
export function parseCommandLine<T extends { values: { help?: boolean | undefined } }>(
  command: string,
  usage: string,
  parse: (args: string[]) => T,
  args: string[],
  io: CliIo,
): T | number {
  let parsed: T;
  try {
    parsed = parse(args);
  } catch (err) {
    io.stderr(`nodemedic ${command}: ${(err as Error).message} (see --help)\n`);
    return EXIT.error;
  }
  if (parsed.values.help) {
    io.stdout(usage);
    return EXIT.ok;
  }
  return parsed;
}
