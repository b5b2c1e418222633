/**
 * FROST through the coordinator on loopback (plain Node script, not vitest):
 * `node dist/test/bench/frost-loopback.bench.js`, run by `npm run bench` after frost.bench.js.
 *
 * One real `quorum serve` child process (127.0.0.1, its own data dir and SQLite file, default
 * limits). Nine keyholders p1..p9 are enrolled through the admin API with in-memory Ed25519 keys;
 * each creates a FROST identity in its own FrostStore (scrypt at the minimum cost N=2^14), recorded
 * through the admin API (POST /v1/admin/keyholders/NAME/identity, what `quorum keyholder identity`
 * calls), pins the others' signing keys (FrostStore.pinParticipants, what `quorum-signer frost
 * pin-participants` does), and connects as an authenticated SignerConnection in this process. Every participant is
 * signer-client/frost-participant.ts, the module `quorum-signer frost join` and `frost sign` run
 * (joinCeremony, signSession): it acts on the coordinator's push messages and asks for the state
 * after each.
 *
 * DKG: one ceremony per sample, 3-of-5 (p1..p5) and 5-of-9 (p1..p9), each for a new FROST fleet
 * CA name (ceremony `dkg-<name>`). Timed from the admin POST /v1/admin/cas/frost that opens it to
 * the moment every participant's joinCeremony returns: round 1 with its signed identity
 * statement, the others' statements checked against its pins, round 2 (ciphertexts), round 3, the
 * confirmation with its transcript signature, the agreed group and every transcript signature
 * checked, then the share stored (FrostStore.saveShare, scrypt N=2^14); the
 * coordinator stores every package (SQLite, one transaction each), relays, runs dkgAgree, records
 * the group and CA and prepares the fleet root's TBS. Then the coordinator's recorded group is
 * checked against all of them. All participants run in this one thread, and on a 2-core VM they
 * share the CPU with the coordinator process: the number is an upper bound against participants on
 * their own machines. frost.bench.ts's in-process critical path (slowest participant per round) is
 * not re-measured here.
 *
 * SIGN: a 3-of-5 round through the coordinator. The group is the 3-of-5 DKG's (shares stored); its
 * fleet root certificate round opens by itself and is signed first (reported, cold). Then every
 * sample is a device-certificate round opened from that FROST CA (admin POST /v1/admin/certs, what
 * `quorum cert issue` calls, with an openssl CSR). Before the clock starts each of the three
 * participants fetches the round (cert.get) and checks it as signer-client/cli.ts does
 * (checkCertPayload: the TBS bytes hash to the round's sha256, parse, issuer key = the group's).
 * Timed: the three participants at once run signSession over the bytes each checked: a fresh
 * commitment (frost.sign.commitment, session = the round id); the third one makes the coordinator
 * send frost.sign.request (session `<round>.<attempt>`); each signs exactly the TBS bytes it
 * fetched and sends its share (frost.sign.share); the coordinator verifies each share on arrival,
 * aggregates, verifies, assembles the certificate and releases it (cert.updated broadcast). The
 * clock stops when every participant's signSession has seen the group's signature in and the
 * release has been seen. Then (not timed) the released certificate is checked to verify under the
 * group key with exactly the signed TBS bytes. Two participant kinds, interleaved: FrostStore
 * keyholders (signer-client/frost-store.ts: each commitment's nonces encrypted and fsync'ed before
 * it is sent, the one-time guard file created and fsync'ed before the share is released), which is
 * what a real participant does and the headline; and nonces in memory (frostCommit /
 * frostSignShare). Shares are unlocked once up front (a real `cert sign` pays one scrypt per run).
 * PLAIN, for context, through the same coordinator: a device certificate from a key-held Ed25519
 * CA (holder p6, approvers p7 and p8, 2 approvals needed): the two approvals (cert.approve, each an
 * Ed25519 signature the coordinator verifies), then the holder fetches the round with its
 * approvals, verifies them against its pinned approvers, signs the TBS and sends cert.sign, and
 * the coordinator assembles, verifies and releases (cert.released). Three Ed25519 signatures by
 * three keyholders, like the 3-of-5 FROST round. TARGETS: the same group key is also the only
 * targets key of the coordinator's tuf repository (root v1 opened as a whole body, signed by p9);
 * every sample is a targets round adding one target, checked by each participant as
 * `quorum-signer frost sign` checks it (released roots walked from its own pinned root, released
 * targets verified, checkPayload with the group key), then signed exactly like the certificate
 * rounds, in session `<round>.<ceremony>`; the coordinator stores the aggregate as the group key's
 * signature and releases targets with snapshot and timestamp (online key). BASELINE, same run: three plain Ed25519
 * signatures (node:crypto) over the same TBS bytes plus their three verifications, no network.
 *
 * Median of BENCH_FROST_LOOPBACK_REPS (default 5, at least 3) measured repetitions after one
 * unmeasured warm-up (DKG: the first ceremony of each size). Progress on stderr; the table
 * and a final `BENCH_JSON {...}` line on stdout. BENCH_KEEP=1 keeps the temp folder.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { canonicalize } from '../../protocol/canonical.js';
import {
  frostCommit,
  frostSignShare,
  groupPublicKey,
  type DkgOutcome,
  type FrostGroup,
  type FrostNonces,
  type FrostShare,
} from '../../protocol/frost.js';
import {
  encodeSig,
  generateKeyPair,
  keyId,
  publicKeyFrom,
  sha256hex,
  toMetadataKey,
  type PublicKey,
} from '../../protocol/keys.js';
import { buildRoot, daysFrom, localSigner, type Signer } from '../../protocol/metadata/build.js';
import type { ServerMessage } from '../../protocol/wire.js';
import { approvalMessage, tbsOfCertificate, verifyApprovals } from '../../protocol/x509.js';
import { checkCertPayload, checkIssuer } from '../../signer-client/cert-trust.js';
import { SignerConnection } from '../../signer-client/connection.js';
import { FrostStore } from '../../signer-client/frost-store.js';
import { joinCeremony, signSession, type ShareHolder } from '../../signer-client/frost-participant.js';
import { advanceRoots, checkPayload, TrustStore, verifiedTargets } from '../../signer-client/trust.js';
import { adminCall, Coordinator, quorum } from '../integration/harness.js';
import { check, cpuMsOf, envInt, gitHead, log, median, plainSignVerifyMs, table } from './measure.js';

const REPS = Math.max(3, envInt('BENCH_FROST_LOOPBACK_REPS', 5));
const MEMBERS = 9;
const BASELINE_INNER = 200; // baseline sets per repetition (one is ~0.3 ms: too short to time alone)
const LOW_COST = { N: 1 << 14, r: 8, p: 1 }; // the minimum scrypt cost FrostStore accepts
const PASS = 'benchmark passphrase';
const STEP_TIMEOUT_MS = 120_000;

type Msg<T extends ServerMessage['type']> = Extract<ServerMessage, { type: T }>;
type SignStatus = Msg<'frost.sign.status'>;

interface Member {
  name: string;
  privateKey: crypto.KeyObject;
  publicKey: PublicKey;
  signer: Signer;
  store: FrostStore;
  conn: SignerConnection;
}

const fmt = (x: number | null | undefined, d = 1) =>
  x === null || x === undefined || Number.isNaN(x) ? '-' : x.toFixed(d);
const sameJson = (a: unknown, b: unknown) => sha256hex(canonicalize(a, 'tuf')) === sha256hex(canonicalize(b, 'tuf'));

/** The next push message of `type` on a connection that `match`es; register it before what causes it. */
function nextPush<T extends ServerMessage['type']>(
  conn: SignerConnection,
  type: T,
  match: (m: Msg<T>) => boolean,
  what: string,
): { promise: Promise<{ msg: Msg<T>; at: number }>; cancel: () => void } {
  let cancel = () => {};
  const promise = new Promise<{ msg: Msg<T>; at: number }>((resolve, reject) => {
    const timer = setTimeout(() => {
      conn.off(type, on);
      reject(new Error(`timed out after ${STEP_TIMEOUT_MS} ms waiting for ${what}`));
    }, STEP_TIMEOUT_MS);
    const on = (m: Msg<T>) => {
      if (!match(m)) return;
      clearTimeout(timer);
      conn.off(type, on);
      resolve({ msg: m, at: performance.now() });
    };
    cancel = () => {
      clearTimeout(timer);
      conn.off(type, on);
    };
    conn.on(type, on);
  });
  return { promise, cancel };
}

