/**
 * A tuf data dir with root v1 and targets v1 released in process, as the coordinator does it (one
 * keyholder, thresholds 1): what the living-repository tests and benchmark refresh and renew.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { proposeTargets } from '../../coordinator/proposals.js';
import { tryRelease } from '../../coordinator/release.js';
import { openRound, repoState, submitSignature } from '../../coordinator/rounds.js';
import { DATA_FILES } from '../../coordinator/server.js';
import { Store } from '../../coordinator/store.js';
import { encodeSig, signBytes } from '../../protocol/keys.js';
import { parseMetadata } from '../../protocol/verify.js';
import { historyDataDir, type History } from './history.js';

const DAY_MS = 86_400_000;

export interface LivingRepo {
  h: History;
  /** Open on the data dir's database; the caller closes it. */
  store: Store;
  online: crypto.KeyObject;
  /** When the released timestamp was signed (its expiry minus one day). */
  released: Date;
}

/** `targetsExpiresDays`: the released targets' lifetime (31 days by default, as the coordinator's). */
export async function livingRepo(dir: string, targetsExpiresDays?: number): Promise<LivingRepo> {
  const h = await historyDataDir({ dir, keyholders: 1, targetsThreshold: 1, history: 0, targetsPerRound: 0 });
  const store = new Store(path.join(h.dataDir, DATA_FILES.db));
  const online = crypto.createPrivateKey(fs.readFileSync(path.join(h.dataDir, DATA_FILES.onlineKey)));
  const signed = proposeTargets(repoState(store), {
    expiresDays: targetsExpiresDays,
    add: { 'fw.bin': { length: 3, hashes: { sha256: crypto.createHash('sha256').update('abc').digest('hex') } } },
  });
  const round = openRound(store, {
    role: 'targets',
    reason: 'firmware',
    deadline: new Date(Date.now() + DAY_MS),
    signed,
  });
  const k = h.keys[0]!;
  submitSignature(store, {
    round: round.id,
    keyid: k.keyid,
    sig: encodeSig(signBytes(k.privateKey, round.canonical), 'tuf'),
    sha256: round.sha256,
  });
  const res = await tryRelease(store, h.dataDir, online, round.id);
  if (!res) throw new Error('targets v1 was not released');
  const ts = parseMetadata(res.files['timestamp.json']!, 'timestamp.json', 'timestamp', 'tuf').signed;
  return { h, store, online, released: new Date(Date.parse(String(ts.expires)) - DAY_MS) };
}
