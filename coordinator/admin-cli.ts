/**
 * The release coordinator's commands: init, serve, keyholder, round, rounds, status, audit.
 * Commands that change a running coordinator go through its admin HTTP API with the admin
 * credential, so connected signers are told at once; init and audit work on the data dir.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError, type Io } from '../protocol/cli.js';
import { QuorumError } from '../protocol/errors.js';
import { WIRE_LIMITS } from '../protocol/limits.js';
import { daysFrom } from '../protocol/metadata/build.js';
import { formatExpires } from '../protocol/metadata/schemas.js';
import { fetchPinnedCertificate, requestJson, type Pin } from '../protocol/transport.js';
import type { RoundInfo, RoundState } from '../protocol/wire.js';
import { formatReview } from '../protocol/x509.js';
import {
  adminClient,
  type AdminArgs,
  type AdminInput,
  type AdminResponse,
  type CertView,
  type RootChange,
  type RouteName,
  type TargetsChange,
} from './admin-api.js';
import { CertRoundError } from './certificates.js';
import { exportOtaTuf, OtaExportError, uploadSteps, type OtaProblem } from './garage-sign.js';
import { init, readPublicKeyFile, type GarageSignImport } from './init.js';
import { EXPIRY_DAYS } from './proposals.js';
import { progressLine } from './rounds.js';
import { targetEntry } from './target-entry.js';
import { DATA_FILES, serve } from './server.js';
import { Store, verifyAuditChain } from './store.js';

const DEFAULT_DATA_DIR = 'quorum-data';

const common = {
  'data-dir': { type: 'string' },
  server: { type: 'string' },
  'token-file': { type: 'string' },
  'tls-fingerprint': { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies ParseArgsConfig['options'];

function args<O extends ParseArgsConfig['options']>(argv: string[], options: O, help: string) {
  try {
    return parseArgs({ args: argv, options: { ...common, ...options }, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(`${(e as Error).message}\n\n${help}`);
  }
}

export function dataDirOf(v: { 'data-dir'?: string }): string {
  return path.resolve(v['data-dir'] ?? process.env.QUORUM_DATA_DIR ?? DEFAULT_DATA_DIR);
}

interface Admin {
  url: string;
  token: string;
  pin: Pin | null;
}

async function adminConn(v: {
  'data-dir'?: string;
  server?: string;
  'token-file'?: string;
  'tls-fingerprint'?: string;
}): Promise<Admin> {
  const dir = dataDirOf(v);
  let url = v.server;
  let pin: Pin | null = null;
  const infoFile = path.join(dir, DATA_FILES.serverInfo);
  if (!url) {
    if (!fs.existsSync(infoFile))
      throw new UsageError(
        `no --server given and ${infoFile} does not exist; start the coordinator (quorum serve) or pass --server URL`,
      );
    const info = JSON.parse(fs.readFileSync(infoFile, 'utf8')) as { url: string; tlsFingerprint: string | null };
    url = info.url;
    if (info.tlsFingerprint)
      pin = {
        fingerprint256: info.tlsFingerprint,
        certPem: fs.readFileSync(path.join(dir, DATA_FILES.tlsCert), 'utf8'),
      };
  } else if (url.startsWith('https:')) {
    if (!v['tls-fingerprint'])
      throw new UsageError('an https:// --server needs --tls-fingerprint (printed by quorum serve)');
    pin = await fetchPinnedCertificate(url, v['tls-fingerprint']);
  }
  let token = process.env.QUORUM_ADMIN_TOKEN;
  const tokenFile = v['token-file'] ?? path.join(dir, DATA_FILES.adminToken);
  if (!token) {
    if (!fs.existsSync(tokenFile))
      throw new UsageError(
        `no admin credential: set QUORUM_ADMIN_TOKEN or pass --token-file (${tokenFile} does not exist)`,
      );
    token = fs.readFileSync(tokenFile, 'utf8').trim();
  }
  return { url: url.replace(/\/$/, ''), token, pin };
}

/** Route `name` of the admin API (admin-api.ts) at the coordinator `a` names, its answer checked. */
function call<K extends RouteName>(a: Admin, name: K, ...req: AdminArgs<K>): Promise<AdminResponse<K>> {
  return adminClient(({ method, path: p, body }) =>
    requestJson(`${a.url}${p}`, { method, body, pin: a.pin, headers: { authorization: `Bearer ${a.token}` } }),
  )(name, ...req);
}

