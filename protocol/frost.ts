/**
 * FROST(Ed25519, SHA-512) threshold keys (RFC 9591): the ceremony around @noble/curves'
 * `ed25519_FROST` (the same ciphersuite, built here so that each element's prime-order check runs
 * once per encoding: docs/adr/0006), which does all the group mathematics. Here: who takes part
 * and under which identifiers, end-to-end encryption of the DKG round-2 shares between enrolled X25519 identities,
 * the checks that name the participant at fault, agreement on the group key, the two signing
 * rounds with per-share verification, and a `Signer` whose key is the group key, so a FROST group
 * can be a TUF/Uptane role key or a certificate authority. Everything is a pure function over the
 * message records of frost-wire.ts, except `runSigningRound`, which drives injected participants.
 * Durable nonce handling (one use, even across crashes) is the participant's side:
 * signer-client/frost-store.ts.
 */
import crypto, { type KeyObject } from 'node:crypto';
import { ed25519, ed25519_FROST } from '@noble/curves/ed25519.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { hexToBytes } from '@noble/hashes/utils.js';
import { z } from 'zod';
import {
  createFROST,
  type DKG_Round1,
  type DKG_Secret,
  type FrostPublic,
  type NonceCommitments,
} from '@noble/curves/abstract/frost.js';
import { canonicalize } from './canonical.js';
import { QuorumError, type Codes } from './errors.js';
import { ed25519FromRaw, sha256hex, verifySignature, type PublicKey } from './keys.js';
import type { Signer } from './metadata/build.js';
import {
  FROST_LIMITS,
  FrostCeremonySchema,
  FrostSignedIdentitySchema,
  FrostTranscriptSignatureSchema,
  FrostCommitmentSchema,
  FrostDkgConfirmSchema,
  FrostDkgRound1Schema,
  FrostDkgRound2Schema,
  FrostGroupSchema,
  FrostSignatureShareSchema,
  FrostSignRequestSchema,
  type FrostCeremony,
  type FrostCommitment,
  type FrostIdentityStatement,
  type FrostPurpose,
  type FrostSignedIdentity,
  type FrostTranscriptSignature,
  type FrostDkgConfirm,
  type FrostDkgRound1,
  type FrostDkgRound2,
  type FrostGroup,
  type FrostSignatureShare,
  type FrostSignRequest,
} from './frost-wire.js';

export type {
  FrostCeremony,
  FrostCommitment,
  FrostIdentityStatement,
  FrostPurpose,
  FrostSignedIdentity,
  FrostTranscriptSignature,
  FrostDkgConfirm,
  FrostDkgRound1,
  FrostDkgRound2,
  FrostGroup,
  FrostSignatureShare,
  FrostSignRequest,
};

// --- the prime-order check, once per encoding ------------------------------------------------------

/**
 * RFC 9591 3.1 DeserializeElement rejects every element outside the prime-order subgroup; noble
 * checks that with `isTorsionFree()`, a full variable-time multiplication by L (~2.5 ms). One
 * participant's commitment is decoded many times within a process: by our checks, then again by
 * noble's own at each step (`validatePublicPoint`, then `ed25519_FROST`'s `validatePoint` hook on
 * the same point), and across the DKG rounds and the signing round's per-share verification. So
 * the check's answer is remembered, per exact encoding, within the process.
 *
 * Why that cannot accept an element the check would refuse (docs/adr/0006-frost-prime-order-check-memo.md):
 * - The key is the exact bytes decoded (and the zip215 flag), and decoding is a pure function of
 *   them: the same bytes always give the same point, whose subgroup membership never changes. An
 *   answer is stored only for a point `DecodedPoint.fromBytes` itself decoded from those bytes,
 *   computed by noble's own `isTorsionFree` on that very point, false answers included.
 * - Points are frozen (noble freezes every point in its constructor) and the key is attached to
 *   the object at decoding, in a WeakMap only this module writes: a point built any other way
 *   (arithmetic, `fromAffine`, the base class) has no key and is always computed afresh.
 * - Every other check still runs on every decode: canonical encoding and the curve equation
 *   (fromBytes, assertValidity), the identity (is0). Only the multiplication is not repeated.
 * - The memo lives in this process's memory only and is bounded (oldest entries go first), so a
 *   peer that sends many distinct points can at worst make later checks compute again.
 */
const TORSION_MEMO_MAX = 4096;
const BASE_WINDOW = 4;
const torsionFreeByEncoding = new Map<string, boolean>();
const decodedFrom = new WeakMap<object, string>();

class DecodedPoint extends ed25519.Point {
  static override fromBytes(encoded: Uint8Array, zip215 = false): DecodedPoint {
    const p = ed25519.Point.fromBytes(encoded, zip215);
    const d = new DecodedPoint(p.X, p.Y, p.Z, p.T);
    decodedFrom.set(d, `${zip215 ? 'zip215' : 'strict'}:${Buffer.from(encoded).toString('hex')}`);
    return d;
  }
  static override fromHex(h: string, zip215 = false): DecodedPoint {
    return DecodedPoint.fromBytes(hexToBytes(h), zip215); // as noble's fromHex
  }
  override isTorsionFree(): boolean {
    const key = decodedFrom.get(this);
    if (key === undefined) return super.isTorsionFree();
    let free = torsionFreeByEncoding.get(key);
    if (free === undefined) {
      free = super.isTorsionFree();
      if (torsionFreeByEncoding.size >= TORSION_MEMO_MAX)
        torsionFreeByEncoding.delete(torsionFreeByEncoding.keys().next().value!);
      torsionFreeByEncoding.set(key, free);
    }
    return free;
  }
}

/**
 * Smaller tables for multiples of the base point: noble's ed25519 builds width-8 tables (one for
 * constant-time multiplication, one for public scalars, ~10,000 point additions) on first use,
 * ~90 ms of CPU, which a command that multiplies a dozen times never earns back. Width 4 builds
 * them in a tenth of that; a multiplication then costs ~0.05 ms more (docs/benchmarks.md). The
 * constant-time path stays constant-time at any width. Only FROST uses noble in this code.
 */
ed25519.Point.BASE.precompute(BASE_WINDOW);

/**
 * noble's point constructor as FROST uses it, except that it decodes to DecodedPoints. Not
 * DecodedPoint itself: noble's multi-scalar multiplication wants every point, the sums and
 * products it computes included, to be an instance of the constructor it was given.
 */
const Points = new Proxy(function EdwardsPoints() {} as unknown as typeof ed25519.Point, {
  get: (_, key) =>
    key === 'fromBytes' || key === 'fromHex'
      ? DecodedPoint[key]
      : key === 'prototype'
        ? ed25519.Point.prototype
        : Reflect.get(ed25519.Point, key),
});

/**
 * FROST(Ed25519, SHA-512): exactly noble's `ed25519_FROST` (the same options, in
 * @noble/curves/ed25519.js), over points that remember their prime-order check. The test
 * "our FROST instance is noble's ed25519_FROST" holds the two against each other.
 */
const F: typeof ed25519_FROST = createFROST({
  name: 'FROST-ED25519-SHA512-v1',
  Point: Points,
  validatePoint: (p) => {
    p.assertValidity();
    if (!p.isTorsionFree()) throw new Error('bad point: not torsion-free');
  },
  hash: sha512,
  H2: '',
});

export type FrostCode = Codes<
  | 'FROST_CEREMONY_INVALID' // roster or threshold unusable (duplicates, t > n, bad keys)
  | 'FROST_STATE' // a step called out of order ("cannot run round 2 of a finished DKG")
  | 'FROST_IDENTITY_MISMATCH' // the identity key used is not the one enrolled for this participant
  | 'FROST_PACKAGE_INVALID' // a message of the wrong shape, ceremony, sender or recipient
  | 'FROST_PROOF_INVALID' // a round-1 proof of knowledge (or commitment) does not verify
  | 'FROST_TRANSCRIPT_MISMATCH' // participants saw different round-1 packages (or signed different transcripts)
  | 'FROST_DECRYPT_FAILED' // a round-2 ciphertext fails authentication (tampered, or not for us)
  | 'FROST_SHARE_INVALID' // a decrypted round-2 share does not match its sender's commitment
  | 'FROST_GROUP_MISMATCH' // a participant computed another group key or verifying share
  | 'FROST_MESSAGE_MISMATCH' // the message is not the one the request names
  | 'FROST_COMMITMENT_MISMATCH' // the request's commitment is not this participant's
  | 'FROST_COMMITMENT_INVALID' // a signing commitment that is not a valid element (identity, small order, non-canonical)
  | 'FROST_NONCE_UNKNOWN' // no stored nonce for that commitment
  | 'FROST_NONCE_USED' // the commitment's nonce was already used (or discarded)
  | 'FROST_BAD_SIGNATURE_SHARE' // a signature share fails RFC 9591 5.4 verification
  | 'FROST_NOT_ENOUGH_SIGNERS' // fewer than t participants are left to sign
  | 'FROST_SIGNATURE_INVALID' // the aggregate does not verify as Ed25519 (never released)
  | 'FROST_IDENTITY_UNVERIFIED' // an identity statement missing, not this ceremony's, or not signed by the participant's own key
  | 'FROST_NOT_PINNED' // a participant whose signing key this participant has not pinned (quorum-signer frost pin-participants)
  | 'FROST_PIN_INVALID' // a pin that cannot be kept: not a keyholder name, or one key under two names
  | 'FROST_TRANSCRIPT_UNSIGNED' // a participant's transcript signature is missing or does not verify under its key
  | 'FROST_GROUP_UNAUTHENTICATED' // a group agreed without every participant's identity statement and transcript signature
  | 'FROST_STORE_INVALID' // a share, identity or nonce file is unreadable or altered
  | 'FROST_PASSPHRASE' // wrong passphrase (or the file was modified)