/** A device CSR (openssl, as the integration tests make them), PEM bytes. Not timed. */
function deviceCsr(dir: string, cn: string): Buffer {
  const key = path.join(dir, `${cn}.key.pem`);
  const csr = path.join(dir, `${cn}.csr`);
  execFileSync('openssl', ['genpkey', '-algorithm', 'ED25519', '-out', key], { stdio: 'ignore' });
  execFileSync('openssl', ['req', '-new', '-key', key, '-subj', `/CN=${cn}`, '-out', csr], { stdio: 'ignore' });
  return fs.readFileSync(csr);
}

// --- setup ---------------------------------------------------------------------------------------

async function setup(
  tmp: string,
  cleanup: (() => Promise<void> | void)[],
): Promise<{ coordinator: Coordinator; members: Member[] }> {
  const dataDir = path.join(tmp, 'data');
  const init = await quorum(['init', '--data-dir', dataDir, '--dialect', 'tuf']);
  if (init.code !== 0) throw new Error(`quorum init failed (${init.code}): ${init.stderr}`);
  const coordinator = await new Coordinator(dataDir).start();
  cleanup.push(() => coordinator.kill());
  const members: Member[] = [];
  for (let i = 1; i <= MEMBERS; i++) {
    const name = `p${i}`;
    const { privateKey, publicKey } = generateKeyPair('ed25519');
    await adminCall(coordinator, 'keyholders.add', {
      body: {
        name,
        publicKey: publicKey.keyObject.export({ type: 'spki', format: 'pem' }).toString(),
      },
    });
    const store = FrostStore.open(path.join(tmp, name, 'frost'));
    const identityKey = store.createIdentity(PASS, LOW_COST);
    const rec = await adminCall(coordinator, 'keyholders.identity', {
      params: { name },
      body: {
        identityKey,
      },
    });
    check(rec.identityKey === identityKey, `${name}'s identity recorded`);
    const signer = localSigner(privateKey);
    const conn = new SignerConnection({ server: coordinator.url, pin: null, signer });
    conn.setMaxListeners(100);
    cleanup.push(() => conn.close());
    const hello = await conn.connect();
    check(hello.keyholder === name, `connected as ${name}`);
    members.push({ name, privateKey, publicKey, signer, store, conn });
  }
  // Each pins the others' signing keys, as keyholders exchange them out of band.
  for (const m of members)
    m.store.pinParticipants(
      members
        .filter((o) => o !== m)
        .map((o) => ({
          name: o.name,
          publicKey: o.publicKey.keyObject.export({ type: 'spki', format: 'pem' }).toString(),
        })),
    );
  return { coordinator, members };
}

