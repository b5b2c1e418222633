/**
 * Certificate rounds, the third kind of round beside root and targets: a CA (fleet root, or an
 * intermediate) whose key one keyholder holds (a key file or a token, Ed25519 or P-256), and
 * rounds that issue one certificate each. Every request is checked (protocol/x509.ts) before a
 * round opens; approvals of the exact TBS bytes are verified on arrival (an enrolled approver, over
 * exactly these bytes, once per keyholder); the holder's signature is accepted only with a
 * threshold of approvals, and the certificate is assembled and verified before it is released.
 * The coordinator holds no CA key, so it can never obtain a certificate by itself.
 *
 * A FROST group CA would be another `kind`: its issuer key is the group key, and the holder's
 * signature is replaced by the aggregated group signature; prepare, review, assemble and release
 * stay as they are.
 */
import fs from 'node:fs';
import path from 'node:path';
import { QuorumError, type Codes } from '../protocol/errors.js';
import { publicKeyFrom, verifySignature } from '../protocol/keys.js';
import {
  approvalMessage,
  assembleCertificate,
  CertError,
  checkCsr,
  prepareCertificate,
  reviewTbs,
  tbsBytes,
  verifyApprovals,
  type Issued,
  type Prepared,
  type ProfileName,
  type Review,
} from '../protocol/x509.js';
import type { CertRoundInfo, RoundState, WireErrorCode } from '../protocol/wire.js';
import { WIRE_LIMITS } from '../protocol/limits.js';
import { checkCaName, claimCaName } from './ca-names.js';
import { DAY_MS, DEFAULT_DEADLINE_MS } from '../protocol/time.js';
import type { CaRow, CertRoundRow, KeyholderRow, Store } from './store.js';

export type CertRoundErrorCode = Codes<
  | WireErrorCode
  | 'CA_UNKNOWN' // no CA of this name
  | 'CA_NOT_ISSUED' // the CA's own certificate has not been released yet
  | 'CA_APPROVERS_INVALID' // approvers not enrolled, duplicated, or a threshold outside 1..approvers
  | 'CA_HOLDER_KEY_MISMATCH' // the new intermediate CA's CSR key is not its holder's enrolled key
  | 'ROUND_NOT_RELEASED' // no certificate to fetch yet
  | 'KEYHOLDER_UNKNOWN'
  | 'REQUEST_INVALID' // a reason, deadline or name that is not acceptable
>;

export class CertRoundError extends QuorumError<CertRoundErrorCode> {}

const NAME_RE = /^[A-Za-z0-9._-]{1,64}$/;
export const CERT_RELEASE_DIR = path.join('releases', 'certificates');

// Accessors kept for the callers that use them (server.ts); the rows are typed (store.ts).
export const approversOf = (ca: CaRow): string[] => ca.approvers;
export const preparedOf = (r: CertRoundRow): Prepared => r.prepared;

/** PEM certificates of a chain file, in order. */
export function splitPem(text: string): string[] {
  return (text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? []).map((c) =>
    c.endsWith('\n') ? c : `${c}\n`,
  );
}

export function certRoundInfo(store: Store, r: CertRoundRow): CertRoundInfo {
  const ca = store.ca(r.ca)!;
  const approvers = ca.approvers;
  const approved = store
    .approvals(r.id)
    .map((a) => a.keyholder)
    .filter((k) => approvers.includes(k));
  return {
    id: r.id,
    ca: r.ca,
    profile: r.profile,
    state: r.state,
    reason: r.reason,
    deadline: r.deadline,
    createdAt: r.created_at,
    tbsSha256: r.tbs_sha256,
    issuerFingerprint: r.prepared.issuerFingerprint,
    holder: ca.holder,
    approvals: {
      threshold: ca.approvals_threshold,
      approved,
      missing: approvers.filter((k) => !approved.includes(k)),
      met: approved.length >= ca.approvals_threshold,
    },
    ...(r.new_ca ? { newCa: r.new_ca } : {}),
  };
}

/**
 * A page of certificate rounds: the newest `limit` (of `state`) before round `before`, oldest first (as listRounds).
 */
