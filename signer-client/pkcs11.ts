/**
 * Keys on PKCS#11 tokens (YubiKey, Nitrokey, HSMs, SoftHSM) behind the same Signer interface as
 * key files. A key is named by an RFC 7512 `pkcs11:` URI plus the path of the token's module; the
 * private key never leaves the token. Ed25519 signs through CKM_EDDSA; P-256 and RSA-PSS sign a
 * SHA-256 digest computed here (CKM_ECDSA, CKM_RSA_PKCS_PSS with salt 32, as both dialects
 * expect), because many modules (SoftHSM 2.6 among them) lack the hash-on-token ECDSA variants.
 *
 * A token can be unplugged, its PIN mistyped, its key replaced. So every signature the token
 * returns is verified against the public key before it is used, every failure becomes a
 * TokenError with a stable code, and a failed call tears the session (and, for signs of a stale
 * module state, the module's initialisation) down: the next call starts from nothing, which is
 * what makes a retry after plugging the token back in work in a long-running `watch`.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import type * as P11 from 'pkcs11js';
import { KeyError, QuorumError, type Codes } from '../protocol/errors.js';
import { readText } from '../protocol/files.js';
import { publicKeyFrom, verifySignature, type Algorithm, type PublicKey } from '../protocol/keys.js';
import type { Signer } from '../protocol/metadata/build.js';
import { hidden } from './secrets.js';

export type TokenCode = Codes<
  | 'TOKEN_PIN' // the token refused the PIN (CKR_PIN_INCORRECT and the like)
  | 'TOKEN_PIN_LOCKED' // too many wrong PINs: unlock with the SO PIN / PUK first
  | 'TOKEN_NOT_PRESENT' // no token matching the URI (unplugged, other label, slot gone)
  | 'TOKEN_KEY_MISSING' // the token has no private key matching the URI
  | 'TOKEN_KEY_AMBIGUOUS' // several tokens or keys match; the URI must name one
  | 'TOKEN_KEY_EXISTS' // keygen: the label is taken (a key is never overwritten)
  | 'TOKEN_KEY_CHANGED' // the key behind the URI is not the one this signer joined with
  | 'TOKEN_MECHANISM' // a key type or mechanism we cannot use, or the token refuses it
  | 'TOKEN_MODULE' // the module (or the pkcs11js binding) cannot be loaded or initialised
  | 'TOKEN_BAD_SIGNATURE' // the token returned a signature that does not verify
  | 'TOKEN_FAILED' // any other PKCS#11 error, with its CKR_ name in the message
>;

export class TokenError extends QuorumError<TokenCode> {}

// Not exported by pkcs11js (PKCS#11 3.0 constants).
const CKK_EC_EDWARDS = 0x40;
const CKM_EC_EDWARDS_KEY_PAIR_GEN = 0x1055;
const CKM_EDDSA = 0x1057;

const OID = {
  ed25519: Buffer.from('06032b6570', 'hex'),
  // PrintableString, older tokens
  ed25519Name: Buffer.from('130c' + Buffer.from('edwards25519').toString('hex'), 'hex'),
  p256: Buffer.from('06082a8648ce3d030107', 'hex'),
} as const;
const CURVE_NAMES: Record<string, string> = {
  '06052b81040022': 'secp384r1',
  '06052b81040023': 'secp521r1',
  '06052b8104000a': 'secp256k1',
  '06032b6571': 'Ed448',
  '130a65647761726473343438': 'Ed448',
};

// --- RFC 7512 URIs -------------------------------------------------------------------------------

/** The attributes of a `pkcs11:` URI this client understands; values are percent-decoded. */
export interface Pkcs11Uri {
  token?: string;
  manufacturer?: string;
  serial?: string;
  model?: string;
  'slot-id'?: string;
  'slot-description'?: string;
  'slot-manufacturer'?: string;
  'library-manufacturer'?: string;
  'library-description'?: string;
  object?: string;
  id?: Buffer;
  type?: 'private' | 'public';
  /** query attributes */
  'module-path'?: string;
  'pin-source'?: string;
}

const PATH_ATTRS = new Set([
  'token',
  'manufacturer',
  'serial',
  'model',
  'slot-id',
  'slot-description',
  'slot-manufacturer',
  'library-manufacturer',
  'library-description',
  'object',
  'id',
  'type',
]);
const QUERY_ATTRS = new Set(['module-path', 'pin-source']);

function usage(message: string): QuorumError<'USAGE'> {
  return new QuorumError('USAGE', message);
}

function pctBytes(v: string, uri: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < v.length; i++) {
    if (v[i] === '%') {
      const h = v.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(h)) throw usage(`bad percent-encoding in ${uri}`);
      out.push(parseInt(h, 16));
      i += 2;
    } else out.push(...Buffer.from(v[i]!, 'utf8'));
  }
  return Buffer.from(out);
}

