/**
 * OTA Connect / garage-sign interoperability, with a real `quorum serve` and real `quorum-signer`
 * processes that sign (the `quorum` admin commands, the keyholders' keygen, import-garage-sign,
 * join and review, and signatures that only release what a later check reads, run in this process
 * through their command trees: the same code and output, without a process each; the guides run
 * them as processes):
 *
 * - every file under test/fixtures/garage-sign parses and gives the key ids PROVENANCE.md
 *   names; the fixture root is rejected as PROVENANCE.md says;
 * - ota-tuf's own output (the ota-tuf-server fixture, the garage-sign fixture root) passes our
 *   model of the keyserver's upload check, and our RSA PEM is byte-identical to BouncyCastle's;
 * - import of a garage-sign folder and of a credentials.zip reads no secret: the data dir holds
 *   none of treehub.json, config.json, TLS credentials or private keys, not even in SQLite;
 * - the "take keys offline" flow end to end: a server-held root key handed to a keyholder as a
 *   garage-sign .sec, a root round replacing root and targets keys with three keyholders (2-of-3)
 *   signed by the old root key and the new threshold, `quorum verify`, targets rounds under the
 *   new keys, and `quorum export ota-tuf` whose root and targets pass a canonical re-encoding
 *   test as the ota-tuf server does it, with exactly the fields ota-tuf's models know;
 * - the ota-tuf-server fixture imported (evaluated at 2018-05-01), and its targets carried byte
 *   for byte into a round of a new repository that keyholders sign;
 * - exports that ota-tuf would reject are refused with exit 1 and a code per problem.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkOtaTuf } from '../../coordinator/garage-sign.js';
import {
  generateKeyPair,
  keyId,
  parseGarageSignPrivate,
  parseGarageSignPublic,
  publicKeyFrom,
  toMetadataKey,
  type MetadataKey,
  type PublicKey,
} from '../../protocol/keys.js';
import {
  buildRoot,
  buildTargets,
  daysFrom,
  localSigner,
  serialize,
  signEnvelope,
  targetFor,
  type Envelope,
  type Signer,
} from '../../protocol/metadata/build.js';
import type { RoundInfo } from '../../protocol/wire.js';
import { parseMetadata } from '../../protocol/verify.js';
import { FIXTURES } from '../paths.js';
import { testRsaPair } from '../test-keys.js';
import { decryptKey, encryptKey, readKeyFile, writeKeyFile } from '../../signer-client/keystore.js';
import {
  auditEvents,
  Coordinator,
  keygenHere,
  newRepo,
  PASSPHRASE,
  passphraseFile,
  quorumHere,
  type Repo,
  type RunResult,
  signer,
  signerHere,
  signHere,
  TEST_SCRYPT_N,
  tmpdir,
  until,
} from './harness.js';
import { gsPub, gsSec, spaces2 } from './garage-sign-files.js';
import { canonicalOf, connect, keyidIn, keySigner } from './wire-client.js';

/** ota-tuf's upload bodies, read loosely (untyped JSON) to re-encode them as the server's codecs do. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- untyped on purpose
type Json = Record<string, any>;

/**
 * RSA-2048 key pairs, made once for the tests (test/test-keys.ts) and shared, none of which is about
 * generating them (one costs 0.2 s of CPU on average); tests that need distinct keys take distinct
 * indexes (0 to 2).
 */
const rsaPair = (n: 0 | 1 | 2) => testRsaPair((['rsa-2048-a', 'rsa-2048-b', 'rsa-2048-c'] as const)[n]);

const dirs: string[] = [];
const cleanup: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanup) await c();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = tmpdir('quorum-gs-');
  dirs.push(d);
  return d;
}

