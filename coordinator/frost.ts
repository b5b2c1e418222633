/**
 * FROST on the coordinator: keyholders' X25519 identities, and distributed key generation
 * ceremonies relayed through the coordinator. Every package is stored (SQLite, one transaction
 * per message) before it is acknowledged, so a restart mid-ceremony loses nothing; round-2
 * packages are ciphertext between participants that the coordinator stores and relays unread.
 * When every confirmation is in, the coordinator runs dkgAgree itself against the round-1
 * transcript and records the group (group key and every verifying share). A ceremony opened by
 * `quorum fleet-ca create --frost` then registers a CA of kind 'frost' whose key is the group key,
 * and opens the round of its self-signed fleet root certificate.
 */
import crypto from 'node:crypto';
import { QuorumError } from '../protocol/errors.js';
import { DAY_MS, DEFAULT_DEADLINE_MS } from '../protocol/time.js';
import {
  checkCeremony,
  checkIdentities,
  checkTranscripts,
  dkgAgree,
  FrostError,
  groupPublicKey,
  newCeremony,
  transcriptDigest,
  transcriptMessage,
  verifyIdentity,
  type FrostCeremony,
  type FrostDkgConfirm,
  type FrostDkgRound1,
  type FrostDkgRound2,
  type FrostGroup,
  type FrostSignedIdentity,
  type FrostTranscriptSignature,
} from '../protocol/frost.js';
import { canonicalize } from '../protocol/canonical.js';
import { publicKeyFrom, sha256hex, verifySignature, type PublicKey } from '../protocol/keys.js';
import { prepareCertificate } from '../protocol/x509.js';
import type { FrostDkgState, ServerMessage } from '../protocol/wire.js';
import { CaNameError, checkGroupName, claimCaName, pendingCeremonyFor } from './ca-names.js';
import { insertCertRoundRow } from './certificates.js';
import type {
  CeremonyPurpose,
  CertRoundRow,
  DkgConfirmRow,
  DkgRound1Row,
  FleetCaPurpose,
  FrostCeremonyRow,
  KeyholderRow,
  RoleKeyPurpose,
  Store,
} from './store.js';

const NAME_RE = /^[A-Za-z0-9._-]{1,64}$/;
const HEX32 = /^[0-9a-f]{64}$/;

export class FrostCeremonyError extends QuorumError<
  | 'CEREMONY_NOT_FOUND'
  | 'CEREMONY_NOT_PARTICIPANT'
  | 'CEREMONY_WRONG_STEP'
  | 'CEREMONY_CONFLICT'
  | 'IDENTITY_INVALID'
  | 'KEYHOLDER_UNKNOWN'
  | 'REQUEST_INVALID'
> {}

const same = (a: unknown, b: unknown) => sha256hex(canonicalize(a, 'tuf')) === sha256hex(canonicalize(b, 'tuf'));

/** Record (or replace) a keyholder's X25519 identity key (raw, hex), as `quorum-signer frost identity` printed it. */
export function recordIdentity(
  store: Store,
  keyholder: string,
  identityKey: string,
  now = new Date(),
): { keyholder: string; identityKey: string } {
  const key = identityKey.trim().toLowerCase();
  if (!HEX32.test(key))
    throw new FrostCeremonyError(
      'IDENTITY_INVALID',
      'a FROST identity key is 64 hex characters (32-byte X25519 public key), as quorum-signer frost identity ' +
        'prints it',
    );
  try {
    crypto.createPublicKey({
      key: Buffer.concat([Buffer.from('302a300506032b656e032100', 'hex'), Buffer.from(key, 'hex')]),
      format: 'der',
      type: 'spki',
    });
  } catch (e) {
    throw new FrostCeremonyError('IDENTITY_INVALID', `not a usable X25519 public key: ${(e as Error).message}`);
  }
  return store.tx(() => {
    const k = store.keyholderByName(keyholder);
    if (!k || k.removed_at) throw new FrostCeremonyError('KEYHOLDER_UNKNOWN', `no enrolled keyholder ${keyholder}`);
    store.setFrostIdentity(keyholder, key, now.toISOString());
    store.audit('frost.identity.recorded', { keyholder, identityKey: key }, now.toISOString());
    return { keyholder, identityKey: key };
  });
}

export interface FrostFleetCaRequest {
  name: string;
  fleetName: string;
  threshold: number;
  participants: string[];
  reason: string;
  validityDays?: number;
  deadline?: Date;
}

