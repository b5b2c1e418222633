/**
 * The round state machine: open -> released | cancelled | expired, each transition one SQLite
 * transaction that checks the current state. Signatures are verified on arrival against the keys
 * the round needs (for root: the current root's root keys and the proposed root's), bound to the
 * round's exact canonical bytes, stored, audited, and only then acknowledged. When every
 * threshold is met, release.ts assembles and re-verifies the result as a device would.
 */
import crypto from 'node:crypto';
import type { Dialect } from '../protocol/canonical.js';
import { QuorumError, type Codes } from '../protocol/errors.js';
import {
  decodeSig,
  parseMetadataKey,
  publicKeyFrom,
  verifySignature,
  type MetadataKey,
  type PublicKey,
} from '../protocol/keys.js';
import { formatExpires, type RootSigned } from '../protocol/metadata/schemas.js';
import { OTA_PSS_SALT, otaSaltProblem } from '../protocol/ota-server.js';
import { checkThreshold, parseMetadata, short, type Metadata, type RoleKeys } from '../protocol/verify.js';
import type { RoundInfo, RoundRole, RoundState, ThresholdProgress, WireErrorCode } from '../protocol/wire.js';
import { doneGroups } from './frost.js';
import { WIRE_LIMITS } from '../protocol/limits.js';
import { DAY_MS } from '../protocol/time.js';
import { proposedRoot, type KeyholderRow, type RoundRow, type Store } from './store.js';
import {
  DELEGATED_NAME_RE,
  DELEGATED_NAME_RULE,
  findDelegation,
  type BinsChange,
  type DelegationOf,
} from './delegated.js';
import { edgeDelegates } from '../protocol/delegations.js';

export type RoundErrorCode = Codes<
  | WireErrorCode
  | 'ROUND_OPEN_EXISTS' // one open round per role
  | 'ROUND_STALE_BASE' // opened against a version that is no longer the latest
  | 'ROUND_INVALID' // the proposed metadata is not acceptable
  | 'NO_ROOT' // targets round before any root was released
  | 'KEYHOLDER_UNKNOWN'
  | 'KEYHOLDER_EXISTS'
  | 'SIG_PSS_SALT' // ota: an RSA-PSS salt length other than the 32 the OTA Connect servers verify
  | 'DELEGATION_UNKNOWN' // a delegated role's round for a role no released targets file delegates
  | 'DELEGATED_PATH_OUTSIDE' // a delegated role's targets outside the paths it is delegated
>;

export class RoundError extends QuorumError<RoundErrorCode> {}

/** Expiry of targets re-signed by a root round (garage-sign's targets default). */
const TARGETS_RESIGN_DAYS = 31;

/** One threshold a round must meet: which keys (by fingerprint) count, and how many. */
export interface Need {
  label: string;
  threshold: number;
  /** fingerprint -> key ids it has in the root that lists it */
  keys: Map<string, { keyids: string[]; pk: PublicKey }>;
}

/** Keys of a role in a root, grouped by key material. */
export function roleNeed(label: string, root: RootSigned, role: string): Need {
  return keysNeed(label, root.keys, root.roles[role] ?? { keyids: [], threshold: 0 });
}

/** Keys a role lists (by id, from `keysById`: a root's keys or a delegation's), grouped by key material. */
export function keysNeed(label: string, keysById: Record<string, unknown>, r: RoleKeys): Need {
  const keys = new Map<string, { keyids: string[]; pk: PublicKey }>();
  for (const id of r.keyids) {
    const k = Object.hasOwn(keysById, id) ? keysById[id] : undefined;
    if (!k) continue;
    let pk: PublicKey;
    try {
      pk = parseMetadataKey(k as MetadataKey);
    } catch {
      continue;
    }
    const e = keys.get(pk.fingerprint);
    if (e) e.keyids.push(id);
    else keys.set(pk.fingerprint, { keyids: [id], pk });
  }
  return { label, threshold: r.threshold, keys };
}