export function parsePkcs11Uri(uri: string): Pkcs11Uri {
  if (!/^pkcs11:/i.test(uri)) throw usage(`not a pkcs11: URI (RFC 7512): ${uri}`);
  const rest = uri.slice('pkcs11:'.length);
  const q = rest.indexOf('?');
  const [pathPart, queryPart] = q < 0 ? [rest, ''] : [rest.slice(0, q), rest.slice(q + 1)];
  const out: Record<string, unknown> = {};
  const take = (part: string, sep: string, allowed: Set<string>) => {
    for (const a of part.split(sep)) {
      if (a === '') continue;
      const eq = a.indexOf('=');
      const name = eq < 0 ? a : a.slice(0, eq);
      const value = eq < 0 ? '' : a.slice(eq + 1);
      if (name === 'pin-value')
        throw usage(
          'a PIN inside the URI would be stored in config.json; use --pin-file or QUORUM_PIN instead of pin-value',
        );
      // RFC 7512 2.3: a URI with an attribute the application does not know matches nothing.
      if (!allowed.has(name))
        throw usage(`${uri}: attribute ${JSON.stringify(name)} is not supported (${[...allowed].join(', ')})`);
      if (Object.hasOwn(out, name)) throw usage(`${uri}: attribute ${name} appears twice`);
      out[name] = name === 'id' ? pctBytes(value, uri) : pctBytes(value, uri).toString('utf8');
    }
  };
  take(pathPart, ';', PATH_ATTRS);
  take(queryPart, '&', QUERY_ATTRS);
  if (out.type !== undefined && out.type !== 'private' && out.type !== 'public')
    throw usage(`${uri}: type=${String(out.type)} does not name a key pair; use type=private`);
  return out as Pkcs11Uri;
}

function pct(v: string | Buffer, all = false): string {
  if (all) return [...(v as Buffer)].map((b) => '%' + b.toString(16).padStart(2, '0')).join('');
  return encodeURIComponent(v as string);
}

/** The canonical URI of a token key: token label, object label, id, type=private. */
export function formatPkcs11Uri(u: Pick<Pkcs11Uri, 'token' | 'serial' | 'object' | 'id'>): string {
  const parts: string[] = [];
  if (u.token !== undefined) parts.push(`token=${pct(u.token)}`);
  if (u.serial !== undefined) parts.push(`serial=${pct(u.serial)}`);
  if (u.object !== undefined) parts.push(`object=${pct(u.object)}`);
  if (u.id !== undefined && u.id.length) parts.push(`id=${pct(u.id, true)}`);
  parts.push('type=private');
  return `pkcs11:${parts.join(';')}`;
}

// --- the PIN -------------------------------------------------------------------------------------

export const PIN_ENV = 'QUORUM_PIN';

/** The token PIN: --pin-file, then QUORUM_PIN, then the URI's pin-source, then a prompt with echo off. */
export async function tokenPin(opts: { file?: string; uri?: string; prompt: string }): Promise<string> {
  let file = opts.file;
  if (!file && process.env[PIN_ENV] !== undefined) return process.env[PIN_ENV]!;
  if (!file && opts.uri) {
    const src = parsePkcs11Uri(opts.uri)['pin-source'];
    if (src) file = src.startsWith('file:') ? new URL(src).pathname : src;
  }
  if (file) return readText(file, opts.file ? '--pin-file' : 'the pin-source of the pkcs11: URI').replace(/\r?\n$/, '');
  if (!process.stdin.isTTY) throw usage(`no PIN: give --pin-file, set ${PIN_ENV}, or run in a terminal`);
  return hidden(opts.prompt);
}

export type PinSource = () => Promise<string>;

// --- modules -------------------------------------------------------------------------------------

type Binding = typeof P11;
let binding: Binding | undefined;

/** pkcs11js is loaded on first use, so key-file users never need the native addon. */
function lib(): Binding {
  if (!binding) {
    try {
      binding = createRequire(import.meta.url)('pkcs11js') as Binding;
    } catch (e) {
      throw new TokenError(
        'TOKEN_MODULE',
        `the pkcs11js native binding is not available (${(e as Error).message}); reinstall with ` +
          'npm_config_nodedir=/usr npm rebuild pkcs11js',
        { cause: e },
      );
    }
  }
  return binding;
}

function ckr(e: unknown): string | null {
  const m = e instanceof Error ? /^(CKR_[A-Z0-9_]+)/.exec(e.message) : null;
  return m ? m[1]! : null;
}

/** One loaded module per path. `reset` finalises it; sessions opened before a reset are stale. */
class Module {
  private static readonly loaded = new Map<string, Module>();
  private p11: P11.PKCS11 | null = null;
  private initialised = false;
  generation = 0;

  /** `path` as given (for messages); modules are shared by their real path */
  private constructor(readonly path: string) {}

  static get(modulePath: string): Module {
    const p = fs.existsSync(modulePath) ? fs.realpathSync(modulePath) : modulePath;
    let m = Module.loaded.get(p);
    if (!m) Module.loaded.set(p, (m = new Module(modulePath)));
    return m;
  }

  static finaliseAll(): void {
    for (const m of Module.loaded.values()) m.reset();
  }

  api(): P11.PKCS11 {
    if (this.p11 && this.initialised) return this.p11;
    const L = lib();
    if (!this.p11) {
      // A bare file name is left to the dynamic loader's search path, as p11-kit and OpenSC do.
      if (this.path.includes('/') && !fs.existsSync(this.path))
        throw new TokenError(
          'TOKEN_MODULE',
          `no PKCS#11 module at ${this.path} (give --module, e.g. /usr/lib/softhsm/libsofthsm2.so or your ` +
            "token vendor's library)",
        );
      const p11 = new L.PKCS11();
      try {
        p11.load(this.path);
      } catch (e) {
        throw new TokenError('TOKEN_MODULE', `cannot load the PKCS#11 module ${this.path}: ${(e as Error).message}`, {
          cause: e,
        });
      }
      this.p11 = p11;
    }
    try {
      this.p11.C_Initialize({ flags: L.CKF_OS_LOCKING_OK }); // pkcs11js runs async calls on worker threads
    } catch (e) {
      if (ckr(e) !== 'CKR_CRYPTOKI_ALREADY_INITIALIZED')
        throw new TokenError(
          'TOKEN_MODULE',
          `the PKCS#11 module ${this.path} failed to initialise: ${(e as Error).message}`,
          { cause: e },
        );
    }
    this.initialised = true;
    return this.p11;
  }