const fx = (...p: string[]) => path.join(FIXTURES, ...p);
const ok = (r: RunResult) => expect(r.code, `stdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(0);
const sha256 = (b: crypto.BinaryLike) => crypto.createHash('sha256').update(b).digest('hex');
const ED25519_SPKI = Buffer.from('302a300506032b6570032100', 'hex');

// --- an independent model of what ota-tuf does with an upload ----------------------------------

/** Canonical JSON as ota-tuf writes it (circe noSpaces over recursively sorted keys), for ASCII content. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/** PEM as BouncyCastle's JcaPEMWriter writes a public key: 64-character base64 lines, trailing newline. */
function bouncyCastlePem(der: Buffer): string {
  return `-----BEGIN PUBLIC KEY-----\n${der
    .toString('base64')
    .match(/.{1,64}/g)!
    .join('\n')}\n-----END PUBLIC KEY-----\n`;
}

function spkiOf(k: { keytype: string; keyval: { public: string } }): Buffer {
  const ko =
    k.keytype === 'RSA'
      ? crypto.createPublicKey(k.keyval.public)
      : crypto.createPublicKey({
          key: Buffer.concat([ED25519_SPKI, Buffer.from(k.keyval.public, 'hex')]),
          format: 'der',
          type: 'spki',
        });
  return ko.export({ type: 'spki', format: 'der' });
}

const keysOf = (o: object) => Object.keys(o).sort();

/**
 * RootRole decoded and re-encoded, as the keyserver does before comparing canonical bytes
 * (libtuf RootRoleValidation.rootRawJsonIsValid). Asserts exactly the model's fields on the way.
 */
function otaTufRootReencode(s: Json): unknown {
  expect(keysOf(s)).toEqual(['_type', 'consistent_snapshot', 'expires', 'keys', 'roles', 'version']);
  expect(s._type).toBe('Root');
  expect(s.expires).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
  const keys: Record<string, unknown> = {};
  for (const [id, k] of Object.entries(s.keys as Json)) {
    expect(keysOf(k)).toEqual(['keytype', 'keyval']);
    expect(keysOf(k.keyval)).toEqual(['public']);
    expect(['RSA', 'ED25519']).toContain(k.keytype);
    const der = spkiOf(k);
    expect(sha256(der), 'ota-tuf key id: sha256 of the DER SubjectPublicKeyInfo').toBe(id);
    keys[id] = {
      keytype: k.keytype,
      keyval: { public: k.keytype === 'RSA' ? bouncyCastlePem(der) : der.subarray(12).toString('hex') },
    };
  }
  const roles: Record<string, unknown> = {};
  for (const [name, r] of Object.entries(s.roles as Json)) {
    expect(['root', 'targets', 'snapshot', 'timestamp']).toContain(name);
    expect(keysOf(r)).toEqual(['keyids', 'threshold']);
    roles[name] = { keyids: r.keyids, threshold: r.threshold };
  }
  return {
    _type: 'Root',
    consistent_snapshot: s.consistent_snapshot,
    expires: s.expires,
    keys,
    roles,
    version: s.version,
  };
}

const TARGET_CUSTOM = [
  'cliUploaded',
  'createdAt',
  'hardwareIds',
  'name',
  'targetFormat',
  'updatedAt',
  'uri',
  'version',
];

/** TargetsRole with ClientTargetItem and TargetCustom, re-encoded. */
function otaTufTargetsReencode(s: Json, extraCustom: string[] = []): unknown {
  expect(keysOf(s)).toEqual(['_type', 'expires', 'targets', 'version']);
  expect(s._type).toBe('Targets');
  const targets: Record<string, unknown> = {};
  for (const [name, t] of Object.entries(s.targets as Json)) {
    expect(keysOf(t)).toEqual(['custom', 'hashes', 'length']);
    expect(keysOf(t.hashes)).toEqual(['sha256']);
    for (const k of Object.keys(t.custom)) expect([...TARGET_CUSTOM, ...extraCustom]).toContain(k);
    expect(t.custom.createdAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    expect(t.custom.updatedAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    targets[name] = { custom: t.custom, hashes: { sha256: t.hashes.sha256 }, length: t.length };
  }
  return { _type: 'Targets', expires: s.expires, targets, version: s.version };
}

/** The exported file passes what the ota-tuf server does: re-encode `signed`, compare canonical bytes. */
function assertOtaTufUpload(file: string, role: 'root' | 'targets'): Json {
  const doc = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    signatures: Record<string, unknown>[];
    signed: Json;
  };
  expect(keysOf(doc)).toEqual(['signatures', 'signed']);
  for (const sig of doc.signatures) {
    expect(keysOf(sig)).toEqual(['keyid', 'method', 'sig']);
    expect(['ed25519', 'rsassa-pss-sha256']).toContain(sig.method);
  }
  const raw = canonical(doc.signed);
  expect(/^[\x20-\x7e]*$/.test(raw), 'printable ASCII only').toBe(true);
  const re = role === 'root' ? otaTufRootReencode(doc.signed) : otaTufTargetsReencode(doc.signed);
  expect(canonical(re)).toBe(raw);
  // And our own canonical form (what every signature is over) is the same bytes.
  expect(parseMetadata(fs.readFileSync(file), path.basename(file), role, 'ota').canonical.toString('utf8')).toBe(raw);
  return doc.signed;
}

/** Every file under `dir`, recursively. */
function allFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...allFiles(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/** No file in `dir` (SQLite database, WAL, releases, tokens) contains any of `secrets`. */
function assertNoSecrets(dir: string, secrets: string[]): void {
  const files = allFiles(dir);
  expect(files.some((f) => f.endsWith('quorum.db'))).toBe(true);
  for (const f of files) {
    const b = fs.readFileSync(f);
    for (const s of secrets) expect(b.includes(Buffer.from(s)), `${f} contains ${s.slice(0, 24)}…`).toBe(false);
  }
}

function meta(dataDir: string, key: string): string | undefined {
  const db = new Database(path.join(dataDir, 'quorum.db'), { readonly: true });
  try {
    return (db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined)?.value;
  } finally {
    db.close();
  }
}

// -----------------------------------------------------------------------------------------------

describe('garage-sign fixtures', () => {
  const dir = fx('garage-sign', 'credentials-ed25519');
  const TARGETS_ID = '5959a6869e4e03bd27ea933651ab7756ebeaa178aee92f4103b9baa9c2da3901';

  it('every file parses and gives the key ids PROVENANCE.md names', () => {
    const files = fs.readdirSync(dir).sort();
    expect(files).toEqual(['root.json', 'targets.pub', 'targets.sec']);
    const pub = parseGarageSignPublic(JSON.parse(fs.readFileSync(path.join(dir, 'targets.pub'), 'utf8')));
    expect(keyId(toMetadataKey(pub, 'ota'), 'ota')).toBe(TARGETS_ID);
    const priv = parseGarageSignPrivate(JSON.parse(fs.readFileSync(path.join(dir, 'targets.sec'), 'utf8')));
    expect(publicKeyFrom(priv).fingerprint).toBe(TARGETS_ID);
    const root = parseMetadata(fs.readFileSync(path.join(dir, 'root.json')), 'root.json', 'root');
    expect(root.dialect).toBe('ota');
    const keys = root.signed.keys as Record<string, MetadataKey>;
    // Every key id in the root is ota-tuf's: sha256 of the DER SubjectPublicKeyInfo.
    for (const [id, k] of Object.entries(keys)) expect(keyId(k, 'ota')).toBe(id);
    expect(Object.keys(keys).sort()).toEqual([
      '4624064293b472dfe009d625dc479e4c06749643ddcd432bc77c3c4fde82539e',
      TARGETS_ID,
      '76c9cdc9ebb914133609ce3f6ce59f0bd1446ad42565b3af5ace7a1590f77b2a',
    ]);
    expect(root.signed.roles.targets!.keyids).toEqual([TARGETS_ID]);
    // ota-tuf wrote it: our model of the keyserver's re-encoding check accepts its structure.
    expect(checkOtaTuf('root', fs.readFileSync(path.join(dir, 'root.json')), 'root.json')).toEqual([]);
  });

  it("the reposerver's key-pair answer (GET user_repo/root/private_keys/ID) imports like a .sec", async () => {
    // What `garage-sign move-offline` fetches before it deletes the server's root key: a TufKeyPair,
    // {keytype, keyval: {public, private}}, the private half PKCS#1 PEM as BouncyCastle writes it.
    const d = tmp();
    const k = rsaPair(0);
    const pair = {
      keytype: 'RSA',
      keyval: {
        public: toMetadataKey(k.publicKey, 'ota').keyval.public,
        private: k.privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
      },
    };
    fs.writeFileSync(path.join(d, 'root-key.json'), spaces2(pair));
    const r = await signerHere([
      'import-garage-sign',
      path.join(d, 'root-key.json'),
      '--out',
      path.join(d, 'oldroot'),
      '--scrypt-n',
      TEST_SCRYPT_N,
      '--passphrase-file',
      passphraseFile(),
    ]);
    ok(r);
    expect(r.stdout).toContain(`key id: ota ${k.publicKey.fingerprint}`);
  });

  it('import refuses the fixture root (bad signature) and creates nothing', async () => {
    const d = tmp();
    const r = await quorumHere([
      'init',
      '--data-dir',
      path.join(d, 'data'),
      '--import-garage-sign',
      dir,
      '--at',
      '2018-06-01T00:00:00Z',
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('SIGNATURE_INVALID');
    expect(r.stderr).toContain('THRESHOLD_UNMET');
    expect(fs.existsSync(path.join(d, 'data', 'quorum.db'))).toBe(false);
    // The same files as a credentials.zip: refused the same way.
    const zip = path.join(d, 'credentials.zip');
    fs.writeFileSync(
      zip,
      zipSync(
        Object.fromEntries(fs.readdirSync(dir).map((f) => [f, new Uint8Array(fs.readFileSync(path.join(dir, f)))])),
      ),
    );
    const z = await quorumHere([
      'init',
      '--data-dir',
      path.join(d, 'data2'),
      '--import-garage-sign',
      zip,
      '--at',
      '2018-06-01T00:00:00Z',
    ]);
    expect(z.code).toBe(2);
    expect(z.stderr).toContain('SIGNATURE_INVALID');
    expect(fs.existsSync(path.join(d, 'data2', 'quorum.db'))).toBe(false);
  });
});

describe('ota-tuf server output against our model of the server', () => {
  it('RSA public keys re-encode to the exact PEM BouncyCastle wrote, and the fixture passes the upload check', () => {
    const roots = [fx('ota-tuf-server', 'repo', 'root.json'), fx('garage-sign', 'credentials-ed25519', 'root.json')];
    let rsa = 0;
    for (const f of roots) {
      const s = JSON.parse(fs.readFileSync(f, 'utf8')).signed as { keys: Record<string, MetadataKey> };
      for (const [id, k] of Object.entries(s.keys)) {
        if (k.keytype !== 'RSA') continue;
        rsa++;
        const pk = publicKeyFrom(k.keyval.public);
        expect(toMetadataKey(pk, 'ota')).toEqual({ keytype: 'RSA', keyval: { public: k.keyval.public } });
        expect(bouncyCastlePem(pk.spki)).toBe(k.keyval.public);
        expect(pk.fingerprint).toBe(id);
      }
    }
    expect(rsa).toBe(6);
    expect(checkOtaTuf('root', fs.readFileSync(roots[0]!), 'root.json')).toEqual([]);
    expect(
      checkOtaTuf('targets', fs.readFileSync(fx('ota-tuf-server', 'repo', 'targets.json')), 'targets.json'),
    ).toEqual([]);
    // The independent model agrees: the real server's root re-encodes to its own signed bytes.
    assertOtaTufUpload(roots[0]!, 'root');
  });

  it('refuses what ota-tuf would reject or rewrite', () => {
    const base = JSON.parse(fs.readFileSync(fx('ota-tuf-server', 'repo', 'root.json'), 'utf8')) as Envelope;
    const codes = (role: 'root' | 'targets', doc: unknown) =>
      checkOtaTuf(role, Buffer.from(JSON.stringify(doc)), 'x').map((p) => p.code);
    const edit = (f: (s: Json) => void) => {
      const d = structuredClone(base) as Envelope & { signed: Json };
      f(d.signed);
      return d;
    };
    expect(
      codes(
        'root',
        edit((s) => (s.comment = 'x')),
      ),
    ).toContain('OTA_EXPORT_UNKNOWN_FIELD');
    expect(
      codes(
        'root',
        edit((s) => (s.expires = '2019-02-10T13:33:02.000Z')),
      ),
    ).toContain('OTA_EXPORT_FIELD');
    expect(
      codes(
        'root',
        edit((s) => (s._type = 'root')),
      ),
    ).toContain('OTA_EXPORT_FIELD');
    const id = Object.keys(base.signed.keys as object)[0]!;
    const pem = (base.signed.keys as Record<string, MetadataKey>)[id]!.keyval.public;
    // The same key as other PEM text (no trailing newline; 76-character lines): ota-tuf re-encodes
    // it as BouncyCastle writes it, so the canonical bytes differ.
    expect(
      codes(
        'root',
        edit((s) => (s.keys[id].keyval.public = pem.trimEnd())),
      ),
    ).toContain('OTA_EXPORT_REENCODE');
    const b64 = pem
      .split('\n')
      .filter((l) => l && !l.startsWith('-----'))
      .join('');
    const wide = `-----BEGIN PUBLIC KEY-----\n${b64.match(/.{1,76}/g)!.join('\n')}\n-----END PUBLIC KEY-----\n`;
    expect(publicKeyFrom(wide).fingerprint).toBe(id);
    expect(
      codes(
        'root',
        edit((s) => (s.keys[id].keyval.public = wide)),
      ),
    ).toEqual(['OTA_EXPORT_REENCODE']);
    expect(
      codes(
        'root',
        edit((s) => (s.keys[id].keytype = 'rsa')),
      ),
    ).toContain('OTA_EXPORT_FIELD');
    expect(
      codes(
        'root',
        edit((s) => (s.keys['0'.repeat(64)] = s.keys[id])),
      ),
    ).toContain('OTA_EXPORT_KEY_ID');
    const ec = generateKeyPair('ecdsa').publicKey;
    expect(
      codes(
        'root',
        edit(
          (s) => (s.keys[ec.fingerprint] = { keytype: 'ECPRIME256V1', keyval: { public: ec.spki.toString('hex') } }),
        ),
      ),
    ).toContain('OTA_EXPORT_KEY_UNSUPPORTED');
    const t = JSON.parse(fs.readFileSync(fx('ota-tuf-server', 'repo', 'targets.json'), 'utf8')) as Envelope & {
      signed: Json;
    };
    const name = Object.keys(t.signed.targets)[0]!;
    const tedit = (f: (s: Json) => void) => {
      const d = structuredClone(t);
      f(d.signed);
      return d;
    };
    expect(
      codes(
        'targets',
        tedit((s) => (s.targets[name].custom.name = 'fïrmware')),
      ),
    ).toContain('OTA_EXPORT_NON_ASCII');
    expect(
      codes(
        'targets',
        tedit((s) => (s.targets[name].hashes.sha512 = 'ab'.repeat(64))),
      ),
    ).toContain('OTA_EXPORT_TARGET');
    expect(
      codes(
        'targets',
        tedit((s) => delete s.targets[name].custom.createdAt),
      ),
    ).toContain('OTA_EXPORT_TARGET');
    expect(
      codes(
        'targets',
        tedit((s) => delete s.targets[name].custom),
      ),
    ).toContain('OTA_EXPORT_TARGET');
    expect(
      codes(
        'targets',
        tedit((s) => (s.targets[name].extra = 1)),
      ),
    ).toContain('OTA_EXPORT_UNKNOWN_FIELD');
    expect(
      codes(
        'targets',
        tedit((s) => (s._type = 'targets')),
      ),
    ).toContain('OTA_EXPORT_FIELD');
    // Unknown keys inside custom are ota-tuf's "proprietary" custom data: kept, not refused.
    expect(
      codes(
        'targets',
        tedit((s) => (s.targets[name].custom.ecuSerial = 'abc')),
      ),
    ).toEqual([]);
  });
});

describe('import from credentials.zip', () => {
  it('reads only root.json, *.pub and tufrepo.url: no secret reaches the data dir', async () => {
    const d = tmp();
    const rootKey = rsaPair(0);
    const targetsKey = generateKeyPair('ed25519');
    const online = generateKeyPair('ed25519');
    const now = new Date();
    const roles = {
      root: { keys: [rootKey.publicKey], threshold: 1 },
      targets: { keys: [targetsKey.publicKey], threshold: 1 },
      snapshot: { keys: [online.publicKey], threshold: 1 },
      timestamp: { keys: [online.publicKey], threshold: 1 },
    };
    const root = await signEnvelope(
      buildRoot({ dialect: 'ota', version: 1, expires: daysFrom(now, 365), roles }),
      'ota',
      [localSigner(rootKey.privateKey)],
    );
    const SECRET = `client-secret-${crypto.randomBytes(8).toString('hex')}`;
    const P12 = `p12-${crypto.randomBytes(8).toString('hex')}`;
    const sec = gsSec(targetsKey.privateKey);
    const privHex = (JSON.parse(sec) as { keyval: { private: string } }).keyval.private;
    const u8 = (s: string | Buffer) => new Uint8Array(Buffer.from(s));
    const zip = path.join(d, 'credentials.zip');
    fs.writeFileSync(
      zip,
      zipSync({
        'treehub.json': u8(
          spaces2({
            no_auth: false,
            oauth2: { server: 'https://auth.example.test', client_id: 'cid', client_secret: SECRET },
            ostree: { server: 'https://treehub.example.test/api/v3' },
          }),
        ),
        'tufrepo.url': u8('https://tuf.example.test/\n'),
        'root.json': u8(spaces2(root)),
        'targets.pub': u8(gsPub(targetsKey.publicKey)),
        'targets.sec': u8(sec),
        'client_auth.p12': u8(P12),
        'autoprov_credentials.p12': u8(P12),
        'autoprov.url': u8('https://autoprov.example.test'),
      }),
    );
    const data = path.join(d, 'data');
    const r = await quorumHere([
      'init',
      '--data-dir',
      data,
      '--import-garage-sign',
      zip,
      '--enroll',
      'tara=targets.pub',
    ]);
    ok(r);
    expect(r.stdout).toContain('imported repository: root version 1');
    expect(r.stdout).toContain('tufrepo.url: https://tuf.example.test/');
    expect(r.stdout).toContain(
      `public key targets.pub: ed25519, ota-tuf key id ${targetsKey.publicKey.fingerprint}, in root roles: targets`,
    );
    expect(r.stdout).toContain('private key targets.sec: not read and not copied');
    expect(r.stdout).toContain(`quorum-signer import-garage-sign ${zip} --entry targets.sec --out NAME`);
    // The keyholder follows that advice: the key comes out of the zip into an encrypted key file.
    const gsImport = await signerHere([
      'import-garage-sign',
      zip,
      '--entry',
      'targets.sec',
      '--out',
      path.join(d, 'tara'),
      '--scrypt-n',
      TEST_SCRYPT_N,
      '--passphrase-file',
      passphraseFile(),
    ]);
    ok(gsImport);
    expect(gsImport.stdout).toContain(`key id: ota ${targetsKey.publicKey.fingerprint}`);
    expect(fs.readFileSync(path.join(d, 'tara.key.json'), 'utf8')).not.toContain(privHex);
    const missing = await signerHere([
      'import-garage-sign',
      zip,
      '--entry',
      'root.sec',
      '--out',
      path.join(d, 'nope'),
      '--scrypt-n',
      TEST_SCRYPT_N,
      '--passphrase-file',
      passphraseFile(),
    ]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^KEY_FILE_INVALID: .*no entry root\.sec/m);
    expect(r.stdout).toContain('not read: autoprov.url, autoprov_credentials.p12, client_auth.p12, treehub.json');
    expect(meta(data, 'tufrepo_url')).toBe('https://tuf.example.test/');
    expect(meta(data, 'ota_import_root_version')).toBe('1');
    const db = new Database(path.join(data, 'quorum.db'), { readonly: true });
    expect(
      (db.prepare('SELECT fingerprint FROM keyholders WHERE name = ?').get('tara') as { fingerprint: string })
        .fingerprint,
    ).toBe(targetsKey.publicKey.fingerprint);
    db.close();
    assertNoSecrets(data, [SECRET, P12, privHex, 'client_secret', 'autoprov']);
  });

  it('reports roles/unsigned/*.json from a folder after `targets pull` and `root key add`', async () => {
    const d = tmp();
    const rootKey = generateKeyPair('ed25519');
    const extra = generateKeyPair('ed25519');
    const now = new Date();
    const roles = (root: PublicKey[]) => ({
      root: { keys: root, threshold: 1 },
      targets: { keys: [rootKey.publicKey], threshold: 1 },
      snapshot: { keys: [rootKey.publicKey], threshold: 1 },
      timestamp: { keys: [rootKey.publicKey], threshold: 1 },
    });
    const body = buildRoot({
      dialect: 'ota',
      version: 3,
      expires: daysFrom(now, 365),
      roles: roles([rootKey.publicKey]),
    });
    const pending = {
      ...buildRoot({
        dialect: 'ota',
        version: 3,
        expires: daysFrom(now, 365),
        roles: roles([rootKey.publicKey, extra.publicKey]),
      }),
    };
    const repo = path.join(d, 'repo');
    fs.mkdirSync(path.join(repo, 'roles', 'unsigned'), { recursive: true });
    fs.writeFileSync(
      path.join(repo, 'roles', 'root.json'),
      spaces2(await signEnvelope(body, 'ota', [localSigner(rootKey.privateKey)])),
    );
    fs.writeFileSync(path.join(repo, 'roles', 'unsigned', 'root.json'), spaces2(pending));
    const pulled = buildTargets('ota', 7, daysFrom(now, 31), {
      'a-1': {
        length: 1,
        hashes: { sha256: sha256('a') },
        custom: {
          name: 'a',
          version: '1',
          hardwareIds: [],
          targetFormat: null,
          uri: null,
          createdAt: '2020-01-01T00:00:00Z',
          updatedAt: '2020-01-01T00:00:00Z',
        },
      },
    });
    fs.writeFileSync(path.join(repo, 'roles', 'unsigned', 'targets.json'), spaces2(pulled));
    fs.writeFileSync(path.join(repo, 'roles', 'targets.json.checksum'), 'ab'.repeat(32));
    const data = path.join(d, 'data');
    const r = await quorumHere(['init', '--data-dir', data, '--import-garage-sign', repo]);
    ok(r);
    expect(r.stdout).toContain('imported repository: root version 3');
    expect(r.stdout).toContain('tufrepo.url: (not found: pass --tufrepo-url URL');
    expect(r.stdout).toContain(
      'roles/unsigned/root.json: version 3, with unsigned changes: to have them signed, quorum round open root ' +
        '--signed roles/unsigned/root.json --renew',
    );
    expect(r.stdout).toContain('roles/unsigned/targets.json: version 7, 1 target(s), pulled from the reposerver');
    expect(r.stdout).toContain('the reposerver holds targets version 7; it accepts only version 8 next');
    expect(r.stdout).toContain('not read: roles/targets.json.checksum');
    expect(meta(data, 'ota_server_targets_version')).toBe('7');
    expect(meta(data, 'tufrepo_url')).toBeUndefined();

    // The first targets round continues the reposerver's numbering (8, not 1), and the
    // keyholder's client accepts it: nothing was released through the coordinator yet.
    fs.writeFileSync(
      path.join(d, 'owner.pub.pem'),
      rootKey.publicKey.keyObject.export({ type: 'spki', format: 'pem' }),
    );
    writeKeyFile(path.join(d, 'owner.key.json'), encryptKey(rootKey.privateKey, PASSPHRASE, { N: 16384, r: 8, p: 1 }));
    const c = await new Coordinator(data).start();
    cleanup.push(() => c.kill());
    ok(await quorumHere(['keyholder', 'add', 'owner', path.join(d, 'owner.pub.pem'), '--data-dir', data]));
    ok(
      await signerHere([
        'join',
        c.url,
        '--key',
        path.join(d, 'owner.key.json'),
        '--home',
        path.join(d, 'h-owner'),
        '--trusted-root',
        path.join(repo, 'roles', 'root.json'),
      ]),
    );
    const open = await quorumHere([
      'round',
      'open',
      'targets',
      '--data-dir',
      data,
      '--reason',
      'sign the pulled targets',
      '--signed',
      path.join(repo, 'roles', 'unsigned', 'targets.json'),
      '--renew',
      '--json',
    ]);
    ok(open);
    const round = JSON.parse(open.stdout) as { id: string; version: number };
    expect(round.version).toBe(8);
    ok(await signer(['sign', round.id, '--yes', '--home', path.join(d, 'h-owner')]));
    const current = path.join(data, 'releases', 'current');
    await until(() => fs.existsSync(path.join(current, 'targets.json')), 'targets v8 release');
    const v = await quorumHere(['verify', current, '--root', path.join(repo, 'roles', 'root.json')]);
    ok(v);
    expect(v.stdout).toContain('targets.json: version 8');
  });
});

describe('take keys offline, as a root round (OTA Connect move-offline)', () => {
  it('replaces the server-held root and targets keys with 2-of-3 keyholders, then signs targets under them', async () => {
    const d = tmp();
    const now = new Date();
    // OTA Connect's repository: an RSA root key held by the server (handed to a keyholder as a
    // garage-sign .sec, as `move-offline` saves it under --old-root-alias), the targets key from
    // credentials.zip, and the server's online snapshot and timestamp keys, which stay there.
    const oldRoot = rsaPair(0);
    const targetsKey = generateKeyPair('ed25519');
    const snapshot = rsaPair(1);
    const timestamp = rsaPair(2);
    const root1 = buildRoot({
      dialect: 'ota',
      version: 1,
      expires: daysFrom(now, 365),
      roles: {
        root: { keys: [oldRoot.publicKey], threshold: 1 },
        targets: { keys: [targetsKey.publicKey], threshold: 1 },
        snapshot: { keys: [snapshot.publicKey], threshold: 1 },
        timestamp: { keys: [timestamp.publicKey], threshold: 1 },
      },
    });
    const root1Env = await signEnvelope(root1, 'ota', [localSigner(oldRoot.privateKey)]);
    expect(checkOtaTuf('root', serialize(root1Env), 'root.json')).toEqual([]);

    // The garage-sign repository folder after `garage-sign init` and `root pull`.
    const repo = path.join(d, 'tuf', 'myrepo');
    for (const sub of ['roles/unsigned', 'keys']) fs.mkdirSync(path.join(repo, sub), { recursive: true });
    const w = (p: string, s: string | Uint8Array) => fs.writeFileSync(path.join(repo, p), s);
    w('roles/root.json', spaces2(root1Env));
    w('roles/unsigned/root.json', spaces2(root1));
    w('keys/targets.pub', gsPub(targetsKey.publicKey));
    w('keys/targets.sec', gsSec(targetsKey.privateKey));
    w('keys/origroot.pub', gsPub(oldRoot.publicKey));
    w('keys/origroot.sec', gsSec(oldRoot.privateKey));
    const CONFIG_SECRET = `config-secret-${crypto.randomBytes(8).toString('hex')}`;
    const ZIP_SECRET = `zip-secret-${crypto.randomBytes(8).toString('hex')}`;
    w(
      'config.json',
      spaces2({
        reposerver: 'https://tuf.example.test/',
        auth: { server: 'https://auth.example.test', client_id: 'cid', client_secret: CONFIG_SECRET },
        treehub: { no_auth: false, ostree: { server: 'https://treehub.example.test' } },
      }),
    );
    w(
      'credentials.zip',
      zipSync({ 'treehub.json': new Uint8Array(Buffer.from(spaces2({ oauth2: { client_secret: ZIP_SECRET } }))) }),
    );
    const oldRootPem = oldRoot.privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
    const targetsHex = (JSON.parse(gsSec(targetsKey.privateKey)) as { keyval: { private: string } }).keyval.private;

    // Keyholders: three new ones, and the one who received the old root key's .sec.
    const people = ['alice', 'bob', 'carol'];
    const types: Record<string, string> = { alice: 'ed25519', bob: 'ed25519', carol: 'rsa' };
    await Promise.all(people.map(async (p) => ok(await keygenHere(d, p, types[p]!))));
    const imp = await signerHere([
      'import-garage-sign',
      path.join(repo, 'keys', 'origroot.sec'),
      '--out',
      path.join(d, 'oldroot'),
      '--scrypt-n',
      TEST_SCRYPT_N,
      '--passphrase-file',
      passphraseFile(),
    ]);
    ok(imp);
    expect(imp.stdout).toContain(`key id: ota ${oldRoot.publicKey.fingerprint}`);

    const data = path.join(d, 'data');
    const init = await quorumHere([
      'init',
      '--data-dir',
      data,
      '--import-garage-sign',
      repo,
      '--tufrepo-url',
      'https://tuf.example.test/',
      ...people.flatMap((p) => ['--keyholder', `${p}=${path.join(d, `${p}.pub.pem`)}`]),
      '--enroll',
      'oldroot=keys/origroot.pub',
    ]);
    ok(init);
    expect(init.stdout).toContain('imported repository: root version 1');
    expect(init.stdout).toContain('tufrepo.url: https://tuf.example.test/');
    expect(init.stdout).toContain(`root role root: 1 of ${oldRoot.publicKey.fingerprint}`);
    expect(init.stdout).toContain(
      `public key keys/origroot.pub: rsa-pss-sha256, ota-tuf key id ${oldRoot.publicKey.fingerprint}, in root ` +
        'roles: root',
    );
    expect(init.stdout).toContain(
      `public key keys/targets.pub: ed25519, ota-tuf key id ${targetsKey.publicKey.fingerprint}, in root ` +
        'roles: targets',
    );
    expect(init.stdout).toContain('roles/unsigned/root.json: version 1, the same as the signed root');
    expect(init.stdout).toContain(
      `quorum-signer import-garage-sign ${path.join(repo, 'keys/origroot.sec')} --out NAME`,
    );
    expect(init.stdout).toContain(`quorum-signer import-garage-sign ${path.join(repo, 'keys/targets.sec')} --out NAME`);
    expect(init.stdout).toContain('not read: config.json, credentials.zip');
    assertNoSecrets(data, [CONFIG_SECRET, ZIP_SECRET, targetsHex, oldRootPem.split('\n')[2]!, 'client_secret']);

    const c = await new Coordinator(data).start();
    cleanup.push(() => c.kill());
    const home = (p: string) => path.join(d, `home-${p}`);
    for (const p of [...people, 'oldroot'])
      ok(
        await signerHere([
          'join',
          c.url,
          '--key',
          path.join(d, `${p}.key.json`),
          '--home',
          home(p),
          '--trusted-root',
          path.join(repo, 'roles', 'root.json'),
        ]),
      );

    // The root round: root and targets keys go to the three keyholders, 2 of 3 each; snapshot
    // and timestamp stay with the server, which signs them.
    const open = await quorumHere([
      'round',
      'open',
      'root',
      '--data-dir',
      data,
      '--reason',
      'take root and targets keys offline',
      '--json',
      '--remove-key',
      'root=oldroot',
      ...people.flatMap((p) => ['--add-key', `root=${p}`]),
      '--threshold',
      'root=2',
      '--remove-key',
      `targets=keyid:${targetsKey.publicKey.fingerprint}`,
      ...people.flatMap((p) => ['--add-key', `targets=${p}`]),
      '--threshold',
      'targets=2',
    ]);
    ok(open);
    const rootRound = JSON.parse(open.stdout) as {
      id: string;
      version: number;
      progress: { label: string; threshold: number }[];
    };
    expect(rootRound.version).toBe(2);
    expect(rootRound.progress.map((p) => `${p.label}:${p.threshold}`)).toEqual(['root v1 keys:1', 'root v2 keys:2']);
    // the review is not what this test checks (set-up, in this process); the signatures are processes
    const review = await signerHere(['review', rootRound.id, '--home', home('oldroot'), '--no-diff']);
    ok(review);
    // the old root key's holder and alice at once (neither waits for the other)
    const first = await Promise.all(
      ['oldroot', 'alice'].map((p) => signer(['sign', rootRound.id, '--yes', '--home', home(p)])),
    );
    for (const r of first) ok(r);
    const current = path.join(data, 'releases', 'current');
    expect(fs.existsSync(path.join(current, '2.root.json'))).toBe(false); // the new threshold is not met yet
    ok(await signer(['sign', rootRound.id, '--yes', '--home', home('carol')]));
    await until(() => fs.existsSync(path.join(current, '2.root.json')), 'root v2 release');
    const v1 = await quorumHere(['verify', current, '--root', path.join(repo, 'roles', 'root.json')]);
    ok(v1);
    const root2 = parseMetadata(fs.readFileSync(path.join(current, 'root.json')), 'root.json', 'root', 'ota');
    const rs = root2.signed as { roles: Record<string, { keyids: string[]; threshold: number }> };
    expect(rs.roles.root!.threshold).toBe(2);
    expect(rs.roles.targets!.threshold).toBe(2);
    expect(rs.roles.root!.keyids).not.toContain(oldRoot.publicKey.fingerprint);
    expect(rs.roles.targets!.keyids).not.toContain(targetsKey.publicKey.fingerprint);
    expect(rs.roles.snapshot!.keyids).toEqual([snapshot.publicKey.fingerprint]);
    expect(root2.signatures.map((s) => s.keyid)).toContain(oldRoot.publicKey.fingerprint);

    // A targets round under the new keys.
    const fw = path.join(d, 'fw.bin');
    fs.writeFileSync(fw, crypto.randomBytes(2048));
    // The file goes to the reposerver with `garage-sign targets upload` first; the round says so.
    const t1 = await quorumHere([
      'round',
      'open',
      'targets',
      '--data-dir',
      data,
      '--reason',
      'firmware 1.0',
      '--add',
      fw,
      '--name',
      'fw',
      '--version',
      '1.0',
      '--hardware-id',
      'ecu-main',
      '--cli-uploaded',
      '--json',
    ]);
    ok(t1);
    const t1id = (JSON.parse(t1.stdout) as { id: string }).id;
    // two keyholders at once, as they would (neither waits for the other)
    for (const r of await Promise.all(['alice', 'bob'].map((p) => signer(['sign', t1id, '--yes', '--home', home(p)]))))
      ok(r);
    await until(() => fs.existsSync(path.join(current, 'targets.json')), 'targets v1 release');
    ok(await quorumHere(['verify', current, '--root', path.join(repo, 'roles', 'root.json')]));

    // Export for the reposerver: root v2 (the server has v1) and targets v1.
    const out1 = path.join(d, 'out1');
    const e1 = await quorumHere(['export', 'ota-tuf', out1, '--data-dir', data]);
    ok(e1);
    expect(fs.readdirSync(out1).sort()).toEqual(['2.root.json', 'root.json', 'targets.json']);
    expect(e1.stdout).toContain('POST https://tuf.example.test/api/v1/user_repo/root');
    expect(e1.stdout).toContain('garage-sign root push --repo <repo>');
    expect(e1.stdout).toContain('PUT  https://tuf.example.test/api/v1/user_repo/targets');
    expect(e1.stdout).toContain('garage-sign targets pull');
    const exRoot = assertOtaTufUpload(path.join(out1, '2.root.json'), 'root');
    expect(fs.readFileSync(path.join(out1, 'root.json'))).toEqual(fs.readFileSync(path.join(out1, '2.root.json')));
    // RSA keys (carol's, the server's online keys) as the PEM the server writes.
    const rsaKeys = Object.values(exRoot.keys as Record<string, MetadataKey>).filter((k) => k.keytype === 'RSA');
    expect(rsaKeys.length).toBe(3);
    for (const k of rsaKeys) {
      const lines = k.keyval.public.split('\n');
      expect(lines.at(-1)).toBe('');
      expect(lines.slice(1, -3).every((l) => l.length === 64)).toBe(true);
      expect(lines.at(-3)!.length).toBeLessThanOrEqual(64);
    }
    const exTargets = assertOtaTufUpload(path.join(out1, 'targets.json'), 'targets');
    const item = exTargets.targets['fw-1.0'];
    expect(item.custom).toMatchObject({
      name: 'fw',
      version: '1.0',
      hardwareIds: ['ecu-main'],
      targetFormat: 'BINARY',
      uri: null,
      cliUploaded: true,
    });
    expect(item.custom.createdAt).toBe(item.custom.updatedAt);

    // Once those are uploaded, the next targets version needs the checksum of what the server
    // holds: sha256 of the canonical JSON of the stored envelope.
    fs.writeFileSync(fw, crypto.randomBytes(1024));
    const t2 = await quorumHere([
      'round',
      'open',
      'targets',
      '--data-dir',
      data,
      '--reason',
      'firmware 1.1',
      '--add',
      fw,
      '--name',
      'fw',
      '--version',
      '1.1',
      '--hardware-id',
      'ecu-main',
      '--uri',
      'https://files.example.test/fw-1.1.bin',
      '--json',
    ]);
    ok(t2);
    const t2id = (JSON.parse(t2.stdout) as { id: string }).id;
    // set-up for the export's checksum (targets v1 above was signed by processes): in this process
    for (const p of ['bob', 'carol']) ok(await signHere(t2id, home(p)));
    await until(
      () => fs.readFileSync(path.join(current, 'targets.json'), 'utf8').includes('fw-1.1'),
      'targets v2 release',
    );
    const out2 = path.join(d, 'out2');
    const e2 = await quorumHere([
      'export',
      'ota-tuf',
      out2,
      '--data-dir',
      data,
      '--server-root-version',
      '2',
      '--server-targets-version',
      '1',
    ]);
    ok(e2);
    expect(fs.readdirSync(out2).sort()).toEqual(['targets.json', 'targets.json.checksum']);
    expect(e2.stdout).toContain('root version 2 is what the reposerver already has');
    const prev = JSON.parse(fs.readFileSync(path.join(out1, 'targets.json'), 'utf8')) as Envelope;
    expect(fs.readFileSync(path.join(out2, 'targets.json.checksum'), 'utf8')).toBe(
      sha256(canonical({ signatures: prev.signatures, signed: prev.signed })),
    );
    assertOtaTufUpload(path.join(out2, 'targets.json'), 'targets');
    const wrong = await quorumHere([
      'export',
      'ota-tuf',
      path.join(d, 'out3'),
      '--data-dir',
      data,
      '--server-targets-version',
      '5',
    ]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(
      /^OTA_EXPORT_TARGETS_VERSION: targets.json: signed.version: .*accepts only version 6/m,
    );
    expect(fs.existsSync(path.join(d, 'out3'))).toBe(false);
  });
});

describe('the ota-tuf-server fixture', () => {
  it(
    'imports at 2018-05-01; its targets carry into a round that keyholders sign once they say where each file ' +
      'lives',
    async () => {
      const d = tmp();
      const src = path.join(d, 'ota');
      fs.mkdirSync(src);
      for (const f of ['root.json', 'targets.json'])
        fs.copyFileSync(fx('ota-tuf-server', 'repo', f), path.join(src, f));
      const expired = await quorumHere(['init', '--data-dir', path.join(d, 'x'), '--import', src]);
      expect(expired.code).toBe(2);
      expect(expired.stderr).toContain('ROOT_EXPIRED');
      const imp = await quorumHere([
        'init',
        '--data-dir',
        path.join(d, 'imported'),
        '--import',
        src,
        '--at',
        '2018-05-01T00:00:00Z',
      ]);
      ok(imp);
      expect(imp.stdout).toContain('imported repository: root version 1, targets version 21');
      // Nobody holds its keys (they are the server's), so nothing new can be signed in it; its
      // targets can be carried into a repository whose keyholders do hold theirs.
      const repo = await newRepo({
        dialect: 'ota',
        keyholders: ['ann', 'ben', 'cy'],
        rootThreshold: 2,
        targetsThreshold: 2,
        releaseRoot: true,
      });
      dirs.push(repo.dir);
      cleanup.push(() => repo.coordinator.kill());
      const fixture = JSON.parse(fs.readFileSync(fx('ota-tuf-server', 'repo', 'targets.json'), 'utf8')) as {
        signed: { targets: Record<string, { length: number; custom: Record<string, unknown> }> } & Record<
          string,
          unknown
        >;
      };
      // On the server these files were uploaded to it (stored there); in another repository they are
      // new targets with no location, which its reposerver could not serve (417): refused.
      const asIs = await quorumHere([
        'round',
        'open',
        'targets',
        '--data-dir',
        repo.dataDir,
        '--reason',
        'carry over the OTA Connect targets',
        '--signed',
        fx('ota-tuf-server', 'repo', 'targets.json'),
        '--renew',
        '--json',
      ]);
      expect(asIs.code).toBe(1);
      expect(asIs.stderr).toMatch(/^OTA_TARGET_LOCATION: /m);
      expect(asIs.stderr).toContain('targets.selfupdate_14.custom: a BINARY target needs a location');
      // Said where each file lives (a uri), everything else carries over byte for byte.
      const located = structuredClone(fixture.signed);
      for (const [name, t] of Object.entries(located.targets))
        if (t.length > 0) t.custom.uri = `https://files.example.test/${name}`;
      const carried = path.join(repo.dir, 'carried.json');
      fs.writeFileSync(carried, JSON.stringify({ signed: located }));
      const open = await quorumHere([
        'round',
        'open',
        'targets',
        '--data-dir',
        repo.dataDir,
        '--reason',
        'carry over the OTA Connect targets',
        '--signed',
        carried,
        '--renew',
        '--json',
      ]);
      ok(open);
      const round = JSON.parse(open.stdout) as { id: string; version: number };
      expect(round.version).toBe(1);
      const status = await quorumHere(['round', 'status', round.id, '--data-dir', repo.dataDir, '--json']);
      const proposed = (JSON.parse(status.stdout) as { signed: Record<string, unknown> }).signed;
      const { version: _v, expires: _e, ...rest } = proposed;
      const { version: _fv, expires: _fe, ...fixtureRest } = located;
      expect(canonical(rest)).toBe(canonical(fixtureRest));
      const signed = await Promise.all(
        ['ann', 'cy'].map((k) => signer(['sign', round.id, '--yes', '--home', repo.homes[k]!])),
      );
      for (const r of signed) ok(r);
      const current = path.join(repo.dataDir, 'releases', 'current');
      await until(() => fs.existsSync(path.join(current, 'targets.json')), 'targets release');
      ok(await quorumHere(['verify', current, '--root', path.join(current, '1.root.json')]));
      const released = JSON.parse(fs.readFileSync(path.join(current, 'targets.json'), 'utf8')) as {
        signed: { targets: Record<string, { custom: Record<string, unknown> }> };
      };
      expect(canonical(released.signed.targets)).toBe(canonical(located.targets));
      const one = released.signed.targets['selfupdate_14']!;
      expect(one.custom.targetFormat).toBeNull();
      expect(one.custom.uri).toBe('https://files.example.test/selfupdate_14');
      expect(fixture.signed.targets['selfupdate_14']!.custom.uri).toBeNull();
      expect(one.custom.hardwareIds).toEqual(['ubuntu', 'patriotyk-laptop']);
      // And in the form the reposerver takes (a new repository, so every root version is written).
      const out = path.join(repo.dir, 'out');
      const e = await quorumHere(['export', 'ota-tuf', out, '--data-dir', repo.dataDir]);
      ok(e);
      expect(e.stdout).toContain('not imported from OTA Connect');
      assertOtaTufUpload(path.join(out, 'targets.json'), 'targets');
      assertOtaTufUpload(path.join(out, '1.root.json'), 'root');
    },
  );
});