>;

/** A FROST failure; `participants` are the identifiers at fault, when one can be named. */
export class FrostError extends QuorumError<FrostCode> {
  readonly participants: number[];
  constructor(code: FrostCode, message: string, participants: number[] = [], options?: { cause?: unknown }) {
    super(code, message, options);
    this.participants = participants;
  }
}

// --- encodings ---------------------------------------------------------------------------------

const hexOf = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
const bytes = (h: string): Buffer => Buffer.from(h, 'hex');
/** noble's identifier: the scalar n, serialised (little-endian hex). */
const nobleId = (n: number): string => F.Identifier.fromNumber(n);
const digestOf = (v: unknown): string => sha256hex(canonicalize(v, 'tuf'));

interface Roster {
  readonly threshold: number;
  readonly participants: readonly { identifier: number; name: string }[];
}

/** "participant 3 (carol)" */
function who(r: Roster, id: number): string {
  const p = r.participants.find((x) => x.identifier === id);
  return p ? `participant ${id} (${p.name})` : `participant ${id}`;
}
const whoAll = (r: Roster, ids: number[]) => ids.map((i) => who(r, i)).join(', ');

function parse<T>(
  schema: z.ZodType<T>,
  v: unknown,
  what: string,
  culprit: number[] = [],
  code: FrostCode = 'FROST_PACKAGE_INVALID',
): T {
  const r = schema.safeParse(v);
  if (!r.success) throw new FrostError(code, `${what} is malformed: ${r.error.message}`, culprit);
  return r.data;
}

/** A valid prime-order, non-identity Ed25519 point (RFC 9591 3.1 DeserializeElement). */
function point(h: string, what: string, culprit: number[] = []) {
  try {
    const p = DecodedPoint.fromHex(h);
    p.assertValidity();
    if (p.is0() || !p.isTorsionFree()) throw new Error('identity or not in the prime-order subgroup');
    return p;
  } catch (e) {
    throw new FrostError(
      'FROST_PACKAGE_INVALID',
      `${what} is not a valid group element: ${(e as Error).message}`,
      culprit,
    );
  }
}

const L = ed25519.Point.CURVE().n;

/** RFC 9591 3.1 DeserializeScalar: 32 bytes little-endian, below the group order L (else null). */
function scalar(h: string): bigint | null {
  if (!/^[0-9a-f]{64}$/.test(h)) return null;
  const v = BigInt(`0x${Buffer.from(h, 'hex').reverse().toString('hex')}`);
  return v < L ? v : null;
}

/** VSS evaluation (RFC 9591 C.2): sum_j commitment[j] * id^j, the verifying share of `id`. */
function evaluateVss(commitment: ReturnType<typeof point>[], id: number): string {
  const Fn = F.utils.Fn;
  let acc = ed25519.Point.ZERO;
  let power = Fn.ONE;
  for (const c of commitment) {
    acc = acc.add(c.multiplyUnsafe(power)); // public data: variable time is fine
    power = Fn.mul(power, BigInt(id));
  }
  return acc.toHex();
}

// --- ceremony and group records -----------------------------------------------------------------

/** Check a ceremony definition; returns its digest, which every later message carries. */
export function checkCeremony(ceremony: FrostCeremony): string {
  const c = parse(FrostCeremonySchema, ceremony, 'the ceremony', [], 'FROST_CEREMONY_INVALID');
  const n = c.participants.length;
  if (c.threshold > n)
    throw new FrostError('FROST_CEREMONY_INVALID', `threshold ${c.threshold} is larger than the ${n} participants`);
  const names = new Set<string>();
  const keys = new Set<string>();
  let last = 0;
  for (const p of c.participants) {
    if (p.identifier <= last)
      throw new FrostError('FROST_CEREMONY_INVALID', 'participants must be listed by strictly increasing identifier');
    last = p.identifier;
    if (names.has(p.name)) throw new FrostError('FROST_CEREMONY_INVALID', `participant name ${p.name} appears twice`);
    if (keys.has(p.identityKey))
      throw new FrostError(
        'FROST_CEREMONY_INVALID',
        `${who(c, p.identifier)} shares an identity key with another participant`,
      );
    names.add(p.name);
    keys.add(p.identityKey);
    x25519Public(p.identityKey, who(c, p.identifier));
  }
  return digestOf(c);
}

/** A ceremony over `names` in order, identifiers 1..n, for `purpose` (every ceremony opened today has one). */
export function newCeremony(
  id: string,
  threshold: number,
  members: { name: string; identityKey: string }[],
  purpose?: FrostPurpose,
): FrostCeremony {
  const ceremony: FrostCeremony = {
    id,
    threshold,
    participants: members.map((m, i) => ({ identifier: i + 1, name: m.name, identityKey: m.identityKey })),
    ...(purpose ? { purpose } : {}),
  };
  checkCeremony(ceremony);
  return ceremony;
}

// --- identity statements and the signed transcript -----------------------------------------------

export const FROST_IDENTITY_DOMAIN = 'UPTANE-QUORUM-FROST-IDENTITY-V1\n';
export const FROST_TRANSCRIPT_DOMAIN = 'UPTANE-QUORUM-FROST-TRANSCRIPT-V1\n';

/**
 * The statement participant `name` signs for this ceremony: its identity key, bound to the ceremony's id, purpose,
 * threshold and roster.
 */
export function identityStatement(ceremony: FrostCeremony, name: string): FrostIdentityStatement {
  if (!ceremony.purpose)
    throw new FrostError(
      'FROST_CEREMONY_INVALID',
      `ceremony ${ceremony.id} states no purpose: it was opened by a coordinator from before identity ` +
        'statements; ask the release coordinator to cancel it and open it again',
    );
  const p = ceremony.participants.find((x) => x.name === name);
  if (!p) throw new FrostError('FROST_CEREMONY_INVALID', `${name} is not a participant of ceremony ${ceremony.id}`);
  return {
    ceremony: ceremony.id,
    purpose: ceremony.purpose,
    threshold: ceremony.threshold,
    participants: ceremony.participants.map((x) => ({ identifier: x.identifier, name: x.name })),
    keyholder: p.name,
    identifier: p.identifier,
    identityKey: p.identityKey,
  };
}

/** The bytes an identity statement's signature is over. */
export const identityMessage = (s: FrostIdentityStatement): Buffer =>
  Buffer.concat([Buffer.from(FROST_IDENTITY_DOMAIN), canonicalize(s, 'tuf')]);

/** This participant's statement, signed with its enrolled key (a key file or a token, through the Signer seam). */
export async function signIdentity(
  ceremony: FrostCeremony,
  name: string,
  signer: Signer,
): Promise<FrostSignedIdentity> {
  const statement = identityStatement(ceremony, name);
  return { statement, signature: (await signer.sign(identityMessage(statement))).toString('base64') };
}

/** Is `signed` exactly the statement this ceremony gives participant `name`, signed by `key`? */
export function verifyIdentity(
  ceremony: FrostCeremony,
  name: string,
  signed: FrostSignedIdentity,
  key: PublicKey,
): boolean {
  const expected = identityStatement(ceremony, name);
  return (
    digestOf(signed.statement) === digestOf(expected) &&
    verifySignature(key, identityMessage(expected), Buffer.from(signed.signature, 'base64'))
  );
}

