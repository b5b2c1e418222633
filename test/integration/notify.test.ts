/**
 * Webhooks with real processes: a loopback HTTP receiver that answers 503 until told otherwise,
 * a coordinator with two webhooks (json with an HMAC secret, slack without), a targets round
 * opened, signed by one keyholder, the coordinator SIGKILLed while every delivery so far has
 * failed, restarted, the round completed by the second keyholder and another round cancelled.
 * Then the receiver recovers: every audited event reaches it at least once, each request's
 * X-Quorum-Signature verifies over the exact body and its event id matches the body's; the
 * slack webhook gets {"text"} bodies of only the events it asked for. Failed deliveries showed
 * in quorum status meanwhile. The secret is never listed, logged or audited; a forged or
 * altered delivery fails the receiver's check; URLs other than http(s) are refused.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { auditEvents, newRepo, quorum, quorumHere, signHere, until, type Repo } from './harness.js';

interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  status: number;
}

/** A loopback receiver: 503 while `failing`, 204 after; every request recorded. */
async function receiver(): Promise<{ url: string; got: Received[]; failing: { on: boolean }; close(): Promise<void> }> {
  const got: Received[] = [];
  const failing = { on: true };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const status = failing.on ? 503 : 204;
      got.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), status });
      res.writeHead(status);
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    got,
    failing,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** What a receiver checks: the signature header is the HMAC-SHA256 of the exact body with the shared secret. */
function signatureValid(secret: string, r: { headers: http.IncomingHttpHeaders; body: string }): boolean {
  const want = Buffer.from(`sha256=${crypto.createHmac('sha256', secret).update(r.body).digest('hex')}`);
  const got = Buffer.from(String(r.headers['x-quorum-signature'] ?? ''));
  return got.length === want.length && crypto.timingSafeEqual(got, want);
}

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

