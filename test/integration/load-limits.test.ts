/**
 * A keyholder cannot starve the coordinator, and strangers cannot grow its files (issue 9,
 * point 7), against a real `quorum serve`, each attack from its own loopback address (127.0.0.x,
 * so one source's limits do not touch the others): a keyholder opening 50 connections at once; a
 * stranger hammering the challenge endpoint; a stranger failing logins over and over (and the
 * audit it leaves: a few rows with counts, not one per attempt); a keyholder that asks for big
 * replies and never reads them (backpressure: the coordinator stops reading that socket, its
 * memory stays flat, everyone else is served, and the socket is dropped); a database whose past
 * payloads were rewritten (listings read stored summaries, never the payloads).
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { WIRE_LIMITS } from '../../protocol/limits.js';
import type { RoundInfo } from '../../protocol/wire.js';
import {
  adminCall,
  auditEvents,
  newRepo,
  passphraseFile,
  quorumHere,
  signerHere,
  sleep,
  until,
  type Repo,
} from './harness.js';
import { RawSocket } from './raw-socket.js';
import { authHeaders, keySigner, upgrade } from './wire-client.js';

const AUDIT_MS = 500;
let repo: Repo;
const sockets: RawSocket[] = [];
const url = () => repo.coordinator.url;

/** GET `p` from the local address `local` (a loopback address other than 127.0.0.1). */
function getFrom(
  p: string,
  local: string,
): Promise<{
  status: number;
  retryAfter?: string;
  body: { nonce?: string; serverId?: string; error?: { code: string } };
}> {
  return new Promise((resolve, reject) => {
    const u = new URL(p, url());
    http
      .get({ host: u.hostname, port: u.port, path: u.pathname, localAddress: local }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            retryAfter: res.headers['retry-after'] as string | undefined,
            body: JSON.parse(Buffer.concat(chunks).toString()) as never,
          }),
        );
      })
      .on('error', reject);
  });
}

