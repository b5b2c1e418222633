/**
 * Runs the guides in docs/guides/ as they are written, so they cannot drift from the code.
 *
 * Every fenced `sh` block of a guide is a list of commands a person runs. Its first line names
 * the machine with a marker comment, and every later marker switches machines:
 *
 *     # on the coordinator                      the release coordinator's machine (runs `quorum`)
 *     # on the provisioning machine             another machine, named by its role
 *     # on alice's machine                      a keyholder's machine (runs `quorum-signer`)
 *     # on carol's offline machine              a second machine of carol's, never connected
 *     # on alice's, bob's and dave's machines   the same commands on each machine, at the same time
 *
 * Each run of lines under one marker (a segment) is one `bash` script run with `set -euo
 * pipefail`; a marker naming several machines runs the segment on all of them at once (as people
 * do: `frost join` and `frost sign` wait for each other) and waits for all. Segments run in the
 * order they are written; a guide's blocks run in order, and guides in a sandbox run one after
 * another, each continuing from the state the previous one left (docs/guides/README.md says which
 * guide continues which). Blocks that only show output are fenced `text`; a guide may use no
 * other fence that looks like commands (`bash`, `shell`, `console`, or none).
 *
 * The sandbox, one temporary folder per sandbox:
 * - every machine works in the same folder (the files people hand each other, such as
 *   `alice.pub.pem` or a signing bundle, are simply there) with its own `HOME`, so
 *   `~/.quorum-signer` and the coordinator's `./quorum-data` are each machine's own;
 * - `quorum` and `quorum-signer` on `PATH` are the built commands in dist/;
 * - `QUORUM_PASSPHRASE` and `QUORUM_PIN` stand in for what people type at the prompts;
 * - `$COORDINATOR` and `$FINGERPRINT` are the URL and TLS fingerprint `quorum serve` printed
 *   (read from `quorum-data/server.json` after each segment), `$MODULE` is SoftHSM2's PKCS#11
 *   module, and `SOFTHSM2_CONF` points at a token folder inside the sandbox;
 * - `quorum serve` is changed on its way: it runs in the background (until the
 *   sandbox closes), on a free loopback port (`--host 127.0.0.1 --port 0` are appended, so a guide
 *   can never bind another address or collide with another run), and the command returns once it
 *   listens, printing what it printed;
 * - a command that writes a new encrypted key file (`keygen`, `import-garage-sign`, `frost
 *   identity`, `frost join`) without `--scrypt-n` gets `--scrypt-n 16384`, the least cost a key
 *   file may have, as every integration test's keys: at the default cost (2^17) every later use
 *   of the key costs about 0.7 s of CPU, much of a guide's time, and no guide is about the cost
 *   (test/signer-client/keygen.test.ts holds the default). Nothing else is rewritten.
 *
 * What a guide takes as given from outside (a firmware file, a garage-sign folder as OTA Connect
 * leaves it) is written by the sandbox's prelude (test/docs/sandboxes.ts), and the guide says so.
 * A failing segment fails the test with the guide's file and line, the machine, the script and
 * everything it printed; QUORUM_GUIDE_KEEP=1 keeps the sandbox folder to look around in, and
 * QUORUM_GUIDE_CPU=FILE appends each segment's CPU time (bash `times`) to FILE, to see what a guide costs.
 *
 * Cost: every command is a real process (about 1-2 s of CPU each for quorum-signer, most of it
 * loading modules), so the guides show each step once and the sandboxes chain guides instead of
 * repeating their setup; the signing story this runs replaced test/integration/story.test.ts.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { QUORUM, REPO, SIGNER } from '../paths.js';

export const GUIDES = path.join(REPO, 'docs', 'guides');
export const PASSPHRASE = 'correct horse battery staple';
export const PIN = '1234';
export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';

/** A fenced block of a Markdown file: its info string's first word, its first line (1-based), its text. */
export interface Fence {
  lang: string;
  line: number;
  body: string[];
}

/** Every fenced block, with the fence's own indentation removed from its lines (blocks in list items). */
export function fences(markdown: string): Fence[] {
  const out: Fence[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([^\s`]*)/.exec(lines[i]!);
    if (!open) continue;
    const [, indent, marker, lang] = open;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const l = lines[j]!;
      if (l.trim().startsWith(marker!) && l.trim().replace(/[`~]/g, '') === '') break;
      body.push(l.startsWith(indent!) ? l.slice(indent!.length) : l.trimStart());
    }
    if (j === lines.length) throw new Error(`line ${i + 1}: a fenced block that never closes`);
    out.push({ lang: lang!, line: i + 1, body });
    i = j;
  }
  return out;
}

/** Lines run on one or more machines (several: at the same time). */
export interface Segment {
  machines: string[];
  line: number;
  script: string;
}

const MARKER = /^#\s+on\s+(.*?)\s*$/;

