/**
 * Fleet certificates with real processes and the real `openssl` binary: a P-256 fleet root whose
 * key one keyholder holds, an intermediate CA from an `openssl req` CSR (its key held by another
 * keyholder), a device certificate issued by the intermediate; issuance gated by approvals that the
 * CA holder's client verifies against its own pinned approvers. Then an Ed25519 fleet root, and the
 * refusals: approvals by non-approvers or over other bytes, and a holder refusing to sign without
 * enough approvals. The coordinator's refusals of a request (bad CSRs before any round opens, a CA's
 * approvers, an RSA CA key) are one case per rule in process, test/coordinator/certificates.test.ts.
 * Set-up (keygen, init, join, keyholder add, pin-approvers, the approvals a test does not refuse) and
 * the admin commands run in this process through their command trees; every `cert sign`, and each
 * approval or review a test checks, is a real `quorum-signer` process.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approvalMessage } from '../../protocol/x509.js';
import { encryptKey, writeKeyFile } from '../../signer-client/keystore.js';
import {
  approveHere,
  newRepo,
  PASSPHRASE,
  quorum,
  quorumHere,
  type Repo,
  signer,
  signerHere,
  TEST_SCRYPT_N,
} from './harness.js';
import { connect, keySigner } from './wire-client.js';

const openssl = (args: string[], input?: string) =>
  execFileSync('openssl', args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });

interface CertRound {
  id: string;
  state: string;
  approvals: { approved: string[]; threshold: number; met: boolean };
}
interface CertView {
  round: CertRound;
  review: { subject: string; tbsSha256: string };
  certificate: string | null;
}

function json<T>(r: { code: number; stdout: string; stderr: string }): T {
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as T;
}

/**
 * A keyholder whose key was made by openssl (so openssl can make CSRs with it), enrolled and joined
 * (keyholder add and join run in this process: set-up).
 */
async function opensslKeyholder(
  repo: Repo,
  name: string,
  genpkey: string[],
): Promise<{ keyPem: string; home: string }> {
  const keyPem = path.join(repo.dir, `${name}.key.pem`);
  openssl(['genpkey', ...genpkey, '-out', keyPem]);
  const keyFile = path.join(repo.dir, `${name}.key.json`);
  writeKeyFile(
    keyFile,
    encryptKey(crypto.createPrivateKey(fs.readFileSync(keyPem)), PASSPHRASE, { N: Number(TEST_SCRYPT_N), r: 8, p: 1 }),
  );
  const pub = path.join(repo.dir, `${name}.pub.pem`);
  fs.writeFileSync(pub, crypto.createPublicKey(fs.readFileSync(keyPem)).export({ type: 'spki', format: 'pem' }));
  const add = await quorumHere(['keyholder', 'add', name, pub, '--data-dir', repo.dataDir]);
  expect(add.code, add.stderr).toBe(0);
  const home = path.join(repo.dir, `home-${name}`);
  const j = await signerHere(['join', repo.coordinator.url, '--key', keyFile, '--home', home, '--trust-first-root']);
  expect(j.code, j.stderr).toBe(0);
  repo.homes[name] = home;
  repo.keys[name] = keyFile;
  return { keyPem, home };
}

function csr(repo: Repo, keyPem: string, file: string, subj: string, extra: string[] = []): string {
  const out = path.join(repo.dir, file);
  openssl(['req', '-new', '-key', keyPem, '-subj', subj, ...extra, '-out', out]);
  return out;
}

// Approvals that are a test's set-up run in this process (approveHere); the approvals a test refuses,
// and every holder's `cert sign`, are real processes.