/**
 * Every participant's signed identity statement, checked: exactly one for each, each exactly the
 * statement this ceremony gives that participant (so the identity key it binds is the roster's),
 * each verifying under `keyOf(name)`: keys this participant pinned itself, or, on the coordinator,
 * the enrolled keys. Returns them by identifier. FROST_NOT_PINNED names participants without a key,
 * FROST_IDENTITY_UNVERIFIED those whose statement is missing, not this ceremony's or not theirs.
 */
export function checkIdentities(
  ceremony: FrostCeremony,
  identities: unknown[],
  keyOf: (name: string) => PublicKey | undefined,
): FrostSignedIdentity[] {
  checkCeremony(ceremony);
  const byId = new Map<number, FrostSignedIdentity>();
  const bad = new Set<number>();
  for (const raw of identities) {
    const r = FrostSignedIdentitySchema.safeParse(raw);
    const id = r.success ? r.data.statement.identifier : undefined;
    if (!r.success || id === undefined || !ceremony.participants.some((p) => p.identifier === id))
      throw new FrostError(
        'FROST_IDENTITY_UNVERIFIED',
        `an identity statement that is malformed or from nobody in ceremony ${ceremony.id}`,
      );
    if (byId.has(id)) bad.add(id);
    byId.set(id, r.data);
  }
  const unpinned: number[] = [];
  for (const p of ceremony.participants) {
    const signed = byId.get(p.identifier);
    const key = keyOf(p.name);
    if (!key) unpinned.push(p.identifier);
    else if (!signed || !verifyIdentity(ceremony, p.name, signed, key)) bad.add(p.identifier);
  }
  if (unpinned.length)
    throw new FrostError(
      'FROST_NOT_PINNED',
      `no pinned signing key for ${whoAll(ceremony, unpinned)}: pin the keys they enrolled with (quorum-signer ` +
        'frost pin-participants --participant NAME=KEY.pem), obtained from them, not from the coordinator',
      unpinned,
    );
  if (bad.size) {
    const ids = [...bad].sort((a, b) => a - b);
    throw new FrostError(
      'FROST_IDENTITY_UNVERIFIED',
      `the identity statement of ${whoAll(ceremony, ids)} is missing, is not the one ceremony ${ceremony.id} ` +
        'gives them (another identity key, purpose, threshold or roster), or is not signed by their pinned key: ' +
        'the identity keys may not be theirs; nothing was encrypted to them',
      ids,
    );
  }
  return ceremony.participants.map((p) => byId.get(p.identifier)!);
}

/**
 * The digest of a DKG transcript: the ceremony (id, threshold, roster with identity keys,
 * purpose), every identity statement with its signature, every round-1 package, in identifier order.
 */
export function transcriptDigest(
  ceremony: FrostCeremony,
  identities: FrostSignedIdentity[],
  round1All: FrostDkgRound1[],
): string {
  const ceremonyDigest = checkCeremony(ceremony);
  const round1 = checkTranscript(ceremony, ceremonyDigest, round1All);
  const ids = [...identities].sort((a, b) => a.statement.identifier - b.statement.identifier);
  return digestOf({ format: 'uptane-quorum-frost-transcript-v1', ceremony, identities: ids, round1 });
}

/** The bytes a transcript signature is over. */
export const transcriptMessage = (ceremony: string, identifier: number, transcript: string): Buffer =>
  Buffer.concat([Buffer.from(FROST_TRANSCRIPT_DOMAIN), canonicalize({ ceremony, identifier, transcript }, 'tuf')]);

export async function signTranscript(
  ceremony: FrostCeremony,
  identifier: number,
  transcript: string,
  signer: Signer,
): Promise<FrostTranscriptSignature> {
  return {
    identifier,
    transcript,
    signature: (await signer.sign(transcriptMessage(ceremony.id, identifier, transcript))).toString('base64'),
  };
}

/**
 * Every participant signed transcript `digest`: one signature each, over this digest
 * (FROST_TRANSCRIPT_MISMATCH names who signed another), verifying under `keyOf(name)`
 * (FROST_TRANSCRIPT_UNSIGNED names who did not sign, or whose signature fails).
 */
export function checkTranscripts(
  ceremony: FrostCeremony,
  digest: string,
  transcripts: unknown[],
  keyOf: (name: string) => PublicKey | undefined,
): FrostTranscriptSignature[] {
  const byId = new Map<number, FrostTranscriptSignature>();
  for (const raw of transcripts) {
    const r = FrostTranscriptSignatureSchema.safeParse(raw);
    if (!r.success || !ceremony.participants.some((p) => p.identifier === r.data.identifier))
      throw new FrostError(
        'FROST_TRANSCRIPT_UNSIGNED',
        `a transcript signature that is malformed or from nobody in ceremony ${ceremony.id}`,
      );
    if (byId.has(r.data.identifier))
      throw new FrostError(
        'FROST_TRANSCRIPT_UNSIGNED',
        `two transcript signatures from ${who(ceremony, r.data.identifier)}`,
        [r.data.identifier],
      );
    byId.set(r.data.identifier, r.data);
  }
  const other = [...byId.values()].filter((t) => t.transcript !== digest).map((t) => t.identifier);
  if (other.length)
    throw new FrostError(
      'FROST_TRANSCRIPT_MISMATCH',
      `${whoAll(ceremony, other)} signed another DKG transcript than ${digest} (they saw other parameters, ` +
        'identity statements or round-1 packages)',
      other,
    );
  const unsigned = ceremony.participants
    .filter((p) => {
      const t = byId.get(p.identifier);
      const key = keyOf(p.name);
      return (
        !t ||
        !key ||
        !verifySignature(key, transcriptMessage(ceremony.id, p.identifier, digest), Buffer.from(t.signature, 'base64'))
      );
    })
    .map((p) => p.identifier);
  if (unsigned.length)
    throw new FrostError(
      'FROST_TRANSCRIPT_UNSIGNED',
      `no valid signature of transcript ${digest} by ${whoAll(ceremony, unsigned)} (under the key pinned or ` +
        'enrolled for them)',
      unsigned,
    );
  return ceremony.participants.map((p) => byId.get(p.identifier)!);
}

/** Check a group record as stored or received: shape, and every verifying share against the commitment. */
export function checkGroup(group: FrostGroup): FrostGroup {
  const g = parse(FrostGroupSchema, group, 'the group record');
  if (g.threshold > g.participants.length)
    throw new FrostError(
      'FROST_GROUP_MISMATCH',
      `threshold ${g.threshold} is larger than the ${g.participants.length} participants`,
    );
  if (g.commitments.length !== g.threshold)
    throw new FrostError(
      'FROST_GROUP_MISMATCH',
      `a ${g.threshold}-of-n group has ${g.threshold} commitments, not ${g.commitments.length}`,
    );
  if (g.commitments[0] !== g.groupPublicKey)
    throw new FrostError('FROST_GROUP_MISMATCH', 'the group public key is not the first commitment');
  const commitment = g.commitments.map((c, i) => point(c, `group commitment ${i}`));
  let last = 0;
  for (const p of g.participants) {
    if (p.identifier <= last)
      throw new FrostError('FROST_GROUP_MISMATCH', 'participants must be listed by strictly increasing identifier');
    last = p.identifier;
    if (evaluateVss(commitment, p.identifier) !== p.verifyingShare) {
      throw new FrostError(
        'FROST_GROUP_MISMATCH',
        `the verifying share of ${who(g, p.identifier)} does not follow from the group commitment`,
        [p.identifier],
      );
    }
  }
  return g;
}

/** The group key as an ordinary Ed25519 public key (a TUF/ota role key, a certificate key). */
export function groupPublicKey(group: FrostGroup): PublicKey {
  return ed25519FromRaw(bytes(group.groupPublicKey));
}

/** noble's public package for a group. */
function noblePublic(group: FrostGroup): FrostPublic {
  return {
    signers: { min: group.threshold, max: group.participants.length },
    commitments: group.commitments.map(bytes),
    verifyingShares: Object.fromEntries(
      group.participants.map((p) => [nobleId(p.identifier), bytes(p.verifyingShare)]),
    ),
  } as FrostPublic;
}

/**
 * The group that a round-1 transcript determines: the summed VSS commitments and every
 * participant's verifying share. Public data only, so the coordinator computes it too and holds
 * each participant's confirmation against it.
 */
