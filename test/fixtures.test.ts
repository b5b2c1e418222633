/**
 * `quorum verify` and `quorum sample` against the real-world fixtures in test/fixtures, with the
 * outcomes test/fixtures/PROVENANCE.md gives, and the `quorum verify` contract CI scripts rely on:
 * exit 0/1/2, `CODE: file: message` on stderr, `--json`, `--root`, `--at`. The verdicts run in this
 * process through the command tree (the command's code, exit status and output); the tests marked
 * "as a process" run the built CLI (`node dist/bin/quorum.js`, the package's `quorum`) for an exit
 * 0, 1 and 2 and the stdout/stderr split a CI script sees.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quorumHere } from './integration/harness.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const FIXTURES = path.join(repoRoot, 'test/fixtures');
const CLI = path.join(repoRoot, 'dist/bin/quorum.js');
const SOURCE_DIRS = ['protocol', 'coordinator', 'signer-client'];

const fx = (...p: string[]) => path.join(FIXTURES, ...p);

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** `quorum ARGS` as a child process of the built CLI: for the exit status and output a CI script sees. */
function quorumProcess(...args: string[]): Run {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * `quorum ARGS` run in this process through the command tree (quorumHere): the same code, exit
 * status and output as the command (rounds.test.ts compares the two byte for byte), without a
 * process start-up per verdict. The tests marked "as a process" run the built CLI (quorumProcess).
 */
async function quorum(...args: string[]): Promise<Run> {
  const r = await quorumHere(args);
  return { status: r.code, stdout: r.stdout, stderr: r.stderr };
}

interface Line {
  code: string;
  file: string;
  message: string;
}

/** Error lines on stderr (`CODE: file: message`); warnings start with `warning: `. */
function errorLines(stderr: string): Line[] {
  const out: Line[] = [];
  for (const l of stderr.split('\n')) {
    const m = /^([A-Z][A-Z0-9_]+): (.+?): (.*)$/.exec(l);
    if (m) out.push({ code: m[1]!, file: m[2]!, message: m[3]! });
  }
  return out;
}

function warningCodes(stderr: string): string[] {
  return stderr
    .split('\n')
    .map((l) => /^warning: ([A-Z][A-Z0-9_]+): /.exec(l)?.[1])
    .filter((c): c is string => !!c);
}

const errorCodes = (stderr: string) => [...new Set(errorLines(stderr).map((l) => l.code))].sort();
const errorsAt = (stderr: string) =>
  errorLines(stderr)
    .map((l) => `${l.code} @ ${l.file}`)
    .sort();

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, fs.statSync(p).mtimeMs);
  }
  return newest;
}

const tmpDirs: string[] = [];
function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'quorum-fixtures-'));
  tmpDirs.push(d);
  return d;
}

beforeAll(() => {
  const sources = Math.max(
    ...SOURCE_DIRS.filter((d) => fs.existsSync(path.join(repoRoot, d))).map((d) => newestMtime(path.join(repoRoot, d))),
  );
  const built = fs.existsSync(CLI) ? fs.statSync(CLI).mtimeMs : 0;
  if (built < sources) {
    try {
      execFileSync('npm', ['run', 'build'], { cwd: repoRoot, stdio: 'pipe', timeout: 120_000 });
    } catch (e) {
      const err = e as { stdout?: Buffer; stderr?: Buffer };
      throw new Error(`npm run build failed:\n${err.stdout?.toString() ?? ''}${err.stderr?.toString() ?? ''}`, {
        cause: e,
      });
    }
  }
  expect(fs.existsSync(CLI)).toBe(true);
}, 180_000);

