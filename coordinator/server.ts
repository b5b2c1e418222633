/**
 * The coordinator server: an HTTP(S) server for the admin API and authentication challenges, and
 * a WebSocket endpoint for signers. Signers authenticate before the upgrade: they sign a fresh
 * challenge under AUTH_DOMAIN and send it in the upgrade request's headers; only enrolled
 * keyholders are admitted. Each connection has a heartbeat, a message-rate limit and a maximum
 * message size sized for signer messages. All state lives in the Store; operations that change
 * it run one at a time.
 */
import crypto, { type KeyObject } from 'node:crypto';
import dns from 'node:dns/promises';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { QuorumError } from '../protocol/errors.js';
import { httpStatus, isFatal, type Code } from '../protocol/codes.js';
import { WIRE_LIMITS } from '../protocol/limits.js';
import { checkRsaSize, publicKeyFrom, verifySignature } from '../protocol/keys.js';
import { isLoopbackAddress } from '../protocol/transport.js';
import {
  CERT_PROFILES,
  CLOSE_CODES,
  ClientMessageSchema,
  FATAL,
  ROUND_STATES,
  WIRE_VERSION,
  authMessage,
  type CertRoundInfo,
  type ClientMessage,
  type RoundInfo,
  type RoundState,
  type ServerMessage,
} from '../protocol/wire.js';
import {
  approvalsOf,
  approversOf,
  cancelCertRound,
  certRoundInfo,
  certRoundView,
  createFleetCa,
  expireCertRounds,
  listCertRounds,
  openCertRound,
  preparedOf,
  releaseCertificate,
  republishCertificates,
  submitApproval,
} from './certificates.js';
import {
  cancelCeremony,
  ceremonyOf,
  dkgStatus,
  expireCeremonies,
  groupOf,
  groupProblem,
  openFleetCaCeremony,
  openRoleKeyCeremony,
  purposeOf,
  recordIdentity,
  refuseCeremony,
  resumeCeremonies,
  submitDkgConfirm,
  submitDkgRound1,
  submitDkgRound2,
  type DkgEvent,
} from './frost.js';
import { FrostSigning, type SignEvent } from './frost-signing.js';
import {
  checkOtaTargets,
  proposeRoot,
  proposeTargets,
  RootChangeSchema,
  TargetsChangeSchema,
  type TargetsChange,
} from './proposals.js';
import { republishLatest, tryRelease } from './release.js';
import {
  cancelRound,
  enrollKeyholder,
  expireRounds,
  keyholderKey,
  listRounds,
  openRound,
  repoState,
  roundSummary,
  submitSignature,
} from './rounds.js';
import { AuthGuard, GuardError, SlowReaders } from './guard.js';
import { Store, verifyAuditChain, type CertRoundRow, type KeyholderRow, type RoundRow } from './store.js';
import { z } from 'zod';

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
}

export interface RunningServer {
  url: string;
  wsUrl: string;
  port: number;
  close(): Promise<void>;
}

export const DATA_FILES = {
  db: 'quorum.db',
  adminToken: 'admin.token',
  onlineKey: 'online-key.pem',
  serverInfo: 'server.json',
  tlsCert: path.join('tls', 'cert.pem'),
  tlsKey: path.join('tls', 'key.pem'),
} as const;

interface Conn {
  ws: WebSocket;
  keyholder: KeyholderRow;
  alive: boolean;
  tokens: number;
  last: number;
  /** Requests received while the socket was paused for not reading its replies, handled on resume. */
  held: ClientMessage[];
}

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

