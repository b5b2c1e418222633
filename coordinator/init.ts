/**
 * `quorum init`: create a coordinator data dir. It holds the SQLite database, the admin
 * credential (admin.token, mode 0600), the online snapshot/timestamp key (online-key.pem) and,
 * with --tls, a self-signed TLS certificate whose fingerprint signers pin.
 *
 * The trust anchor is either imported (a TUF metadata folder, or a garage-sign repository
 * folder with roles/) and verified first, or created: version 1 of root is then the first round,
 * built from enrolled keyholders' keys.
 */
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Dialect } from '../protocol/canonical.js';
import { QuorumError } from '../protocol/errors.js';
import { DEFAULT_DEADLINE_MS } from '../protocol/time.js';
import { publicKeyFrom, readPublicKeyFile as readKeyFromFile } from '../protocol/keys.js';
import { loadRepository } from '../protocol/repository.js';
import { parseMetadata, verifyRepository, type VerifyReport } from '../protocol/verify.js';
import type { RootSigned } from '../protocol/metadata/schemas.js';
import {
  garageSignInput,
  keyRoles,
  OTA_META,
  parseTufrepoUrl,
  readGarageSign,
  unsignedReports,
  type GarageSignSource,
  type KeyReport,
  type UnsignedReport,
} from './garage-sign.js';
import { initialRoot, OTA_SERVER_TARGETS_META } from './proposals.js';
import { publish } from './release.js';
import { enrollKeyholder, openRound, roleNeed } from './rounds.js';
import { hashToken } from './auth.js';
import { DATA_FILES } from './data-files.js';
import { HASH_BINS_META, type HashBins } from './delegated.js';
import { delegatedFileName } from '../protocol/delegations.js';
import { Store } from './store.js';

export interface InitOptions {
  dataDir: string;
  dialect?: Dialect;
  importDir?: string;
  /** A garage-sign repository folder (tuf/<repo>), an unpacked credentials.zip, or the zip itself. */
  importGarageSign?: string;
  /** The reposerver URL, for a garage-sign folder (garage-sign keeps it in config.json, which import never reads). */
  tufrepoUrl?: string;
  /** name -> a `.pub` inside the garage-sign import (e.g. keys/targets.pub, or targets.pub in the zip) */
  enroll?: Record<string, string>;
  /** Evaluate the imported metadata's expiry at this time instead of now (old repositories). */
  at?: Date;
  /** name -> public key file (PEM, or a garage-sign .pub) */
  keyholders?: Record<string, string>;
  rootKeyholders?: string[];
  targetsKeyholders?: string[];
  rootThreshold?: number;
  targetsThreshold?: number;
  tls?: boolean;
  tlsHosts?: string[];
  now?: Date;
  /**
   * tuf: delegate every target from targets.json to this many hash bins (TAP 15 succinct_roles, a
   * power of two), named `bins-<hex>` and signed by the online key, as RSTUF does.
   */
  hashBins?: number;
}

export interface InitResult {
  dataDir: string;
  dialect: Dialect;
  adminToken: string;
  imported?: VerifyReport;
  firstRound?: string;
  tlsFingerprint?: string;
  /** tuf import: the role (snapshot/timestamp) the online key cannot sign yet. */
  onlineKeyMissing?: string;
  garageSign?: GarageSignImport;
}

/** What a garage-sign import found, for the report printed to the user. */
export interface GarageSignImport {
  kind: GarageSignSource['kind'];
  path: string;
  tufrepoUrl: string | null;
  /** The imported root's roles: key ids (ota-tuf form) and thresholds. */
  roles: Record<string, { keyids: string[]; threshold: number }>;
  keys: KeyReport[];
  /** `*.sec` files present (never read), with the command their keyholder runs. */
  privateKeyFiles: { name: string; next: string }[];
  unsigned: UnsignedReport[];
  notRead: string[];
  /** tufrepo.url carried credentials (user:password@), which were dropped and not stored. */
  tufrepoUserinfoDropped: boolean;
  /** The targets version the reposerver is known to hold (signed or pulled), if any. */
  serverTargetsVersion: number | null;
}

