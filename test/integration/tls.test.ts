/**
 * Signers pin the coordinator: wss:// with the certificate fingerprint pinned at join. A wrong
 * fingerprint is refused before anything is sent; plain ws:// off loopback needs an explicit
 * --unsafe-allow-plaintext.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Coordinator, keygenHere, quorum, quorumHere, signer, signerHere, tmpdir } from './harness.js';

describe('TLS with a pinned certificate', () => {
  const dir = tmpdir();
  const data = path.join(dir, 'data');
  let c: Coordinator;
  let fp = '';
  // keygen, init and the status read run in this process (signerHere, quorumHere); every join and
  // sign that talks to the coordinator over TLS is a real quorum-signer.
  beforeAll(async () => {
    const keygen = await keygenHere(dir, 'alice');
    expect(keygen.code, keygen.stderr).toBe(0);
    const init = await quorumHere([
      'init',
      '--data-dir',
      data,
      '--dialect',
      'tuf',
      '--keyholder',
      `alice=${path.join(dir, 'alice.pub.pem')}`,
      '--root-keyholders',
      'alice',
      '--tls',
      '--json',
    ]);
    expect(init.code, init.stderr).toBe(0);
    fp = (JSON.parse(init.stdout) as { tlsFingerprint: string }).tlsFingerprint;
    expect(fp).toBe(new crypto.X509Certificate(fs.readFileSync(path.join(data, 'tls', 'cert.pem'))).fingerprint256);
    c = await new Coordinator(data).start();
    expect(c.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  });
  afterAll(async () => {
    await c?.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a coordinator whose certificate is not the pinned one', async () => {
    const wrong = fp.replace(/^../, fp.startsWith('00') ? '11' : '00');
    const r = await signer([
      'join',
      c.url,
      '--key',
      path.join(dir, 'alice.key.json'),
      '--home',
      path.join(dir, 'h-wrong'),
      '--tls-fingerprint',
      wrong,
      '--trust-first-root',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^TLS_PIN: /m);
    expect(fs.existsSync(path.join(dir, 'h-wrong', 'config.json'))).toBe(false);
  });

  it('needs a fingerprint for https:// at all', async () => {
    const r = await signerHere([
      'join',
      c.url,
      '--key',
      path.join(dir, 'alice.key.json'),
      '--home',
      path.join(dir, 'h-none'),
      '--trust-first-root',
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--tls-fingerprint');
  });

  it('signs over wss:// when the fingerprint matches, and the admin CLI pins it too', async () => {
    const home = path.join(dir, 'h');
    expect(
      (
        await signer([
          'join',
          c.url,
          '--key',
          path.join(dir, 'alice.key.json'),
          '--home',
          home,
          '--tls-fingerprint',
          fp,
          '--trust-first-root',
        ])
      ).code,
    ).toBe(0);
    const s = await signer(['sign', 'root-v1-r1', '--yes', '--home', home]);
    expect(s.code, s.stderr).toBe(0);
    expect(s.stdout).toContain('the round is released');
    const st = await quorumHere(['status', '--data-dir', data, '--json']);
    expect(st.code, st.stderr).toBe(0);
    expect((JSON.parse(st.stdout) as { rootVersion: number }).rootVersion).toBe(1);
  });

  it(
    'refuses plain http:// to a non-loopback host before sending anything (the flag that allows it is ' +
      'unit-tested: join with it contacts the host)',
    async () => {
      const r = await signer([
        'join',
        'http://192.0.2.10:7300',
        '--key',
        path.join(dir, 'alice.key.json'),
        '--home',
        path.join(dir, 'h-plain'),
        '--trust-first-root',
      ]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^INSECURE: /m);
      expect(fs.existsSync(path.join(dir, 'h-plain', 'config.json'))).toBe(false);
    },
  );

  it('refuses to serve plain ws:// on a non-loopback address without --unsafe-plaintext', async () => {
    const d2 = path.join(dir, 'data2');
    expect((await quorumHere(['init', '--data-dir', d2, '--dialect', 'tuf'])).code).toBe(0);
    const r = await quorum(['serve', '--data-dir', d2, '--host', '0.0.0.0', '--port', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--unsafe-plaintext');
  });
});
