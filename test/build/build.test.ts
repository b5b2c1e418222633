/**
 * What test/build/build.ts promises about the command bundles it writes to dist/bin (built by the
 * global setup), which only start-up time would otherwise show: every file is ASCII (protocol/launch.ts
 * reads the bundles as latin1; one non-ASCII byte makes V8 keep a 1.4-1.8 MB bundle as two-byte
 * text), and each CommonJS bundle's code cache is one this Node accepts and was made after a warm
 * run (it holds more than the top level a cache made before running holds: a failed warm run falls
 * back to that, with only a warning).
 */
import { isAscii } from 'node:buffer';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from '../paths.js';

const BIN = path.join(REPO, 'dist', 'bin');

/** In a fresh Node (a vitest worker's flags are not a command's): is the cache taken, its size against a cold one. */
const PROBE = `
const fs = require('node:fs'), Module = require('node:module'), vm = require('node:vm');
const file = process.argv[1];
const source = Module.wrap(fs.readFileSync(file, 'latin1'));
const warm = fs.readFileSync(file + '.v8');
const script = new vm.Script(source, { filename: file, cachedData: warm });
const cold = new vm.Script(source, { filename: file + '.cold' }).createCachedData();
process.stdout.write(JSON.stringify({ rejected: script.cachedDataRejected, warm: warm.length, cold: cold.length }));
`;

describe('the command bundles in dist/bin', () => {
  it('are ASCII, every file', () => {
    const files = fs.readdirSync(BIN).filter((f) => /\.c?js$/.test(f));
    expect(files).toContain('quorum.cjs');
    expect(files.filter((f) => !isAscii(fs.readFileSync(path.join(BIN, f))))).toEqual([]);
  });

  it.each(['quorum.cjs', 'quorum-signer.cjs'])(
    '%s: its code cache is accepted and was made after a warm run',
    (name) => {
      const env = { ...process.env, NODE_EXTRA_CA_CERTS: undefined, NODE_OPTIONS: undefined };
      const r = spawnSync(process.execPath, ['-e', PROBE, path.join(BIN, name)], { env, encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      const probe = JSON.parse(r.stdout) as { rejected: boolean; warm: number; cold: number };
      expect(probe.rejected).toBe(false);
      // measured: quorum 811 KB against 370 KB, quorum-signer 597 KB against 446 KB
      expect(probe.warm).toBeGreaterThan(probe.cold * 1.2);
    },
  );
});