function parseDeadline(s: string | undefined, now = Date.now()): string | undefined {
  if (s === undefined) return undefined;
  const m = /^(\d+)([mhd])$/.exec(s);
  if (m)
    return new Date(
      now + Number(m[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'm' | 'h' | 'd'],
    ).toISOString();
  if (Number.isNaN(Date.parse(s)))
    throw new UsageError(`--deadline ${JSON.stringify(s)} is neither a duration (48h, 7d, 30m) nor an RFC 3339 time`);
  return new Date(s).toISOString();
}

function showRound(io: Io, r: RoundInfo, json: boolean, signed?: string) {
  if (json) return io.out(JSON.stringify(signed ? { round: r, signed: JSON.parse(signed) } : r, null, 2));
  io.out(`${r.id}  ${progressLine(r)}`);
  io.out(`  reason: ${r.reason}`);
  io.out(`  deadline: ${r.deadline}   sha256 of the bytes to sign: ${r.sha256}`);
  for (const p of r.progress)
    io.out(
      `  ${p.label}: ${p.signed.length}/${p.threshold}${p.met ? ' met' : ''}; signed: ` +
        `${p.signed.join(', ') || '-'}; missing: ${p.missing.join(', ') || '-'}`,
    );
}

// --- commands ----------------------------------------------------------------------------------

function printGarageSign(io: Io, g: GarageSignImport, enrolled: string[]): void {
  io.out(`  garage-sign ${g.kind === 'zip' ? 'credentials.zip' : 'repository'}: ${g.path}`);
  io.out(
    '  tufrepo.url: ' +
      `${g.tufrepoUrl ?? '(not found: pass --tufrepo-url URL; garage-sign keeps it in config.json, which is not read)'}`,
  );
  if (g.tufrepoUserinfoDropped) io.out('    (it carried user:password@, which was dropped and not stored)');
  for (const [role, r] of Object.entries(g.roles))
    io.out(`  root role ${role}: ${r.threshold} of ${r.keyids.join(', ')}`);
  for (const k of g.keys) {
    io.out(
      `  public key ${k.name}: ${k.algorithm}, ota-tuf key id ${k.keyId}, ` +
        `${k.roles.length ? `in root roles: ${k.roles.join(', ')}` : 'not in the imported root'}`,
    );
  }
  if (g.keys.length && !enrolled.length)
    io.out(
      "    enroll a key's holder with quorum init --enroll NAME=<file.pub>, or later with quorum keyholder add " +
        'NAME <their NAME.pub.pem>',
    );
  for (const u of g.unsigned) {
    if (u.problem) io.out(`  ${u.file}: not readable (${u.problem})`);
    else if (u.role === 'root')
      io.out(
        `  ${u.file}: version ${u.version}${u.differs ? ', with unsigned changes: to have them signed, quorum round open root --signed ' + u.file + ' --renew' : ', the same as the signed root'}`,
      );
    else
      io.out(`  ${u.file}: version ${u.version}, ${u.targets} target(s), pulled from the reposerver (not signed here)`);
  }
  if (g.serverTargetsVersion !== null)
    io.out(
      `  the reposerver holds targets version ${g.serverTargetsVersion}; it accepts only version ` +
        `${g.serverTargetsVersion + 1} next`,
    );
  for (const p of g.privateKeyFiles) {
    io.out(`  private key ${p.name}: not read and not copied. Its keyholder, on their own machine:`);
    io.out(`    ${p.next}`);
    io.out('    then hands NAME.pub.pem to you: quorum keyholder add NAME NAME.pub.pem');
  }
  if (g.notRead.length) io.out(`  not read: ${g.notRead.join(', ')}`);
}

export const INIT_HELP = `Usage: quorum init [--data-dir DIR] (--import FOLDER | --import-garage-sign PATH | --dialect ota|tuf [--keyholder NAME=PUBKEY ...]
                   [--root-keyholders a,b,c --root-threshold N] [--targets-keyholders a,b,c --targets-threshold N]) [--tls [--tls-host H ...]]

Create a coordinator data dir (default ./quorum-data): the SQLite database, the admin credential
(admin.token), the online snapshot/timestamp key, and with --tls a certificate signers pin.

  --import FOLDER        trust an existing repository: a TUF metadata folder (N.root.json, root.json,
                         targets.json, ...) or a garage-sign repository folder (with roles/). It must verify.
  --import-garage-sign PATH
                         trust an OTA Connect repository: a garage-sign folder (tuf/<repo>), an unpacked
                         credentials.zip, or credentials.zip itself. Reads only roles/root.json (root.json in
                         the zip), roles/targets.json, roles/unsigned/*.json, *.pub and tufrepo.url; private
                         keys (*.sec), treehub.json, config.json and TLS credentials are never read or copied.
                         Prints each key's ota-tuf key id and the next step for each *.sec's keyholder.
  --tufrepo-url URL      the reposerver URL, for a garage-sign folder (its tufrepo.url is in config.json, not read)
  --enroll NAME=FILE.pub enroll a keyholder by a public key inside the garage-sign import (e.g. targets.pub)
  --at TIME              evaluate the imported metadata's expiry at TIME (RFC 3339) instead of now
  --dialect D            ota (OTA Connect) or tuf, for a new repository
  --keyholder N=FILE     enroll a keyholder by public key file (PEM, or garage-sign .pub); repeatable
  --root-keyholders L    comma-separated keyholders whose keys sign root; version 1 of root becomes the first round
  --root-threshold N     how many of them must sign (default 1)
  --targets-keyholders L keyholders whose keys sign targets (default: the root keyholders)
  --targets-threshold N  (default 1)
  --tls                  serve wss:// with a new self-signed certificate; prints the fingerprint to pin`;

export async function cmdInit(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = args(
    argv,
    {
      import: { type: 'string' },
      'import-garage-sign': { type: 'string' },
      'tufrepo-url': { type: 'string' },
      enroll: { type: 'string', multiple: true },
      at: { type: 'string' },
      dialect: { type: 'string' },
      keyholder: { type: 'string', multiple: true },
      'root-keyholders': { type: 'string' },
      'targets-keyholders': { type: 'string' },
      'root-threshold': { type: 'string' },
      'targets-threshold': { type: 'string' },
      tls: { type: 'boolean', default: false },
      'tls-host': { type: 'string', multiple: true },
    },
    INIT_HELP,
  );
  if (values.help) return (io.out(INIT_HELP), 0);
  if (positionals.length) throw new UsageError(`unexpected ${positionals.join(' ')}\n\n${INIT_HELP}`);
  if (values.dialect && values.dialect !== 'ota' && values.dialect !== 'tuf')
    throw new UsageError('--dialect must be ota or tuf');
  const keyholders: Record<string, string> = {};
  for (const k of values.keyholder ?? []) {
    const i = k.indexOf('=');
    if (i < 1) throw new UsageError(`--keyholder ${JSON.stringify(k)} must be NAME=PUBLIC-KEY-FILE`);
    keyholders[k.slice(0, i)] = k.slice(i + 1);
  }
  const list = (s?: string) =>
    s
      ?.split(',')
      .map((x) => x.trim())
      .filter(Boolean);
  const num = (s: string | undefined, what: string) => {
    if (s === undefined) return undefined;
    const n = Number(s);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`${what} must be a whole number >= 1`);
    return n;
  };
  const enroll: Record<string, string> = {};
  for (const k of values.enroll ?? []) {
    const i = k.indexOf('=');
    if (i < 1)
      throw new UsageError(
        `--enroll ${JSON.stringify(k)} must be NAME=FILE.pub (a public key inside the garage-sign import)`,
      );
    enroll[k.slice(0, i)] = k.slice(i + 1);
  }
  if ((values['tufrepo-url'] || values.enroll) && !values['import-garage-sign'])
    throw new UsageError('--tufrepo-url and --enroll go with --import-garage-sign');
  let at: Date | undefined;
  if (values.at !== undefined) {
    at = new Date(values.at);
    if (Number.isNaN(at.getTime())) throw new UsageError(`--at ${JSON.stringify(values.at)} is not an RFC 3339 time`);
  }
  const r = init({
    dataDir: dataDirOf(values),
    dialect: values.dialect as 'ota' | 'tuf' | undefined,
    importDir: values.import,
    importGarageSign: values['import-garage-sign'],
    tufrepoUrl: values['tufrepo-url'],
    enroll,
    at,
    keyholders,
    rootKeyholders: list(values['root-keyholders']),
    targetsKeyholders: list(values['targets-keyholders']),
    rootThreshold: num(values['root-threshold'], '--root-threshold'),
    targetsThreshold: num(values['targets-threshold'], '--targets-threshold'),
    tls: values.tls,
    tlsHosts: values['tls-host'],
  });
  if (values.json)
    return (
      io.out(
        JSON.stringify(
          {
            dataDir: r.dataDir,
            dialect: r.dialect,
            firstRound: r.firstRound ?? null,
            tlsFingerprint: r.tlsFingerprint ?? null,
            ...(r.garageSign ? { garageSign: r.garageSign } : {}),
          },
          null,
          2,
        ),
      ),
      0
    );
  io.out(`initialised ${r.dialect} coordinator data dir ${r.dataDir}`);
  io.out(`  admin credential: ${path.join(r.dataDir, DATA_FILES.adminToken)} (keep it private)`);
  if (r.imported)
    io.out(
      `  imported repository: root version ${r.imported.rootChain.at(-1)!.version}${r.imported.roles.targets ? `, targets version ${r.imported.roles.targets.version}` : ''}`,
    );
  if (r.garageSign) printGarageSign(io, r.garageSign, Object.keys(enroll));
  if (r.onlineKeyMissing)
    io.out(
      `  note: the imported root does not let this coordinator's online key sign ${r.onlineKeyMissing}; before ` +
        'the first targets release, open a root round with --add-key snapshot=online --add-key timestamp=online ' +
        'and remove the old keys of those roles',
    );
  for (const k of Object.keys(keyholders)) io.out(`  enrolled keyholder ${k}`);
  if (r.firstRound) io.out(`  opened round ${r.firstRound}: root version 1 needs its keyholders' signatures`);
  if (r.tlsFingerprint) io.out(`  TLS certificate fingerprint (signers pin it): ${r.tlsFingerprint}`);
  io.out('next: quorum serve');
  return 0;
}