export function hashToken(token: string): string {
  return crypto.createHash('sha256').update(token).digest('hex');
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
  const store = new Store(dbFile);
  const serverId = store.getMeta('server_id')!;
  const dialect = store.dialect();
  const adminHash = store.getMeta('admin_token_sha256')!;
  const onlineKeyFile = path.join(dataDir, DATA_FILES.onlineKey);
  const onlineKey: KeyObject | null = fs.existsSync(onlineKeyFile)
    ? crypto.createPrivateKey(fs.readFileSync(onlineKeyFile))
    : null;
  const onlinePublic = onlineKey ? publicKeyFrom(onlineKey) : null;
  const limits = {
    heartbeatMs: opts.heartbeatMs ?? WIRE_LIMITS.heartbeatMs,
    ratePerSecond: opts.ratePerSecond ?? WIRE_LIMITS.ratePerSecond,
    rateBurst: opts.rateBurst ?? WIRE_LIMITS.rateBurst,
    maxConnectionsPerKeyholder: opts.maxConnectionsPerKeyholder ?? WIRE_LIMITS.maxConnectionsPerKeyholder,
    failedAuthPerMinute: opts.failedAuthPerMinute ?? WIRE_LIMITS.failedAuthPerMinute,
  };

  // One state-changing operation at a time (releases await signing in between).
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => T | Promise<T>): Promise<T> => {
    const p = queue.then(fn);
    queue = p.catch(() => undefined);
    return p;
  };

  const conns = new Set<Conn>();
  const slowReaders = new SlowReaders(
    {
      sendBufferPauseBytes: WIRE_LIMITS.sendBufferPauseBytes,
      sendBufferMaxBytes: WIRE_LIMITS.sendBufferMaxBytes,
      slowReaderMs: opts.slowReaderMs ?? Number(process.env.QUORUM_SLOW_READER_MS ?? WIRE_LIMITS.slowReaderMs),
    },
    (ws, why) => {
      const c = [...conns].find((x) => x.ws === ws);
      if (c) conns.delete(c);
      log(`dropped a connection of ${c?.keyholder.name ?? 'a keyholder'}: ${why}`);
    },
    (ws) => {
      const c = [...conns].find((x) => x.ws === ws);
      while (c && c.held.length && !slowReaders.isPaused(ws)) void onMessage(c, c.held.shift()!);
    },
  );
  const send = (ws: WebSocket, msg: ServerMessage) => {
    if (ws.readyState !== ws.OPEN) return;
    ws.send(JSON.stringify(msg));
    slowReaders.sent(ws);
  };
  const broadcast = (msg: ServerMessage) => {
    for (const c of conns) send(c.ws, msg);
  };
  const info = (r: RoundRow): RoundInfo => roundSummary(store, r);
  const certInfo = (r: CertRoundRow): CertRoundInfo => certRoundInfo(store, r);

  /** Release the round if complete; true when it was released now. */
  const release = async (roundId: string): Promise<boolean> => {
    try {
      const res = await tryRelease(store, dataDir, onlineKey, roundId);
      if (!res) return false;
      const r = store.round(roundId)!;
      log(`released ${roundId}${r.linked_round ? ` with ${r.linked_round}` : ''} as release ${res.seq}`);
      broadcast({ type: 'round.updated', round: info(r) });
      if (r.linked_round) broadcast({ type: 'round.updated', round: info(store.round(r.linked_round)!) });
      return true;
    } catch (e) {
      log(`release of ${roundId} refused: ${(e as Error).message}`);
      return false;
    }
  };

  const frostSigning = new FrostSigning(
    store,
    dataDir,
    opts.frostSignTimeoutMs ?? Number(process.env.QUORUM_FROST_SIGN_TIMEOUT_MS ?? 60_000),
  );
  const emitSign = (ev: SignEvent) => {
    if (ev.log) log(ev.log);
    for (const { to, msg } of ev.send ?? []) for (const c of conns) if (c.keyholder.name === to) send(c.ws, msg);
    if (ev.released) broadcast({ type: 'cert.updated', round: certInfo(ev.released.round) });
  };

  /** Tell a ceremony's connected participants what happened (each gets its own message). */
  const emitDkg = (id: string, ev: DkgEvent) => {
    if (ev.log) log(ev.log);
    if (ev.toParticipants) {
      const ceremony = ceremonyOf(store.frostCeremony(id)!);
      for (const p of ceremony.participants) {
        const msg = ev.toParticipants(p);
        if (msg) for (const c of conns) if (c.keyholder.name === p.name) send(c.ws, msg);
      }
    }
    if (ev.certRound) broadcast({ type: 'cert.opened', round: certInfo(ev.certRound) });
  };

  // Crash recovery: publish the latest release, expire overdue rounds, release complete ones,
  // and finish DKG ceremonies whose last confirmation was stored just before a crash.
  republishLatest(store, dataDir);
  republishCertificates(store, dataDir);
  await serial(async () => {
    expireRounds(store);
    expireCertRounds(store);
    for (const r of store.rounds('open')) await release(r.id);
    for (const ev of await resumeCeremonies(store)) if (ev.log) log(ev.log);
    for (const { ev } of expireCeremonies(store)) if (ev.log) log(ev.log);
  });

  // --- authentication: challenges, throttling and the audit of failures (guard.ts) ---
  const guard = new AuthGuard(store, {
    maxChallengesPerSource: WIRE_LIMITS.maxChallengesPerSource,
    maxPendingChallenges: WIRE_LIMITS.maxPendingChallenges,
    challengeTtlMs: WIRE_LIMITS.challengeTtlMs,
    failedAuthPerMinute: limits.failedAuthPerMinute,
    authAuditIntervalMs:
      opts.authAuditIntervalMs ?? Number(process.env.QUORUM_AUTH_AUDIT_MS ?? WIRE_LIMITS.authAuditIntervalMs),
    maxSources: WIRE_LIMITS.maxTrackedSources,
  });

  function authenticate(req: http.IncomingMessage): KeyholderRow {
    const fp = String(req.headers['x-quorum-key'] ?? '');
    const nonce = String(req.headers['x-quorum-nonce'] ?? '');
    const sig = String(req.headers['x-quorum-signature'] ?? '');
    guard.checkThrottle(req.socket.remoteAddress);
    if (!guard.spend(nonce))
      throw new QuorumError('AUTH_CHALLENGE', 'unknown or expired challenge; fetch a new one from /v1/challenge');
    const k = store.keyholderByFingerprint(fp);
    if (!k)
      throw new QuorumError(
        'AUTH_NOT_ENROLLED',
        `key ${fp.slice(0, 16)}… is not an enrolled keyholder; ask the release coordinator to enroll your public key`,
      );
    if (
      !verifySignature(keyholderKey(k), authMessage(serverId, nonce, fp, tlsFingerprint), Buffer.from(sig, 'base64'))
    ) {
      throw new QuorumError(
        'AUTH_SIGNATURE',
        'the challenge signature does not verify with your enrolled key for this coordinator (server ' +
          `${serverId}, TLS certificate ${tlsFingerprint ?? 'none'}); if you joined another address, join this ` +
          'one',
      );
    }
    return k;
  }

  // --- admin HTTP API ---
  const adminOk = (req: http.IncomingMessage) => {
    const h = String(req.headers.authorization ?? '');
    const m = /^Bearer (.+)$/.exec(h);
    return !!m && crypto.timingSafeEqual(Buffer.from(hashToken(m[1]!), 'hex'), Buffer.from(adminHash, 'hex'));
  };

  const readBody = (req: http.IncomingMessage): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > WIRE_LIMITS.adminBodyBytes) {
          reject(new QuorumError('BODY_TOO_LARGE', `request body above ${WIRE_LIMITS.adminBodyBytes} bytes`));
          req.destroy();
        } else chunks.push(c);
      });
      req.on('end', () => {
        if (size === 0) return resolve({});
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch {
          reject(new QuorumError('BODY_INVALID_JSON', 'request body is not JSON'));
        }
      });
      req.on('error', reject);
    });

  const parse = <T>(schema: z.ZodType<T>, body: unknown): T => {
    const r = schema.safeParse(body);
    if (!r.success)
      throw new QuorumError(
        'BODY_INVALID',
        r.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; '),
      );
    return r.data;
  };

  const OpenSchema = z.strictObject({
    role: z.enum(['root', 'targets']),
    reason: z.string().min(1).max(2000),
    deadline: z.string().optional(),
    baseVersion: z.number().int().min(0).optional(),
    targets: TargetsChangeSchema.optional(),
    root: RootChangeSchema.optional(),
    resignTargets: z.boolean().optional(),
    signed: z.record(z.string(), z.unknown()).optional(),
  });

  const certCommon = {
    reason: z.string().min(1).max(2000),
    deadline: z.string().optional(),
    validityDays: z.number().positive().max(100_000).optional(),
  };
  const FleetCaSchema = z.strictObject({
    name: z.string(),
    holder: z.string(),
    fleetName: z.string(),
    approvers: z.array(z.string()).max(100),
    approvals: z.number().int(),
    ...certCommon,
  });
  const FrostFleetCaSchema = z.strictObject({
    name: z.string(),
    fleetName: z.string().max(200),
    threshold: z.number().int(),
    participants: z.array(z.string()).min(2).max(64),
    ...certCommon,
  });
  const FrostGroupSchema = z.strictObject({
    name: z.string(),
    threshold: z.number().int(),
    participants: z.array(z.string()).min(2).max(64),
    reason: z.string().max(2000),
    deadline: z.string().optional(),
  });
  const IssueSchema = z.strictObject({
    ca: z.string(),
    profile: z.enum(CERT_PROFILES),
    csr: z.string().max(64 * 1024), // base64 of the PEM or DER file; x509.ts limits the CSR itself
    deviceId: z.string().optional(),
    newCa: z
      .strictObject({
        name: z.string(),
        holder: z.string(),
        approvers: z.array(z.string()).max(100).optional(),
        approvals: z.number().int().optional(),
      })
      .optional(),
    ...certCommon,
  });
  const deadlineOf = (d: string | undefined): Date | undefined => {
    if (d === undefined) return undefined;
    const t = new Date(d);
    if (Number.isNaN(t.getTime())) throw new QuorumError('BODY_INVALID', `deadline ${JSON.stringify(d)} is not a time`);
    return t;
  };

  /** ?state=&limit=&before= of a listing. */
  const pageOf = (query: URLSearchParams): { state?: RoundState; limit?: number; before?: string } => {
    const state = query.get('state') ?? undefined;
    if (state !== undefined && !(ROUND_STATES as readonly string[]).includes(state))
      throw new QuorumError('BODY_INVALID', `state must be one of ${ROUND_STATES.join(', ')}`);
    const limit = query.has('limit') ? Number(query.get('limit')) : undefined;
    if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1 && limit <= WIRE_LIMITS.pageMax))
      throw new QuorumError('BODY_INVALID', `limit must be 1-${WIRE_LIMITS.pageMax}`);
    return { state: state as RoundState | undefined, limit, before: query.get('before') ?? undefined };
  };

  async function admin(method: string, parts: string[], body: unknown, query: URLSearchParams): Promise<unknown> {
    const [what, id, sub] = parts;
    if (what === 'status' && method === 'GET') {
      const st = repoState(store);
      return {
        serverId,
        dialect: st.dialect,
        rootVersion: st.root ? st.root.signed.version : null,
        targetsVersion: st.targets ? st.targets.signed.version : null,
        /** What the next targets round follows (the released version, or an OTA Connect server's). */
        targetsBase: st.targetsBase,
        openRounds: store.rounds('open').map(info),
        keyholders: store.keyholders().map((k) => ({
          name: k.name,
          fingerprint: k.fingerprint,
          algorithm: k.algorithm,
          connected: [...conns].some((c) => c.keyholder.name === k.name),
        })),
        release: store.latestRelease() ?? null,
      };
    }
    if (what === 'keyholders') {
      if (method === 'GET')
        return store.keyholders().map((k) => ({
          name: k.name,
          fingerprint: k.fingerprint,
          algorithm: k.algorithm,
          enrolledAt: k.enrolled_at,
        }));
      if (method === 'POST' && !id) {
        const b = parse(z.strictObject({ name: z.string(), publicKey: z.string() }), body);
        return serial(() => {
          const k = enrollKeyholder(store, b.name, b.publicKey);
          return { name: k.name, fingerprint: k.fingerprint, algorithm: k.algorithm };
        });
      }
      if (method === 'POST' && id && sub === 'identity') {
        const b = parse(z.strictObject({ identityKey: z.string().max(200) }), body);
        return serial(() => recordIdentity(store, id, b.identityKey));
      }
      if (method === 'DELETE' && id) {
        return serial(() => {
          if (!store.removeKeyholder(id, new Date().toISOString()))
            throw new QuorumError('KEYHOLDER_UNKNOWN', `no enrolled keyholder ${id}`);
          store.audit('keyholder.removed', { name: id });
          for (const c of conns)
            if (c.keyholder.name === id) c.ws.close(CLOSE_CODES.keyholderRemoved, 'keyholder removed');
          return { removed: id };
        });
      }
    }
    if (what === 'rounds') {
      // The newest page, oldest first (a JSON array, as before pages); older pages with ?before=ID.
      if (method === 'GET' && !id) return listRounds(store, pageOf(query)).rounds;
      if (method === 'GET' && id && !sub) {
        const r = store.round(id);
        if (!r) throw new QuorumError('ROUND_NOT_FOUND', `no round ${id}`);
        return { round: info(r), signed: r.signed_json };
      }
      if (method === 'GET' && id && sub === 'export') {
        const r = store.round(id);
        if (!r) throw new QuorumError('ROUND_NOT_FOUND', `no round ${id}`);
        return exportBundle(r);
      }
      if (method === 'POST' && !id) {
        const b = parse(OpenSchema, body);
        return serial(async () => {
          const st = repoState(store);
          let signed: Record<string, unknown>;
          // zod's copies drop a `__proto__` key; the body as parsed (and validated) keeps it as data.
          const raw = body as { signed?: Record<string, unknown>; targets?: { add?: TargetsChange['add'] } };
          if (b.signed) signed = raw.signed!;
          else if (b.role === 'targets') signed = proposeTargets(st, { ...b.targets, add: raw.targets?.add });
          else signed = proposeRoot(store, st, b.root ?? {}, onlinePublic ?? undefined);
          if (b.role === 'targets') checkOtaTargets(store, st, signed);
          const deadline = b.deadline ? new Date(b.deadline) : new Date(Date.now() + 7 * 86_400_000);
          if (Number.isNaN(deadline.getTime()))
            throw new QuorumError('BODY_INVALID', `deadline ${JSON.stringify(b.deadline)} is not a time`);
          const r = openRound(store, {
            role: b.role,
            reason: b.reason,
            deadline,
            signed,
            baseVersion: b.baseVersion,
            online: onlinePublic ?? undefined,
            resignTargets: b.resignTargets,
          });
          const ri = info(r);
          log(`opened ${r.id}${r.linked_round ? ` with ${r.linked_round}` : ''}: ${b.reason}`);
          broadcast({ type: 'round.opened', round: ri });
          if (r.linked_round) broadcast({ type: 'round.opened', round: info(store.round(r.linked_round)!) });
          return { round: ri, signed: r.signed_json };
        });
      }
      if (method === 'POST' && id && sub === 'cancel') {
        const b = parse(z.strictObject({ reason: z.string().min(1) }), body);
        return serial(() => {
          const r = cancelRound(store, id, b.reason);
          broadcast({ type: 'round.updated', round: info(r) });
          return { round: info(r) };
        });
      }
      if (method === 'POST' && id && sub === 'signatures') {
        const b = parse(z.strictObject({ keyid: z.string(), sig: z.string(), sha256: z.string() }), body);
        return serial(async () => {
          submitSignature(store, { round: id, ...b });
          broadcast({ type: 'round.updated', round: info(store.round(id)!) });
          await release(id);
          return { round: info(store.round(id)!) };
        });
      }
    }
    if (what === 'cas') {
      if (method === 'GET' && !id) {
        return store.cas().map((c) => ({
          name: c.name,
          kind: c.kind,
          holder: c.holder,
          fingerprint: c.issuer_fingerprint,
          algorithm: c.algorithm,
          approvers: approversOf(c),
          approvals: c.approvals_threshold,
          issued: c.chain_pem !== null,
          createdAt: c.created_at,
          ...(c.retired_at ? { retiredFrom: c.retired_from, retiredAt: c.retired_at } : {}),
        }));
      }
      if (method === 'POST' && !id) {
        const b = parse(FleetCaSchema, body);
        return serial(async () => {
          const r = await createFleetCa(store, { ...b, deadline: deadlineOf(b.deadline) });
          log(`opened certificate round ${r.id}: fleet root CA ${b.name} held by ${b.holder}: ${b.reason}`);
          broadcast({ type: 'cert.opened', round: certInfo(r) });
          return certRoundView(store, r);
        });
      }
    }
    if (what === 'cas' && method === 'POST' && id === 'frost' && !sub) {
      const b = parse(FrostFleetCaSchema, body);
      return serial(() => {
        const r = openFleetCaCeremony(store, { ...b, deadline: deadlineOf(b.deadline) });
        const ceremony = ceremonyOf(r);
        log(
          `opened DKG ceremony ${r.id} for FROST fleet root CA ${b.name} (${ceremony.threshold} of ` +
            `${ceremony.participants.map((p) => p.name).join(', ')}): ${b.reason}`,
        );
        emitDkg(r.id, { toParticipants: () => ({ type: 'frost.dkg.open', ceremony }) });
        return dkgStatus(store, r.id, null);
      });
    }
    if (what === 'frost' && id === 'groups' && !sub) {
      if (method === 'GET') {
        return store.frostCeremonies().map((r) => {
          const { name, kind } = purposeOf(r);
          const { threshold, participants } = ceremonyOf(r);
          const problem = r.state === 'done' ? groupProblem(store, r) : null;
          return {
            ceremony: r.id,
            name,
            kind,
            state: r.state,
            groupPublicKey: groupOf(r)?.groupPublicKey ?? null,
            threshold,
            participants: participants.map((p) => p.name),
            failure: r.failure,
            transcript: r.transcript_digest,
            ...(problem ? { refused: problem } : {}),
          };
        });
      }
      if (method === 'POST') {
        const b = parse(FrostGroupSchema, body);
        return serial(() => {
          const r = openRoleKeyCeremony(store, { ...b, deadline: deadlineOf(b.deadline) });
          const ceremony = ceremonyOf(r);
          log(
            `opened DKG ceremony ${r.id} for FROST group ${b.name} (${ceremony.threshold} of ` +
              `${ceremony.participants.map((p) => p.name).join(', ')}): ${b.reason}`,
          );
          emitDkg(r.id, { toParticipants: () => ({ type: 'frost.dkg.open', ceremony }) });
          return dkgStatus(store, r.id, null);
        });
      }
    }
    if (what === 'frost' && id === 'ceremonies' && sub && parts[3] === 'cancel' && method === 'POST') {
      const b = parse(z.strictObject({ reason: z.string().min(1).max(2000) }), body);
      return serial(() => {
        const ev = cancelCeremony(store, sub, b.reason);
        emitDkg(sub, ev);
        return dkgStatus(store, sub, null);
      });
    }
    if (what === 'frost' && id === 'ceremonies' && method === 'GET') {
      if (!sub)
        return store.frostCeremonies().map((r) => ({
          id: r.id,
          state: r.state,
          createdAt: r.created_at,
          groupPublicKey: r.group_json ? (JSON.parse(r.group_json) as { groupPublicKey: string }).groupPublicKey : null,
          failure: r.failure,
        }));
      return dkgStatus(store, sub, null);
    }
    if (what === 'certs') {
      if (method === 'GET' && !id) return listCertRounds(store, pageOf(query)).rounds;
      const r = id ? store.certRound(id) : undefined;
      if (id && !r) throw new QuorumError('ROUND_NOT_FOUND', `no certificate round ${id}`);
      if (method === 'GET' && r && !sub) return certRoundView(store, r);
      if (method === 'POST' && !id) {
        const b = parse(IssueSchema, body);
        return serial(async () => {
          const csrBytes = Buffer.from(b.csr, 'base64');
          const csr = csrBytes.subarray(0, 32).toString('latin1').includes('-----BEGIN')
            ? csrBytes.toString('utf8')
            : csrBytes;
          const r = await openCertRound(store, { ...b, csr, deadline: deadlineOf(b.deadline) });
          log(`opened certificate round ${r.id}: ${b.profile} from CA ${b.ca}: ${b.reason}`);
          broadcast({ type: 'cert.opened', round: certInfo(r) });
          return certRoundView(store, r);
        });
      }
      if (method === 'POST' && r && sub === 'cancel') {
        const b = parse(z.strictObject({ reason: z.string().min(1) }), body);
        return serial(() => {
          const c = cancelCertRound(store, r.id, b.reason);
          broadcast({ type: 'cert.updated', round: certInfo(c) });
          return certRoundView(store, c);
        });
      }
    }
    if (what === 'audit' && method === 'GET' && id === 'verify') {
      const rows = store.auditRows();
      const broken = verifyAuditChain(rows);
      return { ok: !broken, events: rows.length, broken };
    }
    throw new QuorumError('NOT_FOUND', `no admin endpoint ${method} /v1/admin/${parts.join('/')}`);
  }

  /** A round's payload, with the proposed root a linked targets round is signed under. */
  function payloadOf(r: RoundRow): {
    round: RoundInfo;
    signed: string;
    linkedRoot?: { round: RoundInfo; signed: string };
  } {
    const linked = r.role === 'targets' && r.linked_round ? store.round(r.linked_round) : undefined;
    return {
      round: info(r),
      signed: r.signed_json,
      ...(linked ? { linkedRoot: { round: info(linked), signed: linked.signed_json } } : {}),
    };
  }

  /** Everything an air-gapped signer needs: the round, its payload, the released roots and targets. */
  function exportBundle(r: RoundRow) {
    const st = repoState(store);
    return { format: 'uptane-quorum-round-v1', serverId, dialect: st.dialect, ...payloadOf(r), ...released(0) };
  }

  function released(afterRootVersion: number): { roots: { version: number; file: string }[]; targets: string | null } {
    const st = repoState(store);
    const roots: { version: number; file: string }[] = [];
    for (const [name, bytes] of Object.entries(st.files)) {
      const m = /^(\d+)\.root\.json$/.exec(name);
      if (m && Number(m[1]) > afterRootVersion) roots.push({ version: Number(m[1]), file: bytes.toString('utf8') });
    }
    roots.sort((a, b) => a.version - b.version);
    return { roots, targets: st.files['targets.json']?.toString('utf8') ?? null };
  }

  const handler = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    try {
      if (url.pathname === '/v1/health') return reply(200, { ok: true, serverId, dialect });
      if (url.pathname === '/v1/challenge' && req.method === 'GET')
        return reply(200, { serverId, nonce: guard.challenge(req.socket.remoteAddress) });
      if (url.pathname.startsWith('/v1/admin/')) {
        if (!adminOk(req)) {
          // A right credential always passes; a wrong one counts, and past the limit is throttled.
          try {
            guard.checkThrottle(req.socket.remoteAddress);
          } finally {
            guard.failed(req.socket.remoteAddress, 'admin', 'ADMIN_UNAUTHORIZED');
          }
          throw new QuorumError(
            'ADMIN_UNAUTHORIZED',
            'missing or wrong admin credential; use the token in the data dir (admin.token) or QUORUM_ADMIN_TOKEN',
          );
        }
        const body = req.method === 'POST' ? await readBody(req) : {};
        return reply(
          200,
          await admin(
            req.method ?? 'GET',
            url.pathname.slice('/v1/admin/'.length).split('/').filter(Boolean).map(decodeURIComponent),
            body,
            url.searchParams,
          ),
        );
      }
      throw new QuorumError('NOT_FOUND', `no endpoint ${url.pathname}`);
    } catch (e) {
      if (e instanceof QuorumError)
        return reply(
          httpStatus(e.code),
          { error: { code: e.code, message: e.message } },
          e instanceof GuardError ? { 'retry-after': String(e.retryAfterS) } : {},
        );
      log(`internal error: ${(e as Error).stack}`);
      return reply(500, { error: { code: 'INTERNAL', message: (e as Error).message } });
    }
  };

  const server = tlsCertPem
    ? https.createServer({ cert: tlsCertPem, key: fs.readFileSync(tlsKey) }, handler)
    : http.createServer(handler);
  // Messages are handled one event-loop turn each (not a whole TCP chunk's worth at once), so a
  // burst from one socket cannot hold up the others or /v1/health.
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: WIRE_LIMITS.serverMaxPayload,
    allowSynchronousEvents: false,
  });

  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const refuse = (status: number, code: Code, message: string, retryAfterS?: number) => {
      socket.end(
        `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\ncontent-type: application/json\r\n${retryAfterS ? `retry-after: ${retryAfterS}\r\n` : ''}connection: ` +
          `close\r\n\r\n${JSON.stringify({ error: { code, message } })}`,
      );
    };
    if (url.pathname !== '/v1/ws') return refuse(httpStatus('NOT_FOUND'), 'NOT_FOUND', 'the signer endpoint is /v1/ws');
    let keyholder: KeyholderRow;
    try {
      keyholder = authenticate(req);
    } catch (e) {
      if (!(e instanceof QuorumError)) throw e;
      guard.failed(req.socket.remoteAddress, 'signer', e.code, String(req.headers['x-quorum-key'] ?? '').slice(0, 64));
      return refuse(httpStatus(e.code), e.code, e.message, e instanceof GuardError ? e.retryAfterS : undefined);
    }
    const held = [...conns].filter((c) => c.keyholder.name === keyholder.name).length;
    if (held >= limits.maxConnectionsPerKeyholder) {
      log(`refused a connection of ${keyholder.name}: ${held} open already`);
      return refuse(
        httpStatus('TOO_MANY_CONNECTIONS'),
        'TOO_MANY_CONNECTIONS',
        `${keyholder.name} already has ${held} connections open (at most ${limits.maxConnectionsPerKeyholder}); ` +
          'close one (another quorum-signer watch or sign?) and try again',
        5,
      );
    }
    // Synchronous (no verifyClient): the connection is counted before the next upgrade is looked at.
    wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, keyholder));
  });

  function onConnection(ws: WebSocket, keyholder: KeyholderRow) {
    const c: Conn = { ws, keyholder, alive: true, tokens: limits.rateBurst, last: Date.now(), held: [] };
    conns.add(c);
    ws.on('pong', () => (c.alive = true));
    ws.on('close', () => conns.delete(c));
    ws.on('error', () => conns.delete(c));
    send(ws, { type: 'hello', version: WIRE_VERSION, serverId, keyholder: keyholder.name, dialect });
    ws.on('message', (data, isBinary) => {
      const now = Date.now();
      c.tokens = Math.min(limits.rateBurst, c.tokens + ((now - c.last) / 1000) * limits.ratePerSecond);
      c.last = now;
      if (c.tokens < 1) {
        send(ws, {
          type: 'error',
          code: 'RATE_LIMITED',
          message: `more than ${limits.ratePerSecond} messages per second; reconnect after a pause`,
          fatal: isFatal('RATE_LIMITED'),
        });
        ws.close(FATAL.RATE_LIMITED, 'rate limited');
        return;
      }
      c.tokens -= 1;
      let json: unknown;
      try {
        if (isBinary) throw new Error('binary');
        json = JSON.parse(data.toString());
      } catch {
        return send(ws, {
          type: 'error',
          code: 'MESSAGE_INVALID_JSON',
          message: 'messages are JSON text frames',
          fatal: false,
        });
      }
      const parsed = ClientMessageSchema.safeParse(json);
      if (!parsed.success) {
        const ref =
          typeof (json as { ref?: unknown })?.ref === 'string' ? (json as { ref: string }).ref.slice(0, 64) : undefined;
        return send(ws, {
          type: 'error',
          ref,
          code: 'MESSAGE_INVALID',
          message: parsed.error.issues
            .slice(0, 3)
            .map((i) => `${i.path.join('.') || '(message)'}: ${i.message}`)
            .join('; '),
          fatal: false,
        });
      }
      // Its replies are not being read: what had already arrived waits (bounded by the rate limit).
      if (slowReaders.isPaused(ws)) return void c.held.push(parsed.data);
      void onMessage(c, parsed.data);
    });
  }

  async function onMessage(c: Conn, m: ClientMessage) {
    const ref = m.ref;
    try {
      switch (m.type) {
        case 'ping':
          return send(c.ws, { type: 'pong', ref });
        case 'rounds.list': {
          const page = listRounds(store, { state: m.state, before: m.before, limit: m.limit });
          return send(c.ws, { type: 'rounds', ref, rounds: page.rounds, ...(page.next ? { next: page.next } : {}) });
        }
        case 'round.get': {
          const r = store.round(m.round);
          if (!r)
            return send(c.ws, {
              type: 'error',
              ref,
              code: 'ROUND_NOT_FOUND',
              message: `no round ${m.round}`,
              fatal: false,
            });
          return send(c.ws, { type: 'round.payload', ref, ...payloadOf(r) });
        }
        case 'released.get':
          return send(c.ws, { type: 'released', ref, ...released(m.afterRootVersion) });
        case 'signature.submit':
          await serial(async () => {
            // Stored and committed first; the acknowledgement follows the release attempt so the
            // last signer learns at once whether the round was released.
            const r = submitSignature(store, {
              round: m.round,
              keyid: m.keyid,
              sig: m.sig,
              sha256: m.sha256,
              keyholder: c.keyholder,
            });
            const released = await release(r.id);
            const ri = info(store.round(r.id)!);
            send(c.ws, { type: 'signature.accepted', ref, round: ri });
            if (!released) for (const o of conns) if (o !== c) send(o.ws, { type: 'round.updated', round: ri });
          });
          return;
        case 'certs.list': {
          const page = listCertRounds(store, { state: m.state, before: m.before, limit: m.limit });
          return send(c.ws, { type: 'certs', ref, rounds: page.rounds, ...(page.next ? { next: page.next } : {}) });
        }
        case 'cert.get': {
          const r = store.certRound(m.round);
          if (!r)
            return send(c.ws, {
              type: 'error',
              ref,
              code: 'ROUND_NOT_FOUND',
              message: `no certificate round ${m.round}`,
              fatal: false,
            });
          const prepared = preparedOf(r);
          const approvals = approvalsOf(store, r).map((a) => ({
            keyholder: a.keyholder,
            publicKey: a.publicKey.toString('base64'),
            sig: a.sig.toString('base64'),
          }));
          return send(c.ws, {
            type: 'cert.payload',
            ref,
            round: certInfo(r),
            tbs: prepared.tbs,
            chain: [...prepared.chain],
            approvals,
          });
        }
        case 'cert.approve':
          await serial(() => {
            const r = submitApproval(store, {
              round: m.round,
              keyholder: c.keyholder,
              tbsSha256: m.tbsSha256,
              sig: Buffer.from(m.sig, 'base64'),
            });
            const ri = certInfo(store.certRound(r.id)!);
            log(
              `certificate round ${r.id}: approved by ${c.keyholder.name} (${ri.approvals.approved.length}/${ri.approvals.threshold})`,
            );
            send(c.ws, { type: 'cert.approved', ref, round: ri });
            for (const o of conns) if (o !== c) send(o.ws, { type: 'cert.updated', round: ri });
          });
          return;
        case 'cert.sign':
          await serial(async () => {
            const { round, issued } = await releaseCertificate(store, dataDir, {
              round: m.round,
              keyholder: c.keyholder,
              tbsSha256: m.tbsSha256,
              sig: Buffer.from(m.sig, 'base64'),
            });
            const ri = certInfo(round);
            log(
              `released certificate round ${round.id}: serial ${issued.serial}, written to ` +
                `releases/certificates/${round.id}.pem`,
            );
            send(c.ws, { type: 'cert.released', ref, round: ri, certificate: issued.fullchain });
            for (const o of conns) if (o !== c) send(o.ws, { type: 'cert.updated', round: ri });
          });
          return;
        case 'frost.dkg.get': {
          const r = store.frostCeremony(m.ceremony);
          const self = r ? ceremonyOf(r).participants.find((p) => p.name === c.keyholder.name) : undefined;
          if (!r)
            return send(c.ws, {
              type: 'error',
              ref,
              code: 'CEREMONY_NOT_FOUND',
              message: `no DKG ceremony ${m.ceremony}`,
              fatal: false,
            });
          if (!self)
            return send(c.ws, {
              type: 'error',
              ref,
              code: 'CEREMONY_NOT_PARTICIPANT',
              message: `${c.keyholder.name} is not a participant of ceremony ${m.ceremony}`,
              fatal: false,
            });
          return send(c.ws, { type: 'frost.dkg.status', ref, ...dkgStatus(store, m.ceremony, self.identifier) });
        }
        case 'frost.dkg.round1':
        case 'frost.dkg.round2':
        case 'frost.dkg.confirm':
          await serial(async () => {
            const ev =
              m.type === 'frost.dkg.round1'
                ? submitDkgRound1(store, m.ceremony, c.keyholder, m.package, m.identity)
                : m.type === 'frost.dkg.round2'
                  ? submitDkgRound2(store, m.ceremony, c.keyholder, m.packages)
                  : await submitDkgConfirm(store, m.ceremony, c.keyholder, m.confirm, m.transcript);
            // Stored and committed: acknowledge with the ceremony's state, then tell the others.
            const self = ceremonyOf(store.frostCeremony(m.ceremony)!).participants.find(
              (p) => p.name === c.keyholder.name,
            )!;
            send(c.ws, { type: 'frost.dkg.status', ref, ...dkgStatus(store, m.ceremony, self.identifier) });
            emitDkg(m.ceremony, ev);
          });
          return;
        case 'frost.refuse':
          if (m.ceremony) {
            const ceremony = m.ceremony;
            await serial(() => {
              const ev = refuseCeremony(store, ceremony, c.keyholder, m.code, m.message, m.participants);
              const self = ceremonyOf(store.frostCeremony(ceremony)!).participants.find(
                (p) => p.name === c.keyholder.name,
              )!;
              send(c.ws, { type: 'frost.dkg.status', ref, ...dkgStatus(store, ceremony, self.identifier) });
              emitDkg(ceremony, ev);
            });
            return;
          }
          if (!m.session)
            return send(c.ws, {
              type: 'error',
              ref,
              code: 'SESSION_NOT_FOUND',
              message: 'frost.refuse names neither a ceremony nor a session',
              fatal: false,
            });
          {
            const session = m.session;
            await serial(() => {
              const ev = frostSigning.refuse(session, c.keyholder, m.code, m.message, m.participants);
              send(c.ws, { type: 'frost.sign.status', ref, ...frostSigning.status(frostSigning.baseOf(session)) });
              emitSign(ev);
            });
          }
          return;
        case 'frost.sign.get':
          return send(c.ws, { type: 'frost.sign.status', ref, ...frostSigning.status(m.session) });
        case 'frost.sign.commitment':
          await serial(() => {
            const ev = frostSigning.commit(m.session, c.keyholder, m.commitment);
            send(c.ws, { type: 'frost.sign.status', ref, ...frostSigning.status(m.session) });
            emitSign(ev);
          });
          return;
        case 'frost.sign.share':
          await serial(async () => {
            const base = frostSigning.baseOf(m.session);
            const ev = await frostSigning.share(m.session, c.keyholder, m.share);
            emitSign(ev);
            if (ev.error)
              return send(c.ws, {
                type: 'error',
                ref,
                code: ev.error.code,
                message: ev.error.message,
                fatal: isFatal(ev.error.code),
              });
            // A metadata round with the group's signature stored: release it if every threshold is met.
            if (ev.roundSigned && !(await release(ev.roundSigned)))
              broadcast({ type: 'round.updated', round: info(store.round(ev.roundSigned)!) });
            send(c.ws, { type: 'frost.sign.status', ref, ...frostSigning.status(base) });
          });
          return;
      }
    } catch (e) {
      if (e instanceof QuorumError)
        return send(c.ws, { type: 'error', ref, code: e.code, message: e.message, fatal: isFatal(e.code) });
      log(`internal error: ${(e as Error).stack}`);
      return send(c.ws, { type: 'error', ref, code: 'INTERNAL', message: 'internal error', fatal: false });
    }
  }

  const heartbeat = setInterval(() => {
    for (const c of conns) {
      if (!c.alive) {
        // Say why when the peer can still hear it; a dead peer is cut off a moment later.
        conns.delete(c);
        c.ws.close(CLOSE_CODES.heartbeatTimeout, 'heartbeat missed');
        setTimeout(() => c.ws.terminate(), 1000).unref();
        continue;
      }
      c.alive = false;
      c.ws.ping();
    }
  }, limits.heartbeatMs);
  const expiry = setInterval(() => {
    void serial(() => {
      for (const r of expireRounds(store)) {
        log(`round ${r.id} expired at its deadline ${r.deadline}`);
        broadcast({ type: 'round.updated', round: info(r) });
      }
      for (const r of expireCertRounds(store)) {
        log(`certificate round ${r.id} expired at its deadline ${r.deadline}`);
        broadcast({ type: 'cert.updated', round: certInfo(r) });
      }
      for (const ev of frostSigning.tick()) emitSign(ev);
      for (const { id, ev } of expireCeremonies(store)) emitDkg(id, ev);
    });
  }, opts.expiryCheckMs ?? 1000);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 7300, bind.address, () => resolve());
  });
  const addr = server.address() as { port: number; address: string };
  try {
    refusePlaintext(addr.address);
  } catch (e) {
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
    `quorum coordinator ${serverId} (${dialect}) listening on ${url}, signers connect to ${wsUrl}${tlsFingerprint ? `, TLS fingerprint ${tlsFingerprint}` : ''}`,
  );

  return {
    url,
    wsUrl,
    port: addr.port,
    close: async () => {
      clearInterval(heartbeat);
      clearInterval(expiry);
      for (const c of conns) c.ws.close(CLOSE_CODES.goingAway, 'server shutting down');
      await new Promise<void>((r) => server.close(() => r()));
      wss.close();
      slowReaders.close();
      await queue.catch(() => undefined);
      guard.close(); // the failures counted since the last audit row
      store.close();
    },
  };
}
