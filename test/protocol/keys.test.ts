/**
 * Keys: parsing in every form the dialects write, key ids, garage-sign key files, and the
 * signature primitives' edge cases (strict Ed25519, high-S ECDSA, RSA-PSS salt lengths).
 */
import crypto, { type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { beforeAll, describe, expect, it } from 'vitest';
import { KeyError } from '../../protocol/errors.js';
import {
  decodeSig,
  ed25519FromRaw,
  encodeSig,
  generateKeyPair,
  keyId,
  otaMethod,
  otaUsable,
  parseGarageSignPrivate,
  parseGarageSignPublic,
  parseMetadataKey,
  publicKeyFrom,
  sha256hex,
  signBytes,
  toMetadataKey,
  verifySignature,
  type MetadataKey,
  type PublicKey,
} from '../../protocol/keys.js';

const require = createRequire(import.meta.url);
const tufjs = require('@tufjs/canonical-json') as { canonicalize: (v: unknown) => string };

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const GARAGE = path.join(repoRoot, 'test/fixtures/garage-sign/credentials-ed25519');

const ED_PREFIX = '302a300506032b6570032100';
const P256_PREFIX = '3059301306072a8648ce3d020106082a8648ce3d030107034200';
const sha256 = (b: crypto.BinaryLike) => crypto.createHash('sha256').update(b).digest('hex');
const MSG = Buffer.from('{"_type":"Targets","version":1}');

function keyError(fn: () => unknown): KeyError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(KeyError);
    return e as KeyError;
  }
  throw new Error('expected a KeyError, nothing was thrown');
}

function pemOf(k: KeyObject): string {
  return k.export({ format: 'pem', type: 'spki' }).toString();
}

interface Pair {
  privateKey: KeyObject;
  publicKey: PublicKey;
}

let ed: Pair;
let ec: Pair;
let rsa2048: Pair;
let rsa3072: Pair;
let rsa4096: Pair;

beforeAll(() => {
  ed = generateKeyPair('ed25519');
  ec = generateKeyPair('ecdsa');
  rsa2048 = generateKeyPair('rsa');
  rsa3072 = generateKeyPair('rsa3072');
  rsa4096 = generateKeyPair('rsa4096');
});

