/**
 * The status page under load (plain Node script, run by `npm run bench`): `node dist/test/bench/page.bench.js`.
 * Loopback only: a real `quorum serve` child process, headless Chromium (Debian's chromium, through
 * playwright-core) and KEYHOLDERS (21) keyholders connected as SignerConnections in this process.
 *
 * The store holds ROUNDS (50) open targets rounds of TARGETS (10) targets each, written straight
 * into SQLite. The coordinator keeps one open round per role (a unique index); this throwaway store
 * drops that index so that the rounds view has 50 open rounds to fetch, draw and keep live, which
 * is what the measures are about. Targets threshold: every keyholder, so no signature completes a
 * round.
 * Measured:
 *   - page load: time to first render of the rounds view (the page's own performance mark, from
 *     navigation start), signed in, over LOADS (20) reloads; against it, in the same run, the
 *     terminal's way to see the same: `quorum status` as a child process;
 *   - live latency: from a signature's acknowledgement (signature.accepted at the signer) to the
 *     page showing the new count in that round's card, over LATENCY (30) signatures;
 *   - the coordinator's signature acknowledgement (signature.submit -> signature.accepted) p50 and
 *     p99 with no page open, with PAGES (20) live event streams read by this process (what 20 pages
 *     cost the coordinator), and with PAGES Chromium pages open and live on this same machine (their
 *     rendering competes for its cores too), ACKS (200) each; goal: p50 with the streams within 10%
 *     of without.
 * Progress goes to stderr; the table and a final `BENCH_JSON {...}` line go to stdout.
 * Environment: PAGE_ROUNDS, PAGE_TARGETS, PAGE_KEYHOLDERS, PAGE_LOADS, PAGE_LATENCY, PAGE_PAGES,
 * PAGE_ACKS; BENCH_KEEP=1 keeps the temp folder.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Browser, Page } from 'playwright-core';
import { DATA_FILES } from '../../coordinator/server.js';
import { Store } from '../../coordinator/store.js';
import { encodeSig, signBytes } from '../../protocol/keys.js';
import { WIRE_LIMITS } from '../../protocol/limits.js';
import { buildTargets, daysFrom, localSigner } from '../../protocol/metadata/build.js';
import { SignerConnection } from '../../signer-client/connection.js';
import { launch, signedIn } from '../integration/browser.js';
import { Coordinator, quorum } from '../integration/harness.js';
import { canonicalOf, historyDataDir, targetsFor, type History } from './history.js';
import { dist, envInt, fmt, gitHead, log, table, type Dist } from './measure.js';

const ROUNDS = Math.max(1, envInt('PAGE_ROUNDS', 50));
const TARGETS = envInt('PAGE_TARGETS', 10);
const KEYHOLDERS = Math.max(3, envInt('PAGE_KEYHOLDERS', 21));
const LOADS = Math.max(3, envInt('PAGE_LOADS', 20));
const LATENCY = Math.max(3, envInt('PAGE_LATENCY', 30));
const PAGES = Math.max(1, envInt('PAGE_PAGES', 20));
const ACKS = Math.max(20, envInt('PAGE_ACKS', 200));
// Signatures the run makes, at most ROUNDS * (KEYHOLDERS - 1): LATENCY + 3 * ACKS.

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface OpenRound {
  id: string;
  sha256: string;
  canonical: Buffer;
  /** How many keyholders signed it so far. */
  signed: number;
}

/** ROUNDS open targets rounds, straight into SQLite (as history.ts writes past rounds). */
function openRounds(h: History): OpenRound[] {
  const store = new Store(path.join(h.dataDir, DATA_FILES.db));
  const out: OpenRound[] = [];
  try {
    store.db.exec('DROP INDEX rounds_one_open');
    store.tx(() => {
      for (let i = 1; i <= ROUNDS; i++) {
        const now = new Date();
        const signed = buildTargets(h.dialect, i, daysFrom(now, 31), targetsFor(i, TARGETS));
        const canonical = canonicalOf(signed, 'targets', h.dialect);
        const seq = store.nextRoundSeq();
        const id = `targets-v${i}-r${seq}`;
        const sha256 = crypto.createHash('sha256').update(canonical).digest('hex');
        store.insertRound({
          id,
          role: 'targets',
          version: i,
          base_root_version: 1,
          signed_json: JSON.stringify(signed),
          canonical,
          sha256,
          reason: `page bench round ${i}`,
          deadline: daysFrom(now, 7).toISOString(),
          state: 'open',
          created_at: now.toISOString(),
        });
        out.push({ id, sha256, canonical, signed: 0 });
      }
    });
  } finally {
    store.close();
  }
  return out;
}

