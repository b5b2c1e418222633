/**
 * `quorum-signer`'s commands, each with its own options: the keyholder's side. Keys stay on this
 * machine; the coordinator gets signatures only, and only over payloads this client has checked
 * against its own pinned roots.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import type { Dialect } from '../protocol/canonical.js';
import { command, group, intArg, UsageError, type Io, type Options } from '../protocol/cli.js';
import { isRetryable } from '../protocol/codes.js';
import { QuorumError } from '../protocol/errors.js';
import { jsonOf, readJsonAs, readText } from '../protocol/files.js';
import { WIRE_LIMITS } from '../protocol/limits.js';
import {
  encodeSig,
  keyId,
  publicKeyFrom,
  readPublicKeyFile,
  toMetadataKey,
  type KeyKind,
  type PublicKey,
} from '../protocol/keys.js';
import type { Signer } from '../protocol/metadata/build.js';
import { DAY_MS, HOUR_MS, SECOND_MS } from '../protocol/time.js';
import { checkScheme, fetchPinnedCertificate, requestJson, TransportError, type Pin } from '../protocol/transport.js';
import { HealthSchema, type CertRoundInfo, type RoundInfo } from '../protocol/wire.js';
import { groupPublicKey } from '../protocol/frost.js';
import { FrostStore } from './frost-store.js';
import { frostDir, heldGroups, joinCeremony, signSession } from './frost-participant.js';
import { SignerConnection } from './connection.js';
import {
  checkScryptN,
  encryptKey,
  fileSigner,
  newKeyFile,
  readGarageSignKey,
  readKeyFile,
  SCRYPT_DEFAULT,
  writeKeyFile,
} from './keystore.js';
import {
  generateTokenKey,
  listTokenKeys,
  modulePathOf,
  openTokenSigner,
  parsePkcs11Uri,
  PIN_ENV,
  TOKEN_KEY_TYPES,
  tokenPin,
  tokenPublicKey,
  TokenSigner,
  type TokenKey,
  type TokenKeyType,
} from './pkcs11.js';
import { renderSummary, summarise } from './review.js';
import { confirm, passphrase } from './secrets.js';
import { displayJson, displayText as esc } from '../protocol/display.js';
import { checkIssuer, loadApprovers, pinApprovers, type CheckedCert } from './cert-trust.js';
import { advanceRoots, Refusal, TrustStore, type CheckedProposal, type Payload } from './trust.js';
import {
  askedFor,
  bundleSource,
  certText,
  checkMetadataRound,
  decideCertRound,
  type Asked,
  type Bundle,
  type CertUse,
  type MetadataSource,
} from './workflow.js';

// --- options more than one command takes -------------------------------------------------------------

const HOME = {
  home: {
    type: 'string',
    value: 'DIR',
    help: "where this keyholder's config, pins and shares live (default ~/.quorum-signer, or QUORUM_SIGNER_HOME)",
  },
} as const satisfies Options;

const PASSPHRASE = {
  'passphrase-file': {
    type: 'string',
    value: 'FILE',
    help: 'read the passphrase from FILE (else QUORUM_PASSPHRASE, else a prompt)',
    reads: { is: 'file', holds: 'text' },
  },
} as const satisfies Options;

const PIN = {
  'pin-file': {
    type: 'string',
    value: 'FILE',
    help: `read a token key's PIN from FILE (else ${PIN_ENV}, else a prompt)`,
    reads: { is: 'file', holds: 'text' },
  },
} as const satisfies Options;

/** What unlocking this keyholder's key may need: a passphrase (key file) or a PIN (token key). */
const SECRETS = { ...PASSPHRASE, ...PIN } as const;

const JSON_OUT = { json: { type: 'boolean', default: false, help: 'print JSON for machines' } } as const;

const YES = {
  yes: { type: 'boolean', default: false, help: 'do not ask for confirmation (the review is still printed)' },
} as const;

const SCRYPT = {
  'scrypt-n': {
    type: 'string',
    value: 'N',
    help: `the scrypt cost of the new file, a power of two from 2^14 to 2^20 (default ${SCRYPT_DEFAULT.N})`,
  },
} as const;

const TIMEOUT = {
  'timeout-s': {
    type: 'string',
    value: 'S',
    help: 'give up waiting for the other participants after S seconds (default 3600)',
  },
} as const;

const ROUND = [{ name: 'ROUND' }] as const;

/** When a FROST command gives up waiting for the others: --timeout-s from now, an hour by default. */
function deadlineOf(v: { 'timeout-s'?: string }): number {
  const s = intArg('--timeout-s', v['timeout-s'], { min: 1, max: (7 * DAY_MS) / SECOND_MS });
  return Date.now() + (s === undefined ? HOUR_MS : s * SECOND_MS);
}

/** A key on a PKCS#11 token, as config.json keeps it. */
interface TokenKeyConfig {
  uri: string;
  module: string;
  /** of the public key at join time: another key behind the URI is refused (TOKEN_KEY_CHANGED) */
  fingerprint?: string;
}

/** Where the keyholder's key is: an encrypted key file or a token key (one of the two). */
interface KeyRef {
  keyFile?: string;
  tokenKey?: TokenKeyConfig;
}

interface Config extends KeyRef {
  server: string;
  pin: Pin | null;
  unsafeAllowPlaintext: boolean;
  /** Pinned at join: a coordinator answering with another id or dialect is refused (SERVER_CHANGED). */
  serverId?: string;
  dialect?: Dialect;
  /** join --trust-first-root: the first root the coordinator releases is trusted on first use. */
  trustFirstRoot?: boolean;
}

function homeOf(v: { home?: string }): string {
  return path.resolve(v.home ?? process.env.QUORUM_SIGNER_HOME ?? path.join(os.homedir(), '.quorum-signer'));
}

function writeConfig(home: string, cfg: Config): void {
  fs.writeFileSync(path.join(home, 'config.json'), JSON.stringify(cfg, null, 2) + '\n', { mode: 0o600 });
}

function loadConfig(home: string): Config {
  const file = path.join(home, 'config.json');
  if (!fs.existsSync(file))
    throw new QuorumError(
      'FILE_MISSING',
      `no ${file}: run quorum-signer join URL --key KEYFILE (or --token-key URI --module M) first`,
    );
  return readJsonAs(file, '', ConfigSchema, 'the config.json quorum-signer join writes') as unknown as Config;
}

/** What config.json may hold (an offline machine's names only its key); the rest is checked where it is used. */
const ConfigSchema = z.looseObject({
  server: z.string().optional(),
  keyFile: z.string().optional(),
  tokenKey: z.looseObject({ uri: z.string(), module: z.string() }).optional(),
});

type SecretOptions = { 'passphrase-file'?: string; 'pin-file'?: string };

function pinSource(v: SecretOptions, uri: string): () => Promise<string> {
  const token = parsePkcs11Uri(uri).token;
  return () =>
    tokenPin({
      file: v['pin-file'],
      uri,
      prompt: `PIN for token${token === undefined ? '' : ` ${JSON.stringify(token)}`}: `,
    });
}

async function loadSigner(ref: KeyRef, v: SecretOptions): Promise<Signer> {
  if (ref.tokenKey)
    return openTokenSigner({
      module: ref.tokenKey.module,
      uri: ref.tokenKey.uri,
      fingerprint: ref.tokenKey.fingerprint,
      pin: pinSource(v, ref.tokenKey.uri),
    });
  if (!ref.keyFile)
    throw new UsageError('no key: config.json names neither keyFile nor tokenKey; run quorum-signer join again');
  const keyFile = ref.keyFile;
  return fileSigner(
    keyFile,
    await passphrase({ file: v['passphrase-file'], prompt: `passphrase for ${path.basename(keyFile)}: ` }),
  );
}

/** Close a token session when done (a key file has nothing to close). */
function closeSigner(s: Signer): void {
  if (s instanceof TokenSigner) s.close();
}

// --- keys --------------------------------------------------------------------------------------

const KEY_TYPES = ['ed25519', 'ecdsa', 'rsa', 'rsa3072', 'rsa4096'] as const;

/** --scrypt-n, checked before anything is asked or written: a key file its reader would refuse is never made. */
function scryptN(flag: string | undefined): number {
  if (flag === undefined) return SCRYPT_DEFAULT.N;
  const n = intArg('--scrypt-n', flag, { min: 1, max: Number.MAX_SAFE_INTEGER })!;
  try {
    return checkScryptN(n);
  } catch (e) {
    throw new UsageError(`--scrypt-n: ${(e as Error).message}`);
  }
}

