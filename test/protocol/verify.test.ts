/**
 * verifyRepository over repositories built in memory: every rejection with its exact code, and
 * the positive cases (both dialects, duplicate key material counted once, outside keys ignored).
 */
import crypto from 'node:crypto';
import { Metadata, MetadataKind } from '@tufjs/models';
import { beforeAll, describe, expect, it } from 'vitest';
import { canonicalize, type Dialect } from '../../protocol/canonical.js';
import { generateKeyPair, keyId, toMetadataKey, type MetadataKey } from '../../protocol/keys.js';
import {
  buildRoot,
  buildSnapshot,
  buildTargets,
  buildTimestamp,
  keyIdOf,
  localSigner,
  serialize,
  signEnvelope,
  signatureFor,
  targetFor,
  type Envelope,
  type Signer,
} from '../../protocol/metadata/build.js';
import type { RootSigned } from '../../protocol/metadata/schemas.js';
import {
  checkRoot,
  checkThreshold,
  parseMetadata,
  verifyRepository,
  type FileInput,
  type RepositoryInput,
  type VerifyReport,
} from '../../protocol/verify.js';
import { testRsaKey, testRsaPair, type TestRsaKey } from '../test-keys.js';

const AT = new Date('2030-06-01T00:00:00Z');
const days = (n: number) => new Date(AT.getTime() + n * 86_400_000);
const LATER = days(365);
const PAST = days(-1);

type Signed = Record<string, unknown>;
type RootRoles = Record<'root' | 'targets' | 'snapshot' | 'timestamp', { keys: Signer[]; threshold: number }>;

interface KeySet {
  root: Signer[]; // R0, R1, R2
  targets: Signer[]; // T0, T1
  snapshot: Signer;
  timestamp: Signer;
  outsider: Signer; // in no root at all
  newRoot: Signer[]; // for rotations
}

const keySets = {} as Record<Dialect, KeySet>;

beforeAll(() => {
  const s = (k: Parameters<typeof generateKeyPair>[0]) => localSigner(generateKeyPair(k).privateKey);
  const rsa = (k: TestRsaKey) => localSigner(testRsaKey(k));
  // One RSA key per dialect (made once: test/test-keys.ts) keeps the file fast; ota cannot hold ECDSA keys.
  keySets.ota = {
    root: [s('ed25519'), rsa('rsa-2048-a'), s('ed25519')],
    targets: [s('ed25519'), s('ed25519')],
    snapshot: s('ed25519'),
    timestamp: s('ed25519'),
    outsider: s('ed25519'),
    newRoot: [s('ed25519'), s('ed25519')],
  };
  keySets.tuf = {
    root: [s('ed25519'), s('ecdsa'), rsa('rsa-2048-b')],
    targets: [s('ecdsa'), s('ed25519')],
    snapshot: s('ed25519'),
    timestamp: s('ecdsa'),
    outsider: s('ed25519'),
    newRoot: [s('ed25519'), s('ecdsa')],
  };
});

const pks = (s: Signer[]) => s.map((x) => x.publicKey);

function roles(k: KeySet, over: Partial<RootRoles> = {}): RootRoles {
  return {
    root: { keys: k.root, threshold: 2 },
    targets: { keys: k.targets, threshold: 1 },
    snapshot: { keys: [k.snapshot], threshold: 1 },
    timestamp: { keys: [k.timestamp], threshold: 1 },
    ...over,
  };
}

function rootSigned(d: Dialect, version: number, r: RootRoles, expires = LATER): Signed {
  return buildRoot({
    dialect: d,
    version,
    expires,
    roles: {
      root: { keys: pks(r.root.keys), threshold: r.root.threshold },
      targets: { keys: pks(r.targets.keys), threshold: r.targets.threshold },
      snapshot: { keys: pks(r.snapshot.keys), threshold: r.snapshot.threshold },
      timestamp: { keys: pks(r.timestamp.keys), threshold: r.timestamp.threshold },
    },
  });
}

async function sign(signed: Signed, d: Dialect, signers: Signer[]): Promise<Envelope> {
  return signEnvelope(signed, d, signers);
}

/** A signature by `signer` written under another key id. */
async function sigAs(
  signed: Signed,
  d: Dialect,
  signer: Signer,
  keyid: string,
): Promise<Envelope['signatures'][number]> {
  return { ...(await signatureFor(signer, canonicalize(signed, d), d)), keyid };
}

const FIRMWARE = Buffer.from('firmware 1.0.0\n');

interface RepoOptions {
  /** Change root v1's signed content before it is signed. */
  root?: (s: Signed) => void;
  rootSigners?: Signer[];
  rootExpires?: Date;
  targets?: (s: Signed) => void;
  targetsSigners?: Signer[];
  /** Change the targets envelope after signing (and before snapshot names it). */
  targetsEnv?: (e: Envelope) => void | Promise<void>;
  targetsExpires?: Date;
  snapshot?: (s: Signed) => void;
  timestamp?: (s: Signed) => void;
}

interface Repo {
  files: Record<string, Buffer>;
}

/** root v1 (2-of-3), targets (1-of-2), snapshot, timestamp: valid unless options break it. */
async function buildRepo(d: Dialect, o: RepoOptions = {}): Promise<Repo> {
  const k = keySets[d];
  const files: Record<string, Buffer> = {};
  const root = rootSigned(d, 1, roles(k), o.rootExpires ?? LATER);
  o.root?.(root);
  files['1.root.json'] = serialize(await sign(root, d, o.rootSigners ?? k.root.slice(0, 2)));
  files['root.json'] = files['1.root.json'];
  const custom =
    d === 'ota'
      ? { name: 'firmware', version: '1.0.0', hardwareIds: ['ecu'], targetFormat: 'BINARY', uri: null }
      : { version: '1.0.0' };
  const targets = buildTargets(d, 1, o.targetsExpires ?? LATER, { 'firmware-1.0.0': targetFor(FIRMWARE, custom) });
  o.targets?.(targets);
  const tEnv = await sign(targets, d, o.targetsSigners ?? [k.targets[0]!]);
  await o.targetsEnv?.(tEnv);
  files['targets.json'] = serialize(tEnv);
  const snapshot = buildSnapshot(d, 1, LATER, files['targets.json'], 1);
  o.snapshot?.(snapshot);
  files['snapshot.json'] = serialize(await sign(snapshot, d, [k.snapshot]));
  const timestamp = buildTimestamp(d, 1, LATER, files['snapshot.json'], 1);
  o.timestamp?.(timestamp);
  files['timestamp.json'] = serialize(await sign(timestamp, d, [k.timestamp]));
  return { files };
}

/** The repository as verifyRepository takes it; the trust anchor is 1.root.json (pinned). */
function input(files: Record<string, Buffer>, trusted = '1.root.json'): RepositoryInput {
  const f = (name: string): FileInput | undefined => (files[name] ? { name, bytes: files[name]! } : undefined);
  const roots = new Map<number, FileInput>();
  for (const name of Object.keys(files)) {
    const m = /^(\d+)\.root\.json$/.exec(name);
    if (m) roots.set(Number(m[1]), f(name)!);
  }
  return {
    trustedRoot: { name: `${trusted} (trusted)`, bytes: files[trusted]! },
    tofu: false,
    roots,
    root: f('root.json'),
    targets: f('targets.json'),
    snapshot: f('snapshot.json'),
    timestamp: f('timestamp.json'),
  };
}

