/**
 * What the admin routes, the signer socket and the timers share: the store, one queue for the
 * operations that change state (a release awaits signing in between, so they run one at a time),
 * the connected signers, and what they are told when a round opens, moves or is released and when
 * a FROST ceremony or signing session moves. Also the work that follows from the clock alone:
 * recovery at start and the expiry of whatever passed its deadline.
 */
import type { KeyObject } from 'node:crypto';
import type { Dialect } from '../protocol/canonical.js';
import { publicKeyFrom, type PublicKey } from '../protocol/keys.js';
import type { CertRoundInfo, DelegationPayload, RoundInfo, ServerMessage } from '../protocol/wire.js';
import { delegatedFileName } from '../protocol/delegations.js';
import { BinsChangeSchema, findDelegation, type BinsChange } from './delegated.js';
import { certRoundInfo, expireCertRounds, republishCertificates } from './certificates.js';
import { ceremonyOf, expireCeremonies, resumeCeremonies, type DkgEvent } from './frost.js';
import { FrostSigning, type SignEvent } from './frost-signing.js';
import { DEFAULT_POLICY, refreshOnline, renewalsDue, type LivingPolicy, type RefreshResult } from './living.js';
import { Outbox, type OutboxOptions } from './notify.js';
import { republishLatest, tryRelease } from './release.js';
import { expireRounds, openRound, repoState, roundSummary } from './rounds.js';
import { roundBins, type CertRoundRow, type RoundRow, type Store } from './store.js';

/** The connected signers, as the operations see them (connections.ts). */
export interface SignerChannel {
  /** To every connection. */
  broadcast(msg: ServerMessage): void;
  /** To every connection of keyholder `name`. */
  sendTo(name: string, msg: ServerMessage): void;
  isConnected(name: string): boolean;
  /** Close every connection of keyholder `name` (with a WebSocket close code). */
  disconnect(name: string, code: number, reason: string): void;
}

export interface ContextOptions {
  store: Store;
  dataDir: string;
  serverId: string;
  onlineKey: KeyObject | null;
  /** ms a FROST signer has to send its share once the request is out. */
  frostSignTimeoutMs: number;
  signers: SignerChannel;
  log: (line: string) => void;
  /** How long online roles live, how early offline roles are renewed (living.ts); the defaults if absent. */
  policy?: LivingPolicy;
  /** The coordinator's clock (timers.ts): what scheduled work takes as now. */
  now?: () => Date;
  /** Webhook delivery settings (notify.ts); the defaults if absent. */
  notify?: Omit<OutboxOptions, 'serverId' | 'log'>;
}

/** A round's payload, with the proposed root a linked targets round is signed under. */
export interface RoundPayload {
  round: RoundInfo;
  signed: string;
  linkedRoot?: { round: RoundInfo; signed: string };
  delegation?: DelegationPayload;
  bins?: BinsChange;
}

export class ServerContext {
  readonly store: Store;
  readonly dataDir: string;
  readonly serverId: string;
  readonly dialect: Dialect;
  readonly onlineKey: KeyObject | null;
  readonly onlinePublic: PublicKey | null;
  readonly frostSigning: FrostSigning;
  readonly signers: SignerChannel;
  readonly log: (line: string) => void;
  readonly policy: LivingPolicy;
  readonly now: () => Date;
  /** Webhooks and their outbox; notifications are queued with the audit rows of their events. */
  readonly outbox: Outbox;
  private queue: Promise<unknown> = Promise.resolve();
  /** The last online refresh's failure, until a refresh succeeds. */
  private refreshError: string | null = null;

  constructor(o: ContextOptions) {
    this.store = o.store;
    this.dataDir = o.dataDir;
    this.serverId = o.serverId;
    this.dialect = o.store.dialect();
    this.onlineKey = o.onlineKey;
    this.onlinePublic = o.onlineKey ? publicKeyFrom(o.onlineKey) : null;
    this.frostSigning = new FrostSigning(o.store, o.dataDir, o.frostSignTimeoutMs);
    this.signers = o.signers;
    this.log = o.log;
    this.policy = o.policy ?? DEFAULT_POLICY;
    this.now = o.now ?? (() => new Date());
    this.outbox = new Outbox(o.store, { ...o.notify, serverId: o.serverId, log: o.log });
  }

  /** Run `fn` after every operation queued before it (one state-changing operation at a time). */
  serial<T>(fn: () => T | Promise<T>): Promise<T> {
    const p = this.queue.then(fn);
    this.queue = p.catch(() => undefined);
    return p;
  }

