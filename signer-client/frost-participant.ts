/**
 * A FROST participant over the wire: the keyholder's side of a DKG ceremony (round 1 with its
 * signed identity statement, the others' statements checked against keys pinned here, round 2 with
 * shares encrypted to each participant's identity, the confirmation with a signature over the
 * whole transcript, the agreed group and every participant's transcript signature checked, then
 * the share stored encrypted) and of a signing session
 * (fresh commitments, durable before they leave; a share only for a request that names exactly the
 * bytes this participant checked). Both drive one authenticated SignerConnection, act on the
 * coordinator's push messages and ask for the state after each, and ride out a dropped
 * connection. Prompts and printing are the caller's (`quorum-signer frost`, the loopback
 * benchmark), given as functions.
 */
import fs from 'node:fs';
import path from 'node:path';
import { canonicalize } from '../protocol/canonical.js';
import { isRetryable } from '../protocol/codes.js';
import { QuorumError } from '../protocol/errors.js';
import {
  checkCeremony,
  checkIdentities,
  checkTranscripts,
  dkgFinish,
  dkgRestore,
  dkgRound2,
  dkgSnapshot,
  dkgStart,
  FrostError,
  groupPublicKey,
  identityStatement,
  signIdentity,
  signTranscript,
  transcriptDigest,
  type DkgOutcome,
  type DkgState,
  type FrostCommitment,
  type FrostGroup,
  type FrostPurpose,
  type FrostSignatureShare,
  type FrostSignedIdentity,
  type FrostSignRequest,
} from '../protocol/frost.js';
import type { Signer } from '../protocol/metadata/build.js';
import { sha256hex, type PublicKey } from '../protocol/keys.js';
import type { ServerMessage } from '../protocol/wire.js';
import type { SignerConnection } from './connection.js';
import { FrostStore, type ScryptCost } from './frost-store.js';
import { SCRYPT_DEFAULT } from './keystore.js';
import { Refusal } from './trust.js';

export const frostDir = (home: string) => path.join(home, 'frost');
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Retry a request across a dropped connection (the session reconnects by itself) until `deadline`. */
export async function retrying<T>(deadline: number, fn: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (!(e instanceof QuorumError) || !isRetryable(e.code) || Date.now() > deadline) throw e;
      await sleep(250);
    }
  }
}

/**
 * Wake a polling loop when the coordinator pushes one of `events`, instead of polling blindly:
 * `settle()` at the top of each pass, `idle()` at its end waits for a push (or `fallbackMs`, in
 * case one was missed), and returns at once if a push came during the pass.
 */
export function pushWaiter(conn: SignerConnection, events: string[], fallbackMs = 1000) {
  let pending = false;
  let wake: (() => void) | null = null;
  const nudge = () => {
    pending = true;
    wake?.();
  };
  for (const e of events) conn.on(e, nudge);
  return {
    settle: () => void (pending = false),
    idle: async () => {
      if (!pending) await new Promise<void>((r) => ((wake = r), setTimeout(r, fallbackMs).unref()));
      wake = null;
    },
    dispose: () => {
      for (const e of events) conn.off(e, nudge);
    },
  };
}

type DkgStatus = Extract<ServerMessage, { type: 'frost.dkg.status' }>;

export interface JoinOptions {
  conn: SignerConnection;
  /** The keyholder's enrolled key (a key file or a token): signs the identity statement and the transcript. */
  signer: Signer;
  store: FrostStore;
  ceremony: string;
  /** ms since the epoch: give up waiting for the others then */
  deadline: number;
  /** scrypt cost for the DKG state and the share stored */
  scrypt?: ScryptCost;
  /** Consent, asked once the ceremony is shown (true: take part). */
  confirm: (question: string) => Promise<boolean>;
  /** The passphrase of the FROST identity (and of the share stored). */
  passphrase: () => Promise<string>;
  /** One line of progress for the person. */
  out: (line: string) => void;
  /** Told when every round-1 package, then this participant's round-2 inbox, is in (the benchmark times the steps). */
  onStep?: (step: 'round1.all' | 'inbox') => void;
}

