/**
 * The layering, held by a test: data flows one way. protocol/ imports neither side; coordinator/
 * and signer-client/ never import each other; and no module imports itself back through others
 * (an import cycle makes load order matter and two files one). The graph is read from the
 * sources with a regular expression over import and export statements (type-only ones count:
 * they are dependencies of the design even when erased), so the test needs no compiler and takes
 * milliseconds.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from './paths.js';

/** The source folders of the package; web/ joins them when it exists. */
const LAYERS = ['protocol', 'coordinator', 'signer-client', 'web'] as const;

/**
 * Relative specifiers of every static import and re-export (`import x from`, `import type {..}
 * from`, `import * as x from`, `export {..} from`, `export * from`, `export type {..} from`), of
 * side-effect imports (`import './x.js'`) and of dynamic imports with a literal (`import('./x.js')`).
 */
export function importsOf(source: string): string[] {
  const clause = String.raw`(?:type\s+)?(?:[\w$]+\s*,?\s*)?(?:\{[^}]*\}|\*(?:\s+as\s+[\w$]+)?)?`;
  const patterns = [
    new RegExp(String.raw`^[ \t]*(?:import|export)\s+${clause}\s*from\s*['"]([^'"]+)['"]`, 'gm'),
    /^[ \t]*import\s*['"]([^'"]+)['"]/gm,
    /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  const out: string[] = [];
  for (const re of patterns) for (const m of source.matchAll(re)) out.push(m[1]!);
  return out.filter((s) => s.startsWith('.'));
}

/** The import graph of these files: file (relative to root, with .ts) -> the files it imports. */
export function importGraph(root: string, files: string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const deps = importsOf(fs.readFileSync(path.join(root, file), 'utf8')).map((spec) =>
      path.posix.join(path.posix.dirname(file), spec).replace(/\.js$/, '.ts'),
    );
    graph.set(file, [...new Set(deps)]);
  }
  return graph;
}

/** Every import cycle, each once, as the files around it (the first repeated at the end). */
export function cyclesOf(graph: Map<string, string[]>): string[][] {
  // Tarjan's strongly connected components; a component of two or more files (or a file importing
  // itself) holds a cycle, shown as one path around it.
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const c: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        c.push(w);
      } while (w !== v);
      if (c.length > 1 || graph.get(v)!.includes(v)) components.push(c);
    }
  };
  for (const v of [...graph.keys()].sort()) if (!idx.has(v)) visit(v);
  return components.map((c) => pathAround(graph, new Set(c)));
}

/** A shortest cycle through the first (sorted) file of a component, by breadth-first search. */
function pathAround(graph: Map<string, string[]>, component: Set<string>): string[] {
  const start = [...component].sort()[0]!;
  const from = new Map<string, string>();
  const queue = [start];
  while (queue.length) {
    const v = queue.shift()!;
    for (const w of graph.get(v) ?? []) {
      if (!component.has(w)) continue;
      if (w === start) {
        const cycle = [start];
        for (let x = v; x !== start; x = from.get(x)!) cycle.splice(1, 0, x);
        return [...cycle, start];
      }
      if (!from.has(w)) {
        from.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}

function sourceFiles(root: string): string[] {
  const out: string[] = [];
  for (const layer of LAYERS) {
    const dir = path.join(root, layer);
    if (!fs.existsSync(dir)) continue;
    for (const f of fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }))
      if (/\.tsx?$/.test(f) && !f.endsWith('.d.ts')) out.push(path.posix.join(layer, f.split(path.sep).join('/')));
  }
  return out.sort();
}

const layerOf = (file: string) => file.split('/')[0]!;

/** Imports that cross the layering: protocol -> either side, or between the two sides. */
export function layerViolations(graph: Map<string, string[]>): string[] {
  const forbidden: Record<string, string[]> = {
    protocol: ['coordinator', 'signer-client', 'web'],
    coordinator: ['signer-client'],
    'signer-client': ['coordinator'],
  };
  const out: string[] = [];
  for (const [file, deps] of graph)
    for (const d of deps)
      if (forbidden[layerOf(file)]?.includes(layerOf(d)) || (layerOf(d) === 'web' && layerOf(file) !== 'web'))
        out.push(`${file} imports ${d}`);
  return out;
}

describe('the layering', () => {
  const files = sourceFiles(REPO);
  const graph = importGraph(REPO, files);

  it('reads the graph of every source file (a file that imports nothing local is rare)', () => {
    expect(files.length).toBeGreaterThan(30);
    expect(graph.get('coordinator/rounds.ts')).toContain('coordinator/store.ts');
    expect(graph.get('signer-client/cli.ts')).toContain('protocol/cli.ts');
    for (const deps of graph.values()) for (const d of deps) expect(graph.has(d), `${d} exists`).toBe(true);
  });

  it('has no import cycle', () => {
    const cycles = cyclesOf(graph).map((c) => c.join(' -> '));
    expect(cycles, `import cycles:\n${cycles.join('\n')}`).toEqual([]);
  });

  it('protocol imports neither side; coordinator and signer-client never import each other', () => {
    expect(layerViolations(graph)).toEqual([]);
  });
});

/** Specifiers a module loads when it is loaded: static value imports and re-exports (not `import type`, `import()`). */
export function eagerImportsOf(source: string): string[] {
  const re = /^[ \t]*(?:import|export)\s+(?!type\s)(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]/gm;
  return [...source.matchAll(re)].map((m) => m[1]!);
}

/** The packages loaded when `entry` starts: every package an eagerly imported local module names. */
function eagerPackages(entry: string): Map<string, string> {
  const seen = new Set<string>();
  const packages = new Map<string, string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const spec of eagerImportsOf(fs.readFileSync(path.join(REPO, file), 'utf8'))) {
      if (spec.startsWith('.')) visit(path.posix.join(path.posix.dirname(file), spec).replace(/\.js$/, '.ts'));
      else if (!spec.startsWith('node:') && !packages.has(spec)) packages.set(spec, file);
    }
  };
  visit(entry);
  return packages;
}

