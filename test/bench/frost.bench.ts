/**
 * FROST benchmark (plain Node script, not vitest): `node dist/test/bench/frost.bench.js`.
 * Everything in this process, no network.
 *
 * SIGN: one 3-of-5 FROST(Ed25519) signing round over a ~2 KB canonical targets body, through
 * runSigningRound with three FrostKeyholders on disk (each commitment's nonces encrypted and
 * fsync'ed before the commitment is returned, the one-time guard file created and fsync'ed before
 * the share is released), every share verified (RFC 9591 5.4), aggregated, and the signature
 * verified with node:crypto. Against BASELINE: three plain Ed25519 signatures (node:crypto) over
 * the same bytes plus their three verifications. Also: the same round with shares checked only
 * if the aggregate fails, the same without disk (nonces in memory), and a per-step breakdown.
 *
 * DKG: a whole ceremony for 3-of-5 and 5-of-9 with in-memory X25519 identities: every
 * participant's round 1, round 2 (check every round-1 package, encrypt n-1 shares) and round 3
 * (decrypt, check every share, derive), then the agreement check on all confirmations. "total"
 * is all participants' work done one after another in this thread; "critical path" is what a
 * ceremony with participants on their own machines waits for: the slowest participant of each
 * round, summed, plus the agreement check. Storing the share (scrypt) is not included.
 *
 * COLD: the FROST work of one 3-of-5 signing round in a fresh Node process, as a command meets it
 * (no warm JIT, no tables built yet): three participants' share check, commitment and signature
 * share, then the coordinator's group check, three share verifications and the aggregate, through
 * protocol/frost.ts; against the same signing work with noble's `ed25519_FROST` called directly
 * (no checks of ours), in another fresh process. Process CPU of the work only (imports excluded);
 * the two alternate, median of the paired ratios.
 *
 * Median of BENCH_FROST_REPS (default 7, at least 5) measured repetitions after one cold run.
 * Progress on stderr; the table and a final `BENCH_JSON {...}` line on stdout.
 */
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { canonicalize } from '../../protocol/canonical.js';
import {
  aggregateSignature,
  dkgAgree,
  dkgFinish,
  dkgRound2,
  dkgStart,
  frostCommit,
  frostSignShare,
  generateIdentityKey,
  groupPublicKey,
  newCeremony,
  runSigningRound,
  verifySignatureShare,
  type FrostCommitment,
  type FrostGroup,
  type FrostNonces,
  type FrostParty,
  type FrostShare,
  type FrostSignRequest,
  type DkgOutcome,
} from '../../protocol/frost.js';
import { sha256hex } from '../../protocol/keys.js';
import { FrostStore, type FrostKeyholder } from '../../signer-client/frost-store.js';
import { check, envInt, log, median, plainSignVerifyMs, table, time, timeAsync } from './measure.js';

const REPS = Math.max(5, envInt('BENCH_FROST_REPS', 7));
const BASELINE_INNER = 200; // baseline iterations per repetition (one is ~0.3 ms: too short to time alone)
const LOW_COST = { N: 1 << 14, r: 8, p: 1 };
const PASS = 'benchmark passphrase';

// --- DKG -----------------------------------------------------------------------------------------

interface DkgSample {
  total: number;
  critical: number;
  rounds: { round1: number; round2: number; round3: number; agree: number }; // slowest participant per round, ms
}