export function groupFromTranscript(ceremony: FrostCeremony, round1All: FrostDkgRound1[]): FrostGroup {
  const ceremonyDigest = checkCeremony(ceremony);
  const all = checkTranscript(ceremony, ceremonyDigest, round1All);
  let sum = Array.from({ length: ceremony.threshold }, () => ed25519.Point.ZERO);
  for (const r of all) {
    sum = sum.map((acc, k) =>
      acc.add(point(r.commitment[k]!, `commitment ${k} of ${who(ceremony, r.from)}`, [r.from])),
    );
  }
  const commitments = sum.map((p) => p.toHex());
  const merged = commitments.map((c, i) => point(c, `summed commitment ${i}`));
  return {
    ceremony: ceremony.id,
    ceremonyDigest,
    threshold: ceremony.threshold,
    groupPublicKey: commitments[0]!,
    commitments,
    participants: ceremony.participants.map((p) => ({ ...p, verifyingShare: evaluateVss(merged, p.identifier) })),
  };
}

/** One round-1 package per participant, all for this ceremony, sorted by sender. */
function checkTranscript(
  ceremony: FrostCeremony,
  ceremonyDigest: string,
  round1All: FrostDkgRound1[],
): FrostDkgRound1[] {
  const byId = new Map<number, FrostDkgRound1>();
  for (const raw of round1All) {
    const from = typeof (raw as { from?: unknown })?.from === 'number' ? [(raw as { from: number }).from] : [];
    const r = parse(FrostDkgRound1Schema, raw, 'a round-1 package', from);
    if (!ceremony.participants.some((p) => p.identifier === r.from))
      throw new FrostError(
        'FROST_PACKAGE_INVALID',
        `a round-1 package from ${r.from}, who is not in ceremony ${ceremony.id}`,
        [r.from],
      );
    if (r.ceremonyDigest !== ceremonyDigest)
      throw new FrostError(
        'FROST_PACKAGE_INVALID',
        `the round-1 package of ${who(ceremony, r.from)} is for another ceremony (digest ` +
          `${r.ceremonyDigest.slice(0, 12)})`,
        [r.from],
      );
    if (r.commitment.length !== ceremony.threshold)
      throw new FrostError(
        'FROST_PACKAGE_INVALID',
        `the round-1 package of ${who(ceremony, r.from)} commits to ${r.commitment.length} coefficients, not ` +
          `${ceremony.threshold}`,
        [r.from],
      );
    if (byId.has(r.from))
      throw new FrostError('FROST_PACKAGE_INVALID', `two round-1 packages from ${who(ceremony, r.from)}`, [r.from]);
    byId.set(r.from, r);
  }
  const missing = ceremony.participants.filter((p) => !byId.has(p.identifier)).map((p) => p.identifier);
  if (missing.length)
    throw new FrostError('FROST_PACKAGE_INVALID', `no round-1 package from ${whoAll(ceremony, missing)}`, missing);
  return ceremony.participants.map((p) => byId.get(p.identifier)!);
}

// --- identities and round-2 encryption ----------------------------------------------------------

const X25519_SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');

/** A participant's long-term X25519 identity: the public half is enrolled; the private half never leaves. */
export interface IdentityKey {
  /** Raw X25519 public key, hex. */
  readonly publicKey: string;
  readonly privateKey: KeyObject;
}

export function generateIdentityKey(): IdentityKey {
  return identityKeyFrom(crypto.generateKeyPairSync('x25519').privateKey);
}

export function identityKeyFrom(privateKey: KeyObject): IdentityKey {
  if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'x25519')
    throw new FrostError('FROST_IDENTITY_MISMATCH', 'an identity key is an X25519 private key');
  const spki = crypto.createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  return { publicKey: spki.subarray(X25519_SPKI_PREFIX.length).toString('hex'), privateKey };
}

function x25519Public(h: string, whose: string): KeyObject {
  try {
    return crypto.createPublicKey({ key: Buffer.concat([X25519_SPKI_PREFIX, bytes(h)]), format: 'der', type: 'spki' });
  } catch (e) {
    throw new FrostError(
      'FROST_CEREMONY_INVALID',
      `the identity key of ${whose} is not an X25519 public key: ${(e as Error).message}`,
    );
  }
}

/** X25519; an all-zero result (a low-order peer key) is refused, as RFC 7748 6.1 allows. */
function dh(privateKey: KeyObject, publicHex: string, whose: string, culprit: number[]): Buffer {
  let s: Buffer;
  try {
    s = crypto.diffieHellman({ privateKey, publicKey: x25519Public(publicHex, whose) });
  } catch (e) {
    throw new FrostError(
      'FROST_DECRYPT_FAILED',
      `key agreement with ${whose} failed: ${(e as Error).message}`,
      culprit,
    );
  }
  if (s.every((b) => b === 0))
    throw new FrostError('FROST_DECRYPT_FAILED', `the key of ${whose} is a low-order point`, culprit);
  return s;
}

const ROUND2_DOMAIN = 'uptane-quorum/frost-dkg-round2/v1';

function rosterEntry(ceremony: FrostCeremony, id: number) {
  const p = ceremony.participants.find((x) => x.identifier === id);
  if (!p) throw new FrostError('FROST_PACKAGE_INVALID', `participant ${id} is not in ceremony ${ceremony.id}`, [id]);
  return p;
}

/**
 * The AES-256-GCM key for one share from `from` to `to`. Input keying material: the ephemeral
 * key with the recipient's identity (forward secrecy for the sender) and both identities (only
 * the enrolled sender could have made it). The HKDF info and the AEAD's additional data bind the
 * ceremony, sender, recipient and both identities.
 */
function round2Key(
  ceremony: FrostCeremony,
  ceremonyDigest: string,
  from: number,
  to: number,
  ephemeralKey: string,
  ikm: Buffer,
): Buffer {
  const info = Buffer.from(
    JSON.stringify([
      ROUND2_DOMAIN,
      ceremony.id,
      ceremonyDigest,
      from,
      to,
      rosterEntry(ceremony, from).identityKey,
      rosterEntry(ceremony, to).identityKey,
      ephemeralKey,
    ]),
  );
  return Buffer.from(crypto.hkdfSync('sha256', ikm, bytes(ceremonyDigest), info, 32));
}

function round2Aad(
  p: Pick<FrostDkgRound2, 'ceremonyDigest' | 'round1Digest' | 'from' | 'to' | 'ephemeralKey'>,
  ceremonyId: string,
): Buffer {
  return Buffer.from(
    JSON.stringify([ROUND2_DOMAIN, ceremonyId, p.ceremonyDigest, p.round1Digest, p.from, p.to, p.ephemeralKey]),
  );
}

/** Encrypt one round-2 share for its recipient. `sender` must be the enrolled identity of `from`. */
export function sealShare(
  ceremony: FrostCeremony,
  p: { round1Digest: string; from: number; to: number; share: Uint8Array },
  sender: IdentityKey,
): FrostDkgRound2 {
  const ceremonyDigest = checkCeremony(ceremony);
  if (rosterEntry(ceremony, p.from).identityKey !== sender.publicKey)
    throw new FrostError(
      'FROST_IDENTITY_MISMATCH',
      `this identity key is not the one enrolled for ${who(ceremony, p.from)}`,
      [p.from],
    );
  const recipient = rosterEntry(ceremony, p.to).identityKey;
  const eph = generateIdentityKey();
  const ikm = Buffer.concat([
    dh(eph.privateKey, recipient, who(ceremony, p.to), [p.to]),
    dh(sender.privateKey, recipient, who(ceremony, p.to), [p.to]),
  ]);
  const header = { ceremonyDigest, round1Digest: p.round1Digest, from: p.from, to: p.to, ephemeralKey: eph.publicKey };
  const iv = crypto.randomBytes(12);
  const c = crypto.createCipheriv(
    'aes-256-gcm',
    round2Key(ceremony, ceremonyDigest, p.from, p.to, eph.publicKey, ikm),
    iv,
  );
  c.setAAD(round2Aad(header, ceremony.id));
  const ciphertext = Buffer.concat([c.update(p.share), c.final()]);
  return {
    ...header,
    iv: iv.toString('hex'),
    ciphertext: ciphertext.toString('hex'),
    tag: c.getAuthTag().toString('hex'),
  };
}