function writeOut(io: Io, out: string, kf: ReturnType<typeof newKeyFile>, json: boolean): number {
  writeKeyFile(`${out}.key.json`, kf);
  fs.writeFileSync(`${out}.pub.pem`, kf.publicKey);
  const pk = readKeyFile(`${out}.key.json`);
  const ids: Record<string, string> = {};
  for (const d of ['ota', 'tuf'] as const) {
    try {
      ids[d] = keyId(toMetadataKey(publicKeyFrom(kf.publicKey), d), d);
    } catch {
      ids[d] = '(not usable in this dialect)';
    }
  }
  if (json)
    io.out(
      JSON.stringify(
        {
          keyFile: `${out}.key.json`,
          publicKey: `${out}.pub.pem`,
          algorithm: pk.algorithm,
          fingerprint: pk.fingerprint,
          keyIds: ids,
        },
        null,
        2,
      ),
    );
  else {
    io.out(`wrote ${out}.key.json (encrypted private key, mode 0600) and ${out}.pub.pem (public key)`);
    io.out(`  ${pk.algorithm}, fingerprint ${pk.fingerprint}`);
    io.out(`  key id: ota ${ids.ota}, tuf ${ids.tuf}`);
    io.out(`give ${out}.pub.pem to your release coordinator: quorum keyholder add NAME ${path.basename(out)}.pub.pem`);
  }
  return 0;
}

const OUT_NAME = {
  out: { type: 'string', value: 'NAME', help: 'write NAME.key.json (encrypted) and NAME.pub.pem' },
} as const;

const keygen = command({
  synopsis: '--out NAME [--type ed25519|ecdsa|rsa] [--passphrase-file F] [--scrypt-n N]',
  summary: 'new encrypted key file NAME.key.json and NAME.pub.pem',
  section: 'Keys',
  description:
    'Writes NAME.key.json (private key, encrypted with your passphrase: scrypt + AES-256-GCM)\n' +
    'and NAME.pub.pem (hand this to your release coordinator). ecdsa is for the tuf dialect only.',
  options: {
    ...OUT_NAME,
    type: { type: 'string', value: 'T', help: `the key type: ${KEY_TYPES.join(', ')} (default ed25519)` },
    ...SCRYPT,
    ...PASSPHRASE,
    ...JSON_OUT,
  },
  positionals: [],
  async run({ values }, io) {
    if (!values.out) throw new UsageError('keygen needs --out NAME');
    const kind = (values.type ?? 'ed25519') as KeyKind;
    if (!(KEY_TYPES as readonly string[]).includes(kind))
      throw new UsageError(`--type must be ${KEY_TYPES.slice(0, -1).join(', ')} or ${KEY_TYPES.at(-1)}`);
    const N = scryptN(values['scrypt-n']);
    const pass = await passphrase({ file: values['passphrase-file'], prompt: 'new passphrase: ', confirm: true });
    return writeOut(io, values.out, newKeyFile(kind, pass, { ...SCRYPT_DEFAULT, N }), values.json);
  },
});

const importGs = command({
  synopsis: ['FILE.sec --out NAME [--passphrase-file F]', 'credentials.zip --entry targets.sec --out NAME'],
  summary: 'encrypt a garage-sign private key into a key file',
  section: 'Keys',
  description:
    'Encrypt a garage-sign private key (targets.sec, root.sec, or the key pair the reposerver returns)\n' +
    'into NAME.key.json. From a zip, only that entry is read, in memory.',
  options: {
    ...OUT_NAME,
    entry: { type: 'string', value: 'NAME', help: 'the entry of credentials.zip to import (e.g. targets.sec)' },
    ...SCRYPT,
    ...PASSPHRASE,
    ...JSON_OUT,
  },
  positionals: [{ name: 'FILE', reads: { is: 'file', holds: 'garage-sign-key' } }],
  async run({ values, positionals: [file] }, io) {
    if (!values.out) throw new UsageError('import-garage-sign needs --out NAME');
    const N = scryptN(values['scrypt-n']);
    // The key is read (and checked) before the new passphrase is asked for.
    const key = readGarageSignKey(file!, values.entry);
    const pass = await passphrase({ file: values['passphrase-file'], prompt: 'new passphrase: ', confirm: true });
    return writeOut(io, values.out, encryptKey(key, pass, { ...SCRYPT_DEFAULT, N }), values.json);
  },
});

// --- token keys (PKCS#11) --------------------------------------------------------------------------

const MODULE = {
  module: {
    type: 'string',
    value: 'M',
    help: "the token's PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so",
  },
} as const;

function keyIdsOf(pk: PublicKey): { ota: string; tuf: string } {
  const id = (d: Dialect) => {
    try {
      return keyId(toMetadataKey(pk, d), d);
    } catch {
      return `not usable in ${d}`;
    }
  };
  return { ota: id('ota'), tuf: id('tuf') };
}

function tokenKeyJson(k: TokenKey) {
  return {
    token: k.token,
    label: k.label,
    id: k.id.toString('hex'),
    uri: k.uri,
    algorithm: k.algorithm ?? null,
    fingerprint: k.publicKey?.fingerprint ?? null,
    keyIds: k.publicKey ? keyIdsOf(k.publicKey) : null,
    ...(k.unsupported ? { unsupported: k.unsupported } : {}),
  };
}

function needModule(v: { module?: string }, cmd: string): string {
  if (!v.module)
    throw new UsageError(
      `token ${cmd} needs --module PATH (the token's PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so)`,
    );
  return v.module;
}

const pinFor = (v: { 'pin-file'?: string }, label: string | undefined) => () =>
  tokenPin({ file: v['pin-file'], prompt: `PIN for token${label === undefined ? '' : ` ${JSON.stringify(label)}`}: ` });

