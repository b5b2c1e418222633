/**
 * Where OUR verification time goes, for the lead to optimise (not part of `npm run bench`):
 *
 * npm run build && node --max-old-space-size=8192 --expose-gc dist/test/bench/profile.bench.js [targets=100000]
 * [reps=5] [sorted|insertion]
 *
 * Generates one targets.json like the benchmark does, prints the manual phase breakdown
 * (breakdown.ts), then CPU-profiles `reps` runs of the measured OURS operation with the
 * in-process inspector (only the measured runs are profiled, not the generation) and prints the
 * top functions by self time and selected functions by inclusive time. The .cpuprofile file is
 * kept in the temp folder for Chrome DevTools / speedscope.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Session } from 'node:inspector/promises';
import { breakdown, PHASES } from './breakdown.js';
import { benchKey, writeTargets, writeTargetsRoot, type KeyOrder } from './fixtures.js';
import { collect, log, median, ours, timed } from './measure.js';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

function label(cf: CallFrame): string {
  const file = cf.url
    ? cf.url
        .replace(/^file:\/\//, '')
        .replace(/.*\/node_modules\//, 'node_modules/')
        .replace(/.*\/dist\//, 'dist/')
    : '(native/vm)';
  return `${cf.functionName || '(anonymous)'} ${file}${cf.url ? ':' + (cf.lineNumber + 1) : ''}`;
}

function summarise(p: Profile, top: number): string[] {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of p.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const self = new Map<string, number>();
  const incl = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const dt = (p.timeDeltas[i + 1] ?? p.timeDeltas[i] ?? 0) / 1000; // ms; delta i+1 is time spent at sample i
    total += dt;
    let id: number | undefined = p.samples[i]!;
    const leaf = label(byId.get(id)!.callFrame);
    self.set(leaf, (self.get(leaf) ?? 0) + dt);
    const seen = new Set<string>();
    while (id !== undefined) {
      const l = label(byId.get(id)!.callFrame);
      if (!seen.has(l)) {
        seen.add(l);
        incl.set(l, (incl.get(l) ?? 0) + dt);
      }
      id = parent.get(id);
    }
  }
  const pct = (x: number) => ((100 * x) / total).toFixed(1).padStart(5) + '%';
  const out: string[] = [`profiled ${total.toFixed(0)} ms`, `top ${top} by self time:`];
  for (const [l, t] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top))
    out.push(`  ${t.toFixed(0).padStart(7)} ms ${pct(t)}  ${l}`);
  out.push('selected functions by inclusive time (project code and zod):');
  const interesting = [...incl]
    .filter(([l]) => /dist\/protocol|node_modules\/zod|\(garbage collector\)|^parse |^stringify /.test(l))
    .sort((a, b) => b[1] - a[1])
    .slice(0, top);
  for (const [l, t] of interesting) out.push(`  ${t.toFixed(0).padStart(7)} ms ${pct(t)}  ${l}`);
  return out;
}

async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? 100_000);
  const reps = Number(process.argv[3] ?? 5);
  const order = (process.argv[4] ?? 'sorted') as KeyOrder;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'uptane-quorum-profile-'));
  const now = new Date();
  const rootKey = benchKey('ed25519');
  const keys = [benchKey('ed25519'), benchKey('ecdsa'), benchKey('rsa')];
  writeTargetsRoot(tmp, rootKey, keys, now);
  log(`generating ${count} targets (${order} keys) in ${tmp} ...`);
  const repo = writeTargets(tmp, count, keys, now, order);
  collect();

  log('phase breakdown ...');
  const phases = breakdown(repo, reps);
  const sum = PHASES.reduce((s, p) => s + phases[p], 0);
  const lines: string[] = [`Phase breakdown at ${count} targets, ${order} keys (median of ${reps}):`];
  for (const p of PHASES)
    lines.push(
      `  ${p.padEnd(42)} ${phases[p].toFixed(1).padStart(9)} ms  ${((100 * phases[p]) / sum).toFixed(1).padStart(5)}%`,
    );
  lines.push(`  ${'sum of phases'.padEnd(42)} ${sum.toFixed(1).padStart(9)} ms`);

  ours(repo); // warm
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    collect();
    times.push(timed(() => ours(repo)));
  }
  lines.push(`OURS unprofiled median ${median(times).toFixed(1)} ms (${times.map((t) => t.toFixed(0)).join(', ')})`);

  log('cpu profile ...');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  for (let i = 0; i < reps; i++) ours(repo);
  const { profile } = (await session.post('Profiler.stop')) as unknown as { profile: Profile };
  session.disconnect();
  const file = path.join(tmp, `ours-${count}.cpuprofile`);
  fs.writeFileSync(file, JSON.stringify(profile));
  lines.push(`CPU profile of ${reps} OURS runs (${file}):`);
  lines.push(...summarise(profile, 25));
  fs.rmSync(repo.targetsPath);
  process.stdout.write(lines.join('\n') + '\n');
}

await main();
