/**
 * The coordinator's identity, as the signer pins it (issue 9, point 6), and its files (point 9),
 * with real processes: `join` pins the server id and dialect, and a coordinator answering with
 * another (a second real coordinator at the pinned address, a fake one speaking the wire
 * protocol) is refused with SERVER_CHANGED before anything is signed; a login relayed by another
 * coordinator (a TLS relay with its own certificate in front of the real one) fails at the real
 * one, because the login signature binds the certificate the signer pinned; trust on first use
 * is an explicit choice at join; `serve` judges loopback by the address it binds; quorum.db and
 * its WAL/SHM files are owner-only.
 */
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { makeTlsCertificate } from '../../coordinator/init.js';
import { bindAddress } from '../../coordinator/server.js';
import { verifySignature } from '../../protocol/keys.js';
import { ServerMessageSchema, WIRE_VERSION, authMessage, type ServerMessage } from '../../protocol/wire.js';
import {
  auditEvents,
  Coordinator,
  newRepo,
  passphraseFile,
  quorum,
  quorumHere,
  signer,
  signerHere,
  tmpdir,
  type Repo,
} from './harness.js';
import { keySigner } from './wire-client.js';

let repo: Repo;
let serverId = '';
const cfgOf = (home: string) =>
  JSON.parse(fs.readFileSync(path.join(home, 'config.json'), 'utf8')) as {
    server: string;
    serverId?: string;
    dialect?: string;
    trustFirstRoot?: boolean;
    pin: unknown;
  };
/** A copy of alice's signer home (key, pinned coordinator, pinned roots) whose config.json `edit` changes. */
function aliceHomeCopy(edit: (cfg: Record<string, unknown>) => void): string {
  const h = tmpdir('quorum-alice-copy-');
  fs.cpSync(repo.homes.alice!, h, { recursive: true });
  const cfg = cfgOf(h) as unknown as Record<string, unknown>;
  edit(cfg);
  fs.writeFileSync(path.join(h, 'config.json'), JSON.stringify(cfg));
  return h;
}

beforeAll(async () => {
  repo = await newRepo({
    dialect: 'tuf',
    keyholders: ['alice', 'bob'],
    rootThreshold: 1,
    targetsThreshold: 1,
    releaseRoot: true,
  });
  serverId = ((await (await fetch(`${repo.coordinator.url}/v1/health`)).json()) as { serverId: string }).serverId;
});
afterAll(async () => {
  await repo?.coordinator.kill();
  if (repo) fs.rmSync(repo.dir, { recursive: true, force: true });
});

