/**
 * Certificate rounds on the coordinator (coordinator/certificates.ts, coordinator/ca-names.ts) in
 * process, against a real store, one case per rule: creating a fleet CA (name, holder key,
 * approvers, threshold, reason, deadline, validity), approvals (an approver, over exactly these
 * bytes, once), the holder's signature (the holder only, over these bytes, with a threshold of
 * approvals), issuing from a CSR (an issued CA, a CSR made with the new intermediate holder's key),
 * cancel and expiry, and the CA namespace: a CA that never got its certificate gives its name up and
 * is retired, never deleted; a CA with its certificate, an open round, or a retired CA's name is
 * CA_EXISTS. The signers' own checks against a lying coordinator are test/integration/cert-issuer.test.ts;
 * openssl's verdict on released chains is test/integration/certificates.test.ts.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { KeyObject } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cancelCertRound,
  createFleetCa,
  expireCertRounds,
  openCertRound,
  releaseCertificate,
  submitApproval,
  type FleetCaRequest,
} from '../../coordinator/certificates.js';
import type { CertRoundRow } from '../../coordinator/store.js';
import { signBytes } from '../../protocol/keys.js';
import { approvalMessage, tbsBytes } from '../../protocol/x509.js';
import { newCoordinator, type TestCoordinator } from './fixture.js';

const DAY = 86_400_000;
let c: TestCoordinator;

/** Refused with this code (tests assert the code, not the message). */
async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  await expect(p).rejects.toMatchObject({ code });
}
function expectThrows(fn: () => unknown, code: string): void {
  expect(fn).toThrow(expect.objectContaining({ code }));
}

const events = (event: string) =>
  c.store
    .auditRows()
    .filter((r) => r.event === event)
    .map((r) => JSON.parse(r.data) as Record<string, unknown>);

const fleet = (extra: Partial<FleetCaRequest> = {}): Promise<CertRoundRow> =>
  createFleetCa(c.store, {
    name: 'fleet',
    holder: 'ca',
    fleetName: 'Acme Fleet',
    approvers: ['alice', 'bob'],
    approvals: 2,
    reason: 'new fleet',
    ...extra,
  });

const approval = (who: string, r: CertRoundRow, bytes = tbsBytes(r.prepared)) => ({
  round: r.id,
  keyholder: c.store.keyholderByName(who)!,
  tbsSha256: r.tbs_sha256,
  sig: signBytes(c.holders[who]!.privateKey, approvalMessage(bytes, r.prepared.issuerFingerprint)),
});
const approve = (who: string, r: CertRoundRow) => submitApproval(c.store, approval(who, r));
const holderSignature = (who: string, r: CertRoundRow, bytes = tbsBytes(r.prepared)) => ({
  round: r.id,
  keyholder: c.store.keyholderByName(who)!,
  tbsSha256: r.tbs_sha256,
  sig: signBytes(c.holders[who]!.privateKey, bytes),
});
const release = (who: string, r: CertRoundRow) => releaseCertificate(c.store, c.dataDir, holderSignature(who, r));

function csr(key: KeyObject, subject: string, extra: string[] = []): string {
  const file = path.join(c.dir, `${subject.replace(/\W/g, '_')}.key.pem`);
  fs.writeFileSync(file, key.export({ format: 'pem', type: 'pkcs8' }));
  return execFileSync('openssl', ['req', '-new', '-key', file, '-subj', subject, ...extra], { encoding: 'utf8' });
}

beforeAll(async () => {
  c = await newCoordinator({
    dialect: 'tuf',
    keyholders: [
      'alice',
      'bob',
      'carol',
      { name: 'ca', type: 'ecdsa' },
      { name: 'ica', type: 'ecdsa' },
      { name: 'rsa', type: 'rsa' },
    ],
  });
});
afterAll(() => c.close());

