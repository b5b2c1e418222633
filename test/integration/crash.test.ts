/**
 * Crash recovery with real processes: the coordinator is killed with SIGKILL at several moments of
 * a targets round (3-of-5) and restarted on the same port, while `quorum-signer watch
 * --unsafe-auto-sign` processes sign. After every restart:
 *   - no acknowledged signature is lost (every "accepted" a signer printed is in the database);
 *   - rounds resume and complete;
 *   - the signers reconnect by themselves (their logs say "reconnected");
 *   - each round is released exactly once (one releases row, one round.released audit event), and
 *     the release folder is byte-identical to the files recorded in the database.
 * A kill right at the threshold (around the release) is repeated with a copy of the data dir
 * taken at the moment of the kill: the original restarted, the copy recovered by another
 * coordinator, and the original again after every later crash all publish the same bytes.
 * The SQLite database is read directly, read-only, for the assertions.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalize } from '../../protocol/canonical.js';
import { keyIdOf, serialize } from '../../protocol/metadata/build.js';
import type { ServerMessage } from '../../protocol/wire.js';
import { verifyAuditChain, type AuditRow } from '../../coordinator/store.js';
import { Coordinator, Watcher, adminCall, newRepo, quorumHere, sleep, tmpdir, until, type Repo } from './harness.js';
import { RawSocket, keySigner } from './raw-socket.js';

const KEYHOLDERS = ['alice', 'bob', 'carol', 'dave', 'erin'];
const TARGETS_THRESHOLD = 3;

// --- reading the data dir directly -----------------------------------------------------------

function withDb<T>(dataDir: string, fn: (db: Database.Database) => T): T {
  const db = new Database(path.join(dataDir, 'quorum.db'), { readonly: true, fileMustExist: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

const signersOf = (dataDir: string, round: string): string[] =>
  withDb(dataDir, (db) =>
    (
      db.prepare('SELECT keyholder FROM signatures WHERE round_id = ? ORDER BY keyholder').all(round) as {
        keyholder: string;
      }[]
    ).map((r) => r.keyholder),
  );

const roundState = (dataDir: string, round: string): string | undefined =>
  withDb(
    dataDir,
    (db) => (db.prepare('SELECT state FROM rounds WHERE id = ?').get(round) as { state: string } | undefined)?.state,
  );

const releaseRows = (dataDir: string, round: string): { seq: number }[] =>
  withDb(dataDir, (db) => db.prepare('SELECT seq FROM releases WHERE round_id = ?').all(round) as { seq: number }[]);

const releasedEvents = (dataDir: string, round: string): number =>
  withDb(
    dataDir,
    (db) =>
      (
        db
          .prepare(
            "SELECT count(*) AS n FROM audit WHERE event = 'round.released' AND json_extract(data, '$.round') = ?",
          )
          .get(round) as { n: number }
      ).n,
  );

const dbFiles = (dataDir: string, seq: number): Record<string, Buffer> =>
  withDb(dataDir, (db) =>
    Object.fromEntries(
      (
        db.prepare('SELECT name, bytes FROM release_files WHERE release_seq = ? ORDER BY name').all(seq) as {
          name: string;
          bytes: Buffer;
        }[]
      ).map((r) => [r.name, r.bytes]),
    ),
  );

function folderFiles(dir: string): Record<string, Buffer> {
  return Object.fromEntries(
    fs
      .readdirSync(dir)
      .sort()
      .map((n) => [n, fs.readFileSync(path.join(dir, n))]),
  );
}

interface Released {
  seq: number;
  files: Record<string, Buffer>;
}

/** The round was released exactly once, and its folder holds exactly the recorded bytes. */
function releasedOnce(dataDir: string, round: string): Released {
  expect(roundState(dataDir, round)).toBe('released');
  const rows = releaseRows(dataDir, round);
  expect(rows, `releases rows of ${round}`).toHaveLength(1);
  expect(releasedEvents(dataDir, round), `round.released audit events of ${round}`).toBe(1);
  const seq = rows[0]!.seq;
  const files = dbFiles(dataDir, seq);
  const onDisk = folderFiles(path.join(dataDir, 'releases', String(seq)));
  expect(Object.keys(onDisk)).toEqual(Object.keys(files));
  for (const [name, bytes] of Object.entries(files))
    expect(onDisk[name]!.equals(bytes), `${name} of release ${seq} differs from the database`).toBe(true);
  return { seq, files };
}

