/**
 * OTA Connect interoperability: reading a garage-sign repository (folder or credentials.zip) for
 * `quorum init --import-garage-sign`, and writing released metadata in exactly the form the
 * ota-tuf reposerver accepts on upload (`quorum export ota-tuf`).
 *
 * Import reads only what it names: the signed `roles/root.json` / `roles/targets.json` (or a
 * credentials.zip's `root.json`), `roles/unsigned/*.json`, the public halves of key files
 * (`*.pub`) and `tufrepo.url`. Private keys (`*.sec`), `treehub.json`, `config.json`, TLS
 * credentials and everything else are listed by name at most, never opened: a zip's other entries
 * are not even decompressed.
 *
 * Export checks each file against ota-tuf's own models (libtuf `ClientDataType`/`ClientCodecs`/
 * `TufCodecs`): the keyserver decodes an uploaded root into `RootRole`, re-encodes it, and accepts
 * it only when the canonical bytes are equal ("an incompatible encoder was used to encode
 * root.json"); the reposerver decodes offline-signed targets into `TargetsRole` and each new
 * target's `custom` into `TargetCustom`. Anything those models would drop, rewrite or reject is
 * refused here, before anyone uploads it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { unzipSync } from 'fflate';
import { canonicalize } from '../protocol/canonical.js';
import { QuorumError, type Codes } from '../protocol/errors.js';
import { checkDir, jsonOf, readFile } from '../protocol/files.js';
import { LIMITS } from '../protocol/limits.js';
import {
  decodeSig,
  otaUsable,
  parseGarageSignPublic,
  parseMetadataKey,
  sha256hex,
  type MetadataKey,
  type PublicKey,
} from '../protocol/keys.js';
import {
  deletedKeyLine,
  OTA_PSS_SALT,
  otaSaltProblem,
  otaTargetsProblems,
  serverKeysDeleted,
  type OtaTargetCode,
} from '../protocol/ota-server.js';
import { EXPIRES_RE, formatExpires, type RootSigned } from '../protocol/metadata/schemas.js';
import {
  parseMetadata,
  verifyRepository,
  type FileInput,
  type Metadata,
  type RepositoryInput,
} from '../protocol/verify.js';
import { DATA_FILES } from './data-files.js';
import { Store } from './store.js';
import { delegatedFiles } from './delegated.js';
import { delegatedFileName, readDelegations } from '../protocol/delegations.js';

// --- reading a garage-sign repository --------------------------------------------------------

/** Largest file read from an import: metadata up to aktualizr's image-targets limit, with room. */
const MAX_METADATA = 2 * LIMITS.otaImageTargetsBytes;
const MAX_KEY_FILE = 1 << 20;
const MAX_URL_FILE = 4096;
const MAX_ZIP = 256 * 1024 * 1024;

export interface GarageSignKey {
  /** Path inside the import, e.g. `keys/targets.pub` or `targets.pub`. */
  name: string;
  pk: PublicKey;
  /** The key id ota-tuf computes: sha256 of the DER SubjectPublicKeyInfo. */
  keyId: string;
}

export interface GarageSignSource {
  kind: 'folder' | 'zip';
  path: string;
  /** The signed metadata: `roles/root.json` (folder) or `root.json` (credentials.zip). */
  root?: FileInput;
  /** The signed `roles/targets.json`, when garage-sign signed targets locally. */
  targets?: FileInput;
  /** `roles/unsigned/root.json` and `roles/unsigned/targets.json` (targets pull writes the latter). */
  unsignedRoot?: FileInput;
  unsignedTargets?: FileInput;
  publicKeys: GarageSignKey[];
  /** Names of private key files (`*.sec`) present, as stored; never read. */
  privateKeyFiles: string[];
  tufrepoUrl?: string;
  /** tufrepo.url carried user:password@, which was dropped. */
  tufrepoUserinfoDropped?: boolean;
  /** Other entries present and deliberately left unread (treehub.json, config.json, *.p12, ...). */
  notRead: string[];
}

/** A folder or a zip seen as a list of relative names and a way to read the few we want. */
interface Entries {
  names: string[];
  read(name: string, max: number): Buffer;
  /** The name as stored (a zip entry may sit under one common top folder). */
  stored(name: string): string;
}

function gsError(message: string): QuorumError {
  return new QuorumError('USAGE', message);
}

function folderEntries(dir: string): Entries {
  const names: string[] = [];
  // Only the places garage-sign and credentials.zip use: no recursive walk of the user's disk.
  for (const sub of ['', 'roles', 'roles/unsigned', 'keys']) {
    const d = path.join(dir, sub);
    let list: fs.Dirent[];
    try {
      list = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of list) {
      const rel = sub ? `${sub}/${e.name}` : e.name;
      if (e.isFile()) names.push(rel);
      else if (e.isDirectory() && sub === '' && !['roles', 'keys'].includes(e.name)) names.push(`${rel}/`);
      else if (e.isDirectory() && sub === 'roles' && e.name !== 'unsigned') names.push(`${rel}/`);
    }
  }
  return {
    names,
    read(name, max) {
      const file = path.join(dir, name);
      const st = fs.lstatSync(file);
      if (!st.isFile()) throw gsError(`${file} is not a regular file`);
      if (st.size > max)
        throw gsError(`${file} is ${st.size} bytes, more than the ${max} bytes a ${path.basename(name)} can be`);
      return fs.readFileSync(file);
    },
    stored: (name) => name,
  };
}

function zipEntries(file: string, wanted: (name: string) => boolean): Entries {
  const st = fs.statSync(file);
  if (st.size > MAX_ZIP) throw gsError(`${file} is ${st.size} bytes; a credentials.zip is far smaller`);
  const raw = new Uint8Array(fs.readFileSync(file));
  // First pass: names only (fflate's filter sees every entry's name and sizes; nothing is inflated).
  const all: string[] = [];
  try {
    unzipSync(raw, { filter: (f) => (all.push(f.name), false) });
  } catch (e) {
    throw gsError(`${file} is not a readable zip file: ${(e as Error).message}`);
  }
  // Some people zip the folder the credentials were unpacked in: drop one common top folder.
  const first = all[0]?.split('/')[0];
  const prefix = first && all.length > 0 && all.every((n) => n.startsWith(`${first}/`)) ? `${first}/` : '';
  const strip = (n: string) => (prefix && n.startsWith(prefix) ? n.slice(prefix.length) : n);
  // Second pass: inflate only the entries import may read.
  let data: Record<string, Uint8Array>;
  try {
    data = unzipSync(raw, { filter: (f) => wanted(strip(f.name)) && f.originalSize <= MAX_METADATA });
  } catch (e) {
    throw gsError(`${file} is not a readable zip file: ${(e as Error).message}`);
  }
  const names = all.map(strip).filter((n) => n && !n.endsWith('/'));
  const byName = new Map(Object.entries(data).map(([n, b]) => [strip(n), b]));
  return {
    names,
    read(name, max) {
      const b = byName.get(name);
      if (!b)
        throw gsError(`${file}: ${name} could not be read (entries larger than ${MAX_METADATA} bytes are not read)`);
      if (b.length > max) throw gsError(`${file}: ${name} is ${b.length} bytes, more than the ${max} bytes it can be`);
      return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
    },
    stored: (name) => prefix + name,
  };
}