async function main(): Promise<void> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'quorum-page-bench-'));
  let browser: Browser | null = null;
  let c: Coordinator | null = null;
  const conns: SignerConnection[] = [];
  try {
    log(`store: ${KEYHOLDERS} keyholders, ${ROUNDS} open rounds of ${TARGETS} targets`);
    const h = await historyDataDir({
      dir: tmp,
      keyholders: KEYHOLDERS,
      targetsThreshold: KEYHOLDERS,
      history: 0,
      targetsPerRound: TARGETS,
    });
    const rounds = openRounds(h);
    c = await new Coordinator(h.dataDir).start();
    for (const k of h.keys) {
      const conn = new SignerConnection({ server: c.url, pin: null, signer: localSigner(k.privateKey) });
      conn.on('error', (e: unknown) => log(`  ${k.name}: ${JSON.stringify(e)}`));
      await conn.connect();
      conns.push(conn);
    }
    // Signature j is keyholder j mod (K-1)'s on round j div (K-1): never all K on one round (none
    // completes), never one key twice, and each connection's turn comes every K-1 signatures,
    // spaced so that none passes its rate limit.
    let next = 0;
    const per = KEYHOLDERS - 1;
    const gap = Math.ceil(1000 / (WIRE_LIMITS.ratePerSecond * 0.8) / per) + 1;
    const signOne = async (): Promise<{ round: OpenRound; ms: number; count: number }> => {
      const j = next++;
      const round = rounds[Math.floor(j / per)];
      if (!round) throw new Error('page bench: out of signatures; raise PAGE_ROUNDS');
      const i = j % per;
      const k = h.keys[i]!;
      const sig = encodeSig(signBytes(k.privateKey, round.canonical), h.dialect);
      await sleep(gap);
      const t = performance.now();
      await conns[i]!.request(
        { type: 'signature.submit', round: round.id, sha256: round.sha256, keyid: k.keyid, sig },
        'signature.accepted',
      );
      const ms = performance.now() - t;
      round.signed++;
      return { round, ms, count: round.signed };
    };
    const acks = async (n: number): Promise<number[]> => {
      const out: number[] = [];
      for (let j = 0; j < n; j++) out.push((await signOne()).ms);
      return out;
    };

    log('the terminal: quorum status');
    const cli: number[] = [];
    for (let j = 0; j < 5; j++) {
      const t = performance.now();
      const r = await quorum(['status', '--data-dir', h.dataDir]);
      if (r.code !== 0) throw new Error(`quorum status: ${r.stderr}`);
      cli.push(performance.now() - t);
    }

    log('page load: first render of the rounds view');
    browser = await launch();
    const page = await signedIn(browser, c.url, c.adminToken);
    const loads: number[] = [];
    for (let j = 0; j < LOADS; j++) {
      await page.reload();
      // A function, not a string: a string is evaluated by eval in the page, which its CSP refuses.
      const t = await page.waitForFunction(
        () => performance.getEntriesByName('quorum-first-view')[0]?.startTime,
        undefined,
        { timeout: 30_000 },
      );
      loads.push((await t.jsonValue()) as number);
    }
    const cards = await page.locator('[data-round]').count();
    if (cards !== ROUNDS) throw new Error(`page bench: the rounds view shows ${cards} rounds, not ${ROUNDS}`);

    log('live latency: acknowledgement -> page shows it');
    const live: number[] = [];
    for (let j = 0; j < LATENCY; j++) {
      const { round, count } = await signOne();
      const t = performance.now();
      await page.waitForFunction(
        ([id, want]) =>
          (globalThis as unknown as InPage).document.querySelector(`[data-round="${id}"]`)?.innerText.includes(want!) ??
          false,
        [round.id, `${count}/${KEYHOLDERS}`],
        { polling: 'raf', timeout: 10_000 },
      );
      live.push(performance.now() - t);
    }

    log(`signature acknowledgements, no page open (${ACKS})`);
    await page.context().close();
    await sleep(500);
    // Half before and half after the streams, so that a change in the machine's load over the run
    // does not read as the streams' cost.
    const quietAcks = await acks(Math.ceil(ACKS / 2));
    log(`signature acknowledgements, ${PAGES} live streams held by a child process (${ACKS})`);
    const streams = await openStreams(c, PAGES);
    await sleep(500);
    const streamAcks = await acks(ACKS);
    streams.kill();
    await sleep(500);
    quietAcks.push(...(await acks(Math.floor(ACKS / 2))));
    log(`signature acknowledgements, ${PAGES} pages open (${ACKS})`);
    const pages: Page[] = [];
    for (let j = 0; j < PAGES; j++) pages.push(await signedIn(browser, c.url, c.adminToken));
    await sleep(1000);
    const busyAcks = await acks(ACKS);
    for (const p of pages) await p.context().close();

    const r = {
      cliStatus: dist(cli),
      pageLoad: dist(loads),
      liveLatency: dist(live),
      ackNoPages: dist(quietAcks),
      ackWithStreams: dist(streamAcks),
      ackWithPages: dist(busyAcks),
    };
    const ratio = (a: number | null, b: number | null) => (a !== null && b ? a / b : null);
    const ackRatio = ratio(r.ackWithPages.p50, r.ackNoPages.p50);
    const streamRatio = ratio(r.ackWithStreams.p50, r.ackNoPages.p50);
    const rows: [string, Dist][] = [
      [`page load, first render of the rounds view (${ROUNDS} open)`, r.pageLoad],
      ['quorum status (the terminal, a child process)', r.cliStatus],
      ['signature acknowledgement -> page shows it', r.liveLatency],
      ['signature acknowledgement, no page open', r.ackNoPages],
      [`signature acknowledgement, ${PAGES} live streams (no browser)`, r.ackWithStreams],
      [`signature acknowledgement, ${PAGES} pages open`, r.ackWithPages],
    ];
    const lines = table([
      ['measure (ms)', 'n', 'p50', 'p99', 'max'],
      ...rows.map(([label, d]) => [label, String(d.n), fmt(d.p50), fmt(d.p99), fmt(d.max)]),
    ]);
    process.stdout.write(
      `\nStatus page: ${ROUNDS} open rounds, ${KEYHOLDERS} keyholders connected\n\n${lines.join('\n')}\n\n`,
    );
    process.stdout.write(
      `page load p50 ${fmt(r.pageLoad.p50)} ms, ${fmt(ratio(r.pageLoad.p50, r.cliStatus.p50))}x quorum status; ` +
        `live update p50 ${fmt(r.liveLatency.p50)} ms after the acknowledgement (goal: within a second); ` +
        `acknowledgement p50 with ${PAGES} live streams / none: ${fmt(streamRatio)}x (goal: within 1.10x); ` +
        `with ${PAGES} Chromium pages on this same machine / none: ${fmt(ackRatio)}x\n`,
    );
    process.stdout.write(
      'BENCH_JSON ' +
        JSON.stringify({
          bench: 'page',
          node: process.version,
          cpus: os.cpus().length,
          loadavg: os.loadavg(),
          commit: gitHead(),
          rounds: ROUNDS,
          targets: TARGETS,
          keyholders: KEYHOLDERS,
          pages: PAGES,
          ...r,
          ackRatio,
          streamRatio,
        }) +
        '\n',
    );
  } finally {
    for (const x of conns) x.close();
    await browser?.close();
    await c?.kill();
    if (process.env.BENCH_KEEP !== '1') fs.rmSync(tmp, { recursive: true, force: true });
    else log(`kept ${tmp}`);
  }
}

