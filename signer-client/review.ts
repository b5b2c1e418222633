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
import { binLines, metadataChanges, pretty } from '../protocol/changes.js';
import { displayBlock, displayText as esc } from '../protocol/display.js';
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

export function summarise(p: CheckedProposal): Summary {
  const to = p.proposed.signed as { version: number; expires: string };
  const from = p.base ? (p.base.signed as { version: number; expires: string }) : null;
  const changes = metadataChanges(p.round.role, p.proposed.dialect, p.base?.signed ?? null, p.proposed.signed);
  const oldText = from ? pretty(from) : '';
  const label = p.round.delegated !== undefined ? p.round.delegated : p.round.role;
  const diff = createTwoFilesPatch(
    from ? `${label} v${from.version} (released)` : '(nothing released)',
    `${label} v${to.version} (proposed)`,
    oldText,
    pretty(to),
    undefined,
    undefined,
    { context: 3 },
  );
  return {
    role: p.round.delegated !== undefined ? `${p.round.delegated} (delegated targets)` : p.round.role,
    version: { from: from?.version ?? null, to: to.version },
    expires: { from: from?.expires ?? null, to: to.expires },
    sha256: p.sha256,
    changes,
    diff,
  };
}

export function renderSummary(p: CheckedProposal, s: Summary, withDiff = true): string {
  const lines = [
    `round ${p.round.id}: ${esc(s.role)} version ${s.version.from ?? '-'} -> ${s.version.to}`,
    ...(p.delegation
      ? [
          `delegated by ${p.delegation.chain.map(esc).join(' -> ')} (verified from the targets this client verified):`,
          `  ${p.delegation.line}`,
        ]
      : []),
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
  if (p.bins) lines.push(...binLines(p.bins));
  if (withDiff) lines.push('', s.diff.trimEnd());
  lines.push('', `sha256 of the exact bytes to sign: ${s.sha256}`);
  // The values above are escaped one by one; this catches what the diff's JSON leaves raw (C1, bidi).
  return displayBlock(lines.join('\n'));
}
