/** Where the repository is, whether this runs from test/ (vitest) or from dist/test/ (demo, bench). */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(from: string): string {
  for (let d = from; ; d = path.dirname(d)) {
    if (fs.existsSync(path.join(d, 'package.json')) && fs.existsSync(path.join(d, 'protocol'))) return d;
    if (path.dirname(d) === d) throw new Error(`no repository root above ${from}`);
  }
}

export const REPO = findRoot(path.dirname(fileURLToPath(import.meta.url)));
export const QUORUM = path.join(REPO, 'dist/bin/quorum.js');
export const SIGNER = path.join(REPO, 'dist/bin/quorum-signer.js');
/** Real-world metadata and vectors, in the repository with their provenance (test/fixtures/PROVENANCE.md). */
export const FIXTURES = path.join(REPO, 'test/fixtures');
