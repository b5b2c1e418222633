#!/usr/bin/env node
/**
 * `quorum`: the release coordinator's command line, the coordinator server, and `verify` for CI.
 * Each command loads the modules it needs when it runs: `quorum verify` in CI never loads the
 * server, SQLite or the certificate code, and `--help` loads none of them.
 */
import { main } from '../protocol/cli.js';
import { QUORUM } from './commands.js';

main(QUORUM, 'quorum', process.argv.slice(2));
