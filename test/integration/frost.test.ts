/**
 * FROST through the coordinator with real processes: keyholders create X25519 identities
 * (quorum-signer frost identity), the release coordinator records them and opens a DKG ceremony
 * for a FROST fleet root CA (quorum fleet-ca create --frost); each participant runs
 * quorum-signer frost join. The coordinator is SIGKILLed and restarted mid-ceremony (in round 1,
 * and in a second ceremony in round 2) and loses nothing; every participant and the coordinator
 * record the same group key, and the fleet root's certificate round opens under the group key.
 * Then threshold signing over the wire: a participant that drops after committing (the round
 * restarts with another subset), a bad share named and excluded, nonce reuse refused, a coordinator
 * SIGKILL mid-signing; `openssl verify -x509_strict` accepts the fleet root and a device
 * certificate it issues.
 *
 * The coordinator is a real `quorum serve` process throughout. The identities (quorum-signer frost
 * identity), the first ceremony (across the SIGKILL in round 1) and the fleet root's signing run as
 * real `quorum-signer` processes; the coordinator's record of the identities and the pins run in
 * this process (frost-harness.ts; docs/guides/frost-groups.md runs them as processes). Of the later
 * flows one participant is a process and the other runs quorum-signer's commands in this process
 * over the same WebSocket; the second ceremony's alice and bob, and the administrator's listings,
 * refusals and reviews, run in this process.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import {
  dkgFinish,
  dkgRound2,
  dkgStart,
  signIdentity,
  signTranscript,
  transcriptDigest,
} from '../../protocol/frost.js';
import { FrostStore } from '../../signer-client/frost-store.js';
import type { ServerMessage } from '../../protocol/wire.js';
import { backgroundHere, frostJoinHere, frostPinsHere } from './frost-harness.js';
import { connect, keySigner } from './wire-client.js';
import {
  admin,
  adminCall,
  background,
  frostJoin,
  newRepo,
  PASSPHRASE,
  quorum,
  quorumHere,
  type Repo,
  signer,
  signerHere,
  TEST_SCRYPT_N,
  until,
} from './harness.js';

interface DkgStatus {
  state: string;
  round1Received: number[];
  round2Received: number[];
  confirmsReceived: number[];
  group: { groupPublicKey: string; participants: { name: string; verifyingShare: string }[] } | null;
  failure: string | null;
}

const join = frostJoin;

const lastJson = <T>(out: string): T => JSON.parse(out.slice(out.lastIndexOf('\n{') + 1)) as T;

describe('FROST DKG through the coordinator (2-of-3), with a coordinator SIGKILL mid-ceremony', () => {
  let repo: Repo;
  const names = ['alice', 'bob', 'carol'];
  const status = async () => await adminCall(repo.coordinator, 'frost.ceremony', { params: { id: 'dkg-fleet' } });

  beforeAll(async () => {
    process.env.QUORUM_FROST_SIGN_TIMEOUT_MS = '3000'; // a dropped signer is given up on quickly
    repo = await newRepo({
      dialect: 'tuf',
      keyholders: names,
      rootKeyholders: ['alice'],
      rootThreshold: 1,
      targetsThreshold: 1,
    });
  }, 120_000);
  afterAll(async () => {
    await repo?.coordinator.kill();
  });

  it('records identities, runs the ceremony across a restart, and everyone holds the same group key', async () => {
    for (const k of names) {
      const id = await signer(['frost', 'identity', '--home', repo.homes[k]!, '--scrypt-n', TEST_SCRYPT_N]);
      expect(id.code, id.stderr).toBe(0);
      const hex = id.stdout.trim();
      expect(hex).toMatch(/^[0-9a-f]{64}$/);
      const rec = await quorumHere(['keyholder', 'identity', k, hex, '--data-dir', repo.dataDir]);
      expect(rec.code, rec.stderr).toBe(0);
    }
    // Each participant pins the others' signing keys (from them, not from the coordinator).
    await frostPinsHere(repo, names);
    // A ceremony needs every participant's identity; an unknown keyholder is refused.
    const bad = await quorumHere([
      'fleet-ca',
      'create',
      '--frost',
      '--name',
      'nope',
      '--threshold',
      '2',
      '--participant',
      'alice',
      '--participant',
      'mallory',
      '--fleet-name',
      'X',
      '--reason',
      'r',
      '--data-dir',
      repo.dataDir,
    ]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/KEYHOLDER_UNKNOWN|mallory/);

    // --participant and --holder do not mix (a FROST CA has no holder).
    const mixed = await quorumHere([
      'fleet-ca',
      'create',
      '--name',
      'x',
      '--threshold',
      '2',
      '--participant',
      'alice',
      '--participant',
      'bob',
      '--holder',
      'carol',
      '--fleet-name',
      'X',
      '--reason',
      'r',
      '--data-dir',
      repo.dataDir,
    ]);
    expect(mixed.code).toBe(2);
    expect(mixed.stderr).toMatch(/no --holder/);
    // The issue's form: --threshold and --participant make it a FROST CA (--frost is optional).
    const open = await quorum([
      'fleet-ca',
      'create',
      '--name',
      'fleet',
      '--threshold',
      '2',
      ...names.flatMap((n) => ['--participant', n]),
      '--fleet-name',
      'ACME Fleet Root',
      '--reason',
      'new FROST fleet root',
      '--data-dir',
      repo.dataDir,
    ]);
    expect(open.code, open.stderr).toBe(0);
    expect(open.stdout).toContain('dkg-fleet');

    // Two participants send round 1, then the coordinator is killed without warning.
    const a = join(repo.homes.alice!, 'dkg-fleet');
    const b = join(repo.homes.bob!, 'dkg-fleet');
    await until(async () => (await status()).round1Received.length === 2, 'round 1 from alice and bob', 30_000);
    const port = repo.coordinator.port;
    await repo.coordinator.kill('SIGKILL');
    await repo.coordinator.start(port);
    const after = await status();
    expect(after.state).toBe('round1');
    expect(after.round1Received).toEqual([1, 2]);

    // The third joins after the restart; the first two reconnect by themselves and carry on.
    const c = join(repo.homes.carol!, 'dkg-fleet');
    const results = await Promise.all([a.done, b.done, c.done]);
    results.forEach((r, i) => expect(r.code, `${names[i]}: ${r.stdout}\n${r.stderr}`).toBe(0));
    const keys = results.map((r) =>
      lastJson<{ groupPublicKey: string; identifier: number; shareFile: string }>(r.stdout),
    );
    const final = await status();
    expect(final.state).toBe('done');
    expect(final.group?.groupPublicKey).toMatch(/^[0-9a-f]{64}$/);
    for (const k of keys) {
      expect(k.groupPublicKey).toBe(final.group!.groupPublicKey);
      expect(fs.existsSync(k.shareFile)).toBe(true);
      expect(fs.readFileSync(k.shareFile, 'utf8')).not.toContain('signingShare');
    }
    expect(keys.map((k) => k.identifier).sort()).toEqual([1, 2, 3]);
    // Every participant holds the same group record as the coordinator.
    for (const k of names) {
      const g = await signerHere(['frost', 'groups', '--json', '--home', repo.homes[k]!]);
      expect(g.code, g.stderr).toBe(0);
      const groups = JSON.parse(g.stdout) as NonNullable<DkgStatus['group']>[];
      expect(groups).toHaveLength(1);
      expect(groups[0]).toEqual(final.group);
    }

    // The group key is the fleet root CA's key, and its certificate round is open.
    const cas = JSON.parse((await quorumHere(['fleet-ca', 'list', '--json', '--data-dir', repo.dataDir])).stdout) as {
      name: string;
      kind: string;
      algorithm: string;
      issued: boolean;
    }[];
    expect(cas).toEqual([
      expect.objectContaining({ name: 'fleet', kind: 'frost', algorithm: 'ed25519', issued: false }),
    ]);
    const certs = JSON.parse((await quorumHere(['certs', '--json', '--data-dir', repo.dataDir])).stdout) as {
      id: string;
      ca: string;
      profile: string;
      state: string;
    }[];
    expect(certs).toEqual([expect.objectContaining({ ca: 'fleet', profile: 'fleet-root', state: 'open' })]);
    const audit = await quorumHere(['audit', 'verify', '--data-dir', repo.dataDir]);
    expect(audit.code, audit.stderr).toBe(0);
    expect(path.isAbsolute(repo.dataDir)).toBe(true);
  }, 180_000);

  it(
    'signs the fleet root with the group: a participant drops after committing, the round restarts with another ' +
      'subset; nonce reuse is refused; openssl accepts the certificate',
    async () => {
      const certs = JSON.parse((await quorumHere(['certs', '--json', '--data-dir', repo.dataDir])).stdout) as {
        id: string;
      }[];
      const roundId = certs[0]!.id;
      const group = (await status()).group!;
      for (const k of names) {
        const r = await signerHere(['cert', 'review', roundId, '--home', repo.homes[k]!]);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toContain('ACME Fleet Root');
      }
      // carol commits (through a raw connection) and then never sends her share.
      const carol = await connect(repo.coordinator.url, keySigner(repo.keys.carol!));
      await carol.hello;
      const kh = FrostStore.open(path.join(repo.homes.carol!, 'frost')).unlockShare(group.groupPublicKey, PASSPHRASE);
      const commitment = kh.commitSync(roundId);
      const ack = await carol.request({ type: 'frost.sign.commitment', session: roundId, commitment });
      expect(ack.type, JSON.stringify(ack)).toBe('frost.sign.status');

      const out = (k: string) => path.join(repo.dir, `fleet-root-${k}.pem`);
      const signProc = (k: string) => {
        const b = background([
          'cert',
          'sign',
          roundId,
          '--yes',
          '--out',
          out(k),
          '--home',
          repo.homes[k]!,
          '--timeout-s',
          '60',
        ]);
        return b.done.then((r) => ({ code: r.code, log: r.stdout + r.stderr }));
      };
      const alice = signProc('alice');
      // Attempt 1 is alice and carol; carol stays silent.
      const first = await until(async () => {
        const st = (await carol.request({ type: 'frost.sign.get', session: roundId })) as Extract<
          ServerMessage,
          { type: 'frost.sign.status' }
        >;
        return st.request && st.request.commitments.length === 2 ? st.request : null;
      }, 'attempt 1 with alice and carol');
      expect(first.commitments.map((c) => c.identifier)).toEqual([1, 3]);
      const bob = signProc('bob');
      const [ra, rb] = await Promise.all([alice, bob]);
      expect(ra.code, ra.log).toBe(0);
      expect(rb.code, rb.log).toBe(0);
      expect(repo.coordinator.log).toMatch(/aborted: no signature share from carol/);
      expect(carol.received.some((m) => m.type === 'frost.sign.abort')).toBe(true);

      // carol's nonce answered nothing, but it may answer only one request: a first use signs, a
      // second, different request with the same commitment is refused by her store.
      const payload = (await carol.request({ type: 'cert.get', round: roundId })) as Extract<
        ServerMessage,
        { type: 'cert.payload' }
      >;
      const tbs = Buffer.from(payload.tbs, 'base64');
      const late = kh.signSync(first, tbs);
      expect(late.identifier).toBe(3);
      expect(kh.signSync(first, tbs)).toEqual(late); // the identical request again: the same share, nothing new
      const other = Buffer.concat([tbs, Buffer.from([0])]);
      expect(() =>
        kh.signSync({ ...first, messageSha256: crypto.createHash('sha256').update(other).digest('hex') }, other),
      ).toThrow(/used once|already used/);
      const lateAnswer = await carol.request({ type: 'frost.sign.share', session: first.session, share: late });
      expect(lateAnswer.type === 'error' && lateAnswer.code).toBe('SESSION_NOT_FOUND');
      carol.close();

      // The released certificate: self-signed by the group key, accepted by openssl.
      const pem = fs.readFileSync(out('alice'), 'utf8');
      expect(fs.readFileSync(out('bob'), 'utf8')).toBe(pem);
      const file = path.join(repo.dir, 'fleet-root.pem');
      fs.writeFileSync(file, pem);
      const verify = execFileSync('openssl', ['verify', '-x509_strict', '-CAfile', file, file], { encoding: 'utf8' });
      expect(verify).toContain(': OK');
      const text = execFileSync('openssl', ['x509', '-in', file, '-noout', '-text'], { encoding: 'utf8' });
      expect(text).toMatch(/ED25519/i);
      expect(text).toMatch(/CA:TRUE/);
      expect(text).toMatch(/Certificate Sign/);
      expect(text).toContain('ACME Fleet Root');
      // The certificate's key is the group key.
      const spki = execFileSync('openssl', ['x509', '-in', file, '-noout', '-pubkey'], { encoding: 'utf8' });
      expect(crypto.createPublicKey(spki).export({ format: 'der', type: 'spki' }).subarray(12).toString('hex')).toBe(
        group.groupPublicKey,
      );
      const cas = JSON.parse((await quorumHere(['fleet-ca', 'list', '--json', '--data-dir', repo.dataDir])).stdout) as {
        name: string;
        issued: boolean;
      }[];
      expect(cas[0]!.issued).toBe(true);
    },
    180_000,
  );

  it(
    'issues a device certificate from the FROST CA; a bad share is named and its participant excluded; openssl ' +
      'verifies the chain',
    async () => {
      const group = (await status()).group!;
      const key = path.join(repo.dir, 'device.key.pem');
      execFileSync('openssl', ['genpkey', '-algorithm', 'ED25519', '-out', key]);
      const csr = path.join(repo.dir, 'device.csr');
      execFileSync('openssl', ['req', '-new', '-key', key, '-subj', '/CN=device-0001', '-out', csr]);
      const issue = await quorumHere([
        'cert',
        'issue',
        '--ca',
        'fleet',
        '--profile',
        'device',
        '--csr',
        csr,
        '--device-id',
        'device-0001',
        '--reason',
        'first device',
        '--json',
        '--data-dir',
        repo.dataDir,
      ]);
      expect(issue.code, issue.stderr).toBe(0);
      const roundId = (JSON.parse(issue.stdout) as { round: { id: string; holder: string | null } }).round.id;
      for (const k of names)
        expect((await signerHere(['cert', 'review', roundId, '--home', repo.homes[k]!])).code).toBe(0);

      const carol = await connect(repo.coordinator.url, keySigner(repo.keys.carol!));
      await carol.hello;
      const kh = FrostStore.open(path.join(repo.homes.carol!, 'frost')).unlockShare(group.groupPublicKey, PASSPHRASE);
      await carol.request({ type: 'frost.sign.commitment', session: roundId, commitment: kh.commitSync(roundId) });
      const out = path.join(repo.dir, 'device.pem');
      // alice as a process, bob here
      const run = (k: string) => {
        const b = (k === 'alice' ? background : backgroundHere)([
          'frost',
          'sign',
          roundId,
          '--yes',
          '--out',
          `${out}.${k}`,
          '--home',
          repo.homes[k]!,
          '--timeout-s',
          '60',
        ]);
        return b.done.then((r) => ({ code: r.code, log: r.stdout + r.stderr }));
      };
      const alice = run('alice');
      const req = await until(async () => {
        const st = (await carol.request({ type: 'frost.sign.get', session: roundId })) as Extract<
          ServerMessage,
          { type: 'frost.sign.status' }
        >;
        return st.request && st.request.commitments.length === 2 ? st.request : null;
      }, 'attempt 1 with alice and carol');
      // carol sends a share that is not hers to make: refused on arrival, naming her.
      const bad = await carol.request({
        type: 'frost.sign.share',
        session: req.session,
        share: { identifier: 3, share: '01'.padEnd(64, '0') },
      });
      expect(bad.type === 'error' && bad.code).toBe('FROST_BAD_SIGNATURE_SHARE');
      const again = await carol.request({
        type: 'frost.sign.commitment',
        session: roundId,
        commitment: kh.commitSync(roundId),
      });
      expect(again.type === 'error' && again.code).toBe('CEREMONY_CONFLICT');
      carol.close();
      const bob = run('bob');
      const [ra, rb] = await Promise.all([alice, bob]);
      expect(ra.code, ra.log).toBe(0);
      expect(rb.code, rb.log).toBe(0);
      expect(repo.coordinator.log).toMatch(/signature share of carol \(participant 3\) does not verify/);

      const chain = fs.readFileSync(`${out}.alice`, 'utf8');
      const [leaf, root] = chain.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g)!;
      fs.writeFileSync(`${out}.leaf`, leaf!);
      fs.writeFileSync(`${out}.root`, root!);
      const verify = execFileSync('openssl', ['verify', '-x509_strict', '-CAfile', `${out}.root`, `${out}.leaf`], {
        encoding: 'utf8',
      });
      expect(verify).toContain(': OK');
      const text = execFileSync('openssl', ['x509', '-in', `${out}.leaf`, '-noout', '-text'], { encoding: 'utf8' });
      expect(text).toContain('device-0001');
      expect(text).toMatch(/TLS Web Client Authentication/);
    },
    180_000,
  );

  it(
    'a second ceremony: the coordinator is SIGKILLed with round 2 half in; the round-2 ciphertexts survive and ' +
      'the last participant finishes after the restart',
    async () => {
      const open = await quorumHere([
        'fleet-ca',
        'create',
        '--frost',
        '--name',
        'fleet2',
        '--threshold',
        '2',
        ...names.flatMap((n) => ['--participant', n]),
        '--fleet-name',
        'ACME Fleet Two',
        '--reason',
        'second group',
        '--data-dir',
        repo.dataDir,
      ]);
      expect(open.code, open.stderr).toBe(0);
      const st2 = async () => await adminCall(repo.coordinator, 'frost.ceremony', { params: { id: 'dkg-fleet2' } });
      const a = frostJoinHere(repo.homes.alice!, 'dkg-fleet2');
      const b = frostJoinHere(repo.homes.bob!, 'dkg-fleet2');
      // carol runs the library in this process, so the test decides when she answers.
      const identity = FrostStore.open(path.join(repo.homes.carol!, 'frost')).unlockIdentity(PASSPHRASE);
      type Status = Extract<ServerMessage, { type: 'frost.dkg.status' }>;
      let carol = await connect(repo.coordinator.url, keySigner(repo.keys.carol!));
      await carol.hello;
      const first = (await carol.request({ type: 'frost.dkg.get', ceremony: 'dkg-fleet2' })) as Status;
      const { state, round1 } = dkgStart(first.ceremony, 3);
      const carolKey = keySigner(repo.keys.carol!);
      const statement = await signIdentity(first.ceremony, 'carol', carolKey);
      expect(
        (
          await carol.request({
            type: 'frost.dkg.round1',
            ceremony: 'dkg-fleet2',
            package: round1,
            identity: statement,
          })
        ).type,
      ).toBe('frost.dkg.status');
      await until(async () => (await st2()).round2Received.length === 2, 'round 2 from alice and bob', 30_000);
      const before = await st2();
      const port = repo.coordinator.port;
      await repo.coordinator.kill('SIGKILL');
      await repo.coordinator.start(port);
      const after = await st2();
      expect(after.state).toBe('round2');
      expect(after.round1Received).toEqual([1, 2, 3]);
      expect(after.round2Received).toEqual(before.round2Received);

      carol = await connect(repo.coordinator.url, keySigner(repo.keys.carol!));
      await carol.hello;
      const s1 = (await carol.request({ type: 'frost.dkg.get', ceremony: 'dkg-fleet2' })) as Status;
      const packages = dkgRound2(state, s1.round1All, identity);
      expect((await carol.request({ type: 'frost.dkg.round2', ceremony: 'dkg-fleet2', packages })).type).toBe(
        'frost.dkg.status',
      );
      const s2 = await until(async () => {
        const x = (await carol.request({ type: 'frost.dkg.get', ceremony: 'dkg-fleet2' })) as Status;
        return x.inbox.length === 2 ? x : null;
      }, "carol's inbox");
      const outcome = dkgFinish(state, s2.inbox, identity);
      const transcript = await signTranscript(
        first.ceremony,
        3,
        transcriptDigest(first.ceremony, s1.identities, s1.round1All),
        carolKey,
      );
      expect(
        (
          await carol.request({
            type: 'frost.dkg.confirm',
            ceremony: 'dkg-fleet2',
            confirm: outcome.confirm,
            transcript,
          })
        ).type,
      ).toBe('frost.dkg.status');
      const results = await Promise.all([a.done, b.done]);
      results.forEach((r) => expect(r.code, r.stdout + r.stderr).toBe(0));
      const final = await st2();
      expect(final.state).toBe('done');
      expect(final.group).toEqual(outcome.group);
      for (const r of results)
        expect(lastJson<{ groupPublicKey: string }>(r.stdout).groupPublicKey).toBe(outcome.group.groupPublicKey);
      carol.close();
    },
    180_000,
  );

  it('refuses a second ceremony for a name under way; a cancelled ceremony can be opened again', async () => {
    const create = () =>
      quorumHere([
        'fleet-ca',
        'create',
        '--frost',
        '--name',
        'fleet3',
        '--threshold',
        '3',
        ...names.flatMap((n) => ['--participant', n]),
        '--fleet-name',
        'Three',
        '--reason',
        'r',
        '--data-dir',
        repo.dataDir,
      ]);
    expect((await create()).code).toBe(0);
    const dup = await create();
    expect(dup.code).not.toBe(0);
    expect(dup.stderr).toContain('CA_EXISTS');
    const single = await quorumHere([
      'fleet-ca',
      'create',
      '--name',
      'fleet3',
      '--holder',
      'alice',
      '--fleet-name',
      'X',
      '--approvers',
      'bob',
      '--approvals',
      '1',
      '--reason',
      'r',
      '--data-dir',
      repo.dataDir,
    ]);
    expect(single.code).not.toBe(0);
    expect(single.stderr).toContain('CA_EXISTS');
    const cancel = await quorumHere([
      'fleet-ca',
      'cancel-ceremony',
      'dkg-fleet3',
      '--reason',
      'carol is away',
      '--data-dir',
      repo.dataDir,
    ]);
    expect(cancel.code, cancel.stderr).toBe(0);
    const st = await adminCall(repo.coordinator, 'frost.ceremony', { params: { id: 'dkg-fleet3' } });
    expect(st.state).toBe('failed');
    expect(st.failure).toContain('carol is away');
    const again = await create();
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('dkg-fleet3-2');
    expect((await admin(repo.coordinator, 'frost.ceremony', { params: { id: 'nope' } })).status).toBe(404);
  });

  it(
    'a coordinator SIGKILL while a participant waits to sign: it commits again after the restart and the ' +
      'certificate is released',
    async () => {
      const key = path.join(repo.dir, 'device2.key.pem');
      execFileSync('openssl', ['genpkey', '-algorithm', 'ED25519', '-out', key]);
      const csr = path.join(repo.dir, 'device2.csr');
      execFileSync('openssl', ['req', '-new', '-key', key, '-subj', '/CN=device-0002', '-out', csr]);
      const issue = await quorumHere([
        'cert',
        'issue',
        '--ca',
        'fleet',
        '--profile',
        'device',
        '--csr',
        csr,
        '--reason',
        'second device',
        '--json',
        '--data-dir',
        repo.dataDir,
      ]);
      expect(issue.code, issue.stderr).toBe(0);
      const roundId = (JSON.parse(issue.stdout) as { round: { id: string } }).round.id;
      for (const k of ['alice', 'bob'])
        expect((await signerHere(['cert', 'review', roundId, '--home', repo.homes[k]!])).code).toBe(0);
      // alice (who waits across the SIGKILL) as a process, bob here
      const run = (k: string) => {
        const b = (k === 'alice' ? background : backgroundHere)([
          'cert',
          'sign',
          roundId,
          '--yes',
          '--out',
          path.join(repo.dir, `device2-${k}.pem`),
          '--home',
          repo.homes[k]!,
          '--timeout-s',
          '60',
        ]);
        return b.done.then((r) => ({ code: r.code, log: r.stdout + r.stderr }));
      };
      const alice = run('alice');
      await until(
        () => repo.coordinator.log.includes(`FROST session ${roundId}: commitment from alice`),
        "alice's commitment",
      );
      const port = repo.coordinator.port;
      await repo.coordinator.kill('SIGKILL');
      await repo.coordinator.start(port);
      const bob = run('bob');
      const [ra, rb] = await Promise.all([alice, bob]);
      expect(ra.code, ra.log).toBe(0);
      expect(rb.code, rb.log).toBe(0);
      const leaf = fs.readFileSync(path.join(repo.dir, 'device2-alice.pem'), 'utf8');
      expect(leaf).toContain('BEGIN CERTIFICATE');
      // alice's first nonce was abandoned, never used for a share.
      const nonceDir = path.join(repo.homes.alice!, 'frost', 'nonces', (await status()).group!.groupPublicKey);
      const uses = fs
        .readdirSync(nonceDir)
        .filter((n) => n.endsWith('.used.json'))
        .map((n) => JSON.parse(fs.readFileSync(path.join(nonceDir, n), 'utf8')) as { outcome: string });
      expect(uses.some((u) => u.outcome === 'abandoned')).toBe(true);
    },
    180_000,
  );
});
