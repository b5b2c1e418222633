/**
 * FROST signing sessions run by the coordinator: the two-round protocol over the wire for a
 * certificate round whose CA is a FROST group (session = the round id), and for a root or targets
 * round that needs a FROST group's key (session = `<round id>.<ceremony id>`, one per group the
 * round needs). Participants who have reviewed the bytes send a fresh commitment
 * (frost.sign.commitment); the first t form an attempt, and each of them gets the signing request
 * (frost.sign.request, attempt `<session>.<k>`) with the commitment list and the message's sha256
 * (the TBS bytes, or the round's canonical metadata bytes). Each commitment is checked on arrival
 * (RFC 9591 3.1: no identity, small-order or non-canonical element) and each share too (5.4, and a
 * scalar below the group order); an invalid one excludes its participant from the session, naming
 * them, and a bad share aborts the attempt. A participant that reports another's commitment is
 * believed only as far as the coordinator's own check of that commitment goes. With t good
 * shares the signature is aggregated and verified with node:crypto against the group key
 * (aggregateSignature); only then is the certificate assembled and released, or the signature
 * stored as the group key's signature of the metadata round (submitSignature verifies it again,
 * as for any keyholder), after which the round is released when every threshold is met. A
 * participant that does not answer within the timeout (or disconnects, or refuses) aborts the
 * attempt and is left out of the session's later attempts; the others commit again, fresh, and the
 * next attempt takes whichever t commitments arrive, so t honest, responsive participants finish.
 * Attempts live in memory: after a restart the participants simply commit again (their used nonces
 * stay used; see signer-client/frost-store.ts).
 */
import {
  aggregateSignature,
  checkCommitment,
  checkGroup,
  FrostError,
  verifySignatureShare,
  type FrostCommitment,
  type FrostGroup,
  type FrostSignatureShare,
  type FrostSignRequest,
} from '../protocol/frost.js';
import { encodeSig, sha256hex } from '../protocol/keys.js';
import { tbsBytes } from '../protocol/x509.js';
import type { RoundState, ServerMessage } from '../protocol/wire.js';
import { preparedOf, releaseFrostCertificate } from './certificates.js';
import { usableGroup } from './frost.js';
import { needsOf, repoState, submitSignature } from './rounds.js';
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
  /** The session's name (a certificate round id, or `<round id>.<ceremony id>`). */
  round: string;
  attempt: Attempt;
  /** Commitments that arrived while an attempt was out: the next attempt starts with them. */
  next: Map<number, FrostCommitment>;
  excluded: Set<number>;
}

export class SessionError extends QuorumError<
  'SESSION_NOT_FOUND' | 'SESSION_DONE' | 'ROUND_NOT_OPEN' | 'CEREMONY_NOT_PARTICIPANT' | 'CEREMONY_CONFLICT'
> {}

/** What a session signs and what happens to the signature. */
interface Context {
  state: RoundState;
  group: FrostGroup;
  message: Buffer;
  /** The group's signature is in (the certificate released, the metadata signature stored). */
  done: boolean;
  certificate: string | null;
  finish(sig: Buffer, signers: string[]): Promise<SignEvent>;
}

export interface SignEvent {
  log?: string;
  /** Messages for participants by name. */
  send?: { to: string; msg: ServerMessage }[];
  /** The round was released (broadcast cert.updated). */
  released?: { round: CertRoundRow; certificate: string };
  /** A metadata round got its group signature: try to release it, tell everyone. */
  roundSigned?: string;
  /** The sender's message was refused after the event's effects (a bad share). */
  error?: QuorumError;
}

export class FrostSigning {
  private readonly sessions = new Map<string, Session>();
  /** Agreed groups, checked once (a done ceremony's group never changes), by ceremony id. */
  private readonly checked = new Map<string, FrostGroup>();

  private checkedGroup(ceremony: string, group: FrostGroup): FrostGroup {
    let g = this.checked.get(ceremony);
    if (!g) this.checked.set(ceremony, (g = checkGroup(group)));
    return g;
  }

  constructor(
    private readonly store: Store,
    private readonly dataDir: string,
    private readonly timeoutMs: number,
  ) {}

