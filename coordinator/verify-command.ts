/**
 * `quorum verify`: the contract CI scripts rely on. Exit 0 when everything verifies, 1 when
 * something does not (each failure on stderr as `CODE: file: message`), 2 for usage errors or
 * unreadable input. Human output on stdout says what was checked; `--json` prints the report.
 */
import { choiceArg, command, intArg, timeArg } from '../protocol/cli.js';
import { displayText } from '../protocol/display.js';
import type { Resolution } from '../protocol/delegations.js';
import type { RoleReport, ThresholdResult, VerifyReport } from '../protocol/verify.js';

/** verify.ts's key id abbreviation (loaded with it, when verify runs). */
type Short = (keyid: string) => string;

export const verify = command({
  synopsis:
    '<dir> [--root <trusted-root.json>] [--dialect ota|tuf] [--at <RFC 3339 time>] [--warn-days N] [--target PATH] [--json]',
  summary: 'verify a repository folder as a device would',
  section: 'Automation',
  description:
    'Verify a repository folder as a device would: walk the root chain from the trusted root\n' +
    '(each step signed by a threshold of the old AND the new root keys, version exactly +1), check\n' +
    'the final root is unexpired, then timestamp, snapshot and targets (signatures by a threshold of\n' +
    'distinct keys, expiry, and the versions, lengths and hashes they name), then every delegated\n' +
    'targets role reachable from targets (<name>.json, <version>.<name>.json with consistent\n' +
    'snapshots, delegations/<name>.json in ota), signed by a threshold of its delegated keys.\n\n' +
    '  <dir>   holds N.root.json, root.json, targets.json, [snapshot.json, timestamp.json]\n\n' +
    'Exit status: 0 verified, 1 verification failed, 2 usage error or unreadable input.',
  options: {
    root: {
      type: 'string',
      value: 'FILE',
      help: 'the trust anchor; without it the lowest root in <dir> is trusted on first use',
      reads: { is: 'file', holds: 'json' },
    },
    dialect: { type: 'string', value: 'D', help: 'ota or tuf; detected from _type when absent' },
    at: { type: 'string', value: 'TIME', help: 'evaluate expiry at this RFC 3339 instant instead of now' },
    'warn-days': { type: 'string', value: 'N', help: 'warn when a role expires within N days (default 14)' },
    target: {
      type: 'string',
      value: 'PATH',
      help:
        'also resolve this target as a client does (pre-order depth-first through the delegations), print the ' +
        'chain of roles that vouches for it or the role that refused it; exit 1 when no role vouches for it',
    },
    json: { type: 'boolean', default: false, help: 'print a machine-readable report on stdout' },
  },
  positionals: [{ name: '<dir>', reads: { is: 'dir', holds: 'repository' } }],
  async run({ values, positionals: [dir] }, io) {
    const dialect = choiceArg('--dialect', values.dialect, ['ota', 'tuf'] as const);
    const at = timeArg('--at', values.at) ?? new Date();
    const warnDays = intArg('--warn-days', values['warn-days'], { min: 0, max: 36_500 }) ?? 14;
    const { loadRepository } = await import('../protocol/repository.js');
    const { verifyRepository, short } = await import('../protocol/verify.js');
    const input = loadRepository(dir!, values.root);
    const report = verifyRepository(input, {
      at,
      dialect,
      warnDays,
      ...(values.target !== undefined ? { target: values.target } : {}),
    });
    if (!input.targets) {
      report.warnings.push({
        code: 'FILE_MISSING',
        severity: 'warning',
        file: 'targets.json',
        message: 'not present; only the root chain was checked',
      });
    }
    if (values.json) io.out(JSON.stringify(report, null, 2));
    else io.out(describe(dir!, report, short));
    for (const w of report.warnings) io.err(`warning: ${w.code}: ${w.file}: ${w.message}`);
    for (const e of report.errors) io.err(`${e.code}: ${e.file}: ${e.message}`);
    return report.ok ? 0 : 1;
  },
});

