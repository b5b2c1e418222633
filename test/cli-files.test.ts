/**
 * Bad file arguments never crash. Every command of both programs, for every file it reads (each
 * option and argument whose table entry says `reads`), run in process with a missing file, a
 * folder, an empty file and a file of the wrong content: each ends in its code (FILE_MISSING,
 * FILE_UNREADABLE, FILE_EMPTY, JSON_INVALID, SCHEMA_INVALID, KEY_INVALID, ...) naming the path, with
 * exit 2 (the file cannot be used) or 1 (it was read and refused), never an uncaught error (the
 * `internal error` with a stack trace). The commands and their file arguments come from the CLIs'
 * own tables, so a new command is covered at once; the content cases need an entry below, and the
 * test fails for a file argument that has none.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUORUM } from '../coordinator/commands.js';
import { dispatch, leaves, type FileArg, type Group, type Io } from '../protocol/cli.js';
import { exitStatus, isCode, type Code } from '../protocol/codes.js';
import { QUORUM_SIGNER } from '../signer-client/commands.js';

const PROGRAMS: readonly (readonly [string, Group])[] = [
  ['quorum', QUORUM],
  ['quorum-signer', QUORUM_SIGNER],
];

interface FileArgument {
  prog: string;
  tree: Group;
  /** The command's path below the program (`round open targets`). */
  command: string[];
  /** `--add-key`, or the positional's placeholder (`ROOT.json`). */
  name: string;
  reads: FileArg;
  /** argv with `value` as this argument's value, the command's other required arguments filled in. */
  argv: (value: string) => string[];
}

let tmp: string;
/** A non-empty regular file and a folder: what the other arguments get, so only the one under test fails. */
let someFile: string;
let someDir: string;

function fileArguments(): FileArgument[] {
  const out: FileArgument[] = [];
  for (const [prog, tree] of PROGRAMS)
    for (const { path: command, command: c } of leaves(tree)) {
      const filler = (i: number) => {
        const p = c.positionals[i]!;
        return p.reads?.is === 'dir' ? someDir : p.reads ? someFile : 'x';
      };
      const required = c.positionals.filter((p) => !p.optional).length;
      for (const [name, o] of Object.entries(c.options))
        if (o.reads)
          out.push({
            prog,
            tree,
            command,
            name: `--${name}`,
            reads: o.reads,
            argv: (v) => [...command, ...Array.from({ length: required }, (_, i) => filler(i)), `--${name}`, v],
          });
      c.positionals.forEach((p, at) => {
        if (!p.reads) return;
        const n = Math.max(required, at + 1);
        out.push({
          prog,
          tree,
          command,
          name: p.name,
          reads: p.reads,
          argv: (v) => [...command, ...Array.from({ length: n }, (_, i) => (i === at ? v : filler(i)))],
        });
      });
    }
  return out;
}

/** The value an argument of this form takes for the path `file`. */
function valueFor(reads: FileArg, file: string): string {
  if (reads.form === 'name=') return `someone=${file}`;
  if (reads.form === 'role=pem:') return `root=pem:${file}`;
  if (reads.form === 'pem:') return `pem:${file}`;
  return file;
}

interface Outcome {
  status: number;
  out: string;
  err: string;
}

async function run(prog: string, tree: Group, argv: string[]): Promise<Outcome> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (s) => void out.push(s), err: (s) => void err.push(s) };
  // An uncaught error rejects here and fails the test: that is the crash this file is about.
  const status = await dispatch(tree, prog, argv, io, { oneLine: prog === 'quorum-signer' });
  return { status, out: out.join('\n'), err: err.join('\n') };
}

/** It failed with `code` (and its exit status), naming `file`, without a stack trace. */
function expectRefused(o: Outcome, code: Code, file: string, label: string): void {
  const first = o.err.split('\n')[0] ?? '';
  expect(first.split(':')[0], `${label}: ${o.err}`).toBe(code);
  expect(o.status, label).toBe(exitStatus(code));
  expect(first, label).toContain(file);
  expect(o.err, label).not.toMatch(/internal error|\n\s+at /);
}

