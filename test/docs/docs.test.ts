/**
 * The docs hold together, without running anything:
 * - every relative link in README.md and docs/**.md points to a file that exists, and every
 *   `#anchor` to a heading of that file;
 * - every guide runs in exactly one sandbox of test/docs/sandboxes.ts (so a new guide cannot go
 *   untested), and its blocks are only `sh` (run), `text` (output), or files shown (`yaml`, `json`),
 *   never an unmarked or `bash`/`shell`/`console` block that would look like commands nobody runs;
 * - every `quorum` or `quorum-signer` command in an `sh` block outside the guides (the README's
 *   signing story) is one a guide runs, word for word;
 * - every error code or environment variable the docs name in backquotes exists in the code, and
 *   every `npm run` script they name exists in package.json;
 * - the admin API's table in docs/reference/wire-protocol.md is the route table of
 *   coordinator/admin-api.ts, row for row (name, method, path);
 * - the README stays a front page (at most 200 lines) and shows `npm test` as the test command.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ADMIN_ROUTES } from '../../coordinator/admin-api.js';
import { REPO } from '../paths.js';
import { commandLines, fences, guideFiles, GUIDES, segments } from './guide-runner.js';
import { SANDBOXES } from './sandboxes.js';

function markdownFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? markdownFiles(p) : e.name.endsWith('.md') ? [p] : [];
  });
}

const DOCS = [path.join(REPO, 'README.md'), ...markdownFiles(path.join(REPO, 'docs'))];
const rel = (f: string) => path.relative(REPO, f);

/** Text outside fenced blocks. */
function unfenced(markdown: string): string {
  return markdown.replace(/^(\s*)(`{3,}|~{3,})[^\n]*\n[\s\S]*?^\1\2[ \t]*$/gm, '');
}

/** Text outside fenced blocks and inline code, where links live. */
const prose = (markdown: string) => unfenced(markdown).replace(/`[^`\n]*`/g, '');

/** Names in backquotes that are other projects' (aktualizr's libcurl option, Node's CA variable), not ours. */
const NOT_OURS = new Set(['CURLOPT_MAXFILESIZE', 'NODE_EXTRA_CA_CERTS']);

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const m of unfenced(markdown).matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const text = m[1]!.replace(/`/g, '').replace(/\[([^\]]*)\]\([^)]*\)/g, '$1');
    const base = text
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

describe('links', () => {
  for (const file of DOCS) {
    it(`${rel(file)}: every relative link resolves`, () => {
      const text = fs.readFileSync(file, 'utf8');
      const broken: string[] = [];
      for (const m of prose(text).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
        const target = m[1]!;
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
        const [p, anchor] = target.split('#') as [string, string | undefined];
        const dest = p === '' ? file : path.resolve(path.dirname(file), decodeURIComponent(p));
        if (!fs.existsSync(dest)) {
          broken.push(`${target}: no such file`);
          continue;
        }
        if (anchor !== undefined && fs.statSync(dest).isFile() && dest.endsWith('.md')) {
          if (!anchors(fs.readFileSync(dest, 'utf8')).has(anchor))
            broken.push(`${target}: no heading #${anchor} in ${rel(dest)}`);
        }
      }
      expect(broken).toEqual([]);
    });
  }
});

describe('guides', () => {
  it('every guide runs in exactly one sandbox, and every sandbox guide exists', () => {
    const assigned = Object.values(SANDBOXES).flatMap((s) => s.guides);
    expect([...assigned].sort()).toEqual(guideFiles());
  });

  for (const guide of guideFiles()) {
    it(`${guide}: commands only in sh blocks, each block's machines named`, () => {
      const text = fs.readFileSync(path.join(GUIDES, guide), 'utf8');
      const fs_ = fences(text);
      expect(fs_.filter((f) => !['sh', 'text', 'yaml', 'json'].includes(f.lang)).map((f) => `line ${f.line}`)).toEqual(
        [],
      );
      const sh = fs_.filter((f) => f.lang === 'sh');
      expect(sh.length).toBeGreaterThan(0);
      for (const f of sh) expect(segments(f).length).toBeGreaterThan(0);
    });
  }

  it("the README's and references' commands are ones a guide runs, word for word", () => {
    const run = new Set(
      guideFiles().flatMap((g) =>
        fences(fs.readFileSync(path.join(GUIDES, g), 'utf8'))
          .filter((f) => f.lang === 'sh')
          .flatMap((f) => commandLines(f.body)),
      ),
    );
    const stray: string[] = [];
    for (const file of DOCS.filter((f) => !f.startsWith(GUIDES + path.sep))) {
      for (const f of fences(fs.readFileSync(file, 'utf8')).filter((x) => x.lang === 'sh')) {
        for (const c of commandLines(f.body))
          if (/^(quorum|quorum-signer)\s/.test(c) && !run.has(c)) stray.push(`${rel(file)}:${f.line}: ${c}`);
      }
    }
    expect(stray).toEqual([]);
  });
});

describe('names', () => {
  const source = ['protocol', 'coordinator', 'signer-client', 'test/bench']
    .flatMap((d) =>
      fs.readdirSync(path.join(REPO, d), { recursive: true, encoding: 'utf8' }).map((f) => path.join(d, f)),
    )
    .filter((f) => f.endsWith('.ts'))
    .map((f) => fs.readFileSync(path.join(REPO, f), 'utf8'))
    .join('\n');
  const words = new Set(source.match(/\b[A-Z][A-Z0-9_]*[A-Z0-9]\b/g));

  it('every error code and environment variable the docs name exists in the code', () => {
    const missing: string[] = [];
    for (const file of DOCS) {
      const text = fs.readFileSync(file, 'utf8');
      for (const m of text.matchAll(/`([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)`/g))
        if (!words.has(m[1]!) && !NOT_OURS.has(m[1]!)) missing.push(`${rel(file)}: ${m[1]}`);
    }
    expect([...new Set(missing)]).toEqual([]);
  });
});

describe('npm scripts', () => {
  it('every `npm run X` the docs name is a script of package.json', () => {
    const scripts = (JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { scripts: object })
      .scripts;
    const missing: string[] = [];
    for (const file of DOCS)
      for (const m of fs.readFileSync(file, 'utf8').matchAll(/npm run ([a-z][\w:-]*)/g))
        if (!(m[1]! in scripts)) missing.push(`${rel(file)}: npm run ${m[1]}`);
    expect(missing).toEqual([]);
  });
});

describe('admin API reference', () => {
  it("wire-protocol.md's admin table is the route table of coordinator/admin-api.ts", () => {
    const text = fs.readFileSync(path.join(REPO, 'docs', 'reference', 'wire-protocol.md'), 'utf8');
    const documented = [...text.matchAll(/^\| `([\w.]+)` \| `(GET|POST|DELETE) (\/[^`]*)` \|/gm)].map(
      (m) => `${m[1]} ${m[2]} ${m[3]}`,
    );
    const routes = Object.entries(ADMIN_ROUTES).map(([name, r]) => `${name} ${r.method} ${r.path}`);
    expect(documented).toEqual(routes);
  });
});

describe('README', () => {
  const readme = fs.readFileSync(path.join(REPO, 'README.md'), 'utf8');
  it('is a front page: at most 200 lines', () => {
    expect(readme.split('\n').length).toBeLessThanOrEqual(200);
  });
  it('shows `npm test` as the test command, in the quick start', () => {
    expect(fences(readme).some((f) => f.lang === 'sh' && f.body.some((l) => /^npm test\b/.test(l)))).toBe(true);
  });
});
