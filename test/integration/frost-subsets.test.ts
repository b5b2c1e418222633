/**
 * Every t-subset of a 3-of-5 FROST group signs through the coordinator, with real processes: five
 * keyholders run the DKG (quorum frost create, quorum-signer frost join), a root round makes the
 * group the only targets key, and then each of the ten 3-subsets releases one targets round with
 * `quorum-signer frost sign`, the other two participants taking no part. Every release carries one
 * Ed25519 signature by the group key over its canonical bytes, made by exactly that subset (the
 * coordinator's log and audit name the signers), and `quorum verify` accepts the final repository.
 *
 * The coordinator is a real `quorum serve` process throughout. Two participants join the DKG, and
 * the first and the last subset sign, as real `quorum-signer` processes; the others, and the
 * administrator's commands, run the same commands in this process (frost-harness.ts), over the same
 * WebSocket and admin API, since what the eight middle subsets test is the coordinator's and the
 * FROST code's handling of each subset, not the executable.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalize } from '../../protocol/canonical.js';
import { frostIdentitiesHere, frostJoinHere, frostSignHere } from './frost-harness.js';
import {
  auditEvents,
  background,
  frostJoin,
  newRepo,
  quorum,
  quorumHere,
  type Repo,
  signerHere,
  until,
} from './harness.js';

const names = ['alice', 'bob', 'carol', 'dave', 'erin'];

function subsets<T>(xs: T[], k: number): T[][] {
  if (k === 0) return [[]];
  if (xs.length < k) return [];
  const [head, ...rest] = xs;
  return [...subsets(rest, k - 1).map((s) => [head!, ...s]), ...subsets(rest, k)];
}

describe('every 3-subset of a 3-of-5 FROST group releases targets through the coordinator', () => {
  let repo: Repo;
  let groupKey: crypto.KeyObject;
  const current = () => path.join(repo.dataDir, 'releases', 'current');

  beforeAll(async () => {
    process.env.QUORUM_FROST_SIGN_TIMEOUT_MS = '10000';
    repo = await newRepo({
      dialect: 'tuf',
      keyholders: names,
      rootKeyholders: ['alice'],
      rootThreshold: 1,
      targetsThreshold: 1,
      releaseRoot: true,
    });
    await frostIdentitiesHere(repo, names);
  }, 120_000);
  afterAll(async () => {
    await repo?.coordinator.kill();
  });

  it('runs the 3-of-5 DKG and makes the group the targets key', async () => {
    const open = await quorumHere([
      'frost',
      'create',
      '--name',
      'five',
      '--threshold',
      '3',
      ...names.flatMap((n) => ['--participant', n]),
      '--reason',
      '3-of-5 release group',
      '--data-dir',
      repo.dataDir,
    ]);
    expect(open.code, open.stderr).toBe(0);
    // alice and bob as processes, the others here
    const joins = names.map((k, i) => (i < 2 ? frostJoin : frostJoinHere)(repo.homes[k]!, 'dkg-five'));
    for (const j of joins) expect((await j.done).code, j.log()).toBe(0);
    const groups = JSON.parse((await quorumHere(['frost', 'list', '--json', '--data-dir', repo.dataDir])).stdout) as {
      name: string;
      groupPublicKey: string;
    }[];
    const hex = groups.find((g) => g.name === 'five')!.groupPublicKey;
    groupKey = crypto.createPublicKey({
      key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(hex, 'hex')]),
      format: 'der',
      type: 'spki',
    });

    const r = await quorumHere([
      'round',
      'open',
      'root',
      '--reason',
      'group signs targets',
      '--add-key',
      'targets=frost:five',
      '--remove-key',
      'targets=alice',
      '--data-dir',
      repo.dataDir,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const id = /opened round (\S+)/.exec(r.stdout)![1]!;
    expect((await signerHere(['sign', id, '--yes', '--home', repo.homes.alice!])).code).toBe(0);
    await until(() => fs.existsSync(path.join(current(), '2.root.json')), 'root v2 release');
  }, 180_000);

  it('each of the ten 3-subsets signs one targets round; the others take no part', async () => {
    const all = subsets(names, 3);
    expect(all).toHaveLength(10);
    for (const [i, subset] of all.entries()) {
      const fw = path.join(repo.dir, `fw-${i}.bin`);
      fs.writeFileSync(fw, `firmware ${i}\n`);
      const r = await quorumHere([
        'round',
        'open',
        'targets',
        '--reason',
        `release ${i} by ${subset.join(', ')}`,
        '--add',
        fw,
        '--name',
        'fw',
        '--version',
        String(i),
        '--data-dir',
        repo.dataDir,
      ]);
      expect(r.code, r.stderr).toBe(0);
      const id = /opened round (\S+)/.exec(r.stdout)![1]!;
      // the first and the last subset as processes, the others here
      const procs = subset.map((k) =>
        i === 0 || i === all.length - 1
          ? background(['frost', 'sign', id, '--yes', '--home', repo.homes[k]!, '--timeout-s', '90'])
          : frostSignHere(repo, k, id),
      );
      for (const p of procs) expect((await p.done).code, p.log()).toBe(0);
      expect(repo.coordinator.log).toContain(
        `round ${id}: signature of FROST group five by ${subset.join(', ')} stored`,
      );
      await until(
        async () => {
          const t = JSON.parse(fs.readFileSync(path.join(current(), 'targets.json'), 'utf8')) as {
            signed: { version: number };
          };
          return t.signed.version === i + 1;
        },
        `targets v${i + 1} release`,
      );
      const t = JSON.parse(fs.readFileSync(path.join(current(), 'targets.json'), 'utf8')) as {
        signed: unknown;
        signatures: { sig: string }[];
      };
      expect(t.signatures).toHaveLength(1);
      expect(
        crypto.verify(null, canonicalize(t.signed, 'tuf'), groupKey, Buffer.from(t.signatures[0]!.sig, 'hex')),
      ).toBe(true);
    }
    const v = await quorum(['verify', current(), '--root', path.join(current(), '1.root.json')]);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    const signers = (await auditEvents(repo.dataDir)).filter(
      (e) => e.event === 'signature.accepted' && String(e.data.keyholder).startsWith('frost:five'),
    );
    expect(new Set(signers.map((e) => e.data.keyholder))).toEqual(
      new Set(all.map((s) => `frost:five (${s.join(', ')})`)),
    );
  }, 300_000);
});