const UNSIGNED = /^roles\/unsigned\/(root|targets)\.json$/;

/** The names import may open: nothing else is ever read. */
export function importable(name: string): boolean {
  return (
    name === 'root.json' ||
    name === 'roles/root.json' ||
    name === 'roles/targets.json' ||
    UNSIGNED.test(name) ||
    name === 'tufrepo.url' ||
    (/^(keys\/)?[^/]+\.pub$/.test(name) && !name.startsWith('.'))
  );
}

function isZip(p: string): boolean {
  try {
    const fd = fs.openSync(p, 'r');
    const b = Buffer.alloc(4);
    fs.readSync(fd, b, 0, 4, 0);
    fs.closeSync(fd);
    return b.readUInt32LE(0) === 0x04034b50 || b.readUInt32LE(0) === 0x06054b50;
  } catch {
    return false;
  }
}

/** Parse a tufrepo.url: an http(s) URL; credentials embedded in it are dropped, never stored. */
export function parseTufrepoUrl(text: string, where: string): { url: string; droppedUserinfo: boolean } {
  const s = text.trim();
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw gsError(`${where}: ${JSON.stringify(s.slice(0, 80))} is not a URL`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:')
    throw gsError(`${where}: ${u.protocol} URLs are not a reposerver; expected https://`);
  const droppedUserinfo = !!(u.username || u.password);
  u.username = '';
  u.password = '';
  return { url: u.toString(), droppedUserinfo };
}

/** Read a garage-sign repository folder (`tuf/<repo>`), an unpacked credentials.zip, or the zip itself. */
export function readGarageSign(p: string): GarageSignSource {
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch {
    throw new QuorumError('FILE_MISSING', `${p}: no such garage-sign repository folder or credentials.zip`);
  }
  const kind: GarageSignSource['kind'] = st.isDirectory() ? 'folder' : 'zip';
  if (kind === 'zip' && !isZip(p)) throw gsError(`${p} is neither a folder nor a zip file`);
  const entries = kind === 'folder' ? folderEntries(p) : zipEntries(p, importable);
  const has = (n: string) => entries.names.includes(n);
  const input = (n: string, label = n): FileInput => ({ name: label, bytes: entries.read(n, MAX_METADATA) });
  const src: GarageSignSource = { kind, path: p, publicKeys: [], privateKeyFiles: [], notRead: [] };
  if (has('roles/root.json')) src.root = input('roles/root.json');
  else if (has('root.json')) src.root = input('root.json');
  if (has('roles/targets.json')) src.targets = input('roles/targets.json');
  if (has('roles/unsigned/root.json')) src.unsignedRoot = input('roles/unsigned/root.json');
  if (has('roles/unsigned/targets.json')) src.unsignedTargets = input('roles/unsigned/targets.json');
  if (has('tufrepo.url')) {
    const r = parseTufrepoUrl(entries.read('tufrepo.url', MAX_URL_FILE).toString('utf8'), `${p}: tufrepo.url`);
    src.tufrepoUrl = r.url;
    if (r.droppedUserinfo) src.tufrepoUserinfoDropped = true;
  }
  for (const n of entries.names) {
    if (/\.pub$/.test(n) && importable(n)) {
      let json: unknown;
      try {
        json = JSON.parse(entries.read(n, MAX_KEY_FILE).toString('utf8'));
      } catch (e) {
        if (e instanceof QuorumError) throw e;
        throw gsError(`${p}: ${n} is not a garage-sign public key file (not JSON)`);
      }
      let pk: PublicKey;
      try {
        pk = parseGarageSignPublic(json);
      } catch (e) {
        throw gsError(`${p}: ${n}: ${(e as Error).message}`);
      }
      src.publicKeys.push({ name: n, pk, keyId: pk.fingerprint });
    } else if (/\.sec$/.test(n)) {
      src.privateKeyFiles.push(entries.stored(n));
    } else if (!importable(n)) {
      src.notRead.push(n);
    }
  }
  if (!src.root) {
    throw new QuorumError(
      'FILE_MISSING',
      `${p}: no roles/root.json (garage-sign repository) or root.json (credentials.zip); run garage-sign root ` +
        'pull first',
    );
  }
  src.publicKeys.sort((a, b) => a.name.localeCompare(b.name));
  src.privateKeyFiles.sort();
  src.notRead.sort();
  return src;
}

/** The repository to verify and import: the signed root as anchor (trust on first use) and targets. */
export function garageSignInput(src: GarageSignSource): RepositoryInput {
  const root = src.root!;
  let version = 1;
  try {
    version = (JSON.parse(root.bytes.toString('utf8')) as { signed: { version: number } }).signed.version;
  } catch {
    // reported by verification
  }
  const roots = new Map<number, FileInput>();
  if (Number.isInteger(version) && version >= 1) roots.set(version, root);
  return { trustedRoot: root, tofu: true, roots, root, targets: src.targets };
}

export interface KeyReport {
  name: string;
  algorithm: string;
  keyId: string;
  /** Roles of the imported root that list this key. */
  roles: string[];
}

/** Which roles of `root` list each public key found (matched by key material, not by id). */
export function keyRoles(src: GarageSignSource, root: RootSigned): KeyReport[] {
  return src.publicKeys.map((k) => {
    const roles: string[] = [];
    for (const [role, r] of Object.entries(root.roles)) {
      for (const id of r.keyids) {
        const mk = root.keys[id];
        if (!mk) continue;
        try {
          if (parseMetadataKey(mk as MetadataKey).fingerprint === k.pk.fingerprint && !roles.includes(role))
            roles.push(role);
        } catch {
          // an unusable key in root is reported by verification
        }
      }
    }
    return { name: k.name, algorithm: k.pk.algorithm, keyId: k.keyId, roles };
  });
}

export interface UnsignedReport {
  file: string;
  role: 'root' | 'targets';
  version: number | null;
  targets?: number;
  /** For root: whether it differs from the signed root's body (pending, unsigned changes). */
  differs?: boolean;
  problem?: string;
}

/** What `roles/unsigned/*.json` hold, compared with the signed metadata. */
export function unsignedReports(src: GarageSignSource, signedRoot?: RootSigned): UnsignedReport[] {
  const out: UnsignedReport[] = [];
  for (const [role, f] of [
    ['root', src.unsignedRoot],
    ['targets', src.unsignedTargets],
  ] as const) {
    if (!f) continue;
    try {
      const body = JSON.parse(f.bytes.toString('utf8')) as Record<string, unknown>;
      const version = Number.isInteger(body.version) ? (body.version as number) : null;
      const r: UnsignedReport = { file: f.name, role, version };
      if (role === 'targets')
        r.targets = body.targets && typeof body.targets === 'object' ? Object.keys(body.targets).length : 0;
      if (role === 'root' && signedRoot) r.differs = !canonicalize(body, 'ota').equals(canonicalize(signedRoot, 'ota'));
      out.push(r);
    } catch (e) {
      out.push({ file: f.name, role, version: null, problem: (e as Error).message });
    }
  }
  return out;
}

/** Meta keys the coordinator keeps about an OTA Connect import (not secrets). */
export const OTA_META = {
  tufrepoUrl: 'tufrepo_url',
  importSource: 'import_source',
  importRootVersion: 'ota_import_root_version',
  /** The highest targets version the reposerver is known to hold; it accepts only the next one. */
  serverTargetsVersion: 'ota_server_targets_version',
} as const;

// --- ota-tuf's models ------------------------------------------------------------------------

export type OtaExportCode = Codes<
  | 'OTA_EXPORT_DIALECT'
  | 'OTA_EXPORT_NOTHING'
  | 'OTA_EXPORT_JSON'
  | 'OTA_EXPORT_UNKNOWN_FIELD'
  | 'OTA_EXPORT_MISSING_FIELD'
  | 'OTA_EXPORT_FIELD'
  | 'OTA_EXPORT_NON_ASCII'
  | 'OTA_EXPORT_KEY_UNSUPPORTED'
  | 'OTA_EXPORT_KEY_ID'
  | 'OTA_EXPORT_SIGNATURE'
  | 'OTA_EXPORT_REENCODE'
  | 'OTA_EXPORT_TARGET'
  | 'OTA_EXPORT_TARGETS_VERSION'
  | 'OTA_EXPORT_ONLINE_ROLES'
  | 'OTA_EXPORT_UNVERIFIED'
  | 'OTA_EXPORT_PSS_SALT' // an RSA-PSS signature with a salt length other than 32
  | 'OTA_EXPORT_SERVER_TARGETS' // the server holds other targets than the release was built on
  | 'OTA_EXPORT_DELEGATION' // a delegated role the reposerver cannot take (nested, or a name over 50 characters)
  | OtaTargetCode
>;

export interface OtaProblem {
  code: OtaExportCode;
  file: string;
  /** Where in the file, e.g. `signed.keys.<id>.keytype`. */
  at: string;
  message: string;
}

export class OtaExportError extends QuorumError<OtaExportCode> {}

const HEX64 = /^[0-9a-f]{64}$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;
const INT32_MAX = 2 ** 31 - 1;
/** RoleType in libtuf `TufDataType`, as root's `roles` keys (lowercase). */
const ROLE_TYPES = new Set([
  'root',
  'targets',
  'snapshot',
  'timestamp',
  'offline-updates',
  'offline-snapshot',
  'remote-sessions',
]);
/** Fields of each model, as circe derives them. */
export const OTA_TUF_FIELDS = {
  envelope: ['signatures', 'signed'],
  signature: ['keyid', 'method', 'sig'],
  root: ['_type', 'consistent_snapshot', 'expires', 'keys', 'roles', 'version'],
  key: ['keytype', 'keyval'],
  keyval: ['public'],
  roleKeys: ['keyids', 'threshold'],
  targets: ['_type', 'custom', 'delegations', 'expires', 'targets', 'version'],
  targetItem: ['custom', 'hashes', 'length'],
  /** TargetCustom's named fields; any other key is kept as `proprietary`. */
  targetCustom: ['cliUploaded', 'createdAt', 'hardwareIds', 'name', 'targetFormat', 'updatedAt', 'uri', 'version'],
} as const;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

class Checker {
  readonly problems: OtaProblem[] = [];
  constructor(readonly file: string) {}
  add(code: OtaExportCode, at: string, message: string): void {
    this.problems.push({ code, file: this.file, at, message });
  }
  /** Exactly the model's fields: unknown ones are dropped by ota-tuf (root: rejected). */
  fields(o: Obj, at: string, known: readonly string[], required: readonly string[]): void {
    for (const k of Object.keys(o))
      if (!known.includes(k))
        this.add(
          'OTA_EXPORT_UNKNOWN_FIELD',
          `${at}.${k}`,
          `ota-tuf's model has no field ${JSON.stringify(k)} here (it knows ${known.join(', ')}); remove it`,
        );
    for (const k of required)
      if (!(k in o)) this.add('OTA_EXPORT_MISSING_FIELD', `${at}.${k}`, `ota-tuf requires ${JSON.stringify(k)} here`);
  }
  int(v: unknown, at: string, min: number, max: number): boolean {
    if (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max) return true;
    this.add('OTA_EXPORT_FIELD', at, `must be an integer between ${min} and ${max}, is ${JSON.stringify(v)}`);
    return false;
  }
}

/**
 * Every string (keys and values) must be printable ASCII, or a newline (PEM keys): every JSON
 * writer escapes `\n` alike, but ota-tuf (circe), aktualizr and JavaScript escape other control
 * characters, DEL and non-ASCII text differently, so signatures would verify on some clients only.
 */
function asciiCheck(c: Checker, v: unknown, at: string): void {
  const bad = (s: string) => /[^\x20-\x7e\n]/.test(s);
  if (typeof v === 'string') {
    if (bad(v))
      c.add(
        'OTA_EXPORT_NON_ASCII',
        at,
        `${JSON.stringify(v.slice(0, 40))} is not printable ASCII; aktualizr and ota-tuf escape such text ` +
          'differently and compute other signed bytes',
      );
  } else if (Array.isArray(v)) v.forEach((x, i) => asciiCheck(c, x, `${at}[${i}]`));
  else if (isObj(v)) {
    for (const [k, x] of Object.entries(v)) {
      if (bad(k)) c.add('OTA_EXPORT_NON_ASCII', `${at}.${JSON.stringify(k)}`, 'a key that is not printable ASCII');
      asciiCheck(c, x, `${at}.${k}`);
    }
  }
}

/**
 * `expires`: ota-tuf decodes an Instant and re-encodes it as Instant.toString (whole seconds: YYYY-MM-DDTHH:MM:SSZ).
 */
function instantOf(c: Checker, v: unknown, at: string): string | null {
  if (typeof v !== 'string' || !EXPIRES_RE.test(v) || Number.isNaN(Date.parse(v)) || formatExpires(new Date(v)) !== v) {
    c.add(
      'OTA_EXPORT_FIELD',
      at,
      `must be a real time written YYYY-MM-DDTHH:MM:SSZ (as Instant.toString writes it), is ${JSON.stringify(v)}`,
    );
    return null;
  }
  return v;
}

/**
 * The public key text ota-tuf writes: BouncyCastle PEM (64-character lines, trailing newline) for RSA, lowercase hex
 * for Ed25519.
 */
export function otaTufPublic(pk: PublicKey): { keytype: 'RSA' | 'ED25519'; public: string } {
  if (pk.algorithm === 'ed25519') return { keytype: 'ED25519', public: pk.spki.subarray(12).toString('hex') };
  if (pk.algorithm === 'rsa-pss-sha256')
    return { keytype: 'RSA', public: pk.keyObject.export({ type: 'spki', format: 'pem' }).toString() };
  throw new OtaExportError(
    'OTA_EXPORT_KEY_UNSUPPORTED',
    'ECDSA keys cannot be used with OTA Connect: aktualizr rejects the whole root',
  );
}

function checkEnvelope(c: Checker, doc: unknown): Obj | null {
  if (!isObj(doc)) {
    c.add('OTA_EXPORT_JSON', '(top level)', 'not a JSON object');
    return null;
  }
  c.fields(doc, '(top level)', OTA_TUF_FIELDS.envelope, OTA_TUF_FIELDS.envelope);
  const sigs = doc.signatures;
  if (!Array.isArray(sigs)) c.add('OTA_EXPORT_FIELD', 'signatures', 'must be an array');
  else {
    const seen = new Set<string>();
    sigs.forEach((s, i) => {
      const at = `signatures[${i}]`;
      if (!isObj(s)) return c.add('OTA_EXPORT_SIGNATURE', at, 'must be an object');
      c.fields(s, at, OTA_TUF_FIELDS.signature, OTA_TUF_FIELDS.signature);
      if (typeof s.keyid !== 'string' || !HEX64.test(s.keyid))
        c.add('OTA_EXPORT_SIGNATURE', `${at}.keyid`, 'must be 64 lowercase hex characters (ota-tuf KeyId)');
      else if (seen.has(s.keyid))
        c.add(
          'OTA_EXPORT_SIGNATURE',
          `${at}.keyid`,
          'a second signature by the same key; aktualizr rejects the whole file',
        );
      else seen.add(s.keyid);
      if (s.method !== 'ed25519' && s.method !== 'rsassa-pss-sha256')
        c.add(
          'OTA_EXPORT_SIGNATURE',
          `${at}.method`,
          `must be "ed25519" or "rsassa-pss-sha256", is ${JSON.stringify(s.method)}`,
        );
      if (typeof s.sig !== 'string' || !BASE64.test(s.sig) || s.sig.length % 4 !== 0)
        c.add('OTA_EXPORT_SIGNATURE', `${at}.sig`, 'must be base64');
    });
  }
  if (!isObj(doc.signed)) {
    c.add('OTA_EXPORT_FIELD', 'signed', 'must be an object');
    return null;
  }
  return doc.signed;
}

/** The key map ota-tuf would re-encode, with each key id checked against sha256(DER SPKI). */
function reencodeKeys(c: Checker, keys: unknown, at: string): Obj | null {
  if (!isObj(keys)) {
    c.add('OTA_EXPORT_FIELD', at, 'must be an object of key id to key');
    return null;
  }
  const out: Obj = {};
  for (const [id, k] of Object.entries(keys)) {
    const kat = `${at}.${id}`;
    if (!HEX64.test(id))
      c.add('OTA_EXPORT_KEY_ID', kat, 'a key id must be 64 lowercase hex characters (ota-tuf KeyId)');
    if (!isObj(k)) {
      c.add('OTA_EXPORT_FIELD', kat, 'must be a key object');
      continue;
    }
    c.fields(k, kat, OTA_TUF_FIELDS.key, OTA_TUF_FIELDS.key);
    if (isObj(k.keyval)) c.fields(k.keyval, `${kat}.keyval`, OTA_TUF_FIELDS.keyval, OTA_TUF_FIELDS.keyval);
    if (k.keytype === 'ECPRIME256V1' || String(k.keytype).toLowerCase().startsWith('ecdsa')) {
      c.add(
        'OTA_EXPORT_KEY_UNSUPPORTED',
        `${kat}.keytype`,
        'ECDSA keys: aktualizr rejects the whole root; use ED25519 or RSA',
      );
      continue;
    }
    if (k.keytype !== 'RSA' && k.keytype !== 'ED25519') {
      c.add(
        'OTA_EXPORT_FIELD',
        `${kat}.keytype`,
        `ota-tuf decodes only "RSA" and "ED25519" (exact case), not ${JSON.stringify(k.keytype)}`,
      );
      continue;
    }
    let pk: PublicKey;
    try {
      pk = parseMetadataKey(k as MetadataKey);
    } catch (e) {
      c.add('OTA_EXPORT_FIELD', `${kat}.keyval.public`, (e as Error).message);
      continue;
    }
    if (!otaUsable(pk)) {
      c.add(
        'OTA_EXPORT_KEY_UNSUPPORTED',
        kat,
        `${pk.algorithm}${pk.bits ? ` ${pk.bits}` : ''} cannot be used: ota-tuf needs RSA >= 2048 bits, ` +
          'aktualizr RSA 2048/3072/4096 or ED25519',
      );
      continue;
    }
    if (pk.fingerprint !== id)
      c.add(
        'OTA_EXPORT_KEY_ID',
        kat,
        `ota-tuf's key id for this key is ${pk.fingerprint} (sha256 of the DER SubjectPublicKeyInfo), not ${id}`,
      );
    const enc = otaTufPublic(pk);
    out[id] = { keytype: enc.keytype, keyval: { public: enc.public } };
  }
  return out;
}

/**
 * RootRole as the keyserver decodes and re-encodes it. Returns the re-encoded `signed` (or null
 * when ota-tuf could not even decode it); problems are added to `c`.
 */
function reencodeRoot(c: Checker, s: Obj): Obj | null {
  c.fields(s, 'signed', OTA_TUF_FIELDS.root, OTA_TUF_FIELDS.root);
  if (s._type !== 'Root')
    c.add(
      'OTA_EXPORT_FIELD',
      'signed._type',
      `ota-tuf writes "Root" (and aktualizr compares it), not ${JSON.stringify(s._type)}`,
    );
  if (typeof s.consistent_snapshot !== 'boolean')
    c.add('OTA_EXPORT_FIELD', 'signed.consistent_snapshot', 'must be true or false');
  c.int(s.version, 'signed.version', 1, INT32_MAX);
  const expires = instantOf(c, s.expires, 'signed.expires');
  const keys = reencodeKeys(c, s.keys, 'signed.keys');
  const roles: Obj = {};
  if (!isObj(s.roles)) c.add('OTA_EXPORT_FIELD', 'signed.roles', 'must be an object');
  else {
    for (const [name, r] of Object.entries(s.roles)) {
      const at = `signed.roles.${name}`;
      if (!ROLE_TYPES.has(name)) c.add('OTA_EXPORT_FIELD', at, `ota-tuf knows no role ${JSON.stringify(name)}`);
      if (!isObj(r)) {
        c.add('OTA_EXPORT_FIELD', at, 'must be {keyids, threshold}');
        continue;
      }
      c.fields(r, at, OTA_TUF_FIELDS.roleKeys, OTA_TUF_FIELDS.roleKeys);
      c.int(r.threshold, `${at}.threshold`, 1, LIMITS.maxThreshold);
      if (!Array.isArray(r.keyids) || r.keyids.some((x) => typeof x !== 'string' || !HEX64.test(x)))
        c.add('OTA_EXPORT_KEY_ID', `${at}.keyids`, 'must be a list of 64-hex key ids');
      roles[name] = { keyids: r.keyids, threshold: r.threshold };
    }
  }
  if (!keys || expires === null) return null;
  return { _type: 'Root', consistent_snapshot: s.consistent_snapshot, expires, keys, roles, version: s.version };
}

/** TargetCustom, which the reposerver requires on every new offline-signed target. */
function checkCustom(c: Checker, custom: unknown, at: string): void {
  if (!isObj(custom)) {
    c.add(
      'OTA_EXPORT_TARGET',
      at,
      'ota-tuf requires custom {name, version, hardwareIds, targetFormat, uri, createdAt, updatedAt} on ' +
        'offline-signed targets ("new offline signed target items must contain custom metadata")',
    );
    return;
  }
  for (const k of ['name', 'version'])
    if (typeof custom[k] !== 'string') c.add('OTA_EXPORT_TARGET', `${at}.${k}`, 'must be a string');
  const hw = custom.hardwareIds;
  if (!Array.isArray(hw) || hw.some((h) => typeof h !== 'string' || h.length > 200))
    c.add(
      'OTA_EXPORT_TARGET',
      `${at}.hardwareIds`,
      'must be a list of hardware ids (strings of at most 200 characters)',
    );
  if (
    custom.targetFormat !== undefined &&
    custom.targetFormat !== null &&
    custom.targetFormat !== 'OSTREE' &&
    custom.targetFormat !== 'BINARY'
  ) {
    c.add(
      'OTA_EXPORT_TARGET',
      `${at}.targetFormat`,
      `must be "OSTREE", "BINARY" or null, is ${JSON.stringify(custom.targetFormat)}`,
    );
  }
  if (custom.uri !== undefined && custom.uri !== null && typeof custom.uri !== 'string')
    c.add('OTA_EXPORT_TARGET', `${at}.uri`, 'must be a URI string or null');
  if (custom.cliUploaded !== undefined && custom.cliUploaded !== null && typeof custom.cliUploaded !== 'boolean')
    c.add('OTA_EXPORT_TARGET', `${at}.cliUploaded`, 'must be true, false or absent');
  for (const k of ['createdAt', 'updatedAt']) {
    const v = custom[k];
    if (typeof v !== 'string' || !INSTANT.test(v) || Number.isNaN(Date.parse(v)))
      c.add(
        'OTA_EXPORT_TARGET',
        `${at}.${k}`,
        `ota-tuf requires ${k} as an instant (YYYY-MM-DDTHH:MM:SSZ), is ${JSON.stringify(v)}`,
      );
  }
}

function checkTargetsBody(c: Checker, s: Obj): void {
  c.fields(s, 'signed', OTA_TUF_FIELDS.targets, ['_type', 'expires', 'targets', 'version']);
  if (s._type !== 'Targets')
    c.add(
      'OTA_EXPORT_FIELD',
      'signed._type',
      `must be exactly "Targets" (aktualizr compares it), not ${JSON.stringify(s._type)}`,
    );
  c.int(s.version, 'signed.version', 1, INT32_MAX);
  instantOf(c, s.expires, 'signed.expires');
  if (s.delegations !== undefined && s.delegations !== null) {
    const d = s.delegations;
    if (!isObj(d) || !Array.isArray(d.roles))
      c.add('OTA_EXPORT_FIELD', 'signed.delegations', 'must be {keys, roles: [...]}');
    else {
      c.fields(d, 'signed.delegations', ['keys', 'roles'], ['keys', 'roles']);
      reencodeKeys(c, d.keys, 'signed.delegations.keys');
    }
  }
  if (!isObj(s.targets)) {
    c.add('OTA_EXPORT_FIELD', 'signed.targets', 'must be an object of target name to item');
    return;
  }
  for (const [name, item] of Object.entries(s.targets)) {
    const at = `signed.targets.${name}`;
    if (!name || name.length >= 254 || name.includes('..'))
      c.add('OTA_EXPORT_TARGET', at, 'ota-tuf target names are 1-253 characters without ".."');
    if (!isObj(item)) {
      c.add('OTA_EXPORT_TARGET', at, 'must be {hashes, length, custom}');
      continue;
    }
    c.fields(item, at, OTA_TUF_FIELDS.targetItem, ['hashes', 'length']);
    const h = item.hashes;
    if (!isObj(h) || Object.keys(h).length !== 1 || typeof h.sha256 !== 'string' || !HEX64.test(h.sha256)) {
      c.add(
        'OTA_EXPORT_TARGET',
        `${at}.hashes`,
        `must be exactly {"sha256": 64 lowercase hex} (ota-tuf's HashMethod has sha256 only), is ${JSON.stringify(h)}`,
      );
    }
    c.int(item.length, `${at}.length`, 0, Number.MAX_SAFE_INTEGER);
    checkCustom(c, item.custom, `${at}.custom`);
  }
}

/** Where two JSON values first differ, for a useful message. */
function firstDifference(a: unknown, b: unknown, at: string): string {
  if (isObj(a) && isObj(b)) {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      if (!canonicalize(a[k] ?? null, 'ota').equals(canonicalize(b[k] ?? null, 'ota')) || !(k in a) || !(k in b))
        return firstDifference(a[k], b[k], `${at}.${k}`);
    }
  }
  if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
    for (let i = 0; i < a.length; i++)
      if (!canonicalize(a[i], 'ota').equals(canonicalize(b[i], 'ota')))
        return firstDifference(a[i], b[i], `${at}[${i}]`);
  }
  return at;
}

