/**
 * `npm run build`: everything in dist/, made by esbuild (tsc only type-checks: `npm run typecheck`).
 *
 * - dist/protocol, dist/coordinator, dist/signer-client and the test tools the benchmarks, the demo
 *   and the reference generator run (TOOLS): each TypeScript file transpiled to one JavaScript file
 *   with its source map, the module tree as written. tsconfig.json's `isolatedModules` keeps every
 *   file transpilable on its own.
 * - dist/bin: the commands the package's `bin` runs, bundled (quorum.js, quorum-signer.js, and the
 *   chunks they load lazily beside them), so a process reads a few files instead of resolving some
 *   300 modules. The native addons (better-sqlite3, pkcs11js) stay in node_modules, loaded through
 *   `require`.
 * - dist/web: the status page, bundled for the browser, and its index.html.
 *
 * Only files whose bytes changed are replaced (each through a rename), and files no longer built
 * are removed from dist/bin and dist/web, so a test run using dist/ while another run's global
 * setup builds again never finds a command, a chunk or a module missing or half written.
 *
 * Run as `esbuild test/build/build.ts --bundle ... --outfile=dist/build.js && node dist/build.js`
 * (package.json), so this file is TypeScript like the rest and needs no earlier build.
 */
import fs from 'node:fs';
import path from 'node:path';
import Module from 'node:module';
import vm from 'node:vm';
import * as esbuild from 'esbuild';
import { REPO } from '../paths.js';

const DIST = path.join(REPO, 'dist');
/** The source trees transpiled whole. */
const TREES = ['protocol', 'coordinator', 'signer-client', 'test/bench'];
/** Single test files the benchmarks, demo and reference generator run or import. */
const TOOLS = [
  'test/demo/demo.ts',
  'test/reference/generate.ts',
  'test/paths.ts',
  'test/integration/harness.ts',
  'test/integration/browser.ts',
  'test/interop/helpers.ts',
];

const LAUNCHERS = [path.join('coordinator', 'bin.ts'), path.join('signer-client', 'bin.ts')];