const token = group({
  summary: 'keys on a PKCS#11 token: keygen, list, export-public',
  section: 'Hardware tokens (PKCS#11)',
  description:
    'Keys on a PKCS#11 token (YubiKey, Nitrokey, an HSM, SoftHSM). A key is named by an RFC 7512\n' +
    "pkcs11: URI plus --module, the path of the token's PKCS#11 library. The PIN comes from\n" +
    `--pin-file FILE, else ${PIN_ENV}, else a prompt. Ed25519 and RSA work in both dialects; ECDSA P-256\n` +
    'in tuf only. Then: quorum-signer join URL --token-key URI --module M.',
  commands: {
    keygen: command({
      synopsis: '--module M --token LABEL --label NAME [--type ed25519|ecdsa|rsa|rsa3072|rsa4096] [--id HEX]',
      summary: 'new non-extractable key on the token; prints its pkcs11: URI',
      description:
        'Generate a key pair on the token: the private key is sensitive and cannot be extracted, the public\n' +
        "key is stored beside it under the same label and id (random 8 bytes unless --id). Prints the key's\n" +
        'pkcs11: URI for join and export-public. An existing label is never overwritten. ecdsa (P-256) is for\n' +
        'the tuf dialect only.',
      options: {
        ...MODULE,
        token: { type: 'string', value: 'LABEL', help: 'the token' },
        label: { type: 'string', value: 'NAME', help: "the new key's label" },
        type: { type: 'string', value: 'T', help: `the key type: ${TOKEN_KEY_TYPES.join(', ')} (default ed25519)` },
        id: { type: 'string', value: 'HEX', help: "the new key's CKA_ID (default 8 random bytes)" },
        ...PIN,
        ...JSON_OUT,
      },
      positionals: [],
      async run({ values }, io) {
        const module = needModule(values, 'keygen');
        if (!values.token || !values.label)
          throw new UsageError('token keygen needs --token LABEL (the token) and --label NAME (the new key)');
        const type = (values.type ?? 'ed25519') as TokenKeyType;
        if (!TOKEN_KEY_TYPES.includes(type))
          throw new UsageError(`--type must be one of ${TOKEN_KEY_TYPES.join(', ')}`);
        if (values.id !== undefined && !/^([0-9a-fA-F]{2})+$/.test(values.id))
          throw new UsageError('--id must be hex bytes, e.g. 01 or a1b2');
        const k = await generateTokenKey({
          module,
          token: values.token,
          label: values.label,
          type,
          pin: pinFor(values, values.token),
          id: values.id === undefined ? undefined : Buffer.from(values.id, 'hex'),
        });
        const j = tokenKeyJson(k);
        if (values.json) return (io.out(JSON.stringify(j, null, 2)), 0);
        io.out(
          `generated ${j.algorithm} key ${JSON.stringify(k.label)} (id ${j.id}) on token ` +
            `${JSON.stringify(k.token)}; the private key cannot leave the token`,
        );
        io.out(`  uri: ${k.uri}`);
        io.out(`  fingerprint ${j.fingerprint}`);
        io.out(`  key id: ota ${j.keyIds!.ota}, tuf ${j.keyIds!.tuf}`);
        io.out(`next: quorum-signer token export-public --module ${module} --key '${k.uri}' --out ${k.label}.pub.pem`);
        return 0;
      },
    }),
    list: command({
      synopsis: '--module M [--token LABEL]',
      summary: 'keys on the token, with their key ids in both dialects',
      description:
        'Show every private key on the token(s): label, id, algorithm, pkcs11: URI, and the key id each\n' +
        'dialect gives it (ota: sha256 of the public key; tuf: sha256 of the canonical key object).\n' +
        'Keys of a type this tool cannot sign with are listed with the reason.',
      options: { ...MODULE, token: { type: 'string', value: 'LABEL', help: 'only this token' }, ...PIN, ...JSON_OUT },
      positionals: [],
      async run({ values }, io) {
        const keys = await listTokenKeys({
          module: needModule(values, 'list'),
          token: values.token,
          pin: pinFor(values, values.token),
        });
        if (values.json) return (io.out(JSON.stringify(keys.map(tokenKeyJson), null, 2)), 0);
        if (!keys.length) io.out('no private keys on the token');
        for (const k of keys.map(tokenKeyJson)) {
          io.out(
            `${k.label}  id ${k.id || '(none)'}  ${k.algorithm ?? 'not usable'}  token ${JSON.stringify(k.token)}`,
          );
          io.out(`  uri: ${k.uri}`);
          if (k.keyIds) io.out(`  key id: ota ${k.keyIds.ota}\n          tuf ${k.keyIds.tuf}`);
          else io.out(`  not usable: ${k.unsupported}`);
        }
        return 0;
      },
    }),
    'export-public': command({
      synopsis: '--module M --key URI --out FILE.pem',
      summary: 'the public key, for enrollment (quorum keyholder add)',
      description:
        'Write the public key of the token key URI as PEM, for enrollment: quorum keyholder add NAME FILE.pem\n' +
        '(or quorum init --keyholder NAME=FILE.pem). An existing FILE.pem is not overwritten.',
      options: {
        ...MODULE,
        key: { type: 'string', value: 'URI', help: "the key's pkcs11: URI" },
        out: { type: 'string', value: 'FILE.pem', help: 'where to write the public key' },
        ...PIN,
        ...JSON_OUT,
      },
      positionals: [],
      async run({ values }, io) {
        if (!values.key || !values.out) throw new UsageError('token export-public needs --key URI and --out FILE.pem');
        const uri = values.key;
        const pk = await tokenPublicKey({
          module: needModule(values, 'export-public'),
          uri,
          pin: pinFor(values, parsePkcs11Uri(uri).token),
        });
        try {
          fs.writeFileSync(values.out, pk.keyObject.export({ format: 'pem', type: 'spki' }).toString(), { flag: 'wx' });
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'EEXIST')
            throw new UsageError(`${values.out} exists; choose another --out`);
          throw e;
        }
        const ids = keyIdsOf(pk);
        if (values.json)
          return (
            io.out(
              JSON.stringify(
                { publicKey: values.out, uri, algorithm: pk.algorithm, fingerprint: pk.fingerprint, keyIds: ids },
                null,
                2,
              ),
            ),
            0
          );
        io.out(`wrote ${values.out} (${pk.algorithm}, fingerprint ${pk.fingerprint})`);
        io.out(`  key id: ota ${ids.ota}, tuf ${ids.tuf}`);
        io.out(`give it to your release coordinator: quorum keyholder add NAME ${path.basename(values.out)}`);
        return 0;
      },
    }),
  },
});

// --- setup -------------------------------------------------------------------------------------

const RootFileSchema = z.looseObject({
  signed: z.looseObject({ _type: z.string().regex(/^root$/i), version: z.number().int().min(1) }),
});

/** A root metadata file a person named, read and checked to be root metadata (not yet verified). */
function readRootFile(file: string, what: string): { version: number; text: string } {
  const text = readText(file, what);
  const r = RootFileSchema.safeParse(jsonOf(text, what, file));
  if (!r.success) throw new QuorumError('SCHEMA_INVALID', `${what} ${file}: not root metadata (signed._type "root")`);
  return { version: r.data.signed.version, text };
}

/** Pin a root read by readRootFile: verified against itself, the first root this keyholder trusts. */
function pinRoot(home: string, root: { version: number; text: string }, dialect?: Dialect): number {
  const trust = new TrustStore(home, dialect);
  if (trust.latest())
    throw new UsageError(`a root is already pinned in ${home}; newer roots are walked and verified automatically`);
  advanceRoots(trust, [{ version: root.version, file: root.text }]);
  return root.version;
}

const join = command({
  synopsis: [
    'URL --key KEYFILE (--trusted-root root.json | --trust-first-root) [--tls-fingerprint SHA256] ' +
      '[--unsafe-allow-plaintext]',
    'URL --token-key PKCS11-URI --module MODULE.so [--pin-file F] [...]',
  ],
  summary: 'remember the coordinator, your key and your trust anchor',
  section: 'Setup',
  description:
    'Remember the coordinator (https:// with its certificate fingerprint pinned, or http:// on loopback)\n' +
    'and the server id and dialect it answers with now (a coordinator that later answers otherwise is\n' +
    'refused: SERVER_CHANGED), your key (a key file, or a key on a PKCS#11 token named by its pkcs11: URI\n' +
    "and the token's module; the token is opened once now to check the key), and the root you trust:\n" +
    '--trusted-root, or --trust-first-root to trust whichever root the coordinator releases first (trust\n' +
    'on first use: a choice, never the default). --unsafe-allow-plaintext permits http:// to another host:\n' +
    'anyone on the network can then read and alter the traffic (your signatures stay bound to what you\n' +
    'reviewed).',
  options: {
    ...HOME,
    key: {
      type: 'string',
      value: 'KEYFILE',
      help: 'your key file (NAME.key.json)',
      reads: { is: 'file', holds: 'key-file' },
    },
    'token-key': { type: 'string', value: 'URI', help: 'your key on a PKCS#11 token (its pkcs11: URI)' },
    ...MODULE,
    ...PIN,
    'trusted-root': {
      type: 'string',
      value: 'FILE',
      help: 'the root you trust, obtained out of band',
      reads: { is: 'file', holds: 'json' },
    },
    'trust-first-root': {
      type: 'boolean',
      default: false,
      help: 'trust the first root the coordinator releases (trust on first use)',
    },
    'tls-fingerprint': {
      type: 'string',
      value: 'SHA256',
      help: "the coordinator's TLS certificate fingerprint (quorum serve prints it)",
    },
    'unsafe-allow-plaintext': {
      type: 'boolean',
      default: false,
      help: 'UNSAFE: allow http:// to a host that is not loopback (anyone on the network reads and alters it)',
    },
  },
  positionals: [{ name: 'URL' }],
  async run({ values, positionals: [url] }, io) {
    if (!values.key === !values['token-key'])
      throw new UsageError('join needs either --key KEYFILE or --token-key URI --module MODULE');
    if (values.module && !values['token-key']) throw new UsageError('--module goes with --token-key');
    if (!values['trusted-root'] === !values['trust-first-root']) {
      throw new UsageError(
        values['trusted-root']
          ? '--trusted-root and --trust-first-root exclude each other'
          : 'join needs the root you trust: --trusted-root ROOT.json (a copy obtained out of band), or ' +
              '--trust-first-root to trust the first root the coordinator releases (trust on first use)',
      );
    }
    // What was named on this machine is read before the coordinator is asked anything.
    if (values.key) readKeyFile(values.key);
    const root = values['trusted-root'] ? readRootFile(values['trusted-root'], '--trusted-root') : null;
    const home = homeOf(values);
    const server = url!
      .replace(/\/v1\/ws$/, '')
      .replace(/^ws/, 'http')
      .replace(/\/$/, '');
    let pin: Pin | null = null;
    if (server.startsWith('https:')) {
      if (!values['tls-fingerprint'])
        throw new UsageError(
          'an https:// coordinator needs --tls-fingerprint (ask your release coordinator; quorum serve prints it)',
        );
      pin = await fetchPinnedCertificate(server, values['tls-fingerprint']);
    }
    checkScheme(server, pin, values['unsafe-allow-plaintext']);
    // The coordinator's identity as it answers now (over the pinned certificate): pinned from here on.
    const health = HealthSchema.safeParse(
      await requestJson(`${server}/v1/health`, { pin, unsafeAllowPlaintext: values['unsafe-allow-plaintext'] }),
    );
    if (!health.success)
      throw new TransportError('BAD_RESPONSE', `${server}/v1/health does not answer like an uptane-quorum coordinator`);
    fs.mkdirSync(home, { recursive: true, mode: 0o700 });
    let key: KeyRef;
    let tokenKeyPk: PublicKey | null = null;
    if (values.key) {
      key = { keyFile: path.resolve(values.key) };
    } else {
      const uri = values['token-key']!;
      const given = modulePathOf({ uri, module: values.module });
      const module = given.includes('/') ? path.resolve(given) : given; // a bare name is found by the dynamic loader
      // PIN, key and key type checked now, not at the first round
      const s = await openTokenSigner({ module, uri, pin: pinSource(values, uri) });
      s.close();
      tokenKeyPk = s.publicKey;
      key = { tokenKey: { uri, module, fingerprint: s.publicKey.fingerprint } };
    }
    const { serverId, dialect } = health.data;
    const rootVersion = root ? pinRoot(home, root, dialect) : null;
    const cfg: Config = {
      server,
      pin,
      ...key,
      unsafeAllowPlaintext: values['unsafe-allow-plaintext'],
      serverId,
      dialect,
      ...(values['trust-first-root'] ? { trustFirstRoot: true } : {}),
    };
    writeConfig(home, cfg);
    io.out(
      `joined ${server}: coordinator ${serverId} (${dialect})${pin ? `, TLS pinned to ${pin.fingerprint256}` : ''}; ` +
        `config in ${home}`,
    );
    if (tokenKeyPk)
      io.out(
        `signing with the token key ${cfg.tokenKey!.uri} (${tokenKeyPk.algorithm}, fingerprint ` +
          `${tokenKeyPk.fingerprint})`,
      );
    if (rootVersion !== null) io.out(`pinned trusted root version ${rootVersion}`);
    else io.out('warning: --trust-first-root: the first root the coordinator releases will be trusted on first use');
    return 0;
  },
});

