/**
 * Keys on the keyholder's machine, behind the one Signer interface every signing path uses
 * (online rounds, --offline signing, the login challenge). Today: encrypted key files. A key file
 * holds the PKCS#8 private key encrypted with AES-256-GCM under a key derived from a passphrase
 * with scrypt; the header (format, algorithm, fingerprint, KDF parameters) is authenticated too,
 * so it cannot be swapped. The private key never leaves this process.
 */
import crypto, { type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import { unzipSync } from 'fflate';
import { KeyError, QuorumError } from '../protocol/errors.js';
import { jsonOf, readFile, readText } from '../protocol/files.js';
import { generateKeyPair, parseGarageSignPrivate, publicKeyFrom, signBytes, type KeyKind } from '../protocol/keys.js';
import type { Signer } from '../protocol/metadata/build.js';

export const KEY_FILE_FORMAT = 'uptane-quorum-key-v1';
export const SCRYPT_DEFAULT = { N: 1 << 17, r: 8, p: 1 } as const; // ~128 MiB, a few hundred ms
export const SCRYPT_MIN_N = 1 << 14;
/** The largest N keygen writes: 2^20 takes 1 GiB of memory (128 * N * r bytes) to read. */
export const SCRYPT_MAX_N = 1 << 20;

export interface KeyFile {
  format: typeof KEY_FILE_FORMAT;
  algorithm: string;
  fingerprint: string;
  publicKey: string;
  kdf: { name: 'scrypt'; N: number; r: number; p: number; salt: string };
  cipher: { name: 'aes-256-gcm'; iv: string; tag: string };
  ciphertext: string;
}

export class KeystoreError extends QuorumError<
  'KEY_FILE_INVALID' | 'KEY_PASSPHRASE' | 'KEY_FILE_EXISTS' | 'KEY_SCRYPT_COST'
> {}

/**
 * KEY_SCRYPT_COST unless N is a power of two from SCRYPT_MIN_N (what readKeyFile accepts) to
 * SCRYPT_MAX_N: a key file is never written that its reader would refuse.
 */
export function checkScryptN(N: number): number {
  if (!Number.isInteger(N) || N < SCRYPT_MIN_N || N > SCRYPT_MAX_N || (N & (N - 1)) !== 0) {
    throw new KeystoreError(
      'KEY_SCRYPT_COST',
      `scrypt cost N=${N} must be a power of two from ${SCRYPT_MIN_N} (the least a key file may have) to ` +
        `${SCRYPT_MAX_N}; the default is ${SCRYPT_DEFAULT.N}`,
    );
  }
  return N;
}

function aad(f: Pick<KeyFile, 'format' | 'algorithm' | 'fingerprint' | 'kdf'>): Buffer {
  return Buffer.from(JSON.stringify([f.format, f.algorithm, f.fingerprint, f.kdf.N, f.kdf.r, f.kdf.p, f.kdf.salt]));
}

// --- the sealed box every secret at rest uses (key files, FROST shares and nonces) --------------

export interface Sealed {
  cipher: { name: 'aes-256-gcm'; iv: string; tag: string };
  ciphertext: string;
}

/** The 32-byte key scrypt derives from a passphrase with these parameters. */
export function deriveKey(passphrase: string, kdf: { N: number; r: number; p: number; salt: string }): Buffer {
  return crypto.scryptSync(Buffer.from(passphrase, 'utf8'), Buffer.from(kdf.salt, 'base64'), 32, {
    N: kdf.N,
    r: kdf.r,
    p: kdf.p,
    maxmem: 256 * kdf.N * kdf.r + (1 << 20),
  });
}

/** AES-256-GCM with a fresh IV; `aad` binds the header the ciphertext belongs to. */
export function seal(key: Buffer, plaintext: Buffer, aad: Buffer): Sealed {
  const iv = crypto.randomBytes(12);
  const c = crypto.createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(aad);
  const ciphertext = Buffer.concat([c.update(plaintext), c.final()]);
  return {
    cipher: { name: 'aes-256-gcm', iv: iv.toString('base64'), tag: c.getAuthTag().toString('base64') },
    ciphertext: ciphertext.toString('base64'),
  };
}

/** The plaintext, or null when authentication fails (wrong key, or anything modified). */
export function unseal(key: Buffer, f: Sealed, aad: Buffer): Buffer | null {
  try {
    const d = crypto.createDecipheriv('aes-256-gcm', key, Buffer.from(f.cipher.iv, 'base64'));
    d.setAAD(aad);
    d.setAuthTag(Buffer.from(f.cipher.tag, 'base64'));
    return Buffer.concat([d.update(Buffer.from(f.ciphertext, 'base64')), d.final()]);
  } catch {
    return null;
  }
}

export function encryptKey(
  privateKey: KeyObject,
  passphrase: string,
  cost: { N: number; r: number; p: number } = SCRYPT_DEFAULT,
): KeyFile {
  if (passphrase.length < 8) throw new KeystoreError('KEY_PASSPHRASE', 'choose a passphrase of at least 8 characters');
  checkScryptN(cost.N);
  const pk = publicKeyFrom(privateKey);
  const kdf = { name: 'scrypt' as const, ...cost, salt: crypto.randomBytes(16).toString('base64') };
  const header = { format: KEY_FILE_FORMAT, algorithm: pk.algorithm, fingerprint: pk.fingerprint, kdf } as const;
  const der = privateKey.export({ type: 'pkcs8', format: 'der' });
  return {
    ...header,
    publicKey: pk.keyObject.export({ type: 'spki', format: 'pem' }).toString(),
    ...seal(deriveKey(passphrase, kdf), der, aad(header)),
  };
}

export function readKeyFile(file: string): KeyFile {
  let f: KeyFile;
  try {
    f = JSON.parse(fs.readFileSync(file, 'utf8')) as KeyFile;
  } catch (e) {
    throw new KeystoreError('KEY_FILE_INVALID', `${file}: cannot read the key file (${(e as Error).message})`);
  }
  if (f?.format !== KEY_FILE_FORMAT || f.kdf?.name !== 'scrypt' || f.cipher?.name !== 'aes-256-gcm') {
    throw new KeystoreError('KEY_FILE_INVALID', `${file}: not an ${KEY_FILE_FORMAT} key file`);
  }
  if (!(f.kdf.N >= SCRYPT_MIN_N))
    throw new KeystoreError(
      'KEY_FILE_INVALID',
      `${file}: scrypt cost N=${f.kdf.N} is below the minimum ${SCRYPT_MIN_N}`,
    );
  return f;
}

export function decryptKey(f: KeyFile, passphrase: string): KeyObject {
  const der = unseal(deriveKey(passphrase, f.kdf), f, aad(f));
  try {
    if (!der) throw new Error('authentication failed');
    const key = crypto.createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    if (publicKeyFrom(key).fingerprint !== f.fingerprint) throw new Error('fingerprint mismatch');
    return key;
  } catch {
    throw new KeystoreError('KEY_PASSPHRASE', 'wrong passphrase, or the key file was modified');
  }
}

export function writeKeyFile(file: string, f: KeyFile, overwrite = false): void {
  if (!overwrite && fs.existsSync(file))
    throw new KeystoreError('KEY_FILE_EXISTS', `${file} exists; choose another --out (a key is never overwritten)`);
  fs.writeFileSync(file, JSON.stringify(f, null, 2) + '\n', { mode: 0o600, flag: overwrite ? 'w' : 'wx' });
}

export function newKeyFile(kind: KeyKind, passphrase: string, cost?: { N: number; r: number; p: number }): KeyFile {
  return encryptKey(generateKeyPair(kind).privateKey, passphrase, cost);
}

/** Encrypt a garage-sign `.sec` key (ED25519 hex or RSA PEM) into a key file. */
export function importGarageSign(
  secFile: string,
  passphrase: string,
  cost?: { N: number; r: number; p: number },
  entry?: string,
): KeyFile {
  return encryptKey(readGarageSignKey(secFile, entry), passphrase, cost);
}

/** The private key of a garage-sign `.sec` file, or of the `entry` of a credentials.zip. */
export function readGarageSignKey(secFile: string, entry?: string): KeyObject {
  const file = entry ? `${secFile}:${entry}` : secFile;
  const text = entry ? zipEntry(secFile, entry) : readText(secFile, 'import-garage-sign');
  try {
    return parseGarageSignPrivate(jsonOf(text, 'import-garage-sign', file));
  } catch (e) {
    if (e instanceof KeyError) throw new KeyError(e.code, `import-garage-sign ${file}: ${e.message}`, { cause: e });
    throw e;
  }
}

/**
 * One entry of a zip (garage-sign's credentials.zip), inflated in memory only: the plaintext key
 * never touches the disk, and no other entry is decompressed.
 */
function zipEntry(zip: string, entry: string): string {
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(new Uint8Array(readFile(zip, 'import-garage-sign')), {
      filter: (f) => f.name === entry || f.name.endsWith(`/${entry}`),
    });
  } catch (e) {
    if (e instanceof QuorumError) throw e;
    throw new KeystoreError('KEY_FILE_INVALID', `${zip} is not a readable zip file (${(e as Error).message})`);
  }
  const names = Object.keys(files);
  if (names.length !== 1)
    throw new KeystoreError(
      'KEY_FILE_INVALID',
      names.length
        ? `${zip} holds several entries named ${entry}: ${names.join(', ')}`
        : `${zip} has no entry ${entry}`,
    );
  return Buffer.from(files[names[0]!]!).toString('utf8');
}

/** A Signer over an encrypted key file, decrypted once into this process's memory. */
export function fileSigner(file: string, passphrase: string): Signer {
  const key = decryptKey(readKeyFile(file), passphrase);
  return { publicKey: publicKeyFrom(key), sign: async (data: Buffer) => signBytes(key, data) };
}