function verify(
  files: Record<string, Buffer>,
  opts: { trusted?: string; dialect?: Dialect; at?: Date } = {},
): VerifyReport {
  return verifyRepository(input(files, opts.trusted), { at: opts.at ?? AT, dialect: opts.dialect });
}

/** Sorted distinct error codes. */
const codes = (r: VerifyReport) => [...new Set(r.errors.map((e) => e.code))].sort();
/** Error codes with the file each was reported on. */
const where = (r: VerifyReport) => r.errors.map((e) => `${e.code} @ ${e.file}`).sort();

const DIALECTS: Dialect[] = ['ota', 'tuf'];

describe.each(DIALECTS)('verifyRepository (%s): valid repositories', (d) => {
  it('a freshly built repository verifies with no errors and no warnings', async () => {
    const r = verify((await buildRepo(d)).files);
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.dialect).toBe(d);
    expect(r.trustedRoot).toEqual({ file: '1.root.json (trusted)', version: 1, tofu: false });
    expect(r.rootChain.map((s) => s.version)).toEqual([1]);
    expect(r.roles.targets?.targets).toBe(1);
    expect(r.roles.targets?.signedBy).toEqual([keyIdOf(keySets[d].targets[0]!.publicKey, d)]);
    expect(Object.keys(r.roles).sort()).toEqual(['snapshot', 'targets', 'timestamp']);
  });

  it('the dialect is detected from _type, and --dialect agreeing with it is accepted', async () => {
    const { files } = await buildRepo(d);
    expect(verify(files, { dialect: d }).ok).toBe(true);
  });

  it('the other dialect forced on the repository is rejected', async () => {
    const { files } = await buildRepo(d);
    const r = verify(files, { dialect: d === 'ota' ? 'tuf' : 'ota' });
    if (d === 'ota') {
      // "Root" is the ota spelling, never tuf.
      expect(where(r)).toEqual(['DIALECT_MISMATCH @ 1.root.json (trusted)']);
    } else {
      // A tuf "root" is a legal ota root _type (aktualizr ignores the root's case), so the root
      // is read as ota, and refused as aktualizr refuses it: its signatures carry no `method`
      // (aktualizr rejects the whole file) and it lists an ECDSA key (aktualizr rejects the root).
      expect(codes(r)).toEqual(['OTA_KEY_UNSUPPORTED', 'SIGNATURE_METHOD', 'THRESHOLD_UNMET']);
      expect(r.errors.every((e) => e.file === '1.root.json (trusted)')).toBe(true);
    }
  });

  it('a root rotation signed by thresholds of the old and the new root keys verifies', async () => {
    const k = keySets[d];
    const { files } = await buildRepo(d);
    // v2 replaces R2 with N0; signed by R0, R1 (old threshold 2) and R0, N0 (new threshold 2).
    const v2 = rootSigned(d, 2, roles(k, { root: { keys: [k.root[0]!, k.root[1]!, k.newRoot[0]!], threshold: 2 } }));
    files['2.root.json'] = serialize(await sign(v2, d, [k.root[0]!, k.root[1]!, k.newRoot[0]!]));
    files['root.json'] = files['2.root.json'];
    const r = verify(files);
    expect(r.errors).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.rootChain.map((s) => s.version)).toEqual([1, 2]);
    expect(r.rootChain[1]!.old!.met).toBe(true);
    expect(r.rootChain[1]!.self.met).toBe(true);
  });

  it('root.json one version past the newest N.root.json is verified as the next step', async () => {
    const k = keySets[d];
    const { files } = await buildRepo(d);
    const v2 = rootSigned(d, 2, roles(k));
    files['root.json'] = serialize(await sign(v2, d, k.root.slice(0, 2)));
    const r = verify(files);
    expect(r.errors).toEqual([]);
    expect(r.rootChain.map((s) => s.version)).toEqual([1, 2]);
  });

  it('signatures by keys outside the role are ignored when the threshold is met', async () => {
    const k = keySets[d];
    const { files } = await buildRepo(d, { targetsSigners: [k.outsider, k.snapshot, k.targets[0]!, k.root[0]!] });
    const r = verify(files);
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.roles.targets?.signedBy).toEqual([keyIdOf(k.targets[0]!.publicKey, d)]);
  });

  it('the same key under two key ids counts once (2-of-2 met by two distinct keys)', async () => {
    const k = keySets[d];
    const t0 = k.targets[0]!;
    const aliasId = crypto.createHash('sha256').update('alias of T0').digest('hex');
    let t0Id = '';
    const { files } = await buildRepo(d, {
      root: (s) => {
        const keys = s.keys as Record<string, MetadataKey>;
        t0Id = keyIdOf(t0.publicKey, d);
        keys[aliasId] = { ...toMetadataKey(t0.publicKey, d) };
        const rs = s.roles as Record<string, { keyids: string[]; threshold: number }>;
        rs.targets = { keyids: [...rs.targets!.keyids, aliasId], threshold: 2 };
      },
      targetsSigners: [t0, k.targets[1]!],
      targetsEnv: async (e) => {
        e.signatures.push(await sigAs(e.signed, d, t0, aliasId));
      },
    });
    const r = verify(files);
    expect(r.errors).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.roles.targets?.total).toBe(2); // three key ids, two distinct keys
    expect(r.roles.targets?.signedBy).toHaveLength(2);
    expect(r.roles.targets?.signedBy).toContain(t0Id);
    expect(r.roles.targets?.signedBy).not.toContain(aliasId);
  });
});

describe('verifyRepository: _type spelling', () => {
  it('ota root with _type "ROOT" is accepted (aktualizr compares root case-insensitively)', async () => {
    const { files } = await buildRepo('ota', { root: (s) => (s._type = 'ROOT') });
    // No --dialect: "ROOT" can only be an ota root (tuf requires exactly "root").
    const r = verify(files);
    expect(r.errors).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.dialect).toBe('ota');
  });

  it('ota root with _type "ROOT" is accepted with --dialect ota', async () => {
    const { files } = await buildRepo('ota', { root: (s) => (s._type = 'ROOT') });
    const r = verify(files, { dialect: 'ota' });
    expect(r.errors).toEqual([]);
    expect(r.ok).toBe(true);
  });

  it('ota root with _type "root" (lowercase) verifies with --dialect ota', async () => {
    const { files } = await buildRepo('ota', { root: (s) => (s._type = 'root') });
    const r = verify(files, { dialect: 'ota' });
    expect(r.errors).toEqual([]);
    expect(r.ok).toBe(true);
  });

  it('tuf root with _type "Root" is DIALECT_MISMATCH (tuf matches exactly)', async () => {
    const { files } = await buildRepo('tuf', { root: (s) => (s._type = 'Root') });
    expect(where(verify(files, { dialect: 'tuf' }))).toEqual(['DIALECT_MISMATCH @ 1.root.json (trusted)']);
  });

  it('ota targets with _type "targets" (the tuf spelling) is DIALECT_MISMATCH', async () => {
    const { files } = await buildRepo('ota', { targets: (s) => (s._type = 'targets') });
    const r = verify(files);
    expect(where(r)).toEqual(['DIALECT_MISMATCH @ targets.json']);
  });

  it('ota targets with _type "TARGETS" is WRONG_TYPE', async () => {
    const { files } = await buildRepo('ota', { targets: (s) => (s._type = 'TARGETS') });
    expect(where(verify(files))).toEqual(['WRONG_TYPE @ targets.json']);
  });

  it('ota snapshot with _type "Timestamp" is WRONG_TYPE', async () => {
    const { files } = await buildRepo('ota', { snapshot: (s) => (s._type = 'Timestamp') });
    expect(where(verify(files))).toEqual(['WRONG_TYPE @ snapshot.json']);
  });

  it('tuf targets with _type "Targets" (the ota spelling) is DIALECT_MISMATCH', async () => {
    const { files } = await buildRepo('tuf', { targets: (s) => (s._type = 'Targets') });
    expect(where(verify(files))).toEqual(['DIALECT_MISMATCH @ targets.json']);
  });
});

