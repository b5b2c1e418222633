/**
 * The coordinator server, wired from its parts: an HTTP(S) server answering /v1/health,
 * /v1/challenge and the admin API (http.ts, with the route table of admin-api.ts and its handlers
 * in admin-routes.ts), the signer WebSocket endpoint on the same port (signer-socket.ts, with
 * logins checked before the upgrade by auth.ts), the connected signers (connections.ts), what the
 * operations share (context.ts), and the periodic work (timers.ts). All state lives in the Store.
 */
import crypto from 'node:crypto';
import dns from 'node:dns/promises';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { QuorumError } from '../protocol/errors.js';
import { checkRsaSize } from '../protocol/keys.js';
import { WIRE_LIMITS } from '../protocol/limits.js';
import { isLoopbackAddress } from '../protocol/transport.js';
import { adminHandlers } from './admin-routes.js';
import { Authenticator } from './auth.js';
import { Connections } from './connections.js';
import { DATA_FILES } from './data-files.js';
import { ServerContext } from './context.js';
import { EventStreams } from './events.js';
import { AuthGuard } from './guard.js';
import { httpHandler } from './http.js';
import { Sessions, viewerByHash } from './sessions.js';
import { SignerSocket } from './signer-socket.js';
import { Store } from './store.js';
import { DEFAULT_POLICY, type LivingPolicy } from './living.js';
import { repositoryHandler } from './publish.js';
import { systemClock, Timers, type Clock } from './timers.js';

export { hashToken } from './auth.js';

export interface ServeOptions {
  dataDir: string;
  host?: string;
  port?: number;
  heartbeatMs?: number;
  ratePerSecond?: number;
  rateBurst?: number;
  /** How often deadlines are checked. */
  expiryCheckMs?: number;
  log?: (line: string) => void;
  /**
   * ms a FROST signer has to send its share once the request is out (default 60 s, or QUORUM_FROST_SIGN_TIMEOUT_MS).
   */
  frostSignTimeoutMs?: number;
  /** Serve plain ws:// on an address that is not loopback (dangerous: anyone on the path reads and alters it). */
  unsafePlaintext?: boolean;
  maxConnectionsPerKeyholder?: number;
  failedAuthPerMinute?: number;
  /** ms between the aggregated audit rows of failed authentications (default 60 s, or QUORUM_AUTH_AUDIT_MS). */
  authAuditIntervalMs?: number;
  /**
   * ms a socket whose replies are not read may stay paused before it is dropped (default 30 s, or
   * QUORUM_SLOW_READER_MS).
   */
  slowReaderMs?: number;
  /** How long online roles live and how early offline roles are renewed (living.ts loadPolicy). */
  policy?: LivingPolicy;
  /** How often the online roles are checked for a refresh (ms, default 60 s). */
  refreshCheckMs?: number;
  /** The clock of scheduled work (tests: timers.ts fileClock); the system clock by default. */
  clock?: Clock;
  /** Serve the current release read-only at /repository/ (publish.ts). */
  publish?: boolean;
  /** First webhook retry delay (ms, default 2 s); doubles per attempt, with jitter (notify.ts). */
  notifyRetryMs?: number;
}

export interface RunningServer {
  url: string;
  wsUrl: string;
  port: number;
  close(): Promise<void>;
}

/** The status page's bundled files (npm run build writes web/ into dist/web, beside dist/coordinator and dist/bin). */
const WEB_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'web');

export { DATA_FILES } from './data-files.js';

/** The address `host` resolves to (the first, as the system orders them): what serve binds and judges. */
export async function bindAddress(
  host: string,
  lookup: (host: string) => Promise<{ address: string; family: number }> = (h) => dns.lookup(h, { verbatim: true }),
): Promise<{ address: string; loopback: boolean }> {
  let address: string;
  try {
    address = (await lookup(host.replace(/^\[|\]$/g, ''))).address;
  } catch (e) {
    throw new QuorumError('USAGE', `--host ${host} does not resolve to an address (${(e as Error).message})`);
  }
  return { address, loopback: isLoopbackAddress(address) };
}

