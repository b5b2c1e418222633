/**
 * The signer does not trust the coordinator. It keeps its own pinned chain of roots and the last
 * released targets it verified (TrustStore, in its home), and the checks workflow.ts runs before
 * anything is signed: walk and verify every newer released root itself (both thresholds, version
 * +1); verify the released targets it diffs against with that root; re-canonicalise the proposed
 * payload and recompute its sha256; require version = last released + 1, the version the round
 * claims, and a well-formed body in which its own key is needed. Any failure is a refusal with a code.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { getOwn, type Dialect } from '../protocol/canonical.js';
import { QuorumError, type Codes } from '../protocol/errors.js';
import { keyId, parseMetadataKey, type MetadataKey, type PublicKey } from '../protocol/keys.js';
import { EXPIRES_RE, type RootSigned } from '../protocol/metadata/schemas.js';
import {
  checkRoot,
  checkSpecVersion,
  checkThreshold,
  parseMetadata,
  verifyRootUpdate,
  type Metadata,
} from '../protocol/verify.js';
import type { DelegationPayload, RoundInfo } from '../protocol/wire.js';
import { delegatedRoles, edgeDelegates, readDelegations } from '../protocol/delegations.js';
import { delegationLine } from '../protocol/changes.js';
import { displayText } from '../protocol/display.js';

export type RefusalCode = Codes<
  | 'PAYLOAD_MALFORMED' // not metadata of the round's role and dialect
  | 'PAYLOAD_MISMATCH' // the bytes do not hash to what the coordinator says
  | 'PAYLOAD_CHANGED' // differs from what this keyholder reviewed
  | 'ROLLBACK' // version not newer than the last release
  | 'VERSION_SKIP' // version not last + 1
  | 'ROOT_CHAIN_INVALID' // a released root the coordinator sent does not verify
  | 'TARGETS_BASE_INVALID' // the released targets do not verify under the pinned root
  | 'TARGETS_BASE_MISSING' // the coordinator withholds the released targets this signer verified (none, or an older version)
  | 'TARGETS_BASE_CONFLICT' // released targets of the version this signer kept, with other content
  | 'DELEGATION_CHAIN_INVALID' // a delegated role's chain from the verified targets does not verify or delegate it
  | 'DELEGATED_PATH_OUTSIDE' // a delegated role's proposal lists targets outside the paths it is delegated
  | 'ROUND_MISMATCH' // the answer is another round, role or version than asked, or its bytes are of another version than it claims
  | 'PROFILE_MISMATCH' // a certificate's TBS does not have what its round's profile and its issuer allow (signer-client/workflow.ts)
  | 'EXPIRED' // the proposal is already expired
  | 'NOT_NEEDED' // this keyholder's key does not sign this round
  | 'NO_TRUSTED_ROOT'
  | 'ROUND_CLOSED' // released, cancelled or expired: nothing to sign
  | 'CEREMONY_FAILED' // a FROST DKG ceremony stopped (a participant's package failed a check)
  | 'CEREMONY_STARTED' // a DKG ceremony that already has this participant's round 1, and no stored state to resume from
  | 'CEREMONY_CONFLICT' // the stored DKG state or share does not match the ceremony
  | 'IDENTITY_MISMATCH' // the ceremony lists another identity key for this keyholder
  | 'GROUP_MISMATCH' // the coordinator recorded another group than this participant computed
  | 'ISSUER_MISMATCH' // a certificate's issuer name or key identifier is not the signing CA's own (signer-client/cert-trust.ts)
  | 'TIMEOUT' // gave up waiting for other participants
>;

export class Refusal extends QuorumError<RefusalCode> {}

/**
 * What a signer holds itself, none of it taken from the coordinator unverified: the newest pinned
 * root, the last released targets it verified (kept so that a coordinator cannot withhold them;
 * the file's bytes, parsed only when a source offers other bytes of the same version), and the
 * highest released targets version it has seen (the kept file's, once one is kept).
 */
export interface TrustState {
  root: Metadata<'root'> | null;
  keptTargets: Buffer | null;
  targetsSeen: number;
  /** The highest released version of each delegated role this signer has verified (by role name). */
  delegatedSeen?: Record<string, number>;
}

