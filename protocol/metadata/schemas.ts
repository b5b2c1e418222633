/**
 * zod schemas for the four top-level roles in both dialects. Objects are loose: unknown fields
 * survive parsing because they are part of the signed bytes. Dialect-specific rules that need a
 * precise failure code (threshold >= 1, `_type` case, spec_version, expiry format) are checked in
 * verify.ts rather than here, so a schema failure always means "this is not metadata".
 */
import { z } from 'zod';
import type { Role } from './shape.js';

export type { Role } from './shape.js';
export { ROLES, EXPIRES_RE, countTargets, detectType, formatExpires, isTargetsMap, typeName } from './shape.js';

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
