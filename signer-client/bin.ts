#!/usr/bin/env node
/**
 * The `quorum-signer` executable (dist/bin/quorum-signer.js): runs the command bundle beside it
 * (quorum-signer.cjs, signer-client/cli.ts bundled by test/build/build.ts) with the V8 code cache
 * the build made for it (quorum-signer.cjs.v8), so a keyholder's command does not parse the whole
 * bundle again each time it starts (about a fifth of `quorum-signer --help`'s CPU). V8 refuses a
 * cache that does not match the bundle's source or this Node's V8 and flags; the bundle is then
 * compiled from its source as usual, so a missing or stale cache only costs time.
 */
import fs from 'node:fs';
import Module, { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

const file = fileURLToPath(new URL('./quorum-signer.cjs', import.meta.url));
let cachedData: Buffer | undefined;
try {
  cachedData = fs.readFileSync(`${file}.v8`);
} catch {
  // no cache: compile from source
}
const script = new vm.Script(Module.wrap(fs.readFileSync(file, 'utf8')), { filename: file, cachedData });
const module = { exports: {} };
(script.runInThisContext() as (...args: unknown[]) => void).call(
  module.exports,
  module.exports,
  createRequire(file),
  module,
  file,
  path.dirname(file),
);
