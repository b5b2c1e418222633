/**
 * The hot-path targets-map check (countTargets) must accept exactly what the zod schema accepts,
 * since verification trusts it instead of running zod on every entry.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { TargetFileSchema, countTargets, isTargetsMap } from '../../protocol/metadata/schemas.js';

const schema = z.record(z.string(), TargetFileSchema);

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
        expect(isTargetsMap(m)).toBe(schema.safeParse(m).success);
      }),
      { numRuns: 2000 },
    );
  });

  it('counts entries', () => {
    const ok = { a: { length: 1, hashes: { sha256: 'ab' } }, b: { length: 0, hashes: {}, custom: null } };
    expect(countTargets(ok)).toBe(2);
    expect(countTargets({})).toBe(0);
    expect(countTargets({ a: { length: -1, hashes: {} } })).toBe(-1);
    expect(countTargets([])).toBe(-1);
  });
});
