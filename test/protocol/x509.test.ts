/**
 * Fleet certificates against the outside judge: every chain here is built by protocol/x509.ts
 * and then checked by the real `openssl` binary (`verify -x509_strict`, `x509 -text`,
 * `asn1parse`), with CSRs made by `openssl req`. Signatures come from key files, from a key
 * held elsewhere (a separate implementation, as a token would sign) and from a 2-of-3 FROST
 * group (RFC 9591) whose key no process holds whole.
 */
import crypto, { type KeyObject } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ed25519_FROST } from '@noble/curves/ed25519.js';
import { p256 } from '@noble/curves/nist.js';
import { ed25519FromRaw, generateKeyPair, publicKeyFrom, sha256hex } from '../../protocol/keys.js';
import { localSigner, type Signer } from '../../protocol/metadata/build.js';
import {
  approvalMessage,
  assembleCertificate,
  checkCsr,
  formatReview,
  issueWith,
  prepareCertificate,
  reviewTbs,
  tbsBytes,
  tbsOfCertificate,
  type CertCode,
  type CertKeyAlgorithm,
  type Issued,
  type Prepared,
  verifyApprovals,
} from '../../protocol/x509.js';
import { testRsaKey } from '../test-keys.js';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'x509-test-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const DAY = 86_400_000;

function openssl(args: string[], input?: string | Buffer): string {
  return execFileSync('openssl', args, { cwd: dir, input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
}

let fileNo = 0;
function write(name: string, content: string | Buffer): string {
  const file = path.join(dir, `${++fileNo}-${name}`);
  fs.writeFileSync(file, content);
  return file;
}

/** `openssl verify -x509_strict`; returns [accepted, output]. */
function verifyChain(root: string, leaf: string, intermediates: string[] = []): [boolean, string] {
  const args = ['verify', '-x509_strict', '-CAfile', write('root.pem', root)];
  if (intermediates.length > 0) args.push('-untrusted', write('untrusted.pem', intermediates.join('')));
  args.push(write('leaf.pem', leaf));
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  return [r.status === 0 && r.stdout.trim().endsWith(': OK'), r.stdout + r.stderr];
}

type KeyKind = CertKeyAlgorithm | 'rsa1024' | 'rsa2048' | 'p384';

function newKey(kind: KeyKind): KeyObject {
  switch (kind) {
    case 'ed25519':
      return generateKeyPair('ed25519').privateKey;
    case 'ecdsa-p256':
      return generateKeyPair('ecdsa').privateKey;
    case 'p384':
      return crypto.generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey;
    case 'rsa1024':
      return crypto.generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
    case 'rsa2048':
      return testRsaKey('rsa-2048-a'); // made once (test/test-keys.ts)
  }
}

/** A PKCS#10 request made by `openssl req` from a key, with optional -addext lines. */
function opensslCsr(key: KeyObject, subject: string, addext: string[] = []): string {
  const keyFile = write('key.pem', key.export({ format: 'pem', type: 'pkcs8' }));
  const args = ['req', '-new', '-key', keyFile, '-subj', subject];
  for (const e of addext) args.push('-addext', e);
  return openssl(args);
}

function text(pem: string): string {
  return openssl(['x509', '-noout', '-text', '-in', write('cert.pem', pem)]);
}

/** The "X509v3 extensions" section of `openssl x509 -text`: name -> critical and value. */
function opensslExtensions(t: string): Map<string, { critical: boolean; value: string }> {
  const out = new Map<string, { critical: boolean; value: string }>();
  const lines = t.split('\n');
  let i = lines.findIndex((l) => l.trim() === 'X509v3 extensions:');
  expect(i).toBeGreaterThan(0);
  for (i++; i < lines.length; i++) {
    const m = /^ {12}(\S.*?):( critical)?\s*$/.exec(lines[i]!);
    if (!m) break;
    const values: string[] = [];
    while (i + 1 < lines.length && /^ {16}/.test(lines[i + 1]!)) values.push(lines[++i]!.trim());
    out.set(m[1]!, { critical: m[2] !== undefined, value: values.join(' ') });
  }
  return out;
}

const OPENSSL_NAMES: Record<string, string> = {
  basicConstraints: 'X509v3 Basic Constraints',
  keyUsage: 'X509v3 Key Usage',
  extendedKeyUsage: 'X509v3 Extended Key Usage',
  subjectKeyIdentifier: 'X509v3 Subject Key Identifier',
  authorityKeyIdentifier: 'X509v3 Authority Key Identifier',
};

/** The TBSCertificate bytes, located by `openssl asn1parse` (the first element of the outer SEQUENCE). */
function opensslTbs(pem: string): Buffer {
  const der = new crypto.X509Certificate(pem).raw;
  const listing = openssl(['asn1parse', '-inform', 'DER', '-in', write('cert.der', der)]);
  const m = /^\s*(\d+):d=1\s+hl=(\d+)\s+l=\s*(\d+)\s+cons: SEQUENCE/m.exec(listing);
  expect(m).not.toBeNull();
  const [off, hl, len] = [Number(m![1]), Number(m![2]), Number(m![3])];
  return der.subarray(off, off + hl + len);
}

async function expectCode(p: Promise<unknown> | (() => unknown), code: CertCode): Promise<void> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    expect((e as { code?: string }).code, String(e)).toBe(code);
    expect((e as Error).name).toBe('CertError');
    return;
  }
  throw new Error(`expected a CertError ${code}, but nothing was thrown`);
}