/** A keyholder's public key file as PEM (SPKI): PEM or a garage-sign .pub (`what`: the argument that named it). */
export function readPublicKeyFile(file: string, what: string): string {
  return readKeyFromFile(file, what).keyObject.export({ type: 'spki', format: 'pem' }).toString();
}

/** A garage-sign repository keeps its metadata in roles/; a TUF folder holds it directly. */
export function metadataFolder(dir: string): string {
  const roles = path.join(dir, 'roles');
  return fs.existsSync(path.join(roles, 'root.json')) ? roles : dir;
}

export function init(opts: InitOptions): InitResult {
  const dataDir = path.resolve(opts.dataDir);
  const now = opts.now ?? new Date();
  if (fs.existsSync(path.join(dataDir, DATA_FILES.db)))
    throw new QuorumError('USAGE', `${dataDir} is already a coordinator data dir; choose another --data-dir`);
  let imported: VerifyReport | undefined;
  let importFiles: Record<string, Buffer> | undefined;
  let dialect = opts.dialect;
  let input0: ReturnType<typeof loadRepository> | undefined;
  let gs: GarageSignSource | undefined;
  let tufrepoUrl: string | null = null;
  if (opts.importDir && opts.importGarageSign)
    throw new QuorumError('USAGE', 'choose one of --import and --import-garage-sign');
  if (opts.importGarageSign) {
    gs = readGarageSign(opts.importGarageSign);
    if (dialect && dialect !== 'ota')
      throw new QuorumError(
        'USAGE',
        'a garage-sign repository is in the ota dialect; drop --dialect or use --dialect ota',
      );
    dialect = 'ota';
    tufrepoUrl = opts.tufrepoUrl ? parseTufrepoUrl(opts.tufrepoUrl, '--tufrepo-url').url : (gs.tufrepoUrl ?? null);
  }
  if (opts.importDir || gs) {
    const dir = gs ? gs.path : metadataFolder(opts.importDir!);
    const input = gs ? garageSignInput(gs) : loadRepository(dir);
    input0 = input;
    imported = verifyRepository(input, { at: opts.at ?? now, dialect });
    if (!imported.ok) {
      throw new QuorumError(
        'USAGE',
        `the repository in ${dir} does not verify, so it cannot be the trust anchor:\n${imported.errors.map((e) => `  ${e.code}: ${e.file}: ${e.message}`).join('\n')}`,
      );
    }
    if (gs && imported.dialect !== 'ota')
      throw new QuorumError(
        'USAGE',
        `${dir} holds ${imported.dialect} metadata; a garage-sign repository is ota (import a TUF folder with ` +
          '--import)',
      );
    dialect = imported.dialect!;
    importFiles = {};
    for (const [v, f] of input.roots) importFiles[`${v}.root.json`] = f.bytes;
    if (input.root) {
      importFiles['root.json'] = input.root.bytes;
      const v = parseMetadata(input.root.bytes, 'root.json', 'root', dialect).signed.version;
      importFiles[`${v}.root.json`] ??= input.root.bytes;
    }
    if (input.targets) importFiles['targets.json'] = input.targets.bytes;
    if (dialect === 'tuf') {
      if (input.snapshot) importFiles['snapshot.json'] = input.snapshot.bytes;
      if (input.timestamp) importFiles['timestamp.json'] = input.timestamp.bytes;
    }
    // Every delegated role verified, under the name the coordinator reads it by (and the served one).
    for (const d of imported.delegated) {
      const f = input.readFile?.(d.file);
      if (!f) continue;
      importFiles[d.file] = f.bytes;
      importFiles[delegatedFileName(d.name, dialect)] = f.bytes;
    }
  }
  let gsImport: GarageSignImport | undefined;
  const enrollKeys: [string, ReturnType<typeof readGarageSign>['publicKeys'][number]][] = [];
  if (gs) {
    const root = parseMetadata(importFiles!['root.json']!, 'root.json', 'root', 'ota').signed as RootSigned;
    const unsigned = unsignedReports(gs, root);
    const signedTargets = imported!.roles.targets?.version ?? null;
    const pulled = unsigned.find((u) => u.role === 'targets')?.version ?? null;
    const known = [signedTargets, pulled].filter((v): v is number => typeof v === 'number');
    const serverTargetsVersion = known.length ? Math.max(...known) : null;
    gsImport = {
      kind: gs.kind,
      path: gs.path,
      tufrepoUrl,
      roles: Object.fromEntries(
        Object.entries(root.roles).map(([r, v]) => [r, { keyids: [...v.keyids], threshold: v.threshold }]),
      ),
      keys: keyRoles(gs, root),
      privateKeyFiles: gs.privateKeyFiles.map((name) => ({
        name,
        next:
          gs!.kind === 'zip'
            ? `quorum-signer import-garage-sign ${gs!.path} --entry ${name} --out NAME`
            : `quorum-signer import-garage-sign ${path.join(gs!.path, name)} --out NAME`,
      })),
      unsigned,
      notRead: gs.notRead,
      tufrepoUserinfoDropped: !opts.tufrepoUrl && !!gs.tufrepoUserinfoDropped,
      serverTargetsVersion,
    };
    for (const [name, entry] of Object.entries(opts.enroll ?? {})) {
      const k = gs.publicKeys.find((x) => x.name === entry || path.basename(x.name) === entry);
      if (!k)
        throw new QuorumError(
          'USAGE',
          `--enroll ${name}=${entry}: the import has no ${entry} (public keys found: ` +
            `${gs.publicKeys.map((x) => x.name).join(', ') || 'none'})`,
        );
      enrollKeys.push([name, k]);
    }
  } else if (opts.enroll && Object.keys(opts.enroll).length) {
    throw new QuorumError(
      'USAGE',
      '--enroll names a public key inside a garage-sign import; use --keyholder NAME=FILE otherwise',
    );
  }
  if (!dialect) throw new QuorumError('USAGE', 'choose a dialect with --dialect ota|tuf (or --import a repository)');
  let bins: HashBins | null = null;
  if (opts.hashBins !== undefined) {
    const n = opts.hashBins;
    if (dialect !== 'tuf')
      throw new QuorumError('USAGE', '--hash-bins is for tuf repositories (aktualizr knows no hash bins)');
    if (importFiles || gsImport) throw new QuorumError('USAGE', '--hash-bins goes with a new repository, not --import');
    if (!Number.isInteger(n) || n < 2 || n > 65_536 || (n & (n - 1)) !== 0)
      throw new QuorumError('USAGE', `--hash-bins ${n}: give a power of two from 2 to 65536 (e.g. 1024)`);
    bins = { bitLength: Math.log2(n), namePrefix: 'bins' };
  }
  // Every key read before anything is written: a bad file leaves no half-made data dir.
  const keyholderKeys = Object.entries(opts.keyholders ?? {}).map(
    ([name, file]) => [name, readPublicKeyFile(file, '--keyholder')] as const,
  );

  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const store = new Store(path.join(dataDir, DATA_FILES.db));
  try {
    const adminToken = crypto.randomBytes(32).toString('hex');
    store.tx(() => {
      store.setMeta('dialect', dialect!);
      store.setMeta('server_id', `quorum-${crypto.randomBytes(6).toString('hex')}`);
      store.setMeta('admin_token_sha256', hashToken(adminToken));
      store.setMeta('created_at', now.toISOString());
      if (bins) store.setMeta(HASH_BINS_META, JSON.stringify(bins));
      store.audit('repository.initialised', { dialect, imported: !!importFiles }, now.toISOString());
      if (gsImport) {
        // Not secrets: where the reposerver is, and which versions it holds.
        store.setMeta(OTA_META.importSource, 'garage-sign');
        if (gsImport.tufrepoUrl) store.setMeta(OTA_META.tufrepoUrl, gsImport.tufrepoUrl);
        if (gsImport.serverTargetsVersion !== null)
          store.setMeta(OTA_META.serverTargetsVersion, String(gsImport.serverTargetsVersion));
        // What `targets pull` saw the server hold: round open and export tell new targets from it.
        const pulled = gsImport.unsigned.find((u) => u.role === 'targets');
        if (gs!.unsignedTargets && pulled?.version === gsImport.serverTargetsVersion) {
          store.setMeta(
            OTA_SERVER_TARGETS_META,
            JSON.stringify(JSON.parse(gs!.unsignedTargets.bytes.toString('utf8'))),
          );
        }
      }
      if (importFiles && dialect === 'ota') {
        // An ota import is the state of an OTA Connect reposerver: `quorum export ota-tuf` uploads only what comes
        // after it.
        store.setMeta(OTA_META.importRootVersion, String(imported!.rootChain.at(-1)!.version));
        const t = imported!.roles.targets?.version;
        if (!gsImport && t !== undefined) store.setMeta(OTA_META.serverTargetsVersion, String(t));
      }
    });
    fs.writeFileSync(path.join(dataDir, DATA_FILES.adminToken), adminToken + '\n', { mode: 0o600 });
    const online = crypto.generateKeyPairSync('ed25519');
    fs.writeFileSync(
      path.join(dataDir, DATA_FILES.onlineKey),
      online.privateKey.export({ type: 'pkcs8', format: 'pem' }),
      { mode: 0o600 },
    );

    for (const [name, pem] of keyholderKeys) enrollKeyholder(store, name, pem, now);
    for (const [name, k] of enrollKeys)
      enrollKeyholder(store, name, k.pk.keyObject.export({ type: 'spki', format: 'pem' }).toString(), now);

    const result: InitResult = { dataDir, dialect, adminToken, imported, garageSign: gsImport };
    if (importFiles) {
      const seq = store.tx(() => {
        const seq = store.insertRelease(
          null,
          'import',
          imported!.rootChain.at(-1)!.version,
          now.toISOString(),
          importFiles!,
        );
        store.audit(
          'repository.imported',
          {
            release: seq,
            files: Object.keys(importFiles!).sort(),
            ...(gsImport
              ? { source: 'garage-sign', kind: gsImport.kind, keys: gsImport.keys.map((k) => k.keyId) }
              : {}),
          },
          now.toISOString(),
        );
        return seq;
      });
      publish(dataDir, seq, importFiles);
      if (dialect === 'tuf') {
        const root = parseMetadata(importFiles['root.json'] ?? input0!.trustedRoot.bytes, 'root.json', 'root', dialect)
          .signed as RootSigned;
        const online0 = publicKeyFrom(online.publicKey);
        const missing = ['snapshot', 'timestamp'].find((r) => !roleNeed(r, root, r).keys.has(online0.fingerprint));
        if (missing) result.onlineKeyMissing = missing;
      }
    } else if (opts.rootKeyholders?.length) {
      const signed = initialRoot(
        store,
        {
          root: opts.rootKeyholders,
          targets: opts.targetsKeyholders ?? opts.rootKeyholders,
          rootThreshold: opts.rootThreshold ?? 1,
          targetsThreshold: opts.targetsThreshold ?? 1,
          online: online.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
        },
        now,
      );
      const round = openRound(
        store,
        {
          role: 'root',
          reason: 'initial root (version 1) of a new repository',
          deadline: new Date(now.getTime() + DEFAULT_DEADLINE_MS),
          signed,
        },
        now,
      );
      result.firstRound = round.id;
    }
    if (opts.tls) result.tlsFingerprint = makeTlsCertificate(dataDir, opts.tlsHosts ?? ['localhost', '127.0.0.1']);
    return result;
  } finally {
    store.close();
  }
}

/** A self-signed P-256 certificate for the coordinator, made by the openssl command. */
export function makeTlsCertificate(dataDir: string, hosts: string[]): string {
  const dir = path.join(dataDir, 'tls');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const san = hosts.map((h) => (/^[\d.]+$/.test(h) || h.includes(':') ? `IP:${h}` : `DNS:${h}`)).join(',');
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        path.join(dir, 'key.pem'),
        '-out',
        path.join(dir, 'cert.pem'),
        '-days',
        '825',
        '-subj',
        '/CN=uptane-quorum coordinator',
        '-addext',
        `subjectAltName=${san}`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
  } catch (e) {
    throw new QuorumError(
      'USAGE',
      'openssl could not make the TLS certificate: ' +
        `${(e as { stderr?: Buffer }).stderr?.toString() ?? (e as Error).message}`,
    );
  }
  fs.chmodSync(path.join(dir, 'key.pem'), 0o600);
  return new crypto.X509Certificate(fs.readFileSync(path.join(dir, 'cert.pem'))).fingerprint256;
}