describe.each(DIALECTS)('verifyRepository (%s): signature and threshold rejections', (d) => {
  it('a bad signature: SIGNATURE_INVALID and THRESHOLD_UNMET', async () => {
    const { files } = await buildRepo(d, {
      targetsEnv: (e) => {
        const s = e.signatures[0]!;
        const raw = Buffer.from(s.sig, d === 'ota' ? 'base64' : 'hex');
        raw[raw.length - 5]! ^= 0x01;
        s.sig = d === 'ota' ? raw.toString('base64') : raw.toString('hex');
      },
    });
    expect(where(verify(files))).toEqual(['SIGNATURE_INVALID @ targets.json', 'THRESHOLD_UNMET @ targets.json']);
  });

  it('content modified after signing: SIGNATURE_INVALID and THRESHOLD_UNMET', async () => {
    const { files } = await buildRepo(d, {
      targetsEnv: (e) => {
        const t = (e.signed.targets as Record<string, { length: number }>)['firmware-1.0.0']!;
        t.length += 1;
      },
    });
    expect(where(verify(files))).toEqual(['SIGNATURE_INVALID @ targets.json', 'THRESHOLD_UNMET @ targets.json']);
  });

  it('an unknown field added after signing: SIGNATURE_INVALID (unknown fields are signed)', async () => {
    const { files } = await buildRepo(d, { targetsEnv: (e) => void (e.signed.extra = 'x') });
    expect(where(verify(files))).toEqual(['SIGNATURE_INVALID @ targets.json', 'THRESHOLD_UNMET @ targets.json']);
  });

  it('pretty-printing and reordering the file does not matter (signatures are over canonical bytes)', async () => {
    const { files } = await buildRepo(d);
    const env = JSON.parse(files['targets.json']!.toString()) as Envelope;
    const reordered = { signed: Object.fromEntries(Object.entries(env.signed).reverse()), signatures: env.signatures };
    files['targets.json'] = Buffer.from(JSON.stringify(reordered, null, '\t'));
    // snapshot names the old bytes, so rebuild it (and timestamp) over the new ones.
    const k = keySets[d];
    files['snapshot.json'] = serialize(
      await sign(buildSnapshot(d, 1, LATER, files['targets.json'], 1), d, [k.snapshot]),
    );
    files['timestamp.json'] = serialize(
      await sign(buildTimestamp(d, 1, LATER, files['snapshot.json'], 1), d, [k.timestamp]),
    );
    expect(verify(files).errors).toEqual([]);
  });

  it('threshold unmet: THRESHOLD_UNMET only', async () => {
    const k = keySets[d];
    const { files } = await buildRepo(d, {
      root: (s) => ((s.roles as Record<string, { threshold: number }>).targets!.threshold = 2),
      targetsSigners: [k.targets[0]!],
    });
    const r = verify(files);
    expect(where(r)).toEqual(['THRESHOLD_UNMET @ targets.json']);
    expect(r.roles.targets).toMatchObject({ threshold: 2, total: 2 });
    expect(r.roles.targets?.signedBy).toHaveLength(1);
  });

  it('no signatures at all: THRESHOLD_UNMET', async () => {
    const { files } = await buildRepo(d, { targetsSigners: [] });
    expect(where(verify(files))).toEqual(['THRESHOLD_UNMET @ targets.json']);
  });

  it('signed only by a key root does not list: UNKNOWN_KEY and THRESHOLD_UNMET', async () => {
    const { files } = await buildRepo(d, { targetsSigners: [keySets[d].outsider] });
    expect(where(verify(files))).toEqual(['THRESHOLD_UNMET @ targets.json', 'UNKNOWN_KEY @ targets.json']);
  });

  it("signed only by another role's key: WRONG_ROLE_KEY and THRESHOLD_UNMET", async () => {
    const { files } = await buildRepo(d, { targetsSigners: [keySets[d].snapshot] });
    expect(where(verify(files))).toEqual(['THRESHOLD_UNMET @ targets.json', 'WRONG_ROLE_KEY @ targets.json']);
  });

  it('one key under two key ids, threshold 2, both ids sign: DUPLICATE_KEY_MATERIAL', async () => {
    const k = keySets[d];
    const t0 = k.targets[0]!;
    const aliasId = crypto.createHash('sha256').update('alias of T0').digest('hex');
    const { files } = await buildRepo(d, {
      root: (s) => {
        (s.keys as Record<string, MetadataKey>)[aliasId] = { ...toMetadataKey(t0.publicKey, d) };
        const rs = s.roles as Record<string, { keyids: string[]; threshold: number }>;
        rs.targets = { keyids: [keyIdOf(t0.publicKey, d), aliasId], threshold: 2 };
      },
      targetsSigners: [t0],
      targetsEnv: async (e) => {
        e.signatures.push(await sigAs(e.signed, d, t0, aliasId));
      },
    });
    // aktualizr, python-tuf and tuf-js count key ids: the file is valid to them, and a warning here.
    const r = verify(files);
    expect(r.errors).toEqual([]);
    expect(r.warnings.map((w) => `${w.code} @ ${w.file}`)).toEqual(['DUPLICATE_KEY_MATERIAL @ targets.json']);
    expect(r.roles.targets).toMatchObject({ threshold: 2, total: 1 });
    // The coordinator's and signers' own rule counts distinct keys: not met.
    const root = parseMetadata(files['1.root.json']!, 'root.json', 'root', d);
    const rs = root.signed as RootSigned;
    const strict = checkThreshold(
      parseMetadata(files['targets.json']!, 'targets.json', 'targets', d),
      'targets',
      rs.roles.targets!,
      rs.keys,
    );
    expect(strict.met).toBe(false);
    expect(strict.findings.map((f) => `${f.code}:${f.severity}`)).toEqual(['DUPLICATE_KEY_MATERIAL:error']);
  });

  it('the same key id signing twice: DUPLICATE_SIGNATURE (even though the threshold is met)', async () => {
    const k = keySets[d];
    const { files } = await buildRepo(d, {
      targetsEnv: async (e) => {
        e.signatures.push(await sigAs(e.signed, d, k.targets[0]!, keyIdOf(k.targets[0]!.publicKey, d)));
      },
    });
    expect(where(verify(files))).toEqual(['DUPLICATE_SIGNATURE @ targets.json']);
  });

  it('a signature that is not base64/hex: SIGNATURE_MALFORMED and THRESHOLD_UNMET', async () => {
    const { files } = await buildRepo(d, { targetsEnv: (e) => void (e.signatures[0]!.sig = '!!not a signature!!') });
    expect(where(verify(files))).toEqual(['SIGNATURE_MALFORMED @ targets.json', 'THRESHOLD_UNMET @ targets.json']);
  });

  it.each([0, -1, 1001])(
    'targets threshold %i: THRESHOLD_INVALID on root (tuf: 1001 is valid, and unmet)',
    async (t) => {
      const { files } = await buildRepo(d, {
        root: (s) => ((s.roles as Record<string, { threshold: number }>).targets!.threshold = t),
      });
      // aktualizr refuses thresholds above 1000 (kMaxSignatures); python-tuf and tuf-js set no bound.
      expect(where(verify(files))).toEqual([
        d === 'tuf' && t === 1001 ? 'THRESHOLD_UNMET @ targets.json' : 'THRESHOLD_INVALID @ 1.root.json (trusted)',
      ]);
    },
  );

  it('root threshold 0: THRESHOLD_INVALID, and the root cannot be trusted (THRESHOLD_UNMET)', async () => {
    const { files } = await buildRepo(d, {
      root: (s) => ((s.roles as Record<string, { threshold: number }>).root!.threshold = 0),
    });
    expect(codes(verify(files))).toEqual(['THRESHOLD_INVALID', 'THRESHOLD_UNMET']);
  });

  it('a role naming a key id absent from keys: ROLE_KEY_MISSING, a warning (every client skips the id)', async () => {
    const missing = 'ab'.repeat(32);
    const { files } = await buildRepo(d, {
      root: (s) => (s.roles as Record<string, { keyids: string[] }>).timestamp!.keyids.push(missing),
    });
    const r = verify(files);
    expect(r.ok).toBe(true);
    expect(r.warnings.map((w) => `${w.code} @ ${w.file}`)).toEqual(['ROLE_KEY_MISSING @ 1.root.json (trusted)']);
    // Strictly (a signer's own checks) it stays an error.
    expect(
      checkRoot(parseMetadata(files['1.root.json']!, 'root.json', 'root', d)).map((f) => `${f.code}:${f.severity}`),
    ).toEqual(['ROLE_KEY_MISSING:error']);
  });

  it('a root without a timestamp role: ROLE_MISSING (ota: timestamp.json then fails its threshold)', async () => {
    const { files } = await buildRepo(d, { root: (s) => void delete (s.roles as Record<string, unknown>).timestamp });
    const r = verify(files);
    if (d === 'tuf') expect(where(r)).toEqual(['ROLE_MISSING @ 1.root.json (trusted)']);
    else {
      // aktualizr loads the root (a director's has no timestamp) and fails the timestamp it checks.
      expect(where(r)).toEqual(['THRESHOLD_UNMET @ timestamp.json', 'WRONG_ROLE_KEY @ timestamp.json']);
      expect(r.warnings.map((w) => `${w.code} @ ${w.file}`)).toEqual(['ROLE_MISSING @ 1.root.json (trusted)']);
    }
  });

  it('the trusted root signed by too few root keys: THRESHOLD_UNMET on the root', async () => {
    const { files } = await buildRepo(d, { rootSigners: [keySets[d].root[0]!] });
    expect(where(verify(files))).toEqual(['THRESHOLD_UNMET @ 1.root.json (trusted)']);
  });
});

