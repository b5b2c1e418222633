/**
 * RSA keys below 2048 bits are refused wherever a key enters (issue 9, point 9): a metadata key,
 * a PEM or DER public key (keyholder enrollment), a garage-sign private key being imported, a
 * certificate chain handed to the CA code (a 1024-bit RSA root above a P-256 intermediate), and
 * key files made with an scrypt cost their reader would refuse.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { QuorumError } from '../../protocol/errors.js';
import {
  checkRsaSize,
  parseGarageSignPrivate,
  parseMetadataKey,
  publicKeyFrom,
  RSA_MIN_BITS,
} from '../../protocol/keys.js';
import { prepareCertificate } from '../../protocol/x509.js';
import { checkScryptN, encryptKey, importGarageSign, newKeyFile, SCRYPT_MIN_N } from '../../signer-client/keystore.js';
import { testRsaKey } from '../test-keys.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quorum-weak-keys-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const rsa = (bits: number) => crypto.generateKeyPairSync('rsa', { modulusLength: bits });
const codeOf = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    return (e as QuorumError<string>).code ?? String(e);
  }
  return 'no error';
};

describe('RSA below 2048 bits', () => {
  const small = rsa(1024);
  const pem = small.publicKey.export({ type: 'spki', format: 'pem' }).toString();

  it('is refused as a public key (PEM, DER, KeyObject) and as a metadata key, in both keytype spellings', () => {
    expect(RSA_MIN_BITS).toBe(2048);
    expect(codeOf(() => publicKeyFrom(pem))).toBe('KEY_UNSUPPORTED');
    expect(codeOf(() => publicKeyFrom(small.publicKey.export({ type: 'spki', format: 'der' })))).toBe(
      'KEY_UNSUPPORTED',
    );
    expect(codeOf(() => publicKeyFrom(small.privateKey))).toBe('KEY_UNSUPPORTED');
    expect(codeOf(() => parseMetadataKey({ keytype: 'RSA', keyval: { public: pem } }))).toBe('KEY_UNSUPPORTED');
    expect(
      codeOf(() => parseMetadataKey({ keytype: 'rsa', scheme: 'rsassa-pss-sha256', keyval: { public: pem } })),
    ).toBe('KEY_UNSUPPORTED');
    expect(codeOf(() => checkRsaSize(crypto.generateKeyPairSync('rsa-pss', { modulusLength: 1024 }).publicKey))).toBe(
      'KEY_UNSUPPORTED',
    );
    // the boundary: 2048 passes (a key made once, test/test-keys.ts)
    expect(publicKeyFrom(crypto.createPublicKey(testRsaKey('rsa-2048-a'))).bits).toBe(2048);
  });

  it('is refused when a garage-sign key is imported (nothing is written)', () => {
    const sec = path.join(dir, 'small.sec');
    fs.writeFileSync(
      sec,
      JSON.stringify({
        keytype: 'RSA',
        keyval: { private: small.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() },
      }),
    );
    // parses: the size is a policy, checked next
    expect(parseGarageSignPrivate(JSON.parse(fs.readFileSync(sec, 'utf8')))).toBeDefined();
    expect(codeOf(() => importGarageSign(sec, 'correct horse battery staple', { N: SCRYPT_MIN_N, r: 8, p: 1 }))).toBe(
      'KEY_UNSUPPORTED',
    );
    expect(
      codeOf(() => encryptKey(small.privateKey, 'correct horse battery staple', { N: SCRYPT_MIN_N, r: 8, p: 1 })),
    ).toBe('KEY_UNSUPPORTED');
  });

  it('is refused anywhere up a certificate chain: a 1024-bit RSA root above a P-256 intermediate', async () => {
    const openssl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    fs.writeFileSync(
      path.join(dir, 'ca.ext'),
      'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n',
    );
    openssl([
      'req',
      '-x509',
      '-newkey',
      'rsa:1024',
      '-nodes',
      '-keyout',
      'root.key',
      '-out',
      'root.pem',
      '-days',
      '3650',
      '-subj',
      '/CN=weak root',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ]);
    openssl([
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      'inter.key',
      '-out',
      'inter.csr',
      '-subj',
      '/CN=line 1',
    ]);
    openssl([
      'x509',
      '-req',
      '-in',
      'inter.csr',
      '-CA',
      'root.pem',
      '-CAkey',
      'root.key',
      '-CAcreateserial',
      '-out',
      'inter.pem',
      '-days',
      '1825',
      '-extfile',
      'ca.ext',
    ]);
    openssl([
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      'dev.key',
      '-out',
      'dev.csr',
      '-subj',
      '/CN=device-1',
    ]);
    const read = (f: string) => fs.readFileSync(path.join(dir, f), 'utf8');
    const issuer = { certificate: read('inter.pem'), chain: [read('root.pem')] };
    const err = await prepareCertificate('device', { csr: read('dev.csr'), issuer }).then(
      () => null,
      (e: QuorumError<string>) => e,
    );
    expect(err?.code).toBe('KEY_UNSUPPORTED');
    expect(err?.message).toMatch(/chain certificate 1.*1024 bits/);
    // The same intermediate without the weak chain is fine: the refusal is the chain's key.
    expect(
      (await prepareCertificate('device', { csr: read('dev.csr'), issuer: { certificate: read('inter.pem') } }))
        .tbsSha256,
    ).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('scrypt cost of new key files', () => {
  it('refuses N below what the key-file reader accepts, or not a power of two, before anything is made', () => {
    for (const N of [1024, SCRYPT_MIN_N / 2, SCRYPT_MIN_N + 1, 20_000, 0, -16384, Number.NaN, 2 ** 21]) {
      expect(
        codeOf(() => checkScryptN(N)),
        String(N),
      ).toBe('KEY_SCRYPT_COST');
      expect(
        codeOf(() => newKeyFile('ed25519', 'correct horse battery staple', { N, r: 8, p: 1 })),
        String(N),
      ).toBe('KEY_SCRYPT_COST');
    }
    expect(checkScryptN(SCRYPT_MIN_N)).toBe(SCRYPT_MIN_N);
    expect(newKeyFile('ed25519', 'correct horse battery staple', { N: SCRYPT_MIN_N, r: 8, p: 1 }).kdf.N).toBe(
      SCRYPT_MIN_N,
    );
  });
});
