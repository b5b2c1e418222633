/**
 * Text from elsewhere shown on a terminal (protocol/display.ts): every control character, escape
 * sequence and invisible formatting character is shown escaped, so none can hide or rewrite what a
 * person reads; JSON output stays the same JSON value.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { displayBlock, displayJson, displayText } from '../../protocol/display.js';

// What a terminal (or a bidi-aware renderer) acts on instead of showing.
const HIDDEN = [
  ...Array.from({ length: 0x20 }, (_, i) => i),
  0x7f,
  ...Array.from({ length: 0x20 }, (_, i) => 0x80 + i),
  0x061c,
  0x200b,
  0x200c,
  0x200d,
  0x200e,
  0x200f,
  0x2028,
  0x2029,
  0x202a,
  0x202b,
  0x202c,
  0x202d,
  0x202e,
  0x2060,
  0x2066,
  0x2067,
  0x2068,
  0x2069,
  0xfeff,
  0xd800,
  0xdfff,
].map((c) => String.fromCharCode(c));
const shown = (s: string) => [...s].every((c) => !HIDDEN.includes(c));

describe('displayText', () => {
  it('escapes C0, DEL, C1, ESC sequences and bidi overrides, and keeps the rest', () => {
    expect(displayText('fw\x1b[2K\rfirmware-1.0')).toBe('fw\\x1b[2K\\rfirmware-1.0');
    expect(displayText('a\nb\tc\u0000d\u007fe\u009bf')).toBe('a\\nb\\tc\\x00d\\x7fe\\x9bf');
    expect(displayText('evil\u202Egnp.exe')).toBe('evil\\u202egnp.exe');
    expect(displayText('\u2066x\u2069\u200e\u200f\u061c\ufeff')).toBe('\\u2066x\\u2069\\u200e\\u200f\\u061c\\ufeff');
    expect(displayText('lone \ud800 high, pair \u{1F600} kept')).toBe('lone \\ud800 high, pair \u{1F600} kept');
    expect(displayText('é ü 日本 targets/fw.bin')).toBe('é ü 日本 targets/fw.bin');
  });

  it('doubles a backslash, so typed text never looks like an escape', () => {
    expect(displayText('\\x1b')).toBe('\\\\x1b');
    expect(displayText('\x1b')).toBe('\\x1b');
  });

  it('leaves nothing a terminal would act on, for any string', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 40 }),
        fc.string({ unit: fc.constantFrom(...HIDDEN), maxLength: 8 }),
        (a, b) => shown(displayText(a + b + a)),
      ),
      { numRuns: 500 },
    );
  });
});

describe('displayBlock and displayJson', () => {
  it('a block keeps its newlines and escapes everything else', () => {
    expect(displayBlock('line 1\nline\x1b[1A 2\u202e\n')).toBe('line 1\nline\\x1b[1A 2\\u202e\n');
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (s) => shown(displayBlock(s).replace(/\n/g, ''))),
      { numRuns: 500 },
    );
  });

  it('JSON output is the same value with nothing hidden left raw', () => {
    fc.assert(
      fc.property(
        fc.jsonValue(),
        fc.string({ unit: fc.constantFrom(...HIDDEN, 'a', '"', '\\'), maxLength: 10 }),
        (v, s) => {
          const value = { v, s, [s]: s };
          const out = displayJson(value);
          expect(JSON.parse(out)).toEqual(JSON.parse(JSON.stringify(value)));
          expect(shown(out.replace(/\n/g, ''))).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});
