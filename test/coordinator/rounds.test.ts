/**
 * The round state machine (coordinator/rounds.ts) in process, against a real store: one case per
 * rule. Opening (no targets before a root, a reason, a future deadline, version last + 1, a base
 * that is still the latest, well-formed metadata, one open round per role, the online key able to
 * sign in tuf, released targets still valid under a new root or re-signed with it); signatures (each
 * refusal code, audited, the round left as it was); cancelling and expiring (a linked pair goes
 * together); enrolling keyholders. The wire carries these same codes (test/integration/rounds.test.ts).
 */
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cancelRound,
  enrollKeyholder,
  expireRounds,
  openRound,
  progressLine,
  roundInfo,
  repoState,
  submitSignature,
  type OpenRequest,
} from '../../coordinator/rounds.js';
import { proposeRoot, proposeTargets } from '../../coordinator/proposals.js';
import type { RoundRow } from '../../coordinator/store.js';
import { encodeSig, generateKeyPair } from '../../protocol/keys.js';
import { buildTargets, daysFrom } from '../../protocol/metadata/build.js';
import { newCoordinator, type TestCoordinator } from './fixture.js';

const DAY = 86_400_000;
const soon = (now = new Date()) => new Date(now.getTime() + DAY);
const fw = (name: string) => ({
  [name]: { length: 4, hashes: { sha256: crypto.createHash('sha256').update(name).digest('hex') } },
});

/** Throws a QuorumError with this code (tests assert the code, not the message). */
function expectCode(fn: () => unknown, code: string): void {
  expect(fn).toThrow(expect.objectContaining({ code }));
}

/** The next targets body (version = released + 1) with one more target. */
function targets(c: TestCoordinator, name: string, version?: number): Record<string, unknown> {
  const state = repoState(c.store);
  const body = proposeTargets(state, { add: fw(name) });
  if (version !== undefined) body.version = version;
  return body;
}

function openTargets(c: TestCoordinator, name: string, extra: Partial<OpenRequest> = {}): RoundRow {
  return openRound(c.store, {
    role: 'targets',
    reason: `ship ${name}`,
    deadline: soon(),
    signed: targets(c, name),
    ...extra,
  });
}

const audited = (c: TestCoordinator, event: string) =>
  c.store
    .auditRows()
    .filter((r) => r.event === event)
    .map((r) => JSON.parse(r.data) as Record<string, unknown>);