describe.each(DIALECTS)('verifyRepository (%s): root chain rejections', (d) => {
  it('2.root.json with version 3: ROOT_VERSION_SKIP', async () => {
    const k = keySets[d];
    const { files } = await buildRepo(d);
    files['2.root.json'] = serialize(await sign(rootSigned(d, 3, roles(k)), d, k.root.slice(0, 2)));
    files['root.json'] = files['2.root.json'];
    expect(where(verify(files))).toEqual(['ROOT_VERSION_SKIP @ 2.root.json']);
  });

  it('root.json with version 3 while the chain ends at 1: ROOT_VERSION_SKIP', async () => {
    const k = keySets[d];
    const { files } = await buildRepo(d);
    files['root.json'] = serialize(await sign(rootSigned(d, 3, roles(k)), d, k.root.slice(0, 2)));
    expect(codes(verify(files))).toEqual(['ROOT_VERSION_SKIP']);
  });

  it('2.root.json with version 1: ROOT_VERSION_ROLLBACK', async () => {
    const k = keySets[d];
    const { files } = await buildRepo(d);
    const v1again = rootSigned(d, 1, roles(k), days(200));
    files['2.root.json'] = serialize(await sign(v1again, d, k.root.slice(0, 2)));
    files['root.json'] = files['2.root.json'];
    expect(where(verify(files))).toEqual(['ROOT_VERSION_ROLLBACK @ 2.root.json']);
  });

  it('root.json older than the trusted root: ROOT_VERSION_ROLLBACK', async () => {
    const k = keySets[d];
    const { files } = await buildRepo(d);
    files['2.root.json'] = serialize(await sign(rootSigned(d, 2, roles(k)), d, k.root.slice(0, 2)));
    // root.json is still v1: the newest root is not published.
    const r = verify(files);
    expect(where(r)).toEqual(['ROOT_VERSION_ROLLBACK @ root.json']);
  });

  it('root.json differing from the newest N.root.json of the same version: ROOT_MISMATCH', async () => {
    const k = keySets[d];
    const { files } = await buildRepo(d);
    files['root.json'] = serialize(await sign(rootSigned(d, 1, roles(k), days(100)), d, k.root.slice(0, 2)));
    expect(where(verify(files))).toEqual(['ROOT_MISMATCH @ root.json']);
  });

  it('rotation signed only by the old root keys: ROOT_NEW_THRESHOLD_UNMET', async () => {
    const k = keySets[d];
    const { files } = await buildRepo(d);
    const v2 = rootSigned(d, 2, roles(k, { root: { keys: k.newRoot, threshold: 2 } }));
    files['2.root.json'] = serialize(await sign(v2, d, k.root.slice(0, 2)));
    files['root.json'] = files['2.root.json'];
    const r = verify(files);
    expect(r.ok).toBe(false);
    // The old keys are not in v2's keys at all, so their signatures are UNKNOWN_KEY for v2.
    expect(codes(r)).toEqual(['ROOT_NEW_THRESHOLD_UNMET', 'UNKNOWN_KEY']);
    expect(r.errors.every((e) => e.file === '2.root.json')).toBe(true);
  });

  it('rotation signed only by the new root keys: ROOT_OLD_THRESHOLD_UNMET', async () => {
    const k = keySets[d];
    const { files } = await buildRepo(d);
    const v2 = rootSigned(d, 2, roles(k, { root: { keys: k.newRoot, threshold: 2 } }));
    files['2.root.json'] = serialize(await sign(v2, d, k.newRoot));
    files['root.json'] = files['2.root.json'];
    const r = verify(files);
    expect(codes(r)).toEqual(['ROOT_OLD_THRESHOLD_UNMET', 'UNKNOWN_KEY']);
    expect(r.errors.every((e) => e.file === '2.root.json')).toBe(true);
  });

  it('rotation signed by one old key only (old threshold 2): ROOT_OLD_THRESHOLD_UNMET', async () => {
    const k = keySets[d];
    const { files } = await buildRepo(d);
    // v2 keeps R0 and adds N0, N1; R0 + N0 meet the new threshold, one old key misses the old one.
    const v2 = rootSigned(d, 2, roles(k, { root: { keys: [k.root[0]!, ...k.newRoot], threshold: 2 } }));
    files['2.root.json'] = serialize(await sign(v2, d, [k.root[0]!, k.newRoot[0]!]));
    files['root.json'] = files['2.root.json'];
    // N0's signature is by a key the old root does not list: reported because the old threshold is unmet.
    expect(where(verify(files))).toEqual(['ROOT_OLD_THRESHOLD_UNMET @ 2.root.json', 'UNKNOWN_KEY @ 2.root.json']);
  });

  it('a missing step between the trusted root and the newest: ROOT_CHAIN_GAP', async () => {
    const k = keySets[d];
    const { files } = await buildRepo(d);
    // 2 and 3 are both properly signed; only 2.root.json is left out.
    files['3.root.json'] = serialize(await sign(rootSigned(d, 3, roles(k)), d, k.root.slice(0, 2)));
    files['root.json'] = files['3.root.json'];
    expect(where(verify(files))).toEqual(['ROOT_CHAIN_GAP @ 2.root.json']);
  });

  it('an expired final root: ROOT_EXPIRED', async () => {
    const { files } = await buildRepo(d, { rootExpires: PAST });
    expect(where(verify(files))).toEqual(['ROOT_EXPIRED @ 1.root.json (trusted)']);
  });

  it('an expired intermediate root is fine when the final root is current', async () => {
    const k = keySets[d];
    const { files } = await buildRepo(d, { rootExpires: PAST });
    files['2.root.json'] = serialize(await sign(rootSigned(d, 2, roles(k)), d, k.root.slice(0, 2)));
    files['root.json'] = files['2.root.json'];
    const r = verify(files);
    expect(r.errors).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.rootChain.map((s) => s.version)).toEqual([1, 2]);
  });

  it('the final root expiring exactly at --at: expired in tuf, not yet in ota (aktualizr: expires < now)', async () => {
    const { files } = await buildRepo(d, { rootExpires: AT });
    expect(codes(verify(files))).toEqual(d === 'tuf' ? ['ROOT_EXPIRED'] : []);
    expect(codes(verify(files, { at: new Date(AT.getTime() + 1000) }))).toEqual(['ROOT_EXPIRED']);
  });
});

