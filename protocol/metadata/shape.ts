/**
 * What `quorum verify` needs to know about the shape of metadata, without zod: role names per
 * dialect, expiry formatting, and the checks of the zod schemas in schemas.ts written out as plain
 * predicates (zod costs a fresh `quorum verify` process about 0.2 s of CPU to load). A test holds
 * every predicate equal to its schema on valid and mutated metadata; schemas.ts re-exports the
 * names, so the rest of the code keeps importing them from there.
 */
import type { Dialect } from '../canonical.js';

export type Role = 'root' | 'targets' | 'snapshot' | 'timestamp';
export const ROLES: readonly Role[] = ['root', 'targets', 'snapshot', 'timestamp'];

/**
 * The same check as `z.record(z.string(), TargetFileSchema)`, without zod's per-entry copying:
 * a targets map can hold a million entries and this is on the verification hot path. A test
 * holds it equal to the schema; on failure the schema runs to produce the message.
 * Returns the number of entries, or -1 when the map is not valid (`nonEmptyHashes`: also when a
 * target's hashes is empty, which python-tuf refuses; the schema accepts it).
 */
export function countTargets(v: unknown, nonEmptyHashes = false): number {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return -1;
  const map = v as Record<string, unknown>;
  let n = 0;
  for (const k in map) {
    const t = map[k] as { length?: unknown; hashes?: unknown } | null;
    if (typeof t !== 'object' || t === null || Array.isArray(t)) return -1;
    if (!Number.isSafeInteger(t.length) || (t.length as number) < 0) return -1;
    const h = t.hashes as Record<string, unknown> | null;
    if (typeof h !== 'object' || h === null || Array.isArray(h)) return -1;
    let algs = 0;
    for (const a in h) {
      if (typeof h[a] !== 'string') return -1;
      algs++;
    }
    if (nonEmptyHashes && algs === 0) return -1;
    n++;
  }
  return n;
}

export function isTargetsMap(v: unknown): boolean {
  return countTargets(v) >= 0;
}

/** The `_type` each dialect writes for a role: capitalised in `ota`, lowercase in `tuf`. */
export function typeName(role: Role, dialect: Dialect): string {
  return dialect === 'tuf' ? role : role[0]!.toUpperCase() + role.slice(1);
}

/** Dialect and role from `_type`; null for anything else (e.g. `targets` in the wrong case). */
export function detectType(type: unknown): { dialect: Dialect; role: Role } | null {
  // aktualizr accepts a root _type in any case; exactly "root" is tuf.
  if (typeof type === 'string' && type !== 'root' && type.toLowerCase() === 'root')
    return { dialect: 'ota', role: 'root' };
  for (const role of ROLES) {
    if (type === role) return { dialect: 'tuf', role };
    if (type === typeName(role, 'ota')) return { dialect: 'ota', role };
  }
  return null;
}

/** `expires` in the only form both dialects' strict clients accept. */
export const EXPIRES_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

/** Format a time as `YYYY-MM-DDTHH:MM:SSZ` (never `toISOString()`, which has milliseconds). */
export function formatExpires(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

// --- the schemas as predicates ---------------------------------------------------------------

type Path = (string | number)[];
const at = (path: Path): string => (path.length ? path.map(String).join('.') : '(top)');
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** zod's `z.number().int()`: a safe integer. */
const isInt = (v: unknown): boolean => Number.isSafeInteger(v);

function str(o: Record<string, unknown>, k: string, path: Path, optional = false): string | null {
  const v = o[k];
  if (optional && v === undefined) return null;
  return typeof v === 'string' ? null : `${at([...path, k])}: expected string`;
}

function int(o: Record<string, unknown>, k: string, path: Path, min?: number, optional = false): string | null {
  const v = o[k];
  if (optional && v === undefined) return null;
  if (!isInt(v)) return `${at([...path, k])}: expected int`;
  if (min !== undefined && (v as number) < min) return `${at([...path, k])}: expected >= ${min}`;
  return null;
}

function record(
  o: Record<string, unknown>,
  k: string,
  path: Path,
  each: (v: unknown, path: Path) => string | null,
  optional = false,
): string | null {
  const v = o[k];
  if (optional && v === undefined) return null;
  if (!isObj(v)) return `${at([...path, k])}: expected record`;
  for (const name in v) {
    const p = each(v[name], [...path, k, name]);
    if (p) return p;
  }
  return null;
}

const stringValue = (v: unknown, path: Path): string | null =>
  typeof v === 'string' ? null : `${at(path)}: expected string`;

function signature(v: unknown, path: Path): string | null {
  if (!isObj(v)) return `${at(path)}: expected object`;
  return str(v, 'keyid', path) ?? str(v, 'sig', path) ?? str(v, 'method', path, true);
}

/** EnvelopeSchema: `signatures` a list of signatures, `signed` an object with a string `_type`. */
export function envelopeProblem(v: unknown): string | null {
  if (!isObj(v)) return '(top): expected object';
  const sigs = v.signatures;
  if (!Array.isArray(sigs)) return 'signatures: expected array';
  for (let i = 0; i < sigs.length; i++) {
    const p = signature(sigs[i], ['signatures', i]);
    if (p) return p;
  }
  if (!isObj(v.signed)) return 'signed: expected object';
  return str(v.signed, '_type', ['signed']);
}

function key(v: unknown, path: Path): string | null {
  if (!isObj(v)) return `${at(path)}: expected object`;
  const p = str(v, 'keytype', path) ?? str(v, 'scheme', path, true);
  if (p) return p;
  if (!isObj(v.keyval)) return `${at([...path, 'keyval'])}: expected object`;
  return str(v.keyval, 'public', [...path, 'keyval']);
}

function roleKeys(v: unknown, path: Path): string | null {
  if (!isObj(v)) return `${at(path)}: expected object`;
  const ids = v.keyids;
  if (!Array.isArray(ids)) return `${at([...path, 'keyids'])}: expected array`;
  for (let i = 0; i < ids.length; i++)
    if (typeof ids[i] !== 'string') return `${at([...path, 'keyids', i])}: expected string`;
  return int(v, 'threshold', path);
}

function metaFile(v: unknown, path: Path): string | null {
  if (!isObj(v)) return `${at(path)}: expected object`;
  return int(v, 'version', path) ?? int(v, 'length', path, 0, true) ?? record(v, 'hashes', path, stringValue, true);
}

function targetFile(v: unknown, path: Path): string | null {
  if (!isObj(v)) return `${at(path)}: expected object`;
  return int(v, 'length', path, 0) ?? record(v, 'hashes', path, stringValue);
}

/**
 * The role's zod schema in schemas.ts (SIGNED_SCHEMAS) as a predicate over `signed`: null when
 * it accepts, else the first problem as `path: what was expected`. `skipTargets`: the targets map
 * has been checked already (countTargets).
 */
export function signedProblem(role: Role, v: Record<string, unknown>, skipTargets = false): string | null {
  const common =
    str(v, '_type', []) ?? int(v, 'version', []) ?? str(v, 'expires', []) ?? str(v, 'spec_version', [], true);
  if (common) return common;
  switch (role) {
    case 'root':
      if (v.consistent_snapshot !== undefined && typeof v.consistent_snapshot !== 'boolean')
        return 'consistent_snapshot: expected boolean';
      return record(v, 'keys', [], key) ?? record(v, 'roles', [], roleKeys);
    case 'targets':
      return skipTargets ? null : record(v, 'targets', [], targetFile);
    case 'snapshot':
    case 'timestamp':
      return record(v, 'meta', [], metaFile);
  }
}
