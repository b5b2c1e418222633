/**
 * Signing rounds with real processes: every signature rejection code sent over a real,
 * authenticated WebSocket (each leaving the round intact and audited), round management (one
 * open round per role, stale base, cancel, deadline expiry, status and progress for a root
 * rotation), the air-gapped export / offline sign / add-signature flow, and the command line's
 * help and exit codes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dialect } from '../../protocol/canonical.js';
import { encodeSig } from '../../protocol/keys.js';
import { keyIdOf, type Signer } from '../../protocol/metadata/build.js';
import type { RoundInfo, ServerMessage } from '../../protocol/wire.js';
import type { AdminInput } from '../../coordinator/admin-api.js';
import {
  adminCall,
  auditEvents,
  located,
  newRepo,
  quorum,
  quorumHere,
  signer,
  signerHere,
  signHere,
  tmpdir,
  until,
  type Repo,
} from './harness.js';
import { canonicalOf, connect, keySigner, keyidIn, sha256hex, type WireClient } from './wire-client.js';

let fileN = 0;
/** Open a targets round adding one small file; returns the round as the CLI prints it (--json). */
async function openTargets(
  repo: Repo,
  reason: string,
  extra: string[] = [],
): Promise<{ code: number; round: RoundInfo | null; stderr: string }> {
  const fw = path.join(repo.dir, `fw-${++fileN}.bin`);
  fs.writeFileSync(fw, `firmware build ${fileN}\n`);
  const r = await quorumHere([
    'round',
    'open',
    'targets',
    '--data-dir',
    repo.dataDir,
    '--reason',
    reason,
    '--add',
    fw,
    '--name',
    'fw',
    '--version',
    `1.${fileN}`,
    '--hardware-id',
    'ecu-a',
    ...located(repo.dialect),
    '--json',
    ...extra,
  ]);
  return { code: r.code, round: r.code === 0 ? (JSON.parse(r.stdout) as RoundInfo) : null, stderr: r.stderr };
}

const current = (repo: Repo) => path.join(repo.dataDir, 'releases', 'current');