// Accessors kept for the callers that use them (server.ts); the rows are typed (store.ts).
export const ceremonyOf = (r: FrostCeremonyRow): FrostCeremony => r.ceremony;
export const groupOf = (r: FrostCeremonyRow): FrostGroup | null => r.group;
export const purposeOf = (r: FrostCeremonyRow): CeremonyPurpose => r.purpose;

/** Open a DKG ceremony whose group becomes the fleet root CA `name`. */
export function openFleetCaCeremony(store: Store, req: FrostFleetCaRequest, now = new Date()): FrostCeremonyRow {
  if (!NAME_RE.test(req.name))
    throw new FrostCeremonyError(
      'REQUEST_INVALID',
      `CA name ${JSON.stringify(req.name)} must be 1-64 letters, digits, '.', '_' or '-'`,
    );
  if (!req.fleetName.trim())
    throw new FrostCeremonyError('REQUEST_INVALID', 'give the fleet name (the CA certificate CN)');
  const purpose: FleetCaPurpose = {
    kind: 'fleet-ca',
    name: req.name,
    fleetName: req.fleetName,
    reason: req.reason,
    ...(req.validityDays !== undefined ? { validityDays: req.validityDays } : {}),
    ...(req.deadline ? { deadline: req.deadline.toISOString() } : {}),
  };
  return openCeremony(store, req, purpose, now, () => {
    claimCaName(store, req.name, now); // CA_EXISTS, or retires an unissued CA of this name
    const pending = pendingCeremonyFor(store, req.name);
    if (pending)
      throw new CaNameError(
        'CA_EXISTS',
        `ceremony ${pending.id} for a CA named ${req.name} is under way (${pending.state}); cancel it first or ` +
          'choose another name',
      );
  });
}

/**
 * What every ceremony request gets: a reason and a future deadline are required, the roster is
 * built (newCeremonyFor), and in one transaction `claim` refuses a name that is taken, then the
 * ceremony is stored at round 1 and audited.
 */
function openCeremony(
  store: Store,
  req: { name: string; threshold: number; participants: string[]; reason: string; deadline?: Date },
  purpose: CeremonyPurpose,
  now: Date,
  claim: () => void,
): FrostCeremonyRow {
  if (!req.reason.trim()) throw new FrostCeremonyError('REQUEST_INVALID', 'a ceremony needs a reason');
  if (req.deadline && !(req.deadline.getTime() > now.getTime()))
    throw new FrostCeremonyError('REQUEST_INVALID', 'the deadline must be a time in the future');
  const { id, ceremony, digest } = newCeremonyFor(store, req.name, req.threshold, req.participants, {
    kind: purpose.kind,
    name: purpose.name,
  });
  return store.tx(() => {
    claim();
    store.insertFrostCeremony({
      id,
      ceremony,
      digest,
      purpose,
      state: 'round1',
      created_at: now.toISOString(),
    });
    store.audit(
      'frost.dkg.opened',
      { ceremony: id, digest, threshold: ceremony.threshold, participants: ceremony.participants, purpose },
      now.toISOString(),
    );
    return store.frostCeremony(id)!;
  });
}

/** The roster (every participant enrolled, with an identity) and the ceremony's id: dkg-<name>[-k]. */
function newCeremonyFor(
  store: Store,
  name: string,
  threshold: number,
  participants: string[],
  purpose: NonNullable<FrostCeremony['purpose']>,
): { id: string; ceremony: FrostCeremony; digest: string } {
  const members = participants.map((p) => {
    const k = store.keyholderByName(p);
    if (!k || k.removed_at)
      throw new FrostCeremonyError('KEYHOLDER_UNKNOWN', `participant ${p} is not an enrolled keyholder`);
    const identityKey = store.frostIdentity(p);
    if (!identityKey)
      throw new FrostCeremonyError(
        'IDENTITY_INVALID',
        `participant ${p} has no FROST identity recorded: they run quorum-signer frost identity, then you run ` +
          `quorum keyholder identity ${p} HEX`,
      );
    return { name: p, identityKey };
  });
  // dkg-<name>, or dkg-<name>-<k> after earlier ceremonies for this name failed or were cancelled.
  let id = `dkg-${name}`;
  for (let k = 2; store.frostCeremony(id); k++) id = `dkg-${name}-${k}`;
  if (id.length > 64) throw new FrostCeremonyError('REQUEST_INVALID', `the name ${name} is too long for a ceremony id`);
  const ceremony = newCeremony(id, threshold, members, purpose); // FROST_CEREMONY_INVALID for t > n, duplicates, ...
  return { id, ceremony, digest: checkCeremony(ceremony) };
}

