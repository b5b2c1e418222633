/**
 * What strangers and keyholders can make the coordinator spend, bounded (limits in
 * protocol/limits.ts). Strangers: authentication challenges outstanding per source address, failed
 * authentications per source per minute (then AUTH_THROTTLED until the minute is over), and the
 * audit of failed authentications aggregated, so that a flood neither grows the audit table nor
 * costs an fsync per request: a source's first failure is written at once, the rest as one row per
 * source per interval with their count. Keyholders: connections at once, and backpressure on a
 * socket whose replies are not being read (it is no longer read from, and dropped past a limit).
 * A source is an IPv4 address, or an IPv6 /64 (one host holds a whole /64).
 */
import crypto from 'node:crypto';
import net from 'node:net';
import type { WebSocket } from 'ws';
import { QuorumError, type Codes } from '../protocol/errors.js';
import { MINUTE_MS, SECOND_MS } from '../protocol/time.js';
import type { Store } from './store.js';

export type GuardCode = Codes<
  | 'TOO_MANY_CHALLENGES' // a source asked for more challenges than it can have outstanding
  | 'AUTH_THROTTLED' // a source failed authentication too often this minute
  | 'TOO_MANY_CONNECTIONS' // a keyholder already holds the most connections at once
>;

/** A refusal of the guard (transient: HTTP 429), with the seconds after which to retry. */
export class GuardError extends QuorumError<GuardCode> {
  constructor(
    code: GuardCode,
    message: string,
    readonly retryAfterS: number,
  ) {
    super(code, message);
  }
}

export interface GuardLimits {
  maxChallengesPerSource: number;
  maxPendingChallenges: number;
  challengeTtlMs: number;
  failedAuthPerMinute: number;
  authAuditIntervalMs: number;
  /** Sources whose counters are kept at once; beyond, the stalest are forgotten. */
  maxSources: number;
}

/** The source of a remote address: the address itself (IPv4-mapped made IPv4), or its IPv6 /64. */
export function sourceOf(remote: string | undefined): string {
  if (!remote) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(remote)?.[1];
  if (mapped) return mapped;
  if (!net.isIPv6(remote)) return remote;
  const [head = '', tail = ''] = remote.toLowerCase().split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = remote.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

interface Failures {
  /** Start of the current minute of counting, and failures in it. */
  windowStart: number;
  inWindow: number;
}

interface AuditBucket {
  kind: string;
  source: string;
  count: number;
  codes: Record<string, number>;
  keys: string[];
  from: string;
  to: string;
}

export class AuthGuard {
  /** nonce -> when it expires and whose it is */
  private readonly challenges = new Map<string, { exp: number; source: string }>();
  private readonly outstanding = new Map<string, number>();
  private readonly failures = new Map<string, Failures>();
  /** Failures counted since their source's first row, written at the interval's end. */
  private readonly audit = new Map<string, AuditBucket>();
  /** Sources whose first failure of an interval is already written. */
  private readonly announced = new Set<string>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly store: Store,
    private readonly limits: GuardLimits,
    private readonly now: () => number = Date.now,
  ) {
    this.timer = setInterval(() => this.flush(), limits.authAuditIntervalMs);
    this.timer.unref();
  }

  /** A fresh single-use nonce for `remote`, or GuardError when it may not have one now. */
  challenge(remote: string | undefined): string {
    const source = sourceOf(remote);
    this.checkThrottle(source);
    const now = this.now();
    this.expire(now);
    const mine = this.outstanding.get(source) ?? 0;
    if (mine >= this.limits.maxChallengesPerSource) {
      throw new GuardError(
        'TOO_MANY_CHALLENGES',
        `${mine} challenges from ${source} are outstanding; use one (log in) or wait ` +
          `${Math.ceil(this.limits.challengeTtlMs / 1000)} s for them to expire`,
        Math.ceil(this.limits.challengeTtlMs / 1000),
      );
    }
    // Bounded overall too: under a flood from many sources the oldest pending challenges go first.
    while (this.challenges.size >= this.limits.maxPendingChallenges) this.forget(this.challenges.keys().next().value!);
    const nonce = crypto.randomBytes(32).toString('hex');
    this.challenges.set(nonce, { exp: now + this.limits.challengeTtlMs, source });
    this.outstanding.set(source, mine + 1);
    return nonce;
  }

  /** Spend a nonce (single use): whether it was outstanding and unexpired. */
  spend(nonce: string): boolean {
    const c = this.challenges.get(nonce);
    if (!c) return false;
    this.forget(nonce);
    return c.exp >= this.now();
  }

  /** GuardError when `remote` failed authentication too often this minute. */
  checkThrottle(remote: string | undefined): void {
    const source = sourceOf(remote);
    const f = this.failures.get(source);
    const now = this.now();
    if (f && now - f.windowStart < MINUTE_MS && f.inWindow >= this.limits.failedAuthPerMinute) {
      const wait = Math.ceil((f.windowStart + MINUTE_MS - now) / SECOND_MS);
      throw new GuardError(
        'AUTH_THROTTLED',
        `${f.inWindow} failed authentications from ${source} in the last minute; try again in ${wait} s`,
        wait,
      );
    }
  }

  /** Count and audit one failed authentication (a throttled attempt counts too). */
  failed(remote: string | undefined, kind: 'signer' | 'admin', code: string, key?: string): void {
    const source = sourceOf(remote);
    const now = this.now();
    let f = this.failures.get(source);
    if (!f || now - f.windowStart >= MINUTE_MS) this.failures.set(source, (f = { windowStart: now, inWindow: 0 }));
    f.inWindow++;
    const at = new Date(now).toISOString();
    const id = `${kind}\0${source}`;
    if (!this.announced.has(id)) {
      // The first failure of a quiet source is written at once, as it always was.
      this.announced.add(id);
      this.store.audit(
        'auth.failed',
        { kind, code, ...(key !== undefined ? { key } : {}), remote: remote ?? null, source, count: 1 },
        at,
      );
    } else {
      let b = this.audit.get(id);
      if (!b) this.audit.set(id, (b = { kind, source, count: 0, codes: {}, keys: [], from: at, to: at }));
      b.count++;
      b.codes[code] = (b.codes[code] ?? 0) + 1;
      if (key && b.keys.length < 5 && !b.keys.includes(key)) b.keys.push(key);
      b.to = at;
    }
    this.bound();
  }

  /** Write the counted failures, one row per source; sources that stayed quiet are quiet again. */
  flush(): void {
    const quiet = new Set(this.announced);
    for (const [id, b] of this.audit) {
      quiet.delete(id);
      this.store.audit('auth.failed', {
        kind: b.kind,
        source: b.source,
        count: b.count,
        codes: b.codes,
        keys: b.keys,
        from: b.from,
        to: b.to,
        aggregated: true,
      });
    }
    this.audit.clear();
    for (const id of quiet) this.announced.delete(id);
    const now = this.now();
    for (const [s, f] of this.failures) if (now - f.windowStart >= MINUTE_MS) this.failures.delete(s);
    this.expire(now);
  }

  close(): void {
    clearInterval(this.timer);
    this.flush();
  }

  private forget(nonce: string): void {
    const c = this.challenges.get(nonce);
    if (!c) return;
    this.challenges.delete(nonce);
    const n = (this.outstanding.get(c.source) ?? 1) - 1;
    if (n > 0) this.outstanding.set(c.source, n);
    else this.outstanding.delete(c.source);
  }

  private expire(now: number): void {
    // Map order is insertion order, and every challenge lives as long: expired ones come first.
    for (const [nonce, c] of this.challenges) {
      if (c.exp >= now) break;
      this.forget(nonce);
    }
  }

  private bound(): void {
    for (const m of [this.failures, this.audit] as Map<string, unknown>[]) {
      while (m.size > this.limits.maxSources) m.delete(m.keys().next().value!);
    }
    while (this.announced.size > this.limits.maxSources) this.announced.delete(this.announced.values().next().value!);
  }
}

