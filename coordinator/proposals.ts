/**
 * Turning a release coordinator's change ("add these targets", "replace this root key") into the
 * complete proposed `signed` body of the next version, starting from the latest release so that
 * unknown fields and untouched entries carry over byte for byte. Expiry defaults are garage-sign's.
 */
import { setOwn, type Dialect } from '../protocol/canonical.js';
import { readDelegations } from '../protocol/delegations.js';
import {
  toMetadataKey,
  keyId,
  parseMetadataKey,
  publicKeyFrom,
  type MetadataKey,
  type PublicKey,
} from '../protocol/keys.js';
import { buildRoot, daysFrom } from '../protocol/metadata/build.js';
import { formatExpires, type RootSigned, type Role } from '../protocol/metadata/schemas.js';
import { QuorumError } from '../protocol/errors.js';
import { otaTargetsProblems } from '../protocol/ota-server.js';
import { RoundError, keyholderKey, type RepoState } from './rounds.js';
import type { Store } from './store.js';
import {
  DELEGATED_NAME_RE,
  DELEGATED_NAME_RULE,
  binsDelegation,
  checkBinsChange,
  type BinsChange,
  type DelegationOf,
  type HashBins,
} from './delegated.js';
import { groupPublicKey } from '../protocol/frost.js';
import { groupByName } from './frost.js';
import type { KeyRef, RootChange, TargetsChange } from './admin-api.js';

export const EXPIRY_DAYS = { root: 365, targets: 31 } as const; // garage-sign defaults

/** Meta key: the `signed` targets body pulled from the OTA Connect reposerver at import (garage-sign targets pull). */
export { OTA_SERVER_TARGETS_META } from './store.js';

/**
 * The targets the reposerver holds as far as this coordinator knows: the newer of the released ones and those pulled at
 * import.
 */
export function serverKnownTargets(store: Store, state: RepoState): Record<string, unknown> | null {
  const released = state.targets ? (state.targets.signed as unknown as Record<string, unknown>) : null;
  const pulled = store.serverTargets();
  if (!pulled) return released;
  return released && (released.version as number) >= pulled.version ? released : pulled;
}

/**
 * ota: refuse a proposed targets body with a target devices could not install or the reposerver
 * would not store (no hardware id, a BINARY file with no location, a uri it cannot parse); see
 * protocol/ota-server.ts. The same check runs again at `quorum export ota-tuf`.
 */
export function checkOtaTargets(
  store: Store,
  state: RepoState,
  signed: Record<string, unknown>,
  delegated?: DelegatedBase,
): void {
  if (state.dialect !== 'ota') return;
  // A delegated role's targets are new against its own released file.
  const problems = otaTargetsProblems(signed, delegated ? delegated.released : serverKnownTargets(store, state));
  if (!problems.length) return;
  // One line per problem; the first one's code heads the error (CODE: message on stderr).
  const first = problems[0]!.code;
  throw new QuorumError(
    first,
    problems.map((p) => `${p.code === first ? '' : `${p.code}: `}${p.at}: ${p.message}`).join('\n'),
  );
}

/** A delegated role's round: the role's released body (null before its first release) and version. */
export interface DelegatedBase {
  released: Record<string, unknown> | null;
  version: number;
}

/** The base of a delegated role's next version, from how the released repository delegates it. */
export function delegatedBase(d: DelegationOf): DelegatedBase {
  return {
    released: (d.released?.signed as Record<string, unknown> | undefined) ?? null,
    version: d.released ? (d.released.signed.version as number) : 0,
  };
}

/**
 * The next targets body: the released one with entries added/replaced/removed. For a delegated
 * role's round (`delegated`), the next version of that role's file.
 */
