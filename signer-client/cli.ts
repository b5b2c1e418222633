#!/usr/bin/env node
/**
 * `quorum-signer`: the keyholder's command line. Keys stay on this machine; the coordinator gets
 * signatures only, and only over payloads this client has checked against its own pinned roots.
 */
import { main } from '../protocol/cli.js';
import { QUORUM_SIGNER } from './commands.js';

// error messages can carry a coordinator's text: one line each
main(QUORUM_SIGNER, 'quorum-signer', process.argv.slice(2), { oneLine: true });
