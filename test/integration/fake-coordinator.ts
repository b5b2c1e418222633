/**
 * A coordinator that lies, for the attacker's tests of the signer client. It speaks the wire
 * protocol (challenge, upgrade, hello, answers by ref) and serves whatever payloads and released
 * metadata the test sets: another round's bytes under the id asked for (`answerWith`), released
 * targets withheld (`targets = null`), an `error` answer with any code and message (`failWith`).
 * It records every message and login, so a test can show that nothing was signed.
 */
import http from 'node:http';
import { WebSocketServer } from 'ws';
import {
  ClientMessageSchema,
  ServerMessageSchema,
  WIRE_VERSION,
  type ClientMessage,
  type RoundInfo,
  type ServerMessage,
} from '../../protocol/wire.js';
import { canonicalOf, sha256hex } from './wire-client.js';

export class FakeCoordinator {
  readonly serverId = 'fake-coordinator';
  readonly received: ClientMessage[] = [];
  readonly logins: { key: string; nonce: string; sig: Buffer }[] = [];
  roots: { version: number; file: string }[] = [];
  targets: string | null = null;
  readonly rounds = new Map<string, { round: RoundInfo; signed: string }>();
  /** round.get X answered with the round stored under another id. */
  readonly answers = new Map<string, string>();
  /** Requests of these types answered with this `error`. */
  readonly failures = new Map<string, { code: string; message: string }>();
  url = '';
  private server = http.createServer((req, res) => {
    if (req.url === '/v1/challenge') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ serverId: this.serverId, nonce: `${Date.now().toString(16)}${'0'.repeat(48)}` }));
    }
    if (req.url === '/v1/health') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ ok: true, serverId: this.serverId, dialect: 'tuf' }));
    }
    res.writeHead(404).end();
  });
  private wss = new WebSocketServer({ noServer: true });

  constructor(private readonly keyholder: string) {
    this.server.on('upgrade', (req, socket, head) => {
      this.logins.push({
        key: String(req.headers['x-quorum-key']),
        nonce: String(req.headers['x-quorum-nonce']),
        sig: Buffer.from(String(req.headers['x-quorum-signature']), 'base64'),
      });
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        const send = (m: ServerMessage) => ws.send(JSON.stringify(ServerMessageSchema.parse(m)));
        send({
          type: 'hello',
          version: WIRE_VERSION,
          serverId: this.serverId,
          keyholder: this.keyholder,
          dialect: 'tuf',
        });
        ws.on('message', (data) => {
          const m = ClientMessageSchema.parse(JSON.parse(data.toString()));
          this.received.push(m);
          const ref = m.ref;
          const failure = this.failures.get(m.type);
          if (failure) return send({ type: 'error', ref, ...failure, fatal: false });
          switch (m.type) {
            case 'ping':
              return send({ type: 'pong', ref });
            case 'rounds.list':
              return send({ type: 'rounds', ref, rounds: [...this.rounds.values()].map((r) => r.round) });
            case 'released.get':
              return send({
                type: 'released',
                ref,
                roots: this.roots.filter((r) => r.version > m.afterRootVersion),
                targets: this.targets,
              });
            case 'round.get': {
              const r = this.rounds.get(this.answers.get(m.round) ?? m.round);
              if (!r)
                return send({ type: 'error', ref, code: 'ROUND_NOT_FOUND', message: 'no such round', fatal: false });
              return send({ type: 'round.payload', ref, round: r.round, signed: r.signed });
            }
            case 'signature.submit': {
              const r = this.rounds.get(m.round)!;
              return send({ type: 'signature.accepted', ref, round: r.round });
            }
            default:
              return send({
                type: 'error',
                ref,
                code: 'ROUND_NOT_FOUND',
                message: `the fake coordinator does not answer ${m.type}`,
                fatal: false,
              });
          }
        });
      });
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
    return this;
  }

  /**
   * Serve round `id` with this `signed` text, claiming `sha256` (default: the true one) and the round fields in `info`.
   */
  serve(
    id: string,
    role: 'root' | 'targets',
    signedText: string,
    sha256 = sha256hex(canonicalOf(signedText, role, 'tuf')),
    info: Partial<RoundInfo> = {},
  ): void {
    const version = (JSON.parse(signedText) as { version: number }).version;
    this.rounds.set(id, {
      signed: signedText,
      round: {
        id,
        role,
        version,
        state: 'open',
        reason: 'routine',
        deadline: new Date(Date.now() + 86_400_000).toISOString(),
        createdAt: new Date().toISOString(),
        sha256,
        progress: [],
        ...info,
      },
    });
  }

  /** Answer round.get `asked` with the round stored as `served`. */
  answerWith(asked: string, served: string): void {
    this.answers.set(asked, served);
  }

  submissions(round?: string): Extract<ClientMessage, { type: 'signature.submit' }>[] {
    return this.received.filter(
      (m): m is Extract<ClientMessage, { type: 'signature.submit' }> =>
        m.type === 'signature.submit' && (round === undefined || m.round === round),
    );
  }

  async close(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    this.wss.close();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
