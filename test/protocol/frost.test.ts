/**
 * FROST(Ed25519, SHA-512): the RFC 9591 E.1 vector value by value through @noble/curves, then our
 * ceremony on real files: a 3-of-5 DKG with end-to-end encrypted round-2 shares, signing with
 * every 3-subset, dropped participants, bad shares and packages named by participant, nonce reuse
 * refused across restarts, and TUF / ota repositories whose root and targets keys are FROST
 * groups, accepted by verifyRepository, tuf-js's models and the `quorum verify` command.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ed25519, ed25519_FROST } from '@noble/curves/ed25519.js';
import { Metadata, MetadataKind } from '@tufjs/models';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalize, type Dialect } from '../../protocol/canonical.js';
import {
  aggregateSignature,
  checkCommitment,
  checkGroup,
  commitmentId,
  dkgAgree,
  dkgFinish,
  dkgRestore,
  dkgRound2,
  dkgSnapshot,
  dkgStart,
  FrostError,
  frostSigner,
  frostSignShare,
  generateIdentityKey,
  groupFromTranscript,
  groupPublicKey,
  inProcessFrostSigner,
  newCeremony,
  openShare,
  runSigningRound,
  sealShare,
  signIdentity,
  signTranscript,
  verifySignatureShare,
  type DkgOutcome,
  type DkgState,
  type FrostCeremony,
  type FrostCommitment,
  type FrostDkgRound1,
  type FrostDkgRound2,
  type FrostGroup,
  type FrostParty,
  type FrostShare,
  type FrostSignRequest,
  type IdentityKey,
} from '../../protocol/frost.js';
import { FrostClientMessageSchema, FrostServerMessageSchema } from '../../protocol/frost-wire.js';
import { ed25519FromRaw, generateKeyPair, sha256hex, verifySignature } from '../../protocol/keys.js';
import {
  buildRoot,
  buildSnapshot,
  buildTargets,
  buildTimestamp,
  localSigner,
  serialize,
  signEnvelope,
  targetFor,
  type Signer,
} from '../../protocol/metadata/build.js';
import { loadRepository } from '../../protocol/repository.js';
import { verifyRepository } from '../../protocol/verify.js';
import { FrostKeyholder, FrostStore } from '../../signer-client/frost-store.js';
import { FIXTURES } from '../paths.js';
import { runCli, TempDirs, writeTree } from '../interop/helpers.js';
import { testRsaKey } from '../test-keys.js';

const F = ed25519_FROST;
const Fn = F.utils.Fn;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const bytes = (h: string) => Buffer.from(h, 'hex');
const LOW_COST = { N: 1 << 14, r: 8, p: 1 }; // the minimum the store accepts; keeps the tests quick
const PASS = 'correct horse battery';
const temps = new TempDirs();
afterAll(() => temps.cleanup());

/** `e` is a FrostError with this code (and these participants named); anything else is rethrown. */
function frostErrorOf(e: unknown, code: string, participants?: number[]): FrostError {
  if (!(e instanceof FrostError)) throw e;
  expect(e.code).toBe(code);
  if (participants) expect(e.participants).toEqual(participants);
  return e;
}

function expectFrost(fn: () => unknown, code: string, participants?: number[]): FrostError {
  try {
    fn();
  } catch (e) {
    return frostErrorOf(e, code, participants);
  }
  throw new Error(`expected a FrostError ${code}`);
}

async function expectFrostAsync(p: Promise<unknown>, code: string, participants?: number[]): Promise<FrostError> {
  try {
    await p;
  } catch (e) {
    return frostErrorOf(e, code, participants);
  }
  throw new Error(`expected a FrostError ${code}`);
}

// --- RFC 9591 Appendix E.1 ------------------------------------------------------------------------

interface Vector {
  config: { MAX_PARTICIPANTS: string; MIN_PARTICIPANTS: string; NUM_PARTICIPANTS: string; context_string: string };
  inputs: {
    participant_list: number[];
    group_secret_key: string;
    group_public_key: string;
    message: string;
    share_polynomial_coefficients: string[];
    participant_shares: { identifier: number; participant_share: string }[];
  };
  round_one_outputs: {
    outputs: {
      identifier: number;
      hiding_nonce_randomness: string;
      binding_nonce_randomness: string;
      hiding_nonce: string;
      binding_nonce: string;
      hiding_nonce_commitment: string;
      binding_nonce_commitment: string;
      binding_factor_input: string;
      binding_factor: string;
    }[];
  };
  round_two_outputs: { outputs: { identifier: number; sig_share: string }[] };
  final_output: { sig: string };
}

