/**
 * Keys on a PKCS#11 token, against a real SoftHSM2 token initialised per run in a temporary
 * folder (SOFTHSM2_CONF), with the real `quorum` and `quorum-signer` processes: the token Signer's
 * signatures for all three algorithms; a tuf repository whose root and targets are signed by
 * Ed25519 and ECDSA token keys (online and offline); an ota repository signed by RSA-PSS and
 * Ed25519 token keys (one through `watch`); and the failures (wrong PIN, missing key, removed
 * token, unsupported key or mechanism), each a clear code after which the round still takes the
 * signature. SoftHSM2 and OpenSC's pkcs11-tool are required: without them this file fails, it
 * does not skip (.ci/run installs them).
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalize } from '../../protocol/canonical.js';
import { QuorumError } from '../../protocol/errors.js';
import { verifySignature } from '../../protocol/keys.js';
import type { RoundInfo } from '../../protocol/wire.js';
import {
  formatPkcs11Uri,
  generateTokenKey,
  listTokenKeys,
  openTokenSigner,
  parsePkcs11Uri,
  type TokenKey,
} from '../../signer-client/pkcs11.js';
import {
  Coordinator,
  keygenHere,
  located,
  quorumHere,
  type RunResult,
  signer,
  signerHere,
  tmpdir,
  until,
  Watcher,
} from './harness.js';

const MODULE = '/usr/lib/softhsm/libsofthsm2.so';
const PIN = '1234';
const pin = async () => PIN;

/** The token folder; `removeToken` moves it away as if the token were unplugged. */
let T = '';
const tokens = () => path.join(T, 'tokens');

function requireTool(cmd: string, pkg: string): void {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'pipe' });
  } catch {
    throw new Error(
      `${cmd} not found: the PKCS#11 tests need ${pkg} (apt-get install -y softhsm2 opensc; .ci/run installs ` +
        'them). They fail rather than skip.',
    );
  }
}

function removeToken(): void {
  fs.renameSync(tokens(), path.join(T, 'tokens-unplugged'));
  fs.mkdirSync(tokens());
}

function restoreToken(): void {
  fs.rmdirSync(tokens());
  fs.renameSync(path.join(T, 'tokens-unplugged'), tokens());
}

/** A key made by OpenSC's pkcs11-tool, not by us: for keys and mechanisms we must refuse clearly. */
function toolKey(label: string, keyType: string, extra: string[] = []): string {
  execFileSync(
    'pkcs11-tool',
    [
      '--module',
      MODULE,
      '--token-label',
      'test',
      '--login',
      '--pin',
      PIN,
      '--keypairgen',
      '--key-type',
      keyType,
      '--label',
      label,
      ...extra,
    ],
    { stdio: 'pipe' },
  );
  return `pkcs11:token=test;object=${label};type=private`;
}

const codeOf = (r: RunResult) => /^([A-Z][A-Z0-9_]+): /m.exec(r.stderr)?.[1];

/** Why the token cannot be set up (tools missing), or null. Reported as a failing test, not a skip. */
let missing: string | null = null;
const needToken = () => {
  if (missing) throw new Error(missing);
};

beforeAll(() => {
  try {
    requireTool('softhsm2-util', 'SoftHSM2 (Debian package softhsm2)');
    requireTool('pkcs11-tool', "OpenSC's pkcs11-tool (Debian package opensc)");
    if (!fs.existsSync(MODULE))
      throw new Error(`${MODULE} is missing: install softhsm2 (apt-get install -y softhsm2 opensc)`);
  } catch (e) {
    missing = (e as Error).message;
    return;
  }
  T = tmpdir('quorum-pkcs11-');
  fs.mkdirSync(tokens());
  const conf = path.join(T, 'softhsm2.conf');
  fs.writeFileSync(conf, `directories.tokendir = ${tokens()}\nobjectstore.backend = file\nlog.level = ERROR\n`);
  // This worker and every child process it starts see only this token.
  process.env.SOFTHSM2_CONF = conf;
  process.env.QUORUM_PIN = PIN;
  execFileSync('softhsm2-util', ['--init-token', '--free', '--label', 'test', '--pin', PIN, '--so-pin', '5678'], {
    stdio: 'pipe',
  });
});