describe.each(DIALECTS)('verifyRepository (%s): expiry and snapshot/timestamp consistency', (d) => {
  it('expired targets: TARGETS_EXPIRED', async () => {
    const { files } = await buildRepo(d, { targetsExpires: PAST });
    expect(where(verify(files))).toEqual(['TARGETS_EXPIRED @ targets.json']);
  });

  it('expired snapshot and timestamp: SNAPSHOT_EXPIRED, TIMESTAMP_EXPIRED', async () => {
    const { files } = await buildRepo(d, {
      snapshot: (s) => (s.expires = '2030-05-01T00:00:00Z'),
      timestamp: (s) => (s.expires = '2030-05-31T23:59:59Z'),
    });
    expect(where(verify(files))).toEqual(['SNAPSHOT_EXPIRED @ snapshot.json', 'TIMESTAMP_EXPIRED @ timestamp.json']);
  });

  it('a role expiring within --warn-days is a warning (EXPIRES_SOON), not an error', async () => {
    const { files } = await buildRepo(d, { targetsExpires: days(3) });
    const r = verify(files);
    expect(r.errors).toEqual([]);
    expect(r.warnings.map((w) => `${w.code} @ ${w.file}`)).toEqual(['EXPIRES_SOON @ targets.json']);
  });

  it.each(['2000-13-01T00:00:00Z', '9999-99-99T99:99:99Z'])(
    'an expires that is no date (%s): tuf EXPIRES_FORMAT; ota compared as text, with a warning',
    async (bad) => {
      const { files } = await buildRepo(d, { targets: (s) => (s.expires = bad) });
      const r = verify(files);
      if (d === 'tuf') {
        expect(r.ok).toBe(false);
        expect(where(r)).toEqual(['EXPIRES_FORMAT @ targets.json']);
      } else {
        // aktualizr takes any 20 characters ending in Z and compares them as text with "now".
        expect(where(r)).toEqual(bad < '2030' ? ['TARGETS_EXPIRED @ targets.json'] : []);
        expect(r.warnings.map((w) => `${w.code} @ ${w.file}`)).toEqual(['EXPIRES_FORMAT @ targets.json']);
      }
    },
  );

  it.each(['2031-1-2T3:4:5Z', '2031-01-02t03:04:05z'])(
    'an expires python-tuf reads (%s): tuf warns EXPIRES_FORMAT; ota refuses (not 20 characters ending in Z)',
    async (odd) => {
      const { files } = await buildRepo(d, { targets: (s) => (s.expires = odd) });
      const r = verify(files);
      if (d === 'tuf') {
        expect(r.errors).toEqual([]);
        expect(r.warnings.map((w) => `${w.code} @ ${w.file}`)).toEqual(['EXPIRES_FORMAT @ targets.json']);
      } else {
        expect(where(r)).toEqual(['EXPIRES_FORMAT @ targets.json']);
      }
    },
  );

  it('expires with milliseconds: EXPIRES_FORMAT', async () => {
    const { files } = await buildRepo(d, { targets: (s) => (s.expires = LATER.toISOString()) });
    expect(where(verify(files))).toEqual(['EXPIRES_FORMAT @ targets.json']);
  });

  it('snapshot naming another targets version: META_VERSION_MISMATCH', async () => {
    const { files } = await buildRepo(d, {
      snapshot: (s) => ((s.meta as Record<string, { version: number }>)['targets.json']!.version = 2),
    });
    expect(where(verify(files))).toEqual(['META_VERSION_MISMATCH @ snapshot.json']);
  });

  it('snapshot naming another targets length: META_LENGTH_MISMATCH (ota: a warning, aktualizr never checks it)', async () => {
    const { files } = await buildRepo(d, {
      snapshot: (s) => ((s.meta as Record<string, { length: number }>)['targets.json']!.length += 1),
    });
    const r = verify(files);
    expect(where(r)).toEqual(d === 'tuf' ? ['META_LENGTH_MISMATCH @ snapshot.json'] : []);
    if (d === 'ota')
      expect(r.warnings.map((w) => `${w.code} @ ${w.file}`)).toEqual(['META_LENGTH_MISMATCH @ snapshot.json']);
  });

  it('snapshot naming another targets hash: META_HASH_MISMATCH', async () => {
    const { files } = await buildRepo(d, {
      snapshot: (s) =>
        ((s.meta as Record<string, { hashes: Record<string, string> }>)['targets.json']!.hashes.sha256 = '00'.repeat(
          32,
        )),
    });
    expect(where(verify(files))).toEqual(['META_HASH_MISMATCH @ snapshot.json']);
  });

  it('timestamp naming another snapshot version, length and hash: all three META_* codes', async () => {
    const { files } = await buildRepo(d, {
      timestamp: (s) => {
        const m = (s.meta as Record<string, { version: number; length: number; hashes: Record<string, string> }>)[
          'snapshot.json'
        ]!;
        m.version = 7;
        m.length = 1;
        m.hashes.sha256 = 'ff'.repeat(32);
      },
    });
    expect(where(verify(files))).toEqual([
      'META_HASH_MISMATCH @ timestamp.json',
      'META_LENGTH_MISMATCH @ timestamp.json',
      'META_VERSION_MISMATCH @ timestamp.json',
    ]);
  });

  it('snapshot that does not name targets.json: META_MISSING', async () => {
    const { files } = await buildRepo(d, {
      snapshot: (s) => void delete (s.meta as Record<string, unknown>)['targets.json'],
    });
    expect(where(verify(files))).toEqual(['META_MISSING @ snapshot.json']);
  });

  it('targets.json replaced after the snapshot was made: snapshot reports length and hash', async () => {
    const k = keySets[d];
    const { files } = await buildRepo(d);
    const other = buildTargets(d, 1, LATER, {});
    files['targets.json'] = serialize(await sign(other, d, [k.targets[1]!]));
    expect(codes(verify(files))).toEqual(
      d === 'tuf' ? ['META_HASH_MISMATCH', 'META_LENGTH_MISMATCH'] : ['META_HASH_MISMATCH'],
    );
  });
});