describe('RFC 9591 E.1 FROST(Ed25519, SHA-512) vector, through @noble/curves', () => {
  // Source: test/fixtures/frost/rfc9591-ed25519-sha512.json, RFC 9591 Appendix E.1 (test/fixtures/PROVENANCE.md).
  const v = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'frost/rfc9591-ed25519-sha512.json'), 'utf8')) as Vector;
  const signers = { min: Number(v.config.MIN_PARTICIPANTS), max: Number(v.config.MAX_PARTICIPANTS) };
  const msg = bytes(v.inputs.message);
  const id = (n: number) => F.Identifier.fromNumber(n);

  /**
   * noble's trusted dealer draws the non-constant coefficients from its rng through
   * mapHashToField (48 bytes, little-endian, reduced mod L-1, plus 1), so bytes encoding
   * coefficient - 1 make it use the RFC's share_polynomial_coefficients[1].
   */
  function dealerRng(): (n?: number) => Uint8Array {
    const queue = v.inputs.share_polynomial_coefficients.map((c) => {
      const b = Buffer.alloc(48);
      let x = Fn.fromBytes(bytes(c)) - 1n;
      for (let i = 0; i < 48; i++, x >>= 8n) b[i] = Number(x & 0xffn);
      return b;
    });
    return (n?: number) => {
      expect(n).toBe(48);
      const next = queue.shift();
      if (!next) throw new Error('the dealer asked for more randomness than the vector has coefficients');
      return next;
    };
  }
  const deal = () => F.trustedDealer(signers, [1, 2, 3].map(id), bytes(v.inputs.group_secret_key), dealerRng());

  /** RFC 9591 4.1 nonce_generate takes 32 random bytes: the vector's, hiding first. */
  function nonceRng(o: Vector['round_one_outputs']['outputs'][number]) {
    const queue = [bytes(o.hiding_nonce_randomness), bytes(o.binding_nonce_randomness)];
    return (n?: number) => {
      expect(n).toBe(32);
      return queue.shift()!;
    };
  }
  const round1 = () => {
    const d = deal();
    return { d, r1: v.round_one_outputs.outputs.map((o) => F.commit(d.secretShares[id(o.identifier)]!, nonceRng(o))) };
  };

  it('group public key, VSS commitment and every participant share (trusted dealer, RFC 9591 C.1)', () => {
    const d = deal();
    expect(hex(d.public.commitments[0]!)).toBe(v.inputs.group_public_key);
    expect(hex(ed25519.Point.BASE.multiply(Fn.fromBytes(bytes(v.inputs.group_secret_key))).toBytes())).toBe(
      v.inputs.group_public_key,
    );
    expect(hex(d.public.commitments[1]!)).toBe(
      hex(ed25519.Point.BASE.multiply(Fn.fromBytes(bytes(v.inputs.share_polynomial_coefficients[0]!))).toBytes()),
    );
    for (const p of v.inputs.participant_shares) {
      const s = d.secretShares[id(p.identifier)]!;
      expect(hex(s.signingShare)).toBe(p.participant_share);
      expect(hex(d.public.verifyingShares[id(p.identifier)]!)).toBe(
        hex(ed25519.Point.BASE.multiply(Fn.fromBytes(bytes(p.participant_share))).toBytes()),
      );
      expect(() => F.validateSecret(s, d.public)).not.toThrow();
    }
    // Any two shares recover the group secret (RFC 9591 C.1 secret_share_combine).
    const shares = v.inputs.participant_list.map((n) => d.secretShares[id(n)]!);
    expect(hex(F.combineSecret(shares, signers))).toBe(v.inputs.group_secret_key);
  });

  it('hiding and binding nonces and their commitments from the given randomness (RFC 9591 5.1)', () => {
    const { r1 } = round1();
    v.round_one_outputs.outputs.forEach((o, i) => {
      const c = r1[i]!;
      expect(hex(c.nonces.hiding)).toBe(o.hiding_nonce);
      expect(hex(c.nonces.binding)).toBe(o.binding_nonce);
      expect(hex(c.commitments.hiding)).toBe(o.hiding_nonce_commitment);
      expect(hex(c.commitments.binding)).toBe(o.binding_nonce_commitment);
      expect(c.commitments.identifier).toBe(id(o.identifier));
    });
  });

  it('binding factor inputs and binding factors (RFC 9591 4.3-4.5), recomputed beside noble', () => {
    // noble computes these inside signShare/aggregate without exporting them. Recompute with
    // node:crypto SHA-512 and noble's scalar field from the public values, then tie them to
    // noble's output: the group commitment they give is the R of noble's aggregate signature.
    const { d, r1 } = round1();
    const sha512 = (...parts: Buffer[]) => crypto.createHash('sha512').update(Buffer.concat(parts)).digest();
    const ctx = Buffer.from(v.config.context_string);
    const leInt = (b: Buffer) => BigInt('0x' + Buffer.from(b).reverse().toString('hex'));
    // RFC 9591 6.5: SHA-512 as a little-endian integer mod L
    const H1 = (m: Buffer) => Fn.create(leInt(sha512(ctx, Buffer.from('rho'), m)));
    const scalarLE = (x: bigint) => Buffer.from(Fn.toBytes(x));
    const sorted = v.round_one_outputs.outputs
      .map((o, i) => ({ o, c: r1[i]! }))
      .sort((a, b) => a.o.identifier - b.o.identifier);
    const encoded = Buffer.concat(
      sorted.flatMap(({ o, c }) => [
        scalarLE(BigInt(o.identifier)),
        Buffer.from(c.commitments.hiding),
        Buffer.from(c.commitments.binding),
      ]),
    );
    const rhoPrefix = Buffer.concat([
      Buffer.from(d.public.commitments[0]!),
      sha512(ctx, Buffer.from('msg'), msg),
      sha512(ctx, Buffer.from('com'), encoded),
    ]);
    let R = ed25519.Point.ZERO;
    for (const { o, c } of sorted) {
      const input = Buffer.concat([rhoPrefix, scalarLE(BigInt(o.identifier))]);
      expect(input.toString('hex')).toBe(o.binding_factor_input);
      const rho = H1(input);
      expect(hex(Fn.toBytes(rho))).toBe(o.binding_factor);
      R = R.add(ed25519.Point.fromBytes(c.commitments.hiding)).add(
        ed25519.Point.fromBytes(c.commitments.binding).multiply(rho),
      );
    }
    expect(R.toHex()).toBe(v.final_output.sig.slice(0, 64));
  });

  it('signature shares verify (RFC 9591 5.2, 5.4) and aggregate to the final signature (5.3)', () => {
    const { d, r1 } = round1();
    const list = r1.map((c) => c.commitments);
    const shares: Record<string, Uint8Array> = {};
    v.round_two_outputs.outputs.forEach((o, i) => {
      const s = F.signShare(d.secretShares[id(o.identifier)]!, d.public, r1[i]!.nonces, list, msg);
      expect(hex(s)).toBe(o.sig_share);
      expect(F.verifyShare(d.public, list, msg, id(o.identifier), s)).toBe(true);
      shares[id(o.identifier)] = s;
    });
    expect(hex(F.aggregate(d.public, list, msg, shares))).toBe(v.final_output.sig);
  });

  it('the final signature is a plain Ed25519 signature: node:crypto and strict RFC 8032 accept it', () => {
    const pk = ed25519FromRaw(bytes(v.inputs.group_public_key));
    const sig = bytes(v.final_output.sig);
    expect(crypto.verify(null, msg, pk.keyObject, sig)).toBe(true);
    expect(verifySignature(pk, msg, sig)).toBe(true);
    expect(crypto.verify(null, Buffer.from('tesT'), pk.keyObject, sig)).toBe(false);
    // The same signature from a single key with the group secret (RFC 8032 verifies both alike).
    expect(F.verify(sig, msg, bytes(v.inputs.group_public_key))).toBe(true);
  });

  it('our layer reproduces it: group record, frostSignShare with the RFC nonces, aggregateSignature', () => {
    const { d, r1 } = round1();
    const group: FrostGroup = {
      ceremony: 'rfc9591-e1',
      ceremonyDigest: sha256hex('rfc9591-e1'),
      threshold: signers.min,
      groupPublicKey: v.inputs.group_public_key,
      commitments: d.public.commitments.map(hex),
      participants: v.inputs.participant_shares.map((p) => ({
        identifier: p.identifier,
        name: `p${p.identifier}`,
        identityKey: generateIdentityKey().publicKey,
        verifyingShare: hex(d.public.verifyingShares[id(p.identifier)]!),
      })),
    };
    expect(checkGroup(group)).toEqual(group);
    const commitments = r1.map((c, i) => ({
      identifier: v.round_one_outputs.outputs[i]!.identifier,
      hiding: hex(c.commitments.hiding),
      binding: hex(c.commitments.binding),
    }));
    const request: FrostSignRequest = {
      session: 'rfc',
      groupPublicKey: group.groupPublicKey,
      messageSha256: sha256hex(msg),
      commitments,
    };
    const shares = v.round_two_outputs.outputs.map((o, i) => {
      const share: FrostShare = {
        group,
        identifier: o.identifier,
        signingShare: bytes(v.inputs.participant_shares.find((p) => p.identifier === o.identifier)!.participant_share),
      };
      const s = frostSignShare(
        share,
        { hiding: Buffer.from(r1[i]!.nonces.hiding), binding: Buffer.from(r1[i]!.nonces.binding) },
        request,
        msg,
      );
      expect(s).toEqual({ identifier: o.identifier, share: o.sig_share });
      return s;
    });
    expect(aggregateSignature(group, request, msg, shares).toString('hex')).toBe(v.final_output.sig);
    expect(aggregateSignature(group, request, msg, shares, { verifyShares: 'on-failure' }).toString('hex')).toBe(
      v.final_output.sig,
    );
  });
});

// --- a DKG ceremony, with the coordinator's relaying done here ---------------------------------

interface Member {
  name: string;
  store: FrostStore;
  identity: IdentityKey;
}

function members(prefix: string, names: string[]): Member[] {
  const root = temps.make(prefix);
  return names.map((name) => {
    const store = FrostStore.open(path.join(root, name));
    store.createIdentity(PASS, LOW_COST);
    return { name, store, identity: store.unlockIdentity(PASS) };
  });
}

