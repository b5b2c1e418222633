/**
 * A living repository with real processes. 100 simulated days: the coordinator runs on a test
 * clock (`quorum serve --unsafe-test-clock FILE`), moved one simulated hour per tick; at each tick
 * it is asked to refresh (its own timer refreshes too, concurrently, through the same one-writer
 * queue), and at seeded random points it is killed with SIGKILL (more than half of them at hours
 * when a refresh is due, timed to land during it) and restarted. At every tick the published
 * folder verifies as a device would at that simulated moment, the published files are exactly the
 * latest committed release, and timestamp and snapshot versions never go down; once per simulated
 * day a tuf-js Updater, with its own metadata folder kept across days and its clock set to a random
 * moment of that hour, refreshes from the folder over loopback HTTP: it must never see expired or
 * rolled-back metadata.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Updater } from 'tuf-js';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { DEFAULT_POLICY, onlineRolesDue } from '../../coordinator/living.js';
import { verifyAuditChain, type AuditRow } from '../../coordinator/store.js';
import { loadRepository } from '../../protocol/repository.js';
import { parseMetadata, verifyRepository, type RepositoryInput } from '../../protocol/verify.js';
import { serveFolder, type StaticServer } from '../interop/helpers.js';
import {
  adminCall,
  auditEvents,
  Coordinator,
  located,
  newRepo,
  quorumHere,
  signHere,
  sleep,
  tmpdir,
  until,
  Watcher,
  type Repo,
} from './harness.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** SIGKILLs of the 100-day run at seeded random hours, and at seeded random refresh hours. */
const KILLS_ANY_HOUR = 6;
const KILLS_AT_REFRESH = 8;
/** Refresh hours the kills at refresh hours are drawn from (100 days hold about 200). */
const REFRESH_HOURS_DRAWN = 190;

/** mulberry32: a small seeded PRNG, so a failing run can be replayed with its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function withDb<T>(dataDir: string, fn: (db: Database.Database) => T): T {
  const db = new Database(path.join(dataDir, 'quorum.db'), { readonly: true, fileMustExist: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

const latestCommitted = (dataDir: string): { seq: number; files: Record<string, Buffer> } =>
  withDb(dataDir, (db) => {
    const { seq } = db.prepare('SELECT MAX(seq) AS seq FROM releases').get() as { seq: number };
    const rows = db.prepare('SELECT name, bytes FROM release_files WHERE release_seq = ?').all(seq) as {
      name: string;
      bytes: Buffer;
    }[];
    return { seq, files: Object.fromEntries(rows.map((r) => [r.name, r.bytes])) };
  });

/** Whether two loaded repositories hold the same files, byte for byte. */
function sameFiles(a: RepositoryInput, b: RepositoryInput): boolean {
  const files = (r: RepositoryInput) => [
    r.trustedRoot,
    ...[...r.roots.entries()].sort(([x], [y]) => x - y).map(([, f]) => f),
    r.root,
    r.targets,
    r.snapshot,
    r.timestamp,
  ];
  const [x, y] = [files(a), files(b)];
  return x.length === y.length && x.every((f, i) => f?.name === y[i]?.name && (!f || f.bytes.equals(y[i]!.bytes)));
}

const cleanups: (() => Promise<void> | void)[] = [];

/**
 * A clock file for `quorum serve --unsafe-test-clock`, set atomically (a new file renamed over the
 * old), in a folder of its own that is removed after the file's tests. The folder is on tmpfs
 * (/dev/shm) where there is one: on ext4 a rename over an existing file starts writing the new
 * file's blocks out (auto_da_alloc) and took 2.5 ms per set, 6 s of the 100 days' 2,400 hours;
 * on tmpfs 0.2 ms.
 */
function testClock(): { file: string; set(t: number): void } {
  const base = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
  const dir = fs.mkdtempSync(path.join(base, 'quorum-clock-'));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'clock');
  return {
    file,
    set(t: number) {
      fs.writeFileSync(`${file}.tmp`, String(t));
      fs.renameSync(`${file}.tmp`, file);
    },
  };
}
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