export function listCertRounds(
  store: Store,
  opts: { state?: RoundState; before?: string; limit?: number } = {},
): { rounds: CertRoundInfo[]; next: string | null } {
  const limit = Math.max(1, Math.min(opts.limit ?? WIRE_LIMITS.pageDefault, WIRE_LIMITS.pageMax));
  let before: number | undefined;
  if (opts.before !== undefined) {
    const b = store.certRound(opts.before);
    if (!b) throw new CertRoundError('ROUND_NOT_FOUND', `no certificate round ${opts.before} to list rounds before`);
    before = b.seq;
  }
  const rows = store.certRoundsPage({ state: opts.state, before, limit: limit + 1 });
  const page = rows.slice(0, limit);
  return {
    rounds: page.map((r) => certRoundInfo(store, r)).reverse(),
    next: rows.length > limit ? page.at(-1)!.id : null,
  };
}

/** What the admin sees about a round: the same review keyholders compute, from the TBS bytes. */
export function certRoundView(
  store: Store,
  r: CertRoundRow,
): { round: CertRoundInfo; review: Review; certificate: string | null } {
  return { round: certRoundInfo(store, r), review: reviewTbs(tbsBytes(r.prepared)), certificate: r.certificate_pem };
}

// --- opening ---------------------------------------------------------------------------------

interface Common {
  reason: string;
  deadline?: Date;
  validityDays?: number;
}

function checkCommon(req: Common, now: Date): { deadline: Date; notBefore: Date; notAfter?: Date } {
  if (!req.reason.trim()) throw new CertRoundError('REQUEST_INVALID', 'every certificate round needs a reason');
  const deadline = req.deadline ?? new Date(now.getTime() + DEFAULT_DEADLINE_MS);
  if (Number.isNaN(deadline.getTime()) || deadline.getTime() <= now.getTime())
    throw new CertRoundError('REQUEST_INVALID', 'the deadline must be a time in the future');
  const notBefore = new Date(Math.floor(now.getTime() / 1000) * 1000);
  if (req.validityDays !== undefined && !(req.validityDays > 0))
    throw new CertError('VALIDITY_INVALID', `validity of ${req.validityDays} days; give a positive number of days`);
  const notAfter =
    req.validityDays === undefined ? undefined : new Date(notBefore.getTime() + Math.round(req.validityDays * DAY_MS));
  return { deadline, notBefore, ...(notAfter ? { notAfter } : {}) };
}

function checkApprovers(store: Store, approvers: string[], threshold: number): void {
  if (!approvers.length) throw new CertRoundError('CA_APPROVERS_INVALID', 'name at least one approver');
  if (new Set(approvers).size !== approvers.length)
    throw new CertRoundError('CA_APPROVERS_INVALID', 'an approver is named twice');
  for (const a of approvers) {
    const k = store.keyholderByName(a);
    if (!k || k.removed_at)
      throw new CertRoundError('CA_APPROVERS_INVALID', `approver ${a} is not an enrolled keyholder`);
  }
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > approvers.length) {
    throw new CertRoundError(
      'CA_APPROVERS_INVALID',
      `the approvals threshold must be 1 to ${approvers.length} (the number of approvers), got ${threshold}`,
    );
  }
}

function holderKey(store: Store, name: string): KeyholderRow {
  const k = store.keyholderByName(name);
  if (!k || k.removed_at)
    throw new CertRoundError('KEYHOLDER_UNKNOWN', `CA holder ${name} is not an enrolled keyholder`);
  // Certificates are signed with Ed25519 or ECDSA P-256 (OTA Connect's forms); RSA is refused.
  if (k.algorithm !== 'ed25519' && k.algorithm !== 'ecdsa-p256') {
    throw new CertError(
      'KEY_UNSUPPORTED',
      `keyholder ${name}'s enrolled key is ${k.algorithm}; a CA key must be Ed25519 or ECDSA P-256: enroll a ` +
        'key made with quorum-signer keygen --type ed25519 or --type ecdsa',
    );
  }
  return k;
}

