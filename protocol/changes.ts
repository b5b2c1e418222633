/**
 * What a new version of root or targets changes, as lines a person reads: keys added to and
 * removed from each role (matched by key material, not key id), thresholds, targets added,
 * removed and changed with their lengths, hashes and hardware ids, and (ota) the OTA Connect
 * server keys an accepted root deletes. Computed from the metadata alone; the signer prints it
 * before signing (signer-client/review.ts) and the status page shows the same lines for the bytes
 * the coordinator stored. Every name and value is escaped (display.ts).
 */
import { getOwn } from './canonical.js';
import { displayText as esc } from './display.js';
import { parseMetadataKey, type MetadataKey } from './keys.js';
import { sortKeys } from './metadata/build.js';
import type { RootSigned, TargetsSigned } from './metadata/schemas.js';
import { deletedKeyLine, serverKeysDeleted } from './ota-server.js';
import { short } from './verify.js';

/** JSON as a person compares it: keys sorted, two-space indent, a final newline. */
export function pretty(v: unknown): string {
  return JSON.stringify(sortKeys(v), null, 2) + '\n';
}

function keyLabel(root: RootSigned, id: string): string {
  const k = getOwn(root.keys, id) as MetadataKey | undefined;
  if (!k) return `${esc(short(id))} (missing from keys!)`;
  try {
    const pk = parseMetadataKey(k);
    return (
      `${esc(short(id))} ${pk.algorithm}${pk.bits ? '-' + pk.bits : ''} fingerprint ` +
      `${pk.fingerprint.slice(0, 16)}…`
    );
  } catch {
    return `${esc(short(id))} (unparseable key)`;
  }
}

function rootChanges(from: RootSigned | null, to: RootSigned): string[] {
  const out: string[] = [];
  const fp = (r: RootSigned, id: string) => {
    try {
      return parseMetadataKey(getOwn(r.keys, id) as MetadataKey).fingerprint;
    } catch {
      return `unparseable:${id}`;
    }
  };
  const roles = new Set([...Object.keys(from?.roles ?? {}), ...Object.keys(to.roles)]);
  for (const role of [...roles].sort()) {
    const a = getOwn(from?.roles, role);
    const b = getOwn(to.roles, role);
    if (!b) {
      out.push(`ROLE REMOVED: ${esc(role)}`);
      continue;
    }
    const aFps = new Map((a?.keyids ?? []).map((id) => [fp(from!, id), id]));
    const bFps = new Map(b.keyids.map((id) => [fp(to, id), id]));
    for (const [f, id] of bFps) if (!aFps.has(f)) out.push(`KEY ADDED to ${esc(role)}: ${keyLabel(to, id)}`);
    for (const [f, id] of aFps) if (!bFps.has(f)) out.push(`KEY REMOVED from ${esc(role)}: ${keyLabel(from!, id)}`);
    if (!a || a.threshold !== b.threshold)
      out.push(`THRESHOLD ${esc(role)}: ${a ? a.threshold : '-'} -> ${b.threshold} (of ${b.keyids.length} keys)`);
  }
  if (from && from.consistent_snapshot !== to.consistent_snapshot)
    out.push(`consistent_snapshot: ${esc(String(from.consistent_snapshot))} -> ${esc(String(to.consistent_snapshot))}`);
  return out;
}

function targetLine(name: string, t: TargetsSigned['targets'][string]): string {
  const hashes = Object.entries(t.hashes)
    .map(([a, h]) => `${esc(a)}:${esc(String(h))}`)
    .join(' ');
  const custom = t.custom as Record<string, unknown> | undefined;
  const hw = typeof custom === 'object' && custom !== null ? getOwn(custom, 'hardwareIds') : undefined;
  return `${esc(name)} length ${t.length} ${hashes}${Array.isArray(hw) ? ` hardwareIds ${hw.map((h) => esc(String(h))).join(',')}` : ''}`;
}

/** A delegation's keys (by key material), threshold, paths or hash prefixes and terminating flag, as one line. */
export function delegationLine(keys: Record<string, unknown>, r: Record<string, unknown>): string {
  const ids = Array.isArray(r.keyids) ? (r.keyids as unknown[]).map(String) : [];
  const keyText = ids.map((id) => keyLabel({ keys } as unknown as RootSigned, id)).join(', ') || '(none)';
  const list = (v: unknown) => (Array.isArray(v) ? v.map((x) => JSON.stringify(String(x))).join(', ') : '-');
  const what = Object.hasOwn(r, 'path_hash_prefixes')
    ? `path_hash_prefixes [${esc(list(r.path_hash_prefixes))}]`
    : `paths [${esc(list(r.paths))}]`;
  return (
    `threshold ${esc(String(r.threshold))} of ${ids.length} key(s) [${keyText}], ${what}` +
    `${r.terminating === true ? ', terminating' : ''}`
  );
}

const obj = (v: unknown): Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

/**
 * What a targets file's `delegations` change: roles delegated, removed or changed (keys compared
 * by key material, threshold, paths or hash prefixes, terminating), and hash bins.
 */