interface Ca {
  /** Absent where no process holds the key (FROST). */
  key?: KeyObject;
  signer: Signer;
  issued: Issued;
}

async function fleetRoot(alg: CertKeyAlgorithm, name = `fleet-${alg}`): Promise<Ca> {
  const key = newKey(alg);
  const signer = localSigner(key);
  const issued = await issueWith(signer, 'fleet-root', {
    subjectPublicKey: signer.publicKey,
    fleetName: name,
    issuer: 'self',
  });
  return { key, signer, issued };
}

async function intermediate(parent: Ca, alg: CertKeyAlgorithm, days = 365): Promise<Ca> {
  const key = newKey(alg);
  const csr = opensslCsr(key, `/O=ACME Fleet/CN=intermediate-${alg}`);
  const issued = await issueWith(parent.signer, 'intermediate-ca', {
    csr,
    issuer: { certificate: parent.issued.certificate, chain: parent.issued.chain },
    notAfter: new Date(Date.now() + days * DAY),
  });
  return { key, signer: localSigner(key), issued };
}

async function device(parent: Ca, alg: CertKeyAlgorithm, deviceId: string): Promise<Issued> {
  const csr = opensslCsr(newKey(alg), `/CN=${deviceId}`);
  return issueWith(parent.signer, 'device', {
    csr,
    deviceId,
    issuer: { certificate: parent.issued.certificate, chain: parent.issued.chain },
    notAfter: new Date(Date.now() + 300 * DAY),
  });
}

describe('chains that openssl verify -x509_strict accepts', () => {
  const chains: [CertKeyAlgorithm, CertKeyAlgorithm, CertKeyAlgorithm][] = [
    ['ed25519', 'ed25519', 'ed25519'],
    ['ecdsa-p256', 'ecdsa-p256', 'ecdsa-p256'],
    ['ed25519', 'ecdsa-p256', 'ecdsa-p256'],
    ['ecdsa-p256', 'ed25519', 'ed25519'],
    ['ed25519', 'ecdsa-p256', 'ed25519'],
    ['ecdsa-p256', 'ed25519', 'ecdsa-p256'],
  ];
  for (const [r, i, d] of chains) {
    it(`fleet root ${r} -> intermediate ${i} -> device ${d}`, async () => {
      const root = await fleetRoot(r);
      const inter = await intermediate(root, i);
      const dev = await device(inter, d, `vin-${d}-0001`);

      expect(verifyChain(root.issued.certificate, inter.issued.certificate)).toEqual([true, expect.any(String)]);
      const [ok, out] = verifyChain(root.issued.certificate, dev.certificate, [inter.issued.certificate]);
      expect(ok, out).toBe(true);
      // The release's fullchain is the device certificate followed by its chain, root last.
      expect(dev.chain).toEqual([inter.issued.certificate, root.issued.certificate]);
      expect(dev.fullchain).toBe(dev.certificate + inter.issued.certificate + root.issued.certificate);
      expect(dev.fullchain.match(/BEGIN CERTIFICATE/g)).toHaveLength(3);
      // Without the intermediate the device does not chain to the root.
      expect(verifyChain(root.issued.certificate, dev.certificate)[0]).toBe(false);
    });
  }

  it('device certificates issued straight from a fleet root, both key types either way round', async () => {
    for (const r of ['ed25519', 'ecdsa-p256'] as const) {
      const root = await fleetRoot(r);
      for (const d of ['ed25519', 'ecdsa-p256'] as const) {
        const dev = await device(root, d, `dev-${r}-${d}`);
        const [ok, out] = verifyChain(root.issued.certificate, dev.certificate);
        expect(ok, out).toBe(true);
        expect(new crypto.X509Certificate(dev.certificate).verify(root.signer.publicKey.keyObject)).toBe(true);
      }
    }
  });
});

