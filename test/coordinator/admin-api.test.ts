/**
 * The admin API's route table (coordinator/admin-api.ts), in process: the table itself (every
 * route has its schemas, strict bodies, no two routes answer the same request, the paths the CLI
 * has always used), the typed client's requests, and a real coordinator (serve() on a loopback
 * port, its own data dir) answering through the same client: unknown routes 404, schema failures
 * 400 BODY_INVALID naming the zod path, the credential checked before anything else. A lying
 * coordinator whose answer is not what the route says is refused by the client (BAD_RESPONSE).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  ADMIN_ROUTES,
  adminClient,
  adminRequest,
  matchRoute,
  type AdminClient,
  type RouteName,
  type RouteSpec,
} from '../../coordinator/admin-api.js';
import { adminHandlers } from '../../coordinator/admin-routes.js';
import { init } from '../../coordinator/init.js';
import { serve, type RunningServer } from '../../coordinator/server.js';
import { httpStatus, type Code } from '../../protocol/codes.js';
import { QuorumError } from '../../protocol/errors.js';
import { requestJson } from '../../protocol/transport.js';

const NAMES = Object.keys(ADMIN_ROUTES) as RouteName[];
const spec = (name: RouteName): RouteSpec => ADMIN_ROUTES[name];

describe('the route table', () => {
  it('holds the endpoints the CLI has always called, at the same methods and paths', () => {
    expect(NAMES.map((n) => `${spec(n).method} ${spec(n).path}`).sort()).toEqual(
      [
        'GET /status',
        'GET /keyholders',
        'POST /keyholders',
        'POST /keyholders/:name/identity',
        'DELETE /keyholders/:name',
        'GET /rounds',
        'POST /rounds',
        'GET /rounds/:id',
        'GET /rounds/:id/export',
        'POST /rounds/:id/cancel',
        'POST /rounds/:id/signatures',
        'GET /cas',
        'POST /cas',
        'POST /cas/frost',
        'GET /frost/groups',
        'POST /frost/groups',
        'GET /frost/ceremonies',
        'GET /frost/ceremonies/:id',
        'POST /frost/ceremonies/:id/cancel',
        'GET /certs',
        'POST /certs',
        'GET /certs/:id',
        'POST /certs/:id/cancel',
        'GET /audit/verify',
        'POST /living/check',
        'GET /expiry',
        'GET /notify',
        'POST /notify',
        'DELETE /notify/:id',
        'POST /notify/:id/test',
        // The status page's (issue 11).
        'GET /rounds/:id/summary',
        'GET /releases',
        'GET /audit',
        'GET /viewers',
        'POST /viewers',
        'DELETE /viewers/:name',
      ].sort(),
    );
  });

  it('gives every route a summary and a response schema, and a body schema exactly to those that change state', () => {
    for (const n of NAMES) {
      const r = spec(n);
      expect(r.summary.length, n).toBeGreaterThan(10);
      expect(r.response, n).toBeInstanceOf(z.ZodType);
      expect(!!r.body, `${n} has a body schema`).toBe(r.method === 'POST');
    }
  });

  it('refuses unknown fields in every body and query (strict schemas)', () => {
    for (const n of NAMES) {
      for (const schema of [spec(n).body, spec(n).query]) {
        if (!schema) continue;
        const r = schema.safeParse({ surprise: 1 });
        expect(r.success, n).toBe(false);
        expect(
          r.error!.issues.some((i) => i.code === 'unrecognized_keys'),
          `${n} names the unknown field`,
        ).toBe(true);
      }
    }
  });

  it('answers each request with one route: its own, never another', () => {
    for (const n of NAMES) {
      const segments = spec(n)
        .path.split('/')
        .filter(Boolean)
        .map((s) => (s.startsWith(':') ? `x-${s.slice(1)}` : s));
      expect(matchRoute(spec(n).method, segments), n).toEqual({
        name: n,
        params: Object.fromEntries(
          spec(n)
            .path.split('/')
            .filter((s) => s.startsWith(':'))
            .map((s) => [s.slice(1), `x-${s.slice(1)}`]),
        ),
      });
    }
    // No two routes of one method could both answer one path (segment by segment, a literal
    // differs from the other's literal somewhere).
    for (const a of NAMES)
      for (const b of NAMES) {
        if (a >= b || spec(a).method !== spec(b).method) continue;
        const pa = spec(a).path.split('/');
        const pb = spec(b).path.split('/');
        if (pa.length !== pb.length) continue;
        const apart = pa.some((s, i) => !s.startsWith(':') && !pb[i]!.startsWith(':') && s !== pb[i]);
        expect(apart, `${a} and ${b} overlap`).toBe(true);
      }
    expect(matchRoute('GET', ['rounds', 'x', 'nope'])).toBeNull();
    expect(matchRoute('PUT', ['status'])).toBeNull();
    expect(matchRoute('POST', ['status'])).toBeNull();
  });

  it('has a handler for every route, and nothing else', () => {
    // The compiler checks this for adminHandlers' type; this checks the object it returns.
    const handlers = adminHandlers({ store: {}, signers: {} } as never);
    expect(Object.keys(handlers).sort()).toEqual([...NAMES].sort());
  });
});

describe('the route table as a module', () => {
  it('loads without the server: it imports only zod and protocol/ modules that touch no file, socket or database', () => {
    const root = path.resolve(import.meta.dirname, '../..');
    const seen = new Set<string>();
    const external = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = fs.readFileSync(file, 'utf8');
      for (const m of text.matchAll(/^import\s+(?:type\s+)?[^'"]*?from\s+'([^']+)'/gm)) {
        if (/^import\s+type\s/.test(m[0])) continue; // erased at build
        const spec = m[1]!;
        if (spec.startsWith('.')) visit(path.resolve(path.dirname(file), spec.replace(/\.js$/, '.ts')));
        else external.add(spec);
      }
    };
    visit(path.join(root, 'coordinator/admin-api.ts'));
    const local = [...seen].map((f) => path.relative(root, f)).sort();
    expect(local.filter((f) => f.startsWith('coordinator/'))).toEqual(['coordinator/admin-api.ts']);
    expect(local.every((f) => f.startsWith('coordinator/') || f.startsWith('protocol/'))).toBe(true);
    expect([...external].sort()).toEqual(['zod']);
  });
});

describe('the typed client', () => {
  it('builds the method, the path with its parameters escaped, the query and the body from the route', () => {
    expect(adminRequest('status')).toEqual({ method: 'GET', path: '/v1/admin/status', body: undefined });
    expect(adminRequest('rounds.cancel', { params: { id: 'a/b c' }, body: { reason: 'why' } })).toEqual({
      method: 'POST',
      path: '/v1/admin/rounds/a%2Fb%20c/cancel',
      body: { reason: 'why' },
    });
    expect(adminRequest('keyholders.remove', { params: { name: '../status' } }).path).toBe(
      '/v1/admin/keyholders/..%2Fstatus',
    );
    expect(adminRequest('rounds.list', { query: { limit: 5, state: 'open', before: undefined } }).path).toBe(
      '/v1/admin/rounds?limit=5&state=open',
    );
  });

  it('sends a body as given: a __proto__ target name is data, not lost', () => {
    const body = JSON.parse('{"role":"targets","reason":"r","targets":{"add":{"__proto__":{"length":1}}}}') as never;
    expect(JSON.stringify(adminRequest('rounds.open', { body }).body)).toContain('"__proto__"');
  });
});

// --- a real coordinator, in process ----------------------------------------------------------------

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quorum-admin-api-'));
let server: RunningServer;
let token: string;
const logged: string[] = [];

/** The CLI's transport (requestJson) with a token. */
const clientWith = (url: string, t: string): AdminClient =>
  adminClient(({ method, path: p, body }) =>
    requestJson(`${url}${p}`, { method, body, headers: { authorization: `Bearer ${t}` } }),
  );