export interface FrostGroupRequest {
  name: string;
  threshold: number;
  participants: string[];
  reason: string;
  deadline?: Date;
}

/**
 * Open a DKG ceremony whose group key is to sign root or targets metadata: once done, a root
 * round lists it with --add-key ROLE=frost:NAME. Group and CA names share one namespace, so
 * `frost:NAME` names exactly one key.
 */
export function openRoleKeyCeremony(store: Store, req: FrostGroupRequest, now = new Date()): FrostCeremonyRow {
  if (!NAME_RE.test(req.name) || /\.\d+$/.test(req.name))
    throw new FrostCeremonyError(
      'REQUEST_INVALID',
      `group name ${JSON.stringify(req.name)} must be 1-64 letters, digits, '.', '_' or '-', not ending in '.' ` +
        'and digits',
    );
  const purpose: RoleKeyPurpose = {
    kind: 'role-key',
    name: req.name,
    reason: req.reason,
    ...(req.deadline ? { deadline: req.deadline.toISOString() } : {}),
  };
  return openCeremony(store, req, purpose, now, () => checkGroupName(store, req.name));
}

/** A FROST group whose DKG is done: its key can be a CA key or a root/targets key. */
export interface DoneGroup {
  ceremony: string;
  /** The group (or FROST CA) name of its purpose. */
  name: string;
  group: FrostGroup;
  fingerprint: string;
}

/** The enrolled signing key of a keyholder (a removed one's too: it signed what it signed then). */
function enrolledKeyOf(store: Store): (name: string) => PublicKey | undefined {
  return (name) => {
    const k = store.keyholderByName(name);
    return k ? publicKeyFrom(k.spki) : undefined;
  };
}

const identitiesOf = (rows: DkgRound1Row[]): FrostSignedIdentity[] => rows.flatMap((x) => x.identity ?? []);
const transcriptsOf = (rows: DkgConfirmRow[]): FrostTranscriptSignature[] => rows.flatMap((x) => x.transcript ?? []);

/**
 * Why an agreed ceremony's group may not be used, or null: it must carry every participant's
 * identity statement and transcript signature, verifying under their enrolled keys, over the
 * transcript recorded, and its group must be the one that transcript gives. Groups agreed before
 * identity statements existed (migration 6) have none.
 */
export function groupProblem(store: Store, r: FrostCeremonyRow): string | null {
  if (r.state !== 'done' || !r.group) return `ceremony ${r.id} is ${r.state}`;
  if (!r.transcript_digest)
    return (
      `the group of ceremony ${r.id} was agreed before participants signed identity statements and transcripts ` +
      '(an older coordinator): anyone relaying that ceremony could have held the key; create the group again (a ' +
      'new ceremony)'
    );
  try {
    const ceremony = r.ceremony;
    const round1Rows = store.dkgRound1(r.id);
    const round1 = round1Rows.map((x) => x.package);
    const keyOf = enrolledKeyOf(store);
    const identities = checkIdentities(ceremony, identitiesOf(round1Rows), keyOf);
    const digest = transcriptDigest(ceremony, identities, round1);
    if (digest !== r.transcript_digest)
      return (
        `the stored transcript of ceremony ${r.id} hashes to ${digest}, not the ${r.transcript_digest} recorded ` +
        'at agreement'
      );
    const confirms = store.dkgConfirms(r.id);
    checkTranscripts(ceremony, digest, transcriptsOf(confirms), keyOf);
    const group = dkgAgree(
      ceremony,
      round1,
      confirms.map((x) => x.confirm),
    );
    if (!same(group, r.group)) return `the group recorded for ceremony ${r.id} is not the one its transcript gives`;
    return null;
  } catch (e) {
    return `the record of ceremony ${r.id} does not verify: ${(e as Error).message}`;
  }
}

/**
 * Agreed groups by ceremony id, per store ('done' is final): each checked (groupProblem), parsed and keyed once; null
 * if refused.
 */
const doneCache = new WeakMap<Store, Map<string, DoneGroup | null>>();

/**
 * Every agreed group that may be used, oldest first. Round listings call this for every round, so
 * it reads only the ids of the done ceremonies and checks each group (and derives its key
 * fingerprint) once per process.
 */
