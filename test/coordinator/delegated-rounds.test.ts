/**
 * Delegated targets roles signed in rounds, in process against a real store (issue 14): a targets
 * round adds a delegation (`--delegate`), the delegated role's own round is signed by the keys
 * that delegation names and released under the dialect's file name, snapshot (tuf) lists every
 * delegated file, and the release verifies as a client resolves it. The signer's side decides the
 * same rounds from the bytes: the delegation change in its summary, the chain of delegations
 * verified from the targets it verified, and refusals when the coordinator lies about any of it.
 */
import crypto from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { findDelegation } from '../../coordinator/delegated.js';
import { applyDelegations, delegatedBase, proposeTargets, type DelegatedBase } from '../../coordinator/proposals.js';
import { verifyFiles } from '../../coordinator/release.js';
import { openRound, repoState, roundInfo } from '../../coordinator/rounds.js';
import type { RoundRow } from '../../coordinator/store.js';
import type { TargetsChange } from '../../coordinator/admin-api.js';
import { canonicalize, type Dialect } from '../../protocol/canonical.js';
import { parseMetadata, type FileInput } from '../../protocol/verify.js';
import type { RoundInfo } from '../../protocol/wire.js';
import { serialize, signEnvelope, localSigner } from '../../protocol/metadata/build.js';
import { askedFor, checkMetadataRound, decideMetadataRound, verifyReleased } from '../../signer-client/workflow.js';
import type { Payload, TrustState } from '../../signer-client/trust.js';
import { newCoordinator, type TestCoordinator } from './fixture.js';

const made: TestCoordinator[] = [];
afterAll(async () => {
  for (const c of made) await c.close();
});

const entry = (n: number) => ({
  length: n,
  hashes: { sha256: crypto.createHash('sha256').update(String(n)).digest('hex') },
  custom: { hardwareIds: ['ecu'] },
});
const deadline = () => new Date(Date.now() + 86_400_000);

async function coordinator(dialect: Dialect) {
  const c = await newCoordinator({
    dialect,
    keyholders: ['alice', 'carol', 'dave', 'erin'],
    root: ['alice'],
    targets: ['alice'],
    releaseRoot: true,
  });
  made.push(c);
  const ctx = c.context();
  return { c, ctx };
}

/** What `quorum round open targets` does with a change: the next body, delegations applied, opened. */
function open(c: TestCoordinator, change: TargetsChange, delegated?: string): RoundRow {
  const st = repoState(c.store);
  let base: DelegatedBase | undefined;
  if (delegated) {
    const d = findDelegation(st.files, delegated, st.dialect);
    base = d ? delegatedBase(d) : { released: null, version: 0 };
  }
  const signed = proposeTargets(st, change, undefined, base);
  applyDelegations(c.store, st.dialect, signed, change, c.onlinePublic);
  return openRound(c.store, {
    role: 'targets',
    reason: 'delegations',
    deadline: deadline(),
    signed,
    online: c.onlinePublic,
    ...(delegated ? { delegated } : {}),
  });
}

const firmware = (threshold = 2): TargetsChange => ({
  delegate: [
    { name: 'firmware', keys: [{ keyholder: 'carol' }, { keyholder: 'dave' }], threshold, paths: ['firmware/*'] },
  ],
});

async function signAndRelease(c: TestCoordinator, id: string, names: string[]) {
  for (const n of names) c.sign(n, id);
  const rel = await c.release(id);
  if (!rel) throw new Error(`round ${id} was not released`);
  return rel;
}

/** The signer's state: root v1 pinned, and the released targets it verified now. */
function signerState(c: TestCoordinator) {
  const files = repoState(c.store).files;
  const held: TrustState = {
    root: parseMetadata(files['1.root.json']!, '1.root.json', 'root', c.dialect),
    keptTargets: null,
    targetsSeen: 0,
  };
  return verifyReleased(held, { roots: [], targets: files['targets.json']?.toString('utf8') ?? null }, c.dialect).state;
}

function decide(c: TestCoordinator, p: Payload, who: string) {
  return decideMetadataRound(signerState(c), askedFor(p.round.id), p, [c.holders[who]!.publicKey], {
    dialect: c.dialect,
  });
}

