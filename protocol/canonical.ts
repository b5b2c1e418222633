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
 * The output is built as a list of Buffers of about 1 MiB each so that multi-hundred-megabyte
 * targets files never hit V8's maximum string length; callers get one Buffer.
 */
import { CanonicalError } from './errors.js';

export type Dialect = 'ota' | 'tuf';

const CHUNK = 1 << 20; // characters per flushed chunk

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
    this.parts.push(Buffer.from(this.cur, 'utf8'));
    this.cur = '';
  }
  finish(): Buffer {
    if (this.parts.length === 0) return Buffer.from(this.cur, 'utf8');
    this.flush();
    return Buffer.concat(this.parts);
  }
}

function where(path: (string | number)[]): string {
  return path.length === 0 ? '(top level)' : path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('');
}

function tufString(s: string, path: (string | number)[]): string {
  if (!TUF_SPECIAL.test(s)) return '"' + s + '"';
  if (LONE_SURROGATE.test(s)) {
    throw new CanonicalError('CANONICAL_LONE_SURROGATE', `string at ${where(path)} contains a lone UTF-16 surrogate, which has no UTF-8 form; fix the text`);
  }
  return '"' + s.replace(/["\\]/g, (c) => '\\' + c) + '"';
}

function otaString(s: string, path: (string | number)[]): string {
  if (!OTA_SPECIAL.test(s)) return '"' + s + '"';
  if (LONE_SURROGATE.test(s)) {
    throw new CanonicalError('CANONICAL_LONE_SURROGATE', `string at ${where(path)} contains a lone UTF-16 surrogate, which has no UTF-8 form; fix the text`);
  }
  return JSON.stringify(s);
}

function encodeNumber(n: number, path: (string | number)[]): string {
  if (!Number.isInteger(n)) {
    throw new CanonicalError('CANONICAL_FLOAT', `number ${n} at ${where(path)} is not an integer; canonical JSON allows integers only`);
  }
  if (!Number.isSafeInteger(n)) {
    throw new CanonicalError('CANONICAL_UNSAFE_INTEGER', `integer ${n} at ${where(path)} is outside ±(2^53-1) and would not round-trip`);
  }
  return Object.is(n, -0) ? '0' : String(n);
}

/** Canonical bytes of `value` in the given dialect. Throws CanonicalError with a path on bad input. */
export function canonicalize(value: unknown, dialect: Dialect): Buffer {
  const out = new Out();
  const str = dialect === 'tuf' ? tufString : otaString;
  const path: (string | number)[] = [];

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
        throw new CanonicalError('CANONICAL_UNDEFINED', `undefined at ${where(path)}; JSON has no undefined, remove the field`);
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
      throw new CanonicalError('CANONICAL_TYPE', `a ${proto?.constructor?.name ?? 'non-plain'} object at ${where(path)} is not JSON`);
    }
    const obj = v as Record<string, unknown>;
    const keys = Object.keys(obj).sort();
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
