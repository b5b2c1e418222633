/**
 * The status page: what a release coordinator follows at a glance. Views (by the URL's #fragment):
 * open rounds with each threshold's progress, a round's detail (its changes computed from the
 * stored bytes, their sha256, its audit events), releases, the expiry timeline, keyholders and
 * whether they are connected, certificate rounds and FROST ceremonies, and the audit log. It
 * listens to the coordinator's live feed (/v1/events) and redraws the current view when anything
 * changes. The admin sees two actions (open a targets round from a file, cancel a round); a viewer
 * sees none, and the coordinator refuses a viewer whatever the page sends.
 */
import type { AdminResponse } from '../coordinator/admin-api.js';
import type { RoundInfo } from '../protocol/wire.js';
import { ApiError, call, currentSession, signIn, signOut, type SessionInfo } from './api.js';
import { h, facts, lines, progress, table, timeLeft, type Child } from './dom.js';
import { openTargetsForm } from './upload.js';

const main = document.getElementById('main')!;
const nav = document.getElementById('nav')!;
const who = document.getElementById('who')!;
const live = document.getElementById('live')!;

let session: SessionInfo | null = null;
let events: EventSource | null = null;
/** The admin's forms, kept across redraws (what is typed or chosen in them survives a live update). */
let uploadForm: HTMLElement | null = null;
const cancelForms = new Map<string, HTMLElement>();

const VIEWS: { path: string; label: string }[] = [
  { path: 'rounds', label: 'Rounds' },
  { path: 'releases', label: 'Releases' },
  { path: 'expiry', label: 'Expiry' },
  { path: 'keyholders', label: 'Keyholders' },
  { path: 'certs', label: 'Certificates & FROST' },
  { path: 'audit', label: 'Audit log' },
];