export function doneGroups(store: Store): DoneGroup[] {
  let cache = doneCache.get(store);
  if (!cache) doneCache.set(store, (cache = new Map()));
  const out: DoneGroup[] = [];
  for (const id of store.doneCeremonyIds()) {
    let g = cache.get(id);
    if (g === undefined) {
      const r = store.frostCeremony(id)!;
      g =
        groupProblem(store, r) === null
          ? { ceremony: r.id, name: r.purpose.name, group: r.group!, fingerprint: groupPublicKey(r.group!).fingerprint }
          : null;
      cache.set(id, g);
    }
    if (g) out.push(g);
  }
  return out;
}

/** The agreed group of ceremony `id`, checked; FROST_GROUP_UNAUTHENTICATED (saying why) if it may not be used. */
export function usableGroup(store: Store, id: string): DoneGroup {
  const g = doneGroups(store).find((x) => x.ceremony === id);
  if (g) return g;
  const r = store.frostCeremony(id);
  if (!r || r.state !== 'done')
    throw new FrostCeremonyError('CEREMONY_NOT_FOUND', `no agreed FROST group from ceremony ${id}`);
  throw new FrostError(
    'FROST_GROUP_UNAUTHENTICATED',
    `FROST group of ceremony ${id} is refused: ${groupProblem(store, r)}`,
  );
}

/** `frost:NAME` of a root change: the agreed group named NAME (or the ceremony id NAME). */
export function groupByName(store: Store, name: string): DoneGroup {
  const g = doneGroups(store).find((x) => x.name === name || x.ceremony === name);
  if (g) return g;
  const refused = store.frostCeremonies().find((r) => r.state === 'done' && (r.purpose.name === name || r.id === name));
  if (refused) return usableGroup(store, refused.id);
  const pending = store.frostCeremonies().find((r) => r.purpose.name === name || r.id === name);
  throw new FrostCeremonyError(
    'CEREMONY_NOT_FOUND',
    pending
      ? `the DKG ceremony ${pending.id} for ${name} is ${pending.state}${pending.failure ? ` (${pending.failure})` : ''}, ` +
          'so there is no group key yet'
      : `no FROST group ${name}; create one with quorum frost create --name ${name} ...`,
  );
}

function ceremonyRow(store: Store, id: string): FrostCeremonyRow {
  const r = store.frostCeremony(id);
  if (!r) throw new FrostCeremonyError('CEREMONY_NOT_FOUND', `no DKG ceremony ${id}`);
  return r;
}

function participantOf(ceremony: FrostCeremony, keyholder: KeyholderRow): number {
  const p = ceremony.participants.find((x) => x.name === keyholder.name);
  if (!p)
    throw new FrostCeremonyError(
      'CEREMONY_NOT_PARTICIPANT',
      `${keyholder.name} is not a participant of ceremony ${ceremony.id} (participants: ` +
        `${ceremony.participants.map((x) => x.name).join(', ')})`,
    );
  return p.identifier;
}

function expectStep(r: FrostCeremonyRow, step: FrostDkgState, what: string): void {
  if (r.state !== step)
    throw new FrostCeremonyError(
      'CEREMONY_WRONG_STEP',
      `cannot accept ${what}: ceremony ${r.id} is at step ${r.state}${r.failure ? ` (${r.failure})` : ''}`,
    );
}

/** The state of a ceremony as one participant (or null: the admin) may see it. */
export function dkgStatus(
  store: Store,
  id: string,
  self: number | null,
): Omit<Extract<ServerMessage, { type: 'frost.dkg.status' }>, 'type' | 'ref'> {
  const r = ceremonyRow(store, id);
  const ceremony = r.ceremony;
  const round1Received = store.dkgSenders(id, 'round1');
  const confirmsReceived = store.dkgSenders(id, 'confirm');
  const past1 = r.state !== 'round1' && round1Received.length === ceremony.participants.length;
  const past2 =
    (r.state === 'confirm' || r.state === 'done' || (r.state === 'failed' && confirmsReceived.length > 0)) &&
    self !== null;
  const r1 = past1 ? store.dkgRound1(id) : [];
  return {
    ceremony,
    state: r.state,
    round1Received,
    round2Received: store.dkgSenders(id, 'round2'),
    confirmsReceived,
    round1All: r1.map((x) => x.package),
    identities: identitiesOf(r1),
    inbox: past2 ? store.dkgRound2(id, { recipient: self }).map((x) => x.package) : [],
    group: r.group,
    transcripts: r.state === 'done' ? transcriptsOf(store.dkgConfirms(id)) : [],
    failure: r.failure,
  };
}

export interface DkgEvent {
  /** Sent to every connected participant of the ceremony, by name. */
  toParticipants?: (recipient: { identifier: number; name: string }) => ServerMessage | null;
  log?: string;
  /** A certificate round opened by the agreed group. */
  certRound?: CertRoundRow;
}

