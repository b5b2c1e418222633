/**
 * Canonical JSON in both dialects: exact bytes, refusals with their codes, and properties checked
 * against JSON.parse and the reference OLPC implementation (@tufjs/canonical-json).
 */
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalize, canonicalString, type Dialect } from '../../protocol/canonical.js';
import { CanonicalError, QuorumError } from '../../protocol/errors.js';

const require = createRequire(import.meta.url);
const tufjs = require('@tufjs/canonical-json') as { canonicalize: (v: unknown) => string };

const DIALECTS: Dialect[] = ['ota', 'tuf'];

/** The CanonicalError thrown by canonicalize(value, dialect), or a failure when nothing is thrown. */
function canonError(value: unknown, dialect: Dialect): CanonicalError {
  try {
    canonicalize(value, dialect);
  } catch (e) {
    expect(e).toBeInstanceOf(CanonicalError);
    expect(e).toBeInstanceOf(QuorumError);
    return e as CanonicalError;
  }
  throw new Error(`canonicalize(${String(value)}, ${dialect}) did not throw`);
}

describe('canonical JSON: exact bytes', () => {
  it.each(DIALECTS)('%s: sorts keys recursively and writes no whitespace', (d) => {
    const v = { b: 1, a: [true, false, null, 'x', -7, 0], c: { z: {}, y: [], x: [{ b: 2, a: 1 }] } };
    expect(canonicalString(v, d)).toBe(
      '{"a":[true,false,null,"x",-7,0],"b":1,"c":{"x":[{"a":1,"b":2}],"y":[],"z":{}}}',
    );
  });

  it.each(DIALECTS)('%s: returns a Buffer of UTF-8 bytes', (d) => {
    const b = canonicalize({ k: 'é' }, d);
    expect(Buffer.isBuffer(b)).toBe(true);
    expect(b.equals(Buffer.from([0x7b, 0x22, 0x6b, 0x22, 0x3a, 0x22, 0xc3, 0xa9, 0x22, 0x7d]))).toBe(true);
  });

  it.each(DIALECTS)('%s: scalars at top level', (d) => {
    expect(canonicalString(null, d)).toBe('null');
    expect(canonicalString(true, d)).toBe('true');
    expect(canonicalString(false, d)).toBe('false');
    expect(canonicalString(0, d)).toBe('0');
    expect(canonicalString(-0, d)).toBe('0');
    expect(canonicalString(Number.MAX_SAFE_INTEGER, d)).toBe('9007199254740991');
    expect(canonicalString(Number.MIN_SAFE_INTEGER, d)).toBe('-9007199254740991');
    expect(canonicalString('', d)).toBe('""');
    expect(canonicalString([], d)).toBe('[]');
    expect(canonicalString({}, d)).toBe('{}');
  });

  it.each(DIALECTS)('%s: sorts keys by UTF-16 code unit, not by code point or number', (d) => {
    // U+1F600 is the surrogate pair D83D DE00, so it sorts before U+FFFF by code unit
    // (by code point it would sort after). Integer-like keys sort as strings.
    const v: Record<string, number> = { '\uFFFF': 1, '\u{1F600}': 2, é: 3, a: 4, B: 5, '10': 6, '2': 7, '': 8 };
    expect(canonicalString(v, d)).toBe('{"":8,"10":6,"2":7,"B":5,"a":4,"é":3,"\u{1F600}":2,"\uFFFF":1}');
  });

  it('tuf escapes only backslash and double quote; control characters stay raw', () => {
    const s = 'a"b\\c\n\t\u0001\u001f/\u007f é\u2028\u{1F600}';
    const got = canonicalize({ [s]: s }, 'tuf');
    const raw = '"a\\"b\\\\c\n\t\u0001\u001f/\u007f é\u2028\u{1F600}"';
    expect(got.equals(Buffer.from(`{${raw}:${raw}}`, 'utf8'))).toBe(true);
    expect(got.toString('utf8')).toBe(tufjs.canonicalize({ [s]: s }));
  });

  it('ota escapes like JSON.stringify: control characters as \\n, \\t, \\u0001; non-ASCII stays raw', () => {
    const s = 'a"b\\c\n\t\u0001\u001f/\u007f é\u2028\u{1F600}\b\f\r';
    const got = canonicalize({ [s]: s }, 'ota');
    const esc = '"a\\"b\\\\c\\n\\t\\u0001\\u001f/\u007f é\u2028\u{1F600}\\b\\f\\r"';
    expect(got.equals(Buffer.from(`{${esc}:${esc}}`, 'utf8'))).toBe(true);
    expect(got.toString('utf8')).toBe(JSON.stringify({ [s]: s }));
  });

  it('the dialects differ exactly on control characters', () => {
    expect(canonicalString('x\ny', 'tuf')).toBe('"x\ny"');
    expect(canonicalString('x\ny', 'ota')).toBe('"x\\ny"');
    expect(canonicalString('q"\\', 'tuf')).toBe('"q\\"\\\\"');
    expect(canonicalString('q"\\', 'ota')).toBe('"q\\"\\\\"');
  });

  it.each(DIALECTS)('%s: accepts null-prototype objects and valid surrogate pairs', (d) => {
    const o = Object.create(null) as Record<string, unknown>;
    o.b = '\uD83D\uDE00';
    o.a = 1;
    expect(canonicalString(o, d)).toBe('{"a":1,"b":"\u{1F600}"}');
  });

  it.each(DIALECTS)('%s: output larger than one internal chunk is byte-identical to the reference', (d) => {
    // Several MiB of mixed ASCII and multi-byte text crosses the 1 MiB flush boundary many times.
    const items: Record<string, unknown>[] = [];
    for (let i = 0; i < 30_000; i++)
      items.push({ name: `target-${i}-é\u{1F600}\n`, length: i, hashes: { sha256: 'ab'.repeat(32) } });
    const v = { targets: items, z: 'end' };
    const got = canonicalize(v, d);
    expect(got.length).toBeGreaterThan(3 * (1 << 20));
    const ref = d === 'tuf' ? tufjs.canonicalize(v) : refOta(v);
    expect(got.equals(Buffer.from(ref, 'utf8'))).toBe(true);
  });
});