  reset(): void {
    if (this.p11 && this.initialised) {
      try {
        this.p11.C_Finalize();
      } catch {
        /* already gone */
      }
    }
    this.initialised = false;
    this.generation++;
  }
}

process.once('exit', () => Module.finaliseAll());

// --- tokens, sessions and objects -----------------------------------------------------------------

const trimmed = (s: string) => s.replace(/[ \0]+$/, '');

interface Token {
  slot: Buffer;
  label: string;
  serial: string;
  flags: number;
}

function describeTokenAttrs(u: Pkcs11Uri): string {
  const parts = (['token', 'serial', 'manufacturer', 'model', 'slot-id'] as const)
    .filter((k) => u[k] !== undefined)
    .map((k) => `${k}=${JSON.stringify(u[k])}`);
  return parts.length ? parts.join(' ') : '(any)';
}

/** The one initialised token the URI names; TOKEN_NOT_PRESENT when none, AMBIGUOUS when several. */
function findToken(m: Module, u: Pkcs11Uri): Token {
  const p11 = m.api();
  const L = lib();
  const info =
    u['library-manufacturer'] !== undefined || u['library-description'] !== undefined ? p11.C_GetInfo() : null;
  if (
    info &&
    ((u['library-manufacturer'] !== undefined && trimmed(info.manufacturerID) !== u['library-manufacturer']) ||
      (u['library-description'] !== undefined && trimmed(info.libraryDescription) !== u['library-description']))
  ) {
    throw new TokenError('TOKEN_NOT_PRESENT', `the module ${m.path} is not the library the URI names`);
  }
  const present: Token[] = [];
  const matches: Token[] = [];
  for (const slot of p11.C_GetSlotList(true)) {
    const t = p11.C_GetTokenInfo(slot);
    if (!(t.flags & L.CKF_TOKEN_INITIALIZED)) continue;
    const tok = { slot, label: trimmed(t.label), serial: trimmed(t.serialNumber), flags: t.flags };
    present.push(tok);
    if (u.token !== undefined && tok.label !== u.token) continue;
    if (u.serial !== undefined && tok.serial !== u.serial) continue;
    if (u.manufacturer !== undefined && trimmed(t.manufacturerID) !== u.manufacturer) continue;
    if (u.model !== undefined && trimmed(t.model) !== u.model) continue;
    if (u['slot-id'] !== undefined && String(ulong(slot)) !== u['slot-id']) continue;
    if (u['slot-description'] !== undefined || u['slot-manufacturer'] !== undefined) {
      const s = p11.C_GetSlotInfo(slot);
      if (u['slot-description'] !== undefined && trimmed(s.slotDescription) !== u['slot-description']) continue;
      if (u['slot-manufacturer'] !== undefined && trimmed(s.manufacturerID) !== u['slot-manufacturer']) continue;
    }
    matches.push(tok);
  }
  if (matches.length === 1) return matches[0]!;
  const seen = present.length ? present.map((t) => JSON.stringify(t.label)).join(', ') : 'none';
  if (!matches.length)
    throw new TokenError(
      'TOKEN_NOT_PRESENT',
      `no token ${describeTokenAttrs(u)} in ${m.path}: is it plugged in? (tokens present: ${seen})`,
    );
  throw new TokenError(
    'TOKEN_KEY_AMBIGUOUS',
    `${matches.length} tokens match ${describeTokenAttrs(u)} (${seen}); add token= or serial= to the URI`,
  );
}

function login(p11: P11.PKCS11, session: Buffer, token: Token, pin: string | undefined): void {
  const L = lib();
  if (!(token.flags & L.CKF_LOGIN_REQUIRED)) return;
  try {
    p11.C_Login(session, L.CKU_USER, pin); // no PIN: the token's own PIN pad
  } catch (e) {
    if (ckr(e) !== 'CKR_USER_ALREADY_LOGGED_IN') throw e;
  }
}

/** The PIN, asked for only when the token wants one typed here (not for a PIN pad). */
async function pinFor(token: Token, pin: PinSource): Promise<string | undefined> {
  const L = lib();
  return token.flags & L.CKF_LOGIN_REQUIRED && !(token.flags & L.CKF_PROTECTED_AUTHENTICATION_PATH) ? pin() : undefined;
}

function find(p11: P11.PKCS11, session: Buffer, template: P11.Template): Buffer[] {
  p11.C_FindObjectsInit(session, template);
  try {
    const out: Buffer[] = [];
    for (;;) {
      const batch = p11.C_FindObjects(session, 64);
      out.push(...batch);
      if (batch.length < 64) return out;
    }
  } finally {
    p11.C_FindObjectsFinal(session);
  }
}