/**
 * Round 1: a participant's broadcast with its identity statement, which must be this ceremony's
 * statement for it and verify under its enrolled key (FROST_IDENTITY_UNVERIFIED; nothing is
 * stored). Idempotent for the identical package and statement (a resend after a restart).
 */
export function submitDkgRound1(
  store: Store,
  id: string,
  keyholder: KeyholderRow,
  pkg: FrostDkgRound1,
  identity: FrostSignedIdentity,
): DkgEvent {
  return store.tx(() => {
    const r = ceremonyRow(store, id);
    const ceremony = r.ceremony;
    const self = participantOf(ceremony, keyholder);
    if (pkg.from !== self)
      throw new FrostCeremonyError(
        'CEREMONY_NOT_PARTICIPANT',
        `${keyholder.name} is participant ${self}, not ${pkg.from}`,
      );
    if (pkg.ceremonyDigest !== r.digest)
      throw new FrostCeremonyError(
        'CEREMONY_CONFLICT',
        `the round-1 package is for another ceremony digest than ${id}'s`,
      );
    if (pkg.commitment.length !== ceremony.threshold)
      throw new FrostCeremonyError(
        'CEREMONY_CONFLICT',
        `a ${ceremony.threshold}-of-n ceremony takes ${ceremony.threshold} commitments, not ${pkg.commitment.length}`,
      );
    if (!verifyIdentity(ceremony, keyholder.name, identity, publicKeyFrom(keyholder.spki))) {
      throw new FrostError(
        'FROST_IDENTITY_UNVERIFIED',
        `the identity statement of ${keyholder.name} is not ceremony ${id}'s statement for participant ${self} ` +
          `(identity key ${ceremony.participants.find((p) => p.identifier === self)!.identityKey}), or is not ` +
          `signed by ${keyholder.name}'s enrolled key`,
        [self],
      );
    }
    const prior = store.dkgRound1Of(id, self);
    if (prior) {
      // The statement is the same; a resent signature may differ (ECDSA, RSA-PSS): the stored one stays.
      if (same(prior.package, pkg) && prior.identity && same(prior.identity.statement, identity.statement)) return {};
      throw new FrostCeremonyError(
        'CEREMONY_CONFLICT',
        `${keyholder.name} already sent another round-1 package for ${id}`,
      );
    }
    expectStep(r, 'round1', 'a round-1 package');
    store.insertDkgRound1(id, self, pkg, identity);
    store.audit('frost.dkg.round1', {
      ceremony: id,
      from: self,
      keyholder: keyholder.name,
      identityKey: identity.statement.identityKey,
    });
    const sent = store.dkgSenders(id, 'round1').length;
    if (sent < ceremony.participants.length)
      return { log: `ceremony ${id}: round 1 from ${keyholder.name} (${sent}/${ceremony.participants.length})` };
    store.setFrostCeremonyState(id, 'round1', 'round2');
    store.audit('frost.dkg.round1.complete', { ceremony: id });
    const all = store.dkgRound1(id);
    const packages = all.map((x) => x.package);
    const identities = identitiesOf(all);
    return {
      log: `ceremony ${id}: round 1 complete`,
      toParticipants: () => ({ type: 'frost.dkg.round1.all', ceremony: id, packages, identities }),
    };
  });
}

