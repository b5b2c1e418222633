/**
 * The signer's trust workflow, the one place that decides whether a round may be signed. Given
 * what the signer holds itself (its pinned root, the last released targets it verified, what a
 * person reviewed: TrustState and the review record), the released metadata a source provides
 * and a round as received (from the coordinator's socket, or from an offline bundle), it returns
 * the exact bytes to sign and the summary to show, or throws a Refusal with its code. Nothing here
 * reads a file, a socket or a terminal (checkMetadataRound reaches them only through the
 * MetadataSource and TrustKeeper it is given): `sign`, `sign --offline`, `review`, `watch`, `cert
 * review/approve/sign` and `frost sign` (cli.ts) do their I/O around it, and the tests drive it
 * directly. The model is python-tuf's trusted_metadata_set (pure trust state) beside its updater.
 *
 * The decisions, in order:
 *  1. the answer is the round that was asked for: its id, and the role and version the id spells
 *     (ROUND_MISMATCH), so a coordinator cannot answer `round.get X` with another round's bytes;
 *  2. released roots chain from the pinned one; released targets verify under it, and are not
 *     older than (or different from) the targets this signer verified before, so a coordinator
 *     cannot withhold the base and make every target look added (TARGETS_BASE_MISSING/CONFLICT);
 *  3. the proposal: well-formed, its sha256, version = base + 1 = what the round claims, not
 *     expired, this key needed (trust.ts checkPayload); for a delegated role, the chain of
 *     delegations from the verified targets down to it, each file signed by the keys the one above
 *     names, and every target within its paths (DELEGATION_CHAIN_INVALID, DELEGATED_PATH_OUTSIDE);
 *  4. a person who reviewed the round gets exactly the bytes reviewed, --yes or not (PAYLOAD_CHANGED);
 *  5. certificates: the TBS is what its profile and its issuer allow (PROFILE_MISMATCH), names the
 *     CA as issuer (ISSUER_MISMATCH), and a threshold of the holder's pinned approvers approved it.
 */
import type { Dialect } from '../protocol/canonical.js';
import { displayText as esc } from '../protocol/display.js';
import { publicKeyFrom, type PublicKey } from '../protocol/keys.js';
import { parseMetadata, type Metadata } from '../protocol/verify.js';
import type { CertRoundInfo, RoundInfo, RoundRole } from '../protocol/wire.js';
import { approvalMessage, CertError, formatReview, profileProblems, verifyApprovals } from '../protocol/x509.js';
import {
  checkCertPayload,
  checkIssuer,
  checkIssuerAsApprover,
  type CheckedCert,
  type PinnedApprovers,
} from './cert-trust.js';
import { renderSummary, summarise, type Summary } from './review.js';
import {
  checkPayload,
  Refusal,
  verifiedTargets,
  walkRoots,
  type CheckedProposal,
  type Learned,
  type Payload,
  type TrustState,
} from './trust.js';

// --- what was asked --------------------------------------------------------------------------------

/** The round the signer asked for: its id, and (when known) the role and version it must have. */
export interface Asked {
  id: string;
  role?: RoundRole;
  version?: number;
  /** The delegated targets role the id names (null: the id names a top-level role's round). */
  delegated?: string | null;
}

// The coordinator names a metadata round ROLE-vVERSION-rN, a delegated role's targets.NAME-vVERSION-rN
// (coordinator/rounds.ts).
const ROUND_ID = /^(root|targets)(?:\.([A-Za-z0-9_][A-Za-z0-9._-]{0,39}))?-v([1-9][0-9]{0,15})-r[0-9]+$/;

/** The round a person names by its id: with the role, delegated role and version that id spells, when it does. */
export function askedFor(id: string): Asked {
  const m = ROUND_ID.exec(id);
  if (!m || (m[1] === 'root' && m[2] !== undefined)) return { id };
  return { id, role: m[1] as RoundRole, version: Number(m[3]), delegated: m[2] ?? null };
}

/** ROUND_MISMATCH unless `round` is the round asked for: same id, and role, delegated role and version when asked. */
export function checkAnswer(
  asked: Asked,
  round: Pick<RoundInfo, 'id' | 'role' | 'version'> & { delegated?: string },
): void {
  const what = `${round.delegated !== undefined ? `${round.role} ${esc(round.delegated)}` : round.role} v${round.version} round ${esc(round.id)}`;
  if (round.id !== asked.id)
    throw new Refusal(
      'ROUND_MISMATCH',
      `asked for round ${esc(asked.id)}, the answer is ${what}; refusing to sign another round than the one asked for`,
    );
  if (asked.role !== undefined && round.role !== asked.role)
    throw new Refusal('ROUND_MISMATCH', `round ${esc(asked.id)} is a ${asked.role} round, but the answer is ${what}`);
  if (asked.delegated !== undefined && (round.delegated ?? null) !== asked.delegated)
    throw new Refusal(
      'ROUND_MISMATCH',
      `round ${esc(asked.id)} is ${asked.delegated === null ? `a ${asked.role} round` : `delegated role ${asked.delegated}'s round`}, but the answer is ${what}`,
    );
  if (asked.version !== undefined && round.version !== asked.version)
    throw new Refusal(
      'ROUND_MISMATCH',
      `round ${esc(asked.id)} is for version ${asked.version}, but the answer is ${what}`,
    );
}

