/**
 * The CA key's holder checks the issuer it signs, from the bytes (ISSUER_MISMATCH): the real
 * `quorum-signer cert sign` against a lying coordinator that speaks the wire protocol (another
 * issuer Name, another CA's certificate as the chain, no chain, a fleet root that is not
 * self-issued, another AuthorityKeyIdentifier), for a key-held CA and for a FROST participant; and
 * against the real coordinator whose SQLite row of a round's prepared TBS was rewritten while it
 * was stopped (where the approvers' clients refuse to approve it too). The holder also enforces the
 * round's profile itself (PROFILE_MISMATCH: a device TBS that is a CA, serves TLS, or outlives its
 * profile) and signs only the round it asked for and reviewed (ROUND_MISMATCH). Honest rounds
 * through the same fake are signed (the controls), so each refusal is its check's and nothing else's.
 */
import 'reflect-metadata'; // before @peculiar/x509, which this test imports itself (protocol/x509.ts loads it lazily)
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import {
  dkgFinish,
  dkgRound2,
  dkgStart,
  groupPublicKey,
  inProcessFrostSigner,
  newCeremony,
  type FrostGroup,
} from '../../protocol/frost.js';
import { publicKeyFrom, sha256hex, verifySignature, type PublicKey } from '../../protocol/keys.js';
import type { Signer } from '../../protocol/metadata/build.js';
import { ServerMessageSchema, WIRE_VERSION, type CertRoundInfo, type ServerMessage } from '../../protocol/wire.js';
import {
  approvalMessage,
  assembleCertificate,
  issueWith,
  prepareCertificate,
  tbsBytes,
  type Issued,
  type Prepared,
  type ProfileName,
} from '../../protocol/x509.js';
import { FrostStore } from '../../signer-client/frost-store.js';
import * as x509 from '@peculiar/x509';
import { issuerOf, withAkid, withExtension, withIssuer, withValidity } from '../tbs-tamper.js';
import {
  approveHere,
  auditEvents,
  keygenHere,
  newRepo,
  PASSPHRASE,
  passphraseFile,
  quorumHere,
  type Repo,
  signer,
  signerHere,
  TEST_SCRYPT_N,
  tmpdir,
} from './harness.js';
import { keySigner } from './wire-client.js';

const COST = { N: Number(TEST_SCRYPT_N), r: 8, p: 1 };
const openssl = (args: string[]) =>
  execFileSync('openssl', args, { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });

interface Served {
  round: CertRoundInfo;
  prepared: Prepared;
  approvals: { keyholder: string; publicKey: string; sig: string }[];
}