  /** The session's round, group and message; SESSION_NOT_FOUND unless it names one. */
  private context(base: string): Context {
    const cert = this.store.certRound(base);
    if (cert) return this.certContext(cert);
    const dot = base.indexOf('.');
    const round = dot > 0 ? this.store.round(base.slice(0, dot)) : undefined;
    if (round) {
      const ceremony = base.slice(dot + 1);
      if (this.store.frostCeremony(ceremony)?.state !== 'done')
        throw new SessionError('SESSION_NOT_FOUND', `no agreed FROST group from ceremony ${ceremony}`);
      // FROST_GROUP_UNAUTHENTICATED for a group agreed without signed transcripts
      const g = usableGroup(this.store, ceremony);
      const needs = needsOf(round, repoState(this.store), this.store);
      const need = needs.find((n) => n.keys.has(g.fingerprint));
      if (!need)
        throw new SessionError(
          'SESSION_NOT_FOUND',
          `round ${round.id} does not need the key of FROST group ${g.name} (${ceremony})`,
        );
      const keyid = need.keys.get(g.fingerprint)!.keyids[0]!;
      const store = this.store;
      return {
        state: round.state,
        group: this.checkedGroup(g.ceremony, g.group),
        message: round.canonical,
        done: !!store.signature(round.id, g.fingerprint),
        certificate: null,
        async finish(sig, signers) {
          const label = `frost:${g.name} (${signers.join(', ')})`;
          submitSignature(store, {
            round: round.id,
            keyid,
            sig: encodeSig(sig, store.dialect()),
            sha256: round.sha256,
            label,
          });
          return {
            log: `round ${round.id}: signature of FROST group ${g.name} by ${signers.join(', ')} stored`,
            roundSigned: round.id,
          };
        },
      };
    }
    throw new SessionError(
      'SESSION_NOT_FOUND',
      `no FROST signing session ${base} (a certificate round of a FROST group CA, or ROUND.CEREMONY for a root ` +
        "or targets round that needs a FROST group's key)",
    );
  }

  private certContext(r: CertRoundRow): Context {
    const ca = this.store.ca(r.ca);
    if (ca?.kind !== 'frost' || !ca.frost_ceremony)
      throw new SessionError(
        'SESSION_NOT_FOUND',
        `no FROST signing session ${r.id} (not a certificate round of a FROST group CA)`,
      );
    // FROST_GROUP_UNAUTHENTICATED for a group agreed without signed transcripts
    const { group } = usableGroup(this.store, ca.frost_ceremony);
    const { store, dataDir } = this;
    return {
      state: r.state,
      group: this.checkedGroup(ca.frost_ceremony, group),
      message: tbsBytes(preparedOf(r)),
      done: r.state === 'released',
      certificate: r.certificate_pem,
      async finish(sig, signers) {
        const { round, issued } = await releaseFrostCertificate(store, dataDir, r.id, sig, signers);
        return {
          log:
            `released certificate round ${r.id} signed by FROST group ${group.ceremony} (${signers.join(', ')}): ` +
            `serial ${issued.serial}`,
          released: { round, certificate: issued.fullchain },
        };
      },
    };
  }

  /** The session a name refers to (itself, or for an attempt `<session>.<k>`, the session) and its context. */
  private resolve(name: string): { base: string; ctx: Context } {
    try {
      return { base: name, ctx: this.context(name) };
    } catch (e) {
      const m = /^(.*)\.\d+$/.exec(name);
      if (!m) throw e;
      return { base: m[1]!, ctx: this.context(m[1]!) };
    }
  }

  baseOf(name: string): string {
    return this.resolve(name).base;
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
    if (!p)
      throw new SessionError('CEREMONY_NOT_PARTICIPANT', `${keyholder.name} holds no share of group ${group.ceremony}`);
    return p.identifier;
  }

  status(base: string): Omit<Status, 'type' | 'ref'> {
    const ctx = this.context(base);
    const s = this.sessions.get(base);
    const a = s?.attempt;
    const committed = new Set<number>([...(a && !a.request ? a.commitments.keys() : []), ...(s ? s.next.keys() : [])]);
    return {
      session: base,
      state: ctx.state,
      attempt: a?.k ?? 1,
      groupPublicKey: ctx.group.groupPublicKey,
      threshold: ctx.group.threshold,
      committed: [...committed].sort((x, y) => x - y),
      request: a?.request ?? null,
      shared: a ? [...a.shares.keys()] : [],
      excluded: s ? [...s.excluded] : [],
      certificate: ctx.certificate,
      done: ctx.done,
    };
  }