/** Try the upgrade from `local` with these headers: the HTTP status and error code, or 101. */
function upgradeFrom(headers: Record<string, string>, local: string): Promise<{ status: number; code?: string }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${url().replace(/^http/, 'ws')}/v1/ws`, { headers, localAddress: local });
    ws.on('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          code: (JSON.parse(Buffer.concat(chunks).toString()) as { error: { code: string } }).error.code,
        }),
      );
    });
    ws.on('open', () => {
      ws.close();
      resolve({ status: 101 });
    });
    ws.on('error', () => undefined);
  });
}

beforeAll(async () => {
  repo = await newRepo({
    dialect: 'tuf',
    keyholders: ['alice', 'bob', 'carol'],
    rootThreshold: 2,
    targetsThreshold: 2,
    releaseRoot: true,
    serveEnv: { QUORUM_AUTH_AUDIT_MS: String(AUDIT_MS), QUORUM_SLOW_READER_MS: '1500' },
  });
});
afterAll(async () => {
  for (const s of sockets) s.terminate();
  await repo?.coordinator.kill();
  if (repo) fs.rmSync(repo.dir, { recursive: true, force: true });
});

describe('a keyholder', () => {
  it(
    `opening 50 connections holds ${WIRE_LIMITS.maxConnectionsPerKeyholder}; the rest get TOO_MANY_CONNECTIONS, ` +
      'and others are not affected',
    async () => {
      const alice = keySigner(repo.keys.alice!);
      const results: Awaited<ReturnType<typeof upgrade>>[] = [];
      for (let i = 0; i < 50; i++) results.push(await upgrade(url(), await authHeaders(url(), alice)));
      const ok = results.filter((r) => r.ok);
      expect(ok).toHaveLength(WIRE_LIMITS.maxConnectionsPerKeyholder);
      for (const r of results.filter((x) => !x.ok))
        expect(r).toMatchObject({ status: 429, error: { code: 'TOO_MANY_CONNECTIONS' } });
      // another keyholder connects as usual
      const bob = await RawSocket.open(url(), repo.keys.bob!);
      sockets.push(bob);
      expect((await bob.request({ type: 'ping', ref: 'b' })).msg).toEqual({ type: 'pong', ref: 'b' });
      // one of alice's closes: she may open one again
      const first = ok[0]!;
      if (first.ok) {
        first.client.close();
        await first.client.closed;
      }
      const again = await upgrade(url(), await authHeaders(url(), alice));
      expect(again.ok).toBe(true);
      for (const r of [...ok, again]) if (r.ok) r.client.close();
      await bob.close();
    },
  );
});

describe('a stranger', () => {
  it(
    `hammering /v1/challenge gets ${WIRE_LIMITS.maxChallengesPerSource} outstanding, then TOO_MANY_CHALLENGES; a ` +
      'keyholder elsewhere logs in',
    async () => {
      const answers = [];
      for (let i = 0; i < 40; i++) answers.push(await getFrom('/v1/challenge', '127.0.0.3'));
      expect(answers.filter((a) => a.status === 200)).toHaveLength(WIRE_LIMITS.maxChallengesPerSource);
      const refused = answers.filter((a) => a.status !== 200);
      expect(refused).toHaveLength(40 - WIRE_LIMITS.maxChallengesPerSource);
      for (const r of refused)
        expect(r).toMatchObject({ status: 429, body: { error: { code: 'TOO_MANY_CHALLENGES' } } });
      expect(Number(refused[0]!.retryAfter)).toBeGreaterThan(0);
      // A keyholder at another address is untouched.
      const carol = await RawSocket.open(url(), repo.keys.carol!);
      expect((await carol.request({ type: 'ping', ref: 'c' })).msg).toEqual({ type: 'pong', ref: 'c' });
      await carol.close();
      // Spending a challenge (here on a failed login) frees its place: the stranger may ask again.
      expect(
        await upgradeFrom(
          { 'x-quorum-key': 'cd'.repeat(32), 'x-quorum-nonce': answers[0]!.body.nonce!, 'x-quorum-signature': 'AAAA' },
          '127.0.0.3',
        ),
      ).toEqual({ status: 403, code: 'AUTH_NOT_ENROLLED' });
      expect((await getFrom('/v1/challenge', '127.0.0.3')).status).toBe(200);
    },
  );

  it(
    `failing logins is throttled after ${WIRE_LIMITS.failedAuthPerMinute} a minute (AUTH_THROTTLED), and audited ` +
      'as a few rows with counts',
    async () => {
      const before = (await auditEvents(repo.dataDir)).length;
      const statuses: { status: number; code?: string }[] = [];
      const t0 = Date.now();
      for (let i = 0; i < 70; i++)
        statuses.push(
          await upgradeFrom(
            {
              'x-quorum-key': 'ab'.repeat(32),
              'x-quorum-nonce': `${i}`.padStart(64, '0'),
              'x-quorum-signature': 'AAAA',
            },
            '127.0.0.4',
          ),
        );
      expect(
        statuses
          .slice(0, WIRE_LIMITS.failedAuthPerMinute)
          .every((s) => s.status === 401 && s.code === 'AUTH_CHALLENGE'),
      ).toBe(true);
      expect(statuses.slice(WIRE_LIMITS.failedAuthPerMinute)).toEqual(
        Array(70 - WIRE_LIMITS.failedAuthPerMinute).fill({ status: 429, code: 'AUTH_THROTTLED' }),
      );
      expect(await getFrom('/v1/challenge', '127.0.0.4')).toMatchObject({
        status: 429,
        body: { error: { code: 'AUTH_THROTTLED' } },
      });
      // wrong admin credentials from yet another address
      for (let i = 0; i < 5; i++) expect((await getFrom('/v1/admin/status', '127.0.0.5')).status).toBe(401);
      const took = Date.now() - t0;
      // a keyholder at another address is not throttled
      const bob = await RawSocket.open(url(), repo.keys.bob!);
      await bob.close();

      const rows = await until(
        async () => {
          const events = (await auditEvents(repo.dataDir)).slice(before).filter((e) => e.event === 'auth.failed');
          const of = (source: string) => events.filter((e) => e.data.source === source);
          const sum = (source: string) => of(source).reduce((n, e) => n + (e.data.count as number), 0);
          return sum('127.0.0.4') === 70 && sum('127.0.0.5') === 5
            ? { stranger: of('127.0.0.4'), admin: of('127.0.0.5'), all: events }
            : null;
        },
        'the aggregated audit rows',
        10_000,
      );
      // The first failure at once, then at most one row per interval with its count (not 70 rows).
      expect(rows.stranger[0]!.data).toMatchObject({ kind: 'signer', code: 'AUTH_CHALLENGE', count: 1 });
      expect(rows.stranger.length).toBeLessThanOrEqual(2 + Math.ceil(took / AUDIT_MS));
      expect(rows.stranger.length).toBeLessThan(70 / 4);
      const aggregated = rows.stranger.slice(1);
      expect(aggregated.every((e) => e.data.aggregated === true)).toBe(true);
      const codes: Record<string, number> = {};
      for (const e of aggregated)
        for (const [c, n] of Object.entries(e.data.codes as Record<string, number>)) codes[c] = (codes[c] ?? 0) + n;
      expect(codes).toEqual({
        AUTH_CHALLENGE: WIRE_LIMITS.failedAuthPerMinute - 1,
        AUTH_THROTTLED: 70 - WIRE_LIMITS.failedAuthPerMinute,
      });
      expect(rows.admin[0]!.data).toMatchObject({ kind: 'admin', code: 'ADMIN_UNAUTHORIZED', count: 1 });
      expect(rows.admin.length).toBeLessThanOrEqual(3);
    },
  );
});

describe('a keyholder that does not read its replies', () => {
  let big: RoundInfo;
  const rss = () => {
    const status = fs.readFileSync(`/proc/${repo.coordinator.proc!.pid}/status`, 'utf8');
    return {
      hwm: Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) * 1024,
      rss: Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024,
    };
  };

  beforeAll(async () => {
    const add: Record<string, { length: number; hashes: { sha256: string } }> = {};
    for (let i = 0; i < 30_000; i++)
      add[`firmware/ecu-${i}/image-${i}.bin`] = {
        length: 1024 + i,
        hashes: { sha256: i.toString(16).padStart(64, '0') },
      };
    big = (
      await adminCall(repo.coordinator, 'rounds.open', {
        body: {
          role: 'targets',
          reason: 'a big targets round',
          targets: { add },
        },
      })
    ).round;
  });

  it(
    'is no longer read from once its queue is full, costs no memory beyond that, and is dropped; the others are ' +
      'served meanwhile',
    async () => {
      const bob = await RawSocket.open(url(), repo.keys.bob!);
      sockets.push(bob);
      // one reply's worth is the baseline
      const one = await bob.request({ type: 'round.get', round: big.id, ref: 'warm' }, 30_000);
      const replyBytes = one.text.length;
      expect(replyBytes).toBeGreaterThan(4_000_000);
      const base = rss();

      const mallory = await RawSocket.open(url(), repo.keys.alice!);
      sockets.push(mallory);
      mallory.ws.pause(); // reads nothing from here on
      for (let i = 0; i < WIRE_LIMITS.rateBurst - 2; i++)
        mallory.sendJson({ type: 'round.get', round: big.id, ref: `r${i}` });

      // Meanwhile the coordinator serves the others.
      await sleep(300);
      expect((await bob.request({ type: 'ping', ref: 'during' }, 10_000)).msg).toEqual({ type: 'pong', ref: 'during' });
      expect((await fetch(`${url()}/v1/health`)).status).toBe(200);

      await until(
        () => /dropped a connection of alice: its replies have not been read/.test(repo.coordinator.log),
        'the slow reader dropped',
        20_000,
      );
      const grown = rss().hwm - base.hwm;
      // Without backpressure every one of the 48 replies (each over 4 MB) is queued in the
      // coordinator's memory; with it, reading stops after about a pause threshold's worth.
      expect(grown, `peak memory grew by ${grown} bytes`).toBeLessThan(
        WIRE_LIMITS.sendBufferPauseBytes + 6 * replyBytes,
      );
      expect((await bob.request({ type: 'ping', ref: 'after' })).msg).toEqual({ type: 'pong', ref: 'after' });
      mallory.ws.resume();
      expect((await mallory.closed).code).toBe(1006);
      await bob.close();
    },
  );

  it('a reader that reads slowly but does read gets every reply', async () => {
    const s = await RawSocket.open(url(), repo.keys.carol!);
    sockets.push(s);
    s.ws.pause();
    for (let i = 0; i < 6; i++) s.sendJson({ type: 'round.get', round: big.id, ref: `s${i}` });
    await sleep(500);
    s.ws.resume();
    for (let i = 0; i < 6; i++)
      expect((await s.nextReply(30_000)).msg).toMatchObject({ type: 'round.payload', ref: `s${i}` });
    await s.close();
    const cancel = await quorumHere(['round', 'cancel', big.id, '--reason', 'test done', '--data-dir', repo.dataDir]);
    expect(cancel.code, cancel.stderr).toBe(0);
  });
});

describe('a rewritten database', () => {
  it('still lists rounds: listings read stored summaries, never past payloads; pages on the CLIs', async () => {
    await repo.coordinator.kill();
    const db = new Database(path.join(repo.dataDir, 'quorum.db'));
    const closed = db
      .prepare("UPDATE rounds SET signed_json = '{not json', canonical = x'00' WHERE state != 'open'")
      .run().changes;
    db.close();
    expect(closed).toBeGreaterThanOrEqual(2);
    await repo.coordinator.start(repo.coordinator.port);
    // The listings run in this process (signerHere over the wire, quorumHere over the admin API):
    // what is checked is the coordinator's answer, a real process on the rewritten database.
    const r = await signerHere(['rounds', '--json', '--home', repo.homes.bob!, '--passphrase-file', passphraseFile()]);
    expect(r.code, r.stderr).toBe(0);
    const ids = (JSON.parse(r.stdout) as RoundInfo[]).map((x) => x.id);
    expect(ids).toContain('root-v1-r1');
    const one = await quorumHere(['rounds', '--limit', '1', '--data-dir', repo.dataDir]);
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout.trim().split('\n')).toHaveLength(1);
    expect(one.stderr).toMatch(/older rounds exist: quorum rounds --before \S+/);
    const older = await quorumHere([
      'rounds',
      '--before',
      /--before (\S+)/.exec(one.stderr)![1]!,
      '--data-dir',
      repo.dataDir,
      '--json',
    ]);
    expect(older.code, older.stderr).toBe(0);
    expect((JSON.parse(older.stdout) as RoundInfo[]).map((x) => x.id)).toEqual(ids.slice(0, -1));
  });
});
