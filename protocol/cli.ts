/**
 * The command-line conventions both executables share. A program is a tree of commands; each
 * leaf has its own option table and `--help`, and refuses options it does not take (USAGE).
 * Every file an option or argument names is checked before the command starts (FILE_MISSING,
 * FILE_UNREADABLE, FILE_EMPTY), and numbers, durations and times go through one validated
 * parser each. A failure prints `CODE: message` on stderr and exits with the status its code's
 * kind gives (codes.ts): 2 usage, 1 otherwise; 0 is success.
 */
import { parseArgs } from 'node:util';
import { exitStatus } from './codes.js';
import { displayBlock, displayText } from './display.js';
import { QuorumError } from './errors.js';
import { checkDir, checkFile } from './files.js';
import { parseDuration, parseTime, SECOND_MS } from './time.js';

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

export const stdio: Io = { out: (s) => console.log(s), err: (s) => console.error(s) };

export class UsageError extends QuorumError<'USAGE'> {
  constructor(message: string) {
    super('USAGE', message);
  }
}

// --- the tables ----------------------------------------------------------------------------------

/**
 * What a file a person names must hold: the test that hands every file option a bad file gives
 * each one a file of another kind and expects the code that kind is refused with.
 */
export type Holds =
  | 'json' // JSON of one kind: JSON_INVALID, SCHEMA_INVALID
  | 'public-key' // PEM or a garage-sign .pub: KEY_INVALID
  | 'key-file' // NAME.key.json: KEY_FILE_INVALID
  | 'garage-sign-key' // a garage-sign .sec (or credentials.zip with --entry): JSON_INVALID, KEY_INVALID
  | 'csr' // PKCS#10, PEM or DER: CSR_INVALID
  | 'repository' // a metadata folder: FILE_MISSING without a root
  | 'garage-sign' // a garage-sign folder or credentials.zip
  | 'targets' // ota targets metadata, or a garage-sign folder with it: JSON_INVALID, SCHEMA_INVALID
  | 'text' // a passphrase, a PIN, a token: any text
  | 'bytes'; // any content, even none (a target file)

/** A file (or folder) an option's or argument's value names, which the command reads. */
export interface FileArg {
  is: 'file' | 'dir' | 'file-or-dir';
  /**
   * Where the path is in the value: all of it (default), after `NAME=` (--keyholder alice=FILE),
   * or after `ROLE=pem:` (--add-key root=pem:FILE; other forms name no file).
   */
  form?: 'name=' | 'role=pem:' | 'pem:';
  holds: Holds;
}

export interface OptionSpec {
  type: 'string' | 'boolean';
  multiple?: boolean;
  short?: string;
  default?: boolean;
  /** The value's placeholder in --help (FILE, N, NAME=FILE). */
  value?: string;
  help: string;
  reads?: FileArg;
}

export type Options = Record<string, OptionSpec>;

export interface PositionalSpec {
  /** Placeholder in --help: ROUND, FILE, DIR. */
  name: string;
  optional?: boolean;
  reads?: FileArg;
}

type ParseConfig<O extends Options> = {
  args: string[];
  options: O & { help: { type: 'boolean'; short: 'h'; default: false } };
  allowPositionals: true;
  strict: true;
};

/** What a command's handler gets: the values of its own options, and its arguments. */
export type Args<O extends Options> = ReturnType<typeof parseArgs<ParseConfig<O>>>;

export interface Command<O extends Options = Options> {
  kind: 'command';
  /** What follows the command's name in its usage line (`ROUND [--yes]`), or one for each form. */
  synopsis: string | readonly string[];
  /** One line, for the list of its parent's commands. */
  summary: string;
  /** Paragraphs after the usage line. */
  description?: string;
  /** A heading its parent lists it under. */
  section?: string;
  options: O;
  positionals: readonly PositionalSpec[];
  run: (a: Args<O>, io: Io) => number | Promise<number>;
}

