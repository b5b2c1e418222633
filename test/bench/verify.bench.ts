/**
 * Verification benchmark (plain Node script, not vitest): `npm run bench`.
 *
 * For `tuf` targets.json files of 1k, 10k, 100k and 1M targets (plus 2k for the tuf-js baseline),
 * each signed by ed25519 + ECDSA P-256 + RSA-2048 (threshold 3), it measures the median of several
 * repetitions of:
 *   ours   read root.json + targets.json, verifyRepository({trusted root, targets})
 *   floor  read bytes + JSON.parse + sha256(file) + 3 signature checks over precomputed canonical bytes
 *   tuf-js Metadata.fromJSON + root.verifyDelegate('targets', ...) at 1k and 2k only (quadratic)
 * and a 100-version root chain (2-of-3 root keys, one key rotated per version) verified by
 * loadRepository + verifyRepository, trust on first use from 1.root.json.
 *
 * Progress goes to stderr; the table and a final `BENCH_JSON {...}` line go to stdout.
 * Environment: BENCH_SIZES=1000,10000 to run a subset, BENCH_KEEP=1 to keep the temp folder.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadRepository } from '../../protocol/repository.js';
import { verifyRepository } from '../../protocol/verify.js';
import { breakdown, PHASES, type Phase } from './breakdown.js';
import { benchKey, writeRootChain, writeTargets, writeTargetsRoot, type TargetsRepo } from './fixtures.js';
import { collect, floor, hasGc, log, measureInterleaved, ours, timed, tufjs, type Series } from './measure.js';

const ALL_SIZES = [1_000, 2_000, 10_000, 100_000, 1_000_000];
const TUFJS_SIZES = new Set([1_000, 2_000]); // never larger: tuf-js grows quadratically
const REPS: Record<number, number> = { 1_000: 21, 2_000: 15, 10_000: 11, 100_000: 7, 1_000_000: 5 };
const TUFJS_REPS: Record<number, number> = { 1_000: 7, 2_000: 5 };
const CHAIN_VERSIONS = 100;
const CHAIN_REPS = 9;
const BREAKDOWN_AT = 100_000;
const BREAKDOWN_REPS = 5;

interface Row {
  targets: number;
  fileBytes: number;
  fileMiB: number;
  reps: number;
  generateMs: number;
  oursMs: number;
  oursColdMs: number;
  oursSamples: number[];
  floorMs: number;
  floorSamples: number[];
  oursOverFloor: number;
  tufjsMs: number | null;
  tufjsSamples: number[] | null;
  oursOverTufjs: number | null;
  oursMsPer1k: number;
  floorMsPer1k: number;
}

const fmt = (n: number | null, d = 1) => (n === null ? '-' : n.toFixed(d));

function pad(cells: string[], widths: number[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
}

function main(): void {
  const sizes = process.env.BENCH_SIZES ? process.env.BENCH_SIZES.split(',').map(Number) : ALL_SIZES;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'uptane-quorum-bench-'));
  const now = new Date();
  log(`node ${process.version}, ${os.cpus().length} cpus, gc ${hasGc ? 'exposed' : 'NOT exposed (run with --expose-gc)'}, temp ${tmp}`);

  const rootKey = benchKey('ed25519');
  const targetKeys = [benchKey('ed25519'), benchKey('ecdsa'), benchKey('rsa')];

  const rows: Row[] = [];
  let phases: Record<Phase, number> | null = null;
  let breakdownOursMs: number | null = null;

  for (const count of sizes) {
    const dir = path.join(tmp, `targets-${count}`);
    fs.mkdirSync(dir);
    writeTargetsRoot(dir, rootKey, targetKeys, now);
    log(`generating ${count} targets ...`);
    collect();
    let repo: TargetsRepo | null = null;
    const generateMs = timed(() => {
      repo = writeTargets(dir, count, targetKeys, now);
    });
    const r = repo as unknown as TargetsRepo;
    log(`generated ${count} targets: ${(r.fileBytes / 2 ** 20).toFixed(1)} MiB in ${generateMs.toFixed(0)} ms`);
    collect();

    const reps = REPS[count] ?? 5;
    const m = measureInterleaved(reps, { ours: () => void ours(r), floor: () => floor(r) }, `${count}`);
    let tj: Series | null = null;
    if (TUFJS_SIZES.has(count)) {
      tj = measureInterleaved(TUFJS_REPS[count] ?? 5, { tufjs: () => tufjs(r) }, `${count}`).tufjs!;
    }
    const o = m.ours!;
    const f = m.floor!;
    rows.push({
      targets: count,
      fileBytes: r.fileBytes,
      fileMiB: r.fileBytes / 2 ** 20,
      reps,
      generateMs,
      oursMs: o.median,
      oursColdMs: o.cold,
      oursSamples: o.samples,
      floorMs: f.median,
      floorSamples: f.samples,
      oursOverFloor: o.median / f.median,
      tufjsMs: tj ? tj.median : null,
      tufjsSamples: tj ? tj.samples : null,
      oursOverTufjs: tj ? o.median / tj.median : null,
      oursMsPer1k: o.median / (count / 1000),
      floorMsPer1k: f.median / (count / 1000),
    });

    if (count === BREAKDOWN_AT) {
      log(`phase breakdown at ${count} targets (${BREAKDOWN_REPS} reps) ...`);
      phases = breakdown(r, BREAKDOWN_REPS);
      breakdownOursMs = o.median;
    }
    repo = null;
    fs.rmSync(dir, { recursive: true, force: true });
    collect();
  }

  // --- root chain ---
  log(`generating a ${CHAIN_VERSIONS}-version root chain ...`);
  const chainDir = path.join(tmp, 'root-chain');
  fs.mkdirSync(chainDir);
  const chainGenMs = timed(() => writeRootChain(chainDir, CHAIN_VERSIONS, now));
  log(`generated root chain in ${chainGenMs.toFixed(0)} ms`);
  const chain = measureInterleaved(
    CHAIN_REPS,
    {
      chain: () => {
        const input = loadRepository(chainDir); // TOFU from 1.root.json
        const report = verifyRepository(input, { at: new Date() });
        if (!report.ok || report.rootChain.length !== CHAIN_VERSIONS || report.trustedRoot?.version !== 1 || !report.trustedRoot.tofu) {
          throw new Error(`root chain self-check failed: ok=${report.ok} steps=${report.rootChain.length} ${JSON.stringify(report.errors.slice(0, 3))}`);
        }
      },
    },
    'root chain',
  ).chain!;
  const chainSteps = CHAIN_VERSIONS - 1;

  // --- output ---
  const head = ['targets', 'file MiB', 'ours ms', 'floor ms', 'ours/floor', 'tuf-js ms', 'ours/tuf-js', 'ours ms/1k tgt', 'floor ms/1k tgt'];
  const widths = [9, 9, 10, 10, 10, 10, 11, 14, 15];
  const lines: string[] = [];
  lines.push('');
  lines.push(`Verification benchmark: tuf targets.json, 3 signatures (ed25519, ECDSA P-256, RSA-2048-PSS), threshold 3; medians, node ${process.version}`);
  lines.push(pad(head, widths));
  lines.push(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) {
    lines.push(
      pad(
        [
          String(row.targets),
          fmt(row.fileMiB, 2),
          fmt(row.oursMs),
          fmt(row.floorMs),
          fmt(row.oursOverFloor, 2) + 'x',
          fmt(row.tufjsMs),
          row.oursOverTufjs === null ? '-' : fmt(row.oursOverTufjs, 3) + 'x',
          fmt(row.oursMsPer1k, 3),
          fmt(row.floorMsPer1k, 3),
        ],
        widths,
      ),
    );
  }
  lines.push('');
  const at = (n: number) => rows.find((r) => r.targets === n);
  const r10k = at(10_000);
  const r100k = at(100_000);
  const r1m = at(1_000_000);
  let growth: number | null = null;
  if (r10k) {
    const per = [r10k, r100k, r1m].filter((x): x is Row => !!x).map((x) => `${x.targets}: ${fmt(x.oursMsPer1k, 3)} ms`);
    lines.push(`Per-target growth (ours ms per 1k targets): ${per.join(', ')}`);
    const last = r1m ?? r100k;
    if (last) {
      growth = last.oursMsPer1k / r10k.oursMsPer1k;
      lines.push(`  ${last.targets} vs 10000 per-1k ratio: ${fmt(growth, 2)} (1.00 = perfectly linear) -> ${growth <= 1.25 ? 'linear (within 25%)' : 'SUPERLINEAR'}`);
    }
  }
  if (r100k) {
    lines.push(`Goal ours <= 2.0x floor at 100000 targets: ${fmt(r100k.oursOverFloor, 2)}x -> ${r100k.oursOverFloor <= 2.0 ? 'MET' : 'NOT MET'}`);
  }
  lines.push('');
  lines.push(
    `Root chain: ${CHAIN_VERSIONS} versions (${chainSteps} rotations, 2-of-3 root keys, one key rotated per version, each signed by 2 old + 2 new keys via 3 signatures), loadRepository + verifyRepository, TOFU from 1.root.json`,
  );
  lines.push(`  median ${fmt(chain.median)} ms over ${CHAIN_REPS} reps (cold ${fmt(chain.cold)} ms), ${fmt(chain.median / chainSteps, 3)} ms per rotation step, ${fmt(chain.median / CHAIN_VERSIONS, 3)} ms per root file`);
  if (phases) {
    lines.push('');
    const total = PHASES.reduce((s, p) => s + phases![p], 0);
    lines.push(`Where OUR time goes at ${BREAKDOWN_AT} targets (manual phase timing, median of ${BREAKDOWN_REPS}; ours measured ${fmt(breakdownOursMs)} ms):`);
    for (const p of PHASES) lines.push(`  ${p.padEnd(42)} ${fmt(phases[p]).padStart(9)} ms  ${fmt((100 * phases[p]) / total).padStart(5)}%`);
    lines.push(`  ${'sum of phases'.padEnd(42)} ${fmt(total).padStart(9)} ms`);
  }
  lines.push('');
  process.stdout.write(lines.join('\n') + '\n');

  const json = {
    node: process.version,
    cpus: os.cpus().length,
    gcExposed: hasGc,
    rows,
    growth: {
      oursMsPer1k: Object.fromEntries(rows.map((r) => [r.targets, r.oursMsPer1k])),
      ratioLargestVs10k: growth,
    },
    goals: {
      oursOverFloorAt100k: r100k ? r100k.oursOverFloor : null,
      oursOverFloorAt100kMet: r100k ? r100k.oursOverFloor <= 2.0 : null,
      linear10kTo1M: growth === null ? null : growth <= 1.25,
    },
    rootChain: {
      versions: CHAIN_VERSIONS,
      steps: chainSteps,
      reps: CHAIN_REPS,
      medianMs: chain.median,
      coldMs: chain.cold,
      perStepMs: chain.median / chainSteps,
      samples: chain.samples,
      generateMs: chainGenMs,
    },
    breakdownAt: phases ? BREAKDOWN_AT : null,
    breakdownMs: phases,
  };
  process.stdout.write('BENCH_JSON ' + JSON.stringify(json) + '\n');

  if (process.env.BENCH_KEEP) log(`kept ${tmp}`);
  else fs.rmSync(tmp, { recursive: true, force: true });
}

main();
