/**
 * The hot-path targets-map check (countTargets) must accept exactly what the zod schema accepts,
 * since verification trusts it instead of running zod on every entry.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { TargetFileSchema, countTargets, isTargetsMap } from '../../protocol/metadata/schemas.js';

const schema = z.record(z.string(), TargetFileSchema);

/**
 * `v` with every own key `__proto__` renamed to ` __proto__`. zod's records drop a `__proto__` key
 * without checking its value (a guard against prototype pollution), so zod alone would accept
 * `{"__proto__": {}}` (JSON.parse makes that an own property). To the hot path it is a target name
 * like any other, checked like any other, which is what a device does. The oracle is zod on the
 * renamed copy: the same verdict, with that entry checked.
 */
function renameProto(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(renameProto);
  if (typeof v !== 'object' || v === null) return v;
  const o: Record<string, unknown> = {};
  for (const k of Object.keys(v))
    o[k === '__proto__' ? ' __proto__' : k] = renameProto((v as Record<string, unknown>)[k]);
  return o;
}
const oracle = (m: unknown) => schema.safeParse(renameProto(m)).success;

const hashes = fc.oneof(
  fc.dictionary(fc.constantFrom('sha256', 'sha512', 'x'), fc.string({ unit: fc.constantFrom(...'0123456789abcdef') })),
  fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.integer(), fc.constant(null))),
  fc.constant(null),
  fc.array(fc.string()),
  fc.string(),
);
const length = fc.oneof(
  fc.nat(),
  fc.integer(),
  fc.double(),
  fc.constant(Number.MAX_SAFE_INTEGER + 2),
  fc.string(),
  fc.constant(null),
  fc.constant(-0),
);
const entry = fc.oneof(
  fc.record({ length, hashes, custom: fc.anything() }, { requiredKeys: [] }),
  fc.record({
    length: fc.nat(),
    hashes: fc.dictionary(fc.string(), fc.string({ unit: fc.constantFrom(...'0123456789abcdef') })),
  }),
  fc.anything(),
);
const map = fc.oneof(fc.dictionary(fc.string(), entry, { maxKeys: 8 }), fc.anything());

describe('countTargets agrees with the zod targets schema', () => {
  it('on arbitrary input', () => {
    fc.assert(
      fc.property(map, (m) => {
        expect(isTargetsMap(m)).toBe(oracle(m));
      }),
      { numRuns: 2000 },
    );
  });

  it('checks a target named __proto__, and a hash named so, like any other (which zod alone skips)', () => {
    for (const [json, ok] of [
      ['{"__proto__":{}}', false],
      ['{"__proto__":{"length":1,"hashes":{"sha256":"ab"}}}', true],
      ['{"a":{"length":1,"hashes":{"__proto__":5}}}', false],
      ['{"a":{"length":1,"hashes":{"__proto__":"ab"}}}', true],
    ] as const) {
      const m = JSON.parse(json) as unknown;
      expect([json, isTargetsMap(m)]).toEqual([json, ok]);
      expect([json, oracle(m)]).toEqual([json, ok]);
    }
  });

  it('counts entries', () => {
    const ok = { a: { length: 1, hashes: { sha256: 'ab' } }, b: { length: 0, hashes: {}, custom: null } };
    expect(countTargets(ok)).toBe(2);
    expect(countTargets({})).toBe(0);
    expect(countTargets({ a: { length: -1, hashes: {} } })).toBe(-1);
    expect(countTargets([])).toBe(-1);
  });
});