describe('parsing public keys', () => {
  it('ed25519 from hex and from PEM give one fingerprint = sha256(DER SPKI)', () => {
    const raw = ed.publicKey.spki.subarray(12);
    expect(ed.publicKey.spki.subarray(0, 12).toString('hex')).toBe(ED_PREFIX);
    const fromHex = parseMetadataKey({ keytype: 'ed25519', keyval: { public: raw.toString('hex') } });
    const fromUpperHex = parseMetadataKey({
      keytype: 'ED25519',
      keyval: { public: raw.toString('hex').toUpperCase() },
    });
    const fromPem = parseMetadataKey({ keytype: 'ED25519', keyval: { public: pemOf(ed.publicKey.keyObject) } });
    for (const k of [fromHex, fromUpperHex, fromPem]) {
      expect(k.algorithm).toBe('ed25519');
      expect(k.fingerprint).toBe(sha256(Buffer.concat([Buffer.from(ED_PREFIX, 'hex'), raw])));
      expect(k.spki.equals(ed.publicKey.spki)).toBe(true);
    }
    expect(ed25519FromRaw(raw).fingerprint).toBe(fromHex.fingerprint);
  });

  it('ECDSA P-256 from PEM and from uncompressed-point hex give one fingerprint', () => {
    const point = ec.publicKey.spki.subarray(26);
    expect(ec.publicKey.spki.subarray(0, 26).toString('hex')).toBe(P256_PREFIX);
    expect(point.length).toBe(65);
    expect(point[0]).toBe(0x04);
    const forms: MetadataKey[] = [
      { keytype: 'ecdsa', scheme: 'ecdsa-sha2-nistp256', keyval: { public: pemOf(ec.publicKey.keyObject) } },
      { keytype: 'ecdsa-sha2-nistp256', scheme: 'ecdsa-sha2-nistp256', keyval: { public: point.toString('hex') } },
      { keytype: 'ECDSA', keyval: { public: point.toString('hex') } },
    ];
    for (const f of forms) {
      const k = parseMetadataKey(f);
      expect(k.algorithm).toBe('ecdsa-p256');
      expect(k.fingerprint).toBe(sha256(ec.publicKey.spki));
    }
  });

  it.each([
    ['2048', () => rsa2048, 2048],
    ['3072', () => rsa3072, 3072],
    ['4096', () => rsa4096, 4096],
  ] as const)('RSA %s from PEM (keytype RSA or rsa; any line breaks)', (_n, pair, bits) => {
    const pem = pemOf(pair().publicKey.keyObject);
    const k = parseMetadataKey({ keytype: 'RSA', keyval: { public: pem } });
    expect(k.algorithm).toBe('rsa-pss-sha256');
    expect(k.bits).toBe(bits);
    expect(k.fingerprint).toBe(sha256(pair().publicKey.spki));
    expect(otaUsable(k)).toBe(true);
    // The same key re-wrapped at 76 columns (as some tools do) has the same fingerprint.
    const b64 = pem.replace(/-----[^-]+-----|\s/g, '');
    const rewrapped = `-----BEGIN PUBLIC KEY-----\n${b64.match(/.{1,76}/g)!.join('\n')}\n-----END PUBLIC KEY-----`;
    expect(parseMetadataKey({ keytype: 'rsa', keyval: { public: rewrapped } }).fingerprint).toBe(k.fingerprint);
  });

  it('publicKeyFrom takes a KeyObject (public or private), PEM text or DER SPKI', () => {
    for (const input of [ed.publicKey.keyObject, ed.privateKey, pemOf(ed.publicKey.keyObject), ed.publicKey.spki]) {
      expect(publicKeyFrom(input).fingerprint).toBe(ed.publicKey.fingerprint);
    }
  });

  it('otaUsable: ed25519 and RSA yes, ECDSA no; ECDSA cannot be written or signed for ota', () => {
    expect(otaUsable(ed.publicKey)).toBe(true);
    expect(otaUsable(rsa2048.publicKey)).toBe(true);
    expect(otaUsable(ec.publicKey)).toBe(false);
    expect(keyError(() => toMetadataKey(ec.publicKey, 'ota')).code).toBe('KEY_UNSUPPORTED');
    expect(keyError(() => otaMethod(ec.publicKey)).code).toBe('KEY_UNSUPPORTED');
    expect(otaMethod(ed.publicKey)).toBe('ed25519');
    expect(otaMethod(rsa2048.publicKey)).toBe('rsassa-pss-sha256');
  });
});

