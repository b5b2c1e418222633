/**
 * The coordinator's SQLite store (better-sqlite3): migrations, WAL with synchronous=FULL, and
 * every write that matters inside one transaction. A signature is acknowledged only after the
 * transaction that stores it has committed, so an acknowledged signature survives SIGKILL.
 *
 * The audit table is append-only and hash-chained: each row's hash covers the previous hash and
 * the row's content, so `quorum audit verify` detects an edited, removed or reordered event.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import Database from 'better-sqlite3';
import { z } from 'zod';
import type { Dialect } from '../protocol/canonical.js';
import { QuorumError } from '../protocol/errors.js';
import {
  FrostCeremonySchema,
  FrostDkgConfirmSchema,
  FrostDkgRound1Schema,
  FrostDkgRound2Schema,
  FrostGroupSchema,
  FrostSignedIdentitySchema,
  FrostTranscriptSignatureSchema,
  type FrostCeremony,
  type FrostDkgConfirm,
  type FrostDkgRound1,
  type FrostDkgRound2,
  type FrostGroup,
  type FrostSignedIdentity,
  type FrostTranscriptSignature,
} from '../protocol/frost-wire.js';
import { RootSignedSchema, type RootSigned } from '../protocol/metadata/schemas.js';
import { CERT_PROFILES, RoundInfoSchema, type RoundInfo, type RoundRole, type RoundState } from '../protocol/wire.js';
import type { Prepared } from '../protocol/x509.js';

const MIGRATIONS: string[] = [
  `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
   CREATE TABLE keyholders (
     name TEXT PRIMARY KEY,
     spki BLOB NOT NULL,
     fingerprint TEXT NOT NULL UNIQUE,
     algorithm TEXT NOT NULL,
     enrolled_at TEXT NOT NULL,
     removed_at TEXT
   );
   CREATE TABLE rounds (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     id TEXT NOT NULL UNIQUE,
     role TEXT NOT NULL CHECK (role IN ('root','targets')),
     version INTEGER NOT NULL,
     base_root_version INTEGER NOT NULL,
     signed_json TEXT NOT NULL,
     canonical BLOB NOT NULL,
     sha256 TEXT NOT NULL,
     reason TEXT NOT NULL,
     deadline TEXT NOT NULL,
     state TEXT NOT NULL CHECK (state IN ('open','released','cancelled','expired')),
     created_at TEXT NOT NULL,
     closed_at TEXT
   );
   CREATE UNIQUE INDEX rounds_one_open ON rounds(role) WHERE state = 'open';
   CREATE TABLE signatures (
     round_id TEXT NOT NULL REFERENCES rounds(id),
     fingerprint TEXT NOT NULL,
     keyholder TEXT NOT NULL,
     sig BLOB NOT NULL,
     received_at TEXT NOT NULL,
     PRIMARY KEY (round_id, fingerprint)
   );
   CREATE TABLE releases (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     round_id TEXT UNIQUE REFERENCES rounds(id),
     role TEXT NOT NULL,
     version INTEGER NOT NULL,
     released_at TEXT NOT NULL,
     UNIQUE (role, version)
   );
   CREATE TABLE release_files (
     release_seq INTEGER NOT NULL REFERENCES releases(seq),
     name TEXT NOT NULL,
     bytes BLOB NOT NULL,
     PRIMARY KEY (release_seq, name)
   );
   CREATE TABLE audit (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     at TEXT NOT NULL,
     event TEXT NOT NULL,
     data TEXT NOT NULL,
     prev_hash TEXT NOT NULL,
     hash TEXT NOT NULL
   );
   CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
   CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;`,
  // 2: a root round and a targets round released together (new targets keys re-sign targets).
  `ALTER TABLE rounds ADD COLUMN linked_round TEXT REFERENCES rounds(id);`,
  // 3: certificate authorities and certificate rounds (a third kind of round), gated by approvals.
  `CREATE TABLE cas (
     name TEXT PRIMARY KEY,
     kind TEXT NOT NULL,
     holder TEXT REFERENCES keyholders(name),
     issuer_spki BLOB NOT NULL,
     issuer_fingerprint TEXT NOT NULL,
     algorithm TEXT NOT NULL,
     chain_pem TEXT,
     approvals_threshold INTEGER NOT NULL CHECK (approvals_threshold >= 1),
     approvers TEXT NOT NULL,
     created_at TEXT NOT NULL
   );
   CREATE TABLE cert_rounds (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     id TEXT NOT NULL UNIQUE,
     ca TEXT NOT NULL REFERENCES cas(name),
     profile TEXT NOT NULL CHECK (profile IN ('fleet-root','intermediate-ca','device')),
     prepared_json TEXT NOT NULL,
     tbs_sha256 TEXT NOT NULL,
     reason TEXT NOT NULL,
     deadline TEXT NOT NULL,
     state TEXT NOT NULL CHECK (state IN ('open','released','cancelled','expired')),
     created_at TEXT NOT NULL,
     closed_at TEXT,
     certificate_pem TEXT,
     new_ca TEXT
   );
   CREATE TABLE cert_approvals (
     round_id TEXT NOT NULL REFERENCES cert_rounds(id),
     keyholder TEXT NOT NULL,
     fingerprint TEXT NOT NULL,
     sig BLOB NOT NULL,
     received_at TEXT NOT NULL,
     PRIMARY KEY (round_id, keyholder)
   );`,
  // 4: FROST: keyholders' X25519 identities, DKG ceremonies and every package they exchange
  // (round-2 packages are ciphertext the coordinator cannot read), so a restart loses nothing.
  `CREATE TABLE frost_identities (
     keyholder TEXT PRIMARY KEY REFERENCES keyholders(name),
     identity_key TEXT NOT NULL,
     recorded_at TEXT NOT NULL
   );
   CREATE TABLE frost_ceremonies (
     id TEXT PRIMARY KEY,
     ceremony_json TEXT NOT NULL,
     digest TEXT NOT NULL,
     purpose_json TEXT NOT NULL,
     state TEXT NOT NULL CHECK (state IN ('round1','round2','confirm','done','failed')),
     group_json TEXT,
     failure TEXT,
     created_at TEXT NOT NULL,
     closed_at TEXT
   );
   CREATE TABLE frost_dkg_round1 (
     ceremony TEXT NOT NULL REFERENCES frost_ceremonies(id),
     participant INTEGER NOT NULL,
     package_json TEXT NOT NULL,
     PRIMARY KEY (ceremony, participant)
   );
   CREATE TABLE frost_dkg_round2 (
     ceremony TEXT NOT NULL REFERENCES frost_ceremonies(id),
     sender INTEGER NOT NULL,
     recipient INTEGER NOT NULL,
     package_json TEXT NOT NULL,
     PRIMARY KEY (ceremony, sender, recipient)
   );
   CREATE TABLE frost_dkg_confirms (
     ceremony TEXT NOT NULL REFERENCES frost_ceremonies(id),
     participant INTEGER NOT NULL,
     confirm_json TEXT NOT NULL,
     PRIMARY KEY (ceremony, participant)
   );
   ALTER TABLE cas ADD COLUMN frost_ceremony TEXT REFERENCES frost_ceremonies(id);`,
  // 5: a CA that never got its certificate (its round cancelled or expired) gives its name up to a
  // new CA: it is retired, renamed with its rounds, and kept (never deleted) as history.
  `ALTER TABLE cas ADD COLUMN retired_from TEXT;
   ALTER TABLE cas ADD COLUMN retired_at TEXT;`,
  // 6: what a keyholder can ask for costs the same with ten rounds in history or ten thousand: a
  // small summary row per round (listings read these, never the payloads, which sit in overflow
  // pages before the rounds table's later columns), kept in step by triggers; a closed round's
  // public summary frozen as it closed; indexes for the open-round scans and the replay check.
  `CREATE TABLE round_summaries (
     seq INTEGER PRIMARY KEY REFERENCES rounds(seq),
     id TEXT NOT NULL UNIQUE,
     role TEXT NOT NULL,
     version INTEGER NOT NULL,
     state TEXT NOT NULL,
     info_json TEXT
   );
   INSERT INTO round_summaries (seq, id, role, version, state) SELECT seq, id, role, version, state FROM rounds;
   CREATE INDEX round_summaries_state ON round_summaries(state, seq);
   CREATE TRIGGER rounds_summary_insert AFTER INSERT ON rounds BEGIN
     INSERT INTO round_summaries (seq, id, role, version, state) VALUES (NEW.seq, NEW.id, NEW.role, NEW.version, NEW.state);
   END;
   CREATE TRIGGER rounds_summary_state AFTER UPDATE OF state ON rounds BEGIN
     UPDATE round_summaries SET state = NEW.state, info_json = NULL WHERE seq = NEW.seq;
   END;
   CREATE INDEX rounds_state ON rounds(state);
   CREATE INDEX rounds_sha256 ON rounds(sha256);
   CREATE INDEX signatures_sig ON signatures(sig);
   CREATE INDEX cert_rounds_state ON cert_rounds(state, seq);`,
  // 7: FROST identities authenticated (issue 9): each round-1 package comes with its sender's
  // identity statement, signed with the keyholder's enrolled key; each confirmation with its
  // sender's signature over the whole transcript; a group counts as agreed only with every
  // transcript signed and equal (transcript_digest). Groups agreed before this have none and are
  // refused until created again; ceremonies under way cannot finish under the new rules and fail.
  `ALTER TABLE frost_dkg_round1 ADD COLUMN identity_json TEXT;
   ALTER TABLE frost_dkg_confirms ADD COLUMN transcript_json TEXT;
   ALTER TABLE frost_ceremonies ADD COLUMN transcript_digest TEXT;
   UPDATE frost_ceremonies SET state = 'failed', closed_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'),
     failure = 'UPGRADED: the coordinator now requires signed identity statements and transcripts; open the ceremony again'
     WHERE state IN ('round1', 'round2', 'confirm');`,
  // 8: notifications (issue 10): webhooks and a durable outbox. An event's deliveries are queued in
  // the transaction that audits the event; each is retried until delivered (or given up, visibly).
  // A webhook's HMAC secret is stored here (the database is owner-only) and never listed or logged.
  `CREATE TABLE webhooks (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     url TEXT NOT NULL,
     events TEXT NOT NULL,
     format TEXT NOT NULL CHECK (format IN ('json','slack')),
     secret TEXT,
     created_at TEXT NOT NULL,
     removed_at TEXT
   );
   CREATE TABLE outbox (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     event_id TEXT NOT NULL,
     webhook INTEGER NOT NULL REFERENCES webhooks(id),
     event TEXT NOT NULL,
     body TEXT NOT NULL,
     created_at TEXT NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 0,
     next_at INTEGER NOT NULL,
     state TEXT NOT NULL CHECK (state IN ('pending','delivered','failed')) DEFAULT 'pending',
     last_error TEXT,
     done_at TEXT,
     UNIQUE (event_id, webhook)
   );
   CREATE INDEX outbox_due ON outbox(state, next_at);`,
  // 9: delegated targets roles signed in rounds (issue 14): a targets round may sign a delegated
  // role's file (delegated = its name; null for targets.json itself); one open round per role and
  // delegated role. With hash bins, the targets a targets round adds to and removes from the bins
  // (bins_json, BinsChange), which the online key signs at its release.
  `ALTER TABLE rounds ADD COLUMN delegated TEXT;
   ALTER TABLE rounds ADD COLUMN bins_json TEXT;
   DROP INDEX rounds_one_open;
   CREATE UNIQUE INDEX rounds_one_open ON rounds(role, coalesce(delegated, '')) WHERE state = 'open';`,
];

// --- the JSON kept in columns --------------------------------------------------------------------
//
// Some columns hold JSON: records received on the wire (FROST packages, identity statements), a
// prepared certificate, a round's frozen public summary. The store decodes each once, on the way
// out, with its schema, and hands out typed rows; a column that does not decode (the database was
// edited or damaged) is STORE_CORRUPT naming the table, the row and the column, never a cast that
// fails later somewhere else. The schemas only check: the value handed out is JSON.parse's own, so
// every key stays, in the order the stored text has it.

/** A JSON column that does not decode: the database was edited or damaged. */
export class StoreError extends QuorumError<'STORE_CORRUPT'> {}