/** A child process that holds `n` live event streams as pages do (signed in, reading every event). */
const STREAMS_CHILD = `
const [url, token, n] = [process.env.URL, process.env.TOKEN, Number(process.env.N)];
for (let j = 0; j < n; j++) {
  const res = await fetch(url + '/v1/session', {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }),
  });
  const cookie = res.headers.get('set-cookie').split(';')[0];
  const stream = await fetch(url + '/v1/events', { headers: { cookie } });
  const reader = stream.body.getReader();
  (async () => { for (;;) if ((await reader.read()).done) return; })();
}
process.stdout.write('ready\\n');
`;

/**
 * `n` live event streams, held by a child process: what n pages cost the coordinator, apart from
 * what their browsers cost the machine they run on (and apart from this process, which measures).
 */
async function openStreams(c: Coordinator, n: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', STREAMS_CHILD], {
    env: { ...process.env, URL: c.url, TOKEN: c.adminToken, N: String(n) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => (d.toString().includes('ready') ? resolve() : undefined));
    child.on('exit', (code) => reject(new Error(`the stream holder exited with ${code}`)));
  });
  return child;
}

/** What the functions run in the page use of it (this script compiles without the DOM types). */
interface InPage {
  document: { querySelector(sel: string): { innerText: string } | null };
}

void main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
