/**
 * Timing helpers, the three measured operations (ours, floor, tuf-js) shared by the verification
 * benchmark and the profiler script, and the helpers the FROST and round benchmarks share (the
 * plain Ed25519 baseline, tables, a child process's CPU time).
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Metadata, MetadataKind } from '@tufjs/models';
import { readInput } from '../../protocol/repository.js';
import { sha256hex, verifySignature } from '../../protocol/keys.js';
import { verifyRepository, type VerifyReport } from '../../protocol/verify.js';
import type { TargetsRepo } from './fixtures.js';

const gcFn = (globalThis as { gc?: () => void }).gc;
export const hasGc = typeof gcFn === 'function';

export function collect(): void {
  if (gcFn) {
    gcFn();
    gcFn();
  }
}

export function log(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

/** A non-negative integer from the environment (bench sizes and repetitions), or the default. */
export function envInt(name: string, dflt: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0)
    throw new Error(`${name} must be a non-negative integer, not ${JSON.stringify(v)}`);
  return n;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function timed(fn: () => void): number {
  return timedCpu(fn).wall;
}

/** Wall time and process CPU time (user + system, all threads incl. GC helpers), ms. */
export function timedCpu(fn: () => void): { wall: number; cpu: number } {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  fn();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { wall, cpu: (c.user + c.system) / 1000 };
}

export function check(cond: boolean, what: string): void {
  if (!cond) throw new Error(`benchmark self-check failed: ${what}`);
}

/** The result of `fn` and its wall time, ms. */
export function time<T>(fn: () => T): [T, number] {
  const t0 = performance.now();
  const r = fn();
  return [r, performance.now() - t0];
}

export async function timeAsync<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const r = await fn();
  return [r, performance.now() - t0];
}

/** The q-quantile (nearest rank) of `xs`, or null when empty. */
export function quantile(xs: number[], q: number): number | null {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

export interface Dist {
  n: number;
  p50: number | null;
  p99: number | null;
  max: number | null;
  mean: number | null;
}

export function dist(xs: number[]): Dist {
  return {
    n: xs.length,
    p50: quantile(xs, 0.5),
    p99: quantile(xs, 0.99),
    max: xs.length ? Math.max(...xs) : null,
    mean: xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null,
  };
}

export const fmt = (n: number | null | undefined, d = 2) =>
  n === null || n === undefined || Number.isNaN(n) ? '-' : n.toFixed(d);

/** Rows as aligned text columns (first column left, the rest right), a rule under the header row. */
export function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const out = rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '));
  out.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
  return out;
}

let clkTck = 0;

/** User + system CPU time of a process, ms (from /proc/<pid>/stat). */
export function cpuMsOf(pid: number): number {
  if (!clkTck) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / clkTck; // utime, stime are fields 14 and 15
}

/**
 * BASELINE of the FROST benchmarks: one plain Ed25519 signature (node:crypto) over `message` with
 * each of `keys`, then the verification of each. Returns ms per such set, averaged over `inner`
 * sets (one set of three is ~0.3 ms: too short to time alone).
 */
export function plainSignVerifyMs(
  message: Uint8Array,
  keys: readonly crypto.KeyPairKeyObjectResult[],
  inner: number,
): number {
  const t0 = performance.now();
  for (let i = 0; i < inner; i++) {
    const sigs = keys.map((k) => crypto.sign(null, message, k.privateKey));
    let ok = 0;
    sigs.forEach((s, j) => (ok += crypto.verify(null, message, keys[j]!.publicKey, s) ? 1 : 0));
    check(ok === keys.length, 'baseline signatures verify');
  }
  return (performance.now() - t0) / inner;
}