// --- released metadata -----------------------------------------------------------------------------

/** Released metadata as a source provides it: `N.root.json` files after the pinned version, and targets.json. */
export interface Released {
  roots: { version: number; file: string }[];
  targets: string | null;
}

/** What decisions are made against: the newest verified root, and the released targets verified now (the base). */
export interface Verified {
  root: Metadata<'root'> | null;
  targets: Metadata<'targets'> | null;
  targetsSeen: number;
  /** The highest released version of each delegated role this signer has verified. */
  delegatedSeen: Record<string, number>;
}

/**
 * Verify what a source says is released against what the signer holds: newer roots chain from the
 * pinned one; the released targets verify under the newest root and are the targets this signer
 * last verified, or newer. Returns the state to decide with and what to keep.
 */
export function verifyReleased(
  held: TrustState,
  released: Released,
  dialect: Dialect,
): { state: Verified; learned: Learned } {
  const walk = walkRoots(held.root, released.roots, dialect);
  const targets = verifiedTargets(walk.root, released.targets, dialect); // TARGETS_BASE_INVALID
  const seen = held.targetsSeen;
  if (!targets) {
    if (seen > 0 || held.keptTargets)
      throw new Refusal(
        'TARGETS_BASE_MISSING',
        `the source provides no released targets, but this signer has verified released targets version ${seen}; ` +
          'refusing to diff against nothing (the coordinator may be withholding them)',
      );
  } else {
    const v = targets.signed.version as number;
    if (v < seen)
      throw new Refusal(
        'TARGETS_BASE_MISSING',
        `the source provides released targets version ${v}, but this signer has verified version ${seen}; ` +
          'refusing an older base (the coordinator may be withholding the newer one)',
      );
    if (v === seen && held.keptTargets && !targets.bytes.equals(held.keptTargets)) {
      // Other bytes of the version kept: the same release re-serialised, or another release of that version.
      const kept = parseMetadata(held.keptTargets, 'targets.json (kept)', 'targets', dialect);
      if ((kept.signed.version as number) === v && !kept.canonical.equals(targets.canonical)) {
        throw new Refusal(
          'TARGETS_BASE_CONFLICT',
          `the source's released targets version ${v} differ from the version ${v} this signer verified and ` +
            'kept; refusing (two different releases of one version)',
        );
      }
    }
  }
  const v = targets ? (targets.signed.version as number) : 0;
  return {
    state: { root: walk.root, targets, targetsSeen: Math.max(seen, v), delegatedSeen: held.delegatedSeen ?? {} },
    learned: {
      roots: walk.walked,
      targets: targets && (v > seen || !held.keptTargets) ? targets : null,
      tofu: walk.tofu,
    },
  };
}

// --- metadata rounds -------------------------------------------------------------------------------

export interface MetadataDecision {
  checked: CheckedProposal;
  /** The key the round needs, of those offered: the signer's own, or a FROST group's it holds a share of. */
  me: PublicKey;
  /** The exact bytes to sign: the canonical form of the proposed `signed`, as received. */
  bytes: Buffer;
  sha256: string;
  summary: Summary;
  /** What a person reads before signing, escaped. */
  text: string;
}

export interface DecideOptions {
  dialect: Dialect;
  /** The sha256 a person reviewed for the round asked for, if they did: nothing else is signed. */
  reviewed?: string | null;
  now?: Date;
}

/**
 * Decide a metadata round against a state verifyReleased returned: the round asked for, open,
 * passing every check for the first of `keys` it needs (else NOT_NEEDED), and the bytes reviewed.
 */
