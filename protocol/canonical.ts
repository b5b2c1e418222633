/**
 * Canonical JSON, the bytes every signature in both dialects is made over.
 *
 * - `tuf`: OLPC canonical JSON as securesystemslib `encode_canonical` and npm
 *   `@tufjs/canonical-json` write it: keys sorted, no whitespace, strings escape only `\` and `"`.
 * - `ota`: circe's `noSpaces.sortKeys` as the ota-tuf server writes it: keys sorted, no
 *   whitespace, standard JSON string escaping (control characters escaped).
 *
 * Both refuse values that different implementations would serialise differently: non-integer
 * numbers, integers beyond 2^53, `undefined`, lone UTF-16 surrogates and non-JSON types. Keys sort
 * by UTF-16 code unit, as both reference implementations do.
 *
 * Subtrees that are already in canonical order (as in every file written by a TUF/Uptane tool)
 * are written by JSON.stringify after a check that it produces the same bytes; everything else
 * is written piece by piece. The output is built as a list of Buffers of about 1 MiB each so that
 * multi-hundred-megabyte
 * targets files never hit V8's maximum string length; callers get one Buffer.
 */
import { isAscii, isUtf8 } from 'node:buffer';
import { CanonicalError } from './errors.js';

export type Dialect = 'ota' | 'tuf';

const CHUNK = 1 << 20; // characters per flushed chunk
const NON_ASCII = /[^\x00-\x7F]/;