describe('bad keys', () => {
  it('KEY_INVALID for malformed material', () => {
    const raw = ed.publicKey.spki.subarray(12).toString('hex');
    expect(keyError(() => parseMetadataKey({ keytype: 'ed25519', keyval: { public: raw.slice(2) } })).code).toBe(
      'KEY_INVALID',
    );
    expect(keyError(() => parseMetadataKey({ keytype: 'ed25519', keyval: { public: raw + '00' } })).code).toBe(
      'KEY_INVALID',
    );
    expect(keyError(() => parseMetadataKey({ keytype: 'ed25519', keyval: { public: 'zz' + raw.slice(2) } })).code).toBe(
      'KEY_INVALID',
    );
    expect(keyError(() => parseMetadataKey({ keytype: 'ecdsa', keyval: { public: 'ab'.repeat(64) } })).code).toBe(
      'KEY_INVALID',
    );
    // 65 bytes of hex, but not a point on the curve.
    expect(
      keyError(() => parseMetadataKey({ keytype: 'ecdsa', keyval: { public: '04' + '00'.repeat(64) } })).code,
    ).toBe('KEY_INVALID');
    expect(
      keyError(() =>
        parseMetadataKey({
          keytype: 'rsa',
          keyval: { public: '-----BEGIN PUBLIC KEY-----\nnot base64 at all\n-----END PUBLIC KEY-----\n' },
        }),
      ).code,
    ).toBe('KEY_INVALID');
    expect(keyError(() => parseMetadataKey({ keytype: 'rsa', keyval: { public: 'hello' } })).code).toBe('KEY_INVALID');
    expect(
      keyError(() => parseMetadataKey({ keytype: 'ed25519', keyval: { public: 42 } } as unknown as MetadataKey)).code,
    ).toBe('KEY_INVALID');
    expect(keyError(() => ed25519FromRaw(Buffer.alloc(31))).code).toBe('KEY_INVALID');
    expect(keyError(() => publicKeyFrom(Buffer.from('3000', 'hex'))).code).toBe('KEY_INVALID');
  });

  it('KEY_UNSUPPORTED for unknown keytypes, other curves and small RSA', () => {
    expect(keyError(() => parseMetadataKey({ keytype: 'dsa', keyval: { public: 'x' } })).code).toBe('KEY_UNSUPPORTED');
    expect(keyError(() => parseMetadataKey({ keytype: '', keyval: { public: 'x' } })).code).toBe('KEY_UNSUPPORTED');
    const p384 = crypto.generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey;
    expect(keyError(() => parseMetadataKey({ keytype: 'ecdsa', keyval: { public: pemOf(p384) } })).code).toBe(
      'KEY_UNSUPPORTED',
    );
    const rsa1024 = crypto.generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
    expect(keyError(() => parseMetadataKey({ keytype: 'rsa', keyval: { public: pemOf(rsa1024) } })).code).toBe(
      'KEY_UNSUPPORTED',
    );
    const x25519 = crypto.generateKeyPairSync('x25519').publicKey;
    expect(keyError(() => publicKeyFrom(x25519)).code).toBe('KEY_UNSUPPORTED');
    expect(keyError(() => signBytes(crypto.generateKeyPairSync('x25519').privateKey, MSG)).code).toBe(
      'KEY_UNSUPPORTED',
    );
  });

  it('KEY_MISMATCH when keytype and key material disagree', () => {
    const edPem = pemOf(ed.publicKey.keyObject);
    const ecPem = pemOf(ec.publicKey.keyObject);
    const rsaPem = pemOf(rsa2048.publicKey.keyObject);
    expect(keyError(() => parseMetadataKey({ keytype: 'ed25519', keyval: { public: rsaPem } })).code).toBe(
      'KEY_MISMATCH',
    );
    expect(keyError(() => parseMetadataKey({ keytype: 'ED25519', keyval: { public: ecPem } })).code).toBe(
      'KEY_MISMATCH',
    );
    expect(keyError(() => parseMetadataKey({ keytype: 'rsa', keyval: { public: edPem } })).code).toBe('KEY_MISMATCH');
    expect(keyError(() => parseMetadataKey({ keytype: 'ecdsa', keyval: { public: rsaPem } })).code).toBe(
      'KEY_MISMATCH',
    );
    expect(keyError(() => parseMetadataKey({ keytype: 'ecdsa-sha2-nistp256', keyval: { public: edPem } })).code).toBe(
      'KEY_MISMATCH',
    );
  });
});