export function decideMetadataRound(
  state: Verified,
  asked: Asked,
  payload: Payload,
  keys: readonly PublicKey[],
  opts: DecideOptions,
): MetadataDecision {
  checkAnswer(asked, payload.round);
  if (payload.round.state !== 'open')
    throw new Refusal('ROUND_CLOSED', `round ${esc(asked.id)} is ${payload.round.state}; nothing to sign`);
  let found: { checked: CheckedProposal; me: PublicKey } | undefined;
  for (const [i, me] of keys.entries()) {
    try {
      found = {
        checked: checkPayload(
          payload,
          state.root,
          state.targets,
          opts.dialect,
          me,
          opts.now ?? new Date(),
          state.targetsSeen,
          state.delegatedSeen,
        ),
        me,
      };
      break;
    } catch (e) {
      if (!(e instanceof Refusal && e.code === 'NOT_NEEDED') || i === keys.length - 1) throw e;
    }
  }
  if (!found) throw new Refusal('NOT_NEEDED', `round ${esc(asked.id)} needs none of your keys`);
  const { checked, me } = found;
  if (opts.reviewed && opts.reviewed !== checked.sha256) {
    throw new Refusal(
      'PAYLOAD_CHANGED',
      `round ${esc(asked.id)} now has sha256 ${checked.sha256}, but you reviewed ${esc(opts.reviewed)}; ` +
        'refusing to sign something you did not review',
    );
  }
  const summary = summarise(checked);
  return {
    checked,
    me,
    bytes: checked.proposed.canonical,
    sha256: checked.sha256,
    summary,
    text: renderSummary(checked, summary),
  };
}

/** Where released metadata and rounds come from: the coordinator's socket, or an offline bundle. */
export interface MetadataSource {
  released(afterRootVersion: number): Promise<Released>;
  round(id: string): Promise<Payload>;
}

/** The signer's own trust as the workflow reads and extends it (TrustStore, or a test's in-memory one). */
export interface TrustKeeper {
  state(): TrustState;
  keep(learned: Learned): void;
}

/**
 * The whole workflow for a metadata round: released metadata from the source, verified and kept;
 * then the round asked for, from the source, decided. What was verified is kept even when the
 * round is then refused.
 */
export async function checkMetadataRound(
  source: MetadataSource,
  keeper: TrustKeeper,
  asked: Asked,
  keys: readonly PublicKey[],
  opts: DecideOptions,
): Promise<MetadataDecision & { learned: Learned }> {
  const before = keeper.state();
  const released = await source.released(before.root ? before.root.signed.version : 0);
  const { state, learned } = verifyReleased(before, released, opts.dialect);
  keeper.keep(learned);
  const payload = await source.round(asked.id);
  const decision = decideMetadataRound(state, asked, payload, keys, opts);
  // What a delegated role's round verified is kept too: a later round cannot be based on older files.
  const delegated = decision.checked.delegatedVersions;
  if (delegated && Object.keys(delegated).length) keeper.keep({ roots: [], targets: null, tofu: false, delegated });
  return { ...decision, learned: delegated ? { ...learned, delegated } : learned };
}

/** An offline bundle (quorum round export): one round, its payload and everything released. */
export interface Bundle extends Payload, Released {
  format: string;
  dialect: Dialect;
}

/** A bundle as a source: the round it holds, asked for by the id it names (which must spell its role and version). */
export function bundleSource(b: Bundle): MetadataSource & { asked: Asked } {
  return {
    asked: askedFor(b.round.id),
    released: async () => ({ roots: b.roots, targets: b.targets }),
    round: async (id) => {
      if (id !== b.round.id)
        throw new Refusal('ROUND_MISMATCH', `the bundle holds round ${esc(b.round.id)}, not ${esc(id)}`);
      return {
        round: b.round,
        signed: b.signed,
        ...(b.linkedRoot ? { linkedRoot: b.linkedRoot } : {}),
        ...(b.delegation ? { delegation: b.delegation } : {}),
        ...(b.bins ? { bins: b.bins } : {}),
      };
    },
  };
}

// --- certificate rounds ----------------------------------------------------------------------------

export interface CertPayload {
  round: CertRoundInfo;
  /** DER TBSCertificate, base64 */
  tbs: string;
  chain: readonly string[];
  approvals: readonly { keyholder: string; publicKey: string; sig: string }[];
}

/**
 * What the keyholder does with a certificate round: review it; approve it; sign it with the CA key
 * it holds (checked against that key and its own pinned approvers); or take part in a FROST
 * group's signature (the group key's issuer check follows once the group is known).
 */
export type CertUse =
  | { as: 'review' }
  | { as: 'approve' }
  | { as: 'sign'; caKey: PublicKey; approvers: PinnedApprovers | null }
  | { as: 'frost' };

export interface CertDecision {
  checked: CheckedCert;
  /** The exact bytes to sign: the approval message (approve) or the TBS (sign, frost); empty for review. */
  bytes: Buffer;
  /** Pinned approvers whose approvals counted (sign). */
  approvedBy: string[];
  /** What a person reads before approving or signing, escaped. */
  text: string;
}

/**
 * Decide a certificate round: the round asked for, open, its TBS bytes hashing to its sha256 and
 * having what its profile and issuer allow, exactly the bytes a person reviewed; then the checks of
 * the use (issuer for approvers and holders, the holder's key and pinned approvals).
 */
