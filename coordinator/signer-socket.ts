/**
 * The signer endpoint, /v1/ws. A keyholder is authenticated before the upgrade (auth.ts) and
 * holds at most maxConnectionsPerKeyholder connections; a refusal is an HTTP answer with the
 * error's code. Each message is rate limited per connection, parsed against the wire schema
 * (protocol/wire.ts) and handled by type; messages that change state run in the context's queue
 * and are acknowledged once stored, after which the other signers are told.
 */
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { httpStatus, isFatal, type Code } from '../protocol/codes.js';
import { QuorumError } from '../protocol/errors.js';
import { WIRE_LIMITS } from '../protocol/limits.js';
import { ClientMessageSchema, FATAL, WIRE_VERSION, type ClientMessage } from '../protocol/wire.js';
import type { Authenticator } from './auth.js';
import { approvalsOf, listCertRounds, preparedOf, releaseCertificate, submitApproval } from './certificates.js';
import type { Conn, Connections } from './connections.js';
import type { ServerContext } from './context.js';
import { ceremonyOf, dkgStatus, refuseCeremony, submitDkgConfirm, submitDkgRound1, submitDkgRound2 } from './frost.js';
import { GuardError } from './guard.js';
import { listRounds, submitSignature } from './rounds.js';
import type { KeyholderRow } from './store.js';

export interface SocketLimits {
  ratePerSecond: number;
  rateBurst: number;
  maxConnectionsPerKeyholder: number;
}

export class SignerSocket {
  // Messages are handled one event-loop turn each (not a whole TCP chunk's worth at once), so a
  // burst from one socket cannot hold up the others or /v1/health.
  private readonly wss = new WebSocketServer({
    noServer: true,
    maxPayload: WIRE_LIMITS.serverMaxPayload,
    allowSynchronousEvents: false,
  });

  constructor(
    private readonly ctx: ServerContext,
    private readonly conns: Connections,
    private readonly auth: Authenticator,
    private readonly limits: SocketLimits,
  ) {}