/** What verifying released metadata taught the signer, to keep: roots walked, newer released targets. */
export interface Learned {
  roots: { version: number; bytes: Buffer }[];
  targets: Metadata<'targets'> | null;
  /** Nothing was pinned and the first root was trusted on first use. */
  tofu: boolean;
  /** Released versions of delegated roles verified with a delegated role's round. */
  delegated?: Record<string, number>;
}

/**
 * The signer's trust, in its home folder: roots/N.root.json (newest wins), targets.json (the last
 * released targets it verified), targets-version (the highest released targets version seen), and
 * reviewed/ (the sha256 a person reviewed, by the round id they asked for).
 */
export class TrustStore {
  constructor(
    readonly dir: string,
    readonly dialect: Dialect | undefined,
  ) {
    fs.mkdirSync(path.join(dir, 'roots'), { recursive: true });
  }

  latest(): Metadata<'root'> | null {
    const versions = fs
      .readdirSync(path.join(this.dir, 'roots'))
      .map((n) => /^(\d+)\.root\.json$/.exec(n)?.[1])
      .filter((v): v is string => !!v)
      .map(Number)
      .sort((a, b) => b - a);
    if (!versions.length) return null;
    const file = path.join(this.dir, 'roots', `${versions[0]}.root.json`);
    return parseMetadata(fs.readFileSync(file), `${versions[0]}.root.json (pinned)`, 'root', this.dialect);
  }

  /** The highest released targets version this signer has verified (0 if none). */
  seenTargets(): number {
    const f = path.join(this.dir, 'targets-version');
    return fs.existsSync(f) ? Number(fs.readFileSync(f, 'utf8')) || 0 : 0;
  }

  noteTargets(version: number): void {
    if (version > this.seenTargets()) fs.writeFileSync(path.join(this.dir, 'targets-version'), `${version}\n`);
  }

  pin(version: number, bytes: Buffer): void {
    writeAtomic(path.join(this.dir, 'roots', `${version}.root.json`), bytes);
  }

  state(): TrustState {
    const kept = path.join(this.dir, 'targets.json');
    return {
      root: this.latest(),
      keptTargets: fs.existsSync(kept) ? fs.readFileSync(kept) : null,
      targetsSeen: this.seenTargets(),
      delegatedSeen: this.seenDelegated(),
    };
  }

  /** delegated-versions.json: the highest released version of each delegated role verified. */
  seenDelegated(): Record<string, number> {
    const f = path.join(this.dir, 'delegated-versions.json');
    if (!fs.existsSync(f)) return {};
    let v: unknown;
    try {
      v = JSON.parse(fs.readFileSync(f, 'utf8'));
    } catch (e) {
      throw new QuorumError(
        'JSON_INVALID',
        `${f} is not JSON (${(e as Error).message}); it holds the delegated roles' versions this signer verified: ` +
          'restore it from a backup, or remove it to trust the coordinator for them once more',
        { cause: e },
      );
    }
    const out: Record<string, number> = {};
    if (typeof v === 'object' && v !== null)
      for (const [k, n] of Object.entries(v)) if (Number.isSafeInteger(n)) out[k] = n as number;
    return out;
  }

  /** Keep what verifyReleased learned: pin the walked roots, keep newer released targets. */
  keep(learned: Learned): void {
    for (const r of learned.roots) this.pin(r.version, r.bytes);
    if (learned.delegated && Object.keys(learned.delegated).length) {
      const seen = this.seenDelegated();
      for (const [k, n] of Object.entries(learned.delegated)) seen[k] = Math.max(seen[k] ?? 0, n);
      writeAtomic(path.join(this.dir, 'delegated-versions.json'), JSON.stringify(seen) + '\n');
    }
    if (learned.targets) {
      this.noteTargets(learned.targets.signed.version as number);
      writeAtomic(path.join(this.dir, 'targets.json'), learned.targets.bytes);
    }
  }

  private reviewFile(kind: 'round' | 'cert', id: string): string {
    return path.join(
      this.dir,
      'reviewed',
      `${kind === 'cert' ? 'cert.' : ''}${id.replace(/[^A-Za-z0-9._-]/g, '_')}.json`,
    );
  }

  /** The sha256 a person reviewed for the round they asked for by this id, or null. */
  reviewed(kind: 'round' | 'cert', id: string): string | null {
    const f = this.reviewFile(kind, id);
    return fs.existsSync(f) ? (JSON.parse(fs.readFileSync(f, 'utf8')) as { sha256: string }).sha256 : null;
  }