const trust = command({
  synopsis: 'ROOT.json [--home DIR]',
  summary: 'pin a trusted root (for offline signing)',
  section: 'Setup',
  description: 'Pin the root you trust; newer roots are then walked and verified before anything is signed.',
  options: { ...HOME },
  positionals: [{ name: 'ROOT.json', reads: { is: 'file', holds: 'json' } }],
  run({ values, positionals: [file] }, io) {
    io.out(`pinned trusted root version ${pinRoot(homeOf(values), readRootFile(file!, 'trust'))}`);
    return 0;
  },
});

// --- rounds ------------------------------------------------------------------------------------

interface Session {
  home: string;
  conn: SignerConnection;
  signer: Signer;
  dialect: Dialect;
  io: Io;
}

async function session(io: Io, v: { home?: string } & SecretOptions, reconnect = false): Promise<Session> {
  const home = homeOf(v);
  const cfg = loadConfig(home);
  if (!cfg.server)
    throw new UsageError(`${path.join(home, 'config.json')} names no coordinator: run quorum-signer join URL first`);
  const signer = await loadSigner(cfg, v);
  try {
    const expect = cfg.serverId && cfg.dialect ? { serverId: cfg.serverId, dialect: cfg.dialect } : undefined;
    const conn = new SignerConnection({
      server: cfg.server,
      pin: cfg.pin,
      signer,
      unsafeAllowPlaintext: cfg.unsafeAllowPlaintext,
      reconnect,
      expect,
    });
    const hello = await conn.connect();
    if (!expect) {
      // A config.json from before joins pinned the coordinator: pin the one answering now.
      writeConfig(home, { ...cfg, serverId: hello.serverId, dialect: hello.dialect });
      io.err(
        `pinned coordinator ${hello.serverId} (${hello.dialect}) in ${path.join(home, 'config.json')}; another ` +
          'will be refused (SERVER_CHANGED)',
      );
    }
    return { home, conn, signer, dialect: hello.dialect, io };
  } catch (e) {
    closeSigner(signer);
    throw e;
  }
}

function endSession(s: Session): void {
  s.conn.close();
  closeSigner(s.signer);
}

/** Released metadata and rounds from the coordinator (`fetched`: a payload already received for the round asked). */
function socketSource(s: Session, fetched?: Payload): MetadataSource {
  return {
    released: (afterRootVersion) => s.conn.request({ type: 'released.get', afterRootVersion }, 'released'),
    round: async (id) => fetched ?? (await s.conn.request({ type: 'round.get', round: id }, 'round.payload')),
  };
}

/**
 * Run the trust workflow (workflow.ts) on round `asked` from the coordinator, against this
 * signer's own trust, for this signer's key or for each of the given keys (a FROST group's): the
 * first that the round needs (else NOT_NEEDED). With `forSigning`, only the bytes a person
 * reviewed for that round id (if they did) pass (PAYLOAD_CHANGED).
 */
async function checkRound(
  s: Session,
  asked: string | Asked,
  keys: PublicKey[] = [s.signer.publicKey],
  fetched?: Payload,
  forSigning = true,
): Promise<CheckedProposal & { me: PublicKey; text: string }> {
  const a = typeof asked === 'string' ? askedFor(asked) : asked;
  const trust = new TrustStore(s.home, s.dialect);
  if (!trust.latest() && !loadConfig(s.home).trustFirstRoot)
    throw new Refusal(
      'NO_TRUSTED_ROOT',
      `no root is pinned in ${s.home}: pin one with quorum-signer trust ROOT.json (or join again with ` +
        '--trust-first-root to trust the first released root)',
    );
  const d = await checkMetadataRound(socketSource(s, fetched), trust, a, keys, {
    dialect: s.dialect,
    reviewed: forSigning ? trust.reviewed('round', a.id) : null,
  });
  reportLearned(s.io, d.learned);
  return { ...d.checked, me: d.me, text: d.text };
}

function reportLearned(io: Io, l: { roots: { version: number }[]; tofu: boolean }): void {
  if (l.tofu) io.err(`warning: no root was pinned; trusting root version ${l.roots[0]?.version} on first use`);
  else if (l.roots.length) io.err(`verified and pinned released root(s) ${l.roots.map((r) => r.version).join(', ')}`);
}

/** A payload that differs from the one this keyholder reviewed (for the round id it asked) is never signed. */
function checkReviewed(home: string, p: CheckedProposal): void {
  const reviewed = new TrustStore(home, undefined).reviewed('round', p.round.id);
  if (reviewed && reviewed !== p.sha256)
    throw new Refusal(
      'PAYLOAD_CHANGED',
      `round ${p.round.id} now has sha256 ${p.sha256}, but you reviewed ${reviewed}; refusing to sign ` +
        'something you did not review',
    );
}

function progressText(r: RoundInfo): string {
  return r.progress.map((p) => `${esc(p.label)}: ${p.signed.length}/${p.threshold}${p.met ? ' (met)' : ''}`).join(', ');
}

const rounds = command({
  synopsis: '[--json] [--limit 100] [--before ROUND]',
  summary: 'list rounds and their progress',
  section: 'Rounds',
  description: 'The latest rounds, oldest first; --before ROUND lists the ones opened before it.',
  options: {
    ...HOME,
    ...SECRETS,
    ...JSON_OUT,
    limit: {
      type: 'string',
      value: 'N',
      help: `how many, 1-${WIRE_LIMITS.pageMax} (default ${WIRE_LIMITS.pageDefault})`,
    },
    before: { type: 'string', value: 'ROUND', help: 'the ones opened before this round' },
  },
  positionals: [],
  async run({ values }, io) {
    const limit = intArg('--limit', values.limit, { min: 1, max: WIRE_LIMITS.pageMax });
    const s = await session(io, values);
    try {
      const r = await s.conn.request(
        { type: 'rounds.list', ...(limit ? { limit } : {}), ...(values.before ? { before: values.before } : {}) },
        'rounds',
      );
      if (values.json) io.out(displayJson(r.rounds));
      else
        for (const x of r.rounds)
          io.out(`${x.id}  ${x.role} v${x.version} [${x.state}] ${progressText(x)} — ${esc(x.reason)}`);
      if (r.next) io.err(`older rounds exist: quorum-signer rounds --before ${esc(r.next)}`);
      return 0;
    } finally {
      endSession(s);
    }
  },
});

