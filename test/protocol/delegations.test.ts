/**
 * Delegated targets roles: the pattern and hash-bin rules held against the clients' own code
 * (Python's fnmatch and glibc's fnmatch run by python3, tuf-js's DelegatedRole and SuccinctRoles),
 * and verifyRepository over repositories with delegations, each attack a repository a client
 * would refuse or resolve otherwise: a role signed by keys it was not delegated, a snapshot
 * naming another version, a file swapped after snapshot, targets outside a role's paths, a
 * terminating role, a role name that climbs out of the folder, a delegation cycle.
 */
import { execFileSync } from 'node:child_process';
import { DelegatedRole, SuccinctRoles } from '@tufjs/models/dist/role.js';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Dialect } from '../../protocol/canonical.js';
import {
  binName,
  binOf,
  globRegExp,
  pathMatches,
  readDelegations,
  type SuccinctRoles as Succinct,
} from '../../protocol/delegations.js';
import { verifyRepository, type RepositoryInput, type VerifyReport } from '../../protocol/verify.js';
import {
  buildDelegatedRepo,
  delegations,
  hashPrefix,
  testKey,
  type RepoSpec,
  type TestKey,
} from '../delegated-repo.js';

const NOW = new Date();

function inputOf(files: Record<string, Buffer>): RepositoryInput {
  const f = (name: string) => (files[name] ? { name, bytes: files[name] } : undefined);
  const roots = new Map([[1, f('1.root.json')!]]);
  return {
    trustedRoot: { name: '1.root.json (trusted)', bytes: files['1.root.json']! },
    roots,
    root: f('root.json'),
    targets: f('targets.json'),
    snapshot: f('snapshot.json'),
    timestamp: f('timestamp.json'),
    readFile: f,
  };
}

function verify(files: Record<string, Buffer>, target?: string): VerifyReport {
  return verifyRepository(inputOf(files), { at: NOW, ...(target !== undefined ? { target } : {}) });
}

const codes = (r: VerifyReport) => r.errors.map((e) => e.code);
const warnings = (r: VerifyReport) => r.warnings.map((e) => e.code);

// --- patterns and bins, against the clients' code ---------------------------------------------

const ALPHABET = ['a', 'b', '.', '-', '/', '*', '?', '[', ']', '!', '^', '\\', 'z', 'é', '😀'];
function randomText(rand: () => number, max: number, alphabet = ALPHABET): string {
  let s = '';
  const n = Math.floor(rand() * max);
  for (let i = 0; i < n; i++) s += alphabet[Math.floor(rand() * alphabet.length)];
  return s;
}
function rng(seed: number): () => number {
  let x = seed;
  return () => ((x = (x * 1103515245 + 12345) % 2 ** 31), x / 2 ** 31);
}

