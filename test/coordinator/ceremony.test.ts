/**
 * The steps of a DKG ceremony on the coordinator (coordinator/frost.ts) in process, against a real
 * store, one case per rule: identities, opening (names, roster, the shared CA/group namespace),
 * round 1, round 2, confirmations (who may send what, at which step, idempotent resends and
 * conflicting ones), what each participant may see, a participant's refusal, cancelling, the
 * deadline, and agreement resumed after a crash. The participants' cryptography is
 * protocol/frost.ts's own (test/protocol/frost.test.ts); authenticated agreement is
 * test/coordinator/frost-agreement.test.ts; the whole ceremony over the wire with real
 * quorum-signer processes is test/integration/frost.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  agree,
  cancelCeremony,
  dkgStatus,
  expireCeremonies,
  groupByName,
  openFleetCaCeremony,
  openRoleKeyCeremony,
  recordIdentity,
  refuseCeremony,
  resumeCeremonies,
  submitDkgConfirm,
  submitDkgRound1,
  submitDkgRound2,
} from '../../coordinator/frost.js';
import { cancelCertRound, createFleetCa } from '../../coordinator/certificates.js';
import type { KeyholderRow } from '../../coordinator/store.js';
import { dkgFinish, dkgStart, signIdentity, signTranscript, transcriptDigest } from '../../protocol/frost.js';
import { localSigner } from '../../protocol/metadata/build.js';
import { newCoordinator, type TestCoordinator } from './fixture.js';

const names = ['alice', 'bob', 'carol'];
const DAY = 86_400_000;

function expectCode(fn: () => unknown, code: string): void {
  expect(fn).toThrow(expect.objectContaining({ code }));
}
async function expectAsyncCode(p: Promise<unknown>, code: string): Promise<void> {
  await expect(p).rejects.toMatchObject({ code });
}

let c: TestCoordinator;
const kh = (name: string): KeyholderRow => c.store.keyholderByName(name)!;
const events = (event: string) =>
  c.store
    .auditRows()
    .filter((r) => r.event === event)
    .map((r) => JSON.parse(r.data) as Record<string, unknown>);
let n = 0;
/** A new role-key ceremony of the three. */
const open = (opts: { deadline?: Date; now?: Date } = {}) =>
  openRoleKeyCeremony(
    c.store,
    {
      name: `g${++n}`,
      threshold: 2,
      participants: names,
      reason: 'test',
      ...(opts.deadline ? { deadline: opts.deadline } : {}),
    },
    opts.now,
  ).id;

beforeAll(async () => {
  c = await newCoordinator({ dialect: 'tuf', keyholders: [...names, 'dave', 'erin'] });
  c.identities([...names, 'dave']);
});
afterAll(() => c.close());

describe('identities', () => {
  it('IDENTITY_INVALID: not 64 hex characters, KEYHOLDER_UNKNOWN: no such keyholder', () => {
    expectCode(() => recordIdentity(c.store, 'alice', 'ab'.repeat(31)), 'IDENTITY_INVALID');
    expectCode(() => recordIdentity(c.store, 'alice', 'zz'.repeat(32)), 'IDENTITY_INVALID');
    expectCode(() => recordIdentity(c.store, 'mallory', c.identityKeys.alice!.publicKey), 'KEYHOLDER_UNKNOWN');
  });
});

