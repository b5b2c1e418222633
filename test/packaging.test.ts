/**
 * What `npm publish` would ship: only the built commands (dist/bin: each command bundled with its
 * dependencies by esbuild, so that it starts without resolving hundreds of module files), their
 * protocol library, the status page, the docs, the README and the licence (package.json `files`),
 * never tests, benchmarks, the demo, sources, source maps or the V8 code caches the build makes for
 * `quorum serve` and `quorum-signer` (compiled code, valid only for the Node that made it: the
 * installed command compiles its bundle, as the test below runs it). The packed tarball, unpacked into an
 * empty folder's node_modules beside links to its declared `dependencies` only (no registry: tests
 * stay on loopback), runs `quorum --help`, `quorum-signer --help`, `quorum sample` and `quorum
 * verify` (on the samples and a fixture), through its `bin` entries.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, REPO } from './paths.js';

const ALLOWED =
  /^(dist\/bin\/[\w-]+\.c?js|dist\/(protocol|coordinator|signer-client)\/.+\.js|dist\/web\/(app\.(js|css)|index\.html)|docs\/.+\.(md|png)|README\.md|LICENSE|package\.json)$/;

let tmp: string;
let tarball: string;
let files: string[];

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'quorum-pack-'));
  // dist/ was built by the global setup; --ignore-scripts keeps `prepare` from building again.
  const out = execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', tmp], {
    cwd: REPO,
    encoding: 'utf8',
  });
  const [info] = JSON.parse(out) as { filename: string; files: { path: string }[] }[];
  tarball = path.join(tmp, info!.filename);
  files = info!.files.map((f) => f.path).sort();
}, 120_000);

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('the published package', () => {
  it('holds only the built commands, the protocol library, the status page, docs, README and LICENSE', () => {
    expect(files.filter((f) => !ALLOWED.test(f))).toEqual([]);
    for (const f of [
      'dist/bin/quorum.js',
      'dist/bin/quorum-signer.js',
      'dist/bin/quorum-signer.cjs',
      'dist/bin/quorum.cjs',
      'dist/bin/quorum-lazy.js',
      'dist/protocol/verify.js',
      'dist/web/index.html',
      'dist/web/app.js',
      'dist/web/app.css',
      'README.md',
      'LICENSE',
      'package.json',
    ]) {
      expect(files).toContain(f);
    }
    expect(files.some((f) => f.startsWith('dist/test/'))).toBe(false);
  });

  it('installed into an empty folder, its commands run', () => {
    const app = path.join(tmp, 'app');
    const pkgDir = path.join(app, 'node_modules', 'uptane-quorum');
    fs.mkdirSync(pkgDir, { recursive: true });
    execFileSync('tar', ['xzf', tarball, '-C', pkgDir, '--strip-components=1']);
    const pkg = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as {
      bin: Record<string, string>;
      dependencies: Record<string, string>;
    };
    for (const dep of Object.keys(pkg.dependencies)) {
      fs.mkdirSync(path.dirname(path.join(app, 'node_modules', dep)), { recursive: true });
      fs.symlinkSync(path.join(REPO, 'node_modules', dep), path.join(app, 'node_modules', dep));
    }
    const bin = (name: string, ...args: string[]) =>
      spawnSync(process.execPath, [path.join(pkgDir, pkg.bin[name]!), ...args], {
        cwd: app,
        encoding: 'utf8',
        timeout: 60_000,
      });
    const q = bin('quorum', '--help');
    expect(q.status, q.stderr).toBe(0);
    expect(q.stdout).toContain('Usage: quorum <command>');
    const s = bin('quorum-signer', '--help');
    expect(s.status, s.stderr).toBe(0);
    expect(s.stdout).toContain('Usage: quorum-signer');
    const sample = bin('quorum', 'sample', path.join(tmp, 'sample'));
    expect(sample.status, sample.stderr).toBe(0);
    for (const d of ['ota', 'tuf']) {
      const v = bin('quorum', 'verify', path.join(tmp, 'sample', d));
      expect(v.status, v.stderr).toBe(0);
      expect(v.stdout).toContain('OK: verified');
    }
    const fixture = bin(
      'quorum',
      'verify',
      path.join(FIXTURES, 'aktualizr/rsassa-pss-sha256'),
      '--at',
      '2020-01-01T00:00:00Z',
    );
    expect(fixture.status, fixture.stderr).toBe(0);
  }, 180_000);
});