/** The machines a marker comment names, or null when the comment is not a marker. */
export function machinesOf(comment: string): string[] | null {
  const m = MARKER.exec(comment);
  if (!m) return null;
  const who = m[1]!.replace(/:$/, '');
  if (who === 'the coordinator') return ['coordinator'];
  const other = /^the ([a-z][a-z0-9-]*) machine$/.exec(who);
  if (other) return [other[1]!];
  const w = /^(.+?)\s+(?:(offline)\s+)?machines?$/.exec(who);
  if (!w) throw new Error(`"${comment}" is not a machine marker ("# on the coordinator", "# on alice's machine")`);
  const names = w[1]!.split(/\s*,\s*(?:and\s+)?|\s+and\s+/);
  return names.map((n) => {
    const k = /^([a-z][a-z0-9-]*)'s$/.exec(n);
    if (!k) throw new Error(`"${comment}": "${n}" is not NAME's`);
    return w[2] ? `${k[1]}-${w[2]}` : k[1]!;
  });
}

/** The segments of a `sh` block; its first non-empty line must be a marker. */
export function segments(f: Fence): Segment[] {
  const out: Segment[] = [];
  let cur: Segment | null = null;
  f.body.forEach((l, i) => {
    const machines = machinesOf(l.trim());
    if (machines) {
      cur = { machines, line: f.line + 1 + i, script: '' };
      out.push(cur);
    } else if (!cur) {
      if (l.trim() !== '') throw new Error(`line ${f.line + 1 + i}: a sh block must start with "# on ...'s machine"`);
    } else cur.script += `${l}\n`;
  });
  if (out.length === 0) throw new Error(`line ${f.line}: an empty sh block`);
  return out;
}

/**
 * The commands of `sh` blocks as one line each (continuations joined, comments and markers
 * dropped, spaces collapsed), to hold the README's and references' commands to the guides'.
 */