export function insertCertRoundRow(
  store: Store,
  ca: string,
  prepared: Prepared,
  reason: string,
  deadline: Date,
  now: Date,
  newCa: string | null,
): CertRoundRow {
  const id = `cert-${store.nextCertRoundSeq()}`;
  store.insertCertRound({
    id,
    ca,
    profile: prepared.profile,
    prepared,
    tbs_sha256: prepared.tbsSha256,
    reason,
    deadline: deadline.toISOString(),
    state: 'open',
    created_at: now.toISOString(),
    new_ca: newCa,
  });
  const review = reviewTbs(tbsBytes(prepared));
  store.audit(
    'cert.round.opened',
    {
      round: id,
      ca,
      profile: prepared.profile,
      subject: review.subject,
      serial: review.serial,
      tbsSha256: prepared.tbsSha256,
      issuer: prepared.issuerFingerprint,
      reason,
      ...(newCa ? { newCa } : {}),
    },
    now.toISOString(),
  );
  return store.certRound(id)!;
}

export interface FleetCaRequest extends Common {
  name: string;
  holder: string;
  fleetName: string;
  approvers: string[];
  approvals: number;
}

/** A new fleet root CA: its self-signed certificate is the round's TBS, under the holder's enrolled key. */
export async function createFleetCa(store: Store, req: FleetCaRequest, now = new Date()): Promise<CertRoundRow> {
  if (!NAME_RE.test(req.name))
    throw new CertRoundError(
      'REQUEST_INVALID',
      `CA name ${JSON.stringify(req.name)} must be 1-64 letters, digits, '.', '_' or '-'`,
    );
  checkCaName(store, req.name);
  const { deadline, notBefore, notAfter } = checkCommon(req, now);
  const holder = holderKey(store, req.holder);
  checkApprovers(store, req.approvers, req.approvals);
  const prepared = await prepareCertificate('fleet-root', {
    subjectPublicKey: holder.spki,
    fleetName: req.fleetName,
    issuer: 'self',
    notBefore,
    ...(notAfter ? { notAfter } : {}),
  });
  return store.tx(() => {
    claimCaName(store, req.name, now);
    store.insertCa({
      name: req.name,
      kind: 'single',
      holder: holder.name,
      issuer_spki: holder.spki,
      issuer_fingerprint: holder.fingerprint,
      algorithm: holder.algorithm,
      chain_pem: null,
      approvals_threshold: req.approvals,
      approvers: req.approvers,
      created_at: now.toISOString(),
    });
    store.audit(
      'ca.created',
      {
        name: req.name,
        kind: 'single',
        holder: holder.name,
        fingerprint: holder.fingerprint,
        algorithm: holder.algorithm,
        approvers: req.approvers,
        approvals: req.approvals,
      },
      now.toISOString(),
    );
    return insertCertRoundRow(store, req.name, prepared, req.reason, deadline, now, null);
  });
}

export interface IssueRequest extends Common {
  ca: string;
  profile: ProfileName;
  /** PKCS#10, PEM text or DER. */
  csr: string | Buffer;
  deviceId?: string;
  /** intermediate-ca: register the issued certificate as a CA whose key `holder` holds. */
  newCa?: { name: string; holder: string; approvers?: string[]; approvals?: number };
}