describe.each(DIALECTS)('verifyRepository (%s): canonical content', (d) => {
  it('a float in signed targets content: CANONICAL_FLOAT', async () => {
    const { files } = await buildRepo(d, {
      targetsEnv: (e) => {
        const t = (e.signed.targets as Record<string, { custom: Record<string, unknown> }>)['firmware-1.0.0']!;
        t.custom.ratio = 1.5;
      },
    });
    const r = verify(files);
    expect(where(r)).toEqual(['CANONICAL_FLOAT @ targets.json']);
  });

  it('a float in the trusted root: CANONICAL_FLOAT, and nothing else is looked at', async () => {
    const { files } = await buildRepo(d);
    const env = JSON.parse(files['1.root.json']!.toString()) as Envelope;
    (env.signed as { extra?: unknown }).extra = { weight: 0.25 };
    files['1.root.json'] = Buffer.from(JSON.stringify(env));
    expect(where(verify(files))).toEqual(['CANONICAL_FLOAT @ 1.root.json (trusted)']);
  });

  it('a float where the schema wants an integer (version 1.5): SCHEMA_INVALID', async () => {
    const { files } = await buildRepo(d);
    const env = JSON.parse(files['targets.json']!.toString()) as Envelope;
    env.signed.version = 1.5;
    files['targets.json'] = Buffer.from(JSON.stringify(env));
    expect(codes(verify(files))).toContain('SCHEMA_INVALID');
  });

  it('an integer beyond 2^53 in signed content: CANONICAL_UNSAFE_INTEGER', async () => {
    const { files } = await buildRepo(d, {
      targetsEnv: (e) => {
        const t = (e.signed.targets as Record<string, { custom: Record<string, unknown> }>)['firmware-1.0.0']!;
        t.custom.build = 2 ** 53 + 2;
      },
    });
    expect(files['targets.json']!.toString()).toContain('9007199254740994');
    expect(where(verify(files))).toEqual(['CANONICAL_UNSAFE_INTEGER @ targets.json']);
  });
});

describe('verifyRepository (tuf): spec_version', () => {
  it('root spec_version 2.0.0: SPEC_VERSION', async () => {
    const { files } = await buildRepo('tuf', { root: (s) => (s.spec_version = '2.0.0') });
    expect(where(verify(files))).toEqual(['SPEC_VERSION @ 1.root.json (trusted)']);
  });

  it('root without spec_version: SPEC_VERSION', async () => {
    const { files } = await buildRepo('tuf', { root: (s) => void delete s.spec_version });
    expect(where(verify(files))).toEqual(['SPEC_VERSION @ 1.root.json (trusted)']);
  });

  it('targets spec_version 2.0.0: SPEC_VERSION (tuf-js rejects major != 1 in every role)', async () => {
    const { files } = await buildRepo('tuf', { targets: (s) => (s.spec_version = '2.0.0') });
    // A tuf client refuses this targets file ...
    expect(() => Metadata.fromJSON(MetadataKind.Targets, JSON.parse(files['targets.json']!.toString()))).toThrow(
      /specVersion/,
    );
    // ... so the verifier must not pass it.
    expect(where(verify(files))).toEqual(['SPEC_VERSION @ targets.json']);
  });

  it('ota metadata needs no spec_version', async () => {
    const { files } = await buildRepo('ota');
    expect(JSON.parse(files['root.json']!.toString()).signed.spec_version).toBeUndefined();
    expect(verify(files).ok).toBe(true);
  });
});

describe('duplicate key material: this verifier vs tuf-js', () => {
  it('tuf-js counts key ids and accepts it; so does verifyRepository, with a DUPLICATE_KEY_MATERIAL warning', async () => {
    const d: Dialect = 'tuf';
    const k = keySets[d];
    const t0 = k.targets[0]!;
    // A second, genuinely derived tuf key id for the same key: an extra (signed) field changes the id.
    const alias: MetadataKey = { ...toMetadataKey(t0.publicKey, d), keyid_hash_algorithms: ['sha256', 'sha512'] };
    const aliasId = keyId(alias, d);
    const t0Id = keyIdOf(t0.publicKey, d);
    expect(aliasId).not.toBe(t0Id);
    const { files } = await buildRepo(d, {
      root: (s) => {
        (s.keys as Record<string, MetadataKey>)[aliasId] = alias;
        (s.roles as Record<string, { keyids: string[]; threshold: number }>).targets = {
          keyids: [t0Id, aliasId],
          threshold: 2,
        };
      },
      targetsSigners: [t0],
      targetsEnv: async (e) => {
        e.signatures.push(await sigAs(e.signed, d, t0, aliasId));
      },
    });
    // The client's verdict (valid), with the warning that one key is counted twice.
    const r = verify(files);
    expect(r.ok).toBe(true);
    expect(r.warnings.map((w) => w.code)).toEqual(['DUPLICATE_KEY_MATERIAL']);
    // tuf-js (@tufjs/models, which the tuf-js client uses) counts the two key ids as two keys.
    const root = Metadata.fromJSON(MetadataKind.Root, JSON.parse(files['1.root.json']!.toString()));
    const targets = Metadata.fromJSON(MetadataKind.Targets, JSON.parse(files['targets.json']!.toString()));
    expect(() => root.verifyDelegate('targets', targets)).not.toThrow();
    // Sanity: tuf-js does enforce the threshold when only one key id signs.
    const oneSig = JSON.parse(files['targets.json']!.toString());
    oneSig.signatures = oneSig.signatures.slice(0, 1);
    expect(() => root.verifyDelegate('targets', Metadata.fromJSON(MetadataKind.Targets, oneSig))).toThrow();
  });
});

// ---------------------------------------------------------------------------------------------
// The client's verdict, shaped as other tools write metadata (docs/reference/dialects.md).
// tuf: where tuf-js can say, its verdict sits beside ours; python-tuf's rules cite its source.

