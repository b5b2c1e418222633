/**
 * Public keys as both dialects write them, their key ids, a dialect-independent fingerprint of
 * the key material, and the signature primitives (all through node:crypto, i.e. OpenSSL).
 *
 * The fingerprint is sha256 of the DER SubjectPublicKeyInfo: the same key written as hex, as PEM
 * with other line breaks, or under another key id has one fingerprint. Threshold counting uses it.
 */
import crypto, { type KeyObject } from 'node:crypto';
import { canonicalize, type Dialect } from './canonical.js';
import { KeyError } from './errors.js';
import { readText } from './files.js';

export type Algorithm = 'ed25519' | 'ecdsa-p256' | 'rsa-pss-sha256';

export interface PublicKey {
  readonly algorithm: Algorithm;
  readonly keyObject: KeyObject;
  /** DER SubjectPublicKeyInfo. */
  readonly spki: Buffer;
  /** Lowercase hex sha256 of `spki`; equal for equal key material. */
  readonly fingerprint: string;
  /** RSA modulus length in bits. */
  readonly bits?: number;
}

/** A key object as it appears in metadata `keys`; unknown fields are kept (they are signed). */
export interface MetadataKey {
  keytype: string;
  scheme?: string;
  keyval: { public: string; [k: string]: unknown };
  [k: string]: unknown;
}

const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const P256_SPKI_PREFIX = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex');
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const RSA_SIZES = new Set([2048, 3072, 4096]);
/**
 * bits: the smallest RSA modulus accepted anywhere (metadata, tokens, CSRs, chains, TLS): 112-bit security, NIST SP
 * 800-57.
 */
export const RSA_MIN_BITS = 2048;
const HEX = /^[0-9a-fA-F]*$/;

export function sha256hex(data: crypto.BinaryLike): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

function fromKeyObject(keyObject: KeyObject): PublicKey {
  const spki = keyObject.export({ format: 'der', type: 'spki' });
  const fingerprint = sha256hex(spki);
  switch (keyObject.asymmetricKeyType) {
    case 'ed25519':
      checkEd25519Point(spki.subarray(ED25519_SPKI_PREFIX.length));
      return { algorithm: 'ed25519', keyObject, spki, fingerprint };
    case 'ec': {
      const curve = keyObject.asymmetricKeyDetails?.namedCurve;
      if (curve !== 'prime256v1')
        throw new KeyError('KEY_UNSUPPORTED', `EC curve ${curve} is not supported; use P-256`);
      return { algorithm: 'ecdsa-p256', keyObject, spki, fingerprint };
    }
    case 'rsa':
      return { algorithm: 'rsa-pss-sha256', keyObject, spki, fingerprint, bits: checkRsaSize(keyObject) };
    default:
      throw new KeyError(
        'KEY_UNSUPPORTED',
        `key type ${keyObject.asymmetricKeyType} is not supported; use ed25519, ECDSA P-256 or RSA`,
      );
  }
}

/**
 * KEY_UNSUPPORTED for an RSA key (or RSA-PSS key) below RSA_MIN_BITS, whatever it is for; other key
 * types pass. Returns the modulus length (0 for other key types).
 */
export function checkRsaSize(keyObject: KeyObject, what = 'RSA key'): number {
  if (keyObject.asymmetricKeyType !== 'rsa' && keyObject.asymmetricKeyType !== 'rsa-pss') return 0;
  const bits = keyObject.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < RSA_MIN_BITS)
    throw new KeyError('KEY_UNSUPPORTED', `${what} of ${bits} bits is too small; use 2048, 3072 or 4096`);
  return bits;
}

/** A public key from a KeyObject, PEM text, or DER SPKI. */
export function publicKeyFrom(input: KeyObject | string | Buffer): PublicKey {
  try {
    if (typeof input === 'string') return fromKeyObject(crypto.createPublicKey(input));
    if (Buffer.isBuffer(input))
      return fromKeyObject(crypto.createPublicKey({ key: input, format: 'der', type: 'spki' }));
    return fromKeyObject(input.type === 'private' ? crypto.createPublicKey(input) : input);
  } catch (e) {
    if (e instanceof KeyError) throw e;
    throw new KeyError('KEY_INVALID', `cannot parse public key: ${(e as Error).message}`, { cause: e });
  }
}