export interface RepoState {
  dialect: Dialect;
  /** Latest released root, parsed from its file; null before the first root release. */
  root: Metadata<'root'> | null;
  /** Latest released targets, parsed; null before the first targets release. */
  targets: Metadata<'targets'> | null;
  /** All files of the latest release. */
  files: Record<string, Buffer>;
  releaseSeq: number | null;
  /**
   * The targets version the next targets round follows: the released one, or before any targets
   * release, the version an imported OTA Connect reposerver holds (it accepts only the next), or 0.
   */
  targetsBase: number;
}

const stateCache = new WeakMap<Store, RepoState>();

/** The latest release, parsed; cached per store until the next release (signature paths read it often). */
export function repoState(store: Store): RepoState {
  const seq = store.latestReleaseSeq();
  const hit = stateCache.get(store);
  if (hit && hit.releaseSeq === seq) return hit;
  const state = loadState(store);
  stateCache.set(store, state);
  return state;
}

function loadState(store: Store): RepoState {
  const dialect = store.dialect();
  const rel = store.latestRelease();
  const files = rel ? store.releaseFiles(rel.seq) : {};
  const root = files['root.json'] ? parseMetadata(files['root.json'], 'root.json', 'root', dialect) : null;
  const targets = files['targets.json']
    ? parseMetadata(files['targets.json'], 'targets.json', 'targets', dialect)
    : null;
  const serverTargets = Number(store.getMeta('ota_server_targets_version') ?? 0);
  const targetsBase = targets ? (targets.signed.version as number) : serverTargets;
  return { dialect, root, targets, files, releaseSeq: rel?.seq ?? null, targetsBase };
}

/**
 * The thresholds a round needs. Root N+1: root N's root keys (from the release files, so the
 * answer does not change once N+1 is released) and N+1's own. Targets: the targets keys of the
 * latest released root, which is what devices will check the release against.
 */
export function needsOf(round: RoundRow, state: RepoState, store?: Store): Need[] {
  if (round.delegated) {
    // The keys the delegating role gives it in the released repository.
    const d = findDelegation(state.files, round.delegated, state.dialect);
    if (!d) return [];
    return [
      keysNeed(`${round.delegated} keys (delegated by ${d.chain.at(-1)})`, d.keys, {
        keyids: d.keyids,
        threshold: d.threshold,
      }),
    ];
  }
  if (round.role === 'targets' && round.linked_round && store) {
    // Re-signed under the proposed root it is released with.
    const root = store.round(round.linked_round);
    if (root) return [roleNeed(`targets keys of root v${root.version}`, proposedRoot(root), 'targets')];
  }
  if (round.role === 'root') {
    const proposed = proposedRoot(round);
    const needs: Need[] = [];
    const prevFile = state.files[`${round.version - 1}.root.json`];
    if (round.version > 1 && prevFile) {
      const prev = parseMetadata(prevFile, `${round.version - 1}.root.json`, 'root', state.dialect)
        .signed as RootSigned;
      needs.push(roleNeed(`root v${prev.version} keys`, prev, 'root'));
    }
    needs.push(roleNeed(`root v${proposed.version} keys`, proposed, 'root'));
    return needs;
  }
  if (!state.root) return [];
  return [roleNeed('targets keys', state.root.signed as RootSigned, 'targets')];
}

