/**
 * The coordinator's HTTP requests: /v1/health, /v1/challenge (a signer's login nonce), the admin
 * API under /v1/admin (the table in admin-api.ts), the status page (its static files at /, its
 * session at /v1/session and its live feed at /v1/events). An admin request is checked in this
 * order: the credential (a bearer token, or a status page session: before anything else is looked
 * at), a session's CSRF token on a state-changing request, the route, whether a viewer may use it,
 * its query and body against the route's schemas (a body is at most adminBodyBytes of JSON), and
 * then its handler runs. Every refusal is `{"error": {"code", "message"}}` with the HTTP status of
 * its code's kind (protocol/codes.ts); an unexpected error is 500 INTERNAL and logged. Every answer
 * carries the page's security headers (a strict Content-Security-Policy, no framing, no sniffing,
 * no referrer).
 */
import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { z } from 'zod';
import { httpStatus, type Codes } from '../protocol/codes.js';
import { QuorumError } from '../protocol/errors.js';
import { WIRE_LIMITS } from '../protocol/limits.js';
import {
  ADMIN_PREFIX,
  ADMIN_ROUTES,
  formatIssues,
  matchRoute,
  type AdminHandlers,
  type RouteSpec,
} from './admin-api.js';
import type { Authenticator, Principal } from './auth.js';
import type { EventStreams } from './events.js';
import { GuardError } from './guard.js';
import { checkCsrf, checkSameOrigin, SessionError, type Session, type Sessions } from './sessions.js';

export type HttpCode = Codes<
  | 'NOT_FOUND' // no such endpoint
  | 'BODY_INVALID' // a body, query or value that is not what the route takes
  | 'BODY_INVALID_JSON' // a body that is not JSON
  | 'BODY_TOO_LARGE' // a body above WIRE_LIMITS.adminBodyBytes
>;

export class HttpError extends QuorumError<HttpCode> {}

/** The value `schema` makes of `value`, or BODY_INVALID naming each problem's path (`empty` names the whole value). */
export function parseOrRefuse<T>(schema: z.ZodType<T>, value: unknown, empty: string, prefix = ''): T {
  const r = schema.safeParse(value);
  if (!r.success) throw new HttpError('BODY_INVALID', formatIssues(r.error.issues, empty, prefix));
  return r.data;
}

function readBody(req: http.IncomingMessage, limit: number = WIRE_LIMITS.adminBodyBytes): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new HttpError('BODY_TOO_LARGE', `request body above ${limit} bytes`));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => {
      if (size === 0) return resolve({});
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        reject(new HttpError('BODY_INVALID_JSON', 'request body is not JSON'));
      }
    });
    req.on('error', reject);
  });
}

/** The query as an object, the first value of a repeated name. */
function queryObject(query: URLSearchParams): Record<string, string> {
  const o: Record<string, string> = {};
  for (const [k, v] of query) if (!Object.hasOwn(o, k)) o[k] = v;
  return o;
}

export interface HttpDeps {
  serverId: string;
  dialect: string;
  auth: Authenticator;
  handlers: AdminHandlers;
  log: (line: string) => void;
  /** quorum serve --publish: GET/HEAD under /repository/ (publish.ts), without a credential. */
  repository?: (req: http.IncomingMessage, res: http.ServerResponse, name: string) => void;
  /** The status page's sessions and live feed; without them, /, /v1/session and /v1/events are 404. */
  page?: {
    sessions: Sessions;
    events: EventStreams;
    webDir: string;
    /** Records a sign-in and a sign-out in the audit log (store.audit). */
    audit: (event: string, data: Record<string, unknown>) => void;
  };
}

/** On every answer: the status page runs only its own scripts and styles, in no frame, with no referrer. */
export const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

/** The status page's files (web/, bundled by npm run build into dist/web) by request path. */
const PAGE_FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
};

/** A sign-in request's body: one credential, a few hundred bytes at most. */
const SIGN_IN_BODY_BYTES = 4096;