  /** The HTTP server's `upgrade` event. */
  upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const refuse = (code: Code, message: string, retryAfterS?: number) => {
      const status = httpStatus(code);
      socket.end(
        `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\ncontent-type: application/json\r\n` +
          `${retryAfterS ? `retry-after: ${retryAfterS}\r\n` : ''}connection: close\r\n\r\n` +
          JSON.stringify({ error: { code, message } }),
      );
    };
    if (url.pathname !== '/v1/ws') return refuse('NOT_FOUND', 'the signer endpoint is /v1/ws');
    let keyholder: KeyholderRow;
    try {
      keyholder = this.auth.signer(req);
    } catch (e) {
      if (!(e instanceof QuorumError)) throw e;
      return refuse(e.code, e.message, e instanceof GuardError ? e.retryAfterS : undefined);
    }
    const held = this.conns.count(keyholder.name);
    const max = this.limits.maxConnectionsPerKeyholder;
    if (held >= max) {
      this.ctx.log(`refused a connection of ${keyholder.name}: ${held} open already`);
      return refuse(
        'TOO_MANY_CONNECTIONS',
        `${keyholder.name} already has ${held} connections open (at most ${max}); close one (another ` +
          'quorum-signer watch or sign?) and try again',
        5,
      );
    }
    // Synchronous (no verifyClient): the connection is counted before the next upgrade is looked at.
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, keyholder));
  }

  close(): void {
    this.wss.close();
  }

  private onConnection(ws: WebSocket, keyholder: KeyholderRow): void {
    const { rateBurst, ratePerSecond } = this.limits;
    const c: Conn = {
      ws,
      keyholder,
      alive: true,
      tokens: rateBurst,
      last: Date.now(),
      held: [],
      handle: (m) => void this.onMessage(c, m),
    };
    this.conns.add(c);
    ws.on('pong', () => (c.alive = true));
    const { serverId, dialect } = this.ctx;
    this.conns.send(c, { type: 'hello', version: WIRE_VERSION, serverId, keyholder: keyholder.name, dialect });
    ws.on('message', (data, isBinary) => {
      const now = Date.now();
      c.tokens = Math.min(rateBurst, c.tokens + ((now - c.last) / 1000) * ratePerSecond);
      c.last = now;
      if (c.tokens < 1) {
        this.conns.send(c, {
          type: 'error',
          code: 'RATE_LIMITED',
          message: `more than ${ratePerSecond} messages per second; reconnect after a pause`,
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
        return this.conns.send(c, {
          type: 'error',
          code: 'MESSAGE_INVALID_JSON',
          message: 'messages are JSON text frames',
          fatal: isFatal('MESSAGE_INVALID_JSON'),
        });
      }
      const parsed = ClientMessageSchema.safeParse(json);
      if (!parsed.success) {
        const ref =
          typeof (json as { ref?: unknown })?.ref === 'string' ? (json as { ref: string }).ref.slice(0, 64) : undefined;
        return this.conns.send(c, {
          type: 'error',
          ref,
          code: 'MESSAGE_INVALID',
          message: parsed.error.issues
            .slice(0, 3)
            .map((i) => `${i.path.join('.') || '(message)'}: ${i.message}`)
            .join('; '),
          fatal: isFatal('MESSAGE_INVALID'),
        });
      }
      // Its replies are not being read: what had already arrived waits (bounded by the rate limit).
      if (this.conns.isPaused(c)) return void c.held.push(parsed.data);
      c.handle(parsed.data);
    });
  }

  private async onMessage(c: Conn, m: ClientMessage): Promise<void> {
    const { ctx, conns } = this;
    const { store, frostSigning } = ctx;
    const ref = m.ref;
    const send = conns.send.bind(conns, c);
    const notFound = (code: Code, message: string) => send({ type: 'error', ref, code, message, fatal: isFatal(code) });
    /** This keyholder's identifier in ceremony `id`. */
    const selfIn = (id: string) =>
      ceremonyOf(store.frostCeremony(id)!).participants.find((p) => p.name === c.keyholder.name)!.identifier;
    try {
      switch (m.type) {
        case 'ping':
          return send({ type: 'pong', ref });
        case 'rounds.list': {
          const page = listRounds(store, { state: m.state, before: m.before, limit: m.limit });
          return send({ type: 'rounds', ref, rounds: page.rounds, ...(page.next ? { next: page.next } : {}) });
        }
        case 'round.get': {
          const r = store.round(m.round);
          if (!r) return notFound('ROUND_NOT_FOUND', `no round ${m.round}`);
          return send({ type: 'round.payload', ref, ...ctx.payloadOf(r) });
        }
        case 'released.get':
          return send({ type: 'released', ref, ...ctx.released(m.afterRootVersion) });
        case 'signature.submit':
          return await ctx.serial(async () => {
            // Stored and committed first; the acknowledgement follows the release attempt so the
            // last signer learns at once whether the round was released.
            const r = submitSignature(store, {
              round: m.round,
              keyid: m.keyid,
              sig: m.sig,
              sha256: m.sha256,
              keyholder: c.keyholder,
            });
            const released = await ctx.release(r.id);
            const ri = ctx.roundInfo(store.round(r.id)!);
            send({ type: 'signature.accepted', ref, round: ri });
            if (!released) conns.broadcast({ type: 'round.updated', round: ri }, c);
          });
        case 'certs.list': {
          const page = listCertRounds(store, { state: m.state, before: m.before, limit: m.limit });
          return send({ type: 'certs', ref, rounds: page.rounds, ...(page.next ? { next: page.next } : {}) });
        }
        case 'cert.get': {
          const r = store.certRound(m.round);
          if (!r) return notFound('ROUND_NOT_FOUND', `no certificate round ${m.round}`);
          const prepared = preparedOf(r);
          const approvals = approvalsOf(store, r).map((a) => ({
            keyholder: a.keyholder,
            publicKey: a.publicKey.toString('base64'),
            sig: a.sig.toString('base64'),
          }));
          return send({
            type: 'cert.payload',
            ref,
            round: ctx.certInfo(r),
            tbs: prepared.tbs,
            chain: [...prepared.chain],
            approvals,
          });
        }
        case 'cert.approve':
          return await ctx.serial(() => {
            const r = submitApproval(store, {
              round: m.round,
              keyholder: c.keyholder,
              tbsSha256: m.tbsSha256,
              sig: Buffer.from(m.sig, 'base64'),
            });
            const ri = ctx.certInfo(store.certRound(r.id)!);
            ctx.log(
              `certificate round ${r.id}: approved by ${c.keyholder.name} (${ri.approvals.approved.length}/${ri.approvals.threshold})`,
            );
            send({ type: 'cert.approved', ref, round: ri });
            conns.broadcast({ type: 'cert.updated', round: ri }, c);
          });
        case 'cert.sign':
          return await ctx.serial(async () => {
            const { round, issued } = await releaseCertificate(store, ctx.dataDir, {
              round: m.round,
              keyholder: c.keyholder,
              tbsSha256: m.tbsSha256,
              sig: Buffer.from(m.sig, 'base64'),
            });
            const ri = ctx.certInfo(round);
            ctx.log(
              `released certificate round ${round.id}: serial ${issued.serial}, written to ` +
                `releases/certificates/${round.id}.pem`,
            );
            send({ type: 'cert.released', ref, round: ri, certificate: issued.fullchain });
            conns.broadcast({ type: 'cert.updated', round: ri }, c);
          });
        case 'frost.dkg.get': {
          const r = store.frostCeremony(m.ceremony);
          const self = r ? ceremonyOf(r).participants.find((p) => p.name === c.keyholder.name) : undefined;
          if (!r) return notFound('CEREMONY_NOT_FOUND', `no DKG ceremony ${m.ceremony}`);
          if (!self)
            return notFound(
              'CEREMONY_NOT_PARTICIPANT',
              `${c.keyholder.name} is not a participant of ceremony ${m.ceremony}`,
            );
          return send({ type: 'frost.dkg.status', ref, ...dkgStatus(store, m.ceremony, self.identifier) });
        }
        case 'frost.dkg.round1':
        case 'frost.dkg.round2':
        case 'frost.dkg.confirm':
          return await ctx.serial(async () => {
            const ev =
              m.type === 'frost.dkg.round1'
                ? submitDkgRound1(store, m.ceremony, c.keyholder, m.package, m.identity)
                : m.type === 'frost.dkg.round2'
                  ? submitDkgRound2(store, m.ceremony, c.keyholder, m.packages)
                  : await submitDkgConfirm(store, m.ceremony, c.keyholder, m.confirm, m.transcript);
            // Stored and committed: acknowledge with the ceremony's state, then tell the others.
            send({ type: 'frost.dkg.status', ref, ...dkgStatus(store, m.ceremony, selfIn(m.ceremony)) });
            ctx.announceDkg(m.ceremony, ev);
          });
        case 'frost.refuse': {
          const { ceremony, session } = m;
          if (ceremony)
            return await ctx.serial(() => {
              const ev = refuseCeremony(store, ceremony, c.keyholder, m.code, m.message, m.participants);
              send({ type: 'frost.dkg.status', ref, ...dkgStatus(store, ceremony, selfIn(ceremony)) });
              ctx.announceDkg(ceremony, ev);
            });
          if (!session) return notFound('SESSION_NOT_FOUND', 'frost.refuse names neither a ceremony nor a session');
          return await ctx.serial(() => {
            const ev = frostSigning.refuse(session, c.keyholder, m.code, m.message, m.participants);
            send({ type: 'frost.sign.status', ref, ...frostSigning.status(frostSigning.baseOf(session)) });
            ctx.announceSign(ev);
          });
        }
        case 'frost.sign.get':
          return send({ type: 'frost.sign.status', ref, ...frostSigning.status(m.session) });
        case 'frost.sign.commitment':
          return await ctx.serial(() => {
            const ev = frostSigning.commit(m.session, c.keyholder, m.commitment);
            send({ type: 'frost.sign.status', ref, ...frostSigning.status(m.session) });
            ctx.announceSign(ev);
          });
        case 'frost.sign.share':
          return await ctx.serial(async () => {
            const base = frostSigning.baseOf(m.session);
            const ev = await frostSigning.share(m.session, c.keyholder, m.share);
            ctx.announceSign(ev);
            if (ev.error)
              return send({
                type: 'error',
                ref,
                code: ev.error.code,
                message: ev.error.message,
                fatal: isFatal(ev.error.code),
              });
            // A metadata round with the group's signature stored: release it if every threshold is met.
            if (ev.roundSigned && !(await ctx.release(ev.roundSigned)))
              conns.broadcast({ type: 'round.updated', round: ctx.roundInfo(store.round(ev.roundSigned)!) });
            send({ type: 'frost.sign.status', ref, ...frostSigning.status(base) });
          });
      }
    } catch (e) {
      if (e instanceof QuorumError)
        return send({ type: 'error', ref, code: e.code, message: e.message, fatal: isFatal(e.code) });
      ctx.log(`internal error: ${(e as Error).stack}`);
      return send({ type: 'error', ref, code: 'INTERNAL', message: 'internal error', fatal: false });
    }
  }
}
