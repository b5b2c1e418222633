/**
 * A FROST participant's files: its X25519 identity key, its signing shares, and the nonces of
 * its outstanding commitments. Identity and shares are encrypted at rest like key files
 * (keystore.ts): AES-256-GCM under a scrypt-derived key, with the header (format, group,
 * identifier, the public group record, KDF parameters) authenticated, so nothing can be swapped.
 *
 * Nonces are where FROST breaks if handled carelessly: two shares made with one nonce pair over
 * different requests reveal the signing share. So each commitment's nonces are written (encrypted,
 * fsync'ed, directory fsync'ed) before the commitment is returned, and a share is released only
 * after a one-time guard file for that commitment has been created exclusively (O_EXCL) and made
 * durable, recording what the nonce answered. A second request with that commitment gets the same
 * share again if it is the identical request (a retransmission), and a refusal otherwise; a guard
 * file left half-written by a crash also refuses. The nonce file is removed after the guard.
 *
 * The other participants' signing keys, pinned by this keyholder (participants.json), are what
 * their DKG identity statements and transcript signatures are checked against, never the keys the
 * coordinator lists.
 *
 *   <dir>/identity.json
 *   <dir>/participants.json                               pinned signing keys of other participants
 *   <dir>/shares/<group key>.json
 *   <dir>/nonces/<group key>/<commitment id>.nonce.json   nonces, encrypted
 *   <dir>/nonces/<group key>/<commitment id>.used.json    the one-time guard
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { canonicalize } from '../protocol/canonical.js';
import {
  checkGroup,
  checkShare,
  checkSignRequest,
  commitmentId,
  frostCommit,
  frostSignShare,
  FrostError,
  identityKeyFrom,
  generateIdentityKey,
  signRequestDigest,
  type DkgSnapshot,
  type FrostCommitment,
  type FrostGroup,
  type FrostParty,
  type FrostShare,
  type FrostSignatureShare,
  type FrostSignRequest,
  type IdentityKey,
} from '../protocol/frost.js';
import { FrostGroupSchema } from '../protocol/frost-wire.js';
import { publicKeyFrom, sha256hex, type PublicKey } from '../protocol/keys.js';
import { SCRYPT_DEFAULT, SCRYPT_MIN_N, deriveKey, seal, unseal } from './keystore.js';

export const FROST_IDENTITY_FORMAT = 'uptane-quorum-frost-identity-v1';
export const FROST_SHARE_FORMAT = 'uptane-quorum-frost-share-v1';
export const FROST_DKG_STATE_FORMAT = 'uptane-quorum-frost-dkg-state-v1';
export const FROST_PINS_FORMAT = 'uptane-quorum-frost-participants-v1';
const NONCE_FORMAT = 'uptane-quorum-frost-nonce-v1';
const USED_FORMAT = 'uptane-quorum-frost-nonce-used-v1';

export type ScryptCost = { N: number; r: number; p: number };

const b64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/);
const hex = (n: number) => z.string().regex(new RegExp(`^[0-9a-f]{${n * 2}}$`));
const KdfSchema = z.strictObject({
  name: z.literal('scrypt'),
  N: z.number().int().min(SCRYPT_MIN_N),
  r: z.number().int().min(1).max(64),
  p: z.number().int().min(1).max(16),
  salt: b64,
});
const CipherSchema = z.strictObject({ name: z.literal('aes-256-gcm'), iv: b64, tag: b64 });

const IdentityFileSchema = z.strictObject({
  format: z.literal(FROST_IDENTITY_FORMAT),
  publicKey: hex(32),
  kdf: KdfSchema,
  cipher: CipherSchema,
  ciphertext: b64,
});
type IdentityFile = z.infer<typeof IdentityFileSchema>;

const ShareFileSchema = z.strictObject({
  format: z.literal(FROST_SHARE_FORMAT),
  groupPublicKey: hex(32),
  identifier: z.number().int().min(1),
  group: FrostGroupSchema,
  kdf: KdfSchema,
  cipher: CipherSchema,
  ciphertext: b64,
});
type ShareFile = z.infer<typeof ShareFileSchema>;

const DkgStateFileSchema = z.strictObject({
  format: z.literal(FROST_DKG_STATE_FORMAT),
  ceremony: z.string().max(64),
  identifier: z.number().int().min(1),
  kdf: KdfSchema,
  cipher: CipherSchema,
  ciphertext: b64,
});
type DkgStateFile = z.infer<typeof DkgStateFileSchema>;

const PinsFileSchema = z.strictObject({
  format: z.literal(FROST_PINS_FORMAT),
  participants: z
    .array(
      z.strictObject({
        name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/),
        fingerprint: hex(32),
        publicKey: z.string().max(16384),
      }),
    )
    .max(1000),
});
export type PinnedParticipant = z.infer<typeof PinsFileSchema>['participants'][number];

const NonceFileSchema = z.strictObject({
  format: z.literal(NONCE_FORMAT),
  commitmentId: hex(32),
  commitment: z.strictObject({ identifier: z.number().int(), hiding: hex(32), binding: hex(32) }),
  session: z.string().max(160), // a signing session name (SessionSchema)
  createdAt: z.string(),
  cipher: CipherSchema,
  ciphertext: b64,
});
type NonceFile = z.infer<typeof NonceFileSchema>;

const UsedFileSchema = z.strictObject({
  format: z.literal(USED_FORMAT),
  commitmentId: hex(32),
  outcome: z.enum(['signed', 'abandoned']),
  at: z.string(),
  session: z.string().max(160).optional(),
  requestDigest: hex(32).optional(),
  messageSha256: hex(32).optional(),
  share: hex(32).optional(),
});
export type NonceUse = z.infer<typeof UsedFileSchema>;

// --- durable files ------------------------------------------------------------------------------

function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Create `file` with `data`, failing with EEXIST if it exists; durable (file and directory) on return. */
function createDurable(file: string, data: string): void {
  const fd = fs.openSync(file, 'wx', 0o600);
  try {
    fs.writeSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fsyncDir(path.dirname(file));
}

/** Write a whole file atomically and never over an existing one: temp file, fsync, link, unlink. */
function publishDurable(file: string, data: string): void {
  const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
  createDurable(tmp, data);
  try {
    fs.linkSync(tmp, file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST')
      throw new FrostError('FROST_STORE_INVALID', `${file} exists; a share or identity is never overwritten`);
    throw e;
  } finally {
    fs.unlinkSync(tmp);
  }
  fsyncDir(path.dirname(file));
}

function readJson<T>(file: string, schema: z.ZodType<T>, what: string): T {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new FrostError('FROST_STORE_INVALID', `${file}: cannot read the ${what} (${(e as Error).message})`);
  }
  const r = schema.safeParse(raw);
  if (!r.success) throw new FrostError('FROST_STORE_INVALID', `${file}: not a valid ${what}: ${r.error.message}`);
  return r.data;
}

// --- encryption ---------------------------------------------------------------------------------

/** Separate keys for the share itself and for its nonces, from one scrypt run. */
function subkey(master: Buffer, purpose: string): Buffer {
  return Buffer.from(
    crypto.hkdfSync('sha256', master, Buffer.alloc(0), Buffer.from(`uptane-quorum/frost-store/${purpose}`), 32),
  );
}

function newKdf(cost: ScryptCost) {
  if (!(cost.N >= SCRYPT_MIN_N))
    throw new FrostError('FROST_STORE_INVALID', `scrypt cost N=${cost.N} is below the minimum ${SCRYPT_MIN_N}`);
  return { name: 'scrypt' as const, N: cost.N, r: cost.r, p: cost.p, salt: crypto.randomBytes(16).toString('base64') };
}

function checkPassphrase(passphrase: string): void {
  if (passphrase.length < 8) throw new FrostError('FROST_PASSPHRASE', 'choose a passphrase of at least 8 characters');
}

const identityAad = (f: Pick<IdentityFile, 'format' | 'publicKey' | 'kdf'>) =>
  Buffer.from(JSON.stringify([f.format, f.publicKey, f.kdf.N, f.kdf.r, f.kdf.p, f.kdf.salt]));
const groupDigest = (g: FrostGroup) => sha256hex(canonicalize(g, 'tuf'));
const shareAad = (f: Pick<ShareFile, 'format' | 'groupPublicKey' | 'identifier' | 'group' | 'kdf'>) =>
  Buffer.from(
    JSON.stringify([
      f.format,
      f.groupPublicKey,
      f.identifier,
      groupDigest(f.group),
      f.kdf.N,
      f.kdf.r,
      f.kdf.p,
      f.kdf.salt,
    ]),
  );
const dkgAad = (f: Pick<DkgStateFile, 'format' | 'ceremony' | 'identifier' | 'kdf'>) =>
  Buffer.from(JSON.stringify([f.format, f.ceremony, f.identifier, f.kdf.N, f.kdf.r, f.kdf.p, f.kdf.salt]));
const nonceAad = (
  groupKey: string,
  f: Pick<NonceFile, 'format' | 'commitmentId' | 'commitment' | 'session' | 'createdAt'>,
) =>
  Buffer.from(
    JSON.stringify([
      f.format,
      groupKey,
      f.commitmentId,
      f.commitment.identifier,
      f.commitment.hiding,
      f.commitment.binding,
      f.session,
      f.createdAt,
    ]),
  );

const GROUP_KEY = /^[0-9a-f]{64}$/;

// --- the store ----------------------------------------------------------------------------------

export class FrostStore {
  private constructor(readonly dir: string) {}

  /** Open (creating if needed, mode 0700) a participant's FROST folder. */
  static open(dir: string): FrostStore {
    for (const d of [dir, path.join(dir, 'shares'), path.join(dir, 'nonces')])
      fs.mkdirSync(d, { recursive: true, mode: 0o700 });
    return new FrostStore(dir);
  }

  get identityFile(): string {
    return path.join(this.dir, 'identity.json');
  }

  hasIdentity(): boolean {
    return fs.existsSync(this.identityFile);
  }

  /** Generate the long-term X25519 identity key; returns the public key to enrol (hex). */
  createIdentity(passphrase: string, cost: ScryptCost = SCRYPT_DEFAULT): string {
    checkPassphrase(passphrase);
    const id = generateIdentityKey();
    const header = { format: FROST_IDENTITY_FORMAT, publicKey: id.publicKey, kdf: newKdf(cost) } as const;
    const der = id.privateKey.export({ format: 'der', type: 'pkcs8' });
    const body = seal(subkey(deriveKey(passphrase, header.kdf), 'identity'), der, identityAad(header));
    publishDurable(this.identityFile, JSON.stringify({ ...header, ...body }, null, 2) + '\n');
    return id.publicKey;
  }

  /** The enrolled public key, without the passphrase. */
  identityPublicKey(): string {
    return readJson(this.identityFile, IdentityFileSchema, 'FROST identity file').publicKey;
  }

  unlockIdentity(passphrase: string): IdentityKey {
    const f = readJson(this.identityFile, IdentityFileSchema, 'FROST identity file');
    const der = unseal(subkey(deriveKey(passphrase, f.kdf), 'identity'), f, identityAad(f));
    if (!der)
      throw new FrostError('FROST_PASSPHRASE', `${this.identityFile}: wrong passphrase, or the file was modified`);
    const id = identityKeyFrom(crypto.createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }));
    if (id.publicKey !== f.publicKey)
      throw new FrostError(
        'FROST_STORE_INVALID',
        `${this.identityFile}: the private key does not match the public key beside it`,
      );
    return id;
  }

  get pinsFile(): string {
    return path.join(this.dir, 'participants.json');
  }

  /**
   * Pin other participants' signing keys (the keys they enrolled with, obtained from them, not
   * from the coordinator): added to those pinned already, a name given again is replaced. One key
   * under two names is refused. Returns the whole pinned list.
   */
  pinParticipants(list: { name: string; publicKey: string | Buffer }[]): {
    participants: PinnedParticipant[];
    replaced: string[];
  } {
    const current = new Map(this.pinned().map((p) => [p.name, p]));
    const replaced: string[] = [];
    for (const { name, publicKey } of list) {
      if (!/^[A-Za-z0-9._-]{1,64}$/.test(name))
        throw new FrostError(
          'FROST_PIN_INVALID',
          `participant name ${JSON.stringify(name)} must be 1-64 letters, digits, '.', '_' or '-' (the ` +
            'keyholder name the coordinator enrolled)',
        );
      const pk = publicKeyFrom(publicKey);
      const entry = {
        name,
        fingerprint: pk.fingerprint,
        publicKey: pk.keyObject.export({ type: 'spki', format: 'pem' }).toString(),
      };
      const old = current.get(name);
      if (old && old.fingerprint !== entry.fingerprint) replaced.push(name);
      current.set(name, entry);
    }
    const byFp = new Map<string, string>();
    for (const p of current.values()) {
      const other = byFp.get(p.fingerprint);
      if (other)
        throw new FrostError(
          'FROST_PIN_INVALID',
          `one key (${p.fingerprint.slice(0, 16)}…) would be pinned for both ${other} and ${p.name}; a ` +
            "participant's key is its own",
        );
      byFp.set(p.fingerprint, p.name);
    }
    const participants = [...current.values()].sort((a, b) => a.name.localeCompare(b.name));
    const tmp = `${this.pinsFile}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify({ format: FROST_PINS_FORMAT, participants }, null, 2) + '\n', { mode: 0o600 });
    fs.renameSync(tmp, this.pinsFile);
    fsyncDir(this.dir);
    return { participants, replaced };
  }

  /** The pinned participants (none if nothing was pinned). */
  pinned(): PinnedParticipant[] {
    return fs.existsSync(this.pinsFile)
      ? readJson(this.pinsFile, PinsFileSchema, 'pinned participants file').participants
      : [];
  }

  /** Each pinned participant's signing key, by name. */
  pinnedKeys(): Map<string, PublicKey> {
    return new Map(this.pinned().map((p) => [p.name, publicKeyFrom(p.publicKey)]));
  }

  shareFile(groupPublicKey: string): string {
    if (!GROUP_KEY.test(groupPublicKey))
      throw new FrostError('FROST_STORE_INVALID', `not a group key: ${groupPublicKey}`);
    return path.join(this.dir, 'shares', `${groupPublicKey}.json`);
  }

  /** Store a signing share from a finished DKG, encrypted; never overwrites. Returns the file. */
  saveShare(share: FrostShare, passphrase: string, cost: ScryptCost = SCRYPT_DEFAULT): string {
    checkPassphrase(passphrase);
    checkShare(share);
    const header = {
      format: FROST_SHARE_FORMAT,
      groupPublicKey: share.group.groupPublicKey,
      identifier: share.identifier,
      group: share.group,
      kdf: newKdf(cost),
    } as const;
    const body = seal(subkey(deriveKey(passphrase, header.kdf), 'share'), share.signingShare, shareAad(header));
    const file = this.shareFile(share.group.groupPublicKey);
    publishDurable(file, JSON.stringify({ ...header, ...body }, null, 2) + '\n');
    return file;
  }

  dkgStateFile(ceremony: string): string {
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(ceremony))
      throw new FrostError('FROST_STORE_INVALID', `not a ceremony id: ${ceremony}`);
    return path.join(this.dir, 'dkg', `${ceremony}.json`);
  }

  /**
   * Store a DKG in progress (its secret polynomial), encrypted and durable, before its round-1
   * package leaves; `frost join` resumes from it after a crash. Never overwrites: one round-1
   * package per participant and ceremony.
   */
  saveDkgState(snapshot: DkgSnapshot, passphrase: string, cost: ScryptCost = SCRYPT_DEFAULT): string {
    checkPassphrase(passphrase);
    const header = {
      format: FROST_DKG_STATE_FORMAT,
      ceremony: snapshot.ceremony.id,
      identifier: snapshot.self,
      kdf: newKdf(cost),
    } as const;
    const body = seal(
      subkey(deriveKey(passphrase, header.kdf), 'dkg'),
      Buffer.from(JSON.stringify(snapshot)),
      dkgAad(header),
    );
    const file = this.dkgStateFile(snapshot.ceremony.id);
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    publishDurable(file, JSON.stringify({ ...header, ...body }, null, 2) + '\n');
    return file;
  }

  hasDkgState(ceremony: string): boolean {
    return fs.existsSync(this.dkgStateFile(ceremony));
  }

  /** The stored snapshot (check it with dkgRestore). */
  loadDkgState(ceremony: string, passphrase: string): unknown {
    const file = this.dkgStateFile(ceremony);
    if (!fs.existsSync(file))
      throw new FrostError(
        'FROST_STORE_INVALID',
        `no stored DKG state for ceremony ${ceremony} in ${path.dirname(file)}`,
      );
    const f = readJson(file, DkgStateFileSchema, 'FROST DKG state file');
    if (f.ceremony !== ceremony)
      throw new FrostError('FROST_STORE_INVALID', `${file} holds the state of ceremony ${f.ceremony}`);
    const plain = unseal(subkey(deriveKey(passphrase, f.kdf), 'dkg'), f, dkgAad(f));
    if (!plain) throw new FrostError('FROST_PASSPHRASE', `${file}: wrong passphrase, or the file was modified`);
    return JSON.parse(plain.toString('utf8')) as unknown;
  }

  /** Delete a DKG state once the ceremony is over (done, or failed). */
  dropDkgState(ceremony: string): void {
    const file = this.dkgStateFile(ceremony);
    if (!fs.existsSync(file)) return;
    fs.rmSync(file);
    fsyncDir(path.dirname(file));
  }

  /** The groups this participant holds a share of (public records; no passphrase needed). */
  groups(): FrostGroup[] {
    const dir = path.join(this.dir, 'shares');
    return fs
      .readdirSync(dir)
      .filter((n) => /^[0-9a-f]{64}\.json$/.test(n))
      .map((n) => readJson(path.join(dir, n), ShareFileSchema, 'FROST share file').group);
  }

  /** Decrypt a share into this process and return the participant that signs with it. */
  unlockShare(groupPublicKey: string, passphrase: string): FrostKeyholder {
    const file = this.shareFile(groupPublicKey);
    const f = readJson(file, ShareFileSchema, 'FROST share file');
    if (f.groupPublicKey !== groupPublicKey || f.group.groupPublicKey !== groupPublicKey)
      throw new FrostError('FROST_STORE_INVALID', `${file} holds a share of another group`);
    const group = checkGroup(f.group);
    const master = deriveKey(passphrase, f.kdf);
    const signingShare = unseal(subkey(master, 'share'), f, shareAad(f));
    if (!signingShare) throw new FrostError('FROST_PASSPHRASE', `${file}: wrong passphrase, or the file was modified`);
    const share: FrostShare = { group, identifier: f.identifier, signingShare };
    checkShare(share);
    const nonceDir = path.join(this.dir, 'nonces', groupPublicKey);
    fs.mkdirSync(nonceDir, { recursive: true, mode: 0o700 });
    return new FrostKeyholder(share, subkey(master, `nonces/${groupPublicKey}/${f.identifier}`), nonceDir);
  }
}

/**
 * One unlocked share: makes commitments and signature shares, each nonce at most once. Methods
 * are synchronous inside (no await between check and guard), so one process cannot interleave
 * two uses; the O_EXCL guard file covers other processes.
 */
export class FrostKeyholder implements FrostParty {
  readonly identifier: number;
  readonly group: FrostGroup;

  constructor(
    private readonly share: FrostShare,
    private readonly nonceKey: Buffer,
    readonly nonceDir: string,
  ) {
    this.identifier = share.identifier;
    this.group = share.group;
  }

  private noncePath(id: string): string {
    return path.join(this.nonceDir, `${id}.nonce.json`);
  }

  private usedPath(id: string): string {
    return path.join(this.nonceDir, `${id}.used.json`);
  }

  /** Round 1: new nonces, durable on disk before the commitment is returned. */
  commitSync(session = ''): FrostCommitment {
    const { nonces, commitment } = frostCommit(this.share);
    const id = commitmentId(commitment);
    const header = {
      format: NONCE_FORMAT,
      commitmentId: id,
      commitment,
      session: session.slice(0, 64),
      createdAt: new Date().toISOString(),
    } as const;
    const body = seal(
      this.nonceKey,
      Buffer.concat([nonces.hiding, nonces.binding]),
      nonceAad(this.group.groupPublicKey, header),
    );
    nonces.hiding.fill(0);
    nonces.binding.fill(0);
    createDurable(this.noncePath(id), JSON.stringify({ ...header, ...body }) + '\n');
    return commitment;
  }

  async commit(session?: string): Promise<FrostCommitment> {
    return this.commitSync(session);
  }

  /** What a commitment's nonce was used for; null while unused. An unreadable guard counts as used. */
  nonceUse(id: string): NonceUse | null {
    const file = this.usedPath(id);
    if (!fs.existsSync(file)) return null;
    try {
      return UsedFileSchema.parse(JSON.parse(fs.readFileSync(file, 'utf8')));
    } catch {
      return {
        format: USED_FORMAT,
        commitmentId: id,
        outcome: 'abandoned',
        at: 'unknown (guard file unreadable, e.g. a crash while writing it)',
      };
    }
  }

  /** Commitments whose nonces are still unused. */
  pending(): string[] {
    return fs
      .readdirSync(this.nonceDir)
      .map((n) => /^([0-9a-f]{64})\.nonce\.json$/.exec(n)?.[1])
      .filter((id): id is string => !!id && !fs.existsSync(this.usedPath(id)));
  }

  /** The same share again for the identical request; a refusal for anything else. */
  private replay(use: NonceUse, digest: string, req: FrostSignRequest): FrostSignatureShare {
    if (use.outcome === 'signed' && use.requestDigest === digest && use.share)
      return { identifier: this.identifier, share: use.share };
    const what =
      use.outcome === 'signed'
        ? `already used in session ${use.session} for message sha256 ${use.messageSha256} at ${use.at}`
        : `discarded at ${use.at}`;
    throw new FrostError(
      'FROST_NONCE_USED',
      `refusing to sign session ${req.session}: the nonce of this commitment was ${what}; a nonce is used ` +
        'once; start a new attempt with fresh commitments',
    );
  }

  /** Round 2 with the one-time guard. */
  signSync(request: FrostSignRequest, message: Uint8Array): FrostSignatureShare {
    const req = checkSignRequest(this.group, request, message);
    const own = req.commitments.find((c) => c.identifier === this.identifier);
    if (!own)
      throw new FrostError(
        'FROST_COMMITMENT_MISMATCH',
        `the signing request has no commitment from participant ${this.identifier}`,
      );
    const id = commitmentId(own);
    const digest = signRequestDigest(req);
    const prior = this.nonceUse(id);
    if (prior) return this.replay(prior, digest, req);
    const file = this.noncePath(id);
    if (!fs.existsSync(file))
      throw new FrostError(
        'FROST_NONCE_UNKNOWN',
        `no stored nonce for commitment ${id.slice(0, 16)}: it was not made by this participant for group ` +
          `${this.group.ceremony}`,
      );
    const f = readJson(file, NonceFileSchema, 'FROST nonce file');
    if (f.commitmentId !== id || f.commitment.hiding !== own.hiding || f.commitment.binding !== own.binding)
      throw new FrostError('FROST_STORE_INVALID', `${file} holds another commitment`);
    const raw = unseal(this.nonceKey, f, nonceAad(this.group.groupPublicKey, f));
    if (!raw || raw.length !== 64)
      throw new FrostError('FROST_STORE_INVALID', `${file}: the nonce does not decrypt (modified, or another share's)`);
    const share = frostSignShare(this.share, { hiding: raw.subarray(0, 32), binding: raw.subarray(32) }, req, message);
    raw.fill(0);
    // The guard, durable before the share leaves this function.
    const use: NonceUse = {
      format: USED_FORMAT,
      commitmentId: id,
      outcome: 'signed',
      at: new Date().toISOString(),
      session: req.session,
      requestDigest: digest,
      messageSha256: req.messageSha256,
      share: share.share,
    };
    try {
      createDurable(this.usedPath(id), JSON.stringify(use) + '\n');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      return this.replay(this.nonceUse(id)!, digest, req); // another process got there first
    }
    this.erase(id);
    return share;
  }

  async sign(request: FrostSignRequest, message: Buffer): Promise<FrostSignatureShare> {
    return this.signSync(request, message);
  }

  /** Burn a commitment's nonce without signing (its attempt was abandoned). */
  abandonSync(commitment: FrostCommitment): void {
    const id = commitmentId(commitment);
    if (commitment.identifier !== this.identifier || !fs.existsSync(this.noncePath(id))) return;
    try {
      createDurable(
        this.usedPath(id),
        JSON.stringify({
          format: USED_FORMAT,
          commitmentId: id,
          outcome: 'abandoned',
          at: new Date().toISOString(),
        } satisfies NonceUse) + '\n',
      );
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    this.erase(id);
  }

  async abandon(commitment: FrostCommitment): Promise<void> {
    this.abandonSync(commitment);
  }

  private erase(id: string): void {
    try {
      fs.unlinkSync(this.noncePath(id));
      fsyncDir(this.nonceDir);
    } catch (e) {
      // The guard already refuses the nonce; a left-over file is harmless.
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
}