/** `groups`: FROST group names by key fingerprint, so that progress names them `frost:NAME`. */
export function progressOf(
  store: Store,
  round: RoundRow,
  needs: Need[],
  groups?: Map<string, string>,
): ThresholdProgress[] {
  const signed = new Set(store.signatures(round.id).map((s) => s.fingerprint));
  return needs.map((n) => {
    const group = (fp: string) => (groups?.has(fp) ? `frost:${groups.get(fp)}` : undefined);
    const names = (fp: string) =>
      store.keyholderByFingerprint(fp)?.name ?? group(fp) ?? `key ${short([...(n.keys.get(fp)?.keyids ?? [fp])][0]!)}`;
    const have = [...n.keys.keys()].filter((fp) => signed.has(fp));
    const missing = [...n.keys.keys()].filter((fp) => !signed.has(fp));
    return {
      label: n.label,
      threshold: n.threshold,
      signed: have.map(names),
      missing: missing.map(names),
      met: n.threshold >= 1 && have.length >= n.threshold,
    };
  });
}

export function roundInfo(store: Store, round: RoundRow, state: RepoState): RoundInfo {
  const needs = needsOf(round, state, store);
  const groups = doneGroups(store);
  const needed = groups.filter((g) => needs.some((n) => n.keys.has(g.fingerprint)));
  const frost = needed.map((g) => ({
    session: `${round.id}.${g.ceremony}`,
    ceremony: g.ceremony,
    groupPublicKey: g.group.groupPublicKey,
    threshold: g.group.threshold,
    participants: g.group.participants.map((p) => p.name),
    signed: !!store.signature(round.id, g.fingerprint),
  }));
  return {
    id: round.id,
    role: round.role,
    version: round.version,
    state: round.state,
    reason: round.reason,
    deadline: round.deadline,
    createdAt: round.created_at,
    sha256: round.sha256,
    progress: progressOf(store, round, needs, new Map(groups.map((g) => [g.fingerprint, g.name]))),
    ...(round.linked_round ? { linked: round.linked_round } : {}),
    ...(round.delegated ? { delegated: round.delegated } : {}),
    ...(frost.length ? { frost } : {}),
  };
}

/**
 * A round's public summary. A closed round's never changes: it is computed once, stored in
 * round_summaries and read from there (listings and round.get cost the same whatever the history);
 * an open round's is computed now, its progress being live.
 */
export function roundSummary(store: Store, round: RoundRow): RoundInfo {
  if (round.state !== 'open') {
    const stored = store.roundSummary(round.id)?.info;
    if (stored) return stored;
  }
  const info = roundInfo(store, round, repoState(store));
  if (round.state !== 'open') store.setRoundSummaryInfo(round.seq, info);
  return info;
}

/**
 * A page of rounds from round_summaries: the newest `limit` (of `state`) opened before round
 * `before`, oldest first; `next` is the id to pass as `before` for the older page, null on the last. Only open rounds
 * and closed ones never summarised
 * (before migration 6) load their row.
 */
export function listRounds(
  store: Store,
  opts: { state?: RoundState; before?: string; limit?: number } = {},
): { rounds: RoundInfo[]; next: string | null } {
  const limit = Math.max(1, Math.min(opts.limit ?? WIRE_LIMITS.pageDefault, WIRE_LIMITS.pageMax));
  let before: number | undefined;
  if (opts.before !== undefined) {
    const b = store.roundSummary(opts.before);
    if (!b) throw new RoundError('ROUND_NOT_FOUND', `no round ${opts.before} to list rounds before`);
    before = b.seq;
  }
  const rows = store.roundSummaries({ state: opts.state, before, limit: limit + 1 });
  const page = rows.slice(0, limit);
  const rounds = page.map((s) => (s.info && s.state !== 'open' ? s.info : roundSummary(store, store.round(s.id)!)));
  return { rounds: rounds.reverse(), next: rows.length > limit ? page.at(-1)!.id : null };
}

/** e.g. "root: 1/2 of root v1 keys, 2/2 of root v2 keys" */
export function progressLine(info: RoundInfo): string {
  return (
    `${info.delegated !== undefined ? `${info.delegated} (delegated targets)` : info.role} v${info.version} [${info.state}]: ` +
    info.progress.map((p) => `${p.signed.length}/${p.threshold} of ${p.label}${p.met ? ' (met)' : ''}`).join(', ')
  );
}

