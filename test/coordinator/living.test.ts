/**
 * The living repository's policy and online refresh (coordinator/living.ts), in process on a real
 * data dir and SQLite file: a tuf repository whose root and first targets are released as the
 * coordinator does it, then refreshed at chosen times. Checks: nothing is re-signed while more
 * than half of a role's period is left; timestamp alone, then snapshot and timestamp, are
 * re-signed when due, one version up each, with the configured expiries; each refresh is a
 * committed release row and an audit event before the folder is swapped, and the published folder
 * verifies as a device would at that moment; a wrong online key (a replaced online-key.pem)
 * publishes nothing; settings.json and the command line set the policy, and bad values are refused.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { DAY_MS, HOUR_MS } from '../../protocol/time.js';
import { execFileSync } from 'node:child_process';
import {
  certificateExpiryOf,
  DEFAULT_POLICY,
  expiryOf,
  loadPolicy,
  parseDuration,
  refreshOnline,
  renewalsDue,
  SETTINGS_FILE,
} from '../../coordinator/living.js';
import { publishTo, repositoryFiles } from '../../coordinator/publish.js';
import { proposeTargets } from '../../coordinator/proposals.js';
import { tryRelease } from '../../coordinator/release.js';
import { openRound, repoState, submitSignature } from '../../coordinator/rounds.js';
import { DATA_FILES } from '../../coordinator/server.js';
import { Store } from '../../coordinator/store.js';
import { encodeSig, generateKeyPair, signBytes } from '../../protocol/keys.js';
import { buildRoot, localSigner, serialize, signEnvelope } from '../../protocol/metadata/build.js';
import { loadRepository } from '../../protocol/repository.js';
import { parseMetadata, verifyRepository } from '../../protocol/verify.js';
import { historyDataDir } from '../bench/history.js';
import { livingRepo as sharedLivingRepo } from '../bench/living-repo.js';
import { offlineContext } from './fixture.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'quorum-living-'));
  dirs.push(d);
  return d;
};

const livingRepo = () => sharedLivingRepo(tmp());

const current = (dataDir: string) => path.join(dataDir, 'releases', 'current');
const versionOf = (dataDir: string, role: 'snapshot' | 'timestamp') =>
  parseMetadata(fs.readFileSync(path.join(current(dataDir), `${role}.json`)), role, role, 'tuf').signed;
const releases = (store: Store) =>
  store.db.prepare('SELECT seq, role, version, round_id FROM releases ORDER BY seq').all() as {
    seq: number;
    role: string;
    version: number;
    round_id: string | null;
  }[];

describe('online refresh', () => {
  let repo: Awaited<ReturnType<typeof livingRepo>>;
  beforeEach(async () => {
    repo?.store.close();
    repo = await livingRepo();
  });

  it('a release writes timestamp for 1 day and snapshot for 7 days by default', () => {
    const ts = versionOf(repo.h.dataDir, 'timestamp');
    const snap = versionOf(repo.h.dataDir, 'snapshot');
    expect(Date.parse(String(snap.expires)) - Date.parse(String(ts.expires))).toBe(6 * DAY_MS);
  });

  it('re-signs nothing while more than half the period is left, then timestamp, then both', async () => {
    const { store, h, online, released } = repo;
    const at = (ms: number) => new Date(released.getTime() + ms);
    expect(await refreshOnline(store, h.dataDir, online, DEFAULT_POLICY, at(11 * HOUR_MS))).toBeNull();
    const before = releases(store).length;

    const r1 = (await refreshOnline(store, h.dataDir, online, DEFAULT_POLICY, at(13 * HOUR_MS)))!;
    expect(r1.roles).toEqual(['timestamp']);
    expect(r1.timestamp.version).toBe(2);
    expect(r1.snapshot.version).toBe(1);
    expect(Date.parse(r1.timestamp.expires)).toBe(at(13 * HOUR_MS + DAY_MS).getTime());
    expect(releases(store).length).toBe(before + 1);
    expect(releases(store).at(-1)).toMatchObject({ seq: r1.seq, role: 'timestamp', version: 2, round_id: null });
    expect(store.auditRows().at(-1)!.event).toBe('online.refreshed');
    // The published folder is the committed one, and verifies as a device would at that time.
    expect(fs.readlinkSync(current(h.dataDir))).toBe(String(r1.seq));
    for (const [name, bytes] of Object.entries(store.releaseFiles(r1.seq)))
      expect(fs.readFileSync(path.join(current(h.dataDir), name)).equals(bytes), name).toBe(true);
    const trusted = path.join(current(h.dataDir), '1.root.json');
    const report = verifyRepository(loadRepository(current(h.dataDir), trusted), { at: at(13 * HOUR_MS) });
    expect(report.errors).toEqual([]);
    // Due again only when half of the new period is gone.
    expect(await refreshOnline(store, h.dataDir, online, DEFAULT_POLICY, at(20 * HOUR_MS))).toBeNull();

    // 3.5 days in, snapshot is due: both are re-signed, timestamp naming the new snapshot.
    const r2 = (await refreshOnline(store, h.dataDir, online, DEFAULT_POLICY, at(3.5 * DAY_MS + HOUR_MS)))!;
    expect(r2.roles).toEqual(['snapshot', 'timestamp']);
    expect(r2.snapshot.version).toBe(2);
    expect(r2.timestamp.version).toBe(3);
    expect(versionOf(h.dataDir, 'snapshot').version).toBe(2);
    const tsMeta = versionOf(h.dataDir, 'timestamp').meta as Record<string, { version: number }>;
    expect(tsMeta['snapshot.json']!.version).toBe(2);
    // The snapshot kept what it names (the targets), only version and expiry moved.
    const snap = versionOf(h.dataDir, 'snapshot');
    expect(snap.meta).toEqual(parseMetadata(store.releaseFiles(r1.seq)['snapshot.json']!, 's', 'snapshot').signed.meta);
  });

  it('a late refresh (the coordinator was down past the expiry) brings the repository back', async () => {
    const { store, h, online, released } = repo;
    const late = new Date(released.getTime() + 10 * DAY_MS);
    const r = (await refreshOnline(store, h.dataDir, online, DEFAULT_POLICY, late))!;
    expect(r.roles).toEqual(['snapshot', 'timestamp']);
    const trusted = path.join(current(h.dataDir), '1.root.json');
    expect(verifyRepository(loadRepository(current(h.dataDir), trusted), { at: late }).errors).toEqual([]);
  });

  it('a replaced online key (not the one root names) publishes nothing: REFRESH_FAILED', async () => {
    const { store, h, released } = repo;
    const before = { rows: releases(store).length, link: fs.readlinkSync(current(h.dataDir)) };
    const intruder = crypto.generateKeyPairSync('ed25519').privateKey;
    await expect(
      refreshOnline(store, h.dataDir, intruder, DEFAULT_POLICY, new Date(released.getTime() + 20 * HOUR_MS)),
    ).rejects.toMatchObject({ code: 'REFRESH_FAILED' });
    expect(releases(store).length).toBe(before.rows);
    expect(fs.readlinkSync(current(h.dataDir))).toBe(before.link);
  });

  it('a failure that lasts is audited (and notified) once, not at every check', async () => {
    const { store, h, released } = repo;
    const ctx = offlineContext({
      store,
      dataDir: h.dataDir,
      onlineKey: crypto.generateKeyPairSync('ed25519').privateKey,
    });
    for (let i = 0; i < 3; i++)
      await expect(ctx.refreshOnline(new Date(released.getTime() + (20 + i) * HOUR_MS))).rejects.toMatchObject({
        code: 'REFRESH_FAILED',
      });
    expect(store.auditRows().filter((r) => r.event === 'online.refresh_failed')).toHaveLength(1);
    await ctx.outbox.close();
  });

  it('a round within 24 hours of its deadline is announced once (round.expiring)', async () => {
    const { store, h } = repo;
    const ctx = offlineContext({ store, dataDir: h.dataDir, onlineKey: repo.online });
    const now = new Date();
    const r = openRound(store, {
      role: 'targets',
      reason: 'soon',
      deadline: new Date(now.getTime() + 30 * HOUR_MS),
      signed: proposeTargets(repoState(store), { remove: ['fw.bin'] }),
    });
    const told = () => store.auditRows().filter((a) => a.event === 'round.expiring');
    await ctx.warnDeadlines(now);
    expect(told()).toHaveLength(0);
    await ctx.warnDeadlines(new Date(now.getTime() + 7 * HOUR_MS));
    await ctx.warnDeadlines(new Date(now.getTime() + 8 * HOUR_MS));
    expect(told().map((a) => JSON.parse(a.data) as unknown)).toEqual([
      { round: r.id, role: 'targets', version: 2, deadline: r.deadline },
    ]);
    await ctx.outbox.close();
  });

  it('does nothing in ota, or before the first targets release', async () => {
    const h = await historyDataDir({ dir: tmp(), keyholders: 1, targetsThreshold: 1, history: 0, targetsPerRound: 0 });
    const store = new Store(path.join(h.dataDir, DATA_FILES.db));
    try {
      expect(await refreshOnline(store, h.dataDir, null, DEFAULT_POLICY, new Date(Date.now() + 400 * DAY_MS))).toBe(
        null,
      );
    } finally {
      store.close();
    }
    const o = await historyDataDir({
      dir: tmp(),
      dialect: 'ota',
      keyholders: 1,
      targetsThreshold: 1,
      history: 0,
      targetsPerRound: 0,
    });
    const ostore = new Store(path.join(o.dataDir, DATA_FILES.db));
    try {
      expect(await refreshOnline(ostore, o.dataDir, null, DEFAULT_POLICY, new Date(Date.now() + 400 * DAY_MS))).toBe(
        null,
      );
    } finally {
      ostore.close();
    }
  });
});

describe('renewal rounds and expired roots', () => {
  it('a root that has expired is renewed: the rotation, signed by the old and new thresholds, releases and verifies', async () => {
    const { store, h, online } = await livingRepo();
    try {
      const st = repoState(store);
      const rootExpires = Date.parse(String(st.root!.signed.expires));
      const late = new Date(rootExpires + 30 * DAY_MS);
      const due = renewalsDue(store, DEFAULT_POLICY, late);
      // Targets expired long before: one root round that re-signs targets.
      expect(due.map((d) => [d.role, d.reason, d.resignTargets])).toEqual([
        ['root', 'renewal: expired 30 days ago', true],
      ]);
      const round = openRound(
        store,
        {
          role: 'root',
          reason: due[0]!.reason,
          deadline: new Date(late.getTime() + DAY_MS),
          signed: due[0]!.signed,
          resignTargets: true,
          openedBy: 'coordinator',
        },
        late,
      );
      expect(
        store
          .auditRows()
          .filter((r) => r.event === 'round.opened')
          .map((r) => JSON.parse(r.data).by),
      ).toEqual([undefined, undefined, 'coordinator', 'coordinator']);
      const k = h.keys[0]!;
      for (const id of [round.id, round.linked_round!]) {
        const r = store.round(id)!;
        submitSignature(
          store,
          { round: id, keyid: k.keyid, sig: encodeSig(signBytes(k.privateKey, r.canonical), 'tuf'), sha256: r.sha256 },
          late,
        );
      }
      const res = (await tryRelease(store, h.dataDir, online, round.id))!;
      expect(res).not.toBeNull();
      // A device that trusts only the expired root v1 accepts the chain (TUF 5.3: intermediate roots may be expired).
      const trusted = path.join(current(h.dataDir), '1.root.json');
      const report = verifyRepository(loadRepository(current(h.dataDir), trusted), { at: late });
      expect(report.errors).toEqual([]);
      expect(report.rootChain.map((r) => r.version)).toEqual([1, 2]);
      expect(renewalsDue(store, DEFAULT_POLICY, late)).toEqual([]);
    } finally {
      store.close();
    }
  });

  it('a rotation away from an expired root signed only by the new keys is refused (ROOT_OLD_THRESHOLD_UNMET); an expired final root is refused', async () => {
    for (const dialect of ['tuf', 'ota'] as const) {
      const oldKey = generateKeyPair('ed25519');
      const newKey = generateKeyPair('ed25519');
      const now = new Date();
      const roles = (k: typeof oldKey) => ({
        root: { keys: [k.publicKey], threshold: 1 },
        targets: { keys: [k.publicKey], threshold: 1 },
        snapshot: { keys: [k.publicKey], threshold: 1 },
        timestamp: { keys: [k.publicKey], threshold: 1 },
      });
      const v1 = serialize(
        await signEnvelope(
          buildRoot({ dialect, version: 1, expires: new Date(now.getTime() - DAY_MS), roles: roles(oldKey) }),
          dialect,
          [localSigner(oldKey.privateKey)],
        ),
      );
      const chain = async (expires: Date, signers: (typeof oldKey)[]) => {
        const v2 = serialize(
          await signEnvelope(
            buildRoot({ dialect, version: 2, expires, roles: roles(newKey) }),
            dialect,
            signers.map((k) => localSigner(k.privateKey)),
          ),
        );
        const r = verifyRepository(
          {
            trustedRoot: { name: '1.root.json', bytes: v1 },
            roots: new Map([
              [1, { name: '1.root.json', bytes: v1 }],
              [2, { name: '2.root.json', bytes: v2 }],
            ]),
            root: { name: 'root.json', bytes: v2 },
          },
          { at: now },
        );
        return r.errors.map((e) => e.code);
      };
      const nextYear = new Date(now.getTime() + 365 * DAY_MS);
      expect(await chain(nextYear, [oldKey, newKey]), dialect).toEqual([]);
      expect(await chain(nextYear, [newKey]), dialect).toContain('ROOT_OLD_THRESHOLD_UNMET');
      expect(await chain(new Date(now.getTime() - HOUR_MS), [oldKey, newKey]), dialect).toContain('ROOT_EXPIRED');
    }
  });
});

describe('expiry and renewal windows', () => {
  it("gives each role's renewal window: renew-before for root and targets, half the lifetime for the online roles", async () => {
    const { store, released } = await livingRepo();
    const at = new Date(released.getTime() + HOUR_MS);
    const roles = Object.fromEntries(expiryOf(store, DEFAULT_POLICY, at).map((r) => [r.role, r]));
    const from = (role: string) => Date.parse(roles[role]!.expires) - Date.parse(roles[role]!.renewFrom);
    expect(Object.keys(roles)).toEqual(['root', 'targets', 'snapshot', 'timestamp']);
    expect(from('root')).toBe(DEFAULT_POLICY.renewBefore.root);
    expect(from('targets')).toBe(DEFAULT_POLICY.renewBefore.targets);
    expect(from('snapshot')).toBe(DEFAULT_POLICY.expiry.snapshot / 2);
    expect(from('timestamp')).toBe(DEFAULT_POLICY.expiry.timestamp / 2);
    expect(roles.targets).toMatchObject({ state: 'ok', renewBeforeDays: 14 });
    // Inside the window with no round open, targets is due; past its expiry, expired.
    const inWindow = new Date(Date.parse(roles.targets!.renewFrom) + HOUR_MS);
    expect(expiryOf(store, DEFAULT_POLICY, inWindow).find((r) => r.role === 'targets')!.state).toBe('due');
    const late = new Date(Date.parse(roles.targets!.expires) + HOUR_MS);
    expect(expiryOf(store, DEFAULT_POLICY, late).find((r) => r.role === 'targets')!.state).toBe('expired');
    store.close();
  });

  it("gives each released CA certificate's expiry, and leaves out a CA not yet released or whose chain does not parse", async () => {
    const { store } = await livingRepo();
    const dir = tmp();
    const pem = execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ed25519',
        '-nodes',
        '-keyout',
        path.join(dir, 'k.pem'),
        '-days',
        '30',
        '-subj',
        '/CN=fleet',
      ],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    ).toString();
    const ca = (name: string, chain_pem: string | null) =>
      store.insertCa({
        name,
        kind: 'single',
        holder: null,
        issuer_spki: Buffer.from('x'),
        issuer_fingerprint: name,
        algorithm: 'ed25519',
        chain_pem,
        approvals_threshold: 1,
        approvers: ['alice'],
        created_at: new Date().toISOString(),
      });
    ca('fleet', pem);
    ca('pending', null);
    ca('garbled', '-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n');
    const now = new Date();
    const [fleet, ...rest] = certificateExpiryOf(store, now);
    expect(rest).toEqual([]);
    expect(fleet).toMatchObject({ ca: 'fleet', state: 'ok' });
    expect(fleet!.daysLeft).toBeGreaterThan(29);
    expect(fleet!.daysLeft).toBeLessThanOrEqual(30);
    expect(certificateExpiryOf(store, new Date(now.getTime() + 31 * DAY_MS))[0]!.state).toBe('expired');
    store.close();
  });
});

describe('the published layout', () => {
  it('adds N.snapshot.json and N.targets.json when root asks for consistent snapshots, and publishes them', async () => {
    const { store, h } = await livingRepo();
    try {
      const files = store.releaseFiles(store.latestReleaseSeq()!);
      expect(Object.keys(repositoryFiles(files, 'tuf')).sort()).toEqual(Object.keys(files).sort());
      const root = JSON.parse(files['root.json']!.toString('utf8')) as { signed: Record<string, unknown> };
      root.signed.consistent_snapshot = true;
      const consistent = { ...files, 'root.json': Buffer.from(JSON.stringify(root)) };
      const layout = repositoryFiles(consistent, 'tuf');
      expect(layout['1.snapshot.json']!.equals(files['snapshot.json']!)).toBe(true);
      expect(layout['1.targets.json']!.equals(files['targets.json']!)).toBe(true);
      const out = path.join(h.dataDir, 'www');
      expect(publishTo(out, layout).slice(-2)).toEqual(['snapshot.json', 'timestamp.json']);
      expect(fs.readdirSync(out).sort()).toEqual(Object.keys(layout).sort());
    } finally {
      store.close();
    }
  });
});

describe('policy', () => {
  it('parses durations and refuses anything else', () => {
    expect(parseDuration('90s', 'x')).toBe(90_000);
    expect(parseDuration('30m', 'x')).toBe(30 * 60_000);
    expect(parseDuration('12h', 'x')).toBe(12 * HOUR_MS);
    expect(parseDuration('7d', 'x')).toBe(7 * DAY_MS);
    for (const bad of ['', '0d', '-1d', '1.5d', '1w', 'd', '1 d d', '99999999d'])
      expect(() => parseDuration(bad, '--x'), bad).toThrow(expect.objectContaining({ code: 'SETTINGS_INVALID' }));
  });

  it('defaults, then settings.json, then the command line', () => {
    const dir = tmp();
    expect(loadPolicy(dir)).toEqual(DEFAULT_POLICY);
    fs.writeFileSync(
      path.join(dir, SETTINGS_FILE),
      JSON.stringify({ expiry: { timestamp: '6h' }, renewBefore: { targets: '20d' } }),
    );
    expect(loadPolicy(dir)).toEqual({
      expiry: { timestamp: 6 * HOUR_MS, snapshot: 7 * DAY_MS },
      renewBefore: { root: 60 * DAY_MS, targets: 20 * DAY_MS },
    });
    expect(loadPolicy(dir, { timestamp: '2h', renewRoot: '90d' })).toMatchObject({
      expiry: { timestamp: 2 * HOUR_MS },
      renewBefore: { root: 90 * DAY_MS, targets: 20 * DAY_MS },
    });
  });

  it('refuses a bad settings.json and a timestamp outliving its snapshot, saying what to write', () => {
    const dir = tmp();
    const file = path.join(dir, SETTINGS_FILE);
    for (const bad of [
      '{',
      '{"expiry": {"timestamp": 5}}',
      '{"expiry": {"timestmp": "1d"}}',
      '{"expiry": {"timestamp": "1y"}}',
    ]) {
      fs.writeFileSync(file, bad);
      expect(() => loadPolicy(dir), bad).toThrow(expect.objectContaining({ code: 'SETTINGS_INVALID' }));
    }
    fs.rmSync(file);
    expect(() => loadPolicy(dir, { timestamp: '8d' })).toThrow(/longer than the snapshot expiry/);
  });
});
