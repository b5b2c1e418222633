/**
 * The release coordinator's commands, each with its own options: init, serve, keyholder, viewer,
 * round, rounds, status, audit, export, fleet-ca, frost, cert, certs. Commands that change a running
 * coordinator go through its admin HTTP API with the admin credential, so connected signers are
 * told at once; init, audit and export work on the data dir. The modules that do the work are
 * loaded by the command that uses them, so `quorum --help` and `quorum verify` load none of them.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  choiceArg,
  command,
  deadlineArg,
  group,
  intArg,
  numberArg,
  timeArg,
  UsageError,
  type Io,
  type Options,
} from '../protocol/cli.js';
import { QuorumError } from '../protocol/errors.js';
import { readFile, readJsonAs, readText } from '../protocol/files.js';
import { LIMITS, WIRE_LIMITS } from '../protocol/limits.js';
import { HOUR_MS } from '../protocol/time.js';
import type { Pin } from '../protocol/transport.js';
import type { RoundInfo } from '../protocol/wire.js';
import type {
  AdminArgs,
  AdminInput,
  AdminResponse,
  CertView,
  DelegateChange,
  RootChange,
  RouteName,
  TargetsChange,
} from './admin-api.js';
import { DATA_FILES } from './data-files.js';
import type { OtaProblem } from './garage-sign.js';
import type { GarageSignImport } from './init.js';

const server = () => import('./server.js');
const schemas = () => import('./cli-schemas.js');
const rounds = () => import('./rounds.js');

const DEFAULT_DATA_DIR = 'quorum-data';
const ROUND_STATES = ['open', 'released', 'cancelled', 'expired'] as const;

// --- options more than one command takes -------------------------------------------------------------

const DATA_DIR = {
  'data-dir': {
    type: 'string',
    value: 'DIR',
    help: 'the coordinator data dir (default ./quorum-data, or QUORUM_DATA_DIR)',
  },
} as const satisfies Options;

/** How a command finds the running coordinator and its admin credential. */
const CONNECT = {
  ...DATA_DIR,
  server: {
    type: 'string',
    value: 'URL',
    help: 'the coordinator (default: the one serving --data-dir, as its server.json says)',
  },
  'token-file': {
    type: 'string',
    value: 'FILE',
    help: 'the admin credential (default: DIR/admin.token; QUORUM_ADMIN_TOKEN wins)',
    reads: { is: 'file', holds: 'text' },
  },
  'tls-fingerprint': {
    type: 'string',
    value: 'SHA256',
    help: 'the TLS certificate fingerprint an https:// --server must have (quorum serve prints it)',
  },
} as const satisfies Options;

const JSON_OUT = { json: { type: 'boolean', default: false, help: 'print JSON for machines' } } as const;

const REASON = { reason: { type: 'string', value: 'TEXT', help: 'why (kept in the audit log)' } } as const;

const DEADLINE = {
  deadline: {
    type: 'string',
    value: 'WHEN',
    help: 'a duration (30m, 48h, 7d) or an RFC 3339 time; default 7 days',
  },
} as const;

const PAGE = {
  limit: {
    type: 'string',
    value: 'N',
    help: `how many, 1-${WIRE_LIMITS.pageMax - 1} (default ${WIRE_LIMITS.pageDefault})`,
  },
  before: { type: 'string', value: 'ROUND', help: 'the ones opened before this round' },
  state: { type: 'string', value: 'STATE', help: `only rounds in this state: ${ROUND_STATES.join(', ')}` },
} as const;

const ID = [{ name: 'ID' }] as const;

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
  const { fetchPinnedCertificate } = await import('../protocol/transport.js');
  const dir = dataDirOf(v);
  let url = v.server;
  let pin: Pin | null = null;
  const infoFile = path.join(dir, DATA_FILES.serverInfo);
  if (!url) {
    if (!fs.existsSync(infoFile))
      throw new UsageError(
        `no --server given and ${infoFile} does not exist; start the coordinator (quorum serve) or pass --server URL`,
      );
    const info = readJsonAs(infoFile, '', (await schemas()).ServerInfoSchema, 'the server.json quorum serve writes');
    url = info.url;
    if (info.tlsFingerprint)
      pin = { fingerprint256: info.tlsFingerprint, certPem: readText(path.join(dir, DATA_FILES.tlsCert), '') };
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
    token = readText(tokenFile, v['token-file'] ? '--token-file' : '').trim();
  }
  return { url: url.replace(/\/$/, ''), token, pin };
}

/** Route `name` of the admin API (admin-api.ts) at the coordinator `a` names, its answer checked against the route. */
async function call<K extends RouteName>(a: Admin, name: K, ...req: AdminArgs<K>): Promise<AdminResponse<K>> {
  const { requestJson } = await import('../protocol/transport.js');
  const { adminClient } = await import('./admin-api.js');
  return adminClient(({ method, path: p, body }) =>
    requestJson(`${a.url}${p}`, { method, body, pin: a.pin, headers: { authorization: `Bearer ${a.token}` } }),
  )(name, ...req);
}

/** The --deadline of a request body, as the coordinator takes it. */
const deadlineOf = (v: { deadline?: string }) => deadlineArg('--deadline', v.deadline)?.toISOString();

/** A comma-separated list of names. */
const listOf = (s: string | undefined) =>
  s
    ?.split(',')
    .map((x) => x.trim())
    .filter(Boolean);

const threshold = (option: string, v: string | undefined) => intArg(option, v, { min: 1, max: LIMITS.maxThreshold });

async function showRound(io: Io, r: RoundInfo, json: boolean, signed?: string): Promise<void> {
  if (json) return io.out(JSON.stringify(signed ? { round: r, signed: JSON.parse(signed) as unknown } : r, null, 2));
  const { progressLine } = await rounds();
  io.out(`${r.id}  ${progressLine(r)}`);
  io.out(`  reason: ${r.reason}`);
  io.out(`  deadline: ${r.deadline}   sha256 of the bytes to sign: ${r.sha256}`);
  for (const p of r.progress)
    io.out(
      `  ${p.label}: ${p.signed.length}/${p.threshold}${p.met ? ' met' : ''}; signed: ` +
        `${p.signed.join(', ') || '-'}; missing: ${p.missing.join(', ') || '-'}`,
    );
}

// --- init and serve ----------------------------------------------------------------------------------

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

/** NAME=VALUE pairs of a repeatable option. */
function pairs(option: string, values: string[] | undefined, what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of values ?? []) {
    const i = k.indexOf('=');
    if (i < 1) throw new UsageError(`${option} ${JSON.stringify(k)} must be ${what}`);
    out[k.slice(0, i)] = k.slice(i + 1);
  }
  return out;
}

export const init = command({
  synopsis:
    '[--data-dir DIR] (--import FOLDER | --import-garage-sign PATH | --dialect ota|tuf [--keyholder NAME=PUBKEY ...] ' +
    '[--root-keyholders a,b,c --root-threshold N] [--targets-keyholders a,b,c --targets-threshold N] ' +
    '[--hash-bins N]) [--tls [--tls-host H ...]]',
  summary: 'create a coordinator data dir (import a repository, or start a new one)',
  section: 'Release coordinator',
  description:
    'Create a coordinator data dir (default ./quorum-data): the SQLite database, the admin credential\n' +
    '(admin.token), the online snapshot/timestamp key, and with --tls a certificate signers pin. An\n' +
    'imported repository must verify. From a garage-sign repository only roles/root.json (root.json in the\n' +
    'zip), roles/targets.json, roles/unsigned/*.json, *.pub and tufrepo.url are read; private keys (*.sec),\n' +
    "treehub.json, config.json and TLS credentials are never read or copied. It prints each key's ota-tuf\n" +
    "key id and the next step for each *.sec's keyholder. --hash-bins N (tuf) makes targets.json delegate\n" +
    'every target to N hash bins (TAP 15 succinct_roles, bins-<hex>) signed by the online key, as RSTUF\n' +
    'does: a targets round then places each target it adds in its bin, and its release re-signs only the\n' +
    'bins that changed.',
  options: {
    ...DATA_DIR,
    ...JSON_OUT,
    import: {
      type: 'string',
      value: 'FOLDER',
      help: 'trust an existing repository: a TUF metadata folder or a garage-sign repository (with roles/)',
      reads: { is: 'dir', holds: 'repository' },
    },
    'import-garage-sign': {
      type: 'string',
      value: 'PATH',
      help: 'trust an OTA Connect repository: a garage-sign folder (tuf/<repo>), an unpacked credentials.zip, or the zip',
      reads: { is: 'file-or-dir', holds: 'garage-sign' },
    },
    'tufrepo-url': {
      type: 'string',
      value: 'URL',
      help: 'the reposerver URL, for a garage-sign folder (its tufrepo.url is in config.json, not read)',
    },
    enroll: {
      type: 'string',
      multiple: true,
      value: 'NAME=FILE.pub',
      help: 'enroll a keyholder by a public key inside the garage-sign import (e.g. targets.pub)',
    },
    at: { type: 'string', value: 'TIME', help: "evaluate the imported metadata's expiry at TIME (RFC 3339), not now" },
    dialect: { type: 'string', value: 'D', help: 'ota (OTA Connect) or tuf, for a new repository' },
    keyholder: {
      type: 'string',
      multiple: true,
      value: 'NAME=FILE',
      help: 'enroll a keyholder by public key file (PEM, or a garage-sign .pub)',
      reads: { is: 'file', form: 'name=', holds: 'public-key' },
    },
    'root-keyholders': {
      type: 'string',
      value: 'a,b,c',
      help: 'keyholders whose keys sign root; version 1 of root becomes the first round',
    },
    'root-threshold': { type: 'string', value: 'N', help: 'how many of them must sign (default 1)' },
    'targets-keyholders': {
      type: 'string',
      value: 'a,b,c',
      help: 'keyholders whose keys sign targets (default: the root keyholders)',
    },
    'targets-threshold': { type: 'string', value: 'N', help: 'how many of them must sign (default 1)' },
    tls: {
      type: 'boolean',
      default: false,
      help: 'serve wss:// with a new self-signed certificate (prints its fingerprint)',
    },
    'tls-host': { type: 'string', multiple: true, value: 'H', help: 'a host name or address for the certificate' },
    'hash-bins': {
      type: 'string',
      value: 'N',
      help: 'tuf: delegate every target to N hash bins (a power of two), bins-<hex>, signed by the online key',
    },
  },
  positionals: [],
  async run({ values }, io) {
    const dialect = choiceArg('--dialect', values.dialect, ['ota', 'tuf'] as const);
    const keyholders = pairs('--keyholder', values.keyholder, 'NAME=PUBLIC-KEY-FILE');
    const enroll = pairs('--enroll', values.enroll, 'NAME=FILE.pub (a public key inside the garage-sign import)');
    if ((values['tufrepo-url'] || values.enroll) && !values['import-garage-sign'])
      throw new UsageError('--tufrepo-url and --enroll go with --import-garage-sign');
    const opts = {
      dataDir: dataDirOf(values),
      dialect,
      importDir: values.import,
      importGarageSign: values['import-garage-sign'],
      tufrepoUrl: values['tufrepo-url'],
      enroll,
      at: timeArg('--at', values.at),
      keyholders,
      rootKeyholders: listOf(values['root-keyholders']),
      targetsKeyholders: listOf(values['targets-keyholders']),
      rootThreshold: threshold('--root-threshold', values['root-threshold']),
      targetsThreshold: threshold('--targets-threshold', values['targets-threshold']),
      tls: values.tls,
      tlsHosts: values['tls-host'],
      hashBins: intArg('--hash-bins', values['hash-bins'], { min: 2, max: 65_536 }),
    };
    const r = (await import('./init.js')).init(opts);
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
  },
});