afterAll(() => {
  if (T) fs.rmSync(T, { recursive: true, force: true });
});

it('has SoftHSM2 and pkcs11-tool to test against', () => {
  expect(missing, missing ?? '').toBeNull();
});

describe('the token Signer', () => {
  const keys: Record<string, TokenKey> = {};
  beforeAll(async () => {
    needToken();
    for (const type of ['ed25519', 'ecdsa', 'rsa'] as const)
      keys[type] = await generateTokenKey({ module: MODULE, token: 'test', label: `unit-${type}`, type, pin });
  });

  it('signs with Ed25519, ECDSA P-256 and RSA-PSS; every signature verifies with protocol/keys.ts', async () => {
    for (const [type, k] of Object.entries(keys)) {
      // both ways: hashed here (CKM_ECDSA, CKM_RSA_PKCS_PSS) and hashed on the token (_SHA256 variants)
      for (const preferTokenHash of [false, true]) {
        const s = await openTokenSigner({ module: MODULE, uri: k.uri, pin, preferTokenHash });
        try {
          expect(s.publicKey.fingerprint).toBe(k.publicKey!.fingerprint);
          for (let i = 0; i < 3; i++) {
            const data = crypto.randomBytes(100 + i);
            const sig = await s.sign(data);
            expect(verifySignature(s.publicKey, data, sig), `${type} ${preferTokenHash}`).toBe(true);
            expect(verifySignature(s.publicKey, Buffer.concat([data, Buffer.from([0])]), sig)).toBe(false);
            if (type === 'ecdsa') expect(sig[0]).toBe(0x30); // DER, as metadata carries it
            if (type === 'rsa') {
              // salt length 32, what ota-tuf and securesystemslib write and expect
              const opts = (saltLength: number) => ({
                key: s.publicKey.keyObject,
                padding: crypto.constants.RSA_PKCS1_PSS_PADDING,
                saltLength,
              });
              expect(crypto.verify('sha256', data, opts(32), sig)).toBe(true);
              expect(crypto.verify('sha256', data, opts(256 - 32 - 2), sig)).toBe(false);
            }
          }
        } finally {
          s.close();
        }
      }
    }
  });

  it('parses and writes RFC 7512 URIs', () => {
    const uri = formatPkcs11Uri({ token: 'my token;1', object: 'key/é', id: Buffer.from([0, 0xff, 0x25]) });
    expect(uri).toBe('pkcs11:token=my%20token%3B1;object=key%2F%C3%A9;id=%00%ff%25;type=private');
    expect(parsePkcs11Uri(uri)).toEqual({
      token: 'my token;1',
      object: 'key/é',
      id: Buffer.from([0, 0xff, 0x25]),
      type: 'private',
    });
    expect(parsePkcs11Uri(`pkcs11:object=a?module-path=${MODULE}`)['module-path']).toBe(MODULE);
    for (const bad of [
      'pkcs12:token=a',
      'pkcs11:token=a;token=b',
      'pkcs11:x-vendor=1',
      'pkcs11:object=a;type=cert',
      'pkcs11:object=a?pin-value=1234',
      'pkcs11:id=%zz',
    ]) {
      expect(() => parsePkcs11Uri(bad), bad).toThrow(expect.objectContaining({ code: 'USAGE' }));
    }
  });

  it('names each failure with a code, and works again once the problem is fixed', async () => {
    const code = async (p: Promise<unknown>) =>
      p.then(
        () => 'no error',
        (e: unknown) => (e instanceof QuorumError ? e.code : String(e)),
      );
    expect(await code(openTokenSigner({ module: MODULE, uri: keys.ed25519!.uri, pin: async () => '0000' }))).toBe(
      'TOKEN_PIN',
    );
    expect(await code(openTokenSigner({ module: MODULE, uri: 'pkcs11:token=test;object=no-such-key', pin }))).toBe(
      'TOKEN_KEY_MISSING',
    );
    expect(
      await code(openTokenSigner({ module: MODULE, uri: 'pkcs11:token=no-such-token;object=unit-ed25519', pin })),
    ).toBe('TOKEN_NOT_PRESENT');
    expect(
      await code(openTokenSigner({ module: path.join(T, 'no-such-module.so'), uri: keys.ed25519!.uri, pin })),
    ).toBe('TOKEN_MODULE');
    expect(
      await code(
        openTokenSigner({ module: MODULE, uri: keys.ed25519!.uri, pin, fingerprint: keys.rsa!.publicKey!.fingerprint }),
      ),
    ).toBe('TOKEN_KEY_CHANGED');
    // a key type we cannot use, and a key the token will not use with our mechanism
    expect(await code(openTokenSigner({ module: MODULE, uri: toolKey('unit-p384', 'EC:secp384r1'), pin }))).toBe(
      'TOKEN_MECHANISM',
    );
    const pkcs1Only = await openTokenSigner({
      module: MODULE,
      uri: toolKey('unit-rsa-pkcs1-only', 'rsa:2048', ['--allowed-mechanisms', 'RSA-PKCS']),
      pin,
    });
    expect(await code(pkcs1Only.sign(Buffer.from('data')))).toBe('TOKEN_MECHANISM');
    pkcs1Only.close();
    expect(
      await code(generateTokenKey({ module: MODULE, token: 'test', label: 'unit-ed25519', type: 'ed25519', pin })),
    ).toBe('TOKEN_KEY_EXISTS');

    // unplugged while a signer holds a session (as in watch), then plugged back in: the same Signer signs
    const s = await openTokenSigner({ module: MODULE, uri: keys.ecdsa!.uri, pin });
    const data = Buffer.from('before, during and after');
    expect(verifySignature(s.publicKey, data, await s.sign(data))).toBe(true);
    removeToken();
    try {
      expect(await code(s.sign(data))).toBe('TOKEN_NOT_PRESENT');
      expect(await code(s.sign(data))).toBe('TOKEN_NOT_PRESENT');
    } finally {
      restoreToken();
    }
    expect(verifySignature(s.publicKey, data, await s.sign(data))).toBe(true);
    s.close();

    const listed = await listTokenKeys({ module: MODULE, token: 'test', pin });
    expect(listed.find((k) => k.label === 'unit-p384')).toMatchObject({
      unsupported: expect.stringMatching(/secp384r1/),
    });
    expect(listed.find((k) => k.label === 'unit-ed25519')).toMatchObject({
      algorithm: 'ed25519',
      uri: keys.ed25519!.uri,
    });
  });
});

