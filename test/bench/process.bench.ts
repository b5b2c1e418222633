/**
 * Whole-process verification benchmark (plain Node script, part of `npm run bench`): `quorum
 * verify` as a user runs it in CI, a fresh process each time, against a floor process
 * (floor-process.ts) that reads root.json and targets.json, parses both, hashes targets.json and
 * checks its 3 signatures (ed25519, ECDSA P-256, RSA-2048) over canonical bytes computed
 * beforehand. The two commands alternate run by run (which goes first alternates too); each pair
 * gives a ratio, and the median of the paired ratios is reported with the median times.
 *
 * Cases: start-up (10 targets); the commands as shipped (dist/bin, one esbuild bundle each, with
 * lazily loaded chunks) against the same commands as the transpiled module tree (dist/coordinator/cli.js,
 * dist/signer-client/cli.js), for --help and a 10-target verify; 10,000 and 100,000 targets in both
 * key orders (sorted, as TUF tools write; insertion order, unsorted), and with
 * BENCH_PROCESS_LARGE=1 also 1,000,000 targets (growth per target against 10,000) and 1,000,000
 * targets in 1,024 hash bins (TAP 15, bins signed by one ed25519 key as RSTUF's online key signs
 * them) against the same targets in one file.
 *
 * Environment: BENCH_PROCESS_REPS (default 11), BENCH_PROCESS_LARGE=1, BENCH_KEEP=1, and
 * BENCH_PROCESS_SIZES=10000,100000 / BENCH_PROCESS_ORDERS=sorted,insertion to run a subset.
 * Output: a table on stdout and a final `BENCH_JSON {...}` line.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { canonicalize } from '../../protocol/canonical.js';
import { binName, binOf, type SuccinctRoles } from '../../protocol/delegations.js';
import { signBytes } from '../../protocol/keys.js';
import { buildTargets, daysFrom } from '../../protocol/metadata/build.js';
import {
  benchKey,
  writeTargets,
  writeTargetsRoot,
  type BenchKey,
  type KeyOrder,
  type TargetsRepo,
} from './fixtures.js';
import { envInt, gitHead, log, median } from './measure.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const QUORUM = path.resolve(HERE, '../../bin/quorum.js');
const SIGNER = path.resolve(HERE, '../../bin/quorum-signer.js');
/** The same commands as tsc writes them, one module file each (what the package's bin ran before the bundles). */
const QUORUM_TREE = path.resolve(HERE, '../../coordinator/cli.js');
const SIGNER_TREE = path.resolve(HERE, '../../signer-client/cli.js');
const FLOOR = path.join(HERE, 'floor-process.js');
const GOAL = 1.5;
const GROWTH_GOAL = 1.25;

interface Cmd {
  label: string;
  argv: string[];
}

interface Pair {
  case: string;
  a: string;
  b: string;
  reps: number;
  aWallMs: number;
  bWallMs: number;
  aCpuMs: number;
  bCpuMs: number;
  /** Median of the paired wall-time ratios a/b. */
  ratio: number;
  ratioMin: number;
  ratioMax: number;
  cpuRatio: number;
  goal: number | null;
}

/** CPU time of reaped children (user + system), ms, from /proc/self/stat (10 ms ticks). */
function childCpuMs(): number {
  try {
    const s = fs.readFileSync('/proc/self/stat', 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(f[13]) + Number(f[14])) * 10;
  } catch {
    return NaN;
  }
}