describe('join pins the coordinator', () => {
  it('records the server id and dialect the coordinator answers with', () => {
    const cfg = cfgOf(repo.homes.alice!);
    expect(cfg.serverId).toBe(serverId);
    expect(cfg.dialect).toBe('tuf');
    expect(cfg.trustFirstRoot).toBe(true);
  });

  it('refuses another coordinator at the pinned address: SERVER_CHANGED, and it never sees a login', async () => {
    // A second real coordinator, where alice's key is enrolled too (as a lookalike would do); its
    // init, the status read and the control run in this process (quorumHere, signerHere).
    const dir = tmpdir('quorum-other-');
    const data = path.join(dir, 'data');
    const init = await quorumHere([
      'init',
      '--data-dir',
      data,
      '--dialect',
      'tuf',
      '--keyholder',
      `alice=${path.join(repo.dir, 'alice.pub.pem')}`,
      '--root-keyholders',
      'alice',
      '--root-threshold',
      '1',
      '--targets-threshold',
      '1',
    ]);
    expect(init.code, init.stderr).toBe(0);
    const other = await new Coordinator(data).start();
    try {
      const home = aliceHomeCopy((c) => (c.server = other.url)); // the address now leads to the other one
      const r = await signer(['rounds', '--home', home]);
      expect(r.code, r.stdout).toBe(1);
      expect(r.stderr).toMatch(/^SERVER_CHANGED: /m);
      const events = await auditEvents(data);
      expect(events.filter((e) => e.event === 'auth.failed')).toEqual([]);
      // nobody logged in there: the connection was refused before the challenge was signed
      const st = JSON.parse((await quorumHere(['status', '--data-dir', data, '--json'])).stdout) as {
        keyholders: { name: string; connected: boolean }[];
      };
      expect(st.keyholders.find((k) => k.name === 'alice')!.connected).toBe(false);
      // control: the same home at the pinned coordinator works
      const control = await signerHere([
        'rounds',
        '--home',
        aliceHomeCopy(() => undefined),
        '--passphrase-file',
        passphraseFile(),
      ]);
      expect(control.code, control.stderr).toBe(0);
    } finally {
      await other.kill();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it(
    'refuses a hello in another dialect (or from another id) from a coordinator that gives the pinned id at the ' +
      'challenge',
    async () => {
      for (const hello of [
        { serverId, dialect: 'ota' as const },
        { serverId: 'someone-else', dialect: 'tuf' as const },
      ]) {
        const fake = await new HelloFake(serverId, hello).start();
        try {
          const home = aliceHomeCopy((c) => (c.server = fake.url));
          const r = await signer(['rounds', '--home', home]);
          expect(r.code, JSON.stringify(hello)).toBe(1);
          expect(r.stderr, JSON.stringify(hello)).toMatch(/^SERVER_CHANGED: /m);
          expect(fake.logins, 'the fake got a login: the challenge id matched').toBe(1);
          expect(fake.received, 'nothing is sent after a wrong hello').toEqual([]);
        } finally {
          await fake.close();
        }
      }
    },
  );

  it('pins a config.json written without a server id at its first connection, then holds it', async () => {
    const home = aliceHomeCopy((c) => {
      delete c.serverId;
      delete c.dialect;
    });
    const r = await signer(['rounds', '--home', home]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`pinned coordinator ${serverId}`);
    expect(cfgOf(home)).toMatchObject({ serverId, dialect: 'tuf' });
  });
});

describe('the login binds the pinned TLS certificate', () => {
  let relay: Relay;
  const dir = tmpdir('quorum-relay-');
  beforeAll(async () => {
    relay = await new Relay(repo.coordinator.url, dir).start();
  });
  afterAll(async () => {
    await relay?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a login relayed by another coordinator (its own certificate) fails at the real one: AUTH_SIGNATURE', async () => {
    const home = path.join(dir, 'home');
    // The signer joins the relay, pinning the relay's certificate; the relay passes on the real
    // coordinator's id and dialect, its challenges, the login and every frame.
    const j = await signer([
      'join',
      relay.url,
      '--key',
      repo.keys.alice!,
      '--home',
      home,
      '--tls-fingerprint',
      relay.fingerprint,
      '--trust-first-root',
    ]);
    expect(j.code, j.stderr).toBe(0);
    expect(cfgOf(home).serverId).toBe(serverId);
    const r = await signer(['rounds', '--home', home]);
    expect(r.code, r.stdout).toBe(1);
    expect(r.stderr).toMatch(/^AUTH_SIGNATURE: /m);
    expect(relay.upgrades).toEqual([401]);
    // What the signer signed names the relay's certificate, which the real coordinator is not.
    const login = relay.logins.at(-1)!;
    const alice = keySigner(repo.keys.alice!);
    expect(
      verifySignature(alice.publicKey, authMessage(serverId, login.nonce, login.key, relay.fingerprint), login.sig),
    ).toBe(true);
    expect(verifySignature(alice.publicKey, authMessage(serverId, login.nonce, login.key, null), login.sig)).toBe(
      false,
    );
    // control: the same key, joined to the real coordinator, logs in
    const direct = await signerHere(['rounds', '--home', repo.homes.alice!, '--passphrase-file', passphraseFile()]);
    expect(direct.code, direct.stderr).toBe(0);
  });
});

describe('trust on first use is a choice', () => {
  // The joins run in this process (signerHere): the rule is the command's, not the process's.
  it('join needs --trusted-root or --trust-first-root, and writes nothing without', async () => {
    const home = tmpdir('quorum-no-root-');
    const r = await signerHere(['join', repo.coordinator.url, '--key', repo.keys.bob!, '--home', home]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--trust-first-root');
    expect(fs.existsSync(path.join(home, 'config.json'))).toBe(false);
    const both = await signerHere([
      'join',
      repo.coordinator.url,
      '--key',
      repo.keys.bob!,
      '--home',
      home,
      '--trust-first-root',
      '--trusted-root',
      path.join(repo.dataDir, 'releases', 'current', '1.root.json'),
    ]);
    expect(both.code).toBe(2);
    const ok = await signerHere([
      'join',
      repo.coordinator.url,
      '--key',
      repo.keys.bob!,
      '--home',
      home,
      '--trusted-root',
      path.join(repo.dataDir, 'releases', 'current', '1.root.json'),
    ]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('pinned trusted root version 1');
    expect(cfgOf(home).trustFirstRoot).toBeUndefined();
  });

  it('a config that never chose trust on first use, with no root pinned, signs nothing: NO_TRUSTED_ROOT', async () => {
    const fw = path.join(repo.dir, 'fw-tofu.bin');
    fs.writeFileSync(fw, 'fw\n');
    const o = await quorumHere([
      'round',
      'open',
      'targets',
      '--data-dir',
      repo.dataDir,
      '--reason',
      'tofu check',
      '--add',
      fw,
      '--name',
      'fw-tofu',
      '--version',
      '1',
      '--json',
    ]);
    expect(o.code, o.stderr).toBe(0);
    const id = (JSON.parse(o.stdout) as { id: string }).id;
    try {
      const home = aliceHomeCopy((c) => delete c.trustFirstRoot);
      fs.rmSync(path.join(home, 'roots'), { recursive: true, force: true });
      const s = await signer(['sign', id, '--yes', '--home', home]);
      expect(s.code).toBe(1);
      expect(s.stderr).toMatch(/^NO_TRUSTED_ROOT: /m);
    } finally {
      const cancel = await quorumHere(['round', 'cancel', id, '--reason', 'test done', '--data-dir', repo.dataDir]);
      expect(cancel.code, cancel.stderr).toBe(0);
    }
  });
});

describe('serve decides loopback by the address it binds', () => {
  it('resolves the host first: a name spelled like loopback is judged by where it leads', async () => {
    const lookup = (answers: Record<string, string>) => async (h: string) => ({
      address: answers[h] ?? '203.0.113.9',
      family: 4,
    });
    expect(await bindAddress('127.evil.example', lookup({}))).toEqual({ address: '203.0.113.9', loopback: false });
    expect(await bindAddress('localhost', lookup({ localhost: '::1' }))).toEqual({ address: '::1', loopback: true });
    expect(await bindAddress('127.0.0.5')).toEqual({ address: '127.0.0.5', loopback: true });
    expect((await bindAddress('[::1]')).loopback).toBe(true);
    expect((await bindAddress('::ffff:127.0.0.1')).loopback).toBe(true);
    for (const h of ['0.0.0.0', '::', '128.0.0.1', '::ffff:10.0.0.1'])
      expect((await bindAddress(h)).loopback, h).toBe(false);
    await expect(
      bindAddress('no-such-host.invalid', async () => Promise.reject(new Error('ENOTFOUND'))),
    ).rejects.toMatchObject({ code: 'USAGE' });
  });

  it('refuses plain ws:// on 0.0.0.0 and ::, and serves it on another loopback address (127.0.0.2)', async () => {
    const dir = tmpdir('quorum-bind-');
    const data = path.join(dir, 'data');
    expect((await quorumHere(['init', '--data-dir', data, '--dialect', 'tuf'])).code).toBe(0);
    try {
      for (const host of ['0.0.0.0', '::']) {
        const r = await quorum(['serve', '--data-dir', data, '--host', host, '--port', '0']);
        expect(r.code, host).toBe(2);
        expect(r.stderr, host).toMatch(/^USAGE: .*--unsafe-plaintext/m);
      }
      const c = await new Coordinator(data, ['--host', '127.0.0.2']).start();
      try {
        expect(c.url).toMatch(/^http:\/\/127\.0\.0\.2:\d+$/);
        expect((await fetch(`${c.url}/v1/health`)).status).toBe(200);
      } finally {
        await c.kill();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the data files', () => {
  it('quorum.db and its WAL and SHM files are owner-only, even if loosened while stopped', async () => {
    const db = path.join(repo.dataDir, 'quorum.db');
    const mode = (f: string) => fs.statSync(f).mode & 0o777;
    for (const f of [db, `${db}-wal`, `${db}-shm`]) expect(mode(f).toString(8), f).toBe('600');
    await repo.coordinator.kill();
    fs.chmodSync(db, 0o644);
    await repo.coordinator.start(repo.coordinator.port);
    for (const f of [db, `${db}-wal`, `${db}-shm`]) expect(mode(f).toString(8), f).toBe('600');
  });
});

/** Speaks the wire protocol: the challenge with `challengeId`, then a hello with `hello`'s id and dialect. */
class HelloFake {
  readonly received: unknown[] = [];
  logins = 0;
  url = '';
  private server: http.Server;
  private wss = new WebSocketServer({ noServer: true });
  constructor(challengeId: string, hello: { serverId: string; dialect: 'ota' | 'tuf' }) {
    this.server = http.createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify(
          req.url === '/v1/challenge'
            ? { serverId: challengeId, nonce: 'ab'.repeat(32) }
            : { ok: true, serverId: challengeId, dialect: 'tuf' },
        ),
      );
    });
    this.server.on('upgrade', (req, socket, head) => {
      this.logins++;
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        const m: ServerMessage = {
          type: 'hello',
          version: WIRE_VERSION,
          serverId: hello.serverId,
          keyholder: 'alice',
          dialect: hello.dialect,
        };
        ws.send(JSON.stringify(ServerMessageSchema.parse(m)));
        ws.on('message', (d) => this.received.push(JSON.parse(d.toString())));
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
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/**
 * Another coordinator, with its own TLS certificate, that relays everything to the real one: its
 * health and challenges, the login headers at the upgrade, and every frame both ways.
 */
class Relay {
  readonly logins: { key: string; nonce: string; sig: Buffer }[] = [];
  /** HTTP status the real coordinator gave each relayed upgrade (101 when it admitted it). */
  readonly upgrades: number[] = [];
  url = '';
  fingerprint: string;
  private server: https.Server;
  private wss = new WebSocketServer({ noServer: true });
  private sockets: WebSocket[] = [];
  constructor(
    private readonly target: string,
    dir: string,
  ) {
    this.fingerprint = makeTlsCertificate(dir, ['127.0.0.1']);
    this.server = https.createServer(
      {
        cert: fs.readFileSync(path.join(dir, 'tls', 'cert.pem')),
        key: fs.readFileSync(path.join(dir, 'tls', 'key.pem')),
      },
      (req, res) => {
        void fetch(`${this.target}${req.url}`).then(async (r) => {
          res.writeHead(r.status, { 'content-type': 'application/json' });
          res.end(await r.text());
        });
      },
    );
    this.server.on('upgrade', (req, socket, head) => {
      const h = (n: string) => String(req.headers[n] ?? '');
      this.logins.push({
        key: h('x-quorum-key'),
        nonce: h('x-quorum-nonce'),
        sig: Buffer.from(h('x-quorum-signature'), 'base64'),
      });
      const up = new WebSocket(`${this.target.replace(/^http/, 'ws')}/v1/ws`, {
        headers: {
          'x-quorum-key': h('x-quorum-key'),
          'x-quorum-nonce': h('x-quorum-nonce'),
          'x-quorum-signature': h('x-quorum-signature'),
        },
      });
      this.sockets.push(up);
      const early: WebSocket.RawData[] = [];
      let down: WebSocket | null = null;
      up.on('message', (d) => (down ? down.send(d.toString()) : early.push(d)));
      up.on('unexpected-response', (_r, res) => {
        this.upgrades.push(res.statusCode ?? 0);
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          socket.end(
            `HTTP/1.1 ${res.statusCode} Refused\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n${Buffer.concat(chunks).toString()}`,
          ),
        );
      });
      up.on('error', () => socket.destroy());
      up.on('open', () => {
        this.upgrades.push(101);
        this.wss.handleUpgrade(req, socket, head, (ws) => {
          down = ws;
          for (const d of early.splice(0)) ws.send(d.toString());
          ws.on('message', (d) => up.send(d.toString()));
          ws.on('close', () => up.close());
          up.on('close', () => ws.close());
        });
      });
    });
  }
  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.url = `https://127.0.0.1:${(this.server.address() as { port: number }).port}`;
    return this;
  }
  async close(): Promise<void> {
    for (const s of this.sockets) s.terminate();
    for (const c of this.wss.clients) c.terminate();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