interface Dkg {
  ceremony: FrostCeremony;
  states: DkgState[];
  round1All: FrostDkgRound1[];
  round2: FrostDkgRound2[];
}

/** Rounds 1 and 2 for everyone; round 2's packages, as the coordinator would hold them. */
function dkgToRound2(id: string, threshold: number, ms: Member[]): Dkg {
  const ceremony = newCeremony(
    id,
    threshold,
    ms.map((m) => ({ name: m.name, identityKey: m.store.identityPublicKey() })),
  );
  const started = ms.map((_, i) => dkgStart(ceremony, i + 1));
  const round1All = started.map((s) => s.round1);
  const round2 = started.flatMap((s, i) => dkgRound2(s.state, round1All, ms[i]!.identity));
  return { ceremony, states: started.map((s) => s.state), round1All, round2 };
}

const inbox = (d: Dkg, to: number) => d.round2.filter((p) => p.to === to);

function runDkg(id: string, threshold: number, ms: Member[]): { dkg: Dkg; outcomes: DkgOutcome[]; group: FrostGroup } {
  const dkg = dkgToRound2(id, threshold, ms);
  const outcomes = dkg.states.map((s, i) => dkgFinish(s, inbox(dkg, i + 1), ms[i]!.identity));
  const group = dkgAgree(
    dkg.ceremony,
    dkg.round1All,
    outcomes.map((o) => o.confirm),
  );
  return { dkg, outcomes, group };
}

const NAMES = ['alice', 'bob', 'carol', 'dave', 'erin'];

interface ThreeOfFive {
  ms: Member[];
  dkg: Dkg;
  outcomes: DkgOutcome[];
  group: FrostGroup;
  holders: FrostKeyholder[];
}
let threeOfFiveMade: ThreeOfFive | null = null;
/**
 * The file's one 3-of-5 group: its DKG, the shares stored and unlocked. Made once (a DKG and its 20
 * scrypt runs cost ~2 s) for the two describes that need such a group.
 */
function threeOfFive(): ThreeOfFive {
  if (!threeOfFiveMade) {
    const ms = members('frost-3of5', NAMES);
    const { dkg, outcomes, group } = runDkg('fleet-ca-1', 3, ms);
    ms.forEach((m, i) => m.store.saveShare(outcomes[i]!.share, PASS, LOW_COST));
    const holders = ms.map((m) => m.store.unlockShare(group.groupPublicKey, PASS));
    threeOfFiveMade = { ms, dkg, outcomes, group, holders };
  }
  return threeOfFiveMade;
}