const review = command({
  synopsis: 'ROUND [--json] [--no-diff]',
  summary: 'show what changed, computed here from the bytes',
  section: 'Rounds',
  description:
    'Show what the round changes against the last released version, computed here from the bytes,\n' +
    'after verifying the released roots and targets against your pinned root.',
  options: {
    ...HOME,
    ...SECRETS,
    ...JSON_OUT,
    'no-diff': { type: 'boolean', default: false, help: 'leave out the line-by-line diff' },
  },
  positionals: ROUND,
  async run({ values, positionals: [id] }, io) {
    const s = await session(io, values);
    try {
      // Review as a keyholder, or as a participant of a FROST group the round needs.
      const asked = askedFor(id!);
      const p = await checkRound(
        s,
        asked,
        [s.signer.publicKey, ...heldGroups(s.home).map((h) => h.pk)],
        undefined,
        false,
      );
      const sum = summarise(p);
      new TrustStore(s.home, s.dialect).recordReview('round', asked.id, p.sha256); // keyed by the id asked for
      if (values.json) io.out(displayJson({ round: p.round, keyid: p.keyid, countsFor: p.countsFor, ...sum }));
      else io.out(renderSummary(p, sum, !values['no-diff']));
      return 0;
    } finally {
      endSession(s);
    }
  },
});

async function signOne(s: Session, p: CheckedProposal & { text: string }, yes: boolean): Promise<RoundInfo | null> {
  s.io.out(p.text);
  if (!yes && !(await confirm(`sign round ${p.round.id}?`))) {
    s.io.out('not signed');
    return null;
  }
  const sig = await s.signer.sign(p.proposed.canonical);
  const ack = await s.conn.request(
    { type: 'signature.submit', round: p.round.id, sha256: p.sha256, keyid: p.keyid, sig: encodeSig(sig, s.dialect) },
    'signature.accepted',
  );
  s.io.out(
    `signed ${p.round.id}; accepted. ${progressText(ack.round)}${ack.round.state === 'released' ? '; the round is released' : ''}`,
  );
  return ack.round;
}

/** What a bundle must hold to be looked at; the workflow checks the rest as it checks a coordinator's answer. */
const BundleSchema = z.looseObject({
  format: z.literal('uptane-quorum-round-v1'),
  dialect: z.enum(['ota', 'tuf']),
  round: z.looseObject({ id: z.string() }),
  signed: z.string(),
  roots: z.array(z.looseObject({ version: z.number().int(), file: z.string() })),
  targets: z.string().nullable(),
});

const sign = command({
  synopsis: [
    'ROUND [--yes]',
    '--offline BUNDLE.json --out SIGNATURE.json [--key KEYFILE | --token-key URI --module M] [--yes]',
  ],
  summary: 'review, confirm and sign a round (or, --offline, a bundle for an air-gapped machine)',
  section: 'Rounds',
  description:
    'Review the round, ask for confirmation (unless --yes), sign the exact bytes reviewed, send the signature.\n' +
    '--offline signs a bundle from quorum round export on an air-gapped machine; nothing is sent. It uses\n' +
    "the key in --home's config.json unless --key or --token-key names one.",
  options: {
    ...HOME,
    ...SECRETS,
    ...YES,
    offline: {
      type: 'string',
      value: 'BUNDLE',
      help: 'sign this bundle from quorum round export, here, without a coordinator',
      reads: { is: 'file', holds: 'json' },
    },
    out: { type: 'string', value: 'FILE', help: 'with --offline: where to write the signature' },
    key: {
      type: 'string',
      value: 'KEYFILE',
      help: 'with --offline: sign with this key file',
      reads: { is: 'file', holds: 'key-file' },
    },
    'token-key': { type: 'string', value: 'URI', help: 'with --offline: sign with this token key' },
    ...MODULE,
  },
  positionals: [{ name: 'ROUND', optional: true }],
  async run({ values, positionals: [id] }, io) {
    if (!values.offline && (values.key || values['token-key'] || values.module || values.out))
      throw new UsageError(
        '--key, --token-key, --module and --out go with --offline (online signing uses the key you joined with)',
      );
    if (values.offline) {
      if (id !== undefined) throw new UsageError('sign --offline takes the bundle, not a round id');
      return signOffline(io, values.offline, values.out, values);
    }
    if (id === undefined) throw new UsageError('sign needs a round id (or --offline BUNDLE)');
    const s = await session(io, values);
    try {
      // Checked for this keyholder's key, then for the FROST groups it holds a share of (to say so).
      const me = s.signer.publicKey;
      const p = await checkRound(s, id, [me, ...heldGroups(s.home).map((h) => h.pk)]);
      if (p.me !== me)
        throw new Refusal(
          'NOT_NEEDED',
          `your key (${me.fingerprint.slice(0, 16)}…) is not one this ${p.round.role} round needs, but it needs ` +
            `the key of a FROST group you hold a share of: sign with quorum-signer frost sign ${id}`,
        );
      return (await signOne(s, p, values.yes)) ? 0 : 1;
    } finally {
      endSession(s);
    }
  },
});

async function signOffline(
  io: Io,
  bundleFile: string,
  out: string | undefined,
  values: { home?: string; yes: boolean; key?: string; 'token-key'?: string; module?: string } & SecretOptions,
): Promise<number> {
  if (!out) throw new UsageError('sign --offline needs --out SIGNATURE.json');
  if (values.key && values['token-key']) throw new UsageError('give --key or --token-key, not both');
  if (values.key) readKeyFile(values.key); // KEY_FILE_INVALID before anything else is looked at
  const home = homeOf(values);
  const b = readJsonAs(
    bundleFile,
    '--offline',
    BundleSchema,
    'a round bundle from quorum round export',
  ) as unknown as Bundle;
  const trust = new TrustStore(home, b.dialect);
  if (!trust.latest())
    throw new Refusal(
      'NO_TRUSTED_ROOT',
      `no root is pinned in ${home}; pin the root you trust with quorum-signer trust ROOT.json`,
    );
  let ref: KeyRef;
  if (values['token-key'])
    ref = {
      tokenKey: { uri: values['token-key'], module: modulePathOf({ uri: values['token-key'], module: values.module }) },
    };
  else if (values.key) ref = { keyFile: values.key };
  else if (fs.existsSync(path.join(home, 'config.json'))) ref = loadConfig(home);
  else
    throw new UsageError(
      'no key: give --key KEYFILE or --token-key URI --module M, or keep config.json with keyFile or tokenKey ' +
        'in --home',
    );
  if (!ref.keyFile && !ref.tokenKey)
    throw new UsageError('no key file: run quorum-signer join, or keep config.json with keyFile in --home');
  const signer = await loadSigner(ref, values);
  let sig: Buffer;
  let p: CheckedProposal;
  try {
    // The bundle is the source: the round it holds, asked for by its id (which spells its role and version).
    const source = bundleSource(b);
    const d = await checkMetadataRound(source, trust, source.asked, [signer.publicKey], {
      dialect: b.dialect,
      reviewed: trust.reviewed('round', source.asked.id),
    });
    p = d.checked;
    io.out(d.text);
    if (!values.yes && !(await confirm(`sign round ${p.round.id}?`))) return (io.out('not signed'), 1);
    sig = await signer.sign(d.bytes);
  } finally {
    closeSigner(signer);
  }
  fs.writeFileSync(
    out,
    JSON.stringify({ round: p.round.id, keyid: p.keyid, sha256: p.sha256, sig: encodeSig(sig, b.dialect) }, null, 2) +
      '\n',
  );
  io.out(`wrote ${out}; carry it back and run: quorum round add-signature ${p.round.id} ${path.basename(out)}`);
  return 0;
}

// --- certificate rounds ----------------------------------------------------------------------------

/**
 * A certificate round from the coordinator, to be decided by the workflow for a use (review records are keyed by the id
 * asked for).
 */
