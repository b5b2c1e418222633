/**
 * A lying coordinator for DKG ceremonies, speaking the real wire protocol (GET /v1/challenge, the
 * authenticated WebSocket upgrade, hello, frost.dkg.* messages validated with the real schemas) to
 * real `quorum-signer frost join` processes. It does not check logins: it only needs to know who
 * connected. Three ways to lie:
 *
 * - 'split-identities': a man in the middle. Each participant gets its own ceremony in which every
 *   other participant's X25519 identity key is one of the coordinator's, and the coordinator plays
 *   all those other participants itself (their round-1 packages, identity statements and transcript
 *   signatures made with signing keys of its own, the keys it would list). Whatever round-2 shares a
 *   participant encrypts are encrypted to the coordinator, which then knows that participant's whole
 *   polynomial, hence the secret of the group that participant ends up in: `stolenKey` reconstructs
 *   it and signs alone as the group.
 * - 'split-round1': an honest relay, except that the first participant is shown a round-1 package
 *   of the coordinator's own making in place of the second participant's.
 * - 'forged-agreement': an honest relay until the confirmations; then it declares the group agreed
 *   with the last participant's transcript signature replaced by one of its own making.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import { ed25519 } from '@noble/curves/ed25519.js';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  dkgRound2,
  dkgSnapshot,
  dkgStart,
  generateIdentityKey,
  groupFromTranscript,
  identityMessage,
  identityStatement,
  newCeremony,
  openShare,
  transcriptDigest,
  transcriptMessage,
  type DkgState,
  type FrostCeremony,
  type FrostDkgConfirm,
  type FrostDkgRound1,
  type FrostDkgRound2,
  type FrostGroup,
  type FrostSignedIdentity,
  type FrostTranscriptSignature,
  type IdentityKey,
} from '../../protocol/frost.js';
import { publicKeyFrom, signBytes } from '../../protocol/keys.js';
import {
  ClientMessageSchema,
  ServerMessageSchema,
  WIRE_VERSION,
  type ClientMessage,
  type ServerMessage,
} from '../../protocol/wire.js';

export type Lie = 'split-identities' | 'split-round1' | 'forged-agreement';

type Status = Omit<Extract<ServerMessage, { type: 'frost.dkg.status' }>, 'type' | 'ref'>;

const L = ed25519.Point.CURVE().n;
const mod = (x: bigint) => ((x % L) + L) % L;
const le = (b: Uint8Array) => BigInt(`0x${Buffer.from(b).reverse().toString('hex')}`);
const inv = (x: bigint) => {
  let [a, b, u, v] = [mod(x), L, 1n, 0n];
  while (a !== 0n) [a, b, u, v] = [b % a, a, v - (b / a) * u, u];
  return mod(v);
};

/** One participant's view of the ceremony, as this coordinator shows it. */
interface View {
  ceremony: FrostCeremony;
  state: Status['state'];
  round1: Map<number, FrostDkgRound1>;
  identities: Map<number, FrostSignedIdentity>;
  round2: FrostDkgRound2[];
  confirms: Map<number, { confirm: FrostDkgConfirm; transcript: FrostTranscriptSignature }>;
  group: FrostGroup | null;
  transcripts: FrostTranscriptSignature[];
  /** split-identities: the participants the coordinator plays in this view. */
  fakes: Map<number, { state: DkgState; identity: IdentityKey; secret0: bigint }>;
  /** split-identities: the victim's polynomial at the fakes' identifiers, decrypted here. */
  stolen: Map<number, bigint>;
}

export class LyingFrostCoordinator {
  readonly serverId = 'lying-frost-coordinator';
  readonly received: { from: string; msg: ClientMessage }[] = [];
  url = '';
  private readonly server: http.Server;
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly sockets = new Map<string, WebSocket>();
  private readonly views = new Map<string, View>();
  private shared: View | null = null;
  private substitute: FrostDkgRound1 | null = null;
  /** The signing key the coordinator "lists" for each participant it plays. */
  private readonly ownKey = crypto.generateKeyPairSync('ed25519').privateKey;