function attr(p11: P11.PKCS11, session: Buffer, obj: Buffer, type: number): Buffer | null {
  try {
    return p11.C_GetAttributeValue(session, obj, [{ type }])[0]?.value ?? null;
  } catch (e) {
    if (ckr(e) === 'CKR_ATTRIBUTE_TYPE_INVALID' || ckr(e) === 'CKR_ATTRIBUTE_SENSITIVE') return null;
    throw e;
  }
}

const ulong = (b: Buffer | null) =>
  b && b.length >= 4 ? Number(b.length >= 8 ? b.readBigUInt64LE(0) : b.readUInt32LE(0)) : null;

/** A DER OCTET STRING's content, or the bytes as they are when they already have the raw size. */
function unwrapPoint(b: Buffer, rawLength: number): Buffer {
  if (b.length === rawLength) return b;
  if (b[0] === 0x04) {
    let len = b[1] ?? 0;
    let off = 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      len = n >= 1 && n <= 2 && b.length >= 2 + n ? b.readUIntBE(2, n) : -1;
      off = 2 + n;
    }
    if (off + len === b.length) return b.subarray(off);
  }
  return b;
}

function unsigned(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.subarray(i);
}

interface KeyObjectInfo {
  label: string;
  id: Buffer;
  publicKey: PublicKey;
}

/** What a private key object on the token is, and its public key; TOKEN_MECHANISM when we cannot use it. */
function describeKey(p11: P11.PKCS11, session: Buffer, priv: Buffer): KeyObjectInfo {
  const L = lib();
  const label = attr(p11, session, priv, L.CKA_LABEL)?.toString('utf8') ?? '';
  const id = attr(p11, session, priv, L.CKA_ID) ?? Buffer.alloc(0);
  const keyType = ulong(attr(p11, session, priv, L.CKA_KEY_TYPE));
  const name = `key ${JSON.stringify(label)}${id.length ? ` (id ${id.toString('hex')})` : ''}`;
  if (attr(p11, session, priv, L.CKA_SIGN)?.[0] === 0)
    throw new TokenError('TOKEN_MECHANISM', `${name} may not sign (CKA_SIGN is false)`);
  const publicObject = (): Buffer => {
    // The pair shares CKA_ID (PKCS#11 convention) and usually the label: the most specific match wins.
    const byId = { type: L.CKA_ID, value: id };
    const byLabel = { type: L.CKA_LABEL, value: label };
    const tries = id.length ? [[byId, byLabel], [byId]] : [[byLabel]];
    let found: Buffer[] = [];
    for (const t of tries) {
      found = find(p11, session, [{ type: L.CKA_CLASS, value: L.CKO_PUBLIC_KEY }, ...t]);
      if (found.length === 1) return found[0]!;
    }
    throw new TokenError(
      'TOKEN_KEY_MISSING',
      `${name}: ${found.length ? 'several public key objects match' : 'no public key object'} beside the ` +
        'private key, so its public key cannot be read',
    );
  };
  const wrap = (make: () => PublicKey): PublicKey => {
    try {
      return make();
    } catch (e) {
      if (e instanceof KeyError && e.code === 'KEY_UNSUPPORTED')
        throw new TokenError('TOKEN_MECHANISM', `${name}: ${e.message}`, { cause: e });
      throw e;
    }
  };
  if (keyType === L.CKK_RSA) {
    const n = attr(p11, session, priv, L.CKA_MODULUS);
    const e = attr(p11, session, priv, L.CKA_PUBLIC_EXPONENT);
    const [mod, exp] =
      n && e
        ? [n, e]
        : (() => {
            const pub = publicObject();
            return [attr(p11, session, pub, L.CKA_MODULUS), attr(p11, session, pub, L.CKA_PUBLIC_EXPONENT)];
          })();
    if (!mod || !exp) throw new TokenError('TOKEN_KEY_MISSING', `${name}: the token does not reveal the RSA modulus`);
    const jwk = { kty: 'RSA', n: unsigned(mod).toString('base64url'), e: unsigned(exp).toString('base64url') };
    return { label, id, publicKey: wrap(() => publicKeyFrom(crypto.createPublicKey({ key: jwk, format: 'jwk' }))) };
  }
  if (keyType === L.CKK_EC || keyType === CKK_EC_EDWARDS) {
    const params = attr(p11, session, priv, L.CKA_EC_PARAMS) ?? attr(p11, session, publicObject(), L.CKA_EC_PARAMS);
    const isEd = params && (params.equals(OID.ed25519) || params.equals(OID.ed25519Name));
    const isP256 = params && params.equals(OID.p256);
    if (!(keyType === CKK_EC_EDWARDS ? isEd : isP256)) {
      const curve = params
        ? (CURVE_NAMES[params.toString('hex')] ?? `curve ${params.toString('hex')}`)
        : 'unknown curve';
      throw new TokenError(
        'TOKEN_MECHANISM',
        `${name} is ${keyType === CKK_EC_EDWARDS ? 'an EdDSA' : 'an EC'} key on ${curve}; supported are ` +
          'Ed25519, ECDSA P-256 and RSA (2048 bits or more)',
      );
    }
    const point = attr(p11, session, publicObject(), L.CKA_EC_POINT);
    if (!point) throw new TokenError('TOKEN_KEY_MISSING', `${name}: the public key object has no CKA_EC_POINT`);
    const spki = isEd
      ? Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), unwrapPoint(point, 32)])
      : Buffer.concat([
          Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex'),
          unwrapPoint(point, 65),
        ]);
    return { label, id, publicKey: wrap(() => publicKeyFrom(spki)) };
  }
  throw new TokenError(
    'TOKEN_MECHANISM',
    `${name} has PKCS#11 key type 0x${(keyType ?? -1).toString(16)}; supported are Ed25519, ECDSA P-256 and RSA`,
  );
}

