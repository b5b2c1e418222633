/**
 * Connection limits of the coordinator, over real authenticated sockets to a real `quorum serve`:
 * the maximum frame size (close 1009), the per-connection message-rate limit (RATE_LIMITED, close
 * 4008), non-fatal errors for malformed and schema-invalid messages (the socket stays open), and
 * the heartbeat (a client that stops answering pings is dropped). The coordinator runs with
 * `--heartbeat-ms 300` so the heartbeat can be observed quickly.
 */
import fs from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WIRE_LIMITS } from '../../protocol/limits.js';
import { CLOSE_CODES } from '../../protocol/wire.js';
import { adminCall, newRepo, sleep, until, type Repo } from './harness.js';
import { RawSocket } from './raw-socket.js';

const HEARTBEAT_MS = 300;

describe('coordinator connection limits', () => {
  let repo: Repo;
  const sockets: RawSocket[] = [];
  const open = async (who = 'alice', opts: { autoPong?: boolean } = {}) => {
    const s = await RawSocket.open(repo.coordinator.url, repo.keys[who]!, opts);
    sockets.push(s);
    return s;
  };
  /** The coordinator process is alive and a fresh connection gets an answer. */
  const stillServing = async () => {
    expect(repo.coordinator.proc!.exitCode).toBeNull();
    expect(repo.coordinator.proc!.signalCode).toBeNull();
    const health = await fetch(`${repo.coordinator.url}/v1/health`);
    expect(health.status).toBe(200);
    const s = await open('bob');
    const r = await s.request({ type: 'ping', ref: 'alive' });
    expect(r.msg).toEqual({ type: 'pong', ref: 'alive' });
    await s.close();
  };

  beforeAll(async () => {
    repo = await newRepo({
      dialect: 'tuf',
      keyholders: ['alice', 'bob', 'carol'],
      rootThreshold: 2,
      targetsThreshold: 2,
      serveArgs: ['--heartbeat-ms', String(HEARTBEAT_MS)],
    });
  });
  // A keyholder may hold WIRE_LIMITS.maxConnectionsPerKeyholder connections at once: each test
  // closes what it opened.
  afterEach(async () => {
    await Promise.all(sockets.splice(0).map((s) => (s.isOpen ? s.close() : (s.terminate(), s.closed))));
    await sleep(100);
  });
  afterAll(async () => {
    for (const s of sockets) s.terminate();
    await repo?.coordinator.kill();
    if (repo) fs.rmSync(repo.dir, { recursive: true, force: true });
  });

  it('answers a frame of exactly serverMaxPayload bytes, and closes with 1009 on a larger one', async () => {
    const s = await open();
    const frame = (bytes: number) => {
      const head = '{"type":"ping","ref":"';
      const tail = '"}';
      return head + 'x'.repeat(bytes - head.length - tail.length) + tail;
    };
    // At the limit: delivered and answered (the ref is too long, so it is schema-invalid).
    const atLimit = frame(WIRE_LIMITS.serverMaxPayload);
    expect(Buffer.byteLength(atLimit)).toBe(WIRE_LIMITS.serverMaxPayload);
    const r = await s.request(atLimit);
    expect(r.msg).toMatchObject({ type: 'error', code: 'MESSAGE_INVALID', fatal: false, ref: 'x'.repeat(64) });
    expect(s.isOpen).toBe(true);

    // One byte more: ws closes the socket with 1009 and nothing else is answered.
    s.send(frame(WIRE_LIMITS.serverMaxPayload + 1));
    const closed = await s.closed;
    expect(closed.code).toBe(CLOSE_CODES.tooLarge);
    expect(s.inbox).toEqual([]);

    // A much larger binary frame too.
    const b = await open();
    b.send(Buffer.alloc(4 * WIRE_LIMITS.serverMaxPayload, 0x7b));
    expect((await b.closed).code).toBe(CLOSE_CODES.tooLarge);

    await stillServing();
  });

  it('rate-limits a burst well above rateBurst: RATE_LIMITED, then close 4008', async () => {
    const bystander = await open('carol');
    const s = await open();
    const n = WIRE_LIMITS.rateBurst * 3;
    for (let i = 0; i < n; i++) s.sendJson({ type: 'ping', ref: `p${i}` });
    const closed = await s.closed;
    expect(closed.code).toBe(CLOSE_CODES.rateLimited);
    const frames = s.all.map((f) => f.msg);
    expect(
      frames.every((m) => m !== null),
      'every frame is a valid server message',
    ).toBe(true);
    const pongs = frames.filter((m) => m?.type === 'pong');
    const errors = frames.filter((m) => m?.type === 'error');
    // The bucket starts full (rateBurst) and refills ratePerSecond: a synchronous burst gets the
    // burst and at most a few refilled tokens, then exactly one fatal RATE_LIMITED.
    expect(pongs.length).toBeGreaterThanOrEqual(WIRE_LIMITS.rateBurst);
    expect(pongs.length).toBeLessThan(WIRE_LIMITS.rateBurst + 10);
    expect(pongs.map((p) => (p as { ref?: string }).ref)).toEqual(pongs.map((_, i) => `p${i}`));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ type: 'error', code: 'RATE_LIMITED', fatal: true });
    expect(frames.at(-1)).toEqual(errors[0]);

    // The limit is per connection: another keyholder's socket is untouched.
    expect(bystander.isOpen).toBe(true);
    expect((await bystander.request({ type: 'ping', ref: 'b' })).msg).toEqual({ type: 'pong', ref: 'b' });
    // And the limited keyholder can reconnect.
    const again = await open();
    expect((await again.request({ type: 'ping', ref: 'again' })).msg).toEqual({ type: 'pong', ref: 'again' });
    await stillServing();
  });

  it('does not limit a client that stays within the rate', async () => {
    const s = await open();
    // Most of the burst at once, then a steady rate just below ratePerSecond.
    const burst = WIRE_LIMITS.rateBurst - 5;
    for (let i = 0; i < burst; i++) s.sendJson({ type: 'ping', ref: `b${i}` });
    for (let i = 0; i < burst; i++) expect((await s.next()).msg).toEqual({ type: 'pong', ref: `b${i}` });
    const gap = Math.ceil(1000 / WIRE_LIMITS.ratePerSecond) + 10;
    for (let i = 0; i < 30; i++) {
      await sleep(gap);
      expect((await s.request({ type: 'ping', ref: `s${i}` })).msg).toEqual({ type: 'pong', ref: `s${i}` });
    }
    expect(s.isOpen).toBe(true);
  });

  it('answers non-JSON and binary frames with MESSAGE_INVALID_JSON and keeps the socket open', async () => {
    const s = await open();
    for (const bad of ['not json {', '', '{"type":"ping",}', "{'type':'ping'}", 'undefined', 'NaN', '{"type":"ping"']) {
      const r = await s.request(bad);
      expect(r.msg, JSON.stringify(bad)).toMatchObject({ type: 'error', code: 'MESSAGE_INVALID_JSON', fatal: false });
      expect(s.isOpen).toBe(true);
    }
    s.send(Buffer.from(JSON.stringify({ type: 'ping', ref: 'bin' })), true);
    expect((await s.next()).msg).toMatchObject({ type: 'error', code: 'MESSAGE_INVALID_JSON', fatal: false });
    s.send(Buffer.from([0xff, 0x00, 0xfe]), true);
    expect((await s.next()).msg).toMatchObject({ type: 'error', code: 'MESSAGE_INVALID_JSON', fatal: false });
    // Still usable.
    expect((await s.request({ type: 'ping', ref: 'ok' })).msg).toEqual({ type: 'pong', ref: 'ok' });
    expect(s.closedWith).toBeNull();
  });

  it('closes a text frame that is not UTF-8 with 1007 (ws itself), and keeps serving', async () => {
    const s = await open();
    s.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), false); // a text frame with invalid UTF-8
    const closed = await s.closed;
    expect(closed.code).toBe(1007);
    expect(s.inbox).toEqual([]);
    await stillServing();
  });

  it('answers schema-invalid messages with MESSAGE_INVALID (echoing a string ref) and keeps the socket open', async () => {
    const s = await open();
    const cases: [unknown, string | undefined][] = [
      [{ type: 'ping', ref: 'r1', extra: 1 }, 'r1'], // strict: unknown fields are errors
      [{ type: 'nope', ref: 'r2' }, 'r2'],
      [{ type: 'round.get', ref: 'r3' }, 'r3'], // missing round
      [{ type: 'round.get', round: '../../etc/passwd', ref: 'r4' }, 'r4'],
      [
        { type: 'signature.submit', round: 'root-v1-r1', sha256: 'AB'.repeat(32), keyid: 'k', sig: 'ab', ref: 'r5' },
        'r5',
      ],
      [{ type: 'released.get', afterRootVersion: -1, ref: 'r6' }, 'r6'],
      [{ type: 'released.get', afterRootVersion: 1.5 }, undefined],
      [{ type: 'ping', ref: 7 }, undefined],
      [[{ type: 'ping' }], undefined],
      [null, undefined],
      [42, undefined],
      ['"ping"', undefined],
    ];
    for (const [m, ref] of cases) {
      const r = await s.request(m);
      expect(r.msg, JSON.stringify(m)).toMatchObject({ type: 'error', code: 'MESSAGE_INVALID', fatal: false });
      expect((r.msg as { ref?: string }).ref, JSON.stringify(m)).toBe(ref);
    }
    // A prototype-pollution key is just an unknown field.
    const r = await s.request('{"type":"ping","ref":"pp","__proto__":{"polluted":true}}');
    expect(r.msg).toMatchObject({ type: 'error', code: 'MESSAGE_INVALID', ref: 'pp' });
    expect(s.isOpen).toBe(true);
    expect((await s.request({ type: 'ping', ref: 'ok' })).msg).toEqual({ type: 'pong', ref: 'ok' });
  });

  it('drops a client that stops answering heartbeat pings, and keeps one that answers', async () => {
    const live = await open('alice');
    const silent = await open('bob', { autoPong: false });
    const status = async () => (await adminCall(repo.coordinator, 'status')).keyholders;
    expect((await status()).find((k) => k.name === 'bob')!.connected).toBe(true);

    const t0 = Date.now();
    const closed = await Promise.race([silent.closed, sleep(20 * HEARTBEAT_MS).then(() => null)]);
    expect(closed, 'the silent client was not dropped').not.toBeNull();
    const after = Date.now() - t0;
    // Pinged once, missed it, dropped at the following beat: about two intervals (with slack for a
    // loaded machine; the default interval is WIRE_LIMITS.heartbeatMs = 30 s).
    expect(silent.pings).toBeGreaterThanOrEqual(1);
    expect(after).toBeLessThan(8 * HEARTBEAT_MS);
    // Today the server terminates the TCP connection, so the client sees 1006 (no close frame);
    // CLOSE_CODES.heartbeatTimeout (4009) is what a close frame would carry.
    expect([CLOSE_CODES.heartbeatTimeout, 1006]).toContain(closed!.code);
    await until(
      async () => (await status()).find((k) => k.name === 'bob')?.connected === false,
      'bob no longer listed as connected',
      5000,
    );

    // The answering client has been pinged several times and is still there.
    await sleep(4 * HEARTBEAT_MS);
    expect(live.pings).toBeGreaterThanOrEqual(3);
    expect(live.isOpen).toBe(true);
    expect((await live.request({ type: 'ping', ref: 'hb' })).msg).toEqual({ type: 'pong', ref: 'hb' });
    expect((await status()).find((k) => k.name === 'alice')!.connected).toBe(true);
  });
});