export function proposeTargets(
  state: RepoState,
  change: TargetsChange,
  now = new Date(),
  delegated?: DelegatedBase,
): Record<string, unknown> {
  const released = delegated ? delegated.released : state.targets ? state.targets.signed : null;
  const base = released ? (structuredClone(released) as Record<string, unknown>) : null;
  const signed: Record<string, unknown> = base ?? {
    _type: state.dialect === 'ota' ? 'Targets' : 'targets',
    targets: {},
  };
  if (!base && state.dialect === 'tuf') signed.spec_version = '1.0.31';
  const targets = signed.targets as Record<string, unknown>;
  for (const name of change.remove ?? []) {
    if (!Object.hasOwn(targets, name))
      throw new RoundError(
        'ROUND_INVALID',
        `cannot remove target ${JSON.stringify(name)}: the released targets do not list it`,
      );
    delete targets[name];
  }
  // Names such as __proto__ or constructor are ordinary target names.
  for (const [name, entry] of Object.entries(change.add ?? {})) setOwn(targets, name, entry);
  signed.version = (delegated ? delegated.version : state.targetsBase) + 1;
  signed.expires = formatExpires(daysFrom(now, change.expiresDays ?? EXPIRY_DAYS.targets));
  return signed;
}

/**
 * A targets round in a hash-binned repository: targets.json keeps only its delegation to the bins
 * (added on the first round), and the targets added and removed go to their bins, which the online
 * key signs at the release (release.ts, signBins).
 */
export function proposeBinned(
  state: RepoState,
  bins: HashBins,
  change: TargetsChange,
  online: PublicKey | undefined,
  now = new Date(),
): { signed: Record<string, unknown>; bins: BinsChange } {
  if (!online) throw new RoundError('ROUND_INVALID', 'hash bins are signed by the online key, and there is none');
  if (change.delegate?.length || change.undelegate?.length)
    throw new RoundError('ROUND_INVALID', 'targets.json delegates to the hash bins; it cannot delegate to named roles');
  const binsChange: BinsChange = { add: change.add ?? {}, remove: change.remove ?? [] };
  const signed = proposeTargets(state, { ...(change.expiresDays ? { expiresDays: change.expiresDays } : {}) }, now);
  signed.delegations ??= binsDelegation(bins, online);
  checkBinsChange(state.files, signed, binsChange);
  return { signed, bins: binsChange };
}

/**
 * Add, replace (same name) or remove delegated roles in a targets body's `delegations`, the
 * delegated keys resolved as a root round's are; keys no role uses any more are dropped. The result
 * must read as the dialect's client reads delegations (ota: paths only, as aktualizr).
 */