describe('export refusals', () => {
  it('refuses a tuf repository, and ota metadata ota-tuf would reject, with exit 1 and a code per problem', async () => {
    const d = tmp();
    ok(await quorumHere(['init', '--data-dir', path.join(d, 'tuf'), '--dialect', 'tuf']));
    const t = await quorumHere(['export', 'ota-tuf', path.join(d, 'o1'), '--data-dir', path.join(d, 'tuf')]);
    expect(t.code).toBe(1);
    expect(t.stderr).toMatch(/^OTA_EXPORT_DIALECT: /m);

    // ECDSA keys and non-ASCII text: aktualizr refuses them, so quorum verify (and an import) does
    // too; the export's own refusal of both is covered by checkOtaTuf above.
    const k = generateKeyPair('ed25519');
    const ec = generateKeyPair('ecdsa').publicKey;
    const now = new Date();
    const roles = {
      root: { keys: [k.publicKey], threshold: 1 },
      targets: { keys: [k.publicKey], threshold: 1 },
      snapshot: { keys: [k.publicKey], threshold: 1 },
      timestamp: { keys: [k.publicKey], threshold: 1 },
    };
    const rootBody = buildRoot({ dialect: 'ota', version: 1, expires: daysFrom(now, 365), roles });
    const withEcdsa = structuredClone(rootBody);
    (withEcdsa.keys as Record<string, unknown>)[ec.fingerprint] = {
      keytype: 'ecdsa-sha2-nistp256',
      keyval: { public: ec.keyObject.export({ type: 'spki', format: 'pem' }).toString() },
    };
    (withEcdsa.roles as Record<string, { keyids: string[] }>).timestamp!.keyids.push(ec.fingerprint);
    const at = now.toISOString().replace(/\.\d+Z$/, 'Z');
    const custom = {
      name: 'fw',
      version: '1',
      hardwareIds: ['ecu'],
      targetFormat: 'BINARY',
      uri: null,
      cliUploaded: true,
      createdAt: at,
      updatedAt: at,
    };
    const signers = [localSigner(k.privateKey)];
    const importRepo = async (name: string, root: Record<string, unknown>, targets: Record<string, unknown>) => {
      const repo = path.join(d, name);
      fs.mkdirSync(path.join(repo, 'roles'), { recursive: true });
      fs.writeFileSync(path.join(repo, 'roles', 'root.json'), serialize(await signEnvelope(root, 'ota', signers)));
      fs.writeFileSync(
        path.join(repo, 'roles', 'targets.json'),
        serialize(await signEnvelope(targets, 'ota', signers)),
      );
      return quorumHere(['init', '--data-dir', path.join(d, `data-${name}`), '--import', repo]);
    };
    const plain = buildTargets('ota', 1, daysFrom(now, 31), {
      'fw-1': { ...targetFor(Buffer.from('a'), custom), hashes: { sha256: sha256('a') } },
    });
    const ecdsa = await importRepo('ecdsa', withEcdsa, plain);
    expect(ecdsa.code).toBe(2);
    expect(ecdsa.stderr).toMatch(/OTA_KEY_UNSUPPORTED: root\.json[^:]*: .*aktualizr rejects the whole root/);
    const nonAscii = await importRepo(
      'non-ascii',
      rootBody,
      buildTargets('ota', 1, daysFrom(now, 31), {
        'fïrmware-1': { ...targetFor(Buffer.from('a'), custom), hashes: { sha256: sha256('a') } },
      }),
    );
    expect(nonAscii.code).toBe(2);
    expect(nonAscii.stderr).toMatch(/SIGNATURE_INVALID: targets\.json: .*aktualizr escapes non-ASCII/);

    // An ota repository that verifies, but whose targets the reposerver would reject or could not serve.
    const targetsBody = buildTargets('ota', 1, daysFrom(now, 31), {
      'fw-1': { ...targetFor(Buffer.from('a'), custom), hashes: { sha256: sha256('a') } },
      'two-hashes': targetFor(Buffer.from('b'), custom),
      'no-custom': { length: 1, hashes: { sha256: sha256('c') } },
    });
    targetsBody.note = 'not a field ota-tuf knows';
    ok(await importRepo('repo', rootBody, targetsBody));
    const data = path.join(d, 'data-repo');
    // What was imported is what the server has: nothing to upload.
    const same = await quorumHere(['export', 'ota-tuf', path.join(d, 'o2'), '--data-dir', data]);
    ok(same);
    expect(same.stdout).toContain('nothing to upload');
    // As if the server had none of it: every file is checked, and refused.
    const r = await quorumHere([
      'export',
      'ota-tuf',
      path.join(d, 'o3'),
      '--data-dir',
      data,
      '--server-root-version',
      '0',
      '--server-targets-version',
      '0',
    ]);
    expect(r.code).toBe(1);
    for (const code of [
      'OTA_EXPORT_UNKNOWN_FIELD',
      'OTA_EXPORT_TARGET',
      'OTA_TARGET_HARDWARE_IDS',
      'OTA_TARGET_LOCATION',
    ])
      expect(r.stderr).toMatch(new RegExp(`^${code}: `, 'm'));
    expect(r.stderr).toContain('two-hashes.hashes');
    expect(r.stderr).toContain('no-custom.custom');
    expect(r.stderr).toMatch(/^OTA_TARGET_LOCATION: targets\.json: signed\.targets\.no-custom\.custom: /m);
    expect(r.stderr).not.toMatch(/fw-1\.custom/);
    expect(r.stderr).toContain('signed.note');
    expect(fs.existsSync(path.join(d, 'o3'))).toBe(false);
  });
});

