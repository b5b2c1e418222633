/**
 * The status page's credentials and sessions against a real coordinator (HTTP only; the browser
 * tests are in page-browser.test.ts): viewer tokens stored hashed, the session cookie's attributes,
 * sign-out, CSRF and same-origin refusals, a viewer refused whatever it sends (403), the security
 * headers on every answer, and the live feed. Each attack is a request a hostile page or a stranger
 * on the network could send. The `quorum` admin commands (viewer, round open) run in this process
 * (quorumHere) against the real `quorum serve`.
 */
import Database from 'better-sqlite3';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminRequest } from '../../coordinator/admin-api.js';
import { admin, located, newRepo, quorumHere, type Repo } from './harness.js';

let repo: Repo;
let url: string;
let viewerToken: string;

beforeAll(async () => {
  repo = await newRepo({
    dialect: 'tuf',
    keyholders: ['alice', 'bob'],
    rootThreshold: 1,
    targetsThreshold: 2,
    releaseRoot: true,
  });
  url = repo.coordinator.url;
  const v = await quorumHere(['viewer', 'add', 'carol', '--data-dir', repo.dataDir]);
  expect(v.code, v.stderr).toBe(0);
  viewerToken = v.stdout.trim().split('\n').at(-1)!;
}, 120_000);

afterAll(async () => {
  await repo?.coordinator.kill();
});

