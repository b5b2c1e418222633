/**
 * Reading the files a person names (an option's or an argument's value) so that a bad one ends
 * in its code and its path, never a stack trace: FILE_MISSING (no such file), FILE_UNREADABLE (a
 * folder where a file belongs, no permission, too large), FILE_EMPTY, JSON_INVALID (not JSON)
 * and SCHEMA_INVALID (JSON of another kind). `what` names where the path came from
 * (`--csr`, `trust ROOT.json`), so the message says which argument to fix.
 */
import fs from 'node:fs';
import type { z } from 'zod';
import { QuorumError } from './errors.js';

export interface ReadOptions {
  /** bytes; larger files are FILE_UNREADABLE */
  maxBytes?: number;
  /** An empty file is content (a target file may be empty); otherwise it is FILE_EMPTY. */
  allowEmpty?: boolean;
}

/** Default size limit for a file a person names: far above any key, CSR, bundle or metadata we read. */
export const MAX_INPUT_BYTES = 512 * 1024 * 1024;

const where = (what: string, file: string) => (what ? `${what} ${file}` : file);

/** FILE_MISSING or FILE_UNREADABLE for an error of fs, with the path. */
export function fileError(e: unknown, what: string, file: string): QuorumError {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new QuorumError('FILE_MISSING', `${where(what, file)}: no such file or folder`);
  if (code === 'EISDIR') return new QuorumError('FILE_UNREADABLE', `${where(what, file)}: a folder, not a file`);
  if (code === 'ENOTDIR')
    return new QuorumError('FILE_UNREADABLE', `${where(what, file)}: not a folder (or a part of its path is a file)`);
  return new QuorumError('FILE_UNREADABLE', `${where(what, file)}: ${(e as Error).message}`);
}

/**
 * Check that `file` is a regular file this process can read (and not empty, unless allowed),
 * without reading it: what a command does with every file option before it starts.
 */
export function checkFile(file: string, what: string, opts: ReadOptions = {}): fs.Stats {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    throw fileError(e, what, file);
  }
  if (st.isDirectory()) throw new QuorumError('FILE_UNREADABLE', `${where(what, file)}: a folder, not a file`);
  if (!st.isFile()) throw new QuorumError('FILE_UNREADABLE', `${where(what, file)}: not a regular file`);
  const max = opts.maxBytes ?? MAX_INPUT_BYTES;
  if (st.size > max)
    throw new QuorumError(
      'FILE_UNREADABLE',
      `${where(what, file)}: ${st.size} bytes is larger than the ${max}-byte limit`,
    );
  if (st.size === 0 && !opts.allowEmpty) throw new QuorumError('FILE_EMPTY', `${where(what, file)}: the file is empty`);
  try {
    fs.accessSync(file, fs.constants.R_OK);
  } catch (e) {
    throw fileError(e, what, file);
  }
  return st;
}

/** Check that `dir` is a folder (or, with `orFile`, a folder or a file as checkFile wants it). */
export function checkDir(dir: string, what: string, opts: { orFile?: boolean } = {}): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch (e) {
    throw fileError(e, what, dir);
  }
  if (st.isDirectory()) return;
  if (!opts.orFile) throw new QuorumError('FILE_UNREADABLE', `${where(what, dir)}: a file, not a folder`);
  checkFile(dir, what);
}

/** The bytes of a file a person named. */
export function readFile(file: string, what: string, opts: ReadOptions = {}): Buffer {
  checkFile(file, what, opts);
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw fileError(e, what, file);
  }
  // It may have changed between the check and the read.
  if (!bytes.length && !opts.allowEmpty) throw new QuorumError('FILE_EMPTY', `${where(what, file)}: the file is empty`);
  return bytes;
}

/** The text of a file a person named (UTF-8). */
export function readText(file: string, what: string, opts: ReadOptions = {}): string {
  return readFile(file, what, opts).toString('utf8');
}

/** The JSON value of a file a person named: JSON_INVALID when it is not JSON. */
export function readJson(file: string, what: string, opts: ReadOptions = {}): unknown {
  return jsonOf(readText(file, what, opts), what, file);
}

/** The JSON value of the content of `file` (already read): JSON_INVALID when it is not JSON. */
export function jsonOf(content: Buffer | string, what: string, file: string): unknown {
  try {
    return JSON.parse(content.toString()) as unknown;
  } catch (e) {
    throw new QuorumError('JSON_INVALID', `${where(what, file)}: not JSON (${(e as Error).message})`);
  }
}

/**
 * A file a person named that must hold JSON of one kind (`kind` says which, e.g. "a round bundle
 * from quorum round export"): SCHEMA_INVALID, naming the first problem, when it is another.
 */
export function readJsonAs<T>(file: string, what: string, schema: z.ZodType<T>, kind: string): T {
  const r = schema.safeParse(readJson(file, what));
  if (r.success) return r.data;
  const i = r.error.issues[0]!;
  throw new QuorumError(
    'SCHEMA_INVALID',
    `${where(what, file)}: not ${kind} (${i.path.join('.') || 'the top level'}: ${i.message})`,
  );
}
