/**
 * Passphrases and confirmations: from a file (--passphrase-file), an environment variable
 * (QUORUM_PASSPHRASE) for automation, or a prompt on the terminal with echo off.
 */
import readline from 'node:readline';
import { QuorumError } from '../protocol/errors.js';
import { readText } from '../protocol/files.js';

export const PASSPHRASE_ENV = 'QUORUM_PASSPHRASE';

export async function passphrase(opts: { file?: string; prompt: string; confirm?: boolean }): Promise<string> {
  if (opts.file) return readText(opts.file, '--passphrase-file').replace(/\r?\n$/, '');
  const env = process.env[PASSPHRASE_ENV];
  if (env !== undefined) return env;
  if (!process.stdin.isTTY)
    throw new QuorumError(
      'USAGE',
      `no passphrase: give --passphrase-file, set ${PASSPHRASE_ENV}, or run in a terminal`,
    );
  const first = await hidden(opts.prompt);
  if (opts.confirm && (await hidden('repeat passphrase: ')) !== first)
    throw new QuorumError('USAGE', 'the passphrases differ');
  return first;
}

/** Read a line from the terminal with echo off. */
export function hidden(prompt: string): Promise<string> {
  return new Promise((resolve) => {
    const rl = readline.createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    const out = rl as unknown as { _writeToOutput: (s: string) => void };
    process.stderr.write(prompt);
    out._writeToOutput = () => undefined; // echo off
    rl.question('', (answer) => {
      rl.close();
      process.stderr.write('\n');
      resolve(answer);
    });
  });
}

/** Ask a yes/no question on the terminal; false when there is no terminal. */
export async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  const a = await new Promise<string>((resolve) => rl.question(`${question} [y/N] `, resolve));
  rl.close();
  return /^y(es)?$/i.test(a.trim());
}