/** Round 2: one ciphertext for each other participant, stored and relayed unread. */
export function submitDkgRound2(
  store: Store,
  id: string,
  keyholder: KeyholderRow,
  packages: FrostDkgRound2[],
): DkgEvent {
  return store.tx(() => {
    const r = ceremonyRow(store, id);
    const ceremony = r.ceremony;
    const self = participantOf(ceremony, keyholder);
    const others = ceremony.participants.filter((p) => p.identifier !== self).map((p) => p.identifier);
    const to = new Set<number>();
    for (const p of packages) {
      if (p.from !== self)
        throw new FrostCeremonyError(
          'CEREMONY_NOT_PARTICIPANT',
          `${keyholder.name} is participant ${self} and cannot send a round-2 package from ${p.from}`,
        );
      if (p.ceremonyDigest !== r.digest)
        throw new FrostCeremonyError('CEREMONY_CONFLICT', `a round-2 package for another ceremony digest than ${id}'s`);
      if (!others.includes(p.to) || to.has(p.to))
        throw new FrostCeremonyError(
          'CEREMONY_CONFLICT',
          `a round-2 package addressed to ${p.to}: one each for ${others.join(', ')} is expected`,
        );
      to.add(p.to);
    }
    if (to.size !== others.length)
      throw new FrostCeremonyError(
        'CEREMONY_CONFLICT',
        `round 2 takes one package for each of ${others.join(', ')} in one message`,
      );
    const prior = store.dkgRound2(id, { sender: self });
    if (prior.length) {
      const byTo = new Map(prior.map((x) => [x.recipient, x.package]));
      if (packages.every((p) => byTo.has(p.to) && same(byTo.get(p.to), p))) return {};
      throw new FrostCeremonyError(
        'CEREMONY_CONFLICT',
        `${keyholder.name} already sent other round-2 packages for ${id}`,
      );
    }
    expectStep(r, 'round2', 'round-2 packages');
    for (const p of packages) store.insertDkgRound2(id, p);
    store.audit('frost.dkg.round2', { ceremony: id, from: self, keyholder: keyholder.name, to: [...to] });
    // Each sender's packages, one for every other participant, are stored together (above).
    const senders = store.dkgSenders(id, 'round2').length;
    const n = ceremony.participants.length;
    if (senders < n) return { log: `ceremony ${id}: round 2 from ${keyholder.name} (${senders}/${n})` };
    store.setFrostCeremonyState(id, 'round2', 'confirm');
    store.audit('frost.dkg.round2.complete', { ceremony: id });
    const all = store.dkgRound2(id);
    return {
      log: `ceremony ${id}: round 2 complete; ciphertexts relayed`,
      toParticipants: (p) => ({
        type: 'frost.dkg.round2.inbox',
        ceremony: id,
        packages: all.filter((x) => x.recipient === p.identifier).map((x) => x.package),
      }),
    };
  });
}

/**
 * A participant's confirmation. With all of them in, dkgAgree against the round-1 transcript:
 * the group is recorded (and its purpose applied), or the ceremony fails naming who differs.
 */
export async function submitDkgConfirm(
  store: Store,
  id: string,
  keyholder: KeyholderRow,
  confirm: FrostDkgConfirm,
  transcript: FrostTranscriptSignature,
  now = new Date(),
): Promise<DkgEvent> {
  const stored = store.tx(() => {
    const r = ceremonyRow(store, id);
    const ceremony = r.ceremony;
    const self = participantOf(ceremony, keyholder);
    if (confirm.from !== self || transcript.identifier !== self)
      throw new FrostCeremonyError(
        'CEREMONY_NOT_PARTICIPANT',
        `${keyholder.name} is participant ${self}, not ${confirm.from === self ? transcript.identifier : confirm.from}`,
      );
    if (
      !verifySignature(
        publicKeyFrom(keyholder.spki),
        transcriptMessage(id, self, transcript.transcript),
        Buffer.from(transcript.signature, 'base64'),
      )
    ) {
      throw new FrostError(
        'FROST_TRANSCRIPT_UNSIGNED',
        `the transcript signature of ${keyholder.name} does not verify under its enrolled key`,
        [self],
      );
    }
    const prior = store.dkgConfirms(id).find((x) => x.participant === self);
    if (prior) {
      if (same(prior.confirm, confirm) && prior.transcript?.transcript === transcript.transcript) return null;
      throw new FrostCeremonyError(
        'CEREMONY_CONFLICT',
        `${keyholder.name} already sent another confirmation for ${id}`,
      );
    }
    expectStep(r, 'confirm', 'a confirmation');
    store.insertDkgConfirm(id, self, confirm, transcript);
    store.audit('frost.dkg.confirm', {
      ceremony: id,
      from: self,
      keyholder: keyholder.name,
      groupPublicKey: confirm.groupPublicKey,
      transcript: transcript.transcript,
    });
    return { r, ceremony, count: store.dkgConfirms(id).length };
  });
  if (!stored) return {};
  const { r, ceremony, count } = stored;
  if (count < ceremony.participants.length)
    return { log: `ceremony ${id}: confirmation from ${keyholder.name} (${count}/${ceremony.participants.length})` };
  return agree(store, r, now);
}