interface TokenRepo {
  dialect: 'ota' | 'tuf';
  dir: string;
  dataDir: string;
  coordinator: Coordinator;
  homes: Record<string, string>;
  /** keyholder -> pkcs11: URI (token keyholders only) */
  uris: Record<string, string>;
}

/**
 * Like harness.newRepo, but keyholders whose type starts with `token:` keep their key on the
 * token: `quorum-signer token keygen`, `token export-public`, `quorum init --keyholder name=pem`,
 * `quorum-signer join --token-key URI --module M`. With `tokenProcesses` (the tuf repository) the
 * token commands are real processes, the whole path a keyholder takes; without (the ota
 * repository, whose tests are about signing) they run in this process through the command tree
 * (signerHere: the same code, token and files). keygen, init and a key file's join always run in
 * this process (signerHere, quorumHere), as in harness.newRepo.
 */
async function newTokenRepo(
  dialect: 'ota' | 'tuf',
  keyholders: Record<string, string>,
  thresholds: { root: number; targets: number },
  tokenProcesses: boolean,
): Promise<TokenRepo> {
  const tokenCommand = tokenProcesses ? signer : signerHere;
  const dir = tmpdir('quorum-pkcs11-repo-');
  const dataDir = path.join(dir, 'data');
  const homes: Record<string, string> = {};
  const uris: Record<string, string> = {};
  for (const [name, type] of Object.entries(keyholders)) {
    homes[name] = path.join(dir, `home-${name}`);
    const pem = path.join(dir, `${name}.pub.pem`);
    if (type.startsWith('token:')) {
      const g = await tokenCommand([
        'token',
        'keygen',
        '--module',
        MODULE,
        '--token',
        'test',
        '--label',
        `${dialect}-${name}`,
        '--type',
        type.slice('token:'.length),
        '--json',
      ]);
      expect(g.code, g.stderr).toBe(0);
      uris[name] = (JSON.parse(g.stdout) as { uri: string }).uri;
      const e = await tokenCommand(['token', 'export-public', '--module', MODULE, '--key', uris[name]!, '--out', pem]);
      expect(e.code, e.stderr).toBe(0);
    } else {
      const g = await keygenHere(dir, name, type);
      expect(g.code, g.stderr).toBe(0);
    }
  }
  const names = Object.keys(keyholders);
  const init = await quorumHere([
    'init',
    '--data-dir',
    dataDir,
    '--dialect',
    dialect,
    ...names.flatMap((k) => ['--keyholder', `${k}=${path.join(dir, `${k}.pub.pem`)}`]),
    '--root-keyholders',
    names.join(','),
    '--root-threshold',
    String(thresholds.root),
    '--targets-threshold',
    String(thresholds.targets),
  ]);
  expect(init.code, init.stderr).toBe(0);
  const coordinator = await new Coordinator(dataDir).start();
  for (const k of names) {
    const how = uris[k] ? ['--token-key', uris[k]!, '--module', MODULE] : ['--key', path.join(dir, `${k}.key.json`)];
    // a key file's join in this process (set-up); a token key's join opens the token: a real process
    // in the tuf repository
    const join = uris[k] ? tokenCommand : signerHere;
    const j = await join(['join', coordinator.url, ...how, '--home', homes[k]!, '--trust-first-root']);
    expect(j.code, j.stderr).toBe(0);
  }
  return { dialect, dir, dataDir, coordinator, homes, uris };
}

