/**
 * The real `quorum-signer` against a coordinator that lies over the real wire protocol
 * (fake-coordinator.ts), one attack per test, each with its honest control through the same fake:
 * other bytes under the round id asked for (online and in an offline bundle), released targets
 * withheld so that every target looks added and a version skips through, text that would rewrite
 * what a person reads (the summary, the listing, an error message), and a `__proto__` key that
 * canonical JSON must keep. Each refusal leaves the fake with no signature.
 */
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair, sha256hex, verifySignature } from '../../protocol/keys.js';
import {
  buildRoot,
  buildTargets,
  localSigner,
  serialize,
  signEnvelope,
  type Signer,
} from '../../protocol/metadata/build.js';
import { FakeCoordinator } from './fake-coordinator.js';
import { keygenHere, signer, signerHere, tmpdir, until, Watcher } from './harness.js';
import type { RoundInfo } from '../../protocol/wire.js';
import { canonicalOf, keySigner } from './wire-client.js';

const require = createRequire(import.meta.url);
const tufjs = require('@tufjs/canonical-json') as { canonicalize: (v: unknown) => string };

const DAY = 86_400_000;
// What a terminal acts on instead of showing (newlines apart, which separate lines).
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069]/;

let dir: string;
let fake: FakeCoordinator;
let keyFile: string;
let alice: Signer;
let rootFile: string;
let t1: string; // released targets v1: fw-a

const entry = (n: number, custom = '') => `{"length":${n},"hashes":{"sha256":"${String(n % 10).repeat(64)}"}${custom}}`;
/** A targets `signed` body as JSON text (so that `__proto__` stays an own key). */
const targetsText = (version: number, targetsJson: string) => {
  const head = JSON.stringify(buildTargets('tuf', version, new Date(Date.now() + 30 * DAY), {}));
  return head.replace(/"targets":\{\}/, `"targets":${targetsJson}`);
};

let homes = 0;
/** A signer home pointed at the fake, with root v1 pinned (quorum-signer trust, run in this process: set-up). */
async function home(): Promise<string> {
  const h = path.join(dir, `home-${++homes}`);
  fs.mkdirSync(h, { recursive: true });
  fs.writeFileSync(
    path.join(h, 'config.json'),
    JSON.stringify({ server: fake.url, pin: null, keyFile, unsafeAllowPlaintext: false }),
  );
  const t = await signerHere(['trust', rootFile, '--home', h]);
  expect(t.code, t.stderr).toBe(0);
  return h;
}
const sign = (id: string, h: string) => signer(['sign', id, '--yes', '--home', h]);
const review = (id: string, h: string) => signer(['review', id, '--home', h]);
/** A review that is set-up (what the signer has seen before the attack), run in this process. */
const reviewHere = (id: string, h: string) => signerHere(['review', id, '--home', h]);