async function fetchCert(s: Session, roundId: string) {
  const payload = await s.conn.request({ type: 'cert.get', round: roundId }, 'cert.payload');
  const reviewed = new TrustStore(s.home, s.dialect).reviewed('cert', roundId);
  return { payload, decide: (use: CertUse) => decideCertRound(roundId, payload, use, { reviewed }) };
}

/** NAME=PUBLIC-KEY-FILE pairs of a repeatable option, each key read (KEY_INVALID with its path). */
function namedKeys(option: string, values: string[] | undefined): { name: string; publicKey: string }[] {
  return (values ?? []).map((a) => {
    const i = a.indexOf('=');
    if (i < 1) throw new UsageError(`${option} ${JSON.stringify(a)} must be NAME=PUBLIC-KEY-FILE`);
    const pk = readPublicKeyFile(a.slice(i + 1), option);
    return { name: a.slice(0, i), publicKey: pk.keyObject.export({ type: 'spki', format: 'pem' }).toString() };
  });
}

const OUT_CERT = {
  out: { type: 'string', value: 'FILE', help: 'write the released certificate and its chain (PEM) here' },
} as const;

const cert = group({
  summary: "review, approve and sign certificate rounds; pin your CA key's approvers",
  section: 'Fleet certificates',
  commands: {
    list: command({
      synopsis: '[--json]',
      summary: 'certificate rounds and their approvals',
      options: { ...HOME, ...SECRETS, ...JSON_OUT },
      positionals: [],
      async run({ values }, io) {
        const s = await session(io, values);
        try {
          const r = await s.conn.request({ type: 'certs.list' }, 'certs');
          if (values.json) io.out(displayJson(r.rounds));
          else
            for (const x of r.rounds)
              io.out(
                `${x.id}  ${x.profile} from CA ${x.ca} [${x.state}] approvals ${x.approvals.approved.length}/${x.approvals.threshold} ` +
                  `— ${esc(x.reason)}`,
              );
          if (r.next)
            io.err(
              `older certificate rounds exist (the coordinator lists them with quorum certs --before ${esc(r.next)})`,
            );
          return 0;
        } finally {
          endSession(s);
        }
      },
    }),
    review: command({
      synopsis: 'ROUND [--json]',
      summary: 'what the certificate says, computed here from the TBS bytes, and their sha256',
      options: { ...HOME, ...SECRETS, ...JSON_OUT },
      positionals: ROUND,
      async run({ values, positionals: [roundId] }, io) {
        const s = await session(io, values);
        try {
          const { payload, decide } = await fetchCert(s, roundId!);
          const { checked, text } = decide({ as: 'review' });
          new TrustStore(s.home, s.dialect).recordReview('cert', roundId!, checked.tbsSha256); // keyed by the id asked for
          if (values.json)
            io.out(
              displayJson({
                round: checked.round,
                review: checked.review,
                approvals: payload.approvals.map((a) => a.keyholder),
              }),
            );
          else io.out(text.trimEnd());
          return 0;
        } finally {
          endSession(s);
        }
      },
    }),
    approve: command({
      synopsis: 'ROUND [--yes]',
      summary: 'review, confirm and sign an approval of exactly these bytes (any key type)',
      options: { ...HOME, ...SECRETS, ...YES },
      positionals: ROUND,
      async run({ values, positionals: [roundId] }, io) {
        const s = await session(io, values);
        try {
          const { decide } = await fetchCert(s, roundId!);
          // profile and issuer (PROFILE_MISMATCH, ISSUER_MISMATCH)
          const { checked, bytes, text } = decide({ as: 'approve' });
          io.out(text.trimEnd());
          if (!values.yes && !(await confirm(`approve issuing this certificate (round ${roundId})?`)))
            return (io.out('not approved'), 1);
          const sig = await s.signer.sign(bytes);
          const ack = await s.conn.request(
            { type: 'cert.approve', round: roundId!, tbsSha256: checked.tbsSha256, sig: sig.toString('base64') },
            'cert.approved',
          );
          io.out(
            `approved ${roundId}; accepted. approvals ${ack.round.approvals.approved.length}/${ack.round.approvals.threshold}${ack.round.approvals.met ? ' (met)' : ''}`,
          );
          return 0;
        } finally {
          endSession(s);
        }
      },
    }),
    sign: command({
      synopsis: 'ROUND [--yes] [--out F]',
      summary: "for the CA key's holder (or a FROST group CA's participant): check and sign the certificate",
      description:
        "For the CA key's holder: check that the TBS names your CA as issuer (its chain's first certificate is\n" +
        'for your key; else ISSUER_MISMATCH), verify a threshold of approvals against YOUR pinned approvers\n' +
        '(else APPROVALS_UNMET, exit 1), then sign the TBS bytes; the coordinator assembles, verifies and\n' +
        "releases the certificate. For a FROST group CA's participant: sign with your share, together with\n" +
        "the group's other participants (as quorum-signer frost sign).",
      options: { ...HOME, ...SECRETS, ...YES, ...OUT_CERT, ...TIMEOUT },
      positionals: ROUND,
      async run({ values, positionals: [roundId] }, io) {
        deadlineOf(values);
        const s = await session(io, values, true); // a FROST signing round rides out a coordinator restart
        try {
          const { payload, decide } = await fetchCert(s, roundId!);
          // A FROST group CA: this client holds one share; t participants sign together.
          if (payload.round.holder === null) return await frostCertSign(s, decide({ as: 'frost' }).checked, values);
          // This client holds the CA key, and decides itself whether enough keyholders approved (against its
          // pinned approvers).
          const me = s.signer.publicKey;
          const { checked, bytes, text, approvedBy } = decide({
            as: 'sign',
            caKey: me,
            approvers: loadApprovers(s.home),
          });
          io.out(text.trimEnd());
          io.out(`verified here: approved by ${approvedBy.map(esc).join(', ')} (your pinned approvers)`);
          if (!values.yes && !(await confirm(`sign this certificate with your CA key (round ${roundId})?`)))
            return (io.out('not signed'), 1);
          const sig = await s.signer.sign(bytes);
          const rel = await s.conn.request(
            { type: 'cert.sign', round: roundId!, tbsSha256: checked.tbsSha256, sig: sig.toString('base64') },
            'cert.released',
          );
          if (values.out) fs.writeFileSync(values.out, rel.certificate);
          io.out(`signed ${roundId}; the certificate is released${values.out ? ` and written to ${values.out}` : ''}`);
          return 0;
        } finally {
          endSession(s);
        }
      },
    }),
    'pin-approvers': command({
      synopsis: '--approver NAME=PUBKEY.pem ... --threshold N',
      summary: '(CA holders) pin whose approvals your CA key requires, and how many',
      options: {
        ...HOME,
        ...JSON_OUT,
        approver: {
          type: 'string',
          multiple: true,
          value: 'NAME=FILE',
          help: 'an approver and the public key they enrolled with (from them, not from the coordinator)',
          reads: { is: 'file', form: 'name=', holds: 'public-key' },
        },
        threshold: { type: 'string', value: 'N', help: 'how many of them must approve (1 to the number of approvers)' },
      },
      positionals: [],
      run({ values }, io) {
        const n = (values.approver ?? []).length;
        if (!n || values.threshold === undefined)
          throw new UsageError('pin-approvers needs at least one --approver NAME=PUBKEY.pem and --threshold N');
        const threshold = intArg('--threshold', values.threshold, { min: 1, max: n })!;
        const pinned = pinApprovers(homeOf(values), namedKeys('--approver', values.approver), threshold);
        if (values.json) io.out(JSON.stringify(pinned, null, 2));
        else
          io.out(
            `pinned ${pinned.threshold} of ` +
              `${pinned.approvers.map((a) => `${a.name} (${a.fingerprint.slice(0, 16)}…)`).join(', ')} as the ` +
              'approvals your CA key needs',
          );
        return 0;
      },
    }),
  },
});

// --- FROST threshold keys ----------------------------------------------------------------------