const label = (a: FileArgument, what: string) => `${a.prog} ${a.command.join(' ')} ${a.name}: ${what}`;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'quorum-cli-files-'));
  someFile = path.join(tmp, 'some-file');
  fs.writeFileSync(someFile, 'something\n');
  someDir = fs.mkdtempSync(path.join(tmp, 'some-dir-'));
});

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('a file that is not there, a folder, an empty file (checked before any command starts)', () => {
  it('every command and file argument: FILE_MISSING, FILE_UNREADABLE, FILE_EMPTY with the path, exit 2', async () => {
    const args = fileArguments();
    // Both programs have file arguments; a table that lost them would make this test pass vacuously.
    expect(args.filter((a) => a.prog === 'quorum').length).toBeGreaterThan(20);
    expect(args.filter((a) => a.prog === 'quorum-signer').length).toBeGreaterThan(20);
    for (const a of args) {
      const missing = path.join(tmp, 'no-such-file');
      expectRefused(
        await run(a.prog, a.tree, a.argv(valueFor(a.reads, missing))),
        'FILE_MISSING',
        missing,
        label(a, 'missing'),
      );
      const below = path.join(someFile, 'below-a-file');
      const o = await run(a.prog, a.tree, a.argv(valueFor(a.reads, below)));
      expect(['FILE_MISSING', 'FILE_UNREADABLE'], label(a, `below a file: ${o.err}`)).toContain(o.err.split(':')[0]);
      expect(o.status, label(a, 'below a file')).toBe(2);
      if (a.reads.is === 'file') {
        expectRefused(
          await run(a.prog, a.tree, a.argv(valueFor(a.reads, someDir))),
          'FILE_UNREADABLE',
          someDir,
          label(a, 'a folder'),
        );
        const empty = path.join(tmp, 'empty');
        fs.writeFileSync(empty, '');
        if (a.reads.holds === 'bytes') continue; // an empty target file is content
        expectRefused(
          await run(a.prog, a.tree, a.argv(valueFor(a.reads, empty))),
          'FILE_EMPTY',
          empty,
          label(a, 'empty'),
        );
      }
      if (a.reads.is === 'dir')
        expectRefused(
          await run(a.prog, a.tree, a.argv(valueFor(a.reads, someFile))),
          'FILE_UNREADABLE',
          someFile,
          label(a, 'a file where a folder belongs'),
        );
    }
  });
});

// --- content -------------------------------------------------------------------------------------

/** What a file of each kind is refused with when it holds something else. */
interface ContentCase {
  /** argv of the command with `@` where the file goes; what it needs to get as far as reading it. */
  argv: string[];
  /** Content written to the file, and the code it must be refused with. */
  bad: readonly (readonly [content: string, code: Code])[];
  /** quorum verify: the code is a finding in its report (naming the file), exit 1. */
  report?: true;
}

const NOT_JSON = 'this is not JSON\n';
const NOT_A_KEY = '-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----\n';
const JSON_FILES = [
  [NOT_JSON, 'JSON_INVALID'],
  ['[1, 2, 3]\n', 'SCHEMA_INVALID'],
] as const;
const PUBLIC_KEYS = [
  [NOT_JSON, 'KEY_INVALID'],
  [NOT_A_KEY, 'KEY_INVALID'],
] as const;

/**
 * Keyed by `PROGRAM COMMAND ARGUMENT`. A file holding any text or bytes (`text`, `bytes`: a
 * passphrase, a PIN, the admin token, a target file) has no wrong content and needs no case.
 */
function contentCases(home: string, data: string, keyFile: string, repo: string): Record<string, ContentCase> {
  const signer = ['--home', home];
  const coord = ['--data-dir', data];
  return {
    'quorum init --import': { argv: ['init', ...coord, '--import', '@'], bad: [] }, // a folder: see the folder cases
    'quorum init --import-garage-sign': {
      argv: ['init', ...coord, '--import-garage-sign', '@'],
      bad: [[NOT_JSON, 'USAGE']], // neither a folder nor a zip
    },
    'quorum init --keyholder': {
      argv: ['init', ...coord, '--dialect', 'tuf', '--keyholder', 'alice=@', '--root-keyholders', 'alice'],
      bad: PUBLIC_KEYS,
    },
    'quorum keyholder add PUBLIC-KEY-FILE': { argv: ['keyholder', 'add', 'alice', '@', ...coord], bad: PUBLIC_KEYS },
    'quorum round open targets --signed': {
      argv: ['round', 'open', 'targets', '--reason', 'r', '--signed', '@', ...coord],
      bad: JSON_FILES,
    },
    'quorum round open root --signed': {
      argv: ['round', 'open', 'root', '--reason', 'r', '--signed', '@', ...coord],
      bad: JSON_FILES,
    },
    'quorum round open root --add-key': {
      argv: ['round', 'open', 'root', '--reason', 'r', '--add-key', 'root=pem:@', ...coord],
      bad: PUBLIC_KEYS,
    },
    'quorum round open targets --key': {
      argv: [
        'round',
        'open',
        'targets',
        '--reason',
        'r',
        '--delegate',
        'fw',
        '--key',
        'pem:@',
        '--paths',
        'fw/*',
        ...coord,
      ],
      bad: PUBLIC_KEYS,
    },
    'quorum round open root --remove-key': {
      argv: ['round', 'open', 'root', '--reason', 'r', '--remove-key', 'root=pem:@', ...coord],
      bad: PUBLIC_KEYS,
    },
    'quorum round add-signature SIGNATURE-FILE': {
      argv: ['round', 'add-signature', 'r1', '@', ...coord],
      bad: JSON_FILES,
    },
    'quorum cert issue --csr': {
      argv: ['cert', 'issue', '--ca', 'fleet', '--profile', 'device', '--reason', 'r', '--csr', '@', ...coord],
      bad: [
        [NOT_JSON, 'CSR_INVALID'],
        ['-----BEGIN CERTIFICATE REQUEST-----\nbm90IGEgY3Ny\n-----END CERTIFICATE REQUEST-----\n', 'CSR_INVALID'],
      ],
    },
    'quorum export ota-tuf --server-targets': {
      argv: ['export', 'ota-tuf', path.join(home, 'out'), ...coord, '--server-targets', '@'],
      bad: JSON_FILES,
    },
    'quorum verify --root': { argv: ['verify', repo, '--root', '@'], bad: JSON_FILES, report: true },
    'quorum verify <dir>': { argv: ['verify', '@'], bad: [] }, // a folder: see the folder cases
    'quorum-signer import-garage-sign FILE': {
      argv: ['import-garage-sign', '@', '--out', path.join(home, 'imported')],
      bad: [
        [NOT_JSON, 'JSON_INVALID'],
        ['{"keytype": "ed25519", "keyval": {"private": "zz"}}\n', 'KEY_INVALID'],
      ],
    },
    'quorum-signer join --key': {
      argv: ['join', 'http://127.0.0.1:9', '--key', '@', '--trust-first-root', ...signer],
      bad: [
        [NOT_JSON, 'KEY_FILE_INVALID'],
        ['{"kind": "something else"}\n', 'KEY_FILE_INVALID'],
      ],
    },
    'quorum-signer join --trusted-root': {
      argv: ['join', 'http://127.0.0.1:9', '--key', keyFile, '--trusted-root', '@', ...signer],
      bad: JSON_FILES,
    },
    'quorum-signer trust ROOT.json': { argv: ['trust', '@', ...signer], bad: JSON_FILES },
    'quorum-signer sign --offline': {
      argv: ['sign', '--offline', '@', '--out', path.join(home, 'sig.json'), '--key', keyFile, ...signer],
      bad: JSON_FILES,
    },
    'quorum-signer sign --key': {
      argv: ['sign', '--offline', someFile, '--out', path.join(home, 'sig.json'), '--key', '@', ...signer],
      bad: [
        [NOT_JSON, 'KEY_FILE_INVALID'],
        ['{"kind": "something else"}\n', 'KEY_FILE_INVALID'],
      ],
    },
    'quorum-signer frost pin-participants --participant': {
      argv: ['frost', 'pin-participants', '--participant', 'bob=@', ...signer],
      bad: PUBLIC_KEYS,
    },
    'quorum-signer cert pin-approvers --approver': {
      argv: ['cert', 'pin-approvers', '--approver', 'bob=@', '--threshold', '1', ...signer],
      bad: PUBLIC_KEYS,
    },
  };
}