describe('opening a ceremony', () => {
  it('REQUEST_INVALID: a group name that is not 1-64 letters, digits, ".", "_" or "-", or ends in "." and digits', () => {
    for (const name of ['', 'a b', 'x'.repeat(65), 'grp.2'])
      expectCode(
        () => openRoleKeyCeremony(c.store, { name, threshold: 2, participants: names, reason: 'r' }),
        'REQUEST_INVALID',
      );
  });

  it('REQUEST_INVALID: a reason and a future deadline are required', () => {
    expectCode(
      () => openRoleKeyCeremony(c.store, { name: 'x', threshold: 2, participants: names, reason: ' ' }),
      'REQUEST_INVALID',
    );
    expectCode(
      () =>
        openRoleKeyCeremony(c.store, {
          name: 'x',
          threshold: 2,
          participants: names,
          reason: 'r',
          deadline: new Date(Date.now() - 1),
        }),
      'REQUEST_INVALID',
    );
  });

  it('KEYHOLDER_UNKNOWN: a participant who is not enrolled; IDENTITY_INVALID: one with no identity recorded', () => {
    expectCode(
      () => openRoleKeyCeremony(c.store, { name: 'x', threshold: 2, participants: ['alice', 'mallory'], reason: 'r' }),
      'KEYHOLDER_UNKNOWN',
    );
    expectCode(
      () => openRoleKeyCeremony(c.store, { name: 'x', threshold: 2, participants: ['alice', 'erin'], reason: 'r' }),
      'IDENTITY_INVALID',
    );
  });

  it('FROST_CEREMONY_INVALID: a threshold above the participants, or a participant named twice', () => {
    expectCode(
      () => openRoleKeyCeremony(c.store, { name: 'x', threshold: 4, participants: names, reason: 'r' }),
      'FROST_CEREMONY_INVALID',
    );
    expectCode(
      () =>
        openRoleKeyCeremony(c.store, { name: 'x', threshold: 2, participants: ['alice', 'alice', 'bob'], reason: 'r' }),
      'FROST_CEREMONY_INVALID',
    );
  });

  it('CA_EXISTS: one namespace for groups and CAs; a ceremony under way or done holds its name', () => {
    const id = openRoleKeyCeremony(c.store, { name: 'shared', threshold: 2, participants: names, reason: 'r' }).id;
    expect(id).toBe('dkg-shared');
    expectCode(
      () => openRoleKeyCeremony(c.store, { name: 'shared', threshold: 2, participants: names, reason: 'r' }),
      'CA_EXISTS',
    );
    expectCode(
      () =>
        openFleetCaCeremony(c.store, {
          name: 'shared',
          fleetName: 'Fleet',
          threshold: 2,
          participants: names,
          reason: 'r',
        }),
      'CA_EXISTS',
    );
    cancelCeremony(c.store, id, 'free the name');
    // After a failed ceremony the name is free again; the next ceremony has the next id.
    expect(openRoleKeyCeremony(c.store, { name: 'shared', threshold: 2, participants: names, reason: 'r' }).id).toBe(
      'dkg-shared-2',
    );
  });

  it('stores the roster and the purpose, and audits the opening', () => {
    const id = open();
    const r = c.store.frostCeremony(id)!;
    expect(r).toMatchObject({ state: 'round1', purpose: { kind: 'role-key', name: `g${n}` }, group: null });
    expect(r.ceremony.participants.map((p) => [p.identifier, p.name, p.identityKey])).toEqual(
      names.map((x, i) => [i + 1, x, c.identityKeys[x]!.publicKey]),
    );
    expect(events('frost.dkg.opened').at(-1)).toMatchObject({ ceremony: id, digest: r.digest, threshold: 2 });
  });
});