describe('FROST 3-of-5: DKG, storage and signing', () => {
  let ms: Member[];
  let dkg: Dkg;
  let outcomes: DkgOutcome[];
  let group: FrostGroup;
  let holders: FrostKeyholder[];

  beforeAll(() => {
    ({ ms, dkg, outcomes, group, holders } = threeOfFive());
  });

  it('everyone, the coordinator included, records the same group key and verifying shares', () => {
    expect(group.threshold).toBe(3);
    expect(group.participants.map((p) => [p.identifier, p.name])).toEqual(NAMES.map((n, i) => [i + 1, n]));
    for (const o of outcomes) expect(o.group).toEqual(group);
    // Each participant checks the others' confirmations the same way the coordinator does.
    for (let i = 0; i < 5; i++)
      expect(
        dkgAgree(
          dkg.ceremony,
          dkg.round1All,
          outcomes.map((o) => o.confirm),
        ),
      ).toEqual(group);
    expect(groupFromTranscript(dkg.ceremony, dkg.round1All)).toEqual(group);
    expect(checkGroup(group)).toEqual(group);
    // Each verifying share is G times that participant's secret share; the secret shares differ.
    for (const o of outcomes) {
      const vs = group.participants.find((p) => p.identifier === o.share.identifier)!.verifyingShare;
      expect(ed25519.Point.BASE.multiply(Fn.fromBytes(o.share.signingShare)).toHex()).toBe(vs);
    }
    expect(new Set(outcomes.map((o) => o.share.signingShare.toString('hex'))).size).toBe(5);
    // The group key is an ordinary, strictly valid Ed25519 key.
    expect(groupPublicKey(group).algorithm).toBe('ed25519');
  });

  it('every message of the ceremony is a valid wire message', async () => {
    const c = dkg.ceremony;
    expect(FrostServerMessageSchema.parse({ type: 'frost.dkg.open', ceremony: c }).type).toBe('frost.dkg.open');
    // Identity statements and transcript signatures, by Ed25519, ECDSA and RSA-PSS keys alike.
    const cp: FrostCeremony = { ...c, purpose: { kind: 'role-key', name: 'wire' } };
    const keys = ms.map((_, i) =>
      localSigner(i % 3 === 2 ? testRsaKey('rsa-4096') : generateKeyPair(i % 3 ? 'ecdsa' : 'ed25519').privateKey),
    );
    const identities = await Promise.all(ms.map((m, i) => signIdentity(cp, m.name, keys[i]!)));
    for (const [i, r] of dkg.round1All.entries())
      FrostClientMessageSchema.parse({ type: 'frost.dkg.round1', ceremony: c.id, package: r, identity: identities[i] });
    FrostServerMessageSchema.parse({
      type: 'frost.dkg.round1.all',
      ceremony: c.id,
      packages: dkg.round1All,
      identities,
    });
    for (let i = 1; i <= 5; i++) {
      FrostClientMessageSchema.parse({
        type: 'frost.dkg.round2',
        ceremony: c.id,
        packages: dkg.round2.filter((p) => p.from === i),
      });
      FrostServerMessageSchema.parse({ type: 'frost.dkg.round2.inbox', ceremony: c.id, packages: inbox(dkg, i) });
    }
    const transcripts = await Promise.all(outcomes.map((_, i) => signTranscript(cp, i + 1, 'ab'.repeat(32), keys[i]!)));
    for (const [i, o] of outcomes.entries())
      FrostClientMessageSchema.parse({
        type: 'frost.dkg.confirm',
        ceremony: c.id,
        confirm: o.confirm,
        transcript: transcripts[i],
      });
    FrostServerMessageSchema.parse({ type: 'frost.dkg.done', ceremony: c.id, group, transcripts });
    // Strict: an unknown field is an error, not ignored; a round-1 package without its statement is refused.
    expect(
      FrostClientMessageSchema.safeParse({
        type: 'frost.dkg.round1',
        ceremony: c.id,
        package: { ...dkg.round1All[0]!, extra: 1 },
        identity: identities[0],
      }).success,
    ).toBe(false);
    expect(
      FrostClientMessageSchema.safeParse({ type: 'frost.dkg.round1', ceremony: c.id, package: dkg.round1All[0]! })
        .success,
    ).toBe(false);
    // The relayed ciphertext carries no share in the clear.
    for (const p of dkg.round2)
      for (const o of outcomes) expect(JSON.stringify(p)).not.toContain(o.share.signingShare.toString('hex'));
  });

  it('shares are stored encrypted with an authenticated header; a wrong passphrase or an edited header is refused', () => {
    const m = ms[0]!;
    const file = m.store.shareFile(group.groupPublicKey);
    const text = fs.readFileSync(file, 'utf8');
    expect(text).not.toContain(outcomes[0]!.share.signingShare.toString('hex'));
    expect(text).not.toContain(outcomes[0]!.share.signingShare.toString('base64'));
    expect((fs.statSync(file).mode & 0o777).toString(8)).toBe('600');
    expect(m.store.groups()).toEqual([group]);
    expectFrost(() => m.store.unlockShare(group.groupPublicKey, 'not the passphrase'), 'FROST_PASSPHRASE');
    expectFrost(() => m.store.unlockIdentity('not the passphrase'), 'FROST_PASSPHRASE');
    // never overwritten
    expectFrost(() => m.store.saveShare(outcomes[0]!.share, PASS, LOW_COST), 'FROST_STORE_INVALID');
    const edited = temps.make('frost-edit');
    const copy = FrostStore.open(edited);
    const f = JSON.parse(text) as { identifier: number; group: FrostGroup };
    const write = (o: unknown) => fs.writeFileSync(copy.shareFile(group.groupPublicKey), JSON.stringify(o));
    write({ ...f, identifier: 2 }); // claim to be bob
    expectFrost(() => copy.unlockShare(group.groupPublicKey, PASS), 'FROST_PASSPHRASE');
    write({
      ...f,
      group: {
        ...f.group,
        participants: f.group.participants.map((p) => (p.identifier === 5 ? { ...p, name: 'mallory' } : p)),
      },
    });
    expectFrost(() => copy.unlockShare(group.groupPublicKey, PASS), 'FROST_PASSPHRASE');
    write(f);
    expect(copy.unlockShare(group.groupPublicKey, PASS).identifier).toBe(1);
  });

  it('every 3-subset of the 5 participants signs; each signature verifies with node:crypto', async () => {
    const subsets: number[][] = [];
    for (let a = 1; a <= 5; a++)
      for (let b = a + 1; b <= 5; b++) for (let c = b + 1; c <= 5; c++) subsets.push([a, b, c]);
    expect(subsets).toHaveLength(10);
    const pk = groupPublicKey(group);
    for (const subset of subsets) {
      const message = canonicalize({ subset, note: 'release firmware 2.0' }, 'tuf');
      const r = await runSigningRound(group, message, { parties: subset.map((i) => holders[i - 1]!) });
      expect(r.signers).toEqual(subset);
      expect(r.attempts).toHaveLength(1);
      expect(crypto.verify(null, message, pk.keyObject, r.signature)).toBe(true);
      expect(verifySignature(pk, message, r.signature)).toBe(true);
      expect(crypto.verify(null, Buffer.concat([message, Buffer.from(' ')]), pk.keyObject, r.signature)).toBe(false);
    }
    // Every nonce was used once and erased.
    for (const h of holders) expect(h.pending()).toEqual([]);
  });

  it('a participant that commits and then vanishes: the round restarts with another subset', async () => {
    const vanishing: FrostParty = {
      identifier: 2,
      commit: (s) => holders[1]!.commit(s),
      sign: () => new Promise(() => undefined),
    };
    const message = Buffer.from('targets v7');
    const r = await runSigningRound(group, message, {
      parties: [holders[0]!, vanishing, holders[2]!, holders[3]!, holders[4]!],
      timeoutMs: 300,
    });
    expect(r.attempts.map((a) => a.signers)).toEqual([
      [1, 2, 3],
      [1, 3, 4],
    ]);
    expect(r.attempts[0]!.dropped).toMatchObject([{ identifier: 2, round: 2 }]);
    expect(r.signers).toEqual([1, 3, 4]);
    expect(crypto.verify(null, message, groupPublicKey(group).keyObject, r.signature)).toBe(true);
    // Bob's commitment is still outstanding in his store (he never signed); nobody else's is.
    expect(holders[1]!.pending()).toHaveLength(1);
    holders[1]!.abandonSync({
      identifier: 2,
      ...JSON.parse(fs.readFileSync(path.join(holders[1]!.nonceDir, `${holders[1]!.pending()[0]}.nonce.json`), 'utf8'))
        .commitment,
    });
    expect(holders[1]!.pending()).toEqual([]);
    for (const h of [holders[0]!, holders[2]!, holders[3]!]) expect(h.pending()).toEqual([]);
  });

  it("a participant that fails in round 1: the others' commitments are abandoned, fresh ones made", async () => {
    const failing: FrostParty = {
      identifier: 1,
      commit: async () => Promise.reject(new Error('token unplugged')),
      sign: () => Promise.reject(new Error('unreachable')),
    };
    const message = Buffer.from('root v3');
    const seen: string[] = [];
    const r = await runSigningRound(group, message, {
      parties: [failing, ...holders.slice(1)],
      onAttempt: (a) => seen.push(`${a.signers.join()}:${a.dropped.map((d) => `${d.identifier}@${d.round}`).join()}`),
    });
    expect(seen).toEqual(['1,2,3:1@1', '2,3,4:']);
    expect(crypto.verify(null, message, groupPublicKey(group).keyObject, r.signature)).toBe(true);
    for (const h of holders) expect(h.pending()).toEqual([]);
  });

  it('too few participants left: FROST_NOT_ENOUGH_SIGNERS names the dropped', async () => {
    const gone = (identifier: number): FrostParty => ({
      identifier,
      commit: () => Promise.reject(new Error('offline')),
      sign: () => Promise.reject(new Error('offline')),
    });
    await expectFrostAsync(
      runSigningRound(group, Buffer.from('x'), { parties: [gone(1), gone(2), holders[2]!, holders[3]!] }),
      'FROST_NOT_ENOUGH_SIGNERS',
      [1, 2],
    );
    for (const h of holders) expect(h.pending()).toEqual([]);
  });

  it('a bad signature share is identified by participant, and no signature is released', async () => {
    const message = Buffer.from('snapshot v9');
    const liar: FrostParty = {
      identifier: 3,
      commit: (s) => holders[2]!.commit(s),
      sign: async (req, m) => {
        const honest = await holders[2]!.sign(req, m);
        return { ...honest, share: hex(Fn.toBytes(Fn.add(Fn.fromBytes(bytes(honest.share)), 1n))) };
      },
    };
    const e = await expectFrostAsync(
      runSigningRound(group, message, { parties: [holders[0]!, holders[1]!, liar] }),
      'FROST_BAD_SIGNATURE_SHARE',
      [3],
    );
    expect(e.message).toContain('participant 3 (carol)');
    // Also when shares are only checked after a failed aggregate.
    await expectFrostAsync(
      runSigningRound(group, message, {
        parties: [holders[0]!, liar, holders[3]!],
        aggregate: { verifyShares: 'on-failure' },
      }),
      'FROST_BAD_SIGNATURE_SHARE',
      [3],
    );
  });

  it('nonce reuse: another message with a used commitment is refused, also after re-opening the store', async () => {
    const [a, b, c] = holders as [FrostKeyholder, FrostKeyholder, FrostKeyholder];
    const commitments = [a.commitSync('s1'), b.commitSync('s1'), c.commitSync('s1')];
    const msgA = Buffer.from('targets: firmware-2.0.bin');
    const msgB = Buffer.from('targets: firmware-6.6.6-evil.bin');
    const req = (session: string, m: Buffer): FrostSignRequest => ({
      session,
      groupPublicKey: group.groupPublicKey,
      messageSha256: sha256hex(m),
      commitments,
    });
    const shareA = a.signSync(req('s1', msgA), msgA);
    // Same commitment, different message: refused.
    expectFrost(() => a.signSync(req('s2', msgB), msgB), 'FROST_NONCE_USED');
    // Same commitment and message, another commitment list (another binding factor): refused.
    const otherList = [commitments[0]!, commitments[1]!, holders[3]!.commitSync('s3')];
    expectFrost(() => a.signSync({ ...req('s3', msgA), commitments: otherList }, msgA), 'FROST_NONCE_USED');
    // The identical request again (a lost answer) gets the identical share, nothing new.
    expect(a.signSync(req('s1-retry', msgA), msgA)).toEqual(shareA);
    // A message other than the one the request names is refused before any nonce is touched.
    expectFrost(() => b.signSync(req('s1', msgA), msgB), 'FROST_MESSAGE_MISMATCH');

    // Restart: re-open the store from disk.
    const a2 = ms[0]!.store.unlockShare(group.groupPublicKey, PASS);
    expectFrost(() => a2.signSync(req('s4', msgB), msgB), 'FROST_NONCE_USED');
    expect(a2.signSync(req('s1', msgA), msgA)).toEqual(shareA);
    // The other two complete the round; the aggregate verifies.
    const shares = [
      shareA,
      b.signSync(req('s1', msgA), msgA),
      ms[2]!.store.unlockShare(group.groupPublicKey, PASS).signSync(req('s1', msgA), msgA),
    ];
    expect(
      crypto.verify(
        null,
        msgA,
        groupPublicKey(group).keyObject,
        aggregateSignature(group, req('s1', msgA), msgA, shares),
      ),
    ).toBe(true);
    holders[3]!.abandonSync(otherList[2]!);
  });

  it('nonce durability: a commitment survives a restart for one use; a crash after the guard still refuses', () => {
    const store = ms[3]!.store;
    const d = store.unlockShare(group.groupPublicKey, PASS);
    const e = holders[4]!;
    const mine = d.commitSync('crash');
    const commitments = [mine, e.commitSync('crash'), holders[0]!.commitSync('crash')];
    const m1 = Buffer.from('message one');
    const m2 = Buffer.from('message two');
    const req = (m: Buffer): FrostSignRequest => ({
      session: 'crash',
      groupPublicKey: group.groupPublicKey,
      messageSha256: sha256hex(m),
      commitments,
    });
    // "Crash" between commit and sign: the nonce is on disk, so the re-opened store can sign once.
    const d2 = store.unlockShare(group.groupPublicKey, PASS);
    expect(d2.pending()).toContain(commitmentId(mine));
    const nonceFile = path.join(d2.nonceDir, `${commitmentId(mine)}.nonce.json`);
    const saved = fs.readFileSync(nonceFile);
    expect(saved.toString()).not.toMatch(/"hiding_nonce"|"nonces"/);
    d2.signSync(req(m1), m1);
    expect(fs.existsSync(nonceFile)).toBe(false); // erased after the guard
    // A crash after the guard but before the nonce was erased: the guard still refuses.
    fs.writeFileSync(nonceFile, saved);
    const d3 = store.unlockShare(group.groupPublicKey, PASS);
    expectFrost(() => d3.signSync(req(m2), m2), 'FROST_NONCE_USED');
    // A guard left empty by a crash while writing it: refused too (fail closed).
    const c2 = d3.commitSync('torn');
    fs.writeFileSync(path.join(d3.nonceDir, `${commitmentId(c2)}.used.json`), '');
    const torn = [c2, commitments[1]!, commitments[2]!];
    expectFrost(
      () => store.unlockShare(group.groupPublicKey, PASS).signSync({ ...req(m1), commitments: torn }, m1),
      'FROST_NONCE_USED',
    );
    // A commitment this participant never made (or altered in transit) has no nonce.
    const forged: FrostCommitment = { ...mine, binding: commitments[1]!.binding };
    expectFrost(
      () => d3.signSync({ ...req(m1), commitments: [forged, commitments[1]!, commitments[2]!] }, m1),
      'FROST_NONCE_UNKNOWN',
    );
    e.abandonSync(commitments[1]!);
    holders[0]!.abandonSync(commitments[2]!);
    expect(e.pending()).toEqual([]);
    expect(e.nonceUse(commitmentId(commitments[1]!))?.outcome).toBe('abandoned');
    expectFrost(() => e.signSync(req(m1), m1), 'FROST_NONCE_USED');
  });

  it('the aggregator checks what it aggregates: a share outside the list, a missing share, a wrong group', () => {
    const [a, b, c] = holders as [FrostKeyholder, FrostKeyholder, FrostKeyholder];
    const message = Buffer.from('m');
    const commitments = [a.commitSync(), b.commitSync(), c.commitSync()];
    const request: FrostSignRequest = {
      session: 'agg',
      groupPublicKey: group.groupPublicKey,
      messageSha256: sha256hex(message),
      commitments,
    };
    const shares = [a.signSync(request, message), b.signSync(request, message), c.signSync(request, message)];
    expect(verifySignatureShare(group, request, message, shares[0]!)).toBe(true);
    expect(verifySignatureShare(group, request, message, { ...shares[0]!, identifier: 2 })).toBe(false);
    expectFrost(() => aggregateSignature(group, request, message, shares.slice(0, 2)), 'FROST_PACKAGE_INVALID', [3]);
    expectFrost(
      () =>
        aggregateSignature(group, request, message, [
          ...shares.slice(0, 2),
          { identifier: 4, share: shares[2]!.share },
        ]),
      'FROST_PACKAGE_INVALID',
      [4],
    );
    expectFrost(
      () => aggregateSignature(group, { ...request, groupPublicKey: '00'.repeat(32) }, message, shares),
      'FROST_PACKAGE_INVALID',
    );
    expect(aggregateSignature(group, request, message, shares)).toHaveLength(64);
  });

  it(
    'commitments and shares are deserialised as RFC 9591 3.1 says: no identity, small-order or non-canonical ' +
      'element, no scalar >= L',
    () => {
      const [a, b, c] = holders as [FrostKeyholder, FrostKeyholder, FrostKeyholder];
      const message = Buffer.from('m');
      const good = b.commitSync();
      expect(checkCommitment(group, good)).toEqual(good);
      const le = (v: bigint) => Buffer.from(v.toString(16).padStart(64, '0'), 'hex').reverse().toString('hex');
      const P = 2n ** 255n - 19n;
      // The identity, the eight torsion points (the identity among them) and y = 1 + p (a non-canonical identity).
      const torsion = [...Array(8).keys()].map((k) =>
        ed25519.Point.fromHex('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a')
          .multiply(BigInt(k + 1))
          .toHex(),
      );
      for (const bad of ['01'.padEnd(64, '0'), ...torsion, le(P + 1n), 'ff'.repeat(32)]) {
        expectFrost(() => checkCommitment(group, { ...good, hiding: bad }), 'FROST_COMMITMENT_INVALID', [2]);
        expectFrost(() => checkCommitment(group, { ...good, binding: bad }), 'FROST_COMMITMENT_INVALID', [2]);
        // In a signing request, the honest participant names the one whose commitment it is.
        const request: FrostSignRequest = {
          session: 'deser',
          groupPublicKey: group.groupPublicKey,
          messageSha256: sha256hex(message),
          commitments: [a.commitSync(), { ...good, hiding: bad }, c.commitSync()],
        };
        expectFrost(() => a.signSync(request, message), 'FROST_COMMITMENT_INVALID', [2]);
      }
      // A valid point that is not in the prime-order subgroup (a generator plus a torsion point).
      const mixed = ed25519.Point.fromHex(good.hiding).add(ed25519.Point.fromHex(torsion[0]!)).toHex();
      expectFrost(() => checkCommitment(group, { ...good, hiding: mixed }), 'FROST_COMMITMENT_INVALID', [2]);
      expectFrost(() => checkCommitment(group, { ...good, identifier: 6 }), 'FROST_PACKAGE_INVALID', [6]);
      // A share s + L verifies nowhere and is named at aggregation.
      const commitments = [a.commitSync(), b.commitSync(), c.commitSync()];
      const request: FrostSignRequest = {
        session: 'scalar',
        groupPublicKey: group.groupPublicKey,
        messageSha256: sha256hex(message),
        commitments,
      };
      const shares = [a.signSync(request, message), b.signSync(request, message), c.signSync(request, message)];
      const L = ed25519.Point.CURVE().n;
      const plusL = {
        identifier: 3,
        share: le(BigInt(`0x${Buffer.from(shares[2]!.share, 'hex').reverse().toString('hex')}`) + L),
      };
      expect(verifySignatureShare(group, request, message, plusL)).toBe(false);
      expectFrost(
        () =>
          aggregateSignature(group, request, message, [shares[0]!, shares[1]!, plusL], { verifyShares: 'on-failure' }),
        'FROST_BAD_SIGNATURE_SHARE',
        [3],
      );
    },
  );

  it(
    "the prime-order check, remembered per encoding, answers as noble's isTorsionFree on every decode: " +
      'small-order, mixed-order and random points, each checked again after the answer is kept',
    () => {
      const good = holders[1]!.commitSync();
      /** What RFC 9591 3.1 DeserializeElement says, computed afresh by noble on its own point. */
      const valid = (h: string) => {
        try {
          const p = ed25519.Point.fromHex(h);
          p.assertValidity();
          return !p.is0() && p.isTorsionFree();
        } catch {
          return false;
        }
      };
      const accepted = (h: string) => {
        try {
          checkCommitment(group, { ...good, hiding: h });
          return true;
        } catch (e) {
          frostErrorOf(e, 'FROST_COMMITMENT_INVALID', [2]);
          return false;
        }
      };
      const torsion = [...Array(8).keys()].map((k) =>
        ed25519.Point.fromHex('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a').multiply(
          BigInt(k + 1),
        ),
      );
      const primeOrder = [...Array(6).keys()].map(() =>
        ed25519.Point.BASE.multiply(Fn.create(BigInt(`0x${crypto.randomBytes(32).toString('hex')}`)) || 1n),
      );
      // Each prime-order point first (its answer kept), then the same point plus each torsion
      // point: a point of mixed order whose y differs, and with the sign bit flipped (-P, -P + T).
      const mixed = primeOrder.flatMap((p) => torsion.slice(0, 7).flatMap((t) => [p.add(t), p.negate().add(t)]));
      // Random 32-byte strings: about half decode, of those one in eight is of prime order.
      const random = [...Array(200).keys()].map(() => crypto.randomBytes(32).toString('hex'));
      const cases = [
        ...primeOrder.map((p) => p.toHex()),
        ...primeOrder.map((p) => p.negate().toHex()),
        ...torsion.map((t) => t.toHex()),
        ...mixed.map((p) => p.toHex()),
        ...random,
      ];
      let kept = 0;
      for (const round of [1, 2]) {
        for (const h of cases) {
          const expected = valid(h);
          expect(accepted(h), `${h} (pass ${round})`).toBe(expected);
          if (expected) kept++;
        }
      }
      // The sets are what they claim: prime-order points accepted, every mixed or small-order one refused.
      expect(primeOrder.every((p) => valid(p.toHex()) && valid(p.negate().toHex()))).toBe(true);
      expect([...torsion, ...mixed].some((p) => valid(p.toHex()))).toBe(false);
      expect(kept).toBeGreaterThan(2 * 2 * primeOrder.length);
    },
  );
});

