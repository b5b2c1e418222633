/**
 * Delegated targets roles as the clients read and resolve them: the `delegations` object of a
 * targets file (python-tuf `Delegations`, `DelegatedRole`, `SuccinctRoles`; tuf-js models; aktualizr
 * `Uptane::Targets`), which role a target path is delegated to, hash bins (TAP 15), and the
 * client's pre-order depth-first walk over the delegation graph (TUF client workflow 5.6.7;
 * python-tuf `_preorder_depth_first_walk`, tuf-js `preorderDepthFirstWalk`, aktualizr
 * `findTargetHelper`). Pure functions: loading and verifying the files is verify.ts's job.
 *
 * The dialects differ, and each is followed as its client does it:
 * - `tuf`: a pattern matches when the target path and the pattern have as many `/`-separated
 *   segments and each segment matches by Python's fnmatch (`*`, `?`, `[...]`, `[!...]`); roles may
 *   delegate by `path_hash_prefixes` or as `succinct_roles`; a terminating role that does not
 *   list the target ends the whole search; a search visits at most 32 delegated roles.
 * - `ota`: aktualizr matches the whole path with glibc `fnmatch(pattern, path, 0)` (so `*` also
 *   matches `/`), knows `paths` only, never looks below depth 5, and for a terminating role it
 *   skips that role's own delegations but goes on with its siblings.
 */
import crypto from 'node:crypto';
import type { Dialect } from './canonical.js';
import type { MetadataKey } from './keys.js';
import { LIMITS } from './limits.js';

export interface DelegatedRole {
  name: string;
  keyids: string[];
  threshold: number;
  terminating: boolean;
  paths?: string[];
  pathHashPrefixes?: string[];
}

/** TAP 15 hash bins: 2^bitLength roles named `<namePrefix>-<hex>`, all with the same keys. */
export interface SuccinctRoles {
  keyids: string[];
  threshold: number;
  bitLength: number;
  namePrefix: string;
}

export interface Delegations {
  keys: Record<string, MetadataKey>;
  /** Explicit roles, in their order of trust (the order of the file). */
  roles?: DelegatedRole[];
  succinct?: SuccinctRoles;
}

/** The four names a delegated role may not take (python-tuf, tuf-js). */
const TOP_LEVEL = new Set(['root', 'targets', 'snapshot', 'timestamp']);

