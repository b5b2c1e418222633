/**
 * Building metadata: the `signed` bodies each dialect's own tools write, and signing envelopes.
 * Used by the coordinator's release path, the sample-repository command and the tests; the
 * signing itself goes through the Signer seam so a key file, a token or a FROST group can sign.
 */
import crypto, { type KeyObject } from 'node:crypto';
import { aktualizrBytes, canonicalize, setOwn, type Dialect } from '../canonical.js';
import {
  encodeSig,
  keyId,
  otaMethod,
  publicKeyFrom,
  signBytes,
  toMetadataKey,
  type MetadataKey,
  type PublicKey,
} from '../keys.js';
import { formatExpires, typeName, type Role } from './schemas.js';
import { DAY_MS } from '../time.js';

/** What signs: one key, wherever it lives. `sign` gets the exact canonical bytes. */
export interface Signer {
  readonly publicKey: PublicKey;
  sign(data: Buffer): Promise<Buffer>;
}

/** A Signer over a private key held in this process. */
export function localSigner(privateKey: KeyObject): Signer {
  return { publicKey: publicKeyFrom(privateKey), sign: async (data) => signBytes(privateKey, data) };
}

export interface Envelope {
  signatures: { keyid: string; sig: string; method?: string }[];
  signed: Record<string, unknown>;
}

export function keyIdOf(pk: PublicKey, dialect: Dialect): string {
  return keyId(toMetadataKey(pk, dialect), dialect);
}

/** Sign `signed` with every signer; signatures are over the canonical bytes of `signed`. */
export async function signEnvelope(
  signed: Record<string, unknown>,
  dialect: Dialect,
  signers: Signer[],
): Promise<Envelope> {
  const bytes = canonicalize(signed, dialect);
  const signatures: Envelope['signatures'] = [];
  for (const s of signers) {
    signatures.push(await signatureFor(s, bytes, dialect));
  }
  return { signatures, signed };
}

export async function signatureFor(
  s: Signer,
  bytes: Buffer,
  dialect: Dialect,
): Promise<Envelope['signatures'][number]> {
  const sig = encodeSig(await s.sign(bytes), dialect);
  const keyid = keyIdOf(s.publicKey, dialect);
  return dialect === 'ota' ? { keyid, method: otaMethod(s.publicKey), sig } : { keyid, sig };
}

/** A copy of a JSON value with every object's keys in sorted order. */
export function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v === null || typeof v !== 'object') return v;
  const o = v as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o).sort()) setOwn(out, k, sortKeys(o[k]));
  return out;
}

/**
 * File bytes as written to disk: pretty JSON with sorted keys and a trailing newline, as
 * python-tuf and garage-sign write it. (Signatures are over the canonical bytes regardless.)
 */
export function serialize(env: Envelope): Buffer {
  return Buffer.from(
    JSON.stringify({ signatures: env.signatures, signed: sortKeys(env.signed) }, null, 2) + '\n',
    'utf8',
  );
}

export const SPEC_VERSION = '1.0.31';

function header(role: Role, dialect: Dialect, version: number, expires: Date): Record<string, unknown> {
  const h: Record<string, unknown> = { _type: typeName(role, dialect), version, expires: formatExpires(expires) };
  if (dialect === 'tuf') h.spec_version = SPEC_VERSION;
  return h;
}

export interface RootSpec {
  dialect: Dialect;
  version: number;
  expires: Date;
  roles: Record<Role, { keys: PublicKey[]; threshold: number }>;
  consistentSnapshot?: boolean;
}

export function buildRoot(spec: RootSpec): Record<string, unknown> {
  const keys: Record<string, MetadataKey> = {};
  const roles: Record<string, { keyids: string[]; threshold: number }> = {};
  for (const [role, r] of Object.entries(spec.roles)) {
    const ids: string[] = [];
    for (const pk of r.keys) {
      const mk = toMetadataKey(pk, spec.dialect);
      const id = keyId(mk, spec.dialect);
      keys[id] = mk;
      if (!ids.includes(id)) ids.push(id);
    }
    roles[role] = { keyids: ids, threshold: r.threshold };
  }
  return {
    ...header('root', spec.dialect, spec.version, spec.expires),
    consistent_snapshot: spec.consistentSnapshot ?? false,
    keys,
    roles,
  };
}

// A type, not an interface: it is also a target entry of the admin API, which keeps unknown fields.
export type TargetSpec = {
  length: number;
  hashes: Record<string, string>;
  custom?: Record<string, unknown>;
};

export function buildTargets(
  dialect: Dialect,
  version: number,
  expires: Date,
  targets: Record<string, TargetSpec>,
): Record<string, unknown> {
  return { ...header('targets', dialect, version, expires), targets };
}

/** A target entry for file content, with the hashes clients check. */
export function targetFor(content: Buffer, custom?: Record<string, unknown>): TargetSpec {
  const t: TargetSpec = {
    length: content.length,
    hashes: {
      sha256: crypto.createHash('sha256').update(content).digest('hex'),
      sha512: crypto.createHash('sha512').update(content).digest('hex'),
    },
  };
  if (custom) t.custom = custom;
  return t;
}

/**
 * A snapshot/timestamp entry for `file`. The length is the file's (the most aktualizr downloads).
 * The hash: in `tuf`, of the bytes; in `ota`, of the canonical form of the document, which is
 * what aktualizr hashes and what ota-tuf, serving canonical files, writes.
 */
function metaFor(file: Buffer, version: number, dialect: Dialect): Record<string, unknown> {
  let hashed = file;
  try {
    if (dialect === 'ota') hashed = aktualizrBytes(canonicalize(JSON.parse(file.toString('utf8')), 'ota'));
  } catch {
    // content without a canonical form (a float): no client accepts the file anyway
  }
  return { version, length: file.length, hashes: { sha256: crypto.createHash('sha256').update(hashed).digest('hex') } };
}

/**
 * Snapshot naming the exact targets.json bytes, and `delegated` targets roles by role name (their
 * files as served, and versions): clients load no delegated role that snapshot does not name.
 */
export function buildSnapshot(
  dialect: Dialect,
  version: number,
  expires: Date,
  targetsFile: Buffer,
  targetsVersion: number,
  delegated: Record<string, { file: Buffer; version: number }> = {},
): Record<string, unknown> {
  const meta: Record<string, unknown> = { 'targets.json': metaFor(targetsFile, targetsVersion, dialect) };
  for (const [name, d] of Object.entries(delegated)) setOwn(meta, `${name}.json`, metaFor(d.file, d.version, dialect));
  return { ...header('snapshot', dialect, version, expires), meta };
}

/** Timestamp naming the exact snapshot.json bytes. */
export function buildTimestamp(
  dialect: Dialect,
  version: number,
  expires: Date,
  snapshotFile: Buffer,
  snapshotVersion: number,
): Record<string, unknown> {
  return {
    ...header('timestamp', dialect, version, expires),
    meta: { 'snapshot.json': metaFor(snapshotFile, snapshotVersion, dialect) },
  };
}

export function daysFrom(now: Date, days: number): Date {
  return new Date(Math.floor(now.getTime() / 1000) * 1000 + days * DAY_MS);
}