/** The view the fragment names: `#/round/ID`, `#/audit?before=N`, `#/rounds` (the default). */
function route(): { view: string; arg: string; query: URLSearchParams } {
  const [p = '', q = ''] = location.hash.replace(/^#\/?/, '').split('?');
  const [view = 'rounds', ...rest] = p.split('/');
  return { view: view || 'rounds', arg: decodeURIComponent(rest.join('/')), query: new URLSearchParams(q) };
}

// --- views ---------------------------------------------------------------------------------------

function roundLink(r: { id: string }, label: Child = r.id): HTMLElement {
  return h('a', { href: `#/round/${encodeURIComponent(r.id)}` }, label);
}

/** A round's role as people name it: `targets`, or `targets.firmware` for a delegated role's round. */
const roleOf = (r: { role: string; delegated?: string }): string => (r.delegated ? `${r.role}.${r.delegated}` : r.role);

function roundCard(r: RoundInfo): HTMLElement {
  return h(
    'article',
    { class: 'round', 'data-round': r.id },
    h('h3', {}, roundLink(r, `${roleOf(r)} v${r.version}`), ' ', h('span', { class: 'state' }, `[${r.state}]`)),
    h('p', { class: 'reason' }, 'Reason: ', r.reason),
    ...r.progress.map((p) =>
      h(
        'div',
        { class: 'threshold' },
        progress(p.label, p.signed.length, p.threshold, p.met),
        h(
          'p',
          { class: 'who' },
          'Signed: ',
          p.signed.length ? p.signed.join(', ') : 'nobody yet',
          '; missing: ',
          p.missing.length ? p.missing.join(', ') : 'none',
        ),
      ),
    ),
    ...(r.frost ?? []).map((f) =>
      h(
        'p',
        { class: 'frost' },
        `FROST group ${f.session} (${f.threshold} of ${f.participants.length}): `,
        f.signed ? 'signed' : 'waiting',
      ),
    ),
    h('p', { class: 'deadline' }, `Deadline ${r.deadline} (${timeLeft(r.deadline)})`),
    r.linked ? h('p', {}, 'Released together with ', roundLink({ id: r.linked })) : null,
  );
}

async function roundsView(): Promise<Node> {
  const [st, recent] = await Promise.all([call('status'), call('rounds.list', { query: { limit: 20 } })]);
  const closed = recent.filter((r) => r.state !== 'open').reverse();
  const rel = st.release;
  return h(
    'div',
    {},
    h('h2', {}, 'Open rounds'),
    h(
      'p',
      { class: 'summary' },
      `Released: root v${st.rootVersion ?? '-'}, targets v${st.targetsVersion ?? '-'}. `,
      rel ? `Latest release #${rel.seq}: ${rel.role} v${rel.version} at ${rel.released_at}.` : 'Nothing released yet.',
    ),
    st.openRounds.length
      ? h('div', { class: 'rounds' }, ...st.openRounds.map(roundCard))
      : h('p', { class: 'empty' }, 'No round is open.'),
    session?.role === 'admin' ? (uploadForm ??= openTargetsForm(st.dialect, refresh)) : null,
    h('h2', {}, 'Recently closed'),
    closed.length
      ? table(
          'The latest closed rounds, newest first',
          ['Round', 'Role', 'Version', 'State', 'Reason', 'Opened'],
          closed.map((r) => [roundLink(r), roleOf(r), r.version, r.state, r.reason, r.createdAt]),
        )
      : h('p', { class: 'empty' }, 'No closed rounds yet.'),
  );
}

async function roundView(id: string): Promise<Node> {
  const [{ round: r }, summary, audit] = await Promise.all([
    call('rounds.get', { params: { id } }),
    call('rounds.summary', { params: { id } }),
    call('audit.list', { query: { round: id, limit: 100 } }),
  ]);
  return h(
    'div',
    {},
    h('h2', {}, `Round ${r.id}`),
    roundCard(r),
    facts([
      ['Opened', r.createdAt],
      ['Version', `${summary.version.from ?? '-'} -> ${summary.version.to}`],
      ['Expires', `${summary.expires.from ?? '-'} -> ${summary.expires.to}`],
      ['sha256 of the bytes to sign', h('code', { class: 'sha256' }, summary.sha256)],
    ]),
    summary.sha256 !== r.sha256
      ? h('p', { class: 'warning', role: 'alert' }, 'The stored bytes do not hash to the sha256 the round states!')
      : null,
    h('h3', {}, 'Changes (computed from the stored bytes)'),
    summary.changes.length
      ? h('ul', { class: 'changes' }, ...summary.changes.map((c) => h('li', {}, lines(c))))
      : h('p', {}, 'No key, threshold or target changes.'),
    h('h3', {}, 'Audit events'),
    auditTable(`Audit events of round ${r.id}`, audit.events),
    session?.role === 'admin' && r.state === 'open' ? cancelForm(r.id) : null,
  );
}

function cancelForm(id: string): HTMLElement {
  const kept = cancelForms.get(id);
  if (kept) return kept;
  const status = h('p', { role: 'status', class: 'form-status' });
  const reason = h('input', { id: 'cancel-reason', name: 'reason', required: true, maxlength: 2000 });
  const form = h(
    'form',
    {
      class: 'action',
      'aria-labelledby': 'cancel-heading',
      onsubmit: (e: Event) => {
        e.preventDefault();
        status.textContent = 'Cancelling…';
        call('rounds.cancel', { params: { id }, body: { reason: reason.value } }).then(
          () => ((status.textContent = 'Cancelled.'), refresh()),
          (err: unknown) => (status.textContent = `Refused: ${errorText(err)}`),
        );
      },
    },
    h('h3', { id: 'cancel-heading' }, 'Cancel this round'),
    h('label', { for: 'cancel-reason' }, 'Reason'),
    reason,
    h('button', { type: 'submit', id: 'cancel-submit' }, 'Cancel round'),
    status,
  );
  cancelForms.set(id, form);
  return form;
}

async function releasesView(): Promise<Node> {
  const rels = await call('releases.list', { query: { limit: 50 } });
  return h(
    'div',
    {},
    h('h2', {}, 'Releases'),
    rels.length
      ? h(
          'div',
          {},
          ...rels.map((r) =>
            h(
              'section',
              { class: 'release' },
              h('h3', {}, `Release #${r.seq}: ${r.role} v${r.version}`),
              h(
                'p',
                {},
                `Released ${r.releasedAt}`,
                r.roundId ? h('span', {}, ' from round ', roundLink({ id: r.roundId })) : ' (imported)',
              ),
              table(
                `Files of release #${r.seq}`,
                ['File', 'Version', 'Bytes', 'sha256'],
                r.files.map((f) => [f.name, f.version ?? '-', f.length, h('code', {}, f.sha256)]),
              ),
            ),
          ),
        )
      : h('p', { class: 'empty' }, 'Nothing released yet.'),
  );
}

const RENEWED_BY: Record<string, string> = {
  root: 'a root round the keyholders sign (opened by the coordinator when the window opens)',
  targets: 'a targets round the keyholders sign (opened by the coordinator when the window opens)',
  snapshot: "the coordinator's online key (re-signed when the window opens)",
  timestamp: "the coordinator's online key (re-signed when the window opens)",
};

async function expiryView(): Promise<Node> {
  const ex = await call('expiry');
  const roles = [...ex.roles].sort((a, b) => Date.parse(a.expires) - Date.parse(b.expires));
  return h(
    'div',
    {},
    h('h2', {}, 'Expiry timeline'),
    h(
      'p',
      {},
      "Soonest first, by the coordinator's clock at ",
      ex.at,
      '. Each role is renewed (a new version signed) inside its renewal window, which runs from "Renewal from" to its expiry.',
    ),
    roles.length
      ? table(
          'When each role expires and when its renewal window opens',
          ['Role', 'Version', 'Expires', 'Time left', 'State', 'Renewal from', 'Renewed by'],
          roles.map((r) => [
            r.role,
            r.version,
            r.expires,
            timeLeft(r.expires),
            r.round ? `${r.state} (round ${r.round})` : r.state,
            `${r.renewFrom} (${timeLeft(r.renewFrom).replace(/ left$/, ' from now')})`,
            RENEWED_BY[r.role] ?? '',
          ]),
        )
      : h('p', { class: 'empty' }, 'Nothing released yet.'),
    ...(ex.delegated.length
      ? [
          h('h3', {}, 'Delegated roles'),
          table(
            'When each delegated role expires',
            ['Role', 'Version', 'Expires', 'Time left', 'State', 'Renewed by'],
            ex.delegated.map((d) => [
              d.first ? `${d.name} (first to expire: ${d.first})` : d.name,
              d.version,
              d.expires,
              timeLeft(d.expires),
              d.round ? `${d.state} (round ${d.round})` : d.state,
              d.first
                ? "the coordinator's online key, when a targets round changes a bin or half its year is gone"
                : `a round of the delegated role (quorum round open targets --role ${d.name})`,
            ]),
          ),
        ]
      : []),
    h('h3', {}, 'CA certificates'),
    ex.certificates.length
      ? table(
          'When each CA certificate expires',
          ['CA', 'Expires', 'Time left', 'State', 'Renewed by'],
          ex.certificates.map((c) => [c.ca, c.expires, timeLeft(c.expires), c.state, 'a new certificate round']),
        )
      : h('p', { class: 'empty' }, 'No CA certificate issued yet.'),
  );
}

async function keyholdersView(): Promise<Node> {
  const st = await call('status');
  return h(
    'div',
    {},
    h('h2', {}, 'Keyholders'),
    table(
      'Enrolled keyholders and whether they are connected now',
      ['Name', 'Connected', 'Key', 'Fingerprint'],
      st.keyholders.map((k) => [
        k.name,
        h('span', { class: k.connected ? 'on' : 'off' }, k.connected ? 'connected' : 'not connected'),
        k.algorithm,
        h('code', {}, k.fingerprint),
      ]),
    ),
  );
}

async function certsView(): Promise<Node> {
  const [certs, groups] = await Promise.all([call('certs.list', { query: { limit: 50 } }), call('frost.groups')]);
  return h(
    'div',
    {},
    h('h2', {}, 'Certificate rounds'),
    certs.length
      ? h(
          'div',
          { class: 'rounds' },
          ...[...certs]
            .reverse()
            .map((c) =>
              h(
                'article',
                { class: 'round' },
                h('h3', {}, `${c.profile} from CA ${c.ca}`, ' ', h('span', { class: 'state' }, `[${c.state}]`)),
                h('p', {}, `Round ${c.id}. Reason: `, c.reason),
                progress('approvals', c.approvals.approved.length, c.approvals.threshold, c.approvals.met),
                h(
                  'p',
                  { class: 'who' },
                  'Approved: ',
                  c.approvals.approved.join(', ') || 'nobody yet',
                  '; missing: ',
                  c.approvals.missing.join(', ') || 'none',
                  c.holder ? `; signed by ${c.holder}'s CA key` : '',
                ),
                h('p', {}, `Deadline ${c.deadline} (${timeLeft(c.deadline)})`),
              ),
            ),
        )
      : h('p', { class: 'empty' }, 'No certificate rounds.'),
    h('h2', {}, 'FROST ceremonies'),
    groups.length
      ? table(
          'Distributed key generation ceremonies',
          ['Ceremony', 'Group', 'For', 'State', 'Threshold', 'Participants', 'Problem'],
          groups.map((g) => [
            g.ceremony,
            g.name,
            g.kind,
            g.state,
            `${g.threshold} of ${g.participants.length}`,
            g.participants.join(', '),
            g.failure ?? g.refused ?? '-',
          ]),
        )
      : h('p', { class: 'empty' }, 'No FROST ceremonies.'),
  );
}

type AuditEvents = AdminResponse<'audit.list'>['events'];

/** An audit event's data as `name: value` pairs (strings as they are; the page escapes what they hide). */
function details(data: Record<string, unknown>): string {
  return Object.entries(data)
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join('; ');
}

function auditTable(caption: string, events: AuditEvents): HTMLElement {
  return table(
    caption,
    ['#', 'Time', 'Event', 'Details'],
    events.map((e) => [e.seq, e.at, e.event, details(e.data)]),
  );
}

async function auditView(query: URLSearchParams): Promise<Node> {
  const before = query.get('before');
  const page = await call('audit.list', { query: { limit: 50, ...(before ? { before: Number(before) } : {}) } });
  const oldest = page.events.at(-1)?.seq;
  return h(
    'div',
    {},
    h('h2', {}, 'Audit log'),
    facts([
      ['Events', page.total],
      ['Head', page.head ? h('code', { class: 'sha256' }, `#${page.head.seq} ${page.head.hash}`) : 'empty'],
    ]),
    auditTable('Audit events, newest first', page.events),
    h(
      'nav',
      { class: 'pager', 'aria-label': 'Audit log pages' },
      before ? h('a', { href: '#/audit' }, 'Newest') : null,
      oldest !== undefined && oldest > 1 ? h('a', { href: `#/audit?before=${oldest}` }, 'Older') : null,
    ),
  );
}

// --- frame: sign-in, navigation, live updates ---------------------------------------------------

function errorText(e: unknown): string {
  return e instanceof ApiError ? `${e.code}: ${e.message}` : String((e as Error).message ?? e);
}

function signInView(message?: string): Node {
  const token = h('input', { id: 'token', type: 'password', autocomplete: 'current-password', required: true });
  const status = h('p', { role: 'status', class: 'form-status' }, message ?? '');
  return h(
    'form',
    {
      class: 'signin',
      'aria-labelledby': 'signin-heading',
      onsubmit: (e: Event) => {
        e.preventDefault();
        signIn(token.value).then(
          (s) => {
            session = s;
            token.value = '';
            void start();
          },
          (err: unknown) => (status.textContent = `Refused: ${errorText(err)}`),
        );
      },
    },
    h('h2', { id: 'signin-heading' }, 'Sign in'),
    h('p', {}, 'With the admin token (admin.token in the data dir) or a viewer token (quorum viewer add NAME).'),
    h('label', { for: 'token' }, 'Token'),
    token,
    h('button', { type: 'submit' }, 'Sign in'),
    status,
  );
}

function drawNav(): void {
  const cur = route().view;
  nav.replaceChildren(
    h(
      'ul',
      {},
      ...VIEWS.map((v) =>
        h('li', {}, h('a', { href: `#/${v.path}`, 'aria-current': cur === v.path ? 'page' : undefined }, v.label)),
      ),
    ),
  );
  who.replaceChildren(
    session
      ? h(
          'span',
          {},
          `Signed in as ${session.role === 'admin' ? 'admin' : `viewer ${session.name}`} `,
          h('button', { type: 'button', id: 'signout', onclick: () => void doSignOut() }, 'Sign out'),
        )
      : '',
  );
}

async function doSignOut(): Promise<void> {
  try {
    await signOut();
  } finally {
    session = null;
    uploadForm = null;
    cancelForms.clear();
    events?.close();
    events = null;
    nav.replaceChildren();
    who.replaceChildren();
    main.replaceChildren(signInView('Signed out.'));
  }
}

let drawing = false;
let again = false;

/** Redraw the current view from fresh data (one at a time; a change during a draw draws once more). */
async function refresh(): Promise<void> {
  if (!session) return;
  if (drawing) {
    again = true;
    return;
  }
  drawing = true;
  try {
    do {
      again = false;
      const { view, arg, query } = route();
      let node: Node;
      try {
        node =
          view === 'round'
            ? await roundView(arg)
            : view === 'releases'
              ? await releasesView()
              : view === 'expiry'
                ? await expiryView()
                : view === 'keyholders'
                  ? await keyholdersView()
                  : view === 'certs'
                    ? await certsView()
                    : view === 'audit'
                      ? await auditView(query)
                      : await roundsView();
      } catch (e) {
        if (e instanceof ApiError && e.status === 401) {
          session = null;
          events?.close();
          nav.replaceChildren();
          who.replaceChildren();
          main.replaceChildren(signInView('Your session ended; sign in again.'));
          return;
        }
        node = h('p', { class: 'warning', role: 'alert' }, `Could not load this view: ${errorText(e)}`);
      }
      swap(node);
      drawNav();
      // For the benchmark (test/bench/page.bench.ts): when the first view was on screen, since navigation start.
      if (!performance.getEntriesByName('quorum-first-view').length) performance.mark('quorum-first-view');
    } while (again);
  } finally {
    drawing = false;
  }
}

/** Replace the view, keeping the focus where an element keeps its id (the forms are the same nodes). */
function swap(node: Node): void {
  const active = document.activeElement;
  const id = active?.id;
  const href = active instanceof HTMLAnchorElement ? active.getAttribute('href') : null;
  main.replaceChildren(node);
  if (id) document.getElementById(id)?.focus();
  else if (href) [...main.querySelectorAll('a')].find((a) => a.getAttribute('href') === href)?.focus();
}

/** What the live feed says moved (coordinator/events.ts). */
interface Change {
  type: string;
  round?: RoundInfo;
}

/**
 * Apply a change without asking the coordinator anything when it only moves an open round that the
 * rounds view already shows (a signature arrived): that card is redrawn from the round the event
 * carries. Anything else (a round opened or closed, another view) redraws the view from fresh data.
 * True when done here.
 */
function patch(c: Change): boolean {
  if (c.type !== 'round.updated' || !c.round || c.round.state !== 'open' || route().view !== 'rounds') return false;
  const card = [...main.querySelectorAll<HTMLElement>('article[data-round]')].find(
    (a) => a.dataset.round === c.round!.id,
  );
  if (!card || drawing) return false;
  const focused = card.contains(document.activeElement)
    ? (document.activeElement as HTMLElement).getAttribute('href')
    : null;
  const fresh = roundCard(c.round);
  card.replaceWith(fresh);
  if (focused) fresh.querySelector<HTMLElement>(`a[href="${CSS.escape(focused)}"]`)?.focus();
  return true;
}

function listen(): void {
  events?.close();
  events = new EventSource('/v1/events');
  events.addEventListener('ready', () => {
    live.textContent = 'Live: updates appear as they happen.';
    void refresh();
  });
  events.addEventListener('change', (e) => {
    if (!patch(JSON.parse((e as MessageEvent<string>).data) as Change)) void refresh();
  });
  events.addEventListener('error', () => {
    live.textContent = 'Live updates interrupted; reconnecting…';
    if (events?.readyState === EventSource.CLOSED) void currentSession().then((s) => (s ? listen() : void refresh()));
  });
}

async function start(): Promise<void> {
  session = await currentSession();
  if (!session) {
    main.replaceChildren(signInView());
    return;
  }
  drawNav();
  listen();
  await refresh();
}

window.addEventListener('hashchange', () => {
  void refresh().then(() => main.focus());
});
void start();