/**
 * Check one metadata file as the ota-tuf server will read it. Root: decoded into RootRole,
 * re-encoded, canonical bytes compared (exactly the keyserver's check). Targets: decoded into
 * TargetsRole with TargetCustom on every target.
 */
export function checkOtaTuf(role: 'root' | 'targets', bytes: Buffer, file: string): OtaProblem[] {
  const c = new Checker(file);
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    c.add('OTA_EXPORT_JSON', '(top level)', `not JSON: ${(e as Error).message}`);
    return c.problems;
  }
  const s = checkEnvelope(c, doc);
  if (!s) return c.problems;
  asciiCheck(c, s, 'signed');
  if (role === 'root') {
    const re = reencodeRoot(c, s);
    if (re) {
      let same = false;
      try {
        same = canonicalize(re, 'ota').equals(canonicalize(s, 'ota'));
      } catch (e) {
        c.add('OTA_EXPORT_FIELD', 'signed', (e as Error).message);
      }
      if (!same)
        c.add(
          'OTA_EXPORT_REENCODE',
          firstDifference(s, re, 'signed'),
          'ota-tuf re-encodes this differently, so the keyserver would refuse the root ("an incompatible ' +
            'encoder was used to encode root.json")',
        );
    }
  } else {
    checkTargetsBody(c, s);
  }
  return c.problems;
}