export async function serve(opts: ServeOptions): Promise<RunningServer> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const dataDir = path.resolve(opts.dataDir);
  const dbFile = path.join(dataDir, DATA_FILES.db);
  if (!fs.existsSync(dbFile))
    throw new QuorumError(
      'FILE_MISSING',
      `${dataDir} is not a coordinator data dir (no ${DATA_FILES.db}); run quorum init first`,
    );
  // Plain ws:// only on loopback, decided by the address the host resolves to and is bound to,
  // never by how the host is spelled (127.evil.example is a name like any other).
  const tlsCert = path.join(dataDir, DATA_FILES.tlsCert);
  const tlsKey = path.join(dataDir, DATA_FILES.tlsKey);
  const useTls = fs.existsSync(tlsCert) && fs.existsSync(tlsKey);
  const tlsCertPem = useTls ? fs.readFileSync(tlsCert) : null;
  if (tlsCertPem)
    checkRsaSize(new crypto.X509Certificate(tlsCertPem).publicKey, "the coordinator's TLS certificate key");
  /** What signers pinned at join and bind every login to (authMessage's tls=). */
  const tlsFingerprint = tlsCertPem ? new crypto.X509Certificate(tlsCertPem).fingerprint256 : null;
  const bind = await bindAddress(opts.host ?? '127.0.0.1');
  const refusePlaintext = (address: string) => {
    if (!useTls && !isLoopbackAddress(address) && !opts.unsafePlaintext) {
      throw new QuorumError(
        'USAGE',
        `refusing to serve plain ws:// on ${opts.host} (${address}), which is not a loopback address: create a ` +
          'TLS certificate (quorum init --tls) or pass --unsafe-plaintext',
      );
    }
  };
  refusePlaintext(bind.address);
  const clock = opts.clock ?? systemClock;
  const store = new Store(dbFile);
  const serverId = store.getMeta('server_id')!;
  const onlineKeyFile = path.join(dataDir, DATA_FILES.onlineKey);
  const limits = {
    heartbeatMs: opts.heartbeatMs ?? WIRE_LIMITS.heartbeatMs,
    ratePerSecond: opts.ratePerSecond ?? WIRE_LIMITS.ratePerSecond,
    rateBurst: opts.rateBurst ?? WIRE_LIMITS.rateBurst,
    maxConnectionsPerKeyholder: opts.maxConnectionsPerKeyholder ?? WIRE_LIMITS.maxConnectionsPerKeyholder,
    failedAuthPerMinute: opts.failedAuthPerMinute ?? WIRE_LIMITS.failedAuthPerMinute,
  };

  // The pieces: connected signers, what the operations share, authentication, the two endpoints, the timers.
  const connections = new Connections(
    {
      sendBufferPauseBytes: WIRE_LIMITS.sendBufferPauseBytes,
      sendBufferMaxBytes: WIRE_LIMITS.sendBufferMaxBytes,
      slowReaderMs: opts.slowReaderMs ?? Number(process.env.QUORUM_SLOW_READER_MS ?? WIRE_LIMITS.slowReaderMs),
    },
    log,
  );
  const ctx = new ServerContext({
    store,
    dataDir,
    serverId,
    onlineKey: fs.existsSync(onlineKeyFile) ? crypto.createPrivateKey(fs.readFileSync(onlineKeyFile)) : null,
    frostSignTimeoutMs: opts.frostSignTimeoutMs ?? Number(process.env.QUORUM_FROST_SIGN_TIMEOUT_MS ?? 60_000),
    signers: connections,
    log,
    policy: opts.policy ?? DEFAULT_POLICY,
    now: () => new Date(clock.now()),
    notify: opts.notifyRetryMs ? { baseDelayMs: opts.notifyRetryMs } : undefined,
  });
  await ctx.recover();
  await ctx.refreshOnline().catch(() => undefined); // logged and audited; retried by the timer
  const guard = new AuthGuard(store, {
    maxChallengesPerSource: WIRE_LIMITS.maxChallengesPerSource,
    maxPendingChallenges: WIRE_LIMITS.maxPendingChallenges,
    challengeTtlMs: WIRE_LIMITS.challengeTtlMs,
    failedAuthPerMinute: limits.failedAuthPerMinute,
    authAuditIntervalMs:
      opts.authAuditIntervalMs ?? Number(process.env.QUORUM_AUTH_AUDIT_MS ?? WIRE_LIMITS.authAuditIntervalMs),
    maxSources: WIRE_LIMITS.maxTrackedSources,
  });
  const auth = new Authenticator(store, guard, {
    serverId,
    tlsFingerprint,
    adminHash: store.getMeta('admin_token_sha256')!,
    viewerByHash: (h) => viewerByHash(store, h),
  });
  // The status page: sessions (ending one closes its live streams), the live feed of what signers are told.
  const sessions = new Sessions(useTls);
  const events = new EventStreams();
  sessions.onEnd.add((key) => events.endSession(key));
  connections.observers.add((msg) => events.publish(msg));
  const handler = httpHandler({
    serverId,
    dialect: ctx.dialect,
    auth,
    handlers: adminHandlers(ctx, { viewerRemoved: (name) => sessions.endViewer(name) }),
    log,
    page: { sessions, events, webDir: WEB_DIR, audit: (event, data) => store.audit(event, data) },
    repository: opts.publish ? repositoryHandler(store) : undefined,
  });
  const server = tlsCertPem
    ? https.createServer({ cert: tlsCertPem, key: fs.readFileSync(tlsKey) }, handler)
    : http.createServer(handler);
  const socket = new SignerSocket(ctx, connections, auth, limits);
  server.on('upgrade', (req: http.IncomingMessage, s: Duplex, head: Buffer) => socket.upgrade(req, s, head));
  const timers = new Timers(clock, log);
  timers.every('heartbeat', limits.heartbeatMs, () => connections.heartbeat());
  timers.every('expiry', opts.expiryCheckMs ?? 1000, () => ctx.serial(() => ctx.expireDue(timers.now())));
  // The living repository: online roles re-signed, renewal rounds opened. A failure is logged (and
  // a failed refresh audited) by the context, and tried again at the next turn.
  timers.every('living', opts.refreshCheckMs ?? 60_000, async () => {
    await ctx.refreshOnline(timers.now()).catch(() => undefined);
    await ctx.renewExpiring(timers.now());
    await ctx.warnDeadlines(timers.now());
  });
  // Webhook deliveries due (new ones are also sent as soon as their event commits).
  timers.every('notify', 1000, () => ctx.outbox.deliverDue());
  timers.every('sessions', 60_000, () => sessions.sweep());

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 7300, bind.address, () => resolve());
  });
  const addr = server.address() as { port: number; address: string };
  try {
    refusePlaintext(addr.address);
  } catch (e) {
    await timers.close();
    await new Promise<void>((r) => server.close(() => r()));
    store.close();
    throw e;
  }
  const host = addr.address.includes(':') ? `[${addr.address}]` : addr.address;
  const scheme = useTls ? 'https' : 'http';
  const url = `${scheme}://${host}:${addr.port}`;
  const wsUrl = `${useTls ? 'wss' : 'ws'}://${host}:${addr.port}/v1/ws`;
  const infoFile = path.join(dataDir, DATA_FILES.serverInfo);
  fs.writeFileSync(`${infoFile}.tmp`, JSON.stringify({ url, wsUrl, pid: process.pid, tlsFingerprint }, null, 2) + '\n');
  fs.renameSync(`${infoFile}.tmp`, infoFile); // readers never see a half-written file
  log(
    `quorum coordinator ${serverId} (${ctx.dialect}) listening on ${url}, signers connect to ${wsUrl}${tlsFingerprint ? `, TLS fingerprint ${tlsFingerprint}` : ''}`,
  );
  if (opts.publish) log(`publishing the current release read-only at ${url}/repository/`);

  return {
    url,
    wsUrl,
    port: addr.port,
    close: async () => {
      await timers.close();
      connections.closeAll();
      sessions.close();
      events.close();
      await new Promise<void>((r) => server.close(() => r()));
      socket.close();
      connections.close();
      await ctx.idle();
      guard.close(); // the failures counted since the last audit row
      await ctx.outbox.close();
      store.close();
    },
  };
}