function rawHex(hex: string, bytes: number, what: string): Buffer {
  if (hex.length !== bytes * 2 || !HEX.test(hex)) {
    throw new KeyError('KEY_INVALID', `${what} must be ${bytes * 2} hex characters, got ${hex.length}`);
  }
  return Buffer.from(hex, 'hex');
}

export function ed25519FromRaw(raw: Buffer): PublicKey {
  if (raw.length !== 32) throw new KeyError('KEY_INVALID', `an Ed25519 public key is 32 bytes, got ${raw.length}`);
  return publicKeyFrom(Buffer.concat([ED25519_SPKI_PREFIX, raw]));
}

/** Curve25519's field prime, 2^255 - 19, and the Edwards constant d = -121665/121666. */
const P = 2n ** 255n - 19n;
const modP = (a: bigint): bigint => ((a % P) + P) % P;
function powP(b: bigint, e: bigint): bigint {
  let r = 1n;
  for (b = modP(b); e > 0n; e >>= 1n, b = (b * b) % P) if (e & 1n) r = (r * b) % P;
  return r;
}
const D = modP(-121665n * powP(121666n, P - 2n));
const SQRT_M1 = powP(2n, (P - 1n) / 4n);
/** y of the order-8 points (the other one is p - Y8); the other small-order points have y 1, p - 1 or 0. */
const Y8 = 0x7a03ac9277fdc74ec6cc392cfa53202a0f67100d760b3cba4fd84d3d706a17c7n;
const SMALL_ORDER_Y = new Set([1n, P - 1n, 0n, Y8, P - Y8]);

/**
 * RFC 8032 5.1.3 decoding, strictly (canonical y, x recovered on the curve, no x = 0 with the sign
 * bit), and no small-order points: under such a key one signature verifies for every message.
 * The eight small-order points are exactly those with y in {1, p-1, 0, ±Y8}. Runs once per key
 * (keys are cached), never per signature; plain BigInt, so `quorum verify` loads no curve library.
 */
function checkEd25519Point(raw: Buffer): void {
  const bad = (why: string) =>
    new KeyError('KEY_INVALID', `not a valid Ed25519 public key encoding (RFC 8032 5.1.3): ${why}`);
  const sign = raw[31]! >> 7;
  const le = Buffer.from(raw);
  le[31] = le[31]! & 0x7f;
  const y = BigInt('0x' + (Buffer.from(le).reverse().toString('hex') || '0'));
  if (y >= P) throw bad('y is not below 2^255 - 19');
  const u = modP(y * y - 1n);
  const v = modP(D * y * y + 1n);
  let x = (u * powP(v, 3n) * powP(u * powP(v, 7n), (P - 5n) / 8n)) % P;
  const vx2 = (v * x * x) % P;
  if (vx2 !== u) {
    if (vx2 !== modP(-u)) throw bad('no point on the curve has this y');
    x = (x * SQRT_M1) % P;
  }
  if (x === 0n && sign === 1) throw bad('x is 0 but the sign bit is set');
  if (SMALL_ORDER_Y.has(y))
    throw new KeyError(
      'KEY_INVALID',
      'Ed25519 public key is a small-order point, under which forged signatures verify; it cannot be used',
    );
}

const cache = new Map<string, PublicKey>();

/**
 * Parse a metadata key object. Readers are lenient where real files differ (keytype case,
 * `ecdsa` vs `ecdsa-sha2-nistp256`, hex or PEM); the key id is never recomputed here.
 */
