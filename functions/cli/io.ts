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