  constructor(
    private readonly lie: Lie,
    private readonly id: string,
    private readonly threshold: number,
    /** name -> { fingerprint of the enrolled signing key, real X25519 identity key } */
    private readonly members: { name: string; fingerprint: string; identityKey: string }[],
  ) {
    this.server = http.createServer((req, res) => {
      if (req.url === '/v1/challenge') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ serverId: this.serverId, nonce: crypto.randomBytes(32).toString('hex') }));
      }
      res.writeHead(404).end();
    });
    this.server.on('upgrade', (req, socket, head) => {
      const who = this.members.find((m) => m.fingerprint === String(req.headers['x-quorum-key']));
      if (!who) return socket.destroy();
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        this.sockets.set(who.name, ws);
        this.send(who.name, {
          type: 'hello',
          version: WIRE_VERSION,
          serverId: this.serverId,
          keyholder: who.name,
          dialect: 'tuf',
        });
        ws.on('message', (data) => this.onMessage(who.name, ClientMessageSchema.parse(JSON.parse(data.toString()))));
      });
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
    return this;
  }

  async close(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    this.wss.close();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  /** Messages of `type` received from anyone. */
  messages<T extends ClientMessage['type']>(type: T): Extract<ClientMessage, { type: T }>[] {
    return this.received.map((r) => r.msg).filter((m): m is Extract<ClientMessage, { type: T }> => m.type === type);
  }

  private send(to: string, m: ServerMessage): void {
    this.sockets.get(to)?.send(JSON.stringify(ServerMessageSchema.parse(m)));
  }

  private roster(keys: (m: { name: string; identityKey: string }, i: number) => string): FrostCeremony {
    return newCeremony(
      this.id,
      this.threshold,
      this.members.map((m, i) => ({ name: m.name, identityKey: keys(m, i) })),
      { kind: 'role-key', name: this.id.replace(/^dkg-/, '') },
    );
  }

  private newView(ceremony: FrostCeremony): View {
    return {
      ceremony,
      state: 'round1',
      round1: new Map(),
      identities: new Map(),
      round2: [],
      confirms: new Map(),
      group: null,
      transcripts: [],
      fakes: new Map(),
      stolen: new Map(),
    };
  }

  /** A statement or transcript signature "by" a participant the coordinator plays: its own key. */
  private ownSignature(bytes: Buffer): string {
    return signBytes(this.ownKey, bytes).toString('base64');
  }

  private viewOf(name: string): View {
    if (this.lie !== 'split-identities') return (this.shared ??= this.newView(this.roster((m) => m.identityKey)));
    let v = this.views.get(name);
    if (!v) {
      // This participant's own identity key is real; every other one is the coordinator's.
      const own = new Map(this.members.map((m) => [m.name, m.name === name ? null : generateIdentityKey()]));
      v = this.newView(this.roster((m) => own.get(m.name)?.publicKey ?? m.identityKey));
      for (const p of v.ceremony.participants) {
        const identity = own.get(p.name);
        if (!identity) continue;
        const { state, round1 } = dkgStart(v.ceremony, p.identifier);
        v.fakes.set(p.identifier, { state, identity, secret0: BigInt(`0x${dkgSnapshot(state).coefficients[0]!}`) });
        v.round1.set(p.identifier, round1);
        const statement = identityStatement(v.ceremony, p.name);
        v.identities.set(p.identifier, { statement, signature: this.ownSignature(identityMessage(statement)) });
      }
      this.views.set(name, v);
    }
    return v;
  }

  private status(name: string, v: View): Status {
    const self = v.ceremony.participants.find((p) => p.name === name)!.identifier;
    const n = v.ceremony.participants.length;
    const all = v.round1.size === n && v.state !== 'round1';
    let round1All = [...v.round1.values()].sort((a, b) => a.from - b.from);
    if (this.lie === 'split-round1' && all && self === 1) {
      // The first participant sees another round-1 package for participant 2: the coordinator's.
      this.substitute ??= dkgStart(v.ceremony, 2).round1;
      round1All = round1All.map((r) => (r.from === 2 ? this.substitute! : r));
    }
    return {
      ceremony: v.ceremony,
      state: v.state,
      round1Received: [...v.round1.keys()].sort(),
      round2Received: [...new Set(v.round2.map((p) => p.from))].sort(),
      confirmsReceived: [...v.confirms.keys()].sort(),
      round1All: all ? round1All : [],
      identities: all ? [...v.identities.values()] : [],
      inbox: v.state === 'confirm' || v.state === 'done' ? v.round2.filter((p) => p.to === self) : [],
      group: v.group,
      transcripts: v.state === 'done' ? v.transcripts : [],
      failure: null,
    };
  }

  /** Everyone connected in this view is told its own status. */
  private push(v: View, type: 'frost.dkg.round1.all' | 'frost.dkg.round2.inbox' | 'frost.dkg.done'): void {
    for (const p of v.ceremony.participants) {
      if (v.fakes.has(p.identifier)) continue; // in a split view, the one real participant is told
      const st = this.status(p.name, v);
      if (type === 'frost.dkg.round1.all')
        this.send(p.name, { type, ceremony: this.id, packages: st.round1All, identities: st.identities });
      else if (type === 'frost.dkg.round2.inbox') this.send(p.name, { type, ceremony: this.id, packages: st.inbox });
      else this.send(p.name, { type, ceremony: this.id, group: v.group!, transcripts: v.transcripts });
    }
  }

  private onMessage(name: string, m: ClientMessage): void {
    this.received.push({ from: name, msg: m });
    const ref = m.ref;
    if (m.type === 'ping') return this.send(name, { type: 'pong', ref });
    if (!('ceremony' in m) || m.ceremony !== this.id)
      return this.send(name, {
        type: 'error',
        ref,
        code: 'CEREMONY_NOT_FOUND',
        message: 'no such ceremony',
        fatal: false,
      });
    const v = this.viewOf(name);
    const self = v.ceremony.participants.find((p) => p.name === name)!.identifier;
    const n = v.ceremony.participants.length;
    switch (m.type) {
      case 'frost.dkg.round1':
        v.round1.set(self, m.package);
        v.identities.set(self, m.identity);
        if (v.round1.size === n && v.state === 'round1') {
          v.state = 'round2';
          this.push(v, 'frost.dkg.round1.all');
        }
        break;
      case 'frost.dkg.round2':
        v.round2.push(...m.packages);
        if (v.fakes.size) {
          // Shares encrypted to the coordinator's identity keys: open them, then answer as the fakes.
          for (const p of m.packages) v.stolen.set(p.to, le(openShare(v.ceremony, p, v.fakes.get(p.to)!.identity)));
          const round1All = [...v.round1.values()];
          for (const f of v.fakes.values()) v.round2.push(...dkgRound2(f.state, round1All, f.identity));
        }
        if (new Set(v.round2.map((p) => p.from)).size === n && v.state === 'round2') {
          v.state = 'confirm';
          this.push(v, 'frost.dkg.round2.inbox');
        }
        break;
      case 'frost.dkg.confirm': {
        v.confirms.set(self, { confirm: m.confirm, transcript: m.transcript });
        const real = v.ceremony.participants.filter((p) => !v.fakes.has(p.identifier)).length;
        if (v.confirms.size === real && v.state === 'confirm') {
          const round1All = [...v.round1.values()];
          v.group = groupFromTranscript(v.ceremony, round1All);
          const digest = transcriptDigest(v.ceremony, [...v.identities.values()], round1All);
          v.transcripts = v.ceremony.participants.map((p) => {
            const own = v.confirms.get(p.identifier)?.transcript;
            const forge = v.fakes.has(p.identifier) || (this.lie === 'forged-agreement' && p.identifier === n);
            return own && !forge
              ? own
              : {
                  identifier: p.identifier,
                  transcript: digest,
                  signature: this.ownSignature(transcriptMessage(this.id, p.identifier, digest)),
                };
          });
          v.state = 'done';
          this.push(v, 'frost.dkg.done');
        }
        break;
      }
      case 'frost.dkg.get':
      case 'frost.refuse':
        break;
      default:
        return this.send(name, { type: 'error', ref, code: 'CEREMONY_NOT_FOUND', message: 'not here', fatal: false });
    }
    this.send(name, { type: 'frost.dkg.status', ref, ...this.status(name, v) });
  }

  /**
   * split-identities: the secret of the group `victim` ended up in, reconstructed from the
   * coordinator's own polynomials and the victim's shares it decrypted, as a signature over
   * `message` that verifies under that group key; null if the victim sent it no shares.
   */
  stolenSignature(victim: string, message: Buffer): { groupPublicKey: string; signature: Buffer } | null {
    const v = this.views.get(victim);
    if (!v?.group || v.stolen.size < v.ceremony.threshold) return null;
    // The victim's f(0) by Lagrange interpolation at 0 from t of its shares; the fakes' are known.
    const pts = [...v.stolen.entries()].slice(0, v.ceremony.threshold).map(([x, y]) => [BigInt(x), y] as const);
    let f0 = 0n;
    for (const [xi, yi] of pts) {
      let li = 1n;
      for (const [xj] of pts) if (xj !== xi) li = mod(li * xj * inv(xj - xi));
      f0 = mod(f0 + yi * li);
    }
    const s = mod([...v.fakes.values()].reduce((acc, f) => acc + f.secret0, f0));
    const A = ed25519.Point.BASE.multiply(s);
    if (A.toHex() !== v.group.groupPublicKey) return null;
    // A plain Ed25519 signature with the raw scalar: R = rG, S = r + H(R || A || M) s.
    const r = mod(le(crypto.randomBytes(64)));
    const R = ed25519.Point.BASE.multiply(r).toBytes();
    const k = mod(le(crypto.createHash('sha512').update(R).update(A.toBytes()).update(message).digest()));
    const S = Buffer.from(
      mod(r + k * s)
        .toString(16)
        .padStart(64, '0'),
      'hex',
    ).reverse();
    const signature = Buffer.concat([Buffer.from(R), S]);
    const pk = publicKeyFrom(
      crypto.createPublicKey({
        key: Buffer.concat([
          Buffer.from('302a300506032b6570032100', 'hex'),
          Buffer.from(v.group.groupPublicKey, 'hex'),
        ]),
        format: 'der',
        type: 'spki',
      }),
    );
    return crypto.verify(null, message, pk.keyObject, signature)
      ? { groupPublicKey: v.group.groupPublicKey, signature }
      : null;
  }
}