describe('canonical JSON: refusals', () => {
  it.each(DIALECTS)('%s: CANONICAL_FLOAT for non-integers, NaN and infinities, with a path', (d) => {
    expect(canonError(1.5, d).code).toBe('CANONICAL_FLOAT');
    expect(canonError(Number.NaN, d).code).toBe('CANONICAL_FLOAT');
    expect(canonError(Number.POSITIVE_INFINITY, d).code).toBe('CANONICAL_FLOAT');
    expect(canonError(Number.NEGATIVE_INFINITY, d).code).toBe('CANONICAL_FLOAT');
    const e = canonError({ signed: { targets: { f: { length: 0.1 } } } }, d);
    expect(e.code).toBe('CANONICAL_FLOAT');
    expect(e.message).toContain('.signed.targets.f.length');
  });

  it.each(DIALECTS)('%s: CANONICAL_UNSAFE_INTEGER beyond ±(2^53-1)', (d) => {
    expect(canonError(2 ** 53, d).code).toBe('CANONICAL_UNSAFE_INTEGER');
    expect(canonError(-(2 ** 53), d).code).toBe('CANONICAL_UNSAFE_INTEGER');
    expect(canonError(1e21, d).code).toBe('CANONICAL_UNSAFE_INTEGER');
    const e = canonError({ a: [1, 2, Number.MAX_SAFE_INTEGER + 1] }, d);
    expect(e.code).toBe('CANONICAL_UNSAFE_INTEGER');
    expect(e.message).toContain('.a[2]');
  });

  it.each(DIALECTS)('%s: CANONICAL_UNDEFINED at top level, in an object and in an array', (d) => {
    expect(canonError(undefined, d).code).toBe('CANONICAL_UNDEFINED');
    const inObject = canonError({ a: 1, b: undefined }, d);
    expect(inObject.code).toBe('CANONICAL_UNDEFINED');
    expect(inObject.message).toContain('.b');
    const inArray = canonError({ list: [1, undefined, 3] }, d);
    expect(inArray.code).toBe('CANONICAL_UNDEFINED');
    expect(inArray.message).toContain('.list[1]');
    // A sparse array hole reads as undefined too.
    // eslint-disable-next-line no-sparse-arrays
    expect(canonError([1, , 3], d).code).toBe('CANONICAL_UNDEFINED');
  });

  it.each(DIALECTS)('%s: CANONICAL_LONE_SURROGATE in values and keys', (d) => {
    expect(canonError('\uD800', d).code).toBe('CANONICAL_LONE_SURROGATE');
    expect(canonError('x\uDC00y', d).code).toBe('CANONICAL_LONE_SURROGATE');
    expect(canonError('\uDE00\uD83D', d).code).toBe('CANONICAL_LONE_SURROGATE'); // reversed pair
    expect(canonError(['ok', 'end\uD83D'], d).code).toBe('CANONICAL_LONE_SURROGATE');
    const inKey = canonError({ ['k\uD800']: 1 }, d);
    expect(inKey.code).toBe('CANONICAL_LONE_SURROGATE');
  });

  it.each(DIALECTS)('%s: CANONICAL_TYPE for values JSON has no form for', (d) => {
    class Thing {
      a = 1;
    }
    const bad: unknown[] = [
      10n,
      () => 1,
      Symbol('s'),
      new Date(0),
      new Map(),
      new Set(),
      new Thing(),
      Buffer.from('x'),
      new Uint8Array(1),
    ];
    for (const v of bad) {
      expect(canonError(v, d).code).toBe('CANONICAL_TYPE');
      expect(canonError({ nested: [v] }, d).code).toBe('CANONICAL_TYPE');
    }
    expect(canonError({ nested: [0, 10n] }, d).message).toContain('.nested[1]');
  });
});

