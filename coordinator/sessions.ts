/**
 * Who uses the status page, and how they stay signed in. Two credentials open it: the admin token
 * (everything the admin API allows) and a viewer token (`quorum viewer add NAME`: read-only), each
 * kept by the store only as a sha256, like the admin token. Signing in with either trades it for a
 * session: a random id in a cookie that is HttpOnly, SameSite=Strict, Secure under TLS (and then
 * named with the `__Host-` prefix, so no other host or path can set it), and that expires. Sessions
 * live in memory only, so a restart signs everyone out. Every state-changing request made with a
 * session cookie must also carry the session's CSRF token in a header (a page of another origin can
 * neither read the token nor send that header without a CORS preflight we never grant), and must
 * not come from another origin (Origin, Sec-Fetch-Site). The page never sees a signing key: there
 * is none on this side.
 */
import crypto from 'node:crypto';
import type http from 'node:http';
import { z } from 'zod';
import type { Codes } from '../protocol/codes.js';
import { QuorumError } from '../protocol/errors.js';
import { PAGE_LIMITS } from '../protocol/limits.js';
import { hashToken, type Principal } from './auth.js';
import type { Store } from './store.js';

export type SessionCode = Codes<
  | 'SESSION_INVALID' // no session cookie, or one that is unknown, ended or expired
  | 'CSRF_INVALID' // a state-changing request with a session but without its CSRF token, or from another origin
  | 'VIEWER_READ_ONLY' // a viewer asked for something only the admin credential may do
  | 'VIEWER_EXISTS' // quorum viewer add: the name is taken
  | 'VIEWER_UNKNOWN' // quorum viewer remove: no such viewer
  | 'TOO_MANY_VIEWERS' // quorum viewer add beyond PAGE_LIMITS.maxViewers
  | 'TOO_MANY_STREAMS' // more live event streams than PAGE_LIMITS.maxStreams
>;

export class SessionError extends QuorumError<SessionCode> {}

// --- viewer credentials -----------------------------------------------------------------------

interface ViewerRecord {
  name: string;
  /** sha256 (hex) of the token. */
  sha256: string;
  addedAt: string;
}

const VIEWERS_META = 'viewers';

const ViewersSchema = z.array(
  z.strictObject({ name: z.string(), sha256: z.string().regex(/^[0-9a-f]{64}$/), addedAt: z.string() }),
);

function readViewers(store: Store): ViewerRecord[] {
  return store.jsonMeta(VIEWERS_META, ViewersSchema) ?? [];
}

export function listViewers(store: Store): { name: string; addedAt: string }[] {
  return readViewers(store).map(({ name, addedAt }) => ({ name, addedAt }));
}

/** Add viewer `name`: returns its token, which is shown once and stored only as a sha256. */
export function addViewer(store: Store, name: string, at = new Date()): { name: string; token: string } {
  const token = crypto.randomBytes(32).toString('base64url');
  store.tx(() => {
    const vs = readViewers(store);
    if (vs.some((v) => v.name === name))
      throw new SessionError('VIEWER_EXISTS', `a viewer named ${name} exists; remove it first or pick another name`);
    if (vs.length >= PAGE_LIMITS.maxViewers)
      throw new SessionError('TOO_MANY_VIEWERS', `at most ${PAGE_LIMITS.maxViewers} viewers; remove one first`);
    vs.push({ name, sha256: hashToken(token), addedAt: at.toISOString() });
    store.setMeta(VIEWERS_META, JSON.stringify(vs));
    store.audit('viewer.added', { name });
  });
  return { name, token };
}

export function removeViewer(store: Store, name: string): void {
  store.tx(() => {
    const vs = readViewers(store);
    if (!vs.some((v) => v.name === name))
      throw new SessionError('VIEWER_UNKNOWN', `no viewer named ${name}; quorum viewer list shows them`);
    store.setMeta(VIEWERS_META, JSON.stringify(vs.filter((v) => v.name !== name)));
    store.audit('viewer.removed', { name });
  });
}

/** The viewer whose token hashes to `sha256` (hex), compared in constant time. */
export function viewerByHash(store: Store, sha256: string): string | undefined {
  const given = Buffer.from(sha256, 'hex');
  let found: string | undefined;
  for (const v of readViewers(store))
    if (crypto.timingSafeEqual(given, Buffer.from(v.sha256, 'hex')) && found === undefined) found = v.name;
  return found;
}

// --- sessions ---------------------------------------------------------------------------------

export interface Session extends Principal {
  /** sha256 (hex) of the cookie's value: the map key (the value itself is not kept). */
  key: string;
  csrf: string;
  expiresAt: number;
}

export interface SessionView extends Principal {
  csrf: string;
  expiresAt: string;
}

const view = (s: Session): SessionView => ({
  role: s.role,
  name: s.name,
  csrf: s.csrf,
  expiresAt: new Date(s.expiresAt).toISOString(),
});