export interface JoinResult {
  ceremony: string;
  identifier: number;
  group: FrostGroup;
  shareFile: string;
  outcome: DkgOutcome;
  /** sha256 of the DKG transcript every participant signed: compare it out of band. */
  transcript: string;
}

const purposeText = (p: FrostPurpose) =>
  p.kind === 'fleet-ca' ? `the key of fleet CA ${p.name}` : `the root/targets key frost:${p.name}`;

/**
 * Take part in DKG ceremony `o.ceremony` until the group is agreed; null if the person declined.
 * Every other participant's signing key must be pinned here (FrostStore.pinParticipants) before
 * anything is sent; their identity statements are checked against those keys before any share is
 * encrypted to their identity keys, and their transcript signatures before the share is stored:
 * a share is kept only for a group whose transcript every participant signed, the same as this one.
 */
export async function joinCeremony(o: JoinOptions): Promise<JoinResult | null> {
  const { conn, store, ceremony: id, deadline, out } = o;
  const me = conn.hello!.keyholder;
  const get = () => retrying(deadline, () => conn.request({ type: 'frost.dkg.get', ceremony: id }, 'frost.dkg.status'));
  const pushes = pushWaiter(conn, [
    'frost.dkg.round1.all',
    'frost.dkg.round2.inbox',
    'frost.dkg.done',
    'frost.dkg.failed',
    'reconnected',
  ]);
  try {
    const waitFor = async (what: string, ok: (st: DkgStatus) => boolean): Promise<DkgStatus> => {
      for (;;) {
        pushes.settle();
        const st = await get();
        if (st.state === 'failed') {
          store.dropDkgState(id); // this ceremony is over; a new one starts afresh
          throw new Refusal('CEREMONY_FAILED', `ceremony ${id} failed: ${st.failure}`);
        }
        if (ok(st)) return st;
        if (Date.now() > deadline) throw new Refusal('TIMEOUT', `ceremony ${id}: gave up waiting for ${what}`);
        await pushes.idle();
      }
    };
    let st = await get();
    const ceremony = st.ceremony;
    const mine = ceremony.participants.find((p) => p.name === me);
    if (!mine) throw new Refusal('NOT_NEEDED', `you (${me}) are not a participant of ceremony ${id}`);
    const myKey = store.identityPublicKey();
    if (mine.identityKey !== myKey)
      throw new Refusal(
        'IDENTITY_MISMATCH',
        `ceremony ${id} lists identity key ${mine.identityKey} for you, but your identity in ${store.dir} is ` +
          `${myKey}; ask the release coordinator to record your key`,
      );
    identityStatement(ceremony, me); // FROST_CEREMONY_INVALID for a ceremony that states no purpose
    // Whose statements count: the keys pinned here, and this keyholder's own.
    const pins = store.pinnedKeys();
    const keyOf = (name: string) => (name === me ? o.signer.publicKey : pins.get(name));
    out(
      `DKG ceremony ${id}: a ${ceremony.threshold}-of-${ceremony.participants.length} FROST (Ed25519) group, ` +
        `to become ${purposeText(ceremony.purpose!)}`,
    );
    for (const p of ceremony.participants)
      out(
        `  ${p.identifier}. ${p.name}  identity ${p.identityKey}${p.name === me ? '  (you)' : `  signing key ${keyOf(p.name)?.fingerprint.slice(0, 16) ?? 'NOT PINNED'}…`}`,
      );
    const unpinned = ceremony.participants.filter((p) => !keyOf(p.name)).map((p) => p.name);
    if (unpinned.length)
      throw new FrostError(
        'FROST_NOT_PINNED',
        `no pinned signing key for ${unpinned.join(', ')}: get the public key each enrolled with from them ` +
          '(not from the coordinator) and run quorum-signer frost pin-participants ' +
          `${unpinned.map((n) => `--participant ${n}=${n}.pub.pem`).join(' ')}; nothing was sent`,
      );
    if (st.state === 'failed') {
      store.dropDkgState(id);
      throw new Refusal('CEREMONY_FAILED', `ceremony ${id} failed: ${st.failure}`);
    }
    // A participant that crashed resumes from its encrypted round-1 state (saved before round 1 left).
    const resuming = store.hasDkgState(id);
    if (!resuming && (st.state !== 'round1' || st.round1Received.includes(mine.identifier))) {
      throw new Refusal(
        'CEREMONY_STARTED',
        `ceremony ${id} is at step ${st.state}${st.round1Received.includes(mine.identifier) ? ' and already has your round-1 package' : ''}, ` +
          `and ${store.dkgStateFile(id)} holds no state to resume from; ask the release coordinator to cancel ` +
          'and reopen the ceremony',
      );
    }
    if (!(await o.confirm(`${resuming ? 'resume' : 'take part in'} ceremony ${id}?`))) return null;
    const pass = await o.passphrase();
    const identity = store.unlockIdentity(pass);
    const cost = o.scrypt ?? SCRYPT_DEFAULT;
    const refuse = async (e: unknown): Promise<never> => {
      if (e instanceof FrostError) {
        await conn
          .request(
            {
              type: 'frost.refuse',
              ceremony: id,
              code: e.code,
              message: e.message.slice(0, 2048),
              participants: e.participants,
            },
            'frost.dkg.status',
          )
          .catch(() => undefined);
        store.dropDkgState(id); // this ceremony is over
      }
      throw e;
    };
    let state: DkgState;
    if (resuming) {
      state = dkgRestore(store.loadDkgState(id, pass));
      if (checkCeremony(state.ceremony) !== checkCeremony(ceremony))
        throw new Refusal(
          'CEREMONY_CONFLICT',
          `the state stored in ${store.dkgStateFile(id)} is for another ceremony ${id} than the coordinator's`,
        );
      out(`resuming from ${store.dkgStateFile(id)}`);
    } else {
      state = dkgStart(ceremony, mine.identifier).state;
      store.saveDkgState(dkgSnapshot(state), pass, cost);
    }
    // This keyholder's identity key, bound to this ceremony, signed with its enrolled key.
    const statement = await signIdentity(ceremony, me, o.signer);
    // Identical when resent after a crash (the coordinator accepts it once, and the same again).
    await retrying(deadline, () =>
      conn.request(
        { type: 'frost.dkg.round1', ceremony: id, package: state.round1, identity: statement },
        'frost.dkg.status',
      ),
    );
    out('round 1 sent; waiting for the other participants');
    st = await waitFor('every round-1 package', (x) => x.round1All.length === ceremony.participants.length);
    o.onStep?.('round1.all');
    const round1All = st.round1All;
    // Before anything is encrypted to the others' identity keys: each is theirs, by their pinned key.
    let identities: FrostSignedIdentity[];
    let packages;
    try {
      identities = checkIdentities(ceremony, st.identities, keyOf);
      packages = dkgRound2(state, round1All, identity);
    } catch (e) {
      return refuse(e);
    }
    out(
      `identity statements of ${ceremony.participants.map((p) => p.name).join(', ')} verified against your pinned keys`,
    );
    // After a crash past round 2 the coordinator holds the packages sent then; these are not resent.
    if (!st.round2Received.includes(mine.identifier))
      await retrying(deadline, () =>
        conn.request({ type: 'frost.dkg.round2', ceremony: id, packages }, 'frost.dkg.status'),
      );
    out('round 2 sent (encrypted to each participant); waiting for the others');
    st = await waitFor(
      'the round-2 packages addressed to you',
      (x) => x.inbox.length === ceremony.participants.length - 1,
    );
    o.onStep?.('inbox');
    let outcome: DkgOutcome;
    try {
      outcome = dkgFinish(state, st.inbox, identity);
    } catch (e) {
      return refuse(e);
    }
    const transcript = transcriptDigest(ceremony, identities, round1All);
    const signedTranscript = await signTranscript(ceremony, mine.identifier, transcript, o.signer);
    await retrying(deadline, () =>
      conn.request(
        { type: 'frost.dkg.confirm', ceremony: id, confirm: outcome.confirm, transcript: signedTranscript },
        'frost.dkg.status',
      ),
    );
    out(`confirmation and transcript signature sent; waiting for the others`);
    st = await waitFor('the coordinator to agree on the group', (x) => x.state === 'done');
    if (
      !st.group ||
      st.group.groupPublicKey !== outcome.group.groupPublicKey ||
      sha256hex(canonicalize(st.group, 'tuf')) !== sha256hex(canonicalize(outcome.group, 'tuf'))
    ) {
      store.dropDkgState(id);
      throw new Refusal(
        'GROUP_MISMATCH',
        `the coordinator recorded another group for ${id} than this participant computed (${outcome.group.groupPublicKey}); ` +
          'no share stored',
      );
    }
    try {
      checkTranscripts(ceremony, transcript, st.transcripts, keyOf); // every participant signed this very transcript
    } catch (e) {
      store.dropDkgState(id);
      throw new FrostError(
        (e as FrostError).code ?? 'FROST_TRANSCRIPT_UNSIGNED',
        `${(e as Error).message}; the group is not agreed and no share is stored`,
        (e as FrostError).participants ?? [],
      );
    }
    // Only now is the share kept (a crash before this resumes from the DKG state, which stays until here).
    const file = store.shareFile(outcome.group.groupPublicKey);
    if (!fs.existsSync(file)) store.saveShare(outcome.share, pass, cost);
    else if (store.unlockShare(outcome.group.groupPublicKey, pass).identifier !== mine.identifier)
      throw new Refusal('CEREMONY_CONFLICT', `${file} holds another share of this group`);
    out(`share stored encrypted in ${file}`);
    out(`DKG transcript sha256 ${transcript}: every participant signed it; compare it with theirs out of band`);
    store.dropDkgState(id); // the share is stored; the polynomial is no longer needed
    return { ceremony: id, identifier: mine.identifier, group: outcome.group, shareFile: file, outcome, transcript };
  } finally {
    pushes.dispose();
  }
}

