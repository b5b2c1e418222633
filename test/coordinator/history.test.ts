/**
 * What a keyholder asks for costs the same whatever the history (issue 9, point 7), in process
 * against a real store: listings come from round_summaries and are paginated; a closed round's
 * summary is frozen, so listings never read past payloads (a database whose past payloads were
 * rewritten to garbage still lists, where parsing them would throw); the replay check is an index
 * look-up that finds a replay however far back (the old scan looked 50 rounds back and parsed each).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listRounds, openRound, RoundError, roundSummary, submitSignature } from '../../coordinator/rounds.js';
import { DATA_FILES } from '../../coordinator/server.js';
import { Store } from '../../coordinator/store.js';
import { encodeSig, signBytes } from '../../protocol/keys.js';
import { historyDataDir, targetsFor, type History } from '../bench/history.js';
import { buildTargets, daysFrom } from '../../protocol/metadata/build.js';

const PAST = 60;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quorum-history-'));
let h: History;
let store: Store;

beforeAll(async () => {
  h = await historyDataDir({ dir, keyholders: 3, targetsThreshold: 3, history: PAST, targetsPerRound: 5 });
  store = new Store(path.join(h.dataDir, DATA_FILES.db));
});
afterAll(() => {
  store?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const plan = (sql: string, ...params: unknown[]) =>
  (store.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[])
    .map((r) => r.detail)
    .join('; ');

describe('round listings', () => {
  it('pages newest first, each page oldest first, with a cursor to the next older page', () => {
    const all = ['root-v1-r1', ...h.past];
    const first = listRounds(store, { limit: 25 });
    expect(first.rounds.map((r) => r.id)).toEqual(all.slice(-25));
    expect(first.next).toBe(all.at(-25));
    const second = listRounds(store, { limit: 25, before: first.next! });
    expect(second.rounds.map((r) => r.id)).toEqual(all.slice(-50, -25));
    const last = listRounds(store, { limit: 25, before: second.next! });
    expect(last.rounds.map((r) => r.id)).toEqual(all.slice(0, -50));
    expect(last.next).toBeNull();
    expect(listRounds(store, { state: 'cancelled', limit: 500 }).rounds.every((r) => r.state === 'cancelled')).toBe(
      true,
    );
    expect(listRounds(store, { state: 'cancelled', limit: 500 }).rounds).toHaveLength(PAST / 2);
    expect(listRounds(store).rounds).toHaveLength(PAST + 1); // default page: 100
    expect(() => listRounds(store, { before: 'no-such-round' })).toThrow(RoundError);
  });

  it('read round_summaries only, through an index, never the rounds table that holds the payloads', () => {
    expect(
      plan('SELECT * FROM round_summaries WHERE state = ? AND seq < ? ORDER BY seq DESC LIMIT ?', 'open', 10, 5),
    ).toMatch(/round_summaries_state/);
    expect(plan("SELECT * FROM rounds WHERE state = 'open'")).toMatch(/USING INDEX rounds_state/);
  });

  it("freeze a closed round's summary: a database whose past payloads were rewritten still lists", () => {
    listRounds(store, { limit: 500 }); // every closed round shown once: summaries frozen
    const frozen = store.db
      .prepare("SELECT COUNT(*) AS n FROM round_summaries WHERE state != 'open' AND info_json IS NOT NULL")
      .get() as { n: number };
    expect(frozen.n).toBe(PAST + 1);
    // An attacker with the file (or a bug) garbles every past payload, root v1's too.
    store.db.prepare("UPDATE rounds SET signed_json = '{garbage', canonical = x'00' WHERE state != 'open'").run();
    const page = listRounds(store, { limit: 500 });
    expect(page.rounds).toHaveLength(PAST + 1);
    expect(page.rounds[0]).toMatchObject({ id: 'root-v1-r1', role: 'root', state: 'released' });
    expect(roundSummary(store, store.round(h.past[3]!)!)).toMatchObject({ id: h.past[3], state: 'cancelled' });
  });
});

describe('the replay check', () => {
  let open: ReturnType<typeof openRound>;
  beforeAll(() => {
    open = openRound(store, {
      role: 'targets',
      reason: 'after a long history',
      deadline: new Date(Date.now() + 86_400_000),
      signed: buildTargets('tuf', 1, daysFrom(new Date(), 31), targetsFor(10_000, 3)),
    });
  });

  it('finds a signature accepted in the first of 60 past rounds: SIG_REPLAY, by index look-ups', () => {
    const first = store.round(h.past[0]!)!;
    const old = store.signatures(first.id)[0]!;
    const k = h.keys.find((x) => x.publicKey.fingerprint === old.fingerprint)!;
    const sub = {
      round: open.id,
      keyid: k.keyid,
      sig: encodeSig(old.sig, 'tuf'),
      keyholder: store.keyholderByName(k.name)!,
    };
    // the old signature, claiming this round's sha256 (the old check scanned 50 rounds back only)
    expect(() => submitSignature(store, { ...sub, sha256: open.sha256 })).toThrow(
      expect.objectContaining({ code: 'SIG_REPLAY' }),
    );
    // an earlier round's sha256, however far back
    expect(() => submitSignature(store, { ...sub, sha256: first.sha256 })).toThrow(
      expect.objectContaining({ code: 'SIG_REPLAY' }),
    );
    // bytes of no round: wrong bytes
    const stray = encodeSig(signBytes(k.privateKey, Buffer.from('{"not":"a round"}')), 'tuf');
    expect(() => submitSignature(store, { ...sub, sig: stray, sha256: open.sha256 })).toThrow(
      expect.objectContaining({ code: 'SIG_WRONG_BYTES' }),
    );
    expect(() =>
      submitSignature(store, { ...sub, sig: stray, sha256: crypto.randomBytes(32).toString('hex') }),
    ).toThrow(expect.objectContaining({ code: 'SIG_WRONG_BYTES' }));
    // and the honest signature still counts
    const good = encodeSig(signBytes(k.privateKey, open.canonical), 'tuf');
    expect(submitSignature(store, { ...sub, sig: good, sha256: open.sha256 }).id).toBe(open.id);
    expect(plan('SELECT id FROM rounds WHERE sha256 = ? AND role = ? AND seq != ? LIMIT 1', 'x', 'targets', 1)).toMatch(
      /USING INDEX rounds_sha256/,
    );
    expect(
      plan('SELECT round_id FROM signatures WHERE sig = ? AND fingerprint = ? LIMIT 1', Buffer.alloc(64), 'x'),
    ).toMatch(/USING INDEX signatures_sig/);
  });

  it('lists the open round live, with its progress', () => {
    const page = listRounds(store, { state: 'open' });
    expect(page.rounds.map((r) => r.id)).toEqual([open.id]);
    expect(page.rounds[0]!.progress[0]!.signed).toHaveLength(1);
  });
});
