/**
 * Wire fuzzing with fast-check against a real `quorum serve`: more than 10,000 random and mutated
 * frames over real authenticated WebSockets. Valid messages are mutated (wrong types, missing,
 * extra and duplicated fields, huge strings within maxPayload, wrong round ids, bad hex,
 * prototype-pollution keys), and raw frames are thrown in (non-JSON text, binary frames, top-level
 * non-objects, deeply nested JSON).
 *
 * Every frame must get exactly one answer: the reply the protocol defines, or an `error` with the
 * expected code (never silence, never INTERNAL, never a closed socket). An oracle computes the
 * expected answer from the frame with the published wire schema. Afterwards the coordinator is
 * still alive, its audit chain is intact, and real signers still complete the round.
 *
 * The coordinator's per-connection rate limit (WIRE_LIMITS: burst 50, 20 messages/s) cannot be
 * raised from `quorum serve`, so each connection sends fewer frames than its burst (awaiting every
 * answer before its next frame) and never waits for the limit to refill; the volume comes from many
 * parallel connections. FUZZ_SEED=n reproduces a run.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeSig } from '../../protocol/keys.js';
import { WIRE_LIMITS } from '../../protocol/limits.js';
import { keyIdOf } from '../../protocol/metadata/build.js';
import { ClientMessageSchema, type ServerMessage } from '../../protocol/wire.js';
import { adminCall, newRepo, quorumHere, signer, sleep, until, type Repo } from './harness.js';
import { RawSocket, keySigner } from './raw-socket.js';

// Frames per connection: below its burst (rateBurst), so none waits for the rate limit to refill.
const PER_CONNECTION = WIRE_LIMITS.rateBurst - 10;
const CONNECTIONS = 256; // 256 x 40 = 10,240 frames
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : crypto.randomInt(2 ** 31);
const KEYHOLDERS = ['alice', 'bob', 'carol'];

interface Frame {
  kind: string;
  text: string;
  binary: boolean;
}

interface Expected {
  type: ServerMessage['type'];
  code?: string;
  ref: string | undefined;
  round?: string;
}

type Entries = [string, unknown][];

const encode = (entries: Entries): string =>
  '{' + entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',') + '}';

/** Keep a frame within serverMaxPayload (frames above it are the limits test's business). */
function fit(text: string): string {
  let t = text;
  while (Buffer.byteLength(t) > WIRE_LIMITS.serverMaxPayload) t = t.slice(0, Math.floor(t.length * 0.9));
  // What the server will see: ws sends strings as UTF-8 (a lone surrogate becomes U+FFFD).
  return Buffer.from(t, 'utf8').toString('utf8');
}

interface Ctx {
  open: string;
  sha256: string;
  rounds: string[];
  keyids: string[];
}

