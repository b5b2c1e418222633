/**
 * Living-repository benchmark (plain Node script, not vitest): `node dist/test/bench/living.bench.js`,
 * run by `npm run bench`. Loopback only.
 *
 * REFRESH: one online refresh as the coordinator does it (coordinator/living.ts refreshOnline):
 * re-sign timestamp (and, every seventh or so, snapshot) with the online Ed25519 key, verify the
 * whole repository as a device would, commit the release row and audit event (SQLite,
 * synchronous=FULL), and publish the folder (fsync'd files, symlink swap). The clock moves 13 h per
 * refresh so each one is due. BASELINE, same run: one bare Ed25519 signature (node:crypto) over
 * bytes of the timestamp's size. Reported: ms per refresh and the ratio to one signature.
 *
 * OUTBOX: N notifications (audited events) to one webhook on a loopback receiver answering 204,
 * delivered by the outbox (HMAC-signed POSTs, each marked delivered in SQLite); BASELINE, same run:
 * the same number of plain fetch POSTs of the same bodies to the same receiver, 100 at a time (the
 * outbox's batch). Reported: deliveries/s and the ratio.
 *
 * Environment: BENCH_REFRESHES (200), BENCH_NOTIFICATIONS (2000), BENCH_KEEP=1 keeps the temp folder.
 * The table goes to stdout with a final `BENCH_JSON {...}` line; progress to stderr.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { DEFAULT_POLICY, refreshOnline } from '../../coordinator/living.js';
import { Outbox } from '../../coordinator/notify.js';
import { Store } from '../../coordinator/store.js';
import { signBytes } from '../../protocol/keys.js';
import { livingRepo } from './living-repo.js';
import { dist, envInt, fmt, gitHead, log, table } from './measure.js';

const REFRESHES = Math.max(10, envInt('BENCH_REFRESHES', 200));
const NOTIFICATIONS = Math.max(100, envInt('BENCH_NOTIFICATIONS', 2000));
const HOUR = 3_600_000;

async function refreshBench(dir: string) {
  const repo = await livingRepo(path.join(dir, 'refresh'), 3650);
  const { store, h, online } = repo;
  let t = repo.released.getTime();
  const times: number[] = [];
  let snapshots = 0;
  try {
    // Warm-up: 5 refreshes.
    for (let i = 0; i < REFRESHES + 5; i++) {
      t += 13 * HOUR;
      const t0 = performance.now();
      const r = await refreshOnline(store, h.dataDir, online, DEFAULT_POLICY, new Date(t));
      const ms = performance.now() - t0;
      if (!r) throw new Error(`refresh ${i} was not due`);
      if (i >= 5) {
        times.push(ms);
        if (r.roles.includes('snapshot')) snapshots++;
      }
    }
    // The bare signature: over bytes of the published timestamp's size.
    const size = fs.statSync(path.join(h.dataDir, 'releases', 'current', 'timestamp.json')).size;
    const data = crypto.randomBytes(size);
    const sigs: number[] = [];
    for (let rep = 0; rep < 7; rep++) {
      const n = 2000;
      const t0 = performance.now();
      for (let i = 0; i < n; i++) signBytes(online, data);
      sigs.push((performance.now() - t0) / n);
    }
    sigs.sort((a, b) => a - b);
    return { refresh: dist(times), snapshots, signMs: sigs[3]! };
  } finally {
    store.close();
  }
}

async function outboxBench(dir: string) {
  let served = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      served++;
      res.writeHead(204);
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  fs.mkdirSync(path.join(dir, 'outbox'), { recursive: true });
  const store = new Store(path.join(dir, 'outbox', 'quorum.db'));
  const outbox = new Outbox(store, { serverId: 'bench', log: () => undefined });
  try {
    outbox.add({ url, secret: crypto.randomBytes(16).toString('hex') });
    store.tx(() => {
      for (let i = 0; i < NOTIFICATIONS; i++)
        store.audit('round.released', { round: `targets-v${i}-r${i}`, role: 'targets', version: i });
    });
    const bodies = (store.db.prepare('SELECT body FROM outbox').all() as { body: string }[]).map((r) => r.body);
    const pending = () =>
      (store.db.prepare("SELECT COUNT(*) AS n FROM outbox WHERE state != 'delivered'").get() as { n: number }).n;
    const t0 = performance.now();
    while (pending() > 0) await outbox.deliverDue();
    const outboxMs = performance.now() - t0;
    // Baseline: the same POSTs with fetch, 100 at a time.
    const t1 = performance.now();
    for (let i = 0; i < bodies.length; i += 100)
      await Promise.all(
        bodies.slice(i, i + 100).map(async (body) => {
          const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
          await r.arrayBuffer();
        }),
      );
    const fetchMs = performance.now() - t1;
    return { outboxPerS: (NOTIFICATIONS / outboxMs) * 1000, fetchPerS: (NOTIFICATIONS / fetchMs) * 1000, served };
  } finally {
    await outbox.close();
    store.close();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quorum-bench-living-'));
  try {
    log(`online refresh: ${REFRESHES} refreshes`);
    const r = await refreshBench(dir);
    log(`outbox: ${NOTIFICATIONS} notifications to a loopback receiver`);
    const o = await outboxBench(dir);
    const rows = [
      ['measure', 'value', 'baseline (same run)', 'ratio'],
      [
        `online refresh (sign + verify + commit + publish), p50 of ${r.refresh.n}`,
        `${fmt(r.refresh.p50!)} ms`,
        `Ed25519 sign ${fmt(r.signMs * 1000)} µs`,
        `${fmt(r.refresh.p50! / r.signMs)}x`,
      ],
      [
        `  p99 (${r.snapshots} of them re-signed snapshot too)`,
        `${fmt(r.refresh.p99!)} ms`,
        '',
        `${fmt(r.refresh.p99! / r.signMs)}x`,
      ],
      [
        `outbox deliveries to loopback (${NOTIFICATIONS}, HMAC-signed, each recorded)`,
        `${fmt(o.outboxPerS)}/s`,
        `plain fetch POSTs ${fmt(o.fetchPerS)}/s`,
        `${fmt(o.outboxPerS / o.fetchPerS)}x`,
      ],
    ];
    for (const line of table(rows)) console.log(line);
    console.log(
      `BENCH_JSON ${JSON.stringify({
        bench: 'living',
        git: gitHead(),
        refresh: r.refresh,
        refreshSnapshots: r.snapshots,
        ed25519SignMs: r.signMs,
        refreshPerSignature: r.refresh.p50! / r.signMs,
        outboxPerS: o.outboxPerS,
        fetchPerS: o.fetchPerS,
        outboxPerFetch: o.outboxPerS / o.fetchPerS,
      })}`,
    );
  } finally {
    if (process.env.BENCH_KEEP !== '1') fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