// --- opening rounds --------------------------------------------------------------------------

export interface OpenRequest {
  role: RoundRole;
  reason: string;
  deadline: Date;
  /** The complete proposed `signed` body. */
  signed: Record<string, unknown>;
  /** The version the requester based the change on (last released); refused when stale. */
  baseVersion?: number;
  /** tuf: the coordinator's online key, which must be able to sign snapshot and timestamp. */
  online?: PublicKey;
  /**
   * Root only: also open a linked targets round re-signing the released targets (version + 1)
   * under the proposed root's targets keys; both are released together, once both are signed.
   */
  resignTargets?: boolean;
  /** Who opened it, when not an administrator: `coordinator` for a renewal round (audited as `by`). */
  openedBy?: string;
  /** A delegated targets role's round (role targets): the role's name. */
  delegated?: string;
  /** With hash bins: the targets this targets round adds to and removes from the bins. */
  bins?: BinsChange;
}

/**
 * In tuf the coordinator signs snapshot and timestamp at each release with its online key, so the
 * root in force must let that key alone meet both roles' thresholds.
 */
function onlineProblem(root: RootSigned, online: PublicKey): string | null {
  for (const role of ['snapshot', 'timestamp']) {
    const n = roleNeed(role, root, role);
    if (!n.keys.has(online.fingerprint) || n.threshold !== 1) return role;
  }
  return null;
}

function releasedVersion(state: RepoState, role: RoundRole, delegated?: DelegationOf): number {
  if (delegated) return delegated.released ? (delegated.released.signed.version as number) : 0;
  if (role === 'targets') return state.targetsBase;
  return state.root ? (state.root.signed as { version: number }).version : 0;
}

