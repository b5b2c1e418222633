/**
 * The signer's trust workflow in process (signer-client/workflow.ts), driven as a lying
 * coordinator or a hostile bundle would drive it: another round's bytes under the id asked for,
 * bytes of another version than the round claims, a payload other than the one reviewed, released
 * targets withheld, rolled back or equivocated, text that would rewrite the summary, keys named
 * `__proto__` and `constructor`, and certificate TBS bytes that break their profile. Each attack
 * has its control: the honest answer through the same function is decided and summarised.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalize, type Dialect } from '../../protocol/canonical.js';
import { generateKeyPair, sha256hex } from '../../protocol/keys.js';
import {
  buildRoot,
  buildTargets,
  localSigner,
  serialize,
  signEnvelope,
  type Signer,
} from '../../protocol/metadata/build.js';
import { parseMetadata } from '../../protocol/verify.js';
import type { CertRoundInfo, RoundInfo } from '../../protocol/wire.js';
import {
  approvalMessage,
  issueWith,
  prepareCertificate,
  tbsBytes,
  type Issued,
  type Prepared,
  type ProfileName,
} from '../../protocol/x509.js';
import type { PinnedApprovers } from '../../signer-client/cert-trust.js';
import { Refusal, type Learned, type Payload, type TrustState } from '../../signer-client/trust.js';
import {
  askedFor,
  bundleSource,
  checkMetadataRound,
  decideCertRound,
  decideMetadataRound,
  verifyReleased,
  type Bundle,
  type CertPayload,
  type MetadataSource,
  type Released,
} from '../../signer-client/workflow.js';
import { withExtension, withoutExtension, withValidity } from '../tbs-tamper.js';

const D: Dialect = 'tuf';
const DAY = 86_400_000;
const future = new Date(Date.now() + 30 * DAY);
const alice = localSigner(generateKeyPair('ed25519').privateKey);
const online = localSigner(generateKeyPair('ed25519').privateKey);

/** The refusal `fn` throws (or fails the test when it throws nothing, or something else). */
function refusal(fn: () => unknown): Refusal {
  try {
    fn();
  } catch (e) {
    if (e instanceof Refusal) return e;
    throw e;
  }
  throw new Error('no refusal');
}
async function refusalOf(p: Promise<unknown>): Promise<Refusal> {
  try {
    await p;
  } catch (e) {
    if (e instanceof Refusal) return e;
    throw e;
  }
  throw new Error('no refusal');
}

const rootBody = buildRoot({
  dialect: D,
  version: 1,
  expires: new Date(Date.now() + 365 * DAY),
  roles: {
    root: { keys: [alice.publicKey], threshold: 1 },
    targets: { keys: [alice.publicKey], threshold: 1 },
    snapshot: { keys: [online.publicKey], threshold: 1 },
    timestamp: { keys: [online.publicKey], threshold: 1 },
  },
});
let rootFile: string;

/** A targets `signed` body from JSON text for its map (so that `__proto__` is an own key, as JSON.parse makes it). */
function targetsBody(version: number, targetsJson: string): Record<string, unknown> {
  return { ...buildTargets(D, version, future, {}), targets: JSON.parse(targetsJson) as Record<string, unknown> };
}
const entry = (n: number, custom = '') => `{"length":${n},"hashes":{"sha256":"${String(n % 10).repeat(64)}"}${custom}}`;
async function released(body: Record<string, unknown>, signers: Signer[] = [alice]): Promise<string> {
  return serialize(await signEnvelope(body, D, signers)).toString('utf8');
}

function round(
  id: string,
  role: 'root' | 'targets',
  version: number,
  signed: string,
  extra: Partial<RoundInfo> = {},
): RoundInfo {
  const body = JSON.parse(signed) as Record<string, unknown>;
  return {
    id,
    role,
    version,
    state: 'open',
    reason: 'routine',
    deadline: future.toISOString(),
    createdAt: new Date().toISOString(),
    sha256: sha256hex(canonicalize(body, D)),
    progress: [],
    ...extra,
  };
}
function payload(id: string, body: Record<string, unknown>, extra: Partial<RoundInfo> = {}): Payload {
  const signed = JSON.stringify(body);
  return { round: round(id, body._type as 'root' | 'targets', body.version as number, signed, extra), signed };
}

