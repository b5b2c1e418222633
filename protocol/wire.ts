/**
 * The WebSocket protocol between coordinator and signers, version 1: one zod discriminated
 * union on `type` per direction, strict objects (an unknown field is an error, not ignored).
 * Authentication happens before the upgrade (see AUTH_DOMAIN), so every message here is from an
 * enrolled keyholder. Errors carry a code; a fatal one also closes the socket with CLOSE_CODES.
 */
import type { Codes } from './errors.js';
import { z } from 'zod';
import { WIRE_LIMITS } from './limits.js';
import {
  FROST_CLIENT_MESSAGES,
  FROST_SERVER_MESSAGES,
  FrostCeremonySchema,
  FrostDkgRound1Schema,
  FrostDkgRound2Schema,
  FrostGroupSchema,
  FrostSignedIdentitySchema,
  FrostSignRequestSchema,
  FrostTranscriptSignatureSchema,
  SessionSchema,
} from './frost-wire.js';

export const WIRE_VERSION = 1;

/**
 * Domain separation for the authentication signature. Canonical metadata always starts with
 * `{`, so bytes starting with this prefix can never be valid metadata, and a signature made to
 * log in can never be replayed as a signature over metadata (nor the other way round).
 * V2 added the TLS certificate binding (`tls=`); a V1 login no longer verifies.
 */
export const AUTH_DOMAIN = 'UPTANE-QUORUM-AUTH-V2\n';

/**
 * The exact bytes a signer signs to authenticate: domain, server id, nonce, key fingerprint, and
 * the sha256 fingerprint of the TLS certificate the signer pinned (colon-separated upper-case
 * hex, as X509Certificate.fingerprint256 prints it; `none` over plain ws://). The coordinator
 * checks it against its own certificate, so a login made to one coordinator (or to someone
 * relaying it) does not open a session at another.
 */
export function authMessage(
  serverId: string,
  nonce: string,
  fingerprint: string,
  tlsFingerprint: string | null = null,
): Buffer {
  return Buffer.from(
    `${AUTH_DOMAIN}server=${serverId}\nnonce=${nonce}\nkey=${fingerprint}\ntls=${tlsFingerprint ?? 'none'}\n`,
    'utf8',
  );
}

/** GET /v1/health: what a signer pins at join (the server id and dialect) and checks at each hello. */
export const HealthSchema = z.object({
  ok: z.literal(true),
  serverId: z.string().min(1).max(200),
  dialect: z.enum(['ota', 'tuf']),
});

export const ROUND_ROLES = ['root', 'targets'] as const;
export type RoundRole = (typeof ROUND_ROLES)[number];
export const ROUND_STATES = ['open', 'released', 'cancelled', 'expired'] as const;
export type RoundState = (typeof ROUND_STATES)[number];

const id = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9._-]+$/);
const hex64 = z.string().regex(/^[0-9a-f]{64}$/);

export const ThresholdProgressSchema = z.strictObject({
  label: z.string(), // e.g. "root (old keys)", "root (new keys)", "targets"
  threshold: z.number().int(),
  signed: z.array(z.string()), // keyholder names (or key fingerprints) that signed
  missing: z.array(z.string()),
  met: z.boolean(),
});
export type ThresholdProgress = z.infer<typeof ThresholdProgressSchema>;

/** What everyone may see about a round. The payload travels separately (round.payload). */
export const RoundInfoSchema = z.strictObject({
  id,
  role: z.enum(ROUND_ROLES),
  version: z.number().int(),
  state: z.enum(ROUND_STATES),
  reason: z.string(),
  deadline: z.string(),
  createdAt: z.string(),
  sha256: hex64,
  progress: z.array(ThresholdProgressSchema),
  /** The other round of a linked root + targets pair; both are released together. */
  linked: id.optional(),
  /** A delegated targets role's round (role targets): the role's name. */
  delegated: z.string().min(1).max(255).optional(),
  /**
   * FROST groups whose key this round needs: each signs in its own session (frost.sign.get with
   * that name), t of its participants together. `signed` once the aggregate signature is stored.
   */
  frost: z
    .array(
      z.strictObject({
        session: SessionSchema,
        ceremony: id,
        groupPublicKey: hex64,
        threshold: z.number().int(),
        participants: z.array(z.string()),
        signed: z.boolean(),
      }),
    )
    .optional(),
});
export type RoundInfo = z.infer<typeof RoundInfoSchema>;