/** A certificate from a CSR, issued by a CA whose certificate was released. The CSR is checked first. */
export async function openCertRound(store: Store, req: IssueRequest, now = new Date()): Promise<CertRoundRow> {
  if (req.profile === 'fleet-root')
    throw new CertRoundError(
      'REQUEST_INVALID',
      'a fleet root is created with quorum fleet-ca create, not issued from a CSR',
    );
  // PKCS#10 self-signature, key type, and no CA request on a device: before anything else.
  const csr = checkCsr(req.profile, req.csr);
  const ca = store.ca(req.ca);
  if (!ca) throw new CertRoundError('CA_UNKNOWN', `no CA named ${req.ca}`);
  if (!ca.chain_pem)
    throw new CertRoundError(
      'CA_NOT_ISSUED',
      `CA ${req.ca} has no certificate yet; its own round must be released first`,
    );
  const { deadline, notBefore, notAfter } = checkCommon(req, now);
  let newCa: CaRow | undefined;
  if (req.newCa) {
    if (req.profile !== 'intermediate-ca')
      throw new CertRoundError('REQUEST_INVALID', 'only an intermediate-ca certificate can become a CA');
    if (!NAME_RE.test(req.newCa.name))
      throw new CertRoundError(
        'REQUEST_INVALID',
        `CA name ${JSON.stringify(req.newCa.name)} must be 1-64 letters, digits, '.', '_' or '-'`,
      );
    checkCaName(store, req.newCa.name);
    const holder = holderKey(store, req.newCa.holder);
    if (holder.fingerprint !== csr.publicKey.fingerprint) {
      throw new CertRoundError(
        'CA_HOLDER_KEY_MISMATCH',
        `the CSR's key ${csr.publicKey.fingerprint} is not ${holder.name}'s enrolled key ${holder.fingerprint}; ` +
          "the intermediate's holder must make the CSR with their own key",
      );
    }
    const approvers = req.newCa.approvers ?? ca.approvers;
    const approvals = req.newCa.approvals ?? ca.approvals_threshold;
    checkApprovers(store, approvers, approvals);
    newCa = {
      name: req.newCa.name,
      kind: 'single',
      holder: holder.name,
      issuer_spki: holder.spki,
      issuer_fingerprint: holder.fingerprint,
      algorithm: holder.algorithm,
      chain_pem: null,
      approvals_threshold: approvals,
      approvers,
      created_at: now.toISOString(),
    };
  }
  const [certificate, ...chain] = splitPem(ca.chain_pem);
  const prepared = await prepareCertificate(req.profile, {
    csr: req.csr,
    ...(req.deviceId !== undefined ? { deviceId: req.deviceId } : {}),
    issuer: { certificate: certificate!, chain },
    notBefore,
    ...(notAfter ? { notAfter } : {}),
  });
  if (prepared.issuerFingerprint !== ca.issuer_fingerprint)
    throw new CertError(
      'ISSUER_KEY_MISMATCH',
      `CA ${ca.name}'s certificate is not for its recorded key ${ca.issuer_fingerprint}`,
    );
  return store.tx(() => {
    if (newCa) {
      claimCaName(store, newCa.name, now);
      store.insertCa(newCa);
      store.audit(
        'ca.created',
        {
          name: newCa.name,
          kind: newCa.kind,
          holder: newCa.holder,
          fingerprint: newCa.issuer_fingerprint,
          algorithm: newCa.algorithm,
          approvers: newCa.approvers,
          approvals: newCa.approvals_threshold,
          issuer: ca.name,
        },
        now.toISOString(),
      );
    }
    return insertCertRoundRow(store, ca.name, prepared, req.reason, deadline, now, newCa?.name ?? null);
  });
}

// --- approvals and the holder's signature ------------------------------------------------------

function openRoundOf(store: Store, id: string, what: string): CertRoundRow {
  const r = store.certRound(id);
  if (!r) throw new CertRoundError('ROUND_NOT_FOUND', `no certificate round ${id}`);
  if (r.state !== 'open') throw new CertRoundError('ROUND_NOT_OPEN', `cannot ${what} a ${r.state} certificate round`);
  return r;
}

/** Audit a refusal with its code (the refused transaction itself was rolled back). */
function audited<T>(store: Store, event: string, data: Record<string, unknown>, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof QuorumError) store.audit(event, { ...data, code: e.code });
    throw e;
  }
}

export interface ApprovalSubmission {
  round: string;
  keyholder: KeyholderRow;
  tbsSha256: string;
  sig: Buffer;
}

