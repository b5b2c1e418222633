/**
 * Benchmark fixtures: signing keys, large `tuf` targets.json files and a long root chain, all
 * written to a temp folder. Generation is linear: the targets object is built in one loop,
 * canonicalised once and signed once per key; the file is written compact (no indentation) so a
 * 1,000,000-target file stays well below V8's maximum string length.
 */
import crypto, { type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { canonicalize } from '../../protocol/canonical.js';
import { generateKeyPair, signBytes, type KeyKind, type PublicKey } from '../../protocol/keys.js';
import { buildRoot, buildTargets, daysFrom, keyIdOf, type Envelope } from '../../protocol/metadata/build.js';

export interface BenchKey {
  kind: KeyKind;
  privateKey: KeyObject;
  publicKey: PublicKey;
  keyid: string;
}

export function benchKey(kind: KeyKind): BenchKey {
  const { privateKey, publicKey } = generateKeyPair(kind);
  return { kind, privateKey, publicKey, keyid: keyIdOf(publicKey, 'tuf') };
}

/** Sign canonical bytes with each key, in the `tuf` dialect (hex signatures, tuf key ids). */
function sign(bytes: Buffer, keys: BenchKey[]): Envelope['signatures'] {
  return keys.map((k) => ({ keyid: k.keyid, sig: signBytes(k.privateKey, bytes).toString('hex') }));
}

/** Compact file bytes: `JSON.stringify` without indentation. */
function compact(env: Envelope): Buffer {
  return Buffer.from(JSON.stringify(env), 'utf8');
}

export interface TargetsRepo {
  dir: string;
  rootPath: string;
  targetsPath: string;
  count: number;
  order: KeyOrder;
  fileBytes: number;
  /** Canonical bytes of `signed`, computed once at generation (the floor verifies over these). */
  canonical: Buffer;
  /** The signing keys in signature order, with their signatures as raw bytes. */
  signatures: { key: BenchKey; sig: Buffer }[];
}

/**
 * A root (root/snapshot/timestamp: one ed25519 key, threshold 1; targets: the three `targetKeys`,
 * threshold 3), written as root.json in `dir`.
 */
export function writeTargetsRoot(dir: string, rootKey: BenchKey, targetKeys: BenchKey[], now: Date): string {
  const one = { keys: [rootKey.publicKey], threshold: 1 };
  const signed = buildRoot({
    dialect: 'tuf',
    version: 1,
    expires: daysFrom(now, 365),
    roles: {
      root: one,
      snapshot: one,
      timestamp: one,
      targets: { keys: targetKeys.map((k) => k.publicKey), threshold: targetKeys.length },
    },
  });
  const bytes = canonicalize(signed, 'tuf');
  const file = path.join(dir, 'root.json');
  fs.writeFileSync(file, compact({ signatures: sign(bytes, [rootKey]), signed }));
  return file;
}

/** A realistic target entry for index `i`; keys are already in canonical (sorted) order. */
function targetEntry(i: number): Record<string, unknown> {
  const seed = `ecu-${i}/image-${i}`;
  return {
    custom: { ecuIdentifier: `ecu-${i}`, hardwareId: `hw-rev-${i % 4}`, releaseCounter: i % 100 },
    hashes: {
      sha256: crypto.createHash('sha256').update(seed).digest('hex'),
      sha512: crypto.createHash('sha512').update(seed).digest('hex'),
    },
    length: 1_048_576 + ((i * 7919) % 67_108_864),
  };
}

/**
 * Key order of the written file. `sorted`: every object's keys in canonical (sorted) order, as
 * TUF tools write files (python-tuf `sort_keys=True`, go-tuf's sorted maps, our own `serialize`).
 * `insertion`: `JSON.stringify` of the object as built (targets in index order, so `ecu-10` before
 * `ecu-2`; header keys in buildTargets' order): same content, unsorted keys.
 */
export type KeyOrder = 'sorted' | 'insertion';

/**
 * Write `<dir>/targets.json` with `count` targets, signed by every key in `keys`.
 * The root must already be in `dir` (see writeTargetsRoot).
 */
export function writeTargets(
  dir: string,
  count: number,
  keys: BenchKey[],
  now: Date,
  order: KeyOrder = 'sorted',
): TargetsRepo {
  const targets: Record<string, Record<string, unknown>> = {};
  const path_ = (i: number) => `firmware/ecu-${i}/image-${i}.bin`;
  if (order === 'sorted') {
    const idx = Array.from({ length: count }, (_, i) => ({ p: path_(i), i }));
    idx.sort((a, b) => (a.p < b.p ? -1 : a.p > b.p ? 1 : 0));
    for (const { p, i } of idx) targets[p] = targetEntry(i);
  } else {
    for (let i = 0; i < count; i++) targets[path_(i)] = targetEntry(i);
  }
  let signed = buildTargets('tuf', 1, daysFrom(now, 365), targets as never);
  if (order === 'sorted')
    signed = Object.fromEntries(
      Object.keys(signed)
        .sort()
        .map((k) => [k, signed[k]]),
    );
  const canonical = canonicalize(signed, 'tuf');
  const sigs = sign(canonical, keys);
  const targetsPath = path.join(dir, 'targets.json');
  const bytes = compact({ signatures: sigs, signed });
  if (order === 'sorted' && !bytes.includes(canonical))
    throw new Error('sorted fixture: file does not contain the canonical bytes verbatim');
  fs.writeFileSync(targetsPath, bytes);
  return {
    dir,
    rootPath: path.join(dir, 'root.json'),
    targetsPath,
    count,
    order,
    fileBytes: bytes.length,
    canonical,
    signatures: sigs.map((s, i) => ({ key: keys[i]!, sig: Buffer.from(s.sig, 'hex') })),
  };
}

/**
 * `N.root.json` for N = 1..versions plus root.json (= the last one) in `dir`. Root role: 2 of 3
 * keys. Version 1 is signed by its three keys. Every later version replaces one root key (the
 * oldest, round robin) with a fresh key (types cycling ed25519, ECDSA P-256, RSA 2048) and is signed
 * by the replaced key, one kept key and the new key: exactly 2 of the old root's keys and exactly
 * 2 of the new root's keys, so both thresholds of every step are met with different key sets.
 */
export function writeRootChain(dir: string, versions: number, now: Date): void {
  const kinds: KeyKind[] = ['ed25519', 'ecdsa', 'rsa'];
  const online = benchKey('ed25519');
  let rootKeys = [benchKey('ed25519'), benchKey('ecdsa'), benchKey('rsa')];
  const expires = daysFrom(now, 365);
  const rootFor = (version: number, keys: BenchKey[]) =>
    buildRoot({
      dialect: 'tuf',
      version,
      expires,
      roles: {
        root: { keys: keys.map((k) => k.publicKey), threshold: 2 },
        targets: { keys: [online.publicKey], threshold: 1 },
        snapshot: { keys: [online.publicKey], threshold: 1 },
        timestamp: { keys: [online.publicKey], threshold: 1 },
      },
    });
  let last: Buffer | null = null;
  for (let v = 1; v <= versions; v++) {
    let signers: BenchKey[];
    if (v === 1) {
      signers = rootKeys;
    } else {
      const slot = (v - 2) % 3;
      const removed = rootKeys[slot]!;
      const kept = rootKeys[(slot + 1) % 3]!;
      const added = benchKey(kinds[(v - 2) % kinds.length]!);
      rootKeys = rootKeys.map((k, i) => (i === slot ? added : k));
      signers = [removed, kept, added];
    }
    const signed = rootFor(v, rootKeys);
    const bytes = canonicalize(signed, 'tuf');
    last = compact({ signatures: sign(bytes, signers), signed });
    fs.writeFileSync(path.join(dir, `${v}.root.json`), last);
  }
  if (last) fs.writeFileSync(path.join(dir, 'root.json'), last);
}
