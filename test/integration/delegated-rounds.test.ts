/**
 * Delegated targets roles end to end (issue 14), real coordinator and real signers: a targets round
 * delegates `firmware/*` to carol and dave (2 of 2), its keyholder sees the delegation in her
 * summary and signs; the delegated role's own round (`quorum round open targets --role firmware`)
 * is signed by carol over the socket and by dave offline (round export, sign --offline,
 * add-signature); the release holds the role's file under the dialect's name, and a client
 * resolves the delegated target through it: tuf-js's Updater downloads it (tuf), and
 * `quorum verify --target` prints the same chain (both dialects). A repository made with
 * `quorum init --hash-bins 16` puts each target a round adds in its bin, signed by the online key,
 * re-signing only that bin. The `quorum` commands and the set-up (keygen, join, trust, the bins
 * repository's root v1 signature) run in this process (quorumHere, signerHere); `quorum serve` and
 * the signatures and reviews the tests check are real processes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tufJsDownload } from '../interop/helpers.js';
import {
  Coordinator,
  keygenHere,
  located,
  newRepo,
  quorumHere,
  type Repo,
  signer,
  signerHere,
  signHere,
  tmpdir,
  until,
} from './harness.js';

/** What tuf-js downloads of `target` from the published folder, trusting `root` (the target served from `file`). */
async function download(metadataDir: string, root: string, target: string, file: string): Promise<string> {
  const work = tmpdir('quorum-tufjs-');
  try {
    const got = await tufJsDownload({ work, metadataDir, trustedRoot: root, target, targetFile: file });
    return fs.readFileSync(got.file, 'utf8');
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

for (const dialect of ['tuf', 'ota'] as const) {
  describe(`a delegated role signed in rounds and resolved by clients (${dialect})`, () => {
    let repo: Repo;
    const current = () => path.join(repo.dataDir, 'releases', 'current');
    const q = (args: string[]) => quorumHere([...args, '--data-dir', repo.dataDir]);
    const roleFile = dialect === 'tuf' ? 'firmware.json' : path.join('delegations', 'firmware.json');
    const hw = dialect === 'ota' ? ['--hardware-id', 'ecu-a'] : [];

    beforeAll(async () => {
      repo = await newRepo({
        dialect,
        keyholders: ['alice', 'carol', 'dave'],
        rootKeyholders: ['alice'],
        rootThreshold: 1,
        targetsThreshold: 1,
        releaseRoot: true,
      });
    });
    afterAll(async () => {
      await repo?.coordinator.kill();
      if (repo) fs.rmSync(repo.dir, { recursive: true, force: true });
    });

    it('targets delegates firmware/*; the delegated round is signed online and offline, released, resolved', async () => {
      const readme = path.join(repo.dir, 'readme.txt');
      fs.writeFileSync(readme, 'read me\n');
      const open = await q([
        'round',
        'open',
        'targets',
        '--reason',
        'firmware team signs firmware/*',
        '--add',
        readme,
        '--name',
        'readme',
        '--version',
        '1',
        '--target-name',
        'readme.txt',
        ...hw,
        ...located(dialect),
        '--delegate',
        'firmware',
        '--key',
        'carol',
        '--key',
        'dave',
        '--threshold',
        '2',
        '--paths',
        'firmware/*',
        '--json',
      ]);
      expect(open.code, open.stderr).toBe(0);
      const t1 = (JSON.parse(open.stdout) as { id: string }).id;
      const review = await signer(['review', t1, '--home', repo.homes.alice!]);
      expect(review.code, review.stderr).toBe(0);
      expect(review.stdout).toMatch(
        /DELEGATION ADDED: firmware: threshold 2 of 2 key\(s\) \[.+\], paths \["firmware\/\*"\]/,
      );
      expect((await signer(['sign', t1, '--yes', '--home', repo.homes.alice!])).code).toBe(0);
      await until(() => fs.existsSync(path.join(current(), 'targets.json')), 'targets v1');

      // nothing delegates "apps": refused before anything is opened
      const none = await q(['round', 'open', 'targets', '--role', 'apps', '--reason', 'apps']);
      expect(none.code).toBe(1);
      expect(none.stderr).toMatch(/^DELEGATION_UNKNOWN: /m);

      const fw = path.join(repo.dir, 'fw.bin');
      fs.writeFileSync(fw, 'firmware 1\n');
      const addFw = ['--add', fw, '--name', 'fw', '--version', '1', ...hw, ...located(dialect)];
      const outside = await q([
        'round',
        'open',
        'targets',
        '--role',
        'firmware',
        '--reason',
        'fw',
        ...addFw,
        '--target-name',
        'apps/fw.bin',
      ]);
      expect(outside.code).toBe(1);
      expect(outside.stderr).toMatch(/^DELEGATED_PATH_OUTSIDE: /m);

      const opened = await q([
        'round',
        'open',
        'targets',
        '--role',
        'firmware',
        '--reason',
        'firmware 1',
        ...addFw,
        '--target-name',
        'firmware/a.bin',
        '--json',
      ]);
      expect(opened.code, opened.stderr).toBe(0);
      const f1 = JSON.parse(opened.stdout) as { id: string; delegated: string; version: number };
      expect(f1).toMatchObject({ delegated: 'firmware', version: 1 });
      expect(f1.id).toMatch(/^targets\.firmware-v1-r\d+$/);

      // alice's key is not one the delegation names
      const notMine = await signer(['sign', f1.id, '--yes', '--home', repo.homes.alice!]);
      expect(notMine.code).toBe(1);
      expect(notMine.stderr).toMatch(/^NOT_NEEDED: /m);

      // carol over the socket: her summary names the chain she verified
      const cs = await signer(['sign', f1.id, '--yes', '--home', repo.homes.carol!]);
      expect(cs.code, cs.stderr).toBe(0);
      expect(cs.stdout).toContain('delegated by targets -> firmware');

      // dave offline: the bundle carries the chain; his machine has only root v1 pinned
      const bundle = path.join(repo.dir, 'firmware-bundle.json');
      expect((await q(['round', 'export', f1.id, '--out', bundle])).code).toBe(0);
      const home = tmpdir('quorum-offline-');
      const root1 = path.join(current(), '1.root.json');
      expect((await signerHere(['trust', root1, '--home', home])).code).toBe(0);
      fs.writeFileSync(path.join(home, 'config.json'), JSON.stringify({ keyFile: repo.keys.dave }));
      const sigFile = path.join(repo.dir, 'dave.sig.json');
      const off = await signer(['sign', '--offline', bundle, '--out', sigFile, '--yes', '--home', home]);
      expect(off.code, off.stderr).toBe(0);
      const add = await q(['round', 'add-signature', f1.id, sigFile]);
      expect(add.code, add.stderr).toBe(0);
      await until(() => fs.existsSync(path.join(current(), roleFile)), `${roleFile} released`);
      fs.rmSync(home, { recursive: true, force: true });

      // quorum verify resolves the target as the dialect's client does
      const v = await quorumHere(['verify', current(), '--root', root1, '--target', 'firmware/a.bin']);
      expect(v.code, v.stdout + v.stderr).toBe(0);
      expect(v.stdout).toMatch(/target "firmware\/a\.bin": vouched for by targets -> firmware/);
      if (dialect === 'tuf') {
        const snap = JSON.parse(fs.readFileSync(path.join(current(), 'snapshot.json'), 'utf8')) as {
          signed: { meta: Record<string, { version: number }> };
        };
        expect(snap.signed.meta['firmware.json']).toMatchObject({ version: 1 });
        // tuf-js, a device's client, downloads the delegated target through the delegation
        expect(await download(current(), root1, 'firmware/a.bin', fw)).toBe('firmware 1\n');
      }
    });
  });
}

interface Released {
  signed: { version: number };
}

describe('hash bins through the command line (tuf, 16 bins)', () => {
  const dir = tmpdir();
  const dataDir = path.join(dir, 'data');
  const home = path.join(dir, 'home-alice');
  const coordinator = new Coordinator(dataDir);
  const current = () => path.join(dataDir, 'releases', 'current');
  const q = (args: string[]) => quorumHere([...args, '--data-dir', dataDir]);
  afterAll(async () => {
    await coordinator.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('quorum init --hash-bins 16; each round re-signs only the bins of the targets it adds', async () => {
    const kg = await keygenHere(dir, 'alice');
    expect(kg.code, kg.stderr).toBe(0);
    const bad = await quorumHere(['init', '--data-dir', path.join(dir, 'x'), '--dialect', 'tuf', '--hash-bins', '12']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^USAGE: .*power of two/m);
    const init = await q([
      'init',
      '--dialect',
      'tuf',
      '--hash-bins',
      '16',
      '--keyholder',
      `alice=${path.join(dir, 'alice.pub.pem')}`,
      '--root-keyholders',
      'alice',
    ]);
    expect(init.code, init.stderr).toBe(0);
    await coordinator.start();
    const key = path.join(dir, 'alice.key.json');
    // set-up in this process: join, and root v1's signature (signHere); the bins' rounds are signed by real processes
    expect((await signerHere(['join', coordinator.url, '--key', key, '--home', home, '--trust-first-root'])).code).toBe(
      0,
    );
    expect((await signHere('root-v1-r1', home)).code).toBe(0);
    await until(() => fs.existsSync(path.join(current(), '1.root.json')), 'root v1');

    const release = async (target: string, content: string) => {
      const file = path.join(dir, path.basename(target));
      fs.writeFileSync(file, content);
      const open = await q(
        ['round', 'open', 'targets', '--reason', target, '--add', file, '--name', 'p'].concat([
          '--version',
          '1',
          '--target-name',
          target,
          '--json',
        ]),
      );
      expect(open.code, open.stderr).toBe(0);
      const id = (JSON.parse(open.stdout) as { id: string }).id;
      const s = await signer(['sign', id, '--yes', '--home', home]);
      expect(s.code, s.stderr).toBe(0);
      expect(s.stdout).toContain(`BIN TARGET ADDED: ${target}`);
      const version = Number(/-v(\d+)-/.exec(id)![1]);
      const released = () => {
        const t = path.join(current(), 'targets.json');
        return fs.existsSync(t) && (JSON.parse(fs.readFileSync(t, 'utf8')) as Released).signed.version === version;
      };
      await until(() => released() || null, `${id} released`);
      const bins: Record<string, Buffer> = {};
      for (const n of fs.readdirSync(current()))
        if (n.startsWith('bins-')) bins[n] = fs.readFileSync(path.join(current(), n));
      return { file, bins };
    };
    const a = await release('pkg/a.tar.gz', 'a\n');
    expect(Object.keys(a.bins)).toHaveLength(16);
    const b = await release('pkg/b.tar.gz', 'b\n');
    const changed = Object.keys(b.bins).filter((n) => !b.bins[n]!.equals(a.bins[n]!));
    expect(changed).toHaveLength(1);
    const listed = JSON.parse(b.bins[changed[0]!]!.toString('utf8')) as {
      signed: { version: number; targets: object };
    };
    expect(listed.signed.version).toBe(2);
    expect(Object.keys(listed.signed.targets)).toContain('pkg/b.tar.gz');

    const root1 = path.join(current(), '1.root.json');
    const v = await quorumHere(['verify', current(), '--root', root1, '--target', 'pkg/b.tar.gz']);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    expect(v.stdout).toContain(`vouched for by targets -> ${changed[0]!.replace(/\.json$/, '')}`);
    expect(await download(current(), root1, 'pkg/b.tar.gz', b.file)).toBe('b\n');
  });
});