describe('a participant resumes its DKG from the encrypted snapshot of its round-1 state', () => {
  let ms: Member[];
  beforeAll(() => {
    ms = members('frost-dkg-resume', ['ana', 'ben', 'cem']);
  });

  const setup = (id: string) => {
    const ceremony = newCeremony(
      id,
      2,
      ms.map((m) => ({ name: m.name, identityKey: m.store.identityPublicKey() })),
    );
    const started = ms.map((_, i) => dkgStart(ceremony, i + 1));
    // ben's state goes to disk (encrypted) before his round-1 package leaves.
    ms[1]!.store.saveDkgState(dkgSnapshot(started[1]!.state), PASS, LOW_COST);
    return { ceremony, started, round1All: started.map((x) => x.round1) };
  };

  it('crashed before round 2: the restored state sends round 2 and the group agrees', () => {
    const { ceremony, started, round1All } = setup('resume-r1');
    const ben = dkgRestore(ms[1]!.store.loadDkgState(ceremony.id, PASS));
    expect(ben.round1).toEqual(started[1]!.round1);
    const states = [started[0]!.state, ben, started[2]!.state];
    const round2 = states.flatMap((st, i) => dkgRound2(st, round1All, ms[i]!.identity));
    const outcomes = states.map((st, i) =>
      dkgFinish(
        st,
        round2.filter((p) => p.to === i + 1),
        ms[i]!.identity,
      ),
    );
    const group = dkgAgree(
      ceremony,
      round1All,
      outcomes.map((o) => o.confirm),
    );
    expect(outcomes.every((o) => o.group.groupPublicKey === group.groupPublicKey)).toBe(true);
  });

  it(
    'crashed after sending round 2: the restored state finishes with the packages the others sent, and the ' +
      'shares sign',
    async () => {
      const { ceremony, started, round1All } = setup('resume-r2');
      // ben's were sent, then he crashed
      const round2 = started.flatMap((x, i) => dkgRound2(x.state, round1All, ms[i]!.identity));
      const ben = dkgRestore(JSON.parse(JSON.stringify(ms[1]!.store.loadDkgState(ceremony.id, PASS))));
      dkgRound2(ben, round1All, ms[1]!.identity); // recomputed (the same shares), not sent again
      const states = [started[0]!.state, ben, started[2]!.state];
      const outcomes = states.map((st, i) =>
        dkgFinish(
          st,
          round2.filter((p) => p.to === i + 1),
          ms[i]!.identity,
        ),
      );
      const group = dkgAgree(
        ceremony,
        round1All,
        outcomes.map((o) => o.confirm),
      );
      ms.forEach((m, i) => m.store.saveShare(outcomes[i]!.share, PASS, LOW_COST));
      const msg = Buffer.from('resumed');
      const r = await runSigningRound(group, msg, {
        parties: [0, 1].map((i) => ms[i]!.store.unlockShare(group.groupPublicKey, PASS)),
      });
      expect(crypto.verify(null, msg, groupPublicKey(group).keyObject, r.signature)).toBe(true);
      ms[1]!.store.dropDkgState(ceremony.id);
      expect(() => ms[1]!.store.loadDkgState(ceremony.id, PASS)).toThrow(/no stored DKG state/);
    },
  );

  it('a wrong passphrase, an edited file or coefficients that do not match the commitment are refused', () => {
    const { ceremony, started } = setup('resume-bad');
    expectFrost(() => ms[1]!.store.loadDkgState(ceremony.id, 'wrong passphrase'), 'FROST_PASSPHRASE');
    const file = ms[1]!.store.dkgStateFile(ceremony.id);
    const f = JSON.parse(fs.readFileSync(file, 'utf8')) as { ceremony: string };
    fs.writeFileSync(file, JSON.stringify({ ...f, ceremony: 'other' }));
    expectFrost(() => ms[1]!.store.loadDkgState(ceremony.id, PASS), 'FROST_STORE_INVALID');
    const snap = dkgSnapshot(started[0]!.state);
    expectFrost(() => dkgRestore({ ...snap, coefficients: [...snap.coefficients].reverse() }), 'FROST_STORE_INVALID');
    expectFrost(() => dkgRestore({ ...snap, self: 2 }), 'FROST_STORE_INVALID');
    // Only before round 2: afterwards the snapshot would not be the state that sent round 2.
    dkgRound2(
      started[0]!.state,
      started.map((x) => x.round1),
      ms[0]!.identity,
    );
    expectFrost(() => dkgSnapshot(started[0]!.state), 'FROST_STATE');
  });
});