function dkgOnce(
  t: number,
  n: number,
  label: string,
): { sample: DkgSample; outcomes: DkgOutcome[]; group: FrostGroup } {
  const ids = Array.from({ length: n }, () => generateIdentityKey());
  const ceremony = newCeremony(
    `bench-${label}-${crypto.randomBytes(3).toString('hex')}`,
    t,
    ids.map((id, i) => ({ name: `p${i + 1}`, identityKey: id.publicKey })),
  );
  const r1 = ids.map((_, i) => time(() => dkgStart(ceremony, i + 1)));
  const round1All = r1.map(([s]) => s.round1);
  const r2 = r1.map(([s], i) => time(() => dkgRound2(s.state, round1All, ids[i]!)));
  const packages = r2.flatMap(([p]) => p);
  const r3 = r1.map(([s], i) =>
    time(() =>
      dkgFinish(
        s.state,
        packages.filter((p) => p.to === i + 1),
        ids[i]!,
      ),
    ),
  );
  const outcomes = r3.map(([o]) => o);
  const [group, agree] = time(() =>
    dkgAgree(
      ceremony,
      round1All,
      outcomes.map((o) => o.confirm),
    ),
  );
  check(
    outcomes.every((o) => o.group.groupPublicKey === group.groupPublicKey),
    `${label}: every participant has the group key`,
  );
  const max = (xs: [unknown, number][]) => Math.max(...xs.map(([, ms]) => ms));
  const sum = (xs: [unknown, number][]) => xs.reduce((a, [, ms]) => a + ms, 0);
  const rounds = { round1: max(r1), round2: max(r2), round3: max(r3), agree };
  return {
    sample: {
      total: sum(r1) + sum(r2) + sum(r3) + agree,
      critical: rounds.round1 + rounds.round2 + rounds.round3 + agree,
      rounds,
    },
    outcomes,
    group,
  };
}

interface DkgResult {
  t: number;
  n: number;
  cold: DkgSample;
  totalMs: number;
  criticalMs: number;
  roundsMs: DkgSample['rounds'];
  totalSamples: number[];
}

function benchDkg(t: number, n: number): DkgResult {
  const label = `${t}-of-${n}`;
  const cold = dkgOnce(t, n, label).sample;
  log(`DKG ${label}: cold ${cold.total.toFixed(0)} ms`);
  const samples: DkgSample[] = [];
  for (let r = 0; r < REPS; r++) {
    samples.push(dkgOnce(t, n, label).sample);
    log(
      `DKG ${label} rep ${r + 1}/${REPS}: total ${samples[r]!.total.toFixed(0)} ms, critical path ` +
        `${samples[r]!.critical.toFixed(0)} ms`,
    );
  }
  const m = (f: (s: DkgSample) => number) => median(samples.map(f));
  return {
    t,
    n,
    cold,
    totalMs: m((s) => s.total),
    criticalMs: m((s) => s.critical),
    roundsMs: {
      round1: m((s) => s.rounds.round1),
      round2: m((s) => s.rounds.round2),
      round3: m((s) => s.rounds.round3),
      agree: m((s) => s.rounds.agree),
    },
    totalSamples: samples.map((s) => s.total),
  };
}

// --- signing -------------------------------------------------------------------------------------

/** A participant with its nonces in memory only: the signing cost without the disk. */
function memoryParty(share: FrostShare): FrostParty {
  const nonces = new Map<string, FrostNonces>();
  return {
    identifier: share.identifier,
    async commit() {
      const c = frostCommit(share);
      nonces.set(c.commitment.hiding, c.nonces);
      return c.commitment;
    },
    async sign(req, message) {
      const own = req.commitments.find((c) => c.identifier === share.identifier)!;
      const n = nonces.get(own.hiding);
      nonces.delete(own.hiding);
      if (!n) throw new Error('nonce unknown or used');
      return frostSignShare(share, n, req, message);
    },
  };
}

interface SignResult {
  threshold: number;
  participants: number;
  messageBytes: number;
  frostMs: number;
  frostOnFailureMs: number;
  frostMemoryMs: number;
  baselineMs: number;
  ratio: number;
  ratioOnFailure: number;
  breakdownMs: { commit: number; signShare: number; verifyShare: number; aggregateAndVerify: number };
  samples: { frost: number[]; frostOnFailure: number[]; frostMemory: number[]; baseline: number[] };
}