describe('opening a round', () => {
  let c: TestCoordinator;
  beforeAll(async () => {
    c = await newCoordinator({
      dialect: 'tuf',
      keyholders: ['alice', 'bob', 'carol'],
      root: ['alice', 'bob'],
      targets: ['alice', 'bob', 'carol'],
      rootThreshold: 2,
      targetsThreshold: 2,
    });
  });
  afterAll(() => c.close());

  it('NO_ROOT: no targets round before root version 1 is released', () => {
    expectCode(
      () =>
        openRound(c.store, {
          role: 'targets',
          reason: 'too early',
          deadline: soon(),
          signed: buildTargets('tuf', 1, daysFrom(new Date(), 31), fw('a')),
        }),
      'NO_ROOT',
    );
  });

  it('ROUND_OPEN_EXISTS: one open round per role (the initial root round is open)', () => {
    const root = c.store.openRound('root')!;
    const signed = JSON.parse(root.signed_json) as Record<string, unknown>;
    expectCode(
      () => openRound(c.store, { role: 'root', reason: 'again', deadline: soon(), signed }),
      'ROUND_OPEN_EXISTS',
    );
  });

  it('releases root version 1 once both root keys signed, then opens targets', async () => {
    const root = c.store.openRound('root')!;
    c.sign('alice', root.id);
    expect(await c.release(root.id)).toBeNull(); // 1 of 2
    c.sign('bob', root.id);
    expect((await c.release(root.id))!.files['1.root.json']).toBeDefined();
    expect(c.store.round(root.id)!.state).toBe('released');
    const t = openTargets(c, 'fw-1');
    expect(t.version).toBe(1);
    cancelRound(c.store, t.id, 'made for the test');
  });

  it('ROUND_INVALID: a round needs a reason', () => {
    expectCode(() => openTargets(c, 'x', { reason: '  ' }), 'ROUND_INVALID');
  });

  it('ROUND_INVALID: the deadline must be in the future', () => {
    expectCode(() => openTargets(c, 'x', { deadline: new Date(Date.now() - 1000) }), 'ROUND_INVALID');
  });

  it('ROUND_INVALID: the version must be the last released + 1', () => {
    expectCode(() => openTargets(c, 'x', { signed: targets(c, 'x', 5) }), 'ROUND_INVALID');
    expectCode(() => openTargets(c, 'x', { signed: targets(c, 'x', 0) }), 'ROUND_INVALID');
  });

  it('ROUND_STALE_BASE: a change based on another version than the latest release', () => {
    expectCode(() => openTargets(c, 'x', { baseVersion: 3 }), 'ROUND_STALE_BASE');
    const ok = openTargets(c, 'x', { baseVersion: 0 });
    cancelRound(c.store, ok.id, 'made for the test');
  });

  it('ROUND_INVALID: a proposal that is not metadata of its role and dialect', () => {
    const signed = targets(c, 'x');
    (signed.targets as Record<string, unknown>)['bad.bin'] = { length: -1, hashes: {} };
    expectCode(() => openTargets(c, 'x', { signed }), 'ROUND_INVALID');
    expectCode(() => openTargets(c, 'x', { signed: { ...targets(c, 'x'), _type: 'Targets' } }), 'ROUND_INVALID');
    // no canonical form: a float
    const float = targets(c, 'x');
    (float.targets as Record<string, { custom?: unknown }>)['x']!.custom = { ratio: 0.5 };
    expectCode(() => openTargets(c, 'x', { signed: float }), 'ROUND_INVALID');
  });

  it("ROUND_INVALID (tuf): a root that no longer lets the coordinator's online key sign snapshot and timestamp", () => {
    const state = repoState(c.store);
    const signed = proposeRoot(
      c.store,
      state,
      {
        remove: [{ role: 'timestamp', key: { online: true } }],
        add: [{ role: 'timestamp', key: { keyholder: 'carol' } }],
      },
      c.onlinePublic,
    );
    expectCode(
      () =>
        openRound(c.store, { role: 'root', reason: 'drop online', deadline: soon(), signed, online: c.onlinePublic }),
      'ROUND_INVALID',
    );
  });

  it('ROUND_OPEN_EXISTS: a second targets round while one is open, with the open one named', () => {
    const open = openTargets(c, 'fw-2');
    expect(() => openTargets(c, 'fw-3')).toThrow(new RegExp(open.id));
    expectCode(() => openTargets(c, 'fw-3'), 'ROUND_OPEN_EXISTS');
    cancelRound(c.store, open.id, 'made for the test');
  });

  it('audits each opening with the sha256 of the exact bytes to sign', () => {
    const r = openTargets(c, 'fw-4');
    expect(crypto.createHash('sha256').update(r.canonical).digest('hex')).toBe(r.sha256);
    expect(audited(c, 'round.opened').at(-1)).toMatchObject({
      round: r.id,
      role: 'targets',
      version: r.version,
      sha256: r.sha256,
    });
    cancelRound(c.store, r.id, 'made for the test');
  });
});

