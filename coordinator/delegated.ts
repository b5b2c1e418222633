/**
 * Delegated targets roles in the released repository, as the coordinator signs them in rounds: which
 * role delegates a name (found the way a client walks the graph: pre-order from targets, the first
 * delegation naming it), the keys and threshold that delegation gives it, its released file, and
 * every delegated file a release holds (for snapshot). The files are read from the release as
 * stored; protocol/delegations.ts reads each `delegations` object as the dialect's client does.
 */
import type { Dialect } from '../protocol/canonical.js';
import { delegatedFileName, delegatedRoles, readDelegations, type Delegations } from '../protocol/delegations.js';
import type { MetadataKey } from '../protocol/keys.js';
import { parseMetadata, type Metadata } from '../protocol/verify.js';

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

const parsed = new WeakMap<Record<string, Buffer>, Map<string, Metadata<'targets'> | null>>();

/** A released targets file by role name (targets included); null when absent or unusable. */
export function releasedRole(
  files: Record<string, Buffer>,
  name: string,
  dialect: Dialect,
): Metadata<'targets'> | null {
  let cache = parsed.get(files);
  if (!cache) parsed.set(files, (cache = new Map()));
  if (cache.has(name)) return cache.get(name)!;
  const file = name === 'targets' ? 'targets.json' : delegatedFileName(name, dialect);
  let meta: Metadata<'targets'> | null = null;
  if (files[file]) {
    try {
      meta = parseMetadata(files[file], file, 'targets', dialect);
    } catch {
      meta = null;
    }
  }
  cache.set(name, meta);
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