describe('FROST DKG failures are named by participant', () => {
  let ms: Member[];
  beforeAll(() => {
    ms = members('frost-dkg-fail', ['ana', 'ben', 'cem']);
  });

  it('a tampered round-2 ciphertext fails authentication, naming its sender', () => {
    for (const field of ['ciphertext', 'tag', 'iv', 'ephemeralKey'] as const) {
      const d = dkgToRound2(`tamper-${field.toLowerCase()}`, 2, ms);
      const box = inbox(d, 1).map((p) => {
        if (p.from !== 2) return p;
        const b = bytes(p[field]);
        b[0]! ^= 0x01;
        return { ...p, [field]: b.toString('hex') };
      });
      const e = expectFrost(() => dkgFinish(d.states[0]!, box, ms[0]!.identity), 'FROST_DECRYPT_FAILED', [2]);
      expect(e.message).toContain('participant 2 (ben)');
      expect(d.states[0]!.step).toBe('failed');
    }
  });

  it('the wrong recipient cannot decrypt; the coordinator cannot either', () => {
    const d = dkgToRound2('wrong-recipient', 2, ms);
    const forBen = d.round2.find((p) => p.from === 1 && p.to === 2)!;
    expect(openShare(d.ceremony, forBen, ms[1]!.identity)).toHaveLength(32);
    expectFrost(() => openShare(d.ceremony, forBen, ms[2]!.identity), 'FROST_IDENTITY_MISMATCH', []);
    expectFrost(() => openShare(d.ceremony, { ...forBen, to: 3 }, ms[2]!.identity), 'FROST_DECRYPT_FAILED', [1]);
    // Anyone else (the coordinator with a key of its own) has no enrolled identity to open it with.
    const outsider = generateIdentityKey();
    const asOutsider = {
      ...d.ceremony,
      participants: d.ceremony.participants.map((p) =>
        p.identifier === 2 ? { ...p, identityKey: outsider.publicKey } : p,
      ),
    };
    // another roster, another ceremony digest
    expectFrost(() => openShare(asOutsider, forBen, outsider), 'FROST_PACKAGE_INVALID', [1]);
    expectFrost(() => openShare(d.ceremony, forBen, outsider), 'FROST_IDENTITY_MISMATCH', []);
    // Delivered to the wrong participant by the relay: refused before decryption.
    expectFrost(
      () => dkgFinish(d.states[2]!, [forBen, ...inbox(d, 3).filter((p) => p.from !== 1)], ms[2]!.identity),
      'FROST_PACKAGE_INVALID',
      [],
    );
  });

  it('a round-1 proof of knowledge that does not verify names its sender', () => {
    const ceremony = newCeremony(
      'bad-proof',
      2,
      ms.map((m) => ({ name: m.name, identityKey: m.identity.publicKey })),
    );
    const started = ms.map((_, i) => dkgStart(ceremony, i + 1));
    const round1All = started.map((s) => s.round1);
    const forged = round1All.map((r) =>
      r.from === 3 ? { ...r, proofOfKnowledge: started[0]!.round1.proofOfKnowledge } : r,
    );
    const e = expectFrost(() => dkgRound2(started[0]!.state, forged, ms[0]!.identity), 'FROST_PROOF_INVALID', [3]);
    expect(e.message).toContain('participant 3 (cem)');
    // A relay that alters our own package is caught too.
    const altered = round1All.map((r) =>
      r.from === 2 ? { ...r, proofOfKnowledge: started[2]!.round1.proofOfKnowledge } : r,
    );
    expectFrost(() => dkgRound2(started[1]!.state, altered, ms[1]!.identity), 'FROST_TRANSCRIPT_MISMATCH');
    expectFrost(() => dkgRound2(started[0]!.state, round1All, ms[0]!.identity), 'FROST_STATE'); // failed is final
  });

  it("a correctly encrypted share that does not match its sender's commitment names the sender", () => {
    const d = dkgToRound2('bad-share', 2, ms);
    const forged = sealShare(
      d.ceremony,
      { round1Digest: d.states[0]!.round1Digest!, from: 3, to: 1, share: F.utils.randomScalar() },
      ms[2]!.identity,
    );
    const box = inbox(d, 1).map((p) => (p.from === 3 ? forged : p));
    expectFrost(() => dkgFinish(d.states[0]!, box, ms[0]!.identity), 'FROST_SHARE_INVALID', [3]);
    // Only the enrolled sender can make one: another identity cannot seal as participant 3.
    expectFrost(
      () =>
        sealShare(
          d.ceremony,
          { round1Digest: d.states[0]!.round1Digest!, from: 3, to: 1, share: F.utils.randomScalar() },
          ms[1]!.identity,
        ),
      'FROST_IDENTITY_MISMATCH',
      [3],
    );
  });

  it('a relay that shows participants different round-1 packages is caught, naming who saw another transcript', () => {
    const ceremony = newCeremony(
      'equivocation',
      2,
      ms.map((m) => ({ name: m.name, identityKey: m.identity.publicKey })),
    );
    const started = ms.map((_, i) => dkgStart(ceremony, i + 1));
    const round1All = started.map((s) => s.round1);
    // Cem is shown a different (valid) round-1 package for Ana.
    const rogue = dkgStart(ceremony, 1).round1;
    const cemView = round1All.map((r) => (r.from === 1 ? rogue : r));
    const out = started.map((s, i) => dkgRound2(s.state, i === 2 ? cemView : round1All, ms[i]!.identity)).flat();
    expectFrost(
      () =>
        dkgFinish(
          started[1]!.state,
          out.filter((p) => p.to === 2),
          ms[1]!.identity,
        ),
      'FROST_TRANSCRIPT_MISMATCH',
      [3],
    );
  });

  it('a confirmation with another group key or verifying share names its participant', () => {
    const { dkg, outcomes, group } = runDkg('confirm', 2, ms);
    const confirms = outcomes.map((o) => o.confirm);
    expect(dkgAgree(dkg.ceremony, dkg.round1All, confirms)).toEqual(group);
    const wrongShare = confirms.map((c) =>
      c.from === 2
        ? {
            ...c,
            verifyingShares: c.verifyingShares.map((v) =>
              v.identifier === 1 ? { ...v, verifyingShare: c.verifyingShares[2]!.verifyingShare } : v,
            ),
          }
        : c,
    );
    expectFrost(() => dkgAgree(dkg.ceremony, dkg.round1All, wrongShare), 'FROST_GROUP_MISMATCH', [2]);
    const wrongKey = confirms.map((c) =>
      c.from === 3 ? { ...c, groupPublicKey: c.verifyingShares[0]!.verifyingShare } : c,
    );
    expectFrost(() => dkgAgree(dkg.ceremony, dkg.round1All, wrongKey), 'FROST_GROUP_MISMATCH', [3]);
    expectFrost(() => dkgAgree(dkg.ceremony, dkg.round1All, confirms.slice(0, 2)), 'FROST_PACKAGE_INVALID', [3]);
    // A group record whose verifying share does not follow from its commitment is refused.
    expectFrost(
      () =>
        checkGroup({
          ...group,
          participants: group.participants.map((p) =>
            p.identifier === 2 ? { ...p, verifyingShare: group.participants[0]!.verifyingShare } : p,
          ),
        }),
      'FROST_GROUP_MISMATCH',
      [2],
    );
  });

  it('a ceremony must be well formed: threshold <= n, distinct names and identity keys', () => {
    const keys = ms.map((m) => m.identity.publicKey);
    expectFrost(
      () =>
        newCeremony(
          'c',
          4,
          ms.map((m, i) => ({ name: m.name, identityKey: keys[i]! })),
        ),
      'FROST_CEREMONY_INVALID',
    );
    expectFrost(
      () =>
        newCeremony(
          'c',
          2,
          ms.map((m) => ({ name: m.name, identityKey: keys[0]! })),
        ),
      'FROST_CEREMONY_INVALID',
    );
    expectFrost(
      () =>
        newCeremony(
          'c',
          2,
          ms.map((_, i) => ({ name: 'same', identityKey: keys[i]! })),
        ),
      'FROST_CEREMONY_INVALID',
    );
    expectFrost(
      () =>
        newCeremony(
          'c',
          1,
          ms.map((m, i) => ({ name: m.name, identityKey: keys[i]! })),
        ),
      'FROST_CEREMONY_INVALID',
    );
  });
});

