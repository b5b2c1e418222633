/**
 * The coordinator under load, with a long history (plain Node script, run by `npm run bench`):
 * `node dist/test/bench/load.bench.js`. Loopback only, a real `quorum serve` child process.
 *
 * For HISTORY (1,000) and then SMALL (10) past rounds in the store, each of TARGETS (1,000)
 * targets, alternately released and cancelled (written straight into SQLite by history.ts, with a
 * real signature each), and KEYHOLDERS (21) keyholders connected as SignerConnections in this
 * process, the p50 and p99 of:
 *   - rounds.list, a page of 10 (the same answer size in both stores), and the default page (100);
 *   - round.get of a past round and of the open round (1,000 targets each);
 *   - a signature acknowledgement (signature.submit -> signature.accepted, never a round's last);
 *   - GET /v1/health, quiet, and while one keyholder sends requests as fast as its rate limit
 *     lets it (rateBurst at once, then just under ratePerSecond; alternately round.get of a past
 *     round and rounds.list) from a raw socket that does not parse its replies.
 * Reported: each measure for both stores and the ratio HISTORY / SMALL (goal: within 2x: cost
 * independent of history), and health p99 during the burst (goal: under 100 ms). For comparison,
 * in this process on the same store: the listing as it was before round summaries (every round's
 * row read and its payload parsed), against listRounds' page of 10.
 *
 * Progress goes to stderr; the table and a final `BENCH_JSON {...}` line go to stdout.
 * Environment: LOAD_HISTORY (1000), LOAD_SMALL (10), LOAD_TARGETS (1000), LOAD_KEYHOLDERS (21),
 * LOAD_REPS (200), LOAD_BURST_S (5), BENCH_KEEP=1 keeps the temp folder.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { listRounds, repoState, roundInfo } from '../../coordinator/rounds.js';
import { DATA_FILES } from '../../coordinator/server.js';
import { Store } from '../../coordinator/store.js';
import { encodeSig, signBytes } from '../../protocol/keys.js';
import { WIRE_LIMITS } from '../../protocol/limits.js';
import { localSigner } from '../../protocol/metadata/build.js';
import { authMessage } from '../../protocol/wire.js';
import { SignerConnection } from '../../signer-client/connection.js';
import { adminCall, Coordinator } from '../integration/harness.js';
import { canonicalOf, historyDataDir, targetsFor, type History } from './history.js';
import { dist, envInt, fmt, gitHead, log, table, type Dist } from './measure.js';

const HISTORY = envInt('LOAD_HISTORY', 1000);
const SMALL = envInt('LOAD_SMALL', 10);
const TARGETS = envInt('LOAD_TARGETS', 1000);
const KEYHOLDERS = Math.max(3, envInt('LOAD_KEYHOLDERS', 21));
const REPS = Math.max(20, envInt('LOAD_REPS', 200));
const BURST_S = Math.max(1, envInt('LOAD_BURST_S', 5));
const HEALTH_EVERY_MS = 20;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Time `fn` n times, one after another (after a few warm-up calls), spaced so that no connection
 * passes its rate limit when the caller takes turns over them (`fn(i)`).
 */
async function timeEach(n: number, fn: (i: number) => Promise<unknown>, gapMs = 0): Promise<number[]> {
  for (let i = 0; i < Math.min(10, n); i++) await fn(i); // warm-up
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    if (gapMs) await sleep(gapMs);
    const t0 = performance.now();
    await fn(i);
    out.push(performance.now() - t0);
  }
  return out;
}

/** GET /v1/health every HEALTH_EVERY_MS until `stop` says so; the latencies, ms. */
async function probeHealth(url: string, stop: () => boolean): Promise<number[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const get = () =>
    new Promise<number>((resolve, reject) => {
      const t0 = performance.now();
      http
        .get(`${url}/v1/health`, { agent }, (res) => {
          res.resume();
          res.on('end', () =>
            res.statusCode === 200
              ? resolve(performance.now() - t0)
              : reject(new Error(`health: HTTP ${res.statusCode}`)),
          );
        })
        .on('error', reject);
    });
  const out: number[] = [];
  while (!stop()) {
    const started = performance.now();
    out.push(await get());
    await sleep(Math.max(0, HEALTH_EVERY_MS - (performance.now() - started)));
  }
  agent.destroy();
  return out;
}