describe('key ids', () => {
  it('ota key id is sha256 of the DER SPKI, for ed25519 and RSA', () => {
    for (const pk of [ed.publicKey, rsa2048.publicKey]) {
      const mk = toMetadataKey(pk, 'ota');
      expect(keyId(mk, 'ota')).toBe(sha256(pk.spki));
    }
    const raw = ed.publicKey.spki.subarray(12).toString('hex');
    expect(toMetadataKey(ed.publicKey, 'ota')).toEqual({ keytype: 'ED25519', keyval: { public: raw } });
    const rsaMk = toMetadataKey(rsa2048.publicKey, 'ota');
    expect(rsaMk.keytype).toBe('RSA');
    // PEM SPKI, 64-character lines and a trailing newline, as BouncyCastle writes it.
    const lines = rsaMk.keyval.public.split('\n');
    expect(lines[0]).toBe('-----BEGIN PUBLIC KEY-----');
    expect(rsaMk.keyval.public.endsWith('-----END PUBLIC KEY-----\n')).toBe(true);
    for (const l of lines.slice(1, -3)) expect(l.length).toBe(64);
  });

  it('ota key id does not depend on the keytype case or on how the key is written', () => {
    const raw = ed.publicKey.spki.subarray(12).toString('hex');
    expect(keyId({ keytype: 'ed25519', keyval: { public: raw } }, 'ota')).toBe(sha256(ed.publicKey.spki));
    expect(keyId({ keytype: 'ED25519', keyval: { public: pemOf(ed.publicKey.keyObject) } }, 'ota')).toBe(
      sha256(ed.publicKey.spki),
    );
  });

  it('tuf key id is sha256 of the OLPC canonical key object (exact bytes)', () => {
    const raw = ed.publicKey.spki.subarray(12).toString('hex');
    const mk = toMetadataKey(ed.publicKey, 'tuf');
    expect(mk).toEqual({ keytype: 'ed25519', scheme: 'ed25519', keyval: { public: raw } });
    expect(keyId(mk, 'tuf')).toBe(sha256(`{"keytype":"ed25519","keyval":{"public":"${raw}"},"scheme":"ed25519"}`));
  });

  it('tuf key ids of PEM keys hash the raw newlines (OLPC does not escape them)', () => {
    for (const pk of [ec.publicKey, rsa2048.publicKey]) {
      const mk = toMetadataKey(pk, 'tuf');
      const pem = pemOf(pk.keyObject);
      expect(mk.keyval.public).toBe(pem);
      expect(mk.keytype).toBe(pk.algorithm === 'ecdsa-p256' ? 'ecdsa' : 'rsa');
      expect(mk.scheme).toBe(pk.algorithm === 'ecdsa-p256' ? 'ecdsa-sha2-nistp256' : 'rsassa-pss-sha256');
      const expected = `{"keytype":"${mk.keytype}","keyval":{"public":"${pem}"},"scheme":"${mk.scheme}"}`;
      expect(expected).toContain('\n');
      expect(keyId(mk, 'tuf')).toBe(sha256(expected));
      expect(keyId(mk, 'tuf')).toBe(sha256(tufjs.canonicalize(mk)));
    }
  });

  it('tuf key id covers unknown fields such as keyid_hash_algorithms', () => {
    const mk = toMetadataKey(ed.publicKey, 'tuf');
    const withExtra: MetadataKey = { ...mk, keyid_hash_algorithms: ['sha256', 'sha512'] };
    expect(keyId(withExtra, 'tuf')).not.toBe(keyId(mk, 'tuf'));
    expect(keyId(withExtra, 'tuf')).toBe(sha256(tufjs.canonicalize(withExtra)));
    expect(parseMetadataKey(withExtra).fingerprint).toBe(parseMetadataKey(mk).fingerprint);
  });
});

describe('garage-sign key files', () => {
  const pubJson = () => JSON.parse(fs.readFileSync(path.join(GARAGE, 'targets.pub'), 'utf8')) as unknown;
  const secJson = () =>
    JSON.parse(fs.readFileSync(path.join(GARAGE, 'targets.sec'), 'utf8')) as {
      keytype: string;
      keyval: { private: string };
    };

  it('targets.pub parses and derives the ota key id 5959a6…', () => {
    const pk = parseGarageSignPublic(pubJson());
    expect(pk.algorithm).toBe('ed25519');
    expect(keyId(toMetadataKey(pk, 'ota'), 'ota')).toBe(
      '5959a6869e4e03bd27ea933651ab7756ebeaa178aee92f4103b9baa9c2da3901',
    );
    expect(toMetadataKey(pk, 'ota').keyval.public).toBe(
      'e8b819c020ce57f72521452d341875bb6eb311ecca3cbb711efb63f38e68cde1',
    );
    // The fixture root lists the same key under that id.
    const root = JSON.parse(fs.readFileSync(path.join(GARAGE, 'root.json'), 'utf8')) as {
      signed: { keys: Record<string, MetadataKey>; roles: { targets: { keyids: string[] } } };
    };
    expect(root.signed.roles.targets.keyids).toEqual([
      '5959a6869e4e03bd27ea933651ab7756ebeaa178aee92f4103b9baa9c2da3901',
    ]);
    expect(
      parseMetadataKey(root.signed.keys['5959a6869e4e03bd27ea933651ab7756ebeaa178aee92f4103b9baa9c2da3901']!)
        .fingerprint,
    ).toBe(pk.fingerprint);
  });

  it('targets.sec parses and signs what targets.pub verifies', () => {
    const priv = parseGarageSignPrivate(secJson());
    const pub = parseGarageSignPublic(pubJson());
    expect(publicKeyFrom(priv).fingerprint).toBe(pub.fingerprint);
    const sig = signBytes(priv, MSG);
    expect(verifySignature(pub, MSG, sig)).toBe(true);
    expect(verifySignature(pub, Buffer.concat([MSG, Buffer.from(' ')]), sig)).toBe(false);
  });

  it('a .sec whose seed does not match its public half is KEY_MISMATCH; malformed files are KEY_INVALID', () => {
    const sec = secJson();
    const hex = sec.keyval.private;
    const badSeed = (hex[0] === '0' ? '1' : '0') + hex.slice(1);
    expect(keyError(() => parseGarageSignPrivate({ ...sec, keyval: { private: badSeed } })).code).toBe('KEY_MISMATCH');
    expect(keyError(() => parseGarageSignPrivate({ ...sec, keyval: { private: hex.slice(0, 64) } })).code).toBe(
      'KEY_INVALID',
    );
    expect(keyError(() => parseGarageSignPrivate({ keytype: 'ED25519', keyval: {} })).code).toBe('KEY_INVALID');
    expect(keyError(() => parseGarageSignPrivate({ keytype: 'RSA', keyval: { private: hex } })).code).toBe(
      'KEY_INVALID',
    );
    expect(keyError(() => parseGarageSignPublic({ keytype: 'ED25519' })).code).toBe('KEY_INVALID');
    expect(keyError(() => parseGarageSignPublic(null)).code).toBe('KEY_INVALID');
  });
});