/**
 * A repository with root v1 and targets v1 released, on the test clock in `clockFile`. The targets
 * round is set-up: opened and signed in this process (quorumHere, signHere), against the real
 * coordinator.
 */
async function livingRepo(
  clockFile: string,
  opts: { dialect?: 'ota' | 'tuf'; targetsExpiresDays?: number; serveArgs?: string[] } = {},
): Promise<Repo> {
  const dialect = opts.dialect ?? 'tuf';
  const repo = await newRepo({
    dialect,
    keyholders: ['alice'],
    rootThreshold: 1,
    targetsThreshold: 1,
    releaseRoot: true,
    serveArgs: ['--unsafe-test-clock', clockFile, '--refresh-check', '1s', ...(opts.serveArgs ?? [])],
  });
  cleanups.push(() => repo.coordinator.kill('SIGKILL'));
  const fw = path.join(repo.dir, 'firmware.bin');
  fs.writeFileSync(fw, 'firmware 1.0\n');
  const open = await quorumHere([
    'round',
    'open',
    'targets',
    '--data-dir',
    repo.dataDir,
    '--reason',
    'ship 1.0',
    '--add',
    fw,
    '--name',
    'firmware',
    '--version',
    '1.0',
    ...(opts.targetsExpiresDays ? ['--expires-days', String(opts.targetsExpiresDays)] : []),
    ...(dialect === 'ota' ? ['--hardware-id', 'ecu-main', ...located('ota')] : []),
    '--json',
  ]);
  expect(open.code, open.stderr).toBe(0);
  const shown = JSON.parse(open.stdout) as { id?: string; round?: { id: string } };
  const id = shown.round?.id ?? shown.id!;
  const s = await signHere(id, repo.homes.alice!);
  expect(s.code, s.stderr).toBe(0);
  await until(() => fs.existsSync(path.join(repo.dataDir, 'releases', 'current', 'targets.json')), 'targets release');
  return repo;
}

