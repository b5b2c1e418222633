/**
 * Interop with tuf-js, the JavaScript reference client of The Update Framework, in both directions:
 *
 * 1. A `tuf` repository built and signed by our code (mixed ed25519 / ECDSA P-256 / RSA-PSS keys,
 *    2-of-3 root and targets, a root rotation) is served over loopback HTTP and consumed by the
 *    tuf-js `Updater`, which must accept it and download the exact target bytes; a tampered copy
 *    must be refused by tuf-js and by our verifier alike. `quorum verify` must accept it too.
 * 2. A repository built and signed with @tufjs/models is accepted by `quorum verify` and by
 *    verifyRepository; one that misses its threshold is refused with THRESHOLD_UNMET.
 * 3. tuf-js (like python-tuf and aktualizr) counts key ids rather than keys, so one key listed
 *    under two ids meets a threshold of 2. quorum verify gives the client's verdict (valid) and
 *    warns DUPLICATE_KEY_MATERIAL; the coordinator and signers keep counting distinct keys.
 *
 * Everything runs for real: loopback HTTP, temp folders under os.tmpdir(); `quorum verify` runs in
 * process through its command tree (quorumHere), and once as the built CLI, a child process.
 */
import crypto, { type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { canonicalize as tufCanonicalize } from '@tufjs/canonical-json';
import { Key, Metadata, MetaFile, Root, Signature, Snapshot, TargetFile, Targets, Timestamp } from '@tufjs/models';
import { Role } from '@tufjs/models/dist/role.js';
import { Updater } from 'tuf-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair, type KeyKind } from '../../protocol/keys.js';
import {
  buildRoot,
  buildSnapshot,
  buildTargets,
  buildTimestamp,
  daysFrom,
  localSigner,
  serialize,
  signEnvelope,
  targetFor,
  type Envelope,
  type Signer,
} from '../../protocol/metadata/build.js';
import { loadRepository } from '../../protocol/repository.js';
import { verifyRepository, type VerifyReport } from '../../protocol/verify.js';
import { quorumHere } from '../integration/harness.js';
import { TempDirs, runCli, serveFolder, writeTree, type StaticServer } from './helpers.js';
import { testRsaKey } from '../test-keys.js';

const temps = new TempDirs();
let served: string; // the folder the HTTP server serves; one sub-folder per repository
let server: StaticServer;

/** One key pair of ours, with its Signer. */
interface OurKey {
  kind: KeyKind;
  privateKey: KeyObject;
  signer: Signer;
}
function ourKey(kind: KeyKind, privateKey?: KeyObject): OurKey {
  const pk = privateKey ?? generateKeyPair(kind).privateKey;
  return { kind, privateKey: pk, signer: localSigner(pk) };
}

// RSA generation is slow: two RSA-2048 keys made once (test/test-keys.ts), shared by every repository below.
let rsaA: KeyObject;
let rsaB: KeyObject;

beforeAll(async () => {
  rsaA = testRsaKey('rsa-2048-a');
  rsaB = testRsaKey('rsa-2048-b');
  served = temps.make('served');
  server = await serveFolder(served);
}, 180_000);

afterAll(async () => {
  await server?.close();
  temps.cleanup();
});

function verifyDir(dir: string, trustedRoot: string): VerifyReport {
  return verifyRepository(loadRepository(dir, trustedRoot), { at: new Date() });
}

function codes(report: VerifyReport): string[] {
  return report.errors.map((e) => e.code);
}

/** A fresh tuf-js client for the repository served at `/<name>/`, trusting `trustedRoot`. */
function tufClient(name: string, trustedRoot: Buffer): { updater: Updater; metadataDir: string; targetDir: string } {
  const metadataDir = temps.make(`client-${name}-meta`);
  const targetDir = temps.make(`client-${name}-targets`);
  fs.writeFileSync(path.join(metadataDir, 'root.json'), trustedRoot);
  const updater = new Updater({
    metadataBaseUrl: `${server.url}/${name}/metadata`,
    targetBaseUrl: `${server.url}/${name}/targets`,
    metadataDir,
    targetDir,
    config: { fetchTimeout: 10_000 },
  });
  return { updater, metadataDir, targetDir };
}

// ---------------------------------------------------------------------------------------------
// 1. Our repository, read by tuf-js
// ---------------------------------------------------------------------------------------------

describe('a tuf repository signed by uptane-quorum, consumed by the tuf-js Updater', () => {
  const now = new Date();
  const FIRMWARE = 'firmware-1.0.0.bin';
  const NESTED = 'ecu/brake/calibration-2.json';
  let keys: {
    root: [OurKey, OurKey, OurKey];
    rootNew: OurKey;
    targets: [OurKey, OurKey, OurKey];
    snapshot: OurKey;
    timestamp: OurKey;
  };
  let content: Record<string, Buffer>;
  let good: Record<string, Buffer>; // metadata files by name
  let goodDir: string;

  /** targets.json, snapshot.json and timestamp.json over the given targets envelope. */
  async function publish(
    targetsEnv: Envelope,
    resignSnapshot = true,
    base?: Record<string, Buffer>,
  ): Promise<Record<string, Buffer>> {
    const targetsFile = serialize(targetsEnv);
    if (!resignSnapshot && base) return { ...base, 'targets.json': targetsFile };
    const snapshot = serialize(
      await signEnvelope(buildSnapshot('tuf', 1, daysFrom(now, 30), targetsFile, 1), 'tuf', [keys.snapshot.signer]),
    );
    const timestamp = serialize(
      await signEnvelope(buildTimestamp('tuf', 1, daysFrom(now, 21), snapshot, 1), 'tuf', [keys.timestamp.signer]),
    );
    return { ...(base ?? {}), 'targets.json': targetsFile, 'snapshot.json': snapshot, 'timestamp.json': timestamp };
  }

  function place(name: string, metadata: Record<string, Buffer>, targets: Record<string, Buffer>): string {
    const dir = path.join(served, name);
    writeTree(path.join(dir, 'metadata'), metadata);
    writeTree(path.join(dir, 'targets'), targets);
    return path.join(dir, 'metadata');
  }

  beforeAll(async () => {
    keys = {
      // Mixed algorithms in every multi-key role.
      root: [ourKey('ed25519'), ourKey('ecdsa'), ourKey('rsa', rsaA)],
      rootNew: ourKey('ed25519'),
      targets: [ourKey('ed25519'), ourKey('ecdsa'), ourKey('rsa', rsaB)],
      snapshot: ourKey('ed25519'),
      timestamp: ourKey('ecdsa'),
    };
    const [ed1, ec1, rsa1] = keys.root;
    const roles = (rootKeys: OurKey[]) => ({
      root: { keys: rootKeys.map((k) => k.signer.publicKey), threshold: 2 },
      targets: { keys: keys.targets.map((k) => k.signer.publicKey), threshold: 2 },
      snapshot: { keys: [keys.snapshot.signer.publicKey], threshold: 1 },
      timestamp: { keys: [keys.timestamp.signer.publicKey], threshold: 1 },
    });
    // Root v1: 2-of-3, signed by exactly the threshold (ECDSA + RSA), so both must verify.
    const v1 = buildRoot({ dialect: 'tuf', version: 1, expires: daysFrom(now, 365), roles: roles(keys.root) });
    const root1 = serialize(await signEnvelope(v1, 'tuf', [ec1.signer, rsa1.signer]));
    // Root v2 replaces the ed25519 root key. Signed by ed1 (old only), rsa1 (old and new) and the
    // new key (new only): exactly 2 old and exactly 2 new root keys.
    const v2 = buildRoot({
      dialect: 'tuf',
      version: 2,
      expires: daysFrom(now, 365),
      roles: roles([ec1, rsa1, keys.rootNew]),
    });
    const root2 = serialize(await signEnvelope(v2, 'tuf', [ed1.signer, rsa1.signer, keys.rootNew.signer]));

    content = {
      [FIRMWARE]: crypto.randomBytes(300_000),
      [NESTED]: Buffer.from(JSON.stringify({ ecu: 'brake', table: [1, 2, 3] }) + '\n'),
    };
    const t = buildTargets('tuf', 1, daysFrom(now, 31), {
      [FIRMWARE]: targetFor(content[FIRMWARE]!, { version: '1.0.0', hardwareIds: ['ecu-main'] }),
      [NESTED]: targetFor(content[NESTED]!),
    });
    // Targets 2-of-3 signed by exactly ECDSA + RSA.
    const targetsEnv = await signEnvelope(t, 'tuf', [keys.targets[1].signer, keys.targets[2].signer]);
    good = await publish(targetsEnv, true, { '1.root.json': root1, '2.root.json': root2, 'root.json': root2 });
    goodDir = place('good', good, content);
  });

  it('tuf-js refreshes through the root rotation to version 2 and downloads the exact target bytes', async () => {
    const { updater, metadataDir } = tufClient('good', good['1.root.json']!);
    await updater.refresh();

    // tuf-js persisted the newest trusted root: version 2, byte-identical to what we served.
    const trusted = fs.readFileSync(path.join(metadataDir, 'root.json'));
    expect(JSON.parse(trusted.toString('utf8')).signed.version).toBe(2);
    expect(trusted.equals(good['2.root.json']!)).toBe(true);
    // It walked the chain the TUF way: 2.root.json found, 3.root.json probed and absent.
    expect(server.log).toContain('200 /good/metadata/2.root.json');
    expect(server.log).toContain('404 /good/metadata/3.root.json');
    for (const f of ['timestamp.json', 'snapshot.json', 'targets.json']) {
      expect(fs.readFileSync(path.join(metadataDir, f)).equals(good[f]!)).toBe(true);
    }

    for (const name of [FIRMWARE, NESTED]) {
      const info = await updater.getTargetInfo(name);
      expect(info, `tuf-js found no target ${name}`).toBeDefined();
      expect(info!.length).toBe(content[name]!.length);
      const file = await updater.downloadTarget(info!);
      expect(fs.readFileSync(file).equals(content[name]!)).toBe(true);
    }
    expect((await updater.getTargetInfo(FIRMWARE))!.custom).toEqual({ version: '1.0.0', hardwareIds: ['ecu-main'] });
    expect(await updater.getTargetInfo('not-a-target.bin')).toBeUndefined();
  });

  it('quorum verify (CLI) accepts the same folder with the v1 root as trust anchor', async () => {
    // As shipped: the built CLI (dist/, built by the global setup) as a process; the other verdicts
    // of this file run in process (quorumHere), the same command's code and output.
    const r = await runCli(['verify', goodDir, '--root', path.join(goodDir, '1.root.json')]);
    expect(r.stderr).not.toMatch(/^[A-Z_]+: /m); // no error lines
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/root chain: 1 -> 2/);
    expect(r.stdout).toMatch(/^OK: verified/m);
    const report = verifyDir(goodDir, path.join(goodDir, '1.root.json'));
    expect(report.errors).toEqual([]);
    expect(report.ok).toBe(true);
  });

  it(
    'a snapshot that also lists root.json, as older TUF tooling wrote it, still naming root v1 after the ' +
      'rotation: tuf-js downloads, quorum verify passes with SNAPSHOT_LISTS_ROOT',
    async () => {
      // python-tuf's legacy repository tool listed root.json in snapshot meta; TUF 1.0 clients never
      // look at that entry (client workflow 5.5), so once root rotates it is stale and harmless.
      const root1 = good['1.root.json']!;
      const stale = {
        version: 1,
        length: root1.length,
        hashes: { sha256: crypto.createHash('sha256').update(root1).digest('hex') },
      };
      const snapshotBody = buildSnapshot('tuf', 1, daysFrom(now, 30), good['targets.json']!, 1);
      Object.assign(snapshotBody.meta as Record<string, unknown>, { 'root.json': stale, '1.root.json': stale });
      const snapshot = serialize(await signEnvelope(snapshotBody, 'tuf', [keys.snapshot.signer]));
      const timestamp = serialize(
        await signEnvelope(buildTimestamp('tuf', 1, daysFrom(now, 21), snapshot, 1), 'tuf', [keys.timestamp.signer]),
      );
      const files = { ...good, 'snapshot.json': snapshot, 'timestamp.json': timestamp };
      const dir = place('snapshot-lists-root', files, content);

      const { updater, metadataDir } = tufClient('snapshot-lists-root', root1);
      await updater.refresh();
      expect(JSON.parse(fs.readFileSync(path.join(metadataDir, 'root.json'), 'utf8')).signed.version).toBe(2);
      const info = await updater.getTargetInfo(FIRMWARE);
      expect(fs.readFileSync(await updater.downloadTarget(info!)).equals(content[FIRMWARE]!)).toBe(true);

      const report = verifyDir(dir, path.join(dir, '1.root.json'));
      expect(report.errors).toEqual([]);
      expect(report.ok).toBe(true);
      const warnings = report.warnings.filter((w) => w.code === 'SNAPSHOT_LISTS_ROOT');
      expect(warnings.map((w) => w.file)).toEqual(['snapshot.json', 'snapshot.json']);
      expect(warnings.find((w) => w.message.startsWith('meta names root.json'))!.message).toContain(
        'with another version, length, hash than root.json has',
      );
      const cli = await quorumHere(['verify', dir, '--root', path.join(dir, '1.root.json')]);
      expect(cli.code).toBe(0);
      expect(cli.stderr).toMatch(/^warning: SNAPSHOT_LISTS_ROOT: snapshot\.json: meta names root\.json/m);
    },
  );

  it(
    'negative control: targets.json changed after signing (snapshot and timestamp re-signed over it) is refused ' +
      'by tuf-js and by us',
    async () => {
      // Point the firmware at other content. Snapshot and timestamp are honestly re-signed over the
      // changed file, so the only thing wrong is the targets signatures.
      const evil = Buffer.from('not the firmware the targets keys signed\n');
      const env = JSON.parse(good['targets.json']!.toString('utf8')) as Envelope;
      (env.signed.targets as Record<string, unknown>)[FIRMWARE] = targetFor(evil, {
        version: '1.0.0',
        hardwareIds: ['ecu-main'],
      });
      const files = await publish(env, true, {
        '1.root.json': good['1.root.json']!,
        '2.root.json': good['2.root.json']!,
        'root.json': good['root.json']!,
      });
      const dir = place('tampered-resigned', files, { ...content, [FIRMWARE]: evil });

      const { updater, targetDir } = tufClient('tampered-resigned', good['1.root.json']!);
      await expect(updater.refresh()).rejects.toThrow(/targets was signed by 0\/2 keys/);
      expect(fs.readdirSync(targetDir)).toEqual([]);

      const report = verifyDir(dir, path.join(dir, '1.root.json'));
      expect(report.ok).toBe(false);
      expect(codes(report)).toContain('SIGNATURE_INVALID');
      expect(codes(report)).toContain('THRESHOLD_UNMET');
      expect(report.errors.filter((e) => e.code === 'SIGNATURE_INVALID').every((e) => e.file === 'targets.json')).toBe(
        true,
      );
      const cli = await quorumHere(['verify', dir, '--root', path.join(dir, '1.root.json')]);
      expect(cli.code).toBe(1);
      expect(cli.stderr).toMatch(/^SIGNATURE_INVALID: targets\.json: /m);
    },
  );

  it('negative control: targets.json changed after signing, snapshot left alone, is refused by tuf-js and by us', async () => {
    const env = JSON.parse(good['targets.json']!.toString('utf8')) as Envelope;
    (env.signed.targets as Record<string, { length: number }>)[NESTED]!.length += 1;
    const files = await publish(env, false, good);
    const dir = place('tampered', files, content);

    const { updater } = tufClient('tampered', good['1.root.json']!);
    // The snapshot's length/hash check trips first in tuf-js.
    await expect(updater.refresh()).rejects.toThrow(/Unable to load targets/);

    const report = verifyDir(dir, path.join(dir, '1.root.json'));
    expect(report.ok).toBe(false);
    expect(codes(report)).toContain('SIGNATURE_INVALID');
    expect(codes(report)).toContain('META_HASH_MISMATCH');
  });
});