/** Where a stored value sits, for the message: table, the row's key, column. */
interface Cell {
  table: string;
  row: string | number;
  column: string;
}

function decodeJson<T>(schema: z.ZodType<T>, text: string, at: Cell): T {
  const where = `column ${at.column} of ${at.table} row ${JSON.stringify(String(at.row))}`;
  const advice = 'the database was edited or damaged: restore quorum.db from a backup';
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new StoreError('STORE_CORRUPT', `${where} is not JSON (${(e as Error).message}); ${advice}`, { cause: e });
  }
  const r = schema.safeParse(value);
  if (!r.success)
    throw new StoreError(
      'STORE_CORRUPT',
      `${where} does not hold what it must: ${z.prettifyError(r.error).replace(/\n/g, ' ')}; ${advice}`,
      { cause: r.error },
    );
  return value as T;
}

const decodeNullable = <T>(schema: z.ZodType<T>, text: string | null, at: Cell): T | null =>
  text === null ? null : decodeJson(schema, text, at);

/** Everything a certificate round needs (protocol/x509.ts Prepared), as stored in cert_rounds.prepared_json. */
const PreparedSchema: z.ZodType<Prepared> = z.looseObject({
  version: z.literal(1),
  profile: z.enum(CERT_PROFILES),
  tbs: z.string(),
  tbsSha256: z.string().regex(/^[0-9a-f]{64}$/),
  signatureAlgorithm: z.enum(['ed25519', 'ecdsa-p256']),
  issuerSpki: z.string(),
  issuerFingerprint: z.string().regex(/^[0-9a-f]{64}$/),
  chain: z.array(z.string()),
});

