/**
 * A FROST group key as an Uptane/TUF role key, with real processes: keyholders run a DKG through
 * the coordinator (quorum frost create, quorum-signer frost join); a root round puts the group key
 * into root (threshold 2 with alice's key) and makes it the only targets key; t participants sign
 * the root and the targets rounds together with quorum-signer frost sign, each after its own
 * checks against its pinned root. The coordinator is SIGKILLed mid-signing and loses nothing; a
 * participant SIGKILLed mid-DKG resumes; targets move to a plain key and back to the group in
 * linked root + targets rounds (the group signing targets under the proposed root). The
 * releases are accepted by `quorum verify`, by node:crypto against the raw group key, and (tuf)
 * by the tuf-js Updater over loopback HTTP; in the ota dialect by the ota rules of `quorum verify`.
 *
 * The coordinator is a real `quorum serve` process throughout. In the tuf story the participants'
 * DKG and signing run as real `quorum-signer` processes (but the linked rounds' signers, and the
 * renewal's first two, whose late third is a process, and alice in the deadline case); the ota
 * story, which checks what the dialect changes (canonical bytes, signature encoding, the ota rules
 * of verify), runs the signers' commands in this process (frost-harness.ts) over the same WebSocket,
 * but for bob's join, which is SIGKILLed mid-DKG. The administrator's commands (round open, rounds,
 * frost list) run in this process in both.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalize, type Dialect } from '../../protocol/canonical.js';
import type { RoundInfo } from '../../protocol/wire.js';
import { FrostStore } from '../../signer-client/frost-store.js';
import { tufJsDownload } from '../interop/helpers.js';
import { frostIdentitiesHere, frostJoinHere, frostSignHere } from './frost-harness.js';
import {
  adminCall,
  background,
  frostJoin,
  located,
  newRepo,
  PASSPHRASE,
  quorum,
  quorumHere,
  type Repo,
  signer,
  signerHere,
  until,
} from './harness.js';
import { connect, keySigner } from './wire-client.js';

interface Group {
  ceremony: string;
  name: string;
  kind: string;
  state: string;
  groupPublicKey: string | null;
}

const names = ['alice', 'bob', 'carol'];
const frostSign = (repo: Repo, k: string, round: string) =>
  background(['frost', 'sign', round, '--yes', '--home', repo.homes[k]!, '--timeout-s', '90']);

async function rounds(repo: Repo): Promise<RoundInfo[]> {
  const r = await quorumHere(['rounds', '--json', '--data-dir', repo.dataDir]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as RoundInfo[];
}

async function openRound(repo: Repo, args: string[]): Promise<string> {
  const r = await quorumHere(['round', 'open', ...args, '--data-dir', repo.dataDir]);
  expect(r.code, r.stderr).toBe(0);
  return /opened round (\S+)/.exec(r.stdout)![1]!;
}

/**
 * The DKG of a 2-of-3 group named `release` among alice, bob and carol; `join` runs alice's, bob's
 * resumed and carol's quorum-signer frost join (bob's first one is always a process, killed).
 */