afterAll(() => {
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

/** aktualizr/sample1 without timestamp.json, whose hashes aktualizr would not accept (PROVENANCE.md). */
function sample1WithoutTimestamp(): string {
  const d = tmpDir();
  for (const f of ['root.json', 'snapshot.json', 'targets.json'])
    fs.copyFileSync(fx('aktualizr/sample1', f), path.join(d, f));
  return d;
}

describe('fixtures (PROVENANCE.md)', () => {
  it('every fixture folder is covered by this file', () => {
    const folders: string[] = [];
    for (const top of fs.readdirSync(FIXTURES, { withFileTypes: true })) {
      if (!top.isDirectory()) continue;
      for (const sub of fs.readdirSync(fx(top.name), { withFileTypes: true })) {
        folders.push(sub.isDirectory() ? `${top.name}/${sub.name}` : top.name);
      }
    }
    expect([...new Set(folders)].sort()).toEqual([
      'aktualizr/rsassa-pss-sha256',
      'aktualizr/sample1',
      'frost',
      'garage-sign/credentials-ed25519',
      'ota-tuf-server/repo',
      'test-keys',
    ]);
  });

  describe(
    'aktualizr/sample1: root, snapshot and targets verify before 2038-01-19; timestamp names the pretty-printed ' +
      'snapshot',
    () => {
      it.each(['2020-01-01T00:00:00Z', '2038-01-19T03:14:06Z'])(
        'without timestamp.json, at %s: exit 0 (aktualizr: expired only after the instant)',
        async (at) => {
          const r = await quorum('verify', sample1WithoutTimestamp(), '--at', at);
          expect(errorLines(r.stderr)).toEqual([]);
          expect(r.status).toBe(0);
          expect(r.stdout).toContain('OK: verified');
          expect(r.stdout).toContain('dialect ota');
          // snapshot lists 1.root.json and root.json: no client checks those entries.
          expect(warningCodes(r.stderr).filter((c) => c === 'SNAPSHOT_LISTS_ROOT')).toHaveLength(2);
        },
      );

      it('and now (no --at): exit 0 (as a process)', () => {
        const r = quorumProcess('verify', sample1WithoutTimestamp());
        expect(errorLines(r.stderr)).toEqual([]);
        expect(r.status).toBe(0);
      });

      it(
        "the whole set: META_HASH_MISMATCH on timestamp.json, whose hashes are of snapshot.json's bytes where " +
          'aktualizr hashes its canonical form',
        async () => {
          const r = await quorum('verify', fx('aktualizr/sample1'), '--at', '2030-01-01T00:00:00Z');
          expect(r.status).toBe(1);
          expect(errorsAt(r.stderr)).toEqual([
            'META_HASH_MISMATCH @ timestamp.json',
            'META_HASH_MISMATCH @ timestamp.json',
          ]);
          expect(r.stderr).toContain('the canonical form of snapshot.json, which aktualizr hashes');
        },
      );

      it('one second after its expiry instant 2038-01-19T03:14:06Z every role is expired: exit 1', async () => {
        const r = await quorum('verify', sample1WithoutTimestamp(), '--at', '2038-01-19T03:14:07Z');
        expect(r.status).toBe(1);
        expect(errorsAt(r.stderr)).toEqual([
          'ROOT_EXPIRED @ root.json',
          'SNAPSHOT_EXPIRED @ snapshot.json',
          'TARGETS_EXPIRED @ targets.json',
        ]);
      });

      it('--json: every role was checked, one key each', async () => {
        const r = await quorum('verify', fx('aktualizr/sample1'), '--at', '2030-01-01T00:00:00Z', '--json');
        expect(r.status).toBe(1);
        const report = JSON.parse(r.stdout) as {
          ok: boolean;
          dialect: string;
          errors: { code: string; file: string }[];
          roles: Record<string, { version: number; signedBy: string[] }>;
          rootChain: { version: number }[];
        };
        expect(report.ok).toBe(false);
        expect(report.dialect).toBe('ota');
        expect(report.errors.map((e) => `${e.code} @ ${e.file}`)).toEqual([
          'META_HASH_MISMATCH @ timestamp.json',
          'META_HASH_MISMATCH @ timestamp.json',
        ]);
        expect(report.rootChain.map((s) => s.version)).toEqual([1]);
        expect(Object.keys(report.roles).sort()).toEqual(['snapshot', 'targets', 'timestamp']);
        expect(report.roles.targets!.signedBy).toEqual([
          '81fb31257466d68af9c63d0cc1b649b9420362601df991fbf4d81f08003d2628',
        ]);
        expect(report.roles.snapshot!.signedBy).toEqual([
          '03720d5870f7042f550e111f17b16495517c864af38971ab8457a885b87790a5',
        ]);
        expect(report.roles.timestamp!.signedBy).toEqual([
          'd8e595778195f325821386fc772ee4aa358c18ad30650f122fd7eb0d81821196',
        ]);
      });
    },
  );

  describe('aktualizr/rsassa-pss-sha256: the self-signed RSA root verifies before 2038-01-06', () => {
    it('at 2030-01-01: exit 0', async () => {
      const r = await quorum('verify', fx('aktualizr/rsassa-pss-sha256'), '--at', '2030-01-01T00:00:00Z');
      expect(errorLines(r.stderr)).toEqual([]);
      expect(r.status).toBe(0);
      expect(warningCodes(r.stderr).sort()).toEqual(['FILE_MISSING', 'TRUST_ON_FIRST_USE']);
    });

    it('after 2038-01-06T20:01:05Z: ROOT_EXPIRED', async () => {
      const r = await quorum('verify', fx('aktualizr/rsassa-pss-sha256'), '--at', '2038-01-07T00:00:00Z');
      expect(r.status).toBe(1);
      expect(errorsAt(r.stderr)).toEqual(['ROOT_EXPIRED @ root.json']);
    });
  });

  describe('ota-tuf-server/repo', () => {
    it('root.json + targets.json alone verify at 2018-05-01T00:00:00Z', async () => {
      const dir = tmpDir();
      for (const f of ['root.json', 'targets.json']) fs.copyFileSync(fx('ota-tuf-server/repo', f), path.join(dir, f));
      const r = await quorum('verify', dir, '--at', '2018-05-01T00:00:00Z');
      expect(errorLines(r.stderr)).toEqual([]);
      expect(r.status).toBe(0);
      expect(r.stdout).toContain('19 targets');
    });

    it('the whole set fails with META_VERSION_MISMATCH (snapshot names targets v20, timestamp names snapshot v20)', async () => {
      const r = await quorum('verify', fx('ota-tuf-server/repo'), '--at', '2018-05-01T00:00:00Z');
      expect(r.status).toBe(1);
      const lines = errorLines(r.stderr);
      expect(
        lines
          .filter((l) => l.code === 'META_VERSION_MISMATCH')
          .map((l) => l.file)
          .sort(),
      ).toEqual(['snapshot.json', 'timestamp.json']);
      // Every file's signature is valid: only the cross-file consistency fails (the named lengths
      // and hashes are those of the older versions, so they differ too).
      expect(errorCodes(r.stderr)).toEqual(['META_HASH_MISMATCH', 'META_LENGTH_MISMATCH', 'META_VERSION_MISMATCH']);
    });

    it('after the files expired (2018-05-11T22:09:52Z) the pair is TARGETS_EXPIRED', async () => {
      const dir = tmpDir();
      for (const f of ['root.json', 'targets.json']) fs.copyFileSync(fx('ota-tuf-server/repo', f), path.join(dir, f));
      const r = await quorum('verify', dir, '--at', '2018-06-01T00:00:00Z');
      expect(r.status).toBe(1);
      expect(errorsAt(r.stderr)).toEqual(['TARGETS_EXPIRED @ targets.json']);
    });
  });

  describe('garage-sign/credentials-ed25519', () => {
    it(
      'root.json is rejected: SIGNATURE_INVALID (hence THRESHOLD_UNMET); the key id missing from keys is a ' +
        'warning (clients skip it)',
      async () => {
        // Before the root's expiry (2019-01-17T13:48:18Z), so expiry plays no part.
        const r = await quorum('verify', fx('garage-sign/credentials-ed25519'), '--at', '2018-06-01T00:00:00Z');
        expect(r.status).toBe(1);
        expect(errorCodes(r.stderr)).toEqual(['SIGNATURE_INVALID', 'THRESHOLD_UNMET']);
        for (const l of errorLines(r.stderr)) expect(l.file).toBe('root.json');
        expect(warningCodes(r.stderr)).toContain('ROLE_KEY_MISSING');
        expect(r.stderr).toMatch(/^warning: ROLE_KEY_MISSING: root\.json: .*339d91c25c0b/m);
      },
    );

    it('--json has the same codes', async () => {
      const r = await quorum('verify', fx('garage-sign/credentials-ed25519'), '--at', '2018-06-01T00:00:00Z', '--json');
      expect(r.status).toBe(1);
      const report = JSON.parse(r.stdout) as { ok: boolean; errors: { code: string }[] };
      expect(report.ok).toBe(false);
      expect([...new Set(report.errors.map((e) => e.code))].sort()).toEqual(['SIGNATURE_INVALID', 'THRESHOLD_UNMET']);
    });
  });

  it('frost/ is a test vector, not a repository: verify refuses it with exit 2 (no root)', async () => {
    const r = await quorum('verify', fx('frost'));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^FILE_MISSING: /m);
  });
  it('test-keys/ holds distinct RSA private keys of the sizes their names give, nothing else', () => {
    const files = fs.readdirSync(fx('test-keys')).sort();
    expect(files).toEqual(['rsa-2048-a.pem', 'rsa-2048-b.pem', 'rsa-2048-c.pem', 'rsa-3072.pem', 'rsa-4096.pem']);
    const moduli = files.map((f) => {
      const k = crypto.createPrivateKey(fs.readFileSync(fx('test-keys', f)));
      expect(k.asymmetricKeyType, f).toBe('rsa');
      expect(String(k.asymmetricKeyDetails?.modulusLength), f).toBe(/^rsa-(\d+)/.exec(f)![1]);
      return crypto.createPublicKey(k).export({ format: 'der', type: 'spki' }).toString('hex');
    });
    expect(new Set(moduli).size).toBe(files.length);
  });
});

describe('quorum verify: command-line contract', () => {
  it('no folder: exit 2, USAGE (as a process)', () => {
    const r = quorumProcess('verify');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^USAGE: /);
  });

  it('two folders: exit 2, USAGE', async () => {
    const r = await quorum('verify', fx('aktualizr/sample1'), fx('aktualizr/sample1'));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^USAGE: /);
  });

  it('bad --dialect: exit 2, USAGE', async () => {
    const r = await quorum('verify', fx('aktualizr/sample1'), '--dialect', 'uptane');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^USAGE: .*--dialect/);
  });

  it.each(['yesterday', '2018-05-01', '2018-05-01T00:00:00', '2018-13-01T00:00:00Z', ''])(
    'bad --at %j: exit 2, USAGE',
    async (at) => {
      const r = await quorum('verify', fx('aktualizr/sample1'), '--at', at);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/^USAGE: .*--at/);
    },
  );

  it('bad --warn-days and unknown options: exit 2, USAGE', async () => {
    expect((await quorum('verify', fx('aktualizr/sample1'), '--warn-days', '-3')).status).toBe(2);
    const r = await quorum('verify', fx('aktualizr/sample1'), '--frobnicate');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^USAGE: /);
  });

  it('unknown command: exit 2', async () => {
    const r = await quorum('verfiy', fx('aktualizr/sample1'));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^USAGE: /);
  });

  it('--help: exit 0 with the usage on stdout', async () => {
    const r = await quorum('verify', '--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Usage: quorum verify <dir>');
  });

  it('a folder that does not exist: exit 2, FILE_MISSING', async () => {
    const r = await quorum('verify', path.join(tmpDir(), 'no-such-folder'));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^FILE_MISSING: /);
  });

  it('a path that is a file, not a folder: exit 2, FILE_UNREADABLE', async () => {
    const r = await quorum('verify', fx('aktualizr/sample1/root.json'));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^FILE_UNREADABLE: /);
  });

  it('an empty folder: exit 2, FILE_MISSING', async () => {
    const r = await quorum('verify', tmpDir());
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^FILE_MISSING: /);
  });

  it('a missing --root file: exit 2, FILE_MISSING', async () => {
    const r = await quorum('verify', fx('aktualizr/sample1'), '--root', path.join(tmpDir(), 'nope.json'));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^FILE_MISSING: /);
  });

  it('a file that is not JSON: exit 1 with JSON_INVALID on that file', async () => {
    const dir = tmpDir();
    fs.copyFileSync(fx('aktualizr/sample1/root.json'), path.join(dir, 'root.json'));
    fs.writeFileSync(path.join(dir, 'targets.json'), '{"signed": ');
    const r = await quorum('verify', dir, '--at', '2030-01-01T00:00:00Z');
    expect(r.status).toBe(1);
    expect(errorsAt(r.stderr)).toEqual(['JSON_INVALID @ targets.json']);
  });

  it('--json prints a parseable report whose errors match the `CODE: file: message` lines on stderr (as a process)', () => {
    const args = ['verify', fx('ota-tuf-server/repo'), '--at', '2018-05-01T00:00:00Z'];
    const human = quorumProcess(...args);
    const json = quorumProcess(...args, '--json');
    expect(json.status).toBe(1);
    const report = JSON.parse(json.stdout) as {
      ok: boolean;
      at: string;
      errors: { code: string; file: string; message: string; severity: string }[];
      warnings: { code: string }[];
    };
    expect(report.ok).toBe(false);
    expect(report.at).toBe('2018-05-01T00:00:00.000Z');
    expect(report.errors.length).toBeGreaterThan(0);
    for (const e of report.errors) expect(e.severity).toBe('error');
    expect(report.errors.map((e) => e.code)).toContain('META_VERSION_MISMATCH');
    // Every error appears on stderr as CODE: file: message, in both output modes.
    const expected = report.errors.map((e) => `${e.code}: ${e.file}: ${e.message}`);
    for (const run of [human, json]) {
      const lines = run.stderr.split('\n').filter((l) => /^[A-Z]/.test(l));
      expect(lines).toEqual(expected);
    }
    expect(report.warnings.map((w) => w.code)).toContain('TRUST_ON_FIRST_USE');
    // Human output goes to stdout and is not JSON.
    expect(human.stdout).toMatch(/^Verifying /);
    expect(human.stdout).toContain('FAILED: ');
  });

  it('a TOFU run warns TRUST_ON_FIRST_USE; pinning the root with --root does not', async () => {
    const tofu = await quorum('verify', sample1WithoutTimestamp(), '--at', '2030-01-01T00:00:00Z', '--json');
    expect(tofu.status).toBe(0);
    expect(warningCodes(tofu.stderr)).toContain('TRUST_ON_FIRST_USE');
    expect((JSON.parse(tofu.stdout) as { trustedRoot: { tofu: boolean } }).trustedRoot.tofu).toBe(true);

    const pinned = await quorum(
      'verify',
      sample1WithoutTimestamp(),
      '--root',
      fx('aktualizr/sample1/root.json'),
      '--at',
      '2030-01-01T00:00:00Z',
      '--json',
    );
    expect(pinned.status).toBe(0);
    expect(warningCodes(pinned.stderr)).not.toContain('TRUST_ON_FIRST_USE');
    const report = JSON.parse(pinned.stdout) as {
      ok: boolean;
      trustedRoot: { file: string; version: number; tofu: boolean };
    };
    expect(report.ok).toBe(true);
    expect(report.trustedRoot).toEqual({ file: 'root.json (trusted)', version: 1, tofu: false });
  });

  it('--root pinning a root from another repository rejects the chain', async () => {
    // The garage-sign root is a different, unverifiable root: the pinned anchor itself fails.
    const r = await quorum(
      'verify',
      fx('aktualizr/sample1'),
      '--root',
      fx('garage-sign/credentials-ed25519/root.json'),
      '--at',
      '2018-06-01T00:00:00Z',
    );
    expect(r.status).toBe(1);
    expect(errorCodes(r.stderr)).toEqual(['SIGNATURE_INVALID', 'THRESHOLD_UNMET']);
    expect(errorLines(r.stderr).every((l) => l.file === 'root.json (trusted)')).toBe(true);
  });

  it('--dialect tuf on an ota repository: DIALECT_MISMATCH, exit 1', async () => {
    const r = await quorum('verify', fx('aktualizr/sample1'), '--dialect', 'tuf', '--at', '2030-01-01T00:00:00Z');
    expect(r.status).toBe(1);
    expect(errorCodes(r.stderr)).toEqual(['DIALECT_MISMATCH']);
  });
});

