/**
 * A root round that changes targets keys re-signs the released targets in a linked targets
 * round; devices would reject the old targets under the new root, so both are released together,
 * once both are signed, and verify as one repository.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents, located, newRepo, quorumHere, signer, signHere, sleep, until, type Repo } from './harness.js';

for (const dialect of ['tuf', 'ota'] as const) {
  describe(`root and targets released together (${dialect})`, () => {
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
      const fw = path.join(repo.dir, 'fw.bin');
      fs.writeFileSync(fw, 'fw 1\n');
      const open = await quorumHere([
        'round',
        'open',
        'targets',
        '--data-dir',
        repo.dataDir,
        '--reason',
        'fw 1',
        '--add',
        fw,
        '--name',
        'fw',
        '--version',
        '1',
        '--hardware-id',
        'ecu-a',
        ...located(dialect),
        '--json',
      ]);
      const id = (JSON.parse(open.stdout) as { id: string }).id;
      // set-up: targets v1 signed in this process (the signatures this file checks are real processes)
      for (const k of ['alice', 'bob']) {
        const s = await signHere(id, repo.homes[k]!);
        expect(s.code, s.stderr).toBe(0);
      }
      await until(() => fs.existsSync(path.join(current(), 'targets.json')), 'targets v1');
    });
    afterAll(async () => {
      await repo?.coordinator.kill();
      if (repo) fs.rmSync(repo.dir, { recursive: true, force: true });
    });

    const change = ['--remove-key', 'targets=alice', '--remove-key', 'targets=bob', '--add-key', 'targets=dave'];

    it('refuses a root round that would orphan the released targets, naming --resign-targets', async () => {
      const r = await quorumHere([
        'round',
        'open',
        'root',
        '--data-dir',
        repo.dataDir,
        '--reason',
        'new targets keys',
        ...change,
      ]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^ROUND_INVALID: .*--resign-targets/m);
    });

    it('opens a linked pair, releases nothing until both are signed, then both at once', async () => {
      const open = await quorumHere([
        'round',
        'open',
        'root',
        '--data-dir',
        repo.dataDir,
        '--reason',
        'new targets keys',
        ...change,
        '--resign-targets',
        '--json',
      ]);
      expect(open.code, open.stderr).toBe(0);
      const root = JSON.parse(open.stdout) as { id: string; linked: string };
      expect(root.linked).toMatch(/^targets-v2-r\d+$/);
      const rounds = JSON.parse((await quorumHere(['rounds', '--data-dir', repo.dataDir, '--json'])).stdout) as {
        id: string;
        state: string;
        linked?: string;
        progress: { label: string }[];
      }[];
      const t = rounds.find((r) => r.id === root.linked)!;
      expect(t.state).toBe('open');
      expect(t.linked).toBe(root.id);
      expect(t.progress.map((p) => p.label)).toEqual(['targets keys of root v2']);

      // dave is only in the proposed root's targets role: he can review and sign the targets round.
      const review = await signer(['review', t.id, '--home', repo.homes.dave!, '--no-diff']);
      expect(review.code, review.stderr).toBe(0);
      expect(review.stdout).toContain(`LINKED: released only together with root round ${root.id}`);
      expect(review.stdout).toContain('KEY ADDED to targets');
      expect(review.stdout).toContain('targets keys of proposed root v2');
      // ... but not the root round, which his key does not sign.
      const notMine = await signer(['sign', root.id, '--yes', '--home', repo.homes.dave!]);
      expect(notMine.code).toBe(1);
      expect(notMine.stderr).toMatch(/^NOT_NEEDED: /m);

      for (const k of ['alice', 'bob'])
        expect((await signer(['sign', root.id, '--yes', '--home', repo.homes[k]!])).code).toBe(0);
      await sleep(300);
      expect(fs.existsSync(path.join(current(), '2.root.json'))).toBe(false); // the targets round is not signed yet
      for (const k of ['carol', 'dave']) {
        const s = await signer(['sign', t.id, '--yes', '--home', repo.homes[k]!]);
        expect(s.code, s.stderr).toBe(0);
      }
      await until(() => fs.existsSync(path.join(current(), '2.root.json')), 'the pair released');
      const v = await quorumHere(['verify', current(), '--root', path.join(current(), '1.root.json')]);
      expect(v.code, v.stderr).toBe(0);
      expect(v.stdout).toContain('root chain: 1 -> 2');
      expect(v.stdout).toContain('targets.json: version 2');
      const after = JSON.parse((await quorumHere(['rounds', '--data-dir', repo.dataDir, '--json'])).stdout) as {
        id: string;
        state: string;
      }[];
      expect(after.filter((r) => r.id === root.id || r.id === t.id).map((r) => r.state)).toEqual([
        'released',
        'released',
      ]);
      const audit = await auditEvents(repo.dataDir);
      const rel = audit.filter(
        (e) => e.event === 'round.released' && (e.data.round === root.id || e.data.round === t.id),
      );
      expect(rel.length).toBe(2);
      expect(rel[0]!.data.release).toBe(rel[1]!.data.release);
    });

    it('cancelling one round of a pair cancels both', async () => {
      const open = await quorumHere([
        'round',
        'open',
        'root',
        '--data-dir',
        repo.dataDir,
        '--reason',
        'another',
        '--add-key',
        'targets=alice',
        '--remove-key',
        'targets=dave',
        '--remove-key',
        'targets=carol',
        '--threshold',
        'targets=1',
        '--resign-targets',
        '--json',
      ]);
      expect(open.code, open.stderr).toBe(0);
      const root = JSON.parse(open.stdout) as { id: string; linked: string };
      expect(
        (await quorumHere(['round', 'cancel', root.linked, '--data-dir', repo.dataDir, '--reason', 'changed my mind']))
          .code,
      ).toBe(0);
      const rounds = JSON.parse((await quorumHere(['rounds', '--data-dir', repo.dataDir, '--json'])).stdout) as {
        id: string;
        state: string;
      }[];
      expect(rounds.find((r) => r.id === root.id)!.state).toBe('cancelled');
    });
  });
}