describe('round 1', () => {
  it('CEREMONY_NOT_FOUND, CEREMONY_NOT_PARTICIPANT (a stranger, or a package from another identifier)', async () => {
    const id = open();
    const cer = c.store.frostCeremony(id)!.ceremony;
    const { round1 } = dkgStart(cer, 1);
    const identity = await signIdentity(cer, 'alice', localSigner(c.holders.alice!.privateKey));
    expectCode(() => submitDkgRound1(c.store, 'dkg-none', kh('alice'), round1, identity), 'CEREMONY_NOT_FOUND');
    expectCode(() => submitDkgRound1(c.store, id, kh('dave'), round1, identity), 'CEREMONY_NOT_PARTICIPANT');
    expectCode(() => submitDkgRound1(c.store, id, kh('bob'), round1, identity), 'CEREMONY_NOT_PARTICIPANT');
    expect(c.store.dkgRound1(id)).toEqual([]);
  });

  it('CEREMONY_CONFLICT: a package for another ceremony digest, or with another number of commitments', async () => {
    const id = open();
    const cer = c.store.frostCeremony(id)!.ceremony;
    const { round1 } = dkgStart(cer, 1);
    const identity = await signIdentity(cer, 'alice', localSigner(c.holders.alice!.privateKey));
    expectCode(
      () => submitDkgRound1(c.store, id, kh('alice'), { ...round1, ceremonyDigest: 'ab'.repeat(32) }, identity),
      'CEREMONY_CONFLICT',
    );
    expectCode(
      () =>
        submitDkgRound1(
          c.store,
          id,
          kh('alice'),
          { ...round1, commitment: [...round1.commitment, round1.commitment[0]!] },
          identity,
        ),
      'CEREMONY_CONFLICT',
    );
  });

  it('takes the same package again as a no-op; another package from the same participant is CEREMONY_CONFLICT', async () => {
    const id = open();
    const cer = c.store.frostCeremony(id)!.ceremony;
    const identity = await signIdentity(cer, 'alice', localSigner(c.holders.alice!.privateKey));
    const first = dkgStart(cer, 1).round1;
    expect(submitDkgRound1(c.store, id, kh('alice'), first, identity).log).toMatch(/round 1 from alice \(1\/3\)/);
    expect(submitDkgRound1(c.store, id, kh('alice'), first, identity)).toEqual({});
    expectCode(() => submitDkgRound1(c.store, id, kh('alice'), dkgStart(cer, 1).round1, identity), 'CEREMONY_CONFLICT');
    expect(c.store.dkgRound1(id).map((x) => x.package)).toEqual([first]);
  });

  it('moves to round 2 with the last package and sends every participant all packages and statements', async () => {
    const id = open();
    const { event } = await c.dkg(id, 'round1');
    expect(c.store.frostCeremony(id)!.state).toBe('round2');
    const msg = event.toParticipants!({ identifier: 2, name: 'bob' });
    expect(msg).toMatchObject({ type: 'frost.dkg.round1.all', ceremony: id });
    expect((msg as { packages: unknown[]; identities: unknown[] }).packages).toHaveLength(3);
    expect((msg as { packages: unknown[]; identities: unknown[] }).identities).toHaveLength(3);
  });
});

describe('round 2 and confirmations', () => {
  let id: string;
  beforeAll(async () => {
    id = open();
    await c.dkg(id, 'round1');
  });

  const pkg = (from: number, to: number, ceremony = id) => ({
    ceremonyDigest: c.store.frostCeremony(ceremony)!.digest,
    round1Digest: 'ab'.repeat(32),
    from,
    to,
    ephemeralKey: 'ab'.repeat(32),
    iv: 'ab'.repeat(12),
    ciphertext: 'ab'.repeat(32),
    tag: 'ab'.repeat(16),
  });

  it('CEREMONY_WRONG_STEP: round-2 packages during round 1, a confirmation during round 2, a package to a cancelled ceremony', async () => {
    const early = open();
    expectCode(
      () => submitDkgRound2(c.store, early, kh('alice'), [pkg(1, 2, early), pkg(1, 3, early)]),
      'CEREMONY_WRONG_STEP',
    );
    const cer = c.store.frostCeremony(id)!.ceremony;
    const t = await signTranscript(cer, 1, 'ab'.repeat(32), localSigner(c.holders.alice!.privateKey));
    const confirm = {
      ceremonyDigest: c.store.frostCeremony(id)!.digest,
      round1Digest: 'ab'.repeat(32),
      from: 1,
      groupPublicKey: 'ab'.repeat(32),
      commitments: ['ab'.repeat(32), 'cd'.repeat(32)],
      verifyingShares: names.map((_, i) => ({ identifier: i + 1, verifyingShare: 'ab'.repeat(32) })),
    };
    await expectAsyncCode(submitDkgConfirm(c.store, id, kh('alice'), confirm, t), 'CEREMONY_WRONG_STEP');
    cancelCeremony(c.store, early, 'test');
    const cer2 = c.store.frostCeremony(early)!.ceremony;
    const identity = await signIdentity(cer2, 'alice', localSigner(c.holders.alice!.privateKey));
    expectCode(
      () => submitDkgRound1(c.store, early, kh('alice'), dkgStart(cer2, 1).round1, identity),
      'CEREMONY_WRONG_STEP',
    );
  });

  it('CEREMONY_NOT_PARTICIPANT, CEREMONY_CONFLICT: packages from another sender, to oneself, twice to one, or not to all', () => {
    expectCode(() => submitDkgRound2(c.store, id, kh('alice'), [pkg(2, 3), pkg(2, 1)]), 'CEREMONY_NOT_PARTICIPANT');
    expectCode(() => submitDkgRound2(c.store, id, kh('alice'), [pkg(1, 1), pkg(1, 2)]), 'CEREMONY_CONFLICT');
    expectCode(() => submitDkgRound2(c.store, id, kh('alice'), [pkg(1, 2), pkg(1, 2)]), 'CEREMONY_CONFLICT');
    expectCode(() => submitDkgRound2(c.store, id, kh('alice'), [pkg(1, 2)]), 'CEREMONY_CONFLICT');
    expectCode(
      () => submitDkgRound2(c.store, id, kh('alice'), [{ ...pkg(1, 2), ceremonyDigest: 'cd'.repeat(32) }, pkg(1, 3)]),
      'CEREMONY_CONFLICT',
    );
    expect(c.store.dkgRound2(id)).toEqual([]);
    // the same packages again are a no-op; others from the same sender conflict
    submitDkgRound2(c.store, id, kh('alice'), [pkg(1, 2), pkg(1, 3)]);
    expect(submitDkgRound2(c.store, id, kh('alice'), [pkg(1, 2), pkg(1, 3)])).toEqual({});
    expectCode(
      () => submitDkgRound2(c.store, id, kh('alice'), [pkg(1, 3), { ...pkg(1, 2), tag: 'cd'.repeat(16) }]),
      'CEREMONY_CONFLICT',
    );
    expect(c.store.dkgRound2(id, { sender: 1 }).map((x) => x.recipient)).toEqual([2, 3]);
    expect(dkgStatus(c.store, id, null).round2Received).toEqual([1]);
  });
});

