/**
 * `quorum init --import`: an existing repository becomes the trust anchor (a TUF metadata folder,
 * or a garage-sign repository folder with roles/), after it verifies. Its keyholders then sign
 * the next versions with their own keys, and the releases chain from the imported root. The
 * `quorum` commands and the keyholders' join run in this process through their command trees (the
 * same code and output); `quorum serve` and the signatures of the targets round are real processes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateKeyPair, type KeyKind } from '../../protocol/keys.js';
import {
  buildRoot,
  buildTargets,
  daysFrom,
  localSigner,
  serialize,
  signEnvelope,
  targetFor,
} from '../../protocol/metadata/build.js';
import { encryptKey, writeKeyFile } from '../../signer-client/keystore.js';
import {
  Coordinator,
  located,
  PASSPHRASE,
  quorumHere,
  signer,
  signerHere,
  signHere,
  tmpdir,
  until,
} from './harness.js';
import { testRsaPair } from '../test-keys.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

for (const dialect of ['ota', 'tuf'] as const) {
  describe(`importing a ${dialect} repository`, () => {
    it('imports, then re-signs targets in a round with the existing keys', async () => {
      const dir = tmpdir();
      dirs.push(dir);
      const kinds: KeyKind[] = ['ed25519', 'rsa', 'ed25519'];
      const people = ['ann', 'ben', 'cy'];
      // the RSA key made once (test/test-keys.ts), one per dialect
      const pairs = kinds.map((k) =>
        k === 'rsa' ? testRsaPair(dialect === 'ota' ? 'rsa-2048-a' : 'rsa-2048-b') : generateKeyPair(k),
      );
      const online = generateKeyPair('ed25519');
      const now = new Date();
      const roles = {
        root: { keys: pairs.map((p) => p.publicKey), threshold: 2 },
        targets: { keys: pairs.map((p) => p.publicKey), threshold: 2 },
        snapshot: { keys: [online.publicKey], threshold: 1 },
        timestamp: { keys: [online.publicKey], threshold: 1 },
      };
      const signers = pairs.map((p) => localSigner(p.privateKey));
      const root = serialize(
        await signEnvelope(
          buildRoot({ dialect, version: 1, expires: daysFrom(now, 365), roles }),
          dialect,
          signers.slice(0, 2),
        ),
      );
      const targets = serialize(
        await signEnvelope(
          buildTargets(dialect, 3, daysFrom(now, 31), { 'old-image': targetFor(Buffer.from('old')) }),
          dialect,
          signers.slice(1),
        ),
      );
      // garage-sign keeps metadata in <repo>/roles/; a TUF folder holds it directly.
      const repo = path.join(dir, 'repo');
      const meta = dialect === 'ota' ? path.join(repo, 'roles') : repo;
      fs.mkdirSync(meta, { recursive: true });
      fs.writeFileSync(path.join(meta, 'root.json'), root);
      fs.writeFileSync(path.join(meta, 'targets.json'), targets);
      people.forEach((p, i) => {
        writeKeyFile(
          path.join(dir, `${p}.key.json`),
          encryptKey(pairs[i]!.privateKey, PASSPHRASE, { N: 16384, r: 8, p: 1 }),
        );
        fs.writeFileSync(
          path.join(dir, `${p}.pub.pem`),
          pairs[i]!.publicKey.keyObject.export({ type: 'spki', format: 'pem' }),
        );
      });

      const data = path.join(dir, 'data');
      const init = await quorumHere([
        'init',
        '--data-dir',
        data,
        '--import',
        repo,
        ...people.flatMap((p) => ['--keyholder', `${p}=${path.join(dir, `${p}.pub.pem`)}`]),
      ]);
      expect(init.code, init.stderr).toBe(0);
      expect(init.stdout).toContain(`initialised ${dialect} coordinator`);
      expect(init.stdout).toContain('imported repository: root version 1, targets version 3');
      const c = await new Coordinator(data).start();
      try {
        for (const p of people)
          expect(
            (
              await signerHere([
                'join',
                c.url,
                '--key',
                path.join(dir, `${p}.key.json`),
                '--home',
                path.join(dir, `h-${p}`),
                '--trusted-root',
                path.join(meta, 'root.json'),
              ])
            ).code,
          ).toBe(0);
        if (dialect === 'tuf') {
          // The imported root's snapshot/timestamp key is not this coordinator's online key, so no
          // targets can be released until a root round hands those roles to it.
          expect(init.stdout).toContain('--add-key snapshot=online');
          const refused = await quorumHere([
            'round',
            'open',
            'targets',
            '--data-dir',
            data,
            '--reason',
            'too early',
            '--remove',
            'old-image',
          ]);
          expect(refused.code).toBe(1);
          expect(refused.stderr).toMatch(/^ROUND_INVALID: .*online key/m);
          const oldOnline = path.join(dir, 'old-online.pub.pem');
          fs.writeFileSync(oldOnline, online.publicKey.keyObject.export({ type: 'spki', format: 'pem' }));
          const rot = await quorumHere([
            'round',
            'open',
            'root',
            '--data-dir',
            data,
            '--reason',
            'online keys to the coordinator',
            '--add-key',
            'snapshot=online',
            '--add-key',
            'timestamp=online',
            '--remove-key',
            `snapshot=pem:${oldOnline}`,
            '--remove-key',
            `timestamp=pem:${oldOnline}`,
            '--json',
          ]);
          expect(rot.code, rot.stderr).toBe(0);
          const rid = (JSON.parse(rot.stdout) as { id: string }).id;
          // set-up for the targets round below: signed in this process (signHere)
          for (const p of ['ann', 'ben']) {
            const s = await signHere(rid, path.join(dir, `h-${p}`));
            expect(s.code, s.stderr).toBe(0);
          }
          await until(() => fs.existsSync(path.join(data, 'releases', 'current', '2.root.json')), 'root v2 release');
        }
        const fw = path.join(dir, 'fw.bin');
        fs.writeFileSync(fw, 'new image');
        const open = await quorumHere([
          'round',
          'open',
          'targets',
          '--data-dir',
          data,
          '--reason',
          'new image',
          '--add',
          fw,
          '--name',
          'fw',
          '--version',
          '2',
          '--hardware-id',
          'ecu-a',
          ...located(dialect),
          '--json',
        ]);
        expect(open.code, open.stderr).toBe(0);
        const round = JSON.parse(open.stdout) as { id: string; version: number };
        expect(round.version).toBe(4);
        const review = await signer(['review', round.id, '--home', path.join(dir, 'h-ann'), '--no-diff']);
        expect(review.stdout).toContain('TARGET ADDED: fw-2');
        expect(review.stdout).not.toContain('TARGET REMOVED');
        for (const p of ['ann', 'cy'])
          expect((await signer(['sign', round.id, '--yes', '--home', path.join(dir, `h-${p}`)])).code).toBe(0);
        const current = path.join(data, 'releases', 'current');
        await until(
          () =>
            fs.existsSync(path.join(current, 'targets.json')) &&
            fs.readFileSync(path.join(current, 'targets.json'), 'utf8').includes('"fw-2"'),
          'release',
        );
        const v = await quorumHere(['verify', current, '--root', path.join(meta, 'root.json')]);
        expect(v.code, v.stderr).toBe(0);
        expect(v.stdout).toContain('targets.json: version 4');
      } finally {
        await c.kill();
      }
    });

    it('refuses to import a repository that does not verify', async () => {
      const dir = tmpdir();
      dirs.push(dir);
      const repo = path.join(dir, 'repo');
      fs.mkdirSync(repo);
      const k = generateKeyPair('ed25519');
      const roles = {
        root: { keys: [k.publicKey], threshold: 1 },
        targets: { keys: [k.publicKey], threshold: 1 },
        snapshot: { keys: [k.publicKey], threshold: 1 },
        timestamp: { keys: [k.publicKey], threshold: 1 },
      };
      const env = await signEnvelope(
        buildRoot({ dialect, version: 1, expires: daysFrom(new Date(), 365), roles }),
        dialect,
        [localSigner(k.privateKey)],
      );
      (env.signed as { version: number }).version = 2; // modified after signing
      fs.writeFileSync(path.join(repo, 'root.json'), serialize(env));
      const init = await quorumHere(['init', '--data-dir', path.join(dir, 'data'), '--import', repo]);
      expect(init.code).toBe(2);
      expect(init.stderr).toContain('SIGNATURE_INVALID');
      expect(fs.existsSync(path.join(dir, 'data', 'quorum.db'))).toBe(false);
    });
  });
}