async function benchSign(tmp: string): Promise<SignResult> {
  const { outcomes, group } = dkgOnce(3, 5, 'sign');
  const holders: FrostKeyholder[] = outcomes.map((o, i) => {
    const store = FrostStore.open(path.join(tmp, `p${i + 1}`));
    store.saveShare(o.share, PASS, LOW_COST);
    return store.unlockShare(group.groupPublicKey, PASS);
  });
  const signers = holders.slice(0, 3);
  const memory = outcomes.slice(0, 3).map((o) => memoryParty(o.share));
  const targets: Record<string, unknown> = {};
  for (let i = 0; i < 8; i++)
    targets[`ecu-firmware-${i}.bin`] = {
      length: 1_000_000 + i,
      hashes: { sha256: sha256hex(String(i)), sha512: crypto.createHash('sha512').update(String(i)).digest('hex') },
      custom: { hardwareIds: ['ecu'] },
    };
  const message = canonicalize(
    { _type: 'targets', spec_version: '1.0.31', version: 7, expires: '2031-01-01T00:00:00Z', targets },
    'tuf',
  );
  const pk = groupPublicKey(group);
  const plain = Array.from({ length: 3 }, () => crypto.generateKeyPairSync('ed25519'));

  let k = 0;
  const frost = async (parties: FrostParty[], verifyShares: 'each' | 'on-failure') => {
    const m = Buffer.concat([message, Buffer.from(String(k++))]); // a new message each time
    const [r, ms] = await timeAsync(() => runSigningRound(group, m, { parties, aggregate: { verifyShares } }));
    check(crypto.verify(null, m, pk.keyObject, r.signature), 'FROST signature verifies with node:crypto');
    return ms;
  };
  const baseline = () => plainSignVerifyMs(message, plain, BASELINE_INNER);
  const breakdown = () => {
    const m = Buffer.concat([message, Buffer.from(`b${k++}`)]);
    const [commits, commit] = time(() => outcomes.slice(0, 3).map((o) => frostCommit(o.share)));
    const request: FrostSignRequest = {
      session: 'bench',
      groupPublicKey: group.groupPublicKey,
      messageSha256: sha256hex(m),
      commitments: commits.map((c) => c.commitment as FrostCommitment),
    };
    const [shares, signShare] = time(() =>
      outcomes.slice(0, 3).map((o, i) => frostSignShare(o.share, commits[i]!.nonces, request, m)),
    );
    const [ok, verifyShare] = time(() => shares.every((s) => verifySignatureShare(group, request, m, s)));
    check(ok, 'shares verify');
    const [, aggregateAndVerify] = time(() =>
      aggregateSignature(group, request, m, shares, { verifyShares: 'on-failure' }),
    );
    return { commit, signShare, verifyShare, aggregateAndVerify };
  };

  // Cold runs, then interleaved measured repetitions.
  log(
    `SIGN cold: frost ${(await frost(signers, 'each')).toFixed(1)} ms, on-failure ` +
      `${(await frost(signers, 'on-failure')).toFixed(1)} ms, memory ${(await frost(memory, 'each')).toFixed(1)} ` +
      `ms, baseline ${baseline().toFixed(3)} ms`,
  );
  breakdown();
  const s = {
    frost: [] as number[],
    frostOnFailure: [] as number[],
    frostMemory: [] as number[],
    baseline: [] as number[],
  };
  const b: ReturnType<typeof breakdown>[] = [];
  for (let r = 0; r < REPS; r++) {
    s.frost.push(await frost(signers, 'each'));
    s.frostOnFailure.push(await frost(signers, 'on-failure'));
    s.frostMemory.push(await frost(memory, 'each'));
    s.baseline.push(baseline());
    b.push(breakdown());
    log(
      `SIGN rep ${r + 1}/${REPS}: frost ${s.frost[r]!.toFixed(1)} ms, on-failure ` +
        `${s.frostOnFailure[r]!.toFixed(1)} ms, memory ${s.frostMemory[r]!.toFixed(1)} ms, baseline ` +
        `${s.baseline[r]!.toFixed(3)} ms`,
    );
  }
  for (const h of signers) check(h.pending().length === 0, 'no nonce left unused');
  const frostMs = median(s.frost);
  const baselineMs = median(s.baseline);
  return {
    threshold: 3,
    participants: 5,
    messageBytes: message.length,
    frostMs,
    frostOnFailureMs: median(s.frostOnFailure),
    frostMemoryMs: median(s.frostMemory),
    baselineMs,
    ratio: frostMs / baselineMs,
    ratioOnFailure: median(s.frostOnFailure) / baselineMs,
    breakdownMs: {
      commit: median(b.map((x) => x.commit)),
      signShare: median(b.map((x) => x.signShare)),
      verifyShare: median(b.map((x) => x.verifyShare)),
      aggregateAndVerify: median(b.map((x) => x.aggregateAndVerify)),
    },
    samples: s,
  };
}

// --- a cold process ------------------------------------------------------------------------------