/** A signer's trust in memory: root v1 pinned, and whatever targets it kept. */
function keeper(targets: string | null = null) {
  const version =
    targets === null ? 0 : (parseMetadata(Buffer.from(targets), 'targets.json', 'targets', D).signed.version as number);
  const state: TrustState = {
    root: parseMetadata(Buffer.from(rootFile), '1.root.json', 'root', D),
    keptTargets: targets === null ? null : Buffer.from(targets),
    targetsSeen: version,
  };
  const kept: Learned[] = [];
  return {
    kept,
    state: () => ({ ...state }),
    keep: (l: Learned) => {
      kept.push(l);
      if (l.targets) Object.assign(state, { keptTargets: l.targets.bytes, targetsSeen: l.targets.signed.version });
    },
    /** What a round is decided against once the source provides these released targets. */
    verified: (released: string | null = targets) => verifyReleased(state, { roots: [], targets: released }, D).state,
  };
}

function source(rel: Released, rounds: Record<string, Payload>): MetadataSource {
  return { released: async () => rel, round: async (id) => rounds[id]! };
}

let t1: string; // released targets v1: fw-a and a target named `constructor`
beforeAll(async () => {
  rootFile = await released(rootBody);
  t1 = await released(targetsBody(1, `{"fw-a":${entry(1)},"constructor":${entry(2)}}`));
});