describe('fleet certificates: P-256 fleet root, intermediate and device, gated by approvals (tuf)', () => {
  let repo: Repo;
  let ica: { keyPem: string; home: string };
  let device: { keyPem: string };
  let rootRound = '';
  const file = (n: string) => path.join(repo.dir, n);

  beforeAll(async () => {
    repo = await newRepo({
      dialect: 'tuf',
      keyholders: ['alice', 'bob', 'carol', 'ca'],
      rootKeyholders: ['alice'],
      rootThreshold: 1,
      targetsThreshold: 1,
      keyType: { ca: 'ecdsa' },
    });
    ica = await opensslKeyholder(repo, 'ica', ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']);
    const dkey = path.join(repo.dir, 'device.key.pem');
    openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', dkey]);
    device = { keyPem: dkey };
    // The CA holders pin whose approvals their keys need: 2 of alice, bob, carol.
    for (const h of ['ca', 'ica']) {
      const p = await signerHere([
        'cert',
        'pin-approvers',
        '--home',
        repo.homes[h]!,
        '--threshold',
        '2',
        ...['alice', 'bob', 'carol'].flatMap((k) => ['--approver', `${k}=${file(`${k}.pub.pem`)}`]),
      ]);
      expect(p.code, p.stderr).toBe(0);
    }
  });
  afterAll(async () => {
    await repo?.coordinator.kill();
    if (repo) fs.rmSync(repo.dir, { recursive: true, force: true });
  });

  it('opens a fleet root round; keyholders review it from the TBS bytes', async () => {
    const v = json<CertView>(
      await quorumHere([
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
        'alice,bob,carol',
        '--approvals',
        '2',
        '--reason',
        'new fleet',
        '--json',
      ]),
    );
    rootRound = v.round.id;
    expect(v.round.state).toBe('open');
    const r = await signer(['cert', 'review', rootRound, '--home', repo.homes.alice!]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`TBS sha256 ${v.review.tbsSha256}`);
    expect(r.stdout).toContain('Subject:     CN=Acme Fleet');
    expect(r.stdout).toMatch(/basicConstraints \(critical\): CA:TRUE/);
  });

  it('refuses approvals by a non-approver and over other bytes, with codes', async () => {
    const notApprover = await signer(['cert', 'approve', rootRound, '--yes', '--home', ica.home]);
    expect(notApprover.code).toBe(1);
    expect(notApprover.stderr).toMatch(/^APPROVAL_NOT_APPROVER:/m);

    const alice = keySigner(repo.keys.alice!);
    const c = await connect(repo.coordinator.url, alice);
    await c.hello;
    const p = await c.request({ type: 'cert.get', round: rootRound });
    if (p.type !== 'cert.payload') throw new Error(`expected cert.payload, got ${p.type}`);
    const tbs = Buffer.from(p.tbs, 'base64');
    const sha = crypto.createHash('sha256').update(tbs).digest('hex');
    const other = Buffer.concat([tbs, Buffer.from([0])]);
    const overOther = await c.request({
      type: 'cert.approve',
      round: rootRound,
      tbsSha256: sha,
      sig: (await alice.sign(approvalMessage(other, p.round.issuerFingerprint))).toString('base64'),
    });
    expect(overOther).toMatchObject({ type: 'error', code: 'APPROVAL_WRONG_BYTES' });
    const otherIssuer = await c.request({
      type: 'cert.approve',
      round: rootRound,
      tbsSha256: sha,
      sig: (await alice.sign(approvalMessage(tbs, '0'.repeat(64)))).toString('base64'),
    });
    expect(otherIssuer).toMatchObject({ type: 'error', code: 'APPROVAL_WRONG_BYTES' });
    const wrongSha = await c.request({
      type: 'cert.approve',
      round: rootRound,
      tbsSha256: 'f'.repeat(64),
      sig: (await alice.sign(approvalMessage(tbs, p.round.issuerFingerprint))).toString('base64'),
    });
    expect(wrongSha).toMatchObject({ type: 'error', code: 'APPROVAL_WRONG_BYTES' });
    // The CA holder's signature is refused by the coordinator too without approvals.
    const early = await c.request({
      type: 'cert.sign',
      round: rootRound,
      tbsSha256: sha,
      sig: Buffer.alloc(64).toString('base64'),
    });
    expect(early).toMatchObject({ type: 'error', code: 'CERT_NOT_HOLDER' });
    c.close();
  });

  it('the holder refuses to sign with too few approvals (APPROVALS_UNMET), then signs after enough', async () => {
    await approveHere(repo, rootRound, ['alice']);
    const dup = await signer(['cert', 'approve', rootRound, '--yes', '--home', repo.homes.alice!]);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toMatch(/^APPROVAL_DUPLICATE:/m);

    const tooFew = await signer(['cert', 'sign', rootRound, '--yes', '--home', repo.homes.ca!]);
    expect(tooFew.code).toBe(1);
    expect(tooFew.stderr).toMatch(/^APPROVALS_UNMET:/m);

    await approveHere(repo, rootRound, ['bob']);
    const signed = await signer(['cert', 'sign', rootRound, '--yes', '--home', repo.homes.ca!]);
    expect(signed.code, signed.stderr).toBe(0);
    expect(signed.stdout).toMatch(/approved by alice, bob/);

    const got = await quorumHere(['cert', 'get', rootRound, '--out', file('root.pem'), '--data-dir', repo.dataDir]);
    expect(got.code, got.stderr).toBe(0);
    expect(fs.readFileSync(file('root.pem'), 'utf8')).toBe(
      fs.readFileSync(path.join(repo.dataDir, 'releases', 'certificates', `${rootRound}.pem`), 'utf8'),
    );
    expect(openssl(['verify', '-x509_strict', '-CAfile', file('root.pem'), file('root.pem')])).toMatch(/OK/);
    const text = openssl(['x509', '-noout', '-text', '-in', file('root.pem')]);
    expect(text).toMatch(/Signature Algorithm: ecdsa-with-SHA256/);
    expect(text).toMatch(/Subject: CN ?= ?Acme Fleet/);
    expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:TRUE/);
    expect(text).toMatch(/X509v3 Key Usage: critical\s+Certificate Sign, CRL Sign/);
    expect(text).toMatch(/X509v3 Extended Key Usage: critical\s+TLS Web Server Authentication/);
    const status = json<CertView>(
      await quorumHere(['cert', 'status', rootRound, '--json', '--data-dir', repo.dataDir]),
    );
    expect(status.round.state).toBe('released');
    // A released round takes no more approvals.
    const late = await signer(['cert', 'approve', rootRound, '--yes', '--home', repo.homes.carol!]);
    expect(late.code).toBe(1);
    expect(late.stderr).toMatch(/^ROUND_CLOSED:/m);
  });

  it(
    'issues an intermediate CA from an openssl CSR, then a device certificate from the intermediate; openssl ' +
      'verify accepts the chain',
    async () => {
      const icaCsr = csr(repo, ica.keyPem, 'ica.csr', '/O=Acme/CN=Acme Fleet Intermediate');
      const iv = json<CertView>(
        await quorumHere([
          'cert',
          'issue',
          '--data-dir',
          repo.dataDir,
          '--ca',
          'fleet',
          '--profile',
          'intermediate-ca',
          '--csr',
          icaCsr,
          '--reason',
          'production line CA',
          '--new-ca',
          'line1',
          '--holder',
          'ica',
          '--json',
        ]),
      );
      await approveHere(repo, iv.round.id, ['carol', 'bob']);
      // Only the holder of the fleet root key can sign it.
      const wrongHolder = await signer(['cert', 'sign', iv.round.id, '--yes', '--home', ica.home]);
      expect(wrongHolder.code).toBe(1);
      expect(wrongHolder.stderr).toMatch(/^NOT_NEEDED:/m);
      const s1 = await signer([
        'cert',
        'sign',
        iv.round.id,
        '--yes',
        '--home',
        repo.homes.ca!,
        '--out',
        file('ica-chain.pem'),
      ]);
      expect(s1.code, s1.stderr).toBe(0);
      const g = await quorumHere([
        'cert',
        'get',
        iv.round.id,
        '--out',
        file('intermediate-chain.pem'),
        '--data-dir',
        repo.dataDir,
      ]);
      expect(g.code, g.stderr).toBe(0);
      const chain = fs.readFileSync(file('intermediate-chain.pem'), 'utf8');
      expect(chain).toBe(fs.readFileSync(file('ica-chain.pem'), 'utf8'));
      const intermediate = chain.split(/(?<=-----END CERTIFICATE-----\n)/)[0]!;
      fs.writeFileSync(file('intermediate.pem'), intermediate);
      expect(openssl(['verify', '-x509_strict', '-CAfile', file('root.pem'), file('intermediate.pem')])).toMatch(/OK/);
      expect(openssl(['x509', '-noout', '-text', '-in', file('intermediate.pem')])).toMatch(
        /X509v3 Basic Constraints: critical\s+CA:TRUE, pathlen:0/,
      );

      const devCsr = csr(repo, device.keyPem, 'device.csr', '/CN=device-0001');
      const dv = json<CertView>(
        await quorumHere([
          'cert',
          'issue',
          '--data-dir',
          repo.dataDir,
          '--ca',
          'line1',
          '--profile',
          'device',
          '--csr',
          devCsr,
          '--reason',
          'provision device-0001',
          '--validity-days',
          '365',
          '--json',
        ]),
      );
      expect(dv.review.subject).toBe('CN=device-0001');
      const review = await signer(['cert', 'review', dv.round.id, '--home', repo.homes.bob!]);
      expect(review.stdout).toContain('Subject:     CN=device-0001');
      expect(review.stdout).toContain('Issuer:      O=Acme, CN=Acme Fleet Intermediate');
      await approveHere(repo, dv.round.id, ['alice', 'bob']);
      const s2 = await signer(['cert', 'sign', dv.round.id, '--yes', '--home', ica.home]);
      expect(s2.code, s2.stderr).toBe(0);
      const got = await quorumHere([
        'cert',
        'get',
        dv.round.id,
        '--out',
        file('device.pem'),
        '--data-dir',
        repo.dataDir,
      ]);
      expect(got.code, got.stderr).toBe(0);
      // device, intermediate, root
      expect(fs.readFileSync(file('device.pem'), 'utf8').match(/BEGIN CERTIFICATE/g)).toHaveLength(3);
      expect(
        openssl([
          'verify',
          '-x509_strict',
          '-CAfile',
          file('root.pem'),
          '-untrusted',
          file('intermediate.pem'),
          file('device.pem'),
        ]),
      ).toMatch(/device\.pem: OK/);
      const text = openssl(['x509', '-noout', '-text', '-in', file('device.pem')]);
      expect(text).toMatch(/Subject: CN ?= ?device-0001/);
      expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:FALSE/);
      expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature/);
      expect(text).toMatch(/X509v3 Extended Key Usage: critical\s+TLS Web Client Authentication/);

      const list = json<CertRound[]>(await quorumHere(['certs', '--json', '--data-dir', repo.dataDir]));
      expect(list.map((r) => r.state)).toEqual(['released', 'released', 'released']);
      const audit = await quorumHere(['audit', 'verify', '--data-dir', repo.dataDir]);
      expect(audit.code, audit.stderr).toBe(0);
      const events = (await quorum(['audit', 'export', '--data-dir', repo.dataDir])).stdout;
      for (const e of [
        'ca.created',
        'cert.round.opened',
        'cert.approval.accepted',
        'cert.approval.rejected',
        'cert.signature.rejected',
        'cert.released',
      ])
        expect(events).toContain(`"event":"${e}"`);
    },
  );
});