/** Open a round after checking the proposal is well-formed metadata of version last + 1. */
export function openRound(store: Store, req: OpenRequest, now = new Date()): RoundRow {
  const state = repoState(store);
  const dialect = state.dialect;
  if (req.role === 'targets' && !state.root)
    throw new RoundError(
      'NO_ROOT',
      'no root has been released yet; release root version 1 first (quorum round open root ...)',
    );
  if (!req.reason.trim()) throw new RoundError('ROUND_INVALID', 'every round needs a reason (--reason)');
  if (req.deadline.getTime() <= now.getTime())
    throw new RoundError('ROUND_INVALID', `the deadline ${req.deadline.toISOString()} is in the past`);
  if (req.bins && (req.role !== 'targets' || req.delegated !== undefined))
    throw new RoundError('ROUND_INVALID', 'hash bins change with a targets round of targets.json');
  let delegation: DelegationOf | undefined;
  if (req.delegated !== undefined) {
    if (req.role !== 'targets' || req.resignTargets)
      throw new RoundError(
        'ROUND_INVALID',
        'a delegated role is a targets role: open it with quorum round open targets',
      );
    if (!DELEGATED_NAME_RE.test(req.delegated)) throw new RoundError('ROUND_INVALID', DELEGATED_NAME_RULE);
    delegation = findDelegation(state.files, req.delegated, dialect) ?? undefined;
    if (!delegation)
      throw new RoundError(
        'DELEGATION_UNKNOWN',
        `no released targets file delegates to ${JSON.stringify(req.delegated)}; first release a targets round ` +
          `that delegates it (quorum round open targets --delegate ${req.delegated} --key ... --paths ...)`,
      );
  }
  if (delegation?.delegations.succinct)
    throw new RoundError(
      'ROUND_INVALID',
      `${req.delegated} is a hash bin: the bins are signed by the online key at each targets release; add and ` +
        'remove their targets with quorum round open targets',
    );
  const roleName = req.delegated ?? req.role;
  const last = releasedVersion(state, req.role, delegation);
  if (req.baseVersion !== undefined && req.baseVersion !== last) {
    throw new RoundError(
      'ROUND_STALE_BASE',
      `the change was based on ${roleName} version ${req.baseVersion}, but version ${last} is the latest ` +
        `release; rebuild the change on version ${last}`,
    );
  }
  const version = (req.signed as { version?: unknown }).version;
  if (version !== last + 1)
    throw new RoundError(
      'ROUND_INVALID',
      `${roleName} version must be ${last + 1} (last released + 1), not ${JSON.stringify(version)}`,
    );
  // The proposal must parse as metadata of this role and dialect, with canonical form.
  let canonical: Buffer;
  let meta: Metadata;
  const text = JSON.stringify({ signatures: [], signed: req.signed });
  try {
    meta = parseMetadata(Buffer.from(text), `proposed ${req.role}`, req.role, dialect);
    canonical = meta.canonical;
  } catch (e) {
    throw new RoundError('ROUND_INVALID', (e as Error).message, { cause: e });
  }
  if (delegation) {
    // Clients never look for a target in a role that is not delegated its path.
    const outside = Object.keys((meta.signed as { targets: Record<string, unknown> }).targets).filter(
      (p) => !edgeDelegates(delegation.delegations, delegation.name, p, dialect),
    );
    if (outside.length)
      throw new RoundError(
        'DELEGATED_PATH_OUTSIDE',
        `${outside.length} target(s) are outside the paths ${delegation.chain.at(-1)} delegates to ` +
          `${delegation.name} (${outside
            .slice(0, 3)
            .map((p) => JSON.stringify(p))
            .join(', ')}${outside.length > 3 ? ', …' : ''}); clients would never find them there`,
      );
  }
  if (dialect === 'tuf' && req.online) {
    const root = (req.role === 'root' ? meta.signed : state.root!.signed) as RootSigned;
    const role = onlineProblem(root, req.online);
    if (role) {
      throw new RoundError(
        'ROUND_INVALID',
        req.role === 'root'
          ? `the proposed root does not let this coordinator's online key sign ${role} (it must be listed with ` +
              'threshold 1), so nothing could be released under it; add --add-key snapshot=online --add-key ' +
              'timestamp=online --threshold snapshot=1 --threshold timestamp=1'
          : `the released root does not let this coordinator's online key sign ${role}, so targets cannot be ` +
              'released; first open a root round with --add-key snapshot=online --add-key timestamp=online (and ' +
              `remove the old ${role} key)`,
      );
    }
  }
  let linkedTargets: { signed: Record<string, unknown>; canonical: Buffer } | null = null;
  if (req.resignTargets) {
    if (req.role !== 'root') throw new RoundError('ROUND_INVALID', 're-signing targets goes with a root round');
    if (!state.targets)
      throw new RoundError(
        'ROUND_INVALID',
        'no targets have been released, so there is nothing to re-sign; open the targets round after the root ' +
          'is released',
      );
    const t = structuredClone(state.targets.signed) as Record<string, unknown>;
    t.version = state.targetsBase + 1;
    t.expires = formatExpires(new Date(now.getTime() + TARGETS_RESIGN_DAYS * DAY_MS));
    linkedTargets = {
      signed: t,
      canonical: parseMetadata(
        Buffer.from(JSON.stringify({ signatures: [], signed: t })),
        'proposed targets',
        'targets',
        dialect,
      ).canonical,
    };
    if (store.openRound('targets'))
      throw new RoundError(
        'ROUND_OPEN_EXISTS',
        `a targets round is open; cancel it before re-signing targets with a root round`,
      );
  } else if (req.role === 'root' && state.targets) {
    // Devices check the released targets against the new root: it must still meet its threshold.
    const rs = meta.signed as RootSigned;
    const t = checkThreshold(state.targets, 'targets', rs.roles.targets ?? { keyids: [], threshold: 0 }, rs.keys);
    if (!t.met) {
      throw new RoundError(
        'ROUND_INVALID',
        `under the proposed root, the released targets v${state.targets.signed.version} would be signed by ` +
          `${t.signedBy.length} of the ${t.threshold} targets keys required, so devices would reject them; open ` +
          'the root round with --resign-targets, so that the new targets keys re-sign targets and both are ' +
          'released together',
      );
    }
  }
  const existing = store.openRound(req.role, req.delegated ?? null);
  if (existing)
    throw new RoundError(
      'ROUND_OPEN_EXISTS',
      `round ${existing.id} for ${roleName} is still open; release, cancel or let it expire first (quorum ` +
        `round cancel ${existing.id})`,
    );
  const sha256 = crypto.createHash('sha256').update(canonical).digest('hex');
  return store.tx(() => {
    const seq = store.nextRoundSeq();
    const id = `${req.delegated ? `targets.${req.delegated}` : req.role}-v${req.signed.version}-r${seq}`;
    const row = {
      id,
      role: req.role,
      version: last + 1,
      base_root_version: releasedVersion(state, 'root'),
      signed_json: JSON.stringify(req.signed),
      canonical,
      sha256,
      reason: req.reason,
      deadline: req.deadline.toISOString(),
      state: 'open' as RoundState,
      created_at: now.toISOString(),
      delegated: req.delegated ?? null,
      bins_json: req.bins ? JSON.stringify(req.bins) : null,
    };
    if (store.openRound(req.role, row.delegated))
      throw new RoundError('ROUND_OPEN_EXISTS', `a ${roleName} round is already open`);
    store.insertRound(row);
    store.audit(
      'round.opened',
      {
        round: id,
        role: req.role,
        ...(req.delegated ? { delegated: req.delegated } : {}),
        version: row.version,
        sha256,
        reason: req.reason,
        deadline: row.deadline,
        ...(req.openedBy ? { by: req.openedBy } : {}),
      },
      now.toISOString(),
    );
    if (linkedTargets) {
      const tid = `targets-v${linkedTargets.signed.version}-r${seq + 1}`;
      const tsha = crypto.createHash('sha256').update(linkedTargets.canonical).digest('hex');
      store.insertRound({
        ...row,
        id: tid,
        role: 'targets',
        version: linkedTargets.signed.version as number,
        delegated: null,
        bins_json: null,
        signed_json: JSON.stringify(linkedTargets.signed),
        canonical: linkedTargets.canonical,
        sha256: tsha,
        reason: `${req.reason} (targets re-signed under root v${row.version}, released together with ${id})`,
      });
      store.linkRounds(id, tid);
      store.audit(
        'round.opened',
        {
          round: tid,
          role: 'targets',
          version: linkedTargets.signed.version,
          sha256: tsha,
          reason: req.reason,
          deadline: row.deadline,
          linked: id,
          ...(req.openedBy ? { by: req.openedBy } : {}),
        },
        now.toISOString(),
      );
    }
    return store.round(id)!;
  });
}