describe('metadata rounds: the round asked for, and only the bytes reviewed', () => {
  const v2 = () => targetsBody(2, `{"fw-a":${entry(1)},"constructor":${entry(2)},"fw-b":${entry(3)}}`);

  it('control: the honest round is decided, its bytes are the canonical bytes, the released targets are kept', async () => {
    const k = keeper();
    const p = payload('targets-v2-r5', v2());
    const d = await checkMetadataRound(
      source({ roots: [], targets: t1 }, { 'targets-v2-r5': p }),
      k,
      askedFor('targets-v2-r5'),
      [alice.publicKey],
      { dialect: D },
    );
    expect(d.bytes.equals(canonicalize(v2(), D))).toBe(true);
    expect(d.sha256).toBe(p.round.sha256);
    expect(d.summary.changes).toEqual([expect.stringMatching(/^TARGET ADDED: fw-b length 3/)]);
    expect(k.kept.at(-1)!.targets!.signed.version).toBe(1);
  });

  it("refuses another round's bytes under the id asked for: ROUND_MISMATCH", () => {
    const k = keeper(t1);
    const other = payload('targets-v2-r6', v2());
    expect(
      refusal(() =>
        decideMetadataRound(k.verified(), askedFor('targets-v2-r5'), other, [alice.publicKey], { dialect: D }),
      ).code,
    ).toBe('ROUND_MISMATCH');
    // the id asked for, but another role or version than the id spells (a root round's bytes under a targets id)
    const root2 = { ...rootBody, version: 2 };
    const rootAsTargets = payload('targets-v2-r5', root2);
    expect(rootAsTargets.round.role).toBe('root');
    expect(
      refusal(() =>
        decideMetadataRound(k.verified(), askedFor('targets-v2-r5'), rootAsTargets, [alice.publicKey], { dialect: D }),
      ).code,
    ).toBe('ROUND_MISMATCH');
    // watch asks for the round as listed: the answer must be that role and version
    const listed = { id: 'targets-v2-r5', role: 'targets' as const, version: 2 };
    expect(
      refusal(() =>
        decideMetadataRound(k.verified(), listed, payload('targets-v2-r5', targetsBody(3, '{}')), [alice.publicKey], {
          dialect: D,
        }),
      ).code,
    ).toBe('ROUND_MISMATCH');
  });

  it('refuses bytes of another version than the round claims: ROUND_MISMATCH', () => {
    const k = keeper(t1);
    const p = payload('r-odd', v2());
    const lying = { ...p, round: { ...p.round, version: 7 } };
    expect(
      refusal(() => decideMetadataRound(k.verified(), askedFor('r-odd'), lying, [alice.publicKey], { dialect: D }))
        .code,
    ).toBe('ROUND_MISMATCH');
    expect(decideMetadataRound(k.verified(), askedFor('r-odd'), p, [alice.publicKey], { dialect: D }).sha256).toBe(
      p.round.sha256,
    );
  });

  it('after a review, only the reviewed sha256 is signed: PAYLOAD_CHANGED', () => {
    const k = keeper(t1);
    const p = payload('targets-v2-r5', v2());
    const reviewed = decideMetadataRound(k.verified(), askedFor('targets-v2-r5'), p, [alice.publicKey], {
      dialect: D,
    }).sha256;
    const swapped = payload(
      'targets-v2-r5',
      targetsBody(2, `{"fw-a":${entry(1)},"constructor":${entry(2)},"evil":${entry(9)}}`),
    );
    expect(
      refusal(() =>
        decideMetadataRound(k.verified(), askedFor('targets-v2-r5'), swapped, [alice.publicKey], {
          dialect: D,
          reviewed,
        }),
      ).code,
    ).toBe('PAYLOAD_CHANGED');
    expect(
      decideMetadataRound(k.verified(), askedFor('targets-v2-r5'), p, [alice.publicKey], { dialect: D, reviewed })
        .sha256,
    ).toBe(reviewed);
  });

  it('an offline bundle names its round by an id that must spell its role and version, and bytes of that version', async () => {
    const k = keeper();
    const p = payload('targets-v2-r5', v2());
    const bundle = (b: Partial<Bundle>): Bundle => ({
      format: 'uptane-quorum-round-v1',
      dialect: D,
      roots: [],
      targets: t1,
      ...p,
      ...b,
    });
    const run = (b: Bundle) => {
      const s = bundleSource(b);
      return checkMetadataRound(s, k, s.asked, [alice.publicKey], { dialect: D });
    };
    expect((await run(bundle({}))).sha256).toBe(p.round.sha256);
    expect((await refusalOf(run(bundle({ round: { ...p.round, id: 'targets-v3-r5' } })))).code).toBe('ROUND_MISMATCH');
    expect((await refusalOf(run(bundle({ round: { ...p.round, version: 3 } })))).code).toBe('ROUND_MISMATCH');
  });
});