type SignStatus = Extract<ServerMessage, { type: 'frost.sign.status' }>;

/**
 * What signs in a session: a FrostStore share (frost-store.ts FrostKeyholder), or nonces in memory (the benchmark's).
 */
export interface ShareHolder {
  readonly identifier: number;
  commitSync(session: string): FrostCommitment;
  signSync(request: FrostSignRequest, message: Uint8Array): FrostSignatureShare;
  abandonSync(commitment: FrostCommitment): void;
}

/**
 * Take part in one FROST signing session with this participant's share until the group's
 * signature is in: commit (fresh nonces, durable before they are sent), and when the coordinator's
 * request names this commitment, sign exactly `message` (the bytes reviewed here; signSync checks
 * the request's sha256 against them). An aborted attempt's commitment is abandoned and a new one
 * made; FrostStore refuses to use a nonce twice.
 */
export async function signSession(
  conn: SignerConnection,
  kh: ShareHolder,
  group: FrostGroup,
  session: string,
  message: Buffer,
  deadline: number,
  out: (line: string) => void,
): Promise<SignStatus> {
  const me = kh.identifier;
  let mine: FrostCommitment | null = null;
  const signed = new Set<string>();
  const pushes = pushWaiter(conn, [
    'frost.sign.request',
    'frost.sign.abort',
    'round.updated',
    'cert.updated',
    'reconnected',
  ]);
  try {
    return await signLoop();
  } finally {
    pushes.dispose();
  }
  async function signLoop(): Promise<SignStatus> {
    for (;;) {
      pushes.settle();
      const st = await retrying(deadline, () => conn.request({ type: 'frost.sign.get', session }, 'frost.sign.status'));
      // The answer must be about the session asked for, and an attempt must be one of its attempts
      // (`<session>.<k>`): a share is bound to the round the keyholder reviewed, whatever the
      // coordinator answers.
      if (st.session !== session)
        throw new Refusal(
          'ROUND_MISMATCH',
          `asked for FROST session ${session}, the coordinator answered about ${st.session}; nothing was signed`,
        );
      if (st.request && !isAttemptOf(st.request.session, session))
        throw new Refusal(
          'ROUND_MISMATCH',
          `the signing request names attempt ${st.request.session}, not an attempt of session ${session}; ` +
            `nothing was signed`,
        );
      if (st.groupPublicKey !== group.groupPublicKey)
        throw new Refusal(
          'PAYLOAD_MISMATCH',
          `session ${session} is for group key ${st.groupPublicKey}, not ${group.groupPublicKey}`,
        );
      if (st.done) return st;
      if (st.state !== 'open') throw new Refusal('ROUND_CLOSED', `the round of session ${session} is ${st.state}`);
      if (st.excluded.includes(me))
        throw new Refusal('NOT_NEEDED', `the coordinator excluded you from signing session ${session}`);
      if (Date.now() > deadline)
        throw new Refusal('TIMEOUT', `session ${session}: gave up waiting for the other signers`);
      const req = st.request;
      if (req && req.commitments.some((c) => c.identifier === me)) {
        if (!signed.has(req.session)) {
          if (req.groupPublicKey !== group.groupPublicKey)
            throw new Refusal(
              'PAYLOAD_MISMATCH',
              `the signing request is for another group key (${req.groupPublicKey})`,
            );
          let share: FrostSignatureShare;
          try {
            // checks the request names exactly these bytes, and every commitment in it
            share = kh.signSync(req, message);
          } catch (e) {
            if (e instanceof FrostError)
              await conn
                .request(
                  {
                    type: 'frost.refuse',
                    session: req.session,
                    code: e.code,
                    message: e.message.slice(0, 2048),
                    participants: e.participants,
                  },
                  'frost.sign.status',
                )
                .catch(() => undefined);
            // Another participant's commitment is invalid: reported (the coordinator checks it and
            // excludes that participant); this one's nonce answered nothing, so it is burnt and a
            // fresh commitment goes into the next attempt.
            if (!(e instanceof FrostError) || !e.participants.length || e.participants.includes(me)) throw e;
            out(`attempt ${req.session}: ${e.code}: ${e.message}; reported, committing again`);
            signed.add(req.session);
            const own = req.commitments.find((c) => c.identifier === me);
            if (own) kh.abandonSync(own);
            mine = null;
            await pushes.idle();
            continue;
          }
          signed.add(req.session);
          mine = null;
          try {
            await retrying(deadline, () =>
              conn.request({ type: 'frost.sign.share', session: req.session, share }, 'frost.sign.status'),
            );
            out(`signature share sent for ${req.session}`);
          } catch (e) {
            if (!(e instanceof QuorumError) || e.code !== 'SESSION_NOT_FOUND') throw e;
            out(`attempt ${req.session} was aborted before the share arrived; committing again`);
          }
        }
      } else if (!st.committed.includes(me)) {
        if (mine) kh.abandonSync(mine); // its attempt was aborted (or lost in a coordinator restart)
        mine = kh.commitSync(session);
        const c = mine;
        try {
          await retrying(deadline, () =>
            conn.request({ type: 'frost.sign.commitment', session, commitment: c }, 'frost.sign.status'),
          );
        } catch (e) {
          if (!(e instanceof QuorumError) || (e.code !== 'CEREMONY_CONFLICT' && e.code !== 'SESSION_DONE')) throw e;
        }
      }
      await pushes.idle();
    }
  }
}

/** `attempt` names an attempt of `session`: `<session>.<k>` with k a decimal number. */
export function isAttemptOf(attempt: string, session: string): boolean {
  return attempt.startsWith(`${session}.`) && /^[0-9]{1,9}$/.test(attempt.slice(session.length + 1));
}

/** The FROST groups this participant holds a share of, as public keys. */
export function heldGroups(home: string): { group: FrostGroup; pk: PublicKey }[] {
  const dir = frostDir(home);
  if (!fs.existsSync(dir)) return [];
  return FrostStore.open(dir)
    .groups()
    .map((group) => ({ group, pk: groupPublicKey(group) }));
}