function frames(ctx: Ctx): fc.Arbitrary<Frame> {
  const ref = fc.oneof(fc.string({ maxLength: 64 }), fc.constantFrom('r', 'x'.repeat(64), '__proto__', ''));
  const optRef = fc.option(ref, { nil: undefined });
  const idLike = fc.stringMatching(/^[A-Za-z0-9._-]{1,64}$/);
  const round = fc.oneof(
    { weight: 4, arbitrary: fc.constant(ctx.open) },
    { weight: 2, arbitrary: fc.constantFrom(...ctx.rounds, 'targets-v9-r99', '__proto__', 'constructor') },
    { weight: 1, arbitrary: idLike },
  );
  const hex64 = fc.stringMatching(/^[0-9a-f]{64}$/);
  const sha = fc.oneof({ weight: 3, arbitrary: fc.constant(ctx.sha256) }, { weight: 1, arbitrary: hex64 });
  const keyid = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...ctx.keyids) },
    { weight: 1, arbitrary: hex64 },
    { weight: 1, arbitrary: fc.string({ maxLength: 128 }) },
  );
  const sig = fc.oneof(
    fc.stringMatching(/^[0-9a-f]{128}$/),
    fc.stringMatching(/^[0-9a-fA-F]{0,300}$/),
    fc.string({ maxLength: 200 }),
    fc.base64String({ maxLength: 2048 }),
  );
  const withRef = (e: Entries, r: string | undefined): Entries => (r === undefined ? e : [...e, ['ref', r]]);

  const valid: fc.Arbitrary<Entries> = fc.oneof(
    optRef.map((r) => withRef([['type', 'ping']], r)),
    optRef.map((r) => withRef([['type', 'rounds.list']], r)),
    fc.tuple(round, optRef).map(([rd, r]) =>
      withRef(
        [
          ['type', 'round.get'],
          ['round', rd],
        ],
        r,
      ),
    ),
    fc.tuple(fc.oneof(fc.nat({ max: 4 }), fc.nat(), fc.constant(Number.MAX_SAFE_INTEGER)), optRef).map(([v, r]) =>
      withRef(
        [
          ['type', 'released.get'],
          ['afterRootVersion', v],
        ],
        r,
      ),
    ),
    {
      weight: 3,
      arbitrary: fc.tuple(round, sha, keyid, sig, optRef).map(([rd, s, k, g, r]) =>
        withRef(
          [
            ['type', 'signature.submit'],
            ['round', rd],
            ['sha256', s],
            ['keyid', k],
            ['sig', g],
          ],
          r,
        ),
      ),
    },
  );

  const huge = fc
    .tuple(fc.string({ minLength: 1, maxLength: 4 }), fc.integer({ min: 1000, max: 60_000 }))
    .map(([u, n]) => u.repeat(Math.ceil(n / u.length)).slice(0, n));
  const anyValue = fc.oneof(
    fc.jsonValue({ maxDepth: 2 }),
    fc.constantFrom<unknown>(null, true, false, 0, -1, 1.5, 1e308, -0, [], {}, '', '0', 'null'),
  );
  const oddKey = fc.oneof(
    fc.constantFrom(
      '__proto__',
      'constructor',
      'prototype',
      'toString',
      'hasOwnProperty',
      'valueOf',
      'extra',
      '',
      'type',
      'ref',
      'round',
    ),
    fc.string({ maxLength: 10 }),
  );
  const at = (e: Entries, i: number) => i % Math.max(1, e.length);
  const typeNames = [
    'ping',
    'rounds.list',
    'round.get',
    'released.get',
    'signature.submit',
    'hello',
    'pong',
    'error',
    'signature.accepted',
    'round.opened',
    'PING',
    'ping ',
    '',
  ];
  type Mutation = (e: Entries) => Entries;
  const mutation: fc.Arbitrary<Mutation> = fc.oneof(
    fc.nat().map(
      (i): Mutation =>
        (e) =>
          e.filter((_, j) => j !== at(e, i)),
    ), // missing field
    fc.tuple(oddKey, anyValue).map(([k, v]): Mutation => (e) => [...e, [k, v]]), // extra field (or a duplicate)
    fc.tuple(fc.nat(), anyValue).map(
      ([i, v]): Mutation =>
        (e) =>
          e.map(([k, x], j) => [k, j === at(e, i) ? v : x]),
    ), // wrong type
    fc.tuple(fc.nat(), huge).map(
      ([i, v]): Mutation =>
        (e) =>
          e.map(([k, x], j) => [k, j === at(e, i) ? v : x]),
    ), // huge string
    fc.constantFrom(...typeNames, null, 1).map(
      (t): Mutation =>
        (e) =>
          e.map(([k, x]) => [k, k === 'type' ? t : x]),
    ), // other type
    fc
      .constantFrom(
        '',
        'x'.repeat(65),
        '../../etc/passwd',
        'a b',
        'ründe',
        '\u0000',
        ctx.open.toUpperCase(),
        ctx.open + '\n',
        'targets-v1-r1',
      )
      .map((r): Mutation => (e) => [...e.filter(([k]) => k !== 'round'), ['round', r]]), // wrong round id
    fc
      .constantFrom(
        ctx.sha256.toUpperCase(),
        ctx.sha256.slice(1),
        ctx.sha256 + '0',
        'g'.repeat(64),
        ' ' + ctx.sha256.slice(1),
        '0x' + ctx.sha256.slice(2),
        '',
      )
      .map((s): Mutation => (e) => [...e.filter(([k]) => k !== 'sha256'), ['sha256', s]]), // bad hex
    fc
      .constantFrom('a'.repeat(2049), 'abc', 'zz'.repeat(64), '=='.repeat(10), '\u00e9'.repeat(64))
      .map((s): Mutation => (e) => [...e.filter(([k]) => k !== 'sig'), ['sig', s]]), // bad signature text
    fc
      .constantFrom<Entries[number]>(
        ['__proto__', { type: 'ping', polluted: true }],
        ['constructor', { prototype: { polluted: true } }],
        ['__proto__', null],
        ['prototype', { type: 'signature.submit' }],
      )
      .map((kv): Mutation => (e) => [...e, kv]), // prototype pollution
    fc.nat().map((i): Mutation => (e) => {
      const j = at(e, i);
      return [...e.slice(j), ...e.slice(0, j)];
    }), // field order
  );
  const mutated = fc
    .tuple(valid, fc.array(mutation, { minLength: 1, maxLength: 3 }))
    .map(([e, ms]) => ms.reduce((acc, m) => m(acc), e));

  const deep = fc
    .tuple(
      fc.integer({ min: 10, max: 30_000 }),
      fc.constantFrom('array', 'object', 'mixed'),
      fc.constantFrom('top', 'ref', 'extra', 'round'),
    )
    .map(([d, shape, where]) => {
      const open = shape === 'array' ? '[' : shape === 'object' ? '{"a":' : '[{"a":';
      const close = shape === 'array' ? ']' : shape === 'object' ? '}' : '}]';
      const room = Math.floor((WIRE_LIMITS.serverMaxPayload - 100) / (open.length + close.length));
      const n = Math.min(d, room);
      const v = open.repeat(n) + '1' + close.repeat(n);
      if (where === 'top') return v;
      if (where === 'ref') return `{"type":"ping","ref":${v}}`;
      if (where === 'round') return `{"type":"round.get","round":${v}}`;
      return `{"type":"rounds.list","deep":${v}}`;
    });

  const nonJson = fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.string({ unit: 'binary', maxLength: 100 }),
    fc.tuple(valid, fc.nat()).map(([e, n]) => {
      const t = encode(e);
      return t.slice(0, n % t.length);
    }), // truncated
    fc.tuple(valid, fc.constantFrom('x', ',', '}', ' garbage', '\u0000')).map(([e, g]) => encode(e) + g),
    fc.constantFrom(
      '',
      ' ',
      'undefined',
      'NaN',
      'Infinity',
      '{"type":"ping"}',
      "{'type':'ping'}",
      '{"type":"ping"/*c*/}',
      '{type:"ping"}',
      '\ufeff{"type":"ping"}',
      '[',
      '"',
      '\\',
    ),
  );

  const frame: fc.Arbitrary<Frame> = fc.oneof(
    { weight: 3, arbitrary: valid.map((e) => ({ kind: 'valid', text: encode(e), binary: false })) },
    { weight: 8, arbitrary: mutated.map((e) => ({ kind: 'mutated', text: encode(e), binary: false })) },
    { weight: 2, arbitrary: nonJson.map((t) => ({ kind: 'non-json', text: t, binary: false })) },
    {
      weight: 1,
      arbitrary: fc
        .jsonValue({ maxDepth: 3 })
        .map((v) => ({ kind: 'json-value', text: JSON.stringify(v) ?? 'null', binary: false })),
    },
    { weight: 1, arbitrary: deep.map((t) => ({ kind: 'deep', text: t, binary: false })) },
    {
      weight: 1,
      arbitrary: fc
        .oneof(
          fc.uint8Array({ maxLength: 1024 }).map((b) => Buffer.from(b).toString('latin1')),
          valid.map(encode),
        )
        .map((t) => ({ kind: 'binary', text: t, binary: true })),
    },
  );
  return frame.map((f) => (f.binary ? f : { ...f, text: fit(f.text) }));
}

