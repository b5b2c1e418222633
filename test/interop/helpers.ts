/**
 * Helpers for the interop tests: a static file server on loopback (real HTTP, 404 for anything
 * missing, as tuf-js's root probe needs), temp folders that are always removed, and running the
 * built `quorum` CLI as a child process.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { QUORUM as CLI, REPO as PROJECT_ROOT } from '../paths.js';

export { CLI, PROJECT_ROOT };

export interface StaticServer {
  /** `http://127.0.0.1:<port>` without a trailing slash. */
  url: string;
  /** Every request served, as `<status> <path>`, in order. */
  log: string[];
  close(): Promise<void>;
}

/** Serve `root` read-only over HTTP on 127.0.0.1 with an ephemeral port. */
export async function serveFolder(root: string): Promise<StaticServer> {
  const base = path.resolve(root);
  const log: string[] = [];
  const server = http.createServer((req, res) => {
    const reply = (status: number, body?: Buffer) => {
      log.push(`${status} ${pathname}`);
      res.writeHead(status, { 'content-type': status === 200 ? 'application/octet-stream' : 'text/plain', 'content-length': body ? body.length : 0 });
      res.end(body);
    };
    let pathname = req.url ?? '/';
    try {
      pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://127.0.0.1').pathname);
    } catch {
      return reply(400);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(405);
    const file = path.resolve(base, '.' + pathname);
    if (file !== base && !file.startsWith(base + path.sep)) return reply(404);
    let body: Buffer;
    try {
      if (!fs.statSync(file).isFile()) return reply(404);
      body = fs.readFileSync(file);
    } catch {
      return reply(404);
    }
    reply(200, req.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    log,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  };
}

/** Temp folders under os.tmpdir(), all removed by `cleanup()`. */
export class TempDirs {
  private readonly dirs: string[] = [];
  make(prefix: string): string {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), `quorum-interop-${prefix}-`));
    this.dirs.push(d);
    return d;
  }
  cleanup(): void {
    for (const d of this.dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  }
}

/** Write `files` (relative paths, may contain folders) under `dir`. */
export function writeTree(dir: string, files: Record<string, Buffer>): void {
  for (const [name, bytes] of Object.entries(files)) {
    const file = path.join(dir, name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, bytes);
  }
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the built `quorum` CLI with `node`; never throws for a non-zero exit. */
export function runCli(args: string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CLI, ...args], { cwd: PROJECT_ROOT, timeout: 30_000 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') return reject(error);
      resolve({ code: error ? (error.code as number) : 0, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}
