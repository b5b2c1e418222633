/**
 * Release: assemble the signed metadata from the stored signatures, re-verify the complete
 * repository exactly as a device would (protocol/verify.ts, trusting the previously released
 * root), record it in one transaction, then publish the folder atomically.
 *
 * Everything that goes into the files is derived from the database (the release time is the
 * time of the last accepted signature), so a release retried after a crash is byte-identical.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { KeyObject } from 'node:crypto';
import { encodeSig, otaMethod } from '../protocol/keys.js';
import {
  buildSnapshot,
  buildTimestamp,
  keyIdOf,
  localSigner,
  serialize,
  signEnvelope,
  type Envelope,
} from '../protocol/metadata/build.js';
import {
  parseMetadata,
  verifyRepository,
  type FileInput,
  type Finding,
  type VerifyReport,
} from '../protocol/verify.js';
import type { Dialect } from '../protocol/canonical.js';
import { delegatedFileName, readDelegations } from '../protocol/delegations.js';
import { BIN_EXPIRY_DAYS, BinsChangeSchema, delegatedFiles, signBins } from './delegated.js';
import { RoundError, allMet, needsOf, repoState, type RepoState } from './rounds.js';
import { proposedSigned, roundBins, type RoundRow, type Store } from './store.js';

/**
 * Default lifetime of the online roles written at each tuf release (ms); the coordinator re-signs
 * them before they expire (living.ts), with the policy `quorum serve` was given.
 */
export const DEFAULT_ONLINE_EXPIRY_MS = { snapshot: 7 * 86_400_000, timestamp: 86_400_000 } as const;

/** `ms` after `time`, whole seconds (expires has no fractions). */
const expiresAfter = (time: Date, ms: number) => new Date(Math.floor(time.getTime() / 1000) * 1000 + ms);

export interface ReleaseResult {
  seq: number;
  files: Record<string, Buffer>;
  report: VerifyReport;
}

/** The repository as a device would fetch it from these files, trusting `trusted` (resolving `target`, if given). */
export function verifyFiles(
  files: Record<string, Buffer>,
  trusted: FileInput,
  at: Date,
  target?: string,
): VerifyReport {
  const roots = new Map<number, FileInput>();
  for (const [name, bytes] of Object.entries(files)) {
    const m = /^(\d+)\.root\.json$/.exec(name);
    if (m) roots.set(Number(m[1]), { name, bytes });
  }
  const f = (name: string) => (Object.hasOwn(files, name) ? { name, bytes: files[name]! } : undefined);
  return verifyRepository(
    {
      trustedRoot: trusted,
      roots,
      root: f('root.json'),
      targets: f('targets.json'),
      snapshot: f('snapshot.json'),
      timestamp: f('timestamp.json'),
      readFile: f,
    },
    { at, ...(target !== undefined ? { target } : {}) },
  );
}

/**
 * Errors a release may have: a delegated role delegated but never released yet has no file (and no
 * snapshot entry) until its first round is released (quorum round open targets --role NAME).
 */
function awaitingFirstRelease(e: Finding, pending: string[], dialect: Dialect): boolean {
  return pending.some(
    (name) =>
      (e.code === 'DELEGATED_FILE_MISSING' && e.file === delegatedFileName(name, dialect)) ||
      (e.code === 'META_MISSING' && e.message.startsWith(`meta does not name ${name}.json,`)),
  );
}

/** The signed file of a round: its body with every stored signature under each key id that needs it. */
function assemble(store: Store, round: RoundRow, state: RepoState): Buffer {
  const dialect = state.dialect;
  const needs = needsOf(round, state, store);
  const entries = new Map<string, Envelope['signatures'][number]>();
  for (const s of store.signatures(round.id)) {
    for (const n of needs) {
      const k = n.keys.get(s.fingerprint);
      if (!k) continue;
      for (const keyid of k.keyids) {
        const sig = encodeSig(s.sig, dialect);
        entries.set(keyid, dialect === 'ota' ? { keyid, method: otaMethod(k.pk), sig } : { keyid, sig });
      }
    }
  }
  const signed = proposedSigned(round);
  const file = serialize({ signatures: [...entries.keys()].sort().map((k) => entries.get(k)!), signed });
  if (!parseMetadata(file, 'release', round.role, dialect).canonical.equals(round.canonical)) {
    throw new RoundError('INTERNAL', `round ${round.id}: the assembled file does not canonicalise to the signed bytes`);
  }
  return file;
}

