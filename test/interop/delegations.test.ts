/**
 * Delegations against the tuf-js Updater: a `tuf` repository we build and sign with delegated
 * roles by paths (one terminating, one nested), by path_hash_prefixes, and TAP 15 hash bins under
 * a path delegation, served over loopback HTTP. For every path, the role through which tuf-js
 * finds the target (each entry names its role in `custom.role`), or its not finding it, must be
 * what `quorum verify --target` prints; the built CLI runs as a child process for a sample and
 * verifyRepository in process for every path. A role signed by a key it was not delegated is
 * refused by both; consistent snapshots are fetched by tuf-js as <version>.<name>.json, which is
 * where quorum verify reads them too.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Updater } from 'tuf-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binOf, type SuccinctRoles } from '../../protocol/delegations.js';
import { loadRepository } from '../../protocol/repository.js';
import { verifyRepository } from '../../protocol/verify.js';
import {
  buildDelegatedRepo,
  contentOf,
  delegations,
  hashPrefix,
  testKey,
  type RepoSpec,
  type TestKey,
} from '../delegated-repo.js';
import { quorumHere } from '../integration/harness.js';
import { TempDirs, runCli, serveFolder, writeTree, type StaticServer } from './helpers.js';

const temps = new TempDirs();
let served: string;
let server: StaticServer;
const NOW = new Date();

beforeAll(async () => {
  served = temps.make('deleg-served');
  server = await serveFolder(served);
}, 180_000);

afterAll(async () => {
  await server?.close();
  temps.cleanup();
});

const BIN_PATHS = Array.from({ length: 12 }, (_, i) => `bins/file-${i}.bin`);
const PATHS = [
  'top.bin',
  'firmware/a.bin',
  'firmware/beta-1.bin',
  'firmware/b.bin', // listed by shadow, but firmware is terminating: nobody finds it
  'docs/readme.txt',
  'hashed/x.bin',
  'hashed/y.bin', // listed by hashed, outside its prefix
  ...BIN_PATHS,
  'bins/not-listed.bin',
  'firmware/sub/c.bin', // more segments than any pattern
  'nowhere',
];

function spec(k: Record<'a' | 'b' | 'c' | 'bins', TestKey>, over: (s: RepoSpec) => void = () => {}): RepoSpec {
  const bins: SuccinctRoles = { keyids: [], threshold: 1, bitLength: 3, namePrefix: 'bin' };
  const s: RepoSpec = {
    dialect: 'tuf',
    now: NOW,
    top: {
      targets: ['top.bin'],
      delegations: delegations('tuf', [
        { name: 'firmware', keys: [k.a, k.b], threshold: 2, terminating: true, paths: ['firmware/*'] },
        { name: 'shadow', keys: [k.c], paths: ['firmware/*', 'docs/*'] },
        { name: 'hashed', keys: [k.c], pathHashPrefixes: [hashPrefix('hashed/x.bin', 3)] },
        { name: 'bins', keys: [k.c], paths: ['bins/*'] },
      ]),
    },
    roles: [
      {
        name: 'firmware',
        targets: ['firmware/a.bin'],
        signers: [k.a, k.b],
        delegations: delegations('tuf', [{ name: 'beta', keys: [k.c], paths: ['firmware/beta-*'] }]),
      },
      { name: 'beta', targets: ['firmware/beta-1.bin'], signers: [k.c] },
      { name: 'shadow', targets: ['firmware/b.bin', 'docs/readme.txt'], signers: [k.c] },
      { name: 'hashed', targets: ['hashed/x.bin', 'hashed/y.bin'], signers: [k.c] },
      {
        name: 'bins',
        targets: [],
        signers: [k.c],
        delegations: delegations('tuf', { keys: [k.bins], bitLength: 3, namePrefix: 'bin' }),
      },
      ...Array.from({ length: 8 }, (_, i) => ({
        name: `bin-${i}`,
        targets: BIN_PATHS.filter((p) => binOf(bins, p) === i),
        signers: [k.bins],
      })),
    ],
  };
  over(s);
  return s;
}

/** Publish under /<name>/ and return the metadata folder. */
function place(name: string, files: Record<string, Buffer>, content: Record<string, Buffer>): string {
  const dir = path.join(served, name);
  writeTree(path.join(dir, 'metadata'), files);
  writeTree(path.join(dir, 'targets'), content);
  return path.join(dir, 'metadata');
}

async function tufJsLookup(name: string, root: Buffer, paths: string[]): Promise<Record<string, string | null>> {
  const metadataDir = temps.make(`deleg-${name}-meta`);
  fs.writeFileSync(path.join(metadataDir, 'root.json'), root);
  const updater = new Updater({
    metadataBaseUrl: `${server.url}/${name}/metadata`,
    targetBaseUrl: `${server.url}/${name}/targets`,
    metadataDir,
    targetDir: temps.make(`deleg-${name}-targets`),
    config: { fetchTimeout: 10_000 },
  });
  await updater.refresh();
  const out: Record<string, string | null> = {};
  for (const p of paths) {
    try {
      const info = await updater.getTargetInfo(p);
      out[p] = info ? String((info.custom as { role?: string }).role) : null;
    } catch (e) {
      out[p] = `refused: ${(e as Error).message.slice(0, 60)}`;
    }
  }
  return out;
}