// --- properties --------------------------------------------------------------------------------

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** A deep copy whose properties are inserted in the given key order (own `__proto__` kept as data). */
function reorderDeep(v: unknown, order: (keys: string[]) => string[]): unknown {
  if (Array.isArray(v)) return v.map((x) => reorderDeep(x, order));
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of order(Object.keys(v))) {
      Object.defineProperty(out, k, {
        value: reorderDeep((v as Record<string, unknown>)[k], order),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }
  return v;
}
const sortDeep = (v: unknown) => reorderDeep(v, (k) => k.sort());
const reverseDeep = (v: unknown) => reorderDeep(v, (k) => k.sort().reverse());

/**
 * Independent reference for the ota form (circe noSpaces.sortKeys): keys sorted by UTF-16 code
 * unit, JSON.stringify escaping for strings. Written out by hand because JSON.stringify of a
 * sorted copy is not sorted: JS enumerates integer-like keys first.
 */
function refOta(v: unknown): string {
  if (Array.isArray(v)) return '[' + v.map(refOta).join(',') + ']';
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return (
      '{' +
      Object.keys(o)
        .sort()
        .map((k) => JSON.stringify(k) + ':' + refOta(o[k]))
        .join(',') +
      '}'
    );
  }
  return JSON.stringify(v);
}

function jsonArb(str: fc.Arbitrary<string>): fc.Arbitrary<Json> {
  const { value } = fc.letrec<{ value: Json }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.constant(null),
      fc.boolean(),
      fc.maxSafeInteger(),
      str,
      fc.array(tie('value'), { maxLength: 5 }),
      fc.dictionary(str, tie('value'), { maxKeys: 5, noNullPrototype: true }),
    ),
  }));
  return value;
}

// 'binary' units are whole code points, so strings never hold a lone surrogate.
const anyJson = jsonArb(fc.string({ unit: 'binary', maxLength: 12 }));
// The OLPC (tuf) form writes control characters raw, which JSON.parse refuses by design
// (securesystemslib and @tufjs/canonical-json do the same): parse-back needs strings without them.
const noControl = fc
  .integer({ min: 0x20, max: 0x10ffff })
  .filter((cp) => cp < 0xd800 || cp > 0xdfff)
  .map((cp) => String.fromCodePoint(cp));
const parseableJson: Record<Dialect, fc.Arbitrary<Json>> = {
  ota: anyJson,
  tuf: jsonArb(fc.string({ unit: noControl, maxLength: 12 })),
};
const asciiJson = jsonArb(fc.string({ unit: 'binary-ascii', maxLength: 12 }));
const RUNS = { numRuns: 200 };
// Keys that stress property order: integer-like keys (which JS enumerates first, numerically),
// prefixes of each other, escapes, astral and BMP characters around the surrogate range.
const trickyKey = fc.oneof(
  fc.constantFrom(
    '0',
    '1',
    '2',
    '10',
    '01',
    '4294967294',
    '4294967295',
    '-1',
    '__proto__',
    'a',
    'ab',
    'B',
    '"',
    '\\',
    '\n',
    'é',
    '\uFFFF',
    '\u{1F600}',
    '',
  ),
  fc.string({ unit: 'binary', maxLength: 4 }),
);
const trickyJson = jsonArb(trickyKey);