/** A coordinator that lies about certificate rounds: it serves whatever TBS and chain the test sets. */
class FakeCertCoordinator {
  readonly received: { type: string; round?: string; session?: string; sig?: string }[] = [];
  readonly rounds = new Map<string, Served>();
  /** cert.get X answered with the round stored under another id. */
  readonly answers = new Map<string, string>();
  url = '';
  private server = http.createServer((req, res) => {
    if (req.url === '/v1/challenge') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(
        JSON.stringify({ serverId: 'fake-coordinator', nonce: `${Date.now().toString(16)}${'0'.repeat(48)}` }),
      );
    }
    res.writeHead(404).end();
  });
  private wss = new WebSocketServer({ noServer: true });

  constructor() {
    this.server.on('upgrade', (req, socket, head) => {
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        const send = (m: ServerMessage) => ws.send(JSON.stringify(ServerMessageSchema.parse(m)));
        send({ type: 'hello', version: WIRE_VERSION, serverId: 'fake-coordinator', keyholder: 'ca', dialect: 'tuf' });
        ws.on('message', (data) => {
          const m = JSON.parse(data.toString()) as {
            type: string;
            ref?: string;
            round?: string;
            session?: string;
            sig?: string;
          };
          this.received.push(m);
          const ref = m.ref;
          const r = m.round ? this.rounds.get(this.answers.get(m.round) ?? m.round) : undefined;
          if (m.type === 'ping') return send({ type: 'pong', ref });
          if (m.type === 'cert.get' && r)
            return send({
              type: 'cert.payload',
              ref,
              round: r.round,
              tbs: r.prepared.tbs,
              chain: [...r.prepared.chain],
              approvals: r.approvals,
            });
          if (m.type === 'cert.sign' && r) {
            // Only an honest round gets here: the certificate is assembled as the real coordinator would.
            void assembleCertificate(r.prepared, Buffer.from(m.sig!, 'base64')).then(
              (issued) =>
                send({
                  type: 'cert.released',
                  ref,
                  round: { ...r.round, state: 'released' },
                  certificate: issued.fullchain,
                }),
              (e: Error) => send({ type: 'error', ref, code: 'CERT_SIGNATURE', message: e.message, fatal: false }),
            );
            return;
          }
          return send({
            type: 'error',
            ref,
            code: 'ROUND_NOT_FOUND',
            message: `the fake coordinator does not answer ${m.type}`,
            fatal: false,
          });
        });
      });
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
    return this;
  }

  /** Serve round `id` with these prepared bytes (its sha256 always the true one) and approvals by `approvers`. */
  async serve(
    id: string,
    profile: ProfileName,
    prepared: Prepared,
    holder: string | null,
    approvers: Signer[],
  ): Promise<void> {
    const tbs = tbsBytes(prepared);
    const approvals = await Promise.all(
      approvers.map(async (s, i) => ({
        keyholder: `approver${i}`,
        publicKey: s.publicKey.spki.toString('base64'),
        sig: (await s.sign(approvalMessage(tbs, prepared.issuerFingerprint))).toString('base64'),
      })),
    );
    const now = new Date();
    const round: CertRoundInfo = {
      id,
      ca: 'fleet',
      profile,
      state: 'open',
      reason: 'routine',
      deadline: new Date(now.getTime() + 86_400_000).toISOString(),
      createdAt: now.toISOString(),
      tbsSha256: prepared.tbsSha256,
      issuerFingerprint: prepared.issuerFingerprint,
      holder,
      approvals: { threshold: approvers.length, approved: approvals.map((a) => a.keyholder), missing: [], met: true },
    };
    this.rounds.set(id, { round, prepared, approvals });
  }

  sent(round: string, types: string[]): unknown[] {
    return this.received.filter((m) => types.includes(m.type) && (m.round === round || m.session === round));
  }

  async close(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    this.wss.close();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/** Prepared bytes with a TBS rewritten by `edit` (its sha256 recomputed, as a liar would). */
function lie(p: Prepared, edit: (tbs: Buffer) => Buffer): Prepared {
  const tbs = edit(tbsBytes(p));
  return { ...p, tbs: tbs.toString('base64'), tbsSha256: sha256hex(tbs) };
}

/** `quorum-signer keygen`, in this process (set-up). */
async function keygen(dir: string, name: string, type: string): Promise<string> {
  const r = await keygenHere(dir, name, type);
  expect(r.code, r.stderr).toBe(0);
  return path.join(dir, `${name}.key.json`);
}

function home(dir: string, name: string, server: string, keyFile: string): string {
  const h = path.join(dir, `home-${name}`);
  fs.mkdirSync(h, { recursive: true });
  fs.writeFileSync(
    path.join(h, 'config.json'),
    JSON.stringify({ server, pin: null, keyFile, unsafeAllowPlaintext: false }),
  );
  return h;
}

function deviceCsr(dir: string, name: string, alg: 'ec' | 'ed25519'): string {
  const key = path.join(dir, `${name}.key.pem`);
  openssl([
    'genpkey',
    ...(alg === 'ec' ? ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'] : ['-algorithm', 'ED25519']),
    '-out',
    key,
  ]);
  return openssl(['req', '-new', '-key', key, '-subj', `/CN=${name}`]);
}

describe('the CA holder against a lying coordinator (fake wire coordinator)', () => {
  let dir: string;
  let fake: FakeCertCoordinator;
  let caHome: string;
  let ca: Signer;
  let approvers: Signer[];
  let fleet: Issued;
  let other: Issued; // another CA, another key

  const sign = (round: string, h = caHome) => signer(['cert', 'sign', round, '--yes', '--home', h, '--timeout-s', '5']);
  const device = (issuer: Issued, name: string) =>
    prepareCertificate('device', {
      csr: deviceCsr(dir, name, 'ec'),
      issuer: { certificate: issuer.certificate, chain: issuer.chain },
    });

  beforeAll(async () => {
    dir = tmpdir('quorum-cert-issuer-');
    fake = await new FakeCertCoordinator().start();
    const caKey = await keygen(dir, 'ca', 'ecdsa');
    const keys = await Promise.all(['alice', 'bob'].map((k) => keygen(dir, k, 'ed25519')));
    caHome = home(dir, 'ca', fake.url, caKey);
    const pin = await signerHere([
      'cert',
      'pin-approvers',
      '--home',
      caHome,
      '--threshold',
      '2',
      '--approver',
      `alice=${path.join(dir, 'alice.pub.pem')}`,
      '--approver',
      `bob=${path.join(dir, 'bob.pub.pem')}`,
    ]);
    expect(pin.code, pin.stderr).toBe(0);
    ca = keySigner(caKey);
    approvers = keys.map(keySigner);
    fleet = await issueWith(ca, 'fleet-root', {
      subjectPublicKey: ca.publicKey,
      fleetName: 'Acme Fleet',
      issuer: 'self',
    });
    const otherCa = keySigner(await keygen(dir, 'other', 'ecdsa'));
    other = await issueWith(otherCa, 'fleet-root', {
      subjectPublicKey: otherCa.publicKey,
      fleetName: 'Other Fleet',
      issuer: 'self',
    });
  }, 120_000);
  afterAll(async () => {
    await fake?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('signs honest rounds through the fake (controls): a fleet root and a device certificate', async () => {
    await fake.serve(
      'cert-1',
      'fleet-root',
      await prepareCertificate('fleet-root', {
        subjectPublicKey: ca.publicKey,
        fleetName: 'Acme Fleet',
        issuer: 'self',
      }),
      'ca',
      approvers,
    );
    const dev = await device(fleet, 'device-1');
    await fake.serve('cert-2', 'device', dev, 'ca', approvers);
    // both holders' processes at once (two rounds, nothing shared but the CA key file)
    const [r1, r2] = await Promise.all([sign('cert-1'), sign('cert-2')]);
    expect(r1.code, r1.stderr).toBe(0);
    expect(r2.code, r2.stderr).toBe(0);
    const [sub] = fake.sent('cert-2', ['cert.sign']) as { sig: string }[];
    expect(verifySignature(ca.publicKey, tbsBytes(dev), Buffer.from(sub!.sig, 'base64'))).toBe(true);
  });

  it("refuses another issuer Name than its CA certificate's subject, and sends nothing", async () => {
    await fake.serve(
      'cert-3',
      'device',
      lie(await device(fleet, 'device-3'), (t) => withIssuer(t, 'CN=Other Fleet')),
      'ca',
      approvers,
    );
    const r = await sign('cert-3');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^ISSUER_MISMATCH: certificate round cert-3 .*the TBS issuer CN=Other Fleet is not the CA certificate's subject CN=Acme Fleet/m,
    );
    expect(r.stderr).toContain('quorum cert cancel cert-3');
    expect(fake.sent('cert-3', ['cert.sign'])).toEqual([]);
  });

  it("refuses another CA's certificate as the chain, even with a TBS that matches it", async () => {
    // A TBS issued under "Other Fleet", said to be signed by the holder's key.
    const p = await device(other, 'device-4');
    await fake.serve(
      'cert-4',
      'device',
      { ...p, issuerSpki: ca.publicKey.spki.toString('base64'), issuerFingerprint: ca.publicKey.fingerprint },
      'ca',
      approvers,
    );
    const r = await sign('cert-4');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^ISSUER_MISMATCH: .*the CA certificate CN=Other Fleet is for key [0-9a-f]{64}, not the CA key/m,
    );
    expect(fake.sent('cert-4', ['cert.sign'])).toEqual([]);
  });

  it(
    'refuses a certificate round without a chain, another AuthorityKeyIdentifier, and a fleet root that is not ' +
      'self-issued',
    async () => {
      const noChain = await device(fleet, 'device-5');
      await fake.serve('cert-5', 'device', { ...noChain, chain: [] }, 'ca', approvers);
      await fake.serve(
        'cert-6',
        'device',
        lie(await device(fleet, 'device-6'), (t) => withAkid(t, Buffer.alloc(20, 7))),
        'ca',
        approvers,
      );
      const root = await prepareCertificate('fleet-root', {
        subjectPublicKey: ca.publicKey,
        fleetName: 'Acme Fleet',
        issuer: 'self',
      });
      await fake.serve(
        'cert-7',
        'fleet-root',
        lie(root, (t) => withIssuer(t, 'CN=Other Fleet')),
        'ca',
        approvers,
      );
      const expected: Record<string, RegExp> = {
        'cert-5': /the coordinator sent no CA certificate \(chain\)/,
        'cert-6': /the authorityKeyIdentifier 07:07:.* is not the CA key's/,
        'cert-7': /the TBS issuer CN=Other Fleet is not its subject CN=Acme Fleet, but a fleet root is self-signed/,
      };
      // the three holders' processes at once (each refusal is its own process and round)
      const results = await Promise.all(Object.keys(expected).map((id) => sign(id)));
      for (const [i, [id, re]] of Object.entries(expected).entries()) {
        const r = results[i]!;
        expect(r.code, id).toBe(1);
        expect(r.stderr).toMatch(/^ISSUER_MISMATCH: /m);
        expect(r.stderr).toMatch(re);
        expect(fake.sent(id, ['cert.sign'])).toEqual([]);
      }
    },
  );

  it(
    'refuses a device round whose TBS is a CA, serves TLS or outlives the profile, even with --yes: ' +
      'PROFILE_MISMATCH, and sends nothing',
    async () => {
      const day = 86_400_000;
      const lies: [string, (t: Buffer) => Buffer, RegExp][] = [
        [
          'cert-20',
          (t) => withExtension(t, new x509.BasicConstraintsExtension(true, undefined, true)),
          /basicConstraints are CA:TRUE, but a device certificate has CA:FALSE/,
        ],
        [
          'cert-21',
          (t) => withExtension(t, new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], true)),
          /extendedKeyUsage is TLS Web Server Authentication, but a device certificate has TLS Web Client Authentication/,
        ],
        [
          'cert-22',
          (t) => withValidity(t, new Date(Date.now() - day), new Date(Date.now() + 5 * 365 * day)),
          /but a device certificate for at most 366/,
        ],
      ];
      for (const [id, edit] of lies)
        await fake.serve(id, 'device', lie(await device(fleet, `device-${id}`), edit), 'ca', approvers);
      // the three holders' processes at once (each refusal is its own process and round)
      const results = await Promise.all(lies.map(([id]) => sign(id)));
      for (const [i, [id, , re]] of lies.entries()) {
        const r = results[i]!;
        expect(r.code, id).toBe(1);
        expect(r.stderr).toMatch(
          /^PROFILE_MISMATCH: certificate round cert-2\d is a device round, but its certificate is not one: /m,
        );
        expect(r.stderr).toMatch(re);
        expect(fake.sent(id, ['cert.sign'])).toEqual([]);
      }
    },
  );

  it("signs only the round it reviewed: another round's TBS under the id asked for is ROUND_MISMATCH", async () => {
    await fake.serve('cert-23', 'device', await device(fleet, 'device-23'), 'ca', approvers);
    // the review is set-up here (what the holder reviewed), in this process; the refusing sign is a process
    const rv = await signerHere(['cert', 'review', 'cert-23', '--home', caHome]);
    expect(rv.code, rv.stderr).toBe(0);
    // another honest-looking round, its own id, TBS and approvals, served for cert.get cert-23
    await fake.serve('cert-24', 'device', await device(fleet, 'device-24'), 'ca', approvers);
    fake.answers.set('cert-23', 'cert-24');
    try {
      const r = await sign('cert-23');
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^ROUND_MISMATCH: asked for certificate round cert-23, the answer is round cert-24/m);
      expect(fake.sent('cert-24', ['cert.sign'])).toEqual([]);
      expect(fake.sent('cert-23', ['cert.sign'])).toEqual([]);
    } finally {
      fake.answers.clear();
    }
  });

  it('a FROST participant refuses another issuer Name before committing, and goes on with an honest round', async () => {
    // A 2-of-2 group made here with the library (as frost join would), its shares in two signer homes.
    const homes = ['p1', 'p2'].map((p) => home(dir, p, fake.url, path.join(dir, 'alice.key.json')));
    const stores = homes.map((h) => FrostStore.open(path.join(h, 'frost')));
    const identityKeys = stores.map((s) => s.createIdentity(PASSPHRASE, COST));
    const ceremony = newCeremony(
      'dkg-fake',
      2,
      identityKeys.map((identityKey, i) => ({ name: `p${i + 1}`, identityKey })),
    );
    const starts = [1, 2].map((i) => dkgStart(ceremony, i));
    const identities = stores.map((s) => s.unlockIdentity(PASSPHRASE));
    const round2 = starts.flatMap((s, i) =>
      dkgRound2(
        s.state,
        starts.map((x) => x.round1),
        identities[i]!,
      ),
    );
    const outcomes = starts.map((s, i) =>
      dkgFinish(
        s.state,
        round2.filter((p) => p.to === i + 1),
        identities[i]!,
      ),
    );
    outcomes.forEach((o, i) => stores[i]!.saveShare(o.share, PASSPHRASE, COST));
    const group: FrostGroup = outcomes[0]!.group;
    const gpk: PublicKey = groupPublicKey(group);
    const parties = stores.map((s) => {
      const kh = s.unlockShare(group.groupPublicKey, PASSPHRASE);
      return {
        identifier: kh.identifier,
        commit: async (session: string) => kh.commitSync(session),
        sign: async (req: Parameters<typeof kh.signSync>[0], m: Buffer) => kh.signSync(req, m),
      };
    });
    const groupRoot = await issueWith(inProcessFrostSigner(group, parties), 'fleet-root', {
      subjectPublicKey: gpk,
      fleetName: 'Group Fleet',
      issuer: 'self',
    });
    const dev = () =>
      prepareCertificate('device', {
        csr: deviceCsr(dir, 'frost-device', 'ed25519'),
        issuer: { certificate: groupRoot.certificate, chain: groupRoot.chain },
      });

    await fake.serve(
      'cert-8',
      'device',
      lie(await dev(), (t) => withIssuer(t, 'CN=Acme Fleet')),
      null,
      [],
    );
    const r = await sign('cert-8', homes[0]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^ISSUER_MISMATCH: .*the TBS issuer CN=Acme Fleet is not the CA certificate's subject CN=Group Fleet/m,
    );
    expect(fake.sent('cert-8', ['frost.sign.get', 'frost.sign.commitment'])).toEqual([]);

    // Control: the honest round passes the check and the participant asks for the signing session.
    await fake.serve('cert-9', 'device', await dev(), null, []);
    const ok = await sign('cert-9', homes[0]);
    expect(ok.stderr).not.toMatch(/ISSUER_MISMATCH/);
    expect(fake.sent('cert-9', ['frost.sign.get']).length).toBeGreaterThan(0);
  });
});