describe('quorum sample, then quorum verify', () => {
  let dir = '';
  beforeAll(async () => {
    dir = tmpDir();
    const r = await quorum('sample', dir);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  }, 120_000);

  it.each(['ota', 'tuf'])('%s: the sample verifies (exit 0), root chain 1 -> 2', async (d) => {
    const sub = path.join(dir, d);
    expect(fs.readdirSync(sub).sort()).toEqual([
      '1.root.json',
      '2.root.json',
      'root.json',
      'snapshot.json',
      'targets.json',
      'timestamp.json',
    ]);
    const r = await quorum('verify', sub, '--json');
    expect(errorLines(r.stderr)).toEqual([]);
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout) as {
      ok: boolean;
      dialect: string;
      rootChain: { version: number }[];
      warnings: { code: string }[];
    };
    expect(report.ok).toBe(true);
    expect(report.dialect).toBe(d);
    expect(report.rootChain.map((s) => s.version)).toEqual([1, 2]);
    expect(report.warnings.map((w) => w.code)).toEqual(['TRUST_ON_FIRST_USE']);
    expect((await quorum('verify', sub, '--dialect', d)).status).toBe(0);
  });

  it("pinning the sample's 1.root.json (--root) verifies both dialects without a TOFU warning", async () => {
    for (const d of ['ota', 'tuf']) {
      const sub = path.join(dir, d);
      const r = await quorum('verify', sub, '--root', path.join(sub, '1.root.json'));
      expect(r.status).toBe(0);
      expect(warningCodes(r.stderr)).toEqual([]);
    }
  });

  it("pinning the other sample's 1.root.json breaks the chain at 2.root.json: ROOT_OLD_THRESHOLD_UNMET", async () => {
    const other = tmpDir();
    expect((await quorum('sample', other, '--dialect', 'ota')).status).toBe(0);
    const r = await quorum('verify', path.join(dir, 'ota'), '--root', path.join(other, 'ota', '1.root.json'));
    expect(r.status).toBe(1);
    const lines = errorLines(r.stderr);
    expect(lines.map((l) => l.code)).toContain('ROOT_OLD_THRESHOLD_UNMET');
    expect(lines.find((l) => l.code === 'ROOT_OLD_THRESHOLD_UNMET')!.file).toBe('2.root.json');
  });

  it('a tampered sample fails: one byte of targets.json changed', async () => {
    const copy = tmpDir();
    for (const f of fs.readdirSync(path.join(dir, 'tuf')))
      fs.copyFileSync(path.join(dir, 'tuf', f), path.join(copy, f));
    const t = fs.readFileSync(path.join(copy, 'targets.json'), 'utf8');
    fs.writeFileSync(path.join(copy, 'targets.json'), t.replace('"length": 15', '"length": 16'));
    const r = await quorum('verify', copy);
    expect(r.status).toBe(1);
    expect(errorCodes(r.stderr)).toEqual(['META_HASH_MISMATCH', 'SIGNATURE_INVALID', 'THRESHOLD_UNMET']);
  });
});
