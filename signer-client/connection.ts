/**
 * The signer's connection to the coordinator: fetch a challenge, sign it under the
 * authentication domain with the keyholder's Signer, upgrade to WebSocket with that proof, then
 * exchange wire messages (requests carry a `ref` the answer echoes). With `reconnect`, a dropped
 * connection is re-established by itself with exponential backoff and jitter.
 */
import { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import { WIRE_LIMITS } from '../protocol/limits.js';
import type { Signer } from '../protocol/metadata/build.js';
import type { Dialect } from '../protocol/canonical.js';
import { RemoteError } from '../protocol/errors.js';
import {
  checkScheme,
  normaliseFingerprint,
  pinnedTls,
  randomId,
  requestJson,
  TransportError,
  type Pin,
} from '../protocol/transport.js';
import { ServerMessageSchema, authMessage, type ClientMessage, type ServerMessage } from '../protocol/wire.js';

export interface ConnectionOptions {
  /** Coordinator base URL, http(s)://host:port */
  server: string;
  pin: Pin | null;
  signer: Signer;
  unsafeAllowPlaintext?: boolean;
  reconnect?: boolean;
  requestTimeoutMs?: number;
  /**
   * The coordinator pinned at join: a challenge or hello from another server id, or a hello in
   * another dialect, is refused with SERVER_CHANGED before anything is signed or sent.
   */
  expect?: { serverId: string; dialect: Dialect };
}

type Hello = Extract<ServerMessage, { type: 'hello' }>;
type Pending = { resolve: (m: ServerMessage) => void; reject: (e: Error) => void; timer: NodeJS.Timeout };

/** An `error` the coordinator sent (or the body of its HTTP refusal): its code is the coordinator's. */
export class ServerError extends RemoteError {}

export class SignerConnection extends EventEmitter {
  private ws: WebSocket | null = null;
  private readonly pending = new Map<string, Pending>();
  private closed = false;
  private attempt = 0;
  hello: Hello | null = null;

  constructor(readonly opts: ConnectionOptions) {
    super();
    checkScheme(opts.server, opts.pin, opts.unsafeAllowPlaintext);
  }

  get wsUrl(): string {
    return this.opts.server.replace(/^http/, 'ws').replace(/\/$/, '') + '/v1/ws';
  }

  /** Connect once (rejects on failure); with `reconnect`, later drops are retried by themselves. */
  async connect(): Promise<Hello> {
    const { serverId, nonce } = await requestJson<{ serverId: string; nonce: string }>(
      `${this.opts.server.replace(/\/$/, '')}/v1/challenge`,
      { pin: this.opts.pin, unsafeAllowPlaintext: this.opts.unsafeAllowPlaintext },
    );
    this.checkServer(serverId);
    const fp = this.opts.signer.publicKey.fingerprint;
    // The login names the certificate this client pinned: relayed to another coordinator, it fails there.
    const sig = await this.opts.signer.sign(
      authMessage(serverId, nonce, fp, this.opts.pin ? normaliseFingerprint(this.opts.pin.fingerprint256) : null),
    );
    const ws = new WebSocket(this.wsUrl, {
      headers: { 'x-quorum-key': fp, 'x-quorum-nonce': nonce, 'x-quorum-signature': sig.toString('base64') },
      maxPayload: WIRE_LIMITS.clientMaxPayload,
      handshakeTimeout: 15_000,
      ...(this.opts.pin ? pinnedTls(this.opts.pin) : {}),
    });
    this.ws = ws;
    return new Promise<Hello>((resolve, reject) => {
      let settled = false;
      ws.on('unexpected-response', (_req, res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          let err = {
            code: `HTTP_${res.statusCode}`,
            message: `the coordinator refused the connection (HTTP ${res.statusCode})`,
          };
          try {
            err = (JSON.parse(Buffer.concat(chunks).toString()) as { error: typeof err }).error ?? err;
          } catch {
            /* keep the generic error */
          }
          settled = true;
          reject(new ServerError(err.code, err.message));
        });
      });
      ws.on('error', (e) => {
        if (!settled) {
          settled = true;
          reject(new TransportError('CONNECT', `cannot connect to ${this.wsUrl}: ${e.message}`));
        }
      });
      ws.on('message', (data) => {
        let msg: ServerMessage;
        try {
          msg = ServerMessageSchema.parse(JSON.parse(data.toString()));
        } catch (e) {
          this.emit('protocol-error', e);
          return;
        }
        if (msg.type === 'hello' && !settled) {
          settled = true;
          try {
            this.checkServer(msg.serverId, msg.dialect);
          } catch (e) {
            this.closed = true; // not the coordinator this signer joined: no reconnecting to it either
            ws.close(1000, 'not the pinned coordinator');
            reject(e as Error);
            return;
          }
          this.hello = msg;
          this.attempt = 0;
          resolve(msg);
          return;
        }
        const ref = 'ref' in msg ? msg.ref : undefined;
        const p = ref ? this.pending.get(ref) : undefined;
        if (p) {
          this.pending.delete(ref!);
          clearTimeout(p.timer);
          if (msg.type === 'error') p.reject(new ServerError(msg.code, msg.message));
          else p.resolve(msg);
          return;
        }
        this.emit('message', msg);
        this.emit(msg.type, msg);
      });
      ws.on('close', (code, reason) => {
        for (const [, p] of this.pending) {
          clearTimeout(p.timer);
          p.reject(
            new TransportError(
              'DISCONNECTED',
              `connection closed (${code}${reason.length ? ' ' + reason.toString() : ''})`,
            ),
          );
        }
        this.pending.clear();
        if (!settled) {
          settled = true;
          reject(new TransportError('DISCONNECTED', `connection closed during login (${code})`));
          return;
        }
        this.emit('disconnected', code, reason.toString());
        if (this.opts.reconnect && !this.closed) this.scheduleReconnect();
      });
    });
  }

  private scheduleReconnect(): void {
    const base = Math.min(WIRE_LIMITS.reconnectMaxMs, WIRE_LIMITS.reconnectMinMs * 2 ** this.attempt++);
    const delay = base / 2 + Math.random() * (base / 2);
    setTimeout(() => {
      if (this.closed) return;
      this.connect().then(
        (h) => this.emit('reconnected', h),
        (e: Error) => {
          this.emit('reconnect-failed', e);
          if (e instanceof TransportError && e.code === 'SERVER_CHANGED') {
            // Another coordinator answers at this address: never log in to it.
            this.closed = true;
            this.emit('fatal', e);
            return;
          }
          // Refusals (not enrolled, bad signature) will not heal by retrying quickly; network errors might.
          if (!this.closed) this.scheduleReconnect();
        },
      );
    }, delay);
  }

  private checkServer(serverId: string, dialect?: Dialect): void {
    const want = this.opts.expect;
    if (!want) return;
    if (serverId !== want.serverId) {
      throw new TransportError(
        'SERVER_CHANGED',
        `the coordinator at ${this.opts.server} says it is ${JSON.stringify(serverId)}, but you joined ` +
          `${JSON.stringify(want.serverId)}; nothing was signed. If your release coordinator really replaced it, ` +
          'run quorum-signer join again',
      );
    }
    if (dialect !== undefined && dialect !== want.dialect) {
      throw new TransportError(
        'SERVER_CHANGED',
        `the coordinator ${serverId} now says its repository is ${dialect}, but it was ${want.dialect} when ` +
          'you joined; nothing was sent. Ask your release coordinator, then run quorum-signer join again',
      );
    }
  }

  /** Send a request and wait for the answer with the same ref (an `error` answer rejects). */
  request<T extends ServerMessage['type']>(
    msg: ClientMessage,
    expect: T,
  ): Promise<Extract<ServerMessage, { type: T }>> {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN)
      return Promise.reject(new TransportError('DISCONNECTED', 'not connected to the coordinator'));
    const ref = randomId();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(ref);
        reject(
          new TransportError('TIMEOUT', `no answer to ${msg.type} within ${this.opts.requestTimeoutMs ?? 30_000} ms`),
        );
      }, this.opts.requestTimeoutMs ?? 30_000);
      this.pending.set(ref, {
        resolve: (m) =>
          m.type === expect
            ? resolve(m as Extract<ServerMessage, { type: T }>)
            : reject(new TransportError('BAD_RESPONSE', `expected ${expect}, got ${m.type}`)),
        reject,
        timer,
      });
      ws.send(JSON.stringify({ ...msg, ref }));
    });
  }

  close(): void {
    this.closed = true;
    this.ws?.close(1000, 'bye');
  }
}