function findPrivateKey(p11: P11.PKCS11, session: Buffer, u: Pkcs11Uri, token: Token): Buffer {
  const L = lib();
  const tpl: P11.Template = [{ type: L.CKA_CLASS, value: L.CKO_PRIVATE_KEY }];
  if (u.object !== undefined) tpl.push({ type: L.CKA_LABEL, value: u.object });
  if (u.id !== undefined) tpl.push({ type: L.CKA_ID, value: u.id });
  const found = find(p11, session, tpl);
  const what =
    [
      u.object !== undefined ? `object=${JSON.stringify(u.object)}` : '',
      u.id !== undefined ? `id=${u.id.toString('hex')}` : '',
    ]
      .filter(Boolean)
      .join(' ') || '(any)';
  if (!found.length)
    throw new TokenError(
      'TOKEN_KEY_MISSING',
      `token ${JSON.stringify(token.label)} has no private key ${what} (quorum-signer token list shows the keys there)`,
    );
  if (found.length > 1)
    throw new TokenError(
      'TOKEN_KEY_AMBIGUOUS',
      `token ${JSON.stringify(token.label)} has ${found.length} private keys matching ${what}; add object= and ` +
        'id= to the URI',
    );
  return found[0]!;
}

/** PKCS#11 errors with their stable codes; errors that are already ours pass through. */
function classify(e: unknown, context: string): QuorumError {
  if (e instanceof QuorumError) return e;
  const name = ckr(e);
  const msg = `${context}: ${name ?? (e as Error).message}`;
  switch (name) {
    case 'CKR_PIN_INCORRECT':
    case 'CKR_PIN_INVALID':
    case 'CKR_PIN_LEN_RANGE':
      return new TokenError(
        'TOKEN_PIN',
        `${msg}: the token refused the PIN (check --pin-file / ${PIN_ENV}; tokens lock after a few wrong PINs)`,
        { cause: e },
      );
    case 'CKR_PIN_LOCKED':
    case 'CKR_PIN_EXPIRED':
      return new TokenError(
        'TOKEN_PIN_LOCKED',
        `${msg}: the PIN is locked or expired; reset it with the security officer PIN or PUK`,
        { cause: e },
      );
    case 'CKR_TOKEN_NOT_PRESENT':
    case 'CKR_DEVICE_REMOVED':
    case 'CKR_SLOT_ID_INVALID':
    case 'CKR_TOKEN_NOT_RECOGNIZED':
      return new TokenError('TOKEN_NOT_PRESENT', `${msg}: the token is gone; plug it in and try again`, { cause: e });
    case 'CKR_MECHANISM_INVALID':
    case 'CKR_MECHANISM_PARAM_INVALID':
    case 'CKR_KEY_TYPE_INCONSISTENT':
    case 'CKR_KEY_FUNCTION_NOT_PERMITTED':
    case 'CKR_KEY_SIZE_RANGE':
    case 'CKR_DOMAIN_PARAMS_INVALID':
    case 'CKR_CURVE_NOT_SUPPORTED':
      return new TokenError(
        'TOKEN_MECHANISM',
        `${msg}: the token refuses this mechanism or key type (this client signs Ed25519 with CKM_EDDSA, P-256 ` +
          'with CKM_ECDSA, RSA with CKM_RSA_PKCS_PSS: SHA-256, MGF1-SHA-256, salt 32)',
        { cause: e },
      );
    default:
      return new TokenError('TOKEN_FAILED', msg, { cause: e });
  }
}

const STALE_CKR = new Set([
  'CKR_SESSION_HANDLE_INVALID',
  'CKR_SESSION_CLOSED',
  'CKR_OBJECT_HANDLE_INVALID',
  'CKR_KEY_HANDLE_INVALID',
  'CKR_CRYPTOKI_NOT_INITIALIZED',
  'CKR_USER_NOT_LOGGED_IN',
  'CKR_GENERAL_ERROR',
  'CKR_DEVICE_ERROR',
  'CKR_DEVICE_REMOVED',
  'CKR_TOKEN_NOT_PRESENT',
  'CKR_SLOT_ID_INVALID',
  'CKR_OPERATION_ACTIVE',
]);

/**
 * Errors after which the session or the module state cannot be trusted: start again from
 * C_Initialize. A missing token counts too: some modules (SoftHSM) only look for tokens then.
 */
function stale(e: unknown): boolean {
  return STALE_CKR.has(ckr(e) ?? '') || (e instanceof TokenError && e.code === 'TOKEN_NOT_PRESENT');
}