export function applyDelegations(
  store: Store,
  dialect: Dialect,
  signed: Record<string, unknown>,
  change: Pick<TargetsChange, 'delegate' | 'undelegate'>,
  online?: PublicKey,
): void {
  if (!change.delegate?.length && !change.undelegate?.length) return;
  const had = signed.delegations !== undefined;
  const d = (had ? signed.delegations : { keys: {}, roles: [] }) as {
    keys: Record<string, MetadataKey>;
    roles?: Record<string, unknown>[];
    succinct_roles?: unknown;
  };
  if (d.succinct_roles !== undefined && d.succinct_roles !== null)
    throw new RoundError(
      'ROUND_INVALID',
      'this targets file delegates to hash bins (succinct_roles); a file delegates either hash bins or named roles',
    );
  const roles = (d.roles ??= []);
  for (const name of change.undelegate ?? []) {
    const i = roles.findIndex((r) => r.name === name);
    if (i < 0)
      throw new RoundError(
        'ROUND_INVALID',
        `cannot undelegate ${JSON.stringify(name)}: this targets file does not delegate to it`,
      );
    roles.splice(i, 1);
  }
  const fpOf = (k: MetadataKey) => parseMetadataKey(k).fingerprint;
  for (const del of change.delegate ?? []) {
    const what = `delegation ${JSON.stringify(del.name)}`;
    if (!DELEGATED_NAME_RE.test(del.name)) throw new RoundError('ROUND_INVALID', `${what}: ${DELEGATED_NAME_RULE}`);
    if (!del.paths === !del.pathHashPrefixes)
      throw new RoundError('ROUND_INVALID', `${what} needs exactly one of --paths and --path-hash-prefixes`);
    if (dialect === 'ota' && del.pathHashPrefixes)
      throw new RoundError(
        'ROUND_INVALID',
        `${what}: ota delegations take --paths only (aktualizr matches paths, never hash prefixes)`,
      );
    if (del.pathHashPrefixes && !del.pathHashPrefixes.every((p) => /^[0-9a-f]{1,64}$/.test(p)))
      throw new RoundError('ROUND_INVALID', `${what}: a path hash prefix is 1-64 lowercase hex digits`);
    const keyids: string[] = [];
    for (const ref of del.keys) {
      const mk = resolveKey(store, null, ref, online);
      const fp = fpOf(mk);
      const id = Object.entries(d.keys).find(([, k]) => fpOf(k) === fp)?.[0] ?? keyId(mk, dialect);
      if (keyids.includes(id)) throw new RoundError('ROUND_INVALID', `${what} names the same key twice`);
      setOwn(d.keys, id, mk);
      keyids.push(id);
    }
    if (del.threshold > keyids.length)
      throw new RoundError(
        'ROUND_INVALID',
        `${what}: threshold ${del.threshold} cannot be met by its ${keyids.length} key(s)`,
      );
    const role: Record<string, unknown> = {
      name: del.name,
      keyids,
      threshold: del.threshold,
      terminating: del.terminating ?? false,
      ...(del.pathHashPrefixes ? { path_hash_prefixes: del.pathHashPrefixes } : { paths: del.paths }),
    };
    const i = roles.findIndex((r) => r.name === del.name);
    if (i >= 0) roles[i] = role;
    else roles.push(role);
  }
  const used = new Set(roles.flatMap((r) => (Array.isArray(r.keyids) ? (r.keyids as string[]) : [])));
  for (const id of Object.keys(d.keys)) if (!used.has(id)) delete d.keys[id];
  signed.delegations = d;
  const read = readDelegations(d, dialect);
  if (read.problems.length)
    throw new RoundError('ROUND_INVALID', `the delegations would be refused by clients: ${read.problems.join('; ')}`);
}

function resolveKey(store: Store, root: RootSigned | null, ref: KeyRef, online?: PublicKey): MetadataKey {
  const dialect = store.dialect();
  if ('online' in ref) {
    if (!online) throw new RoundError('ROUND_INVALID', 'this coordinator has no online key');
    return toMetadataKey(online, dialect);
  }
  if ('keyholder' in ref) {
    const k = store.keyholderByName(ref.keyholder);
    if (!k || k.removed_at)
      throw new RoundError(
        'KEYHOLDER_UNKNOWN',
        `no enrolled keyholder ${ref.keyholder}; enroll with quorum keyholder add`,
      );
    return toMetadataKey(keyholderKey(k), dialect);
  }
  if ('publicKey' in ref) return toMetadataKey(publicKeyFrom(ref.publicKey), dialect);
  if ('frost' in ref) {
    try {
      return toMetadataKey(groupPublicKey(groupByName(store, ref.frost).group), dialect);
    } catch (e) {
      throw new RoundError('ROUND_INVALID', (e as Error).message, { cause: e });
    }
  }
  const k = root?.keys[ref.keyid];
  if (!k) throw new RoundError('ROUND_INVALID', `the current root has no key ${ref.keyid}`);
  return k as MetadataKey;
}

