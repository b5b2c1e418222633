/**
 * A raw signer connection for integration tests: it authenticates the way the real client does
 * (GET /v1/challenge, sign authMessage with the keyholder's key, upgrade with the proof in
 * headers) but then sends whatever wire message a test wants, so the coordinator's own checks
 * are what is exercised, not the signer client's. Also helpers to read canonical bytes and key
 * ids the way a signer would.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import WebSocket from 'ws';
import type { Dialect } from '../../protocol/canonical.js';
import { parseMetadataKey, type MetadataKey } from '../../protocol/keys.js';
import type { Signer } from '../../protocol/metadata/build.js';
import type { RootSigned } from '../../protocol/metadata/schemas.js';
import { parseMetadata } from '../../protocol/verify.js';
import { authMessage, ServerMessageSchema, type ClientMessage, type ServerMessage } from '../../protocol/wire.js';
import { fileSigner } from '../../signer-client/keystore.js';
import { PASSPHRASE } from './harness.js';

export function keySigner(keyFile: string): Signer {
  return fileSigner(keyFile, PASSPHRASE);
}

export async function challenge(url: string): Promise<{ serverId: string; nonce: string }> {
  const res = await fetch(`${url}/v1/challenge`);
  if (res.status !== 200) throw new Error(`challenge: HTTP ${res.status}`);
  return (await res.json()) as { serverId: string; nonce: string };
}

export interface AuthHeaders {
  'x-quorum-key': string;
  'x-quorum-nonce': string;
  'x-quorum-signature': string;
}

/** Headers proving possession of `signer`'s key for a fresh challenge (or the one given). */
export async function authHeaders(
  url: string,
  signer: Signer,
  ch?: { serverId: string; nonce: string },
): Promise<AuthHeaders> {
  const { serverId, nonce } = ch ?? (await challenge(url));
  const fp = signer.publicKey.fingerprint;
  const sig = await signer.sign(authMessage(serverId, nonce, fp));
  return { 'x-quorum-key': fp, 'x-quorum-nonce': nonce, 'x-quorum-signature': sig.toString('base64') };
}

export type UpgradeResult =
  { ok: true; client: WireClient } | { ok: false; status: number; error: { code: string; message: string } };

/** Try the WebSocket upgrade with these headers; a refusal resolves with its HTTP status and error body. */
export function upgrade(url: string, headers: AuthHeaders | Record<string, string>): Promise<UpgradeResult> {
  const ws = new WebSocket(url.replace(/^http/, 'ws') + '/v1/ws', { headers: { ...headers } });
  return new Promise((resolve, reject) => {
    const client = new WireClient(ws);
    ws.on('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let error = { code: '(no body)', message: text };
        try {
          error = (JSON.parse(text) as { error: typeof error }).error;
        } catch {
          /* keep the raw text */
        }
        resolve({ ok: false, status: res.statusCode ?? 0, error });
      });
    });
    ws.on('error', (e) => reject(e));
    client.hello.then(() => resolve({ ok: true, client }), reject);
  });
}

/** Authenticate as `signer` and return a connected client (after its hello). */
export async function connect(url: string, signer: Signer): Promise<WireClient> {
  const r = await upgrade(url, await authHeaders(url, signer));
  if (!r.ok) throw new Error(`upgrade refused: HTTP ${r.status} ${r.error.code}: ${r.error.message}`);
  return r.client;
}

export class WireClient {
  readonly received: ServerMessage[] = [];
  readonly hello: Promise<Extract<ServerMessage, { type: 'hello' }>>;
  readonly closed: Promise<{ code: number; reason: string }>;
  private readonly waiters = new Map<string, (m: ServerMessage) => void>();
  private n = 0;

  constructor(readonly ws: WebSocket) {
    let helloResolve!: (m: Extract<ServerMessage, { type: 'hello' }>) => void;
    this.hello = new Promise((r) => (helloResolve = r));
    this.closed = new Promise((r) => ws.on('close', (code, reason) => r({ code, reason: reason.toString() })));
    ws.on('message', (data) => {
      const msg = ServerMessageSchema.parse(JSON.parse(data.toString()));
      this.received.push(msg);
      if (msg.type === 'hello') helloResolve(msg);
      const ref = 'ref' in msg ? msg.ref : undefined;
      const w = ref ? this.waiters.get(ref) : undefined;
      if (w) {
        this.waiters.delete(ref!);
        w(msg);
      }
    });
  }

  /** Send a message with a fresh ref and resolve with the answer carrying that ref (an error too). */
  request(msg: ClientMessage, timeoutMs = 15_000): Promise<ServerMessage> {
    const ref = `t${++this.n}`;
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no answer to ${msg.type} (ref ${ref})`)), timeoutMs);
      this.waiters.set(ref, (m) => {
        clearTimeout(t);
        resolve(m);
      });
      this.ws.send(JSON.stringify({ ...msg, ref }));
    });
  }

  close(): void {
    this.ws.close(1000, 'bye');
  }
}

/** The exact bytes a signer signs for a round: the proposed `signed` body, canonicalised. */
export function canonicalOf(signedText: string, role: 'root' | 'targets', dialect: Dialect): Buffer {
  return parseMetadata(
    Buffer.from(JSON.stringify({ signatures: [], signed: JSON.parse(signedText) })),
    `proposed ${role}`,
    role,
    dialect,
  ).canonical;
}

export function sha256hex(b: Buffer): string {
  return crypto.createHash('sha256').update(b).digest('hex');
}

/** The key id a root file gives `fingerprint` in `role`. */
export function keyidIn(rootFile: string, role: string, fingerprint: string): string {
  const signed = (JSON.parse(fs.readFileSync(rootFile, 'utf8')) as { signed: RootSigned }).signed;
  for (const id of signed.roles[role]?.keyids ?? []) {
    if (parseMetadataKey(signed.keys[id] as MetadataKey).fingerprint === fingerprint) return id;
  }
  throw new Error(`${rootFile} has no ${role} key with fingerprint ${fingerprint}`);
}