  /** Resolves once the operations queued so far are done. */
  async idle(): Promise<void> {
    await this.queue.catch(() => undefined);
  }

  roundInfo(r: RoundRow): RoundInfo {
    return roundSummary(this.store, r);
  }

  certInfo(r: CertRoundRow): CertRoundInfo {
    return certRoundInfo(this.store, r);
  }

  payloadOf(r: RoundRow): RoundPayload {
    const linked = r.role === 'targets' && r.linked_round ? this.store.round(r.linked_round) : undefined;
    return {
      round: this.roundInfo(r),
      signed: r.signed_json,
      ...(linked ? { linkedRoot: { round: this.roundInfo(linked), signed: linked.signed_json } } : {}),
      ...(r.delegated ? { delegation: this.delegationOf(r.delegated) } : {}),
      ...(r.bins_json ? { bins: roundBins(r, BinsChangeSchema)! } : {}),
    };
  }

  /**
   * The released files a signer verifies a delegated role's round with: the delegating roles'
   * files below targets, and the role's own released file. Empty when nothing delegates it now
   * (the signer then refuses: DELEGATION_CHAIN_INVALID).
   */
  delegationOf(name: string): DelegationPayload {
    const st = repoState(this.store);
    const d = findDelegation(st.files, name, st.dialect);
    if (!d) return { chain: [], base: null };
    return {
      chain: d.chain
        .slice(1)
        .map((n) => ({ name: n, file: st.files[delegatedFileName(n, st.dialect)]!.toString('utf8') })),
      base: d.released ? d.released.bytes.toString('utf8') : null,
    };
  }

  /** The released roots after version `afterRootVersion`, oldest first, and the released targets. */
  released(afterRootVersion: number): { roots: { version: number; file: string }[]; targets: string | null } {
    const st = repoState(this.store);
    const roots: { version: number; file: string }[] = [];
    for (const [name, bytes] of Object.entries(st.files)) {
      const m = /^(\d+)\.root\.json$/.exec(name);
      if (m && Number(m[1]) > afterRootVersion) roots.push({ version: Number(m[1]), file: bytes.toString('utf8') });
    }
    roots.sort((a, b) => a.version - b.version);
    return { roots, targets: st.files['targets.json']?.toString('utf8') ?? null };
  }

  /** Release the round if complete; true when it was released now. */
  async release(roundId: string): Promise<boolean> {
    try {
      const res = await tryRelease(this.store, this.dataDir, this.onlineKey, roundId, this.policy.expiry);
      if (!res) return false;
      const r = this.store.round(roundId)!;
      this.log(`released ${roundId}${r.linked_round ? ` with ${r.linked_round}` : ''} as release ${res.seq}`);
      this.signers.broadcast({ type: 'round.updated', round: this.roundInfo(r) });
      if (r.linked_round)
        this.signers.broadcast({ type: 'round.updated', round: this.roundInfo(this.store.round(r.linked_round)!) });
      return true;
    } catch (e) {
      this.log(`release of ${roundId} refused: ${(e as Error).message}`);
      return false;
    }
  }

