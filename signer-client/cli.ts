#!/usr/bin/env node
/**
 * `quorum-signer`: the keyholder's command line. Keys stay on this machine; the coordinator gets
 * signatures only, and only over payloads this client has checked against its own pinned roots.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { Dialect } from '../protocol/canonical.js';
import { main, stdio as io, UsageError } from '../protocol/cli.js';
import { QuorumError } from '../protocol/errors.js';
import { WIRE_LIMITS } from '../protocol/limits.js';
import { encodeSig, keyId, publicKeyFrom, toMetadataKey, type KeyKind, type PublicKey } from '../protocol/keys.js';
import type { Signer } from '../protocol/metadata/build.js';
import { checkScheme, fetchPinnedCertificate, requestJson, TransportError, type Pin } from '../protocol/transport.js';
import { HealthSchema, type CertRoundInfo, type RoundInfo } from '../protocol/wire.js';
import { readInput } from '../protocol/repository.js';
import { groupPublicKey } from '../protocol/frost.js';
import { FrostStore } from './frost-store.js';
import { deadlineOf, frostDir, heldGroups, joinCeremony, signSession } from './frost-participant.js';
import { SignerConnection } from './connection.js';
import {
  checkScryptN,
  fileSigner,
  importGarageSign,
  newKeyFile,
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

const HELP = `Usage: quorum-signer <command> [options]

Keys:
  keygen --out NAME [--type ed25519|ecdsa|rsa]   new encrypted key file NAME.key.json and NAME.pub.pem
  import-garage-sign FILE.sec --out NAME         encrypt a garage-sign private key into a key file
Hardware tokens (PKCS#11):
  token keygen --module M --token LABEL --label NAME [--type ed25519|ecdsa|rsa]
                                                 new non-extractable key on the token; prints its pkcs11: URI
  token list --module M [--token LABEL]          keys on the token, with their key ids in both dialects
  token export-public --module M --key URI --out FILE.pem
                                                 the public key, for enrollment (quorum keyholder add)
Setup:
  join URL --key NAME.key.json [--trusted-root root.json] [--tls-fingerprint FP]
  join URL --token-key URI --module M [...]      remember the coordinator, your key and your trust anchor
  trust ROOT.json                                pin a trusted root (for offline signing)
Rounds:
  rounds                                         list rounds and their progress
  review ROUND                                   show what changed, computed here from the bytes
  sign ROUND [--yes]                             review, confirm and sign
  sign --offline BUNDLE --out SIG.json [--yes]   sign a round exported for an air-gapped machine
  watch [--unsafe-auto-sign]                     stay connected and prompt for each new round
FROST threshold keys:
  frost identity | pin-participants --participant NAME=PUBKEY.pem ... | join CEREMONY [--yes] | groups | sign ROUND
Fleet certificates:
  cert list | review ROUND | approve ROUND [--yes] | sign ROUND [--yes] [--out F]
  cert pin-approvers --approver NAME=PUBKEY.pem ... --threshold N
                                                 (CA holders) whose approvals your CA key requires

Common options: --home DIR (default ~/.quorum-signer, or QUORUM_SIGNER_HOME), --passphrase-file FILE
(or QUORUM_PASSPHRASE), --pin-file FILE (or QUORUM_PIN) for token keys, --json, --help.
Exit status: 0 ok, 1 refused or failed, 2 usage.`;

const common = {
  home: { type: 'string' },
  'passphrase-file': { type: 'string' },
  'pin-file': { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
  yes: { type: 'boolean', default: false },
} as const satisfies ParseArgsConfig['options'];

function args<O extends ParseArgsConfig['options']>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options: { ...common, ...options }, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
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
    throw new UsageError(`no ${file}: run quorum-signer join URL --key KEYFILE (or --token-key URI --module M) first`);
  return JSON.parse(fs.readFileSync(file, 'utf8')) as Config;
}

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

async function keygen(argv: string[]): Promise<number> {
  const { values } = args(argv, { out: { type: 'string' }, type: { type: 'string' }, 'scrypt-n': { type: 'string' } });
  if (values.help)
    return (
      io.out(
        'Usage: quorum-signer keygen --out NAME [--type ed25519|ecdsa|rsa] [--passphrase-file F] [--scrypt-n ' +
          'N]\n\nWrites NAME.key.json (private key, encrypted with your passphrase: scrypt + AES-256-GCM)\nand ' +
          'NAME.pub.pem (hand this to your release coordinator). ecdsa is for the tuf dialect only.',
      ),
      0
    );
  if (!values.out) throw new UsageError('keygen needs --out NAME');
  const kind = (values.type ?? 'ed25519') as KeyKind;
  if (!['ed25519', 'ecdsa', 'rsa', 'rsa3072', 'rsa4096'].includes(kind))
    throw new UsageError('--type must be ed25519, ecdsa, rsa, rsa3072 or rsa4096');
  const N = scryptN(values['scrypt-n']);
  const pass = await passphrase({ file: values['passphrase-file'], prompt: 'new passphrase: ', confirm: true });
  const kf = newKeyFile(kind, pass, { ...SCRYPT_DEFAULT, N });
  return writeOut(values.out, kf, values.json);
}

/** --scrypt-n, checked before anything is asked or written: a key file its reader would refuse is never made. */
function scryptN(flag: string | undefined): number {
  if (flag === undefined) return SCRYPT_DEFAULT.N;
  try {
    return checkScryptN(Number(flag));
  } catch (e) {
    throw new UsageError(`--scrypt-n: ${(e as Error).message}`);
  }
}

