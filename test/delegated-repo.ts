/**
 * Test repositories with delegated targets roles, signed by our own building code: root (1-of-1),
 * targets with `delegations`, every delegated role's file under the name clients ask for, a
 * snapshot naming them all, and a timestamp. Roles are given as data, so a test can sign one with
 * the wrong keys, roll a version back or leave a file out, and see what a client and `quorum
 * verify` make of it. Target content is derived from the path, so a client's download can be
 * checked.
 */
import crypto from 'node:crypto';
import type { Dialect } from '../protocol/canonical.js';
import { delegatedFileName } from '../protocol/delegations.js';
import { generateKeyPair, toMetadataKey, type KeyKind, type MetadataKey } from '../protocol/keys.js';
import {
  buildRoot,
  buildSnapshot,
  buildTargets,
  buildTimestamp,
  daysFrom,
  keyIdOf,
  localSigner,
  serialize,
  signEnvelope,
  targetFor,
  type Signer,
  type TargetSpec,
} from '../protocol/metadata/build.js';

export interface TestKey {
  signer: Signer;
  id(dialect: Dialect): string;
  key(dialect: Dialect): MetadataKey;
}

export function testKey(kind: KeyKind = 'ed25519'): TestKey {
  const signer = localSigner(generateKeyPair(kind).privateKey);
  return {
    signer,
    id: (d) => keyIdOf(signer.publicKey, d),
    key: (d) => toMetadataKey(signer.publicKey, d),
  };
}

/** A delegation entry as written in `delegations.roles`. */
export interface Delegation {
  name: string;
  keys: TestKey[];
  threshold?: number;
  terminating?: boolean;
  paths?: string[];
  pathHashPrefixes?: string[];
}

/** A `delegations` object (the keys of every delegation gathered), with explicit roles or hash bins. */
export function delegations(
  dialect: Dialect,
  roles: Delegation[] | { keys: TestKey[]; threshold?: number; bitLength: number; namePrefix: string },
): Record<string, unknown> {
  const keys: Record<string, MetadataKey> = {};
  const ids = (ks: TestKey[]) =>
    ks.map((k) => {
      keys[k.id(dialect)] = k.key(dialect);
      return k.id(dialect);
    });
  if (!Array.isArray(roles)) {
    return {
      keys,
      succinct_roles: {
        keyids: ids(roles.keys),
        threshold: roles.threshold ?? 1,
        bit_length: roles.bitLength,
        name_prefix: roles.namePrefix,
      },
    };
  }
  return {
    keys,
    roles: roles.map((r) => ({
      name: r.name,
      keyids: ids(r.keys),
      threshold: r.threshold ?? 1,
      terminating: r.terminating ?? false,
      ...(r.pathHashPrefixes ? { path_hash_prefixes: r.pathHashPrefixes } : { paths: r.paths ?? [] }),
    })),
  };
}

/** The content served for a target path. */
export function contentOf(path: string): Buffer {
  return Buffer.from(`content of ${path}\n`);
}

/** A targets map listing `paths`, each entry saying which role lists it (custom.role). */
export function targetsOf(paths: string[], role: string): Record<string, TargetSpec> {
  const out: Record<string, TargetSpec> = {};
  for (const p of paths) out[p] = targetFor(contentOf(p), { role });
  return out;
}

export interface RoleDef {
  name: string;
  targets: string[];
  delegations?: Record<string, unknown>;
  signers: TestKey[];
  version?: number;
  expires?: Date;
  /** Leave the file out of the repository. */
  omit?: boolean;
  /** Name it in snapshot with another version than it has. */
  snapshotVersion?: number;
}

export interface DelegatedRepo {
  /** Metadata files by their path in the repository folder. */
  files: Record<string, Buffer>;
  /** Target files by path. */
  content: Record<string, Buffer>;
  rootKey: TestKey;
}

export interface RepoSpec {
  dialect: Dialect;
  now: Date;
  top: { targets: string[]; delegations?: Record<string, unknown> };
  roles: RoleDef[];
  consistent?: boolean;
  /** Keys of the four top-level roles (one each); made fresh when absent. */
  rootKey?: TestKey;
}

/** Build and sign the repository. */
export async function buildDelegatedRepo(spec: RepoSpec): Promise<DelegatedRepo> {
  const { dialect, now } = spec;
  const rootKey = spec.rootKey ?? testKey('ed25519');
  const one = { keys: [rootKey.signer.publicKey], threshold: 1 };
  const root = serialize(
    await signEnvelope(
      buildRoot({
        dialect,
        version: 1,
        expires: daysFrom(now, 365),
        roles: { root: one, targets: one, snapshot: one, timestamp: one },
        consistentSnapshot: spec.consistent ?? false,
      }),
      dialect,
      [rootKey.signer],
    ),
  );
  const files: Record<string, Buffer> = { '1.root.json': root, 'root.json': root };
  const content: Record<string, Buffer> = {};
  const top = buildTargets(dialect, 1, daysFrom(now, 60), targetsOf(spec.top.targets, 'targets'));
  if (spec.top.delegations) top.delegations = spec.top.delegations;
  for (const p of spec.top.targets) content[p] = contentOf(p);
  const targetsFile = serialize(await signEnvelope(top, dialect, [rootKey.signer]));
  files['targets.json'] = targetsFile;
  const delegated: Record<string, { file: Buffer; version: number }> = {};
  for (const r of spec.roles) {
    const version = r.version ?? 1;
    const signed = buildTargets(dialect, version, r.expires ?? daysFrom(now, 60), targetsOf(r.targets, r.name));
    if (r.delegations) signed.delegations = r.delegations;
    const file = serialize(
      await signEnvelope(
        signed,
        dialect,
        r.signers.map((k) => k.signer),
      ),
    );
    for (const p of r.targets) content[p] = contentOf(p);
    delegated[r.name] = { file, version: r.snapshotVersion ?? version };
    if (!r.omit) files[delegatedFileName(r.name, dialect, spec.consistent ? version : undefined)] = file;
  }
  const snapshot = serialize(
    await signEnvelope(buildSnapshot(dialect, 1, daysFrom(now, 30), targetsFile, 1, delegated), dialect, [
      rootKey.signer,
    ]),
  );
  files['snapshot.json'] = snapshot;
  if (spec.consistent) {
    files['1.snapshot.json'] = snapshot;
    files['1.targets.json'] = targetsFile;
  }
  files['timestamp.json'] = serialize(
    await signEnvelope(buildTimestamp(dialect, 1, daysFrom(now, 7), snapshot, 1), dialect, [rootKey.signer]),
  );
  return { files, content, rootKey };
}

/** The first `n` hex digits of sha256(path), as path_hash_prefixes takes them. */
export function hashPrefix(path: string, n = 2): string {
  return crypto.createHash('sha256').update(path).digest('hex').slice(0, n);
}