for (const dialect of ['tuf', 'ota'] as const) {
  describe(`signatures (${dialect})`, () => {
    let c: TestCoordinator;
    let round: RoundRow;
    let rejected = 0;
    beforeAll(async () => {
      c = await newCoordinator({
        dialect,
        keyholders: ['alice', 'bob', 'carol', 'eve'],
        root: ['alice'],
        targets: ['alice', 'bob', 'carol'],
        targetsThreshold: 2,
        releaseRoot: true,
      });
      round = openTargets(c, 'fw-1');
    });
    afterAll(() => c.close());

    /** Refused with `code`; one more signature.rejected in the audit log, with that code; nothing stored. */
    function expectRejected(fn: () => unknown, code: string): void {
      const before = c.store.signatures(round.id).length;
      expectCode(fn, code);
      const rows = audited(c, 'signature.rejected');
      expect(rows).toHaveLength(++rejected);
      expect(rows.at(-1)).toMatchObject({ code });
      expect(c.store.signatures(round.id)).toHaveLength(before);
    }

    it('ROUND_NOT_FOUND', () => {
      expectRejected(
        () => submitSignature(c.store, { ...c.submission('alice', round), round: 'targets-v9-r99' }),
        'ROUND_NOT_FOUND',
      );
    });

    it('SIG_KEY_NOT_NEEDED: a keyholder whose key the round does not need', () => {
      expectRejected(() => submitSignature(c.store, c.submission('eve', round)), 'SIG_KEY_NOT_NEEDED');
    });

    it("SIG_NOT_YOUR_KEY: a key id naming another keyholder's key", () => {
      expectRejected(
        () => submitSignature(c.store, { ...c.submission('alice', round), keyholder: c.store.keyholderByName('bob')! }),
        'SIG_NOT_YOUR_KEY',
      );
    });

    it('SIG_KEY_NOT_NEEDED: an air-gapped signature (no keyholder) by a key the round does not need', () => {
      expectRejected(() => submitSignature(c.store, c.submission('eve', round, { as: null })), 'SIG_KEY_NOT_NEEDED');
    });

    it('SIG_MALFORMED: not the dialect encoding (hex in tuf, base64 in ota)', () => {
      const sub = c.submission('alice', round);
      const other =
        dialect === 'tuf'
          ? Buffer.from(sub.sig, 'hex').toString('base64')
          : Buffer.from(sub.sig, 'base64').toString('hex') + '!';
      expectRejected(() => submitSignature(c.store, { ...sub, sig: other }), 'SIG_MALFORMED');
    });

    it('SIG_WRONG_BYTES: over other bytes, or naming another sha256', () => {
      expectRejected(
        () => submitSignature(c.store, c.submission('alice', round, { bytes: Buffer.from('{"other":"bytes"}') })),
        'SIG_WRONG_BYTES',
      );
      expectRejected(
        () => submitSignature(c.store, c.submission('alice', round, { sha256: 'ab'.repeat(32) })),
        'SIG_WRONG_BYTES',
      );
    });

    it('accepts a valid signature after the refusals, and audits it', () => {
      expect(submitSignature(c.store, c.submission('alice', round)).state).toBe('open');
      expect(audited(c, 'signature.accepted').at(-1)).toMatchObject({ round: round.id, keyholder: 'alice' });
      expect(roundInfo(c.store, round, repoState(c.store)).progress[0]).toMatchObject({
        signed: ['alice'],
        threshold: 2,
        met: false,
      });
    });

    it('SIG_DUPLICATE: one signature per key', () => {
      expectRejected(() => submitSignature(c.store, c.submission('alice', round)), 'SIG_DUPLICATE');
    });

    it("SIG_REPLAY: round 1's signature, or round 1's sha256, submitted into round 2", async () => {
      c.sign('bob', round.id);
      expect((await c.release(round.id))!.seq).toBeGreaterThan(0);
      const old = c.store.round(round.id)!;
      const aliceOld = c.store.signatures(old.id).find((s) => s.keyholder === 'alice')!;
      round = openTargets(c, 'fw-2');
      const sub = c.submission('alice', round);
      expectRejected(() => submitSignature(c.store, { ...sub, sig: encodeSig(aliceOld.sig, dialect) }), 'SIG_REPLAY');
      expectRejected(
        () => submitSignature(c.store, c.submission('alice', round, { bytes: old.canonical, sha256: old.sha256 })),
        'SIG_REPLAY',
      );
    });

    it('ROUND_NOT_OPEN: a signature on a released or cancelled round', () => {
      const released = c.store.rounds('released').at(-1)!;
      expectRejected(() => submitSignature(c.store, c.submission('carol', released)), 'ROUND_NOT_OPEN');
      cancelRound(c.store, round.id, 'changed our minds');
      expectRejected(() => submitSignature(c.store, c.submission('carol', round)), 'ROUND_NOT_OPEN');
    });

    it('ROUND_NOT_OPEN: a signature that arrives after the deadline expires the round first', () => {
      const now = new Date();
      round = openRound(
        c.store,
        { role: 'targets', reason: 'late', deadline: new Date(now.getTime() + 60_000), signed: targets(c, 'fw-3') },
        now,
      );
      const late = new Date(now.getTime() + 61_000);
      expectRejected(() => submitSignature(c.store, c.submission('alice', round), late), 'ROUND_NOT_OPEN');
      expect(c.store.round(round.id)!.state).toBe('expired');
    });

    it('the audit chain stays intact through every refusal', async () => {
      const { verifyAuditChain } = await import('../../coordinator/store.js');
      expect(verifyAuditChain(c.store.auditRows())).toBeNull();
    });
  });
}