// --- signatures ------------------------------------------------------------------------------

export interface Submission {
  round: string;
  keyid: string;
  sig: string;
  sha256: string;
  /** The authenticated keyholder; absent for signatures the admin adds (air-gapped flow). */
  keyholder?: KeyholderRow;
  /** Who signed, when not a keyholder (e.g. `frost:NAME (alice, bob)`), for progress and the audit log. */
  label?: string;
}

/**
 * Verify and store one signature. Throws RoundError with the rejection code; every outcome is
 * audited. Returns the stored round row.
 */
export function submitSignature(store: Store, sub: Submission, now = new Date()): RoundRow {
  const reject = (code: RoundErrorCode, message: string): never => {
    store.audit(
      'signature.rejected',
      { round: sub.round, keyid: sub.keyid, keyholder: sub.keyholder?.name ?? null, code, message },
      now.toISOString(),
    );
    throw new RoundError(code, message);
  };
  const round = store.round(sub.round);
  if (!round) return reject('ROUND_NOT_FOUND', `no round ${sub.round}; list rounds with quorum-signer rounds`);
  if (round.state !== 'open') return reject('ROUND_NOT_OPEN', `cannot add a signature to a ${round.state} round`);
  if (Date.parse(round.deadline) <= now.getTime()) {
    // The deadline passed before the periodic expiry ran: expire it now rather than accept late.
    expireRounds(store, now);
    return reject('ROUND_NOT_OPEN', `cannot add a signature to an expired round (deadline ${round.deadline})`);
  }
  const state = repoState(store);
  const needs = needsOf(round, state, store);
  // Which key is this? The key id must name a key the round needs.
  let entry: { fp: string; pk: PublicKey } | null = null;
  for (const n of needs) for (const [fp, k] of n.keys) if (k.keyids.includes(sub.keyid)) entry = { fp, pk: k.pk };
  if (sub.keyholder) {
    if (entry && entry.fp !== sub.keyholder.fingerprint)
      return reject(
        'SIG_NOT_YOUR_KEY',
        `key id ${short(sub.keyid)} is not the key you authenticated with; sign with your own key`,
      );
    if (!entry) {
      const mine = needs.some((n) => n.keys.has(sub.keyholder!.fingerprint));
      return reject(
        'SIG_KEY_NOT_NEEDED',
        mine
          ? `key id ${short(sub.keyid)} does not name your key in this round's roots`
          : `your key is not one this ${round.role} round needs (${needs.map((n) => n.label).join(', ')})`,
      );
    }
  } else if (!entry) {
    return reject(
      'SIG_KEY_NOT_NEEDED',
      `key id ${short(sub.keyid)} is not a key this ${round.role} round needs (${needs.map((n) => n.label).join(', ')})`,
    );
  }
  const { fp, pk } = entry!;
  if (store.signature(round.id, fp))
    return reject('SIG_DUPLICATE', `this key already signed round ${round.id}; one signature per key`);
  const sig = decodeSig(sub.sig, state.dialect);
  if (!sig) return reject('SIG_MALFORMED', `signature is not ${state.dialect === 'ota' ? 'base64' : 'hex'}`);
  if (sub.sha256 !== round.sha256 || !verifySignature(pk, round.canonical, sig)) {
    // Tell a replayed signature (another round's sha256, or this key's signature accepted in
    // another round) from one over arbitrary bytes: two index look-ups, whatever the history.
    const replay =
      store.otherRoundWithSha256(round.role, sub.sha256, round.seq)?.id ?? store.roundSignedWith(sig, fp)?.round_id;
    if (replay)
      return reject(
        'SIG_REPLAY',
        `signature is over the bytes of round ${replay}, not round ${round.id}; review and sign this round`,
      );
    return reject(
      'SIG_WRONG_BYTES',
      sub.sha256 !== round.sha256
        ? `signed sha256 ${sub.sha256.slice(0, 16)}… is not this round's ${round.sha256.slice(0, 16)}…; fetch ` +
            'the round again and sign its exact bytes'
        : "signature does not verify over this round's exact bytes; fetch the round again and sign its exact bytes",
    );
  }
  const salt = state.dialect === 'ota' ? otaSaltProblem(pk, sig) : null;
  if (salt !== null)
    return reject(
      'SIG_PSS_SALT',
      `the RSA-PSS signature has salt length ${salt}; aktualizr would accept it, but the OTA Connect servers ` +
        `verify salt length ${OTA_PSS_SALT} only and would refuse the upload; sign again with salt length ` +
        `${OTA_PSS_SALT} (quorum-signer does)`,
    );
  const keyholder =
    sub.keyholder?.name ?? sub.label ?? store.keyholderByFingerprint(fp)?.name ?? `key:${fp.slice(0, 12)}`;
  store.tx(() => {
    const cur = store.round(round.id)!;
    if (cur.state !== 'open') throw new RoundError('ROUND_NOT_OPEN', `cannot add a signature to a ${cur.state} round`);
    if (store.signature(round.id, fp)) throw new RoundError('SIG_DUPLICATE', 'this key already signed this round');
    store.insertSignature({ round_id: round.id, fingerprint: fp, keyholder, sig, received_at: now.toISOString() });
    store.audit(
      'signature.accepted',
      { round: round.id, keyid: sub.keyid, keyholder, fingerprint: fp },
      now.toISOString(),
    );
  });
  return store.round(round.id)!;
}