describe('what each participant may see', () => {
  it('round-1 packages once round 1 is complete; only its own round-2 inbox; the admin no inbox', async () => {
    const id = open();
    const cer = c.store.frostCeremony(id)!.ceremony;
    const identity = await signIdentity(cer, 'alice', localSigner(c.holders.alice!.privateKey));
    submitDkgRound1(c.store, id, kh('alice'), dkgStart(cer, 1).round1, identity);
    expect(dkgStatus(c.store, id, 2)).toMatchObject({ round1Received: [1], round1All: [], identities: [] });
    const id2 = open();
    await c.dkg(id2, 'round2');
    const bob = dkgStatus(c.store, id2, 2);
    expect(bob.round1All).toHaveLength(3);
    expect(bob.inbox.map((p) => [p.from, p.to])).toEqual([
      [1, 2],
      [3, 2],
    ]);
    expect(dkgStatus(c.store, id2, null).inbox).toEqual([]);
  });
});

describe('agreement', () => {
  it('records the group once every participant confirmed, and names it frost:NAME', async () => {
    const id = open();
    const { event } = await c.dkg(id);
    const r = c.store.frostCeremony(id)!;
    expect(r.state).toBe('done');
    expect(r.group!.participants.map((p) => p.name)).toEqual(names);
    expect(groupByName(c.store, `g${n}`).ceremony).toBe(id);
    expect(event.toParticipants!({ identifier: 1, name: 'alice' })).toMatchObject({
      type: 'frost.dkg.done',
      group: r.group,
    });
    expect(events('frost.dkg.done').at(-1)).toMatchObject({ ceremony: id, groupPublicKey: r.group!.groupPublicKey });
  });

  it('FROST_TRANSCRIPT_UNSIGNED: a transcript signature by another key; a resent confirmation is a no-op, another conflicts', async () => {
    const id = open();
    const { states } = await c.dkg(id, 'round2');
    const cer = c.store.frostCeremony(id)!.ceremony;
    const st = dkgStatus(c.store, id, 1);
    const digest = transcriptDigest(cer, st.identities, st.round1All);
    const outcome = dkgFinish(states[0]!, st.inbox, c.identityKeys.alice!);
    const byBob = await signTranscript(cer, 1, digest, localSigner(c.holders.bob!.privateKey));
    await expectAsyncCode(
      submitDkgConfirm(c.store, id, kh('alice'), outcome.confirm, byBob),
      'FROST_TRANSCRIPT_UNSIGNED',
    );
    await expectAsyncCode(
      submitDkgConfirm(
        c.store,
        id,
        kh('bob'),
        outcome.confirm,
        await signTranscript(cer, 1, digest, localSigner(c.holders.bob!.privateKey)),
      ),
      'CEREMONY_NOT_PARTICIPANT',
    );
    const own = await signTranscript(cer, 1, digest, localSigner(c.holders.alice!.privateKey));
    expect((await submitDkgConfirm(c.store, id, kh('alice'), outcome.confirm, own)).log).toMatch(
      /confirmation from alice \(1\/3\)/,
    );
    expect(await submitDkgConfirm(c.store, id, kh('alice'), outcome.confirm, own)).toEqual({});
    await expectAsyncCode(
      submitDkgConfirm(c.store, id, kh('alice'), { ...outcome.confirm, groupPublicKey: 'ab'.repeat(32) }, own),
      'CEREMONY_CONFLICT',
    );
  });

  it('agrees after a crash with every confirmation stored but no outcome (resumeCeremonies)', async () => {
    const id = open();
    await c.dkg(id);
    // What a crash between the last confirmation's commit and agree() leaves: the ceremony at step confirm.
    c.store.db
      .prepare(
        "UPDATE frost_ceremonies SET state = 'confirm', group_json = NULL, transcript_digest = NULL WHERE id = ?",
      )
      .run(id);
    const out = await resumeCeremonies(c.store);
    expect(out.map((e) => e.log)).toEqual([expect.stringMatching(new RegExp(`^ceremony ${id} done`))]);
    expect(c.store.frostCeremony(id)!.state).toBe('done');
    expect(await agree(c.store, c.store.frostCeremony(id)!)).toMatchObject({}); // already done: recorded once
    expect(events('frost.dkg.done').filter((e) => e.ceremony === id)).toHaveLength(2);
  });

  it('a fleet-ca ceremony registers the FROST CA and opens its fleet root certificate round', async () => {
    const id = openFleetCaCeremony(c.store, {
      name: 'fleet-g',
      fleetName: 'Group Fleet',
      threshold: 2,
      participants: names,
      reason: 'r',
    }).id;
    const { event } = await c.dkg(id);
    expect(event.certRound).toMatchObject({ ca: 'fleet-g', profile: 'fleet-root', state: 'open' });
    expect(c.store.ca('fleet-g')).toMatchObject({
      kind: 'frost',
      holder: null,
      approvers: names,
      approvals_threshold: 2,
      frost_ceremony: id,
    });
  });
});