for (const dialect of ['tuf', 'ota'] as const) {
  describe(`signature rejections over the wire (${dialect})`, () => {
    let repo: Repo;
    const s: Record<string, Signer> = {};
    const ws: Record<string, WireClient> = {};
    /** targets round 1 and 2, as signers see them */
    const t: Record<'1' | '2', { id: string; sha256: string; canonical: Buffer }> = {} as never;
    /** alice's accepted signature over round 1 */
    let aliceSig1 = '';
    let rejectedSoFar = 0;

    const keyid = (who: string) =>
      keyidIn(path.join(current(repo), 'root.json'), 'targets', s[who]!.publicKey.fingerprint);
    const sig = async (who: string, bytes: Buffer) => encodeSig(await s[who]!.sign(bytes), dialect as Dialect);
    const submit = (who: string, m: { round: string; sha256: string; keyid: string; sig: string }) =>
      ws[who]!.request({ type: 'signature.submit', ...m });

    /** The answer is an error with `code`; the audit log gains exactly one signature.rejected with that code. */
    async function expectRejected(answer: ServerMessage, code: string, round: string, keyholder: string) {
      expect(answer).toMatchObject({ type: 'error', code, fatal: false });
      const rejected = (await auditEvents(repo.dataDir)).filter((e) => e.event === 'signature.rejected');
      expect(rejected.length).toBe(++rejectedSoFar);
      expect(rejected.at(-1)!.data).toMatchObject({ code, round, keyholder });
    }

    /** The round is still open with exactly these signers. */
    async function expectIntact(round: string, signed: string[]) {
      const p = await ws.carol!.request({ type: 'round.get', round });
      expect(p.type).toBe('round.payload');
      const info = (p as Extract<ServerMessage, { type: 'round.payload' }>).round;
      expect(info.state).toBe('open');
      expect(info.progress[0]!.signed.sort()).toEqual(signed);
    }

    async function fetchRound(id: string) {
      const p = await ws.alice!.request({ type: 'round.get', round: id });
      if (p.type !== 'round.payload') throw new Error(`round.get ${id}: ${JSON.stringify(p)}`);
      const canonical = canonicalOf(p.signed, 'targets', dialect);
      // The bytes a signer canonicalises itself hash to what the coordinator announces.
      expect(sha256hex(canonical)).toBe(p.round.sha256);
      return { id, sha256: p.round.sha256, canonical };
    }

    beforeAll(async () => {
      repo = await newRepo({
        dialect,
        keyholders: ['alice', 'bob', 'carol', 'eve'],
        rootKeyholders: ['alice', 'bob', 'carol'],
        rootThreshold: 2,
        targetsThreshold: 2,
        releaseRoot: true,
      });
      for (const k of ['alice', 'bob', 'carol', 'eve']) {
        s[k] = keySigner(repo.keys[k]!);
        ws[k] = await connect(repo.coordinator.url, s[k]!);
      }
      const open = await openTargets(repo, 'fw for the rejection tests');
      expect(open.code, open.stderr).toBe(0);
      t['1'] = await fetchRound(open.round!.id);
    });
    afterAll(async () => {
      for (const c of Object.values(ws)) c.close();
      await repo?.coordinator.kill();
      if (repo) fs.rmSync(repo.dir, { recursive: true, force: true });
    });

    it('greets an authenticated signer by its keyholder name', async () => {
      expect(await ws.eve!.hello).toMatchObject({ type: 'hello', version: 1, keyholder: 'eve', dialect });
    });

    it('SIG_WRONG_BYTES: a signature over other bytes, or with another sha256', async () => {
      const { id, sha256, canonical } = t['1'];
      const other = Buffer.concat([canonical.subarray(0, -1), Buffer.from(' }')]);
      await expectRejected(
        await submit('alice', { round: id, sha256, keyid: keyid('alice'), sig: await sig('alice', other) }),
        'SIG_WRONG_BYTES',
        id,
        'alice',
      );
      // the right signature, but bound to the sha256 of other bytes
      await expectRejected(
        await submit('alice', {
          round: id,
          sha256: sha256hex(other),
          keyid: keyid('alice'),
          sig: await sig('alice', canonical),
        }),
        'SIG_WRONG_BYTES',
        id,
        'alice',
      );
      await expectIntact(id, []);
    });

    it('SIG_MALFORMED: a signature that is not the dialect encoding', async () => {
      const { id, sha256 } = t['1'];
      await expectRejected(
        await submit('alice', { round: id, sha256, keyid: keyid('alice'), sig: '%%%% not a signature' }),
        'SIG_MALFORMED',
        id,
        'alice',
      );
      await expectIntact(id, []);
    });

    it('SIG_KEY_NOT_NEEDED: an enrolled keyholder whose key the round does not need', async () => {
      const { id, sha256, canonical } = t['1'];
      // eve's own key id as any tool of the dialect computes it: the root does not list it
      await expectRejected(
        await submit('eve', {
          round: id,
          sha256,
          keyid: keyIdOf(s.eve!.publicKey, dialect),
          sig: await sig('eve', canonical),
        }),
        'SIG_KEY_NOT_NEEDED',
        id,
        'eve',
      );
      await expectIntact(id, []);
    });

    it("SIG_NOT_YOUR_KEY: a key id naming another keyholder's key", async () => {
      const { id, sha256, canonical } = t['1'];
      await expectRejected(
        await submit('alice', { round: id, sha256, keyid: keyid('bob'), sig: await sig('alice', canonical) }),
        'SIG_NOT_YOUR_KEY',
        id,
        'alice',
      );
      // even bob's own valid signature, relayed over alice's connection
      await expectRejected(
        await submit('alice', { round: id, sha256, keyid: keyid('bob'), sig: await sig('bob', canonical) }),
        'SIG_NOT_YOUR_KEY',
        id,
        'alice',
      );
      await expectIntact(id, []);
    });

    it('ROUND_NOT_FOUND: a round that does not exist', async () => {
      const { sha256, canonical } = t['1'];
      await expectRejected(
        await submit('alice', {
          round: 'targets-v9-r99',
          sha256,
          keyid: keyid('alice'),
          sig: await sig('alice', canonical),
        }),
        'ROUND_NOT_FOUND',
        'targets-v9-r99',
        'alice',
      );
    });

    it('answers a schema-invalid message with MESSAGE_INVALID and keeps the connection', async () => {
      const a = await ws.alice!.request({
        type: 'signature.submit',
        round: t['1'].id,
        sha256: 'not-a-sha',
        keyid: keyid('alice'),
        sig: 'ab',
      } as never);
      expect(a).toMatchObject({ type: 'error', code: 'MESSAGE_INVALID', fatal: false });
      expect(await ws.alice!.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
    });

    it('still counts a valid signature after all those rejections', async () => {
      const { id, sha256, canonical } = t['1'];
      aliceSig1 = await sig('alice', canonical);
      const ack = await submit('alice', { round: id, sha256, keyid: keyid('alice'), sig: aliceSig1 });
      expect(ack.type, JSON.stringify(ack)).toBe('signature.accepted');
      const info = (ack as Extract<ServerMessage, { type: 'signature.accepted' }>).round;
      expect(info.progress).toEqual([
        {
          label: 'targets keys',
          threshold: 2,
          signed: ['alice'],
          missing: expect.arrayContaining(['bob', 'carol']),
          met: false,
        },
      ]);
      // others are told
      await until(
        () =>
          ws.bob!.received.some(
            (m) => m.type === 'round.updated' && m.round.id === id && m.round.progress[0]!.signed.includes('alice'),
          ),
        'round.updated to bob',
      );
    });

    it('SIG_DUPLICATE: a second signature by the same key', async () => {
      const { id, sha256 } = t['1'];
      await expectRejected(
        await submit('alice', { round: id, sha256, keyid: keyid('alice'), sig: aliceSig1 }),
        'SIG_DUPLICATE',
        id,
        'alice',
      );
      await expectIntact(id, ['alice']);
      // the second signer completes the threshold: released
      const ack = await submit('bob', {
        round: id,
        sha256,
        keyid: keyid('bob'),
        sig: await sig('bob', t['1'].canonical),
      });
      expect(ack.type, JSON.stringify(ack)).toBe('signature.accepted');
      await until(() => fs.existsSync(path.join(current(repo), 'targets.json')), 'targets v1 release');
      const v = await quorumHere(['verify', current(repo), '--root', path.join(current(repo), '1.root.json')]);
      expect(v.code, v.stderr).toBe(0);
    });

    it('ROUND_NOT_OPEN: a signature on a released round', async () => {
      const { id, sha256, canonical } = t['1'];
      await until(
        async () =>
          ((await ws.carol!.request({ type: 'round.get', round: id })) as { round?: RoundInfo }).round?.state ===
          'released',
        'the released state',
      );
      await expectRejected(
        await submit('carol', { round: id, sha256, keyid: keyid('carol'), sig: await sig('carol', canonical) }),
        'ROUND_NOT_OPEN',
        id,
        'carol',
      );
    });

    it("SIG_REPLAY: round 1's signature submitted into round 2 of the same role", async () => {
      const open = await openTargets(repo, 'fw 2 for the replay test', ['--base-version', '1']);
      expect(open.code, open.stderr).toBe(0);
      t['2'] = await fetchRound(open.round!.id);
      const { id, sha256, canonical } = t['2'];
      expect(sha256).not.toBe(t['1'].sha256);
      // the old signature with the old sha256
      await expectRejected(
        await submit('alice', { round: id, sha256: t['1'].sha256, keyid: keyid('alice'), sig: aliceSig1 }),
        'SIG_REPLAY',
        id,
        'alice',
      );
      // the old signature claiming this round's sha256
      await expectRejected(
        await submit('alice', { round: id, sha256, keyid: keyid('alice'), sig: aliceSig1 }),
        'SIG_REPLAY',
        id,
        'alice',
      );
      // bytes that belong to no round are still wrong bytes, not a replay
      await expectRejected(
        await submit('alice', {
          round: id,
          sha256,
          keyid: keyid('alice'),
          sig: await sig('alice', Buffer.from('{"not":"a round"}')),
        }),
        'SIG_WRONG_BYTES',
        id,
        'alice',
      );
      await expectIntact(id, []);
      const ack = await submit('alice', {
        round: id,
        sha256,
        keyid: keyid('alice'),
        sig: await sig('alice', canonical),
      });
      expect(ack.type, JSON.stringify(ack)).toBe('signature.accepted');
      await expectIntact(id, ['alice']);
    });

    it('ROUND_NOT_OPEN: a signature on a cancelled round', async () => {
      const { id, sha256, canonical } = t['2'];
      const c = await quorumHere([
        'round',
        'cancel',
        id,
        '--data-dir',
        repo.dataDir,
        '--reason',
        'changed our minds',
        '--json',
      ]);
      expect(c.code, c.stderr).toBe(0);
      expect((JSON.parse(c.stdout) as RoundInfo).state).toBe('cancelled');
      await expectRejected(
        await submit('bob', { round: id, sha256, keyid: keyid('bob'), sig: await sig('bob', canonical) }),
        'ROUND_NOT_OPEN',
        id,
        'bob',
      );
      expect(fs.readFileSync(path.join(current(repo), 'targets.json'), 'utf8')).toMatch(/"version": 1\b/);
    });

    it('audits every rejection with its code, and the chain stays intact', async () => {
      const events = await auditEvents(repo.dataDir);
      const codes = new Set(events.filter((e) => e.event === 'signature.rejected').map((e) => e.data.code));
      for (const code of [
        'SIG_WRONG_BYTES',
        'SIG_REPLAY',
        'SIG_KEY_NOT_NEEDED',
        'SIG_DUPLICATE',
        'SIG_NOT_YOUR_KEY',
        'SIG_MALFORMED',
        'ROUND_NOT_FOUND',
        'ROUND_NOT_OPEN',
      ])
        expect(codes).toContain(code);
      expect(
        events
          .filter((e) => e.event === 'signature.accepted' && e.data.round === t['1'].id)
          .map((e) => e.data.keyholder)
          .sort(),
      ).toEqual(['alice', 'bob']);
      const v = await quorumHere(['audit', 'verify', '--data-dir', repo.dataDir]);
      expect(v.code, v.stderr).toBe(0);
    });
  });
}

describe('managing rounds (ota)', () => {
  let repo: Repo;
  let t1 = '';
  let t2 = '';
  let t3 = '';
  let r2 = '';
  const q = (args: string[]) => quorumHere([...args, '--data-dir', repo.dataDir]);
  const roundJson = async (id: string) => {
    const r = await q(['round', 'status', id, '--json']);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as { round: RoundInfo; signed: Record<string, unknown> };
  };

  beforeAll(async () => {
    repo = await newRepo({
      dialect: 'ota',
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

  it('keeps one open round per role: ROUND_OPEN_EXISTS', async () => {
    const a = await openTargets(repo, 'first');
    expect(a.code, a.stderr).toBe(0);
    t1 = a.round!.id;
    expect(a.round).toMatchObject({ role: 'targets', version: 1, state: 'open' });
    const b = await openTargets(repo, 'second');
    expect(b.code).toBe(1);
    expect(b.stderr).toMatch(/^ROUND_OPEN_EXISTS: /);
    expect(b.stderr).toContain(t1);
  });

  it('shows a round with quorum round status --json and the repository with quorum status', async () => {
    const r = await roundJson(t1);
    expect(r.round).toMatchObject({ id: t1, role: 'targets', version: 1, state: 'open', reason: 'first' });
    expect(r.round.progress).toEqual([
      { label: 'targets keys', threshold: 2, signed: [], missing: ['alice', 'bob', 'carol'], met: false },
    ]);
    expect(r.signed).toMatchObject({ _type: 'Targets', version: 1 });
    const text = await q(['round', 'status', t1]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain('0/2 of targets keys');
    expect(text.stdout).toContain(r.round.sha256);

    const st = await q(['status']);
    expect(st.code, st.stderr).toBe(0);
    expect(st.stdout).toContain('dialect ota; released root v1, targets v-');
    expect(st.stdout).toContain(`open: ${t1}`);
    const sj = JSON.parse((await q(['status', '--json'])).stdout) as {
      rootVersion: number;
      targetsVersion: number | null;
      openRounds: RoundInfo[];
      keyholders: { name: string }[];
    };
    expect(sj).toMatchObject({ dialect: 'ota', rootVersion: 1, targetsVersion: null });
    expect(sj.openRounds.map((x) => x.id)).toEqual([t1]);
    expect(sj.keyholders.map((k) => k.name)).toEqual(['alice', 'bob', 'carol', 'dave']);
  });

  it('refuses a round opened on a stale base: ROUND_STALE_BASE', async () => {
    // set-up: targets v1 signed in this process (signHere); the signatures this file checks are real processes
    for (const k of ['alice', 'bob']) {
      const sg = await signHere(t1, repo.homes[k]!);
      expect(sg.code, sg.stderr).toBe(0);
    }
    await until(() => fs.existsSync(path.join(current(repo), 'targets.json')), 'targets v1 release');
    const stale = await openTargets(repo, 'based on nothing', ['--base-version', '0']);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toMatch(/^ROUND_STALE_BASE: /);
    const fresh = await openTargets(repo, 'based on v1', ['--base-version', '1']);
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(fresh.round!.version).toBe(2);
    t2 = fresh.round!.id;
  });

  it('cancels a round: it cannot be signed or cancelled again', async () => {
    const c = await q(['round', 'cancel', t2, '--reason', 'wrong build', '--json']);
    expect(c.code, c.stderr).toBe(0);
    expect((await roundJson(t2)).round.state).toBe('cancelled');
    const sg = await signer(['sign', t2, '--yes', '--home', repo.homes.alice!]);
    expect(sg.code).toBe(1);
    expect(sg.stderr).toMatch(/cancelled/);
    expect(sg.stdout).not.toMatch(/accepted/);
    const again = await q(['round', 'cancel', t2, '--reason', 'twice']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^ROUND_NOT_OPEN: /);
    const missing = await q(['round', 'cancel', 'targets-v7-r77', '--reason', 'no such']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^ROUND_NOT_FOUND: /);
    const events = await auditEvents(repo.dataDir);
    expect(events.find((e) => e.event === 'round.cancelled' && e.data.round === t2)?.data).toMatchObject({
      reason: 'wrong build',
    });
  });

  it("a target named __proto__ or constructor is an ordinary target, from the admin API to the keyholder's review", async () => {
    // JSON text: an object literal would set the prototype instead of adding the key.
    const entry = (n: number) =>
      `{"length":${n},"hashes":{"sha256":"${String(n).repeat(64)}"},"custom":{"__proto__":"p","hardwareIds":["ecu-a"],"cliUploaded":true}}`;
    const body = JSON.parse(
      `{"role":"targets","reason":"odd names","targets":{"add":{"__proto__":${entry(1)},"constructor":${entry(2)},"prototype":${entry(3)}}}}`,
    ) as AdminInput<'rounds.open'>;
    const opened = await adminCall(repo.coordinator, 'rounds.open', { body });
    const id = opened.round.id;
    try {
      const r = await roundJson(id);
      const targets = r.signed.targets as Record<string, { custom: Record<string, unknown> }>;
      expect(
        Object.keys(targets)
          .filter((n) => !n.startsWith('fw-'))
          .sort(),
      ).toEqual(['__proto__', 'constructor', 'prototype']);
      expect(Object.hasOwn(targets['__proto__']!.custom, '__proto__')).toBe(true);
      // the review's text, through the command tree in this process (it refuses nothing)
      const rv = await signerHere(['review', id, '--home', repo.homes.alice!]);
      expect(rv.code, rv.stderr).toBe(0);
      for (const [name, n] of [
        ['__proto__', 1],
        ['constructor', 2],
        ['prototype', 3],
      ] as const)
        expect(rv.stdout).toContain(`TARGET ADDED: ${name} length ${n}`);
      expect(rv.stdout).toContain('+    "__proto__": {');
    } finally {
      const c = await q(['round', 'cancel', id, '--reason', 'test done']);
      expect(c.code, c.stderr).toBe(0);
    }
  });

  it('expires a round at its deadline', async () => {
    const past = await openTargets(repo, 'already late', ['--deadline', new Date(Date.now() - 60_000).toISOString()]);
    expect(past.code).toBe(1);
    expect(past.stderr).toMatch(/^ROUND_INVALID: /);
    const o = await openTargets(repo, 'short deadline', ['--deadline', new Date(Date.now() + 3_000).toISOString()]);
    expect(o.code, o.stderr).toBe(0);
    t3 = o.round!.id;
    expect(o.round!.state).toBe('open');
    await until(
      async () => {
        const r = await q(['rounds', '--json']);
        if (r.code !== 0) throw new Error(`quorum rounds failed (${r.code}): ${r.stderr}`);
        return (JSON.parse(r.stdout) as RoundInfo[]).find((x) => x.id === t3)?.state === 'expired';
      },
      'the round to expire',
      20_000,
    );
    const sg = await signer(['sign', t3, '--yes', '--home', repo.homes.bob!]);
    expect(sg.code).toBe(1);
    expect(sg.stderr).toMatch(/expired/);
    // the coordinator refuses it too, whatever the signature
    const late = path.join(repo.dir, 'late.sig.json');
    fs.writeFileSync(late, JSON.stringify({ round: t3, keyid: 'k', sig: 'AAAA', sha256: o.round!.sha256 }));
    const add = await q(['round', 'add-signature', t3, late]);
    expect(add.code).toBe(1);
    expect(add.stderr).toMatch(/^ROUND_NOT_OPEN: /);
    const events = await auditEvents(repo.dataDir);
    expect(events.some((e) => e.event === 'round.expired' && e.data.round === t3)).toBe(true);
    const list = await q(['rounds']);
    expect(list.stdout).toMatch(new RegExp(`${t3}\\s+targets v\\d+ \\[expired\\]`));
  });

  it('shows both thresholds of a root rotation as signatures arrive', async () => {
    const o = await q([
      'round',
      'open',
      'root',
      '--reason',
      'replace carol with dave',
      '--remove-key',
      'root=carol',
      '--add-key',
      'root=dave',
      '--json',
    ]);
    expect(o.code, o.stderr).toBe(0);
    r2 = (JSON.parse(o.stdout) as RoundInfo).id;
    const status = async () => {
      const r = await q(['round', 'status', r2]);
      expect(r.code, r.stderr).toBe(0);
      return r.stdout;
    };
    let out = await status();
    expect(out).toContain('root v2 [open]: 0/2 of root v1 keys, 0/2 of root v2 keys');

    // alice is in both roots: one signature counts for both thresholds (alice's and carol's
    // signatures in this process, over the real WebSocket: what is checked is the status; dave's,
    // which releases root v2, is a process)
    expect((await signHere(r2, repo.homes.alice!)).code).toBe(0);
    out = await status();
    expect(out).toContain('1/2 of root v1 keys, 1/2 of root v2 keys');

    // carol is in the old root only
    const c = await signHere(r2, repo.homes.carol!);
    expect(c.code, c.stderr).toBe(0);
    out = await status();
    expect(out).toContain('2/2 of root v1 keys (met), 1/2 of root v2 keys');
    expect(out).toMatch(/root v1 keys: 2\/2 met; signed: (alice, carol|carol, alice); missing: bob/);
    expect(out).toMatch(/root v2 keys: 1\/2; signed: alice; missing: (bob, dave|dave, bob)/);
    const j = (await roundJson(r2)).round.progress;
    expect(j.map((p) => [p.label, p.met])).toEqual([
      ['root v1 keys', true],
      ['root v2 keys', false],
    ]);
    expect(fs.existsSync(path.join(current(repo), '2.root.json'))).toBe(false);

    // dave, in the new root only, completes it
    const d = await signer(['sign', r2, '--yes', '--home', repo.homes.dave!]);
    expect(d.code, d.stderr).toBe(0);
    await until(() => fs.existsSync(path.join(current(repo), '2.root.json')), 'root v2 release');
    const v = await quorumHere(['verify', current(repo), '--root', path.join(current(repo), '1.root.json')]);
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout).toMatch(/root chain: 1 -> 2/);
    expect((await roundJson(r2)).round.state).toBe('released');
  });

  it('carries a round to an air-gapped keyholder and back', async () => {
    const o = await openTargets(repo, 'fw for the offline keyholder');
    expect(o.code, o.stderr).toBe(0);
    const id = o.round!.id;
    const bundle = path.join(repo.dir, 'bundle.json');
    const ex = await q(['round', 'export', id, '--out', bundle]);
    expect(ex.code, ex.stderr).toBe(0);
    const b = JSON.parse(fs.readFileSync(bundle, 'utf8')) as {
      format: string;
      round: RoundInfo;
      roots: { version: number }[];
      targets: string | null;
    };
    expect(b.format).toBe('uptane-quorum-round-v1');
    expect(b.round.id).toBe(id);
    expect(b.roots.map((r) => r.version)).toEqual([1, 2]);

    // bob signs online first (set-up, in this process over the real WebSocket)
    const bs = await signHere(id, repo.homes.bob!);
    expect(bs.code, bs.stderr).toBe(0);

    // the offline machine: only root v1 pinned and the key file; it walks to root v2 itself
    const home = tmpdir('quorum-offline-');
    const tr = await signerHere(['trust', path.join(current(repo), '1.root.json'), '--home', home]);
    expect(tr.code, tr.stderr).toBe(0);
    fs.writeFileSync(path.join(home, 'config.json'), JSON.stringify({ keyFile: repo.keys.alice }));
    const sigFile = path.join(repo.dir, 'alice.sig.json');

    // a bundle whose payload was altered after export is refused offline too
    const forged = JSON.parse(fs.readFileSync(bundle, 'utf8')) as { signed: string };
    forged.signed = forged.signed.replace(/"expires":"[^"]+"/, '"expires":"2099-01-01T00:00:00Z"');
    expect(forged.signed).toContain('2099-01-01T00:00:00Z');
    const forgedFile = path.join(repo.dir, 'forged-bundle.json');
    fs.writeFileSync(forgedFile, JSON.stringify(forged));
    const fs1 = await signer(['sign', '--offline', forgedFile, '--out', sigFile, '--yes', '--home', home]);
    expect(fs1.code).toBe(1);
    expect(fs1.stderr).toMatch(/^PAYLOAD_MISMATCH: /m);
    expect(fs.existsSync(sigFile)).toBe(false);

    const os1 = await signer(['sign', '--offline', bundle, '--out', sigFile, '--yes', '--home', home]);
    expect(os1.code, os1.stderr).toBe(0);
    expect(fs.existsSync(path.join(home, 'roots', '2.root.json'))).toBe(true);
    const sig = JSON.parse(fs.readFileSync(sigFile, 'utf8')) as {
      round: string;
      sha256: string;
      keyid: string;
      sig: string;
    };
    expect(sig).toMatchObject({ round: id, sha256: b.round.sha256 });

    // a signature damaged on the way back is rejected, and the round stays open
    const bad = {
      ...sig,
      sig: Buffer.from(Buffer.from(sig.sig, 'base64').map((x, i) => (i === 0 ? x ^ 1 : x))).toString('base64'),
    };
    const badFile = path.join(repo.dir, 'bad.sig.json');
    fs.writeFileSync(badFile, JSON.stringify(bad));
    const ab = await q(['round', 'add-signature', id, badFile]);
    expect(ab.code).toBe(1);
    expect(ab.stderr).toMatch(/^SIG_WRONG_BYTES: /);
    expect((await roundJson(id)).round.state).toBe('open');

    const add = await q(['round', 'add-signature', id, sigFile]);
    expect(add.code, add.stderr).toBe(0);
    await until(
      () => /"version": 2\b/.test(fs.readFileSync(path.join(current(repo), 'targets.json'), 'utf8')),
      'targets v2 release',
    );
    expect((await roundJson(id)).round.state).toBe('released');
    const v = await quorumHere(['verify', current(repo), '--root', path.join(current(repo), '1.root.json')]);
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout).toMatch(/targets\.json: version 2/);
    const again = await q(['round', 'add-signature', id, sigFile]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^ROUND_NOT_OPEN: /);
    fs.rmSync(home, { recursive: true, force: true });
  });
});

describe('the command line', () => {
  // Every command's --help and each usage error's exit status are checked in process against the
  // command tree (test/protocol/cli.test.ts); here the real processes, for the exit status a shell sees.
  it('prints help and exits 0, as a process', async () => {
    const runs = await Promise.all([
      ...[['--help'], ['round', '--help'], ['verify', '--help']].map(async (a) => ({
        a: `quorum ${a.join(' ')}`,
        r: await quorum(a),
      })),
      ...[['--help'], ['sign', '--help']].map(async (a) => ({ a: `quorum-signer ${a.join(' ')}`, r: await signer(a) })),
    ]);
    for (const { a, r } of runs) {
      expect(r.code, `${a}: ${r.stderr}`).toBe(0);
      expect(r.stdout, a).toMatch(/Usage/);
    }
  });

  it('exits 2 on usage errors, as a process', async () => {
    const runs = await Promise.all([
      quorum([]),
      quorum(['frobnicate']),
      signer([]),
      signer(['watch', '--no-such-flag']),
    ]);
    expect(runs.map((r) => r.code)).toEqual([2, 2, 2, 2]);
  });

  it('exits 2 on an unknown option to quorum sample', async () => {
    const r = await quorum(['sample', '--no-such-flag']);
    expect(r.stderr).toMatch(/^USAGE: /);
    expect(r.code).toBe(2);
  });

  it('runs a command in process (quorumHere, signerHere) with the status and output of the process', async () => {
    // The set-up of the integration tests relies on this: the same status, stdout and stderr.
    const cases: [typeof quorum, typeof quorumHere, string[]][] = [
      [quorum, quorumHere, ['sample', '--no-such-flag']],
      [quorum, quorumHere, ['round', 'open', '--help']],
      [signer, signerHere, ['watch', '--no-such-flag']],
      [signer, signerHere, ['keygen', '--help']],
    ];
    for (const [proc, here, args] of cases) {
      const [p, h] = await Promise.all([proc(args), here(args)]);
      expect(h, args.join(' ')).toEqual(p);
    }
  });
});
