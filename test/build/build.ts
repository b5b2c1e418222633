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
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
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
 * with V8's code cache for it (<name>.cjs.v8, not packed, made after a warm run: codeCache below),
 * run by protocol/launch.ts. Measured (docs/benchmarks.md): `quorum serve` start 0.45 s of CPU
 * against 0.62 s as chunks, `quorum-signer --help` 0.35-0.37 s against 0.40-0.44 s; `quorum verify`
 * as one cached script took 10-15% more than its chunks, so it keeps them. The warm-run cache took
 * `quorum serve` 0.81 times the CPU of the top-level one, `quorum-signer --help` 0.87.
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

/**
 * The JavaScript esbuild writes, with every character outside ASCII escaped. esbuild escapes them
 * in strings, regular expressions and names (its default `charset: 'ascii'`) but not in the comments
 * it keeps, and one such character makes V8 hold the whole source as a two-byte string (a 1.8 MB
 * bundle becomes 3.5 MB and is decoded from UTF-8 the slow way). In a comment the escape is only text.
 */
const ascii = (text: string) =>
  text.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

/**
 * Runs `node -e WARM FILE CACHE DONE ARGS...`: the CommonJS bundle FILE as protocol/launch.ts runs
 * it, with ARGS as its command line, and at exit writes V8's code cache for it to CACHE. Made after
 * a run, the cache holds every function that run compiled (the modules' initialisation, the
 * command's start), not only the top level, so a process started later compiles less. DONE ('-'
 * for none) is a file whose appearance ends the run (a server's server.json).
 */
/**
 * The warm runs' environment: without NODE_EXTRA_CA_CERTS, which Node 20 parses at every start
 * (50-70 ms) and which a command that talks to nobody does not need.
 */
const WARM_ENV = { ...process.env, NODE_EXTRA_CA_CERTS: undefined };

const WARM = `
const fs = require('node:fs'), Module = require('node:module'), path = require('node:path'), vm = require('node:vm');
const [file, cache, done, ...args] = process.argv.slice(1);
const script = new vm.Script(Module.wrap(fs.readFileSync(file, 'utf8')), { filename: file });
process.argv = [process.argv[0], file, ...args];
process.on('exit', () => fs.writeFileSync(cache, script.createCachedData()));
if (done !== '-') setInterval(() => fs.existsSync(done) && process.exit(0), 5);
const module = { exports: {} };
script.runInThisContext().call(module.exports, module.exports, Module.createRequire(file), module, file, path.dirname(file));
`;

/**
 * V8's code cache for the bundle at `script`, made by running it once as `args` (WARM); when that
 * run fails, the cache of its top level only (as before the warm run), with a warning.
 */
function codeCache(script: string, args: string[], done = '-'): Buffer {
  const cache = `${script}.${process.pid}.warm`;
  try {
    const r = spawnSync(process.execPath, ['-e', WARM, script, cache, done, ...args], {
      env: WARM_ENV,
      timeout: 60_000,
    });
    if (r.status === 0 && fs.existsSync(cache)) return fs.readFileSync(cache);
    console.warn(
      `build: the warm-up run of ${path.basename(script)} ${args.join(' ')} failed (${r.error ?? r.stderr}); ` +
        'its code cache holds the top level only',
    );
    return new vm.Script(Module.wrap(fs.readFileSync(script, 'utf8')), { filename: script }).createCachedData();
  } finally {
    fs.rmSync(cache, { force: true });
  }
}

const sources = [...launchers.outputFiles, ...lazy.outputFiles].map((f) => file(f.path, Buffer.from(ascii(f.text))));
// the script runs inside Module.wrap's function, where a #! line would be a syntax error
const bundles = scripts.outputFiles.map((f) => file(f.path, Buffer.from(ascii(f.text.replace(/^#!.*\n/, '')))));
const built = install([...sources, ...bundles]);
/** A coordinator data dir for `quorum serve`'s warm run (quorum init, through the bundles just installed). */
const warmDir = fs.mkdtempSync(path.join(os.tmpdir(), 'quorum-build-'));
try {
  const data = path.join(warmDir, 'data');
  const init = spawnSync(
    process.execPath,
    [path.join(BIN, 'quorum.js'), 'init', '--data-dir', data, '--dialect', 'tuf'],
    {
      env: WARM_ENV,
    },
  );
  const warmArgs: Record<string, [string[], string?]> = {
    quorum:
      init.status === 0
        ? [['serve', '--data-dir', data, '--port', '0'], path.join(data, 'server.json')]
        : [['serve', '--help']],
    'quorum-signer': [['--help']],
  };
  const caches = bundles.map((f) => {
    const [args, done] = warmArgs[path.basename(f.path, '.cjs')]!;
    return file(`${f.path}.v8`, codeCache(f.path, args, done));
  });
  prune(BIN, new Set([...built, ...install(caches)]));
} finally {
  fs.rmSync(warmDir, { recursive: true, force: true });
}

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
