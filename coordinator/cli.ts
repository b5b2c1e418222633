#!/usr/bin/env node
/**
 * `quorum`: the release coordinator's command line, the coordinator server, and `verify` for CI.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { main, stdio as io, UsageError } from '../protocol/cli.js';

// Each command's module is imported when that command runs: `quorum verify` in CI never loads the
// server, SQLite or the certificate code, and `--help` loads nothing but this file.
const admin = () => import('./admin-cli.js');

const HELP = `Usage: quorum <command> [options]

Release coordinator:
  init             create a coordinator data dir (import a repository, or start a new one)
  serve            run the coordinator server (npm start)
  keyholder        enroll, list or remove keyholders
  viewer           add, list or remove read-only status page credentials
  round            open, follow, cancel, export or complete a signing round
  rounds           list rounds
  status           released versions, open rounds, connected keyholders
  audit            verify or export the hash-chained audit log
  fleet-ca         create a fleet root CA (a certificate round), list CAs
  frost            create a FROST threshold group key for root or targets (a DKG ceremony), list groups
  cert             issue a certificate from a CSR, follow, fetch or cancel a certificate round
  certs            list certificate rounds
  export ota-tuf   write the latest release as the OTA Connect reposerver accepts it on upload

Automation:
  verify <dir>     verify a repository folder as a device would
  sample <dir>     write a small signed sample repository in both dialects

Run quorum <command> --help for the options of each command. Exit status: 0 ok, 1 failed, 2 usage.`;

async function sample(argv: string[]): Promise<number> {
  const help =
    'Usage: quorum sample <dir> [--dialect ota|tuf]\n\nWrite a sample repository (2-of-3 root with one ' +
    'rotation, 2-of-3 targets, snapshot, timestamp)\nto <dir>/ota and <dir>/tuf, or only the one dialect ' +
    'given. The private keys are discarded.';
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { dialect: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (e) {
    throw new UsageError(`${(e as Error).message}\n${help}`);
  }
  const { values, positionals } = parsed;
  if (values.help) return (io.out(help), 0);
  if (positionals.length !== 1 || (values.dialect && values.dialect !== 'ota' && values.dialect !== 'tuf')) {
    throw new UsageError(`expected one folder and an optional --dialect ota|tuf\n${help}`);
  }
  const { buildSample, writeRepository } = await import('./sample.js');
  for (const d of values.dialect ? [values.dialect as 'ota' | 'tuf'] : (['ota', 'tuf'] as const)) {
    const repo = await buildSample(d);
    const dir = path.join(positionals[0]!, d);
    writeRepository(dir, repo.files);
    io.out(`wrote ${d} sample repository to ${dir}: ${Object.keys(repo.files).sort().join(', ')}`);
  }
  return 0;
}

const COMMANDS: Record<string, (argv: string[]) => number | Promise<number>> = {
  verify: async (a) => (await import('./verify-command.js')).runVerify(a, io),
  sample,
  init: async (a) => (await admin()).cmdInit(a, io),
  serve: async (a) => (await admin()).cmdServe(a, io),
  keyholder: async (a) => (await admin()).cmdKeyholder(a, io),
  viewer: async (a) => (await admin()).cmdViewer(a, io),
  round: async (a) => (await admin()).cmdRound(a, io),
  rounds: async (a) => (await admin()).cmdRounds(a, io),
  status: async (a) => (await admin()).cmdStatus(a, io),
  audit: async (a) => (await admin()).cmdAudit(a, io),
  export: async (a) => (await admin()).cmdExport(a, io),
  'fleet-ca': async (a) => (await admin()).cmdFleetCa(a, io),
  frost: async (a) => (await admin()).cmdFrost(a, io),
  cert: async (a) => (await admin()).cmdCert(a, io),
  certs: async (a) => (await admin()).cmdCerts(a, io),
};

main(process.argv.slice(2), COMMANDS, HELP);