/** Every recorded release is published byte for byte, and `current` is the latest. */
function allReleasesPublished(dataDir: string): void {
  const seqs = withDb(dataDir, (db) =>
    (db.prepare('SELECT seq FROM releases ORDER BY seq').all() as { seq: number }[]).map((r) => r.seq),
  );
  for (const seq of seqs) {
    const files = dbFiles(dataDir, seq);
    const onDisk = folderFiles(path.join(dataDir, 'releases', String(seq)));
    expect(Object.keys(onDisk)).toEqual(Object.keys(files));
    for (const [name, bytes] of Object.entries(files))
      expect(onDisk[name]!.equals(bytes), `${name} of release ${seq}`).toBe(true);
  }
  expect(fs.readlinkSync(path.join(dataDir, 'releases', 'current'))).toBe(String(seqs.at(-1)));
  const rows = withDb(dataDir, (db) => db.prepare('SELECT * FROM audit ORDER BY seq').all() as AuditRow[]);
  expect(verifyAuditChain(rows)).toBeNull();
}

/** targets.json as the release must assemble it from the stored signatures (sorted by key id). */
function expectedTargetsFile(dataDir: string, round: string): Buffer {
  return withDb(dataDir, (db) => {
    const r = db.prepare('SELECT signed_json FROM rounds WHERE id = ?').get(round) as { signed_json: string };
    const keyids = new Map(KEYHOLDERS.map((k) => [k, keyIdOf(keySigner(repo.keys[k]!).publicKey, 'tuf')]));
    const sigs = (
      db.prepare('SELECT keyholder, sig FROM signatures WHERE round_id = ?').all(round) as {
        keyholder: string;
        sig: Buffer;
      }[]
    )
      .map((s) => ({ keyid: keyids.get(s.keyholder)!, sig: s.sig.toString('hex') }))
      .sort((a, b) => (a.keyid < b.keyid ? -1 : 1));
    return serialize({ signatures: sigs, signed: JSON.parse(r.signed_json) as Record<string, unknown> });
  });
}

// --- the repository, its coordinator and its signers ---------------------------------------------

let repo: Repo;
const watchers: Record<string, Watcher> = {};
const acceptedRe = /^signed (\S+); accepted\./gm;

/** round -> keyholders whose watcher printed that the coordinator accepted their signature */
function acknowledged(): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const [k, w] of Object.entries(watchers)) {
    for (const m of w.log.matchAll(acceptedRe)) {
      if (!out.has(m[1]!)) out.set(m[1]!, new Set());
      out.get(m[1]!)!.add(k);
    }
  }
  return out;
}

/** Every acknowledged signature is in the database. */
function noAckLost(): number {
  let n = 0;
  for (const [round, names] of acknowledged()) {
    const stored = signersOf(repo.dataDir, round);
    for (const k of names) {
      expect(stored, `${k}'s acknowledged signature on ${round}`).toContain(k);
      n++;
    }
  }
  return n;
}

/** Without a crash in between, every stored signature gets its acknowledgement printed. */
const everyStoredAcked = (round: string) =>
  until(() => {
    const acked = [...(acknowledged().get(round) ?? [])].sort();
    return acked.join() === signersOf(repo.dataDir, round).join();
  }, `acknowledgements of every stored signature on ${round}`);

const reconnects = (k: string) => (watchers[k]!.log.match(/^reconnected$/gm) ?? []).length;
const pause = (ks: string[]) => ks.forEach((k) => process.kill(watchers[k]!.proc.pid!, 'SIGSTOP'));
const resume = (ks: string[]) => ks.forEach((k) => process.kill(watchers[k]!.proc.pid!, 'SIGCONT'));