/**
 * Release the round if every threshold is met; null when it is not (yet) releasable. A linked
 * root + targets pair is released together, once both rounds have met their thresholds.
 */
export async function tryRelease(
  store: Store,
  dataDir: string,
  onlineKey: KeyObject | null,
  roundId: string,
  onlineExpiryMs: { snapshot: number; timestamp: number } = DEFAULT_ONLINE_EXPIRY_MS,
): Promise<ReleaseResult | null> {
  const first = store.round(roundId);
  if (!first || first.state !== 'open') return null;
  const linked = first.linked_round ? store.round(first.linked_round) : undefined;
  if (first.linked_round && (!linked || linked.state !== 'open')) return null;
  const rounds = linked
    ? [first, linked].sort((x, y) => (x.role === 'root' ? -1 : y.role === 'root' ? 1 : 0))
    : [first];
  const state = repoState(store);
  if (!rounds.every((r) => allMet(store, r, state))) return null;
  const dialect = state.dialect;
  // Derived from stored data only, so a retried release is byte-identical.
  let at = rounds[0]!.created_at;
  for (const r of rounds) for (const s of store.signatures(r.id)) if (s.received_at > at) at = s.received_at;
  const time = new Date(at);

  const files: Record<string, Buffer> = { ...state.files };
  for (const round of rounds) {
    const file = assemble(store, round, state);
    if (round.role === 'root') {
      files[`${round.version}.root.json`] = file;
      files['root.json'] = file;
    } else if (round.delegated) {
      files[delegatedFileName(round.delegated, dialect)] = file;
    } else {
      files['targets.json'] = file;
    }
  }
  if (dialect === 'tuf' && onlineKey && files['targets.json']) {
    // TUF snapshot and timestamp, signed with the coordinator's online key.
    const online = localSigner(onlineKey);
    // Hash bins delegated to the online key: created on the first release that delegates to them,
    // then re-signed only where the round changes their targets.
    const top = parseMetadata(files['targets.json'], 'targets.json', 'targets', dialect).signed as {
      delegations?: unknown;
    };
    const succinct = top.delegations ? readDelegations(top.delegations, dialect).delegations?.succinct : undefined;
    if (succinct && succinct.keyids.includes(keyIdOf(online.publicKey, dialect))) {
      const change = rounds.find((r) => r.role === 'targets' && !r.delegated);
      const bins = await signBins(
        files,
        succinct,
        change ? roundBins(change, BinsChangeSchema) : null,
        online,
        expiresAfter(time, BIN_EXPIRY_DAYS * 86_400_000),
      );
      Object.assign(files, bins.files);
    }
    const prevSnap = state.files['snapshot.json']
      ? (parseMetadata(state.files['snapshot.json'], 'snapshot.json', 'snapshot', dialect).signed.version as number)
      : 0;
    const prevTs = state.files['timestamp.json']
      ? (parseMetadata(state.files['timestamp.json'], 'timestamp.json', 'timestamp', dialect).signed.version as number)
      : 0;
    const targetsVersion = parseMetadata(files['targets.json'], 'targets.json', 'targets', dialect).signed
      .version as number;
    // Snapshot names every delegated file (its version, and length and hashes as for targets).
    const delegated = delegatedFiles(files, dialect).present;
    files['snapshot.json'] = serialize(
      await signEnvelope(
        buildSnapshot(
          dialect,
          prevSnap + 1,
          expiresAfter(time, onlineExpiryMs.snapshot),
          files['targets.json'],
          targetsVersion,
          delegated,
        ),
        dialect,
        [online],
      ),
    );
    files['timestamp.json'] = serialize(
      await signEnvelope(
        buildTimestamp(
          dialect,
          prevTs + 1,
          expiresAfter(time, onlineExpiryMs.timestamp),
          files['snapshot.json'],
          prevSnap + 1,
        ),
        dialect,
        [online],
      ),
    );
  }

  // Verify as a device would: trusting the previously released root (or, for version 1, itself).
  const trusted: FileInput = state.files['root.json']
    ? { name: 'root.json (previous release)', bytes: state.files['root.json'] }
    : { name: '1.root.json', bytes: files['root.json']! };
  const report = verifyFiles(files, trusted, time);
  const pending = delegatedFiles(files, dialect).pending;
  if (pending.length) {
    const waiting = report.errors.filter((e) => awaitingFirstRelease(e, pending, dialect));
    report.errors = report.errors.filter((e) => !waiting.includes(e));
    report.warnings.push(...waiting.map((e) => ({ ...e, severity: 'warning' as const })));
    report.ok = report.errors.length === 0;
  }
  const ids = rounds.map((r) => r.id).join(' + ');
  if (!report.ok) {
    store.audit('release.refused', {
      round: ids,
      errors: report.errors.map((e) => `${e.code}: ${e.file}: ${e.message}`),
    });
    throw new RoundError(
      'ROUND_INVALID',
      `round ${ids} met its thresholds but the result does not verify: ` +
        `${report.errors.map((e) => `${e.code}: ${e.file}: ${e.message}`).join('; ')}`,
    );
  }

  const main = rounds[0]!;
  const seq = store.tx(() => {
    for (const r of rounds)
      if (!store.setRoundState(r.id, 'open', 'released', time.toISOString()))
        throw new RoundError('ROUND_NOT_OPEN', `round ${r.id} is no longer open`);
    // A delegated role's release is recorded as targets.NAME (its versions are its own).
    const role = main.delegated ? `targets.${main.delegated}` : main.role;
    const seq = store.insertRelease(main.id, role, main.version, time.toISOString(), files);
    for (const r of rounds)
      store.audit('round.released', {
        round: r.id,
        role: r.role,
        version: r.version,
        release: seq,
        files: Object.fromEntries(Object.entries(files).map(([n, b]) => [n, b.length])),
      });
    return seq;
  });
  publish(dataDir, seq, files);
  return { seq, files, report };
}

