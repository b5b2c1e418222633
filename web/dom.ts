/**
 * Building the page's elements. Text only ever enters the page as text nodes (never as HTML), and
 * every string goes through displayText first, as on the terminal: a control character, a bidi
 * override or a zero-width character from a reason, a keyholder name or a target name is shown
 * escaped (\u202e) instead of reordering or hiding what a person reads. Attributes are set only
 * from this page's own constants and from ids the coordinator's schemas restrict to [A-Za-z0-9._-].
 */
import { displayBlock, displayText } from '../protocol/display.js';

export type Child = Node | string | number | null | undefined | false;

type Attrs = Record<string, string | number | boolean | EventListener | undefined>;

/** Element `tag` with attributes (`on*` are listeners) and children (strings escaped, as text). */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

export function append(el: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(typeof c === 'string' || typeof c === 'number' ? text(String(c)) : c);
  }
}

/** A text node of `s` with its hidden characters shown escaped. */
export function text(s: string): Text {
  return document.createTextNode(displayText(s));
}

/**
 * Lines the coordinator built with every value already escaped (a change summary, as the signer
 * prints it): shown as lines, with any hidden character that is left escaped too, as the terminal does.
 */
export function lines(s: string): HTMLElement {
  return h('span', { class: 'lines' }, document.createTextNode(displayBlock(s)));
}

/** `3d 4h`, `12m`, `expired 2h ago`: the time from `now` to `iso`. */
export function timeLeft(iso: string, now = Date.now()): string {
  const ms = Date.parse(iso) - now;
  if (Number.isNaN(ms)) return 'unknown';
  const abs = Math.abs(ms);
  const d = Math.floor(abs / 86_400_000);
  const hrs = Math.floor((abs % 86_400_000) / 3_600_000);
  const m = Math.floor((abs % 3_600_000) / 60_000);
  const span = d ? `${d}d ${hrs}h` : hrs ? `${hrs}h ${m}m` : `${m}m`;
  return ms >= 0 ? `${span} left` : `passed ${span} ago`;
}

/** A progress bar that is also text (readable without colour or the bar): `root (new keys) 1/2`. */
export function progress(label: string, done: number, of: number, met: boolean): HTMLElement {
  return h(
    'div',
    { class: `progress${met ? ' met' : ''}` },
    h('span', { class: 'progress-label' }, `${label} ${done}/${of}${met ? ' (met)' : ''}`),
    h('progress', { max: of, value: Math.min(done, of), 'aria-label': `${label}: ${done} of ${of} signatures` }),
  );
}

/** A definition list of label/value pairs. */
export function facts(pairs: [string, Child][]): HTMLElement {
  const dl = h('dl', { class: 'facts' });
  for (const [k, v] of pairs) dl.append(h('dt', {}, k), h('dd', {}, v));
  return dl;
}

/** A table with a caption, column headers and rows. */
export function table(caption: string, head: string[], rows: Child[][]): HTMLElement {
  // A table wider than a phone scrolls; the keyboard can scroll it too (focusable, named by its caption).
  return h(
    'div',
    { class: 'table-wrap', tabindex: 0, role: 'region', 'aria-label': caption },
    h(
      'table',
      {},
      h('caption', {}, caption),
      h('thead', {}, h('tr', {}, ...head.map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, ...rows.map((r) => h('tr', {}, ...r.map((c) => h('td', {}, c))))),
    ),
  );
}