  recordReview(kind: 'round' | 'cert', id: string, sha256: string): void {
    fs.mkdirSync(path.join(this.dir, 'reviewed'), { recursive: true });
    writeAtomic(this.reviewFile(kind, id), JSON.stringify({ round: id, sha256, at: new Date().toISOString() }) + '\n');
  }
}

function writeAtomic(file: string, bytes: Buffer | string): void {
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, bytes);
  fs.renameSync(tmp, file);
}

/**
 * Walk released roots newer than the pinned one, verifying each step; pins every verified root.
 * With nothing pinned yet, the lowest released root is trusted on first use (`tofu` says so).
 */
export function advanceRoots(
  trust: TrustStore,
  roots: { version: number; file: string }[],
): { root: Metadata<'root'> | null; tofu: boolean; walked: number[] } {
  const w = walkRoots(trust.latest(), roots, trust.dialect);
  for (const r of w.walked) trust.pin(r.version, r.bytes);
  return { root: w.root, tofu: w.tofu, walked: w.walked.map((r) => r.version) };
}

/** advanceRoots without the pinning: the newest verified root and the roots walked to reach it. */
export function walkRoots(
  pinned: Metadata<'root'> | null,
  roots: { version: number; file: string }[],
  dialect: Dialect | undefined,
): { root: Metadata<'root'> | null; tofu: boolean; walked: { version: number; bytes: Buffer }[] } {
  let cur = pinned;
  let tofu = false;
  const walked: { version: number; bytes: Buffer }[] = [];
  for (const r of [...roots].sort((a, b) => a.version - b.version)) {
    const bytes = Buffer.from(r.file, 'utf8');
    let next: Metadata<'root'>;
    try {
      next = parseMetadata(bytes, `${r.version}.root.json`, 'root', dialect ?? cur?.dialect);
    } catch (e) {
      throw new Refusal(
        'ROOT_CHAIN_INVALID',
        `released root ${r.version} is not valid metadata: ${(e as Error).message}`,
      );
    }
    if (next.signed.version !== r.version)
      throw new Refusal('ROOT_CHAIN_INVALID', `released ${r.version}.root.json says version ${next.signed.version}`);
    if (!cur) {
      const self = checkThreshold(
        next,
        'root',
        (next.signed as RootSigned).roles.root ?? { keyids: [], threshold: 0 },
        (next.signed as RootSigned).keys,
      );
      const errors = checkRoot(next).filter((f) => f.severity === 'error');
      if (!self.met || errors.length)
        throw new Refusal('ROOT_CHAIN_INVALID', `first root ${r.version} is not validly self-signed`);
      tofu = true;
    } else {
      if (r.version <= cur.signed.version) continue;
      const step = verifyRootUpdate(cur, next);
      if (!step.ok) {
        throw new Refusal(
          'ROOT_CHAIN_INVALID',
          `released root ${r.version} does not follow pinned root ${cur.signed.version}: ${step.findings
            .filter((f) => f.severity === 'error')
            .map((f) => `${f.code}: ${f.message}`)
            .join('; ')}`,
        );
      }
    }
    walked.push({ version: r.version, bytes });
    cur = next;
  }
  return { root: cur, tofu, walked };
}

/** The released targets, verified under the pinned root; null when none was released. */
export function verifiedTargets(
  root: Metadata<'root'> | null,
  file: string | null,
  dialect: Dialect,
): Metadata<'targets'> | null {
  if (file === null) return null;
  if (!root) throw new Refusal('NO_TRUSTED_ROOT', 'targets were released but no root is pinned');
  let t: Metadata<'targets'>;
  try {
    t = parseMetadata(Buffer.from(file, 'utf8'), 'targets.json (released)', 'targets', dialect);
  } catch (e) {
    throw new Refusal('TARGETS_BASE_INVALID', `released targets are not valid metadata: ${(e as Error).message}`);
  }
  const rs = root.signed as RootSigned;
  const th = checkThreshold(t, 'targets', rs.roles.targets ?? { keyids: [], threshold: 0 }, rs.keys);
  if (!th.met)
    throw new Refusal(
      'TARGETS_BASE_INVALID',
      `released targets v${t.signed.version} are not signed by a threshold of the pinned root's targets keys; ` +
        'the coordinator may be lying',
    );
  return t;
}