const current = (r: TokenRepo) => path.join(r.dataDir, 'releases', 'current');

async function verifyRelease(r: TokenRepo): Promise<string> {
  const v = await quorumHere(['verify', current(r), '--root', path.join(current(r), '1.root.json')]);
  expect(v.code, v.stdout + v.stderr).toBe(0);
  return v.stdout;
}

let fw = 0;
async function openTargets(r: TokenRepo, reason: string): Promise<string> {
  const file = path.join(r.dir, `fw-${++fw}.bin`);
  fs.writeFileSync(file, `firmware ${fw}\n`);
  const o = await quorumHere([
    'round',
    'open',
    'targets',
    '--data-dir',
    r.dataDir,
    '--reason',
    reason,
    '--add',
    file,
    '--name',
    'fw',
    '--version',
    `${fw}.0`,
    '--hardware-id',
    'ecu-a',
    ...located(r.dialect),
    '--json',
  ]);
  expect(o.code, o.stderr).toBe(0);
  return (JSON.parse(o.stdout) as RoundInfo).id;
}

async function round(r: TokenRepo, id: string): Promise<RoundInfo> {
  const s = await quorumHere(['round', 'status', id, '--json', '--data-dir', r.dataDir]);
  expect(s.code, s.stderr).toBe(0);
  return (JSON.parse(s.stdout) as { round: RoundInfo }).round;
}

const signedBy = (info: RoundInfo) => [...new Set(info.progress.flatMap((p) => p.signed))].sort();

async function sign(r: TokenRepo, who: string, id: string, env?: Record<string, string>): Promise<RunResult> {
  return signer(['sign', id, '--yes', '--home', r.homes[who]!], { env });
}

/**
 * `quorum-signer sign` as each of `who`, one after another. Not at once: the keyholders here share one
 * SoftHSM2 token folder, and SoftHSM2 processes opening the same file token at the same time can find
 * it half written and report no token at all ("Token integrity check failed", SoftHSMv2 issue 757;
 * seen here as TOKEN_NOT_PRESENT in a loaded run). Real keyholders each have their own token.
 */