  /**
   * Re-sign the online roles if they are due at `now` (living.ts), in the queue every release goes
   * through; null when nothing was due. A failure is logged and audited, and thrown.
   */
  refreshOnline(now = this.now()): Promise<RefreshResult | null> {
    return this.serial(async () => {
      try {
        const r = await refreshOnline(this.store, this.dataDir, this.onlineKey, this.policy, now);
        this.refreshError = null;
        if (r)
          this.log(
            `refreshed ${r.roles.join(' and ')} as release ${r.seq}: timestamp v${r.timestamp.version} until ` +
              `${r.timestamp.expires}, snapshot v${r.snapshot.version} until ${r.snapshot.expires}`,
          );
        return r;
      } catch (e) {
        const error = (e as Error).message;
        // Audited (and notified) once per distinct failure, not at every check while it lasts.
        const same = error.replace(/ \(evaluated at [^)]*\)/g, '');
        if (same !== this.refreshError) {
          this.log(`online refresh failed: ${error}`);
          this.store.audit('online.refresh_failed', { error }, now.toISOString());
        }
        this.refreshError = same;
        throw e;
      }
    });
  }

  /**
   * Open a renewal round for root or targets when it is within its renew-before window and none is
   * open (living.ts), audited as opened by the coordinator; connected keyholders are told. Returns
   * the rounds opened. A renewal that cannot be opened is logged and tried again at the next turn.
   */
  renewExpiring(now = this.now()): Promise<RoundInfo[]> {
    return this.serial(() => {
      const opened: RoundInfo[] = [];
      for (const r of renewalsDue(this.store, this.policy, now)) {
        try {
          const row = openRound(
            this.store,
            {
              role: r.role,
              reason: r.reason,
              deadline: new Date(now.getTime() + 7 * 86_400_000),
              signed: r.signed,
              online: this.onlinePublic ?? undefined,
              openedBy: 'coordinator',
              resignTargets: r.resignTargets,
            },
            now,
          );
          const info = this.roundInfo(row);
          this.log(`opened ${row.id} (by the coordinator): ${r.reason}`);
          this.signers.broadcast({ type: 'round.opened', round: info });
          opened.push(info);
          if (row.linked_round) {
            const linked = this.roundInfo(this.store.round(row.linked_round)!);
            this.signers.broadcast({ type: 'round.opened', round: linked });
            opened.push(linked);
          }
        } catch (e) {
          this.log(`renewal of ${r.role} could not be opened: ${(e as Error).message}`);
        }
      }
      return opened;
    });
  }

  /**
   * Open rounds whose deadline is within 24 hours of `now`, each audited once as round.expiring
   * (which webhooks asking for it are told).
   */
  warnDeadlines(now = this.now()): Promise<void> {
    return this.serial(() => {
      for (const r of this.store.rounds('open')) {
        if (Date.parse(r.deadline) - now.getTime() > 86_400_000) continue;
        const key = `round_expiring_told:${r.id}`;
        if (this.store.getMeta(key)) continue;
        this.store.tx(() => {
          this.store.setMeta(key, now.toISOString());
          this.store.audit(
            'round.expiring',
            { round: r.id, role: r.role, version: r.version, deadline: r.deadline },
            now.toISOString(),
          );
        });
      }
    });
  }

  /** Tell a ceremony's connected participants what happened (each gets its own message). */
  announceDkg(id: string, ev: DkgEvent): void {
    if (ev.log) this.log(ev.log);
    if (ev.toParticipants) {
      const ceremony = ceremonyOf(this.store.frostCeremony(id)!);
      for (const p of ceremony.participants) {
        const msg = ev.toParticipants(p);
        if (msg) this.signers.sendTo(p.name, msg);
      }
    }
    if (ev.certRound) this.signers.broadcast({ type: 'cert.opened', round: this.certInfo(ev.certRound) });
  }

  /** Relay a FROST signing session's messages to its participants; announce a released certificate. */
  announceSign(ev: SignEvent): void {
    if (ev.log) this.log(ev.log);
    for (const { to, msg } of ev.send ?? []) this.signers.sendTo(to, msg);
    if (ev.released) this.signers.broadcast({ type: 'cert.updated', round: this.certInfo(ev.released.round) });
  }

  /**
   * Crash recovery: publish the latest release, expire overdue rounds, release complete ones, and
   * finish DKG ceremonies whose last confirmation was stored just before a crash.
   */
  async recover(): Promise<void> {
    republishLatest(this.store, this.dataDir);
    republishCertificates(this.store, this.dataDir);
    await this.serial(async () => {
      expireRounds(this.store, this.now());
      expireCertRounds(this.store);
      for (const r of this.store.rounds('open')) await this.release(r.id);
      for (const ev of await resumeCeremonies(this.store)) if (ev.log) this.log(ev.log);
      for (const { ev } of expireCeremonies(this.store)) if (ev.log) this.log(ev.log);
    });
  }

  /** Rounds, certificate rounds, FROST signing attempts and DKG ceremonies past their deadline at `now`. */
  expireDue(now: Date): void {
    for (const r of expireRounds(this.store, now)) {
      this.log(`round ${r.id} expired at its deadline ${r.deadline}`);
      this.signers.broadcast({ type: 'round.updated', round: this.roundInfo(r) });
    }
    for (const r of expireCertRounds(this.store, now)) {
      this.log(`certificate round ${r.id} expired at its deadline ${r.deadline}`);
      this.signers.broadcast({ type: 'cert.updated', round: this.certInfo(r) });
    }
    for (const ev of this.frostSigning.tick(now.getTime())) this.announceSign(ev);
    for (const { id, ev } of expireCeremonies(this.store, now)) this.announceDkg(id, ev);
  }
}