describe('creating a fleet CA', () => {
  it('REQUEST_INVALID: a CA name that is not 1-64 letters, digits, ".", "_" or "-", no reason, a past deadline', async () => {
    await expectCode(fleet({ name: 'a b' }), 'REQUEST_INVALID');
    await expectCode(fleet({ reason: '' }), 'REQUEST_INVALID');
    await expectCode(fleet({ deadline: new Date(Date.now() - 1) }), 'REQUEST_INVALID');
  });

  it('CA_APPROVERS_INVALID: no approver, one named twice, one not enrolled, a threshold outside 1..approvers', async () => {
    await expectCode(fleet({ approvers: [] }), 'CA_APPROVERS_INVALID');
    await expectCode(fleet({ approvers: ['alice', 'alice'] }), 'CA_APPROVERS_INVALID');
    await expectCode(fleet({ approvers: ['alice', 'mallory'] }), 'CA_APPROVERS_INVALID');
    await expectCode(fleet({ approvals: 3 }), 'CA_APPROVERS_INVALID');
    await expectCode(fleet({ approvals: 0 }), 'CA_APPROVERS_INVALID');
  });

  it('KEYHOLDER_UNKNOWN: a holder who is not enrolled; KEY_UNSUPPORTED: an RSA CA key', async () => {
    await expectCode(fleet({ holder: 'mallory' }), 'KEYHOLDER_UNKNOWN');
    await expectCode(fleet({ holder: 'rsa' }), 'KEY_UNSUPPORTED');
  });

  it('VALIDITY_INVALID: a validity that is not a positive number of days', async () => {
    await expectCode(fleet({ validityDays: 0 }), 'VALIDITY_INVALID');
  });

  it("opens the fleet root's round: its TBS is under the holder's key, and nothing else is stored on a refusal", async () => {
    expect(c.store.cas()).toEqual([]);
    const r = await fleet();
    expect(r).toMatchObject({ ca: 'fleet', profile: 'fleet-root', state: 'open' });
    expect(r.prepared.issuerFingerprint).toBe(c.holders.ca!.publicKey.fingerprint);
    expect(c.store.ca('fleet')).toMatchObject({
      kind: 'single',
      holder: 'ca',
      approvers: ['alice', 'bob'],
      chain_pem: null,
    });
    expect(events('cert.round.opened').at(-1)).toMatchObject({ round: r.id, ca: 'fleet', tbsSha256: r.tbs_sha256 });
  });
});

describe('approvals and the holder signature', () => {
  let r: CertRoundRow;
  beforeAll(() => {
    r = c.store.certRounds('open').find((x) => x.ca === 'fleet')!;
  });

  it('APPROVAL_NOT_APPROVER, APPROVAL_WRONG_BYTES (another sha256, or a signature over other bytes); audited with codes', () => {
    expectThrows(() => approve('carol', r), 'APPROVAL_NOT_APPROVER');
    expectThrows(
      () => submitApproval(c.store, { ...approval('alice', r), tbsSha256: 'ab'.repeat(32) }),
      'APPROVAL_WRONG_BYTES',
    );
    expectThrows(
      () => submitApproval(c.store, approval('alice', r, Buffer.from('other bytes'))),
      'APPROVAL_WRONG_BYTES',
    );
    expect(events('cert.approval.rejected').map((e) => e.code)).toEqual([
      'APPROVAL_NOT_APPROVER',
      'APPROVAL_WRONG_BYTES',
      'APPROVAL_WRONG_BYTES',
    ]);
    expect(c.store.approvals(r.id)).toEqual([]);
  });

  it('APPROVAL_DUPLICATE: one approval per approver', () => {
    approve('alice', r);
    expectThrows(() => approve('alice', r), 'APPROVAL_DUPLICATE');
  });

  it('APPROVALS_UNMET: the holder signs with fewer approvals than the threshold; nothing is released', async () => {
    await expectCode(release('ca', r), 'APPROVALS_UNMET');
    expect(c.store.certRound(r.id)!.state).toBe('open');
  });

  it('CERT_NOT_HOLDER: an approver cannot sign for the CA; SIG_WRONG_BYTES: a signature naming another sha256', async () => {
    approve('bob', r);
    await expectCode(release('alice', r), 'CERT_NOT_HOLDER');
    await expectCode(
      releaseCertificate(c.store, c.dataDir, { ...holderSignature('ca', r), tbsSha256: 'ab'.repeat(32) }),
      'SIG_WRONG_BYTES',
    );
  });

  it('CERT_SIGNATURE: a holder signature over other bytes is not assembled into a certificate', async () => {
    await expectCode(
      releaseCertificate(c.store, c.dataDir, holderSignature('ca', r, Buffer.from('other bytes'))),
      'CERT_SIGNATURE',
    );
    expect(events('cert.signature.rejected').map((e) => e.code)).toEqual([
      'APPROVALS_UNMET',
      'CERT_NOT_HOLDER',
      'SIG_WRONG_BYTES',
      'CERT_SIGNATURE',
    ]);
  });

  it("releases with the threshold met: the chain is recorded as the CA's, the PEM written, the round closed", async () => {
    const { round, issued } = await release('ca', r);
    expect(round.state).toBe('released');
    expect(c.store.ca('fleet')!.chain_pem).toBe(issued.fullchain);
    expect(fs.readFileSync(path.join(c.dataDir, 'releases', 'certificates', `${r.id}.pem`), 'utf8')).toBe(
      issued.fullchain,
    );
    await expectCode(release('ca', r), 'ROUND_NOT_OPEN');
    expectThrows(() => approve('alice', r), 'ROUND_NOT_OPEN');
  });
});

