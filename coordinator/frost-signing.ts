/**
 * FROST signing of a certificate round whose CA is a FROST group: the two-round protocol over the
 * wire, run by the coordinator. Participants who have reviewed the TBS bytes send a fresh
 * commitment (frost.sign.commitment, session = the round id); the first t form an attempt, and
 * each of them gets the signing request (frost.sign.request, session `<round>.<attempt>`) with the
 * commitment list and the TBS sha256. Each share is verified on arrival (RFC 9591 5.4); a bad one
 * aborts the attempt and excludes its participant, naming them. With t good shares the signature
 * is aggregated, verified with node:crypto against the group key (aggregateSignature), and only
 * then is the certificate assembled and released. A participant that does not answer within the
 * timeout (or disconnects, or refuses) aborts the attempt; the others commit again, fresh, and the
 * next attempt takes whichever t commitments arrive. Attempts live in memory: after a restart the
 * participants simply commit again (their used nonces stay used; see signer-client/frost-store.ts).
 */
import { aggregateSignature, checkGroup, FrostError, verifySignatureShare, type FrostCommitment, type FrostGroup, type FrostSignatureShare, type FrostSignRequest } from '../protocol/frost.js';
import { sha256hex } from '../protocol/keys.js';
import { tbsBytes } from '../protocol/x509.js';
import type { ServerMessage } from '../protocol/wire.js';
import { preparedOf, releaseFrostCertificate } from './certificates.js';
import { groupOf } from './frost.js';
import type { CertRoundRow, KeyholderRow, Store } from './store.js';
import { QuorumError } from '../protocol/errors.js';

type Status = Extract<ServerMessage, { type: 'frost.sign.status' }>;

interface Attempt {
  k: number;
  /** Commitments for this attempt, before its request goes out. */
  commitments: Map<number, FrostCommitment>;
  request: FrostSignRequest | null;
  requestedAt: number;
  shares: Map<number, FrostSignatureShare>;
}

interface Session {
  round: string;
  attempt: Attempt;
  /** Commitments that arrived while an attempt was out: the next attempt starts with them. */
  next: Map<number, FrostCommitment>;
  excluded: Set<number>;
}

export class SessionError extends QuorumError<'SESSION_NOT_FOUND' | 'ROUND_NOT_OPEN' | 'CEREMONY_NOT_PARTICIPANT' | 'CEREMONY_CONFLICT'> {}

export interface SignEvent {
  log?: string;
  /** Messages for participants by name. */
  send?: { to: string; msg: ServerMessage }[];
  /** The round was released (broadcast cert.updated). */
  released?: { round: CertRoundRow; certificate: string };
  /** The sender's message was refused after the event's effects (a bad share). */
  error?: QuorumError<string>;
}

export class FrostCertSigning {
  private readonly sessions = new Map<string, Session>();

  constructor(
    private readonly store: Store,
    private readonly dataDir: string,
    private readonly timeoutMs: number,
  ) {}

  /** The round, its FROST group and its TBS bytes; SESSION_NOT_FOUND unless a FROST CA's round. */
  private context(roundId: string): { r: CertRoundRow; group: FrostGroup; tbs: Buffer } {
    const r = this.store.certRound(roundId);
    const ca = r ? this.store.ca(r.ca) : undefined;
    const ceremony = ca?.kind === 'frost' && ca.frost_ceremony ? this.store.frostCeremony(ca.frost_ceremony) : undefined;
    const group = ceremony ? groupOf(ceremony) : null;
    if (!r || !group) throw new SessionError('SESSION_NOT_FOUND', `no FROST signing session ${roundId} (not a certificate round of a FROST group CA)`);
    return { r, group: checkGroup(group), tbs: tbsBytes(preparedOf(r)) };
  }

  private session(roundId: string): Session {
    let s = this.sessions.get(roundId);
    if (!s) {
      s = { round: roundId, attempt: newAttempt(1), next: new Map(), excluded: new Set() };
      this.sessions.set(roundId, s);
    }
    return s;
  }

  private self(group: FrostGroup, keyholder: KeyholderRow): number {
    const p = group.participants.find((x) => x.name === keyholder.name);
    if (!p) throw new SessionError('CEREMONY_NOT_PARTICIPANT', `${keyholder.name} holds no share of group ${group.ceremony}`);
    return p.identifier;
  }