export function httpHandler(d: HttpDeps): (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void> {
  const page = d.page;
  const files = new Map<string, { body: Buffer; type: string }>();
  if (page)
    for (const [p, f] of Object.entries(PAGE_FILES)) {
      const file = path.join(page.webDir, f.file);
      if (fs.existsSync(file)) files.set(p, { body: fs.readFileSync(file), type: f.type });
    }

  /**
   * Who the request speaks for, and its session if it came with one: a bearer token (the CLI, a
   * script) wins; otherwise the session cookie (SESSION_INVALID when it names no live session);
   * otherwise ADMIN_UNAUTHORIZED.
   */
  const principal = (req: http.IncomingMessage): { who: Principal; session: Session | null } => {
    const remote = req.socket.remoteAddress;
    const bearer = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''));
    if (bearer || !page || !req.headers.cookie) return { who: d.auth.credential(bearer?.[1], remote), session: null };
    const session = page.sessions.of(req);
    if (!session) {
      if (!req.headers.cookie.includes(`${page.sessions.cookieName}=`))
        return { who: d.auth.credential(undefined, remote), session: null };
      throw new SessionError('SESSION_INVALID', 'your status page session ended or expired; sign in again');
    }
    return { who: { role: session.role, name: session.name }, session };
  };

  /** One admin request, after its credential: the route's answer. */
  const admin = async (req: http.IncomingMessage, url: URL, who: Principal): Promise<unknown> => {
    const method = req.method ?? 'GET';
    const rest = url.pathname.slice(ADMIN_PREFIX.length + 1);
    let segments: string[];
    try {
      segments = rest.split('/').filter(Boolean).map(decodeURIComponent);
    } catch {
      throw new HttpError('NOT_FOUND', `no admin endpoint ${method} ${url.pathname} (a malformed %-escape)`);
    }
    const match = matchRoute(method, segments);
    if (!match) throw new HttpError('NOT_FOUND', `no admin endpoint ${method} ${ADMIN_PREFIX}/${segments.join('/')}`);
    const spec: RouteSpec = ADMIN_ROUTES[match.name];
    if (who.role !== 'admin' && !viewerMay(spec))
      throw new SessionError(
        'VIEWER_READ_ONLY',
        `viewer ${who.name} may only look; ${spec.method} ${spec.path} (${match.name}) needs the admin credential`,
      );
    const given = queryObject(url.searchParams);
    let query: Record<string, unknown> = {};
    if (spec.query) query = parseOrRefuse(spec.query, given, 'query', 'query.');
    else if (Object.keys(given).length)
      throw new HttpError('BODY_INVALID', `query: ${method} ${spec.path} takes no query parameters`);
    const raw = spec.body ? await readBody(req) : undefined;
    const body = spec.body ? parseOrRefuse(spec.body, raw, 'body') : undefined;
    const handler = d.handlers[match.name] as (call: {
      params: Record<string, string>;
      query: unknown;
      body: unknown;
      raw: unknown;
    }) => unknown;
    return handler({ params: match.params, query, body, raw });
  };

  return async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const method = req.method ?? 'GET';
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
      res.end(JSON.stringify(body));
    };
    try {
      if (url.pathname === '/v1/health') return reply(200, { ok: true, serverId: d.serverId, dialect: d.dialect });
      if (url.pathname === '/v1/challenge' && method === 'GET')
        return reply(200, { serverId: d.serverId, nonce: d.auth.challenge(req.socket.remoteAddress) });
      if (d.repository && url.pathname.startsWith('/repository/'))
        return d.repository(req, res, url.pathname.slice('/repository/'.length));
      if (url.pathname.startsWith(`${ADMIN_PREFIX}/`)) {
        const { who, session } = principal(req);
        if (session && method !== 'GET' && method !== 'HEAD') checkCsrf(req, session);
        return reply(200, await admin(req, url, who));
      }
      if (page && url.pathname === '/v1/session') {
        if (method === 'POST') {
          // Sign in: a credential in a JSON body (a cross-site form cannot send JSON), same origin.
          checkSameOrigin(req);
          if (!/^application\/json\b/.test(String(req.headers['content-type'] ?? '')))
            throw new HttpError('BODY_INVALID', 'sign in with a JSON body {"token": "..."}');
          const body = parseOrRefuse(SignInSchema, await readBody(req, SIGN_IN_BODY_BYTES), 'body');
          const who = d.auth.credential(body.token, req.socket.remoteAddress);
          const { session, setCookie } = page.sessions.create(who);
          d.log(`status page: ${who.role} ${who.name} signed in`);
          page.audit('page.signed_in', { role: who.role, name: who.name, source: req.socket.remoteAddress ?? null });
          return reply(200, session, { 'set-cookie': setCookie });
        }
        const session = page.sessions.of(req);
        if (!session)
          throw new SessionError('SESSION_INVALID', 'not signed in to the status page (or the session ended)');
        if (method === 'GET') return reply(200, page.sessions.view(session));
        if (method === 'DELETE') {
          checkCsrf(req, session);
          page.sessions.end(session.key);
          page.audit('page.signed_out', { role: session.role, name: session.name });
          return reply(200, { signedOut: true }, { 'set-cookie': page.sessions.clearCookie() });
        }
        throw new HttpError('NOT_FOUND', `no endpoint ${method} /v1/session`);
      }
      if (page && url.pathname === '/v1/events' && method === 'GET') {
        const { session } = principal(req);
        return page.events.open(req, res, session?.key ?? null);
      }
      const file = page && (method === 'GET' || method === 'HEAD') ? PAGE_FILES[url.pathname] : undefined;
      if (file) {
        const f = files.get(url.pathname);
        if (!f)
          throw new HttpError(
            'NOT_FOUND',
            `the status page is not built (no ${path.join(page!.webDir, file.file)}); run npm run build`,
          );
        res.writeHead(200, { 'content-type': f.type, 'cache-control': 'no-cache', 'content-length': f.body.length });
        res.end(method === 'HEAD' ? undefined : f.body);
        return;
      }
      throw new HttpError('NOT_FOUND', `no endpoint ${url.pathname}`);
    } catch (e) {
      if (e instanceof QuorumError) {
        const headers: Record<string, string> = e instanceof GuardError ? { 'retry-after': String(e.retryAfterS) } : {};
        return reply(httpStatus(e.code), { error: { code: e.code, message: e.message } }, headers);
      }
      d.log(`internal error: ${(e as Error).stack}`);
      return reply(500, { error: { code: 'INTERNAL', message: (e as Error).message } });
    }
  };
}

const SignInSchema = z.strictObject({ token: z.string().min(1).max(1024) });

/** Whether a viewer (read-only) may use route `spec`: it changes nothing and is not marked admin-only. */
export function viewerMay(spec: RouteSpec): boolean {
  return spec.method === 'GET' && !spec.adminOnly;
}