export function decideCertRound(
  asked: string,
  p: CertPayload,
  use: CertUse,
  opts: { reviewed?: string | null; now?: Date } = {},
): CertDecision {
  if (p.round.id !== asked)
    throw new Refusal(
      'ROUND_MISMATCH',
      `asked for certificate round ${esc(asked)}, the answer is round ${esc(p.round.id)}; refusing`,
    );
  const checked = checkCertPayload(p.round, p.tbs, p.chain); // ROUND_CLOSED, PAYLOAD_MISMATCH, PAYLOAD_MALFORMED
  checkProfile(checked);
  if (use.as !== 'review' && opts.reviewed && opts.reviewed !== checked.tbsSha256) {
    throw new Refusal(
      'PAYLOAD_CHANGED',
      `certificate round ${esc(asked)} now has TBS sha256 ${checked.tbsSha256}, but you reviewed ` +
        `${esc(opts.reviewed)}; refusing to sign something you did not review`,
    );
  }
  let bytes: Buffer = Buffer.alloc(0);
  let approvedBy: string[] = [];
  if (use.as === 'approve') {
    checkIssuerAsApprover(checked); // ISSUER_MISMATCH
    bytes = approvalMessage(checked.tbs, checked.round.issuerFingerprint);
  } else if (use.as === 'sign') {
    const me = use.caKey;
    if (checked.round.issuerFingerprint !== me.fingerprint)
      throw new Refusal(
        'NOT_NEEDED',
        `certificate round ${esc(asked)} is signed by key ${checked.round.issuerFingerprint}, not yours (${me.fingerprint})`,
      );
    if (checked.review.signatureAlgorithm !== me.algorithm)
      throw new Refusal(
        'PAYLOAD_MALFORMED',
        `the TBS names signature algorithm ${esc(checked.review.signatureAlgorithm)}, but your key is ${me.algorithm}`,
      );
    checkIssuer(checked, me); // ISSUER_MISMATCH
    approvedBy = countApprovals(use.approvers, checked, me, p.approvals); // APPROVALS_UNMET
    bytes = checked.tbs;
  } else if (use.as === 'frost') {
    bytes = checked.tbs;
  }
  return { checked, bytes, approvedBy, text: certText(checked, p.approvals) };
}

/** The TBS against its round's profile and its issuer's certificate: PROFILE_MISMATCH, naming each problem. */
export function checkProfile(c: CheckedCert): void {
  const issuer = c.round.profile === 'fleet-root' ? 'self' : c.chain[0];
  const problems = profileProblems(c.tbs, c.round.profile, issuer);
  if (problems.length) {
    throw new Refusal(
      'PROFILE_MISMATCH',
      `certificate round ${esc(c.round.id)} is a ${c.round.profile} round, but its certificate is not one: ` +
        `${problems.map(esc).join('; ')}. Nothing was approved or signed; ask the release coordinator to cancel ` +
        `it (quorum cert cancel ${esc(c.round.id)}) and find out how these bytes were made`,
    );
  }
}

/** The holder's count: a threshold of ITS pinned approvers approved exactly these bytes under its key. */
export function countApprovals(
  pinned: PinnedApprovers | null,
  c: CheckedCert,
  me: PublicKey,
  approvals: CertPayload['approvals'],
): string[] {
  if (!pinned)
    throw new CertError(
      'APPROVALS_UNMET',
      'no approvers are pinned in your signer home; pin them first: quorum-signer cert pin-approvers ' +
        '--approver NAME=PUBKEY.pem ... --threshold N',
    );
  const keys = approvals.flatMap((a) => {
    try {
      return [
        { publicKey: publicKeyFrom(Buffer.from(a.publicKey, 'base64')), signature: Buffer.from(a.sig, 'base64') },
      ];
    } catch {
      return []; // an unparseable key counts for nothing
    }
  });
  const counted = verifyApprovals(
    c.tbs,
    me.fingerprint,
    keys,
    pinned.approvers.map((a) => publicKeyFrom(a.publicKey)),
    pinned.threshold,
  );
  return pinned.approvers.filter((a) => counted.includes(a.fingerprint)).map((a) => a.name);
}

/**
 * A certificate round as a person reads it: the TBS described from its bytes, then what the coordinator says, escaped.
 */
export function certText(c: CheckedCert, approvals: readonly { keyholder: string }[]): string {
  return (
    formatReview(c.review) +
    `  Issuer key:  sha256 of SPKI ${c.round.issuerFingerprint} (held by ${esc(c.round.holder ?? '-')})\n` +
    (`  Round:       ${c.round.id}, ${c.round.profile} from CA ${c.round.ca}${c.round.newCa ? `, becomes CA ${c.round.newCa}` : ''} ` +
      `— ${esc(c.round.reason)}\n`) +
    (`  Approvals:   ${approvals.map((a) => esc(a.keyholder)).join(', ') || '-'} (as the coordinator reports ` +
      `them; ${c.round.approvals.threshold} needed)\n`)
  );
}
