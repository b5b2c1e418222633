/**
 * The connected signers: who holds which WebSocket, sending to them with backpressure on those
 * that do not read their replies (guard.ts SlowReaders: requests that arrived before the pause
 * took hold wait in the connection and are handled on resume), and the heartbeat that drops a
 * connection whose peer stopped answering pings.
 */
import type { WebSocket } from 'ws';
import { CLOSE_CODES, type ClientMessage, type ServerMessage } from '../protocol/wire.js';
import type { SignerChannel } from './context.js';
import { SlowReaders, type FlowLimits } from './guard.js';
import type { KeyholderRow } from './store.js';

export interface Conn {
  ws: WebSocket;
  keyholder: KeyholderRow;
  /** Answered the last ping. */
  alive: boolean;
  /** Message-rate bucket: tokens left, and when it was last refilled (ms). */
  tokens: number;
  last: number;
  /** Requests received while the socket was paused for not reading its replies, handled on resume. */
  held: ClientMessage[];
  /** Handles one request (signer-socket.ts). */
  handle: (m: ClientMessage) => void;
}

export class Connections implements SignerChannel {
  private readonly conns = new Set<Conn>();
  private readonly slowReaders: SlowReaders;
  /** Told of every broadcast and every message to a keyholder (the status page's live feed, events.ts). */
  readonly observers = new Set<(msg: ServerMessage) => void>();

  constructor(
    flow: FlowLimits,
    private readonly log: (line: string) => void,
  ) {
    this.slowReaders = new SlowReaders(
      flow,
      (ws, why) => {
        const c = this.of(ws);
        if (c) this.conns.delete(c);
        this.log(`dropped a connection of ${c?.keyholder.name ?? 'a keyholder'}: ${why}`);
      },
      (ws) => {
        const c = this.of(ws);
        while (c && c.held.length && !this.slowReaders.isPaused(ws)) c.handle(c.held.shift()!);
      },
    );
  }

  add(c: Conn): void {
    this.conns.add(c);
    c.ws.on('close', () => this.conns.delete(c));
    c.ws.on('error', () => this.conns.delete(c));
  }

  /** Connections keyholder `name` holds now. */
  count(name: string): number {
    let n = 0;
    for (const c of this.conns) if (c.keyholder.name === name) n++;
    return n;
  }

  isConnected(name: string): boolean {
    return this.count(name) > 0;
  }

  /** Whether `c`'s requests must wait: its replies are not being read. */
  isPaused(c: Conn): boolean {
    return this.slowReaders.isPaused(c.ws);
  }

  send(c: Conn, msg: ServerMessage): void {
    if (c.ws.readyState !== c.ws.OPEN) return;
    c.ws.send(JSON.stringify(msg));
    this.slowReaders.sent(c.ws);
  }

  /** To every connection but `except`. */
  broadcast(msg: ServerMessage, except?: Conn): void {
    for (const c of this.conns) if (c !== except) this.send(c, msg);
    for (const o of this.observers) o(msg);
  }

  sendTo(name: string, msg: ServerMessage): void {
    for (const o of this.observers) o(msg);
    for (const c of this.conns) if (c.keyholder.name === name) this.send(c, msg);
  }

  disconnect(name: string, code: number, reason: string): void {
    for (const c of this.conns) if (c.keyholder.name === name) c.ws.close(code, reason);
  }

  /** One heartbeat: drop the connections that did not answer the last ping, ping the others. */
  heartbeat(): void {
    for (const c of this.conns) {
      if (!c.alive) {
        // Say why when the peer can still hear it; a dead peer is cut off a moment later.
        this.conns.delete(c);
        c.ws.close(CLOSE_CODES.heartbeatTimeout, 'heartbeat missed');
        setTimeout(() => c.ws.terminate(), 1000).unref();
        continue;
      }
      c.alive = false;
      c.ws.ping();
    }
  }

  /** Close every connection (the server is shutting down). */
  closeAll(): void {
    for (const c of this.conns) c.ws.close(CLOSE_CODES.goingAway, 'server shutting down');
  }

  /** Stop watching slow readers (after closeAll). */
  close(): void {
    this.slowReaders.close();
  }

  private of(ws: WebSocket): Conn | undefined {
    for (const c of this.conns) if (c.ws === ws) return c;
    return undefined;
  }
}