export interface DelegationsRead {
  /** Null when the object is unusable: the client refuses the delegating file itself. */
  delegations: Delegations | null;
  /** What the client refuses (an error each). */
  problems: string[];
  /** What loads but behaves differently from what the writer likely meant (a warning each). */
  warnings: string[];
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

function readKeyIds(where: string, r: Record<string, unknown>, problems: string[]): [string[], number] | null {
  if (!isStrings(r.keyids)) {
    problems.push(`${where}.keyids must be a list of key ids`);
    return null;
  }
  if (new Set(r.keyids).size !== r.keyids.length) problems.push(`${where}.keyids lists a key id twice`);
  const t = r.threshold;
  if (typeof t !== 'number' || !Number.isInteger(t) || t < 1 || t > LIMITS.maxThreshold) {
    problems.push(
      `${where}.threshold is ${JSON.stringify(t ?? null)}; it must be between 1 and ${LIMITS.maxThreshold}`,
    );
    return null;
  }
  return [r.keyids, t];
}

/**
 * Read a targets file's `delegations` as the dialect's client does (python-tuf's
 * `Delegations.from_dict` is the strictest of the TUF clients and is followed; aktualizr reads
 * `keys` and `roles` with `paths` and `terminating`, and ignores everything else).
 */
export function readDelegations(v: unknown, dialect: Dialect): DelegationsRead {
  const problems: string[] = [];
  const warnings: string[] = [];
  const fail = (): DelegationsRead => ({ delegations: null, problems, warnings });
  if (!isObj(v)) {
    problems.push('delegations must be an object with keys and roles');
    return fail();
  }
  if (!isObj(v.keys) || !Object.values(v.keys).every((k) => isObj(k) && isObj(k.keyval))) {
    problems.push('delegations.keys must map key ids to keys');
    return fail();
  }
  const out: Delegations = { keys: v.keys as Record<string, MetadataKey> };
  const hasRoles = v.roles !== undefined && v.roles !== null;
  const hasSuccinct = v.succinct_roles !== undefined && v.succinct_roles !== null;
  if (dialect === 'ota') {
    if (hasSuccinct)
      problems.push('succinct_roles (hash bins) are unknown to aktualizr: devices never find a target through them');
    if (!hasRoles) {
      problems.push('delegations.roles is missing; aktualizr reads delegated roles from there only');
      return fail();
    }
  } else if (hasRoles === hasSuccinct) {
    problems.push('delegations must have exactly one of roles and succinct_roles (python-tuf refuses the file)');
    return fail();
  }
  if (hasSuccinct && dialect === 'tuf') {
    const s = v.succinct_roles;
    if (!isObj(s)) {
      problems.push('delegations.succinct_roles must be an object');
      return fail();
    }
    const kt = readKeyIds('succinct_roles', s, problems);
    const bits = s.bit_length;
    if (typeof bits !== 'number' || !Number.isInteger(bits) || bits < 1 || bits > 32)
      problems.push(`succinct_roles.bit_length is ${JSON.stringify(bits ?? null)}; it must be between 1 and 32`);
    if (typeof s.name_prefix !== 'string') problems.push('succinct_roles.name_prefix must be a string');
    if (!kt || problems.length) return fail();
    out.succinct = { keyids: kt[0], threshold: kt[1], bitLength: bits as number, namePrefix: s.name_prefix as string };
    return { delegations: out, problems, warnings };
  }
  if (!Array.isArray(v.roles)) {
    problems.push('delegations.roles must be a list');
    return fail();
  }
  const roles: DelegatedRole[] = [];
  const names = new Set<string>();
  v.roles.forEach((r: unknown, i) => {
    const at = `delegations.roles[${i}]`;
    if (!isObj(r)) return void problems.push(`${at} must be an object`);
    const name = r.name;
    if (typeof name !== 'string' || name === '') return void problems.push(`${at}.name must be a non-empty string`);
    const where = `delegated role ${JSON.stringify(name)}`;
    if (TOP_LEVEL.has(name)) problems.push(`${where} takes a top-level role's name; clients refuse it`);
    if (names.has(name)) problems.push(`${where} is delegated twice; python-tuf refuses the file`);
    names.add(name);
    if (!fileSafe(name, dialect))
      problems.push(
        `${where} is not a usable file name: ${dialect === 'ota' ? 'no "/", "." or ".."' : 'not "." or ".."'}`,
      );
    const kt = readKeyIds(where, r, problems);
    const terminating = r.terminating;
    if (typeof terminating !== 'boolean') {
      if (dialect === 'tuf') problems.push(`${where}.terminating must be true or false`);
      else if (terminating !== undefined) problems.push(`${where}.terminating must be true or false`);
    }
    const hasPaths = r.paths !== undefined && r.paths !== null;
    const hasPrefixes = r.path_hash_prefixes !== undefined && r.path_hash_prefixes !== null;
    if (hasPaths && !isStrings(r.paths)) problems.push(`${where}.paths must be a list of strings`);
    if (hasPrefixes && !isStrings(r.path_hash_prefixes))
      problems.push(`${where}.path_hash_prefixes must be a list of strings`);
    if (dialect === 'tuf' && hasPaths === hasPrefixes)
      problems.push(`${where} must have exactly one of paths and path_hash_prefixes (python-tuf refuses the file)`);
    if (dialect === 'ota') {
      if (hasPrefixes) problems.push(`${where}: path_hash_prefixes are unknown to aktualizr, which matches paths only`);
      for (const p of isStrings(r.paths) ? r.paths : [])
        if (p === '' || p.length >= 254 || p.includes('..'))
          problems.push(
            `${where}: path ${JSON.stringify(p)} is empty, 254 characters or more, or has ".."; ota-tuf refuses it`,
          );
    }
    if (dialect === 'tuf' && isStrings(r.paths))
      for (const p of r.paths) {
        const why = minimatchDiffers(p);
        if (why) warnings.push(`${where}: path pattern ${JSON.stringify(p)} ${why}`);
      }
    if (!kt) return;
    const role: DelegatedRole = { name, keyids: kt[0], threshold: kt[1], terminating: terminating === true };
    if (dialect === 'ota' && terminating === undefined) role.terminating = false;
    if (isStrings(r.paths)) role.paths = r.paths;
    if (isStrings(r.path_hash_prefixes) && dialect === 'tuf') role.pathHashPrefixes = r.path_hash_prefixes;
    roles.push(role);
  });
  if (problems.length) return fail();
  out.roles = roles;
  return { delegations: out, problems, warnings };
}

/** A role name the file layout can hold: never a path outside the repository folder. */
function fileSafe(name: string, dialect: Dialect): boolean {
  if (name === '.' || name === '..' || name.includes('\0')) return false;
  return dialect === 'tuf' || !name.includes('/');
}

/**
 * The file a delegated role is served as, relative to the repository folder: `tuf` clients ask for
 * `<name>.json` (or `<version>.<name>.json` with consistent snapshots), the name URL-encoded as
 * tuf-js encodes it; aktualizr asks the reposerver for `delegations/<name>.json`.
 */
export function delegatedFileName(name: string, dialect: Dialect, version?: number): string {
  if (dialect === 'ota') return `delegations/${name}.json`;
  const enc = encodeURIComponent(name);
  return version === undefined ? `${enc}.json` : `${version}.${enc}.json`;
}

/**
 * Why tuf-js (minimatch per segment) reads a pattern differently from python-tuf (fnmatch per
 * segment), or null when they agree on every path without a leading dot.
 */
function minimatchDiffers(pattern: string): string | null {
  for (const seg of pattern.split('/')) {
    if (/[{}]/.test(seg)) return 'has braces, which tuf-js expands and python-tuf matches literally';
    if (/[@!+*?]\(/.test(seg)) return 'has an extended glob, which tuf-js reads and python-tuf matches literally';
    if (seg.includes('\\')) return 'has a backslash, an escape to tuf-js and a literal to python-tuf';
    if (seg.startsWith('!') || seg.startsWith('#'))
      return `has a segment starting with "${seg[0]}", which tuf-js reads as a negation or a comment`;
    if (seg.includes('[^')) return 'has "[^", a negated set to tuf-js and a literal "^" to python-tuf';
  }
  return null;
}

// --- matching --------------------------------------------------------------------------------

const RE_SYNTAX = /[\\^$.*+?()[\]{}|/]/;
const esc = (c: string): string => (RE_SYNTAX.test(c) ? '\\' + c : c);
const escSet = (c: string): string => (/[\\\]^[-]/.test(c) ? '\\' + c : c);

/**
 * A bracket expression starting after `[` at `i`: the regex class and where it ends, or null when
 * it never closes (then `[` is a literal). `glibc`: `\` escapes and `^` negates as `!` does.
 */
function bracket(p: string[], i: number, glibc: boolean): { re: string; end: number } | null {
  let j = i;
  let negate = false;
  if (p[j] === '!' || (glibc && p[j] === '^')) {
    negate = true;
    j++;
  }
  const items: string[] = [];
  let first = true;
  const chars: string[] = [];
  for (; j < p.length; j++) {
    let c = p[j]!;
    if (c === ']' && !first) break;
    if (glibc && c === '\\' && j + 1 < p.length) c = p[++j]!;
    chars.push(c);
    first = false;
  }
  if (j >= p.length) return null;
  for (let k = 0; k < chars.length; k++) {
    const a = chars[k]!;
    if (chars[k + 1] === '-' && k + 2 < chars.length) {
      const b = chars[k + 2]!;
      if (a.codePointAt(0)! <= b.codePointAt(0)!) items.push(`${escSet(a)}-${escSet(b)}`);
      k += 2; // a reversed range matches nothing (Python drops it)
    } else items.push(escSet(a));
  }
  if (!items.length) return { re: negate ? '[^]' : '(?!)', end: j };
  return { re: `[${negate ? '^' : ''}${items.join('')}]`, end: j };
}

const globCache = new Map<string, RegExp>();

/** A shell pattern as a RegExp: Python's fnmatch, or glibc's fnmatch with no flags (`glibc`). */
export function globRegExp(pattern: string, glibc: boolean): RegExp {
  const key = (glibc ? 'g:' : 'p:') + pattern;
  const hit = globCache.get(key);
  if (hit) return hit;
  const p = [...pattern];
  let re = '';
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === '*') {
      if (!re.endsWith('.*')) re += '.*';
    } else if (c === '?') re += '.';
    else if (c === '[') {
      const b = bracket(p, i + 1, glibc);
      if (b) {
        re += b.re;
        i = b.end;
      } else re += '\\[';
    } else if (glibc && c === '\\') {
      if (i + 1 === p.length)
        re += '(?!)'; // a trailing backslash: glibc's fnmatch never matches
      else re += esc(p[++i]!);
    } else re += esc(c);
  }
  const out = new RegExp(`^(?:${re})$`, 'su');
  if (globCache.size > 10_000) globCache.clear();
  globCache.set(key, out);
  return out;
}

