/**
 * A coordinator data dir with a long history, made fast: `quorum init` (in process) with
 * `keyholders` Ed25519 keyholders (root threshold 1, targets threshold `targetsThreshold`), root
 * version 1 signed and released as the coordinator does it, then `history` past targets rounds of
 * `targetsPerRound` targets each written straight into SQLite, alternately released and cancelled,
 * each with one keyholder's real signature over its canonical bytes (the rows a long-lived
 * coordinator accumulates; no release files are written for them). Shared by the load benchmark
 * and the history tests.
 */
import crypto, { type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { init } from '../../coordinator/init.js';
import { tryRelease } from '../../coordinator/release.js';
import { submitSignature } from '../../coordinator/rounds.js';
import { DATA_FILES } from '../../coordinator/server.js';
import { Store } from '../../coordinator/store.js';
import type { Dialect } from '../../protocol/canonical.js';
import { encodeSig, generateKeyPair, signBytes, type PublicKey } from '../../protocol/keys.js';
import { buildTargets, daysFrom, keyIdOf, type TargetSpec } from '../../protocol/metadata/build.js';
import { parseMetadata } from '../../protocol/verify.js';

export interface HistoryKey {
  name: string;
  privateKey: KeyObject;
  publicKey: PublicKey;
  keyid: string;
}

export interface History {
  dataDir: string;
  dialect: Dialect;
  keys: HistoryKey[];
  /** Ids of the past rounds, oldest first. */
  past: string[];
}

/** `n` targets named `fw-<round>-<i>`, 1 KiB each (hashes of their names). */
export function targetsFor(round: number, n: number): Record<string, TargetSpec> {
  const out: Record<string, TargetSpec> = {};
  for (let i = 0; i < n; i++) {
    const name = `fw-${round}-${i}.bin`;
    out[name] = { length: 1024, hashes: { sha256: crypto.createHash('sha256').update(name).digest('hex') } };
  }
  return out;
}

/** Canonical bytes of a proposed `signed` body, as the coordinator computes them. */
export function canonicalOf(signed: Record<string, unknown>, role: 'root' | 'targets', dialect: Dialect): Buffer {
  return parseMetadata(Buffer.from(JSON.stringify({ signatures: [], signed })), `proposed ${role}`, role, dialect)
    .canonical;
}

export async function historyDataDir(opts: {
  dir: string;
  dialect?: Dialect;
  keyholders: number;
  targetsThreshold: number;
  history: number;
  targetsPerRound: number;
}): Promise<History> {
  const dialect = opts.dialect ?? 'tuf';
  const dataDir = path.join(opts.dir, 'data');
  fs.mkdirSync(opts.dir, { recursive: true });
  const keys: HistoryKey[] = [];
  const keyholders: Record<string, string> = {};
  for (let i = 0; i < opts.keyholders; i++) {
    const name = `k${i}`;
    const { privateKey, publicKey } = generateKeyPair('ed25519');
    const pem = path.join(opts.dir, `${name}.pub.pem`);
    fs.writeFileSync(pem, publicKey.keyObject.export({ type: 'spki', format: 'pem' }));
    keyholders[name] = pem;
    keys.push({ name, privateKey, publicKey, keyid: keyIdOf(publicKey, dialect) });
  }
  init({
    dataDir,
    dialect,
    keyholders,
    rootKeyholders: [keys[0]!.name],
    targetsKeyholders: keys.map((k) => k.name),
    rootThreshold: 1,
    targetsThreshold: opts.targetsThreshold,
  });
  const store = new Store(path.join(dataDir, DATA_FILES.db));
  try {
    // Root version 1, signed and released as the coordinator would.
    const root = store.round('root-v1-r1')!;
    const k0 = keys[0]!;
    submitSignature(store, {
      round: root.id,
      keyid: k0.keyid,
      sig: encodeSig(signBytes(k0.privateKey, root.canonical), dialect),
      sha256: root.sha256,
    });
    const online = crypto.createPrivateKey(fs.readFileSync(path.join(dataDir, DATA_FILES.onlineKey)));
    if (!(await tryRelease(store, dataDir, online, root.id))) throw new Error('history: root v1 was not released');

    // The past: closed rounds straight into SQLite, in transactions of 50.
    const past: string[] = [];
    const created = Date.now() - opts.history * 3_600_000;
    for (let start = 1; start <= opts.history; start += 50) {
      store.tx(() => {
        for (let i = start; i < Math.min(start + 50, opts.history + 1); i++) {
          const signed = buildTargets(dialect, i, daysFrom(new Date(created), 31), targetsFor(i, opts.targetsPerRound));
          const canonical = canonicalOf(signed, 'targets', dialect);
          const seq = store.nextRoundSeq();
          const id = `targets-v${i}-r${seq}`;
          const at = new Date(created + i * 3_600_000).toISOString();
          const state = i % 2 ? 'released' : 'cancelled';
          store.insertRound({
            id,
            role: 'targets',
            version: i,
            base_root_version: 1,
            signed_json: JSON.stringify(signed),
            canonical,
            sha256: crypto.createHash('sha256').update(canonical).digest('hex'),
            reason: `past round ${i}`,
            deadline: at,
            state: 'open',
            created_at: at,
          });
          const k = keys[i % keys.length]!;
          store.insertSignature({
            round_id: id,
            fingerprint: k.publicKey.fingerprint,
            keyholder: k.name,
            sig: signBytes(k.privateKey, canonical),
            received_at: at,
          });
          store.setRoundState(id, 'open', state, at);
          past.push(id);
        }
      });
    }
    return { dataDir, dialect, keys, past };
  } finally {
    store.close();
  }
}
