/**
 * What a keyholder reads before signing, computed by the client from the bytes alone (never
 * from anything the coordinator says about them): version and expiry, key and threshold changes,
 * targets added/removed/changed with hashes, lengths and hardware ids, a unified diff of the
 * pretty-printed JSON, and the sha256 of the exact bytes to be signed. Every name and value from
 * the bytes or the coordinator is shown escaped (protocol/display.ts), and keys such as
 * `__proto__` or `constructor` are ordinary names, so nothing in the payload can hide or rewrite
 * what the keyholder reads.
 */
import { createTwoFilesPatch } from 'diff';
import { getOwn } from '../protocol/canonical.js';
import { displayBlock, displayText as esc } from '../protocol/display.js';
import { parseMetadataKey, type MetadataKey } from '../protocol/keys.js';
import { sortKeys } from '../protocol/metadata/build.js';
import type { RootSigned, TargetsSigned } from '../protocol/metadata/schemas.js';
import { deletedKeyLine, serverKeysDeleted } from '../protocol/ota-server.js';
import { short } from '../protocol/verify.js';
import type { CheckedProposal } from './trust.js';

export interface Summary {
  role: string;
  version: { from: number | null; to: number };
  expires: { from: string | null; to: string };
  sha256: string;
  changes: string[];
  diff: string;
}

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

function targetsChanges(from: TargetsSigned | null, to: TargetsSigned): string[] {
  const out: string[] = [];
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

export function summarise(p: CheckedProposal): Summary {
  const to = p.proposed.signed as { version: number; expires: string };
  const from = p.base ? (p.base.signed as { version: number; expires: string }) : null;
  const changes =
    p.round.role === 'root'
      ? rootChanges(from as RootSigned | null, to as unknown as RootSigned)
      : targetsChanges(from as TargetsSigned | null, to as unknown as TargetsSigned);
  // OTA Connect's keyserver deletes the private keys of its own roles that the accepted root drops.
  if (p.round.role === 'root' && p.proposed.dialect === 'ota' && from)
    changes.push(
      ...serverKeysDeleted(from as RootSigned, to as unknown as RootSigned).map(
        (k) => `SERVER KEY DELETED: ${deletedKeyLine(k)}`,
      ),
    );
  const oldText = from ? pretty(from) : '';
  const diff = createTwoFilesPatch(
    from ? `${p.round.role} v${from.version} (released)` : '(nothing released)',
    `${p.round.role} v${to.version} (proposed)`,
    oldText,
    pretty(to),
    undefined,
    undefined,
    { context: 3 },
  );
  return {
    role: p.round.role,
    version: { from: from?.version ?? null, to: to.version },
    expires: { from: from?.expires ?? null, to: to.expires },
    sha256: p.sha256,
    changes,
    diff,
  };
}

export function renderSummary(p: CheckedProposal, s: Summary, withDiff = true): string {
  const lines = [
    `round ${p.round.id}: ${s.role} version ${s.version.from ?? '-'} -> ${s.version.to}`,
    `reason (from the coordinator): ${esc(p.round.reason)}`,
    `expires: ${esc(s.expires.from ?? '-')} -> ${esc(s.expires.to)}`,
    `your key counts for: ${p.countsFor.join(', ')} (key id ${short(p.keyid)})`,
    ...(p.linkedRoot
      ? [
          `LINKED: released only together with root round ${p.linkedRoot.round.id} (root v${p.linkedRoot.proposed.signed.version}, ` +
            `sha256 ${p.linkedRoot.sha256});`,
          `        these targets are signed under that proposed root's targets keys. Its changes:`,
          ...summarise(p.linkedRoot).changes.map((c) => `          ${c}`),
        ]
      : p.round.linked
        ? [
            `LINKED: released only together with targets round ${p.round.linked}, which re-signs the released ` +
              'targets under this root',
          ]
        : []),
    'changes (computed by this client from the bytes):',
    ...(s.changes.length ? s.changes.map((c) => `  ${c}`) : ['  (no key, threshold or target changes)']),
  ];
  if (withDiff) lines.push('', s.diff.trimEnd());
  lines.push('', `sha256 of the exact bytes to sign: ${s.sha256}`);
  // The values above are escaped one by one; this catches what the diff's JSON leaves raw (C1, bidi).
  return displayBlock(lines.join('\n'));
}
