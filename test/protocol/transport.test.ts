/**
 * Which addresses count as loopback (plain ws:// is allowed there only), and the signer's scheme
 * check: plain http:// to any other host needs --unsafe-allow-plaintext (no traffic here: the
 * check runs before anything connects).
 */
import { describe, expect, it } from 'vitest';
import { checkScheme, isLoopback, isLoopbackAddress } from '../../protocol/transport.js';

describe('loopback', () => {
  it('is 127.0.0.0/8, ::1 and IPv4-mapped 127/8 as addresses; names other than localhost are not', () => {
    for (const a of [
      '127.0.0.1',
      '127.1.2.3',
      '::1',
      '[::1]',
      '0:0:0:0:0:0:0:1',
      '::ffff:127.0.0.1',
      '::FFFF:127.9.9.9',
    ])
      expect(isLoopbackAddress(a), a).toBe(true);
    for (const a of [
      '0.0.0.0',
      '::',
      '128.0.0.1',
      '10.0.0.1',
      '::ffff:10.0.0.1',
      '127.evil.example',
      'localhost',
      '1127.0.0.1',
      '127.0.0.1.nip.io',
    ])
      expect(isLoopbackAddress(a), a).toBe(false);
    expect(isLoopback('localhost')).toBe(true);
    expect(isLoopback('127.evil.example')).toBe(false);
  });

  it('plain http:// off loopback is INSECURE unless explicitly allowed; https:// needs a pin', () => {
    expect(() => checkScheme('http://192.0.2.10:7300', null)).toThrow(expect.objectContaining({ code: 'INSECURE' }));
    expect(() => checkScheme('http://127.evil.example:7300', null)).toThrow(
      expect.objectContaining({ code: 'INSECURE' }),
    );
    expect(() => checkScheme('http://192.0.2.10:7300', null, true)).not.toThrow();
    expect(() => checkScheme('http://127.0.0.1:7300', null)).not.toThrow();
    expect(() => checkScheme('https://192.0.2.10:7300', null)).toThrow(expect.objectContaining({ code: 'TLS_PIN' }));
  });
});
