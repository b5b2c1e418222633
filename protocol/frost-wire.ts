/**
 * The FROST(Ed25519, SHA-512) messages, version 2 (identity statements and signed transcripts): the records a DKG
 * ceremony and a signing round
 * exchange, and the WebSocket envelopes that carry them between participants and the coordinator.
 * Types are inferred from the schemas; protocol/frost.ts produces and consumes exactly these
 * objects. Participants are named by small integer identifiers (1..n, fixed by the ceremony's
 * roster); every Element and Scalar is lowercase hex of its RFC 9591 serialisation (32 bytes,
 * little-endian as RFC 8032). The member lists are exported on their own so the coordinator can
 * spread them into wire.ts's unions instead of running a second channel.
 */
import { z } from 'zod';

export const FROST_WIRE_VERSION = 2;

/** Bounds on one FROST group. DKG work grows as n^2 per participant, signing as t. */
export const FROST_LIMITS = {
  maxParticipants: 64, // participants in one group (and the largest identifier)
  maxMessageBytes: 64 * 1024 * 1024, // bytes: the largest message a group signs (a targets file)
} as const;

const name = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9._-]+$/);
/**
 * A signing session: a certificate round's id, or `<metadata round id>.<ceremony id>` (one session
 * per FROST group a metadata round needs); an attempt is `<session>.<k>`.
 */
export const SessionSchema = z
  .string()
  .min(1)
  .max(160)
  .regex(/^[A-Za-z0-9._-]+$/);
const session = SessionSchema;
const hex = (bytes: number) => z.string().regex(new RegExp(`^[0-9a-f]{${bytes * 2}}$`));
/** A serialised Ed25519 point (Element) or scalar: 32 bytes. */
const hex32 = hex(32);
const ref = z.string().max(64).optional();

export const ParticipantIdSchema = z.number().int().min(1).max(FROST_LIMITS.maxParticipants);

// --- records ----------------------------------------------------------------------------------

/** What a group becomes once agreed: a fleet CA's key, or a root/targets key, under this name. */
export const FrostPurposeSchema = z.strictObject({ kind: z.enum(['fleet-ca', 'role-key']), name });
export type FrostPurpose = z.infer<typeof FrostPurposeSchema>;

/** Who takes part in a DKG ceremony, fixed before round 1. Its digest binds every later message. */
export const FrostCeremonySchema = z.strictObject({
  id: name,
  threshold: z.number().int().min(2).max(FROST_LIMITS.maxParticipants),
  /** Sorted by identifier; `identityKey` is the participant's enrolled X25519 key (raw, hex). */
  participants: z
    .array(z.strictObject({ identifier: ParticipantIdSchema, name, identityKey: hex32 }))
    .min(2)
    .max(FROST_LIMITS.maxParticipants),
  /** Absent only in ceremonies opened before identity statements, which participants refuse. */
  purpose: FrostPurposeSchema.optional(),
});
export type FrostCeremony = z.infer<typeof FrostCeremonySchema>;

/**
 * A participant's identity statement: "I, keyholder `keyholder`, participant `identifier` of
 * ceremony `ceremony` (this purpose, threshold and roster), hold the X25519 identity key
 * `identityKey`", signed with the keyholder's enrolled signing key (a key file or a token) over
 * `UPTANE-QUORUM-FROST-IDENTITY-V1\n` + its canonical JSON. Every participant checks every
 * statement against the signing keys it pinned itself before it encrypts anything to those keys.
 */
export const FrostIdentityStatementSchema = z.strictObject({
  ceremony: name,
  purpose: FrostPurposeSchema,
  threshold: z.number().int().min(2).max(FROST_LIMITS.maxParticipants),
  participants: z
    .array(z.strictObject({ identifier: ParticipantIdSchema, name }))
    .min(2)
    .max(FROST_LIMITS.maxParticipants),
  keyholder: name,
  identifier: ParticipantIdSchema,
  identityKey: hex32,
});
export type FrostIdentityStatement = z.infer<typeof FrostIdentityStatementSchema>;

const signature = z
  .string()
  .regex(/^[A-Za-z0-9+/]*={0,2}$/)
  .max(1024); // base64: Ed25519, ECDSA DER, RSA-PSS up to 4096 bits

