/**
 * The command-line conventions both executables share: dispatch to a subcommand, `--help`,
 * and exit status 0 ok, 1 refused or failed (with `CODE: message` on stderr), 2 usage error or
 * unreadable input.
 */
import { QuorumError } from './errors.js';

export class UsageError extends Error {}

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

export const stdio: Io = { out: (s) => console.log(s), err: (s) => console.error(s) };

const USAGE_CODES = new Set(['USAGE', 'FILE_MISSING', 'FILE_UNREADABLE']);

export async function dispatch(argv: string[], commands: Record<string, (argv: string[]) => number | Promise<number>>, help: string, io: Io = stdio): Promise<number> {
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
      io.err(`${e.code}: ${e.message}`);
      return USAGE_CODES.has(e.code) ? 2 : 1;
    }
    throw e;
  }
}

/** Run a command-line program: set the exit code from `dispatch`, report crashes as such. */
export function main(argv: string[], commands: Parameters<typeof dispatch>[1], help: string): void {
  dispatch(argv, commands, help).then(
    (code) => (process.exitCode = code),
    (e) => {
      console.error(`internal error: ${(e as Error).stack ?? e}`);
      process.exitCode = 1;
    },
  );
}