async function signAll(r: TokenRepo, who: string[], id: string): Promise<RunResult[]> {
  const results: RunResult[] = [];
  for (const k of who) results.push(await sign(r, k, id));
  return results;
}

describe('a tuf repository with Ed25519 and ECDSA keys on the token', () => {
  let r: TokenRepo;
  beforeAll(async () => {
    needToken();
    r = await newTokenRepo(
      'tuf',
      { ed: 'token:ed25519', ec: 'token:ecdsa', file: 'ed25519' },
      { root: 2, targets: 2 },
      true,
    );
  });
  afterAll(async () => {
    await r?.coordinator.kill();
    if (r) fs.rmSync(r.dir, { recursive: true, force: true });
  });

  it('lists the token keys with their key ids in both dialects', async () => {
    const l = await signerHere(['token', 'list', '--module', MODULE, '--token', 'test', '--json']);
    expect(l.code, l.stderr).toBe(0);
    const listed = JSON.parse(l.stdout) as {
      label: string;
      uri: string;
      algorithm: string;
      keyIds: { ota: string; tuf: string };
    }[];
    const ec = listed.find((k) => k.uri === r.uris.ec)!;
    expect(ec).toMatchObject({ label: 'tuf-ec', algorithm: 'ecdsa-p256', keyIds: { ota: 'not usable in ota' } });
    expect(listed.find((k) => k.uri === r.uris.ed)).toMatchObject({
      algorithm: 'ed25519',
      keyIds: { ota: expect.stringMatching(/^[0-9a-f]{64}$/) },
    });
    const text = await signerHere(['token', 'list', '--module', MODULE]);
    expect(text.stdout).toContain(r.uris.ed);
    expect(text.stdout).toContain(ec.keyIds.tuf);
  });

  it('releases root v1 signed by two token keys, which quorum verify accepts', async () => {
    for (const s of await signAll(r, ['ed', 'ec'], 'root-v1-r1')) expect(s.code, s.stderr).toBe(0);
    await until(() => fs.existsSync(path.join(current(r), '1.root.json')), 'root v1 release');
    await verifyRelease(r);
  });

  it('releases targets signed by a token online and a token on an air-gapped machine', async () => {
    const id = await openTargets(r, 'fw 1, token keys');
    const review = await signerHere(['review', id, '--home', r.homes.ed!]);
    expect(review.code, review.stderr).toBe(0);
    const s = await sign(r, 'ed', id);
    expect(s.code, s.stderr).toBe(0);
    // ec signs offline: a bundle, a home with only the pinned root, the token key named on the command line
    const bundle = path.join(r.dir, 'bundle.json');
    const ex = await quorumHere(['round', 'export', id, '--out', bundle, '--data-dir', r.dataDir]);
    expect(ex.code, ex.stderr).toBe(0);
    const offline = path.join(r.dir, 'offline-home');
    expect((await signerHere(['trust', path.join(current(r), '1.root.json'), '--home', offline])).code).toBe(0);
    const sigFile = path.join(r.dir, 'ec.sig.json');
    const os1 = await signer([
      'sign',
      '--offline',
      bundle,
      '--out',
      sigFile,
      '--yes',
      '--home',
      offline,
      '--token-key',
      r.uris.ec!,
      '--module',
      MODULE,
    ]);
    expect(os1.code, os1.stderr).toBe(0);
    const add = await quorumHere(['round', 'add-signature', id, sigFile, '--data-dir', r.dataDir]);
    expect(add.code, add.stderr).toBe(0);
    await until(() => fs.existsSync(path.join(current(r), 'targets.json')), 'targets release');
    expect(await verifyRelease(r)).toMatch(/targets\.json: version 1/);
  });

  it('a wrong PIN and an unplugged token: clear codes, and the round takes the signatures after a retry', async () => {
    const id = await openTargets(r, 'fw 2, after failures');
    const wrong = await sign(r, 'ed', id, { QUORUM_PIN: '0000' });
    expect(wrong.code).toBe(1);
    expect(codeOf(wrong), wrong.stderr).toBe('TOKEN_PIN');
    const pinFile = path.join(r.dir, 'pin');
    fs.writeFileSync(pinFile, '9999\n');
    const wrongFile = await signer(['sign', id, '--yes', '--home', r.homes.ed!, '--pin-file', pinFile]);
    expect(codeOf(wrongFile), wrongFile.stderr).toBe('TOKEN_PIN');
    expect(signedBy(await round(r, id))).toEqual([]);
    fs.writeFileSync(pinFile, `${PIN}\n`);
    const right = await signer(['sign', id, '--yes', '--home', r.homes.ed!, '--pin-file', pinFile]);
    expect(right.code, right.stderr).toBe(0);
    expect(signedBy(await round(r, id))).toEqual(['ed']);

    removeToken();
    let unplugged: RunResult;
    try {
      unplugged = await sign(r, 'ec', id);
    } finally {
      restoreToken();
    }
    expect(unplugged.code).toBe(1);
    expect(codeOf(unplugged), unplugged.stderr).toBe('TOKEN_NOT_PRESENT');
    expect((await round(r, id)).state).toBe('open');
    const again = await sign(r, 'ec', id);
    expect(again.code, again.stderr).toBe(0);
    await until(async () => (await round(r, id)).state === 'released', 'targets v2 release');
    expect(await verifyRelease(r)).toMatch(/targets\.json: version 2/);
  });

  it('a missing key and an unsupported key: refused at join and at signing, and the round still completes', async () => {
    const id = await openTargets(r, 'fw 3, after failures');
    const cfgFile = (k: string) => path.join(r.homes[k]!, 'config.json');
    const cfg = { ed: fs.readFileSync(cfgFile('ed'), 'utf8'), ec: fs.readFileSync(cfgFile('ec'), 'utf8') };
    const withUri = (k: 'ed' | 'ec', uri: string) => {
      const c = JSON.parse(cfg[k]) as { tokenKey: { uri: string } };
      c.tokenKey.uri = uri;
      fs.writeFileSync(cfgFile(k), JSON.stringify(c));
    };
    const missingUri = 'pkcs11:token=test;object=no-such-key;type=private';
    const p384Uri = toolKey('tuf-p384', 'EC:secp384r1');

    // join checks the key before it writes anything (one after another: all three open the one token, see signAll)
    const jm = await signer([
      'join',
      r.coordinator.url,
      '--token-key',
      missingUri,
      '--module',
      MODULE,
      '--home',
      r.homes.ed!,
      '--trust-first-root',
    ]);
    const ju = await signer([
      'join',
      r.coordinator.url,
      '--token-key',
      p384Uri,
      '--module',
      MODULE,
      '--home',
      r.homes.ec!,
      '--trust-first-root',
    ]);
    const ex = await signer([
      'token',
      'export-public',
      '--module',
      MODULE,
      '--key',
      p384Uri,
      '--out',
      path.join(r.dir, 'p384.pem'),
    ]);
    expect(codeOf(jm), jm.stderr).toBe('TOKEN_KEY_MISSING');
    expect(codeOf(ju), ju.stderr).toBe('TOKEN_MECHANISM');
    expect(fs.readFileSync(cfgFile('ed'), 'utf8')).toBe(cfg.ed);
    expect(fs.readFileSync(cfgFile('ec'), 'utf8')).toBe(cfg.ec);
    expect(codeOf(ex), ex.stderr).toBe('TOKEN_MECHANISM');

    // the key behind a joined URI is gone, replaced by an unsupported one, or another one
    // (ed's and ec's homes, each its own config)
    withUri('ed', missingUri);
    withUri('ec', p384Uri);
    const [sm, su] = await signAll(r, ['ed', 'ec'], id);
    expect([sm!.code, codeOf(sm!)], sm!.stderr).toEqual([1, 'TOKEN_KEY_MISSING']);
    expect([su!.code, codeOf(su!)], su!.stderr).toEqual([1, 'TOKEN_MECHANISM']);
    withUri('ec', r.uris.ed!);
    const sc = await sign(r, 'ec', id);
    expect([sc.code, codeOf(sc)], sc.stderr).toEqual([1, 'TOKEN_KEY_CHANGED']);
    expect(signedBy(await round(r, id))).toEqual([]);

    fs.writeFileSync(cfgFile('ed'), cfg.ed);
    fs.writeFileSync(cfgFile('ec'), cfg.ec);
    for (const s of await signAll(r, ['ed', 'ec'], id)) expect(s.code, s.stderr).toBe(0);
    await until(async () => (await round(r, id)).state === 'released', 'targets v3 release');
    expect(await verifyRelease(r)).toMatch(/targets\.json: version 3/);
  });
});