/** `name=value` pairs of a Cookie header; the first of a repeated name. */
export function parseCookies(header: string | undefined): Map<string, string> {
  const m = new Map<string, string>();
  for (const part of (header ?? '').split(';').map((p) => p.trim())) {
    const i = part.indexOf('=');
    if (i < 1) continue;
    const k = part.slice(0, i);
    if (!m.has(k)) m.set(k, part.slice(i + 1));
  }
  return m;
}

export class Sessions {
  private readonly byKey = new Map<string, Session>();
  /** Called with a session's key when it ends (sign-out, expiry, its viewer removed). */
  readonly onEnd = new Set<(key: string) => void>();
  readonly cookieName: string;

  constructor(
    /** Whether the server speaks TLS: the cookie is then Secure and `__Host-` prefixed. */
    private readonly secure: boolean,
    private readonly now: () => number = Date.now,
    private readonly ttlMs: number = PAGE_LIMITS.sessionTtlMs,
  ) {
    this.cookieName = secure ? '__Host-quorum_session' : 'quorum_session';
  }

  /** A new session for `p`: its view and the Set-Cookie header that carries it. */
  create(p: Principal): { session: SessionView; setCookie: string } {
    this.sweep();
    while (this.byKey.size >= PAGE_LIMITS.maxSessions) this.end(this.byKey.keys().next().value!);
    const id = crypto.randomBytes(32).toString('base64url');
    const s: Session = {
      role: p.role,
      name: p.name,
      key: hashToken(id),
      csrf: crypto.randomBytes(32).toString('base64url'),
      expiresAt: this.now() + this.ttlMs,
    };
    this.byKey.set(s.key, s);
    const attrs = [
      `${this.cookieName}=${id}`,
      'Path=/',
      'HttpOnly',
      'SameSite=Strict',
      `Max-Age=${Math.floor(this.ttlMs / 1000)}`,
      `Expires=${new Date(s.expiresAt).toUTCString()}`,
      ...(this.secure ? ['Secure'] : []),
    ];
    return { session: view(s), setCookie: attrs.join('; ') };
  }

  /** The Set-Cookie header that clears the cookie in the browser. */
  clearCookie(): string {
    return `${this.cookieName}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${this.secure ? '; Secure' : ''}`;
  }

  /** The live session the request's cookie names, or undefined (none, unknown, ended or expired). */
  of(req: http.IncomingMessage): Session | undefined {
    const id = parseCookies(req.headers.cookie).get(this.cookieName);
    if (!id) return undefined;
    const s = this.byKey.get(hashToken(id));
    if (!s) return undefined;
    if (s.expiresAt <= this.now()) {
      this.end(s.key);
      return undefined;
    }
    return s;
  }

  view(s: Session): SessionView {
    return view(s);
  }

  end(key: string): void {
    if (!this.byKey.delete(key)) return;
    for (const f of this.onEnd) f(key);
  }

  /** End every session of viewer `name` (its credential was removed). */
  endViewer(name: string): void {
    for (const s of [...this.byKey.values()]) if (s.role === 'viewer' && s.name === name) this.end(s.key);
  }

  /** End the sessions past their expiry. */
  sweep(): void {
    const now = this.now();
    for (const s of [...this.byKey.values()]) if (s.expiresAt <= now) this.end(s.key);
  }

  /** End every session (the server is shutting down). */
  close(): void {
    for (const k of [...this.byKey.keys()]) this.end(k);
  }
}

/**
 * A request that signs in or changes anything must not come from another origin: refused
 * (CSRF_INVALID) when the browser says it is cross-site (Sec-Fetch-Site) or names another Origin.
 */
export function checkSameOrigin(req: http.IncomingMessage): void {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none')
    throw new SessionError('CSRF_INVALID', `a ${site} request may not change anything; use the status page itself`);
  const origin = req.headers.origin;
  if (origin !== undefined && !sameOrigin(origin, req.headers.host))
    throw new SessionError('CSRF_INVALID', `a request from ${origin} may not change anything; use the status page`);
}

/**
 * A state-changing request made with session `s` must come from the same origin and carry the
 * session's CSRF token (x-quorum-csrf); otherwise CSRF_INVALID.
 */
export function checkCsrf(req: http.IncomingMessage, s: Session): void {
  checkSameOrigin(req);
  const given = Buffer.from(String(req.headers['x-quorum-csrf'] ?? ''));
  const want = Buffer.from(s.csrf);
  if (given.length !== want.length || !crypto.timingSafeEqual(given, want))
    throw new SessionError(
      'CSRF_INVALID',
      'missing or wrong CSRF token (x-quorum-csrf); reload the status page and try again',
    );
}

function sameOrigin(origin: string, host: string | undefined): boolean {
  try {
    return host !== undefined && new URL(origin).host === host;
  } catch {
    return false;
  }
}
