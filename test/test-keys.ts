/**
 * RSA private keys made once for the tests (test/fixtures/test-keys/, PROVENANCE.md), for tests
 * that need an RSA key of a given size but are not about making one: generating an RSA key costs
 * 0.2 s of CPU on average at 2048 bits, 0.5 s at 3072 and 1.7 s at 4096 (0.5 to 3.4 s: the prime
 * search is random). generateKeyPair itself is tested in test/protocol/keys.test.ts, which still
 * makes its keys.
 */
import crypto, { type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import { publicKeyFrom, type PublicKey } from '../protocol/keys.js';
import { FIXTURES } from './paths.js';

/** The keys there: three distinct 2048-bit keys (a, b, c), one of 3072 and one of 4096 bits. */
export type TestRsaKey = 'rsa-2048-a' | 'rsa-2048-b' | 'rsa-2048-c' | 'rsa-3072' | 'rsa-4096';

const cache = new Map<TestRsaKey, KeyObject>();

/** The private key `name` (PKCS#8 PEM in test/fixtures/test-keys/NAME.pem). */
export function testRsaKey(name: TestRsaKey): KeyObject {
  let k = cache.get(name);
  if (!k) {
    k = crypto.createPrivateKey(fs.readFileSync(path.join(FIXTURES, 'test-keys', `${name}.pem`)));
    cache.set(name, k);
  }
  return k;
}

/** `name` as generateKeyPair returns a pair: the private key and its PublicKey. */
export function testRsaPair(name: TestRsaKey): { privateKey: KeyObject; publicKey: PublicKey } {
  const privateKey = testRsaKey(name);
  return { privateKey, publicKey: publicKeyFrom(crypto.createPublicKey(privateKey)) };
}