// --- signatures ------------------------------------------------------------------------------

const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const N_P256 = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551');

const leToBig = (b: Buffer) => BigInt('0x' + (Buffer.from(b).reverse().toString('hex') || '0'));
const bigToLe = (n: bigint, len = 32) => Buffer.from(n.toString(16).padStart(len * 2, '0'), 'hex').reverse();

/** Minimal DER for ECDSA-Sig-Value: SEQUENCE { INTEGER r, INTEGER s }. */
function derDecodeSig(der: Buffer): { r: bigint; s: bigint } {
  expect(der[0]).toBe(0x30);
  let i = 2;
  const int = (): bigint => {
    expect(der[i]).toBe(0x02);
    const len = der[i + 1]!;
    const v = der.subarray(i + 2, i + 2 + len);
    i += 2 + len;
    return BigInt('0x' + v.toString('hex'));
  };
  return { r: int(), s: int() };
}

function derEncodeSig(r: bigint, s: bigint): Buffer {
  const int = (n: bigint) => {
    let hex = n.toString(16);
    if (hex.length % 2) hex = '0' + hex;
    let b = Buffer.from(hex, 'hex');
    if (b[0]! & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
    return Buffer.concat([Buffer.from([0x02, b.length]), b]);
  };
  const body = Buffer.concat([int(r), int(s)]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

describe('Ed25519 verification is strict', () => {
  it('a valid signature verifies; other data does not', () => {
    const sig = signBytes(ed.privateKey, MSG);
    expect(verifySignature(ed.publicKey, MSG, sig)).toBe(true);
    expect(verifySignature(ed.publicKey, Buffer.from('other'), sig)).toBe(false);
    expect(verifySignature(ed.publicKey, MSG, sig.subarray(0, 63))).toBe(false);
  });

  it('rejects the malleated signature with S replaced by S + L', () => {
    const sig = signBytes(ed.privateKey, MSG);
    const s = leToBig(sig.subarray(32));
    expect(s < L).toBe(true);
    const malleated = Buffer.concat([sig.subarray(0, 32), bigToLe(s + L)]);
    expect(malleated.length).toBe(64);
    expect(verifySignature(ed.publicKey, MSG, malleated)).toBe(false);
    // S = L exactly is out of range too.
    expect(verifySignature(ed.publicKey, MSG, Buffer.concat([sig.subarray(0, 32), bigToLe(L)]))).toBe(false);
  });

  // Vectors on the identity point (y = 1), the one point where "any message verifies" makes
  // a wrong-encoding check observable: with A = identity and S = 0 the equation holds for R = identity.
  const identity = Buffer.alloc(32);
  identity[0] = 1;
  // y = p + 1 = 2^255 - 18: the non-canonical encoding of y = 1.
  const nonCanonicalIdentity = Buffer.alloc(32, 0xff);
  nonCanonicalIdentity[0] = 0xee;
  nonCanonicalIdentity[31] = 0x7f;
  // x = 0 with the sign bit set: RFC 8032 5.1.3 step 4 says decoding fails.
  const negativeZeroIdentity = Buffer.from(identity);
  negativeZeroIdentity[31] = 0x80;
  const zeroS = Buffer.alloc(32);

  // A PublicKey built without the parse-time checks, to exercise verifySignature's own R and S
  // checks on vectors whose public key parseMetadataKey/ed25519FromRaw would (rightly) refuse.
  const unchecked = (raw: Buffer): PublicKey => {
    const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), raw]);
    return {
      algorithm: 'ed25519',
      keyObject: crypto.createPublicKey({ key: spki, format: 'der', type: 'spki' }),
      spki,
      fingerprint: sha256hex(spki),
    };
  };

  it('rejects a non-canonical R encoding (y >= p)', () => {
    const pk = unchecked(identity);
    // With A = identity, R = identity and S = 0 verify for any message ...
    expect(crypto.verify(null, MSG, pk.keyObject, Buffer.concat([identity, zeroS]))).toBe(true);
    // ... but not with R encoded non-canonically.
    expect(verifySignature(pk, MSG, Buffer.concat([nonCanonicalIdentity, zeroS]))).toBe(false);
    // A non-canonical R in a real signature: corrupt the top bits to all ones (y >= p) and check
    // it is refused before OpenSSL sees it.
    const sig = signBytes(ed.privateKey, MSG);
    const r = Buffer.alloc(32, 0xff);
    r[0] = 0xed + (sig[0]! % 0x12); // 0xed..0xfe: y in [p, 2^255 - 1]
    r[31] = 0x7f;
    expect(verifySignature(ed.publicKey, MSG, Buffer.concat([r, sig.subarray(32)]))).toBe(false);
  });

  it('rejects R with x = 0 and the sign bit set', () => {
    expect(verifySignature(unchecked(identity), MSG, Buffer.concat([negativeZeroIdentity, zeroS]))).toBe(false);
  });

  it('refuses small-order public keys when parsing: under them forged signatures verify', () => {
    const forged = Buffer.concat([identity, zeroS]);
    expect(crypto.verify(null, MSG, unchecked(identity).keyObject, forged)).toBe(true); // OpenSSL accepts the forgery
    expect(keyError(() => ed25519FromRaw(identity)).code).toBe('KEY_INVALID');
    const order2 = Buffer.alloc(32, 0xff); // y = p - 1
    order2[0] = 0xec;
    order2[31] = 0x7f;
    expect(keyError(() => ed25519FromRaw(order2)).code).toBe('KEY_INVALID');
    expect(keyError(() => ed25519FromRaw(Buffer.alloc(32))).code).toBe('KEY_INVALID'); // y = 0, order 4
    expect(
      keyError(() => parseMetadataKey({ keytype: 'ed25519', keyval: { public: identity.toString('hex') } })).code,
    ).toBe('KEY_INVALID');
  });

  it('refuses a public key whose encoding is non-canonical (y >= p), which OpenSSL alone accepts', () => {
    const sig = Buffer.concat([identity, zeroS]);
    // a real forgery for OpenSSL
    expect(crypto.verify(null, MSG, unchecked(nonCanonicalIdentity).keyObject, sig)).toBe(true);
    expect(keyError(() => ed25519FromRaw(nonCanonicalIdentity)).code).toBe('KEY_INVALID');
  });

  it('refuses a public key encoded with x = 0 and the sign bit set (RFC 8032 5.1.3 step 4)', () => {
    expect(crypto.verify(null, MSG, unchecked(negativeZeroIdentity).keyObject, Buffer.concat([identity, zeroS]))).toBe(
      true,
    ); // OpenSSL accepts it
    expect(keyError(() => ed25519FromRaw(negativeZeroIdentity)).code).toBe('KEY_INVALID');
  });
});