// --- DKG -----------------------------------------------------------------------------------------

interface DkgParticipantResult {
  name: string;
  outcome: DkgOutcome;
  round1AllAt: number;
  inboxAt: number;
  doneAt: number;
}

/** One participant of ceremony `id`: signer-client/frost-participant.ts, as `quorum-signer frost join` runs it. */
async function dkgParticipant(m: Member, id: string): Promise<DkgParticipantResult> {
  let round1AllAt = NaN;
  let inboxAt = NaN;
  const r = await joinCeremony({
    conn: m.conn,
    signer: m.signer,
    store: m.store,
    ceremony: id,
    deadline: Date.now() + STEP_TIMEOUT_MS,
    scrypt: LOW_COST,
    confirm: async () => true,
    passphrase: async () => PASS,
    out: () => {},
    onStep: (step) => {
      if (step === 'round1.all') round1AllAt = performance.now();
      else inboxAt = performance.now();
    },
  }).catch((e: Error) => {
    throw new Error(`${m.name} in ${id}: ${e.message}`);
  });
  if (!r) throw new Error(`${m.name} declined ${id}`);
  return { name: m.name, outcome: r.outcome, round1AllAt, inboxAt, doneAt: performance.now() };
}

interface DkgSample {
  /** admin POST -> every participant holds the agreed group, ms */
  total: number;
  /** admin POST -> the first participant has every round-1 package */
  round1: number;
  /** ... -> the first participant has its round-2 inbox */
  round2: number;
  /** ... -> the first participant holds the group */
  agreed: number;
  coordinatorCpuMs: number;
  benchCpuMs: number;
}

let caSeq = 0;

async function dkgOnce(
  c: Coordinator,
  members: Member[],
  t: number,
): Promise<{ sample: DkgSample; name: string; group: FrostGroup; outcomes: Map<string, DkgOutcome> }> {
  const name = `bench-${t}of${members.length}-${++caSeq}`;
  const id = `dkg-${name}`;
  const pid = c.proc!.pid!;
  const coord0 = cpuMsOf(pid);
  const bench0 = process.cpuUsage();
  const t0 = performance.now();
  const opened = await adminCall(c, 'cas.createFrost', {
    body: {
      name,
      fleetName: `Bench ${name}`,
      threshold: t,
      participants: members.map((m) => m.name),
      reason: 'benchmark',
    },
  });
  check(opened.ceremony.id === id, `ceremony id ${opened.ceremony.id} is ${id}`);
  const results = await Promise.all(members.map((m) => dkgParticipant(m, id)));
  const end = Math.max(...results.map((r) => r.doneAt));
  const benchCpu = process.cpuUsage(bench0);
  const coordinatorCpuMs = cpuMsOf(pid) - coord0;
  // The coordinator recorded the same group every participant computed.
  const final = await adminCall(c, 'frost.ceremony', { params: { id } });
  check(final.state === 'done' && !!final.group, `${id} is done at the coordinator`);
  for (const r of results)
    check(sameJson(r.outcome.group, final.group), `${r.name} holds the coordinator's group for ${id}`);
  check(new Set(results.map((r) => r.outcome.share.identifier)).size === members.length, `${id}: distinct identifiers`);
  check(
    final.group!.threshold === t && final.group!.participants.length === members.length,
    `${id} is ${t}-of-${members.length}`,
  );
  return {
    sample: {
      total: end - t0,
      round1: Math.min(...results.map((r) => r.round1AllAt)) - t0,
      round2: Math.min(...results.map((r) => r.inboxAt)) - t0,
      agreed: Math.min(...results.map((r) => r.doneAt)) - t0,
      coordinatorCpuMs,
      benchCpuMs: (benchCpu.user + benchCpu.system) / 1000,
    },
    name,
    group: final.group!,
    outcomes: new Map(results.map((r) => [r.name, r.outcome])),
  };
}

interface DkgResult {
  t: number;
  n: number;
  cold: DkgSample;
  totalMs: number;
  round1Ms: number;
  round2Ms: number;
  agreedMs: number;
  coordinatorCpuMs: number;
  benchCpuMs: number;
  samples: DkgSample[];
}

async function benchDkg(c: Coordinator, members: Member[]): Promise<DkgResult[]> {
  const kinds = [
    { t: 3, n: 5 },
    { t: 5, n: 9 },
  ];
  const label = (k: (typeof kinds)[number]) => `${k.t}-of-${k.n}`;
  const cold: DkgSample[] = [];
  for (const k of kinds) {
    cold.push((await dkgOnce(c, members.slice(0, k.n), k.t)).sample);
    log(`DKG ${label(k)} cold: ${fmt(cold.at(-1)!.total, 0)} ms`);
  }
  const samples: DkgSample[][] = kinds.map(() => []);
  for (let r = 0; r < REPS; r++) {
    for (let i = 0; i < kinds.length; i++)
      samples[i]!.push((await dkgOnce(c, members.slice(0, kinds[i]!.n), kinds[i]!.t)).sample);
    log(
      `DKG rep ${r + 1}/${REPS}: ${kinds.map((k, i) => `${label(k)} ${fmt(samples[i]![r]!.total, 0)} ms`).join(', ')}`,
    );
  }
  return kinds.map((k, i) => {
    const s = samples[i]!;
    const m = (f: (x: DkgSample) => number) => median(s.map(f));
    return {
      t: k.t,
      n: k.n,
      cold: cold[i]!,
      totalMs: m((x) => x.total),
      round1Ms: m((x) => x.round1),
      round2Ms: m((x) => x.round2),
      agreedMs: m((x) => x.agreed),
      coordinatorCpuMs: m((x) => x.coordinatorCpuMs),
      benchCpuMs: m((x) => x.benchCpuMs),
      samples: s,
    };
  });
}

