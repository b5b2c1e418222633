/**
 * Hash-bin delegations (TAP 15 succinct_roles) signed by the online key, as RSTUF does (issue 14),
 * in process against a real store: `quorum init --hash-bins N`; the first targets round delegates
 * every target from targets.json to the bins and its release creates every bin; a later round
 * touching 1,000 files re-signs exactly the bins whose targets changed (the others keep their bytes
 * and version); snapshot lists every bin; tuf-js's Updater finds a target through its bin, and
 * `quorum verify --target` names the same chain.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HASH_BINS_META } from '../../coordinator/delegated.js';
import { askedFor, decideMetadataRound, verifyReleased } from '../../signer-client/workflow.js';
import { init } from '../../coordinator/init.js';
import { DEFAULT_POLICY, refreshDue, refreshOnline } from '../../coordinator/living.js';
import { proposeBinned } from '../../coordinator/proposals.js';
import { releaseDir, verifyFiles } from '../../coordinator/release.js';
import { openRound, repoState } from '../../coordinator/rounds.js';
import type { TargetsChange } from '../../coordinator/admin-api.js';
import { binName, binOf } from '../../protocol/delegations.js';
import { DAY_MS } from '../../protocol/time.js';
import { parseMetadata, type FileInput } from '../../protocol/verify.js';
import { tufJsDownload } from '../interop/helpers.js';
import { newCoordinator, type TestCoordinator } from './fixture.js';

const made: TestCoordinator[] = [];
afterAll(async () => {
  for (const c of made) await c.close();
});

const entryOf = (content: Buffer) => ({
  length: content.length,
  hashes: { sha256: crypto.createHash('sha256').update(content).digest('hex') },
});
const contentOf = (p: string, v = 1) => Buffer.from(`${p} version ${v}\n`);
const SUCCINCT = { keyids: [], threshold: 1, bitLength: 10, namePrefix: 'bins' };

/** Opens the targets round of a binned proposal (proposeBinned), open for a day. */
const openBinned = (c: TestCoordinator, p: ReturnType<typeof proposeBinned>, reason: string) =>
  openRound(c.store, {
    role: 'targets',
    reason,
    deadline: new Date(Date.now() + DAY_MS),
    signed: p.signed,
    online: c.onlinePublic,
    bins: p.bins,
  });

/** A targets round through the bins, signed by alice and released. */
async function binnedRelease(
  c: TestCoordinator,
  bins: { bitLength: number; namePrefix: string },
  change: TargetsChange,
) {
  const r = openBinned(c, proposeBinned(repoState(c.store), bins, change, c.onlinePublic), 'bins');
  c.sign('alice', r.id);
  const rel = await c.release(r.id);
  if (!rel) throw new Error('not released');
  return rel;
}

