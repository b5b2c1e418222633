/**
 * The generated reference pages: docs/reference/error-codes.md from the error registry
 * (protocol/codes.ts) and docs/reference/cli.md from every command's and subcommand's --help.
 * `npm run docs:reference` writes both; test/reference/reference.test.ts fails when either is
 * stale. Kept outside coordinator/ and signer-client/ because it reads both command trees.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { commandHelp, groupHelp, type Group, type Node } from '../../protocol/cli.js';
import { CODES, KINDS, type Code, type Kind } from '../../protocol/codes.js';
import { QUORUM } from '../../coordinator/commands.js';
import { QUORUM_SIGNER } from '../../signer-client/commands.js';
import { REPO } from '../paths.js';

export const REGENERATE = 'npm run docs:reference';

const HEADER = (source: string) =>
  `<!-- Generated from ${source} by \`${REGENERATE}\`; do not edit (a test fails when it is stale). -->\n\n`;

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function errorCodesMarkdown(): string {
  const out: string[] = [HEADER('protocol/codes.ts') + '# Error codes\n'];
  out.push(
    'Every failure carries one of these codes: a command prints `CODE: message` on stderr, the admin API\n' +
      'answers `{"error": {"code", "message"}}`, and the signer socket sends an `error` message with it.\n' +
      'Codes are stable; match on them, never on the message. What a code does (the exit status of a\n' +
      'command, the HTTP status of the admin API, whether the signer socket is closed after it, and whether\n' +
      'trying again later may help) follows from its kind alone.\n',
  );
  out.push('## Kinds\n');
  out.push('| kind | meaning | exit | HTTP | socket closed | retry |');
  out.push('| --- | --- | --- | --- | --- | --- |');
  for (const [k, v] of Object.entries(KINDS))
    out.push(
      `| [${k}](#${k}) | ${cell(v.meaning)} | ${v.exit} | ${v.http} | ${v.fatal ? 'yes' : 'no'} | ${v.retry ? 'yes' : 'no'} |`,
    );
  const byKind = new Map<Kind, Code[]>();
  for (const c of Object.keys(CODES) as Code[]) byKind.set(CODES[c].kind, [...(byKind.get(CODES[c].kind) ?? []), c]);
  for (const k of Object.keys(KINDS) as Kind[]) {
    const codes = byKind.get(k) ?? [];
    const v = KINDS[k];
    out.push(`\n## ${k}\n`);
    out.push(
      `${v.meaning[0]!.toUpperCase()}${v.meaning.slice(1)}. Exit ${v.exit}, HTTP ${v.http}` +
        `${v.fatal ? ', the signer socket is closed' : ''}${v.retry ? ', worth retrying after a pause' : ''}.\n`,
    );
    out.push('| code | meaning |');
    out.push('| --- | --- |');
    for (const c of codes) out.push(`| \`${c}\` | ${cell(CODES[c].meaning)} |`);
  }
  return out.join('\n') + '\n';
}

/** Every node of a tree with its path, groups before their commands, in --help order. */
function nodes(node: Node, p: string[]): { path: string[]; node: Node }[] {
  if (node.kind === 'command') return [{ path: p, node }];
  return [{ path: p, node }, ...Object.entries(node.commands).flatMap(([name, n]) => nodes(n, [...p, name]))];
}

export function cliMarkdown(trees: readonly (readonly [string, Group])[] = PROGRAMS): string {
  const out: string[] = [
    HEADER("each command's --help (coordinator/commands.ts, signer-client/commands.ts)") + '# Command-line reference\n',
  ];
  out.push(
    'The `--help` of every command of `quorum` (the release coordinator, the server and `quorum verify`)\n' +
      'and `quorum-signer` (the keyholder). Each command takes only the options listed under it; any other\n' +
      'is refused with `USAGE` (exit 2). Numbers, durations and times are checked before anything is done.\n' +
      'See [error codes](error-codes.md) for what a failure means.\n',
  );
  for (const [prog, tree] of trees) {
    for (const { path: p, node } of nodes(tree, [prog])) {
      out.push(`${'#'.repeat(Math.min(p.length + 1, 4))} ${p.join(' ')}\n`);
      if (node.kind === 'command') out.push(`${node.summary[0]!.toUpperCase()}${node.summary.slice(1)}.\n`);
      out.push('```text');
      out.push(node.kind === 'group' ? groupHelp(node, p) : commandHelp(node, p));
      out.push('```\n');
    }
  }
  return out.join('\n');
}

export const PROGRAMS = [
  ['quorum', QUORUM],
  ['quorum-signer', QUORUM_SIGNER],
] as const;

/** The generated files, by their path in the repository. */
export function referencePages(): Record<string, string> {
  return {
    'docs/reference/error-codes.md': errorCodesMarkdown(),
    'docs/reference/cli.md': cliMarkdown(),
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = REPO;
  for (const [file, text] of Object.entries(referencePages())) {
    fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    fs.writeFileSync(path.join(root, file), text);
    console.log(`wrote ${file}`);
  }
}
