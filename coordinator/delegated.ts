/**
 * Delegated targets roles in the released repository, as the coordinator signs them in rounds: which
 * role delegates a name (found the way a client walks the graph: pre-order from targets, the first
 * delegation naming it), the keys and threshold that delegation gives it, its released file, and
 * every delegated file a release holds (for snapshot). The files are read from the release as
 * stored; protocol/delegations.ts reads each `delegations` object as the dialect's client does.
 */
import { z } from 'zod';
import { setOwn, type Dialect } from '../protocol/canonical.js';
import {
  binName,
  binOf,
  delegatedFileName,
  delegatedRoles,
  readDelegations,
  type Delegations,
  type SuccinctRoles,
} from '../protocol/delegations.js';
import { QuorumError } from '../protocol/errors.js';
import { keyId, toMetadataKey, type MetadataKey, type PublicKey } from '../protocol/keys.js';
import { serialize, signEnvelope, type Signer } from '../protocol/metadata/build.js';
import { formatExpires } from '../protocol/metadata/schemas.js';
import { parseMetadata, type Metadata } from '../protocol/verify.js';
import type { Store } from './store.js';

/**
 * The names a delegated role signed in rounds may take: they become part of a round id (at most 64
 * characters) and a file name in both dialects.
 */
export const DELEGATED_NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,39}$/;
export const DELEGATED_NAME_RULE =
  'a delegated role signed in rounds is named with 1-40 letters, digits, ".", "_" or "-", not starting with "." or "-"';

/** How the released repository delegates one role. */
export interface DelegationOf {
  name: string;
  /** targets -> ... -> the delegating role. */
  chain: string[];
  /** The delegating role's `delegations`, as its client reads them. */
  delegations: Delegations;
  keys: Record<string, MetadataKey>;
  keyids: string[];
  threshold: number;
  /** The role's released file, parsed; null before its first release. */
  released: Metadata<'targets'> | null;
  /** Where the role's file is served (relative to the repository folder). */
  fileName: string;
}

/** Parsed files, by their bytes (a release's files object may gain files, never change one). */
const parsed = new WeakMap<Buffer, Metadata<'targets'> | null>();

/** A released targets file by role name (targets included); null when absent or unusable. */
export function releasedRole(
  files: Record<string, Buffer>,
  name: string,
  dialect: Dialect,
): Metadata<'targets'> | null {
  const file = name === 'targets' ? 'targets.json' : delegatedFileName(name, dialect);
  const bytes = Object.hasOwn(files, file) ? files[file]! : undefined;
  if (!bytes) return null;
  if (parsed.has(bytes)) return parsed.get(bytes)!;
  let meta: Metadata<'targets'> | null;
  try {
    meta = parseMetadata(bytes, file, 'targets', dialect);
  } catch {
    meta = null;
  }
  parsed.set(bytes, meta);
  return meta;
}

function delegationsOf(meta: Metadata<'targets'>, dialect: Dialect): Delegations | null {
  const raw = (meta.signed as { delegations?: unknown }).delegations;
  return raw === undefined ? null : readDelegations(raw, dialect).delegations;
}

/** The first delegation of `name` in pre-order from targets over the released files; null when none names it. */
export function findDelegation(files: Record<string, Buffer>, name: string, dialect: Dialect): DelegationOf | null {
  const visited = new Set<string>();
  const walk = (role: string, chain: string[]): DelegationOf | null => {
    if (visited.has(role)) return null;
    visited.add(role);
    const meta = releasedRole(files, role, dialect);
    if (!meta) return null;
    const d = delegationsOf(meta, dialect);
    if (!d) return null;
    const here = [...chain, role];
    const children = [...delegatedRoles(d)];
    const hit = children.find((c) => c.name === name);
    if (hit)
      return {
        name,
        chain: here,
        delegations: d,
        keys: d.keys,
        keyids: hit.keyids,
        threshold: hit.threshold,
        released: releasedRole(files, name, dialect),
        fileName: delegatedFileName(name, dialect),
      };
    if (d.succinct) return null; // hash bins delegate no further here
    for (const c of children) {
      const found = walk(c.name, here);
      if (found) return found;
    }
    return null;
  };
  return walk('targets', []);
}

/**
 * Every delegated role with a file in `files`, reachable from targets, with the file and its
 * version (what snapshot lists), and the delegated roles that have no file yet.
 */
export function delegatedFiles(
  files: Record<string, Buffer>,
  dialect: Dialect,
): { present: Record<string, { file: Buffer; version: number }>; pending: string[] } {
  const present: Record<string, { file: Buffer; version: number }> = {};
  const pending: string[] = [];
  const visited = new Set<string>(['targets']);
  const walk = (role: string) => {
    const meta = releasedRole(files, role, dialect);
    if (!meta) return;
    const d = delegationsOf(meta, dialect);
    if (!d) return;
    for (const c of delegatedRoles(d)) {
      if (visited.has(c.name)) continue;
      visited.add(c.name);
      const m = releasedRole(files, c.name, dialect);
      if (!m) {
        pending.push(c.name);
        continue;
      }
      present[c.name] = { file: files[delegatedFileName(c.name, dialect)]!, version: m.signed.version as number };
      walk(c.name);
    }
  };
  walk('targets');
  return { present, pending };
}

