/**
 * The CA holder's own policy for issuing certificates: which keyholders' approvals count and how
 * many are needed, pinned in the signer home (cert-approvers.json). The coordinator's list is never
 * used for this, so a coordinator that enrolls a key of its own cannot approve anything.
 * Also every check a keyholder makes on a certificate round's bytes before approving or signing.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { publicKeyFrom, sha256hex, type PublicKey } from '../protocol/keys.js';
import type { CertRoundInfo } from '../protocol/wire.js';
import { issuerProblems, reviewTbs, type Review } from '../protocol/x509.js';
import { Refusal } from './trust.js';

export const APPROVERS_FILE = 'cert-approvers.json';

export interface PinnedApprovers {
  threshold: number;
  approvers: { name: string; fingerprint: string; publicKey: string }[];
}

export function pinApprovers(
  home: string,
  approvers: { name: string; publicKey: string }[],
  threshold: number,
): PinnedApprovers {
  const keys = approvers.map((a) => ({ name: a.name, pk: publicKeyFrom(a.publicKey) }));
  if (new Set(keys.map((k) => k.pk.fingerprint)).size !== keys.length)
    throw new Refusal('PAYLOAD_MALFORMED', 'one key is pinned under two approver names');
  const pinned: PinnedApprovers = {
    threshold,
    approvers: keys.map((k) => ({
      name: k.name,
      fingerprint: k.pk.fingerprint,
      publicKey: k.pk.keyObject.export({ type: 'spki', format: 'pem' }).toString(),
    })),
  };
  fs.mkdirSync(home, { recursive: true, mode: 0o700 });
  const file = path.join(home, APPROVERS_FILE);
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(pinned, null, 2) + '\n', { mode: 0o600 });
  fs.renameSync(`${file}.tmp`, file);
  return pinned;
}

export function loadApprovers(home: string): PinnedApprovers | null {
  const file = path.join(home, APPROVERS_FILE);
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as PinnedApprovers) : null;
}

export interface CheckedCert {
  round: CertRoundInfo;
  tbs: Buffer;
  tbsSha256: string;
  review: Review;
  /**
   * PEM, as the coordinator sent it: the issuing CA's certificate first (empty for a fleet root). Checked by
   * checkIssuer.
   */
  chain: readonly string[];
}

/** The TBS bytes as received, hashed and described here; the coordinator's description is not used. */
export function checkCertPayload(round: CertRoundInfo, tbsBase64: string, chain: readonly string[]): CheckedCert {
  if (round.state !== 'open')
    throw new Refusal('ROUND_CLOSED', `certificate round ${round.id} is ${round.state}; nothing to sign`);
  const tbs = Buffer.from(tbsBase64, 'base64');
  const tbsSha256 = sha256hex(tbs);
  if (tbsSha256 !== round.tbsSha256)
    throw new Refusal(
      'PAYLOAD_MISMATCH',
      `the TBS bytes hash to ${tbsSha256}, but the coordinator says ${round.tbsSha256}; refusing`,
    );
  let review: Review;
  try {
    review = reviewTbs(tbs);
  } catch (e) {
    throw new Refusal('PAYLOAD_MALFORMED', `the round's bytes are not a DER TBSCertificate: ${(e as Error).message}`);
  }
  // A self-issued certificate names its own key: the issuer key the approvals name must be it.
  if (review.selfIssued && review.publicKey.fingerprint !== round.issuerFingerprint) {
    throw new Refusal(
      'PAYLOAD_MALFORMED',
      `a self-issued certificate for key ${review.publicKey.fingerprint} said to be signed by ` +
        `${round.issuerFingerprint}`,
    );
  }
  return { round, tbs, tbsSha256, review, chain };
}

/**
 * The CA key's own check of the issuer it is about to sign, from the bytes (protocol/x509.ts
 * issuerProblems): a fleet root names itself (issuer = subject, its key is `caKey`); any other
 * certificate names as issuer exactly the subject of the chain's first certificate, which must be
 * for `caKey` (so a coordinator cannot pass off another CA's certificate, or another name, as this
 * CA's); an authorityKeyIdentifier must be `caKey`'s. Else ISSUER_MISMATCH, before anything is signed.
 */
export function checkIssuer(c: CheckedCert, caKey: PublicKey): void {
  const problems =
    c.round.profile === 'fleet-root'
      ? issuerProblems(c.tbs, 'self', caKey)
      : c.chain[0] === undefined
        ? ['the coordinator sent no CA certificate (chain) to check the issuer name against']
        : issuerProblems(c.tbs, c.chain[0], caKey);
  if (problems.length) {
    throw new Refusal(
      'ISSUER_MISMATCH',
      `certificate round ${c.round.id} (${c.round.profile} from CA ${c.round.ca}) would not be issued by your ` +
        `CA as its certificate names it: ${problems.join('; ')}. Nothing was signed; the coordinator (or its ` +
        'database) is not to be trusted with this round: ask the release coordinator to cancel it (quorum cert ' +
        `cancel ${c.round.id}) and find out how these bytes were made`,
    );
  }
}

/**
 * An approver's check of the issuer, from the bytes: a fleet root names itself as issuer (and
 * checkCertPayload tied its key to the round's issuer fingerprint); any other certificate passes
 * checkIssuer against the chain's first certificate, whose key must be the round's issuer key. An
 * approver holds no CA key, so this ties the TBS to a CA certificate consistent with the round
 * rather than to a pinned CA; the holder checks against its own key before it signs.
 */
export function checkIssuerAsApprover(c: CheckedCert): void {
  const refuse = (why: string): never => {
    throw new Refusal(
      'ISSUER_MISMATCH',
      `certificate round ${c.round.id}: ${why}; not approved: ask the release coordinator to cancel it (quorum ` +
        `cert cancel ${c.round.id})`,
    );
  };
  if (c.round.profile === 'fleet-root') {
    if (!c.review.selfIssued)
      refuse(`a fleet root must name itself as issuer, but the TBS issuer is ${c.review.issuer}`);
    return;
  }
  const first = c.chain[0];
  if (first === undefined) return refuse('it came without the CA certificate (chain) to check its issuer against');
  const key = publicKeyFrom(new crypto.X509Certificate(first).publicKey);
  if (key.fingerprint !== c.round.issuerFingerprint)
    refuse(
      `it is said to be signed by key ${c.round.issuerFingerprint}, but its CA certificate is for key ` +
        `${key.fingerprint}`,
    );
  checkIssuer(c, key);
}