/** Decrypt a round-2 share addressed to `recipient`; any tampering fails naming the sender. */
export function openShare(ceremony: FrostCeremony, pkg: FrostDkgRound2, recipient: IdentityKey): Buffer {
  const ceremonyDigest = checkCeremony(ceremony);
  const from = typeof (pkg as { from?: unknown })?.from === 'number' ? [(pkg as { from: number }).from] : [];
  const p = parse(FrostDkgRound2Schema, pkg, 'a round-2 package', from);
  rosterEntry(ceremony, p.from);
  if (p.ceremonyDigest !== ceremonyDigest)
    throw new FrostError(
      'FROST_PACKAGE_INVALID',
      `the round-2 package from ${who(ceremony, p.from)} is for another ceremony`,
      [p.from],
    );
  if (rosterEntry(ceremony, p.to).identityKey !== recipient.publicKey) {
    // Misdelivered (or opened with the wrong key): nobody's package is at fault.
    throw new FrostError(
      'FROST_IDENTITY_MISMATCH',
      `the round-2 package from ${who(ceremony, p.from)} is addressed to ${who(ceremony, p.to)}, whose ` +
        'identity key this is not',
    );
  }
  const ikm = Buffer.concat([
    dh(recipient.privateKey, p.ephemeralKey, `the ephemeral key of ${who(ceremony, p.from)}`, [p.from]),
    dh(recipient.privateKey, rosterEntry(ceremony, p.from).identityKey, who(ceremony, p.from), [p.from]),
  ]);
  try {
    const d = crypto.createDecipheriv(
      'aes-256-gcm',
      round2Key(ceremony, ceremonyDigest, p.from, p.to, p.ephemeralKey, ikm),
      bytes(p.iv),
    );
    d.setAAD(round2Aad(p, ceremony.id));
    d.setAuthTag(bytes(p.tag));
    return Buffer.concat([d.update(bytes(p.ciphertext)), d.final()]);
  } catch (e) {
    throw new FrostError(
      'FROST_DECRYPT_FAILED',
      `the round-2 share from ${who(ceremony, p.from)} to ${who(ceremony, p.to)} fails authentication: it was ` +
        `altered in transit, or not encrypted by ${who(ceremony, p.from)} for this recipient and ceremony`,
      [p.from],
      { cause: e },
    );
  }
}

// --- DKG, participant side ----------------------------------------------------------------------

export type DkgStep = 'round1' | 'round2' | 'finished' | 'failed';

/** A participant's DKG in progress. Holds the secret polynomial in memory until round 3. */
export interface DkgState {
  readonly ceremony: FrostCeremony;
  readonly ceremonyDigest: string;
  readonly self: number;
  /** This participant's own round-1 broadcast, as sent. */
  readonly round1: FrostDkgRound1;
  step: DkgStep;
  round1Digest?: string;
  round1All?: FrostDkgRound1[];
  /** noble's mutable DKG state. */
  readonly secret: DKG_Secret;
}

export interface DkgOutcome {
  /** The secret share: store it encrypted (signer-client/frost-store.ts), then drop it. */
  share: FrostShare;
  group: FrostGroup;
  /** Broadcast this; everyone checks it with `dkgAgree`. */
  confirm: FrostDkgConfirm;
}

/** A participant's signing share and the group it belongs to. */
export interface FrostShare {
  readonly group: FrostGroup;
  readonly identifier: number;
  /** Secret scalar, 32 bytes. */
  readonly signingShare: Buffer;
}

function step(state: DkgState, expected: DkgStep, doing: string): void {
  if (state.step !== expected)
    throw new FrostError(
      'FROST_STATE',
      `cannot ${doing}: the DKG of ${who(state.ceremony, state.self)} is at step ${state.step}, not ${expected}`,
    );
}

function fail(state: DkgState, e: unknown): never {
  state.step = 'failed';
  try {
    F.DKG.clean(state.secret);
  } catch {
    // already cleaned
  }
  throw e;
}

const toNobleRound1 = (r: FrostDkgRound1): DKG_Round1 =>
  ({
    identifier: nobleId(r.from),
    commitment: r.commitment.map(bytes),
    proofOfKnowledge: bytes(r.proofOfKnowledge),
  }) as DKG_Round1;

/** DKG round 1 (RFC 9591 leaves DKG to the application; this is noble's frost-rs-style DKG). */
export function dkgStart(ceremony: FrostCeremony, self: number): { state: DkgState; round1: FrostDkgRound1 } {
  const ceremonyDigest = checkCeremony(ceremony);
  rosterEntry(ceremony, self);
  const signers = { min: ceremony.threshold, max: ceremony.participants.length };
  const r = F.DKG.round1(nobleId(self), signers);
  const round1: FrostDkgRound1 = {
    ceremonyDigest,
    from: self,
    commitment: r.public.commitment.map(hexOf),
    proofOfKnowledge: hexOf(r.public.proofOfKnowledge),
  };
  return { state: { ceremony, ceremonyDigest, self, round1, step: 'round1', secret: r.secret }, round1 };
}

/**
 * A participant's DKG state after round 1, for storing encrypted before its round-1 package leaves,
 * so that a participant that crashes mid-ceremony can resume it (`dkgRestore`) instead of the whole
 * ceremony starting again. It holds the secret polynomial: never store or send it in the clear.
 */
export const DkgSnapshotSchema = z.strictObject({
  format: z.literal('uptane-quorum-dkg-state-v1'),
  ceremony: FrostCeremonySchema,
  self: z.number().int().min(1),
  round1: FrostDkgRound1Schema,
  /** The polynomial's coefficients, scalars as big-endian hex (coefficient 0 is the secret). */
  coefficients: z
    .array(z.string().regex(/^[0-9a-f]{1,64}$/))
    .min(2)
    .max(FROST_LIMITS.maxParticipants),
});
export type DkgSnapshot = z.infer<typeof DkgSnapshotSchema>;

export function dkgSnapshot(state: DkgState): DkgSnapshot {
  step(state, 'round1', 'snapshot the DKG');
  const c = state.secret.coefficients;
  if (!c) throw new FrostError('FROST_STATE', 'the DKG secret was already consumed');
  return {
    format: 'uptane-quorum-dkg-state-v1',
    ceremony: state.ceremony,
    self: state.self,
    round1: state.round1,
    coefficients: c.map((x) => x.toString(16)),
  };
}

/**
 * Rebuild a DKG state at round 1 from a snapshot, after checking it is this ceremony's and that its
 * coefficients are the ones the round-1 commitment commits to. Round 2 then runs as usual: the
 * shares it computes are the same (polynomial evaluations); only their encryption is fresh.
 */
export function dkgRestore(snapshot: unknown): DkgState {
  const snap = parse(DkgSnapshotSchema, snapshot, 'a stored DKG state', [], 'FROST_STORE_INVALID');
  const ceremonyDigest = checkCeremony(snap.ceremony);
  rosterEntry(snap.ceremony, snap.self);
  const { round1 } = snap;
  if (round1.ceremonyDigest !== ceremonyDigest || round1.from !== snap.self)
    throw new FrostError('FROST_STORE_INVALID', 'the stored DKG state is not for this ceremony and participant');
  const coefficients = snap.coefficients.map((h) => BigInt(`0x${h}`));
  if (coefficients.length !== snap.ceremony.threshold || round1.commitment.length !== coefficients.length)
    throw new FrostError(
      'FROST_STORE_INVALID',
      `the stored DKG state has ${coefficients.length} coefficients for a threshold of ${snap.ceremony.threshold}`,
    );
  coefficients.forEach((c, i) => {
    if (c <= 0n || c >= ed25519.Point.CURVE().n || ed25519.Point.BASE.multiply(c).toHex() !== round1.commitment[i])
      throw new FrostError('FROST_STORE_INVALID', 'the stored DKG coefficients do not match the round-1 commitment');
  });
  const secret = {
    identifier: BigInt(snap.self),
    coefficients,
    commitment: round1.commitment.map((h) => new Uint8Array(bytes(h))),
    signers: { min: snap.ceremony.threshold, max: snap.ceremony.participants.length },
    step: 1,
  } as unknown as DKG_Secret;
  return { ceremony: snap.ceremony, ceremonyDigest, self: snap.self, round1, step: 'round1', secret };
}

/**
 * Which round-1 packages noble rejects, one at a time: each suspect is checked beside valid
 * packages made here for the other senders, so noble's own validation names the culprit.
 * Runs only after a failure.
 */
function attributeRound1(state: DkgState, others: FrostDkgRound1[]): number[] {
  const signers = { min: state.ceremony.threshold, max: state.ceremony.participants.length };
  const filler = new Map(others.map((o) => [o.from, F.DKG.round1(nobleId(o.from), signers).public]));
  const bad: number[] = [];
  for (const suspect of others) {
    const trial = F.DKG.round1(nobleId(state.self), signers).secret;
    try {
      F.DKG.round2(
        trial,
        others.map((o) => (o === suspect ? toNobleRound1(o) : filler.get(o.from)!)),
      );
    } catch {
      bad.push(suspect.from);
    } finally {
      F.DKG.clean(trial);
    }
  }
  return bad;
}

/**
 * DKG round 2: check every participant's round-1 package (all n, this participant's own
 * included and unchanged), then encrypt a share of our polynomial for each other participant.
 */