/** What a DKG ceremony is for, applied once its group is agreed: a fleet root CA named `name`. */
const FleetCaPurposeSchema = z.looseObject({
  kind: z.literal('fleet-ca'),
  name: z.string(),
  fleetName: z.string(),
  reason: z.string(),
  validityDays: z.number().optional(),
  /** The ceremony must be done by then (ISO 8601; default 7 days after it opened). */
  deadline: z.string().optional(),
});
export type FleetCaPurpose = z.infer<typeof FleetCaPurposeSchema>;

/** What a ceremony opened by `quorum frost create` is for: a group key for root or targets metadata. */
const RoleKeyPurposeSchema = z.looseObject({
  kind: z.literal('role-key'),
  name: z.string(),
  reason: z.string(),
  /** The ceremony must be done by then (ISO 8601; default 7 days after it opened). */
  deadline: z.string().optional(),
});
export type RoleKeyPurpose = z.infer<typeof RoleKeyPurposeSchema>;
export type CeremonyPurpose = FleetCaPurpose | RoleKeyPurpose;
const CeremonyPurposeSchema = z.discriminatedUnion('kind', [FleetCaPurposeSchema, RoleKeyPurposeSchema]);

/** A round's proposed `signed` body: an object with an integer version (the full checks ran when it was opened). */
const SignedBodySchema = z.looseObject({ version: z.number().int() });
export type SignedBody = z.infer<typeof SignedBodySchema>;

// --- rows -----------------------------------------------------------------------------------------

/** A round's row in round_summaries. */
export interface RoundSummaryRow {
  seq: number;
  id: string;
  role: RoundRole;
  version: number;
  state: RoundState;
  /** The public summary of a closed round, stored the first time it was shown closed (info_json). */
  info: RoundInfo | null;
}

export interface KeyholderRow {
  name: string;
  spki: Buffer;
  fingerprint: string;
  algorithm: string;
  enrolled_at: string;
  removed_at: string | null;
}

export interface RoundRow {
  seq: number;
  id: string;
  role: RoundRole;
  version: number;
  base_root_version: number;
  /**
   * The proposed `signed` body exactly as stored and served to keyholders (round.payload carries
   * this text). A targets body can hold a million entries, so it is decoded only where it is
   * needed: proposedRoot and proposedSigned.
   */
  signed_json: string;
  canonical: Buffer;
  sha256: string;
  reason: string;
  deadline: string;
  state: RoundState;
  created_at: string;
  closed_at: string | null;
  /** The other round of a linked root + targets pair, released together. */
  linked_round: string | null;
  /** A delegated targets role's round: the role's name (role is targets); null for top-level roles. */
  delegated: string | null;
  /** With hash bins: the targets the round adds to and removes from the bins (BinsChange as JSON text). */
  bins_json: string | null;
}

/** A round's proposed `signed` body, decoded (STORE_CORRUPT if the stored text is not one). */
export function proposedSigned(r: RoundRow): SignedBody {
  return decodeJson(SignedBodySchema, r.signed_json, { table: 'rounds', row: r.id, column: 'signed_json' });
}

/** A hash-binned targets round's changes to the bins, decoded; null when it changes none. */
export function roundBins<T>(r: RoundRow, schema: z.ZodType<T>): T | null {
  return decodeNullable(schema, r.bins_json, { table: 'rounds', row: r.id, column: 'bins_json' });
}

/** A root round's proposed root (small, unlike a targets body). */
export function proposedRoot(r: RoundRow): RootSigned {
  return decodeJson(RootSignedSchema, r.signed_json, { table: 'rounds', row: r.id, column: 'signed_json' });
}

export interface SignatureRow {
  round_id: string;
  fingerprint: string;
  keyholder: string;
  sig: Buffer;
  received_at: string;
}

export interface ReleaseRow {
  seq: number;
  /** null for a release made at init (an imported repository). */
  round_id: string | null;
  role: string;
  version: number;
  released_at: string;
}

/**
 * A certificate authority. `kind` 'single' is a CA key held by one keyholder (a key file or a
 * token), gated by approvals; 'frost' is a FROST group's key, its participants the approvers.
 */
export interface CaRow {
  name: string;
  kind: string;
  holder: string | null;
  issuer_spki: Buffer;
  issuer_fingerprint: string;
  algorithm: string;
  /** PEM: the CA's certificate followed by the chain up to its root; null until its round is released. */
  chain_pem: string | null;
  approvals_threshold: number;
  /** Keyholder names (stored as a JSON array). */
  approvers: string[];
  created_at: string;
  /** kind 'frost': the DKG ceremony whose group key is the CA key. */
  frost_ceremony?: string | null;
  /** A retired CA (renamed so that a new CA could take its name): the name it had, and when. */
  retired_from?: string | null;
  retired_at?: string | null;
}

export type FrostCeremonyState = 'round1' | 'round2' | 'confirm' | 'done' | 'failed';

export interface FrostCeremonyRow {
  id: string;
  /** The roster (ceremony_json). */
  ceremony: FrostCeremony;
  digest: string;
  /** What the group is for once agreed (purpose_json). */
  purpose: CeremonyPurpose;
  state: FrostCeremonyState;
  /** The group, once agreed (group_json). */
  group: FrostGroup | null;
  failure: string | null;
  created_at: string;
  closed_at: string | null;
  /** The transcript every participant signed, once agreed; null for groups agreed before migration 7 (refused). */
  transcript_digest: string | null;
}

/** A round-1 package with its sender's identity statement (null in rows from before migration 7). */
export interface DkgRound1Row {
  participant: number;
  package: FrostDkgRound1;
  identity: FrostSignedIdentity | null;
}

/** A round-2 package: ciphertext from `sender` to `recipient`, relayed unread. */
export interface DkgRound2Row {
  sender: number;
  recipient: number;
  package: FrostDkgRound2;
}

/** A confirmation with its sender's transcript signature (null in rows from before migration 7). */
export interface DkgConfirmRow {
  participant: number;
  confirm: FrostDkgConfirm;
  transcript: FrostTranscriptSignature | null;
}

export interface CertRoundRow {
  seq: number;
  id: string;
  ca: string;
  profile: 'fleet-root' | 'intermediate-ca' | 'device';
  /** The TBS bytes and what assembling needs (prepared_json). */
  prepared: Prepared;
  tbs_sha256: string;
  reason: string;
  deadline: string;
  state: RoundState;
  created_at: string;
  closed_at: string | null;
  /** PEM full chain, once released. */
  certificate_pem: string | null;
  /** intermediate-ca: the CA registered by this round (its chain is set at release). */
  new_ca: string | null;
}

export interface ApprovalRow {
  round_id: string;
  keyholder: string;
  fingerprint: string;
  sig: Buffer;
  received_at: string;
}

/**
 * An audit event. `data` stays the stored text: the hash chain covers it byte for byte, and
 * `quorum audit verify` must report an edited row, not fail to decode it.
 */
/** A webhook (notify.ts), its `events` decoded; `secret` is the HMAC key, never listed or logged. */
export interface WebhookRow {
  id: number;
  url: string;
  /** The events it asked for; empty: all of them. */
  events: string[];
  format: 'json' | 'slack';
  secret: string | null;
  created_at: string;
  removed_at: string | null;
}