const refusal = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return 'no refusal';
};

/** A round payload the way a lying coordinator would make it: any body, its true sha256. */
function forged(info: RoundInfo, body: Record<string, unknown>, rest: Partial<Payload> = {}): Payload {
  const sha256 = crypto.createHash('sha256').update(canonicalize(body, 'tuf')).digest('hex');
  return { round: { ...info, sha256, version: body.version as number }, signed: JSON.stringify(body), ...rest };
}

describe.each(['tuf', 'ota'] as const)('%s: delegated roles signed in rounds', (dialect) => {
  it('a targets round delegates; the delegated round is signed by its keys, released and resolved', async () => {
    const { c, ctx } = await coordinator(dialect);
    // targets v1 delegates firmware/* to carol and dave (2 of 2)
    const t1 = open(c, { add: { 'readme.txt': entry(1) }, ...firmware() });
    const d1 = decide(c, ctx.payloadOf(t1), 'alice');
    expect(d1.summary.changes).toEqual([
      expect.stringMatching(/^DELEGATION ADDED: firmware: threshold 2 of 2 key\(s\) \[.+\], paths \["firmware\/\*"\]$/),
      expect.stringMatching(/^TARGET ADDED: readme\.txt/),
    ]);
    const rel1 = await signAndRelease(c, t1.id, ['alice']);
    // released before the role has a file: verified, with the missing file as a warning
    expect(rel1.report.ok).toBe(true);
    expect(rel1.report.warnings.map((w) => w.code)).toContain('DELEGATED_FILE_MISSING');

    // the delegated role's round: version 1, needs carol and dave, not alice
    const f1 = open(c, { add: { 'firmware/a.bin': entry(2) } }, 'firmware');
    expect(f1.id).toMatch(/^targets\.firmware-v1-r\d+$/);
    const info = roundInfo(c.store, f1, repoState(c.store));
    expect(info).toMatchObject({ delegated: 'firmware', version: 1 });
    expect(info.progress).toEqual([
      expect.objectContaining({
        label: 'firmware keys (delegated by targets)',
        threshold: 2,
        missing: ['carol', 'dave'],
      }),
    ]);
    expect(() => c.sign('alice', f1.id)).toThrow(expect.objectContaining({ code: 'SIG_KEY_NOT_NEEDED' }));
    // the signer verifies the chain itself, and sees which delegation its key counts for
    const d = decide(c, ctx.payloadOf(f1), 'carol');
    expect(d.checked.countsFor).toEqual(['firmware keys (delegated by targets)']);
    expect(d.text).toContain('delegated by targets -> firmware (verified from the targets this client verified):');
    expect(refusal(() => decide(c, ctx.payloadOf(f1), 'alice'))).toBe('NOT_NEEDED');
    c.sign('carol', f1.id);
    expect(await c.release(f1.id)).toBeNull();
    const rel = await signAndRelease(c, f1.id, ['dave']);
    const file = dialect === 'tuf' ? 'firmware.json' : 'delegations/firmware.json';
    expect(Object.keys(rel.files)).toContain(file);
    expect(rel.report.ok).toBe(true);
    expect(rel.report.warnings.map((w) => w.code)).not.toContain('DELEGATED_FILE_MISSING');
    if (dialect === 'tuf') {
      const snap = parseMetadata(rel.files['snapshot.json']!, 'snapshot.json', 'snapshot', 'tuf').signed as {
        meta: Record<string, { version: number }>;
      };
      expect(snap.meta['firmware.json']).toMatchObject({ version: 1 });
      expect(snap.meta['targets.json']).toMatchObject({ version: 1 });
    }
    // as a client resolves it: targets -> firmware
    const trusted: FileInput = { name: '1.root.json', bytes: rel.files['1.root.json']! };
    const report = verifyFiles(rel.files, trusted, new Date(), 'firmware/a.bin');
    expect(report.ok).toBe(true);
    expect(report.target?.chain).toEqual(['targets', 'firmware']);
    if (dialect === 'tuf') {
      // quorum publish DIR copies the delegated file, and serve --publish serves it
      const { currentRelease, repositoryFiles, repositoryHandler } = await import('../../coordinator/publish.js');
      const cur = currentRelease(c.dataDir)!;
      expect(repositoryFiles(cur.files, 'tuf')['firmware.json']!.equals(rel.files['firmware.json']!)).toBe(true);
      let status = 0;
      let body: Buffer | undefined;
      repositoryHandler(c.store)(
        { method: 'GET', headers: {} } as never,
        { writeHead: (s: number) => (status = s), end: (b?: Buffer) => (body = b) } as never,
        'firmware.json',
      );
      expect(status).toBe(200);
      expect(body!.equals(rel.files['firmware.json']!)).toBe(true);
    }

    // quorum expiry (and the page) list the delegated role, renewed by its own rounds
    const { adminHandlers } = await import('../../coordinator/admin-routes.js');
    expect((await adminHandlers(ctx).expiry({} as never)).delegated).toEqual([
      expect.objectContaining({ name: 'firmware', version: 1, state: 'ok' }),
    ]);

    // version 2 of the delegated role: its released file is the base the signer diffs against
    const f2 = open(c, { add: { 'firmware/b.bin': entry(3) } }, 'firmware');
    expect(f2.version).toBe(2);
    const d2 = decide(c, ctx.payloadOf(f2), 'dave');
    expect(d2.summary.version).toEqual({ from: 1, to: 2 });
    expect(d2.summary.changes).toEqual([expect.stringMatching(/^TARGET ADDED: firmware\/b\.bin/)]);
    const rel2 = await signAndRelease(c, f2.id, ['carol', 'dave']);
    expect(verifyFiles(rel2.files, trusted, new Date()).ok).toBe(true);
    if (dialect === 'tuf') {
      const snap = parseMetadata(rel2.files['snapshot.json']!, 'snapshot.json', 'snapshot', 'tuf').signed as {
        meta: Record<string, { version: number }>;
        version: number;
      };
      expect(snap.meta['firmware.json']!.version).toBe(2);
      expect(snap.version).toBe(3); // one per release with targets: targets v1, firmware v1, firmware v2
    }
  });

  it('the coordinator refuses a delegated round with targets outside its paths, or for a role nobody delegates', async () => {
    const { c } = await coordinator(dialect);
    const t1 = open(c, firmware(1));
    await signAndRelease(c, t1.id, ['alice']);
    expect(() => open(c, { add: { 'apps/x.bin': entry(1) } }, 'firmware')).toThrow(
      expect.objectContaining({ code: 'DELEGATED_PATH_OUTSIDE' }),
    );
    expect(() => open(c, { add: { 'apps/x.bin': entry(1) } }, 'apps')).toThrow(
      expect.objectContaining({ code: 'DELEGATION_UNKNOWN' }),
    );
    // one open round per delegated role, besides the targets round
    const f1 = open(c, { add: { 'firmware/a.bin': entry(1) } }, 'firmware');
    open(c, { add: { 'other.bin': entry(2) } });
    expect(() => open(c, { add: { 'firmware/b.bin': entry(2) } }, 'firmware')).toThrow(
      expect.objectContaining({ code: 'ROUND_OPEN_EXISTS' }),
    );
    expect(f1.state).toBe('open');
  });

  it('--undelegate removes a delegation and its keys; the summary says so', async () => {
    const { c, ctx } = await coordinator(dialect);
    await signAndRelease(c, open(c, firmware(1)).id, ['alice']);
    const t2 = open(c, { undelegate: ['firmware'] });
    const body = JSON.parse(t2.signed_json) as { delegations: { keys: object; roles: unknown[] } };
    expect(body.delegations).toEqual({ keys: {}, roles: [] });
    expect(decide(c, ctx.payloadOf(t2), 'alice').summary.changes).toEqual([
      expect.stringMatching(/^DELEGATION REMOVED: firmware: threshold 1 of 2 key\(s\)/),
    ]);
    expect(
      refusal(() => applyDelegations(c.store, dialect, proposeTargets(repoState(c.store), {}), { undelegate: ['x'] })),
    ).toBe('ROUND_INVALID');
  });
});