  /** Round 1: a participant's fresh commitment. */
  commit(base: string, keyholder: KeyholderRow, commitment: FrostCommitment): SignEvent {
    const ctx = this.context(base);
    if (ctx.state !== 'open') throw new SessionError('ROUND_NOT_OPEN', `round ${base.split('.')[0]} is ${ctx.state}`);
    if (ctx.done)
      throw new SessionError(
        'SESSION_DONE',
        `FROST group ${ctx.group.ceremony} has already signed in session ${base}; nothing more to sign`,
      );
    const self = this.self(ctx.group, keyholder);
    if (commitment.identifier !== self)
      throw new SessionError(
        'CEREMONY_NOT_PARTICIPANT',
        `${keyholder.name} is participant ${self}, not ${commitment.identifier}`,
      );
    const s = this.session(base);
    if (s.excluded.has(self))
      throw new SessionError(
        'CEREMONY_CONFLICT',
        `${keyholder.name} (participant ${self}) is excluded from session ${base} after an invalid commitment ` +
          'or share, a refusal, or no answer in time',
      );
    try {
      checkCommitment(ctx.group, commitment); // RFC 9591 3.1 element deserialisation, before anyone sees it
    } catch (e) {
      if (!(e instanceof FrostError)) throw e;
      s.excluded.add(self);
      s.next.delete(self);
      s.attempt.commitments.delete(self);
      this.store.audit('frost.sign.bad-commitment', {
        round: base,
        participant: self,
        keyholder: keyholder.name,
        code: e.code,
      });
      throw new FrostError(e.code, `${e.message}; ${keyholder.name} is excluded from session ${base}`, [self]);
    }
    const a = s.attempt;
    if (a.request) {
      if (a.request.commitments.some((c) => c.identifier === self))
        throw new SessionError(
          'CEREMONY_CONFLICT',
          `${keyholder.name} is in attempt ${a.request.session}; send its share, not another commitment`,
        );
      s.next.set(self, commitment);
      return { log: `FROST session ${base}: commitment from ${keyholder.name} queued for the next attempt` };
    }
    a.commitments.set(self, commitment);
    return this.maybeRequest(s, ctx, `commitment from ${keyholder.name}`);
  }

  private maybeRequest(s: Session, ctx: Context, what: string): SignEvent {
    const { group } = ctx;
    const a = s.attempt;
    if (a.request || a.commitments.size < group.threshold)
      return { log: `FROST session ${s.round}: ${what} (${a.commitments.size}/${group.threshold})` };
    const chosen = [...a.commitments.values()].slice(0, group.threshold).sort((x, y) => x.identifier - y.identifier);
    // Commitments beyond t wait for a later attempt (they are not spent).
    for (const c of [...a.commitments.values()].slice(group.threshold)) s.next.set(c.identifier, c);
    a.request = {
      session: `${s.round}.${a.k}`,
      groupPublicKey: group.groupPublicKey,
      messageSha256: sha256hex(ctx.message),
      commitments: chosen,
    };
    a.requestedAt = Date.now();
    this.store.audit('frost.sign.request', {
      round: s.round,
      session: a.request.session,
      signers: chosen.map((c) => c.identifier),
      messageSha256: a.request.messageSha256,
    });
    return {
      log: `FROST session ${s.round}: attempt ${a.k} with ${chosen.map((c) => nameOf(group, c.identifier)).join(', ')}`,
      send: chosen.map((c) => ({
        to: nameOf(group, c.identifier),
        msg: { type: 'frost.sign.request', request: a.request! },
      })),
    };
  }

  /** Round 2: a participant's share, verified on arrival; with all t, aggregate, verify, finish. */
  async share(attempt: string, keyholder: KeyholderRow, share: FrostSignatureShare): Promise<SignEvent> {
    const { base, ctx } = this.resolve(attempt);
    const { group } = ctx;
    const s = this.sessions.get(base);
    const a = s?.attempt;
    if (!s || !a?.request || a.request.session !== attempt)
      throw new SessionError(
        'SESSION_NOT_FOUND',
        `no open FROST signing attempt ${attempt}${a?.request ? ` (the current one is ${a.request.session})` : ''}`,
      );
    const self = this.self(group, keyholder);
    if (share.identifier !== self || !a.request.commitments.some((c) => c.identifier === self))
      throw new SessionError(
        'CEREMONY_NOT_PARTICIPANT',
        `${keyholder.name} (participant ${self}) is not a signer of attempt ${attempt}`,
      );
    if (a.shares.has(self)) {
      if (a.shares.get(self)!.share === share.share) return {};
      throw new SessionError('CEREMONY_CONFLICT', `${keyholder.name} already sent another share for ${attempt}`);
    }
    if (!verifySignatureShare(group, a.request, ctx.message, share)) {
      s.excluded.add(self);
      const ev = this.abort(
        s,
        ctx,
        `the signature share of ${keyholder.name} (participant ${self}) does not verify (RFC 9591 5.4)`,
        [self],
      );
      this.store.audit('frost.sign.bad-share', {
        round: base,
        session: attempt,
        participant: self,
        keyholder: keyholder.name,
      });
      return {
        ...ev,
        error: new FrostError(
          'FROST_BAD_SIGNATURE_SHARE',
          `your signature share for ${attempt} does not verify; attempt aborted`,
          [self],
        ),
      };
    }
    a.shares.set(self, share);
    if (a.shares.size < a.request.commitments.length)
      return {
        log: `FROST session ${base}: share from ${keyholder.name} (${a.shares.size}/${a.request.commitments.length})`,
      };
    // Every share was verified on arrival; the aggregate is still verified with node:crypto.
    const sig = aggregateSignature(group, a.request, ctx.message, [...a.shares.values()], {
      verifyShares: 'on-failure',
    });
    const signers = a.request.commitments.map((c) => nameOf(group, c.identifier));
    const ev = await ctx.finish(sig, signers);
    this.sessions.delete(base);
    return ev;
  }