/** Whether `pattern` delegates `path`, as the dialect's client decides it. */
export function pathMatches(pattern: string, path: string, dialect: Dialect): boolean {
  if (dialect === 'ota') return globRegExp(pattern, true).test(path);
  const ps = pattern.split('/');
  const ts = path.split('/');
  if (ps.length !== ts.length) return false;
  for (let i = 0; i < ps.length; i++) if (!globRegExp(ps[i]!, false).test(ts[i]!)) return false;
  return true;
}

const sha256 = (s: string): Buffer =>
  (crypto as { hash?: (a: string, d: string, e: 'buffer') => Buffer }).hash?.('sha256', s, 'buffer') ??
  crypto.createHash('sha256').update(s).digest();

/** Hex digits of a bin number, for 2^bits bins (TAP 15: the width of the last bin's number). */
export function binSuffixLength(bitLength: number): number {
  return (2 ** bitLength - 1).toString(16).length;
}

export function binName(s: SuccinctRoles, n: number): string {
  return `${s.namePrefix}-${n.toString(16).padStart(binSuffixLength(s.bitLength), '0')}`;
}

/** The bin a target path falls in: the first bitLength bits of sha256(path). */
export function binOf(s: SuccinctRoles, path: string): number {
  return sha256(path).readUInt32BE(0) >>> (32 - s.bitLength);
}