describe('delegations the coordinator refuses to write', () => {
  it('ota: paths only; a name that cannot be a round id or a file; a threshold its keys cannot meet', async () => {
    const { c } = await coordinator('ota');
    const st = repoState(c.store);
    const body = () => proposeTargets(st, {});
    const bad = (d: NonNullable<TargetsChange['delegate']>[number]) =>
      refusal(() => applyDelegations(c.store, 'ota', body(), { delegate: [d] }));
    const keys = [{ keyholder: 'carol' }];
    expect(bad({ name: 'fw', keys, threshold: 1, pathHashPrefixes: ['ab'] })).toBe('ROUND_INVALID');
    expect(bad({ name: '../x', keys, threshold: 1, paths: ['a/*'] })).toBe('ROUND_INVALID');
    expect(bad({ name: 'fw', keys, threshold: 2, paths: ['a/*'] })).toBe('ROUND_INVALID');
    expect(bad({ name: 'fw', keys, threshold: 1, paths: ['a/../*'] })).toBe('ROUND_INVALID');
    expect(bad({ name: 'fw', keys: [{ keyholder: 'nobody' }], threshold: 1, paths: ['a/*'] })).toBe(
      'KEYHOLDER_UNKNOWN',
    );
    expect(bad({ name: 'fw', keys, threshold: 1, paths: ['a/*'] })).toBe('no refusal');
  });
});