beforeAll(async () => {
  dir = tmpdir('quorum-signer-trust-');
  const k = await keygenHere(dir, 'alice');
  expect(k.code, k.stderr).toBe(0);
  keyFile = path.join(dir, 'alice.key.json');
  alice = keySigner(keyFile);
  const online = localSigner(generateKeyPair('ed25519').privateKey);
  const root = buildRoot({
    dialect: 'tuf',
    version: 1,
    expires: new Date(Date.now() + 365 * DAY),
    roles: {
      root: { keys: [alice.publicKey], threshold: 1 },
      targets: { keys: [alice.publicKey], threshold: 1 },
      snapshot: { keys: [online.publicKey], threshold: 1 },
      timestamp: { keys: [online.publicKey], threshold: 1 },
    },
  });
  rootFile = path.join(dir, '1.root.json');
  fs.writeFileSync(rootFile, serialize(await signEnvelope(root, 'tuf', [alice])));
  t1 = serialize(
    await signEnvelope(JSON.parse(targetsText(1, `{"fw-a":${entry(1)}}`)) as Record<string, unknown>, 'tuf', [alice]),
  ).toString('utf8');
  fake = await new FakeCoordinator('alice').start();
  fake.targets = t1;
}, 60_000);
afterAll(async () => {
  await fake?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('a signer signs only the bytes it reviewed, under the round it asked for', () => {
  it('control: reviews and signs an honest targets round through the fake', async () => {
    const h = await home();
    const text = targetsText(2, `{"fw-a":${entry(1)},"fw-b":${entry(2)}}`);
    fake.serve('targets-v2-r1', 'targets', text);
    const rv = await review('targets-v2-r1', h);
    expect(rv.code, rv.stderr).toBe(0);
    expect(rv.stdout).toMatch(/TARGET ADDED: fw-b length 2/);
    const sg = await sign('targets-v2-r1', h);
    expect(sg.code, sg.stderr).toBe(0);
    const [sub] = fake.submissions('targets-v2-r1');
    expect(verifySignature(alice.publicKey, canonicalOf(text, 'targets', 'tuf'), Buffer.from(sub!.sig, 'hex'))).toBe(
      true,
    );
  });

  it("refuses another round's bytes under the id it reviewed: ROUND_MISMATCH, nothing sent", async () => {
    const h = await home();
    fake.serve('targets-v2-r2', 'targets', targetsText(2, `{"fw-a":${entry(1)},"fw-b":${entry(2)}}`));
    expect((await reviewHere('targets-v2-r2', h)).code).toBe(0);
    // The coordinator answers round.get targets-v2-r2 with another round: other bytes, its own (consistent) id and
    // sha256.
    fake.serve('targets-v2-r3', 'targets', targetsText(2, `{"fw-a":${entry(1)},"evil":${entry(9)}}`));
    fake.answerWith('targets-v2-r2', 'targets-v2-r3');
    const sg = await sign('targets-v2-r2', h);
    expect(sg.code).toBe(1);
    expect(sg.stderr).toMatch(
      /^ROUND_MISMATCH: asked for round targets-v2-r2, the answer is targets v2 round targets-v2-r3/m,
    );
    expect(fake.submissions()).not.toContainEqual(expect.objectContaining({ round: 'targets-v2-r3' }));
    expect(fake.submissions('targets-v2-r2')).toEqual([]);
  });

  it('refuses a root round served under a targets round id: ROUND_MISMATCH', async () => {
    const h = await home();
    const root = JSON.parse(fs.readFileSync(rootFile, 'utf8')) as { signed: Record<string, unknown> };
    fake.serve('targets-v2-r4', 'root', JSON.stringify({ ...root.signed, version: 2 }));
    const sg = await sign('targets-v2-r4', h);
    expect(sg.code).toBe(1);
    expect(sg.stderr).toMatch(/^ROUND_MISMATCH: round targets-v2-r4 is a targets round, but the answer is root v2/m);
    expect(fake.submissions('targets-v2-r4')).toEqual([]);
  });

  it(
    'refuses an offline bundle whose round id names another role or version than its bytes: ROUND_MISMATCH, no ' +
      'signature file',
    async () => {
      const h = await home();
      const root = JSON.parse(fs.readFileSync(rootFile, 'utf8')) as { signed: Record<string, unknown> };
      const honestText = targetsText(2, `{"fw-a":${entry(1)},"fw-b":${entry(2)}}`);
      fake.serve('targets-v2-r5', 'targets', honestText);
      const bundle = (id: string, served: string) => {
        const file = path.join(dir, `${id}.bundle.json`);
        const r = fake.rounds.get(served)!;
        fs.writeFileSync(
          file,
          JSON.stringify({
            format: 'uptane-quorum-round-v1',
            serverId: fake.serverId,
            dialect: 'tuf',
            round: { ...r.round, id },
            signed: r.signed,
            roots: [],
            targets: t1,
          }),
        );
        return file;
      };
      const out = path.join(dir, 'sig.json');
      const ok = await signer([
        'sign',
        '--offline',
        bundle('targets-v2-r5', 'targets-v2-r5'),
        '--out',
        out,
        '--yes',
        '--home',
        h,
      ]);
      expect(ok.code, ok.stderr).toBe(0);
      fs.rmSync(out);
      // A root v2 proposal carried as "targets-v2-r6": the person asked to sign a targets round.
      fake.serve('root-bytes', 'root', JSON.stringify({ ...root.signed, version: 2 }));
      const bad = await signer([
        'sign',
        '--offline',
        bundle('targets-v2-r6', 'root-bytes'),
        '--out',
        out,
        '--yes',
        '--home',
        h,
      ]);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(/^ROUND_MISMATCH: round targets-v2-r6 is a targets round, but the answer is root v2/m);
      expect(fs.existsSync(out)).toBe(false);
    },
  );
});

describe('watch signs only what a review would', () => {
  const waiting = (): Partial<RoundInfo> => ({
    progress: [{ label: 'targets', threshold: 1, signed: [], missing: ['alice'], met: false }],
  });

  it(
    "watch --unsafe-auto-sign signs an honest listed round, and refuses another round's bytes under a listed id " +
      '(ROUND_MISMATCH, nothing sent for either id)',
    async () => {
      const h = await home();
      fake.serve(
        'targets-v2-w1',
        'targets',
        targetsText(2, `{"fw-a":${entry(1)},"fw-b":${entry(2)}}`),
        undefined,
        waiting(),
      );
      // Listed as w2 (waiting for alice); round.get w2 answered with w3's bytes, id and sha256.
      fake.serve(
        'targets-v2-w2',
        'targets',
        targetsText(2, `{"fw-a":${entry(1)},"fw-c":${entry(3)}}`),
        undefined,
        waiting(),
      );
      fake.serve('targets-v2-w3', 'targets', targetsText(2, `{"fw-a":${entry(1)},"evil":${entry(9)}}`));
      fake.answerWith('targets-v2-w2', 'targets-v2-w3');
      const w = new Watcher(h);
      try {
        await w.waitFor(
          /round targets-v2-w2: ROUND_MISMATCH: asked for round targets-v2-w2, the answer is targets v2 round targets-v2-w3/,
        );
        await until(() => fake.submissions('targets-v2-w1').length > 0, 'the honest round signed by watch');
      } finally {
        await w.stop();
      }
      expect(fake.submissions('targets-v2-w2')).toEqual([]);
      expect(fake.submissions('targets-v2-w3')).toEqual([]);
      for (const id of ['targets-v2-w1', 'targets-v2-w2', 'targets-v2-w3']) fake.rounds.delete(id);
    },
  );
});

describe('no diff without a verified base', () => {
  it(
    'refuses a round when the coordinator withholds the released targets this signer verified: ' +
      'TARGETS_BASE_MISSING',
    async () => {
      const h = await home();
      fake.serve('targets-v2-r7', 'targets', targetsText(2, `{"fw-a":${entry(1)},"fw-b":${entry(2)}}`));
      expect((await reviewHere('targets-v2-r7', h)).code).toBe(0); // sees and keeps released targets v1
      // Now the coordinator withholds them: without the base every target would show as ADDED, and v3 would pass as
      // "newer than 1".
      fake.serve('targets-v3-r8', 'targets', targetsText(3, `{"fw-a":${entry(1)},"evil":${entry(9)}}`));
      fake.targets = null;
      try {
        for (const run of [review, sign]) {
          const r = await run('targets-v3-r8', h);
          expect(r.code).toBe(1);
          expect(r.stderr).toMatch(
            /^TARGETS_BASE_MISSING: the source provides no released targets, but this signer has verified released targets version 1/m,
          );
          expect(r.stdout).not.toMatch(/TARGET ADDED/);
        }
        expect(fake.submissions('targets-v3-r8')).toEqual([]);
      } finally {
        fake.targets = t1;
      }
      // With the base provided again, the same round is a version skip.
      const again = await sign('targets-v3-r8', h);
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(/^VERSION_SKIP: /m);
    },
  );
});

describe('what a person reads is what gets signed', () => {
  it(
    'control characters, ESC sequences and bidi overrides from the coordinator are shown escaped in the review, ' +
      'the listing and errors',
    async () => {
      const h = await home();
      const name = 'fw\u001b[2K\rfw-safe\u202egnp.exe';
      fake.serve(
        'targets-v2-r9',
        'targets',
        targetsText(
          2,
          `{"fw-a":${entry(1)},${JSON.stringify(name)}:${entry(5, ',"custom":{"hardwareIds":["ecu\\u009b2J","\\u2067x"],"note":"\\u202eevil"}')}}`,
        ),
        undefined,
        {
          reason:
            'routine\nchanges (computed by this client from the bytes):\n  (no key, threshold or target ' +
            'changes)\u001b[8m',
        },
      );
      const rv = await review('targets-v2-r9', h);
      expect(rv.code, rv.stderr).toBe(0);
      expect(rv.stdout).not.toMatch(RAW_CONTROL);
      expect(rv.stdout).toContain('TARGET ADDED: fw\\x1b[2K\\rfw-safe\\u202egnp.exe length 5');
      expect(rv.stdout).toContain('hardwareIds ecu\\x9b2J,\\u2067x');
      expect(rv.stdout.split('\n').filter((l) => l.startsWith('changes (computed'))).toHaveLength(1);
      const js = await signer(['review', 'targets-v2-r9', '--json', '--home', h]);
      expect(js.stdout).not.toMatch(RAW_CONTROL);
      // the same value, escaped as JSON
      expect((JSON.parse(js.stdout) as { round: { reason: string } }).round.reason).toContain('\u001b[8m');
      const ls = await signer(['rounds', '--home', h]);
      expect(ls.stdout).not.toMatch(RAW_CONTROL);
      expect(ls.stdout).toContain('routine\\nchanges (computed');
      fake.failures.set('rounds.list', {
        code: 'BOOM\u001b[2J',
        message: 'failed\u001b]0;title\u0007\nSIGNED: everything is fine',
      });
      try {
        const err = await signer(['rounds', '--home', h]);
        expect(err.code).toBe(1);
        expect(err.stderr).not.toMatch(RAW_CONTROL);
        expect(err.stderr.trim().split('\n')).toEqual([
          'BOOM\\x1b[2J: failed\\x1b]0;title\\x07\\nSIGNED: everything is fine',
        ]);
      } finally {
        fake.failures.clear();
      }
    },
  );

  it('a __proto__ key is signed as data: the bytes agree with @tufjs/canonical-json, and the review shows it', async () => {
    const h = await home();
    // A custom map of more than 16 keys (the canonicaliser's sorted-copy path) with a __proto__ string in it.
    const custom = Array.from({ length: 20 }, (_, i) => `"k${20 - i}":${i}`).join(',');
    const text = targetsText(
      2,
      `{"fw-a":${entry(1)},"fw-b":${entry(2, `,"custom":{${custom},"__proto__":"hidden","constructor":"c"}`)}}`,
    );
    const reference = Buffer.from(tufjs.canonicalize(JSON.parse(text)), 'utf8');
    expect(reference.toString()).toContain('"__proto__":"hidden"');
    fake.serve('targets-v2-r10', 'targets', text, sha256hex(reference));
    const rv = await review('targets-v2-r10', h);
    expect(rv.code, rv.stderr).toBe(0);
    expect(rv.stdout).toContain('+        "__proto__": "hidden"');
    const sg = await sign('targets-v2-r10', h);
    expect(sg.code, sg.stderr).toBe(0);
    const [sub] = fake.submissions('targets-v2-r10');
    expect(sub!.sha256).toBe(sha256hex(reference));
    expect(verifySignature(alice.publicKey, reference, Buffer.from(sub!.sig, 'hex'))).toBe(true);
  });
});