/** Whether `role` delegates `path` (paths, or hash prefixes of sha256(path) in hex). */
export function roleDelegates(role: DelegatedRole, path: string, dialect: Dialect): boolean {
  if (role.pathHashPrefixes) {
    const h = sha256(path).toString('hex');
    return role.pathHashPrefixes.some((p) => h.startsWith(p));
  }
  return (role.paths ?? []).some((p) => pathMatches(p, path, dialect));
}

/** The roles a target path is delegated to, in order of trust (python-tuf `get_roles_for_target`). */
export function rolesForTarget(
  d: Delegations,
  path: string,
  dialect: Dialect,
): { name: string; terminating: boolean }[] {
  if (d.succinct) return [{ name: binName(d.succinct, binOf(d.succinct, path)), terminating: false }];
  return (d.roles ?? [])
    .filter((r) => roleDelegates(r, path, dialect))
    .map((r) => ({ name: r.name, terminating: r.terminating }));
}

/** Every role a delegations object names, with its keys and threshold. */
export function* delegatedRoles(
  d: Delegations,
): Generator<{ name: string; keyids: string[]; threshold: number; index: number }> {
  if (d.succinct) {
    const n = 2 ** d.succinct.bitLength;
    for (let i = 0; i < n; i++)
      yield { name: binName(d.succinct, i), keyids: d.succinct.keyids, threshold: d.succinct.threshold, index: i };
  } else {
    let i = 0;
    for (const r of d.roles ?? []) yield { name: r.name, keyids: r.keyids, threshold: r.threshold, index: i++ };
  }
}

export function roleCount(d: Delegations): number {
  return d.succinct ? 2 ** d.succinct.bitLength : (d.roles?.length ?? 0);
}

const ROLE_INDEX = new WeakMap<Delegations, Map<string, DelegatedRole>>();

/** Whether the edge parent -> `name` delegates `path`. */
export function edgeDelegates(d: Delegations, name: string, path: string, dialect: Dialect): boolean {
  if (d.succinct) return binName(d.succinct, binOf(d.succinct, path)) === name;
  let byName = ROLE_INDEX.get(d);
  if (!byName) ROLE_INDEX.set(d, (byName = new Map((d.roles ?? []).map((r) => [r.name, r]))));
  const r = byName.get(name);
  return !!r && roleDelegates(r, path, dialect);
}

// --- the client's walk -----------------------------------------------------------------------

/** A targets role as the walk sees it: its targets and delegations, or why the client refuses it. */
export type LoadedRole =
  | { ok: true; targets: Record<string, unknown>; delegations: Delegations | null; expired?: boolean }
  | { ok: false; reason: string; expired?: boolean };