// --- export ----------------------------------------------------------------------------------

export interface ExportResult {
  outDir: string;
  /** Files written, in upload order. */
  files: string[];
  /** Root versions to POST, in order. */
  rootVersions: number[];
  targetsVersion: number | null;
  /** Delegated roles to PUT (delegations/NAME.json), after targets. */
  delegations: string[];
  /** x-ats-role-checksum for the targets upload, when the targets the server holds are known here. */
  checksum: string | null;
  tufrepoUrl: string | null;
  imported: boolean;
  notes: string[];
}

/**
 * The value the reposerver puts in `x-ats-role-checksum` for a targets.json it holds, and wants
 * back on the next upload: sha256 of the canonical JSON of the whole stored envelope
 * (`SignedRole.withChecksum`: `jsonSignedPayloadEncoder(content).canonical`).
 */
export function roleChecksum(envelopeBytes: Buffer): string {
  const doc = JSON.parse(envelopeBytes.toString('utf8')) as {
    signatures: { keyid: string; method: string; sig: string }[];
    signed: unknown;
  };
  const signatures = doc.signatures.map((s) => ({
    keyid: s.keyid,
    method: s.method === 'rsassa-pss' ? 'rsassa-pss-sha256' : s.method,
    sig: s.sig,
  }));
  return sha256hex(canonicalize({ signatures, signed: doc.signed }, 'ota'));
}