export function parseMetadataKey(key: MetadataKey): PublicKey {
  const keytype = String(key.keytype ?? '').toLowerCase();
  const pub = key.keyval?.public;
  if (typeof pub !== 'string') throw new KeyError('KEY_INVALID', 'keyval.public must be a string');
  const cacheKey = keytype + '\0' + pub;
  const hit = cache.get(cacheKey);
  if (hit) return hit;
  let pk: PublicKey;
  const isPem = pub.includes('-----BEGIN');
  switch (keytype) {
    case 'ed25519':
      pk = isPem ? publicKeyFrom(pub) : ed25519FromRaw(rawHex(pub, 32, 'an Ed25519 public key'));
      if (pk.algorithm !== 'ed25519')
        throw new KeyError('KEY_MISMATCH', `keytype ed25519 but the key is ${pk.algorithm}`);
      break;
    case 'ecdsa':
    case 'ecdsa-sha2-nistp256':
      pk = isPem
        ? publicKeyFrom(pub)
        : publicKeyFrom(Buffer.concat([P256_SPKI_PREFIX, rawHex(pub, 65, 'an uncompressed P-256 point')]));
      if (pk.algorithm !== 'ecdsa-p256')
        throw new KeyError('KEY_MISMATCH', `keytype ${keytype} but the key is ${pk.algorithm}`);
      break;
    case 'rsa':
      pk = publicKeyFrom(pub);
      if (pk.algorithm !== 'rsa-pss-sha256')
        throw new KeyError('KEY_MISMATCH', `keytype rsa but the key is ${pk.algorithm}`);
      break;
    default:
      throw new KeyError(
        'KEY_UNSUPPORTED',
        `keytype ${JSON.stringify(key.keytype)} is not supported (ed25519, ecdsa, rsa)`,
      );
  }
  if (cache.size > 10_000) cache.clear();
  cache.set(cacheKey, pk);
  return pk;
}

/** Whether aktualizr can use this key (ota dialect): ED25519 or RSA 2048/3072/4096 only. */
export function otaUsable(pk: PublicKey): boolean {
  return pk.algorithm === 'ed25519' || (pk.algorithm === 'rsa-pss-sha256' && RSA_SIZES.has(pk.bits ?? 0));
}

function pem(pk: PublicKey): string {
  // 64-character lines and a trailing newline, as BouncyCastle (ota-tuf) and OpenSSL write it.
  return pk.keyObject.export({ format: 'pem', type: 'spki' }).toString();
}

/** The key object to put in metadata `keys`, in the form the dialect's own tools write. */
export function toMetadataKey(pk: PublicKey, dialect: Dialect): MetadataKey {
  const rawEd = () => pk.spki.subarray(ED25519_SPKI_PREFIX.length).toString('hex');
  if (dialect === 'ota') {
    if (pk.algorithm === 'ed25519') return { keytype: 'ED25519', keyval: { public: rawEd() } };
    if (pk.algorithm === 'rsa-pss-sha256') return { keytype: 'RSA', keyval: { public: pem(pk) } };
    throw new KeyError(
      'KEY_UNSUPPORTED',
      'ECDSA keys cannot be used in the ota dialect: aktualizr rejects the whole root; use ed25519 or RSA',
    );
  }
  switch (pk.algorithm) {
    case 'ed25519':
      return { keytype: 'ed25519', scheme: 'ed25519', keyval: { public: rawEd() } };
    case 'ecdsa-p256':
      return { keytype: 'ecdsa', scheme: 'ecdsa-sha2-nistp256', keyval: { public: pem(pk) } };
    case 'rsa-pss-sha256':
      return { keytype: 'rsa', scheme: 'rsassa-pss-sha256', keyval: { public: pem(pk) } };
  }
}

/**
 * The key id each dialect's tools emit: `ota` (ota-tuf) sha256 of the DER SPKI; `tuf` sha256 of
 * the canonical JSON of the key object. Verifiers trust the id written in `keys` instead.
 */
export function keyId(key: MetadataKey, dialect: Dialect): string {
  if (dialect === 'ota') return parseMetadataKey(key).fingerprint;
  return sha256hex(canonicalize(key, 'tuf'));
}

// --- signatures ------------------------------------------------------------------------------

// little-endian
const ED25519_L = Buffer.from('edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010', 'hex');

/** Little-endian 32-byte comparison: a < b. */
function lessLE(a: Buffer, b: Buffer): boolean {
  for (let i = 31; i >= 0; i--) {
    if (a[i]! !== b[i]!) return a[i]! < b[i]!;
  }
  return false;
}

/** A point encoding is canonical when its y coordinate (sign bit cleared) is below p = 2^255-19. */
function canonicalPoint(b: Buffer): boolean {
  if ((b[31]! & 0x7f) !== 0x7f) return true;
  for (let i = 30; i >= 1; i--) if (b[i] !== 0xff) return true;
  return b[0]! < 0xed;
}