export interface Group {
  kind: 'group';
  summary: string;
  description?: string;
  section?: string;
  /** Said after the list of commands (exit statuses, common options). */
  footer?: string;
  commands: Record<string, Node>;
}

export type Node = Command<Options> | Group;

export function command<const O extends Options>(c: Omit<Command<O>, 'kind'>): Command<Options> {
  return { kind: 'command', ...c } as unknown as Command<Options>;
}

export function group(g: Omit<Group, 'kind'>): Group {
  return { kind: 'group', ...g };
}

/** Every leaf of a tree with its path (`round open targets`), in the order --help lists them. */
export function leaves(node: Node, path: string[] = []): { path: string[]; command: Command }[] {
  if (node.kind === 'command') return [{ path, command: node }];
  return Object.entries(node.commands).flatMap(([name, n]) => leaves(n, [...path, name]));
}

// --- help ----------------------------------------------------------------------------------------

const HELP_OPTION: OptionSpec = { type: 'boolean', short: 'h', help: 'show this help' };

function optionLines(options: Options): string[] {
  const rows = Object.entries({ ...options, help: HELP_OPTION }).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : ''}--${name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`;
    return [flag, o.help + (o.multiple ? ' (repeatable)' : '')] as const;
  });
  return table(rows);
}

const WIDTH = 110;

/** `text` in lines of at most `width` characters (words kept whole), every line but the first indented. */
function wrap(text: string, width: number, indent: string): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = indent + word;
    } else line = line ? `${line} ${word}` : word;
  }
  lines.push(line);
  return lines.join('\n');
}

function table(rows: readonly (readonly [string, string])[]): string[] {
  const width = Math.min(30, Math.max(...rows.map(([l]) => l.length)) + 2);
  const pad = ' '.repeat(width + 2);
  return rows.map(([l, r]) =>
    l.length + 2 > width
      ? `  ${l}\n${pad}${wrap(r, WIDTH - pad.length, pad)}`
      : `  ${l.padEnd(width)}${wrap(r, WIDTH - pad.length, pad)}`,
  );
}

/** A command's usage lines, one per form. */
function usage(c: Command, path: string[]): string {
  const forms = typeof c.synopsis === 'string' ? [c.synopsis] : c.synopsis;
  return forms
    .map((f, i) => wrap(`${i ? '      ' : 'Usage:'} ${[...path, f].filter(Boolean).join(' ')}`, WIDTH, ' '.repeat(8)))
    .join('\n');
}

/** The --help text of a command. */
export function commandHelp(c: Command, path: string[]): string {
  const parts = [usage(c, path)];
  if (c.description) parts.push(c.description);
  parts.push(`Options:\n${optionLines(c.options).join('\n')}`);
  return parts.join('\n\n');
}

/** The --help text of a group: its commands (a nested group's spelled out) under their sections. */
export function groupHelp(g: Group, path: string[]): string {
  const parts = [`Usage: ${path.join(' ')} <command> [options]`];
  if (g.description) parts.push(g.description);
  const bySection = new Map<string, [string, string][]>();
  for (const [name, n] of Object.entries(g.commands)) {
    const s = n.section ?? 'Commands';
    const rows = bySection.get(s) ?? [];
    // A subcommand's own commands are spelled out (round: open targets, open root); the program's are not.
    if (n.kind === 'group' && path.length > 1)
      for (const [sub, m] of Object.entries(n.commands)) rows.push([`${name} ${sub}`, m.summary]);
    else rows.push([name, n.summary]);
    bySection.set(s, rows);
  }
  const lines = table([...bySection.values()].flat());
  let i = 0;
  for (const [s, rows] of bySection) parts.push(`${s}:\n${lines.slice(i, (i += rows.length)).join('\n')}`);
  parts.push(g.footer ?? `Run ${path.join(' ')} <command> --help for the options of each command.`);
  return parts.join('\n\n');
}

// --- running a command ---------------------------------------------------------------------------

/** The path a file argument's value names, or null when its form names none (ROLE=KEYHOLDER). */
export function pathIn(value: string, form: FileArg['form']): string | null {
  if (!form) return value;
  if (form === 'pem:') return value.startsWith('pem:') ? value.slice(4) : null;
  const i = value.indexOf('=');
  if (i < 1) return null; // the command says what the form must be
  const rest = value.slice(i + 1);
  if (form === 'name=') return rest;
  return rest.startsWith('pem:') ? rest.slice(4) : null;
}

function checkArg(r: FileArg, value: string, what: string): void {
  const file = pathIn(value, r.form);
  if (file === null) return;
  if (r.is === 'dir') return checkDir(file, what);
  if (r.is === 'file') return void checkFile(file, what, { allowEmpty: r.holds === 'bytes' });
  // a file or a folder: only that it is there
  checkDir(file, what, { orFile: true });
}

async function runLeaf(c: Command, path: string[], argv: string[], io: Io): Promise<number> {
  let parsed: Args<Options>;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        ...Object.fromEntries(
          Object.entries(c.options).map(([k, { type, multiple, short, default: d }]) => [
            k,
            {
              type,
              ...(multiple ? { multiple } : {}),
              ...(short ? { short } : {}),
              ...(d !== undefined ? { default: d } : {}),
            },
          ]),
        ),
        help: { type: 'boolean', short: 'h', default: false },
      },
      allowPositionals: true,
      strict: true,
    }) as Args<Options>;
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/\. To specify a positional argument.*$/, ''));
  }
  if (parsed.values.help) {
    io.out(commandHelp(c, path));
    return 0;
  }
  const given = parsed.positionals;
  const need = c.positionals.filter((p) => !p.optional).length;
  if (given.length < need)
    throw new UsageError(
      `${path.join(' ')} needs ${c.positionals
        .slice(given.length, need)
        .map((p) => p.name)
        .join(' ')}`,
    );
  if (given.length > c.positionals.length)
    throw new UsageError(`unexpected argument ${JSON.stringify(given[c.positionals.length])}`);
  // Every file named is there and readable before anything is done.
  for (const [name, o] of Object.entries(c.options)) {
    const v = parsed.values[name];
    if (!o.reads || v === undefined || typeof v === 'boolean') continue;
    for (const x of Array.isArray(v) ? v : [v]) checkArg(o.reads, String(x), `--${name}`);
  }
  c.positionals.forEach((p, i) => {
    if (p.reads && given[i] !== undefined) checkArg(p.reads, given[i], `${path.join(' ')} ${p.name}`);
  });
  return await c.run(parsed, io);
}

/**
 * Run the command `argv` names in the tree: a group without a command prints its help (exit 2),
 * a failure with a code prints `CODE: message` and exits as its kind says. `oneLine`: messages
 * are shown on one line, newlines escaped (the signer's: they can carry a coordinator's text,
 * which must not add lines of its own).
 */
export async function dispatch(
  tree: Group,
  prog: string,
  argv: string[],
  io: Io = stdio,
  opts: { oneLine?: boolean } = {},
): Promise<number> {
  let node: Node = tree;
  const path = [prog];
  let i = 0;
  try {
    while (node.kind === 'group') {
      const a = argv[i];
      if (a === undefined || a === '-h' || a === '--help' || a === 'help') {
        io.out(groupHelp(node, path));
        return a === undefined ? 2 : 0;
      }
      const next: Node | undefined = Object.hasOwn(node.commands, a) ? node.commands[a] : undefined;
      if (!next) throw new UsageError(`unknown command ${JSON.stringify(a)}; run ${path.join(' ')} --help`);
      node = next;
      path.push(a);
      i++;
    }
    return await runLeaf(node, path, argv.slice(i), io);
  } catch (e) {
    if (!(e instanceof QuorumError)) throw e;
    // A code and message can come from elsewhere (a coordinator's `error`): shown escaped.
    const message = displayBlock(e.message);
    io.err(`${displayText(String(e.code))}: ${opts.oneLine ? message.replace(/\n/g, '\\n') : message}`);
    if (e.code === 'USAGE' && node.kind === 'command')
      io.err(`${usage(node, path)}\nRun ${path.join(' ')} --help for its options.`);
    return exitStatus(e.code);
  }
}

/** Run a command-line program: set the exit code from `dispatch`, report crashes as such. */
export function main(tree: Group, prog: string, argv: string[], opts: { oneLine?: boolean } = {}): void {
  dispatch(tree, prog, argv, stdio, opts).then(
    (code) => (process.exitCode = code),
    (e) => {
      console.error(`internal error: ${(e as Error).stack ?? e}`);
      process.exitCode = 1;
    },
  );
}

// --- values --------------------------------------------------------------------------------------

/**
 * A whole number given to `option`, within [min, max]; undefined when not given. USAGE names
 * the option and the range for anything else (`abc`, `1.5`, `-3`, `1e3`, out of range).
 */
export function intArg(
  option: string,
  value: string | undefined,
  range: { min: number; max: number },
): number | undefined {
  if (value === undefined) return undefined;
  const n = /^-?\d{1,16}$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < range.min || n > range.max)
    throw new UsageError(`${option} ${JSON.stringify(value)}: give a whole number from ${range.min} to ${range.max}`);
  return n;
}

/** A decimal number given to `option`, above `above` (exclusive) and at most `max`. */
export function numberArg(
  option: string,
  value: string | undefined,
  range: { above: number; max: number },
): number | undefined {
  if (value === undefined) return undefined;
  const n = /^\d{1,16}(\.\d{1,16})?$/.test(value) ? Number(value) : NaN;
  if (!(n > range.above && n <= range.max))
    throw new UsageError(
      `${option} ${JSON.stringify(value)}: give a number above ${range.above}, at most ${range.max}`,
    );
  return n;
}

/** A duration (`90s`, `30m`, `48h`, `7d`) given to `option`, in milliseconds, at most `maxMs`. */
export function durationArg(option: string, value: string | undefined, maxMs: number): number | undefined {
  if (value === undefined) return undefined;
  const ms = parseDuration(value);
  if (ms === null || ms < 1 || ms > maxMs)
    throw new UsageError(
      `${option} ${JSON.stringify(value)}: give a duration such as 30m, 48h or 7d (at most ${maxMs / SECOND_MS} s)`,
    );
  return ms;
}

/** An RFC 3339 instant given to `option`. */
export function timeArg(option: string, value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const t = parseTime(value);
  if (!t)
    throw new UsageError(`${option} ${JSON.stringify(value)}: give an RFC 3339 time such as 2026-01-31T12:00:00Z`);
  return t;
}

/** A deadline given to `option`: a duration from `now` or an RFC 3339 instant. */
export function deadlineArg(option: string, value: string | undefined, now = Date.now()): Date | undefined {
  if (value === undefined) return undefined;
  const ms = parseDuration(value);
  if (ms !== null) return new Date(now + ms);
  const t = parseTime(value);
  if (!t)
    throw new UsageError(
      `${option} ${JSON.stringify(value)}: give a duration (30m, 48h, 7d) or an RFC 3339 time such as ` +
        '2026-01-31T12:00:00Z',
    );
  return t;
}

/** One of `choices`, given to `option`. */
export function choiceArg<const C extends string>(
  option: string,
  value: string | undefined,
  choices: readonly C[],
): C | undefined {
  if (value === undefined) return undefined;
  if (!(choices as readonly string[]).includes(value))
    throw new UsageError(`${option} ${JSON.stringify(value)}: give one of ${choices.join(', ')}`);
  return value as C;
}