let targetN = 0;
async function openTargets(reason: string): Promise<string> {
  const content = Buffer.from(`firmware build ${++targetN} ${crypto.randomUUID()}\n`);
  const res = await adminCall(repo.coordinator, 'rounds.open', {
    body: {
      role: 'targets',
      reason,
      targets: {
        add: {
          [`fw-${targetN}`]: {
            length: content.length,
            hashes: {
              sha256: crypto.createHash('sha256').update(content).digest('hex'),
              sha512: crypto.createHash('sha512').update(content).digest('hex'),
            },
            custom: { name: 'fw', version: String(targetN), targetFormat: 'BINARY' },
          },
        },
      },
    },
  });
  return res.round.id;
}

async function sigkill(c: Coordinator): Promise<void> {
  await c.kill('SIGKILL');
  expect(c.proc!.signalCode).toBe('SIGKILL');
}

/** Restart on the same port and wait until the given watchers have reconnected by themselves. */
async function restart(waitFor: string[], before: Record<string, number>): Promise<void> {
  const port = repo.coordinator.port;
  await startOn(repo.coordinator, port);
  expect(repo.coordinator.port).toBe(port);
  await until(
    () => waitFor.every((k) => reconnects(k) > before[k]!),
    `watchers ${waitFor.join(', ')} to reconnect`,
    30_000,
  );
}

const counts = () => Object.fromEntries(KEYHOLDERS.map((k) => [k, reconnects(k)]));
/** Released and published: the release is recorded first, then its folder is renamed into place. */
const released = (round: string) =>
  until(
    () => {
      if (roundState(repo.dataDir, round) !== 'released') return false;
      const seq = releaseRows(repo.dataDir, round)[0]?.seq;
      return seq !== undefined && fs.existsSync(path.join(repo.dataDir, 'releases', String(seq)));
    },
    `release of ${round}`,
    30_000,
  );

/**
 * After the restart: the round is released exactly once, its targets file is the one the round's
 * bytes and stored signatures make, nothing acknowledged was lost and every release is published
 * (and, where no kill fell between storing and acknowledging, every stored signature was acked).
 */
async function releasedIntact(id: string, opts: { everyAcked: boolean }): Promise<void> {
  await released(id);
  const r = releasedOnce(repo.dataDir, id);
  expect(r.files['targets.json']!.equals(expectedTargetsFile(repo.dataDir, id))).toBe(true);
  if (opts.everyAcked) await everyStoredAcked(id);
  noAckLost();
  allReleasesPublished(repo.dataDir);
}

/**
 * Coordinator.start, tolerating its race with the coordinator writing server.json (not written
 * atomically: the harness can read it empty); then the file is read again once complete.
 */
async function startOn(c: Coordinator, port = 0): Promise<Coordinator> {
  try {
    return await c.start(port);
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e;
    const info = path.join(c.dataDir, 'server.json');
    c.url = await until(() => {
      try {
        return (JSON.parse(fs.readFileSync(info, 'utf8')) as { url: string }).url;
      } catch {
        return null;
      }
    }, 'a complete server.json');
    return c;
  }
}