describe('metadata rounds: no diff without a verified base', () => {
  const v3 = () => targetsBody(3, `{"fw-a":${entry(1)},"fw-b":${entry(3)},"fw-c":${entry(4)}}`);
  let t2: string;
  beforeAll(async () => {
    t2 = await released(targetsBody(2, `{"fw-a":${entry(1)},"fw-b":${entry(3)}}`));
  });

  it('control: with the released targets it kept provided, a round of version + 1 is decided against them', async () => {
    const k = keeper(t2);
    const d = await checkMetadataRound(
      source({ roots: [], targets: t2 }, { 'targets-v3-r9': payload('targets-v3-r9', v3()) }),
      k,
      askedFor('targets-v3-r9'),
      [alice.publicKey],
      { dialect: D },
    );
    expect(d.summary.changes).toEqual([expect.stringMatching(/^TARGET ADDED: fw-c/)]);
  });

  it(
    'refuses when the coordinator withholds the released targets it kept: TARGETS_BASE_MISSING (no diff of ' +
      'everything as ADDED)',
    async () => {
      const k = keeper(t2);
      const rounds = {
        'targets-v3-r9': payload('targets-v3-r9', v3()),
        'targets-v1-r9': payload('targets-v1-r9', targetsBody(1, `{"evil":${entry(9)}}`)),
      };
      expect(
        (
          await refusalOf(
            checkMetadataRound(
              source({ roots: [], targets: null }, rounds),
              k,
              askedFor('targets-v3-r9'),
              [alice.publicKey],
              { dialect: D },
            ),
          )
        ).code,
      ).toBe('TARGETS_BASE_MISSING');
      // nor with an older one it also signed once, to pass off an old version as the base
      expect(
        (
          await refusalOf(
            checkMetadataRound(
              source({ roots: [], targets: t1 }, rounds),
              k,
              askedFor('targets-v3-r9'),
              [alice.publicKey],
              { dialect: D },
            ),
          )
        ).code,
      ).toBe('TARGETS_BASE_MISSING');
      expect(
        refusal(() =>
          verifyReleased({ ...k.state(), keptTargets: null, targetsSeen: 2 }, { roots: [], targets: null }, D),
        ).code,
      ).toBe('TARGETS_BASE_MISSING'); // a home that only noted the version
    },
  );

  it('refuses another release of the version it kept: TARGETS_BASE_CONFLICT', async () => {
    const k = keeper(t2);
    const fork = await released(targetsBody(2, `{"fw-a":${entry(1)}}`));
    expect(refusal(() => verifyReleased(k.state(), { roots: [], targets: fork }, D)).code).toBe(
      'TARGETS_BASE_CONFLICT',
    );
    // control: the same release written with other whitespace is the same release
    const compact = JSON.stringify(JSON.parse(t2));
    expect(compact).not.toBe(t2);
    const same = verifyReleased(k.state(), { roots: [], targets: compact }, D);
    expect(same.state.targets!.signed.version).toBe(2);
    expect(same.learned.targets).toBeNull();
  });

  it('a round must be the kept version + 1: VERSION_SKIP', async () => {
    const k = keeper(t2);
    const skip = payload('targets-v4-r9', targetsBody(4, '{}'));
    expect(
      (
        await refusalOf(
          checkMetadataRound(
            source({ roots: [], targets: t2 }, { 'targets-v4-r9': skip }),
            k,
            askedFor('targets-v4-r9'),
            [alice.publicKey],
            { dialect: D },
          ),
        )
      ).code,
    ).toBe('VERSION_SKIP');
  });
});

describe('what a person reads is what gets signed', () => {
  it(
    'control characters, escape sequences and bidi overrides in names, hardware ids and the reason are shown ' +
      'escaped',
    async () => {
      const k = keeper(t1);
      const name = 'fw\u001b[2K\rSAFE\u202egnp.exe';
      const body = targetsBody(
        2,
        `{"fw-a":${entry(1)},"constructor":${entry(2)},${JSON.stringify(name)}:${entry(5, ',"custom":{"hardwareIds":["ecu\\u009b1m","\\u2066x"]}')}}`,
      );
      const p = payload('targets-v2-r5', body, {
        reason:
          'routine\nchanges (computed by this client from the bytes):\n  (no key, threshold or target ' +
          'changes)\u001b[8m',
      });
      const d = decideMetadataRound(k.verified(), askedFor('targets-v2-r5'), p, [alice.publicKey], { dialect: D });
      expect(d.text).not.toMatch(
        /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069]/,
      );
      expect(d.text).toContain('TARGET ADDED: fw\\x1b[2K\\rSAFE\\u202egnp.exe length 5');
      expect(d.text).toContain('hardwareIds ecu\\x9b1m,\\u2066x');
      expect(d.text).toContain(
        'reason (from the coordinator): routine\\nchanges (computed by this client from the bytes):\\n  (no key, ' +
          'threshold or target changes)\\x1b[8m',
      );
      expect(d.text.split('\n').filter((l) => l.startsWith('changes (computed'))).toHaveLength(1);
    },
  );

  it('targets named __proto__, constructor and prototype are ordinary names in the bytes, the summary and the diff', async () => {
    const k = keeper(t1);
    const body = targetsBody(
      2,
      `{"fw-a":${entry(1)},"constructor":${entry(2)},"__proto__":${entry(7)},"prototype":${entry(8)}}`,
    );
    const p = payload('targets-v2-r5', body);
    const d = decideMetadataRound(k.verified(), askedFor('targets-v2-r5'), p, [alice.publicKey], { dialect: D });
    expect(d.bytes.toString()).toContain('"__proto__":{"hashes"');
    expect(d.summary.changes.sort()).toEqual([
      expect.stringMatching(/^TARGET ADDED: __proto__ length 7/),
      expect.stringMatching(/^TARGET ADDED: prototype length 8/),
    ]);
    expect(d.summary.diff).toContain('+    "__proto__": {');
    // removing `constructor` is a removal, not a change to Object
    const removed = decideMetadataRound(
      k.verified(),
      askedFor('targets-v2-r5'),
      payload('targets-v2-r5', targetsBody(2, `{"fw-a":${entry(1)}}`)),
      [alice.publicKey],
      { dialect: D },
    );
    expect(removed.summary.changes).toEqual([expect.stringMatching(/^TARGET REMOVED: constructor length 2/)]);
  });
});

