/** A CliIo that records what a command printed, for tests. */
import type { CliIo } from '../../functions/cli/io.js';

/** Captured output plus the io to pass to a command. */
export interface CapturedIo {
  readonly io: CliIo;
  readonly out: () => string;
  readonly err: () => string;
}

/** Fresh capture. */
export function captureIo(): CapturedIo {
  let out = '';
  let err = '';
  return {
    io: {
      stdout: (s) => {
        out += s;
      },
      stderr: (s) => {
        err += s;
      },
    },
    out: () => out,
    err: () => err,
  };
}