function versionOf(bytes: Buffer): number {
  return (JSON.parse(bytes.toString('utf8')) as { signed: { version: number } }).signed.version;
}

/** The targets.json of the release before the latest one whose targets version is `v`. */
function targetsOfVersion(store: Store, v: number): Buffer | null {
  const seqs = store.db
    .prepare('SELECT DISTINCT release_seq AS seq FROM release_files WHERE name = ? ORDER BY release_seq DESC')
    .all('targets.json') as { seq: number }[];
  for (const { seq } of seqs) {
    const f = store.releaseFiles(seq)['targets.json'];
    if (f && versionOf(f) === v) return f;
  }
  return null;
}

/**
 * Write the latest release in the form the ota-tuf reposerver accepts on upload, after checking
 * every file against ota-tuf's models. Throws OtaExportError (with every problem) on refusal.
 */
export interface ExportOptions {
  /** Evaluate expiry at this time (default now). */
  at?: Date;
  /** The root version the reposerver holds now (default: the imported one). */
  serverRootVersion?: number;
  /** The targets version the reposerver holds now (default: the imported or pulled one; 0 for none). */
  serverTargetsVersion?: number;
  /**
   * The targets the reposerver holds now: its targets.json (as GET …/targets.json serves it), or
   * garage-sign's after `targets pull` (a repository folder, or its roles/unsigned/targets.json
   * with roles/targets.json.checksum beside roles/unsigned/).
   */
  serverTargets?: string;
}

