/**
 * canonicalFromBytes (the canonical bytes of `signed` taken from the file itself) against
 * canonicalize (built from the parsed object): on random documents with unicode, escapes, control
 * characters, lone surrogates, numbers of every kind, duplicate keys, sorted and unsorted keys,
 * compact and indented, in both dialects, it returns either null or exactly the same bytes; and
 * it does return them for files written in canonical order, as TUF tools write them.
 */
import { describe, expect, it } from 'vitest';
import { canonicalFromBytes, canonicalize, type Dialect } from '../../protocol/canonical.js';
import { sortKeys } from '../../protocol/metadata/build.js';

function rng(seed: number): () => number {
  let x = seed;
  return () => ((x = (x * 1103515245 + 12345) % 2 ** 31), x / 2 ** 31);
}

const CHARS = [
  'a',
  'Z',
  '0',
  ' ',
  '"',
  '\\',
  '/',
  '\n',
  '\t',
  '\u0000',
  '\u001f',
  '\u007f',
  'é',
  '€',
  '😀',
  '\u2028',
  '\ud800',
  '\udc00',
  '\ufeff',
];

const SAFE = ['a', 'Z', '0', ' ', '"', '\\', 'é', '😀'];
let alphabet = CHARS;

function text(r: () => number, max = 6): string {
  let s = '';
  for (let i = Math.floor(r() * max); i > 0; i--) s += alphabet[Math.floor(r() * alphabet.length)];
  return s;
}

function value(r: () => number, depth: number): unknown {
  const k = Math.floor(r() * (depth > 3 ? 5 : 7));
  switch (k) {
    case 0:
      return text(r);
    case 1:
      return [0, 1, -1, 42, 2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 53, 1.5, -0, 1e21, 0.1][Math.floor(r() * 11)];
    case 2:
      return [true, false, null][Math.floor(r() * 3)];
    case 3:
      return Math.floor(r() * 1000);
    case 4:
      return 'plain-' + Math.floor(r() * 1e6).toString(16);
    case 5:
      return Array.from({ length: Math.floor(r() * 4) }, () => value(r, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = Math.floor(r() * 5); i > 0; i--)
        o[r() < 0.8 ? 'k' + Math.floor(r() * 20) : text(r, 3)] = value(r, depth + 1);
      return o;
    }
  }
}

/** JSON text for `doc` with variations JSON.stringify never writes: other escapes, duplicate keys. */
function variant(json: string, r: () => number): string {
  const x = r();
  if (x < 0.1) return json.replace(/"k1"/, '"k\\u0031"'); // an escaped key
  if (x < 0.2) return json.replace(/a/, '\\u0061'); // an escape canonical form never writes
  if (x < 0.3) return json.replace(/"k2":/, '"k2":1,"k2":'); // a duplicate key (JSON.parse keeps the last)
  if (x < 0.35) return json.replace(/\d+/, (m) => m + '.0'); // 1.0
  if (x < 0.4) return json.replace(/"signed":/, '"signed":{},"signed":'); // `signed` twice
  if (x < 0.45) return json.replace(/\//, '\\/');
  return json;
}

describe('canonicalFromBytes equals canonicalize or declines', () => {
  for (const [dialect, chars] of [
    ['tuf', CHARS],
    ['ota', CHARS],
    ['tuf', SAFE],
    ['ota', SAFE],
  ] as [Dialect, string[]][]) {
    it(`${dialect}: 6000 random documents${chars === SAFE ? ' with strings both dialects write unescaped' : ''}`, () => {
      alphabet = chars;
      const r = rng(dialect === 'tuf' ? 1 : 2);
      let taken = 0;
      let sortedTaken = 0;
      let sortedValid = 0;
      let unsortedTaken = 0;
      let unsortedValid = 0;
      for (let i = 0; i < 6000; i++) {
        let signed = value(r, 0);
        if (r() < 0.7 && typeof signed === 'object' && signed !== null && !Array.isArray(signed))
          signed = { _type: 'targets', ...signed };
        const sorted = r() < 0.6;
        const doc = { signatures: [{ keyid: 'ab', sig: 'cd' }], signed: sorted ? sortKeys(signed) : signed };
        const json = variant(JSON.stringify(doc, null, r() < 0.5 ? 2 : undefined), r);
        const bytes = Buffer.from(json, 'utf8');
        let parsed: { signed: unknown };
        try {
          parsed = JSON.parse(bytes.toString('utf8')) as { signed: unknown };
        } catch {
          continue;
        }
        let want: Buffer | null;
        try {
          want = canonicalize(parsed.signed, dialect);
        } catch {
          want = null; // no canonical form (float, lone surrogate): the fast path must decline too
        }
        const got = canonicalFromBytes(bytes, dialect);
        if (got !== null) {
          taken++;
          expect([json, got.toString('utf8')]).toEqual([json, want?.toString('utf8')]);
          expect(got.equals(want!)).toBe(true);
        }
        if (sorted && want) {
          sortedValid++;
          if (got) sortedTaken++;
        }
        if (!sorted && want) {
          unsortedValid++;
          if (got) unsortedTaken++;
        }
      }
      expect(taken).toBeGreaterThan(1000);
      // Sorted documents whose strings need no other escapes: the fast path is taken for them.
      expect(sortedTaken).toBeGreaterThan(sortedValid / 4);
      // ... and for unsorted ones too: their members are put in order.
      expect(unsortedTaken).toBeGreaterThan(unsortedValid / 4);
    });
  }

  it('takes the fast path for files as TUF tools write them, compact or indented, and returns the file bytes', () => {
    const signed = sortKeys({
      _type: 'targets',
      version: 3,
      expires: '2030-01-01T00:00:00Z',
      targets: {
        'a/b.bin': {
          length: 1,
          hashes: { sha256: 'ab' },
          custom: { n: null, t: true, list: [1, -2, 'x"y\\z', 'é😀'] },
        },
      },
    });
    for (const indent of [undefined, 2, '\t']) {
      const bytes = Buffer.from(JSON.stringify({ signatures: [], signed }, null, indent));
      const got = canonicalFromBytes(bytes, 'tuf');
      expect(got?.equals(canonicalize(signed, 'tuf'))).toBe(true);
    }
    const compact = Buffer.from(JSON.stringify({ signed, signatures: [] }));
    expect(canonicalFromBytes(compact, 'tuf')!.buffer).toBe(compact.buffer); // no copy
  });

  it('puts unsorted keys in order, declines duplicates, invalid UTF-8 and a file without signed', () => {
    expect(canonicalFromBytes(Buffer.from('{"signed":{"b":1,"a":2}}'), 'tuf')!.toString()).toBe('{"a":2,"b":1}');
    expect(canonicalFromBytes(Buffer.from('{"signed":{"b":1,"a":2,"b":3}}'), 'tuf')).toBeNull(); // duplicate
    expect(
      canonicalFromBytes(Buffer.from([...Buffer.from('{"signed":"'), 0xff, ...Buffer.from('"}')]), 'tuf'),
    ).toBeNull();
    expect(canonicalFromBytes(Buffer.from('{"signatures":[]}'), 'tuf')).toBeNull();
    expect(canonicalFromBytes(Buffer.from('{"signed":{"a":"\\n"}}'), 'tuf')).toBeNull(); // tuf writes the newline raw
    expect(canonicalFromBytes(Buffer.from('{"signed":{"a":"\\n"}}'), 'ota')!.toString()).toBe('{"a":"\\n"}');
    expect(canonicalFromBytes(Buffer.from('{"signed":{"a":"\\u000A"}}'), 'ota')).toBeNull();
  });
});