export const SERVE_HELP = `Usage: quorum serve [--data-dir DIR] [--host 127.0.0.1] [--port 7300] [--heartbeat-ms 30000]
                    [--rate-per-second 20] [--rate-burst 50] [--max-connections-per-keyholder 4]
                    [--failed-auth-per-minute 60] [--unsafe-plaintext]

Run the coordinator: the admin API, the signer endpoint (ws:// on loopback, or wss:// when the
data dir has a TLS certificate) and the status page at / (sign in with the admin token or a viewer
token: quorum viewer add NAME). Writes server.json into the data dir for the other commands.
Binding plain ws:// to an address that is not loopback needs --unsafe-plaintext; the address --host
resolves to decides, not how it is spelled.`;

export async function cmdServe(argv: string[], io: Io): Promise<number> {
  const { values } = args(
    argv,
    {
      host: { type: 'string' },
      port: { type: 'string' },
      'heartbeat-ms': { type: 'string' },
      'rate-per-second': { type: 'string' },
      'rate-burst': { type: 'string' },
      'max-connections-per-keyholder': { type: 'string' },
      'failed-auth-per-minute': { type: 'string' },
      'unsafe-plaintext': { type: 'boolean', default: false },
    },
    SERVE_HELP,
  );
  if (values.help) return (io.out(SERVE_HELP), 0);
  const dataDir = dataDirOf(values);
  const host = values.host ?? '127.0.0.1';
  const port = values.port === undefined ? 7300 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError('--port must be 0-65535');
  const positive = (v: string | undefined, flag: string) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!(n > 0)) throw new UsageError(`${flag} must be a positive number`);
    return n;
  };
  const server = await serve({
    dataDir,
    host,
    port,
    heartbeatMs: positive(values['heartbeat-ms'], '--heartbeat-ms'),
    ratePerSecond: positive(values['rate-per-second'], '--rate-per-second'),
    rateBurst: positive(values['rate-burst'], '--rate-burst'),
    maxConnectionsPerKeyholder: positive(values['max-connections-per-keyholder'], '--max-connections-per-keyholder'),
    failedAuthPerMinute: positive(values['failed-auth-per-minute'], '--failed-auth-per-minute'),
    unsafePlaintext: values['unsafe-plaintext'],
    log: io.out,
  });
  await new Promise<void>((resolve) => {
    const stop = () => {
      io.out('shutting down');
      void server.close().then(resolve);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return 0;
}

export const KEYHOLDER_HELP = `Usage: quorum keyholder add <name> <public-key-file> | list | remove <name>   [--data-dir DIR] [--json]
       quorum keyholder identity <name> <hex>   record the FROST identity key quorum-signer frost identity printed

Enroll a keyholder by the public key they exported (quorum-signer keygen writes NAME.pub.pem;
garage-sign .pub files work too), list them, or remove one (they can no longer connect).`;

export async function cmdKeyholder(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = args(argv, {}, KEYHOLDER_HELP);
  if (values.help) return (io.out(KEYHOLDER_HELP), 0);
  const [sub, name, file] = positionals;
  const a = await adminConn(values);
  if (sub === 'add' && name && file) {
    const k = await call(a, 'keyholders.add', { body: { name, publicKey: readPublicKeyFile(file) } });
    if (values.json) io.out(JSON.stringify(k));
    else io.out(`enrolled ${k.name}: ${k.algorithm} key, fingerprint ${k.fingerprint}`);
    return 0;
  }
  if (sub === 'identity' && name && file) {
    const r = await call(a, 'keyholders.identity', { params: { name }, body: { identityKey: file } });
    if (values.json) io.out(JSON.stringify(r));
    else io.out(`recorded FROST identity of ${r.keyholder}: ${r.identityKey}`);
    return 0;
  }
  if (sub === 'list') {
    const ks = await call(a, 'keyholders.list');
    if (values.json) io.out(JSON.stringify(ks, null, 2));
    else for (const k of ks) io.out(`${k.name}  ${k.algorithm}  ${k.fingerprint}`);
    return 0;
  }
  if (sub === 'remove' && name) {
    await call(a, 'keyholders.remove', { params: { name } });
    io.out(`removed ${name}`);
    return 0;
  }
  throw new UsageError(KEYHOLDER_HELP);
}

export const VIEWER_HELP = `Usage: quorum viewer add <name> | list | remove <name>   [--data-dir DIR] [--json]

Read-only credentials for the status page (quorum serve serves it at /): a viewer signs in with
its token and sees everything the page shows, but can change nothing. add prints the new token
once (the coordinator keeps only its sha256): hand it to the viewer over a private channel.
remove ends the viewer's open sessions at once.`;

export async function cmdViewer(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = args(argv, {}, VIEWER_HELP);
  if (values.help) return (io.out(VIEWER_HELP), 0);
  const [sub, name, extra] = positionals;
  if (extra !== undefined) throw new UsageError(`unexpected argument ${JSON.stringify(extra)}\n\n${VIEWER_HELP}`);
  const a = await adminConn(values);
  if (sub === 'add' && name) {
    const v = await call(a, 'viewers.add', { body: { name } });
    if (values.json) io.out(JSON.stringify(v));
    else {
      io.out(`added viewer ${v.name}; its token (shown once, only its sha256 is kept):`);
      io.out(v.token);
    }
    return 0;
  }
  if (sub === 'list' && !name) {
    const vs = await call(a, 'viewers.list');
    if (values.json) io.out(JSON.stringify(vs, null, 2));
    else for (const v of vs) io.out(`${v.name}  added ${v.addedAt}`);
    return 0;
  }
  if (sub === 'remove' && name) {
    await call(a, 'viewers.remove', { params: { name } });
    io.out(`removed viewer ${name}; its sessions are ended`);
    return 0;
  }
  throw new UsageError(VIEWER_HELP);
}

export const ROUND_HELP = `Usage:
  quorum round open targets --reason TEXT [--deadline 7d|RFC3339] [--expires-days N] [--base-version N]
        [--add FILE --name NAME --version V [--hardware-id H ...] [--format BINARY|OSTREE] [--target-name PATH]
         [--uri URL | --cli-uploaded]] [--remove TARGET ...] | [--signed FILE [--renew]]
  quorum round open root --reason TEXT [--deadline ...] [--expires-days N] [--base-version N]
        [--add-key ROLE=KEYHOLDER|pem:FILE|frost:GROUP|online ...] [--remove-key ROLE=KEYHOLDER|keyid:ID|pem:FILE|frost:GROUP ...]
        [--threshold ROLE=N ...] [--resign-targets] | [--signed FILE [--renew]]
  quorum round status <id> [--json]
  quorum round cancel <id> --reason TEXT
  quorum round export <id> --out FILE          (for an air-gapped keyholder: quorum-signer sign --offline)
  quorum round add-signature <id> <signature-file>

Open a signing round for the next version of root or targets (last released + 1), follow it, cancel
it, or carry it to an air-gapped keyholder and back. One round per role is open at a time.
--signed FILE proposes a whole body (or a signed file's "signed" part) as it is; with --renew its
version becomes last released + 1 and its expires now + --expires-days, every other field unchanged
(e.g. targets carried over from another repository, or garage-sign's roles/unsigned/*.json).
In ota, a target needs at least one --hardware-id (aktualizr installs it on ECUs of those hardware
ids only), and a BINARY target a location: --uri URL where devices download the file, or
--cli-uploaded once it is uploaded to the reposerver (garage-sign targets upload). OSTREE targets come
from treehub and need neither. The coordinator refuses a round without them (OTA_TARGET_HARDWARE_IDS,
OTA_TARGET_LOCATION, OTA_TARGET_URI), whichever way its body was made.
--resign-targets (root rounds that change targets keys) also opens a linked targets round re-signing
the released targets under the new root's targets keys; both are released together.
Expiry defaults to garage-sign's: root 365 days, targets 31 days. Deadline defaults to 7 days.`;

type RoleKey = NonNullable<RootChange['add']>[number];

function keyRef(spec: string): RoleKey {
  const i = spec.indexOf('=');
  if (i < 1)
    throw new UsageError(
      `${JSON.stringify(spec)} must be ROLE=KEYHOLDER, ROLE=pem:FILE, ROLE=keyid:ID, ROLE=frost:GROUP or ROLE=online`,
    );
  const role = spec.slice(0, i) as RoleKey['role'];
  const v = spec.slice(i + 1);
  if (!['root', 'targets', 'snapshot', 'timestamp'].includes(role)) throw new UsageError(`unknown role ${role}`);
  if (v.startsWith('pem:')) return { role, key: { publicKey: readPublicKeyFile(v.slice(4)) } };
  if (v.startsWith('keyid:')) return { role, key: { keyid: v.slice(6) } };
  if (v === 'online') return { role, key: { online: true } };
  if (v.startsWith('frost:')) return { role, key: { frost: v.slice(6) } };
  return { role, key: { keyholder: v } };
}

export async function cmdRound(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = args(
    argv,
    {
      reason: { type: 'string' },
      deadline: { type: 'string' },
      'expires-days': { type: 'string' },
      'base-version': { type: 'string' },
      add: { type: 'string' },
      name: { type: 'string' },
      version: { type: 'string' },
      'hardware-id': { type: 'string', multiple: true },
      format: { type: 'string' },
      'target-name': { type: 'string' },
      uri: { type: 'string' },
      'cli-uploaded': { type: 'boolean', default: false },
      remove: { type: 'string', multiple: true },
      signed: { type: 'string' },
      renew: { type: 'boolean', default: false },
      'add-key': { type: 'string', multiple: true },
      'resign-targets': { type: 'boolean', default: false },
      'remove-key': { type: 'string', multiple: true },
      threshold: { type: 'string', multiple: true },
      out: { type: 'string' },
    },
    ROUND_HELP,
  );
  if (values.help) return (io.out(ROUND_HELP), 0);
  const [sub, arg1, arg2] = positionals;
  const a = await adminConn(values);
  switch (sub) {
    case 'open': {
      if (arg1 !== 'targets' && arg1 !== 'root')
        throw new UsageError(`round open needs a role, targets or root\n\n${ROUND_HELP}`);
      if (!values.reason) throw new UsageError('every round needs --reason: say why this change is made');
      const body: AdminInput<'rounds.open'> = {
        role: arg1,
        reason: values.reason,
        deadline: parseDeadline(values.deadline),
      };
      if (values['base-version'] !== undefined) body.baseVersion = Number(values['base-version']);
      const expiresDays = values['expires-days'] === undefined ? undefined : Number(values['expires-days']);
      if (values.signed) {
        const j = JSON.parse(fs.readFileSync(values.signed, 'utf8')) as Record<string, unknown>;
        const signed = (j.signed as Record<string, unknown>) ?? j;
        if (values.renew) {
          // Carry a body over as it is, with only version (last released + 1) and expires renewed.
          const status = await call(a, 'status');
          const last = (arg1 === 'root' ? status.rootVersion : status.targetsBase) ?? 0;
          signed.version = last + 1;
          signed.expires = formatExpires(daysFrom(new Date(), expiresDays ?? EXPIRY_DAYS[arg1]));
          if (values['base-version'] === undefined) body.baseVersion = last;
        }
        body.signed = signed;
      } else if (values.renew) {
        throw new UsageError('--renew goes with --signed FILE');
      } else if (arg1 === 'targets') {
        const status = await call(a, 'status');
        const add: NonNullable<TargetsChange['add']> = {};
        if (values.add) {
          if (!values.name || !values.version) throw new UsageError('--add FILE needs --name and --version');
          const content = fs.readFileSync(values.add);
          const t = targetEntry({
            dialect: status.dialect,
            name: values.name,
            version: values.version,
            length: content.length,
            sha256: crypto.createHash('sha256').update(content).digest('hex'),
            sha512: crypto.createHash('sha512').update(content).digest('hex'),
            hardwareIds: values['hardware-id'],
            format: values.format,
            uri: values.uri,
            cliUploaded: values['cli-uploaded'],
            targetName: values['target-name'],
          });
          add[t.name] = t.entry;
        }
        body.targets = { add, remove: values.remove ?? [], ...(expiresDays ? { expiresDays } : {}) };
      } else {
        const thresholds: Partial<Record<RoleKey['role'], number>> = {};
        for (const t of values.threshold ?? []) {
          const [role, n] = t.split('=');
          if (!role || !n || !Number.isInteger(Number(n)))
            throw new UsageError(`--threshold ${JSON.stringify(t)} must be ROLE=N`);
          thresholds[role as RoleKey['role']] = Number(n); // the coordinator refuses an unknown role
        }
        body.root = {
          add: (values['add-key'] ?? []).map(keyRef),
          remove: (values['remove-key'] ?? []).map(keyRef),
          thresholds,
          ...(expiresDays ? { expiresDays } : {}),
        };
      }
      if (values['resign-targets']) {
        if (arg1 !== 'root') throw new UsageError('--resign-targets goes with a root round');
        body.resignTargets = true;
      }
      const r = await call(a, 'rounds.open', { body });
      if (values.json) io.out(JSON.stringify(r.round, null, 2));
      else {
        io.out(
          `opened round ${r.round.id}${r.round.linked ? `, linked with targets round ${r.round.linked} (released together)` : ''}`,
        );
        showRound(io, r.round, false);
        io.out(`keyholders review it with: quorum-signer review ${r.round.id}`);
      }
      return 0;
    }
    case 'status': {
      if (!arg1) throw new UsageError('round status needs a round id');
      const r = await call(a, 'rounds.get', { params: { id: arg1 } });
      showRound(io, r.round, values.json, values.json ? r.signed : undefined);
      return 0;
    }
    case 'cancel': {
      if (!arg1 || !values.reason) throw new UsageError('round cancel needs a round id and --reason');
      const r = await call(a, 'rounds.cancel', { params: { id: arg1 }, body: { reason: values.reason } });
      showRound(io, r.round, values.json);
      return 0;
    }
    case 'export': {
      if (!arg1 || !values.out) throw new UsageError('round export needs a round id and --out FILE');
      const b = await call(a, 'rounds.export', { params: { id: arg1 } });
      fs.writeFileSync(values.out, JSON.stringify(b, null, 2) + '\n');
      io.out(
        `wrote ${values.out}; sign it on the offline machine with: quorum-signer sign --offline ` +
          `${path.basename(values.out)} --out signature.json`,
      );
      return 0;
    }
    case 'add-signature': {
      if (!arg1 || !arg2) throw new UsageError('round add-signature needs a round id and a signature file');
      const s = JSON.parse(fs.readFileSync(arg2, 'utf8')) as {
        round: string;
        keyid: string;
        sig: string;
        sha256: string;
      };
      if (s.round !== arg1) throw new UsageError(`the signature file is for round ${s.round}, not ${arg1}`);
      const r = await call(a, 'rounds.addSignature', {
        params: { id: arg1 },
        body: { keyid: s.keyid, sig: s.sig, sha256: s.sha256 },
      });
      showRound(io, r.round, values.json);
      return 0;
    }
    default:
      throw new UsageError(ROUND_HELP);
  }
}

export const ROUNDS_HELP =
  'Usage: quorum rounds [--data-dir DIR] [--json] [--limit 100] [--before ROUND] [--state ' +
  'open|released|cancelled|expired]\n\nList the latest rounds (oldest first) with their state and progress; ' +
  '--before ROUND lists the ones\nopened before it.';

const PAGE_FLAGS = { limit: { type: 'string' }, before: { type: 'string' }, state: { type: 'string' } } as const;

/**
 * One page of a listing (`what` is rounds or certs): the newest --limit before --before, oldest
 * first. One more is asked for to know whether older ones exist, which stderr then says.
 */
async function page<K extends 'rounds.list' | 'certs.list'>(
  values: { limit?: string; before?: string; state?: string } & Parameters<typeof adminConn>[0],
  route: K,
  io: Io,
): Promise<AdminResponse<K>> {
  const what = route === 'rounds.list' ? 'rounds' : 'certs';
  const limit = values.limit === undefined ? WIRE_LIMITS.pageDefault : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit >= WIRE_LIMITS.pageMax)
    throw new UsageError(`--limit must be 1-${WIRE_LIMITS.pageMax - 1}`);
  const query = {
    limit: limit + 1,
    ...(values.before ? { before: values.before } : {}),
    // As given: the coordinator refuses a state that is none (BODY_INVALID).
    ...(values.state ? { state: values.state as RoundState } : {}),
  };
  // The answer is checked against `route`'s own schema; the cast only tells the compiler which.
  const rs = (await call(await adminConn(values), route as 'rounds.list', { query })) as AdminResponse<K>;
  if (rs.length <= limit) return rs;
  const shown = rs.slice(1) as AdminResponse<K>;
  io.err(`older ${what === 'rounds' ? 'rounds' : 'certificate rounds'} exist: quorum ${what} --before ${shown[0]!.id}`);
  return shown;
}

export async function cmdRounds(argv: string[], io: Io): Promise<number> {
  const { values } = args(argv, PAGE_FLAGS, ROUNDS_HELP);
  if (values.help) return (io.out(ROUNDS_HELP), 0);
  const rs = await page(values, 'rounds.list', io);
  if (values.json) io.out(JSON.stringify(rs, null, 2));
  else if (!rs.length) io.out('no rounds yet');
  else for (const r of rs) io.out(`${r.id}  ${progressLine(r)}  — ${r.reason}`);
  return 0;
}

export const STATUS_HELP =
  'Usage: quorum status [--data-dir DIR] [--json]\n\nThe released versions, open rounds and keyholders (and ' +
  'who is connected).';

export async function cmdStatus(argv: string[], io: Io): Promise<number> {
  const { values } = args(argv, {}, STATUS_HELP);
  if (values.help) return (io.out(STATUS_HELP), 0);
  const s = await call(await adminConn(values), 'status');
  if (values.json) return (io.out(JSON.stringify(s, null, 2)), 0);
  io.out(`dialect ${s.dialect}; released root v${s.rootVersion ?? '-'}, targets v${s.targetsVersion ?? '-'}`);
  io.out(`keyholders: ${s.keyholders.map((k) => `${k.name}${k.connected ? ' (connected)' : ''}`).join(', ') || '-'}`);
  for (const r of s.openRounds) io.out(`open: ${r.id}  ${progressLine(r)}`);
  return 0;
}

export const AUDIT_HELP = `Usage: quorum audit verify [--data-dir DIR] | quorum audit export [--data-dir DIR] [--out FILE]

verify: check the hash chain of the audit log: exit 1 if any event was edited, removed or reordered.
        It prints the head hash; keep it somewhere else (a ticket, a log) to also detect the newest
        events being cut off or the whole chain being rewritten by someone holding the database.
export: write the audit log as JSON lines (stdout, or --out FILE).`;

export async function cmdAudit(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = args(argv, { out: { type: 'string' } }, AUDIT_HELP);
  if (values.help) return (io.out(AUDIT_HELP), 0);
  const file = path.join(dataDirOf(values), DATA_FILES.db);
  if (!fs.existsSync(file)) throw new QuorumError('FILE_MISSING', `${file} does not exist; pass --data-dir`);
  const store = new Store(file);
  try {
    const rows = store.auditRows();
    if (positionals[0] === 'verify') {
      const broken = verifyAuditChain(rows);
      if (values.json) io.out(JSON.stringify({ ok: !broken, events: rows.length, broken }));
      else if (broken) io.err(`AUDIT_BROKEN: event ${broken.seq}: ${broken.problem}`);
      else io.out(`audit log intact: ${rows.length} events, head ${rows.at(-1)?.hash ?? '-'}`);
      return broken ? 1 : 0;
    }
    if (positionals[0] === 'export') {
      const lines =
        rows
          .map((r) =>
            JSON.stringify({
              seq: r.seq,
              at: r.at,
              event: r.event,
              data: JSON.parse(r.data),
              prevHash: r.prev_hash,
              hash: r.hash,
            }),
          )
          .join('\n') + '\n';
      if (values.out) fs.writeFileSync(values.out, lines);
      else process.stdout.write(lines);
      return 0;
    }
    throw new UsageError(AUDIT_HELP);
  } finally {
    store.close();
  }
}

export const EXPORT_HELP = `Usage: quorum export ota-tuf OUT_DIR [--data-dir DIR] [--server-root-version N] [--server-targets PATH | --server-targets-version N] [--at TIME] [--json]

Write the latest release in exactly the form the OTA Connect (ota-tuf) reposerver accepts on upload:
N.root.json for each root version the server does not have yet, root.json, targets.json, and
targets.json.checksum (the x-ats-role-checksum of the targets the server holds, when known here).
Every file is first checked against ota-tuf's models: root re-encoded canonically must give the
signed bytes (RSA keys as BouncyCastle PEM, key ids sha256 of the DER SubjectPublicKeyInfo, no other
fields); targets carry sha256 only and custom with createdAt/updatedAt; only printable ASCII; no
ECDSA keys; RSA-PSS signatures with salt length 32 (what the servers verify); every new target with a
hardware id, and a BINARY one with a location (uri, or cliUploaded: true). Refusals exit 1, one line per
problem: CODE: file: where: why. Then prints the upload steps, and what the server will do (a root that
drops a key the server holds for its own roles makes it delete that private key).

  --server-root-version N     the root version the reposerver holds now (default: the imported one);
                              only later versions are written
  --server-targets PATH       the targets the reposerver holds now, as garage-sign targets pull leaves them
                              (the repository folder, or its roles/unsigned/targets.json) or as it serves
                              them (GET …/targets.json): the release must be their version + 1 and built on
                              exactly them (OTA_EXPORT_SERVER_TARGETS), and the checksum is theirs
  --server-targets-version N  the targets version it holds now (default: the imported or pulled one;
                              0 if it has none): the release must be exactly N + 1`;

export async function cmdExport(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = args(
    argv,
    {
      at: { type: 'string' },
      'server-root-version': { type: 'string' },
      'server-targets-version': { type: 'string' },
      'server-targets': { type: 'string' },
    },
    EXPORT_HELP,
  );
  if (values.help) return (io.out(EXPORT_HELP), 0);
  const [format, out] = positionals;
  if (format !== 'ota-tuf' || !out || positionals.length !== 2) throw new UsageError(EXPORT_HELP);
  let at: Date | undefined;
  if (values.at !== undefined) {
    at = new Date(values.at);
    if (Number.isNaN(at.getTime())) throw new UsageError(`--at ${JSON.stringify(values.at)} is not an RFC 3339 time`);
  }
  try {
    const version = (v: string | undefined, what: string) => {
      if (v === undefined) return undefined;
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new UsageError(`${what} must be a whole number >= 0`);
      return n;
    };
    const r = exportOtaTuf(dataDirOf(values), path.resolve(out), {
      at,
      serverRootVersion: version(values['server-root-version'], '--server-root-version'),
      serverTargetsVersion: version(values['server-targets-version'], '--server-targets-version'),
      serverTargets: values['server-targets'],
    });
    if (values.json) return (io.out(JSON.stringify({ ok: true, ...r, upload: uploadSteps(r) }, null, 2)), 0);
    io.out(
      r.files.length ? `wrote ${r.files.join(', ')} to ${r.outDir}` : `nothing to upload; wrote nothing to ${r.outDir}`,
    );
    for (const n of r.notes) io.out(`note: ${n}`);
    for (const l of uploadSteps(r)) io.out(l);
    return 0;
  } catch (e) {
    if (!(e instanceof OtaExportError)) throw e;
    const problems = (e as OtaExportError & { problems?: OtaProblem[] }).problems ?? [
      { code: e.code, file: '-', at: '-', message: e.message },
    ];
    if (values.json) io.out(JSON.stringify({ ok: false, problems }, null, 2));
    for (const p of problems) io.err(`${p.code}: ${p.file}: ${p.at}: ${p.message}`);
    return 1;
  }
}

// --- fleet certificates --------------------------------------------------------------------------

function certLine(r: CertView['round']): string {
  const a = r.approvals;
  return (
    `${r.profile} from CA ${r.ca} [${r.state}] approvals ${a.approved.length}/${a.threshold}${a.met ? ' (met)' : ''}; ` +
    `signs: ${r.holder ?? '-'}`
  );
}

function showCert(io: Io, v: CertView, json: boolean): void {
  if (json) return io.out(JSON.stringify(v, null, 2));
  const r = v.round;
  io.out(`${r.id}  ${certLine(r)}${r.newCa ? `; becomes CA ${r.newCa}` : ''}`);
  io.out(`  reason: ${r.reason}`);
  io.out(`  deadline: ${r.deadline}   issuer key: ${r.issuerFingerprint}`);
  io.out(`  approved: ${r.approvals.approved.join(', ') || '-'}; missing: ${r.approvals.missing.join(', ') || '-'}`);
  io.out(formatReview(v.review).trimEnd());
}

function validityDays(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const n = Number(s);
  if (!(n > 0)) throw new UsageError('--validity-days must be a positive number of days');
  return n;
}

async function showCeremony(a: Admin, id: string, json: boolean, io: Io): Promise<number> {
  const st = await call(a, 'frost.ceremony', { params: { id } });
  if (json) return (io.out(JSON.stringify(st, null, 2)), 0);
  io.out(`${id}  [${st.state}]  ${st.ceremony.threshold} of ${st.ceremony.participants.map((p) => p.name).join(', ')}`);
  io.out(
    `  round 1: ${st.round1Received.length}, round 2: ${st.round2Received.length}, confirmations: ` +
      `${st.confirmsReceived.length} of ${st.ceremony.participants.length}`,
  );
  if (st.group) io.out(`  group key ${st.group.groupPublicKey}`);
  if (st.transcripts[0])
    io.out(
      `  transcript sha256 ${st.transcripts[0].transcript}, signed by every participant (each one's frost join ` +
        'printed it)',
    );
  if (st.failure) io.out(`  failed: ${st.failure}`);
  return 0;
}

async function cancelCeremonyCmd(a: Admin, id: string, reason: string | undefined, io: Io): Promise<number> {
  if (!reason) throw new UsageError('cancelling a ceremony needs --reason TEXT');
  await call(a, 'frost.cancelCeremony', { params: { id }, body: { reason } });
  io.out(`cancelled ceremony ${id}`);
  return 0;
}

export const FROST_HELP = `Usage: quorum frost create --name N --threshold T --participant A --participant B ... --reason TEXT
                         [--deadline 7d|RFC3339] [--json]
       quorum frost list [--json]
       quorum frost ceremony <id> [--json]
       quorum frost cancel <id> --reason TEXT

create: open a distributed key generation ceremony (FROST, Ed25519, RFC 9591) for a group key that
signs root or targets metadata. Each participant needs a recorded identity (quorum keyholder
identity NAME HEX) and runs quorum-signer frost join dkg-N. Once every participant agrees, put the
group key into a role with a root round: quorum round open root --add-key targets=frost:N ...;
T of the participants then sign each round together with quorum-signer frost sign ROUND.
A ceremony still under way at its --deadline (default 7 days) fails, naming whom it was waiting for.
Group and CA names share one namespace. For a FROST fleet root CA use quorum fleet-ca create --frost.
list: every ceremony (role-key groups and FROST CAs) with its state and group key.`;

export async function cmdFrost(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = args(
    argv,
    {
      name: { type: 'string' },
      threshold: { type: 'string' },
      participant: { type: 'string', multiple: true },
      reason: { type: 'string' },
      deadline: { type: 'string' },
    },
    FROST_HELP,
  );
  if (values.help) return (io.out(FROST_HELP), 0);
  const a = await adminConn(values);
  const [sub, ...rest] = positionals;
  if (sub === 'ceremony' && rest.length === 1) return showCeremony(a, rest[0]!, values.json, io);
  if (sub === 'cancel' && rest.length === 1) return cancelCeremonyCmd(a, rest[0]!, values.reason, io);
  if (sub === 'list' && !rest.length) {
    const groups = await call(a, 'frost.groups');
    if (values.json) return (io.out(JSON.stringify(groups, null, 2)), 0);
    if (!groups.length) io.out('no FROST ceremonies yet');
    for (const g of groups)
      io.out(
        `${g.name}  ${g.kind === 'fleet-ca' ? 'fleet CA' : 'role key'}  ${g.threshold} of ` +
          `${g.participants.join(', ')}  ${g.ceremony} [${g.state}]${g.groupPublicKey ? `  group key ${g.groupPublicKey}` : ''}${g.failure ? `  (${g.failure})` : ''}${g.refused ? `  REFUSED: ${g.refused}` : ''}`,
      );
    return 0;
  }
  if (sub === 'create' && !rest.length) {
    const participants = values.participant ?? [];
    const threshold = Number(values.threshold);
    if (!values.name || !values.reason || participants.length < 2 || !Number.isInteger(threshold))
      throw new UsageError(
        `frost create needs --name, --threshold, two or more --participant and --reason\n\n${FROST_HELP}`,
      );
    const st = await call(a, 'frost.createGroup', {
      body: {
        name: values.name,
        threshold,
        participants,
        reason: values.reason,
        deadline: parseDeadline(values.deadline),
      },
    });
    if (values.json) return (io.out(JSON.stringify(st, null, 2)), 0);
    io.out(
      `opened DKG ceremony ${st.ceremony.id}: FROST group ${values.name}, ${st.ceremony.threshold} of ` +
        `${st.ceremony.participants.length}`,
    );
    for (const p of st.ceremony.participants) io.out(`  ${p.identifier}. ${p.name}  identity ${p.identityKey}`);
    io.out(`each participant runs: quorum-signer frost join ${st.ceremony.id}`);
    io.out(`then put the group key into a role: quorum round open root --add-key targets=frost:${values.name} ...`);
    return 0;
  }
  throw new UsageError(FROST_HELP);
}

export const FLEET_CA_HELP = `Usage: quorum fleet-ca create --name N --holder KEYHOLDER --fleet-name CN --approvers a,b,c --approvals M
                        --reason TEXT [--validity-days D] [--deadline 7d|RFC3339] [--json]
       quorum fleet-ca create [--frost] --name N --threshold T --participant A --participant B ... --fleet-name CN
                        --reason TEXT [--validity-days D] [--deadline 7d|RFC3339] [--json]
       quorum fleet-ca list [--json]
       quorum fleet-ca ceremony <id> [--json]   (a FROST DKG ceremony's progress and group)
       quorum fleet-ca cancel-ceremony <id> --reason TEXT

create: open a round for a self-signed fleet root CA certificate (CN = --fleet-name) under the
holder's enrolled key (Ed25519 or ECDSA P-256; RSA is refused with KEY_UNSUPPORTED). The holder
signs it with quorum-signer cert sign once M of the approvers have approved the exact TBS bytes
(quorum-signer cert approve). Validity defaults to the profile's maximum (10 years).

create --frost: open a distributed key generation ceremony (FROST, Ed25519) among the participants
(each needs a recorded identity: quorum keyholder identity NAME HEX). Each runs
quorum-signer frost join dkg-N; once all agree, the group key is the CA key and the fleet root's
certificate round opens; T of the participants sign it together. --deadline is the ceremony's and
then the fleet root round's (default 7 days each).

A name is taken (CA_EXISTS) by a CA that has its certificate, has a round open, or has a DKG
ceremony under way. A CA whose round was cancelled or expired before it got its certificate gives
its name up: creating a CA of that name (either form, or cert issue --new-ca) retires it as
NAME.retired-N, kept with its rounds and audited (ca.retired); fleet-ca list shows it.`;

export async function cmdFleetCa(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = args(
    argv,
    {
      name: { type: 'string' },
      holder: { type: 'string' },
      'fleet-name': { type: 'string' },
      approvers: { type: 'string' },
      approvals: { type: 'string' },
      reason: { type: 'string' },
      'validity-days': { type: 'string' },
      deadline: { type: 'string' },
      frost: { type: 'boolean', default: false },
      threshold: { type: 'string' },
      participant: { type: 'string', multiple: true },
    },
    FLEET_CA_HELP,
  );
  if (values.help) return (io.out(FLEET_CA_HELP), 0);
  const a = await adminConn(values);
  if (positionals[0] === 'ceremony' && positionals.length === 2)
    return showCeremony(a, positionals[1]!, values.json, io);
  if (positionals[0] === 'cancel-ceremony' && positionals.length === 2)
    return cancelCeremonyCmd(a, positionals[1]!, values.reason, io);
  // --participant (with --threshold) makes it a FROST group CA, with or without --frost.
  const frost = values.frost || (values.participant ?? []).length > 0;
  if (frost && (values.holder || values.approvers || values.approvals))
    throw new UsageError(
      'a FROST group CA (--frost, --participant) has no --holder, --approvers or --approvals: its participants ' +
        'sign together',
    );
  if (positionals[0] === 'create' && positionals.length === 1 && frost) {
    const participants = values.participant ?? [];
    const threshold = Number(values.threshold);
    if (
      !values.name ||
      !values['fleet-name'] ||
      !values.reason ||
      participants.length < 2 ||
      !Number.isInteger(threshold)
    ) {
      throw new UsageError(
        'fleet-ca create --frost needs --name, --threshold, two or more --participant, --fleet-name and ' +
          `--reason\n\n${FLEET_CA_HELP}`,
      );
    }
    const st = await call(a, 'cas.createFrost', {
      body: {
        name: values.name,
        fleetName: values['fleet-name'],
        threshold,
        participants,
        reason: values.reason,
        deadline: parseDeadline(values.deadline),
        validityDays: validityDays(values['validity-days']),
      },
    });
    if (values.json) return (io.out(JSON.stringify(st, null, 2)), 0);
    io.out(
      `opened DKG ceremony ${st.ceremony.id}: FROST fleet root CA ${values.name}, ${st.ceremony.threshold} of ` +
        `${st.ceremony.participants.length}`,
    );
    for (const p of st.ceremony.participants) io.out(`  ${p.identifier}. ${p.name}  identity ${p.identityKey}`);
    io.out(`each participant runs: quorum-signer frost join ${st.ceremony.id}`);
    return 0;
  }
  if (positionals[0] === 'list' && positionals.length === 1) {
    const cas = await call(a, 'cas.list');
    if (values.json) io.out(JSON.stringify(cas, null, 2));
    else if (!cas.length) io.out('no CAs yet');
    else
      for (const c of cas)
        io.out(
          `${c.name}  ${c.algorithm} held by ${c.holder ?? '-'}  ` +
            `${c.retiredAt ? `retired ${c.retiredAt}, never issued (was ${c.retiredFrom})` : c.issued ? 'issued' : 'not issued yet'} ` +
            ` approvals ${c.approvals} of ${c.approvers.join(', ')}  key ${c.fingerprint}`,
        );
    return 0;
  }
  if (positionals[0] !== 'create' || positionals.length !== 1) throw new UsageError(FLEET_CA_HELP);
  if (
    !values.name ||
    !values.holder ||
    !values['fleet-name'] ||
    !values.approvers ||
    !values.approvals ||
    !values.reason
  ) {
    throw new UsageError(
      `fleet-ca create needs --name, --holder, --fleet-name, --approvers, --approvals and --reason\n\n${FLEET_CA_HELP}`,
    );
  }
  const approvals = Number(values.approvals);
  if (!Number.isInteger(approvals) || approvals < 1) throw new UsageError('--approvals must be a whole number >= 1');
  const v = await call(a, 'cas.create', {
    body: {
      name: values.name,
      holder: values.holder,
      fleetName: values['fleet-name'],
      approvers: values.approvers
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
      approvals,
      reason: values.reason,
      deadline: parseDeadline(values.deadline),
      validityDays: validityDays(values['validity-days']),
    },
  });
  if (values.json) return (showCert(io, v, true), 0);
  io.out(`opened certificate round ${v.round.id}: fleet root CA ${values.name}`);
  showCert(io, v, false);
  io.out(
    `approvers review and approve with: quorum-signer cert approve ${v.round.id}; then ${v.round.holder} ` +
      `signs: quorum-signer cert sign ${v.round.id}`,
  );
  return 0;
}

export const CERT_HELP = `Usage:
  quorum cert issue --ca N --profile intermediate-ca|device --csr FILE --reason TEXT [--validity-days D]
        [--device-id ID] [--deadline 7d|RFC3339] [--new-ca NAME --holder KEYHOLDER [--approvers a,b --approvals M]]
  quorum cert status <id> [--json]
  quorum cert get <id> --out FILE        (the certificate and its chain, PEM)
  quorum cert cancel <id> --reason TEXT

issue: check the CSR (its self-signature, its key type, no CA request on a device, the validity
against the profile: device 366 days, intermediate 1827) and only then open a round for a
certificate issued by CA N. A device certificate's CN is the device id (the CSR's CN, or --device-id,
which must agree with it). --new-ca registers an intermediate as a CA whose key KEYHOLDER holds (the
CSR must be made with that keyholder's enrolled key); its approvers default to CA N's.`;

export async function cmdCert(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = args(
    argv,
    {
      ca: { type: 'string' },
      profile: { type: 'string' },
      csr: { type: 'string' },
      reason: { type: 'string' },
      'validity-days': { type: 'string' },
      'device-id': { type: 'string' },
      deadline: { type: 'string' },
      'new-ca': { type: 'string' },
      holder: { type: 'string' },
      approvers: { type: 'string' },
      approvals: { type: 'string' },
      out: { type: 'string' },
    },
    CERT_HELP,
  );
  if (values.help) return (io.out(CERT_HELP), 0);
  const [sub, id] = positionals;
  const a = await adminConn(values);
  switch (sub) {
    case 'issue': {
      if (!values.ca || !values.profile || !values.csr || !values.reason)
        throw new UsageError(`cert issue needs --ca, --profile, --csr and --reason\n\n${CERT_HELP}`);
      if (values.profile !== 'intermediate-ca' && values.profile !== 'device')
        throw new UsageError(
          '--profile must be intermediate-ca or device (a fleet root is made with quorum fleet-ca create)',
        );
      if (!values['new-ca'] && (values.holder || values.approvers || values.approvals))
        throw new UsageError('--holder, --approvers and --approvals go with --new-ca');
      if (values['new-ca'] && !values.holder)
        throw new UsageError('--new-ca needs --holder KEYHOLDER (who holds the intermediate key)');
      let csr: Buffer;
      try {
        csr = fs.readFileSync(values.csr);
      } catch (e) {
        throw new QuorumError('FILE_UNREADABLE', `cannot read ${values.csr}: ${(e as Error).message}`);
      }
      const v = await call(a, 'certs.issue', {
        body: {
          ca: values.ca,
          profile: values.profile,
          csr: csr.toString('base64'),
          reason: values.reason,
          deadline: parseDeadline(values.deadline),
          validityDays: validityDays(values['validity-days']),
          ...(values['device-id'] !== undefined ? { deviceId: values['device-id'] } : {}),
          ...(values['new-ca']
            ? {
                newCa: {
                  name: values['new-ca'],
                  holder: values.holder!, // checked above
                  ...(values.approvers
                    ? {
                        approvers: values.approvers
                          .split(',')
                          .map((x) => x.trim())
                          .filter(Boolean),
                      }
                    : {}),
                  ...(values.approvals ? { approvals: Number(values.approvals) } : {}),
                },
              }
            : {}),
        },
      });
      if (values.json) return (showCert(io, v, true), 0);
      io.out(`opened certificate round ${v.round.id}`);
      showCert(io, v, false);
      io.out(
        `approvers: quorum-signer cert approve ${v.round.id}; then ${v.round.holder} signs: quorum-signer cert ` +
          `sign ${v.round.id}`,
      );
      return 0;
    }
    case 'status': {
      if (!id) throw new UsageError('cert status needs a round id');
      showCert(io, await call(a, 'certs.get', { params: { id } }), values.json);
      return 0;
    }
    case 'get': {
      if (!id || !values.out) throw new UsageError('cert get needs a round id and --out FILE');
      const v = await call(a, 'certs.get', { params: { id } });
      if (v.round.state !== 'released' || !v.certificate)
        throw new CertRoundError(
          'ROUND_NOT_RELEASED',
          `certificate round ${id} is ${v.round.state}; there is no certificate yet`,
        );
      fs.writeFileSync(values.out, v.certificate);
      io.out(`wrote ${values.out}: the certificate and its chain (PEM)`);
      return 0;
    }
    case 'cancel': {
      if (!id || !values.reason) throw new UsageError('cert cancel needs a round id and --reason');
      showCert(io, await call(a, 'certs.cancel', { params: { id }, body: { reason: values.reason } }), values.json);
      return 0;
    }
    default:
      throw new UsageError(CERT_HELP);
  }
}

export const CERTS_HELP =
  'Usage: quorum certs [--data-dir DIR] [--json] [--limit 100] [--before ROUND] [--state ' +
  'open|released|cancelled|expired]\n\nList the latest certificate rounds (oldest first) with their state and ' +
  'approvals.';

export async function cmdCerts(argv: string[], io: Io): Promise<number> {
  const { values } = args(argv, PAGE_FLAGS, CERTS_HELP);
  if (values.help) return (io.out(CERTS_HELP), 0);
  const rs = await page(values, 'certs.list', io);
  if (values.json) io.out(JSON.stringify(rs, null, 2));
  else if (!rs.length) io.out('no certificate rounds yet');
  else for (const r of rs) io.out(`${r.id}  ${certLine(r)}  — ${r.reason}`);
  return 0;
}