export function allMet(store: Store, round: RoundRow, state = repoState(store)): boolean {
  const needs = needsOf(round, state, store);
  return needs.length > 0 && progressOf(store, round, needs).every((p) => p.met);
}

// --- closing ---------------------------------------------------------------------------------

export function cancelRound(store: Store, id: string, reason: string, now = new Date()): RoundRow {
  return store.tx(() => {
    const r = store.round(id);
    if (!r) throw new RoundError('ROUND_NOT_FOUND', `no round ${id}`);
    if (r.state !== 'open') throw new RoundError('ROUND_NOT_OPEN', `cannot cancel a ${r.state} round`);
    store.setRoundState(id, 'open', 'cancelled', now.toISOString());
    store.audit('round.cancelled', { round: id, reason }, now.toISOString());
    // A linked pair is released together or not at all.
    if (r.linked_round && store.setRoundState(r.linked_round, 'open', 'cancelled', now.toISOString())) {
      store.audit(
        'round.cancelled',
        { round: r.linked_round, reason: `linked round ${id} was cancelled: ${reason}` },
        now.toISOString(),
      );
    }
    return store.round(id)!;
  });
}

/** Expire open rounds whose deadline has passed; returns the expired rows. */
export function expireRounds(store: Store, now = new Date()): RoundRow[] {
  const out: RoundRow[] = [];
  for (const r of store.rounds('open')) {
    if (Date.parse(r.deadline) <= now.getTime()) {
      store.tx(() => {
        if (store.setRoundState(r.id, 'open', 'expired', now.toISOString()))
          store.audit('round.expired', { round: r.id, deadline: r.deadline }, now.toISOString());
      });
      out.push(store.round(r.id)!);
    }
  }
  return out;
}