  /**
   * A participant refuses the attempt. If it names other participants (their commitment in the
   * request failed its checks), the coordinator checks those commitments itself: the ones that
   * fail are excluded, never the reporter. A refusal about itself (a nonce it will not reuse, bytes
   * it did not review), or an accusation the commitments do not bear out, excludes the reporter.
   */
  refuse(name: string, keyholder: KeyholderRow, code: string, message: string, named: number[] = []): SignEvent {
    const { base, ctx } = this.resolve(name);
    const s = this.session(base);
    const self = this.self(ctx.group, keyholder);
    const a = s.attempt;
    const listed = a.request ? a.request.commitments : [...a.commitments.values()];
    const culprits = listed
      .filter((c) => c.identifier !== self && named.includes(c.identifier))
      .filter((c) => {
        try {
          checkCommitment(ctx.group, c);
          return false;
        } catch {
          return true;
        }
      })
      .map((c) => c.identifier);
    const out = culprits.length ? culprits : [self];
    for (const id of out) {
      s.excluded.add(id);
      s.next.delete(id);
    }
    this.store.audit('frost.sign.refused', { round: base, reportedBy: keyholder.name, code, named, excluded: out });
    const why = culprits.length
      ? `${keyholder.name} (participant ${self}) reported ` +
        `${culprits.map((id) => nameOf(ctx.group, id)).join(', ')}: ${code}: ${message}`
      : `${keyholder.name} (participant ${self}) refused: ${code}: ${message}`;
    return this.abort(s, ctx, why, out);
  }

  private abort(s: Session, ctx: Context, reason: string, participants: number[]): SignEvent {
    const { group } = ctx;
    const a = s.attempt;
    const told = a.request ? a.request.commitments.map((c) => c.identifier) : [...a.commitments.keys()];
    const session = a.request?.session ?? `${s.round}.${a.k}`;
    this.store.audit('frost.sign.abort', { round: s.round, session, reason, participants });
    s.attempt = newAttempt(a.k + 1);
    for (const [id, c] of s.next) if (!s.excluded.has(id)) s.attempt.commitments.set(id, c);
    s.next.clear();
    const ev = this.maybeRequest(s, ctx, 'queued commitments');
    return {
      log: `FROST session ${s.round}: attempt ${a.k} aborted: ${reason}${ev.log ? `; ${ev.log}` : ''}`,
      send: [
        ...told.map((id) => ({
          to: nameOf(group, id),
          msg: { type: 'frost.sign.abort', session, reason: reason.slice(0, 2048), participants } as ServerMessage,
        })),
        ...(ev.send ?? []),
      ],
    };
  }

  /** Attempts whose signers did not all answer in time are aborted, naming who is missing. */
  tick(now = Date.now()): SignEvent[] {
    const out: SignEvent[] = [];
    for (const s of [...this.sessions.values()]) {
      let ctx: Context;
      try {
        ctx = this.context(s.round);
      } catch {
        this.sessions.delete(s.round);
        continue;
      }
      if (ctx.state !== 'open' || ctx.done) {
        this.sessions.delete(s.round);
        continue;
      }
      const a = s.attempt;
      if (a.request && now - a.requestedAt > this.timeoutMs) {
        // Committed, then silent: left out of this session's later attempts, so that t responsive
        // participants are not held up by one that commits every time and never answers.
        const missing = a.request.commitments.map((c) => c.identifier).filter((id) => !a.shares.has(id));
        for (const id of missing) {
          s.excluded.add(id);
          s.next.delete(id);
        }
        this.store.audit('frost.sign.timeout', { round: s.round, session: a.request.session, excluded: missing });
        out.push(
          this.abort(
            s,
            ctx,
            `no signature share from ${missing.map((id) => nameOf(ctx.group, id)).join(', ')} within ` +
              `${this.timeoutMs} ms; excluded from session ${s.round}`,
            missing,
          ),
        );
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
