/**
 * An authenticated raw WebSocket to the coordinator, for tests that send arbitrary frames:
 * GET /v1/challenge, sign authMessage(serverId, nonce, fingerprint) with the keyholder's key file,
 * then upgrade to /v1/ws with the proof in the x-quorum-* headers. Every frame received after
 * `hello` is queued; `next()` takes them in order, and `closed` settles when the socket closes.
 */
import WebSocket from 'ws';
import { WIRE_LIMITS } from '../../protocol/limits.js';
import type { Signer } from '../../protocol/metadata/build.js';
import { ServerMessageSchema, authMessage, type ServerMessage } from '../../protocol/wire.js';
import { fileSigner } from '../../signer-client/keystore.js';
import { PASSPHRASE } from './harness.js';

const signers = new Map<string, Signer>();

/** The Signer over a test key file (decrypted once per process). */
export function keySigner(keyFile: string): Signer {
  let s = signers.get(keyFile);
  if (!s) {
    s = fileSigner(keyFile, PASSPHRASE);
    signers.set(keyFile, s);
  }
  return s;
}

export interface Received {
  /** The frame as text. */
  text: string;
  binary: boolean;
  /** The frame parsed with ServerMessageSchema, or null when it is not a valid server message. */
  msg: ServerMessage | null;
}

export interface Closed {
  code: number;
  reason: string;
}

export class RawSocket {
  readonly inbox: Received[] = [];
  /** Every frame received after hello, in order (inbox only holds those not yet taken). */
  readonly all: Received[] = [];
  pings = 0;
  closedWith: Closed | null = null;
  readonly closed: Promise<Closed>;
  private waiter: (() => void) | null = null;

  private constructor(
    readonly ws: WebSocket,
    readonly hello: Extract<ServerMessage, { type: 'hello' }>,
    first: Received[],
    closed: Promise<Closed>,
  ) {
    this.closed = closed;
    for (const r of first) this.push(r);
    ws.on('message', (data: WebSocket.RawData, isBinary: boolean) => this.push(toReceived(data, isBinary)));
    ws.on('ping', () => this.pings++);
    void closed.then((c) => {
      this.closedWith = c;
      this.wake();
    });
  }

  private push(r: Received): void {
    this.inbox.push(r);
    this.all.push(r);
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  /** Connect and authenticate as the owner of `keyFile` to the coordinator at `baseUrl` (http://host:port). */
  static async open(baseUrl: string, keyFile: string, opts: { autoPong?: boolean } = {}): Promise<RawSocket> {
    const signer = keySigner(keyFile);
    const base = baseUrl.replace(/\/$/, '');
    const res = await fetch(`${base}/v1/challenge`);
    if (res.status !== 200) throw new Error(`challenge: HTTP ${res.status}`);
    const { serverId, nonce } = (await res.json()) as { serverId: string; nonce: string };
    const fp = signer.publicKey.fingerprint;
    const sig = await signer.sign(authMessage(serverId, nonce, fp));
    const ws = new WebSocket(base.replace(/^http/, 'ws') + '/v1/ws', {
      headers: { 'x-quorum-key': fp, 'x-quorum-nonce': nonce, 'x-quorum-signature': sig.toString('base64') },
      maxPayload: WIRE_LIMITS.clientMaxPayload,
      autoPong: opts.autoPong ?? true,
      handshakeTimeout: 10_000,
    });
    const closed = new Promise<Closed>((resolve) =>
      ws.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() })),
    );
    const early: Received[] = [];
    // A ping can arrive in the same TCP read as hello, before the RawSocket exists to count it.
    let earlyPings = 0;
    const countPing = () => earlyPings++;
    ws.on('ping', countPing);
    const hello = await new Promise<Extract<ServerMessage, { type: 'hello' }>>((resolve, reject) => {
      const onMessage = (data: WebSocket.RawData, isBinary: boolean) => {
        const r = toReceived(data, isBinary);
        if (r.msg?.type === 'hello') {
          ws.off('message', onMessage);
          resolve(r.msg);
        } else early.push(r);
      };
      ws.on('message', onMessage);
      ws.once('unexpected-response', (_req, r) => reject(new Error(`upgrade refused: HTTP ${r.statusCode}`)));
      ws.once('error', reject);
      void closed.then((c) => reject(new Error(`closed before hello (${c.code})`)));
    });
    ws.on('error', () => undefined); // the close event reports what happened
    const s = new RawSocket(ws, hello, early, closed);
    ws.off('ping', countPing);
    s.pings += earlyPings;
    return s;
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  send(data: string | Buffer, binary = typeof data !== 'string'): void {
    this.ws.send(data, { binary });
  }

  sendJson(msg: unknown): void {
    this.send(JSON.stringify(msg));
  }

  /** The next frame received (in order); rejects after timeoutMs or when the socket closed with nothing queued. */
  async next(timeoutMs = 10_000): Promise<Received> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = this.inbox.shift();
      if (r) return r;
      if (this.closedWith)
        throw new Error(`socket closed (${this.closedWith.code} ${this.closedWith.reason}) with no frame queued`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no frame within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  /** The next frame that is not a broadcast (round.opened / round.updated carry no ref and answer nothing). */
  async nextReply(timeoutMs = 10_000): Promise<Received> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await this.next(Math.max(1, deadline - Date.now()));
      if (r.msg?.type !== 'round.opened' && r.msg?.type !== 'round.updated') return r;
    }
  }

  /** Send a message (a string is sent as the text frame itself, anything else as JSON) and return its reply. */
  async request(msg: unknown, timeoutMs?: number): Promise<Received> {
    if (typeof msg === 'string') this.send(msg, false);
    else this.sendJson(msg);
    return this.nextReply(timeoutMs);
  }

  close(): Promise<Closed> {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING)
      this.ws.close(1000, 'bye');
    return this.closed;
  }

  terminate(): void {
    this.ws.terminate();
  }
}

function toReceived(data: WebSocket.RawData, binary: boolean): Received {
  const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
  const text = buf.toString('utf8');
  let msg: ServerMessage | null;
  try {
    const r = ServerMessageSchema.safeParse(JSON.parse(text));
    msg = r.success ? r.data : null;
  } catch {
    msg = null;
  }
  return { text, binary, msg };
}