describe('path patterns match as the clients match them', () => {
  it("python-tuf's per-segment fnmatch and aktualizr's glibc fnmatch(pattern, path, 0), 3000 random cases each", () => {
    const rand = rng(7);
    const cases: [string, string][] = [
      ['firmware/*', 'firmware/a.bin'],
      ['firmware/*', 'firmware/sub/a.bin'],
      ['*.bin', 'dir/a.bin'],
      ['[!a]*', 'b'],
      ['[^a]*', '^'],
      ['[]a]', ']'],
      ['[z-a]', 'm'],
      ['[a-', 'a-'],
      ['a\\*', 'a*'],
      ['a\\*', 'a\\b'],
      ['*', '.hidden'],
      ['?', '😀'],
    ];
    for (let i = 0; i < 3000; i++)
      cases.push([
        randomText(rand, 8),
        randomText(rand, 8, ['a', 'b', '.', '/', 'z', '*', '[', ']', '\\', '-', '!', '^', 'é']),
      ]);
    const script = `
import sys, json, fnmatch, ctypes
libc = ctypes.CDLL('libc.so.6')
cases = json.loads(sys.stdin.read())
out = []
for p, t in cases:
    ps, ts = p.split('/'), t.split('/')
    py = len(ps) == len(ts) and all(fnmatch.fnmatchcase(a, b) for a, b in zip(ts, ps))
    gl = libc.fnmatch(p.encode(), t.encode(), 0) == 0
    out.append([py, gl])
print(json.dumps(out))`;
    const ref = JSON.parse(
      execFileSync('python3', ['-c', script], {
        input: JSON.stringify(cases),
        env: { ...process.env, LC_ALL: 'C.UTF-8' },
      }).toString(),
    ) as [boolean, boolean][];
    const wrong: string[] = [];
    cases.forEach(([p, t], i) => {
      const [py, gl] = ref[i]!;
      if (pathMatches(p, t, 'tuf') !== py) wrong.push(`tuf ${JSON.stringify(p)} ${JSON.stringify(t)} python=${py}`);
      // glibc reads bytes in a C.UTF-8 locale; the cases with non-ASCII inside brackets are compared too.
      if (pathMatches(p, t, 'ota') !== gl) wrong.push(`ota ${JSON.stringify(p)} ${JSON.stringify(t)} glibc=${gl}`);
    });
    expect(wrong.slice(0, 10)).toEqual([]);
  });

  it('agrees with tuf-js (minimatch per segment) on patterns it does not warn about, for paths without dot or empty segments', () => {
    const rand = rng(11);
    let compared = 0;
    for (let i = 0; i < 3000; i++) {
      const pattern = randomText(rand, 7, ['a', 'b', '/', '*', '?', '[', ']', '-', 'z']);
      const target = randomText(rand, 7, ['a', 'b', '/', 'z', '-']);
      const read = readDelegations(
        { keys: {}, roles: [{ name: 'r', keyids: [], threshold: 1, terminating: false, paths: [pattern] }] },
        'tuf',
      );
      // minimatch's `*` matches neither a leading dot nor an empty segment; fnmatch's matches both.
      if (read.warnings.length || target.split('/').some((s) => s.startsWith('.') || s === '')) continue;
      const role = new DelegatedRole({ name: 'r', keyIDs: [], threshold: 1, terminating: false, paths: [pattern] });
      expect([pattern, target, pathMatches(pattern, target, 'tuf')]).toEqual([
        pattern,
        target,
        role.isDelegatedPath(target),
      ]);
      compared++;
    }
    expect(compared).toBeGreaterThan(1000);
  });

  it('warns where python-tuf and tuf-js read a pattern differently', () => {
    for (const p of ['fw/{a,b}.bin', '!fw', '#x', 'fw/@(a)', 'a\\*', '[^a]'])
      expect(
        readDelegations(
          { keys: {}, roles: [{ name: 'r', keyids: [], threshold: 1, terminating: false, paths: [p] }] },
          'tuf',
        ).warnings,
      ).toHaveLength(1);
  });

  it('caches nothing that leaks between the dialects', () => {
    expect(globRegExp('a\\*', true).test('a*')).toBe(true);
    expect(globRegExp('a\\*', false).test('a\\b')).toBe(true);
  });
});

describe('hash bins and hash prefixes, as tuf-js computes them', () => {
  it('the bin of 2000 paths for 1, 4, 10 and 16 bits equals SuccinctRoles.getRoleForTarget', () => {
    const rand = rng(3);
    for (const bits of [1, 4, 10, 16]) {
      const theirs = new SuccinctRoles({ keyIDs: [], threshold: 1, bitLength: bits, namePrefix: 'bin' });
      const ours: Succinct = { keyids: [], threshold: 1, bitLength: bits, namePrefix: 'bin' };
      for (let i = 0; i < 2000; i++) {
        const p = randomText(rand, 20);
        expect(binName(ours, binOf(ours, p))).toBe(theirs.getRoleForTarget(p));
      }
    }
  });

  it('path_hash_prefixes equal DelegatedRole.isDelegatedPath', () => {
    const rand = rng(5);
    for (let i = 0; i < 500; i++) {
      const p = randomText(rand, 12);
      const prefixes = [hashPrefix(p, 1 + (i % 3)), 'ff0'];
      const theirs = new DelegatedRole({
        name: 'h',
        keyIDs: [],
        threshold: 1,
        terminating: false,
        pathHashPrefixes: prefixes,
      });
      const read = readDelegations(
        {
          keys: {},
          roles: [{ name: 'h', keyids: [], threshold: 1, terminating: false, path_hash_prefixes: prefixes }],
        },
        'tuf',
      );
      const other = randomText(rand, 12);
      for (const t of [p, other]) {
        const ours = read.delegations!.roles![0]!;
        const h = hashPrefix(t, 64);
        expect(prefixes.some((x) => h.startsWith(x))).toBe(theirs.isDelegatedPath(t));
        expect(ours.pathHashPrefixes).toEqual(prefixes);
      }
    }
  });
});