// --- signing -------------------------------------------------------------------------------------

/** One participant's share for signing sessions (signer-client/frost-participant.ts ShareHolder). */
interface FrostSigner {
  member: Member;
  holder: ShareHolder;
  /** Nonces made but not used or abandoned. */
  pending(): number;
}

/**
 * What a real participant does: FrostStore (nonces durable before the commitment is sent, one-time guard before the
 * share).
 */
function storeSigner(m: Member, group: FrostGroup): FrostSigner {
  const kh = m.store.unlockShare(group.groupPublicKey, PASS);
  return { member: m, holder: kh, pending: () => kh.pending().length };
}

/** The same with nonces in memory only. */
function memorySigner(m: Member, share: FrostShare): FrostSigner {
  const nonces = new Map<string, FrostNonces>();
  const holder: ShareHolder = {
    identifier: share.identifier,
    commitSync() {
      const c = frostCommit(share);
      nonces.set(c.commitment.hiding, c.nonces);
      return c.commitment;
    },
    signSync(req, message) {
      const own = req.commitments.find((c) => c.identifier === share.identifier);
      const n = own ? nonces.get(own.hiding) : undefined;
      if (!n) throw new Error('nonce unknown or used');
      nonces.delete(own!.hiding);
      return frostSignShare(share, n, req, message);
    },
    abandonSync(c) {
      nonces.delete(c.hiding);
    },
  };
  return { member: m, holder, pending: () => nonces.size };
}

/** A round the group signs, fetched and checked by each participant (not timed). */
interface OpenedRound {
  /** The FROST session participants commit to (the round id). */
  session: string;
  /** Each participant's own copy of the bytes to sign, as it fetched and checked them. */
  messages: Map<string, Buffer>;
  /** A broadcast saying the round was released. */
  isRelease(msg: ServerMessage): boolean;
  /** After the round: what was released is right (throws otherwise). */
  checkReleased(): Promise<void>;
}

/**
 * Where signing rounds come from: given the participants, open one round and hand back its
 * session and message bytes. Today certificate rounds of a FROST CA; a FROST-signed metadata round
 * (root or targets) would be another source with the same shape.
 */
interface MessageSource {
  label: string;
  open(participants: Member[]): Promise<OpenedRound>;
}

/** Each participant fetches a certificate round (cert.get) and checks it as signer-client/cli.ts does. */
async function fetchCertRound(
  c: Coordinator,
  roundId: string,
  participants: Member[],
  issuer: PublicKey,
): Promise<OpenedRound> {
  const messages = new Map<string, Buffer>();
  await Promise.all(
    participants.map(async (m) => {
      const p = await m.conn.request({ type: 'cert.get', round: roundId }, 'cert.payload');
      const checked = checkCertPayload(p.round, p.tbs, p.chain); // sha256 of the TBS bytes, parsed, self-issued key
      check(checked.round.issuerFingerprint === issuer.fingerprint, `${roundId} is signed by the expected key`);
      checkIssuer(checked, issuer); // the issuer name and key id are the CA's, as cert sign / frost sign check
      check(checked.review.signatureAlgorithm === 'ed25519', `${roundId} is an Ed25519 signature`);
      messages.set(m.name, checked.tbs);
    }),
  );
  const tbs = [...messages.values()];
  check(
    tbs.every((b) => b.equals(tbs[0]!)),
    `${roundId}: every participant fetched the same TBS bytes`,
  );
  return {
    session: roundId,
    messages,
    isRelease: (msg) => msg.type === 'cert.updated' && msg.round.id === roundId && msg.round.state === 'released',
    async checkReleased() {
      const v = await adminCall(c, 'certs.get', { params: { id: roundId } });
      check(v.round.state === 'released' && !!v.certificate, `${roundId} is released`);
      const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/.exec(v.certificate!)![0];
      check(
        new crypto.X509Certificate(pem).verify(issuer.keyObject),
        `${roundId}: the certificate verifies under the issuer key`,
      );
      check(tbsOfCertificate(pem).equals(tbs[0]!), `${roundId}: the certificate's TBS is the bytes signed`);
    },
  };
}

/** Device certificates from CA `ca`, one round each. */
function deviceCertSource(c: Coordinator, ca: string, issuer: PublicKey, tmp: string): MessageSource {
  let k = 0;
  const dir = path.join(tmp, 'csr');
  fs.mkdirSync(dir, { recursive: true });
  return {
    label: `device certificate from CA ${ca}`,
    async open(participants) {
      const cn = `${ca}-device-${++k}`;
      const v = await adminCall(c, 'certs.issue', {
        body: {
          ca,
          profile: 'device',
          csr: deviceCsr(dir, cn).toString('base64'),
          deviceId: cn,
          reason: 'benchmark',
        },
      });
      check(v.round.state === 'open', `${v.round.id} is open`);
      return fetchCertRound(c, v.round.id, participants, issuer);
    },
  };
}

/**
 * Targets rounds of a tuf repository whose only targets key is the group's (root v1, opened here
 * as a whole body: root key `rootHolder`, targets key the group, snapshot/timestamp the
 * coordinator's online key). Each participant checks each round as `quorum-signer frost sign`
 * does: the released roots walked from its own pinned root, the released targets verified, the
 * proposal checked with the group key in place of its own (checkPayload); it signs the canonical
 * bytes it checked, in session `<round>.<ceremony>`.
 */
