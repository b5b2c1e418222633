/**
 * The CA key's own check of the issuer a certificate round's TBS names (protocol/x509.ts
 * issuerProblems, signer-client/cert-trust.ts checkIssuer): honest TBS bytes from
 * prepareCertificate pass (fleet roots, intermediates, devices; P-256 and Ed25519), and every lie
 * a coordinator could tell is named: another issuer Name, a CA certificate for another key, a
 * forged self-issued CA certificate, another AuthorityKeyIdentifier, a fleet root that is not
 * self-issued or not for the CA key, a missing or unparseable chain.
 */
import crypto, { type KeyObject } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair, sha256hex, type PublicKey } from '../../protocol/keys.js';
import { localSigner, type Signer } from '../../protocol/metadata/build.js';
import type { CertRoundInfo } from '../../protocol/wire.js';
import {
  assembleCertificate,
  issuerProblems,
  issueWith,
  prepareCertificate,
  tbsBytes,
  type CertKeyAlgorithm,
  type Issued,
  type Prepared,
  type ProfileName,
} from '../../protocol/x509.js';
import { checkCertPayload, checkIssuer, checkIssuerAsApprover } from '../../signer-client/cert-trust.js';
import { brokenSignature, withAkid, withIssuer, withSkid } from '../tbs-tamper.js';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cert-issuer-test-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const newKey = (alg: CertKeyAlgorithm): KeyObject =>
  generateKeyPair(alg === 'ed25519' ? 'ed25519' : 'ecdsa').privateKey;

let n = 0;
function csr(key: KeyObject, subject: string): string {
  const file = path.join(dir, `${++n}.key.pem`);
  fs.writeFileSync(file, key.export({ format: 'pem', type: 'pkcs8' }));
  return execFileSync('openssl', ['req', '-new', '-key', file, '-subj', subject], { encoding: 'utf8' });
}

/** RFC 5280 method 1, as protocol/x509.ts computes key identifiers. */
function keyIdOf(pk: PublicKey): Buffer {
  const raw = pk.keyObject.export({ format: 'der', type: 'spki' });
  // The subjectPublicKey BIT STRING's contents: the last 65 (P-256) or 32 (Ed25519) bytes of the SPKI.
  return crypto
    .createHash('sha1')
    .update(raw.subarray(pk.algorithm === 'ed25519' ? -32 : -65))
    .digest();
}

interface Ca {
  signer: Signer;
  issued: Issued;
}

async function root(alg: CertKeyAlgorithm, name: string): Promise<Ca> {
  const signer = localSigner(newKey(alg));
  return {
    signer,
    issued: await issueWith(signer, 'fleet-root', {
      subjectPublicKey: signer.publicKey,
      fleetName: name,
      issuer: 'self',
    }),
  };
}

const under = (ca: Ca) => ({ certificate: ca.issued.certificate, chain: ca.issued.chain });

async function deviceTbs(ca: Ca, alg: CertKeyAlgorithm = 'ecdsa-p256'): Promise<Prepared> {
  return prepareCertificate('device', { csr: csr(newKey(alg), '/CN=device-1'), issuer: under(ca) });
}

function round(profile: ProfileName, tbs: Buffer, issuerFingerprint: string): CertRoundInfo {
  const now = new Date().toISOString();
  return {
    id: 'cert-7',
    ca: 'fleet',
    profile,
    state: 'open',
    reason: 'test',
    deadline: now,
    createdAt: now,
    tbsSha256: sha256hex(tbs),
    issuerFingerprint,
    holder: 'ca',
    approvals: { threshold: 1, approved: [], missing: [], met: false },
  };
}

/** checkCertPayload then checkIssuer, as the holder's client runs them; the Refusal's code and message, or null. */
function holderCheck(
  profile: ProfileName,
  tbs: Buffer,
  chain: readonly string[],
  key: PublicKey,
): { code: string; message: string } | null {
  const checked = checkCertPayload(round(profile, tbs, key.fingerprint), tbs.toString('base64'), chain);
  try {
    checkIssuer(checked, key);
    return null;
  } catch (e) {
    return { code: (e as { code: string }).code, message: (e as Error).message };
  }
}

