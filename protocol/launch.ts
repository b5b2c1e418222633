/**
 * How the executables start (dist/bin/quorum.js and quorum-signer.js, built by test/build/build.ts):
 * a command bundle that is one CommonJS script runs with the V8 code cache the build made for it
 * (`<bundle>.v8`), so a process does not parse the whole bundle again each time it starts. Node 20
 * keeps no compile cache of its own (and none for ES modules). V8 refuses a cache that does not
 * match the script's source or this Node's V8 and flags; the script is then compiled from its
 * source as usual, so a missing or stale cache only costs time.
 */
import { isAscii } from 'node:buffer';
import fs from 'node:fs';
import Module, { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

/** Runs the CommonJS bundle at `url` as `require` would, compiled from its code cache when V8 takes it. */
export function runBundle(url: URL): void {
  const file = fileURLToPath(url);
  let cachedData: Buffer | undefined;
  try {
    cachedData = fs.readFileSync(`${file}.v8`);
  } catch {
    // no cache: compile from source
  }
  // the build writes the bundles in ASCII (test/build/build.ts), which read as latin1 are the same
  // string; Node 20 decodes UTF-8 about 20 times slower (7 ms for quorum-signer.cjs, 1.4 MB)
  const bytes = fs.readFileSync(file);
  const source = isAscii(bytes) ? bytes.toString('latin1') : bytes.toString('utf8');
  const script = new vm.Script(Module.wrap(source), { filename: file, cachedData });
  const module = { exports: {} };
  (script.runInThisContext() as (...args: unknown[]) => void).call(
    module.exports,
    module.exports,
    createRequire(file),
    module,
    file,
    path.dirname(file),
  );
}