/** Run `fn` in a fresh session on the token the URI names, logged in; the session is closed afterwards. */
async function withSession<T>(
  modulePath: string,
  u: Pkcs11Uri,
  pin: PinSource,
  rw: boolean,
  fn: (p11: P11.PKCS11, session: Buffer, token: Token) => T | Promise<T>,
): Promise<T> {
  const m = Module.get(modulePath);
  const L = lib();
  let session: Buffer | null = null;
  let p11: P11.PKCS11 | null = null;
  try {
    p11 = m.api();
    const token = findToken(m, u);
    const thePin = await pinFor(token, pin);
    session = p11.C_OpenSession(token.slot, L.CKF_SERIAL_SESSION | (rw ? L.CKF_RW_SESSION : 0));
    login(p11, session, token, thePin);
    return await fn(p11, session, token);
  } catch (e) {
    if (stale(e)) m.reset();
    throw classify(e, `token (${modulePath})`);
  } finally {
    if (session && p11) {
      try {
        p11.C_CloseSession(session);
      } catch {
        /* the token may be gone */
      }
    }
  }
}

// --- the Signer ---------------------------------------------------------------------------------

const sha256 = (d: Buffer) => crypto.createHash('sha256').update(d).digest();

function derInteger(b: Buffer): Buffer {
  let v = unsigned(b);
  if (v[0]! & 0x80) v = Buffer.concat([Buffer.from([0]), v]);
  return Buffer.concat([Buffer.from([0x02, v.length]), v]);
}

/** PKCS#11 ECDSA signatures are r || s; metadata carries DER (tuf, like securesystemslib). */
export function ecdsaRawToDer(raw: Buffer): Buffer {
  const half = raw.length / 2;
  const body = Buffer.concat([derInteger(raw.subarray(0, half)), derInteger(raw.subarray(half))]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]); // at most 70 bytes for P-256
}

interface Plan {
  mechanism: P11.Mechanism;
  /** what the token signs: the data, or its SHA-256 digest computed here */
  input: 'data' | 'digest';
  outLength: number;
  der: boolean;
}

function plan(pk: PublicKey, mechanisms: Set<number>, preferTokenHash: boolean): Plan {
  const L = lib();
  const pss = { type: L.CK_PARAMS_RSA_PSS, hashAlg: L.CKM_SHA256, mgf: L.CKG_MGF1_SHA256, saltLen: 32 };
  const pick = (digest: Plan, data: Plan): Plan => {
    const [first, second] = preferTokenHash ? [data, digest] : [digest, data];
    if (mechanisms.has(first.mechanism.mechanism)) return first;
    if (mechanisms.has(second.mechanism.mechanism)) return second;
    throw new TokenError(
      'TOKEN_MECHANISM',
      `the token offers neither mechanism 0x${digest.mechanism.mechanism.toString(16)} nor 0x${data.mechanism.mechanism.toString(16)} ` +
        `for ${pk.algorithm}`,
    );
  };
  switch (pk.algorithm) {
    case 'ed25519': {
      const p: Plan = { mechanism: { mechanism: CKM_EDDSA }, input: 'data', outLength: 64, der: false };
      return pick(p, p);
    }
    case 'ecdsa-p256':
      return pick(
        { mechanism: { mechanism: L.CKM_ECDSA }, input: 'digest', outLength: 64, der: true },
        { mechanism: { mechanism: L.CKM_ECDSA_SHA256 }, input: 'data', outLength: 64, der: true },
      );
    case 'rsa-pss-sha256': {
      const n = (pk.bits ?? 2048) / 8;
      return pick(
        { mechanism: { mechanism: L.CKM_RSA_PKCS_PSS, parameter: pss }, input: 'digest', outLength: n, der: false },
        {
          mechanism: { mechanism: L.CKM_SHA256_RSA_PKCS_PSS, parameter: pss },
          input: 'data',
          outLength: n,
          der: false,
        },
      );
    }
  }
}

export interface TokenKeyRef {
  /** path of the PKCS#11 module (the URI's module-path is used when this is absent) */
  module?: string;
  uri: string;
}

export interface TokenSignerOptions extends TokenKeyRef {
  pin: PinSource;
  /** refuse to open when the key behind the URI has another public key (TOKEN_KEY_CHANGED) */
  fingerprint?: string;
  /** sign the data with the hash-on-token mechanisms (CKM_ECDSA_SHA256, CKM_SHA256_RSA_PKCS_PSS) where offered */
  preferTokenHash?: boolean;
}

export function modulePathOf(ref: TokenKeyRef): string {
  const p = ref.module ?? parsePkcs11Uri(ref.uri)['module-path'];
  if (!p) throw usage('no PKCS#11 module: give --module PATH (or module-path= in the URI)');
  return p;
}

interface Open {
  generation: number;
  session: Buffer;
  key: Buffer;
  plan: Plan;
}

/** A Signer over a private key on a PKCS#11 token. Create with `openTokenSigner`. */
export class TokenSigner implements Signer {
  publicKey!: PublicKey;
  label = '';
  private state: Open | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private pin: string | undefined;
  /** a PIN the token refused: never tried twice, so a long-running watch cannot lock the token */
  private refusedPin: string | undefined;
  private readonly module: Module;
  private readonly u: Pkcs11Uri;

  private constructor(private readonly opts: TokenSignerOptions) {
    this.u = parsePkcs11Uri(opts.uri);
    this.module = Module.get(modulePathOf(opts));
  }

  /** Find the key, log in, read its public key; the session stays open (the login challenge signs next). */
  static async open(opts: TokenSignerOptions): Promise<TokenSigner> {
    const s = new TokenSigner(opts);
    await s.withRetry('opening', async () => undefined);
    if (opts.fingerprint && s.publicKey.fingerprint !== opts.fingerprint) {
      s.close();
      throw new TokenError(
        'TOKEN_KEY_CHANGED',
        `the key at ${opts.uri} has fingerprint ${s.publicKey.fingerprint}, but you joined with ` +
          `${opts.fingerprint}; was the key replaced, or is another token plugged in?`,
      );
    }
    return s;
  }