export function dkgRound2(state: DkgState, round1All: FrostDkgRound1[], identity: IdentityKey): FrostDkgRound2[] {
  step(state, 'round1', 'run DKG round 2');
  const { ceremony, self } = state;
  if (rosterEntry(ceremony, self).identityKey !== identity.publicKey)
    throw new FrostError(
      'FROST_IDENTITY_MISMATCH',
      `this identity key is not the one enrolled for ${who(ceremony, self)}`,
      [self],
    );
  try {
    const all = checkTranscript(ceremony, state.ceremonyDigest, round1All);
    const mine = all.find((r) => r.from === self)!;
    if (digestOf(mine) !== digestOf(state.round1))
      throw new FrostError(
        'FROST_TRANSCRIPT_MISMATCH',
        `the round-1 package relayed as ${who(ceremony, self)}'s is not the one it sent`,
        [],
      );
    const others = all.filter((r) => r.from !== self);
    let shares: Record<string, { signingShare: Uint8Array }>;
    try {
      shares = F.DKG.round2(state.secret, others.map(toNobleRound1));
    } catch (e) {
      const bad = attributeRound1(state, others);
      throw new FrostError(
        'FROST_PROOF_INVALID',
        bad.length
          ? `the round-1 package of ${whoAll(ceremony, bad)} does not verify (proof of knowledge or commitment)`
          : `round-1 packages rejected: ${(e as Error).message}`,
        bad,
        { cause: e },
      );
    }
    state.round1All = all;
    state.round1Digest = digestOf(all);
    const out = others.map((o) =>
      sealShare(
        ceremony,
        { round1Digest: state.round1Digest!, from: self, to: o.from, share: shares[nobleId(o.from)]!.signingShare },
        identity,
      ),
    );
    state.step = 'round2';
    return out;
  } catch (e) {
    return fail(state, e);
  }
}

/**
 * DKG round 3: decrypt the shares addressed to us, check each against its sender's commitment,
 * and derive our signing share, the group key and every verifying share.
 */
export function dkgFinish(state: DkgState, inbox: FrostDkgRound2[], identity: IdentityKey): DkgOutcome {
  step(state, 'round2', 'finish the DKG');
  const { ceremony, self } = state;
  try {
    const byFrom = new Map<number, Buffer>();
    for (const raw of inbox) {
      const from = typeof (raw as { from?: unknown })?.from === 'number' ? [(raw as { from: number }).from] : [];
      const p = parse(FrostDkgRound2Schema, raw, 'a round-2 package', from);
      if (p.to !== self)
        throw new FrostError(
          'FROST_PACKAGE_INVALID',
          `the coordinator delivered a round-2 package from ${who(ceremony, p.from)} addressed to ` +
            `${who(ceremony, p.to)} to ${who(ceremony, self)}`,
        );
      if (p.from === self || byFrom.has(p.from))
        throw new FrostError(
          'FROST_PACKAGE_INVALID',
          `an unexpected second round-2 package from ${who(ceremony, p.from)}`,
          [p.from],
        );
      if (p.round1Digest !== state.round1Digest)
        throw new FrostError(
          'FROST_TRANSCRIPT_MISMATCH',
          `${who(ceremony, p.from)} saw other round-1 packages than ${who(ceremony, self)} (the coordinator ` +
            'relayed different broadcasts)',
          [p.from],
        );
      byFrom.set(p.from, openShare(ceremony, p, identity));
    }
    const others = state.round1All!.filter((r) => r.from !== self);
    const missing = others.filter((o) => !byFrom.has(o.from)).map((o) => o.from);
    if (missing.length)
      throw new FrostError('FROST_PACKAGE_INVALID', `no round-2 share from ${whoAll(ceremony, missing)}`, missing);
    // noble checks every share against its sender's commitment (RFC 9591 C.2 vss_verify); only
    // if that fails are the shares checked one by one, so the error names who sent the bad one.
    let key: ReturnType<typeof F.DKG.round3>;
    try {
      key = F.DKG.round3(
        state.secret,
        others.map(toNobleRound1),
        others.map((o) => ({ identifier: nobleId(o.from), signingShare: byFrom.get(o.from)! })) as never,
      );
    } catch (e) {
      const signers = { min: ceremony.threshold, max: ceremony.participants.length };
      const bad = others
        .filter((o) => {
          try {
            F.validateSecret({ identifier: nobleId(self), signingShare: byFrom.get(o.from)! }, {
              signers,
              commitments: o.commitment.map(bytes),
              verifyingShares: {},
            } as unknown as FrostPublic);
            return false;
          } catch {
            return true;
          }
        })
        .map((o) => o.from);
      throw new FrostError(
        'FROST_SHARE_INVALID',
        bad.length
          ? `the share from ${whoAll(ceremony, bad)} does not match its round-1 commitment`
          : `DKG round 3 failed: ${(e as Error).message}`,
        bad,
        { cause: e },
      );
    }
    // The group record from noble's result; dkgAgree later holds everyone's against the transcript.
    const group: FrostGroup = {
      ceremony: ceremony.id,
      ceremonyDigest: state.ceremonyDigest,
      threshold: ceremony.threshold,
      groupPublicKey: hexOf(key.public.commitments[0]!),
      commitments: key.public.commitments.map(hexOf),
      participants: ceremony.participants.map((p) => {
        const vs = key.public.verifyingShares[nobleId(p.identifier)];
        if (!vs)
          throw new FrostError('FROST_GROUP_MISMATCH', `no verifying share for ${who(ceremony, p.identifier)}`, [
            p.identifier,
          ]);
        return { ...p, verifyingShare: hexOf(vs) };
      }),
    };
    state.step = 'finished';
    const share: FrostShare = { group, identifier: self, signingShare: Buffer.from(key.secret.signingShare) };
    return { share, group, confirm: confirmOf(group, state.round1Digest!, self) };
  } catch (e) {
    return fail(state, e);
  }
}

function confirmOf(group: FrostGroup, round1Digest: string, from: number): FrostDkgConfirm {
  return {
    ceremonyDigest: group.ceremonyDigest,
    round1Digest,
    from,
    groupPublicKey: group.groupPublicKey,
    commitments: group.commitments,
    verifyingShares: group.participants.map((p) => ({ identifier: p.identifier, verifyingShare: p.verifyingShare })),
  };
}

/**
 * DKG agreement, for the coordinator and every participant: each participant's confirmation
 * must state exactly the group that the round-1 transcript determines. Returns the group record
 * to store; any difference is FROST_GROUP_MISMATCH naming who differs.
 */
export function dkgAgree(
  ceremony: FrostCeremony,
  round1All: FrostDkgRound1[],
  confirms: FrostDkgConfirm[],
): FrostGroup {
  const group = groupFromTranscript(ceremony, round1All);
  const round1Digest = digestOf(checkTranscript(ceremony, group.ceremonyDigest, round1All));
  const expected = digestOf(confirmOf(group, round1Digest, 0));
  const seen = new Set<number>();
  const wrong: number[] = [];
  for (const raw of confirms) {
    const from = typeof (raw as { from?: unknown })?.from === 'number' ? [(raw as { from: number }).from] : [];
    const c = parse(FrostDkgConfirmSchema, raw, 'a DKG confirmation', from);
    rosterEntry(ceremony, c.from);
    if (seen.has(c.from))
      throw new FrostError('FROST_PACKAGE_INVALID', `two confirmations from ${who(ceremony, c.from)}`, [c.from]);
    seen.add(c.from);
    if (digestOf({ ...c, from: 0 }) !== expected) wrong.push(c.from);
  }
  const missing = ceremony.participants.filter((p) => !seen.has(p.identifier)).map((p) => p.identifier);
  if (wrong.length)
    throw new FrostError(
      'FROST_GROUP_MISMATCH',
      `${whoAll(ceremony, wrong)} computed another group key, verifying shares or round-1 transcript than the ` +
        `ceremony's transcript gives (group key ${group.groupPublicKey})`,
      wrong,
    );
  if (missing.length)
    throw new FrostError('FROST_PACKAGE_INVALID', `no DKG confirmation from ${whoAll(ceremony, missing)}`, missing);
  return group;
}

/** Check a signing share against the group's commitment (RFC 9591 C.2 vss_verify). */
export function checkShare(share: FrostShare): void {
  const group = checkGroup(share.group);
  if (!group.participants.some((p) => p.identifier === share.identifier))
    throw new FrostError('FROST_STORE_INVALID', `participant ${share.identifier} is not in group ${group.ceremony}`);
  try {
    F.validateSecret({ identifier: nobleId(share.identifier), signingShare: share.signingShare }, noblePublic(group));
  } catch (e) {
    throw new FrostError(
      'FROST_SHARE_INVALID',
      `the signing share of ${who(group, share.identifier)} does not match the group commitment`,
      [share.identifier],
      { cause: e },
    );
  }
}