const HERE = path.dirname(fileURLToPath(import.meta.url)); // dist/test/bench
const ROOT = path.resolve(HERE, '../../..');
const FROST_JS = pathToFileURL(path.join(ROOT, 'dist/protocol/frost.js')).href;

/** Child code: stdin is {group, shares}; prints the CPU ms of the work after its imports. */
const COLD_PRELUDE = `
import fs from 'node:fs';
import crypto from 'node:crypto';
const { group, shares } = JSON.parse(fs.readFileSync(0, 'utf8'));
const msg = Buffer.from('a FROST-signed message of a few hundred bytes. '.repeat(8));
const sha = crypto.createHash('sha256').update(msg).digest('hex');
const done = (c0) => { const u = process.cpuUsage(c0); process.stdout.write(String((u.user + u.system) / 1000)); };
`;
const COLD_OURS = `${COLD_PRELUDE}
const F = await import(${JSON.stringify(FROST_JS)});
const c0 = process.cpuUsage();
const S = shares.map((s) => ({ group, identifier: s.identifier, signingShare: Buffer.from(s.signingShare, 'hex') }));
const rounds = S.map((s) => { F.checkShare(s); return F.frostCommit(s); });
const request = { session: 'cold', groupPublicKey: group.groupPublicKey, messageSha256: sha,
  commitments: rounds.map((r) => r.commitment) };
const sigShares = S.map((s, i) => F.frostSignShare(s, rounds[i].nonces, request, msg));
F.checkGroup(group);
for (const s of sigShares) if (!F.verifySignatureShare(group, request, msg, s)) throw new Error('share');
F.aggregateSignature(group, request, msg, sigShares, { verifyShares: 'on-failure' });
done(c0);
`;
const COLD_NOBLE = `${COLD_PRELUDE}
const { ed25519_FROST: N } = await import('@noble/curves/ed25519.js');
const c0 = process.cpuUsage();
const hex = (h) => Uint8Array.from(Buffer.from(h, 'hex'));
const id = (n) => N.Identifier.fromNumber(n);
const pub = { signers: { min: group.threshold, max: group.participants.length }, commitments: group.commitments.map(hex),
  verifyingShares: Object.fromEntries(group.participants.map((p) => [id(p.identifier), hex(p.verifyingShare)])) };
const secrets = shares.map((s) => ({ identifier: id(s.identifier), signingShare: hex(s.signingShare) }));
const rounds = secrets.map((s) => { N.validateSecret(s, pub); return N.commit(s); });
const list = rounds.map((r) => r.commitments);
const sigShares = secrets.map((s, i) => N.signShare(s, pub, rounds[i].nonces, list, msg));
secrets.forEach((s, i) => { if (!N.verifyShare(pub, list, msg, s.identifier, sigShares[i])) throw new Error('share'); });
N.aggregate(pub, list, msg, Object.fromEntries(secrets.map((s, i) => [s.identifier, sigShares[i]])));
done(c0);
`;

function coldCpuMs(code: string, input: string): number {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd: ROOT, input, encoding: 'utf8' });
  check(r.status === 0, `cold FROST process exits 0 (${r.stderr.trim().slice(0, 300)})`);
  return Number(r.stdout);
}

interface ColdResult {
  oursMs: number;
  nobleMs: number;
  ratio: number;
  samples: { ours: number[]; noble: number[] };
}

function benchCold(): ColdResult {
  const { outcomes, group } = dkgOnce(3, 5, 'cold');
  const input = JSON.stringify({
    group,
    shares: outcomes
      .slice(0, 3)
      .map((o) => ({ identifier: o.share.identifier, signingShare: o.share.signingShare.toString('hex') })),
  });
  const s = { ours: [] as number[], noble: [] as number[] };
  const ratios: number[] = [];
  for (let r = 0; r < REPS; r++) {
    const pair = r % 2 ? [COLD_NOBLE, COLD_OURS] : [COLD_OURS, COLD_NOBLE];
    const [a, b] = pair.map((code) => coldCpuMs(code, input)) as [number, number];
    const [ours, noble] = r % 2 ? [b, a] : [a, b];
    s.ours.push(ours);
    s.noble.push(noble);
    ratios.push(ours / noble);
    log(
      `COLD rep ${r + 1}/${REPS}: protocol/frost.ts ${ours.toFixed(0)} ms CPU, noble directly ${noble.toFixed(0)} ms`,
    );
  }
  return { oursMs: median(s.ours), nobleMs: median(s.noble), ratio: median(ratios), samples: s };
}

