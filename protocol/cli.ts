/**
 * The command-line conventions both executables share: dispatch to a subcommand, `--help`,
 * and exit status 0 ok, 1 refused or failed (with `CODE: message` on stderr), 2 usage error or
 * unreadable input.
 */
import { displayBlock, displayText } from './display.js';
import { QuorumError } from './errors.js';

export class UsageError extends Error {}

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

export const stdio: Io = { out: (s) => console.log(s), err: (s) => console.error(s) };

const USAGE_CODES = new Set(['USAGE', 'FILE_MISSING', 'FILE_UNREADABLE']);

/**
 * `oneLine`: error messages are shown on one line, newlines escaped too (the signer's: its error
 * messages can carry a coordinator's text, which must not add lines of its own).
 */
export async function dispatch(
  argv: string[],
  commands: Record<string, (argv: string[]) => number | Promise<number>>,
  help: string,
  io: Io = stdio,
  opts: { oneLine?: boolean } = {},
): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '-h' || cmd === '--help' || cmd === 'help') {
    io.out(help);
    return cmd === undefined ? 2 : 0;
  }
  const run = Object.hasOwn(commands, cmd) ? commands[cmd] : undefined;
  if (!run) {
    io.err(`USAGE: unknown command ${JSON.stringify(cmd)}\n\n${help}`);
    return 2;
  }
  try {
    return await run(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`USAGE: ${e.message}`);
      return 2;
    }
    if (e instanceof QuorumError) {
      // A code and message can come from elsewhere (a coordinator's `error`): shown escaped.
      const message = displayBlock(e.message);
      io.err(`${displayText(String(e.code))}: ${opts.oneLine ? message.replace(/\n/g, '\\n') : message}`);
      return USAGE_CODES.has(e.code) ? 2 : 1;
    }
    throw e;
  }
}

/** Run a command-line program: set the exit code from `dispatch`, report crashes as such. */
export function main(
  argv: string[],
  commands: Parameters<typeof dispatch>[1],
  help: string,
  opts: { oneLine?: boolean } = {},
): void {
  dispatch(argv, commands, help, stdio, opts).then(
    (code) => (process.exitCode = code),
    (e) => {
      console.error(`internal error: ${(e as Error).stack ?? e}`);
      process.exitCode = 1;
    },
  );
}
