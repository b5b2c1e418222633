/**
 * The status page's live feed: Server-Sent Events at /v1/events. Whatever the coordinator tells
 * its signers about rounds and certificate rounds (connections.ts passes every broadcast here) is
 * also sent to each open page as one `change` event carrying the message's type and the round's
 * public summary (never a payload, a FROST package or anything addressed to one keyholder; a
 * message to a ceremony's participants becomes a bare `frost` change). Messages of one turn of the
 * event loop go out together, once each. A stream ends with its session (sign-out, expiry), and
 * an idle one gets a keep-alive comment so that proxies keep it open.
 */
import type http from 'node:http';
import { PAGE_LIMITS } from '../protocol/limits.js';
import type { ServerMessage } from '../protocol/wire.js';
import { SessionError } from './sessions.js';

interface Stream {
  res: http.ServerResponse;
  /** The session it belongs to (sessions.ts key), or null for a bearer-token client. */
  session: string | null;
}

/** What a page is told of a message: its type and the public summary of the round it is about. */
function changeOf(msg: ServerMessage): Record<string, unknown> | null {
  switch (msg.type) {
    case 'round.opened':
    case 'round.updated':
    case 'cert.opened':
    case 'cert.updated':
      return { type: msg.type, round: msg.round };
    default:
      return msg.type.startsWith('frost.') ? { type: 'frost' } : null;
  }
}

export class EventStreams {
  private readonly streams = new Set<Stream>();
  private pending: string[] = [];
  private readonly keepalive: NodeJS.Timeout;

  constructor(keepaliveMs: number = PAGE_LIMITS.streamKeepaliveMs) {
    this.keepalive = setInterval(() => this.write(': keep-alive\n\n'), keepaliveMs);
    this.keepalive.unref();
  }

  get size(): number {
    return this.streams.size;
  }

  /** Start a stream on `res` (TOO_MANY_STREAMS beyond PAGE_LIMITS.maxStreams). */
  open(req: http.IncomingMessage, res: http.ServerResponse, session: string | null): void {
    if (this.streams.size >= PAGE_LIMITS.maxStreams)
      throw new SessionError(
        'TOO_MANY_STREAMS',
        `${PAGE_LIMITS.maxStreams} live pages are open; close one or reload later`,
      );
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
    });
    res.flushHeaders();
    // The first event says the stream is live: a page fetches the current state after it, so
    // that nothing that happened while it connected is missed.
    res.write(`retry: 1000\nevent: ready\ndata: {}\n\n`);
    const s: Stream = { res, session };
    this.streams.add(s);
    const drop = () => this.streams.delete(s);
    req.on('close', drop);
    res.on('error', drop);
  }

  /** Tell every open page about `msg` (after the current turn of the event loop, once per distinct change). */
  publish(msg: ServerMessage): void {
    if (!this.streams.size) return;
    const change = changeOf(msg);
    if (!change) return;
    const line = `event: change\ndata: ${JSON.stringify(change)}\n\n`;
    if (!this.pending.length) setImmediate(() => this.flush());
    if (!this.pending.includes(line)) this.pending.push(line);
  }

  /** End the streams of session `key` (signed out, expired, or its viewer removed). */
  endSession(key: string): void {
    for (const s of [...this.streams])
      if (s.session === key) {
        this.streams.delete(s);
        s.res.end();
      }
  }

  close(): void {
    clearInterval(this.keepalive);
    for (const s of this.streams) s.res.end();
    this.streams.clear();
  }

  private flush(): void {
    const out = this.pending.join('');
    this.pending = [];
    this.write(out);
  }

  private write(text: string): void {
    for (const s of this.streams) s.res.write(text);
  }
}