/** Run dkgAgree over the stored transcript; record the group or the failure. Also used at start-up. */
export async function agree(store: Store, r: FrostCeremonyRow, now = new Date()): Promise<DkgEvent> {
  const ceremony = r.ceremony;
  const round1Rows = store.dkgRound1(r.id);
  const round1 = round1Rows.map((x) => x.package);
  const confirmRows = store.dkgConfirms(r.id);
  const confirms = confirmRows.map((x) => x.confirm);
  let group: FrostGroup;
  let digest: string;
  let transcripts: FrostTranscriptSignature[];
  try {
    group = dkgAgree(ceremony, round1, confirms);
    // Agreed only if every participant signed the transcript the coordinator holds.
    const keyOf = enrolledKeyOf(store);
    digest = transcriptDigest(ceremony, checkIdentities(ceremony, identitiesOf(round1Rows), keyOf), round1);
    transcripts = checkTranscripts(ceremony, digest, transcriptsOf(confirmRows), keyOf);
  } catch (e) {
    if (!(e instanceof FrostError)) throw e;
    const failure = `${e.code}: ${e.message}`;
    store.tx(() => {
      if (store.setFrostCeremonyState(r.id, 'confirm', 'failed', { failure, closed_at: now.toISOString() }))
        store.audit(
          'frost.dkg.failed',
          { ceremony: r.id, code: e.code, participants: e.participants },
          now.toISOString(),
        );
    });
    return {
      log: `ceremony ${r.id} failed: ${failure}`,
      toParticipants: () => ({
        type: 'frost.dkg.failed',
        ceremony: r.id,
        code: e.code,
        message: e.message.slice(0, 2048),
        participants: e.participants,
      }),
    };
  }
  const purpose = r.purpose;
  const pk = groupPublicKey(group);
  // The fleet root's TBS (async) before the transaction that records the group and the CA.
  let prepared: Awaited<ReturnType<typeof prepareCertificate>> | null = null;
  const notBefore = new Date(Math.floor(now.getTime() / 1000) * 1000);
  if (purpose.kind === 'fleet-ca') {
    const notAfter =
      purpose.validityDays === undefined
        ? undefined
        : new Date(notBefore.getTime() + Math.round(purpose.validityDays * DAY_MS));
    prepared = await prepareCertificate('fleet-root', {
      subjectPublicKey: pk.spki,
      fleetName: purpose.fleetName,
      issuer: 'self',
      notBefore,
      ...(notAfter ? { notAfter } : {}),
    });
  }
  const certRound = store.tx(() => {
    if (
      !store.setFrostCeremonyState(r.id, 'confirm', 'done', {
        group,
        closed_at: now.toISOString(),
        transcript_digest: digest,
      })
    )
      return undefined;
    store.audit(
      'frost.dkg.done',
      {
        ceremony: r.id,
        groupPublicKey: group.groupPublicKey,
        fingerprint: pk.fingerprint,
        threshold: group.threshold,
        transcript: digest,
        verifyingShares: group.participants.map((p) => ({
          identifier: p.identifier,
          name: p.name,
          verifyingShare: p.verifyingShare,
        })),
      },
      now.toISOString(),
    );
    if (purpose.kind !== 'fleet-ca' || !prepared) return undefined;
    if (store.ca(purpose.name)) throw new CaNameError('CA_EXISTS', `a CA named ${purpose.name} exists already`);
    const names = ceremony.participants.map((p) => p.name);
    store.insertCa({
      name: purpose.name,
      kind: 'frost',
      holder: null,
      issuer_spki: pk.spki,
      issuer_fingerprint: pk.fingerprint,
      algorithm: 'ed25519',
      chain_pem: null,
      approvals_threshold: group.threshold,
      approvers: names,
      created_at: now.toISOString(),
    });
    store.setCaFrostCeremony(purpose.name, r.id);
    store.audit(
      'ca.created',
      {
        name: purpose.name,
        kind: 'frost',
        ceremony: r.id,
        fingerprint: pk.fingerprint,
        algorithm: 'ed25519',
        participants: names,
        threshold: group.threshold,
      },
      now.toISOString(),
    );
    const deadline = purpose.deadline ? new Date(purpose.deadline) : new Date(now.getTime() + DEFAULT_DEADLINE_MS);
    return insertCertRoundRow(store, purpose.name, prepared, purpose.reason, deadline, now, null);
  });
  return {
    log: `ceremony ${r.id} done: group key ${group.groupPublicKey}, transcript ${digest}${certRound ? `; opened certificate round ${certRound.id} for fleet root CA ${purpose.name}` : ''}`,
    toParticipants: () => ({ type: 'frost.dkg.done', ceremony: r.id, group, transcripts }),
    ...(certRound ? { certRound } : {}),
  };
}