describe('stopping a ceremony', () => {
  it("a participant's refusal fails the ceremony naming who reported what; nothing happens once it is over", async () => {
    const id = open();
    const ev = refuseCeremony(c.store, id, kh('bob'), 'FROST_SHARE_INVALID', 'a bad share from 3', [3]);
    expect(c.store.frostCeremony(id)!).toMatchObject({
      state: 'failed',
      failure: expect.stringMatching(/^FROST_SHARE_INVALID reported by bob \(participant 2\)/),
    });
    expect(ev.toParticipants!({ identifier: 1, name: 'alice' })).toMatchObject({
      type: 'frost.dkg.failed',
      code: 'FROST_SHARE_INVALID',
      participants: [3],
    });
    expect(refuseCeremony(c.store, id, kh('alice'), 'X', 'again', [])).toEqual({});
    expectCode(() => refuseCeremony(c.store, id, kh('dave'), 'X', 'stranger', []), 'CEREMONY_NOT_PARTICIPANT');
  });

  it('cancels with a reason (REQUEST_INVALID without one); a done or failed ceremony is CEREMONY_WRONG_STEP', async () => {
    const id = open();
    expectCode(() => cancelCeremony(c.store, id, ' '), 'REQUEST_INVALID');
    cancelCeremony(c.store, id, 'alice lost her laptop');
    expect(events('frost.dkg.cancelled').at(-1)).toEqual({ ceremony: id, reason: 'alice lost her laptop' });
    expectCode(() => cancelCeremony(c.store, id, 'again'), 'CEREMONY_WRONG_STEP');
    const done = open();
    await c.dkg(done);
    expectCode(() => cancelCeremony(c.store, done, 'too late'), 'CEREMONY_WRONG_STEP');
  });

  it('fails a ceremony at its deadline, naming whom it waited for; not a moment before', async () => {
    const now = new Date();
    const id = open({ deadline: new Date(now.getTime() + DAY), now });
    const cer = c.store.frostCeremony(id)!.ceremony;
    submitDkgRound1(
      c.store,
      id,
      kh('bob'),
      dkgStart(cer, 2).round1,
      await signIdentity(cer, 'bob', localSigner(c.holders.bob!.privateKey)),
    );
    expect(expireCeremonies(c.store, new Date(now.getTime() + DAY - 1)).map((x) => x.id)).not.toContain(id);
    const out = expireCeremonies(c.store, new Date(now.getTime() + DAY));
    expect(out.map((x) => x.id)).toContain(id);
    expect(c.store.frostCeremony(id)!.failure).toMatch(/^DEADLINE: .* at step round1, waiting for alice, carol;/);
    expect(events('frost.dkg.expired').at(-1)).toMatchObject({
      ceremony: id,
      step: 'round1',
      waiting: ['alice', 'carol'],
    });
  });

  it('without a deadline, a ceremony under way gives up 7 days after it opened', () => {
    const now = new Date();
    const id = open({ now });
    expect(expireCeremonies(c.store, new Date(now.getTime() + 7 * DAY - 1000)).map((x) => x.id)).not.toContain(id);
    expect(expireCeremonies(c.store, new Date(now.getTime() + 7 * DAY)).map((x) => x.id)).toContain(id);
  });
});