describe('signatures in ota', () => {
  let c: TestCoordinator;
  beforeAll(async () => {
    c = await newCoordinator({
      dialect: 'ota',
      keyholders: ['alice', { name: 'rita', type: 'rsa' }],
      root: ['alice'],
      targets: ['alice', 'rita'],
      targetsThreshold: 2,
      releaseRoot: true,
    });
  });
  afterAll(() => c.close());

  it('SIG_PSS_SALT: an RSA-PSS signature with a salt length other than 32, which the OTA Connect servers refuse', async () => {
    const r = openTargets(c, 'fw-2');
    const sig = crypto.sign('sha256', r.canonical, {
      key: c.holders.rita!.privateKey,
      padding: crypto.constants.RSA_PKCS1_PSS_PADDING,
      saltLength: 20,
    });
    expectCode(
      () => submitSignature(c.store, { ...c.submission('rita', r), sig: encodeSig(sig, 'ota') }),
      'SIG_PSS_SALT',
    );
    c.sign('rita', r.id); // salt 32
    c.sign('alice', r.id);
    expect(await c.release(r.id)).not.toBeNull();
  });

  it('KEYHOLDER refused: an ECDSA key cannot sign ota metadata', () => {
    const pem = generateKeyPair('ecdsa').publicKey.keyObject.export({ type: 'spki', format: 'pem' }).toString();
    expectCode(() => enrollKeyholder(c.store, 'erin', pem), 'ROUND_INVALID');
  });
});

describe('a root rotation', () => {
  let c: TestCoordinator;
  beforeAll(async () => {
    c = await newCoordinator({
      dialect: 'tuf',
      keyholders: ['alice', 'bob', 'carol', 'dave'],
      root: ['alice', 'bob'],
      rootThreshold: 2,
      targets: ['alice'],
      releaseRoot: true,
    });
    const t = openTargets(c, 'fw-1');
    c.sign('alice', t.id);
    await c.release(t.id);
  });
  afterAll(() => c.close());

  const rotate = () =>
    proposeRoot(c.store, repoState(c.store), {
      remove: [{ role: 'root', key: { keyholder: 'alice' } }],
      add: [{ role: 'root', key: { keyholder: 'carol' } }],
    });

  it('needs a threshold of the old root keys and of the new ones; released only with both', async () => {
    const r = openRound(c.store, { role: 'root', reason: 'rotate alice out', deadline: soon(), signed: rotate() });
    const line = () => progressLine(roundInfo(c.store, c.store.round(r.id)!, repoState(c.store)));
    expect(line()).toBe('root v2 [open]: 0/2 of root v1 keys, 0/2 of root v2 keys');
    c.sign('alice', r.id);
    c.sign('bob', r.id);
    expect(line()).toBe('root v2 [open]: 2/2 of root v1 keys (met), 1/2 of root v2 keys');
    expect(await c.release(r.id)).toBeNull();
    c.sign('carol', r.id);
    expect((await c.release(r.id))!.files['2.root.json']).toBeDefined();
  });

  it('ROUND_INVALID: a root under which the released targets would no longer verify', () => {
    const signed = proposeRoot(c.store, repoState(c.store), {
      remove: [{ role: 'targets', key: { keyholder: 'alice' } }],
      add: [{ role: 'targets', key: { keyholder: 'dave' } }],
    });
    expectCode(
      () => openRound(c.store, { role: 'root', reason: 'new targets key', deadline: soon(), signed }),
      'ROUND_INVALID',
    );
  });

  it('re-signs the released targets in a linked round, released together with the root, or cancelled together', async () => {
    const signed = proposeRoot(c.store, repoState(c.store), {
      remove: [{ role: 'targets', key: { keyholder: 'alice' } }],
      add: [{ role: 'targets', key: { keyholder: 'dave' } }],
    });
    const open = () =>
      openRound(c.store, { role: 'root', reason: 'new targets key', deadline: soon(), signed, resignTargets: true });
    const r = open();
    const t = c.store.round(r.linked_round!)!;
    expect(t).toMatchObject({ role: 'targets', version: 2, linked_round: r.id });
    // ROUND_OPEN_EXISTS: another targets round while the linked one is open
    expectCode(() => openTargets(c, 'fw-2'), 'ROUND_OPEN_EXISTS');
    cancelRound(c.store, r.id, 'not now');
    expect(c.store.round(t.id)!.state).toBe('cancelled');
    expect(audited(c, 'round.cancelled').at(-1)).toMatchObject({ round: t.id });

    const r2 = open();
    const t2 = r2.linked_round!;
    for (const k of ['bob', 'carol']) c.sign(k, r2.id);
    expect(await c.release(r2.id)).toBeNull(); // the targets round is not signed yet
    expect(c.store.round(r2.id)!.state).toBe('open');
    c.sign('dave', t2); // the new targets key, as the proposed root lists it
    const rel = (await c.release(t2))!;
    expect(Object.keys(rel.files).sort()).toEqual([
      '1.root.json',
      '2.root.json',
      '3.root.json',
      'root.json',
      'snapshot.json',
      'targets.json',
      'timestamp.json',
    ]);
    expect([c.store.round(r2.id)!.state, c.store.round(t2)!.state]).toEqual(['released', 'released']);
  });

  it('ROUND_INVALID: --resign-targets goes with a root round only', () => {
    expectCode(() => openTargets(c, 'fw-9', { resignTargets: true }), 'ROUND_INVALID');
  });
});