describe('a file of the wrong content', () => {
  it('every file argument that holds something in particular has a case, and each is refused with its code', async () => {
    const home = fs.mkdtempSync(path.join(tmp, 'home-'));
    const data = path.join(tmp, 'data');
    const key = path.join(tmp, 'alice');
    const pass = path.join(tmp, 'pass');
    fs.writeFileSync(pass, 'correct horse battery staple\n');
    const made = await run('quorum-signer', QUORUM_SIGNER, [
      'keygen',
      '--out',
      key,
      '--passphrase-file',
      pass,
      '--scrypt-n',
      '16384',
    ]);
    expect(made.status, made.err).toBe(0);
    const sample = path.join(tmp, 'sample');
    expect((await run('quorum', QUORUM, ['sample', sample])).status).toBe(0);
    const cases = contentCases(home, data, `${key}.key.json`, path.join(sample, 'tuf'));
    const args = fileArguments().filter((a) => a.reads.holds !== 'text' && a.reads.holds !== 'bytes');
    const keys = args.map((a) => `${a.prog} ${a.command.join(' ')} ${a.name}`);
    expect(
      keys.filter((k) => !cases[k]),
      'file arguments without a content case below',
    ).toEqual([]);
    expect(
      Object.keys(cases).filter((k) => !keys.includes(k)),
      'cases for no file argument',
    ).toEqual([]);
    const failures: string[] = []; // all of them at once, one line each
    for (const a of args) {
      const c = cases[`${a.prog} ${a.command.join(' ')} ${a.name}`]!;
      for (const [i, [content, code]] of c.bad.entries()) {
        expect(isCode(code)).toBe(true);
        const file = path.join(tmp, `bad-${i}`);
        fs.writeFileSync(file, content);
        const argv = c.argv.map((x) => x.replace('@', file));
        try {
          const what = label(a, JSON.stringify(content.slice(0, 30)));
          const o = await run(a.prog, a.tree, argv);
          if (c.report) {
            expect(`${o.out}\n${o.err}`, what).toMatch(new RegExp(`^${code}: ${path.basename(file)}\\b`, 'm'));
            expect(o.status, what).toBe(1);
            expect(o.out + o.err, what).not.toMatch(/internal error|\n\s+at /);
          } else expectRefused(o, code, file, what);
          // Nothing was made of it.
          expect(fs.existsSync(data), label(a, 'no data dir')).toBe(false);
        } catch (e) {
          failures.push((e as Error).message.split('\n')[0]!);
        }
      }
    }
    expect(failures).toEqual([]);
  });
});
