/**
 * Real processes for integration tests: the built `quorum` and `quorum-signer` commands run as
 * child processes, the coordinator on a loopback port (port 0) with its own data dir and SQLite
 * file in a temporary folder. Nothing of our own is mocked. Set-up and admin commands a test is not
 * about run in the test process through the same command trees (runHere, quorumHere, signerHere):
 * the same code, files and output, without a process's start-up each.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

import {
  adminClient,
  adminRequest,
  adminResponse,
  type AdminArgs,
  type AdminResponse,
  type RouteName,
} from '../../coordinator/admin-api.js';
import { QUORUM as QUORUM_COMMANDS } from '../../coordinator/commands.js';
import { dispatch, type Group, type Node } from '../../protocol/cli.js';
import { QUORUM, SIGNER } from '../paths.js';

export { QUORUM, REPO, SIGNER } from '../paths.js';
export const PASSPHRASE = 'correct horse battery staple';
/** Test keys use the minimum scrypt cost the key-file reader accepts, to keep tests fast. */
export const TEST_SCRYPT_N = '16384';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(
  bin: string,
  args: string[],
  opts: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [bin, ...args], {
      cwd: opts.cwd,
      env: { ...process.env, QUORUM_PASSPHRASE: PASSPHRASE, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const t = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`${path.basename(bin)} ${args.join(' ')} timed out\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, opts.timeoutMs ?? 60_000);
    p.on('close', (code) => {
      clearTimeout(t);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

export const quorum = (args: string[], opts?: Parameters<typeof run>[2]) => run(QUORUM, args, opts);
export const signer = (args: string[], opts?: Parameters<typeof run>[2]) => run(SIGNER, args, opts);

/**
 * A command run in this process through its command tree (`dispatch`, the code the executable
 * runs), reported as `run` reports a child process: exit status, stdout, stderr. For set-up a test
 * is not about (a child process costs 0.3-0.6 s of CPU; this costs the command's own work). Only
 * for commands that are safe here: no prompt (give --passphrase-file, --yes), no signal handlers
 * (not serve or watch), --data-dir / --home always given.
 */
async function runHere(
  tree: Group,
  prog: string,
  args: string[],
  /** sees each line as it is printed (a long-running command's progress) */
  log?: (s: string) => void,
): Promise<RunResult> {
  const out: string[] = [];
  const err: string[] = [];
  const io = {
    out: (s: string) => void (out.push(`${s}\n`), log?.(`${s}\n`)),
    err: (s: string) => void (err.push(`${s}\n`), log?.(`${s}\n`)),
  };
  let code: number;
  try {
    code = await dispatch(tree, prog, args, io);
  } catch (e) {
    // as main() reports a crash
    io.err(`internal error: ${(e as Error).stack ?? e}`);
    code = 1;
  }
  return { code, stdout: out.join(''), stderr: err.join('') };
}

/** `quorum ARGS` run in this process (runHere). */
export const quorumHere = (args: string[]) => runHere(QUORUM_COMMANDS, 'quorum', args);

/** Whether the command `args` name in `tree` takes --passphrase-file. */
function takesPassphrase(tree: Group, args: string[]): boolean {
  let node: Node = tree;
  for (const a of args) {
    if (node.kind === 'command') break;
    const next: Node | undefined = Object.hasOwn(node.commands, a) ? node.commands[a] : undefined;
    if (!next) return false;
    node = next;
  }
  return node.kind === 'command' && Object.hasOwn(node.options, 'passphrase-file');
}

/**
 * `quorum-signer ARGS` run in this process (runHere), reading the key passphrase from
 * passphraseFile() where the command reads one and ARGS name no file. The command tree is imported
 * on first use (it loads every signer module).
 */
export async function signerHere(args: string[], log?: (s: string) => void): Promise<RunResult> {
  const { QUORUM_SIGNER } = await import('../../signer-client/commands.js');
  const pass =
    takesPassphrase(QUORUM_SIGNER, args) && !args.includes('--passphrase-file')
      ? ['--passphrase-file', passphraseFile()]
      : [];
  return runHere(QUORUM_SIGNER, 'quorum-signer', [...args, ...pass], log);
}

/**
 * `quorum-signer keygen --out DIR/NAME` at the tests' scrypt cost, in this process (set-up): writes
 * DIR/NAME.key.json and DIR/NAME.pub.pem.
 */
export const keygenHere = (dir: string, name: string, type = 'ed25519') =>
  signerHere(['keygen', '--out', path.join(dir, name), '--scrypt-n', TEST_SCRYPT_N, '--type', type]);

/** `quorum-signer cert approve ROUND --yes` as each of `who` in turn, in this process (set-up). */
export async function approveHere(repo: Repo, round: string, who: string[]): Promise<void> {
  for (const k of who) {
    const r = await signerHere(['cert', 'approve', round, '--yes', '--home', repo.homes[k]!]);
    if (r.code !== 0) throw new Error(`cert approve ${round} as ${k}: ${r.stderr}`);
  }
}

/**
 * `quorum-signer sign ROUND --yes` in this process (signerHere), over a real WebSocket to the
 * coordinator: for signatures that are a test's set-up, not what it checks (those run the real
 * `quorum-signer sign`, as `signer`).
 */
export async function signHere(round: string, home: string): Promise<RunResult> {
  return signerHere(['sign', round, '--yes', '--home', home, '--passphrase-file', passphraseFile()]);
}

let passFile = '';
/**
 * A file holding PASSPHRASE, for --passphrase-file in signerHere (the environment stays untouched):
 * one per worker process, not one per test file.
 */
export function passphraseFile(): string {
  if (!passFile) {
    passFile = path.join(os.tmpdir(), `quorum-test-passphrase-${process.pid}`);
    fs.writeFileSync(passFile, `${PASSPHRASE}\n`, { mode: 0o600 });
  }
  return passFile;
}

/** A long-running `quorum-signer` (e.g. frost join or frost sign, which wait for the other participants). */
export function background(args: string[]): { done: Promise<RunResult>; log: () => string; proc: ChildProcess } {
  const p = spawn(process.execPath, [SIGNER, ...args], {
    env: { ...process.env, QUORUM_PASSPHRASE: PASSPHRASE },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  p.stdout!.on('data', (d) => (stdout += d));
  p.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<RunResult>((resolve) =>
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr })),
  );
  return { done, log: () => stdout + stderr, proc: p };
}

/** The arguments of `quorum-signer frost join CEREMONY` for one participant (JSON outcome on stdout). */
export const frostJoinArgs = (home: string, ceremony: string) => [
  'frost',
  'join',
  ceremony,
  '--yes',
  '--home',
  home,
  '--scrypt-n',
  TEST_SCRYPT_N,
  '--json',
  '--timeout-s',
  '90',
];

/** `quorum-signer frost join CEREMONY` for one participant, a process. */
export const frostJoin = (home: string, ceremony: string) => background(frostJoinArgs(home, ceremony));

export function tmpdir(prefix = 'quorum-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A running `quorum serve` child process. */
export class Coordinator {
  proc: ChildProcess | null = null;
  url = '';
  log = '';

  constructor(
    readonly dataDir: string,
    readonly extraArgs: string[] = [],
    /** Extra environment for `quorum serve` (e.g. QUORUM_SLOW_READER_MS). */
    readonly env: Record<string, string> = {},
  ) {}

  get adminToken(): string {
    return fs.readFileSync(path.join(this.dataDir, 'admin.token'), 'utf8').trim();
  }

  /** Start (or restart) on a fresh port and wait until it listens. */
  async start(port = 0): Promise<this> {
    const info = path.join(this.dataDir, 'server.json');
    fs.rmSync(info, { force: true });
    const p = spawn(
      process.execPath,
      [QUORUM, 'serve', '--data-dir', this.dataDir, '--port', String(port), ...this.extraArgs],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...this.env } },
    );
    this.proc = p;
    p.stdout!.on('data', (d) => (this.log += d));
    p.stderr!.on('data', (d) => (this.log += d));
    const deadline = Date.now() + 20_000;
    while (!fs.existsSync(info)) {
      if (p.exitCode !== null) throw new Error(`quorum serve exited with ${p.exitCode}:\n${this.log}`);
      if (Date.now() > deadline) throw new Error(`quorum serve did not start:\n${this.log}`);
      await sleep(25);
    }
    this.url = (JSON.parse(fs.readFileSync(info, 'utf8')) as { url: string }).url;
    return this;
  }

  /** The port it listens on (to restart on the same one, so signers can reconnect). */
  get port(): number {
    return Number(new URL(this.url).port);
  }

  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const done = new Promise((r) => p.once('exit', r));
    p.kill(signal);
    await done;
  }
}

/** A running `quorum-signer watch --unsafe-auto-sign` child process. */
export class Watcher {
  proc: ChildProcess;
  log = '';
  constructor(home: string, extra: string[] = []) {
    this.proc = spawn(process.execPath, [SIGNER, 'watch', '--unsafe-auto-sign', '--home', home, ...extra], {
      env: { ...process.env, QUORUM_PASSPHRASE: PASSPHRASE },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc.stdout!.on('data', (d) => (this.log += d));
    this.proc.stderr!.on('data', (d) => (this.log += d));
  }
  async waitFor(re: RegExp, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!re.test(this.log)) {
      if (Date.now() > deadline) throw new Error(`watcher never printed ${re}:\n${this.log}`);
      await sleep(25);
    }
  }
  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const done = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGTERM');
    await done;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function until<T>(fn: () => T | Promise<T>, what: string, timeoutMs = 20_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

export interface Repo {
  dialect: 'ota' | 'tuf';
  dir: string;
  dataDir: string;
  coordinator: Coordinator;
  /** keyholder name -> signer home folder */
  homes: Record<string, string>;
  /** keyholder name -> key file */
  keys: Record<string, string>;
}

/**
 * A new repository: keyholders generate keys with quorum-signer keygen, the coordinator is
 * initialised with them (root version 1 becomes round root-v1-r1), started, and every keyholder
 * joins it. Root v1 is not signed yet unless `releaseRoot` is set.
 *
 * keygen, init and join run in this process through their command trees (signerHere, quorumHere:
 * the same code and files as the commands; set-up is not what these tests test, and their three
 * processes per keyholder were most of some files' CPU); join still asks the coordinator, a real
 * `quorum serve` child process, over loopback. Root v1's signatures (releaseRoot) are set-up too:
 * `quorum-signer sign` in this process, over the real WebSocket, unless `signRootHere: false` asks
 * for `quorum-signer sign` processes. The guides (test/docs) run keygen, init
 * and join as processes.
 */
export async function newRepo(opts: {
  dialect: 'ota' | 'tuf';
  keyholders: string[];
  rootThreshold: number;
  targetsThreshold: number;
  releaseRoot?: boolean;
  /**
   * Sign root v1 (releaseRoot) in this process (signHere, over the real WebSocket; the default), or,
   * with false, as `quorum-signer sign` processes.
   */
  signRootHere?: boolean;
  rootKeyholders?: string[];
  serveArgs?: string[];
  serveEnv?: Record<string, string>;
  keyType?: Record<string, string>;
}): Promise<Repo> {
  const dir = tmpdir();
  const dataDir = path.join(dir, 'data');
  const homes: Record<string, string> = {};
  const keys: Record<string, string> = {};
  await Promise.all(
    opts.keyholders.map(async (k) => {
      const r = await keygenHere(dir, k, opts.keyType?.[k] ?? 'ed25519');
      if (r.code !== 0) throw new Error(`keygen ${k}: ${r.stderr}`);
      keys[k] = path.join(dir, `${k}.key.json`);
      homes[k] = path.join(dir, `home-${k}`);
    }),
  );
  const init = await quorumHere([
    'init',
    '--data-dir',
    dataDir,
    '--dialect',
    opts.dialect,
    ...opts.keyholders.flatMap((k) => ['--keyholder', `${k}=${path.join(dir, `${k}.pub.pem`)}`]),
    '--root-keyholders',
    (opts.rootKeyholders ?? opts.keyholders).join(','),
    '--root-threshold',
    String(opts.rootThreshold),
    '--targets-threshold',
    String(opts.targetsThreshold),
  ]);
  if (init.code !== 0) throw new Error(`init: ${init.stderr}`);
  const coordinator = await new Coordinator(dataDir, opts.serveArgs, opts.serveEnv).start();
  for (const k of opts.keyholders) {
    const j = await signerHere(['join', coordinator.url, '--key', keys[k]!, '--home', homes[k]!, '--trust-first-root']);
    if (j.code !== 0) throw new Error(`join ${k}: ${j.stderr}`);
  }
  const repo = { dialect: opts.dialect, dir, dataDir, coordinator, homes, keys };
  if (opts.releaseRoot) {
    for (const k of (opts.rootKeyholders ?? opts.keyholders).slice(0, opts.rootThreshold)) {
      const s =
        (opts.signRootHere ?? true)
          ? await signHere('root-v1-r1', homes[k]!)
          : await signer(['sign', 'root-v1-r1', '--yes', '--home', homes[k]!]);
      if (s.code !== 0) throw new Error(`sign root v1 as ${k}: ${s.stderr}`);
    }
    await until(() => fs.existsSync(path.join(dataDir, 'releases', 'current', '1.root.json')), 'root v1 release');
  }
  return repo;
}

/**
 * `round open targets --add` arguments that say where an ota BINARY target lives (the coordinator
 * refuses it otherwise, OTA_TARGET_LOCATION): uploaded to the reposerver. None in tuf.
 */
export const located = (dialect: 'ota' | 'tuf'): string[] => (dialect === 'ota' ? ['--cli-uploaded'] : []);

/**
 * Connections kept for the next admin call, each closed here after 2 s unused: before the
 * coordinator would close it (Node's http server, 5 s), so no request races that close. A
 * coordinator killed or stopped closes its connections, which leave the pool at once.
 */
const adminAgent = new http.Agent({ keepAlive: true, timeout: 2_000 });

/**
 * An HTTP request over node:http (adminAgent); an https URL goes through fetch. Measured in a
 * vitest worker against a real coordinator (living.check, nothing due), client + server CPU per
 * call: fetch 2.5-4.1 ms, this 0.9-1.3 ms (a new connection each: 1.8-2.7 ms); some tests make
 * thousands of admin calls (living.test.ts: one per simulated hour).
 */
function httpRequest(
  url: string,
  method: string,
  headers: Record<string, string>,
  body?: string,
): Promise<{ status: number; text: string }> {
  if (!url.startsWith('http:'))
    return fetch(url, { method, headers, body }).then(async (res) => ({ status: res.status, text: await res.text() }));
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method,
        agent: adminAgent,
        headers: body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Sends an admin API request to `c` with its admin token; resolves with the HTTP status and JSON. */
async function sendAdmin(
  c: Coordinator,
  r: { method: string; path: string; body: unknown },
): Promise<{ status: number; json: { error?: { code: string; message: string } } }> {
  const { status, text } = await httpRequest(
    `${c.url}${r.path}`,
    r.method,
    { authorization: `Bearer ${c.adminToken}`, 'content-type': 'application/json' },
    r.body === undefined ? undefined : JSON.stringify(r.body),
  );
  return { status, json: JSON.parse(text) as { error?: { code: string; message: string } } };
}

/**
 * Route `name` of the admin API (coordinator/admin-api.ts), for assertions on refusals too: the
 * HTTP status, and either the answer (checked against the route's schema) or the error.
 */
export async function admin<K extends RouteName>(
  c: Coordinator,
  name: K,
  ...req: AdminArgs<K>
): Promise<{ status: number; body?: AdminResponse<K>; error?: { code: string; message: string } }> {
  const { status, json } = await sendAdmin(c, adminRequest(name, ...req));
  if (status === 200 && !json.error) return { status, body: adminResponse(name, json) };
  return { status, error: json.error };
}

/** The typed admin client of the CLI (adminClient) over HTTP: the answer, or an Error naming the code. */
export function adminCall<K extends RouteName>(
  c: Coordinator,
  name: K,
  ...req: AdminArgs<K>
): Promise<AdminResponse<K>> {
  return adminClient(async (r) => {
    const { status, json } = await sendAdmin(c, r);
    if (status !== 200 || json.error)
      throw new Error(`admin ${name}: HTTP ${status} ${json.error?.code ?? ''} ${json.error?.message ?? ''}`);
    return json;
  })(name, ...req);
}

export interface AuditEvent {
  seq: number;
  event: string;
  data: Record<string, unknown>;
}

/**
 * The coordinator's audit log, oldest first: `quorum audit export` run in this process, through the
 * command tree (the same code and output as the command; tests read the log often, and a process
 * per read cost more than the rest of some tests). notify.test.ts and certificates.test.ts run the
 * command itself.
 */
export async function auditEvents(dataDir: string): Promise<AuditEvent[]> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await dispatch(QUORUM_COMMANDS, 'quorum', ['audit', 'export', '--data-dir', dataDir], {
    out: (s) => void out.push(s),
    err: (s) => void err.push(s),
  });
  if (code !== 0) throw new Error(`quorum audit export failed (${code}): ${err.join('\n')}`);
  return out
    .join('\n')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as AuditEvent);
}