// --- hash bins (TAP 15 succinct_roles, signed by the online key as RSTUF does) -------------------

/** Meta key: the hash bins `quorum init --hash-bins N` set up ({bitLength, namePrefix}). */
export const HASH_BINS_META = 'hash_bins';
/** Days a bin re-signed by the online key stays valid (it is re-signed whenever its targets change). */
export const BIN_EXPIRY_DAYS = 365;

export interface HashBins {
  bitLength: number;
  namePrefix: string;
}

const HashBinsSchema = z.strictObject({
  bitLength: z.number().int().min(1).max(16),
  namePrefix: z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9._-]{0,29}$/),
});

/** The hash bins this repository was initialised with, or null. */
export function hashBinsOf(store: Store): HashBins | null {
  return store.jsonMeta(HASH_BINS_META, HashBinsSchema);
}

/** The targets a round adds to and removes from the hash bins (stored with the round, signed at release). */
export interface BinsChange {
  add: Record<string, unknown>;
  remove: string[];
}

export const BinsChangeSchema: z.ZodType<BinsChange> = z.strictObject({
  add: z.record(z.string(), z.unknown()),
  remove: z.array(z.string()),
});

/**
 * A bins change against the released bins and the proposed targets.json's succinct delegation:
 * every removed target is listed in its bin (ROUND_INVALID otherwise).
 */
export function checkBinsChange(
  files: Record<string, Buffer>,
  signed: Record<string, unknown>,
  change: BinsChange,
): void {
  const d = readDelegations(signed.delegations, 'tuf').delegations;
  if (!d?.succinct)
    throw new QuorumError('ROUND_INVALID', 'targets.json does not delegate to hash bins (succinct_roles)');
  for (const p of change.remove) {
    const name = binName(d.succinct, binOf(d.succinct, p));
    const bin = releasedRole(files, name, 'tuf');
    if (!bin || !Object.hasOwn((bin.signed as { targets: object }).targets, p))
      throw new QuorumError(
        'ROUND_INVALID',
        `cannot remove target ${JSON.stringify(p)}: its bin ${name} does not list it`,
      );
  }
}

/** targets.json's delegation to the bins: every path to one bin, each bin signed by `online` alone. */
export function binsDelegation(bins: HashBins, online: PublicKey): Record<string, unknown> {
  const id = keyId(toMetadataKey(online, 'tuf'), 'tuf');
  return {
    keys: { [id]: toMetadataKey(online, 'tuf') },
    succinct_roles: { keyids: [id], threshold: 1, bit_length: bins.bitLength, name_prefix: bins.namePrefix },
  };
}

/**
 * The bin files a release writes, signed by the online key: every bin on the first release that
 * delegates to them, then only the bins whose targets the round changes (each its next version).
 * Returns the files by name and the bins re-signed.
 */
export async function signBins(
  files: Record<string, Buffer>,
  succinct: SuccinctRoles,
  change: BinsChange | null,
  online: Signer,
  expires: Date,
): Promise<{ files: Record<string, Buffer>; signed: string[] }> {
  const touched = new Map<number, { add: [string, unknown][]; remove: string[] }>();
  const at = (n: number) => touched.get(n) ?? touched.set(n, { add: [], remove: [] }).get(n)!;
  for (let i = 0; i < 2 ** succinct.bitLength; i++)
    if (!Object.hasOwn(files, delegatedFileName(binName(succinct, i), 'tuf'))) at(i);
  for (const p of change?.remove ?? []) at(binOf(succinct, p)).remove.push(p);
  for (const [p, e] of Object.entries(change?.add ?? {})) at(binOf(succinct, p)).add.push([p, e]);
  const out: Record<string, Buffer> = {};
  const signed: string[] = [];
  for (const [n, c] of [...touched].sort((a, b) => a[0] - b[0])) {
    const name = binName(succinct, n);
    const file = delegatedFileName(name, 'tuf');
    const base = releasedRole(files, name, 'tuf');
    const body: Record<string, unknown> = base
      ? (structuredClone(base.signed) as Record<string, unknown>)
      : { _type: 'targets', spec_version: '1.0.31', version: 0, expires: '', targets: {} };
    const targets = body.targets as Record<string, unknown>;
    for (const p of c.remove) {
      if (!Object.hasOwn(targets, p))
        throw new QuorumError(
          'ROUND_INVALID',
          `cannot remove target ${JSON.stringify(p)}: bin ${name} does not list it`,
        );
      delete targets[p];
    }
    for (const [p, e] of c.add) setOwn(targets, p, e);
    body.version = (body.version as number) + 1;
    body.expires = formatExpires(expires);
    out[file] = serialize(await signEnvelope(body as never, 'tuf', [online]));
    signed.push(name);
  }
  return { files: out, signed };
}