  status(roundId: string): Omit<Status, 'type' | 'ref'> {
    const { r, group } = this.context(roundId);
    const s = this.sessions.get(roundId);
    const a = s?.attempt;
    const committed = new Set<number>([...(a && !a.request ? a.commitments.keys() : []), ...(s ? s.next.keys() : [])]);
    return {
      session: roundId,
      state: r.state,
      attempt: a?.k ?? 1,
      groupPublicKey: group.groupPublicKey,
      threshold: group.threshold,
      committed: [...committed].sort((x, y) => x - y),
      request: a?.request ?? null,
      shared: a ? [...a.shares.keys()] : [],
      excluded: s ? [...s.excluded] : [],
      certificate: r.certificate_pem,
    };
  }

  /** Round 1: a participant's fresh commitment. */
  commit(roundId: string, keyholder: KeyholderRow, commitment: FrostCommitment): SignEvent {
    const { r, group, tbs } = this.context(roundId);
    if (r.state !== 'open') throw new SessionError('ROUND_NOT_OPEN', `certificate round ${roundId} is ${r.state}`);
    const self = this.self(group, keyholder);
    if (commitment.identifier !== self) throw new SessionError('CEREMONY_NOT_PARTICIPANT', `${keyholder.name} is participant ${self}, not ${commitment.identifier}`);
    const s = this.session(roundId);
    if (s.excluded.has(self)) throw new SessionError('CEREMONY_CONFLICT', `${keyholder.name} (participant ${self}) is excluded from session ${roundId} after a bad share or a refusal`);
    const a = s.attempt;
    if (a.request) {
      if (a.request.commitments.some((c) => c.identifier === self)) throw new SessionError('CEREMONY_CONFLICT', `${keyholder.name} is in attempt ${a.request.session}; send its share, not another commitment`);
      s.next.set(self, commitment);
      return { log: `FROST session ${roundId}: commitment from ${keyholder.name} queued for the next attempt` };
    }
    a.commitments.set(self, commitment);
    return this.maybeRequest(s, group, tbs, `commitment from ${keyholder.name}`);
  }

  private maybeRequest(s: Session, group: FrostGroup, tbs: Buffer, what: string): SignEvent {
    const a = s.attempt;
    if (a.request || a.commitments.size < group.threshold) return { log: `FROST session ${s.round}: ${what} (${a.commitments.size}/${group.threshold})` };
    const chosen = [...a.commitments.values()].slice(0, group.threshold).sort((x, y) => x.identifier - y.identifier);
    // Commitments beyond t wait for a later attempt (they are not spent).
    for (const c of [...a.commitments.values()].slice(group.threshold)) s.next.set(c.identifier, c);
    a.request = { session: `${s.round}.${a.k}`, groupPublicKey: group.groupPublicKey, messageSha256: sha256hex(tbs), commitments: chosen };
    a.requestedAt = Date.now();
    this.store.audit('frost.sign.request', { round: s.round, session: a.request.session, signers: chosen.map((c) => c.identifier), messageSha256: a.request.messageSha256 });
    return {
      log: `FROST session ${s.round}: attempt ${a.k} with ${chosen.map((c) => nameOf(group, c.identifier)).join(', ')}`,
      send: chosen.map((c) => ({ to: nameOf(group, c.identifier), msg: { type: 'frost.sign.request', request: a.request! } })),
    };
  }

