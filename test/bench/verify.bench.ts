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
 * Every size is written twice (see fixtures.ts KeyOrder): `sorted` keys, as TUF tools write
 * files, and `insertion` order, JSON.stringify of the object as built (unsorted keys). Same
 * content and signatures; only the key order of the file differs.
 *
 * Progress goes to stderr; the table and a final `BENCH_JSON {...}` line go to stdout.
 * Environment: BENCH_SIZES=1000,10000 and BENCH_ORDERS=sorted,insertion to run a subset,
 * BENCH_KEEP=1 to keep the temp folder.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadRepository } from '../../protocol/repository.js';
import { verifyRepository } from '../../protocol/verify.js';
import { breakdown, PHASES, type Phase } from './breakdown.js';
import {
  benchKey,
  writeRootChain,
  writeTargets,
  writeTargetsRoot,
  type KeyOrder,
  type TargetsRepo,
} from './fixtures.js';
import { collect, floor, gitHead, hasGc, log, measureInterleaved, ours, timed, tufjs, type Series } from './measure.js';

const ALL_SIZES = [1_000, 2_000, 10_000, 100_000, 1_000_000];
const ALL_ORDERS: KeyOrder[] = ['sorted', 'insertion'];
const TUFJS_SIZES = new Set([1_000, 2_000]); // never larger: tuf-js grows quadratically
const REPS: Record<number, number> = { 1_000: 21, 2_000: 15, 10_000: 11, 100_000: 7, 1_000_000: 5 };
const TUFJS_REPS: Record<number, number> = { 1_000: 7, 2_000: 5 };
const CHAIN_VERSIONS = 100;
const CHAIN_REPS = 9;
const BREAKDOWN_AT = 100_000;
const BREAKDOWN_REPS = 5;
const GOAL_RATIO = 2.0;
const LINEAR_TOLERANCE = 1.25; // per-1k-target cost at the largest size within 25% of 10k's

interface Row {
  order: KeyOrder;
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
  /** Process CPU time medians (user + system, all threads), ms. */
  oursCpuMs: number;
  floorCpuMs: number;
  oursOverFloorCpu: number;
  tufjsMs: number | null;
  tufjsSamples: number[] | null;
  oursOverTufjs: number | null;
  oursMsPer1k: number;
  floorMsPer1k: number;
}

interface OrderSummary {
  order: KeyOrder;
  oursMsPer1k: Record<number, number>;
  growthLargestVs10k: number | null;
  /** The same ratio for the floor: how much of the growth is V8/JSON.parse rather than ours. */
  floorGrowthLargestVs10k: number | null;
  /** The same ratio on process CPU time (ours), less sensitive to other load. */
  cpuGrowthLargestVs10k: number | null;
  largest: number | null;
  linear: boolean | null;
  oursOverFloorAt100k: number | null;
  goalMet: boolean | null;
  breakdownMs: Record<Phase, number> | null;
  breakdownOursMs: number | null;
}

const fmt = (n: number | null, d = 1) => (n === null ? '-' : n.toFixed(d));