describe('100 simulated days of online refresh, SIGKILLs included', () => {
  it('a client refreshing daily never sees expired or rolled-back metadata', async () => {
    const seed = Number(process.env.LIVING_SEED ?? Math.floor(Math.random() * 2 ** 31));
    console.log(`living repository: seed ${seed} (replay with LIVING_SEED=${seed})`);
    const rand = prng(seed);
    const dir = tmpdir('quorum-living-');
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const clock = testClock();
    const t0 = Date.now();
    let now = t0;
    const setClock = (t: number) => {
      now = t;
      clock.set(t);
    };
    setClock(t0);
    const repo = await livingRepo(clock.file, { targetsExpiresDays: 200 });
    cleanups.push(() => fs.rmSync(repo.dir, { recursive: true, force: true }));
    const c = repo.coordinator;
    const current = path.join(repo.dataDir, 'releases', 'current');
    const trustedRoot = path.join(current, '1.root.json');
    const server: StaticServer = await serveFolder(current);
    cleanups.push(() => server.close());

    // The device: its metadata folder persists across days (tuf-js checks rollback against it).
    const clientDir = path.join(dir, 'client');
    const clientTargets = path.join(dir, 'client-targets');
    fs.mkdirSync(clientDir);
    fs.mkdirSync(clientTargets);
    fs.copyFileSync(trustedRoot, path.join(clientDir, 'root.json'));
    const deviceRefresh = async (at: number) => {
      vi.useFakeTimers({ toFake: ['Date'], now: at });
      try {
        const u = new Updater({
          metadataBaseUrl: server.url,
          targetBaseUrl: `${server.url}/targets`,
          metadataDir: clientDir,
          targetDir: clientTargets,
        });
        await u.refresh();
        return await u.getTargetInfo('firmware-1.0');
      } finally {
        vi.useRealTimers();
      }
    };
    expect(await deviceRefresh(now)).toBeDefined();

    // Every hour's published files verify as a device would at that hour. A device's verdict on the
    // same bytes depends on the time only through expiry (verify.ts checkExpiry: expired once
    // `expires` is not after the instant), which can only turn from valid to expired as time goes
    // on: so a state verified at the first and at the last hour it was published verified at every
    // hour in between, and only those two verifies run (the bytes are compared every hour).
    interface Shown {
      input: RepositoryInput;
      timestamp: Record<string, unknown>;
      snapshot: Record<string, unknown>;
      firstHour: number;
      lastHour: number;
      lastAt: number;
    }
    let verifies = 0;
    let states = 0;
    const verifyAt = (input: RepositoryInput, at: number, label: string) => {
      verifies++;
      expect(verifyRepository(input, { at: new Date(at) }).errors, label).toEqual([]);
    };
    /** What is published now, read in the release folder `current` names (a later refresh cannot change it). */
    const readPublished = () => loadRepository(fs.realpathSync(current), trustedRoot);
    /** A newly published state, verified at its first hour; versions only go up. */
    const newState = (input: RepositoryInput, hour: number, last: Shown | null): Shown => {
      verifyAt(input, now, `hour ${hour} (day ${hour / 24})`);
      const timestamp = parseMetadata(input.timestamp!.bytes, 't', 'timestamp', 'tuf').signed;
      const snapshot = parseMetadata(input.snapshot!.bytes, 's', 'snapshot', 'tuf').signed;
      if (last) {
        expect(timestamp.version as number, `hour ${hour}`).toBeGreaterThanOrEqual(last.timestamp.version as number);
        expect(snapshot.version as number, `hour ${hour}`).toBeGreaterThanOrEqual(last.snapshot.version as number);
      }
      states++;
      return { input, timestamp, snapshot, firstHour: hour, lastHour: hour, lastAt: now };
    };
    /** A state no longer published, verified at the last hour it was. */
    const endState = (s: Shown) => {
      if (s.lastHour !== s.firstHour)
        verifyAt(s.input, s.lastAt, `hour ${s.lastHour} (day ${s.lastHour / 24}), published since hour ${s.firstHour}`);
    };
    let shown = newState(readPublished(), 0, null);

    // SIGKILLs at seeded random points: KILLS_ANY_HOUR hours drawn from all 2400, and the
    // KILLS_AT_REFRESH refresh hours drawn from the first REFRESH_HOURS_DRAWN. A refresh hour is one
    // at which the published timestamp or snapshot has less than half its lifetime left (living.ts
    // onlineRolesDue, with the default policy the coordinator runs here): the admin call re-signs, and
    // the kill races that refresh. About 1 hour in 12 is one, so kills at hours drawn from all of
    // them alone would rarely find a refresh under way.
    const hoursDrawn = (n: number, max: number) => {
      const out = new Set<number>();
      while (out.size < n) out.add(1 + Math.floor(rand() * max));
      return out;
    };
    const killHours = hoursDrawn(KILLS_ANY_HOUR, 100 * 24);
    const killRefreshes = hoursDrawn(KILLS_AT_REFRESH, REFRESH_HOURS_DRAWN);
    let kills = 0;
    let refreshHours = 0;
    let refreshKills = 0;
    /** Per kill at a refresh hour: whether the refresh was committed before the kill. */
    const killedRefreshes: string[] = [];
    let refreshCallMs = 20;
    const dailyAt = Math.floor(rand() * 24);
    for (let hour = 1; hour <= 100 * 24; hour++) {
      setClock(t0 + hour * HOUR);
      const refreshHour = onlineRolesDue(shown.timestamp, shown.snapshot, DEFAULT_POLICY, now).timestamp;
      if (refreshHour) refreshHours++;
      if (killHours.has(hour) || (refreshHour && killRefreshes.has(refreshHours))) {
        if (refreshHour) refreshKills++;
        const before = fs.readlinkSync(current);
        // SIGKILL at a random moment (with a refresh under way at a refresh hour); then a restart.
        const pending = adminCall(c, 'living.check', { body: {} }).catch(() => null);
        // At a refresh hour, within as long as the last refresh call took: most kills land during it.
        await sleep(rand() * (refreshHour ? refreshCallMs : 20));
        await c.kill('SIGKILL');
        await pending;
        kills++;
        // Whether the refresh under way was committed before the kill (the restart refreshes if not).
        if (refreshHour)
          killedRefreshes.push(String(latestCommitted(repo.dataDir).seq) === before ? 'not committed' : 'committed');
        await c.start(c.port);
        // What is published is exactly the latest committed release.
        const latest = latestCommitted(repo.dataDir);
        expect(fs.readlinkSync(current)).toBe(String(latest.seq));
        for (const [name, bytes] of Object.entries(latest.files))
          expect(fs.readFileSync(path.join(current, name)).equals(bytes), `${name} after kill ${kills}`).toBe(true);
      } else {
        const t = performance.now();
        await adminCall(c, 'living.check', { body: {} });
        if (refreshHour) refreshCallMs = performance.now() - t;
      }
      const published = readPublished();
      if (sameFiles(shown.input, published)) {
        shown.lastHour = hour;
        shown.lastAt = now;
      } else {
        endState(shown);
        shown = newState(published, hour, shown);
      }
      if (hour % 24 === dailyAt) {
        // A device refreshing at some moment before the next tick.
        const info = await deviceRefresh(now + Math.floor(rand() * HOUR));
        expect(info, `day ${Math.floor(hour / 24)}`).toBeDefined();
      }
    }
    endState(shown);
    const lastTs = shown.timestamp.version as number;
    const lastSnap = shown.snapshot.version as number;
    console.log(
      `living repository: seed ${seed}, ${kills} SIGKILLs (${refreshKills} at refresh hours, of ${refreshHours}: ` +
        `the refresh ${killedRefreshes.join(', ')}), ` +
        `timestamp v${lastTs}, snapshot v${lastSnap} after 100 days; ${states} published states, ${verifies} verifies`,
    );
    expect(kills).toBeGreaterThanOrEqual(KILLS_ANY_HOUR);
    expect(refreshKills).toBeGreaterThanOrEqual(KILLS_AT_REFRESH);
    // About two timestamps a day (refreshed at half of 1 day), a snapshot every 3.5 days.
    expect(lastTs).toBeGreaterThanOrEqual(195);
    expect(lastSnap).toBeGreaterThanOrEqual(28);

    // Every refresh is one release row, versions strictly increasing; the audit chain is intact.
    await c.kill('SIGTERM');
    const rows = withDb(
      repo.dataDir,
      (db) =>
        db.prepare("SELECT version FROM releases WHERE role = 'timestamp' ORDER BY seq").all() as { version: number }[],
    );
    for (let i = 1; i < rows.length; i++) expect(rows[i]!.version).toBeGreaterThan(rows[i - 1]!.version);
    const audit = withDb(repo.dataDir, (db) => db.prepare('SELECT * FROM audit ORDER BY seq').all() as AuditRow[]);
    expect(verifyAuditChain(audit)).toBeNull();
    expect(audit.filter((a) => a.event === 'online.refreshed').length).toBe(rows.length);
    expect(DAY).toBe(24 * HOUR);
  }, 600_000);
});