/** A pending delivery that is due, with the webhook it goes to. */
export interface DueDelivery {
  seq: number;
  event_id: string;
  event: string;
  body: string;
  attempts: number;
  webhook: number;
  url: string;
  secret: string | null;
}

/** Deliveries by state: of one webhook, or of all. */
export interface DeliveryCounts {
  pending: number;
  failed: number;
  delivered: number;
}

export interface AuditRow {
  seq: number;
  at: string;
  event: string;
  data: string;
  prev_hash: string;
  hash: string;
}

// The rows as SQLite returns them, and their decoding.

type RawSummary = Omit<RoundSummaryRow, 'info'> & { info_json: string | null };
type RawCa = Omit<CaRow, 'approvers'> & { approvers: string };
type RawCertRound = Omit<CertRoundRow, 'prepared'> & { prepared_json: string };
type RawCeremony = Omit<FrostCeremonyRow, 'ceremony' | 'purpose' | 'group'> & {
  ceremony_json: string;
  purpose_json: string;
  group_json: string | null;
};
type RawRound1 = { participant: number; package_json: string; identity_json: string | null };
type RawRound2 = { sender: number; recipient: number; package_json: string };
type RawConfirm = { participant: number; confirm_json: string; transcript_json: string | null };

function summaryRow({ info_json, ...r }: RawSummary): RoundSummaryRow {
  return {
    ...r,
    info: decodeNullable(RoundInfoSchema, info_json, { table: 'round_summaries', row: r.id, column: 'info_json' }),
  };
}

function caRow(r: RawCa): CaRow {
  const approvers = decodeJson(z.array(z.string()), r.approvers, { table: 'cas', row: r.name, column: 'approvers' });
  return { ...r, approvers };
}

function certRoundRow({ prepared_json, ...r }: RawCertRound): CertRoundRow {
  return {
    ...r,
    prepared: decodeJson(PreparedSchema, prepared_json, { table: 'cert_rounds', row: r.id, column: 'prepared_json' }),
  };
}

function ceremonyRow({ ceremony_json, purpose_json, group_json, ...r }: RawCeremony): FrostCeremonyRow {
  const at = (column: string): Cell => ({ table: 'frost_ceremonies', row: r.id, column });
  return {
    ...r,
    ceremony: decodeJson(FrostCeremonySchema, ceremony_json, at('ceremony_json')),
    purpose: decodeJson(CeremonyPurposeSchema, purpose_json, at('purpose_json')),
    group: decodeNullable(FrostGroupSchema, group_json, at('group_json')),
  };
}

function round1Row(ceremony: string, { package_json, identity_json, ...r }: RawRound1): DkgRound1Row {
  const at = (column: string): Cell => ({ table: 'frost_dkg_round1', row: `${ceremony}/${r.participant}`, column });
  return {
    ...r,
    package: decodeJson(FrostDkgRound1Schema, package_json, at('package_json')),
    identity: decodeNullable(FrostSignedIdentitySchema, identity_json, at('identity_json')),
  };
}

function round2Row(ceremony: string, { package_json, ...r }: RawRound2): DkgRound2Row {
  const row = `${ceremony}/${r.sender}/${r.recipient}`;
  return {
    ...r,
    package: decodeJson(FrostDkgRound2Schema, package_json, { table: 'frost_dkg_round2', row, column: 'package_json' }),
  };
}

function confirmRow(ceremony: string, { confirm_json, transcript_json, ...r }: RawConfirm): DkgConfirmRow {
  const at = (column: string): Cell => ({ table: 'frost_dkg_confirms', row: `${ceremony}/${r.participant}`, column });
  return {
    ...r,
    confirm: decodeJson(FrostDkgConfirmSchema, confirm_json, at('confirm_json')),
    transcript: decodeNullable(FrostTranscriptSignatureSchema, transcript_json, at('transcript_json')),
  };
}

/** meta ota_server_targets: the `signed` targets body pulled from the OTA Connect reposerver at import. */
export const OTA_SERVER_TARGETS_META = 'ota_server_targets';