function pad(cells: string[], widths: number[]): string {
  return cells.map((c, i) => (i <= 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
}

function main(): void {
  const sizes = process.env.BENCH_SIZES ? process.env.BENCH_SIZES.split(',').map(Number) : ALL_SIZES;
  const orders = process.env.BENCH_ORDERS ? (process.env.BENCH_ORDERS.split(',') as KeyOrder[]) : ALL_ORDERS;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'uptane-quorum-bench-'));
  const now = new Date();
  const commit = gitHead();
  const load = os.loadavg();
  log(
    `node ${process.version}, ${os.cpus().length} cpus, load ${load.map((x) => x.toFixed(2)).join(' ')}, gc ` +
      `${hasGc ? 'exposed' : 'NOT exposed (run with --expose-gc)'}, commit ${commit}, temp ${tmp}`,
  );

  const rootKey = benchKey('ed25519');
  const targetKeys = [benchKey('ed25519'), benchKey('ecdsa'), benchKey('rsa')];

  const rows: Row[] = [];
  const summaries: OrderSummary[] = [];

  for (const order of orders) {
    let phases: Record<Phase, number> | null = null;
    let breakdownOursMs: number | null = null;
    for (const count of sizes) {
      const dir = path.join(tmp, `targets-${order}-${count}`);
      fs.mkdirSync(dir);
      writeTargetsRoot(dir, rootKey, targetKeys, now);
      log(`generating ${count} targets (${order} keys) ...`);
      collect();
      let repo: TargetsRepo | null = null;
      const generateMs = timed(() => {
        repo = writeTargets(dir, count, targetKeys, now, order);
      });
      const r = repo as unknown as TargetsRepo;
      log(
        `generated ${count} targets (${order}): ${(r.fileBytes / 2 ** 20).toFixed(1)} MiB in ` +
          `${generateMs.toFixed(0)} ms`,
      );
      collect();

      const label = `${order} ${count}`;
      const reps = REPS[count] ?? 5;
      const m = measureInterleaved(reps, { ours: () => void ours(r), floor: () => floor(r) }, label);
      let tj: Series | null = null;
      if (TUFJS_SIZES.has(count)) {
        tj = measureInterleaved(TUFJS_REPS[count] ?? 5, { tufjs: () => tufjs(r) }, label).tufjs!;
      }
      const o = m.ours!;
      const f = m.floor!;
      rows.push({
        order,
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
        oursCpuMs: o.cpuMedian,
        floorCpuMs: f.cpuMedian,
        oursOverFloorCpu: o.cpuMedian / f.cpuMedian,
        tufjsMs: tj ? tj.median : null,
        tufjsSamples: tj ? tj.samples : null,
        oursOverTufjs: tj ? o.median / tj.median : null,
        oursMsPer1k: o.median / (count / 1000),
        floorMsPer1k: f.median / (count / 1000),
      });

      if (count === BREAKDOWN_AT) {
        log(`phase breakdown at ${count} targets (${order}, ${BREAKDOWN_REPS} reps) ...`);
        phases = breakdown(r, BREAKDOWN_REPS);
        breakdownOursMs = o.median;
      }
      // eslint-disable-next-line no-useless-assignment -- drop the last reference so collect() frees the repository
      repo = null;
      fs.rmSync(dir, { recursive: true, force: true });
      collect();
    }
    const mine = rows.filter((x) => x.order === order);
    const at = (n: number) => mine.find((x) => x.targets === n);
    const r10k = at(10_000);
    const last = at(1_000_000) ?? at(100_000);
    const growth = r10k && last ? last.oursMsPer1k / r10k.oursMsPer1k : null;
    const r100k = at(100_000);
    summaries.push({
      order,
      oursMsPer1k: Object.fromEntries(mine.map((x) => [x.targets, x.oursMsPer1k])),
      growthLargestVs10k: growth,
      floorGrowthLargestVs10k: r10k && last ? last.floorMsPer1k / r10k.floorMsPer1k : null,
      cpuGrowthLargestVs10k: r10k && last ? last.oursCpuMs / last.targets / (r10k.oursCpuMs / r10k.targets) : null,
      largest: last ? last.targets : null,
      linear: growth === null ? null : growth <= LINEAR_TOLERANCE,
      oursOverFloorAt100k: r100k ? r100k.oursOverFloor : null,
      goalMet: r100k ? r100k.oursOverFloor <= GOAL_RATIO : null,
      breakdownMs: phases,
      breakdownOursMs,
    });
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
        if (
          !report.ok ||
          report.rootChain.length !== CHAIN_VERSIONS ||
          report.trustedRoot?.version !== 1 ||
          !report.trustedRoot.tofu
        ) {
          throw new Error(
            `root chain self-check failed: ok=${report.ok} steps=${report.rootChain.length} ` +
              `${JSON.stringify(report.errors.slice(0, 3))}`,
          );
        }
      },
    },
    'root chain',
  ).chain!;
  const chainSteps = CHAIN_VERSIONS - 1;
  const loadAfter = os.loadavg();

  // --- output ---
  const head = [
    'keys',
    'targets',
    'file MiB',
    'ours ms',
    'floor ms',
    'ours/floor',
    'tuf-js ms',
    'ours/tuf-js',
    'ours ms/1k tgt',
    'floor ms/1k tgt',
  ];
  const widths = [9, 9, 9, 10, 10, 10, 10, 11, 14, 15];
  const lines: string[] = [];
  lines.push('');
  lines.push(
    'Verification benchmark: tuf targets.json, 3 signatures (ed25519, ECDSA P-256, RSA-2048-PSS), threshold 3; ' +
      `medians; node ${process.version}; commit ${commit}`,
  );
  lines.push(
    `Load average at start ${load.map((x) => x.toFixed(2)).join(' ')}, at end ` +
      `${loadAfter.map((x) => x.toFixed(2)).join(' ')} (${os.cpus().length} cpus)`,
  );
  lines.push(pad(head, widths));
  lines.push(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) {
    lines.push(
      pad(
        [
          row.order,
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
  lines.push(
    'Process CPU time (user + system, all threads incl. GC helpers; medians of the same runs; less sensitive ' +
      'to other load):',
  );
  const cHead = ['keys', 'targets', 'ours cpu ms', 'floor cpu ms', 'ours/floor', 'ours cpu ms/1k'];
  const cWidths = [9, 9, 12, 12, 10, 14];
  lines.push(pad(cHead, cWidths));
  for (const row of rows) {
    lines.push(
      pad(
        [
          row.order,
          String(row.targets),
          fmt(row.oursCpuMs),
          fmt(row.floorCpuMs),
          fmt(row.oursOverFloorCpu, 2) + 'x',
          fmt(row.oursCpuMs / (row.targets / 1000), 3),
        ],
        cWidths,
      ),
    );
  }
  for (const s of summaries) {
    lines.push('');
    lines.push(`[${s.order} keys]`);
    const per = Object.entries(s.oursMsPer1k)
      .filter(([n]) => Number(n) >= 10_000)
      .map(([n, v]) => `${n}: ${fmt(v, 3)} ms`);
    if (per.length) lines.push(`  Per-target growth (ours ms per 1k targets): ${per.join(', ')}`);
    if (s.growthLargestVs10k !== null) {
      lines.push(
        `  ${s.largest} vs 10000 per-1k ratio: ${fmt(s.growthLargestVs10k, 2)} (1.00 = linear) -> ` +
          `${s.linear ? `linear (within ${Math.round((LINEAR_TOLERANCE - 1) * 100)}%)` : 'SUPERLINEAR'}; floor's ` +
          `own ratio ${fmt(s.floorGrowthLargestVs10k, 2)}; ours on CPU time ${fmt(s.cpuGrowthLargestVs10k, 2)}`,
      );
    }
    if (s.oursOverFloorAt100k !== null) {
      const cpu = rows.find((x) => x.order === s.order && x.targets === 100_000)?.oursOverFloorCpu ?? null;
      lines.push(
        `  Goal ours <= ${GOAL_RATIO.toFixed(1)}x floor at 100000 targets: ${fmt(s.oursOverFloorAt100k, 2)}x ` +
          `-> ${s.goalMet ? 'MET' : 'NOT MET'} (on CPU time ${fmt(cpu, 2)}x)`,
      );
    }
    const phases = s.breakdownMs;
    if (phases) {
      const total = PHASES.reduce((sum, p) => sum + phases[p], 0);
      lines.push(
        `  Where OUR time goes at ${BREAKDOWN_AT} targets (manual phase timing, median of ${BREAKDOWN_REPS}; ` +
          `ours measured ${fmt(s.breakdownOursMs)} ms):`,
      );
      for (const p of PHASES)
        lines.push(
          `    ${p.padEnd(46)} ${fmt(phases[p]).padStart(9)} ms  ${fmt((100 * phases[p]) / total).padStart(5)}%`,
        );
      lines.push(`    ${'sum of phases'.padEnd(46)} ${fmt(total).padStart(9)} ms`);
    }
  }
  lines.push('');
  lines.push(
    `Root chain: ${CHAIN_VERSIONS} versions (${chainSteps} rotations; 2-of-3 root keys, one key replaced per ` +
      'version; each version signed by the replaced key, one kept key and the new key, i.e. exactly 2 old + 2 ' +
      'new), loadRepository + verifyRepository, TOFU from 1.root.json',
  );
  lines.push(
    `  median ${fmt(chain.median)} ms over ${CHAIN_REPS} reps (cold ${fmt(chain.cold)} ms), ` +
      `${fmt(chain.median / chainSteps, 3)} ms per rotation step, ${fmt(chain.median / CHAIN_VERSIONS, 3)} ms ` +
      'per root file',
  );
  lines.push('');
  process.stdout.write(lines.join('\n') + '\n');

  const json = {
    node: process.version,
    cpus: os.cpus().length,
    loadavgStart: load,
    loadavgEnd: loadAfter,
    commit,
    gcExposed: hasGc,
    goalRatio: GOAL_RATIO,
    linearTolerance: LINEAR_TOLERANCE,
    rows,
    summaries,
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
  };
  process.stdout.write('BENCH_JSON ' + JSON.stringify(json) + '\n');

  if (process.env.BENCH_KEEP) log(`kept ${tmp}`);
  else fs.rmSync(tmp, { recursive: true, force: true });
}

main();