describe('issuing from a CSR', () => {
  it('CA_UNKNOWN, REQUEST_INVALID (a fleet root from a CSR; --new-ca on a device), CA_HOLDER_KEY_MISMATCH', async () => {
    const dev = csr(c.holders.carol!.privateKey, '/CN=device-1');
    await expectCode(openCertRound(c.store, { ca: 'nope', profile: 'device', csr: dev, reason: 'r' }), 'CA_UNKNOWN');
    await expectCode(
      openCertRound(c.store, { ca: 'fleet', profile: 'fleet-root', csr: dev, reason: 'r' }),
      'REQUEST_INVALID',
    );
    await expectCode(
      openCertRound(c.store, {
        ca: 'fleet',
        profile: 'device',
        csr: dev,
        reason: 'r',
        newCa: { name: 'x', holder: 'ica' },
      }),
      'REQUEST_INVALID',
    );
    const notIcas = csr(c.holders.ca!.privateKey, '/O=Acme/CN=Line 0');
    await expectCode(
      openCertRound(c.store, {
        ca: 'fleet',
        profile: 'intermediate-ca',
        csr: notIcas,
        reason: 'r',
        newCa: { name: 'line0', holder: 'ica' },
      }),
      'CA_HOLDER_KEY_MISMATCH',
    );
    expect(c.store.ca('line0')).toBeUndefined();
  });

  it('CSR_CA_ON_DEVICE: a device CSR asking to be a CA, before any round opens', async () => {
    const before = c.store.certRounds().length;
    const bad = csr(c.holders.carol!.privateKey, '/CN=device-2', ['-addext', 'basicConstraints=critical,CA:TRUE']);
    await expectCode(
      openCertRound(c.store, { ca: 'fleet', profile: 'device', csr: bad, reason: 'r' }),
      'CSR_CA_ON_DEVICE',
    );
    expect(c.store.certRounds()).toHaveLength(before);
  });

  it('CSR_SIGNATURE (a CSR with one signature byte flipped) and VALIDITY_TOO_LONG, before any round opens', async () => {
    const before = c.store.certRounds().length;
    const good = csr(c.holders.carol!.privateKey, '/CN=device-3');
    const der = execFileSync('openssl', ['req', '-outform', 'DER'], { input: good });
    der.writeUInt8(der.readUInt8(der.length - 1) ^ 0x01, der.length - 1);
    await expectCode(
      openCertRound(c.store, { ca: 'fleet', profile: 'device', csr: der, reason: 'r' }),
      'CSR_SIGNATURE',
    );
    await expectCode(
      openCertRound(c.store, { ca: 'fleet', profile: 'device', csr: good, reason: 'r', validityDays: 400 }),
      'VALIDITY_TOO_LONG',
    );
    expect(c.store.certRounds()).toHaveLength(before);
  });

  it("an intermediate CA (--new-ca) whose approvers default to its issuer's; CA_NOT_ISSUED until its round is released", async () => {
    const ica = csr(c.holders.ica!.privateKey, '/O=Acme/CN=Line 1');
    const r = await openCertRound(c.store, {
      ca: 'fleet',
      profile: 'intermediate-ca',
      csr: ica,
      reason: 'line 1',
      newCa: { name: 'line1', holder: 'ica' },
    });
    expect(c.store.ca('line1')).toMatchObject({
      holder: 'ica',
      approvers: ['alice', 'bob'],
      approvals_threshold: 2,
      chain_pem: null,
    });
    const dev = csr(c.holders.carol!.privateKey, '/CN=device-3');
    await expectCode(
      openCertRound(c.store, { ca: 'line1', profile: 'device', csr: dev, reason: 'r' }),
      'CA_NOT_ISSUED',
    );
    approve('alice', r);
    approve('bob', r);
    const { issued } = await release('ca', r);
    expect(c.store.ca('line1')!.chain_pem).toBe(issued.fullchain);
    const d = await openCertRound(c.store, {
      ca: 'line1',
      profile: 'device',
      csr: dev,
      reason: 'r',
      deviceId: 'device-3',
    });
    expect(d.prepared.issuerFingerprint).toBe(c.holders.ica!.publicKey.fingerprint);
  });
});