async function targetsSource(
  c: Coordinator,
  group: FrostGroup,
  ceremony: string,
  rootHolder: Member,
  tmp: string,
): Promise<MessageSource> {
  const groupKey = groupPublicKey(group);
  const online = publicKeyFrom(
    crypto.createPublicKey(crypto.createPrivateKey(fs.readFileSync(path.join(c.dataDir, 'online-key.pem')))),
  );
  const body = buildRoot({
    dialect: 'tuf',
    version: 1,
    expires: daysFrom(new Date(), 365),
    roles: {
      root: { keys: [rootHolder.publicKey], threshold: 1 },
      targets: { keys: [groupKey], threshold: 1 },
      snapshot: { keys: [online], threshold: 1 },
      timestamp: { keys: [online], threshold: 1 },
    },
  });
  const opened = await adminCall(c, 'rounds.open', {
    body: {
      role: 'root',
      reason: 'benchmark root: the FROST group signs targets',
      signed: body,
    },
  });
  const payload = await rootHolder.conn.request({ type: 'round.get', round: opened.round.id }, 'round.payload');
  const canonical = canonicalize(JSON.parse(payload.signed), 'tuf');
  check(sha256hex(canonical) === payload.round.sha256, 'root v1: the canonical bytes hash as the coordinator says');
  const keyid = keyId(toMetadataKey(rootHolder.publicKey, 'tuf'), 'tuf');
  const ack = await rootHolder.conn.request(
    {
      type: 'signature.submit',
      round: opened.round.id,
      sha256: payload.round.sha256,
      keyid,
      sig: encodeSig(await rootHolder.signer.sign(canonical), 'tuf'),
    },
    'signature.accepted',
  );
  check(ack.round.state === 'released', 'root v1 is released');
  let k = 0;
  return {
    label: `targets round (one new target) of a tuf repository whose targets key is the group's`,
    async open(participants) {
      const bytes = Buffer.from(`firmware ${++k}\n`);
      const v = await adminCall(c, 'rounds.open', {
        body: {
          role: 'targets',
          reason: 'benchmark',
          targets: { add: { [`firmware-${k}`]: { length: bytes.length, hashes: { sha256: sha256hex(bytes) } } } },
        },
      });
      const roundId = v.round.id;
      const messages = new Map<string, Buffer>();
      await Promise.all(
        participants.map(async (m) => {
          const trust = new TrustStore(path.join(tmp, m.name, 'trust'), 'tuf');
          const released = await m.conn.request(
            { type: 'released.get', afterRootVersion: trust.latest()?.signed.version ?? 0 },
            'released',
          );
          const { root } = advanceRoots(trust, released.roots);
          const targets = verifiedTargets(root, released.targets, 'tuf');
          const p = await m.conn.request({ type: 'round.get', round: roundId }, 'round.payload');
          const checked = checkPayload(p, root, targets, 'tuf', groupKey);
          messages.set(m.name, checked.proposed.canonical);
        }),
      );
      return {
        session: `${roundId}.${ceremony}`,
        messages,
        isRelease: (msg) => msg.type === 'round.updated' && msg.round.id === roundId && msg.round.state === 'released',
        async checkReleased() {
          const r = await adminCall(c, 'rounds.get', { params: { id: roundId } });
          check(r.round.state === 'released', `${roundId} is released`);
          const file = JSON.parse(
            fs.readFileSync(path.join(c.dataDir, 'releases', 'current', 'targets.json'), 'utf8'),
          ) as { signed: { version: number }; signatures: { sig: string }[] };
          check(
            file.signed.version === r.round.version,
            `${roundId}: targets v${r.round.version} is the current release`,
          );
          check(
            file.signatures.length === 1 &&
              crypto.verify(
                null,
                canonicalize(file.signed, 'tuf'),
                groupKey.keyObject,
                Buffer.from(file.signatures[0]!.sig, 'hex'),
              ),
            `${roundId}: the released targets are signed by the group key`,
          );
        },
      };
    },
  };
}

interface FrostSample {
  /** commitments sent -> all shares acknowledged and the release seen, ms */
  total: number;
  /** commitments sent -> the first participant has the signing request (plain: both approvals acknowledged) */
  round1: number;
  /** -> end */
  round2: number;
  coordinatorCpuMs: number;
  benchCpuMs: number;
}