// --- signing ------------------------------------------------------------------------------------

/** A participant's secret nonce pair for one commitment. Use once; then erase. */
export interface FrostNonces {
  readonly hiding: Buffer;
  readonly binding: Buffer;
}

/** Signing round 1 (RFC 9591 5.1): fresh nonces and their public commitments. Persist before sending. */
export function frostCommit(share: FrostShare): { nonces: FrostNonces; commitment: FrostCommitment } {
  const r = F.commit({ identifier: nobleId(share.identifier), signingShare: share.signingShare });
  return {
    nonces: { hiding: Buffer.from(r.nonces.hiding), binding: Buffer.from(r.nonces.binding) },
    commitment: {
      identifier: share.identifier,
      hiding: hexOf(r.commitments.hiding),
      binding: hexOf(r.commitments.binding),
    },
  };
}

/** A stable name for a commitment (the file its nonce is kept under). */
export function commitmentId(c: FrostCommitment): string {
  return digestOf([c.identifier, c.hiding, c.binding]);
}

/**
 * What a signature share is over: group, message and the whole commitment list (order-free).
 * A nonce may answer one request digest only.
 */
export function signRequestDigest(req: FrostSignRequest): string {
  const commitments = [...req.commitments].sort((a, b) => a.identifier - b.identifier);
  return digestOf({ groupPublicKey: req.groupPublicKey, messageSha256: req.messageSha256, commitments });
}

/** Check a request against the group and the exact message. */
export function checkSignRequest(group: FrostGroup, request: FrostSignRequest, message: Uint8Array): FrostSignRequest {
  const req = parse(FrostSignRequestSchema, request, 'the signing request');
  if (req.groupPublicKey !== group.groupPublicKey)
    throw new FrostError(
      'FROST_PACKAGE_INVALID',
      `the signing request is for group ${req.groupPublicKey.slice(0, 16)}, not ${group.groupPublicKey.slice(0, 16)}`,
    );
  if (sha256hex(message) !== req.messageSha256)
    throw new FrostError(
      'FROST_MESSAGE_MISMATCH',
      `the message has sha256 ${sha256hex(message)}, but the request names ${req.messageSha256}`,
    );
  const n = req.commitments.length;
  if (n < group.threshold || n > group.participants.length)
    throw new FrostError(
      'FROST_PACKAGE_INVALID',
      `${n} commitments for a ${group.threshold}-of-${group.participants.length} group`,
    );
  const ids = new Set<number>();
  for (const c of req.commitments) {
    if (!group.participants.some((p) => p.identifier === c.identifier))
      throw new FrostError('FROST_PACKAGE_INVALID', `a commitment from ${c.identifier}, who is not in the group`, [
        c.identifier,
      ]);
    if (ids.has(c.identifier))
      throw new FrostError('FROST_PACKAGE_INVALID', `two commitments from ${who(group, c.identifier)}`, [c.identifier]);
    ids.add(c.identifier);
    checkCommitment(group, c);
  }
  return req;
}

/**
 * A signing commitment as it arrives (RFC 9591 5.1, elements deserialised as 3.1 says): from a
 * participant of the group, both elements valid prime-order points, neither the identity nor of
 * small order, canonically encoded. Else FROST_COMMITMENT_INVALID naming its participant.
 */
export function checkCommitment(group: FrostGroup, commitment: FrostCommitment): FrostCommitment {
  const id =
    typeof (commitment as { identifier?: unknown })?.identifier === 'number'
      ? [(commitment as { identifier: number }).identifier]
      : [];
  const c = parse(FrostCommitmentSchema, commitment, 'a signing commitment', id, 'FROST_COMMITMENT_INVALID');
  if (!group.participants.some((p) => p.identifier === c.identifier))
    throw new FrostError('FROST_PACKAGE_INVALID', `a commitment from ${c.identifier}, who is not in the group`, [
      c.identifier,
    ]);
  for (const [what, h] of [
    ['hiding', c.hiding],
    ['binding', c.binding],
  ] as const) {
    try {
      point(h, `the ${what} commitment of ${who(group, c.identifier)}`, [c.identifier]);
    } catch (e) {
      throw new FrostError('FROST_COMMITMENT_INVALID', (e as Error).message, [c.identifier]);
    }
  }
  return c;
}

const nobleCommitments = (req: FrostSignRequest): NonceCommitments[] =>
  req.commitments.map(
    (c) =>
      ({ identifier: nobleId(c.identifier), hiding: bytes(c.hiding), binding: bytes(c.binding) }) as NonceCommitments,
  );

/**
 * Signing round 2 (RFC 9591 5.2). Consumes `nonces` (noble zeroes them). The caller guarantees
 * these nonces answer no other request (frost-store.ts does, durably).
 */
export function frostSignShare(
  share: FrostShare,
  nonces: FrostNonces,
  request: FrostSignRequest,
  message: Uint8Array,
): FrostSignatureShare {
  const req = checkSignRequest(share.group, request, message);
  const own = req.commitments.find((c) => c.identifier === share.identifier);
  if (!own)
    throw new FrostError(
      'FROST_COMMITMENT_MISMATCH',
      `the signing request has no commitment from ${who(share.group, share.identifier)}`,
    );
  let z: Uint8Array;
  try {
    z = F.signShare(
      { identifier: nobleId(share.identifier), signingShare: share.signingShare },
      noblePublic(share.group),
      { hiding: nonces.hiding, binding: nonces.binding } as never,
      nobleCommitments(req),
      message,
    );
  } catch (e) {
    const msg = (e as Error).message;
    if (/commitment/.test(msg))
      throw new FrostError(
        'FROST_COMMITMENT_MISMATCH',
        `the commitment listed for ${who(share.group, share.identifier)} is not the one these nonces made`,
        [],
        { cause: e },
      );
    if (/already used/.test(msg))
      throw new FrostError('FROST_NONCE_USED', 'these nonces were already used', [], { cause: e });
    throw e;
  }
  return { identifier: share.identifier, share: hexOf(z) };
}

/** RFC 9591 5.4: does one participant's share verify against its verifying share? */
export function verifySignatureShare(
  group: FrostGroup,
  request: FrostSignRequest,
  message: Uint8Array,
  share: FrostSignatureShare,
): boolean {
  const req = checkSignRequest(group, request, message);
  const s = parse(FrostSignatureShareSchema, share, 'a signature share', []);
  if (!req.commitments.some((c) => c.identifier === s.identifier)) return false;
  if (scalar(s.share) === null) return false; // RFC 9591 3.1: a scalar >= L is not a scalar
  try {
    return F.verifyShare(noblePublic(group), nobleCommitments(req), message, nobleId(s.identifier), bytes(s.share));
  } catch {
    return false;
  }
}

export interface AggregateOptions {
  /**
   * 'each' (default): verify every share before aggregating (RFC 9591 5.4), ~40 ms per share
   * with noble. 'on-failure': aggregate first; noble verifies the result and, only if it fails,
   * each share to name the culprit.
   */
  verifyShares?: 'each' | 'on-failure';
}

/**
 * Aggregate (RFC 9591 5.3) the shares of exactly the participants in the commitment list, then
 * verify the result as a plain Ed25519 signature with node:crypto (OpenSSL) and strict RFC 8032
 * before returning it. A bad share is FROST_BAD_SIGNATURE_SHARE naming its participant(s).
 */
