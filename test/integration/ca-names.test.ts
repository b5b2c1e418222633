/**
 * A CA name given up and taken again, with the real coordinator: a CA whose own round (a fleet
 * root's, or an intermediate's --new-ca round) was cancelled or expired before it got its
 * certificate is retired (NAME.retired-N, kept with its rounds, audited as ca.retired) when a new CA
 * takes its name, through quorum fleet-ca create and cert issue --new-ca, as the CLIs show it and
 * across a restart. A CA with its certificate, with an open round, or a retired CA's name is
 * refused with CA_EXISTS. The rules, and FROST CAs (a DKG ceremony holds its name), are tested in
 * process: test/coordinator/certificates.test.ts and ceremony.test.ts ("the CA namespace"). The
 * quorum commands, and the keyholders' set-up, approvals and signatures, run in this process
 * (quorumHere, signerHere) against the real `quorum serve`.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encryptKey, writeKeyFile } from '../../signer-client/keystore.js';
import {
  auditEvents,
  type AuditEvent,
  newRepo,
  passphraseFile,
  PASSPHRASE,
  quorumHere,
  signer,
  signerHere,
  TEST_SCRYPT_N,
  until,
  type Repo,
  type RunResult,
} from './harness.js';

interface Ca {
  name: string;
  kind: string;
  issued: boolean;
  fingerprint: string;
  retiredFrom?: string;
  retiredAt?: string;
}
interface CertView {
  round: { id: string; ca: string; state: string; newCa?: string };
}

function json<T>(r: RunResult): T {
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as T;
}

const cas = async (repo: Repo) =>
  json<Ca[]>(await quorumHere(['fleet-ca', 'list', '--json', '--data-dir', repo.dataDir]));
const status = async (repo: Repo, id: string) =>
  json<CertView>(await quorumHere(['cert', 'status', id, '--json', '--data-dir', repo.dataDir]));
async function audit(repo: Repo): Promise<AuditEvent[]> {
  const v = await quorumHere(['audit', 'verify', '--data-dir', repo.dataDir]);
  expect(v.code, v.stderr).toBe(0);
  return auditEvents(repo.dataDir);
}

/**
 * For the approvals and CA signatures that are set-up here (a CA that has its certificate), run in
 * this process (signerHere); the holder's checks are test/integration/certificates.test.ts and
 * cert-issuer.test.ts, with real processes.
 */
const pass = ['--passphrase-file', passphraseFile()];

function refused(r: RunResult, re: RegExp): void {
  expect(r.code, r.stdout).toBe(1);
  expect(r.stderr).toMatch(/^CA_EXISTS: /m);
  expect(r.stderr).toMatch(re);
}