// ---------------------------------------------------------------------------------------------
// 2. A repository written by @tufjs/models, read by us
// ---------------------------------------------------------------------------------------------

/** A key as @tufjs/models holds it, with the private half to sign with. */
interface ModelKey {
  key: Key;
  privateKey: KeyObject;
}

/** Key id as the TUF spec and python-tuf compute it: sha256 of the canonical key object. */
function tufKeyId(keytype: string, scheme: string, pub: string): string {
  return crypto
    .createHash('sha256')
    .update(tufCanonicalize({ keytype, scheme, keyval: { public: pub } }))
    .digest('hex');
}

function modelKey(privateKey: KeyObject, form: 'default' | 'pem' = 'default'): ModelKey {
  const pubKey = crypto.createPublicKey(privateKey);
  const pem = pubKey.export({ format: 'pem', type: 'spki' }).toString();
  let keytype: string;
  let scheme: string;
  let pub: string;
  switch (privateKey.asymmetricKeyType) {
    case 'ed25519':
      keytype = 'ed25519';
      scheme = 'ed25519';
      pub = form === 'pem' ? pem : pubKey.export({ format: 'der', type: 'spki' }).subarray(12).toString('hex');
      break;
    case 'ec':
      keytype = 'ecdsa';
      scheme = 'ecdsa-sha2-nistp256';
      pub = pem;
      break;
    case 'rsa':
      keytype = 'rsa';
      scheme = 'rsassa-pss-sha256';
      pub = pem;
      break;
    default:
      throw new Error(`unexpected key type ${privateKey.asymmetricKeyType}`);
  }
  const key = new Key({ keyID: tufKeyId(keytype, scheme, pub), keyType: keytype, scheme, keyVal: { public: pub } });
  return { key, privateKey };
}

