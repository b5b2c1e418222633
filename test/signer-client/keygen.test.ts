/**
 * `quorum-signer keygen` in process, against the command tree: without --scrypt-n a key file gets
 * the default scrypt cost (SCRYPT_DEFAULT, 2^17), and the key decrypts with the passphrase only.
 * Every other test's keys use the least cost a key file may have (--scrypt-n 16384; the guides'
 * sandbox adds it too, test/docs/guide-runner.ts), so this is where the default is held.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dispatch, type Io } from '../../protocol/cli.js';
import { QUORUM_SIGNER } from '../../signer-client/commands.js';
import { decryptKey, readKeyFile, SCRYPT_DEFAULT, SCRYPT_MIN_N } from '../../signer-client/keystore.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quorum-keygen-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function keygen(argv: string[]): Promise<{ status: number; err: string }> {
  const err: string[] = [];
  const io: Io = { out: () => {}, err: (s) => void err.push(s) };
  const pass = path.join(dir, 'passphrase');
  fs.writeFileSync(pass, 'correct horse battery staple\n');
  const status = await dispatch(QUORUM_SIGNER, 'quorum-signer', ['keygen', ...argv, '--passphrase-file', pass], io);
  return { status, err: err.join('\n') };
}

describe('keygen', () => {
  it('writes a key file at the default scrypt cost when --scrypt-n is not given', async () => {
    const out = path.join(dir, 'alice');
    const r = await keygen(['--out', out]);
    expect(r.status, r.err).toBe(0);
    const f = readKeyFile(`${out}.key.json`);
    expect(SCRYPT_DEFAULT.N).toBeGreaterThan(SCRYPT_MIN_N);
    expect(f.kdf).toMatchObject({ name: 'scrypt', N: SCRYPT_DEFAULT.N, r: SCRYPT_DEFAULT.r, p: SCRYPT_DEFAULT.p });
    expect(decryptKey(f, 'correct horse battery staple').asymmetricKeyType).toBe('ed25519');
    expect(() => decryptKey(f, 'correct horse battery stapler')).toThrow(/passphrase/i);
  });

  it('refuses a cost below the least a key file may have, before writing anything', async () => {
    const out = path.join(dir, 'bob');
    const r = await keygen(['--out', out, '--scrypt-n', String(SCRYPT_MIN_N / 2)]);
    expect(r.status).toBe(2);
    expect(r.err).toMatch(/^USAGE: --scrypt-n/);
    expect(fs.existsSync(`${out}.key.json`)).toBe(false);
  });
});
