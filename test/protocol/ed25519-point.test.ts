/**
 * The Ed25519 public-key check without a curve library (keys.ts, plain BigInt) against
 * @noble/curves, RFC 8032 5.1.3 decoding with zip215 off plus isSmallOrder: random encodings
 * (about half name no point), real keys, every small-order point in both signs, non-canonical y.
 */
import crypto from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { describe, expect, it } from 'vitest';
import { ed25519FromRaw } from '../../protocol/keys.js';

function noble(raw: Buffer): boolean {
  try {
    return !ed25519.Point.fromBytes(raw, false).isSmallOrder();
  } catch {
    return false;
  }
}
function ours(raw: Buffer): boolean {
  try {
    ed25519FromRaw(raw);
    return true;
  } catch (e) {
    expect((e as { code?: string }).code).toBe('KEY_INVALID');
    return false;
  }
}

describe('Ed25519 public-key decoding equals noble (zip215 off, no small order)', () => {
  it('on 1500 random encodings, 300 real keys, the small-order points and non-canonical y', () => {
    const cases: Buffer[] = [];
    for (let i = 0; i < 1500; i++) cases.push(crypto.randomBytes(32));
    for (let i = 0; i < 300; i++) cases.push(Buffer.from(ed25519.getPublicKey(ed25519.utils.randomSecretKey())));
    const p = 2n ** 255n - 19n;
    const le = (n: bigint) => Buffer.from(n.toString(16).padStart(64, '0'), 'hex').reverse();
    const y8 = 0x7a03ac9277fdc74ec6cc392cfa53202a0f67100d760b3cba4fd84d3d706a17c7n;
    for (const y of [0n, 1n, p - 1n, y8, p - y8, p, p + 1n, 2n ** 255n - 1n]) {
      for (const sign of [0, 0x80]) {
        const b = le(y);
        b[31] = (b[31]! & 0x7f) | sign;
        cases.push(b);
      }
    }
    let valid = 0;
    for (const c of cases) {
      const want = noble(c);
      expect([c.toString('hex'), ours(c)]).toEqual([c.toString('hex'), want]);
      if (want) valid++;
    }
    expect(valid).toBeGreaterThan(500); // the real keys and about half the random encodings
    expect(valid).toBeLessThan(cases.length - 400);
  });
});