export function commandLines(body: string[]): string[] {
  const out: string[] = [];
  let acc = '';
  for (const raw of body) {
    const l = raw.replace(/(^|\s)#.*$/, '').trimEnd();
    if (l.endsWith('\\')) {
      acc += `${l.slice(0, -1)} `;
      continue;
    }
    const full = (acc + l).replace(/\s+/g, ' ').trim();
    acc = '';
    if (full) out.push(full);
  }
  return out;
}

/** The guide files (every .md in docs/guides but its index), by file name. */
export function guideFiles(): string[] {
  return fs
    .readdirSync(GUIDES)
    .filter((f) => f.endsWith('.md') && f !== 'README.md')
    .sort();
}

export interface SegmentRun {
  guide: string;
  line: number;
  machine: string;
  code: number;
  output: string;
}

/** The least scrypt cost a key file may have (what every integration test's keys use). */
const SANDBOX_SCRYPT_N = '16384';

function wrapper(cli: string, daemons: string): string {
  // `quorum serve` runs in the background on a free loopback port; a new key file of quorum-signer
  // without --scrypt-n gets SANDBOX_SCRYPT_N; every other command as written.
  const keyCost =
    cli !== SIGNER
      ? ''
      : `case "\${1-} \${2-}" in
  "keygen "* | "import-garage-sign "* | "frost identity" | "frost join")
    case " $* " in *" --scrypt-n"*) ;; *) set -- "$@" --scrypt-n ${SANDBOX_SCRYPT_N} ;; esac ;;
esac
`;
  return `#!/usr/bin/env bash
set -euo pipefail
${keyCost}if [ "\${1-}" = serve ]; then
  log="$(mktemp "${daemons}/serve.XXXXXX")"
  ${JSON.stringify(process.execPath)} ${JSON.stringify(cli)} "$@" --host 127.0.0.1 --port 0 </dev/null >"$log" 2>&1 &
  pid=$!
  echo "$pid" >> ${JSON.stringify(path.join(daemons, 'pids'))}
  for _ in $(seq 1 600); do
    if grep -q 'listening on' "$log"; then cat "$log"; exit 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then cat "$log" >&2; exit 1; fi
    sleep 0.05
  done
  echo "quorum serve did not start within 30 s" >&2; cat "$log" >&2; exit 1
fi
exec ${JSON.stringify(process.execPath)} ${JSON.stringify(cli)} "$@"
`;
}

/** One sandbox: a folder, the machines' homes, the wrapped commands, the daemons it started. */
export class Sandbox {
  readonly dir: string;
  readonly runs: SegmentRun[] = [];
  private readonly daemons: string;
  private readonly vars: Record<string, string> = {};
  private closed = false;

  constructor(readonly name: string) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `quorum-guide-${name}-`));
    const bin = path.join(this.dir, '.sandbox', 'bin');
    this.daemons = path.join(this.dir, '.sandbox', 'daemons');
    fs.mkdirSync(bin, { recursive: true });
    fs.mkdirSync(this.daemons, { recursive: true });
    fs.writeFileSync(path.join(bin, 'quorum'), wrapper(QUORUM, this.daemons), { mode: 0o755 });
    fs.writeFileSync(path.join(bin, 'quorum-signer'), wrapper(SIGNER, this.daemons), { mode: 0o755 });
    const tokens = path.join(this.dir, '.sandbox', 'softhsm', 'tokens');
    fs.mkdirSync(tokens, { recursive: true });
    const conf = path.join(this.dir, '.sandbox', 'softhsm', 'softhsm2.conf');
    fs.writeFileSync(conf, `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\n`);
    const env: Record<string, string> = {};
    for (const k of ['PATH', 'LANG', 'TZ', 'TMPDIR']) if (process.env[k] !== undefined) env[k] = process.env[k]!;
    Object.assign(env, {
      PATH: `${bin}${path.delimiter}${process.env.PATH ?? ''}`,
      QUORUM_PASSPHRASE: PASSPHRASE,
      QUORUM_PIN: PIN,
      SOFTHSM2_CONF: conf,
      MODULE: SOFTHSM_MODULE,
    });
    this.vars = env;
  }

  /** A file in the shared folder. */
  file(...p: string[]): string {
    return path.join(this.dir, ...p);
  }

  /** Run every `sh` block of a guide in order; returns how many blocks ran. */
  async runGuide(guide: string, timeoutMs = 120_000): Promise<number> {
    const text = fs.readFileSync(path.join(GUIDES, guide), 'utf8');
    let blocks = 0;
    for (const f of fences(text)) {
      if (f.lang !== 'sh') continue;
      for (const s of segments(f)) {
        const runs = await Promise.all(s.machines.map((m) => this.runSegment(guide, s, m, timeoutMs)));
        const failed = runs.filter((r) => r.code !== 0);
        if (failed.length > 0) {
          throw new Error(
            failed
              .map(
                (r) =>
                  `${guide}:${s.line} on ${r.machine}'s machine exited with ${r.code}\n` +
                  `--- script\n${s.script}--- output\n${r.output}`,
              )
              .join('\n'),
          );
        }
        this.refreshVars();
      }
      blocks++;
    }
    return blocks;
  }

  private refreshVars(): void {
    const info = this.file('quorum-data', 'server.json');
    if (!fs.existsSync(info)) return;
    const s = JSON.parse(fs.readFileSync(info, 'utf8')) as { url: string; tlsFingerprint?: string };
    this.vars.COORDINATOR = s.url;
    if (s.tlsFingerprint) this.vars.FINGERPRINT = s.tlsFingerprint;
  }

  private runSegment(guide: string, s: Segment, machine: string, timeoutMs: number): Promise<SegmentRun> {
    const home = path.join(this.dir, '.sandbox', 'machines', machine);
    fs.mkdirSync(home, { recursive: true });
    return new Promise((resolve, reject) => {
      // QUORUM_GUIDE_CPU: the segment's tag, then bash's `times` (its own and its commands' CPU).
      const cpuLog = process.env.QUORUM_GUIDE_CPU;
      const cpu = cpuLog ? { QUORUM_GUIDE_CPU: cpuLog, QUORUM_GUIDE_SEGMENT: `${guide}:${s.line} ${machine}` } : {};
      const script = cpuLog
        ? `trap '{ echo "$QUORUM_GUIDE_SEGMENT"; times; } >> "$QUORUM_GUIDE_CPU"' EXIT\n${s.script}`
        : s.script;
      const p = spawn('bash', ['--noprofile', '--norc', '-euo', 'pipefail', '-c', script], {
        cwd: this.dir,
        env: { ...this.vars, ...cpu, HOME: home },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      p.stdout.on('data', (d) => (output += d));
      p.stderr.on('data', (d) => (output += d));
      const t = setTimeout(() => {
        p.kill('SIGKILL');
        reject(new Error(`${guide}:${s.line} on ${machine}'s machine timed out\n${s.script}\n${output}`));
      }, timeoutMs);
      p.on('close', (code) => {
        clearTimeout(t);
        const run = { guide, line: s.line, machine, code: code ?? -1, output };
        this.runs.push(run);
        resolve(run);
      });
    });
  }

  /** Stop the daemons this sandbox started (by their process ids) and remove the folder. */
  async close(keep = process.env.QUORUM_GUIDE_KEEP === '1'): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const pids = path.join(this.daemons, 'pids');
    const list = fs.existsSync(pids)
      ? fs
          .readFileSync(pids, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((p) => Number(p))
      : [];
    for (const pid of list) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
    for (const pid of list) {
      for (let i = 0; i < 100; i++) {
        try {
          process.kill(pid, 0);
        } catch {
          break;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    if (keep) console.log(`sandbox ${this.name} kept in ${this.dir}`);
    else fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
