/**
 * The current release where clients fetch it: `quorum serve --publish` answers GET/HEAD under
 * /repository/ with the latest committed release (read from the store, never from a path the
 * request names), and `quorum publish DIR` copies it into a folder for a web server or a bucket
 * sync. The layout is what TUF clients and aktualizr fetch: `N.root.json`, `root.json`,
 * `targets.json`, `snapshot.json`, `timestamp.json`, each delegated targets role's `<name>.json`
 * (`tuf`), and with consistent snapshots (a root with `consistent_snapshot: true`) `N.snapshot.json`
 * and `N.targets.json` too.
 *
 * Cache headers: the names whose content changes (`timestamp.json` above all, refreshed by the
 * coordinator every few hours) are `no-cache` with a strong ETag, so a cache revalidates on every
 * request and never serves a stale timestamp past its refresh; versioned names never change and
 * are `immutable`.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { parseMetadata } from '../protocol/verify.js';
import type { Dialect } from '../protocol/canonical.js';
import { repoState } from './rounds.js';
import type { Store } from './store.js';

export const REPOSITORY_PREFIX = '/repository/';

/**
 * The names served and published: the top-level roles, optionally versioned, and (`tuf`) delegated
 * targets roles as clients ask for them (`<name>.json`, `<version>.<name>.json`; hash bins too). A
 * name is only ever looked up among the release's own files.
 */
const NAME_RE = /^(?:([1-9]\d{0,8})\.)?([A-Za-z0-9_][A-Za-z0-9._-]{0,63})\.json$/;

/** The files of a release in the layout clients fetch (consistent-snapshot names added when root asks for them). */
export function repositoryFiles(files: Record<string, Buffer>, dialect: Dialect): Record<string, Buffer> {
  const out: Record<string, Buffer> = { ...files };
  const root = files['root.json'];
  if (!root || dialect !== 'tuf') return out;
  if (parseMetadata(root, 'root.json', 'root', dialect).signed.consistent_snapshot !== true) return out;
  for (const role of ['snapshot', 'targets'] as const) {
    const bytes = files[`${role}.json`];
    if (bytes) out[`${parseMetadata(bytes, `${role}.json`, role, dialect).signed.version}.${role}.json`] = bytes;
  }
  return out;
}

/** The order files are written in so that a client reading the folder meanwhile sees what it checks first last. */
function publishOrder(name: string): number {
  const m = NAME_RE.exec(name);
  const role = m?.[2];
  const rank = { root: 0, targets: 1, snapshot: 2, timestamp: 3 }[role ?? 'root'] ?? 0;
  return rank * 2 + (m?.[1] ? 0 : 1); // versioned names before the plain name of the same role
}

/**
 * Write `files` into `dir`, each file to a temporary name, synced, then renamed into place, in
 * the order root, targets, snapshot, timestamp (TUF's publishing order: what the timestamp names
 * exists before the timestamp does). Files of earlier releases are kept (a client may be fetching
 * them). Returns the names written.
 */
export function publishTo(dir: string, files: Record<string, Buffer>): string[] {
  fs.mkdirSync(dir, { recursive: true });
  const names = Object.keys(files).sort((a, b) => publishOrder(a) - publishOrder(b) || a.localeCompare(b));
  for (const name of names) {
    const target = path.join(dir, name);
    const tmp = path.join(dir, `.${name}.tmp-${process.pid}`);
    const fd = fs.openSync(tmp, 'w', 0o644);
    try {
      fs.writeSync(fd, files[name]!);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, target);
  }
  return names;
}

/** The current release of a data dir, as published in releases/current (read through the link once). */
export function currentRelease(dataDir: string): { seq: string; files: Record<string, Buffer> } | null {
  const link = path.join(dataDir, 'releases', 'current');
  if (!fs.existsSync(link)) return null;
  const real = fs.realpathSync(link);
  const files: Record<string, Buffer> = {};
  for (const n of fs.readdirSync(real)) if (NAME_RE.test(n)) files[n] = fs.readFileSync(path.join(real, n));
  return { seq: path.basename(real), files };
}

/** How many earlier releases a versioned snapshot/targets name is looked up in (clients mid-update). */
const LOOKBACK = 10;

/** The bytes a client asking for `name` gets, or null (404). */
function lookup(store: Store, name: string): Buffer | null {
  const m = NAME_RE.exec(name);
  if (!m) return null;
  const st = repoState(store);
  const files = repositoryFiles(st.files, st.dialect);
  if (files[name]) return files[name];
  const [, version, role] = m;
  if (!version || (role !== 'snapshot' && role !== 'targets') || !files[`${role}.json`]) return null;
  if (!Object.keys(files).some((n) => n.endsWith(`.${role}.json`))) return null; // no consistent snapshots
  // N.snapshot.json of a release just replaced: a client holding the previous timestamp asks for it.
  for (let seq = (st.releaseSeq ?? 0) - 1; seq > 0 && seq >= (st.releaseSeq ?? 0) - LOOKBACK; seq--) {
    const bytes = store.releaseFiles(seq)[`${role}.json`];
    if (bytes && String(parseMetadata(bytes, name, role, st.dialect).signed.version) === version) return bytes;
  }
  return null;
}

/** GET/HEAD of `/repository/NAME`: the file, with the cache headers above; 404 for anything else. */
export function repositoryHandler(
  store: Store,
): (req: http.IncomingMessage, res: http.ServerResponse, name: string) => void {
  return (req, res, name) => {
    const text = (status: number, body: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...headers });
      res.end(req.method === 'HEAD' ? undefined : `${body}\n`);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return text(405, 'read-only: GET or HEAD', { allow: 'GET, HEAD' });
    const bytes = lookup(store, name);
    if (!bytes) return text(404, `no ${name} in the current release`);
    const etag = `"${crypto.createHash('sha256').update(bytes).digest('hex')}"`;
    const versioned = !!NAME_RE.exec(name)?.[1];
    const headers = {
      'content-type': 'application/json',
      etag,
      'cache-control': versioned ? 'public, max-age=31536000, immutable' : 'no-cache',
    };
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, headers);
      return res.end();
    }
    res.writeHead(200, { ...headers, 'content-length': String(bytes.length) });
    res.end(req.method === 'HEAD' ? undefined : bytes);
  };
}