// -----------------------------------------------------------------------------------------------
// Issue 12: what the OTA Connect servers accept, and what devices can then install.

describe('OTA Connect: releases the servers accept and devices can install', () => {
  let repo: Repo;
  const rounds = async () =>
    JSON.parse((await quorumHere(['rounds', '--data-dir', repo.dataDir, '--json'])).stdout) as RoundInfo[];
  const open = (...args: string[]) =>
    quorumHere(['round', 'open', 'targets', '--data-dir', repo.dataDir, '--reason', 'firmware', '--json', ...args]);
  const current = () => path.join(repo.dataDir, 'releases', 'current');

  beforeAll(async () => {
    // alice (ed25519) and bob (RSA, so that his salt can be wrong) hold root and targets, 1 of 2.
    repo = await newRepo({
      dialect: 'ota',
      keyholders: ['alice', 'bob'],
      rootThreshold: 1,
      targetsThreshold: 1,
      releaseRoot: true,
      keyType: { bob: 'rsa' },
    });
    dirs.push(repo.dir);
    cleanup.push(() => repo.coordinator.kill());
  }, 120_000);

  it('a BINARY target needs a location and a hardware id: refused at round open however its body was made', async () => {
    const fw = path.join(repo.dir, 'fw-1.bin');
    fs.writeFileSync(fw, crypto.randomBytes(512));
    const add = ['--add', fw, '--name', 'fw', '--version', '1'];
    const noLocation = await open(...add, '--hardware-id', 'ecu-main');
    expect(noLocation.code).toBe(1);
    expect(noLocation.stderr).toMatch(/^OTA_TARGET_LOCATION: targets\.fw-1\.custom: a BINARY target needs a location/m);
    const noHardware = await open(...add, '--cli-uploaded');
    expect(noHardware.code).toBe(1);
    expect(noHardware.stderr).toMatch(
      /^OTA_TARGET_HARDWARE_IDS: targets\.fw-1\.custom\.hardwareIds: lists no hardware id/m,
    );
    const badUri = await open(...add, '--hardware-id', 'ecu-main', '--uri', 'https://files.example.test/fw 1.bin');
    expect(badUri.code).toBe(1);
    expect(badUri.stderr).toMatch(/^OTA_TARGET_URI: targets\.fw-1\.custom\.uri: character " " at index 29/m);
    const longHw = await open(...add, '--hardware-id', 'x'.repeat(201), '--cli-uploaded');
    expect(longHw.stderr).toMatch(/^OTA_TARGET_HARDWARE_IDS: .*hardwareIds\[0\]/m);
    // A body from a build script, proposed as it is: the same check.
    const body = buildTargets('ota', 1, daysFrom(new Date(), 31), {
      'fw-1': targetFor(fs.readFileSync(fw), {
        name: 'fw',
        version: '1',
        hardwareIds: ['ecu-main'],
        targetFormat: 'BINARY',
        uri: null,
        createdAt: '2030-01-01T00:00:00Z',
        updatedAt: '2030-01-01T00:00:00Z',
      }),
    });
    const file = path.join(repo.dir, 'unsigned-targets.json');
    fs.writeFileSync(file, JSON.stringify(body));
    const signedBody = await quorumHere([
      'round',
      'open',
      'targets',
      '--data-dir',
      repo.dataDir,
      '--reason',
      'from a script',
      '--signed',
      file,
    ]);
    expect(signedBody.code).toBe(1);
    expect(signedBody.stderr).toMatch(/^OTA_TARGET_LOCATION: /m);
    expect(await rounds()).toHaveLength(1); // root v1 only: nothing was opened
    // An OSTree commit comes from treehub: no location needed. A file with a uri: fine.
    const ostree = await open(...add, '--hardware-id', 'ecu-main', '--format', 'OSTREE');
    ok(ostree);
    ok(
      await quorumHere([
        'round',
        'cancel',
        (JSON.parse(ostree.stdout) as RoundInfo).id,
        '--data-dir',
        repo.dataDir,
        '--reason',
        'wrong format',
      ]),
    );
    const good = await open(...add, '--hardware-id', 'ecu-main', '--uri', 'https://files.example.test/fw-1.bin');
    ok(good);
    // targets v1 for the export test below: set-up, signed in this process
    ok(await signHere((JSON.parse(good.stdout) as RoundInfo).id, repo.homes.alice!));
    await until(() => fs.existsSync(path.join(current(), 'targets.json')), 'targets v1 release');
  });

  it(
    'an RSA-PSS signature with salt length 20 is refused, over the wire and as an offline signature ' +
      '(SIG_PSS_SALT); salt 32 releases',
    async () => {
      const fw = path.join(repo.dir, 'fw-2.bin');
      fs.writeFileSync(fw, crypto.randomBytes(512));
      const o = await open(
        '--add',
        fw,
        '--name',
        'fw',
        '--version',
        '2',
        '--hardware-id',
        'ecu-main',
        '--cli-uploaded',
      );
      ok(o);
      const round = JSON.parse(o.stdout) as RoundInfo;
      const bobKey = decryptKey(readKeyFile(repo.keys.bob!), PASSPHRASE);
      const bob = keySigner(repo.keys.bob!);
      const keyid = keyidIn(path.join(current(), 'root.json'), 'targets', bob.publicKey.fingerprint);
      const ws = await connect(repo.coordinator.url, bob);
      try {
        const p = await ws.request({ type: 'round.get', round: round.id });
        if (p.type !== 'round.payload') throw new Error(JSON.stringify(p));
        const bytes = canonicalOf(p.signed, 'targets', 'ota');
        const salted = (saltLength: number) =>
          crypto
            .sign('sha256', bytes, { key: bobKey, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength })
            .toString('base64');
        // A hand-made signature: valid RSA-PSS (aktualizr would accept it), salt 20.
        expect(
          crypto.verify(
            'sha256',
            bytes,
            {
              key: bob.publicKey.keyObject,
              padding: crypto.constants.RSA_PKCS1_PSS_PADDING,
              saltLength: crypto.constants.RSA_PSS_SALTLEN_AUTO,
            },
            Buffer.from(salted(20), 'base64'),
          ),
        ).toBe(true);
        const answer = await ws.request({
          type: 'signature.submit',
          round: round.id,
          sha256: round.sha256,
          keyid,
          sig: salted(20),
        });
        expect(answer).toMatchObject({ type: 'error', code: 'SIG_PSS_SALT', fatal: false });
        expect((answer as { message: string }).message).toContain('salt length 20');
        const sigFile = path.join(repo.dir, 'bob-salt20.json');
        fs.writeFileSync(sigFile, JSON.stringify({ round: round.id, keyid, sig: salted(20), sha256: round.sha256 }));
        const offline = await quorumHere(['round', 'add-signature', round.id, sigFile, '--data-dir', repo.dataDir]);
        expect(offline.code).toBe(1);
        expect(offline.stderr).toMatch(/^SIG_PSS_SALT: /m);
        const rejected = (await auditEvents(repo.dataDir)).filter(
          (e) => e.event === 'signature.rejected' && (e.data as { code: string }).code === 'SIG_PSS_SALT',
        );
        expect(rejected).toHaveLength(2);
        const status = JSON.parse(
          (await quorumHere(['round', 'status', round.id, '--data-dir', repo.dataDir, '--json'])).stdout,
        ) as { round: RoundInfo };
        expect(status.round.state).toBe('open');
        expect(status.round.progress[0]!.signed).toEqual([]);
      } finally {
        ws.close();
      }
      // quorum-signer signs with salt 32: accepted and released.
      ok(await signer(['sign', round.id, '--yes', '--home', repo.homes.bob!]));
      await until(
        () => fs.readFileSync(path.join(current(), 'targets.json'), 'utf8').includes('"fw-2"'),
        'targets v2 release',
      );
    },
  );

  it(
    'export takes the targets the server holds (as garage-sign targets pull leaves them) for the next version ' +
      'and x-ats-role-checksum',
    async () => {
      // Targets v1 and v2 are released here; the server holds v1.
      const releases = path.join(repo.dataDir, 'releases');
      const v1 = fs
        .readdirSync(releases)
        .filter((n) => /^\d+$/.test(n) && fs.existsSync(path.join(releases, n, 'targets.json')))
        .map((n) => JSON.parse(fs.readFileSync(path.join(releases, n, 'targets.json'), 'utf8')) as Envelope)
        .find((e) => e.signed.version === 1)!;
      expect(v1.signed.targets).toHaveProperty('fw-1');
      const gs = path.join(repo.dir, 'tuf', 'myrepo');
      fs.mkdirSync(path.join(gs, 'roles', 'unsigned'), { recursive: true });
      fs.writeFileSync(path.join(gs, 'roles', 'unsigned', 'targets.json'), spaces2(v1.signed));
      const serverChecksum = sha256(canonical({ signatures: v1.signatures, signed: v1.signed }));
      fs.writeFileSync(path.join(gs, 'roles', 'targets.json.checksum'), serverChecksum);
      const exp = (out: string, ...extra: string[]) =>
        quorumHere([
          'export',
          'ota-tuf',
          path.join(repo.dir, out),
          '--data-dir',
          repo.dataDir,
          '--server-root-version',
          '1',
          ...extra,
        ]);

      const pulled = await exp('o-pulled', '--server-targets', gs);
      ok(pulled);
      expect(fs.readdirSync(path.join(repo.dir, 'o-pulled')).sort()).toEqual(['targets.json', 'targets.json.checksum']);
      expect(fs.readFileSync(path.join(repo.dir, 'o-pulled', 'targets.json.checksum'), 'utf8')).toBe(serverChecksum);
      expect(JSON.parse(fs.readFileSync(path.join(repo.dir, 'o-pulled', 'targets.json'), 'utf8')).signed.version).toBe(
        2,
      );
      expect(pulled.stdout).toContain(`x-ats-role-checksum: ${serverChecksum}`);
      // The file itself, as GET …/targets.json serves it: the same version and checksum.
      const served = path.join(repo.dir, 'served-targets.json');
      fs.writeFileSync(served, JSON.stringify(v1));
      const fromServed = await exp('o-served', '--server-targets', served);
      ok(fromServed);
      expect(fs.readFileSync(path.join(repo.dir, 'o-served', 'targets.json.checksum'), 'utf8')).toBe(serverChecksum);

      // Someone else pushed a version 1 of their own: the server holds other targets than the
      // release's base. Refused, nothing written.
      const other = structuredClone(v1.signed) as { targets: Record<string, { custom: Record<string, unknown> }> };
      other.targets['fw-1']!.custom.version = '1-hotfix';
      fs.writeFileSync(path.join(gs, 'roles', 'unsigned', 'targets.json'), spaces2(other));
      const diverged = await exp('o-diverged', '--server-targets', gs);
      expect(diverged.code).toBe(1);
      expect(diverged.stderr).toMatch(
        /^OTA_EXPORT_SERVER_TARGETS: targets\.json: signed: .*signed\.targets\.fw-1\.custom\.version/m,
      );
      expect(fs.existsSync(path.join(repo.dir, 'o-diverged'))).toBe(false);
      // The server moved on to version 3: the release (2) is not the next one.
      fs.writeFileSync(path.join(gs, 'roles', 'unsigned', 'targets.json'), spaces2({ ...v1.signed, version: 3 }));
      const ahead = await exp('o-ahead', '--server-targets', gs);
      expect(ahead.code).toBe(1);
      expect(ahead.stderr).toMatch(
        /^OTA_EXPORT_TARGETS_VERSION: targets\.json: signed\.version: the reposerver holds \(.*\) targets version 3 and accepts only version 4 next/m,
      );
      // Two answers to one question: a usage error.
      fs.writeFileSync(path.join(gs, 'roles', 'unsigned', 'targets.json'), spaces2(v1.signed));
      expect((await exp('o-both', '--server-targets', gs, '--server-targets-version', '0')).code).toBe(2);
    },
  );

  it(
    'salt-20 signatures in a repository OTA Connect would take in: quorum verify warns (devices accept them), ' +
      'the export refuses them; a root dropping a server key is named in the review and the export',
    async () => {
      const d = tmp();
      // Root: alice (ed25519) and an RSA key that signs with salt 20; the server's snapshot,
      // timestamp and offline-updates keys.
      const rsa = rsaPair(0);
      const server = {
        snapshot: generateKeyPair('ed25519'),
        timestamp: generateKeyPair('ed25519'),
        offline: generateKeyPair('ed25519'),
      };
      const alice = publicKeyFrom(fs.readFileSync(path.join(repo.dir, 'alice.pub.pem'), 'utf8'));
      const aliceKey = decryptKey(readKeyFile(repo.keys.alice!), PASSPHRASE);
      const now = new Date();
      const root = buildRoot({
        dialect: 'ota',
        version: 1,
        expires: daysFrom(now, 365),
        roles: {
          root: { keys: [alice, rsa.publicKey], threshold: 1 },
          targets: { keys: [rsa.publicKey], threshold: 1 },
          snapshot: { keys: [server.snapshot.publicKey], threshold: 1 },
          timestamp: { keys: [server.timestamp.publicKey], threshold: 1 },
        },
      });
      (root.keys as Record<string, unknown>)[server.offline.publicKey.fingerprint] = toMetadataKey(
        server.offline.publicKey,
        'ota',
      );
      (root.roles as Record<string, unknown>)['offline-updates'] = {
        keyids: [server.offline.publicKey.fingerprint],
        threshold: 1,
      };
      const salt20: Signer = {
        publicKey: rsa.publicKey,
        sign: async (b) =>
          crypto.sign('sha256', b, {
            key: rsa.privateKey,
            padding: crypto.constants.RSA_PKCS1_PSS_PADDING,
            saltLength: 20,
          }),
      };
      const at = now.toISOString().replace(/\.\d+Z$/, 'Z');
      const targets = buildTargets('ota', 4, daysFrom(now, 31), {
        'fw-4': {
          ...targetFor(Buffer.from('four'), {
            name: 'fw',
            version: '4',
            hardwareIds: ['ecu'],
            targetFormat: 'BINARY',
            uri: null,
            cliUploaded: true,
            createdAt: at,
            updatedAt: at,
          }),
          hashes: { sha256: sha256('four') },
        },
      });
      const gs = path.join(d, 'repo');
      fs.mkdirSync(path.join(gs, 'roles'), { recursive: true });
      fs.writeFileSync(
        path.join(gs, 'roles', 'root.json'),
        serialize(await signEnvelope(root, 'ota', [localSigner(aliceKey), salt20])),
      );
      fs.writeFileSync(path.join(gs, 'roles', 'targets.json'), serialize(await signEnvelope(targets, 'ota', [salt20])));

      const v = await quorumHere(['verify', path.join(gs, 'roles'), '--root', path.join(gs, 'roles', 'root.json')]);
      ok(v);
      expect(v.stderr).toMatch(
        /^warning: OTA_PSS_SALT: root\.json[^:]*: RSA-PSS signature by .* has salt length 20: aktualizr accepts it/m,
      );
      expect(v.stderr).toMatch(/^warning: OTA_PSS_SALT: targets\.json: /m);

      const data = path.join(d, 'data');
      ok(
        await quorumHere([
          'init',
          '--data-dir',
          data,
          '--import-garage-sign',
          gs,
          '--keyholder',
          `alice=${path.join(repo.dir, 'alice.pub.pem')}`,
        ]),
      );
      // Uploaded anew (as if the server had neither), both files are refused.
      const all = await quorumHere([
        'export',
        'ota-tuf',
        path.join(d, 'o1'),
        '--data-dir',
        data,
        '--server-root-version',
        '0',
        '--server-targets-version',
        '3',
      ]);
      expect(all.code).toBe(1);
      expect(all.stderr).toMatch(/^OTA_EXPORT_PSS_SALT: 1\.root\.json: signatures\[\d\]: .*salt length 20/m);
      expect(all.stderr).toMatch(/^OTA_EXPORT_PSS_SALT: targets\.json: signatures\[0\]: /m);
      expect(fs.existsSync(path.join(d, 'o1'))).toBe(false);

      // A root round (a body as it is: the offline-updates role and its key go) reviewed by alice.
      const c = await new Coordinator(data).start();
      cleanup.push(() => c.kill());
      const home = path.join(d, 'home-alice');
      ok(
        await signerHere([
          'join',
          c.url,
          '--key',
          repo.keys.alice!,
          '--home',
          home,
          '--trusted-root',
          path.join(gs, 'roles', 'root.json'),
        ]),
      );
      const next = structuredClone(root) as { keys: Record<string, unknown>; roles: Record<string, unknown> };
      delete next.roles['offline-updates'];
      delete next.keys[server.offline.publicKey.fingerprint];
      const body = path.join(d, 'root-2.json');
      fs.writeFileSync(body, JSON.stringify(next));
      const o = await quorumHere([
        'round',
        'open',
        'root',
        '--data-dir',
        data,
        '--reason',
        'drop offline updates',
        '--signed',
        body,
        '--renew',
        '--json',
      ]);
      ok(o);
      const id = (JSON.parse(o.stdout) as RoundInfo).id;
      // the review's text, through the command tree in this process (as the export below); the
      // signature is set-up for the export
      const review = await signerHere(['review', id, '--home', home, '--no-diff']);
      ok(review);
      expect(review.stdout).toContain(
        'SERVER KEY DELETED: the OTA Connect server DELETES its private key ' +
          `${server.offline.publicKey.fingerprint} (offline-updates) when it accepts this root`,
      );
      ok(await signHere(id, home));
      await until(() => fs.existsSync(path.join(data, 'releases', 'current', '2.root.json')), 'root v2 release');
      const e = await quorumHere(['export', 'ota-tuf', path.join(d, 'o2'), '--data-dir', data]);
      ok(e);
      expect(fs.readdirSync(path.join(d, 'o2')).sort()).toEqual(['2.root.json', 'root.json']);
      expect(e.stdout).toContain(
        'note: 2.root.json: the OTA Connect server DELETES its private key ' +
          `${server.offline.publicKey.fingerprint} (offline-updates) when it accepts this root`,
      );
    },
  );
});
