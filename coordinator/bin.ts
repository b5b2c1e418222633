#!/usr/bin/env node
/**
 * The `quorum` executable (dist/bin/quorum.js). `quorum serve` loads nearly all of the code, so it
 * runs the whole command tree bundled as one script, quorum.cjs, from its code cache
 * (protocol/launch.ts). Every other command (verify in CI, the admin commands) loads a small part
 * of it, so it runs the ES-module bundle quorum-lazy.js, whose chunks are loaded as each command
 * needs them. Both are coordinator/cli.ts, bundled; a process runs one of them, never both.
 */
import { runBundle } from '../protocol/launch.js';

if (process.argv[2] === 'serve') runBundle(new URL('./quorum.cjs', import.meta.url));
else await import(new URL('./quorum-lazy.js', import.meta.url).href);
