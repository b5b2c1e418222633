/**
 * The coordinator's HTTP requests: /v1/health, /v1/challenge (a signer's login nonce) and the
 * admin API under /v1/admin (the table in admin-api.ts). An admin request is checked in this
 * order: the admin credential (before anything else is looked at), the route, its query and body
 * against the route's schemas (a body is at most adminBodyBytes of JSON), and then its handler
 * runs. Every refusal is `{"error": {"code", "message"}}` with the HTTP status of its code's kind
 * (protocol/codes.ts); an unexpected error is 500 INTERNAL and logged.
 */
import type http from 'node:http';
import type { z } from 'zod';
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
import type { Authenticator } from './auth.js';
import { GuardError } from './guard.js';

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

function readBody(req: http.IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > WIRE_LIMITS.adminBodyBytes) {
        reject(new HttpError('BODY_TOO_LARGE', `request body above ${WIRE_LIMITS.adminBodyBytes} bytes`));
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
}

export function httpHandler(d: HttpDeps): (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void> {
  /** One admin request, after its credential: the route's answer. */
  const admin = async (req: http.IncomingMessage, url: URL): Promise<unknown> => {
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
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    try {
      if (url.pathname === '/v1/health') return reply(200, { ok: true, serverId: d.serverId, dialect: d.dialect });
      if (url.pathname === '/v1/challenge' && req.method === 'GET')
        return reply(200, { serverId: d.serverId, nonce: d.auth.challenge(req.socket.remoteAddress) });
      if (d.repository && url.pathname.startsWith('/repository/'))
        return d.repository(req, res, url.pathname.slice('/repository/'.length));
      if (url.pathname.startsWith(`${ADMIN_PREFIX}/`)) {
        d.auth.admin(req);
        return reply(200, await admin(req, url));
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