describe('delegations objects clients refuse', () => {
  const role = { name: 'r', keyids: ['k'], threshold: 1, terminating: false, paths: ['*'] };
  it.each([
    [
      'both roles and succinct_roles',
      'tuf',
      { keys: {}, roles: [], succinct_roles: { keyids: [], threshold: 1, bit_length: 2, name_prefix: 'b' } },
    ],
    ['neither', 'tuf', { keys: {} }],
    ['paths and path_hash_prefixes', 'tuf', { keys: {}, roles: [{ ...role, path_hash_prefixes: ['ab'] }] }],
    ['a top-level name', 'tuf', { keys: {}, roles: [{ ...role, name: 'snapshot' }] }],
    ['a name twice', 'tuf', { keys: {}, roles: [role, role] }],
    ['threshold 0', 'tuf', { keys: {}, roles: [{ ...role, threshold: 0 }] }],
    ['a key id twice', 'tuf', { keys: {}, roles: [{ ...role, keyids: ['k', 'k'] }] }],
    [
      'bit_length 33',
      'tuf',
      { keys: {}, succinct_roles: { keyids: [], threshold: 1, bit_length: 33, name_prefix: 'b' } },
    ],
    [
      'a name with "/" (ota: a file outside delegations/)',
      'ota',
      { keys: {}, roles: [{ ...role, name: '../../etc/x' }] },
    ],
    [
      'hash bins (ota)',
      'ota',
      { keys: {}, roles: [], succinct_roles: { keyids: [], threshold: 1, bit_length: 2, name_prefix: 'b' } },
    ],
    ['a pattern with ".." (ota)', 'ota', { keys: {}, roles: [{ ...role, paths: ['../*'] }] }],
  ])('%s', (_, dialect, d) => {
    const read = readDelegations(d, dialect as Dialect);
    expect(read.problems.length).toBeGreaterThan(0);
  });
});

// --- verifyRepository with delegations --------------------------------------------------------