export interface CheckedProposal {
  round: RoundInfo;
  proposed: Metadata<'root' | 'targets'>;
  /** The released version it replaces (root: pinned root; targets: released targets). */
  base: Metadata<'root' | 'targets'> | null;
  sha256: string;
  /** The key id to sign under (one the round's roots give this keyholder's key). */
  keyid: string;
  /** Which thresholds this key counts towards. */
  countsFor: string[];
  /** For a targets round linked to a root round: that root proposal, checked the same way. */
  linkedRoot?: CheckedProposal;
  /** A delegated role's round: the chain of roles that delegates it (targets first) and its delegation. */
  delegation?: { chain: string[]; line: string };
  /** A hash-binned targets round: its bin changes as the coordinator gives them (not covered by this signature). */
  bins?: { add: Record<string, unknown>; remove: string[] };
  /** A delegated role's round: the released versions of the roles on its chain (and its own) verified. */
  delegatedVersions?: Record<string, number>;
}

function keyidsOf(root: RootSigned | undefined, role: string, me: PublicKey): string[] {
  if (!root) return [];
  return (getOwn(root.roles, role)?.keyids ?? []).filter((id) => {
    try {
      return parseMetadataKey(getOwn(root.keys, id) as MetadataKey).fingerprint === me.fingerprint;
    } catch {
      return false;
    }
  });
}

/** Every check a signer makes before it will sign a round's payload. */
export function checkProposal(
  round: RoundInfo,
  signedText: string,
  root: Metadata<'root'> | null,
  targets: Metadata<'targets'> | null,
  dialect: Dialect,
  me: PublicKey,
  now = new Date(),
  seenTargets = 0,
  requireMine = true,
): CheckedProposal {
  let proposed: Metadata<'root' | 'targets'>;
  try {
    const body = JSON.parse(signedText);
    proposed = parseMetadata(
      Buffer.from(JSON.stringify({ signatures: [], signed: body })),
      `proposed ${round.role}`,
      round.role,
      dialect,
    );
  } catch (e) {
    throw new Refusal(
      'PAYLOAD_MALFORMED',
      `the proposed ${round.role} is not valid ${dialect} metadata: ${(e as Error).message}`,
    );
  }
  const sha256 = crypto.createHash('sha256').update(proposed.canonical).digest('hex');
  if (sha256 !== round.sha256)
    throw new Refusal(
      'PAYLOAD_MISMATCH',
      `the payload hashes to ${sha256}, but the coordinator says ${round.sha256}; refusing to sign`,
    );
  const s = proposed.signed as { version: number; expires: string };
  if (s.version !== round.version)
    throw new Refusal(
      'ROUND_MISMATCH',
      `round ${round.id} says ${round.role} version ${round.version}, but its bytes are version ${s.version}; ` +
        'refusing to sign',
    );
  const base = round.role === 'root' ? root : targets;
  const last = base ? (base.signed as { version: number }).version : 0;
  if (s.version <= last)
    throw new Refusal(
      'ROLLBACK',
      `proposed ${round.role} version ${s.version} is not newer than the released version ${last}; refusing a rollback`,
    );
  if (round.role === 'targets' && !base) {
    // No targets released through the coordinator yet: the first may continue the numbering of
    // an imported OTA Connect repository (whose reposerver accepts only its version + 1), but
    // never go below a targets version this signer has already seen.
    if (s.version <= seenTargets)
      throw new Refusal(
        'ROLLBACK',
        `proposed targets version ${s.version} is not newer than version ${seenTargets}, which this signer has ` +
          'seen released; refusing a rollback',
      );
  } else if (s.version !== last + 1) {
    throw new Refusal(
      'VERSION_SKIP',
      `proposed ${round.role} version ${s.version} must be ${last + 1} (last released + 1)`,
    );
  }
  if (!EXPIRES_RE.test(s.expires) || Date.parse(s.expires) <= now.getTime())
    throw new Refusal('EXPIRED', `proposed ${round.role} expires ${s.expires}, which is not a future time`);
  const spec = checkSpecVersion(proposed);
  if (spec.length) throw new Refusal('PAYLOAD_MALFORMED', spec[0]!.message);
  const countsFor: string[] = [];
  let ids: string[];
  if (round.role === 'root') {
    const errors = checkRoot(proposed as Metadata<'root'>).filter((f) => f.severity === 'error');
    if (errors.length)
      throw new Refusal(
        'PAYLOAD_MALFORMED',
        `the proposed root is not usable: ${errors.map((f) => `${f.code}: ${f.message}`).join('; ')}`,
      );
    const old = keyidsOf(root?.signed as RootSigned | undefined, 'root', me);
    const neu = keyidsOf(proposed.signed as RootSigned, 'root', me);
    if (old.length) countsFor.push(`root v${last} keys`);
    if (neu.length) countsFor.push(`root v${s.version} keys`);
    ids = [...neu, ...old];
  } else {
    if (!root) throw new Refusal('NO_TRUSTED_ROOT', 'no root is pinned, so no targets keys are known');
    ids = keyidsOf(root.signed as RootSigned, 'targets', me);
    if (ids.length) countsFor.push('targets keys');
  }
  if (!ids.length && requireMine)
    throw new Refusal(
      'NOT_NEEDED',
      `your key (${me.fingerprint.slice(0, 16)}…) is not one this ${round.role} round needs`,
    );
  return { round, proposed, base, sha256, keyid: ids[0] ?? '', countsFor };
}