describe('key-held CAs: a cancelled or expired fleet root, and a cancelled intermediate, give their names up', () => {
  let repo: Repo;
  const file = (n: string) => path.join(repo.dir, n);
  const create = (extra: string[] = [], name = 'fleet') =>
    quorumHere([
      'fleet-ca',
      'create',
      '--data-dir',
      repo.dataDir,
      '--name',
      name,
      '--holder',
      'ca',
      '--fleet-name',
      'Acme Fleet',
      '--approvers',
      'alice,bob',
      '--approvals',
      '1',
      '--reason',
      'new fleet',
      '--json',
      ...extra,
    ]);

  beforeAll(async () => {
    repo = await newRepo({
      dialect: 'tuf',
      keyholders: ['alice', 'bob', 'ca'],
      rootKeyholders: ['alice'],
      rootThreshold: 1,
      targetsThreshold: 1,
      keyType: { ca: 'ecdsa' },
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
    ]);
    expect(p.code, p.stderr).toBe(0);
    // ica: a keyholder whose key openssl made, so that openssl can make its intermediate's CSR.
    const keyPem = file('ica.key.pem');
    execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyPem]);
    writeKeyFile(
      file('ica.key.json'),
      encryptKey(crypto.createPrivateKey(fs.readFileSync(keyPem)), PASSPHRASE, {
        N: Number(TEST_SCRYPT_N),
        r: 8,
        p: 1,
      }),
    );
    fs.writeFileSync(
      file('ica.pub.pem'),
      crypto.createPublicKey(fs.readFileSync(keyPem)).export({ type: 'spki', format: 'pem' }),
    );
    expect((await quorumHere(['keyholder', 'add', 'ica', file('ica.pub.pem'), '--data-dir', repo.dataDir])).code).toBe(
      0,
    );
    execFileSync('openssl', ['req', '-new', '-key', keyPem, '-subj', '/O=Acme/CN=Line 1', '-out', file('ica.csr')]);
  }, 120_000);
  afterAll(async () => {
    await repo?.coordinator.kill();
    if (repo) fs.rmSync(repo.dir, { recursive: true, force: true });
  });

  it(
    "refuses the name while the fleet root's round is open; after it is cancelled, a new CA takes the name and " +
      'the old one is retired',
    async () => {
      const first = json<CertView>(await create());
      refused(
        await create(),
        new RegExp(
          `a CA named fleet exists and its round ${first.round.id} is open; cancel it first \\(quorum cert ` +
            `cancel ${first.round.id} --reason TEXT\\)`,
        ),
      );
      expect(
        (
          await quorumHere([
            'cert',
            'cancel',
            first.round.id,
            '--reason',
            'wrong fleet name',
            '--data-dir',
            repo.dataDir,
          ])
        ).code,
      ).toBe(0);

      const second = json<CertView>(await create());
      expect(second.round).toMatchObject({ ca: 'fleet', state: 'open' });
      expect(await cas(repo)).toEqual([
        expect.objectContaining({ name: 'fleet', issued: false }),
        expect.objectContaining({
          name: 'fleet.retired-1',
          issued: false,
          retiredFrom: 'fleet',
          retiredAt: expect.any(String),
        }),
      ]);
      // The old round stays, now the retired CA's; history is kept, and keyholders' clients still list it.
      expect((await status(repo, first.round.id)).round).toMatchObject({ ca: 'fleet.retired-1', state: 'cancelled' });
      const list = await signer(['cert', 'list', '--home', repo.homes.alice!]);
      expect(list.code, list.stderr).toBe(0);
      expect(list.stdout).toContain(`${first.round.id}  fleet-root from CA fleet.retired-1 [cancelled]`);
      const text = await quorumHere(['fleet-ca', 'list', '--data-dir', repo.dataDir]);
      expect(text.stdout).toMatch(/^fleet\.retired-1 .*retired .*, never issued \(was fleet\)/m);
      const retired = (await audit(repo)).filter((e) => e.event === 'ca.retired');
      expect(retired).toEqual([
        expect.objectContaining({
          data: expect.objectContaining({
            name: 'fleet',
            retiredAs: 'fleet.retired-1',
            kind: 'single',
            rounds: [{ id: first.round.id, state: 'cancelled' }],
          }),
        }),
      ]);
      // A retired CA's name is not given again.
      refused(await create([], 'fleet.retired-1'), /fleet\.retired-1 is the name of a retired CA \(once fleet\)/);
      // Nor can the retired CA issue anything.
      const issue = await quorumHere([
        'cert',
        'issue',
        '--data-dir',
        repo.dataDir,
        '--ca',
        'fleet.retired-1',
        '--profile',
        'intermediate-ca',
        '--csr',
        file('ica.csr'),
        '--reason',
        'r',
      ]);
      expect(issue.stderr).toMatch(/^CA_NOT_ISSUED: /m);

      // The second one expires at its deadline: the name is free again.
      expect(
        (
          await quorumHere([
            'cert',
            'cancel',
            second.round.id,
            '--reason',
            'try a deadline',
            '--data-dir',
            repo.dataDir,
          ])
        ).code,
      ).toBe(0);
      const third = json<CertView>(await create(['--deadline', new Date(Date.now() + 2500).toISOString()]));
      await until(
        async () => (await status(repo, third.round.id)).round.state === 'expired',
        'the round to expire',
        20_000,
      );
      const fourth = json<CertView>(await create());
      expect((await cas(repo)).map((c) => c.name)).toEqual([
        'fleet',
        'fleet.retired-1',
        'fleet.retired-2',
        'fleet.retired-3',
      ]);
      expect((await status(repo, third.round.id)).round).toMatchObject({ ca: 'fleet.retired-3', state: 'expired' });

      // Released: the name stays taken for good.
      expect(
        (await signerHere(['cert', 'approve', fourth.round.id, '--yes', '--home', repo.homes.alice!, ...pass])).code,
      ).toBe(0);
      const s = await signerHere(['cert', 'sign', fourth.round.id, '--yes', '--home', repo.homes.ca!, ...pass]);
      expect(s.code, s.stderr).toBe(0);
      refused(await create(), /a CA named fleet exists and has its certificate; choose another name/);
      expect((await cas(repo)).find((c) => c.name === 'fleet')).toMatchObject({ issued: true });
    },
    120_000,
  );

  it('an intermediate CA whose --new-ca round was cancelled gives its name up to the next --new-ca', async () => {
    const issue = () =>
      quorumHere([
        'cert',
        'issue',
        '--data-dir',
        repo.dataDir,
        '--ca',
        'fleet',
        '--profile',
        'intermediate-ca',
        '--csr',
        file('ica.csr'),
        '--reason',
        'line 1',
        '--new-ca',
        'line1',
        '--holder',
        'ica',
        '--json',
      ]);
    const first = json<CertView>(await issue());
    expect(first.round.newCa).toBe('line1');
    refused(await issue(), new RegExp(`a CA named line1 exists and its round ${first.round.id} is open`));
    refused(await create([], 'line1'), /a CA named line1 exists and its round/);
    expect(
      (await quorumHere(['cert', 'cancel', first.round.id, '--reason', 'wrong holder', '--data-dir', repo.dataDir]))
        .code,
    ).toBe(0);

    const second = json<CertView>(await issue());
    expect(second.round).toMatchObject({ ca: 'fleet', newCa: 'line1', state: 'open' });
    expect((await status(repo, first.round.id)).round).toMatchObject({
      ca: 'fleet',
      newCa: 'line1.retired-1',
      state: 'cancelled',
    });
    expect((await cas(repo)).filter((c) => c.name.startsWith('line1'))).toEqual([
      expect.objectContaining({ name: 'line1' }),
      expect.objectContaining({ name: 'line1.retired-1', retiredFrom: 'line1' }),
    ]);
    // The new intermediate is issued, and its name then stays taken.
    expect(
      (await signerHere(['cert', 'approve', second.round.id, '--yes', '--home', repo.homes.alice!, ...pass])).code,
    ).toBe(0);
    const s = await signerHere(['cert', 'sign', second.round.id, '--yes', '--home', repo.homes.ca!, ...pass]);
    expect(s.code, s.stderr).toBe(0);
    refused(await issue(), /a CA named line1 exists and has its certificate/);
    const events = await audit(repo);
    expect(events.filter((e) => e.event === 'ca.retired').map((e) => e.data.name)).toEqual([
      'fleet',
      'fleet',
      'fleet',
      'line1',
    ]);
    // The coordinator comes back with all of it (migration applied once, retired CAs kept).
    const port = repo.coordinator.port;
    await repo.coordinator.kill();
    await repo.coordinator.start(port);
    expect((await cas(repo)).map((c) => c.name)).toEqual([
      'fleet',
      'fleet.retired-1',
      'fleet.retired-2',
      'fleet.retired-3',
      'line1',
      'line1.retired-1',
    ]);
  }, 120_000);
});
