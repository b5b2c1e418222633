/**
 * `npm run build:bin`: the commands the package's `bin` runs, bundled by esbuild into dist/bin
 * (dist/bin/quorum.js, dist/bin/quorum-signer.js, and the chunks they load lazily beside them), so
 * a process reads a few files instead of resolving some 300 modules. The native addons
 * (better-sqlite3, pkcs11js) stay in node_modules, loaded through `require`.
 *
 * Only files whose bytes changed are replaced (each through a rename) and files no longer built
 * are removed, so a test run using dist/bin while another run's global setup builds again never
 * finds a command or a chunk missing.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as esbuild from 'esbuild';
import { REPO } from '../paths.js';

const OUT = path.join(REPO, 'dist', 'bin');

const result = await esbuild.build({
  absWorkingDir: REPO,
  entryPoints: { quorum: 'coordinator/cli.ts', 'quorum-signer': 'signer-client/cli.ts' },
  bundle: true,
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['better-sqlite3', 'pkcs11js'],
  outdir: OUT,
  chunkNames: '[name]-[hash]',
  // CommonJS dependencies bundled into an ES module still call require
  banner: {
    js: "import { createRequire as __quorumRequire } from 'node:module'; const require = __quorumRequire(import.meta.url);",
  },
  write: false,
  logLevel: 'warning',
});

fs.mkdirSync(OUT, { recursive: true });
const built = new Set<string>();
for (const f of result.outputFiles) {
  built.add(f.path);
  const bytes = Buffer.from(f.contents);
  if (fs.existsSync(f.path) && fs.readFileSync(f.path).equals(bytes)) continue;
  const tmp = `${f.path}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, bytes, { mode: bytes.subarray(0, 2).toString() === '#!' ? 0o755 : 0o644 });
  fs.renameSync(tmp, f.path);
}
for (const name of fs.readdirSync(OUT)) {
  const p = path.join(OUT, name);
  if (!built.has(p)) fs.rmSync(p, { force: true });
}