describe('webhooks through the outbox', () => {
  it('every event reaches a receiver that failed at first, across a SIGKILL, each signature valid', async () => {
    const recv = await receiver();
    cleanups.push(() => recv.close());
    const repo: Repo = await newRepo({
      dialect: 'tuf',
      keyholders: ['alice', 'bob'],
      rootThreshold: 1,
      targetsThreshold: 2,
      releaseRoot: true,
      serveArgs: ['--notify-retry-base', '1s'],
    });
    cleanups.push(() => repo.coordinator.kill('SIGKILL'));
    cleanups.push(() => fs.rmSync(repo.dir, { recursive: true, force: true }));
    const c = repo.coordinator;
    // Admin commands (set-up, and the status polls) run in this process (quorumHere): the same
    // command, over the admin API of the real coordinator; the audit export stays a process.
    const q = (args: string[]) => quorumHere([...args, '--data-dir', repo.dataDir]);
    const secret = crypto.randomBytes(24).toString('hex');
    const secretFile = path.join(repo.dir, 'hook.secret');
    fs.writeFileSync(secretFile, `${secret}\n`, { mode: 0o600 });
    const slackPath = `/slack/T0001/B0001/${crypto.randomBytes(8).toString('hex')}`;

    // Refused: not http(s), credentials in the URL, an unknown event.
    for (const bad of [
      ['file:///etc/passwd'],
      ['http://user:pw@127.0.0.1:9/x'],
      [`${recv.url}/x`, '--events', 'round.opend'],
    ]) {
      const r = await q(['notify', 'add', ...bad]);
      expect(r.code, bad.join(' ')).not.toBe(0);
      expect(r.stderr).toMatch(/WEBHOOK_INVALID/);
    }
    const add = await q(['notify', 'add', `${recv.url}/hook`, '--secret-file', secretFile, '--json']);
    expect(add.code, add.stderr).toBe(0);
    const hook = JSON.parse(add.stdout) as { id: number; hasSecret: boolean };
    expect(hook.hasSecret).toBe(true);
    const slack = await q([
      'notify',
      'add',
      `${recv.url}${slackPath}`,
      '--format',
      'slack',
      '--events',
      'round.opened,round.released',
    ]);
    expect(slack.code, slack.stderr).toBe(0);

    // A round opened and signed by alice; every delivery fails; the coordinator dies.
    const fw = path.join(repo.dir, 'fw.bin');
    fs.writeFileSync(fw, 'firmware\n');
    const open = await q([
      'round',
      'open',
      'targets',
      '--reason',
      'ship',
      '--add',
      fw,
      '--name',
      'fw',
      '--version',
      '1',
    ]);
    expect(open.code, open.stderr).toBe(0);
    const id = /targets-v1-r\d+/.exec(open.stdout)![0];
    // The signatures are the events' cause, not what is checked: signed in this process (signHere).
    expect((await signHere(id, repo.homes.alice!)).code).toBe(0);
    await until(() => recv.got.filter((g) => g.path === '/hook').length >= 2, 'first (failing) attempts');
    const st = await q(['status', '--json']);
    const notify = (JSON.parse(st.stdout) as { notify: { pending: number; lastError: string | null } }).notify;
    expect(notify.pending).toBeGreaterThan(0);
    expect(notify.lastError).toBe('HTTP 503');
    expect(recv.got.every((g) => g.status === 503)).toBe(true);
    await c.kill('SIGKILL');
    await c.start(c.port);

    // bob completes the round; another round is opened and cancelled; a test notification.
    await until(async () => (await signHere(id, repo.homes.bob!)).code === 0, 'bob signs');
    await until(() => fs.existsSync(path.join(repo.dataDir, 'releases', 'current', 'targets.json')), 'release');
    const open2 = await q(['round', 'open', 'targets', '--reason', 'oops', '--remove', 'fw-1']);
    expect(open2.code, open2.stderr).toBe(0);
    const id2 = /targets-v2-r\d+/.exec(open2.stdout)![0];
    expect((await q(['round', 'cancel', id2, '--reason', 'wrong file'])).code).toBe(0);
    const test = await q(['notify', 'test', String(hook.id), '--json']);
    expect(test.code, test.stderr).toBe(0);
    const testId = (JSON.parse(test.stdout) as { eventId: string }).eventId;

    // The receiver recovers: every event arrives (at least once), signed.
    recv.failing.on = false;
    const events = (await auditEvents(repo.dataDir)).filter((e) =>
      ['round.opened', 'signature.accepted', 'round.released', 'round.cancelled'].includes(e.event),
    );
    const afterAdd = events.filter((e) => e.data.round === id || e.data.round === id2);
    expect(afterAdd.map((e) => e.event).sort()).toEqual(
      [
        'round.cancelled',
        'round.opened',
        'round.opened',
        'round.released',
        'signature.accepted',
        'signature.accepted',
      ].sort(),
    );
    const delivered = () =>
      new Set(
        recv.got
          .filter((g) => g.path === '/hook' && g.status === 204)
          .map((g) => String(g.headers['x-quorum-event-id'])),
      );
    await until(
      () => afterAdd.every((e) => [...delivered()].some((d) => d.endsWith(`-${e.seq}`))) && delivered().has(testId),
      'every event delivered',
      60_000,
    );
    const hookRequests = recv.got.filter((g) => g.path === '/hook');
    expect(hookRequests.some((g) => g.status === 503 && Number(g.headers['x-quorum-delivery-attempt']) >= 1)).toBe(
      true,
    );
    for (const r of hookRequests) {
      expect(signatureValid(secret, r), r.body).toBe(true);
      const body = JSON.parse(r.body) as { id: string; event: string; data: Record<string, unknown> };
      expect(body.id).toBe(r.headers['x-quorum-event-id']);
      expect(body.event).toBe(r.headers['x-quorum-event']);
    }
    // Deliveries of one event before and after the SIGKILL carry the same id (receivers de-duplicate).
    const firstId = String(hookRequests[0]!.headers['x-quorum-event-id']);
    expect(hookRequests.filter((g) => g.headers['x-quorum-event-id'] === firstId).length).toBeGreaterThan(1);

    // The slack webhook: {"text"} bodies, only the events it asked for, no signature.
    await until(
      () => recv.got.some((g) => g.path === slackPath && g.status === 204 && g.body.includes('released')),
      'slack',
    );
    for (const r of recv.got.filter((g) => g.path === slackPath)) {
      const body = JSON.parse(r.body) as Record<string, unknown>;
      expect(Object.keys(body)).toEqual(['text']);
      expect(['round.opened', 'round.released']).toContain(r.headers['x-quorum-event']);
      expect(r.headers['x-quorum-signature']).toBeUndefined();
    }

    // A forged delivery, or a real one altered in transit, fails the receiver's check.
    const real = hookRequests.at(-1)!;
    expect(signatureValid(secret, { ...real, body: real.body.replace('"data":{', '"data":{"x":1,') })).toBe(false);
    expect(signatureValid('not the secret at all', real)).toBe(false);

    // Everything delivered: status says so; the secret and the slack path are nowhere to be read.
    await until(async () => {
      const s = await q(['status', '--json']);
      const n = (JSON.parse(s.stdout) as { notify: { pending: number } }).notify;
      return n.pending === 0;
    }, 'no pending deliveries');
    const list = await q(['notify', 'list', '--json']);
    const audit = await quorum(['audit', 'export', '--data-dir', repo.dataDir]);
    for (const text of [list.stdout, c.log, audit.stdout, (await q(['status', '--json'])).stdout]) {
      expect(text).not.toContain(secret);
      expect(text).not.toContain(slackPath);
    }
    // Removed: nothing more is sent there.
    expect((await q(['notify', 'remove', String(hook.id)])).code).toBe(0);
    expect((await q(['notify', 'list'])).stdout).not.toMatch(new RegExp(`^${hook.id} `, 'm'));
  }, 300_000);
});