/** Sign a FROST group CA's certificate round with this participant's share (after the checks of cert-trust.ts). */
async function frostCertSign(
  s: Session,
  checked: CheckedCert,
  v: { yes: boolean; out?: string; 'timeout-s'?: string } & SecretOptions,
): Promise<number> {
  const io = s.io;
  const store = FrostStore.open(frostDir(s.home));
  const roundId = checked.round.id;
  const group = store.groups().find((g) => groupPublicKey(g).fingerprint === checked.round.issuerFingerprint);
  if (!group)
    throw new Refusal(
      'NOT_NEEDED',
      `certificate round ${roundId} is signed by the FROST group key ${checked.round.issuerFingerprint}; you ` +
        'hold no share of it',
    );
  if (checked.review.signatureAlgorithm !== 'ed25519')
    throw new Refusal(
      'PAYLOAD_MALFORMED',
      `the TBS names signature algorithm ${checked.review.signatureAlgorithm}; a FROST group signs Ed25519`,
    );
  checkIssuer(checked, groupPublicKey(group));
  io.out(certText(checked, []).trimEnd());
  io.out(
    `signed by FROST group ${group.ceremony}: ${group.threshold} of ` +
      `${group.participants.map((p) => p.name).join(', ')}`,
  );
  if (!v.yes && !(await confirm(`sign this certificate with your share of the group key (round ${roundId})?`)))
    return (io.out('not signed'), 1);
  const kh = store.unlockShare(
    group.groupPublicKey,
    await passphrase({ file: v['passphrase-file'], prompt: 'passphrase for your FROST share: ' }),
  );
  const st = await signSession(s.conn, kh, group, roundId, checked.tbs, deadlineOf(v), io.out);
  if (!st.certificate)
    throw new Refusal('ROUND_CLOSED', `certificate round ${roundId} is ${st.state} without a certificate`);
  if (v.out) fs.writeFileSync(v.out, st.certificate);
  io.out(`certificate round ${roundId} is released${v.out ? `; written to ${v.out}` : ''}`);
  return 0;
}

/**
 * Sign a root or targets round with this participant's share of a FROST group whose key the
 * round needs: every check `quorum-signer sign` makes, against this signer's own pinned trust,
 * with the group key in place of the signer's key; then the two-round protocol over exactly the
 * canonical bytes reviewed. The session name is computed here, not taken from the coordinator.
 */
async function frostMetadataSign(
  s: Session,
  roundId: string,
  v: { yes: boolean; 'timeout-s'?: string } & SecretOptions,
  fetched: Payload,
): Promise<number> {
  const io = s.io;
  const held = heldGroups(s.home);
  if (!held.length)
    throw new Refusal(
      'NOT_NEEDED',
      `you hold no FROST share (none in ${frostDir(s.home)}); join a DKG ceremony with quorum-signer frost join first`,
    );
  const p = await checkRound(
    s,
    roundId,
    held.map((h) => h.pk),
    fetched,
  );
  const { group } = held.find((h) => h.pk.fingerprint === p.me.fingerprint)!;
  checkReviewed(s.home, p);
  io.out(renderSummary(p, summarise(p)));
  io.out(
    `signed by FROST group ${group.ceremony}: ${group.threshold} of ` +
      `${group.participants.map((x) => x.name).join(', ')}`,
  );
  if (!v.yes && !(await confirm(`sign round ${roundId} with your share of the group key?`)))
    return (io.out('not signed'), 1);
  const kh = FrostStore.open(frostDir(s.home)).unlockShare(
    group.groupPublicKey,
    await passphrase({ file: v['passphrase-file'], prompt: 'passphrase for your FROST share: ' }),
  );
  await signSession(s.conn, kh, group, `${roundId}.${group.ceremony}`, p.proposed.canonical, deadlineOf(v), io.out);
  const r = (await s.conn.request({ type: 'round.get', round: roundId }, 'round.payload')).round;
  io.out(
    `FROST group ${group.ceremony} signed ${roundId}. ${progressText(r)}${r.state === 'released' ? '; the round is released' : ''}`,
  );
  return 0;
}

const frost = group({
  summary: 'FROST threshold keys: identity, pin-participants, join, groups, sign',
  section: 'FROST threshold keys',
  footer:
    'The identity and shares are encrypted with your passphrase (--passphrase-file or QUORUM_PASSPHRASE).\n' +
    'Run quorum-signer frost <command> --help for the options of each command.',
  commands: {
    identity: command({
      synopsis: '[--scrypt-n N]',
      summary: 'create your X25519 identity (encrypted in --home/frost); prints the public key',
      description:
        'Create your X25519 identity (encrypted in --home/frost) and print its public key, for:\n' +
        'quorum keyholder identity NAME HEX. An existing identity is printed, not replaced.',
      options: { ...HOME, ...PASSPHRASE, ...SCRYPT },
      positionals: [],
      async run({ values }, io) {
        const N = scryptN(values['scrypt-n']);
        const home = homeOf(values);
        fs.mkdirSync(home, { recursive: true, mode: 0o700 });
        const store = FrostStore.open(frostDir(home));
        if (store.hasIdentity()) {
          io.out(store.identityPublicKey());
          io.err(`(existing identity in ${store.identityFile})`);
          return 0;
        }
        const pass = await passphrase({
          file: values['passphrase-file'],
          prompt: 'new passphrase for your FROST identity: ',
          confirm: true,
        });
        const pub = store.createIdentity(pass, { ...SCRYPT_DEFAULT, N });
        io.out(pub);
        io.err(
          `wrote ${store.identityFile}; give the key above to your release coordinator: quorum keyholder identity ` +
            `NAME ${pub}`,
        );
        return 0;
      },
    }),
    'pin-participants': command({
      synopsis: '--participant NAME=PUBKEY.pem ...',
      summary: 'pin the signing keys the other participants enrolled with (from them, not from the coordinator)',
      description:
        'Pin the signing keys the other participants enrolled with, obtained from them, not from the\n' +
        'coordinator; added to those pinned before (a name given again is replaced). frost join checks their\n' +
        'identity statements and transcripts against these keys.',
      options: {
        ...HOME,
        ...JSON_OUT,
        participant: {
          type: 'string',
          multiple: true,
          value: 'NAME=FILE',
          help: 'a participant and the public key they enrolled with',
          reads: { is: 'file', form: 'name=', holds: 'public-key' },
        },
      },
      positionals: [],
      run({ values }, io) {
        const list = namedKeys('--participant', values.participant);
        if (!list.length)
          throw new UsageError(
            'pin-participants needs at least one --participant NAME=PUBKEY.pem (the key that keyholder enrolled with)',
          );
        const home = homeOf(values);
        fs.mkdirSync(home, { recursive: true, mode: 0o700 });
        const store = FrostStore.open(frostDir(home));
        const { participants, replaced } = store.pinParticipants(list);
        if (values.json)
          io.out(
            JSON.stringify(
              participants.map((p) => ({ name: p.name, fingerprint: p.fingerprint })),
              null,
              2,
            ),
          );
        else {
          for (const p of participants)
            io.out(`${p.name}  ${p.fingerprint}${replaced.includes(p.name) ? '  (replaced)' : ''}`);
          io.err(
            `pinned in ${store.pinsFile}; frost join checks those participants' identity statements and ` +
              'transcripts against these keys',
          );
        }
        return 0;
      },
    }),
    join: command({
      synopsis: 'CEREMONY [--yes] [--scrypt-n N] [--timeout-s S]',
      summary: 'take part in a DKG ceremony',
      description:
        'Take part in a DKG ceremony: round 1 with your identity statement (signed with your key), the\n' +
        "others' statements checked against your pins, round 2 (shares encrypted to each identity), the\n" +
        'confirmation with your signature over the transcript; your share is stored only once every\n' +
        'participant signed the same transcript (its sha256 is printed: compare it out of band).',
      options: { ...HOME, ...SECRETS, ...YES, ...SCRYPT, ...TIMEOUT, ...JSON_OUT },
      positionals: [{ name: 'CEREMONY' }],
      async run({ values, positionals: [id] }, io) {
        const N = scryptN(values['scrypt-n']);
        const deadline = deadlineOf(values);
        const store = FrostStore.open(frostDir(homeOf(values)));
        if (!store.hasIdentity())
          throw new UsageError(`no FROST identity in ${store.dir}: run quorum-signer frost identity first`);
        const s = await session(io, values, true);
        try {
          const r = await joinCeremony({
            conn: s.conn,
            signer: s.signer,
            store,
            ceremony: id!,
            deadline,
            scrypt: { ...SCRYPT_DEFAULT, N },
            confirm: (q) => (values.yes ? Promise.resolve(true) : confirm(q)),
            passphrase: () =>
              passphrase({ file: values['passphrase-file'], prompt: 'passphrase for your FROST identity: ' }),
            out: io.out,
          });
          if (!r) return (io.out('not joined'), 1);
          if (values.json)
            io.out(
              JSON.stringify(
                {
                  ceremony: id,
                  identifier: r.identifier,
                  groupPublicKey: r.group.groupPublicKey,
                  shareFile: r.shareFile,
                  transcript: r.transcript,
                },
                null,
                2,
              ),
            );
          else
            io.out(
              `ceremony ${id} done: group key ${r.group.groupPublicKey} (fingerprint ` +
                `${groupPublicKey(r.group).fingerprint}); you are participant ${r.identifier}`,
            );
          return 0;
        } finally {
          endSession(s);
        }
      },
    }),
    groups: command({
      synopsis: '[--json]',
      summary: 'the groups you hold a share of',
      options: { ...HOME, ...JSON_OUT },
      positionals: [],
      run({ values }, io) {
        const groups = FrostStore.open(frostDir(homeOf(values))).groups();
        if (values.json) io.out(JSON.stringify(groups, null, 2));
        else if (!groups.length) io.out('no FROST shares yet');
        else
          for (const g of groups)
            io.out(`${g.ceremony}  ${g.threshold}-of-${g.participants.length}  group key ${g.groupPublicKey}`);
        return 0;
      },
    }),
    sign: command({
      synopsis: 'ROUND [--yes] [--out F] [--timeout-s S]',
      summary: "sign a round (or a FROST group CA's certificate round) with your share",
      description:
        "Sign with your share, together with the group's other participants: a root or targets round that\n" +
        "needs the group's key (after every check quorum-signer sign makes, against your pinned root), or a\n" +
        "FROST group CA's certificate round (the same as quorum-signer cert sign).",
      options: { ...HOME, ...SECRETS, ...YES, ...OUT_CERT, ...TIMEOUT },
      positionals: ROUND,
      async run({ values, positionals: [id] }, io) {
        deadlineOf(values);
        const s = await session(io, values, true);
        try {
          // A root or targets round, else a certificate round.
          const round = await s.conn.request({ type: 'round.get', round: id! }, 'round.payload').catch((e: unknown) => {
            if (e instanceof QuorumError && e.code === 'ROUND_NOT_FOUND') return null;
            throw e;
          });
          if (round) return await frostMetadataSign(s, id!, values, round);
          const p = await s.conn.request({ type: 'cert.get', round: id! }, 'cert.payload');
          const checked = decideCertRound(
            id!,
            p,
            { as: 'frost' },
            { reviewed: new TrustStore(s.home, s.dialect).reviewed('cert', id!) },
          ).checked;
          return await frostCertSign(s, checked, values);
        } finally {
          endSession(s);
        }
      },
    }),
  },
});

