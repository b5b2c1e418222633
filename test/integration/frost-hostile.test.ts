/**
 * FROST signing against a hostile participant (issue 9, point 5), with real processes: a 2-of-3
 * group (alice, bob, carol) is the only targets key of a tuf repository; alice and bob are honest
 * and run `quorum-signer frost sign`; carol is a raw wire client holding her real share, speaking
 * the real protocol, and cheats. Each case is a targets round that must still be released by alice
 * and bob, with carol excluded from its session and never the participant that reported her:
 * an identity-point commitment, a small-order point, a false accusation of an honest participant, a
 * non-canonical share (s + L), and committing first in every attempt without ever answering.
 *
 * The coordinator is a real `quorum serve` process; carol plays her part over the real wire from
 * this process. alice is a real `quorum-signer frost sign` process in the first case and in the one
 * where carol accuses her; otherwise alice, and bob always, run the same command in this process
 * (frost-harness.ts), over the same WebSocket. The set-up (identities, the DKG, the root round) and
 * the administrator's commands run in this process.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ed25519 } from '@noble/curves/ed25519.js';
import type { FrostCommitment, FrostSignRequest } from '../../protocol/frost.js';
import type { ServerMessage } from '../../protocol/wire.js';
import { FrostStore, type FrostKeyholder } from '../../signer-client/frost-store.js';
import { frostIdentitiesHere, frostJoinHere, frostSignHere } from './frost-harness.js';
import { auditEvents, background, newRepo, PASSPHRASE, quorumHere, type Repo, signerHere, until } from './harness.js';
import { canonicalOf, connect, keySigner, type WireClient } from './wire-client.js';
import fs from 'node:fs';

const names = ['alice', 'bob', 'carol'];
/** The identity element (0, 1), and a point of order 8 (RFC 8032 torsion), as 32-byte encodings. */
const IDENTITY = '01'.padEnd(64, '0');
const ORDER_8 = 'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a';
const L = ed25519.Point.CURVE().n;
const TIMEOUT_MS = 3000; // the coordinator gives a silent signer this long

type SignStatus = Extract<ServerMessage, { type: 'frost.sign.status' }>;