function sigLine(label: string, t: ThresholdResult, short: Short): string {
  const who = t.signedBy.length ? t.signedBy.map(short).join(', ') : 'nobody';
  return `${label} ${t.signedBy.length}/${t.total} (threshold ${t.threshold}) by ${who}`;
}

function roleLine(name: string, r: RoleReport, short: Short): string {
  const extra = r.targets !== undefined ? `, ${r.targets} targets` : '';
  return (
    `${r.file}: version ${r.version}, expires ${r.expires}${extra}, ${r.signedBy.length}/${r.total} ${name} keys ` +
    `signed (threshold ${r.threshold})${r.signedBy.length ? ': ' + r.signedBy.map(short).join(', ') : ''}; ` +
    `sha256 ${r.sha256.slice(0, 16)}…, ${r.length} bytes`
  );
}

/** How a client resolves one target: the chain that vouches for it, or where it stopped. */
function targetLines(t: Resolution): string {
  const entry = t.target as { length?: number; hashes?: Record<string, string> } | undefined;
  if (t.chain && entry) {
    const hash = entry.hashes?.sha256 ?? Object.values(entry.hashes ?? {})[0] ?? '';
    return (
      `target ${displayText(JSON.stringify(t.path))}: vouched for by ${t.chain.join(' -> ')}; length ${entry.length}` +
      `${hash ? `, ${entry.hashes?.sha256 ? 'sha256' : 'hash'} ${hash.slice(0, 16)}…` : ''}`
    );
  }
  const looked = t.steps.map((s) => `${s.role} (${s.outcome}${s.reason ? ': ' + s.reason : ''})`).join(', ');
  return t.refusedBy
    ? `target ${displayText(JSON.stringify(t.path))}: refused by role ${t.refusedBy.role}; looked in ${looked}`
    : `target ${displayText(JSON.stringify(t.path))}: not found; looked in ${looked || 'nothing'}`;
}

/** What was checked, for a person reading CI logs. */
export function describe(dir: string, r: VerifyReport, short: Short): string {
  const lines: string[] = [];
  lines.push(
    `Verifying ${dir} (dialect ${r.dialect ?? 'unknown'}, expiry evaluated at ${r.at.replace(/\.\d{3}Z$/, 'Z')})`,
  );
  if (r.trustedRoot)
    lines.push(
      `trusted root: ${r.trustedRoot.file}, version ${r.trustedRoot.version}${r.trustedRoot.tofu ? ' (trusted on first use)' : ''}`,
    );
  if (r.rootChain.length) {
    lines.push(`root chain: ${r.rootChain.map((s) => s.version).join(' -> ')}`);
    for (const s of r.rootChain) {
      const parts = [
        s.old ? sigLine('old root keys', s.old, short) : null,
        sigLine(s.old ? 'new root keys' : 'root keys', s.self, short),
      ].filter(Boolean);
      lines.push(`  ${s.file} v${s.version}: ${parts.join('; ')}; expires ${s.expires}`);
    }
  }
  for (const role of ['timestamp', 'snapshot', 'targets'] as const) {
    const rr = r.roles[role];
    if (rr) lines.push(roleLine(role, rr, short));
  }
  const shown = r.delegated.length > 20 ? r.delegated.slice(0, 16) : r.delegated;
  for (const d of shown)
    lines.push(`  ${'  '.repeat(d.depth - 1)}delegated by ${d.delegatedBy.join(', ')}: ${roleLine(d.name, d, short)}`);
  if (shown.length < r.delegated.length) {
    const rest = r.delegated.slice(shown.length);
    lines.push(
      `  … and ${rest.length} more delegated roles, ${rest.reduce((n, d) => n + (d.targets ?? 0), 0)} targets`,
    );
  }
  if (r.target) lines.push(targetLines(r.target));
  lines.push(
    r.ok
      ? `OK: verified, ${r.warnings.length} warning(s)`
      : `FAILED: ${r.errors.length} error(s), ${r.warnings.length} warning(s)`,
  );
  return lines.join('\n');
}
