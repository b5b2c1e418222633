/**
 * zod schemas for the four top-level roles in both dialects. Objects are loose: unknown fields
 * survive parsing because they are part of the signed bytes. Dialect-specific rules that need a
 * precise failure code (threshold >= 1, `_type` case, spec_version, expiry format) are checked in
 * verify.ts rather than here, so a schema failure always means "this is not metadata".
 */
import { z } from 'zod';
import type { Dialect } from '../canonical.js';

export type Role = 'root' | 'targets' | 'snapshot' | 'timestamp';
export const ROLES: readonly Role[] = ['root', 'targets', 'snapshot', 'timestamp'];

const int = z.number().int();
const hashes = z.record(z.string(), z.string());

export const KeySchema = z.looseObject({
  keytype: z.string(),
  scheme: z.string().optional(),
  keyval: z.looseObject({ public: z.string() }),
});

export const RoleKeysSchema = z.looseObject({
  keyids: z.array(z.string()),
  threshold: int,
});

export const SignatureSchema = z.looseObject({
  keyid: z.string(),
  sig: z.string(),
  method: z.string().optional(),
});

// Versions: any integer here. aktualizr reads any (OTA Connect's director serves targets version 0);
// python-tuf and tuf-js want >= 1, which parseMetadata checks for the tuf dialect.
const common = {
  _type: z.string(),
  version: int,
  expires: z.string(),
  spec_version: z.string().optional(),
};

export const RootSignedSchema = z.looseObject({
  ...common,
  consistent_snapshot: z.boolean().optional(),
  keys: z.record(z.string(), KeySchema),
  roles: z.record(z.string(), RoleKeysSchema),
});

export const TargetFileSchema = z.looseObject({
  length: int.min(0),
  hashes,
  custom: z.unknown().optional(),
});

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

export const TargetsSignedSchema = z.looseObject({
  ...common,
  targets: z.record(z.string(), TargetFileSchema),
  delegations: z.unknown().optional(),
});

export const MetaFileSchema = z.looseObject({
  version: int,
  length: int.min(0).optional(),
  hashes: hashes.optional(),
});

export const SnapshotSignedSchema = z.looseObject({ ...common, meta: z.record(z.string(), MetaFileSchema) });
export const TimestampSignedSchema = SnapshotSignedSchema;

export const SIGNED_SCHEMAS = {
  root: RootSignedSchema,
  targets: TargetsSignedSchema,
  snapshot: SnapshotSignedSchema,
  timestamp: TimestampSignedSchema,
} as const;

export type MetadataKeyT = z.infer<typeof KeySchema>;
export type RootSigned = z.infer<typeof RootSignedSchema>;
export type TargetsSigned = z.infer<typeof TargetsSignedSchema>;
export type TargetFile = z.infer<typeof TargetFileSchema>;
export type SnapshotSigned = z.infer<typeof SnapshotSignedSchema>;
export type TimestampSigned = z.infer<typeof TimestampSignedSchema>;
export type MetaFile = z.infer<typeof MetaFileSchema>;
export type SignatureT = z.infer<typeof SignatureSchema>;
export type SignedOf<R extends Role> = z.infer<(typeof SIGNED_SCHEMAS)[R]>;

/** The envelope: `signatures` and `signed`. `signed` is validated per role afterwards. */
export const EnvelopeSchema = z.looseObject({
  signatures: z.array(SignatureSchema),
  signed: z.looseObject({ _type: z.string() }),
});

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
