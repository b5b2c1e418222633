/**
 * The coordinator's side of an authenticated DKG (coordinator/frost.ts), in process against a real
 * SQLite store: a round-1 package is accepted only with its sender's identity statement signed by
 * its enrolled key; a group is agreed only when every participant signed the same transcript; and
 * a group is used only if its record still verifies, so a rewritten database (another group
 * record, a removed transcript signature, a group agreed before identity statements) is refused
 * with FROST_GROUP_UNAUTHENTICATED. One participant's enrolled key is an ECDSA P-256 key on a
 * PKCS#11 token (SoftHSM2, required: this file fails without it): its statement and transcript
 * are signed on the token through the Signer seam.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ceremonyOf,
  dkgStatus,
  doneGroups,
  groupByName,
  openRoleKeyCeremony,
  recordIdentity,
  submitDkgConfirm,
  submitDkgRound1,
  submitDkgRound2,
  usableGroup,
} from '../../coordinator/frost.js';
import { enrollKeyholder } from '../../coordinator/rounds.js';
import { Store } from '../../coordinator/store.js';
import {
  checkIdentities,
  identityMessage,
  dkgFinish,
  dkgRound2,
  dkgStart,
  FrostError,
  generateIdentityKey,
  signIdentity,
  signTranscript,
  transcriptDigest,
  type IdentityKey,
} from '../../protocol/frost.js';
import { generateTokenKey, openTokenSigner, type TokenSigner } from '../../signer-client/pkcs11.js';
import { generateKeyPair } from '../../protocol/keys.js';
import { localSigner, type Signer } from '../../protocol/metadata/build.js';

const names = ['alice', 'bob', 'carol'];

function expectFrost(fn: () => unknown, code: string, participants?: number[]): void {
  let e: unknown;
  try {
    fn();
  } catch (x) {
    e = x;
  }
  expect(e, `expected ${code}`).toBeInstanceOf(Error);
  expect((e as FrostError).code, (e as Error).message).toBe(code);
  if (participants) expect((e as FrostError).participants).toEqual(participants);
}

describe('the coordinator agrees on a FROST group only with signed identities and equal signed transcripts', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quorum-frost-agree-'));
  const file = path.join(dir, 'quorum.db');
  let store: Store;
  const members: { name: string; signer: Signer; identity: IdentityKey }[] = [];

  let token: TokenSigner;

  beforeAll(async () => {
    // carol's key is on a SoftHSM2 token.
    const tokens = path.join(dir, 'tokens');
    fs.mkdirSync(tokens);
    const conf = path.join(dir, 'softhsm2.conf');
    fs.writeFileSync(conf, `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\n`);
    process.env.SOFTHSM2_CONF = conf;
    execFileSync('softhsm2-util', ['--init-token', '--free', '--label', 'frost', '--pin', '1234', '--so-pin', '5678'], {
      stdio: 'pipe',
    });
    const pin = async () => '1234';
    const key = await generateTokenKey({
      module: '/usr/lib/softhsm/libsofthsm2.so',
      token: 'frost',
      label: 'carol',
      type: 'ecdsa',
      pin,
    });
    token = await openTokenSigner({ module: '/usr/lib/softhsm/libsofthsm2.so', uri: key.uri, pin });
    store = new Store(file);
    store.setMeta('dialect', 'tuf');
    for (const name of names) {
      const own = name === 'carol' ? null : generateKeyPair('ed25519');
      const signer = own ? localSigner(own.privateKey) : token;
      enrollKeyholder(store, name, signer.publicKey.keyObject.export({ type: 'spki', format: 'pem' }).toString());
      const identity = generateIdentityKey();
      recordIdentity(store, name, identity.publicKey);
      members.push({ name, signer, identity });
    }
  }, 60_000);
  afterAll(() => {
    token?.close();
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const kh = (name: string) => store.keyholderByName(name)!;

  /**
   * A whole ceremony through the coordinator's functions; `transcriptOf` may make a participant sign another digest.
   */
  async function ceremony(
    name: string,
    transcriptOf: (i: number, digest: string) => string = (_i, d) => d,
  ): Promise<string> {
    const id = openRoleKeyCeremony(store, { name, threshold: 2, participants: names, reason: 'test' }).id;
    const c = ceremonyOf(store.frostCeremony(id)!);
    const started = members.map((_, i) => dkgStart(c, i + 1));
    for (const [i, m] of members.entries())
      submitDkgRound1(store, id, kh(m.name), started[i]!.round1, await signIdentity(c, m.name, m.signer));
    const st = dkgStatus(store, id, 1);
    expect(st.identities).toHaveLength(3);
    for (const [i, m] of members.entries())
      submitDkgRound2(store, id, kh(m.name), dkgRound2(started[i]!.state, st.round1All, m.identity));
    const digest = transcriptDigest(c, st.identities, st.round1All);
    for (const [i, m] of members.entries()) {
      const outcome = dkgFinish(started[i]!.state, dkgStatus(store, id, i + 1).inbox, m.identity);
      await submitDkgConfirm(
        store,
        id,
        kh(m.name),
        outcome.confirm,
        await signTranscript(c, i + 1, transcriptOf(i + 1, digest), m.signer),
      );
    }
    return id;
  }

  it('agrees when every participant signed the same transcript; the group is usable and its transcript recorded', async () => {
    const id = await ceremony('grp');
    const r = store.frostCeremony(id)!;
    expect(r.state).toBe('done');
    expect(r.transcript_digest).toMatch(/^[0-9a-f]{64}$/);
    expect(dkgStatus(store, id, 2).transcripts.map((t) => t.transcript)).toEqual([
      r.transcript_digest,
      r.transcript_digest,
      r.transcript_digest,
    ]);
    expect(groupByName(store, 'grp').ceremony).toBe(id);
    // carol's statement came from the token (ECDSA, DER); a participant pinning her token key accepts it.
    const c = ceremonyOf(r);
    expect(token.publicKey.algorithm).toBe('ecdsa-p256');
    const pinned = new Map(members.map((m) => [m.name, m.signer.publicKey]));
    expect(
      checkIdentities(c, dkgStatus(store, id, 1).identities, (n) => pinned.get(n)).map((x) => x.statement.keyholder),
    ).toEqual(names);
    expectFrost(
      () =>
        checkIdentities(c, dkgStatus(store, id, 1).identities, (n) =>
          n === 'carol' ? members[0]!.signer.publicKey : pinned.get(n),
        ),
      'FROST_IDENTITY_UNVERIFIED',
      [3],
    );
    expectFrost(
      () => checkIdentities(c, dkgStatus(store, id, 1).identities, (n) => (n === 'bob' ? undefined : pinned.get(n))),
      'FROST_NOT_PINNED',
      [2],
    );
  });

  it('a resent round-1 package with a fresh ECDSA signature over the same statement is the same package', async () => {
    const id = openRoleKeyCeremony(store, { name: 'grp-resend', threshold: 2, participants: names, reason: 'test' }).id;
    const c = ceremonyOf(store.frostCeremony(id)!);
    const { round1 } = dkgStart(c, 3);
    const first = await signIdentity(c, 'carol', token);
    const again = await signIdentity(c, 'carol', token);
    expect(again.signature).not.toBe(first.signature); // ECDSA: a new signature each time
    submitDkgRound1(store, id, kh('carol'), round1, first);
    expect(submitDkgRound1(store, id, kh('carol'), round1, again)).toEqual({});
    expect(store.dkgRound1(id).map((x) => x.identity)).toEqual([first]);
  });

  it(
    'refuses a round-1 identity statement signed by another key, or binding another identity key; nothing is ' +
      'stored',
    async () => {
      const id = openRoleKeyCeremony(store, { name: 'grp-x', threshold: 2, participants: names, reason: 'test' }).id;
      const c = ceremonyOf(store.frostCeremony(id)!);
      const { round1 } = dkgStart(c, 1);
      const stranger = localSigner(generateKeyPair('ed25519').privateKey);
      const byStranger = await signIdentity(c, 'alice', stranger);
      expectFrost(() => submitDkgRound1(store, id, kh('alice'), round1, byStranger), 'FROST_IDENTITY_UNVERIFIED', [1]);
      const own = await signIdentity(c, 'alice', members[0]!.signer);
      const otherKey = { ...own, statement: { ...own.statement, identityKey: generateIdentityKey().publicKey } };
      expectFrost(() => submitDkgRound1(store, id, kh('alice'), round1, otherKey), 'FROST_IDENTITY_UNVERIFIED', [1]);
      // The same key, but for another purpose, threshold or roster: not this ceremony's statement.
      for (const other of [
        { purpose: { kind: 'fleet-ca' as const, name: 'grp-x' } },
        { threshold: 3 },
        { participants: own.statement.participants.slice(0, 2) },
      ]) {
        const changed = { ...own.statement, ...other };
        const sig = (await members[0]!.signer.sign(identityMessage(changed))).toString('base64');
        expectFrost(
          () => submitDkgRound1(store, id, kh('alice'), round1, { statement: changed, signature: sig }),
          'FROST_IDENTITY_UNVERIFIED',
          [1],
        );
      }
      // bob's statement under alice's connection is not alice's
      expectFrost(
        () =>
          submitDkgRound1(store, id, kh('alice'), round1, {
            ...own,
            statement: { ...own.statement, keyholder: 'bob', identifier: 2 },
          }),
        'FROST_IDENTITY_UNVERIFIED',
        [1],
      );
      expect(store.dkgRound1(id)).toEqual([]);
    },
  );

  it('fails the ceremony when one participant signed another transcript, naming it; no group', async () => {
    const id = await ceremony('grp-split', (i, d) => (i === 3 ? 'ab'.repeat(32) : d));
    const r = store.frostCeremony(id)!;
    expect(r.state).toBe('failed');
    expect(r.failure).toMatch(/^FROST_TRANSCRIPT_MISMATCH: participant 3 \(carol\)/);
    expect(r.group).toBeNull();
    expect(() => groupByName(store, 'grp-split')).toThrow(/failed/);
  });

  it(
    'a rewritten database: another group record, a removed transcript signature, or a group agreed before ' +
      'identity statements is refused',
    async () => {
      const other = await ceremony('grp-other');
      const id = store.frostCeremonies().find((r) => r.state === 'done' && r.id === 'dkg-grp')!.id;
      const fresh = () => {
        store.close();
        store = new Store(file); // a fresh process: nothing checked is cached
      };
      // The attacker's group record (another group's key) in place of grp's.
      const saved = store.frostCeremony(id)!;
      store.db
        .prepare('UPDATE frost_ceremonies SET group_json = ? WHERE id = ?')
        .run(JSON.stringify(store.frostCeremony(other)!.group), id);
      fresh();
      expectFrost(() => groupByName(store, 'grp'), 'FROST_GROUP_UNAUTHENTICATED');
      expect(doneGroups(store).map((g) => g.ceremony)).toEqual([other]);
      // A transcript signature removed.
      store.db.prepare('UPDATE frost_ceremonies SET group_json = ? WHERE id = ?').run(JSON.stringify(saved.group), id);
      store.db
        .prepare('UPDATE frost_dkg_confirms SET transcript_json = NULL WHERE ceremony = ? AND participant = 2')
        .run(id);
      fresh();
      expectFrost(() => usableGroup(store, id), 'FROST_GROUP_UNAUTHENTICATED');
      // A group from before identity statements (what migration 6 leaves of it): refused, saying so.
      store.db.prepare('UPDATE frost_ceremonies SET transcript_digest = NULL WHERE id = ?').run(other);
      fresh();
      expect(() => groupByName(store, 'grp-other')).toThrow(/agreed before participants signed identity statements/);
      expect(doneGroups(store)).toEqual([]);
    },
  );
});