export function releaseDir(dataDir: string): string {
  return path.join(dataDir, 'releases', 'current');
}

/**
 * Write a release folder atomically: files go to a temporary folder that is renamed into place,
 * then the `current` symlink is swapped with a rename. Readers see the old or the new release,
 * never a mixture. Idempotent: an existing folder for `seq` is kept. A file with the same bytes as
 * in the published release is hard-linked from it (already on disk) rather than written and synced
 * again: a release of 1,024 hash bins that changes one writes one bin.
 */
export function publish(dataDir: string, seq: number, files: Record<string, Buffer>): string {
  const base = path.join(dataDir, 'releases');
  fs.mkdirSync(base, { recursive: true });
  const final = path.join(base, String(seq));
  if (!fs.existsSync(final)) {
    const tmp = path.join(base, `.tmp-${seq}-${process.pid}`);
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.mkdirSync(tmp);
    let prev: string | null = null;
    try {
      prev = fs.realpathSync(path.join(base, 'current'));
    } catch {
      prev = null;
    }
    const same = (name: string, bytes: Buffer) => {
      if (!prev) return false;
      try {
        const old = path.join(prev, name);
        return fs.statSync(old).size === bytes.length && fs.readFileSync(old).equals(bytes);
      } catch {
        return false;
      }
    };
    for (const [name, bytes] of Object.entries(files)) {
      if (name.includes('/')) fs.mkdirSync(path.dirname(path.join(tmp, name)), { recursive: true });
      if (same(name, bytes)) {
        try {
          fs.linkSync(path.join(prev!, name), path.join(tmp, name));
          continue;
        } catch {
          // no hard links here (another file system): write it
        }
      }
      const fd = fs.openSync(path.join(tmp, name), 'w');
      fs.writeSync(fd, bytes);
      fs.fsyncSync(fd);
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, final);
  }
  const link = path.join(base, `.current-${process.pid}`);
  fs.rmSync(link, { force: true });
  fs.symlinkSync(String(seq), link);
  fs.renameSync(link, path.join(base, 'current'));
  return final;
}

/** After a restart: make sure the latest recorded release is the published one. */
export function republishLatest(store: Store, dataDir: string): void {
  // Temporary folders and links left by a crash in the middle of publish().
  const base = path.join(dataDir, 'releases');
  if (fs.existsSync(base))
    for (const n of fs.readdirSync(base))
      if (n.startsWith('.tmp-') || n.startsWith('.current-'))
        fs.rmSync(path.join(base, n), { recursive: true, force: true });
  const rel = store.latestRelease();
  if (rel) publish(dataDir, rel.seq, store.releaseFiles(rel.seq));
}