export const serve = command({
  synopsis:
    '[--data-dir DIR] [--host 127.0.0.1] [--port 7300] [--heartbeat-ms 30000] [--rate-per-second 20] [--rate-burst 50] ' +
    '[--max-connections-per-keyholder 4] [--failed-auth-per-minute 60] [--unsafe-plaintext] ' +
    '[--timestamp-expiry 1d] [--snapshot-expiry 7d] [--refresh-check 1m] [--renew-before root=60d] ' +
    '[--renew-before targets=14d] [--publish] [--notify-retry-base 2s] [--unsafe-test-clock FILE]',
  summary: 'run the coordinator server (npm start)',
  section: 'Release coordinator',
  description:
    'Run the coordinator: the admin API, the signer endpoint (ws:// on loopback, or wss:// when the\n' +
    'data dir has a TLS certificate) and the status page at / (sign in with the admin token or a viewer\n' +
    'token: quorum viewer add NAME). Writes server.json into the data dir for the other commands.\n' +
    'Binding plain ws:// to an address that is not loopback needs --unsafe-plaintext; the address --host\n' +
    'resolves to decides, not how it is spelled.\n\n' +
    'Keeping the repository alive (tuf): timestamp and snapshot are re-signed with the online key when\n' +
    'less than half their lifetime is left (checked every --refresh-check). The lifetimes and\n' +
    "--renew-before can also be set in the data dir's settings.json:\n" +
    '  {"expiry": {"timestamp": "1d", "snapshot": "7d"}, "renewBefore": {"root": "60d", "targets": "14d"}}\n' +
    'The command line wins over settings.json.\n' +
    '--publish serves the current release read-only, without a credential, at /repository/ (the layout\n' +
    'clients fetch: N.root.json, timestamp.json, snapshot.json, targets.json, each delegated NAME.json in\n' +
    'tuf, and N.snapshot.json and N.targets.json with consistent snapshots); timestamp.json and the other\n' +
    'unversioned names are sent\n' +
    'with Cache-Control: no-cache and an ETag, so no cache keeps a timestamp past its refresh.',
  options: {
    ...DATA_DIR,
    host: { type: 'string', value: 'HOST', help: 'the address to listen on (default 127.0.0.1)' },
    port: { type: 'string', value: 'PORT', help: 'the port, 0-65535 (default 7300; 0 picks a free one)' },
    'heartbeat-ms': {
      type: 'string',
      value: 'MS',
      help: `ms between pings; a signer that misses one is dropped (default ${WIRE_LIMITS.heartbeatMs})`,
    },
    'rate-per-second': {
      type: 'string',
      value: 'N',
      help: `messages a signer may send per second (default ${WIRE_LIMITS.ratePerSecond})`,
    },
    'rate-burst': {
      type: 'string',
      value: 'N',
      help: `messages a signer may send at once (default ${WIRE_LIMITS.rateBurst})`,
    },
    'max-connections-per-keyholder': {
      type: 'string',
      value: 'N',
      help: `connections one keyholder may hold at once (default ${WIRE_LIMITS.maxConnectionsPerKeyholder})`,
    },
    'failed-auth-per-minute': {
      type: 'string',
      value: 'N',
      help: `failed logins per source and minute before AUTH_THROTTLED (default ${WIRE_LIMITS.failedAuthPerMinute})`,
    },
    'unsafe-plaintext': {
      type: 'boolean',
      default: false,
      help: 'UNSAFE: serve plain ws:// on an address that is not loopback (anyone on the network reads it)',
    },
    'timestamp-expiry': {
      type: 'string',
      value: 'D',
      help: 'lifetime of a timestamp the coordinator signs (default 1d)',
    },
    'snapshot-expiry': {
      type: 'string',
      value: 'D',
      help: 'lifetime of a snapshot the coordinator signs (default 7d)',
    },
    'refresh-check': {
      type: 'string',
      value: 'D',
      help: 'how often online roles and expiries are checked (default 1m)',
    },
    'renew-before': {
      type: 'string',
      multiple: true,
      value: 'ROLE=D',
      help: 'open a renewal round this long before root (default 60d) or targets (default 14d) expires',
    },
    publish: { type: 'boolean', default: false, help: 'serve the current release read-only at /repository/' },
    'notify-retry-base': {
      type: 'string',
      value: 'D',
      help: 'first retry delay of a failed webhook delivery (doubling with jitter up to an hour; default 2s)',
    },
    'unsafe-test-clock': {
      type: 'string',
      value: 'FILE',
      help: "UNSAFE, tests only: read the coordinator's time from FILE (whoever writes it moves the clock)",
    },
  },
  positionals: [],
  async run({ values }, io) {
    const dataDir = dataDirOf(values);
    const { loadPolicy, parseDuration } = await import('./living.js');
    const renew = pairs('--renew-before', values['renew-before'], 'root=DURATION or targets=DURATION');
    for (const role of Object.keys(renew))
      if (role !== 'root' && role !== 'targets')
        throw new UsageError(`--renew-before ${role}=...: only root and targets are renewed by keyholders`);
    const policy = loadPolicy(dataDir, {
      timestamp: values['timestamp-expiry'],
      snapshot: values['snapshot-expiry'],
      renewRoot: renew.root,
      renewTargets: renew.targets,
    });
    const clockFile = values['unsafe-test-clock'];
    if (clockFile !== undefined && !fs.existsSync(clockFile))
      throw new UsageError(`--unsafe-test-clock ${clockFile} does not exist; write a time (RFC 3339 or ms) into it`);
    const durationOf = (option: string, v: string | undefined) =>
      v === undefined ? undefined : parseDuration(v, option);
    const count = (option: string, v: string | undefined) => intArg(option, v, { min: 1, max: 1_000_000 });
    const opts = {
      dataDir,
      host: values.host ?? '127.0.0.1',
      port: intArg('--port', values.port, { min: 0, max: 65535 }) ?? 7300,
      heartbeatMs: intArg('--heartbeat-ms', values['heartbeat-ms'], { min: 1, max: HOUR_MS }),
      ratePerSecond: numberArg('--rate-per-second', values['rate-per-second'], { above: 0, max: 1_000_000 }),
      rateBurst: count('--rate-burst', values['rate-burst']),
      maxConnectionsPerKeyholder: count('--max-connections-per-keyholder', values['max-connections-per-keyholder']),
      failedAuthPerMinute: count('--failed-auth-per-minute', values['failed-auth-per-minute']),
      unsafePlaintext: values['unsafe-plaintext'],
      policy,
      refreshCheckMs: durationOf('--refresh-check', values['refresh-check']),
      clock: clockFile === undefined ? undefined : (await import('./timers.js')).fileClock(clockFile),
      publish: values.publish,
      notifyRetryMs: durationOf('--notify-retry-base', values['notify-retry-base']),
      log: io.out,
    };
    const running = await (await server()).serve(opts);
    if (clockFile !== undefined) io.out(`UNSAFE: the coordinator's clock is read from ${clockFile} (a test clock)`);
    await new Promise<void>((resolve) => {
      const stop = () => {
        io.out('shutting down');
        void running.close().then(resolve);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    return 0;
  },
});

// --- keyholders ---------------------------------------------------------------------------------------

export const keyholder = group({
  summary: 'enroll, list or remove keyholders',
  section: 'Release coordinator',
  description:
    'Enroll a keyholder by the public key they exported (quorum-signer keygen writes NAME.pub.pem;\n' +
    'garage-sign .pub files work too), list them, or remove one (they can no longer connect).',
  commands: {
    add: command({
      synopsis: 'NAME PUBLIC-KEY-FILE [--data-dir DIR] [--json]',
      summary: 'enroll a keyholder by their public key file (PEM, or a garage-sign .pub)',
      options: { ...CONNECT, ...JSON_OUT },
      positionals: [{ name: 'NAME' }, { name: 'PUBLIC-KEY-FILE', reads: { is: 'file', holds: 'public-key' } }],
      async run({ values, positionals: [name, file] }, io) {
        const publicKey = (await import('./init.js')).readPublicKeyFile(file!, 'keyholder add');
        const k = await call(await adminConn(values), 'keyholders.add', { body: { name: name!, publicKey } });
        if (values.json) io.out(JSON.stringify(k));
        else io.out(`enrolled ${k.name}: ${k.algorithm} key, fingerprint ${k.fingerprint}`);
        return 0;
      },
    }),
    identity: command({
      synopsis: 'NAME HEX [--data-dir DIR] [--json]',
      summary: 'record the FROST identity key quorum-signer frost identity printed',
      options: { ...CONNECT, ...JSON_OUT },
      positionals: [{ name: 'NAME' }, { name: 'HEX' }],
      async run({ values, positionals: [name, hex] }, io) {
        const r = await call(await adminConn(values), 'keyholders.identity', {
          params: { name: name! },
          body: { identityKey: hex! },
        });
        if (values.json) io.out(JSON.stringify(r));
        else io.out(`recorded FROST identity of ${r.keyholder}: ${r.identityKey}`);
        return 0;
      },
    }),
    list: command({
      synopsis: '[--data-dir DIR] [--json]',
      summary: 'the enrolled keyholders',
      options: { ...CONNECT, ...JSON_OUT },
      positionals: [],
      async run({ values }, io) {
        const ks = await call(await adminConn(values), 'keyholders.list');
        if (values.json) io.out(JSON.stringify(ks, null, 2));
        else for (const k of ks) io.out(`${k.name}  ${k.algorithm}  ${k.fingerprint}`);
        return 0;
      },
    }),
    remove: command({
      synopsis: 'NAME [--data-dir DIR]',
      summary: 'remove a keyholder (their connections are closed)',
      options: { ...CONNECT },
      positionals: [{ name: 'NAME' }],
      async run({ values, positionals: [name] }, io) {
        await call(await adminConn(values), 'keyholders.remove', { params: { name: name! } });
        io.out(`removed ${name}`);
        return 0;
      },
    }),
  },
});

// --- status page viewers -----------------------------------------------------------------------------

export const viewer = group({
  summary: 'add, list or remove read-only status page credentials',
  section: 'Release coordinator',
  description:
    'Read-only credentials for the status page (quorum serve serves it at /): a viewer signs in with\n' +
    'its token and sees everything the page shows, but can change nothing. add prints the new token\n' +
    'once (the coordinator keeps only its sha256): hand it to the viewer over a private channel.\n' +
    "remove ends the viewer's open sessions at once.",
  commands: {
    add: command({
      synopsis: 'NAME [--data-dir DIR] [--json]',
      summary: 'add a viewer credential and print its token (once)',
      options: { ...CONNECT, ...JSON_OUT },
      positionals: [{ name: 'NAME' }],
      async run({ values, positionals: [name] }, io) {
        const v = await call(await adminConn(values), 'viewers.add', { body: { name: name! } });
        if (values.json) io.out(JSON.stringify(v));
        else {
          io.out(`added viewer ${v.name}; its token (shown once, only its sha256 is kept):`);
          io.out(v.token);
        }
        return 0;
      },
    }),
    list: command({
      synopsis: '[--data-dir DIR] [--json]',
      summary: 'the viewer credentials',
      options: { ...CONNECT, ...JSON_OUT },
      positionals: [],
      async run({ values }, io) {
        const vs = await call(await adminConn(values), 'viewers.list');
        if (values.json) io.out(JSON.stringify(vs, null, 2));
        else for (const v of vs) io.out(`${v.name}  added ${v.addedAt}`);
        return 0;
      },
    }),
    remove: command({
      synopsis: 'NAME [--data-dir DIR]',
      summary: 'remove a viewer credential (its sessions are ended at once)',
      options: { ...CONNECT },
      positionals: [{ name: 'NAME' }],
      async run({ values, positionals: [name] }, io) {
        await call(await adminConn(values), 'viewers.remove', { params: { name: name! } });
        io.out(`removed viewer ${name}; its sessions are ended`);
        return 0;
      },
    }),
  },
});

// --- rounds -------------------------------------------------------------------------------------------

/** What opening a round of either role takes. */
const OPEN = {
  ...CONNECT,
  ...JSON_OUT,
  ...REASON,
  ...DEADLINE,
  'expires-days': {
    type: 'string',
    value: 'N',
    help: 'days until the new version expires (default as garage-sign: root 365, targets 31)',
  },
  'base-version': {
    type: 'string',
    value: 'N',
    help: 'the released version this round builds on (refused as ROUND_STALE_BASE if it is no longer the latest)',
  },
  signed: {
    type: 'string',
    value: 'FILE',
    help: 'propose this whole body (or a signed file\'s "signed" part) as it is',
    reads: { is: 'file', holds: 'json' },
  },
  renew: {
    type: 'boolean',
    default: false,
    help: 'with --signed: version last released + 1, expires now + --expires-days, every other field kept',
  },
} as const satisfies Options;

/** The body of a --signed FILE: its "signed" part, or the whole object. */
async function signedBody(file: string): Promise<Record<string, unknown>> {
  const j = readJsonAs(file, '--signed', (await schemas()).SignedFileSchema, 'a metadata body or signed file');
  const signed = j.signed ?? j;
  if (typeof signed !== 'object' || signed === null || Array.isArray(signed))
    throw new QuorumError('SCHEMA_INVALID', `--signed ${file}: its "signed" part is not an object`);
  return signed as Record<string, unknown>;
}

/** The parts of a round-opening request both roles share; `signed` renewed as --renew asks. */
async function openBody(
  a: Admin,
  role: 'root' | 'targets',
  values: { reason?: string; deadline?: string; 'expires-days'?: string; 'base-version'?: string; renew: boolean },
  signed: Record<string, unknown> | undefined,
): Promise<AdminInput<'rounds.open'>> {
  const body: AdminInput<'rounds.open'> = { role, reason: values.reason!, deadline: deadlineOf(values) };
  const baseVersion = intArg('--base-version', values['base-version'], { min: 0, max: Number.MAX_SAFE_INTEGER });
  if (baseVersion !== undefined) body.baseVersion = baseVersion;
  if (signed) {
    if (values.renew) {
      // Carry a body over as it is, with only version (last released + 1) and expires renewed.
      const { EXPIRY_DAYS } = await import('./proposals.js');
      const { daysFrom } = await import('../protocol/metadata/build.js');
      const { formatExpires } = await import('../protocol/metadata/schemas.js');
      const status = await call(a, 'status');
      const last = (role === 'root' ? status.rootVersion : status.targetsBase) ?? 0;
      signed.version = last + 1;
      signed.expires = formatExpires(daysFrom(new Date(), expiresDays(values) ?? EXPIRY_DAYS[role]));
      if (baseVersion === undefined) body.baseVersion = last;
    }
    body.signed = signed;
  }
  return body;
}

const expiresDays = (v: { 'expires-days'?: string }) =>
  intArg('--expires-days', v['expires-days'], { min: 1, max: 36_500 });

/** Check what an open command was given, before anything is read or sent. */
function checkOpen(values: { reason?: string; deadline?: string; renew: boolean; signed?: string }): void {
  if (!values.reason) throw new UsageError('every round needs --reason: say why this change is made');
  deadlineOf(values);
  if (values.renew && !values.signed) throw new UsageError('--renew goes with --signed FILE');
}

async function opened(io: Io, values: { json: boolean }, r: { round: RoundInfo }): Promise<number> {
  if (values.json) io.out(JSON.stringify(r.round, null, 2));
  else {
    io.out(
      `opened round ${r.round.id}${r.round.linked ? `, linked with targets round ${r.round.linked} (released together)` : ''}`,
    );
    await showRound(io, r.round, false);
    io.out(`keyholders review it with: quorum-signer review ${r.round.id}`);
  }
  return 0;
}

const openTargets = command({
  synopsis:
    '--reason TEXT [--deadline 7d|RFC3339] [--expires-days N] [--base-version N] ' +
    '[--add FILE --name NAME --version V [--hardware-id H ...] [--format BINARY|OSTREE] [--target-name PATH] ' +
    '[--uri URL | --cli-uploaded]] [--remove TARGET ...] [--role NAME] ' +
    '[--delegate NAME --key KEYHOLDER|pem:FILE|frost:GROUP|online ... [--threshold N] ' +
    '(--paths PATTERN ... | --path-hash-prefixes HEX ...) [--terminating]] [--undelegate NAME ...] ' +
    '| [--signed FILE [--renew]]',
  summary: "open a round for the next targets version (or a delegated role's): targets, delegations, or a whole body",
  description:
    'Open a signing round for the next version of targets (last released + 1). One round per role is\n' +
    'open at a time. --add computes the length and hashes of FILE. In ota, a target needs at least one\n' +
    '--hardware-id (aktualizr installs it on ECUs of those hardware ids only), and a BINARY target a\n' +
    'location: --uri URL where devices download the file, or --cli-uploaded once it is uploaded to the\n' +
    'reposerver (garage-sign targets upload). OSTREE targets come from treehub and need neither. The\n' +
    'coordinator refuses a round without them (OTA_TARGET_HARDWARE_IDS, OTA_TARGET_LOCATION,\n' +
    'OTA_TARGET_URI), whichever way its body was made.\n' +
    '--role NAME opens the round for the delegated targets role NAME instead (its file, version + 1,\n' +
    'signed by the keys the role delegating it names; every target must be within its paths:\n' +
    'DELEGATED_PATH_OUTSIDE). --delegate NAME adds a delegation to the file the round signs, or\n' +
    'replaces the one of that name; --undelegate NAME removes one. ota delegations take --paths only.',
  options: {
    ...OPEN,
    add: {
      type: 'string',
      value: 'FILE',
      help: 'add (or replace) a target: its length and hashes computed from FILE',
      reads: { is: 'file', holds: 'bytes' },
    },
    name: { type: 'string', value: 'NAME', help: "the added target's name (custom.name)" },
    version: { type: 'string', value: 'V', help: "the added target's version (custom.version)" },
    'hardware-id': { type: 'string', multiple: true, value: 'H', help: 'a hardware id the added target is for' },
    format: { type: 'string', value: 'F', help: 'BINARY (default) or OSTREE' },
    'target-name': { type: 'string', value: 'PATH', help: "the target's path in targets.json (default NAME-V)" },
    uri: { type: 'string', value: 'URL', help: 'ota: where devices download the added BINARY target' },
    'cli-uploaded': {
      type: 'boolean',
      default: false,
      help: 'ota: the added target was uploaded to the reposerver (garage-sign targets upload)',
    },
    remove: { type: 'string', multiple: true, value: 'TARGET', help: 'remove a target by its path' },
    role: {
      type: 'string',
      value: 'NAME',
      help: "open the round for a delegated targets role's file instead of targets.json",
    },
    delegate: {
      type: 'string',
      value: 'NAME',
      help: 'delegate to a role (or change its delegation): with --key, --threshold and --paths or --path-hash-prefixes',
    },
    key: {
      type: 'string',
      multiple: true,
      value: 'KEY',
      help: "a delegated role's key: KEYHOLDER (their enrolled key), pem:FILE, frost:GROUP or online",
      reads: { is: 'file', form: 'pem:', holds: 'public-key' },
    },
    threshold: { type: 'string', value: 'N', help: 'how many of the delegated keys must sign (default 1)' },
    paths: {
      type: 'string',
      multiple: true,
      value: 'PATTERN',
      help: 'a path pattern the delegated role is trusted for (tuf: fnmatch per segment; ota: glibc fnmatch)',
    },
    'path-hash-prefixes': {
      type: 'string',
      multiple: true,
      value: 'HEX',
      help: 'tuf: trust the delegated role for paths whose sha256 starts with HEX',
    },
    terminating: {
      type: 'boolean',
      default: false,
      help: 'the delegation is terminating: a client that does not find a path there looks no further',
    },
    undelegate: { type: 'string', multiple: true, value: 'NAME', help: 'remove the delegation to a role' },
  },
  positionals: [],
  async run({ values }, io) {
    checkOpen(values);
    // Key files are read (and refused) before the coordinator is asked anything.
    const delegate = await delegateChange(values);
    if (values.role !== undefined && values.renew)
      throw new UsageError("--renew counts targets.json's versions; give a delegated role's whole body with --signed");
    if (values.signed && (delegate || values.undelegate))
      throw new UsageError('--signed proposes a whole body; --delegate and --undelegate change the released one');
    if (values.signed && (values.add || values.remove))
      throw new UsageError('--signed proposes a whole body; --add and --remove change the released one');
    if (values.add && (!values.name || !values.version)) throw new UsageError('--add FILE needs --name and --version');
    if (!values.add)
      for (const o of ['name', 'version', 'hardware-id', 'format', 'target-name', 'uri', 'cli-uploaded'] as const)
        if (values[o] !== undefined && values[o] !== false) throw new UsageError(`--${o} goes with --add FILE`);
    const format = choiceArg('--format', values.format, ['BINARY', 'OSTREE'] as const) ?? 'BINARY';
    if (values.uri !== undefined && values['cli-uploaded'])
      throw new UsageError(
        'choose one location: --uri URL (the file lives there) or --cli-uploaded (it was uploaded to the reposerver)',
      );
    expiresDays(values);
    const signed = values.signed ? await signedBody(values.signed) : undefined;
    const content = values.add ? readFile(values.add, '--add', { allowEmpty: true }) : undefined;
    const a = await adminConn(values);
    const body = await openBody(a, 'targets', values, signed);
    if (!signed) {
      const status = await call(a, 'status');
      const add: NonNullable<TargetsChange['add']> = {};
      if (content) {
        const { targetEntry } = await import('./target-entry.js');
        const t = targetEntry({
          dialect: status.dialect,
          name: values.name!,
          version: values.version!,
          length: content.length,
          sha256: crypto.createHash('sha256').update(content).digest('hex'),
          sha512: crypto.createHash('sha512').update(content).digest('hex'),
          hardwareIds: values['hardware-id'],
          format,
          uri: values.uri,
          cliUploaded: values['cli-uploaded'],
          targetName: values['target-name'],
        });
        add[t.name] = t.entry;
      }
      const days = expiresDays(values);
      body.targets = {
        add,
        remove: values.remove ?? [],
        ...(days ? { expiresDays: days } : {}),
        ...(delegate ? { delegate: [delegate] } : {}),
        ...(values.undelegate ? { undelegate: values.undelegate } : {}),
      };
    }
    if (values.role !== undefined) body.delegated = values.role;
    return opened(io, values, await call(a, 'rounds.open', { body }));
  },
});

const KEY_FORMS = 'ROLE=KEYHOLDER, ROLE=pem:FILE, ROLE=keyid:ID, ROLE=frost:GROUP or ROLE=online';

/** The delegation --delegate NAME asks for (its keys read), or null; the options that go with it checked. */
async function delegateChange(values: {
  delegate?: string;
  key?: string[];
  threshold?: string;
  paths?: string[];
  'path-hash-prefixes'?: string[];
  terminating: boolean;
}): Promise<DelegateChange | null> {
  if (values.delegate === undefined) {
    for (const o of ['key', 'threshold', 'paths', 'path-hash-prefixes', 'terminating'] as const)
      if (values[o] !== undefined && values[o] !== false) throw new UsageError(`--${o} goes with --delegate NAME`);
    return null;
  }
  if (!values.key?.length) throw new UsageError('--delegate NAME needs at least one --key');
  if (!values.paths === !values['path-hash-prefixes'])
    throw new UsageError('--delegate NAME needs --paths PATTERN ... or --path-hash-prefixes HEX ..., not both');
  const n = threshold('--threshold', values.threshold ?? '1')!;
  const keys = await Promise.all(values.key.map(async (v) => (await keyRef('--key', `targets=${v}`)).key));
  return {
    name: values.delegate,
    keys,
    threshold: n,
    ...(values.paths ? { paths: values.paths } : { pathHashPrefixes: values['path-hash-prefixes'] }),
    ...(values.terminating ? { terminating: true } : {}),
  };
}

type RoleKey = NonNullable<RootChange['add']>[number];

async function keyRef(option: string, spec: string): Promise<RoleKey> {
  const i = spec.indexOf('=');
  if (i < 1) throw new UsageError(`${option} ${JSON.stringify(spec)} must be ${KEY_FORMS}`);
  const role = spec.slice(0, i) as RoleKey['role']; // checked next
  const v = spec.slice(i + 1);
  if (!['root', 'targets', 'snapshot', 'timestamp'].includes(role))
    throw new UsageError(`${option} ${JSON.stringify(spec)}: unknown role ${role}`);
  if (v.startsWith('pem:'))
    return { role, key: { publicKey: (await import('./init.js')).readPublicKeyFile(v.slice(4), option) } };
  if (v.startsWith('keyid:')) return { role, key: { keyid: v.slice(6) } };
  if (v === 'online') return { role, key: { online: true } };
  if (v.startsWith('frost:')) return { role, key: { frost: v.slice(6) } };
  return { role, key: { keyholder: v } };
}

const openRoot = command({
  synopsis:
    '--reason TEXT [--deadline ...] [--expires-days N] [--base-version N] ' +
    '[--add-key ROLE=KEYHOLDER|pem:FILE|frost:GROUP|online ...] ' +
    '[--remove-key ROLE=KEYHOLDER|keyid:ID|pem:FILE|frost:GROUP ...] [--threshold ROLE=N ...] [--resign-targets] ' +
    '| [--signed FILE [--renew]]',
  summary: 'open a round for the next root version: add or remove keys, change thresholds or expiry',
  description:
    'Open a signing round for the next version of root (last released + 1). One round per role is open\n' +
    'at a time. --resign-targets (for a root that changes targets keys) also opens a linked targets round\n' +
    "re-signing the released targets under the new root's targets keys; both are released together.",
  options: {
    ...OPEN,
    'add-key': {
      type: 'string',
      multiple: true,
      value: 'ROLE=KEY',
      help: 'add a key to a role: KEYHOLDER (their enrolled key), pem:FILE, frost:GROUP or online',
      reads: { is: 'file', form: 'role=pem:', holds: 'public-key' },
    },
    'remove-key': {
      type: 'string',
      multiple: true,
      value: 'ROLE=KEY',
      help: 'remove a key from a role: KEYHOLDER, keyid:ID, pem:FILE or frost:GROUP',
      reads: { is: 'file', form: 'role=pem:', holds: 'public-key' },
    },
    threshold: { type: 'string', multiple: true, value: 'ROLE=N', help: "set a role's threshold" },
    'resign-targets': {
      type: 'boolean',
      default: false,
      help: 're-sign the released targets under the new targets keys, in a linked round',
    },
  },
  positionals: [],
  async run({ values }, io) {
    checkOpen(values);
    if (values.signed && (values['add-key'] || values['remove-key'] || values.threshold))
      throw new UsageError(
        '--signed proposes a whole body; --add-key, --remove-key and --threshold change the released one',
      );
    const thresholds: Partial<Record<RoleKey['role'], number>> = {};
    for (const t of values.threshold ?? []) {
      const [role, n, extra] = t.split('=');
      if (!role || n === undefined || extra !== undefined)
        throw new UsageError(`--threshold ${JSON.stringify(t)} must be ROLE=N`);
      thresholds[role as RoleKey['role']] = threshold(`--threshold ${role}`, n)!; // the coordinator refuses an unknown role
    }
    const days = expiresDays(values);
    const add = await Promise.all((values['add-key'] ?? []).map((k) => keyRef('--add-key', k)));
    const remove = await Promise.all((values['remove-key'] ?? []).map((k) => keyRef('--remove-key', k)));
    const signed = values.signed ? await signedBody(values.signed) : undefined;
    const a = await adminConn(values);
    const body = await openBody(a, 'root', values, signed);
    if (!signed) body.root = { add, remove, thresholds, ...(days ? { expiresDays: days } : {}) };
    if (values['resign-targets']) body.resignTargets = true;
    return opened(io, values, await call(a, 'rounds.open', { body }));
  },
});

export const round = group({
  summary: 'open, follow, cancel, export or complete a signing round',
  section: 'Release coordinator',
  description:
    'Open a signing round for the next version of root or targets, follow it, cancel it, or carry it to\n' +
    'an air-gapped keyholder and back. One round per role is open at a time.',
  commands: {
    open: group({
      summary: 'open a round (targets or root)',
      commands: { targets: openTargets, root: openRoot },
    }),
    status: command({
      synopsis: 'ID [--json]',
      summary: "a round's progress (with --json, also the bytes to sign)",
      options: { ...CONNECT, ...JSON_OUT },
      positionals: ID,
      async run({ values, positionals: [id] }, io) {
        const a = await adminConn(values);
        const r = await call(a, 'rounds.get', { params: { id: id! } });
        await showRound(io, r.round, values.json, values.json ? r.signed : undefined);
        return 0;
      },
    }),
    cancel: command({
      synopsis: 'ID --reason TEXT [--json]',
      summary: 'cancel an open round',
      options: { ...CONNECT, ...JSON_OUT, ...REASON },
      positionals: ID,
      async run({ values, positionals: [id] }, io) {
        if (!values.reason) throw new UsageError('round cancel needs --reason');
        const r = await call(await adminConn(values), 'rounds.cancel', {
          params: { id: id! },
          body: { reason: values.reason },
        });
        await showRound(io, r.round, values.json);
        return 0;
      },
    }),
    export: command({
      synopsis: 'ID --out FILE',
      summary: 'write a round as a bundle for an air-gapped keyholder (quorum-signer sign --offline)',
      options: { ...CONNECT, out: { type: 'string', value: 'FILE', help: 'where to write the bundle' } },
      positionals: ID,
      async run({ values, positionals: [id] }, io) {
        if (!values.out) throw new UsageError('round export needs --out FILE');
        const b = await call(await adminConn(values), 'rounds.export', { params: { id: id! } });
        fs.writeFileSync(values.out, JSON.stringify(b, null, 2) + '\n');
        io.out(
          `wrote ${values.out}; sign it on the offline machine with: quorum-signer sign --offline ` +
            `${path.basename(values.out)} --out signature.json`,
        );
        return 0;
      },
    }),
    'add-signature': command({
      synopsis: 'ID SIGNATURE-FILE [--json]',
      summary: 'add the signature an air-gapped keyholder made (quorum-signer sign --offline --out)',
      options: { ...CONNECT, ...JSON_OUT },
      positionals: [{ name: 'ID' }, { name: 'SIGNATURE-FILE', reads: { is: 'file', holds: 'json' } }],
      async run({ values, positionals: [id, file] }, io) {
        const s = readJsonAs(
          file!,
          'round add-signature',
          (await schemas()).SignatureFileSchema,
          'a signature from quorum-signer sign',
        );
        if (s.round !== id) throw new UsageError(`the signature file is for round ${s.round}, not ${id}`);
        const r = await call(await adminConn(values), 'rounds.addSignature', {
          params: { id },
          body: { keyid: s.keyid, sig: s.sig, sha256: s.sha256 },
        });
        await showRound(io, r.round, values.json);
        return 0;
      },
    }),
  },
});

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
  const limit = intArg('--limit', values.limit, { min: 1, max: WIRE_LIMITS.pageMax - 1 }) ?? WIRE_LIMITS.pageDefault;
  const state = choiceArg('--state', values.state, ROUND_STATES);
  const query = {
    limit: limit + 1,
    ...(values.before ? { before: values.before } : {}),
    ...(state ? { state } : {}),
  };
  // The answer is checked against `route`'s own schema; the cast only tells the compiler which.
  const rs = (await call(await adminConn(values), route as 'rounds.list', { query })) as AdminResponse<K>;
  if (rs.length <= limit) return rs;
  const shown = rs.slice(1) as AdminResponse<K>;
  io.err(`older ${what === 'rounds' ? 'rounds' : 'certificate rounds'} exist: quorum ${what} --before ${shown[0]!.id}`);
  return shown;
}

export const roundsList = command({
  synopsis: '[--json] [--limit 100] [--before ROUND] [--state open|released|cancelled|expired]',
  summary: 'list rounds',
  section: 'Release coordinator',
  description:
    'List the latest rounds (oldest first) with their state and progress; --before ROUND lists the\nones opened before it.',
  options: { ...CONNECT, ...JSON_OUT, ...PAGE },
  positionals: [],
  async run({ values }, io) {
    const rs = await page(values, 'rounds.list', io);
    const { progressLine } = await rounds();
    if (values.json) io.out(JSON.stringify(rs, null, 2));
    else if (!rs.length) io.out('no rounds yet');
    else for (const r of rs) io.out(`${r.id}  ${progressLine(r)}  — ${r.reason}`);
    return 0;
  },
});

export const status = command({
  synopsis: '[--json]',
  summary: 'released versions, open rounds, connected keyholders',
  section: 'Release coordinator',
  description: 'The released versions, open rounds and keyholders (and who is connected).',
  options: { ...CONNECT, ...JSON_OUT },
  positionals: [],
  async run({ values }, io) {
    const s = await call(await adminConn(values), 'status');
    if (values.json) return (io.out(JSON.stringify(s, null, 2)), 0);
    const { progressLine } = await rounds();
    io.out(`dialect ${s.dialect}; released root v${s.rootVersion ?? '-'}, targets v${s.targetsVersion ?? '-'}`);
    io.out(`keyholders: ${s.keyholders.map((k) => `${k.name}${k.connected ? ' (connected)' : ''}`).join(', ') || '-'}`);
    for (const r of s.openRounds) io.out(`open: ${r.id}  ${progressLine(r)}`);
    for (const e of s.expiry ?? []) io.out(`expiry: ${expiryLine(e)}`);
    if (s.notify?.webhooks)
      io.out(
        `webhooks: ${s.notify.webhooks}; deliveries pending ${s.notify.pending}, given up ${s.notify.failed}` +
          `${s.notify.lastError ? ` (last error: ${s.notify.lastError})` : ''}`,
      );
    return 0;
  },
});

// --- the living repository: expiry, webhooks, publishing ------------------------------------------------

type RoleExpiryView = AdminResponse<'expiry'>['roles'][number];

function expiryLine(e: RoleExpiryView): string {
  const policy =
    e.renewBeforeDays !== undefined
      ? `renewal opens ${e.renewBeforeDays} days before`
      : `re-signed every ~${e.lifetimeDays! / 2} days for ${e.lifetimeDays} days`;
  return (
    `${e.role.padEnd(9)} v${e.version}  expires ${e.expires}  ${e.daysLeft} days left  ${e.state}` +
    `${e.round ? ` (${e.round})` : ''}  — ${policy} (from ${e.renewFrom})`
  );
}

export const expiry = command({
  synopsis: '[--data-dir DIR] [--json]',
  summary: "each released role's and CA certificate's expiry, days left, renewal state",
  section: 'Release coordinator',
  description:
    "Each released role's expiry and the days left, by the coordinator's clock, and its state: ok;\n" +
    'due (within its renew-before window: the coordinator opens a renewal round at its next check);\n' +
    'renewing (a round for the role is open); expired. Root and targets are renewed by keyholders in a\n' +
    'round the coordinator opens itself (quorum serve --renew-before root=60d --renew-before\n' +
    'targets=14d); in tuf, snapshot and timestamp are re-signed by the coordinator (--timestamp-expiry,\n' +
    '--snapshot-expiry). Each released CA certificate follows, with its expiry (a new certificate round\n' +
    'renews it). quorum verify DIR --warn-days N checks a published folder the same way.',
  options: { ...CONNECT, ...JSON_OUT },
  positionals: [],
  async run({ values }, io) {
    const e = await call(await adminConn(values), 'expiry');
    if (values.json) return (io.out(JSON.stringify(e, null, 2)), 0);
    if (!e.roles.length) io.out('nothing released yet');
    for (const r of e.roles) io.out(expiryLine(r));
    for (const d of e.delegated)
      io.out(
        `${d.first ? `${d.name} (first: ${d.first})` : d.name}  v${d.version}  expires ${d.expires}  ` +
          `${d.daysLeft} days left  ${d.state}${d.round ? ` (${d.round})` : ''}  — ` +
          (d.first
            ? 're-signed by the online key (when a round changes it, or half its year is gone)'
            : `quorum round open targets --role ${d.name}`),
      );
    for (const c of e.certificates)
      io.out(`CA ${c.ca}  expires ${c.expires}  ${c.daysLeft} days left  ${c.state}  — a certificate round renews it`);
    return 0;
  },
});

type WebhookView = AdminResponse<'notify.list'>[number];
const showWebhook = (w: WebhookView) =>
  `${w.id}  ${w.url}  ${w.format}${w.hasSecret ? ' signed' : ''}  events: ${w.events.join(',') || 'all'}  ` +
  `delivered ${w.delivered}, pending ${w.pending}, failed ${w.failed}${w.lastError ? ` (last error: ${w.lastError})` : ''}`;

export const notify = group({
  summary: 'webhooks: add, list, remove, test',
  section: 'Release coordinator',
  description:
    'Tell people and systems what happens, through webhooks. Each event is POSTed to every webhook that\n' +
    "asks for it (no --events: all of them). Deliveries go through an outbox in the coordinator's database,\n" +
    'written with the event itself, and are retried with exponential backoff and jitter until the receiver\n' +
    'answers 2xx (across restarts: at least once; de-duplicate on the X-Quorum-Event-Id header). With\n' +
    '--secret-file, each request has X-Quorum-Signature: sha256=<hex HMAC-SHA256 of the body, keyed with the\n' +
    "file's content>; the secret is stored in the coordinator's database and never shown again. --format\n" +
    'slack sends {"text": ...}, which Slack, Mattermost and Teams incoming webhooks accept. Failed deliveries\n' +
    'show in quorum status and never hold up a round. URLs are listed without their path.',
  commands: {
    add: command({
      synopsis: 'URL [--events E1,E2,...] [--secret-file FILE] [--format json|slack] [--data-dir DIR] [--json]',
      summary: 'add a webhook',
      options: {
        ...CONNECT,
        ...JSON_OUT,
        events: { type: 'string', value: 'E1,E2', help: 'the events to send (default: all)' },
        'secret-file': {
          type: 'string',
          value: 'FILE',
          help: 'a file whose content keys the HMAC-SHA256 signature header',
          reads: { is: 'file', holds: 'text' },
        },
        format: { type: 'string', value: 'F', help: 'json (default) or slack' },
      },
      positionals: [{ name: 'URL' }],
      async run({ values, positionals: [url] }, io) {
        const secret =
          values['secret-file'] === undefined ? undefined : readText(values['secret-file'], '--secret-file').trim();
        const format = choiceArg('--format', values.format, ['json', 'slack'] as const);
        const w = await call(await adminConn(values), 'notify.add', {
          body: {
            url: url!,
            events: values.events
              ?.split(',')
              .map((e) => e.trim())
              .filter(Boolean),
            format,
            secret,
          },
        });
        if (values.json) io.out(JSON.stringify(w));
        else io.out(`added webhook ${showWebhook(w)}`);
        return 0;
      },
    }),
    list: command({
      synopsis: '[--data-dir DIR] [--json]',
      summary: 'the webhooks and their deliveries',
      options: { ...CONNECT, ...JSON_OUT },
      positionals: [],
      async run({ values }, io) {
        const ws = await call(await adminConn(values), 'notify.list');
        if (values.json) io.out(JSON.stringify(ws, null, 2));
        else if (!ws.length) io.out('no webhooks');
        else for (const w of ws) io.out(showWebhook(w));
        return 0;
      },
    }),
    remove: command({
      synopsis: 'ID [--data-dir DIR] [--json]',
      summary: 'remove a webhook',
      options: { ...CONNECT, ...JSON_OUT },
      positionals: ID,
      async run({ values, positionals: [id] }, io) {
        const r = await call(await adminConn(values), 'notify.remove', { params: { id: id! } });
        io.out(values.json ? JSON.stringify(r) : `removed webhook ${r.removed}`);
        return 0;
      },
    }),
    test: command({
      synopsis: 'ID [--data-dir DIR] [--json]',
      summary: 'queue a test notification to a webhook',
      options: { ...CONNECT, ...JSON_OUT },
      positionals: ID,
      async run({ values, positionals: [id] }, io) {
        const r = await call(await adminConn(values), 'notify.test', { params: { id: id! }, body: {} });
        io.out(values.json ? JSON.stringify(r) : `queued test notification ${r.eventId} to webhook ${id}`);
        return 0;
      },
    }),
  },
});

export const publish = command({
  synopsis: 'DIR [--data-dir DIR] [--json]',
  summary: 'copy the current release into a folder, in the layout clients fetch',
  section: 'Release coordinator',
  description:
    'Copy the current release into DIR, for a web server or a bucket sync, in the layout clients fetch\n' +
    "(each delegated role's NAME.json and hash bin in tuf; with consistent snapshots, N.snapshot.json and\n" +
    'N.targets.json too). Each file is written to a\n' +
    'temporary name and renamed into place, in the order root, targets, snapshot, timestamp, so a client\n' +
    'fetching meanwhile never gets a timestamp naming files that are not there yet. Files of earlier\n' +
    'releases are left in DIR. Run it after each release and refresh (e.g. from cron every hour), or\n' +
    'serve the release directly with quorum serve --publish.',
  options: { ...DATA_DIR, ...JSON_OUT },
  positionals: [{ name: 'DIR' }],
  async run({ values, positionals: [dir] }, io) {
    const dataDir = dataDirOf(values);
    const { currentRelease, publishTo, repositoryFiles } = await import('./publish.js');
    const rel = currentRelease(dataDir);
    if (!rel)
      throw new QuorumError('FILE_MISSING', `${dataDir} has no release yet (no releases/current); release first`);
    const root = rel.files['root.json'];
    const { parseMetadata } = await import('../protocol/verify.js');
    const dialect = root ? parseMetadata(root, 'root.json', 'root').dialect : 'tuf';
    const names = publishTo(dir!, repositoryFiles(rel.files, dialect));
    if (values.json) io.out(JSON.stringify({ release: rel.seq, dir: path.resolve(dir!), files: names }));
    else io.out(`published release ${rel.seq} to ${path.resolve(dir!)}: ${names.join(', ')}`);
    return 0;
  },
});

// --- the audit log, export -----------------------------------------------------------------------------

/** The data dir's store, for the commands that work on it directly. */
async function openStore(values: { 'data-dir'?: string }) {
  const file = path.join(dataDirOf(values), DATA_FILES.db);
  if (!fs.existsSync(file)) throw new QuorumError('FILE_MISSING', `${file} does not exist; pass --data-dir`);
  const { Store, verifyAuditChain } = await import('./store.js');
  return { store: new Store(file), verifyAuditChain };
}

export const audit = group({
  summary: 'verify or export the hash-chained audit log',
  section: 'Release coordinator',
  commands: {
    verify: command({
      synopsis: '[--data-dir DIR] [--json]',
      summary: 'check the hash chain: exit 1 if an event was edited, removed or reordered',
      description:
        'Check the hash chain of the audit log: exit 1 if any event was edited, removed or reordered.\n' +
        'It prints the head hash; keep it somewhere else (a ticket, a log) to also detect the newest\n' +
        'events being cut off or the whole chain being rewritten by someone holding the database.',
      options: { ...DATA_DIR, ...JSON_OUT },
      positionals: [],
      async run({ values }, io) {
        const { store, verifyAuditChain } = await openStore(values);
        try {
          const rows = store.auditRows();
          const broken = verifyAuditChain(rows);
          if (values.json) io.out(JSON.stringify({ ok: !broken, events: rows.length, broken }));
          else if (broken) io.err(`AUDIT_BROKEN: event ${broken.seq}: ${broken.problem}`);
          else io.out(`audit log intact: ${rows.length} events, head ${rows.at(-1)?.hash ?? '-'}`);
          return broken ? 1 : 0;
        } finally {
          store.close();
        }
      },
    }),
    export: command({
      synopsis: '[--data-dir DIR] [--out FILE]',
      summary: 'write the audit log as JSON lines (stdout, or --out FILE)',
      options: { ...DATA_DIR, out: { type: 'string', value: 'FILE', help: 'write here instead of stdout' } },
      positionals: [],
      async run({ values }, io) {
        const { store } = await openStore(values);
        try {
          const lines =
            store
              .auditRows()
              .map((r) =>
                JSON.stringify({
                  seq: r.seq,
                  at: r.at,
                  event: r.event,
                  data: JSON.parse(r.data) as unknown,
                  prevHash: r.prev_hash,
                  hash: r.hash,
                }),
              )
              .join('\n') + '\n';
          if (values.out) fs.writeFileSync(values.out, lines);
          else io.out(lines.replace(/\n$/, ''));
          return 0;
        } finally {
          store.close();
        }
      },
    }),
  },
});

export const exportCommand = group({
  summary: 'export ota-tuf: write the latest release as the OTA Connect reposerver accepts it on upload',
  section: 'Release coordinator',
  commands: {
    'ota-tuf': command({
      synopsis:
        'OUT_DIR [--data-dir DIR] [--server-root-version N] [--server-targets PATH | --server-targets-version N] ' +
        '[--at TIME] [--json]',
      summary: 'write the latest release as the OTA Connect reposerver accepts it on upload',
      description:
        'Write the latest release in exactly the form the OTA Connect (ota-tuf) reposerver accepts on upload:\n' +
        'N.root.json for each root version the server does not have yet, root.json, targets.json, and\n' +
        'targets.json.checksum (the x-ats-role-checksum of the targets the server holds, when known here).\n' +
        "Every file is first checked against ota-tuf's models: root re-encoded canonically must give the\n" +
        'signed bytes (RSA keys as BouncyCastle PEM, key ids sha256 of the DER SubjectPublicKeyInfo, no other\n' +
        'fields); targets carry sha256 only and custom with createdAt/updatedAt; only printable ASCII; no\n' +
        'ECDSA keys; RSA-PSS signatures with salt length 32 (what the servers verify); every new target with a\n' +
        'hardware id, and a BINARY one with a location (uri, or cliUploaded: true). Refusals exit 1, one line\n' +
        'per problem: CODE: file: where: why. Then prints the upload steps, and what the server will do (a root\n' +
        'that drops a key the server holds for its own roles makes it delete that private key).',
      options: {
        ...DATA_DIR,
        ...JSON_OUT,
        at: { type: 'string', value: 'TIME', help: 'check expiry at TIME (RFC 3339) instead of now' },
        'server-root-version': {
          type: 'string',
          value: 'N',
          help: 'the root version the reposerver holds now (default: the imported one); only later ones are written',
        },
        'server-targets': {
          type: 'string',
          value: 'PATH',
          help:
            'the targets the reposerver holds now (a garage-sign folder after targets pull, its ' +
            'roles/unsigned/targets.json, or the served targets.json): the release must be built on exactly them',
          reads: { is: 'file-or-dir', holds: 'targets' },
        },
        'server-targets-version': {
          type: 'string',
          value: 'N',
          help: 'the targets version it holds now (default: the imported or pulled one; 0 if none): the release must be N + 1',
        },
      },
      positionals: [{ name: 'OUT_DIR' }],
      async run({ values, positionals: [out] }, io) {
        const version = (option: string, v: string | undefined) =>
          intArg(option, v, { min: 0, max: Number.MAX_SAFE_INTEGER });
        const opts = {
          at: timeArg('--at', values.at),
          serverRootVersion: version('--server-root-version', values['server-root-version']),
          serverTargetsVersion: version('--server-targets-version', values['server-targets-version']),
          serverTargets: values['server-targets'],
        };
        const { exportOtaTuf, OtaExportError, uploadSteps } = await import('./garage-sign.js');
        try {
          const r = exportOtaTuf(dataDirOf(values), path.resolve(out!), opts);
          if (values.json) return (io.out(JSON.stringify({ ok: true, ...r, upload: uploadSteps(r) }, null, 2)), 0);
          io.out(
            r.files.length
              ? `wrote ${r.files.join(', ')} to ${r.outDir}`
              : `nothing to upload; wrote nothing to ${r.outDir}`,
          );
          for (const n of r.notes) io.out(`note: ${n}`);
          for (const l of uploadSteps(r)) io.out(l);
          return 0;
        } catch (e) {
          if (!(e instanceof OtaExportError)) throw e;
          const problems = (e as InstanceType<typeof OtaExportError> & { problems?: OtaProblem[] }).problems ?? [
            { code: e.code, file: '-', at: '-', message: e.message },
          ];
          if (values.json) io.out(JSON.stringify({ ok: false, problems }, null, 2));
          for (const p of problems) io.err(`${p.code}: ${p.file}: ${p.at}: ${p.message}`);
          return 1;
        }
      },
    }),
  },
});

// --- fleet certificates --------------------------------------------------------------------------

function certLine(r: CertView['round']): string {
  const a = r.approvals;
  return (
    `${r.profile} from CA ${r.ca} [${r.state}] approvals ${a.approved.length}/${a.threshold}${a.met ? ' (met)' : ''}; ` +
    `signs: ${r.holder ?? '-'}`
  );
}

async function showCert(io: Io, v: CertView, json: boolean): Promise<void> {
  if (json) return io.out(JSON.stringify(v, null, 2));
  const { formatReview } = await import('../protocol/x509.js');
  const r = v.round;
  io.out(`${r.id}  ${certLine(r)}${r.newCa ? `; becomes CA ${r.newCa}` : ''}`);
  io.out(`  reason: ${r.reason}`);
  io.out(`  deadline: ${r.deadline}   issuer key: ${r.issuerFingerprint}`);
  io.out(`  approved: ${r.approvals.approved.join(', ') || '-'}; missing: ${r.approvals.missing.join(', ') || '-'}`);
  io.out(formatReview(v.review).trimEnd());
}

const VALIDITY = {
  'validity-days': {
    type: 'string',
    value: 'D',
    help: "the certificate's validity in days (default the profile's maximum)",
  },
} as const;

const validityDays = (v: { 'validity-days'?: string }) =>
  numberArg('--validity-days', v['validity-days'], { above: 0, max: 36_500 });

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

const ceremonyStatus = command({
  synopsis: 'ID [--json]',
  summary: "a FROST DKG ceremony's progress and group key",
  options: { ...CONNECT, ...JSON_OUT },
  positionals: ID,
  async run({ values, positionals: [id] }, io) {
    return showCeremony(await adminConn(values), id!, values.json, io);
  },
});

const ceremonyCancel = command({
  synopsis: 'ID --reason TEXT',
  summary: 'cancel a FROST DKG ceremony under way',
  options: { ...CONNECT, ...REASON },
  positionals: ID,
  async run({ values, positionals: [id] }, io) {
    if (!values.reason) throw new UsageError('cancelling a ceremony needs --reason TEXT');
    await call(await adminConn(values), 'frost.cancelCeremony', {
      params: { id: id! },
      body: { reason: values.reason },
    });
    io.out(`cancelled ceremony ${id}`);
    return 0;
  },
});

const PARTICIPANTS = {
  threshold: { type: 'string', value: 'T', help: 'how many participants sign together' },
  participant: {
    type: 'string',
    multiple: true,
    value: 'NAME',
    help: 'a keyholder with a recorded identity (quorum keyholder identity); two or more',
  },
} as const;

/** --threshold and two or more --participant, checked before anything is sent. */
function roster(
  what: string,
  v: { threshold?: string; participant?: string[] },
): { threshold: number; participants: string[] } {
  const participants = v.participant ?? [];
  if (participants.length < 2 || v.threshold === undefined)
    throw new UsageError(`${what} needs --threshold and two or more --participant`);
  return { participants, threshold: intArg('--threshold', v.threshold, { min: 1, max: LIMITS.maxThreshold })! };
}

export const fleetCa = group({
  summary: 'create a fleet root CA (a certificate round), list CAs',
  section: 'Release coordinator',
  footer:
    'A name is taken (CA_EXISTS) by a CA that has its certificate, has a round open, or has a DKG\n' +
    'ceremony under way. A CA whose round was cancelled or expired before it got its certificate gives\n' +
    'its name up: creating a CA of that name (either form, or cert issue --new-ca) retires it as\n' +
    'NAME.retired-N, kept with its rounds and audited (ca.retired); fleet-ca list shows it.\n' +
    'Run quorum fleet-ca <command> --help for the options of each command.',
  commands: {
    create: command({
      synopsis: [
        '--name N --holder KEYHOLDER --fleet-name CN --approvers a,b,c --approvals M --reason TEXT ' +
          '[--validity-days D] [--deadline 7d|RFC3339] [--json]',
        '[--frost] --name N --threshold T --participant A --participant B ... --fleet-name CN --reason TEXT ' +
          '[--validity-days D] [--deadline 7d|RFC3339] [--json]',
      ],
      summary: 'open a round for a self-signed fleet root CA certificate (held by a keyholder, or a FROST group)',
      description:
        "Open a round for a self-signed fleet root CA certificate (CN = --fleet-name) under the holder's\n" +
        'enrolled key (Ed25519 or ECDSA P-256; RSA is refused with KEY_UNSUPPORTED). The holder signs it\n' +
        'with quorum-signer cert sign once M of the approvers have approved the exact TBS bytes\n' +
        "(quorum-signer cert approve). Validity defaults to the profile's maximum (10 years).\n\n" +
        '--frost (or --participant): open a distributed key generation ceremony (FROST, Ed25519) among the\n' +
        'participants (each needs a recorded identity: quorum keyholder identity NAME HEX). Each runs\n' +
        "quorum-signer frost join dkg-N; once all agree, the group key is the CA key and the fleet root's\n" +
        "certificate round opens; T of the participants sign it together. --deadline is the ceremony's and\n" +
        "then the fleet root round's (default 7 days each).",
      options: {
        ...CONNECT,
        ...JSON_OUT,
        ...REASON,
        ...DEADLINE,
        ...VALIDITY,
        name: {
          type: 'string',
          value: 'N',
          help: "the CA's name here (certificates are issued by it: cert issue --ca N)",
        },
        'fleet-name': { type: 'string', value: 'CN', help: "the certificate's subject CN" },
        holder: { type: 'string', value: 'KEYHOLDER', help: 'whose enrolled key is the CA key' },
        approvers: { type: 'string', value: 'a,b,c', help: "keyholders who approve the CA's certificates" },
        approvals: { type: 'string', value: 'M', help: 'how many approvers must approve each certificate' },
        frost: { type: 'boolean', default: false, help: 'a FROST group CA: its participants sign together' },
        ...PARTICIPANTS,
      },
      positionals: [],
      async run({ values }, io) {
        // --participant (with --threshold) makes it a FROST group CA, with or without --frost.
        const frost = values.frost || (values.participant ?? []).length > 0;
        if (frost && (values.holder || values.approvers || values.approvals))
          throw new UsageError(
            'a FROST group CA (--frost, --participant) has no --holder, --approvers or --approvals: its ' +
              'participants sign together',
          );
        if (!frost && values.threshold !== undefined)
          throw new UsageError('--threshold goes with --frost (a keyholder CA counts --approvals)');
        if (frost) {
          const r = roster('fleet-ca create --frost', values);
          if (!values.name || !values['fleet-name'] || !values.reason)
            throw new UsageError('fleet-ca create --frost needs --name, --fleet-name and --reason');
          const body = {
            name: values.name,
            fleetName: values['fleet-name'],
            ...r,
            reason: values.reason,
            deadline: deadlineOf(values),
            validityDays: validityDays(values),
          };
          const st = await call(await adminConn(values), 'cas.createFrost', { body });
          if (values.json) return (io.out(JSON.stringify(st, null, 2)), 0);
          io.out(
            `opened DKG ceremony ${st.ceremony.id}: FROST fleet root CA ${values.name}, ${st.ceremony.threshold} of ` +
              `${st.ceremony.participants.length}`,
          );
          for (const p of st.ceremony.participants) io.out(`  ${p.identifier}. ${p.name}  identity ${p.identityKey}`);
          io.out(`each participant runs: quorum-signer frost join ${st.ceremony.id}`);
          return 0;
        }
        if (
          !values.name ||
          !values.holder ||
          !values['fleet-name'] ||
          !values.approvers ||
          !values.approvals ||
          !values.reason
        )
          throw new UsageError(
            'fleet-ca create needs --name, --holder, --fleet-name, --approvers, --approvals and --reason',
          );
        const body = {
          name: values.name,
          holder: values.holder,
          fleetName: values['fleet-name'],
          approvers: listOf(values.approvers)!, // checked above
          approvals: intArg('--approvals', values.approvals, { min: 1, max: LIMITS.maxThreshold })!,
          reason: values.reason,
          deadline: deadlineOf(values),
          validityDays: validityDays(values),
        };
        const v = await call(await adminConn(values), 'cas.create', { body });
        if (values.json) return (await showCert(io, v, true), 0);
        io.out(`opened certificate round ${v.round.id}: fleet root CA ${values.name}`);
        await showCert(io, v, false);
        io.out(
          `approvers review and approve with: quorum-signer cert approve ${v.round.id}; then ${v.round.holder} ` +
            `signs: quorum-signer cert sign ${v.round.id}`,
        );
        return 0;
      },
    }),
    list: command({
      synopsis: '[--json]',
      summary: 'the CAs, issued or not, and retired names',
      options: { ...CONNECT, ...JSON_OUT },
      positionals: [],
      async run({ values }, io) {
        const cas = await call(await adminConn(values), 'cas.list');
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
      },
    }),
    ceremony: ceremonyStatus,
    'cancel-ceremony': ceremonyCancel,
  },
});

export const frost = group({
  summary: 'create a FROST threshold group key for root or targets (a DKG ceremony), list groups',
  section: 'Release coordinator',
  description: 'Group and CA names share one namespace. For a FROST fleet root CA use quorum fleet-ca create --frost.',
  commands: {
    create: command({
      synopsis:
        '--name N --threshold T --participant A --participant B ... --reason TEXT [--deadline 7d|RFC3339] [--json]',
      summary: 'open a DKG ceremony for a group key that signs root or targets',
      description:
        'Open a distributed key generation ceremony (FROST, Ed25519, RFC 9591) for a group key that signs\n' +
        'root or targets metadata. Each participant needs a recorded identity (quorum keyholder identity\n' +
        'NAME HEX) and runs quorum-signer frost join dkg-N. Once every participant agrees, put the group\n' +
        'key into a role with a root round: quorum round open root --add-key targets=frost:N ...; T of the\n' +
        'participants then sign each round together with quorum-signer frost sign ROUND. A ceremony still\n' +
        'under way at its --deadline (default 7 days) fails, naming whom it was waiting for.',
      options: {
        ...CONNECT,
        ...JSON_OUT,
        ...REASON,
        ...DEADLINE,
        name: { type: 'string', value: 'N', help: "the group's name (frost:N in a root round)" },
        ...PARTICIPANTS,
      },
      positionals: [],
      async run({ values }, io) {
        const r = roster('frost create', values);
        if (!values.name || !values.reason) throw new UsageError('frost create needs --name and --reason');
        const body = { name: values.name, ...r, reason: values.reason, deadline: deadlineOf(values) };
        const st = await call(await adminConn(values), 'frost.createGroup', { body });
        if (values.json) return (io.out(JSON.stringify(st, null, 2)), 0);
        io.out(
          `opened DKG ceremony ${st.ceremony.id}: FROST group ${values.name}, ${st.ceremony.threshold} of ` +
            `${st.ceremony.participants.length}`,
        );
        for (const p of st.ceremony.participants) io.out(`  ${p.identifier}. ${p.name}  identity ${p.identityKey}`);
        io.out(`each participant runs: quorum-signer frost join ${st.ceremony.id}`);
        io.out(`then put the group key into a role: quorum round open root --add-key targets=frost:${values.name} ...`);
        return 0;
      },
    }),
    list: command({
      synopsis: '[--json]',
      summary: 'every ceremony (role-key groups and FROST CAs) with its state and group key',
      options: { ...CONNECT, ...JSON_OUT },
      positionals: [],
      async run({ values }, io) {
        const groups = await call(await adminConn(values), 'frost.groups');
        if (values.json) return (io.out(JSON.stringify(groups, null, 2)), 0);
        if (!groups.length) io.out('no FROST ceremonies yet');
        for (const g of groups)
          io.out(
            `${g.name}  ${g.kind === 'fleet-ca' ? 'fleet CA' : 'role key'}  ${g.threshold} of ` +
              `${g.participants.join(', ')}  ${g.ceremony} [${g.state}]${g.groupPublicKey ? `  group key ${g.groupPublicKey}` : ''}${g.failure ? `  (${g.failure})` : ''}${g.refused ? `  REFUSED: ${g.refused}` : ''}`,
          );
        return 0;
      },
    }),
    ceremony: ceremonyStatus,
    cancel: ceremonyCancel,
  },
});

export const cert = group({
  summary: 'issue a certificate from a CSR, follow, fetch or cancel a certificate round',
  section: 'Release coordinator',
  commands: {
    issue: command({
      synopsis:
        '--ca N --profile intermediate-ca|device --csr FILE --reason TEXT [--validity-days D] [--device-id ID] ' +
        '[--deadline 7d|RFC3339] [--new-ca NAME --holder KEYHOLDER [--approvers a,b --approvals M]]',
      summary: 'check a CSR and open a round for a certificate issued by a CA',
      description:
        'Check the CSR (its self-signature, its key type, no CA request on a device, the validity against\n' +
        'the profile: device 366 days, intermediate 1827) and only then open a round for a certificate\n' +
        "issued by CA N. A device certificate's CN is the device id (the CSR's CN, or --device-id, which\n" +
        'must agree with it). --new-ca registers an intermediate as a CA whose key KEYHOLDER holds (the CSR\n' +
        "must be made with that keyholder's enrolled key); its approvers default to CA N's.",
      options: {
        ...CONNECT,
        ...JSON_OUT,
        ...REASON,
        ...DEADLINE,
        ...VALIDITY,
        ca: { type: 'string', value: 'N', help: 'the issuing CA' },
        profile: { type: 'string', value: 'P', help: 'intermediate-ca or device' },
        csr: {
          type: 'string',
          value: 'FILE',
          help: 'the PKCS#10 request (PEM or DER)',
          reads: { is: 'file', holds: 'csr' },
        },
        'device-id': { type: 'string', value: 'ID', help: "a device certificate's CN (must match the CSR's)" },
        'new-ca': { type: 'string', value: 'NAME', help: 'register the intermediate as a CA of this name' },
        holder: { type: 'string', value: 'KEYHOLDER', help: 'with --new-ca: who holds the intermediate key' },
        approvers: { type: 'string', value: 'a,b', help: "with --new-ca: its approvers (default CA N's)" },
        approvals: { type: 'string', value: 'M', help: 'with --new-ca: how many approvals it needs' },
      },
      positionals: [],
      async run({ values }, io) {
        if (!values.ca || !values.profile || !values.csr || !values.reason)
          throw new UsageError('cert issue needs --ca, --profile, --csr and --reason');
        if (values.profile !== 'intermediate-ca' && values.profile !== 'device')
          throw new UsageError(
            '--profile must be intermediate-ca or device (a fleet root is made with quorum fleet-ca create)',
          );
        if (!values['new-ca'] && (values.holder || values.approvers || values.approvals))
          throw new UsageError('--holder, --approvers and --approvals go with --new-ca');
        if (values['new-ca'] && !values.holder)
          throw new UsageError('--new-ca needs --holder KEYHOLDER (who holds the intermediate key)');
        const approvals = intArg('--approvals', values.approvals, { min: 1, max: LIMITS.maxThreshold });
        const deadline = deadlineOf(values);
        const validity = validityDays(values);
        const csr = readFile(values.csr, '--csr');
        // Checked here too, so a file that is no CSR is named before anything is sent.
        const { CertError, checkCsr } = await import('../protocol/x509.js');
        try {
          checkCsr(values.profile, csr);
        } catch (e) {
          if (e instanceof CertError) throw new CertError(e.code, `--csr ${values.csr}: ${e.message}`, { cause: e });
          throw e;
        }
        const v = await call(await adminConn(values), 'certs.issue', {
          body: {
            ca: values.ca,
            profile: values.profile,
            csr: csr.toString('base64'),
            reason: values.reason,
            deadline,
            validityDays: validity,
            ...(values['device-id'] !== undefined ? { deviceId: values['device-id'] } : {}),
            ...(values['new-ca']
              ? {
                  newCa: {
                    name: values['new-ca'],
                    holder: values.holder!, // checked above
                    ...(values.approvers ? { approvers: listOf(values.approvers) } : {}),
                    ...(approvals !== undefined ? { approvals } : {}),
                  },
                }
              : {}),
          },
        });
        if (values.json) return (await showCert(io, v, true), 0);
        io.out(`opened certificate round ${v.round.id}`);
        await showCert(io, v, false);
        io.out(
          `approvers: quorum-signer cert approve ${v.round.id}; then ${v.round.holder} signs: quorum-signer cert ` +
            `sign ${v.round.id}`,
        );
        return 0;
      },
    }),
    status: command({
      synopsis: 'ID [--json]',
      summary: "a certificate round's approvals and what it issues",
      options: { ...CONNECT, ...JSON_OUT },
      positionals: ID,
      async run({ values, positionals: [id] }, io) {
        const v = await call(await adminConn(values), 'certs.get', { params: { id: id! } });
        await showCert(io, v, values.json);
        return 0;
      },
    }),
    get: command({
      synopsis: 'ID --out FILE',
      summary: 'write the released certificate and its chain (PEM)',
      options: { ...CONNECT, out: { type: 'string', value: 'FILE', help: 'where to write the certificate chain' } },
      positionals: ID,
      async run({ values, positionals: [id] }, io) {
        if (!values.out) throw new UsageError('cert get needs --out FILE');
        const v = await call(await adminConn(values), 'certs.get', { params: { id: id! } });
        if (v.round.state !== 'released' || !v.certificate)
          throw new QuorumError(
            'ROUND_NOT_RELEASED',
            `certificate round ${id} is ${v.round.state}; there is no certificate yet`,
          );
        fs.writeFileSync(values.out, v.certificate);
        io.out(`wrote ${values.out}: the certificate and its chain (PEM)`);
        return 0;
      },
    }),
    cancel: command({
      synopsis: 'ID --reason TEXT [--json]',
      summary: 'cancel an open certificate round',
      options: { ...CONNECT, ...JSON_OUT, ...REASON },
      positionals: ID,
      async run({ values, positionals: [id] }, io) {
        if (!values.reason) throw new UsageError('cert cancel needs --reason');
        const v = await call(await adminConn(values), 'certs.cancel', {
          params: { id: id! },
          body: { reason: values.reason },
        });
        await showCert(io, v, values.json);
        return 0;
      },
    }),
  },
});

export const certs = command({
  synopsis: '[--json] [--limit 100] [--before ROUND] [--state open|released|cancelled|expired]',
  summary: 'list certificate rounds',
  section: 'Release coordinator',
  description: 'List the latest certificate rounds (oldest first) with their state and approvals.',
  options: { ...CONNECT, ...JSON_OUT, ...PAGE },
  positionals: [],
  async run({ values }, io) {
    const rs = await page(values, 'certs.list', io);
    if (values.json) io.out(JSON.stringify(rs, null, 2));
    else if (!rs.length) io.out('no certificate rounds yet');
    else for (const r of rs) io.out(`${r.id}  ${certLine(r)}  — ${r.reason}`);
    return 0;
  },
});

export const sample = command({
  synopsis: 'DIR [--dialect ota|tuf]',
  summary: 'write a small signed sample repository in both dialects',
  section: 'Automation',
  description:
    'Write a sample repository (2-of-3 root with one rotation, 2-of-3 targets, snapshot, timestamp)\n' +
    'to DIR/ota and DIR/tuf, or only the one dialect given. The private keys are discarded.',
  options: { dialect: { type: 'string', value: 'D', help: 'ota or tuf (default both)' } },
  positionals: [{ name: 'DIR' }],
  async run({ values, positionals: [dir] }, io) {
    const only = choiceArg('--dialect', values.dialect, ['ota', 'tuf'] as const);
    const { buildSample, writeRepository } = await import('./sample.js');
    for (const d of only ? [only] : (['ota', 'tuf'] as const)) {
      const repo = await buildSample(d);
      const to = path.join(dir!, d);
      writeRepository(to, repo.files);
      io.out(`wrote ${d} sample repository to ${to}: ${Object.keys(repo.files).sort().join(', ')}`);
    }
    return 0;
  },
});