describe('canonical JSON: properties', () => {
  it.each(DIALECTS)('%s: canonical form is stable and parses back deep-equal to the input', (d) => {
    fc.assert(
      fc.property(parseableJson[d], (v) => {
        const c = canonicalString(v, d);
        const back = JSON.parse(c) as unknown;
        expect(back).toEqual(v);
        expect(canonicalString(back, d)).toBe(c);
      }),
      RUNS,
    );
  });

  it('tuf form of a control character is raw, so it is not JSON (as in the reference implementation)', () => {
    const c = canonicalString({ s: 'a\u0001' }, 'tuf');
    expect(c).toBe('{"s":"a\u0001"}');
    expect(() => JSON.parse(c)).toThrow(SyntaxError);
    expect(c).toBe(tufjs.canonicalize({ s: 'a\u0001' }));
  });

  it.each(DIALECTS)('%s: key order of the input never matters (already-sorted input takes the same bytes)', (d) => {
    fc.assert(
      fc.property(trickyJson, (v) => {
        const c = canonicalize(v, d);
        expect(canonicalize(sortDeep(v), d).equals(c)).toBe(true);
        expect(canonicalize(reverseDeep(v), d).equals(c)).toBe(true);
        if (d === 'tuf') expect(c.toString('utf8')).toBe(tufjs.canonicalize(v));
        else expect(c.toString('utf8')).toBe(refOta(v));
      }),
      RUNS,
    );
  });

  it.each(DIALECTS)('%s: integer-like keys sort as strings even though JS enumerates them first', (d) => {
    const v = JSON.parse('{"b":{"10":1,"9":2,"a":3},"a":{"1":1,"a":2},"c":{"4294967295":0,"4294967294":1}}') as unknown;
    expect(canonicalString(v, d)).toBe(
      '{"a":{"1":1,"a":2},"b":{"10":1,"9":2,"a":3},"c":{"4294967294":1,"4294967295":0}}',
    );
  });

  it('ota form equals the reference (sorted keys, JSON.stringify escaping)', () => {
    fc.assert(
      fc.property(anyJson, (v) => {
        expect(canonicalString(v, 'ota')).toBe(refOta(v));
      }),
      RUNS,
    );
  });

  it('on ASCII-only input the tuf form equals @tufjs/canonical-json byte for byte', () => {
    fc.assert(
      fc.property(asciiJson, (v) => {
        const ours = canonicalize(v, 'tuf');
        expect(ours.equals(Buffer.from(tufjs.canonicalize(v), 'utf8'))).toBe(true);
      }),
      RUNS,
    );
  });
});

// --- keys that name Object.prototype's own properties ------------------------------------------

const PROTO_KEYS = ['__proto__', 'constructor', 'prototype'] as const;

/** An object with these entries as own data properties (`__proto__` included), in this order. */
function objectOf(entries: [string, unknown][]): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const [k, v] of entries)
    Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  return o;
}

// Maps of up to 24 entries reach the canonicaliser's sorted-copy path (more than 16 keys) as well.
const protoKey = fc.oneof(
  fc.constantFrom(...PROTO_KEYS, 'toString', 'hasOwnProperty', 'valueOf'),
  fc.string({ unit: 'grapheme-ascii', maxLength: 3 }),
);
const protoJson: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.maxSafeInteger(),
    fc.string({ unit: 'grapheme-ascii', maxLength: 6 }),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.uniqueArray(fc.tuple(protoKey, tie('value')), { maxLength: 24, selector: ([k]) => k }).map(objectOf),
  ),
})).value;

describe('canonical JSON: __proto__, constructor and prototype are ordinary keys', () => {
  it.each(DIALECTS)('%s: agrees with the reference for such keys at every depth, as JSON.parse returns them', (d) => {
    fc.assert(
      fc.property(protoJson, (built) => {
        // The objects a signer meets come from JSON.parse, which keeps `__proto__` as an own key.
        const v = JSON.parse(JSON.stringify(built)) as unknown;
        const c = canonicalString(v, d);
        expect(c).toBe(d === 'tuf' ? tufjs.canonicalize(v) : refOta(v));
        expect(canonicalString(JSON.parse(c), d)).toBe(c);
        expect(canonicalString(sortDeep(v), d)).toBe(c);
        expect(canonicalString(reverseDeep(v), d)).toBe(c);
      }),
      { numRuns: 300 },
    );
  });

  it.each(DIALECTS)(
    '%s: a `__proto__` entry of any value type is written at every depth, in small and large maps',
    (d) => {
      for (const value of ['5', 'null', '"s"', '[1]', '{"x":1}', 'true']) {
        for (const size of [0, 20]) {
          const filler = Array.from({ length: size }, (_, i) => `"k${size - i}":${i}`).join(',');
          let text = `{${filler}${filler ? ',' : ''}"__proto__":${value},"constructor":${value},"prototype":${value}}`;
          for (let depth = 0; depth < 4; depth++) {
            const v = JSON.parse(text) as unknown;
            const c = canonicalString(v, d);
            expect(c, `${value} in a map of ${size} at depth ${depth}`).toBe(
              d === 'tuf' ? tufjs.canonicalize(v) : refOta(v),
            );
            expect(c.split('"__proto__":').length - 1).toBe(depth + 1);
            text = `{"a":${text},${filler}${filler ? ',' : ''}"__proto__":${value}}`;
          }
        }
      }
    },
  );
});