export interface Payload {
  round: RoundInfo;
  signed: string;
  linkedRoot?: { round: RoundInfo; signed: string };
  delegation?: DelegationPayload;
  /** A hash-binned targets round: what it changes in the bins, as the coordinator says (shown as such). */
  bins?: { add: Record<string, unknown>; remove: string[] };
}

/**
 * A delegated role's round, checked from the released targets this signer verified: each file of
 * the chain the coordinator sends is delegated by the role above it and signed by a threshold of
 * the keys that delegation names; the last delegation names the round's role and this signer's key;
 * the role's released file (the base) verifies under it too; the proposal is the base's next
 * version (1 when none is released) and lists only targets its delegation covers.
 */
function checkDelegatedProposal(
  p: Payload,
  root: Metadata<'root'> | null,
  targets: Metadata<'targets'> | null,
  dialect: Dialect,
  me: PublicKey,
  now: Date,
  seen: Record<string, number>,
): CheckedProposal {
  const name = p.round.delegated!;
  const versions: Record<string, number> = {};
  // A coordinator must not withhold a newer release of a role than this signer verified.
  const notOlder = (role: string, meta: Metadata<'targets'> | null) => {
    const v = meta ? (meta.signed.version as number) : 0;
    if (v < (seen[role] ?? 0))
      throw new Refusal(
        'TARGETS_BASE_MISSING',
        `the coordinator sends released ${role} version ${v || '(none)'}, but this signer has verified version ` +
          `${seen[role]}; refusing an older base (the coordinator may be withholding the newer one)`,
      );
    if (meta) versions[role] = v;
  };
  const refuse = (why: string): never => {
    throw new Refusal('DELEGATION_CHAIN_INVALID', `round ${p.round.id} signs delegated role ${name}, but ${why}`);
  };
  if (p.round.role !== 'targets' || p.linkedRoot) refuse('it is not a plain targets round');
  if (!targets) return refuse('no released targets are verified, so nothing delegates it');
  let parent: Metadata<'targets'> = targets;
  const names = ['targets'];
  const step = (child: string) => {
    const raw = (parent.signed as { delegations?: unknown }).delegations;
    const read = raw === undefined ? null : readDelegations(raw, dialect).delegations;
    const hit = read ? [...delegatedRoles(read)].find((c) => c.name === child) : undefined;
    if (!read || !hit) return refuse(`${names.at(-1)} (verified) does not delegate to ${child}`);
    return { d: read, hit };
  };
  const verifiedUnder = (file: string, role: string, via: ReturnType<typeof step>, what: string) => {
    let meta: Metadata<'targets'>;
    try {
      meta = parseMetadata(Buffer.from(file, 'utf8'), `${role}.json`, 'targets', dialect);
    } catch (e) {
      return refuse(`${what} is not targets metadata: ${(e as Error).message}`);
    }
    const t = checkThreshold(meta, role, via.hit, via.d.keys);
    if (!t.met)
      refuse(
        `${what} is signed by ${t.signedBy.length} of the keys ${names.at(-1)} delegates ${role} to; ${t.threshold} required`,
      );
    return meta;
  };
  for (const c of p.delegation?.chain ?? []) {
    parent = verifiedUnder(c.file, c.name, step(c.name), `the released ${c.name} the coordinator sent`);
    notOlder(c.name, parent);
    names.push(c.name);
  }
  const via = step(name);
  const base = p.delegation?.base ? verifiedUnder(p.delegation.base, name, via, `the released ${name}`) : null;
  notOlder(name, base);
  const checked = checkProposal(p.round, p.signed, root, base, dialect, me, now, 0, false);
  const version = checked.proposed.signed.version as number;
  if (!base && version !== 1)
    throw new Refusal(
      'VERSION_SKIP',
      `proposed ${name} version ${version} must be 1: the coordinator sends no released ${name} to follow`,
    );
  const ids = via.hit.keyids.filter((id) => {
    try {
      return parseMetadataKey(getOwn(via.d.keys, id) as MetadataKey).fingerprint === me.fingerprint;
    } catch {
      return false;
    }
  });
  if (!ids.length)
    throw new Refusal(
      'NOT_NEEDED',
      `your key (${me.fingerprint.slice(0, 16)}…) is not one ${names.at(-1)} delegates ${name} to`,
    );
  const outside = Object.keys((checked.proposed.signed as { targets: Record<string, unknown> }).targets).filter(
    (path) => !edgeDelegates(via.d, name, path, dialect),
  );
  if (outside.length)
    throw new Refusal(
      'DELEGATED_PATH_OUTSIDE',
      `proposed ${name} lists ${outside.length} target(s) outside the paths ${names.at(-1)} delegates to it ` +
        `(${outside
          .slice(0, 3)
          .map((x) => displayText(JSON.stringify(x)))
          .join(', ')}${outside.length > 3 ? ', …' : ''}); clients never look for them there; refusing`,
    );
  const raw = (parent.signed as { delegations: { keys: Record<string, unknown>; roles?: unknown[] } }).delegations;
  const entry = (raw.roles ?? []).find((r) => (r as { name?: unknown }).name === name) as
    Record<string, unknown> | undefined;
  return {
    ...checked,
    keyid: ids[0]!,
    countsFor: [`${name} keys (delegated by ${names.at(-1)})`],
    delegatedVersions: versions,
    delegation: {
      chain: [...names, name],
      line: entry ? delegationLine(raw.keys, entry) : `one of ${2 ** (via.d.succinct?.bitLength ?? 0)} hash bins`,
    },
  };
}