let api: AdminClient;

/** A raw request: status and JSON. */
async function raw(
  method: string,
  p: string,
  body?: string,
  headers: Record<string, string> = { authorization: `Bearer ${token}` },
): Promise<{ status: number; json: { error?: { code: string; message: string } } & Record<string, unknown> }> {
  const res = await fetch(`${server.url}${p}`, { method, headers, body });
  return { status: res.status, json: (await res.json()) as never };
}

/** The code a call is refused with. */
const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: QuorumError<string>) => e.code,
  );

beforeAll(async () => {
  const keys: Record<string, string> = {};
  for (const name of ['alice', 'bob']) {
    const { publicKey } = crypto.generateKeyPairSync('ed25519');
    keys[name] = path.join(dir, `${name}.pub.pem`);
    fs.writeFileSync(keys[name], publicKey.export({ type: 'spki', format: 'pem' }));
  }
  const dataDir = path.join(dir, 'data');
  token = init({ dataDir, dialect: 'tuf', keyholders: keys, rootKeyholders: ['alice', 'bob'] }).adminToken;
  server = await serve({ dataDir, port: 0, log: (l) => logged.push(l) });
  api = clientWith(server.url, token);
});
afterAll(async () => {
  await server?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('a coordinator answering the route table', () => {
  it('answers every route that needs no input with what its schema says', async () => {
    const st = await api('status');
    expect(st).toMatchObject({ dialect: 'tuf', rootVersion: null, release: null });
    expect(st.openRounds.map((r) => r.id)).toEqual(['root-v1-r1']);
    expect(st.keyholders.map((k) => [k.name, k.connected])).toEqual([
      ['alice', false],
      ['bob', false],
    ]);
    expect((await api('keyholders.list')).map((k) => k.name)).toEqual(['alice', 'bob']);
    expect((await api('rounds.list')).map((r) => r.id)).toEqual(['root-v1-r1']);
    expect(await api('cas.list')).toEqual([]);
    expect(await api('certs.list')).toEqual([]);
    expect(await api('frost.groups')).toEqual([]);
    expect(await api('frost.ceremonies')).toEqual([]);
    expect(await api('audit.verify')).toMatchObject({ ok: true, broken: null });
  });

  it('answers routes with parameters, a query and a body', async () => {
    const r = await api('rounds.get', { params: { id: 'root-v1-r1' } });
    expect(JSON.parse(r.signed)).toMatchObject({ _type: 'root', version: 1 });
    const bundle = await api('rounds.export', { params: { id: 'root-v1-r1' } });
    expect(bundle).toMatchObject({ format: 'uptane-quorum-round-v1', roots: [], targets: null });
    expect(await api('rounds.list', { query: { state: 'released' } })).toEqual([]);
    expect(await api('rounds.list', { query: { limit: 1, state: 'open' } })).toHaveLength(1);

    const { publicKey } = crypto.generateKeyPairSync('ed25519');
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(await api('keyholders.add', { body: { name: 'carol', publicKey: pem } })).toMatchObject({
      name: 'carol',
      algorithm: 'ed25519',
    });
    expect(await api('keyholders.remove', { params: { name: 'carol' } })).toEqual({ removed: 'carol' });
    expect(await codeOf(api('keyholders.remove', { params: { name: 'carol' } }))).toBe('KEYHOLDER_UNKNOWN');
  });

  it('refuses what the state does not allow with the code of the operation (404 unknown, 409 otherwise)', async () => {
    expect(await codeOf(api('rounds.get', { params: { id: 'nope' } }))).toBe('ROUND_NOT_FOUND');
    expect(await codeOf(api('certs.get', { params: { id: 'nope' } }))).toBe('ROUND_NOT_FOUND');
    expect(await codeOf(api('frost.ceremony', { params: { id: 'nope' } }))).toBe('CEREMONY_NOT_FOUND');
    expect(await codeOf(api('rounds.list', { query: { before: 'nope' } }))).toBe('ROUND_NOT_FOUND');
    expect((await raw('GET', '/v1/admin/rounds/nope')).status).toBe(404);
    expect(
      (await raw('POST', '/v1/admin/rounds', JSON.stringify({ role: 'targets', reason: 'r' }))).json.error,
    ).toEqual(expect.objectContaining({ code: 'NO_ROOT' }));
    expect((await raw('POST', '/v1/admin/rounds', JSON.stringify({ role: 'targets', reason: 'r' }))).status).toBe(409);
  });

  it('answers an unknown route 404 NOT_FOUND, but only to the admin credential (401 first)', async () => {
    for (const [method, p] of [
      ['GET', '/v1/admin/nope'],
      ['GET', '/v1/admin/rounds/x/nope'],
      ['PUT', '/v1/admin/status'],
      ['POST', '/v1/admin/status'],
      ['DELETE', '/v1/admin/rounds/root-v1-r1'],
      ['GET', '/v1/admin/'],
    ] as const) {
      expect(await raw(method, p), `${method} ${p}`).toMatchObject({
        status: 404,
        json: { error: { code: 'NOT_FOUND' } },
      });
      expect(await raw(method, p, undefined, {}), `${method} ${p} without a token`).toMatchObject({
        status: 401,
        json: { error: { code: 'ADMIN_UNAUTHORIZED' } },
      });
    }
    // The round was not deleted, whatever the method said.
    expect((await api('rounds.get', { params: { id: 'root-v1-r1' } })).round.state).toBe('open');
  });

  it('answers 400 BODY_INVALID naming the zod path of each problem, and changes nothing', async () => {
    const post = (p: string, body: unknown) => raw('POST', p, JSON.stringify(body));
    const wrongType = await post('/v1/admin/rounds', { role: 'targets', reason: 7 });
    expect(wrongType).toMatchObject({ status: 400, json: { error: { code: 'BODY_INVALID' } } });
    expect(wrongType.json.error!.message).toMatch(/^reason: /);
    const nested = await post('/v1/admin/rounds', {
      role: 'targets',
      reason: 'r',
      targets: { add: { 'fw.bin': { length: -1, hashes: {} } } },
    });
    expect(nested.json.error).toMatchObject({ code: 'BODY_INVALID' });
    expect(nested.json.error!.message).toContain('targets.add.fw.bin.length: ');
    const unknown = await post('/v1/admin/rounds/root-v1-r1/cancel', { reason: 'r', force: true });
    expect(unknown).toMatchObject({ status: 400, json: { error: { code: 'BODY_INVALID' } } });
    expect(unknown.json.error!.message).toMatch(/force/);
    const empty = await raw('POST', '/v1/admin/rounds/root-v1-r1/cancel');
    expect(empty.json.error).toMatchObject({ code: 'BODY_INVALID', message: expect.stringMatching(/^reason: /) });
    const whole = await post('/v1/admin/keyholders', ['alice']);
    expect(whole.json.error).toMatchObject({ code: 'BODY_INVALID', message: expect.stringMatching(/^\(body\): /) });
    expect(await raw('POST', '/v1/admin/rounds', '{"role":')).toMatchObject({
      status: 400,
      json: { error: { code: 'BODY_INVALID_JSON' } },
    });
    expect((await api('rounds.get', { params: { id: 'root-v1-r1' } })).round.state).toBe('open');
    expect(await api('audit.verify')).toMatchObject({ ok: true });
  });

  it('checks the query against the route: 400 BODY_INVALID with query.NAME, and no query where none is taken', async () => {
    for (const q of ['limit=0', 'limit=abc', `limit=${10_000}`, 'state=closed', 'order=asc']) {
      const r = await raw('GET', `/v1/admin/rounds?${q}`);
      expect(r, q).toMatchObject({ status: 400, json: { error: { code: 'BODY_INVALID' } } });
      expect(r.json.error!.message, q).toMatch(/^(query\.\w+|\(query\)): /);
    }
    expect(await raw('GET', '/v1/admin/status?x=1')).toMatchObject({
      status: 400,
      json: { error: { code: 'BODY_INVALID' } },
    });
  });

  it('answers a malformed %-escape in the path 404, not an internal error', async () => {
    expect(await raw('GET', '/v1/admin/rounds/%E0%A4%A')).toMatchObject({
      status: 404,
      json: { error: { code: 'NOT_FOUND' } },
    });
    expect(logged.join('\n')).not.toMatch(/internal error/);
  });
});

describe('a lying coordinator', () => {
  let liar: http.Server;
  let url: string;
  let answer: unknown;
  beforeAll(async () => {
    liar = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer));
    });
    await new Promise<void>((r) => liar.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(liar.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise<void>((r) => liar.close(() => r())));

  it('is refused (BAD_RESPONSE) when an answer is not what the route says, however small the lie', async () => {
    const good = await api('status');
    const lie = clientWith(url, 'any');
    answer = good;
    expect(await lie('status')).toEqual(good);
    for (const bad of [
      { ...good, openRounds: 'none' },
      { ...good, injected: '<script>' },
      { ...good, keyholders: [{ ...good.keyholders[0], connected: 'yes' }] },
      { ...good, openRounds: [{ ...good.openRounds[0], sha256: 'not-hex' }] },
      [],
      null,
    ]) {
      answer = bad;
      expect(await codeOf(lie('status')), JSON.stringify(bad).slice(0, 80)).toBe('BAD_RESPONSE');
    }
    answer = { removed: 'someone-else', extra: 1 };
    expect(await codeOf(lie('keyholders.remove', { params: { name: 'alice' } }))).toBe('BAD_RESPONSE');
  });
});

describe('HTTP statuses of error codes (from their kind, protocol/codes.ts)', () => {
  it('maps the codes as the admin API and the signer endpoint have always answered them', () => {
    const want: Record<string, number> = {
      BODY_INVALID: 400,
      BODY_INVALID_JSON: 400,
      AUTH_CHALLENGE: 401,
      AUTH_SIGNATURE: 401,
      ADMIN_UNAUTHORIZED: 401,
      AUTH_NOT_ENROLLED: 403,
      NOT_FOUND: 404,
      ROUND_NOT_FOUND: 404,
      KEYHOLDER_UNKNOWN: 404,
      CA_UNKNOWN: 404,
      CEREMONY_NOT_FOUND: 404,
      BODY_TOO_LARGE: 413,
      TOO_MANY_CHALLENGES: 429,
      AUTH_THROTTLED: 429,
      TOO_MANY_CONNECTIONS: 429,
      INTERNAL: 500,
      ROUND_NOT_OPEN: 409,
      ROUND_OPEN_EXISTS: 409,
      SIG_DUPLICATE: 409,
      CA_EXISTS: 409,
      // The status page's (issue 11).
      SESSION_INVALID: 401,
      CSRF_INVALID: 403,
      VIEWER_READ_ONLY: 403,
      VIEWER_UNKNOWN: 404,
      VIEWER_EXISTS: 409,
      TOO_MANY_VIEWERS: 409,
      TOO_MANY_STREAMS: 429,
    };
    for (const [code, status] of Object.entries(want)) expect(httpStatus(code as Code), code).toBe(status);
  });
});