describe('the extensions OTA Connect requires, as openssl x509 -text shows them', () => {
  it('fleet root: self-signed CA, CN = fleet name, critical CA:TRUE, Certificate Sign, critical serverAuth', async () => {
    for (const alg of ['ecdsa-p256', 'ed25519'] as const) {
      const root = await fleetRoot(alg, 'ACME Fleet');
      const t = text(root.issued.certificate);
      expect(t).toMatch(/Subject: CN = ACME Fleet\n/);
      expect(t).toMatch(/Issuer: CN = ACME Fleet\n/);
      expect(t).toContain(
        alg === 'ed25519' ? 'Signature Algorithm: ED25519' : 'Signature Algorithm: ecdsa-with-SHA256',
      );
      const ext = opensslExtensions(t);
      expect(ext.get('X509v3 Basic Constraints')).toEqual({ critical: true, value: 'CA:TRUE' });
      expect(ext.get('X509v3 Key Usage')).toEqual({ critical: true, value: 'Certificate Sign, CRL Sign' });
      expect(ext.get('X509v3 Extended Key Usage')).toEqual({ critical: true, value: 'TLS Web Server Authentication' });
      expect(ext.has('X509v3 Subject Key Identifier')).toBe(true);
      // About 10 years: the profile's default is its maximum.
      const c = new crypto.X509Certificate(root.issued.certificate);
      const days = (Date.parse(c.validTo) - Date.parse(c.validFrom)) / DAY;
      expect(days).toBeGreaterThan(3650);
      expect(days).toBeLessThanOrEqual(3653);
    }
  });

  it('intermediate CA: critical CA:TRUE with pathlen 0, Certificate Sign, authority key id of the root', async () => {
    const root = await fleetRoot('ed25519');
    const inter = await intermediate(root, 'ecdsa-p256');
    const ext = opensslExtensions(text(inter.issued.certificate));
    expect(ext.get('X509v3 Basic Constraints')).toEqual({ critical: true, value: 'CA:TRUE, pathlen:0' });
    expect(ext.get('X509v3 Key Usage')).toEqual({ critical: true, value: 'Certificate Sign, CRL Sign' });
    const rootExt = opensslExtensions(text(root.issued.certificate));
    expect(ext.get('X509v3 Authority Key Identifier')!.value).toBe(rootExt.get('X509v3 Subject Key Identifier')!.value);
    expect(text(inter.issued.certificate)).toMatch(/Subject: O = ACME Fleet, CN = intermediate-ecdsa-p256\n/);
  });

  it('device: CN = device id, critical Digital Signature, critical clientAuth, CA:FALSE', async () => {
    const root = await fleetRoot('ecdsa-p256');
    const dev = await device(root, 'ecdsa-p256', 'a1b2c3d4-device');
    const t = text(dev.certificate);
    expect(t).toMatch(/Subject: CN = a1b2c3d4-device\n/);
    expect(t).toMatch(/Issuer: CN = fleet-ecdsa-p256\n/);
    const ext = opensslExtensions(t);
    expect(ext.get('X509v3 Key Usage')).toEqual({ critical: true, value: 'Digital Signature' });
    expect(ext.get('X509v3 Extended Key Usage')).toEqual({ critical: true, value: 'TLS Web Client Authentication' });
    expect(ext.get('X509v3 Basic Constraints')).toEqual({ critical: true, value: 'CA:FALSE' });
    expect(t).not.toContain('Certificate Sign');
  });
});