async function makeGroup(repo: Repo, join: typeof frostJoinHere): Promise<string> {
  // Not a group yet: a root round cannot name it.
  const early = await quorumHere([
    'round',
    'open',
    'root',
    '--reason',
    'too early',
    '--add-key',
    'targets=frost:release',
    '--data-dir',
    repo.dataDir,
  ]);
  expect(early.code).not.toBe(0);
  expect(early.stderr).toMatch(/no FROST group release/);
  const open = await quorumHere([
    'frost',
    'create',
    '--name',
    'release',
    '--threshold',
    '2',
    ...names.flatMap((n) => ['--participant', n]),
    '--reason',
    'release signing group',
    '--data-dir',
    repo.dataDir,
  ]);
  expect(open.code, open.stderr).toBe(0);
  expect(open.stdout).toContain('quorum-signer frost join dkg-release');
  const again = await quorumHere([
    'frost',
    'create',
    '--name',
    'release',
    '--threshold',
    '2',
    '--participant',
    'alice',
    '--participant',
    'bob',
    '--reason',
    'r',
    '--data-dir',
    repo.dataDir,
  ]);
  expect(again.code).not.toBe(0);
  expect(again.stderr).toMatch(/dkg-release/);
  // alice and bob send round 1; bob's process is killed while it waits for carol, and resumes
  // from its encrypted round-1 state (the same package, which the coordinator accepts again).
  const alice = join(repo.homes.alice!, 'dkg-release');
  const bob = frostJoin(repo.homes.bob!, 'dkg-release');
  // polled over the admin API (a process per poll would take CPU from the participants); the
  // command line's view of the same ceremony once it is there
  await until(
    async () =>
      (await adminCall(repo.coordinator, 'frost.ceremony', { params: { id: 'dkg-release' } })).round1Received.length ===
      2,
    'round 1 from alice and bob',
    30_000,
  );
  const shown = await quorumHere(['frost', 'ceremony', 'dkg-release', '--json', '--data-dir', repo.dataDir]);
  expect((JSON.parse(shown.stdout) as { round1Received: number[] }).round1Received).toHaveLength(2);
  const stateFile = path.join(repo.homes.bob!, 'frost', 'dkg', 'dkg-release.json');
  expect(fs.existsSync(stateFile)).toBe(true);
  expect(fs.readFileSync(stateFile, 'utf8')).not.toMatch(/coefficients/);
  bob.proc.kill('SIGKILL');
  await bob.done;
  const bob2 = join(repo.homes.bob!, 'dkg-release');
  await until(() => bob2.log().includes('round 1 sent'), "bob's resumed round 1", 30_000);
  expect(bob2.log()).toContain('resuming from');
  const carol = join(repo.homes.carol!, 'dkg-release');
  for (const [k, j] of [
    ['alice', alice],
    ['bob', bob2],
    ['carol', carol],
  ] as const) {
    const r = await j.done;
    expect(r.code, `${k}: ${j.log()}`).toBe(0);
  }
  expect(fs.existsSync(stateFile)).toBe(false); // dropped once the share is stored and the group agreed
  const list = await quorumHere(['frost', 'list', '--json', '--data-dir', repo.dataDir]);
  const groups = (JSON.parse(list.stdout) as Group[]).filter((g) => g.name === 'release');
  expect(groups).toEqual([
    expect.objectContaining({ ceremony: 'dkg-release', name: 'release', kind: 'role-key', state: 'done' }),
  ]);
  return groups[0]!.groupPublicKey!;
}

/** The Ed25519 signature of `keyid` on a released file verifies with the raw group key over its canonical bytes. */
function checkGroupSignature(file: string, dialect: Dialect, groupKey: string): string {
  const doc = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    signed: unknown;
    signatures: { keyid: string; sig: string }[];
  };
  const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(groupKey, 'hex')]);
  const pub = crypto.createPublicKey({ key: spki, format: 'der', type: 'spki' });
  const bytes = canonicalize(doc.signed, dialect);
  const hits = doc.signatures.filter((s) =>
    crypto.verify(null, bytes, pub, Buffer.from(s.sig, dialect === 'ota' ? 'base64' : 'hex')),
  );
  expect(hits, `a signature by the group key on ${path.basename(file)}`).toHaveLength(1);
  return hits[0]!.keyid;
}