/** Mode 0600 (files made before this rule, or under a loose umask, are tightened). */
function ownerOnly(file: string): void {
  if ((fs.statSync(file).mode & 0o777) === 0o600) return;
  try {
    fs.chmodSync(file, 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') throw e; // someone else's file, opened to read
  }
}

export const GENESIS_HASH = '0'.repeat(64);

export function auditHash(prev: string, seq: number, at: string, event: string, data: string): string {
  return crypto.createHash('sha256').update(`${prev}\n${seq}\n${at}\n${event}\n${data}`).digest('hex');
}

export class Store {
  readonly db: Database.Database;

  constructor(file: string) {
    // The database holds the audit log, keyholders and every round: owner-only, like admin.token.
    // SQLite gives the -wal and -shm files the database file's mode when it creates them.
    fs.closeSync(fs.openSync(file, 'a', 0o600));
    ownerOnly(file);
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    for (const f of [`${file}-wal`, `${file}-shm`]) if (fs.existsSync(f)) ownerOnly(f);
    this.migrate();
  }

  private migrate(): void {
    const version = this.db.pragma('user_version', { simple: true }) as number;
    for (let v = version; v < MIGRATIONS.length; v++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[v]!);
        this.db.pragma(`user_version = ${v + 1}`);
      })();
    }
  }

  close(): void {
    this.db.close();
  }

  tx<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  // --- meta ---
  getMeta(key: string): string | undefined {
    return (this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined)?.value;
  }
  setMeta(key: string, value: string): void {
    this.db
      .prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value')
      .run(key, value);
  }
  /** A meta value that holds JSON, decoded with `schema` (STORE_CORRUPT when it does not); null when unset. */
  jsonMeta<T>(key: string, schema: z.ZodType<T>): T | null {
    const text = this.getMeta(key);
    return text === undefined ? null : decodeJson(schema, text, { table: 'meta', row: key, column: 'value' });
  }
  /** The targets body pulled from the OTA Connect reposerver at import (garage-sign targets pull), if any. */
  serverTargets(): SignedBody | null {
    return this.jsonMeta(OTA_SERVER_TARGETS_META, SignedBodySchema);
  }
  dialect(): Dialect {
    const d = this.getMeta('dialect');
    if (d !== 'ota' && d !== 'tuf') throw new Error('data dir is not initialised: run quorum init');
    return d;
  }

  // --- keyholders ---
  addKeyholder(k: Omit<KeyholderRow, 'removed_at'>): void {
    this.db
      .prepare(
        'INSERT INTO keyholders (name, spki, fingerprint, algorithm, enrolled_at) VALUES (@name, @spki, ' +
          '@fingerprint, @algorithm, @enrolled_at)',
      )
      .run(k);
  }
  keyholders(includeRemoved = false): KeyholderRow[] {
    return this.db
      .prepare(`SELECT * FROM keyholders ${includeRemoved ? '' : 'WHERE removed_at IS NULL'} ORDER BY name`)
      .all() as KeyholderRow[];
  }
  keyholderByFingerprint(fp: string): KeyholderRow | undefined {
    return this.db.prepare('SELECT * FROM keyholders WHERE fingerprint = ? AND removed_at IS NULL').get(fp) as
      KeyholderRow | undefined;
  }
  keyholderByName(name: string): KeyholderRow | undefined {
    return this.db.prepare('SELECT * FROM keyholders WHERE name = ?').get(name) as KeyholderRow | undefined;
  }
  removeKeyholder(name: string, at: string): boolean {
    return (
      this.db.prepare('UPDATE keyholders SET removed_at = ? WHERE name = ? AND removed_at IS NULL').run(at, name)
        .changes === 1
    );
  }

  // --- rounds ---
  insertRound(
    r: Omit<RoundRow, 'seq' | 'closed_at' | 'linked_round' | 'delegated' | 'bins_json'> & {
      linked_round?: string | null;
      delegated?: string | null;
      bins_json?: string | null;
    },
  ): void {
    this.db
      .prepare(
        `INSERT INTO rounds (id, role, version, base_root_version, signed_json, canonical, sha256, reason, deadline, state, created_at, linked_round, delegated, bins_json)
         VALUES (@id, @role, @version, @base_root_version, @signed_json, @canonical, @sha256, @reason, @deadline, @state, @created_at, @linked_round, @delegated, @bins_json)`,
      )
      .run({ linked_round: null, delegated: null, bins_json: null, ...r });
  }
  linkRounds(a: string, b: string): void {
    const set = this.db.prepare('UPDATE rounds SET linked_round = ? WHERE id = ?');
    set.run(b, a);
    set.run(a, b);
  }
  round(id: string): RoundRow | undefined {
    return this.db.prepare('SELECT * FROM rounds WHERE id = ?').get(id) as RoundRow | undefined;
  }
  rounds(state?: RoundState): RoundRow[] {
    return (
      state
        ? this.db.prepare('SELECT * FROM rounds WHERE state = ? ORDER BY seq').all(state)
        : this.db.prepare('SELECT * FROM rounds ORDER BY seq').all()
    ) as RoundRow[];
  }
  /** The open round of a role (of a delegated targets role when `delegated` names one). */
  openRound(role: RoundRole, delegated: string | null = null): RoundRow | undefined {
    return this.db
      .prepare("SELECT * FROM rounds WHERE role = ? AND delegated IS ? AND state = 'open'")
      .get(role, delegated) as RoundRow | undefined;
  }
  nextRoundSeq(): number {
    const row = this.db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'rounds'").get() as
      { seq: number } | undefined;
    return (row?.seq ?? 0) + 1;
  }
  setRoundState(id: string, from: RoundState, to: RoundState, at: string): boolean {
    return (
      this.db.prepare('UPDATE rounds SET state = ?, closed_at = ? WHERE id = ? AND state = ?').run(to, at, id, from)
        .changes === 1
    );
  }
  /** Another round of `role` whose bytes have this sha256 (index look-up: telling a replay from wrong bytes). */
  otherRoundWithSha256(role: RoundRole, sha256: string, notSeq: number): { id: string } | undefined {
    return this.db
      .prepare('SELECT id FROM rounds WHERE sha256 = ? AND role = ? AND seq != ? LIMIT 1')
      .get(sha256, role, notSeq) as { id: string } | undefined;
  }
  /** The round where this exact signature by this key was accepted before (index look-up). */
  roundSignedWith(sig: Buffer, fingerprint: string): { round_id: string } | undefined {
    return this.db
      .prepare('SELECT round_id FROM signatures WHERE sig = ? AND fingerprint = ? LIMIT 1')
      .get(sig, fingerprint) as { round_id: string } | undefined;
  }

  // --- round summaries (listings) ---
  /**
   * One page of rounds, newest first: at most `limit` rounds (of `state`, if given) opened before
   * round `before` (exclusive). Reads round_summaries only.
   */
  roundSummaries(opts: { state?: RoundState; before?: number; limit: number }): RoundSummaryRow[] {
    const where: string[] = [];
    const params: Record<string, unknown> = { limit: opts.limit };
    if (opts.state) {
      where.push('state = @state');
      params.state = opts.state;
    }
    if (opts.before !== undefined) {
      where.push('seq < @before');
      params.before = opts.before;
    }
    return this.db
      .prepare(
        `SELECT * FROM round_summaries ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC ` +
          'LIMIT @limit',
      )
      .all(params)
      .map((r) => summaryRow(r as RawSummary));
  }
  roundSummary(id: string): RoundSummaryRow | undefined {
    const r = this.db.prepare('SELECT * FROM round_summaries WHERE id = ?').get(id) as RawSummary | undefined;
    return r && summaryRow(r);
  }
  /** Freeze a closed round's public summary (ignored if the round is open again, which cannot happen). */
  setRoundSummaryInfo(seq: number, info: RoundInfo): void {
    this.db
      .prepare("UPDATE round_summaries SET info_json = ? WHERE seq = ? AND state != 'open'")
      .run(JSON.stringify(info), seq);
  }

  // --- signatures ---
  insertSignature(s: SignatureRow): void {
    this.db
      .prepare(
        'INSERT INTO signatures (round_id, fingerprint, keyholder, sig, received_at) VALUES (@round_id, ' +
          '@fingerprint, @keyholder, @sig, @received_at)',
      )
      .run(s);
  }
  signatures(roundId: string): SignatureRow[] {
    return this.db
      .prepare('SELECT * FROM signatures WHERE round_id = ? ORDER BY received_at, fingerprint')
      .all(roundId) as SignatureRow[];
  }
  signature(roundId: string, fingerprint: string): SignatureRow | undefined {
    return this.db
      .prepare('SELECT * FROM signatures WHERE round_id = ? AND fingerprint = ?')
      .get(roundId, fingerprint) as SignatureRow | undefined;
  }

  // --- releases ---
  insertRelease(
    roundId: string | null,
    role: string,
    version: number,
    at: string,
    files: Record<string, Buffer>,
  ): number {
    const seq = Number(
      this.db
        .prepare('INSERT INTO releases (round_id, role, version, released_at) VALUES (?, ?, ?, ?)')
        .run(roundId, role, version, at).lastInsertRowid,
    );
    const put = this.db.prepare('INSERT INTO release_files (release_seq, name, bytes) VALUES (?, ?, ?)');
    for (const [name, bytes] of Object.entries(files)) put.run(seq, name, bytes);
    return seq;
  }
  latestRelease(): ReleaseRow | undefined {
    return this.db.prepare('SELECT * FROM releases ORDER BY seq DESC LIMIT 1').get() as ReleaseRow | undefined;
  }
  latestReleaseSeq(): number | null {
    return (this.db.prepare('SELECT MAX(seq) AS seq FROM releases').get() as { seq: number | null }).seq;
  }
  releaseFiles(seq: number): Record<string, Buffer> {
    const rows = this.db.prepare('SELECT name, bytes FROM release_files WHERE release_seq = ?').all(seq) as {
      name: string;
      bytes: Buffer;
    }[];
    return Object.fromEntries(rows.map((r) => [r.name, r.bytes]));
  }
  /** The newest `limit` releases before release `before` (all when undefined), newest first. */
  releases(opts: { before?: number; limit: number }): {
    seq: number;
    role: string;
    version: number;
    released_at: string;
    round_id: string | null;
  }[] {
    return this.db
      .prepare('SELECT * FROM releases WHERE seq < ? ORDER BY seq DESC LIMIT ?')
      .all(opts.before ?? Number.MAX_SAFE_INTEGER, opts.limit) as never;
  }
  releaseByRound(roundId: string): { seq: number } | undefined {
    return this.db.prepare('SELECT seq FROM releases WHERE round_id = ?').get(roundId) as { seq: number } | undefined;
  }

  // --- certificate authorities and certificate rounds ---
  ca(name: string): CaRow | undefined {
    const r = this.db.prepare('SELECT * FROM cas WHERE name = ?').get(name) as RawCa | undefined;
    return r && caRow(r);
  }
  cas(): CaRow[] {
    return this.db
      .prepare('SELECT * FROM cas ORDER BY name')
      .all()
      .map((r) => caRow(r as RawCa));
  }
  insertCa(c: Omit<CaRow, 'frost_ceremony' | 'retired_from' | 'retired_at'>): void {
    this.db
      .prepare(
        `INSERT INTO cas (name, kind, holder, issuer_spki, issuer_fingerprint, algorithm, chain_pem, approvals_threshold, approvers, created_at)
         VALUES (@name, @kind, @holder, @issuer_spki, @issuer_fingerprint, @algorithm, @chain_pem, @approvals_threshold, @approvers, @created_at)`,
      )
      .run({ ...c, approvers: JSON.stringify(c.approvers) });
  }
  /** Forget a CA that never got a certificate (its only round was cancelled or expired). */
  deleteUnissuedCa(name: string): boolean {
    return this.db.prepare('DELETE FROM cas WHERE name = ? AND chain_pem IS NULL').run(name).changes === 1;
  }
  /**
   * Retire a CA that never got its certificate: rename it `retiredName` (recording the name it had)
   * and point its certificate rounds at the new name, so `name` is free and nothing is deleted.
   * Inside a transaction: the rounds' references to the CA are checked at its commit.
   */
  retireCa(name: string, retiredName: string, at: string): boolean {
    this.db.pragma('defer_foreign_keys = ON'); // reset by SQLite when the transaction ends
    const ok =
      this.db
        .prepare(
          'UPDATE cas SET name = ?, retired_from = name, retired_at = ? WHERE name = ? AND chain_pem IS NULL ' +
            'AND retired_at IS NULL',
        )
        .run(retiredName, at, name).changes === 1;
    if (!ok) return false;
    this.db.prepare('UPDATE cert_rounds SET ca = ? WHERE ca = ?').run(retiredName, name);
    this.db.prepare('UPDATE cert_rounds SET new_ca = ? WHERE new_ca = ?').run(retiredName, name);
    return true;
  }
  setCaChain(name: string, chainPem: string): void {
    this.db.prepare('UPDATE cas SET chain_pem = ? WHERE name = ? AND chain_pem IS NULL').run(chainPem, name);
  }
  insertCertRound(r: Omit<CertRoundRow, 'seq' | 'closed_at' | 'certificate_pem'>): void {
    const { prepared, ...row } = r;
    this.db
      .prepare(
        `INSERT INTO cert_rounds (id, ca, profile, prepared_json, tbs_sha256, reason, deadline, state, created_at, new_ca)
         VALUES (@id, @ca, @profile, @prepared_json, @tbs_sha256, @reason, @deadline, @state, @created_at, @new_ca)`,
      )
      .run({ ...row, prepared_json: JSON.stringify(prepared) });
  }
  nextCertRoundSeq(): number {
    const row = this.db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'cert_rounds'").get() as
      { seq: number } | undefined;
    return (row?.seq ?? 0) + 1;
  }
  certRound(id: string): CertRoundRow | undefined {
    const r = this.db.prepare('SELECT * FROM cert_rounds WHERE id = ?').get(id) as RawCertRound | undefined;
    return r && certRoundRow(r);
  }
  certRounds(state?: RoundState): CertRoundRow[] {
    return (
      state
        ? this.db.prepare('SELECT * FROM cert_rounds WHERE state = ? ORDER BY seq').all(state)
        : this.db.prepare('SELECT * FROM cert_rounds ORDER BY seq').all()
    ).map((r) => certRoundRow(r as RawCertRound));
  }
  /** One page of certificate rounds, newest first (as roundSummaries; their rows are small). */
  certRoundsPage(opts: { state?: RoundState; before?: number; limit: number }): CertRoundRow[] {
    const where: string[] = [];
    const params: Record<string, unknown> = { limit: opts.limit };
    if (opts.state) {
      where.push('state = @state');
      params.state = opts.state;
    }
    if (opts.before !== undefined) {
      where.push('seq < @before');
      params.before = opts.before;
    }
    return this.db
      .prepare(
        `SELECT * FROM cert_rounds ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC ` +
          'LIMIT @limit',
      )
      .all(params)
      .map((r) => certRoundRow(r as RawCertRound));
  }
  certRoundsOfCa(ca: string): CertRoundRow[] {
    return this.db
      .prepare('SELECT * FROM cert_rounds WHERE ca = ? OR new_ca = ? ORDER BY seq')
      .all(ca, ca)
      .map((r) => certRoundRow(r as RawCertRound));
  }
  setCertRoundState(
    id: string,
    from: RoundState,
    to: RoundState,
    at: string,
    certificatePem: string | null = null,
  ): boolean {
    return (
      this.db
        .prepare(
          'UPDATE cert_rounds SET state = ?, closed_at = ?, certificate_pem = COALESCE(?, certificate_pem) ' +
            'WHERE id = ? AND state = ?',
        )
        .run(to, at, certificatePem, id, from).changes === 1
    );
  }
  insertApproval(a: ApprovalRow): void {
    this.db
      .prepare(
        'INSERT INTO cert_approvals (round_id, keyholder, fingerprint, sig, received_at) VALUES (@round_id, ' +
          '@keyholder, @fingerprint, @sig, @received_at)',
      )
      .run(a);
  }
  approvals(roundId: string): ApprovalRow[] {
    return this.db
      .prepare('SELECT * FROM cert_approvals WHERE round_id = ? ORDER BY received_at, keyholder')
      .all(roundId) as ApprovalRow[];
  }

  // --- FROST identities and DKG ceremonies ---
  setFrostIdentity(keyholder: string, identityKey: string, at: string): void {
    this.db
      .prepare(
        'INSERT INTO frost_identities (keyholder, identity_key, recorded_at) VALUES (?, ?, ?) ON ' +
          'CONFLICT(keyholder) DO UPDATE SET identity_key = excluded.identity_key, recorded_at = ' +
          'excluded.recorded_at',
      )
      .run(keyholder, identityKey, at);
  }
  frostIdentity(keyholder: string): string | undefined {
    return (
      this.db.prepare('SELECT identity_key FROM frost_identities WHERE keyholder = ?').get(keyholder) as
        { identity_key: string } | undefined
    )?.identity_key;
  }
  insertFrostCeremony(r: Omit<FrostCeremonyRow, 'group' | 'failure' | 'closed_at' | 'transcript_digest'>): void {
    this.db
      .prepare(
        'INSERT INTO frost_ceremonies (id, ceremony_json, digest, purpose_json, state, created_at) VALUES ' +
          '(@id, @ceremony_json, @digest, @purpose_json, @state, @created_at)',
      )
      .run({
        id: r.id,
        ceremony_json: JSON.stringify(r.ceremony),
        digest: r.digest,
        purpose_json: JSON.stringify(r.purpose),
        state: r.state,
        created_at: r.created_at,
      });
  }
  frostCeremony(id: string): FrostCeremonyRow | undefined {
    const r = this.db.prepare('SELECT * FROM frost_ceremonies WHERE id = ?').get(id) as RawCeremony | undefined;
    return r && ceremonyRow(r);
  }
  frostCeremonies(): FrostCeremonyRow[] {
    return this.db
      .prepare('SELECT * FROM frost_ceremonies ORDER BY created_at, id')
      .all()
      .map((r) => ceremonyRow(r as RawCeremony));
  }
  /** Ids of the ceremonies whose group is agreed, oldest first. */
  doneCeremonyIds(): string[] {
    return (
      this.db
        .prepare(
          "SELECT id FROM frost_ceremonies WHERE state = 'done' AND group_json IS NOT NULL ORDER BY created_at, id",
        )
        .all() as { id: string }[]
    ).map((r) => r.id);
  }
  setFrostCeremonyState(
    id: string,
    from: FrostCeremonyState,
    to: FrostCeremonyState,
    extra: { group?: FrostGroup; failure?: string; closed_at?: string; transcript_digest?: string } = {},
  ): boolean {
    return (
      this.db
        .prepare(
          'UPDATE frost_ceremonies SET state = ?, group_json = COALESCE(?, group_json), failure = COALESCE(?, ' +
            'failure), closed_at = COALESCE(?, closed_at), transcript_digest = COALESCE(?, transcript_digest) ' +
            'WHERE id = ? AND state = ?',
        )
        .run(
          to,
          extra.group ? JSON.stringify(extra.group) : null,
          extra.failure ?? null,
          extra.closed_at ?? null,
          extra.transcript_digest ?? null,
          id,
          from,
        ).changes === 1
    );
  }
  insertDkgRound1(ceremony: string, participant: number, pkg: FrostDkgRound1, identity: FrostSignedIdentity): void {
    this.db
      .prepare('INSERT INTO frost_dkg_round1 (ceremony, participant, package_json, identity_json) VALUES (?, ?, ?, ?)')
      .run(ceremony, participant, JSON.stringify(pkg), JSON.stringify(identity));
  }
  /** Round-1 packages with their senders' identity statements, by participant. */
  dkgRound1(ceremony: string): DkgRound1Row[] {
    return this.db
      .prepare(
        'SELECT participant, package_json, identity_json FROM frost_dkg_round1 WHERE ceremony = ? ORDER BY participant',
      )
      .all(ceremony)
      .map((r) => round1Row(ceremony, r as RawRound1));
  }
  /** One participant's round-1 package, if it sent one. */
  dkgRound1Of(ceremony: string, participant: number): DkgRound1Row | undefined {
    const r = this.db
      .prepare(
        'SELECT participant, package_json, identity_json FROM frost_dkg_round1 WHERE ceremony = ? AND participant = ?',
      )
      .get(ceremony, participant) as RawRound1 | undefined;
    return r && round1Row(ceremony, r);
  }
  insertDkgRound2(ceremony: string, pkg: FrostDkgRound2): void {
    this.db
      .prepare('INSERT INTO frost_dkg_round2 (ceremony, sender, recipient, package_json) VALUES (?, ?, ?, ?)')
      .run(ceremony, pkg.from, pkg.to, JSON.stringify(pkg));
  }
  /** Round-2 packages (all, or those from `sender`, or those to `recipient`), by sender then recipient. */
  dkgRound2(ceremony: string, only: { sender?: number; recipient?: number } = {}): DkgRound2Row[] {
    return this.db
      .prepare(
        'SELECT sender, recipient, package_json FROM frost_dkg_round2 WHERE ceremony = @ceremony AND ' +
          '(@sender IS NULL OR sender = @sender) AND (@recipient IS NULL OR recipient = @recipient) ' +
          'ORDER BY sender, recipient',
      )
      .all({ ceremony, sender: only.sender ?? null, recipient: only.recipient ?? null })
      .map((r) => round2Row(ceremony, r as RawRound2));
  }
  insertDkgConfirm(
    ceremony: string,
    participant: number,
    confirm: FrostDkgConfirm,
    transcript: FrostTranscriptSignature,
  ): void {
    this.db
      .prepare(
        'INSERT INTO frost_dkg_confirms (ceremony, participant, confirm_json, transcript_json) VALUES (?, ?, ?, ?)',
      )
      .run(ceremony, participant, JSON.stringify(confirm), JSON.stringify(transcript));
  }
  /** Confirmations with their senders' transcript signatures, by participant. */
  dkgConfirms(ceremony: string): DkgConfirmRow[] {
    return this.db
      .prepare(
        'SELECT participant, confirm_json, transcript_json FROM frost_dkg_confirms WHERE ceremony = ? ORDER BY ' +
          'participant',
      )
      .all(ceremony)
      .map((r) => confirmRow(ceremony, r as RawConfirm));
  }
  /** Who has sent at a step of a ceremony (round 2: the senders), in order; reads no package. */
  dkgSenders(ceremony: string, step: 'round1' | 'round2' | 'confirm'): number[] {
    const sql = {
      round1: 'SELECT participant AS p FROM frost_dkg_round1 WHERE ceremony = ? ORDER BY p',
      round2: 'SELECT DISTINCT sender AS p FROM frost_dkg_round2 WHERE ceremony = ? ORDER BY p',
      confirm: 'SELECT participant AS p FROM frost_dkg_confirms WHERE ceremony = ? ORDER BY p',
    }[step];
    return (this.db.prepare(sql).all(ceremony) as { p: number }[]).map((r) => r.p);
  }
  setCaFrostCeremony(name: string, ceremony: string): void {
    this.db.prepare('UPDATE cas SET frost_ceremony = ? WHERE name = ?').run(ceremony, name);
  }

  // --- notifications: webhooks and their outbox (notify.ts) ---
  private webhookRow(r: Omit<WebhookRow, 'events'> & { events: string }): WebhookRow {
    const at = { table: 'webhooks', row: r.id, column: 'events' };
    return { ...r, events: decodeJson(z.array(z.string()), r.events, at) };
  }
  /** The webhooks not removed, oldest first. */
  webhooks(): WebhookRow[] {
    return (
      this.db.prepare('SELECT * FROM webhooks WHERE removed_at IS NULL ORDER BY id').all() as (Omit<
        WebhookRow,
        'events'
      > & { events: string })[]
    ).map((r) => this.webhookRow(r));
  }
  webhook(id: number): WebhookRow | undefined {
    const r = this.db.prepare('SELECT * FROM webhooks WHERE id = ? AND removed_at IS NULL').get(id) as
      (Omit<WebhookRow, 'events'> & { events: string }) | undefined;
    return r && this.webhookRow(r);
  }
  /** A new webhook; its id. */
  insertWebhook(w: {
    url: string;
    events: string[];
    format: 'json' | 'slack';
    secret: string | null;
    at: string;
  }): number {
    return Number(
      this.db
        .prepare('INSERT INTO webhooks (url, events, format, secret, created_at) VALUES (?, ?, ?, ?, ?)')
        .run(w.url, JSON.stringify(w.events), w.format, w.secret, w.at).lastInsertRowid,
    );
  }
  /** Remove webhook `id` and give up its pending deliveries; false when there is no such webhook. */
  removeWebhook(id: number, at: string): boolean {
    return this.tx(() => {
      const removed =
        this.db.prepare('UPDATE webhooks SET removed_at = ? WHERE id = ? AND removed_at IS NULL').run(at, id)
          .changes === 1;
      if (removed)
        this.db
          .prepare(
            "UPDATE outbox SET state = 'failed', last_error = 'webhook removed', done_at = ? WHERE webhook = ? AND state = 'pending'",
          )
          .run(at, id);
      return removed;
    });
  }
  /** Queue a delivery (once per event id and webhook: a second queueing is ignored). */
  queueDelivery(d: {
    eventId: string;
    webhook: number;
    event: string;
    body: string;
    at: string;
    nextAt: number;
  }): void {
    this.db
      .prepare(
        'INSERT OR IGNORE INTO outbox (event_id, webhook, event, body, created_at, next_at) VALUES (?, ?, ?, ?, ?, ?)',
      )
      .run(d.eventId, d.webhook, d.event, d.body, d.at, d.nextAt);
  }
  /** The pending deliveries due at `now` (ms), oldest first, at most `limit`. */
  dueDeliveries(now: number, limit: number): DueDelivery[] {
    return this.db
      .prepare(
        `SELECT o.seq, o.event_id, o.event, o.body, o.attempts, w.id AS webhook, w.url, w.secret FROM outbox o
         JOIN webhooks w ON w.id = o.webhook WHERE o.state = 'pending' AND o.next_at <= ? ORDER BY o.seq LIMIT ?`,
      )
      .all(now, limit) as DueDelivery[];
  }
  deliveryDone(seq: number, attempts: number, at: string): void {
    this.db
      .prepare("UPDATE outbox SET state = 'delivered', attempts = ?, done_at = ?, last_error = NULL WHERE seq = ?")
      .run(attempts, at, seq);
  }
  /** A failed attempt: retried at `nextAt` (ms), or given up (state failed). */
  deliveryFailed(
    seq: number,
    f: { attempts: number; nextAt: number; error: string; giveUp: boolean; at: string },
  ): void {
    this.db
      .prepare('UPDATE outbox SET attempts = ?, next_at = ?, last_error = ?, state = ?, done_at = ? WHERE seq = ?')
      .run(f.attempts, f.nextAt, f.error, f.giveUp ? 'failed' : 'pending', f.giveUp ? f.at : null, seq);
  }
  /** Deliveries by state, of webhook `webhook` or of all. */
  deliveryCounts(webhook?: number): DeliveryCounts {
    const rows = (
      webhook === undefined
        ? this.db.prepare('SELECT state, COUNT(*) AS n FROM outbox GROUP BY state').all()
        : this.db.prepare('SELECT state, COUNT(*) AS n FROM outbox WHERE webhook = ? GROUP BY state').all(webhook)
    ) as { state: string; n: number }[];
    const n = (s: string) => rows.find((c) => c.state === s)?.n ?? 0;
    return { pending: n('pending'), failed: n('failed'), delivered: n('delivered') };
  }
  /** The last error of a delivery not (yet) delivered, of webhook `webhook` or of all. */
  lastDeliveryError(webhook?: number): string | null {
    const sql =
      "SELECT last_error FROM outbox WHERE state != 'delivered' AND last_error IS NOT NULL" +
      (webhook === undefined ? '' : ' AND webhook = ?') +
      ' ORDER BY seq DESC LIMIT 1';
    const r = (webhook === undefined ? this.db.prepare(sql).get() : this.db.prepare(sql).get(webhook)) as
      { last_error: string } | undefined;
    return r?.last_error ?? null;
  }

  // --- audit ---
  /**
   * Called inside audit(), in the same transaction as the audit row: the outbox (notify.ts) queues
   * an event's notifications there, so they are committed exactly when the event is.
   */
  onAudit: ((event: string, data: Record<string, unknown>, seq: number, at: string) => void) | null = null;

  audit(event: string, data: Record<string, unknown>, at = new Date().toISOString()): void {
    this.db.transaction(() => {
      const last = this.db.prepare('SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1').get() as
        { seq: number; hash: string } | undefined;
      const seq = (last?.seq ?? 0) + 1;
      const prev = last?.hash ?? GENESIS_HASH;
      const json = JSON.stringify(data);
      this.db
        .prepare('INSERT INTO audit (seq, at, event, data, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?)')
        .run(seq, at, event, json, prev, auditHash(prev, seq, at, event, json));
      this.onAudit?.(event, data, seq, at);
    })();
  }
  auditRows(): AuditRow[] {
    return this.db.prepare('SELECT * FROM audit ORDER BY seq').all() as AuditRow[];
  }
  /** The newest `limit` audit rows before `before` (all when undefined), newest first; only round `round`'s if set. */
  auditPage(opts: { before?: number; limit: number; round?: string }): AuditRow[] {
    const before = opts.before ?? Number.MAX_SAFE_INTEGER;
    return (
      opts.round === undefined
        ? this.db.prepare('SELECT * FROM audit WHERE seq < ? ORDER BY seq DESC LIMIT ?').all(before, opts.limit)
        : this.db
            .prepare(
              "SELECT * FROM audit WHERE seq < ? AND json_extract(data, '$.round') = ? ORDER BY seq DESC LIMIT ?",
            )
            .all(before, opts.round, opts.limit)
    ) as AuditRow[];
  }
  /** The last audit row (its hash is the head of the chain), and how many there are. */
  auditHead(): { seq: number; hash: string } | undefined {
    return this.db.prepare('SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1').get() as never;
  }
}

/** Check the audit chain; returns the first broken row, or null when intact. */
export function verifyAuditChain(rows: AuditRow[]): { seq: number; problem: string } | null {
  let prev = GENESIS_HASH;
  let expectSeq = 1;
  for (const r of rows) {
    if (r.seq !== expectSeq)
      return { seq: r.seq, problem: `sequence jumps from ${expectSeq - 1} to ${r.seq} (rows removed)` };
    if (r.prev_hash !== prev) return { seq: r.seq, problem: 'prev_hash does not match the previous row' };
    if (auditHash(prev, r.seq, r.at, r.event, r.data) !== r.hash)
      return { seq: r.seq, problem: 'hash does not match the row content (row edited)' };
    prev = r.hash;
    expectSeq++;
  }
  return null;
}