export const FrostSignedIdentitySchema = z.strictObject({ statement: FrostIdentityStatementSchema, signature });
export type FrostSignedIdentity = z.infer<typeof FrostSignedIdentitySchema>;

/**
 * A participant's signature over the whole DKG transcript it saw (the ceremony with its
 * parameters and identity keys, every identity statement, every round-1 package): over
 * `UPTANE-QUORUM-FROST-TRANSCRIPT-V1\n` + the canonical JSON of {ceremony, identifier, transcript},
 * `transcript` being the transcript's sha256. The group counts as agreed only when every
 * participant signed the same digest.
 */
export const FrostTranscriptSignatureSchema = z.strictObject({
  identifier: ParticipantIdSchema,
  transcript: hex32,
  signature,
});
export type FrostTranscriptSignature = z.infer<typeof FrostTranscriptSignatureSchema>;

/** What everyone (coordinator included) records after a DKG: public, no secrets. */
export const FrostGroupSchema = z.strictObject({
  ceremony: name,
  ceremonyDigest: hex32,
  threshold: z.number().int().min(2).max(FROST_LIMITS.maxParticipants),
  /** The group key: an ordinary Ed25519 public key (raw, hex). Equals commitments[0]. */
  groupPublicKey: hex32,
  /** The summed VSS commitment (threshold points); verifying shares follow from it. */
  commitments: z.array(hex32).min(2).max(FROST_LIMITS.maxParticipants),
  participants: z
    .array(z.strictObject({ identifier: ParticipantIdSchema, name, identityKey: hex32, verifyingShare: hex32 }))
    .min(2)
    .max(FROST_LIMITS.maxParticipants),
});
export type FrostGroup = z.infer<typeof FrostGroupSchema>;

/** DKG round 1, broadcast: the sender's VSS commitment and proof of knowledge of its secret. */
export const FrostDkgRound1Schema = z.strictObject({
  ceremonyDigest: hex32,
  from: ParticipantIdSchema,
  commitment: z.array(hex32).min(2).max(FROST_LIMITS.maxParticipants),
  proofOfKnowledge: hex(64),
});
export type FrostDkgRound1 = z.infer<typeof FrostDkgRound1Schema>;

/**
 * DKG round 2, one per recipient: the sender's secret share for `to`, encrypted end to end
 * (X25519 static-static + ephemeral-static, HKDF-SHA256, AES-256-GCM). `round1Digest` is the
 * sender's view of the whole round-1 transcript; a recipient with another view stops there.
 */
export const FrostDkgRound2Schema = z.strictObject({
  ceremonyDigest: hex32,
  round1Digest: hex32,
  from: ParticipantIdSchema,
  to: ParticipantIdSchema,
  ephemeralKey: hex32,
  iv: hex(12),
  ciphertext: hex32,
  tag: hex(16),
});
export type FrostDkgRound2 = z.infer<typeof FrostDkgRound2Schema>;

/** After round 3 each participant says what it computed; all must agree with the transcript. */
export const FrostDkgConfirmSchema = z.strictObject({
  ceremonyDigest: hex32,
  round1Digest: hex32,
  from: ParticipantIdSchema,
  groupPublicKey: hex32,
  commitments: z.array(hex32).min(2).max(FROST_LIMITS.maxParticipants),
  verifyingShares: z
    .array(z.strictObject({ identifier: ParticipantIdSchema, verifyingShare: hex32 }))
    .min(2)
    .max(FROST_LIMITS.maxParticipants),
});
export type FrostDkgConfirm = z.infer<typeof FrostDkgConfirmSchema>;

/** Signing round 1: a participant's public nonce commitments (RFC 9591 5.1). */
export const FrostCommitmentSchema = z.strictObject({ identifier: ParticipantIdSchema, hiding: hex32, binding: hex32 });
export type FrostCommitment = z.infer<typeof FrostCommitmentSchema>;

/**
 * Signing round 2, coordinator to each chosen participant: the commitment list and the exact
 * message's sha256 (the message itself travels with the round; the participant hashes what it
 * reviewed).
 */
export const FrostSignRequestSchema = z.strictObject({
  session,
  groupPublicKey: hex32,
  messageSha256: hex32,
  commitments: z.array(FrostCommitmentSchema).min(2).max(FROST_LIMITS.maxParticipants),
});
export type FrostSignRequest = z.infer<typeof FrostSignRequestSchema>;