function run(cmd: Cmd): { wall: number; cpu: number } {
  const c0 = childCpuMs();
  const t0 = performance.now();
  const r = spawnSync(process.execPath, cmd.argv, { stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 64 << 20 });
  const wall = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${cmd.label} exited ${r.status}: ${String(r.stderr).slice(0, 400)}`);
  return { wall, cpu: childCpuMs() - c0 };
}

function paired(name: string, a: Cmd, b: Cmd, reps: number, goal: number | null): Pair {
  run(a); // warm the page cache and the disk
  run(b);
  const ra: { wall: number; cpu: number }[] = [];
  const rb: { wall: number; cpu: number }[] = [];
  for (let i = 0; i < reps; i++) {
    if (i % 2 === 0) {
      ra.push(run(a));
      rb.push(run(b));
    } else {
      rb.push(run(b));
      ra.push(run(a));
    }
  }
  const ratios = ra.map((x, i) => x.wall / rb[i]!.wall);
  const cpuRatios = ra.map((x, i) => x.cpu / Math.max(10, rb[i]!.cpu));
  const p: Pair = {
    case: name,
    a: a.label,
    b: b.label,
    reps,
    aWallMs: median(ra.map((x) => x.wall)),
    bWallMs: median(rb.map((x) => x.wall)),
    aCpuMs: median(ra.map((x) => x.cpu)),
    bCpuMs: median(rb.map((x) => x.cpu)),
    ratio: median(ratios),
    ratioMin: Math.min(...ratios),
    ratioMax: Math.max(...ratios),
    cpuRatio: median(cpuRatios),
    goal,
  };
  log(
    `${name}: ${a.label} ${p.aWallMs.toFixed(0)} ms, ${b.label} ${p.bWallMs.toFixed(0)} ms, paired ratio ` +
      `${p.ratio.toFixed(2)} (${p.ratioMin.toFixed(2)}-${p.ratioMax.toFixed(2)}), cpu ratio ${p.cpuRatio.toFixed(2)}`,
  );
  return p;
}

/** The floor's inputs next to the repository: keys as PEM, canonical bytes of `signed`. */
function writeFloor(repo: TargetsRepo): string {
  const file = path.join(repo.dir, 'floor.json');
  const keys = repo.signatures.map(({ key }) => ({
    keyid: key.keyid,
    kind: key.kind,
    pem: key.publicKey.keyObject.export({ type: 'spki', format: 'pem' }).toString(),
  }));
  fs.writeFileSync(file, JSON.stringify({ keys }));
  fs.writeFileSync(file.replace(/\.json$/, '.bin'), repo.canonical);
  return file;
}

const quorum = (dir: string): Cmd => ({
  label: 'quorum verify',
  argv: [QUORUM, 'verify', dir, '--root', path.join(dir, 'root.json')],
});
const floorCmd = (repo: TargetsRepo): Cmd => ({
  label: 'floor',
  argv: [FLOOR, repo.rootPath, repo.targetsPath, writeFloor(repo)],
});

/**
 * The targets of writeTargets(count) in 2^bits hash bins: targets.json (signed by the three
 * target keys) delegates everything to bins signed by `binKey`.
 */
function writeBinned(dir: string, single: string, bits: number, keys: BenchKey[], binKey: BenchKey, now: Date): void {
  const all = (JSON.parse(fs.readFileSync(single, 'utf8')) as { signed: { targets: Record<string, unknown> } }).signed
    .targets;
  const s: SuccinctRoles = { keyids: [binKey.keyid], threshold: 1, bitLength: bits, namePrefix: 'bin' };
  const bins: Record<string, unknown>[] = Array.from({ length: 2 ** bits }, () => ({}));
  for (const p of Object.keys(all).sort()) bins[binOf(s, p)]![p] = all[p];
  const write = (name: string, signed: Record<string, unknown>, signers: BenchKey[]) => {
    const bytes = canonicalize(signed, 'tuf');
    const signatures = signers.map((k) => ({ keyid: k.keyid, sig: signBytes(k.privateKey, bytes).toString('hex') }));
    fs.writeFileSync(path.join(dir, name), JSON.stringify({ signatures, signed: JSON.parse(bytes.toString()) }));
  };
  const top = buildTargets('tuf', 1, daysFrom(now, 365), {});
  top.delegations = {
    keys: { [binKey.keyid]: JSON.parse(canonicalize(publicMetadataKey(binKey), 'tuf').toString()) },
    succinct_roles: { keyids: [binKey.keyid], threshold: 1, bit_length: bits, name_prefix: 'bin' },
  };
  write('targets.json', top, keys);
  bins.forEach((targets, i) =>
    write(`${binName(s, i)}.json`, buildTargets('tuf', 1, daysFrom(now, 365), targets as never), [binKey]),
  );
}

function publicMetadataKey(k: BenchKey): Record<string, unknown> {
  return { keytype: 'ed25519', scheme: 'ed25519', keyval: { public: k.publicKey.spki.subarray(12).toString('hex') } };
}

function main(): void {
  const reps = envInt('BENCH_PROCESS_REPS', 11);
  const large = process.env.BENCH_PROCESS_LARGE === '1';
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'uptane-quorum-process-bench-'));
  const now = new Date();
  log(
    `node ${process.version}, ${os.cpus().length} cpus, load ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}, commit ${gitHead()}`,
  );
  const rootKey = benchKey('ed25519');
  const keys = [benchKey('ed25519'), benchKey('ecdsa'), benchKey('rsa')];
  const pairs: Pair[] = [];
  const repoOf = (count: number, order: KeyOrder): TargetsRepo => {
    const dir = path.join(tmp, `${order}-${count}`);
    fs.mkdirSync(dir);
    writeTargetsRoot(dir, rootKey, keys, now);
    log(`generating ${count} targets (${order}) ...`);
    return writeTargets(dir, count, keys, now, order);
  };
  const tiny = repoOf(10, 'sorted');
  pairs.push(paired('start-up, 10 targets', quorum(tiny.dir), floorCmd(tiny), reps, GOAL));
  // Every test of test/integration and test/docs starts these commands as processes, hundreds of times.
  const bundled = (label: string, bin: string, tree: string, args: string[]) =>
    pairs.push(
      paired(
        label,
        { label: 'bundle', argv: [bin, ...args] },
        { label: 'module tree', argv: [tree, ...args] },
        reps,
        null,
      ),
    );
  bundled('quorum --help', QUORUM, QUORUM_TREE, ['--help']);
  bundled('quorum-signer --help', SIGNER, SIGNER_TREE, ['--help']);
  bundled('quorum verify, 10 targets', QUORUM, QUORUM_TREE, [
    'verify',
    tiny.dir,
    '--root',
    path.join(tiny.dir, 'root.json'),
  ]);
  const perTarget: Record<string, number> = {};
  const perTargetCpu: Record<string, number> = {}; // less sensitive to other load than wall time
  const sizes = process.env.BENCH_PROCESS_SIZES
    ? process.env.BENCH_PROCESS_SIZES.split(',').map(Number)
    : large
      ? [10_000, 100_000, 1_000_000]
      : [10_000, 100_000];
  const orders = (process.env.BENCH_PROCESS_ORDERS?.split(',') ?? ['sorted', 'insertion']) as KeyOrder[];
  for (const order of orders) {
    for (const n of sizes) {
      const repo = repoOf(n, order);
      const p = paired(
        `${n} targets, ${order} keys`,
        quorum(repo.dir),
        floorCmd(repo),
        n >= 1_000_000 ? Math.min(reps, 5) : reps,
        n >= 100_000 ? GOAL : null,
      );
      pairs.push(p);
      perTarget[`${order} ${n}`] = (p.aWallMs - pairs[0]!.aWallMs) / n;
      perTargetCpu[`${order} ${n}`] = (p.aCpuMs - pairs[0]!.aCpuMs) / n;
      if (large && n === 1_000_000 && order === 'sorted') {
        const binned = path.join(tmp, 'binned-1000000');
        fs.mkdirSync(binned);
        fs.copyFileSync(repo.rootPath, path.join(binned, 'root.json'));
        log('writing the same targets in 1,024 hash bins ...');
        writeBinned(binned, repo.targetsPath, 10, keys, benchKey('ed25519'), now);
        pairs.push(
          paired(
            '1,000,000 targets: 1,024 hash bins vs one file',
            quorum(binned),
            quorum(repo.dir),
            Math.min(reps, 5),
            GOAL,
          ),
        );
        pairs[pairs.length - 1]!.b = 'quorum verify, one file';
      }
      if (!process.env.BENCH_KEEP) fs.rmSync(repo.dir, { recursive: true, force: true });
    }
  }
  const growth: Record<string, number> = {};
  const growthCpu: Record<string, number> = {};
  for (const order of ['sorted', 'insertion'])
    if (perTarget[`${order} 1000000`] !== undefined && perTarget[`${order} 10000`] !== undefined) {
      growth[order] = perTarget[`${order} 1000000`]! / perTarget[`${order} 10000`]!;
      growthCpu[order] = perTargetCpu[`${order} 1000000`]! / perTargetCpu[`${order} 10000`]!;
    }

  const w = [48, 22, 9, 9, 9, 16, 9, 6];
  const row = (c: string[]) => c.map((x, i) => (i < 2 ? x.padEnd(w[i]!) : x.padStart(w[i]!))).join('  ');
  console.log(row(['case', 'against', 'ours ms', 'base ms', 'ratio', 'range', 'cpu', 'goal']));
  for (const p of pairs)
    console.log(
      row([
        p.case,
        p.b,
        p.aWallMs.toFixed(0),
        p.bWallMs.toFixed(0),
        p.ratio.toFixed(2),
        `${p.ratioMin.toFixed(2)}-${p.ratioMax.toFixed(2)}`,
        p.cpuRatio.toFixed(2),
        p.goal === null ? '' : p.ratio <= p.goal ? 'met' : 'MISSED',
      ]),
    );
  for (const [order, g] of Object.entries(growth))
    console.log(
      `per-target wall time (start-up taken off), 1,000,000 vs 10,000, ${order}: ${g.toFixed(2)} (goal <= ${GROWTH_GOAL})`,
    );
  console.log(
    'BENCH_JSON ' + JSON.stringify({ bench: 'process', commit: gitHead(), node: process.version, pairs, growth }),
  );
  if (!process.env.BENCH_KEEP) fs.rmSync(tmp, { recursive: true, force: true });
}

main();
