/**
 * The status page in headless Chromium against a real coordinator with real signer processes:
 * a round at 1/2 moves to 2/2 and its release appears without a reload when a keyholder signs; a
 * viewer has no action control and a forged request from its session gets 403; sign-out ends the
 * session; hostile strings (HTML, bidi and control characters) in a reason, a target name and a
 * keyholder name (written straight into the database) neither run nor hide; every view passes
 * axe-core without serious or critical violations, at desktop and phone widths, and is
 * screenshotted (test-artifacts/page/).
 */
import Database from 'better-sqlite3';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admin, newRepo, quorumHere, signer, signHere, type Repo } from './harness.js';
import {
  axeViolations,
  bodyText,
  DESKTOP,
  launch,
  PHONE,
  problemsOf,
  screenshot,
  signedIn,
  waitForText,
  windowValue,
} from './browser.js';

let repo: Repo;
let browser: Browser;
let url: string;
let viewerToken: string;

beforeAll(async () => {
  [browser, repo] = await Promise.all([
    launch(),
    newRepo({
      dialect: 'tuf',
      keyholders: ['alice', 'bob'],
      rootThreshold: 1,
      targetsThreshold: 2,
      releaseRoot: true,
    }),
  ]);
  url = repo.coordinator.url;
  // Set-up, in this process (quorumHere): the same command and files as `quorum viewer add`.
  const v = await quorumHere(['viewer', 'add', 'vera', '--data-dir', repo.dataDir, '--json']);
  expect(v.code, v.stderr).toBe(0);
  viewerToken = (JSON.parse(v.stdout) as { token: string }).token;
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await repo?.coordinator.kill();
});

/** Open a targets round adding one file (set-up: `quorum round open` in this process, quorumHere); its id. */
async function openRound(reason: string, targetName = 'app-1.0.bin'): Promise<string> {
  // A test that failed half-way leaves its round open; it must not fail the next test too.
  for (const r of (await admin(repo.coordinator, 'status')).body!.openRounds)
    await admin(repo.coordinator, 'rounds.cancel', { params: { id: r.id }, body: { reason: 'left open' } });
  const file = path.join(repo.dir, 'app.bin');
  fs.writeFileSync(file, `firmware ${Date.now()}\n`);
  const r = await quorumHere([
    'round',
    'open',
    'targets',
    '--reason',
    reason,
    '--add',
    file,
    '--name',
    'app',
    '--version',
    '1.0',
    '--target-name',
    targetName,
    '--data-dir',
    repo.dataDir,
  ]);
  expect(r.code, r.stderr).toBe(0);
  const st = await admin(repo.coordinator, 'status');
  return st.body!.openRounds.find((x) => x.role === 'targets')!.id;
}

let adminTab: Page | undefined;
/**
 * The admin's signed-in page at desktop width, on the rounds view of a freshly loaded document:
 * one page (one browser context, one sign-in) for every test that acts as the admin, loaded again
 * for each so that no view or form state is left from the last. Signing in a new browser context
 * costs ~2.5 s (a renderer process, the page's load, the sign-in). Its page errors (problemsOf)
 * accumulate across those tests.
 */
async function adminPage(): Promise<Page> {
  if (!adminTab) adminTab = await signedIn(browser, url, repo.coordinator.adminToken);
  else {
    await adminTab.goto(url);
    await adminTab.waitForSelector('h2:text("Open rounds")');
  }
  await adminTab.setViewportSize(DESKTOP);
  return adminTab;
}

/** `quorum-signer sign`, a process: the signer whose signature the page must show by itself. */
async function sign(id: string, who: string): Promise<void> {
  const s = await signer(['sign', id, '--yes', '--home', repo.homes[who]!]);
  expect(s.code, s.stderr).toBe(0);
}