export interface FlowLimits {
  /** bytes queued to a socket after which it is no longer read from */
  sendBufferPauseBytes: number;
  /** bytes queued after which the connection is dropped */
  sendBufferMaxBytes: number;
  /** ms a socket may stay paused before it is dropped */
  slowReaderMs: number;
}

/**
 * Backpressure on slow readers: after each message queued to a socket, past sendBufferPauseBytes
 * the socket is paused (no more requests are read from it, and the caller holds back those already
 * received, so it generates no more replies), resumed once its queue has drained to a quarter of
 * that, and dropped when the queue passes sendBufferMaxBytes or it stays paused longer than
 * slowReaderMs.
 */
export class SlowReaders {
  private readonly paused = new Map<WebSocket, number>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly limits: FlowLimits,
    private readonly onDrop: (ws: WebSocket, why: string) => void,
    /** Called when a paused socket is read from again (to handle what arrived before the pause took hold). */
    private readonly onResume: (ws: WebSocket) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** After a message was queued to `ws`. */
  sent(ws: WebSocket): void {
    const queued = ws.bufferedAmount;
    if (queued > this.limits.sendBufferMaxBytes)
      return this.drop(ws, `${queued} bytes of replies are queued unread (limit ${this.limits.sendBufferMaxBytes})`);
    if (queued > this.limits.sendBufferPauseBytes && !this.paused.has(ws)) {
      ws.pause();
      this.paused.set(ws, this.now());
      this.timer ??= setInterval(() => this.check(), 50);
    }
  }

  isPaused(ws: WebSocket): boolean {
    return this.paused.has(ws);
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.paused.clear();
  }

  private check(): void {
    const now = this.now();
    for (const [ws, since] of this.paused) {
      if (ws.readyState !== ws.OPEN) this.paused.delete(ws);
      else if (ws.bufferedAmount <= this.limits.sendBufferPauseBytes / 4) {
        this.paused.delete(ws);
        ws.resume();
        this.onResume(ws);
      } else if (now - since > this.limits.slowReaderMs)
        this.drop(
          ws,
          `its replies have not been read for ${Math.round((now - since) / 1000)} s (${ws.bufferedAmount} ` +
            'bytes queued)',
        );
    }
    if (!this.paused.size && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  private drop(ws: WebSocket, why: string): void {
    this.paused.delete(ws);
    this.onDrop(ws, why);
    ws.terminate(); // a close frame would wait behind the unread queue
  }
}