  sign(data: Buffer): Promise<Buffer> {
    return this.withRetry('signing with', async (s, p11) => {
      p11.C_SignInit(s.session, s.plan.mechanism, s.key);
      const raw = await p11.C_SignAsync(
        s.session,
        s.plan.input === 'digest' ? sha256(data) : data,
        Buffer.alloc(s.plan.outLength),
      );
      const sig = s.plan.der && raw.length === 64 ? ecdsaRawToDer(raw) : Buffer.from(raw);
      // A token that returns garbage must not produce a bad submission.
      if (!verifySignature(this.publicKey, data, sig)) {
        throw new TokenError(
          'TOKEN_BAD_SIGNATURE',
          'the token returned a signature that does not verify under the public key of ' +
            `${JSON.stringify(this.label)} (${sig.length} bytes); nothing was used`,
        );
      }
      return sig;
    });
  }

  /** Close the session (the module stays loaded for the next call). */
  close(): void {
    this.drop(false);
  }

  /**
   * Run `fn` on a ready session, one operation at a time (PKCS#11 operations are per session).
   * After an error that leaves the session or module state in doubt, start once more from
   * C_Initialize: a re-plugged token then works, an absent one gives a clear TOKEN_NOT_PRESENT.
   */
  private withRetry<T>(what: string, fn: (s: Open, p11: P11.PKCS11) => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      for (let attempt = 0; ; attempt++) {
        try {
          const s = await this.ready();
          return await fn(s, this.module.api());
        } catch (e) {
          const again = stale(e);
          this.drop(again);
          if (again && attempt === 0) continue;
          throw classify(e, `${what} ${this.opts.uri}`);
        }
      }
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }

  /** A session logged in, with the key handle, at the module's current generation. */
  private async ready(): Promise<Open> {
    if (this.state && this.state.generation === this.module.generation) return this.state;
    this.drop(false);
    const L = lib();
    const p11 = this.module.api();
    const token = findToken(this.module, this.u);
    if (this.pin === undefined) this.pin = await pinFor(token, this.opts.pin);
    if (this.pin !== undefined && this.pin === this.refusedPin) {
      this.pin = undefined;
      throw new TokenError(
        'TOKEN_PIN',
        'the token already refused this PIN; not trying it again (tokens lock after a few wrong PINs): fix ' +
          `--pin-file / ${PIN_ENV}`,
      );
    }
    const session = p11.C_OpenSession(token.slot, L.CKF_SERIAL_SESSION);
    try {
      try {
        login(p11, session, token, this.pin);
      } catch (e) {
        if (ckr(e)?.startsWith('CKR_PIN_')) [this.refusedPin, this.pin] = [this.pin, undefined]; // ask again next time
        throw e;
      }
      const key = findPrivateKey(p11, session, this.u, token);
      const info = describeKey(p11, session, key);
      if (!this.publicKey) [this.publicKey, this.label] = [info.publicKey, info.label];
      else if (info.publicKey.fingerprint !== this.publicKey.fingerprint) {
        throw new TokenError(
          'TOKEN_KEY_CHANGED',
          `the key at ${this.opts.uri} changed (fingerprint ${info.publicKey.fingerprint}, expected ` +
            `${this.publicKey.fingerprint})`,
        );
      }
      const mechanisms = new Set(p11.C_GetMechanismList(token.slot));
      this.state = {
        generation: this.module.generation,
        session,
        key,
        plan: plan(this.publicKey, mechanisms, this.opts.preferTokenHash ?? false),
      };
      return this.state;
    } catch (e) {
      try {
        p11.C_CloseSession(session);
      } catch {
        /* gone */
      }
      throw e;
    }
  }

  private drop(resetModule: boolean): void {
    const s = this.state;
    this.state = null;
    if (s && s.generation === this.module.generation) {
      try {
        this.module.api().C_CloseSession(s.session);
      } catch {
        /* the token may be gone */
      }
    }
    if (resetModule) this.module.reset();
  }
}

export function openTokenSigner(opts: TokenSignerOptions): Promise<TokenSigner> {
  return TokenSigner.open(opts);
}

// --- key management -----------------------------------------------------------------------------

export type TokenKeyType = 'ed25519' | 'ecdsa' | 'rsa' | 'rsa3072' | 'rsa4096';
export const TOKEN_KEY_TYPES: readonly TokenKeyType[] = ['ed25519', 'ecdsa', 'rsa', 'rsa3072', 'rsa4096'];

export interface TokenKey {
  token: string;
  label: string;
  id: Buffer;
  uri: string;
  /** absent when the key cannot be used here; `unsupported` says why */
  publicKey?: PublicKey;
  algorithm?: Algorithm;
  unsupported?: string;
}

/**
 * Generate a key pair on the token: the private key sensitive and non-extractable, the public
 * key a public token object beside it with the same label and a random 8-byte id.
 */
