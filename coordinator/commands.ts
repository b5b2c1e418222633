/**
 * The `quorum` command tree: every command and subcommand with its own options and --help
 * (protocol/cli.ts runs it). docs/reference/cli.md is generated from it.
 */
import { group } from '../protocol/cli.js';
import {
  audit,
  cert,
  certs,
  exportCommand,
  expiry,
  fleetCa,
  frost,
  init,
  keyholder,
  notify,
  publish,
  round,
  roundsList,
  sample,
  serve,
  status,
  viewer,
} from './admin-cli.js';
import { verify } from './verify-command.js';

export const QUORUM = group({
  summary: 'the release coordinator, its server, and verify for CI',
  footer: 'Run quorum <command> --help for the options of each command. Exit status: 0 ok, 1 failed, 2 usage.',
  commands: {
    init,
    serve,
    keyholder,
    viewer,
    round,
    rounds: roundsList,
    status,
    expiry,
    publish,
    notify,
    audit,
    'fleet-ca': fleetCa,
    frost,
    cert,
    certs,
    export: exportCommand,
    verify,
    sample,
  },
});