describe('verifyRepository follows every delegated role (tuf)', () => {
  let k: { a: TestKey; b: TestKey; c: TestKey; bins: TestKey; stranger: TestKey };
  beforeAll(() => {
    k = {
      a: testKey('ed25519'),
      b: testKey('ecdsa'),
      c: testKey('ed25519'),
      bins: testKey('ed25519'),
      stranger: testKey('ed25519'),
    };
  });

  /** targets -> firmware (terminating) -> beta; targets -> shadow; targets -> hashed; targets -> bins -> 4 bins. */
  const spec = (over: (s: RepoSpec) => void = () => {}): RepoSpec => {
    const binPaths = ['bins/1', 'bins/2', 'bins/3', 'bins/4', 'bins/5', 'bins/6'];
    const s: RepoSpec = {
      dialect: 'tuf',
      now: NOW,
      top: {
        targets: ['top.bin'],
        delegations: delegations('tuf', [
          { name: 'firmware', keys: [k.a, k.b], threshold: 2, terminating: true, paths: ['firmware/*'] },
          { name: 'shadow', keys: [k.c], paths: ['firmware/*', 'docs/*'] },
          { name: 'hashed', keys: [k.c], pathHashPrefixes: [hashPrefix('hashed/x.bin')] },
          { name: 'bins', keys: [k.c], paths: ['bins/*'] },
        ]),
      },
      roles: [
        {
          name: 'firmware',
          targets: ['firmware/a.bin'],
          signers: [k.a, k.b],
          delegations: delegations('tuf', [{ name: 'beta', keys: [k.c], paths: ['firmware/beta-*'] }]),
        },
        { name: 'beta', targets: ['firmware/beta-1.bin'], signers: [k.c] },
        { name: 'shadow', targets: ['firmware/b.bin', 'docs/readme.txt'], signers: [k.c] },
        { name: 'hashed', targets: ['hashed/x.bin'], signers: [k.c] },
        {
          name: 'bins',
          targets: [],
          signers: [k.c],
          delegations: delegations('tuf', { keys: [k.bins], bitLength: 2, namePrefix: 'bin' }),
        },
        ...[0, 1, 2, 3].map((i) => {
          const b: Succinct = { keyids: [], threshold: 1, bitLength: 2, namePrefix: 'bin' };
          return { name: `bin-${i}`, targets: binPaths.filter((p) => binOf(b, p) === i), signers: [k.bins] };
        }),
      ],
    };
    over(s);
    return s;
  };

  it('a good repository verifies, every role reported in pre-order, and --target gives the chain', async () => {
    const repo = await buildDelegatedRepo(spec());
    const r = verify(repo.files);
    expect(codes(r)).toEqual([]);
    expect(r.delegated.map((d) => d.name)).toEqual([
      'firmware',
      'beta',
      'shadow',
      'hashed',
      'bins',
      'bin-0',
      'bin-1',
      'bin-2',
      'bin-3',
    ]);
    expect(r.delegated.find((d) => d.name === 'firmware')!.signedBy).toHaveLength(2);
    const chain = (t: string) => verify(repo.files, t).target?.chain?.join(' -> ') ?? null;
    expect(chain('top.bin')).toBe('targets');
    expect(chain('firmware/a.bin')).toBe('targets -> firmware');
    expect(chain('firmware/beta-1.bin')).toBe('targets -> firmware -> beta');
    expect(chain('docs/readme.txt')).toBe('targets -> shadow');
    expect(chain('hashed/x.bin')).toBe('targets -> hashed');
    expect(chain('bins/5')).toMatch(/^targets -> bins -> bin-[0-3]$/);
    // firmware is terminating: shadow's firmware/b.bin is never reached.
    const b = verify(repo.files, 'firmware/b.bin');
    expect(b.target?.chain).toBeUndefined();
    expect(codes(b)).toEqual(['TARGET_NOT_FOUND']);
    expect(b.target!.steps.map((s) => s.role)).toEqual(['targets', 'firmware']);
  });

  it('a role signed by a key it was not delegated: THRESHOLD_UNMET, and a lookup through it is refused', async () => {
    const repo = await buildDelegatedRepo(
      spec((s) => {
        s.roles.find((r) => r.name === 'beta')!.signers = [k.stranger];
      }),
    );
    const r = verify(repo.files, 'firmware/beta-1.bin');
    expect(codes(r)).toContain('THRESHOLD_UNMET');
    expect(r.errors.find((e) => e.code === 'THRESHOLD_UNMET')!.file).toBe('beta.json');
    expect(codes(r)).toContain('TARGET_REFUSED');
    expect(r.target!.refusedBy!.role).toBe('beta');
  });

  it('one of two delegated keys signing a 2-of-2 role is not enough; the same key twice neither', async () => {
    const repo = await buildDelegatedRepo(
      spec((s) => {
        s.roles.find((r) => r.name === 'firmware')!.signers = [k.a];
      }),
    );
    expect(codes(verify(repo.files))).toContain('THRESHOLD_UNMET');
  });

  it('snapshot naming another version of a delegated role (rollback, mix-and-match): META_VERSION_MISMATCH', async () => {
    const repo = await buildDelegatedRepo(
      spec((s) => {
        s.roles.find((r) => r.name === 'shadow')!.snapshotVersion = 2;
      }),
    );
    const r = verify(repo.files, 'docs/readme.txt');
    expect(codes(r)).toEqual(expect.arrayContaining(['META_VERSION_MISMATCH', 'TARGET_REFUSED']));
  });

  it('a delegated file swapped for another validly signed one after snapshot: META_HASH_MISMATCH', async () => {
    const good = await buildDelegatedRepo(spec());
    const other = await buildDelegatedRepo(
      spec((s) => {
        s.roles.find((r) => r.name === 'hashed')!.targets = ['hashed/x.bin', 'hashed/evil.bin'];
      }),
    );
    // Same keys (the spec shares them) but a different root key: take only the swapped file.
    const files = { ...good.files, 'hashed.json': other.files['hashed.json']! };
    expect(codes(verify(files))).toEqual(expect.arrayContaining(['META_HASH_MISMATCH', 'META_LENGTH_MISMATCH']));
  });

  it('a delegated file missing, or not named in snapshot: DELEGATED_FILE_MISSING, META_MISSING', async () => {
    const repo = await buildDelegatedRepo(
      spec((s) => {
        s.roles.find((r) => r.name === 'bin-2')!.omit = true;
      }),
    );
    const r = verify(repo.files);
    expect(codes(r)).toEqual(['DELEGATED_FILE_MISSING']);
    expect(r.errors[0]!.file).toBe('bin-2.json');
  });

  it('targets a role lists outside its paths are unreachable: a warning, and the lookup does not find them', async () => {
    const repo = await buildDelegatedRepo(
      spec((s) => {
        s.roles.find((r) => r.name === 'hashed')!.targets = ['hashed/x.bin', 'firmware/evil.bin'];
      }),
    );
    const r = verify(repo.files, 'firmware/evil.bin');
    expect(warnings(r)).toContain('DELEGATED_TARGET_UNREACHABLE');
    expect(codes(r)).toEqual(['TARGET_NOT_FOUND']);
  });

  it('an expired delegated role: TARGETS_EXPIRED on its file', async () => {
    const repo = await buildDelegatedRepo(
      spec((s) => {
        s.roles.find((r) => r.name === 'beta')!.expires = new Date(NOW.getTime() - 1000);
      }),
    );
    const r = verify(repo.files);
    expect(r.errors.map((e) => `${e.code} ${e.file}`)).toEqual(['TARGETS_EXPIRED beta.json']);
  });

  it('a delegation cycle is followed once', async () => {
    const repo = await buildDelegatedRepo(
      spec((s) => {
        s.roles.find((r) => r.name === 'beta')!.delegations = delegations('tuf', [
          { name: 'firmware', keys: [k.a, k.b], threshold: 2, paths: ['firmware/*'] },
        ]);
      }),
    );
    const r = verify(repo.files, 'firmware/zzz');
    expect(codes(r)).toEqual(['TARGET_NOT_FOUND']);
    expect(r.delegated.filter((d) => d.name === 'firmware')[0]!.delegatedBy).toEqual(['targets', 'beta']);
  });

  it('invalid delegations in a delegated role: DELEGATION_INVALID on that file, and the lookup is refused there', async () => {
    const repo = await buildDelegatedRepo(
      spec((s) => {
        const d = delegations('tuf', [{ name: 'x', keys: [k.c], paths: ['firmware/*'] }]);
        (d.roles as Record<string, unknown>[])[0]!.path_hash_prefixes = ['00'];
        s.roles.find((r) => r.name === 'firmware')!.delegations = d;
      }),
    );
    const r = verify(repo.files, 'firmware/a.bin');
    expect(r.errors.map((e) => `${e.code} ${e.file}`)).toContain('DELEGATION_INVALID firmware.json');
    expect(r.target!.refusedBy!.role).toBe('firmware');
  });

  it('consistent snapshots: delegated roles are read as <version>.<name>.json', async () => {
    const repo = await buildDelegatedRepo(
      spec((s) => {
        s.consistent = true;
        s.roles.find((r) => r.name === 'beta')!.version = 3;
      }),
    );
    expect(Object.keys(repo.files)).toContain('3.beta.json');
    expect(codes(verify(repo.files))).toEqual([]);
    const flat: Record<string, Buffer> = { ...repo.files, 'beta.json': repo.files['3.beta.json']! };
    delete flat['3.beta.json'];
    expect(codes(verify(flat))).toEqual(['DELEGATED_FILE_MISSING']);
  });

  it('the clients stop after 32 delegated roles: a target 34 roles deep is not found', async () => {
    const chainRoles = Array.from({ length: 34 }, (_, i) => `r${i}`);
    const repo = await buildDelegatedRepo({
      dialect: 'tuf',
      now: NOW,
      top: { targets: [], delegations: delegations('tuf', [{ name: 'r0', keys: [k.c], paths: ['*'] }]) },
      roles: chainRoles.map((name, i) => ({
        name,
        targets: i === 33 ? ['deep'] : i === 31 ? ['shallow'] : [],
        signers: [k.c],
        ...(i < 33
          ? { delegations: delegations('tuf', [{ name: chainRoles[i + 1]!, keys: [k.c], paths: ['*'] }]) }
          : {}),
      })),
    });
    expect(codes(verify(repo.files, 'shallow'))).toEqual([]);
    const deep = verify(repo.files, 'deep');
    expect(codes(deep)).toEqual(['TARGET_NOT_FOUND']);
    expect(deep.target!.limitHit).toBe(true);
  });
});

