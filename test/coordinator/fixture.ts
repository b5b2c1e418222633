/**
 * A coordinator in process for the unit tests of its logic: `quorum init` (the init function) in
 * a temporary folder with generated keyholder keys, and the real Store over its SQLite file. The
 * tests call the coordinator's own functions (rounds.ts, release.ts, certificates.ts, frost.ts)
 * against it; nothing is mocked. Signatures are made with the keyholders' private keys, as
 * quorum-signer would make them.
 */
import crypto, { type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { init } from '../../coordinator/init.js';
import {
  dkgStatus,
  recordIdentity,
  submitDkgConfirm,
  submitDkgRound1,
  submitDkgRound2,
  type DkgEvent,
} from '../../coordinator/frost.js';
import { ServerContext } from '../../coordinator/context.js';
import { tryRelease, type ReleaseResult } from '../../coordinator/release.js';
import { submitSignature, type Submission } from '../../coordinator/rounds.js';
import { DATA_FILES } from '../../coordinator/server.js';
import { Store, type RoundRow } from '../../coordinator/store.js';
import type { Dialect } from '../../protocol/canonical.js';
import {
  encodeSig,
  generateKeyPair,
  publicKeyFrom,
  signBytes,
  type KeyKind,
  type PublicKey,
} from '../../protocol/keys.js';
import {
  dkgFinish,
  dkgRound2,
  dkgStart,
  generateIdentityKey,
  signIdentity,
  signTranscript,
  transcriptDigest,
  type DkgState,
  type IdentityKey,
} from '../../protocol/frost.js';
import { keyIdOf, localSigner } from '../../protocol/metadata/build.js';
import { testRsaPair } from '../test-keys.js';

/** A server context over `store` with no signer connected (nothing is sent; nobody is online). */
export function offlineContext(o: { store: Store; dataDir: string; onlineKey: KeyObject | null }): ServerContext {
  return new ServerContext({
    ...o,
    serverId: 's',
    frostSignTimeoutMs: 1000,
    signers: {
      broadcast: () => undefined,
      sendTo: () => undefined,
      isConnected: () => false,
      disconnect: () => undefined,
    },
    log: () => undefined,
  });
}

export interface Holder {
  name: string;
  privateKey: KeyObject;
  publicKey: PublicKey;
  /** The public key file given to init (PEM). */
  pem: string;
}

export interface CoordinatorOptions {
  dialect: Dialect;
  /** Keyholders to enroll: a name, or a name and a key type (default Ed25519). */
  keyholders: (string | { name: string; type: KeyKind })[];
  /** Root keyholders and threshold of root version 1; without them init opens no round. */
  root?: string[];
  targets?: string[];
  rootThreshold?: number;
  targetsThreshold?: number;
  /** Sign root version 1 with a threshold of its keys and release it. */
  releaseRoot?: boolean;
}

export class TestCoordinator {
  readonly store: Store;
  readonly online: KeyObject;
  readonly onlinePublic: PublicKey;

  constructor(
    readonly dir: string,
    readonly dataDir: string,
    readonly dialect: Dialect,
    readonly holders: Record<string, Holder>,
  ) {
    this.store = new Store(path.join(dataDir, DATA_FILES.db));
    this.online = crypto.createPrivateKey(fs.readFileSync(path.join(dataDir, DATA_FILES.onlineKey)));
    this.onlinePublic = publicKeyFrom(crypto.createPublicKey(this.online));
  }

  /** The key id of a keyholder's key in this dialect (as roots made by init list it). */
  keyid(name: string): string {
    return keyIdOf(this.holders[name]!.publicKey, this.dialect);
  }

  /**
   * What `quorum-signer sign` sends for round `round`, signed by `name` over the round's bytes
   * (or `bytes`), as the authenticated keyholder `name` (or as `as`, or the admin's air-gapped
   * path with `as: null`).
   */
  submission(
    name: string,
    round: RoundRow,
    opts: { bytes?: Buffer; sha256?: string; as?: string | null } = {},
  ): Submission {
    const sig = signBytes(this.holders[name]!.privateKey, opts.bytes ?? round.canonical);
    const as = opts.as === undefined ? name : opts.as;
    return {
      round: round.id,
      keyid: this.keyid(name),
      sig: encodeSig(sig, this.dialect),
      sha256: opts.sha256 ?? round.sha256,
      ...(as ? { keyholder: this.store.keyholderByName(as)! } : {}),
    };
  }

  /** `name` signs round `id` (as that keyholder); returns the stored round. */
  sign(name: string, id: string, now?: Date): RoundRow {
    return submitSignature(this.store, this.submission(name, this.store.round(id)!), now);
  }

  /** FROST identity keys of these keyholders, recorded by the coordinator (quorum keyholder identity). */
  identities(names: string[]): Record<string, IdentityKey> {
    for (const n of names) {
      this.identityKeys[n] ??= generateIdentityKey();
      recordIdentity(this.store, n, this.identityKeys[n].publicKey);
    }
    return this.identityKeys;
  }
  readonly identityKeys: Record<string, IdentityKey> = {};

  /**
   * Every step of DKG ceremony `id` as its participants' quorum-signer would take them, through
   * the coordinator's functions (identities must be recorded). `until` stops after a step;
   * returns the participants' states and the last event.
   */
  async dkg(
    id: string,
    until: 'round1' | 'round2' | 'confirm' = 'confirm',
  ): Promise<{ states: DkgState[]; event: DkgEvent }> {
    const c = this.store.frostCeremony(id)!.ceremony;
    const started = c.participants.map((p) => dkgStart(c, p.identifier));
    let event: DkgEvent = {};
    for (const p of c.participants) {
      const identity = await signIdentity(c, p.name, localSigner(this.holders[p.name]!.privateKey));
      event = submitDkgRound1(
        this.store,
        id,
        this.store.keyholderByName(p.name)!,
        started[p.identifier - 1]!.round1,
        identity,
      );
    }
    const states = started.map((x) => x.state);
    if (until === 'round1') return { states, event };
    const st = dkgStatus(this.store, id, 1);
    for (const p of c.participants) {
      const pkgs = dkgRound2(states[p.identifier - 1]!, st.round1All, this.identityKeys[p.name]!);
      event = submitDkgRound2(this.store, id, this.store.keyholderByName(p.name)!, pkgs);
    }
    if (until === 'round2') return { states, event };
    const digest = transcriptDigest(c, st.identities, st.round1All);
    for (const p of c.participants) {
      const outcome = dkgFinish(
        states[p.identifier - 1]!,
        dkgStatus(this.store, id, p.identifier).inbox,
        this.identityKeys[p.name]!,
      );
      const transcript = await signTranscript(c, p.identifier, digest, localSigner(this.holders[p.name]!.privateKey));
      event = await submitDkgConfirm(this.store, id, this.store.keyholderByName(p.name)!, outcome.confirm, transcript);
    }
    return { states, event };
  }

  release(id: string): Promise<ReleaseResult | null> {
    return tryRelease(this.store, this.dataDir, this.online, id);
  }

  /** The server's context over this store (no signer connected), for what it serves: payloads, summaries. */
  context(): ServerContext {
    const ctx = offlineContext({ store: this.store, dataDir: this.dataDir, onlineKey: this.online });
    this.contexts.push(ctx);
    return ctx;
  }
  private readonly contexts: ServerContext[] = [];

  async close(): Promise<void> {
    for (const ctx of this.contexts) await ctx.outbox.close();
    this.store.close();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Keys are made once per type and name across a test file's coordinators; RSA keys are the ones
 * made once for the tests (test/test-keys.ts: RSA generation is slow), a distinct one per name.
 */
const keyCache = new Map<string, { privateKey: KeyObject; publicKey: PublicKey }>();
const RSA_KEYS = ['rsa-2048-a', 'rsa-2048-b', 'rsa-2048-c'] as const;
let rsaUsed = 0;
function rsaPair(name: string): { privateKey: KeyObject; publicKey: PublicKey } {
  const k = RSA_KEYS[rsaUsed++];
  if (!k) throw new Error(`no test RSA key left for keyholder ${name}: add one to test/fixtures/test-keys`);
  return testRsaPair(k);
}

export async function newCoordinator(opts: CoordinatorOptions): Promise<TestCoordinator> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quorum-unit-'));
  const holders: Record<string, Holder> = {};
  const files: Record<string, string> = {};
  for (const k of opts.keyholders) {
    const { name, type } = typeof k === 'string' ? { name: k, type: 'ed25519' as KeyKind } : k;
    const cacheKey = `${type}:${name}`;
    const pair = keyCache.get(cacheKey) ?? (type === 'rsa' ? rsaPair(name) : generateKeyPair(type));
    keyCache.set(cacheKey, pair);
    const pem = path.join(dir, `${name}.pub.pem`);
    fs.writeFileSync(pem, pair.publicKey.keyObject.export({ type: 'spki', format: 'pem' }));
    holders[name] = { name, ...pair, pem };
    files[name] = pem;
  }
  const dataDir = path.join(dir, 'data');
  const result = init({
    dataDir,
    dialect: opts.dialect,
    keyholders: files,
    ...(opts.root
      ? {
          rootKeyholders: opts.root,
          targetsKeyholders: opts.targets ?? opts.root,
          rootThreshold: opts.rootThreshold ?? 1,
          targetsThreshold: opts.targetsThreshold ?? 1,
        }
      : {}),
  });
  const c = new TestCoordinator(dir, dataDir, opts.dialect, holders);
  if (opts.releaseRoot) {
    const id = result.firstRound!;
    for (const name of opts.root!.slice(0, opts.rootThreshold ?? 1)) c.sign(name, id);
    if (!(await c.release(id))) throw new Error('fixture: root version 1 was not released');
  }
  return c;
}