/** A @tufjs/models signer (`Metadata.sign` hands it the canonical bytes) built on node:crypto. */
function modelSigner(mk: ModelKey): (data: Buffer) => Signature {
  return (data) => {
    let sig: Buffer;
    switch (mk.privateKey.asymmetricKeyType) {
      case 'ed25519':
        sig = crypto.sign(null, data, mk.privateKey);
        break;
      case 'ec':
        sig = crypto.sign('sha256', data, { key: mk.privateKey, dsaEncoding: 'der' });
        break;
      default:
        sig = crypto.sign('sha256', data, {
          key: mk.privateKey,
          padding: crypto.constants.RSA_PKCS1_PSS_PADDING,
          saltLength: crypto.constants.RSA_PSS_SALTLEN_MAX_SIGN,
        });
    }
    return new Signature({ keyID: mk.key.keyID, sig: sig.toString('hex') });
  };
}

function expiresIn(days: number): string {
  return new Date(Date.now() + days * 86_400_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function metadataBytes(md: Metadata<Root | Targets | Snapshot | Timestamp>): Buffer {
  return Buffer.from(JSON.stringify(md.toJSON(), null, 2) + '\n');
}

interface ModelRepoSpec {
  rootKeys: ModelKey[];
  rootThreshold: number;
  targetsKeys: ModelKey[];
  targetsThreshold: number;
  /** Who signs targets.json (defaults to every targets key). */
  targetsSigners?: ModelKey[];
  snapshotKey: ModelKey;
  timestampKey: ModelKey;
}

interface ModelRepo {
  files: Record<string, Buffer>;
  root: Metadata<Root>;
  targets: Metadata<Targets>;
  content: Record<string, Buffer>;
}

/** A complete repository built and signed entirely by @tufjs/models. */
function buildModelRepo(spec: ModelRepoSpec): ModelRepo {
  const role = (ks: ModelKey[], threshold: number) => new Role({ keyIDs: ks.map((k) => k.key.keyID), threshold });
  const root = new Metadata(
    new Root({
      version: 1,
      specVersion: '1.0.31',
      expires: expiresIn(365),
      consistentSnapshot: false,
      roles: {
        root: role(spec.rootKeys, spec.rootThreshold),
        targets: role(spec.targetsKeys, spec.targetsThreshold),
        snapshot: role([spec.snapshotKey], 1),
        timestamp: role([spec.timestampKey], 1),
      },
    }),
  );
  for (const k of [...spec.rootKeys, ...spec.targetsKeys, spec.snapshotKey, spec.timestampKey])
    root.signed.keys[k.key.keyID] = k.key;
  for (const k of spec.rootKeys) root.sign(modelSigner(k));

  const content = { 'app-2.1.0.tar': crypto.randomBytes(4096) };
  const targets = new Metadata(new Targets({ version: 1, specVersion: '1.0.31', expires: expiresIn(60) }));
  for (const [p, bytes] of Object.entries(content)) {
    targets.signed.addTarget(
      new TargetFile({
        path: p,
        length: bytes.length,
        hashes: { sha256: crypto.createHash('sha256').update(bytes).digest('hex') },
        unrecognizedFields: { custom: { release: 'stable' } },
      }),
    );
  }
  for (const k of spec.targetsSigners ?? spec.targetsKeys) targets.sign(modelSigner(k));
  const targetsFile = metadataBytes(targets);

  const metaFor = (bytes: Buffer) =>
    new MetaFile({
      version: 1,
      length: bytes.length,
      hashes: { sha256: crypto.createHash('sha256').update(bytes).digest('hex') },
    });
  const snapshot = new Metadata(
    new Snapshot({
      version: 1,
      specVersion: '1.0.31',
      expires: expiresIn(30),
      meta: { 'targets.json': metaFor(targetsFile) },
    }),
  );
  snapshot.sign(modelSigner(spec.snapshotKey));
  const snapshotFile = metadataBytes(snapshot);
  const timestamp = new Metadata(
    new Timestamp({ version: 1, specVersion: '1.0.31', expires: expiresIn(20), snapshotMeta: metaFor(snapshotFile) }),
  );
  timestamp.sign(modelSigner(spec.timestampKey));

  const rootFile = metadataBytes(root);
  return {
    files: {
      '1.root.json': rootFile,
      'root.json': rootFile,
      'targets.json': targetsFile,
      'snapshot.json': snapshotFile,
      'timestamp.json': metadataBytes(timestamp),
    },
    root,
    targets,
    content,
  };
}

describe('a tuf repository signed by @tufjs/models, verified by uptane-quorum', () => {
  let edRoot: ModelKey;
  let ecRoot: ModelKey;
  let rsaRoot: ModelKey;
  let edTargets: ModelKey;
  let ecTargets: ModelKey;
  let snapshotKey: ModelKey;
  let timestampKey: ModelKey;

  beforeAll(() => {
    edRoot = modelKey(crypto.generateKeyPairSync('ed25519').privateKey);
    ecRoot = modelKey(crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey);
    rsaRoot = modelKey(rsaA);
    edTargets = modelKey(crypto.generateKeyPairSync('ed25519').privateKey);
    ecTargets = modelKey(crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey);
    snapshotKey = modelKey(crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey);
    timestampKey = modelKey(crypto.generateKeyPairSync('ed25519').privateKey);
  });

  function writeRepo(name: string, files: Record<string, Buffer>): string {
    const dir = temps.make(name);
    writeTree(dir, files);
    return dir;
  }

  it('is accepted by quorum verify (CLI) and verifyRepository', async () => {
    // Root 3-of-3 (ed25519, ECDSA, RSA-PSS with maximum salt) and targets 2-of-2 (ed25519, ECDSA):
    // every signature must verify for the thresholds to be met.
    const repo = buildModelRepo({
      rootKeys: [edRoot, ecRoot, rsaRoot],
      rootThreshold: 3,
      targetsKeys: [edTargets, ecTargets],
      targetsThreshold: 2,
      snapshotKey,
      timestampKey,
    });
    // Sanity: @tufjs/models itself accepts what it wrote.
    expect(() => repo.root.verifyDelegate('root', repo.root)).not.toThrow();
    expect(() => repo.root.verifyDelegate('targets', repo.targets)).not.toThrow();
    const dir = writeRepo('models-good', repo.files);

    const r = await quorumHere(['verify', dir, '--root', path.join(dir, '1.root.json')]);
    expect(r.stderr).not.toMatch(/^[A-Z_]+: /m);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/dialect tuf/);
    expect(r.stdout).toMatch(/targets\.json: version 1, .*1 targets, 2\/2 targets keys signed/);
    expect(r.stdout).toMatch(/^OK: verified/m);

    const report = verifyDir(dir, path.join(dir, '1.root.json'));
    expect(report.errors).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.rootChain[0]!.self.signedBy).toHaveLength(3);
  });

  it('negative: targets threshold 2 with one signature → quorum verify exits 1 with THRESHOLD_UNMET', async () => {
    const repo = buildModelRepo({
      rootKeys: [edRoot, ecRoot],
      rootThreshold: 2,
      targetsKeys: [edTargets, ecTargets],
      targetsThreshold: 2,
      targetsSigners: [edTargets],
      snapshotKey,
      timestampKey,
    });
    // tuf-js agrees here.
    expect(() => repo.root.verifyDelegate('targets', repo.targets)).toThrow(/signed by 1\/2 keys/);
    const dir = writeRepo('models-threshold', repo.files);

    const r = await quorumHere(['verify', dir, '--root', path.join(dir, '1.root.json')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^THRESHOLD_UNMET: targets\.json: /m);
    expect(r.stdout).toMatch(/^FAILED: /m);
    const report = verifyDir(dir, path.join(dir, '1.root.json'));
    expect(report.ok).toBe(false);
    expect(codes(report)).toContain('THRESHOLD_UNMET');
  });

  // -------------------------------------------------------------------------------------------
  // 3. Deliberate disagreement: tuf-js counts key ids, we count keys
  // -------------------------------------------------------------------------------------------

  it(
    'one ed25519 key under two key ids meets threshold 2 in tuf-js; verifyRepository agrees and warns ' +
      'DUPLICATE_KEY_MATERIAL',
    async () => {
      // The same key written as raw hex and as PEM: two honest key objects, two different key ids.
      const dupPriv = crypto.generateKeyPairSync('ed25519').privateKey;
      const asHex = modelKey(dupPriv);
      const asPem = modelKey(dupPriv, 'pem');
      expect(asHex.key.keyID).not.toBe(asPem.key.keyID);
      const repo = buildModelRepo({
        rootKeys: [edRoot],
        rootThreshold: 1,
        targetsKeys: [asHex, asPem],
        targetsThreshold: 2,
        snapshotKey,
        timestampKey,
      });
      expect(repo.targets.signatures[asHex.key.keyID]).toBeDefined();
      expect(repo.targets.signatures[asPem.key.keyID]).toBeDefined();

      // @tufjs/models accepts it: it counts the two ids as two keys.
      expect(() => repo.root.verifyDelegate('targets', repo.targets)).not.toThrow();
      // ...and only because of the double count: one of the two ids alone stays below threshold.
      const single = new Metadata(repo.targets.signed, {
        [asHex.key.keyID]: repo.targets.signatures[asHex.key.keyID]!,
      });
      expect(() => repo.root.verifyDelegate('targets', single)).toThrow(/signed by 1\/2 keys/);

      // The live tuf-js client accepts it end to end as well.
      const base = path.join(served, 'dupkey');
      writeTree(path.join(base, 'metadata'), repo.files);
      writeTree(path.join(base, 'targets'), repo.content);
      const { updater } = tufClient('dupkey', repo.files['1.root.json']!);
      await updater.refresh();
      const info = await updater.getTargetInfo('app-2.1.0.tar');
      expect(info).toBeDefined();

      // The client's verdict: valid, with a warning that one key was counted twice.
      const dir = path.join(base, 'metadata');
      const report = verifyDir(dir, path.join(dir, '1.root.json'));
      expect(report.ok).toBe(true);
      expect(report.warnings.filter((w) => w.code === 'DUPLICATE_KEY_MATERIAL').map((w) => w.file)).toEqual([
        'targets.json',
      ]);
      const r = await quorumHere(['verify', dir, '--root', path.join(dir, '1.root.json')]);
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(/^warning: DUPLICATE_KEY_MATERIAL: targets\.json: /m);
    },
  );
});