describe('SIGKILL at any moment of a round', () => {
  beforeAll(async () => {
    repo = await newRepo({
      dialect: 'tuf',
      keyholders: KEYHOLDERS,
      rootThreshold: 2,
      targetsThreshold: TARGETS_THRESHOLD,
      releaseRoot: true,
    });
    for (const k of KEYHOLDERS) watchers[k] = new Watcher(repo.homes[k]!);
    await Promise.all(KEYHOLDERS.map((k) => watchers[k]!.waitFor(/watching as/)));
  }, 120_000);

  afterAll(async () => {
    for (const w of Object.values(watchers)) {
      try {
        process.kill(w.proc.pid!, 'SIGCONT');
      } catch {
        /* already gone */
      }
      await w.stop();
    }
    await repo?.coordinator.kill();
    if (repo) fs.rmSync(repo.dir, { recursive: true, force: true });
  });

  it('(a) killed right after a round opens, before anyone signs: the round resumes and is released once', async () => {
    // Freeze the signers so that nobody can sign before the kill.
    pause(KEYHOLDERS);
    const id = await openTargets('crash (a)');
    const before = counts();
    await sigkill(repo.coordinator);
    expect(roundState(repo.dataDir, id)).toBe('open');
    expect(signersOf(repo.dataDir, id)).toEqual([]);

    resume(KEYHOLDERS);
    await restart(KEYHOLDERS, before);
    await releasedIntact(id, { everyAcked: true });
    expect(signersOf(repo.dataDir, id).length).toBeGreaterThanOrEqual(TARGETS_THRESHOLD);
  }, 60_000);

  it('(b) killed after some signatures were acknowledged, before the threshold: none is lost', async () => {
    const early = ['alice', 'bob'];
    const late = ['carol', 'dave', 'erin'];
    pause(late);
    const id = await openTargets('crash (b)');
    await Promise.all(early.map((k) => watchers[k]!.waitFor(new RegExp(`^signed ${id}; accepted\\.`, 'm'))));
    const before = counts();
    await sigkill(repo.coordinator);
    expect(signersOf(repo.dataDir, id)).toEqual(early);
    expect(roundState(repo.dataDir, id)).toBe('open');
    noAckLost();

    await restart(early, before);
    // The round resumed with both signatures and is still short of its threshold.
    const st = await adminCall(repo.coordinator, 'rounds.get', { params: { id } });
    expect(st.round.state).toBe('open');
    expect([...st.round.progress[0]!.signed].sort()).toEqual(early);
    expect(st.round.progress[0]!.met).toBe(false);

    // The frozen signers wake up, find the connection gone, reconnect and complete the round.
    resume(late);
    await until(() => late.every((k) => reconnects(k) > before[k]!), 'late watchers to reconnect', 30_000);
    await releasedIntact(id, { everyAcked: true });
    expect(signersOf(repo.dataDir, id)).toEqual(expect.arrayContaining(early));
  }, 60_000);

  it('(c) killed at random moments of 8 rounds while watchers sign: every round is released exactly once', async () => {
    const phases: string[] = [];
    for (let i = 0; i < 8; i++) {
      const id = await openTargets(`crash (c) ${i}`);
      const delay = Math.floor(Math.random() * 200);
      await sleep(delay);
      const before = counts();
      await sigkill(repo.coordinator);
      const atKill = { sigs: signersOf(repo.dataDir, id).length, released: releaseRows(repo.dataDir, id).length };
      phases.push(
        `${id}: killed after ${delay} ms with ${atKill.sigs} signature(s), ` +
          `${atKill.released ? 'released' : 'not released'}`,
      );
      noAckLost();

      await restart(KEYHOLDERS, before);
      await releasedIntact(id, { everyAcked: false });
    }
    const dup = Object.values(watchers).reduce((n, w) => n + (w.log.match(/SIG_DUPLICATE/g) ?? []).length, 0);
    console.log(
      `crash (c):\n  ${phases.join('\n  ')}\n  watchers told SIG_DUPLICATE when re-sending after a reconnect: ${dup}`,
    );
  }, 150_000);

  it('(d) killed right at the threshold: the release after restart is identical across restarts and recoveries', async () => {
    // Signing from raw sockets here, so the kill can be timed against the last signature.
    await Promise.all(Object.values(watchers).map((w) => w.stop()));
    const dataDir = repo.dataDir;
    const signOver = async (s: RawSocket, who: string, round: string) => {
      const p = (await s.request({ type: 'round.get', round, ref: 'get' })).msg as Extract<
        ServerMessage,
        { type: 'round.payload' }
      >;
      expect(p.type).toBe('round.payload');
      const bytes = canonicalize(JSON.parse(p.signed), 'tuf');
      expect(crypto.createHash('sha256').update(bytes).digest('hex')).toBe(p.round.sha256);
      const k = keySigner(repo.keys[who]!);
      return {
        type: 'signature.submit',
        ref: who,
        round,
        sha256: p.round.sha256,
        keyid: keyIdOf(k.publicKey, 'tuf'),
        sig: (await k.sign(bytes)).toString('hex'),
      };
    };
    const phases: string[] = [];
    // Kill a fixed time after the last signature was sent (racing its commit, the release that
    // follows in the same turn, and the publication of the folder), or after its acknowledgement
    // arrived (the coordinator acknowledges after the release attempt).
    const triggers: { on: 'send' | 'ack'; ms: number }[] = [
      { on: 'send', ms: 0 },
      { on: 'send', ms: 0.5 },
      { on: 'send', ms: 1 },
      { on: 'send', ms: 2 },
      { on: 'send', ms: 4 },
      { on: 'send', ms: 6 },
      { on: 'send', ms: 8 },
      { on: 'send', ms: 12 },
      { on: 'send', ms: 16 },
      { on: 'ack', ms: 0 },
      { on: 'ack', ms: 0 },
      { on: 'ack', ms: 3 },
    ];
    const spin = (ms: number) => {
      const end = process.hrtime.bigint() + BigInt(Math.round(ms * 1e6));
      while (process.hrtime.bigint() < end);
    };
    // A second crash and restart changes nothing: each trigger's crash is the next crash for the
    // rounds released before it, whose releases must come through it unchanged (the same seq, the
    // same bytes); after the last trigger, one more crash with nothing under way.
    const earlier: { id: string; first: Released }[] = [];
    const earlierUnchanged = (after: string) => {
      for (const { id, first } of earlier) {
        const again = releasedOnce(dataDir, id);
        expect(again.seq, `release of ${id} after ${after}`).toBe(first.seq);
        expect(Object.keys(again.files)).toEqual(Object.keys(first.files));
        for (const [n, b] of Object.entries(first.files))
          expect(again.files[n]!.equals(b), `${n} of ${id} after ${after}`).toBe(true);
      }
    };
    for (const t of triggers) {
      const id = await openTargets(`crash (d) ${t.on} ${t.ms}`);
      for (const who of ['alice', 'bob']) {
        const s = await RawSocket.open(repo.coordinator.url, repo.keys[who]!);
        const ack = await s.request(await signOver(s, who, id));
        expect(ack.msg?.type, ack.text).toBe('signature.accepted');
        await s.close();
      }
      const s = await RawSocket.open(repo.coordinator.url, repo.keys.carol!);
      const submit = await signOver(s, 'carol', id);
      const proc = repo.coordinator.proc!;
      const exited = new Promise((r) => proc.once('exit', r));
      let acked = false;
      s.ws.on('message', (data) => {
        if (acked || !String(data).includes('"type":"signature.accepted"')) return;
        acked = true;
        if (t.on !== 'ack') return;
        spin(t.ms);
        proc.kill('SIGKILL');
      });
      s.sendJson(submit);
      if (t.on === 'send') {
        spin(t.ms);
        proc.kill('SIGKILL');
      }
      await exited;
      await s.closed; // after every frame the dead coordinator had sent
      const sigs = signersOf(dataDir, id);
      // An acknowledged signature survived; an unacknowledged one may or may not have been committed.
      if (acked) expect(sigs).toEqual(['alice', 'bob', 'carol']);
      else expect(sigs.slice(0, 2)).toEqual(['alice', 'bob']);
      const committed = sigs.includes('carol');
      const atKill = releaseRows(dataDir, id).length;
      const current = fs.readlinkSync(path.join(dataDir, 'releases', 'current'));
      phases.push(
        `${id}: killed ${t.ms} ms after the ${t.on}: signature ` +
          `${acked ? 'acknowledged' : committed ? 'committed, not acknowledged' : 'not committed'}, release ` +
          `${atKill ? 'recorded' : 'not recorded'}, current -> ${current}`,
      );

      if (!committed) {
        // Lost before commit (and never acknowledged): carol signs again after the restart.
        const port = repo.coordinator.port;
        await startOn(repo.coordinator, port);
        expect(roundState(dataDir, id)).toBe('open');
        const again = await RawSocket.open(repo.coordinator.url, repo.keys.carol!);
        const rep = await again.request(await signOver(again, 'carol', id));
        expect(rep.msg?.type, rep.text).toBe('signature.accepted');
        await again.close();
        await released(id);
        const first = releasedOnce(dataDir, id);
        allReleasesPublished(dataDir);
        earlierUnchanged(`the crash of ${id}`);
        earlier.push({ id, first });
        continue;
      }

      // A copy of the data dir as the kill left it, recovered independently.
      const copy = path.join(tmpdir('quorum-crash-copy-'), 'data');
      fs.cpSync(dataDir, copy, { recursive: true, verbatimSymlinks: true });
      const other = new Coordinator(copy);
      const port = repo.coordinator.port;
      let first: Released;
      try {
        // The original restarted and the copy recovered at the same time (two data dirs, two ports).
        await Promise.all([startOn(repo.coordinator, port), startOn(other)]);
        first = releasedOnce(dataDir, id);
        expect(first.files['targets.json']!.equals(expectedTargetsFile(dataDir, id))).toBe(true);
        allReleasesPublished(dataDir);

        const recovered = releasedOnce(copy, id);
        expect(recovered.seq).toBe(first.seq);
        expect(Object.keys(recovered.files)).toEqual(Object.keys(first.files));
        for (const [n, b] of Object.entries(first.files))
          expect(recovered.files[n]!.equals(b), `${n} recovered from the copy`).toBe(true);
      } finally {
        await other.kill();
        fs.rmSync(path.dirname(copy), { recursive: true, force: true });
      }

      earlierUnchanged(`the crash of ${id}`);
      earlier.push({ id, first });
    }
    await sigkill(repo.coordinator);
    await startOn(repo.coordinator, repo.coordinator.port);
    earlierUnchanged('a last crash and restart with nothing under way');
    expect(earlier).toHaveLength(triggers.length);
    allReleasesPublished(dataDir);
    console.log(`crash (d):\n  ${phases.join('\n  ')}`);
  }, 120_000);

  it('leaves a repository that quorum verify and quorum audit verify accept', async () => {
    // Both commands run in this process (quorumHere): the same code and verdict as the executables.
    const current = path.join(repo.dataDir, 'releases', 'current');
    const v = await quorumHere(['verify', current, '--root', path.join(current, '1.root.json')]);
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout).toMatch(new RegExp(`targets\\.json: version ${targetN}\\b`));
    const a = await quorumHere(['audit', 'verify', '--data-dir', repo.dataDir]);
    expect(a.code, a.stderr).toBe(0);
    // One release per released round, nothing released twice.
    withDb(repo.dataDir, (db) => {
      const rounds = db.prepare("SELECT id FROM rounds WHERE state = 'released'").all() as { id: string }[];
      const rels = db.prepare('SELECT round_id FROM releases').all() as { round_id: string }[];
      expect(rels.map((r) => r.round_id).sort()).toEqual(rounds.map((r) => r.id).sort());
      const events = db
        .prepare("SELECT json_extract(data, '$.round') AS round FROM audit WHERE event = 'round.released'")
        .all() as { round: string }[];
      expect(events.map((e) => e.round).sort()).toEqual(rounds.map((r) => r.id).sort());
    });
    const leftovers = fs.readdirSync(path.join(repo.dataDir, 'releases')).filter((n) => n.startsWith('.'));
    if (leftovers.length) console.log(`crash: leftovers in releases/: ${leftovers.join(', ')}`);
  });
});