// Characters that force the slow path: quote, backslash, controls (ota escapes them), surrogates.
const TUF_SPECIAL = /["\\\uD800-\uDFFF]/;
const OTA_SPECIAL = /["\\\u0000-\u001F\uD800-\uDFFF]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

class Out {
  private cur = '';
  private readonly parts: Buffer[] = [];
  add(s: string): void {
    this.cur += s;
    if (this.cur.length > CHUNK) this.flush();
  }
  private flush(): void {
    // latin1 encoding is a plain copy, and equals UTF-8 for ASCII (nearly all metadata).
    this.parts.push(Buffer.from(this.cur, NON_ASCII.test(this.cur) ? 'utf8' : 'latin1'));
    this.cur = '';
  }
  finish(): Buffer {
    if (this.cur.length > 0 || this.parts.length === 0) this.flush();
    return this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts);
  }
}

function where(path: (string | number)[]): string {
  return path.length === 0 ? '(top level)' : path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('');
}

function tufString(s: string, path: (string | number)[]): string {
  if (!TUF_SPECIAL.test(s)) return '"' + s + '"';
  if (LONE_SURROGATE.test(s)) {
    throw new CanonicalError(
      'CANONICAL_LONE_SURROGATE',
      `string at ${where(path)} contains a lone UTF-16 surrogate, which has no UTF-8 form; fix the text`,
    );
  }
  return '"' + s.replace(/["\\]/g, (c) => '\\' + c) + '"';
}

function otaString(s: string, path: (string | number)[]): string {
  if (!OTA_SPECIAL.test(s)) return '"' + s + '"';
  if (LONE_SURROGATE.test(s)) {
    throw new CanonicalError(
      'CANONICAL_LONE_SURROGATE',
      `string at ${where(path)} contains a lone UTF-16 surrogate, which has no UTF-8 form; fix the text`,
    );
  }
  return JSON.stringify(s);
}

function encodeNumber(n: number, path: (string | number)[]): string {
  if (!Number.isInteger(n)) {
    throw new CanonicalError(
      'CANONICAL_FLOAT',
      `number ${n} at ${where(path)} is not an integer; canonical JSON allows integers only`,
    );
  }
  if (!Number.isSafeInteger(n)) {
    throw new CanonicalError(
      'CANONICAL_UNSAFE_INTEGER',
      `integer ${n} at ${where(path)} is outside ±(2^53-1) and would not round-trip`,
    );
  }
  return Object.is(n, -0) ? '0' : String(n);
}

// Strings JSON.stringify writes exactly as the dialect does: no escapes beyond `"` and `\\`
// (tuf has no control-character escapes; ota uses JSON.stringify's own), and no surrogates.
const TUF_PLAIN_BAIL = /[\u0000-\u001F\uD800-\uDFFF]/;
const OTA_PLAIN_BAIL = /[\uD800-\uDFFF]/;

/**
 * Whether JSON.stringify(v) already is the canonical form: plain objects whose own keys are in
 * sorted order (JSON.stringify follows property order), safe integers, strings needing no
 * dialect-specific escaping, no undefined. Files written by every TUF/Uptane tool have sorted
 * keys, so after JSON.parse this holds for nearly every subtree.
 */
function plain(v: unknown, bail: RegExp): boolean {
  switch (typeof v) {
    case 'string':
      return !bail.test(v);
    case 'number':
      return Number.isSafeInteger(v) && !Object.is(v, -0);
    case 'boolean':
      return true;
    case 'object': {
      if (v === null) return true;
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) if (!plain(v[i], bail)) return false;
        return true;
      }
      if (Object.getPrototypeOf(v) !== Object.prototype) return false;
      const o = v as Record<string, unknown>;
      const keys = Object.keys(o);
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i]!;
        if (i > 0 && !(keys[i - 1]! < k)) return false;
        if (bail.test(k) || !plain(o[k], bail)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

/**
 * `o[k] = v` as an own data property for every key: `o['__proto__'] = v` would set the prototype
 * (or do nothing) instead, dropping a key that JSON.parse keeps as ordinary data.
 */
export function setOwn(o: Record<string, unknown>, k: string, v: unknown): void {
  if (k === '__proto__')
    Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  else o[k] = v;
}

/**
 * `o[k]` if `o` has it as its own property: never a value inherited from Object.prototype (`constructor`, `__proto__`).
 */
export function getOwn<T>(o: Record<string, T> | undefined | null, k: string): T | undefined {
  return o != null && Object.hasOwn(o, k) ? o[k] : undefined;
}

/** Canonical bytes of `value` in the given dialect. Throws CanonicalError with a path on bad input. */
export function canonicalize(value: unknown, dialect: Dialect): Buffer {
  const out = new Out();
  const str = dialect === 'tuf' ? tufString : otaString;
  const bail = dialect === 'tuf' ? TUF_PLAIN_BAIL : OTA_PLAIN_BAIL;
  const path: (string | number)[] = [];
  const fast = (v: object): boolean => {
    let s: string;
    try {
      s = JSON.stringify(v);
    } catch (e) {
      if (e instanceof RangeError) return false; // longer than V8's maximum string: write it in pieces
      throw e;
    }
    out.add(s);
    return true;
  };

  const walk = (v: unknown): void => {
    switch (typeof v) {
      case 'string':
        out.add(str(v, path));
        return;
      case 'number':
        out.add(encodeNumber(v, path));
        return;
      case 'boolean':
        out.add(v ? 'true' : 'false');
        return;
      case 'undefined':
        throw new CanonicalError(
          'CANONICAL_UNDEFINED',
          `undefined at ${where(path)}; JSON has no undefined, remove the field`,
        );
      case 'object':
        break;
      default:
        throw new CanonicalError('CANONICAL_TYPE', `a ${typeof v} at ${where(path)} is not JSON`);
    }
    if (v === null) {
      out.add('null');
      return;
    }
    if (Array.isArray(v)) {
      if (plain(v, bail) && fast(v)) return;
      out.add('[');
      for (let i = 0; i < v.length; i++) {
        if (i > 0) out.add(',');
        path.push(i);
        walk(v[i]);
        path.pop();
      }
      out.add(']');
      return;
    }
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) {
      throw new CanonicalError(
        'CANONICAL_TYPE',
        `a ${proto?.constructor?.name ?? 'non-plain'} object at ${where(path)} is not JSON`,
      );
    }
    const obj = v as Record<string, unknown>;
    if (proto === Object.prototype && plain(obj, bail) && fast(obj)) return;
    const keys = Object.keys(obj).sort();
    if (keys.length > 16) {
      // A large map in another order (e.g. a targets file written without sorting): a copy in
      // sorted order usually takes the fast path as a whole, instead of entry by entry.
      const sorted: Record<string, unknown> = {};
      for (const k of keys) setOwn(sorted, k, obj[k]);
      if (plain(sorted, bail) && fast(sorted)) return;
    }
    out.add('{');
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      path.push(k);
      if (i > 0) out.add(',');
      out.add(str(k, path));
      out.add(':');
      walk(obj[k]);
      path.pop();
    }
    out.add('}');
  };

  walk(value);
  return out.finish();
}

/** Canonical form as a string (convenience for small values and tests). */
export function canonicalString(value: unknown, dialect: Dialect): string {
  return canonicalize(value, dialect).toString('utf8');
}

/**
 * The bytes aktualizr verifies and hashes for `ota` canonical bytes: JsonCpp's canonical form,
 * which escapes every non-ASCII UTF-16 unit as \uXXXX (lowercase hex) where ota-tuf and this
 * module write UTF-8. The same bytes for ASCII content, which is all the ota-tuf server accepts.
 */
export function aktualizrBytes(canonical: Buffer): Buffer {
  if (isAscii(canonical)) return canonical;
  const s = canonical
    .toString('utf8')
    .replace(/[^\x00-\x7f]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
  return Buffer.from(s, 'latin1');
}

// --- canonical bytes straight from the file ---------------------------------------------------

const WS = new Uint8Array(256);
for (const c of [0x20, 0x09, 0x0a, 0x0d]) WS[c] = 1;
/** `ota` escapes as JSON.stringify writes them (the control characters; `"` and `\` below). */
const OTA_SHORT = new Set([0x62, 0x66, 0x6e, 0x72, 0x74]); // b f n r t
const OTA_NO_U = new Set([0x08, 0x09, 0x0a, 0x0c, 0x0d]); // these have a short form instead

/**
 * The canonical bytes of the top-level `signed` value, taken from the file's own bytes when the
 * file already writes it canonically apart from whitespace and key order: every key ASCII and
 * unescaped, every string escaped exactly as the dialect's canonical form escapes it, every number
 * a safe integer in its shortest form, valid UTF-8. Whitespace is dropped, and the members of an
 * object whose keys are out of order are put in order (a second pass, only for such files); a
 * compact file in canonical order is returned as a slice of `bytes`, without a copy. Null
 * otherwise (or when `signed` is not found exactly once): the caller then canonicalises the
 * parsed object, which gives the same bytes whenever this does not return null. Call only on
 * bytes JSON.parse accepted.
 */
export function canonicalFromBytes(bytes: Buffer, dialect: Dialect): Buffer | null {
  if (!isUtf8(bytes)) return null;
  const first = scanSigned(bytes, dialect, false);
  return first === 'unsorted' ? (scanSigned(bytes, dialect, true) as Buffer | null) : first;
}

const COMMA = -1; // a segment start standing for a "," that is not in the file

function scanSigned(b: Buffer, dialect: Dialect, reorder: boolean): Buffer | null | 'unsorted' {
  const n = b.length;
  const ota = dialect === 'ota';
  let nextBackslash = b.indexOf(0x5c);
  if (nextBackslash < 0) nextBackslash = n;
  let i = 0;
  let unsorted = false;
  // Output: [start, end) ranges of `b` in order; adjacent ranges merge unless a barrier is set
  // (members of objects that may be reordered keep their own ranges).
  const segs: number[] = [];
  let emitting = false;
  let barrier = false;
  const emit = (s: number, e: number): void => {
    if (!emitting) return;
    if (!barrier && segs.length && segs[segs.length - 1] === s) segs[segs.length - 1] = e;
    else segs.push(s, e);
    barrier = false;
  };
  const ws = () => {
    while (i < n && WS[b[i]!]) i++;
  };
  /** A string starting at the quote at i; i ends after the closing quote. `strict`: canonical escapes only. */
  const string = (strict: boolean): boolean => {
    const start = i;
    i++;
    for (;;) {
      const q = b.indexOf(0x22, i);
      if (q < 0) return false;
      if (nextBackslash > q) {
        i = q + 1;
        emit(start, i);
        return true;
      }
      // an escape before the closing quote
      i = nextBackslash;
      const e = b[i + 1]!;
      if (strict) {
        if (e === 0x22 || e === 0x5c) {
          /* canonical in both dialects */
        } else if (!ota) return false;
        else if (OTA_SHORT.has(e)) {
          /* \b \f \n \r \t */
        } else if (e === 0x75) {
          // \u00XX with lowercase hex, for a control character without a short form
          const hex = b.toString('latin1', i + 2, i + 6);
          if (!/^00[01][0-9a-f]$/.test(hex) || OTA_NO_U.has(parseInt(hex, 16))) return false;
          i += 4;
        } else return false;
      } else if (e === 0x75) i += 4;
      i += 2;
      nextBackslash = b.indexOf(0x5c, i);
      if (nextBackslash < 0) nextBackslash = n;
    }
  };
  const number = (strict: boolean): boolean => {
    const start = i;
    if (b[i] === 0x2d) i++;
    const digits = i;
    while (i < n && b[i]! >= 0x30 && b[i]! <= 0x39) i++;
    const nd = i - digits;
    const frac = b[i] === 0x2e || b[i] === 0x65 || b[i] === 0x45;
    if (!strict) {
      while (i < n && /[0-9.eE+-]/.test(String.fromCharCode(b[i]!))) i++;
      return true;
    }
    if (frac || nd === 0 || (b[digits] === 0x30 && nd > 1)) return false;
    if (b[start] === 0x2d && nd === 1 && b[digits] === 0x30) return false; // -0 is written 0
    emit(start, i);
    return nd < 16 || Number.isSafeInteger(Number(b.toString('latin1', start, i)));
  };
  const literal = (): boolean => {
    const c = b[i];
    const start = i;
    i += c === 0x66 ? 5 : 4; // false, true, null
    emit(start, i);
    return c === 0x74 || c === 0x66 || c === 0x6e;
  };
  const punct = (): void => {
    emit(i, i + 1);
    i++;
  };
  /**
   * An object at i (strict: canonical keys, in order or, `reorder`, put in order). Objects are
   * scanned as one run of bytes; one found out of order (with `reorder`) is scanned again with
   * each member's ranges kept apart (`track`), then its members are written in key order.
   */
  const object = (strict: boolean, track = false): boolean => {
    const startI = i;
    const startSegs = segs.length;
    const startLast = segs.length ? segs[segs.length - 1]! : 0;
    const startBarrier = barrier;
    punct();
    ws();
    if (b[i] === 0x7d) return (punct(), true);
    const body = segs.length;
    const members: { k: string; from: number; to: number }[] = [];
    let prevStart = -1;
    let prevEnd = -1;
    for (;;) {
      ws();
      if (b[i] !== 0x22) return false;
      if (track) barrier = true;
      const from = segs.length;
      const kStart = i + 1;
      if (!string(strict)) return false;
      const kEnd = i - 1;
      if (strict) {
        for (let k = kStart; k < kEnd; k++) if (b[k]! >= 0x80 || b[k] === 0x5c) return false;
        if (!track && prevStart >= 0 && b.compare(b, kStart, kEnd, prevStart, prevEnd) >= 0) {
          if (!reorder) return ((unsorted = true), false);
          // Out of order: scan this object again, keeping its members apart.
          i = startI;
          segs.length = startSegs;
          if (startSegs) segs[startSegs - 1] = startLast;
          barrier = startBarrier;
          nextBackslash = b.indexOf(0x5c, i);
          if (nextBackslash < 0) nextBackslash = n;
          return object(strict, true);
        }
        prevStart = kStart;
        prevEnd = kEnd;
      }
      ws();
      if (b[i] !== 0x3a) return false;
      punct();
      if (!value(strict)) return false;
      if (track) {
        members.push({ k: b.toString('latin1', kStart, kEnd), from, to: segs.length });
        barrier = true;
      }
      ws();
      if (b[i] === 0x2c) {
        punct();
        continue;
      }
      if (b[i] !== 0x7d) return false;
      if (track) {
        members.sort((x, y) => (x.k < y.k ? -1 : x.k > y.k ? 1 : 0));
        const out: number[] = [];
        for (let m = 0; m < members.length; m++) {
          if (m > 0) {
            if (members[m]!.k === members[m - 1]!.k) return false; // a duplicate key: JSON.parse keeps the last
            out.push(COMMA, COMMA);
          }
          for (let x = members[m]!.from; x < members[m]!.to; x++) out.push(segs[x]!);
        }
        segs.length = body;
        for (const x of out) segs.push(x);
        barrier = true;
      }
      punct();
      return true;
    }
  };
  /** A value at i (after whitespace); i ends after it. */
  const value = (strict: boolean): boolean => {
    ws();
    const c = b[i];
    if (c === 0x22) return string(strict);
    if (c === 0x7b) return object(strict);
    if (c === 0x5b) {
      punct();
      ws();
      if (b[i] === 0x5d) return (punct(), true);
      for (;;) {
        if (!value(strict)) return false;
        ws();
        if (b[i] === 0x2c) {
          punct();
          continue;
        }
        if (b[i] === 0x5d) return (punct(), true);
        return false;
      }
    }
    if (c === 0x2d || (c !== undefined && c >= 0x30 && c <= 0x39)) return number(strict);
    return literal();
  };

  // The top level: find `signed` (exactly once, its key unescaped) and scan its value strictly.
  ws();
  if (b[i] !== 0x7b) return null;
  i++;
  let found = false;
  ws();
  if (b[i] === 0x7d) return null;
  for (;;) {
    ws();
    if (b[i] !== 0x22) return null;
    const kStart = i + 1;
    if (!string(false)) return null;
    const key = b.toString('latin1', kStart, i - 1);
    if (key.includes('\\')) return null;
    ws();
    if (b[i] !== 0x3a) return null;
    i++;
    const isSigned = key === 'signed';
    if (isSigned && found) return null; // JSON.parse keeps the last one: leave it to the general path
    emitting = isSigned;
    if (!value(isSigned)) return unsorted ? 'unsorted' : null;
    emitting = false;
    found ||= isSigned;
    ws();
    if (b[i] === 0x2c) {
      i++;
      continue;
    }
    if (b[i] === 0x7d) break;
    return null;
  }
  if (!found) return null;
  return assemble(b, segs);
}

/** The output of scanSigned: one slice of `b` when it is one range, else a copy of every range. */
function assemble(b: Buffer, segs: number[]): Buffer {
  if (segs.length === 2 && segs[0] !== COMMA) return b.subarray(segs[0], segs[1]);
  let len = 0;
  for (let x = 0; x < segs.length; x += 2) len += segs[x] === COMMA ? 1 : segs[x + 1]! - segs[x]!;
  const out = Buffer.allocUnsafe(len);
  let pos = 0;
  for (let x = 0; x < segs.length; x += 2) {
    if (segs[x] === COMMA) out[pos++] = 0x2c;
    else pos += b.copy(out, pos, segs[x], segs[x + 1]);
  }
  return out;
}
