/**
 * The admin's form to open a targets round from a file: the browser hashes the file (it is never
 * uploaded; only its length and hashes go to the coordinator, as with quorum round open targets
 * --add), the entry is built by the CLI's own function (coordinator/target-entry.ts), and the
 * coordinator checks the round as it checks the CLI's.
 */
import { targetEntry } from '../coordinator/target-entry.js';
import { call } from './api.js';
import { h } from './dom.js';

async function digest(alg: 'SHA-256' | 'SHA-512', bytes: ArrayBuffer): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest(alg, bytes));
  return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
}

function field(id: string, label: string, input: HTMLElement, hint?: string): HTMLElement {
  return h(
    'div',
    { class: 'field' },
    h('label', { for: id }, label),
    input,
    hint ? h('span', { class: 'hint', id: `${id}-hint` }, hint) : null,
  );
}

/** The form; `dialect` decides its fields, and the round is based on what is released when it is sent. */
export function openTargetsForm(dialect: 'ota' | 'tuf', done: () => Promise<void>): HTMLElement {
  const file = h('input', { id: 'up-file', type: 'file', required: true });
  const name = h('input', { id: 'up-name', required: true, maxlength: 200 });
  const version = h('input', { id: 'up-version', required: true, maxlength: 200 });
  const hw = h('input', { id: 'up-hw', maxlength: 2000, 'aria-describedby': 'up-hw-hint' });
  const format = h('select', { id: 'up-format' }, h('option', {}, 'BINARY'), h('option', {}, 'OSTREE'));
  const uri = h('input', { id: 'up-uri', type: 'url', maxlength: 2000, 'aria-describedby': 'up-uri-hint' });
  const reason = h('input', { id: 'up-reason', required: true, maxlength: 2000 });
  const status = h('p', { role: 'status', class: 'form-status', id: 'up-status' });
  const submit = async () => {
    const f = file.files?.[0];
    if (!f) throw new Error('choose a file');
    if (!crypto.subtle) throw new Error('this browser cannot hash files here (the page needs https or loopback)');
    const bytes = await f.arrayBuffer();
    const { targetsBase } = await call('status');
    const t = targetEntry({
      dialect,
      name: name.value,
      version: version.value,
      length: bytes.byteLength,
      sha256: await digest('SHA-256', bytes),
      sha512: dialect === 'tuf' ? await digest('SHA-512', bytes) : undefined,
      hardwareIds: hw.value
        ? hw.value
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean)
        : undefined,
      format: format.value,
      ...(dialect === 'ota' ? (uri.value ? { uri: uri.value } : { cliUploaded: true }) : {}),
    });
    const r = await call('rounds.open', {
      body: {
        role: 'targets',
        reason: reason.value,
        baseVersion: targetsBase,
        targets: { add: { [t.name]: t.entry } },
      },
    });
    return r.round.id;
  };
  const form = h(
    'form',
    {
      class: 'action',
      id: 'open-targets',
      'aria-labelledby': 'up-heading',
      onsubmit: (e: Event) => {
        e.preventDefault();
        status.textContent = 'Hashing and opening…';
        submit().then(
          (id) => {
            status.textContent = `Opened round ${id}.`;
            void done();
          },
          (err: unknown) =>
            (status.textContent = `Refused: ${(err as { code?: string }).code ?? ''} ${(err as Error).message}`),
        );
      },
    },
    h('p', {}, 'The file is hashed in this browser; only its length and hashes are sent.'),
    field('up-file', 'File', file),
    field('up-name', 'Name', name),
    field('up-version', 'Version', version),
    field('up-hw', 'Hardware ids', hw, 'comma-separated'),
    field('up-format', 'Format', format),
    dialect === 'ota'
      ? field('up-uri', 'URI', uri, 'where the file lives; leave empty if it was uploaded to the reposerver')
      : null,
    field('up-reason', 'Reason', reason),
    h('button', { type: 'submit', id: 'up-submit' }, 'Open targets round'),
    status,
  );
  return h(
    'details',
    { class: 'action-panel' },
    h('summary', { id: 'up-heading' }, 'Open a targets round from a file'),
    form,
  );
}