describe('closing certificate rounds', () => {
  it('cancels once (ROUND_NOT_OPEN after), ROUND_NOT_FOUND for no round; expires at the deadline, not before', async () => {
    const dev = csr(c.holders.carol!.privateKey, '/CN=device-4');
    const r = await openCertRound(c.store, { ca: 'fleet', profile: 'device', csr: dev, reason: 'r' });
    expect(cancelCertRound(c.store, r.id, 'wrong device').state).toBe('cancelled');
    expectThrows(() => cancelCertRound(c.store, r.id, 'again'), 'ROUND_NOT_OPEN');
    expectThrows(() => cancelCertRound(c.store, 'cert-999', 'none'), 'ROUND_NOT_FOUND');
    const now = new Date();
    const e = await openCertRound(
      c.store,
      { ca: 'fleet', profile: 'device', csr: dev, reason: 'r', deadline: new Date(now.getTime() + DAY) },
      now,
    );
    expect(expireCertRounds(c.store, new Date(now.getTime() + DAY - 1)).map((x) => x.id)).not.toContain(e.id);
    expect(expireCertRounds(c.store, new Date(now.getTime() + DAY)).map((x) => [x.id, x.state])).toEqual([
      [e.id, 'expired'],
    ]);
  });
});

describe('the CA namespace', () => {
  const names = () =>
    c.store
      .cas()
      .map((x) => x.name)
      .filter((x) => x.startsWith('acme'));

  it('CA_EXISTS while the fleet root round is open; after it is cancelled a new CA takes the name and the old one is retired with its rounds', async () => {
    const first = await fleet({ name: 'acme' });
    await expect(fleet({ name: 'acme' })).rejects.toMatchObject({
      code: 'CA_EXISTS',
      message: expect.stringContaining(`its round ${first.id} is open`),
    });
    cancelCertRound(c.store, first.id, 'wrong fleet name');
    const second = await fleet({ name: 'acme' });
    expect(names()).toEqual(['acme', 'acme.retired-1']);
    expect(c.store.ca('acme.retired-1')).toMatchObject({
      retired_from: 'acme',
      issuer_fingerprint: c.holders.ca!.publicKey.fingerprint,
    });
    expect(c.store.certRound(first.id)).toMatchObject({ ca: 'acme.retired-1', state: 'cancelled' });
    expect(c.store.certRound(second.id)).toMatchObject({ ca: 'acme', state: 'open' });
    expect(events('ca.retired').at(-1)).toMatchObject({
      name: 'acme',
      retiredAs: 'acme.retired-1',
      rounds: [{ id: first.id, state: 'cancelled' }],
    });
  });

  it("CA_EXISTS: a retired CA's name is never given again, and a retired CA issues nothing (CA_NOT_ISSUED)", async () => {
    await expect(fleet({ name: 'acme.retired-1' })).rejects.toMatchObject({
      code: 'CA_EXISTS',
      message: expect.stringContaining('retired CA (once acme)'),
    });
    const dev = csr(c.holders.carol!.privateKey, '/CN=device-5');
    await expectCode(
      openCertRound(c.store, { ca: 'acme.retired-1', profile: 'device', csr: dev, reason: 'r' }),
      'CA_NOT_ISSUED',
    );
  });

  it('an expired fleet root gives its name up too; a released one keeps it for good', async () => {
    const open = c.store.certRounds('open').find((x) => x.ca === 'acme')!;
    const now = new Date();
    cancelCertRound(c.store, open.id, 'try a deadline', now);
    const third = await fleet({ name: 'acme', deadline: new Date(now.getTime() + DAY), approvals: 1 });
    await expectCode(fleet({ name: 'acme' }), 'CA_EXISTS');
    expireCertRounds(c.store, new Date(now.getTime() + DAY));
    const fourth = await fleet({ name: 'acme', approvals: 1 });
    expect(names()).toEqual(['acme', 'acme.retired-1', 'acme.retired-2', 'acme.retired-3']);
    expect(c.store.certRound(third.id)).toMatchObject({ ca: 'acme.retired-3', state: 'expired' });
    approve('alice', fourth);
    await release('ca', fourth);
    await expect(fleet({ name: 'acme' })).rejects.toMatchObject({
      code: 'CA_EXISTS',
      message: expect.stringContaining('has its certificate'),
    });
  });

  it('an intermediate whose --new-ca round was cancelled gives its name up to the next --new-ca; the CA of an open --new-ca round holds it', async () => {
    const ica = csr(c.holders.ica!.privateKey, '/O=Acme/CN=Line 2');
    const issue = () =>
      openCertRound(c.store, {
        ca: 'fleet',
        profile: 'intermediate-ca',
        csr: ica,
        reason: 'line 2',
        newCa: { name: 'line2', holder: 'ica' },
      });
    const first = await issue();
    await expectCode(issue(), 'CA_EXISTS');
    await expectCode(fleet({ name: 'line2' }), 'CA_EXISTS');
    cancelCertRound(c.store, first.id, 'wrong holder');
    const second = await issue();
    expect(c.store.certRound(first.id)).toMatchObject({ ca: 'fleet', new_ca: 'line2.retired-1', state: 'cancelled' });
    expect(second).toMatchObject({ new_ca: 'line2', state: 'open' });
  });
});