describe('verifyRepository follows delegations as aktualizr does (ota)', () => {
  let k: TestKey;
  beforeAll(() => {
    k = testKey('ed25519');
  });

  it('delegations/<name>.json, whole-path fnmatch, terminating skips only its own delegations, depth 5', async () => {
    const names = ['d1', 'd2', 'd3', 'd4', 'd5', 'd6'];
    const repo = await buildDelegatedRepo({
      dialect: 'ota',
      now: NOW,
      top: {
        targets: [],
        delegations: delegations('ota', [
          { name: 'images', keys: [k], terminating: true, paths: ['images/*'] },
          { name: 'later', keys: [k], paths: ['images/*'] },
          { name: 'd1', keys: [k], paths: ['deep*'] },
        ]),
      },
      roles: [
        {
          name: 'images',
          targets: ['images/a/b.img'],
          signers: [k],
          delegations: delegations('ota', [{ name: 'below', keys: [k], paths: ['images/*'] }]),
        },
        { name: 'below', targets: ['images/c.img'], signers: [k] },
        { name: 'later', targets: ['images/d.img'], signers: [k] },
        ...names.map((name, i) => ({
          name,
          targets: i === 4 ? ['deep5'] : i === 5 ? ['deep6'] : [],
          signers: [k],
          ...(i < 5 ? { delegations: delegations('ota', [{ name: names[i + 1]!, keys: [k], paths: ['deep*'] }]) } : {}),
        })),
      ],
    });
    expect(Object.keys(repo.files)).toContain('delegations/images.json');
    const r = verify(repo.files);
    expect(codes(r)).toEqual([]);
    expect(warnings(r)).toContain('DELEGATION_LIMIT'); // d6 is 6 deep
    const chain = (t: string) => verify(repo.files, t).target?.chain?.join(' -> ') ?? null;
    expect(chain('images/a/b.img')).toBe('targets -> images'); // `*` spans "/" in glibc fnmatch
    expect(chain('images/c.img')).toBeNull(); // images is terminating: "below" never looked at ...
    expect(chain('images/d.img')).toBe('targets -> later'); // ... but its sibling is
    expect(chain('deep5')).toBe('targets -> d1 -> d2 -> d3 -> d4 -> d5');
    expect(chain('deep6')).toBeNull();
  });

  it('a role name climbing out of the folder is refused, never read', async () => {
    const repo = await buildDelegatedRepo({
      dialect: 'ota',
      now: NOW,
      top: { targets: [], delegations: delegations('ota', [{ name: '../../../etc/passwd', keys: [k], paths: ['*'] }]) },
      roles: [],
    });
    const read: string[] = [];
    const input = inputOf(repo.files);
    const inner = input.readFile!;
    input.readFile = (n) => (read.push(n), inner(n));
    const r = verifyRepository(input, { at: NOW });
    expect(codes(r)).toContain('DELEGATION_INVALID');
    expect(read).toEqual([]);
  });
});