function writeOut(out: string, kf: ReturnType<typeof newKeyFile>, json: boolean): number {
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

async function importGs(argv: string[]): Promise<number> {
  const { values, positionals } = args(argv, {
    out: { type: 'string' },
    'scrypt-n': { type: 'string' },
    entry: { type: 'string' },
  });
  if (values.help)
    return (
      io.out(
        'Usage: quorum-signer import-garage-sign FILE.sec --out NAME [--passphrase-file F]\n       ' +
          'quorum-signer import-garage-sign credentials.zip --entry targets.sec --out NAME\n\nEncrypt a ' +
          'garage-sign private key (targets.sec, root.sec, or the key pair the reposerver returns)\ninto ' +
          'NAME.key.json. From a zip, only that entry is read, in memory.',
      ),
      0
    );
  if (positionals.length !== 1 || !values.out)
    throw new UsageError('import-garage-sign needs FILE.sec (or a zip with --entry) and --out NAME');
  const N = scryptN(values['scrypt-n']);
  const pass = await passphrase({ file: values['passphrase-file'], prompt: 'new passphrase: ', confirm: true });
  return writeOut(
    values.out,
    importGarageSign(positionals[0]!, pass, { ...SCRYPT_DEFAULT, N }, values.entry),
    values.json,
  );
}

// --- token keys (PKCS#11) --------------------------------------------------------------------------

const TOKEN_HELP = `Usage: quorum-signer token <keygen|list|export-public> [options]

Keys on a PKCS#11 token (YubiKey, Nitrokey, an HSM, SoftHSM). A key is named by an RFC 7512
pkcs11: URI plus --module, the path of the token's PKCS#11 library. The PIN comes from
--pin-file FILE, else ${PIN_ENV}, else a prompt.

  token keygen --module M --token LABEL --label NAME [--type ed25519|ecdsa|rsa] [--id HEX]
      Generate a key pair on the token (private key sensitive and non-extractable) and print its URI.
  token list --module M [--token LABEL]
      Show each private key: label, id, algorithm, URI and its key ids in both dialects.
  token export-public --module M --key URI --out FILE.pem
      Write the public key for enrollment: quorum keyholder add NAME FILE.pem

Ed25519 and RSA work in both dialects; ECDSA P-256 in tuf only. Then: quorum-signer join URL
--token-key URI --module M. Options: --pin-file FILE, --json, --help.`;

const tokenOptions = {
  module: { type: 'string' },
  token: { type: 'string' },
  label: { type: 'string' },
  type: { type: 'string' },
  id: { type: 'string' },
  key: { type: 'string' },
  out: { type: 'string' },
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

async function token(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help')
    return (io.out(TOKEN_HELP), sub === undefined ? 2 : 0);
  const { values } = args(rest, tokenOptions);
  const pinFor = (label: string | undefined) => () =>
    tokenPin({
      file: values['pin-file'],
      prompt: `PIN for token${label === undefined ? '' : ` ${JSON.stringify(label)}`}: `,
    });
  switch (sub) {
    case 'keygen': {
      if (values.help)
        return (
          io.out(
            'Usage: quorum-signer token keygen --module M --token LABEL --label NAME [--type ' +
              'ed25519|ecdsa|rsa|rsa3072|rsa4096] [--id HEX] [--pin-file F] [--json]\n\nGenerate a key pair on ' +
              'the token: the private key is sensitive and cannot be extracted, the public\nkey is stored beside ' +
              "it under the same label and id (random 8 bytes unless --id). Prints the key's\npkcs11: URI for " +
              'join and export-public. An existing label is never overwritten. ecdsa (P-256) is for\nthe tuf ' +
              'dialect only.',
          ),
          0
        );
      const module = needModule(values, 'keygen');
      if (!values.token || !values.label)
        throw new UsageError('token keygen needs --token LABEL (the token) and --label NAME (the new key)');
      const type = (values.type ?? 'ed25519') as TokenKeyType;
      if (!TOKEN_KEY_TYPES.includes(type)) throw new UsageError(`--type must be one of ${TOKEN_KEY_TYPES.join(', ')}`);
      if (values.id !== undefined && !/^([0-9a-fA-F]{2})+$/.test(values.id))
        throw new UsageError('--id must be hex bytes, e.g. 01 or a1b2');
      const k = await generateTokenKey({
        module,
        token: values.token,
        label: values.label,
        type,
        pin: pinFor(values.token),
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
    }
    case 'list': {
      if (values.help)
        return (
          io.out(
            'Usage: quorum-signer token list --module M [--token LABEL] [--pin-file F] [--json]\n\nShow every ' +
              'private key on the token(s): label, id, algorithm, pkcs11: URI, and the key id each\ndialect ' +
              'gives it (ota: sha256 of the public key; tuf: sha256 of the canonical key object).\nKeys of a ' +
              'type this tool cannot sign with are listed with the reason.',
          ),
          0
        );
      const keys = await listTokenKeys({
        module: needModule(values, 'list'),
        token: values.token,
        pin: pinFor(values.token),
      });
      if (values.json) return (io.out(JSON.stringify(keys.map(tokenKeyJson), null, 2)), 0);
      if (!keys.length) io.out('no private keys on the token');
      for (const k of keys.map(tokenKeyJson)) {
        io.out(`${k.label}  id ${k.id || '(none)'}  ${k.algorithm ?? 'not usable'}  token ${JSON.stringify(k.token)}`);
        io.out(`  uri: ${k.uri}`);
        if (k.keyIds) io.out(`  key id: ota ${k.keyIds.ota}\n          tuf ${k.keyIds.tuf}`);
        else io.out(`  not usable: ${k.unsupported}`);
      }
      return 0;
    }
    case 'export-public': {
      if (values.help)
        return (
          io.out(
            'Usage: quorum-signer token export-public --module M --key URI --out FILE.pem [--pin-file F] ' +
              '[--json]\n\nWrite the public key of the token key URI as PEM, for enrollment: quorum keyholder ' +
              'add NAME FILE.pem\n(or quorum init --keyholder NAME=FILE.pem). An existing FILE.pem is not ' +
              'overwritten.',
          ),
          0
        );
      if (!values.key || !values.out) throw new UsageError('token export-public needs --key URI and --out FILE.pem');
      const uri = values.key;
      const pk = await tokenPublicKey({
        module: needModule(values, 'export-public'),
        uri,
        pin: pinFor(parsePkcs11Uri(uri).token),
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
    }
    default:
      throw new UsageError(`unknown token command ${JSON.stringify(sub)}\n\n${TOKEN_HELP}`);
  }
}

// --- setup -------------------------------------------------------------------------------------

function pinRoot(home: string, file: string, dialect?: Dialect): number {
  const trust = new TrustStore(home, dialect);
  const text = fs.readFileSync(file, 'utf8');
  const doc = JSON.parse(text) as { signed?: { version?: number } };
  const version = doc.signed?.version;
  if (!Number.isInteger(version)) throw new UsageError(`${file} is not root metadata`);
  if (trust.latest())
    throw new UsageError(`a root is already pinned in ${home}; newer roots are walked and verified automatically`);
  advanceRoots(trust, [{ version: version!, file: text }]);
  return version!;
}

async function join(argv: string[]): Promise<number> {
  const { values, positionals } = args(argv, {
    key: { type: 'string' },
    'token-key': { type: 'string' },
    module: { type: 'string' },
    'trusted-root': { type: 'string' },
    'trust-first-root': { type: 'boolean', default: false },
    'tls-fingerprint': { type: 'string' },
    'unsafe-allow-plaintext': { type: 'boolean', default: false },
  });
  if (values.help)
    return (
      io.out(
        'Usage: quorum-signer join URL --key KEYFILE (--trusted-root root.json | --trust-first-root) ' +
          '[--tls-fingerprint SHA256] [--unsafe-allow-plaintext]\n       quorum-signer join URL --token-key ' +
          'PKCS11-URI --module MODULE.so [--pin-file F] [...]\n\nRemember the coordinator (https:// with its ' +
          'certificate fingerprint pinned, or http:// on loopback)\nand the server id and dialect it answers ' +
          'with now (a coordinator that later answers otherwise is\nrefused: SERVER_CHANGED), your key (a key ' +
          "file, or a key on a PKCS#11 token named by its pkcs11: URI\nand the token's module; the token is " +
          'opened once now to check the key), and the root you trust:\n--trusted-root, or --trust-first-root to ' +
          'trust whichever root the coordinator releases first (trust\non first use: a choice, never the ' +
          'default). --unsafe-allow-plaintext permits http:// to another host:\nanyone on the network can then ' +
          'read and alter the traffic (your signatures stay bound to what you\nreviewed).',
      ),
      0
    );
  if (positionals.length !== 1 || !values.key === !values['token-key'])
    throw new UsageError('join needs the coordinator URL and either --key KEYFILE or --token-key URI --module MODULE');
  if (values.module && !values['token-key']) throw new UsageError('--module goes with --token-key');
  if (!values['trusted-root'] === !values['trust-first-root']) {
    throw new UsageError(
      values['trusted-root']
        ? '--trusted-root and --trust-first-root exclude each other'
        : 'join needs the root you trust: --trusted-root ROOT.json (a copy obtained out of band), or ' +
            '--trust-first-root to trust the first root the coordinator releases (trust on first use)',
    );
  }
  const home = homeOf(values);
  const server = positionals[0]!
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
    readKeyFile(values.key);
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
  const rootVersion = values['trusted-root'] ? pinRoot(home, values['trusted-root'], dialect) : null;
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
}

async function trust(argv: string[]): Promise<number> {
  const { values, positionals } = args(argv, {});
  if (values.help || positionals.length !== 1)
    return (
      io.out(
        'Usage: quorum-signer trust ROOT.json [--home DIR]\n\nPin the root you trust; newer roots are then ' +
          'walked and verified before anything is signed.',
      ),
      values.help ? 0 : 2
    );
  io.out(`pinned trusted root version ${pinRoot(homeOf(values), positionals[0]!)}`);
  return 0;
}

// --- rounds ------------------------------------------------------------------------------------

interface Session {
  home: string;
  conn: SignerConnection;
  signer: Signer;
  dialect: Dialect;
}

async function session(v: { home?: string } & SecretOptions, reconnect = false): Promise<Session> {
  const home = homeOf(v);
  const cfg = loadConfig(home);
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
    return { home, conn, signer, dialect: hello.dialect };
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
  reportLearned(d.learned);
  return { ...d.checked, me: d.me, text: d.text };
}

function reportLearned(l: { roots: { version: number }[]; tofu: boolean }): void {
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

async function rounds(argv: string[]): Promise<number> {
  const { values } = args(argv, { limit: { type: 'string' }, before: { type: 'string' } });
  if (values.help)
    return (
      io.out(
        'Usage: quorum-signer rounds [--json] [--limit 100] [--before ROUND]\n\nThe latest rounds, oldest ' +
          'first; --before ROUND lists the ones opened before it.',
      ),
      0
    );
  const limit = values.limit === undefined ? undefined : Number(values.limit);
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1 && limit <= WIRE_LIMITS.pageMax))
    throw new UsageError(`--limit must be 1-${WIRE_LIMITS.pageMax}`);
  const s = await session(values);
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
}

async function review(argv: string[]): Promise<number> {
  const { values, positionals } = args(argv, { 'no-diff': { type: 'boolean', default: false } });
  if (values.help || positionals.length !== 1)
    return (
      io.out(
        'Usage: quorum-signer review ROUND [--json] [--no-diff]\n\nShow what the round changes against the ' +
          'last released version, computed here from the bytes,\nafter verifying the released roots and targets ' +
          'against your pinned root.',
      ),
      values.help ? 0 : 2
    );
  const s = await session(values);
  try {
    // Review as a keyholder, or as a participant of a FROST group the round needs.
    const asked = askedFor(positionals[0]!);
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
}

async function signOne(s: Session, p: CheckedProposal & { text: string }, yes: boolean): Promise<RoundInfo | null> {
  io.out(p.text);
  if (!yes && !(await confirm(`sign round ${p.round.id}?`))) {
    io.out('not signed');
    return null;
  }
  const sig = await s.signer.sign(p.proposed.canonical);
  const ack = await s.conn.request(
    { type: 'signature.submit', round: p.round.id, sha256: p.sha256, keyid: p.keyid, sig: encodeSig(sig, s.dialect) },
    'signature.accepted',
  );
  io.out(
    `signed ${p.round.id}; accepted. ${progressText(ack.round)}${ack.round.state === 'released' ? '; the round is released' : ''}`,
  );
  return ack.round;
}

async function sign(argv: string[]): Promise<number> {
  const { values, positionals } = args(argv, {
    offline: { type: 'string' },
    out: { type: 'string' },
    key: { type: 'string' },
    'token-key': { type: 'string' },
    module: { type: 'string' },
  });
  if (values.help)
    return (
      io.out(
        'Usage: quorum-signer sign ROUND [--yes]\n       quorum-signer sign --offline BUNDLE.json --out ' +
          'SIGNATURE.json [--key KEYFILE | --token-key URI --module M] [--yes]\n\nReview the round, ask for ' +
          'confirmation (unless --yes), sign the exact bytes reviewed, send the signature.\n--offline signs a ' +
          'bundle from quorum round export on an air-gapped machine; nothing is sent. It uses\nthe key in ' +
          "--home's config.json unless --key or --token-key names one.",
      ),
      0
    );
  if (!values.offline && (values.key || values['token-key'] || values.module))
    throw new UsageError(
      '--key, --token-key and --module go with --offline (online signing uses the key you joined with)',
    );
  if (values.offline) return signOffline(values.offline, values.out, values);
  if (positionals.length !== 1) throw new UsageError('sign needs a round id (or --offline BUNDLE)');
  const s = await session(values);
  try {
    const id = positionals[0]!;
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
}

async function signOffline(
  bundleFile: string,
  out: string | undefined,
  values: { home?: string; yes: boolean; key?: string; 'token-key'?: string; module?: string } & SecretOptions,
): Promise<number> {
  if (!out) throw new UsageError('sign --offline needs --out SIGNATURE.json');
  const home = homeOf(values);
  const b = JSON.parse(fs.readFileSync(bundleFile, 'utf8')) as Bundle;
  if (b.format !== 'uptane-quorum-round-v1')
    throw new UsageError(`${bundleFile} is not a round bundle from quorum round export`);
  const trust = new TrustStore(home, b.dialect);
  if (!trust.latest())
    throw new Refusal(
      'NO_TRUSTED_ROOT',
      `no root is pinned in ${home}; pin the root you trust with quorum-signer trust ROOT.json`,
    );
  if (values.key && values['token-key']) throw new UsageError('give --key or --token-key, not both');
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

const CERT_HELP = `Usage: quorum-signer cert <list|review|approve|sign|pin-approvers> [options]

  cert list                          certificate rounds and their approvals
  cert review ROUND                  what the certificate says, computed here from the TBS bytes, and their sha256
  cert approve ROUND [--yes]         review, confirm and sign an approval of exactly these bytes (any key type)
  cert sign ROUND [--yes] [--out F]  for the CA key's holder: check that the TBS names your CA as issuer (its
                                     chain's first certificate is for your key; else ISSUER_MISMATCH), verify a
                                     threshold of approvals against YOUR pinned approvers (else APPROVALS_UNMET,
                                     exit 1), then sign the TBS bytes; the coordinator assembles, verifies and
                                     releases the certificate
  cert pin-approvers --approver NAME=PUBKEY.pem ... --threshold N
                                     pin whose approvals count for your CA key, and how many are needed

Options: --home DIR, --passphrase-file FILE, --pin-file FILE, --json, --help.`;

function renderCert(c: CheckedCert, approvals: { keyholder: string }[]): string {
  return certText(c, approvals);
}

/**
 * A certificate round from the coordinator, to be decided by the workflow for a use (review records are keyed by the id
 * asked for).
 */
async function fetchCert(s: Session, roundId: string) {
  const payload = await s.conn.request({ type: 'cert.get', round: roundId }, 'cert.payload');
  const reviewed = new TrustStore(s.home, s.dialect).reviewed('cert', roundId);
  return { payload, decide: (use: CertUse) => decideCertRound(roundId, payload, use, { reviewed }) };
}

async function cert(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help')
    return (io.out(CERT_HELP), sub === undefined ? 2 : 0);
  const { values, positionals } = args(rest, {
    approver: { type: 'string', multiple: true },
    threshold: { type: 'string' },
    out: { type: 'string' },
    'timeout-s': { type: 'string' },
  });
  if (values.help) return (io.out(CERT_HELP), 0);
  if (sub === 'pin-approvers') {
    const list = (values.approver ?? []).map((a) => {
      const i = a.indexOf('=');
      if (i < 1) throw new UsageError(`--approver ${JSON.stringify(a)} must be NAME=PUBLIC-KEY-FILE`);
      return { name: a.slice(0, i), publicKey: fs.readFileSync(a.slice(i + 1), 'utf8') };
    });
    const threshold = Number(values.threshold);
    if (!list.length || !Number.isInteger(threshold) || threshold < 1 || threshold > list.length)
      throw new UsageError(
        'pin-approvers needs at least one --approver NAME=PUBKEY.pem and --threshold N (1 to the number of approvers)',
      );
    const pinned = pinApprovers(homeOf(values), list, threshold);
    if (values.json) io.out(JSON.stringify(pinned, null, 2));
    else
      io.out(
        `pinned ${pinned.threshold} of ` +
          `${pinned.approvers.map((a) => `${a.name} (${a.fingerprint.slice(0, 16)}…)`).join(', ')} as the ` +
          'approvals your CA key needs',
      );
    return 0;
  }
  if (sub === 'list') {
    const s = await session(values);
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
        io.err(`older certificate rounds exist (the coordinator lists them with quorum certs --before ${esc(r.next)})`);
      return 0;
    } finally {
      endSession(s);
    }
  }
  if (!['review', 'approve', 'sign'].includes(sub) || positionals.length !== 1) throw new UsageError(CERT_HELP);
  const roundId = positionals[0]!;
  const s = await session(values, sub === 'sign'); // a FROST signing round rides out a coordinator restart
  try {
    const { payload, decide } = await fetchCert(s, roundId);
    if (sub === 'review') {
      const { checked, text } = decide({ as: 'review' });
      new TrustStore(s.home, s.dialect).recordReview('cert', roundId, checked.tbsSha256); // keyed by the id asked for
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
    }
    if (sub === 'approve') {
      // profile and issuer (PROFILE_MISMATCH, ISSUER_MISMATCH)
      const { checked, bytes, text } = decide({ as: 'approve' });
      io.out(text.trimEnd());
      if (!values.yes && !(await confirm(`approve issuing this certificate (round ${roundId})?`)))
        return (io.out('not approved'), 1);
      const sig = await s.signer.sign(bytes);
      const ack = await s.conn.request(
        { type: 'cert.approve', round: roundId, tbsSha256: checked.tbsSha256, sig: sig.toString('base64') },
        'cert.approved',
      );
      io.out(
        `approved ${roundId}; accepted. approvals ${ack.round.approvals.approved.length}/${ack.round.approvals.threshold}${ack.round.approvals.met ? ' (met)' : ''}`,
      );
      return 0;
    }
    // A FROST group CA: this client holds one share; t participants sign together.
    if (payload.round.holder === null) return await frostCertSign(s, decide({ as: 'frost' }).checked, values);
    // sign: this client holds the CA key, and decides itself whether enough keyholders approved (against its pinned
    // approvers).
    const me = s.signer.publicKey;
    const { checked, bytes, text, approvedBy } = decide({ as: 'sign', caKey: me, approvers: loadApprovers(s.home) });
    io.out(text.trimEnd());
    io.out(`verified here: approved by ${approvedBy.map(esc).join(', ')} (your pinned approvers)`);
    if (!values.yes && !(await confirm(`sign this certificate with your CA key (round ${roundId})?`)))
      return (io.out('not signed'), 1);
    const sig = await s.signer.sign(bytes);
    const rel = await s.conn.request(
      { type: 'cert.sign', round: roundId, tbsSha256: checked.tbsSha256, sig: sig.toString('base64') },
      'cert.released',
    );
    if (values.out) fs.writeFileSync(values.out, rel.certificate);
    io.out(`signed ${roundId}; the certificate is released${values.out ? ` and written to ${values.out}` : ''}`);
    return 0;
  } finally {
    endSession(s);
  }
}

// --- FROST threshold keys ----------------------------------------------------------------------

const FROST_HELP = `Usage:
  quorum-signer frost identity [--scrypt-n N]      create your X25519 identity (encrypted in --home/frost);
                                                   prints the public key for: quorum keyholder identity NAME HEX
  quorum-signer frost pin-participants --participant NAME=PUBKEY.pem ...
                                                   pin the signing keys the other participants enrolled with
                                                   (from them, not from the coordinator); added to those pinned
  quorum-signer frost join CEREMONY [--yes] [--scrypt-n N] [--timeout-s S]
                                                   take part in a DKG ceremony: round 1 with your identity
                                                   statement (signed with your key), the others' statements
                                                   checked against your pins, round 2 (shares encrypted to
                                                   each identity), the confirmation with your signature over
                                                   the transcript; your share is stored only once every
                                                   participant signed the same transcript (its sha256 is
                                                   printed: compare it out of band)
  quorum-signer frost groups [--json]              the groups you hold a share of
  quorum-signer frost sign ROUND [--yes] [--out F] [--timeout-s S]
                                                   sign with your share, together with the group's other
                                                   participants: a root or targets round that needs the
                                                   group's key (after every check quorum-signer sign makes,
                                                   against your pinned root), or a FROST group CA's
                                                   certificate round (the same as quorum-signer cert sign)

The identity and shares are encrypted with your passphrase (--passphrase-file or QUORUM_PASSPHRASE).`;

/** Sign a FROST group CA's certificate round with this participant's share (after the checks of cert-trust.ts). */
async function frostCertSign(
  s: Session,
  checked: CheckedCert,
  v: { yes: boolean; out?: string; 'timeout-s'?: string } & SecretOptions,
): Promise<number> {
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
  io.out(renderCert(checked, []).trimEnd());
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

async function frost(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help')
    return (io.out(FROST_HELP), sub === undefined ? 2 : 0);
  const { values, positionals } = args(rest, {
    'scrypt-n': { type: 'string' },
    'timeout-s': { type: 'string' },
    out: { type: 'string' },
    participant: { type: 'string', multiple: true },
  });
  if (values.help) return (io.out(FROST_HELP), 0);
  const home = homeOf(values);
  if (sub === 'pin-participants' && positionals.length === 0) {
    const list = (values.participant ?? []).map((a) => {
      const i = a.indexOf('=');
      if (i < 1) throw new UsageError(`--participant ${JSON.stringify(a)} must be NAME=PUBLIC-KEY-FILE`);
      // FILE_MISSING, FILE_UNREADABLE
      return { name: a.slice(0, i), publicKey: readInput(a.slice(i + 1)).bytes.toString('utf8') };
    });
    if (!list.length)
      throw new UsageError(
        'pin-participants needs at least one --participant NAME=PUBKEY.pem (the key that keyholder enrolled with)',
      );
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
  }
  if (sub === 'identity' && positionals.length === 0) {
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
    const N = values['scrypt-n'] ? Number(values['scrypt-n']) : SCRYPT_DEFAULT.N;
    const pub = store.createIdentity(pass, { ...SCRYPT_DEFAULT, N });
    io.out(pub);
    io.err(
      `wrote ${store.identityFile}; give the key above to your release coordinator: quorum keyholder identity ` +
        `NAME ${pub}`,
    );
    return 0;
  }
  if (sub === 'groups' && positionals.length === 0) {
    const groups = FrostStore.open(frostDir(home)).groups();
    if (values.json) io.out(JSON.stringify(groups, null, 2));
    else if (!groups.length) io.out('no FROST shares yet');
    else
      for (const g of groups)
        io.out(`${g.ceremony}  ${g.threshold}-of-${g.participants.length}  group key ${g.groupPublicKey}`);
    return 0;
  }
  if (sub === 'sign' && positionals.length === 1) {
    const s = await session(values, true);
    try {
      const id = positionals[0]!;
      // A root or targets round, else a certificate round.
      const round = await s.conn.request({ type: 'round.get', round: id }, 'round.payload').catch((e: unknown) => {
        if (e instanceof QuorumError && e.code === 'ROUND_NOT_FOUND') return null;
        throw e;
      });
      if (round) return await frostMetadataSign(s, id, values, round);
      const p = await s.conn.request({ type: 'cert.get', round: id }, 'cert.payload');
      const checked = decideCertRound(
        id,
        p,
        { as: 'frost' },
        { reviewed: new TrustStore(s.home, s.dialect).reviewed('cert', id) },
      ).checked;
      return await frostCertSign(s, checked, values);
    } finally {
      endSession(s);
    }
  }
  if (sub === 'join' && positionals.length === 1) {
    const store = FrostStore.open(frostDir(home));
    if (!store.hasIdentity())
      throw new UsageError(`no FROST identity in ${store.dir}: run quorum-signer frost identity first`);
    const s = await session(values, true);
    try {
      const id = positionals[0]!;
      const N = values['scrypt-n'] ? Number(values['scrypt-n']) : SCRYPT_DEFAULT.N;
      const r = await joinCeremony({
        conn: s.conn,
        signer: s.signer,
        store,
        ceremony: id,
        deadline: deadlineOf(values),
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
  }
  throw new UsageError(FROST_HELP);
}

const TOKEN_RETRY_MS = 5_000; // ms between attempts while a token is unplugged during watch

async function watch(argv: string[]): Promise<number> {
  const { values } = args(argv, { 'unsafe-auto-sign': { type: 'boolean', default: false } });
  if (values.help)
    return (
      io.out(
        'Usage: quorum-signer watch [--unsafe-auto-sign]\n\nStay connected (reconnecting by itself) and, for ' +
          'each open round that needs your key, show the\nreview and ask whether to sign. --unsafe-auto-sign ' +
          "signs every round that passes this client's checks\nwithout asking a person: for tests and demos only.",
      ),
      0
    );
  const s = await session(values, true);
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
        if (e instanceof QuorumError && (e.code === 'DISCONNECTED' || e.code === 'TIMEOUT')) seen.delete(r.id);
        io.err(`round ${r.id}: ${esc(String((e as QuorumError).code ?? 'ERROR'))}: ${esc((e as Error).message)}`);
        if (e instanceof QuorumError && e.code === 'TOKEN_NOT_PRESENT') {
          // Plugging the token back in is enough; other token errors (a wrong PIN) need a person.
          seen.delete(r.id);
          io.err(`round ${r.id}: trying the token again in ${TOKEN_RETRY_MS / 1000} s`);
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
  s.conn.on('frost.dkg.open', (m: { ceremony: { id: string; threshold: number; participants: { name: string }[] } }) =>
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
    s.conn.on('fatal', (e: QuorumError<string>) => {
      io.err(`${e.code}: ${e.message}`);
      stop(1);
    });
  });
}

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  keygen,
  'import-garage-sign': importGs,
  token,
  join,
  trust,
  rounds,
  review,
  sign,
  watch,
  cert,
  frost,
};

// error messages can carry a coordinator's text: one line each
main(process.argv.slice(2), COMMANDS, HELP, { oneLine: true });
