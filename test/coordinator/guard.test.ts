/**
 * The guard's bookkeeping, in process with a clock the test moves (coordinator/guard.ts): what a
 * source is (an IPv6 /64 is one), challenges outstanding per source and their single use and
 * expiry, the per-minute throttle, and the audit rows failures leave (the first at once, then
 * one row per source per interval), however many failures there are.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { AuthGuard, GuardError, sourceOf } from '../../coordinator/guard.js';
import { Store } from '../../coordinator/store.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quorum-guard-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const LIMITS = {
  maxChallengesPerSource: 3,
  maxPendingChallenges: 10,
  challengeTtlMs: 1000,
  failedAuthPerMinute: 5,
  authAuditIntervalMs: 3_600_000,
  maxSources: 100,
};
let n = 0;
let now = 0;
let store: Store;
let guard: AuthGuard;
beforeEach(() => {
  store = new Store(path.join(dir, `g${n++}.db`));
  now = 1_000_000;
  guard = new AuthGuard(store, LIMITS, () => now);
  return () => {
    guard.close();
    store.close();
  };
});
const failedRows = () =>
  store
    .auditRows()
    .filter((r) => r.event === 'auth.failed')
    .map((r) => JSON.parse(r.data) as Record<string, unknown>);
const codeOf = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return (e as GuardError).code;
  }
  return 'ok';
};

describe('sources', () => {
  it('are IPv4 addresses, IPv4-mapped ones as IPv4, and IPv6 /64 prefixes', () => {
    expect(sourceOf('192.0.2.7')).toBe('192.0.2.7');
    expect(sourceOf('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(sourceOf('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(sourceOf('2001:db8:1:2:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(sourceOf('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(sourceOf('::1')).toBe('0:0:0:0::/64');
    expect(sourceOf(undefined)).toBe('unknown');
  });
});

describe('challenges', () => {
  it('a source has at most its share outstanding; spending or expiry frees a place; each is single-use', () => {
    const a = [guard.challenge('192.0.2.1'), guard.challenge('192.0.2.1'), guard.challenge('192.0.2.1')];
    expect(codeOf(() => guard.challenge('192.0.2.1'))).toBe('TOO_MANY_CHALLENGES');
    expect(codeOf(() => guard.challenge('2001:db8:1:2::9'))).toBe('ok'); // another source
    expect(guard.spend(a[0]!)).toBe(true);
    expect(guard.spend(a[0]!)).toBe(false); // single use
    expect(codeOf(() => guard.challenge('192.0.2.1'))).toBe('ok');
    now += LIMITS.challengeTtlMs + 1;
    expect(guard.spend(a[1]!)).toBe(false); // expired
    for (let i = 0; i < 3; i++) guard.challenge('192.0.2.1'); // the expired ones no longer count
    expect(codeOf(() => guard.challenge('192.0.2.1'))).toBe('TOO_MANY_CHALLENGES');
  });

  it('one /64 is one source, whatever its addresses', () => {
    for (let i = 1; i <= 3; i++) guard.challenge(`2001:db8:1:2::${i}`);
    expect(codeOf(() => guard.challenge('2001:db8:1:2:ffff::4'))).toBe('TOO_MANY_CHALLENGES');
  });
});

describe('failed authentications', () => {
  it('throttle a source for the rest of the minute after the limit, and only that source', () => {
    for (let i = 0; i < LIMITS.failedAuthPerMinute; i++) {
      expect(codeOf(() => guard.checkThrottle('192.0.2.1'))).toBe('ok');
      guard.failed('192.0.2.1', 'signer', 'AUTH_SIGNATURE');
    }
    expect(codeOf(() => guard.checkThrottle('192.0.2.1'))).toBe('AUTH_THROTTLED');
    expect(codeOf(() => guard.challenge('192.0.2.1'))).toBe('AUTH_THROTTLED');
    expect(codeOf(() => guard.checkThrottle('192.0.2.2'))).toBe('ok');
    now += 59_000;
    expect(codeOf(() => guard.checkThrottle('192.0.2.1'))).toBe('AUTH_THROTTLED');
    now += 1_000;
    expect(codeOf(() => guard.checkThrottle('192.0.2.1'))).toBe('ok');
  });

  it('leave one row at once, then one row per source per interval with the count, codes and a few keys', () => {
    for (let i = 0; i < 1000; i++)
      guard.failed('192.0.2.1', 'signer', i % 3 ? 'AUTH_SIGNATURE' : 'AUTH_CHALLENGE', `key${i % 7}`);
    guard.failed('192.0.2.9', 'admin', 'ADMIN_UNAUTHORIZED');
    expect(failedRows()).toEqual([
      { kind: 'signer', code: 'AUTH_CHALLENGE', key: 'key0', remote: '192.0.2.1', source: '192.0.2.1', count: 1 },
      { kind: 'admin', code: 'ADMIN_UNAUTHORIZED', remote: '192.0.2.9', source: '192.0.2.9', count: 1 },
    ]);
    guard.flush();
    const rows = failedRows();
    expect(rows).toHaveLength(3);
    expect(rows[2]).toMatchObject({
      kind: 'signer',
      source: '192.0.2.1',
      count: 999,
      codes: { AUTH_SIGNATURE: 666, AUTH_CHALLENGE: 333 },
      aggregated: true,
    });
    expect(rows[2]!.keys).toHaveLength(5);
    // The admin source had nothing more in that interval, so it is quiet: its next failure is written at once.
    guard.failed('192.0.2.9', 'admin', 'ADMIN_UNAUTHORIZED');
    expect(failedRows()).toHaveLength(4);
    // The busy one is still counted per interval ...
    guard.failed('192.0.2.1', 'signer', 'AUTH_SIGNATURE');
    expect(failedRows()).toHaveLength(4);
    guard.flush();
    expect(failedRows().at(-1)).toMatchObject({ source: '192.0.2.1', count: 1, aggregated: true });
    // ... until an interval passes without one.
    guard.flush();
    guard.failed('192.0.2.1', 'signer', 'AUTH_SIGNATURE');
    expect(failedRows().at(-1)).toMatchObject({ source: '192.0.2.1', count: 1, code: 'AUTH_SIGNATURE' });
    expect(store.auditRows().length).toBeLessThan(10);
  });

  it('keep bounded state however many sources fail: the stalest source is forgotten', () => {
    for (let i = 0; i < LIMITS.failedAuthPerMinute; i++) guard.failed('192.0.2.1', 'signer', 'AUTH_SIGNATURE');
    expect(codeOf(() => guard.checkThrottle('192.0.2.1'))).toBe('AUTH_THROTTLED');
    for (let i = 0; i < 2 * LIMITS.maxSources; i++)
      guard.failed(`10.0.${i >> 8}.${i & 255}`, 'signer', 'AUTH_CHALLENGE');
    // Only the newest maxSources sources are remembered (a flood of sources forgets the oldest one's
    // count); the audit still holds every source's first failure.
    expect(codeOf(() => guard.checkThrottle('192.0.2.1'))).toBe('ok');
    expect(failedRows()).toHaveLength(1 + 2 * LIMITS.maxSources);
  });
});