describe.each(['tuf', 'ota'] as const)('renewal rounds (%s)', (dialect) => {
  it('the coordinator opens a renewal round itself when targets, then root, near expiry; keyholders release it', async () => {
    const clock = testClock();
    const t0 = Date.now();
    clock.set(t0);
    const repo = await livingRepo(clock.file, { dialect });
    cleanups.push(() => fs.rmSync(repo.dir, { recursive: true, force: true }));
    const c = repo.coordinator;
    const current = path.join(repo.dataDir, 'releases', 'current');
    const targetsOf = () =>
      parseMetadata(fs.readFileSync(path.join(current, 'targets.json')), 'targets.json', 'targets', dialect).signed;
    const v1 = targetsOf();

    // 13 days before targets expire (31-day default): nothing is due at 17 days.
    clock.set(Date.parse(String(v1.expires)) - 17 * DAY);
    expect((await adminCall(c, 'living.check', { body: {} })).renewals).toEqual([]);
    const before = await adminCall(c, 'expiry');
    expect(before.roles.find((r) => r.role === 'targets')).toMatchObject({ state: 'ok', renewBeforeDays: 14 });

    // A keyholder is watching; the coordinator's own timer opens the round (no admin call).
    const w = new Watcher(repo.homes.alice!);
    cleanups.push(() => w.stop());
    await w.waitFor(/watching as/);
    const renewAt = Date.parse(String(v1.expires)) - 13 * DAY - HOUR;
    clock.set(renewAt);
    await until(() => (targetsOf().version as number) === 2, 'targets v2 released by the watching keyholder', 30_000);
    const v2 = targetsOf();
    expect(v2.targets).toEqual(v1.targets);
    expect(Date.parse(String(v2.expires))).toBe(Math.floor(renewAt / 1000) * 1000 + 31 * DAY);
    const opened = (await auditEvents(repo.dataDir)).filter((e) => e.event === 'round.opened');
    expect(opened.at(-1)!.data).toMatchObject({
      role: 'targets',
      version: 2,
      by: 'coordinator',
      reason: 'renewal: expires in 13 days',
    });
    expect(w.log).toContain(String(opened.at(-1)!.data.round));
    // Renewed: nothing due, and expiry says so.
    expect((await adminCall(c, 'living.check', { body: {} })).renewals).toEqual([]);
    const ex = await quorumHere(['expiry', '--data-dir', repo.dataDir, '--json']);
    expect(ex.code, ex.stderr).toBe(0);
    const roles = (JSON.parse(ex.stdout) as { roles: { role: string; state: string; daysLeft: number }[] }).roles;
    expect(roles.find((r) => r.role === 'targets')).toMatchObject({ state: 'ok', daysLeft: 31 });
    expect(roles.map((r) => r.role)).toEqual(
      dialect === 'tuf' ? ['root', 'targets', 'snapshot', 'timestamp'] : ['root', 'targets'],
    );

    // Root: 59 days before its 365-day expiry. Targets has expired by then: one root round re-signs
    // targets too (a linked round), both released together.
    const root1 = parseMetadata(fs.readFileSync(path.join(current, 'root.json')), 'root.json', 'root', dialect).signed;
    clock.set(Date.parse(String(root1.expires)) - 59 * DAY);
    await until(
      () => fs.existsSync(path.join(current, '2.root.json')) && (targetsOf().version as number) === 3,
      'root v2 and targets v3 released',
      30_000,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\ncoordinator:\n${c.log.slice(-3000)}\nwatcher:\n${w.log.slice(-3000)}`);
    });
    const renewals = (await auditEvents(repo.dataDir)).filter(
      (e) => e.event === 'round.opened' && e.data.by === 'coordinator' && !e.data.linked,
    );
    const lines = renewals.map((e) => `${String(e.data.role)} ${String(e.data.reason)}`);
    expect(lines).toEqual(['targets renewal: expires in 13 days', 'root renewal: expires in 59 days']);
    const linked = (await auditEvents(repo.dataDir)).filter((e) => e.event === 'round.opened').at(-1)!;
    expect(linked.data).toMatchObject({
      role: 'targets',
      version: 3,
      linked: renewals[1]!.data.round,
      by: 'coordinator',
    });
    const st = await quorumHere(['status', '--data-dir', repo.dataDir]);
    expect(st.stdout).toMatch(/expiry: root +v2 .* ok/);
    // The device's view of the folder at that moment.
    const report = verifyRepository(loadRepository(current, path.join(current, '1.root.json')), {
      at: new Date(Date.parse(String(root1.expires)) - 59 * DAY),
      dialect,
    });
    expect(report.errors).toEqual([]);
    await w.stop();
  }, 180_000);
});

describe('published where clients fetch it', () => {
  it('tuf-js refreshes from /repository/ while the coordinator refreshes timestamps; quorum publish DIR', async () => {
    const dir = tmpdir('quorum-publish-');
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const clock = testClock();
    const t0 = Date.now();
    clock.set(t0);
    const repo = await livingRepo(clock.file, { targetsExpiresDays: 200, serveArgs: ['--publish'] });
    cleanups.push(() => fs.rmSync(repo.dir, { recursive: true, force: true }));
    const c = repo.coordinator;
    const current = path.join(repo.dataDir, 'releases', 'current');
    const base = `${c.url}/repository`;

    // Headers: the changing names revalidated on every use, versioned names immutable.
    const ts = await fetch(`${base}/timestamp.json`);
    expect(ts.status).toBe(200);
    expect(ts.headers.get('cache-control')).toBe('no-cache');
    const etag = ts.headers.get('etag')!;
    expect(Buffer.from(await ts.arrayBuffer()).equals(fs.readFileSync(path.join(current, 'timestamp.json')))).toBe(
      true,
    );
    expect((await fetch(`${base}/timestamp.json`, { headers: { 'if-none-match': etag } })).status).toBe(304);
    const root1 = await fetch(`${base}/1.root.json`);
    expect(root1.status).toBe(200);
    expect(root1.headers.get('cache-control')).toContain('immutable');
    // Nothing else: no next root yet (tuf-js's probe needs the 404), no data dir file, no writes.
    for (const p of [
      '2.root.json',
      'quorum.db',
      'admin.token',
      '..%2Fquorum.db',
      '%2e%2e/admin.token',
      'x/timestamp.json',
    ])
      expect((await fetch(`${base}/${p}`)).status, p).toBe(404);
    expect((await fetch(`${base}/timestamp.json`, { method: 'POST', body: '{}' })).status).toBe(405);

    // A device refreshing from /repository/, over and over, as the coordinator re-signs under it.
    const clientDir = path.join(dir, 'client');
    fs.mkdirSync(clientDir);
    fs.copyFileSync(path.join(current, '1.root.json'), path.join(clientDir, 'root.json'));
    const deviceRefresh = async (metadataBaseUrl: string, metadataDir: string, at: number) => {
      vi.useFakeTimers({ toFake: ['Date'], now: at });
      try {
        const u = new Updater({ metadataBaseUrl, targetBaseUrl: `${metadataBaseUrl}/t`, metadataDir, targetDir: dir });
        await u.refresh();
        return await u.getTargetInfo('firmware-1.0');
      } finally {
        vi.useRealTimers();
      }
    };
    let now = t0;
    const versions: number[] = [];
    for (let i = 0; i < 10; i++) {
      now += 13 * HOUR;
      clock.set(now);
      const r = await adminCall(c, 'living.check', { body: {} });
      expect(r.refreshed, `step ${i}`).not.toBeNull();
      expect(await deviceRefresh(`${base}/`, clientDir, now + HOUR), `step ${i}`).toBeDefined();
      versions.push(
        (JSON.parse(fs.readFileSync(path.join(clientDir, 'timestamp.json'), 'utf8')) as { signed: { version: number } })
          .signed.version,
      );
    }
    expect(versions).toEqual([...versions].sort((a, b) => a - b));
    expect(new Set(versions).size).toBe(10);

    // quorum publish DIR: the same files, which a device fetches from any web server.
    const out = path.join(dir, 'www');
    const pub = await quorumHere(['publish', out, '--data-dir', repo.dataDir]);
    expect(pub.code, pub.stderr).toBe(0);
    for (const n of fs.readdirSync(current))
      expect(fs.readFileSync(path.join(out, n)).equals(fs.readFileSync(path.join(current, n))), n).toBe(true);
    expect(fs.readdirSync(out).filter((n) => n.includes('.tmp-'))).toEqual([]);
    const www = await serveFolder(out);
    cleanups.push(() => www.close());
    const fresh = path.join(dir, 'client2');
    fs.mkdirSync(fresh);
    fs.copyFileSync(path.join(current, '1.root.json'), path.join(fresh, 'root.json'));
    expect(await deviceRefresh(www.url, fresh, now + HOUR)).toBeDefined();

    // A coordinator not asked to publish serves nothing there.
    await c.kill('SIGTERM');
    const quiet = new Coordinator(repo.dataDir, ['--unsafe-test-clock', clock.file]);
    await quiet.start();
    cleanups.push(() => quiet.kill('SIGKILL'));
    expect((await fetch(`${quiet.url}/repository/timestamp.json`)).status).toBe(404);
    await quiet.kill('SIGTERM');
  }, 180_000);
});