describe('cancelling and expiring', () => {
  let c: TestCoordinator;
  beforeAll(async () => {
    c = await newCoordinator({ dialect: 'tuf', keyholders: ['alice'], root: ['alice'], releaseRoot: true });
  });
  afterAll(() => c.close());

  it('cancels once: ROUND_NOT_OPEN the second time, ROUND_NOT_FOUND for no round', () => {
    const r = openTargets(c, 'fw-1');
    expect(cancelRound(c.store, r.id, 'changed our minds').state).toBe('cancelled');
    expectCode(() => cancelRound(c.store, r.id, 'again'), 'ROUND_NOT_OPEN');
    expectCode(() => cancelRound(c.store, 'targets-v7-r70', 'none'), 'ROUND_NOT_FOUND');
    expect(audited(c, 'round.cancelled').at(-1)).toMatchObject({ round: r.id, reason: 'changed our minds' });
  });

  it('expires an open round at its deadline, not before, and audits it', () => {
    const now = new Date();
    const r = openRound(
      c.store,
      { role: 'targets', reason: 'short', deadline: new Date(now.getTime() + 60_000), signed: targets(c, 'fw-2') },
      now,
    );
    expect(expireRounds(c.store, new Date(now.getTime() + 59_000))).toEqual([]);
    expect(expireRounds(c.store, new Date(now.getTime() + 60_000)).map((x) => [x.id, x.state])).toEqual([
      [r.id, 'expired'],
    ]);
    expect(audited(c, 'round.expired').at(-1)).toMatchObject({ round: r.id, deadline: r.deadline });
    expectCode(() => cancelRound(c.store, r.id, 'too late'), 'ROUND_NOT_OPEN');
  });
});

describe('enrolling keyholders', () => {
  let c: TestCoordinator;
  beforeAll(async () => {
    c = await newCoordinator({ dialect: 'tuf', keyholders: ['alice'] });
  });
  afterAll(() => c.close());
  const pem = () => generateKeyPair('ed25519').publicKey.keyObject.export({ type: 'spki', format: 'pem' }).toString();

  it('ROUND_INVALID: a name other than 1-64 letters, digits, ".", "_" or "-"', () => {
    for (const name of ['', 'a b', 'x'.repeat(65), 'ålice', '../etc'])
      expectCode(() => enrollKeyholder(c.store, name, pem()), 'ROUND_INVALID');
  });

  it('KEYHOLDER_EXISTS: the same name, or the same key under another name', () => {
    expectCode(() => enrollKeyholder(c.store, 'alice', pem()), 'KEYHOLDER_EXISTS');
    const alicePem = c.holders.alice!.publicKey.keyObject.export({ type: 'spki', format: 'pem' }).toString();
    expectCode(() => enrollKeyholder(c.store, 'alias', alicePem), 'KEYHOLDER_EXISTS');
  });

  it('enrolls, audits, and refuses a removed name again (names are never reused)', () => {
    const row = enrollKeyholder(c.store, 'bob', pem());
    expect(c.store.keyholderByFingerprint(row.fingerprint)!.name).toBe('bob');
    expect(audited(c, 'keyholder.enrolled').at(-1)).toMatchObject({ name: 'bob', fingerprint: row.fingerprint });
    expect(c.store.removeKeyholder('bob', new Date().toISOString())).toBe(true);
    expectCode(() => enrollKeyholder(c.store, 'bob', pem()), 'KEYHOLDER_EXISTS');
  });
});