describe('an ota repository with RSA and Ed25519 keys on the token', () => {
  let r: TokenRepo;
  let watcher: Watcher | null = null;
  beforeAll(async () => {
    needToken();
    r = await newTokenRepo('ota', { rsa: 'token:rsa', ed: 'token:ed25519' }, { root: 2, targets: 2 }, false);
  });
  afterAll(async () => {
    await watcher?.stop();
    await r?.coordinator.kill();
    if (r) fs.rmSync(r.dir, { recursive: true, force: true });
  });

  it('releases root v1 and targets signed by both token keys; RSA-PSS with salt length 32', async () => {
    for (const s of await signAll(r, ['rsa', 'ed'], 'root-v1-r1')) expect(s.code, s.stderr).toBe(0);
    await until(() => fs.existsSync(path.join(current(r), '1.root.json')), 'root v1 release');
    await verifyRelease(r);

    // ed signs through watch; its token is unplugged when the round opens and plugged back in later
    watcher = new Watcher(r.homes.ed!);
    await watcher.waitFor(/watching as ed/);
    removeToken();
    let id: string;
    try {
      id = await openTargets(r, 'fw for ota');
      await watcher.waitFor(/TOKEN_NOT_PRESENT/);
    } finally {
      restoreToken();
    }
    // rsa signs while watch waits out its retry interval (the token is back for both)
    const s = await sign(r, 'rsa', id);
    expect(s.code, s.stderr).toBe(0);
    await watcher.waitFor(new RegExp(`signed ${id}; accepted`), 20_000);
    await until(() => fs.existsSync(path.join(current(r), 'targets.json')), 'targets release');
    expect(await verifyRelease(r)).toMatch(/targets\.json: version 1/);

    // the RSA signature in the released file: ota method, salt length exactly 32
    const rsaPem = fs.readFileSync(path.join(r.dir, 'rsa.pub.pem'), 'utf8');
    const rsaKeyId = crypto
      .createHash('sha256')
      .update(crypto.createPublicKey(rsaPem).export({ format: 'der', type: 'spki' }))
      .digest('hex');
    const targets = JSON.parse(fs.readFileSync(path.join(current(r), 'targets.json'), 'utf8')) as {
      signatures: { keyid: string; method: string; sig: string }[];
    };
    const entry = targets.signatures.find((x) => x.keyid === rsaKeyId)!;
    expect(entry.method).toBe('rsassa-pss-sha256');
    const root = JSON.parse(fs.readFileSync(path.join(current(r), '1.root.json'), 'utf8')) as {
      signed: { keys: Record<string, { keytype: string }> };
    };
    expect(root.signed.keys[rsaKeyId]?.keytype).toBe('RSA');
    const bytes = canonicalize(
      (
        JSON.parse(fs.readFileSync(path.join(current(r), 'targets.json'), 'utf8')) as {
          signed: Record<string, unknown>;
        }
      ).signed,
      'ota',
    );
    const pss = (saltLength: number) => ({
      key: crypto.createPublicKey(rsaPem),
      padding: crypto.constants.RSA_PKCS1_PSS_PADDING,
      saltLength,
    });
    expect(crypto.verify('sha256', bytes, pss(32), Buffer.from(entry.sig, 'base64'))).toBe(true);
    expect(crypto.verify('sha256', bytes, pss(222), Buffer.from(entry.sig, 'base64'))).toBe(false);
  });
});