describe('ECDSA P-256', () => {
  it('verifies DER signatures with low S and with high S (n - s)', () => {
    for (let i = 0; i < 4; i++) {
      const msg = Buffer.concat([MSG, Buffer.from([i])]);
      const der = signBytes(ec.privateKey, msg);
      const { r, s } = derDecodeSig(der);
      expect(derEncodeSig(r, s).equals(der)).toBe(true);
      const flipped = derEncodeSig(r, N_P256 - s);
      expect(flipped.equals(der)).toBe(false);
      const [low, high] = s > N_P256 / 2n ? [flipped, der] : [der, flipped];
      expect(derDecodeSig(high).s > N_P256 / 2n).toBe(true);
      expect(verifySignature(ec.publicKey, msg, low)).toBe(true);
      expect(verifySignature(ec.publicKey, msg, high)).toBe(true);
      // A signature over other data, or broken DER, does not verify (and does not throw).
      expect(verifySignature(ec.publicKey, MSG.subarray(1), flipped)).toBe(false);
      expect(verifySignature(ec.publicKey, msg, der.subarray(0, der.length - 1))).toBe(false);
    }
  });

  it('does not accept IEEE P1363 (r||s) signatures', () => {
    const p1363 = crypto.sign('sha256', MSG, { key: ec.privateKey, dsaEncoding: 'ieee-p1363' });
    expect(verifySignature(ec.publicKey, MSG, p1363)).toBe(false);
  });
});