// --- watch ---------------------------------------------------------------------------------------

const TOKEN_RETRY_MS = 5 * SECOND_MS; // between attempts while a token is unplugged during watch

const watch = command({
  synopsis: '[--unsafe-auto-sign]',
  summary: 'stay connected and prompt for each new round',
  section: 'Rounds',
  description:
    'Stay connected (reconnecting by itself) and, for each open round that needs your key, show the\n' +
    "review and ask whether to sign. --unsafe-auto-sign signs every round that passes this client's checks\n" +
    'without asking a person: for tests and demos only.',
  options: {
    ...HOME,
    ...SECRETS,
    'unsafe-auto-sign': {
      type: 'boolean',
      default: false,
      help: "UNSAFE: sign every round that passes this client's checks without asking a person",
    },
  },
  positionals: [],
  async run({ values }, io) {
    const s = await session(io, values, true);
    const seen = new Set<string>();
    let busy = Promise.resolve();
    const consider = (r: RoundInfo) => {
      if (r.state !== 'open' || seen.has(r.id) || !r.progress.some((p) => p.missing.includes(s.conn.hello!.keyholder)))
        return;
      seen.add(r.id);
      busy = busy.then(async () => {
        try {
          // the answer must be the round listed
          const p = await checkRound(s, { id: r.id, role: r.role, version: r.version });
          const signed = await signOne(s, p, values['unsafe-auto-sign']);
          if (!signed) seen.delete(r.id);
        } catch (e) {
          // retried after reconnecting
          if (e instanceof QuorumError && isRetryable(e.code)) seen.delete(r.id);
          io.err(`round ${r.id}: ${esc(String((e as QuorumError).code ?? 'ERROR'))}: ${esc((e as Error).message)}`);
          if (e instanceof QuorumError && e.code === 'TOKEN_NOT_PRESENT') {
            // Plugging the token back in is enough; other token errors (a wrong PIN) need a person.
            seen.delete(r.id);
            io.err(`round ${r.id}: trying the token again in ${TOKEN_RETRY_MS / SECOND_MS} s`);
            setTimeout(() => void scan().catch((err: Error) => io.err(err.message)), TOKEN_RETRY_MS).unref();
          }
        }
      });
    };
    const scan = async () => {
      const list = await s.conn.request({ type: 'rounds.list', state: 'open', limit: WIRE_LIMITS.pageMax }, 'rounds');
      for (const r of list.rounds) consider(r);
    };
    const held = new Set(heldGroups(s.home).map((h) => h.group.groupPublicKey));
    s.conn.on('round.opened', (m: { round: RoundInfo }) => {
      io.out(`new round ${m.round.id}: ${m.round.role} v${m.round.version} — ${esc(m.round.reason)}`);
      // A FROST signature needs t participants together and each one's passphrase: point at the command.
      for (const f of m.round.frost ?? [])
        if (held.has(f.groupPublicKey))
          io.out(
            `round ${m.round.id} needs FROST group ${f.ceremony}, which you hold a share of; sign with ` +
              `quorum-signer frost sign ${m.round.id}`,
          );
      consider(m.round);
    });
    s.conn.on('round.updated', (m: { round: RoundInfo }) =>
      io.out(`round ${m.round.id} [${m.round.state}] ${progressText(m.round)}`),
    );
    // Certificate rounds are never approved or signed automatically: a person reviews each one.
    s.conn.on('cert.opened', (m: { round: CertRoundInfo }) =>
      io.out(
        `new certificate round ${m.round.id}: ${m.round.profile} from CA ${m.round.ca} — ${esc(m.round.reason)}; ` +
          `review it with quorum-signer cert review ${m.round.id}`,
      ),
    );
    // A DKG ceremony needs a person's consent and passphrase: point at the command.
    s.conn.on(
      'frost.dkg.open',
      (m: { ceremony: { id: string; threshold: number; participants: { name: string }[] } }) =>
        io.out(
          `new DKG ceremony ${m.ceremony.id}: ${m.ceremony.threshold} of ` +
            `${m.ceremony.participants.map((p) => p.name).join(', ')}; take part with quorum-signer frost join ` +
            `${m.ceremony.id}`,
        ),
    );
    s.conn.on('disconnected', (code: number) => io.err(`disconnected (${code}); reconnecting`));
    s.conn.on('reconnected', () => {
      io.out('reconnected');
      void scan().catch((e: Error) => io.err(e.message));
    });
    io.out(`watching as ${s.conn.hello!.keyholder}; Ctrl-C to stop`);
    await scan();
    return await new Promise<number>((resolve) => {
      const stop = (code: number) => {
        endSession(s);
        resolve(code);
      };
      process.once('SIGINT', () => stop(0));
      process.once('SIGTERM', () => stop(0));
      // Reconnected to a server that is not the one joined (SERVER_CHANGED): stop, never sign there.
      s.conn.on('fatal', (e: QuorumError) => {
        io.err(`${e.code}: ${e.message}`);
        stop(1);
      });
    });
  },
});

export const QUORUM_SIGNER = group({
  summary: "the keyholder's side",
  footer:
    'Run quorum-signer <command> --help for the options of each command. The key file passphrase comes\n' +
    "from --passphrase-file FILE or QUORUM_PASSPHRASE, a token key's PIN from --pin-file FILE or QUORUM_PIN,\n" +
    'else a prompt; --home DIR (default ~/.quorum-signer, or QUORUM_SIGNER_HOME).\n' +
    'Exit status: 0 ok, 1 refused or failed, 2 usage.',
  commands: {
    keygen,
    'import-garage-sign': importGs,
    token,
    join,
    trust,
    rounds,
    review,
    sign,
    watch,
    frost,
    cert,
  },
});