  /** Round 2: a participant's share, verified on arrival; with all t, aggregate and release. */
  async share(sessionName: string, keyholder: KeyholderRow, share: FrostSignatureShare): Promise<SignEvent> {
    const roundId = sessionName.replace(/\.\d+$/, '');
    const { group, tbs } = this.context(roundId);
    const s = this.sessions.get(roundId);
    const a = s?.attempt;
    if (!s || !a?.request || a.request.session !== sessionName) throw new SessionError('SESSION_NOT_FOUND', `no open FROST signing attempt ${sessionName}${a?.request ? ` (the current one is ${a.request.session})` : ''}`);
    const self = this.self(group, keyholder);
    if (share.identifier !== self || !a.request.commitments.some((c) => c.identifier === self)) throw new SessionError('CEREMONY_NOT_PARTICIPANT', `${keyholder.name} (participant ${self}) is not a signer of attempt ${sessionName}`);
    if (a.shares.has(self)) {
      if (a.shares.get(self)!.share === share.share) return {};
      throw new SessionError('CEREMONY_CONFLICT', `${keyholder.name} already sent another share for ${sessionName}`);
    }
    if (!verifySignatureShare(group, a.request, tbs, share)) {
      s.excluded.add(self);
      const ev = this.abort(s, group, `the signature share of ${keyholder.name} (participant ${self}) does not verify (RFC 9591 5.4)`, [self]);
      this.store.audit('frost.sign.bad-share', { round: roundId, session: sessionName, participant: self, keyholder: keyholder.name });
      return { ...ev, error: new FrostError('FROST_BAD_SIGNATURE_SHARE', `your signature share for ${sessionName} does not verify; attempt aborted`, [self]) };
    }
    a.shares.set(self, share);
    if (a.shares.size < a.request.commitments.length) return { log: `FROST session ${roundId}: share from ${keyholder.name} (${a.shares.size}/${a.request.commitments.length})` };
    const sig = aggregateSignature(group, a.request, tbs, [...a.shares.values()]);
    const signers = a.request.commitments.map((c) => nameOf(group, c.identifier));
    const { round, issued } = await releaseFrostCertificate(this.store, this.dataDir, roundId, sig, signers);
    this.sessions.delete(roundId);
    return { log: `released certificate round ${roundId} signed by FROST group ${group.ceremony} (${signers.join(', ')}): serial ${issued.serial}`, released: { round, certificate: issued.fullchain } };
  }

  /** A participant refuses (e.g. a nonce it will not reuse): abort and exclude it. */
  refuse(roundId: string, keyholder: KeyholderRow, message: string): SignEvent {
    const { group } = this.context(roundId.replace(/\.\d+$/, ''));
    const s = this.session(roundId.replace(/\.\d+$/, ''));
    const self = this.self(group, keyholder);
    s.excluded.add(self);
    s.next.delete(self);
    return this.abort(s, group, `${keyholder.name} (participant ${self}) refused: ${message}`, [self]);
  }

  private abort(s: Session, group: FrostGroup, reason: string, participants: number[]): SignEvent {
    const a = s.attempt;
    const told = a.request ? a.request.commitments.map((c) => c.identifier) : [...a.commitments.keys()];
    const session = a.request?.session ?? `${s.round}.${a.k}`;
    this.store.audit('frost.sign.abort', { round: s.round, session, reason, participants });
    s.attempt = newAttempt(a.k + 1);
    for (const [id, c] of s.next) if (!s.excluded.has(id)) s.attempt.commitments.set(id, c);
    s.next.clear();
    const ev = this.maybeRequest(s, group, this.context(s.round).tbs, 'queued commitments');
    return {
      log: `FROST session ${s.round}: attempt ${a.k} aborted: ${reason}${ev.log ? `; ${ev.log}` : ''}`,
      send: [...told.map((id) => ({ to: nameOf(group, id), msg: { type: 'frost.sign.abort', session, reason: reason.slice(0, 2048), participants } as ServerMessage })), ...(ev.send ?? [])],
    };
  }

  /** Attempts whose signers did not all answer in time are aborted, naming who is missing. */
  tick(now = Date.now()): SignEvent[] {
    const out: SignEvent[] = [];
    for (const s of [...this.sessions.values()]) {
      let ctx;
      try {
        ctx = this.context(s.round);
      } catch {
        this.sessions.delete(s.round);
        continue;
      }
      if (ctx.r.state !== 'open') {
        this.sessions.delete(s.round);
        continue;
      }
      const a = s.attempt;
      if (a.request && now - a.requestedAt > this.timeoutMs) {
        const missing = a.request.commitments.map((c) => c.identifier).filter((id) => !a.shares.has(id));
        out.push(this.abort(s, ctx.group, `no signature share from ${missing.map((id) => nameOf(ctx.group, id)).join(', ')} within ${this.timeoutMs} ms`, missing));
      }
    }
    return out;
  }
}

function newAttempt(k: number): Attempt {
  return { k, commitments: new Map(), request: null, requestedAt: 0, shares: new Map() };
}

function nameOf(group: FrostGroup, id: number): string {
  return group.participants.find((p) => p.identifier === id)?.name ?? `participant ${id}`;
}