export function delegationChanges(fromRaw: unknown, toRaw: unknown): string[] {
  const out: string[] = [];
  const from = obj(fromRaw);
  const to = obj(toRaw);
  const fk = obj(from.keys);
  const tk = obj(to.keys);
  const fp = (keys: Record<string, unknown>, id: string) => {
    try {
      return parseMetadataKey(getOwn(keys, id) as MetadataKey).fingerprint;
    } catch {
      return `unparseable:${id}`;
    }
  };
  // The same delegation whatever its key ids: keys by material, the rest as written.
  const norm = (keys: Record<string, unknown>, r: Record<string, unknown>) =>
    pretty({
      ...r,
      keyids: (Array.isArray(r.keyids) ? (r.keyids as unknown[]).map((id) => fp(keys, String(id))) : []).sort(),
    });
  const roles = (d: Record<string, unknown>) =>
    new Map((Array.isArray(d.roles) ? (d.roles as unknown[]) : []).map((r) => [String(obj(r).name), obj(r)] as const));
  const a = roles(from);
  const b = roles(to);
  for (const [name, r] of b) {
    const was = a.get(name);
    if (!was) out.push(`DELEGATION ADDED: ${esc(name)}: ${delegationLine(tk, r)}`);
    else if (norm(fk, was) !== norm(tk, r))
      out.push(
        `DELEGATION CHANGED: ${esc(name)}\n    was: ${delegationLine(fk, was)}\n    now: ${delegationLine(tk, r)}`,
      );
  }
  for (const [name, r] of a) if (!b.has(name)) out.push(`DELEGATION REMOVED: ${esc(name)}: ${delegationLine(fk, r)}`);
  const names = [...b.keys()];
  if (names.length > 1 && pretty([...a.keys()].filter((n) => b.has(n))) !== pretty(names.filter((n) => a.has(n))))
    out.push(`DELEGATION ORDER (order of trust): ${names.map(esc).join(', ')}`);
  const sa = from.succinct_roles === undefined ? null : obj(from.succinct_roles);
  const sb = to.succinct_roles === undefined ? null : obj(to.succinct_roles);
  const binLine = (keys: Record<string, unknown>, s: Record<string, unknown>) =>
    `${2 ** Number(s.bit_length)} bins named ${esc(String(s.name_prefix))}-*, ` +
    delegationLine(keys, { ...s, paths: undefined }).replace(/, paths \[-\]/, '');
  if (sb && !sa) out.push(`HASH BINS ADDED: ${binLine(tk, sb)}`);
  else if (sa && !sb) out.push(`HASH BINS REMOVED: ${binLine(fk, sa)}`);
  else if (sa && sb && norm(fk, sa) !== norm(tk, sb))
    out.push(`HASH BINS CHANGED:\n    was: ${binLine(fk, sa)}\n    now: ${binLine(tk, sb)}`);
  return out;
}

function targetsChanges(from: TargetsSigned | null, to: TargetsSigned): string[] {
  const out: string[] = delegationChanges(
    (from as { delegations?: unknown } | null)?.delegations,
    (to as { delegations?: unknown }).delegations,
  );
  const a = from?.targets ?? {};
  const b = to.targets;
  for (const name of Object.keys(b).sort()) {
    if (!Object.hasOwn(a, name)) out.push(`TARGET ADDED: ${targetLine(name, b[name]!)}`);
    else if (pretty(a[name]) !== pretty(b[name]))
      out.push(
        `TARGET CHANGED: ${esc(name)}\n    was: ${targetLine(name, a[name]!)}\n    now: ${targetLine(name, b[name]!)}`,
      );
  }
  for (const name of Object.keys(a).sort())
    if (!Object.hasOwn(b, name)) out.push(`TARGET REMOVED: ${targetLine(name, a[name]!)}`);
  return out;
}

/** The changes from `from` (the released version, or null) to `to`, one line each. */
export function metadataChanges(
  role: 'root' | 'targets',
  dialect: 'ota' | 'tuf',
  from: Record<string, unknown> | null,
  to: Record<string, unknown>,
): string[] {
  const changes =
    role === 'root'
      ? rootChanges(from as RootSigned | null, to as unknown as RootSigned)
      : targetsChanges(from as TargetsSigned | null, to as unknown as TargetsSigned);
  // OTA Connect's keyserver deletes the private keys of its own roles that the accepted root drops.
  if (role === 'root' && dialect === 'ota' && from)
    changes.push(
      ...serverKeysDeleted(from as unknown as RootSigned, to as unknown as RootSigned).map(
        (k) => `SERVER KEY DELETED: ${deletedKeyLine(k)}`,
      ),
    );
  return changes;
}

/**
 * A hash-binned round's bin changes, labelled as what they are: the coordinator's list, which its
 * online key signs into the bins at the release; keyholders' signatures cover targets.json only. The
 * signer prints them after its own changes, and the status page shows the same lines.
 */
export function binLines(bins: { add: Record<string, unknown>; remove: string[] }): string[] {
  const add = Object.keys(bins.add).sort();
  const shown = [
    ...add.map((n) => `  BIN TARGET ADDED: ${esc(n)} ${esc(JSON.stringify(bins.add[n]))}`),
    ...[...bins.remove].sort().map((n) => `  BIN TARGET REMOVED: ${esc(n)}`),
  ];
  return [
    `hash bins (as the coordinator lists them; its online key signs them at the release, keyholders' ` +
      `signatures cover targets.json only): ${add.length} target(s) added or changed, ${bins.remove.length} removed`,
    ...shown.slice(0, 50),
    ...(shown.length > 50 ? [`  … and ${shown.length - 50} more`] : []),
  ];
}