/** Signing round 2, participant to coordinator (RFC 9591 5.2). */
export const FrostSignatureShareSchema = z.strictObject({ identifier: ParticipantIdSchema, share: hex32 });
export type FrostSignatureShare = z.infer<typeof FrostSignatureShareSchema>;

// --- participant -> coordinator -----------------------------------------------------------------

export const FROST_CLIENT_MESSAGES = [
  z.strictObject({
    type: z.literal('frost.dkg.round1'),
    ref,
    ceremony: name,
    package: FrostDkgRound1Schema,
    identity: FrostSignedIdentitySchema,
  }),
  z.strictObject({
    type: z.literal('frost.dkg.round2'),
    ref,
    ceremony: name,
    packages: z
      .array(FrostDkgRound2Schema)
      .min(1)
      .max(FROST_LIMITS.maxParticipants - 1),
  }),
  z.strictObject({
    type: z.literal('frost.dkg.confirm'),
    ref,
    ceremony: name,
    confirm: FrostDkgConfirmSchema,
    transcript: FrostTranscriptSignatureSchema,
  }),
  z.strictObject({ type: z.literal('frost.sign.commitment'), ref, session, commitment: FrostCommitmentSchema }),
  z.strictObject({ type: z.literal('frost.sign.share'), ref, session, share: FrostSignatureShareSchema }),
  /** A participant stops: a package that fails a check (naming whom), a nonce it will not reuse. */
  z.strictObject({
    type: z.literal('frost.refuse'),
    ref,
    ceremony: name.optional(),
    session: session.optional(),
    code: z.string().max(64),
    message: z.string().max(2048),
    participants: z.array(ParticipantIdSchema).max(FROST_LIMITS.maxParticipants),
  }),
] as const;
export const FrostClientMessageSchema = z.discriminatedUnion('type', FROST_CLIENT_MESSAGES);
export type FrostClientMessage = z.infer<typeof FrostClientMessageSchema>;

// --- coordinator -> participant -----------------------------------------------------------------

export const FROST_SERVER_MESSAGES = [
  z.strictObject({ type: z.literal('frost.dkg.open'), ceremony: FrostCeremonySchema }),
  /** Every participant's round-1 package (the sender's own included, unchanged) and identity statement. */
  z.strictObject({
    type: z.literal('frost.dkg.round1.all'),
    ceremony: name,
    packages: z.array(FrostDkgRound1Schema).min(2).max(FROST_LIMITS.maxParticipants),
    identities: z.array(FrostSignedIdentitySchema).max(FROST_LIMITS.maxParticipants),
  }),
  /** The round-2 ciphertexts addressed to this participant, relayed unread. */
  z.strictObject({
    type: z.literal('frost.dkg.round2.inbox'),
    ceremony: name,
    packages: z
      .array(FrostDkgRound2Schema)
      .min(1)
      .max(FROST_LIMITS.maxParticipants - 1),
  }),
  /** The group, agreed: every participant's transcript signature over the same transcript. */
  z.strictObject({
    type: z.literal('frost.dkg.done'),
    ceremony: name,
    group: FrostGroupSchema,
    transcripts: z.array(FrostTranscriptSignatureSchema).max(FROST_LIMITS.maxParticipants),
  }),
  z.strictObject({
    type: z.literal('frost.dkg.failed'),
    ceremony: name,
    code: z.string().max(64),
    message: z.string().max(2048),
    participants: z.array(ParticipantIdSchema).max(FROST_LIMITS.maxParticipants),
  }),
  z.strictObject({ type: z.literal('frost.sign.commit'), session, groupPublicKey: hex32 }),
  z.strictObject({ type: z.literal('frost.sign.request'), request: FrostSignRequestSchema }),
  /** The attempt is over (someone dropped out, or a share was bad): discard its commitment. */
  z.strictObject({
    type: z.literal('frost.sign.abort'),
    session,
    reason: z.string().max(2048),
    participants: z.array(ParticipantIdSchema).max(FROST_LIMITS.maxParticipants),
  }),
] as const;
export const FrostServerMessageSchema = z.discriminatedUnion('type', FROST_SERVER_MESSAGES);
export type FrostServerMessage = z.infer<typeof FrostServerMessageSchema>;