describe('FROST signing blames the culprit: a hostile participant cannot stop t honest ones', () => {
  let repo: Repo;
  let carol: WireClient;
  let kh: FrostKeyholder;
  const current = () => path.join(repo.dataDir, 'releases', 'current');
  let seq = 0;

  /** A new targets round that only the group can sign; its id, session and canonical bytes. */
  let last: string | null = null;
  async function openRound(): Promise<{ id: string; session: string; message: Buffer }> {
    // Each case on its own: a round a failed case left open is cancelled first.
    if (last) await quorumHere(['round', 'cancel', last, '--reason', 'next case', '--data-dir', repo.dataDir]);
    const fw = path.join(repo.dir, `fw-${++seq}.bin`);
    fs.writeFileSync(fw, `firmware ${seq}\n`);
    const r = await quorumHere([
      'round',
      'open',
      'targets',
      '--reason',
      `release ${seq}`,
      '--add',
      fw,
      '--name',
      'fw',
      '--version',
      String(seq),
      '--data-dir',
      repo.dataDir,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const id = /opened round (\S+)/.exec(r.stdout)![1]!;
    last = id;
    const p = (await carol.request({ type: 'round.get', round: id })) as Extract<
      ServerMessage,
      { type: 'round.payload' }
    >;
    return { id, session: `${id}.dkg-grp`, message: canonicalOf(p.signed, 'targets', 'tuf') };
  }

  /** The cases (by their round's number) in which alice signs as a process: the first, and the accusation. */
  const ALICE_PROCESS = new Set([1, 3]);
  /** quorum-signer frost sign as alice or bob, in the current case (see ALICE_PROCESS). */
  const honest = (k: 'alice' | 'bob', id: string) =>
    k === 'alice' && ALICE_PROCESS.has(seq)
      ? background(['frost', 'sign', id, '--yes', '--home', repo.homes.alice!, '--timeout-s', '60'])
      : frostSignHere(repo, k, id);

  /** alice and bob sign with quorum-signer frost sign; both must succeed and the round be released. */
  async function honestSign(id: string): Promise<string> {
    const procs = (['alice', 'bob'] as const).map((k) => honest(k, id));
    const logs: string[] = [];
    for (const p of procs) {
      const r = await p.done;
      logs.push(p.log());
      expect(r.code, p.log()).toBe(0);
    }
    expect(repo.coordinator.log).toContain(`round ${id}: signature of FROST group grp by alice, bob stored`);
    const version = Number(/^targets-v(\d+)-/.exec(id)![1]);
    await until(() => {
      const t = JSON.parse(fs.readFileSync(path.join(current(), 'targets.json'), 'utf8')) as {
        signed: { version: number };
      };
      return t.signed.version === version;
    }, `targets v${version} release`);
    return logs.join('\n');
  }

  const status = async (session: string) => (await carol.request({ type: 'frost.sign.get', session })) as SignStatus;

  beforeAll(async () => {
    process.env.QUORUM_FROST_SIGN_TIMEOUT_MS = String(TIMEOUT_MS);
    repo = await newRepo({
      dialect: 'tuf',
      keyholders: names,
      rootKeyholders: ['alice'],
      rootThreshold: 1,
      targetsThreshold: 1,
      releaseRoot: true,
    });
    await frostIdentitiesHere(repo, names);
    const open = await quorumHere([
      'frost',
      'create',
      '--name',
      'grp',
      '--threshold',
      '2',
      ...names.flatMap((n) => ['--participant', n]),
      '--reason',
      '2-of-3 release group',
      '--data-dir',
      repo.dataDir,
    ]);
    expect(open.code, open.stderr).toBe(0);
    const joins = names.map((k) => frostJoinHere(repo.homes[k]!, 'dkg-grp'));
    for (const j of joins) expect((await j.done).code, j.log()).toBe(0);
    const r = await quorumHere([
      'round',
      'open',
      'root',
      '--reason',
      'group signs targets',
      '--add-key',
      'targets=frost:grp',
      '--remove-key',
      'targets=alice',
      '--data-dir',
      repo.dataDir,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const id = /opened round (\S+)/.exec(r.stdout)![1]!;
    expect((await signerHere(['sign', id, '--yes', '--home', repo.homes.alice!])).code).toBe(0);
    await until(() => fs.existsSync(path.join(current(), '2.root.json')), 'root v2 release');
    // carol: her real share, and a raw authenticated connection.
    const group = FrostStore.open(path.join(repo.homes.carol!, 'frost')).groups()[0]!;
    kh = FrostStore.open(path.join(repo.homes.carol!, 'frost')).unlockShare(group.groupPublicKey, PASSPHRASE);
    carol = await connect(repo.coordinator.url, keySigner(repo.keys.carol!));
    await carol.hello;
  }, 300_000);
  afterAll(async () => {
    carol?.close();
    await repo?.coordinator.kill();
  });

  for (const [label, forge] of [
    ['the identity element as her hiding commitment', (c: FrostCommitment) => ({ ...c, hiding: IDENTITY })],
    ['a point of order 8 as her binding commitment', (c: FrostCommitment) => ({ ...c, binding: ORDER_8 })],
  ] as const) {
    it(`carol commits ${label}: refused on arrival and she is excluded; alice and bob sign`, async () => {
      const { id, session } = await openRound();
      const bad = await carol.request({
        type: 'frost.sign.commitment',
        session,
        commitment: forge(kh.commitSync(session)),
      });
      expect(bad.type === 'error' && bad.code, JSON.stringify(bad)).toBe('FROST_COMMITMENT_INVALID');
      expect((await status(session)).excluded).toEqual([3]);
      // Excluded for this session: a valid commitment later is refused too.
      const again = await carol.request({ type: 'frost.sign.commitment', session, commitment: kh.commitSync(session) });
      expect(again.type === 'error' && again.code).toBe('CEREMONY_CONFLICT');
      await honestSign(id);
      const audit = (await auditEvents(repo.dataDir)).filter(
        (e) => e.event === 'frost.sign.bad-commitment' && e.data.round === session,
      );
      expect(audit.map((e) => e.data.keyholder)).toEqual(['carol']);
    }, 120_000);
  }

  it(
    'carol accuses an honest participant with frost.refuse: the coordinator checks the commitment and excludes ' +
      'carol, not alice',
    async () => {
      const { id, session } = await openRound();
      await carol.request({ type: 'frost.sign.commitment', session, commitment: kh.commitSync(session) });
      const alice = honest('alice', id);
      const req = await until(async () => (await status(session)).request, 'the attempt with alice and carol');
      expect(req.commitments.map((c) => c.identifier)).toEqual([1, 3]);
      const ack = (await carol.request({
        type: 'frost.refuse',
        session: req.session,
        code: 'FROST_COMMITMENT_INVALID',
        message: 'alice cheated',
        participants: [1],
      })) as SignStatus;
      expect(ack.excluded).toEqual([3]);
      const bob = honest('bob', id);
      for (const p of [alice, bob]) expect((await p.done).code, p.log()).toBe(0);
      expect(repo.coordinator.log).toContain(`round ${id}: signature of FROST group grp by alice, bob stored`);
    },
    120_000,
  );

  it('carol answers with a non-canonical share (s + L): refused as a bad share naming her; alice and bob sign', async () => {
    const { id, session, message } = await openRound();
    await carol.request({ type: 'frost.sign.commitment', session, commitment: kh.commitSync(session) });
    const alice = honest('alice', id);
    const req = await until(async () => (await status(session)).request, 'the attempt with alice and carol');
    const share = kh.signSync(req, message);
    const v = BigInt(`0x${Buffer.from(share.share, 'hex').reverse().toString('hex')}`) + L;
    const forged = Buffer.from(v.toString(16).padStart(64, '0'), 'hex').reverse().toString('hex');
    const bad = await carol.request({
      type: 'frost.sign.share',
      session: req.session,
      share: { identifier: 3, share: forged },
    });
    expect(bad.type === 'error' && bad.code, JSON.stringify(bad)).toBe('FROST_BAD_SIGNATURE_SHARE');
    expect((await status(session)).excluded).toEqual([3]);
    const bob = honest('bob', id);
    for (const p of [alice, bob]) expect((await p.done).code, p.log()).toBe(0);
  }, 120_000);

  it('carol commits first in every attempt and never answers: excluded after one timeout; alice and bob sign', async () => {
    const { id, session } = await openRound();
    // carol commits at once, and again the moment any attempt she is not in is aborted or formed.
    let commits = 0;
    let inAttempt: FrostSignRequest | null = null;
    let excluded = false;
    const eager = async () => {
      const st = await status(session);
      if (st.excluded.includes(3)) excluded = true;
      if (
        st.done ||
        st.excluded.includes(3) ||
        st.committed.includes(3) ||
        (st.request && st.request.commitments.some((c) => c.identifier === 3))
      ) {
        if (st.request?.commitments.some((c) => c.identifier === 3)) inAttempt = st.request;
        return;
      }
      const r = await carol.request({ type: 'frost.sign.commitment', session, commitment: kh.commitSync(session) });
      if (r.type === 'frost.sign.status') commits++;
    };
    const ours = (m: ServerMessage) =>
      (m.type === 'frost.sign.abort' && m.session.startsWith(`${session}.`)) ||
      (m.type === 'frost.sign.request' && m.request.session.startsWith(`${session}.`));
    carol.ws.on('message', (data) => {
      const m = JSON.parse(data.toString()) as ServerMessage;
      // An attempt of hers aborted: commit again at once, ahead of the honest participants. Once
      // she is excluded, the refusal of that commitment says so (the poll above may not run between
      // her exclusion and the honest pair's signature, after which the session is done).
      if (m.type === 'frost.sign.abort' && m.session.startsWith(`${session}.`))
        void carol.request({ type: 'frost.sign.commitment', session, commitment: kh.commitSync(session) }).then((r) => {
          if (r.type === 'error' && r.code === 'CEREMONY_CONFLICT' && /is excluded from session/.test(r.message))
            excluded = true;
        });
      else if (ours(m)) void eager();
    });
    const poll = setInterval(() => void eager().catch(() => undefined), 50);
    await eager();
    await until(() => commits >= 1, "carol's first commitment");
    const started = Date.now();
    try {
      await honestSign(id);
    } finally {
      clearInterval(poll);
    }
    expect(inAttempt).not.toBeNull(); // she was in an attempt, and silent
    expect(excluded).toBe(true); // and then left out of the session
    expect(Date.now() - started).toBeLessThan(30_000);
    // One attempt lost to her silence, not one per attempt.
    const lost = repo.coordinator.log
      .split('\n')
      .filter(
        (l) => l.includes(`FROST session ${session}: attempt`) && l.includes('aborted: no signature share from carol'),
      );
    expect(lost, repo.coordinator.log).toHaveLength(1);
    const timeouts = (await auditEvents(repo.dataDir)).filter(
      (e) => e.event === 'frost.sign.timeout' && e.data.round === session,
    );
    expect(timeouts.map((e) => e.data.excluded)).toEqual([[3]]);
  }, 120_000);
});