export interface WalkStep {
  role: string;
  /** The role that delegated the lookup to this one (absent for targets). */
  parent?: string;
  outcome: 'found' | 'not listed' | 'refused' | 'skipped (expired)';
  reason?: string;
}

export interface Resolution {
  path: string;
  /** The target entry, from the role that vouches for it. */
  target?: unknown;
  /** targets -> ... -> the vouching role. */
  chain?: string[];
  /** The role whose refusal ended the lookup (the client raises). */
  refusedBy?: { role: string; reason: string };
  steps: WalkStep[];
  /** Roles left unvisited because of the client's limit. */
  limitHit?: boolean;
}

/** Roles a `tuf` lookup visits at most besides targets (python-tuf, tuf-js `max_delegations`). */
export const TUF_MAX_DELEGATIONS = 32;
/** Depth below targets aktualizr looks at most (`kDelegationsMaxDepth`). */
export const OTA_MAX_DEPTH = 5;

/**
 * Resolve one target path as the dialect's client does. `load(name, parent)` gives a role as
 * the client would have it after its checks (signatures by the parent's delegated keys, the
 * snapshot's version and hashes, expiry), or why it refuses the role.
 */
export function resolveTarget(
  path: string,
  dialect: Dialect,
  load: (name: string, parent: string | undefined) => LoadedRole,
): Resolution {
  return dialect === 'ota' ? resolveOta(path, load) : resolveTuf(path, load);
}

function resolveTuf(path: string, load: (name: string, parent: string | undefined) => LoadedRole): Resolution {
  interface Entry {
    name: string;
    parent?: Entry;
  }
  const res: Resolution = { path, steps: [] };
  const stack: Entry[] = [{ name: 'targets' }];
  const visited = new Set<string>();
  while (visited.size <= TUF_MAX_DELEGATIONS && stack.length) {
    const e = stack.pop()!;
    if (visited.has(e.name)) continue;
    const parent = e.parent?.name;
    const role = load(e.name, parent);
    if (!role.ok) {
      res.steps.push({ role: e.name, parent, outcome: 'refused', reason: role.reason });
      res.refusedBy = { role: e.name, reason: role.reason };
      return res;
    }
    if (Object.hasOwn(role.targets, path)) {
      res.steps.push({ role: e.name, parent, outcome: 'found' });
      res.target = role.targets[path];
      const chain: string[] = [];
      for (let x: Entry | undefined = e; x; x = x.parent) chain.unshift(x.name);
      res.chain = chain;
      return res;
    }
    res.steps.push({ role: e.name, parent, outcome: 'not listed' });
    visited.add(e.name);
    if (!role.delegations) continue;
    const children: Entry[] = [];
    for (const c of rolesForTarget(role.delegations, path, 'tuf')) {
      children.push({ name: c.name, parent: e });
      if (c.terminating) {
        stack.length = 0;
        break;
      }
    }
    stack.push(...children.reverse());
  }
  if (stack.length) res.limitHit = true;
  return res;
}

function resolveOta(path: string, load: (name: string, parent: string | undefined) => LoadedRole): Resolution {
  const res: Resolution = { path, steps: [] };
  const visit = (
    name: string,
    parent: string | undefined,
    chain: string[],
    level: number,
    terminating: boolean,
  ): boolean => {
    const role = load(name, parent);
    if (!role.ok) {
      res.steps.push({ role: name, parent, outcome: 'refused', reason: role.reason });
      res.refusedBy = { role: name, reason: role.reason };
      return true; // aktualizr throws: the lookup ends
    }
    if (role.expired && parent !== undefined) {
      res.steps.push({ role: name, parent, outcome: 'skipped (expired)' });
      return false;
    }
    if (Object.hasOwn(role.targets, path)) {
      res.steps.push({ role: name, parent, outcome: 'found' });
      res.target = role.targets[path];
      res.chain = [...chain, name];
      return true;
    }
    res.steps.push({ role: name, parent, outcome: 'not listed' });
    if (!role.delegations || terminating) return false;
    if (level >= OTA_MAX_DEPTH) {
      if (rolesForTarget(role.delegations, path, 'ota').length) res.limitHit = true;
      return false;
    }
    for (const r of role.delegations.roles ?? []) {
      if (!roleDelegates(r, path, 'ota')) continue;
      if (visit(r.name, name, [...chain, name], level + 1, r.terminating)) return true;
    }
    return false;
  };
  visit('targets', undefined, [], 0, false);
  return res;
}
