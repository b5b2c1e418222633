/**
 * A living repository: the policy (how long the online roles live, how early an offline role is
 * renewed), read from the data dir's settings.json and the command line, and the online-role
 * refresh. In `tuf` the coordinator re-signs timestamp (and snapshot when it is due) with its
 * online key whenever less than half of the role's period is left. A refresh is a release like
 * any other: the new files are checked as a device would, committed to SQLite as a new release
 * row (role `timestamp`, no round), and only then published with the `current` symlink swap; a
 * crash after the commit republishes exactly those bytes at start (release.ts). It runs in the
 * context's queue (context.ts `serial`), the one writer every release goes through, so a refresh
 * never races a release, and versions are always the latest release's plus one.
 */
import fs from 'node:fs';
import path from 'node:path';
import { X509Certificate, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { QuorumError } from '../protocol/errors.js';
import { DAY_MS, HOUR_MS, MINUTE_MS, parseDuration as durationMs } from '../protocol/time.js';
import { buildSnapshot, buildTimestamp, localSigner, serialize, signEnvelope } from '../protocol/metadata/build.js';
import { delegatedFileName } from '../protocol/delegations.js';
import { formatExpires } from '../protocol/metadata/schemas.js';
import { parseMetadata } from '../protocol/verify.js';
import { EXPIRY_DAYS } from './proposals.js';
import { DEFAULT_ONLINE_EXPIRY_MS, publish, verifyFiles } from './release.js';
import { BIN_EXPIRY_DAYS, delegatedFiles, hashBinsOf, releasedRole } from './delegated.js';
import { repoState } from './rounds.js';
import type { Store } from './store.js';

export type LivingErrorCode =
  | 'SETTINGS_INVALID' // settings.json or a policy option is not what it must be
  | 'REFRESH_FAILED'; // an online refresh could not be made (it is retried at the next turn)

export class LivingError extends QuorumError<LivingErrorCode> {}

/** How long each online role lives and how early an offline role is renewed (ms). */
export interface LivingPolicy {
  /** tuf: the expiry written into each timestamp / snapshot, from the moment it is signed. */
  expiry: { timestamp: number; snapshot: number };
  /** A renewal round opens when a role has less than this left (and none is open for it). */
  renewBefore: { root: number; targets: number };
}

export const DEFAULT_POLICY: LivingPolicy = {
  expiry: { ...DEFAULT_ONLINE_EXPIRY_MS },
  renewBefore: { root: 60 * DAY_MS, targets: 14 * DAY_MS },
};

/** The settings file in the data dir. */
export const SETTINGS_FILE = 'settings.json';

/** The longest duration a policy takes: ten years. */
const MAX_POLICY_MS = 3650 * DAY_MS;

/**
 * A duration such as `90s`, `30m`, `12h` or `7d` in ms (protocol/time.ts's grammar), positive and
 * at most ten years;
 * `what` names it in the error.
 */
export function parseDuration(s: string, what: string): number {
  const ms = durationMs(s.trim()) ?? NaN;
  if (!(ms > 0 && ms <= MAX_POLICY_MS))
    throw new LivingError(
      'SETTINGS_INVALID',
      `${what}: ${JSON.stringify(s)} is not a duration; write a positive whole number and a unit (90s, 30m, 12h, 7d), at most 3650d`,
    );
  return ms;
}

/** A duration in the largest unit that divides it (for messages and the settings). */
export function formatDuration(ms: number): string {
  for (const [u, n] of [
    ['d', DAY_MS],
    ['h', HOUR_MS],
    ['m', MINUTE_MS],
  ] as const)
    if (ms % n === 0) return `${ms / n}${u}`;
  return `${Math.round(ms / 1000)}s`;
}

const Duration = z.string().max(20);
const SettingsSchema = z.strictObject({
  expiry: z.strictObject({ timestamp: Duration.optional(), snapshot: Duration.optional() }).optional(),
  renewBefore: z.strictObject({ root: Duration.optional(), targets: Duration.optional() }).optional(),
});
/** settings.json: every field optional, durations as strings (`"1d"`). */
export type Settings = z.infer<typeof SettingsSchema>;

/** Overrides of the policy: the command line's, over settings.json's, over the defaults. */
export interface PolicyOverrides {
  timestamp?: string;
  snapshot?: string;
  renewRoot?: string;
  renewTargets?: string;
}

/** The policy of data dir `dataDir` with `over` (command-line options) applied. */
export function loadPolicy(dataDir: string, over: PolicyOverrides = {}): LivingPolicy {
  const file = path.join(dataDir, SETTINGS_FILE);
  let settings: Settings = {};
  if (fs.existsSync(file)) {
    let json: unknown;
    try {
      json = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (e) {
      throw new LivingError(
        'SETTINGS_INVALID',
        `${file} is not valid JSON (${(e as Error).message}); fix or remove it`,
      );
    }
    const r = SettingsSchema.safeParse(json);
    if (!r.success)
      throw new LivingError(
        'SETTINGS_INVALID',
        `${file}: ${r.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`).join('; ')}; ` +
          'expected {"expiry": {"timestamp": "1d", "snapshot": "7d"}, "renewBefore": {"root": "60d", "targets": "14d"}}',
      );
    settings = r.data;
  }
  const pick = (cli: string | undefined, set: string | undefined, what: string, def: number) =>
    cli !== undefined ? parseDuration(cli, what) : set !== undefined ? parseDuration(set, `${file}: ${what}`) : def;
  const d = DEFAULT_POLICY;
  const policy: LivingPolicy = {
    expiry: {
      timestamp: pick(over.timestamp, settings.expiry?.timestamp, 'timestamp expiry', d.expiry.timestamp),
      snapshot: pick(over.snapshot, settings.expiry?.snapshot, 'snapshot expiry', d.expiry.snapshot),
    },
    renewBefore: {
      root: pick(over.renewRoot, settings.renewBefore?.root, 'root renew-before', d.renewBefore.root),
      targets: pick(over.renewTargets, settings.renewBefore?.targets, 'targets renew-before', d.renewBefore.targets),
    },
  };
  if (policy.expiry.timestamp > policy.expiry.snapshot)
    throw new LivingError(
      'SETTINGS_INVALID',
      `the timestamp expiry (${formatDuration(policy.expiry.timestamp)}) is longer than the snapshot expiry ` +
        `(${formatDuration(policy.expiry.snapshot)}): a client would hold a timestamp naming an expired snapshot; ` +
        'make the snapshot live at least as long',
    );
  return policy;
}

// --- the online refresh -------------------------------------------------------------------------

export interface RefreshResult {
  seq: number;
  /** The roles re-signed (timestamp always; snapshot when it was due). */
  roles: ('snapshot' | 'timestamp')[];
  timestamp: { version: number; expires: string };
  snapshot: { version: number; expires: string };
  /** How many hash bins were re-signed (absent when none was due). */
  bins?: number;
}

const expiresOf = (signed: { expires?: unknown }) => Date.parse(String(signed.expires));

/**
 * Whether the online roles, as signed, are due at `t` (ms): a role with less than half of its
 * period left is re-signed; snapshot also when a hash bin is (`binsDue`: it names the bin's
 * version); timestamp whenever snapshot is, as a timestamp must never outlive the snapshot it names.
 */
export function onlineRolesDue(
  timestamp: { expires?: unknown },
  snapshot: { expires?: unknown },
  policy: LivingPolicy,
  t: number,
  binsDue = false,
): { timestamp: boolean; snapshot: boolean } {
  const snap = binsDue || expiresOf(snapshot) - t < policy.expiry.snapshot / 2;
  return { snapshot: snap, timestamp: snap || expiresOf(timestamp) - t < policy.expiry.timestamp / 2 };
}

/**
 * What is due at `now` in the latest release: nothing (null) outside `tuf`, before the first
 * targets release, or while both online roles (and every hash bin) have more than half their
 * period left. Hash bins (`quorum init --hash-bins`) are signed by the online key too: a bin with
 * less than half of its lifetime left is re-signed, and snapshot with it (it names the bin's version).
 */
export function refreshDue(
  store: Store,
  policy: LivingPolicy,
  now: Date,
): { snapshot: boolean; bins: string[] } | null {
  const st = repoState(store);
  if (st.dialect !== 'tuf' || !st.files['timestamp.json'] || !st.files['snapshot.json']) return null;
  const ts = parseMetadata(st.files['timestamp.json'], 'timestamp.json', 'timestamp', 'tuf').signed;
  const snap = parseMetadata(st.files['snapshot.json'], 'snapshot.json', 'snapshot', 'tuf').signed;
  const t = now.getTime();
  const bins: string[] = [];
  const hb = hashBinsOf(store);
  if (hb)
    for (const name of Object.keys(delegatedFiles(st.files, 'tuf').present))
      if (
        name.startsWith(`${hb.namePrefix}-`) &&
        expiresOf(releasedRole(st.files, name, 'tuf')!.signed) - t < (BIN_EXPIRY_DAYS * DAY_MS) / 2
      )
        bins.push(name);
  const due = onlineRolesDue(ts, snap, policy, t, bins.length > 0);
  return due.timestamp ? { snapshot: due.snapshot, bins } : null;
}

/**
 * Re-sign timestamp (and snapshot when due) if due at `now`, commit, publish. Call it only from
 * the context's queue (one writer). Null when nothing was due.
 */
export async function refreshOnline(
  store: Store,
  dataDir: string,
  onlineKey: KeyObject | null,
  policy: LivingPolicy,
  now: Date,
): Promise<RefreshResult | null> {
  const due = refreshDue(store, policy, now);
  if (!due) return null;
  if (!onlineKey)
    throw new LivingError(
      'REFRESH_FAILED',
      'timestamp is due for a refresh but this coordinator has no online key (online-key.pem in the data dir)',
    );
  const st = repoState(store);
  const online = localSigner(onlineKey);
  const files: Record<string, Buffer> = { ...st.files };
  const prevSnap = parseMetadata(st.files['snapshot.json']!, 'snapshot.json', 'snapshot', 'tuf');
  const prevTs = parseMetadata(st.files['timestamp.json']!, 'timestamp.json', 'timestamp', 'tuf');
  const at = Math.floor(now.getTime() / 1000) * 1000;
  let snapVersion = prevSnap.signed.version as number;
  // Hash bins near their expiry: the same targets, one version later, a new expiry.
  for (const name of due.bins) {
    const file = delegatedFileName(name, 'tuf');
    const prev = parseMetadata(files[file]!, file, 'targets', 'tuf').signed;
    const signed = {
      ...prev,
      version: (prev.version as number) + 1,
      expires: formatExpires(new Date(at + BIN_EXPIRY_DAYS * DAY_MS)),
    };
    files[file] = serialize(await signEnvelope(signed, 'tuf', [online]));
  }
  if (due.snapshot) {
    snapVersion += 1;
    const expires = formatExpires(new Date(at + policy.expiry.snapshot));
    // The same snapshot (every file it names, delegated roles too), one version later, a new
    // expiry; naming the re-signed bins' new versions when bins were due.
    const signed = due.bins.length
      ? buildSnapshot(
          'tuf',
          snapVersion,
          new Date(at + policy.expiry.snapshot),
          files['targets.json']!,
          releasedRole(files, 'targets', 'tuf')!.signed.version as number,
          delegatedFiles(files, 'tuf').present,
        )
      : { ...prevSnap.signed, version: snapVersion, expires };
    files['snapshot.json'] = serialize(await signEnvelope(signed, 'tuf', [online]));
  }
  const tsVersion = (prevTs.signed.version as number) + 1;
  const tsExpires = new Date(at + policy.expiry.timestamp);
  files['timestamp.json'] = serialize(
    await signEnvelope(buildTimestamp('tuf', tsVersion, tsExpires, files['snapshot.json']!, snapVersion), 'tuf', [
      online,
    ]),
  );

  // Checked as a device would, trusting the released root, at the refresh time.
  const report = verifyFiles(files, { name: 'root.json (released)', bytes: st.files['root.json']! }, now);
  if (!report.ok)
    throw new LivingError(
      'REFRESH_FAILED',
      `the refreshed repository does not verify: ${report.errors.map((e) => `${e.code}: ${e.file}: ${e.message}`).join('; ')}`,
    );
  const roles: RefreshResult['roles'] = due.snapshot ? ['snapshot', 'timestamp'] : ['timestamp'];
  const result = {
    roles,
    ...(due.bins.length ? { bins: due.bins.length } : {}),
    timestamp: { version: tsVersion, expires: formatExpires(tsExpires) },
    snapshot: {
      version: snapVersion,
      expires: String(parseMetadata(files['snapshot.json']!, 'snapshot.json', 'snapshot', 'tuf').signed.expires),
    },
  };
  const seq = store.tx(() => {
    // One writer: nothing may have been released since the state this refresh was built on.
    if (store.latestReleaseSeq() !== st.releaseSeq)
      throw new LivingError('REFRESH_FAILED', 'a release happened while the refresh was being signed; retrying');
    const seq = store.insertRelease(null, 'timestamp', tsVersion, now.toISOString(), files);
    store.audit('online.refreshed', { release: seq, ...result }, now.toISOString());
    return seq;
  });
  publish(dataDir, seq, files);
  return { seq, ...result };
}

// --- expiry of every role, and renewal rounds -----------------------------------------------------

export type ExpiryRole = 'root' | 'targets' | 'snapshot' | 'timestamp';

export interface RoleExpiry {
  role: ExpiryRole;
  version: number;
  expires: string;
  /** Days left at the time asked (negative once expired), to one decimal. */
  daysLeft: number;
  /** `ok`; `renewing` (a round for it is open); `due` (within renew-before, no round yet); `expired`. */
  state: 'ok' | 'renewing' | 'due' | 'expired';
  /** root and targets: when the coordinator opens a renewal round (days before expiry). */
  renewBeforeDays?: number;
  /** snapshot and timestamp (tuf): the lifetime each refresh writes (days). */
  lifetimeDays?: number;
  /**
   * When the renewal window opens: root and targets, `renewBeforeDays` before expiry (the renewal
   * round opens then); snapshot and timestamp, half their lifetime before expiry (the online refresh).
   */
  renewFrom: string;
  /** The open round for this role, if any. */
  round?: string;
}

/** A CA certificate's expiry: renewed by a certificate round, never by the coordinator itself. */
export interface CertificateExpiry {
  ca: string;
  expires: string;
  daysLeft: number;
  state: 'ok' | 'expired';
}

const days1 = (ms: number) => Math.round((ms / DAY_MS) * 10) / 10;

/** Each released role's expiry at `now`, root first. */
export function expiryOf(store: Store, policy: LivingPolicy, now: Date): RoleExpiry[] {
  const st = repoState(store);
  const out: RoleExpiry[] = [];
  for (const role of ['root', 'targets', 'snapshot', 'timestamp'] as const) {
    const bytes = st.files[`${role}.json`];
    if (!bytes) continue;
    const signed = parseMetadata(bytes, `${role}.json`, role, st.dialect).signed;
    const left = expiresOf(signed) - now.getTime();
    const offline = role === 'root' || role === 'targets';
    const open = offline ? store.openRound(role) : undefined;
    const state = left <= 0 ? 'expired' : open ? 'renewing' : offline && left < policy.renewBefore[role] ? 'due' : 'ok';
    const window = offline ? policy.renewBefore[role] : policy.expiry[role as 'snapshot' | 'timestamp'] / 2;
    out.push({
      role,
      version: signed.version as number,
      expires: String(signed.expires),
      daysLeft: days1(left),
      state: left <= 0 && open ? 'renewing' : state,
      ...(offline
        ? { renewBeforeDays: days1(policy.renewBefore[role]) }
        : { lifetimeDays: days1(policy.expiry[role as 'snapshot' | 'timestamp']) }),
      renewFrom: new Date(expiresOf(signed) - window).toISOString(),
      ...(open ? { round: open.id } : {}),
    });
  }
  return out;
}

/**
 * A delegated role's expiry: each role signed in its own rounds (`quorum round open targets --role
 * NAME`), and the hash bins as one entry (the first to expire; the online key re-signs a bin when a
 * targets round changes its targets, and in the online refresh when less than half its year is left).
 */
export interface DelegatedExpiry {
  /** The role's name, or `N hash bins` for the bins. */
  name: string;
  version: number;
  expires: string;
  daysLeft: number;
  state: 'ok' | 'renewing' | 'expired';
  /** The bins: the name of the first to expire. */
  first?: string;
  /** The open round for this role, if any. */
  round?: string;
}

/** Each released delegated role's expiry at `now`, soonest first. */
export function delegatedExpiryOf(store: Store, now: Date): DelegatedExpiry[] {
  const st = repoState(store);
  const bins = hashBinsOf(store);
  const open = new Map(store.rounds('open').flatMap((r) => (r.delegated ? [[r.delegated, r.id] as const] : [])));
  const out: DelegatedExpiry[] = [];
  let binCount = 0;
  let firstBin: DelegatedExpiry | null = null;
  for (const [name, { file }] of Object.entries(delegatedFiles(st.files, st.dialect).present)) {
    const signed = parseMetadata(file, name, 'targets', st.dialect).signed;
    const left = expiresOf(signed) - now.getTime();
    const round = open.get(name);
    const e: DelegatedExpiry = {
      name,
      version: signed.version as number,
      expires: String(signed.expires),
      daysLeft: days1(left),
      state: round ? 'renewing' : left <= 0 ? 'expired' : 'ok',
      ...(round ? { round } : {}),
    };
    if (bins && name.startsWith(`${bins.namePrefix}-`)) {
      binCount++;
      if (!firstBin || e.expires < firstBin.expires) firstBin = e;
      continue;
    }
    out.push(e);
  }
  if (firstBin) out.push({ ...firstBin, name: `${binCount} hash bins`, first: firstBin.name });
  return out.sort((a, b) => Date.parse(a.expires) - Date.parse(b.expires));
}

/** Each CA certificate's expiry at `now`, soonest first (a stored chain that does not parse is left out). */
export function certificateExpiryOf(store: Store, now: Date): CertificateExpiry[] {
  const out: CertificateExpiry[] = [];
  for (const ca of store.cas()) {
    if (!ca.chain_pem) continue;
    let validTo: number;
    try {
      validTo = Date.parse(new X509Certificate(ca.chain_pem).validTo);
    } catch {
      continue; // quorum fleet-ca list shows a CA whose stored chain does not parse
    }
    const left = validTo - now.getTime();
    out.push({
      ca: ca.name,
      expires: new Date(validTo).toISOString(),
      daysLeft: days1(left),
      state: left <= 0 ? 'expired' : 'ok',
    });
  }
  return out.sort((a, b) => a.expires.localeCompare(b.expires));
}

export interface Renewal {
  role: 'root' | 'targets';
  /** The released body, one version up, with a new expiry; every other field unchanged. */
  signed: Record<string, unknown>;
  reason: string;
  daysLeft: number;
  /**
   * Root only, when targets is due too: the root round also re-signs targets (a linked round), so
   * that both are released together; a root released alone would be refused while the released
   * targets are expired.
   */
  resignTargets?: boolean;
}

/**
 * The renewal rounds due at `now`: root or targets within its renew-before window (or expired)
 * with no round of that role open. The new expiry is the role's default lifetime (root 365 days,
 * targets 31) or twice renew-before, whichever is longer, so a renewal is never due at once again.
 */
export function renewalsDue(store: Store, policy: LivingPolicy, now: Date): Renewal[] {
  const st = repoState(store);
  const out: Renewal[] = [];
  for (const role of ['root', 'targets'] as const) {
    const meta = role === 'root' ? st.root : st.targets;
    if (!meta || store.openRound(role)) continue;
    const left = expiresOf(meta.signed) - now.getTime();
    if (left >= policy.renewBefore[role]) continue;
    const lifetime = Math.max(EXPIRY_DAYS[role] * DAY_MS, 2 * policy.renewBefore[role]);
    const signed = structuredClone(meta.signed) as Record<string, unknown>;
    signed.version = (role === 'targets' ? st.targetsBase : (meta.signed.version as number)) + 1;
    signed.expires = formatExpires(new Date(Math.floor(now.getTime() / 1000) * 1000 + lifetime));
    const d = Math.floor(Math.abs(left) / DAY_MS);
    out.push({
      role,
      signed,
      reason: left > 0 ? `renewal: expires in ${d} days` : `renewal: expired ${d} days ago`,
      daysLeft: days1(left),
    });
  }
  // Root and targets both due: one root round re-signing targets, released together.
  if (out.length === 2) return [{ ...out[0]!, resignTargets: true }];
  return out;
}