describe('the CA holder against its real coordinator whose database was rewritten while stopped', () => {
  let repo: Repo;
  const file = (n: string) => path.join(repo.dir, n);
  afterAll(async () => {
    await repo?.coordinator.kill();
    if (repo) fs.rmSync(repo.dir, { recursive: true, force: true });
  });

  it(
    'approvers and the holder refuse the rewritten TBS with ISSUER_MISMATCH; the coordinator never receives an ' +
      'approval or a signature',
    async () => {
      repo = await newRepo({
        dialect: 'tuf',
        keyholders: ['alice', 'bob', 'ca'],
        rootKeyholders: ['alice'],
        rootThreshold: 1,
        targetsThreshold: 1,
        keyType: { ca: 'ecdsa' },
      });
      const pin = await signerHere([
        'cert',
        'pin-approvers',
        '--home',
        repo.homes.ca!,
        '--threshold',
        '2',
        '--approver',
        `alice=${file('alice.pub.pem')}`,
        '--approver',
        `bob=${file('bob.pub.pem')}`,
      ]);
      expect(pin.code, pin.stderr).toBe(0);
      // set-up: the fleet root's approvals and signature in this process (signerHere); what the
      // test checks, the refusals of the rewritten round, are real processes
      const approve = (id: string) => approveHere(repo, id, ['alice', 'bob']);
      const created = await quorumHere([
        'fleet-ca',
        'create',
        '--data-dir',
        repo.dataDir,
        '--name',
        'fleet',
        '--holder',
        'ca',
        '--fleet-name',
        'Acme Fleet',
        '--approvers',
        'alice,bob',
        '--approvals',
        '2',
        '--reason',
        'new fleet',
        '--json',
      ]);
      expect(created.code, created.stderr).toBe(0);
      const rootRound = (JSON.parse(created.stdout) as { round: { id: string } }).round.id;
      await approve(rootRound);
      const s = await signerHere([
        'cert',
        'sign',
        rootRound,
        '--yes',
        '--home',
        repo.homes.ca!,
        '--passphrase-file',
        passphraseFile(),
      ]);
      expect(s.code, s.stderr).toBe(0);

      fs.writeFileSync(file('device.csr'), deviceCsr(repo.dir, 'device-0001', 'ec'));
      const issued = await quorumHere([
        'cert',
        'issue',
        '--data-dir',
        repo.dataDir,
        '--ca',
        'fleet',
        '--profile',
        'device',
        '--csr',
        file('device.csr'),
        '--reason',
        'provision',
        '--json',
      ]);
      expect(issued.code, issued.stderr).toBe(0);
      const id = (JSON.parse(issued.stdout) as { round: { id: string } }).round.id;

      // Stopped, its round's prepared TBS is given another issuer name, consistently hashed.
      const port = repo.coordinator.port;
      await repo.coordinator.kill();
      const db = new Database(path.join(repo.dataDir, 'quorum.db'));
      const row = db.prepare('SELECT prepared_json FROM cert_rounds WHERE id = ?').get(id) as { prepared_json: string };
      const forged = lie(JSON.parse(row.prepared_json) as Prepared, (t) => withIssuer(t, 'CN=Evil Fleet'));
      expect(issuerOf(tbsBytes(forged))).toBe('CN=Evil Fleet');
      db.prepare('UPDATE cert_rounds SET prepared_json = ?, tbs_sha256 = ? WHERE id = ?').run(
        JSON.stringify(forged),
        forged.tbsSha256,
        id,
      );
      db.close();
      await repo.coordinator.start(port);

      // The review shows what the bytes say (Issuer: CN=Evil Fleet); the approvers' clients compare
      // it with the CA certificate the round came with and refuse to approve ...
      // (the review, which refuses nothing, through the command tree in this process; the refusals
      // are processes, both approvers' at once)
      const review = await signerHere(['cert', 'review', id, '--home', repo.homes.alice!]);
      expect(review.stdout).toContain('Issuer:      CN=Evil Fleet');
      const approvals = await Promise.all(
        ['alice', 'bob'].map((k) => signer(['cert', 'approve', id, '--yes', '--home', repo.homes[k]!])),
      );
      for (const a of approvals) {
        expect(a.code).toBe(1);
        expect(a.stderr).toMatch(
          /^ISSUER_MISMATCH: certificate round .*the TBS issuer CN=Evil Fleet is not the CA certificate's subject CN=Acme Fleet/m,
        );
      }
      // ... and the holder's client, against its own CA key, refuses before it looks at approvals.
      const r = await signer(['cert', 'sign', id, '--yes', '--home', repo.homes.ca!]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(
        /^ISSUER_MISMATCH: certificate round .*the TBS issuer CN=Evil Fleet is not the CA certificate's subject CN=Acme Fleet/m,
      );
      const status = JSON.parse(
        (await quorumHere(['cert', 'status', id, '--json', '--data-dir', repo.dataDir])).stdout,
      ) as {
        round: { state: string };
        certificate: string | null;
      };
      expect(status.round.state).toBe('open');
      expect(status.certificate).toBeNull();
      const events = await auditEvents(repo.dataDir);
      expect(events.filter((e) => e.data.round === id).map((e) => e.event)).toEqual(['cert.round.opened']);
      expect(publicKeyFrom(fs.readFileSync(file('ca.pub.pem'), 'utf8')).fingerprint).toBe(
        (JSON.parse(row.prepared_json) as Prepared).issuerFingerprint,
      );
    },
  );
});