/** OURS: read root.json and targets.json from disk, then verifyRepository({trusted root, targets}). */
export function ours(repo: TargetsRepo): VerifyReport {
  const trustedRoot = readInput(repo.rootPath);
  const targets = readInput(repo.targetsPath);
  const report = verifyRepository({ trustedRoot, roots: new Map(), targets }, { at: new Date() });
  const t = report.roles.targets;
  check(report.ok, `report.ok is false: ${JSON.stringify(report.errors.slice(0, 3))}`);
  check(!!t && t.signedBy.length === 3 && t.threshold === 3, `targets role report: ${JSON.stringify(t)}`);
  check(t!.targets === repo.count, `targets count ${t!.targets} != ${repo.count}`);
  return report;
}

/**
 * FLOOR: read bytes + JSON.parse + one sha256 over the file bytes + the 3 signature verifications
 * (node:crypto via verifySignature) over the canonical bytes computed at generation time.
 */
export function floor(repo: TargetsRepo): void {
  const bytes = fs.readFileSync(repo.targetsPath);
  const json = JSON.parse(bytes.toString('utf8')) as {
    signed: { _type: string };
    signatures: { keyid: string; sig: string }[];
  };
  const digest = sha256hex(bytes);
  let valid = 0;
  for (let i = 0; i < repo.signatures.length; i++) {
    const s = json.signatures[i]!;
    const { key } = repo.signatures[i]!;
    if (s.keyid === key.keyid && verifySignature(key.publicKey, repo.canonical, Buffer.from(s.sig, 'hex'))) valid++;
  }
  check(json.signed._type === 'targets' && digest.length === 64 && valid === 3, `floor: ${valid} valid signatures`);
}

/**
 * TUF-JS: read + JSON.parse both files, Metadata.fromJSON for root and targets, then
 * root.verifyDelegate('targets', targets) (throws when the threshold of 3 is not met).
 */
export function tufjs(repo: TargetsRepo): void {
  const root = Metadata.fromJSON(MetadataKind.Root, JSON.parse(fs.readFileSync(repo.rootPath, 'utf8')));
  const targets = Metadata.fromJSON(MetadataKind.Targets, JSON.parse(fs.readFileSync(repo.targetsPath, 'utf8')));
  root.verifyDelegate('targets', targets);
  check(Object.keys(targets.signed.targets).length === repo.count, 'tuf-js target count');
}

export interface Series {
  /** Median of the measured repetitions, ms. */
  median: number;
  /** The unmeasured first (cold) run, ms. */
  cold: number;
  samples: number[];
  /**
   * Median process CPU time (user + system, all threads) of the same runs, ms: less sensitive to other load on the
   * machine.
   */
  cpuMedian: number;
  cpuSamples: number[];
}

/** Run each operation once cold, then `reps` times interleaved (gc before every run); medians. */
export function measureInterleaved(
  reps: number,
  ops: Record<string, () => void>,
  label: string,
): Record<string, Series> {
  const names = Object.keys(ops);
  const out: Record<string, Series> = {};
  for (const n of names) {
    collect();
    const cold = timed(ops[n]!);
    out[n] = { median: 0, cold, samples: [], cpuMedian: 0, cpuSamples: [] };
    log(`${label} ${n}: cold ${cold.toFixed(1)} ms`);
  }
  for (let r = 0; r < reps; r++) {
    for (const n of names) {
      collect();
      const t = timedCpu(ops[n]!);
      out[n]!.samples.push(t.wall);
      out[n]!.cpuSamples.push(t.cpu);
    }
    log(
      `${label} rep ${r + 1}/${reps}: ` +
        `${names.map((n) => `${n} ${out[n]!.samples[r]!.toFixed(1)} ms (cpu ${out[n]!.cpuSamples[r]!.toFixed(0)})`).join(', ')}`,
    );
  }
  for (const n of names) {
    out[n]!.median = median(out[n]!.samples);
    out[n]!.cpuMedian = median(out[n]!.cpuSamples);
  }
  return out;
}

/** The commit benchmarked, for the report (null outside a git checkout). */
export function gitHead(): string | null {
  try {
    const head = execFileSync('git', ['rev-parse', 'HEAD'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'protocol', 'coordinator', 'signer-client'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    return dirty ? `${head} (with uncommitted changes)` : head;
  } catch {
    return null;
  }
}