/** One FROST signing round through the coordinator: the timed part. */
async function frostRound(
  c: Coordinator,
  signers: FrostSigner[],
  round: OpenedRound,
  group: FrostGroup,
): Promise<FrostSample> {
  const { session } = round;
  let releasedAt: number | null = null;
  let aborted: string | null = null;
  const watch = (msg: ServerMessage) => {
    if (releasedAt === null && round.isRelease(msg)) releasedAt = performance.now();
    if (msg.type === 'frost.sign.abort' && msg.session.startsWith(`${session}.`)) aborted = msg.reason;
  };
  for (const s of signers) s.member.conn.on('message', watch);
  const requests = signers.map((s) =>
    nextPush(
      s.member.conn,
      'frost.sign.request',
      (m) =>
        m.request.session.startsWith(`${session}.`) &&
        m.request.commitments.some((x) => x.identifier === s.holder.identifier),
      `${s.member.name}'s signing request for ${session}`,
    ),
  );
  const pid = c.proc!.pid!;
  const coord0 = cpuMsOf(pid);
  const bench0 = process.cpuUsage();
  const t0 = performance.now();
  let acks: { requestAt: number; ack: SignStatus }[];
  try {
    // Each participant as `quorum-signer frost sign` runs it (signSession), over the bytes it checked.
    acks = await Promise.all(
      signers.map(async (s, i) => {
        const ack = await signSession(
          s.member.conn,
          s.holder,
          group,
          session,
          round.messages.get(s.member.name)!,
          Date.now() + STEP_TIMEOUT_MS,
          () => {},
        );
        if (ack.done && releasedAt === null) releasedAt = performance.now();
        return { requestAt: (await requests[i]!.promise).at, ack };
      }),
    );
  } finally {
    for (const r of requests) r.cancel();
    for (const s of signers) s.member.conn.off('message', watch);
  }
  const allAcked = performance.now();
  const benchCpu = process.cpuUsage(bench0);
  const coordinatorCpuMs = cpuMsOf(pid) - coord0;
  check(aborted === null, `${session}: no attempt aborted (${aborted})`);
  check(releasedAt !== null, `${session}: the release was seen by the time every share was acknowledged`);
  check(
    acks.every((a) => a.ack.done),
    `${session}: every participant saw the group's signature in`,
  );
  for (const s of signers) check(s.pending() === 0, `${s.member.name}: no nonce left unused`);
  await round.checkReleased();
  // The coordinator sends the request to all three at once; the others read it only after the
  // first has made its share (one thread), so round 1 ends when the first has it.
  const requestAt = Math.min(...acks.map((a) => a.requestAt));
  const end = Math.max(allAcked, releasedAt!);
  return {
    total: end - t0,
    round1: requestAt - t0,
    round2: end - requestAt,
    coordinatorCpuMs,
    benchCpuMs: (benchCpu.user + benchCpu.system) / 1000,
  };
}

interface PlainCa {
  holder: Member;
  approvers: Member[];
}

/** A key-held Ed25519 CA's certificate round: two approvals, then the holder's signature. Timed. */
async function plainRound(c: Coordinator, ca: PlainCa, round: OpenedRound): Promise<FrostSample> {
  const { holder, approvers } = ca;
  const id = round.session;
  const issuerFp = holder.publicKey.fingerprint;
  const pid = c.proc!.pid!;
  const coord0 = cpuMsOf(pid);
  const bench0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    approvers.map(async (a) => {
      const tbs = round.messages.get(a.name)!;
      const sig = await a.signer.sign(approvalMessage(tbs, issuerFp));
      await a.conn.request(
        { type: 'cert.approve', round: id, tbsSha256: sha256hex(tbs), sig: sig.toString('base64') },
        'cert.approved',
      );
    }),
  );
  const approvedAt = performance.now();
  // The holder: the round with its approvals, checked against its own pinned approvers, then signed.
  const p = await holder.conn.request({ type: 'cert.get', round: id }, 'cert.payload');
  const checked = checkCertPayload(p.round, p.tbs, p.chain);
  check(checked.tbs.equals(round.messages.get(holder.name)!), `${id}: the holder signs the bytes it reviewed`);
  const approvals = p.approvals.map((a) => ({
    publicKey: publicKeyFrom(Buffer.from(a.publicKey, 'base64')),
    signature: Buffer.from(a.sig, 'base64'),
  }));
  verifyApprovals(
    checked.tbs,
    issuerFp,
    approvals,
    approvers.map((a) => a.publicKey),
    approvers.length,
  );
  const sig = await holder.signer.sign(checked.tbs);
  const rel = await holder.conn.request(
    { type: 'cert.sign', round: id, tbsSha256: checked.tbsSha256, sig: sig.toString('base64') },
    'cert.released',
  );
  const end = performance.now();
  const benchCpu = process.cpuUsage(bench0);
  const coordinatorCpuMs = cpuMsOf(pid) - coord0;
  check(rel.round.state === 'released', `${id} released`);
  await round.checkReleased();
  return {
    total: end - t0,
    round1: approvedAt - t0,
    round2: end - approvedAt,
    coordinatorCpuMs,
    benchCpuMs: (benchCpu.user + benchCpu.system) / 1000,
  };
}

interface SeriesResult {
  totalMs: number;
  round1Ms: number;
  round2Ms: number;
  coordinatorCpuMs: number;
  benchCpuMs: number;
  samples: number[];
}

function series(xs: FrostSample[]): SeriesResult {
  const m = (f: (x: FrostSample) => number) => median(xs.map(f));
  return {
    totalMs: m((x) => x.total),
    round1Ms: m((x) => x.round1),
    round2Ms: m((x) => x.round2),
    coordinatorCpuMs: m((x) => x.coordinatorCpuMs),
    benchCpuMs: m((x) => x.benchCpuMs),
    samples: xs.map((x) => x.total),
  };
}

interface SignResult {
  threshold: number;
  participants: number;
  source: string;
  tbsBytes: number;
  fleetRootColdMs: number;
  frostStore: SeriesResult;
  frostMemory: SeriesResult;
  plain: SeriesResult;
  /** The same group signing a targets round (metadata) instead of a certificate. */
  frostTargets: SeriesResult;
  targetsSource: string;
  targetsBytes: number;
  ratioTargets: number;
  plainFleetRootColdMs: number;
  baselineMs: number;
  baselineSamples: number[];
  ratio: number;
  ratioMemory: number;
  ratioPlain: number;
  ratioFrostOverPlain: number;
  dkgSetup: DkgSample;
}