/**
 * Verify a signature over `data`. Ed25519 is strict RFC 8032: S < L and canonical R and A
 * encodings are required before OpenSSL checks the equation. ECDSA takes DER and accepts high-S
 * (OpenSSL does not normalise). RSA-PSS is SHA-256/MGF1-SHA-256 with the salt length recovered
 * from the signature, so ota-tuf (salt 32) and other signers (max salt) both verify.
 */
export function verifySignature(pk: PublicKey, data: Buffer, sig: Buffer): boolean {
  try {
    switch (pk.algorithm) {
      case 'ed25519': {
        if (sig.length !== 64) return false;
        if (!lessLE(sig.subarray(32), ED25519_L)) return false;
        if (!canonicalPoint(sig.subarray(0, 32))) return false; // A was checked strictly when parsed
        return crypto.verify(null, data, pk.keyObject, sig);
      }
      case 'ecdsa-p256':
        return crypto.verify('sha256', data, { key: pk.keyObject, dsaEncoding: 'der' }, sig);
      case 'rsa-pss-sha256':
        return crypto.verify(
          'sha256',
          data,
          {
            key: pk.keyObject,
            padding: crypto.constants.RSA_PKCS1_PSS_PADDING,
            saltLength: crypto.constants.RSA_PSS_SALTLEN_AUTO,
          },
          sig,
        );
    }
  } catch {
    return false; // malformed DER and the like: not a valid signature
  }
}

/**
 * The salt length of an RSA-PSS (SHA-256, MGF1-SHA-256) signature, recovered from the encoded
 * message (RFC 8017 9.1.2 steps 7-10); null when `sig` is not a PSS encoding under `pk` at all.
 * aktualizr and python-tuf accept any salt; ota-tuf's BouncyCastle verifier accepts only 32.
 */
export function pssSaltLength(pk: PublicKey, sig: Buffer): number | null {
  if (pk.algorithm !== 'rsa-pss-sha256' || !pk.bits || sig.length !== Math.ceil(pk.bits / 8)) return null;
  let em: Buffer;
  try {
    em = crypto.publicDecrypt({ key: pk.keyObject, padding: crypto.constants.RSA_NO_PADDING }, sig);
  } catch {
    return null;
  }
  const emBits = pk.bits - 1;
  const emLen = Math.ceil(emBits / 8);
  em = em.subarray(em.length - emLen); // a modulus of 8k bits gives one leading zero byte
  const hLen = 32;
  if (emLen < hLen + 2 || em[emLen - 1] !== 0xbc) return null;
  const maskedDB = em.subarray(0, emLen - hLen - 1);
  const h = em.subarray(emLen - hLen - 1, emLen - 1);
  const db = Buffer.alloc(maskedDB.length);
  for (let counter = 0, off = 0; off < db.length; counter++) {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(counter);
    const block = crypto.createHash('sha256').update(h).update(c).digest();
    for (let i = 0; i < block.length && off < db.length; i++, off++) db[off] = maskedDB[off]! ^ block[i]!;
  }
  db[0] = db[0]! & (0xff >> (8 * emLen - emBits));
  const one = db.findIndex((b) => b !== 0);
  if (one < 0 || db[one] !== 0x01) return null;
  return db.length - one - 1;
}

/** Sign with a private key held in this process (key files, tests, the online key). */
export function signBytes(privateKey: KeyObject, data: Buffer): Buffer {
  switch (privateKey.asymmetricKeyType) {
    case 'ed25519':
      return crypto.sign(null, data, privateKey);
    case 'ec':
      return crypto.sign('sha256', data, { key: privateKey, dsaEncoding: 'der' });
    case 'rsa':
      // Salt length 32 (= digest length), as ota-tuf and securesystemslib sign.
      return crypto.sign('sha256', data, {
        key: privateKey,
        padding: crypto.constants.RSA_PKCS1_PSS_PADDING,
        saltLength: 32,
      });
    default:
      throw new KeyError('KEY_UNSUPPORTED', `cannot sign with a ${privateKey.asymmetricKeyType} key`);
  }
}

/** The `method` field of an ota signature for this key. */
export function otaMethod(pk: PublicKey): string {
  if (pk.algorithm === 'ed25519') return 'ed25519';
  if (pk.algorithm === 'rsa-pss-sha256') return 'rsassa-pss-sha256';
  throw new KeyError('KEY_UNSUPPORTED', 'ECDSA has no ota signature method; use ed25519 or RSA');
}