function story(dialect: Dialect): void {
  let repo: Repo;
  let groupKey: string;
  let current: string;
  // tuf: the participants as processes; ota: in this process (see the top of the file)
  const sign = dialect === 'tuf' ? frostSign : frostSignHere;
  const join = dialect === 'tuf' ? frostJoin : frostJoinHere;

  beforeAll(async () => {
    process.env.QUORUM_FROST_SIGN_TIMEOUT_MS = '5000';
    repo = await newRepo({
      dialect,
      keyholders: names,
      rootKeyholders: ['alice'],
      rootThreshold: 1,
      targetsThreshold: 1,
      releaseRoot: true,
    });
    current = path.join(repo.dataDir, 'releases', 'current');
    await frostIdentitiesHere(repo, names);
  }, 120_000);
  afterAll(async () => {
    await repo?.coordinator.kill();
  });

  if (dialect === 'tuf') {
    it('a ceremony still under way at its deadline fails, naming whom it was waiting for', async () => {
      const deadline = new Date(Date.now() + 4000).toISOString();
      const open = await quorumHere([
        'frost',
        'create',
        '--name',
        'late',
        '--threshold',
        '2',
        '--participant',
        'alice',
        '--participant',
        'bob',
        '--reason',
        'bob never comes',
        '--deadline',
        deadline,
        '--data-dir',
        repo.dataDir,
      ]);
      expect(open.code, open.stderr).toBe(0);
      // in this process: a cold quorum-signer process on a loaded machine could miss round 1 itself
      // before the 4-second deadline (seen on main at load 8), and the test is about bob's absence
      const alice = frostJoinHere(repo.homes.alice!, 'dkg-late');
      const res = await alice.done;
      expect(res.code).not.toBe(0);
      expect(alice.log()).toMatch(/CEREMONY_FAILED[\s\S]*DEADLINE[\s\S]*waiting for bob/);
      const st = await quorumHere(['frost', 'ceremony', 'dkg-late', '--json', '--data-dir', repo.dataDir]);
      expect(JSON.parse(st.stdout)).toMatchObject({ state: 'failed', round1Received: [1] });
      expect(repo.coordinator.log).toContain('ceremony dkg-late failed: DEADLINE');
      // A failed ceremony does not hold its name; a deadline in the past is refused.
      const past = await quorumHere([
        'frost',
        'create',
        '--name',
        'late',
        '--threshold',
        '2',
        '--participant',
        'alice',
        '--participant',
        'bob',
        '--reason',
        'r',
        '--deadline',
        '2020-01-01T00:00:00Z',
        '--data-dir',
        repo.dataDir,
      ]);
      expect(past.code).not.toBe(0);
      expect(past.stderr).toMatch(/deadline must be a time in the future/);
    }, 60_000);
  }

  it(
    'runs the DKG for a role-key group and puts the group key into root and targets in a root round signed by ' +
      'alice and the group',
    async () => {
      groupKey = await makeGroup(repo, join);
      const id = await openRound(repo, [
        'root',
        '--reason',
        'release group signs root and targets',
        '--add-key',
        'root=frost:release',
        '--threshold',
        'root=2',
        '--add-key',
        'targets=frost:release',
        '--remove-key',
        'targets=alice',
      ]);
      const r = (await rounds(repo)).find((x) => x.id === id)!;
      expect(r.frost).toEqual([
        expect.objectContaining({
          session: `${id}.dkg-release`,
          ceremony: 'dkg-release',
          groupPublicKey: groupKey,
          threshold: 2,
          participants: names,
          signed: false,
        }),
      ]);
      expect(r.progress.at(-1)!.missing).toContain('frost:release');

      // bob's own key is not a root key: `sign` refuses, pointing at frost sign.
      const plain = await (dialect === 'tuf' ? signer : signerHere)(['sign', id, '--yes', '--home', repo.homes.bob!]);
      expect(plain.code).not.toBe(0);
      expect(plain.stderr).toMatch(/NOT_NEEDED[\s\S]*quorum-signer frost sign/);
      // bob reviews as a participant of the group, from the bytes, against his pinned root.
      const review = await signerHere(['review', id, '--home', repo.homes.bob!, '--no-diff']);
      expect(review.code, review.stderr).toBe(0);

      // The group signs first (bob and carol), then alice: the release needs both thresholds.
      const [b, c] = [sign(repo, 'bob', id), sign(repo, 'carol', id)];
      for (const p of [b, c]) {
        const res = await p.done;
        expect(res.code, p.log()).toBe(0);
        expect(res.stdout).toContain(`FROST group dkg-release signed ${id}`);
      }
      expect(repo.coordinator.log).toContain(`round ${id}: signature of FROST group release by bob, carol stored`);
      expect((await rounds(repo)).find((x) => x.id === id)!.state).toBe('open');
      const a = await signerHere(['sign', id, '--yes', '--home', repo.homes.alice!]);
      expect(a.code, a.stderr).toBe(0);
      await until(() => fs.existsSync(path.join(current, '2.root.json')), 'root v2 release');
      checkGroupSignature(path.join(current, '2.root.json'), dialect, groupKey);
    },
    180_000,
  );

  it(
    'releases targets signed only by the group, across a coordinator SIGKILL mid-signing, and quorum verify ' +
      'accepts the release',
    async () => {
      const fw = path.join(repo.dir, 'firmware-1.0.bin');
      fs.writeFileSync(fw, 'firmware image 1.0\n');
      const id = await openRound(repo, [
        'targets',
        '--reason',
        'ship 1.0',
        '--add',
        fw,
        '--name',
        'firmware',
        '--version',
        '1.0',
        '--hardware-id',
        'ecu-main',
        ...located(dialect),
      ]);
      // carol commits, then the coordinator dies; after the restart she commits again (the old
      // nonce is abandoned, never used) and alice joins: alice + carol sign.
      const carol = sign(repo, 'carol', id);
      await until(
        () => repo.coordinator.log.includes(`FROST session ${id}.dkg-release: commitment from carol`),
        "carol's commitment",
        30_000,
      );
      const port = repo.coordinator.port;
      await repo.coordinator.kill('SIGKILL');
      await repo.coordinator.start(port);
      const alice = sign(repo, 'alice', id);
      for (const p of [carol, alice]) {
        const res = await p.done;
        expect(res.code, p.log()).toBe(0);
      }
      await until(async () => (await rounds(repo)).find((x) => x.id === id)?.state === 'released', 'targets release');
      const r = (await rounds(repo)).find((x) => x.id === id)!;
      expect(r.progress).toEqual([expect.objectContaining({ met: true, signed: ['frost:release'] })]);
      const keyid = checkGroupSignature(path.join(current, 'targets.json'), dialect, groupKey);
      const root = JSON.parse(fs.readFileSync(path.join(current, '2.root.json'), 'utf8')) as {
        signed: { roles: Record<string, { keyids: string[]; threshold: number }> };
      };
      expect(root.signed.roles.targets).toEqual({ keyids: [keyid], threshold: 1 });

      // The device's view: the whole chain from root v1, with the ota or tuf rules of the dialect.
      const v = await quorum(['verify', current, '--root', path.join(current, '1.root.json'), '--json']);
      expect(v.code, v.stdout + v.stderr).toBe(0);
      const report = JSON.parse(v.stdout) as { ok: boolean; dialect: string; errors: unknown[]; rootChain: unknown[] };
      expect(report).toMatchObject({ ok: true, dialect, errors: [] });
      expect(report.rootChain).toHaveLength(2);
      const audit = await quorumHere(['audit', 'verify', '--data-dir', repo.dataDir]);
      expect(audit.code, audit.stderr).toBe(0);

      if (dialect === 'tuf') {
        const got = await tufJsDownload({
          work: repo.dir,
          metadataDir: current,
          trustedRoot: path.join(current, '1.root.json'),
          target: 'firmware-1.0',
          targetFile: fw,
        });
        expect(fs.readFileSync(got.file, 'utf8')).toBe('firmware image 1.0\n');
        expect(got.rootVersion).toBe(2);
      }
    },
    180_000,
  );

  it('signs a root renewal once for both root thresholds; a participant who comes late finds the signature in', async () => {
    const id = await openRound(repo, ['root', '--reason', 'renew', '--expires-days', '300']);
    // root v3 needs root v2's keys (alice + group, 2) and v3's (the same): the group signs once for both.
    const [a, b] = [frostSignHere(repo, 'alice', id), frostSignHere(repo, 'bob', id)];
    for (const p of [a, b]) expect((await p.done).code, p.log()).toBe(0);
    const again = sign(repo, 'carol', id);
    const res = await again.done;
    expect(res.code, again.log()).toBe(0); // nothing left to do: the group's signature is in
    expect(res.stdout).toContain(`FROST group dkg-release signed ${id}`);
    // Over the wire: no more commitments once the group signed; no session for an unknown group.
    const carol = await connect(repo.coordinator.url, keySigner(repo.keys.carol!));
    try {
      await carol.hello;
      const kh = FrostStore.open(path.join(repo.homes.carol!, 'frost')).unlockShare(groupKey, PASSPHRASE);
      const late = await carol.request({
        type: 'frost.sign.commitment',
        session: `${id}.dkg-release`,
        commitment: kh.commitSync(`${id}.dkg-release`),
      });
      expect(late).toMatchObject({ type: 'error', code: 'SESSION_DONE' });
      const st = await carol.request({ type: 'frost.sign.get', session: `${id}.dkg-release` });
      expect(st).toMatchObject({ type: 'frost.sign.status', done: true, state: 'open', groupPublicKey: groupKey });
      const unknown = await carol.request({ type: 'frost.sign.get', session: `${id}.dkg-nope` });
      expect(unknown).toMatchObject({ type: 'error', code: 'SESSION_NOT_FOUND' });
    } finally {
      carol.close();
    }
    const s = await signerHere(['sign', id, '--yes', '--home', repo.homes.alice!]);
    expect(s.code, s.stderr).toBe(0);
    await until(() => fs.existsSync(path.join(current, '3.root.json')), 'root v3 release');
    checkGroupSignature(path.join(current, '3.root.json'), dialect, groupKey);
  }, 180_000);

  it(
    'hands targets back to alice and then to the group again, each time re-signing the released targets in a ' +
      'linked round',
    async () => {
      // Root v4: targets key alice instead of the group; the group signs the root (it is a root key),
      // alice the linked targets round.
      const open4 = await quorumHere([
        'round',
        'open',
        'root',
        '--reason',
        'targets to alice',
        '--add-key',
        'targets=alice',
        '--remove-key',
        'targets=frost:release',
        '--resign-targets',
        '--json',
        '--data-dir',
        repo.dataDir,
      ]);
      expect(open4.code, open4.stderr).toBe(0);
      const r4 = JSON.parse(open4.stdout) as { id: string; linked: string };
      for (const p of [frostSignHere(repo, 'bob', r4.id), frostSignHere(repo, 'carol', r4.id)])
        expect((await p.done).code, p.log()).toBe(0);
      for (const id of [r4.id, r4.linked])
        expect((await signerHere(['sign', id, '--yes', '--home', repo.homes.alice!])).code).toBe(0);
      await until(() => fs.existsSync(path.join(current, '4.root.json')), 'root v4 release');

      // Root v5: the group takes targets back; the linked targets round needs the group under the
      // proposed root, and its participants check it against that root, not the released one.
      const open5 = await quorumHere([
        'round',
        'open',
        'root',
        '--reason',
        'targets to the group',
        '--add-key',
        'targets=frost:release',
        '--remove-key',
        'targets=alice',
        '--resign-targets',
        '--json',
        '--data-dir',
        repo.dataDir,
      ]);
      expect(open5.code, open5.stderr).toBe(0);
      const r5 = JSON.parse(open5.stdout) as { id: string; linked: string };
      const linked = (await rounds(repo)).find((x) => x.id === r5.linked)!;
      expect(linked.frost).toEqual([expect.objectContaining({ session: `${r5.linked}.dkg-release`, signed: false })]);
      const [a, c] = [frostSignHere(repo, 'alice', r5.linked), frostSignHere(repo, 'carol', r5.linked)];
      for (const p of [a, c]) {
        const res = await p.done;
        expect(res.code, p.log()).toBe(0);
        expect(res.stdout).toContain(`LINKED: released only together with root round ${r5.id}`);
      }
      expect((await rounds(repo)).find((x) => x.id === r5.linked)!.state).toBe('open'); // not before its root round
      for (const p of [frostSignHere(repo, 'alice', r5.id), frostSignHere(repo, 'bob', r5.id)])
        expect((await p.done).code, p.log()).toBe(0);
      expect((await signerHere(['sign', r5.id, '--yes', '--home', repo.homes.alice!])).code).toBe(0);
      await until(() => fs.existsSync(path.join(current, '5.root.json')), 'root v5 release');
      checkGroupSignature(path.join(current, 'targets.json'), dialect, groupKey);
      // the device's view once more (quorum verify, a process, checked it in the targets test): in this process
      const v = await quorumHere(['verify', current, '--root', path.join(current, '1.root.json')]);
      expect(v.code, v.stdout + v.stderr).toBe(0);
    },
    180_000,
  );
}

describe('a FROST group as root and targets key (tuf)', () => story('tuf'));
describe('a FROST group as root and targets key (ota)', () => story('ota'));