describe('refusals before a round opens', () => {
  let root: Ca;
  let inter: Ca;
  const issuerOf = (ca: Ca) => ({ certificate: ca.issued.certificate, chain: ca.issued.chain });
  beforeAll(async () => {
    root = await fleetRoot('ed25519');
    inter = await intermediate(root, 'ecdsa-p256');
  });

  it('a CSR whose signature was altered (one byte flipped): CSR_SIGNATURE', async () => {
    for (const alg of ['ed25519', 'ecdsa-p256'] as const) {
      const csr = opensslCsr(newKey(alg), '/CN=dev-flip');
      const der = Buffer.from(csr.replace(/-----[^-]+-----/g, '').replace(/\s/g, ''), 'base64');
      expect(checkCsr('device', der).commonNames).toEqual(['dev-flip']);
      der[der.length - 1]! ^= 0x01; // the signature BIT STRING ends the request
      const judged = spawnSync('openssl', ['req', '-inform', 'DER', '-verify', '-noout'], {
        input: der,
        encoding: 'utf8',
      });
      expect(judged.stdout + judged.stderr).toContain('verify failure'); // openssl 3.0 exits 0 here
      await expectCode(() => checkCsr('device', der), 'CSR_SIGNATURE');
      await expectCode(prepareCertificate('device', { csr: der, issuer: issuerOf(root) }), 'CSR_SIGNATURE');
    }
  });

  it('a CSR whose subject was altered after signing: CSR_SIGNATURE', async () => {
    const csr = opensslCsr(newKey('ed25519'), '/CN=dev-aaaa');
    const der = Buffer.from(csr.replace(/-----[^-]+-----/g, '').replace(/\s/g, ''), 'base64');
    const at = der.indexOf(Buffer.from('dev-aaaa'));
    der.write('dev-bbbb', at);
    await expectCode(() => checkCsr('device', der), 'CSR_SIGNATURE');
  });

  it('a CA request on the device profile: CSR_CA_ON_DEVICE (the intermediate profile takes it)', async () => {
    const key = newKey('ecdsa-p256');
    const caCsr = opensslCsr(key, '/CN=sneaky-ca', ['basicConstraints=critical,CA:TRUE']);
    await expectCode(prepareCertificate('device', { csr: caCsr, issuer: issuerOf(inter) }), 'CSR_CA_ON_DEVICE');
    const signCsr = opensslCsr(key, '/CN=sneaky-signer', ['keyUsage=keyCertSign']);
    await expectCode(() => checkCsr('device', signCsr), 'CSR_CA_ON_DEVICE');
    expect(checkCsr('intermediate-ca', caCsr).requestsCa).toBe(true);
    // Requested extensions are never copied: the device profile decides them.
    const plain = opensslCsr(key, '/CN=dev-with-san', ['subjectAltName=DNS:evil.example', 'basicConstraints=CA:FALSE']);
    const dev = await issueWith(inter.signer, 'device', {
      csr: plain,
      issuer: issuerOf(inter),
      notAfter: new Date(Date.now() + 30 * DAY),
    });
    expect(text(dev.certificate)).not.toContain('evil.example');
  });

  it('a validity beyond the profile limit: VALIDITY_TOO_LONG', async () => {
    const now = new Date();
    const devCsr = opensslCsr(newKey('ed25519'), '/CN=dev-long');
    await expectCode(
      prepareCertificate('device', {
        csr: devCsr,
        issuer: issuerOf(root),
        notBefore: now,
        notAfter: new Date(now.getTime() + 400 * DAY),
      }),
      'VALIDITY_TOO_LONG',
    );
    const caCsr = opensslCsr(newKey('ed25519'), '/CN=inter-long');
    await expectCode(
      prepareCertificate('intermediate-ca', {
        csr: caCsr,
        issuer: issuerOf(root),
        notBefore: now,
        notAfter: new Date(now.getTime() + 6 * 365 * DAY),
      }),
      'VALIDITY_TOO_LONG',
    );
    const key = generateKeyPair('ecdsa').publicKey;
    await expectCode(
      prepareCertificate('fleet-root', {
        subjectPublicKey: key,
        fleetName: 'f',
        issuer: 'self',
        notBefore: now,
        notAfter: new Date(now.getTime() + 11 * 365 * DAY),
      }),
      'VALIDITY_TOO_LONG',
    );
    // A year (with a leap day) is allowed for a device; a certificate may not outlive its issuer.
    await prepareCertificate('device', {
      csr: devCsr,
      issuer: issuerOf(root),
      notBefore: now,
      notAfter: new Date(now.getTime() + 366 * DAY),
    });
    await expectCode(
      prepareCertificate('device', {
        csr: devCsr,
        issuer: issuerOf(inter),
        notBefore: now,
        notAfter: new Date(now.getTime() + 366 * DAY),
      }),
      'VALIDITY_BEYOND_ISSUER',
    );
    await expectCode(
      prepareCertificate('device', { csr: devCsr, issuer: issuerOf(root), notBefore: now, notAfter: now }),
      'VALIDITY_INVALID',
    );
  });

  it('unsupported keys (RSA-1024, RSA-2048, P-384), in a CSR or as the fleet root key: KEY_UNSUPPORTED', async () => {
    for (const kind of ['rsa1024', 'rsa2048', 'p384'] as const) {
      const key = newKey(kind);
      const csr = opensslCsr(key, `/CN=dev-${kind}`);
      await expectCode(prepareCertificate('device', { csr, issuer: issuerOf(root) }), 'KEY_UNSUPPORTED');
      await expectCode(
        prepareCertificate('fleet-root', {
          subjectPublicKey: crypto.createPublicKey(key),
          fleetName: 'f',
          issuer: 'self',
        }),
        'KEY_UNSUPPORTED',
      );
    }
  });

  it('assembly refuses a certificate whose chain names another CA than the key that signed it', async () => {
    const a = await fleetRoot('ed25519', 'Acme Fleet');
    const b = await fleetRoot('ed25519', 'Other Fleet');
    const csr = opensslCsr(newKey('ed25519'), '/CN=dev-twin');
    // A TBS made under B (issuer name and authority key id B's, chain [B]) but said to be A's key.
    const underB = await prepareCertificate('device', {
      csr,
      issuer: { certificate: b.issued.certificate, chain: b.issued.chain },
    });
    const lie = {
      ...underB,
      issuerSpki: a.signer.publicKey.spki.toString('base64'),
      issuerFingerprint: a.signer.publicKey.fingerprint,
    };
    await expectCode(assembleCertificate(lie, await a.signer.sign(tbsBytes(lie))), 'CERT_ASSEMBLY');
    // The honest one assembles.
    const honest = await prepareCertificate('device', {
      csr,
      issuer: { certificate: a.issued.certificate, chain: a.issued.chain },
    });
    expect((await assembleCertificate(honest, await a.signer.sign(tbsBytes(honest)))).chain).toEqual([
      a.issued.certificate,
    ]);
  });

  it('other refusals: garbage, CN mismatch, non-CA issuer, pathlen 0, wrong signer, bad serial', async () => {
    await expectCode(() => checkCsr('device', 'not a CSR'), 'CSR_INVALID');
    await expectCode(() => checkCsr('device', Buffer.alloc(20_000, 0x30)), 'CSR_INVALID');
    const csr = opensslCsr(newKey('ed25519'), '/CN=dev-42');
    await expectCode(
      prepareCertificate('device', { csr, deviceId: 'dev-43', issuer: issuerOf(root) }),
      'SUBJECT_MISMATCH',
    );
    await expectCode(
      prepareCertificate('device', { csr: opensslCsr(newKey('ed25519'), '/O=no cn'), issuer: issuerOf(root) }),
      'SUBJECT_INVALID',
    );
    // The CN may come from the request instead, when the CSR has none.
    const named = await prepareCertificate('device', {
      csr: opensslCsr(newKey('ed25519'), '/O=no cn'),
      deviceId: 'dev-44',
      issuer: issuerOf(root),
    });
    expect(reviewTbs(named.tbs).subject).toBe('CN=dev-44');

    const dev = await device(root, 'ed25519', 'dev-leaf');
    await expectCode(prepareCertificate('device', { csr, issuer: { certificate: dev.certificate } }), 'ISSUER_NOT_CA');
    const caCsr = opensslCsr(newKey('ed25519'), '/CN=sub-ca');
    await expectCode(prepareCertificate('intermediate-ca', { csr: caCsr, issuer: issuerOf(inter) }), 'ISSUER_NOT_CA');
    await expectCode(
      prepareCertificate('device', {
        csr,
        issuer: { certificate: inter.issued.certificate, chain: [dev.certificate] },
      }),
      'ISSUER_INVALID',
    );
    await expectCode(
      prepareCertificate('device', { csr, issuer: issuerOf(root), issuerAlgorithm: 'ecdsa-p256' }),
      'ISSUER_KEY_MISMATCH',
    );
    await expectCode(issueWith(inter.signer, 'device', { csr, issuer: issuerOf(root) }), 'ISSUER_KEY_MISMATCH');
    await expectCode(prepareCertificate('fleet-root', { csr, issuer: 'self' }), 'REQUEST_INVALID');
    await expectCode(prepareCertificate('device', { csr, issuer: 'self' }), 'REQUEST_INVALID');
    await expectCode(prepareCertificate('bogus' as 'device', { csr, issuer: 'self' }), 'PROFILE_UNKNOWN');
    for (const serial of ['00', '80ff', '0001', 'zz', '01'.repeat(21)]) {
      await expectCode(prepareCertificate('device', { csr, issuer: issuerOf(root), serial }), 'SERIAL_INVALID');
    }
  });

  it('assembly refuses a wrong signature, and a prepared TBS altered after review', async () => {
    const csr = opensslCsr(newKey('ecdsa-p256'), '/CN=dev-asm');
    for (const ca of [root, inter]) {
      const prepared = await prepareCertificate('device', { csr, issuer: issuerOf(ca) });
      const sig = await ca.signer.sign(tbsBytes(prepared));
      const bad = Buffer.from(sig);
      bad[bad.length - 2]! ^= 0x01;
      await expectCode(assembleCertificate(prepared, bad), 'CERT_SIGNATURE');
      await expectCode(
        assembleCertificate(
          prepared,
          await localSigner(newKey(ca.signer.publicKey.algorithm as CertKeyAlgorithm)).sign(tbsBytes(prepared)),
        ),
        'CERT_SIGNATURE',
      );
      const altered = Buffer.from(prepared.tbs, 'base64');
      altered[altered.length - 1]! ^= 0x01;
      await expectCode(assembleCertificate({ ...prepared, tbs: altered.toString('base64') }, sig), 'TBS_INVALID');
      await expectCode(
        assembleCertificate({ ...prepared, tbs: altered.toString('base64'), tbsSha256: sha256hex(altered) }, sig),
        'CERT_SIGNATURE',
      );
      await expect(assembleCertificate(prepared, sig)).resolves.toMatchObject({ tbsSha256: prepared.tbsSha256 });
    }
  });
});

