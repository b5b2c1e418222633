/**
 * The command-line conventions (protocol/cli.ts), the time parser (protocol/time.ts) and the
 * error registry (protocol/codes.ts), in process: numbers, durations and times are refused with
 * USAGE naming the option and the range; each subcommand takes only its own options; a code's exit
 * status, HTTP status, wire `fatal` and retry follow from its kind.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { QUORUM } from '../../coordinator/commands.js';
import {
  choiceArg,
  commandHelp,
  deadlineArg,
  dispatch,
  durationArg,
  intArg,
  leaves,
  numberArg,
  timeArg,
  type Group,
  type Io,
} from '../../protocol/cli.js';
import {
  CODES,
  KINDS,
  exitStatus,
  httpStatus,
  isCode,
  isFatal,
  isRetryable,
  kindOf,
  type Code,
} from '../../protocol/codes.js';
import { QuorumError } from '../../protocol/errors.js';
import { DAY_MS, HOUR_MS, MINUTE_MS, parseDuration, parseTime } from '../../protocol/time.js';
import { QUORUM_SIGNER } from '../../signer-client/commands.js';

function usageOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(QuorumError);
    expect((e as QuorumError).code).toBe('USAGE');
    return (e as Error).message;
  }
  throw new Error('no USAGE error');
}

describe('numbers', () => {
  it('intArg takes a whole number in range, and refuses anything else naming the option and the range', () => {
    expect(intArg('--n', undefined, { min: 1, max: 10 })).toBeUndefined();
    expect(intArg('--n', '7', { min: 1, max: 10 })).toBe(7);
    expect(intArg('--n', '0', { min: 0, max: 10 })).toBe(0);
    for (const bad of [
      'abc',
      '',
      ' 3',
      '3 ',
      '1.5',
      '-3',
      '1e3',
      '0x10',
      '11',
      '0',
      'Infinity',
      'NaN',
      '99999999999999999',
    ])
      expect(usageOf(() => intArg('--timeout-s', bad, { min: 1, max: 10 }))).toMatch(/^--timeout-s .*from 1 to 10/);
  });

  it('numberArg takes a decimal above its floor, at most its ceiling', () => {
    expect(numberArg('--r', '2.5', { above: 0, max: 10 })).toBe(2.5);
    for (const bad of ['abc', '0', '-1', '10.5', '1e2', '.5', '1.'])
      expect(usageOf(() => numberArg('--rate-per-second', bad, { above: 0, max: 10 }))).toMatch(
        /^--rate-per-second .*above 0, at most 10/,
      );
  });

  it('choiceArg takes one of its choices', () => {
    expect(choiceArg('--format', 'OSTREE', ['BINARY', 'OSTREE'])).toBe('OSTREE');
    expect(usageOf(() => choiceArg('--format', 'binary', ['BINARY', 'OSTREE']))).toMatch(/BINARY, OSTREE/);
  });
});

describe('durations and times (one parser)', () => {
  it('parseDuration: a whole number and a unit, nothing else', () => {
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('30m')).toBe(30 * MINUTE_MS);
    expect(parseDuration('48h')).toBe(48 * HOUR_MS);
    expect(parseDuration('7d')).toBe(7 * DAY_MS);
    for (const bad of ['7', 'd', '-1h', '1.5h', '7 d', '7D', '1w', '', '1e3s'])
      expect(parseDuration(bad), bad).toBeNull();
  });

  it('parseTime: RFC 3339 only, and no day that does not exist', () => {
    expect(parseTime('2026-01-31T12:00:00Z')?.toISOString()).toBe('2026-01-31T12:00:00.000Z');
    expect(parseTime('2026-01-31T12:00:00.5+02:00')?.toISOString()).toBe('2026-01-31T10:00:00.500Z');
    expect(parseTime('2026-03-01T00:30:00-01:00')?.toISOString()).toBe('2026-03-01T01:30:00.000Z');
    for (const bad of [
      '2026-02-30T00:00:00Z', // rolled over to March by Date
      '2026-13-01T00:00:00Z',
      '2026-01-31', // no time
      '2026-01-31T12:00:00', // no zone
      'tomorrow',
      '1767225600000',
    ])
      expect(parseTime(bad), bad).toBeNull();
  });

  it('durationArg, timeArg and deadlineArg refuse with USAGE naming the option', () => {
    expect(durationArg('--every', '30m', DAY_MS)).toBe(30 * MINUTE_MS);
    expect(usageOf(() => durationArg('--every', '0s', DAY_MS))).toMatch(/^--every/);
    expect(usageOf(() => durationArg('--every', '2d', DAY_MS))).toMatch(/at most 86400 s/);
    expect(timeArg('--at', '2026-01-31T12:00:00Z')?.getTime()).toBe(Date.parse('2026-01-31T12:00:00Z'));
    expect(usageOf(() => timeArg('--at', '2026-02-30T00:00:00Z'))).toMatch(/^--at .*RFC 3339/);
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(deadlineArg('--deadline', '48h', now)?.toISOString()).toBe('2026-01-03T00:00:00.000Z');
    expect(deadlineArg('--deadline', '2026-01-02T00:00:00Z', now)?.toISOString()).toBe('2026-01-02T00:00:00.000Z');
    for (const bad of ['abc', '-1d', '2026-01-02', '1.5d'])
      expect(usageOf(() => deadlineArg('--deadline', bad, now))).toMatch(/^--deadline .*duration .*RFC 3339/);
  });
});

describe('the error registry', () => {
  it('gives every code a kind, and the exit, HTTP, fatal and retry of its kind', () => {
    for (const code of Object.keys(CODES) as Code[]) {
      const k = KINDS[CODES[code].kind];
      expect(k, code).toBeDefined();
      expect(CODES[code].meaning.length, code).toBeGreaterThan(10);
      expect(exitStatus(code)).toBe(k.exit);
      expect(httpStatus(code)).toBe(k.http);
      expect(isFatal(code)).toBe(k.fatal);
      expect(isRetryable(code)).toBe(k.retry);
    }
  });

  it('keeps the behaviour that callers rely on', () => {
    // exit 2 is usage: the command line or a file it names
    for (const c of ['USAGE', 'FILE_MISSING', 'FILE_UNREADABLE', 'FILE_EMPTY'] as const) expect(exitStatus(c)).toBe(2);
    for (const c of ['JSON_INVALID', 'SCHEMA_INVALID', 'SIGNATURE_INVALID', 'ROUND_NOT_OPEN', 'CONNECT'] as const)
      expect(exitStatus(c), c).toBe(1);
    // the signer retries a lost coordinator, never a refusal
    for (const c of ['CONNECT', 'DISCONNECTED', 'TIMEOUT']) expect(isRetryable(c), c).toBe(true);
    for (const c of ['TLS_PIN', 'SERVER_CHANGED', 'TOKEN_PIN', 'ROUND_NOT_FOUND', 'BAD_RESPONSE'])
      expect(isRetryable(c), c).toBe(false);
    // the socket is closed after a rate limit only among the codes it sends
    expect(isFatal('RATE_LIMITED')).toBe(true);
    for (const c of ['MESSAGE_INVALID', 'MESSAGE_INVALID_JSON', 'SIG_WRONG_BYTES', 'ROUND_NOT_FOUND'] as const)
      expect(isFatal(c), c).toBe(false);
    expect(httpStatus('BODY_TOO_LARGE')).toBe(413);
    expect(httpStatus('AUTH_NOT_ENROLLED')).toBe(403);
    expect(httpStatus('TOO_MANY_CONNECTIONS')).toBe(429);
  });

  it("treats a peer's unknown code as a failure (exit 1), not retried", () => {
    expect(isCode('SOMETHING_NEW')).toBe(false);
    expect(kindOf('SOMETHING_NEW')).toBeUndefined();
    expect(exitStatus('SOMETHING_NEW')).toBe(1);
    expect(isRetryable('SOMETHING_NEW')).toBe(false);
    expect(isCode('__proto__')).toBe(false);
    expect(isCode('toString')).toBe(false);
  });
});

describe('options per subcommand', () => {
  const programs: [string, Group][] = [
    ['quorum', QUORUM],
    ['quorum-signer', QUORUM_SIGNER],
  ];

  async function run(prog: string, tree: Group, argv: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const io: Io = { out: (s) => void out.push(s), err: (s) => void err.push(s) };
    const status = await dispatch(tree, prog, argv, io);
    return { status, out: out.join('\n'), err: err.join('\n') };
  }

  it("every command's --help shows its own options, and exits 0", async () => {
    for (const [prog, tree] of programs)
      for (const { path, command } of leaves(tree)) {
        const r = await run(prog, tree, [...path, '--help']);
        expect(r.status, path.join(' ')).toBe(0);
        expect(r.out).toBe(commandHelp(command, [prog, ...path]));
        for (const name of Object.keys(command.options))
          expect(r.out, `${path.join(' ')} --${name}`).toContain(`--${name}`);
      }
  });

  it('refuses an option another subcommand takes but this one does not, with USAGE (exit 2), before doing anything', async () => {
    let checked = 0;
    for (const [prog, tree] of programs) {
      const all = leaves(tree);
      for (const { path, command } of all) {
        // an option of a sibling (or any other command) that this one does not take
        const foreign = all
          .flatMap((l) => Object.entries(l.command.options))
          .find(([name]) => !Object.hasOwn(command.options, name));
        if (!foreign) continue;
        const [name, o] = foreign;
        const r = await run(prog, tree, [...path, `--${name}`, ...(o.type === 'string' ? ['x'] : [])]);
        expect(r.status, `${prog} ${path.join(' ')} --${name}`).toBe(2);
        expect(r.err, `${prog} ${path.join(' ')} --${name}`).toMatch(/^USAGE: Unknown option/);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(40);
  });

  it('refuses an unknown command and an extra argument', async () => {
    expect((await run('quorum', QUORUM, ['round', 'frobnicate'])).err).toMatch(/^USAGE: unknown command "frobnicate"/);
    const extra = await run('quorum-signer', QUORUM_SIGNER, ['review', 'r1', 'r2']);
    expect(extra.status).toBe(2);
    expect(extra.err).toMatch(/^USAGE: unexpected argument "r2"/);
  });

  it('exits 2 on usage errors (the cases test/integration/rounds.test.ts ran as processes)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quorum-usage-'));
    // commands that talk to a coordinator get one that need not exist: the usage check comes first
    vi.stubEnv('QUORUM_ADMIN_TOKEN', 'x');
    const server = ['--server', 'http://127.0.0.1:9'];
    const cases: [string, string[]][] = [
      ['quorum', []],
      ['quorum', ['frobnicate']],
      ['quorum', ['round', '--no-such-flag']],
      ['quorum', ['round', 'open', ...server]],
      ['quorum', ['round', 'open', 'targets', ...server]],
      ['quorum', ['round', 'open', 'targets', '--reason', 'r', '--deadline', 'soonish', ...server]],
      ['quorum', ['round', 'status', ...server]],
      ['quorum', ['round', 'frobnicate', ...server]],
      ['quorum', ['init', '--dialect', 'xml', '--data-dir', path.join(dir, 'd')]],
      ['quorum', ['serve', '--port', '99999', '--data-dir', path.join(dir, 'd')]],
      ['quorum', ['audit', '--no-such-flag']],
      ['quorum', ['verify']],
      ['quorum', ['sample']],
      ['quorum', ['sample', '--no-such-flag']],
      ['quorum-signer', []],
      ['quorum-signer', ['frobnicate']],
      ['quorum-signer', ['keygen']],
      ['quorum-signer', ['sign']],
      ['quorum-signer', ['sign', '--offline', 'bundle.json']],
      ['quorum-signer', ['sign', 'targets-v1-r1', '--home', path.join(dir, 'no-home')]],
      ['quorum-signer', ['review']],
      ['quorum-signer', ['join']],
      ['quorum-signer', ['trust']],
      ['quorum-signer', ['watch', '--no-such-flag']],
    ];
    try {
      const wrong: string[] = [];
      for (const [prog, argv] of cases) {
        const r = await run(prog, prog === 'quorum' ? QUORUM : QUORUM_SIGNER, argv);
        if (r.status !== 2) wrong.push(`${prog} ${argv.join(' ')} -> exit ${r.status}: ${r.err.split('\n')[0]}`);
      }
      expect(wrong).toEqual([]);
      expect(fs.readdirSync(dir)).toEqual([]);
    } finally {
      vi.unstubAllEnvs();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a bad number before connecting anywhere (--timeout-s abc, --limit 0, --port 70000)', async () => {
    const cases: [string, Group, string[], RegExp][] = [
      [
        'quorum-signer',
        QUORUM_SIGNER,
        ['frost', 'sign', 'r1', '--timeout-s', 'abc', '--home', '/nonexistent'],
        /--timeout-s "abc"/,
      ],
      [
        'quorum-signer',
        QUORUM_SIGNER,
        ['frost', 'sign', 'r1', '--timeout-s=-5', '--home', '/nonexistent'],
        /--timeout-s "-5"/,
      ],
      ['quorum', QUORUM, ['rounds', '--limit', '0', '--server', 'http://127.0.0.1:9'], /--limit "0"/],
      ['quorum', QUORUM, ['serve', '--port', '70000', '--data-dir', '/nonexistent'], /--port "70000".*0 to 65535/],
      ['quorum', QUORUM, ['round', 'open', 'targets', '--reason', 'r', '--deadline', 'soon'], /--deadline "soon"/],
      ['quorum', QUORUM, ['serve', '--renew-before', '60d', '--data-dir', '/nonexistent'], /--renew-before "60d"/],
      [
        'quorum',
        QUORUM,
        ['serve', '--renew-before', 'snapshot=1d', '--data-dir', '/nonexistent'],
        /--renew-before snapshot=\.\.\.: only root and targets/,
      ],
    ];
    for (const [prog, tree, argv, message] of cases) {
      const r = await run(prog, tree, argv);
      expect(r.status, argv.join(' ')).toBe(2);
      expect(r.err, argv.join(' ')).toMatch(new RegExp(`^USAGE: ${message.source}`));
    }
  });
});