async function benchSign(c: Coordinator, members: Member[], tmp: string): Promise<SignResult> {
  // The group: a 3-of-5 DKG with shares stored as participants do.
  const five = members.slice(0, 5);
  const dkg = await dkgOnce(c, five, 3);
  log(
    `SIGN: group ${dkg.name} (3-of-5) made in ${fmt(dkg.sample.total, 0)} ms; key ` +
      `${dkg.group.groupPublicKey.slice(0, 16)}…`,
  );
  const groupKey = groupPublicKey(dkg.group);
  const trio = five.slice(0, 3);
  const stored = trio.map((m) => storeSigner(m, dkg.group));
  const memory = trio.map((m) => memorySigner(m, dkg.outcomes.get(m.name)!.share));

  // Its fleet root certificate round opened by itself: the first round the group signs (cold).
  const certs = await adminCall(c, 'certs.list');
  const root = certs.find((r) => r.ca === dkg.name && r.profile === 'fleet-root' && r.state === 'open');
  check(!!root, `the fleet root round of ${dkg.name} is open`);
  const fleetRootCold = await frostRound(c, stored, await fetchCertRound(c, root!.id, trio, groupKey), dkg.group);
  log(`SIGN: fleet root ${root!.id} released in ${fmt(fleetRootCold.total)} ms (cold)`);

  // The key-held Ed25519 CA for the plain path, and its own fleet root (cold).
  const plainCa: PlainCa = { holder: members[5]!, approvers: [members[6]!, members[7]!] };
  const plainParticipants = [plainCa.holder, ...plainCa.approvers];
  const pv = await adminCall(c, 'cas.create', {
    body: {
      name: 'bench-plain',
      holder: plainCa.holder.name,
      fleetName: 'Bench Plain Root',
      approvers: plainCa.approvers.map((a) => a.name),
      approvals: 2,
      reason: 'benchmark',
    },
  });
  const plainRootCold = await plainRound(
    c,
    plainCa,
    await fetchCertRound(c, pv.round.id, plainParticipants, plainCa.holder.publicKey),
  );
  log(`SIGN: plain CA fleet root ${pv.round.id} released in ${fmt(plainRootCold.total)} ms (cold)`);

  const frostSource = deviceCertSource(c, dkg.name, groupKey, tmp);
  // The same group key as a repository's targets key: FROST-signed metadata rounds.
  const targetsSrc = await targetsSource(c, dkg.group, `dkg-${dkg.name}`, members[8]!, tmp);
  let targetsBytes = 0;
  const plainSource = deviceCertSource(c, 'bench-plain', plainCa.holder.publicKey, tmp);
  const plainKeys = Array.from({ length: 3 }, () => crypto.generateKeyPairSync('ed25519'));
  let tbsBytes = 0;
  const s = {
    store: [] as FrostSample[],
    memory: [] as FrostSample[],
    plain: [] as FrostSample[],
    targets: [] as FrostSample[],
    baseline: [] as number[],
  };
  for (let r = -1; r < REPS; r++) {
    const a = await frostRound(c, stored, await frostSource.open(trio), dkg.group);
    const openedB = await frostSource.open(trio);
    const b = await frostRound(c, memory, openedB, dkg.group);
    const p = await plainRound(c, plainCa, await plainSource.open(plainParticipants));
    const openedT = await targetsSrc.open(trio);
    targetsBytes = openedT.messages.get(trio[0]!.name)!.length;
    const mt = await frostRound(c, stored, openedT, dkg.group);
    const tbs = openedB.messages.get(trio[0]!.name)!;
    tbsBytes = tbs.length;
    const base = plainSignVerifyMs(tbs, plainKeys, BASELINE_INNER);
    const tag = r < 0 ? 'warm-up' : `rep ${r + 1}/${REPS}`;
    log(
      `SIGN ${tag}: FROST (FrostStore) ${fmt(a.total)} ms [${fmt(a.round1)} + ${fmt(a.round2)}], FROST ` +
        `(memory) ${fmt(b.total)} ms, FROST targets ${fmt(mt.total)} ms, plain CA ${fmt(p.total)} ms, baseline ` +
        `${fmt(base, 3)} ms`,
    );
    if (r < 0) continue;
    s.store.push(a);
    s.memory.push(b);
    s.plain.push(p);
    s.targets.push(mt);
    s.baseline.push(base);
  }
  const baselineMs = median(s.baseline);
  const frostStore = series(s.store);
  const frostMemory = series(s.memory);
  const plain = series(s.plain);
  const frostTargets = series(s.targets);
  return {
    frostTargets,
    targetsSource: targetsSrc.label,
    targetsBytes,
    ratioTargets: frostTargets.totalMs / baselineMs,
    threshold: 3,
    participants: 5,
    source: frostSource.label,
    tbsBytes,
    fleetRootColdMs: fleetRootCold.total,
    frostStore,
    frostMemory,
    plain,
    plainFleetRootColdMs: plainRootCold.total,
    baselineMs,
    baselineSamples: s.baseline,
    ratio: frostStore.totalMs / baselineMs,
    ratioMemory: frostMemory.totalMs / baselineMs,
    ratioPlain: plain.totalMs / baselineMs,
    ratioFrostOverPlain: frostStore.totalMs / plain.totalMs,
    dkgSetup: dkg.sample,
  };
}

// --- output --------------------------------------------------------------------------------------