/** Verify an approval on arrival (an approver of this CA, over exactly this round's bytes, once) and store it. */
export function submitApproval(store: Store, sub: ApprovalSubmission, now = new Date()): CertRoundRow {
  return audited(store, 'cert.approval.rejected', { round: sub.round, keyholder: sub.keyholder.name }, () =>
    store.tx(() => {
      const r = openRoundOf(store, sub.round, 'approve');
      const ca = store.ca(r.ca)!;
      if (!ca.approvers.includes(sub.keyholder.name))
        throw new CertRoundError(
          'APPROVAL_NOT_APPROVER',
          `${sub.keyholder.name} is not an approver of CA ${ca.name} (approvers: ${ca.approvers.join(', ')})`,
        );
      const prepared = r.prepared;
      if (sub.tbsSha256 !== r.tbs_sha256)
        throw new CertRoundError(
          'APPROVAL_WRONG_BYTES',
          `the approval names TBS sha256 ${sub.tbsSha256}, but round ${r.id} signs ${r.tbs_sha256}`,
        );
      if (
        !verifySignature(
          publicKeyFrom(sub.keyholder.spki),
          approvalMessage(tbsBytes(prepared), prepared.issuerFingerprint),
          sub.sig,
        )
      ) {
        throw new CertRoundError(
          'APPROVAL_WRONG_BYTES',
          `the approval does not verify over round ${r.id}'s TBS bytes and issuer key under ` +
            `${sub.keyholder.name}'s enrolled key`,
        );
      }
      if (store.approvals(r.id).some((a) => a.keyholder === sub.keyholder.name))
        throw new CertRoundError('APPROVAL_DUPLICATE', `${sub.keyholder.name} has already approved round ${r.id}`);
      store.insertApproval({
        round_id: r.id,
        keyholder: sub.keyholder.name,
        fingerprint: sub.keyholder.fingerprint,
        sig: sub.sig,
        received_at: now.toISOString(),
      });
      store.audit(
        'cert.approval.accepted',
        { round: r.id, keyholder: sub.keyholder.name, fingerprint: sub.keyholder.fingerprint, tbsSha256: r.tbs_sha256 },
        now.toISOString(),
      );
      return r;
    }),
  );
}

/** The approvals of a round as x509.verifyApprovals takes them, with each approver's enrolled key. */
export function approvalsOf(store: Store, r: CertRoundRow): { keyholder: string; publicKey: Buffer; sig: Buffer }[] {
  return store.approvals(r.id).flatMap((a) => {
    const k = store.keyholderByName(a.keyholder);
    return k && !k.removed_at && k.fingerprint === a.fingerprint
      ? [{ keyholder: a.keyholder, publicKey: k.spki, sig: a.sig }]
      : [];
  });
}

export interface CaSignature {
  round: string;
  keyholder: KeyholderRow;
  tbsSha256: string;
  sig: Buffer;
}

/**
 * The CA holder's signature: accepted from the holder only, over this round's bytes, with a
 * threshold of approvals (counted here too, not only by the holder); the certificate is then
 * assembled and verified (assembleCertificate), recorded, and written to releases/certificates.
 */
export async function releaseCertificate(
  store: Store,
  dataDir: string,
  sub: CaSignature,
  now = new Date(),
): Promise<{ round: CertRoundRow; issued: Issued }> {
  const reject = { round: sub.round, keyholder: sub.keyholder.name };
  const { r, prepared } = audited(store, 'cert.signature.rejected', reject, () => {
    const r = openRoundOf(store, sub.round, 'sign');
    const ca = store.ca(r.ca)!;
    const prepared = r.prepared;
    if (ca.holder !== sub.keyholder.name || sub.keyholder.fingerprint !== prepared.issuerFingerprint) {
      throw new CertRoundError(
        'CERT_NOT_HOLDER',
        `${sub.keyholder.name} does not hold CA ${ca.name}'s key (${prepared.issuerFingerprint}); its holder ` +
          `is ${ca.holder ?? '(none)'}`,
      );
    }
    if (sub.tbsSha256 !== r.tbs_sha256)
      throw new CertRoundError(
        'SIG_WRONG_BYTES',
        `the signature names TBS sha256 ${sub.tbsSha256}, but round ${r.id} signs ${r.tbs_sha256}`,
      );
    const pinned = ca.approvers.flatMap((n) => {
      const k = store.keyholderByName(n);
      return k && !k.removed_at ? [publicKeyFrom(k.spki)] : [];
    });
    verifyApprovals(
      tbsBytes(prepared),
      prepared.issuerFingerprint,
      approvalsOf(store, r).map((a) => ({ publicKey: publicKeyFrom(a.publicKey), signature: a.sig })),
      pinned,
      ca.approvals_threshold,
    );
    return { r, prepared };
  });
  return recordRelease(store, dataDir, r, prepared, sub.sig, reject, { holder: sub.keyholder.name }, now);
}