describe('a FROST CA and the CA namespace', () => {
  const fleetCa = () =>
    openFleetCaCeremony(c.store, {
      name: 'gfleet',
      fleetName: 'Group Fleet',
      threshold: 2,
      participants: names,
      reason: 'r',
    });
  const openRoundOf = (ca: string) => c.store.certRounds('open').find((r) => r.ca === ca)!;

  it('a group CA whose fleet root round was cancelled is retired by the next ceremony for its name, which holds the name while under way; a key-held CA may take it after that', async () => {
    const first = fleetCa().id;
    await c.dkg(first);
    const oldKey = c.store.ca('gfleet')!.issuer_fingerprint;
    const round1 = openRoundOf('gfleet');
    expectCode(fleetCa, 'CA_EXISTS'); // its round is open
    cancelCertRound(c.store, round1.id, 'wrong fleet name');

    const second = fleetCa().id;
    expect(second).toBe('dkg-gfleet-2');
    expect(c.store.ca('gfleet.retired-1')).toMatchObject({
      kind: 'frost',
      retired_from: 'gfleet',
      issuer_fingerprint: oldKey,
      frost_ceremony: first,
    });
    expect(c.store.ca('gfleet')).toBeUndefined();
    // While the ceremony is under way, the name is its own.
    const keyHeld = () =>
      createFleetCa(c.store, {
        name: 'gfleet',
        holder: 'alice',
        fleetName: 'X',
        approvers: ['bob'],
        approvals: 1,
        reason: 'r',
      });
    await expect(keyHeld()).rejects.toMatchObject({
      code: 'CA_EXISTS',
      message: expect.stringContaining(`under way (${second}, round1)`),
    });
    await c.dkg(second);
    expect(c.store.ca('gfleet')!.issuer_fingerprint).not.toBe(oldKey);
    expect(c.store.certRound(round1.id)).toMatchObject({ ca: 'gfleet.retired-1', state: 'cancelled' });

    cancelCertRound(c.store, openRoundOf('gfleet').id, 'a key-held root after all');
    await keyHeld();
    expect(
      c.store
        .cas()
        .filter((x) => x.name.startsWith('gfleet'))
        .map((x) => [x.name, x.kind]),
    ).toEqual([
      ['gfleet', 'single'],
      ['gfleet.retired-1', 'frost'],
      ['gfleet.retired-2', 'frost'],
    ]);
    expect(events('ca.retired').filter((e) => e.name === 'gfleet')).toEqual([
      expect.objectContaining({ retiredAs: 'gfleet.retired-1', kind: 'frost', ceremony: first }),
      expect.objectContaining({ retiredAs: 'gfleet.retired-2', kind: 'frost', ceremony: second }),
    ]);
  });
});
