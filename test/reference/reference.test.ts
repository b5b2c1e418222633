/** The generated reference pages are what the registry and the command trees say today. */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CODES, KINDS } from '../../protocol/codes.js';
import { REPO } from '../paths.js';
import { REGENERATE, referencePages } from './generate.js';

describe('generated reference pages', () => {
  for (const [file, text] of Object.entries(referencePages()))
    it(`${file} is up to date`, () => {
      const abs = path.join(REPO, file);
      const have = fs.existsSync(abs) ? fs.readFileSync(abs, 'utf8') : '';
      // A plain boolean first: a stale page says which command to run, not a 2,000-line diff.
      expect(have === text, `${file} is stale: run ${REGENERATE}`).toBe(true);
    });

  it('lists every code once, under its kind', () => {
    const page = referencePages()['docs/reference/error-codes.md']!;
    for (const code of Object.keys(CODES)) expect(page.split(`| \`${code}\` |`).length - 1, code).toBe(1);
    for (const kind of Object.keys(KINDS)) expect(page).toContain(`\n## ${kind}\n`);
  });

  it('does not depend on who generates it (no home folder, no working directory)', () => {
    const page = referencePages()['docs/reference/cli.md']!;
    for (const local of [process.cwd(), REPO, process.env.HOME].filter((x): x is string => !!x && x.length > 1))
      // as a path of its own (HOME=/root is also a part of roles/root.json)
      expect(
        new RegExp(`(^|[\\s'"(=])${local.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(/|\\s|$)`, 'm').test(page),
        local,
      ).toBe(false);
  });
});
