/**
 * Text from elsewhere (a coordinator, a metadata file, a certificate) shown on a terminal. A
 * control character, an escape sequence or a bidi override in such text could hide, move or
 * rewrite what a person reads before signing (clear a line, recolour it, reverse it), so every such
 * character is shown escaped instead: C0 and C1 controls and DEL as \xHH (\n, \r, \t as themselves
 * escaped), and the invisible formatting characters (bidi embeddings, overrides, isolates and
 * marks, zero-width characters, line and paragraph separators, BOM) and lone surrogates as \uHHHH.
 */

// C0, DEL, C1; Arabic letter mark; zero-width space/non-joiner/joiner, LRM, RLM; line and
// paragraph separators, LRE, RLE, PDF, LRO, RLO; word joiner and invisible operators, LRI, RLI,
// FSI, PDI; BOM; and UTF-16 surrogates that are not part of a pair.
const HIDDEN =
  /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const HIDDEN_BUT_NEWLINE = new RegExp(HIDDEN.source.replace('\\u0000-\\u001f', '\\u0000-\\u0009\\u000b-\\u001f'), 'g');
const SHORT: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeOne(c: string): string {
  const short = SHORT[c];
  if (short) return short;
  const n = c.charCodeAt(0);
  return n < 0x100 ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`;
}

/**
 * One value from elsewhere (a reason, a target name, a hardware id, a subject, an error message)
 * on one line: every hidden character escaped, newlines included, and `\` doubled so that an
 * escape shown can always be told from the same characters typed literally.
 */
export function displayText(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(HIDDEN, escapeOne);
}

/**
 * A block of lines built here whose values are already escaped, or that is JSON text (whose
 * strings JSON.stringify escapes except for DEL, C1 and the invisible characters): every hidden
 * character escaped except the newlines that separate the lines.
 */
export function displayBlock(s: string): string {
  return s.replace(HIDDEN_BUT_NEWLINE, escapeOne);
}

/**
 * JSON for `--json` output: JSON.stringify, with the characters it leaves raw that a terminal
 * would act on (DEL, C1, the invisible characters) written as \uHHHH escapes. The result is the
 * same JSON value, so machines read it unchanged.
 */
export function displayJson(v: unknown): string {
  return JSON.stringify(v, null, 2).replace(
    HIDDEN_BUT_NEWLINE,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