describe('start-up', () => {
  it('quorum (verify and --help) starts without zod or @noble: the commands that need them load them lazily', () => {
    // Issue 14's start-up goal: the command tree once imported zod at the top of admin-cli.ts,
    // and every quorum process paid for its 755 KB. (quorum-signer still loads its modules eagerly.)
    const eager = [...eagerPackages('coordinator/cli.ts')];
    const heavy = eager.filter(([p]) => p === 'zod' || p.startsWith('@noble/'));
    expect(heavy.map(([p, f]) => `${p} (by ${f})`)).toEqual([]);
  });

  it('the eager-import reader skips type imports and dynamic imports', () => {
    const src = [
      "import { z } from 'zod';",
      "import type { X } from 'zod/v4';",
      "export { y } from './y.js';",
      "import './side.js';",
      "const later = () => import('./lazy.js');",
    ].join('\n');
    expect(eagerImportsOf(src)).toEqual(['zod', './y.js', './side.js']);
  });
});

describe('the checker itself (so that a clean result means something)', () => {
  const g = (edges: Record<string, string[]>) => new Map(Object.entries(edges));

  it('reads every form of import and re-export, and ignores packages and text that only mentions one', () => {
    const src = [
      "import fs from 'node:fs';",
      "import { a, type B } from './a.js';",
      'import type {',
      '  C,',
      '  D,',
      "} from '../protocol/c.js';",
      "import * as e from './e.js';",
      "import f, { g } from './f.js';",
      "import './side-effect.js';",
      "export { h } from './h.js';",
      "export * from './star.js';",
      "export type { I } from './i.js';",
      "const lazy = await import('./lazy.js');",
      "const help = `import the keys from './not-an-import.js'`;",
      "// import x from './commented.js' is how a comment might mention it, at the start of no statement",
    ].join('\n');
    expect(importsOf(src)).toEqual([
      './a.js',
      '../protocol/c.js',
      './e.js',
      './f.js',
      './h.js',
      './star.js',
      './i.js',
      './side-effect.js',
      './lazy.js',
    ]);
  });

  it('finds a cycle, a long one, a self-import, and none in a diamond', () => {
    expect(cyclesOf(g({ 'a.ts': ['b.ts'], 'b.ts': ['a.ts'] }))).toEqual([['a.ts', 'b.ts', 'a.ts']]);
    expect(cyclesOf(g({ 'a.ts': ['b.ts'], 'b.ts': ['c.ts'], 'c.ts': ['d.ts'], 'd.ts': ['b.ts'] }))).toEqual([
      ['b.ts', 'c.ts', 'd.ts', 'b.ts'],
    ]);
    expect(cyclesOf(g({ 'a.ts': ['a.ts'] }))).toEqual([['a.ts', 'a.ts']]);
    expect(cyclesOf(g({ 'a.ts': ['b.ts', 'c.ts'], 'b.ts': ['d.ts'], 'c.ts': ['d.ts'], 'd.ts': [] }))).toEqual([]);
  });

  it('finds the cycle coordinator/certificates.ts and coordinator/frost.ts had (issue 13)', () => {
    const before = g({
      'coordinator/certificates.ts': ['coordinator/frost.ts', 'coordinator/store.ts'],
      'coordinator/frost.ts': ['coordinator/certificates.ts', 'coordinator/store.ts'],
      'coordinator/store.ts': [],
    });
    expect(cyclesOf(before)).toEqual([
      ['coordinator/certificates.ts', 'coordinator/frost.ts', 'coordinator/certificates.ts'],
    ]);
  });

  it('names each layering violation', () => {
    const bad = g({
      'protocol/a.ts': ['coordinator/b.ts'],
      'coordinator/b.ts': ['signer-client/c.ts', 'protocol/a.ts'],
      'signer-client/c.ts': ['coordinator/b.ts'],
      'web/d.ts': ['protocol/a.ts'],
    });
    expect(layerViolations(bad)).toEqual([
      'protocol/a.ts imports coordinator/b.ts',
      'coordinator/b.ts imports signer-client/c.ts',
      'signer-client/c.ts imports coordinator/b.ts',
    ]);
  });
});