/** What the reposerver holds, read from a pulled targets file. */
export interface ServerTargets {
  /** The file read, for messages. */
  source: string;
  /** The `signed` body. */
  signed: Record<string, unknown>;
  version: number;
  /**
   * Its x-ats-role-checksum: computed from a signed file, or read from garage-sign's checksum file; null when neither.
   */
  checksum: string | null;
}

/** Read the targets the server holds, as `garage-sign targets pull` leaves them or as the server serves them. */
export function readServerTargets(p: string): ServerTargets {
  let file = p;
  let checksumFile: string | null = null;
  checkDir(p, '--server-targets', { orFile: true });
  if (fs.statSync(p).isDirectory()) {
    file = path.join(p, 'roles', 'unsigned', 'targets.json');
    if (!fs.existsSync(file))
      throw new QuorumError(
        'FILE_MISSING',
        `--server-targets ${p}: no roles/unsigned/targets.json; run garage-sign targets pull first`,
      );
  }
  if (path.basename(path.dirname(file)) === 'unsigned')
    checksumFile = path.join(path.dirname(path.dirname(file)), 'targets.json.checksum');
  const bytes = readFile(file, '--server-targets');
  const doc = jsonOf(bytes, '--server-targets', file) as Record<string, unknown> | null;
  const signedEnvelope =
    typeof doc?.signed === 'object' &&
    doc.signed !== null &&
    Array.isArray((doc as { signatures?: unknown }).signatures);
  const signed = (signedEnvelope ? doc!.signed : doc) as Record<string, unknown> | null;
  if (typeof signed !== 'object' || signed === null || signed._type !== 'Targets' || !Number.isInteger(signed.version))
    throw new QuorumError(
      'SCHEMA_INVALID',
      `--server-targets ${file}: not ota targets metadata (_type "Targets" with an integer version)`,
    );
  let checksum: string | null = null;
  if (signedEnvelope) checksum = roleChecksum(bytes);
  else if (checksumFile && fs.existsSync(checksumFile)) {
    checksum = fs.readFileSync(checksumFile, 'utf8').trim();
    if (!HEX64.test(checksum)) throw new QuorumError('USAGE', `${checksumFile}: not a sha256 checksum`);
  }
  return { source: file, signed, version: signed.version as number, checksum };
}

/** RSA-PSS signatures in `meta` whose salt is not the 32 the ota-tuf servers verify. */
function saltProblems(meta: Metadata, keys: Record<string, MetadataKey>): OtaProblem[] {
  const out: OtaProblem[] = [];
  meta.signatures.forEach((s, i) => {
    const k = keys[s.keyid];
    const sig = decodeSig(s.sig, 'ota');
    if (!k || !sig) return;
    let pk: PublicKey;
    try {
      pk = parseMetadataKey(k);
    } catch {
      return;
    }
    const salt = otaSaltProblem(pk, sig);
    if (salt !== null)
      out.push({
        code: 'OTA_EXPORT_PSS_SALT',
        file: meta.file,
        at: `signatures[${i}]`,
        message:
          `the RSA-PSS signature by ${s.keyid} has salt length ${salt}; devices accept it, but the OTA Connect ` +
          `servers verify salt length ${OTA_PSS_SALT} only and refuse the upload: have it signed again`,
      });
  });
  return out;
}