const warned = (r: VerifyReport) => r.warnings.map((w) => `${w.code} @ ${w.file}`);
/** tuf-js's verdict on a role file, through @tufjs/models as its Updater uses them. */
function tufJsAccepts(rootFile: Buffer, file: Buffer, role: 'root' | 'targets' | 'snapshot' | 'timestamp'): boolean {
  try {
    const root = Metadata.fromJSON(MetadataKind.Root, JSON.parse(rootFile.toString()));
    const kind = {
      root: MetadataKind.Root,
      targets: MetadataKind.Targets,
      snapshot: MetadataKind.Snapshot,
      timestamp: MetadataKind.Timestamp,
    }[role];
    root.verifyDelegate(role, Metadata.fromJSON(kind as MetadataKind.Targets, JSON.parse(file.toString())));
    return true;
  } catch {
    return false;
  }
}

describe("the client's verdict: ota as OTA Connect writes it and aktualizr reads it", () => {
  it(
    "director targets of version 0, with ecuIdentifiers and a correlationId, as OTA Connect's director serves " +
      'them: valid',
    async () => {
      const k = keySets.ota;
      const { files } = await buildRepo('ota', {
        targets: (s) => {
          s.version = 0;
          s.custom = { correlationId: 'urn:here-ota:campaign:1' };
          s.targets = {
            'fw-1.0.0': {
              ...targetFor(FIRMWARE),
              custom: { ecuIdentifiers: { 'serial-1': { hardwareId: 'ecu' } }, uri: null },
            },
          };
        },
        snapshot: (s) => ((s.meta as Record<string, { version: number }>)['targets.json']!.version = 0),
      });
      const r = verify(files);
      expect(r.errors).toEqual([]);
      expect(r.roles.targets!.version).toBe(0);
      expect(k.targets.length).toBe(2);
    },
  );

  it(
    'signature methods: any case of ed25519 / rsassa-pss(-sha256) is fine; another, or none, fails the whole ' +
      'file (SIGNATURE_METHOD)',
    async () => {
      const upper = await buildRepo('ota', { targetsEnv: (e) => void (e.signatures[0]!.method = 'ED25519') });
      expect(verify(upper.files).errors).toEqual([]);
      const odd = await buildRepo('ota', {
        targetsEnv: async (e) => {
          // An extra signature by a key root does not know: aktualizr still refuses its method.
          e.signatures.push({ keyid: 'cd'.repeat(32), method: 'rsa-pss', sig: e.signatures[0]!.sig });
        },
      });
      expect(where(verify(odd.files))).toEqual(['SIGNATURE_METHOD @ targets.json']);
      const none = await buildRepo('ota', { targetsEnv: (e) => void delete e.signatures[0]!.method });
      expect(codes(verify(none.files))).toEqual(['SIGNATURE_METHOD', 'THRESHOLD_UNMET']);
    },
  );

  it(
    'key types: ECDSA in root makes aktualizr refuse it (OTA_KEY_UNSUPPORTED); an RSA-1024 key it cannot use ' +
      'only never counts (a warning)',
    async () => {
      const ec = generateKeyPair('ecdsa').publicKey;
      const ecdsa = await buildRepo('ota', {
        root: (s) =>
          ((s.keys as Record<string, unknown>)['ee'.repeat(32)] = {
            keytype: 'ECDSA',
            keyval: { public: ec.keyObject.export({ type: 'spki', format: 'pem' }).toString() },
          }),
      });
      expect(where(verify(ecdsa.files))).toEqual(['OTA_KEY_UNSUPPORTED @ 1.root.json (trusted)']);
      const small = crypto
        .generateKeyPairSync('rsa', { modulusLength: 1024 })
        .publicKey.export({ type: 'spki', format: 'pem' })
        .toString();
      const rsa1024 = await buildRepo('ota', {
        root: (s) =>
          ((s.keys as Record<string, unknown>)['aa'.repeat(32)] = { keytype: 'RSA', keyval: { public: small } }),
      });
      const r = verify(rsa1024.files);
      expect(r.errors).toEqual([]);
      expect(warned(r)).toEqual(['KEY_UNSUPPORTED @ 1.root.json (trusted)']);
    },
  );

  it(
    'snapshot and timestamp hashes are of the canonical form (pretty-printed files verify); raw-byte hashes of a ' +
      'pretty file do not',
    async () => {
      // serialize() pretty-prints; buildSnapshot hashes the canonical form in ota
      const { files } = await buildRepo('ota');
      expect(files['targets.json']!.toString()).toContain('\n  ');
      expect(verify(files).errors).toEqual([]);
      const raw = await buildRepo('ota', {
        snapshot: (s) =>
          ((s.meta as Record<string, { hashes: Record<string, string> }>)['targets.json']!.hashes = {
            sha256: crypto.createHash('sha256').update(files['targets.json']!).digest('hex'),
          }),
      });
      expect(where(verify(raw.files))).toEqual(['META_HASH_MISMATCH @ snapshot.json']);
    },
  );

  it(
    'timestamp: the snapshot length is a download bound (larger: a warning; smaller than the file: an error), ' +
      'and a length and a sha256/sha512 hash are required (META_INCOMPLETE)',
    async () => {
      const bigger = await buildRepo('ota', {
        timestamp: (s) => ((s.meta as Record<string, { length: number }>)['snapshot.json']!.length += 100),
      });
      expect(verify(bigger.files).errors).toEqual([]);
      expect(warned(verify(bigger.files))).toEqual(['META_LENGTH_MISMATCH @ timestamp.json']);
      const smaller = await buildRepo('ota', {
        timestamp: (s) => ((s.meta as Record<string, { length: number }>)['snapshot.json']!.length -= 1),
      });
      expect(where(verify(smaller.files))).toEqual(['META_LENGTH_MISMATCH @ timestamp.json']);
      const bare = await buildRepo('ota', {
        timestamp: (s) => ((s.meta as Record<string, unknown>)['snapshot.json'] = { version: 1 }),
      });
      expect(where(verify(bare.files))).toEqual(['META_INCOMPLETE @ timestamp.json']);
      // A tuf timestamp may name the version alone.
      const tufBare = await buildRepo('tuf', {
        timestamp: (s) => ((s.meta as Record<string, unknown>)['snapshot.json'] = { version: 1 }),
      });
      expect(verify(tufBare.files).errors).toEqual([]);
    },
  );

  it(
    'non-ASCII content: signed over the bytes aktualizr computes (\\uXXXX) it verifies, with OTA_NON_ASCII; ' +
      'signed over UTF-8 it does not',
    async () => {
      const k = keySets.ota;
      const name = {
        targets: (s: Signed) =>
          void ((s.targets as Record<string, { custom: Record<string, unknown> }>)['firmware-1.0.0']!.custom.name =
            'fïrmware'),
      };
      const utf8 = await buildRepo('ota', name);
      const r = verify(utf8.files);
      expect(where(r)).toEqual(['SIGNATURE_INVALID @ targets.json', 'THRESHOLD_UNMET @ targets.json']);
      expect(r.errors[0]!.message).toContain('aktualizr escapes non-ASCII');
      const escaped = await buildRepo('ota', {
        ...name,
        targetsEnv: async (e) => {
          const jsoncpp = Buffer.from(canonicalize(e.signed, 'ota').toString('utf8').replace('ï', '\\u00ef'), 'latin1');
          e.signatures[0]!.sig = (await k.targets[0]!.sign(jsoncpp)).toString('base64');
        },
      });
      const ok = verify(escaped.files);
      expect(ok.errors).toEqual([]);
      expect(warned(ok)).toContain('OTA_NON_ASCII @ targets.json');
    },
  );

  it(
    'an RSA-PSS signature with salt 20: aktualizr accepts it (valid, OTA_PSS_SALT warns that the OTA Connect ' +
      'servers would not)',
    async () => {
      const { files } = await buildRepo('ota');
      const rsaKey = testRsaPair('rsa-2048-c');
      const salt20: Signer = {
        publicKey: rsaKey.publicKey,
        sign: async (b) =>
          crypto.sign('sha256', b, {
            key: rsaKey.privateKey,
            padding: crypto.constants.RSA_PKCS1_PSS_PADDING,
            saltLength: 20,
          }),
      };
      const root = rootSigned('ota', 1, roles(keySets.ota, { root: { keys: [salt20], threshold: 1 } }));
      const rootFile = serialize(await sign(root, 'ota', [salt20]));
      const r = verify({ ...files, '1.root.json': rootFile, 'root.json': rootFile });
      expect(r.errors).toEqual([]);
      expect(warned(r)).toEqual(['OTA_PSS_SALT @ 1.root.json (trusted)']);
    },
  );

  it('a snapshot listing a stale root.json (ota-tuf lists it): SNAPSHOT_LISTS_ROOT, never an error', async () => {
    const { files } = await buildRepo('ota', {
      snapshot: (s) =>
        ((s.meta as Record<string, unknown>)['root.json'] = {
          version: 7,
          length: 1,
          hashes: { sha256: '00'.repeat(32) },
        }),
    });
    const r = verify(files);
    expect(r.errors).toEqual([]);
    expect(warned(r)).toEqual(['SNAPSHOT_LISTS_ROOT @ snapshot.json']);
  });
});