describe('RSA-PSS SHA-256', () => {
  const pss = (key: KeyObject, saltLength: number) =>
    crypto.sign('sha256', MSG, { key, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength });

  it.each([
    ['2048', () => rsa2048],
    ['3072', () => rsa3072],
    ['4096', () => rsa4096],
  ] as const)('RSA %s: verifies salt length 32 and the maximum salt length', (_n, pair) => {
    const { privateKey, publicKey } = pair();
    expect(verifySignature(publicKey, MSG, pss(privateKey, 32))).toBe(true);
    expect(verifySignature(publicKey, MSG, pss(privateKey, crypto.constants.RSA_PSS_SALTLEN_MAX_SIGN))).toBe(true);
    expect(verifySignature(publicKey, MSG, pss(privateKey, 0))).toBe(true);
    expect(verifySignature(publicKey, Buffer.from('x'), pss(privateKey, 32))).toBe(false);
  });

  it('signBytes signs with salt length 32 (as ota-tuf does)', () => {
    const sig = signBytes(rsa2048.privateKey, MSG);
    const verifyWithSalt = (saltLength: number) =>
      crypto.verify(
        'sha256',
        MSG,
        { key: rsa2048.publicKey.keyObject, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength },
        sig,
      );
    expect(verifyWithSalt(32)).toBe(true);
    expect(verifyWithSalt(20)).toBe(false);
    expect(verifySignature(rsa2048.publicKey, MSG, sig)).toBe(true);
  });

  it('rejects PKCS#1 v1.5 signatures and signatures by another key', () => {
    const v15 = crypto.sign('sha256', MSG, rsa2048.privateKey);
    expect(verifySignature(rsa2048.publicKey, MSG, v15)).toBe(false);
    expect(verifySignature(rsa3072.publicKey, MSG, pss(rsa2048.privateKey, 32))).toBe(false);
  });
});

describe('signature encodings', () => {
  it('ota is base64, tuf is lowercase hex, and malformed strings decode to null', () => {
    const sig = signBytes(ed.privateKey, MSG);
    expect(encodeSig(sig, 'ota')).toBe(sig.toString('base64'));
    expect(encodeSig(sig, 'tuf')).toBe(sig.toString('hex'));
    expect(decodeSig(encodeSig(sig, 'ota'), 'ota')!.equals(sig)).toBe(true);
    expect(decodeSig(encodeSig(sig, 'tuf'), 'tuf')!.equals(sig)).toBe(true);
    expect(decodeSig('abc', 'tuf')).toBeNull();
    expect(decodeSig('zz', 'tuf')).toBeNull();
    expect(decodeSig('abc', 'ota')).toBeNull();
    expect(decodeSig('ab$=', 'ota')).toBeNull();
  });
});
