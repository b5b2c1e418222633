/**
 * A FROST group key nobody holds, even against a lying coordinator (issue 9, point 1): real
 * `quorum-signer frost join` processes for alice, bob and carol (key files, FROST identities, each
 * having pinned the others' signing keys) against test/integration/lying-frost-coordinator.ts,
 * which speaks the real wire protocol and lies:
 *
 * - it hands each participant a different identity set (its own X25519 keys for the others) and
 *   plays the others itself, to decrypt the round-2 shares and hold the group secret alone: every
 *   participant refuses the others' identity statements before encrypting anything, so the
 *   coordinator gets no share and cannot sign;
 * - it forwards different round-1 packages to different participants: the transcripts differ, no
 *   one agrees and no share is kept;
 * - it declares the group agreed with a transcript signature a participant never made: no one
 *   keeps a share of a group whose transcript not every participant signed.
 *
 * In each ceremony one participant (alice, then bob, then carol) is a real `quorum-signer frost join`
 * process; the other two run the same command in this process (frost-harness.ts), over a real
 * WebSocket to the lying coordinator.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publicKeyFrom } from '../../protocol/keys.js';
import { FrostStore } from '../../signer-client/frost-store.js';
import { newKeyFile, writeKeyFile } from '../../signer-client/keystore.js';
import { frostJoinHere } from './frost-harness.js';
import { frostJoin, PASSPHRASE, tmpdir } from './harness.js';
import { LyingFrostCoordinator, type Lie } from './lying-frost-coordinator.js';

const names = ['alice', 'bob', 'carol'];
const COST = { N: 1 << 14, r: 8, p: 1 };

describe('a lying coordinator cannot hold or split a FROST group key', () => {
  const dir = tmpdir('quorum-lying-frost-');
  const homes: Record<string, string> = {};
  const members: { name: string; fingerprint: string; identityKey: string }[] = [];
  let fake: LyingFrostCoordinator | null = null;

  beforeAll(() => {
    const pems: Record<string, string> = {};
    for (const name of names) {
      const kf = newKeyFile('ed25519', PASSPHRASE, COST);
      const home = path.join(dir, name);
      fs.mkdirSync(home, { recursive: true, mode: 0o700 });
      writeKeyFile(path.join(dir, `${name}.key.json`), kf);
      pems[name] = kf.publicKey;
      homes[name] = home;
      const identityKey = FrostStore.open(path.join(home, 'frost')).createIdentity(PASSPHRASE, COST);
      members.push({ name, fingerprint: publicKeyFrom(kf.publicKey).fingerprint, identityKey });
    }
    // Each pins the keys the others enrolled with, as keyholders exchange them out of band.
    for (const name of names)
      FrostStore.open(path.join(homes[name]!, 'frost')).pinParticipants(
        names.filter((o) => o !== name).map((o) => ({ name: o, publicKey: pems[o]! })),
      );
  });
  afterAll(async () => {
    await fake?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  let ceremonies = 0;
  /**
   * Start the lying coordinator, point every home at it, and run frost join for all three: one of
   * them (another in each ceremony) as a process.
   */
  async function ceremony(lie: Lie, id: string) {
    const proc = names[ceremonies++ % names.length];
    await fake?.close();
    fake = await new LyingFrostCoordinator(lie, id, 2, members).start();
    for (const name of names)
      fs.writeFileSync(
        path.join(homes[name]!, 'config.json'),
        JSON.stringify({
          server: fake.url,
          pin: null,
          keyFile: path.join(dir, `${name}.key.json`),
          unsafeAllowPlaintext: false,
        }),
      );
    const joins = names.map((n) => (n === proc ? frostJoin : frostJoinHere)(homes[n]!, id));
    const results = await Promise.all(joins.map((j) => j.done));
    return results.map((r, i) => ({ ...r, log: joins[i]!.log() }));
  }

  /** Nobody kept a share: no group usable for any round. */
  function noShares(): void {
    for (const name of names) {
      const store = FrostStore.open(path.join(homes[name]!, 'frost'));
      expect(store.groups(), `${name}'s groups`).toEqual([]);
      expect(fs.readdirSync(path.join(store.dir, 'shares'))).toEqual([]);
    }
  }

  it(
    'hands each participant a different identity set to decrypt the round-2 shares: every participant refuses ' +
      'before encrypting anything, and the coordinator holds no group key',
    async () => {
      const results = await ceremony('split-identities', 'dkg-mitm');
      for (const [i, r] of results.entries()) {
        expect(r.code, `${names[i]}: ${r.log}`).not.toBe(0);
        expect(r.log).toMatch(/FROST_IDENTITY_UNVERIFIED/);
      }
      // Nothing was encrypted to the coordinator's keys, so it has nothing to reconstruct or sign with.
      expect(fake!.messages('frost.dkg.round2')).toEqual([]);
      for (const name of names)
        expect(fake!.stolenSignature(name, Buffer.from('firmware the participants never saw'))).toBeNull();
      // Each named the two participants the coordinator played in its view, not itself.
      const refusals = fake!.received.filter((x) => x.msg.type === 'frost.refuse');
      expect(
        refusals
          .map((x) => [
            x.from,
            x.msg.type === 'frost.refuse' && x.msg.code,
            x.msg.type === 'frost.refuse' && x.msg.participants,
          ])
          .sort(),
      ).toEqual([
        ['alice', 'FROST_IDENTITY_UNVERIFIED', [2, 3]],
        ['bob', 'FROST_IDENTITY_UNVERIFIED', [1, 3]],
        ['carol', 'FROST_IDENTITY_UNVERIFIED', [1, 2]],
      ]);
      noShares();
    },
    180_000,
  );

  it(
    'forwards different round-1 packages to different participants: the transcripts differ, nobody agrees and ' +
      'nobody keeps a share',
    async () => {
      const results = await ceremony('split-round1', 'dkg-split');
      for (const [i, r] of results.entries()) {
        expect(r.code, `${names[i]}: ${r.log}`).not.toBe(0);
        expect(r.log).toMatch(/FROST_TRANSCRIPT_MISMATCH/);
      }
      expect(fake!.messages('frost.dkg.confirm')).toEqual([]);
      noShares();
    },
    180_000,
  );

  it('declares the group agreed with a transcript signature carol never made: nobody keeps a share', async () => {
    const results = await ceremony('forged-agreement', 'dkg-forged');
    // The DKG itself went through (the coordinator relayed it honestly up to the confirmations).
    expect(fake!.messages('frost.dkg.confirm')).toHaveLength(3);
    for (const [i, r] of results.entries()) {
      expect(r.code, `${names[i]}: ${r.log}`).not.toBe(0);
      expect(r.log).toMatch(/FROST_TRANSCRIPT_UNSIGNED[\s\S]*participant 3 \(carol\)/);
    }
    noShares();
  }, 180_000);
});