describe('the review summary, from the TBS bytes alone', () => {
  it('matches the issued certificate as openssl reads it', async () => {
    const root = await fleetRoot('ecdsa-p256', 'Review Fleet');
    const inter = await intermediate(root, 'ed25519');
    const csr = opensslCsr(newKey('ecdsa-p256'), '/CN=review-device-7');
    const prepared: Prepared = await prepareCertificate('device', {
      csr,
      issuer: { certificate: inter.issued.certificate, chain: inter.issued.chain },
      notBefore: new Date('2026-01-01T00:00:00.750Z'),
      notAfter: new Date('2026-12-31T12:00:00Z'),
    });
    // The summary is computed before any signature exists, then compared with what openssl sees.
    const review = reviewTbs(prepared.tbs);
    const issued = await assembleCertificate(prepared, await inter.signer.sign(tbsBytes(prepared)));
    expect(verifyChain(root.issued.certificate, issued.certificate, [inter.issued.certificate])[0]).toBe(true);

    // TBS sha256: the bytes openssl asn1parse finds inside the certificate.
    const tbs = opensslTbs(issued.certificate);
    expect(review.tbsSha256).toBe(sha256hex(tbs));
    expect(tbsOfCertificate(issued.certificate).equals(tbs)).toBe(true);
    expect(reviewTbs(tbs)).toEqual(review);

    const file = write('review.pem', issued.certificate);
    const fields = openssl([
      'x509',
      '-noout',
      '-serial',
      '-startdate',
      '-enddate',
      '-subject',
      '-issuer',
      '-nameopt',
      'RFC2253',
      '-in',
      file,
    ]);
    const field = (k: string) => new RegExp(`^${k}=(.*)$`, 'm').exec(fields)![1]!;
    expect(review.serial).toBe(field('serial').toLowerCase());
    expect(review.subject).toBe(field('subject'));
    expect(review.subject).toBe('CN=review-device-7');
    // openssl's RFC 2253 form lists the RDNs last first, without spaces.
    expect(review.issuer.split(', ').reverse().join(',')).toBe(field('issuer'));
    expect(review.issuer).toBe('O=ACME Fleet, CN=intermediate-ed25519');
    expect(Date.parse(field('notBefore'))).toBe(Date.parse(review.notBefore));
    expect(Date.parse(field('notAfter'))).toBe(Date.parse(review.notAfter));
    expect(review.notBefore).toBe('2026-01-01T00:00:00.000Z');
    expect(review.selfIssued).toBe(false);
    expect(review.signatureAlgorithm).toBe('ed25519');
    expect(review.ca).toBe(false);

    // Public-key fingerprint: sha256 of the SPKI openssl extracts.
    const spki = execFileSync('openssl', ['pkey', '-pubin', '-outform', 'DER'], {
      input: openssl(['x509', '-noout', '-pubkey', '-in', file]),
    });
    expect(review.publicKey).toEqual({ algorithm: 'ecdsa-p256', fingerprint: sha256hex(spki) });
    expect(review.publicKey.fingerprint).toBe(
      publicKeyFrom(new crypto.X509Certificate(issued.certificate).publicKey).fingerprint,
    );

    // Every extension, named, with criticality and the value openssl prints.
    const ext = opensslExtensions(text(issued.certificate));
    expect(review.extensions.map((e) => OPENSSL_NAMES[e.name]).sort()).toEqual([...ext.keys()].sort());
    for (const e of review.extensions)
      expect({ critical: e.critical, value: e.value }).toEqual(ext.get(OPENSSL_NAMES[e.name]!));

    const shown = formatReview(review);
    expect(shown).toContain(review.tbsSha256);
    expect(shown).toContain('extendedKeyUsage (critical): TLS Web Client Authentication');
  });

  it('describes a CA root, and refuses bytes that are not a DER TBSCertificate', async () => {
    const root = await fleetRoot('ed25519', 'Root Review');
    const r = reviewTbs(tbsOfCertificate(root.issued.certificate));
    expect(r).toMatchObject({
      subject: 'CN=Root Review',
      issuer: 'CN=Root Review',
      selfIssued: true,
      ca: true,
      signatureAlgorithm: 'ed25519',
    });
    expect(r.pathLength).toBeUndefined();
    expect(r.serial).toMatch(/^[0-7][0-9a-f]{31}$/);
    await expectCode(() => reviewTbs(Buffer.from('3003020101', 'hex')), 'TBS_INVALID');
    // BER (a long-form length where DER needs the short form) is refused: one meaning per bytes.
    const der = tbsOfCertificate(root.issued.certificate);
    expect(der[1]).toBe(0x82);
    const ber = Buffer.concat([Buffer.from([0x30, 0x83, 0x00]), der.subarray(2)]);
    await expectCode(() => reviewTbs(ber), 'TBS_INVALID');
  });
});