describe('honest TBS bytes pass', () => {
  for (const alg of ['ecdsa-p256', 'ed25519'] as const) {
    it(`${alg}: a fleet root, an intermediate under it and a device under the intermediate`, async () => {
      const fleet = await root(alg, `Fleet ${alg}`);
      const rootPrepared = await prepareCertificate('fleet-root', {
        subjectPublicKey: fleet.signer.publicKey,
        fleetName: `Fleet ${alg}`,
        issuer: 'self',
      });
      expect(issuerProblems(tbsBytes(rootPrepared), 'self', fleet.signer.publicKey)).toEqual([]);
      expect(holderCheck('fleet-root', tbsBytes(rootPrepared), [], fleet.signer.publicKey)).toBeNull();

      const icaKey = newKey(alg);
      const ica: Ca = {
        signer: localSigner(icaKey),
        issued: await issueWith(fleet.signer, 'intermediate-ca', {
          csr: csr(icaKey, '/O=Acme/CN=Line 1'),
          issuer: under(fleet),
        }),
      };
      const icaPrepared = await prepareCertificate('intermediate-ca', {
        csr: csr(newKey(alg), '/O=Acme/CN=Line 2'),
        issuer: under(fleet),
      });
      expect(
        holderCheck('intermediate-ca', tbsBytes(icaPrepared), icaPrepared.chain, fleet.signer.publicKey),
      ).toBeNull();

      const dev = await deviceTbs(ica, alg);
      expect(dev.chain).toHaveLength(2); // the intermediate, then the root
      expect(issuerProblems(tbsBytes(dev), dev.chain[0]!, ica.signer.publicKey)).toEqual([]);
      expect(holderCheck('device', tbsBytes(dev), dev.chain, ica.signer.publicKey)).toBeNull();
    });
  }
});

