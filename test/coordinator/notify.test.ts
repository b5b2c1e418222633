/**
 * The outbox (coordinator/notify.ts) in process, on a real SQLite file and a loopback receiver:
 * a notification exists exactly when its event's transaction commits (an event rolled back leaves
 * none); retries back off exponentially with jitter up to a cap and are given up after the
 * configured attempts, visibly; a receiver that recovers gets the delivery; which events a
 * webhook gets, and the slack format.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { notificationsOf, Outbox, signatureOf } from '../../coordinator/notify.js';
import { Store } from '../../coordinator/store.js';

let dir: string;
let store: Store;
let server: http.Server;
let url: string;
let status = 500;
const got: { headers: http.IncomingHttpHeaders; body: string }[] = [];

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quorum-notify-'));
  store = new Store(path.join(dir, 'quorum.db'));
  got.length = 0;
  status = 500;
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      got.push({ headers: req.headers, body });
      res.writeHead(status);
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
});
afterEach(async () => {
  store.close();
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  fs.rmSync(dir, { recursive: true, force: true });
});

const rows = () =>
  store.db.prepare('SELECT event, attempts, next_at, state, last_error FROM outbox ORDER BY seq').all() as {
    event: string;
    attempts: number;
    next_at: number;
    state: string;
    last_error: string | null;
  }[];

describe('the outbox', () => {
  it('queues a notification with its event, and none for an event whose transaction rolled back', async () => {
    const outbox = new Outbox(store, { serverId: 's1', log: () => undefined, now: () => 0 });
    outbox.add({ url, secret: 'a'.repeat(32) });
    expect(() =>
      store.tx(() => {
        store.audit('round.released', { round: 'targets-v1-r1' });
        throw new Error('the release failed after its audit row');
      }),
    ).toThrow(/release failed/);
    expect(rows()).toEqual([]);
    expect(store.auditRows().map((r) => r.event)).toEqual(['notify.added']);
    store.tx(() => store.audit('round.released', { round: 'targets-v1-r1' }));
    expect(rows().map((r) => r.event)).toEqual(['round.released']);
    await outbox.close();
  });

  it('backs off exponentially with jitter, gives up visibly, and delivers once the receiver recovers', async () => {
    let now = 1_000_000;
    const logs: string[] = [];
    const outbox = new Outbox(store, {
      serverId: 's1',
      log: (l) => logs.push(l),
      now: () => now,
      random: () => 0.999,
      baseDelayMs: 1000,
      maxDelayMs: 8000,
      maxAttempts: 6,
    });
    const w = outbox.add({ url, secret: 's'.repeat(20) });
    store.audit('round.cancelled', { round: 'r1', reason: 'x' });
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      await outbox.deliverDue();
      const r = rows()[0]!;
      expect(r.attempts).toBe(i + 1);
      delays.push(r.next_at - now);
      now = r.next_at;
    }
    // ~1, 2, 4, 8, 8 s (full jitter at its top), then given up.
    expect(delays.slice(0, 5).map((d) => Math.round(d / 1000))).toEqual([1, 2, 4, 8, 8]);
    expect(rows()[0]).toMatchObject({ state: 'failed', last_error: 'HTTP 500' });
    expect(outbox.summary()).toMatchObject({ failed: 1, pending: 0, lastError: 'HTTP 500' });
    expect(outbox.view(w.id)).toMatchObject({ failed: 1, lastError: 'HTTP 500' });
    expect(logs.at(-1)).toMatch(/given up after 6 attempts/);
    expect(logs.join('\n')).not.toContain('/hook'); // URLs are logged without their path

    // Jitter: another draw gives another delay, never more than the cap.
    store.audit('round.cancelled', { round: 'r2', reason: 'x' });
    const jittered = new Outbox(store, { serverId: 's1', log: () => undefined, now: () => now, random: () => 0.1 });
    await jittered.deliverDue();
    const r2 = rows()[1]!;
    expect(r2.next_at - now).toBe(1000); // half the 2 s base is the floor: 0.1 * 2000 < 1000
    status = 204;
    now = r2.next_at;
    await jittered.deliverDue();
    expect(rows()[1]).toMatchObject({ state: 'delivered', attempts: 2 });
    const last = got.at(-1)!;
    expect(last.headers['x-quorum-signature']).toBe(signatureOf('s'.repeat(20), last.body));
    expect(last.headers['x-quorum-delivery-attempt']).toBe('2');
    await outbox.close();
    await jittered.close();
  });

  it('sends each webhook only the events it asked for; slack bodies are {"text"}', async () => {
    const outbox = new Outbox(store, { serverId: 's1', log: () => undefined });
    status = 204;
    outbox.add({ url, events: ['round.released'], format: 'slack' });
    store.audit('round.opened', { round: 'targets-v2-r3', role: 'targets', version: 2, reason: 'r' });
    store.audit('round.released', { round: 'targets-v2-r3', role: 'targets', version: 2 });
    await outbox.deliverDue();
    expect(got.map((g) => JSON.parse(g.body) as unknown)).toEqual([
      { text: 'quorum s1: round targets-v2-r3 released (targets v2)' },
    ]);
    expect(notificationsOf('round.opened', { by: 'coordinator' })).toEqual(['round.opened', 'role.expiring']);
    expect(notificationsOf('auth.failed', { aggregated: false })).toEqual([]);
    expect(notificationsOf('online.refresh_failed', {})).toEqual(['refresh.failed']);
    await outbox.close();
  });
});