/**
 * Check a round's payload. A targets round linked to a root round is signed under that
 * proposed root's targets keys: the root proposal gets every root check first (version +1,
 * well-formed, its hash), and the targets are then checked against it, not the released root.
 */
export function checkPayload(
  p: Payload,
  root: Metadata<'root'> | null,
  targets: Metadata<'targets'> | null,
  dialect: Dialect,
  me: PublicKey,
  now = new Date(),
  seenTargets = 0,
  seenDelegated: Record<string, number> = {},
): CheckedProposal {
  if (p.round.delegated !== undefined) return checkDelegatedProposal(p, root, targets, dialect, me, now, seenDelegated);
  if (!p.linkedRoot) {
    const checked = checkProposal(p.round, p.signed, root, targets, dialect, me, now, seenTargets);
    return p.bins ? { ...checked, bins: p.bins } : checked;
  }
  if (
    p.round.role !== 'targets' ||
    p.linkedRoot.round.role !== 'root' ||
    p.round.linked !== p.linkedRoot.round.id ||
    p.linkedRoot.round.linked !== p.round.id
  ) {
    throw new Refusal('PAYLOAD_MALFORMED', `round ${p.round.id} names a linked round that does not link back to it`);
  }
  const linkedRoot = checkProposal(
    p.linkedRoot.round,
    p.linkedRoot.signed,
    root,
    targets,
    dialect,
    me,
    now,
    seenTargets,
    false,
  );
  const checked = checkProposal(
    p.round,
    p.signed,
    linkedRoot.proposed as Metadata<'root'>,
    targets,
    dialect,
    me,
    now,
    seenTargets,
  );
  return {
    ...checked,
    countsFor: checked.countsFor.map((c) => `${c} of proposed root v${linkedRoot.proposed.signed.version}`),
    linkedRoot,
  };
}

/** Key id of a public key in a dialect (for display). */
export function displayKeyId(k: MetadataKey, dialect: Dialect): string {
  return keyId(k, dialect);
}
