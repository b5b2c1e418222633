/**
 * A repository folder on disk, as `quorum verify` reads it and the coordinator writes it:
 * `N.root.json` for root versions, `root.json` (latest), `targets.json`, and optionally
 * `snapshot.json` and `timestamp.json`. Reading never interprets the content; verify.ts does.
 */
import fs from 'node:fs';
import path from 'node:path';
import { QuorumError } from './errors.js';
import { fileError, readFile } from './files.js';
import { LIMITS } from './limits.js';
import type { FileInput, RepositoryInput } from './verify.js';

export function readInput(file: string, name = path.basename(file)): FileInput {
  // An empty file is read (and found not to be JSON by verify, as any other bad content).
  return { name, bytes: readFile(file, '', { maxBytes: LIMITS.maxMetadataBytes, allowEmpty: true }) };
}

/**
 * Load a repository folder. `trustedRoot` pins the anchor; without it the lowest-numbered root
 * in the folder (or root.json) is trusted on first use, and `tofu` says so.
 */
export function loadRepository(dir: string, trustedRoot?: string): RepositoryInput {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (e) {
    throw fileError(e, 'the repository folder', dir);
  }
  const roots = new Map<number, FileInput>();
  for (const n of names) {
    const m = /^([1-9]\d{0,8})\.root\.json$/.exec(n);
    if (m) roots.set(Number(m[1]), readInput(path.join(dir, n)));
  }
  const opt = (n: string) => (names.includes(n) ? readInput(path.join(dir, n)) : undefined);
  const root = opt('root.json');
  let anchor: FileInput;
  let tofu = false;
  if (trustedRoot) {
    anchor = readInput(trustedRoot, `${path.basename(trustedRoot)} (trusted)`);
  } else {
    tofu = true;
    const lowest = Math.min(...roots.keys());
    const first = roots.get(lowest) ?? root;
    if (!first)
      throw new QuorumError(
        'FILE_MISSING',
        `${dir}: no root.json or N.root.json; a repository needs at least one root`,
      );
    anchor = first;
  }
  const input: RepositoryInput = {
    trustedRoot: anchor,
    tofu,
    roots,
    root,
    targets: opt('targets.json'),
    snapshot: opt('snapshot.json'),
    timestamp: opt('timestamp.json'),
    readFile: (name) => {
      const file = path.resolve(dir, name);
      if (!file.startsWith(path.resolve(dir) + path.sep)) return undefined; // never outside the folder
      try {
        return readInput(file, name);
      } catch (e) {
        if (e instanceof QuorumError && e.code === 'FILE_MISSING') return undefined;
        throw e;
      }
    },
  };
  return input;
}