/** The next root body: the released one with keys added/removed and thresholds changed. */
export function proposeRoot(
  store: Store,
  state: RepoState,
  change: RootChange,
  online?: PublicKey,
  now = new Date(),
): Record<string, unknown> {
  if (!state.root)
    throw new RoundError(
      'NO_ROOT',
      'no released root to change; create the first root with quorum init --keyholder ...',
    );
  const signed = structuredClone(state.root.signed) as unknown as RootSigned & Record<string, unknown>;
  const dialect = state.dialect;
  const fpOf = (k: MetadataKey) => parseMetadataKey(k).fingerprint;
  for (const { role, key } of change.remove ?? []) {
    const fp = fpOf(resolveKey(store, signed, key, online));
    const r = signed.roles[role]!;
    const before = r.keyids.length;
    r.keyids = r.keyids.filter((id) => !signed.keys[id] || fpOf(signed.keys[id] as MetadataKey) !== fp);
    if (r.keyids.length === before)
      throw new RoundError('ROUND_INVALID', `cannot remove the key from ${role}: the role does not list it`);
  }
  for (const { role, key } of change.add ?? []) {
    const mk = resolveKey(store, signed, key, online);
    const fp = fpOf(mk);
    const r = (signed.roles[role] ??= { keyids: [], threshold: 1 });
    if (r.keyids.some((id) => signed.keys[id] && fpOf(signed.keys[id] as MetadataKey) === fp)) {
      throw new RoundError('ROUND_INVALID', `the ${role} role already lists this key`);
    }
    // Reuse the id an existing entry has for this key; otherwise the dialect's own rule.
    const existing = Object.entries(signed.keys).find(([, k]) => fpOf(k as MetadataKey) === fp)?.[0];
    const id = existing ?? keyId(mk, dialect);
    signed.keys[id] ??= mk;
    r.keyids.push(id);
  }
  for (const [role, t] of Object.entries(change.thresholds ?? {})) {
    const r = signed.roles[role];
    if (!r) throw new RoundError('ROUND_INVALID', `root has no ${role} role`);
    r.threshold = t as number;
  }
  for (const [role, r] of Object.entries(signed.roles)) {
    if (r.threshold < 1 || r.threshold > r.keyids.length) {
      throw new RoundError(
        'ROUND_INVALID',
        `${role} threshold ${r.threshold} cannot be met by its ${r.keyids.length} key(s); it must be between 1 ` +
          `and ${r.keyids.length}`,
      );
    }
  }
  // Drop keys no role uses any more.
  const used = new Set(Object.values(signed.roles).flatMap((r) => r.keyids));
  for (const id of Object.keys(signed.keys)) if (!used.has(id)) delete signed.keys[id];
  signed.version = signed.version + 1;
  signed.expires = formatExpires(daysFrom(now, change.expiresDays ?? EXPIRY_DAYS.root));
  return signed;
}

/** Root version 1 of a new repository: keyholders' keys per role, the online key for snapshot/timestamp. */
export function initialRoot(
  store: Store,
  spec: {
    root: string[];
    targets: string[];
    rootThreshold: number;
    targetsThreshold: number;
    online: MetadataKey | string;
    expiresDays?: number;
  },
  now = new Date(),
): Record<string, unknown> {
  const dialect = store.dialect();
  const keysOf = (names: string[]) =>
    names.map((n) => {
      const k = store.keyholderByName(n);
      if (!k || k.removed_at) throw new RoundError('KEYHOLDER_UNKNOWN', `no enrolled keyholder ${n}`);
      return keyholderKey(k);
    });
  const online = typeof spec.online === 'string' ? publicKeyFrom(spec.online) : parseMetadataKey(spec.online);
  const roles = {
    root: { keys: keysOf(spec.root), threshold: spec.rootThreshold },
    targets: { keys: keysOf(spec.targets), threshold: spec.targetsThreshold },
    snapshot: { keys: [online], threshold: 1 },
    timestamp: { keys: [online], threshold: 1 },
  } satisfies Record<Role, unknown>;
  for (const r of ['root', 'targets'] as const) {
    if (roles[r].threshold < 1 || roles[r].threshold > roles[r].keys.length) {
      throw new RoundError(
        'ROUND_INVALID',
        `${r} threshold ${roles[r].threshold} cannot be met by ${roles[r].keys.length} keyholder(s)`,
      );
    }
  }
  return buildRoot({ dialect, version: 1, expires: daysFrom(now, spec.expiresDays ?? EXPIRY_DAYS.root), roles });
}
