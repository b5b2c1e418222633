/**
 * The main story with real processes: a new repository, root v1 signed 2-of-3, a targets round
 * signed by two keyholders, a root rotation replacing one key; each release passes quorum verify.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { located, newRepo, quorum, signer, until, type Repo } from './harness.js';

for (const dialect of ['tuf', 'ota'] as const) {
  describe(`the signing story (${dialect})`, () => {
    let repo: Repo;
    const current = () => path.join(repo.dataDir, 'releases', 'current');
    beforeAll(async () => {
      repo = await newRepo({
        dialect,
        keyholders: ['alice', 'bob', 'carol', 'dave'],
        rootKeyholders: ['alice', 'bob', 'carol'],
        rootThreshold: 2,
        targetsThreshold: 2,
        releaseRoot: true,
      });
    });
    afterAll(async () => {
      await repo?.coordinator.kill();
      if (repo) fs.rmSync(repo.dir, { recursive: true, force: true });
    });

    it('releases root v1 that quorum verify accepts', async () => {
      const v = await quorum(['verify', current(), '--root', path.join(current(), '1.root.json')]);
      expect(v.code, v.stderr).toBe(0);
    });

    it('releases targets signed by two of three keyholders', async () => {
      const fw = path.join(repo.dir, 'fw.bin');
      fs.writeFileSync(fw, 'firmware 1.0\n');
      const open = await quorum([
        'round',
        'open',
        'targets',
        '--data-dir',
        repo.dataDir,
        '--reason',
        'fw 1.0',
        '--add',
        fw,
        '--name',
        'fw',
        '--version',
        '1.0',
        '--hardware-id',
        'ecu-a',
        ...located(dialect),
        '--json',
      ]);
      expect(open.code, open.stderr).toBe(0);
      const id = (JSON.parse(open.stdout) as { id: string }).id;
      const review = await signer(['review', id, '--home', repo.homes.alice!]);
      expect(review.code, review.stderr).toBe(0);
      expect(review.stdout).toContain('TARGET ADDED: fw-1.0 length 13');
      for (const k of ['alice', 'carol'])
        expect((await signer(['sign', id, '--yes', '--home', repo.homes[k]!])).code).toBe(0);
      await until(() => fs.existsSync(path.join(current(), 'targets.json')), 'targets release');
      const v = await quorum(['verify', current(), '--root', path.join(current(), '1.root.json')]);
      expect(v.code, v.stderr).toBe(0);
      expect(v.stdout).toMatch(/targets\.json: version 1/);
    });

    it('rotates a root key: signed by the old and the new threshold', async () => {
      const open = await quorum([
        'round',
        'open',
        'root',
        '--data-dir',
        repo.dataDir,
        '--reason',
        'replace carol',
        '--remove-key',
        'root=carol',
        '--add-key',
        'root=dave',
        '--json',
      ]);
      expect(open.code, open.stderr).toBe(0);
      const id = (JSON.parse(open.stdout) as { id: string }).id;
      // carol is in the old root only, dave in the new only: both count for one threshold each.
      for (const k of ['carol', 'dave', 'alice']) {
        const s = await signer(['sign', id, '--yes', '--home', repo.homes[k]!]);
        expect(s.code, s.stderr).toBe(0);
      }
      await until(() => fs.existsSync(path.join(current(), '2.root.json')), 'root v2 release');
      const v = await quorum(['verify', current(), '--root', path.join(current(), '1.root.json')]);
      expect(v.code, v.stderr).toBe(0);
      expect(v.stdout).toMatch(/root chain: 1 -> 2/);
    });
  });
}