describe("the client's verdict: tuf as python-tuf and tuf-js read it", () => {
  it('a role naming a key id absent from keys: tuf-js skips it as we do (a warning)', async () => {
    const { files } = await buildRepo('tuf', {
      root: (s) => (s.roles as Record<string, { keyids: string[] }>).targets!.keyids.push('ab'.repeat(32)),
    });
    expect(tufJsAccepts(files['1.root.json']!, files['targets.json']!, 'targets')).toBe(true);
    expect(verify(files).ok).toBe(true);
  });

  it('a threshold above 1000: tuf-js and python-tuf set no bound, so it is only unmet', async () => {
    const { files } = await buildRepo('tuf', {
      root: (s) => ((s.roles as Record<string, { threshold: number }>).targets!.threshold = 1001),
    });
    expect(tufJsAccepts(files['1.root.json']!, files['1.root.json']!, 'root')).toBe(true);
    expect(tufJsAccepts(files['1.root.json']!, files['targets.json']!, 'targets')).toBe(false);
    expect(where(verify(files))).toEqual(['THRESHOLD_UNMET @ targets.json']);
  });

  it('refused where python-tuf refuses, even when tuf-js would take it: version 0, an empty hashes, a fifth role', async () => {
    const v0 = await buildRepo('tuf', {
      targets: (s) => (s.version = 0),
      snapshot: (s) => ((s.meta as Record<string, { version: number }>)['targets.json']!.version = 0),
    });
    expect(tufJsAccepts(v0.files['1.root.json']!, v0.files['targets.json']!, 'targets')).toBe(true);
    expect(codes(verify(v0.files))).toEqual(['SCHEMA_INVALID']);
    expect(verify(v0.files).errors[0]!.message).toContain('python-tuf');
    const empty = await buildRepo('tuf', {
      targets: (s) => ((s.targets as Record<string, { hashes: object }>)['firmware-1.0.0']!.hashes = {}),
    });
    expect(tufJsAccepts(empty.files['1.root.json']!, empty.files['targets.json']!, 'targets')).toBe(true);
    expect(where(verify(empty.files))).toEqual(['SCHEMA_INVALID @ targets.json']);
    const fifth = await buildRepo('tuf', {
      root: (s) => ((s.roles as Record<string, unknown>).mirrors = { keyids: [], threshold: 1 }),
    });
    expect(tufJsAccepts(fifth.files['1.root.json']!, fifth.files['1.root.json']!, 'root')).toBe(true);
    expect(where(verify(fifth.files))).toEqual(['ROLE_UNKNOWN @ 1.root.json (trusted)']);
  });

  it('refused where both refuse: a key id listed twice in a role, a key without scheme, no consistent_snapshot', async () => {
    const twice = await buildRepo('tuf', {
      root: (s) => {
        const t = (s.roles as Record<string, { keyids: string[] }>).targets!;
        t.keyids.push(t.keyids[0]!);
      },
    });
    expect(tufJsAccepts(twice.files['1.root.json']!, twice.files['1.root.json']!, 'root')).toBe(false);
    expect(where(verify(twice.files))).toEqual(['ROLE_KEY_DUPLICATE @ 1.root.json (trusted)']);
    const noScheme = await buildRepo('tuf', {
      root: (s) => {
        const keys = s.keys as Record<string, { scheme?: string }>;
        delete keys[Object.keys(keys)[0]!]!.scheme;
      },
    });
    expect(tufJsAccepts(noScheme.files['1.root.json']!, noScheme.files['1.root.json']!, 'root')).toBe(false);
    expect(codes(verify(noScheme.files))).toContain('KEY_UNSUPPORTED');
    const noCs = await buildRepo('tuf', { root: (s) => void delete s.consistent_snapshot });
    expect(tufJsAccepts(noCs.files['1.root.json']!, noCs.files['1.root.json']!, 'root')).toBe(false);
    expect(where(verify(noCs.files))).toEqual(['SCHEMA_INVALID @ 1.root.json (trusted)']);
  });

  it(
    'snapshot hashes: an algorithm a client cannot compute, or uppercase hex, fails as it fails in python-tuf ' +
      'and tuf-js',
    async () => {
      const blake = await buildRepo('tuf', {
        snapshot: (s) =>
          ((s.meta as Record<string, { hashes: Record<string, string> }>)['targets.json']!.hashes['blake2b-256'] =
            '00'.repeat(32)),
      });
      expect(where(verify(blake.files))).toEqual(['META_HASH_UNSUPPORTED @ snapshot.json']);
      const upper = await buildRepo('tuf', {
        snapshot: (s) => {
          const h = (s.meta as Record<string, { hashes: Record<string, string> }>)['targets.json']!.hashes;
          h.sha256 = h.sha256!.toUpperCase();
        },
      });
      expect(where(verify(upper.files))).toEqual(['META_HASH_MISMATCH @ snapshot.json']);
    },
  );

  it(
    "expires as python-tuf's strptime reads it: one-digit fields and lowercase t/z pass with a warning; tuf-js " +
      'never refuses a date',
    async () => {
      const odd = await buildRepo('tuf', { targets: (s) => (s.expires = '2031-1-2t3:4:5z') });
      expect(tufJsAccepts(odd.files['1.root.json']!, odd.files['targets.json']!, 'targets')).toBe(true);
      const r = verify(odd.files);
      expect(r.errors).toEqual([]);
      expect(warned(r)).toEqual(['EXPIRES_FORMAT @ targets.json']);
      expect(r.warnings[0]!.message).toContain('2031-01-02T03:04:05Z');
    },
  );
});