/**
 * For a delegated role's round: the released files of the roles that delegate to it, from the one
 * targets delegates to down to its delegating role (file text; empty when targets delegates it),
 * and the role's own released file (the base it changes; null before its first release). The
 * signer verifies each one under the delegation above it, starting from the targets it verified.
 */
export const DelegationPayloadSchema = z.strictObject({
  chain: z.array(z.strictObject({ name: z.string().min(1).max(255), file: z.string() })).max(32),
  base: z.string().nullable(),
});
export type DelegationPayload = z.infer<typeof DelegationPayloadSchema>;

/**
 * A hash-binned targets round: the targets it adds to and removes from the bins, which the
 * coordinator's online key signs at the release (the keyholders' signatures cover targets.json only).
 */
export const BinsPayloadSchema = z.strictObject({
  add: z.record(z.string(), z.unknown()),
  remove: z.array(z.string()),
});

/** A DKG ceremony: waiting for round 1, for round 2, for confirmations; then done or failed. */
export const FROST_DKG_STATES = ['round1', 'round2', 'confirm', 'done', 'failed'] as const;
export type FrostDkgState = (typeof FROST_DKG_STATES)[number];

export const CERT_PROFILES = ['fleet-root', 'intermediate-ca', 'device'] as const;

/**
 * What everyone may see about a certificate round. The TBS bytes travel separately
 * (cert.payload); signers describe them from the bytes, never from this summary.
 */
export const CertRoundInfoSchema = z.strictObject({
  id,
  ca: id,
  profile: z.enum(CERT_PROFILES),
  state: z.enum(ROUND_STATES),
  reason: z.string(),
  deadline: z.string(),
  createdAt: z.string(),
  /** sha256 of the DER TBSCertificate: what the CA key signs. */
  tbsSha256: hex64,
  /** sha256 of the issuing key's SPKI: what approvals name, and the key that must sign. */
  issuerFingerprint: hex64,
  /** The keyholder who holds the CA key (null for a future FROST group CA). */
  holder: z.string().nullable(),
  approvals: z.strictObject({
    threshold: z.number().int(),
    approved: z.array(z.string()),
    missing: z.array(z.string()),
    met: z.boolean(),
  }),
  /** intermediate-ca rounds that create a CA: its name. */
  newCa: id.optional(),
});
export type CertRoundInfo = z.infer<typeof CertRoundInfoSchema>;

// --- signer -> coordinator ---

export const ClientMessageSchema = z.discriminatedUnion('type', [
  /**
   * A page of rounds: the newest `limit` (WIRE_LIMITS.pageDefault, at most pageMax) opened before round `before`, of
   * `state` if given.
   */
  z.strictObject({
    type: z.literal('rounds.list'),
    ref: z.string().max(64).optional(),
    state: z.enum(ROUND_STATES).optional(),
    limit: z.number().int().min(1).max(WIRE_LIMITS.pageMax).optional(),
    before: id.optional(),
  }),
  z.strictObject({ type: z.literal('round.get'), ref: z.string().max(64).optional(), round: id }),
  /** Released roots after `after` (the signer's pinned version), and the current released targets. */
  z.strictObject({
    type: z.literal('released.get'),
    ref: z.string().max(64).optional(),
    afterRootVersion: z.number().int().min(0),
  }),
  z.strictObject({
    type: z.literal('signature.submit'),
    ref: z.string().max(64).optional(),
    round: id,
    sha256: hex64, // of the canonical bytes the signer reviewed and signed
    keyid: z.string().max(128),
    sig: z.string().max(2048),
  }),
  z.strictObject({ type: z.literal('ping'), ref: z.string().max(64).optional() }),
  z.strictObject({
    type: z.literal('certs.list'),
    ref: z.string().max(64).optional(),
    state: z.enum(ROUND_STATES).optional(),
    limit: z.number().int().min(1).max(WIRE_LIMITS.pageMax).optional(),
    before: id.optional(),
  }),
  z.strictObject({ type: z.literal('cert.get'), ref: z.string().max(64).optional(), round: id }),
  /** An approval: a signature over x509.approvalMessage(tbs, issuerFingerprint) with the keyholder's key. */
  z.strictObject({
    type: z.literal('cert.approve'),
    ref: z.string().max(64).optional(),
    round: id,
    tbsSha256: hex64,
    sig: z.string().max(2048),
  }),
  /** The CA holder's signature over the TBS bytes (Ed25519 64 bytes, ECDSA DER), base64. */
  z.strictObject({
    type: z.literal('cert.sign'),
    ref: z.string().max(64).optional(),
    round: id,
    tbsSha256: hex64,
    sig: z.string().max(2048),
  }),
  /** A DKG ceremony as the coordinator holds it, for this participant (answered by frost.dkg.status). */
  z.strictObject({ type: z.literal('frost.dkg.get'), ref: z.string().max(64).optional(), ceremony: id }),
  /**
   * A FROST signing session as the coordinator runs it (answered by frost.sign.status): a
   * certificate round of a FROST group CA, or a metadata round that needs a FROST group's key.
   */
  z.strictObject({ type: z.literal('frost.sign.get'), ref: z.string().max(64).optional(), session: SessionSchema }),
  ...FROST_CLIENT_MESSAGES,
]);
export type ClientMessage = z.infer<typeof ClientMessageSchema>;