export function encodeSig(sig: Buffer, dialect: Dialect): string {
  return dialect === 'ota' ? sig.toString('base64') : sig.toString('hex');
}

/** Decode a signature string; null when it is not valid base64 (ota) or hex (tuf). */
export function decodeSig(sig: string, dialect: Dialect): Buffer | null {
  if (dialect === 'tuf') {
    if (sig.length % 2 !== 0 || !HEX.test(sig)) return null;
    return Buffer.from(sig, 'hex');
  }
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(sig) || sig.length % 4 !== 0) return null;
  return Buffer.from(sig, 'base64');
}

// --- key generation and garage-sign key files --------------------------------------------------

export type KeyKind = 'ed25519' | 'ecdsa' | 'rsa' | 'rsa3072' | 'rsa4096';

export function generateKeyPair(kind: KeyKind): { privateKey: KeyObject; publicKey: PublicKey } {
  let pair: crypto.KeyPairKeyObjectResult;
  switch (kind) {
    case 'ed25519':
      pair = crypto.generateKeyPairSync('ed25519');
      break;
    case 'ecdsa':
      pair = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
      break;
    case 'rsa':
    case 'rsa3072':
    case 'rsa4096':
      pair = crypto.generateKeyPairSync('rsa', {
        modulusLength: kind === 'rsa' ? 2048 : kind === 'rsa3072' ? 3072 : 4096,
      });
      break;
  }
  return { privateKey: pair.privateKey, publicKey: publicKeyFrom(pair.publicKey) };
}

/** A garage-sign `.pub` file: `{"keytype": "ED25519"|"RSA", "keyval": {"public": ...}}`. */
export function parseGarageSignPublic(json: unknown): PublicKey {
  const k = json as MetadataKey;
  if (!k || typeof k !== 'object' || !k.keyval)
    throw new KeyError('KEY_INVALID', 'not a garage-sign public key file: expected {"keytype", "keyval": {"public"}}');
  return parseMetadataKey(k);
}

/**
 * The public key in a file a person named (`what` says which argument): PEM (SPKI), or a
 * garage-sign `.pub`. Anything else is KEY_INVALID, with the path.
 */
export function readPublicKeyFile(file: string, what: string): PublicKey {
  const text = readText(file, what);
  try {
    if (text.includes('-----BEGIN')) return publicKeyFrom(text);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new KeyError('KEY_INVALID', 'neither a PEM public key nor a garage-sign .pub file');
    }
    return parseGarageSignPublic(json);
  } catch (e) {
    if (e instanceof KeyError) throw new KeyError(e.code, `${what} ${file}: ${e.message}`, { cause: e });
    throw e;
  }
}

/**
 * A garage-sign `.sec` file: `{"keytype", "keyval": {"private": ...}}`. ED25519 private is hex
 * of seed (32 bytes) followed by the public key (32 bytes); RSA private is PEM.
 */
export function parseGarageSignPrivate(json: unknown): KeyObject {
  const k = json as { keytype?: string; keyval?: { private?: unknown } };
  const priv = k?.keyval?.private;
  if (typeof priv !== 'string')
    throw new KeyError('KEY_INVALID', 'not a garage-sign private key file: expected {"keyval": {"private"}}');
  const keytype = String(k.keytype ?? '').toLowerCase();
  try {
    if (priv.includes('-----BEGIN')) return crypto.createPrivateKey(priv);
    if (keytype !== 'ed25519') throw new KeyError('KEY_INVALID', `a ${keytype} private key must be PEM`);
    const raw = rawHex(priv, 64, 'a garage-sign ED25519 private key (seed + public)');
    const key = crypto.createPrivateKey({
      key: Buffer.concat([ED25519_PKCS8_PREFIX, raw.subarray(0, 32)]),
      format: 'der',
      type: 'pkcs8',
    });
    const derived = publicKeyFrom(key).spki.subarray(ED25519_SPKI_PREFIX.length);
    if (!derived.equals(raw.subarray(32)))
      throw new KeyError('KEY_MISMATCH', 'the private seed does not match the public half stored beside it');
    return key;
  } catch (e) {
    if (e instanceof KeyError) throw e;
    throw new KeyError('KEY_INVALID', `cannot parse garage-sign private key: ${(e as Error).message}`, { cause: e });
  }
}