describe('the signer decides from the bytes, whatever the coordinator says (tuf)', () => {
  it('a targets round whose delegation differs from its reason: the summary shows what the bytes delegate', async () => {
    const { c, ctx } = await coordinator('tuf');
    // The lying coordinator's round says it delegates firmware/* to carol, but the bytes give
    // everything (*) to erin, terminating.
    const honest = open(c, {
      delegate: [{ name: 'firmware', keys: [{ keyholder: 'carol' }], threshold: 1, paths: ['firmware/*'] }],
    });
    const p = ctx.payloadOf(honest);
    const body = JSON.parse(p.signed) as { delegations: { keys: Record<string, unknown>; roles: object[] } };
    const erin = c.holders.erin!.publicKey;
    const { keyIdOf } = await import('../../protocol/metadata/build.js');
    const { toMetadataKey } = await import('../../protocol/keys.js');
    body.delegations = {
      keys: { [keyIdOf(erin, 'tuf')]: toMetadataKey(erin, 'tuf') },
      roles: [{ name: 'firmware', keyids: [keyIdOf(erin, 'tuf')], threshold: 1, terminating: true, paths: ['*'] }],
    };
    const lying = forged({ ...p.round, reason: 'delegate firmware/* to carol' }, body as Record<string, unknown>);
    const d = decide(c, lying, 'alice');
    expect(d.summary.changes).toEqual([
      expect.stringMatching(
        new RegExp(
          `^DELEGATION ADDED: firmware: threshold 1 of 1 key\\(s\\) \\[${keyIdOf(erin, 'tuf').slice(0, 8)}.*` +
            `fingerprint ${erin.fingerprint.slice(0, 16)}…\\], paths \\["\\*"\\], terminating$`,
        ),
      ),
    ]);
    expect(d.text).toContain('reason (from the coordinator): delegate firmware/* to carol');
    expect(d.text).toContain('paths ["*"], terminating');
    // a role name with control characters is shown escaped
    body.delegations.roles = [
      { name: 'fw\u001b[2Kx', keyids: [keyIdOf(erin, 'tuf')], threshold: 1, terminating: false, paths: ['a'] },
    ];
    const d2 = decide(c, forged(p.round, body as Record<string, unknown>), 'alice');
    expect(d2.summary.changes[0]).toContain('DELEGATION ADDED: fw\\x1b[2Kx');
  });

  it('a delegated round: a forged chain, a withheld base, a path outside, another round: each refused', async () => {
    const { c, ctx } = await coordinator('tuf');
    await signAndRelease(c, open(c, firmware(1)).id, ['alice']);
    const f1 = open(c, { add: { 'firmware/a.bin': entry(1) } }, 'firmware');
    await signAndRelease(c, f1.id, ['carol']);
    const f2 = open(c, { add: { 'firmware/b.bin': entry(2) } }, 'firmware');
    const p = ctx.payloadOf(f2);
    expect(decide(c, p, 'carol').summary.version).toEqual({ from: 1, to: 2 });
    // the base (released firmware v1) re-signed by a key the delegation does not name
    const base = JSON.parse(p.delegation!.base!) as { signed: Record<string, unknown> };
    const mallory = localSigner(crypto.generateKeyPairSync('ed25519').privateKey);
    const forgedBase = serialize(await signEnvelope(base.signed as never, 'tuf', [mallory])).toString('utf8');
    expect(refusal(() => decide(c, { ...p, delegation: { chain: [], base: forgedBase } }, 'carol'))).toBe(
      'DELEGATION_CHAIN_INVALID',
    );
    // the base withheld: version 2 cannot follow nothing
    expect(refusal(() => decide(c, { ...p, delegation: { chain: [], base: null } }, 'carol'))).toBe('VERSION_SKIP');
    // a signer that verified firmware v1 keeps it, and refuses a round based on less
    const kept: Record<string, number>[] = [];
    const files = repoState(c.store).files;
    const held: TrustState = {
      root: parseMetadata(files['1.root.json']!, '1.root.json', 'root', 'tuf'),
      keptTargets: null,
      targetsSeen: 0,
    };
    const keeper = {
      state: () => ({ ...held, delegatedSeen: Object.assign({}, ...kept) as Record<string, number> }),
      keep: (l: { delegated?: Record<string, number> }) => void (l.delegated && kept.push(l.delegated)),
    };
    const source = (payload: Payload) => ({
      released: async () => ({ roots: [], targets: files['targets.json']!.toString('utf8') }),
      round: async () => payload,
    });
    const carol = [c.holders.carol!.publicKey];
    await checkMetadataRound(source(p), keeper, askedFor(p.round.id), carol, { dialect: 'tuf' });
    expect(kept).toEqual([{ firmware: 1 }]);
    const withheld = { ...p, delegation: { chain: [], base: null } };
    await expect(
      checkMetadataRound(source(withheld), keeper, askedFor(p.round.id), carol, { dialect: 'tuf' }),
    ).rejects.toMatchObject({ code: 'TARGETS_BASE_MISSING' });
    // a chain through a role targets does not delegate
    expect(
      refusal(() =>
        decide(c, { ...p, delegation: { chain: [{ name: 'other', file: forgedBase }], base: null } }, 'carol'),
      ),
    ).toBe('DELEGATION_CHAIN_INVALID');
    // a target outside firmware/* in the bytes, with a matching sha256
    const body = JSON.parse(p.signed) as { targets: Record<string, unknown> };
    body.targets['apps/evil.bin'] = entry(9);
    expect(refusal(() => decide(c, forged(p.round, body, { delegation: p.delegation! }), 'carol'))).toBe(
      'DELEGATED_PATH_OUTSIDE',
    );
    // the delegated round's answer to a question about a targets round id, and the other way round
    expect(
      refusal(() =>
        decideMetadataRound(signerState(c), askedFor(`targets-v2-r${f2.seq}`), p, [c.holders.carol!.publicKey], {
          dialect: 'tuf',
        }),
      ),
    ).toBe('ROUND_MISMATCH');
    const asTargets = { ...p, round: { ...p.round, delegated: undefined } };
    delete (asTargets.round as { delegated?: string }).delegated;
    expect(refusal(() => decide(c, { ...asTargets, round: { ...asTargets.round, id: f2.id } }, 'carol'))).toBe(
      'ROUND_MISMATCH',
    );
  });
});