// --- coordinator -> signer ---

export const ServerMessageSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('hello'),
    version: z.literal(WIRE_VERSION),
    serverId: z.string(),
    keyholder: z.string(),
    dialect: z.enum(['ota', 'tuf']),
  }),
  /** Oldest first; `next` (when older rounds exist) is the `before` of the following page. */
  z.strictObject({
    type: z.literal('rounds'),
    ref: z.string().optional(),
    rounds: z.array(RoundInfoSchema),
    next: id.optional(),
  }),
  z.strictObject({
    type: z.literal('round.payload'),
    ref: z.string().optional(),
    round: RoundInfoSchema,
    /** The proposed `signed` body as JSON text; the signer canonicalises it itself. */
    signed: z.string(),
    /**
     * For a targets round linked to a root round: that round and its proposed root, under whose targets keys it is
     * signed.
     */
    linkedRoot: z.strictObject({ round: RoundInfoSchema, signed: z.string() }).optional(),
    delegation: DelegationPayloadSchema.optional(),
    bins: BinsPayloadSchema.optional(),
  }),
  z.strictObject({
    type: z.literal('released'),
    ref: z.string().optional(),
    /** Released `N.root.json` files after the requested version, oldest first (file text). */
    roots: z.array(z.strictObject({ version: z.number().int(), file: z.string() })),
    /** The current released targets.json (file text), if any. */
    targets: z.string().nullable(),
  }),
  z.strictObject({ type: z.literal('round.opened'), round: RoundInfoSchema }),
  z.strictObject({ type: z.literal('round.updated'), round: RoundInfoSchema }),
  z.strictObject({ type: z.literal('signature.accepted'), ref: z.string().optional(), round: RoundInfoSchema }),
  z.strictObject({ type: z.literal('pong'), ref: z.string().optional() }),
  z.strictObject({
    type: z.literal('certs'),
    ref: z.string().optional(),
    rounds: z.array(CertRoundInfoSchema),
    next: id.optional(),
  }),
  z.strictObject({
    type: z.literal('cert.payload'),
    ref: z.string().optional(),
    round: CertRoundInfoSchema,
    /** DER TBSCertificate, base64: the exact bytes approved and signed. */
    tbs: z.string(),
    /** PEM: the issuing CA's certificate and the chain above it (empty for a fleet root). */
    chain: z.array(z.string()),
    /** Approvals received so far; each signer verifies them itself against its own pinned keys. */
    approvals: z.array(z.strictObject({ keyholder: z.string(), publicKey: z.string(), sig: z.string() })),
  }),
  z.strictObject({ type: z.literal('cert.opened'), round: CertRoundInfoSchema }),
  z.strictObject({ type: z.literal('cert.updated'), round: CertRoundInfoSchema }),
  z.strictObject({ type: z.literal('cert.approved'), ref: z.string().optional(), round: CertRoundInfoSchema }),
  /** The release: the certificate followed by its chain (PEM). */
  z.strictObject({
    type: z.literal('cert.released'),
    ref: z.string().optional(),
    round: CertRoundInfoSchema,
    certificate: z.string(),
  }),
  z.strictObject({
    type: z.literal('error'),
    ref: z.string().optional(),
    code: z.string(),
    message: z.string(),
    fatal: z.boolean(),
  }),
  /**
   * A DKG ceremony's state for the asking participant (the answer to frost.dkg.get and the
   * acknowledgement of frost.dkg.round1/round2/confirm): the round-1 packages once all are in,
   * the round-2 ciphertexts addressed to this participant once all are in, and the group once agreed.
   */
  z.strictObject({
    type: z.literal('frost.dkg.status'),
    ref: z.string().optional(),
    ceremony: FrostCeremonySchema,
    state: z.enum(FROST_DKG_STATES),
    round1Received: z.array(z.number().int()),
    round2Received: z.array(z.number().int()),
    confirmsReceived: z.array(z.number().int()),
    round1All: z.array(FrostDkgRound1Schema),
    /** Every participant's signed identity statement, with round1All. */
    identities: z.array(FrostSignedIdentitySchema),
    inbox: z.array(FrostDkgRound2Schema),
    group: FrostGroupSchema.nullable(),
    /** Once done: every participant's signature over the transcript (all the same digest). */
    transcripts: z.array(FrostTranscriptSignatureSchema),
    failure: z.string().nullable(),
  }),
  /**
   * A FROST signing session for the asking participant (the answer to frost.sign.get and the
   * acknowledgement of frost.sign.commitment/share): the current attempt, who has a commitment
   * waiting, the signing request once t commitments are in, and the certificate once released.
   */
  z.strictObject({
    type: z.literal('frost.sign.status'),
    ref: z.string().optional(),
    session: SessionSchema,
    state: z.enum(ROUND_STATES),
    attempt: z.number().int(),
    groupPublicKey: hex64,
    threshold: z.number().int(),
    committed: z.array(z.number().int()),
    request: FrostSignRequestSchema.nullable(),
    shared: z.array(z.number().int()),
    /** Participants refused for this session (a bad share, a refusal). */
    excluded: z.array(z.number().int()),
    certificate: z.string().nullable(),
    /** The group's signature is in: the certificate is released, or the metadata round holds it. */
    done: z.boolean(),
  }),
  ...FROST_SERVER_MESSAGES,
]);
export type ServerMessage = z.infer<typeof ServerMessageSchema>;