// --- a FROST group as a TUF / Uptane role key ----------------------------------------------------

describe('a FROST group is a role key: FROST-signed tuf and ota repositories verify', () => {
  const AT = new Date('2031-01-01T00:00:00Z');
  const LATER = new Date('2032-01-01T00:00:00Z');
  let rootGroup: FrostGroup;
  let rootHolders: FrostKeyholder[];
  let targetsGroup: FrostGroup;
  let targetsHolders: FrostKeyholder[];

  beforeAll(() => {
    // the root key: the 3-of-5 group of the describe above
    ({ group: rootGroup, holders: rootHolders } = threeOfFive());
    const three = members('frost-role-targets', ['tia', 'tom', 'ted']);
    const t = runDkg('targets-key', 2, three);
    targetsGroup = t.group;
    three.forEach((m, i) => m.store.saveShare(t.outcomes[i]!.share, PASS, LOW_COST));
    targetsHolders = three.map((m) => m.store.unlockShare(targetsGroup.groupPublicKey, PASS));
  });

  it('a FROST Signer never returns a signature that does not verify under the group key', async () => {
    const s = frostSigner(rootGroup, async () => crypto.randomBytes(64));
    await expectFrostAsync(s.sign(Buffer.from('x')), 'FROST_SIGNATURE_INVALID');
  });

  for (const dialect of ['tuf', 'ota'] as Dialect[]) {
    it(
      `${dialect}: root (FROST 3-of-5 + a plain key, threshold 2) and targets (FROST 2-of-3) verify as a device ` +
        'would',
      async () => {
        // Carol, Dave and Erin sign root; Tom and Ted sign targets (any t of the group would do).
        const rootFrost = inProcessFrostSigner(rootGroup, [rootHolders[2]!, rootHolders[3]!, rootHolders[4]!]);
        const targetsFrost = inProcessFrostSigner(targetsGroup, [targetsHolders[1]!, targetsHolders[2]!]);
        const plainRoot = localSigner(generateKeyPair('ed25519').privateKey);
        const snapshotKey = localSigner(generateKeyPair('ed25519').privateKey);
        const timestampKey = localSigner(generateKeyPair('ed25519').privateKey);
        const k = (s: Signer[]) => s.map((x) => x.publicKey);
        const root = buildRoot({
          dialect,
          version: 1,
          expires: LATER,
          roles: {
            root: { keys: k([rootFrost, plainRoot]), threshold: 2 },
            targets: { keys: k([targetsFrost]), threshold: 1 },
            snapshot: { keys: k([snapshotKey]), threshold: 1 },
            timestamp: { keys: k([timestampKey]), threshold: 1 },
          },
        });
        const files: Record<string, Buffer> = {};
        files['1.root.json'] = serialize(await signEnvelope(root, dialect, [rootFrost, plainRoot]));
        files['root.json'] = files['1.root.json'];
        const firmware = Buffer.from('firmware 2.0.0\n');
        const custom =
          dialect === 'ota'
            ? { name: 'firmware', version: '2.0.0', hardwareIds: ['ecu'], targetFormat: 'BINARY', uri: null }
            : { version: '2.0.0' };
        files['targets.json'] = serialize(
          await signEnvelope(
            buildTargets(dialect, 1, LATER, { 'firmware-2.0.0': targetFor(firmware, custom) }),
            dialect,
            [targetsFrost],
          ),
        );
        files['snapshot.json'] = serialize(
          await signEnvelope(buildSnapshot(dialect, 1, LATER, files['targets.json'], 1), dialect, [snapshotKey]),
        );
        files['timestamp.json'] = serialize(
          await signEnvelope(buildTimestamp(dialect, 1, LATER, files['snapshot.json'], 1), dialect, [timestampKey]),
        );

        // As `quorum verify` reads it: from a folder, with the pinned root.
        const dir = temps.make(`frost-repo-${dialect}`);
        writeTree(dir, files);
        const report = verifyRepository(loadRepository(dir, path.join(dir, '1.root.json')), { at: AT });
        expect(report.errors).toEqual([]);
        expect(report.ok).toBe(true);
        expect(report.dialect).toBe(dialect);
        expect(report.rootChain[0]!.self?.signedBy).toHaveLength(2);
        expect(report.roles.targets?.signedBy).toHaveLength(1);

        // The signatures are plain Ed25519 under the group keys.
        const rootEnv = JSON.parse(files['1.root.json'].toString()) as {
          signatures: { keyid: string; sig: string; method?: string }[];
        };
        if (dialect === 'ota') expect(rootEnv.signatures.every((s) => s.method === 'ed25519')).toBe(true);
        const sig = Buffer.from(rootEnv.signatures[0]!.sig, dialect === 'ota' ? 'base64' : 'hex');
        expect(crypto.verify(null, canonicalize(root, dialect), groupPublicKey(rootGroup).keyObject, sig)).toBe(true);

        // Without the FROST signature the root misses its threshold.
        const half = serialize(await signEnvelope(root, dialect, [plainRoot]));
        const bad = verifyRepository(
          { ...loadRepository(dir), trustedRoot: { name: '1.root.json', bytes: half } },
          { at: AT },
        );
        expect(bad.errors.map((x) => x.code)).toContain('THRESHOLD_UNMET');

        if (dialect === 'tuf') {
          // tuf-js's models (the reference JavaScript client) accept the FROST signatures too.
          const r = Metadata.fromJSON(MetadataKind.Root, JSON.parse(files['1.root.json'].toString()));
          const t = Metadata.fromJSON(MetadataKind.Targets, JSON.parse(files['targets.json'].toString()));
          expect(() => r.verifyDelegate('root', r)).not.toThrow();
          expect(() => r.verifyDelegate('targets', t)).not.toThrow();
        }

        // And the `quorum verify` command itself (built by the global setup).
        const cli = await runCli(['verify', dir, '--root', path.join(dir, '1.root.json'), '--at', AT.toISOString()]);
        expect(cli.stderr).toBe('');
        expect(cli.code).toBe(0);
      },
    );
  }
});