export async function generateTokenKey(opts: {
  module: string;
  token: string;
  label: string;
  type: TokenKeyType;
  pin: PinSource;
  id?: Buffer;
}): Promise<TokenKey> {
  const L = lib();
  return withSession(opts.module, { token: opts.token }, opts.pin, true, (p11, session, token) => {
    if (find(p11, session, [{ type: L.CKA_LABEL, value: opts.label }]).length) {
      throw new TokenError(
        'TOKEN_KEY_EXISTS',
        `token ${JSON.stringify(token.label)} already has an object labelled ${JSON.stringify(opts.label)}; ` +
          'choose another --label (a key is never overwritten)',
      );
    }
    const id = opts.id ?? crypto.randomBytes(8);
    const common = [
      { type: L.CKA_TOKEN, value: true },
      { type: L.CKA_LABEL, value: opts.label },
      { type: L.CKA_ID, value: id },
    ];
    const pub: P11.Template = [
      { type: L.CKA_CLASS, value: L.CKO_PUBLIC_KEY },
      ...common,
      { type: L.CKA_PRIVATE, value: false },
      { type: L.CKA_VERIFY, value: true },
    ];
    const priv: P11.Template = [
      { type: L.CKA_CLASS, value: L.CKO_PRIVATE_KEY },
      ...common,
      { type: L.CKA_PRIVATE, value: true },
      { type: L.CKA_SENSITIVE, value: true },
      { type: L.CKA_EXTRACTABLE, value: false },
      { type: L.CKA_SIGN, value: true },
    ];
    let mechanism: number;
    if (opts.type === 'ed25519' || opts.type === 'ecdsa') {
      const ed = opts.type === 'ed25519';
      mechanism = ed ? CKM_EC_EDWARDS_KEY_PAIR_GEN : L.CKM_EC_KEY_PAIR_GEN;
      pub.push(
        { type: L.CKA_KEY_TYPE, value: ed ? CKK_EC_EDWARDS : L.CKK_EC },
        { type: L.CKA_EC_PARAMS, value: ed ? OID.ed25519 : OID.p256 },
      );
      priv.push({ type: L.CKA_KEY_TYPE, value: ed ? CKK_EC_EDWARDS : L.CKK_EC });
    } else {
      mechanism = L.CKM_RSA_PKCS_KEY_PAIR_GEN;
      const bits = opts.type === 'rsa' ? 2048 : opts.type === 'rsa3072' ? 3072 : 4096;
      pub.push(
        { type: L.CKA_KEY_TYPE, value: L.CKK_RSA },
        { type: L.CKA_MODULUS_BITS, value: bits },
        { type: L.CKA_PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) },
      );
      priv.push({ type: L.CKA_KEY_TYPE, value: L.CKK_RSA });
    }
    const pair = p11.C_GenerateKeyPair(session, { mechanism }, pub, priv);
    const info = describeKey(p11, session, pair.privateKey);
    return {
      token: token.label,
      label: info.label,
      id: info.id,
      uri: formatPkcs11Uri({ token: token.label, object: info.label, id: info.id }),
      publicKey: info.publicKey,
      algorithm: info.publicKey.algorithm,
    };
  });
}

/** Every private key on the matching tokens, with what we can use it for. */
export async function listTokenKeys(opts: { module: string; token?: string; pin: PinSource }): Promise<TokenKey[]> {
  const L = lib();
  const m = Module.get(opts.module);
  let tokens: string[];
  try {
    const p11 = m.api();
    tokens = p11
      .C_GetSlotList(true)
      .map((s) => p11.C_GetTokenInfo(s))
      .filter((t) => t.flags & L.CKF_TOKEN_INITIALIZED)
      .map((t) => trimmed(t.label))
      .filter((l) => opts.token === undefined || l === opts.token);
  } catch (e) {
    throw classify(e, `token (${opts.module})`);
  }
  if (!tokens.length)
    throw new TokenError(
      'TOKEN_NOT_PRESENT',
      opts.token === undefined
        ? `no initialised token in ${opts.module}`
        : `no token ${JSON.stringify(opts.token)} in ${opts.module}`,
    );
  const out: TokenKey[] = [];
  for (const label of new Set(tokens)) {
    const keys = await withSession(opts.module, { token: label }, opts.pin, false, (p11, session, token) =>
      find(p11, session, [{ type: L.CKA_CLASS, value: L.CKO_PRIVATE_KEY }]).map((priv): TokenKey => {
        const keyLabel = attr(p11, session, priv, L.CKA_LABEL)?.toString('utf8') ?? '';
        const id = attr(p11, session, priv, L.CKA_ID) ?? Buffer.alloc(0);
        const uri = formatPkcs11Uri({ token: token.label, object: keyLabel, id });
        try {
          const info = describeKey(p11, session, priv);
          return {
            token: token.label,
            label: keyLabel,
            id,
            uri,
            publicKey: info.publicKey,
            algorithm: info.publicKey.algorithm,
          };
        } catch (e) {
          if (e instanceof TokenError) return { token: token.label, label: keyLabel, id, uri, unsupported: e.message };
          throw e;
        }
      }),
    );
    out.push(...keys.sort((a, b) => a.label.localeCompare(b.label)));
  }
  return out;
}

/** The public key of the token key the URI names (for enrollment). */
export async function tokenPublicKey(opts: TokenKeyRef & { pin: PinSource }): Promise<PublicKey> {
  const u = parsePkcs11Uri(opts.uri);
  return withSession(
    modulePathOf(opts),
    u,
    opts.pin,
    false,
    (p11, session, token) => describeKey(p11, session, findPrivateKey(p11, session, u, token)).publicKey,
  );
}