// --- keyholders ------------------------------------------------------------------------------

export function enrollKeyholder(store: Store, name: string, key: string | MetadataKey, now = new Date()): KeyholderRow {
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(name))
    throw new RoundError(
      'ROUND_INVALID',
      `keyholder name ${JSON.stringify(name)} must be 1-64 letters, digits, '.', '_' or '-'`,
    );
  const pk = typeof key === 'string' ? publicKeyFrom(key) : parseMetadataKey(key);
  if (store.getMeta('dialect') === 'ota' && pk.algorithm === 'ecdsa-p256') {
    throw new RoundError(
      'ROUND_INVALID',
      'ECDSA keys cannot sign ota metadata (aktualizr rejects them); enroll an ed25519 or RSA key',
    );
  }
  return store.tx(() => {
    if (store.keyholderByName(name)) throw new RoundError('KEYHOLDER_EXISTS', `keyholder ${name} is already enrolled`);
    const other = store.keyholderByFingerprint(pk.fingerprint);
    if (other) throw new RoundError('KEYHOLDER_EXISTS', `this key is already enrolled as ${other.name}`);
    const row = {
      name,
      spki: pk.spki,
      fingerprint: pk.fingerprint,
      algorithm: pk.algorithm,
      enrolled_at: now.toISOString(),
    };
    store.addKeyholder(row);
    store.audit(
      'keyholder.enrolled',
      { name, fingerprint: pk.fingerprint, algorithm: pk.algorithm },
      now.toISOString(),
    );
    return { ...row, removed_at: null };
  });
}

export function keyholderKey(row: KeyholderRow): PublicKey {
  return publicKeyFrom(row.spki);
}
