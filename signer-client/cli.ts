#!/usr/bin/env node
/**
 * `quorum-signer`: the keyholder's command line. Signing rounds arrive with the coordinator
 * (issue 3); until then it only reports its version.
 */
const HELP = `Usage: quorum-signer <command> [options]

The keyholder's client. Its commands (keygen, review, sign, watch) arrive with signing rounds.`;

const [cmd] = process.argv.slice(2);
if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
  console.log(HELP);
} else {
  console.error(`USAGE: unknown command ${JSON.stringify(cmd)}\n${HELP}`);
  process.exitCode = 2;
}