describe('wire fuzzing', () => {
  let repo: Repo;
  let ctx: Ctx;
  /** key id -> keyholder, for the keys the open targets round needs */
  const owner = new Map<string, string>();
  const current = () => path.join(repo.dataDir, 'releases', 'current');

  beforeAll(async () => {
    // 256 connections of 3 keyholders: more than a keyholder may hold by default.
    repo = await newRepo({
      dialect: 'tuf',
      keyholders: KEYHOLDERS,
      rootThreshold: 2,
      targetsThreshold: 2,
      releaseRoot: true,
      serveArgs: ['--max-connections-per-keyholder', String(Math.ceil(CONNECTIONS / KEYHOLDERS.length))],
    });
    const content = Buffer.from('fuzzed firmware\n');
    const res = await adminCall(repo.coordinator, 'rounds.open', {
      body: {
        role: 'targets',
        reason: 'fuzz target',
        targets: {
          add: {
            'fw-1.0': {
              length: content.length,
              hashes: {
                sha256: crypto.createHash('sha256').update(content).digest('hex'),
                sha512: crypto.createHash('sha512').update(content).digest('hex'),
              },
              custom: { name: 'fw', version: '1.0', targetFormat: 'BINARY' },
            },
          },
        },
      },
    });
    const root = JSON.parse(fs.readFileSync(path.join(current(), 'root.json'), 'utf8')) as {
      signed: { roles: { targets: { keyids: string[] } } };
    };
    for (const k of KEYHOLDERS) {
      const id = keyIdOf(keySigner(repo.keys[k]!).publicKey, 'tuf');
      expect(root.signed.roles.targets.keyids).toContain(id);
      owner.set(id, k);
    }
    ctx = {
      open: res.round.id,
      sha256: res.round.sha256,
      rounds: ['root-v1-r1', res.round.id],
      keyids: [...owner.keys()],
    };
  }, 120_000);
  afterAll(async () => {
    await repo?.coordinator.kill();
    if (repo) fs.rmSync(repo.dir, { recursive: true, force: true });
  });

  /** What the coordinator must answer to `f` on a connection authenticated as `me`. */
  function oracle(f: Frame, me: string): Expected {
    const invalidJson: Expected = { type: 'error', code: 'MESSAGE_INVALID_JSON', ref: undefined };
    if (f.binary) return invalidJson;
    let json: unknown;
    try {
      json = JSON.parse(f.text);
    } catch {
      return invalidJson;
    }
    const p = ClientMessageSchema.safeParse(json);
    if (!p.success) {
      const r = (json as { ref?: unknown } | null)?.ref;
      return { type: 'error', code: 'MESSAGE_INVALID', ref: typeof r === 'string' ? r.slice(0, 64) : undefined };
    }
    const m = p.data;
    const ref = m.ref;
    const err = (code: string): Expected => ({ type: 'error', code, ref });
    switch (m.type) {
      case 'ping':
        return { type: 'pong', ref };
      case 'rounds.list':
        return m.before !== undefined && !ctx.rounds.includes(m.before)
          ? err('ROUND_NOT_FOUND')
          : { type: 'rounds', ref };
      case 'released.get':
        return { type: 'released', ref };
      case 'round.get':
        return ctx.rounds.includes(m.round) ? { type: 'round.payload', ref, round: m.round } : err('ROUND_NOT_FOUND');
      case 'signature.submit': {
        if (!ctx.rounds.includes(m.round)) return err('ROUND_NOT_FOUND');
        if (m.round !== ctx.open) return err('ROUND_NOT_OPEN');
        const o = owner.get(m.keyid);
        if (!o) return err('SIG_KEY_NOT_NEEDED');
        if (o !== me) return err('SIG_NOT_YOUR_KEY');
        return err(decodeSig(m.sig, 'tuf') ? 'SIG_WRONG_BYTES' : 'SIG_MALFORMED');
      }
      // No certificate round exists in this repository.
      case 'certs.list':
        return m.before !== undefined ? err('ROUND_NOT_FOUND') : { type: 'certs', ref };
      case 'cert.get':
      case 'cert.approve':
      case 'cert.sign':
        return err('ROUND_NOT_FOUND');
      // No DKG ceremony or FROST signing session exists in this repository.
      case 'frost.dkg.get':
      case 'frost.dkg.round1':
      case 'frost.dkg.round2':
      case 'frost.dkg.confirm':
        return err('CEREMONY_NOT_FOUND');
      case 'frost.refuse':
        return err(m.ceremony ? 'CEREMONY_NOT_FOUND' : 'SESSION_NOT_FOUND');
      case 'frost.sign.get':
      case 'frost.sign.commitment':
      case 'frost.sign.share':
        return err('SESSION_NOT_FOUND');
    }
  }

  it(
    `answers each of ${CONNECTIONS * PER_CONNECTION} random and mutated frames exactly once, with the expected ` +
      'reply or error code',
    async () => {
      const tSample = Date.now();
      const all = fc.sample(frames(ctx), { numRuns: CONNECTIONS * PER_CONNECTION, seed: SEED });
      const sampleMs = Date.now() - tSample;
      expect(all.length).toBeGreaterThanOrEqual(10_000);
      const kinds: Record<string, number> = {};
      for (const f of all) kinds[f.kind] = (kinds[f.kind] ?? 0) + 1;

      // In batches: one address may have WIRE_LIMITS.maxChallengesPerSource logins under way at once.
      const sockets: RawSocket[] = [];
      const tLogin = Date.now();
      for (let i = 0; i < CONNECTIONS; i += WIRE_LIMITS.maxChallengesPerSource) {
        const n = Math.min(WIRE_LIMITS.maxChallengesPerSource, CONNECTIONS - i);
        sockets.push(
          ...(await Promise.all(
            Array.from({ length: n }, (_, j) =>
              RawSocket.open(repo.coordinator.url, repo.keys[KEYHOLDERS[(i + j) % KEYHOLDERS.length]!]!),
            ),
          )),
        );
      }
      const loginMs = Date.now() - tLogin;
      const failures: string[] = [];
      const codes: Record<string, number> = {};
      let answered = 0;
      const t0 = Date.now();
      await Promise.all(
        sockets.map(async (s, c) => {
          const me = KEYHOLDERS[c % KEYHOLDERS.length]!;
          for (let i = 0; i < PER_CONNECTION; i++) {
            const f = all[c * PER_CONNECTION + i]!;
            const want = oracle(f, me);
            s.send(f.binary ? Buffer.from(f.text, 'latin1') : f.text, f.binary);
            let got;
            try {
              got = await s.next(15_000);
            } catch (e) {
              failures.push(
                `conn ${c} frame ${i} (${f.kind}) ${JSON.stringify(f.text.slice(0, 200))}: ${(e as Error).message}`,
              );
              return;
            }
            answered++;
            const m = got.msg;
            const label = () =>
              `conn ${c} frame ${i} (${f.kind}, seed ${SEED}) ${JSON.stringify(f.text.slice(0, 300))}\n  ` +
              `expected ${JSON.stringify(want)}\n  got ${got.text.slice(0, 300)}`;
            if (!m) {
              failures.push(`not a valid server message: ${label()}`);
              continue;
            }
            const key = m.type === 'error' ? m.code : m.type;
            codes[key] = (codes[key] ?? 0) + 1;
            const ok =
              m.type === want.type &&
              (m.type !== 'error' || (m.code === want.code && m.fatal === false)) &&
              ('ref' in m ? m.ref : undefined) === want.ref &&
              (want.round === undefined || (m.type === 'round.payload' && m.round.id === want.round));
            if (!ok) failures.push(label());
          }
        }),
      );
      const elapsed = Date.now() - t0;
      // Exactly one answer each: nothing more arrives, and no socket was closed.
      await sleep(500);
      for (const [c, s] of sockets.entries()) {
        if (s.inbox.length)
          failures.push(
            `conn ${c}: ${s.inbox.length} extra frame(s): ${s.inbox.map((r) => r.text.slice(0, 120)).join(' | ')}`,
          );
        if (s.closedWith) failures.push(`conn ${c}: closed (${s.closedWith.code} ${s.closedWith.reason})`);
      }
      console.log(
        `fuzz seed ${SEED}: ${all.length} frames made in ${sampleMs} ms, ${CONNECTIONS} logins in ${loginMs} ms, ` +
          `${answered} answers in ${elapsed} ms; frames ${JSON.stringify(kinds)}; answers ` +
          `${JSON.stringify(codes)}`,
      );
      expect(failures.slice(0, 20), `${failures.length} failure(s), seed ${SEED}`).toEqual([]);
      expect(answered).toBe(CONNECTIONS * PER_CONNECTION);
      expect(sockets.reduce((n, s) => n + s.all.length, 0)).toBe(CONNECTIONS * PER_CONNECTION);
      await Promise.all(sockets.map((s) => s.close()));
    },
    150_000,
  );

  it('is still alive, with an intact audit chain and no internal errors', async () => {
    const p = repo.coordinator.proc!;
    expect(p.exitCode).toBeNull();
    expect(p.signalCode).toBeNull();
    expect((await fetch(`${repo.coordinator.url}/v1/health`)).status).toBe(200);
    expect(repo.coordinator.log).not.toMatch(/internal error/i);
    const audit = await adminCall(repo.coordinator, 'audit.verify');
    expect(audit.ok).toBe(true);
    // No fuzzed signature was accepted.
    const r = await adminCall(repo.coordinator, 'rounds.get', { params: { id: ctx.open } });
    expect(r.round.state).toBe('open');
    expect(r.round.progress.flatMap((x) => x.signed)).toEqual([]);
  });

  it('still serves real signers: the round is signed, released and verifies', async () => {
    for (const k of ['alice', 'bob']) {
      const s = await signer(['sign', ctx.open, '--yes', '--home', repo.homes[k]!]);
      expect(s.code, s.stderr).toBe(0);
      expect(s.stdout).toContain(`signed ${ctx.open}; accepted.`);
    }
    await until(() => fs.existsSync(path.join(current(), 'targets.json')), 'targets release');
    // The signers are the point; the verdict on the result runs in this process (quorumHere).
    const v = await quorumHere(['verify', current(), '--root', path.join(current(), '1.root.json')]);
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout).toMatch(/targets\.json: version 1/);
  }, 60_000);
});