describe('quorum export ota-tuf: delegated roles in the form the reposerver takes', () => {
  it('writes delegations/NAME.json as released, after targets; refuses a role delegated by another', async () => {
    const { exportOtaTuf, uploadSteps } = await import('../../coordinator/garage-sign.js');
    const { targetEntry } = await import('../../coordinator/target-entry.js');
    const fs = await import('node:fs');
    const path = await import('node:path');
    const ota = (name: string, n: number) => {
      const t = targetEntry({
        dialect: 'ota',
        name,
        version: '1',
        length: n,
        sha256: crypto.createHash('sha256').update(String(n)).digest('hex'),
        sha512: crypto.createHash('sha512').update(String(n)).digest('hex'),
        hardwareIds: ['ecu'],
        format: 'BINARY',
        cliUploaded: true,
        targetName: name,
      });
      return { [t.name]: t.entry };
    };
    const { c } = await coordinator('ota');
    await signAndRelease(c, open(c, { add: ota('readme.txt', 1), ...firmware(1) }).id, ['alice']);
    const f1 = open(c, { add: ota('firmware/a.bin', 2) }, 'firmware');
    const rel = await signAndRelease(c, f1.id, ['carol']);
    const out = path.join(c.dir, 'export');
    const r = exportOtaTuf(c.dataDir, out);
    expect(r.files).toEqual(['1.root.json', 'root.json', 'targets.json', 'delegations/firmware.json']);
    expect(r.delegations).toEqual(['firmware']);
    const bytes = fs.readFileSync(path.join(out, 'delegations', 'firmware.json'));
    expect(bytes.equals(rel.files['delegations/firmware.json']!)).toBe(true);
    // SignedPayload[TargetsRole] as ota-tuf decodes it: signatures with method, a Targets body
    const doc = JSON.parse(bytes.toString('utf8')) as {
      signatures: { keyid: string; method: string; sig: string }[];
      signed: Record<string, unknown>;
    };
    expect(doc.signatures).toEqual([
      { keyid: c.keyid('carol'), method: 'ed25519', sig: expect.stringMatching(/^[A-Za-z0-9+/]+=*$/) },
    ]);
    expect(Object.keys(doc.signed).sort()).toEqual(['_type', 'expires', 'targets', 'version']);
    expect(doc.signed).toMatchObject({ _type: 'Targets', version: 1 });
    // targets.json's delegation as ota-tuf's Delegation: name, keyids, paths, threshold, terminating
    const top = JSON.parse(fs.readFileSync(path.join(out, 'targets.json'), 'utf8')) as {
      signed: { delegations: { keys: Record<string, unknown>; roles: Record<string, unknown>[] } };
    };
    expect(Object.keys(top.signed.delegations.roles[0]!).sort()).toEqual([
      'keyids',
      'name',
      'paths',
      'terminating',
      'threshold',
    ]);
    const steps = uploadSteps(r).join('\n');
    expect(steps).toContain(
      `garage-sign delegations push --repo <repo> --name firmware --input ${path.join(out, 'delegations', 'firmware.json')}`,
    );
    expect(steps).toMatch(/PUT {2}<tufrepo\.url>\/api\/v1\/user_repo\/delegations\/firmware\.json/);
    expect(steps.indexOf('targets push')).toBeLessThan(steps.indexOf('delegations push'));

    // firmware delegates further: the reposerver cannot take the nested role
    const f2 = open(
      c,
      {
        delegate: [{ name: 'beta', keys: [{ keyholder: 'dave' }], threshold: 1, paths: ['firmware/beta-*'] }],
      },
      'firmware',
    );
    await signAndRelease(c, f2.id, ['carol']);
    const b1 = open(c, { add: ota('firmware/beta-1.bin', 3) }, 'beta');
    await signAndRelease(c, b1.id, ['dave']);
    expect(() => exportOtaTuf(c.dataDir, path.join(c.dir, 'export2'))).toThrow(
      expect.objectContaining({ code: 'OTA_EXPORT_DELEGATION' }),
    );
  });
});

