/**
 * Release decisions (coordinator/release.ts) in process, against a real store: a round is released
 * only when every threshold is met and the assembled repository verifies as a device would verify
 * it; tuf releases carry snapshot and timestamp signed by the online key, ota releases do not;
 * everything in the files comes from stored data, so a release retried from the same database
 * (after a crash) is byte-identical; a forged signature row written into the database is caught by
 * that verification; and a restart republishes the latest release over what a crash left behind.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { republishLatest, releaseDir, tryRelease, verifyFiles } from '../../coordinator/release.js';
import { openRound, repoState } from '../../coordinator/rounds.js';
import { proposeTargets } from '../../coordinator/proposals.js';
import { Store, type RoundRow } from '../../coordinator/store.js';
import type { Dialect } from '../../protocol/canonical.js';
import { parseMetadata } from '../../protocol/verify.js';
import { newCoordinator, type TestCoordinator } from './fixture.js';

const made: TestCoordinator[] = [];
afterAll(() => made.forEach((c) => c.close()));

async function coordinator(dialect: Dialect): Promise<TestCoordinator> {
  const c = await newCoordinator({
    dialect,
    keyholders: ['alice', 'bob'],
    root: ['alice'],
    targets: ['alice', 'bob'],
    targetsThreshold: 2,
    releaseRoot: true,
  });
  made.push(c);
  return c;
}

function openTargets(c: TestCoordinator, name: string): RoundRow {
  const signed = proposeTargets(repoState(c.store), {
    add: { [name]: { length: 3, hashes: { sha256: 'ab'.repeat(32) }, custom: { hardwareIds: ['ecu'] } } },
  });
  return openRound(c.store, {
    role: 'targets',
    reason: `ship ${name}`,
    deadline: new Date(Date.now() + 86_400_000),
    signed,
  });
}

const versionOf = (files: Record<string, Buffer>, name: string, role: 'snapshot' | 'timestamp' | 'targets') =>
  parseMetadata(files[name]!, name, role).signed.version;

describe('releasing a round', () => {
  it('tuf: not before every threshold is met; then root, targets, and snapshot and timestamp by the online key', async () => {
    const c = await coordinator('tuf');
    const r = openTargets(c, 'a.bin');
    c.sign('alice', r.id);
    expect(await c.release(r.id)).toBeNull();
    expect(await tryRelease(c.store, c.dataDir, c.online, 'targets-v9-r99')).toBeNull();
    c.sign('bob', r.id);
    const rel = (await c.release(r.id))!;
    expect(Object.keys(rel.files).sort()).toEqual([
      '1.root.json',
      'root.json',
      'snapshot.json',
      'targets.json',
      'timestamp.json',
    ]);
    expect(rel.report.ok).toBe(true);
    expect([
      versionOf(rel.files, 'snapshot.json', 'snapshot'),
      versionOf(rel.files, 'timestamp.json', 'timestamp'),
    ]).toEqual([1, 1]);
    // released once: the round is closed, the release recorded and published
    expect(c.store.round(r.id)!.state).toBe('released');
    expect(await c.release(r.id)).toBeNull();
    expect(fs.readFileSync(path.join(releaseDir(c.dataDir), 'targets.json'))).toEqual(rel.files['targets.json']);
    // the next release counts snapshot and timestamp on
    const r2 = openTargets(c, 'b.bin');
    c.sign('alice', r2.id);
    c.sign('bob', r2.id);
    const rel2 = (await c.release(r2.id))!;
    expect([
      versionOf(rel2.files, 'snapshot.json', 'snapshot'),
      versionOf(rel2.files, 'timestamp.json', 'timestamp'),
    ]).toEqual([2, 2]);
    // the release time is the last signature's: derived from stored data
    const last = c.store
      .signatures(r2.id)
      .map((s) => s.received_at)
      .sort()
      .at(-1);
    expect(c.store.latestRelease()!.released_at).toBe(last);
  });

  it('ota: the coordinator writes root and targets only (the OTA Connect servers sign snapshot and timestamp)', async () => {
    const c = await coordinator('ota');
    const r = openTargets(c, 'a.bin');
    c.sign('alice', r.id);
    c.sign('bob', r.id);
    const rel = (await c.release(r.id))!;
    expect(Object.keys(rel.files).sort()).toEqual(['1.root.json', 'root.json', 'targets.json']);
    expect(verifyFiles(rel.files, { name: 'root.json', bytes: rel.files['root.json']! }, new Date()).ok).toBe(true);
  });

  it('a release retried from the same database after a crash is byte-identical', async () => {
    const c = await coordinator('tuf');
    const r = openTargets(c, 'a.bin');
    c.sign('alice', r.id);
    c.sign('bob', r.id);
    // The database as a crash right before the release transaction would leave it.
    const copy = path.join(c.dir, 'before-release.db');
    c.store.db.exec(`VACUUM INTO '${copy}'`);
    const first = (await c.release(r.id))!;
    // Another data dir with that database (and the same online key): the retried release.
    const again = path.join(c.dir, 'again');
    fs.mkdirSync(again);
    fs.copyFileSync(copy, path.join(again, 'quorum.db'));
    const store = new Store(path.join(again, 'quorum.db'));
    try {
      await new Promise((ok) => setTimeout(ok, 1100)); // a later wall clock must not matter
      const second = (await tryRelease(store, again, c.online, r.id))!;
      expect(Object.keys(second.files).sort()).toEqual(Object.keys(first.files).sort());
      for (const name of Object.keys(first.files))
        expect(second.files[name]!.equals(first.files[name]!), name).toBe(true);
    } finally {
      store.close();
    }
  });

  it('a forged signature row written into the database: the thresholds look met, but the release does not verify and is refused', async () => {
    const c = await coordinator('tuf');
    const r = openTargets(c, 'a.bin');
    c.sign('alice', r.id);
    c.store.insertSignature({
      round_id: r.id,
      fingerprint: c.holders.bob!.publicKey.fingerprint,
      keyholder: 'bob',
      sig: Buffer.alloc(64, 7),
      received_at: new Date().toISOString(),
    });
    await expect(c.release(r.id)).rejects.toMatchObject({ code: 'ROUND_INVALID' });
    expect(c.store.round(r.id)!.state).toBe('open');
    const refused = c.store.auditRows().filter((e) => e.event === 'release.refused');
    expect(refused.map((e) => JSON.parse(e.data) as { round: string })).toEqual([
      expect.objectContaining({ round: r.id }),
    ]);
    expect(c.store.latestRelease()!.round_id).toBe('root-v1-r1');
  });

  it('a restart republishes the latest release over what a crash in the middle of publishing left', async () => {
    const c = await coordinator('tuf');
    const base = path.join(c.dataDir, 'releases');
    fs.mkdirSync(path.join(base, '.tmp-9-123'));
    fs.writeFileSync(path.join(base, '.tmp-9-123', 'root.json'), 'half');
    fs.symlinkSync('nowhere', path.join(base, '.current-123'));
    fs.rmSync(path.join(base, 'current'));
    republishLatest(c.store, c.dataDir);
    expect(fs.readdirSync(base).sort()).toEqual(['1', 'current']);
    expect(fs.readlinkSync(path.join(base, 'current'))).toBe('1');
    expect(fs.readFileSync(path.join(base, 'current', 'root.json'))).toEqual(c.store.releaseFiles(1)['root.json']);
  });
});