function report(
  sign: SignResult,
  dkg: DkgResult[],
  meta: { commit: string | null; loadStart: number[]; loadEnd: number[] },
): void {
  const lines: string[] = [''];
  lines.push(
    `FROST(Ed25519) through the coordinator on loopback; node ${process.version}; ${os.cpus().length} cpus; ` +
      `commit ${meta.commit}; median of ${REPS} reps; load ${meta.loadStart.map((x) => x.toFixed(2)).join(' ')} ` +
      `-> ${meta.loadEnd.map((x) => x.toFixed(2)).join(' ')}`,
  );
  lines.push('');
  lines.push(
    `SIGN: one ${sign.threshold}-of-${sign.participants} round, ${sign.source} (TBS ${sign.tbsBytes} bytes), 3 ` +
      'participants in this process',
  );
  const row = (label: string, x: SeriesResult, ratio: number) => [
    label,
    fmt(x.totalMs),
    fmt(x.round1Ms),
    fmt(x.round2Ms),
    fmt(x.coordinatorCpuMs),
    fmt(x.benchCpuMs),
    fmt(ratio, 0),
  ];
  for (const l of table([
    ['', 'ms', 'round 1', 'round 2', 'coord. CPU', 'bench CPU', 'x baseline'],
    row('FROST round, FrostStore participants (nonces on disk)', sign.frostStore, sign.ratio),
    row('FROST round, nonces in memory', sign.frostMemory, sign.ratioMemory),
    row(
      `FROST targets round (tuf, ${sign.targetsBytes} canonical bytes), FrostStore`,
      sign.frostTargets,
      sign.ratioTargets,
    ),
    row('plain key-held Ed25519 CA: 2 approvals + holder signature', sign.plain, sign.ratioPlain),
    ['BASELINE: 3 Ed25519 signatures + 3 verifications, no network', fmt(sign.baselineMs, 3), '', '', '', '', '1'],
  ]))
    lines.push('  ' + l);
  lines.push(
    "  (FROST round 1: commitments sent -> the coordinator's signing request arrives; round 2: -> all shares " +
      'acknowledged and the release seen;',
  );
  lines.push('   the three participants make their shares one after another in this thread.');
  lines.push(
    '   plain: round 1 = both approvals acknowledged, round 2 = holder fetch + verify approvals + sign + ' +
      'release. CPU columns: ms per round.',
  );
  lines.push(
    "   targets: the same group as a tuf repository's targets key; the release adds snapshot and timestamp " +
      'signed with the online key.)',
  );
  lines.push(
    `  first rounds (cold): FROST fleet root ${fmt(sign.fleetRootColdMs)} ms, plain CA fleet root ` +
      `${fmt(sign.plainFleetRootColdMs)} ms`,
  );
  lines.push(
    `  RATIO FROST 3-of-5 loopback round / (3 Ed25519 signatures + verifications): ${fmt(sign.ratio, 0)}x  ` +
      `(nonces in memory: ${fmt(sign.ratioMemory, 0)}x; FROST / plain CA round through the coordinator: ` +
      `${fmt(sign.ratioFrostOverPlain, 1)}x)`,
  );
  lines.push('');
  lines.push(
    'DKG through the coordinator: admin POST -> every participant holds the agreed group (all participants in ' +
      'this one thread)',
  );
  for (const l of table([
    ['group', 'total ms', 'round 1 in', 'round 2 in', 'agreed', 'coord. CPU', 'bench CPU', 'cold'],
    ...dkg.map((d) => [
      `${d.t}-of-${d.n}`,
      fmt(d.totalMs, 0),
      fmt(d.round1Ms, 0),
      fmt(d.round2Ms, 0),
      fmt(d.agreedMs, 0),
      fmt(d.coordinatorCpuMs, 0),
      fmt(d.benchCpuMs, 0),
      fmt(d.cold.total, 0),
    ]),
  ]))
    lines.push('  ' + l);
  lines.push(
    '  (round 1 in / round 2 in / agreed: ms from the POST until the first participant has every round-1 ' +
      'package / its round-2 inbox / the group;',
  );
  lines.push(
    '   each participant is signer-client/frost-participant.ts as quorum-signer frost join runs it, share ' +
      'stored with scrypt N=2^14 + fsync;',
  );
  lines.push(
    '   frost.bench.ts times the same crypto in process, including the critical path of participants on their ' +
      'own machines.)',
  );
  lines.push('');
  process.stdout.write(lines.join('\n') + '\n');
  process.stdout.write(
    'BENCH_JSON ' +
      JSON.stringify({
        bench: 'frost-loopback',
        node: process.version,
        cpus: os.cpus().length,
        reps: REPS,
        ...meta,
        sign,
        dkg,
      }) +
      '\n',
  );
}

async function main(): Promise<void> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'uptane-quorum-frost-loopback-'));
  const cleanup: (() => Promise<void> | void)[] = [];
  const loadStart = os.loadavg();
  const commit = gitHead();
  log(
    `node ${process.version}, ${os.cpus().length} cpus, load ${loadStart.map((x) => x.toFixed(2)).join(' ')}, ` +
      `commit ${commit}, temp ${tmp}`,
  );
  try {
    const { coordinator, members } = await setup(tmp, cleanup);
    log(
      `coordinator ${coordinator.url} (pid ${coordinator.proc!.pid}); ${members.length} keyholders enrolled ` +
        'with FROST identities and connected',
    );
    const sign = await benchSign(coordinator, members, tmp);
    const dkg = await benchDkg(coordinator, members);
    const audit = await adminCall(coordinator, 'audit.verify');
    check(audit.ok, 'the audit chain verifies after the run');
    report(sign, dkg, { commit, loadStart, loadEnd: os.loadavg() });
  } finally {
    for (const fn of cleanup.splice(0).reverse()) {
      try {
        await fn();
      } catch {
        /* best effort */
      }
    }
    if (process.env.BENCH_KEEP) log(`kept ${tmp}`);
    else fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`frost loopback benchmark failed: ${(e as Error).stack ?? e}\n`);
    process.exit(1);
  },
);