/** Codes the coordinator sends in `error` messages. */
export type WireErrorCode = Codes<
  | 'MESSAGE_INVALID_JSON' // not JSON
  | 'MESSAGE_INVALID' // JSON but not a valid message (schema)
  | 'MESSAGE_TOO_LARGE'
  | 'RATE_LIMITED'
  | 'ROUND_NOT_FOUND'
  | 'ROUND_NOT_OPEN' // released, cancelled or expired
  | 'SIG_WRONG_BYTES' // signature (or sha256) over other bytes than this round's
  | 'SIG_REPLAY' // signature over an earlier round's bytes
  | 'SIG_KEY_NOT_NEEDED' // a key this round does not need
  | 'SIG_NOT_YOUR_KEY' // the key is not the authenticated keyholder's
  | 'SIG_DUPLICATE' // this key already signed this round
  | 'SIG_MALFORMED'
  | 'APPROVAL_NOT_APPROVER' // the keyholder is not one of the CA's approvers
  | 'APPROVAL_WRONG_BYTES' // an approval (or its sha256) over other bytes than this round's TBS and issuer
  | 'APPROVAL_DUPLICATE' // this keyholder already approved this round
  | 'CERT_NOT_HOLDER' // a CA signature from a keyholder who does not hold this CA's key
  | 'CEREMONY_NOT_FOUND' // no FROST DKG ceremony of that id
  | 'CEREMONY_NOT_PARTICIPANT' // the keyholder is not on the ceremony's roster
  | 'CEREMONY_WRONG_STEP' // a package for another step than the ceremony is at
  | 'CEREMONY_CONFLICT' // a second, different package for a step already answered
  | 'SESSION_NOT_FOUND' // no FROST signing session of that id
  | 'INTERNAL'
>;

/** WebSocket close codes (4000-4999 are the application's). */
export const CLOSE_CODES = {
  normal: 1000,
  goingAway: 1001,
  invalidUtf8: 1007, // ws closes with this itself for a text frame that is not UTF-8
  tooLarge: 1009, // ws closes with this itself when maxPayload is exceeded (or for a binary frame over it)
  keyholderRemoved: 4003,
  rateLimited: 4008, // too many messages; reconnect after a pause
  heartbeatTimeout: 4009, // a ping went unanswered
} as const;

/** Fatal error codes: the coordinator closes the socket after sending them. */
export const FATAL: Record<string, number> = {
  RATE_LIMITED: CLOSE_CODES.rateLimited,
};
