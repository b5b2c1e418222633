/**
 * A real browser for the status page tests: Debian's headless Chromium (`chromium`, installed by
 * .ci/run) driven by playwright-core. A missing browser fails the test loudly instead of skipping
 * it, because CI installs it. Also: signing in, axe-core's accessibility check, and screenshots
 * written as test artefacts (test-artifacts/page/, not in git).
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { REPO } from '../paths.js';

export const CHROMIUM = process.env.QUORUM_CHROMIUM ?? '/usr/bin/chromium';
export const ARTIFACTS = path.join(REPO, 'test-artifacts', 'page');
export const DESKTOP = { width: 1280, height: 900 };
export const PHONE = { width: 390, height: 844 };

export async function launch(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM))
    throw new Error(
      `no Chromium at ${CHROMIUM}: install Debian's chromium package (apt-get install chromium), as .ci/run does, ` +
        'or set QUORUM_CHROMIUM',
    );
  // --no-sandbox: CI runs as root, where Chromium's sandbox cannot start.
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}

/** A new page at the coordinator, signed in with `token`, showing the rounds view. */
export async function signedIn(browser: Browser, url: string, token: string, viewport = DESKTOP): Promise<Page> {
  const ctx = await browser.newContext({ viewport });
  const page = await ctx.newPage();
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  // A refused script, style or connection (the CSP) is a console error; a 401 while signed out and a missing
  // favicon are the browser reporting answers the page expects.
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource'))
      problems.push(`console error: ${m.text()}`);
  });
  (page as Page & { problems?: string[] }).problems = problems;
  await page.goto(url);
  await page.fill('#token', token);
  await page.press('#token', 'Enter');
  await page.waitForSelector('h2:text("Open rounds")');
  return page;
}

/** Errors the page logged (a CSP refusal is one). */
export function problemsOf(page: Page): string[] {
  return (page as Page & { problems?: string[] }).problems ?? [];
}

const axeSource = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/**
 * axe-core's serious and critical violations on the page as it is now. axe-core is injected once
 * per document: a view reached by its #/hash keeps it, a reload or another document injects it again.
 */
export async function axeViolations(page: Page): Promise<string[]> {
  // Evaluated through the DevTools protocol, which the page's CSP does not govern.
  if ((await page.evaluate('typeof axe')) === 'undefined') await page.evaluate(axeSource);
  const result = (await page.evaluate(
    'axe.run(document, { resultTypes: ["violations"] }).then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 5) })))',
  )) as { id: string; impact: string; help: string; nodes: string[] }[];
  return result
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.join(', ')})`);
}

export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** Wait until the page's text matches `re` (no reload: the page must get there by itself). */
export async function waitForText(page: Page, re: RegExp, timeoutMs = 10_000): Promise<void> {
  try {
    await page.waitForFunction(
      // A function, not a string: a string is evaluated by eval in the page, which its CSP refuses.
      ([src, flags]) => new RegExp(src!, flags).test((globalThis as unknown as InPage).document.body.innerText),
      [re.source, re.flags],
      { timeout: timeoutMs },
    );
  } catch (e) {
    const text = await bodyText(page).catch(() => '(page gone)');
    throw new Error(
      `the page never showed ${re} within ${timeoutMs} ms (${(e as Error).message.split('\n')[0]}); it shows:\n` +
        `${text}\n${problemsOf(page).join('\n')}`,
      { cause: e },
    );
  }
}

/** What the functions run in the page use of it (these tests compile without the DOM types). */
interface InPage {
  document: { body: { innerText: string } };
}

/** The page's visible text. (Expressions run in the page are strings: these tests compile without the DOM types.) */
export async function bodyText(page: Page): Promise<string> {
  return (await page.evaluate('document.body.innerText')) as string;
}

/** `window[name]` in the page. */
export async function windowValue(page: Page, name: string): Promise<unknown> {
  return page.evaluate(`window[${JSON.stringify(name)}]`);
}