/**
 * A FROST group CA's certificate: the aggregated group signature (already verified with
 * node:crypto by aggregateSignature) is assembled and verified again, recorded and released.
 */
export async function releaseFrostCertificate(
  store: Store,
  dataDir: string,
  roundId: string,
  sig: Buffer,
  signers: string[],
  now = new Date(),
): Promise<{ round: CertRoundRow; issued: Issued }> {
  const reject = { round: roundId, signers };
  const r = openRoundOf(store, roundId, 'sign');
  const ca = store.ca(r.ca)!;
  if (ca.kind !== 'frost') throw new CertRoundError('CERT_NOT_HOLDER', `CA ${ca.name} is not a FROST group CA`);
  return recordRelease(store, dataDir, r, r.prepared, sig, reject, { signers }, now);
}

async function recordRelease(
  store: Store,
  dataDir: string,
  r: CertRoundRow,
  prepared: Prepared,
  sig: Buffer,
  reject: Record<string, unknown>,
  by: Record<string, unknown>,
  now: Date,
): Promise<{ round: CertRoundRow; issued: Issued }> {
  let issued: Issued;
  try {
    issued = await assembleCertificate(prepared, sig);
  } catch (e) {
    if (e instanceof QuorumError) store.audit('cert.signature.rejected', { ...reject, code: e.code });
    throw e;
  }
  const review = reviewTbs(tbsBytes(prepared));
  const released = store.tx(() => {
    if (!store.setCertRoundState(r.id, 'open', 'released', now.toISOString(), issued.fullchain)) {
      throw new CertRoundError('ROUND_NOT_OPEN', `round ${r.id} was closed while its signature was checked`);
    }
    if (r.profile === 'fleet-root') store.setCaChain(r.ca, issued.fullchain);
    if (r.new_ca) store.setCaChain(r.new_ca, issued.fullchain);
    store.audit(
      'cert.released',
      {
        round: r.id,
        ca: r.ca,
        profile: r.profile,
        ...by,
        subject: review.subject,
        serial: issued.serial,
        tbsSha256: issued.tbsSha256,
        certificateSha256: issued.fingerprint,
        ...(r.new_ca ? { newCa: r.new_ca } : {}),
      },
      now.toISOString(),
    );
    return store.certRound(r.id)!;
  });
  writeCertificate(dataDir, released);
  return { round: released, issued };
}

function writeCertificate(dataDir: string, r: CertRoundRow): void {
  if (!r.certificate_pem) return;
  const dir = path.join(dataDir, CERT_RELEASE_DIR);
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${r.id}.pem`);
  fs.writeFileSync(`${file}.tmp`, r.certificate_pem);
  fs.renameSync(`${file}.tmp`, file); // readers never see a half-written file
}

/** After a crash between commit and file write: every released certificate is on disk. */
export function republishCertificates(store: Store, dataDir: string): void {
  for (const r of store.certRounds('released'))
    if (!fs.existsSync(path.join(dataDir, CERT_RELEASE_DIR, `${r.id}.pem`))) writeCertificate(dataDir, r);
}

// --- closing ---------------------------------------------------------------------------------

export function cancelCertRound(store: Store, id: string, reason: string, now = new Date()): CertRoundRow {
  return store.tx(() => {
    const r = openRoundOf(store, id, 'cancel');
    store.setCertRoundState(id, 'open', 'cancelled', now.toISOString());
    store.audit('cert.round.cancelled', { round: r.id, reason }, now.toISOString());
    return store.certRound(id)!;
  });
}

export function expireCertRounds(store: Store, now = new Date()): CertRoundRow[] {
  const out: CertRoundRow[] = [];
  for (const r of store.certRounds('open')) {
    if (Date.parse(r.deadline) <= now.getTime()) {
      store.tx(() => {
        if (store.setCertRoundState(r.id, 'open', 'expired', now.toISOString()))
          store.audit('cert.round.expired', { round: r.id, deadline: r.deadline }, now.toISOString());
      });
      out.push(store.certRound(r.id)!);
    }
  }
  return out;
}
