/**
 * Signing-round benchmark (plain Node script, not vitest): `node dist/test/bench/rounds.bench.js`,
 * run by `npm run bench` after the verification benchmark. Loopback only, real processes.
 *
 * THROUGHPUT: 10 repositories, each its own `quorum serve` child process (the coordinator allows
 * one open round per role per repository), each with 5 keyholders and 3-of-5 root and targets
 * thresholds: 50 signers. Every signer is a SignerConnection in this process with an in-memory
 * key (localSigner) and its own TrustStore home, and does what `quorum-signer watch` does on
 * round.opened: released.get, advanceRoots + verifiedTargets, round.get, checkProposal, sign the
 * canonical bytes, signature.submit. 3 of the 5 keyholders sign each round (a different 3 per
 * round). Root v1 (the init round root-v1-r1) is released first, then one unmeasured warm-up wave,
 * then W measured waves: each opens a targets round (one new target) and a root round (version
 * bump, {expiresDays}) in every repository at once = 20 concurrent rounds, and waits until all 20
 * are released. Reported: rounds/s, and the signature-acknowledgement latency (signature.submit
 * sent -> signature.accepted received) for all, non-final and final signatures (the last
 * signature of a round is acknowledged after the release attempt). For context it also times,
 * after the waves: 5 unloaded targets rounds in one repository with its 3 signers submitting one
 * after another; ping -> pong on the idle connections; and the coordinators' CPU per round.
 *
 * BASELINE, same run: the same signatures verified in this process without the network:
 * sha256 + verifySignature over each round's canonical bytes (and, separately, the same plus the
 * coordinator's per-signature store work: one SQLite transaction with synchronous=FULL that
 * inserts the signature and its audit event, through the coordinator's own Store class).
 *
 * MEMORY: one repository with 1,000 keyholders enrolled through the admin API; the coordinator's
 * VmRSS before any connection and with 1,000 authenticated idle SignerConnections.
 *
 * Progress goes to stderr; the table and a final `BENCH_JSON {...}` line go to stdout.
 * Environment: BENCH_PHASES=throughput,memory, BENCH_WAVES (5), BENCH_WARMUP_WAVES (1),
 * BENCH_REPOS (10), BENCH_IDLE (1000), BENCH_CONNECT_BATCH (16: the challenges one address may have
 * outstanding), BENCH_DIALECT (tuf|ota, tuf),
 * BENCH_KEEP=1 to keep the temp folder.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { Store } from '../../coordinator/store.js';
import { WIRE_LIMITS } from '../../protocol/limits.js';
import type { Dialect } from '../../protocol/canonical.js';
import {
  decodeSig,
  encodeSig,
  generateKeyPair,
  sha256hex,
  verifySignature,
  type PublicKey,
} from '../../protocol/keys.js';
import { localSigner, targetFor, type Signer } from '../../protocol/metadata/build.js';
import type { RoundInfo, RoundRole } from '../../protocol/wire.js';
import { SignerConnection } from '../../signer-client/connection.js';
import { advanceRoots, checkProposal, Refusal, TrustStore, verifiedTargets } from '../../signer-client/trust.js';
import { adminCall, Coordinator, quorum } from '../integration/harness.js';
import { cpuMsOf, dist, envInt, fmt, gitHead, quantile, table, type Dist } from './measure.js';

// --- configuration -------------------------------------------------------------------------------

const PHASES = new Set((process.env.BENCH_PHASES ?? 'throughput,memory').split(',').map((s) => s.trim()));
const REPOS = envInt('BENCH_REPOS', 10);
const KEYHOLDERS = 5;
const THRESHOLD = 3;
const WAVES = Math.max(1, envInt('BENCH_WAVES', 5));
const WARMUP_WAVES = envInt('BENCH_WARMUP_WAVES', 1);
const IDLE = envInt('BENCH_IDLE', 1000);
const CONNECT_BATCH = Math.max(1, envInt('BENCH_CONNECT_BATCH', WIRE_LIMITS.maxChallengesPerSource));
const DIALECT: Dialect = process.env.BENCH_DIALECT === 'ota' ? 'ota' : 'tuf';
/** An ota target needs hardware ids and a location (OTA_TARGET_*); tuf targets carry no custom here. */
const OTA_CUSTOM = DIALECT === 'ota' ? { hardwareIds: ['ecu'], targetFormat: 'BINARY', cliUploaded: true } : undefined;
const WAVE_TIMEOUT_MS = 180_000;
const BASELINE_REPS = 7;
const BASELINE_MIN_OPS = 2000;
const PINGS_PER_SIGNER = 2;
const DURABLE_REPS: number = 5; // the first is a warm-up when there are several
const PROBE_ROUNDS = 5;
const ELD_RESOLUTION_MS = 10;

// --- small helpers -------------------------------------------------------------------------------

