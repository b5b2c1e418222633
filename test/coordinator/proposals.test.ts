/**
 * Proposals (coordinator/proposals.ts) in process, against a real store: the next targets body
 * (targets added, replaced and removed on the released ones, any name an ordinary name), the next
 * root (keys by keyholder, key id, PEM, online key or FROST group; thresholds that can be met;
 * keys no role uses dropped; a key keeps the id it has), root version 1, and in ota the targets
 * devices could not install or the reposerver would not store.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkOtaTargets,
  initialRoot,
  proposeRoot,
  proposeTargets,
  serverKnownTargets,
} from '../../coordinator/proposals.js';
import { openRound, repoState } from '../../coordinator/rounds.js';
import { OTA_SERVER_TARGETS_META } from '../../coordinator/store.js';
import type { RootSigned } from '../../protocol/metadata/schemas.js';
import { newCoordinator, type TestCoordinator } from './fixture.js';

const entry = (extra: Record<string, unknown> = {}) => ({ length: 3, hashes: { sha256: 'ab'.repeat(32) }, ...extra });

function expectCode(fn: () => unknown, code: string): void {
  expect(fn).toThrow(expect.objectContaining({ code }));
}

describe('the next targets', () => {
  let c: TestCoordinator;
  beforeAll(async () => {
    c = await newCoordinator({ dialect: 'tuf', keyholders: ['alice'], root: ['alice'], releaseRoot: true });
  });
  afterAll(() => c.close());

  it('starts from nothing at version 1, then from the released targets at released + 1', async () => {
    const first = proposeTargets(repoState(c.store), { add: { 'a.bin': entry() } }, new Date('2030-01-01T00:00:00Z'));
    expect(first).toMatchObject({
      _type: 'targets',
      spec_version: '1.0.31',
      version: 1,
      expires: '2030-02-01T00:00:00Z',
    });
    const r = openRound(c.store, {
      role: 'targets',
      reason: 'r',
      deadline: new Date(Date.now() + 86_400_000),
      signed: first,
    });
    c.sign('alice', r.id);
    await c.release(r.id);
    const next = proposeTargets(
      repoState(c.store),
      { add: { 'b.bin': entry() }, expiresDays: 7 },
      new Date('2030-01-01T00:00:00Z'),
    );
    expect(next).toMatchObject({ version: 2, expires: '2030-01-08T00:00:00Z' });
    expect(Object.keys(next.targets as object).sort()).toEqual(['a.bin', 'b.bin']);
  });

  it('ROUND_INVALID: removing a target the released targets do not list', () => {
    expectCode(() => proposeTargets(repoState(c.store), { remove: ['nope.bin'] }), 'ROUND_INVALID');
    expect(Object.keys(proposeTargets(repoState(c.store), { remove: ['a.bin'] }).targets as object)).toEqual([]);
  });

  it('takes __proto__ and constructor as ordinary target names', () => {
    const t = proposeTargets(repoState(c.store), {
      add: JSON.parse('{"__proto__":{"length":1,"hashes":{}},"constructor":{"length":2,"hashes":{}}}') as never,
    }).targets as Record<string, unknown>;
    expect(Object.hasOwn(t, '__proto__')).toBe(true);
    expect(Object.hasOwn(t, 'constructor')).toBe(true);
    expect(Object.getPrototypeOf(t)).toBe(Object.prototype);
  });
});

describe('the next root', () => {
  let c: TestCoordinator;
  beforeAll(async () => {
    c = await newCoordinator({
      dialect: 'tuf',
      keyholders: ['alice', 'bob', 'carol'],
      root: ['alice', 'bob'],
      rootThreshold: 2,
      targets: ['alice'],
    });
  });
  afterAll(() => c.close());
  const state = () => repoState(c.store);

  it('NO_ROOT: nothing to change before root version 1 is released', async () => {
    expectCode(
      () => proposeRoot(c.store, state(), { add: [{ role: 'root', key: { keyholder: 'carol' } }] }),
      'NO_ROOT',
    );
    const root = c.store.openRound('root')!;
    c.sign('alice', root.id);
    c.sign('bob', root.id);
    await c.release(root.id);
  });

  it('adds a key by keyholder, under the dialect id, reusing the id a key already has; drops keys no role uses', () => {
    const aliceId = c.keyid('alice');
    const next = proposeRoot(c.store, state(), {
      add: [
        { role: 'root', key: { keyholder: 'carol' } },
        { role: 'targets', key: { keyholder: 'bob' } },
      ],
      remove: [
        { role: 'targets', key: { keyholder: 'alice' } },
        { role: 'root', key: { keyid: aliceId } },
      ],
    }) as unknown as RootSigned;
    expect(next.version).toBe(2);
    expect(next.roles.root!.keyids).toEqual([c.keyid('bob'), c.keyid('carol')]);
    expect(next.roles.targets!.keyids).toEqual([c.keyid('bob')]); // bob's existing id, reused
    expect(Object.keys(next.keys)).not.toContain(aliceId);
  });

  it('ROUND_INVALID: removing a key a role does not list, adding one it lists, a key id the root does not have', () => {
    expectCode(
      () => proposeRoot(c.store, state(), { remove: [{ role: 'targets', key: { keyholder: 'carol' } }] }),
      'ROUND_INVALID',
    );
    expectCode(
      () => proposeRoot(c.store, state(), { add: [{ role: 'root', key: { keyholder: 'alice' } }] }),
      'ROUND_INVALID',
    );
    expectCode(
      () => proposeRoot(c.store, state(), { remove: [{ role: 'root', key: { keyid: 'ab'.repeat(32) } }] }),
      'ROUND_INVALID',
    );
  });

  it('ROUND_INVALID: a threshold that its keys cannot meet, or below 1', () => {
    expectCode(() => proposeRoot(c.store, state(), { thresholds: { root: 3 } }), 'ROUND_INVALID');
    expectCode(() => proposeRoot(c.store, state(), { thresholds: { targets: 0 } }), 'ROUND_INVALID');
    expectCode(
      () => proposeRoot(c.store, state(), { remove: [{ role: 'targets', key: { keyholder: 'alice' } }] }),
      'ROUND_INVALID',
    );
  });

  it('KEYHOLDER_UNKNOWN: a keyholder who is not enrolled; ROUND_INVALID: no such FROST group, no online key', () => {
    expectCode(
      () => proposeRoot(c.store, state(), { add: [{ role: 'root', key: { keyholder: 'mallory' } }] }),
      'KEYHOLDER_UNKNOWN',
    );
    expectCode(
      () => proposeRoot(c.store, state(), { add: [{ role: 'root', key: { frost: 'nogroup' } }] }),
      'ROUND_INVALID',
    );
    expectCode(
      () => proposeRoot(c.store, state(), { add: [{ role: 'root', key: { online: true } }] }),
      'ROUND_INVALID',
    );
  });

  it('root version 1: a threshold its keyholders can meet, enrolled keyholders only', () => {
    const spec = {
      root: ['alice', 'bob'],
      targets: ['alice'],
      rootThreshold: 3,
      targetsThreshold: 1,
      online: c.onlinePublic.keyObject.export({ type: 'spki', format: 'pem' }).toString(),
    };
    expectCode(() => initialRoot(c.store, spec), 'ROUND_INVALID');
    expectCode(() => initialRoot(c.store, { ...spec, rootThreshold: 1, root: ['mallory'] }), 'KEYHOLDER_UNKNOWN');
    const root = initialRoot(c.store, { ...spec, rootThreshold: 2 }) as unknown as RootSigned;
    expect(root.roles.snapshot!.keyids).toEqual(root.roles.timestamp!.keyids);
  });
});

describe('ota targets devices could not install', () => {
  let c: TestCoordinator;
  beforeAll(async () => {
    c = await newCoordinator({ dialect: 'ota', keyholders: ['alice'], root: ['alice'], releaseRoot: true });
  });
  afterAll(() => c.close());
  const check = (targets: Record<string, unknown>) =>
    checkOtaTargets(c.store, repoState(c.store), { _type: 'Targets', version: 1, targets });

  it('OTA_TARGET_HARDWARE_IDS, OTA_TARGET_LOCATION, OTA_TARGET_URI; a located target with a hardware id passes', () => {
    expectCode(() => check({ 'a.bin': entry({ custom: { uri: 'https://x/a.bin' } }) }), 'OTA_TARGET_HARDWARE_IDS');
    expectCode(() => check({ 'a.bin': entry({ custom: { hardwareIds: ['ecu'] } }) }), 'OTA_TARGET_LOCATION');
    expectCode(
      () => check({ 'a.bin': entry({ custom: { hardwareIds: ['ecu'], uri: 'not a uri' } }) }),
      'OTA_TARGET_URI',
    );
    expect(() => check({ 'a.bin': entry({ custom: { hardwareIds: ['ecu'], cliUploaded: true } }) })).not.toThrow();
  });

  it('a target the reposerver already holds (pulled at import) keeps its location', () => {
    c.store.setMeta(
      OTA_SERVER_TARGETS_META,
      JSON.stringify({
        _type: 'Targets',
        version: 4,
        targets: { 'old.bin': entry({ custom: { hardwareIds: ['ecu'] } }) },
      }),
    );
    expect(serverKnownTargets(c.store, repoState(c.store))).toMatchObject({ version: 4 });
    expect(() => check({ 'old.bin': entry({ custom: { hardwareIds: ['ecu'] } }) })).not.toThrow();
    expectCode(() => check({ 'new.bin': entry({ custom: { hardwareIds: ['ecu'] } }) }), 'OTA_TARGET_LOCATION');
  });
});