/** A participant stops the ceremony (a package failed its checks). */
export function refuseCeremony(
  store: Store,
  id: string,
  keyholder: KeyholderRow,
  code: string,
  message: string,
  participants: number[],
  now = new Date(),
): DkgEvent {
  return store.tx(() => {
    const r = ceremonyRow(store, id);
    const ceremony = r.ceremony;
    const self = participantOf(ceremony, keyholder);
    if (r.state === 'done' || r.state === 'failed') return {};
    const failure = `${code} reported by ${keyholder.name} (participant ${self}): ${message}`;
    store.setFrostCeremonyState(r.id, r.state, 'failed', { failure, closed_at: now.toISOString() });
    store.audit(
      'frost.dkg.failed',
      { ceremony: id, code, reportedBy: keyholder.name, participants },
      now.toISOString(),
    );
    return {
      log: `ceremony ${id} failed: ${failure}`,
      toParticipants: () => ({
        type: 'frost.dkg.failed',
        ceremony: id,
        code: code.slice(0, 64),
        message: failure.slice(0, 2048),
        participants,
      }),
    };
  });
}

/** The release coordinator stops a ceremony under way (a participant lost its state, or will not take part). */
export function cancelCeremony(store: Store, id: string, reason: string, now = new Date()): DkgEvent {
  if (!reason.trim()) throw new FrostCeremonyError('REQUEST_INVALID', 'give a reason');
  return store.tx(() => {
    const r = ceremonyRow(store, id);
    if (r.state === 'done' || r.state === 'failed')
      throw new FrostCeremonyError('CEREMONY_WRONG_STEP', `ceremony ${id} is already ${r.state}`);
    const failure = `cancelled by the release coordinator: ${reason}`;
    store.setFrostCeremonyState(id, r.state, 'failed', { failure, closed_at: now.toISOString() });
    store.audit('frost.dkg.cancelled', { ceremony: id, reason }, now.toISOString());
    return {
      log: `ceremony ${id} cancelled: ${reason}`,
      toParticipants: () => ({
        type: 'frost.dkg.failed',
        ceremony: id,
        code: 'CANCELLED',
        message: failure.slice(0, 2048),
        participants: [],
      }),
    };
  });
}

/** When a ceremony under way gives up: its --deadline, else 7 days after it opened. */
export function ceremonyDeadline(r: FrostCeremonyRow): Date {
  const d = r.purpose.deadline;
  return d ? new Date(d) : new Date(Date.parse(r.created_at) + DEFAULT_DEADLINE_MS);
}

/**
 * Fail the ceremonies still under way at their deadline, naming whom they were waiting for (a
 * DKG needs every participant; a new ceremony under the same name can then be opened).
 */
export function expireCeremonies(store: Store, now = new Date()): { id: string; ev: DkgEvent }[] {
  const out: { id: string; ev: DkgEvent }[] = [];
  for (const r of store.frostCeremonies()) {
    if (r.state === 'done' || r.state === 'failed') continue;
    const deadline = ceremonyDeadline(r);
    if (deadline.getTime() > now.getTime()) continue;
    const ceremony = r.ceremony;
    const have = new Set(store.dkgSenders(r.id, r.state));
    const waiting = ceremony.participants.filter((p) => !have.has(p.identifier));
    const failure =
      `DEADLINE: the deadline ${deadline.toISOString()} passed at step ${r.state}, waiting for ` +
      `${waiting.map((p) => p.name).join(', ')}; open the ceremony again when every participant can take part`;
    const changed = store.tx(() => {
      if (!store.setFrostCeremonyState(r.id, r.state, 'failed', { failure, closed_at: now.toISOString() }))
        return false;
      store.audit(
        'frost.dkg.expired',
        { ceremony: r.id, step: r.state, deadline: deadline.toISOString(), waiting: waiting.map((p) => p.name) },
        now.toISOString(),
      );
      return true;
    });
    if (changed)
      out.push({
        id: r.id,
        ev: {
          log: `ceremony ${r.id} failed: ${failure}`,
          toParticipants: () => ({
            type: 'frost.dkg.failed',
            ceremony: r.id,
            code: 'DEADLINE',
            message: failure.slice(0, 2048),
            participants: waiting.map((p) => p.identifier),
          }),
        },
      });
  }
  return out;
}

/** Ceremonies with every confirmation stored but no outcome (a crash in between): agree now. */
export async function resumeCeremonies(store: Store): Promise<DkgEvent[]> {
  const out: DkgEvent[] = [];
  for (const r of store.frostCeremonies()) {
    if (r.state === 'confirm' && store.dkgSenders(r.id, 'confirm').length === r.ceremony.participants.length)
      out.push(await agree(store, r));
  }
  return out;
}