// --- certificates ------------------------------------------------------------------------------

describe('certificate rounds: the holder enforces the profile itself', () => {
  let dir: string;
  let ca: Signer;
  let fleet: Issued;
  let pinned: PinnedApprovers;
  let approver: Signer;
  const F = x509.KeyUsageFlags;

  const csr = (subject: string) => {
    const file = path.join(dir, `${subject.replace(/\W/g, '')}.key.pem`);
    fs.writeFileSync(file, generateKeyPair('ecdsa').privateKey.export({ format: 'pem', type: 'pkcs8' }));
    return execFileSync('openssl', ['req', '-new', '-key', file, '-subj', subject], { encoding: 'utf8' });
  };
  async function certPayload(
    id: string,
    profile: ProfileName,
    p: Prepared,
    edit: (tbs: Buffer) => Buffer = (t) => t,
  ): Promise<CertPayload> {
    const tbs = edit(tbsBytes(p));
    const now = new Date().toISOString();
    const round: CertRoundInfo = {
      id,
      ca: 'fleet',
      profile,
      state: 'open',
      reason: 'routine',
      deadline: now,
      createdAt: now,
      tbsSha256: sha256hex(tbs),
      issuerFingerprint: p.issuerFingerprint,
      holder: 'ca',
      approvals: { threshold: 1, approved: ['approver'], missing: [], met: true },
    };
    const sig = await approver.sign(approvalMessage(tbs, p.issuerFingerprint));
    return {
      round,
      tbs: tbs.toString('base64'),
      chain: [...p.chain],
      approvals: [
        { keyholder: 'approver', publicKey: approver.publicKey.spki.toString('base64'), sig: sig.toString('base64') },
      ],
    };
  }
  const sign = (id: string, p: CertPayload) =>
    decideCertRound(id, p, { as: 'sign', caKey: ca.publicKey, approvers: pinned });

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'workflow-cert-'));
    ca = localSigner(generateKeyPair('ecdsa').privateKey);
    approver = localSigner(generateKeyPair('ed25519').privateKey);
    fleet = await issueWith(ca, 'fleet-root', {
      subjectPublicKey: ca.publicKey,
      fleetName: 'Acme Fleet',
      issuer: 'self',
      notAfter: new Date(Date.now() + 400 * DAY),
    });
    pinned = {
      threshold: 1,
      approvers: [
        {
          name: 'approver',
          fingerprint: approver.publicKey.fingerprint,
          publicKey: approver.publicKey.keyObject.export({ type: 'spki', format: 'pem' }).toString(),
        },
      ],
    };
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('control: honest device, intermediate and fleet-root rounds are signed, their TBS is the bytes', async () => {
    const dev = await prepareCertificate('device', {
      csr: csr('/CN=device-1'),
      issuer: { certificate: fleet.certificate, chain: fleet.chain },
    });
    const d = sign('cert-1', await certPayload('cert-1', 'device', dev));
    expect(d.bytes.equals(tbsBytes(dev))).toBe(true);
    expect(d.approvedBy).toEqual(['approver']);
    const ica = await prepareCertificate('intermediate-ca', {
      csr: csr('/CN=line-1'),
      issuer: { certificate: fleet.certificate, chain: fleet.chain },
      notAfter: new Date(Date.now() + 300 * DAY),
    });
    expect(sign('cert-2', await certPayload('cert-2', 'intermediate-ca', ica)).bytes.equals(tbsBytes(ica))).toBe(true);
    const root = await prepareCertificate('fleet-root', {
      subjectPublicKey: ca.publicKey,
      fleetName: 'Acme Fleet',
      issuer: 'self',
    });
    expect(sign('cert-3', await certPayload('cert-3', 'fleet-root', root)).bytes.equals(tbsBytes(root))).toBe(true);
  });

  it(
    'refuses a device round whose TBS is a CA, signs certificates, serves TLS or lacks clientAuth, or has ' +
      'another extension: PROFILE_MISMATCH',
    async () => {
      const dev = await prepareCertificate('device', {
        csr: csr('/CN=device-2'),
        issuer: { certificate: fleet.certificate, chain: fleet.chain },
      });
      const lies: [string, (t: Buffer) => Buffer, RegExp][] = [
        [
          'CA flag',
          (t) => withExtension(t, new x509.BasicConstraintsExtension(true, undefined, true)),
          /basicConstraints are CA:TRUE, but a device certificate has CA:FALSE/,
        ],
        [
          'keyCertSign',
          (t) => withExtension(t, new x509.KeyUsagesExtension(F.digitalSignature | F.keyCertSign, true)),
          /keyUsage is Digital Signature, Certificate Sign/,
        ],
        [
          'serverAuth',
          (t) => withExtension(t, new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], true)),
          /extendedKeyUsage is TLS Web Server Authentication/,
        ],
        ['no EKU', (t) => withoutExtension(t, '2.5.29.37'), /no extendedKeyUsage extension/],
        [
          'non-critical KU',
          (t) => withExtension(t, new x509.KeyUsagesExtension(F.digitalSignature, false)),
          /keyUsage is not critical/,
        ],
        [
          'SAN',
          (t) => withExtension(t, new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'evil.example' }])),
          /subjectAltName extension, which a device certificate never has/,
        ],
        [
          'too long',
          (t) => withValidity(t, new Date(Date.now() - DAY), new Date(Date.now() + 380 * DAY)),
          /valid for 381\.0 days, but a device certificate for at most 366/,
        ],
        [
          'beyond issuer',
          (t) => withValidity(t, new Date(Date.now() + 100 * DAY), new Date(Date.now() + 420 * DAY)),
          /after its issuer's certificate/,
        ],
      ];
      for (const [what, edit, re] of lies) {
        const p = await certPayload('cert-9', 'device', dev, edit);
        const e = refusal(() => sign('cert-9', p));
        expect(e.code, what).toBe('PROFILE_MISMATCH');
        expect(e.message, what).toMatch(re);
        // approvers refuse it too, and so does a FROST participant, before anything is signed
        expect(refusal(() => decideCertRound('cert-9', p, { as: 'approve' })).code, what).toBe('PROFILE_MISMATCH');
        expect(refusal(() => decideCertRound('cert-9', p, { as: 'frost' })).code, what).toBe('PROFILE_MISMATCH');
      }
    },
  );

  it(
    'refuses an intermediate round whose TBS may issue further CAs, a device TBS called an intermediate, and a ' +
      'CA under an issuer that may not issue CAs',
    async () => {
      const ica = await prepareCertificate('intermediate-ca', {
        csr: csr('/CN=line-2'),
        issuer: { certificate: fleet.certificate, chain: fleet.chain },
        notAfter: new Date(Date.now() + 300 * DAY),
      });
      const p = await certPayload('cert-10', 'intermediate-ca', ica, (t) =>
        withExtension(t, new x509.BasicConstraintsExtension(true, undefined, true)),
      );
      expect(refusal(() => sign('cert-10', p)).message).toMatch(
        /basicConstraints are CA:TRUE, but a intermediate-ca certificate has CA:TRUE, pathlen:0/,
      );
      // the coordinator calls a device certificate an intermediate round, and an intermediate a device
      const dev = await prepareCertificate('device', {
        csr: csr('/CN=device-3'),
        issuer: { certificate: fleet.certificate, chain: fleet.chain },
      });
      const asIca = await certPayload('cert-11', 'device', dev);
      expect(
        refusal(() => sign('cert-11', { ...asIca, round: { ...asIca.round, profile: 'intermediate-ca' } })).code,
      ).toBe('PROFILE_MISMATCH');
      const asDevice = await certPayload('cert-11', 'intermediate-ca', ica);
      expect(
        refusal(() => sign('cert-11', { ...asDevice, round: { ...asDevice.round, profile: 'device' } })).code,
      ).toBe('PROFILE_MISMATCH');
      // a CA certificate under an intermediate (pathlen 0): the TBS of a device there, made into a CA
      const line = await issueWith(ca, 'intermediate-ca', {
        csr: csr('/CN=line-3'),
        issuer: { certificate: fleet.certificate, chain: fleet.chain },
        notAfter: new Date(Date.now() + 300 * DAY),
      });
      const under = await prepareCertificate('device', {
        csr: csr('/CN=device-6'),
        issuer: { certificate: line.certificate, chain: line.chain },
      });
      const sub = await certPayload('cert-14', 'intermediate-ca', under, (t) =>
        withoutExtension(
          withExtension(
            withExtension(t, new x509.BasicConstraintsExtension(true, 0, true)),
            new x509.KeyUsagesExtension(F.keyCertSign | F.cRLSign, true),
          ),
          '2.5.29.37',
        ),
      );
      const e = refusal(() => decideCertRound('cert-14', sub, { as: 'approve' }));
      expect(e.code).toBe('PROFILE_MISMATCH');
      expect(e.message).toMatch(/its issuer CN=line-3 has pathLen 0, so it cannot issue another CA/);
    },
  );

  it('a certificate round is the one asked for, and after a review only its TBS is signed', async () => {
    const dev = await prepareCertificate('device', {
      csr: csr('/CN=device-4'),
      issuer: { certificate: fleet.certificate, chain: fleet.chain },
    });
    const p = await certPayload('cert-12', 'device', dev);
    expect(refusal(() => sign('cert-13', p)).code).toBe('ROUND_MISMATCH');
    const other = await prepareCertificate('device', {
      csr: csr('/CN=device-5'),
      issuer: { certificate: fleet.certificate, chain: fleet.chain },
    });
    const q = await certPayload('cert-12', 'device', other);
    expect(
      refusal(() =>
        decideCertRound(
          'cert-12',
          q,
          { as: 'sign', caKey: ca.publicKey, approvers: pinned },
          { reviewed: p.round.tbsSha256 },
        ),
      ).code,
    ).toBe('PAYLOAD_CHANGED');
    expect(refusal(() => decideCertRound('cert-12', q, { as: 'approve' }, { reviewed: p.round.tbsSha256 })).code).toBe(
      'PAYLOAD_CHANGED',
    );
    // a FROST participant (frost sign) likewise
    expect(refusal(() => decideCertRound('cert-12', q, { as: 'frost' }, { reviewed: p.round.tbsSha256 })).code).toBe(
      'PAYLOAD_CHANGED',
    );
    expect(refusal(() => decideCertRound('cert-13', p, { as: 'frost' })).code).toBe('ROUND_MISMATCH');
    expect(
      decideCertRound(
        'cert-12',
        p,
        { as: 'sign', caKey: ca.publicKey, approvers: pinned },
        { reviewed: p.round.tbsSha256 },
      ).bytes.equals(tbsBytes(dev)),
    ).toBe(true);
  });
});