describe('signatures made elsewhere', () => {
  it(
    'a P-256 CA whose key is held apart (a separate implementation, like a token) issues a verifying device ' +
      'certificate',
    async () => {
      const caKey = newKey('ecdsa-p256');
      const d = Buffer.from(caKey.export({ format: 'jwk' }).d!, 'base64url');
      // Only the public half is a node KeyObject here; the signature comes from noble, in DER.
      const made: Buffer[] = [];
      const tokenLike: Signer = {
        publicKey: publicKeyFrom(crypto.createPublicKey(caKey).export({ format: 'pem', type: 'spki' }).toString()),
        sign: async (data) => {
          made.push(Buffer.from(p256.sign(data, d, { format: 'der' })));
          return made.at(-1)!;
        },
      };
      const root = await issueWith(tokenLike, 'fleet-root', {
        subjectPublicKey: tokenLike.publicKey,
        fleetName: 'Token Fleet',
        issuer: 'self',
      });
      // The certificate carries exactly the DER signature the key holder made (its last bytes).
      expect(root.der.subarray(root.der.length - made[0]!.length).equals(made[0]!)).toBe(true);
      const ca: Ca = { key: caKey, signer: tokenLike, issued: root };
      const dev = await device(ca, 'ed25519', 'token-issued-device');
      const [ok, out] = verifyChain(root.certificate, dev.certificate);
      expect(ok, out).toBe(true);
    },
  );

  it('a 2-of-3 FROST group (RFC 9591, Ed25519) is a fleet root that openssl accepts', async () => {
    const ids = ['alice', 'bob', 'carol'].map((n) => ed25519_FROST.Identifier.derive(`${n}@fleet.example`));
    const deal = ed25519_FROST.trustedDealer({ min: 2, max: 3 }, ids);
    const groupKey = ed25519FromRaw(Buffer.from(deal.public.commitments[0]!));
    let signings = 0;
    const frost: Signer = {
      publicKey: groupKey,
      // A different pair of participants each time: any two of the three can sign.
      sign: async (msg) => {
        const pair = [ids[signings % 3]!, ids[(signings + 1) % 3]!];
        signings++;
        const rounds = pair.map((id) => ({ id, ...ed25519_FROST.commit(deal.secretShares[id]!) }));
        const commitments = rounds.map((r) => r.commitments);
        const shares: Record<string, Uint8Array> = {};
        for (const r of rounds)
          shares[r.id] = ed25519_FROST.signShare(deal.secretShares[r.id]!, deal.public, r.nonces, commitments, msg);
        return Buffer.from(ed25519_FROST.aggregate(deal.public, commitments, msg, shares));
      },
    };
    const root = await issueWith(frost, 'fleet-root', {
      subjectPublicKey: groupKey,
      fleetName: 'FROST Fleet',
      issuer: 'self',
    });
    const ca: Ca = { signer: frost, issued: root };
    const inter = await intermediate(ca, 'ecdsa-p256');
    const dev = await device(inter, 'ecdsa-p256', 'frost-chain-device');
    const [ok, out] = verifyChain(root.certificate, dev.certificate, [inter.issued.certificate]);
    expect(ok, out).toBe(true);
    expect(signings).toBe(2);
    expect(text(root.certificate)).toContain('Signature Algorithm: ED25519');
  });
});