describe('lies are refused with ISSUER_MISMATCH, saying what is wrong', () => {
  let fleet: Ca;
  let other: Ca;
  let dev: Prepared;
  let key: PublicKey;
  beforeAll(async () => {
    fleet = await root('ecdsa-p256', 'Acme Fleet');
    other = await root('ecdsa-p256', 'Other Fleet');
    dev = await deviceTbs(fleet);
    key = fleet.signer.publicKey;
  });

  it("another issuer Name in the TBS than the CA certificate's subject", () => {
    const tbs = withIssuer(tbsBytes(dev), 'CN=Other Fleet');
    expect(issuerProblems(tbs, fleet.issued.certificate, key)).toEqual([
      "the TBS issuer CN=Other Fleet is not the CA certificate's subject CN=Acme Fleet",
    ]);
    const r = holderCheck('device', tbs, dev.chain, key);
    expect(r?.code).toBe('ISSUER_MISMATCH');
    expect(r?.message).toMatch(
      /cert-7 .*CN=Other Fleet is not the CA certificate's subject CN=Acme Fleet.*Nothing was signed.*quorum cert cancel cert-7/,
    );
  });

  it('a CA certificate for another key, so that its name may not be trusted (even when the TBS matches it)', async () => {
    const lie = await deviceTbs(other); // issuer CN=Other Fleet, chain [Other Fleet]
    expect(issuerProblems(tbsBytes(lie), other.issued.certificate, key)).toEqual([
      expect.stringMatching(
        /^the CA certificate CN=Other Fleet is for key [0-9a-f]{64}, not the CA key [0-9a-f]{64}, so its name is not this CA's$/,
      ),
      expect.stringMatching(/^the authorityKeyIdentifier [0-9A-F:]+ is not the CA key's [0-9A-F:]+$/), // the other key's
    ]);
    // The same name on another key's certificate does not help either.
    const sameName = await root('ecdsa-p256', 'Acme Fleet');
    expect(issuerProblems(tbsBytes(dev), sameName.issued.certificate, key).join()).toMatch(
      /is for key .* not the CA key/,
    );
    expect(holderCheck('device', tbsBytes(lie), lie.chain, key)?.code).toBe('ISSUER_MISMATCH');
  });

  it('a self-issued CA certificate for the CA key that the CA key did not sign', () => {
    const forged = brokenSignature(fleet.issued.certificate);
    expect(issuerProblems(tbsBytes(dev), forged, key)).toEqual([
      'the CA certificate CN=Acme Fleet is self-issued but not signed by the CA key',
    ]);
  });

  it('another AuthorityKeyIdentifier, or one naming an issuer certificate', () => {
    const wrong = withAkid(tbsBytes(dev), crypto.randomBytes(20));
    expect(issuerProblems(wrong, fleet.issued.certificate, key)).toEqual([
      expect.stringMatching(/^the authorityKeyIdentifier [0-9A-F:]+ is not the CA key's [0-9A-F:]+$/),
    ]);
    const right = keyIdOf(key);
    // the same value re-encoded: fine
    expect(issuerProblems(withAkid(tbsBytes(dev), right), fleet.issued.certificate, key)).toEqual([]);
    const certId = withAkid(tbsBytes(dev), right, { issuer: 'CN=Other Fleet', serial: Buffer.from([1]) });
    expect(issuerProblems(certId, fleet.issued.certificate, key)).toEqual([
      'the authorityKeyIdentifier names an issuer certificate (issuer and serial), which the profiles never write',
    ]);
    expect(holderCheck('device', wrong, dev.chain, key)?.code).toBe('ISSUER_MISMATCH');
  });

  it("a CA certificate whose own SubjectKeyIdentifier is not its key's", async () => {
    // Validly self-signed by the CA key, but with another SKID: certificates under it would not link by key id.
    const p = await prepareCertificate('fleet-root', {
      subjectPublicKey: key,
      fleetName: 'Acme Fleet',
      issuer: 'self',
    });
    const tbs = withSkid(tbsBytes(p), crypto.randomBytes(20));
    const odd = await assembleCertificate(
      { ...p, tbs: tbs.toString('base64'), tbsSha256: sha256hex(tbs) },
      await fleet.signer.sign(tbs),
    );
    expect(issuerProblems(tbsBytes(dev), odd.certificate, key)).toEqual([
      expect.stringMatching(/^the CA certificate's subjectKeyIdentifier [0-9A-F:]+ is not the CA key's [0-9A-F:]+$/),
    ]);
  });

  it('a fleet root whose issuer is not its subject, or that is for another key', async () => {
    const p = await prepareCertificate('fleet-root', {
      subjectPublicKey: key,
      fleetName: 'Acme Fleet',
      issuer: 'self',
    });
    const renamed = withIssuer(tbsBytes(p), 'CN=Someone Else');
    expect(issuerProblems(renamed, 'self', key)).toEqual([
      'the TBS issuer CN=Someone Else is not its subject CN=Acme Fleet, but a fleet root is self-signed',
    ]);
    expect(holderCheck('fleet-root', renamed, [], key)?.code).toBe('ISSUER_MISMATCH');

    const theirs = await prepareCertificate('fleet-root', {
      subjectPublicKey: other.signer.publicKey,
      fleetName: 'Acme Fleet',
      issuer: 'self',
    });
    const problems = issuerProblems(tbsBytes(theirs), 'self', key);
    expect(problems).toHaveLength(3);
    expect(problems[0]).toMatch(/^the self-signed TBS is for key [0-9a-f]{64}, not the CA key/);
    expect(problems[1]).toMatch(/^the self-signed TBS's subjectKeyIdentifier .* is not the CA key's/);
    expect(problems[2]).toMatch(/^the authorityKeyIdentifier .* is not the CA key's/);
  });

  it('no chain, or a chain whose first certificate does not parse', () => {
    const r = holderCheck('device', tbsBytes(dev), [], key);
    expect(r?.code).toBe('ISSUER_MISMATCH');
    expect(r?.message).toMatch(/the coordinator sent no CA certificate \(chain\)/);
    expect(
      issuerProblems(tbsBytes(dev), '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', key)[0],
    ).toMatch(/^the CA certificate \(the chain's first\) does not parse/);
    expect(issuerProblems(Buffer.from('not a tbs'), 'self', key)[0]).toMatch(/^the bytes are not a DER TBSCertificate/);
  });
});

describe('approvers check the issuer against the CA certificate the round comes with', () => {
  const approverCheck = (
    profile: ProfileName,
    tbs: Buffer,
    chain: readonly string[],
    issuerFingerprint: string,
  ): string | null => {
    try {
      checkIssuerAsApprover(checkCertPayload(round(profile, tbs, issuerFingerprint), tbs.toString('base64'), chain));
      return null;
    } catch (e) {
      return `${(e as { code: string }).code}: ${(e as Error).message}`;
    }
  };

  it(
    'honest rounds pass; another issuer name, a chain for another key, no chain, a fleet root naming another ' +
      'issuer are refused',
    async () => {
      const fleet = await root('ed25519', 'Acme Fleet');
      const other = await root('ed25519', 'Other Fleet');
      const key = fleet.signer.publicKey;
      const dev = await deviceTbs(fleet);
      expect(approverCheck('device', tbsBytes(dev), dev.chain, key.fingerprint)).toBeNull();
      const rootPrepared = await prepareCertificate('fleet-root', {
        subjectPublicKey: key,
        fleetName: 'Acme Fleet',
        issuer: 'self',
      });
      expect(approverCheck('fleet-root', tbsBytes(rootPrepared), [], key.fingerprint)).toBeNull();

      expect(approverCheck('device', withIssuer(tbsBytes(dev), 'CN=Other Fleet'), dev.chain, key.fingerprint)).toMatch(
        /^ISSUER_MISMATCH: .*CN=Other Fleet is not the CA certificate's subject CN=Acme Fleet/,
      );
      expect(approverCheck('device', tbsBytes(dev), [other.issued.certificate], key.fingerprint)).toMatch(
        /^ISSUER_MISMATCH: .*said to be signed by key [0-9a-f]{64}, but its CA certificate is for key [0-9a-f]{64}.*quorum cert cancel cert-7/,
      );
      expect(approverCheck('device', tbsBytes(dev), [], key.fingerprint)).toMatch(
        /^ISSUER_MISMATCH: .*without the CA certificate/,
      );
      expect(
        approverCheck('fleet-root', withIssuer(tbsBytes(rootPrepared), 'CN=Other Fleet'), [], key.fingerprint),
      ).toMatch(/^ISSUER_MISMATCH: .*must name itself as issuer/);
    },
  );
});