describe('fleet certificates: Ed25519 fleet root (ota)', () => {
  let repo: Repo;
  const file = (n: string) => path.join(repo.dir, n);
  beforeAll(async () => {
    repo = await newRepo({
      dialect: 'ota',
      keyholders: ['alice', 'bob', 'ca'],
      rootKeyholders: ['alice'],
      rootThreshold: 1,
      targetsThreshold: 1,
    });
    const p = await signerHere([
      'cert',
      'pin-approvers',
      '--home',
      repo.homes.ca!,
      '--threshold',
      '1',
      '--approver',
      `alice=${file('alice.pub.pem')}`,
      '--approver',
      `bob=${file('bob.pub.pem')}`,
    ]);
    expect(p.code, p.stderr).toBe(0);
  });
  afterAll(async () => {
    await repo?.coordinator.kill();
    if (repo) fs.rmSync(repo.dir, { recursive: true, force: true });
  });

  it('releases an Ed25519 fleet root and a device certificate (Ed25519 key) it issues', async () => {
    const v = json<CertView>(
      await quorumHere([
        'fleet-ca',
        'create',
        '--data-dir',
        repo.dataDir,
        '--name',
        'fleet',
        '--holder',
        'ca',
        '--fleet-name',
        'Ed Fleet',
        '--approvers',
        'alice,bob',
        '--approvals',
        '1',
        '--validity-days',
        '3650',
        '--reason',
        'ed25519 fleet',
        '--json',
      ]),
    );
    await approveHere(repo, v.round.id, ['bob']);
    const s = await signer(['cert', 'sign', v.round.id, '--yes', '--home', repo.homes.ca!]);
    expect(s.code, s.stderr).toBe(0);
    expect(
      (await quorumHere(['cert', 'get', v.round.id, '--out', file('root.pem'), '--data-dir', repo.dataDir])).code,
    ).toBe(0);
    expect(openssl(['verify', '-x509_strict', '-CAfile', file('root.pem'), file('root.pem')])).toMatch(/OK/);
    expect(openssl(['x509', '-noout', '-text', '-in', file('root.pem')])).toMatch(/Signature Algorithm: ED25519/);

    const dkey = file('dev.key.pem');
    openssl(['genpkey', '-algorithm', 'ED25519', '-out', dkey]);
    const d = json<CertView>(
      await quorumHere([
        'cert',
        'issue',
        '--data-dir',
        repo.dataDir,
        '--ca',
        'fleet',
        '--profile',
        'device',
        '--csr',
        csr(repo, dkey, 'dev.csr', '/CN=ed-device-1'),
        '--reason',
        'provision',
        '--json',
      ]),
    );
    await approveHere(repo, d.round.id, ['alice']);
    expect((await signer(['cert', 'sign', d.round.id, '--yes', '--home', repo.homes.ca!])).code).toBe(0);
    expect(
      (await quorumHere(['cert', 'get', d.round.id, '--out', file('dev.pem'), '--data-dir', repo.dataDir])).code,
    ).toBe(0);
    expect(openssl(['verify', '-x509_strict', '-CAfile', file('root.pem'), file('dev.pem')])).toMatch(/dev\.pem: OK/);
    expect(openssl(['x509', '-noout', '-text', '-in', file('dev.pem')])).toMatch(
      /X509v3 Extended Key Usage: critical\s+TLS Web Client Authentication/,
    );
  });
});