/** What quorum verify (in process) says: the role that vouches, null, or refused. */
function ourLookup(dir: string, paths: string[]): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const p of paths) {
    const r = verifyRepository(loadRepository(dir, path.join(dir, '1.root.json')), { at: NOW, target: p });
    const t = r.target!;
    out[p] = t.chain ? t.chain[t.chain.length - 1]! : t.refusedBy ? `refused: ${t.refusedBy.role}` : null;
  }
  return out;
}

describe('tuf-js resolves delegated targets from our repository as quorum verify --target does', () => {
  let k: Record<'a' | 'b' | 'c' | 'bins', TestKey>;
  beforeAll(() => {
    k = { a: testKey('ed25519'), b: testKey('ecdsa'), c: testKey('ed25519'), bins: testKey('ed25519') };
  });

  it('paths, a terminating role, a nested role, hash prefixes and hash bins: the same role for every path', async () => {
    const repo = await buildDelegatedRepo(spec(k));
    const dir = place('good', repo.files, repo.content);
    const theirs = await tufJsLookup('good', repo.files['1.root.json']!, PATHS);
    const ours = ourLookup(dir, PATHS);
    expect(ours).toEqual(theirs);
    // The cases are what they claim to be.
    expect(theirs['firmware/beta-1.bin']).toBe('beta');
    expect(theirs['firmware/b.bin']).toBeNull();
    expect(theirs['hashed/x.bin']).toBe('hashed');
    expect(theirs['hashed/y.bin']).toBeNull();
    expect(BIN_PATHS.every((p) => /^bin-[0-7]$/.test(theirs[p]!))).toBe(true);

    // The built CLI, as CI runs it: exit 0 and the chain for a found target, exit 1 for a lost one.
    const found = await runCli([
      'verify',
      dir,
      '--root',
      path.join(dir, '1.root.json'),
      '--target',
      'firmware/beta-1.bin',
    ]);
    expect(found.code).toBe(0);
    expect(found.stdout).toContain('target "firmware/beta-1.bin": vouched for by targets -> firmware -> beta');
    expect(found.stdout).toMatch(/delegated by firmware: beta\.json/);
    const lost = await runCli(['verify', dir, '--root', path.join(dir, '1.root.json'), '--target', 'firmware/b.bin']);
    expect(lost.code).toBe(1);
    expect(lost.stderr).toMatch(/^TARGET_NOT_FOUND: /m);
    // The report's chain, in process (quorumHere): the same command's code and output.
    const json = await quorumHere([
      'verify',
      dir,
      '--root',
      path.join(dir, '1.root.json'),
      '--target',
      BIN_PATHS[0]!,
      '--json',
    ]);
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout) as { target: { chain: string[] }; delegated: { name: string }[] };
    expect(report.target.chain.slice(0, 2)).toEqual(['targets', 'bins']);
    expect(report.delegated).toHaveLength(4 + 1 + 8);
  });

  it('tuf-js downloads a target vouched for by a hash bin, with the exact bytes', async () => {
    const repo = await buildDelegatedRepo(spec(k));
    place('download', repo.files, repo.content);
    const metadataDir = temps.make('deleg-dl-meta');
    const targetDir = temps.make('deleg-dl-targets');
    fs.writeFileSync(path.join(metadataDir, 'root.json'), repo.files['1.root.json']!);
    const updater = new Updater({
      metadataBaseUrl: `${server.url}/download/metadata`,
      targetBaseUrl: `${server.url}/download/targets`,
      metadataDir,
      targetDir,
    });
    await updater.refresh();
    const info = await updater.getTargetInfo(BIN_PATHS[3]!);
    const file = await updater.downloadTarget(info!, path.join(targetDir, 'x'));
    expect(fs.readFileSync(file).equals(contentOf(BIN_PATHS[3]!))).toBe(true);
  });

  it('a role signed by a key it was not delegated: tuf-js refuses the lookup through it, quorum verify too', async () => {
    const stranger = testKey('ed25519');
    const repo = await buildDelegatedRepo(
      spec(k, (s) => {
        s.roles.find((r) => r.name === 'beta')!.signers = [stranger];
      }),
    );
    const dir = place('stranger', repo.files, repo.content);
    const paths = ['firmware/beta-1.bin', 'firmware/a.bin'];
    const theirs = await tufJsLookup('stranger', repo.files['1.root.json']!, paths);
    expect(theirs['firmware/beta-1.bin']).toMatch(/^refused/);
    expect(theirs['firmware/a.bin']).toBe('firmware');
    const ours = ourLookup(dir, paths);
    expect(ours['firmware/beta-1.bin']).toBe('refused: beta');
    expect(ours['firmware/a.bin']).toBe('firmware');
    const cli = await quorumHere(['verify', dir, '--root', path.join(dir, '1.root.json')]);
    expect(cli.code).toBe(1);
    expect(cli.stderr).toMatch(/^THRESHOLD_UNMET: beta\.json: /m);
  });

  it('consistent snapshots: tuf-js asks for <version>.<name>.json, and finds the same roles', async () => {
    const repo = await buildDelegatedRepo(
      spec(k, (s) => {
        s.consistent = true;
        for (const r of s.roles) r.version = 4;
      }),
    );
    const dir = place('consistent', repo.files, repo.content);
    const paths = ['firmware/beta-1.bin', 'docs/readme.txt', BIN_PATHS[5]!, 'firmware/b.bin'];
    const theirs = await tufJsLookup('consistent', repo.files['1.root.json']!, paths);
    expect(server.log).toContain('200 /consistent/metadata/4.beta.json');
    expect(ourLookup(dir, paths)).toEqual(theirs);
  });
});
