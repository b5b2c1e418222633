#!/usr/bin/env node
/**
 * The `quorum-signer` executable (dist/bin/quorum-signer.js): runs the command bundle beside it,
 * quorum-signer.cjs (signer-client/cli.ts bundled), from its code cache (protocol/launch.ts). Nearly
 * every keyholder command needs most of the bundle, so one cached script starts faster than lazily
 * loaded ES-module chunks.
 */
import { runBundle } from '../protocol/launch.js';

runBundle(new URL('./quorum-signer.cjs', import.meta.url));