function log(msg: string): void {
  process.stderr.write(`[rounds-bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function median(xs: number[]): number {
  return quantile(xs, 0.5) ?? NaN;
}

/** VmRSS and VmHWM of a process, KiB. */
function memOf(pid: number): { rssKiB: number; hwmKiB: number } {
  const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN);
  return { rssKiB: kib('VmRSS'), hwmKiB: kib('VmHWM') };
}

/** `quorum init` a new repository whose keyholders are the given public keys. */
async function initRepo(
  dir: string,
  keys: { name: string; publicKey: PublicKey }[],
  threshold: number,
): Promise<string> {
  const dataDir = path.join(dir, 'data');
  const args = ['init', '--data-dir', dataDir, '--dialect', DIALECT];
  if (keys.length) {
    for (const k of keys) {
      const file = path.join(dir, `${k.name}.pub.pem`);
      fs.writeFileSync(file, k.publicKey.keyObject.export({ type: 'spki', format: 'pem' }));
      args.push('--keyholder', `${k.name}=${file}`);
    }
    const names = keys.map((k) => k.name).join(',');
    args.push(
      '--root-keyholders',
      names,
      '--root-threshold',
      String(threshold),
      '--targets-keyholders',
      names,
      '--targets-threshold',
      String(threshold),
    );
  }
  const r = await quorum(args);
  if (r.code !== 0) throw new Error(`quorum init failed (${r.code}): ${r.stderr}`);
  return dataDir;
}

// --- throughput ----------------------------------------------------------------------------------

interface BenchSigner {
  repo: number;
  index: number;
  name: string;
  signer: Signer;
  home: string;
  conn: SignerConnection;
  dialect: Dialect;
  /** One round at a time per signer, as `quorum-signer watch` does. */
  busy: Promise<void>;
}

interface RepoCtx {
  index: number;
  dir: string;
  coordinator: Coordinator;
  signers: BenchSigner[];
}

interface Sample {
  phase: string;
  repo: number;
  round: string;
  role: RoundRole;
  ackMs: number;
  final: boolean;
  /** Time from round.opened reaching this signer to submit (checks + signing + queueing). */
  prepareMs: number;
  pk: PublicKey;
  canonical: Buffer;
  sig: Buffer;
}

/** Which 3 of the 5 keyholders sign a round: rotates with the repository, role and version. */
function chosen(repo: number, role: RoundRole, version: number): number[] {
  const start = (repo + version * 2 + (role === 'root' ? 1 : 0)) % KEYHOLDERS;
  return Array.from({ length: THRESHOLD }, (_, i) => (start + i) % KEYHOLDERS);
}

class Tracker {
  phase = 'root-v1';
  /** Signers sign on round.opened by themselves while this is set. */
  auto = true;
  readonly samples: Sample[] = [];
  readonly errors: string[] = [];
  /** `${repo}/${roundId}` -> performance.now() when first seen released */
  readonly released = new Map<string, number>();
  readonly failed = new Map<string, string>();
  private wake: (() => void) | null = null;

  notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  sawRound(repo: number, r: RoundInfo): void {
    const key = `${repo}/${r.id}`;
    if (r.state === 'released' && !this.released.has(key)) {
      this.released.set(key, performance.now());
      this.notify();
    } else if ((r.state === 'expired' || r.state === 'cancelled') && !this.failed.has(key)) {
      this.failed.set(key, r.state);
      this.notify();
    }
  }

  error(msg: string): void {
    this.errors.push(msg);
    this.notify();
  }

  /** Wait until every key is released; bounded by a deadline, fails fast on any signer error. */
  async waitReleased(keys: string[], timeoutMs: number, diagnose: () => Promise<string>): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.errors.length) throw new Error(`signer errors:\n  ${this.errors.slice(0, 10).join('\n  ')}`);
      const bad = keys.filter((k) => this.failed.has(k));
      if (bad.length)
        throw new Error(`rounds not released: ${bad.map((k) => `${k} ${this.failed.get(k)}`).join(', ')}`);
      if (keys.every((k) => this.released.has(k))) return;
      if (Date.now() > deadline)
        throw new Error(
          `timed out after ${timeoutMs} ms waiting for ${keys.filter((k) => !this.released.has(k)).join(', ')}\n${await diagnose()}`,
        );
      await new Promise<void>((r) => {
        const t = setTimeout(r, 200);
        this.wake = () => {
          clearTimeout(t);
          r();
        };
      });
    }
  }
}

/** What a real signer does for a round before and while signing it (signer-client/cli.ts checkRound + signOne). */
async function signRound(s: BenchSigner, round: RoundInfo, t: Tracker, phase: string, openedAt: number): Promise<void> {
  const trust = new TrustStore(s.home, s.dialect);
  const pinned = trust.latest();
  const released = await s.conn.request(
    { type: 'released.get', afterRootVersion: pinned ? pinned.signed.version : 0 },
    'released',
  );
  const { root } = advanceRoots(trust, released.roots);
  const targets = verifiedTargets(root, released.targets, s.dialect);
  const payload = await s.conn.request({ type: 'round.get', round: round.id }, 'round.payload');
  if (payload.round.state !== 'open')
    throw new Refusal('PAYLOAD_MALFORMED', `round ${round.id} is ${payload.round.state}; nothing to sign`);
  const p = checkProposal(payload.round, payload.signed, root, targets, s.dialect, s.signer.publicKey);
  const sig = await s.signer.sign(p.proposed.canonical);
  const t0 = performance.now();
  const ack = await s.conn.request(
    { type: 'signature.submit', round: round.id, sha256: p.sha256, keyid: p.keyid, sig: encodeSig(sig, s.dialect) },
    'signature.accepted',
  );
  const ackMs = performance.now() - t0;
  t.samples.push({
    phase,
    repo: s.repo,
    round: round.id,
    role: round.role,
    ackMs,
    final: ack.round.state === 'released',
    prepareMs: t0 - openedAt,
    pk: s.signer.publicKey,
    canonical: p.proposed.canonical,
    sig,
  });
  t.sawRound(s.repo, ack.round);
}

function onRound(s: BenchSigner, r: RoundInfo, t: Tracker): void {
  if (!t.auto || r.state !== 'open') return;
  if (!chosen(s.repo, r.role, r.version).includes(s.index)) return;
  if (!r.progress.some((p) => p.missing.includes(s.name))) return;
  const phase = t.phase;
  const openedAt = performance.now();
  s.busy = s.busy
    .then(() => signRound(s, r, t, phase, openedAt))
    .catch((e: Error & { code?: string }) =>
      t.error(`repo ${s.repo} ${s.name} round ${r.id}: ${e.code ?? 'ERROR'}: ${e.message}`),
    );
}

interface WaveResult {
  wave: number;
  measured: boolean;
  ms: number;
  rounds: number;
  openMs: number;
}

interface ThroughputResult {
  dialect: Dialect;
  repos: number;
  signers: number;
  keyholdersPerRepo: number;
  threshold: number;
  concurrentRounds: number;
  setupMs: number;
  rootV1Ms: number;
  waves: WaveResult[];
  measuredRounds: number;
  measuredMs: number;
  roundsPerSecond: number;
  ack: { all: Dist; nonFinal: Dist; final: Dist; targetsAll: Dist; rootAll: Dist };
  prepareMs: Dist;
  idlePingMs: Dist;
  /** Unloaded: one repository, one round, one signature at a time. */
  probe: { rounds: number; nonFinal: Dist; final: Dist };
  benchEventLoopDelayMs: { p50: number; p99: number; max: number };
  coordinatorCpuMsPerRound: number;
  benchCpuMsPerRound: number;
  coordinatorRssKiB: number[];
  baseline: {
    signatures: number;
    cryptoPerSigUs: number;
    cryptoRepsUs: number[];
    durablePerSigUs: number;
    durablePerSigP50Us: number | null;
    durableRepsUs: number[];
  };
  ratioAckP50OverCrypto: number;
  ratioNonFinalAckP50OverCrypto: number;
  ratioAckP50OverDurable: number;
  ratioUnloadedNonFinalP50OverCrypto: number;
  finalState: { repo: number; rootVersion: number | null; targetsVersion: number | null }[];
}

async function throughput(tmp: string, cleanup: (() => Promise<void> | void)[]): Promise<ThroughputResult> {
  const t = new Tracker();
  const tSetup = performance.now();
  log(
    `throughput: ${REPOS} repositories x ${KEYHOLDERS} keyholders (${DIALECT}), threshold ${THRESHOLD}; init + ` +
      'serve ...',
  );

  const repos: RepoCtx[] = await Promise.all(
    Array.from({ length: REPOS }, async (_, repo) => {
      const dir = path.join(tmp, `repo-${repo}`);
      fs.mkdirSync(dir);
      const keys = Array.from({ length: KEYHOLDERS }, (_, i) => ({ name: `k${i}`, ...generateKeyPair('ed25519') }));
      const dataDir = await initRepo(dir, keys, THRESHOLD);
      const coordinator = await new Coordinator(dataDir).start();
      cleanup.push(() => coordinator.kill());
      const signers: BenchSigner[] = [];
      for (let i = 0; i < KEYHOLDERS; i++) {
        const signer = localSigner(keys[i]!.privateKey);
        const conn = new SignerConnection({ server: coordinator.url, pin: null, signer });
        cleanup.push(() => conn.close());
        const hello = await conn.connect();
        const home = path.join(dir, `home-k${i}`);
        fs.mkdirSync(home);
        const s: BenchSigner = {
          repo,
          index: i,
          name: keys[i]!.name,
          signer,
          home,
          conn,
          dialect: hello.dialect,
          busy: Promise.resolve(),
        };
        conn.on('round.opened', (m: { round: RoundInfo }) => onRound(s, m.round, t));
        conn.on('round.updated', (m: { round: RoundInfo }) => t.sawRound(repo, m.round));
        conn.on('disconnected', (code: number, reason: string) =>
          t.error(`repo ${repo} ${s.name} disconnected (${code} ${reason})`),
        );
        signers.push(s);
      }
      return { index: repo, dir, coordinator, signers };
    }),
  );
  const setupMs = performance.now() - tSetup;
  log(
    `throughput: ${repos.length} coordinators up, ${repos.length * KEYHOLDERS} signers connected in ` +
      `${setupMs.toFixed(0)} ms`,
  );

  const diagnose = async () => {
    const lines: string[] = [];
    for (const r of repos) {
      try {
        const st = await adminCall(r.coordinator, 'status');
        for (const o of st.openRounds)
          lines.push(
            `repo ${r.index} open ${o.id}: ` +
              `${o.progress.map((p) => `${p.label} ${p.signed.length}/${p.threshold}`).join(', ')}`,
          );
      } catch (e) {
        lines.push(`repo ${r.index}: ${(e as Error).message}`);
      }
      lines.push(`repo ${r.index} log tail: ${r.coordinator.log.split('\n').slice(-4).join(' | ')}`);
    }
    return lines.join('\n');
  };

  // Root v1: the round `quorum init` opened before any signer connected.
  const tV1 = performance.now();
  t.phase = 'root-v1';
  await Promise.all(
    repos.map(async (r) => {
      const { round } = await adminCall(r.coordinator, 'rounds.get', { params: { id: 'root-v1-r1' } });
      for (const s of r.signers) onRound(s, round, t);
    }),
  );
  await t.waitReleased(
    repos.map((r) => `${r.index}/root-v1-r1`),
    WAVE_TIMEOUT_MS,
    diagnose,
  );
  const rootV1Ms = performance.now() - tV1;
  log(`throughput: root v1 released in all ${repos.length} repositories (${rootV1Ms.toFixed(0)} ms)`);

  const waves: WaveResult[] = [];
  const eld = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS });
  let coordCpu0 = 0;
  let benchCpu0 = process.cpuUsage();
  const totalWaves = WARMUP_WAVES + WAVES;
  for (let w = 0; w < totalWaves; w++) {
    const measured = w >= WARMUP_WAVES;
    if (measured && w === WARMUP_WAVES) {
      coordCpu0 = repos.reduce((sum, r) => sum + cpuMsOf(r.coordinator.proc!.pid!), 0);
      benchCpu0 = process.cpuUsage();
      eld.enable();
    }
    t.phase = measured ? `wave-${w - WARMUP_WAVES + 1}` : `warmup-${w + 1}`;
    const t0 = performance.now();
    const opened = await Promise.all(
      repos.flatMap((r) => [
        adminCall(r.coordinator, 'rounds.open', {
          body: {
            role: 'targets',
            reason: `bench wave ${w + 1}: add a target`,
            targets: { add: { [`firmware-w${w + 1}.bin`]: targetFor(crypto.randomBytes(1024), OTA_CUSTOM) } },
          },
        }).then((x) => `${r.index}/${x.round.id}`),
        adminCall(r.coordinator, 'rounds.open', {
          body: {
            role: 'root',
            reason: `bench wave ${w + 1}: root version bump`,
            root: { expiresDays: 365 },
          },
        }).then((x) => `${r.index}/${x.round.id}`),
      ]),
    );
    const openMs = performance.now() - t0;
    await t.waitReleased(opened, WAVE_TIMEOUT_MS, diagnose);
    const ms = performance.now() - t0;
    waves.push({ wave: w + 1, measured, ms, rounds: opened.length, openMs });
    log(
      `throughput: ${t.phase}: ${opened.length} rounds released in ${ms.toFixed(0)} ms (${((opened.length * 1000) / ms).toFixed(1)} ` +
        `rounds/s; opening took ${openMs.toFixed(0)} ms)`,
    );
  }
  eld.disable();
  const coordCpuMs = repos.reduce((sum, r) => sum + cpuMsOf(r.coordinator.proc!.pid!), 0) - coordCpu0;
  const benchCpu = process.cpuUsage(benchCpu0);
  const coordinatorRssKiB = repos.map((r) => memOf(r.coordinator.proc!.pid!).rssKiB);

  // Let the last signers' bookkeeping settle.
  await Promise.all(repos.flatMap((r) => r.signers.map((s) => s.busy)));
  if (t.errors.length) throw new Error(`signer errors:\n  ${t.errors.join('\n  ')}`);

  // For context, unloaded: targets rounds in repository 0 alone, its 3 signers one after another.
  t.auto = false;
  t.phase = 'probe';
  const r0 = repos[0]!;
  for (let i = 0; i < PROBE_ROUNDS; i++) {
    const { round } = await adminCall(r0.coordinator, 'rounds.open', {
      body: {
        role: 'targets',
        reason: `bench probe ${i + 1}`,
        targets: { add: { [`probe-${i + 1}.bin`]: targetFor(crypto.randomBytes(1024), OTA_CUSTOM) } },
      },
    });
    for (const idx of chosen(0, 'targets', round.version))
      await signRound(r0.signers[idx]!, round, t, 'probe', performance.now());
    await t.waitReleased([`0/${round.id}`], WAVE_TIMEOUT_MS, diagnose);
  }
  const probe = t.samples.filter((x) => x.phase === 'probe');
  const finalState = await Promise.all(
    repos.map(async (r) => {
      const st = await adminCall(r.coordinator, 'status');
      if (st.openRounds.length) throw new Error(`repo ${r.index} still has open rounds`);
      const targetsWant = totalWaves + (r.index === 0 ? PROBE_ROUNDS : 0);
      if (st.rootVersion !== 1 + totalWaves || st.targetsVersion !== targetsWant)
        throw new Error(
          `repo ${r.index}: root v${st.rootVersion}, targets v${st.targetsVersion}; expected root v${1 + totalWaves}, ` +
            `targets v${targetsWant}`,
        );
      return { repo: r.index, rootVersion: st.rootVersion, targetsVersion: st.targetsVersion };
    }),
  );

  // For context: the plain request/answer round trip (ping -> pong) on the same idle connections, one at a time.
  const pingMs: number[] = [];
  for (const r of repos) {
    for (const s of r.signers) {
      for (let i = 0; i < PINGS_PER_SIGNER; i++) {
        const t0 = performance.now();
        await s.conn.request({ type: 'ping' }, 'pong');
        pingMs.push(performance.now() - t0);
      }
    }
  }

  const measuredWaves = waves.filter((w) => w.measured);
  const measuredRounds = measuredWaves.reduce((s, w) => s + w.rounds, 0);
  const measuredMs = measuredWaves.reduce((s, w) => s + w.ms, 0);
  const ms = t.samples.filter((s) => s.phase.startsWith('wave-'));
  if (ms.length !== measuredRounds * THRESHOLD)
    throw new Error(`expected ${measuredRounds * THRESHOLD} measured signatures, got ${ms.length}`);
  const finals = ms.filter((s) => s.final);
  if (finals.length !== measuredRounds)
    throw new Error(`expected ${measuredRounds} final (releasing) signatures, got ${finals.length}`);
  const ack = {
    all: dist(ms.map((s) => s.ackMs)),
    nonFinal: dist(ms.filter((s) => !s.final).map((s) => s.ackMs)),
    final: dist(finals.map((s) => s.ackMs)),
    targetsAll: dist(ms.filter((s) => s.role === 'targets').map((s) => s.ackMs)),
    rootAll: dist(ms.filter((s) => s.role === 'root').map((s) => s.ackMs)),
  };

  // --- baseline: the same verifications in this process, no network ---
  log(`baseline: ${ms.length} signatures, sha256 + verifySignature in-process (${BASELINE_REPS} reps) ...`);
  const items = ms.map((s) => ({
    pk: s.pk,
    canonical: s.canonical,
    sig: encodeSig(s.sig, DIALECT),
    round: `${s.repo}/${s.round}`,
    sha256: '',
  }));
  for (const it of items) it.sha256 = sha256hex(it.canonical);
  // Each rep goes over the set several times so that it times at least BASELINE_MIN_OPS verifications.
  const loops = Math.max(1, Math.ceil(BASELINE_MIN_OPS / items.length));
  const cryptoPass = (): number => {
    const t0 = performance.now();
    let ok = 0;
    for (let l = 0; l < loops; l++) {
      for (const it of items) {
        const sig = decodeSig(it.sig, DIALECT)!;
        if (sha256hex(it.canonical) === it.sha256 && verifySignature(it.pk, it.canonical, sig)) ok++;
      }
    }
    const dt = performance.now() - t0;
    if (ok !== items.length * loops)
      throw new Error(`baseline: only ${ok} of ${items.length * loops} signatures verified`);
    return (dt * 1000) / (items.length * loops);
  };
  cryptoPass(); // warm-up
  const cryptoRepsUs = Array.from({ length: BASELINE_REPS }, () => cryptoPass());
  const cryptoPerSigUs = median(cryptoRepsUs);

  log(
    'baseline: the same plus the per-signature SQLite transaction (Store, WAL, synchronous=FULL; ' +
      `${DURABLE_REPS} reps) ...`,
  );
  const durableRepsUs: number[] = [];
  const durableEach: number[] = [];
  for (let rep = 0; rep < DURABLE_REPS; rep++) {
    const dbDir = path.join(tmp, `baseline-db-${rep}`);
    fs.mkdirSync(dbDir);
    const store = new Store(path.join(dbDir, 'quorum.db'));
    try {
      const now = new Date().toISOString();
      const seen = new Set<string>();
      store.tx(() => {
        for (const it of items) {
          if (seen.has(it.round)) continue;
          seen.add(it.round);
          store.insertRound({
            id: it.round.replace('/', '-'),
            role: 'targets',
            version: 1,
            base_root_version: 1,
            signed_json: '{}',
            canonical: it.canonical,
            sha256: it.sha256,
            reason: 'baseline',
            deadline: now,
            state: 'released',
            created_at: now,
          });
        }
      });
      const t0 = performance.now();
      for (const it of items) {
        const t1 = performance.now();
        const sig = decodeSig(it.sig, DIALECT)!;
        if (sha256hex(it.canonical) !== it.sha256 || !verifySignature(it.pk, it.canonical, sig))
          throw new Error('baseline: signature does not verify');
        const roundId = it.round.replace('/', '-');
        store.tx(() => {
          store.insertSignature({
            round_id: roundId,
            fingerprint: it.pk.fingerprint,
            keyholder: 'bench',
            sig,
            received_at: new Date().toISOString(),
          });
          store.audit('signature.accepted', { round: roundId, keyholder: 'bench', fingerprint: it.pk.fingerprint });
        });
        if (rep > 0) durableEach.push((performance.now() - t1) * 1000);
      }
      if (rep > 0 || DURABLE_REPS === 1) durableRepsUs.push(((performance.now() - t0) * 1000) / items.length);
    } finally {
      store.close();
    }
  }
  const durablePerSigUs = median(durableRepsUs);

  return {
    dialect: DIALECT,
    repos: REPOS,
    signers: REPOS * KEYHOLDERS,
    keyholdersPerRepo: KEYHOLDERS,
    threshold: THRESHOLD,
    concurrentRounds: REPOS * 2,
    setupMs,
    rootV1Ms,
    waves,
    measuredRounds,
    measuredMs,
    roundsPerSecond: (measuredRounds * 1000) / measuredMs,
    ack,
    prepareMs: dist(ms.map((s) => s.prepareMs)),
    idlePingMs: dist(pingMs),
    probe: {
      rounds: PROBE_ROUNDS,
      nonFinal: dist(probe.filter((x) => !x.final).map((x) => x.ackMs)),
      final: dist(probe.filter((x) => x.final).map((x) => x.ackMs)),
    },
    // The histogram holds the whole sampling interval; the delay is what exceeds the resolution.
    benchEventLoopDelayMs: {
      p50: Math.max(0, eld.percentile(50) / 1e6 - ELD_RESOLUTION_MS),
      p99: Math.max(0, eld.percentile(99) / 1e6 - ELD_RESOLUTION_MS),
      max: Math.max(0, eld.max / 1e6 - ELD_RESOLUTION_MS),
    },
    coordinatorCpuMsPerRound: coordCpuMs / measuredRounds,
    benchCpuMsPerRound: (benchCpu.user + benchCpu.system) / 1000 / measuredRounds,
    coordinatorRssKiB,
    baseline: {
      signatures: items.length,
      cryptoPerSigUs,
      cryptoRepsUs,
      durablePerSigUs,
      durablePerSigP50Us: quantile(durableEach, 0.5),
      durableRepsUs,
    },
    ratioAckP50OverCrypto: (ack.all.p50! * 1000) / cryptoPerSigUs,
    ratioNonFinalAckP50OverCrypto: (ack.nonFinal.p50! * 1000) / cryptoPerSigUs,
    ratioAckP50OverDurable: (ack.all.p50! * 1000) / durablePerSigUs,
    ratioUnloadedNonFinalP50OverCrypto:
      (quantile(
        probe.filter((x) => !x.final).map((x) => x.ackMs),
        0.5,
      )! *
        1000) /
      cryptoPerSigUs,
    finalState,
  };
}

// --- memory --------------------------------------------------------------------------------------

interface MemoryResult {
  connections: number;
  batch: number;
  rssStartedKiB: number;
  rssBeforeConnectionsKiB: number;
  rssWithConnectionsKiB: number;
  hwmKiB: number;
  perConnectionKiB: number;
  enrollMs: number;
  connectMs: number;
}

async function memory(tmp: string, cleanup: (() => Promise<void> | void)[]): Promise<MemoryResult> {
  const dir = path.join(tmp, 'memory');
  fs.mkdirSync(dir);
  const dataDir = await initRepo(dir, [], 1);
  const coordinator = await new Coordinator(dataDir).start();
  cleanup.push(() => coordinator.kill());
  const pid = coordinator.proc!.pid!;
  await sleep(1000);
  const rssStartedKiB = memOf(pid).rssKiB;
  log(`memory: coordinator pid ${pid} up, VmRSS ${rssStartedKiB} KiB; generating and enrolling ${IDLE} keyholders ...`);

  const keys = Array.from({ length: IDLE }, (_, i) => ({
    name: `idle${String(i).padStart(4, '0')}`,
    ...generateKeyPair('ed25519'),
  }));
  const tEnroll = performance.now();
  for (let i = 0; i < keys.length; i += 25) {
    await Promise.all(
      keys.slice(i, i + 25).map((k) =>
        adminCall(coordinator, 'keyholders.add', {
          body: {
            name: k.name,
            publicKey: k.publicKey.keyObject.export({ type: 'spki', format: 'pem' }).toString(),
          },
        }),
      ),
    );
  }
  const enrollMs = performance.now() - tEnroll;
  await sleep(1000);
  const rssBeforeConnectionsKiB = memOf(pid).rssKiB;
  log(
    `memory: ${IDLE} keyholders enrolled in ${enrollMs.toFixed(0)} ms; VmRSS before any connection ` +
      `${rssBeforeConnectionsKiB} KiB; connecting in batches of ${CONNECT_BATCH} ...`,
  );

  const conns: SignerConnection[] = [];
  let dropped = 0;
  const tConnect = performance.now();
  for (let i = 0; i < keys.length; i += CONNECT_BATCH) {
    await Promise.all(
      keys.slice(i, i + CONNECT_BATCH).map(async (k) => {
        const conn = new SignerConnection({ server: coordinator.url, pin: null, signer: localSigner(k.privateKey) });
        conns.push(conn);
        cleanup.push(() => conn.close());
        conn.on('disconnected', () => dropped++);
        const hello = await conn.connect();
        if (hello.keyholder !== k.name) throw new Error(`connected as ${hello.keyholder}, expected ${k.name}`);
      }),
    );
  }
  const connectMs = performance.now() - tConnect;
  // Every one is connected as the coordinator sees it.
  const deadline = Date.now() + 30_000;
  for (;;) {
    const st = await adminCall(coordinator, 'status');
    const n = st.keyholders.filter((k) => k.connected).length;
    if (n === IDLE) break;
    if (Date.now() > deadline)
      throw new Error(`only ${n} of ${IDLE} keyholders are connected as the coordinator sees it`);
    await sleep(200);
  }
  await sleep(2000); // let allocation settle
  if (dropped) throw new Error(`${dropped} idle connections were dropped`);
  const m = memOf(pid);
  log(`memory: ${IDLE} signers connected in ${connectMs.toFixed(0)} ms; VmRSS ${m.rssKiB} KiB (peak ${m.hwmKiB} KiB)`);
  for (const c of conns) c.close();
  return {
    connections: IDLE,
    batch: CONNECT_BATCH,
    rssStartedKiB,
    rssBeforeConnectionsKiB,
    rssWithConnectionsKiB: m.rssKiB,
    hwmKiB: m.hwmKiB,
    perConnectionKiB: (m.rssKiB - rssBeforeConnectionsKiB) / IDLE,
    enrollMs,
    connectMs,
  };
}

// --- output --------------------------------------------------------------------------------------

function report(tp: ThroughputResult | null, mem: MemoryResult | null, meta: Record<string, unknown>): void {
  const lines: string[] = [''];
  lines.push(
    `Signing-round benchmark; node ${process.version}; ${os.cpus().length} cpus; commit ${meta.commit}; load ` +
      `${(meta.loadStart as number[]).map((x) => x.toFixed(2)).join(' ')} -> ` +
      `${(meta.loadEnd as number[]).map((x) => x.toFixed(2)).join(' ')}`,
  );
  if (tp) {
    lines.push('');
    lines.push(
      `THROUGHPUT: ${tp.repos} coordinators (one per repository, ${tp.dialect}), ${tp.signers} signer ` +
        `connections in one process, ${tp.concurrentRounds} concurrent ${tp.threshold}-of-${tp.keyholdersPerRepo} ` +
        'rounds per wave (targets + root per repository), loopback',
    );
    lines.push(
      `  ${tp.measuredRounds} rounds in ${tp.waves.filter((w) => w.measured).length} measured waves (+${tp.waves.filter((w) => !w.measured).length} ` +
        `warm-up) in ${fmt(tp.measuredMs / 1000, 2)} s -> ${fmt(tp.roundsPerSecond, 1)} rounds/s (${fmt(tp.roundsPerSecond * tp.threshold, 1)} ` +
        'signatures/s)',
    );
    lines.push(
      `  waves (ms): ${tp.waves.map((w) => `${w.measured ? '' : 'warm-up '}${fmt(w.ms, 0)}`).join(', ')}; root ` +
        `v1 release ${fmt(tp.rootV1Ms, 0)} ms; setup ${fmt(tp.setupMs, 0)} ms`,
    );
    lines.push('');
    lines.push('  Signature acknowledgement latency (signature.submit sent -> signature.accepted received), ms:');
    const row = (label: string, d: Dist) => [label, String(d.n), fmt(d.p50), fmt(d.p99), fmt(d.max), fmt(d.mean)];
    for (const l of table([
      ['signatures', 'n', 'p50', 'p99', 'max', 'mean'],
      row('all', tp.ack.all),
      row('non-final (before threshold)', tp.ack.nonFinal),
      row('final (acked after release)', tp.ack.final),
      row('targets rounds, all', tp.ack.targetsAll),
      row('root rounds, all', tp.ack.rootAll),
      row('round.opened -> submit (client)', tp.prepareMs),
      row('unloaded: non-final (1 repo, 1 sig at a time)', tp.probe.nonFinal),
      row('unloaded: final (1 repo, 1 sig at a time)', tp.probe.final),
      row('idle ping -> pong, after the waves', tp.idlePingMs),
    ]))
      lines.push('    ' + l);
    lines.push('');
    lines.push(
      `  Baseline, same ${tp.baseline.signatures} signatures in one process, no network (median of reps, per ` +
        'signature):',
    );
    lines.push(
      `    sha256 + verifySignature                          ${fmt(tp.baseline.cryptoPerSigUs, 1).padStart(9)} us`,
    );
    lines.push(
      `    + Store tx (insert signature + audit, FULL sync)  ${fmt(tp.baseline.durablePerSigUs, 1).padStart(9)} ` +
        `us  (p50 of single signatures ${fmt(tp.baseline.durablePerSigP50Us, 1)} us)`,
    );
    lines.push(
      '  RATIO networked ack p50 / in-process verify (sha256 + verifySignature): ' +
        `${fmt(tp.ratioAckP50OverCrypto, 1)}x  (non-final p50: ${fmt(tp.ratioNonFinalAckP50OverCrypto, 1)}x; vs ` +
        `verify + store tx: ${fmt(tp.ratioAckP50OverDurable, 1)}x; unloaded non-final p50: ` +
        `${fmt(tp.ratioUnloadedNonFinalP50OverCrypto, 1)}x)`,
    );
    lines.push(
      `  CPU per round: coordinators ${fmt(tp.coordinatorCpuMsPerRound, 1)} ms, bench process (${tp.signers} ` +
        `signers) ${fmt(tp.benchCpuMsPerRound, 1)} ms; bench event-loop delay (beyond the ${ELD_RESOLUTION_MS} ` +
        `ms sampling interval) p50 ${fmt(tp.benchEventLoopDelayMs.p50, 1)} / p99 ` +
        `${fmt(tp.benchEventLoopDelayMs.p99, 1)} / max ${fmt(tp.benchEventLoopDelayMs.max, 1)} ms`,
    );
    lines.push(
      `  coordinator VmRSS after the run: ${tp.coordinatorRssKiB.map((k) => (k / 1024).toFixed(0)).join(', ')} MiB`,
    );
  }
  if (mem) {
    lines.push('');
    lines.push(
      `MEMORY: one coordinator, ${mem.connections} enrolled keyholders, ${mem.connections} authenticated idle ` +
        `SignerConnections (connected in batches of ${mem.batch})`,
    );
    for (const l of table([
      ['coordinator VmRSS', 'KiB', 'MiB'],
      ['just started', String(mem.rssStartedKiB), fmt(mem.rssStartedKiB / 1024, 1)],
      [
        `${mem.connections} enrolled, before any connection`,
        String(mem.rssBeforeConnectionsKiB),
        fmt(mem.rssBeforeConnectionsKiB / 1024, 1),
      ],
      [
        `${mem.connections} idle signers connected`,
        String(mem.rssWithConnectionsKiB),
        fmt(mem.rssWithConnectionsKiB / 1024, 1),
      ],
      ['peak (VmHWM)', String(mem.hwmKiB), fmt(mem.hwmKiB / 1024, 1)],
    ]))
      lines.push('  ' + l);
    lines.push(
      `  per connection: ${fmt(mem.perConnectionKiB, 1)} KiB; enrolment took ${fmt(mem.enrollMs / 1000, 1)} s, ` +
        `connecting ${fmt(mem.connectMs / 1000, 1)} s`,
    );
  }
  lines.push('');
  process.stdout.write(lines.join('\n') + '\n');
  process.stdout.write('BENCH_JSON ' + JSON.stringify({ ...meta, throughput: tp, memory: mem }) + '\n');
}

async function main(): Promise<void> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'uptane-quorum-rounds-bench-'));
  const cleanup: (() => Promise<void> | void)[] = [];
  const loadStart = os.loadavg();
  const commit = gitHead();
  log(
    `node ${process.version}, ${os.cpus().length} cpus, load ${loadStart.map((x) => x.toFixed(2)).join(' ')}, ` +
      `commit ${commit}, temp ${tmp}`,
  );
  let tp: ThroughputResult | null = null;
  let mem: MemoryResult | null = null;
  const runCleanup = async () => {
    for (const fn of cleanup.splice(0).reverse()) {
      try {
        await fn();
      } catch {
        /* best effort */
      }
    }
  };
  try {
    if (PHASES.has('throughput')) {
      tp = await throughput(tmp, cleanup);
      await runCleanup();
    }
    if (PHASES.has('memory')) {
      mem = await memory(tmp, cleanup);
      await runCleanup();
    }
  } finally {
    await runCleanup();
    if (process.env.BENCH_KEEP) log(`kept ${tmp}`);
    else fs.rmSync(tmp, { recursive: true, force: true });
  }
  report(tp, mem, {
    node: process.version,
    cpus: os.cpus().length,
    commit,
    loadStart,
    loadEnd: os.loadavg(),
    config: {
      repos: REPOS,
      keyholdersPerRepo: KEYHOLDERS,
      threshold: THRESHOLD,
      waves: WAVES,
      warmupWaves: WARMUP_WAVES,
      idle: IDLE,
      connectBatch: CONNECT_BATCH,
      dialect: DIALECT,
    },
  });
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(`rounds benchmark failed: ${(e as Error).stack ?? e}`);
    process.exit(1);
  },
);
