/**
 * The status page's sessions in process, on a clock the test moves: the cookie under TLS, expiry,
 * the bound on sessions kept, ending a viewer's sessions, and the CSRF and same-origin checks.
 */
import type http from 'node:http';
import { describe, expect, it } from 'vitest';
import { checkCsrf, parseCookies, Sessions } from '../../coordinator/sessions.js';
import { PAGE_LIMITS } from '../../protocol/limits.js';

const req = (headers: Record<string, string>) => ({ headers }) as unknown as http.IncomingMessage;
const cookieOf = (setCookie: string) => setCookie.split(';')[0]!;

describe('page sessions', () => {
  it('under TLS, the cookie is Secure and __Host- prefixed (no other host or path can set it)', () => {
    const s = new Sessions(true);
    const { setCookie } = s.create({ role: 'admin', name: 'admin' });
    expect(setCookie).toMatch(/^__Host-quorum_session=[^;]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=28800; /);
    expect(setCookie).toMatch(/; Secure$/);
    expect(setCookie).not.toMatch(/Domain=/);
    expect(s.clearCookie()).toMatch(/^__Host-quorum_session=; .*Max-Age=0; Secure$/);
  });

  it('a session expires at its expiry and is ended then', () => {
    let now = 1_000_000;
    const s = new Sessions(false, () => now, 60_000);
    const ended: string[] = [];
    s.onEnd.add((k) => ended.push(k));
    const { setCookie } = s.create({ role: 'viewer', name: 'carol' });
    const r = req({ cookie: `a=b; ${cookieOf(setCookie)}` });
    expect(s.of(r)?.name).toBe('carol');
    now += 59_999;
    expect(s.of(r)).toBeDefined();
    now += 1;
    expect(s.of(r)).toBeUndefined();
    expect(ended).toHaveLength(1);
  });

  it('keeps at most maxSessions, ending the oldest', () => {
    const s = new Sessions(false);
    const first = cookieOf(s.create({ role: 'admin', name: 'admin' }).setCookie);
    for (let i = 0; i < PAGE_LIMITS.maxSessions; i++) s.create({ role: 'viewer', name: `v${i}` });
    expect(s.of(req({ cookie: first }))).toBeUndefined();
  });

  it("ends a removed viewer's sessions and only theirs", () => {
    const s = new Sessions(false);
    const carol = cookieOf(s.create({ role: 'viewer', name: 'carol' }).setCookie);
    const dave = cookieOf(s.create({ role: 'viewer', name: 'dave' }).setCookie);
    s.endViewer('carol');
    expect(s.of(req({ cookie: carol }))).toBeUndefined();
    expect(s.of(req({ cookie: dave }))).toBeDefined();
  });

  it('checks the CSRF token, Origin and Sec-Fetch-Site', () => {
    const s = new Sessions(false);
    const c = s.create({ role: 'admin', name: 'admin' });
    const session = s.of(req({ cookie: cookieOf(c.setCookie) }))!;
    const ok = { host: '127.0.0.1:7300', 'x-quorum-csrf': c.session.csrf };
    expect(() => checkCsrf(req(ok), session)).not.toThrow();
    expect(() => checkCsrf(req({ ...ok, origin: 'http://127.0.0.1:7300' }), session)).not.toThrow();
    for (const bad of [
      { host: ok.host },
      { ...ok, 'x-quorum-csrf': c.session.csrf.slice(1) },
      { ...ok, 'x-quorum-csrf': `${c.session.csrf.slice(1)}x` },
      { ...ok, origin: 'http://127.0.0.1:7301' },
      { ...ok, origin: 'null' },
      { ...ok, 'sec-fetch-site': 'same-site' },
      { ...ok, 'sec-fetch-site': 'cross-site' },
    ])
      expect(() => checkCsrf(req(bad), session), JSON.stringify(bad)).toThrow(
        expect.objectContaining({ code: 'CSRF_INVALID' }),
      );
  });

  it('reads the first of a repeated cookie name and ignores malformed pairs', () => {
    expect([...parseCookies('a=1; =x; b; a=2; c=3=4')]).toEqual([
      ['a', '1'],
      ['c', '3=4'],
    ]);
  });
});