describe('quorum init --import keeps the delegated roles it verified', () => {
  it('their files are part of the first release, and their next round follows their version', async () => {
    const { buildDelegatedRepo, delegations, testKey } = await import('../delegated-repo.js');
    const { writeTree } = await import('../interop/helpers.js');
    const { init } = await import('../../coordinator/init.js');
    const { Store } = await import('../../coordinator/store.js');
    const fs = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const k = testKey();
    const repo = await buildDelegatedRepo({
      dialect: 'tuf',
      now: new Date(),
      top: { targets: ['a.txt'], delegations: delegations('tuf', [{ name: 'firmware', keys: [k], paths: ['fw/*'] }]) },
      roles: [{ name: 'firmware', targets: ['fw/x.bin'], signers: [k], version: 3 }],
    });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quorum-import-'));
    try {
      writeTree(path.join(dir, 'repo'), repo.files);
      init({ dataDir: path.join(dir, 'data'), importDir: path.join(dir, 'repo') });
      const store = new Store(path.join(dir, 'data', 'quorum.db'));
      try {
        const files = repoState(store).files;
        expect(files['firmware.json']?.equals(repo.files['firmware.json']!)).toBe(true);
        const d = findDelegation(files, 'firmware', 'tuf')!;
        expect(d.released?.signed.version).toBe(3);
        expect(d.keyids).toEqual([k.id('tuf')]);
      } finally {
        store.close();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('tuf clients resolve what our releases delegate: hash prefixes and terminating roles', () => {
  it('tuf-js downloads through path_hash_prefixes and a terminating role, and stops there as quorum verify does', async () => {
    const { hashPrefix } = await import('../delegated-repo.js');
    const { tufJsDownload } = await import('../interop/helpers.js');
    const { releaseDir } = await import('../../coordinator/release.js');
    const fs = await import('node:fs');
    const path = await import('node:path');
    const { c } = await coordinator('tuf');
    const body = (p: string) => Buffer.from(`content of ${p}\n`);
    const real = (p: string) => ({
      [p]: { length: body(p).length, hashes: { sha256: crypto.createHash('sha256').update(body(p)).digest('hex') } },
    });
    const t1 = open(c, {
      delegate: [
        { name: 'prefixed', keys: [{ keyholder: 'carol' }], threshold: 1, pathHashPrefixes: [hashPrefix('hp/a.bin')] },
        { name: 'stop', keys: [{ keyholder: 'dave' }], threshold: 1, paths: ['t/*'], terminating: true },
        { name: 'after', keys: [{ keyholder: 'erin' }], threshold: 1, paths: ['t/*'] },
      ],
    });
    await signAndRelease(c, t1.id, ['alice']);
    await signAndRelease(c, open(c, { add: real('hp/a.bin') }, 'prefixed').id, ['carol']);
    await signAndRelease(c, open(c, { add: real('t/x.bin') }, 'stop').id, ['dave']);
    const rel = await signAndRelease(c, open(c, { add: real('t/y.bin') }, 'after').id, ['erin']);
    expect(rel.report.ok).toBe(true);
    const trusted: FileInput = { name: '1.root.json', bytes: rel.files['1.root.json']! };
    const resolve = (target: string) => verifyFiles(rel.files, trusted, new Date(), target).target;
    expect(resolve('hp/a.bin')?.chain).toEqual(['targets', 'prefixed']);
    expect(resolve('t/x.bin')?.chain).toEqual(['targets', 'stop']);
    expect(resolve('t/y.bin')?.chain).toBeUndefined(); // the terminating role ends the search
    const tufjs = async (target: string) => {
      const work = fs.mkdtempSync(path.join(c.dir, 'tufjs-'));
      const file = path.join(work, 'content');
      fs.writeFileSync(file, body(target));
      try {
        const got = await tufJsDownload({
          work,
          metadataDir: releaseDir(c.dataDir),
          trustedRoot: path.join(releaseDir(c.dataDir), '1.root.json'),
          target,
          targetFile: file,
        });
        return fs.readFileSync(got.file, 'utf8');
      } finally {
        fs.rmSync(work, { recursive: true, force: true });
      }
    };
    expect(await tufjs('hp/a.bin')).toBe(body('hp/a.bin').toString());
    expect(await tufjs('t/x.bin')).toBe(body('t/x.bin').toString());
    await expect(tufjs('t/y.bin')).rejects.toThrow(/did not find t\/y\.bin/);
  });
});
