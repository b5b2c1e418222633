#!/usr/bin/env node
/**
 * `quorum`: the release coordinator's command line, the coordinator server, and `verify` for CI.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { buildSample, writeRepository } from './sample.js';
import { runVerify } from './verify-command.js';

const HELP = `Usage: quorum <command> [options]

Commands:
  verify <dir>     verify a repository folder as a device would (see quorum verify --help)
  sample <dir>     write a small signed sample repository in both dialects (<dir>/ota, <dir>/tuf)

Run quorum <command> --help for the options of each command.`;

const io = { out: (s: string) => console.log(s), err: (s: string) => console.error(s) };

async function sample(argv: string[]): Promise<number> {
  const help = 'Usage: quorum sample <dir> [--dialect ota|tuf]\n\nWrite a sample repository (2-of-3 root with one rotation, 2-of-3 targets, snapshot, timestamp)\nto <dir>/ota and <dir>/tuf, or only the one dialect given. The private keys are discarded.';
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { dialect: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) return io.out(help), 0;
  if (positionals.length !== 1 || (values.dialect && values.dialect !== 'ota' && values.dialect !== 'tuf')) {
    io.err(`USAGE: expected one folder and an optional --dialect ota|tuf\n${help}`);
    return 2;
  }
  for (const d of values.dialect ? [values.dialect as 'ota' | 'tuf'] : (['ota', 'tuf'] as const)) {
    const repo = await buildSample(d);
    const dir = path.join(positionals[0]!, d);
    writeRepository(dir, repo.files);
    io.out(`wrote ${d} sample repository to ${dir}: ${Object.keys(repo.files).sort().join(', ')}`);
  }
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'verify':
      return runVerify(rest, io);
    case 'sample':
      return sample(rest);
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      io.out(HELP);
      return cmd === undefined ? 2 : 0;
    default:
      io.err(`USAGE: unknown command ${JSON.stringify(cmd)}\n${HELP}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (e) => {
    console.error(`internal error: ${(e as Error).stack ?? e}`);
    process.exitCode = 2;
  },
);
