/**
 * `quorum verify`: the contract CI scripts rely on. Exit 0 when everything verifies, 1 when
 * something does not (each failure on stderr as `CODE: file: message`), 2 for usage errors or
 * unreadable input. Human output on stdout says what was checked; `--json` prints the report.
 */
import { parseArgs } from 'node:util';
import type { Io } from '../protocol/cli.js';
import type { Dialect } from '../protocol/canonical.js';
import type { Resolution } from '../protocol/delegations.js';
import { QuorumError } from '../protocol/errors.js';
import { loadRepository } from '../protocol/repository.js';
import {
  short,
  verifyRepository,
  type RoleReport,
  type ThresholdResult,
  type VerifyReport,
} from '../protocol/verify.js';

export const VERIFY_HELP = `Usage: quorum verify <dir> [--root <trusted-root.json>] [--dialect ota|tuf] [--at <RFC 3339 time>] [--warn-days N] [--target PATH] [--json]

Verify a repository folder as a device would: walk the root chain from the trusted root
(each step signed by a threshold of the old AND the new root keys, version exactly +1), check
the final root is unexpired, then timestamp, snapshot and targets (signatures by a threshold of
distinct keys, expiry, and the versions, lengths and hashes they name), then every delegated
targets role reachable from targets (<name>.json, <version>.<name>.json with consistent
snapshots, delegations/<name>.json in ota), signed by a threshold of its delegated keys.

  <dir>              holds N.root.json, root.json, targets.json, [snapshot.json, timestamp.json]
  --root FILE        the trust anchor; without it the lowest root in <dir> is trusted on first use
  --dialect D        ota or tuf; detected from _type when absent
  --at TIME          evaluate expiry at this RFC 3339 instant instead of now
  --warn-days N      warn when a role expires within N days (default 14)
  --target PATH      also resolve this target as a client does (pre-order depth-first through the
                     delegations) and print the chain of roles that vouches for it, or the role
                     that refused it; exit 1 when no role vouches for it
  --json             print a machine-readable report on stdout

Exit status: 0 verified, 1 verification failed, 2 usage error or unreadable input.`;

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

export function runVerify(argv: string[], io: Io): number {
  let args;
  try {
    args = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        root: { type: 'string' },
        dialect: { type: 'string' },
        at: { type: 'string' },
        'warn-days': { type: 'string' },
        target: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (e) {
    io.err(`USAGE: ${(e as Error).message}\n${VERIFY_HELP}`);
    return 2;
  }
  const { values, positionals } = args;
  if (values.help) {
    io.out(VERIFY_HELP);
    return 0;
  }
  if (positionals.length !== 1) {
    io.err(`USAGE: expected exactly one repository folder, got ${positionals.length}\n${VERIFY_HELP}`);
    return 2;
  }
  if (values.dialect !== undefined && values.dialect !== 'ota' && values.dialect !== 'tuf') {
    io.err(`USAGE: --dialect must be ota or tuf, not ${JSON.stringify(values.dialect)}`);
    return 2;
  }
  let at = new Date();
  if (values.at !== undefined) {
    if (!RFC3339.test(values.at) || Number.isNaN(Date.parse(values.at))) {
      io.err(`USAGE: --at ${JSON.stringify(values.at)} is not an RFC 3339 time such as 2026-01-31T12:00:00Z`);
      return 2;
    }
    at = new Date(values.at);
  }
  let warnDays = 14;
  if (values['warn-days'] !== undefined) {
    warnDays = Number(values['warn-days']);
    if (!Number.isInteger(warnDays) || warnDays < 0) {
      io.err(`USAGE: --warn-days must be a whole number of days, not ${JSON.stringify(values['warn-days'])}`);
      return 2;
    }
  }
  const dir = positionals[0]!;
  let report: VerifyReport;
  try {
    const input = loadRepository(dir, values.root);
    report = verifyRepository(input, {
      at,
      dialect: values.dialect as Dialect | undefined,
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
  } catch (e) {
    if (e instanceof QuorumError) {
      io.err(`${e.code}: ${e.message}`);
      return 2;
    }
    throw e;
  }
  if (values.json) io.out(JSON.stringify(report, null, 2));
  else io.out(describe(dir, report));
  for (const w of report.warnings) io.err(`warning: ${w.code}: ${w.file}: ${w.message}`);
  for (const e of report.errors) io.err(`${e.code}: ${e.file}: ${e.message}`);
  return report.ok ? 0 : 1;
}

function sigLine(label: string, t: ThresholdResult): string {
  const who = t.signedBy.length ? t.signedBy.map(short).join(', ') : 'nobody';
  return `${label} ${t.signedBy.length}/${t.total} (threshold ${t.threshold}) by ${who}`;
}

function roleLine(name: string, r: RoleReport): string {
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
      `target ${JSON.stringify(t.path)}: vouched for by ${t.chain.join(' -> ')}; length ${entry.length}` +
      `${hash ? `, ${entry.hashes?.sha256 ? 'sha256' : 'hash'} ${hash.slice(0, 16)}…` : ''}`
    );
  }
  const looked = t.steps.map((s) => `${s.role} (${s.outcome}${s.reason ? ': ' + s.reason : ''})`).join(', ');
  return t.refusedBy
    ? `target ${JSON.stringify(t.path)}: refused by role ${t.refusedBy.role}; looked in ${looked}`
    : `target ${JSON.stringify(t.path)}: not found; looked in ${looked || 'nothing'}`;
}

/** What was checked, for a person reading CI logs. */
export function describe(dir: string, r: VerifyReport): string {
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
        s.old ? sigLine('old root keys', s.old) : null,
        sigLine(s.old ? 'new root keys' : 'root keys', s.self),
      ].filter(Boolean);
      lines.push(`  ${s.file} v${s.version}: ${parts.join('; ')}; expires ${s.expires}`);
    }
  }
  for (const role of ['timestamp', 'snapshot', 'targets'] as const) {
    const rr = r.roles[role];
    if (rr) lines.push(roleLine(role, rr));
  }
  const shown = r.delegated.length > 20 ? r.delegated.slice(0, 16) : r.delegated;
  for (const d of shown)
    lines.push(`  ${'  '.repeat(d.depth - 1)}delegated by ${d.delegatedBy.join(', ')}: ${roleLine(d.name, d)}`);
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