describe('the status page in Chromium', () => {
  it('shows a round at 1/2, then 2/2 and its release when a signer signs, without a reload', async () => {
    const id = await openRound('ship app 1.0');
    await sign(id, 'alice');
    const page = await adminPage();
    await waitForText(page, /targets keys 1\/2/);
    await waitForText(page, /Signed: alice; missing: bob/);
    expect(await page.locator('#open-targets').count()).toBe(1); // the admin's action is there
    // A marker that a reload would wipe.
    await page.evaluate('window.marker = 42');
    await sign(id, 'bob');
    await waitForText(page, /Latest release #\d+: targets v\d+/);
    await waitForText(page, /No round is open/);
    expect(await windowValue(page, 'marker')).toBe(42);
    // The detail of the released round: 2/2, its changes from the stored bytes, its sha256 and events.
    await page.goto(`${url}/#/round/${id}`);
    await waitForText(page, /targets keys 2\/2 \(met\)/);
    await waitForText(page, /TARGET ADDED: app-1\.0\.bin length \d+ sha256:[0-9a-f]{64}/);
    const { body } = await admin(repo.coordinator, 'rounds.get', { params: { id } });
    await waitForText(page, new RegExp(body!.round.sha256));
    await waitForText(page, /signature\.accepted[\s\S]*round\.released|round\.released[\s\S]*signature\.accepted/);
    expect(problemsOf(page)).toEqual([]);
  }, 120_000);

  it('gives a viewer no action control and refuses its forged cancel (403); the admin cancels and opens from the page', async () => {
    const id = await openRound('viewer looks only');
    const page = await signedIn(browser, url, viewerToken);
    await waitForText(page, /Signed in as viewer vera/);
    await waitForText(page, /targets keys 0\/2/);
    expect(await page.locator('form.action').count()).toBe(0);
    await page.goto(`${url}/#/round/${id}`);
    await waitForText(page, /Changes \(computed from the stored bytes\)/);
    expect(await page.locator('form.action, #cancel-reason, button:text("Cancel round")').count()).toBe(0);
    // What a tampered page could send: the session's own CSRF token, same origin. Still 403.
    const status = await page.evaluate(async (roundId) => {
      const s = (await (await fetch('/v1/session')).json()) as { csrf: string };
      const res = await fetch(`/v1/admin/rounds/${roundId}/cancel`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-quorum-csrf': s.csrf },
        body: JSON.stringify({ reason: 'forged by a viewer' }),
      });
      return { status: res.status, body: (await res.json()) as { error: { code: string } } };
    }, id);
    expect(status).toEqual({ status: 403, body: { error: expect.objectContaining({ code: 'VIEWER_READ_ONLY' }) } });
    expect((await admin(repo.coordinator, 'rounds.get', { params: { id } })).body!.round.state).toBe('open');
    await page.context().close();

    // The admin cancels it from the page, with a reason.
    const asAdmin = await adminPage();
    await asAdmin.goto(`${url}/#/round/${id}`);
    await asAdmin.fill('#cancel-reason', 'superseded');
    await asAdmin.click('#cancel-submit');
    await waitForText(asAdmin, /\[cancelled\]/);
    expect((await admin(repo.coordinator, 'rounds.get', { params: { id } })).body!.round.state).toBe('cancelled');

    // ... and opens a targets round from a file: hashed in the browser, the entry the CLI would build.
    const bytes = Buffer.from('firmware from the page\n');
    await asAdmin.goto(`${url}/#/rounds`);
    await asAdmin.click('summary:text("Open a targets round from a file")');
    await asAdmin.setInputFiles('#up-file', { name: 'fw.bin', mimeType: 'application/octet-stream', buffer: bytes });
    await asAdmin.fill('#up-name', 'fw');
    await asAdmin.fill('#up-version', '2.0');
    await asAdmin.fill('#up-hw', 'ecu-a, ecu-b');
    await asAdmin.fill('#up-reason', 'from the page');
    await asAdmin.click('#up-submit');
    await waitForText(asAdmin, /Opened round targets-v\d+-r\d+/);
    const open = (await admin(repo.coordinator, 'status')).body!.openRounds.find((r) => r.role === 'targets')!;
    const { body } = await admin(repo.coordinator, 'rounds.get', { params: { id: open.id } });
    const entry = (JSON.parse(body!.signed) as { targets: Record<string, unknown> }).targets['fw-2.0'];
    expect(entry).toEqual({
      length: bytes.length,
      hashes: {
        sha256: crypto.createHash('sha256').update(bytes).digest('hex'),
        sha512: crypto.createHash('sha512').update(bytes).digest('hex'),
      },
      custom: { name: 'fw', version: '2.0', hardwareIds: ['ecu-a', 'ecu-b'], targetFormat: 'BINARY' },
    });
  }, 120_000);

  it('ends the session at sign-out', async () => {
    const page = await signedIn(browser, url, repo.coordinator.adminToken);
    await page.click('#signout');
    await waitForText(page, /Signed out/);
    expect(await page.evaluate(async () => (await fetch('/v1/session')).status)).toBe(401);
    expect(await page.evaluate(async () => (await fetch('/v1/admin/status')).status)).toBe(401);
    await page.reload();
    await page.waitForSelector('#token');
    const cookies = await page.context().cookies();
    expect(cookies.filter((c) => c.name === 'quorum_session')).toEqual([]);
    await page.context().close();
  }, 60_000);

  it('passes axe-core on every view at desktop and phone widths, and screenshots each', async () => {
    const id = await openRound('screenshots');
    // Set-up (a round at 1/2 to look at): signed in this process (signHere), over the real WebSocket.
    const s = await signHere(id, repo.homes.alice!);
    expect(s.code, s.stderr).toBe(0);
    // One page, resized: the page's layout follows its width through CSS alone (no script reads it).
    const page = await adminPage();
    for (const [size, viewport] of [
      ['desktop', DESKTOP],
      ['phone', PHONE],
    ] as const) {
      await page.setViewportSize(viewport);
      for (const [name, hash, marker] of [
        ['rounds', '#/rounds', /Open rounds/],
        ['round', `#/round/${id}`, /Changes \(computed/],
        ['releases', '#/releases', /Release #\d+/],
        ['expiry', '#/expiry', /When each role expires/],
        ['keyholders', '#/keyholders', /Enrolled keyholders/],
        ['certs', '#/certs', /FROST ceremonies/],
        ['audit', '#/audit', /Audit events, newest first/],
      ] as const) {
        await page.goto(`${url}/${hash}`);
        await waitForText(page, marker);
        expect(await axeViolations(page), `${name} at ${size}`).toEqual([]);
        await screenshot(page, `${name}-${size}`);
      }
      expect(problemsOf(page)).toEqual([]);
    }
    await page.setViewportSize(DESKTOP);
    await admin(repo.coordinator, 'rounds.cancel', { params: { id }, body: { reason: 'test done' } });
  }, 180_000);
  it('renders hostile strings as text: nothing runs, nothing is hidden', async () => {
    const evil = '<img src=x onerror="window.pwned=1">';
    const bidi = '\u202egnp.exe\u200b\u0007';
    // A keyholder name the coordinator would refuse, written straight into its database.
    const db = new Database(path.join(repo.dataDir, 'quorum.db'));
    const k = db.prepare("SELECT * FROM keyholders WHERE name = 'alice'").get() as Record<string, unknown>;
    db.prepare('INSERT INTO keyholders (name, spki, fingerprint, algorithm, enrolled_at) VALUES (?, ?, ?, ?, ?)').run(
      `${evil}${bidi}`,
      k.spki,
      'f'.repeat(64),
      k.algorithm,
      k.enrolled_at,
    );
    db.close();
    const id = await openRound(`${evil} reason ${bidi}`, `${evil}${bidi}`);
    const page = await adminPage();
    for (const view of ['#/rounds', `#/round/${id}`, '#/keyholders', '#/audit']) {
      await page.goto(`${url}/${view}`);
      await waitForText(page, /<img src=x onerror="window\.pwned=1">/);
      // Shown escaped, as the signer's terminal shows them.
      await waitForText(page, /\\u202egnp\.exe\\u200b\\x07/);
      expect(await page.locator('main img').count()).toBe(0);
      const text = await bodyText(page);
      expect(text).not.toMatch(/[\u202a-\u202e\u2066-\u2069\u200b\u0007]/);
    }
    expect(await windowValue(page, 'pwned')).toBeUndefined();
    expect(problemsOf(page)).toEqual([]);
    await admin(repo.coordinator, 'rounds.cancel', { params: { id }, body: { reason: 'test done' } });
  }, 120_000);
});