function tsFiles(dir: string): string[] {
  return fs
    .readdirSync(path.join(REPO, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') && !e.name.endsWith('.d.ts'))
    .map((e) => path.relative(REPO, path.join(e.parentPath, e.name)));
}

/** Writes each output whose bytes differ from the file there, through a rename; returns the paths written or kept. */
function install(files: esbuild.OutputFile[]): Set<string> {
  const built = new Set<string>();
  for (const f of files) {
    built.add(f.path);
    const bytes = Buffer.from(f.contents);
    if (fs.existsSync(f.path) && fs.readFileSync(f.path).equals(bytes)) continue;
    fs.mkdirSync(path.dirname(f.path), { recursive: true });
    const tmp = `${f.path}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, bytes, { mode: bytes.subarray(0, 2).toString() === '#!' ? 0o755 : 0o644 });
    fs.renameSync(tmp, f.path);
  }
  return built;
}

/** Removes from `dir` what this build did not make (a chunk of an older build). */
function prune(dir: string, built: Set<string>): void {
  for (const name of fs.readdirSync(dir)) {
    const p = path.join(dir, name);
    if (!built.has(p) && fs.statSync(p).isFile()) fs.rmSync(p, { force: true });
  }
}

/**
 * Every relative import of a transpiled module names a module this build wrote: a tool importing a
 * test file not listed in TOOLS fails the build here, not when a benchmark runs.
 */
function checkImports(files: esbuild.OutputFile[]): void {
  const written = new Set(files.map((f) => f.path));
  for (const f of files) {
    if (!f.path.endsWith('.js')) continue;
    for (const m of f.text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)["'](\.{1,2}\/[^"']+)["']/g)) {
      const target = path.resolve(path.dirname(f.path), m[1]!);
      if (!written.has(target))
        throw new Error(
          `${path.relative(REPO, f.path)} imports ${m[1]}, which the build does not make: add it to TOOLS`,
        );
    }
  }
}

/** What every build below shares: Node 20, outputs kept in memory for install(). */
const NODE = {
  absWorkingDir: REPO,
  platform: 'node',
  target: 'node20',
  write: false,
  logLevel: 'warning',
} as const satisfies esbuild.BuildOptions;
/** A bundle of our commands: the native addons stay in node_modules, loaded through `require`. */
const COMMANDS = {
  ...NODE,
  bundle: true,
  external: ['better-sqlite3', 'pkcs11js'],
} as const satisfies esbuild.BuildOptions;

const modules = await esbuild.build({
  ...NODE,
  // the executables' launchers are built into dist/bin below
  entryPoints: [...TREES.flatMap(tsFiles).filter((f) => !LAUNCHERS.includes(f)), ...TOOLS],
  format: 'esm',
  outdir: DIST,
  outbase: REPO,
  sourcemap: true,
});
checkImports(modules.outputFiles);
install(modules.outputFiles);

const BIN = path.join(DIST, 'bin');
/** The executables: launchers (coordinator/bin.ts, signer-client/bin.ts) for the bundles below. */
const launchers = await esbuild.build({
  ...NODE,
  entryPoints: { quorum: 'coordinator/bin.ts', 'quorum-signer': 'signer-client/bin.ts' },
  bundle: true,
  format: 'esm',
  outdir: BIN,
});

/** `quorum` but serve: ES modules, whose chunks each command loads as it needs them. */
const lazy = await esbuild.build({
  ...COMMANDS,
  entryPoints: { 'quorum-lazy': 'coordinator/cli.ts' },
  splitting: true,
  format: 'esm',
  outdir: BIN,
  chunkNames: '[name]-[hash]',
  // CommonJS dependencies bundled into an ES module still call require
  banner: {
    js: "import { createRequire as __quorumRequire } from 'node:module'; const require = __quorumRequire(import.meta.url);",
  },
});

/**
 * `quorum serve` (quorum.cjs) and `quorum-signer` (quorum-signer.cjs): each one CommonJS script
 * with V8's code cache for it (<name>.cjs.v8, not packed), run by protocol/launch.ts. Measured
 * (docs/benchmarks.md): `quorum serve` start 0.45 s of CPU against 0.62 s as chunks, `quorum-signer
 * --help` 0.35-0.37 s against 0.40-0.44 s; `quorum verify` as one cached script took 10-15% more
 * than its chunks, so it keeps them.
 */
const scripts = await esbuild.build({
  ...COMMANDS,
  entryPoints: { quorum: 'coordinator/cli.ts', 'quorum-signer': 'signer-client/cli.ts' },
  format: 'cjs',
  outExtension: { '.js': '.cjs' },
  outdir: BIN,
  define: { 'import.meta.url': '__quorumModuleUrl' },
  banner: { js: "const __quorumModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
});
const file = (p: string, contents: Uint8Array) => ({ path: p, contents, hash: '', text: '' });
prune(
  BIN,
  install([
    ...launchers.outputFiles,
    ...lazy.outputFiles,
    ...scripts.outputFiles.flatMap((f) => {
      // the script runs inside Module.wrap's function, where a #! line would be a syntax error
      const source = f.text.replace(/^#!.*\n/, '');
      const cache = new vm.Script(Module.wrap(source), { filename: f.path }).createCachedData();
      return [file(f.path, Buffer.from(source)), file(`${f.path}.v8`, cache)];
    }),
  ]),
);

const web = await esbuild.build({
  ...NODE,
  entryPoints: ['web/app.ts', 'web/app.css'],
  bundle: true,
  platform: 'browser',
  format: 'esm',
  target: 'es2022',
  minify: true,
  outdir: path.join(DIST, 'web'),
});
const index = path.join(DIST, 'web', 'index.html');
const page = install([...web.outputFiles, file(index, fs.readFileSync(path.join(REPO, 'web', 'index.html')))]);
prune(path.join(DIST, 'web'), page);