/**
 * One keyholder sending as fast as its rate limit allows for `seconds`: a burst of rateBurst,
 * then just under ratePerSecond. A raw socket that counts replies without parsing them.
 */
async function burst(
  url: string,
  h: History,
  past: string,
  seconds: number,
): Promise<{ sent: number; received: number; closedWith: number | null }> {
  const key = h.keys.at(-1)!;
  const ch = (await (await fetch(`${url}/v1/challenge`)).json()) as { serverId: string; nonce: string };
  const fp = key.publicKey.fingerprint;
  const sig = signBytes(key.privateKey, authMessage(ch.serverId, ch.nonce, fp, null));
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/v1/ws`, {
    headers: { 'x-quorum-key': fp, 'x-quorum-nonce': ch.nonce, 'x-quorum-signature': sig.toString('base64') },
    maxPayload: WIRE_LIMITS.clientMaxPayload,
  });
  let received = 0;
  let closedWith: number | null = null;
  ws.on('message', () => received++);
  ws.on('close', (code) => (closedWith = code));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  let sent = 0;
  const one = () =>
    ws.send(
      JSON.stringify(
        sent++ % 2 ? { type: 'rounds.list', ref: `b${sent}` } : { type: 'round.get', round: past, ref: `b${sent}` },
      ),
    );
  for (let i = 0; i < WIRE_LIMITS.rateBurst - 1; i++) one();
  const gap = 1000 / (WIRE_LIMITS.ratePerSecond * 0.9);
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end && closedWith === null) {
    await sleep(gap);
    one();
  }
  await sleep(500);
  ws.close();
  return { sent, received, closedWith };
}

interface Measured {
  history: number;
  listPage10: Dist;
  listDefault: Dist;
  getPast: Dist;
  getOpen: Dist;
  ack: Dist;
  healthQuiet: Dist;
  healthBurst: Dist;
  burst: { sent: number; received: number; closedWith: number | null };
  /** In process, on the same store: listRounds' page of 10, and the listing as it was before summaries. */
  inProcess: { page10Ms: Dist; allRecomputedMs: Dist; rounds: number };
  dbBytes: number;
  buildMs: number;
}

async function measure(tmp: string, history: number): Promise<Measured> {
  log(`store with ${history} past rounds of ${TARGETS} targets: building ...`);
  const t0 = performance.now();
  const h = await historyDataDir({
    dir: path.join(tmp, `h${history}`),
    keyholders: KEYHOLDERS,
    targetsThreshold: KEYHOLDERS,
    history,
    targetsPerRound: TARGETS,
  });
  const buildMs = performance.now() - t0;
  const dbBytes =
    fs.statSync(path.join(h.dataDir, DATA_FILES.db)).size +
    (fs.existsSync(path.join(h.dataDir, `${DATA_FILES.db}-wal`))
      ? fs.statSync(path.join(h.dataDir, `${DATA_FILES.db}-wal`)).size
      : 0);
  log(`  built in ${(buildMs / 1000).toFixed(1)} s (${(dbBytes / 1048576).toFixed(0)} MiB); starting quorum serve`);
  const c = await new Coordinator(h.dataDir).start();
  const conns: SignerConnection[] = [];
  try {
    for (const k of h.keys) {
      const conn = new SignerConnection({ server: c.url, pin: null, signer: localSigner(k.privateKey) });
      conn.on('error', (e: unknown) => log(`  ${k.name}: ${JSON.stringify(e)}`)); // unsolicited errors (none expected)
      await conn.connect();
      conns.push(conn);
    }
    // Requests take turns over the connections, spaced so none passes ratePerSecond.
    const gap = Math.ceil(1000 / (WIRE_LIMITS.ratePerSecond * 0.8) / conns.length) + 1;
    const conn = (i: number) => conns[i % conns.length]!;
    const past = h.past[Math.floor(h.past.length / 2)]!;
    const open = async (i: number) =>
      await adminCall(c, 'rounds.open', {
        body: {
          role: 'targets',
          reason: `load bench ${i}`,
          targets: { add: targetsFor(1_000_000 + i, TARGETS) },
        },
      });

    log('  rounds.list, round.get');
    const listPage10 = dist(
      await timeEach(REPS, (i) => conn(i).request({ type: 'rounds.list', limit: 10 }, 'rounds'), gap),
    );
    const listDefault = dist(
      await timeEach(Math.ceil(REPS / 4), (i) => conn(i).request({ type: 'rounds.list' }, 'rounds'), gap),
    );
    const getPast = dist(
      await timeEach(REPS, (i) => conn(i).request({ type: 'round.get', round: past }, 'round.payload'), gap),
    );
    let opened = await open(0);
    const getOpen = dist(
      await timeEach(REPS, (i) => conn(i).request({ type: 'round.get', round: opened.round.id }, 'round.payload'), gap),
    );

    log('  signature acknowledgements');
    const acks: number[] = [];
    for (let r = 1; acks.length < REPS; r++) {
      const canonical = canonicalOf(JSON.parse(opened.signed) as Record<string, unknown>, 'targets', h.dialect);
      // Every keyholder but the last: the round never completes, so no ack waits for a release.
      for (let i = 0; i < KEYHOLDERS - 1; i++) {
        const k = h.keys[i]!;
        const sig = encodeSig(signBytes(k.privateKey, canonical), h.dialect);
        const t = performance.now();
        await conns[i]!.request(
          { type: 'signature.submit', round: opened.round.id, sha256: opened.round.sha256, keyid: k.keyid, sig },
          'signature.accepted',
        );
        acks.push(performance.now() - t);
      }
      await adminCall(c, 'rounds.cancel', { params: { id: opened.round.id }, body: { reason: 'load bench' } });
      opened = await open(r);
    }

    log('  /v1/health quiet, then during a burst at the rate limit');
    let stopQuiet = false;
    const quiet = probeHealth(c.url, () => stopQuiet);
    await sleep(2000);
    stopQuiet = true;
    const healthQuiet = dist(await quiet);
    let stopBurst = false;
    const during = probeHealth(c.url, () => stopBurst);
    const b = await burst(c.url, h, past, BURST_S);
    stopBurst = true;
    const healthBurst = dist(await during);
    if (b.closedWith === 4008) throw new Error('the burst was rate-limited: it must stay within the limit');

    for (const x of conns) x.close();
    conns.length = 0;
    await c.kill();

    log('  in process: listRounds page of 10, and every round recomputed (the listing before summaries)');
    const store = new Store(path.join(h.dataDir, DATA_FILES.db));
    let rounds = 0;
    try {
      const page10Ms = dist(await timeEach(REPS, async () => listRounds(store, { limit: 10 })));
      const allRecomputedMs = dist(
        await timeEach(history >= 100 ? 3 : 20, async () => {
          const state = repoState(store);
          const all = store.rounds();
          rounds = all.length;
          // As rounds.list answered before round summaries: each payload parsed, each summary computed.
          return all.map((r) => (JSON.parse(r.signed_json), roundInfo(store, r, state)));
        }),
      );
      return {
        history,
        listPage10,
        listDefault,
        getPast,
        getOpen,
        ack: dist(acks),
        healthQuiet,
        healthBurst,
        burst: b,
        inProcess: { page10Ms, allRecomputedMs, rounds },
        dbBytes,
        buildMs,
      };
    } finally {
      store.close();
    }
  } finally {
    for (const x of conns) x.close();
    await c.kill();
  }
}

async function main(): Promise<void> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'quorum-load-bench-'));
  log(
    `load bench: ${HISTORY} vs ${SMALL} past rounds of ${TARGETS} targets, ${KEYHOLDERS} keyholders, ${REPS} reps; load average ${os
      .loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')}`,
  );
  try {
    const big = await measure(tmp, HISTORY);
    const small = await measure(tmp, SMALL);
    const ratio = (a: number | null, b: number | null) => (a !== null && b !== null && b > 0 ? a / b : null);
    const rows: [string, keyof Measured][] = [
      ['rounds.list, page of 10', 'listPage10'],
      ['rounds.list, default page (info: up to 100 rounds vs all)', 'listDefault'],
      ['round.get, a past round', 'getPast'],
      ['round.get, the open round', 'getOpen'],
      ['signature acknowledgement', 'ack'],
      ['/v1/health, quiet', 'healthQuiet'],
      ['/v1/health, during the burst', 'healthBurst'],
    ];
    const out = [
      ['measure (ms)', `${SMALL} rounds p50`, 'p99', `${HISTORY} rounds p50`, 'p99', 'ratio p50', 'ratio p99'],
    ];
    const ratios: Record<string, { p50: number | null; p99: number | null }> = {};
    for (const [label, k] of rows) {
      const s = small[k] as Dist;
      const l = big[k] as Dist;
      ratios[k] = { p50: ratio(l.p50, s.p50), p99: ratio(l.p99, s.p99) };
      out.push([
        label,
        fmt(s.p50),
        fmt(s.p99),
        fmt(l.p50),
        fmt(l.p99),
        `${fmt(ratios[k].p50)}x`,
        `${fmt(ratios[k].p99)}x`,
      ]);
    }
    const ip = (m: Measured) => m.inProcess;
    out.push([
      'in process: listRounds, page of 10',
      fmt(ip(small).page10Ms.p50),
      fmt(ip(small).page10Ms.p99),
      fmt(ip(big).page10Ms.p50),
      fmt(ip(big).page10Ms.p99),
      `${fmt(ratio(ip(big).page10Ms.p50, ip(small).page10Ms.p50))}x`,
      '',
    ]);
    out.push([
      'in process: every round recomputed (before)',
      fmt(ip(small).allRecomputedMs.p50),
      '',
      fmt(ip(big).allRecomputedMs.p50),
      '',
      `${fmt(ratio(ip(big).allRecomputedMs.p50, ip(small).allRecomputedMs.p50))}x`,
      '',
    ]);
    const lines = table(out);
    process.stdout.write(
      `\nCoordinator under load: ${HISTORY} vs ${SMALL} past rounds of ${TARGETS} targets (store ` +
        `${(big.dbBytes / 1048576).toFixed(0)} MiB vs ${(small.dbBytes / 1048576).toFixed(1)} MiB), ${KEYHOLDERS} ` +
        `keyholders connected\n\n${lines.join('\n')}\n\n`,
    );
    // The default page holds more rounds in the larger store (100 against all 11): not the same answer.
    const worst = Math.max(
      ...rows
        .filter(([, k]) => k !== 'healthQuiet' && k !== 'listDefault')
        .flatMap(([, k]) => [ratios[k]!.p50 ?? 0, ratios[k]!.p99 ?? 0]),
    );
    process.stdout.write(
      `worst ratio ${HISTORY}/${SMALL} rounds: ${worst.toFixed(2)}x (goal: within 2x); /v1/health p99 during ` +
        `the burst: ${fmt(big.healthBurst.p99)} ms with ${HISTORY} rounds, ${fmt(small.healthBurst.p99)} ms with ` +
        `${SMALL} (goal: under 100 ms)\n`,
    );
    process.stdout.write(
      `burst: ${big.burst.sent} requests sent, ${big.burst.received} answers (${HISTORY} rounds); the listing ` +
        `before summaries took ${fmt(ip(big).allRecomputedMs.p50, 0)} ms for ${ip(big).rounds} rounds, ` +
        `${fmt(ratio(ip(big).allRecomputedMs.p50, ip(big).page10Ms.p50), 0)}x a page now\n`,
    );
    process.stdout.write(
      'BENCH_JSON ' +
        JSON.stringify({
          bench: 'load',
          node: process.version,
          cpus: os.cpus().length,
          loadavg: os.loadavg(),
          commit: gitHead(),
          history: HISTORY,
          small: SMALL,
          targets: TARGETS,
          keyholders: KEYHOLDERS,
          reps: REPS,
          big,
          smallStore: small,
          ratios,
        }) +
        '\n',
    );
  } finally {
    if (process.env.BENCH_KEEP !== '1') fs.rmSync(tmp, { recursive: true, force: true });
    else log(`kept ${tmp}`);
  }
}

void main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