describe('approvals gate a P-256 CA key', () => {
  it('the CA key holder signs only after a threshold of distinct pinned keyholders approved the exact TBS', async () => {
    const root = await fleetRoot('ecdsa-p256', 'Approved Fleet');
    const keyholders = (['ed25519', 'ecdsa', 'rsa'] as const).map((k) => generateKeyPair(k));
    const pinned = keyholders.map((k) => k.publicKey);
    const csr = opensslCsr(newKey('ecdsa-p256'), '/CN=approved-device');
    const prepared = await prepareCertificate('device', { csr, issuer: { certificate: root.issued.certificate } });
    const tbs = tbsBytes(prepared);
    const approve = async (i: number, bytes = tbs) => ({
      publicKey: pinned[i]!,
      signature: await localSigner(keyholders[i]!.privateKey).sign(approvalMessage(bytes, prepared.issuerFingerprint)),
    });

    const a0 = await approve(0);
    // One approval, even sent three times, is one keyholder.
    await expectCode(
      () => verifyApprovals(tbs, prepared.issuerFingerprint, [a0, a0, a0], pinned, 2),
      'APPROVALS_UNMET',
    );
    // An approval of other TBS bytes, or by a key that is not pinned, does not count.
    const otherTbs = Buffer.from(tbs);
    otherTbs[otherTbs.length - 1]! ^= 1;
    const stranger = generateKeyPair('ed25519');
    const strangerApproval = {
      publicKey: stranger.publicKey,
      signature: await localSigner(stranger.privateKey).sign(approvalMessage(tbs, prepared.issuerFingerprint)),
    };
    const a1ForOther = await approve(1, otherTbs);
    await expectCode(
      () => verifyApprovals(tbs, prepared.issuerFingerprint, [a0, a1ForOther, strangerApproval], pinned, 2),
      'APPROVALS_UNMET',
    );
    // Approvals name the CA key: the same TBS approved for another issuer does not count.
    expect(verifyApprovals(tbs, prepared.issuerFingerprint, [a0], pinned, 1)).toEqual([pinned[0]!.fingerprint]);
    await expectCode(() => verifyApprovals(tbs, 'ab'.repeat(32), [a0], pinned, 1), 'APPROVALS_UNMET');

    const counted = verifyApprovals(tbs, prepared.issuerFingerprint, [a0, await approve(2)], pinned, 2);
    expect(counted.sort()).toEqual([pinned[0]!.fingerprint, pinned[2]!.fingerprint].sort());
    const issued = await assembleCertificate(prepared, await root.signer.sign(tbs));
    const [ok, out] = verifyChain(root.issued.certificate, issued.certificate);
    expect(ok, out).toBe(true);
  });
});
