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
import { Updater } from 'tuf-js';

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
      res.writeHead(status, {
        'content-type': status === 200 ? 'application/octet-stream' : 'text/plain',
        'content-length': body ? body.length : 0,
      });
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

/**
 * A device's update with the tuf-js Updater over loopback HTTP: trust `trustedRoot` (a root file
 * of `metadataDir`), refresh from the published metadata folder, download `target` (served from a
 * copy of `targetFile`), hashes checked. Working folders go under `work`. Returns the downloaded
 * file and the root version tuf-js trusts afterwards; throws whatever tuf-js throws.
 */
export async function tufJsDownload(opts: {
  work: string;
  metadataDir: string;
  trustedRoot: string;
  target: string;
  targetFile: string;
}): Promise<{ file: string; rootVersion: number }> {
  const served = path.join(opts.work, 'served-targets');
  const metadataDir = path.join(opts.work, 'tuf-js-metadata');
  const targetDir = path.join(opts.work, 'tuf-js-targets');
  for (const d of [served, metadataDir, targetDir]) fs.mkdirSync(d, { recursive: true });
  // A target path may have folders (a delegated role's firmware/a.bin).
  for (const d of [served, targetDir]) fs.mkdirSync(path.dirname(path.join(d, opts.target)), { recursive: true });
  fs.copyFileSync(opts.targetFile, path.join(served, opts.target));
  fs.copyFileSync(opts.trustedRoot, path.join(metadataDir, 'root.json'));
  const meta = await serveFolder(opts.metadataDir);
  const files = await serveFolder(served);
  try {
    const updater = new Updater({ metadataBaseUrl: meta.url, targetBaseUrl: files.url, metadataDir, targetDir });
    await updater.refresh();
    const info = await updater.getTargetInfo(opts.target);
    if (!info) throw new Error(`tuf-js did not find ${opts.target}`);
    const file = await updater.downloadTarget(info, path.join(targetDir, opts.target));
    const trusted = JSON.parse(fs.readFileSync(path.join(metadataDir, 'root.json'), 'utf8')) as {
      signed: { version: number };
    };
    return { file, rootVersion: trusted.signed.version };
  } finally {
    await meta.close();
    await files.close();
  }
}