/** Sign in with `token`; the cookie pair to send back, the CSRF token, and the raw Set-Cookie. */
async function signIn(token: string): Promise<{ cookie: string; csrf: string; setCookie: string; role: string }> {
  const res = await fetch(`${url}/v1/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: url },
    body: JSON.stringify({ token }),
  });
  expect(res.status).toBe(200);
  const setCookie = res.headers.get('set-cookie')!;
  const body = (await res.json()) as { csrf: string; role: string };
  return { cookie: setCookie.split(';')[0]!, csrf: body.csrf, setCookie, role: body.role };
}

/** A request with a session cookie (and whatever headers the caller adds): status and error code. */
async function withCookie(
  cookie: string,
  r: { method: string; path: string; body?: unknown },
  headers: Record<string, string> = {},
): Promise<{ status: number; code?: string; json: unknown }> {
  const res = await fetch(`${url}${r.path}`, {
    method: r.method,
    headers: { cookie, ...(r.body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: r.body === undefined ? undefined : JSON.stringify(r.body),
  });
  const json = (await res.json()) as { error?: { code: string } };
  return { status: res.status, code: json.error?.code, json };
}

async function openTargetsRound(reason: string): Promise<string> {
  const r = await quorumHere([
    'round',
    'open',
    'targets',
    '--reason',
    reason,
    '--data-dir',
    repo.dataDir,
    ...located(repo.dialect),
  ]);
  expect(r.code, r.stderr).toBe(0);
  const open = await admin(repo.coordinator, 'status');
  return open.body!.openRounds.find((x) => x.role === 'targets')!.id;
}

describe('status page credentials and sessions', () => {
  it('keeps only the sha256 of a viewer token, and lists viewers to the admin only', async () => {
    const db = new Database(path.join(repo.dataDir, 'quorum.db'), { readonly: true });
    const stored = (db.prepare("SELECT value FROM meta WHERE key = 'viewers'").get() as { value: string }).value;
    db.close();
    expect(stored).not.toContain(viewerToken);
    expect(stored).toContain('carol');
    const list = await quorumHere(['viewer', 'list', '--data-dir', repo.dataDir, '--json']);
    expect(JSON.parse(list.stdout)).toEqual([{ name: 'carol', addedAt: expect.any(String) }]);
    const again = await quorumHere(['viewer', 'add', 'carol', '--data-dir', repo.dataDir]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^VIEWER_EXISTS/);
    const bad = await quorumHere(['viewer', 'add', '../x', '--data-dir', repo.dataDir]);
    expect(bad.stderr).toMatch(/BODY_INVALID/);
  });

  it('gives a session cookie that is HttpOnly, SameSite=Strict, expiring, and not Secure over plain loopback', async () => {
    const s = await signIn(repo.coordinator.adminToken);
    expect(s.role).toBe('admin');
    expect(s.setCookie).toMatch(/^quorum_session=[A-Za-z0-9_-]{43};/);
    expect(s.setCookie).toMatch(/; HttpOnly/);
    expect(s.setCookie).toMatch(/; SameSite=Strict/);
    expect(s.setCookie).toMatch(/; Path=\//);
    expect(s.setCookie).toMatch(/; Max-Age=\d+/);
    expect(s.setCookie).toMatch(/; Expires=/);
    expect(s.setCookie).not.toMatch(/Secure/);
    // The cookie's value is not the admin token, nor anything derived from it that the page could read.
    expect(s.setCookie).not.toContain(repo.coordinator.adminToken);
  });

  it('refuses a wrong token and a sign-in from another origin', async () => {
    const wrong = await fetch(`${url}/v1/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: 'not-the-token' }),
    });
    expect(wrong.status).toBe(401);
    expect(((await wrong.json()) as { error: { code: string } }).error.code).toBe('ADMIN_UNAUTHORIZED');
    expect(wrong.headers.get('set-cookie')).toBeNull();
    const cross = await fetch(`${url}/v1/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: 'https://evil.example' },
      body: JSON.stringify({ token: repo.coordinator.adminToken }),
    });
    expect(cross.status).toBe(403);
    expect(cross.headers.get('set-cookie')).toBeNull();
    // A cross-site form can only send form encodings, never JSON.
    const form = await fetch(`${url}/v1/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `token=${repo.coordinator.adminToken}`,
    });
    expect(form.status).toBe(400);
  });

  it('refuses a viewer everything that changes state (403), whatever it sends', async () => {
    const id = await openTargetsRound('viewer must not cancel this');
    const v = await signIn(viewerToken);
    expect(v.role).toBe('viewer');
    // Reads work.
    expect((await withCookie(v.cookie, adminRequest('status'))).status).toBe(200);
    expect((await withCookie(v.cookie, adminRequest('rounds.summary', { params: { id } }))).status).toBe(200);
    // A forged cancel with the viewer's own valid CSRF token and origin: refused by role.
    const cancel = adminRequest('rounds.cancel', { params: { id }, body: { reason: 'forged' } });
    const forged = await withCookie(v.cookie, cancel, { 'x-quorum-csrf': v.csrf, origin: url });
    expect(forged).toMatchObject({ status: 403, code: 'VIEWER_READ_ONLY' });
    // The same with the viewer token as a bearer credential.
    const bearer = await fetch(`${url}${cancel.path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${viewerToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(cancel.body),
    });
    expect(bearer.status).toBe(403);
    // Other writes and the admin-only read.
    for (const r of [
      adminRequest('viewers.add', { body: { name: 'mallory' } }),
      adminRequest('viewers.remove', { params: { name: 'carol' } }),
      adminRequest('keyholders.remove', { params: { name: 'alice' } }),
      adminRequest('viewers.list'),
    ])
      expect(await withCookie(v.cookie, r, { 'x-quorum-csrf': v.csrf })).toMatchObject({
        status: 403,
        code: 'VIEWER_READ_ONLY',
      });
    const st = await admin(repo.coordinator, 'rounds.get', { params: { id } });
    expect(st.body!.round.state).toBe('open');
    await admin(repo.coordinator, 'rounds.cancel', { params: { id }, body: { reason: 'test done' } });
  });

  it('needs the CSRF token and the same origin for an admin session to change anything', async () => {
    const a = await signIn(repo.coordinator.adminToken);
    const id = await openTargetsRound('csrf test');
    const cancel = adminRequest('rounds.cancel', { params: { id }, body: { reason: 'by the page' } });
    expect(await withCookie(a.cookie, cancel)).toMatchObject({ status: 403, code: 'CSRF_INVALID' });
    expect(await withCookie(a.cookie, cancel, { 'x-quorum-csrf': 'x'.repeat(43) })).toMatchObject({
      status: 403,
      code: 'CSRF_INVALID',
    });
    expect(
      await withCookie(a.cookie, cancel, { 'x-quorum-csrf': a.csrf, origin: 'https://evil.example' }),
    ).toMatchObject({ status: 403, code: 'CSRF_INVALID' });
    expect(
      await withCookie(a.cookie, cancel, { 'x-quorum-csrf': a.csrf, 'sec-fetch-site': 'cross-site' }),
    ).toMatchObject({ status: 403, code: 'CSRF_INVALID' });
    expect((await admin(repo.coordinator, 'rounds.get', { params: { id } })).body!.round.state).toBe('open');
    const ok = await withCookie(a.cookie, cancel, {
      'x-quorum-csrf': a.csrf,
      origin: url,
      'sec-fetch-site': 'same-origin',
    });
    expect(ok.status).toBe(200);
    expect((await admin(repo.coordinator, 'rounds.get', { params: { id } })).body!.round.state).toBe('cancelled');
  });

  it("ends a session at sign-out, and a removed viewer's sessions at once", async () => {
    const a = await signIn(repo.coordinator.adminToken);
    expect(await withCookie(a.cookie, { method: 'DELETE', path: '/v1/session' })).toMatchObject({
      status: 403,
      code: 'CSRF_INVALID',
    });
    const out = await fetch(`${url}/v1/session`, {
      method: 'DELETE',
      headers: { cookie: a.cookie, 'x-quorum-csrf': a.csrf },
    });
    expect(out.status).toBe(200);
    expect(out.headers.get('set-cookie')).toMatch(/^quorum_session=; .*Max-Age=0/);
    expect(await withCookie(a.cookie, adminRequest('status'))).toMatchObject({ status: 401, code: 'SESSION_INVALID' });
    expect(await withCookie(a.cookie, { method: 'GET', path: '/v1/session' })).toMatchObject({ status: 401 });
    // Sign-in and sign-out are in the audit log, with who and from where, and never the token.
    const audit = (await admin(repo.coordinator, 'audit.list', { query: { limit: 20 } })).body!.events;
    const signedIn = audit.filter((e) => e.event === 'page.signed_in');
    expect(signedIn[0]!.data).toMatchObject({ role: 'admin', name: 'admin', source: '127.0.0.1' });
    expect(audit.find((e) => e.event === 'page.signed_out')!.data).toMatchObject({ role: 'admin' });
    expect(JSON.stringify(audit)).not.toContain(repo.coordinator.adminToken);
    expect(JSON.stringify(audit)).not.toContain(viewerToken);

    const add = await quorumHere(['viewer', 'add', 'dave', '--data-dir', repo.dataDir, '--json']);
    const dave = await signIn((JSON.parse(add.stdout) as { token: string }).token);
    expect((await withCookie(dave.cookie, adminRequest('status'))).status).toBe(200);
    expect((await quorumHere(['viewer', 'remove', 'dave', '--data-dir', repo.dataDir])).code).toBe(0);
    expect(await withCookie(dave.cookie, adminRequest('status'))).toMatchObject({
      status: 401,
      code: 'SESSION_INVALID',
    });
  });

  it('refuses a made-up session cookie and a request with no credential', async () => {
    const fake = await withCookie(`quorum_session=${'A'.repeat(43)}`, adminRequest('status'));
    expect(fake).toMatchObject({ status: 401, code: 'SESSION_INVALID' });
    expect(await withCookie('other=1', adminRequest('status'))).toMatchObject({
      status: 401,
      code: 'ADMIN_UNAUTHORIZED',
    });
    const events = await fetch(`${url}/v1/events`);
    expect(events.status).toBe(401);
  });

  it('sends the security headers on the page, its files, the API and its errors', async () => {
    for (const p of ['/', '/app.js', '/app.css', '/v1/health', '/v1/admin/status', '/nope']) {
      const res = await fetch(`${url}${p}`);
      const csp = res.headers.get('content-security-policy')!;
      expect(csp, p).toMatch(/default-src 'self'/);
      expect(csp, p).toMatch(/frame-ancestors 'none'/);
      expect(csp, p).not.toMatch(/unsafe-inline|unsafe-eval/);
      expect(res.headers.get('x-content-type-options'), p).toBe('nosniff');
      expect(res.headers.get('referrer-policy'), p).toBe('no-referrer');
      await res.arrayBuffer();
    }
    const page = await fetch(`${url}/`);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    // No inline script or style: every script is a file from this server.
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
    expect(html).not.toMatch(/https?:\/\//);
  });

  it('streams a change to a signed-in page when a round moves, and ends the stream at sign-out', async () => {
    const a = await signIn(repo.coordinator.adminToken);
    const ctrl = new AbortController();
    const res = await fetch(`${url}/v1/events`, { headers: { cookie: a.cookie }, signal: ctrl.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = res.body!.getReader();
    let got = '';
    const read = async (re: RegExp) => {
      while (!re.test(got)) {
        const { value, done } = await reader.read();
        if (done) return false;
        got += new TextDecoder().decode(value);
      }
      return true;
    };
    expect(await read(/event: ready/)).toBe(true);
    const id = await openTargetsRound('live feed test');
    expect(await read(new RegExp(`"type":"round.opened","round":\\{"id":"${id}"`))).toBe(true);
    // The feed carries the round's public summary only, never the bytes.
    expect(got).not.toMatch(/"_type"|"spec_version"/);
    await fetch(`${url}/v1/session`, { method: 'DELETE', headers: { cookie: a.cookie, 'x-quorum-csrf': a.csrf } });
    expect(await read(/(?!)/)).toBe(false); // the server ended the stream
    ctrl.abort();
    await admin(repo.coordinator, 'rounds.cancel', { params: { id }, body: { reason: 'test done' } });
  });
});