describe('quorum init --hash-bins', () => {
  it('takes a power of two, for tuf only, and records the bins', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quorum-bins-'));
    try {
      const bad = (o: object) => {
        try {
          init({ dataDir: path.join(dir, String(Math.random())), ...o });
        } catch (e) {
          return (e as { code?: string }).code;
        }
        return 'no refusal';
      };
      expect(bad({ dialect: 'tuf', hashBins: 1000 })).toBe('USAGE');
      expect(bad({ dialect: 'ota', hashBins: 1024 })).toBe('USAGE');
      const r = init({ dataDir: path.join(dir, 'ok'), dialect: 'tuf', hashBins: 1024 });
      expect(r.dialect).toBe('tuf');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a hash-binned repository (1,024 bins, signed by the online key)', () => {
  it('places each target in its bin, re-signs only the bins that changed, and clients find targets there', async () => {
    const c = await newCoordinator({
      dialect: 'tuf',
      keyholders: ['alice'],
      root: ['alice'],
      releaseRoot: true,
    });
    made.push(c);
    c.store.setMeta(HASH_BINS_META, JSON.stringify({ bitLength: 10, namePrefix: 'bins' })); // as init --hash-bins 1024
    const round = (change: TargetsChange) => binnedRelease(c, { bitLength: 10, namePrefix: 'bins' }, change);
    const paths = Array.from({ length: 1000 }, (_, i) => `pkg/p${i}.tar.gz`);
    const rel1 = await round({ add: Object.fromEntries(paths.map((p) => [p, entryOf(contentOf(p))])) });
    expect(rel1.report.ok, JSON.stringify(rel1.report.errors)).toBe(true);
    const bin = (n: number) => `${binName(SUCCINCT, n)}.json`;
    const binFiles = Object.keys(rel1.files).filter((n) => n.startsWith('bins-'));
    expect(binFiles).toHaveLength(1024);
    const targets1 = parseMetadata(rel1.files['targets.json']!, 't', 'targets', 'tuf').signed as {
      targets: object;
      delegations: { succinct_roles: object };
    };
    expect(targets1.targets).toEqual({});
    expect(targets1.delegations.succinct_roles).toMatchObject({ bit_length: 10, name_prefix: 'bins', threshold: 1 });
    const snap = (files: Record<string, Buffer>) =>
      parseMetadata(files['snapshot.json']!, 's', 'snapshot', 'tuf').signed as {
        meta: Record<string, { version: number }>;
      };
    expect(Object.keys(snap(rel1.files).meta)).toHaveLength(1025);
    const listed = (files: Record<string, Buffer>, n: number) =>
      Object.keys((parseMetadata(files[bin(n)]!, bin(n), 'targets', 'tuf').signed as { targets: object }).targets);
    const p0 = paths[0]!;
    expect(listed(rel1.files, binOf(SUCCINCT, p0))).toContain(p0);

    // a round touching 1,000 files: 500 changed, 300 added, 200 removed
    const changed = paths.slice(0, 500);
    const removed = paths.slice(500, 700);
    const added = Array.from({ length: 300 }, (_, i) => `pkg/new${i}.tar.gz`);
    const touched = [...changed, ...removed, ...added];
    const rel2 = await round({
      add: Object.fromEntries([...changed, ...added].map((p) => [p, entryOf(contentOf(p, 2))])),
      remove: removed,
    });
    expect(rel2.report.ok, JSON.stringify(rel2.report.errors)).toBe(true);
    const expected = new Set(touched.map((p) => bin(binOf(SUCCINCT, p))));
    const resigned = Object.keys(rel2.files).filter(
      (n) => n.startsWith('bins-') && !rel2.files[n]!.equals(rel1.files[n]!),
    );
    expect(new Set(resigned)).toEqual(expected);
    expect(expected.size).toBeGreaterThan(500);
    expect(expected.size).toBeLessThan(1024);
    const s2 = snap(rel2.files).meta;
    for (const n of binFiles) expect(s2[n]!.version).toBe(expected.has(n) ? 2 : 1);
    expect(listed(rel2.files, binOf(SUCCINCT, removed[0]!))).not.toContain(removed[0]);
    // a bin has no round of its own: the online key signs it
    expect(() =>
      openRound(c.store, {
        role: 'targets',
        reason: 'x',
        deadline: new Date(Date.now() + DAY_MS),
        signed: { _type: 'targets', spec_version: '1.0.31', version: 3, expires: '2099-01-01T00:00:00Z', targets: {} },
        delegated: 'bins-000',
      }),
    ).toThrow(expect.objectContaining({ code: 'ROUND_INVALID', message: expect.stringMatching(/is a hash bin/) }));
    // removing a target no bin lists is refused when the round is opened
    expect(() => proposeBinned(repoState(c.store), SUCCINCT, { remove: ['pkg/never.tar.gz'] }, c.onlinePublic)).toThrow(
      expect.objectContaining({ code: 'ROUND_INVALID' }),
    );

    // what the keyholder reads: the bin changes, labelled as the coordinator's (its online key signs them)
    const next = proposeBinned(
      repoState(c.store),
      SUCCINCT,
      { add: { 'pkg/x.bin': entryOf(contentOf('x')) } },
      c.onlinePublic,
    );
    const open3 = openBinned(c, next, 'x');
    const ctx = c.context();
    const files = repoState(c.store).files;
    const state = verifyReleased(
      { root: parseMetadata(files['1.root.json']!, '1.root.json', 'root', 'tuf'), keptTargets: null, targetsSeen: 0 },
      { roots: [], targets: files['targets.json']!.toString('utf8') },
      'tuf',
    ).state;
    const d = decideMetadataRound(state, askedFor(open3.id), ctx.payloadOf(open3), [c.holders.alice!.publicKey], {
      dialect: 'tuf',
    });
    expect(d.text).toContain('hash bins (as the coordinator lists them; its online key signs them at the release');
    expect(d.text).toMatch(/BIN TARGET ADDED: pkg\/x\.bin \{"length":/);

    // quorum expiry (and the page): the bins as one line, naming the first to expire
    const { adminHandlers } = await import('../../coordinator/admin-routes.js');
    const ex = (await adminHandlers(ctx).expiry({} as never)).delegated;
    expect(ex.filter((e) => /hash bins/.test(e.name))).toEqual([
      expect.objectContaining({ name: '1024 hash bins', first: expect.stringMatching(/^bins-/) }),
    ]);

    // as clients resolve it: quorum verify's walk, and tuf-js downloading through the bin
    const target = added[0]!;
    const trusted: FileInput = { name: '1.root.json', bytes: rel2.files['1.root.json']! };
    const report = verifyFiles(rel2.files, trusted, new Date(), target);
    expect(report.target?.chain).toEqual(['targets', binName(SUCCINCT, binOf(SUCCINCT, target))]);
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'quorum-bins-tufjs-'));
    try {
      const file = path.join(work, 'content');
      fs.writeFileSync(file, contentOf(target, 2));
      const got = await tufJsDownload({
        work,
        metadataDir: releaseDir(c.dataDir),
        trustedRoot: path.join(releaseDir(c.dataDir), '1.root.json'),
        target,
        targetFile: file,
      });
      expect(fs.readFileSync(got.file)).toEqual(contentOf(target, 2));
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});

describe('hash bins stay alive', () => {
  it('the online refresh re-signs each bin when less than half of its year is left, and snapshot with it', async () => {
    const c = await newCoordinator({ dialect: 'tuf', keyholders: ['alice'], root: ['alice'], releaseRoot: true });
    made.push(c);
    const bins = { bitLength: 4, namePrefix: 'bins' };
    c.store.setMeta(HASH_BINS_META, JSON.stringify(bins));
    const paths = Array.from({ length: 40 }, (_, i) => `pkg/p${i}.tar.gz`);
    const rel = await binnedRelease(c, bins, {
      add: Object.fromEntries(paths.map((x) => [x, entryOf(contentOf(x))])),
      expiresDays: 400,
    });
    expect(rel.report.ok, JSON.stringify(rel.report.errors)).toBe(true);
    const at = (days: number) => new Date(Date.now() + days * DAY_MS);
    // A hundred days in: timestamp and snapshot are due, no bin is.
    expect(refreshDue(c.store, DEFAULT_POLICY, at(100))).toEqual({ snapshot: true, bins: [] });
    // Two hundred days in (less than half of 365 left): every bin, one version up, a new year.
    const due = refreshDue(c.store, DEFAULT_POLICY, at(200))!;
    expect(due.bins).toHaveLength(16);
    const res = (await refreshOnline(c.store, c.dataDir, c.online, DEFAULT_POLICY, at(200)))!;
    expect(res.bins).toBe(16);
    const files = c.store.releaseFiles(res.seq);
    const snap = parseMetadata(files['snapshot.json']!, 's', 'snapshot', 'tuf').signed as {
      meta: Record<string, { version: number }>;
    };
    for (let n = 0; n < 16; n++) {
      const name = `${binName({ ...SUCCINCT, ...bins }, n)}.json`;
      const signed = parseMetadata(files[name]!, name, 'targets', 'tuf').signed;
      expect(signed.version).toBe(2);
      expect(Date.parse(String(signed.expires))).toBeGreaterThan(at(500).getTime());
      expect(snap.meta[name]!.version).toBe(2);
    }
    // The refreshed repository verifies as a device would at that time, and finds a target through its bin.
    const trusted: FileInput = { name: '1.root.json', bytes: files['1.root.json']! };
    const report = verifyFiles(files, trusted, at(200), paths[7]!);
    expect(report.errors).toEqual([]);
    expect(report.target?.chain).toEqual([
      'targets',
      binName({ ...SUCCINCT, ...bins }, binOf({ ...SUCCINCT, ...bins }, paths[7]!)),
    ]);
    // Nothing is due again right after.
    expect(refreshDue(c.store, DEFAULT_POLICY, at(200))).toBeNull();
  });
});
