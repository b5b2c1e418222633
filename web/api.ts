/**
 * The page's side of the coordinator: its session (/v1/session) and the admin API through the same
 * route table and answer schemas as the CLI (coordinator/admin-api.ts). Requests carry the session
 * cookie (HttpOnly: this script never sees it) and, when they change anything, the session's CSRF
 * token in x-quorum-csrf.
 */
import {
  adminClient,
  type AdminArgs,
  type AdminResponse,
  type Method,
  type RouteName,
} from '../coordinator/admin-api.js';

export interface SessionInfo {
  role: 'admin' | 'viewer';
  name: string;
  csrf: string;
  expiresAt: string;
}

/** An error the coordinator answered with: its stable code and message, and the HTTP status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

let csrf = '';

async function send(method: Method | 'PUT', path: string, body?: unknown): Promise<unknown> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET') headers['x-quorum-csrf'] = csrf;
  const res = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await res.json().catch(() => ({}))) as { error?: { code: string; message: string } };
  if (!res.ok || json.error)
    throw new ApiError(res.status, json.error?.code ?? 'HTTP', json.error?.message ?? `HTTP ${res.status}`);
  return json;
}

const client = adminClient(({ method, path, body }) => send(method, path, body));

/** Route `name` of the admin API, its answer checked against the route's schema. */
export function call<K extends RouteName>(name: K, ...req: AdminArgs<K>): Promise<AdminResponse<K>> {
  return client(name, ...req);
}

/** The current session, or null when not signed in. */
export async function currentSession(): Promise<SessionInfo | null> {
  try {
    const s = (await send('GET', '/v1/session')) as SessionInfo;
    csrf = s.csrf;
    return s;
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return null;
    throw e;
  }
}

export async function signIn(token: string): Promise<SessionInfo> {
  const s = (await send('POST', '/v1/session', { token })) as SessionInfo;
  csrf = s.csrf;
  return s;
}

export async function signOut(): Promise<void> {
  await send('DELETE', '/v1/session');
  csrf = '';
}
