/**
 * Timing helpers and the three measured operations (ours, floor, tuf-js) shared by the benchmark
 * and the profiler script.
 */
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
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, not ${JSON.stringify(v)}`);
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

function check(cond: boolean, what: string): void {
  if (!cond) throw new Error(`benchmark self-check failed: ${what}`);
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
  const json = JSON.parse(bytes.toString('utf8')) as { signed: { _type: string }; signatures: { keyid: string; sig: string }[] };
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
  /** Median process CPU time (user + system, all threads) of the same runs, ms: less sensitive to other load on the machine. */
  cpuMedian: number;
  cpuSamples: number[];
}

/** Run each operation once cold, then `reps` times interleaved (gc before every run); medians. */
export function measureInterleaved(reps: number, ops: Record<string, () => void>, label: string): Record<string, Series> {
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
    log(`${label} rep ${r + 1}/${reps}: ${names.map((n) => `${n} ${out[n]!.samples[r]!.toFixed(1)} ms (cpu ${out[n]!.cpuSamples[r]!.toFixed(0)})`).join(', ')}`);
  }
  for (const n of names) {
    out[n]!.median = median(out[n]!.samples);
    out[n]!.cpuMedian = median(out[n]!.cpuSamples);
  }
  return out;
}
