/**
 * The zod-free predicates `quorum verify` uses (metadata/shape.ts) accept exactly what the zod
 * schemas (metadata/schemas.ts) accept: valid metadata of every role in both dialects, and 4000
 * mutations of it (a value anywhere replaced by another JSON type, a float, an unsafe or negative
 * integer, or removed).
 */
import { describe, expect, it } from 'vitest';
import { buildSample } from '../../coordinator/sample.js';
import { EnvelopeSchema, SIGNED_SCHEMAS } from '../../protocol/metadata/schemas.js';
import { envelopeProblem, signedProblem, type Role } from '../../protocol/metadata/shape.js';

function rng(seed: number): () => number {
  let x = seed;
  return () => ((x = (x * 1103515245 + 12345) % 2 ** 31), x / 2 ** 31);
}

const JUNK: unknown[] = ['x', '', 0, 1, -1, 1.5, 2 ** 53, -0, true, null, [], ['a'], {}, { a: 1 }, { public: 'x' }];

/** Every path to a value inside `v`. */
function paths(v: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  if (typeof v === 'object' && v !== null) {
    for (const [k, x] of Object.entries(v)) {
      const p = [...prefix, Array.isArray(v) ? Number(k) : k];
      out.push(p);
      paths(x, p, out);
    }
  }
  return out;
}

function mutate(v: unknown, path: (string | number)[], junk: unknown | undefined): unknown {
  const copy = structuredClone(v) as Record<string | number, unknown>;
  let o = copy;
  for (const k of path.slice(0, -1)) o = o[k] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  if (junk === undefined) {
    if (Array.isArray(o)) o.splice(last as number, 1);
    else delete o[last];
  } else o[last] = structuredClone(junk);
  return copy;
}

describe('shape predicates equal the zod schemas', () => {
  it('on valid files of every role in both dialects and 4000 mutations', async () => {
    const files: Record<string, Buffer> = {};
    for (const d of ['ota', 'tuf'] as const)
      for (const [n, b] of Object.entries((await buildSample(d)).files)) files[`${d}/${n}`] = b;
    const rand = rng(42);
    let accepted = 0;
    let refused = 0;
    for (const [name, bytes] of Object.entries(files)) {
      const doc = JSON.parse(bytes.toString('utf8')) as { signed: { _type: string } };
      const role = doc.signed._type.toLowerCase() as Role;
      const all = paths(doc);
      for (let i = 0; i < 4000 / Object.keys(files).length; i++) {
        const p = all[Math.floor(rand() * all.length)]!;
        const pick = Math.floor(rand() * (JUNK.length + 1));
        const m = mutate(doc, p, pick === JUNK.length ? undefined : JUNK[pick]) as { signed?: unknown };
        const env = EnvelopeSchema.safeParse(m).success;
        expect([name, p.join('.'), envelopeProblem(m) === null]).toEqual([name, p.join('.'), env]);
        if (!env) continue;
        const signed = m.signed as Record<string, unknown>;
        const zod = SIGNED_SCHEMAS[role].safeParse(signed).success;
        expect([name, p.join('.'), pick, signedProblem(role, signed) === null]).toEqual([name, p.join('.'), pick, zod]);
        if (zod) accepted++;
        else refused++;
      }
    }
    expect(accepted).toBeGreaterThan(500);
    expect(refused).toBeGreaterThan(500);
  });
});