export function exportOtaTuf(dataDir: string, outDir: string, opts: ExportOptions = {}): ExportResult {
  const pulled = opts.serverTargets !== undefined ? readServerTargets(opts.serverTargets) : null;
  const dbFile = path.join(dataDir, DATA_FILES.db);
  if (!fs.existsSync(dbFile)) throw new QuorumError('FILE_MISSING', `${dbFile} does not exist; pass --data-dir`);
  const store = new Store(dbFile);
  try {
    const dialect = store.dialect();
    if (dialect !== 'ota')
      throw new OtaExportError(
        'OTA_EXPORT_DIALECT',
        `this repository is in the ${dialect} dialect; the ota-tuf server takes only ota metadata (_type ` +
          '"Root"/"Targets", base64 signatures, SPKI key ids)',
      );
    const rel = store.latestRelease();
    if (!rel)
      throw new OtaExportError(
        'OTA_EXPORT_NOTHING',
        'nothing has been released yet; release a root (and targets) round first',
      );
    const files = store.releaseFiles(rel.seq);
    const importedRoot = store.getMeta(OTA_META.importRootVersion);
    const imported = importedRoot !== undefined;
    const importedVersion = opts.serverRootVersion ?? (importedRoot ? Number(importedRoot) : null);
    if (pulled && opts.serverTargetsVersion !== undefined && opts.serverTargetsVersion !== pulled.version) {
      throw new QuorumError(
        'USAGE',
        `--server-targets-version ${opts.serverTargetsVersion} contradicts --server-targets ${pulled.source}, ` +
          `which is version ${pulled.version}; give one of them`,
      );
    }
    const serverTargets = store.getMeta(OTA_META.serverTargetsVersion);
    const serverTargetsVersion =
      pulled?.version ?? opts.serverTargetsVersion ?? (serverTargets ? Number(serverTargets) : null);
    const tufrepoUrl = store.getMeta(OTA_META.tufrepoUrl) ?? null;
    const notes: string[] = [];
    const problems: OtaProblem[] = [];

    // The set must still verify as a device would (trusting the first root released here).
    const roots = new Map<number, FileInput>();
    for (const [n, b] of Object.entries(files)) {
      const m = /^(\d+)\.root\.json$/.exec(n);
      if (m) roots.set(Number(m[1]), { name: n, bytes: b });
    }
    const lowest = Math.min(...roots.keys());
    const report = verifyRepository(
      {
        trustedRoot: roots.get(lowest) ?? { name: 'root.json', bytes: files['root.json']! },
        roots,
        root: files['root.json'] ? { name: 'root.json', bytes: files['root.json'] } : undefined,
        targets: files['targets.json'] ? { name: 'targets.json', bytes: files['targets.json'] } : undefined,
        readFile: (name) => (Object.hasOwn(files, name) ? { name, bytes: files[name]! } : undefined),
      },
      { at: opts.at ?? new Date(), dialect: 'ota' },
    );
    for (const e of report.errors)
      problems.push({ code: 'OTA_EXPORT_UNVERIFIED', file: e.file, at: e.code, message: e.message });

    const rootVersions = [...roots.keys()]
      .filter((v) => importedVersion === null || v > importedVersion)
      .sort((a, b) => a - b);
    if (importedVersion !== null && !rootVersions.length)
      notes.push(`root version ${importedVersion} is what the reposerver already has; no root to upload`);
    const latestRoot = parseMetadata(files['root.json']!, 'root.json', 'root', 'ota').signed as RootSigned;
    for (const v of rootVersions) {
      const file = `${v}.root.json`;
      problems.push(...checkOtaTuf('root', roots.get(v)!.bytes, file));
      const self = parseMetadata(roots.get(v)!.bytes, file, 'root', 'ota');
      const prev = roots.get(v - 1)
        ? (parseMetadata(roots.get(v - 1)!.bytes, `${v - 1}.root.json`, 'root', 'ota').signed as RootSigned)
        : null;
      problems.push(...saltProblems(self, { ...(prev?.keys ?? {}), ...(self.signed as RootSigned).keys }));
      // The keyserver keeps only the private keys the new root still lists: say plainly which go.
      if (prev)
        for (const k of serverKeysDeleted(prev, self.signed as RootSigned)) notes.push(`${file}: ${deletedKeyLine(k)}`);
    }

    // The reposerver signs snapshot and timestamp with the keys it holds; a root that moves them
    // elsewhere leaves it unable to publish anything.
    if (importedVersion !== null && rootVersions.length) {
      const base = roots.get(importedVersion);
      if (base) {
        const was = parseMetadata(base.bytes, `${importedVersion}.root.json`, 'root', 'ota').signed as RootSigned;
        for (const role of ['snapshot', 'timestamp']) {
          const a = JSON.stringify([...(was.roles[role]?.keyids ?? [])].sort());
          const b = JSON.stringify([...(latestRoot.roles[role]?.keyids ?? [])].sort());
          if (a !== b)
            problems.push({
              code: 'OTA_EXPORT_ONLINE_ROLES',
              file: 'root.json',
              at: `signed.roles.${role}`,
              message:
                `the reposerver signs ${role} with the online key(s) it holds (${a}); this root gives the role ` +
                `${b}, so the server could no longer publish ${role}.json; keep the ${role} keys of root version ` +
                `${importedVersion}`,
            });
        }
      }
    } else if (!imported && opts.serverRootVersion === undefined) {
      notes.push(
        'this repository was not imported from OTA Connect (quorum init --import-garage-sign): the reposerver ' +
          "accepts a root only as the next version of the root it already has, signed by that root's keys",
      );
    }

    let targetsVersion: number | null = null;
    let checksum: string | null = null;
    const t = files['targets.json'];
    if (t) {
      const v = versionOf(t);
      const released = parseMetadata(t, 'targets.json', 'targets', 'ota');
      const sameBody = (a: Record<string, unknown>, b: unknown) =>
        canonicalize(a, 'ota').equals(canonicalize(b, 'ota'));
      // The targets the release was built on: released here, or pulled from the server at import.
      const prevFile = targetsOfVersion(store, v - 1);
      const importPulled = store.serverTargets();
      const base = prevFile
        ? (parseMetadata(prevFile, 'targets.json', 'targets', 'ota').signed as unknown as Record<string, unknown>)
        : importPulled?.version === v - 1
          ? importPulled
          : null;
      const from = pulled ? `the reposerver holds (${pulled.source})` : 'the reposerver holds';
      if (serverTargetsVersion !== null && v === serverTargetsVersion) {
        if (pulled && !sameBody(pulled.signed, released.signed)) {
          problems.push({
            code: 'OTA_EXPORT_SERVER_TARGETS',
            file: 'targets.json',
            at: 'signed',
            message:
              `${from} targets version ${v} with other content than this release's; someone else published ` +
              `version ${v}: pull, and open a targets round on what the server holds`,
          });
        } else notes.push(`targets version ${v} is what the reposerver already has; no targets to upload`);
      } else if (serverTargetsVersion !== null && v !== serverTargetsVersion + 1) {
        problems.push({
          code: 'OTA_EXPORT_TARGETS_VERSION',
          file: 'targets.json',
          at: 'signed.version',
          message:
            `${from} targets version ${serverTargetsVersion} and accepts only version ${serverTargetsVersion + 1} ` +
            `next (409 invalid_version_bump), but this release has version ${v}${v > serverTargetsVersion && !pulled ? '; if the server has moved on since the import, give its targets with --server-targets (garage-sign targets pull)' : ''}`,
        });
      } else {
        targetsVersion = v;
        problems.push(...checkOtaTuf('targets', t, 'targets.json'));
        if (pulled && base && !sameBody(pulled.signed, base)) {
          problems.push({
            code: 'OTA_EXPORT_SERVER_TARGETS',
            file: 'targets.json',
            at: 'signed',
            message:
              `${from} targets version ${pulled.version}, but not the ones this release was built on (they ` +
              `differ at ${firstDifference(pulled.signed, base, 'signed')}); someone else published targets: ` +
              'open a new targets round on what the server holds',
          });
        }
        // New targets need a location and hardware ids (the reposerver stores them, devices install them).
        for (const x of otaTargetsProblems(
          released.signed as unknown as Record<string, unknown>,
          pulled?.signed ?? base,
        ))
          problems.push({ ...x, file: 'targets.json', at: `signed.${x.at}` });
        problems.push(...saltProblems(released, latestRoot.keys));
        if (pulled) {
          checksum = pulled.checksum;
          if (!checksum)
            notes.push(
              `${pulled.source} is unsigned and no targets.json.checksum was found beside its roles/unsigned ` +
                'folder, so the x-ats-role-checksum is unknown; give the folder garage-sign targets pull wrote',
            );
        } else if (prevFile) checksum = roleChecksum(prevFile);
        else if (v > 1 || serverTargetsVersion !== null)
          notes.push(
            'the targets the reposerver holds now are not known here, so their x-ats-role-checksum is not ' +
              'either: run "garage-sign targets pull" and give its folder with --server-targets',
          );
      }
    }
    // Delegated roles, as the reposerver's delegations API takes them (PUT
    // /api/v1/user_repo/delegations/NAME.json, garage-sign delegations push): only roles targets.json
    // delegates itself (it checks each file against the delegations of the targets it holds), names
    // of at most 50 characters, each file a targets role ota-tuf reads.
    const delegations: string[] = [];
    if (t) {
      const top = readDelegations(
        (parseMetadata(t, 'targets.json', 'targets', 'ota').signed as { delegations?: unknown }).delegations ?? {
          keys: {},
          roles: [],
        },
        'ota',
      ).delegations;
      const topNames = new Set((top?.roles ?? []).map((r) => r.name));
      for (const [name, { file }] of Object.entries(delegatedFiles(files, 'ota').present)) {
        const fileName = delegatedFileName(name, 'ota');
        if (!topNames.has(name))
          problems.push({
            code: 'OTA_EXPORT_DELEGATION',
            file: fileName,
            at: '-',
            message:
              `${name} is delegated by another delegated role; the reposerver takes only roles targets.json ` +
              'delegates (it checks each delegated file against the delegations of its targets.json)',
          });
        if (name.length > 50)
          problems.push({
            code: 'OTA_EXPORT_DELEGATION',
            file: fileName,
            at: '-',
            message: `the reposerver takes delegated role names of at most 50 characters; ${name} has ${name.length}`,
          });
        problems.push(...checkOtaTuf('targets', file, fileName));
        problems.push(...saltProblems(parseMetadata(file, fileName, 'targets', 'ota'), top?.keys ?? {}));
        delegations.push(name);
      }
    }
    if (problems.length) {
      const err = new OtaExportError(
        problems[0]!.code,
        problems.map((p) => `${p.code}: ${p.file}: ${p.at}: ${p.message}`).join('\n'),
      );
      (err as OtaExportError & { problems: OtaProblem[] }).problems = problems;
      throw err;
    }

    fs.mkdirSync(outDir, { recursive: true });
    const written: string[] = [];
    const write = (name: string, bytes: Buffer | string) => {
      fs.writeFileSync(path.join(outDir, name), bytes);
      written.push(name);
    };
    for (const v of rootVersions) write(`${v}.root.json`, roots.get(v)!.bytes);
    if (rootVersions.length) write('root.json', files['root.json']!);
    if (targetsVersion !== null) {
      write('targets.json', t!);
      // garage-sign keeps this value in roles/targets.json.checksum: one line, no newline.
      if (checksum) write('targets.json.checksum', checksum);
    }
    for (const name of delegations) {
      fs.mkdirSync(path.join(outDir, 'delegations'), { recursive: true });
      write(delegatedFileName(name, 'ota'), files[delegatedFileName(name, 'ota')]!);
    }
    return {
      outDir,
      files: written,
      rootVersions,
      targetsVersion,
      delegations,
      checksum,
      tufrepoUrl,
      imported,
      notes,
    };
  } finally {
    store.close();
  }
}