export function aggregateSignature(
  group: FrostGroup,
  request: FrostSignRequest,
  message: Uint8Array,
  shares: FrostSignatureShare[],
  opts: AggregateOptions = {},
): Buffer {
  const req = checkSignRequest(group, request, message);
  const byId = new Map<number, FrostSignatureShare>();
  for (const raw of shares) {
    const s = parse(FrostSignatureShareSchema, raw, 'a signature share');
    if (!req.commitments.some((c) => c.identifier === s.identifier))
      throw new FrostError(
        'FROST_PACKAGE_INVALID',
        `a signature share from ${who(group, s.identifier)}, who did not commit in this attempt`,
        [s.identifier],
      );
    if (byId.has(s.identifier))
      throw new FrostError('FROST_PACKAGE_INVALID', `two signature shares from ${who(group, s.identifier)}`, [
        s.identifier,
      ]);
    byId.set(s.identifier, s);
  }
  const missing = req.commitments.filter((c) => !byId.has(c.identifier)).map((c) => c.identifier);
  if (missing.length)
    throw new FrostError('FROST_PACKAGE_INVALID', `no signature share from ${whoAll(group, missing)}`, missing);
  const badShare = (bad: number[], cause?: unknown) =>
    new FrostError(
      'FROST_BAD_SIGNATURE_SHARE',
      `the signature share of ${whoAll(group, bad)} does not verify (RFC 9591 5.4)`,
      bad,
      { cause },
    );
  const nonCanonical = [...byId.values()].filter((s) => scalar(s.share) === null).map((s) => s.identifier);
  if (nonCanonical.length) throw badShare(nonCanonical);
  if ((opts.verifyShares ?? 'each') === 'each') {
    const bad = [...byId.values()]
      .filter((s) => !verifySignatureShare(group, req, message, s))
      .map((s) => s.identifier);
    if (bad.length) throw badShare(bad);
  }
  let sig: Buffer;
  try {
    sig = Buffer.from(
      F.aggregate(
        noblePublic(group),
        nobleCommitments(req),
        message,
        Object.fromEntries([...byId.values()].map((s) => [nobleId(s.identifier), bytes(s.share)])),
      ),
    );
  } catch (e) {
    const cheaters = ((e as { cheaters?: string[] }).cheaters ?? []).map(
      (h) => group.participants.find((p) => nobleId(p.identifier) === h)?.identifier ?? 0,
    );
    if (cheaters.length) throw badShare(cheaters, e);
    throw new FrostError('FROST_SIGNATURE_INVALID', `aggregation failed: ${(e as Error).message}`, [], { cause: e });
  }
  const pk = groupPublicKey(group);
  if (!crypto.verify(null, message, pk.keyObject, sig) || !verifySignature(pk, Buffer.from(message), sig)) {
    throw new FrostError(
      'FROST_SIGNATURE_INVALID',
      'the aggregate signature does not verify under the group key with node:crypto; it is not released',
    );
  }
  return sig;
}

// --- a signing round over participants ----------------------------------------------------------

/** One participant as the coordinator sees it: in process, or behind a connection. */
export interface FrostParty {
  readonly identifier: number;
  /** Round 1: a fresh commitment, durably recorded by the participant before it answers. */
  commit(session: string): Promise<FrostCommitment>;
  /** Round 2: a share over `message` for `request`; refuses a nonce already used for anything else. */
  sign(request: FrostSignRequest, message: Buffer): Promise<FrostSignatureShare>;
  /** The attempt is abandoned: burn this commitment's nonce unused. */
  abandon?(commitment: FrostCommitment): Promise<void>;
}

export interface SigningAttempt {
  session: string;
  signers: number[];
  /** Participants that failed to answer (or refused) in this attempt. */
  dropped: { identifier: number; round: 1 | 2; reason: string }[];
}

export interface SigningRoundOptions {
  parties: FrostParty[];
  /** Base session name; attempts are `<session>.<k>`. */
  session?: string;
  /** ms a participant has to answer one round. */
  timeoutMs?: number;
  /** Attempts before giving up; default: as many as there are spare participants, plus one. */
  maxAttempts?: number;
  aggregate?: AggregateOptions;
  /** Called after each attempt. */
  onAttempt?: (a: SigningAttempt) => void;
}

export interface SigningRoundResult {
  signature: Buffer;
  signers: number[];
  attempts: SigningAttempt[];
}

const DEFAULT_TIMEOUT_MS = 30_000;

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/**
 * A complete FROST signing round: pick t participants still available (in the order given),
 * collect commitments, then shares over the exact message, verify each share, aggregate and
 * verify the signature. A participant that fails to answer either round is dropped and the
 * round restarts with another subset and fresh commitments; survivors' unused commitments are
 * abandoned. A bad share stops the round (FROST_BAD_SIGNATURE_SHARE names the participant).
 */
export async function runSigningRound(
  groupIn: FrostGroup,
  message: Buffer,
  opts: SigningRoundOptions,
): Promise<SigningRoundResult> {
  const group = checkGroup(groupIn);
  const t = group.threshold;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  // + `.k` stays a valid session name
  const base = (opts.session ?? `frost-${crypto.randomBytes(6).toString('hex')}`).slice(0, 56);
  for (const p of opts.parties)
    if (!group.participants.some((g) => g.identifier === p.identifier))
      throw new FrostError('FROST_PACKAGE_INVALID', `participant ${p.identifier} is not in the group`, [p.identifier]);
  const maxAttempts = opts.maxAttempts ?? Math.max(1, opts.parties.length - t + 1);
  const out: Set<number> = new Set();
  const attempts: SigningAttempt[] = [];
  const messageSha256 = sha256hex(message);
  for (let k = 1; k <= maxAttempts; k++) {
    const chosen = opts.parties.filter((p) => !out.has(p.identifier)).slice(0, t);
    if (chosen.length < t) break;
    const attempt: SigningAttempt = { session: `${base}.${k}`, signers: chosen.map((p) => p.identifier), dropped: [] };
    attempts.push(attempt);
    const drop = (id: number, round: 1 | 2, e: unknown) => {
      out.add(id);
      attempt.dropped.push({ identifier: id, round, reason: (e as Error)?.message ?? String(e) });
    };
    // RFC 9591 5.1: commitments.
    const r1 = await Promise.allSettled(
      chosen.map((p) => within(p.commit(attempt.session), timeoutMs, `${who(group, p.identifier)}, round 1`)),
    );
    const commitments: FrostCommitment[] = [];
    r1.forEach((r, i) => {
      const p = chosen[i]!;
      if (r.status === 'rejected') return drop(p.identifier, 1, r.reason);
      const c = FrostCommitmentSchema.safeParse(r.value);
      if (!c.success || c.data.identifier !== p.identifier)
        return drop(p.identifier, 1, new Error('malformed commitment'));
      commitments.push(c.data);
    });
    if (attempt.dropped.length) {
      await Promise.allSettled(
        commitments.map(async (c) => chosen.find((p) => p.identifier === c.identifier)!.abandon?.(c)),
      );
      opts.onAttempt?.(attempt);
      continue;
    }
    const request: FrostSignRequest = {
      session: attempt.session,
      groupPublicKey: group.groupPublicKey,
      messageSha256,
      commitments,
    };
    // RFC 9591 5.2: signature shares over the exact message.
    const r2 = await Promise.allSettled(
      chosen.map((p) => within(p.sign(request, message), timeoutMs, `${who(group, p.identifier)}, round 2`)),
    );
    const shares: FrostSignatureShare[] = [];
    r2.forEach((r, i) => {
      const p = chosen[i]!;
      if (r.status === 'rejected') return drop(p.identifier, 2, r.reason);
      if (r.value?.identifier !== p.identifier)
        return drop(p.identifier, 2, new Error('a share under another identifier'));
      shares.push(r.value);
    });
    opts.onAttempt?.(attempt);
    if (attempt.dropped.length) continue;
    // RFC 9591 5.3-5.4, then node:crypto.
    const signature = aggregateSignature(group, request, message, shares, opts.aggregate);
    return { signature, signers: attempt.signers, attempts };
  }
  const left = opts.parties.filter((p) => !out.has(p.identifier)).map((p) => p.identifier);
  throw new FrostError(
    'FROST_NOT_ENOUGH_SIGNERS',
    `${left.length} participant(s) left for a threshold of ${t} after ${attempts.length} attempt(s); dropped: ` +
      `${whoAll(group, [...out]) || 'none'}`,
    [...out],
  );
}

// --- the Signer seam ------------------------------------------------------------------------------

/**
 * A Signer for a FROST group: its key is the group key, an ordinary Ed25519 key. `coordinate`
 * runs the two rounds (over the wire in the product, `runSigningRound` in process) and returns
 * the signature; it is checked again here before anyone sees it.
 */
export function frostSigner(groupIn: FrostGroup, coordinate: (message: Buffer) => Promise<Buffer>): Signer {
  const group = checkGroup(groupIn);
  const publicKey = groupPublicKey(group);
  return {
    publicKey,
    async sign(data: Buffer): Promise<Buffer> {
      const message = Buffer.from(data);
      const sig = await coordinate(message);
      if (!verifySignature(publicKey, message, sig))
        throw new FrostError(
          'FROST_SIGNATURE_INVALID',
          `the signature from the FROST group ${group.ceremony} does not verify under its group key`,
        );
      return sig;
    },
  };
}

/** A FROST group Signer that runs the signing round in this process over `parties`. */
export function inProcessFrostSigner(
  group: FrostGroup,
  parties: FrostParty[],
  opts: Omit<SigningRoundOptions, 'parties'> = {},
): Signer {
  return frostSigner(group, async (message) => (await runSigningRound(group, message, { ...opts, parties })).signature);
}

export { FROST_LIMITS };