// --- output --------------------------------------------------------------------------------------

const fmt = (x: number, d = 1) => x.toFixed(d);

async function main(): Promise<void> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'uptane-quorum-frost-bench-'));
  const loadStart = os.loadavg();
  try {
    const sign = await benchSign(tmp);
    const cold = benchCold();
    const dkg = [benchDkg(3, 5), benchDkg(5, 9)];
    const loadEnd = os.loadavg();
    const lines: string[] = [''];
    lines.push(
      `FROST(Ed25519, SHA-512) benchmark; node ${process.version}; ${os.cpus().length} cpus; median of ${REPS} ` +
        `reps; load ${loadStart.map((x) => x.toFixed(2)).join(' ')} -> ` +
        `${loadEnd.map((x) => x.toFixed(2)).join(' ')}`,
    );
    lines.push('');
    lines.push(
      `SIGN: one ${sign.threshold}-of-${sign.participants} round over ${sign.messageBytes} bytes, in process ` +
        '(no network)',
    );
    for (const l of table([
      ['', 'ms', 'x baseline'],
      ['FROST round, nonces on disk, every share verified (default)', fmt(sign.frostMs), fmt(sign.ratio, 0)],
      [
        'FROST round, nonces on disk, shares checked only on failure',
        fmt(sign.frostOnFailureMs),
        fmt(sign.ratioOnFailure, 0),
      ],
      [
        'FROST round, nonces in memory, every share verified',
        fmt(sign.frostMemoryMs),
        fmt(sign.frostMemoryMs / sign.baselineMs, 0),
      ],
      ['BASELINE: 3 plain Ed25519 signatures + 3 verifications (node:crypto)', fmt(sign.baselineMs, 3), '1'],
    ]))
      lines.push('  ' + l);
    lines.push(
      `  breakdown (3 participants, noble): commit ${fmt(sign.breakdownMs.commit)} ms, signShare ` +
        `${fmt(sign.breakdownMs.signShare)} ms, verifyShare ${fmt(sign.breakdownMs.verifyShare)} ms, aggregate + ` +
        `verify ${fmt(sign.breakdownMs.aggregateAndVerify)} ms`,
    );
    lines.push(`  RATIO FROST 3-of-5 round / (3 Ed25519 signatures + verifications): ${fmt(sign.ratio, 0)}x`);
    lines.push('');
    lines.push(
      "COLD: one 3-of-5 round's FROST work (3 participants + the coordinator's checks) in a fresh process, CPU",
    );
    for (const l of table([
      ['', 'ms CPU'],
      ['through protocol/frost.ts (every check of ours)', fmt(cold.oursMs, 0)],
      ["BASELINE: the same signing work with noble's ed25519_FROST directly", fmt(cold.nobleMs, 0)],
    ]))
      lines.push('  ' + l);
    lines.push(
      `  RATIO cold round, protocol/frost.ts / noble directly: ${fmt(cold.ratio, 2)}x (median of paired runs)`,
    );
    lines.push('');
    lines.push('DKG: whole ceremony in process, in-memory identities (share storage not included)');
    for (const l of table([
      ['group', 'total ms', 'critical path ms', 'round 1', 'round 2', 'round 3', 'agree', 'cold total'],
      ...dkg.map((d) => [
        `${d.t}-of-${d.n}`,
        fmt(d.totalMs, 0),
        fmt(d.criticalMs, 0),
        fmt(d.roundsMs.round1),
        fmt(d.roundsMs.round2),
        fmt(d.roundsMs.round3),
        fmt(d.roundsMs.agree),
        fmt(d.cold.total, 0),
      ]),
    ]))
      lines.push('  ' + l);
    lines.push('  (round columns: the slowest participant of that round, ms)');
    lines.push('');
    process.stdout.write(lines.join('\n') + '\n');
    process.stdout.write(
      'BENCH_JSON ' +
        JSON.stringify({
          bench: 'frost',
          node: process.version,
          cpus: os.cpus().length,
          reps: REPS,
          loadStart,
          loadEnd,
          sign,
          cold,
          dkg,
        }) +
        '\n',
    );
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