/** The upload steps for what exportOtaTuf wrote, as a user runs them next. */
export function uploadSteps(r: ExportResult): string[] {
  const base = r.tufrepoUrl ? r.tufrepoUrl.replace(/\/$/, '') : '<tufrepo.url>';
  const out: string[] = [];
  if (!r.files.length) return out;
  out.push('upload, root versions first and in order, then targets:');
  out.push('  with garage-sign (repository folder tuf/<repo>, initialised from your credentials.zip):');
  for (const v of r.rootVersions) {
    out.push(
      `    cp ${path.join(r.outDir, `${v}.root.json`)} tuf/<repo>/roles/root.json && garage-sign root push ` +
        '--repo <repo>',
    );
  }
  if (r.targetsVersion !== null) {
    out.push(`    cp ${path.join(r.outDir, 'targets.json')} tuf/<repo>/roles/targets.json`);
    if (r.checksum)
      out.push(`    cp ${path.join(r.outDir, 'targets.json.checksum')} tuf/<repo>/roles/targets.json.checksum`);
    else
      out.push(
        '    (roles/targets.json.checksum must hold the checksum of the targets on the server: garage-sign ' +
          'targets pull writes it; pull before pushing a root that changes the targets keys)',
      );
    out.push('    garage-sign targets push --repo <repo>');
  }
  for (const name of r.delegations)
    out.push(
      `    garage-sign delegations push --repo <repo> --name ${name} --input ` +
        path.join(r.outDir, 'delegations', `${name}.json`),
    );
  out.push('  or over HTTP, with the OAuth2 bearer token garage-sign gets from treehub.json:');
  for (const v of r.rootVersions)
    out.push(`    POST ${base}/api/v1/user_repo/root   (body: ${v}.root.json, Content-Type: application/json)`);
  if (r.targetsVersion !== null) {
    out.push(
      `    PUT  ${base}/api/v1/user_repo/targets   (body: targets.json, Content-Type: application/json, ` +
        `x-ats-role-checksum: ${r.checksum ?? '<checksum of the targets the server holds>'})`,
    );
    out.push(
      '    (412 role_checksum_mismatch: the server holds other targets than this checksum names; 428: the ' +
        'header is missing)',
    );
  }
  for (const name of r.delegations)
    out.push(
      `    PUT  ${base}/api/v1/user_repo/delegations/${name}.json   (body: delegations/${name}.json, Content-Type: ` +
        "application/json; the server's targets.json must delegate the role first: 400 DelegationNotDefined)",
    );
  return out;
}
